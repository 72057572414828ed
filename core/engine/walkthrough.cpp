#include "engine/walkthrough.h"

#include "engine/http_response.h"
#include "engine/segment_text.h"

#include "peer/call_text.h"
#include "peer/tcp_info.h"

#include "wire/diagnostic.h"
#include "wire/frame.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include "wire/tcp.h"

#include <algorithm>
#include <array>
#include <string_view>
#include <type_traits>
#include <variant>

#include <fmt/format.h>

namespace tcplab::engine {

using namespace tcplab::wire;
namespace flags = tcplab::wire::tcp_flags;

namespace {

/// "RST|ACK": flag names in bit order joined by '|', as the notes print them.
std::string flagNames(std::uint8_t f) {
    return flagWords(f, '|');
}

/// "a SYN-ACK", "a FIN", "a segment with PSH|ACK": what an expectation asks for.
std::string segmentWords(std::uint8_t f) {
    if (f == (flags::kSyn | flags::kAck))
        return "a SYN-ACK";
    if (f == flags::kSyn)
        return "a SYN";
    if (f == flags::kAck)
        return "an ACK";
    if (f == flags::kRst || f == (flags::kRst | flags::kAck))
        return "a RST";
    if (f == flags::kFin || f == (flags::kFin | flags::kAck))
        return "a FIN";
    return "a segment with " + flagNames(f);
}

} // namespace

// ---------------------------------------------------------------------------------

Walkthrough::Walkthrough(Scenario scenario, ConnectionParams params)
    : m_scenario(std::move(scenario))
    , m_params(std::move(params))
    , m_phantom(tcp::Endpoint::of(m_params.phantom, m_params.sourcePort))
    , m_peer(tcp::Endpoint::of(m_params.peer, m_params.destinationPort))
    , m_connection(m_phantom, m_peer)
    , m_sndNxt(m_params.iss)
    , m_ipId(m_params.firstIpId) {
    m_connection.setLocalEnd(0);
    advance();
}

Walkthrough::Vars Walkthrough::vars(const tcp::Connection& c) const {
    const tcp::EndState& local = c.end(0);
    Vars v;
    // What was on the wire wins over the scenario: a SYN the user sent with another
    // ISN starts the sequence space there (RFC 9293 §3.10.1), so "iss+1" follows it.
    v.iss = local.issKnown ? local.iss : m_params.iss;
    v.sndUna = local.issKnown ? local.sndUna : m_params.iss;
    v.sndNxt = m_sndNxt;
    if (local.irsKnown) {
        v.irs = local.irs;
        v.rcvNxt = local.rcvNxt;
    }
    return v;
}

std::optional<SeqNum> Walkthrough::evaluate(const SeqExpr& expr, const Vars& v) const {
    std::optional<SeqNum> base;
    switch (expr.base) {
    case SeqExpr::Base::Literal:
        base = SeqNum(0);
        break;
    case SeqExpr::Base::Iss:
        base = v.iss;
        break;
    case SeqExpr::Base::Irs:
        base = v.irs;
        break;
    case SeqExpr::Base::SndUna:
        base = v.sndUna;
        break;
    case SeqExpr::Base::SndNxt:
        base = v.sndNxt;
        break;
    case SeqExpr::Base::RcvNxt:
        base = v.rcvNxt;
        break;
    }
    if (!base)
        return std::nullopt;
    return *base + expr.offset;
}

SegmentSpec Walkthrough::build(const SendStep& step) const {
    const Vars v = vars(m_connection);
    return buildSendSegment(
        step, m_params, m_ipId,
        {[this, &v](const SeqExpr& e) { return evaluate(e, v); }, v.sndNxt, v.rcvNxt});
}

bool Walkthrough::ackOwed() const {
    const tcp::EndState& local = m_connection.end(0);
    // Only after our handshake ACK: before it, the scenario's own ACK step answers the
    // peer's SYN. A connection that was reset owes nothing (RFC 9293 §3.10.7.4).
    if (!local.irsKnown || !local.ackSent || local.state == tcp::TcpState::Closed)
        return false;
    return local.lastAck < local.rcvNxt;
}

bool Walkthrough::insertAck() const {
    if (m_finished || m_failed || m_index >= m_scenario.steps.size() || !ackOwed())
        return false;
    const StepAction& action = m_scenario.steps[m_index].action;
    if (const auto* send = std::get_if<SendStep>(&action)) {
        // The owed ACK rides on the next segment when it carries ACK = RCV.NXT (the FIN
        // after the response), as the CLI runner does; else it goes first (before a RST).
        if (!(send->flags & flags::kAck) || (send->flags & flags::kRst))
            return true;
        const SegmentSpec spec = build(*send);
        const auto rcvNxt = vars(m_connection).rcvNxt;
        return !rcvNxt || spec.tcp.ack != *rcvNxt;
    }
    return !std::holds_alternative<ExpectStep>(action);
}

std::optional<std::size_t> Walkthrough::responseLength() const {
    const bool head = m_params.request.size() >= 5 &&
                      std::equal(m_params.request.begin(), m_params.request.begin() + 5,
                                 std::string_view("HEAD ").begin());
    const auto data = std::span<const std::uint8_t>(m_received)
                          .subspan(std::min(m_responseEnd, m_received.size()));
    const HttpCheck check = checkHttpResponse(data, m_connection.end(0).finReceived, head);
    if (check.state != HttpCheck::State::Complete)
        return std::nullopt;
    return check.end;
}

bool Walkthrough::stepComplete() const {
    const tcp::EndState& local = m_connection.end(0);
    const StepAction& action = m_scenario.steps[m_index].action;
    if (const auto* receive = std::get_if<ReceiveStep>(&action)) {
        if (receive->until == ReceiveStep::Until::PeerFin)
            return local.finReceived;
        if (receive->until == ReceiveStep::Until::Bytes)
            return m_received.size() >= m_bytesCounted + receive->bytes;
        return responseLength().has_value();
    }
    if (const auto* expect = std::get_if<ExpectPeerStep>(&action)) {
        const auto v = peerValue(*expect);
        return v && holds(expect->op, *v, expect->value);
    }
    if (const auto* wait = std::get_if<WaitStep>(&action)) {
        const bool acked = local.issKnown && local.sndUna >= m_sndNxt;
        return (!wait->acked || acked) && (!wait->peerFin || local.finReceived);
    }
    return false;
}

void Walkthrough::advance() {
    while (!m_finished && !m_failed) {
        if (m_index >= m_scenario.steps.size()) {
            m_finished = true;
            m_notes.push_back(fmt::format("Done: all {} steps of \"{}\" are complete.",
                                          m_scenario.steps.size(), m_scenario.title));
            return;
        }
        const engine::Step& step = m_scenario.steps[m_index];
        if (const auto* window = std::get_if<WindowStep>(&step.action)) {
            m_params.window = window->window;
            m_notes.push_back(fmt::format(
                "{}: the next segments advertise a window of {}{}.", step.name, window->window,
                window->window == 0 ? " (closed: the peer may send nothing but probes)" : ""));
            ++m_index;
            continue;
        }
        if (std::holds_alternative<LingerStep>(step.action)) {
            // Lingering needs a clock, which the walkthrough does not have.
            const bool timeWait = m_connection.end(0).state == tcp::TcpState::TimeWait;
            m_notes.push_back(
                timeWait
                    ? fmt::format("{}: skipped. Your side is now in TIME-WAIT: a real stack "
                                  "stays there for 2 MSL (RFC 9293 §3.3.2, Figure 5) to "
                                  "acknowledge the peer's FIN again should your last ACK be lost; "
                                  "the demo does "
                                  "not wait.",
                                  step.name)
                    : fmt::format("{}: skipped. Nothing more is expected: a RST takes no "
                                  "sequence space and is never acknowledged (RFC 9293 §3.5.3); "
                                  "the peer has dropped the connection.",
                                  step.name));
            ++m_index;
            continue;
        }
        if (std::holds_alternative<ReceiveStep>(step.action) ||
            std::holds_alternative<WaitStep>(step.action) ||
            std::holds_alternative<ExpectPeerStep>(step.action)) {
            if (!stepComplete())
                return;
            const auto* receive = std::get_if<ReceiveStep>(&step.action);
            if (receive && receive->until == ReceiveStep::Until::Bytes) {
                m_bytesCounted += receive->bytes;
                m_responseEnd = m_bytesCounted;
                m_notes.push_back(
                    fmt::format("{}: {} arrived, in order.", step.name, bytesText(receive->bytes)));
            } else if (const auto* expect = std::get_if<ExpectPeerStep>(&step.action)) {
                const auto v = peerValue(*expect).value_or(0);
                m_notes.push_back(fmt::format(
                    "{}: the peer's kernel says {} = {} (its tcp_info).", step.name, expect->field,
                    expect->field == "state" ? peer::linuxStateName(v) : std::to_string(v)));
            } else if (receive && receive->until == ReceiveStep::Until::HttpResponse) {
                const std::size_t length = responseLength().value_or(0);
                m_responseEnd += length;
                m_notes.push_back(fmt::format("{}: the whole HTTP response has arrived ({}).",
                                              step.name, bytesText(length)));
            } else {
                m_notes.push_back(fmt::format("{}: done.", step.name));
            }
            ++m_index;
            continue;
        }
        return; // a send or a peer call waits for the user, an expect for the peer
    }
}

std::optional<peer::Request> Walkthrough::peerRequest(const PeerStep& step) const {
    auto r = engine::peerRequest(step, m_params, m_bound);
    if (!r)
        return std::nullopt;
    return std::move(*r);
}

std::optional<std::uint64_t> Walkthrough::peerValue(const ExpectPeerStep& step) const {
    return engine::peerValue(m_peerSockets, step, m_params, m_bound);
}

void Walkthrough::peerCalled(std::uint32_t id) {
    if (m_finished || m_failed || m_index >= m_scenario.steps.size())
        return;
    const auto* step = std::get_if<PeerStep>(&m_scenario.steps[m_index].action);
    if (!step || insertAck())
        return;
    m_calls.emplace_back(id, m_index);
    if (step->background) {
        m_notes.push_back(fmt::format("{}: the call is made; the walk goes on while it waits.",
                                      m_scenario.steps[m_index].name));
        ++m_index;
        advance();
    }
}

void Walkthrough::peerAnswered(const peer::CallRecord& call) {
    const auto it = std::find_if(m_calls.begin(), m_calls.end(),
                                 [&](const auto& c) { return c.first == call.answer.id; });
    if (it == m_calls.end())
        return;
    const std::size_t index = it->second;
    m_calls.erase(it);
    const engine::Step& step = m_scenario.steps[index];
    const auto& peerStep = std::get<PeerStep>(step.action);
    const std::string line =
        peer::describeCall(call.request) + " " + peer::describeAnswer(call.request, call.answer);
    if (const auto wrong = peerVerdict(peerStep, call)) {
        fail(fmt::format("{}: {}. The walkthrough stops here.", step.name, *wrong));
        return;
    }
    if (!peerStep.bind.empty())
        m_bound[peerStep.bind] = std::to_string(call.answer.result);
    m_notes.push_back(fmt::format("{}: {}.", step.name, line));
    if (!peerStep.background && index == m_index && !m_finished && !m_failed) {
        ++m_index;
        advance();
    }
}

void Walkthrough::sampled(const peer::Sample& sample) {
    updatePeerSockets(m_peerSockets, sample);
    if (!m_finished && !m_failed)
        advance();
}

std::string Walkthrough::explainPeer(const peer::Request& call, bool background) const {
    const std::string c = peer::describeCall(call);
    const std::string wait =
        background ? " It blocks until the handshake is done, so the demo goes on at once and "
                     "checks its result when it returns."
                   : "";
    switch (call.call) {
    case peer::Call::Socket:
        return fmt::format("The peer's application calls {}: the kernel makes a socket and hands "
                           "back a file descriptor (a fresh process's first is 3). Nothing goes "
                           "on the wire yet: a socket is only state in the peer's kernel "
                           "(CLOSED).",
                           c);
    case peer::Call::Connect:
        return fmt::format(
            "The peer's application calls {}: the peer's kernel opens the connection to you, "
            "an active open (RFC 9293 §3.5): it picks a port and an ISN of its own and sends "
            "a SYN, and its socket is in SYN-SENT. You play the server: the next step is your "
            "SYN-ACK.{}",
            c, wait);
    case peer::Call::Write:
        return fmt::format(
            "The peer's application calls {}: the bytes go into the kernel's send buffer, "
            "and the kernel sends them at once as a segment with PSH (nothing else is in "
            "flight, so Nagle's algorithm does not hold them back, RFC 896). write() returns "
            "as soon as they are queued, before you acknowledge them.",
            c);
    case peer::Call::Read:
        return fmt::format(
            "The peer's application calls {}: it takes the bytes the peer's kernel has "
            "received from you and acknowledged already; reading them frees the receive buffer, "
            "so the window the kernel advertises grows back.",
            c);
    case peer::Call::Close:
        return fmt::format(
            "The peer's application calls {}: its kernel sends a FIN after any data still "
            "queued (RFC 9293 §3.6) and moves to FIN-WAIT-1. The peer closes first, so it is "
            "the one that will wait in TIME-WAIT.",
            c);
    case peer::Call::Shutdown:
        return fmt::format("The peer's application calls {}: shutdown(SHUT_WR) sends a FIN but "
                           "keeps the socket readable: a half-close (RFC 9293 §3.6).",
                           c);
    default:
        return fmt::format("The peer's application calls {}.{}", c, wait);
    }
}

void Walkthrough::fail(std::string note) {
    m_notes.push_back(std::move(note));
    m_failed = true;
}

// ---------------------------------------------------------------------------------
// What the GUI shows.

Walkthrough::Step Walkthrough::current() const {
    Step s;
    s.index = m_index;
    if (m_finished || m_failed || m_index >= m_scenario.steps.size()) {
        s.kind = Step::Kind::Done;
        s.index = m_scenario.steps.size();
        s.name = m_failed ? "stopped" : "done";
        s.explanation =
            m_failed ? (m_notes.empty() ? std::string("The walkthrough stopped.")
                                        : "The walkthrough stopped: " + m_notes.back())
                     : fmt::format("The exchange is complete: {} of response received. Look at "
                                   "the ladder from the top: every segment that took sequence "
                                   "space (SYN, data, FIN) was acknowledged by the other side "
                                   "with ack = its seq + its length.",
                                   bytesText(m_received.size()));
        return s;
    }
    const engine::Step& step = m_scenario.steps[m_index];
    if (insertAck()) {
        SendStep ack;
        ack.flags = flags::kAck;
        const SegmentSpec spec = build(ack);
        s.kind = Step::Kind::Send;
        s.inserted = true;
        // The data is an HTTP response when the step taking it (this one, or the one it
        // comes before) is a receive of one.
        const auto* receive = std::get_if<ReceiveStep>(&step.action);
        for (std::size_t i = m_index; !receive && i-- > 0;)
            receive = std::get_if<ReceiveStep>(&m_scenario.steps[i].action);
        const bool http = receive && receive->until == ReceiveStep::Until::HttpResponse;
        s.name = m_connection.end(0).finReceived ? "ACK the peer's FIN"
                 : http                          ? "ACK the response"
                                                 : "ACK the peer's data";
        s.explanation = explainSend(spec, true);
        s.prefill = spec;
        return s;
    }
    s.name = step.name;
    if (const auto* send = std::get_if<SendStep>(&step.action)) {
        const SegmentSpec spec = build(*send);
        s.kind = Step::Kind::Send;
        s.explanation = explainSend(spec, false);
        s.prefill = spec;
        return s;
    }
    if (const auto* peerStep = std::get_if<PeerStep>(&step.action)) {
        const bool called = std::any_of(m_calls.begin(), m_calls.end(),
                                        [&](const auto& c) { return c.second == m_index; });
        const auto request = engine::peerRequest(*peerStep, m_params, m_bound);
        if (!request) {
            s.kind = Step::Kind::Await;
            s.expectation = "a call that cannot be made";
            s.explanation = request.error();
            return s;
        }
        if (called) {
            s.kind = Step::Kind::Await;
            s.expectation = peer::describeCall(*request) + " to return";
            s.explanation = explainPeer(*request, false) +
                            " Waiting for it to return; the answer is shown in the notes.";
            return s;
        }
        s.kind = Step::Kind::Peer;
        s.call = *request;
        s.background = peerStep->background;
        s.explanation = explainPeer(*request, peerStep->background);
        return s;
    }
    s.kind = Step::Kind::Await;
    s.resend = resendSpec();
    s.expectation = expectationText(step.action);
    s.explanation = explainAwait(step.action);
    return s;
}

std::string Walkthrough::expectationText(const StepAction& action) const {
    const Vars v = vars(m_connection);
    if (const auto* expect = std::get_if<ExpectStep>(&action)) {
        std::string s = segmentWords(expect->flags);
        if (expect->seq) {
            if (const auto seq = evaluate(*expect->seq, v))
                s += fmt::format(" with seq {}", seq->value());
        }
        if (expect->ack) {
            if (const auto ack = evaluate(*expect->ack, v))
                s += fmt::format(" acknowledging {}", ack->value());
        }
        return s;
    }
    if (const auto* receive = std::get_if<ReceiveStep>(&action)) {
        if (receive->until == ReceiveStep::Until::PeerFin)
            return "the peer's data up to its FIN";
        if (receive->until == ReceiveStep::Until::Bytes)
            return fmt::format("{} of data from the peer (from seq {})", bytesText(receive->bytes),
                               v.rcvNxt.value_or(SeqNum(0)).value());
        return fmt::format("the HTTP response (data from seq {})",
                           v.rcvNxt.value_or(SeqNum(0)).value());
    }
    if (const auto* expect = std::get_if<ExpectPeerStep>(&action))
        return fmt::format("the peer's kernel to say {} {} {}", expect->field, opText(expect->op),
                           expect->field == "state" ? peer::linuxStateName(expect->value)
                                                    : std::to_string(expect->value));
    if (const auto* wait = std::get_if<WaitStep>(&action)) {
        std::string s;
        if (wait->acked)
            s = fmt::format("an ACK of everything you sent (ack {})", v.sndNxt.value());
        if (wait->peerFin)
            s += std::string(s.empty() ? "" : " and ") + "the peer's FIN";
        return s.empty() ? std::string("nothing") : s;
    }
    return "nothing";
}

std::string Walkthrough::explainAwait(const StepAction& action) const {
    const Vars v = vars(m_connection);
    if (const auto* expect = std::get_if<ExpectStep>(&action)) {
        if ((expect->flags & flags::kSyn) && (expect->flags & flags::kAck))
            return fmt::format(
                "The peer's kernel answers your SYN with a SYN-ACK (RFC 9293 §3.5): its seq is "
                "the peer's own ISN, unpredictable by design (RFC 6528), and its ack should be {} "
                "= your ISN {} + "
                "1, because a SYN consumes one sequence number. Look for the arrow coming back "
                "from the peer's lane; if nothing listens on port {}, a RST|ACK comes back "
                "instead.",
                (v.iss + 1).value(), v.iss.value(), m_params.destinationPort);
        if (expect->flags == flags::kSyn)
            return "Waiting for the peer's SYN: its application's connect() makes its kernel "
                   "send one to your port, with the peer's own ISN as its seq and its options "
                   "(MSS, SACK-permitted, timestamps, window scale). The kernel picked the "
                   "source port itself; the walkthrough learns it from the SYN.";
        if (expect->flags == flags::kAck && m_connection.end(0).synAckSent &&
            m_connection.end(1).state == tcp::TcpState::SynSent)
            return fmt::format("Waiting for the peer's ACK of your SYN-ACK: ack {} = your ISN "
                               "+ 1. With it both ends are ESTABLISHED and the peer's connect() "
                               "returns 0.",
                               (v.iss + 1).value());
        return fmt::format("Waiting for {} from the peer. Any other segment it sends is shown on "
                           "the ladder and described in the notes.",
                           expectationText(action));
    }
    if (std::holds_alternative<ExpectPeerStep>(action))
        return fmt::format("Waiting for {}: tcplab samples the peer's TCP_INFO every 10 ms and "
                           "after every segment.",
                           expectationText(action));
    if (const auto* receive = std::get_if<ReceiveStep>(&action)) {
        if (receive->until == ReceiveStep::Until::PeerFin)
            return "The peer sends its data and then its FIN. Each data segment moves RCV.NXT "
                   "by its length, and you acknowledge each arrival.";
        if (receive->until == ReceiveStep::Until::Bytes)
            return fmt::format(
                "The peer's kernel sends what its application wrote: {} starting at seq {} "
                "(RCV.NXT). Each segment moves RCV.NXT by its length; acknowledge what arrives.",
                bytesText(receive->bytes), v.rcvNxt.value_or(SeqNum(0)).value());
        const std::size_t got = m_received.size() - std::min(m_responseEnd, m_received.size());
        return fmt::format(
            "The peer's HTTP server reads your request and answers. Its data starts at seq {} "
            "(RCV.NXT: the peer's ISN + 1, since its SYN took one number, plus {} received so "
            "far); each data segment moves RCV.NXT by its length, and after each arrival the "
            "next step is the ACK you owe. The response is whole when its headers and "
            "Content-Length bytes of body have arrived.",
            v.rcvNxt.value_or(SeqNum(0)).value(), bytesText(got));
    }
    if (const auto* wait = std::get_if<WaitStep>(&action)) {
        if (wait->acked && wait->peerFin)
            return fmt::format(
                "Your FIN is on its way: the peer's kernel acknowledges it at once (ack {} = "
                "your FIN's seq + 1, a FIN takes one sequence number) and moves to CLOSE-WAIT; "
                "once its application closes too it sends its own FIN (LAST-ACK). On the ladder "
                "look for an ACK, then a FIN from the peer's lane; they may come as one "
                "FIN|ACK.",
                v.sndNxt.value());
        if (wait->peerFin)
            return "Waiting for the peer to close its side: its FIN takes one sequence number, "
                   "which you then acknowledge.";
        return fmt::format("Waiting for the peer to acknowledge everything you sent: ack {} "
                           "(SND.NXT).",
                           v.sndNxt.value());
    }
    return {};
}

std::string Walkthrough::explainSend(const SegmentSpec& spec, bool inserted) const {
    const Vars v = vars(m_connection);
    const tcp::EndState& local = m_connection.end(0);
    const TcpHeader& t = spec.tcp;
    const std::uint32_t seq = t.seq.value();
    const std::uint32_t ack = t.ack.value();
    const std::size_t len = spec.payload.size();
    if (t.has(flags::kRst)) {
        // RFC 5961 §3.2: only a RST at exactly RCV.NXT resets; one elsewhere in the window
        // draws a challenge ACK. The tracker knows the peer's RCV.NXT.
        const tcp::EndState& peer = m_connection.end(1);
        const std::string exact =
            !peer.irsKnown || peer.rcvNxt == t.seq
                ? fmt::format("Its seq {} is exactly the peer's RCV.NXT, which it must be: a RST "
                              "elsewhere in the window only draws a challenge ACK (RFC 5961 "
                              "§3.2).",
                              seq)
                : fmt::format("Its seq {} is not the peer's RCV.NXT ({}), so the peer will not "
                              "reset: a RST elsewhere in the window only draws a challenge ACK "
                              "(RFC 5961 §3.2).",
                              seq, peer.rcvNxt.value());
        return fmt::format("A RST aborts the connection at once (RFC 9293 §3.10.5, ABORT): no "
                           "FIN exchange, no TIME-WAIT. {} A RST is never acknowledged, so "
                           "nothing comes back; on the ladder it is the last arrow.",
                           exact);
    }
    if (t.has(flags::kSyn) && t.has(flags::kAck))
        return fmt::format(
            "A SYN-ACK answers the peer's SYN, as a server in LISTEN does (RFC 9293 §3.10.7.2): "
            "seq {} is your own ISN, chosen by you; ack {} = the peer's ISN {} + 1, because its "
            "SYN consumes one sequence number. Your socket (in the phantom) is now in "
            "SYN-RECEIVED; the peer answers with an ACK of {} and its connect() returns.",
            seq, ack, v.irs ? v.irs->value() : ack - 1, (t.seq + 1).value());
    if (t.has(flags::kSyn) && !t.has(flags::kAck))
        return fmt::format(
            "A SYN opens the connection (RFC 9293 §3.5) from port {} to port {}. Its seq is "
            "your ISN, {}; it carries no ack (the ACK flag is off, so ack is 0). A SYN "
            "consumes one sequence number, so the peer's answer should acknowledge {}: watch "
            "for the peer's SYN-ACK coming back.",
            t.srcPort, t.dstPort, seq, (t.seq + 1).value());
    if (t.has(flags::kFin))
        return fmt::format(
            "A FIN says you have nothing more to send (RFC 9293 §3.6); your side goes to "
            "FIN-WAIT-1. Its seq {} follows your last byte, and the FIN takes one sequence "
            "number, so the peer should acknowledge {}; its ack {} acknowledges everything "
            "the peer sent, the response included. Watch for the peer's ACK and then its own "
            "FIN.",
            seq, (t.seq + 1).value(), ack);
    if (len > 0 && spec.payload != m_params.request)
        return fmt::format(
            "This segment carries {} of data. seq {} numbers its first byte and the data takes "
            "{} sequence numbers, so the peer should acknowledge {}; ack {} acknowledges "
            "everything the peer sent so far. The peer's kernel keeps the bytes until its "
            "application reads them.",
            bytesText(len), seq, len, (t.seq + static_cast<std::int64_t>(len)).value(), ack);
    if (len > 0)
        return fmt::format(
            "This segment carries your {}-byte request. seq {} numbers its first byte and the "
            "data takes {} sequence numbers, so the peer should acknowledge {}; ack {} says "
            "you have everything the peer sent so far. PSH asks the peer to hand the data to "
            "its application at once. Watch for the response coming back.",
            len, seq, len, (t.seq + static_cast<std::int64_t>(len)).value(), ack);
    // A pure ACK: of the peer's SYN, of its data, or of its FIN.
    if (!local.ackSent && v.irs)
        return fmt::format(
            "This ACK completes the three-way handshake. Its seq is {} (your ISN + 1: the SYN "
            "used one number) and its ack is {} = the peer's ISN {} + 1, because the peer's "
            "SYN also consumes one sequence number. It carries no data, so nothing comes back; "
            "once it arrives both ends are ESTABLISHED.",
            seq, ack, v.irs->value());
    if (local.finReceived && v.rcvNxt && ack == v.rcvNxt->value())
        return fmt::format(
            "Acknowledge the peer's FIN: ack {} = the FIN's sequence number {} + 1, because a "
            "FIN consumes one sequence number. seq {} is unchanged: an ACK without data takes "
            "no sequence space. When it arrives the peer's side is CLOSED{}.",
            ack, ack - 1, seq,
            local.finSent ? "; yours waits in TIME-WAIT (RFC 9293 §3.3.2, Figure 5)" : "");
    const std::uint32_t acked =
        local.ackSent ? static_cast<std::uint32_t>(t.ack - local.lastAck) : 0;
    return fmt::format(
        "Acknowledge the peer's data: ack {} is the next byte you expect (RCV.NXT), and since "
        "ACKs are cumulative it covers all {} that arrived since your last ACK. seq {} stays "
        "where it is: an ACK without data takes no sequence space. Until it arrives the peer "
        "keeps the data for retransmission{}.",
        ack, bytesText(acked), seq,
        inserted ? "; tcplab-cli experiment sends this same ACK by itself" : "");
}

std::optional<SegmentSpec> Walkthrough::resendSpec() const {
    const tcp::EndState& local = m_connection.end(0);
    for (const Outstanding& o : m_outstanding) {
        if (local.issKnown && o.end <= local.sndUna)
            continue; // acknowledged
        SegmentSpec spec = o.spec;
        // A retransmission carries what we know now (RFC 9293 §3.10.7.4: every segment
        // acknowledges RCV.NXT), with fresh derived fields.
        if (spec.tcp.has(flags::kAck)) {
            if (const auto rcvNxt = vars(m_connection).rcvNxt)
                spec.tcp.ack = *rcvNxt;
        }
        spec.tcp.checksum.reset();
        spec.tcp.dataOffset.reset();
        if (auto* ip = std::get_if<Ipv4Header>(&spec.ip)) {
            ip->id = m_ipId;
            ip->checksum.reset();
            ip->totalLength.reset();
        } else if (auto* ip6 = std::get_if<Ipv6Header>(&spec.ip)) {
            ip6->payloadLength.reset();
        }
        return spec;
    }
    return std::nullopt;
}

// ---------------------------------------------------------------------------------
// Events.

std::vector<tcp::TutorWarning> Walkthrough::warningsFor(const SegmentSpec& spec) const {
    if (tcp::Endpoint::of(spec.isIpv6() ? IpAddress(spec.ipv6If()->src)
                                        : IpAddress(spec.ipv4If()->src),
                          spec.tcp.srcPort) != m_phantom)
        return {};
    const auto segment =
        tcp::Segment::fromHeader(spec.tcp, static_cast<std::uint32_t>(spec.payload.size()));
    return tcp::checkBeforeSend(m_connection, m_phantom, segment);
}

void Walkthrough::fired(std::span<const std::uint8_t> frame, std::int64_t timeNs) {
    const Frame decoded = decodeFrame(Bytes(frame.data(), frame.size()));
    const auto found = tcp::segmentOf(decoded, timeNs);
    if (!found || found->src != m_phantom || found->dst != m_peer) {
        m_notes.push_back("You sent a frame that is not a segment of this connection (from " +
                          m_phantom.toString() + " to " + m_peer.toString() +
                          "); the walkthrough stays at this step.");
        return;
    }
    const TcpHeader& tcp = *decoded.tcp();
    const std::string what = describeSegment(tcp, decoded.payloadLength, '|');
    if (decoded.diagnostics.has(Diagnostic::TcpChecksumBad)) {
        // RFC 9293 §3.1: the receiver discards a segment whose checksum fails, silently.
        m_notes.push_back(fmt::format("You sent {} with a wrong TCP checksum: the peer's TCP "
                                      "discards it without a word (RFC 9293 §3.1). Fire it "
                                      "again with the checksum on auto.",
                                      what));
        return;
    }
    // Which step this frame answers, decided before the tracker sees it.
    const Step step = current();
    const bool pureAck = tcp.flags == flags::kAck && decoded.payloadLength == 0;
    // An inserted ACK is answered by a pure ACK; anything else fired then is extra.
    const bool takesStep = step.kind == Step::Kind::Send && (!step.inserted || pureAck);

    const tcp::Connection before = m_connection;
    const tcp::SegmentResult result = m_connection.onSegment(0, found->segment);
    m_ipId = static_cast<std::uint16_t>(m_ipId + 1);

    // SND.NXT (RFC 9293 §3.4): our first SYN starts the sequence space (§3.10.1); SYN,
    // FIN and data take sequence space, a RST does not (§3.5.3), and a segment that does
    // not start at SND.NXT is a retransmission or a probe that does not move it.
    std::string seqNote;
    const std::uint32_t length =
        tcp.has(flags::kRst) ? 0 : tcp.sequenceLength(decoded.payloadLength);
    if (tcp.has(flags::kSyn) && !m_synFired) {
        m_synFired = true;
        m_sndNxt = tcp.seq;
    }
    if (length > 0 && tcp.seq == m_sndNxt) {
        auto spec = SegmentSpec::fromFrame(decoded);
        m_sndNxt = tcp.seq + length;
        if (spec)
            m_outstanding.push_back({std::move(*spec), m_sndNxt});
    } else if (length > 0 && takesStep && step.prefill && tcp.seq != m_sndNxt) {
        // The user moved the segment away from SND.NXT: the peer will not take it as the
        // next data. The scenario's segment is still owed; it is what "send again" offers.
        const SegmentSpec& want = *step.prefill;
        const std::uint32_t wantLength =
            want.tcp.has(flags::kRst) ? 0 : want.tcp.sequenceLength(want.payload.size());
        if (wantLength > 0 && want.tcp.seq == m_sndNxt) {
            m_sndNxt = want.tcp.seq + wantLength;
            m_outstanding.push_back({want, m_sndNxt});
            seqNote = fmt::format(
                " Its seq {} is not SND.NXT = {}, the next number the peer expects, so the "
                "peer will not take it as the next data; while waiting, send the scenario's "
                "segment again (seq {}).",
                tcp.seq.value(), want.tcp.seq.value(), want.tcp.seq.value());
        }
    }
    const tcp::EndState& local = m_connection.end(0);
    if (local.issKnown)
        std::erase_if(m_outstanding, [&](const Outstanding& o) { return o.end <= local.sndUna; });
    std::string note = fmt::format("{}: you sent {}. {}", step.name, what,
                                   tcp::annotate(before, found->segment, result));
    if (step.prefill && takesStep) {
        const TcpHeader& want = step.prefill->tcp;
        std::vector<std::string> diffs;
        if (want.flags != tcp.flags)
            diffs.push_back(
                fmt::format("flags {} instead of {}", flagNames(tcp.flags), flagNames(want.flags)));
        if (want.seq != tcp.seq)
            diffs.push_back(fmt::format("seq {} instead of {}", tcp.seq.value(), want.seq.value()));
        if ((want.flags | tcp.flags) & flags::kAck && want.ack != tcp.ack)
            diffs.push_back(fmt::format("ack {} instead of {}", tcp.ack.value(), want.ack.value()));
        if (step.prefill->payload.size() != decoded.payloadLength)
            diffs.push_back(fmt::format("{} of data instead of {}",
                                        bytesText(decoded.payloadLength),
                                        bytesText(step.prefill->payload.size())));
        if (!diffs.empty()) {
            std::string joined;
            for (const auto& d : diffs)
                joined += (joined.empty() ? "" : ", ") + d;
            note += " It differs from the prefilled segment: " + joined +
                    "; the next steps follow what the peer actually does.";
        }
    }
    note += seqNote;
    if (step.kind != Step::Kind::Send)
        note += fmt::format(" (Sent while waiting for {}.)", step.expectation);
    m_notes.push_back(std::move(note));

    if (tcp.has(flags::kRst)) {
        if (!result.classes.has(tcp::SegmentClass::RstAccepted)) {
            // Ignored or challenged: the connection goes on (RFC 5961 §3.2).
            return;
        }
        const bool planned =
            takesStep && !step.inserted && step.prefill && step.prefill->tcp.has(flags::kRst);
        if (!planned) {
            fail("You reset the connection: the peer drops it, and the walkthrough ends here.");
            return;
        }
    }
    if (m_finished || m_failed || !takesStep)
        return;
    if (!step.inserted) {
        m_closeBegun = m_closeBegun || tcp.has(flags::kFin) || tcp.has(flags::kRst);
        ++m_index;
    }
    advance();
}

void Walkthrough::received(std::span<const std::uint8_t> frame, std::int64_t timeNs) {
    const Frame decoded = decodeFrame(Bytes(frame.data(), frame.size()));
    const auto found = tcp::segmentOf(decoded, timeNs);
    // Passive open: the peer's port is its kernel's choice, learned from its SYN.
    if (found && m_params.destinationPort == 0 && found->dst == m_phantom &&
        found->src.ip() == m_params.peer &&
        (found->segment.flags & (flags::kSyn | flags::kAck | flags::kRst)) == flags::kSyn) {
        m_params.destinationPort = found->src.port;
        m_peer = found->src;
        m_connection = tcp::Connection(m_phantom, m_peer);
        m_connection.setLocalEnd(0);
        m_notes.push_back(fmt::format("The peer's kernel connects from port {}.", m_peer.port));
    }
    if (!found || found->src != m_peer || found->dst != m_phantom)
        return;
    const TcpHeader& tcp = *decoded.tcp();
    const std::string what = describeSegment(tcp, decoded.payloadLength, '|');
    if (decoded.diagnostics.has(Diagnostic::TcpChecksumBad)) {
        m_notes.push_back(fmt::format("The peer sent {} with a bad TCP checksum; a TCP would "
                                      "discard it (RFC 9293 §3.1), and so does the walkthrough.",
                                      what));
        return;
    }
    const Step step = current();
    const tcp::Connection before = m_connection;
    const Vars v = vars(before);
    const tcp::SegmentResult result = m_connection.onSegment(1, found->segment);
    const std::string words = tcp::annotate(before, found->segment, result);
    if (m_connection.end(0).issKnown) {
        const SeqNum una = m_connection.end(0).sndUna;
        std::erase_if(m_outstanding, [&](const Outstanding& o) { return o.end <= una; });
    }

    // The peer's in-order data: what RCV.NXT moved over (RFC 9293 §3.10.7.4).
    const tcp::EndState& was = before.end(0);
    const tcp::EndState& now = m_connection.end(0);
    if (was.irsKnown && decoded.payloadLength > 0 && now.rcvNxt > was.rcvNxt) {
        const SeqNum start = tcp.seq + (tcp.has(flags::kSyn) ? 1 : 0);
        const auto skip = static_cast<std::size_t>(static_cast<std::uint32_t>(was.rcvNxt - start));
        const Bytes payload = decoded.payload();
        if (skip < payload.size()) {
            const std::size_t take = std::min(
                payload.size() - skip,
                static_cast<std::size_t>(static_cast<std::uint32_t>(now.rcvNxt - was.rcvNxt)));
            m_received.insert(m_received.end(), payload.begin() + static_cast<std::ptrdiff_t>(skip),
                              payload.begin() + static_cast<std::ptrdiff_t>(skip + take));
        }
    }

    if (m_finished || m_failed) {
        m_notes.push_back(fmt::format("After the walkthrough: the peer sent {}. {}", what, words));
        return;
    }
    const auto* expect = step.inserted || m_index >= m_scenario.steps.size()
                             ? nullptr
                             : std::get_if<ExpectStep>(&m_scenario.steps[m_index].action);
    bool matched = false;
    if (expect) {
        matched = (tcp.flags & expect->flags) == expect->flags;
        if (matched && expect->seq)
            matched = evaluate(*expect->seq, v) == tcp.seq;
        if (matched && expect->ack)
            matched = tcp.has(flags::kAck) && evaluate(*expect->ack, v) == tcp.ack;
    }
    if (tcp.has(flags::kRst) && !(expect && matched)) {
        std::string why;
        if (was.state == tcp::TcpState::SynSent &&
            result.classes.has(tcp::SegmentClass::RstAccepted))
            why = fmt::format(": nothing listens on port {} of {} (a closed port answers a SYN "
                              "with RST|ACK, RFC 9293 §3.10.7.1)",
                              m_params.destinationPort, addressText(m_params.peer));
        else
            why = ": the peer reset the connection";
        const std::string expected =
            step.kind == Step::Kind::Await ? "expected " + step.expectation : step.name;
        fail(fmt::format("{}; the peer answered with {}{}. {} The walkthrough stops here.",
                         expected, what, why, words));
        return;
    }
    if (expect) {
        if (matched) {
            m_notes.push_back(
                fmt::format("{}: the peer sent {}, as expected. {}", step.name, what, words));
            ++m_index;
        } else {
            m_notes.push_back(fmt::format("Expected {}; the peer sent {} instead. {}",
                                          step.expectation, what, words));
        }
    } else {
        std::string note = fmt::format("{}: the peer sent {}. {}", step.name, what, words);
        if (tcp.has(flags::kSyn) && was.irsKnown && tcp.seq == was.irs)
            // RFC 6298 §5.4: the peer's SYN-RECEIVED timer expired before our ACK came.
            note += " It is the peer's SYN-ACK again, a retransmission: your ACK of it has not "
                    "reached the peer yet, so its retransmission timer expired (RFC 6298 §5.4). "
                    "The ACK answers it.";
        else if (step.kind == Step::Kind::Send && !step.inserted)
            note += " (It came before you fired this step.)";
        m_notes.push_back(std::move(note));
    }
    advance();
}

// ---------------------------------------------------------------------------------

bool Walkthrough::chooseClose(CloseMode mode) {
    const auto closeStart = [](const Scenario& s) -> std::optional<std::size_t> {
        for (std::size_t i = s.steps.size(); i-- > 0;)
            if (std::holds_alternative<ReceiveStep>(s.steps[i].action))
                return i + 1;
        return std::nullopt;
    };
    const Scenario other = classicScenario(mode);
    const auto here = closeStart(m_scenario);
    const auto there = closeStart(other);
    if (!here || !there || m_closeBegun || m_finished || m_failed || m_index > *here)
        return false;
    m_scenario.steps.resize(*here);
    m_scenario.steps.insert(m_scenario.steps.end(),
                            other.steps.begin() + static_cast<std::ptrdiff_t>(*there),
                            other.steps.end());
    m_scenario.title = other.title;
    m_notes.push_back(
        fmt::format("The close is now \"{}\": {}.", closeModeName(mode), other.title));
    return true;
}

} // namespace tcplab::engine
