// The connection tracker (core/tcp/tracker.h): RFC 9293 states and variables of both
// ends, relative numbers and the classification of every segment.
//
// Segments are built as frames (SegmentSpec -> bytes -> decodeFrame -> ConnectionTable),
// the way they reach the tracker from the engine. The real Linux captures under
// tests/data/captures are checked against what tshark reports for them (relative
// numbers, scaled windows, options) and against the states RFC 9293 Figure 6 and the
// close sequence say both ends must reach.
#include "tests_support/test_support.h"

#include "tcp/tracker.h"
#include "timeline/pcap_file.h"
#include "wire/frame.h"
#include "wire/segment_spec.h"

using namespace tcplab;
using namespace tcplab::wire;
using namespace tcplab::tcp;

namespace {

const Ipv4Address kPhantom4 = *Ipv4Address::parse("198.18.0.1");
const Ipv4Address kPeer4 = *Ipv4Address::parse("198.18.0.2");
const Ipv6Address kPhantom6 = *Ipv6Address::parse("2001:db8::1");
const Ipv6Address kPeer6 = *Ipv6Address::parse("2001:db8::2");
const MacAddress kPhantomMac = *MacAddress::parse("02:00:00:00:00:0b");
const MacAddress kPeerMac = *MacAddress::parse("02:00:00:00:00:0a");

/// One segment to put on the wire.
struct Seg {
    std::string_view flags;
    std::uint32_t seq = 0;
    std::uint32_t ack = 0;
    std::uint32_t len = 0; ///< bytes of payload
    std::uint16_t win = 65535;
    TcpOptionList options{};
};

TcpOptionList optionsOf(std::initializer_list<TcpOption> list) {
    TcpOptionList out;
    for (const auto& o : list)
        out.append(o);
    return out;
}

QString statesOf(const SegmentResult& r) {
    return QString::fromLatin1("%1/%2").arg(QLatin1String(stateName(r.after[0])),
                                            QLatin1String(stateName(r.after[1])));
}

QString classesOf(const SegmentResult& r) {
    return QString::fromStdString(r.classes.toString());
}

/// Two hosts on a wire, "a" (the phantom, port 40000 + portOffset) and "b" (the peer,
/// port 50001), feeding one ConnectionTable with frames.
class Wire {
public:
    explicit Wire(bool ipv6 = false, std::uint16_t portOffset = 0)
        : m_ipv6(ipv6)
        , m_aPort(static_cast<std::uint16_t>(40000 + portOffset)) {}

    SegmentResult a(const Seg& s) { return feed(true, s); }
    SegmentResult b(const Seg& s) { return feed(false, s); }

    Endpoint endpointA() const {
        return m_ipv6 ? Endpoint::v6(kPhantom6, m_aPort) : Endpoint::v4(kPhantom4, m_aPort);
    }
    Endpoint endpointB() const {
        return m_ipv6 ? Endpoint::v6(kPeer6, 50001) : Endpoint::v4(kPeer4, 50001);
    }

    /// The connection, and the end index of a and b in it.
    const Connection& conn() const {
        return (*m_table)[m_table->find(endpointA(), endpointB()).value_or(0)];
    }
    const EndState& endA() const { return conn().end(*conn().endOf(endpointA())); }
    const EndState& endB() const { return conn().end(*conn().endOf(endpointB())); }

    void useTable(ConnectionTable* table) { m_table = table; }
    ConnectionTable& table() { return *m_table; }

private:
    SegmentResult feed(bool fromA, const Seg& s) {
        SegmentSpec spec;
        spec.ethernet = {fromA ? kPeerMac : kPhantomMac, fromA ? kPhantomMac : kPeerMac,
                         std::nullopt};
        if (m_ipv6) {
            Ipv6Header ip;
            ip.src = fromA ? kPhantom6 : kPeer6;
            ip.dst = fromA ? kPeer6 : kPhantom6;
            spec.ip = ip;
        } else {
            Ipv4Header ip;
            ip.src = fromA ? kPhantom4 : kPeer4;
            ip.dst = fromA ? kPeer4 : kPhantom4;
            spec.ip = ip;
        }
        spec.tcp.srcPort = fromA ? m_aPort : 50001;
        spec.tcp.dstPort = fromA ? 50001 : m_aPort;
        spec.tcp.seq = SeqNum(s.seq);
        spec.tcp.ack = SeqNum(s.ack);
        spec.tcp.flags = parseTcpFlags(s.flags).value_or(0);
        spec.tcp.window = s.win;
        spec.tcp.options = s.options;
        spec.payload.assign(s.len, std::uint8_t{'x'});
        const auto bytes = spec.encode();
        if (!bytes) {
            QTest::qFail("could not encode the segment", __FILE__, __LINE__);
            return {};
        }
        m_clock += 1'000'000;
        const auto r = m_table->onFrame(decodeFrame(*bytes), m_clock);
        if (!r) {
            QTest::qFail("the tracker did not take the segment", __FILE__, __LINE__);
            return {};
        }
        return *r;
    }

    bool m_ipv6;
    std::uint16_t m_aPort;
    ConnectionTable m_ownTable;
    ConnectionTable* m_table = &m_ownTable;
    std::int64_t m_clock = 0;
};

constexpr std::uint32_t kIsnA = 1000;
constexpr std::uint32_t kIsnB = 5000;

/// a opens to b: SYN, SYN-ACK, ACK. No options unless given.
void handshake(Wire& w, std::uint32_t isnA = kIsnA, std::uint32_t isnB = kIsnB,
               std::uint16_t winA = 65535, std::uint16_t winB = 65535, TcpOptionList optA = {},
               TcpOptionList optB = {}) {
    w.a({"S", isnA, 0, 0, winA, optA});
    w.b({"SA", isnB, isnA + 1, 0, winB, optB});
    w.a({"A", isnA + 1, isnB + 1, 0, winA});
}

struct Capture {
    std::vector<SegmentResult> results;
    ConnectionTable table;
};

bool readCapture(const char* name, bool phantomIsLocal, Capture& out, QString& error) {
    auto reader = timeline::PcapReader::open(test::dataPath(std::string("captures/") + name));
    if (!reader) {
        error = QString::fromStdString(reader.error());
        return false;
    }
    if (phantomIsLocal) {
        out.table.addLocalAddress(kPhantom4);
        out.table.addLocalAddress(kPhantom6);
    }
    timeline::PcapRecord record;
    while (reader->next(record))
        if (auto r = out.table.onFrame(decodeFrame(record.data), record.timestampNs))
            out.results.push_back(*r);
    return true;
}

/// What tshark shows for the TCP segments of both captures (tcp.seq, tcp.ack, tcp.len,
/// tcp.window_size), and the states RFC 9293 puts the ends in after each. The client
/// (198.18.0.2 / 2001:db8::2, the kernel's connect()) is end 0.
struct Expected {
    std::uint32_t relSeq, relAck, len, window;
    const char* classes;
    const char* states;
};
constexpr Expected kIpv4Expected[] = {
    {0, 0, 0, 64240, "syn", "SYN-SENT/LISTEN"},
    {0, 1, 0, 65160, "syn_ack", "ESTABLISHED/SYN-RECEIVED"},
    {1, 1, 0, 64512, "", "ESTABLISHED/ESTABLISHED"},
    {1, 1, 18, 64512, "new_data", "ESTABLISHED/ESTABLISHED"},
    {1, 19, 0, 65536, "", "ESTABLISHED/ESTABLISHED"},
    {1, 19, 72, 65536, "new_data", "ESTABLISHED/ESTABLISHED"},
    {19, 73, 0, 64512, "", "ESTABLISHED/ESTABLISHED"},
    {73, 19, 0, 65536, "", "CLOSE-WAIT/FIN-WAIT-1"},
    {19, 74, 0, 64512, "", "LAST-ACK/TIME-WAIT"},
    {74, 20, 0, 65536, "", "CLOSED/TIME-WAIT"},
};
constexpr Expected kIpv6Expected[] = {
    {0, 0, 0, 64800, "syn", "SYN-SENT/LISTEN"},
    {0, 1, 0, 64260, "syn_ack", "ESTABLISHED/SYN-RECEIVED"},
    {1, 1, 0, 65536, "", "ESTABLISHED/ESTABLISHED"},
    {1, 1, 18, 65536, "new_data", "ESTABLISHED/ESTABLISHED"},
    {1, 19, 0, 64512, "", "ESTABLISHED/ESTABLISHED"},
    {1, 19, 72, 64512, "new_data", "ESTABLISHED/ESTABLISHED"},
    {19, 73, 0, 65536, "", "ESTABLISHED/ESTABLISHED"},
    {73, 19, 0, 64512, "", "CLOSE-WAIT/FIN-WAIT-1"},
    {19, 74, 0, 65536, "", "LAST-ACK/TIME-WAIT"},
    {74, 20, 0, 64512, "", "CLOSED/TIME-WAIT"},
};

} // namespace

class TestTracker : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // ---- real captures -------------------------------------------------------------

    void realCapture_data() {
        QTest::addColumn<bool>("ipv6");
        QTest::newRow("ipv4") << false;
        QTest::newRow("ipv6") << true;
    }
    void realCapture() {
        QFETCH(bool, ipv6);
        Capture c;
        QString error;
        QVERIFY2(readCapture(ipv6 ? "linux_tcp_ipv6.pcap" : "linux_tcp_ipv4.pcap", false, c, error),
                 qPrintable(error));
        const auto& expected = ipv6 ? kIpv6Expected : kIpv4Expected;
        QCOMPARE(c.results.size(), std::size(expected));
        QCOMPARE(c.table.size(), std::size_t{1}); // the ARP/ND frames are not TCP
        for (std::size_t i = 0; i < c.results.size(); ++i) {
            const SegmentResult& r = c.results[i];
            const Expected& e = expected[i];
            const QByteArray at = QByteArray::number(qulonglong(i + 3)); // frame number
            QVERIFY2(r.relSeq == e.relSeq, at.constData());
            QVERIFY2(r.relAck == e.relAck, at.constData());
            QVERIFY2(r.payloadLength == e.len, at.constData());
            QVERIFY2(r.window == e.window, at.constData());
            QCOMPARE(classesOf(r), QString::fromLatin1(e.classes));
            QCOMPARE(statesOf(r), QString::fromLatin1(e.states));
        }
        const Connection& conn = c.table[0];
        QCOMPARE(conn.client(), std::optional<std::uint8_t>(0));
        QCOMPARE(conn.localEnd(), std::uint8_t{0}); // no local address given: the client
        QCOMPARE(conn.end(0).endpoint.port, std::uint16_t(ipv6 ? 43638 : 42570));
        QCOMPARE(conn.end(1).endpoint.port, std::uint16_t{50001});
        // Options as the SYNs carried them (tshark: MSS, WS=1024 i.e. shift 10, SACK_PERM, TS).
        const std::uint16_t mss = ipv6 ? 1440 : 1460;
        for (std::uint8_t e = 0; e < 2; ++e) {
            QCOMPARE(conn.end(e).mss, std::optional<std::uint16_t>(mss));
            QCOMPARE(conn.end(e).windowScale, std::optional<std::uint8_t>(10));
            QVERIFY(conn.end(e).sackPermitted);
            QVERIFY(conn.end(e).timestampsOffered);
            QCOMPARE(conn.windowShift(e), std::uint8_t{10});
            QCOMPARE(conn.sendMss(e), mss);
            QVERIFY(!conn.end(e).issInferred);
        }
        QVERIFY(conn.handshakeSeen());
        QVERIFY(conn.windowScaling());
        QVERIFY(conn.sackPermitted());
        QVERIFY(conn.timestamps());
        // The ISNs are the raw sequence numbers of the SYNs (tshark tcp.seq_raw).
        QCOMPARE(conn.end(0).iss, SeqNum(ipv6 ? 1896826051u : 1505856435u));
        QCOMPARE(conn.end(1).iss, SeqNum(ipv6 ? 1745807104u : 2122897298u));
        // Everything each end sent was acknowledged and received.
        for (std::uint8_t e = 0; e < 2; ++e) {
            QCOMPARE(conn.end(e).sndUna, conn.end(e).sndNxt);
            QCOMPARE(conn.end(e ^ 1).rcvNxt, conn.end(e).sndNxt);
        }
        QCOMPARE(conn.end(0).sndNxt - conn.end(0).iss, 20); // SYN + 18 + FIN
        QCOMPARE(conn.end(1).sndNxt - conn.end(1).iss, 74); // SYN + 72 + FIN
        QCOMPARE(conn.end(1).tsVal, std::optional<std::uint32_t>(ipv6 ? 1133489356u : 3186702069u));
        QCOMPARE(conn.segmentCount(), std::uint64_t{10});
    }

    void realCapture_localAddressNamesTheLocalEnd() {
        Capture c;
        QString error;
        QVERIFY2(readCapture("linux_tcp_ipv4.pcap", true, c, error), qPrintable(error));
        QCOMPARE(c.table.size(), std::size_t{1});
        // 198.18.0.1 (the phantom's address) is the server in this capture: end 1.
        QVERIFY(c.table[0].localEndKnown());
        QCOMPARE(c.table[0].localEnd(), std::uint8_t{1});
        QCOMPARE(c.table[0].client(), std::optional<std::uint8_t>(0));
    }

    // ---- opening and closing -------------------------------------------------------

    void handshake_followsFigure6() {
        Wire w;
        const auto syn = w.a({"S", kIsnA, 0});
        QCOMPARE(statesOf(syn), QStringLiteral("SYN-SENT/LISTEN"));
        QCOMPARE(syn.before, (std::array{TcpState::Closed, TcpState::Closed}));
        QCOMPARE(syn.segLen, std::uint32_t{1});
        const auto synAck = w.b({"SA", kIsnB, kIsnA + 1});
        QCOMPARE(statesOf(synAck), QStringLiteral("ESTABLISHED/SYN-RECEIVED"));
        QCOMPARE(synAck.relSeq, std::uint32_t{0});
        QCOMPARE(synAck.relAck, std::uint32_t{1});
        QCOMPARE(classesOf(synAck), QStringLiteral("syn_ack"));
        QCOMPARE(synAck.sender, std::uint8_t{1});
        const auto ack = w.a({"A", kIsnA + 1, kIsnB + 1});
        QCOMPARE(statesOf(ack), QStringLiteral("ESTABLISHED/ESTABLISHED"));
        QCOMPARE(classesOf(ack), QString());
        QCOMPARE(w.endA().iss, SeqNum(kIsnA));
        QCOMPARE(w.endA().irs, SeqNum(kIsnB));
        QCOMPARE(w.endB().iss, SeqNum(kIsnB));
        QCOMPARE(w.endB().irs, SeqNum(kIsnA));
        QCOMPARE(w.endA().sndNxt, SeqNum(kIsnA + 1));
        QCOMPARE(w.endB().rcvNxt, SeqNum(kIsnA + 1));
        QCOMPARE(w.endA().rcvNxt, SeqNum(kIsnB + 1));
        QVERIFY(w.endB().passiveOpen);
        QVERIFY(!w.endA().passiveOpen);
    }

    void activeClose_clientFinFirst_fourSegments() {
        Wire w;
        handshake(w);
        QCOMPARE(statesOf(w.a({"FA", kIsnA + 1, kIsnB + 1})),
                 QStringLiteral("FIN-WAIT-1/CLOSE-WAIT"));
        QCOMPARE(statesOf(w.b({"A", kIsnB + 1, kIsnA + 2})),
                 QStringLiteral("FIN-WAIT-2/CLOSE-WAIT"));
        QCOMPARE(statesOf(w.b({"FA", kIsnB + 1, kIsnA + 2})), QStringLiteral("TIME-WAIT/LAST-ACK"));
        const auto last = w.a({"A", kIsnA + 2, kIsnB + 2});
        QCOMPARE(statesOf(last), QStringLiteral("TIME-WAIT/CLOSED"));
        QCOMPARE(last.relSeq, std::uint32_t{2});
        QCOMPARE(last.relAck, std::uint32_t{2});
        QVERIFY(w.conn().finished());
    }

    void activeClose_serverFinFirst_fourSegments() {
        Wire w;
        handshake(w);
        QCOMPARE(statesOf(w.b({"FA", kIsnB + 1, kIsnA + 1})),
                 QStringLiteral("CLOSE-WAIT/FIN-WAIT-1"));
        QCOMPARE(statesOf(w.a({"A", kIsnA + 1, kIsnB + 2})),
                 QStringLiteral("CLOSE-WAIT/FIN-WAIT-2"));
        QCOMPARE(statesOf(w.a({"FA", kIsnA + 1, kIsnB + 2})), QStringLiteral("LAST-ACK/TIME-WAIT"));
        QCOMPARE(statesOf(w.b({"A", kIsnB + 2, kIsnA + 2})), QStringLiteral("CLOSED/TIME-WAIT"));
    }

    void finAcknowledgedWithFin_goesStraightToTimeWait() {
        Wire w;
        handshake(w);
        w.a({"FA", kIsnA + 1, kIsnB + 1});
        // b's FIN acknowledges a's FIN: FIN-WAIT-1 with its FIN acked and a FIN in -> TIME-WAIT.
        const auto finAck = w.b({"FA", kIsnB + 1, kIsnA + 2});
        QCOMPARE(finAck.before, (std::array{TcpState::FinWait1, TcpState::CloseWait}));
        QCOMPARE(statesOf(finAck), QStringLiteral("TIME-WAIT/LAST-ACK"));
    }

    void finBeforeData_isHeldUntilTheHoleFills() {
        Wire w;
        handshake(w);
        // 10 bytes and a FIN, the data lost before the capture: the FIN waits.
        const auto fin = w.a({"FA", kIsnA + 11, kIsnB + 1});
        QVERIFY(fin.classes.has(SegmentClass::OutOfOrder));
        QVERIFY(fin.classes.has(SegmentClass::LostSegment));
        QCOMPARE(statesOf(fin), QStringLiteral("FIN-WAIT-1/ESTABLISHED"));
        const auto data = w.a({"PA", kIsnA + 1, kIsnB + 1, 10});
        QVERIFY(data.classes.has(SegmentClass::GapFill));
        QVERIFY(!data.classes.has(SegmentClass::Retransmission));
        QCOMPARE(statesOf(data), QStringLiteral("FIN-WAIT-1/CLOSE-WAIT"));
        QCOMPARE(w.endB().rcvNxt, SeqNum(kIsnA + 12));
    }

    void simultaneousOpen_followsFigure7() {
        Wire w;
        QCOMPARE(statesOf(w.a({"S", 100, 0})), QStringLiteral("SYN-SENT/LISTEN"));
        const auto synB = w.b({"S", 300, 0});
        QCOMPARE(classesOf(synB), QStringLiteral("syn"));
        QCOMPARE(statesOf(synB), QStringLiteral("SYN-RECEIVED/SYN-RECEIVED"));
        const auto synAckA = w.a({"SA", 100, 301});
        QCOMPARE(classesOf(synAckA), QStringLiteral("syn_ack")); // not a retransmission
        QCOMPARE(statesOf(synAckA), QStringLiteral("SYN-RECEIVED/ESTABLISHED"));
        const auto synAckB = w.b({"SA", 300, 101});
        QCOMPARE(classesOf(synAckB), QStringLiteral("syn_ack"));
        QCOMPARE(statesOf(synAckB), QStringLiteral("ESTABLISHED/ESTABLISHED"));
        QCOMPARE(w.conn().client(), std::optional<std::uint8_t>(0)); // first SYN sender
        QVERIFY(!w.endA().passiveOpen);
        QVERIFY(!w.endB().passiveOpen);
        QCOMPARE(w.endA().rcvNxt, SeqNum(301));
        QCOMPARE(w.endB().rcvNxt, SeqNum(101));
        // And data flows.
        const auto data = w.a({"PA", 101, 301, 5});
        QCOMPARE(classesOf(data), QStringLiteral("new_data"));
        QCOMPARE(w.endB().rcvNxt, SeqNum(106));
    }

    void simultaneousClose_bothThroughClosingToTimeWait() {
        Wire w;
        handshake(w);
        QCOMPARE(statesOf(w.a({"FA", kIsnA + 1, kIsnB + 1})),
                 QStringLiteral("FIN-WAIT-1/CLOSE-WAIT"));
        // b's FIN does not acknowledge a's: it left b before a's FIN arrived (Figure 13).
        const auto crossing = w.b({"FA", kIsnB + 1, kIsnA + 1});
        QCOMPARE(statesOf(crossing), QStringLiteral("CLOSING/CLOSING"));
        QCOMPARE(classesOf(crossing), QString());
        QCOMPARE(statesOf(w.a({"A", kIsnA + 2, kIsnB + 2})), QStringLiteral("CLOSING/TIME-WAIT"));
        QCOMPARE(statesOf(w.b({"A", kIsnB + 2, kIsnA + 2})), QStringLiteral("TIME-WAIT/TIME-WAIT"));
    }

    // ---- RST (RFC 9293 §3.10.7, RFC 5961 §3) ---------------------------------------

    void rst_atRcvNxt_isAccepted() {
        Wire w;
        handshake(w);
        w.a({"PA", kIsnA + 1, kIsnB + 1, 18});
        // Exactly the peer's RCV.NXT, which counts the 18 bytes just sent.
        const auto rst = w.a({"R", kIsnA + 19, 0, 0, 0});
        QCOMPARE(classesOf(rst), QStringLiteral("rst_accepted"));
        QCOMPARE(statesOf(rst), QStringLiteral("CLOSED/CLOSED"));
    }

    void rst_inWindowButNotExact_drawsAChallenge() {
        Wire w;
        handshake(w);
        const auto rst = w.a({"R", kIsnA + 2, 0, 0, 0});
        QCOMPARE(classesOf(rst), QStringLiteral("rst_challenge"));
        // The peer keeps the connection; the sender has aborted (it sent a RST).
        QCOMPARE(statesOf(rst), QStringLiteral("CLOSED/ESTABLISHED"));
        // The last number of the window still challenges.
        Wire w2;
        handshake(w2);
        QCOMPARE(classesOf(w2.a({"R", kIsnA + 1 + 65534, 0, 0, 0})),
                 QStringLiteral("rst_challenge"));
    }

    void rst_outsideWindow_isIgnored() {
        Wire w;
        handshake(w);
        const auto beyond = w.a({"R", kIsnA + 1 + 65535, 0, 0, 0});
        QCOMPARE(classesOf(beyond), QStringLiteral("rst_ignored"));
        QCOMPARE(beyond.after[1], TcpState::Established);
        Wire w2;
        handshake(w2);
        QCOMPARE(classesOf(w2.a({"R", kIsnA, 0, 0, 0})), QStringLiteral("rst_ignored")); // old
    }

    void rst_zeroWindow_onlyExactCounts() {
        Wire w;
        handshake(w, kIsnA, kIsnB, 65535, 0); // b advertises a zero window (SYN-ACK)
        w.a({"A", kIsnA + 1, kIsnB + 1});
        QCOMPARE(w.endB().rcvWnd(), std::uint32_t{0});
        QCOMPARE(classesOf(w.a({"R", kIsnA + 2, 0, 0, 0})), QStringLiteral("rst_ignored"));
        QCOMPARE(classesOf(w.a({"R", kIsnA + 1, 0, 0, 0})), QStringLiteral("rst_accepted"));
    }

    void synSent_rstWithAcceptableAck_isAccepted() {
        Wire w;
        w.a({"S", kIsnA, 0});
        // A closed port: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> (§3.10.7.1).
        const auto rst = w.b({"RA", 0, kIsnA + 1, 0, 0});
        QCOMPARE(classesOf(rst), QStringLiteral("rst_accepted"));
        QCOMPARE(statesOf(rst), QStringLiteral("CLOSED/CLOSED"));
        QVERIFY(w.conn().finished());
    }

    void synSent_rstWithoutAckOrWithBadAck_isIgnored() {
        Wire w;
        w.a({"S", kIsnA, 0});
        const auto bare = w.b({"R", 0, 0, 0, 0});
        QCOMPARE(classesOf(bare), QStringLiteral("rst_ignored"));
        QCOMPARE(bare.after[0], TcpState::SynSent);
        Wire w2;
        w2.a({"S", kIsnA, 0});
        const auto badAck = w2.b({"RA", 0, kIsnA + 5, 0, 0});
        QVERIFY(badAck.classes.has(SegmentClass::RstIgnored));
        QVERIFY(badAck.classes.has(SegmentClass::UnacceptableAck));
        QVERIFY(!badAck.classes.has(SegmentClass::RstAccepted));
        QCOMPARE(badAck.after[0], TcpState::SynSent);
    }

    void listen_rst_isIgnored() {
        Wire w;
        w.a({"S", kIsnA, 0});
        const auto rst = w.a({"R", kIsnA + 1, 0, 0, 0});
        QCOMPARE(classesOf(rst), QStringLiteral("rst_ignored"));
        QCOMPARE(rst.after[1], TcpState::Listen);
    }

    void synReceived_exactRst_returnsPassiveEndToListen() {
        Wire w;
        w.a({"S", kIsnA, 0});
        w.b({"SA", kIsnB, kIsnA + 1});
        const auto rst = w.a({"R", kIsnA + 1, 0, 0, 0});
        QCOMPARE(classesOf(rst), QStringLiteral("rst_accepted"));
        QCOMPARE(rst.after[1], TcpState::Listen);
    }

    // ---- SYN in a synchronized state (RFC 5961 §4) -----------------------------------

    void synInWindow_drawsAChallenge() {
        Wire w;
        handshake(w);
        const auto syn = w.a({"S", kIsnA + 100, 0});
        QVERIFY(syn.classes.has(SegmentClass::SynInWindow));
        QVERIFY(!syn.classes.has(SegmentClass::OutOfWindow));
        QCOMPARE(statesOf(syn), QStringLiteral("ESTABLISHED/ESTABLISHED"));
    }

    void synOutsideWindow_isOutOfWindowNotAChallenge() {
        Wire w;
        handshake(w);
        const auto syn = w.a({"S", kIsnA + 1 + 70000, 0});
        QVERIFY(syn.classes.has(SegmentClass::OutOfWindow));
        QVERIFY(!syn.classes.has(SegmentClass::SynInWindow));
        // The original SYN again is old: a retransmission, out of the window.
        Wire w2;
        handshake(w2);
        const auto again = w2.a({"S", kIsnA, 0});
        QCOMPARE(classesOf(again), QStringLiteral("syn,retransmission,out_of_window"));
    }

    // ---- data ----------------------------------------------------------------------

    void newData_vsRetransmission() {
        Wire w;
        handshake(w);
        const auto first = w.a({"PA", kIsnA + 1, kIsnB + 1, 100});
        QCOMPARE(classesOf(first), QStringLiteral("new_data"));
        QCOMPARE(first.relSeq, std::uint32_t{1});
        QCOMPARE(first.segLen, std::uint32_t{100});
        const auto again = w.a({"PA", kIsnA + 1, kIsnB + 1, 100});
        QVERIFY(again.classes.has(SegmentClass::Retransmission));
        QVERIFY(!again.classes.has(SegmentClass::NewData));
        QVERIFY(!again.classes.has(SegmentClass::SpuriousRetransmission)); // not acked yet
        QVERIFY(!again.classes.has(SegmentClass::FastRetransmission));
        // Half old, half new: both.
        const auto overlap = w.a({"PA", kIsnA + 51, kIsnB + 1, 100});
        QVERIFY(overlap.classes.has(SegmentClass::Retransmission));
        QVERIFY(overlap.classes.has(SegmentClass::NewData));
        QCOMPARE(w.endA().sndNxt, SeqNum(kIsnA + 151));
        QCOMPARE(w.endB().rcvNxt, SeqNum(kIsnA + 151));
    }

    void spuriousRetransmission_onlyOfAcknowledgedData() {
        Wire w;
        handshake(w);
        w.a({"PA", kIsnA + 1, kIsnB + 1, 100});
        w.b({"A", kIsnB + 1, kIsnA + 101});
        const auto again = w.a({"PA", kIsnA + 1, kIsnB + 1, 100});
        QVERIFY(again.classes.has(SegmentClass::Retransmission));
        QVERIFY(again.classes.has(SegmentClass::SpuriousRetransmission));
        // The receiver has it all: an old segment, acknowledged again (RFC 9293 first check).
        QVERIFY(again.classes.has(SegmentClass::OutOfWindow));
    }

    void outOfOrder_lostSegmentThenGapFill() {
        Wire w;
        handshake(w);
        // [1, 101) is lost before the capture point; [101, 201) arrives first.
        const auto ahead = w.a({"PA", kIsnA + 101, kIsnB + 1, 100});
        QCOMPARE(classesOf(ahead), QStringLiteral("new_data,lost_segment,out_of_order"));
        QCOMPARE(w.endB().rcvNxt, SeqNum(kIsnA + 1));
        QCOMPARE(w.endB().outOfOrder.size(), std::size_t{1});
        const auto dup = w.b({"A", kIsnB + 1, kIsnA + 1});
        QCOMPARE(classesOf(dup), QStringLiteral("dup_ack"));
        const auto fill = w.a({"PA", kIsnA + 1, kIsnB + 1, 100});
        QCOMPARE(classesOf(fill), QStringLiteral("gap_fill"));
        QVERIFY(!fill.classes.has(SegmentClass::Retransmission));
        QVERIFY(!fill.classes.has(SegmentClass::OutOfOrder));
        // The held segment joins: RCV.NXT jumps past both.
        QCOMPARE(w.endB().rcvNxt, SeqNum(kIsnA + 201));
        QVERIFY(w.endB().outOfOrder.empty());
        QVERIFY(w.endA().holes.empty());
        // In order, none of these.
        const auto next = w.a({"PA", kIsnA + 201, kIsnB + 1, 100});
        QCOMPARE(classesOf(next), QStringLiteral("new_data"));
    }

    void duplicateAcks_threeInARow_thenFastRetransmission() {
        Wire w;
        handshake(w);
        // Four segments; the first is lost after the capture point (the peer never gets it).
        for (std::uint32_t i = 0; i < 4; ++i)
            w.a({"PA", kIsnA + 1 + 100 * i, kIsnB + 1, 100});
        QCOMPARE(w.endB().rcvNxt, SeqNum(kIsnA + 401)); // the model's guess so far
        const auto sack = [](std::uint32_t right) {
            const SackBlock block{SeqNum(kIsnA + 101), SeqNum(right)};
            return optionsOf(
                {TcpOption::nop(), TcpOption::nop(), TcpOption::sack(std::span(&block, 1))});
        };
        for (std::uint8_t n = 1; n <= 3; ++n) {
            const auto dup = w.b(
                {"A", kIsnB + 1, kIsnA + 1, 0, 65535, sack(kIsnA + 101 + 100 * std::uint32_t(n))});
            QCOMPARE(classesOf(dup), QStringLiteral("dup_ack"));
            QCOMPARE(dup.dupAckCount, n);
        }
        // The duplicate ACKs told where the peer really is.
        QCOMPARE(w.endB().rcvNxt, SeqNum(kIsnA + 1));
        const auto retransmit = w.a({"PA", kIsnA + 1, kIsnB + 1, 100});
        QCOMPARE(classesOf(retransmit), QStringLiteral("retransmission,fast_retransmission"));
        QCOMPARE(w.endB().rcvNxt, SeqNum(kIsnA + 401)); // with the SACKed data
        const auto ack = w.b({"A", kIsnB + 1, kIsnA + 401});
        QCOMPARE(classesOf(ack), QString());
        QCOMPARE(ack.dupAckCount, std::uint8_t{0});
    }

    // tests/data/captures/linux_tcp_loss.pcap frames 170-179: the peer keeps acknowledging
    // 105705 with SACK blocks while its window grows (Linux autotuning), so RFC 5681 (e)
    // makes those ACKs window updates, not duplicate ACKs. Its RCV.NXT is SEG.ACK all the
    // same; the retransmission at SEG.ACK starts at RCV.NXT inside RCV.WND (RFC 9293
    // §3.10.7.4, first check): acceptable. Wireshark says "retransmission", and so must we,
    // not out_of_window (the model once kept the lost data as received).
    void sackAcks_withGrowingWindow_moveRcvNxtBack_retransmissionIsInWindow() {
        Wire w;
        handshake(w);
        // Six segments; the 1st and the 4th are lost after the capture point.
        for (std::uint32_t i = 0; i < 6; ++i)
            w.a({"PA", kIsnA + 1 + 100 * i, kIsnB + 1, 100});
        QCOMPARE(w.endB().rcvNxt, SeqNum(kIsnA + 601)); // the model's guess so far
        const auto sacked = [](std::uint32_t holdUpTo) {
            const std::array<SackBlock, 2> blocks{
                SackBlock{SeqNum(kIsnA + 401), SeqNum(holdUpTo)},
                SackBlock{SeqNum(kIsnA + 101), SeqNum(kIsnA + 301)}};
            return optionsOf({TcpOption::nop(), TcpOption::nop(), TcpOption::sack(blocks)});
        };
        for (std::uint16_t n = 1; n <= 2; ++n) {
            const auto ack =
                w.b({"A", kIsnB + 1, kIsnA + 1, 0, static_cast<std::uint16_t>(30000 + 1000 * n),
                     sacked(kIsnA + 401 + 100 * n)});
            QVERIFY2(!ack.classes.has(SegmentClass::DuplicateAck), qPrintable(classesOf(ack)));
            QVERIFY2(ack.classes.has(SegmentClass::WindowUpdate), qPrintable(classesOf(ack)));
            QCOMPARE(w.endB().rcvNxt, SeqNum(kIsnA + 1));
        }
        // What b holds is what its blocks say: not the lost [301, 401).
        QVERIFY(w.endB().outOfOrder.covers(SeqNum(kIsnA + 101), SeqNum(kIsnA + 301)));
        QVERIFY(!w.endB().outOfOrder.overlaps(SeqNum(kIsnA + 301), SeqNum(kIsnA + 401)));
        QVERIFY(w.endB().outOfOrder.covers(SeqNum(kIsnA + 401), SeqNum(kIsnA + 601)));

        const auto first = w.a({"A", kIsnA + 1, kIsnB + 1, 100});
        QCOMPARE(classesOf(first), QStringLiteral("retransmission"));
        QCOMPARE(w.endB().rcvNxt, SeqNum(kIsnA + 301)); // with the SACKed data after it
        const auto fourth = w.a({"A", kIsnA + 301, kIsnB + 1, 100});
        QCOMPARE(classesOf(fourth), QStringLiteral("retransmission"));
        QCOMPARE(w.endB().rcvNxt, SeqNum(kIsnA + 601));
        // Now all of it is in: a copy of the first is out of window indeed.
        const auto again = w.a({"A", kIsnA + 1, kIsnB + 1, 100});
        QVERIFY(again.classes.has(SegmentClass::OutOfWindow));
    }

    // Without SACK blocks a window update below the model's RCV.NXT says nothing of loss:
    // the data after SEG.ACK may still be in flight. The model keeps its guess.
    void windowUpdate_withoutSack_belowRcvNxt_keepsTheModel() {
        Wire w;
        handshake(w);
        for (std::uint32_t i = 0; i < 3; ++i)
            w.a({"PA", kIsnA + 1 + 100 * i, kIsnB + 1, 100});
        const auto update = w.b({"A", kIsnB + 1, kIsnA + 1, 0, 40000});
        QVERIFY(update.classes.has(SegmentClass::WindowUpdate));
        QCOMPARE(w.endB().rcvNxt, SeqNum(kIsnA + 301));
    }

    void retransmission_afterFewerThanThreeDupAcks_isNotFast() {
        Wire w;
        handshake(w);
        w.a({"PA", kIsnA + 1, kIsnB + 1, 100});
        w.a({"PA", kIsnA + 101, kIsnB + 1, 100});
        w.b({"A", kIsnB + 1, kIsnA + 1});
        w.b({"A", kIsnB + 1, kIsnA + 1});
        const auto retransmit = w.a({"PA", kIsnA + 1, kIsnB + 1, 100});
        QVERIFY(retransmit.classes.has(SegmentClass::Retransmission));
        QVERIFY(!retransmit.classes.has(SegmentClass::FastRetransmission));
    }

    void duplicateAck_needsOutstandingDataSameWindowAndNoData() {
        Wire w;
        handshake(w);
        // Nothing outstanding from a: the same ACK again is not a duplicate (RFC 5681 (a)).
        QVERIFY(!w.b({"A", kIsnB + 1, kIsnA + 1}).classes.has(SegmentClass::DuplicateAck));
        w.a({"PA", kIsnA + 1, kIsnB + 1, 100});
        // A different window: a window update, not a duplicate (e).
        const auto other = w.b({"A", kIsnB + 1, kIsnA + 1, 0, 30000});
        QVERIFY(!other.classes.has(SegmentClass::DuplicateAck));
        QVERIFY(other.classes.has(SegmentClass::WindowUpdate));
        // With data: not a duplicate (b).
        const auto data = w.b({"PA", kIsnB + 1, kIsnA + 1, 10, 30000});
        QVERIFY(!data.classes.has(SegmentClass::DuplicateAck));
        // Same window, same ACK, nothing else: a duplicate.
        const auto dup = w.b({"A", kIsnB + 11, kIsnA + 1, 0, 30000});
        QVERIFY(dup.classes.has(SegmentClass::DuplicateAck));
        QCOMPARE(dup.dupAckCount, std::uint8_t{1});
    }

    void zeroWindow_probe_andReopening() {
        Wire w;
        handshake(w);
        w.a({"PA", kIsnA + 1, kIsnB + 1, 100});
        const auto closed = w.b({"A", kIsnB + 1, kIsnA + 101, 0, 0});
        QCOMPARE(classesOf(closed), QStringLiteral("zero_window"));
        QCOMPARE(w.endA().sndWnd, std::uint32_t{0});
        QCOMPARE(w.endB().rcvWnd(), std::uint32_t{0});
        const auto probe = w.a({"PA", kIsnA + 101, kIsnB + 1, 1});
        QCOMPARE(classesOf(probe), QStringLiteral("zero_window_probe"));
        QCOMPARE(w.endA().sndNxt, SeqNum(kIsnA + 101)); // probes do not advance SND.NXT
        QCOMPARE(w.endB().rcvNxt, SeqNum(kIsnA + 101)); // nor does the refused byte
        // The answer repeats the zero window: not a duplicate ACK (nothing outstanding).
        const auto still = w.b({"A", kIsnB + 1, kIsnA + 101, 0, 0});
        QCOMPARE(classesOf(still), QStringLiteral("zero_window"));
        // Two bytes into a zero window are no probe: new data the receiver refuses.
        const auto two = w.a({"PA", kIsnA + 101, kIsnB + 1, 2});
        QCOMPARE(classesOf(two), QStringLiteral("new_data,out_of_window"));
        const auto open = w.b({"A", kIsnB + 1, kIsnA + 101, 0, 1000});
        QCOMPARE(classesOf(open), QStringLiteral("window_update"));
        QCOMPARE(w.endA().sndWnd, std::uint32_t{1000});
        const auto data = w.a({"PA", kIsnA + 101, kIsnB + 1, 1});
        QVERIFY(!data.classes.has(SegmentClass::ZeroWindowProbe));
        QVERIFY(data.classes.has(SegmentClass::Retransmission)); // the 2 bytes were sent
        QCOMPARE(w.endB().rcvNxt, SeqNum(kIsnA + 102));
    }

    void zeroWindowProbe_takenByTheReceiver_isAcknowledgeable() {
        Wire w;
        handshake(w);
        w.a({"PA", kIsnA + 1, kIsnB + 1, 100});
        w.b({"A", kIsnB + 1, kIsnA + 101, 0, 0});
        w.a({"PA", kIsnA + 101, kIsnB + 1, 1});
        // The receiver made room and took the byte: its ACK covers it.
        const auto ack = w.b({"A", kIsnB + 1, kIsnA + 102, 0, 1000});
        QVERIFY(!ack.classes.has(SegmentClass::UnacceptableAck));
        QCOMPARE(w.endA().sndUna, SeqNum(kIsnA + 102));
        QCOMPARE(w.endA().sndNxt, SeqNum(kIsnA + 102));
    }

    void windowUpdate_sameAckNewWindow() {
        Wire w;
        handshake(w);
        const auto update = w.b({"A", kIsnB + 1, kIsnA + 1, 0, 20000});
        QCOMPARE(classesOf(update), QStringLiteral("window_update"));
        QCOMPARE(update.window, std::uint32_t{20000});
        const auto same = w.b({"A", kIsnB + 1, kIsnA + 1, 0, 20000});
        QVERIFY(!same.classes.has(SegmentClass::WindowUpdate));
        // A new ACK with a new window is an ordinary ACK.
        w.a({"PA", kIsnA + 1, kIsnB + 1, 10});
        const auto moved = w.b({"A", kIsnB + 1, kIsnA + 11, 0, 30000});
        QVERIFY(!moved.classes.has(SegmentClass::WindowUpdate));
    }

    void windowFull_dataUpToTheRightEdge() {
        Wire w;
        handshake(w, kIsnA, kIsnB, 65535, 1000);
        w.b({"A", kIsnB + 1, kIsnA + 1, 0, 1000});
        const auto short1 = w.a({"PA", kIsnA + 1, kIsnB + 1, 999});
        QVERIFY(!short1.classes.has(SegmentClass::WindowFull));
        const auto last = w.a({"PA", kIsnA + 1000, kIsnB + 1, 1});
        QVERIFY(last.classes.has(SegmentClass::WindowFull));
        QCOMPARE(w.endB().rcvWnd(), std::uint32_t{0});
    }

    void outOfWindow_dataBeyondTheWindow() {
        Wire w;
        handshake(w, kIsnA, kIsnB, 65535, 1000);
        w.b({"A", kIsnB + 1, kIsnA + 1, 0, 1000});
        const auto inside = w.a({"PA", kIsnA + 900, kIsnB + 1, 50});
        QVERIFY(!inside.classes.has(SegmentClass::OutOfWindow));
        QVERIFY(inside.classes.has(SegmentClass::OutOfOrder));
        const auto beyond = w.a({"PA", kIsnA + 1001, kIsnB + 1, 50});
        QVERIFY(beyond.classes.has(SegmentClass::OutOfWindow));
        QVERIFY(!beyond.classes.has(SegmentClass::OutOfOrder));
        // A segment straddling the right edge is acceptable; the excess is trimmed.
        const auto straddle = w.a({"PA", kIsnA + 1, kIsnB + 1, 1100});
        QVERIFY(!straddle.classes.has(SegmentClass::OutOfWindow));
        QCOMPARE(w.endB().rcvNxt, SeqNum(kIsnA + 1001));
    }

    void keepAlive_zeroOrOneByteAtSndNxtMinusOne() {
        Wire w;
        handshake(w);
        w.a({"PA", kIsnA + 1, kIsnB + 1, 100});
        w.b({"A", kIsnB + 1, kIsnA + 101});
        const auto empty = w.a({"A", kIsnA + 100, kIsnB + 1});
        QCOMPARE(classesOf(empty), QStringLiteral("keep_alive"));
        const auto garbage = w.a({"A", kIsnA + 100, kIsnB + 1, 1});
        QCOMPARE(classesOf(garbage), QStringLiteral("keep_alive"));
        // At SND.NXT it is an ordinary ACK; two back it is an old segment.
        QCOMPARE(classesOf(w.a({"A", kIsnA + 101, kIsnB + 1})), QString());
        const auto old = w.a({"A", kIsnA + 99, kIsnB + 1});
        QVERIFY(!old.classes.has(SegmentClass::KeepAlive));
        QVERIFY(old.classes.has(SegmentClass::OutOfWindow));
        // Two bytes at SND.NXT - 1 are no keep-alive.
        QVERIFY(!w.a({"A", kIsnA + 100, kIsnB + 1, 2}).classes.has(SegmentClass::KeepAlive));
        // Before the connection is synchronized there are no keep-alives.
        Wire w2;
        w2.a({"S", kIsnA, 0});
        QVERIFY(!w2.a({"", kIsnA, 0}).classes.has(SegmentClass::KeepAlive));
    }

    // ---- unacceptable ACKs ---------------------------------------------------------

    void unacceptableAck_beyondSndNxt_dropsTheSegment() {
        Wire w;
        handshake(w);
        const auto bogus = w.a({"PA", kIsnA + 1, kIsnB + 1000, 10});
        QVERIFY(bogus.classes.has(SegmentClass::UnacceptableAck));
        QVERIFY(bogus.classes.has(SegmentClass::NewData));
        QCOMPARE(w.endB().sndUna, SeqNum(kIsnB + 1));
        QCOMPARE(w.endB().rcvNxt, SeqNum(kIsnA + 1)); // data and all dropped
        const auto good = w.a({"PA", kIsnA + 1, kIsnB + 1, 10});
        QVERIFY(!good.classes.has(SegmentClass::UnacceptableAck));
        QCOMPARE(w.endB().rcvNxt, SeqNum(kIsnA + 11));
    }

    void unacceptableAck_tooOld_rfc5961() {
        Wire w;
        handshake(w);
        w.b({"PA", kIsnB + 1, kIsnA + 1, 100});
        w.a({"A", kIsnA + 1, kIsnB + 101});
        // More than MAX.SND.WND (65535) below SND.UNA.
        QVERIFY(
            w.a({"A", kIsnA + 1, kIsnB + 101 - 70000}).classes.has(SegmentClass::UnacceptableAck));
        // Old but within MAX.SND.WND: acceptable, ignored.
        QVERIFY(!w.a({"A", kIsnA + 1, kIsnB + 50}).classes.has(SegmentClass::UnacceptableAck));
        QCOMPARE(w.endB().sndUna, SeqNum(kIsnB + 101));
    }

    void synSent_synAckWithWrongAck_isUnacceptable() {
        Wire w;
        w.a({"S", kIsnA, 0});
        const auto wrong = w.b({"SA", kIsnB, kIsnA + 7});
        QVERIFY(wrong.classes.has(SegmentClass::UnacceptableAck));
        QCOMPARE(wrong.after[0], TcpState::SynSent);
        const auto right = w.b({"SA", kIsnB, kIsnA + 1});
        QVERIFY(!right.classes.has(SegmentClass::UnacceptableAck));
        QCOMPARE(right.after[0], TcpState::Established);
    }

    void listenOrSynReceived_badAck_isUnacceptable() {
        Wire w;
        w.a({"S", kIsnA, 0});
        QVERIFY(w.a({"A", kIsnA + 1, 77}).classes.has(SegmentClass::UnacceptableAck)); // LISTEN
        w.b({"SA", kIsnB, kIsnA + 1});
        const auto bad = w.a({"A", kIsnA + 1, kIsnB + 2});
        QVERIFY(bad.classes.has(SegmentClass::UnacceptableAck));
        QCOMPARE(bad.after[1], TcpState::SynReceived);
        const auto good = w.a({"A", kIsnA + 1, kIsnB + 1});
        QVERIFY(!good.classes.has(SegmentClass::UnacceptableAck));
        QCOMPARE(good.after[1], TcpState::Established);
    }

    // ---- wrap-around ---------------------------------------------------------------

    void wrapAround_dataAcrossTheWrap() {
        constexpr std::uint32_t kIsn = 4294967290u; // 2^32 - 6
        constexpr std::uint32_t kPeerIsn = 4294967295u;
        Wire w;
        handshake(w, kIsn, kPeerIsn);
        QCOMPARE(w.endA().rcvNxt, SeqNum(0)); // the peer's SYN is its last number
        for (std::uint32_t i = 0; i < 3; ++i) {
            const auto r = w.a({"PA", kIsn + 1 + 20 * i, 0, 20});
            QCOMPARE(r.relSeq, 1 + 20 * i);
            QCOMPARE(r.relAck, std::uint32_t{1});
            QCOMPARE(classesOf(r), QStringLiteral("new_data"));
        }
        QCOMPARE(w.endA().sndNxt, SeqNum(55)); // 4294967291 + 60, wrapped
        QCOMPARE(w.endB().rcvNxt, SeqNum(55));
        const auto ack = w.b({"PA", 0, 55, 10});
        QCOMPARE(ack.relAck, std::uint32_t{61});
        QCOMPARE(ack.relSeq, std::uint32_t{1});
        QCOMPARE(w.endA().sndUna, SeqNum(55));
        QCOMPARE(w.endA().rcvNxt, SeqNum(10));
        // Out of order across nothing but sequence space: skip [55, 75).
        const auto ahead = w.a({"PA", 75, 10, 20});
        QCOMPARE(classesOf(ahead), QStringLiteral("new_data,lost_segment,out_of_order"));
        QCOMPARE(classesOf(w.a({"PA", 55, 10, 20})), QStringLiteral("gap_fill"));
        QCOMPARE(w.endB().rcvNxt, SeqNum(95));
        // The first segment again, from before the wrap: a spurious retransmission.
        const auto old = w.a({"PA", kIsn + 1, 10, 20});
        QVERIFY(old.classes.has(SegmentClass::Retransmission));
        QVERIFY(old.classes.has(SegmentClass::SpuriousRetransmission));
        QVERIFY(!old.classes.has(SegmentClass::NewData));
        // Close across the wrap too.
        w.a({"FA", 95, 10});
        QCOMPARE(statesOf(w.b({"FA", 10, 96})), QStringLiteral("TIME-WAIT/LAST-ACK"));
    }

    void wrapAround_windowStraddlingTheWrap() {
        constexpr std::uint32_t kIsn = 4294967000u;
        Wire w;
        handshake(w, kIsn, kIsnB, 65535, 1000);
        w.b({"A", kIsnB + 1, kIsn + 1, 0, 1000}); // window [kIsn+1, kIsn+1001) wraps
        QVERIFY(!w.a({"PA", 100, kIsnB + 1, 10}).classes.has(SegmentClass::OutOfWindow));
        QVERIFY(w.a({"PA", 800, kIsnB + 1, 10}).classes.has(SegmentClass::OutOfWindow));
    }

    // ---- window scaling (RFC 7323 §2) ----------------------------------------------

    void windowScaling_appliesOnlyAfterBothSynsCarryIt() {
        Wire w;
        const auto syn = w.a({"S", kIsnA, 0, 0, 65535, optionsOf({TcpOption::windowScale(7)})});
        QCOMPARE(syn.window, std::uint32_t{65535});
        const auto synAck =
            w.b({"SA", kIsnB, kIsnA + 1, 0, 65535, optionsOf({TcpOption::windowScale(8)})});
        QCOMPARE(synAck.window, std::uint32_t{65535}); // a SYN's window is never scaled
        QVERIFY(w.conn().windowScaling());
        const auto ack = w.a({"A", kIsnA + 1, kIsnB + 1, 0, 100});
        QCOMPARE(ack.window, std::uint32_t{100} << 7);
        QCOMPARE(w.endB().sndWnd, std::uint32_t{100} << 7);
        const auto ackB = w.b({"A", kIsnB + 1, kIsnA + 1, 0, 100});
        QCOMPARE(ackB.window, std::uint32_t{100} << 8);
        QCOMPARE(w.endA().sndWnd, std::uint32_t{100} << 8);
        QCOMPARE(w.conn().windowShift(*w.conn().endOf(w.endpointA())), std::uint8_t{7});
    }

    void windowScaling_offeredByOneEndOnly_isNotUsed() {
        Wire w;
        w.a({"S", kIsnA, 0, 0, 65535, optionsOf({TcpOption::windowScale(7)})});
        w.b({"SA", kIsnB, kIsnA + 1, 0, 65535});
        QVERIFY(!w.conn().windowScaling());
        const auto ack = w.a({"A", kIsnA + 1, kIsnB + 1, 0, 100});
        QCOMPARE(ack.window, std::uint32_t{100});
        QCOMPARE(w.endB().sndWnd, std::uint32_t{100});
    }

    void windowScaling_shiftAbove14_isTaken14() {
        Wire w;
        w.a({"S", kIsnA, 0, 0, 65535, optionsOf({TcpOption::windowScale(15)})});
        w.b({"SA", kIsnB, kIsnA + 1, 0, 65535, optionsOf({TcpOption::windowScale(2)})});
        QCOMPARE(w.endA().windowScale, std::optional<std::uint8_t>(15));
        QCOMPARE(w.a({"A", kIsnA + 1, kIsnB + 1, 0, 1}).window, std::uint32_t{1} << 14);
    }

    void options_areReadFromTheSyns() {
        Wire w(true);
        w.a({"S", kIsnA, 0, 0, 65535,
             optionsOf({TcpOption::mss(1400), TcpOption::sackPermitted(),
                        TcpOption::timestamps(11, 0)})});
        w.b({"SA", kIsnB, kIsnA + 1, 0, 65535,
             optionsOf({TcpOption::mss(1200), TcpOption::timestamps(22, 11)})});
        QCOMPARE(w.endA().mss, std::optional<std::uint16_t>(1400));
        QCOMPARE(w.endB().mss, std::optional<std::uint16_t>(1200));
        const std::uint8_t a = *w.conn().endOf(w.endpointA());
        QCOMPARE(w.conn().sendMss(a), std::uint16_t{1200});
        QVERIFY(!w.conn().sackPermitted()); // b did not permit SACK
        QVERIFY(w.conn().timestamps());
        QCOMPARE(w.endB().tsVal, std::optional<std::uint32_t>(22));
        QCOMPARE(w.endB().tsEcr, std::optional<std::uint32_t>(11));
        // Without an MSS option the default applies (IPv6: 1220).
        Wire w2(true);
        w2.a({"S", kIsnA, 0});
        w2.b({"SA", kIsnB, kIsnA + 1});
        QCOMPARE(w2.conn().sendMss(0), Connection::kDefaultMssIpv6);
        Wire w4;
        w4.a({"S", kIsnA, 0});
        w4.b({"SA", kIsnB, kIsnA + 1});
        QCOMPARE(w4.conn().sendMss(0), Connection::kDefaultMssIpv4);
    }

    // ---- the table -----------------------------------------------------------------

    void unrelatedConnection_getsItsOwnTracker() {
        ConnectionTable table;
        Wire one;
        Wire two(false, 1);
        one.useTable(&table);
        two.useTable(&table);
        const auto s1 = one.a({"S", kIsnA, 0});
        const auto s2 = two.a({"S", 7000, 0});
        QCOMPARE(s1.connection, std::uint32_t{0});
        QCOMPARE(s2.connection, std::uint32_t{1});
        one.b({"SA", kIsnB, kIsnA + 1});
        const auto back = one.a({"A", kIsnA + 1, kIsnB + 1});
        QCOMPARE(back.connection, std::uint32_t{0});
        QCOMPARE(table.size(), std::size_t{2});
        QCOMPARE(table[0].end(0).state, TcpState::Established);
        QCOMPARE(table[1].end(0).state, TcpState::SynSent);
        QCOMPARE(table[1].end(1).state, TcpState::Listen);
        QCOMPARE(table[1].end(0).iss, SeqNum(7000));
        // Either direction first names the same connection.
        QCOMPARE(table.find(two.endpointB(), two.endpointA()), std::optional<std::size_t>(1));
    }

    void newSynOnAFinishedFourTuple_startsANewConnection() {
        Wire w;
        handshake(w);
        w.a({"FA", kIsnA + 1, kIsnB + 1});
        w.b({"FA", kIsnB + 1, kIsnA + 2});
        w.a({"A", kIsnA + 2, kIsnB + 2});
        QVERIFY(w.conn().finished());
        // The old SYN again belongs to the old connection.
        QCOMPARE(w.a({"S", kIsnA, 0}).connection, std::uint32_t{0});
        const auto fresh = w.a({"S", 90000, 0});
        QCOMPARE(fresh.connection, std::uint32_t{1});
        QCOMPARE(statesOf(fresh), QStringLiteral("SYN-SENT/LISTEN"));
        QCOMPARE(fresh.relSeq, std::uint32_t{0});
        QCOMPARE(w.table().size(), std::size_t{2});
    }

    void aSynDuringTheHandshake_staysInTheConnection() {
        Wire w;
        w.a({"S", kIsnA, 0});
        const auto again = w.a({"S", kIsnA, 0});
        QCOMPARE(again.connection, std::uint32_t{0});
        QCOMPARE(classesOf(again), QStringLiteral("syn,retransmission"));
        QCOMPARE(w.table().size(), std::size_t{1});
    }

    void nonTcpFrame_isNotTracked() {
        ConnectionTable table;
        const auto frames = test::readPcap("captures/linux_tcp_ipv4.pcap");
        QVERIFY(frames.size() >= 2);
        QVERIFY(!table.onFrame(decodeFrame(frames[0]))); // ARP
        QCOMPARE(table.size(), std::size_t{0});
        QVERIFY(!segmentOf(decodeFrame(frames[0])));
        QVERIFY(segmentOf(decodeFrame(frames[2])));
    }

    void snapLengthCut_countsTheDeclaredLength() {
        const auto frames = test::readPcap("captures/linux_tcp_ipv4.pcap");
        QVERIFY(frames.size() >= 6);
        const auto& data = frames[5]; // the 18-byte request
        const auto full = segmentOf(decodeFrame(data));
        QVERIFY(full);
        QCOMPARE(full->segment.payloadLength, std::uint32_t{18});
        const auto cut = test::prefixOf(data, data.size() - 10);
        const auto partial = segmentOf(decodeFrame(cut));
        QVERIFY(partial);
        QCOMPARE(partial->segment.payloadLength, std::uint32_t{18});
    }

    void localAddress_namesTheLocalEnd() {
        ConnectionTable table;
        table.addLocalAddress(IpAddress{kPeer4});
        Wire w;
        w.useTable(&table);
        w.a({"S", kIsnA, 0});
        QVERIFY(table[0].localEndKnown());
        QCOMPARE(table[0].localEnd(), std::uint8_t{1}); // b, although a is the client
        QCOMPARE(table[0].client(), std::optional<std::uint8_t>(0));
        // Given later, an address still names the local end of connections without one.
        ConnectionTable late;
        Wire w2;
        w2.useTable(&late);
        w2.a({"S", kIsnA, 0});
        QVERIFY(!late[0].localEndKnown());
        QCOMPARE(late[0].localEnd(), std::uint8_t{0}); // the client
        late.addLocalAddress(IpAddress{kPeer4});
        QCOMPARE(late[0].localEnd(), std::uint8_t{1});
    }

    void stateChanges_recordTheSegmentThatCausedThem() {
        Wire w;
        handshake(w);
        QCOMPARE(w.endA().stateSince, std::uint64_t{2}); // ESTABLISHED on the SYN-ACK
        QCOMPARE(w.endB().stateSince, std::uint64_t{3}); // ESTABLISHED on the final ACK
        w.a({"PA", kIsnA + 1, kIsnB + 1, 10});
        QCOMPARE(w.endA().stateSince, std::uint64_t{2}); // data changes no state
        w.a({"FA", kIsnA + 11, kIsnB + 1});
        QCOMPARE(w.endA().stateSince, std::uint64_t{5});
        QCOMPARE(w.endB().stateSince, std::uint64_t{5});
    }

    // ---- an observer joining late, and what-if ---------------------------------------

    void captureStartingMidConnection_numbersStartAtOne() {
        Wire w;
        const auto first = w.b({"PA", 7000, 3000, 10});
        QCOMPARE(first.relSeq, std::uint32_t{1});
        QCOMPARE(first.relAck, std::uint32_t{1});
        QCOMPARE(statesOf(first), QStringLiteral("ESTABLISHED/ESTABLISHED"));
        QCOMPARE(classesOf(first), QStringLiteral("new_data"));
        QVERIFY(w.endB().issInferred);
        QVERIFY(!w.conn().handshakeSeen());
        const auto reply = w.a({"A", 3000, 7010});
        QCOMPARE(reply.relSeq, std::uint32_t{1});
        QCOMPARE(reply.relAck, std::uint32_t{11});
        QCOMPARE(classesOf(reply), QString());
        QCOMPARE(w.endB().sndUna, SeqNum(7010));
        // Unknown scaling: nothing is out of window for want of knowledge.
        QVERIFY(!w.b({"PA", 7010, 3000, 1000, 1}).classes.has(SegmentClass::OutOfWindow));
    }

    void preview_leavesTheConnectionAsItWas() {
        Wire w;
        handshake(w);
        const Connection before = w.conn();
        const std::uint8_t a = *before.endOf(w.endpointA());
        Segment rst;
        rst.flags = tcp_flags::kRst;
        rst.seq = w.endB().rcvNxt;
        const auto r = before.preview(a, rst);
        QCOMPARE(classesOf(r), QStringLiteral("rst_accepted"));
        QCOMPARE(r.after, (std::array{TcpState::Closed, TcpState::Closed}));
        QCOMPARE(w.conn().end(0).state, TcpState::Established);
        QCOMPARE(w.conn().end(1).state, TcpState::Established);
        rst.seq = w.endB().rcvNxt + 5;
        QCOMPARE(classesOf(before.preview(a, rst)), QStringLiteral("rst_challenge"));
    }

    // ---- small parts ---------------------------------------------------------------

    void seqRangeSet_mergesSplitsAndWraps() {
        SeqRangeSet<4> set;
        set.add(SeqNum(10), SeqNum(20));
        set.add(SeqNum(30), SeqNum(40));
        set.add(SeqNum(20), SeqNum(30)); // touches both: one range
        QCOMPARE(set.size(), std::size_t{1});
        QVERIFY(set.covers(SeqNum(10), SeqNum(40)));
        QVERIFY(!set.covers(SeqNum(9), SeqNum(40)));
        set.remove(SeqNum(15), SeqNum(25));
        QCOMPARE(set.size(), std::size_t{2});
        QVERIFY(!set.overlaps(SeqNum(15), SeqNum(25)));
        QVERIFY(set.overlaps(SeqNum(24), SeqNum(26)));
        set.clear();
        set.add(SeqNum(4294967290u), SeqNum(5)); // across the wrap
        QVERIFY(set.covers(SeqNum(4294967295u), SeqNum(3)));
        QVERIFY(!set.covers(SeqNum(4294967295u), SeqNum(6)));
        // Capacity: the highest range is dropped.
        set.clear();
        for (std::uint32_t i = 0; i < 5; ++i)
            set.add(SeqNum(100 * i), SeqNum(100 * i + 10));
        QCOMPARE(set.size(), std::size_t{4});
        QVERIFY(!set.overlaps(SeqNum(400), SeqNum(410)));
        QVERIFY(set.overlaps(SeqNum(300), SeqNum(310)));
    }

    void names_areTheRfcSpellings() {
        QCOMPARE(stateName(TcpState::SynReceived), std::string_view("SYN-RECEIVED"));
        QCOMPARE(stateName(TcpState::FinWait2), std::string_view("FIN-WAIT-2"));
        QCOMPARE(stateName(TcpState::TimeWait), std::string_view("TIME-WAIT"));
        QCOMPARE(className(SegmentClass::DuplicateAck), std::string_view("dup_ack"));
        for (std::size_t i = 0; i < kSegmentClassCount; ++i)
            QVERIFY(className(SegmentClass(i)) != std::string_view("?"));
        QCOMPARE(Endpoint::v6(kPeer6, 80).toString(), std::string("[2001:db8::2]:80"));
        QCOMPARE(Endpoint::v4(kPeer4, 80).toString(), std::string("198.18.0.2:80"));
    }
};

QTEST_GUILESS_MAIN(TestTracker)
#include "tst_tracker.moc"
