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
#include <string>

#include <tl/expected.hpp>

namespace tcplab::wire {

// IPv4 header, RFC 791 §3.1:
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |Version|  IHL  |Type of Service|          Total Length         |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |         Identification        |Flags|      Fragment Offset    |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  Time to Live |    Protocol   |         Header Checksum       |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                       Source Address                          |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                    Destination Address                        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                    Options                    |    Padding    |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
enum class Ipv4Field : std::uint8_t {
    Version,
    Ihl,
    Tos,
    Len,
    Id,
    Flags,
    Frag,
    Ttl,
    Proto,
    Chksum,
    Src,
    Dst
};
inline constexpr std::array<FieldDescriptor, 12> kIpv4Fields{{
    {"version", "Version", 0, 4, FieldFormat::Decimal, false, "IP version: 4", "RFC 791 §3.1"},
    {"ihl", "IHL", 4, 4, FieldFormat::Decimal, true,
     "header length in 32-bit words (5 without options)", "RFC 791 §3.1"},
    {"tos", "TOS / DSCP+ECN", 8, 8, FieldFormat::Hex, false, "DSCP (6 bits) and ECN (2 bits)",
     "RFC 2474 §3, RFC 3168 §5"},
    {"len", "Total length", 16, 16, FieldFormat::Decimal, true, "bytes of header and data",
     "RFC 791 §3.1"},
    {"id", "Identification", 32, 16, FieldFormat::Decimal, false,
     "groups the fragments of one datagram", "RFC 791 §3.1, RFC 6864"},
    {"flags", "Flags", 48, 3, FieldFormat::Ipv4Flags, false,
     "reserved (evil), DF don't fragment, MF more fragments", "RFC 791 §3.1"},
    {"frag", "Fragment offset", 51, 13, FieldFormat::Decimal, false,
     "position of this fragment, in 8-byte units", "RFC 791 §3.1"},
    {"ttl", "Time to live", 64, 8, FieldFormat::Decimal, false,
     "hops left before the datagram is dropped", "RFC 791 §3.1"},
    {"proto", "Protocol", 72, 8, FieldFormat::Decimal, true,
     "protocol of the data: 6 TCP, 1 ICMP, 17 UDP", "RFC 791 §3.1"},
    {"chksum", "Header checksum", 80, 16, FieldFormat::Hex, true,
     "ones' complement sum of the header", "RFC 791 §3.1, RFC 1071"},
    {"src", "Source", 96, 32, FieldFormat::Ipv4, false, "address of the sender", "RFC 791 §3.1"},
    {"dst", "Destination", 128, 32, FieldFormat::Ipv4, false, "address of the receiver",
     "RFC 791 §3.1"},
}};
static_assert(fieldsTile(kIpv4Fields, 160));
inline constexpr ProtocolDescriptor kIpv4Protocol{"ipv4", "IPv4", kIpv4Fields,
                                                  headerLengthOf(kIpv4Fields), "RFC 791"};

namespace ipv4_flags {
inline constexpr std::uint8_t kReserved = 0x4; ///< RFC 3514's "evil bit"
inline constexpr std::uint8_t kDontFragment = 0x2;
inline constexpr std::uint8_t kMoreFragments = 0x1;
} // namespace ipv4_flags

/// "DF", "MF+DF", "evil" ... as scapy prints them; "" for none.
std::string ipv4FlagsToString(std::uint8_t flags);

struct Ipv4Header {
    static constexpr std::size_t kMinLength = headerLengthOf(kIpv4Fields);
    static constexpr std::size_t kMaxOptions = 40;

    std::uint8_t version = 4;
    std::optional<std::uint8_t> ihl; ///< auto: from the options
    std::uint8_t tos = 0;
    std::optional<std::uint16_t> totalLength; ///< auto: header + payload
    std::uint16_t id = 0;
    std::uint8_t flags = ipv4_flags::kDontFragment;
    std::uint16_t fragOffset = 0;
    std::uint8_t ttl = 64;
    std::optional<std::uint8_t> protocol;  ///< auto: the layer above
    std::optional<std::uint16_t> checksum; ///< auto: computed
    Ipv4Address src;
    Ipv4Address dst;
    /// Options as bytes, verbatim; padded with zeros to a 4-byte boundary on emit.
    InlineBytes<kMaxOptions> options;

    /// Parses the header and its options. Structure only: version != 4, IHL < 5,
    /// IHL past the bytes, total length < IHL fail. Derived fields that match what
    /// emit would compute stay auto; ones that differ are kept as overrides, so the
    /// header re-emits byte for byte. `diagnostics` (optional) receives the oddities.
    static tl::expected<Ipv4Header, ParseError> parse(Bytes bytes,
                                                      Diagnostics* diagnostics = nullptr);
    /// parse() into `h`, a default-constructed header (a decoder's own storage, so the
    /// header is not copied): nullopt on success, else the error (h is then unspecified).
    static std::optional<ParseError> parseInto(Ipv4Header& h, Bytes bytes,
                                               Diagnostics* diagnostics = nullptr) noexcept;

    /// Header length in bytes as emitted: 20 + options rounded up to 4.
    std::size_t headerLength() const noexcept;
    /// Writes headerLength() bytes. `payloadLength` and `autoProtocol` fill the auto fields.
    std::size_t emit(std::uint8_t* out, std::size_t payloadLength,
                     std::uint8_t autoProtocol) const noexcept;
    friend bool operator==(const Ipv4Header&, const Ipv4Header&) = default;
};

} // namespace tcplab::wire
