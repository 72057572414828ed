#pragma once

#include "tcp/tracker.h"

#include <QWidget>

#include <array>
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
class ConnectionPanel : public QWidget {
    Q_OBJECT
public:
    explicit ConnectionPanel(QWidget* parent = nullptr);

    /// Shows `connection` (nullptr: nothing), the end at `local` as the phantom (the
    /// connection's local end when `local` is neither). Call again after each segment.
    void setConnection(const tcp::Connection* connection, const tcp::Endpoint& local);
    void clear();

    /// The text of the value cell `name` ("phantom.state"), empty when there is none.
    QString value(const QString& name) const;

private:
    struct Cells {
        QLabel* endpoint = nullptr;
        std::vector<QLabel*> relative; ///< one per row
        std::vector<QLabel*> absolute; ///< one per row (empty text for non-sequence rows)
    };
    void fillEnd(Cells& cells, const tcp::Connection& c, std::uint8_t end);
    static void setText(QLabel* label, const QString& text);

    QLabel* m_summary = nullptr;
    std::array<Cells, 2> m_cells; ///< 0 = phantom, 1 = peer
};

} // namespace tcplab::ui
