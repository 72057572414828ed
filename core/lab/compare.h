#pragma once
// "Compare stacks": the classic exercise and a bad-segment probe against both built-in
// peers (the Linux kernel and lwIP), and what the two stacks did differently. Plain
// C++ shared by `tcplab-cli compare` (which prints it) and the GUI's CompareDialog
// (which draws it); neither the running nor the analysis knows how it is shown.

#include "engine/scenario.h"
#include "engine/scenario_runner.h"
#include "timeline/timeline.h"
#include "wire/seq_num.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace tcplab::lab {

/// The two built-in peers, in the order they are run and shown.
enum class CompareStack : std::uint8_t {
    Linux, ///< the built-in Linux lab: this machine's kernel in a private namespace
    Lwip,  ///< the built-in lwIP peer
};
/// "linux" / "lwip" (the names `tcplab-cli --lab` takes).
std::string_view compareStackName(CompareStack stack) noexcept;

struct CompareOptions {
    bool ipv6 = false;
    engine::CloseMode close = engine::CloseMode::Fin;
    /// The helpers; empty: findLabHelper() / findLwipHelper() search for them.
    std::string labHelperPath;
    std::string lwipHelperPath;
};

/// What our SYN offers in the compared exercise, so that each SYN-ACK shows which of
/// them the peer supports (a stack only answers options it was offered). WS 0
/// negotiates scaling without changing what our window field means.
inline constexpr std::string_view kCompareSynOptions = "mss:1460,sackok,ts:1:0,nop,ws:0";
/// The classic exercise's source port and the probe's (both to the peer's port 50001).
inline constexpr std::uint16_t kCompareClassicPort = 50000;
inline constexpr std::uint16_t kCompareProbePort = 50002;

/// The classic exercise with kCompareSynOptions on the SYN.
engine::Scenario compareScenario(engine::CloseMode close);
/// The bad-segment probe: after the handshake, one byte a million sequence numbers past
/// what the peer expects, a second of listening, then a RST to clean up.
engine::Scenario probeScenario();

/// One stack's run: the lab, its timeline, and how far it got.
struct LabRun {
    CompareStack stack = CompareStack::Linux;
    std::string name;        ///< "linux" / "lwip"
    std::string title;       ///< "Linux 6.1.0-18-amd64" / "lwIP 2.1.3" (once started)
    std::string description; ///< the lab's own description (once started)
    bool started = false;    ///< the lab started (else `failure` says why not)
    std::shared_ptr<timeline::Timeline> timeline; ///< null when the lab did not start
    engine::ConnectionParams classicParams;
    engine::ConnectionParams probeParams;
    std::size_t classicEnd = 0; ///< timeline entries [0, classicEnd) are the classic run
    std::string failure;        ///< empty when both runs completed
    bool probeHandshake = false;
    bool cancelled = false; ///< stopped early through the stop token
};

/// Called (on the running thread) before each phase: "starting the Linux lab",
/// "running the exercise on lwIP", ...
using CompareProgress = std::function<void(const std::string&)>;

/// Starts the lab of `stack`, runs the classic exercise, then the probe. Blocks: a few
/// seconds when all goes well; bounded by the lab's start timeout plus each
/// scenario's budget. A stop request ends the wait within about 50 ms once the lab is
/// up (the lab's start itself is bounded, not interruptible); the run is then marked
/// cancelled. Thread-safe: no shared state, so it may run on any thread.
LabRun runLab(CompareStack stack, const CompareOptions& options, std::stop_token stop = {},
              const CompareProgress& progress = {});

/// Our connection's segments (sent from or received on `port`) among entries
/// [begin, end) of a timeline.
struct CompareSegment {
    std::int64_t timeNs = 0;
    bool sent = false;
    wire::TcpHeader tcp;
    std::uint32_t length = 0;
};
std::vector<CompareSegment> compareSegments(const timeline::Timeline& t, std::size_t begin,
                                            std::size_t end, std::uint16_t port);

/// What one stack did, in words, one entry per difference topic.
struct Findings {
    std::optional<wire::SeqNum> isn;
    std::optional<wire::SeqNum> probeIsn;
    std::string isnText = "no SYN-ACK";
    std::string synAck = "no SYN-ACK";
    std::string dataAck = "our data was not acknowledged";
    std::string sizes = "no response data";
    std::string closing = "no FIN from the peer";
    std::string badSegment = "not probed";
};

/// Reads a run's timeline: the classic connection on kCompareClassicPort in
/// [0, classicEnd), the probe's on kCompareProbePort after it. A run without a
/// timeline gives the defaults.
Findings analyse(const LabRun& run);

/// One difference topic: what each stack did.
struct DifferenceTopic {
    std::string title; ///< "ISN (the peer's initial sequence number)"
    std::string linuxText;
    std::string lwipText;
    bool same() const { return linuxText == lwipText; }
    /// The same but for the durations ("0.021 ms" against "0.056 ms"): the stacks did
    /// the same thing, one faster (timings on a loaded machine are noise).
    bool sameApartFromTiming() const;
};
/// The topics in their fixed order: ISN, SYN-ACK window and options, how our data was
/// acknowledged, response segment sizes, how it closed, answer to a segment outside
/// the window.
std::vector<DifferenceTopic> differences(const Findings& linuxFound, const Findings& lwipFound);

/// Both runs and what differed: an immutable value once made, for another thread.
struct Comparison {
    CompareOptions options;
    std::array<LabRun, 2> runs; ///< [0] linux, [1] lwip
    std::array<Findings, 2> findings;
    std::vector<DifferenceTopic> topics;
    bool cancelled = false;
    /// Both labs started and both runs completed.
    bool ok() const;
    /// Topics whose findings differ in more than their timings.
    int differenceCount() const;
};

/// Runs both stacks, one after the other (a lab that cannot start does not stop the
/// other), and compares them. Blocking, like runLab(); a stop request skips what is
/// left.
Comparison compareStacks(const CompareOptions& options, std::stop_token stop = {},
                         const CompareProgress& progress = {});

} // namespace tcplab::lab
