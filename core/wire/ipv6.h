#pragma once

#include "wire/address.h"
#include "wire/bytes.h"
#include "wire/diagnostic.h"
#include "wire/field.h"
#include "wire/ip_proto.h"
#include "wire/parse_error.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include <tl/expected.hpp>

namespace tcplab::wire {

// IPv6 header, RFC 8200 §3:
//
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |Version| Traffic Class |           Flow Label                  |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |         Payload Length        |  Next Header  |   Hop Limit   |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                     Source Address (128)                      |
//   |                  Destination Address (128)                    |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
enum class Ipv6Field : std::uint8_t { Version, Tc, Fl, Plen, Nh, Hlim, Src, Dst };
inline constexpr std::array<FieldDescriptor, 8> kIpv6Fields{{
    {"version", "Version", 0, 4, FieldFormat::Decimal, false, "IP version: 6", "RFC 8200 §3"},
    {"tc", "Traffic class", 4, 8, FieldFormat::Hex, false, "DSCP (6 bits) and ECN (2 bits)", "RFC 8200 §7"},
    {"fl", "Flow label", 12, 20, FieldFormat::Hex, false, "labels packets of one flow", "RFC 6437"},
    {"plen", "Payload length", 32, 16, FieldFormat::Decimal, true, "bytes after this header, extension headers included", "RFC 8200 §3"},
    {"nh", "Next header", 48, 8, FieldFormat::Decimal, true, "type of the next header: 6 TCP, 58 ICMPv6", "RFC 8200 §3"},
    {"hlim", "Hop limit", 56, 8, FieldFormat::Decimal, false, "hops left before the packet is dropped", "RFC 8200 §3"},
    {"src", "Source", 64, 128, FieldFormat::Ipv6, false, "address of the sender", "RFC 8200 §3"},
    {"dst", "Destination", 192, 128, FieldFormat::Ipv6, false, "address of the receiver", "RFC 8200 §3"},
}};
static_assert(fieldsTile(kIpv6Fields, 320));
inline constexpr ProtocolDescriptor kIpv6Protocol{"ipv6", "IPv6", kIpv6Fields, headerLengthOf(kIpv6Fields),
                                                  "RFC 8200"};

struct Ipv6Header {
    static constexpr std::size_t kLength = headerLengthOf(kIpv6Fields);

    std::uint8_t version = 6;
    std::uint8_t trafficClass = 0;
    std::uint32_t flowLabel = 0;
    std::optional<std::uint16_t> payloadLength; ///< auto: bytes after the header
    std::optional<std::uint8_t> nextHeader;     ///< auto: the layer above
    std::uint8_t hopLimit = 64;
    Ipv6Address src;
    Ipv6Address dst;

    /// Parses the fixed 40-byte header. Version != 6 fails; a payload length past the
    /// bytes is a diagnostic (kept as override), not a failure. The next header is
    /// always recorded as read (the extension-header walk needs it).
    static tl::expected<Ipv6Header, ParseError> parse(Bytes bytes, Diagnostics* diagnostics = nullptr);
    /// Writes 40 bytes.
    void emit(std::uint8_t* out, std::size_t payloadLength, std::uint8_t autoNextHeader) const noexcept;
    friend bool operator==(const Ipv6Header&, const Ipv6Header&) = default;
};

/// One extension header met while walking the chain (RFC 8200 §4).
struct Ipv6ExtensionHeader {
    std::uint8_t type;    ///< the Next Header value that named it: 0, 43, 44, 60, 51
    std::uint16_t offset; ///< from the end of the fixed IPv6 header
    std::uint16_t length; ///< bytes
    friend bool operator==(const Ipv6ExtensionHeader&, const Ipv6ExtensionHeader&) = default;
};

/// The result of walking the extension headers: where the upper layer starts.
struct Ipv6Chain {
    static constexpr std::size_t kMaxHeaders = 8;
    std::array<Ipv6ExtensionHeader, kMaxHeaders> headers{};
    std::uint8_t count = 0;
    std::uint8_t upperProtocol = ip_proto::kNoNext; ///< TCP, ICMPv6, or what ended the walk
    std::uint16_t upperOffset = 0;                  ///< from the end of the fixed header
    bool fragmented = false; ///< a Fragment header with a non-zero offset: no upper layer
};

/// Walks Hop-by-Hop, Routing, Fragment, Destination Options and AH headers starting
/// from `firstNext` over `afterFixedHeader` (the bytes after the 40-byte header, bounded
/// by the payload length). Stops at any other type. Fails on truncation or more than
/// kMaxHeaders headers.
tl::expected<Ipv6Chain, ParseError> walkIpv6Extensions(Bytes afterFixedHeader, std::uint8_t firstNext);

/// Name of an IPv6 extension header type ("HopByHop", "Routing", ...), "" if not one.
std::string_view ipv6ExtensionName(std::uint8_t type) noexcept;

} // namespace tcplab::wire
