#pragma once

#include "peer/agent_protocol.h"

#include <QString>
#include <QWidget>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

class QCheckBox;
class QComboBox;
class QFormLayout;
class QLabel;
class QLineEdit;
class QStackedWidget;

namespace tcplab::ui {

/// One peer call to make, as a form and as a line. A chooser picks the call (socket, bind,
/// listen, accept, connect, read, write, shutdown, close, poll, fcntl, setsockopt,
/// getsockopt, ioctl, sysctl, sysctl-list, drain, sample); its form has a field per
/// argument (the fd from the agent's known fds, addresses defaulting to the phantom's,
/// counts with k/M/G, an option chooser with each option's meaning, ...). Every edit of the
/// form writes the call in the grammar of core/peer/call_text.h into the line below it
/// (what `tcplab-cli peer` takes), and typing a line fills the form. What is sent is the
/// line, parsed by peer::parseCall: a parse error is shown at the line in red, an option
/// value that does not encode at its field, and the call is invalid until both are fixed.
///
/// Field widgets are named "peer.<call>.<argument>" ("peer.bind.port",
/// "peer.setsockopt.value"); the chooser "peerCall", the fd "peerFd", the line
/// "peerCallLine", the error "peerCallError".
class PeerCallForm : public QWidget {
    Q_OBJECT
public:
    explicit PeerCallForm(QWidget* parent = nullptr);
    ~PeerCallForm() override;

    /// The call to make (the line, parsed), nullopt while it is invalid.
    const std::optional<peer::Request>& request() const noexcept { return m_request; }
    bool isValid() const noexcept { return m_request.has_value(); }
    /// Why it is invalid (the grammar's sentence), empty when valid.
    QString errorText() const { return m_error; }
    QString line() const;
    peer::Call call() const;

    /// Chooses the call's form (the line follows).
    void setCall(peer::Call call);
    /// Puts `text` in the line as if typed: the form follows when it parses.
    void setLine(const QString& text);
    /// The agent's fds, for the fd chooser (newest last); the current fd text is kept.
    void setKnownFds(const std::vector<int>& fds);
    /// Makes `fd` the current one (a socket or accept just made it).
    void setCurrentFd(int fd);
    /// The phantom's address (connect's default), and the lab's family (socket's).
    void setPhantom(const QString& address, bool ipv6);
    /// The port connect goes to by default (the phantom's listening port).
    void setConnectPort(std::uint16_t port);

Q_SIGNALS:
    void validityChanged(bool valid);
    /// The call in the line changed (valid or not).
    void changed();

protected:
    void changeEvent(QEvent* event) override;

private:
    struct Pages;
    QWidget* buildPage(peer::Call call);
    void showPage(int index);
    /// The line the form says.
    QString compose() const;
    /// Fills the form from a request (the line parsed).
    void fill(const peer::Request& request);
    void formEdited();
    void lineEdited();
    void validate();
    void updateOptionValue();
    bool takesFd(peer::Call call) const;

    QComboBox* m_call = nullptr;
    QComboBox* m_fd = nullptr;
    QFormLayout* m_head = nullptr;
    QStackedWidget* m_pages = nullptr;
    QLineEdit* m_line = nullptr;
    QLabel* m_errorLabel = nullptr;
    std::unique_ptr<Pages> m_p;
    std::optional<peer::Request> m_request;
    QString m_error;
    bool m_filling = false;
    bool m_valid = false;
};

} // namespace tcplab::ui
