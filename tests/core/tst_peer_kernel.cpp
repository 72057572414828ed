// Both ends under the user's hand, against the real kernel of the built-in Linux lab: the
// engine drives the phantom's side (segments, Auto-ACK, the advertised window, the
// listener) and the peer's side (socket calls and sysctls through its agent), and every
// assertion is on what went over the wire and what the peer's kernel said in its
// tcp_info samples. Skips, saying why, where user namespaces are refused.
#include <QObject>
#include <QTest>

#include "tests_support/test_support.h"

#include "engine/engine.h"
#include "engine/scenario.h"
#include "host/phantom_host.h"
#include "lab/builtin_lab.h"
#include "peer/call_text.h"
#include "peer/tcp_info.h"
#include "tcp/tracker.h"
#include "timeline/peer_records.h"
#include "timeline/timeline.h"
#include "wire/segment_spec.h"
#include "wire/tcp.h"

#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
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
using namespace std::chrono_literals;
using wire::SeqNum;
namespace flags = wire::tcp_flags;

namespace {

constexpr std::uint16_t kPeerPort = 5000;

/// The built-in lab with the engine on its link and the agent attached.
class KernelLab {
public:
    /// Empty when it runs; else why it cannot (the test skips).
    std::string start() {
        if (::access(TCPLAB_LAB_HELPER_PATH, X_OK) != 0 ||
            ::access(TCPLAB_PEER_AGENT_PATH, X_OK) != 0)
            return "no tcplab-lab-helper or tcplab-peer-agent in this build";
        lab::LabOptions options;
        options.helperPath = TCPLAB_LAB_HELPER_PATH;
        options.agentPath = TCPLAB_PEER_AGENT_PATH;
        auto started = lab::startLinuxLab(options);
        if (!started && started.error().code == lab::LabErrorCode::UserNamespacesRefused)
            return started.error().message;
        if (!started) {
            failure = started.error().message;
            return {};
        }
        lab.emplace(std::move(*started));
        if (!lab->agent()) {
            failure = lab->agentError();
            return {};
        }
        a = lab->addresses();
        std::mt19937_64 rng(std::random_device{}());
        id.mac = host::randomLocalMac(rng);
        id.ipv4 = host::Ipv4Config{a.phantom4, a.prefix4, std::nullopt};
        timeline = std::make_shared<timeline::Timeline>();
        engine = std::make_unique<engine::Engine>(lab->takeLink(), timeline);
        engine->attachAgent(lab->takeAgent());
        engine->start();
        engine->configure(id, host::HostTiming{}, engine::Engine::Probe::Skip);
        return {};
    }
    ~KernelLab() {
        if (engine)
            engine->stop();
    }

    /// Collects events; true when `done` holds within `timeout`.
    bool until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 5s) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            for (auto& e : engine->takeEvents())
                events.push_back(std::move(e));
            if (done())
                return true;
            if (std::chrono::steady_clock::now() >= deadline)
                return false;
            engine->waitForEvents(5ms);
        }
    }

    std::optional<peer::CallRecord> answer(std::uint32_t callId) const {
        for (const auto& e : events)
            if (e.kind == engine::EngineEvent::Kind::PeerCall && e.call &&
                e.call->answer.id == callId)
                return e.call;
        return std::nullopt;
    }
    std::uint32_t callAsync(const std::string& text) {
        auto r = peer::parseCall(text);
        if (!r) {
            qWarning("%s: %s", text.c_str(), r.error().c_str());
            return 0;
        }
        return engine->peerCall(*r);
    }
    /// The call's answer (waiting up to `timeout`); a Refused answer with the reason when
    /// none came.
    peer::CallRecord call(const std::string& text, std::chrono::milliseconds timeout = 5s) {
        const std::uint32_t callId = callAsync(text);
        until([&] { return answer(callId).has_value(); }, timeout);
        if (auto got = answer(callId))
            return *got;
        peer::CallRecord none;
        none.answer.outcome = peer::Outcome::Refused;
        none.answer.text = "no answer to " + text;
        none.answer.result = -1;
        return none;
    }

    wire::SegmentSpec segment(std::uint16_t sport, std::uint8_t f, std::uint32_t seq,
                              std::uint32_t ack, std::uint16_t window = 65535,
                              std::string_view data = {}) const {
        wire::SegmentSpec s;
        s.ethernet.src = id.mac;
        s.ethernet.dst = a.peerMac;
        wire::Ipv4Header ip;
        ip.src = a.phantom4;
        ip.dst = a.peer4;
        ip.flags = wire::ipv4_flags::kDontFragment;
        s.ip = ip;
        s.tcp.srcPort = sport;
        s.tcp.dstPort = kPeerPort;
        s.tcp.flags = f;
        s.tcp.seq = SeqNum(seq);
        s.tcp.ack = SeqNum(ack);
        s.tcp.window = window;
        s.payload.assign(data.begin(), data.end());
        return s;
    }
    void send(const wire::SegmentSpec& s) { engine->sendFrame(s.encode().value()); }

    /// The first frame from index `from` on that `match` accepts (decoded), waiting.
    std::optional<std::size_t>
    waitFrame(const std::function<bool(const timeline::Entry&, const wire::Frame&)>& match,
              std::size_t from, std::chrono::milliseconds timeout) {
        std::optional<std::size_t> found;
        until(
            [&] {
                for (std::size_t i = from, n = timeline->size(); i < n; ++i) {
                    const auto& e = (*timeline)[i];
                    if (match(e, e.decode())) {
                        found = i;
                        return true;
                    }
                }
                return false;
            },
            timeout);
        return found;
    }
    static bool fromPeer(const timeline::Entry& e) {
        return e.direction == timeline::Direction::Received;
    }

    /// socket/bind/listen on kPeerPort, the phantom's SYN from `sport` (ISN 1000, MSS 1460,
    /// `options` added), the handshake completed by Auto-ACK, accept: the peer's ISN.
    std::optional<std::uint32_t> connect(std::uint16_t sport, wire::TcpOptionList options = {},
                                         std::uint16_t window = 65535) {
        engine->setAutoAck(true);
        if (call("socket inet").answer.result != 3 || call("bind 3 5000").answer.result != 0 ||
            call("listen 3").answer.result != 0)
            return std::nullopt;
        auto syn = segment(sport, flags::kSyn, 1000, 0, window);
        syn.tcp.options.append(wire::TcpOption::mss(1460));
        for (const auto& o : options)
            syn.tcp.options.append(o);
        const std::size_t from = timeline->size();
        send(syn);
        const auto synAck = waitFrame(
            [&](const timeline::Entry& e, const wire::Frame& f) {
                return fromPeer(e) && f.tcp() && f.tcp()->dstPort == sport &&
                       f.tcp()->flags == (flags::kSyn | flags::kAck);
            },
            from, 3s);
        if (!synAck)
            return std::nullopt;
        lastSynAck = *synAck;
        const std::uint32_t irs = (*timeline)[*synAck].decode().tcp()->seq.value();
        if (call("accept 3").answer.result != 4)
            return std::nullopt;
        return irs;
    }

    /// Every sample of the peer's socket whose remote port is `sport`, oldest first.
    std::vector<peer::Sample> samplesOf(std::uint16_t sport) const {
        std::vector<peer::Sample> out;
        for (std::size_t i = 0, n = timeline->peerSize(); i < n; ++i)
            if (auto s = timeline::sampleRecord(timeline->peer(i));
                s && s->sockets.front().remotePort == sport && !s->sockets.front().gone)
                out.push_back(std::move(*s));
        return out;
    }
    static std::uint64_t field(const peer::Sample& s, peer::TcpInfoField f) {
        return peer::TcpInfo::fromPairs(s.sockets.front().fields).value(f);
    }

    std::optional<lab::BuiltinLinuxLab> lab;
    lab::LabAddresses a;
    host::Identity id;
    std::shared_ptr<timeline::Timeline> timeline;
    std::unique_ptr<engine::Engine> engine;
    std::vector<engine::EngineEvent> events;
    std::string failure;
    std::size_t lastSynAck = 0;
};

#define START_LAB(k)                                                                               \
    KernelLab k;                                                                                   \
    if (const std::string why = k.start(); !why.empty())                                           \
        QSKIP(why.c_str());                                                                        \
    QVERIFY2(k.failure.empty(), k.failure.c_str())

} // namespace

class TestPeerKernel : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // SO_LINGER {1, 0}, then close(): the kernel aborts the connection with a RST (at its
    // SND.NXT) instead of a FIN.
    void lingerZero_closeSendsRst() {
        START_LAB(k);
        const auto irs = k.connect(41001);
        QVERIFY(irs);
        QCOMPARE(k.call("setsockopt 4 SO_LINGER 1,0").answer.result, std::int64_t{0});
        const std::size_t from = k.timeline->size();
        QCOMPARE(k.call("close 4").answer.result, std::int64_t{0});
        const auto rst = k.waitFrame(
            [](const timeline::Entry& e, const wire::Frame& f) {
                return KernelLab::fromPeer(e) && f.tcp() && f.tcp()->dstPort == 41001 &&
                       (f.tcp()->flags & (flags::kRst | flags::kFin));
            },
            from, 2s);
        QVERIFY(rst);
        const wire::TcpHeader t = *(*k.timeline)[*rst].decode().tcp();
        QVERIFY2(t.has(flags::kRst) && !t.has(flags::kFin),
                 wire::tcpFlagsToString(t.flags).c_str());
        QCOMPARE(t.seq, SeqNum(*irs + 1));
    }

    // shutdown(SHUT_WR) sends a FIN but the socket stays readable: a half-close.
    void shutdownWr_sendsFin_andTheSocketStaysReadable() {
        START_LAB(k);
        const auto irs = k.connect(41002);
        QVERIFY(irs);
        const std::size_t from = k.timeline->size();
        QCOMPARE(k.call("shutdown 4 wr").answer.result, std::int64_t{0});
        const auto fin = k.waitFrame(
            [](const timeline::Entry& e, const wire::Frame& f) {
                return KernelLab::fromPeer(e) && f.tcp() && f.tcp()->dstPort == 41002 &&
                       f.tcp()->has(flags::kFin);
            },
            from, 2s);
        QVERIFY(fin);
        QCOMPARE((*k.timeline)[*fin].decode().tcp()->seq, SeqNum(*irs + 1));
        // Our data after its FIN: the half-open direction still carries it.
        k.send(k.segment(41002, flags::kPsh | flags::kAck, 1001, *irs + 2, 65535, "still open"));
        const auto read = k.call("read 4 100");
        QCOMPARE(read.answer.result, std::int64_t{10});
        QCOMPARE(std::string(read.answer.data.begin(), read.answer.data.end()),
                 std::string("still open"));
        QVERIFY(k.until([&] {
            const auto s = k.samplesOf(41002);
            return !s.empty() && KernelLab::field(s.back(), peer::TcpInfoField::State) == 5;
        }));
    }

    // net.ipv4.tcp_sack=0 in the peer's namespace: its SYN-ACK no longer carries
    // SACK-permitted although our SYN offers it; set back to 1, it does again.
    void sysctlSackOff_synAckWithoutSackPermitted() {
        START_LAB(k);
        const auto sackOff = k.call("sysctl net.ipv4.tcp_sack=0");
        QCOMPARE(sackOff.answer.result, std::int64_t{0});
        QCOMPARE(std::string(sackOff.answer.data.begin(), sackOff.answer.data.end()),
                 std::string("0"));
        wire::TcpOptionList sack;
        sack.append(wire::TcpOption::sackPermitted());
        QVERIFY(k.connect(41003, sack));
        const auto off = *(*k.timeline)[k.lastSynAck].decode().tcp();
        QVERIFY(!off.options.sackPermitted());
        QCOMPARE(k.call("sysctl net.ipv4.tcp_sack=1").answer.result, std::int64_t{0});
        const std::size_t from = k.timeline->size();
        auto syn = k.segment(41004, flags::kSyn, 5000, 0);
        syn.tcp.options.append(wire::TcpOption::mss(1460));
        syn.tcp.options.append(wire::TcpOption::sackPermitted());
        k.send(syn);
        const auto on = k.waitFrame(
            [](const timeline::Entry& e, const wire::Frame& f) {
                return KernelLab::fromPeer(e) && f.tcp() && f.tcp()->dstPort == 41004 &&
                       f.tcp()->has(flags::kSyn);
            },
            from, 2s);
        QVERIFY(on);
        QVERIFY((*k.timeline)[*on].decode().tcp()->options.sackPermitted());
    }

    // The phantom advertises a zero window to a peer writing 1 MB: the kernel sends nothing
    // but zero-window probes, backing off; once the window opens the megabyte arrives.
    void zeroWindow_persistProbes_thenTheTransferFinishes() {
        START_LAB(k);
        k.engine->setAdvertisedWindow(0);
        const auto irs = k.connect(41005);
        QVERIFY(irs);
        const std::size_t from = k.timeline->size();
        const std::uint32_t write = k.callAsync("write 4 1M");
        // ~1.5 s: the persist timer fires at the RTO (200 ms here) and doubles.
        std::this_thread::sleep_for(1500ms);
        k.until([] { return true; }, 0ms);
        tcp::ConnectionTable tracker;
        tracker.addLocalAddress(k.a.phantom4);
        std::vector<std::int64_t> probes;
        std::uint64_t dataBytes = 0;
        for (std::size_t i = 0, n = k.timeline->size(); i < n; ++i) {
            const auto& e = (*k.timeline)[i];
            const auto f = e.decode();
            const auto r = tracker.onFrame(f, e.timeNs);
            if (i < from || !KernelLab::fromPeer(e) || !f.tcp() || f.tcp()->dstPort != 41005)
                continue;
            if (r && (r->classes.has(tcp::SegmentClass::ZeroWindowProbe) ||
                      r->classes.has(tcp::SegmentClass::KeepAlive)))
                probes.push_back(e.timeNs);
            else if (r && r->classes.has(tcp::SegmentClass::NewData))
                dataBytes += r->payloadLength;
        }
        QVERIFY2(probes.size() >= 2, qPrintable(QString::number(probes.size())));
        QCOMPARE(dataBytes, std::uint64_t{0});
        if (probes.size() >= 3) // exponential backoff of the persist timer (RFC 9293 §3.8.6.1)
            QVERIFY(probes[2] - probes[1] > probes[1] - probes[0]);
        QVERIFY(!k.answer(write));
        const auto blocked = k.samplesOf(41005);
        QVERIFY(!blocked.empty());
        // The kernel sees the zero window, and holds the megabyte (the probes are answered,
        // so its probe counter starts again at each answer).
        QCOMPARE(KernelLab::field(blocked.back(), peer::TcpInfoField::SndWnd), std::uint64_t{0});
        QVERIFY(blocked.back().sockets.front().sendQueue > 0);

        k.engine->setAdvertisedWindow(65535);
        QVERIFY(k.until([&] { return k.answer(write).has_value(); }, 15s));
        QCOMPARE(k.answer(write)->answer.result, std::int64_t{1} << 20);
        QVERIFY(k.until(
            [&] {
                const auto s = k.samplesOf(41005);
                return !s.empty() && KernelLab::field(s.back(), peer::TcpInfoField::BytesAcked) ==
                                         (std::uint64_t{1} << 20);
            },
            5s));
    }

    // The peer's application stops reading: as the phantom's data fills its receive
    // buffer, the window it advertises shrinks to zero; reading again reopens it.
    void peerStopsReading_itsWindowShrinksToZero() {
        START_LAB(k);
        QCOMPARE(k.call("sysctl net.ipv4.tcp_rmem=4096 32768 32768").answer.result,
                 std::int64_t{0});
        const auto irs = k.connect(41006);
        QVERIFY(irs);
        const std::string chunk(1000, 'x');
        std::uint32_t seq = 1001;
        std::vector<std::uint32_t> windows;
        std::size_t cursor = k.timeline->size();
        std::uint32_t lastAck = 1001;
        std::uint32_t window = 65535;
        for (int round = 0; round < 200 && (windows.empty() || windows.back() != 0); ++round) {
            // Send what the peer's window allows (at most 8 segments at a time), the last
            // one as small as the window's rest.
            for (int i = 0; i < 8 && seq < lastAck + window; ++i) {
                const std::size_t room =
                    std::min<std::size_t>(chunk.size(), lastAck + window - seq);
                k.send(k.segment(41006, flags::kAck, seq, *irs + 1, 65535,
                                 std::string_view(chunk).substr(0, room)));
                seq += static_cast<std::uint32_t>(room);
            }
            // Its ACKs (delayed ACKs come within 40 ms).
            k.until([] { return false; }, 60ms);
            for (; cursor < k.timeline->size(); ++cursor) {
                const auto& e = (*k.timeline)[cursor];
                const auto f = e.decode();
                if (!KernelLab::fromPeer(e) || !f.tcp() || f.tcp()->dstPort != 41006)
                    continue;
                lastAck = f.tcp()->ack.value();
                window = f.tcp()->window; // no window scaling was offered
                windows.push_back(window);
            }
        }
        QVERIFY2(!windows.empty() && windows.back() == 0,
                 qPrintable(QStringLiteral("last window %1 after %2 ACKs")
                                .arg(windows.empty() ? -1 : int(windows.back()))
                                .arg(windows.size())));
        std::vector<std::uint32_t> distinct;
        for (const auto w : windows)
            if (distinct.empty() || distinct.back() != w)
                distinct.push_back(w);
        QVERIFY2(distinct.size() >= 3, qPrintable(QString::number(distinct.size())));
        QVERIFY(std::is_sorted(distinct.rbegin(), distinct.rend())); // only ever shrinking
        QVERIFY(k.until([&] {
            const auto s = k.samplesOf(41006);
            return !s.empty() && s.back().sockets.front().receiveQueue > 0;
        }));
        // Reading everything: the kernel sends a window update.
        const std::size_t before = k.timeline->size();
        QCOMPARE(k.call("drain 4 on").answer.result, std::int64_t{0});
        QVERIFY(k.waitFrame(
            [](const timeline::Entry& e, const wire::Frame& f) {
                return KernelLab::fromPeer(e) && f.tcp() && f.tcp()->dstPort == 41006 &&
                       f.tcp()->window > 0;
            },
            before, 2s));
    }

    // A 4 MB download with Auto-ACK: the peer's congestion window, as its kernel reports it,
    // grows from its initial 10 segments (slow start, RFC 5681 §3.1).
    void sndCwndGrows_duringA4MbDownload() {
        START_LAB(k);
        wire::TcpOptionList ws;
        ws.append(wire::TcpOption::windowScale(7)); // 65535 << 7: the window is no limit
        QVERIFY(k.connect(41007, ws));
        const std::uint32_t write = k.callAsync("write 4 4M");
        QVERIFY(k.until([&] { return k.answer(write).has_value(); }, 20s));
        QCOMPARE(k.answer(write)->answer.result, std::int64_t{4} << 20);
        const bool allAcked = k.until([&] {
            const auto s = k.samplesOf(41007);
            return !s.empty() && KernelLab::field(s.back(), peer::TcpInfoField::BytesAcked) ==
                                     (std::uint64_t{4} << 20);
        });
        QVERIFY2(allAcked, qPrintable(QStringLiteral("bytes_acked %1 in the last of %2 samples")
                                          .arg(KernelLab::field(k.samplesOf(41007).back(),
                                                                peer::TcpInfoField::BytesAcked))
                                          .arg(k.samplesOf(41007).size())));
        const auto samples = k.samplesOf(41007);
        std::uint64_t first = 0;
        std::uint64_t most = 0;
        for (const auto& s : samples) {
            const auto cwnd = KernelLab::field(s, peer::TcpInfoField::SndCwnd);
            if (first == 0)
                first = cwnd;
            most = std::max(most, cwnd);
        }
        QCOMPARE(first, std::uint64_t{10});
        QVERIFY2(most >= 2 * first, qPrintable(QStringLiteral("snd_cwnd at most %1").arg(most)));
        QVERIFY2(samples.size() >= 3, qPrintable(QString::number(samples.size())));
    }

    // Passive open: the kernel connects to the phantom; closed by the peer first (the
    // built-in scenario) and by the phantom first.
    void passiveOpen_handshakeAndCloseBothWays_data() {
        QTest::addColumn<bool>("peerFirst");
        QTest::newRow("the peer closes first") << true;
        QTest::newRow("the phantom closes first") << false;
    }
    void passiveOpen_handshakeAndCloseBothWays() {
        QFETCH(bool, peerFirst);
        START_LAB(k);
        const auto scenario =
            peerFirst ? engine::passiveScenario()
                      : *engine::parseScenario("peer socket $family = 3\n"
                                               "peer connect 3 $phantom $sport = 0 background\n"
                                               "expect S\n"
                                               "send SA seq=iss ack=irs+1 options=mss:1460\n"
                                               "expect A ack=iss+1\n"
                                               "send FA\n"
                                               "wait acked\n"
                                               "expect-peer state == CLOSE-WAIT fd=3\n"
                                               "peer read 3 10 = 0\n"
                                               "peer close 3 = 0\n"
                                               "receive fin\n"
                                               "send A\n");
        engine::ConnectionParams p;
        p.phantomMac = k.id.mac;
        p.nextHopMac = k.a.peerMac;
        p.phantom = k.a.phantom4;
        p.peer = k.a.peer4;
        p.sourcePort = peerFirst ? 42001 : 42002;
        p.destinationPort = 0;
        p.iss = SeqNum(7000);
        k.engine->runScenario(scenario, p);
        const engine::EngineEvent* end = nullptr;
        QVERIFY(k.until(
            [&] {
                for (const auto& e : k.events)
                    if (e.kind == engine::EngineEvent::Kind::ScenarioFinished)
                        end = &e;
                return end != nullptr;
            },
            30s));
        QVERIFY2(end->ok, end->message.c_str());
        // The peer's SYN came from a port of its own choosing, to ours; ours was the SYN-ACK.
        const auto syn = k.waitFrame(
            [&](const timeline::Entry& e, const wire::Frame& f) {
                return KernelLab::fromPeer(e) && f.tcp() && f.tcp()->dstPort == p.sourcePort &&
                       f.tcp()->flags == flags::kSyn;
            },
            0, 0ms);
        QVERIFY(syn);
        QVERIFY((*k.timeline)[*syn].decode().tcp()->srcPort != 0);
    }

    // Agent calls on a lab that has gone away fail with a sentence, at once.
    void callsAfterTheLabIsGone_failWithASentence() {
        START_LAB(k);
        QCOMPARE(k.call("socket inet").answer.result, std::int64_t{3});
        k.lab.reset(); // the lab owns the agent's process: it is killed and reaped
        const auto after = k.call("close 3", 3s);
        QCOMPARE(after.answer.outcome, peer::Outcome::Refused);
        QVERIFY2(after.answer.text.find("gone") != std::string::npos, after.answer.text.c_str());
        const auto again = k.call("socket inet", 1s);
        QCOMPARE(again.answer.outcome, peer::Outcome::Refused);
        QVERIFY2(again.answer.text.find("gone") != std::string::npos, again.answer.text.c_str());
    }
};

QTEST_GUILESS_MAIN(TestPeerKernel)
#include "tst_peer_kernel.moc"
