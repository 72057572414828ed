#pragma once

#include "engine/scenario.h"

#include "peer/agent_client.h"
#include "peer/agent_protocol.h"
#include "wire/frame.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tcplab::engine {

/// What happened to one step.
struct StepResult {
    enum class Status : std::uint8_t { Pending, Running, Done, Failed };
    Status status = Status::Pending;
    std::int64_t startNs = 0; ///< when the step began
    std::int64_t endNs = 0;   ///< when it completed or failed
    unsigned retransmissions = 0;
    std::string message; ///< failure: what was expected and what arrived instead
};

struct ScenarioEvent {
    enum class Kind : std::uint8_t {
        StepStarted,
        StepDone,
        StepFailed,
        Retransmitted, ///< message says what was sent again
        Finished,      ///< success when every step is Done
    };
    Kind kind;
    std::size_t step = 0;
    std::int64_t atNs = 0;
    std::string message;
};

/// The phantom's side of a run, as the engine drives it: a scenario (ScenarioRunner) or a
/// packetdrill script (drill::DrillRunner). It does no I/O and owns no clock: it is fed
/// received frames, the peer agent's answers and samples, and the time, and appends the
/// frames to send to `out` and the calls to make to takePeerRequests(). Its steps (the
/// scenario's, or one per script event) are what the GUI shows and ticks.
class Runner {
public:
    using FrameList = std::vector<std::vector<std::uint8_t>>;
    /// Request ids from here up are the runner's (the engine keeps others for itself).
    static constexpr std::uint32_t kFirstCallId = 0x80000000u;

    virtual ~Runner() = default;

    /// Runs steps until one has to wait.
    virtual void start(std::int64_t nowNs, FrameList& out) = 0;
    /// Feeds one received frame (anything; the runner picks what is its connection's).
    virtual void onFrame(const wire::Frame& frame, std::int64_t nowNs, FrameList& out) = 0;
    /// Timeouts, retransmissions, events whose time has come.
    virtual void tick(std::int64_t nowNs, FrameList& out) = 0;
    /// The peer calls to make now (ids kFirstCallId and up).
    virtual std::vector<peer::Request> takePeerRequests() = 0;
    /// The answer to one of them.
    virtual void onPeerAnswer(const peer::CallRecord& call, std::int64_t nowNs, FrameList& out) = 0;
    /// Sockets of the peer whose state changed.
    virtual void onPeerSample(const peer::Sample& sample, std::int64_t nowNs, FrameList& out) = 0;
    /// When tick() is due next.
    virtual std::optional<std::int64_t> nextDeadline() const noexcept = 0;
    /// Stops at the current step, which fails with `reason`.
    virtual void cancel(std::int64_t nowNs, const std::string& reason) = 0;

    virtual bool finished() const noexcept = 0;
    virtual bool succeeded() const noexcept = 0;
    /// The steps (names and lines) and what happened to each.
    virtual const Scenario& scenario() const noexcept = 0;
    virtual const std::vector<StepResult>& results() const noexcept = 0;
    virtual std::vector<ScenarioEvent> takeEvents() = 0;
    /// The application bytes received in order (the HTTP response), if the runner keeps them.
    virtual const std::vector<std::uint8_t>& received() const noexcept = 0;
};

} // namespace tcplab::engine
