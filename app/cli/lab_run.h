#pragma once
// Pieces shared by the commands that run a scenario against a built-in lab
// (experiment, compare): the text ladder and the lab's addresses.

#include "engine/scenario.h"
#include "engine/scenario_runner.h"
#include "timeline/timeline.h"
#include "wire/seq_num.h"

#include <cstdint>
#include <optional>
#include <ostream>

namespace tcplab::cli {

/// The built-in lab's addresses (core/lab: the peer's are fixed there).
inline constexpr const char* kLabPhantom4 = "198.18.0.2/24";
inline constexpr const char* kLabPeer4 = "198.18.0.1";
inline constexpr const char* kLabPhantom6 = "2001:db8::2/64";
inline constexpr const char* kLabPeer6 = "2001:db8::1";

/// One line of the text ladder per frame: time since the first frame, direction,
/// flags, seq and ack relative to each side's ISN (absolute and starred before the
/// peer's SYN), payload length, window. The constructor prints the header line.
class Ladder {
public:
    Ladder(const engine::ConnectionParams& params, std::ostream& out);

    void print(const timeline::Entry& entry);

private:
    const engine::ConnectionParams& m_params;
    std::ostream& m_out;
    std::optional<std::int64_t> m_start;
    std::optional<wire::SeqNum> m_irs;
};

} // namespace tcplab::cli
