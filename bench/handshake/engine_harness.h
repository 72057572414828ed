#pragma once
// What the engine-driven benchmarks (bench_handshake, bench_labs) share: the frames of
// one SYN / SYN-ACK / reply run found in the timeline, and a bounded wait for events.

#include "engine/engine.h"
#include "timeline/timeline.h"
#include "wire/frame.h"
#include "wire/tcp.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

namespace tcplab::bench {

using Clock = std::chrono::steady_clock;

/// Ends the process at once: the engine's thread may still run, so no destructors.
[[noreturn]] inline void fatalExit(const char* program, const std::string& message) {
    std::fprintf(stderr, "%s: %s\n", program, message.c_str());
    std::fflush(nullptr);
    std::_Exit(1);
}

/// The frames of one run, found in the timeline from index `from`.
struct RunFrames {
    std::optional<std::int64_t> synSent;
    std::optional<std::int64_t> synAckReceived;
    std::optional<std::int64_t> replySent; ///< our RST or ACK after the SYN-ACK
};

inline RunFrames findFrames(const timeline::Timeline& timeline, std::size_t from,
                            std::uint16_t sport) {
    using namespace wire::tcp_flags;
    RunFrames f;
    const std::size_t size = timeline.size();
    for (std::size_t i = from; i < size; ++i) {
        const timeline::Entry& entry = timeline[i];
        const wire::Frame frame = entry.decode();
        const wire::TcpHeader* tcp = frame.tcp();
        if (tcp == nullptr)
            continue;
        const bool sent = entry.direction == timeline::Direction::Sent;
        if (sent && tcp->srcPort == sport) {
            if (tcp->has(kSyn) && !tcp->has(kAck) && !f.synSent)
                f.synSent = entry.timeNs;
            else if ((tcp->has(kRst) || tcp->has(kAck)) && f.synAckReceived && !f.replySent)
                f.replySent = entry.timeNs;
        } else if (!sent && tcp->dstPort == sport && tcp->has(kSyn) && tcp->has(kAck) &&
                   f.synSent && !f.synAckReceived) {
            f.synAckReceived = entry.timeNs;
        }
    }
    return f;
}

/// Waits (bounded) for an event that `want` accepts, dropping the others; a failed link,
/// a stopped engine or a full timeline ends the program. nullopt at the deadline.
template <typename Want>
std::optional<engine::EngineEvent> waitFor(const char* program, engine::Engine& engine,
                                           Clock::time_point deadline, Want want) {
    for (;;) {
        for (auto& e : engine.takeEvents()) {
            if (e.kind == engine::EngineEvent::Kind::LinkFailed)
                fatalExit(program, "the link failed: " + e.message);
            if (e.kind == engine::EngineEvent::Kind::Stopped)
                fatalExit(program, "the engine stopped: " + e.message);
            if (e.kind == engine::EngineEvent::Kind::TimelineFull)
                fatalExit(program, "the timeline is full: " + e.message);
            if (want(e))
                return std::move(e);
        }
        const auto now = Clock::now();
        if (now >= deadline)
            return std::nullopt;
        engine.waitForEvents(
            std::min(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) +
                         std::chrono::milliseconds(1),
                     std::chrono::milliseconds(100)));
    }
}

/// A latency that came out negative (clocks of different sources) counts as 0 and is
/// counted, so the report can say how often.
inline std::uint64_t nonNegative(std::int64_t v, unsigned& negatives) {
    if (v >= 0)
        return static_cast<std::uint64_t>(v);
    ++negatives;
    return 0;
}

} // namespace tcplab::bench
