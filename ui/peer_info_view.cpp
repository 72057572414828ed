#include "ui/peer_info_view.h"

#include "peer/call_text.h"
#include "peer/tcp_info.h"
#include "ui/palette.h"
#include "ui/peer_feed.h"

#include <cmath>
#include <limits>

namespace tcplab::ui {

namespace {

using F = peer::TcpInfoField;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
/// Linux's TCP_INFINITE_SSTHRESH: no loss yet.
constexpr std::uint64_t kInfiniteSsthresh = 0x7fffffff;
constexpr std::uint64_t kLinuxListen = 10;

// Hues that keep their contrast on a white and a near-black plot, apart from each other
// and from the time-sequence graph's.
const QColor kCwndColor(0x1f, 0x77, 0xd4);
const QColor kSsthreshColor(0xe6, 0x7e, 0x00);
const QColor kInFlightColor(0x1a, 0x9a, 0x4a);
const QColor kRttColor(0xc0, 0x3c, 0x9a);

QString qs(const std::string& s) {
    return QString::fromStdString(s);
}

} // namespace

PeerInfoView::PeerInfoView(QWidget* parent)
    : QCustomPlot(parent) {
    setObjectName(QStringLiteral("peerInfo"));
    setMinimumSize(320, 240);
    setNoAntialiasingOnDrag(true);

    plotLayout()->insertRow(0);
    m_title = new QCPTextElement(this, QString());
    plotLayout()->addElement(0, 0, m_title);

    m_cwnd = addGraph(xAxis, yAxis);
    m_cwnd->setName(QStringLiteral("snd_cwnd, the congestion window"));
    m_ssthresh = addGraph(xAxis, yAxis);
    m_ssthresh->setName(QStringLiteral("snd_ssthresh (once finite)"));
    m_inFlight = addGraph(xAxis, yAxis);
    m_inFlight->setName(QStringLiteral("in flight (unacked)"));
    m_rtt = addGraph(xAxis, yAxis2);
    m_rtt->setName(QStringLiteral("rtt (right axis)"));
    for (QCPGraph* g : {m_cwnd, m_ssthresh, m_inFlight, m_rtt})
        g->setLineStyle(QCPGraph::lsStepLeft);

    xAxis->setLabel(QStringLiteral("time (ms)"));
    yAxis->setLabel(QStringLiteral("segments"));
    yAxis->setNumberFormat(QStringLiteral("f"));
    yAxis->setNumberPrecision(0);
    yAxis2->setVisible(true);
    yAxis2->setLabel(QStringLiteral("rtt (ms)"));
    legend->setVisible(true);
    // The legend in a row of its own under the title: inside the axes it would hide the
    // lines (the rtt's sits high, the windows climb anywhere).
    if (axisRect()->insetLayout()->take(legend)) {
        plotLayout()->insertRow(1);
        plotLayout()->addElement(1, 0, legend);
        legend->setWrap(2); // two items a line: the plot may be narrow
        legend->setFillOrder(QCPLayoutGrid::foColumnsFirst, true);
        legend->setMargins(QMargins(4, 2, 4, 2));
        plotLayout()->setRowStretchFactor(0, 0.001);
        plotLayout()->setRowStretchFactor(1, 0.001);
    }

    m_cursor = new QCPItemStraightLine(this);
    m_cursor->setSelectable(false);
    m_cursor->setVisible(false);
    m_empty = new QCPItemText(this);
    m_empty->position->setType(QCPItemPosition::ptAxisRectRatio);
    m_empty->position->setCoords(0.5, 0.5);
    m_empty->setText(QStringLiteral("No tcp_info samples yet: the peer agent reports the kernel's "
                                    "variables\nonce its sockets are connected (the Peer dock "
                                    "makes the calls)."));
    m_empty->setSelectable(false);

    setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    axisRect()->setRangeDrag(Qt::Horizontal | Qt::Vertical);
    axisRect()->setRangeZoom(Qt::Horizontal);
    applyColors();
    rebuild();
}

PeerInfoView::~PeerInfoView() = default;

void PeerInfoView::applyColors() {
    applyPaletteToPlot(*this);
    const QColor text = palette().color(QPalette::WindowText);
    for (QCPAxis* axis : {xAxis, yAxis, yAxis2})
        axis->grid()->setZeroLinePen(Qt::NoPen);
    yAxis2->grid()->setVisible(false);
    m_cwnd->setPen(QPen(kCwndColor, 2));
    m_ssthresh->setPen(QPen(kSsthreshColor, 2, Qt::DashLine));
    m_inFlight->setPen(QPen(kInFlightColor, 1.5));
    m_rtt->setPen(QPen(kRttColor, 1.5));
    m_cursor->setPen(QPen(text, 1, Qt::DashLine));
    m_empty->setColor(palette().color(QPalette::PlaceholderText));
    m_title->setTextColor(text);
}

void PeerInfoView::changeEvent(QEvent* event) {
    QCustomPlot::changeEvent(event);
    if (event->type() == QEvent::PaletteChange) {
        applyColors();
        replot(rpQueuedReplot);
    }
}

double PeerInfoView::keyOf(std::int64_t timeNs) const {
    const std::int64_t origin = m_origin.value_or(m_firstNs);
    return double(timeNs - origin) / 1e6;
}

void PeerInfoView::setOriginNs(std::optional<std::int64_t> origin) {
    if (origin == m_origin)
        return;
    m_origin = origin;
    rebuild();
}

void PeerInfoView::setSocket(std::optional<std::uint64_t> inode) {
    if (inode == m_wanted)
        return;
    m_wanted = inode;
    rebuild();
}

std::optional<std::uint64_t> PeerInfoView::socketOf(const tcp::Endpoint& local,
                                                    const tcp::Endpoint& remote) const {
    // The newest socket of that 4-tuple (an older one may have ended in TIME-WAIT).
    std::optional<std::uint64_t> best;
    std::int64_t bestTime = 0;
    for (const auto& [inode, s] : m_series)
        if (s.local == local && s.remote == remote && !s.timeNs.empty() &&
            (!best || s.timeNs.back() >= bestTime)) {
            best = inode;
            bestTime = s.timeNs.back();
        }
    return best;
}

void PeerInfoView::addSamples(const std::vector<peer::Sample>& samples) {
    if (samples.empty())
        return;
    for (const peer::Sample& sample : samples) {
        for (const peer::SocketSample& s : sample.sockets) {
            const std::uint64_t key = keyFor(s);
            Series& series = m_series[key];
            if (!m_any) {
                m_any = true;
                m_firstNs = sample.timeNs;
            }
            m_latestNs = std::max(m_latestNs, sample.timeNs);
            if (s.gone) {
                series.gone = true;
                continue;
            }
            series.local = sampleEndpoint(s.local, s.localPort);
            series.remote = sampleEndpoint(s.remote, s.remotePort);
            series.fd = s.fd;
            const peer::TcpInfo info = peer::TcpInfo::fromPairs(s.fields);
            series.state = info.value(F::State);
            if (!info.has(F::SndCwnd))
                continue; // nothing to plot (a stack that does not say)
            // Kept in time order: samples come almost always in order.
            const auto at =
                std::upper_bound(series.timeNs.begin(), series.timeNs.end(), sample.timeNs);
            if (at != series.timeNs.end() && m_shown == key)
                m_plotted = 0; // inserted before what is plotted: plot it all again
            const auto i = at - series.timeNs.begin();
            series.timeNs.insert(at, sample.timeNs);
            const std::uint64_t ssthresh = info.value(F::SndSsthresh, kInfiniteSsthresh);
            series.cwnd.insert(series.cwnd.begin() + i, double(info.value(F::SndCwnd)));
            series.ssthresh.insert(series.ssthresh.begin() + i,
                                   ssthresh >= kInfiniteSsthresh ? kNaN : double(ssthresh));
            series.inFlight.insert(series.inFlight.begin() + i, double(info.value(F::Unacked)));
            series.rttMs.insert(series.rttMs.begin() + i,
                                info.has(F::Rtt) ? double(info.value(F::Rtt)) / 1000.0 : kNaN);
        }
    }
    // The newest sample of any socket moves the right end of the step lines, and may change
    // which socket is the most recent active one.
    plotNew();
}

std::uint64_t PeerInfoView::keyFor(const peer::SocketSample& s) {
    const auto local = sampleEndpoint(s.local, s.localPort);
    const auto remote = sampleEndpoint(s.remote, s.remotePort);
    // A connection in a listener's accept queue has no inode until accept() gives it one:
    // until then its series goes by a key of its 4-tuple, then by its inode.
    std::optional<std::uint64_t> queued;
    for (const auto& [key, series] : m_series)
        if ((key & kNoInodeKey) && local && remote && series.local == local &&
            series.remote == remote && !series.gone)
            queued = key;
    if (s.inode != 0) {
        if (queued && !m_series.count(s.inode)) {
            auto node = m_series.extract(*queued);
            node.key() = s.inode;
            m_series.insert(std::move(node));
            if (m_wanted == queued)
                m_wanted = s.inode;
        }
        return s.inode;
    }
    if (queued)
        return *queued;
    return m_nextQueuedKey++;
}

std::optional<std::uint64_t> PeerInfoView::mostRecentActive() const {
    std::optional<std::uint64_t> best;
    std::int64_t bestTime = 0;
    for (const auto& [inode, s] : m_series) {
        if (s.timeNs.empty() || s.gone || s.state == kLinuxListen)
            continue;
        if (!best || s.timeNs.back() >= bestTime) {
            best = inode;
            bestTime = s.timeNs.back();
        }
    }
    if (best)
        return best;
    // None active: the last one that had something to plot.
    for (const auto& [inode, s] : m_series)
        if (!s.timeNs.empty() && (!best || s.timeNs.back() >= bestTime)) {
            best = inode;
            bestTime = s.timeNs.back();
        }
    return best;
}

QString PeerInfoView::title() const {
    return m_title->text();
}

void PeerInfoView::rebuild() {
    m_plotted = 0;
    m_hasTail = false;
    for (QCPGraph* g : {m_cwnd, m_ssthresh, m_inFlight, m_rtt})
        g->data()->clear();
    m_shown = target();
    plotNew();
}

std::optional<std::uint64_t> PeerInfoView::target() const {
    return m_wanted && m_series.count(*m_wanted) ? m_wanted : mostRecentActive();
}

void PeerInfoView::plotNew() {
    if (target() != m_shown || m_plotted == 0) {
        // Another socket, or points inserted before the plotted ones: from the start.
        m_shown = target();
        m_plotted = 0;
        m_hasTail = false;
        for (QCPGraph* g : {m_cwnd, m_ssthresh, m_inFlight, m_rtt})
            g->data()->clear();
    }
    if (m_shown) {
        const Series& s = m_series.at(*m_shown);
        const std::size_t n = s.timeNs.size();
        // Only the samples not plotted yet: the tail point (the last sample held until the
        // newest of any socket) goes first, and comes back after them.
        if (m_hasTail && m_plotted > 0) {
            const double last = keyOf(s.timeNs[m_plotted - 1]);
            for (QCPGraph* g : {m_cwnd, m_ssthresh, m_inFlight, m_rtt})
                g->data()->removeAfter(last);
            m_hasTail = false;
        }
        QVector<double> keys;
        QVector<double> cwnd;
        QVector<double> ssthresh;
        QVector<double> inFlight;
        QVector<double> rtt;
        for (std::size_t i = m_plotted; i < n; ++i) {
            keys.append(keyOf(s.timeNs[i]));
            cwnd.append(s.cwnd[i]);
            ssthresh.append(s.ssthresh[i]);
            inFlight.append(s.inFlight[i]);
            rtt.append(s.rttMs[i]);
        }
        m_plotted = n;
        if (n > 0 && !s.gone && m_latestNs > s.timeNs.back()) {
            keys.append(keyOf(m_latestNs));
            cwnd.append(s.cwnd.back());
            ssthresh.append(s.ssthresh.back());
            inFlight.append(s.inFlight.back());
            rtt.append(s.rttMs.back());
            m_hasTail = true;
        }
        if (!keys.isEmpty()) {
            m_cwnd->addData(keys, cwnd, true);
            m_ssthresh->addData(keys, ssthresh, true);
            m_inFlight->addData(keys, inFlight, true);
            m_rtt->addData(keys, rtt, true);
        }
        QString what = s.fd >= 0 ? QStringLiteral("fd %1").arg(s.fd)
                                 : QStringLiteral("a socket the agent does not own");
        if (s.local && s.remote)
            what +=
                QStringLiteral(": %1 → %2").arg(qs(s.local->toString()), qs(s.remote->toString()));
        what += s.gone ? QStringLiteral(" (gone)")
                       : QStringLiteral(" (%1)").arg(qs(peer::linuxStateName(s.state)));
        m_title->setText(
            QStringLiteral("The peer's kernel, %1%2")
                .arg(what, m_wanted ? QString() : QStringLiteral(", the most recent")));
    } else {
        m_title->setText(QStringLiteral("The peer's kernel: congestion window, ssthresh, "
                                        "segments in flight, rtt"));
    }
    m_empty->setVisible(m_cwnd->data()->isEmpty());
    if (m_cursorMs)
        setCursorTime(m_cursorMs);
    if (m_follow)
        fit();
    replot(rpQueuedReplot);
}

void PeerInfoView::fit() {
    if (m_cwnd->data()->isEmpty()) {
        xAxis->setRange(0, 1000);
        yAxis->setRange(0, 20);
        yAxis2->setRange(0, 1);
        return;
    }
    bool found = false;
    QCPRange keys = m_cwnd->getKeyRange(found);
    if (keys.size() <= 0)
        keys = QCPRange(keys.lower - 1, keys.upper + 1);
    const double pad = std::max(keys.size() * 0.03, 0.5);
    xAxis->setRange(keys.lower - pad, keys.upper + pad);
    double top = 1;
    for (QCPGraph* g : {m_cwnd, m_ssthresh, m_inFlight}) {
        bool any = false;
        const QCPRange r = g->getValueRange(any);
        if (any)
            top = std::max(top, r.upper);
    }
    // From zero: a window is read against nothing at all.
    yAxis->setRange(0, top * 1.1 + 1);
    bool anyRtt = false;
    const QCPRange r = m_rtt->getValueRange(anyRtt);
    yAxis2->setRange(0, anyRtt ? std::max(r.upper * 1.15, 0.01) : 1);
}

void PeerInfoView::clear() {
    m_series.clear();
    m_nextQueuedKey = kNoInodeKey;
    m_shown.reset();
    m_any = false;
    m_firstNs = 0;
    m_latestNs = 0;
    m_cursorMs.reset();
    m_cursor->setVisible(false);
    rebuild();
}

void PeerInfoView::setCursorTime(std::optional<double> ms) {
    m_cursorMs = ms;
    m_cursor->setVisible(ms.has_value());
    if (ms) {
        m_cursor->point1->setCoords(*ms, 0);
        m_cursor->point2->setCoords(*ms, 1);
    }
    replot(rpQueuedReplot);
}

void PeerInfoView::setFollowLatest(bool follow) {
    m_follow = follow;
    if (m_follow) {
        fit();
        replot(rpQueuedReplot);
    }
}

void PeerInfoView::mousePressEvent(QMouseEvent* event) {
    m_pressPos = event->position();
    QCustomPlot::mousePressEvent(event);
}

void PeerInfoView::mouseReleaseEvent(QMouseEvent* event) {
    QCustomPlot::mouseReleaseEvent(event);
    if (event->button() != Qt::LeftButton)
        return;
    if (QLineF(m_pressPos, event->position()).length() > 4.0) {
        m_follow = false; // the user panned: keep their view
        return;
    }
    if (axisRect()->rect().contains(event->position().toPoint()))
        Q_EMIT timeClicked(xAxis->pixelToCoord(event->position().x()));
}

void PeerInfoView::wheelEvent(QWheelEvent* event) {
    QCustomPlot::wheelEvent(event);
    m_follow = false;
}

} // namespace tcplab::ui
