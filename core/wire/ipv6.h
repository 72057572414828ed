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
    {"tc", "Traffic class", 4, 8, FieldFormat::Hex, false, "DSCP (6 bits) and ECN (2 bits)",
     "RFC 8200 §7"},
    {"fl", "Flow label", 12, 20, FieldFormat::Hex, false, "labels packets of one flow", "RFC 6437"},
    {"plen", "Payload length", 32, 16, FieldFormat::Decimal, true,
     "bytes after this header, extension headers included", "RFC 8200 §3"},
    {"nh", "Next header", 48, 8, FieldFormat::Decimal, true,
     "type of the next header: 6 TCP, 58 ICMPv6", "RFC 8200 §3"},
    {"hlim", "Hop limit", 56, 8, FieldFormat::Decimal, false,
     "hops left before the packet is dropped", "RFC 8200 §3"},
    {"src", "Source", 64, 128, FieldFormat::Ipv6, false, "address of the sender", "RFC 8200 §3"},
    {"dst", "Destination", 192, 128, FieldFormat::Ipv6, false, "address of the receiver",
     "RFC 8200 §3"},
}};
static_assert(fieldsTile(kIpv6Fields, 320));
inline constexpr ProtocolDescriptor kIpv6Protocol{"ipv6", "IPv6", kIpv6Fields,
                                                  headerLengthOf(kIpv6Fields), "RFC 8200"};

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
    static tl::expected<Ipv6Header, ParseError> parse(Bytes bytes,
                                                      Diagnostics* diagnostics = nullptr);
    /// Writes 40 bytes.
    void emit(std::uint8_t* out, std::size_t payloadLength,
              std::uint8_t autoNextHeader) const noexcept;
    friend bool operator==(const Ipv6Header&, const Ipv6Header&) = default;
};

// The first two bytes every extension header the walk follows starts with: Hop-by-Hop
// Options (RFC 8200 §4.3), Routing (§4.4) and Destination Options (§4.6) count Hdr Ext
// Len in 8-byte units not including the first 8; AH (RFC 4302 §2.2) counts its Payload
// Len in 4-byte units minus 2.
//   |  Next Header  |  Hdr Ext Len  |  ...
enum class Ipv6ExtensionField : std::uint8_t { Nh, Len };
inline constexpr std::array<FieldDescriptor, 2> kIpv6ExtensionFields{{
    {"nh", "Next header", 0, 8, FieldFormat::Decimal, true, "type of the header after this one",
     "RFC 8200 §4"},
    {"len", "Header length", 8, 8, FieldFormat::Decimal, true,
     "length in 8-byte units not counting the first 8 (AH: 4-byte units minus 2)",
     "RFC 8200 §4.3, RFC 4302 §2.2"},
}};
static_assert(fieldsTile(kIpv6ExtensionFields, 16));

// Fragment header, RFC 8200 §4.5 (fixed 8 bytes; field ids as scapy's):
//   |  Next Header  |   Reserved    |      Fragment Offset    |Res|M|
//   |                         Identification                        |
enum class Ipv6FragmentField : std::uint8_t { Nh, Res1, Offset, Res2, M, Id };
inline constexpr std::array<FieldDescriptor, 6> kIpv6FragmentFields{{
    {"nh", "Next header", 0, 8, FieldFormat::Decimal, true, "type of the fragmented header",
     "RFC 8200 §4.5"},
    {"res1", "Reserved", 8, 8, FieldFormat::Hex, false, "zero on send, ignored on receipt",
     "RFC 8200 §4.5"},
    {"offset", "Fragment offset", 16, 13, FieldFormat::Decimal, false,
     "position of this fragment, in 8-byte units", "RFC 8200 §4.5"},
    {"res2", "Reserved", 29, 2, FieldFormat::Hex, false, "zero on send, ignored on receipt",
     "RFC 8200 §4.5"},
    {"m", "More fragments", 31, 1, FieldFormat::Decimal, false, "1 = more fragments follow",
     "RFC 8200 §4.5"},
    {"id", "Identification", 32, 32, FieldFormat::Hex, false, "groups the fragments of one packet",
     "RFC 8200 §4.5"},
}};
static_assert(fieldsTile(kIpv6FragmentFields, 64));

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
    /// A Fragment header with M set: the upper layer continues in later fragments, so
    /// its checksum cannot be verified here. (An offset-0, M-0 "atomic fragment",
    /// RFC 6946, holds the whole datagram.)
    bool moreFragments = false;
    friend bool operator==(const Ipv6Chain&, const Ipv6Chain&) = default;
};

/// Walks Hop-by-Hop, Routing, Fragment, Destination Options and AH headers starting
/// from `firstNext` over `afterFixedHeader` (the bytes after the 40-byte header, bounded
/// by the payload length). Stops at any other type. Fails on truncation (Truncated),
/// a header length past the bytes (HeaderLengthOverrun) or more than kMaxHeaders
/// headers (Unsupported); the error's layer is "ipv6", its field the extension's name
/// (ipv6ExtensionName) and its offset counts from the start of the IPv6 header.
tl::expected<Ipv6Chain, ParseError> walkIpv6Extensions(Bytes afterFixedHeader,
                                                       std::uint8_t firstNext);

/// Name of an IPv6 extension header type ("HopByHop", "Routing", ...), "" if not one.
std::string_view ipv6ExtensionName(std::uint8_t type) noexcept;

} // namespace tcplab::wire
