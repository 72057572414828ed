#pragma once

#include "wire/bytes.h"
#include "wire/ethernet.h"
#include "wire/frame.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include "wire/tcp.h"

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <tl/expected.hpp>

namespace tcplab::wire {

enum class EncodeError : std::uint8_t {
    BufferTooSmall, ///< the output span cannot hold the frame
    TooLarge,       ///< the IP packet exceeds 65535 bytes (IPv4 total / IPv6 payload length)
};
std::string_view describe(EncodeError e) noexcept;

/// What the user edits: every field of every layer of one Ethernet/IP/TCP frame,
/// derived fields "auto" unless set. Encodes to the bytes of one frame.
struct SegmentSpec {
    EthernetHeader ethernet;
    std::variant<Ipv4Header, Ipv6Header> ip;
    TcpHeader tcp;
    std::vector<std::uint8_t> payload;

    bool isIpv6() const noexcept { return std::holds_alternative<Ipv6Header>(ip); }
    Ipv4Header& ipv4() { return std::get<Ipv4Header>(ip); }
    Ipv6Header& ipv6() { return std::get<Ipv6Header>(ip); }
    const Ipv4Header* ipv4If() const noexcept { return std::get_if<Ipv4Header>(&ip); }
    const Ipv6Header* ipv6If() const noexcept { return std::get_if<Ipv6Header>(&ip); }

    /// Bytes encode() writes.
    std::size_t encodedLength() const noexcept;
    /// Writes the frame into `out`; all auto fields computed, overrides verbatim.
    /// No allocation: the hot path for benchmarks and floods.
    tl::expected<std::size_t, EncodeError> encode(MutableBytes out) const noexcept;
    /// Convenience: a new vector with the frame.
    tl::expected<std::vector<std::uint8_t>, EncodeError> encode() const;

    /// The pseudo-header TCP's checksum covers for this spec's addresses.
    PseudoHeader pseudoHeader() const noexcept;
    /// A spec that re-encodes `frame` byte for byte, when it is Ethernet/IPv4|IPv6/TCP
    /// without IPv6 extension headers, 802.1Q tag, or trailing bytes; nullopt otherwise.
    static std::optional<SegmentSpec> fromFrame(const Frame& frame);
    /// The skeleton of an answer to `frame` (Ethernet/IPv4|IPv6/TCP): MACs, addresses and
    /// ports swapped, fresh IP header defaults (TTL/hop limit 64, DF), no flags, no
    /// options, no payload, seq/ack 0; nullopt when `frame` is not such a segment. The
    /// caller fills what the answer says ("Reply to selected", auto-ACK).
    static std::optional<SegmentSpec> replyTo(const Frame& frame);
    friend bool operator==(const SegmentSpec&, const SegmentSpec&) = default;
};

} // namespace tcplab::wire
