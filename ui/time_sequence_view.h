#pragma once

#include "timeline/timeline.h"
#include "ui/qcustomplot_include.h"
#include "ui/segment_kind.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace tcplab::ui {

class TimelineModel;

/// One segment of the plotted direction on the time-sequence graph: an I-bar at its time
/// from its first to past its last relative sequence number (SYN and FIN count 1).
struct SequenceBar {
    double timeMs = 0.0;
    double low = 0.0;  ///< relative SEG.SEQ (unwrapped past 2^32)
    double high = 0.0; ///< low + SEG.LEN; equal to low for a RST (drawn as a cross)
    int row = -1;      ///< the model row
    SegmentKind kind = SegmentKind::Data;
};

/// Paints a time-sorted list of I-bars in one pass: only those in the visible time range,
/// and, when there are more bars than pixel columns, one aggregated line per column (the
/// extent of every bar in it). Keys are milliseconds, values relative sequence numbers.
class SequenceBarsPlottable : public QCPAbstractPlottable {
    Q_OBJECT
public:
    SequenceBarsPlottable(QCPAxis* keyAxis, QCPAxis* valueAxis);

    void setBars(const std::vector<SequenceBar>* bars) { m_bars = bars; }
    /// One colour for every bar (retransmissions), or none: each bar by its kind.
    void setUniformColor(std::optional<QColor> color) { m_uniform = color; }
    void setSelectedRow(int row) { m_selected = row; }

    /// The index of the bar nearest the pixel `pos` (within a few pixels), or -1.
    int barAt(const QPointF& pos) const;

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
    /// Bars [first, end) whose time lies in the visible key range (with a margin).
    std::pair<std::size_t, std::size_t> visibleBars() const;
    QColor colorOf(const SequenceBar& bar) const;

    const std::vector<SequenceBar>* m_bars = nullptr;
    std::optional<QColor> m_uniform;
    int m_selected = -1;
};

/// The time-sequence (Stevens) graph of one connection and one direction: each segment
/// that direction sent as an I-bar (relative sequence number against time), the other
/// direction's acknowledgments as a step line, and the window it advertised (ACK + window)
/// as a second step line. Retransmissions are drawn in their own colour. Rows come from a
/// TimelineModel: setModel() takes what it has, onRowsAdded() the rows that came since.
/// "Follow" (the default) fits all the data after each addition; pan or zoom turns it off.
class TimeSequenceView : public QCustomPlot {
    Q_OBJECT
public:
    explicit TimeSequenceView(QWidget* parent = nullptr);
    ~TimeSequenceView() override;

    /// The model to read (or none); rebuilds from its rows.
    void setModel(const TimelineModel* model);
    /// Whose data is plotted: Sent = the phantom's segments (and the peer's ACKs).
    void setDirection(timeline::Direction direction);
    timeline::Direction direction() const noexcept { return m_direction; }
    /// The connection (index in the model's ConnectionTable) to plot; -1 = the first one seen.
    void setConnection(int connection);
    /// The connection plotted, -1 before any TCP row.
    int connection() const noexcept { return m_connection; }
    /// Forgets every row (the model is kept; the next onRowsAdded starts from row 0).
    void clear();

    bool followLatest() const noexcept { return m_follow; }

    // What is drawn, for tests and the lead's status line.
    /// Bars of the plotted direction, new data and retransmissions together, in row order.
    std::vector<SequenceBar> bars() const;
    const std::vector<SequenceBar>& segmentBars() const noexcept { return m_segments; }
    const std::vector<SequenceBar>& retransmissionBars() const noexcept { return m_retrans; }
    QCPGraph* ackGraph() const noexcept { return m_ack; }
    QCPGraph* windowGraph() const noexcept { return m_window; }
    /// The model row of the bar under the widget pixel `pos`, or -1.
    int rowAt(const QPointF& pos) const;
    /// The cursor's time (ms), nullopt when hidden.
    std::optional<double> cursorTime() const noexcept { return m_cursorMs; }

public Q_SLOTS:
    /// The model now has `newRowCount` rows: plots those not seen yet.
    void onRowsAdded(int newRowCount);
    void setFollowLatest(bool follow);
    /// Highlights the bar of model row `row` (-1: none).
    void setSelectedRow(int row);
    /// A vertical cursor at `ms` (the ladder's selected moment), nullopt: none.
    void setCursorTime(std::optional<double> ms);

Q_SIGNALS:
    void segmentClicked(int row);
    void followLatestChanged(bool follow);

protected:
    void changeEvent(QEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;
    void wheelEvent(QWheelEvent* event) override;

private:
    void rebuild();
    void fitAll();
    void applyColors();
    /// Unwraps a 32-bit relative number next to the previous one of its series.
    static double unwrap(std::uint32_t value, std::int64_t& last);

    const TimelineModel* m_model = nullptr;
    timeline::Direction m_direction = timeline::Direction::Sent;
    int m_wantedConnection = -1;
    int m_connection = -1;
    int m_rowsSeen = 0;
    std::int64_t m_lastSeq = 0;
    std::int64_t m_lastAck = 0;
    std::vector<SequenceBar> m_segments;
    std::vector<SequenceBar> m_retrans;
    SequenceBarsPlottable* m_segmentPlot = nullptr; ///< owned by the plot
    SequenceBarsPlottable* m_retransPlot = nullptr;
    QCPGraph* m_ack = nullptr;
    QCPGraph* m_window = nullptr;
    bool m_follow = true;
    QPointF m_pressPos;
    QCPItemStraightLine* m_cursor = nullptr; ///< owned by the plot
    std::optional<double> m_cursorMs;
};

} // namespace tcplab::ui
