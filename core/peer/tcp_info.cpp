#include "peer/tcp_info.h"

#include <fmt/format.h>

namespace tcplab::peer {

namespace {

using F = TcpInfoField;

// struct tcp_info of Linux 6.18 (include/uapi/linux/tcp.h), 280 bytes; its last 4 bytes
// (AccECN's failure mode and option bits, whose layout changed after 6.18) are left out.
// Offsets are checked against the system's header in the agent (static_assert).
constexpr TcpInfoFieldInfo kFields[] = {
    {F::State, "state", 0, 1, 0, 0, "", "the connection's state (Linux's numbering)"},
    {F::CaState, "ca_state", 1, 1, 0, 0, "",
     "congestion control state: Open, Disorder, CWR, "
     "Recovery, Loss"},
    {F::Retransmits, "retransmits", 2, 1, 0, 0, "",
     "retransmission timeouts in a row for the current segment"},
    {F::Probes, "probes", 3, 1, 0, 0, "", "unanswered zero-window or keep-alive probes"},
    {F::Backoff, "backoff", 4, 1, 0, 0, "", "exponential backoff of the RTO (doublings)"},
    {F::Options, "options", 5, 1, 0, 0, "",
     "options in use: timestamps, SACK, window scaling, "
     "ECN"},
    {F::SndWscale, "snd_wscale", 6, 1, 0, 4, "", "the shift of the peer's window (its WS option)"},
    {F::RcvWscale, "rcv_wscale", 6, 1, 4, 4, "", "the shift of our window (our WS option)"},
    {F::DeliveryRateAppLimited, "delivery_rate_app_limited", 7, 1, 0, 1, "",
     "the delivery rate was limited by the application, not the network"},
    {F::FastopenClientFail, "fastopen_client_fail", 7, 1, 1, 2, "", "why TCP Fast Open failed"},
    {F::Rto, "rto", 8, 4, 0, 0, "us", "retransmission timeout (RFC 6298)"},
    {F::Ato, "ato", 12, 4, 0, 0, "us", "delayed-ACK timeout"},
    {F::SndMss, "snd_mss", 16, 4, 0, 0, "bytes", "the largest segment it sends"},
    {F::RcvMss, "rcv_mss", 20, 4, 0, 0, "bytes", "its estimate of the peer's segment size"},
    {F::Unacked, "unacked", 24, 4, 0, 0, "segments", "segments sent and not yet acknowledged"},
    {F::Sacked, "sacked", 28, 4, 0, 0, "segments", "segments the peer holds by SACK"},
    {F::Lost, "lost", 32, 4, 0, 0, "segments", "segments taken as lost"},
    {F::Retrans, "retrans", 36, 4, 0, 0, "segments", "retransmitted segments in flight"},
    {F::Fackets, "fackets", 40, 4, 0, 0, "segments", "forward-acknowledged (unused)"},
    {F::LastDataSent, "last_data_sent", 44, 4, 0, 0, "ms", "since the last data was sent", true},
    {F::LastAckSent, "last_ack_sent", 48, 4, 0, 0, "ms", "since the last ACK was sent (unused)",
     true},
    {F::LastDataRecv, "last_data_recv", 52, 4, 0, 0, "ms", "since the last data arrived", true},
    {F::LastAckRecv, "last_ack_recv", 56, 4, 0, 0, "ms", "since the last ACK arrived", true},
    {F::Pmtu, "pmtu", 60, 4, 0, 0, "bytes", "path MTU"},
    {F::RcvSsthresh, "rcv_ssthresh", 64, 4, 0, 0, "bytes",
     "the window it may advertise now (grows as data arrives)"},
    {F::Rtt, "rtt", 68, 4, 0, 0, "us", "smoothed round-trip time (SRTT, RFC 6298)"},
    {F::Rttvar, "rttvar", 72, 4, 0, 0, "us", "round-trip time variation (RTTVAR, RFC 6298)"},
    {F::SndSsthresh, "snd_ssthresh", 76, 4, 0, 0, "segments",
     "slow-start threshold (RFC 5681); a huge number until the first loss"},
    {F::SndCwnd, "snd_cwnd", 80, 4, 0, 0, "segments", "congestion window (RFC 5681)"},
    {F::Advmss, "advmss", 84, 4, 0, 0, "bytes", "the MSS it advertised"},
    {F::Reordering, "reordering", 88, 4, 0, 0, "segments", "the reordering it tolerates"},
    {F::RcvRtt, "rcv_rtt", 92, 4, 0, 0, "us", "round-trip time as the receiver estimates it"},
    {F::RcvSpace, "rcv_space", 96, 4, 0, 0, "bytes", "receive buffer space auto-tuning aims at"},
    {F::TotalRetrans, "total_retrans", 100, 4, 0, 0, "segments",
     "segments retransmitted over the connection's life"},
    {F::PacingRate, "pacing_rate", 104, 8, 0, 0, "bytes/s", "the rate it paces sending at"},
    {F::MaxPacingRate, "max_pacing_rate", 112, 8, 0, 0, "bytes/s", "SO_MAX_PACING_RATE"},
    {F::BytesAcked, "bytes_acked", 120, 8, 0, 0, "bytes", "bytes acknowledged by the peer"},
    {F::BytesReceived, "bytes_received", 128, 8, 0, 0, "bytes", "bytes received in order"},
    {F::SegsOut, "segs_out", 136, 4, 0, 0, "segments", "segments sent"},
    {F::SegsIn, "segs_in", 140, 4, 0, 0, "segments", "segments received"},
    {F::NotsentBytes, "notsent_bytes", 144, 4, 0, 0, "bytes", "written and not yet sent"},
    {F::MinRtt, "min_rtt", 148, 4, 0, 0, "us", "the lowest round-trip time seen"},
    {F::DataSegsIn, "data_segs_in", 152, 4, 0, 0, "segments", "segments with data received"},
    {F::DataSegsOut, "data_segs_out", 156, 4, 0, 0, "segments", "segments with data sent"},
    {F::DeliveryRate, "delivery_rate", 160, 8, 0, 0, "bytes/s", "the latest delivery rate"},
    {F::BusyTime, "busy_time", 168, 8, 0, 0, "us", "time with data in flight"},
    {F::RwndLimited, "rwnd_limited", 176, 8, 0, 0, "us", "time limited by the peer's window"},
    {F::SndbufLimited, "sndbuf_limited", 184, 8, 0, 0, "us", "time limited by the send buffer"},
    {F::Delivered, "delivered", 192, 4, 0, 0, "segments", "segments delivered (acknowledged)"},
    {F::DeliveredCe, "delivered_ce", 196, 4, 0, 0, "segments", "of them with an ECN CE mark"},
    {F::BytesSent, "bytes_sent", 200, 8, 0, 0, "bytes", "bytes sent, retransmissions included"},
    {F::BytesRetrans, "bytes_retrans", 208, 8, 0, 0, "bytes", "bytes retransmitted"},
    {F::DsackDups, "dsack_dups", 216, 4, 0, 0, "segments",
     "duplicates the peer reported by "
     "D-SACK"},
    {F::ReordSeen, "reord_seen", 220, 4, 0, 0, "", "reordering events seen"},
    {F::RcvOoopack, "rcv_ooopack", 224, 4, 0, 0, "segments", "out-of-order segments received"},
    {F::SndWnd, "snd_wnd", 228, 4, 0, 0, "bytes", "the peer's window, scaled (SND.WND)"},
    {F::RcvWnd, "rcv_wnd", 232, 4, 0, 0, "bytes", "the window it advertises, scaled (RCV.WND)"},
    {F::Rehash, "rehash", 236, 4, 0, 0, "", "path rehash attempts (PLB or timeouts)"},
    {F::TotalRto, "total_rto", 240, 2, 0, 0, "",
     "retransmission timeouts over the "
     "connection's life"},
    {F::TotalRtoRecoveries, "total_rto_recoveries", 242, 2, 0, 0, "",
     "recoveries after a retransmission timeout"},
    {F::TotalRtoTime, "total_rto_time", 244, 4, 0, 0, "ms",
     "time spent recovering from retransmission timeouts"},
    {F::ReceivedCe, "received_ce", 248, 4, 0, 0, "segments", "segments received with CE"},
    {F::DeliveredE1Bytes, "delivered_e1_bytes", 252, 4, 0, 0, "bytes",
     "AccECN: ECT(1) "
     "delivered"},
    {F::DeliveredE0Bytes, "delivered_e0_bytes", 256, 4, 0, 0, "bytes",
     "AccECN: ECT(0) "
     "delivered"},
    {F::DeliveredCeBytes, "delivered_ce_bytes", 260, 4, 0, 0, "bytes", "AccECN: CE delivered"},
    {F::ReceivedE1Bytes, "received_e1_bytes", 264, 4, 0, 0, "bytes", "AccECN: ECT(1) received"},
    {F::ReceivedE0Bytes, "received_e0_bytes", 268, 4, 0, 0, "bytes", "AccECN: ECT(0) received"},
    {F::ReceivedCeBytes, "received_ce_bytes", 272, 4, 0, 0, "bytes", "AccECN: CE received"},
};
static_assert(std::size(kFields) == kTcpInfoFieldCount);

constexpr bool tableInOrder() {
    for (std::size_t i = 0; i < std::size(kFields); ++i)
        if (static_cast<std::size_t>(kFields[i].field) != i)
            return false;
    return true;
}
static_assert(tableInOrder(), "kFields must list every TcpInfoField in enum order");

std::uint64_t loadLittle(const std::uint8_t* p, std::size_t size) noexcept {
    std::uint64_t v = 0;
    for (std::size_t i = size; i-- > 0;)
        v = (v << 8) | p[i];
    return v;
}

} // namespace

std::span<const TcpInfoFieldInfo> tcpInfoFields() noexcept {
    return kFields;
}

const TcpInfoFieldInfo& fieldInfo(TcpInfoField field) noexcept {
    return kFields[static_cast<std::size_t>(field)];
}

std::optional<TcpInfoField> fieldByName(std::string_view name) noexcept {
    if (name.starts_with("tcpi_"))
        name.remove_prefix(5);
    for (const auto& f : kFields)
        if (f.name == name)
            return f.field;
    return std::nullopt;
}

TcpInfo TcpInfo::fromLinux(std::span<const std::uint8_t> raw) noexcept {
    TcpInfo info;
    for (const auto& f : kFields) {
        if (std::size_t{f.offset} + f.size > raw.size())
            continue;
        std::uint64_t v = loadLittle(raw.data() + f.offset, f.size);
        if (f.bitWidth != 0)
            v = (v >> f.bitShift) & ((std::uint64_t{1} << f.bitWidth) - 1);
        info.set(f.field, v);
    }
    return info;
}

TcpInfo TcpInfo::fromPairs(std::span<const std::pair<std::uint8_t, std::uint64_t>> pairs) noexcept {
    TcpInfo info;
    for (const auto& [id, v] : pairs)
        if (id < kTcpInfoFieldCount)
            info.set(static_cast<TcpInfoField>(id), v);
    return info;
}

std::vector<std::pair<std::uint8_t, std::uint64_t>> TcpInfo::pairs() const {
    std::vector<std::pair<std::uint8_t, std::uint64_t>> out;
    out.reserve(m_present.count());
    for (std::size_t i = 0; i < kTcpInfoFieldCount; ++i)
        if (m_present.test(i))
            out.emplace_back(static_cast<std::uint8_t>(i), m_values[i]);
    return out;
}

bool TcpInfo::sameState(const TcpInfo& other) const noexcept {
    if (m_present != other.m_present)
        return false;
    for (const auto& f : kFields) {
        const std::size_t i = index(f.field);
        if (!f.clockDriven && m_present.test(i) && m_values[i] != other.m_values[i])
            return false;
    }
    return true;
}

std::string linuxStateName(std::uint64_t state) {
    switch (state) {
    case 1:
        return "ESTABLISHED";
    case 2:
        return "SYN-SENT";
    case 3:
        return "SYN-RECEIVED";
    case 4:
        return "FIN-WAIT-1";
    case 5:
        return "FIN-WAIT-2";
    case 6:
        return "TIME-WAIT";
    case 7:
        return "CLOSED";
    case 8:
        return "CLOSE-WAIT";
    case 9:
        return "LAST-ACK";
    case 10:
        return "LISTEN";
    case 11:
        return "CLOSING";
    case 12:
        return "NEW-SYN-RECV";
    case 13:
        return "BOUND-INACTIVE";
    default:
        return fmt::format("state {}", state);
    }
}

std::optional<tcp::TcpState> linuxStateAsRfc(std::uint64_t state) noexcept {
    using S = tcp::TcpState;
    switch (state) {
    case 1:
        return S::Established;
    case 2:
        return S::SynSent;
    case 3:
    case 12:
        return S::SynReceived;
    case 4:
        return S::FinWait1;
    case 5:
        return S::FinWait2;
    case 6:
        return S::TimeWait;
    case 7:
    case 13:
        return S::Closed;
    case 8:
        return S::CloseWait;
    case 9:
        return S::LastAck;
    case 10:
        return S::Listen;
    case 11:
        return S::Closing;
    default:
        return std::nullopt;
    }
}

std::string caStateName(std::uint64_t state) {
    switch (state) {
    case 0:
        return "Open";
    case 1:
        return "Disorder";
    case 2:
        return "CWR";
    case 3:
        return "Recovery";
    case 4:
        return "Loss";
    default:
        return fmt::format("ca_state {}", state);
    }
}

std::string optionsText(std::uint64_t options) {
    static constexpr std::pair<std::uint64_t, std::string_view> kBits[] = {
        {1, "timestamps"}, {2, "sack"},      {4, "wscale"},   {8, "ecn"},
        {16, "ecn_seen"},  {32, "syn_data"}, {64, "usec_ts"}, {128, "tfo_child"},
    };
    std::string text;
    for (const auto& [bit, name] : kBits)
        if (options & bit)
            text += fmt::format("{}{}", text.empty() ? "" : " ", name);
    return text.empty() ? "none" : text;
}

std::string formatField(TcpInfoField field, std::uint64_t value) {
    const auto& f = fieldInfo(field);
    switch (field) {
    case F::State:
        return linuxStateName(value);
    case F::CaState:
        return caStateName(value);
    case F::Options:
        return optionsText(value);
    case F::SndSsthresh:
        // TCP_INFINITE_SSTHRESH: no loss yet, slow start has no ceiling.
        if (value >= 0x7fffffff)
            return "infinite (no loss yet)";
        break;
    default:
        break;
    }
    if (f.unit == "us") {
        if (value >= 10'000)
            return fmt::format("{:.1f} ms", double(value) / 1000.0);
        return fmt::format("{} us", value);
    }
    if (f.unit.empty())
        return fmt::format("{}", value);
    return fmt::format("{} {}", value, f.unit);
}

} // namespace tcplab::peer
