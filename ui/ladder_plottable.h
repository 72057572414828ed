#pragma once

#include "ui/qcustomplot_include.h"
#include "ui/segment_kind.h"

#include <QString>

#include <optional>
#include <vector>

namespace tcplab::ui {

/// One row of the ladder: a TCP segment (an arrow between the lanes) or another frame
/// (a small grey mark at its sender's lane). Row keys are the row indices (integers),
/// time runs down the rows.
struct LadderRow {
    double timeMs = 0.0;     ///< since the first row
    bool fromPhantom = true; ///< sent by the phantom (left lane) or received (right lane)
    bool tcp = false;
    SegmentKind kind = SegmentKind::Other;
    QString label; ///< "SYN seq=0 win=65535", "ARP who-has 198.18.0.2"
};

/// The geometry of one arrow, in plot coordinates (key = lane, value = row).
struct LadderArrow {
    QPointF from; ///< at the sender's lane
    QPointF to;   ///< at the receiver's lane (slanted down)
};

/// Paints every visible row of a ladder in one pass and hit-tests them: one plottable,
/// not one item per arrow, so 100,000 rows cost what the visible ones cost. Keys are
/// the lanes (0 phantom, 1 peer); values are rows. Painting has no side effects.
class LadderPlottable : public QCPAbstractPlottable {
    Q_OBJECT
public:
    static constexpr double kPhantomLane = 0.0;
    static constexpr double kPeerLane = 1.0;

    LadderPlottable(QCPAxis* keyAxis, QCPAxis* valueAxis);

    void setRows(const std::vector<LadderRow>* rows) { m_rows = rows; }
    void setSelectedRow(int row) { m_selected = row; }
    int selectedRow() const noexcept { return m_selected; }

    /// The arrow of row `row` (TCP rows only).
    std::optional<LadderArrow> arrow(int row) const;
    /// The row drawn nearest the pixel `pos` (within a few pixels), or -1.
    int rowAt(const QPointF& pos) const;

    double selectTest(const QPointF& pos, bool onlySelectable,
                      QVariant* details = nullptr) const override;
    QCPRange getKeyRange(bool& foundRange,
                         QCP::SignDomain inSignDomain = QCP::sdBoth) const override;
    QCPRange getValueRange(bool& foundRange, QCP::SignDomain inSignDomain = QCP::sdBoth,
                           const QCPRange& inKeyRange = QCPRange()) const override;

protected:
    void draw(QCPPainter* painter) override;
    void drawLegendIcon(QCPPainter* painter, const QRectF& rect) const override;

private:
    /// Rows [first, last] whose marks may show in the visible value range.
    std::pair<int, int> visibleRows() const;
    /// Rows [first, last] when there are more than pixel rows: one line per pixel row.
    void drawAggregated(QCPPainter* painter, int first, int last);
    /// Distance in pixels from `pos` to row `row`'s arrow or mark.
    double pixelDistance(int row, const QPointF& pos) const;

    const std::vector<LadderRow>* m_rows = nullptr;
    int m_selected = -1;
};

} // namespace tcplab::ui
