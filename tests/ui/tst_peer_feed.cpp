// PeerFeed: reads a timeline's peer records once each (a cursor), decoded by kind, and
// keeps the latest sample of every connected socket by its 4-tuple.
#include <QTest>

#include "peer/call_text.h"
#include "peer/tcp_info.h"
#include "timeline/peer_records.h"
#include "ui/peer_feed.h"

using namespace tcplab;

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000'000'000;

peer::SocketSample socketOf(std::uint64_t inode, std::uint16_t remotePort, std::uint64_t cwnd) {
    peer::TcpInfo info;
    info.set(peer::TcpInfoField::State, 1);
    info.set(peer::TcpInfoField::SndCwnd, cwnd);
    peer::SocketSample s;
    s.inode = inode;
    s.fd = 4;
    s.local = {198, 18, 0, 1};
    s.localPort = 5000;
    s.remote = {198, 18, 0, 2};
    s.remotePort = remotePort;
    s.fields = info.pairs();
    return s;
}

} // namespace

class TestPeerFeed : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void read_decodesEachRecordOnce();
    void latestFor_theNewestSampleOfA4Tuple();
};

void TestPeerFeed::read_decodesEachRecordOnce() {
    timeline::Timeline tl;
    peer::Hello hello;
    hello.stack = "linux";
    hello.release = "6.1.0";
    QVERIFY(timeline::appendHello(tl, kT0, hello));
    peer::CallRecord call;
    call.request = *peer::parseCall("socket");
    call.answer.call = peer::Call::Socket;
    call.answer.result = 3;
    call.answer.startNs = kT0 + 1;
    QVERIFY(timeline::appendCall(tl, call));
    peer::Sample two;
    two.timeNs = kT0 + 2;
    two.sockets = {socketOf(1, 50000, 10), socketOf(2, 50001, 10)};
    QVERIFY(timeline::appendSample(tl, two)); // one record per socket
    QCOMPARE(tl.peerSize(), std::size_t(4));

    ui::PeerFeed feed;
    ui::PeerBatch first = feed.read(tl, 2);
    QCOMPARE(first.hellos.size(), std::size_t(1));
    QCOMPARE(first.hellos.front().stack, std::string("linux"));
    QCOMPARE(first.calls.size(), std::size_t(1));
    QCOMPARE(first.calls.front().answer.result, std::int64_t(3));
    QVERIFY(first.samples.empty());
    QCOMPARE(feed.cursor(), std::size_t(2));
    // The rest, and only the rest; asking past the end is bounded.
    ui::PeerBatch second = feed.read(tl, 100);
    QCOMPARE(second.samples.size(), std::size_t(2));
    QCOMPARE(second.samples[0].sockets.size(), std::size_t(1));
    QCOMPARE(second.samples[1].sockets.front().inode, std::uint64_t(2));
    QCOMPARE(second.samples[1].timeNs, kT0 + 2);
    QVERIFY(feed.read(tl, 100).empty());
    feed.reset();
    QCOMPARE(feed.read(tl, 100).samples.size(), std::size_t(2));
}

void TestPeerFeed::latestFor_theNewestSampleOfA4Tuple() {
    timeline::Timeline tl;
    peer::Sample a;
    a.timeNs = kT0;
    a.sockets = {socketOf(1, 50000, 10)};
    peer::Sample b = a;
    b.timeNs = kT0 + 5;
    b.sockets = {socketOf(1, 50000, 20)};
    QVERIFY(timeline::appendSample(tl, a));
    QVERIFY(timeline::appendSample(tl, b));
    ui::PeerFeed feed;
    feed.read(tl, tl.peerSize());
    const auto local = ui::sampleEndpoint(std::vector<std::uint8_t>{198, 18, 0, 1}, 5000);
    const auto remote = ui::sampleEndpoint(std::vector<std::uint8_t>{198, 18, 0, 2}, 50000);
    QVERIFY(local && remote);
    QCOMPARE(local->toString(), std::string("198.18.0.1:5000"));
    const peer::Sample* latest = feed.latestFor(*local, *remote);
    QVERIFY(latest);
    QCOMPARE(latest->timeNs, kT0 + 5);
    QCOMPARE(
        peer::TcpInfo::fromPairs(latest->sockets.front().fields).value(peer::TcpInfoField::SndCwnd),
        std::uint64_t(20));
    QVERIFY(!feed.latestFor(*remote, *local));
    QVERIFY(!ui::sampleEndpoint(std::vector<std::uint8_t>{}, 5000));
}

QTEST_MAIN(TestPeerFeed)
#include "tst_peer_feed.moc"
