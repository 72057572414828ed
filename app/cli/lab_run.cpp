#include "cli/lab_run.h"

#include "wire/frame_summary.h"
#include "wire/tcp.h"

#include <fmt/core.h>

#include <string>
#include <type_traits>
#include <variant>

namespace tcplab::cli {

Ladder::Ladder(const engine::ConnectionParams& params, std::ostream& out)
    : m_params(params)
    , m_out(out) {
    m_out << "      time  direction        flags    seq      ack      len    win\n";
}

void Ladder::print(const timeline::Entry& entry) {
    if (!m_start)
        m_start = entry.timeNs;
    const double ms = static_cast<double>(entry.timeNs - *m_start) / 1e6;
    const bool sent = entry.direction == timeline::Direction::Sent;
    const char* arrow = sent ? "phantom -> peer" : "phantom <- peer";
    const wire::Frame frame = entry.decode();
    if (const auto* tcp = frame.tcp()) {
        using namespace wire::tcp_flags;
        const bool ours = sent;
        if (!ours && (tcp->flags & kSyn))
            m_irs = tcp->seq;
        // Relative to each side's ISN once known; absolute (starred) before.
        const auto rel = [](wire::SeqNum value, std::optional<wire::SeqNum> base) {
            return base ? std::to_string(static_cast<std::uint32_t>(value - *base))
                        : fmt::format("{}*", value.value());
        };
        const std::optional<wire::SeqNum> iss = m_params.iss;
        const std::string seq = rel(tcp->seq, ours ? iss : m_irs);
        const std::string ack =
            (tcp->flags & kAck) ? rel(tcp->ack, ours ? m_irs : iss) : std::string("-");
        std::string flags = wire::tcpFlagsToString(tcp->flags);
        if (flags.empty())
            flags = "none";
        m_out << fmt::format("{:10.3f}  {}  {:<8} {:<8} {:<8} {:<6} {}\n", ms, arrow, flags, seq,
                             ack, frame.payloadLength, tcp->window);
    } else {
        m_out << fmt::format("{:10.3f}  {}  {}\n", ms, arrow, wire::describeOtherFrame(frame));
    }
    m_out.flush();
}

} // namespace tcplab::cli
