// DrillRunner with packetdrill's semantics, driven by hand (no engine, no lab): the
// kernel's ISN learnt from its SYN-ACK, acks mapped onto it, segments merged up to the
// length a line expects, timing within the tolerance or failing in packetdrill's words,
// TS ecr mapped to the kernel's TS val, calls answered and checked, %{ }% with the
// socket's tcp_info, the shell's rule for commands, the step gate.
#include "tests_support/test_support.h"

#include "drill/drill_runner.h"
#include "drill/script.h"
#include "peer/agent_protocol.h"
#include "peer/tcp_info.h"
#include "wire/frame.h"
#include "wire/segment_spec.h"

#include <cstring>

using namespace tcplab;
using namespace tcplab::drill;
using namespace tcplab::wire;
namespace flag = tcplab::wire::tcp_flags;
using Runner = tcplab::engine::Runner;

namespace {

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kT0 = 1'700'000'000'000'000'000;
constexpr std::uint32_t kKernelIsn = 3'000'000'000u; ///< near the wrap on purpose

engine::ConnectionParams params() {
    engine::ConnectionParams p;
    p.phantomMac = MacAddress{{0x02, 0, 0, 0, 0, 2}};
    p.nextHopMac = MacAddress{{0x02, 0, 0, 0, 0, 1}};
    p.phantom = Ipv4Address{{198, 18, 0, 2}};
    p.peer = Ipv4Address{{198, 18, 0, 1}};
    p.sourcePort = 45000;
    p.destinationPort = 8080;
    return p;
}

Plan plan(std::string_view text, const FileReader& files = {}) {
    auto script = parseScript(text);
    if (!script) {
        qWarning("%s", describe(script.error(), "test").c_str());
        return {};
    }
    auto p = planScript(*script, false, files);
    if (!p) {
        qWarning("%s", describe(p.error(), "test").c_str());
        return {};
    }
    return *p;
}

/// The peer's kernel, played by the test: its segments as frames the runner receives.
struct Kernel {
    engine::ConnectionParams p = params();
    Frame segment(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack, std::size_t length,
                  std::vector<TcpOption> options = {}) {
        SegmentSpec s;
        s.ethernet.src = p.nextHopMac;
        s.ethernet.dst = p.phantomMac;
        Ipv4Header ip;
        ip.src = std::get<Ipv4Address>(p.peer);
        ip.dst = std::get<Ipv4Address>(p.phantom);
        s.ip = ip;
        s.tcp.srcPort = p.destinationPort;
        s.tcp.dstPort = p.sourcePort;
        s.tcp.flags = flags;
        s.tcp.seq = SeqNum(kKernelIsn + seq);
        if (flags & flag::kAck)
            s.tcp.ack = SeqNum(ack);
        s.tcp.window = 1000;
        for (const auto& o : options)
            s.tcp.options.append(o);
        s.payload.assign(length, 0);
        bytes.push_back(*s.encode());
        return decodeFrame(bytes.back());
    }
    std::vector<std::vector<std::uint8_t>> bytes; ///< frames stay alive for their views
};

const TcpHeader& tcpOf(const std::vector<std::uint8_t>& bytes, Frame& keep) {
    keep = decodeFrame(bytes);
    return *keep.tcp();
}

peer::CallRecord answer(const peer::Request& r, std::int64_t result, int error = 0,
                        std::vector<std::uint8_t> data = {}) {
    peer::CallRecord c;
    c.request = r;
    c.answer.id = r.id;
    c.answer.call = r.call;
    c.answer.result = result;
    c.answer.error = error;
    c.answer.data = std::move(data);
    return c;
}

constexpr std::string_view kListen = "--tolerance_usecs=10000\n"
                                     "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                                     "+0 bind(3, ..., ...) = 0\n"
                                     "+0 listen(3, 1) = 0\n";

/// Answers the three set-up calls (socket = 7, bind, listen) at kT0.
void answerListen(DrillRunner& r, Runner::FrameList& out) {
    for (int k = 0; k < 3; ++k) {
        auto calls = r.takePeerRequests();
        QCOMPARE(calls.size(), std::size_t{1});
        r.onPeerAnswer(answer(calls[0], k == 0 ? 7 : 0), kT0, out);
    }
}

} // namespace

class TestDrillRunner : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void handshake_learnsTheKernelsIsn_andMapsTheAck() {
        DrillRunner r(plan(std::string(kListen) + "+0 < S 0:0(0) win 1000 <mss 1000>\n"
                                                  "+0 > S. 0:0(0) ack 1 <mss 1460>\n"
                                                  "+.1 < . 1:1(0) ack 1 win 257\n"),
                      {}, params(), "t");
        Runner::FrameList out;
        r.start(kT0, out);
        answerListen(r, out);
        // The SYN went out with the script's own numbers.
        QCOMPARE(out.size(), std::size_t{1});
        Frame f;
        const TcpHeader& syn = tcpOf(out[0], f);
        QCOMPARE(syn.flags, flag::kSyn);
        QCOMPARE(syn.seq.value(), 0u);
        out.clear();
        Kernel k;
        r.onFrame(k.segment(flag::kSyn | flag::kAck, 0, 1, 0, {TcpOption::mss(1460)}), kT0 + kMs,
                  out);
        QVERIFY(out.empty()); // the ACK is due 100 ms later
        QCOMPARE(*r.nextDeadline(), kT0 + kMs + 100 * kMs);
        r.tick(kT0 + 101 * kMs, out);
        QCOMPARE(out.size(), std::size_t{1});
        const TcpHeader& ack = tcpOf(out[0], f);
        QCOMPARE(ack.ack.value(), kKernelIsn + 1); // ack 1 in the kernel's numbers
        QVERIFY(r.finished());
        QVERIFY(r.succeeded());
    }

    void aWrongField_failsWithPacketdrillsWords() {
        DrillRunner r(plan(std::string(kListen) + "+0 < S 0:0(0) win 1000 <mss 1000>\n"
                                                  "+0 > S. 0:0(0) ack 1 <mss 1460>\n"),
                      {}, params(), "t");
        Runner::FrameList out;
        r.start(kT0, out);
        answerListen(r, out);
        Kernel k;
        r.onFrame(k.segment(flag::kSyn | flag::kAck, 0, 2, 0, {TcpOption::mss(1460)}), kT0 + kMs,
                  out);
        QVERIFY(r.finished());
        QVERIFY(!r.succeeded());
        const auto& results = r.results();
        QCOMPARE(results.back().status, engine::StepResult::Status::Failed);
        QVERIFY2(results.back().message.find("live packet field tcp_ack_seq: expected: 1 (0x1) vs "
                                             "actual: 2 (0x2)") != std::string::npos,
                 results.back().message.c_str());
    }

    void lateAndEarly_areJudgedByTheTolerance() {
        for (const std::int64_t atMs : {50, 200, 108}) {
            DrillRunner r(plan(std::string(kListen) + "+0 < S 0:0(0) win 1000 <mss 1000>\n"
                                                      "+.1 > S. 0:0(0) ack 1 <mss 1460>\n"),
                          {}, params(), "t");
            Runner::FrameList out;
            r.start(kT0, out);
            answerListen(r, out);
            Kernel k;
            r.onFrame(k.segment(flag::kSyn | flag::kAck, 0, 1, 0, {TcpOption::mss(1460)}),
                      kT0 + atMs * kMs, out);
            QVERIFY(r.finished());
            // 100 ms after the SYN, within 10 ms or 12.5% of the 100 ms: 108 passes.
            QCOMPARE(r.succeeded(), atMs == 108);
            if (atMs != 108)
                QVERIFY2(r.results().back().message.find("timing error: expected outbound packet "
                                                         "at 0.100000 sec but happened at") !=
                             std::string::npos,
                         r.results().back().message.c_str());
        }
    }

    void theAgentsRoundTrips_areNotTheScriptsTime() {
        // packetdrill makes each call the moment the previous one returned; tcplab's agent
        // starts it only once the previous answer came back (3 ms here). A segment the
        // kernel sent right after the SYN, before three `+0` calls, is on time for the line
        // after them: the script's clock stood still while tcplab was in between.
        DrillRunner r(plan("--tolerance_usecs=4000\n"
                           "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                           "+0 bind(3, ..., ...) = 0\n"
                           "+0 listen(3, 1) = 0\n"
                           "+0 < S 0:0(0) win 1000 <mss 1000>\n"
                           "+0 fcntl(3, F_GETFL) = 0x2\n"
                           "+0 fcntl(3, F_GETFL) = 0x2\n"
                           "+0 fcntl(3, F_GETFL) = 0x2\n"
                           "+0 > S. 0:0(0) ack 1 <mss 1460>\n"),
                      {}, params(), "t");
        Runner::FrameList out;
        r.start(kT0, out);
        std::int64_t now = kT0;
        const auto makeCall = [&](std::int64_t result) {
            auto calls = r.takePeerRequests();
            QCOMPARE(calls.size(), std::size_t{1});
            auto c = answer(calls[0], result);
            c.answer.startNs = now + 3 * kMs; // the agent's start, 3 ms after it was due
            c.answer.durationNs = 10'000;
            now = c.answer.startNs + c.answer.durationNs + 200'000; // the answer's way back
            r.onPeerAnswer(c, now, out);
        };
        makeCall(7);
        makeCall(0);
        makeCall(0);
        QCOMPARE(out.size(), std::size_t{1}); // the SYN
        out.clear();
        Kernel k;
        const std::int64_t synAckAt = now + 100'000;
        for (int n = 0; n < 3; ++n)
            makeCall(2);
        QVERIFY(!r.finished());
        r.onFrame(k.segment(flag::kSyn | flag::kAck, 0, 1, 0, {TcpOption::mss(1460)}), synAckAt,
                  out);
        QVERIFY(r.finished());
        QVERIFY2(r.succeeded(), r.failure().c_str());
    }

    void segmentsAreMerged_upToTheLengthALineExpects_unlessStrict() {
        for (const bool strict : {false, true}) {
            DrillOptions o;
            o.strictSegments = strict;
            DrillRunner r(plan(std::string(kListen) + "+0 < S 0:0(0) win 1000 <mss 1000>\n"
                                                      "+0 > S. 0:0(0) ack 1 <mss 1460>\n"
                                                      "+0 < . 1:1(0) ack 1 win 257\n"
                                                      "+0 > P. 1:3001(3000) ack 1\n"),
                          o, params(), "t");
            Runner::FrameList out;
            r.start(kT0, out);
            answerListen(r, out);
            Kernel k;
            r.onFrame(k.segment(flag::kSyn | flag::kAck, 0, 1, 0, {TcpOption::mss(1460)}),
                      kT0 + kMs, out);
            r.onFrame(k.segment(flag::kAck, 1, 1, 1460), kT0 + 2 * kMs, out);
            if (!strict) {
                QVERIFY(!r.finished()); // waits for the rest
                r.onFrame(k.segment(flag::kAck, 1461, 1, 1460), kT0 + 2 * kMs, out);
                r.onFrame(k.segment(flag::kAck | flag::kPsh, 2921, 1, 80), kT0 + 2 * kMs, out);
                QVERIFY(r.finished());
                QVERIFY2(r.succeeded(), r.results().back().message.c_str());
            } else {
                QVERIFY(r.finished());
                QVERIFY(!r.succeeded());
                QVERIFY2(r.results().back().message.find("tcp_psh") != std::string::npos ||
                             r.results().back().message.find("payload") != std::string::npos,
                         r.results().back().message.c_str());
            }
        }
    }

    void inboundSegmentsLongerThanTheMtu_goOutAsGsoWouldCutThem() {
        // The link's MTU cuts 1460-byte pieces; packetdrill's --mss=1000 (the gso_size of
        // the one packet it cooks) changes nothing: the kernel gets the same bytes.
        for (const bool mss : {false, true}) {
            DrillOptions o;
            if (mss)
                QVERIFY(applyOption(o, "mss", "1000").has_value());
            QVERIFY(!applyOption(o, "mss", "0").has_value());
            DrillRunner r(plan(std::string(kListen) + "+0 < S 0:0(0) win 1000 <mss 1000>\n"
                                                      "+0 > S. 0:0(0) ack 1 <mss 1460>\n"
                                                      "+0 < P. 1:3001(3000) ack 1 win 257\n"),
                          o, params(), "t");
            Runner::FrameList out;
            r.start(kT0, out);
            answerListen(r, out);
            out.clear();
            Kernel k;
            r.onFrame(k.segment(flag::kSyn | flag::kAck, 0, 1, 0, {TcpOption::mss(1460)}),
                      kT0 + kMs, out);
            QCOMPARE(out.size(), std::size_t{3}); // 1460 + 1460 + 80, or 3 x 1000
            Frame f;
            std::uint32_t next = 1;
            for (std::size_t i = 0; i < out.size(); ++i) {
                const TcpHeader& t = tcpOf(out[i], f);
                QCOMPARE(t.seq.value(), next);
                QCOMPARE(bool(t.flags & flag::kPsh), i + 1 == out.size());
                next += static_cast<std::uint32_t>(f.payloadLength);
                QVERIFY(out[i].size() <= 1514);
            }
            QCOMPARE(next, 3001u);
        }
    }

    void callResultsAndErrnos_areChecked() {
        DrillRunner r(plan("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                           "+0 read(3, ..., 10) = -1 ENOTCONN (Transport endpoint is not "
                           "connected)\n"
                           "+0 close(3) = 0\n"),
                      {}, params(), "t");
        Runner::FrameList out;
        r.start(kT0, out);
        auto calls = r.takePeerRequests();
        QCOMPARE(calls.size(), std::size_t{1});
        QCOMPARE(calls[0].call, peer::Call::Socket);
        r.onPeerAnswer(answer(calls[0], 9), kT0, out);
        calls = r.takePeerRequests();
        QCOMPARE(calls.size(), std::size_t{1});
        QCOMPARE(calls[0].fd, 9);                           // script fd 3 is the agent's 9
        r.onPeerAnswer(answer(calls[0], -1, 11), kT0, out); // EAGAIN, not ENOTCONN
        QVERIFY(r.finished());
        QVERIFY(!r.succeeded());
        QVERIFY2(r.results()[1].message.find("Expected errno 107") != std::string::npos,
                 r.results()[1].message.c_str());
    }

    void codeBlocks_readTheTcpInfoOfTheSocketUnderTest() {
        for (const std::uint32_t cwnd : {10u, 7u}) {
            DrillRunner r(plan("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                               "+0 connect(3, ..., ...) = 0\n"
                               "+0 %{ assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd }%\n"),
                          {}, params(), "t");
            Runner::FrameList out;
            r.start(kT0, out);
            auto calls = r.takePeerRequests();
            r.onPeerAnswer(answer(calls[0], 5), kT0, out);
            calls = r.takePeerRequests();
            QCOMPARE(calls[0].call, peer::Call::Connect);
            r.onPeerAnswer(answer(calls[0], 0), kT0, out);
            calls = r.takePeerRequests();
            QCOMPARE(calls.size(), std::size_t{1});
            QCOMPARE(calls[0].call, peer::Call::GetSockOpt);
            QCOMPARE(calls[0].fd, 5); // the connected socket
            // struct tcp_info with tcpi_snd_cwnd at its place in the struct.
            std::vector<std::uint8_t> info(256, 0);
            const auto& field = peer::fieldInfo(peer::TcpInfoField::SndCwnd);
            std::memcpy(info.data() + field.offset, &cwnd, 4);
            r.onPeerAnswer(answer(calls[0], 0, 0, info), kT0, out);
            QVERIFY(r.finished());
            QCOMPARE(r.succeeded(), cwnd == 10);
            if (cwnd != 10)
                QVERIFY2(r.results().back().message.find(
                             "assert tcpi_snd_cwnd == 10 failed: tcpi_snd_cwnd is 7") !=
                             std::string::npos,
                         r.results().back().message.c_str());
        }
    }

    void aCommandFails_onlyWhenItsLastLineFails() {
        const FileReader files = [](const std::string& path) -> std::optional<std::string> {
            if (path == "defaults.sh")
                return "sysctl -q net.ipv4.tcp_congestion_control=cubic\nsysctl -q "
                       "net.ipv4.tcp_sack=1\n";
            return std::nullopt;
        };
        for (const bool lastFails : {false, true}) {
            DrillRunner r(
                plan("`defaults.sh`\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n", files), {},
                params(), "t");
            Runner::FrameList out;
            r.start(kT0, out);
            auto calls = r.takePeerRequests();
            QCOMPARE(calls.size(), std::size_t{2});
            QCOMPARE(calls[0].text, std::string("net.ipv4.tcp_congestion_control"));
            r.onPeerAnswer(answer(calls[0], -1, 1), kT0, out); // EPERM: not the last line
            r.onPeerAnswer(answer(calls[1], lastFails ? -1 : 0, lastFails ? 1 : 0), kT0, out);
            QCOMPARE(r.finished(), lastFails);
            if (!lastFails) {
                calls = r.takePeerRequests();
                QCOMPARE(calls.size(), std::size_t{1});
                QCOMPARE(calls[0].call, peer::Call::Socket);
            }
        }
    }

    void commands_runWithTheLabsInterfaceAndThePhantomsAddress() {
        DrillOptions o;
        o.peerInterface = "veth7";
        DrillRunner r(plan("`ip route replace 192.0.2.1 via 192.168.0.2 dev tun0 advmss 1000`\n"
                           "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                           "+0 `tc qdisc replace dev tun0 root pfifo limit 0`\n"
                           "+0 close(3) = 0\n"),
                      o, params(), "t");
        Runner::FrameList out;
        r.start(kT0, out);
        auto calls = r.takePeerRequests();
        QCOMPARE(calls.size(), std::size_t{1});
        QCOMPARE(calls[0].call, peer::Call::Command);
        QCOMPARE(calls[0].text, std::string("ip"));
        // The gateway goes (the phantom is on the peer's link), the destination is the
        // phantom and tun0 the lab's interface.
        QCOMPARE(peer::commandArguments(calls[0]),
                 (std::vector<std::string>{"route", "replace", "198.18.0.2", "dev", "veth7",
                                           "advmss", "1000"}));
        r.onPeerAnswer(answer(calls[0], 0), kT0, out);
        calls = r.takePeerRequests();
        QCOMPARE(calls[0].call, peer::Call::Socket);
        r.onPeerAnswer(answer(calls[0], 5), kT0, out);
        calls = r.takePeerRequests();
        QCOMPARE(calls.size(), std::size_t{1});
        QCOMPARE(calls[0].text, std::string("tc"));
        QCOMPARE(peer::commandArguments(calls[0]),
                 (std::vector<std::string>{"qdisc", "replace", "dev", "veth7", "root", "pfifo",
                                           "limit", "0"}));
        // tc's exit status 2 with its complaint: the line fails as packetdrill fails it.
        // (Before that, the lab's mapping of a device's MTU onto the route to the phantom.)
        {
            DrillRunner mtu(plan("`ip link set dev tun0 mtu 9000`\n"
                                 "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"),
                            o, params(), "t");
            Runner::FrameList none;
            mtu.start(kT0, none);
            const auto set = mtu.takePeerRequests();
            QCOMPARE(set.size(), std::size_t{1});
            QCOMPARE(set[0].text, std::string("ip"));
            QCOMPARE(peer::commandArguments(set[0]),
                     (std::vector<std::string>{"route", "replace", "198.18.0.2", "dev", "veth7",
                                               "mtu", "9000"}));
        }
        auto failed = answer(calls[0], 2);
        failed.answer.text = "Error: Exclusivity flag on, cannot modify.";
        r.onPeerAnswer(failed, kT0, out);
        QVERIFY(r.finished());
        QVERIFY(!r.succeeded());
        QVERIFY2(r.failure().find("error executing `tc qdisc replace dev tun0 root pfifo limit "
                                  "0` command: non-zero status 2") != std::string::npos,
                 r.failure().c_str());
        QVERIFY2(r.explanation().find("Error: Exclusivity flag on") != std::string::npos,
                 r.explanation().c_str());
    }

    void epoll_mapsTheScriptsFds_andChecksTheFirstEvent() {
        for (const bool right : {true, false}) {
            DrillRunner r(plan("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                               "+0 epoll_create(1) = 4\n"
                               "+0 epoll_ctl(4, EPOLL_CTL_ADD, 3, {events = EPOLLIN|EPOLLET, "
                               "fd = 3}) = 0\n"
                               "+0 epoll_wait(4, {events = EPOLLIN, fd = 3}, 1, 0) = 1\n"),
                          {}, params(), "t");
            Runner::FrameList out;
            r.start(kT0, out);
            auto calls = r.takePeerRequests();
            r.onPeerAnswer(answer(calls[0], 9), kT0, out); // socket: the agent's fd 9
            calls = r.takePeerRequests();
            QCOMPARE(calls[0].call, peer::Call::EpollCreate);
            r.onPeerAnswer(answer(calls[0], 12), kT0, out); // epoll fd 12
            calls = r.takePeerRequests();
            QCOMPARE(calls[0].call, peer::Call::EpollCtl);
            QCOMPARE(calls[0].fd, 12);
            QCOMPARE(calls[0].numbers,
                     (std::vector<std::int64_t>{1, 9, 0x1 | (1ll << 31), 9})); // ADD, fd 9, data 9
            r.onPeerAnswer(answer(calls[0], 0), kT0, out);
            calls = r.takePeerRequests();
            QCOMPARE(calls[0].call, peer::Call::EpollWait);
            QCOMPARE(calls[0].fd, 12);
            auto event = answer(calls[0], 1);
            event.answer.numbers = {right ? 0x1 : 0x4, 9}; // EPOLLIN (or EPOLLOUT) for fd 9
            r.onPeerAnswer(event, kT0, out);
            QVERIFY(r.finished());
            QCOMPARE(r.succeeded(), right);
            if (!right)
                QVERIFY2(r.failure().find("epoll_event->events does not match script: "
                                          "expected: 0x1 actual: 0x4") != std::string::npos,
                         r.failure().c_str());
        }
    }

    void theStepGate_holdsEachLineUntilRaised() {
        DrillOptions o;
        o.stepGate = std::make_shared<std::atomic<std::size_t>>(1);
        DrillRunner r(plan("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+5 close(3) = 0\n"), o,
                      params(), "t");
        Runner::FrameList out;
        r.start(kT0, out);
        auto calls = r.takePeerRequests();
        QCOMPARE(calls.size(), std::size_t{1});
        r.onPeerAnswer(answer(calls[0], 4), kT0, out);
        r.tick(kT0 + 10'000 * kMs, out);
        QVERIFY(r.takePeerRequests().empty()); // close waits for the user
        QVERIFY(r.nextDeadline().has_value()); // looked at again soon
        o.stepGate->store(2);
        r.tick(kT0 + 10'001 * kMs, out);
        r.tick(kT0 + 15'002 * kMs, out); // +5 after the step started
        calls = r.takePeerRequests();
        QCOMPARE(calls.size(), std::size_t{1});
        QCOMPARE(calls[0].call, peer::Call::Close);
    }
};

QTEST_GUILESS_MAIN(TestDrillRunner)
#include "tst_drill_runner.moc"
