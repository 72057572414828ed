// TimelineModel over a real Timeline: rows, relative numbers, growth signals.
#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QTest>

#include "tcp/tracker.h"
#include "tests_support/lab_segment.h"
#include "timeline/timeline.h"
#include "ui/timeline_model.h"
#include "wire/segment_spec.h"

#include <memory>

using namespace tcplab;

namespace {

using test::kPeer;
using test::kPeerMac;
using test::kPhantom;
using test::kPhantomMac;
using test::labSegment;

constexpr std::uint8_t kSyn = wire::tcp_flags::kSyn;
constexpr std::uint8_t kAck = wire::tcp_flags::kAck;
constexpr std::uint8_t kPsh = wire::tcp_flags::kPsh;
constexpr std::uint32_t kIss = 100;
constexpr std::uint32_t kIrs = 3'000'000'000u;

} // namespace

class TestTimelineModel : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void handshake_rowsHaveRelativeNumbersAndStates();
    void growth_insertsOnlyTheNewRows();
    void arp_isSummarisedInWords();
};

void TestTimelineModel::handshake_rowsHaveRelativeNumbersAndStates() {
    auto tl = std::make_shared<timeline::Timeline>();
    const std::int64_t t0 = 1'700'000'000'000'000'000;
    tl->append(t0, timeline::Direction::Sent, labSegment(true, kSyn, kIss, 0, 65535));
    tl->append(t0 + 250'000, timeline::Direction::Received,
               labSegment(false, kSyn | kAck, kIrs, kIss + 1, 64240));
    tl->append(t0 + 500'000, timeline::Direction::Sent,
               labSegment(true, kAck, kIss + 1, kIrs + 1, 65535));
    tl->append(t0 + 2'000'000, timeline::Direction::Sent,
               labSegment(true, kPsh | kAck, kIss + 1, kIrs + 1, 65535, 18));

    ui::TimelineModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setTimeline(tl, {wire::IpAddress{kPhantom}});

    QCOMPARE(model.rowCount(), 4);
    QCOMPARE(model.columnCount(), int(ui::TimelineModel::ColumnCount));
    const auto text = [&](int row, int column) {
        return model.data(model.index(row, column)).toString();
    };
    using C = ui::TimelineModel;
    QCOMPARE(text(0, C::Flags), QStringLiteral("SYN"));
    QCOMPARE(text(1, C::Flags), QStringLiteral("SYN, ACK"));
    QCOMPARE(text(2, C::Flags), QStringLiteral("ACK"));
    QCOMPARE(text(3, C::Flags), QStringLiteral("PSH, ACK"));
    // Relative to each side's ISN: the SYN-ACK acknowledges 1, the ACK is at 1/1.
    QCOMPARE(text(0, C::RelSeq), QStringLiteral("0"));
    QCOMPARE(text(0, C::RelAck), QString()); // no ACK flag: no ack shown
    QCOMPARE(text(1, C::RelSeq), QStringLiteral("0"));
    QCOMPARE(text(1, C::RelAck), QStringLiteral("1"));
    QCOMPARE(text(2, C::RelSeq), QStringLiteral("1"));
    QCOMPARE(text(2, C::RelAck), QStringLiteral("1"));
    QCOMPARE(text(3, C::Length), QStringLiteral("18"));
    QCOMPARE(text(1, C::Window), QStringLiteral("64240"));
    QCOMPARE(text(1, C::Time), QStringLiteral("0.250"));
    QCOMPARE(text(3, C::Time), QStringLiteral("2.000"));
    QCOMPARE(text(0, C::Direction), QStringLiteral("phantom → peer"));
    QCOMPARE(text(1, C::Direction), QStringLiteral("phantom ← peer"));
    QCOMPARE(text(0, C::Classes), QStringLiteral("syn"));
    QCOMPARE(text(1, C::Classes), QStringLiteral("syn_ack"));
    QCOMPARE(text(3, C::Classes), QStringLiteral("new_data"));
    // The phantom's state first: after the SYN-ACK it is ESTABLISHED, the peer not yet.
    QCOMPARE(text(0, C::StatesAfter), QStringLiteral("SYN-SENT / LISTEN"));
    QCOMPARE(text(1, C::StatesAfter), QStringLiteral("ESTABLISHED / SYN-RECEIVED"));
    QCOMPARE(text(2, C::StatesAfter), QStringLiteral("ESTABLISHED / ESTABLISHED"));
    QCOMPARE(model.row(0).kind, ui::SegmentKind::Handshake);
    QCOMPARE(model.row(2).kind, ui::SegmentKind::Ack);
    QCOMPARE(model.row(3).kind, ui::SegmentKind::Data);
    QVERIFY(text(3, C::Summary).contains(QStringLiteral("50000 → 50001")));
}

void TestTimelineModel::growth_insertsOnlyTheNewRows() {
    auto tl = std::make_shared<timeline::Timeline>();
    ui::TimelineModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setTimeline(tl, {wire::IpAddress{kPhantom}});
    QCOMPARE(model.rowCount(), 0);
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);

    tl->append(1000, timeline::Direction::Sent, labSegment(true, kSyn, kIss, 0, 65535));
    tl->append(2000, timeline::Direction::Received,
               labSegment(false, kSyn | kAck, kIrs, kIss + 1, 64240));
    model.onTimelineGrew(2);
    QCOMPARE(inserted.count(), 1);
    QCOMPARE(inserted.at(0).at(1).toInt(), 0);
    QCOMPARE(inserted.at(0).at(2).toInt(), 1);

    // A size beyond what is published is bounded by the timeline; a repeat is a no-op.
    tl->append(3000, timeline::Direction::Sent, labSegment(true, kAck, kIss + 1, kIrs + 1, 65535));
    model.onTimelineGrew(10);
    model.onTimelineGrew(3);
    QCOMPARE(inserted.count(), 2);
    QCOMPARE(inserted.at(1).at(1).toInt(), 2);
    QCOMPARE(inserted.at(1).at(2).toInt(), 2);
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.data(model.index(2, ui::TimelineModel::RelAck)).toString(), QStringLiteral("1"));
}

void TestTimelineModel::arp_isSummarisedInWords() {
    wire::ArpPacket arp;
    arp.operation = 1;
    arp.senderMac = kPhantomMac;
    arp.targetIp = kPhantom; // sender IP 0.0.0.0: an RFC 5227 probe
    std::vector<std::uint8_t> frame(14 + wire::ArpPacket::kLength);
    const wire::EthernetHeader eth{*wire::MacAddress::parse("ff:ff:ff:ff:ff:ff"), kPhantomMac,
                                   std::nullopt};
    eth.emit(frame.data(), 0x0806);
    arp.emit(frame.data() + 14);

    auto tl = std::make_shared<timeline::Timeline>();
    tl->append(1000, timeline::Direction::Sent, frame);
    ui::TimelineModel model;
    model.setTimeline(tl);
    QCOMPARE(model.rowCount(), 1);
    QVERIFY(!model.row(0).tcp);
    QCOMPARE(model.data(model.index(0, ui::TimelineModel::Summary)).toString(),
             QStringLiteral("ARP probe: who-has 198.18.0.2?"));
    QCOMPARE(model.data(model.index(0, ui::TimelineModel::Flags)).toString(), QString());
}

QTEST_MAIN(TestTimelineModel)
#include "tst_timeline_model.moc"
