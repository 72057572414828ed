#include "ui/time_sequence_view.h"

#include "ui/palette.h"
#include "ui/timeline_model.h"
#include "wire/tcp.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace tcplab::ui {

namespace {

constexpr std::size_t kKindCount = std::size_t(SegmentKind::Other) + 1;
constexpr double kCapHalfWidth = 3.0; // pixels each side of an I-bar's serifs
constexpr double kPickTolerance = 6.0;

// Line colours that keep their contrast on a white and a near-black plot, and differ
// from the segment kinds' colours.
const QColor kAckColor(0x17, 0xa2, 0xb8);
const QColor kWindowColor(0xc9, 0x9a, 0x06);

bool timeLess(const SequenceBar& a, double t) {
    return a.timeMs < t;
}

} // namespace

SequenceBarsPlottable::SequenceBarsPlottable(QCPAxis* keyAxis, QCPAxis* valueAxis)
    : QCPAbstractPlottable(keyAxis, valueAxis) {
    setSelectable(QCP::stNone); // the view selects rows itself (barAt)
    setAntialiased(false);      // vertical lines on whole pixels: crisp and cheap
}

QColor SequenceBarsPlottable::colorOf(const SequenceBar& bar) const {
    return m_uniform ? *m_uniform : segmentKindColor(bar.kind);
}

std::pair<std::size_t, std::size_t> SequenceBarsPlottable::visibleBars() const {
    if (!m_bars || m_bars->empty() || !mKeyAxis)
        return {0, 0};
    const QCPRange range = mKeyAxis->range();
    const double margin = range.size() * 0.01;
    const auto first =
        std::lower_bound(m_bars->begin(), m_bars->end(), range.lower - margin, timeLess);
    const auto last = std::lower_bound(first, m_bars->end(), range.upper + margin, timeLess);
    return {std::size_t(first - m_bars->begin()), std::size_t(last - m_bars->begin())};
}

int SequenceBarsPlottable::barAt(const QPointF& pos) const {
    if (!m_bars || m_bars->empty() || !mKeyAxis || !mValueAxis)
        return -1;
    // Only the bars within the tolerance horizontally: a binary search on time.
    double t1 = mKeyAxis->pixelToCoord(pos.x() - kPickTolerance);
    double t2 = mKeyAxis->pixelToCoord(pos.x() + kPickTolerance);
    if (t1 > t2)
        std::swap(t1, t2);
    const auto first = std::lower_bound(m_bars->begin(), m_bars->end(), t1, timeLess);
    const auto last = std::lower_bound(first, m_bars->end(), std::nextafter(t2, 1e300), timeLess);
    int best = -1;
    double bestDistance = kPickTolerance;
    for (auto it = first; it != last; ++it) {
        const QPointF lo = coordsToPixels(it->timeMs, it->low);
        const QPointF hi = coordsToPixels(it->timeMs, it->high);
        const double top = std::min(lo.y(), hi.y()) - 2.0;
        const double bottom = std::max(lo.y(), hi.y()) + 2.0;
        const double dy = pos.y() < top ? top - pos.y() : (pos.y() > bottom ? pos.y() - bottom : 0);
        const double d = std::hypot(pos.x() - lo.x(), dy);
        if (d <= bestDistance) {
            bestDistance = d;
            best = int(it - m_bars->begin());
        }
    }
    return best;
}

double SequenceBarsPlottable::selectTest(const QPointF& pos, bool onlySelectable,
                                         QVariant* details) const {
    if (onlySelectable && !selectable())
        return -1;
    const int bar = barAt(pos);
    if (bar < 0)
        return -1;
    if (details)
        *details = (*m_bars)[std::size_t(bar)].row;
    return 1.0;
}

QCPRange SequenceBarsPlottable::getKeyRange(bool& foundRange, QCP::SignDomain) const {
    foundRange = m_bars && !m_bars->empty();
    if (!foundRange)
        return {};
    return {m_bars->front().timeMs, m_bars->back().timeMs};
}

QCPRange SequenceBarsPlottable::getValueRange(bool& foundRange, QCP::SignDomain,
                                              const QCPRange&) const {
    foundRange = m_bars && !m_bars->empty();
    if (!foundRange)
        return {};
    double low = std::numeric_limits<double>::max();
    double high = std::numeric_limits<double>::lowest();
    for (const SequenceBar& b : *m_bars) {
        low = std::min(low, b.low);
        high = std::max(high, b.high);
    }
    return {low, high};
}

void SequenceBarsPlottable::draw(QCPPainter* painter) {
    if (!m_bars || m_bars->empty() || !mKeyAxis || !mValueAxis)
        return;
    const auto [first, end] = visibleBars();
    if (first >= end)
        return;
    const QRect clip = clipRect();
    const int columns = std::max(1, clip.width());
    std::array<QVector<QLineF>, kKindCount> lines;

    if (end - first > std::size_t(columns)) {
        // More bars than pixel columns: one line per column from the lowest to the
        // highest sequence number drawn there, coloured by the most telling kind in it
        // (the enum's order: RST, retransmission, handshake, FIN, data, ACK).
        constexpr float kNone = std::numeric_limits<float>::max();
        std::vector<float> top(std::size_t(columns), kNone);
        std::vector<float> bottom(std::size_t(columns), -kNone);
        std::vector<std::uint8_t> kind(static_cast<std::size_t>(columns),
                                       static_cast<std::uint8_t>(kKindCount));
        // The axes are linear: pixel = origin + slope * coordinate, without a call per bar.
        const double x0 = mKeyAxis->coordToPixel(0.0);
        const double dx = mKeyAxis->coordToPixel(1.0) - x0;
        const double y0 = mValueAxis->coordToPixel(0.0);
        const double dy = mValueAxis->coordToPixel(1.0) - y0;
        const bool linear = mKeyAxis->scaleType() == QCPAxis::stLinear &&
                            mValueAxis->scaleType() == QCPAxis::stLinear &&
                            mKeyAxis->orientation() == Qt::Horizontal;
        for (std::size_t i = first; i < end; ++i) {
            const SequenceBar& b = (*m_bars)[i];
            const QPointF lo = linear ? QPointF(x0 + dx * b.timeMs, y0 + dy * b.low)
                                      : coordsToPixels(b.timeMs, b.low);
            const double hiY = linear ? y0 + dy * b.high : mValueAxis->coordToPixel(b.high);
            const int column = int(lo.x()) - clip.left();
            if (column < 0 || column >= columns)
                continue;
            const auto c = std::size_t(column);
            top[c] = std::min(top[c], float(std::min(lo.y(), hiY)));
            bottom[c] = std::max(bottom[c], float(std::max(lo.y(), hiY)));
            const auto k = m_uniform ? std::uint8_t(0) : std::uint8_t(b.kind);
            kind[c] = std::min(kind[c], k);
        }
        for (int column = 0; column < columns; ++column) {
            const auto c = std::size_t(column);
            if (kind[c] >= kKindCount)
                continue;
            const double x = clip.left() + column + 0.5;
            lines[kind[c]].append(QLineF(x, top[c], x, std::max(bottom[c], top[c] + 1.0f)));
        }
    } else {
        // Few enough to draw each: an I-bar, with serifs when there is room for them.
        const double spacing = double(columns) / double(end - first);
        const bool caps = spacing >= 2.0 * kCapHalfWidth;
        for (std::size_t i = first; i < end; ++i) {
            const SequenceBar& b = (*m_bars)[i];
            const QPointF lo = coordsToPixels(b.timeMs, b.low);
            const QPointF hi = coordsToPixels(b.timeMs, b.high);
            auto& out = lines[m_uniform ? 0 : std::size_t(b.kind)];
            if (b.high <= b.low) {
                // A RST: no sequence space, a small cross at its sequence number.
                out.append(QLineF(lo + QPointF(-3, -3), lo + QPointF(3, 3)));
                out.append(QLineF(lo + QPointF(-3, 3), lo + QPointF(3, -3)));
                continue;
            }
            out.append(QLineF(lo, hi));
            if (caps && std::abs(hi.y() - lo.y()) >= 4.0) {
                out.append(QLineF(lo - QPointF(kCapHalfWidth, 0), lo + QPointF(kCapHalfWidth, 0)));
                out.append(QLineF(hi - QPointF(kCapHalfWidth, 0), hi + QPointF(kCapHalfWidth, 0)));
            }
        }
    }
    for (std::size_t k = 0; k < kKindCount; ++k) {
        if (lines[k].isEmpty())
            continue;
        const QColor color = m_uniform ? *m_uniform : segmentKindColor(SegmentKind(k));
        painter->setPen(QPen(color, 2.0));
        painter->drawLines(lines[k]);
    }
    if (m_selected >= 0) {
        // The selected segment, thick and in the text colour, over everything.
        for (std::size_t i = first; i < end; ++i) {
            const SequenceBar& b = (*m_bars)[i];
            if (b.row != m_selected)
                continue;
            const QPointF lo = coordsToPixels(b.timeMs, b.low);
            const QPointF hi = coordsToPixels(b.timeMs, b.high);
            painter->setPen(QPen(mParentPlot->palette().color(QPalette::Text), 3.0));
            painter->drawLine(QLineF(lo + QPointF(0, 2), hi - QPointF(0, 2)));
            painter->setPen(QPen(colorOf(b), 3.0));
            painter->drawLine(QLineF(lo - QPointF(5, 0), lo + QPointF(5, 0)));
            painter->drawLine(QLineF(hi - QPointF(5, 0), hi + QPointF(5, 0)));
        }
    }
}

void SequenceBarsPlottable::drawLegendIcon(QCPPainter* painter, const QRectF& rect) const {
    const QColor color = m_uniform ? *m_uniform : segmentKindColor(SegmentKind::Data);
    painter->setPen(QPen(color, 1.5));
    const double x = rect.center().x();
    const double top = rect.top() + 1;
    const double bottom = rect.bottom() - 1;
    painter->drawLine(QLineF(x, top, x, bottom));
    painter->drawLine(QLineF(x - kCapHalfWidth, top, x + kCapHalfWidth, top));
    painter->drawLine(QLineF(x - kCapHalfWidth, bottom, x + kCapHalfWidth, bottom));
}

TimeSequenceView::TimeSequenceView(QWidget* parent)
    : QCustomPlot(parent) {
    setObjectName(QStringLiteral("timeSequence"));
    setMinimumSize(320, 240);
    setNoAntialiasingOnDrag(true);

    // The lines first, so the segments paint over them.
    m_window = addGraph(xAxis, yAxis);
    m_window->setName(QStringLiteral("advertised window (ACK + window)"));
    m_window->setLineStyle(QCPGraph::lsStepLeft);
    m_ack = addGraph(xAxis, yAxis);
    m_ack->setLineStyle(QCPGraph::lsStepLeft);
    for (QCPGraph* g : {m_ack, m_window})
        g->setAntialiased(false); // steps are horizontal and vertical: nothing to smooth
    m_segmentPlot = new SequenceBarsPlottable(xAxis, yAxis);
    m_segmentPlot->setBars(&m_segments);
    m_segmentPlot->setName(QStringLiteral("segments"));
    m_retransPlot = new SequenceBarsPlottable(xAxis, yAxis);
    m_retransPlot->setBars(&m_retrans);
    m_retransPlot->setUniformColor(segmentKindColor(SegmentKind::Retransmission));
    m_retransPlot->setName(QStringLiteral("retransmissions"));
    for (QCPAbstractPlottable* p : {static_cast<QCPAbstractPlottable*>(m_segmentPlot),
                                    static_cast<QCPAbstractPlottable*>(m_retransPlot)})
        p->addToLegend();

    xAxis->setLabel(QStringLiteral("time (ms)"));
    yAxis->setLabel(QStringLiteral("relative sequence number"));
    // Whole numbers, not "1.5e+06": a sequence number is read digit by digit.
    yAxis->setNumberFormat(QStringLiteral("f"));
    yAxis->setNumberPrecision(0);
    legend->setVisible(true);
    // Sequence numbers climb from the bottom left to the top right: the bottom right
    // corner is where the legend hides the least.
    axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignBottom | Qt::AlignRight);
    // The graph climbs from bottom left to top right: the top left stays free.
    axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignLeft);

    m_cursor = new QCPItemStraightLine(this);
    m_cursor->setSelectable(false);
    m_cursor->setVisible(false);

    setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    axisRect()->setRangeDrag(Qt::Horizontal | Qt::Vertical);
    axisRect()->setRangeZoom(Qt::Horizontal | Qt::Vertical);
    setDirection(timeline::Direction::Sent);
    applyColors();
    fitAll();
}

TimeSequenceView::~TimeSequenceView() = default;

void TimeSequenceView::applyColors() {
    applyPaletteToPlot(*this);
    // QCustomPlot's zero lines stay black or white in any palette; the frame is close by.
    for (QCPAxis* axis : {xAxis, yAxis})
        axis->grid()->setZeroLinePen(Qt::NoPen);
    // Solid, whole-pixel pens: a dashed or fractional pen over 30,000 steps costs more
    // than the whole graph (the window line is told apart by its colour and its place).
    m_ack->setPen(QPen(kAckColor, 2));
    m_window->setPen(QPen(kWindowColor, 1));
    if (m_cursor)
        m_cursor->setPen(QPen(palette().color(QPalette::WindowText), 1, Qt::DashLine));
}

void TimeSequenceView::changeEvent(QEvent* event) {
    QCustomPlot::changeEvent(event);
    if (event->type() == QEvent::PaletteChange)
        applyColors();
}

void TimeSequenceView::setModel(const TimelineModel* model) {
    m_model = model;
    rebuild();
}

void TimeSequenceView::setDirection(timeline::Direction direction) {
    m_direction = direction;
    const bool sent = direction == timeline::Direction::Sent;
    m_ack->setName(sent ? QStringLiteral("ACK (peer)") : QStringLiteral("ACK (phantom)"));
    m_segmentPlot->setName(sent ? QStringLiteral("phantom's segments")
                                : QStringLiteral("peer's segments"));
    rebuild();
}

void TimeSequenceView::setConnection(int connection) {
    m_wantedConnection = std::max(-1, connection);
    rebuild();
}

void TimeSequenceView::clear() {
    m_rowsSeen = 0;
    m_connection = m_wantedConnection;
    m_lastSeq = 0;
    m_lastAck = 0;
    m_segments.clear();
    m_retrans.clear();
    m_ack->data()->clear();
    m_window->data()->clear();
    m_segmentPlot->setSelectedRow(-1);
    m_retransPlot->setSelectedRow(-1);
    fitAll();
    replot(rpQueuedReplot);
}

void TimeSequenceView::rebuild() {
    clear();
    if (m_model)
        onRowsAdded(m_model->rowCount());
}

double TimeSequenceView::unwrap(std::uint32_t value, std::int64_t& last) {
    // The nearest number to the previous one that is `value` modulo 2^32 (RFC 1982).
    const auto delta = static_cast<std::int32_t>(value - static_cast<std::uint32_t>(last));
    last += delta;
    return double(last);
}

void TimeSequenceView::onRowsAdded(int newRowCount) {
    if (!m_model)
        return;
    const int end = std::min(newRowCount, m_model->rowCount());
    QVector<double> keys;
    QVector<double> acks;
    QVector<double> windows;
    for (; m_rowsSeen < end; ++m_rowsSeen) {
        const TimelineRow& r = m_model->row(m_rowsSeen);
        if (!r.tcp || !r.segment)
            continue;
        const tcp::SegmentResult& s = *r.segment;
        if (m_connection < 0)
            m_connection = int(s.connection); // the first connection seen
        if (int(s.connection) != m_connection)
            continue;
        const double t = m_model->timeMs(m_rowsSeen);
        if (r.direction == m_direction) {
            const bool rst = (r.flags & wire::tcp_flags::kRst) != 0;
            if (s.segLen == 0 && !rst)
                continue; // a pure ACK of the plotted direction occupies no sequence space
            SequenceBar bar;
            bar.timeMs = t;
            bar.low = unwrap(s.relSeq, m_lastSeq);
            bar.high = bar.low + double(s.segLen);
            bar.row = m_rowsSeen;
            bar.kind = r.kind;
            auto& bars = r.kind == SegmentKind::Retransmission ? m_retrans : m_segments;
            // Kept sorted by time (draw() searches it); rows come almost always in order.
            const auto at =
                std::upper_bound(bars.begin(), bars.end(), t,
                                 [](double time, const SequenceBar& b) { return time < b.timeMs; });
            bars.insert(at, bar);
        } else if (r.flags & wire::tcp_flags::kAck) {
            const double ack = unwrap(s.relAck, m_lastAck);
            keys.append(t);
            acks.append(ack);
            windows.append(ack + double(s.window));
        }
    }
    if (!keys.isEmpty()) {
        m_ack->addData(keys, acks);
        m_window->addData(keys, windows);
    }
    if (m_follow)
        fitAll();
    replot(rpQueuedReplot);
}

void TimeSequenceView::fitAll() {
    if (m_segments.empty() && m_retrans.empty() && m_ack->data()->isEmpty()) {
        xAxis->setRange(0, 10);
        yAxis->setRange(0, 1000);
        return;
    }
    // Fit the segments and the ACK line. The window line (ACK + window) is often far
    // above a short exchange (64 KiB over 161 bytes): fitting it too would flatten the
    // bars into the time axis, so it joins the fit only when it is near the data.
    bool onlyEnlarge = false;
    for (QCPAbstractPlottable* p : {static_cast<QCPAbstractPlottable*>(m_segmentPlot),
                                    static_cast<QCPAbstractPlottable*>(m_retransPlot),
                                    static_cast<QCPAbstractPlottable*>(m_ack)}) {
        bool found = false;
        p->getKeyRange(found);
        if (!found)
            continue;
        p->rescaleAxes(onlyEnlarge);
        onlyEnlarge = true;
    }
    bool windowFound = false;
    const QCPRange window = m_window->getValueRange(windowFound);
    if (!onlyEnlarge)
        m_window->rescaleAxes(false);
    else if (windowFound && window.upper <= yAxis->range().lower + 3 * yAxis->range().size())
        m_window->rescaleAxes(true);
    // A margin, so the first and last bars do not sit on the frame.
    for (QCPAxis* axis : {xAxis, yAxis}) {
        const QCPRange r = axis->range();
        const double pad = std::max(r.size() * 0.04, axis == xAxis ? 0.05 : 1.0);
        axis->setRange(r.lower - pad, r.upper + pad);
    }
}

std::vector<SequenceBar> TimeSequenceView::bars() const {
    std::vector<SequenceBar> all(m_segments);
    all.insert(all.end(), m_retrans.begin(), m_retrans.end());
    std::sort(all.begin(), all.end(),
              [](const SequenceBar& a, const SequenceBar& b) { return a.row < b.row; });
    return all;
}

int TimeSequenceView::rowAt(const QPointF& pos) const {
    // A retransmission lies over the segment it repeats: it wins.
    if (const int i = m_retransPlot->barAt(pos); i >= 0)
        return m_retrans[std::size_t(i)].row;
    if (const int i = m_segmentPlot->barAt(pos); i >= 0)
        return m_segments[std::size_t(i)].row;
    return -1;
}

void TimeSequenceView::setFollowLatest(bool follow) {
    if (follow == m_follow)
        return;
    m_follow = follow;
    if (m_follow) {
        fitAll();
        replot(rpQueuedReplot);
    }
    Q_EMIT followLatestChanged(m_follow);
}

void TimeSequenceView::setSelectedRow(int row) {
    m_segmentPlot->setSelectedRow(row);
    m_retransPlot->setSelectedRow(row);
    replot(rpQueuedReplot);
}

void TimeSequenceView::setCursorTime(std::optional<double> ms) {
    m_cursorMs = ms;
    m_cursor->setVisible(ms.has_value());
    if (ms) {
        // A straight line through two points of the same time: vertical, full height.
        m_cursor->point1->setCoords(*ms, 0);
        m_cursor->point2->setCoords(*ms, 1);
    }
    replot(rpQueuedReplot);
}

void TimeSequenceView::mousePressEvent(QMouseEvent* event) {
    m_pressPos = event->position();
    QCustomPlot::mousePressEvent(event);
}

void TimeSequenceView::mouseReleaseEvent(QMouseEvent* event) {
    QCustomPlot::mouseReleaseEvent(event);
    if (event->button() != Qt::LeftButton)
        return;
    if (QLineF(m_pressPos, event->position()).length() > 4.0) {
        setFollowLatest(false); // the user panned: keep their view
        return;
    }
    const int row = rowAt(event->position());
    if (row >= 0) {
        setSelectedRow(row);
        Q_EMIT segmentClicked(row);
    }
}

void TimeSequenceView::wheelEvent(QWheelEvent* event) {
    QCustomPlot::wheelEvent(event);
    setFollowLatest(false);
}

} // namespace tcplab::ui
