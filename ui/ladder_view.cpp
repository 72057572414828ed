#include "ui/ladder_view.h"

#include <cmath>

namespace tcplab::ui {

namespace {

/// Time-axis ticks on whole rows only, labelled with the row's time.
class RowTimeTicker : public QCPAxisTicker {
public:
    explicit RowTimeTicker(const std::vector<LadderRow>* rows)
        : m_rows(rows) {}

protected:
    double getTickStep(const QCPRange& range) override {
        return std::max(1.0, std::round(QCPAxisTicker::getTickStep(range)));
    }
    QString getTickLabel(double tick, const QLocale&, QChar, int) override {
        const long row = std::lround(tick);
        if (row < 0 || std::size_t(row) >= m_rows->size())
            return {};
        return QStringLiteral("%1 ms").arg((*m_rows)[std::size_t(row)].timeMs, 0, 'f', 3);
    }

private:
    const std::vector<LadderRow>* m_rows;
};

constexpr double kDefaultVisibleRows = 20.0;

} // namespace

LadderView::LadderView(QWidget* parent)
    : QCustomPlot(parent) {
    setObjectName(QStringLiteral("ladder"));
    setMinimumSize(320, 240);
    setNoAntialiasingOnDrag(true);
    m_plottable = new LadderPlottable(xAxis, yAxis);
    m_plottable->setRows(&m_rows);

    // Lanes on the key axis, titled on the top axis; time (rows) down the left.
    xAxis->setVisible(false);
    xAxis->setRange(-0.55, 1.55);
    xAxis2->setVisible(true);
    xAxis2->setRange(xAxis->range());
    xAxis2->setTicks(true);
    xAxis2->setSubTicks(false);
    xAxis2->setTickLength(0, 0);
    xAxis2->setBasePen(Qt::NoPen);
    xAxis2->grid()->setVisible(false);
    m_laneTicker.reset(new QCPAxisTickerText);
    xAxis2->setTicker(m_laneTicker);
    QFont laneFont = font();
    laneFont.setBold(true);
    xAxis2->setTickLabelFont(laneFont);
    setLaneTitles(QStringLiteral("phantom"), QStringLiteral("peer"));

    yAxis->setRangeReversed(true);
    yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new RowTimeTicker(&m_rows)));
    yAxis->setSubTicks(false);
    yAxis->setLabel(QStringLiteral("time"));
    yAxis->setRange(-0.8, kDefaultVisibleRows - 0.8);
    applyColors();

    setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    axisRect()->setRangeDrag(Qt::Vertical);
    axisRect()->setRangeZoom(Qt::Vertical);
    axisRect()->setRangeDragAxes(nullptr, yAxis);
    axisRect()->setRangeZoomAxes(nullptr, yAxis);
}

LadderView::~LadderView() = default;

void LadderView::applyColors() {
    // Colours from the palette, so the ladder follows a dark or light theme.
    const QColor text = palette().color(QPalette::Text);
    setBackground(palette().brush(QPalette::Base));
    yAxis->grid()->setPen(QPen(palette().color(QPalette::Midlight), 0, Qt::DotLine));
    for (QCPAxis* axis : {yAxis, xAxis2}) {
        axis->setTickLabelColor(text);
        axis->setLabelColor(text);
        axis->setBasePen(axis == yAxis ? QPen(text) : QPen(Qt::NoPen));
        axis->setTickPen(QPen(text));
    }
}

void LadderView::changeEvent(QEvent* event) {
    QCustomPlot::changeEvent(event);
    if (event->type() == QEvent::PaletteChange) {
        applyColors();
        replot(QCustomPlot::rpQueuedReplot);
    }
}

void LadderView::setLaneTitles(const QString& phantom, const QString& peer) {
    m_laneTicker->clear();
    m_laneTicker->addTick(LadderPlottable::kPhantomLane, phantom);
    m_laneTicker->addTick(LadderPlottable::kPeerLane, peer);
    requestReplot();
}

void LadderView::clear() {
    m_rows.clear();
    m_arrows = 0;
    m_plottable->setSelectedRow(-1);
    yAxis->setRange(-0.8, kDefaultVisibleRows - 0.8);
    requestReplot();
}

void LadderView::addRows(const std::vector<LadderRow>& rows) {
    if (rows.empty())
        return;
    m_rows.reserve(m_rows.size() + rows.size());
    for (const LadderRow& r : rows) {
        m_rows.push_back(r);
        if (r.tcp)
            ++m_arrows;
    }
    if (m_follow)
        scrollToLatest();
    requestReplot();
}

std::optional<QPointF> LadderView::arrowMiddle(int row) const {
    const auto a = m_plottable->arrow(row);
    if (!a)
        return std::nullopt;
    const QPointF p1(xAxis->coordToPixel(a->from.x()), yAxis->coordToPixel(a->from.y()));
    const QPointF p2(xAxis->coordToPixel(a->to.x()), yAxis->coordToPixel(a->to.y()));
    return (p1 + p2) / 2.0;
}

void LadderView::setVisibleRows(double rows) {
    rows = std::max(4.0, rows);
    const double lower = yAxis->range().lower;
    yAxis->setRange(lower, lower + rows);
    if (m_follow)
        scrollToLatest();
    requestReplot();
}

void LadderView::setSelectedRow(int row) {
    if (row >= rowCount())
        row = -1;
    if (row == m_plottable->selectedRow())
        return;
    m_plottable->setSelectedRow(row);
    if (row >= 0) {
        const QCPRange range = yAxis->range();
        if (row < range.lower + 0.5 || row + 1 > range.upper) {
            const double size = range.size();
            yAxis->setRange(row - size / 3.0, row - size / 3.0 + size);
            setFollowLatest(false);
        }
    }
    requestReplot();
}

void LadderView::setFollowLatest(bool follow) {
    if (follow == m_follow)
        return;
    m_follow = follow;
    if (m_follow)
        scrollToLatest();
    requestReplot();
    Q_EMIT followLatestChanged(m_follow);
}

void LadderView::scrollToLatest() {
    const double size = yAxis->range().size();
    const double bottom = std::max(size - 0.8, double(m_rows.size()) + 0.2);
    yAxis->setRange(bottom - size, bottom);
}

void LadderView::requestReplot() {
    replot(QCustomPlot::rpQueuedReplot);
}

void LadderView::mousePressEvent(QMouseEvent* event) {
    m_pressPos = event->position();
    QCustomPlot::mousePressEvent(event);
}

void LadderView::mouseReleaseEvent(QMouseEvent* event) {
    QCustomPlot::mouseReleaseEvent(event);
    if (event->button() != Qt::LeftButton)
        return;
    // A click, not the end of a drag: select what lies under it.
    if (QLineF(m_pressPos, event->position()).length() > 4.0) {
        if (m_follow)
            setFollowLatest(false); // the user panned away from the newest row
        return;
    }
    const int row = rowAt(event->position());
    if (row >= 0) {
        setSelectedRow(row);
        Q_EMIT segmentClicked(row);
    }
}

void LadderView::wheelEvent(QWheelEvent* event) {
    QCustomPlot::wheelEvent(event);
    if (m_follow)
        scrollToLatest(); // zoom keeps the newest row at the bottom while following
}

} // namespace tcplab::ui
