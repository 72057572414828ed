// The tutor (core/tcp/tutor.h): annotations of every segment, the warnings before a
// segment is sent, the next-segment suggestions and auto-ACK.
//
// Segments are fed straight to a Connection (the tracker's value type); end 0 is the
// phantom ("you", port 40000), end 1 the peer (port 80).
#include <QtTest/QtTest>

#include "tcp/tracker.h"
#include "tcp/tutor.h"
#include "wire/tcp.h"

#include <algorithm>

using namespace tcplab;
using namespace tcplab::tcp;
using wire::SeqNum;

namespace {

const Endpoint kPhantom = Endpoint::v4(*wire::Ipv4Address::parse("198.18.0.1"), 40000);
const Endpoint kPeer = Endpoint::v4(*wire::Ipv4Address::parse("198.18.0.2"), 80);

constexpr std::uint32_t kIss = 100;        // the phantom's ISN
constexpr std::uint32_t kIrs = 3735928559; // the peer's ISN (0xDEADBEEF)

Segment seg(std::string_view flags, std::uint32_t seq, std::uint32_t ack, std::uint32_t len = 0,
            std::uint16_t win = 65535) {
    Segment s;
    s.flags = wire::parseTcpFlags(flags).value_or(0);
    s.seq = SeqNum(seq);
    s.ack = SeqNum(ack);
    s.payloadLength = len;
    s.window = win;
    return s;
}

/// A connection with the phantom as end 0, and the annotation of each segment fed.
class Lab {
public:
    Lab()
        : m_conn(kPhantom, kPeer) {
        m_conn.setLocalEnd(0);
    }
    /// The phantom sends.
    QString me(const Segment& s) { return feed(0, s); }
    /// The peer sends.
    QString peer(const Segment& s) { return feed(1, s); }
    const Connection& conn() const { return m_conn; }
    const SegmentResult& last() const { return m_last; }

    std::vector<TutorWarning> check(const Segment& s) const {
        return checkBeforeSend(m_conn, kPhantom, s);
    }

    /// Phantom opens to the peer: SYN, SYN-ACK, ACK.
    void handshake(std::uint32_t iss = kIss, std::uint32_t irs = kIrs) {
        me(seg("S", iss, 0));
        peer(seg("SA", irs, iss + 1));
        me(seg("A", iss + 1, irs + 1));
    }

private:
    QString feed(std::uint8_t sender, const Segment& s) {
        const Connection before = m_conn;
        m_last = m_conn.onSegment(sender, s);
        return QString::fromStdString(annotate(before, s, m_last));
    }
    Connection m_conn;
    SegmentResult m_last;
};

QStringList rulesOf(const std::vector<TutorWarning>& warnings) {
    QStringList out;
    for (const auto& w : warnings)
        out << QString::fromStdString(w.rule);
    return out;
}

const TutorWarning* find(const std::vector<TutorWarning>& warnings, std::string_view rule) {
    const auto it = std::find_if(warnings.begin(), warnings.end(),
                                 [rule](const TutorWarning& w) { return w.rule == rule; });
    return it == warnings.end() ? nullptr : &*it;
}

QString messageOf(const std::vector<TutorWarning>& warnings, std::string_view rule) {
    const TutorWarning* w = find(warnings, rule);
    return w ? QString::fromStdString(w->message) : QString();
}

QString rfcOf(const std::vector<TutorWarning>& warnings, std::string_view rule) {
    const TutorWarning* w = find(warnings, rule);
    return w ? QString::fromStdString(w->rfc) : QString();
}

} // namespace

class TestTutor : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // ---- annotate ------------------------------------------------------------------

    void annotate_classicExchange_hasTheNumbers() {
        Lab lab;
        const QString syn = lab.me(seg("S", kIss, 0));
        QVERIFY2(syn.startsWith(QLatin1String("SYN:")), qPrintable(syn));
        QVERIFY2(syn.contains(QLatin1String("ISN 100")), qPrintable(syn));
        QVERIFY2(syn.contains(QLatin1String("data starts at 101")), qPrintable(syn));

        const QString synAck = lab.peer(seg("SA", kIrs, kIss + 1));
        QVERIFY2(synAck.startsWith(QLatin1String(
                     "SYN-ACK: the peer's ISN is 3735928559; it acknowledges 101 = your ISN + 1, "
                     "because a SYN consumes one sequence number.")),
                 qPrintable(synAck));

        const QString ack = lab.me(seg("A", kIss + 1, kIrs + 1));
        QVERIFY2(ack.contains(QLatin1String("three-way handshake")), qPrintable(ack));
        QVERIFY2(ack.contains(QLatin1String("3735928560 = the peer's ISN + 1")), qPrintable(ack));
        QVERIFY2(ack.contains(QLatin1String("Both ends are now ESTABLISHED")), qPrintable(ack));

        const QString get = lab.me(seg("PA", kIss + 1, kIrs + 1, 18));
        QVERIFY2(get.contains(QLatin1String("Data: 18 bytes at relative seq 1 to 19 (seq 101)")),
                 qPrintable(get));
        QVERIFY2(get.contains(QLatin1String("It acknowledges 1 (ack 3735928560)")),
                 qPrintable(get));

        const QString ackGet = lab.peer(seg("A", kIrs + 1, kIss + 19));
        QVERIFY2(ackGet.contains(QLatin1String("your 18 new bytes")), qPrintable(ackGet));
        QVERIFY2(ackGet.contains(QLatin1String("relative 19 (ack 119)")), qPrintable(ackGet));

        const QString resp = lab.peer(seg("PA", kIrs + 1, kIss + 19, 72));
        QVERIFY2(resp.contains(QLatin1String("Data: 72 bytes at relative seq 1 to 73")),
                 qPrintable(resp));
        QVERIFY2(resp.contains(QLatin1String("the peer's next byte is relative 73")),
                 qPrintable(resp));

        const QString ackResp = lab.me(seg("A", kIss + 19, kIrs + 73));
        QVERIFY2(ackResp.contains(QLatin1String("the peer's 72 new bytes")), qPrintable(ackResp));

        const QString fin = lab.peer(seg("FA", kIrs + 73, kIss + 19));
        QVERIFY2(fin.contains(QLatin1String("FIN: the peer closes its side; the FIN takes "
                                            "relative seq 73")),
                 qPrintable(fin));
        QVERIFY2(fin.contains(QLatin1String("The peer goes from ESTABLISHED to FIN-WAIT-1")),
                 qPrintable(fin));
        QVERIFY2(fin.contains(QLatin1String("you from ESTABLISHED to CLOSE-WAIT")),
                 qPrintable(fin));

        const QString myFin = lab.me(seg("FA", kIss + 19, kIrs + 74));
        QVERIFY2(myFin.contains(QLatin1String("FIN: you close your side")), qPrintable(myFin));
        QVERIFY2(myFin.contains(QLatin1String("It acknowledges 74 (ack 3735928633)")),
                 qPrintable(myFin));
        QVERIFY2(myFin.contains(QLatin1String("You go from CLOSE-WAIT to LAST-ACK")),
                 qPrintable(myFin));
        QVERIFY2(myFin.contains(QLatin1String("the peer from FIN-WAIT-1 to TIME-WAIT")),
                 qPrintable(myFin));

        const QString lastAck = lab.peer(seg("A", kIrs + 74, kIss + 20));
        QVERIFY2(lastAck.contains(QLatin1String("ACK of your FIN: 120 = the FIN's seq 119 + 1")),
                 qPrintable(lastAck));
        QVERIFY2(lastAck.contains(QLatin1String("You go from LAST-ACK to CLOSED")),
                 qPrintable(lastAck));
    }

    void annotate_synOptions_areListed() {
        Lab lab;
        Segment s = seg("S", kIss, 0);
        s.mss = 1460;
        s.windowScale = 7;
        s.sackPermitted = true;
        const QString text = lab.me(s);
        QVERIFY2(text.contains(QLatin1String("It offers MSS 1460, window scale 7 and SACK.")),
                 qPrintable(text));
    }

    void annotate_synAckWithWrongAck_saysWhatWasExpected() {
        Lab lab;
        lab.me(seg("S", kIss, 0));
        const QString text = lab.peer(seg("SA", kIrs, kIss + 5));
        QVERIFY2(text.contains(QLatin1String("it acknowledges 105 where you expect 101")),
                 qPrintable(text));
        QVERIFY2(text.contains(QLatin1String("RST")), qPrintable(text));
    }

    void annotate_dupAcksAndRetransmissions() {
        Lab lab;
        lab.handshake();
        lab.me(seg("PA", kIss + 1, kIrs + 1, 100));
        lab.me(seg("PA", kIss + 101, kIrs + 1, 100));
        const QString dup1 = lab.peer(seg("A", kIrs + 1, kIss + 1));
        QVERIFY2(dup1.startsWith(QLatin1String("Duplicate ACK #1")), qPrintable(dup1));
        lab.peer(seg("A", kIrs + 1, kIss + 1));
        const QString dup3 = lab.peer(seg("A", kIrs + 1, kIss + 1));
        QVERIFY2(dup3.startsWith(QLatin1String("Duplicate ACK #3")), qPrintable(dup3));
        const QString fast = lab.me(seg("PA", kIss + 1, kIrs + 1, 100));
        QVERIFY2(fast.startsWith(QLatin1String("Retransmission: 100 bytes at relative seq 1 to "
                                               "101")),
                 qPrintable(fast));
        QVERIFY2(fast.contains(QLatin1String("fast retransmit after 3 duplicate ACKs")),
                 qPrintable(fast));
    }

    void annotate_outOfOrderAndGap() {
        Lab lab;
        lab.handshake();
        const QString ahead = lab.peer(seg("PA", kIrs + 101, kIss + 1, 50));
        QVERIFY2(ahead.contains(QLatin1String("the 100 bytes before it were not captured")),
                 qPrintable(ahead));
        QVERIFY2(ahead.contains(QLatin1String("you expect relative 1 first")), qPrintable(ahead));
        const QString fill = lab.peer(seg("PA", kIrs + 1, kIss + 1, 100));
        QVERIFY2(fill.contains(QLatin1String("It fills a gap")), qPrintable(fill));
    }

    void annotate_zeroWindowProbeAndUpdate() {
        Lab lab;
        lab.handshake();
        lab.me(seg("PA", kIss + 1, kIrs + 1, 10));
        const QString zero = lab.peer(seg("A", kIrs + 1, kIss + 11, 0, 0));
        QVERIFY2(zero.startsWith(QLatin1String("Zero window: the peer can take no more data")),
                 qPrintable(zero));
        const QString probe = lab.me(seg("A", kIss + 11, kIrs + 1, 1));
        QVERIFY2(probe.startsWith(QLatin1String("Zero-window probe: 1 byte at relative seq 11")),
                 qPrintable(probe));
        const QString update = lab.peer(seg("A", kIrs + 1, kIss + 11, 0, 4000));
        QVERIFY2(update.startsWith(QLatin1String("Window update: the same ACK 11, window 4000 "
                                                 "(was 0)")),
                 qPrintable(update));
    }

    void annotate_keepAlive() {
        Lab lab;
        lab.handshake();
        const QString text = lab.me(seg("A", kIss, kIrs + 1));
        QVERIFY2(text.startsWith(QLatin1String("Keep-alive: 0 bytes at relative seq 0")),
                 qPrintable(text));
    }

    void annotate_rstAcceptedChallengedIgnored() {
        {
            Lab lab;
            lab.handshake();
            const QString text = lab.peer(seg("R", kIrs + 1, 0));
            QVERIFY2(text.contains(QLatin1String("exactly your RCV.NXT")), qPrintable(text));
            QVERIFY2(text.contains(QLatin1String("you from ESTABLISHED to CLOSED")),
                     qPrintable(text));
        }
        {
            Lab lab;
            lab.handshake();
            const QString text = lab.peer(seg("R", kIrs + 10, 0));
            QVERIFY2(text.contains(QLatin1String("challenge ACK")), qPrintable(text));
            QVERIFY2(text.contains(QLatin1String("RCV.NXT = 3735928560 (relative 1)")),
                     qPrintable(text));
        }
        {
            Lab lab;
            lab.handshake();
            const QString text = lab.peer(seg("R", kIrs + 1 + 70000, 0));
            QVERIFY2(text.contains(QLatin1String("outside your window [1, 65536)")),
                     qPrintable(text));
        }
        {
            Lab lab;
            lab.me(seg("S", kIss, 0));
            const QString text = lab.peer(seg("R", 0, 0));
            QVERIFY2(text.contains(QLatin1String("RST without ACK")), qPrintable(text));
            QVERIFY2(text.contains(QLatin1String("(101)")), qPrintable(text));
        }
    }

    void annotate_unacceptableAckAndOutOfWindow() {
        Lab lab;
        lab.handshake();
        const QString ahead = lab.me(seg("A", kIss + 1, kIrs + 500));
        QVERIFY2(ahead.startsWith(QLatin1String("Unacceptable ACK: it acknowledges 3735929059 "
                                                "(relative 500), beyond anything the peer sent "
                                                "(SND.NXT = 3735928560 (relative 1))")),
                 qPrintable(ahead));
        const QString outside = lab.me(seg("PA", kIss + 100000, kIrs + 1, 10));
        QVERIFY2(outside.startsWith(QLatin1String("Out of window: seq 100100 (relative 100000)")),
                 qPrintable(outside));
        QVERIFY2(outside.contains(QLatin1String("[1, 65536)")), qPrintable(outside));
    }

    void annotate_oldRetransmission_isBelowRcvNxt() {
        Lab lab;
        lab.handshake();
        lab.peer(seg("PA", kIrs + 1, kIss + 1, 72));
        lab.me(seg("A", kIss + 1, kIrs + 73));
        const QString again = lab.peer(seg("PA", kIrs + 1, kIss + 1, 72));
        QVERIFY2(again.startsWith(QLatin1String("Retransmission of 72 sequence numbers at relative "
                                                "seq 1 that you already have: all below RCV.NXT = "
                                                "relative 73")),
                 qPrintable(again));
    }

    void annotate_synOnEstablished_challenge() {
        Lab lab;
        lab.handshake();
        const QString text = lab.peer(seg("S", kIrs + 5, 0));
        QVERIFY2(text.contains(QLatin1String("challenge ACK")), qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("RFC 5961 §4.2")), qPrintable(text));
    }

    // ---- checkBeforeSend: each rule fires, and does not on the right segment ---------

    void check_rightSegments_noWarnings() {
        Lab lab;
        QVERIFY(lab.check(seg("S", kIss, 0)).empty());
        lab.me(seg("S", kIss, 0));
        lab.peer(seg("SA", kIrs, kIss + 1));
        QVERIFY(lab.check(seg("A", kIss + 1, kIrs + 1)).empty());
        QVERIFY(lab.check(seg("PA", kIss + 1, kIrs + 1, 18)).empty()); // data on the ACK
        lab.me(seg("A", kIss + 1, kIrs + 1));
        QVERIFY(lab.check(seg("PA", kIss + 1, kIrs + 1, 18)).empty());
        QVERIFY(lab.check(seg("FA", kIss + 1, kIrs + 1)).empty());
        QVERIFY(lab.check(seg("R", kIss + 1, 0)).empty());
    }

    void check_ackNotAcknowledgingSyn() {
        Lab lab;
        lab.me(seg("S", kIss, 0));
        lab.peer(seg("SA", kIrs, kIss + 1));
        const auto w = lab.check(seg("A", kIss + 1, kIrs));
        QCOMPARE(rulesOf(w), QStringList{QStringLiteral("ack-not-acknowledging-syn")});
        QVERIFY2(messageOf(w, "ack-not-acknowledging-syn")
                     .contains(QLatin1String("expected IRS + 1 = 3735928560")),
                 qPrintable(messageOf(w, "ack-not-acknowledging-syn")));
        QCOMPARE(rfcOf(w, "ack-not-acknowledging-syn"), QStringLiteral("RFC 9293 §3.10.7.4"));
        QVERIFY(!find(lab.check(seg("A", kIss + 1, kIrs + 1)), "ack-not-acknowledging-syn"));

        // The phantom as server: its SYN-ACK must acknowledge the peer's SYN.
        Lab server;
        server.peer(seg("S", kIrs, 0));
        const auto bad = server.check(seg("SA", kIss, kIrs + 2));
        QVERIFY(find(bad, "ack-not-acknowledging-syn"));
        QCOMPARE(rfcOf(bad, "ack-not-acknowledging-syn"), QStringLiteral("RFC 9293 §3.10.7.3"));
        QVERIFY(server.check(seg("SA", kIss, kIrs + 1)).empty());
    }

    void check_seqOutsideWindow() {
        Lab lab;
        lab.handshake();
        const auto w = lab.check(seg("PA", kIss + 1 + 70000, kIrs + 1, 10));
        QVERIFY(find(w, "seq-outside-window"));
        QVERIFY2(messageOf(w, "seq-outside-window")
                     .contains(QLatin1String("[101, 65636) (window 65535)")),
                 qPrintable(messageOf(w, "seq-outside-window")));
        QVERIFY2(messageOf(w, "seq-outside-window").contains(QLatin1String("Expected seq 101")),
                 qPrintable(messageOf(w, "seq-outside-window")));
        QCOMPARE(rfcOf(w, "seq-outside-window"), QStringLiteral("RFC 9293 §3.10.7.4"));
        // The last byte of the window is still in.
        QVERIFY(!find(lab.check(seg("PA", kIss + 1 + 65534, kIrs + 1, 1)), "seq-outside-window"));
    }

    void check_seqBeyondRcvNxt_leavesAHole() {
        Lab lab;
        lab.handshake();
        const auto w = lab.check(seg("PA", kIss + 11, kIrs + 1, 10));
        QCOMPARE(rulesOf(w), QStringList{QStringLiteral("seq-beyond-rcv-nxt")});
        QVERIFY(messageOf(w, "seq-beyond-rcv-nxt").contains(QLatin1String("hole of 10 bytes")));
        QVERIFY(lab.check(seg("PA", kIss + 1, kIrs + 1, 10)).empty());
    }

    void check_dataBeforeHandshake() {
        Lab lab;
        // Data on the SYN.
        const auto onSyn = lab.check(seg("S", kIss, 0, 20));
        QVERIFY(find(onSyn, "data-before-handshake"));
        QCOMPARE(rfcOf(onSyn, "data-before-handshake"), QStringLiteral("RFC 9293 §3.10.7.3"));
        lab.me(seg("S", kIss, 0));
        // Data before the SYN-ACK arrived.
        const auto early = lab.check(seg("PA", kIss + 1, 0, 20));
        QVERIFY(find(early, "data-before-handshake"));
        QVERIFY(messageOf(early, "data-before-handshake").contains(QLatin1String("SYN-SENT")));
        lab.peer(seg("SA", kIrs, kIss + 1));
        QVERIFY(!find(lab.check(seg("PA", kIss + 1, kIrs + 1, 20)), "data-before-handshake"));
    }

    void check_rstIgnoredOrChallenged() {
        Lab lab;
        lab.handshake();
        const auto out = lab.check(seg("R", kIss + 1 + 70000, 0));
        QCOMPARE(rulesOf(out), QStringList{QStringLiteral("rst-ignored")});
        QVERIFY(messageOf(out, "rst-ignored").contains(QLatin1String("Use seq = RCV.NXT = 101")));
        QCOMPARE(rfcOf(out, "rst-ignored"), QStringLiteral("RFC 5961 §3.2"));
        const auto in = lab.check(seg("R", kIss + 5, 0));
        QCOMPARE(rulesOf(in), QStringList{QStringLiteral("rst-challenged")});
        QVERIFY(messageOf(in, "rst-challenged").contains(QLatin1String("Use seq 101")));
        QVERIFY(lab.check(seg("R", kIss + 1, 0)).empty());
        QVERIFY(lab.check(seg("RA", kIss + 1, kIrs + 1)).empty());
    }

    void check_rstToSynSent_needsTheAckOfItsSyn() {
        Lab server;
        server.peer(seg("S", kIrs, 0));
        const auto w = server.check(seg("R", 0, 0));
        QVERIFY(find(w, "rst-ignored"));
        QCOMPARE(rfcOf(w, "rst-ignored"), QStringLiteral("RFC 9293 §3.10.7.3"));
        QVERIFY(messageOf(w, "rst-ignored").contains(QLatin1String("3735928560")));
        QVERIFY(server.check(seg("RA", 0, kIrs + 1)).empty());
    }

    void check_ackOfUnsentData() {
        Lab lab;
        lab.handshake();
        const auto w = lab.check(seg("A", kIss + 1, kIrs + 100));
        QCOMPARE(rulesOf(w), QStringList{QStringLiteral("ack-of-unsent-data")});
        QVERIFY(messageOf(w, "ack-of-unsent-data").contains(QLatin1String("3735928560")));
        lab.peer(seg("PA", kIrs + 1, kIss + 1, 99));
        QVERIFY(lab.check(seg("A", kIss + 1, kIrs + 100)).empty());
    }

    void check_ackTooOld() {
        Lab lab;
        lab.me(seg("S", kIss, 0));
        lab.peer(seg("SA", kIrs, kIss + 1, 0, 1000));
        lab.me(seg("A", kIss + 1, kIrs + 1));
        lab.peer(seg("PA", kIrs + 1, kIss + 1, 1000));
        lab.me(seg("A", kIss + 1, kIrs + 1001));
        // MAX.SND.WND of the peer is 65535 (our window): 100000 back is too old.
        const auto w = lab.check(seg("A", kIss + 1, kIrs + 1001 - 100000));
        QVERIFY(find(w, "ack-too-old"));
        QCOMPARE(rfcOf(w, "ack-too-old"), QStringLiteral("RFC 5961 §5.2"));
        QVERIFY(!find(lab.check(seg("A", kIss + 1, kIrs + 1)), "ack-too-old"));
    }

    void check_synOnEstablished() {
        Lab lab;
        lab.handshake();
        const auto w = lab.check(seg("S", kIss + 5, 0));
        QCOMPARE(rulesOf(w), QStringList{QStringLiteral("syn-on-established")});
        QCOMPARE(rfcOf(w, "syn-on-established"), QStringLiteral("RFC 5961 §4.2"));
        Lab fresh;
        QVERIFY(!find(fresh.check(seg("S", kIss + 5, 0)), "syn-on-established"));
    }

    void check_flagCombinations() {
        Lab lab;
        QVERIFY(find(lab.check(seg("SF", kIss, 0)), "flags-syn-fin"));
        QVERIFY(find(lab.check(seg("SR", kIss, 0)), "flags-syn-rst"));
        QVERIFY(!find(lab.check(seg("S", kIss, 0)), "flags-syn-fin"));
        QVERIFY(!find(lab.check(seg("S", kIss, 0)), "flags-syn-rst"));
    }

    void check_noAckBit() {
        Lab lab;
        lab.handshake();
        const auto w = lab.check(seg("P", kIss + 1, 0, 10));
        QVERIFY(find(w, "no-ack-bit"));
        QVERIFY(messageOf(w, "no-ack-bit").contains(QLatin1String("ack = 3735928560")));
        QVERIFY(!find(lab.check(seg("PA", kIss + 1, kIrs + 1, 10)), "no-ack-bit"));
    }

    void check_ackToListen() {
        // The phantom as client: the peer answered nothing yet; a bare ACK to a LISTEN end.
        Connection c(kPhantom, kPeer);
        c.setLocalEnd(0);
        c.onSegment(0, seg("S", kIss, 0));
        QCOMPARE(c.end(1).state, TcpState::Listen);
        const auto w = checkBeforeSend(c, kPhantom, seg("A", kIss + 1, 5));
        QVERIFY(find(w, "ack-to-listen"));
        QVERIFY(!find(checkBeforeSend(c, kPhantom, seg("S", kIss, 0)), "ack-to-listen"));
    }

    void check_peerClosed() {
        Lab lab;
        lab.handshake();
        lab.peer(seg("RA", kIrs + 1, kIss + 1)); // the peer aborts
        const auto w = lab.check(seg("A", kIss + 1, kIrs + 1));
        QVERIFY(find(w, "peer-closed"));
        QVERIFY(!find(lab.check(seg("R", kIss + 1, 0)), "peer-closed"));
        Lab open;
        open.handshake();
        QVERIFY(!find(open.check(seg("A", kIss + 1, kIrs + 1)), "peer-closed"));
    }

    void check_unknownSender_noWarnings() {
        Lab lab;
        lab.handshake();
        const Endpoint other = Endpoint::v4(*wire::Ipv4Address::parse("198.18.0.9"), 1);
        QVERIFY(checkBeforeSend(lab.conn(), other, seg("SF", 0, 0)).empty());
    }

    void check_leavesTheConnectionAsItWas() {
        Lab lab;
        lab.handshake();
        const std::uint64_t count = lab.conn().segmentCount();
        lab.check(seg("R", kIss + 1, 0));
        QCOMPARE(lab.conn().segmentCount(), count);
        QCOMPARE(lab.conn().end(1).state, TcpState::Established);
    }

    // ---- suggestions ---------------------------------------------------------------

    void suggestNext_afterSynAck_isTheHandshakeAck() {
        Lab lab;
        lab.me(seg("S", kIss, 0));
        QVERIFY(!suggestNext(lab.conn(), kPhantom)); // waiting in SYN-SENT
        lab.peer(seg("SA", kIrs, kIss + 1));
        const auto s = suggestNext(lab.conn(), kPhantom);
        QVERIFY(s);
        QCOMPARE(s->flags, wire::tcp_flags::kAck);
        QCOMPARE(s->ack, SeqNum(kIrs + 1));
        QCOMPARE(s->seq, SeqNum(kIss + 1));
        QVERIFY2(s->reason.find("IRS + 1") != std::string::npos, s->reason.c_str());
        // The suggestion, sent, draws no warning and establishes the peer.
        const Segment next = seg("A", s->seq.value(), s->ack.value(), 0, s->window);
        QVERIFY(lab.check(next).empty());
        lab.me(next);
        QCOMPARE(lab.conn().end(1).state, TcpState::Established);
    }

    void suggestNext_afterPeerData_acknowledgesIt() {
        Lab lab;
        lab.handshake();
        lab.me(seg("PA", kIss + 1, kIrs + 1, 18));
        lab.peer(seg("PA", kIrs + 1, kIss + 19, 72));
        const auto s = suggestNext(lab.conn(), kPhantom);
        QVERIFY(s);
        QCOMPARE(s->flags, wire::tcp_flags::kAck);
        QCOMPARE(s->seq, SeqNum(kIss + 19));
        QCOMPARE(s->ack, SeqNum(kIrs + 73));
        QVERIFY2(s->reason.find("72 new bytes") != std::string::npos, s->reason.c_str());
        lab.me(seg("A", s->seq.value(), s->ack.value()));
        // Nothing left to acknowledge: the suggestion is a FIN at SND.NXT.
        const auto idle = suggestNext(lab.conn(), kPhantom);
        QVERIFY(idle);
        QCOMPARE(idle->flags, std::uint8_t(wire::tcp_flags::kFin | wire::tcp_flags::kAck));
        QCOMPARE(idle->seq, SeqNum(kIss + 19));
    }

    void suggestNext_afterPeerFin_acknowledgesFinPlusOne() {
        Lab lab;
        lab.handshake();
        lab.peer(seg("FA", kIrs + 1, kIss + 1));
        const auto s = suggestNext(lab.conn(), kPhantom);
        QVERIFY(s);
        QCOMPARE(s->flags, wire::tcp_flags::kAck);
        QCOMPARE(s->ack, SeqNum(kIrs + 2));
        QVERIFY2(s->reason.find("FIN") != std::string::npos, s->reason.c_str());
        lab.me(seg("A", s->seq.value(), s->ack.value()));
        // In CLOSE-WAIT with everything acknowledged: our FIN.
        const auto fin = suggestNext(lab.conn(), kPhantom);
        QVERIFY(fin);
        QCOMPARE(fin->flags, std::uint8_t(wire::tcp_flags::kFin | wire::tcp_flags::kAck));
        QCOMPARE(fin->seq, SeqNum(kIss + 1));
        QCOMPARE(fin->ack, SeqNum(kIrs + 2));
        lab.me(seg("FA", fin->seq.value(), fin->ack.value()));
        QCOMPARE(lab.conn().end(0).state, TcpState::LastAck);
        QVERIFY(!suggestNext(lab.conn(), kPhantom)); // waiting for the last ACK
    }

    void suggestNext_asServer_isTheSynAck() {
        Lab server;
        server.peer(seg("S", kIrs, 0));
        const auto s = suggestNext(server.conn(), kPhantom);
        QVERIFY(s);
        QCOMPARE(s->flags, std::uint8_t(wire::tcp_flags::kSyn | wire::tcp_flags::kAck));
        QCOMPARE(s->ack, SeqNum(kIrs + 1));
        QVERIFY(server.check(seg("SA", s->seq.value(), s->ack.value())).empty());
    }

    void suggestNext_unknownEndpointOrNothingSeen() {
        Lab lab;
        QVERIFY(!suggestNext(lab.conn(), kPhantom));
        lab.handshake();
        const Endpoint other = Endpoint::v4(*wire::Ipv4Address::parse("198.18.0.9"), 1);
        QVERIFY(!suggestNext(lab.conn(), other));
    }

    void suggestReset_seqIsThePeersRcvNxt() {
        Lab lab;
        QVERIFY(!suggestReset(lab.conn(), kPhantom));
        lab.handshake();
        lab.me(seg("PA", kIss + 1, kIrs + 1, 18));
        const auto s = suggestReset(lab.conn(), kPhantom);
        QVERIFY(s);
        QVERIFY((s->flags & wire::tcp_flags::kRst) != 0);
        QCOMPARE(s->seq, SeqNum(kIss + 19));
        QCOMPARE(s->seq, lab.conn().end(1).rcvNxt);
        const Segment rst = seg("RA", s->seq.value(), s->ack.value(), 0, 0);
        QVERIFY(lab.check(rst).empty());
        lab.me(rst);
        QVERIFY(lab.last().classes.has(SegmentClass::RstAccepted));
        QCOMPARE(lab.conn().end(1).state, TcpState::Closed);
    }

    void suggestReset_peerInSynSent_acknowledgesItsSyn() {
        Lab server;
        server.peer(seg("S", kIrs, 0));
        const auto s = suggestReset(server.conn(), kPhantom);
        QVERIFY(s);
        QCOMPARE(s->ack, SeqNum(kIrs + 1));
        server.me(seg("RA", s->seq.value(), s->ack.value(), 0, 0));
        QVERIFY(server.last().classes.has(SegmentClass::RstAccepted));
    }

    void autoAck_onlyForNewDataOrFin() {
        Lab lab;
        lab.handshake();
        // Our own data: nothing to acknowledge.
        lab.me(seg("PA", kIss + 1, kIrs + 1, 10));
        QVERIFY(!autoAck(lab.conn(), kPhantom, lab.last()));
        // A pure ACK from the peer: nothing.
        lab.peer(seg("A", kIrs + 1, kIss + 11));
        QVERIFY(!autoAck(lab.conn(), kPhantom, lab.last()));
        // New data: its ACK.
        lab.peer(seg("PA", kIrs + 1, kIss + 11, 500));
        const auto a = autoAck(lab.conn(), kPhantom, lab.last());
        QVERIFY(a);
        QCOMPARE(a->flags, wire::tcp_flags::kAck);
        QCOMPARE(a->seq, SeqNum(kIss + 11));
        QCOMPARE(a->ack, SeqNum(kIrs + 501));
        QVERIFY2(a->reason.rfind("Auto-ACK", 0) == 0, a->reason.c_str());
        lab.me(seg("A", a->seq.value(), a->ack.value()));
        // The same data again (a retransmission): already acknowledged.
        lab.peer(seg("PA", kIrs + 1, kIss + 11, 500));
        QVERIFY(lab.last().classes.has(SegmentClass::Retransmission));
        QVERIFY(!autoAck(lab.conn(), kPhantom, lab.last()));
        // Out of order: RCV.NXT does not move, nothing new to acknowledge.
        lab.peer(seg("PA", kIrs + 1001, kIss + 11, 100));
        QVERIFY(!autoAck(lab.conn(), kPhantom, lab.last()));
        // The gap filled: everything up to the end of the held data.
        lab.peer(seg("PA", kIrs + 501, kIss + 11, 500));
        const auto filled = autoAck(lab.conn(), kPhantom, lab.last());
        QVERIFY(filled);
        QCOMPARE(filled->ack, SeqNum(kIrs + 1101));
        lab.me(seg("A", filled->seq.value(), filled->ack.value()));
        // A FIN: FIN + 1.
        lab.peer(seg("FA", kIrs + 1101, kIss + 11));
        const auto fin = autoAck(lab.conn(), kPhantom, lab.last());
        QVERIFY(fin);
        QCOMPARE(fin->ack, SeqNum(kIrs + 1102));
        // A RST: nothing.
        Lab reset;
        reset.handshake();
        reset.peer(seg("R", kIrs + 1, 0));
        QVERIFY(!autoAck(reset.conn(), kPhantom, reset.last()));
    }

    // ---- wrap-around ---------------------------------------------------------------

    void wrapAround_isnNearTwoToThe32() {
        constexpr std::uint32_t kIssW = 4294967290u; // 6 below the wrap
        constexpr std::uint32_t kIrsW = 4294967295u; // the last number
        Lab lab;
        lab.me(seg("S", kIssW, 0));
        const QString synAck = lab.peer(seg("SA", kIrsW, kIssW + 1));
        QVERIFY2(synAck.contains(QLatin1String("ISN is 4294967295; it acknowledges 4294967291")),
                 qPrintable(synAck));
        const auto ack = suggestNext(lab.conn(), kPhantom);
        QVERIFY(ack);
        QCOMPARE(ack->ack, SeqNum(0)); // IRS + 1 wraps to 0
        QCOMPARE(ack->seq, SeqNum(kIssW + 1));
        QVERIFY(lab.check(seg("A", kIssW + 1, 0)).empty());
        QVERIFY(find(lab.check(seg("A", kIssW + 1, kIrsW)), "ack-not-acknowledging-syn"));
        lab.me(seg("A", kIssW + 1, 0));
        // 20 bytes across the wrap: relative 1 to 21.
        const QString data = lab.me(seg("PA", kIssW + 1, 0, 20));
        QVERIFY2(data.contains(QLatin1String("Data: 20 bytes at relative seq 1 to 21 (seq "
                                             "4294967291)")),
                 qPrintable(data));
        QVERIFY(lab.check(seg("PA", kIssW + 21, 0, 10)).empty()); // seq 15, past the wrap
        lab.peer(seg("PA", 0, kIssW + 21, 30));
        const auto a = suggestNext(lab.conn(), kPhantom);
        QVERIFY(a);
        QCOMPARE(a->ack, SeqNum(30));
        QCOMPARE(a->seq, SeqNum(15));
        const auto rst = suggestReset(lab.conn(), kPhantom);
        QVERIFY(rst);
        QCOMPARE(rst->seq, SeqNum(15));
        QVERIFY(find(lab.check(seg("R", kIssW, 0)), "rst-ignored")); // before the wrap, old
    }
};

QTEST_GUILESS_MAIN(TestTutor)
#include "tst_tutor.moc"
