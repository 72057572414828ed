// The built-in "lwip" lab (core/lab/lwip_lab.h): tcplab-lwip-helper runs Debian's lwIP
// behind a SOCK_SEQPACKET socketpair. Here the phantom speaks to lwIP through that link
// (ARP, NS, hand-made handshakes, HTTP as PeerApp answers it, both close modes), over
// IPv4 and IPv6; frames for another MAC are not taken; the helper is gone after the
// lab (or its link) is; and a missing or wrong helper gives a clear LabError.
//
// The helper is also the lab's peer agent: its Hello and limits, socket calls on lwIP's
// raw API with the phantom at the other end (accept, connect, write, not reading until
// the window is 0, SO_LINGER 1,0, shutdown), what lwIP lacks refused with a sentence, and
// the samples of its tcp_pcbs (state, snd_mss, snd_cwnd, snd_wnd, rto, rcv_wnd) with the
// values lwIP's own code gives them. GET /bytes/N is streamed by lwIP's responder too.
// Where timing matters the lab runs on its virtual clock.
//
// Needs no privilege. Where tcplab was built without liblwip-dev the lab tests skip.
#include <QObject>
#include <QTest>

#include "tests_support/lab_phantom.h"
#include "tests_support/test_support.h"

#include "host/phantom_host.h"
#include "lab/lwip_lab.h"
#include "lab/peer_app.h"
#include "peer/agent_client.h"
#include "peer/call_text.h"
#include "peer/pattern.h"
#include "peer/tcp_info.h"
#include "wire/frame.h"
#include "wire/segment_spec.h"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace tcplab;
using namespace tcplab::test;
using lab::LabErrorCode;
using wire::IpAddress;
using wire::MacAddress;
using wire::SeqNum;
namespace flags = wire::tcp_flags;

namespace {

using Clock = std::chrono::steady_clock;

std::string helperPath() {
    if (const char* env = std::getenv("TCPLAB_LWIP_HELPER"); env && *env)
        return env;
#ifdef TCPLAB_LWIP_HELPER_PATH
    return TCPLAB_LWIP_HELPER_PATH;
#else
    return {};
#endif
}

lab::LwipLabOptions options() {
    lab::LwipLabOptions o;
    o.helperPath = helperPath();
    o.timeout = std::chrono::milliseconds(5'000);
    return o;
}

/// The state letter of /proc/<pid>/stat ('Z' for a zombie), or 0 when there is no such
/// process.
char processState(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line))
        return 0;
    const auto close = line.rfind(')');
    return close == std::string::npos || close + 2 >= line.size() ? '?' : line[close + 2];
}

/// The response PeerApp gives (its body is PeerApp::body: the two peers share it).
std::string expectedResponse(std::uint16_t port, unsigned number, const std::string& method,
                             const std::string& target, bool closing) {
    const std::string body = lab::PeerApp::body(port, number, method, target);
    return "HTTP/1.1 200 OK\r\nServer: tcplab-lab\r\nContent-Type: text/plain\r\n"
           "Content-Length: " +
           std::to_string(body.size()) + "\r\n" + (closing ? "Connection: close\r\n" : "") +
           "\r\n" + body;
}

/// `count` bytes of the bulk pattern from stream offset `offset`.
std::string patternText(std::size_t count, std::uint64_t offset = 0) {
    std::string text(count, '\0');
    for (std::size_t i = 0; i < count; ++i)
        text[i] = static_cast<char>(peer::patternByte(offset + i));
    return text;
}

/// The lab's peer agent, driven by its call grammar; the phantom is pumped while an
/// answer is awaited (it answers lwIP's ARP/NS, other frames wait in its queue), and
/// every Sample that comes is kept.
class Agent {
public:
    Agent(peer::AgentClient& client, Phantom& phantom)
        : m_client(client)
        , m_phantom(phantom) {}

    /// Sends the call; 0 when it was not sent (`lastError` says why).
    std::uint32_t send(const std::string& text) {
        auto request = peer::parseCall(text);
        if (!request) {
            lastError = request.error();
            return 0;
        }
        auto id = m_client.send(std::move(*request));
        if (!id) {
            lastError = id.error();
            return 0;
        }
        return *id;
    }

    /// The answer to `id`, within `ms`.
    std::optional<peer::CallRecord> wait(std::uint32_t id, int ms = 3000) {
        const auto deadline = Clock::now() + std::chrono::milliseconds(ms);
        while (Clock::now() < deadline) {
            take();
            if (const auto it = m_answers.find(id); it != m_answers.end()) {
                auto record = std::move(it->second);
                m_answers.erase(it);
                // The sample taken after the call follows its answer at once.
                m_phantom.waitFor([](const wire::Frame&) { return false; }, 10);
                take();
                return record;
            }
            m_phantom.waitFor([](const wire::Frame&) { return false; }, 5);
        }
        lastError = fmt::format("no answer to request {} within {} ms", id, ms);
        return std::nullopt;
    }

    std::optional<peer::CallRecord> call(const std::string& text, int ms = 3000) {
        const auto id = send(text);
        if (id == 0)
            return std::nullopt;
        return wait(id, ms);
    }

    /// The answer's result when the call was made and succeeded, else nullopt (with
    /// `lastError`).
    std::optional<std::int64_t> result(const std::string& text, int ms = 3000) {
        const auto r = call(text, ms);
        if (!r)
            return std::nullopt;
        if (r->answer.outcome != peer::Outcome::Done || r->answer.result < 0) {
            lastError = text + ": " + peer::describeAnswer(r->request, r->answer);
            return std::nullopt;
        }
        return r->answer.result;
    }

    /// Takes in what the agent sent (without waiting).
    void take() {
        const auto got = m_client.receive([this](peer::AgentEvent e) {
            if (auto* record = std::get_if<peer::CallRecord>(&e))
                m_answers.emplace(record->answer.id, std::move(*record));
            else if (auto* sample = std::get_if<peer::Sample>(&e))
                samples.push_back(std::move(*sample));
        });
        if (!got)
            lastError = got.error();
    }

    /// The newest sample of the agent's socket `fd` (fd -1: of any socket whose remote
    /// port is `remotePort`), from the samples so far.
    std::optional<peer::SocketSample> latest(std::int32_t fd, std::uint16_t remotePort = 0) const {
        for (auto it = samples.rbegin(); it != samples.rend(); ++it)
            for (auto s = it->sockets.rbegin(); s != it->sockets.rend(); ++s)
                if (fd >= 0 ? s->fd == fd : s->remotePort == remotePort)
                    return *s;
        return std::nullopt;
    }

    std::vector<peer::Sample> samples;
    std::string lastError;

private:
    peer::AgentClient& m_client;
    Phantom& m_phantom;
    std::map<std::uint32_t, peer::CallRecord> m_answers;
};

std::optional<std::uint64_t> field(const peer::SocketSample& s, peer::TcpInfoField f) {
    return peer::TcpInfo::fromPairs(s.fields).get(f);
}

using test::PhantomServer;

} // namespace

class TestLwipLab : public QObject {
    Q_OBJECT

    void skipWithoutHelper() {
        if (helperPath().empty())
            QSKIP("tcplab was built without liblwip-dev: there is no tcplab-lwip-helper");
    }

private Q_SLOTS:
    void start_givesTheLinkAddressesAndMac() {
        skipWithoutHelper();
        auto o = options();
        o.peerMac = MacAddress::parse("02:11:22:33:44:55");
        auto l = lab::startLwipLab(o);
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        QVERIFY(l->link() != nullptr);
        const auto& a = l->addresses();
        QCOMPARE(qs(a.peer4.toString()), QStringLiteral("198.18.0.1"));
        QCOMPARE(qs(a.peer6.toString()), QStringLiteral("2001:db8::1"));
        QCOMPARE(qs(a.phantom4.toString()), QStringLiteral("198.18.0.2"));
        QCOMPARE(qs(a.phantom6.toString()), QStringLiteral("2001:db8::2"));
        QCOMPARE(a.prefix4, 24u);
        QCOMPARE(a.prefix6, 64u);
        QCOMPARE(qs(a.peerMac.toString()), QStringLiteral("02:11:22:33:44:55"));
        QCOMPARE(l->listeners().size(), std::size_t{2});
        QCOMPARE(l->listeners()[0].port, std::uint16_t{50001});
        QCOMPARE(l->listeners()[1].port, std::uint16_t{80});
        QVERIFY(l->helperPid() > 0);
        QVERIFY(processState(l->helperPid()) != 0);
        QVERIFY2(l->lwipVersion().starts_with("2."), l->lwipVersion().c_str());
        QVERIFY(l->startupTime() > std::chrono::nanoseconds(0));
        QVERIFY(l->startupTime() < std::chrono::seconds(5));
        QVERIFY2(l->description().find("lwIP " + l->lwipVersion()) != std::string::npos,
                 l->description().c_str());
        qInfo("%s; started in %.1f ms", l->description().c_str(),
              std::chrono::duration<double, std::milli>(l->startupTime()).count());

        // Without peerMac: a random locally administered unicast MAC.
        auto other = lab::startLwipLab(options());
        QVERIFY2(other.has_value(), other ? "" : other.error().message.c_str());
        const MacAddress mac = other->addresses().peerMac;
        QVERIFY(mac.isLocallyAdministered() && !mac.isMulticast() && !mac.isZero());
        QVERIFY(mac != a.peerMac);
    }

    void arpAndNs_forThePeer_areAnsweredByLwip() {
        skipWithoutHelper();
        auto l = lab::startLwipLab(options());
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        Phantom phantom(*l->link(), l->addresses());
        phantom.answerNeighbours = false;
        host::PhantomHost asker(phantom.identity());
        phantom.send(asker.arpRequest(l->addresses().peer4, false));
        const auto reply = phantom.waitFor(
            [](const wire::Frame& f) {
                return f.arp() && f.arp()->operation == wire::arp_op::kReply;
            },
            3000);
        QVERIFY2(reply.has_value(), "no ARP reply from lwIP within 3 s");
        const auto f = wire::decodeFrame(wire::Bytes(*reply));
        QCOMPARE(f.arp()->senderIp, l->addresses().peer4);
        QCOMPARE(qs(f.arp()->senderMac.toString()), qs(l->addresses().peerMac.toString()));
        QCOMPARE(qs(f.arp()->targetMac.toString()), qs(phantom.mac().toString()));
        QCOMPARE(f.arp()->targetIp, l->addresses().phantom4);
        QCOMPARE(qs(f.ethernet.src.toString()), qs(l->addresses().peerMac.toString()));
        QCOMPARE(qs(f.ethernet.dst.toString()), qs(phantom.mac().toString()));

        // IPv6: a Neighbor Solicitation to the solicited-node group lwIP joined (its
        // destination MAC is 33:33:ff:00:00:01, which the helper lets through).
        phantom.answerNeighbours = true;
        const auto mac6 = phantom.resolve(IpAddress{l->addresses().peer6}, 3000);
        QVERIFY2(mac6.has_value(), "no Neighbor Advertisement from lwIP within 3 s");
        QCOMPARE(qs(mac6->toString()), qs(l->addresses().peerMac.toString()));
    }

    void http_data() {
        QTest::addColumn<bool>("ipv6");
        QTest::addColumn<int>("port");
        QTest::addColumn<bool>("closing");
        QTest::newRow("IPv4, port 50001, keep-alive") << false << 50001 << false;
        QTest::newRow("IPv6, port 50001, keep-alive") << true << 50001 << false;
        QTest::newRow("IPv4, port 80, Connection: close") << false << 80 << true;
        QTest::newRow("IPv6, port 80, Connection: close") << true << 80 << true;
    }
    void http() {
        // The classic exercise against lwIP: SYN (ISN 100), SYN-ACK acking 101, ACK +
        // GET, the response; keep-alive: lwIP's FIN only follows ours; with
        // "Connection: close": its FIN follows the response.
        QFETCH(bool, ipv6);
        QFETCH(int, port);
        QFETCH(bool, closing);
        skipWithoutHelper();
        auto l = lab::startLwipLab(options());
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        Phantom phantom(*l->link(), l->addresses()); // answers lwIP's ARP/NS for the phantom
        const auto dport = static_cast<std::uint16_t>(port);
        RawClient client(phantom, l->addresses(), ipv6, 50000, dport, l->addresses().peerMac);

        const auto synAck = client.connect({}, false);
        QVERIFY2(synAck.has_value(), "no SYN-ACK from lwIP within 3 s");
        const auto f = wire::decodeFrame(wire::Bytes(*synAck));
        QVERIFY(f.tcp() != nullptr);
        QCOMPARE(f.tcp()->flags, std::uint8_t(flags::kSyn | flags::kAck));
        QCOMPARE(f.tcp()->ack.value(), 101u);
        QCOMPARE(qs(f.ethernet.src.toString()), qs(l->addresses().peerMac.toString()));
        QCOMPARE(qs(f.ethernet.dst.toString()), qs(phantom.mac().toString()));
        QVERIFY(!f.diagnostics.has(wire::Diagnostic::TcpChecksumBad));
        QVERIFY(f.transportChecksumChecked);

        const std::string target = closing ? "/close" : "/";
        const std::string request =
            "GET " + target + " HTTP/1.1\r\n" + (closing ? "Connection: close\r\n" : "") + "\r\n";
        client.send(client.segment(flags::kAck));
        client.send(client.segment(flags::kPsh | flags::kAck, request));
        const std::string expected = expectedResponse(dport, 1, "GET", target, closing);
        client.receive(
            [&] { return client.data.size() >= expected.size() && (!closing || client.finSeen); },
            3000);
        QCOMPARE(qs(client.data), qs(expected));
        QVERIFY(!client.resetSeen);
        QCOMPARE(client.finSeen, closing);
        if (!closing) {
            // Persistent: nothing more until our FIN; then lwIP closes too.
            client.receive([] { return false; }, 300);
            QVERIFY(!client.finSeen);
            QCOMPARE(qs(client.data), qs(expected));
        }
        client.send(client.segment(flags::kFin | flags::kAck));
        if (!closing) {
            client.receive([&] { return client.finSeen; }, 3000);
            QVERIFY2(client.finSeen, "lwIP did not close after the client's FIN");
        } else {
            // lwIP acknowledges our FIN (and is in TIME_WAIT): an ACK of rcvNxt+1 ours.
            const auto ack = client.next(3000);
            QVERIFY2(ack.has_value(), "lwIP did not acknowledge the client's FIN");
            QVERIFY(wire::decodeFrame(wire::Bytes(*ack)).tcp()->has(flags::kAck));
        }
        QVERIFY(!client.resetSeen);
    }

    void keepAlive_secondRequest_isNumberTwo() {
        skipWithoutHelper();
        auto l = lab::startLwipLab(options());
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        Phantom phantom(*l->link(), l->addresses());
        RawClient client(phantom, l->addresses(), false, 50002, 50001, l->addresses().peerMac);
        QVERIFY(client.connect({}, false).has_value());
        client.send(client.segment(flags::kAck));
        client.send(client.segment(flags::kPsh | flags::kAck, "GET /a HTTP/1.1\r\n\r\n"));
        const std::string first = expectedResponse(50001, 1, "GET", "/a", false);
        client.receive([&] { return client.data.size() >= first.size(); }, 3000);
        client.send(client.segment(flags::kPsh | flags::kAck,
                                   "HEAD /b HTTP/1.1\r\nConnection: close\r\n\r\n"));
        std::string second = expectedResponse(50001, 2, "HEAD", "/b", true);
        second.erase(second.find("\r\n\r\n") + 4); // HEAD: the head alone
        client.receive([&] { return client.finSeen; }, 3000);
        QCOMPARE(qs(client.data), qs(first + second));
        QVERIFY(client.finSeen);
    }

    void framesForAnotherMac_areNotTaken() {
        // lwIP itself would take a frame to any MAC; the helper drops them as a NIC does.
        skipWithoutHelper();
        auto l = lab::startLwipLab(options());
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        Phantom phantom(*l->link(), l->addresses());
        MacAddress elsewhere = l->addresses().peerMac;
        elsewhere.octets[5] ^= 0x01;
        RawClient wrong(phantom, l->addresses(), false, 50003, 50001, elsewhere);
        wrong.send(wrong.segment(flags::kSyn));
        QVERIFY2(!wrong.next(700).has_value(), "lwIP answered a SYN sent to another MAC");
        RawClient right(phantom, l->addresses(), false, 50004, 50001, l->addresses().peerMac);
        QVERIFY2(right.connect({}, false).has_value(),
                 "no SYN-ACK to the same SYN sent to lwIP's MAC");
    }

    void startupNoise_isLabelled() {
        skipWithoutHelper();
        auto l = lab::startLwipLab(options());
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        Phantom phantom(*l->link(), l->addresses());
        phantom.answerNeighbours = false;
        const auto frames = phantom.drain(1500); // MLD reports wait up to 1 s
        bool gratuitous = false;
        bool mld = false;
        for (const auto& bytes : frames) {
            const auto noise = lab::lwipStartupNoise(wire::decodeFrame(wire::Bytes(bytes)),
                                                     l->addresses().peerMac);
            QVERIFY2(noise.has_value(), "lwIP sent a frame at start-up that is not labelled");
            gratuitous |= *noise == "lwIP start-up: gratuitous ARP";
            mld |= *noise == "lwIP start-up: MLD report";
        }
        QVERIFY2(gratuitous, "no gratuitous ARP from lwIP at start-up");
        QVERIFY2(mld, "no MLD report from lwIP at start-up");

        // A frame of the lab's traffic is not noise.
        RawClient client(phantom, l->addresses(), false, 50005, 50001, l->addresses().peerMac);
        phantom.answerNeighbours = true;
        const auto synAck = client.connect({}, false);
        QVERIFY(synAck.has_value());
        QVERIFY(!lab::lwipStartupNoise(wire::decodeFrame(wire::Bytes(*synAck)),
                                       l->addresses().peerMac));
    }

    void virtualClock_timersRunOnlyWhenAdvanced() {
        // With a virtual clock lwIP's ISN (it counts timer ticks) is the same in every
        // lab, and its SYN-ACK is retransmitted only once the clock is advanced past
        // its initial RTO (3 s), however long we wait in real time.
        skipWithoutHelper();
        std::vector<std::uint32_t> isns;
        for (int round = 0; round < 2; ++round) {
            auto o = options();
            o.virtualClock = true;
            auto l = lab::startLwipLab(o);
            QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
            QVERIFY(l->virtualClock());
            Phantom phantom(*l->link(), l->addresses());
            RawClient client(phantom, l->addresses(), round == 1, 50006, 50001,
                             l->addresses().peerMac);
            const auto synAck = client.connect({}, false);
            QVERIFY2(synAck.has_value(), "no SYN-ACK from lwIP on a virtual clock");
            const auto first = wire::decodeFrame(wire::Bytes(*synAck));
            isns.push_back(first.tcp()->seq.value());
            // Not acknowledged: in real time lwIP would resend it after 3 s.
            QVERIFY2(!client.next(1200).has_value(), "lwIP resent its SYN-ACK on a frozen clock");
            QVERIFY(l->advanceClock(std::chrono::milliseconds(1000)).has_value());
            QVERIFY2(!client.next(300).has_value(), "lwIP resent its SYN-ACK before its RTO");
            QVERIFY(l->advanceClock(std::chrono::milliseconds(2500)).has_value());
            // Within 0.5 s: in real time no more than 2.2 s have passed since the SYN-ACK.
            const auto again = client.next(500);
            QVERIFY2(again.has_value(), "no retransmitted SYN-ACK after advancing the clock 3.5 s");
            const auto f = wire::decodeFrame(wire::Bytes(*again));
            QCOMPARE(f.tcp()->flags, std::uint8_t(flags::kSyn | flags::kAck));
            QCOMPARE(f.tcp()->seq.value(), isns.back());
        }
        QCOMPARE(isns[0], isns[1]);

        // A lab on real time refuses, and says why.
        auto real = lab::startLwipLab(options());
        QVERIFY2(real.has_value(), real ? "" : real.error().message.c_str());
        const auto refused = real->advanceClock(std::chrono::milliseconds(10));
        QVERIFY(!refused.has_value());
        QVERIFY(refused.error().message.find("real time") != std::string::npos);
    }

    // --- The peer agent -----------------------------------------------------------

    void agent_hello_saysWhatLwipCannotDo() {
        skipWithoutHelper();
        auto l = lab::startLwipLab(options());
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        QVERIFY2(l->agent() != nullptr, l->agentError().c_str());
        QVERIFY(l->agentError().empty());
        const auto& hello = l->agent()->hello();
        QVERIFY(hello.has_value());
        QCOMPARE(qs(hello->stack), QStringLiteral("lwip"));
        QCOMPARE(qs(hello->release), qs(l->lwipVersion()));
        QCOMPARE(qs(hello->release), QStringLiteral("2.1.3"));
        QCOMPARE(hello->pid, std::int32_t(l->helperPid()));
        for (const char* part : {"TCP_CORK", "TCP_QUICKACK", "TCP_USER_TIMEOUT", "TCP_CONGESTION",
                                 "SO_LINGER only as 1,0", "no sysctls", "TCP_INFO",
                                 "segments of its MSS", "500 ms", "total_retrans"})
            QVERIFY2(hello->limits.find(part) != std::string::npos,
                     qPrintable(QStringLiteral("'%1' not in: %2").arg(part, qs(hello->limits))));
        qInfo("limits: %s", hello->limits.c_str());

        // The agent can be handed over; a lab without one says nothing is wrong.
        auto taken = l->takeAgent();
        QVERIFY(taken != nullptr);
        QVERIFY(l->agent() == nullptr);
        auto o = options();
        o.agent = false;
        auto without = lab::startLwipLab(o);
        QVERIFY2(without.has_value(), without ? "" : without.error().message.c_str());
        QVERIFY(without->agent() == nullptr);
        QVERIFY(without->agentError().empty());

        // Calls on a lab that has gone fail with a sentence.
        l = tl::make_unexpected(lab::LabError{LabErrorCode::Io, "gone"});
        const auto start = Clock::now();
        auto late = taken->call(*peer::parseCall("socket"), std::chrono::milliseconds(2000));
        QVERIFY(!late.has_value());
        QVERIFY2(late.error().find("gone") != std::string::npos, late.error().c_str());
        QVERIFY(Clock::now() - start < std::chrono::seconds(2));
    }

    void agent_listenAndAccept_thePhantomsConnection() {
        skipWithoutHelper();
        auto o = options();
        o.virtualClock = true;
        auto l = lab::startLwipLab(o);
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        QVERIFY2(l->agent(), l->agentError().c_str());
        Phantom phantom(*l->link(), l->addresses());
        Agent agent(*l->agent(), phantom);
        QCOMPARE(agent.result("socket inet nonblock"), std::optional<std::int64_t>(3));
        QVERIFY2(agent.result("bind 3 7000"), agent.lastError.c_str());
        QVERIFY2(agent.result("listen 3 8"), agent.lastError.c_str());
        // Non-blocking, nothing waiting: EAGAIN.
        auto none = agent.call("accept 3");
        QVERIFY(none.has_value());
        QCOMPARE(none->answer.result, std::int64_t(-1));
        QCOMPARE(qs(peer::errnoName(none->answer.error)), QStringLiteral("EAGAIN"));
        // Blocking: answered once the phantom's handshake completes.
        QVERIFY(agent.result("fcntl 3 setfl 0"));
        const auto id = agent.send("accept 3");
        QVERIFY(id != 0);
        QVERIFY(!agent.wait(id, 300).has_value());
        RawClient client(phantom, l->addresses(), false, 50100, 7000, l->addresses().peerMac);
        wire::TcpOptionList mss;
        mss.append(wire::TcpOption::mss(1460));
        const auto synAck = client.connect(mss);
        QVERIFY2(synAck.has_value(), "no SYN-ACK from the agent's listening socket");
        const auto accepted = agent.wait(id);
        QVERIFY2(accepted.has_value(), agent.lastError.c_str());
        QCOMPARE(accepted->answer.result, std::int64_t(4));
        QCOMPARE(qs(accepted->answer.text), QStringLiteral("198.18.0.2:50100"));

        // The sample after the accept: ESTABLISHED (Linux's 1) with lwIP's own numbers. The
        // virtual clock has not moved, so lwIP's tick counter (tcp_ticks) is still 0, and
        // lwIP reads rttest == 0 as "no RTT measurement running" (tcp_out.c): the SYN-ACK
        // was not timed, rto and sv keep their initial 6 ticks (3 s), sa its 0.
        const auto s = agent.latest(4);
        QVERIFY(s.has_value());
        QVERIFY(!s->ipv6);
        QCOMPARE(s->remotePort, std::uint16_t(50100));
        QCOMPARE(s->localPort, std::uint16_t(7000));
        QCOMPARE(qs(peer::endpointText(s->local, s->localPort)), QStringLiteral("198.18.0.1:7000"));
        QCOMPARE(qs(s->congestion), QStringLiteral("lwip-reno"));
        using F = peer::TcpInfoField;
        QCOMPARE(field(*s, F::State), std::optional<std::uint64_t>(1));
        QCOMPARE(field(*s, F::SndMss), std::optional<std::uint64_t>(1460));
        QCOMPARE(field(*s, F::SndWnd), std::optional<std::uint64_t>(64240)); // no window scale
        QCOMPARE(field(*s, F::RcvWnd), std::optional<std::uint64_t>(65535)); // TCP_WND
        // LWIP_TCP_CALC_INITIAL_CWND(1460) = 4380 bytes: 3 segments; ssthresh TCP_SND_BUF.
        QCOMPARE(field(*s, F::SndCwnd), std::optional<std::uint64_t>(3));
        QCOMPARE(field(*s, F::SndSsthresh), std::optional<std::uint64_t>(65535 / 1460));
        QCOMPARE(field(*s, F::Rto), std::optional<std::uint64_t>(3'000'000));
        QCOMPARE(field(*s, F::Rtt), std::optional<std::uint64_t>(0));
        QCOMPARE(field(*s, F::Rttvar), std::optional<std::uint64_t>(6 * 500'000 / 4));
        QCOMPARE(field(*s, F::Unacked), std::optional<std::uint64_t>(0));
        QCOMPARE(field(*s, F::Options), std::optional<std::uint64_t>(0));
        QVERIFY(!field(*s, F::TotalRetrans)); // lwIP does not count it: absent, not 0
        QVERIFY(!field(*s, F::Ato));
        // The listening socket: LISTEN (10).
        const auto listening = agent.latest(3);
        QVERIFY(listening.has_value());
        QCOMPARE(field(*listening, F::State), std::optional<std::uint64_t>(10));

        // Data from the phantom is read with its bytes.
        client.send(client.segment(flags::kPsh | flags::kAck, "hello lwIP"));
        QVERIFY(l->advanceClock(std::chrono::milliseconds(300)).has_value()); // delayed ACK
        const auto read = agent.call("read 4 100");
        QVERIFY(read.has_value());
        QCOMPARE(read->answer.result, std::int64_t(10));
        QCOMPARE(qs(std::string(read->answer.data.begin(), read->answer.data.end())),
                 QStringLiteral("hello lwIP"));
        // A sample call gives every pcb, changed or not: the agent's two and the HTTP
        // responder's listening ones (fd -1, ports 50001 and 80).
        const auto before = agent.samples.size();
        const auto all = agent.call("sample");
        QVERIFY(all.has_value());
        QCOMPARE(all->answer.result, std::int64_t(4));
        QTRY_VERIFY_WITH_TIMEOUT((agent.take(), agent.samples.size() > before), 2000);
        const auto& every = agent.samples.back();
        QCOMPARE(every.after, all->answer.id);
        QStringList seen;
        for (const auto& socket : every.sockets)
            seen << QStringLiteral("%1:%2:%3")
                        .arg(socket.fd)
                        .arg(socket.localPort)
                        .arg(field(socket, F::State).value_or(0));
        seen.sort();
        QCOMPARE(seen.join(' '), QStringLiteral("-1:50001:10 -1:80:10 3:7000:10 4:7000:1"));
    }

    void agent_connect_toThePhantom_isEstablished_andWritesThePattern() {
        skipWithoutHelper();
        auto o = options();
        o.virtualClock = true;
        auto l = lab::startLwipLab(o);
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        QVERIFY2(l->agent(), l->agentError().c_str());
        Phantom phantom(*l->link(), l->addresses());
        Agent agent(*l->agent(), phantom);
        QCOMPARE(agent.result("socket inet nonblock"), std::optional<std::int64_t>(3));
        QVERIFY2(agent.result("bind 3 40000"), agent.lastError.c_str());
        const auto started = agent.call("connect 3 198.18.0.2 7000");
        QVERIFY(started.has_value());
        QCOMPARE(qs(peer::errnoName(started->answer.error)), QStringLiteral("EINPROGRESS"));
        using F = peer::TcpInfoField;
        QCOMPARE(field(*agent.latest(3), F::State), std::optional<std::uint64_t>(2)); // SYN-SENT
        // poll(POLLOUT) without a timeout: answered once the handshake is done.
        const auto id = agent.send("poll -1 3 out");
        QVERIFY(id != 0);
        PhantomServer server(phantom, l->addresses(), 7000, 40000, l->addresses().peerMac);
        const auto syn = server.acceptSyn(3000);
        QVERIFY2(syn.has_value(), "no SYN from lwIP's connect");
        const auto connected = agent.wait(id);
        QVERIFY2(connected.has_value(), agent.lastError.c_str());
        QCOMPARE(connected->answer.result, std::int64_t(1));
        QCOMPARE(connected->answer.numbers, std::vector<std::int64_t>{4}); // POLLOUT
        QVERIFY(agent.result("fcntl 3 setfl 0"));
        const auto again = agent.call("connect 3 198.18.0.2 7000");
        QVERIFY(again.has_value());
        QCOMPARE(qs(peer::errnoName(again->answer.error)), QStringLiteral("EISCONN"));
        const auto ack = server.next(3000); // lwIP's ACK of our SYN-ACK
        QVERIFY(ack.has_value());
        QCOMPARE(wire::decodeFrame(wire::Bytes(*ack)).tcp()->ack, server.sndNxt);

        // ESTABLISHED in the sample after the connect; an active open takes no RTT sample
        // from the SYN (tcp_in.c, SYN-SENT): rto is still the initial 3 s (6 ticks).
        const auto s = agent.latest(3);
        QVERIFY(s.has_value());
        QCOMPARE(field(*s, F::State), std::optional<std::uint64_t>(1));
        QCOMPARE(field(*s, F::SndMss), std::optional<std::uint64_t>(1460));
        QCOMPARE(field(*s, F::SndWnd), std::optional<std::uint64_t>(64240));
        QCOMPARE(field(*s, F::SndCwnd), std::optional<std::uint64_t>(3));
        QCOMPARE(field(*s, F::Rto), std::optional<std::uint64_t>(3'000'000));
        QCOMPARE(qs(peer::endpointText(s->remote, s->remotePort)),
                 QStringLiteral("198.18.0.2:7000"));
        QCOMPARE(qs(peer::endpointText(s->local, s->localPort)),
                 QStringLiteral("198.18.0.1:40000"));

        // 10000 bytes of the pattern, as the socket's stream: slow start lets 3 segments
        // out, then more as we acknowledge.
        const auto written = agent.call("write 3 10000");
        QVERIFY(written.has_value());
        QCOMPARE(written->answer.result, std::int64_t(10000));
        server.receive([&] { return server.data.size() >= 10000; }, 5000);
        QCOMPARE(server.data.size(), std::size_t(10000));
        QVERIFY2(server.data == patternText(10000), "the bytes are not the pattern");
        for (const auto& segment : server.segments)
            QVERIFY(wire::decodeFrame(wire::Bytes(segment)).payloadLength <= 1460);
        // Counted on: the next write continues the pattern.
        QVERIFY(agent.result("write 3 100"));
        server.receive([&] { return server.data.size() >= 10100; }, 3000);
        QVERIFY(server.data == patternText(10100));
        QVERIFY(agent.result("sample"));
        agent.take();
        const auto after = agent.latest(3);
        QVERIFY(after.has_value());
        // Every byte acknowledged: cwnd grew in slow start, nothing is unacknowledged.
        QCOMPARE(field(*after, F::Unacked), std::optional<std::uint64_t>(0));
        QVERIFY(field(*after, F::SndCwnd).value_or(0) > 3);
        QCOMPARE(after->sendQueue, std::uint32_t(0));
    }

    void agent_connect_refused_andTimedOut() {
        skipWithoutHelper();
        auto o = options();
        o.virtualClock = true;
        auto l = lab::startLwipLab(o);
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        QVERIFY2(l->agent(), l->agentError().c_str());
        Phantom phantom(*l->link(), l->addresses());
        Agent agent(*l->agent(), phantom);
        // A RST to its SYN: ECONNREFUSED.
        QVERIFY(agent.result("socket inet"));
        QVERIFY(agent.result("bind 3 40001"));
        const auto refusedId = agent.send("connect 3 198.18.0.2 7001");
        PhantomServer server(phantom, l->addresses(), 7001, 40001, l->addresses().peerMac);
        const auto syn = server.next(3000);
        QVERIFY(syn.has_value());
        server.rcvNxt = wire::decodeFrame(wire::Bytes(*syn)).tcp()->seq + 1;
        server.sndNxt = SeqNum(0);
        server.send(server.segment(flags::kRst | flags::kAck));
        const auto refusedAnswer = agent.wait(refusedId);
        QVERIFY2(refusedAnswer.has_value(), agent.lastError.c_str());
        QCOMPARE(qs(peer::errnoName(refusedAnswer->answer.error)), QStringLiteral("ECONNREFUSED"));

        // No answer at all, non-blocking: EINPROGRESS; the SYN is retransmitted only as the
        // virtual clock moves (the steady samples follow that clock: nrtx becomes 1; in
        // SYN-SENT lwIP does not back off, tcp.c: the rto stays 3 s); lwIP gives up after
        // TCP_SYNMAXRTX (6) retries: SO_ERROR is ETIMEDOUT.
        QVERIFY(agent.result("socket inet nonblock"));
        QVERIFY(agent.result("bind 4 40002"));
        const auto pending = agent.call("connect 4 198.18.0.2 7002");
        QVERIFY(pending.has_value());
        QCOMPARE(qs(peer::errnoName(pending->answer.error)), QStringLiteral("EINPROGRESS"));
        PhantomServer silent(phantom, l->addresses(), 7002, 40002, l->addresses().peerMac);
        QVERIFY(silent.next(3000).has_value());
        QVERIFY2(!silent.next(300).has_value(), "lwIP resent its SYN on a frozen clock");
        using F = peer::TcpInfoField;
        const auto first = agent.latest(4);
        QVERIFY(first.has_value());
        QCOMPARE(field(*first, F::State), std::optional<std::uint64_t>(2));
        QCOMPARE(field(*first, F::Retransmits), std::optional<std::uint64_t>(0));
        const auto steadyBefore = agent.samples.size();
        QVERIFY(l->advanceClock(std::chrono::milliseconds(3500)).has_value());
        QVERIFY2(silent.next(1000).has_value(), "no retransmitted SYN after 3.5 s of its clock");
        QTRY_VERIFY_WITH_TIMEOUT(
            (agent.take(),
             agent.latest(4) && field(*agent.latest(4), F::Retransmits) == std::uint64_t(1)),
            2000);
        QVERIFY(agent.samples.size() > steadyBefore);
        QCOMPARE(agent.samples.back().after, std::uint32_t(0)); // a steady sample
        QCOMPARE(field(*agent.latest(4), F::Rto), std::optional<std::uint64_t>(3'000'000));
        QVERIFY(l->advanceClock(std::chrono::seconds(30)).has_value()); // past every retry
        auto error = agent.call("getsockopt 4 SO_ERROR", 5000);
        QVERIFY(error.has_value());
        QCOMPARE(error->answer.data.size(), std::size_t(4));
        int code = 0;
        std::memcpy(&code, error->answer.data.data(), 4);
        QCOMPARE(qs(peer::errnoName(code)), QStringLiteral("ETIMEDOUT"));
        const auto gone = agent.call("poll 0 4 out");
        QVERIFY(gone.has_value());
        QCOMPARE(gone->answer.result, std::int64_t(1));
    }

    void agent_ipv6Socket_isDualStack() {
        // An AF_INET6 socket is a dual-stack pcb (IPADDR_TYPE_ANY), as Linux's without
        // IPV6_V6ONLY: it accepts IPv6 and IPv4 connections; an IPv4 address on an AF_INET
        // socket only.
        skipWithoutHelper();
        auto l = lab::startLwipLab(options());
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        QVERIFY2(l->agent(), l->agentError().c_str());
        Phantom phantom(*l->link(), l->addresses());
        Agent agent(*l->agent(), phantom);
        QVERIFY(agent.result("socket inet6"));
        QVERIFY2(agent.result("bind 3 :: 7000"), agent.lastError.c_str());
        QVERIFY(agent.result("listen 3"));
        const auto listening = agent.latest(3);
        QVERIFY(listening.has_value());
        QVERIFY(listening->ipv6);
        QCOMPARE(qs(peer::endpointText(listening->local, listening->localPort)),
                 QStringLiteral("[::]:7000"));
        RawClient six(phantom, l->addresses(), true, 50500, 7000, l->addresses().peerMac);
        QVERIFY2(six.connect({}).has_value(), "no SYN-ACK over IPv6");
        const auto a6 = agent.call("accept 3");
        QVERIFY(a6.has_value());
        QCOMPARE(a6->answer.result, std::int64_t(4));
        QCOMPARE(qs(a6->answer.text), QStringLiteral("[2001:db8::2]:50500"));
        QVERIFY(agent.latest(4).has_value() && agent.latest(4)->ipv6);
        RawClient four(phantom, l->addresses(), false, 50501, 7000, l->addresses().peerMac);
        QVERIFY2(four.connect({}).has_value(), "no SYN-ACK over IPv4 to the dual-stack socket");
        const auto a4 = agent.call("accept 3");
        QVERIFY(a4.has_value());
        QCOMPARE(qs(a4->answer.text), QStringLiteral("198.18.0.2:50501"));
        QVERIFY(agent.latest(5).has_value() && !agent.latest(5)->ipv6);
        // Data both ways over IPv6.
        QVERIFY(agent.result("write 4 \"over IPv6\""));
        six.receive([&] { return six.data.size() >= 9; }, 2000);
        QCOMPARE(qs(six.data), QStringLiteral("over IPv6"));
        QVERIFY(agent.result("socket inet"));
        const auto wrongFamily = agent.call("bind 6 2001:db8::1 7001");
        QVERIFY(wrongFamily.has_value());
        QCOMPARE(qs(peer::errnoName(wrongFamily->answer.error)), QStringLiteral("EAFNOSUPPORT"));
    }

    void agent_notReading_closesLwipsWindow_andReadingReopensIt() {
        skipWithoutHelper();
        auto o = options();
        o.virtualClock = true;
        auto l = lab::startLwipLab(o);
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        QVERIFY2(l->agent(), l->agentError().c_str());
        Phantom phantom(*l->link(), l->addresses());
        Agent agent(*l->agent(), phantom);
        QVERIFY(agent.result("socket inet"));
        QVERIFY(agent.result("bind 3 7000"));
        QVERIFY(agent.result("listen 3"));
        const auto id = agent.send("accept 3");
        RawClient client(phantom, l->addresses(), false, 50200, 7000, l->addresses().peerMac);
        QVERIFY(client.connect({}).has_value());
        const auto accepted = agent.wait(id);
        QVERIFY(accepted.has_value());
        QCOMPARE(accepted->answer.result, std::int64_t(4));

        // The phantom sends what lwIP's window (TCP_WND, 65535) takes, 1460 bytes at a
        // time (no MSS option: lwIP would take 536-byte segments, we send larger ones it
        // accepts all the same); nobody reads. Every ACK lwIP sends advertises less.
        const std::string payload = patternText(65535, 7);
        std::vector<std::uint32_t> windows;
        std::size_t sent = 0;
        while (sent < payload.size()) {
            const std::size_t n = std::min<std::size_t>(1460, payload.size() - sent);
            client.send(client.segment(flags::kAck, payload.substr(sent, n)));
            sent += n;
            while (auto frame = client.next(20)) {
                const auto f = wire::decodeFrame(wire::Bytes(*frame));
                windows.push_back(f.tcp()->window);
            }
        }
        QVERIFY(l->advanceClock(std::chrono::milliseconds(300)).has_value()); // delayed ACK
        std::optional<wire::Frame> last;
        while (auto frame = client.next(300)) {
            last = wire::decodeFrame(wire::Bytes(*frame));
            windows.push_back(last->tcp()->window);
        }
        QVERIFY2(windows.size() >= 20, qPrintable(QString::number(windows.size())));
        for (std::size_t i = 1; i < windows.size(); ++i)
            QVERIFY2(windows[i] < windows[i - 1],
                     qPrintable(
                         QStringLiteral("window %1 after %2").arg(windows[i]).arg(windows[i - 1])));
        QCOMPARE(windows.back(), std::uint32_t(0));
        QVERIFY(last.has_value());
        QCOMPARE(last->tcp()->ack, client.sndNxt); // every byte taken
        // The sample says the same: the receive buffer holds them, rcv_wnd is 0.
        QVERIFY(agent.result("sample"));
        agent.take();
        const auto full = agent.latest(4);
        QVERIFY(full.has_value());
        QCOMPARE(field(*full, peer::TcpInfoField::RcvWnd), std::optional<std::uint64_t>(0));
        QCOMPARE(full->receiveQueue, std::uint32_t(65535));

        // Reading opens the window again: tcp_recved, and lwIP sends a window update.
        const auto read = agent.call("read 4 65535");
        QVERIFY(read.has_value());
        QCOMPARE(read->answer.result, std::int64_t(65535));
        QVERIFY(std::string(read->answer.data.begin(), read->answer.data.end()) == payload);
        const auto update = client.next(1000);
        QVERIFY2(update.has_value(), "no window update after reading");
        const auto f = wire::decodeFrame(wire::Bytes(*update));
        QCOMPARE(f.tcp()->flags, std::uint8_t(flags::kAck));
        QCOMPARE(f.tcp()->ack, client.sndNxt);
        QCOMPARE(f.tcp()->window, std::uint16_t(65535));
        // Nothing waits now: a non-blocking read says EAGAIN.
        const auto empty = agent.call("read 4 100 dontwait");
        QVERIFY(empty.has_value());
        QCOMPARE(qs(peer::errnoName(empty->answer.error)), QStringLiteral("EAGAIN"));
    }

    void agent_lingerZero_close_sendsRst_andShutdownWr_sendsFin() {
        skipWithoutHelper();
        auto o = options();
        o.virtualClock = true;
        auto l = lab::startLwipLab(o);
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        QVERIFY2(l->agent(), l->agentError().c_str());
        Phantom phantom(*l->link(), l->addresses());
        Agent agent(*l->agent(), phantom);
        QVERIFY(agent.result("socket inet"));
        QVERIFY(agent.result("bind 3 7000"));
        QVERIFY(agent.result("listen 3"));
        RawClient a(phantom, l->addresses(), false, 50300, 7000, l->addresses().peerMac);
        RawClient b(phantom, l->addresses(), false, 50301, 7000, l->addresses().peerMac);
        QVERIFY(a.connect({}).has_value());
        QVERIFY(b.connect({}).has_value());
        QCOMPARE(agent.result("accept 3"), std::optional<std::int64_t>(4));
        QCOMPARE(agent.result("accept 3"), std::optional<std::int64_t>(5));

        // SO_LINGER {1, 0}, close: tcp_abort, a RST.
        QVERIFY2(agent.result("setsockopt 4 SO_LINGER 1,0"), agent.lastError.c_str());
        const auto linger = agent.call("getsockopt 4 SO_LINGER");
        QVERIFY(linger.has_value());
        QCOMPARE(qs(peer::describeAnswer(linger->request, linger->answer)),
                 QStringLiteral("= 0 onoff=1 linger=0"));
        QVERIFY(agent.result("close 4"));
        const auto rst = a.next(1000);
        QVERIFY2(rst.has_value(), "no RST after close with SO_LINGER 1,0");
        const auto r = wire::decodeFrame(wire::Bytes(*rst));
        QVERIFY(r.tcp()->has(flags::kRst));
        QCOMPARE(r.tcp()->seq, a.rcvNxt);

        // shutdown(SHUT_WR): a FIN; the socket still reads, and writes are EPIPE.
        QVERIFY(agent.result("shutdown 5 wr"));
        b.receive([&] { return b.finSeen; }, 1000);
        QVERIFY2(b.finSeen, "no FIN after shutdown wr");
        QVERIFY(!b.resetSeen);
        b.send(b.segment(flags::kPsh | flags::kAck, "still open"));
        const auto read = agent.call("read 5 100");
        QVERIFY(read.has_value());
        QCOMPARE(qs(std::string(read->answer.data.begin(), read->answer.data.end())),
                 QStringLiteral("still open"));
        const auto write = agent.call("write 5 10");
        QVERIFY(write.has_value());
        QCOMPARE(qs(peer::errnoName(write->answer.error)), QStringLiteral("EPIPE"));
        const auto s = agent.latest(5);
        QVERIFY(s.has_value());
        QCOMPARE(field(*s, peer::TcpInfoField::State),
                 std::optional<std::uint64_t>(5)); // FIN_WAIT2
        // Our FIN ends it: TIME-WAIT (6), and read says 0 (end of file).
        b.send(b.segment(flags::kFin | flags::kAck));
        QVERIFY(b.next(1000).has_value()); // its ACK of our FIN
        const auto eof = agent.call("read 5 100");
        QVERIFY(eof.has_value());
        QCOMPARE(eof->answer.result, std::int64_t(0));
        QCOMPARE(field(*agent.latest(5), peer::TcpInfoField::State),
                 std::optional<std::uint64_t>(6));
        // The closed socket's pcb is sampled on (an orphan, fd -1) until TIME-WAIT ends,
        // then it is gone, once.
        const auto inode = agent.latest(5)->inode;
        QVERIFY(agent.result("close 5"));
        QVERIFY(l->advanceClock(std::chrono::minutes(3)).has_value());
        QTRY_VERIFY_WITH_TIMEOUT(
            (agent.take(),
             !agent.samples.empty() &&
                 std::any_of(agent.samples.back().sockets.begin(),
                             agent.samples.back().sockets.end(),
                             [&](const auto& x) { return x.inode == inode && x.gone; })),
            3000);
    }

    void agent_whatLwipLacks_isRefusedWithASentence() {
        skipWithoutHelper();
        auto l = lab::startLwipLab(options());
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        QVERIFY2(l->agent(), l->agentError().c_str());
        Phantom phantom(*l->link(), l->addresses());
        Agent agent(*l->agent(), phantom);
        QVERIFY(agent.result("socket inet"));
        const auto refusedWith = [&](const std::string& call, const std::string& words) {
            const auto r = agent.call(call);
            if (!r)
                return QStringLiteral("%1: %2").arg(qs(call), qs(agent.lastError));
            if (r->answer.outcome != peer::Outcome::Refused)
                return QStringLiteral("%1: not refused: %2")
                    .arg(qs(call), qs(peer::describeAnswer(r->request, r->answer)));
            if (r->answer.text.find(words) == std::string::npos)
                return QStringLiteral("%1: '%2' does not say '%3'")
                    .arg(qs(call), qs(r->answer.text), qs(words));
            return QString();
        };
        QCOMPARE(refusedWith("setsockopt 3 TCP_CORK 1", "lwIP has no TCP_CORK"), QString());
        QCOMPARE(refusedWith("sysctl net.ipv4.tcp_sack=0", "lwIP has no sysctls"), QString());
        QCOMPARE(refusedWith("sysctl net.ipv4.tcp_sack", "lwIP has no sysctls"), QString());
        QCOMPARE(refusedWith("setsockopt 3 TCP_QUICKACK 1", "lwIP has no TCP_QUICKACK"), QString());
        QCOMPARE(refusedWith("setsockopt 3 TCP_USER_TIMEOUT 1000", "lwIP has no TCP_USER_TIMEOUT"),
                 QString());
        QCOMPARE(refusedWith("setsockopt 3 TCP_CONGESTION reno", "lwIP has no TCP_CONGESTION"),
                 QString());
        QCOMPARE(refusedWith("getsockopt 3 TCP_INFO", "samples"), QString());
        QCOMPARE(refusedWith("setsockopt 3 SO_LINGER 1,5", "lwIP has no lingering close"),
                 QString());
        QCOMPARE(refusedWith("setsockopt 3 SO_RCVBUF 100000", "TCP_WND"), QString());
        QCOMPARE(refusedWith("setsockopt 3 SO_SNDBUF 100000", "TCP_SND_BUF"), QString());
        QCOMPARE(refusedWith("setsockopt 3 TCP_MAXSEG 1000", "TCP_MSS"), QString());
        QCOMPARE(refusedWith("ioctl 3 SIOCOUTQ", "no ioctls"), QString());
        const auto list = agent.call("sysctl-list net.ipv4.");
        QVERIFY(list.has_value());
        QCOMPARE(list->answer.outcome, peer::Outcome::Done);
        QCOMPARE(list->answer.result, std::int64_t(0));
        QVERIFY(list->answer.data.empty());
        QVERIFY(list->answer.text.find("lwIP has no sysctls") != std::string::npos);

        // What lwIP has is made, and reads back.
        QVERIFY(agent.result("setsockopt 3 TCP_NODELAY 1"));
        QVERIFY(agent.result("setsockopt 3 SO_KEEPALIVE 1"));
        QVERIFY(agent.result("setsockopt 3 TCP_KEEPIDLE 30"));
        QVERIFY(agent.result("setsockopt 3 SO_REUSEADDR 1"));
        const auto readBack = [&](const std::string& option) {
            const auto r = agent.call("getsockopt 3 " + option);
            return r ? peer::describeAnswer(r->request, r->answer) : agent.lastError;
        };
        QCOMPARE(qs(readBack("TCP_NODELAY")), QStringLiteral("= 0 1"));
        QCOMPARE(qs(readBack("SO_KEEPALIVE")), QStringLiteral("= 0 1"));
        QCOMPARE(qs(readBack("TCP_KEEPIDLE")), QStringLiteral("= 0 30"));
        QCOMPARE(qs(readBack("SO_REUSEADDR")), QStringLiteral("= 0 1"));
        QCOMPARE(qs(readBack("TCP_MAXSEG")), QStringLiteral("= 0 536")); // before the peer's MSS
        QCOMPARE(qs(readBack("SO_RCVBUF")), QStringLiteral("= 0 65535"));
        // A bad value gets the kernel's errno; a bad fd EBADF; nothing breaks.
        const auto bad = agent.call("setsockopt 3 TCP_KEEPCNT 1000");
        QVERIFY(bad.has_value());
        QCOMPARE(qs(peer::errnoName(bad->answer.error)), QStringLiteral("EINVAL"));
        const auto badFd = agent.call("close 42");
        QVERIFY(badFd.has_value());
        QCOMPARE(qs(peer::errnoName(badFd->answer.error)), QStringLiteral("EBADF"));
        const auto twice = agent.call("listen 3");
        QVERIFY(twice.has_value());
        QCOMPARE(twice->answer.result, std::int64_t(0));
        const auto notConnected = agent.call("read 3 10");
        QVERIFY(notConnected.has_value());
        QCOMPARE(qs(peer::errnoName(notConnected->answer.error)), QStringLiteral("ENOTCONN"));
        const auto inUse = agent.call("socket inet");
        QVERIFY(inUse.has_value());
        QCOMPARE(inUse->answer.result, std::int64_t(4));
        const auto bindInUse = agent.call("bind 4 50001"); // the HTTP responder's port
        QVERIFY(bindInUse.has_value());
        QCOMPARE(qs(peer::errnoName(bindInUse->answer.error)), QStringLiteral("EADDRINUSE"));
    }

    void agent_samplesTheHttpResponder_andBulkIsStreamed() {
        // GET /bytes/100000 from lwIP's responder: exactly the pattern, and the request
        // pipelined behind it answered after it; the agent samples the responder's pcb
        // (fd -1) and says when it is gone.
        skipWithoutHelper();
        auto l = lab::startLwipLab(options());
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        QVERIFY2(l->agent(), l->agentError().c_str());
        Phantom phantom(*l->link(), l->addresses());
        Agent agent(*l->agent(), phantom);
        RawClient client(phantom, l->addresses(), false, 50400, 50001, l->addresses().peerMac);
        QVERIFY(client.connect({}).has_value());
        client.send(client.segment(flags::kPsh | flags::kAck,
                                   "GET /bytes/100000 HTTP/1.1\r\n\r\nGET /next HTTP/1.1\r\n\r\n"));
        const std::string head = "HTTP/1.1 200 OK\r\nServer: tcplab-lab\r\nContent-Type: "
                                 "application/octet-stream\r\nContent-Length: 100000\r\n\r\n";
        const std::string next = expectedResponse(50001, 2, "GET", "/next", false);
        client.receive([&] { return client.data.size() >= head.size() + 100000 + next.size(); },
                       10000);
        QCOMPARE(client.data.size(), head.size() + 100000 + next.size());
        QCOMPARE(qs(client.data.substr(0, head.size())), qs(head));
        QVERIFY2(client.data.substr(head.size(), 100000) == patternText(100000),
                 "the body is not the pattern");
        QCOMPARE(qs(client.data.substr(head.size() + 100000)), qs(next));
        QVERIFY(!client.resetSeen);

        QVERIFY(agent.result("sample"));
        agent.take();
        const auto responder = agent.latest(-1, 50400);
        QVERIFY(responder.has_value());
        QCOMPARE(responder->fd, std::int32_t(-1));
        QCOMPARE(field(*responder, peer::TcpInfoField::State), std::optional<std::uint64_t>(1));
        QCOMPARE(field(*responder, peer::TcpInfoField::SndMss), std::optional<std::uint64_t>(536));
        QVERIFY(field(*responder, peer::TcpInfoField::SndCwnd).value_or(0) > 3);
        // The client closes: lwIP closes too (LAST-ACK), our ACK ends it: gone.
        client.send(client.segment(flags::kFin | flags::kAck));
        client.receive([&] { return client.finSeen; }, 3000);
        QVERIFY(client.finSeen);
        QTRY_VERIFY_WITH_TIMEOUT(
            (agent.take(), std::any_of(agent.samples.begin(), agent.samples.end(),
                                       [&](const peer::Sample& sample) {
                                           return std::any_of(
                                               sample.sockets.begin(), sample.sockets.end(),
                                               [&](const auto& x) {
                                                   return x.inode == responder->inode && x.gone;
                                               });
                                       })),
            3000);
    }

    void destroyingTheLab_leavesNoHelper() {
        skipWithoutHelper();
        pid_t pid = -1;
        {
            auto l = lab::startLwipLab(options());
            QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
            pid = l->helperPid();
            QVERIFY(processState(pid) != 0);
            // A link in use when the lab goes.
            auto link = l->takeLink();
            QVERIFY(link != nullptr);
            QVERIFY(l->link() == nullptr);
        }
        QCOMPARE(processState(pid), char(0)); // reaped: not even a zombie
        QVERIFY(::kill(pid, 0) != 0);
    }

    void closingTheLink_endsTheHelper() {
        skipWithoutHelper();
        auto l = lab::startLwipLab(options());
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        const pid_t pid = l->helperPid();
        l->takeLink().reset();
        const auto deadline = Clock::now() + std::chrono::seconds(3);
        while (processState(pid) != 'Z' && Clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        QCOMPARE(processState(pid), 'Z'); // ended by itself, waiting for the lab to reap it
    }

    void bogusHelper_givesAClearError() {
        auto o = options();
        o.helperPath = "/nonexistent/tcplab-lwip-helper";
        const auto missing = lab::startLwipLab(o);
        QVERIFY(!missing.has_value());
        QCOMPARE(missing.error().code, LabErrorCode::HelperMissing);
        QVERIFY2(missing.error().message.find("/nonexistent/tcplab-lwip-helper does not exist") !=
                     std::string::npos,
                 missing.error().message.c_str());

        // Something executable that is not the helper: it ends without an answer.
        o.helperPath = "/bin/true";
        const auto wrong = lab::startLwipLab(o);
        QVERIFY(!wrong.has_value());
        QCOMPARE(wrong.error().code, LabErrorCode::HelperCrashed);
        QVERIFY2(wrong.error().message.find("exited with status 0 without an answer") !=
                     std::string::npos,
                 wrong.error().message.c_str());

        // A file that cannot be run.
        const auto notExecutable = lab::findLwipHelper("/etc/passwd");
        QVERIFY(!notExecutable.has_value());
        QCOMPARE(notExecutable.error().code, LabErrorCode::HelperMissing);
        QVERIFY(notExecutable.error().message.find("is not executable") != std::string::npos);
    }
};

QTEST_GUILESS_MAIN(TestLwipLab)
#include "tst_lwip_lab.moc"
