// The export of a timeline's connection as a packetdrill script and a scapy program: the
// exact lines for a handshake, data and FIN exchange (relative numbers both ways, times,
// options), the made-up calls of a server and of a client, recorded calls as system call
// lines, the round trip through parseScript, mid-connection captures, IPv6, the choice of
// connection, the errors, and a scapy program that compiles.
#include "tests_support/test_support.h"

#include "drill/export_script.h"
#include "drill/script.h"
#include "peer/call_text.h"
#include "timeline/peer_records.h"
#include "timeline/timeline.h"

#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>

#include <cerrno>
#include <cstring>
#include <fstream>

using namespace tcplab;
using namespace tcplab::drill;
using namespace tcplab::wire;
using ByteVector = std::vector<std::uint8_t>;

namespace {

constexpr std::int64_t kStart = 1'700'000'000'000'000'000; // ns
constexpr std::int64_t kUs = 1000;

/// One segment of the test connection, phantom 198.18.0.2 (or 2001:db8::2) port 50000 and
/// peer 198.18.0.1 (or 2001:db8::1) port 50001.
struct Seg {
    bool fromPhantom = true;
    std::uint8_t flags = 0;
    std::uint32_t seq = 0;
    std::uint32_t ack = 0;
    std::uint16_t window = 0;
    std::size_t payload = 0;
    std::vector<TcpOption> options;
    bool ipv6 = false;
    std::uint16_t phantomPort = 50000;
};

Seg seg(bool fromPhantom, std::uint8_t flags, std::uint32_t seq, std::uint32_t ack,
        std::uint16_t window, std::size_t payload = 0, std::vector<TcpOption> options = {},
        bool ipv6 = false) {
    return Seg{fromPhantom, flags, seq, ack, window, payload, std::move(options), ipv6, 50000};
}

ByteVector encodeSeg(const Seg& s) {
    SegmentSpec spec;
    const auto phantomMac = *MacAddress::parse("02:00:00:00:00:02");
    const auto peerMac = *MacAddress::parse("02:00:00:00:00:01");
    spec.ethernet = {s.fromPhantom ? peerMac : phantomMac, s.fromPhantom ? phantomMac : peerMac,
                     std::nullopt};
    if (s.ipv6) {
        Ipv6Header ip;
        const auto phantom = *Ipv6Address::parse("2001:db8::2");
        const auto peer = *Ipv6Address::parse("2001:db8::1");
        ip.src = s.fromPhantom ? phantom : peer;
        ip.dst = s.fromPhantom ? peer : phantom;
        spec.ip = ip;
    } else {
        Ipv4Header ip;
        const auto phantom = *Ipv4Address::parse("198.18.0.2");
        const auto peer = *Ipv4Address::parse("198.18.0.1");
        ip.src = s.fromPhantom ? phantom : peer;
        ip.dst = s.fromPhantom ? peer : phantom;
        spec.ip = ip;
    }
    spec.tcp.srcPort = s.fromPhantom ? s.phantomPort : 50001;
    spec.tcp.dstPort = s.fromPhantom ? 50001 : s.phantomPort;
    spec.tcp.seq = SeqNum(s.seq);
    spec.tcp.ack = SeqNum(s.ack);
    spec.tcp.flags = s.flags;
    spec.tcp.window = s.window;
    for (const TcpOption& o : s.options)
        spec.tcp.options.append(o);
    spec.payload.assign(s.payload, std::uint8_t{'x'});
    return spec.encode().value_or(ByteVector{});
}

void add(timeline::Timeline& t, std::int64_t atUs, const Seg& s) {
    const ByteVector bytes = encodeSeg(s);
    QVERIFY(!bytes.empty());
    t.append(kStart + atUs * kUs,
             s.fromPhantom ? timeline::Direction::Sent : timeline::Direction::Received, bytes);
}

/// A frame that is not TCP: an LLDP EtherType.
void addOther(timeline::Timeline& t, std::int64_t atUs) {
    SegmentSpec spec;
    spec.ethernet.etherType = 0x88cc;
    spec.ip = Ipv4Header{};
    const auto bytes = spec.encode().value_or(ByteVector{});
    t.append(kStart + atUs * kUs, timeline::Direction::Received, bytes);
}

std::vector<TcpOption> synOptions(std::uint32_t tsVal, std::uint32_t tsEcr) {
    return {TcpOption::mss(1460), TcpOption::sackPermitted(), TcpOption::timestamps(tsVal, tsEcr),
            TcpOption::nop(), TcpOption::windowScale(7)};
}

using namespace tcp_flags;

/// The phantom connects (ISN 1000) to the peer (ISN 5000), sends 10 bytes, gets 150 in
/// two segments, the peer closes first.
void handshakeDataFin(timeline::Timeline& t, bool ipv6 = false, std::uint16_t port = 50000,
                      std::int64_t offsetUs = 0) {
    const auto make = [&](bool phantom, std::uint8_t flags, std::uint32_t seq, std::uint32_t ack,
                          std::uint16_t window, std::size_t payload = 0,
                          std::vector<TcpOption> options = {}) {
        return Seg{phantom, flags, seq, ack, window, payload, std::move(options), ipv6, port};
    };
    add(t, offsetUs + 0, make(true, kSyn, 1000, 0, 65535, 0, synOptions(100, 0)));
    add(t, offsetUs + 100, make(false, kSyn | kAck, 5000, 1001, 65160, 0, synOptions(7000, 100)));
    add(t, offsetUs + 200, make(true, kAck, 1001, 5001, 502));
    add(t, offsetUs + 1500, make(true, kPsh | kAck, 1001, 5001, 502, 10));
    add(t, offsetUs + 1600, make(false, kAck, 5001, 1011, 509));
    add(t, offsetUs + 2000, make(false, kPsh | kAck, 5001, 1011, 509, 100));
    add(t, offsetUs + 2010, make(false, kPsh | kAck, 5101, 1011, 509, 50));
    add(t, offsetUs + 2100, make(true, kAck, 1011, 5151, 501));
    add(t, offsetUs + 3000, make(false, kFin | kAck, 5151, 1011, 509));
    add(t, offsetUs + 3100, make(true, kFin | kAck, 1011, 5152, 501));
    add(t, offsetUs + 3200, make(false, kAck, 5152, 1012, 509));
}

std::string exported(const timeline::Timeline& t, const ExportOptions& o = {}) {
    auto text = exportPacketdrill(t, o);
    if (!text) {
        qWarning("export failed: %s", text.error().c_str());
        return {};
    }
    return *text;
}

std::vector<std::string> linesOf(const std::string& text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start < text.size()) {
        const auto end = text.find('\n', start);
        out.push_back(text.substr(start, end - start));
        if (end == std::string::npos)
            break;
        start = end + 1;
    }
    return out;
}

/// The script's lines without the header comments.
QStringList eventLines(const std::string& text) {
    QStringList out;
    for (const std::string& line : linesOf(text))
        if (!line.starts_with("//"))
            out << test::qs(line);
    return out;
}

QStringList commentLines(const std::string& text) {
    QStringList out;
    for (const std::string& line : linesOf(text))
        if (line.starts_with("//"))
            out << test::qs(line);
    return out;
}

peer::CallRecord call(std::string_view text, std::int64_t atUs, std::int64_t result, int error = 0,
                      std::int64_t durationUs = 10) {
    auto request = peer::parseCall(text);
    if (!request)
        qWarning("bad call %s: %s", std::string(text).c_str(), request.error().c_str());
    peer::CallRecord c{request.value_or(peer::Request{}), {}};
    c.answer.call = c.request.call;
    c.answer.result = result;
    c.answer.error = error;
    c.answer.startNs = kStart + atUs * kUs;
    c.answer.durationNs = durationUs * kUs;
    return c;
}

std::vector<std::uint8_t> intBytes(std::int32_t v) {
    std::vector<std::uint8_t> out(4);
    std::memcpy(out.data(), &v, 4);
    return out;
}

/// Whether python3 compiles `program`; empty when it does, else why not (or "skip").
QString compilePython(const std::string& program, bool& skipped) {
    skipped = false;
    const QString python = QStandardPaths::findExecutable(QStringLiteral("python3"));
    if (python.isEmpty()) {
        skipped = true;
        return QStringLiteral("python3 is not installed");
    }
    QTemporaryDir dir;
    if (!dir.isValid())
        return QStringLiteral("no temporary directory");
    const QString path = dir.filePath(QStringLiteral("replay.py"));
    {
        std::ofstream out(path.toStdString(), std::ios::binary);
        out << program;
    }
    QProcess p;
    p.start(python, {QStringLiteral("-m"), QStringLiteral("py_compile"), path});
    if (!p.waitForFinished(30000)) {
        skipped = true;
        return QStringLiteral("python3 did not run");
    }
    if (p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0)
        return QString::fromUtf8(p.readAllStandardError());
    return {};
}

} // namespace

class TestDrillExport : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void server_exactLines() {
        timeline::Timeline t;
        handshakeDataFin(t);
        const std::string text = exported(t);
        const QStringList expected = {
            "// Exported by tcplab from 11 frames: 198.18.0.2:50000 -> 198.18.0.1:50001",
            "// '<' lines: what the phantom (198.18.0.2:50000) sent, replayed; '>' lines: what "
            "the peer (198.18.0.1:50001) must send.",
            "// Sequence numbers count from each side's ISN (phantom 1000, peer 5000), acks and "
            "SACK blocks from the other side's.",
            "// The peer's calls are made up (the timeline has no call records): a server that "
            "accepts, reads what it received, writes what it sent and closes.",
            "// Payloads replay as zeros (packetdrill sends and expects zero bytes).",
            "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3",
            "+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0",
            "+0 bind(3, ..., ...) = 0",
            "+0 listen(3, 1) = 0",
            "+0 < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>",
            "+0.0001 > S. 0:0(0) ack 1 <mss 1460,sackOK,TS val 7000 ecr 100,nop,wscale 7>",
            "+0.0001 < . 1:1(0) ack 1 win 502",
            "+0 accept(3, ..., ...) = 4",
            "+0.0013 < P. 1:11(10) ack 1 win 502",
            "+0 read(4, ..., 10) = 10",
            "+0.0001 > . 1:1(0) ack 11 <...>",
            "+0.0004 write(4, ..., 150) = 150",
            "+0 > P. 1:101(100) ack 11 <...>",
            "+0.00001 > P. 101:151(50) ack 11 <...>",
            "+0.00009 < . 11:11(0) ack 151 win 501",
            "+0.0009 close(4) = 0",
            "+0 > F. 151:151(0) ack 11 <...>",
            "+0.0001 < F. 11:11(0) ack 152 win 501",
            "+0.0001 > . 152:152(0) ack 12 <...>",
            "",
        };
        QCOMPARE(test::qs(text).split('\n'), expected);
    }

    void roundTrip_parsesToTheSameScript() {
        timeline::Timeline t;
        handshakeDataFin(t);
        for (const ExportOptions& o : {ExportOptions{}, ExportOptions{std::nullopt, true, 10000}}) {
            const auto script = timelineToScript(t, o);
            QVERIFY2(script, script ? "" : script.error().c_str());
            const std::string text = exported(t, o);
            const auto parsed = parseScript(text);
            QVERIFY2(parsed, parsed ? "" : describe(parsed.error(), "export").c_str());
            QVERIFY(*parsed == *script);
            QCOMPARE(test::qs(formatScript(*parsed)), test::qs(formatScript(*script)));
        }
    }

    void options_windowAndTolerance() {
        timeline::Timeline t;
        handshakeDataFin(t);
        const QStringList lines = eventLines(exported(t, {std::nullopt, true, 10000}));
        QCOMPARE(lines.value(0), QStringLiteral("--tolerance_usecs=10000"));
        QVERIFY(lines.contains(
            "+0.0001 > S. 0:0(0) ack 1 win 65160 <mss 1460,sackOK,TS val 7000 ecr 100,nop,wscale "
            "7>"));
        QVERIFY(lines.contains("+0.0001 > . 1:1(0) ack 11 win 509 <...>"));
        // Without the options: no option line, no window on '>' lines.
        const QStringList plain = eventLines(exported(t));
        QVERIFY(plain.value(0).startsWith("0 socket("));
        for (const QString& line : plain)
            if (line.contains(" > "))
                QVERIFY2(!line.contains(" win "), qPrintable(line));
    }

    void options_sackBlocksEolAndUnknownKinds() {
        timeline::Timeline t;
        handshakeDataFin(t);
        // A duplicate ACK with a SACK block of the peer's bytes 5201..5301 and a TS option,
        // then a segment with an option packetdrill has no word for, and one ending in EOL.
        const SackBlock block{SeqNum(5201), SeqNum(5301)};
        add(t, 4000,
            seg(true, kAck, 1012, 5153, 501, 0,
                {TcpOption::nop(), TcpOption::nop(), TcpOption::sack({&block, 1})}));
        add(t, 4100,
            seg(true, kAck, 1012, 5153, 501, 0,
                {TcpOption::nop(), TcpOption::nop(), TcpOption::timestamps(300, 8000)}));
        const std::uint8_t raw[] = {1, 2};
        add(t, 4200,
            seg(true, kAck, 1012, 5153, 501, 0, {TcpOption::raw(30, raw), TcpOption::mss(1200)}));
        add(t, 4300, seg(true, kAck, 1012, 5153, 501, 0, {TcpOption::mss(1000), TcpOption::eol()}));
        const std::string text = exported(t);
        const QStringList lines = eventLines(text);
        QVERIFY2(lines.contains("+0.0008 < . 12:12(0) ack 153 win 501 <nop,nop,sack 201:301>"),
                 qPrintable(lines.join('\n')));
        QVERIFY(
            lines.contains("+0.0001 < . 12:12(0) ack 153 win 501 <nop,nop,TS val 300 ecr 8000>"));
        QVERIFY2(lines.contains("+0.0001 < . 12:12(0) ack 153 win 501 <nop,nop,nop,nop,mss 1200>"),
                 qPrintable(lines.join("\n")));
        QVERIFY(lines.contains("+0.0001 < . 12:12(0) ack 153 win 501 <mss 1000,eol,eol,eol,eol>"));
        QVERIFY2(
            commentLines(text).contains(
                "// TCP option kind 30 written as nop (packetdrill cannot write it as it was): "
                "frame 14"),
            qPrintable(commentLines(text).join('\n')));
        QVERIFY(parseScript(text));
    }

    void calls_becomeSyscallLines() {
        timeline::Timeline t;
        handshakeDataFin(t);
        using namespace tcplab::timeline;
        QVERIFY(appendCall(t, call("sysctl net.ipv4.tcp_sack=1", -9000, 0)));
        QVERIFY(appendCall(t, call("socket inet", -8000, 3)));
        QVERIFY(appendCall(t, call("setsockopt 3 SO_REUSEADDR 1", -7000, 0)));
        QVERIFY(appendCall(t, call("bind 3 5000", -6000, 0)));
        QVERIFY(appendCall(t, call("listen 3 16", -5000, 0)));
        peer::CallRecord flags = call("fcntl 3 getfl", -4500, 2);
        QVERIFY(appendCall(t, flags));
        QVERIFY(appendCall(t, call("fcntl 3 setfl nonblock", -4400, 0)));
        // A blocking accept: from before the SYN until after the handshake's last ACK.
        peer::CallRecord accept = call("accept 3", -4000, 4, 0, 4300);
        accept.answer.text = "198.18.0.2:50000";
        QVERIFY(appendCall(t, accept));
        peer::CallRecord poll = call("poll 1000 4 in", 1550, 1);
        poll.answer.numbers = {1};
        QVERIFY(appendCall(t, poll));
        QVERIFY(appendCall(t, call("ioctl 4 SIOCINQ", 1560, 10)));
        QVERIFY(appendCall(t, call("read 4 1000", 1570, 10)));
        peer::CallRecord nodelay = call("getsockopt 4 TCP_NODELAY", 1580, 0);
        nodelay.answer.data = intBytes(1);
        QVERIFY(appendCall(t, nodelay));
        QVERIFY(appendCall(t, call("write 4 150 more", 1900, 150)));
        QVERIFY(appendCall(t, call("read 4 1000 dontwait", 1950, -1, EAGAIN)));
        QVERIFY(appendCall(t, call("drain 4 on", 1960, 0)));
        peer::CallRecord refused = call("setsockopt 4 TCP_CORK 1", 1970, 0);
        refused.answer.outcome = peer::Outcome::Refused;
        QVERIFY(appendCall(t, refused));
        QVERIFY(appendCall(t, call("shutdown 4 wr", 2900, 0)));
        QVERIFY(appendCall(t, call("close 4", 2950, 0)));
        QVERIFY(appendCall(t, call("connect 5 198.18.0.2 50000", 3500, -1, EINPROGRESS)));

        const std::string text = exported(t);
        const QStringList expected = {
            "0 `sysctl -q net.ipv4.tcp_sack=1`",
            "+0.001 socket(..., SOCK_STREAM, 0) = 3",
            "+0.001 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0",
            "+0.001 bind(3, ..., ...) = 0",
            "+0.001 listen(3, 16) = 0",
            "+0.0005 fcntl(3, F_GETFL) = 0x2",
            "+0.0001 fcntl(3, F_SETFL, O_NONBLOCK) = 0",
            "+0.0004 ...0.0047 accept(3, ..., ...) = 4",
            "+0.004 < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>",
            "+0.0001 > S. 0:0(0) ack 1 <mss 1460,sackOK,TS val 7000 ecr 100,nop,wscale 7>",
            "+0.0001 < . 1:1(0) ack 1 win 502",
            "+0.0013 < P. 1:11(10) ack 1 win 502",
            "+0.00005 poll([{fd=4, events=POLLIN, revents=POLLIN}], 1, 1000) = 1",
            "+0.00001 ioctl(4, SIOCINQ, [10]) = 0",
            "+0.00001 read(4, ..., 1000) = 10",
            "+0.00001 getsockopt(4, IPPROTO_TCP, TCP_NODELAY, [1], [4]) = 0",
            "+0.00002 > . 1:1(0) ack 11 <...>",
            "+0.0003 send(4, ..., 150, MSG_MORE) = 150",
            "+0.00005 recv(4, ..., 1000, MSG_DONTWAIT) = -1 EAGAIN (Resource temporarily "
            "unavailable)",
            "+0.00005 > P. 1:101(100) ack 11 <...>",
            "+0.00001 > P. 101:151(50) ack 11 <...>",
            "+0.00009 < . 11:11(0) ack 151 win 501",
            "+0.0008 shutdown(4, SHUT_WR) = 0",
            "+0.00005 close(4) = 0",
            "+0.00005 > F. 151:151(0) ack 11 <...>",
            "+0.0001 < F. 11:11(0) ack 152 win 501",
            "+0.0001 > . 152:152(0) ack 12 <...>",
            "+0.0003 connect(5, ..., ...) = -1 EINPROGRESS (Operation now in progress)",
        };
        QCOMPARE(eventLines(text), expected);
        const QStringList comments = commentLines(text);
        QVERIFY(!comments.join('\n').contains("made up"));
        QVERIFY(comments.contains("// left out: drain calls (packetdrill has no call that reads "
                                  "on its own)"));
        QVERIFY(comments.contains("// left out: the peer agent's refused setsockopt calls"));
        const auto parsed = parseScript(text);
        QVERIFY2(parsed, parsed ? "" : describe(parsed.error(), "export").c_str());
        QVERIFY(*parsed == *timelineToScript(t, {}));
    }

    void calls_ofOtherConnectionsAreLeftOut() {
        timeline::Timeline t;
        handshakeDataFin(t, false, 50000, 0);
        handshakeDataFin(t, false, 50002, 10'000);
        using namespace tcplab::timeline;
        QVERIFY(appendCall(t, call("socket inet", -3000, 3)));
        peer::CallRecord first = call("accept 3", -2000, 4, 0, 2300);
        first.answer.text = "198.18.0.2:50000";
        QVERIFY(appendCall(t, first));
        peer::CallRecord second = call("accept 3", 9000, 5, 0, 1300);
        second.answer.text = "198.18.0.2:50002";
        QVERIFY(appendCall(t, second));
        QVERIFY(appendCall(t, call("write 5 150", 11'900, 150)));
        QVERIFY(appendCall(t, call("close 5", 12'950, 0)));
        QVERIFY(appendCall(t, call("close 4", 2950, 0)));

        const QStringList zero = eventLines(exported(t, {0, false, 0}));
        QVERIFY(zero.join('\n').contains("accept(3, ..., ...) = 4"));
        QVERIFY(!zero.join('\n').contains("= 5"));
        QVERIFY2(!zero.join("\n").contains("(5,"), qPrintable(zero.join("\n")));
        QVERIFY(zero.join('\n').contains("close(4) = 0"));
        const std::string second_ = exported(t, {1, false, 0});
        QVERIFY(second_.starts_with(
            "// Exported by tcplab from 11 frames: 198.18.0.2:50002 -> 198.18.0.1:50001\n"));
        const QString one = eventLines(second_).join('\n');
        QVERIFY(one.contains("accept(3, ..., ...) = 5"));
        QVERIFY(one.contains("write(5, ..., 150) = 150"));
        QVERIFY(one.contains("close(5) = 0"));
        QVERIFY(!one.contains("(4"));
    }

    void client_synthesizedWhenThePeerConnects() {
        timeline::Timeline t;
        // The peer (ISN 7000) connects to the phantom (ISN 3000) and sends 20 bytes.
        add(t, 0, seg(false, kSyn, 7000, 0, 64240, 0, {TcpOption::mss(1460)}));
        add(t, 50, seg(true, kSyn | kAck, 3000, 7001, 8192, 0, {TcpOption::mss(1400)}));
        add(t, 150, seg(false, kAck, 7001, 3001, 64240));
        add(t, 300, seg(false, kPsh | kAck, 7001, 3001, 64240, 20));
        add(t, 400, seg(true, kAck, 3001, 7021, 8192));
        add(t, 500, seg(false, kFin | kAck, 7021, 3001, 64240));
        add(t, 600, seg(true, kFin | kAck, 3001, 7022, 8192));
        add(t, 700, seg(false, kAck, 7022, 3002, 64240));
        const std::string text = exported(t);
        const QStringList expected = {
            "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3",
            "+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0",
            "+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)",
            "+0 > S 0:0(0) <mss 1460>",
            "+0.00005 < S. 0:0(0) ack 1 win 8192 <mss 1400>",
            "+0.0001 > . 1:1(0) ack 1 <...>",
            "+0.00015 write(3, ..., 20) = 20",
            "+0 > P. 1:21(20) ack 1 <...>",
            "+0.0001 < . 1:1(0) ack 21 win 8192",
            "+0.0001 close(3) = 0",
            "+0 > F. 21:21(0) ack 1 <...>",
            "+0.0001 < F. 1:1(0) ack 22 win 8192",
            "+0.0001 > . 22:22(0) ack 2 <...>",
        };
        QCOMPARE(eventLines(text), expected);
        QVERIFY(commentLines(text).contains(
            "// The peer's calls are made up (the timeline has no call records): a client that "
            "connects without blocking, reads what it received, writes what it sent and closes."));
        QVERIFY(commentLines(text).contains(
            "// Sequence numbers count from each side's ISN (phantom 3000, peer 7000), acks and "
            "SACK blocks from the other side's."));
        QVERIFY(parseScript(text));
    }

    void midConnection_firstSeenCountsAsZero() {
        timeline::Timeline t;
        add(t, 0, seg(true, kPsh | kAck, 2000, 9000, 1000, 10));
        add(t, 100, seg(false, kAck, 9000, 2010, 2000));
        add(t, 200, seg(false, kPsh | kAck, 9000, 2010, 2000, 5));
        add(t, 300, seg(true, kAck, 2010, 9005, 1000));
        const std::string text = exported(t);
        QVERIFY2(commentLines(text).contains(
                     "// The capture starts mid-connection (no SYN of either side): the first "
                     "sequence number seen counts as 0."),
                 qPrintable(commentLines(text).join('\n')));
        const QStringList expected = {
            "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3",
            "+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0",
            "+0 bind(3, ..., ...) = 0",
            "+0 listen(3, 1) = 0",
            "+0 accept(3, ..., ...) = 4",
            "+0 < P. 0:10(10) ack 0 win 1000",
            "+0 read(4, ..., 10) = 10",
            "+0.0001 > . 0:0(0) ack 10 <...>",
            "+0.0001 write(4, ..., 5) = 5",
            "+0 > P. 0:5(5) ack 10 <...>",
            "+0.0001 < . 10:10(0) ack 5 win 1000",
        };
        QCOMPARE(eventLines(text), expected);
        QVERIFY(parseScript(text));
    }

    void ipv6_connection() {
        timeline::Timeline t;
        handshakeDataFin(t, true);
        const std::string text = exported(t);
        QVERIFY(text.starts_with("// Exported by tcplab from 11 frames: [2001:db8::2]:50000 -> "
                                 "[2001:db8::1]:50001\n"));
        const QStringList lines = eventLines(text);
        QCOMPARE(lines.value(0), QStringLiteral("--ip_version=ipv6"));
        QVERIFY(lines.contains(
            "+0 < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>"));
        QVERIFY(lines.contains("+0.0001 > . 152:152(0) ack 12 <...>"));
        const auto parsed = parseScript(text);
        QVERIFY(parsed);
        QVERIFY(*parsed == *timelineToScript(t, {}));
    }

    void snapLength_keepsTheWireLength() {
        timeline::Timeline t;
        t.setSnapLength(80); // the SYNs whole, the data cut short
        handshakeDataFin(t);
        const QStringList lines = eventLines(exported(t));
        QVERIFY2(lines.contains("+0 > P. 1:101(100) ack 11 <...>"), qPrintable(lines.join("\n")));
        QVERIFY(lines.contains("+0.0004 write(4, ..., 150) = 150"));
    }

    void connection_chosenByIndexOtherFramesSkipped() {
        timeline::Timeline t;
        addOther(t, 0);
        handshakeDataFin(t, false, 50000, 10);
        addOther(t, 20);
        handshakeDataFin(t, false, 50002, 5000);
        const std::string first = exported(t);
        QVERIFY(first.starts_with(
            "// Exported by tcplab from 11 frames: 198.18.0.2:50000 -> 198.18.0.1:50001\n"));
        QVERIFY(eventLines(first).contains("+0 < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 "
                                           "ecr 0,nop,wscale 7>"));
        const std::string second = exported(t, {1, false, 0});
        QVERIFY(second.starts_with(
            "// Exported by tcplab from 11 frames: 198.18.0.2:50002 -> 198.18.0.1:50001\n"));
        // Times count from the second connection's first frame.
        QCOMPARE(eventLines(second).value(0), QStringLiteral("0 socket(..., SOCK_STREAM, "
                                                             "IPPROTO_TCP) = 3"));
        const auto none = exportPacketdrill(t, {2, false, 0});
        QVERIFY(!none);
        QCOMPARE(test::qs(none.error()),
                 QStringLiteral("there is no TCP connection 2: the timeline has 2 (numbered from "
                                "0)"));
    }

    void errors_noTcpConnection() {
        timeline::Timeline empty;
        const auto a = exportPacketdrill(empty, {});
        QVERIFY(!a);
        QCOMPARE(test::qs(a.error()), QStringLiteral("the timeline has no TCP connection"));
        timeline::Timeline other;
        addOther(other, 0);
        addOther(other, 10);
        const auto b = timelineToScript(other, {});
        QVERIFY(!b);
        QCOMPARE(test::qs(b.error()), QStringLiteral("the timeline has no TCP connection"));
        const auto c = exportScapy(other, {});
        QVERIFY(!c);
        QCOMPARE(test::qs(c.error()), QStringLiteral("the timeline has no TCP connection"));
    }

    void scapy_program() {
        timeline::Timeline t;
        handshakeDataFin(t);
        const auto program = exportScapy(t, {});
        QVERIFY2(program, program ? "" : program.error().c_str());
        const QString text = test::qs(*program);
        QVERIFY(text.startsWith("#!/usr/bin/env python3\n# Exported by tcplab from 11 frames: "
                                "198.18.0.2:50000 -> 198.18.0.1:50001\n"));
        QVERIFY(text.contains("\nIFACE = \""));
        QVERIFY(text.contains("\nPHANTOM = \"198.18.0.2\"\n"));
        QVERIFY(text.contains("\nPEER = \"198.18.0.1\"\n"));
        QVERIFY(text.contains("\nPHANTOM_PORT = 50000\n"));
        QVERIFY(text.contains("\nPEER_PORT = 50001\n"));
        QVERIFY(text.contains("\nIPV6 = False\n"));
        QVERIFY(text.contains("\nPHANTOM_ISN = 1000 "));
        QVERIFY(text.contains("\nPEER_ISN = 5000 "));
        // Lines as numbered in the packetdrill text: 5 header lines, then the events.
        QVERIFY2(text.contains("    (10, 0.000000, \"send\", \"S\", 0, None, 0, 65535, [(\"MSS\", "
                               "1460), (\"SAckOK\", b\"\"), (\"Timestamp\", (100, 0)), (\"NOP\", "
                               "None), (\"WScale\", 7)]),\n"),
                 qPrintable(text));
        QVERIFY(text.contains("    (11, 0.000100, \"expect\", \"SA\", 0, 1, 0, None, None),\n"));
        QVERIFY(text.contains("    (14, 0.001500, \"send\", \"PA\", 1, 1, 10, 502, []),\n"));
        QVERIFY(text.contains("    (22, 0.003000, \"expect\", \"FA\", 151, 11, 0, None, None),\n"));
        QVERIFY(text.contains("    # line 13, the peer's side at 0.000200 s: accept(3, ..., ...) = "
                              "4\n"));
        QVERIFY(text.contains("print(\"ok line %d\" % line)"));
        QVERIFY(text.contains("mismatch line %d: expected %s got %s"));
        const std::string pkt = exported(t);
        QCOMPARE(test::qs(linesOf(pkt).at(9)),
                 QStringLiteral("+0 < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr "
                                "0,nop,wscale 7>"));

        bool skipped = false;
        const QString error = compilePython(*program, skipped);
        if (skipped)
            QSKIP(qPrintable(error));
        QVERIFY2(error.isEmpty(), qPrintable(error));
    }

    void scapy_ipv6AndSack() {
        timeline::Timeline t;
        handshakeDataFin(t, true);
        const SackBlock block{SeqNum(5201), SeqNum(5301)};
        add(t, 4000,
            seg(true, kAck, 1012, 5153, 501, 0,
                {TcpOption::nop(), TcpOption::nop(), TcpOption::sack({&block, 1})}, true));
        const auto program = exportScapy(t, {std::nullopt, true, 0});
        QVERIFY(program);
        const QString text = test::qs(*program);
        QVERIFY(text.contains("\nPHANTOM = \"2001:db8::2\"\n"));
        QVERIFY(text.contains("\nPEER = \"2001:db8::1\"\n"));
        QVERIFY(text.contains("\nIPV6 = True\n"));
        QVERIFY(text.contains("\nCHECK_WINDOW = True\n"));
        QVERIFY(text.contains("[(\"NOP\", None), (\"NOP\", None), (\"SAck\", (201, 301))]"));
        QVERIFY(text.contains("\"expect\", \"SA\", 0, 1, 0, 65160, None),"));
        bool skipped = false;
        const QString error = compilePython(*program, skipped);
        if (skipped)
            QSKIP(qPrintable(error));
        QVERIFY2(error.isEmpty(), qPrintable(error));
    }
};

QTEST_GUILESS_MAIN(TestDrillExport)
#include "tst_drill_export.moc"
