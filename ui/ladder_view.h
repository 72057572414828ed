#pragma once

#include "ui/ladder_plottable.h"
#include "ui/qcustomplot_include.h"

#include <memory>
#include <vector>

namespace tcplab::ui {

class TimelineModel;

/// The ladder diagram: the phantom's lane on the left, the peer's on the right, one
/// row per frame with time running down. Rows come in through addRows(); a click on
/// an arrow says which row (segmentClicked); setSelectedRow() highlights one. Pan and
/// zoom act on the time axis; "follow latest" keeps the newest row in view.
class LadderView : public QCustomPlot {
    Q_OBJECT
public:
    explicit LadderView(QWidget* parent = nullptr);
    ~LadderView() override;

    void clear();
    void addRows(const std::vector<LadderRow>& rows);
    int rowCount() const noexcept { return int(m_rows.size()); }
    const LadderRow& row(int row) const { return m_rows[std::size_t(row)]; }
    /// TCP rows drawn as arrows.
    int arrowCount() const noexcept { return m_arrows; }
    /// The arrow of a TCP row, in plot coordinates (key 0 = phantom lane, 1 = peer lane).
    std::optional<LadderArrow> arrow(int row) const { return m_plottable->arrow(row); }
    /// The arrow's middle in widget pixels (where a click selects it), if it has one.
    std::optional<QPointF> arrowMiddle(int row) const;
    /// The row drawn under a widget pixel, or -1.
    int rowAt(const QPointF& pos) const { return m_plottable->rowAt(pos); }

    /// Lane titles: "phantom\n198.18.0.2", "peer\n198.18.0.1:50001".
    void setLaneTitles(const QString& phantom, const QString& peer);

    int selectedRow() const noexcept { return m_plottable->selectedRow(); }
    bool followLatest() const noexcept { return m_follow; }
    /// Rows visible at once when following (the zoom); at least 4.
    void setVisibleRows(double rows);

public Q_SLOTS:
    /// Highlights `row` (-1: none) and scrolls it into view.
    void setSelectedRow(int row);
    void setFollowLatest(bool follow);

Q_SIGNALS:
    void segmentClicked(int row);
    void followLatestChanged(bool follow);

protected:
    void changeEvent(QEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;
    void wheelEvent(QWheelEvent* event) override;

private:
    void scrollToLatest();
    void applyColors();
    void requestReplot();

    std::vector<LadderRow> m_rows;
    LadderPlottable* m_plottable = nullptr; ///< owned by the plot
    QSharedPointer<QCPAxisTickerText> m_laneTicker;
    int m_arrows = 0;
    bool m_follow = true;
    QPointF m_pressPos;
};

} // namespace tcplab::ui
