// LadderView: one arrow per TCP segment, the right direction, clicks select rows.
#include <QSignalSpy>
#include <QTest>

#include "ui/ladder_view.h"

using namespace tcplab;

namespace {

ui::LadderRow tcpRow(double ms, bool fromPhantom, ui::SegmentKind kind, const QString& label) {
    ui::LadderRow r;
    r.timeMs = ms;
    r.fromPhantom = fromPhantom;
    r.tcp = true;
    r.kind = kind;
    r.label = label;
    return r;
}

ui::LadderRow arpRow(double ms, bool fromPhantom) {
    ui::LadderRow r;
    r.timeMs = ms;
    r.fromPhantom = fromPhantom;
    r.label = QStringLiteral("ARP who-has 198.18.0.1");
    return r;
}

/// ARP, SYN, ARP reply, SYN-ACK, ACK: three arrows, two marks.
std::vector<ui::LadderRow> handshakeRows() {
    using K = ui::SegmentKind;
    return {arpRow(0.0, true), tcpRow(0.1, true, K::Handshake, QStringLiteral("SYN seq=0")),
            arpRow(0.15, false),
            tcpRow(0.2, false, K::Handshake, QStringLiteral("SYN, ACK seq=0 ack=1")),
            tcpRow(0.2, true, K::Ack, QStringLiteral("ACK seq=1 ack=1"))};
}

} // namespace

class TestLadderView : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void arrows_onePerTcpSegment();
    void arrows_pointFromSenderToReceiver();
    void click_onArrow_selectsItsRow();
    void clear_removesEveryArrow();
    void zoomedOut_manyRows_drawsAndPicks();
};

void TestLadderView::arrows_onePerTcpSegment() {
    ui::LadderView view;
    view.resize(600, 500);
    view.addRows(handshakeRows());
    QCOMPARE(view.rowCount(), 5);
    QCOMPARE(view.arrowCount(), 3);
    QVERIFY(!view.arrow(0));
    QVERIFY(view.arrow(1));
    QVERIFY(!view.arrow(2));
    QVERIFY(view.arrow(3));
    QVERIFY(view.arrow(4));
    view.addRows({tcpRow(1.0, true, ui::SegmentKind::Data, QStringLiteral("PSH, ACK"))});
    QCOMPARE(view.arrowCount(), 4);
}

void TestLadderView::arrows_pointFromSenderToReceiver() {
    ui::LadderView view;
    view.resize(600, 500);
    view.addRows(handshakeRows());
    const auto syn = view.arrow(1);
    const auto synAck = view.arrow(3);
    QVERIFY(syn && synAck);
    // Sent: phantom lane (left, 0) to peer lane (right, 1); received: the other way.
    QCOMPARE(syn->from.x(), ui::LadderPlottable::kPhantomLane);
    QCOMPARE(syn->to.x(), ui::LadderPlottable::kPeerLane);
    QVERIFY(syn->from.x() < syn->to.x());
    QVERIFY(synAck->from.x() > synAck->to.x());
    // Time runs down: each arrow starts at its row and ends lower, never above.
    QCOMPARE(syn->from.y(), 1.0);
    QVERIFY(syn->to.y() > syn->from.y());
    QCOMPARE(synAck->from.y(), 3.0);
    QVERIFY(synAck->to.y() > synAck->from.y());
    // The later arrow lies further down the widget (the axis is reversed: down = later).
    view.replot();
    const auto synMiddle = view.arrowMiddle(1);
    const auto ackMiddle = view.arrowMiddle(4);
    QVERIFY(synMiddle && ackMiddle);
    QVERIFY2(ackMiddle->y() > synMiddle->y(), "rows must run down the widget");
}

void TestLadderView::click_onArrow_selectsItsRow() {
    ui::LadderView view;
    view.resize(600, 500);
    view.addRows(handshakeRows());
    view.replot();
    QSignalSpy clicked(&view, &ui::LadderView::segmentClicked);

    for (const int row : {1, 3, 4}) {
        const auto middle = view.arrowMiddle(row);
        QVERIFY(middle);
        QCOMPARE(view.rowAt(*middle), row);
        QTest::mouseClick(&view, Qt::LeftButton, {}, middle->toPoint());
        QCOMPARE(clicked.count(), 1);
        QCOMPARE(clicked.takeFirst().at(0).toInt(), row);
        QCOMPARE(view.selectedRow(), row);
    }
    // Far from every arrow and mark: nothing.
    QCOMPARE(view.rowAt(QPointF(3, 3)), -1);
    // Selection from outside (the table) highlights the arrow without a click signal.
    view.setSelectedRow(1);
    QCOMPARE(view.selectedRow(), 1);
    QCOMPARE(clicked.count(), 0);
}

void TestLadderView::clear_removesEveryArrow() {
    ui::LadderView view;
    view.addRows(handshakeRows());
    view.setSelectedRow(3);
    view.clear();
    QCOMPARE(view.rowCount(), 0);
    QCOMPARE(view.arrowCount(), 0);
    QCOMPARE(view.selectedRow(), -1);
}

void TestLadderView::zoomedOut_manyRows_drawsAndPicks() {
    // 20,000 rows in ~450 pixels: drawn one line per pixel row; clicks still find rows.
    std::vector<ui::LadderRow> rows;
    for (int i = 0; i < 20'000; ++i)
        rows.push_back(i % 500 == 7 ? arpRow(i * 0.01, true)
                                    : tcpRow(i * 0.01, i % 3 != 0,
                                             i % 100 == 50 ? ui::SegmentKind::Retransmission
                                                           : ui::SegmentKind::Data,
                                             QStringLiteral("PSH, ACK")));
    ui::LadderView view;
    view.resize(600, 500);
    view.addRows(rows);
    view.setFollowLatest(false);
    view.yAxis->setRange(-0.8, 20'000.2);
    view.setSelectedRow(10'000);
    view.replot();
    const QImage image = view.toPixmap().toImage();
    QVERIFY(!image.isNull());
    // Between the lanes, the middle of the plot is painted (not the background).
    const QPoint centre(int(view.xAxis->coordToPixel(0.5)), view.axisRect()->center().y());
    QVERIFY(image.pixelColor(centre) != view.palette().color(QPalette::Base));
    const int row = view.rowAt(centre);
    QVERIFY(row >= 0);
    QVERIFY(std::abs(view.yAxis->coordToPixel(row) - centre.y()) <= 8.0);
    QCOMPARE(view.selectedRow(), 10'000);
    QCOMPARE(view.arrowCount(), 20'000 - 40);
}

QTEST_MAIN(TestLadderView)
#include "tst_ladder_view.moc"
