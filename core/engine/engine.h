#pragma once

#include "engine/scenario.h"
#include "engine/scenario_runner.h"
#include "host/phantom_host.h"
#include "link/link.h"
#include "peer/agent_client.h"
#include "timeline/timeline.h"
#include "wire/segment_spec.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace tcplab::engine {

/// Something the engine reports. Frames themselves are not events: readers follow
/// the timeline's published size.
struct EngineEvent {
    enum class Kind : std::uint8_t {
        Host,             ///< from the phantom host (probe, claim, conflict, resolve)
        LinkFailed,       ///< the link is unusable (interface gone...); the timeline is kept
        SendFailed,       ///< one frame could not be sent
        ScenarioStep,     ///< a step started, completed or failed (scenario event)
        ScenarioFinished, ///< the scenario ended: `ok` says how
        TimelineFull,     ///< the timeline's capacity is reached: frames are no longer kept
        Stopped,          ///< the engine thread has ended
        ReceiveFailed,    ///< one received frame was dropped by the link (too large...); the link
                          ///< still works
        PeerAgent, ///< the peer agent said hello (ok) or is gone or missing (not ok): `message`
        PeerCall,  ///< a peer call came back (`call`): ok when it was made and did not fail
    };
    Kind kind;
    std::optional<host::HostEvent> host;
    std::optional<ScenarioEvent> scenario;
    bool ok = false;
    std::string message;                                 ///< one sentence for a person
    std::optional<peer::CallRecord> call = std::nullopt; ///< PeerCall: the request and its answer
};

/// The engine: owns its thread, the link, the phantom host, the scenario runner, the peer
/// agent's channel and the timeline's writer side.
///
/// Its loop polls the link's fd, the peer agent's, an eventfd for commands, and the
/// earliest timer of the host and the runner. Peer calls and the agent's tcp_info samples
/// become timeline records beside the frames, on the same clock; a sample of a socket
/// whose state did not change is not recorded again. Commands come in through a locked queue from
/// any thread. Events go out through a queue: the notifier is called (on the engine thread) only
/// when the queue turns non-empty, so a flood of frames or events costs a consumer
/// one wake-up until it calls takeEvents(). A Qt adapter turns the notifier into a
/// queued signal.
class Engine {
public:
    using Clock = std::function<std::int64_t()>; ///< nanoseconds since the Unix epoch
    /// The cap on frames given to sendFrame() (a user's bursts and repeats; the
    /// host's and the scenario's own frames are not capped): a token bucket on the
    /// engine's clock. Frames over the cap wait in order in a bounded queue; a frame
    /// that finds the queue full is not sent, and a SendFailed event says so. A lab
    /// tool must not become a flooder by accident: capped by default.
    struct SendRate {
        std::uint32_t framesPerSecond = 1000; ///< sustained rate; 0: no cap at all
        std::size_t burst = 200;              ///< sent at once after a quiet burst/rate seconds
        std::size_t maxQueued = 10'000;       ///< frames waiting beyond this are refused
    };
    /// Options::busyPoll's default and its upper bound.
    static constexpr std::chrono::microseconds kDefaultBusyPoll{100};
    static constexpr std::chrono::microseconds kMaxBusyPoll{1000};
    struct Options {
        Clock clock;                        ///< default: timeline::wallClockNanoseconds
        std::size_t maxFramesPerWake = 256; ///< receive batch per loop turn
        SendRate sendRate;
        /// While an answer is due (a frame or a peer call just went out, or frames just
        /// came in), the loop looks at its fds without sleeping for up to this long before
        /// it blocks in poll(): an answer that comes within the window is handled without
        /// the wake-up of a sleeping thread (tens of microseconds on a VM). Bounded per
        /// wait (at most kMaxBusyPoll) and never armed by an idle engine, so waiting with
        /// nothing due costs no CPU. Zero: always block at once.
        std::chrono::microseconds busyPoll{kDefaultBusyPoll};
    };

    Engine(std::unique_ptr<link::Link> link, std::shared_ptr<timeline::Timeline> timeline,
           Options options);
    Engine(std::unique_ptr<link::Link> link, std::shared_ptr<timeline::Timeline> timeline);
    ~Engine(); ///< stop() and join
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    /// Called on the engine thread when events become available. Set before start().
    void setNotifier(std::function<void()> notifier);
    void start();

    // Commands: thread-safe, asynchronous, executed in order on the engine thread.
    enum class Probe : std::uint8_t { Run, Skip };
    /// New identity: the previous one is forgotten (and a running scenario cancelled);
    /// with Probe::Run the conflict probe runs and nothing else is sent until it
    /// succeeds. With Probe::Skip an AddressClaimed host event per address says so.
    void configure(host::Identity identity, host::HostTiming timing, Probe probe);
    /// Sends a frame as it is and records it, within Options::sendRate (frames over
    /// the cap are delayed, or refused with SendFailed when too many wait).
    void sendFrame(std::vector<std::uint8_t> frame);
    /// Runs a scenario once the phantom is ready: resolves params.peer's next hop
    /// (filling params.nextHopMac), then starts. One scenario at a time: a new one
    /// cancels the old. Every scenario ends with exactly one ScenarioFinished event; it
    /// fails before starting (ok=false, the reason in `message`) without a configured
    /// phantom, when its address was refused, when params.phantom is not the phantom's
    /// address, when the next hop is unknown or does not answer, or when the link failed.
    void runScenario(Scenario scenario, ConnectionParams params);
    /// Makes the runner of a run once params are complete (the next hop's MAC known).
    using RunnerFactory = std::function<std::unique_ptr<Runner>(ConnectionParams)>;
    /// Runs another kind of runner (a packetdrill script) as runScenario() runs a
    /// scenario: `steps` is what the snapshot shows until the runner starts (its step
    /// names), and what a run that fails before starting reports against.
    void run(Scenario steps, ConnectionParams params, RunnerFactory make);
    void cancelScenario();
    /// Auto-ACK (off by default; switch it at any time): while no scenario runs, the
    /// phantom acknowledges the peer's new data and FIN as soon as they arrive (one
    /// cumulative ACK per connection for the frames of one receive batch, as a receiver
    /// with GRO does), and answers an unacceptable segment (a zero-window probe, a
    /// keep-alive, data beyond its window) with an ACK of RCV.NXT, as RFC 9293 §3.10.7.4
    /// says a TCP does.
    void setAutoAck(bool on);
    /// The window the phantom advertises in Auto-ACK's and the listener's segments
    /// (nullopt: repeat the window it last sent, 65535 before it sent any). Changing it
    /// sends a window update at once on every connection Auto-ACK looks after, so a zero
    /// window and its opening again are one call each (RFC 9293 §3.8.6).
    void setAdvertisedWindow(std::optional<std::uint16_t> window);
    /// The phantom as a server (passive open, RFC 9293 §3.5): while no scenario runs, a SYN
    /// to the phantom's `port` is answered with a SYN-ACK (ISN `iss`, MSS `mss`, window as
    /// setAdvertisedWindow says), and Auto-ACK, when on, looks after the connection.
    /// `port` 0 stops listening.
    struct Listener {
        std::uint16_t port = 0;
        wire::SeqNum iss{1000};
        std::uint16_t mss = 1460;
    };
    void setListener(Listener listener);
    /// Frames recorded from now on keep their first `bytes` bytes (0: all), see
    /// Timeline::setSnapLength.
    void setSnapLength(std::size_t bytes);

    /// The peer agent to send peer calls to (nullptr: none; `whyNone` says why, and every
    /// call is answered Refused with that sentence). Its Hello and every answer and sample
    /// go into the timeline. Replaces any previous agent.
    void attachAgent(std::unique_ptr<peer::AgentClient> agent, std::string whyNone = {});
    /// Sends `request` to the peer agent; its id (set here, unique in this engine: ids
    /// below 0x80000000) is returned at once, and a PeerCall event with the same id brings
    /// the answer. Without an agent the answer is Refused, saying why.
    std::uint32_t peerCall(peer::Request request);
    /// Ends the thread; pending commands are dropped. Idempotent; joins the thread unless
    /// called on it (from the notifier). A running scenario finishes (failed) first, then
    /// a Stopped event is the last event.
    void stop();

    /// Events since the last call, oldest first (any thread).
    std::vector<EngineEvent> takeEvents();
    /// Blocks until an event is queued or `timeout` passes; true when events wait.
    bool waitForEvents(std::chrono::milliseconds timeout);

    const timeline::Timeline& timeline() const noexcept { return *m_timeline; }
    std::shared_ptr<const timeline::Timeline> sharedTimeline() const { return m_timeline; }

    /// The last scenario's step results and received bytes, copied under the lock
    /// after each change (any thread).
    struct ScenarioSnapshot {
        Scenario scenario;
        std::vector<StepResult> results;
        std::vector<std::uint8_t> received;
        bool finished = false;
        bool succeeded = false;
    };
    ScenarioSnapshot scenarioSnapshot() const;

    /// How the loop waited (Options::busyPoll), for benchmarks and tests (any thread).
    struct LoopStatistics {
        std::uint64_t sleeps = 0;       ///< blocking poll() calls
        std::uint64_t busyPolls = 0;    ///< busy-poll windows opened (an answer was due)
        std::uint64_t busyPollHits = 0; ///< windows ended by an fd becoming ready
        std::uint64_t busyPollNs = 0;   ///< time spent in the windows, hits and misses
    };
    LoopStatistics loopStatistics() const;

    /// Request ids from 0x80000000 up are the scenario runner's.
    static constexpr std::uint32_t kRunnerCallIds = ScenarioRunner::kFirstCallId;

private:
    struct Impl;
    /// Shared with the engine thread, which keeps it alive to its end even when the
    /// Engine is destroyed from that thread (from the notifier): then it is detached.
    std::shared_ptr<Impl> m_impl;
    std::shared_ptr<timeline::Timeline> m_timeline;
};

} // namespace tcplab::engine
