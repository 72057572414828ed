#include "drill/drill_runner.h"

#include "peer/call_text.h"
#include "peer/tcp_info.h"
#include "wire/frame_summary.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace tcplab::drill {

using namespace tcplab::wire;
namespace flag = tcplab::wire::tcp_flags;

namespace {

/// A command line's command as packetdrill names it in its errors: "+0 `tc qdisc ...`"
/// becomes "tc qdisc ...".
std::string_view commandOf(std::string_view line) {
    const auto open = line.find('`');
    const auto close = line.rfind('`');
    return open == std::string_view::npos || close <= open
               ? line
               : line.substr(open + 1, close - open - 1);
}

/// getsockopt(fd, SOL_TCP, TCP_INFO, ...) for %{ }%: room for any kernel's struct tcp_info.
constexpr std::int64_t kSolTcp = 6;
constexpr std::int64_t kTcpInfo = 11;
constexpr std::int64_t kTcpInfoBytes = 512;
/// How often a stepped run looks whether the user let the next line go.
constexpr std::int64_t kGatePollNs = 50'000'000;

constexpr std::int64_t kNsPerUs = 1000;
/// packetdrill waits this long past an outbound packet's time before "Timed out waiting
/// for packet" (run_packet.c, sniff_outbound_live_packet).
constexpr std::int64_t kSniffSlackUsecs = 2'000'000;
/// A call without "..." that does not return: packetdrill would hang; we stop.
constexpr std::int64_t kCallLimitUsecs = 10'000'000;

double seconds(std::int64_t usecs) {
    return static_cast<double>(usecs) / 1e6;
}

std::uint8_t flagsOf(std::string_view text) {
    std::uint8_t f = 0;
    for (char c : text) {
        switch (c) {
        case 'F':
            f |= flag::kFin;
            break;
        case 'S':
            f |= flag::kSyn;
            break;
        case 'R':
            f |= flag::kRst;
            break;
        case 'P':
            f |= flag::kPsh;
            break;
        case '.':
            f |= flag::kAck;
            break;
        case 'U':
            f |= flag::kUrg;
            break;
        case 'E':
            f |= flag::kEce;
            break;
        case 'W':
            f |= flag::kCwr;
            break;
        default:
            break;
        }
    }
    return f;
}

std::uint8_t ecnBits(PacketSpec::Ecn ecn) {
    switch (ecn) {
    case PacketSpec::Ecn::Ect0:
        return 2;
    case PacketSpec::Ecn::Ect1:
        return 1;
    case PacketSpec::Ecn::Ce:
        return 3;
    default:
        return 0;
    }
}

std::string checkField(std::string_view name, std::uint32_t expected, std::uint32_t actual) {
    return fmt::format("live packet field {}: expected: {} ({:#x}) vs actual: {} ({:#x})", name,
                       expected, expected, actual, actual);
}

/// packetdrill's short dump of a segment in script space: "S. 0:0(0) ack 1 win 65535 <...>".
std::string shortDump(std::uint8_t flags, std::uint32_t seq, std::size_t length, std::uint32_t ack,
                      std::uint16_t window, const TcpOptionList& options) {
    std::string f;
    if (flags & flag::kFin)
        f += 'F';
    if (flags & flag::kSyn)
        f += 'S';
    if (flags & flag::kRst)
        f += 'R';
    if (flags & flag::kPsh)
        f += 'P';
    if (flags & flag::kAck)
        f += '.';
    if (flags & flag::kUrg)
        f += 'U';
    if (flags & flag::kEce)
        f += 'E';
    if (flags & flag::kCwr)
        f += 'W';
    std::string text = fmt::format("{} {}:{}({})", f, seq, seq + length, length);
    if (flags & flag::kAck)
        text += fmt::format(" ack {}", ack);
    text += fmt::format(" win {}", window);
    if (!options.empty()) {
        std::vector<std::string> parts;
        for (const TcpOption& o : options) {
            switch (o.kind) {
            case tcp_option_kind::kNop:
                parts.emplace_back("nop");
                break;
            case tcp_option_kind::kEol:
                parts.emplace_back("eol");
                break;
            case tcp_option_kind::kMss:
                parts.push_back(fmt::format("mss {}", o.mssValue().value_or(0)));
                break;
            case tcp_option_kind::kWindowScale:
                parts.push_back(fmt::format("wscale {}", o.windowScaleValue().value_or(0)));
                break;
            case tcp_option_kind::kSackPermitted:
                parts.emplace_back("sackOK");
                break;
            case tcp_option_kind::kTimestamps: {
                const auto ts =
                    o.timestampsValue().value_or(std::pair<std::uint32_t, std::uint32_t>{});
                parts.push_back(fmt::format("TS val {} ecr {}", ts.first, ts.second));
                break;
            }
            case tcp_option_kind::kSack: {
                std::size_t count = 0;
                const auto blocks = o.sackBlocks(count);
                std::string s = "sack";
                for (std::size_t i = 0; i < count; ++i)
                    s += fmt::format(" {}:{}", blocks[i].left.value(), blocks[i].right.value());
                parts.push_back(s);
                break;
            }
            default:
                parts.push_back(o.summary());
                break;
            }
            if (o.kind == tcp_option_kind::kEol)
                break;
        }
        text += fmt::format(" <{}>", fmt::join(parts, ","));
    }
    return text;
}

std::uint8_t optionKind(TcpOptionSpec::Kind kind) {
    switch (kind) {
    case TcpOptionSpec::Kind::Nop:
        return tcp_option_kind::kNop;
    case TcpOptionSpec::Kind::Eol:
        return tcp_option_kind::kEol;
    case TcpOptionSpec::Kind::Mss:
        return tcp_option_kind::kMss;
    case TcpOptionSpec::Kind::WindowScale:
        return tcp_option_kind::kWindowScale;
    case TcpOptionSpec::Kind::SackOk:
        return tcp_option_kind::kSackPermitted;
    case TcpOptionSpec::Kind::Sack:
        return tcp_option_kind::kSack;
    case TcpOptionSpec::Kind::Timestamp:
        return tcp_option_kind::kTimestamps;
    case TcpOptionSpec::Kind::FastOpen:
        return 34;
    case TcpOptionSpec::Kind::FastOpenExp:
        return 254;
    case TcpOptionSpec::Kind::Md5:
        return 19;
    }
    return 0;
}

std::string optionText(const TcpOptionSpec& o) {
    switch (o.kind) {
    case TcpOptionSpec::Kind::Mss:
        return fmt::format("mss {}", o.value);
    case TcpOptionSpec::Kind::WindowScale:
        return fmt::format("wscale {}", o.value);
    default:
        return std::string(fmt::format("kind {}", optionKind(o.kind)));
    }
}

} // namespace

DrillRunner::DrillRunner(Plan plan, DrillOptions options, engine::ConnectionParams params,
                         std::string title)
    : m_plan(std::move(plan))
    , m_options(options)
    , m_params(std::move(params))
    , m_steps(planSteps(m_plan, std::move(title)))
    , m_results(m_plan.steps.size())
    , m_times(m_plan.steps.size(), -1)
    , m_endTimes(m_plan.steps.size(), -1)
    , m_ipId(m_params.firstIpId) {
    if (m_params.destinationPort == 0)
        m_params.destinationPort = m_options.bindPort;
}

std::vector<engine::ScenarioEvent> DrillRunner::takeEvents() {
    std::vector<engine::ScenarioEvent> events;
    events.swap(m_events);
    return events;
}

std::vector<peer::Request> DrillRunner::takePeerRequests() {
    std::vector<peer::Request> out;
    out.swap(m_peerOut);
    return out;
}

std::int64_t DrillRunner::scriptNowUsecs(std::int64_t nowNs) const {
    return scriptUsecsAt(nowNs);
}

std::int64_t DrillRunner::scriptUsecsAt(std::int64_t atNs) const {
    // The last pause that began at or before atNs: within it the clock stands still.
    const auto after =
        std::upper_bound(m_pauses.begin(), m_pauses.end(), atNs,
                         [](std::int64_t t, const Pause& p) { return t < p.fromNs; });
    std::int64_t paused = 0;
    if (after != m_pauses.begin()) {
        const Pause& p = *std::prev(after);
        paused = atNs < p.toNs ? p.pausedNs - (p.toNs - atNs) : p.pausedNs;
    }
    return (atNs - m_startNs - paused) / kNsPerUs;
}

std::int64_t DrillRunner::dueNs(std::size_t index) const {
    return m_startNs + m_pausedNs + m_times[index] * kNsPerUs;
}

void DrillRunner::start(std::int64_t nowNs, FrameList& out) {
    if (m_started)
        return;
    m_started = true;
    m_startNs = nowNs;
    advance(nowNs, out);
}

void DrillRunner::cancel(std::int64_t nowNs, const std::string& reason) {
    if (m_finished)
        return;
    fail(std::min(m_current, m_plan.steps.empty() ? 0 : m_plan.steps.size() - 1), nowNs, "error",
         reason, reason);
}

std::optional<std::int64_t> DrillRunner::nextDeadline() const noexcept {
    if (!m_started || m_finished)
        return std::nullopt;
    if (m_current >= m_plan.steps.size())
        return m_startNs + m_pausedNs + m_options.limitUsecs * kNsPerUs;
    const PlannedStep& step = m_plan.steps[m_current];
    if (gated(m_current)) // the gate is the user's: look again soon
        return std::max(m_startNs, m_lastNowNs) + kGatePollNs;
    if (m_times[m_current] < 0)
        return std::nullopt; // resolved on the next advance
    const std::int64_t due = dueNs(m_current);
    switch (step.kind) {
    case PlannedStep::Kind::Expect: {
        if (step.time.kind == EventTime::Kind::Any)
            return m_startNs + m_pausedNs + (m_times[m_current] + m_options.limitUsecs) * kNsPerUs;
        const std::int64_t end = std::max(m_times[m_current], m_endTimes[m_current]);
        return m_startNs + m_pausedNs + (end + kSniffSlackUsecs) * kNsPerUs;
    }
    case PlannedStep::Kind::Code:
        return m_codeCall ? std::max(due, m_startNs) + kCallLimitUsecs * kNsPerUs : due;
    case PlannedStep::Kind::Call:
    case PlannedStep::Kind::Sysctl:
        // Before its time the step waits for its time (a step is Running from the moment
        // its time is known); once made, for the answer, which wakes the engine itself.
        if (m_waitingCall || m_sysctlsAnswered > 0 || !m_blocking.empty() ||
            std::any_of(m_callSteps.begin(), m_callSteps.end(),
                        [&](const auto& c) { return c.second == m_current; }))
            return std::max(due, m_startNs) + kCallLimitUsecs * kNsPerUs;
        return due;
    case PlannedStep::Kind::Inject:
        return due;
    }
    return due;
}

bool DrillRunner::ours(const Frame& frame) const {
    const TcpHeader* tcp = frame.tcp();
    if (!tcp || tcp->dstPort != m_params.sourcePort)
        return false;
    if (const auto* ip = frame.ipv4()) {
        const auto* peer = std::get_if<Ipv4Address>(&m_params.peer);
        return peer && ip->src == *peer;
    }
    if (const auto* ip = frame.ipv6()) {
        const auto* peer = std::get_if<Ipv6Address>(&m_params.peer);
        return peer && ip->src == *peer;
    }
    return false;
}

void DrillRunner::onFrame(const Frame& frame, std::int64_t nowNs, FrameList& out) {
    if (!m_started || m_finished || !ours(frame))
        return;
    const TcpHeader* tcp = frame.tcp();
    // The kernel's active open names its port (connect()).
    if (tcp->has(flag::kSyn) && !tcp->has(flag::kAck))
        m_params.destinationPort = tcp->srcPort;
    if (tcp->srcPort != m_params.destinationPort)
        return;
    m_arrivals.push_back(
        Arrival{std::vector<std::uint8_t>(frame.bytes.begin(), frame.bytes.end()), nowNs});
    advance(nowNs, out);
}

void DrillRunner::tick(std::int64_t nowNs, FrameList& out) {
    if (!m_started || m_finished)
        return;
    advance(nowNs, out);
}

void DrillRunner::onPeerAnswer(const peer::CallRecord& call, std::int64_t nowNs, FrameList& out) {
    if (m_finished)
        return;
    const auto it = m_callSteps.find(call.request.id);
    if (it == m_callSteps.end())
        return;
    const std::size_t index = it->second;
    m_callSteps.erase(it);
    const PlannedStep& step = m_plan.steps[index];
    if (step.kind == PlannedStep::Kind::Code) {
        m_codeCall.reset();
        const peer::Answer& a = call.answer;
        if (a.outcome != peer::Outcome::Done || a.result < 0) {
            fail(index, nowNs, "error",
                 fmt::format("can't find getsockopt to get TCP info: {}",
                             a.outcome != peer::Outcome::Done ? a.text : peer::errnoName(a.error)),
                 "the peer's stack did not give the socket's tcp_info for the %{ }% block");
            return;
        }
        const peer::TcpInfo info = peer::TcpInfo::fromLinux(a.data);
        for (const peer::TcpInfoFieldInfo& f : peer::tcpInfoFields())
            if (const auto v = info.get(f.field))
                m_codeEnv["tcpi_" + std::string(f.name)] = static_cast<std::int64_t>(*v);
        runCodeStep(index, nowNs);
        advance(nowNs, out);
        return;
    }
    if (step.kind == PlannedStep::Kind::Sysctl) {
        // One line of a command: a sysctl, or a program (tc, ip) whose exit status counts.
        const bool checked = m_uncheckedSysctls.erase(call.request.id) == 0;
        const peer::Answer& a = call.answer;
        const bool program = call.request.call == peer::Call::Command;
        if (checked &&
            (a.outcome != peer::Outcome::Done || (program ? a.result != 0 : a.result < 0))) {
            if (program) {
                // packetdrill's words (system.c), then what the program said.
                const std::string said = a.text.substr(0, a.text.find_last_not_of(" \n") + 1);
                fail(index, nowNs, "error",
                     fmt::format("error executing `{}` command: {}", commandOf(step.text),
                                 a.outcome != peer::Outcome::Done
                                     ? a.text
                                     : fmt::format("non-zero status {}", a.result)),
                     fmt::format("'{}' failed in the peer's namespace{}{}",
                                 peer::describeCall(call.request), said.empty() ? "" : ": ", said));
            } else {
                fail(index, nowNs, "error",
                     fmt::format("error executing `{}` command: sysctl {} was refused: {}",
                                 commandOf(step.text), call.request.text,
                                 a.text.empty() ? peer::errnoName(a.error) : a.text),
                     "a sysctl the script sets could not be set in the peer's namespace");
            }
            return;
        }
        if (m_sysctlsAnswered > 0 && --m_sysctlsAnswered == 0)
            complete(index, nowNs);
        advance(nowNs, out);
        return;
    }
    const bool waitedFor = m_waitingCall && *m_waitingCall == call.request.id;
    if (waitedFor)
        m_waitingCall.reset();
    std::erase_if(m_blocking, [&](const Blocking& b) { return b.id == call.request.id; });
    if (!checkAnswer(index, call, nowNs))
        return;
    // packetdrill makes a call itself and goes on the moment it returns; the agent's
    // answer takes a while to reach us (a sample of the sockets goes first). The next
    // line's relative time counts from when the call returned, on the frames' clock.
    const std::int64_t returnedNs = call.answer.startNs + call.answer.durationNs;
    const bool timed =
        waitedFor && call.answer.startNs > 0 && returnedNs <= nowNs && returnedNs >= m_callSentNs;
    // The script's clock stands still from the call's due time to its start (m_pauses);
    // not while stepping, where times are not checked.
    if (timed && !m_options.stepGate && m_times[index] >= 0) {
        const std::int64_t due = dueNs(index);
        if (call.answer.startNs > due && (m_pauses.empty() || due >= m_pauses.back().toNs)) {
            m_pausedNs += call.answer.startNs - due;
            m_pauses.push_back({due, call.answer.startNs, m_pausedNs});
        }
    }
    const std::int64_t doneNs = timed ? returnedNs : nowNs;
    complete(index, doneNs);
    advance(doneNs, out);
}

bool DrillRunner::checkAnswer(std::size_t index, const peer::CallRecord& call, std::int64_t nowNs) {
    const PlannedStep& step = m_plan.steps[index];
    const PlannedCall& c = step.call;
    const peer::Answer& a = call.answer;
    const std::string callText = step.text;
    if (a.outcome != peer::Outcome::Done) {
        fail(index, nowNs, "error", fmt::format("the peer agent did not make the call: {}", a.text),
             fmt::format("the peer agent refused {}: {}",
                         c.request.call == peer::Call::Socket ? "socket()" : "the call", a.text));
        return false;
    }
    const int actualErrno = a.result < 0 ? a.error : 0;
    auto errnoText = [](int e) {
        return fmt::format("{} ({})", e, e ? std::strerror(e) : "Success");
    };
    // Results (end_syscall): an fd is any non-negative number when the script expects one.
    if (c.newFd && c.result >= 0) {
        if (a.result < 0) {
            fail(index, nowNs, "error",
                 fmt::format("Expected non-negative result but got {} with errno {}", a.result,
                             errnoText(actualErrno)),
                 fmt::format("{} failed with {} where the script expects it to succeed",
                             c.request.call == peer::Call::Accept ? "accept()" : "socket()",
                             peer::errnoName(actualErrno)));
            return false;
        }
        m_fds[static_cast<int>(c.result)] = static_cast<int>(a.result);
        if (c.request.call == peer::Call::Accept)
            m_socketUnderTest = static_cast<int>(a.result);
    } else {
        std::int64_t actual = a.result;
        std::int64_t expected = c.result;
        // ioctl(fd, SIOCINQ, [N]) = 0: the agent answers the value as its result.
        if (c.request.call == peer::Call::Ioctl && a.result >= 0)
            actual = 0;
        if (actual != expected) {
            fail(index, nowNs, "error",
                 fmt::format("Expected result {} but got {} with errno {}", expected, actual,
                             errnoText(actualErrno)),
                 a.result < 0
                     ? fmt::format("the call failed with {} ({}) where the script expects {}",
                                   peer::errnoName(actualErrno), std::strerror(actualErrno),
                                   expected)
                     : fmt::format("the call returned {} where the script expects {}", actual,
                                   expected));
            return false;
        }
    }
    if (c.error && actualErrno != *c.error) {
        fail(index, nowNs, "error",
             fmt::format("Expected errno {} ({}) but got {}", *c.error, std::strerror(*c.error),
                         errnoText(actualErrno)),
             fmt::format("the call failed with {} where the script expects {}",
                         peer::errnoName(actualErrno), peer::errnoName(*c.error)));
        return false;
    }
    if (c.value && a.result >= 0) {
        std::int64_t value = a.result;
        std::int64_t expected = *c.value;
        if (c.request.call == peer::Call::GetSockOpt) {
            std::int32_t v = 0;
            if (a.data.size() >= 4)
                std::memcpy(&v, a.data.data(), 4);
            value = v;
            // packetdrill takes [N] as an s32: [4294967295] is TCP_NOTSENT_LOWAT's -1.
            expected = static_cast<std::int32_t>(static_cast<std::uint32_t>(expected));
        }
        if (value != expected) {
            fail(index, nowNs, "error",
                 fmt::format("Bad {} value: expected: {} actual: {}",
                             c.request.call == peer::Call::Ioctl ? "ioctl" : "getsockopt", *c.value,
                             value),
                 fmt::format("the kernel says {} where the script expects {}", value, *c.value));
            return false;
        }
    }
    if (c.request.call == peer::Call::Poll && a.result >= 0) {
        for (std::size_t i = 0; i < c.revents.size(); ++i) {
            const std::int64_t actual = i < a.numbers.size() ? a.numbers[i] : 0;
            if (actual != c.revents[i]) {
                fail(index, nowNs, "error",
                     fmt::format("poll() revents of fd {}: expected: {:#x} actual: {:#x}",
                                 c.pollFds[i], c.revents[i], actual),
                     "poll() reports other events than the script expects");
                return false;
            }
        }
    }
    if (c.request.call == peer::Call::EpollWait && c.epollEvent && a.result >= 0) {
        const std::int64_t events = a.numbers.size() >= 2 ? a.numbers[0] : 0;
        const std::int64_t data = a.numbers.size() >= 2 ? a.numbers[1] : 0;
        if (events != c.epollEvent->first) {
            fail(index, nowNs, "error",
                 fmt::format("epoll_event->events does not match script: expected: {:#x} "
                             "actual: {:#x}",
                             c.epollEvent->first, events),
                 fmt::format("epoll_wait() reports the events {} where the script expects {}",
                             peer::describeEvents(events),
                             peer::describeEvents(c.epollEvent->first)));
            return false;
        }
        std::int64_t expected = c.epollEvent->second;
        if (c.epollDataIsFd) {
            const auto it = m_fds.find(static_cast<int>(expected));
            if (it == m_fds.end()) {
                fail(index, nowNs, "error", fmt::format("bad script fd {}", expected),
                     fmt::format("the epoll_event names fd {}, which no call of the script "
                                 "returned",
                                 expected));
                return false;
            }
            expected = it->second;
        }
        if (data != expected) {
            fail(index, nowNs, "error",
                 fmt::format("epoll_event->data does not match script: expected: {} actual: {}",
                             expected, data),
                 "epoll_wait() returned the event of another fd than the script expects");
            return false;
        }
    }
    if (c.endUsecs) {
        // A blocking call must return at its end time (run_system_call.c).
        const std::int64_t end = m_endTimes[index];
        if (auto e = verifyTime(EventTime{EventTime::Kind::Absolute, end, 0}, end, 0,
                                a.startNs + a.durationNs, m_times[index], "system call return")) {
            fail(index, nowNs, "error", *e,
                 "the blocking call returned at another time than the script says");
            return false;
        }
    }
    if (c.request.call == peer::Call::Close)
        std::erase_if(m_fds, [&](const auto& kv) { return kv.first == c.request.fd; });
    return true;
}

std::optional<std::string> DrillRunner::verifyTime(const EventTime& time, std::int64_t scriptUsecs,
                                                   std::int64_t scriptEndUsecs, std::int64_t liveNs,
                                                   std::optional<std::int64_t> lastEventUsecs,
                                                   std::string_view description) const {
    if (time.kind == EventTime::Kind::Any || m_options.stepGate)
        return std::nullopt; // stepping: what is sent and received, not when
    const std::int64_t actual = scriptUsecsAt(liveNs);
    std::int64_t tolerance = m_options.toleranceUsecs;
    if (lastEventUsecs) {
        const auto dynamic =
            static_cast<std::int64_t>(m_options.tolerancePercent / 100.0 *
                                      static_cast<double>(scriptUsecs - *lastEventUsecs));
        tolerance = std::max(tolerance, dynamic);
    }
    if (time.kind == EventTime::Kind::AbsoluteRange ||
        time.kind == EventTime::Kind::RelativeRange) {
        if (actual < scriptUsecs - tolerance || actual > scriptEndUsecs + tolerance)
            return fmt::format("timing error: expected {} in time range {:.6f}~{:.6f} sec but "
                               "happened at {:.6f} sec",
                               description, seconds(scriptUsecs), seconds(scriptEndUsecs),
                               seconds(actual));
        return std::nullopt;
    }
    if (actual < scriptUsecs - tolerance || actual > scriptUsecs + tolerance)
        return fmt::format("timing error: expected {} at {:.6f} sec but happened at {:.6f} sec; "
                           "tolerance {:.6f} sec",
                           description, seconds(scriptUsecs), seconds(actual), seconds(tolerance));
    return std::nullopt;
}

void DrillRunner::advance(std::int64_t nowNs, FrameList& out) {
    m_lastNowNs = nowNs;
    while (!m_finished && m_current < m_plan.steps.size()) {
        if (!runStep(nowNs, out))
            return;
    }
    if (!m_finished && m_current >= m_plan.steps.size()) {
        if (!m_blocking.empty()) {
            if (nowNs > m_startNs + m_pausedNs + m_options.limitUsecs * kNsPerUs)
                fail(m_blocking.front().step, nowNs, "error", "the blocking call never returned",
                     "a blocking call was still waiting when the script ended");
            return;
        }
        finish(nowNs);
    }
}

bool DrillRunner::runStep(std::int64_t nowNs, FrameList& out) {
    const std::size_t i = m_current;
    const PlannedStep& step = m_plan.steps[i];
    engine::StepResult& result = m_results[i];
    if (gated(i))
        return false;
    if (m_times[i] < 0) {
        // adjust_relative_event_times (run.c): relative to the previous event's script time
        // when both are inbound packets, else to now.
        const bool relative = step.time.kind == EventTime::Kind::Relative ||
                              step.time.kind == EventTime::Kind::RelativeRange ||
                              step.time.kind == EventTime::Kind::Any;
        std::int64_t offset = 0;
        if (relative) {
            const bool anchored = i > 0 && m_plan.steps[i - 1].kind == PlannedStep::Kind::Inject &&
                                  step.kind == PlannedStep::Kind::Inject;
            offset = anchored ? m_times[i - 1] : scriptNowUsecs(nowNs);
        }
        m_times[i] = step.time.usecs + offset;
        // Stepping: a line the user let go late happens now, not in the past.
        if (m_options.stepGate && !relative)
            m_times[i] = std::max(m_times[i], scriptNowUsecs(nowNs));
        m_endTimes[i] = step.time.kind == EventTime::Kind::AbsoluteRange ||
                                step.time.kind == EventTime::Kind::RelativeRange
                            ? step.time.endUsecs +
                                  (step.time.kind == EventTime::Kind::RelativeRange ? offset : 0)
                            : m_times[i];
        if (step.kind == PlannedStep::Kind::Call && step.call.endUsecs)
            m_endTimes[i] =
                *step.call.endUsecs + (step.time.kind == EventTime::Kind::Relative ? offset : 0);
        // Absolute times are never in the past of the previous event.
        result.status = engine::StepResult::Status::Running;
        result.startNs = nowNs;
        m_events.push_back({engine::ScenarioEvent::Kind::StepStarted, i, nowNs, step.text});
    }
    switch (step.kind) {
    case PlannedStep::Kind::Inject:
        if (nowNs < dueNs(i))
            return false;
        inject(step, nowNs, out);
        complete(i, nowNs);
        return true;
    case PlannedStep::Kind::Expect:
        return expectPacket(step, nowNs);
    case PlannedStep::Kind::Sysctl:
        if (m_sysctlsAnswered > 0 || !m_callSteps.empty()) {
            if (nowNs > dueNs(i) + kCallLimitUsecs * kNsPerUs) {
                fail(i, nowNs, "error",
                     fmt::format("error executing `{}` command: no answer", commandOf(step.text)),
                     "the peer agent did not answer");
            }
            return false;
        }
        if (nowNs < dueNs(i))
            return false;
        if (step.sysctls.empty()) {
            complete(i, nowNs);
            return true;
        }
        for (const SysctlSetting& setting : step.sysctls) {
            peer::Request r;
            r.id = m_nextId++;
            if (setting.command.empty()) {
                r.call = peer::Call::Sysctl;
                r.text = setting.key;
                r.data.assign(setting.value.begin(), setting.value.end());
            } else {
                r.call = peer::Call::Command;
                r.text = setting.command[0];
                for (std::size_t k = 1; k < setting.command.size(); ++k) {
                    const std::string& w = setting.command[k];
                    const std::string arg = w == "tun0"      ? m_options.peerInterface
                                            : w == "$remote" ? addressText(m_params.phantom)
                                                             : w;
                    r.data.insert(r.data.end(), arg.begin(), arg.end());
                    r.data.push_back(0);
                }
            }
            if (!setting.checked)
                m_uncheckedSysctls.insert(r.id);
            m_callSteps[r.id] = i;
            m_peerOut.push_back(std::move(r));
        }
        m_sysctlsAnswered = step.sysctls.size();
        return false;
    case PlannedStep::Kind::Code:
        if (m_codeCall)
            return false;
        if (nowNs < dueNs(i))
            return false;
        if (m_waitingCall || m_sysctlsAnswered > 0)
            return false; // the socket's state once the call before it has returned
        if (namesRead(*step.code).empty()) {
            runCodeStep(i, nowNs);
            return !m_finished;
        }
        if (!m_socketUnderTest) {
            fail(i, nowNs, "error", "no socket under test for %{ }% (no accept() or connect() yet)",
                 "a %{ }% block reads tcp_info, which belongs to the socket of the last accept() "
                 "or connect(): the script has made neither");
            return false;
        }
        {
            peer::Request r;
            r.id = m_nextId++;
            r.call = peer::Call::GetSockOpt;
            r.fd = *m_socketUnderTest;
            r.numbers = {kSolTcp, kTcpInfo, kTcpInfoBytes};
            m_codeCall = r.id;
            m_callSteps[r.id] = i;
            m_peerOut.push_back(std::move(r));
        }
        return false;
    case PlannedStep::Kind::Call:
        if (m_waitingCall) {
            if (nowNs > dueNs(i) + kCallLimitUsecs * kNsPerUs)
                fail(i, nowNs, "error", "the system call did not return",
                     fmt::format("{} did not return within {} s (a blocking call is written "
                                 "with ...TIME before its name)",
                                 step.text, kCallLimitUsecs / 1'000'000));
            return false;
        }
        if (result.status == engine::StepResult::Status::Running && m_callSteps.empty() &&
            m_blocking.empty() && result.endNs != 0)
            return true;
        if (nowNs < dueNs(i))
            return false;
        if (!m_blocking.empty())
            return false; // packetdrill's await_idle_thread: one blocking call at a time
        sendCall(i, nowNs);
        if (m_finished)
            return false;
        if (step.call.endUsecs) {
            ++m_current; // a blocking call runs on while the script goes on
            return true;
        }
        return false;
    }
    return false;
}

void DrillRunner::runCodeStep(std::size_t index, std::int64_t nowNs) {
    if (m_codeEnv.find("TCP_ESTABLISHED") == m_codeEnv.end())
        addCodeConstants(m_codeEnv);
    std::vector<std::string> printed;
    const auto failure = runCode(*m_plan.steps[index].code, m_codeEnv, printed);
    for (const std::string& line : printed)
        m_events.push_back({engine::ScenarioEvent::Kind::StepDone, index, nowNs, "print: " + line});
    if (failure) {
        fail(index, nowNs, "error", fmt::format("runtime error in code: {}", *failure),
             "the kernel's tcp_info does not hold what the script asserts");
        return;
    }
    complete(index, nowNs);
}

void DrillRunner::sendCall(std::size_t index, std::int64_t nowNs) {
    const PlannedStep& step = m_plan.steps[index];
    const PlannedCall& c = step.call;
    peer::Request r = c.request;
    r.id = m_nextId++;
    auto live = [&](int scriptFd) -> std::optional<int> {
        const auto it = m_fds.find(scriptFd);
        if (it == m_fds.end())
            return std::nullopt;
        return it->second;
    };
    if (r.fd >= 0 || r.call != peer::Call::Socket) {
        if (r.call != peer::Call::Socket && r.call != peer::Call::Poll &&
            r.call != peer::Call::EpollCreate) {
            const auto fd = live(r.fd);
            if (!fd) {
                fail(index, nowNs, "error", fmt::format("bad script fd {}", r.fd),
                     fmt::format("the script uses fd {}, which no socket() or accept() of it "
                                 "returned",
                                 r.fd));
                return;
            }
            r.fd = *fd;
        }
    }
    if (r.call == peer::Call::Poll) {
        for (std::size_t k = 0; k < c.pollFds.size(); ++k) {
            const auto fd = live(c.pollFds[k]);
            r.numbers[1 + 2 * k] = fd ? *fd : -1;
        }
    }
    if (r.call == peer::Call::EpollCtl && !c.pollFds.empty()) {
        const auto fd = live(c.pollFds[0]);
        if (!fd) {
            fail(index, nowNs, "error", fmt::format("bad script fd {}", c.pollFds[0]),
                 fmt::format("epoll_ctl() names fd {}, which no call of the script returned",
                             c.pollFds[0]));
            return;
        }
        r.numbers[1] = *fd;
        if (c.epollDataIsFd)
            r.numbers[3] = *fd;
    }
    if (c.fill == PlannedCall::Fill::PeerAddress) {
        r.text = addressText(m_params.peer);
        r.numbers = {m_options.bindPort};
    } else if (c.fill == PlannedCall::Fill::PhantomAddress) {
        r.text = addressText(m_params.phantom);
        r.numbers = {m_params.sourcePort};
    }
    if (r.call == peer::Call::Write && !c.zeroData)
        m_zeroWrites = false;
    if (r.call == peer::Call::Connect)
        m_socketUnderTest = r.fd;
    m_callSteps[r.id] = index;
    if (c.endUsecs)
        m_blocking.push_back({index, r.id});
    else
        m_waitingCall = r.id;
    m_callSentNs = nowNs;
    m_peerOut.push_back(std::move(r));
}

void DrillRunner::inject(const PlannedStep& step, std::int64_t, FrameList& out) {
    const PacketSpec& p = step.packet;
    SegmentSpec spec;
    spec.ethernet.src = m_params.phantomMac;
    spec.ethernet.dst = m_params.nextHopMac;
    const std::uint8_t tos = static_cast<std::uint8_t>(p.tos.value_or(0) | ecnBits(p.ecn));
    if (const auto* peer4 = std::get_if<Ipv4Address>(&m_params.peer)) {
        Ipv4Header ip;
        ip.src = std::get<Ipv4Address>(m_params.phantom);
        ip.dst = *peer4;
        ip.ttl = p.ttl.value_or(m_params.ttl);
        ip.tos = tos;
        ip.id = m_ipId++;
        spec.ip = ip;
    } else {
        Ipv6Header ip;
        ip.src = std::get<Ipv6Address>(m_params.phantom);
        ip.dst = std::get<Ipv6Address>(m_params.peer);
        ip.hopLimit = p.ttl.value_or(m_params.ttl);
        ip.trafficClass = tos;
        ip.flowLabel = p.flowLabel.value_or(0);
        spec.ip = ip;
    }
    TcpHeader& tcp = spec.tcp;
    tcp.srcPort = m_params.sourcePort;
    tcp.dstPort = m_params.destinationPort;
    tcp.flags = flagsOf(p.flags);
    tcp.seq = SeqNum(p.seq);
    const std::uint32_t ackOffset =
        m_liveLocalIsn && m_scriptLocalIsn ? *m_liveLocalIsn - *m_scriptLocalIsn : 0;
    if (p.ack)
        tcp.ack = SeqNum(*p.ack + ((tcp.flags & flag::kAck) ? ackOffset : 0));
    tcp.window = p.window.value_or(0);
    tcp.urgentPointer = p.urgent.value_or(0);
    if (p.options) {
        for (const TcpOptionSpec& o : *p.options) {
            switch (o.kind) {
            case TcpOptionSpec::Kind::Nop:
                tcp.options.append(TcpOption::nop());
                break;
            case TcpOptionSpec::Kind::Eol:
                tcp.options.append(TcpOption::eol());
                break;
            case TcpOptionSpec::Kind::Mss:
                tcp.options.append(TcpOption::mss(static_cast<std::uint16_t>(o.value)));
                break;
            case TcpOptionSpec::Kind::WindowScale:
                tcp.options.append(TcpOption::windowScale(static_cast<std::uint8_t>(o.value)));
                break;
            case TcpOptionSpec::Kind::SackOk:
                tcp.options.append(TcpOption::sackPermitted());
                break;
            case TcpOptionSpec::Kind::Sack: {
                std::vector<SackBlock> blocks;
                for (const auto& [l, r] : o.blocks)
                    blocks.push_back({SeqNum(l + ackOffset), SeqNum(r + ackOffset)});
                tcp.options.append(TcpOption::sack(blocks));
                break;
            }
            case TcpOptionSpec::Kind::Timestamp: {
                // The echo refers to one of the kernel's TS vals: the live value of the one
                // the script named, else interpolated from the first (run_packet.c).
                std::uint32_t ecr = o.echo;
                if (const auto it = m_tsVals.find(o.echo); it != m_tsVals.end())
                    ecr = it->second;
                else if (m_firstTsVal && o.echo != 0)
                    ecr = o.echo - m_firstTsVal->first + m_firstTsVal->second;
                tcp.options.append(TcpOption::timestamps(o.value, ecr));
                break;
            }
            default: {
                std::vector<std::uint8_t> data;
                for (std::size_t k = 0; k + 1 < o.cookie.size(); k += 2)
                    data.push_back(
                        static_cast<std::uint8_t>(std::stoi(o.cookie.substr(k, 2), nullptr, 16)));
                tcp.options.append(
                    TcpOption::raw(optionKind(o.kind), Bytes(data.data(), data.size())));
                break;
            }
            }
        }
    }
    // packetdrill's tun takes a segment of any size; the lab's link carries 1500-byte
    // frames. A longer segment goes out as the segments a GSO of it would make: the same
    // headers, FIN and PSH on the last only, CWR on the first only (tcp_gso_segment).
    const std::size_t headers =
        (std::holds_alternative<Ipv4Header>(spec.ip) ? 20 : 40) + 20 + tcp.options.paddedSize();
    const std::size_t most = m_options.linkMtu > headers ? m_options.linkMtu - headers : 1;
    const std::uint8_t lastOnly = flag::kFin | flag::kPsh;
    std::size_t sent = 0;
    do {
        SegmentSpec piece = spec;
        const std::size_t n = std::min<std::size_t>(most, p.length - sent);
        piece.tcp.seq = tcp.seq + static_cast<std::uint32_t>(sent);
        piece.payload.assign(n, 0);
        if (sent + n < p.length)
            piece.tcp.flags &= static_cast<std::uint8_t>(~lastOnly);
        if (sent > 0)
            piece.tcp.flags &= static_cast<std::uint8_t>(~flag::kCwr);
        if (auto bytes = piece.encode())
            out.push_back(std::move(*bytes));
        sent += n;
    } while (sent < p.length);
}

bool DrillRunner::expectPacket(const PlannedStep& step, std::int64_t nowNs) {
    const std::size_t i = m_current;
    const PacketSpec& p = step.packet;
    auto timedOut = [&] {
        const auto deadline = nextDeadline();
        return deadline && nowNs >= *deadline;
    };
    if (m_arrivals.empty()) {
        if (timedOut())
            fail(i, nowNs, "error",
                 fmt::format("Timed out waiting for packet\nscript packet: {:9.6f} {}",
                             seconds(m_times[i]), formatPacket(p)),
                 fmt::format("the peer's kernel sent nothing on the connection by {:.3f} s, where "
                             "the script expects {}",
                             seconds(std::max(m_times[i], m_endTimes[i]) + kSniffSlackUsecs),
                             formatPacket(p)));
        return false;
    }
    // Merge consecutive segments up to the payload the script expects (packetdrill's
    // remote mode: a TSO/GSO super-segment arrives on the wire as MSS-sized segments).
    const Frame first = decodeFrame(m_arrivals.front().bytes);
    const TcpHeader& tcp = *first.tcp();
    std::vector<std::uint8_t> payload(first.payload().begin(), first.payload().end());
    std::uint8_t flags = tcp.flags;
    std::size_t used = 1;
    SeqNum next = tcp.seq + static_cast<std::uint32_t>(payload.size());
    std::uint32_t ack = tcp.ack.value();
    std::uint16_t window = tcp.window;
    while (!m_options.strictSegments && payload.size() < p.length && !payload.empty() &&
           !(flags & (flag::kFin | flag::kSyn))) {
        if (used == m_arrivals.size()) {
            if (!timedOut())
                return false; // more of it is on its way
            break;
        }
        const Frame more = decodeFrame(m_arrivals[used].bytes);
        const TcpHeader& t = *more.tcp();
        if (t.seq != next || more.payloadLength == 0 || (t.flags & (flag::kSyn | flag::kRst)))
            break;
        payload.insert(payload.end(), more.payload().begin(), more.payload().end());
        next = next + more.payloadLength;
        flags |= t.flags;
        ack = t.ack.value();
        window = t.window;
        ++used;
    }
    const std::int64_t atNs = m_arrivals.front().atNs;
    m_arrivals.erase(m_arrivals.begin(), m_arrivals.begin() + static_cast<std::ptrdiff_t>(used));

    const std::uint8_t expectedFlags = flagsOf(p.flags);
    // The kernel's ISN: learnt from its SYN or SYN-ACK.
    if ((flags & flag::kSyn) && (expectedFlags & flag::kSyn) && !m_liveLocalIsn) {
        m_liveLocalIsn = tcp.seq.value();
        m_scriptLocalIsn = p.seq;
    }
    const std::uint32_t seqOffset =
        m_liveLocalIsn && m_scriptLocalIsn ? *m_scriptLocalIsn - *m_liveLocalIsn : 0;
    const std::uint32_t seq = tcp.seq.value() + seqOffset;
    TcpOptionList actualOptions = tcp.options;
    std::string actualDump =
        fmt::format("{:9.6f} {}", seconds(scriptUsecsAt(atNs)),
                    shortDump(flags, seq, payload.size(), ack, window, actualOptions));
    const std::string scriptDump = fmt::format("{:9.6f} {}", seconds(m_times[i]), formatPacket(p));
    auto mismatch = [&](const std::string& what, const std::string& plain) {
        fail(i, nowNs, "error handling packet",
             fmt::format("{}\nscript packet: {}\nactual packet: {}", what, scriptDump, actualDump),
             plain);
        return false;
    };
    // The IP layer.
    if (p.ecn != PacketSpec::Ecn::None) {
        const std::uint8_t tosByte = first.ipv4() ? first.ipv4()->tos : first.ipv6()->trafficClass;
        const std::uint8_t bits = tosByte & 3;
        if (p.ecn == PacketSpec::Ecn::Ect01) {
            if (bits != 1 && bits != 2)
                return mismatch(fmt::format("live packet field ip_ecn: expected: 0x1 or 0x2 vs "
                                            "actual: {:#x}",
                                            bits),
                                "the segment is not ECN-capable (ECT) where the script expects it");
        } else if (bits != ecnBits(p.ecn)) {
            return mismatch(checkField("ip_ecn", ecnBits(p.ecn), bits),
                            "the segment's ECN bits are not what the script expects");
        }
    }
    if (payload.size() != p.length)
        return mismatch(fmt::format("live packet payload: expected {} bytes vs actual {} bytes",
                                    p.length, payload.size()),
                        fmt::format("the kernel sent {} bytes of data where the script expects {}",
                                    payload.size(), p.length));
    // The TCP header, field by field as verify_outbound_live_headers() checks them.
    struct FlagField {
        std::string_view name;
        std::uint8_t bit;
    };
    static constexpr FlagField kFlagFields[] = {{"tcp_fin", flag::kFin}, {"tcp_syn", flag::kSyn},
                                                {"tcp_rst", flag::kRst}, {"tcp_psh", flag::kPsh},
                                                {"tcp_ack", flag::kAck}, {"tcp_urg", flag::kUrg},
                                                {"tcp_ece", flag::kEce}, {"tcp_cwr", flag::kCwr}};
    for (const FlagField& f : kFlagFields) {
        // Merged from wire segments: without TSO the kernel marks PSH on other segments than
        // it would on the one super-segment packetdrill's tun sees, so PSH says nothing.
        if (f.bit == flag::kPsh && used > 1)
            continue;
        const std::uint32_t want = (expectedFlags & f.bit) ? 1 : 0;
        const std::uint32_t have = (flags & f.bit) ? 1 : 0;
        if (want != have)
            return mismatch(checkField(f.name, want, have),
                            fmt::format("the kernel sent {} where the script expects {}",
                                        tcpFlagsToWords(flags), tcpFlagsToWords(expectedFlags)));
    }
    if (seq != p.seq)
        return mismatch(checkField("tcp_seq", p.seq, seq),
                        fmt::format("the kernel's segment starts at {} where the script expects "
                                    "{} (relative to its ISN)",
                                    seq, p.seq));
    const std::uint32_t expectedAck = p.ack.value_or(0);
    if ((expectedFlags & flag::kAck) && ack != expectedAck)
        return mismatch(checkField("tcp_ack_seq", expectedAck, ack),
                        fmt::format("the kernel acknowledges {} where the script expects {}", ack,
                                    expectedAck));
    if (p.window && window != *p.window)
        return mismatch(checkField("tcp_window", *p.window, window),
                        fmt::format("the kernel advertises a window of {} where the script "
                                    "expects {}",
                                    window, *p.window));
    // The options, in order (verify_outbound_live_tcp_options).
    if (p.options) {
        auto it = actualOptions.begin();
        std::size_t k = 0;
        for (;; ++k) {
            const bool scriptDone = k >= p.options->size();
            const bool actualDone = it == actualOptions.end();
            if (scriptDone && actualDone)
                break;
            if (scriptDone || actualDone || it->kind != optionKind((*p.options)[k].kind))
                return mismatch("bad outbound TCP options",
                                "the kernel's TCP options are not the ones the script lists, in "
                                "its order");
            const TcpOptionSpec& o = (*p.options)[k];
            std::optional<std::string> bad;
            switch (o.kind) {
            case TcpOptionSpec::Kind::Mss:
                if (it->mssValue() != o.value)
                    bad = fmt::format("mss {}", it->mssValue().value_or(0));
                break;
            case TcpOptionSpec::Kind::WindowScale:
                if (it->windowScaleValue() != o.value)
                    bad = fmt::format("wscale {}", it->windowScaleValue().value_or(0));
                break;
            case TcpOptionSpec::Kind::Sack: {
                std::size_t count = 0;
                const auto blocks = it->sackBlocks(count);
                bool same = count == o.blocks.size();
                for (std::size_t b = 0; same && b < count; ++b)
                    same = blocks[b].left.value() == o.blocks[b].first &&
                           blocks[b].right.value() == o.blocks[b].second;
                if (!same)
                    bad = "sack";
                break;
            }
            case TcpOptionSpec::Kind::Timestamp: {
                const auto ts = it->timestampsValue();
                if (ts) {
                    m_tsVals[o.value] = ts->first;
                    if (!m_firstTsVal)
                        m_firstTsVal = std::pair{o.value, ts->first};
                }
                // run_packet.c: the live TS val in script space (the first one the socket
                // sent is the baseline), within the tolerance of the time since the start.
                if (ts && m_options.tcpTsTickUsecs > 0) {
                    const std::uint32_t inScript =
                        m_firstTsVal->first + (ts->first - m_firstTsVal->second);
                    const auto delta =
                        static_cast<std::int64_t>(static_cast<std::int32_t>(inScript - o.value));
                    const std::int64_t tolerance = std::max<std::int64_t>(
                        m_options.toleranceUsecs,
                        static_cast<std::int64_t>(m_options.tolerancePercent / 100.0 *
                                                  static_cast<double>(m_times[i])));
                    if (std::llabs(delta) * m_options.tcpTsTickUsecs > tolerance)
                        return mismatch(
                            fmt::format("bad outbound TCP timestamp value, tolerance {}",
                                        tolerance),
                            fmt::format("the kernel's TS val is {} ticks of {} us off the "
                                        "script's {} (counted from its first TS val)",
                                        delta, m_options.tcpTsTickUsecs, o.value));
                }
                break;
            }
            default:
                break;
            }
            if (bad)
                return mismatch(fmt::format("bad value in outbound TCP option (kind={}): expected: "
                                            "{} actual: {}",
                                            it->kind, optionText(o), *bad),
                                fmt::format("the kernel's option {} differs from the script's {}",
                                            *bad, optionText(o)));
            if (it->kind == tcp_option_kind::kEol)
                break;
            ++it;
        }
    }
    if (m_zeroWrites &&
        std::any_of(payload.begin(), payload.end(), [](std::uint8_t b) { return b != 0; }))
        return mismatch("incorrect outbound data payload",
                        "the kernel's data is not the bytes the script's writes gave it");
    if (auto e = verifyTime(step.time, m_times[i], m_endTimes[i], atNs,
                            i > 0 ? std::optional<std::int64_t>(m_times[i - 1]) : std::nullopt,
                            "outbound packet"))
        return mismatch(*e, fmt::format("the segment came {:.3f} s after the script's start; the "
                                        "script expects it at {:.3f} s (tolerance {:.3f} s)",
                                        seconds(scriptUsecsAt(atNs)), seconds(m_times[i]),
                                        seconds(m_options.toleranceUsecs)));
    complete(i, nowNs);
    return true;
}

void DrillRunner::complete(std::size_t index, std::int64_t nowNs) {
    engine::StepResult& r = m_results[index];
    r.status = engine::StepResult::Status::Done;
    r.endNs = nowNs;
    m_events.push_back(
        {engine::ScenarioEvent::Kind::StepDone, index, nowNs, m_plan.steps[index].text});
    if (index == m_current)
        ++m_current;
}

void DrillRunner::fail(std::size_t index, std::int64_t nowNs, std::string kind, std::string message,
                       std::string explanation) {
    if (m_finished)
        return;
    m_failed = true;
    if (index < m_results.size()) {
        m_results[index].status = engine::StepResult::Status::Failed;
        m_results[index].endNs = nowNs;
        m_results[index].message = message;
        m_failedLine = m_plan.steps[index].line;
    }
    m_failure = fmt::format("{}: {}", kind, message);
    if (index < m_results.size())
        m_results[index].message = m_failure;
    m_explanation = std::move(explanation);
    m_events.push_back({engine::ScenarioEvent::Kind::StepFailed, index, nowNs, m_failure});
    m_finished = true;
    // The run's last word is the explanation (the engine's ScenarioFinished message).
    m_events.push_back({engine::ScenarioEvent::Kind::Finished, index, nowNs, m_explanation});
}

void DrillRunner::finish(std::int64_t nowNs) {
    m_finished = true;
    m_events.push_back({engine::ScenarioEvent::Kind::Finished, m_plan.steps.size(), nowNs,
                        "every line of the script passed"});
}

} // namespace tcplab::drill
