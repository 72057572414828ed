#include "ui/ladder_plottable.h"

#include <QPainterPath>

#include <algorithm>
#include <array>
#include <cmath>

namespace tcplab::ui {

namespace {

constexpr std::size_t kKindCount = std::size_t(SegmentKind::Other) + 1;
/// Below this many pixels per row the rows are drawn aggregated, one line per pixel row.
constexpr double kAggregateBelowPixels = 2.0;

/// How far down the receiver's end of an arrow lies, in rows: a fixed small slope,
/// more when the next frame came later (the time the segment "took" on the diagram).
double slantOf(const std::vector<LadderRow>& rows, std::size_t row) {
    constexpr double kMinimum = 0.25;
    if (row + 1 >= rows.size())
        return kMinimum;
    const double dt = std::max(0.0, rows[row + 1].timeMs - rows[row].timeMs);
    // 0 ms: 0.25 row, 1 ms: ~0.4, 100 ms and more: 0.6.
    return kMinimum + 0.35 * std::min(1.0, std::log10(1.0 + dt) / 2.0);
}

double distanceToSegment(const QPointF& p, const QPointF& a, const QPointF& b) {
    const QPointF ab = b - a;
    const double len2 = QPointF::dotProduct(ab, ab);
    double t = len2 > 0 ? QPointF::dotProduct(p - a, ab) / len2 : 0.0;
    t = std::clamp(t, 0.0, 1.0);
    const QPointF d = p - (a + t * ab);
    return std::sqrt(QPointF::dotProduct(d, d));
}

} // namespace

LadderPlottable::LadderPlottable(QCPAxis* keyAxis, QCPAxis* valueAxis)
    : QCPAbstractPlottable(keyAxis, valueAxis) {
    setSelectable(QCP::stNone); // the view selects rows itself (rowAt)
    setAntialiased(true);
}

std::optional<LadderArrow> LadderPlottable::arrow(int row) const {
    if (!m_rows || row < 0 || std::size_t(row) >= m_rows->size())
        return std::nullopt;
    const LadderRow& r = (*m_rows)[std::size_t(row)];
    if (!r.tcp)
        return std::nullopt;
    const double from = r.fromPhantom ? kPhantomLane : kPeerLane;
    const double to = r.fromPhantom ? kPeerLane : kPhantomLane;
    const double y = row;
    return LadderArrow{QPointF(from, y), QPointF(to, y + slantOf(*m_rows, std::size_t(row)))};
}

std::pair<int, int> LadderPlottable::visibleRows() const {
    if (!m_rows || m_rows->empty() || !mValueAxis)
        return {0, -1};
    const QCPRange range = mValueAxis->range();
    const int last = int(m_rows->size()) - 1;
    const int first = std::clamp(int(std::floor(range.lower)) - 1, 0, last);
    const int end = std::clamp(int(std::ceil(range.upper)) + 1, 0, last);
    return {first, end};
}

double LadderPlottable::pixelDistance(int row, const QPointF& pos) const {
    if (const auto a = arrow(row))
        return distanceToSegment(pos, coordsToPixels(a->from.x(), a->from.y()),
                                 coordsToPixels(a->to.x(), a->to.y()));
    const LadderRow& r = (*m_rows)[std::size_t(row)];
    const double lane = r.fromPhantom ? kPhantomLane : kPeerLane;
    const QPointF c = coordsToPixels(lane, row);
    return distanceToSegment(pos, c - QPointF(8, 0), c + QPointF(8, 0));
}

int LadderPlottable::rowAt(const QPointF& pos) const {
    constexpr double kTolerance = 6.0; // pixels
    auto [first, last] = visibleRows();
    if (first <= last) {
        // Only the rows that can lie within the tolerance: an arrow reaches at most one row
        // below its own, so a click costs the same at any zoom.
        double a = mValueAxis->pixelToCoord(pos.y() - kTolerance);
        double b = mValueAxis->pixelToCoord(pos.y() + kTolerance);
        if (a > b)
            std::swap(a, b);
        first = std::max(first, int(std::floor(a)) - 1);
        last = std::min(last, int(std::ceil(b)) + 1);
    }
    int best = -1;
    double bestDistance = kTolerance;
    for (int row = first; row <= last; ++row) {
        const double d = pixelDistance(row, pos);
        if (d <= bestDistance) {
            bestDistance = d;
            best = row;
        }
    }
    return best;
}

double LadderPlottable::selectTest(const QPointF& pos, bool onlySelectable,
                                   QVariant* details) const {
    if (onlySelectable && !selectable())
        return -1;
    const int row = rowAt(pos);
    if (row < 0)
        return -1;
    if (details)
        *details = row;
    return pixelDistance(row, pos);
}

QCPRange LadderPlottable::getKeyRange(bool& foundRange, QCP::SignDomain) const {
    foundRange = true;
    return {kPhantomLane, kPeerLane};
}

QCPRange LadderPlottable::getValueRange(bool& foundRange, QCP::SignDomain, const QCPRange&) const {
    foundRange = m_rows && !m_rows->empty();
    return {0.0, foundRange ? double(m_rows->size()) : 1.0};
}

void LadderPlottable::draw(QCPPainter* painter) {
    if (!mKeyAxis || !mValueAxis)
        return;
    const QRect clip = clipRect();
    // The lanes, over the whole height.
    const QColor laneColor = mParentPlot->palette().color(QPalette::Mid);
    painter->setPen(QPen(laneColor, 2));
    for (const double lane : {kPhantomLane, kPeerLane}) {
        const double x = coordsToPixels(lane, 0).x();
        painter->drawLine(QLineF(x, clip.top(), x, clip.bottom()));
    }
    if (!m_rows || m_rows->empty())
        return;

    const auto [first, last] = visibleRows();
    const double rowPixels =
        std::abs(coordsToPixels(0, 1).y() - coordsToPixels(0, 0).y()); // one row, in pixels
    if (rowPixels < kAggregateBelowPixels) {
        drawAggregated(painter, first, last);
        return;
    }
    const bool labels = rowPixels >= 14.0;
    const bool heads = rowPixels >= 4.0;
    QFont font = mParentPlot->font();
    font.setPointSizeF(std::max(7.0, font.pointSizeF() * 0.9));
    painter->setFont(font);
    const QFontMetricsF metrics(font);
    const QColor textColor = mParentPlot->palette().color(QPalette::Text);

    for (int row = first; row <= last; ++row) {
        const LadderRow& r = (*m_rows)[std::size_t(row)];
        const bool selected = row == m_selected;
        const QColor color = segmentKindColor(r.kind);
        if (const auto a = arrow(row)) {
            const QPointF p1 = coordsToPixels(a->from.x(), a->from.y());
            const QPointF p2 = coordsToPixels(a->to.x(), a->to.y());
            QPen pen(color, selected ? 3.5 : 1.6);
            if (r.kind == SegmentKind::Retransmission)
                pen.setStyle(Qt::DashLine);
            painter->setPen(pen);
            painter->drawLine(QLineF(p1, p2));
            if (heads) {
                // The arrow head: a filled triangle at the receiver's lane.
                const QPointF dir = (p2 - p1) / std::max(1.0, QLineF(p1, p2).length());
                const QPointF normal(-dir.y(), dir.x());
                const double size = selected ? 12.0 : 9.0;
                QPainterPath head;
                head.moveTo(p2);
                head.lineTo(p2 - dir * size + normal * size * 0.4);
                head.lineTo(p2 - dir * size - normal * size * 0.4);
                head.closeSubpath();
                painter->setPen(Qt::NoPen);
                painter->setBrush(color);
                painter->drawPath(head);
                painter->setBrush(Qt::NoBrush);
            }
            if (labels && !r.label.isEmpty()) {
                // Above the arrow's middle, horizontal, so it reads at any slope.
                const QPointF mid = (p1 + p2) / 2.0;
                QFont f = font;
                f.setBold(selected);
                const double width = QFontMetricsF(f).horizontalAdvance(r.label);
                const QRectF box(mid.x() - width / 2 - 3, mid.y() - metrics.height() - 3, width + 6,
                                 metrics.height());
                if (selected) {
                    QColor fill = color;
                    fill.setAlpha(50);
                    painter->fillRect(box, fill);
                }
                painter->setFont(f);
                painter->setPen(textColor);
                painter->drawText(box, Qt::AlignCenter, r.label);
                painter->setFont(font);
            }
        } else {
            // ARP / ND / other: a short grey tick beside the sender's lane, with words.
            const double lane = r.fromPhantom ? kPhantomLane : kPeerLane;
            const QPointF c = coordsToPixels(lane, row);
            const double side = r.fromPhantom ? 1.0 : -1.0;
            painter->setPen(QPen(selected ? textColor : color, selected ? 3.0 : 1.5));
            painter->drawLine(QLineF(c, c + QPointF(side * 14.0, 0)));
            if (labels && !r.label.isEmpty()) {
                QColor grey = color;
                painter->setPen(selected ? textColor : grey);
                const double width = metrics.horizontalAdvance(r.label);
                const double x = r.fromPhantom ? c.x() + 18.0 : c.x() - 18.0 - width;
                painter->drawText(QPointF(x, c.y() + metrics.ascent() / 2.5), r.label);
            }
        }
    }
}

void LadderPlottable::drawAggregated(QCPPainter* painter, int first, int last) {
    // More rows than pixel rows: one line per pixel row instead of one arrow per segment
    // (100,000 antialiased arrows take a fifth of a second; a picture of ~700 lines takes
    // a millisecond). Each pixel row shows the most telling kind among its segments, in the
    // enum's order (RST, retransmission, handshake, FIN, data, ACK), from lane to lane;
    // other frames are a tick beside their sender's lane.
    const QRect clip = clipRect();
    const int height = std::max(1, clip.height());
    constexpr auto kNone = std::uint8_t(kKindCount);
    std::vector<std::uint8_t> tcpKind(std::size_t(height), kNone);
    std::vector<std::uint8_t> marks(std::size_t(height), 0); // bit 0 phantom, bit 1 peer
    const double y0 = coordsToPixels(kPhantomLane, 0).y();
    const double dy = coordsToPixels(kPhantomLane, 1).y() - y0;
    for (int row = first; row <= last; ++row) {
        const int pixel = int(std::floor(y0 + dy * row)) - clip.top();
        if (pixel < 0 || pixel >= height)
            continue;
        const LadderRow& r = (*m_rows)[std::size_t(row)];
        const auto p = std::size_t(pixel);
        if (r.tcp)
            tcpKind[p] = std::min(tcpKind[p], std::uint8_t(r.kind));
        else
            marks[p] |= r.fromPhantom ? 1 : 2;
    }
    const double left = coordsToPixels(kPhantomLane, 0).x();
    const double right = coordsToPixels(kPeerLane, 0).x();
    std::array<QVector<QLineF>, kKindCount> lines;
    QVector<QLineF> ticks;
    for (int pixel = 0; pixel < height; ++pixel) {
        const auto p = std::size_t(pixel);
        const double y = clip.top() + pixel + 0.5;
        if (tcpKind[p] != kNone)
            lines[tcpKind[p]].append(QLineF(left, y, right, y));
        if (marks[p] & 1)
            ticks.append(QLineF(left, y, left + 14.0, y));
        if (marks[p] & 2)
            ticks.append(QLineF(right - 14.0, y, right, y));
    }
    const bool antialiased = painter->testRenderHint(QPainter::Antialiasing);
    painter->setRenderHint(QPainter::Antialiasing, false); // horizontal lines on whole pixels
    for (std::size_t k = 0; k < kKindCount; ++k) {
        if (lines[k].isEmpty())
            continue;
        painter->setPen(QPen(segmentKindColor(SegmentKind(k)), 1));
        painter->drawLines(lines[k]);
    }
    if (!ticks.isEmpty()) {
        painter->setPen(QPen(segmentKindColor(SegmentKind::Other), 1));
        painter->drawLines(ticks);
    }
    painter->setRenderHint(QPainter::Antialiasing, antialiased);
    // The selected row stays visible as a thick arrow.
    if (m_selected >= first && m_selected <= last) {
        if (const auto a = arrow(m_selected)) {
            painter->setPen(QPen(mParentPlot->palette().color(QPalette::Text), 3.0));
            painter->drawLine(QLineF(coordsToPixels(a->from.x(), a->from.y()),
                                     coordsToPixels(a->to.x(), a->to.y())));
        }
    }
}

void LadderPlottable::drawLegendIcon(QCPPainter* painter, const QRectF& rect) const {
    painter->setPen(QPen(segmentKindColor(SegmentKind::Handshake), 1.6));
    painter->drawLine(QLineF(rect.left(), rect.center().y(), rect.right(), rect.center().y()));
}

} // namespace tcplab::ui
