// The engine thread over an in-process MemoryLink pair. The test thread plays the
// other end of the wire (a FakePeer that polls its end with bounded timeouts and, when
// asked, answers ARP and SYN like a small host) and reads the engine's events and
// timeline as a GUI would. Host timings are a few milliseconds so the probe is quick;
// every wait is bounded.
#include <QObject>
#include <QTest>

#include "tests_support/test_support.h"

#include "engine/engine.h"
#include "engine/scenario.h"
#include "link/memory_link.h"
#include "peer/call_text.h"
#include "timeline/peer_records.h"
#include "timeline/timeline.h"
#include "wire/arp.h"
#include "wire/ethernet.h"
#include "wire/frame.h"
#include "wire/segment_spec.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>

using namespace tcplab;
using namespace tcplab::wire;
using engine::Engine;
using engine::EngineEvent;
using host::HostEvent;
using link::MemoryLink;
using timeline::Direction;
using timeline::Timeline;
using ByteVector = std::vector<std::uint8_t>;
using namespace std::chrono_literals;

namespace {

const MacAddress kPhantomMac = *MacAddress::parse("02:00:00:00:00:0b");
const MacAddress kPeerMac = *MacAddress::parse("02:00:00:00:00:0a");
const MacAddress kStrangerMac = *MacAddress::parse("02:00:00:00:00:99");
const Ipv4Address kPhantomIp = *Ipv4Address::parse("198.18.0.1");
const Ipv4Address kPeerIp = *Ipv4Address::parse("198.18.0.2");
constexpr std::uint32_t kPeerIss = 3'000'000'000u;
constexpr std::uint16_t kPeerPort = 50001;

host::Identity identity() {
    host::Identity id;
    id.mac = kPhantomMac;
    id.ipv4 = host::Ipv4Config{kPhantomIp, 24, std::nullopt};
    return id;
}

/// Milliseconds, so that a test of the probe takes a few tens of them.
host::HostTiming fastTiming() {
    host::HostTiming t;
    t.probeCount = 2;
    t.probeIntervalNs = 5'000'000;
    t.probeWaitNs = 10'000'000;
    t.resolveAttempts = 3;
    t.resolveIntervalNs = 20'000'000;
    return t;
}

ByteVector arpFrame(const MacAddress& from, const MacAddress& to, std::uint16_t op,
                    const MacAddress& senderMac, const Ipv4Address& senderIp,
                    const MacAddress& targetMac, const Ipv4Address& targetIp) {
    ByteVector f(EthernetHeader::kLength + ArpPacket::kLength);
    EthernetHeader{to, from, std::nullopt}.emit(f.data(), ether_type::kArp);
    ArpPacket a;
    a.operation = op;
    a.senderMac = senderMac;
    a.senderIp = senderIp;
    a.targetMac = targetMac;
    a.targetIp = targetIp;
    a.emit(f.data() + EthernetHeader::kLength);
    return f;
}

/// The peer asking who has the phantom's address.
ByteVector whoHasPhantom() {
    return arpFrame(kPeerMac, MacAddress::broadcast(), arp_op::kRequest, kPeerMac, kPeerIp, {},
                    kPhantomIp);
}

bool isProbe(const Frame& f) {
    const ArpPacket* a = f.arp();
    return a && a->operation == arp_op::kRequest && a->senderIp.isUnspecified() &&
           a->targetIp == kPhantomIp && a->senderMac == kPhantomMac;
}

bool isAnnouncement(const Frame& f) {
    const ArpPacket* a = f.arp();
    return a && a->operation == arp_op::kRequest && a->senderIp == kPhantomIp &&
           a->targetIp == kPhantomIp;
}

bool isReplyToPeer(const Frame& f) {
    const ArpPacket* a = f.arp();
    return a && a->operation == arp_op::kReply && a->senderIp == kPhantomIp &&
           a->senderMac == kPhantomMac && a->targetIp == kPeerIp && f.ethernet.dst == kPeerMac;
}

/// The other end of the wire, driven from the test thread.
class FakePeer {
public:
    explicit FakePeer(std::unique_ptr<MemoryLink> link)
        : m_link(std::move(link)) {}

    bool answerArp = false; ///< replies to who-has kPeerIp
    bool answerSyn = false; ///< replies SYN-ACK to a SYN for kPeerPort
    std::function<void(FakePeer&, const Frame&)> onFrame; ///< extra behaviour

    /// Waits up to `timeoutMs` for frames, then takes every waiting one.
    std::size_t pump(int timeoutMs) {
        if (!m_link) {
            std::this_thread::sleep_for(std::chrono::milliseconds(timeoutMs));
            return 0;
        }
        pollfd p{m_link->pollFd(), POLLIN, 0};
        ::poll(&p, 1, timeoutMs);
        std::size_t n = 0;
        const auto received = m_link->receive(
            [&](std::int64_t, Bytes bytes) {
                frames.emplace_back(bytes.begin(), bytes.end());
                ++n;
                react(decodeFrame(frames.back()));
            },
            MemoryLink::kMaxQueuedFrames);
        if (!received)
            errors.push_back(received.error().message);
        return n;
    }

    bool send(const ByteVector& frame) { return m_link && m_link->send(frame).has_value(); }
    void close() { m_link.reset(); }

    std::size_t count(const std::function<bool(const Frame&)>& pred) const {
        std::size_t n = 0;
        for (const auto& f : frames)
            n += pred(decodeFrame(f)) ? 1 : 0;
        return n;
    }

    std::vector<ByteVector> frames;
    std::vector<std::string> errors;

private:
    void react(const Frame& f) {
        if (onFrame)
            onFrame(*this, f);
        if (const ArpPacket* a = f.arp(); a && answerArp && a->operation == arp_op::kRequest &&
                                          a->targetIp == kPeerIp && !a->senderIp.isUnspecified())
            send(arpFrame(kPeerMac, a->senderMac, arp_op::kReply, kPeerMac, kPeerIp, a->senderMac,
                          a->senderIp));
        const TcpHeader* tcp = f.tcp();
        if (tcp && answerSyn && f.ipv4() && tcp->dstPort == kPeerPort &&
            tcp->flags == tcp_flags::kSyn) {
            SegmentSpec spec;
            spec.ethernet.src = kPeerMac;
            spec.ethernet.dst = f.ethernet.src;
            Ipv4Header ip;
            ip.src = f.ipv4()->dst;
            ip.dst = f.ipv4()->src;
            spec.ip = ip;
            spec.tcp.srcPort = tcp->dstPort;
            spec.tcp.dstPort = tcp->srcPort;
            spec.tcp.flags = tcp_flags::kSyn | tcp_flags::kAck;
            spec.tcp.seq = SeqNum(kPeerIss);
            spec.tcp.ack = tcp->seq + 1;
            spec.tcp.window = 64240;
            send(spec.encode().value());
        }
    }

    std::unique_ptr<MemoryLink> m_link;
};

/// Every event the engine published, in order, as a consumer collects them.
struct EventLog {
    std::vector<EngineEvent> all;
    std::size_t nonEmptyTakes = 0;

    void take(Engine& engine) {
        auto batch = engine.takeEvents();
        if (batch.empty())
            return;
        ++nonEmptyTakes;
        for (auto& e : batch)
            all.push_back(std::move(e));
    }
    std::size_t count(EngineEvent::Kind kind) const {
        return std::size_t(std::count_if(all.begin(), all.end(),
                                         [&](const EngineEvent& e) { return e.kind == kind; }));
    }
    std::size_t countHost(HostEvent::Kind kind) const {
        return std::size_t(std::count_if(all.begin(), all.end(), [&](const EngineEvent& e) {
            return e.kind == EngineEvent::Kind::Host && e.host && e.host->kind == kind;
        }));
    }
    const EngineEvent* first(EngineEvent::Kind kind) const {
        for (const auto& e : all)
            if (e.kind == kind)
                return &e;
        return nullptr;
    }
    const EngineEvent* firstHost(HostEvent::Kind kind) const {
        for (const auto& e : all)
            if (e.kind == EngineEvent::Kind::Host && e.host && e.host->kind == kind)
                return &e;
        return nullptr;
    }
    QString kinds() const {
        QStringList l;
        for (const auto& e : all)
            l << QString::number(int(e.kind)) + QLatin1Char(':') +
                     QString::fromStdString(e.message);
        return l.join(QStringLiteral(" | "));
    }
};

/// An engine over one end of a MemoryLink pair, the peer on the other.
/// A link that behaves as libpcap does once an interface is deleted: one wake-up
/// (the ENETDOWN, consumed by the first receive, which delivers nothing), then quiet;
/// only a receive() made within receiveAgainWithinMs() learns that it is gone.
class VanishingLink final : public link::Link {
public:
    VanishingLink() {
        if (::pipe2(m_pipe, O_NONBLOCK | O_CLOEXEC) != 0)
            throw std::runtime_error("pipe2 failed");
    }
    ~VanishingLink() override {
        ::close(m_pipe[0]);
        ::close(m_pipe[1]);
    }
    void vanish() { [[maybe_unused]] auto n = ::write(m_pipe[1], "x", 1); }
    tl::expected<void, link::LinkError> send(Bytes) override { return {}; }
    tl::expected<std::size_t, link::LinkError> receive(const link::FrameSink&,
                                                       std::size_t) override {
        char c = 0;
        if (::read(m_pipe[0], &c, 1) == 1) { // the wake-up, as poll() saw POLLERR
            m_netdown = true;
            return 0;
        }
        if (m_netdown)
            return tl::make_unexpected(
                link::LinkError{link::LinkErrorCode::InterfaceGone, "the interface disappeared"});
        return 0;
    }
    int pollFd() const noexcept override { return m_pipe[0]; }
    std::optional<std::int64_t> receiveAgainWithinMs() const noexcept override {
        return m_netdown ? std::optional<std::int64_t>{1} : std::nullopt;
    }
    std::string description() const override { return "vanishing"; }

private:
    int m_pipe[2] = {-1, -1};
    bool m_netdown = false;
};

struct Rig {
    std::shared_ptr<Timeline> timeline;
    std::unique_ptr<FakePeer> peer;
    std::unique_ptr<Engine> engine;
    EventLog events;

    explicit Rig(std::size_t capacity = Timeline::kDefaultCapacity, Engine::Options options = {},
                 std::function<void()> notifier = {}) {
        auto [a, b] = MemoryLink::createPair();
        timeline = std::make_shared<Timeline>(capacity);
        peer = std::make_unique<FakePeer>(std::move(b));
        engine = std::make_unique<Engine>(std::move(a), timeline, std::move(options));
        if (notifier)
            engine->setNotifier(std::move(notifier));
        engine->start();
    }

    /// Pumps the peer and collects events until `done` holds or `timeout` passes.
    bool until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 5s) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            peer->pump(2);
            events.take(*engine);
            if (done())
                return true;
            if (std::chrono::steady_clock::now() >= deadline)
                return false;
        }
    }
    /// Keeps pumping for `duration` (to see that nothing more happens).
    void settle(std::chrono::milliseconds duration) {
        until([] { return false; }, duration);
    }

    std::size_t count(Direction d) const {
        std::size_t n = 0;
        for (std::size_t i = 0, size = timeline->size(); i < size; ++i)
            n += (*timeline)[i].direction == d ? 1 : 0;
        return n;
    }

    bool claimed() {
        engine->configure(identity(), fastTiming(), Engine::Probe::Skip);
        return until([&] { return events.countHost(HostEvent::Kind::AddressClaimed) > 0; });
    }
};

/// A segment between the phantom (kPhantomIp:50000) and the peer (kPeerIp:kPeerPort).
ByteVector tcpSegment(bool fromPhantom, std::uint8_t flags, std::uint32_t seq, std::uint32_t ack,
                      std::string_view data = {}) {
    SegmentSpec spec;
    spec.ethernet.src = fromPhantom ? kPhantomMac : kPeerMac;
    spec.ethernet.dst = fromPhantom ? kPeerMac : kPhantomMac;
    Ipv4Header ip;
    ip.src = fromPhantom ? kPhantomIp : kPeerIp;
    ip.dst = fromPhantom ? kPeerIp : kPhantomIp;
    spec.ip = ip;
    spec.tcp.srcPort = fromPhantom ? 50000 : kPeerPort;
    spec.tcp.dstPort = fromPhantom ? kPeerPort : 50000;
    spec.tcp.flags = flags;
    spec.tcp.seq = SeqNum(seq);
    spec.tcp.ack = SeqNum(ack);
    spec.tcp.window = 64240;
    spec.payload.assign(data.begin(), data.end());
    return spec.encode().value();
}

engine::Scenario scenarioOf(std::string_view text) {
    auto s = engine::parseScenario(text);
    if (!s) {
        qWarning("%s", engine::describe(s.error()).c_str());
        return {};
    }
    return *s;
}

engine::ConnectionParams connectionParams() {
    engine::ConnectionParams p;
    p.phantomMac = kPhantomMac;
    p.phantom = kPhantomIp;
    p.peer = kPeerIp;
    p.sourcePort = 50000;
    p.destinationPort = kPeerPort;
    p.iss = SeqNum(100);
    p.initialRtoNs = 200'000'000;
    return p;
}

/// The agent's end of a socketpair, played by the test thread: it reads requests and answers
/// them as told.
class FakeAgent {
public:
    FakeAgent() {
        int fds[2];
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0) {
            m_fd = fds[0];
            auto c = peer::AgentClient::adopt(fds[1], "the test's agent");
            if (c)
                client = std::move(*c);
        }
    }
    ~FakeAgent() { close(); }
    void close() {
        if (m_fd >= 0)
            ::close(m_fd);
        m_fd = -1;
    }
    bool say(const peer::Message& m) {
        const auto bytes = peer::encode(m);
        return m_fd >= 0 &&
               ::send(m_fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == ssize_t(bytes.size());
    }
    /// The next request, waiting up to `timeoutMs`.
    std::optional<peer::Request> request(int timeoutMs = 2000) {
        pollfd p{m_fd, POLLIN, 0};
        if (::poll(&p, 1, timeoutMs) <= 0)
            return std::nullopt;
        std::vector<std::uint8_t> buffer(peer::kMaxMessageBytes);
        const ssize_t n = ::recv(m_fd, buffer.data(), buffer.size(), 0);
        if (n <= 0)
            return std::nullopt;
        auto m = peer::decode({buffer.data(), std::size_t(n)});
        if (!m || !std::holds_alternative<peer::Request>(*m))
            return std::nullopt;
        return std::get<peer::Request>(*m);
    }
    std::unique_ptr<peer::AgentClient> client;

private:
    int m_fd = -1;
};

peer::SocketSample socketSample(std::uint64_t inode, std::uint64_t cwnd) {
    peer::SocketSample s;
    s.inode = inode;
    s.fd = 3;
    s.local = {198, 18, 0, 1};
    s.localPort = 5000;
    s.remote = {198, 18, 0, 2};
    s.remotePort = 50000;
    peer::TcpInfo info;
    info.set(peer::TcpInfoField::State, 1);
    info.set(peer::TcpInfoField::SndCwnd, cwnd);
    info.set(peer::TcpInfoField::LastDataRecv, cwnd * 7); // clock-driven: not news alone
    s.fields = info.pairs();
    return s;
}

constexpr std::string_view kHandshake = "title handshake\n"
                                        "send S seq=iss\n"
                                        "expect SA ack=iss+1 within=2000\n"
                                        "send R seq=iss+1\n";

} // namespace

class TestEngine : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // Auto-ACK: off by default; switched on, the phantom acknowledges the peer's new
    // data and its FIN at once (seq = our SND.NXT, ack = the peer's next byte).
    void autoAck_acknowledgesNewDataAndFin_onlyWhenOn_data() {
        QTest::addColumn<bool>("on");
        QTest::newRow("on") << true;
        QTest::newRow("off (the default)") << false;
    }
    void autoAck_acknowledgesNewDataAndFin_onlyWhenOn() {
        QFETCH(bool, on);
        Rig rig;
        rig.peer->answerSyn = true;
        QVERIFY(rig.claimed());
        if (on)
            rig.engine->setAutoAck(true);
        using namespace tcp_flags;
        const auto acksFromPhantom = [&](std::uint32_t ack) {
            return rig.peer->count([&](const Frame& f) {
                const TcpHeader* t = f.tcp();
                return t && f.ethernet.src == kPhantomMac && t->flags == kAck &&
                       t->seq == SeqNum(101) && t->ack == SeqNum(ack);
            });
        };
        rig.engine->sendFrame(tcpSegment(true, kSyn, 100, 0));
        QVERIFY(rig.until([&] { return rig.count(Direction::Received) >= 1; }));
        rig.engine->sendFrame(tcpSegment(true, kAck, 101, kPeerIss + 1));
        QVERIFY(rig.until([&] { return rig.count(Direction::Sent) >= 2; }));

        QVERIFY(rig.peer->send(tcpSegment(false, kPsh | kAck, kPeerIss + 1, 101, "0123456789")));
        if (on) {
            QVERIFY(rig.until([&] { return acksFromPhantom(kPeerIss + 11) == 1; }));
        } else {
            rig.settle(100ms);
            QCOMPARE(acksFromPhantom(kPeerIss + 11), std::size_t{0});
        }
        // A retransmission of data already acknowledged brings nothing new, but a TCP
        // answers it with an ACK of RCV.NXT (RFC 9293 §3.10.7.4: our ACK may have been lost).
        QVERIFY(rig.peer->send(tcpSegment(false, kPsh | kAck, kPeerIss + 1, 101, "0123456789")));
        if (on)
            QVERIFY(rig.until([&] { return acksFromPhantom(kPeerIss + 11) == 2; }));
        QVERIFY(rig.peer->send(tcpSegment(false, kFin | kAck, kPeerIss + 11, 101)));
        if (on) {
            QVERIFY(rig.until([&] { return acksFromPhantom(kPeerIss + 12) == 1; }));
            rig.settle(50ms);
            QCOMPARE(acksFromPhantom(kPeerIss + 11), std::size_t{2});
        } else {
            rig.settle(100ms);
            QCOMPARE(acksFromPhantom(kPeerIss + 12), std::size_t{0});
        }
        // Switched off again, nothing more is acknowledged.
        rig.engine->setAutoAck(false);
        QVERIFY(rig.peer->send(tcpSegment(false, kPsh | kAck, kPeerIss + 12, 101, "late")));
        rig.settle(100ms);
        QCOMPARE(acksFromPhantom(kPeerIss + 16), std::size_t{0});
    }
    // The listener: a SYN to the phantom's listening port is answered with a SYN-ACK (the
    // listener's ISN, ack = SEG.SEQ + 1, its MSS); with Auto-ACK the peer's data is then
    // acknowledged. A SYN to another port gets nothing.
    void listener_answersSynWithSynAck() {
        Rig rig;
        QVERIFY(rig.claimed());
        rig.engine->setListener({50000, SeqNum(7000), 1400});
        rig.engine->setAutoAck(true);
        using namespace tcp_flags;
        QVERIFY(rig.peer->send(tcpSegment(false, kSyn, kPeerIss, 0)));
        const auto synAcks = [&] {
            return rig.peer->count([](const Frame& f) {
                const TcpHeader* t = f.tcp();
                return t && t->flags == (kSyn | kAck) && t->seq == SeqNum(7000) &&
                       t->ack == SeqNum(kPeerIss + 1) && t->options.byteSize() == 4 &&
                       t->options.mss() == std::uint16_t{1400};
            });
        };
        QVERIFY(rig.until([&] { return synAcks() == 1; }));
        // A retransmitted SYN gets the same SYN-ACK again.
        QVERIFY(rig.peer->send(tcpSegment(false, kSyn, kPeerIss, 0)));
        QVERIFY(rig.until([&] { return synAcks() == 2; }));
        QVERIFY(rig.peer->send(tcpSegment(false, kAck, kPeerIss + 1, 7001)));
        QVERIFY(rig.peer->send(tcpSegment(false, kPsh | kAck, kPeerIss + 1, 7001, "hello")));
        QVERIFY(rig.until([&] {
            return rig.peer->count([](const Frame& f) {
                const TcpHeader* t = f.tcp();
                return t && t->flags == kAck && t->seq == SeqNum(7001) &&
                       t->ack == SeqNum(kPeerIss + 6);
            }) == 1;
        }));
        // Not listening any more: a new SYN is not answered.
        rig.engine->setListener({});
        auto other = tcpSegment(false, kSyn, kPeerIss + 5000, 0);
        other[34 + 1] = 0x99; // another source port
        QVERIFY(rig.peer->send(other));
        rig.settle(100ms);
        QCOMPARE(synAcks(), std::size_t{2});
    }

    // The advertised window: Auto-ACK's ACKs carry it, and changing it sends a window
    // update at once; a zero-window probe (one byte beyond the window) is answered with an
    // ACK of RCV.NXT and window 0 (RFC 9293 §3.8.6.1).
    void advertisedWindow_zeroThenOpen() {
        Rig rig;
        rig.peer->answerSyn = true;
        QVERIFY(rig.claimed());
        rig.engine->setAutoAck(true);
        rig.engine->setAdvertisedWindow(0);
        using namespace tcp_flags;
        rig.engine->sendFrame(tcpSegment(true, kSyn, 100, 0));
        QVERIFY(rig.until([&] { return rig.count(Direction::Received) >= 1; }));
        rig.engine->sendFrame(tcpSegment(true, kAck, 101, kPeerIss + 1));
        QVERIFY(rig.until([&] { return rig.count(Direction::Sent) >= 2; }));
        const auto acks = [&](std::uint32_t ack, std::uint16_t window) {
            return rig.peer->count([&](const Frame& f) {
                const TcpHeader* t = f.tcp();
                return t && f.ethernet.src == kPhantomMac && t->flags == kAck &&
                       t->ack == SeqNum(ack) && t->window == window;
            });
        };
        QVERIFY(rig.peer->send(tcpSegment(false, kPsh | kAck, kPeerIss + 1, 101, "0123456789")));
        QVERIFY(rig.until([&] { return acks(kPeerIss + 11, 0) == 1; }));
        // The probe: one byte at RCV.NXT into a zero window.
        QVERIFY(rig.peer->send(tcpSegment(false, kAck, kPeerIss + 11, 101, "x")));
        QVERIFY(rig.until([&] { return acks(kPeerIss + 11, 0) == 2; }));
        // Open again: an update at once, with nothing new to acknowledge.
        rig.engine->setAdvertisedWindow(4096);
        QVERIFY(rig.until([&] { return acks(kPeerIss + 11, 4096) == 1; }));
    }

    void snapLength_keepsHeadersAndWireLength() {
        Rig rig;
        QVERIFY(rig.claimed());
        rig.engine->setSnapLength(60);
        const std::string data(1000, 'd');
        QVERIFY(rig.peer->send(tcpSegment(false, tcp_flags::kAck, kPeerIss, 100, data)));
        QVERIFY(rig.until([&] { return rig.count(Direction::Received) >= 1; }));
        const timeline::Entry& e = (*rig.timeline)[rig.timeline->size() - 1];
        QCOMPARE(e.bytes.size(), std::size_t{60});
        QCOMPARE(e.wireLength, std::uint32_t(54 + 1000));
        const auto seg = tcp::segmentOf(e.decode());
        QVERIFY(seg);
        QCOMPARE(seg->segment.payloadLength, std::uint32_t{1000});
    }

    // Peer calls go to the agent and come back as events and timeline records; the agent's
    // samples are recorded once per change of state; a gone agent answers every call
    // with a sentence, pending ones included.
    void peerCalls_throughTheAgent() {
        Rig rig;
        FakeAgent agent;
        QVERIFY(agent.client);
        rig.engine->attachAgent(std::move(agent.client));
        QVERIFY(agent.say(peer::Hello{peer::kProtocolVersion, "linux", "6.18", 99, ""}));
        QVERIFY(rig.until([&] { return rig.events.count(EngineEvent::Kind::PeerAgent) == 1; }));
        QVERIFY(rig.events.first(EngineEvent::Kind::PeerAgent)->ok);

        const std::uint32_t id = rig.engine->peerCall(*peer::parseCall("socket inet"));
        QVERIFY(id > 0 && id < Engine::kRunnerCallIds);
        const auto request = agent.request();
        QVERIFY(request);
        QCOMPARE(request->id, id);
        QCOMPARE(request->call, peer::Call::Socket);
        peer::Answer answer;
        answer.id = id;
        answer.call = peer::Call::Socket;
        answer.result = 3;
        answer.startNs = 1234;
        answer.durationNs = 5000;
        QVERIFY(agent.say(answer));
        QVERIFY(rig.until([&] { return rig.events.count(EngineEvent::Kind::PeerCall) == 1; }));
        const EngineEvent* e = rig.events.first(EngineEvent::Kind::PeerCall);
        QVERIFY(e->ok && e->call);
        QCOMPARE(e->call->answer.result, std::int64_t{3});
        QCOMPARE(QString::fromStdString(e->message),
                 QStringLiteral("socket(AF_INET, SOCK_STREAM, 0) = 3 [5 us]"));
        QVERIFY(rig.until([&] { return rig.timeline->peerSize() == 2; })); // hello, call
        QCOMPARE(timeline::callRecord(rig.timeline->peer(1))->answer.result, std::int64_t{3});
        QCOMPARE(rig.timeline->peer(1).timeNs, std::int64_t{1234});

        // Samples: recorded when the state changes, not when only the clock moved.
        peer::Sample sample;
        sample.timeNs = 2000;
        sample.sockets = {socketSample(11, 10)};
        QVERIFY(agent.say(sample));
        sample.timeNs = 3000;
        sample.sockets = {socketSample(11, 10)};
        sample.sockets[0].fields = socketSample(11, 10).fields;
        auto clockOnly = peer::TcpInfo::fromPairs(sample.sockets[0].fields);
        clockOnly.set(peer::TcpInfoField::LastDataRecv, 99999);
        sample.sockets[0].fields = clockOnly.pairs();
        QVERIFY(agent.say(sample));
        sample.timeNs = 4000;
        sample.sockets = {socketSample(11, 20)};
        QVERIFY(agent.say(sample));
        sample.timeNs = 5000;
        sample.sockets = {socketSample(11, 20)};
        sample.sockets[0].gone = true;
        QVERIFY(agent.say(sample));
        QVERIFY(rig.until([&] { return rig.timeline->peerSize() == 5; }));
        rig.settle(50ms);
        QCOMPARE(rig.timeline->peerSize(), std::size_t{5});
        QCOMPARE(rig.timeline->peer(2).timeNs, std::int64_t{2000});
        QCOMPARE(rig.timeline->peer(3).timeNs, std::int64_t{4000});
        QVERIFY(timeline::sampleRecord(rig.timeline->peer(4))->sockets[0].gone);

        // The agent goes away with a call pending: it is answered, with a sentence, and so is
        // every later call.
        const std::uint32_t pending = rig.engine->peerCall(*peer::parseCall("accept 3"));
        QVERIFY(agent.request());
        agent.close();
        const std::uint32_t later = rig.engine->peerCall(*peer::parseCall("close 3"));
        QVERIFY(rig.until([&] { return rig.events.count(EngineEvent::Kind::PeerCall) == 3; }));
        for (const auto& ev : rig.events.all) {
            if (ev.kind != EngineEvent::Kind::PeerCall || ev.call->answer.id == id)
                continue;
            QVERIFY(ev.call->answer.id == pending || ev.call->answer.id == later);
            QCOMPARE(ev.call->answer.outcome, peer::Outcome::Refused);
            QVERIFY2(ev.call->answer.text.find("is gone") != std::string::npos,
                     ev.call->answer.text.c_str());
            QVERIFY(!ev.ok);
        }
        QCOMPARE(rig.events.count(EngineEvent::Kind::PeerAgent), std::size_t{2});
    }

    void peerCalls_withoutAgent_sayWhy() {
        Rig rig;
        rig.engine->attachAgent(nullptr, "the lwIP lab was started without its agent");
        rig.engine->peerCall(*peer::parseCall("sysctl net.ipv4.tcp_sack"));
        QVERIFY(rig.until([&] { return rig.events.count(EngineEvent::Kind::PeerCall) == 1; }));
        const EngineEvent* e = rig.events.first(EngineEvent::Kind::PeerCall);
        QCOMPARE(e->call->answer.outcome, peer::Outcome::Refused);
        QCOMPARE(QString::fromStdString(e->call->answer.text),
                 QStringLiteral("the lwIP lab was started without its agent"));
        // An engine never given an agent says so too.
        Rig bare;
        bare.engine->peerCall(*peer::parseCall("sample"));
        QVERIFY(bare.until([&] { return bare.events.count(EngineEvent::Kind::PeerCall) == 1; }));
        QVERIFY(bare.events.first(EngineEvent::Kind::PeerCall)
                    ->call->answer.text.find("no peer agent") != std::string::npos);
    }

    void probe_sendsProbesThenClaimsAndAnnounces() {
        Rig rig;
        rig.engine->configure(identity(), fastTiming(), Engine::Probe::Run);
        QVERIFY2(rig.until([&] {
            return rig.events.countHost(HostEvent::Kind::AddressClaimed) > 0 &&
                   rig.peer->count(isAnnouncement) > 0;
        }),
                 qPrintable(rig.events.kinds()));
        QCOMPARE(rig.peer->count(isProbe), std::size_t{2});
        // The probes came before the claim's announcement.
        QVERIFY(isProbe(decodeFrame(rig.peer->frames.at(0))));
        QVERIFY(isProbe(decodeFrame(rig.peer->frames.at(1))));
        QVERIFY(isAnnouncement(decodeFrame(rig.peer->frames.at(2))));
        const EngineEvent* started = rig.events.firstHost(HostEvent::Kind::ProbeStarted);
        const EngineEvent* claimed = rig.events.firstHost(HostEvent::Kind::AddressClaimed);
        QVERIFY(started && claimed);
        QVERIFY(started < claimed);
        QVERIFY(claimed->ok);
        QCOMPARE(claimed->message, claimed->host->message);
        QCOMPARE(claimed->host->mac, std::optional(kPhantomMac));
        // Every frame the peer saw is in the timeline, as sent, in the same order.
        QCOMPARE(rig.timeline->size(), rig.peer->frames.size());
        for (std::size_t i = 0; i < rig.timeline->size(); ++i) {
            QCOMPARE((*rig.timeline)[i].direction, Direction::Sent);
            QVERIFY(std::ranges::equal((*rig.timeline)[i].bytes, rig.peer->frames[i]));
        }
    }

    void probe_answered_refusesTheAddress_andSendsNothingMore() {
        Rig rig;
        rig.peer->onFrame = [](FakePeer& peer, const Frame& f) {
            if (isProbe(f)) // "198.18.0.1 is at 02:00:00:00:00:99"
                peer.send(arpFrame(kStrangerMac, kPhantomMac, arp_op::kReply, kStrangerMac,
                                   kPhantomIp, kPhantomMac, Ipv4Address{}));
        };
        rig.engine->configure(identity(), fastTiming(), Engine::Probe::Run);
        // A scenario asked for meanwhile waits for the probe, then fails with its verdict.
        rig.engine->runScenario(scenarioOf(kHandshake), connectionParams());
        QVERIFY2(rig.until([&] {
            return rig.events.countHost(HostEvent::Kind::AddressConflict) > 0 &&
                   rig.events.count(EngineEvent::Kind::ScenarioFinished) > 0;
        }),
                 qPrintable(rig.events.kinds()));
        const EngineEvent* conflict = rig.events.firstHost(HostEvent::Kind::AddressConflict);
        QCOMPARE(conflict->host->mac, std::optional(kStrangerMac));
        QVERIFY(!conflict->ok);
        const EngineEvent* finished = rig.events.first(EngineEvent::Kind::ScenarioFinished);
        QVERIFY(!finished->ok);
        QCOMPARE(finished->message, conflict->message);
        QVERIFY2(finished->message.find("in use") != std::string::npos, finished->message.c_str());

        const std::size_t seen = rig.peer->frames.size();
        rig.settle(60ms); // longer than the rest of the probe would have taken
        QCOMPARE(rig.peer->frames.size(), seen);
        QCOMPARE(rig.peer->count(isProbe), std::size_t{1});
        QCOMPARE(rig.peer->count(isAnnouncement), std::size_t{0});
        QCOMPARE(rig.events.countHost(HostEvent::Kind::AddressClaimed), std::size_t{0});
        // The conflicting answer is in the timeline, received.
        QCOMPARE(rig.count(Direction::Received), std::size_t{1});
        QVERIFY(rig.engine->scenarioSnapshot().finished);
        QVERIFY(!rig.engine->scenarioSnapshot().succeeded);
    }

    void arpRequest_isAnswered_andBothFramesAreRecorded() {
        // A fake clock far from the wall clock shows which stamp each entry got: the
        // link's capture time for a received frame, the engine's clock for a sent one.
        std::atomic<std::int64_t> ticks{0};
        Engine::Options options;
        options.clock = [&ticks] { return 1'000'000'000 + ticks.fetch_add(1); };
        Rig rig(Timeline::kDefaultCapacity, options);
        QVERIFY(rig.claimed());
        const auto before = std::chrono::system_clock::now();
        QVERIFY(rig.peer->send(whoHasPhantom()));
        QVERIFY(rig.until([&] { return rig.peer->count(isReplyToPeer) == 1; }));
        QVERIFY(rig.until([&] { return rig.events.countHost(HostEvent::Kind::AnsweredArp) == 1; }));
        QCOMPARE(rig.timeline->size(), std::size_t{2});
        const auto& request = (*rig.timeline)[0];
        const auto& reply = (*rig.timeline)[1];
        QCOMPARE(request.direction, Direction::Received);
        QVERIFY(std::ranges::equal(request.bytes, whoHasPhantom()));
        const std::int64_t wallBefore =
            std::chrono::duration_cast<std::chrono::nanoseconds>(before.time_since_epoch()).count();
        QVERIFY(request.timeNs >= wallBefore);
        QCOMPARE(reply.direction, Direction::Sent);
        QVERIFY(std::ranges::equal(reply.bytes, rig.peer->frames.back()));
        QVERIFY(reply.timeNs >= 1'000'000'000 && reply.timeNs < 1'000'000'000 + ticks.load());
    }

    void sendFrame_goesOutAsItIs_andIsRecorded() {
        Rig rig;
        // Not even a valid frame: the engine sends what it is given.
        const ByteVector frame = {0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02};
        rig.engine->sendFrame(frame);
        QVERIFY(rig.until([&] { return !rig.peer->frames.empty(); }));
        QVERIFY(rig.peer->frames.front() == frame);
        QVERIFY(rig.until([&] { return rig.timeline->size() == 1; }));
        QCOMPARE((*rig.timeline)[0].direction, Direction::Sent);
        QVERIFY(std::ranges::equal((*rig.timeline)[0].bytes, frame));
        QCOMPARE(rig.events.count(EngineEvent::Kind::SendFailed), std::size_t{0});
    }

    void busyPoll_idleEngine_neverSpins() {
        // Nothing sent, nothing received: the loop sleeps in poll() and opens no busy-poll
        // window, so an idle engine costs no CPU.
        Rig rig;
        QVERIFY(rig.claimed()); // Probe::Skip: nothing goes out
        rig.settle(300ms);
        const auto s = rig.engine->loopStatistics();
        QCOMPARE(s.busyPolls, std::uint64_t{0});
        QCOMPARE(s.busyPollNs, std::uint64_t{0});
        QVERIFY(s.sleeps >= 1);
    }

    void busyPoll_aSendOpensOneBoundedWindow_thenTheEngineSleeps() {
        // A frame that may be answered opens a window; once it has passed unanswered the
        // engine sleeps again: one send, a bounded number of windows, however long it waits.
        Engine::Options options;
        options.busyPoll = Engine::kMaxBusyPoll;
        Rig rig(Timeline::kDefaultCapacity, options);
        QVERIFY(rig.claimed());
        rig.engine->sendFrame(tcpSegment(true, tcp_flags::kSyn, 100, 0));
        QVERIFY(rig.until([&] { return !rig.peer->frames.empty(); }));
        rig.settle(300ms);
        const auto s = rig.engine->loopStatistics();
        QVERIFY(s.busyPolls >= 1);
        QVERIFY2(s.busyPolls <= 3, qPrintable(QString::number(s.busyPolls)));
        QCOMPARE(s.busyPollHits, std::uint64_t{0}); // nobody answered: every window ran out
        QVERIFY(s.sleeps >= 1);
    }

    void busyPoll_off_answersAllTheSame() {
        // Options::busyPoll 0: no window is ever opened; the engine still answers (ARP).
        Engine::Options options;
        options.busyPoll = std::chrono::microseconds{0};
        Rig rig(Timeline::kDefaultCapacity, options);
        QVERIFY(rig.claimed());
        QVERIFY(rig.peer->send(whoHasPhantom()));
        QVERIFY(rig.until([&] { return rig.peer->count(isReplyToPeer) == 1; }));
        rig.settle(50ms);
        QCOMPARE(rig.engine->loopStatistics().busyPolls, std::uint64_t{0});
    }

    void sendFrame_refusedByTheLink_isASendFailedEvent() {
        Rig rig;
        rig.engine->sendFrame({}); // a link refuses an empty frame
        QVERIFY(rig.until([&] { return rig.events.count(EngineEvent::Kind::SendFailed) > 0; }));
        QVERIFY(!rig.events.first(EngineEvent::Kind::SendFailed)->message.empty());
        QCOMPARE(rig.timeline->size(), std::size_t{0});
        QCOMPARE(rig.events.count(EngineEvent::Kind::LinkFailed), std::size_t{0});
    }

    void notifier_isCoalesced_underAFlood() {
        constexpr std::size_t kFlood = 5000;
        std::atomic<std::size_t> notifications{0};
        Rig rig(Timeline::kDefaultCapacity, {}, [&] { notifications.fetch_add(1); });
        QVERIFY(rig.claimed());
        rig.events.take(*rig.engine);
        const std::size_t before = notifications.load();
        const std::size_t takesBefore = rig.events.nonEmptyTakes;
        const ByteVector request = whoHasPhantom();
        for (std::size_t i = 0; i < kFlood; ++i)
            QVERIFY(rig.peer->send(request));
        // The consumer looks at its events only now and then, as a GUI timer would.
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while (rig.peer->count(isReplyToPeer) < kFlood &&
               std::chrono::steady_clock::now() < deadline) {
            rig.peer->pump(10);
            rig.events.take(*rig.engine);
        }
        QVERIFY(rig.until(
            [&] { return rig.events.countHost(HostEvent::Kind::AnsweredArp) == kFlood; }));
        QCOMPARE(rig.peer->count(isReplyToPeer), kFlood);
        QCOMPARE(rig.count(Direction::Received), kFlood);
        QCOMPARE(rig.count(Direction::Sent), kFlood + 0);
        const std::size_t calls = notifications.load() - before;
        const std::size_t takes = rig.events.nonEmptyTakes - takesBefore;
        qInfo("%zu frames: %zu notifications, %zu takes", kFlood, calls, takes);
        QVERIFY(calls >= 1);
        // Called only when the queue turns non-empty: at most once per emptying.
        QVERIFY2(calls <= takes + 1, qPrintable(QStringLiteral("%1 > %2").arg(calls).arg(takes)));
        QVERIFY(calls < kFlood / 10);
    }

    void timelineFull_isReportedOnce_andTrafficStillFlows() {
        Rig rig(3);
        QVERIFY(rig.claimed());
        for (int i = 0; i < 4; ++i)
            QVERIFY(rig.peer->send(whoHasPhantom()));
        QVERIFY(rig.until([&] { return rig.peer->count(isReplyToPeer) == 4; }));
        QVERIFY(rig.until([&] { return rig.events.countHost(HostEvent::Kind::AnsweredArp) == 4; }));
        QCOMPARE(rig.timeline->size(), std::size_t{3});
        QCOMPARE(rig.events.count(EngineEvent::Kind::TimelineFull), std::size_t{1});
        QVERIFY2(rig.events.first(EngineEvent::Kind::TimelineFull)->message.find("3 frames") !=
                     std::string::npos,
                 rig.events.first(EngineEvent::Kind::TimelineFull)->message.c_str());
    }

    void aLinkThatAsksToBeReadAgain_isReadAgain_evenWhenItsFdStaysQuiet() {
        auto owned = std::make_unique<VanishingLink>();
        VanishingLink* link = owned.get();
        auto timeline = std::make_shared<Timeline>();
        Engine engine(std::move(owned), timeline);
        EventLog events;
        engine.start();
        engine.configure(identity(), fastTiming(), Engine::Probe::Skip);
        std::this_thread::sleep_for(50ms);
        link->vanish();
        const auto deadline = std::chrono::steady_clock::now() + 3s;
        while (events.count(EngineEvent::Kind::LinkFailed) == 0 &&
               std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(5ms);
            events.take(engine);
        }
        QCOMPARE(events.count(EngineEvent::Kind::LinkFailed), std::size_t{1});
        QVERIFY(events.first(EngineEvent::Kind::LinkFailed)->message.find("disappeared") !=
                std::string::npos);
    }

    void closingThePeer_isOneLinkFailed_andTheTimelineStaysComplete() {
        Rig rig;
        QVERIFY(rig.claimed());
        for (int i = 0; i < 10; ++i)
            QVERIFY(rig.peer->send(whoHasPhantom()));
        rig.peer->close(); // with the requests perhaps still queued for the engine
        QVERIFY(rig.until([&] { return rig.events.count(EngineEvent::Kind::LinkFailed) > 0; }));
        QVERIFY(rig.until([&] { return rig.count(Direction::Received) == 10; }, 2s));
        rig.settle(50ms);
        QCOMPARE(rig.events.count(EngineEvent::Kind::LinkFailed), std::size_t{1});
        QVERIFY2(rig.events.first(EngineEvent::Kind::LinkFailed)->message.find("closed") !=
                     std::string::npos,
                 rig.events.first(EngineEvent::Kind::LinkFailed)->message.c_str());
        QCOMPARE(rig.count(Direction::Received), std::size_t{10});
        for (std::size_t i = 0; i < rig.timeline->size(); ++i)
            if ((*rig.timeline)[i].direction == Direction::Received)
                QVERIFY(std::ranges::equal((*rig.timeline)[i].bytes, whoHasPhantom()));

        // The engine still takes commands: they fail with the cause.
        const std::size_t size = rig.timeline->size();
        rig.engine->sendFrame(whoHasPhantom());
        rig.engine->runScenario(scenarioOf(kHandshake), connectionParams());
        QVERIFY(rig.until([&] {
            return rig.events.count(EngineEvent::Kind::ScenarioFinished) > 0 &&
                   rig.events.count(EngineEvent::Kind::SendFailed) > 0;
        }));
        QVERIFY(!rig.events.first(EngineEvent::Kind::ScenarioFinished)->ok);
        QCOMPARE(rig.events.first(EngineEvent::Kind::ScenarioFinished)->message,
                 rig.events.first(EngineEvent::Kind::LinkFailed)->message);
        QCOMPARE(rig.events.count(EngineEvent::Kind::LinkFailed), std::size_t{1});
        QCOMPARE(rig.timeline->size(), size);
    }

    void stop_isIdempotent_endsWithStopped_andDropsLaterCommands() {
        Rig rig;
        rig.engine->stop();
        rig.engine->stop();
        rig.events.take(*rig.engine);
        QCOMPARE(rig.events.count(EngineEvent::Kind::Stopped), std::size_t{1});
        QCOMPARE(rig.events.all.back().kind, EngineEvent::Kind::Stopped);
        rig.engine->sendFrame(whoHasPhantom());
        rig.engine->start(); // no restart
        rig.settle(30ms);
        QVERIFY(rig.peer->frames.empty());
        QCOMPARE(rig.events.count(EngineEvent::Kind::Stopped), std::size_t{1});
        QCOMPARE(rig.timeline->size(), std::size_t{0});
    }

    void destructor_joinsTheThread() {
        std::atomic<int> notified{0};
        auto [a, b] = MemoryLink::createPair();
        {
            Engine engine(std::move(a), std::make_shared<Timeline>(16));
            engine.setNotifier([&] { notified.fetch_add(1); });
            engine.start();
            QVERIFY(!engine.waitForEvents(20ms));
        }
        // The Stopped event was published (and notified) before the destructor returned.
        QCOMPARE(notified.load(), 1);
    }

    void stop_fromTheNotifier_doesNotDeadlock() {
        auto [a, b] = MemoryLink::createPair();
        auto engine = std::make_unique<Engine>(std::move(a), std::make_shared<Timeline>(16));
        Engine* raw = engine.get();
        std::atomic<int> notified{0};
        engine->setNotifier([&] {
            notified.fetch_add(1);
            raw->stop(); // on the engine thread: must not join itself
        });
        engine->start();
        engine->runScenario(scenarioOf(kHandshake), connectionParams()); // fails at once
        QVERIFY(engine->waitForEvents(2000ms));
        const auto deadline = std::chrono::steady_clock::now() + 2s;
        bool stopped = false;
        std::vector<EngineEvent> all;
        while (!stopped && std::chrono::steady_clock::now() < deadline) {
            engine->waitForEvents(20ms);
            for (auto& e : engine->takeEvents()) {
                stopped = stopped || e.kind == EngineEvent::Kind::Stopped;
                all.push_back(std::move(e));
            }
        }
        QVERIFY(stopped);
        engine.reset();
        QVERIFY(notified.load() >= 1);
        QCOMPARE(all.front().kind, EngineEvent::Kind::ScenarioFinished);
    }

    void waitForEvents_timesOutWithoutEvents() {
        Rig rig;
        const auto start = std::chrono::steady_clock::now();
        QVERIFY(!rig.engine->waitForEvents(30ms));
        QVERIFY(std::chrono::steady_clock::now() - start >= 25ms);
        rig.engine->runScenario(scenarioOf(kHandshake), connectionParams());
        QVERIFY(rig.engine->waitForEvents(2000ms));
    }

    void runScenario_withoutConfigure_failsAtOnce() {
        Rig rig;
        rig.engine->runScenario(scenarioOf(kHandshake), connectionParams());
        QVERIFY(rig.until([&] { return rig.events.count(EngineEvent::Kind::ScenarioFinished) > 0; },
                          2s));
        const EngineEvent* finished = rig.events.first(EngineEvent::Kind::ScenarioFinished);
        QVERIFY(!finished->ok);
        QVERIFY2(finished->message.find("configure the phantom first") != std::string::npos,
                 finished->message.c_str());
        const auto snapshot = rig.engine->scenarioSnapshot();
        QVERIFY(snapshot.finished);
        QVERIFY(!snapshot.succeeded);
        QCOMPARE(snapshot.scenario.title, std::string("handshake"));
        QVERIFY(rig.peer->frames.empty());
    }

    void runScenario_offLinkWithoutGateway_fails() {
        Rig rig;
        QVERIFY(rig.claimed());
        auto params = connectionParams();
        params.peer = *Ipv4Address::parse("198.19.0.2");
        rig.engine->runScenario(scenarioOf(kHandshake), params);
        QVERIFY(rig.until([&] { return rig.events.count(EngineEvent::Kind::ScenarioFinished) > 0; },
                          2s));
        const EngineEvent* finished = rig.events.first(EngineEvent::Kind::ScenarioFinished);
        QVERIFY(!finished->ok);
        QVERIFY2(finished->message.find("no gateway") != std::string::npos,
                 finished->message.c_str());
    }

    void runScenario_unansweredResolution_fails() {
        Rig rig;
        QVERIFY(rig.claimed());
        rig.engine->runScenario(scenarioOf(kHandshake), connectionParams());
        QVERIFY(rig.until([&] { return rig.events.count(EngineEvent::Kind::ScenarioFinished) > 0; },
                          3s));
        const EngineEvent* finished = rig.events.first(EngineEvent::Kind::ScenarioFinished);
        QVERIFY(!finished->ok);
        QVERIFY2(finished->message.rfind("could not resolve 198.18.0.2", 0) == 0,
                 finished->message.c_str());
        const auto whoHasPeer = [](const Frame& f) {
            return f.arp() && f.arp()->targetIp == kPeerIp && f.arp()->senderIp == kPhantomIp;
        };
        QCOMPARE(rig.peer->count(whoHasPeer), std::size_t{3});
        QCOMPARE(rig.peer->count([](const Frame& f) { return f.tcp() != nullptr; }),
                 std::size_t{0});
    }

    void cancelScenario_whileResolving_finishesIt() {
        Rig rig;
        QVERIFY(rig.claimed());
        rig.engine->runScenario(scenarioOf(kHandshake), connectionParams());
        QVERIFY(rig.until([&] { return !rig.peer->frames.empty(); })); // the ARP request
        rig.engine->cancelScenario();
        QVERIFY(rig.until([&] { return rig.events.count(EngineEvent::Kind::ScenarioFinished) > 0; },
                          2s));
        const EngineEvent* finished = rig.events.first(EngineEvent::Kind::ScenarioFinished);
        QVERIFY(!finished->ok);
        QVERIFY2(finished->message.find("cancelled") != std::string::npos,
                 finished->message.c_str());
    }

    void runScenario_handshakeAgainstAFakePeer_succeeds() {
        Rig rig;
        rig.peer->answerArp = true;
        rig.peer->answerSyn = true;
        rig.engine->configure(identity(), fastTiming(), Engine::Probe::Run);
        rig.engine->runScenario(scenarioOf(kHandshake), connectionParams());
        QVERIFY2(
            rig.until([&] { return rig.events.count(EngineEvent::Kind::ScenarioFinished) > 0; }),
            qPrintable(rig.events.kinds()));
        const EngineEvent* finished = rig.events.first(EngineEvent::Kind::ScenarioFinished);
        QVERIFY2(finished->ok, finished->message.c_str());
        QVERIFY(finished->scenario.has_value());
        QCOMPARE(finished->scenario->kind, engine::ScenarioEvent::Kind::Finished);
        QVERIFY(rig.events.count(EngineEvent::Kind::ScenarioStep) >= 6); // 3 started, 3 done

        const auto snapshot = rig.engine->scenarioSnapshot();
        QVERIFY(snapshot.finished);
        QVERIFY(snapshot.succeeded);
        QCOMPARE(snapshot.results.size(), std::size_t{3});
        for (const auto& r : snapshot.results)
            QCOMPARE(r.status, engine::StepResult::Status::Done);

        // The wire, in order, from the timeline: what the peer saw and answered.
        QStringList ladder;
        for (std::size_t i = 0; i < rig.timeline->size(); ++i) {
            const auto& entry = (*rig.timeline)[i];
            const Frame f = entry.decode();
            QString what;
            if (isProbe(f))
                what = QStringLiteral("probe");
            else if (isAnnouncement(f))
                what = QStringLiteral("announce");
            else if (f.arp())
                what = f.arp()->operation == arp_op::kRequest ? QStringLiteral("who-has")
                                                              : QStringLiteral("is-at");
            else if (f.tcp())
                what = QString::fromStdString(
                    fmt::format("{} {}", tcpFlagsToString(f.tcp()->flags), f.tcp()->seq.value()));
            ladder << QString::fromStdString(
                          std::string(timeline::directionName(entry.direction))) +
                          QLatin1Char(' ') + what;
        }
        QCOMPARE(ladder, (QStringList{
                             QStringLiteral("sent probe"),
                             QStringLiteral("sent probe"),
                             QStringLiteral("sent announce"),
                             QStringLiteral("sent who-has"),
                             QStringLiteral("received is-at"),
                             QStringLiteral("sent S 100"),
                             QStringLiteral("received SA 3000000000"),
                             QStringLiteral("sent R 101"),
                         }));
        // The SYN went to the MAC the resolution found.
        const auto syns = rig.peer->count([](const Frame& f) {
            return f.tcp() && f.tcp()->flags == tcp_flags::kSyn && f.ethernet.dst == kPeerMac &&
                   f.ethernet.src == kPhantomMac;
        });
        QCOMPARE(syns, std::size_t{1});
    }

    void runScenario_again_reusesTheResolvedNeighbour() {
        Rig rig;
        rig.peer->answerArp = true;
        rig.peer->answerSyn = true;
        QVERIFY(rig.claimed());
        for (std::uint16_t port : {50010, 50011}) {
            auto params = connectionParams();
            params.sourcePort = port;
            const std::size_t finishedBefore =
                rig.events.count(EngineEvent::Kind::ScenarioFinished);
            rig.engine->runScenario(scenarioOf(kHandshake), params);
            QVERIFY(rig.until([&] {
                return rig.events.count(EngineEvent::Kind::ScenarioFinished) > finishedBefore;
            }));
            QVERIFY2(rig.events.all.back().kind == EngineEvent::Kind::ScenarioFinished &&
                         rig.events.all.back().ok,
                     qPrintable(rig.events.kinds()));
        }
        const auto whoHasPeer = [](const Frame& f) {
            return f.arp() && f.arp()->targetIp == kPeerIp;
        };
        QCOMPARE(rig.peer->count(whoHasPeer), std::size_t{1});
    }

    void runScenario_replacesARunningOne() {
        Rig rig;
        rig.peer->answerArp = true; // but no SYN-ACK: the first scenario waits
        QVERIFY(rig.claimed());
        rig.engine->runScenario(scenarioOf(kHandshake), connectionParams());
        QVERIFY(rig.until([&] {
            return rig.peer->count([](const Frame& f) { return f.tcp() != nullptr; }) > 0;
        }));
        rig.peer->answerSyn = true;
        auto params = connectionParams();
        params.sourcePort = 50020;
        rig.engine->runScenario(scenarioOf(kHandshake), params);
        QVERIFY(
            rig.until([&] { return rig.events.count(EngineEvent::Kind::ScenarioFinished) >= 2; }));
        std::vector<const EngineEvent*> finished;
        for (const auto& e : rig.events.all)
            if (e.kind == EngineEvent::Kind::ScenarioFinished)
                finished.push_back(&e);
        QCOMPARE(finished.size(), std::size_t{2});
        QVERIFY(!finished[0]->ok);
        QVERIFY2(finished[0]->message.find("replaced") != std::string::npos,
                 finished[0]->message.c_str());
        QVERIFY2(finished[1]->ok, finished[1]->message.c_str());
        QVERIFY(rig.engine->scenarioSnapshot().succeeded);
    }

    // Safety: sendFrame() is rate-capped by default (a token bucket on the engine's
    // clock). With the clock frozen, the first `burst` frames go at once and the rest
    // wait; each millisecond the clock moves lets one more go, in order.
    void sendFrame_isRateCapped_burstThenPaced() {
        const Engine::SendRate defaults;
        QCOMPARE(defaults.framesPerSecond, std::uint32_t{1000});
        QCOMPARE(defaults.burst, std::size_t{200});
        std::atomic<std::int64_t> now{5'000'000'000};
        Engine::Options options;
        options.clock = [&now] { return now.load(); };
        Rig rig(Timeline::kDefaultCapacity, options);
        constexpr std::size_t kFrames = 1000;
        const auto frameOf = [](std::size_t i) {
            return ByteVector{0xde, 0xad, std::uint8_t(i >> 8), std::uint8_t(i), 0, 0, 0, 0};
        };
        for (std::size_t i = 0; i < kFrames; ++i)
            rig.engine->sendFrame(frameOf(i));
        QVERIFY(rig.until([&] { return rig.peer->frames.size() >= defaults.burst; }));
        rig.settle(100ms); // the clock stands still: nothing more may go
        QCOMPARE(rig.peer->frames.size(), defaults.burst);
        now += 1'000'000; // 1 ms: one more frame
        QVERIFY(rig.until([&] { return rig.peer->frames.size() == defaults.burst + 1; }));
        now += 10'000'000; // 10 ms: ten more
        QVERIFY(rig.until([&] { return rig.peer->frames.size() == defaults.burst + 11; }));
        rig.settle(50ms);
        QCOMPARE(rig.peer->frames.size(), defaults.burst + 11);
        // A quiet second fills the bucket, but only up to `burst`.
        now += 1'000'000'000;
        QVERIFY(rig.until([&] { return rig.peer->frames.size() == 2 * defaults.burst + 11; }));
        rig.settle(50ms);
        QCOMPARE(rig.peer->frames.size(), 2 * defaults.burst + 11);
        // Then 100 frames per 100 ms until the 1000 are out.
        for (int step = 0; step < 10 && rig.peer->frames.size() < kFrames; ++step) {
            const std::size_t want = std::min(kFrames, rig.peer->frames.size() + 100);
            now += 100'000'000;
            QVERIFY(rig.until([&] { return rig.peer->frames.size() == want; }));
        }
        QCOMPARE(rig.peer->frames.size(), kFrames);
        for (std::size_t i = 0; i < kFrames; ++i)
            QVERIFY2(rig.peer->frames[i] == frameOf(i), qPrintable(QString::number(i)));
        QVERIFY(rig.until([&] { return rig.timeline->size() == kFrames; }));
        QCOMPARE(rig.events.count(EngineEvent::Kind::SendFailed), std::size_t{0});
    }

    // Over the cap frames wait in a bounded queue; when it is full a frame is refused
    // with a SendFailed event that says why, and the waiting ones still go later.
    void sendFrame_overAFullQueue_isASendFailedEvent() {
        std::atomic<std::int64_t> now{5'000'000'000};
        Engine::Options options;
        options.clock = [&now] { return now.load(); };
        options.sendRate = Engine::SendRate{100, 5, 10};
        Rig rig(Timeline::kDefaultCapacity, options);
        for (std::uint8_t i = 0; i < 20; ++i)
            rig.engine->sendFrame(ByteVector{0xde, 0xad, i, 0, 0, 0, 0, 0});
        QVERIFY(rig.until([&] { return rig.events.count(EngineEvent::Kind::SendFailed) == 5; }));
        rig.settle(50ms);
        QCOMPARE(rig.peer->frames.size(), std::size_t{5});
        QCOMPARE(rig.events.count(EngineEvent::Kind::SendFailed), std::size_t{5});
        const std::string& why = rig.events.first(EngineEvent::Kind::SendFailed)->message;
        QVERIFY2(why.find("rate cap") != std::string::npos &&
                     why.find("100 frames/s") != std::string::npos,
                 why.c_str());
        now += 50'000'000; // 50 ms at 100 frames/s: five of the ten waiting frames
        QVERIFY(rig.until([&] { return rig.peer->frames.size() == 10; }));
        now += 50'000'000;
        QVERIFY(rig.until([&] { return rig.peer->frames.size() == 15; }));
        QCOMPARE(rig.peer->frames.back()[2], std::uint8_t{14});
    }

    // framesPerSecond = 0 lifts the cap: a thousand frames go without the clock moving.
    void sendFrame_uncapped_sendsEverythingAtOnce() {
        Engine::Options options;
        options.clock = [] { return std::int64_t{5'000'000'000}; };
        options.sendRate.framesPerSecond = 0;
        Rig rig(Timeline::kDefaultCapacity, options);
        for (std::size_t i = 0; i < 1000; ++i)
            rig.engine->sendFrame(ByteVector{0xde, 0xad, std::uint8_t(i >> 8), std::uint8_t(i)});
        QVERIFY(rig.until([&] { return rig.peer->frames.size() == 1000; }));
    }
};

QTEST_GUILESS_MAIN(TestEngine)
#include "tst_engine.moc"
