// engine::Walkthrough, the click-through handshake demo's core. Pure tests drive it with
// frames built by hand as a Linux peer answers; the live tests click the classic
// exercise through against the built-in Linux lab (a real kernel in a user + network
// namespace), sending each prefilled segment through the Engine and feeding back what
// the timeline records.
#include <QObject>
#include <QTest>

#include "tests_support/test_support.h"

#include "engine/engine.h"
#include "engine/scenario.h"
#include "engine/walkthrough.h"
#include "host/phantom_host.h"
#include "lab/builtin_lab.h"
#include "lab/peer_app.h"
#include "timeline/peer_records.h"
#include "timeline/timeline.h"
#include "wire/segment_spec.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#ifndef TCPLAB_LAB_HELPER_PATH
#define TCPLAB_LAB_HELPER_PATH TCPLAB_BINARY_DIR "/app/tcplab-lab-helper"
#endif

#ifndef TCPLAB_PEER_AGENT_PATH
#define TCPLAB_PEER_AGENT_PATH TCPLAB_BINARY_DIR "/app/tcplab-peer-agent"
#endif

using namespace tcplab;
using namespace tcplab::test;
using engine::CloseMode;
using engine::ConnectionParams;
using engine::Walkthrough;
using wire::SegmentSpec;
using wire::SeqNum;
namespace flags = wire::tcp_flags;
using Kind = Walkthrough::Step::Kind;

Q_DECLARE_METATYPE(tcplab::engine::CloseMode)

namespace {

const auto kPhantomMac = *wire::MacAddress::parse("02:00:00:00:00:0b");
const auto kPeerMac = *wire::MacAddress::parse("02:00:00:00:00:0a");
const auto kPhantomIp = *wire::Ipv4Address::parse("198.18.0.2");
const auto kPeerIp = *wire::Ipv4Address::parse("198.18.0.1");
constexpr std::uint32_t kIrs = 3735928559u; // the peer's ISN in the pure tests
const std::string kRequest = "GET / HTTP/1.1\r\n\r\n";
const std::string kResponseHead = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n";
const std::string kResponseBody = "Hello world\n";

std::vector<std::uint8_t> bytesOf(const std::string& s) {
    return {s.begin(), s.end()};
}

ConnectionParams params(std::uint32_t iss = 100, std::uint16_t port = 50001) {
    ConnectionParams p;
    p.phantomMac = kPhantomMac;
    p.nextHopMac = kPeerMac;
    p.phantom = kPhantomIp;
    p.peer = kPeerIp;
    p.destinationPort = port;
    p.iss = SeqNum(iss);
    p.request = bytesOf(kRequest);
    return p;
}

/// A segment from the peer (as its kernel would send it) to the phantom.
std::vector<std::uint8_t> fromPeer(std::uint8_t f, std::uint32_t seq, std::uint32_t ack,
                                   const std::string& data = {}, std::uint16_t port = 50001) {
    SegmentSpec s;
    s.ethernet.src = kPeerMac;
    s.ethernet.dst = kPhantomMac;
    wire::Ipv4Header ip;
    ip.src = kPeerIp;
    ip.dst = kPhantomIp;
    s.ip = ip;
    s.tcp.srcPort = port;
    s.tcp.dstPort = 50000;
    s.tcp.flags = f;
    s.tcp.seq = SeqNum(seq);
    s.tcp.ack = SeqNum(ack);
    s.tcp.window = 64240;
    s.payload = bytesOf(data);
    return *s.encode();
}

/// Fires the current step's prefill as it is.
void fire(Walkthrough& w, std::int64_t t = 0) {
    const auto step = w.current();
    QVERIFY2(step.kind == Kind::Send && step.prefill, step.name.c_str());
    const auto bytes = step.prefill->encode();
    QVERIFY(bytes.has_value());
    w.fired(*bytes, t);
}

std::string allNotes(const Walkthrough& w) {
    std::string s;
    for (const auto& n : w.notes())
        s += n + "\n";
    return s;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

#define VERIFY_STEP(w, kindV, nameV)                                                               \
    do {                                                                                           \
        const auto st_ = (w).current();                                                            \
        QVERIFY2(st_.kind == (kindV) && st_.name == (nameV),                                       \
                 qPrintable(qs("at \"" + st_.name + "\"\n" + allNotes(w))));                       \
    } while (false)

void checkTcp(const Walkthrough& w, std::uint8_t f, std::uint32_t seq, std::uint32_t ack) {
    const auto step = w.current();
    QVERIFY(step.prefill.has_value());
    const auto& t = step.prefill->tcp;
    QCOMPARE(qs(wire::tcpFlagsToString(t.flags)), qs(wire::tcpFlagsToString(f)));
    QCOMPARE(t.seq.value(), seq);
    QCOMPARE(t.ack.value(), ack);
    QCOMPARE(t.srcPort, std::uint16_t{50000});
    QVERIFY2(!step.explanation.empty(), step.name.c_str());
}

/// SYN, SYN-ACK, ACK, GET: the walkthrough then waits for the response.
void handshakeAndGet(Walkthrough& w, std::uint32_t iss, std::uint32_t irs) {
    VERIFY_STEP(w, Kind::Send, "SYN");
    checkTcp(w, flags::kSyn, iss, 0);
    QVERIFY(w.current().prefill->payload.empty());
    fire(w);
    VERIFY_STEP(w, Kind::Await, "SYN-ACK");
    const std::uint32_t isn1 = iss + 1;
    QVERIFY(contains(w.current().expectation, "SYN-ACK acknowledging " + std::to_string(isn1)));
    w.received(fromPeer(flags::kSyn | flags::kAck, irs, isn1), 0);
    VERIFY_STEP(w, Kind::Send, "ACK");
    checkTcp(w, flags::kAck, isn1, irs + 1);
    QVERIFY(contains(w.current().explanation, std::to_string(irs + 1u)));
    QVERIFY(w.warningsFor(*w.current().prefill).empty());
    fire(w);
    VERIFY_STEP(w, Kind::Send, "GET");
    checkTcp(w, flags::kPsh | flags::kAck, isn1, irs + 1);
    QCOMPARE(w.current().prefill->payload, bytesOf(kRequest));
    QVERIFY(w.warningsFor(*w.current().prefill).empty());
    fire(w);
    VERIFY_STEP(w, Kind::Await, "response");
}

// ---------------------------------------------------------------------------------
// The live lab.

std::string helperPath() {
    if (const char* env = std::getenv("TCPLAB_LAB_HELPER"); env && *env)
        return env;
    return TCPLAB_LAB_HELPER_PATH;
}

} // namespace

/// Clicks `w` through as a person would, against the live engine `eng` on `timeline`: a
/// Send step's prefill is fired (`onSend` sees it first), a Peer step's call made, and an
/// Await waits (at most 5 s) for the step to change; frames, the peer's answers and its
/// samples are fed to the walkthrough in order. Bounded: 30 clicks, 30 s. A failure is
/// reported with QVERIFY (the caller checks QTest::currentTestFailed()).
void clickThrough(Walkthrough& w, engine::Engine& eng, const timeline::Timeline& timeline,
                  const std::function<void(const Walkthrough::Step&)>& onSend = {}) {
    std::size_t cursor = 0;
    std::size_t peerCursor = 0;
    const auto feed = [&] {
        for (auto& e : eng.takeEvents())
            if (e.kind == engine::EngineEvent::Kind::PeerCall && e.call)
                w.peerAnswered(*e.call);
        for (; cursor < timeline.size(); ++cursor) {
            const auto& e = timeline[cursor];
            if (e.direction == timeline::Direction::Received)
                w.received(std::span(e.bytes.data(), e.bytes.size()), e.timeNs);
        }
        for (; peerCursor < timeline.peerSize(); ++peerCursor)
            if (auto sample = timeline::sampleRecord(timeline.peer(peerCursor)))
                w.sampled(*sample);
    };
    const auto start = std::chrono::steady_clock::now();
    for (int clicks = 0; clicks < 30 && !w.finished() && !w.failed(); ++clicks) {
        QVERIFY2(std::chrono::steady_clock::now() - start < std::chrono::seconds(30),
                 allNotes(w).c_str());
        const auto step = w.current();
        if (step.kind == Kind::Peer) {
            QVERIFY(step.call);
            w.peerCalled(eng.peerCall(*step.call));
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            feed();
            continue;
        }
        if (step.kind == Kind::Send) {
            if (onSend)
                onSend(step);
            auto frame = step.prefill->encode();
            QVERIFY(frame.has_value());
            eng.sendFrame(*frame);
            w.fired(*frame, 0);
            // Let what the segment draws arrive before the next click (a person clicks
            // slower than this).
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            feed();
            continue;
        }
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (std::chrono::steady_clock::now() < deadline) {
            feed();
            const auto now = w.current();
            if (now.kind != step.kind || now.name != step.name || w.failed())
                break;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        const auto now = w.current();
        QVERIFY2(now.kind != step.kind || now.name != step.name,
                 qPrintable(qs("stuck at \"" + step.name + "\"\n" + allNotes(w))));
    }
}

class TestWalkthrough : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void classicFin_everyPrefill_followsThePeer() {
        Walkthrough w(engine::classicScenario(CloseMode::Fin), params());
        QVERIFY(contains(w.current().explanation, "100"));
        QVERIFY(contains(w.current().explanation, "101"));
        handshakeAndGet(w, 100, kIrs);
        if (QTest::currentTestFailed())
            return;
        const std::uint32_t sndNxt = 101 + static_cast<std::uint32_t>(kRequest.size());
        // The peer's kernel acknowledges the request, then the response comes in two
        // segments: the first draws an inserted ACK of RCV.NXT.
        w.received(fromPeer(flags::kAck, kIrs + 1, sndNxt), 0);
        VERIFY_STEP(w, Kind::Await, "response");
        w.received(fromPeer(flags::kPsh | flags::kAck, kIrs + 1, sndNxt, kResponseHead), 0);
        const std::uint32_t afterHead = kIrs + 1 + static_cast<std::uint32_t>(kResponseHead.size());
        VERIFY_STEP(w, Kind::Send, "ACK the response");
        QVERIFY(w.current().inserted);
        checkTcp(w, flags::kAck, sndNxt, afterHead);
        QVERIFY(contains(w.current().explanation, std::to_string(afterHead)));
        fire(w);
        VERIFY_STEP(w, Kind::Await, "response");
        w.received(fromPeer(flags::kPsh | flags::kAck, afterHead, sndNxt, kResponseBody), 0);
        const std::uint32_t afterBody =
            afterHead + static_cast<std::uint32_t>(kResponseBody.size());
        // The response is whole: the FIN carries its ACK, as the CLI runner sends it.
        VERIFY_STEP(w, Kind::Send, "FIN");
        QVERIFY(!w.current().inserted);
        checkTcp(w, flags::kFin | flags::kAck, sndNxt, afterBody);
        QVERIFY(contains(w.current().explanation, std::to_string(sndNxt + 1)));
        QCOMPARE(w.receivedData(), bytesOf(kResponseHead + kResponseBody));
        fire(w);
        VERIFY_STEP(w, Kind::Await, "peer's ACK and FIN");
        QVERIFY(contains(w.current().expectation, "ack " + std::to_string(sndNxt + 1)));
        w.received(fromPeer(flags::kAck, afterBody, sndNxt + 1), 0);
        VERIFY_STEP(w, Kind::Await, "peer's ACK and FIN");
        w.received(fromPeer(flags::kFin | flags::kAck, afterBody, sndNxt + 1), 0);
        VERIFY_STEP(w, Kind::Send, "last ACK");
        checkTcp(w, flags::kAck, sndNxt + 1, afterBody + 1);
        QVERIFY(contains(w.current().explanation, "FIN"));
        fire(w);
        QVERIFY2(w.finished() && !w.failed(), allNotes(w).c_str());
        QCOMPARE(w.current().kind, Kind::Done);
        QVERIFY2(contains(allNotes(w), "TIME-WAIT"), allNotes(w).c_str());
    }

    void classicRst_ackTheResponse_thenAnExactRst() {
        Walkthrough w(engine::classicScenario(CloseMode::Rst), params());
        handshakeAndGet(w, 100, kIrs);
        if (QTest::currentTestFailed())
            return;
        const std::uint32_t sndNxt = 101 + static_cast<std::uint32_t>(kRequest.size());
        const std::string response = kResponseHead + kResponseBody;
        w.received(fromPeer(flags::kPsh | flags::kAck, kIrs + 1, sndNxt, response), 0);
        const std::uint32_t rcvNxt = kIrs + 1 + static_cast<std::uint32_t>(response.size());
        // A RST carries no ACK, so the response is acknowledged first.
        VERIFY_STEP(w, Kind::Send, "ACK the response");
        checkTcp(w, flags::kAck, sndNxt, rcvNxt);
        fire(w);
        VERIFY_STEP(w, Kind::Send, "RST");
        checkTcp(w, flags::kRst, sndNxt, 0);
        QVERIFY(contains(w.current().explanation, std::to_string(sndNxt)));
        QVERIFY(w.warningsFor(*w.current().prefill).empty());
        fire(w);
        QVERIFY2(w.finished() && !w.failed(), allNotes(w).c_str());
    }

    void chooseClose_switchesBeforeTheClose_only() {
        Walkthrough w(engine::classicScenario(CloseMode::Fin), params());
        QVERIFY(w.chooseClose(CloseMode::Rst));
        handshakeAndGet(w, 100, kIrs);
        if (QTest::currentTestFailed())
            return;
        const std::uint32_t sndNxt = 101 + static_cast<std::uint32_t>(kRequest.size());
        const std::string response = kResponseHead + kResponseBody;
        w.received(fromPeer(flags::kPsh | flags::kAck, kIrs + 1, sndNxt, response), 0);
        VERIFY_STEP(w, Kind::Send, "ACK the response");
        QVERIFY(w.chooseClose(CloseMode::Fin)); // back to FIN: the FIN carries the ACK
        VERIFY_STEP(w, Kind::Send, "FIN");
        fire(w);
        QVERIFY(!w.chooseClose(CloseMode::Rst));
        VERIFY_STEP(w, Kind::Await, "peer's ACK and FIN");
    }

    void isnNearTheTop_wrapsAroundZero() {
        const std::uint32_t iss = 0xFFFFFFF0u;
        const std::uint32_t irs = 0xFFFFFFFFu; // its SYN-ACK's ack is 0 after the wrap
        Walkthrough w(engine::classicScenario(CloseMode::Fin), params(iss));
        handshakeAndGet(w, iss, irs);
        if (QTest::currentTestFailed())
            return;
        const std::uint32_t sndNxt = iss + 1 + static_cast<std::uint32_t>(kRequest.size());
        QCOMPARE(sndNxt, 3u); // 0xFFFFFFF1 + 18 wraps
        const std::string response = kResponseHead + kResponseBody;
        w.received(fromPeer(flags::kPsh | flags::kAck, 0, sndNxt, response), 0);
        VERIFY_STEP(w, Kind::Send, "FIN");
        checkTcp(w, flags::kFin | flags::kAck, 3, static_cast<std::uint32_t>(response.size()));
        fire(w);
        w.received(
            fromPeer(flags::kFin | flags::kAck, static_cast<std::uint32_t>(response.size()), 4), 0);
        VERIFY_STEP(w, Kind::Send, "last ACK");
        checkTcp(w, flags::kAck, 4, static_cast<std::uint32_t>(response.size()) + 1);
        fire(w);
        QVERIFY2(w.finished() && !w.failed(), allNotes(w).c_str());
    }

    void rstToTheSyn_failsWithANoteNamingTheRst() {
        Walkthrough w(engine::classicScenario(CloseMode::Fin), params(100, 50002));
        fire(w);
        w.received(fromPeer(flags::kRst | flags::kAck, 0, 101, {}, 50002), 0);
        QVERIFY(w.failed());
        QCOMPARE(w.current().kind, Kind::Done);
        const std::string last = w.notes().back();
        QVERIFY2(contains(last, "expected a SYN-ACK acknowledging 101"), last.c_str());
        QVERIFY2(contains(last, "RST|ACK"), last.c_str());
        QVERIFY2(contains(last, "nothing listens on port 50002"), last.c_str());
    }

    void editedAck_isWarnedAbout_andThePeersRstEndsTheWalk() {
        Walkthrough w(engine::classicScenario(CloseMode::Fin), params());
        fire(w);
        w.received(fromPeer(flags::kSyn | flags::kAck, kIrs, 101), 0);
        auto spec = *w.current().prefill;
        spec.tcp.ack = SeqNum(12345);
        const auto warnings = w.warningsFor(spec);
        QVERIFY(!warnings.empty());
        QCOMPARE(qs(warnings.front().rule), QStringLiteral("ack-not-acknowledging-syn"));
        QVERIFY2(contains(warnings.front().message, std::to_string(kIrs + 1u)),
                 warnings.front().message.c_str());
        w.fired(*spec.encode(), 0);
        QVERIFY2(contains(allNotes(w), "ack 12345 instead of " + std::to_string(kIrs + 1u)),
                 allNotes(w).c_str());
        // Linux in SYN-RECEIVED answers an unacceptable ACK with <SEQ=SEG.ACK><CTL=RST>.
        VERIFY_STEP(w, Kind::Send, "GET");
        w.received(fromPeer(flags::kRst, 12345, 0), 0);
        QVERIFY(w.failed());
        QVERIFY2(contains(w.notes().back(), "RST"), w.notes().back().c_str());
    }

    void editedRequest_laterPrefillsFollowWhatWasSent() {
        Walkthrough w(engine::classicScenario(CloseMode::Fin), params());
        fire(w);
        w.received(fromPeer(flags::kSyn | flags::kAck, kIrs, 101), 0);
        fire(w);
        auto spec = *w.current().prefill;
        spec.payload = bytesOf("GET /a/longer/path HTTP/1.1\r\n\r\n");
        w.fired(*spec.encode(), 0);
        QVERIFY2(contains(allNotes(w), "of data instead of"), allNotes(w).c_str());
        const std::uint32_t sndNxt = 101 + static_cast<std::uint32_t>(spec.payload.size());
        const std::string response = kResponseHead + kResponseBody;
        w.received(fromPeer(flags::kPsh | flags::kAck, kIrs + 1, sndNxt, response), 0);
        VERIFY_STEP(w, Kind::Send, "FIN");
        checkTcp(w, flags::kFin | flags::kAck, sndNxt,
                 kIrs + 1 + static_cast<std::uint32_t>(response.size()));
    }

    void await_offersToResendTheOldestUnacknowledgedSegment() {
        Walkthrough w(engine::classicScenario(CloseMode::Fin), params());
        QVERIFY(!w.current().resend);
        fire(w);
        const auto step = w.current();
        QCOMPARE(step.kind, Kind::Await);
        QVERIFY(step.resend.has_value());
        QCOMPARE(step.resend->tcp.flags, flags::kSyn);
        QCOMPARE(step.resend->tcp.seq.value(), 100u);
        w.fired(*step.resend->encode(), 0);
        VERIFY_STEP(w, Kind::Await, "SYN-ACK");
        w.received(fromPeer(flags::kSyn | flags::kAck, kIrs, 101), 0);
        VERIFY_STEP(w, Kind::Send, "ACK");
        QVERIFY(!w.current().resend); // the SYN is acknowledged
    }

    void editedSeq_peerDropsIt_resendOffersTheScenariosSegment() {
        Walkthrough w(engine::classicScenario(CloseMode::Fin), params());
        fire(w);
        w.received(fromPeer(flags::kSyn | flags::kAck, kIrs, 101), 0);
        fire(w);
        auto spec = *w.current().prefill;
        spec.tcp.seq = SeqNum(5000);
        QVERIFY(!w.warningsFor(spec).empty()); // outside the peer's window
        w.fired(*spec.encode(), 0);
        QVERIFY2(contains(w.notes().back(), "not SND.NXT = 101"), w.notes().back().c_str());
        // Linux drops it and acknowledges 101 again (RFC 9293 §3.10.7.4).
        w.received(fromPeer(flags::kAck, kIrs + 1, 101), 0);
        auto step = w.current();
        QCOMPARE(step.kind, Kind::Await);
        QVERIFY(step.resend.has_value());
        QCOMPARE(step.resend->tcp.seq.value(), 101u);
        QCOMPARE(step.resend->tcp.ack.value(), kIrs + 1);
        QCOMPARE(step.resend->payload, bytesOf(kRequest));
        w.fired(*step.resend->encode(), 0);
        const std::uint32_t sndNxt = 101 + static_cast<std::uint32_t>(kRequest.size());
        const std::string response = kResponseHead + kResponseBody;
        w.received(fromPeer(flags::kPsh | flags::kAck, kIrs + 1, sndNxt, response), 0);
        VERIFY_STEP(w, Kind::Send, "FIN");
        checkTcp(w, flags::kFin | flags::kAck, sndNxt,
                 kIrs + 1 + static_cast<std::uint32_t>(response.size()));
        fire(w);
        w.received(fromPeer(flags::kFin | flags::kAck,
                            kIrs + 1 + static_cast<std::uint32_t>(response.size()), sndNxt + 1),
                   0);
        VERIFY_STEP(w, Kind::Send, "last ACK");
    }

    void twoArrivalsBeforeTheClick_oneCumulativeAck() {
        Walkthrough w(engine::classicScenario(CloseMode::Fin), params());
        handshakeAndGet(w, 100, kIrs);
        if (QTest::currentTestFailed())
            return;
        const std::uint32_t sndNxt = 101 + static_cast<std::uint32_t>(kRequest.size());
        w.received(fromPeer(flags::kAck, kIrs + 1, sndNxt, kResponseHead), 0);
        const std::uint32_t afterHead = kIrs + 1 + static_cast<std::uint32_t>(kResponseHead.size());
        VERIFY_STEP(w, Kind::Send, "ACK the response");
        checkTcp(w, flags::kAck, sndNxt, afterHead);
        w.received(fromPeer(flags::kAck, afterHead, sndNxt, "Hello"), 0);
        VERIFY_STEP(w, Kind::Send, "ACK the response");
        checkTcp(w, flags::kAck, sndNxt, afterHead + 5); // one ACK covers both
        QVERIFY2(contains(w.current().explanation, "cumulative"), w.current().explanation.c_str());
        QVERIFY(contains(w.current().explanation, std::to_string(kResponseHead.size() + 5)));
        fire(w);
        VERIFY_STEP(w, Kind::Await, "response");
        // The peer sends its SYN-ACK's data again (a retransmission of the head): noted,
        // nothing owed, nothing taken twice.
        w.received(fromPeer(flags::kAck, kIrs + 1, sndNxt, kResponseHead), 0);
        VERIFY_STEP(w, Kind::Await, "response");
        QVERIFY2(contains(w.notes().back(), "etransmission"), w.notes().back().c_str());
        w.received(fromPeer(flags::kPsh | flags::kAck, afterHead + 5, sndNxt, " world\n"), 0);
        VERIFY_STEP(w, Kind::Send, "FIN");
        QCOMPARE(w.receivedData(), bytesOf(kResponseHead + kResponseBody));
    }

    void synAckAgain_duringTheAckStep_isNotedAndTheStepStays() {
        Walkthrough w(engine::classicScenario(CloseMode::Fin), params());
        fire(w);
        w.received(fromPeer(flags::kSyn | flags::kAck, kIrs, 101), 0);
        w.received(fromPeer(flags::kSyn | flags::kAck, kIrs, 101), 0);
        VERIFY_STEP(w, Kind::Send, "ACK");
        checkTcp(w, flags::kAck, 101, kIrs + 1);
        QVERIFY2(contains(w.notes().back(), "etransmi"), w.notes().back().c_str());
    }

    void badChecksum_doesNotAdvance() {
        Walkthrough w(engine::classicScenario(CloseMode::Fin), params());
        auto spec = *w.current().prefill;
        spec.tcp.checksum = 0x1234;
        w.fired(*spec.encode(), 0);
        VERIFY_STEP(w, Kind::Send, "SYN");
        QVERIFY2(contains(w.notes().back(), "checksum"), w.notes().back().c_str());
    }

    // --- live, against the built-in Linux lab ------------------------------------

    void live_clickThrough_data() {
        QTest::addColumn<CloseMode>("close");
        QTest::newRow("fin") << CloseMode::Fin;
        QTest::newRow("rst") << CloseMode::Rst;
    }

    void live_clickThrough() {
        QFETCH(CloseMode, close);
        if (::access(helperPath().c_str(), X_OK) != 0)
            QSKIP(qPrintable(qs("no tcplab-lab-helper at " + helperPath() +
                                " (build the tcplab-lab-helper target or set TCPLAB_LAB_HELPER)")));
        lab::LabOptions options;
        options.helperPath = helperPath();
        auto lab = lab::startLinuxLab(options);
        if (!lab && lab.error().code == lab::LabErrorCode::UserNamespacesRefused)
            QSKIP(qPrintable(qs(lab.error().message)));
        QVERIFY2(lab.has_value(), lab ? "" : lab.error().message.c_str());
        const lab::LabAddresses addresses = lab->addresses();

        std::mt19937_64 rng(std::random_device{}());
        host::Identity id;
        id.mac = host::randomLocalMac(rng);
        id.ipv4 = host::Ipv4Config{addresses.phantom4, addresses.prefix4, std::nullopt};
        auto timeline = std::make_shared<timeline::Timeline>();
        engine::Engine eng(lab->takeLink(), timeline);
        eng.start();
        eng.configure(id, host::HostTiming{}, engine::Engine::Probe::Skip);

        ConnectionParams p;
        p.phantomMac = id.mac;
        p.nextHopMac = addresses.peerMac;
        p.phantom = addresses.phantom4;
        p.peer = addresses.peer4;
        p.iss = SeqNum(100);
        p.request = bytesOf("GET / HTTP/1.1\r\nHost: peer\r\n\r\n");
        Walkthrough w(engine::classicScenario(close), p);
        clickThrough(w, eng, *timeline);
        if (QTest::currentTestFailed())
            return;
        QVERIFY2(w.finished() && !w.failed(), allNotes(w).c_str());
        const std::string data(w.receivedData().begin(), w.receivedData().end());
        QVERIFY2(data.starts_with("HTTP/1.1 200 OK\r\n"), data.c_str());
        const std::string body = lab::PeerApp::body(50001, 1, "GET", "/");
        QVERIFY2(data.ends_with("\r\n\r\n" + body), data.c_str());
        eng.stop();
    }

    // The second walk, the kernel connects to you, against the built-in lab's kernel: the
    // walk makes the peer's calls through its agent, the phantom answers the kernel's SYN.
    void live_kernelConnectsToYou() {
        if (::access(helperPath().c_str(), X_OK) != 0 ||
            ::access(TCPLAB_PEER_AGENT_PATH, X_OK) != 0)
            QSKIP("no tcplab-lab-helper or tcplab-peer-agent in this build");
        lab::LabOptions options;
        options.helperPath = helperPath();
        options.agentPath = TCPLAB_PEER_AGENT_PATH;
        auto lab = lab::startLinuxLab(options);
        if (!lab && lab.error().code == lab::LabErrorCode::UserNamespacesRefused)
            QSKIP(qPrintable(qs(lab.error().message)));
        QVERIFY2(lab.has_value(), lab ? "" : lab.error().message.c_str());
        QVERIFY2(lab->agent(), lab->agentError().c_str());
        const lab::LabAddresses addresses = lab->addresses();

        std::mt19937_64 rng(std::random_device{}());
        host::Identity id;
        id.mac = host::randomLocalMac(rng);
        id.ipv4 = host::Ipv4Config{addresses.phantom4, addresses.prefix4, std::nullopt};
        auto timeline = std::make_shared<timeline::Timeline>();
        engine::Engine eng(lab->takeLink(), timeline);
        eng.attachAgent(lab->takeAgent());
        eng.start();
        eng.configure(id, host::HostTiming{}, engine::Engine::Probe::Skip);

        ConnectionParams p;
        p.phantomMac = id.mac;
        p.nextHopMac = addresses.peerMac;
        p.phantom = addresses.phantom4;
        p.peer = addresses.peer4;
        p.sourcePort = 40123;
        p.destinationPort = 0;
        p.iss = SeqNum(1000);
        Walkthrough w(engine::passiveScenario(), p);
        clickThrough(w, eng, *timeline, [](const Walkthrough::Step& step) {
            if (step.name == "SYN-ACK") {
                QCOMPARE(step.prefill->tcp.seq, SeqNum(1000));
                QVERIFY2(step.explanation.find("SYN-ACK answers the peer's SYN") !=
                             std::string::npos,
                         step.explanation.c_str());
            }
        });
        if (QTest::currentTestFailed())
            return;
        QVERIFY2(w.finished() && !w.failed(), allNotes(w).c_str());
        const std::string data(w.receivedData().begin(), w.receivedData().end());
        QCOMPARE(data, std::string("Hello from the peer's kernel\r\n"));
        if (std::getenv("SHOW_NOTES"))
            qInfo("%s", allNotes(w).c_str());
        // Every call was made by the walk, the connect's answer checked.
        QVERIFY2(allNotes(w).find("connect(3, 198.18.0.2:40123) = 0") != std::string::npos,
                 allNotes(w).c_str());
        QVERIFY2(allNotes(w).find("read(3, 100) = 12") != std::string::npos, allNotes(w).c_str());
        eng.stop();
    }
};

QTEST_GUILESS_MAIN(TestWalkthrough)
#include "tst_walkthrough.moc"
