// The peer agent (app/peer_agent) in the built-in Linux lab, against the real kernel:
// startLinuxLab() spawns it into the peer's namespaces, and here it makes socket calls,
// sysctls and tcp_info samples on request while the phantom (tests_support/lab_phantom.h)
// plays the other end on the lab's link. Every wait is bounded.
//
// Runs as any user where unprivileged user namespaces are allowed; skips, saying why,
// where they are not (as tst_builtin_lab does).
#include <QObject>
#include <QTest>

#include "tests_support/lab_phantom.h"
#include "tests_support/test_support.h"

#include "lab/builtin_lab.h"
#include "peer/agent_client.h"
#include "peer/agent_protocol.h"
#include "peer/call_text.h"
#include "peer/pattern.h"
#include "peer/tcp_info.h"
#include "wire/frame.h"
#include "wire/segment_spec.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

// The build names what it built (tests/CMakeLists.txt); else they are looked for where that
// build puts them.
#ifndef TCPLAB_LAB_HELPER_PATH
#define TCPLAB_LAB_HELPER_PATH TCPLAB_BINARY_DIR "/app/tcplab-lab-helper"
#endif
#ifndef TCPLAB_PEER_AGENT_PATH
#define TCPLAB_PEER_AGENT_PATH TCPLAB_BINARY_DIR "/app/tcplab-peer-agent"
#endif

using namespace tcplab;
using namespace tcplab::test;
using lab::LabErrorCode;
using peer::TcpInfoField;
using wire::SeqNum;
namespace flags = wire::tcp_flags;

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Linux's numbers, as the protocol carries them.
constexpr int kEinval = 22;
constexpr int kEnoent = 2;
constexpr int kEacces = 13;
constexpr int kEagain = 11;
constexpr int kEinprogress = 115;
constexpr std::uint64_t kEstablished = 1;
constexpr std::uint64_t kSynSent = 2;
constexpr std::uint64_t kFinWait2 = 5;
constexpr std::uint64_t kListen = 10;

const std::vector<std::uint8_t> kPhantom4 = {198, 18, 0, 2};
const std::vector<std::uint8_t> kPeer4 = {198, 18, 0, 1};

lab::LabOptions options() {
    lab::LabOptions o;
    const char* helper = std::getenv("TCPLAB_LAB_HELPER");
    o.helperPath = helper && *helper ? helper : TCPLAB_LAB_HELPER_PATH;
    const char* agent = std::getenv("TCPLAB_PEER_AGENT");
    o.agentPath = agent && *agent ? agent : TCPLAB_PEER_AGENT_PATH;
    o.timeout = milliseconds(10'000);
    return o;
}

std::uint16_t clientPort() {
    return static_cast<std::uint16_t>(40000 + std::random_device{}() % 20000);
}

std::string patternText(std::uint64_t from, std::size_t count) {
    std::string s(count, '\0');
    peer::fillPattern(reinterpret_cast<std::uint8_t*>(s.data()), count, from);
    return s;
}

std::uint64_t stateOf(const peer::SocketSample& s) {
    return peer::TcpInfo::fromPairs(s.fields).value(TcpInfoField::State, 0);
}

bool processExists(pid_t pid) {
    return ::kill(pid, 0) == 0 || errno == EPERM;
}

/// Ended: gone, or a zombie waiting to be reaped.
bool processEnded(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    return !std::getline(stat, line) || line.find(") Z ") != std::string::npos;
}

/// The lab and its agent, with the calls written in the call grammar (peer/call_text.h);
/// every Sample that comes is kept in `samples`. While it waits it keeps the phantom's
/// link moving, so that the peer's ARP requests are answered.
class Peer {
    lab::BuiltinLinuxLab& m_lab; // first: the phantom is made on its link

public:
    explicit Peer(lab::BuiltinLinuxLab& l)
        : m_lab(l)
        , phantom(*l.link(), l.addresses()) {}

    peer::AgentClient& agent() { return *m_lab.agent(); }

    /// The call's id, or 0 (error() says why).
    std::uint32_t send(std::string_view text) {
        auto request = peer::parseCall(text);
        if (!request) {
            m_error = "bad call '" + std::string(text) + "': " + request.error();
            return 0;
        }
        return send(*request);
    }
    std::uint32_t send(peer::Request request) {
        const auto id = agent().send(std::move(request));
        if (!id) {
            m_error = id.error();
            return 0;
        }
        return *id;
    }

    /// The answer to request `id` (come already, or coming within `ms`).
    std::optional<peer::CallRecord> await(std::uint32_t id, int ms = 5000) {
        std::optional<peer::CallRecord> result;
        const auto take = [&] {
            for (auto it = others.begin(); !result && it != others.end(); ++it)
                if (it->answer.id == id) {
                    result = std::move(*it);
                    others.erase(it);
                    break;
                }
            return result.has_value();
        };
        pumpUntil(take, ms);
        if (!result)
            m_error = m_error.empty() ? fmt::format("no answer to request {} within {} ms", id, ms)
                                      : m_error;
        return result;
    }

    std::optional<peer::CallRecord> call(std::string_view text, int ms = 5000) {
        const auto id = send(text);
        if (id == 0)
            return std::nullopt;
        return await(id, ms);
    }

    /// The result of a call made (Done), or `fallback` with error() saying why not.
    std::int64_t result(std::string_view text, std::int64_t fallback = -999) {
        const auto r = call(text);
        if (!r)
            return fallback;
        if (r->answer.outcome != peer::Outcome::Done) {
            m_error = fmt::format("{}: refused: {}", text, r->answer.text);
            return fallback;
        }
        m_error = peer::describeCallLine(r->request, r->answer);
        return r->answer.result;
    }

    /// The newest sample of a socket `match` accepts (kept or arriving), within `ms`.
    std::optional<peer::SocketSample>
    waitSocket(const std::function<bool(const peer::Sample&, const peer::SocketSample&)>& match,
               int ms = 3000) {
        std::optional<peer::SocketSample> found;
        const auto look = [&] {
            for (auto s = samples.rbegin(); !found && s != samples.rend(); ++s)
                for (const auto& socket : s->sockets)
                    if (match(*s, socket))
                        found = socket;
            return found.has_value();
        };
        pumpUntil(look, ms);
        if (!found)
            m_error = fmt::format("no such socket sample within {} ms; {}", ms, samplesText());
        return found;
    }

    /// Keeps the agent and the link moving for `ms`.
    void pump(int ms) {
        pumpUntil([] { return false; }, ms);
    }

    std::string samplesText() const {
        QStringList l;
        for (const auto& s : samples)
            for (const auto& socket : s.sockets)
                l << qs(fmt::format(
                    "[after {}] fd {} {}:{} > {}:{} {} {}", s.after, socket.fd,
                    peer::endpointText(socket.local, socket.localPort), socket.localPort,
                    peer::endpointText(socket.remote, socket.remotePort), socket.remotePort,
                    peer::linuxStateName(stateOf(socket)), socket.gone ? "gone" : ""));
        return l.join(QStringLiteral("; ")).right(2000).toStdString();
    }

    const char* error() {
        m_errorText = m_error;
        return m_errorText.c_str();
    }

    Phantom phantom;
    std::vector<peer::Sample> samples;
    std::vector<peer::CallRecord> others;

private:
    /// Receives from the agent and keeps the link moving until `done`, for at least one
    /// round and at most `ms`.
    void pumpUntil(const std::function<bool()>& done, int ms) {
        const auto deadline = Clock::now() + milliseconds(ms);
        do {
            if (done())
                break;
            pollfd p[2] = {{agent().pollFd(), POLLIN, 0}, {m_lab.link()->pollFd(), POLLIN, 0}};
            ::poll(p, 2, 2);
            const auto got = agent().receive([&](peer::AgentEvent e) {
                if (auto* s = std::get_if<peer::Sample>(&e))
                    samples.push_back(std::move(*s));
                else if (auto* r = std::get_if<peer::CallRecord>(&e))
                    others.push_back(std::move(*r));
            });
            if (!got) {
                m_error = got.error();
                return;
            }
            // The link: the peer's ARP requests are answered, its segments queued.
            if (p[1].revents != 0)
                phantom.waitFor([](const wire::Frame&) { return false; }, 1);
        } while (Clock::now() < deadline);
    }

    std::string m_error;
    std::string m_errorText;
};

} // namespace

using test::PhantomServer;

class TestPeerAgent : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() {
        ::signal(SIGPIPE, SIG_IGN);
        auto probe = lab::startLinuxLab(options());
        if (!probe && probe.error().code == LabErrorCode::UserNamespacesRefused)
            m_noNamespaces = qs(probe.error().message);
        else
            QVERIFY2(probe.has_value(), probe ? "" : probe.error().message.c_str());
        if (probe)
            QVERIFY2(probe->agent() != nullptr, probe->agentError().c_str());
    }

    void init() {
        if (!m_noNamespaces.isEmpty())
            QSKIP(qPrintable(m_noNamespaces));
        auto l = lab::startLinuxLab(options());
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        QVERIFY2(l->agent() != nullptr, l->agentError().c_str());
        m_lab.emplace(std::move(*l));
        m_peer.emplace(*m_lab);
    }
    void cleanup() {
        m_peer.reset();
        m_lab.reset();
    }

    void hello_saysLinuxItsReleaseAndPid_andAnIdleAgentSendsNothing() {
        auto& agent = m_peer->agent();
        QVERIFY(agent.hello().has_value());
        const peer::Hello& hello = *agent.hello();
        utsname u{};
        ::uname(&u);
        QCOMPARE(hello.version, peer::kProtocolVersion);
        QCOMPARE(qs(hello.stack), QStringLiteral("linux"));
        QCOMPARE(qs(hello.release), QString::fromLatin1(u.release));
        QCOMPARE(qs(hello.limits), QString());
        QVERIFY(hello.pid > 0 && processExists(hello.pid));
        QCOMPARE(qs(m_lab->agentError()), QString());
        QVERIFY2(m_lab->description().find(fmt::format("peer agent: pid {}", hello.pid)) !=
                     std::string::npos,
                 m_lab->description().c_str());
        QVERIFY(m_lab->agentStartupTime() > std::chrono::nanoseconds(0));
        qInfo("%s; the agent started in %.2f ms", m_lab->description().c_str(),
              std::chrono::duration<double, std::milli>(m_lab->agentStartupTime()).count());
        // Nothing lives in the namespace (two listeners): no steady sampling, no message.
        m_peer->pump(200);
        QCOMPARE(m_peer->samples.size(), std::size_t{0});
    }

    void fds_startAtThree_asInAFreshProcess() {
        Peer& p = *m_peer;
        QCOMPARE(p.result("socket inet"), std::int64_t{3});
        QCOMPARE(p.result("socket inet6 nonblock"), std::int64_t{4});
        QCOMPARE(p.result("close 3"), std::int64_t{0});
        QCOMPARE(p.result("socket inet"), std::int64_t{3});
        QCOMPARE(p.result("fcntl 4 getfl") & 04000, std::int64_t{04000}); // O_NONBLOCK
        QCOMPARE(p.result("fcntl 3 getfl") & 04000, std::int64_t{0});
    }

    void listen_aSampleShowsItOnItsPortWithItsFd() {
        Peer& p = *m_peer;
        QCOMPARE(p.result("socket inet"), std::int64_t{3});
        QCOMPARE(p.result("bind 3 8080"), std::int64_t{0});
        const auto listen = p.call("listen 3 16");
        QVERIFY2(listen && listen->answer.result == 0, p.error());
        const auto s = p.waitSocket([&](const peer::Sample& sample, const peer::SocketSample& x) {
            return sample.after == listen->answer.id && x.fd == 3;
        });
        QVERIFY2(s.has_value(), p.error());
        QCOMPARE(stateOf(*s), kListen);
        QCOMPARE(s->localPort, std::uint16_t{8080});
        QCOMPARE(s->local, std::vector<std::uint8_t>(4, 0));
        QVERIFY(!s->ipv6);
        QVERIFY(s->remote.empty());
        QCOMPARE(s->receiveQueue, 0u);
        QCOMPARE(s->sendQueue, 16u); // a listener's backlog
        QVERIFY(s->inode != 0);
        QVERIFY(!s->congestion.empty());

        // A sample on request: every socket, the lab's two listeners (fd -1) too.
        const auto sample = p.call("sample");
        QVERIFY2(sample.has_value(), p.error());
        QCOMPARE(sample->answer.result, std::int64_t{3});
        for (const std::uint16_t port : {50001, 80}) {
            const auto l = p.waitSocket([&](const peer::Sample& x, const peer::SocketSample& y) {
                return x.after == sample->answer.id && y.localPort == port;
            });
            QVERIFY2(l.has_value(), p.error());
            QCOMPARE(l->fd, -1);
            QCOMPARE(stateOf(*l), kListen);
            QVERIFY(l->ipv6); // dual-stack, on ::
            QCOMPARE(l->local, std::vector<std::uint8_t>(16, 0));
        }
    }

    void setsockopt_badValues_answerTheirErrnosName_andNothingCrashes() {
        Peer& p = *m_peer;
        QCOMPARE(p.result("socket inet"), std::int64_t{3});
        const auto mss = p.call("setsockopt 3 TCP_MAXSEG 1");
        QVERIFY2(mss.has_value(), p.error());
        qInfo("%s", peer::describeCallLine(mss->request, mss->answer).c_str());
        QCOMPARE(mss->answer.outcome, peer::Outcome::Done);
        QCOMPARE(mss->answer.result, std::int64_t{-1});
        QCOMPARE(qs(peer::errnoName(mss->answer.error)), QStringLiteral("EINVAL"));
        const auto cc = p.call("setsockopt 3 TCP_CONGESTION nosuch");
        QVERIFY2(cc.has_value(), p.error());
        qInfo("%s", peer::describeCallLine(cc->request, cc->answer).c_str());
        QCOMPARE(cc->answer.result, std::int64_t{-1});
        QCOMPARE(qs(peer::errnoName(cc->answer.error)), QStringLiteral("ENOENT"));
        const auto nodelay = p.call("getsockopt 3 TCP_NODELAY");
        QVERIFY2(nodelay.has_value(), p.error());
        QCOMPARE(nodelay->answer.result, std::int64_t{0});
        QCOMPARE(nodelay->answer.data, (std::vector<std::uint8_t>{0, 0, 0, 0}));
    }

    void soLinger_setThenGet_roundTrips() {
        Peer& p = *m_peer;
        QCOMPARE(p.result("socket inet6"), std::int64_t{3});
        QCOMPARE(p.result("setsockopt 3 SO_LINGER 1,5"), std::int64_t{0});
        const auto get = p.call("getsockopt 3 SO_LINGER");
        QVERIFY2(get.has_value(), p.error());
        QCOMPARE(get->answer.result, std::int64_t{0});
        // struct linger {int l_onoff; int l_linger;}, host order.
        QCOMPARE(get->answer.data, (std::vector<std::uint8_t>{1, 0, 0, 0, 5, 0, 0, 0}));
        qInfo("%s", peer::describeCallLine(get->request, get->answer).c_str());
    }

    void anFdTheAgentDoesNotOwn_isRefused() {
        Peer& p = *m_peer;
        for (const char* call : {"fcntl 0 getfl", "close 100", "read 3 10", "poll 0 2 in"}) {
            const auto r = p.call(call);
            QVERIFY2(r.has_value(), p.error());
            QCOMPARE(r->answer.outcome, peer::Outcome::Refused);
            QVERIFY2(r->answer.text.find("is not the agent's") != std::string::npos,
                     r->answer.text.c_str());
        }
        QCOMPARE(p.result("socket inet"), std::int64_t{3}); // and it goes on
    }

    void blockingAccept_isAnsweredLater_whileOtherCallsAreAnswered() {
        Peer& p = *m_peer;
        QCOMPARE(p.result("socket inet"), std::int64_t{3});
        QCOMPARE(p.result("bind 3 50002"), std::int64_t{0});
        QCOMPARE(p.result("listen 3 8"), std::int64_t{0});
        const auto accept = p.send("accept 3");
        QVERIFY2(accept != 0, p.error());
        // Meanwhile: other calls are answered, the accept still waits.
        QCOMPARE(p.result("fcntl 3 getfl") & 04000, std::int64_t{0});
        const auto sack = p.call("sysctl net.ipv4.tcp_sack");
        QVERIFY2(sack.has_value(), p.error());
        QCOMPARE(p.agent().pending(), std::size_t{1});

        const auto mac = p.phantom.resolve(IpAddress{m_lab->addresses().peer4}, 3000);
        QVERIFY(mac.has_value());
        RawClient client(p.phantom, m_lab->addresses(), false, clientPort(), 50002, *mac);
        QVERIFY2(client.connect(wire::TcpOptionList{}).has_value(), "no SYN-ACK on port 50002");
        const auto accepted = p.await(accept);
        QVERIFY2(accepted.has_value(), p.error());
        QCOMPARE(accepted->answer.result, std::int64_t{4});
        QCOMPARE(qs(accepted->answer.text), qs(fmt::format("198.18.0.2:{}", client.sport())));
        // It began before the calls answered meanwhile, and returned after them.
        QVERIFY(accepted->answer.startNs < sack->answer.startNs);
        QVERIFY(accepted->answer.startNs + accepted->answer.durationNs >
                sack->answer.startNs + sack->answer.durationNs);
        // The accepted socket is the agent's.
        QCOMPARE(p.result("ioctl 4 SIOCINQ"), std::int64_t{0});
        const auto s = p.waitSocket([](const peer::Sample&, const peer::SocketSample& x) {
            return x.fd == 4 && stateOf(x) == kEstablished;
        });
        QVERIFY2(s.has_value(), p.error());
        QCOMPARE(s->remote, kPhantom4);
        QCOMPARE(s->remotePort, client.sport());
        QCOMPARE(s->local, kPeer4);
        QCOMPARE(s->localPort, std::uint16_t{50002});
        auto rst = client.segment(flags::kRst);
        client.send(rst);
    }

    void connect_toThePhantom_synSent_handshake_writeOfPattern_lingerZeroCloseSendsRst() {
        Peer& p = *m_peer;
        QCOMPARE(p.result("socket inet nonblock"), std::int64_t{3});
        const auto connect = p.call("connect 3 198.18.0.2 50000");
        QVERIFY2(connect.has_value(), p.error());
        QCOMPARE(connect->answer.result, std::int64_t{-1});
        QCOMPARE(connect->answer.error, kEinprogress);
        // The sample taken right after the call: SYN-SENT, towards the phantom.
        const auto synSent = p.waitSocket([&](const peer::Sample& s, const peer::SocketSample& x) {
            return s.after == connect->answer.id && x.fd == 3;
        });
        QVERIFY2(synSent.has_value(), p.error());
        QCOMPARE(stateOf(*synSent), kSynSent);
        QCOMPARE(synSent->remote, kPhantom4);
        QCOMPARE(synSent->remotePort, std::uint16_t{50000});
        QCOMPARE(synSent->local, kPeer4);
        QVERIFY(!synSent->ipv6);

        // The SYN on the wire, from the port the sample names.
        PhantomServer server(p.phantom, m_lab->addresses(), 50000);
        const auto syn = server.acceptSyn(3000);
        QVERIFY2(syn.has_value(), "no SYN from the peer's kernel on the lab's link");
        QCOMPARE(server.peerPort(), synSent->localPort);
        const auto ack = server.next(3000);
        QVERIFY2(ack.has_value(), "the peer did not complete the handshake");
        QCOMPARE(wire::decodeFrame(wire::Bytes(*ack)).tcp()->flags, flags::kAck);
        const auto established = p.waitSocket([](const peer::Sample&, const peer::SocketSample& x) {
            return x.fd == 3 && stateOf(x) == kEstablished;
        });
        QVERIFY2(established.has_value(), p.error());

        // A blocking write of 100000 pattern bytes: answered once all are queued.
        QCOMPARE(p.result("fcntl 3 setfl 0"), std::int64_t{0});
        const auto write = p.send("write 3 100000");
        QVERIFY(write != 0);
        server.receive([&] { return server.data.size() >= 100000; }, 10'000, true,
                       [&] { p.pump(0); });
        const auto written = p.await(write);
        QVERIFY2(written.has_value(), p.error());
        QCOMPARE(written->answer.result, std::int64_t{100000});
        QCOMPARE(server.data.size(), std::size_t{100000});
        QVERIFY(server.data == patternText(0, 100000));
        // Given bytes, then the pattern again: it goes on where the stream is.
        QCOMPARE(p.result("write 3 \"hello\""), std::int64_t{5});
        QCOMPARE(p.result("write 3 10"), std::int64_t{10});
        server.receive([&] { return server.data.size() >= 100015; }, 3000);
        QCOMPARE(qs(server.data.substr(100000)), qs("hello" + patternText(100005, 10)));

        // SO_LINGER {1, 0}, then close: a RST, not a FIN.
        QCOMPARE(p.result("setsockopt 3 SO_LINGER 1,0"), std::int64_t{0});
        QCOMPARE(p.result("close 3"), std::int64_t{0});
        const auto rst = server.next(3000);
        QVERIFY2(rst.has_value(), "nothing on the wire after close with SO_LINGER 1,0");
        const auto f = wire::decodeFrame(wire::Bytes(*rst));
        QVERIFY2(f.tcp()->has(flags::kRst) && !f.tcp()->has(flags::kFin),
                 wire::tcpFlagsToString(f.tcp()->flags).c_str());
        const auto gone = p.waitSocket([&](const peer::Sample&, const peer::SocketSample& x) {
            return x.gone && x.localPort == server.peerPort();
        });
        QVERIFY2(gone.has_value(), p.error());
    }

    void shutdownWr_givesAFin_andABlockingReadStillGetsData() {
        Peer& p = *m_peer;
        PhantomServer server(p.phantom, m_lab->addresses(), 50000);
        QCOMPARE(p.result("socket inet"), std::int64_t{3});
        const auto connect = p.send("connect 3 198.18.0.2 50000"); // blocking: on a thread
        QVERIFY(connect != 0);
        QVERIFY2(server.acceptSyn(3000).has_value(), "no SYN");
        const auto connected = p.await(connect);
        QVERIFY2(connected.has_value(), p.error());
        QCOMPARE(connected->answer.result, std::int64_t{0});
        QVERIFY(server.next(3000).has_value()); // the handshake's ACK

        QCOMPARE(p.result("shutdown 3 wr"), std::int64_t{0});
        server.receive([&] { return server.finSeen; }, 3000);
        QVERIFY2(server.finSeen, "no FIN on the wire after shutdown(SHUT_WR)");
        const auto read = p.send("read 3 100");
        QVERIFY(read != 0);
        p.pump(50);
        QCOMPARE(p.agent().pending(), std::size_t{1}); // blocked: nothing to read yet
        server.send(server.segment(flags::kPsh | flags::kAck, "hello"));
        const auto got = p.await(read);
        QVERIFY2(got.has_value(), p.error());
        QCOMPARE(got->answer.result, std::int64_t{5});
        QCOMPARE(qs(std::string(got->answer.data.begin(), got->answer.data.end())),
                 QStringLiteral("hello"));
        const auto s = p.waitSocket([](const peer::Sample&, const peer::SocketSample& x) {
            return x.fd == 3 && stateOf(x) == kFinWait2;
        });
        QVERIFY2(s.has_value(), p.error());
    }

    void drain_readsWhatArrives_untilTurnedOff() {
        Peer& p = *m_peer;
        PhantomServer server(p.phantom, m_lab->addresses(), 50000);
        QCOMPARE(p.result("socket inet nonblock"), std::int64_t{3});
        QCOMPARE(p.result("connect 3 198.18.0.2 50000"), std::int64_t{-1});
        QVERIFY(server.acceptSyn(3000).has_value());
        QVERIFY(server.next(3000).has_value());
        server.send(server.segment(flags::kPsh | flags::kAck, std::string(1000, 'x')));
        QVERIFY(server.next(3000).has_value()); // its ACK: the bytes are queued
        QCOMPARE(p.result("ioctl 3 SIOCINQ"), std::int64_t{1000});
        // poll: at once (inline), and with a timeout (on a thread of its own).
        const auto ready = p.call("poll 0 3 in,out");
        QVERIFY2(ready.has_value(), p.error());
        QCOMPARE(ready->answer.result, std::int64_t{1});
        QCOMPARE(ready->answer.numbers, (std::vector<std::int64_t>{1 | 4})); // POLLIN|POLLOUT
        const auto quiet = p.call("poll 50 3 pri");
        QVERIFY2(quiet.has_value(), p.error());
        QCOMPARE(quiet->answer.result, std::int64_t{0});
        QCOMPARE(quiet->answer.numbers, (std::vector<std::int64_t>{0}));
        QVERIFY(quiet->answer.durationNs >= 45'000'000);
        QCOMPARE(p.result("drain 3 on"), std::int64_t{0});
        const auto deadline = Clock::now() + milliseconds(3000);
        std::int64_t queued = -1;
        while (queued != 0 && Clock::now() < deadline)
            queued = p.result("ioctl 3 SIOCINQ");
        QCOMPARE(queued, std::int64_t{0});
        QCOMPARE(p.result("drain 3 off"), std::int64_t{0});
        server.send(server.segment(flags::kPsh | flags::kAck, std::string(700, 'y')));
        QVERIFY(server.next(3000).has_value());
        QCOMPARE(p.result("ioctl 3 SIOCINQ"), std::int64_t{700});
    }

    void epoll_reportsTheSocketsEvents_andABlockingWaitReturnsWhenDataComes() {
        Peer& p = *m_peer;
        PhantomServer server(p.phantom, m_lab->addresses(), 50000);
        QCOMPARE(p.result("socket inet nonblock"), std::int64_t{3});
        QCOMPARE(p.result("connect 3 198.18.0.2 50000"), std::int64_t{-1});
        QVERIFY(server.acceptSyn(3000).has_value());
        QVERIFY(server.next(3000).has_value());
        QCOMPARE(p.result("epoll_create 1"), std::int64_t{4});
        QCOMPARE(p.result("epoll_ctl 4 add 3 in,et 77"), std::int64_t{0});
        // Writable at once, nothing to read: EPOLLOUT is not asked for, so nothing comes.
        const auto none = p.call("epoll_wait 4 8 0");
        QVERIFY2(none.has_value(), p.error());
        QCOMPARE(none->answer.result, std::int64_t{0});
        QVERIFY(none->answer.numbers.empty());
        // A blocking wait (on a thread of its own) returns when the phantom's data comes.
        const auto id = p.send("epoll_wait 4 8 3000");
        QVERIFY2(id != 0, p.error());
        p.pump(100);
        server.send(server.segment(flags::kPsh | flags::kAck, std::string(10, 'x')));
        const auto woke = p.await(id);
        QVERIFY2(woke.has_value(), p.error());
        QCOMPARE(woke->answer.result, std::int64_t{1});
        QCOMPARE(woke->answer.numbers, (std::vector<std::int64_t>{1, 77})); // EPOLLIN, data 77
        QVERIFY(woke->answer.durationNs >= 90'000'000);
        // Edge-triggered: the same bytes do not wake it again.
        const auto again = p.call("epoll_wait 4 8 0");
        QVERIFY2(again.has_value(), p.error());
        QCOMPARE(again->answer.result, std::int64_t{0});
        QCOMPARE(p.result("epoll_ctl 4 del 3 in"), std::int64_t{0});
        const auto gone = p.call("epoll_ctl 4 del 3 in");
        QVERIFY2(gone.has_value(), p.error());
        QCOMPARE(gone->answer.result, std::int64_t{-1});
        QCOMPARE(gone->answer.error, kEnoent);
        QCOMPARE(p.result("close 4"), std::int64_t{0});
    }

    void commands_runInThePeersNamespace_withTheirStatusAndOutput() {
        Peer& p = *m_peer;
        const std::string dev = m_lab->addresses().peerInterfaceName;
        QVERIFY(!dev.empty());
        QCOMPARE(p.result("command tc qdisc replace dev " + dev + " root pfifo limit 7"),
                 std::int64_t{0});
        const auto shown = p.call("command tc qdisc show dev " + dev);
        QVERIFY2(shown.has_value(), p.error());
        QCOMPARE(shown->answer.result, std::int64_t{0});
        QVERIFY2(shown->answer.text.find("pfifo") != std::string::npos &&
                     shown->answer.text.find("limit 7p") != std::string::npos,
                 shown->answer.text.c_str());
        // A failing command: its exit status and what it wrote.
        const auto bad = p.call("command ip route replace 198.18.0.2 dev nosuchdev");
        QVERIFY2(bad.has_value(), p.error());
        QCOMPARE(bad->answer.outcome, peer::Outcome::Done);
        QVERIFY(bad->answer.result != 0);
        QVERIFY2(bad->answer.text.find("nosuchdev") != std::string::npos ||
                     bad->answer.text.find("Cannot find device") != std::string::npos,
                 bad->answer.text.c_str());
        // Refused before anything runs (by the client, with the agent's own check).
        peer::Request q;
        q.call = peer::Call::Command;
        q.text = "sh";
        q.data = {'-', 'c', 0, 't', 'r', 'u', 'e', 0};
        QCOMPARE(p.send(q), std::uint32_t{0});
        QVERIFY2(std::string_view(p.error()).find("runs tc or ip") != std::string_view::npos,
                 p.error());
        QCOMPARE(p.result("command tc qdisc del dev " + dev + " root"), std::int64_t{0});
    }

    void sysctl_readWrite_andRefusals() {
        Peer& p = *m_peer;
        const auto read = p.call("sysctl net.ipv4.tcp_sack");
        QVERIFY2(read.has_value(), p.error());
        QCOMPARE(read->answer.result, std::int64_t{0});
        QCOMPARE(qs(std::string(read->answer.data.begin(), read->answer.data.end())),
                 QStringLiteral("1"));
        const auto write = p.call("sysctl net.ipv4.tcp_sack=0");
        QVERIFY2(write.has_value(), p.error());
        QCOMPARE(write->answer.result, std::int64_t{0});
        QCOMPARE(write->answer.data, (std::vector<std::uint8_t>{'0'}));
        const auto again = p.call("sysctl net.ipv4.tcp_sack");
        QVERIFY2(again.has_value(), p.error());
        QCOMPARE(again->answer.data, (std::vector<std::uint8_t>{'0'}));
        // ...and the peer's kernel acts on it: a SYN-ACK without SACK-permitted.
        const auto mac = p.phantom.resolve(IpAddress{m_lab->addresses().peer4}, 3000);
        QVERIFY(mac.has_value());
        RawClient client(p.phantom, m_lab->addresses(), false, clientPort(), 50001, *mac);
        wire::TcpOptionList offer;
        offer.append(wire::TcpOption::mss(1460));
        offer.append(wire::TcpOption::sackPermitted());
        const auto synAck = client.connect(offer, false);
        QVERIFY(synAck.has_value());
        QVERIFY(!wire::decodeFrame(wire::Bytes(*synAck)).tcp()->options.sackPermitted());
        auto rst = client.segment(flags::kRst);
        rst.tcp.seq = SeqNum(101);
        client.send(rst);

        const auto list = p.call("sysctl-list net.ipv4.tcp_s");
        QVERIFY2(list.has_value(), p.error());
        const std::string lines(list->answer.data.begin(), list->answer.data.end());
        QVERIFY2(lines.find("net.ipv4.tcp_sack=0\n") != std::string::npos, lines.c_str());
        QVERIFY2(lines.find("net.ipv4.tcp_syn_retries=") != std::string::npos, lines.c_str());
        QCOMPARE(list->answer.result, std::int64_t(std::count(lines.begin(), lines.end(), '\n')));
        const auto all = p.call("sysctl-list");
        QVERIFY2(all.has_value(), p.error());
        const std::string allLines(all->answer.data.begin(), all->answer.data.end());
        QVERIFY(allLines.find("net.core.somaxconn=") != std::string::npos);
        QVERIFY(allLines.find("net.ipv4.tcp_rmem=4096 ") != std::string::npos);

        // Refused by the kernel: Done, -1, the errno and why in words.
        struct Refusal {
            const char* call;
            int error;
            const char* words;
        };
        for (const Refusal& r : {
                 Refusal{"sysctl net.core.rmem_max=1000", kEacces,
                         "this network namespace may not change net.core.rmem_max: it belongs "
                         "to the whole machine"},
                 Refusal{"sysctl net.ipv4.tcp_sack=x", kEinval,
                         "the kernel refused 'x' for net.ipv4.tcp_sack: not a value it takes"},
                 Refusal{"sysctl net.ipv4.tcp_congestion_control=nosuch", kEnoent,
                         "no congestion control algorithm named 'nosuch' is loaded"},
                 Refusal{"sysctl net.ipv4.tcp_nosuchkey", kEnoent,
                         "there is no net.ipv4.tcp_nosuchkey in this network namespace"},
             }) {
            const auto a = p.call(r.call);
            QVERIFY2(a.has_value(), p.error());
            qInfo("%s", peer::describeCallLine(a->request, a->answer).c_str());
            QCOMPARE(a->answer.outcome, peer::Outcome::Done);
            QCOMPARE(a->answer.result, std::int64_t{-1});
            QCOMPARE(a->answer.error, r.error);
            QVERIFY2(a->answer.text.starts_with(r.words), a->answer.text.c_str());
        }
        // Refused by the agent: not under net., or not a key.
        for (const char* key : {"kernel.hostname", "net.ipv4/../../kernel.hostname", "net..x"}) {
            peer::Request q;
            q.call = peer::Call::Sysctl;
            q.text = key;
            const auto id = p.send(q);
            QVERIFY2(id != 0, p.error());
            const auto a = p.await(id);
            QVERIFY2(a.has_value(), p.error());
            QCOMPARE(a->answer.outcome, peer::Outcome::Refused);
            QVERIFY2(!a->answer.text.empty(), key);
        }
    }

    void nonBlockingWriteOf100MB_returnsWhatWasQueued() {
        Peer& p = *m_peer;
        PhantomServer server(p.phantom, m_lab->addresses(), 50000);
        QCOMPARE(p.result("socket inet nonblock"), std::int64_t{3});
        QCOMPARE(p.result("connect 3 198.18.0.2 50000"), std::int64_t{-1});
        QVERIFY(server.acceptSyn(3000).has_value());
        QVERIFY(server.next(3000).has_value());
        QVERIFY2(p.waitSocket([](const peer::Sample&, const peer::SocketSample& x) {
                      return x.fd == 3 && stateOf(x) == kEstablished;
                  }).has_value(),
                 p.error());
        // The phantom acknowledges nothing: what is queued stays queued.
        const auto write = p.call("write 3 100M");
        QVERIFY2(write.has_value(), p.error());
        const std::int64_t queued = write->answer.result;
        qInfo("%s", peer::describeCallLine(write->request, write->answer).c_str());
        QVERIFY2(queued > 0 && queued < 100 * 1024 * 1024, p.error());
        QCOMPARE(p.result("ioctl 3 SIOCOUTQ"), queued);
        const auto more = p.call("write 3 1000");
        QVERIFY2(more.has_value(), p.error());
        QCOMPARE(more->answer.result, std::int64_t{-1});
        QCOMPARE(more->answer.error, kEagain);
        server.receive([&] { return server.data.size() >= 1000; }, 3000, false);
        QVERIFY(server.data.size() >= 1000);
        QVERIFY(server.data.substr(0, 1000) == patternText(0, 1000));
        // SO_LINGER {1, 1}: close waits (on its thread) for the data to be acknowledged,
        // which never comes, for a second; other calls are answered meanwhile.
        QCOMPARE(p.result("setsockopt 3 SO_LINGER 1,1"), std::int64_t{0});
        const auto close = p.send("close 3");
        QVERIFY(close != 0);
        // The number is free at once, as in a single-threaded program; the socket lingers.
        QCOMPARE(p.result("socket inet"), std::int64_t{3});
        QCOMPARE(p.agent().pending(), std::size_t{1});
        const auto closed = p.await(close, 3000);
        QVERIFY2(closed.has_value(), p.error());
        QCOMPARE(closed->answer.result, std::int64_t{0});
        QVERIFY2(closed->answer.durationNs >= 900'000'000,
                 qPrintable(QString::number(closed->answer.durationNs)));
        QCOMPARE(p.result("socket inet"), std::int64_t{4});
    }

    void theHttpRespondersConnection_isSampledThroughInetDiag() {
        Peer& p = *m_peer;
        const auto mac = p.phantom.resolve(IpAddress{m_lab->addresses().peer4}, 3000);
        QVERIFY(mac.has_value());
        RawClient client(p.phantom, m_lab->addresses(), false, clientPort(), 50001, *mac);
        QVERIFY(client.connect(wire::TcpOptionList{}).has_value());
        const auto sample = p.call("sample");
        QVERIFY2(sample.has_value(), p.error());
        const auto isTheConnection = [&](const peer::SocketSample& x) {
            return x.fd == -1 && x.localPort == 50001 && x.remotePort == client.sport();
        };
        const auto s = p.waitSocket([&](const peer::Sample& x, const peer::SocketSample& y) {
            return x.after == sample->answer.id && isTheConnection(y);
        });
        QVERIFY2(s.has_value(), p.error());
        QCOMPARE(stateOf(*s), kEstablished);
        QVERIFY(!s->ipv6); // a dual-stack socket's IPv4 connection, as on the wire
        QCOMPARE(s->local, kPeer4);
        QCOMPARE(s->remote, kPhantom4);
        QVERIFY(!s->congestion.empty());
        const auto info = peer::TcpInfo::fromPairs(s->fields);
        QVERIFY(info.has(TcpInfoField::SndCwnd) && info.has(TcpInfoField::Rtt));

        // One identity for the connection all along: while it waits in the accept queue it
        // has no inode, so the agent names it (top bit set), and keeps that name after the
        // responder's accept() gives it one.
        QVERIFY(s->inode != 0);
        const std::uint64_t inode = s->inode;
        // Live: the steady samples follow the request and its answer.
        client.send(client.segment(flags::kPsh | flags::kAck, "GET / HTTP/1.1\r\n\r\n"));
        client.receive([&] { return client.data.find("Hello from") != std::string::npos; }, 3000);
        const auto answered = p.waitSocket([&](const peer::Sample& x, const peer::SocketSample& y) {
            return x.after == 0 && isTheConnection(y) &&
                   peer::TcpInfo::fromPairs(y.fields).value(TcpInfoField::BytesAcked) > 1;
        });
        QVERIFY2(answered.has_value(), p.error());
        QCOMPARE(answered->inode, inode);
        // Reset: the responder closes its socket, and the sample says it is gone.
        client.send(client.segment(flags::kRst | flags::kAck));
        const auto gone = p.waitSocket([&](const peer::Sample& x, const peer::SocketSample& y) {
            return x.after == 0 && y.gone && y.localPort == 50001 && y.remotePort == client.sport();
        });
        QVERIFY2(gone.has_value(), p.error());
        QCOMPARE(gone->inode, inode);
    }

    void aRequestThatBreaksTheConventions_isRefused_andGarbageEndsTheSession() {
        Peer& p = *m_peer;
        const int fd = p.agent().pollFd();
        // Past the client's own validate(): written to the channel as it is.
        peer::Request bad;
        bad.id = 7777;
        bad.call = peer::Call::Connect;
        bad.fd = 3;
        bad.text = "198.18.0.2";
        bad.numbers = {70000};
        const auto bytes = peer::encode(bad);
        QCOMPARE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), ssize_t(bytes.size()));
        std::optional<peer::Answer> answer;
        const auto deadline = Clock::now() + milliseconds(3000);
        std::vector<std::uint8_t> buffer(peer::kMaxMessageBytes);
        while (!answer && Clock::now() < deadline) {
            pollfd pfd{fd, POLLIN, 0};
            if (::poll(&pfd, 1, 100) <= 0)
                continue;
            const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
            QVERIFY(n > 0);
            const auto m = peer::decode({buffer.data(), std::size_t(n)});
            QVERIFY(m.has_value());
            if (auto* a = std::get_if<peer::Answer>(&*m); a && a->id == 7777)
                answer = *a;
        }
        QVERIFY(answer.has_value());
        QCOMPARE(answer->outcome, peer::Outcome::Refused);
        QCOMPARE(qs(answer->text), qs(*peer::validate(bad)));

        const std::uint8_t garbage[] = {0, 0, 0, 3, 99, 1, 2};
        QCOMPARE(::send(fd, garbage, sizeof garbage, MSG_NOSIGNAL), ssize_t(sizeof garbage));
        const pid_t pid = p.agent().hello()->pid;
        QTRY_VERIFY_WITH_TIMEOUT(processEnded(pid), 3000);
        const auto after = p.call("socket inet", 2000);
        QVERIFY(!after.has_value());
        qInfo("%s", p.error());
        QVERIFY2(std::string(p.error()).find("is gone") != std::string::npos, p.error());
    }

    void blockingCalls_theThirtyThirdAtOnceIsRefused() {
        Peer& p = *m_peer;
        QCOMPARE(p.result("socket inet"), std::int64_t{3});
        QCOMPARE(p.result("bind 3 50003"), std::int64_t{0});
        QCOMPARE(p.result("listen 3 8"), std::int64_t{0});
        std::vector<std::uint32_t> accepts;
        for (int i = 0; i < 32; ++i) {
            accepts.push_back(p.send("accept 3"));
            QVERIFY2(accepts.back() != 0, p.error());
        }
        const auto refused = p.call("accept 3");
        QVERIFY2(refused.has_value(), p.error());
        QCOMPARE(refused->answer.outcome, peer::Outcome::Refused);
        QVERIFY2(refused->answer.text.find("32 blocking calls") != std::string::npos,
                 refused->answer.text.c_str());
        // shutdown() of the listener wakes them all: EINVAL.
        QCOMPARE(p.result("shutdown 3 rdwr"), std::int64_t{0});
        for (const auto id : accepts) {
            const auto a = p.await(id);
            QVERIFY2(a.has_value(), p.error());
            QCOMPARE(a->answer.result, std::int64_t{-1});
            QCOMPARE(a->answer.error, kEinval);
        }
        QCOMPARE(p.result("socket inet"), std::int64_t{4});
    }

    void afterTheLabIsDestroyed_aCallOnTheTakenAgentFailsWithASentence() {
        auto agent = m_lab->takeAgent();
        QVERIFY(agent != nullptr);
        QVERIFY(m_lab->agent() == nullptr);
        QVERIFY(m_lab->takeAgent() == nullptr);
        const pid_t pid = agent->hello()->pid;
        // A request still waiting for its answer when the lab goes.
        QVERIFY(agent->send(*peer::parseCall("socket inet")).has_value());
        m_peer.reset();
        const auto start = Clock::now();
        m_lab.reset();
        QVERIFY(Clock::now() - start < std::chrono::seconds(2));
        QVERIFY2(!processExists(pid), "the agent outlived its lab");
        const auto t0 = Clock::now();
        const auto r = agent->call(*peer::parseCall("socket inet"), milliseconds(3000));
        QVERIFY(!r.has_value());
        QVERIFY(Clock::now() - t0 < std::chrono::seconds(1));
        qInfo("%s", r.error().c_str());
        QVERIFY2(r.error().find("is gone") != std::string::npos, r.error().c_str());
        QVERIFY(agent->failure().has_value());
        // The request that was waiting is answered Refused, with the same sentence.
        std::vector<peer::CallRecord> refused;
        QVERIFY(!agent
                     ->receive([&](peer::AgentEvent e) {
                         if (auto* c = std::get_if<peer::CallRecord>(&e))
                             refused.push_back(std::move(*c));
                     })
                     .has_value());
        QCOMPARE(refused.size(), std::size_t{1});
        QCOMPARE(refused[0].answer.outcome, peer::Outcome::Refused);
        QCOMPARE(qs(refused[0].answer.text), qs(r.error()));
        QCOMPARE(agent->pending(), std::size_t{0});
    }

    void withoutAnAgent_theLabWorks_andSaysWhy() {
        cleanup();
        auto o = options();
        o.agentPath = "/nonexistent/tcplab-peer-agent";
        auto l = lab::startLinuxLab(o);
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        QVERIFY(l->agent() == nullptr);
        qInfo("%s", l->agentError().c_str());
        QVERIFY2(l->agentError().find("/nonexistent/tcplab-peer-agent does not exist") !=
                     std::string::npos,
                 l->agentError().c_str());
        QVERIFY(l->description().find("no peer agent") != std::string::npos);
        o.agent = false;
        auto off = lab::startLinuxLab(o);
        QVERIFY2(off.has_value(), off ? "" : off.error().message.c_str());
        QVERIFY(off->agent() == nullptr);
        QVERIFY(!off->agentError().empty());
    }

private:
    QString m_noNamespaces;
    std::optional<lab::BuiltinLinuxLab> m_lab;
    std::optional<Peer> m_peer;
};

QTEST_GUILESS_MAIN(TestPeerAgent)
#include "tst_peer_agent.moc"
