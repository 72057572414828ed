#pragma once

#include "peer/agent_protocol.h"
#include "tcp/tracker.h"
#include "ui/qcustomplot_include.h"

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

namespace tcplab::ui {

/// The peer kernel's own congestion variables against time, for one socket: snd_cwnd,
/// snd_ssthresh (only while finite: Linux keeps it "infinite" until the first loss) and the
/// segments in flight (tcpi_unacked) on the left axis, in segments; the smoothed rtt on the
/// right axis, in ms. Step lines: a sample holds until the next one (the agent records a
/// socket only when it changed), the last one up to the newest sample of any socket.
///
/// Time is the ladder's and the time-sequence graph's: milliseconds since the timeline's
/// first frame (setOriginNs, TimelineModel::originNs()). Samples come in through
/// addSamples(), decoded once and kept per socket; the plot shows the socket of setSocket(),
/// or, without one, the most recent active one (not listening, not gone). A vertical cursor
/// marks a moment selected elsewhere (setCursorTime); a click reports its time
/// (timeClicked). Follows the data until the user pans or zooms (Fit to follow again).
class PeerInfoView : public QCustomPlot {
    Q_OBJECT
public:
    explicit PeerInfoView(QWidget* parent = nullptr);
    ~PeerInfoView() override;

    /// The time origin (ns since the epoch); nullopt: the first sample's time until one comes.
    void setOriginNs(std::optional<std::int64_t> origin);
    /// The socket to plot (its inode); nullopt: the most recent active one.
    void setSocket(std::optional<std::uint64_t> inode);
    /// The socket plotted, nullopt when there is none yet.
    std::optional<std::uint64_t> shownSocket() const noexcept { return m_shown; }
    /// The inode of the socket whose local end is `local` and remote end `remote`.
    std::optional<std::uint64_t> socketOf(const tcp::Endpoint& local,
                                          const tcp::Endpoint& remote) const;
    /// Sockets with samples.
    std::size_t socketCount() const noexcept { return m_series.size(); }

    QCPGraph* cwndGraph() const noexcept { return m_cwnd; }
    QCPGraph* ssthreshGraph() const noexcept { return m_ssthresh; }
    QCPGraph* inFlightGraph() const noexcept { return m_inFlight; }
    QCPGraph* rttGraph() const noexcept { return m_rtt; }
    /// The cursor's time (ms), nullopt when hidden.
    std::optional<double> cursorTime() const noexcept { return m_cursorMs; }
    bool followLatest() const noexcept { return m_follow; }
    /// The title: which socket is shown.
    QString title() const;

public Q_SLOTS:
    void addSamples(const std::vector<tcplab::peer::Sample>& samples);
    void clear();
    /// Draws the vertical cursor at `ms` (nullopt: hides it).
    void setCursorTime(std::optional<double> ms);
    void setFollowLatest(bool follow);

Q_SIGNALS:
    /// A click (not a drag) at this time (ms), to select the nearest frame.
    void timeClicked(double ms);

protected:
    void changeEvent(QEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;
    void wheelEvent(QWheelEvent* event) override;

private:
    struct Series {
        std::optional<tcp::Endpoint> local;
        std::optional<tcp::Endpoint> remote;
        int fd = -1;
        std::uint64_t state = 0;
        bool gone = false;
        std::vector<std::int64_t> timeNs;
        std::vector<double> cwnd;
        std::vector<double> ssthresh; ///< NaN while infinite or not reported
        std::vector<double> inFlight;
        std::vector<double> rttMs; ///< NaN when not reported
    };
    /// Plots the shown socket's samples from the first.
    void rebuild();
    /// Plots what came since (or everything, for another socket).
    void plotNew();
    /// The socket to show: the wanted one, else the most recent active one.
    std::optional<std::uint64_t> target() const;
    void fit();
    void applyColors();
    std::optional<std::uint64_t> mostRecentActive() const;
    /// The key of `s`'s series: its inode, or, while it has none, one of its 4-tuple.
    std::uint64_t keyFor(const peer::SocketSample& s);
    static constexpr std::uint64_t kNoInodeKey = 1ull << 63;
    std::uint64_t m_nextQueuedKey = kNoInodeKey;
    double keyOf(std::int64_t timeNs) const;

    std::map<std::uint64_t, Series> m_series;
    std::optional<std::uint64_t> m_wanted;
    std::optional<std::uint64_t> m_shown;
    std::optional<std::int64_t> m_origin;
    std::int64_t m_firstNs = 0;
    std::int64_t m_latestNs = 0;
    bool m_any = false;
    QCPGraph* m_cwnd = nullptr;
    QCPGraph* m_ssthresh = nullptr;
    QCPGraph* m_inFlight = nullptr;
    QCPGraph* m_rtt = nullptr;
    QCPItemStraightLine* m_cursor = nullptr;
    QCPItemText* m_empty = nullptr;
    QCPTextElement* m_title = nullptr;
    std::optional<double> m_cursorMs;
    std::size_t m_plotted = 0; ///< samples of m_shown in the graphs
    bool m_hasTail = false;    ///< the graphs end with the last sample held until m_latestNs
    bool m_follow = true;
    QPointF m_pressPos;
};

} // namespace tcplab::ui
