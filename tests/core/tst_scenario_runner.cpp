// The scenario runner, driven directly with an explicit clock: the frames it sends
// are decoded and checked number by number; the peer's frames are built with
// SegmentSpec, either by hand or by a small Linux-like peer that answers the way the
// kernel's TCP does (SYN-ACK with its own ISN, the response in several segments,
// closing right after it or when the client closes, RST for anything sent to a
// closed connection, silence for a bare ACK in TIME-WAIT).
#include "tests_support/test_support.h"

#include "engine/scenario.h"
#include "engine/scenario_runner.h"
#include "peer/tcp_info.h"
#include "wire/frame.h"
#include "wire/segment_spec.h"

#include <deque>

using namespace tcplab;
using namespace tcplab::engine;
using namespace tcplab::wire;
using ByteVector = std::vector<std::uint8_t>;

namespace {

constexpr std::int64_t kMs = 1'000'000;
constexpr std::uint8_t kS = tcp_flags::kSyn;
constexpr std::uint8_t kA = tcp_flags::kAck;
constexpr std::uint8_t kF = tcp_flags::kFin;
constexpr std::uint8_t kR = tcp_flags::kRst;
constexpr std::uint8_t kP = tcp_flags::kPsh;

const MacAddress kPhantomMac = *MacAddress::parse("02:00:00:00:00:0b");
const MacAddress kPeerMac = *MacAddress::parse("02:00:00:00:00:0a");
const std::string kRequest = "GET / HTTP/1.1\r\nHost: 198.18.0.2\r\n\r\n";
const std::string kResponse = "HTTP/1.1 200 OK\r\n"
                              "Server: fake\r\n"
                              "Content-Type: text/plain\r\n"
                              "Content-Length: 44\r\n"
                              "\r\n"
                              "The quick brown fox jumps over the lazy dog\n";
constexpr std::uint32_t kPeerIss = 3'000'000'000u;

ConnectionParams params(bool ipv6 = false) {
    ConnectionParams p;
    p.phantomMac = kPhantomMac;
    p.nextHopMac = kPeerMac;
    if (ipv6) {
        p.phantom = *Ipv6Address::parse("2001:db8::1");
        p.peer = *Ipv6Address::parse("2001:db8::2");
    } else {
        p.phantom = *Ipv4Address::parse("198.18.0.1");
        p.peer = *Ipv4Address::parse("198.18.0.2");
    }
    p.sourcePort = 50000;
    p.destinationPort = 50001;
    p.iss = SeqNum(100);
    p.request.assign(kRequest.begin(), kRequest.end());
    return p;
}

Scenario scenarioOf(std::string_view text) {
    auto s = parseScenario(text);
    if (!s) {
        qWarning("%s", describe(s.error()).c_str());
        return {};
    }
    return *s;
}

/// A segment from the peer (or, with the overrides, from somewhere else).
ByteVector peerSegment(const ConnectionParams& p, std::uint8_t flags, std::uint32_t seq,
                       std::uint32_t ack, std::string_view data = {},
                       std::optional<std::uint16_t> srcPort = std::nullopt,
                       std::optional<IpAddress> srcIp = std::nullopt) {
    SegmentSpec spec;
    spec.ethernet.src = kPeerMac;
    spec.ethernet.dst = kPhantomMac;
    const IpAddress from = srcIp.value_or(p.peer);
    if (const auto* v4 = std::get_if<Ipv4Address>(&from)) {
        Ipv4Header ip;
        ip.src = *v4;
        ip.dst = std::get<Ipv4Address>(p.phantom);
        spec.ip = ip;
    } else {
        Ipv6Header ip;
        ip.src = std::get<Ipv6Address>(from);
        ip.dst = std::get<Ipv6Address>(p.phantom);
        spec.ip = ip;
    }
    spec.tcp.srcPort = srcPort.value_or(p.destinationPort);
    spec.tcp.dstPort = p.sourcePort;
    spec.tcp.flags = flags;
    spec.tcp.seq = SeqNum(seq);
    spec.tcp.ack = SeqNum(ack);
    spec.tcp.window = 64240;
    spec.payload.assign(data.begin(), data.end());
    return spec.encode().value();
}

/// "PA seq=101 ack=3000000001 len=37": what a test compares.
std::string summary(const Frame& f) {
    const TcpHeader* tcp = f.tcp();
    if (!tcp)
        return "not TCP";
    return fmt::format("{} seq={} ack={} len={}", tcpFlagsToString(tcp->flags), tcp->seq.value(),
                       tcp->ack.value(), f.payloadLength);
}

QStringList toQt(const std::vector<std::string>& v) {
    QStringList l;
    for (const auto& s : v)
        l << QString::fromStdString(s);
    return l;
}

/// The runner, its output and the clock.
struct Harness {
    ConnectionParams params;
    ScenarioRunner runner;
    ScenarioRunner::FrameList out;
    std::size_t taken = 0;
    std::int64_t now = 0;

    Harness(std::string_view text, ConnectionParams p)
        : params(p)
        , runner(scenarioOf(text), std::move(p)) {}
    explicit Harness(CloseMode mode, ConnectionParams p = ::params())
        : params(p)
        , runner(classicScenario(mode), std::move(p)) {}

    void start() { runner.start(now, out); }
    void feed(const ByteVector& bytes) { runner.onFrame(decodeFrame(bytes), now, out); }
    void peer(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack,
              std::string_view data = {}) {
        feed(peerSegment(params, flags, seq, ack, data));
    }
    void tick(std::int64_t at) {
        now = at;
        runner.tick(now, out);
    }
    /// Summaries of the frames sent since the last call.
    QStringList take() {
        std::vector<std::string> s;
        for (; taken < out.size(); ++taken)
            s.push_back(summary(decodeFrame(out[taken])));
        return toQt(s);
    }
    std::string failure() const {
        const auto f = runner.failedStep();
        return f ? runner.results()[*f].message : std::string();
    }
    /// Classic steps 1-4: SYN, the peer's SYN-ACK, ACK and the request.
    void handshake(std::uint32_t peerIss = kPeerIss) {
        start();
        peer(kS | kA, peerIss, params.iss.value() + 1);
    }
};

bool hasEvent(const std::vector<ScenarioEvent>& events, ScenarioEvent::Kind kind) {
    return std::any_of(events.begin(), events.end(),
                       [&](const ScenarioEvent& e) { return e.kind == kind; });
}

std::string str(std::uint32_t v) {
    return std::to_string(v);
}

// ---------------------------------------------------------------------------------

/// The peer's side as Linux plays it, enough for the classic exercise. It checks the
/// numbers of every segment it gets and records what is wrong in `errors`.
class FakeLinuxPeer {
public:
    enum class State : std::uint8_t {
        Listen,
        SynReceived,
        Established,
        FinWait1,
        FinWait2,
        Closing,
        TimeWait,
        CloseWait,
        LastAck,
        Closed
    };
    enum class Close : std::uint8_t {
        KeepOpen,     ///< closes only when the client does (its FIN answers ours)
        WithLastData, ///< FIN on the last segment of the response
        Separate,     ///< the response, then a FIN of its own
    };

    FakeLinuxPeer(ConnectionParams p, std::uint32_t iss, std::string response, Close close,
                  std::size_t parts)
        : m_params(std::move(p))
        , m_iss(iss)
        , m_response(std::move(response))
        , m_close(close)
        , m_parts(parts) {}

    State state = State::Listen;
    std::string request;
    std::vector<std::string> errors;
    unsigned resetsSent = 0;
    unsigned duplicateSegments = 0;
    bool gotRst = false;

    std::vector<ByteVector> receive(const Frame& f) {
        const TcpHeader* tcp = f.tcp();
        if (!tcp || tcp->srcPort != m_params.sourcePort ||
            tcp->dstPort != m_params.destinationPort) {
            errors.push_back("a frame not for the peer's connection");
            return {};
        }
        const std::string what = summary(f);
        const std::string_view payload(reinterpret_cast<const char*>(f.payload().data()),
                                       f.payload().size());
        if (state == State::Closed) {
            // RFC 9293 §3.10.7.1: anything but a RST to a closed port draws a RST.
            if (tcp->has(kR))
                return {};
            ++resetsSent;
            return {segment(kR, tcp->ack, SeqNum(0))};
        }
        if (tcp->has(kR)) {
            // RFC 5961 §3.2: only a RST at exactly RCV.NXT resets.
            if (tcp->seq != m_rcvNxt)
                errors.push_back("RST not at rcv.nxt: " + what);
            state = State::Closed;
            gotRst = true;
            return {};
        }
        if (state == State::Listen) {
            if (!tcp->has(kS) || tcp->has(kA)) {
                errors.push_back("expected a SYN in LISTEN, got " + what);
                return {};
            }
            m_rcvNxt = tcp->seq + 1;
            m_sndUna = m_iss;
            m_sndNxt = m_iss + 1;
            state = State::SynReceived;
            return {segment(kS | kA, m_iss, m_rcvNxt)};
        }
        if (tcp->has(kS)) {
            errors.push_back("a SYN in a synchronized state: " + what);
            return {};
        }
        const std::uint32_t segLen =
            static_cast<std::uint32_t>(payload.size()) + (tcp->has(kF) ? 1 : 0);
        if (tcp->seq != m_rcvNxt) {
            if (segLen == 0 && state != State::TimeWait)
                errors.push_back(fmt::format("pure ACK with seq {} instead of rcv.nxt {}: {}",
                                             tcp->seq.value(), m_rcvNxt.value(), what));
            ++duplicateSegments;
            return {segment(kA, m_sndNxt, m_rcvNxt)};
        }
        if (!tcp->has(kA)) {
            errors.push_back("no ACK flag: " + what);
            return {};
        }
        if (tcp->ack > m_sndNxt)
            errors.push_back("acknowledges what was never sent: " + what);
        else if (tcp->ack > m_sndUna)
            m_sndUna = tcp->ack;
        if (state == State::SynReceived && m_sndUna == m_iss + 1)
            state = State::Established;
        const bool finAcked = m_finSent && m_sndUna == m_sndNxt;
        if (finAcked) {
            if (state == State::FinWait1)
                state = State::FinWait2;
            else if (state == State::Closing)
                state = State::TimeWait;
            else if (state == State::LastAck)
                state = State::Closed;
        }

        std::vector<ByteVector> out;
        if (!payload.empty()) {
            if (state != State::Established) {
                errors.push_back("data after the handshake state ended: " + what);
                return {};
            }
            request += payload;
            m_rcvNxt = m_rcvNxt + static_cast<std::int64_t>(payload.size());
            if (request.ends_with("\r\n\r\n"))
                respond(out);
            else
                out.push_back(segment(kA, m_sndNxt, m_rcvNxt));
        }
        if (tcp->has(kF)) {
            m_rcvNxt = m_rcvNxt + 1;
            switch (state) {
            case State::Established:
                state = State::CloseWait;
                out.push_back(segment(kA, m_sndNxt, m_rcvNxt));
                // The application reads end-of-file and closes at once.
                out.push_back(segment(kF | kA, m_sndNxt, m_rcvNxt));
                m_sndNxt = m_sndNxt + 1;
                m_finSent = true;
                state = State::LastAck;
                break;
            case State::FinWait1:
                state = State::Closing;
                out.push_back(segment(kA, m_sndNxt, m_rcvNxt));
                break;
            case State::FinWait2:
                state = State::TimeWait;
                out.push_back(segment(kA, m_sndNxt, m_rcvNxt));
                break;
            default:
                errors.push_back("a FIN in an odd state: " + what);
            }
        }
        // RFC 9293 §3.10.7.4: a bare ACK in TIME-WAIT (or anywhere) draws nothing.
        return out;
    }

    SeqNum rcvNxt() const { return m_rcvNxt; }
    SeqNum sndNxt() const { return m_sndNxt; }

private:
    ByteVector segment(std::uint8_t flags, SeqNum seq, SeqNum ack, std::string_view data = {}) {
        return peerSegment(m_params, flags, seq.value(), ack.value(), data);
    }

    void respond(std::vector<ByteVector>& out) {
        const std::size_t size = (m_response.size() + m_parts - 1) / m_parts;
        for (std::size_t at = 0; at < m_response.size(); at += size) {
            const std::string_view part = std::string_view(m_response).substr(at, size);
            const bool last = at + size >= m_response.size();
            std::uint8_t flags = kP | kA;
            if (last && m_close == Close::WithLastData)
                flags |= kF;
            out.push_back(segment(flags, m_sndNxt, m_rcvNxt, part));
            m_sndNxt = m_sndNxt + static_cast<std::int64_t>(part.size());
        }
        if (m_close == Close::Separate)
            out.push_back(segment(kF | kA, m_sndNxt, m_rcvNxt));
        if (m_close != Close::KeepOpen) {
            m_sndNxt = m_sndNxt + 1;
            m_finSent = true;
            state = State::FinWait1;
        }
    }

    ConnectionParams m_params;
    SeqNum m_iss;
    std::string m_response;
    Close m_close;
    std::size_t m_parts;
    SeqNum m_sndUna;
    SeqNum m_sndNxt;
    SeqNum m_rcvNxt;
    bool m_finSent = false;
};

/// Runs the runner against the peer until it finishes (bounded), 1 ms per hop.
void converse(ScenarioRunner& runner, FakeLinuxPeer& peer, std::int64_t& now) {
    ScenarioRunner::FrameList out;
    std::size_t cursor = 0;
    std::deque<ByteVector> toRunner;
    const auto deliverToPeer = [&] {
        for (; cursor < out.size(); ++cursor) {
            const ByteVector bytes = out[cursor];
            for (auto& reply : peer.receive(decodeFrame(bytes)))
                toRunner.push_back(std::move(reply));
        }
    };
    runner.start(now, out);
    for (int guard = 0; guard < 1000 && !runner.finished(); ++guard) {
        deliverToPeer();
        if (!toRunner.empty()) {
            now += kMs;
            while (!toRunner.empty()) {
                const ByteVector bytes = std::move(toRunner.front());
                toRunner.pop_front();
                runner.onFrame(decodeFrame(bytes), now, out);
            }
            continue;
        }
        const auto deadline = runner.nextDeadline();
        if (!deadline)
            break;
        now = std::max(now, *deadline);
        runner.tick(now, out);
    }
    deliverToPeer();
}

const char* stateName(FakeLinuxPeer::State s) {
    using S = FakeLinuxPeer::State;
    switch (s) {
    case S::Listen:
        return "LISTEN";
    case S::SynReceived:
        return "SYN-RECEIVED";
    case S::Established:
        return "ESTABLISHED";
    case S::FinWait1:
        return "FIN-WAIT-1";
    case S::FinWait2:
        return "FIN-WAIT-2";
    case S::Closing:
        return "CLOSING";
    case S::TimeWait:
        return "TIME-WAIT";
    case S::CloseWait:
        return "CLOSE-WAIT";
    case S::LastAck:
        return "LAST-ACK";
    case S::Closed:
        return "CLOSED";
    }
    return "?";
}

std::string chunked(std::string_view body) {
    return fmt::format("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "{:x}\r\n{}\r\n{:x}\r\n{}\r\n0\r\nX-Trailer: yes\r\n\r\n",
                       10, body.substr(0, 10), body.size() - 10, body.substr(10));
}

} // namespace

class TestScenarioRunner : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // --- the classic exchange, number by number --------------------------------------

    void classicFin_serverKeepsConnectionOpen_ipv4() {
        Harness h(CloseMode::Fin);
        h.start();
        QCOMPARE(h.take(), QStringList{"S seq=100 ack=0 len=0"});

        // The first frame, layer by layer.
        const Frame syn = decodeFrame(h.out[0]);
        QCOMPARE(syn.ethernet.src, kPhantomMac);
        QCOMPARE(syn.ethernet.dst, kPeerMac);
        QVERIFY(syn.ipv4());
        QCOMPARE(syn.ipv4()->src, std::get<Ipv4Address>(h.params.phantom));
        QCOMPARE(syn.ipv4()->dst, std::get<Ipv4Address>(h.params.peer));
        QCOMPARE(syn.ipv4()->ttl, std::uint8_t{64});
        QCOMPARE(syn.ipv4()->flags, ipv4_flags::kDontFragment);
        QCOMPARE(syn.ipv4()->id, std::uint16_t{1});
        QCOMPARE(syn.tcp()->srcPort, std::uint16_t{50000});
        QCOMPARE(syn.tcp()->dstPort, std::uint16_t{50001});
        QCOMPARE(syn.tcp()->window, std::uint16_t{65535});
        QVERIFY(syn.tcp()->options.empty());
        QVERIFY(syn.transportChecksumChecked);
        QVERIFY(!syn.diagnostics.has(Diagnostic::TcpChecksumBad));
        QVERIFY(!syn.diagnostics.has(Diagnostic::Ipv4ChecksumBad));
        QCOMPARE(h.runner.results()[0].status, StepResult::Status::Done);
        QCOMPARE(h.runner.results()[1].status, StepResult::Status::Running);
        QCOMPARE(h.runner.sndNxt(), SeqNum(101));
        QCOMPARE(h.runner.sndUna(), SeqNum(100));

        h.now = 10 * kMs;
        h.peer(kS | kA, kPeerIss, 101);
        QCOMPARE(h.take(), (QStringList{"A seq=101 ack=3000000001 len=0",
                                        "PA seq=101 ack=3000000001 len=" +
                                            QString::number(kRequest.size())}));
        QCOMPARE(h.runner.irs(), std::optional(SeqNum(kPeerIss)));
        QCOMPARE(h.runner.sndUna(), SeqNum(101));
        const Frame get = decodeFrame(h.out[2]);
        QCOMPARE(
            std::string(reinterpret_cast<const char*>(get.payload().data()), get.payloadLength),
            kRequest);
        QCOMPARE(get.ipv4()->id, std::uint16_t{3});

        const std::uint32_t reqEnd = 101 + std::uint32_t(kRequest.size());
        h.now = 11 * kMs;
        h.peer(kA, kPeerIss + 1, reqEnd); // the ACK of the request: nothing to answer
        QCOMPARE(h.take(), QStringList{});
        QCOMPARE(h.runner.sndUna(), SeqNum(reqEnd));

        // The response in three segments; each is acknowledged, the last by our FIN.
        const std::string_view r(kResponse);
        const std::uint32_t d0 = kPeerIss + 1;
        const std::uint32_t d1 = d0 + 40, d2 = d1 + 40, d3 = d0 + std::uint32_t(r.size());
        h.peer(kP | kA, d0, reqEnd, r.substr(0, 40));
        QCOMPARE(h.take(), QStringList{QString::fromStdString("A seq=" + str(reqEnd) +
                                                              " ack=" + str(d1) + " len=0")});
        h.peer(kP | kA, d1, reqEnd, r.substr(40, 40));
        QCOMPARE(h.take(), QStringList{QString::fromStdString("A seq=" + str(reqEnd) +
                                                              " ack=" + str(d2) + " len=0")});
        h.peer(kP | kA, d2, reqEnd, r.substr(80));
        QCOMPARE(h.take(), QStringList{QString::fromStdString("FA seq=" + str(reqEnd) +
                                                              " ack=" + str(d3) + " len=0")});
        QCOMPARE(std::string(h.runner.received().begin(), h.runner.received().end()), kResponse);
        QCOMPARE(h.runner.results()[4].status, StepResult::Status::Done);
        QCOMPARE(h.runner.results()[6].status, StepResult::Status::Running);

        h.peer(kA, d3, reqEnd + 1); // our FIN acknowledged; no FIN yet
        QCOMPARE(h.take(), QStringList{});
        QCOMPARE(h.runner.results()[6].status, StepResult::Status::Running);
        h.now = 20 * kMs;
        h.peer(kF | kA, d3, reqEnd + 1); // the server closes in turn
        QCOMPARE(h.take(), QStringList{QString::fromStdString("A seq=" + str(reqEnd + 1) +
                                                              " ack=" + str(d3 + 1) + " len=0")});
        QVERIFY(h.runner.peerFinReceived());
        QCOMPARE(h.runner.results()[8].status, StepResult::Status::Running);
        QCOMPARE(h.runner.nextDeadline(), std::optional<std::int64_t>(520 * kMs));

        h.tick(519 * kMs);
        QVERIFY(!h.runner.finished());
        h.tick(520 * kMs);
        QVERIFY(h.runner.finished());
        QVERIFY(h.runner.succeeded());
        QCOMPARE(h.take(), QStringList{});
        QCOMPARE(h.runner.nextDeadline(), std::optional<std::int64_t>());
        for (const auto& r8 : h.runner.results())
            QCOMPARE(r8.status, StepResult::Status::Done);
        QCOMPARE(h.runner.results()[8].startNs, 20 * kMs);
        QCOMPARE(h.runner.results()[8].endNs, 520 * kMs);
        // IPv4 identification counts up by one per segment.
        for (std::size_t i = 0; i < h.out.size(); ++i)
            QCOMPARE(decodeFrame(h.out[i]).ipv4()->id, std::uint16_t(1 + i));
        const auto events = h.runner.takeEvents();
        QVERIFY(hasEvent(events, ScenarioEvent::Kind::Finished));
        QVERIFY(!hasEvent(events, ScenarioEvent::Kind::StepFailed));
        QCOMPARE(std::count_if(events.begin(), events.end(),
                               [](const ScenarioEvent& e) {
                                   return e.kind == ScenarioEvent::Kind::StepDone;
                               }),
                 std::ptrdiff_t{9});
        QCOMPARE(events.back().kind, ScenarioEvent::Kind::Finished);
        QVERIFY(h.runner.takeEvents().empty());
    }

    void classicFin_serverFinCrossesOurs_ipv6() {
        Harness h(CloseMode::Fin, params(true));
        h.handshake();
        QCOMPARE(h.take().size(), 3);
        const Frame syn = decodeFrame(h.out[0]);
        QVERIFY(syn.ipv6());
        QCOMPARE(syn.ipv6()->hopLimit, std::uint8_t{64});
        QCOMPARE(syn.ipv6()->src, std::get<Ipv6Address>(h.params.phantom));
        QCOMPARE(syn.ipv6()->dst, std::get<Ipv6Address>(h.params.peer));
        QVERIFY(!syn.diagnostics.has(Diagnostic::TcpChecksumBad));

        const std::uint32_t reqEnd = 101 + std::uint32_t(kRequest.size());
        const std::uint32_t d0 = kPeerIss + 1, d3 = d0 + std::uint32_t(kResponse.size());
        h.peer(kP | kA, d0, reqEnd, std::string_view(kResponse).substr(0, 60));
        h.peer(kP | kA, d0 + 60, reqEnd, std::string_view(kResponse).substr(60));
        QCOMPARE(
            h.take(),
            (QStringList{
                QString::fromStdString("A seq=" + str(reqEnd) + " ack=" + str(d0 + 60) + " len=0"),
                QString::fromStdString("FA seq=" + str(reqEnd) + " ack=" + str(d3) + " len=0")}));
        // The server's FIN, sent before ours arrived: it does not acknowledge our FIN.
        h.peer(kF | kA, d3, reqEnd);
        QCOMPARE(h.take(), QStringList{QString::fromStdString("A seq=" + str(reqEnd + 1) +
                                                              " ack=" + str(d3 + 1) + " len=0")});
        QCOMPARE(h.runner.results()[6].status, StepResult::Status::Running);
        h.peer(kA, d3 + 1, reqEnd + 1);
        QCOMPARE(h.take(), QStringList{QString::fromStdString("A seq=" + str(reqEnd + 1) +
                                                              " ack=" + str(d3 + 1) + " len=0")});
        QCOMPARE(h.runner.results()[7].status, StepResult::Status::Done);
        h.tick(h.now + 500 * kMs);
        QVERIFY(h.runner.succeeded());
    }

    void classicRst_acknowledgesTheResponseThenResets() {
        Harness h(CloseMode::Rst);
        h.handshake();
        h.take();
        const std::uint32_t reqEnd = 101 + std::uint32_t(kRequest.size());
        const std::uint32_t d0 = kPeerIss + 1, d3 = d0 + std::uint32_t(kResponse.size());
        h.peer(kP | kA, d0, reqEnd, kResponse);
        QCOMPARE(h.take(),
                 (QStringList{
                     QString::fromStdString("A seq=" + str(reqEnd) + " ack=" + str(d3) + " len=0"),
                     QString::fromStdString("R seq=" + str(reqEnd) + " ack=0 len=0")}));
        QCOMPARE(h.runner.sndNxt(), SeqNum(reqEnd)); // a RST takes no sequence space
        // During the linger, the server's FIN is not acknowledged: the connection is gone.
        h.peer(kF | kA, d3, reqEnd);
        QCOMPARE(h.take(), QStringList{});
        h.tick(h.now + 200 * kMs);
        QVERIFY(h.runner.succeeded());
        QCOMPARE(h.take(), QStringList{});
    }

    void classicPeer_acknowledgesTheServersFinThenCloses() {
        Harness h(CloseMode::Peer);
        h.handshake();
        h.take();
        const std::uint32_t reqEnd = 101 + std::uint32_t(kRequest.size());
        const std::uint32_t d0 = kPeerIss + 1, d3 = d0 + std::uint32_t(kResponse.size());
        h.peer(kP | kA, d0, reqEnd, std::string_view(kResponse).substr(0, 50));
        QCOMPARE(h.take(), QStringList{QString::fromStdString("A seq=" + str(reqEnd) +
                                                              " ack=" + str(d0 + 50) + " len=0")});
        h.peer(kF | kP | kA, d0 + 50, reqEnd, std::string_view(kResponse).substr(50));
        QCOMPARE(h.take(), (QStringList{QString::fromStdString("A seq=" + str(reqEnd) +
                                                               " ack=" + str(d3 + 1) + " len=0"),
                                        QString::fromStdString("FA seq=" + str(reqEnd) +
                                                               " ack=" + str(d3 + 1) + " len=0")}));
        QVERIFY(!h.runner.finished());
        h.peer(kA, d3 + 1, reqEnd + 1);
        QVERIFY(h.runner.succeeded());
        QCOMPARE(h.take(), QStringList{});
    }

    // --- every mode against the Linux-like peer ------------------------------------

    void classic_againstLinuxLikePeer_data() {
        QTest::addColumn<bool>("ipv6");
        QTest::addColumn<int>("mode");
        QTest::addColumn<int>("close");
        QTest::addColumn<QString>("response");
        QTest::addColumn<int>("parts");
        QTest::addColumn<QString>("finalState");
        using C = FakeLinuxPeer::Close;
        const QString cl = QString::fromStdString(kResponse);
        const QString ch =
            QString::fromStdString(chunked("The quick brown fox jumps over the lazy dog\n"));
        const QString eof = "HTTP/1.0 200 OK\r\nServer: fake\r\n\r\nuntil the connection closes\n";
        for (const bool v6 : {false, true}) {
            const char* fam = v6 ? "v6" : "v4";
            for (const auto& [name, response] :
                 {std::pair{"length", cl}, std::pair{"chunked", ch}}) {
                QTest::addRow("%s fin keep-open %s", fam, name)
                    << v6 << int(CloseMode::Fin) << int(C::KeepOpen) << response << 3 << "CLOSED";
                QTest::addRow("%s fin fin-with-data %s", fam, name)
                    << v6 << int(CloseMode::Fin) << int(C::WithLastData) << response << 2
                    << "TIME-WAIT";
                QTest::addRow("%s fin fin-separate %s", fam, name)
                    << v6 << int(CloseMode::Fin) << int(C::Separate) << response << 3
                    << "TIME-WAIT";
                QTest::addRow("%s rst keep-open %s", fam, name)
                    << v6 << int(CloseMode::Rst) << int(C::KeepOpen) << response << 2 << "CLOSED";
                QTest::addRow("%s rst fin-separate %s", fam, name)
                    << v6 << int(CloseMode::Rst) << int(C::Separate) << response << 3 << "CLOSED";
                QTest::addRow("%s peer fin-with-data %s", fam, name)
                    << v6 << int(CloseMode::Peer) << int(C::WithLastData) << response << 3
                    << "TIME-WAIT";
                QTest::addRow("%s peer fin-separate %s", fam, name)
                    << v6 << int(CloseMode::Peer) << int(C::Separate) << response << 1
                    << "TIME-WAIT";
            }
            QTest::addRow("%s fin until-close", fam)
                << v6 << int(CloseMode::Fin) << int(C::Separate) << eof << 2 << "TIME-WAIT";
            QTest::addRow("%s peer until-close", fam)
                << v6 << int(CloseMode::Peer) << int(C::WithLastData) << eof << 2 << "TIME-WAIT";
        }
    }
    void classic_againstLinuxLikePeer() {
        QFETCH(bool, ipv6);
        QFETCH(int, mode);
        QFETCH(int, close);
        QFETCH(QString, response);
        QFETCH(int, parts);
        QFETCH(QString, finalState);
        const ConnectionParams p = params(ipv6);
        ScenarioRunner runner(classicScenario(CloseMode(mode)), p);
        FakeLinuxPeer peer(p, kPeerIss, response.toStdString(), FakeLinuxPeer::Close(close),
                           std::size_t(parts));
        std::int64_t now = 0;
        converse(runner, peer, now);
        QVERIFY2(runner.succeeded(), runner.failedStep()
                                         ? runner.results()[*runner.failedStep()].message.c_str()
                                         : "did not finish");
        QCOMPARE(toQt(peer.errors), QStringList{});
        QCOMPARE(peer.request, kRequest);
        QCOMPARE(
            QString::fromStdString(std::string(runner.received().begin(), runner.received().end())),
            response);
        QCOMPARE(QString(stateName(peer.state)), finalState);
        QCOMPARE(peer.resetsSent, 0u); // the "last ACK" never hits a closed socket
        QCOMPARE(peer.duplicateSegments, 0u);
        QCOMPARE(peer.gotRst, CloseMode(mode) == CloseMode::Rst);
        for (const auto& r : runner.results())
            QCOMPARE(r.retransmissions, 0u);
    }

    void classicPeer_serverKeepsOpen_failsWaitingForItsFin() {
        const ConnectionParams p = params();
        ScenarioRunner runner(classicScenario(CloseMode::Peer), p);
        FakeLinuxPeer peer(p, kPeerIss, kResponse, FakeLinuxPeer::Close::KeepOpen, 2);
        std::int64_t now = 0;
        converse(runner, peer, now);
        QVERIFY(runner.finished());
        QVERIFY(!runner.succeeded());
        QCOMPARE(runner.failedStep(), std::optional<std::size_t>(5));
        QCOMPARE(runner.results()[5].message,
                 std::string("step 6 \"peer's FIN\": expected the peer's FIN within 10000 ms; "
                             "still missing the peer's FIN"));
    }

    void sequenceSpaceWraps() {
        ConnectionParams p = params();
        p.iss = SeqNum(4294967290u);
        const std::uint32_t peerIss = 4294967295u;
        ScenarioRunner runner(classicScenario(CloseMode::Fin), p);
        FakeLinuxPeer peer(p, peerIss, kResponse, FakeLinuxPeer::Close::KeepOpen, 3);
        std::int64_t now = 0;
        converse(runner, peer, now);
        QVERIFY2(runner.succeeded(), runner.failedStep()
                                         ? runner.results()[*runner.failedStep()].message.c_str()
                                         : "did not finish");
        QCOMPARE(toQt(peer.errors), QStringList{});
        QCOMPARE(peer.request, kRequest);
        QCOMPARE(std::string(runner.received().begin(), runner.received().end()), kResponse);
        // 4294967290 + SYN + request + FIN, modulo 2^32.
        const std::uint32_t end =
            static_cast<std::uint32_t>(4294967290ull + 1 + kRequest.size() + 1);
        QVERIFY(end < 100);
        QCOMPARE(runner.sndNxt(), SeqNum(end));
        QCOMPARE(runner.sndUna(), SeqNum(end));
        QCOMPARE(runner.rcvNxt(), std::optional(SeqNum(std::uint32_t(kResponse.size() + 1))));
        QCOMPARE(QString(stateName(peer.state)), QString("CLOSED"));
    }

    void sequenceSpaceWraps_exactNumbers() {
        ConnectionParams p = params();
        p.iss = SeqNum(4294967290u);
        Harness h(CloseMode::Fin, p);
        h.start();
        h.peer(kS | kA, 4294967295u, 4294967291u);
        QCOMPARE(h.take(),
                 (QStringList{"S seq=4294967290 ack=0 len=0", "A seq=4294967291 ack=0 len=0",
                              "PA seq=4294967291 ack=0 len=" + QString::number(kRequest.size())}));
        const std::uint32_t reqEnd = static_cast<std::uint32_t>(4294967291ull + kRequest.size());
        h.peer(kP | kA, 0, reqEnd, "HTTP/1.1 204 No Content\r\n\r\n");
        QCOMPARE(h.take(),
                 QStringList{QString::fromStdString("FA seq=" + str(reqEnd) + " ack=27 len=0")});
    }

    // --- failures -------------------------------------------------------------------

    void expectTimeout_gotNothing_namesStepAndRetransmissions() {
        Harness h(CloseMode::Fin);
        h.start();
        h.take();
        // The SYN is sent again at 250, 750, 1750 and 3750 ms; the step gives up at 5 s.
        std::vector<std::int64_t> ticks;
        while (!h.runner.finished() && ticks.size() < 20) {
            const auto d = h.runner.nextDeadline();
            QVERIFY(d);
            ticks.push_back(*d);
            h.tick(*d);
        }
        QCOMPARE(ticks, (std::vector<std::int64_t>{250 * kMs, 750 * kMs, 1750 * kMs, 3750 * kMs,
                                                   5000 * kMs}));
        QCOMPARE(h.take(), (QStringList{"S seq=100 ack=0 len=0", "S seq=100 ack=0 len=0",
                                        "S seq=100 ack=0 len=0", "S seq=100 ack=0 len=0"}));
        QCOMPARE(h.runner.failedStep(), std::optional<std::size_t>(1));
        QCOMPARE(h.failure(),
                 std::string("step 2 \"SYN-ACK\": expected SYN,ACK ack=101 within 5000 "
                             "ms; got nothing (we retransmitted 4 times meanwhile)"));
        QCOMPARE(h.runner.results()[1].retransmissions, 4u);
        QCOMPARE(h.runner.results()[1].endNs, 5000 * kMs);
        const auto events = h.runner.takeEvents();
        QVERIFY(hasEvent(events, ScenarioEvent::Kind::StepFailed));
        QCOMPARE(events.back().kind, ScenarioEvent::Kind::Finished);
        // Nothing more, ever.
        h.tick(60'000 * kMs);
        QCOMPARE(h.take(), QStringList{});
        QCOMPARE(h.runner.nextDeadline(), std::optional<std::int64_t>());
    }

    void expectTimeout_saysWhatArrivedInstead() {
        ConnectionParams p = params();
        p.initialRtoNs = 60'000 * kMs; // no retransmission in this test
        {
            Harness h(CloseMode::Fin, p);
            h.start();
            h.peer(kA, 7, 55);
            QVERIFY(!h.runner.finished());
            h.tick(5000 * kMs);
            QCOMPARE(h.failure(), std::string("step 2 \"SYN-ACK\": expected SYN,ACK ack=101 within "
                                              "5000 ms; got ACK seq=7 ack=55"));
        }
        {
            Harness h(CloseMode::Fin, p);
            h.start();
            h.peer(kS | kA, 9000, 100); // acknowledges the wrong number
            h.peer(kA, 9001, 77, "xy");
            h.peer(kF | kA, 9003, 101);
            h.tick(4999 * kMs);
            QVERIFY(!h.runner.finished());
            h.tick(5000 * kMs);
            QCOMPARE(h.failure(), std::string("step 2 \"SYN-ACK\": expected SYN,ACK ack=101 within "
                                              "5000 ms; got 3 segments, the last FIN,ACK seq=9003 "
                                              "ack=101"));
            QCOMPARE(h.take(), QStringList{"S seq=100 ack=0 len=0"});
        }
    }

    void unexpectedRst_failsAtOnce() {
        Harness h(CloseMode::Fin);
        h.start();
        h.take();
        h.now = 3 * kMs;
        h.peer(kR | kA, 0, 101);
        QVERIFY(h.runner.finished());
        QCOMPARE(h.failure(), std::string("step 2 \"SYN-ACK\": expected SYN,ACK ack=101; the peer "
                                          "reset the connection (RST,ACK seq=0 ack=101)"));
        QCOMPARE(h.runner.results()[1].endNs, 3 * kMs);
        QCOMPARE(h.runner.results()[2].status, StepResult::Status::Pending);
        h.tick(1000 * kMs);
        QCOMPARE(h.take(), QStringList{}); // no retransmission of the SYN after the failure
    }

    void unexpectedRst_duringReceive() {
        Harness h(CloseMode::Fin);
        h.handshake();
        h.take();
        h.peer(kR, kPeerIss + 1, 0);
        QCOMPARE(h.failure(), std::string("step 5 \"response\": the peer reset the connection (RST "
                                          "seq=3000000001)"));
        QCOMPARE(h.take(), QStringList{});
    }

    void expectRst_succeedsOnRst() {
        Harness h("send S\nexpect R ack=iss+1 within=1s name=\"refused\"", params());
        h.start();
        h.peer(kR | kA, 0, 101);
        QVERIFY(h.runner.succeeded());
        QCOMPARE(h.runner.results()[1].status, StepResult::Status::Done);
        // No retransmission of the SYN afterwards: the connection is gone.
        QCOMPARE(h.runner.nextDeadline(), std::optional<std::int64_t>());
    }

    void receiveTimeout_saysHowMuchArrived() {
        {
            Harness h(CloseMode::Fin);
            h.start();
            h.now = 10 * kMs;
            h.peer(kS | kA, kPeerIss, 101);
            const std::uint32_t reqEnd = 101 + std::uint32_t(kRequest.size());
            h.peer(kP | kA, kPeerIss + 1, reqEnd, std::string_view(kResponse).substr(0, 100));
            h.tick(10'009 * kMs);
            QVERIFY(!h.runner.finished());
            h.tick(10'010 * kMs); // the step started at 10 ms
            QCOMPARE(h.failure(),
                     fmt::format("step 5 \"response\": expected a complete HTTP response within "
                                 "10000 ms; got 100 of {} bytes",
                                 kResponse.size()));
        }
        {
            Harness h(CloseMode::Fin);
            h.handshake();
            h.peer(kA, kPeerIss + 1, 101 + std::uint32_t(kRequest.size()));
            h.tick(10'000 * kMs);
            QCOMPARE(h.failure(), std::string("step 5 \"response\": expected a complete HTTP "
                                              "response within 10000 ms; got no data"));
        }
        {
            Harness h("send S\nexpect SA\nsend A\nreceive fin within=1s name=\"bye\"", params());
            h.handshake();
            h.peer(kP | kA, kPeerIss + 1, 101, "abc");
            h.tick(1000 * kMs);
            QCOMPARE(h.failure(), std::string("step 4 \"bye\": expected the peer's FIN within 1000 "
                                              "ms; got 3 bytes of data and no FIN"));
        }
    }

    void receiveHttp_peerClosesEarly_fails() {
        Harness h(CloseMode::Fin);
        h.handshake();
        const std::uint32_t reqEnd = 101 + std::uint32_t(kRequest.size());
        h.peer(kF | kP | kA, kPeerIss + 1, reqEnd, std::string_view(kResponse).substr(0, 100));
        QVERIFY(h.runner.finished());
        QCOMPARE(h.failure(), fmt::format("step 5 \"response\": the peer closed the connection "
                                          "(FIN) before the response was whole: got 100 of {} "
                                          "bytes",
                                          kResponse.size()));
    }

    void receiveHttp_whenIsAResponseWhole_data() {
        QTest::addColumn<QString>("request");
        QTest::addColumn<QStringList>("segments");
        QTest::addColumn<bool>("fin");
        QTest::addColumn<int>("completeAfter"); // index of the segment that completes it, -1 never
        const QString get = QString::fromStdString(kRequest);
        QTest::newRow("content-length")
            << get << QStringList{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "hel", "lo"}
            << false << 2;
        QTest::newRow("content-length, header case")
            << get << QStringList{"HTTP/1.1 200 OK\r\ncontent-length:   2\r\n\r\nhi"} << false << 0;
        QTest::newRow("headers split")
            << get << QStringList{"HTTP/1.1 200 OK\r\nContent-Len", "gth: 0\r\n", "\r\n"} << false
            << 2;
        QTest::newRow("chunked")
            << get
            << QStringList{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
                           "0\r\n", "\r\n"}
            << false << 2;
        QTest::newRow("chunked, trailer")
            << get
            << QStringList{"HTTP/1.1 200 OK\r\nTransfer-Encoding: "
                           "chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n",
                           "\r\n"}
            << false << 1;
        QTest::newRow("204") << get << QStringList{"HTTP/1.1 204 No Content\r\n\r\n"} << false << 0;
        QTest::newRow("304")
            << get << QStringList{"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"}
            << false << 0;
        QTest::newRow("HEAD") << "HEAD / HTTP/1.1\r\n\r\n"
                              << QStringList{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"}
                              << false << 0;
        QTest::newRow("100 then 200")
            << get
            << QStringList{"HTTP/1.1 100 Continue\r\n\r\n",
                           "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n", "x"}
            << false << 2;
        QTest::newRow("until FIN")
            << get << QStringList{"HTTP/1.0 200 OK\r\n\r\nbody", "more"} << true << 1;
        QTest::newRow("until FIN, not yet")
            << get << QStringList{"HTTP/1.0 200 OK\r\n\r\nbody"} << false << -1;
        QTest::newRow("length, short")
            << get << QStringList{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"} << false
            << -1;
    }
    void receiveHttp_whenIsAResponseWhole() {
        QFETCH(QString, request);
        QFETCH(QStringList, segments);
        QFETCH(bool, fin);
        QFETCH(int, completeAfter);
        ConnectionParams p = params();
        const std::string req = request.toStdString();
        p.request.assign(req.begin(), req.end());
        Harness h("send S\nexpect SA\nsend PA data=request\nreceive http within=1s", p);
        h.handshake();
        std::uint32_t seq = kPeerIss + 1;
        const std::uint32_t ack = 101 + std::uint32_t(req.size());
        for (int i = 0; i < segments.size(); ++i) {
            QVERIFY2(!h.runner.finished(),
                     qPrintable(QString("finished before segment %1").arg(i)));
            const std::string s = segments[i].toStdString();
            const bool last = i + 1 == segments.size();
            h.peer(kP | kA | (last && fin ? kF : 0), seq, ack, s);
            seq += std::uint32_t(s.size());
            QCOMPARE(h.runner.succeeded(), i == completeAfter);
        }
        if (completeAfter < 0) {
            h.tick(h.now + 1000 * kMs);
            QVERIFY(!h.runner.succeeded());
        }
    }

    void outOfOrderData_getsDuplicateAckAndIsNotTaken() {
        Harness h(CloseMode::Fin);
        h.handshake();
        h.take();
        const std::uint32_t reqEnd = 101 + std::uint32_t(kRequest.size());
        const std::string_view r(kResponse);
        const std::uint32_t d0 = kPeerIss + 1;
        const auto ackOf = [&](std::uint32_t a) {
            return QStringList{
                QString::fromStdString("A seq=" + str(reqEnd) + " ack=" + str(a) + " len=0")};
        };
        h.peer(kP | kA, d0 + 40, reqEnd, r.substr(40, 40)); // the second segment first
        QCOMPARE(h.take(), ackOf(d0));
        QVERIFY(h.runner.received().empty());
        QCOMPARE(h.runner.rcvNxt(), std::optional(SeqNum(d0)));
        h.peer(kP | kA, d0, reqEnd, r.substr(0, 40));
        QCOMPARE(h.take(), ackOf(d0 + 40));
        QCOMPARE(std::string(h.runner.received().begin(), h.runner.received().end()),
                 std::string(r.substr(0, 40)));
        h.peer(kP | kA, d0, reqEnd, r.substr(0, 40)); // a duplicate
        QCOMPARE(h.take(), ackOf(d0 + 40));
        QCOMPARE(h.runner.received().size(), std::size_t{40});
        // A retransmission that overlaps: only the new part is taken.
        h.peer(kP | kA, d0 + 20, reqEnd, r.substr(20, 60));
        QCOMPARE(h.take(), ackOf(d0 + 80));
        QCOMPARE(std::string(h.runner.received().begin(), h.runner.received().end()),
                 std::string(r.substr(0, 80)));
        QVERIFY(!h.runner.finished());
    }

    void segmentOnAnotherFourTuple_isIgnored() {
        ConnectionParams p = params();
        p.initialRtoNs = 60'000 * kMs;
        Harness h(CloseMode::Fin, p);
        h.start();
        h.take();
        h.feed(peerSegment(p, kS | kA, kPeerIss, 101, {}, std::uint16_t{50002}));
        h.feed(peerSegment(p, kS | kA, kPeerIss, 101, {}, std::nullopt,
                           IpAddress{*Ipv4Address::parse("198.18.0.9")}));
        SegmentSpec toOtherPort =
            SegmentSpec::fromFrame(decodeFrame(peerSegment(p, kS | kA, kPeerIss, 101))).value();
        toOtherPort.tcp.dstPort = 40000;
        h.feed(toOtherPort.encode().value());
        QCOMPARE(h.take(), QStringList{});
        QCOMPARE(h.runner.irs(), std::optional<SeqNum>());
        QCOMPARE(h.runner.results()[1].status, StepResult::Status::Running);
        h.tick(5000 * kMs);
        QCOMPARE(h.failure(),
                 std::string("step 2 \"SYN-ACK\": expected SYN,ACK ack=101 within 5000 "
                             "ms; got nothing"));
    }

    void segmentWithBadChecksum_isDropped() {
        ConnectionParams p = params();
        p.initialRtoNs = 60'000 * kMs;
        Harness h(CloseMode::Fin, p);
        h.start();
        SegmentSpec spec =
            SegmentSpec::fromFrame(decodeFrame(peerSegment(p, kS | kA, kPeerIss, 101))).value();
        spec.tcp.checksum = 0x1234;
        h.feed(spec.encode().value());
        QCOMPARE(h.runner.irs(), std::optional<SeqNum>());
        QCOMPARE(h.runner.results()[1].status, StepResult::Status::Running);
        spec.tcp.checksum.reset();
        h.feed(spec.encode().value());
        QCOMPARE(h.runner.irs(), std::optional(SeqNum(kPeerIss)));
        QCOMPARE(h.runner.results()[1].status, StepResult::Status::Done);
    }

    void retransmission_rtoDoublesAndIsBounded() {
        ConnectionParams p = params();
        p.initialRtoNs = 100 * kMs;
        p.maxRetransmissions = 3;
        Harness h("send S\nexpect SA within=10s", p);
        h.start();
        QCOMPARE(h.take().size(), 1);
        QCOMPARE(h.runner.nextDeadline(), std::optional<std::int64_t>(100 * kMs));
        h.tick(99 * kMs);
        QCOMPARE(h.take(), QStringList{});
        h.tick(100 * kMs);
        QCOMPARE(h.take(), QStringList{"S seq=100 ack=0 len=0"});
        // The same segment, in a new IP datagram.
        const Frame first = decodeFrame(h.out[0]);
        const Frame again = decodeFrame(h.out[1]);
        TCPLAB_COMPARE_BYTES(first.layerBytes(kTcpProtocol), again.layerBytes(kTcpProtocol));
        QCOMPARE(again.ipv4()->id, std::uint16_t{2});
        QCOMPARE(h.runner.results()[1].retransmissions, 1u);
        auto events = h.runner.takeEvents();
        QVERIFY(hasEvent(events, ScenarioEvent::Kind::Retransmitted));
        const auto rtx = std::find_if(events.begin(), events.end(), [](const ScenarioEvent& e) {
            return e.kind == ScenarioEvent::Kind::Retransmitted;
        });
        QCOMPARE(rtx->step, std::size_t{1});
        QCOMPARE(rtx->atNs, 100 * kMs);
        QCOMPARE(rtx->message,
                 std::string("sent our SYN seq=100 again (retransmission 1 of at most "
                             "3; next timeout in 200 ms)"));

        QCOMPARE(h.runner.nextDeadline(), std::optional<std::int64_t>(300 * kMs));
        h.tick(299 * kMs);
        QCOMPARE(h.take(), QStringList{});
        h.tick(300 * kMs);
        QCOMPARE(h.take().size(), 1);
        QCOMPARE(h.runner.nextDeadline(), std::optional<std::int64_t>(700 * kMs));
        h.tick(700 * kMs);
        QCOMPARE(h.take().size(), 1);
        QCOMPARE(h.runner.results()[1].retransmissions, 3u);
        QCOMPARE(h.runner.nextDeadline(), std::optional<std::int64_t>(1500 * kMs));
        h.tick(1499 * kMs);
        QVERIFY(!h.runner.finished());
        h.tick(1500 * kMs);
        QCOMPARE(h.take(), QStringList{}); // not a fourth time
        QVERIFY(h.runner.finished());
        QCOMPARE(h.failure(), std::string("step 2 \"expect SYN-ACK\": our SYN seq=100 was not "
                                          "acknowledged after 3 retransmissions"));
        QCOMPARE(h.runner.results()[1].endNs, 1500 * kMs);
    }

    void retransmission_ofData_stopsWhenAcknowledged() {
        ConnectionParams p = params();
        p.initialRtoNs = 100 * kMs;
        Harness h("send S\nexpect SA\nsend A\nsend PA data=request\nwait acked within=5s", p);
        h.handshake();
        QCOMPARE(h.take().size(), 3);
        QCOMPARE(h.runner.nextDeadline(),
                 std::optional<std::int64_t>(100 * kMs)); // from the PA at 0
        h.tick(100 * kMs);
        QCOMPARE(h.take(),
                 QStringList{"PA seq=101 ack=3000000001 len=" + QString::number(kRequest.size())});
        QCOMPARE(h.runner.results()[4].retransmissions, 1u);
        QCOMPARE(h.runner.nextDeadline(), std::optional<std::int64_t>(300 * kMs));
        h.now = 150 * kMs;
        h.peer(kA, kPeerIss + 1, 101 + std::uint32_t(kRequest.size()));
        QVERIFY(h.runner.succeeded());
        h.tick(10'000 * kMs);
        QCOMPARE(h.take(), QStringList{});
    }

    void retransmittedSynAck_afterHandshake_isAcknowledgedAgain() {
        Harness h(CloseMode::Fin);
        h.handshake();
        h.take();
        h.peer(kS | kA, kPeerIss, 101); // our ACK was lost
        QCOMPARE(h.take(), QStringList{"A seq=" + QString::number(101 + kRequest.size()) +
                                       " ack=3000000001 len=0"});
        QCOMPARE(h.runner.irs(), std::optional(SeqNum(kPeerIss)));
        QVERIFY(!h.runner.finished());
    }

    void linger_acknowledgesARetransmittedFin() {
        Harness h(CloseMode::Fin);
        h.handshake();
        const std::uint32_t reqEnd = 101 + std::uint32_t(kRequest.size());
        const std::uint32_t d3 = kPeerIss + 1 + std::uint32_t(kResponse.size());
        h.peer(kP | kA, kPeerIss + 1, reqEnd, kResponse);
        h.peer(kF | kA, d3, reqEnd + 1);
        QCOMPARE(h.runner.results()[8].status, StepResult::Status::Running);
        h.take();
        h.now += 200 * kMs;
        h.peer(kF | kA, d3, reqEnd + 1); // our last ACK was lost
        QCOMPARE(h.take(), QStringList{QString::fromStdString("A seq=" + str(reqEnd + 1) +
                                                              " ack=" + str(d3 + 1) + " len=0")});
        QVERIFY(!h.runner.finished());
    }

    void wait_alreadyTrue_completesAtOnce() {
        Harness h("send S\nexpect SA\nwait acked within=1s\nsend A", params());
        h.handshake();
        QVERIFY(h.runner.succeeded());
        // The SYN-ACK was not acknowledged by the wait: only the explicit ACK did.
        QCOMPARE(h.take(),
                 (QStringList{"S seq=100 ack=0 len=0", "A seq=101 ack=3000000001 len=0"}));
        QCOMPARE(h.runner.results()[2].endNs, h.now);
    }

    void dataDuringExpect_isAcknowledgedWhenAReceiveBegins() {
        Harness h("send S\nexpect SA\nsend A\nsend PA data=request\nexpect A\nlinger 10", params());
        h.handshake();
        h.take();
        const std::uint32_t reqEnd = 101 + std::uint32_t(kRequest.size());
        // The response carries the ACK of the request: it satisfies "expect A", and the
        // linger that follows acknowledges its data.
        h.peer(kP | kA, kPeerIss + 1, reqEnd, "hello");
        QCOMPARE(h.take(), QStringList{QString::fromStdString(
                               "A seq=" + str(reqEnd) + " ack=" + str(kPeerIss + 6) + " len=0")});
        QCOMPARE(h.runner.results()[5].status, StepResult::Status::Running);
    }

    void explicitSeq_doesNotMoveSndNxt() {
        Harness h("send S\nexpect SA\nsend A\nsend PA seq=snd.nxt+1000 data=\"x\"\nsend PA "
                  "seq=snd.nxt-1 data=\"y\"\nsend PA data=\"z\"\nsend A seq=12345 ack=irs",
                  params());
        h.handshake();
        QCOMPARE(
            h.take(),
            (QStringList{"S seq=100 ack=0 len=0", "A seq=101 ack=3000000001 len=0",
                         "PA seq=1101 ack=3000000001 len=1", "PA seq=100 ack=3000000001 len=1",
                         "PA seq=101 ack=3000000001 len=1", "A seq=12345 ack=3000000000 len=0"}));
        QCOMPARE(h.runner.sndNxt(), SeqNum(102));
        QVERIFY(h.runner.succeeded());
    }

    void firstSyn_setsTheSendSequenceSpace() {
        Harness h("send S seq=1000\nexpect SA ack=snd.nxt\nsend A", params());
        h.start();
        QCOMPARE(h.runner.sndUna(), SeqNum(1000));
        QCOMPARE(h.runner.sndNxt(), SeqNum(1001));
        h.peer(kS | kA, kPeerIss, 1001);
        QVERIFY(h.runner.succeeded());
        QCOMPARE(h.take(),
                 (QStringList{"S seq=1000 ack=0 len=0", "A seq=1001 ack=3000000001 len=0"}));
        QCOMPARE(h.runner.sndUna(), SeqNum(1001));
    }

    void sendWithUnknownIrs_fails() {
        Harness h("send A ack=irs+1 name=\"early\"", params());
        h.start();
        QCOMPARE(h.failure(), std::string("step 1 \"early\": cannot send: irs is not known yet (no "
                                          "SYN from the peer)"));
        QCOMPARE(h.take(), QStringList{});
    }

    void oversizedData_failsTheStep() {
        ConnectionParams p = params();
        p.request.assign(70'000, 'x');
        Harness h("send PA data=request name=\"big\"", p);
        h.start();
        QCOMPARE(h.failure(), std::string("step 1 \"big\": cannot send: 70000 bytes of data do not "
                                          "fit in one IP packet"));
        QCOMPARE(h.take(), QStringList{});
    }

    void mismatchedFamilies_fail() {
        ConnectionParams p = params();
        p.peer = *Ipv6Address::parse("2001:db8::2");
        Harness h("send S", p);
        h.start();
        QCOMPARE(h.failure(), std::string("step 1 \"send SYN\": the phantom (198.18.0.1) and the "
                                          "peer (2001:db8::2) are not the same IP version"));
        QCOMPARE(h.take(), QStringList{});
    }

    void cancel_failsTheCurrentStep() {
        Harness h(CloseMode::Fin);
        h.start();
        h.runner.cancel(42 * kMs, "cancelled by the user");
        QVERIFY(h.runner.finished());
        QCOMPARE(h.failure(), std::string("step 2 \"SYN-ACK\": cancelled by the user"));
        QCOMPARE(h.runner.results()[1].endNs, 42 * kMs);
        h.tick(1000 * kMs);
        QCOMPARE(h.take(), QStringList{"S seq=100 ack=0 len=0"});
        h.runner.cancel(50 * kMs, "again"); // no effect once finished
        QCOMPARE(h.failure(), std::string("step 2 \"SYN-ACK\": cancelled by the user"));
    }

    void buildSegment_followsTheVariables() {
        ConnectionParams p = params();
        p.window = 1000;
        p.ttl = 7;
        p.firstIpId = 500;
        ScenarioRunner runner(classicScenario(CloseMode::Fin), p);
        SendStep syn;
        syn.flags = kS;
        syn.options.append(TcpOption::mss(1460));
        SegmentSpec spec = runner.buildSegment(syn);
        QCOMPARE(spec.tcp.seq, SeqNum(100));
        QCOMPARE(spec.tcp.ack, SeqNum(0));
        QCOMPARE(spec.tcp.window, std::uint16_t{1000});
        QCOMPARE(spec.tcp.options.mss(), std::optional<std::uint16_t>(1460));
        QCOMPARE(spec.ipv4().ttl, std::uint8_t{7});
        QCOMPARE(spec.ipv4().id, std::uint16_t{500});
        QVERIFY(!spec.tcp.checksum && !spec.tcp.dataOffset && !spec.ipv4().checksum);
        SendStep get;
        get.flags = kP | kA;
        get.dataIsRequest = true;
        get.window = 77;
        spec = runner.buildSegment(get);
        QCOMPARE(spec.tcp.ack, SeqNum(0)); // rcv.nxt not known yet
        QCOMPARE(spec.payload, p.request);
        QCOMPARE(spec.tcp.window, std::uint16_t{77});

        ScenarioRunner::FrameList out;
        runner.start(0, out);
        const ByteVector sa = peerSegment(p, kS | kA, kPeerIss, 101);
        runner.onFrame(decodeFrame(sa), kMs, out);
        spec = runner.buildSegment(get);
        QCOMPARE(spec.tcp.seq, runner.sndNxt());
        QCOMPARE(spec.tcp.ack, SeqNum(kPeerIss + 1));
        QCOMPARE(spec.ipv4().id, std::uint16_t(500 + out.size()));
    }

    // Peer steps: a call goes out through takePeerRequests(), its answer completes or fails
    // the step; a background call lets the next steps run and is checked when it answers.
    void peerStep_answerCompletesOrFails_data() {
        QTest::addColumn<QString>("step");
        QTest::addColumn<qint64>("result");
        QTest::addColumn<int>("error");
        QTest::addColumn<bool>("ok");
        QTest::addColumn<QString>("reason");
        QTest::newRow("no expectation, success") << "peer listen 3" << qint64(0) << 0 << true << "";
        QTest::newRow("no expectation, failure")
            << "peer listen 3" << qint64(-1) << 22 << false << "the call failed";
        QTest::newRow("expected errno")
            << "peer connect 3 $phantom $sport = -1 EINPROGRESS" << qint64(-1) << 115 << true << "";
        QTest::newRow("wrong errno") << "peer connect 3 $phantom $sport = -1 EINPROGRESS"
                                     << qint64(-1) << 111 << false << "expected = -1 EINPROGRESS";
        QTest::newRow("wrong result")
            << "peer accept 3 = 4" << qint64(5) << 0 << false << "= 5; expected = 4";
        QTest::newRow("anything") << "peer accept 3 = *" << qint64(-1) << 11 << true << "";
    }
    void peerStep_answerCompletesOrFails() {
        QFETCH(QString, step);
        QFETCH(qint64, result);
        QFETCH(int, error);
        QFETCH(bool, ok);
        QFETCH(QString, reason);
        Harness h(step.toStdString() + "\n", ::params());
        h.start();
        const auto requests = h.runner.takePeerRequests();
        QCOMPARE(requests.size(), std::size_t{1});
        QVERIFY(requests[0].id >= ScenarioRunner::kFirstCallId);
        if (requests[0].call == peer::Call::Connect) {
            QCOMPARE(requests[0].text, std::string("198.18.0.1")); // $phantom
            QCOMPARE(requests[0].numbers[0], std::int64_t{50000}); // $sport
        }
        QVERIFY(!h.runner.finished());
        peer::Answer a;
        a.id = requests[0].id;
        a.call = requests[0].call;
        a.result = result;
        a.error = error;
        h.runner.onPeerAnswer({requests[0], a}, h.now, h.out);
        QVERIFY(h.runner.finished());
        QCOMPARE(h.runner.succeeded(), ok);
        if (!ok)
            QVERIFY2(QString::fromStdString(h.failure()).contains(reason), h.failure().c_str());
    }

    void peerStep_bindsAResultForLaterCalls() {
        Harness h("peer socket inet = $s\npeer connect $s $phantom $sport = -1 EINPROGRESS\n",
                  ::params());
        h.start();
        auto requests = h.runner.takePeerRequests();
        QCOMPARE(requests.size(), std::size_t{1});
        peer::Answer a;
        a.id = requests[0].id;
        a.call = peer::Call::Socket;
        a.result = 7; // not 3: sockets made before the scenario
        h.runner.onPeerAnswer({requests[0], a}, h.now, h.out);
        requests = h.runner.takePeerRequests();
        QCOMPARE(requests.size(), std::size_t{1});
        QCOMPARE(requests[0].call, peer::Call::Connect);
        QCOMPARE(requests[0].fd, 7);

        Harness failed("peer socket inet = $s\npeer close $s\n", ::params());
        failed.start();
        requests = failed.runner.takePeerRequests();
        a.id = requests[0].id;
        a.result = -1;
        a.error = 24; // EMFILE
        failed.runner.onPeerAnswer({requests[0], a}, failed.now, failed.out);
        QVERIFY(failed.runner.finished() && !failed.runner.succeeded());
        QVERIFY2(failed.failure().find("so $s has no value") != std::string::npos,
                 failed.failure().c_str());
    }

    void peerStep_timesOutWithAHint() {
        Harness h("peer accept 3 within=100\n", ::params());
        h.start();
        QCOMPARE(h.runner.takePeerRequests().size(), std::size_t{1});
        h.tick(150 * kMs);
        QVERIFY(h.runner.finished());
        QVERIFY2(h.failure().find("accept(3) did not return within 100 ms") != std::string::npos &&
                     h.failure().find("background") != std::string::npos,
                 h.failure().c_str());
    }

    void peerStep_background_letsTheNextStepsRun() {
        // The kernel accepts while the phantom opens the connection: accept in the
        // background, the handshake in the foreground, the scenario ends when accept answered.
        Harness h("peer accept 3 = 4 background within=1000\n"
                  "send S seq=iss\nexpect SA ack=iss+1\nsend A\n",
                  ::params());
        h.start();
        const auto requests = h.runner.takePeerRequests();
        QCOMPARE(requests.size(), std::size_t{1});
        QCOMPARE(h.take(), QStringList{"S seq=100 ack=0 len=0"});
        h.peer(kS | kA, kPeerIss, 101);
        QCOMPARE(h.take(), QStringList{"A seq=101 ack=3000000001 len=0"});
        QVERIFY2(!h.runner.finished(), "finished before the background call answered");
        peer::Answer a;
        a.id = requests[0].id;
        a.call = peer::Call::Accept;
        a.result = 4;
        h.runner.onPeerAnswer({requests[0], a}, h.now, h.out);
        QVERIFY(h.runner.succeeded());

        // A background call that answers wrong fails the scenario, naming its step.
        Harness bad("peer accept 3 = 4 background\nsend S seq=iss\nexpect SA within=1000\n",
                    ::params());
        bad.start();
        const auto r = bad.runner.takePeerRequests();
        a.id = r[0].id;
        a.result = -1;
        a.error = 11;
        bad.runner.onPeerAnswer({r[0], a}, bad.now, bad.out);
        QVERIFY(bad.runner.finished() && !bad.runner.succeeded());
        QCOMPARE(bad.runner.results()[0].status, StepResult::Status::Failed);
        QVERIFY2(bad.runner.results()[0].message.find("step 1") == 0 &&
                     bad.runner.results()[0].message.find("EAGAIN") != std::string::npos,
                 bad.runner.results()[0].message.c_str());

        // One that never answers fails at its limit.
        Harness silent("peer accept 3 background within=200\nlinger 1000\n", ::params());
        silent.start();
        silent.tick(250 * kMs);
        QVERIFY(silent.runner.finished() && !silent.runner.succeeded());
        QVERIFY2(silent.runner.results()[0].message.find("did not return within 200 ms") !=
                     std::string::npos,
                 silent.runner.results()[0].message.c_str());
    }

    void expectPeer_waitsForTheKernelsWord() {
        Harness h("send S seq=iss\nexpect SA\nsend A\nexpect-peer snd_cwnd >= 20 within=500\n"
                  "expect-peer state == ESTABLISHED fd=7\n",
                  ::params());
        h.handshake();
        QVERIFY(!h.runner.finished());
        const auto sampleOf = [&](std::uint64_t cwnd, int fd, bool connection) {
            peer::Sample s;
            s.timeNs = h.now;
            peer::SocketSample k;
            k.inode = 1 + std::uint64_t(fd);
            k.fd = fd;
            if (connection) {
                k.local = {198, 18, 0, 2}; // the peer's end of our connection
                k.localPort = 50001;
                k.remote = {198, 18, 0, 1};
                k.remotePort = 50000;
            }
            peer::TcpInfo info;
            info.set(peer::TcpInfoField::State, 1);
            info.set(peer::TcpInfoField::SndCwnd, cwnd);
            k.fields = info.pairs();
            s.sockets = {k};
            return s;
        };
        h.runner.onPeerSample(sampleOf(50, 5, false), h.now, h.out); // another socket
        h.runner.onPeerSample(sampleOf(10, 3, true), h.now, h.out);
        QVERIFY(!h.runner.finished());
        QCOMPARE(h.runner.results()[3].status, StepResult::Status::Running);
        h.runner.onPeerSample(sampleOf(20, 3, true), h.now, h.out);
        QCOMPARE(h.runner.results()[3].status, StepResult::Status::Done);
        QVERIFY(!h.runner.finished());
        h.runner.onPeerSample(sampleOf(1, 7, false), h.now, h.out);
        QVERIFY(h.runner.succeeded());

        Harness late("expect-peer snd_cwnd > 100 within=100\n", ::params());
        late.start();
        late.tick(200 * kMs);
        QVERIFY2(late.failure().find("no sample of the peer's end of the connection came") !=
                     std::string::npos,
                 late.failure().c_str());
    }

    void passiveOpen_learnsThePeersPort() {
        ConnectionParams p = ::params();
        p.destinationPort = 0;
        p.iss = SeqNum(7000);
        Harness h("expect S\nsend SA seq=iss ack=irs+1\nexpect A ack=iss+1\nreceive 5\n"
                  "send FA\n",
                  p);
        h.start();
        // Not a SYN: ignored while the port is unknown.
        h.feed(peerSegment(p, kA, 1, 1, {}, std::uint16_t{40000}));
        QCOMPARE(h.runner.results()[0].status, StepResult::Status::Running);
        h.feed(peerSegment(p, kS, kPeerIss, 0, {}, std::uint16_t{40000}));
        QCOMPARE(h.take(), QStringList{"SA seq=7000 ack=3000000001 len=0"});
        p.destinationPort = 40000;
        h.params = p;
        // Another port is another connection now.
        h.feed(peerSegment(p, kA, kPeerIss + 1, 7001, {}, std::uint16_t{40001}));
        QCOMPARE(h.runner.results()[2].status, StepResult::Status::Running);
        h.peer(kA, kPeerIss + 1, 7001);
        h.peer(kP | kA, kPeerIss + 1, 7001, "hel");
        h.peer(kP | kA, kPeerIss + 4, 7001, "lo");
        QVERIFY(h.runner.succeeded());
        const QStringList sent = h.take();
        QVERIFY2(sent.last() == QStringLiteral("FA seq=7001 ack=3000000006 len=0"),
                 qPrintable(sent.join(QStringLiteral(" | "))));
        QVERIFY2(h.runner.received().empty(), "a counted receive keeps no bytes");
    }

    void window_updatesAtOnceAndStaysForLaterSegments() {
        Harness h("window 0\nsend S seq=iss\nexpect SA\nsend A\nwindow 4096\nsend PA "
                  "data=request\n",
                  ::params());
        h.handshake();
        const auto windows = [&] {
            QList<int> w;
            for (const auto& f : h.out)
                w << decodeFrame(f).tcp()->window;
            return w;
        };
        // The SYN and the handshake's ACK with 0 (no update before the connection exists),
        // then the update with 4096, then the data with 4096.
        QCOMPARE(windows(), (QList<int>{0, 0, 4096, 4096}));
        QCOMPARE(h.take(),
                 (QStringList{"S seq=100 ack=0 len=0", "A seq=101 ack=3000000001 len=0",
                              "A seq=101 ack=3000000001 len=0",
                              QString("PA seq=101 ack=3000000001 len=%1").arg(kRequest.size())}));
        QVERIFY(h.runner.succeeded());
    }

    void receiveBytes_countsWhatCameBeforeTheStep() {
        // The data of a peer write can arrive before the write's answer: the receive that
        // follows counts it, and the next one starts after it.
        Harness h("send S seq=iss\nexpect SA\nsend A\npeer write 3 5\nreceive 5 within=100\n"
                  "receive 3 within=100\n",
                  ::params());
        h.handshake();
        const auto write = h.runner.takePeerRequests();
        QCOMPARE(write.size(), std::size_t{1});
        h.peer(kP | kA, kPeerIss + 1, 101, "abcde");
        peer::Answer a;
        a.id = write[0].id;
        a.call = peer::Call::Write;
        a.result = 5;
        h.runner.onPeerAnswer({write[0], a}, h.now, h.out);
        QCOMPARE(h.runner.results()[4].status, StepResult::Status::Done);
        QCOMPARE(h.runner.results()[5].status, StepResult::Status::Running);
        h.peer(kP | kA, kPeerIss + 6, 101, "fg");
        QCOMPARE(h.runner.results()[5].status, StepResult::Status::Running);
        h.tick(200 * kMs);
        QVERIFY2(h.failure().find("expected 3 bytes from the peer within 100 ms; got 2 bytes") !=
                     std::string::npos,
                 h.failure().c_str());
    }

    void emptyScenario_finishesAtStart() {
        ScenarioRunner runner(Scenario{}, params());
        ScenarioRunner::FrameList out;
        QVERIFY(!runner.finished());
        runner.start(0, out);
        QVERIFY(runner.succeeded());
        QVERIFY(out.empty());
    }
};

QTEST_GUILESS_MAIN(TestScenarioRunner)
#include "tst_scenario_runner.moc"
