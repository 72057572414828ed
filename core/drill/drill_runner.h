#pragma once

// Runs a packetdrill script against a real peer, with packetdrill's semantics
// (google/packetdrill run.c, run_packet.c, run_system_call.c): a "<" line is a segment
// the phantom sends at its time; a ">" line is a segment the peer's kernel must send,
// checked field by field in the script's sequence space and against its time within
// the tolerance; a system call line is made by the peer agent on the peer's sockets
// and its result and errno checked; a `sysctl` command runs in the peer's namespace.
//
// The mapping onto the lab: packetdrill's "local" host (the kernel under test) is the
// peer, its "remote" host is the phantom. bind(fd, ..., ...) binds the peer's address
// and options.bindPort; connect(fd, ..., ...) connects to the phantom's address and
// ConnectionParams::sourcePort; an inbound SYN goes from sourcePort to bindPort.
//
// Differences from packetdrill that a user can see are documented in the README
// ("packetdrill scripts"): the peer's segments are merged the way packetdrill's remote
// mode merges them when a script expects a TSO/GSO super-segment; writes of up to 64 KiB
// send zero bytes as packetdrill does, longer ones the agent's pattern.

#include "drill/code_check.h"
#include "drill/script.h"
#include "engine/runner.h"
#include "engine/scenario_runner.h"

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <tl/expected.hpp>

namespace tcplab::drill {

/// packetdrill's own options that change a run (config.c's defaults).
struct DrillOptions {
    std::int64_t toleranceUsecs = 4000;
    double tolerancePercent = 12.5;
    std::uint16_t bindPort = 8080;
    std::uint32_t tcpTsTickUsecs = 0; ///< 0: TS val is not checked
    /// --strict_segments: each of the peer's segments must match a line by itself (no
    /// merging of consecutive segments into the super-segment a line expects).
    bool strictSegments = false;
    /// Stepping (the GUI's Step): a line runs only once its index is below the gate's
    /// value, which another thread raises; times are not checked then (a person is
    /// slower than any tolerance), what is sent and received still is. Null: no gate.
    std::shared_ptr<std::atomic<std::size_t>> stepGate;
    /// The longest a run may take beyond its last event's time (a script that never ends).
    std::int64_t limitUsecs = 60'000'000;
    /// The peer's interface, which a script's commands call tun0 (packetdrill's device);
    /// the built-in lab's (LabAddresses::peerInterfaceName).
    std::string peerInterface = "tcplab0p";
    /// The longest frame the lab's link carries: a longer `<` segment is sent as the
    /// segments GSO would make of it.
    std::size_t linkMtu = 1500;
};

/// Applies "--name=value" options (from the command line or the script's header) to
/// `options`; an unknown or malformed one is an error naming it. Options that only
/// place packetdrill on a machine (--local_ip, --remote_ip, --gateway_ip, --netmask_ip,
/// --ip_version, --mtu, --speed, --device, --verbose, ...) are accepted and mean
/// nothing here (the lab decides the addresses); the caller reads --ip_version itself.
tl::expected<void, std::string> applyOption(DrillOptions& options, std::string_view name,
                                            std::string_view value);

/// One planned system call: the agent request it becomes, with its script fds, and what
/// the script expects of the answer.
struct PlannedCall {
    peer::Request request; ///< fd = the script's fd (mapped to the live fd when sent)
    enum class Fill : std::uint8_t { None, PeerAddress, PhantomAddress };
    Fill fill = Fill::None;
    std::vector<int> pollFds; ///< poll: the script fds of numbers[1], [3], ... (mapped too)
    bool newFd = false;       ///< socket/accept: the result is a new fd, the script's is `result`
    std::int64_t result = 0;
    bool anyResult = false; ///< result "..."? (not packetdrill: it needs a number; kept for -)
    std::optional<int> error;
    std::optional<std::int64_t> value;    ///< getsockopt [N] / ioctl [N]: the value returned
    std::vector<std::int64_t> revents;    ///< poll: per fd
    std::optional<std::int64_t> endUsecs; ///< blocking: when it must return
    bool zeroData = false;                ///< write of zero bytes (the payload checks know)
    /// epoll_ctl: numbers[1] is the script fd pollFds[0] (mapped), and so is numbers[3] when
    /// the event's data is fd=. epoll_wait: the data of the first event is a script fd.
    bool epollDataIsFd = false;
    /// epoll_wait: the first event the script expects (events, data); packetdrill checks
    /// that one only, zeros when none came.
    std::optional<std::pair<std::int64_t, std::int64_t>> epollEvent;
};

/// One sysctl a backtick command sets.
struct SysctlSetting {
    std::string key; ///< "net.ipv4.tcp_sack"
    std::string value;
    /// Whether its refusal fails the command (the shell's rule: see planScript()).
    bool checked = true;
    /// Not empty: instead of a sysctl, a command the agent runs (peer::Call::Command):
    /// the program ("tc", "ip") and its arguments, "tun0" standing for the peer's
    /// interface and "$remote" for the phantom's address.
    std::vector<std::string> command;
};

/// One event of the script as the runner runs it.
struct PlannedStep {
    unsigned line = 0;
    unsigned column = 0;
    std::string text; ///< the event as formatEvent() writes it
    EventTime time;
    enum class Kind : std::uint8_t { Inject, Expect, Call, Sysctl, Code };
    Kind kind = Kind::Call;
    PacketSpec packet;
    PlannedCall call;
    std::vector<SysctlSetting> sysctls;
    /// %{ }%: evaluated with the tcp_info of the socket under test at its time.
    std::shared_ptr<const CodeBlock> code;
};

struct Plan {
    std::vector<PlannedStep> steps; ///< init command first, cleanup last (as Sysctl steps)
    bool ipv6 = false;
};

/// Reads a file a backtick command names (relative to the script's folder), or nullopt.
using FileReader = std::function<std::optional<std::string>(const std::string& path)>;

/// Checks every event before anything is sent and turns it into a step: an unsupported
/// call, argument or command is an error at its line and column.
tl::expected<Plan, ScriptError> planScript(const Script& script, bool ipv6,
                                           const FileReader& readFile);

/// The steps of a plan as a Scenario for the engine's snapshot (names and lines).
engine::Scenario planSteps(const Plan& plan, std::string title);

class DrillRunner final : public engine::Runner {
public:
    DrillRunner(Plan plan, DrillOptions options, engine::ConnectionParams params,
                std::string title);

    void start(std::int64_t nowNs, FrameList& out) override;
    void onFrame(const wire::Frame& frame, std::int64_t nowNs, FrameList& out) override;
    void tick(std::int64_t nowNs, FrameList& out) override;
    std::vector<peer::Request> takePeerRequests() override;
    void onPeerAnswer(const peer::CallRecord& call, std::int64_t nowNs, FrameList& out) override;
    void onPeerSample(const peer::Sample&, std::int64_t, FrameList&) override {}
    std::optional<std::int64_t> nextDeadline() const noexcept override;
    void cancel(std::int64_t nowNs, const std::string& reason) override;
    bool finished() const noexcept override { return m_finished; }
    bool succeeded() const noexcept override { return m_finished && !m_failed; }
    const engine::Scenario& scenario() const noexcept override { return m_steps; }
    const std::vector<engine::StepResult>& results() const noexcept override { return m_results; }
    std::vector<engine::ScenarioEvent> takeEvents() override;
    const std::vector<std::uint8_t>& received() const noexcept override { return m_received; }

    /// The failure in packetdrill's words ("error handling packet: live packet field
    /// tcp_syn: expected: 1 (0x1) vs actual: 0 (0x0)", then the script and actual
    /// packets), with the line; empty while none.
    const std::string& failure() const noexcept { return m_failure; }
    std::optional<unsigned> failedLine() const noexcept { return m_failedLine; }
    /// tcplab's explanation of the failure in plain words.
    const std::string& explanation() const noexcept { return m_explanation; }

private:
    struct Arrival {
        std::vector<std::uint8_t> bytes;
        std::int64_t atNs = 0;
    };
    struct Blocking {
        std::size_t step;
        std::uint32_t id;
    };

    void advance(std::int64_t nowNs, FrameList& out);
    bool runStep(std::int64_t nowNs, FrameList& out); ///< false: it waits
    bool expectPacket(const PlannedStep& step, std::int64_t nowNs);
    void inject(const PlannedStep& step, std::int64_t nowNs, FrameList& out);
    void runCodeStep(std::size_t index, std::int64_t nowNs);
    bool gated(std::size_t index) const noexcept {
        return m_options.stepGate && index >= m_options.stepGate->load(std::memory_order_acquire);
    }
    void sendCall(std::size_t index, std::int64_t nowNs);
    bool checkAnswer(std::size_t index, const peer::CallRecord& call, std::int64_t nowNs);
    void complete(std::size_t index, std::int64_t nowNs);
    void fail(std::size_t index, std::int64_t nowNs, std::string kind, std::string message,
              std::string explanation);
    void finish(std::int64_t nowNs);
    std::int64_t scriptNowUsecs(std::int64_t nowNs) const;
    /// The script's clock (microseconds since the start) at the frames' time `atNs`: the
    /// frames' clock less the time tcplab itself took between a call's due time and the
    /// agent's start of it (see m_pauses).
    std::int64_t scriptUsecsAt(std::int64_t atNs) const;
    std::int64_t dueNs(std::size_t index) const;
    std::optional<std::string> verifyTime(const EventTime& time, std::int64_t scriptUsecs,
                                          std::int64_t scriptEndUsecs, std::int64_t liveNs,
                                          std::optional<std::int64_t> lastEventUsecs,
                                          std::string_view description) const;
    std::string packetText(const wire::Frame& frame, std::int64_t atNs) const;
    bool ours(const wire::Frame& frame) const;

    Plan m_plan;
    DrillOptions m_options;
    engine::ConnectionParams m_params;
    engine::Scenario m_steps;
    std::vector<engine::StepResult> m_results;
    std::vector<engine::ScenarioEvent> m_events;
    std::vector<std::uint8_t> m_received;
    std::vector<peer::Request> m_peerOut;
    std::uint32_t m_nextId = kFirstCallId;

    std::size_t m_current = 0;
    bool m_started = false;
    bool m_finished = false;
    bool m_failed = false;
    std::int64_t m_startNs = 0;
    /// packetdrill makes its next call the moment the previous one returns; tcplab's call
    /// goes to the agent only once the previous answer has come back (a sample first), a
    /// few milliseconds each. That time is not the script's: the script's clock stands
    /// still from a call's due time until the agent starts it, so that a run of `+0` calls
    /// does not push the lines after it late, or make a segment sent during the first one
    /// early. Each pause, in order: the frames' clock from and to, the total paused after.
    struct Pause {
        std::int64_t fromNs;
        std::int64_t toNs;
        std::int64_t pausedNs;
    };
    std::vector<Pause> m_pauses;
    std::int64_t m_pausedNs = 0; ///< the total so far
    /// Times in script microseconds: each step's resolved time, -1 before it ran.
    std::vector<std::int64_t> m_times;
    std::vector<std::int64_t> m_endTimes;
    std::optional<std::uint32_t>
        m_waitingCall;                ///< the id the current (non-blocking) step waits for
    std::vector<Blocking> m_blocking; ///< blocking calls still running
    std::size_t m_sysctlsAnswered = 0;
    std::set<std::uint32_t> m_uncheckedSysctls; ///< requests whose refusal does not count
    /// packetdrill's socket_under_test: the live fd of the last accept() or connect().
    std::optional<int> m_socketUnderTest;
    std::optional<std::uint32_t> m_codeCall; ///< the getsockopt(TCP_INFO) a %{ }% waits for
    std::int64_t m_lastNowNs = 0;            ///< the clock at the last advance (the gate's polls)
    std::int64_t m_callSentNs = 0;           ///< when the last call went to the agent
    CodeEnv m_codeEnv;                       ///< Python's variables, shared by every block
    std::deque<Arrival> m_arrivals;          ///< the peer's segments not yet matched
    std::map<int, int> m_fds;                ///< script fd -> live fd
    std::map<std::uint32_t, std::size_t> m_callSteps; ///< request id -> step
    std::map<std::uint32_t, int> m_newFdOf;           ///< request id -> script fd it creates

    // Sequence spaces (run_packet.c): the peer is packetdrill's local side.
    std::optional<std::uint32_t> m_scriptLocalIsn;
    std::optional<std::uint32_t> m_liveLocalIsn;
    std::map<std::uint32_t, std::uint32_t> m_tsVals;                     ///< script TS val -> live
    std::optional<std::pair<std::uint32_t, std::uint32_t>> m_firstTsVal; ///< script, live
    bool m_zeroWrites = true; ///< every write so far sent zeros (payloads are comparable)
    std::uint16_t m_ipId = 1;

    std::string m_failure;
    std::string m_explanation;
    std::optional<unsigned> m_failedLine;
};

} // namespace tcplab::drill
