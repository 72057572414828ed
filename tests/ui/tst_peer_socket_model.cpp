// PeerSocketModel and TcpInfoModel under QAbstractItemModelTester: one row per socket with
// its latest sample, updated in place, gone sockets greyed then removed; every tcp_info
// field of one socket, changes in bold.
#include <QAbstractItemModelTester>
#include <QApplication>
#include <QSignalSpy>
#include <QTest>

#include "peer/tcp_info.h"
#include "ui/palette.h"
#include "ui/peer_socket_model.h"

using namespace tcplab;
using F = peer::TcpInfoField;

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000'000'000;

peer::SocketSample socketOf(std::uint64_t inode, int fd,
                            std::initializer_list<std::pair<F, std::uint64_t>> fields) {
    peer::TcpInfo info;
    for (const auto& [f, v] : fields)
        info.set(f, v);
    peer::SocketSample s;
    s.inode = inode;
    s.fd = fd;
    s.local = {198, 18, 0, 1};
    s.localPort = 5000;
    s.remote = {198, 18, 0, 2};
    s.remotePort = std::uint16_t(50000 + inode);
    s.receiveQueue = 10;
    s.sendQueue = 2896;
    s.fields = info.pairs();
    return s;
}

peer::Sample sampleOf(std::int64_t t, std::vector<peer::SocketSample> sockets) {
    peer::Sample s;
    s.timeNs = t;
    s.sockets = std::move(sockets);
    return s;
}

QString cell(const QAbstractItemModel& m, int row, int column) {
    return m.data(m.index(row, column)).toString();
}

} // namespace

class TestPeerSocketModel : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void sockets_oneRowEach_updatedInPlace();
    void goneSocket_greyedThenRemoved();
    void acceptQueue_socketWithoutInode_keepsItsRowOnceAccepted();
    void tcpInfo_everyFieldReported_changesBold();
};

void TestPeerSocketModel::sockets_oneRowEach_updatedInPlace() {
    ui::PeerSocketModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    model.addSamples({sampleOf(
        kT0,
        {socketOf(1, 3, {{F::State, 10}}),
         socketOf(2, -1, {{F::State, 1}, {F::SndCwnd, 10}, {F::Rtt, 250}, {F::Unacked, 2}})})});
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(cell(model, 0, ui::PeerSocketModel::Fd), QStringLiteral("3"));
    QCOMPARE(cell(model, 0, ui::PeerSocketModel::State), QStringLiteral("LISTEN"));
    // A socket another program owns (the HTTP responder's): no fd.
    QCOMPARE(cell(model, 1, ui::PeerSocketModel::Fd), QStringLiteral("—"));
    QCOMPARE(cell(model, 1, ui::PeerSocketModel::Local), QStringLiteral("198.18.0.1:5000"));
    QCOMPARE(cell(model, 1, ui::PeerSocketModel::Remote), QStringLiteral("198.18.0.2:50002"));
    QCOMPARE(cell(model, 1, ui::PeerSocketModel::State), QStringLiteral("ESTABLISHED"));
    QCOMPARE(cell(model, 1, ui::PeerSocketModel::Cwnd), QStringLiteral("10"));
    QCOMPARE(cell(model, 1, ui::PeerSocketModel::Rtt), QStringLiteral("250 us"));
    QCOMPARE(cell(model, 1, ui::PeerSocketModel::Unacked), QStringLiteral("2"));
    QCOMPARE(cell(model, 1, ui::PeerSocketModel::SendQueue), QStringLiteral("2896"));
    QCOMPARE(model.data(model.index(1, 0), ui::PeerSocketModel::kInodeRole).toULongLong(), 2ull);
    QCOMPARE(model.fds(), std::vector<int>{3});

    model.addSamples({sampleOf(kT0 + 1, {socketOf(2, -1, {{F::State, 1}, {F::SndCwnd, 20}})})});
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(cell(model, 1, ui::PeerSocketModel::Cwnd), QStringLiteral("20"));
    QCOMPARE(model.timeNs(1), kT0 + 1);
    QCOMPARE(changed.count(), 1);
    model.clear();
    QCOMPARE(model.rowCount(), 0);
}

void TestPeerSocketModel::goneSocket_greyedThenRemoved() {
    ui::PeerSocketModel model;
    model.setGoneLinger(200);
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.addSamples({sampleOf(kT0, {socketOf(5, 4, {{F::State, 1}, {F::SndCwnd, 10}})})});
    // The agent's last word of a gone socket: no fd, no fields.
    peer::SocketSample gone = socketOf(5, -1, {});
    gone.gone = true;
    model.addSamples({sampleOf(kT0 + 10, {gone})});
    QCOMPARE(model.rowCount(), 1);
    QVERIFY(model.gone(0));
    QCOMPARE(cell(model, 0, ui::PeerSocketModel::State), QStringLiteral("gone"));
    // Greyed, keeping what it said before.
    QCOMPARE(cell(model, 0, ui::PeerSocketModel::Fd), QStringLiteral("4"));
    QCOMPARE(cell(model, 0, ui::PeerSocketModel::Cwnd), QStringLiteral("10"));
    QCOMPARE(model.data(model.index(0, 0), Qt::ForegroundRole).value<QColor>(),
             ui::goneColor(QApplication::palette()));
    QVERIFY(model.fds().empty());
    // A gone socket never seen alive adds nothing.
    peer::SocketSample stranger = socketOf(9, -1, {});
    stranger.gone = true;
    model.addSamples({sampleOf(kT0 + 11, {stranger})});
    QCOMPARE(model.rowCount(), 1);
    // Removed after a while, or at once.
    QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 0, 2000);
    model.addSamples({sampleOf(kT0 + 20, {socketOf(6, 4, {{F::State, 1}})})});
    gone.inode = 6;
    model.addSamples({sampleOf(kT0 + 30, {gone})});
    model.removeGone();
    QCOMPARE(model.rowCount(), 0);
}

void TestPeerSocketModel::acceptQueue_socketWithoutInode_keepsItsRowOnceAccepted() {
    ui::PeerSocketModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    // In the listener's accept queue the kernel's socket has no inode yet, and no fd.
    model.addSamples({sampleOf(kT0, {socketOf(0, -1, {{F::State, 1}, {F::SndCwnd, 10}})})});
    QCOMPARE(model.rowCount(), 1);
    // accept() gives it an inode and the agent an fd: the same socket, the same row.
    peer::SocketSample accepted = socketOf(77, 4, {{F::State, 1}, {F::SndCwnd, 10}});
    accepted.remotePort = 50000; // the same 4-tuple
    model.addSamples({sampleOf(kT0 + 1, {accepted})});
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(model.socket(0).inode, std::uint64_t(77));
    QCOMPARE(cell(model, 0, ui::PeerSocketModel::Fd), QStringLiteral("4"));
    // Another connection of the same listener (another 4-tuple) is a row of its own.
    model.addSamples({sampleOf(kT0 + 2, {socketOf(1, -1, {{F::State, 1}})})});
    QCOMPARE(model.rowCount(), 2);
}

void TestPeerSocketModel::tcpInfo_everyFieldReported_changesBold() {
    ui::TcpInfoModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setSocket(socketOf(1, 3,
                             {{F::State, 1},
                              {F::Rto, 204000},
                              {F::SndMss, 1448},
                              {F::SndCwnd, 10},
                              {F::SndSsthresh, 0x7fffffff}}));
    QCOMPARE(model.rowCount(), 5);
    QCOMPARE(model.inode(), std::optional<std::uint64_t>(1));
    // In the struct's order, named as it names them, with formatField's words.
    QCOMPARE(cell(model, 0, ui::TcpInfoModel::Field), QStringLiteral("state"));
    QCOMPARE(cell(model, 0, ui::TcpInfoModel::Value), QStringLiteral("ESTABLISHED"));
    QCOMPARE(cell(model, 1, ui::TcpInfoModel::Field), QStringLiteral("rto"));
    QCOMPARE(cell(model, 1, ui::TcpInfoModel::Value), QStringLiteral("204.0 ms"));
    QCOMPARE(cell(model, 1, ui::TcpInfoModel::Unit), QStringLiteral("us"));
    QCOMPARE(cell(model, 3, ui::TcpInfoModel::Value), QStringLiteral("infinite (no loss yet)"));
    QVERIFY(model.data(model.index(2, 0), Qt::ToolTipRole)
                .toString()
                .contains(QStringLiteral("the largest segment it sends")));
    for (int row = 0; row < model.rowCount(); ++row)
        QVERIFY(!model.changed(row));

    model.setSocket(socketOf(1, 3,
                             {{F::State, 1},
                              {F::Rto, 204000},
                              {F::SndMss, 1448},
                              {F::SndCwnd, 20},
                              {F::SndSsthresh, 0x7fffffff}}));
    QVERIFY(model.changed(4)); // snd_cwnd
    QVERIFY(
        model.data(model.index(4, ui::TcpInfoModel::Value), Qt::FontRole).value<QFont>().bold());
    QVERIFY(!model.changed(0));
    // Another socket: nothing is "changed" in it yet.
    model.setSocket(socketOf(2, 4, {{F::State, 8}}));
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(cell(model, 0, ui::TcpInfoModel::Value), QStringLiteral("CLOSE-WAIT"));
    QVERIFY(!model.changed(0));
    model.clear();
    QCOMPARE(model.rowCount(), 0);
}

QTEST_MAIN(TestPeerSocketModel)
#include "tst_peer_socket_model.moc"
