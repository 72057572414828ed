#pragma once

// The kernel's own TCP variables of one socket: Linux's struct tcp_info (linux/tcp.h,
// getsockopt(TCP_INFO) and inet_diag's INET_DIAG_INFO), field by field, named as the
// struct names them less the "tcpi_" prefix. One table gives each field's place in the
// struct, its unit and its meaning; the agent decodes with it, the timeline's JSON
// export names with it, the GUI's tables label with it. lwIP fills the fields its
// tcp_pcb has (see the lwIP helper) and leaves the rest absent, never zero.

#include "tcp/tracker.h"

#include <array>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace tcplab::peer {

/// Every field, in the struct's order. The values are the field ids on the wire: append
/// only (a new kernel's fields go at the end).
enum class TcpInfoField : std::uint8_t {
    State,
    CaState,
    Retransmits,
    Probes,
    Backoff,
    Options,
    SndWscale,
    RcvWscale,
    DeliveryRateAppLimited,
    FastopenClientFail,
    Rto,
    Ato,
    SndMss,
    RcvMss,
    Unacked,
    Sacked,
    Lost,
    Retrans,
    Fackets,
    LastDataSent,
    LastAckSent,
    LastDataRecv,
    LastAckRecv,
    Pmtu,
    RcvSsthresh,
    Rtt,
    Rttvar,
    SndSsthresh,
    SndCwnd,
    Advmss,
    Reordering,
    RcvRtt,
    RcvSpace,
    TotalRetrans,
    PacingRate,
    MaxPacingRate,
    BytesAcked,
    BytesReceived,
    SegsOut,
    SegsIn,
    NotsentBytes,
    MinRtt,
    DataSegsIn,
    DataSegsOut,
    DeliveryRate,
    BusyTime,
    RwndLimited,
    SndbufLimited,
    Delivered,
    DeliveredCe,
    BytesSent,
    BytesRetrans,
    DsackDups,
    ReordSeen,
    RcvOoopack,
    SndWnd,
    RcvWnd,
    Rehash,
    TotalRto,
    TotalRtoRecoveries,
    TotalRtoTime,
    ReceivedCe,
    DeliveredE1Bytes,
    DeliveredE0Bytes,
    DeliveredCeBytes,
    ReceivedE1Bytes,
    ReceivedE0Bytes,
    ReceivedCeBytes,
};
inline constexpr std::size_t kTcpInfoFieldCount =
    static_cast<std::size_t>(TcpInfoField::ReceivedCeBytes) + 1;

/// Where a field lives in Linux's struct tcp_info (x86-64 and every Linux ABI: the struct
/// has no padding but its bit fields), and what it means.
struct TcpInfoFieldInfo {
    TcpInfoField field;
    std::string_view name;    ///< "snd_cwnd": the struct's name less "tcpi_"
    std::uint16_t offset;     ///< byte offset in the struct
    std::uint8_t size;        ///< 1, 2, 4 or 8 bytes (of the storage unit for bit fields)
    std::uint8_t bitShift;    ///< bit fields: the lowest bit (little-endian bit order)
    std::uint8_t bitWidth;    ///< bit fields: the width; 0 for a whole field
    std::string_view unit;    ///< "segments", "us", "bytes", "bytes/s", "ms", "" (a count)
    std::string_view meaning; ///< one line
    /// True for fields that move with the clock alone (time since the last ACK...): a
    /// change in them alone is not news.
    bool clockDriven = false;
};
/// The table, one entry per field, in TcpInfoField order.
std::span<const TcpInfoFieldInfo> tcpInfoFields() noexcept;
const TcpInfoFieldInfo& fieldInfo(TcpInfoField field) noexcept;
std::optional<TcpInfoField> fieldByName(std::string_view name) noexcept;

/// What a stack reported of one socket: some fields, each a number.
class TcpInfo {
public:
    TcpInfo() = default;
    /// The fields of a raw struct tcp_info as getsockopt or inet_diag gave it: those that
    /// lie wholly within `raw` (an older kernel's struct is shorter).
    static TcpInfo fromLinux(std::span<const std::uint8_t> raw) noexcept;
    /// From the wire's (field, value) pairs; unknown fields are skipped.
    static TcpInfo
    fromPairs(std::span<const std::pair<std::uint8_t, std::uint64_t>> pairs) noexcept;
    std::vector<std::pair<std::uint8_t, std::uint64_t>> pairs() const;

    bool has(TcpInfoField f) const noexcept { return m_present.test(index(f)); }
    std::optional<std::uint64_t> get(TcpInfoField f) const noexcept {
        return has(f) ? std::optional<std::uint64_t>(m_values[index(f)]) : std::nullopt;
    }
    std::uint64_t value(TcpInfoField f, std::uint64_t otherwise = 0) const noexcept {
        return has(f) ? m_values[index(f)] : otherwise;
    }
    void set(TcpInfoField f, std::uint64_t v) noexcept {
        m_present.set(index(f));
        m_values[index(f)] = v;
    }
    bool empty() const noexcept { return m_present.none(); }
    /// Same fields, same values, apart from the clock-driven ones.
    bool sameState(const TcpInfo& other) const noexcept;
    friend bool operator==(const TcpInfo&, const TcpInfo&) = default;

private:
    static constexpr std::size_t index(TcpInfoField f) noexcept {
        return static_cast<std::size_t>(f);
    }
    std::bitset<kTcpInfoFieldCount> m_present;
    std::array<std::uint64_t, kTcpInfoFieldCount> m_values{};
};

/// Linux's TCP states (tcpi_state, include/net/tcp_states.h), 1 to 13.
/// "ESTABLISHED", "SYN-SENT", "SYN-RECEIVED", ..., as RFC 9293 spells the RFC's states;
/// "NEW-SYN-RECV" and "BOUND-INACTIVE" for Linux's own; "state N" for anything else.
std::string linuxStateName(std::uint64_t state);
/// The RFC 9293 state a Linux state is (NEW_SYN_RECV is SYN-RECEIVED, BOUND_INACTIVE and
/// CLOSE are CLOSED); nullopt for an unknown number.
std::optional<tcp::TcpState> linuxStateAsRfc(std::uint64_t state) noexcept;
/// tcpi_ca_state: "Open", "Disorder", "CWR", "Recovery", "Loss".
std::string caStateName(std::uint64_t state);
/// tcpi_options bits: "timestamps sack wscale ecn ecn_seen syn_data usec_ts".
std::string optionsText(std::uint64_t options);
/// A field's value for a person: "1448 bytes", "204 ms" (rto, given in us), "ESTABLISHED",
/// "Recovery", "7 segments".
std::string formatField(TcpInfoField field, std::uint64_t value);

} // namespace tcplab::peer
