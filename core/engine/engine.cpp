#include "engine/engine.h"

#include "peer/call_text.h"
#include "tcp/tutor.h"
#include "timeline/pcap_file.h"
#include "timeline/peer_records.h"
#include "wire/frame.h"

#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <fmt/format.h>

namespace tcplab::engine {

namespace {

/// Non-blocking reads right after a turn that sent something (see receiveEagerly).
constexpr unsigned kEagerReceiveRounds = 4;

/// The longest poll() wait even with no timer due: an injected clock that jumps (a
/// test's, or the wall clock stepped) is looked at again within this time.
constexpr std::int64_t kMaxPollWaitMs = 1000;
/// Without a wake-up eventfd (its creation failed) commands are noticed by polling.
constexpr std::int64_t kPollWaitWithoutWakeFdMs = 10;
/// Events waiting for a consumer beyond this count: the per-frame ones (answers, send
/// failures) are dropped, so a consumer that never takes events cannot exhaust memory.
constexpr std::size_t kMaxQueuedEvents = 100'000;
/// A link fd that wakes us this many times in a row without delivering a frame is
/// left out of poll() for kIdleLinkBackoff, so a misbehaving back end cannot spin us.
constexpr unsigned kMaxIdleLinkWakes = 64;
constexpr auto kIdleLinkBackoff = std::chrono::milliseconds(10);
/// After this many zero-timeout polls in a row (a timer that stays due), wait 1 ms.
constexpr unsigned kMaxZeroTimeouts = 16;

struct ConfigureCommand {
    host::Identity identity;
    host::HostTiming timing;
    Engine::Probe probe;
};
struct SendCommand {
    std::vector<std::uint8_t> frame;
};
struct RunCommand {
    Scenario scenario;
    ConnectionParams params;
    Engine::RunnerFactory make; ///< empty: a ScenarioRunner of `scenario`
};
struct CancelCommand {};
struct AutoAckCommand {
    bool on = false;
};
struct WindowCommand {
    std::optional<std::uint16_t> window;
};
struct ListenCommand {
    Engine::Listener listener;
};
struct SnapCommand {
    std::size_t bytes = 0;
};
struct AttachAgentCommand {
    std::unique_ptr<peer::AgentClient> agent;
    std::string whyNone;
};
struct PeerCallCommand {
    peer::Request request;
};
using Command =
    std::variant<ConfigureCommand, SendCommand, RunCommand, CancelCommand, AutoAckCommand,
                 WindowCommand, ListenCommand, SnapCommand, AttachAgentCommand, PeerCallCommand>;

/// Engine-initiated samples (after frames) go at most this often; the agent samples on its
/// own every 10 ms besides.
constexpr std::int64_t kFrameSampleIntervalNs = 1'000'000;
/// Agent messages handled per loop turn.
constexpr std::size_t kMaxAgentMessagesPerTurn = 256;

/// Engine::LoopStatistics as the engine thread counts them (read from any thread).
struct LoopCounters {
    std::atomic<std::uint64_t> sleeps{0};
    std::atomic<std::uint64_t> busyPolls{0};
    std::atomic<std::uint64_t> busyPollHits{0};
    std::atomic<std::uint64_t> busyPollNs{0};
};

/// Events that come once per frame: under pressure they are the ones to drop.
bool perFrame(const EngineEvent& e) {
    if (e.kind == EngineEvent::Kind::SendFailed || e.kind == EngineEvent::Kind::ReceiveFailed)
        return true;
    if (e.kind == EngineEvent::Kind::PeerCall)
        return false;
    return e.kind == EngineEvent::Kind::Host && e.host &&
           (e.host->kind == host::HostEvent::Kind::AnsweredArp ||
            e.host->kind == host::HostEvent::Kind::AnsweredNeighborSolicitation);
}

bool isOwnAddress(const host::Identity& identity, const wire::IpAddress& address) {
    if (const auto* v4 = std::get_if<wire::Ipv4Address>(&address))
        return identity.ipv4 && identity.ipv4->address == *v4;
    const auto& v6 = std::get<wire::Ipv6Address>(address);
    return identity.ipv6 && identity.ipv6->address == v6;
}

} // namespace

struct Engine::Impl {
    using FrameList = std::vector<std::vector<std::uint8_t>>;

    /// How to answer on a connection Auto-ACK looks after: the addresses, ports and MACs of
    /// a reply to its latest frame, and which end is the phantom.
    struct ReplyTemplate {
        wire::SegmentSpec spec;
        tcp::Endpoint local;
    };
    struct AckDue {
        bool owed = false; ///< an ACK is due even without new data (tcp::owesAck)
    };

    struct PendingScenario {
        Scenario scenario;
        ConnectionParams params;
        Engine::RunnerFactory make;
        std::optional<wire::IpAddress> resolving; ///< next hop being resolved
    };

    Impl(std::unique_ptr<link::Link> l, std::shared_ptr<timeline::Timeline> t, Options options)
        : link(std::move(l))
        , timeline(std::move(t))
        , clock(options.clock ? std::move(options.clock) : Clock(&timeline::wallClockNanoseconds))
        , maxFramesPerWake(std::max<std::size_t>(options.maxFramesPerWake, 1))
        , sendRate(options.sendRate)
        , sendIntervalNs(sendRate.framesPerSecond == 0
                             ? 0
                             : std::max<std::int64_t>(1'000'000'000 / sendRate.framesPerSecond, 1))
        , wakeFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC))
        , busyPollNs(std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::clamp(options.busyPoll, std::chrono::microseconds{0}, kMaxBusyPoll))
                         .count()) {
        if (!link) {
            linkFailure = "no link was given to the engine";
            receiveStopped = true;
        }
    }
    ~Impl() {
        if (wakeFd >= 0)
            ::close(wakeFd);
    }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    // --- Any thread ------------------------------------------------------------------

    void wake() const noexcept {
        if (wakeFd < 0)
            return;
        const std::uint64_t one = 1;
        // Can only fail when the counter is near 2^64: it is already readable then.
        [[maybe_unused]] const auto n = ::write(wakeFd, &one, sizeof one);
    }

    void post(Command command) {
        if (stopRequested.load(std::memory_order_acquire))
            return;
        {
            std::lock_guard lock(commandMutex);
            commands.push_back(std::move(command));
        }
        wake();
    }

    // --- Engine thread ---------------------------------------------------------------

    void run() {
        engineThread.store(std::this_thread::get_id(), std::memory_order_release);
        std::string reason = "the engine stopped";
        bool clean = true;
        if (!link)
            push({EngineEvent::Kind::LinkFailed, std::nullopt, std::nullopt, false, *linkFailure});
        try {
            loop();
            // A scenario cut short by stop() still ends, so whoever waits for its end
            // learns why.
            if (runner) {
                runner->cancel(clock(), "the engine stopped");
                collectRunnerEvents();
            }
            if (pending)
                finishPending("the engine stopped before the scenario could start");
        } catch (const std::exception& e) {
            clean = false;
            reason = fmt::format("the engine stopped on an internal error: {}", e.what());
        } catch (...) {
            clean = false;
            reason = "the engine stopped on an unknown internal error";
        }
        push({EngineEvent::Kind::Stopped, std::nullopt, std::nullopt, clean, std::move(reason)});
        publishEvents();
        engineThread.store(std::thread::id{}, std::memory_order_release);
    }

    void loop() {
        unsigned zeroTimeouts = 0;
        unsigned idleLinkWakes = 0;
        // The link fd is left out of poll() until then (epoch: not backing off).
        std::chrono::steady_clock::time_point linkBackoffUntil{};
        while (!stopRequested.load(std::memory_order_acquire)) {
            const bool backingOff = std::chrono::steady_clock::now() < linkBackoffUntil;
            const int linkFd = link && !receiveStopped ? link->pollFd() : -1;
            const bool pollLink = linkFd >= 0 && !backingOff;

            std::int64_t timeoutMs = pollTimeoutMs();
            if (backingOff)
                timeoutMs = std::min<std::int64_t>(timeoutMs, kIdleLinkBackoff.count());
            if (timeoutMs == 0 && ++zeroTimeouts > kMaxZeroTimeouts)
                timeoutMs = 1;
            else if (timeoutMs > 0)
                zeroTimeouts = 0;

            // The agent's fd is always polled (-1 when there is none: poll ignores it).
            const int agentFd = agent && !agent->failure() ? agent->pollFd() : -1;
            pollfd fds[3] = {{wakeFd, POLLIN, 0}, {agentFd, POLLIN, 0}, {linkFd, POLLIN, 0}};
            const nfds_t count = pollLink ? 3 : 2;
            waitForWork(fds, count, timeoutMs);
            if (stopRequested.load(std::memory_order_acquire))
                break;

            if (fds[0].revents & POLLIN) {
                std::uint64_t value = 0;
                [[maybe_unused]] const auto n = ::read(wakeFd, &value, sizeof value);
            }
            runCommands();

            if (agentFd >= 0 && fds[1].revents != 0)
                receiveAgent();

            if (pollLink && (fds[2].revents != 0 || link->receiveAgainWithinMs()) &&
                !receiveStopped) {
                const std::size_t delivered = receiveFrames(fds[2].revents);
                if (delivered > 0 || receiveStopped) {
                    idleLinkWakes = 0;
                } else if (++idleLinkWakes >= kMaxIdleLinkWakes) {
                    idleLinkWakes = 0;
                    linkBackoffUntil = std::chrono::steady_clock::now() + kIdleLinkBackoff;
                }
            }

            tick();
            receiveEagerly();
            answerRefusedCalls();
            samplePeerAfterFrames();
            publishEvents();
        }
    }

    /// poll() for the loop: first, while an answer is due (answerDue: this turn sent a frame
    /// or a peer call, or received frames), non-blocking looks for up to busyPollNs, so an
    /// answer within that window is taken without a sleep and a wake-up; then a blocking
    /// poll() of `timeoutMs`. A turn with nothing due never spins: an idle engine sleeps.
    void waitForWork(pollfd* fds, nfds_t count, std::int64_t timeoutMs) {
        const bool spin = std::exchange(answerDue, false) && busyPollNs > 0 && timeoutMs != 0;
        if (spin) {
            const auto start = std::chrono::steady_clock::now();
            const auto until = start + std::chrono::nanoseconds(busyPollNs);
            stats.busyPolls.fetch_add(1, std::memory_order_relaxed);
            for (;;) {
                const int ready = ::poll(fds, count, 0);
                if (ready < 0 && errno != EINTR)
                    throw std::runtime_error(fmt::format("poll failed: {}", std::strerror(errno)));
                const auto now = std::chrono::steady_clock::now();
                if (ready > 0 || now >= until || stopRequested.load(std::memory_order_acquire)) {
                    stats.busyPollNs.fetch_add(
                        static_cast<std::uint64_t>(
                            std::chrono::duration_cast<std::chrono::nanoseconds>(now - start)
                                .count()),
                        std::memory_order_relaxed);
                    if (ready > 0) {
                        stats.busyPollHits.fetch_add(1, std::memory_order_relaxed);
                        return;
                    }
                    break;
                }
                // Whoever is to produce the answer may be waiting for this CPU (two cores,
                // the agent or the peer's sender runnable here): let it run first.
                ::sched_yield();
            }
        }
        stats.sleeps.fetch_add(1, std::memory_order_relaxed);
        if (::poll(fds, count, static_cast<int>(timeoutMs)) < 0 && errno != EINTR)
            throw std::runtime_error(fmt::format("poll failed: {}", std::strerror(errno)));
    }

    /// Whatever this turn sent may be answered already (on a veth the peer's kernel
    /// replies within our send call): read the link now, before waking consumers and
    /// going round poll() again. Bounded: a few non-blocking reads per turn.
    void receiveEagerly() {
        for (unsigned i = 0; i < kEagerReceiveRounds && sentThisTurn; ++i) {
            sentThisTurn = false;
            if (!link || receiveStopped || receiveFrames(0) == 0)
                break;
            tick();
        }
        sentThisTurn = false;
    }

    /// Milliseconds until the earliest timer, rounded up so that we wake at or after it.
    std::int64_t pollTimeoutMs() const {
        if (!refused.empty())
            return 0;
        std::optional<std::int64_t> deadline;
        if (host && !linkFailure)
            deadline = host->nextDeadline();
        if (runner)
            if (const auto d = runner->nextDeadline())
                deadline = deadline ? std::min(*deadline, *d) : *d;
        if (const auto d = pacedDeadline())
            deadline = deadline ? std::min(*deadline, *d) : *d;
        std::int64_t ms = wakeFd >= 0 ? kMaxPollWaitMs : kPollWaitWithoutWakeFdMs;
        if (link && !receiveStopped)
            if (const auto again = link->receiveAgainWithinMs())
                ms = std::min(ms, *again);
        if (deadline) {
            const std::int64_t remaining = *deadline - clock();
            ms = std::min(ms, remaining <= 0 ? 0 : (remaining + 999'999) / 1'000'000);
        }
        return ms;
    }

    void runCommands() {
        std::deque<Command> batch;
        {
            std::lock_guard lock(commandMutex);
            batch.swap(commands);
        }
        for (Command& command : batch) {
            if (stopRequested.load(std::memory_order_acquire))
                return; // stop() drops what is still queued
            std::visit([this](auto& c) { execute(c); }, command);
        }
    }

    void execute(ConfigureCommand& c) {
        // The scenario was set up for the previous identity.
        abandonScenario("the phantom was reconfigured");
        host.emplace(std::move(c.identity), c.timing);
        refusal.clear();
        tracker.clear();
        replyTemplates.clear();
        acksDue.clear();
        if (host->identity().ipv4)
            tracker.addLocalAddress(host->identity().ipv4->address);
        if (host->identity().ipv6)
            tracker.addLocalAddress(host->identity().ipv6->address);
        if (c.probe == Probe::Run) {
            host->startProbe(clock(), out);
        } else {
            host->claimWithoutProbe();
            announceUnprobedClaims();
        }
        transmit();
        collectHostEvents();
    }

    void execute(SendCommand& c) {
        if (paced.size() >= sendRate.maxQueued) {
            push({EngineEvent::Kind::SendFailed, std::nullopt, std::nullopt, false,
                  fmt::format("a {}-byte frame was not sent: {} frames already wait for the send "
                              "rate cap ({} frames/s, bursts of {}), the most that may wait",
                              c.frame.size(), paced.size(), sendRate.framesPerSecond,
                              sendRate.burst)});
            return;
        }
        paced.push_back(std::move(c.frame));
        sendPaced();
    }

    /// The token bucket as a virtual schedule (GCRA): `pacedAt` is when the bucket
    /// would be full again; a frame may go while that is at most burst-1 intervals
    /// ahead of now. Integer nanoseconds, so a fake clock gives exact counts.
    std::int64_t pacedSlack() const {
        return std::int64_t(std::max<std::size_t>(sendRate.burst, 1) - 1) * sendIntervalNs;
    }

    /// Sends the waiting sendFrame() frames the cap allows now, in order. After a link
    /// failure they all go to transmit() at once, which reports each as not sent.
    void sendPaced() {
        if (paced.empty())
            return;
        const std::int64_t now = clock();
        while (!paced.empty()) {
            if (sendIntervalNs > 0 && !linkFailure) {
                const std::int64_t at = std::max(pacedAt, now);
                if (at - now > pacedSlack())
                    break;
                pacedAt = at + sendIntervalNs;
            }
            out.push_back(std::move(paced.front()));
            paced.pop_front();
        }
        transmit();
    }

    /// When the next waiting sendFrame() frame may go.
    std::optional<std::int64_t> pacedDeadline() const {
        if (paced.empty() || sendIntervalNs == 0)
            return std::nullopt;
        return pacedAt - pacedSlack();
    }

    void execute(RunCommand& c) {
        abandonScenario("replaced by a new scenario");
        {
            ScenarioSnapshot fresh;
            fresh.results.resize(c.scenario.steps.size());
            fresh.scenario = c.scenario;
            std::lock_guard lock(snapshotMutex);
            snapshot = std::move(fresh);
        }
        pending = PendingScenario{std::move(c.scenario), std::move(c.params), std::move(c.make),
                                  std::nullopt};
        advancePending();
    }

    void execute(CancelCommand&) { abandonScenario("cancelled"); }

    void execute(AutoAckCommand& c) { autoAckOn = c.on; }

    void execute(WindowCommand& c) {
        const bool changed = c.window != advertisedWindow;
        advertisedWindow = c.window;
        if (changed && c.window && autoAckOn && !runner)
            sendWindowUpdates();
    }

    void execute(ListenCommand& c) { listener = c.listener; }

    void execute(SnapCommand& c) { timeline->setSnapLength(c.bytes); }

    void execute(AttachAgentCommand& c) {
        if (agent)
            refuseCallsOfGoneAgent(); // the old agent's pending calls get their answer
        agent = std::move(c.agent);
        agentMissing = c.whyNone.empty() && !agent
                           ? std::string("this lab has no peer agent: peer calls are not available")
                           : std::move(c.whyNone);
        agentGoneReported = false;
        lastSamples.clear();
        internalSamples.clear();
        if (!agent)
            push({EngineEvent::Kind::PeerAgent, std::nullopt, std::nullopt, false, agentMissing});
        else if (const auto& hello = agent->hello())
            onAgentHello(*hello);
    }

    void execute(PeerCallCommand& c) { sendPeerCall(std::move(c.request), false); }

    /// Sends a call to the agent; one that cannot be sent is answered Refused at once, as
    /// if the agent had refused it, so every call gets exactly one answer.
    void sendPeerCall(peer::Request request, bool internal) {
        std::string why;
        if (!agent)
            why = agentMissing;
        else if (auto sent = agent->send(request)) {
            answerDue = true; // its answer comes within tens of microseconds
            if (internal)
                internalSamples.insert(*sent);
            return;
        } else {
            why = sent.error();
        }
        if (internal)
            return;
        peer::Answer a;
        a.id = request.id;
        a.call = request.call;
        a.outcome = peer::Outcome::Refused;
        a.result = -1;
        a.startNs = clock();
        a.text = why;
        // Answered on the next turn, not from inside whoever sent it (the runner).
        refused.push_back(peer::CallRecord{std::move(request), std::move(a)});
        if (agent && agent->failure())
            reportAgentGone();
    }

    void answerRefusedCalls() {
        while (!refused.empty()) {
            peer::CallRecord call = std::move(refused.front());
            refused.pop_front();
            onPeerCall(std::move(call));
        }
    }

    /// The peer calls the runner's steps asked for.
    void sendRunnerCalls() {
        if (!runner)
            return;
        for (auto& r : runner->takePeerRequests())
            sendPeerCall(std::move(r), false);
    }

    void receiveAgent() {
        auto got = agent->receive(
            [this](peer::AgentEvent e) {
                if (auto* hello = std::get_if<peer::Hello>(&e))
                    onAgentHello(*hello);
                else if (auto* call = std::get_if<peer::CallRecord>(&e))
                    onPeerCall(std::move(*call));
                else if (auto* sample = std::get_if<peer::Sample>(&e))
                    onPeerSample(*sample);
            },
            kMaxAgentMessagesPerTurn);
        if (!got)
            reportAgentGone();
    }

    void onAgentHello(const peer::Hello& hello) {
        timeline::appendHello(*timeline, clock(), hello);
        push({EngineEvent::Kind::PeerAgent, std::nullopt, std::nullopt, true,
              fmt::format("{} (pid {}) is ready: {} {}{}", agent->description(), hello.pid,
                          hello.stack, hello.release,
                          hello.limits.empty() ? "" : "; " + hello.limits)});
    }

    void onPeerCall(peer::CallRecord call) {
        const std::uint32_t id = call.answer.id;
        if (internalSamples.erase(id) != 0)
            return; // our own "sample after frames": only its Sample message counts
        if (!timeline::appendCall(*timeline, call))
            reportPeerRecordsFull();
        if (runner && id >= kRunnerCallIds)
            runner->onPeerAnswer(call, clock(), out);
        const bool ok = call.answer.outcome == peer::Outcome::Done && call.answer.error == 0 &&
                        call.answer.result >= 0;
        std::string message = peer::describeCallLine(call.request, call.answer);
        push({EngineEvent::Kind::PeerCall, std::nullopt, std::nullopt, ok, std::move(message),
              std::move(call)});
        transmit();
        collectRunnerEvents();
    }

    /// Records each socket of `sample` whose state changed since it was last recorded.
    void onPeerSample(const peer::Sample& sample) {
        peer::Sample changed;
        changed.timeNs = sample.timeNs;
        changed.after = sample.after;
        for (const auto& socket : sample.sockets) {
            auto it = lastSamples.find(socket.inode);
            if (it != lastSamples.end() && sameSample(it->second, socket))
                continue;
            if (socket.gone && it == lastSamples.end())
                continue; // never seen alive: nothing to end
            changed.sockets.push_back(socket);
            if (socket.gone)
                lastSamples.erase(it);
            else
                lastSamples[socket.inode] = socket;
        }
        if (changed.sockets.empty())
            return;
        if (!timeline::appendSample(*timeline, changed))
            reportPeerRecordsFull();
        if (runner)
            runner->onPeerSample(changed, clock(), out);
        transmit();
        collectRunnerEvents();
    }

    static bool sameSample(const peer::SocketSample& a, const peer::SocketSample& b) {
        if (a.fd != b.fd || a.gone != b.gone || a.local != b.local || a.remote != b.remote ||
            a.localPort != b.localPort || a.remotePort != b.remotePort ||
            a.receiveQueue != b.receiveQueue || a.sendQueue != b.sendQueue ||
            a.congestion != b.congestion)
            return false;
        return peer::TcpInfo::fromPairs(a.fields).sameState(peer::TcpInfo::fromPairs(b.fields));
    }

    /// "After each frame the peer receives or sends": a sample request once TCP frames went
    /// by, at most every kFrameSampleIntervalNs and one at a time.
    void samplePeerAfterFrames() {
        if (!tcpFramesSinceSample || !agent || agent->failure() || !agent->hello() ||
            !internalSamples.empty())
            return;
        const std::int64_t now = clock();
        if (now - lastFrameSampleNs < kFrameSampleIntervalNs)
            return;
        lastFrameSampleNs = now;
        tcpFramesSinceSample = false;
        peer::Request r;
        r.id = nextCallId();
        r.call = peer::Call::Sample;
        sendPeerCall(std::move(r), true);
    }

    std::uint32_t nextCallId() {
        std::uint32_t id = callIds.fetch_add(1, std::memory_order_relaxed);
        if (id == 0 || id >= kRunnerCallIds) {
            callIds.store(2, std::memory_order_relaxed);
            id = 1;
        }
        return id;
    }

    void reportAgentGone() {
        if (agentGoneReported || !agent || !agent->failure())
            return;
        agentGoneReported = true;
        internalSamples.clear();
        push({EngineEvent::Kind::PeerAgent, std::nullopt, std::nullopt, false, *agent->failure()});
    }

    void refuseCallsOfGoneAgent() {
        // The AgentClient answers its pending requests Refused once it has failed; one
        // being replaced has not, so its calls are refused here.
        agent.reset();
    }

    void reportPeerRecordsFull() {
        if (peerFullReported)
            return;
        peerFullReported = true;
        push({EngineEvent::Kind::TimelineFull, std::nullopt, std::nullopt, false,
              fmt::format("the timeline holds its maximum of {} peer records: later calls and "
                          "samples are no longer recorded",
                          timeline->peerCapacity())});
    }

    /// Auto-ACK: while no scenario runs (a scenario acknowledges for itself), the phantom
    /// acknowledges the peer's new data and FIN at once, so a long answer never stalls
    /// on a user who has not clicked yet. `result` is what the tracker made of `frame`.
    /// The ACK itself goes at the end of the receive batch (flushAutoAcks): one cumulative
    /// ACK per connection for all the frames that came together.
    void autoAcknowledge(const wire::Frame& frame, const tcp::SegmentResult& result) {
        if (!autoAckOn || runner || !host || !host->ready())
            return;
        const auto segment = tcp::segmentOf(frame);
        if (!segment || !isPhantomAddress(segment->dst.ip()))
            return;
        if ((result.flags & wire::tcp_flags::kRst) != 0)
            return;
        auto [it, fresh] = replyTemplates.try_emplace(result.connection);
        if (fresh) {
            auto spec = wire::SegmentSpec::replyTo(frame);
            if (!spec) {
                replyTemplates.erase(it);
                return;
            }
            spec->ethernet.src = host->identity().mac;
            it->second = ReplyTemplate{std::move(*spec), segment->dst};
        }
        AckDue& due = acksDue[result.connection];
        due.owed = due.owed || tcp::owesAck(tracker[result.connection], segment->dst, result);
    }

    /// Sends the ACKs autoAcknowledge() left for the end of the batch.
    void flushAutoAcks() {
        if (acksDue.empty())
            return;
        for (const auto& [connection, due] : acksDue) {
            const auto t = replyTemplates.find(connection);
            if (t == replyTemplates.end())
                continue;
            const auto ack = tcp::ackNow(tracker[connection], t->second.local, due.owed);
            if (ack)
                queueAck(t->second, *ack);
        }
        acksDue.clear();
    }

    void queueAck(const ReplyTemplate& t, const tcp::Suggestion& ack) {
        wire::SegmentSpec spec = t.spec;
        spec.tcp.flags = ack.flags;
        spec.tcp.seq = ack.seq;
        spec.tcp.ack = ack.ack;
        spec.tcp.window = advertisedWindow.value_or(ack.window);
        spec.tcp.options = {};
        spec.payload.clear();
        if (auto bytes = spec.encode())
            out.push_back(std::move(*bytes));
    }

    /// A new advertised window: a pure ACK with it on every connection Auto-ACK looks
    /// after that is still synchronized (RFC 9293 §3.8.6.2.2, a window update).
    void sendWindowUpdates() {
        for (const auto& [connection, t] : replyTemplates) {
            const auto& c = tracker[connection];
            const auto li = c.endOf(t.local);
            if (!li || !tcp::isSynchronized(c.end(*li).state) || !c.end(*li).irsKnown)
                continue;
            if (const auto ack = tcp::ackNow(c, t.local, true))
                queueAck(t, *ack);
        }
        transmit();
    }

    /// The listener (setListener): a SYN to the phantom's listening port gets a SYN-ACK, as
    /// a TCP in LISTEN answers (RFC 9293 §3.10.7.2): ISN from the listener (or the one
    /// already given on this connection, for a retransmitted SYN), ack = SEG.SEQ + 1.
    void answerListened(const wire::Frame& frame, const tcp::SegmentResult& result) {
        if (listener.port == 0 || !host || !host->ready())
            return;
        using namespace wire::tcp_flags;
        if ((result.flags & (kSyn | kAck | kRst)) != kSyn)
            return;
        const auto segment = tcp::segmentOf(frame);
        if (!segment || segment->dst.port != listener.port || !isPhantomAddress(segment->dst.ip()))
            return;
        auto spec = wire::SegmentSpec::replyTo(frame);
        if (!spec)
            return;
        const auto& c = tracker[result.connection];
        const auto li = c.endOf(segment->dst);
        const bool known = li && c.end(*li).issKnown && c.end(*li).synAckSent;
        spec->ethernet.src = host->identity().mac;
        spec->tcp.flags = kSyn | kAck;
        spec->tcp.seq = known ? c.end(*li).iss : listener.iss;
        spec->tcp.ack = segment->segment.seq + 1;
        spec->tcp.window = advertisedWindow.value_or(65535);
        spec->tcp.options = {};
        spec->tcp.options.append(wire::TcpOption::mss(listener.mss));
        spec->payload.clear();
        if (auto bytes = spec->encode())
            out.push_back(std::move(*bytes));
    }

    bool isPhantomAddress(const wire::IpAddress& address) const {
        const host::Identity& id = host->identity();
        if (const auto* v4 = std::get_if<wire::Ipv4Address>(&address))
            return id.ipv4 && id.ipv4->address == *v4;
        const auto& v6 = std::get<wire::Ipv6Address>(address);
        return id.ipv6 && id.ipv6->address == v6;
    }

    /// Ends the running or pending scenario, if any, as failed with `reason`.
    void abandonScenario(const std::string& reason) {
        if (runner) {
            runner->cancel(clock(), reason);
            collectRunnerEvents();
        }
        if (pending)
            finishPending(reason + " before it started");
    }

    /// claimWithoutProbe() reports nothing; the user is told the addresses are taken
    /// (and that nobody checked).
    void announceUnprobedClaims() {
        const host::Identity& id = host->identity();
        std::vector<wire::IpAddress> addresses;
        if (id.ipv4)
            addresses.emplace_back(id.ipv4->address);
        if (id.ipv6)
            addresses.emplace_back(id.ipv6->address);
        for (const auto& address : addresses) {
            std::string message = fmt::format(
                "{} claimed without the conflict probe (skipped on request); the phantom "
                "answers for it as {}",
                wire::addressText(address), id.mac.toString());
            push({EngineEvent::Kind::Host,
                  host::HostEvent{host::HostEvent::Kind::AddressClaimed, address, id.mac, message},
                  std::nullopt, true, message});
        }
    }

    std::size_t receiveFrames(short revents) {
        const auto sink = [this](std::int64_t timestampNs, wire::Bytes bytes) {
            onFrame(timestampNs, bytes);
        };
        inBatch = true;
        auto received = link->receive(sink, maxFramesPerWake);
        inBatch = false;
        flushAutoAcks();
        transmit();
        if (!received) {
            receiveError(received.error());
            return 0;
        }
        if (*received > 0)
            answerDue = true; // a burst goes on: its next frames are due
        if (*received == 0 && (revents & POLLNVAL)) {
            receiveStopped = true;
            failLink(fmt::format("{}: its descriptor is no longer valid", link->description()));
        }
        return *received;
    }

    void receiveError(const link::LinkError& error) {
        if (error.code == link::LinkErrorCode::Io) {
            // Links hand a dropped frame (too large to receive whole) as an Io error
            // and go on; an error that is still there on a second look is final.
            const auto again = link->receive([](std::int64_t, wire::Bytes) {}, 0);
            if (again) {
                push({EngineEvent::Kind::ReceiveFailed, std::nullopt, std::nullopt, false,
                      error.message});
                return;
            }
        }
        receiveStopped = true;
        failLink(error.message);
    }

    /// The link cannot send any more: reported once; the scenario ends. Receiving goes
    /// on until receive() itself fails, so frames already on their way are recorded.
    void failLink(const std::string& message) {
        if (linkFailure)
            return;
        linkFailure = message;
        push({EngineEvent::Kind::LinkFailed, std::nullopt, std::nullopt, false, message});
        if (runner) {
            runner->cancel(clock(), message);
            collectRunnerEvents();
        }
        if (pending)
            finishPending(message);
    }

    /// One received frame: recorded, decoded once, offered to the host, then (when it is
    /// not ARP/ND the host handled) to the scenario.
    void onFrame(std::int64_t timestampNs, wire::Bytes bytes) {
        const std::int64_t now = clock();
        record(timestampNs != 0 ? timestampNs : now, timeline::Direction::Received, bytes);
        const wire::Frame frame = wire::decodeFrame(bytes);
        bool consumed = false;
        if (host)
            consumed = host->onFrame(frame, now, out);
        if (!consumed) {
            const auto tracked = tracker.onFrame(frame, timestampNs != 0 ? timestampNs : now);
            if (tracked)
                tcpFramesSinceSample = true;
            if (runner)
                runner->onFrame(frame, now, out);
            else if (tracked) {
                answerListened(frame, *tracked);
                autoAcknowledge(frame, *tracked);
            }
        }
        if (!inBatch)
            flushAutoAcks();
        transmit();
        collectHostEvents();
        collectRunnerEvents();
    }

    void tick() {
        sendPaced();
        if (host && !linkFailure) {
            host->tick(clock(), out);
            transmit();
            collectHostEvents();
        }
        if (runner) {
            runner->tick(clock(), out);
            transmit();
            collectRunnerEvents();
        }
        advancePending();
    }

    /// Sends and records every frame in `out`, in order.
    void transmit() {
        for (const auto& frame : out) {
            if (linkFailure) {
                push({EngineEvent::Kind::SendFailed, std::nullopt, std::nullopt, false,
                      fmt::format("a {}-byte frame was not sent: {}", frame.size(), *linkFailure)});
                continue;
            }
            // Stamped before the send: on a veth the peer's answer can be captured
            // (and stamped by the kernel) before send() returns.
            const std::int64_t now = clock();
            const auto sent = link->send(frame);
            if (sent) {
                record(now, timeline::Direction::Sent, frame);
                sentThisTurn = true;
                answerDue = true;
                tracker.onFrame(wire::decodeFrame(frame), now);
                continue;
            }
            const auto code = sent.error().code;
            if (code == link::LinkErrorCode::InterfaceGone || code == link::LinkErrorCode::Closed)
                failLink(sent.error().message);
            else
                push({EngineEvent::Kind::SendFailed, std::nullopt, std::nullopt, false,
                      sent.error().message});
        }
        out.clear();
    }

    void record(std::int64_t timeNs, timeline::Direction direction, wire::Bytes bytes) {
        if (timeline->append(timeNs, direction, bytes) || timelineFullReported)
            return;
        timelineFullReported = true;
        push({EngineEvent::Kind::TimelineFull, std::nullopt, std::nullopt, false,
              fmt::format("the timeline holds its maximum of {} frames: later frames are no "
                          "longer recorded (export it and start again to record more)",
                          timeline->capacity())});
    }

    void collectHostEvents() {
        if (!host)
            return;
        for (auto& e : host->takeEvents()) {
            if (e.kind == host::HostEvent::Kind::AddressConflict && host->refused() &&
                refusal.empty())
                refusal = e.message;
            const bool resolveFailed = e.kind == host::HostEvent::Kind::ResolveFailed && pending &&
                                       pending->resolving && *pending->resolving == e.address;
            const std::string failure = resolveFailed
                                            ? fmt::format("could not resolve {}: {}",
                                                          wire::addressText(e.address), e.message)
                                            : std::string();
            const bool ok = e.kind != host::HostEvent::Kind::AddressConflict &&
                            e.kind != host::HostEvent::Kind::ResolveFailed;
            std::string message = e.message;
            push({EngineEvent::Kind::Host, std::move(e), std::nullopt, ok, std::move(message)});
            if (resolveFailed)
                finishPending(failure);
        }
    }

    void collectRunnerEvents() {
        if (!runner)
            return;
        sendRunnerCalls();
        auto produced = runner->takeEvents();
        const bool changed = !produced.empty() || runner->received().size() != lastReceivedSize;
        for (auto& e : produced) {
            const bool finished = e.kind == ScenarioEvent::Kind::Finished;
            const EngineEvent::Kind kind =
                finished ? EngineEvent::Kind::ScenarioFinished : EngineEvent::Kind::ScenarioStep;
            const bool ok =
                finished ? runner->succeeded() : e.kind != ScenarioEvent::Kind::StepFailed;
            std::string message = e.message;
            push({kind, std::nullopt, std::move(e), ok, std::move(message)});
        }
        if (changed)
            updateSnapshot();
        if (runner->finished())
            runner.reset();
    }

    void updateSnapshot() {
        ScenarioSnapshot s{runner->scenario(), runner->results(), runner->received(),
                           runner->finished(), runner->succeeded()};
        lastReceivedSize = s.received.size();
        std::lock_guard lock(snapshotMutex);
        snapshot = std::move(s);
    }

    /// Moves a pending scenario on: fails it, waits, resolves its next hop, or starts it.
    void advancePending() {
        if (!pending)
            return;
        if (!host)
            return finishPending(
                "configure the phantom first: a scenario needs the phantom's MAC and address");
        if (linkFailure)
            return finishPending(*linkFailure);
        if (host->refused())
            return finishPending(refusal.empty() ? "the phantom's address is in use" : refusal);
        if (!host->ready()) {
            if (!host->probing())
                finishPending("the phantom has no address: configure an IPv4 or IPv6 address");
            return; // the conflict probe is still running
        }
        const wire::IpAddress peer = pending->params.peer;
        if (!pending->resolving) {
            if (!isOwnAddress(host->identity(), pending->params.phantom))
                return finishPending(fmt::format(
                    "the scenario sends from {}, which is not the phantom's address: tcplab "
                    "only sends from the address it claimed",
                    wire::addressText(pending->params.phantom)));
            const auto hop = host->nextHop(peer);
            if (!hop)
                return finishPending(hop.error());
            if (const auto mac = host->nextHopMac(peer))
                return startRunner(*mac);
            pending->resolving = *hop;
            host->resolve(peer, clock(), out);
            transmit();
            collectHostEvents(); // may fail the scenario (ResolveFailed)
            return;
        }
        if (const auto mac = host->nextHopMac(peer))
            startRunner(*mac);
    }

    void startRunner(const wire::MacAddress& nextHopMac) {
        PendingScenario p = std::move(*pending);
        pending.reset();
        p.params.nextHopMac = nextHopMac;
        if (p.make)
            runner = p.make(std::move(p.params));
        else
            runner = std::make_unique<ScenarioRunner>(std::move(p.scenario), std::move(p.params));
        lastReceivedSize = 0;
        runner->start(clock(), out);
        transmit();
        if (runner)
            updateSnapshot();
        collectRunnerEvents();
    }

    void finishPending(const std::string& reason) {
        if (!pending)
            return;
        PendingScenario p = std::move(*pending);
        pending.reset();
        const std::int64_t now = clock();
        {
            ScenarioSnapshot s;
            s.results.resize(p.scenario.steps.size());
            s.scenario = std::move(p.scenario);
            s.finished = true;
            s.succeeded = false;
            std::lock_guard lock(snapshotMutex);
            snapshot = std::move(s);
        }
        push({EngineEvent::Kind::ScenarioFinished, std::nullopt,
              ScenarioEvent{ScenarioEvent::Kind::Finished, 0, now, reason}, false, reason});
    }

    void push(EngineEvent event) { turnEvents.push_back(std::move(event)); }

    /// Hands the events of this turn to consumers in one batch: one notification when
    /// the queue was empty, none otherwise.
    void publishEvents() {
        if (turnEvents.empty())
            return;
        bool becameNonEmpty = false;
        std::function<void()> notify;
        {
            std::lock_guard lock(eventMutex);
            const bool wasEmpty = events.empty();
            for (auto& e : turnEvents) {
                if (events.size() >= kMaxQueuedEvents && perFrame(e))
                    continue;
                events.push_back(std::move(e));
            }
            becameNonEmpty = wasEmpty && !events.empty();
            if (becameNonEmpty)
                notify = notifier;
        }
        turnEvents.clear();
        eventCv.notify_all();
        if (notify)
            notify();
    }

    // Set at construction, then used by the engine thread only.
    std::unique_ptr<link::Link> link;
    std::shared_ptr<timeline::Timeline> timeline;
    Clock clock;
    std::size_t maxFramesPerWake;
    SendRate sendRate;
    std::int64_t sendIntervalNs; ///< 1 s / the rate; 0: no cap
    int wakeFd;

    std::atomic<bool> stopRequested{false};
    std::atomic<std::thread::id> engineThread{};
    std::mutex threadMutex; ///< start/stop/join
    std::thread thread;
    bool started = false;

    std::mutex commandMutex;
    std::deque<Command> commands;

    mutable std::mutex eventMutex;
    std::condition_variable eventCv;
    std::vector<EngineEvent> events;
    std::function<void()> notifier;

    mutable std::mutex snapshotMutex;
    ScenarioSnapshot snapshot;

    // The engine thread's own state.
    std::vector<EngineEvent> turnEvents;
    FrameList out;
    std::deque<std::vector<std::uint8_t>> paced; ///< sendFrame() frames waiting for the cap
    std::int64_t pacedAt = 0;                    ///< see pacedSlack()
    std::optional<host::PhantomHost> host;
    std::unique_ptr<Runner> runner;
    tcp::ConnectionTable tracker; ///< every TCP frame both ways, for auto-ACK
    bool autoAckOn = false;
    std::optional<std::uint16_t> advertisedWindow; ///< setAdvertisedWindow()
    Listener listener;
    std::unordered_map<std::uint32_t, ReplyTemplate> replyTemplates;
    std::unordered_map<std::uint32_t, AckDue> acksDue; ///< this batch's, by connection
    bool inBatch = false; ///< receiveFrames() runs: ACKs wait for its end

    std::unique_ptr<peer::AgentClient> agent;
    std::string agentMissing = "this lab has no peer agent: peer calls are not available";
    bool agentGoneReported = false;
    std::atomic<std::uint32_t> callIds{1};
    std::unordered_set<std::uint32_t> internalSamples; ///< samplePeerAfterFrames() requests
    std::deque<peer::CallRecord> refused; ///< calls answered Refused by us, not the agent
    std::unordered_map<std::uint64_t, peer::SocketSample> lastSamples; ///< by inode
    bool tcpFramesSinceSample = false;
    std::int64_t lastFrameSampleNs = 0;
    bool peerFullReported = false;
    std::optional<PendingScenario> pending;
    std::optional<std::string> linkFailure; ///< why the link failed (reported once)
    bool sentThisTurn = false;              ///< a frame went out since the last eager read
    bool receiveStopped = false;            ///< receive() failed: the link is not polled
    std::string refusal;                    ///< the conflict sentence, once an address was refused
    bool timelineFullReported = false;
    std::size_t lastReceivedSize = 0;
    bool answerDue = false;  ///< sent or received this turn: busy-poll before sleeping
    std::int64_t busyPollNs; ///< Options::busyPoll, bounded
    LoopCounters stats;
};

Engine::Engine(std::unique_ptr<link::Link> link, std::shared_ptr<timeline::Timeline> timeline,
               Options options)
    : m_timeline(timeline ? std::move(timeline) : std::make_shared<timeline::Timeline>()) {
    m_impl = std::make_shared<Impl>(std::move(link), m_timeline, std::move(options));
}

Engine::Engine(std::unique_ptr<link::Link> link, std::shared_ptr<timeline::Timeline> timeline)
    : Engine(std::move(link), std::move(timeline), Options{}) {}

Engine::~Engine() {
    stop();
    // Destroyed from the engine thread itself (from the notifier): it cannot join
    // itself; it ends on its own, keeping the Impl alive until then.
    if (m_impl->thread.joinable())
        m_impl->thread.detach();
}

void Engine::setNotifier(std::function<void()> notifier) {
    std::lock_guard lock(m_impl->eventMutex);
    m_impl->notifier = std::move(notifier);
}

void Engine::start() {
    std::lock_guard lock(m_impl->threadMutex);
    if (m_impl->started || m_impl->stopRequested.load(std::memory_order_acquire))
        return;
    m_impl->started = true;
    m_impl->thread = std::thread([impl = m_impl] { impl->run(); });
}

void Engine::configure(host::Identity identity, host::HostTiming timing, Probe probe) {
    m_impl->post(ConfigureCommand{std::move(identity), timing, probe});
}

void Engine::sendFrame(std::vector<std::uint8_t> frame) {
    m_impl->post(SendCommand{std::move(frame)});
}

void Engine::runScenario(Scenario scenario, ConnectionParams params) {
    m_impl->post(RunCommand{std::move(scenario), std::move(params), {}});
}

void Engine::run(Scenario steps, ConnectionParams params, RunnerFactory make) {
    m_impl->post(RunCommand{std::move(steps), std::move(params), std::move(make)});
}

void Engine::cancelScenario() {
    m_impl->post(CancelCommand{});
}

void Engine::setAutoAck(bool on) {
    m_impl->post(AutoAckCommand{on});
}

void Engine::setAdvertisedWindow(std::optional<std::uint16_t> window) {
    m_impl->post(WindowCommand{window});
}

void Engine::setListener(Listener listener) {
    m_impl->post(ListenCommand{listener});
}

void Engine::setSnapLength(std::size_t bytes) {
    m_impl->post(SnapCommand{bytes});
}

void Engine::attachAgent(std::unique_ptr<peer::AgentClient> agent, std::string whyNone) {
    m_impl->post(AttachAgentCommand{std::move(agent), std::move(whyNone)});
}

std::uint32_t Engine::peerCall(peer::Request request) {
    request.id = m_impl->nextCallId();
    const std::uint32_t id = request.id;
    m_impl->post(PeerCallCommand{std::move(request)});
    return id;
}

void Engine::stop() {
    m_impl->stopRequested.store(true, std::memory_order_release);
    m_impl->wake();
    // On the engine thread (the notifier called stop()): the loop ends after this turn.
    if (m_impl->engineThread.load(std::memory_order_acquire) == std::this_thread::get_id())
        return;
    std::lock_guard lock(m_impl->threadMutex);
    if (m_impl->thread.joinable())
        m_impl->thread.join();
}

std::vector<EngineEvent> Engine::takeEvents() {
    std::vector<EngineEvent> taken;
    std::lock_guard lock(m_impl->eventMutex);
    taken.swap(m_impl->events);
    return taken;
}

bool Engine::waitForEvents(std::chrono::milliseconds timeout) {
    std::unique_lock lock(m_impl->eventMutex);
    return m_impl->eventCv.wait_for(lock, timeout, [this] { return !m_impl->events.empty(); });
}

Engine::LoopStatistics Engine::loopStatistics() const {
    const LoopCounters& c = m_impl->stats;
    return {c.sleeps.load(std::memory_order_relaxed), c.busyPolls.load(std::memory_order_relaxed),
            c.busyPollHits.load(std::memory_order_relaxed),
            c.busyPollNs.load(std::memory_order_relaxed)};
}

Engine::ScenarioSnapshot Engine::scenarioSnapshot() const {
    std::lock_guard lock(m_impl->snapshotMutex);
    return m_impl->snapshot;
}

} // namespace tcplab::engine
