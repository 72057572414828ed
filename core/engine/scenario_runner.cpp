#include "engine/scenario_runner.h"

#include "engine/http_response.h"
#include "engine/segment_text.h"

#include "peer/call_text.h"
#include "peer/tcp_info.h"

#include "wire/ethernet.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"

#include <algorithm>
#include <array>

#include <fmt/format.h>

namespace tcplab::engine {

using namespace tcplab::wire;
namespace flags = tcplab::wire::tcp_flags;

namespace {

constexpr std::int64_t kNsPerMs = 1'000'000;

std::string durationText(std::int64_t ns) {
    if (ns % kNsPerMs == 0)
        return fmt::format("{} ms", ns / kNsPerMs);
    return fmt::format("{:.3f} ms", static_cast<double>(ns) / 1e6);
}

std::string_view baseName(SeqExpr::Base base) {
    switch (base) {
    case SeqExpr::Base::Literal:
        return "";
    case SeqExpr::Base::Iss:
        return "iss";
    case SeqExpr::Base::Irs:
        return "irs";
    case SeqExpr::Base::SndUna:
        return "snd.una";
    case SeqExpr::Base::SndNxt:
        return "snd.nxt";
    case SeqExpr::Base::RcvNxt:
        return "rcv.nxt";
    }
    return "";
}

bool startsWith(Bytes data, std::string_view prefix) {
    return data.size() >= prefix.size() &&
           std::equal(prefix.begin(), prefix.end(), data.begin(),
                      [](char a, std::uint8_t b) { return static_cast<std::uint8_t>(a) == b; });
}

} // namespace

// ---------------------------------------------------------------------------------

ScenarioRunner::ScenarioRunner(Scenario scenario, ConnectionParams params)
    : m_scenario(std::move(scenario))
    , m_params(std::move(params))
    , m_results(m_scenario.steps.size())
    , m_sndUna(m_params.iss)
    , m_sndNxt(m_params.iss)
    , m_ipId(m_params.firstIpId) {}

bool ScenarioRunner::finished() const noexcept {
    return m_finished;
}

bool ScenarioRunner::succeeded() const noexcept {
    return m_finished && !m_failed;
}

std::optional<std::size_t> ScenarioRunner::failedStep() const noexcept {
    if (!m_failed)
        return std::nullopt;
    return m_current;
}

std::vector<ScenarioEvent> ScenarioRunner::takeEvents() {
    std::vector<ScenarioEvent> events;
    events.swap(m_events);
    return events;
}

std::optional<std::int64_t> ScenarioRunner::nextDeadline() const noexcept {
    if (!m_started || m_finished)
        return std::nullopt;
    std::optional<std::int64_t> at = m_stepDeadline;
    if (m_rtxAt && (!at || *m_rtxAt < *at))
        at = m_rtxAt;
    for (const auto& [id, call] : m_calls)
        if (call.background && (!at || call.deadlineNs < *at))
            at = call.deadlineNs;
    return at;
}

std::string ScenarioRunner::stepLabel(std::size_t index) const {
    if (index >= m_scenario.steps.size())
        return fmt::format("step {}", index + 1);
    return fmt::format("step {} \"{}\"", index + 1, m_scenario.steps[index].name);
}

std::optional<SeqNum> ScenarioRunner::evaluate(const SeqExpr& expr) const {
    std::optional<SeqNum> base;
    switch (expr.base) {
    case SeqExpr::Base::Literal:
        base = SeqNum(0);
        break;
    case SeqExpr::Base::Iss:
        base = m_params.iss;
        break;
    case SeqExpr::Base::Irs:
        base = m_irs;
        break;
    case SeqExpr::Base::SndUna:
        base = m_sndUna;
        break;
    case SeqExpr::Base::SndNxt:
        base = m_sndNxt;
        break;
    case SeqExpr::Base::RcvNxt:
        base = m_rcvNxt;
        break;
    }
    if (!base)
        return std::nullopt;
    return *base + expr.offset;
}

std::string ScenarioRunner::expressionText(const std::optional<SeqExpr>& expr,
                                           std::string_view key) const {
    if (!expr)
        return {};
    if (const auto v = evaluate(*expr))
        return fmt::format(" {}={}", key, v->value());
    return fmt::format(" {}={} ({} is not known yet: no SYN from the peer)", key,
                       formatSeqExpr(*expr), baseName(expr->base));
}

// ---------------------------------------------------------------------------------
// Building and sending our segments.

SegmentSpec buildSendSegment(const SendStep& step, const ConnectionParams& params,
                             std::uint16_t ipId, const SendNumbers& numbers) {
    SegmentSpec spec;
    spec.ethernet.src = params.phantomMac;
    spec.ethernet.dst = params.nextHopMac;
    if (const auto* peer4 = std::get_if<Ipv4Address>(&params.peer)) {
        Ipv4Header ip;
        if (const auto* own = std::get_if<Ipv4Address>(&params.phantom))
            ip.src = *own;
        ip.dst = *peer4;
        ip.ttl = params.ttl;
        ip.id = ipId;
        ip.flags = ipv4_flags::kDontFragment; // RFC 9293 §3.7.1: no fragmentation en route
        spec.ip = ip;
    } else {
        Ipv6Header ip;
        if (const auto* own = std::get_if<Ipv6Address>(&params.phantom))
            ip.src = *own;
        ip.dst = std::get<Ipv6Address>(params.peer);
        ip.hopLimit = params.ttl;
        spec.ip = ip;
    }
    TcpHeader& tcp = spec.tcp;
    tcp.srcPort = params.sourcePort;
    tcp.dstPort = params.destinationPort;
    tcp.flags = step.flags;
    tcp.seq = step.seq ? numbers.evaluate(*step.seq).value_or(SeqNum(0)) : numbers.sndNxt;
    if (step.ack)
        tcp.ack = numbers.evaluate(*step.ack).value_or(SeqNum(0));
    else if (step.flags & flags::kAck)
        tcp.ack = numbers.rcvNxt.value_or(SeqNum(0));
    tcp.window = step.window.value_or(params.window);
    tcp.options = step.options;
    spec.payload = step.dataIsRequest ? params.request : step.data;
    return spec;
}

SegmentSpec ScenarioRunner::buildSegment(const SendStep& step) const {
    return buildSendSegment(step, m_params, m_ipId,
                            {[this](const SeqExpr& e) { return evaluate(e); }, m_sndNxt, m_rcvNxt});
}

void ScenarioRunner::transmit(SegmentSpec& spec, FrameList& out) {
    if (auto* ip = std::get_if<Ipv4Header>(&spec.ip))
        ip->id = m_ipId;
    auto bytes = spec.encode();
    if (!bytes)
        return; // executeSend checked the size; a retransmission re-encodes the same spec
    out.push_back(std::move(*bytes));
    m_ipId = static_cast<std::uint16_t>(m_ipId + 1);
    const TcpHeader& tcp = spec.tcp;
    // Any segment of ours with ACK = RCV.NXT acknowledges everything taken so far.
    if (tcp.has(flags::kAck) && !tcp.has(flags::kRst) && m_rcvNxt && tcp.ack == *m_rcvNxt) {
        m_ackOwed = false;
        m_unacknowledged = false;
    }
}

void ScenarioRunner::flushAck(FrameList& out) {
    if (!m_ackOwed)
        return;
    m_ackOwed = false;
    if (m_failed || m_aborted || !m_rcvNxt)
        return;
    // RFC 9293 §3.10.7.4: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
    SendStep ack;
    ack.flags = flags::kAck;
    SegmentSpec spec = buildSegment(ack);
    transmit(spec, out);
}

void ScenarioRunner::executeSend(const SendStep& step, std::int64_t nowNs, FrameList& out) {
    const bool familiesMatch = m_params.phantom.index() == m_params.peer.index();
    if (!familiesMatch) {
        failStep(nowNs, fmt::format("the phantom ({}) and the peer ({}) are not the same IP "
                                    "version",
                                    addressText(m_params.phantom), addressText(m_params.peer)));
        return;
    }
    for (const auto* expr : {&step.seq, &step.ack}) {
        if (*expr && !evaluate(**expr)) {
            failStep(nowNs, fmt::format("cannot send: {} is not known yet (no SYN from the peer)",
                                        baseName((*expr)->base)));
            return;
        }
    }
    SegmentSpec spec = buildSegment(step);
    // IPv4's total length and IPv6's payload length are 16 bits.
    const std::size_t ipLength =
        spec.encodedLength() - EthernetHeader::kLength - (spec.isIpv6() ? Ipv6Header::kLength : 0);
    if (ipLength > 0xffff) {
        failStep(nowNs, fmt::format("cannot send: {} of data do not fit in one IP packet",
                                    bytesText(spec.payload.size())));
        return;
    }
    TcpHeader& tcp = spec.tcp;
    const bool rst = tcp.has(flags::kRst);

    // An ACK still owed goes out first, unless this segment carries it.
    const bool carriesAck = tcp.has(flags::kAck) && !rst && m_rcvNxt && tcp.ack == *m_rcvNxt;
    if (m_ackOwed && !carriesAck)
        flushAck(out);

    // RFC 9293 §3.10.1: our first SYN fixes the send sequence space.
    if (tcp.has(flags::kSyn) && !m_synSent) {
        m_synSent = true;
        m_sndUna = tcp.seq;
        m_sndNxt = tcp.seq;
    }
    // RFC 9293 §3.4: SYN, FIN and data take sequence space; a RST does not (RFC 9293
    // §3.5.3), and a segment that is not the next one (seq != SND.NXT) is a
    // deliberate retransmission or probe that does not move SND.NXT.
    const std::uint32_t length = rst ? 0 : tcp.sequenceLength(spec.payload.size());
    const SeqNum seq = tcp.seq;
    const std::string what = fmt::format(
        "{} seq={}{}", flagWords(tcp.flags), seq.value(),
        spec.payload.empty() ? std::string() : " len=" + std::to_string(spec.payload.size()));
    transmit(spec, out);
    if (length > 0 && seq == m_sndNxt) {
        m_sndNxt = seq + length;
        m_outstanding.push_back({spec, m_sndNxt, what});
        // RFC 6298 §5.1: start the timer when it is not running.
        if (!m_rtxAt) {
            m_rto = m_params.initialRtoNs;
            m_rtxCount = 0;
            m_rtxAt = nowNs + m_rto;
        }
    }
    if (rst) {
        m_aborted = true;
        m_outstanding.clear();
        m_rtxAt.reset();
    }
    completeStep(nowNs, "sent " + what);
}

void ScenarioRunner::retransmit(std::int64_t nowNs, FrameList& out) {
    if (m_outstanding.empty() || m_aborted) {
        m_rtxAt.reset();
        return;
    }
    Outstanding& oldest = m_outstanding.front();
    if (m_rtxCount >= m_params.maxRetransmissions) {
        failStep(nowNs, fmt::format("our {} was not acknowledged after {} retransmission{}",
                                    oldest.what, m_rtxCount, m_rtxCount == 1 ? "" : "s"));
        return;
    }
    transmit(oldest.spec, out);
    ++m_rtxCount;
    if (m_current < m_results.size())
        ++m_results[m_current].retransmissions;
    // RFC 6298 §5.5: back off the timer.
    m_rto *= 2;
    m_rtxAt = nowNs + m_rto;
    m_events.push_back(
        {ScenarioEvent::Kind::Retransmitted, m_current, nowNs,
         fmt::format("sent our {} again (retransmission {} of at most {}; next "
                     "timeout in {})",
                     oldest.what, m_rtxCount, m_params.maxRetransmissions, durationText(m_rto))});
}

// ---------------------------------------------------------------------------------
// Steps.

void ScenarioRunner::start(std::int64_t nowNs, FrameList& out) {
    if (m_started)
        return;
    m_started = true;
    advance(nowNs, out);
}

void ScenarioRunner::advance(std::int64_t nowNs, FrameList& out) {
    while (!m_finished) {
        if (m_current >= m_scenario.steps.size()) {
            // Every step is done; background calls still answer before the end.
            if (m_calls.empty())
                finish(nowNs);
            break;
        }
        StepResult& result = m_results[m_current];
        if (result.status == StepResult::Status::Done) {
            ++m_current;
            continue;
        }
        if (result.status == StepResult::Status::Pending)
            beginStep(nowNs, out);
        if (result.status == StepResult::Status::Running)
            checkRunningStep(nowNs);
        if (result.status != StepResult::Status::Done)
            break;
    }
    flushAck(out);
}

bool ScenarioRunner::acksData() const {
    if (!m_started || m_finished || m_current >= m_scenario.steps.size() ||
        m_results[m_current].status != StepResult::Status::Running)
        return false;
    const StepAction& a = m_scenario.steps[m_current].action;
    return std::holds_alternative<ReceiveStep>(a) || std::holds_alternative<WaitStep>(a) ||
           std::holds_alternative<LingerStep>(a);
}

void ScenarioRunner::beginStep(std::int64_t nowNs, FrameList& out) {
    StepResult& result = m_results[m_current];
    result.status = StepResult::Status::Running;
    result.startNs = nowNs;
    m_stepDeadline.reset();
    m_seenCount = 0;
    m_lastSeen.clear();
    const Step& step = m_scenario.steps[m_current];
    m_events.push_back({ScenarioEvent::Kind::StepStarted, m_current, nowNs, step.name});
    std::visit(
        [&](const auto& a) {
            using T = std::decay_t<decltype(a)>;
            if constexpr (std::is_same_v<T, SendStep>) {
                executeSend(a, nowNs, out);
            } else if constexpr (std::is_same_v<T, LingerStep>) {
                m_stepDeadline = nowNs + a.durationNs;
            } else if constexpr (std::is_same_v<T, PeerStep>) {
                beginPeerStep(a, nowNs);
            } else if constexpr (std::is_same_v<T, WindowStep>) {
                m_params.window = a.window;
                // A window update at once, once there is a connection to update.
                if (m_rcvNxt && !m_aborted && !m_failed) {
                    SendStep update;
                    update.flags = flags::kAck;
                    SegmentSpec spec = buildSegment(update);
                    transmit(spec, out);
                }
                completeStep(nowNs, fmt::format("the phantom advertises a window of {} from now "
                                                "on",
                                                a.window));
            } else {
                // Bytes that came before the step (while a peer call was answered) count.
                if constexpr (std::is_same_v<T, ReceiveStep>)
                    if (a.until == ReceiveStep::Until::Bytes)
                        m_bytesTarget = m_takenCounted + a.bytes;
                m_stepDeadline = nowNs + a.withinNs;
            }
        },
        step.action);
    // Data that arrived while nothing acknowledged it (during an expect) is
    // acknowledged as soon as a step that takes data begins.
    if (m_unacknowledged && acksData())
        m_ackOwed = true;
}

void ScenarioRunner::checkRunningStep(std::int64_t nowNs) {
    const StepAction& action = m_scenario.steps[m_current].action;
    if (const auto* expect = std::get_if<ExpectPeerStep>(&action)) {
        if (const auto v = peerValue(m_peerSockets, *expect, m_params, m_bound);
            v && holds(expect->op, *v, expect->value))
            completeStep(nowNs, fmt::format("the peer's kernel says {} = {}", expect->field,
                                            expect->field == "state" ? peer::linuxStateName(*v)
                                                                     : std::to_string(*v)));
        return;
    }
    if (const auto* receive = std::get_if<ReceiveStep>(&action)) {
        if (receive->until == ReceiveStep::Until::Bytes) {
            if (m_taken >= m_bytesTarget) {
                m_takenCounted = m_bytesTarget;
                m_consumed = m_received.size();
                completeStep(nowNs, fmt::format("got {}", bytesText(receive->bytes)));
            } else if (m_peerFin)
                failStep(nowNs, fmt::format("the peer closed the connection (FIN) after {} of "
                                            "the {} expected",
                                            bytesText(receive->bytes - (m_bytesTarget - m_taken)),
                                            bytesText(receive->bytes)));
            return;
        }
        if (receive->until == ReceiveStep::Until::PeerFin) {
            if (m_peerFin)
                completeStep(nowNs, fmt::format("got the peer's FIN after {} of data",
                                                bytesText(m_received.size() - m_consumed)));
            return;
        }
        const Bytes data = Bytes(m_received).subspan(m_consumed);
        const bool head = startsWith(Bytes(m_params.request), "HEAD ");
        const HttpCheck check = checkHttpResponse(data, m_peerFin, head);
        switch (check.state) {
        case HttpCheck::State::Complete:
            m_consumed += check.end;
            completeStep(nowNs, fmt::format("got the response: {}", bytesText(check.end)));
            return;
        case HttpCheck::State::Malformed:
            failStep(nowNs, fmt::format("expected an HTTP response; {}", check.progress));
            return;
        case HttpCheck::State::Incomplete:
            if (m_peerFin)
                failStep(nowNs, data.empty()
                                    ? std::string("the peer closed the connection (FIN) without a "
                                                  "response")
                                    : fmt::format("the peer closed the connection (FIN) before the "
                                                  "response was whole: {}",
                                                  check.progress));
            return;
        }
        return;
    }
    if (const auto* wait = std::get_if<WaitStep>(&action)) {
        const bool acked = m_sndUna == m_sndNxt;
        if ((!wait->acked || acked) && (!wait->peerFin || m_peerFin)) {
            std::string what;
            if (wait->acked)
                what = fmt::format("everything we sent is acknowledged (snd.una={})",
                                   m_sndUna.value());
            if (wait->peerFin)
                what += std::string(what.empty() ? "" : " and ") + "the peer's FIN arrived";
            completeStep(nowNs, what.empty() ? std::string("nothing to wait for") : what);
        }
    }
}

void ScenarioRunner::completeStep(std::int64_t nowNs, std::string message) {
    StepResult& result = m_results[m_current];
    result.status = StepResult::Status::Done;
    result.endNs = nowNs;
    m_stepDeadline.reset();
    m_events.push_back({ScenarioEvent::Kind::StepDone, m_current, nowNs, std::move(message)});
}

void ScenarioRunner::failStep(std::int64_t nowNs, const std::string& reason) {
    if (m_finished)
        return;
    if (m_current >= m_results.size()) {
        // Only cancel() can get here (a scenario without steps never waits).
        m_failed = true;
        m_finished = true;
        m_events.push_back({ScenarioEvent::Kind::Finished, m_current, nowNs, reason});
        return;
    }
    StepResult& result = m_results[m_current];
    if (result.status == StepResult::Status::Pending)
        result.startNs = nowNs;
    result.status = StepResult::Status::Failed;
    result.endNs = nowNs;
    result.message = fmt::format("{}: {}", stepLabel(m_current), reason);
    m_failed = true;
    m_finished = true;
    m_ackOwed = false;
    m_stepDeadline.reset();
    m_rtxAt.reset();
    m_events.push_back({ScenarioEvent::Kind::StepFailed, m_current, nowNs, result.message});
    m_events.push_back(
        {ScenarioEvent::Kind::Finished, m_current, nowNs, "failed at " + result.message});
}

void ScenarioRunner::finish(std::int64_t nowNs) {
    m_finished = true;
    m_stepDeadline.reset();
    m_rtxAt.reset();
    m_events.push_back({ScenarioEvent::Kind::Finished, m_current, nowNs,
                        fmt::format("all {} step{} done", m_scenario.steps.size(),
                                    m_scenario.steps.size() == 1 ? "" : "s")});
}

void ScenarioRunner::cancel(std::int64_t nowNs, const std::string& reason) {
    if (m_finished)
        return;
    m_started = true;
    failStep(nowNs, reason);
}

std::string ScenarioRunner::retransmissionNote() const {
    if (m_current >= m_results.size() || m_results[m_current].retransmissions == 0)
        return {};
    const unsigned n = m_results[m_current].retransmissions;
    return fmt::format(" (we retransmitted {} time{} meanwhile)", n, n == 1 ? "" : "s");
}

void ScenarioRunner::timeout(std::int64_t nowNs) {
    const Step& step = m_scenario.steps[m_current];
    std::visit(
        [&](const auto& a) {
            using T = std::decay_t<decltype(a)>;
            if constexpr (std::is_same_v<T, ExpectStep>) {
                std::string got = "got nothing";
                if (m_seenCount == 1)
                    got = "got " + m_lastSeen;
                else if (m_seenCount > 1)
                    got = fmt::format("got {} segments, the last {}", m_seenCount, m_lastSeen);
                failStep(nowNs,
                         fmt::format("expected {}{}{} within {}; {}{}", flagWords(a.flags),
                                     expressionText(a.seq, "seq"), expressionText(a.ack, "ack"),
                                     durationText(a.withinNs), got, retransmissionNote()));
            } else if constexpr (std::is_same_v<T, ReceiveStep>) {
                const Bytes data = Bytes(m_received).subspan(m_consumed);
                if (a.until == ReceiveStep::Until::Bytes) {
                    failStep(nowNs, fmt::format("expected {} from the peer within {}; got {}{}",
                                                bytesText(a.bytes), durationText(a.withinNs),
                                                bytesText(a.bytes - (m_bytesTarget - m_taken)),
                                                retransmissionNote()));
                    return;
                }
                if (a.until == ReceiveStep::Until::PeerFin) {
                    failStep(nowNs, fmt::format("expected the peer's FIN within {}; got {}{}",
                                                durationText(a.withinNs),
                                                data.empty() ? std::string("no data and no FIN")
                                                             : bytesText(data.size()) +
                                                                   " of data and no FIN",
                                                retransmissionNote()));
                    return;
                }
                const bool head = startsWith(Bytes(m_params.request), "HEAD ");
                const HttpCheck check = checkHttpResponse(data, m_peerFin, head);
                failStep(nowNs, fmt::format("expected a complete HTTP response within {}; {}{}",
                                            durationText(a.withinNs), check.progress,
                                            retransmissionNote()));
            } else if constexpr (std::is_same_v<T, WaitStep>) {
                std::vector<std::string> wanted;
                std::vector<std::string> missing;
                if (a.acked) {
                    wanted.push_back("everything we sent acknowledged");
                    if (m_sndUna != m_sndNxt)
                        missing.push_back(
                            fmt::format("the ACK of {} (snd.una={}, snd.nxt={})",
                                        bytesText(static_cast<std::uint32_t>(m_sndNxt - m_sndUna)),
                                        m_sndUna.value(), m_sndNxt.value()));
                }
                if (a.peerFin) {
                    wanted.push_back("the peer's FIN");
                    if (!m_peerFin)
                        missing.push_back("the peer's FIN");
                }
                const auto join = [](const std::vector<std::string>& v) {
                    std::string s;
                    for (const auto& x : v)
                        s += (s.empty() ? "" : " and ") + x;
                    return s;
                };
                failStep(nowNs, fmt::format("expected {} within {}; still missing {}{}",
                                            join(wanted), durationText(a.withinNs), join(missing),
                                            retransmissionNote()));
            } else if constexpr (std::is_same_v<T, LingerStep>) {
                completeStep(nowNs, fmt::format("lingered {}", durationText(a.durationNs)));
            } else if constexpr (std::is_same_v<T, PeerStep>) {
                failStep(nowNs, fmt::format("{} did not return within {} (a blocking call waits "
                                            "for the other side: add \"background\" to let the "
                                            "next steps run meanwhile)",
                                            peerCallText(a), durationText(a.withinNs)));
            } else if constexpr (std::is_same_v<T, ExpectPeerStep>) {
                const std::string wanted = fmt::format(
                    "{} {} {}", a.field, opText(a.op),
                    a.field == "state" ? peer::linuxStateName(a.value) : std::to_string(a.value));
                const auto v = peerValue(m_peerSockets, a, m_params, m_bound);
                std::string got;
                if (!peerSocket(m_peerSockets, a, m_params, m_bound))
                    got = a.fd || !a.fdVariable.empty()
                              ? fmt::format("no sample of the agent's fd {} came",
                                            a.fd ? std::to_string(*a.fd) : "$" + a.fdVariable)
                              : std::string("no sample of the peer's end of the connection came");
                else if (!v)
                    got = fmt::format("this stack does not report {}", a.field);
                else
                    got = fmt::format("the last sample said {} = {}", a.field,
                                      a.field == "state" ? peer::linuxStateName(*v)
                                                         : std::to_string(*v));
                failStep(nowNs, fmt::format("expected the peer's kernel to say {} within {}; {}",
                                            wanted, durationText(a.withinNs), got));
            }
        },
        step.action);
}

void ScenarioRunner::tick(std::int64_t nowNs, FrameList& out) {
    if (!m_started || m_finished)
        return;
    for (const auto& [id, call] : m_calls) {
        if (call.background && nowNs >= call.deadlineNs) {
            const auto& step = std::get<PeerStep>(m_scenario.steps[call.step].action);
            failBackground(
                call.step, nowNs,
                fmt::format("{} did not return within {}", call.text, durationText(step.withinNs)));
            return;
        }
    }
    if (m_stepDeadline && nowNs >= *m_stepDeadline) {
        timeout(nowNs); // fails the step, or ends a linger
        advance(nowNs, out);
        if (m_finished)
            return;
    }
    if (m_rtxAt && nowNs >= *m_rtxAt)
        retransmit(nowNs, out);
}

void ScenarioRunner::noteSeen(const std::string& description) {
    ++m_seenCount;
    m_lastSeen = description;
}

// ---------------------------------------------------------------------------------
// Received segments.

void ScenarioRunner::onFrame(const Frame& frame, std::int64_t nowNs, FrameList& out) {
    if (!m_started || m_finished)
        return;
    const TcpHeader* tcp = frame.tcp();
    if (!tcp || tcp->dstPort != m_params.sourcePort)
        return;
    // Passive open: the peer's port is the one its SYN comes from.
    const bool learnsPort = m_params.destinationPort == 0;
    if (learnsPort && (tcp->flags & (flags::kSyn | flags::kAck | flags::kRst)) != flags::kSyn)
        return;
    if (!learnsPort && tcp->srcPort != m_params.destinationPort)
        return;
    if (const auto* ip = frame.ipv4()) {
        const auto* peer = std::get_if<Ipv4Address>(&m_params.peer);
        const auto* own = std::get_if<Ipv4Address>(&m_params.phantom);
        if (!peer || !own || ip->src != *peer || ip->dst != *own)
            return;
    } else if (const auto* ip6 = frame.ipv6()) {
        const auto* peer = std::get_if<Ipv6Address>(&m_params.peer);
        const auto* own = std::get_if<Ipv6Address>(&m_params.phantom);
        if (!peer || !own || ip6->src != *peer || ip6->dst != *own)
            return;
    } else {
        return;
    }

    // RFC 9293 §3.10.7: a segment whose checksum fails is dropped, as the peer's own
    // stack would. (A partial checksum left by offload is not a failure.)
    if (frame.diagnostics.has(Diagnostic::TcpChecksumBad))
        return;
    if (learnsPort)
        m_params.destinationPort = tcp->srcPort;

    const Bytes payload = frame.payload();
    const std::string description = describeSegment(*tcp, payload.size());
    if (m_current >= m_scenario.steps.size()) {
        advance(nowNs, out); // only background calls are left: nothing to take
        return;
    }
    const StepAction& action = m_scenario.steps[m_current].action;
    const auto* expect = std::get_if<ExpectStep>(&action);
    const bool expectsSyn = expect && (expect->flags & flags::kSyn);

    // RFC 9293 §3.10.7.4: a RST aborts the connection. A step that does not ask for
    // one cannot go on.
    if (tcp->has(flags::kRst)) {
        if (!expect || !(expect->flags & flags::kRst)) {
            std::string expected;
            if (expect)
                expected = fmt::format("expected {}{}{}; ", flagWords(expect->flags),
                                       expressionText(expect->seq, "seq"),
                                       expressionText(expect->ack, "ack"));
            m_aborted = true;
            failStep(nowNs,
                     fmt::format("{}the peer reset the connection ({})", expected, description));
            return;
        }
    }

    // The peer's SYN fixes IRS (RFC 9293 §3.10.7.3). A SYN-ACK again after the
    // handshake means our ACK was lost: acknowledge it again (§3.10.7.4, "If the
    // connection is in a synchronized state ... send an acknowledgment").
    if (tcp->has(flags::kSyn) && !tcp->has(flags::kRst)) {
        if (!m_irs || expectsSyn) {
            m_irs = tcp->seq;
            m_rcvNxt = tcp->seq + 1;
        } else if (tcp->seq == *m_irs) {
            m_ackOwed = true;
        }
    }

    // The expectation is checked against the variables as they were before this
    // segment's acknowledgment and data count ("expect PA seq=rcv.nxt").
    bool matched = false;
    if (expect) {
        matched = (tcp->flags & expect->flags) == expect->flags;
        if (matched && expect->seq)
            matched = evaluate(*expect->seq) == tcp->seq;
        if (matched && expect->ack)
            matched = tcp->has(flags::kAck) && evaluate(*expect->ack) == tcp->ack;
        if (!matched)
            noteSeen(description);
    }

    if (tcp->has(flags::kRst)) {
        // An expected RST: the connection is gone, nothing more to acknowledge.
        m_aborted = true;
        m_outstanding.clear();
        m_rtxAt.reset();
    } else {
        // RFC 9293 §3.10.7.4, fifth: "If SND.UNA < SEG.ACK =< SND.NXT, then set
        // SND.UNA <- SEG.ACK"; the retransmission queue drops what is covered.
        if (tcp->has(flags::kAck) && m_sndUna < tcp->ack && tcp->ack <= m_sndNxt) {
            m_sndUna = tcp->ack;
            const auto covered =
                std::find_if(m_outstanding.begin(), m_outstanding.end(),
                             [&](const Outstanding& o) { return o.end > m_sndUna; });
            if (covered != m_outstanding.begin()) {
                m_outstanding.erase(m_outstanding.begin(), covered);
                m_rtxCount = 0;
                m_rto = m_params.initialRtoNs;
                // RFC 6298 §5.2/§5.3: stop the timer when all is acknowledged, else
                // restart it.
                if (m_outstanding.empty())
                    m_rtxAt.reset();
                else
                    m_rtxAt = nowNs + m_rto;
            }
        }

        // Data and FIN: only what starts at RCV.NXT is taken (the part of a segment
        // beyond RCV.NXT when it overlaps, RFC 9293 §3.10.7.4 "trimmed"); the rest is
        // answered with a duplicate ACK while a step takes data.
        const bool fin = tcp->has(flags::kFin);
        if (m_rcvNxt && (!payload.empty() || fin)) {
            const SeqNum start = tcp->seq + (tcp->has(flags::kSyn) ? 1 : 0);
            const auto length = static_cast<std::uint32_t>(payload.size());
            const SeqNum end = start + length;
            bool taken = false;
            if (!m_peerFin && start <= *m_rcvNxt &&
                (end > *m_rcvNxt || (fin && end == *m_rcvNxt))) {
                const auto skip =
                    static_cast<std::size_t>(static_cast<std::uint32_t>(*m_rcvNxt - start));
                const auto* receive = std::get_if<ReceiveStep>(&action);
                const bool counting = receive && receive->until == ReceiveStep::Until::Bytes &&
                                      m_results[m_current].status == StepResult::Status::Running;
                m_taken += payload.size() - skip;
                if (!counting)
                    m_received.insert(m_received.end(),
                                      payload.begin() + static_cast<std::ptrdiff_t>(skip),
                                      payload.end());
                m_rcvNxt = end;
                if (fin) {
                    m_rcvNxt = end + 1;
                    m_peerFin = true;
                }
                taken = true;
            }
            if (acksData())
                m_ackOwed = true;
            else if (taken)
                m_unacknowledged = true;
        }
    }

    if (matched)
        completeStep(nowNs, "got " + description);
    advance(nowNs, out);
}

// ---------------------------------------------------------------------------------
// The peer's side: calls and samples.

std::vector<peer::Request> ScenarioRunner::takePeerRequests() {
    std::vector<peer::Request> out;
    out.swap(m_peerOut);
    return out;
}

tl::expected<peer::Request, std::string>
peerRequest(const PeerStep& step, const ConnectionParams& params,
            const std::map<std::string, std::string>& bound) {
    const std::string call =
        expandPeerCall(step.call,
                       {addressText(params.phantom), addressText(params.peer),
                        std::to_string(params.sourcePort), std::to_string(params.destinationPort),
                        std::holds_alternative<Ipv6Address>(params.peer) ? "inet6" : "inet"},
                       bound);
    auto request = peer::parseCall(call);
    if (!request)
        return tl::make_unexpected(
            fmt::format("cannot make the call '{}': {}", call, request.error()));
    return request;
}

std::string ScenarioRunner::peerCallText(const PeerStep& step) const {
    if (auto r = peerRequest(step, m_params, m_bound))
        return peer::describeCall(*r);
    return step.call;
}

void ScenarioRunner::beginPeerStep(const PeerStep& step, std::int64_t nowNs) {
    auto request = peerRequest(step, m_params, m_bound);
    if (!request) {
        failStep(nowNs, request.error());
        return;
    }
    request->id = m_nextCallId++;
    if (m_nextCallId < kFirstCallId)
        m_nextCallId = kFirstCallId;
    const std::string what = peer::describeCall(*request);
    m_calls.emplace_back(request->id,
                         PendingCall{m_current, nowNs + step.withinNs, step.background, what});
    m_peerOut.push_back(std::move(*request));
    if (step.background)
        completeStep(nowNs, fmt::format("started {} in the background", what));
    else
        m_stepDeadline = nowNs + step.withinNs;
}

std::optional<std::string> peerVerdict(const PeerStep& step, const peer::CallRecord& call) {
    const peer::Answer& a = call.answer;
    const std::string line =
        peer::describeCall(call.request) + " " + peer::describeAnswer(call.request, a);
    if (a.outcome == peer::Outcome::Refused)
        return line;
    if (step.anyResult)
        return std::nullopt;
    if (!step.bind.empty()) {
        if (a.result < 0)
            return fmt::format("{}; the call failed, so ${} has no value", line, step.bind);
        return std::nullopt;
    }
    if (!step.result) {
        if (a.result < 0)
            return fmt::format("{}; the call failed (write \"= -1 {}\" if that is what you "
                               "expect)",
                               line, peer::errnoName(a.error));
        return std::nullopt;
    }
    if (a.result != *step.result || (step.error && a.error != *step.error))
        return fmt::format("{}; expected = {}{}", line, *step.result,
                           step.error ? " " + peer::errnoName(*step.error) : std::string());
    return std::nullopt;
}

void ScenarioRunner::failBackground(std::size_t step, std::int64_t nowNs,
                                    const std::string& reason) {
    if (m_finished)
        return;
    StepResult& result = m_results[step];
    result.status = StepResult::Status::Failed;
    result.endNs = nowNs;
    result.message = fmt::format("{}: {}", stepLabel(step), reason);
    m_failed = true;
    m_finished = true;
    m_ackOwed = false;
    m_stepDeadline.reset();
    m_rtxAt.reset();
    m_calls.clear();
    if (m_current < m_results.size() &&
        m_results[m_current].status == StepResult::Status::Running) {
        m_results[m_current].status = StepResult::Status::Failed;
        m_results[m_current].endNs = nowNs;
        m_results[m_current].message =
            fmt::format("{}: stopped, {} failed", stepLabel(m_current), stepLabel(step));
    }
    m_events.push_back({ScenarioEvent::Kind::StepFailed, step, nowNs, result.message});
    m_events.push_back({ScenarioEvent::Kind::Finished, step, nowNs, "failed at " + result.message});
}

void ScenarioRunner::onPeerAnswer(const peer::CallRecord& call, std::int64_t nowNs,
                                  FrameList& out) {
    if (!m_started || m_finished)
        return;
    const auto it = std::find_if(m_calls.begin(), m_calls.end(),
                                 [&](const auto& c) { return c.first == call.answer.id; });
    if (it == m_calls.end())
        return;
    const PendingCall pending = it->second;
    m_calls.erase(it);
    const auto& step = std::get<PeerStep>(m_scenario.steps[pending.step].action);
    const auto verdict = peerVerdict(step, call);
    if (!verdict && !step.bind.empty())
        m_bound[step.bind] = std::to_string(call.answer.result);
    if (pending.background) {
        if (verdict) {
            failBackground(pending.step, nowNs, *verdict);
            return;
        }
        m_events.push_back({ScenarioEvent::Kind::StepDone, pending.step, nowNs,
                            fmt::format("{} {} (background)", peer::describeCall(call.request),
                                        peer::describeAnswer(call.request, call.answer))});
    } else if (pending.step == m_current) {
        if (verdict) {
            failStep(nowNs, *verdict);
            return;
        }
        completeStep(nowNs, peer::describeCall(call.request) + " " +
                                peer::describeAnswer(call.request, call.answer));
    }
    advance(nowNs, out);
}

const peer::SocketSample* peerSocket(const std::map<std::uint64_t, peer::SocketSample>& sockets,
                                     const ExpectPeerStep& step, const ConnectionParams& params,
                                     const std::map<std::string, std::string>& bound) {
    std::optional<int> fd = step.fd;
    if (!step.fdVariable.empty()) {
        const auto it = bound.find(step.fdVariable);
        if (it == bound.end())
            return nullptr;
        fd = std::atoi(it->second.c_str());
    }
    const auto octets = [](const IpAddress& a) {
        std::vector<std::uint8_t> v;
        if (const auto* v4 = std::get_if<Ipv4Address>(&a))
            v.assign(v4->octets.begin(), v4->octets.end());
        else
            v.assign(std::get<Ipv6Address>(a).octets.begin(),
                     std::get<Ipv6Address>(a).octets.end());
        return v;
    };
    const auto peerAddress = octets(params.peer);
    const auto phantomAddress = octets(params.phantom);
    for (const auto& [inode, s] : sockets) {
        if (fd) {
            if (s.fd == *fd)
                return &s;
            continue;
        }
        if (params.destinationPort != 0 && s.local == peerAddress &&
            s.localPort == params.destinationPort && s.remote == phantomAddress &&
            s.remotePort == params.sourcePort)
            return &s;
    }
    return nullptr;
}

std::optional<std::uint64_t> peerValue(const std::map<std::uint64_t, peer::SocketSample>& sockets,
                                       const ExpectPeerStep& step, const ConnectionParams& params,
                                       const std::map<std::string, std::string>& bound) {
    const peer::SocketSample* s = peerSocket(sockets, step, params, bound);
    if (!s)
        return std::nullopt;
    if (step.field == "rqueue")
        return s->receiveQueue;
    if (step.field == "wqueue")
        return s->sendQueue;
    const auto field = peer::fieldByName(step.field);
    if (!field)
        return std::nullopt;
    return peer::TcpInfo::fromPairs(s->fields).get(*field);
}

void updatePeerSockets(std::map<std::uint64_t, peer::SocketSample>& sockets,
                       const peer::Sample& sample) {
    for (const auto& socket : sample.sockets) {
        if (socket.gone)
            sockets.erase(socket.inode);
        else
            sockets[socket.inode] = socket;
    }
}

void ScenarioRunner::onPeerSample(const peer::Sample& sample, std::int64_t nowNs, FrameList& out) {
    updatePeerSockets(m_peerSockets, sample);
    m_peerSampleNs = sample.timeNs;
    if (!m_started || m_finished || m_current >= m_scenario.steps.size())
        return;
    if (std::holds_alternative<ExpectPeerStep>(m_scenario.steps[m_current].action))
        advance(nowNs, out);
}

} // namespace tcplab::engine
