#include "ui/compare_dialog.h"

#include "lab/compare.h"
#include "ui/ladder_view.h"
#include "ui/segment_kind.h"
#include "ui/timeline_model.h"
#include "wire/address.h"

#include <QDialogButtonBox>
#include <QFont>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMetaObject>
#include <QProgressBar>
#include <QPushButton>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <optional>
#include <utility>

namespace tcplab::ui {

namespace {

QString qs(const std::string& s) {
    return QString::fromStdString(s);
}

/// A failure as a sentence: "The Linux lab could not start: ..." (core's text starts
/// lower-case, for the CLI's "tcplab-cli compare: ..." prefix).
QString sentence(const std::string& text) {
    QString s = qs(text);
    if (!s.isEmpty())
        s[0] = s[0].toUpper();
    if (!s.endsWith(QLatin1Char('.')))
        s += QLatin1Char('.');
    return s;
}

constexpr int kTopicColumn = 0;

} // namespace

CompareDialog::CompareDialog(QWidget* parent)
    : QDialog(parent) {
    setObjectName(QStringLiteral("compareDialog"));
    setWindowTitle(QStringLiteral("Compare stacks"));
    setAttribute(Qt::WA_DeleteOnClose);
    setModal(false);
    resize(1200, 860);

    m_status = new QLabel;
    m_status->setObjectName(QStringLiteral("compareStatus"));
    m_status->setWordWrap(true);
    m_busy = new QProgressBar;
    m_busy->setRange(0, 0); // busy: the run has no measurable progress
    m_busy->setTextVisible(false);
    m_busy->setMaximumWidth(160);
    auto* statusRow = new QHBoxLayout;
    statusRow->addWidget(m_status, 1);
    statusRow->addWidget(m_busy);

    auto* ladders = new QSplitter(Qt::Horizontal);
    ladders->setChildrenCollapsible(false);
    const std::array<QString, 2> names{QStringLiteral("Linux"), QStringLiteral("lwIP")};
    for (std::size_t i = 0; i < m_sides.size(); ++i) {
        Side& side = m_sides[i];
        auto* column = new QWidget;
        auto* layout = new QVBoxLayout(column);
        layout->setContentsMargins(0, 0, 0, 0);
        side.title = new QLabel(names[i]);
        QFont bold = side.title->font();
        bold.setBold(true);
        bold.setPointSizeF(bold.pointSizeF() * 1.15);
        side.title->setFont(bold);
        side.title->setAlignment(Qt::AlignHCenter);
        side.message = new QLabel;
        side.message->setWordWrap(true);
        side.message->setObjectName(QStringLiteral("failure%1").arg(i));
        side.message->setStyleSheet(QStringLiteral("color: #c0392b;"));
        side.message->hide();
        side.ladder = new LadderView;
        side.ladder->setObjectName(QStringLiteral("ladder%1").arg(i));
        side.ladder->setMinimumSize(360, 320);
        side.model = new TimelineModel(this);
        layout->addWidget(side.title);
        layout->addWidget(side.message);
        layout->addWidget(side.ladder, 1);
        ladders->addWidget(column);
    }

    m_topics = new QTableWidget(0, 3);
    m_topics->setObjectName(QStringLiteral("differences"));
    m_topics->setHorizontalHeaderLabels(
        {QStringLiteral("Topic"), QStringLiteral("Linux"), QStringLiteral("lwIP")});
    m_topics->verticalHeader()->setVisible(false);
    m_topics->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_topics->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_topics->setWordWrap(true);
    m_topics->horizontalHeader()->setSectionResizeMode(kTopicColumn, QHeaderView::Interactive);
    m_topics->setColumnWidth(kTopicColumn, 250);
    m_topics->horizontalHeader()->setSectionResizeMode(1, QHeaderView::Stretch);
    m_topics->horizontalHeader()->setSectionResizeMode(2, QHeaderView::Stretch);
    m_topics->verticalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);

    auto* split = new QSplitter(Qt::Vertical);
    split->setChildrenCollapsible(false);
    split->addWidget(ladders);
    split->addWidget(m_topics);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);

    auto* buttons = new QDialogButtonBox;
    m_runAgain = buttons->addButton(QStringLiteral("Run again"), QDialogButtonBox::ActionRole);
    m_runAgain->setObjectName(QStringLiteral("runAgain"));
    QPushButton* close = buttons->addButton(QDialogButtonBox::Close);
    connect(m_runAgain, &QPushButton::clicked, this, &CompareDialog::start);
    connect(close, &QPushButton::clicked, this, &QDialog::close);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(statusRow);
    layout->addWidget(split, 1);
    layout->addWidget(buttons);

    m_status->setText(QStringLiteral("Runs the classic exercise and a bad-segment probe against "
                                     "the built-in Linux and lwIP peers."));
    m_busy->hide();
}

CompareDialog::~CompareDialog() {
    // The run reports to this object: stop it and wait before anything is destroyed.
    // Results it posted and nobody took are removed with the object (~QObject).
    m_thread.request_stop();
    if (m_thread.joinable())
        m_thread.join();
}

void CompareDialog::setCloseMode(engine::CloseMode mode) {
    m_close = mode;
}

void CompareDialog::setIpv6(bool ipv6) {
    m_ipv6 = ipv6;
}

int CompareDialog::differenceCount() const {
    return m_result ? m_result->differenceCount() : 0;
}

LadderView* CompareDialog::ladder(int side) const {
    return side == 0 || side == 1 ? m_sides[std::size_t(side)].ladder : nullptr;
}

void CompareDialog::start() {
    // A running comparison is stopped and waited for first (bounded: see the class).
    if (m_thread.joinable()) {
        m_thread.request_stop();
        m_thread.join();
    }
    const unsigned generation = ++m_generation;
    m_finished = false;
    m_result.reset();
    for (Side& side : m_sides) {
        side.model->setTimeline(nullptr);
        side.ladder->clear();
        side.message->hide();
    }
    m_sides[0].title->setText(QStringLiteral("Linux"));
    m_sides[1].title->setText(QStringLiteral("lwIP"));
    m_topics->setRowCount(0);
    setRunning(true);
    showProgress(generation, QStringLiteral("Starting…"));

    lab::CompareOptions options;
    options.ipv6 = m_ipv6;
    options.close = m_close;
    m_thread = std::jthread([this, generation, options](std::stop_token stop) {
        // Off the GUI thread: nothing here touches a widget; what it learns is posted.
        const auto progress = [this, generation](const std::string& text) {
            QMetaObject::invokeMethod(
                this, [this, generation, t = qs(text)] { showProgress(generation, t); },
                Qt::QueuedConnection);
        };
        auto result =
            std::make_shared<const lab::Comparison>(lab::compareStacks(options, stop, progress));
        QMetaObject::invokeMethod(
            this, [this, generation, result] { showResult(generation, result); },
            Qt::QueuedConnection);
    });
}

void CompareDialog::setRunning(bool running) {
    m_busy->setVisible(running);
    m_runAgain->setEnabled(!running);
}

void CompareDialog::showProgress(unsigned generation, const QString& text) {
    if (generation != m_generation || m_finished)
        return;
    QString t = text;
    if (!t.isEmpty())
        t[0] = t[0].toUpper();
    m_status->setText(t);
}

void CompareDialog::showResult(unsigned generation, std::shared_ptr<const lab::Comparison> result) {
    if (generation != m_generation || !result)
        return;
    if (m_thread.joinable())
        m_thread.join(); // it has posted its last word: the join is immediate
    m_result = std::move(result);
    m_finished = true;
    setRunning(false);
    showSide(0);
    showSide(1);
    showTopics();
    const int differ = m_result->differenceCount();
    const QString family = m_ipv6 ? QStringLiteral("IPv6") : QStringLiteral("IPv4");
    const QString close = qs(std::string(engine::closeModeName(m_close)));
    m_status->setText(
        m_result->ok()
            ? QStringLiteral("The classic exercise (%1, close: %2) and the bad-segment probe "
                             "ran on both stacks: %3 of %4 topics differ.")
                  .arg(family, close)
                  .arg(differ)
                  .arg(m_result->topics.size())
            : QStringLiteral("The comparison did not complete on both stacks (see the "
                             "columns); %1 of %2 topics differ.")
                  .arg(differ)
                  .arg(m_result->topics.size()));
    Q_EMIT comparisonFinished(m_result->ok());
}

void CompareDialog::showSide(int index) {
    Side& side = m_sides[std::size_t(index)];
    const lab::LabRun& run = m_result->runs[std::size_t(index)];
    side.title->setText(qs(run.title));
    side.title->setToolTip(qs(run.description));
    if (!run.failure.empty()) {
        side.message->setText(sentence(run.failure));
        side.message->show();
    }
    if (!run.timeline)
        return;
    side.model->setTimeline(run.timeline, {run.classicParams.phantom});
    side.model->onTimelineGrew(qsizetype(run.timeline->size()));
    // Only the two connections' segments, from the first SYN at 0 ms: the lab's own
    // start-up (ARP, MLD, the conflict probe) differs between the stacks for reasons
    // that are not TCP's, and without it the rows of the two ladders line up.
    std::vector<LadderRow> rows;
    std::optional<double> startMs;
    bool probeMarked = false;
    for (int i = 0; i < side.model->rowCount(); ++i) {
        const TimelineRow& r = side.model->row(i);
        if (!r.tcp)
            continue;
        if (!startMs)
            startMs = side.model->timeMs(i);
        LadderRow l;
        l.timeMs = side.model->timeMs(i) - *startMs;
        l.fromPhantom = r.direction == timeline::Direction::Sent;
        l.tcp = true;
        l.kind = r.kind;
        l.label = ladderLabel(r);
        if (!probeMarked && std::size_t(i) >= run.classicEnd) {
            probeMarked = true;
            LadderRow mark;
            mark.timeMs = l.timeMs;
            mark.label = QStringLiteral("bad-segment probe: a new connection");
            rows.push_back(std::move(mark));
        }
        rows.push_back(std::move(l));
    }
    side.ladder->setLaneTitles(
        QStringLiteral("phantom %1").arg(qs(wire::addressText(run.classicParams.phantom))),
        QStringLiteral("peer %1").arg(qs(wire::addressText(run.classicParams.peer))));
    side.ladder->setFollowLatest(false);
    side.ladder->addRows(rows);
    // Both connections at once when they fit (some 20 rows).
    side.ladder->setVisibleRows(std::max(20.0, double(rows.size()) + 0.6));
}

void CompareDialog::showTopics() {
    m_topics->setHorizontalHeaderLabels(
        {QStringLiteral("Topic"), qs(m_result->runs[0].title), qs(m_result->runs[1].title)});
    m_topics->setRowCount(int(m_result->topics.size()));
    // A tint that reads on the light and the dark palette alike.
    const QColor differs(255, 190, 0, 70);
    for (int row = 0; row < int(m_result->topics.size()); ++row) {
        const lab::DifferenceTopic& topic = m_result->topics[std::size_t(row)];
        // Durations alone are not a difference: on a loaded machine they are noise.
        const bool same = topic.sameApartFromTiming();
        const QString note = topic.same() ? QStringLiteral(" (the same)")
                             : same       ? QStringLiteral(" (timing only)")
                                          : QString();
        const std::array<QString, 3> texts{qs(topic.title) + note, qs(topic.linuxText),
                                           qs(topic.lwipText)};
        for (int column = 0; column < 3; ++column) {
            auto* item = new QTableWidgetItem(texts[std::size_t(column)]);
            item->setToolTip(texts[std::size_t(column)]);
            if (!same) {
                item->setBackground(differs);
                if (column == kTopicColumn) {
                    QFont bold = item->font();
                    bold.setBold(true);
                    item->setFont(bold);
                }
            }
            m_topics->setItem(row, column, item);
        }
    }
    m_topics->resizeRowsToContents();
}

} // namespace tcplab::ui
