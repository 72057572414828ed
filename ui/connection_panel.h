#pragma once

#include "peer/agent_protocol.h"
#include "tcp/tracker.h"

#include <QWidget>

#include <array>
#include <optional>
#include <vector>

class QLabel;
class QGridLayout;

namespace tcplab::ui {

/// The state of both ends of one connection as the tracker infers it: for the phantom
/// and the peer, the RFC 9293 state and variables (ISS, IRS, SND.UNA, SND.NXT, SND.WND,
/// RCV.NXT, RCV.WND), each sequence number relative (to the ISS of the end that owns the
/// sequence space) and absolute, and the options of its SYN. Values that changed since the
/// previous call are shown in bold, so a step's effect is visible at a glance.
///
/// Every value cell is a QLabel named "<end>.<variable>", end "phantom" or "peer":
/// state, iss, irs, snd_una, snd_nxt, snd_wnd, rcv_nxt, rcv_wnd, mss, wscale, sack,
/// timestamps, segments; the absolute number of a sequence variable is "<end>.<var>.abs".
/// "endpoint.phantom", "endpoint.peer" and "summary" name the header cells.
///
/// Beside the peer's inferred variables, the peer kernel's own (setKernelSample: the latest
/// tcp_info sample of the peer's socket of this connection): "peer.kernel.<field>" for
/// state, snd_wnd, rcv_wnd, snd_mss, and below, what no tracker can see on the wire:
/// snd_cwnd, snd_ssthresh, rto, rtt, rttvar, unacked, total_retrans. Where the kernel and the
/// tracker disagree (state, SND.WND) the kernel's cell says so: a "≠" mark, the error
/// colour, a tooltip with both values, and the property "disagrees" set.
class ConnectionPanel : public QWidget {
    Q_OBJECT
public:
    explicit ConnectionPanel(QWidget* parent = nullptr);

    /// Shows `connection` (nullptr: nothing), the end at `local` as the phantom (the
    /// connection's local end when `local` is neither). Call again after each segment.
    void setConnection(const tcp::Connection* connection, const tcp::Endpoint& local);
    void clear();
    /// The latest sample of the peer's socket of this connection (nullptr: none known).
    void setKernelSample(const peer::SocketSample* sample);

    /// The text of the value cell `name` ("phantom.state"), empty when there is none.
    QString value(const QString& name) const;
    /// Whether the kernel's cell `name` ("peer.kernel.state") disagrees with the tracker.
    bool disagrees(const QString& name) const;

protected:
    void changeEvent(QEvent* event) override;

private:
    struct Cells {
        QLabel* endpoint = nullptr;
        std::vector<QLabel*> relative; ///< one per row
        std::vector<QLabel*> absolute; ///< one per row (empty text for non-sequence rows)
    };
    void fillEnd(Cells& cells, const tcp::Connection& c, std::uint8_t end);
    void fillKernel();
    static void setText(QLabel* label, const QString& text);

    QLabel* m_summary = nullptr;
    std::array<Cells, 2> m_cells; ///< 0 = phantom, 1 = peer
    QLabel* m_kernelHeader = nullptr;
    std::vector<QLabel*> m_kernel; ///< one per kernel row (kKernelRows)
    /// What the tracker infers of the peer's end, to compare with the kernel.
    std::optional<tcp::EndState> m_peerEnd;
    std::optional<peer::SocketSample> m_sample;
};

} // namespace tcplab::ui
