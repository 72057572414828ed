#pragma once

#include "peer/agent_client.h"
#include "peer/agent_protocol.h"
#include "ui/peer_metatypes.h"

#include <QString>
#include <QWidget>

#include <cstdint>
#include <optional>
#include <set>
#include <vector>

class QCheckBox;
class QComboBox;
class QLabel;
class QListWidget;
class QPushButton;
class QSpinBox;
class QTabWidget;
class QTableView;

namespace tcplab::ui {

class PeerCallForm;
class PeerSocketModel;
class SysctlModel;
class TcpInfoModel;

/// The Peer dock: the peer's side of the lab under the user's hand.
/// - Calls: a form per socket call (PeerCallForm) and Call (Ctrl+Shift+Return), then the
///   history of every call as it came back ("connect(3, 198.18.0.2:40000) = 0 [82 us]"),
///   failures and refusals in the error colour, newest at the bottom; selecting one says
///   when it was made (callSelected), so the ladder can show that moment.
/// - Sockets: the peer's sockets with their latest sample (PeerSocketModel), and the
///   selected one's every tcp_info field, live (TcpInfoModel).
/// - Sysctls: the namespace's net.* sysctls, read when the agent starts and on Refresh,
///   written by editing a value (the kernel's answer beside it).
/// - Phantom: the phantom's side of the peer exercises: listen on a port (passive open),
///   the window Auto-ACK advertises (auto, a number, Zero window / Open), the snap length.
/// The agent's status sits on top: ready, or why there is no agent.
///
/// It makes no call itself: callRequested() asks, and onCallAnswered() / addSamples() bring
/// what came back (the main window connects them to EngineWorker).
class PeerPanel : public QWidget {
    Q_OBJECT
public:
    explicit PeerPanel(QWidget* parent = nullptr);
    ~PeerPanel() override;

    PeerCallForm* form() const noexcept { return m_form; }
    PeerSocketModel* sockets() const noexcept { return m_sockets; }
    TcpInfoModel* tcpInfo() const noexcept { return m_tcpInfo; }
    SysctlModel* sysctls() const noexcept { return m_sysctls; }
    QListWidget* history() const noexcept { return m_history; }
    QTabWidget* tabs() const noexcept { return m_tabs; }
    QString status() const;
    /// The socket selected in the Sockets table (its inode), nullopt when none.
    std::optional<std::uint64_t> selectedSocket() const;
    /// Selects the socket with `inode` in the Sockets table (nullopt: none).
    void selectSocket(std::optional<std::uint64_t> inode);

    // The phantom's side (persisted by the main window).
    /// The port the phantom listens on, 0 when it does not.
    std::uint16_t listeningPort() const;
    void setListeningPort(std::uint16_t port);
    /// The window Auto-ACK advertises: nullopt = auto (repeat the last one sent).
    std::optional<std::uint16_t> advertisedWindow() const;
    void setAdvertisedWindow(std::optional<std::uint16_t> window);
    std::size_t snapLength() const;
    void setSnapLength(std::size_t bytes);

public Q_SLOTS:
    /// Sends the form's call (callRequested) when it is valid; false otherwise.
    bool makeCall();
    /// A peer call came back (any, also the demo's and the scenarios').
    void onCallAnswered(const tcplab::peer::CallRecord& call, bool ok, const QString& line);
    /// New samples, in timeline order (one socket each, or more).
    void addSamples(const std::vector<tcplab::peer::Sample>& samples);
    /// The agent became ready or unusable; ready the first time: the sysctls are read.
    void setAgentStatus(bool ready, const QString& message);
    /// The lab's addresses: connect's default target and socket's family.
    void setLab(const QString& phantomAddress, bool ipv6);
    /// Reads the sysctls again (a sysctl-list net. call).
    void refreshSysctls();
    /// A new lab or timeline: sockets, history and fds start over.
    void clear();

Q_SIGNALS:
    void callRequested(const tcplab::peer::Request& request);
    /// A call in the history was selected: the moment it began (the frames' clock).
    void callSelected(qint64 timeNs);
    /// The Sockets table's selection: an inode, 0 for none.
    void socketSelected(qulonglong inode);
    void listeningPortChanged(quint16 port);
    void advertisedWindowChanged(std::optional<std::uint16_t> window);
    void snapLengthChanged(qulonglong bytes);

protected:
    void changeEvent(QEvent* event) override;

private:
    QWidget* buildCallsTab();
    void colourStatus();
    QWidget* buildSocketsTab();
    QWidget* buildSysctlsTab();
    QWidget* buildPhantomTab();
    void updateFds();
    void showSelectedSocket();
    void emitWindow();
    void updateWindowControls();

    QLabel* m_status = nullptr;
    QTabWidget* m_tabs = nullptr;
    PeerCallForm* m_form = nullptr;
    QPushButton* m_call = nullptr;
    QListWidget* m_history = nullptr;
    PeerSocketModel* m_sockets = nullptr;
    TcpInfoModel* m_tcpInfo = nullptr;
    QTableView* m_socketView = nullptr;
    QTableView* m_infoView = nullptr;
    SysctlModel* m_sysctls = nullptr;
    QTableView* m_sysctlView = nullptr;
    QLabel* m_sysctlStatus = nullptr;
    QCheckBox* m_listen = nullptr;
    QSpinBox* m_listenPort = nullptr;
    QComboBox* m_windowMode = nullptr;
    QSpinBox* m_window = nullptr;
    QSpinBox* m_snap = nullptr;
    std::uint16_t m_openWindow = 65535; ///< what Open restores after Zero window
    bool m_ready = false;
    bool m_sysctlsRead = false;
    std::set<int> m_callFds; ///< fds socket/accept returned and close did not take back
};

} // namespace tcplab::ui
