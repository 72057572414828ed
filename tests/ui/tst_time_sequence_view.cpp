// TimeSequenceView: one I-bar per segment of the plotted direction at its relative
// sequence numbers, retransmissions apart, the other direction's ACK and window lines.
#include <QDir>
#include <QSignalSpy>
#include <QTest>

#include "tests_support/lab_segment.h"
#include "timeline/timeline.h"
#include "ui/plot_export.h"
#include "ui/time_sequence_view.h"
#include "ui/timeline_model.h"
#include "wire/segment_spec.h"

#include <memory>

using namespace tcplab;

namespace {

constexpr std::uint8_t kSyn = wire::tcp_flags::kSyn;
constexpr std::uint8_t kAck = wire::tcp_flags::kAck;
constexpr std::uint8_t kPsh = wire::tcp_flags::kPsh;
constexpr std::uint8_t kFin = wire::tcp_flags::kFin;
constexpr std::uint32_t kIss = 100;
constexpr std::uint32_t kIrs = 3'000'000'000u;
constexpr std::int64_t kT0 = 1'700'000'000'000'000'000;

using test::kPeer;
using test::kPeerMac;
using test::kPhantom;
using test::kPhantomMac;
using test::labSegment;

struct Fed {
    std::shared_ptr<timeline::Timeline> timeline = std::make_shared<timeline::Timeline>();
    int ms = 0;
    void add(bool fromPhantom, std::uint8_t flags, std::uint32_t seq, std::uint32_t ack,
             std::uint16_t window, std::size_t payload = 0) {
        timeline->append(kT0 + std::int64_t(ms++) * 1'000'000,
                         fromPhantom ? timeline::Direction::Sent : timeline::Direction::Received,
                         labSegment(fromPhantom, flags, seq, ack, window, payload));
    }
};

/// Handshake, two 100-byte segments, the second retransmitted, FIN both ways.
void feedTransfer(Fed& f) {
    f.add(true, kSyn, kIss, 0, 65535);                          // 0: bar [0, 1]
    f.add(false, kSyn | kAck, kIrs, kIss + 1, 64240);           // 1: ack 1
    f.add(true, kAck, kIss + 1, kIrs + 1, 65535);               // 2: no bar
    f.add(true, kPsh | kAck, kIss + 1, kIrs + 1, 65535, 100);   // 3: bar [1, 101]
    f.add(true, kPsh | kAck, kIss + 101, kIrs + 1, 65535, 100); // 4: bar [101, 201]
    f.add(false, kAck, kIrs + 1, kIss + 101, 64240);            // 5: ack 101
    f.add(true, kPsh | kAck, kIss + 101, kIrs + 1, 65535, 100); // 6: retransmission
    f.add(false, kAck, kIrs + 1, kIss + 201, 63000);            // 7: ack 201
    f.add(true, kFin | kAck, kIss + 201, kIrs + 1, 65535);      // 8: bar [201, 202]
    f.add(false, kFin | kAck, kIrs + 1, kIss + 202, 63000);     // 9: ack 202, bar [1, 2]
    f.add(true, kAck, kIss + 202, kIrs + 2, 65535);             // 10: ack 2
}

QString outputDir() {
    const QString dir = QStringLiteral(TCPLAB_BINARY_DIR "/tests/ui-output");
    QDir().mkpath(dir);
    return dir;
}

} // namespace

class TestTimeSequenceView : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void sent_barsAreTheSegmentsSequenceRanges();
    void sent_ackAndWindowLinesFollowThePeer();
    void received_swapsTheDirections();
    void incremental_equalsAllAtOnce();
    void click_onBar_selectsItsRow();
    void cursor_marksTheSelectedMoment();
    void picture_bulkTransfer();
};

void TestTimeSequenceView::sent_barsAreTheSegmentsSequenceRanges() {
    Fed f;
    feedTransfer(f);
    ui::TimelineModel model;
    model.setTimeline(f.timeline, {wire::IpAddress{kPhantom}});
    ui::TimeSequenceView view;
    view.setModel(&model);
    QCOMPARE(view.direction(), timeline::Direction::Sent);
    QCOMPARE(view.connection(), 0);

    const auto bars = view.bars();
    QCOMPARE(int(bars.size()), 5);
    const int rows[] = {0, 3, 4, 6, 8};
    const double lows[] = {0, 1, 101, 101, 201};
    const double highs[] = {1, 101, 201, 201, 202};
    for (std::size_t i = 0; i < bars.size(); ++i) {
        QCOMPARE(bars[i].row, rows[i]);
        QCOMPARE(bars[i].low, lows[i]);
        QCOMPARE(bars[i].high, highs[i]);
        QCOMPARE(bars[i].timeMs, double(rows[i]));
    }
    QCOMPARE(bars[0].kind, ui::SegmentKind::Handshake);
    QCOMPARE(bars[1].kind, ui::SegmentKind::Data);
    QCOMPARE(bars[4].kind, ui::SegmentKind::Fin);
    // The retransmission is flagged and drawn by its own plottable.
    QCOMPARE(bars[3].kind, ui::SegmentKind::Retransmission);
    QCOMPARE(int(view.retransmissionBars().size()), 1);
    QCOMPARE(view.retransmissionBars()[0].row, 6);
    QCOMPARE(int(view.segmentBars().size()), 4);
}

void TestTimeSequenceView::sent_ackAndWindowLinesFollowThePeer() {
    Fed f;
    feedTransfer(f);
    ui::TimelineModel model;
    model.setTimeline(f.timeline, {wire::IpAddress{kPhantom}});
    ui::TimeSequenceView view;
    view.setModel(&model);
    const auto* acks = view.ackGraph()->data().data();
    const auto* windows = view.windowGraph()->data().data();
    // The peer's segments with ACK: rows 1, 5, 7, 9.
    QCOMPARE(acks->size(), 4);
    QCOMPARE(windows->size(), 4);
    const double expected[] = {1, 101, 201, 202};
    for (int i = 0; i < 4; ++i)
        QCOMPARE(acks->at(i)->value, expected[i]);
    QCOMPARE(acks->at(3)->key, 9.0);
    QCOMPARE(view.ackGraph()->lineStyle(), QCPGraph::lsStepLeft);
    // The window line is ACK + window (no window scaling here: raw).
    QCOMPARE(windows->at(0)->value, 1.0 + 64240.0);
    QCOMPARE(windows->at(3)->value, 202.0 + 63000.0);
}

void TestTimeSequenceView::received_swapsTheDirections() {
    Fed f;
    feedTransfer(f);
    ui::TimelineModel model;
    model.setTimeline(f.timeline, {wire::IpAddress{kPhantom}});
    ui::TimeSequenceView view;
    view.setModel(&model);
    view.setDirection(timeline::Direction::Received);
    const auto bars = view.bars();
    // The peer's SYN-ACK [0, 1] and its FIN [1, 2].
    QCOMPARE(int(bars.size()), 2);
    QCOMPARE(bars[0].row, 1);
    QCOMPARE(bars[0].low, 0.0);
    QCOMPARE(bars[0].high, 1.0);
    QCOMPARE(bars[1].row, 9);
    QCOMPARE(bars[1].low, 1.0);
    QCOMPARE(bars[1].high, 2.0);
    QVERIFY(view.retransmissionBars().empty());
    // The phantom's ACKs (rows 2, 3, 4, 6, 8, 10), the last acknowledging the peer's FIN.
    const auto* acks = view.ackGraph()->data().data();
    QCOMPARE(acks->size(), 6);
    QCOMPARE(acks->at(acks->size() - 1)->value, 2.0);
    // And back.
    view.setDirection(timeline::Direction::Sent);
    QCOMPARE(int(view.bars().size()), 5);
    QCOMPARE(view.ackGraph()->data()->at(view.ackGraph()->data()->size() - 1)->value, 202.0);
}

void TestTimeSequenceView::incremental_equalsAllAtOnce() {
    Fed f;
    feedTransfer(f);
    ui::TimelineModel model;
    ui::TimeSequenceView view;
    view.setModel(&model);
    QVERIFY(view.bars().empty());
    // Rows arrive in three batches, as the main window hands them on.
    model.setTimeline(f.timeline, {wire::IpAddress{kPhantom}});
    view.clear();
    view.onRowsAdded(4);
    QCOMPARE(int(view.bars().size()), 2);
    view.onRowsAdded(7);
    QCOMPARE(int(view.bars().size()), 4);
    view.onRowsAdded(model.rowCount());
    view.onRowsAdded(model.rowCount()); // a repeat adds nothing
    QCOMPARE(int(view.bars().size()), 5);
    QCOMPARE(view.ackGraph()->data()->size(), 4);
    // Following, the view shows every bar.
    QVERIFY(view.followLatest());
    QVERIFY(view.xAxis->range().lower <= 0.0 && view.xAxis->range().upper >= 9.0);
    QVERIFY(view.yAxis->range().lower <= 0.0 && view.yAxis->range().upper >= 202.0);
}

void TestTimeSequenceView::click_onBar_selectsItsRow() {
    Fed f;
    feedTransfer(f);
    ui::TimelineModel model;
    model.setTimeline(f.timeline, {wire::IpAddress{kPhantom}});
    ui::TimeSequenceView view;
    view.resize(800, 500);
    view.setModel(&model);
    // Only the bars: the window line would squash them into a few pixels.
    view.yAxis->setRange(-10, 220);
    view.replot();
    QSignalSpy clicked(&view, &ui::TimeSequenceView::segmentClicked);
    const auto& bar = view.segmentBars()[1]; // row 3, [1, 101]
    const QPoint middle(int(view.xAxis->coordToPixel(bar.timeMs)),
                        int(view.yAxis->coordToPixel((bar.low + bar.high) / 2)));
    QCOMPARE(view.rowAt(middle), 3);
    QTest::mouseClick(&view, Qt::LeftButton, {}, middle);
    QCOMPARE(clicked.count(), 1);
    QCOMPARE(clicked.at(0).at(0).toInt(), 3);
    // The retransmission lies over row 4's bar: it is the one picked.
    const auto& re = view.retransmissionBars()[0];
    QCOMPARE(
        view.rowAt(QPointF(view.xAxis->coordToPixel(re.timeMs), view.yAxis->coordToPixel(150))), 6);
    QCOMPARE(view.rowAt(QPointF(3, 3)), -1);
}

void TestTimeSequenceView::cursor_marksTheSelectedMoment() {
    Fed f;
    feedTransfer(f);
    ui::TimelineModel model;
    model.setTimeline(f.timeline, {wire::IpAddress{kPhantom}});
    ui::TimeSequenceView view;
    view.resize(800, 500);
    view.setModel(&model);
    QCOMPARE(view.cursorTime(), std::nullopt);
    // The model's time: row 5 is 5 ms after the first frame.
    QCOMPARE(model.timeMs(5), 5.0);
    QCOMPARE(model.originNs(), std::optional<std::int64_t>(kT0));
    QCOMPARE(model.rowNearestMs(5.4), 5);
    QCOMPARE(model.rowNearestMs(-3.0), 0);
    QCOMPARE(model.rowNearestMs(1e6), model.rowCount() - 1);
    view.setCursorTime(model.timeMs(5));
    QCOMPARE(view.cursorTime(), std::optional<double>(5.0));
    // It survives a rebuild (another direction), and hides on request.
    view.setDirection(timeline::Direction::Received);
    QCOMPARE(view.cursorTime(), std::optional<double>(5.0));
    view.setCursorTime(std::nullopt);
    QCOMPARE(view.cursorTime(), std::nullopt);
}

void TestTimeSequenceView::picture_bulkTransfer() {
    // A bulk transfer with a loss and its retransmission, for a look at the picture.
    Fed f;
    f.add(true, kSyn, kIss, 0, 65535);
    f.add(false, kSyn | kAck, kIrs, kIss + 1, 64240);
    f.add(true, kAck, kIss + 1, kIrs + 1, 65535);
    std::uint32_t next = 1;
    for (int i = 0; i < 40; ++i) {
        if (i == 20) {
            // Segment at 1 + 18*1000 was lost: three duplicate ACKs, then it again.
            for (int d = 0; d < 3; ++d)
                f.add(false, kAck, kIrs + 1, kIss + 1 + 18 * 1000, 64240);
            f.add(true, kPsh | kAck, kIss + 1 + 18 * 1000, kIrs + 1, 65535, 1000);
        }
        f.add(true, kPsh | kAck, kIss + next, kIrs + 1, 65535, 1000);
        next += 1000;
        if (i % 2 == 1 && (i < 18 || i > 21))
            f.add(false, kAck, kIrs + 1, kIss + next, 64240);
    }
    f.add(false, kAck, kIrs + 1, kIss + next, 64240);
    ui::TimelineModel model;
    model.setTimeline(f.timeline, {wire::IpAddress{kPhantom}});
    ui::TimeSequenceView view;
    view.resize(900, 560);
    view.setModel(&model);
    view.yAxis->setRange(-500, 46000);
    QVERIFY(!view.retransmissionBars().empty());
    const QString path = outputDir() + QStringLiteral("/time_sequence.png");
    QCOMPARE(ui::exportPlot(&view, path), QString());
    QVERIFY(QImage(path).width() == 900);

    // And in the dark palette (the application's, pushed as a PaletteChange).
    QPalette dark = view.palette();
    dark.setColor(QPalette::Base, QColor(0x1e, 0x1f, 0x22));
    dark.setColor(QPalette::Window, QColor(0x2b, 0x2d, 0x31));
    dark.setColor(QPalette::WindowText, QColor(0xe6, 0xe6, 0xe6));
    dark.setColor(QPalette::Text, QColor(0xe6, 0xe6, 0xe6));
    dark.setColor(QPalette::Mid, QColor(0x30, 0x32, 0x36));
    view.setPalette(dark);
    const QString darkPath = outputDir() + QStringLiteral("/time_sequence_dark.png");
    QCOMPARE(ui::exportPlot(&view, darkPath), QString());
    QCOMPARE(QImage(darkPath).pixelColor(3, 3), QColor(0x1e, 0x1f, 0x22));
}

QTEST_MAIN(TestTimeSequenceView)
#include "tst_time_sequence_view.moc"
