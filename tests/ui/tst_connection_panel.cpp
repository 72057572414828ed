// ConnectionPanel: the state and RFC 9293 variables of both ends, read from a tracker.
#include <QDir>
#include <QLabel>
#include <QTest>

#include "peer/tcp_info.h"
#include "tcp/tracker.h"
#include "ui/connection_panel.h"
#include "ui/palette.h"
#include "wire/tcp.h"

using namespace tcplab;

namespace {

const wire::Ipv4Address kPhantom = *wire::Ipv4Address::parse("198.18.0.2");
const wire::Ipv4Address kPeer = *wire::Ipv4Address::parse("198.18.0.1");
const tcp::Endpoint kPhantomEnd = tcp::Endpoint::v4(kPhantom, 50000);
const tcp::Endpoint kPeerEnd = tcp::Endpoint::v4(kPeer, 50001);

constexpr std::uint8_t kSyn = wire::tcp_flags::kSyn;
constexpr std::uint8_t kAck = wire::tcp_flags::kAck;
constexpr std::uint8_t kPsh = wire::tcp_flags::kPsh;
constexpr std::uint8_t kFin = wire::tcp_flags::kFin;
constexpr std::uint32_t kIss = 100;
constexpr std::uint32_t kIrs = 3'000'000'000u;

tcp::Segment seg(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack, std::uint16_t window,
                 std::uint32_t payload = 0) {
    tcp::Segment s;
    s.flags = flags;
    s.seq = wire::SeqNum(seq);
    s.ack = wire::SeqNum(ack);
    s.window = window;
    s.payloadLength = payload;
    return s;
}

} // namespace

class TestConnectionPanel : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void handshakeAndData_bothEstablished();
    void fin_movesBothEnds();
    void none_showsNothing();
    void kernelColumn_besideTheTracker_saysWhereTheyDisagree();
};

void TestConnectionPanel::handshakeAndData_bothEstablished() {
    tcp::ConnectionTable table;
    table.addLocalAddress(wire::IpAddress{kPhantom});
    tcp::Segment syn = seg(kSyn, kIss, 0, 65535);
    syn.mss = 1460;
    syn.windowScale = 7;
    syn.sackPermitted = true;
    table.onSegment(kPhantomEnd, kPeerEnd, syn);
    tcp::Segment synAck = seg(kSyn | kAck, kIrs, kIss + 1, 64240);
    synAck.mss = 1400;
    table.onSegment(kPeerEnd, kPhantomEnd, synAck);
    table.onSegment(kPhantomEnd, kPeerEnd, seg(kAck, kIss + 1, kIrs + 1, 65535));
    table.onSegment(kPhantomEnd, kPeerEnd, seg(kPsh | kAck, kIss + 1, kIrs + 1, 65535, 18));

    ui::ConnectionPanel panel;
    panel.setConnection(&table[0], kPhantomEnd);
    QCOMPARE(panel.value(QStringLiteral("phantom.state")), QStringLiteral("ESTABLISHED"));
    QCOMPARE(panel.value(QStringLiteral("peer.state")), QStringLiteral("ESTABLISHED"));
    QVERIFY(panel.value(QStringLiteral("endpoint.phantom"))
                .contains(QStringLiteral("198.18.0.2:50000")));
    QVERIFY(
        panel.value(QStringLiteral("endpoint.peer")).contains(QStringLiteral("198.18.0.1:50001")));
    // The phantom sent 18 bytes after its SYN: SND.NXT = ISS + 19, relative 19.
    QCOMPARE(panel.value(QStringLiteral("phantom.snd_nxt")), QStringLiteral("19"));
    QCOMPARE(panel.value(QStringLiteral("phantom.snd_nxt.abs")), QString::number(kIss + 19));
    QCOMPARE(panel.value(QStringLiteral("phantom.snd_una")), QStringLiteral("1"));
    QCOMPARE(panel.value(QStringLiteral("phantom.iss.abs")), QString::number(kIss));
    QCOMPARE(panel.value(QStringLiteral("phantom.irs.abs")), QString::number(kIrs));
    // The peer received them: RCV.NXT relative to its IRS (the phantom's ISS).
    QCOMPARE(panel.value(QStringLiteral("peer.rcv_nxt")), QStringLiteral("19"));
    QCOMPARE(panel.value(QStringLiteral("peer.rcv_nxt.abs")), QString::number(kIss + 19));
    QCOMPARE(panel.value(QStringLiteral("peer.snd_nxt")), QStringLiteral("1"));
    QCOMPARE(panel.value(QStringLiteral("peer.snd_nxt.abs")), QString::number(kIrs + 1));
    QCOMPARE(panel.value(QStringLiteral("phantom.rcv_nxt")), QStringLiteral("1"));
    // Options of each SYN; WS only on one SYN: not in force.
    QCOMPARE(panel.value(QStringLiteral("phantom.mss")), QStringLiteral("1460"));
    QCOMPARE(panel.value(QStringLiteral("peer.mss")), QStringLiteral("1400"));
    QVERIFY(panel.value(QStringLiteral("phantom.wscale")).contains(QStringLiteral("not in force")));
    QCOMPARE(panel.value(QStringLiteral("peer.wscale")), QStringLiteral("none"));
    QCOMPARE(panel.value(QStringLiteral("phantom.sack")), QStringLiteral("yes"));
    QCOMPARE(panel.value(QStringLiteral("peer.sack")), QStringLiteral("no"));
    QCOMPARE(panel.value(QStringLiteral("phantom.segments")), QStringLiteral("3"));

    // The same connection seen from the other end swaps the columns.
    panel.setConnection(&table[0], kPeerEnd);
    QCOMPARE(panel.value(QStringLiteral("phantom.snd_nxt")), QStringLiteral("1"));
    QCOMPARE(panel.value(QStringLiteral("peer.snd_nxt")), QStringLiteral("19"));
}

void TestConnectionPanel::fin_movesBothEnds() {
    tcp::ConnectionTable table;
    table.addLocalAddress(wire::IpAddress{kPhantom});
    table.onSegment(kPhantomEnd, kPeerEnd, seg(kSyn, kIss, 0, 65535));
    table.onSegment(kPeerEnd, kPhantomEnd, seg(kSyn | kAck, kIrs, kIss + 1, 64240));
    table.onSegment(kPhantomEnd, kPeerEnd, seg(kAck, kIss + 1, kIrs + 1, 65535));
    ui::ConnectionPanel panel;
    panel.setConnection(&table[0], kPhantomEnd);
    QCOMPARE(panel.value(QStringLiteral("phantom.state")), QStringLiteral("ESTABLISHED"));

    table.onSegment(kPhantomEnd, kPeerEnd, seg(kFin | kAck, kIss + 1, kIrs + 1, 65535));
    panel.setConnection(&table[0], kPhantomEnd);
    QCOMPARE(panel.value(QStringLiteral("phantom.state")), QStringLiteral("FIN-WAIT-1"));
    QCOMPARE(panel.value(QStringLiteral("peer.state")), QStringLiteral("CLOSE-WAIT"));
    QCOMPARE(panel.value(QStringLiteral("phantom.snd_nxt")), QStringLiteral("2"));
    QCOMPARE(panel.value(QStringLiteral("peer.rcv_nxt")), QStringLiteral("2"));
    // What changed is bold.
    const auto* state = panel.findChild<QLabel*>(QStringLiteral("phantom.state"));
    QVERIFY(state && state->font().bold());
    const auto* iss = panel.findChild<QLabel*>(QStringLiteral("phantom.iss.abs"));
    QVERIFY(iss && !iss->font().bold());

    table.onSegment(kPeerEnd, kPhantomEnd, seg(kAck, kIrs + 1, kIss + 2, 64240));
    table.onSegment(kPeerEnd, kPhantomEnd, seg(kFin | kAck, kIrs + 1, kIss + 2, 64240));
    panel.setConnection(&table[0], kPhantomEnd);
    QCOMPARE(panel.value(QStringLiteral("phantom.state")), QStringLiteral("TIME-WAIT"));
    QCOMPARE(panel.value(QStringLiteral("peer.state")), QStringLiteral("LAST-ACK"));

    // A look at it, in the dark palette the lead ships.
    QPalette dark = panel.palette();
    dark.setColor(QPalette::Window, QColor(0x2b, 0x2d, 0x31));
    dark.setColor(QPalette::WindowText, QColor(0xe6, 0xe6, 0xe6));
    dark.setColor(QPalette::PlaceholderText, QColor(0x80, 0x80, 0x80));
    panel.setPalette(dark);
    panel.setAutoFillBackground(true);
    panel.resize(panel.sizeHint().expandedTo(QSize(520, 0)));
    const QString dir = QStringLiteral(TCPLAB_BINARY_DIR "/tests/ui-output");
    QDir().mkpath(dir);
    QVERIFY(panel.grab().save(dir + QStringLiteral("/connection_panel.png")));
}

void TestConnectionPanel::none_showsNothing() {
    ui::ConnectionPanel panel;
    panel.setConnection(nullptr, kPhantomEnd);
    QCOMPARE(panel.value(QStringLiteral("phantom.state")), QStringLiteral("–"));
    QCOMPARE(panel.value(QStringLiteral("summary")), QStringLiteral("No connection yet."));
}

void TestConnectionPanel::kernelColumn_besideTheTracker_saysWhereTheyDisagree() {
    tcp::ConnectionTable table;
    table.addLocalAddress(wire::IpAddress{kPhantom});
    table.onSegment(kPhantomEnd, kPeerEnd, seg(kSyn, kIss, 0, 65535));
    table.onSegment(kPeerEnd, kPhantomEnd, seg(kSyn | kAck, kIrs, kIss + 1, 64240));
    table.onSegment(kPhantomEnd, kPeerEnd, seg(kAck, kIss + 1, kIrs + 1, 65535));
    ui::ConnectionPanel panel;
    panel.setConnection(&table[0], kPhantomEnd);
    // No sample yet: the kernel's cells are empty, the tracker's as before.
    QCOMPARE(panel.value(QStringLiteral("peer.kernel.state")), QStringLiteral("–"));
    QCOMPARE(panel.value(QStringLiteral("peer.state")), QStringLiteral("ESTABLISHED"));

    // The kernel agrees on the state and SND.WND, and says what the wire does not.
    peer::TcpInfo info;
    info.set(peer::TcpInfoField::State, 1); // TCP_ESTABLISHED
    info.set(peer::TcpInfoField::Rto, 204000);
    info.set(peer::TcpInfoField::SndMss, 1448);
    info.set(peer::TcpInfoField::Unacked, 0);
    info.set(peer::TcpInfoField::Rtt, 250);
    info.set(peer::TcpInfoField::Rttvar, 125);
    info.set(peer::TcpInfoField::SndSsthresh, 0x7fffffff);
    info.set(peer::TcpInfoField::SndCwnd, 10);
    info.set(peer::TcpInfoField::TotalRetrans, 0);
    info.set(peer::TcpInfoField::SndWnd, 65535);
    info.set(peer::TcpInfoField::RcvWnd, 64240);
    peer::SocketSample sample;
    sample.inode = 99;
    sample.fd = 4;
    sample.local = {198, 18, 0, 1};
    sample.localPort = 50001;
    sample.remote = {198, 18, 0, 2};
    sample.remotePort = 50000;
    sample.fields = info.pairs();
    panel.setKernelSample(&sample);
    QCOMPARE(panel.value(QStringLiteral("peer.kernel.state")), QStringLiteral("ESTABLISHED"));
    QVERIFY(!panel.disagrees(QStringLiteral("peer.kernel.state")));
    QCOMPARE(panel.value(QStringLiteral("peer.kernel.snd_wnd")), QStringLiteral("65535"));
    QVERIFY(!panel.disagrees(QStringLiteral("peer.kernel.snd_wnd")));
    QCOMPARE(panel.value(QStringLiteral("peer.kernel.rcv_wnd")), QStringLiteral("64240"));
    QCOMPARE(panel.value(QStringLiteral("peer.kernel.snd_mss")), QStringLiteral("1448"));
    QCOMPARE(panel.value(QStringLiteral("peer.kernel.snd_cwnd")), QStringLiteral("10"));
    QCOMPARE(panel.value(QStringLiteral("peer.kernel.snd_ssthresh")), QStringLiteral("infinite"));
    QCOMPARE(panel.value(QStringLiteral("peer.kernel.rto")), QStringLiteral("204.0 ms"));
    QCOMPARE(panel.value(QStringLiteral("peer.kernel.rtt")), QStringLiteral("250 us"));
    QCOMPARE(panel.value(QStringLiteral("peer.kernel.rttvar")), QStringLiteral("125 us"));
    QCOMPARE(panel.value(QStringLiteral("peer.kernel.unacked")), QStringLiteral("0"));
    QCOMPARE(panel.value(QStringLiteral("peer.kernel.total_retrans")), QStringLiteral("0"));

    // The kernel is in CLOSE-WAIT (it took a FIN the tracker has not seen) with another window.
    info.set(peer::TcpInfoField::State, 8); // TCP_CLOSE_WAIT
    info.set(peer::TcpInfoField::SndWnd, 1000);
    sample.fields = info.pairs();
    panel.setKernelSample(&sample);
    QVERIFY(panel.disagrees(QStringLiteral("peer.kernel.state")));
    QCOMPARE(panel.value(QStringLiteral("peer.kernel.state")), QStringLiteral("≠ CLOSE-WAIT"));
    const auto* state = panel.findChild<QLabel*>(QStringLiteral("peer.kernel.state"));
    QVERIFY2(state->toolTip().startsWith(
                 QStringLiteral("The tracker infers ESTABLISHED, the kernel says CLOSE-WAIT.")),
             qPrintable(state->toolTip()));
    QCOMPARE(state->palette().color(QPalette::WindowText), ui::errorColor(panel.palette()));
    QVERIFY(panel.disagrees(QStringLiteral("peer.kernel.snd_wnd")));
    const auto* window = panel.findChild<QLabel*>(QStringLiteral("peer.kernel.snd_wnd"));
    QVERIFY2(window->toolTip().contains(QStringLiteral("SND.WND 65535, the kernel says 1000")),
             qPrintable(window->toolTip()));
    // The tracker's own cells are untouched.
    QCOMPARE(panel.value(QStringLiteral("peer.state")), QStringLiteral("ESTABLISHED"));
    QCOMPARE(panel.value(QStringLiteral("peer.snd_wnd")), QStringLiteral("65535"));

    // A socket gone; then none at all.
    sample.gone = true;
    sample.fields.clear();
    panel.setKernelSample(&sample);
    QCOMPARE(panel.value(QStringLiteral("peer.kernel.state")), QStringLiteral("gone"));
    QVERIFY(!panel.disagrees(QStringLiteral("peer.kernel.state")));
    panel.setKernelSample(nullptr);
    QCOMPARE(panel.value(QStringLiteral("peer.kernel.state")), QStringLiteral("–"));

    const QString dir = QStringLiteral(TCPLAB_BINARY_DIR "/tests/ui-output");
    QDir().mkpath(dir);
    info.set(peer::TcpInfoField::State, 8);
    sample.gone = false;
    sample.fields = info.pairs();
    panel.setKernelSample(&sample);
    panel.resize(panel.sizeHint().expandedTo(QSize(640, 0)));
    QVERIFY(panel.grab().save(dir + QStringLiteral("/connection_panel_kernel.png")));
}

QTEST_MAIN(TestConnectionPanel)
#include "tst_connection_panel.moc"
