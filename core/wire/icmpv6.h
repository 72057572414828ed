#pragma once

#include "wire/address.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/diagnostic.h"
#include "wire/field.h"
#include "wire/parse_error.h"

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include <tl/expected.hpp>

namespace tcplab::wire {

namespace icmpv6_type {
inline constexpr std::uint8_t kEchoRequest = 128;
inline constexpr std::uint8_t kEchoReply = 129;
inline constexpr std::uint8_t kRouterSolicitation = 133;
inline constexpr std::uint8_t kRouterAdvertisement = 134;
inline constexpr std::uint8_t kNeighborSolicitation = 135;
inline constexpr std::uint8_t kNeighborAdvertisement = 136;
} // namespace icmpv6_type

namespace nd_option {
inline constexpr std::uint8_t kSourceLinkLayer = 1; ///< RFC 4861 §4.6.1
inline constexpr std::uint8_t kTargetLinkLayer = 2;
} // namespace nd_option

namespace na_flags {
inline constexpr std::uint8_t kRouter = 0x4;    ///< R
inline constexpr std::uint8_t kSolicited = 0x2; ///< S
inline constexpr std::uint8_t kOverride = 0x1;  ///< O
} // namespace na_flags

// ICMPv6 common header (RFC 4443 §2.1) followed, for Neighbor Solicitation and
// Advertisement (RFC 4861 §4.3, §4.4), by a 32-bit word and the target address:
//
//   |     Type      |     Code      |          Checksum             |
//   |R|S|O|                     Reserved                            |   (NA; NS: all reserved)
//   |                      Target Address (128)                     |
//   |   Options ...  (type, length in 8-byte units, data)
enum class Icmpv6Field : std::uint8_t { Type, Code, Cksum, Flags, Reserved, Tgt };
inline constexpr std::array<FieldDescriptor, 6> kIcmpv6NdFields{{
    {"type", "Type", 0, 8, FieldFormat::Decimal, false,
     "135 Neighbor Solicitation, 136 Neighbor Advertisement", "RFC 4443 §2.1"},
    {"code", "Code", 8, 8, FieldFormat::Decimal, false, "0 for Neighbor Discovery",
     "RFC 4861 §4.3"},
    {"cksum", "Checksum", 16, 16, FieldFormat::Hex, true,
     "over the IPv6 pseudo-header and the message", "RFC 4443 §2.3"},
    {"flags", "Flags (R S O)", 32, 3, FieldFormat::Decimal, false,
     "NA: Router, Solicited, Override; zero in NS", "RFC 4861 §4.4"},
    {"res", "Reserved", 35, 29, FieldFormat::Hex, false, "zero on send, ignored on receipt",
     "RFC 4861 §4.3"},
    {"tgt", "Target address", 64, 128, FieldFormat::Ipv6, false,
     "the address being resolved or advertised", "RFC 4861 §4.3"},
}};
static_assert(fieldsTile(kIcmpv6NdFields, 192));
inline constexpr ProtocolDescriptor kIcmpv6Protocol{
    "icmpv6", "ICMPv6", kIcmpv6NdFields, headerLengthOf(kIcmpv6NdFields), "RFC 4443, RFC 4861"};

// Neighbor Discovery option, RFC 4861 §4.6, as the link-layer address options lay it
// out for Ethernet (§4.6.1, RFC 2464 §6): type, length in units of 8 bytes (type and
// length included; 0 is invalid), then the 6-byte MAC. Every ND option starts with the
// first two fields.
//   |     Type      |    Length     |    Link-Layer Address (48) ...
enum class NdOptionField : std::uint8_t { Type, Len, Addr };
inline constexpr std::array<FieldDescriptor, 3> kNdLinkLayerOptionFields{{
    {"type", "Type", 0, 8, FieldFormat::Decimal, false, "1 Source, 2 Target Link-Layer Address",
     "RFC 4861 §4.6"},
    {"len", "Length", 8, 8, FieldFormat::Decimal, true,
     "in units of 8 bytes, type and length included", "RFC 4861 §4.6"},
    {"lladdr", "Link-layer address", 16, 48, FieldFormat::Mac, false,
     "MAC address of the sender or target", "RFC 4861 §4.6.1"},
}};
static_assert(fieldsTile(kNdLinkLayerOptionFields, 64));

/// An ICMPv6 message. Neighbor Solicitation and Advertisement are decoded in full;
/// any other type keeps its type, code, checksum and body bytes.
struct Icmpv6Message {
    static constexpr std::size_t kHeaderLength = 4;
    static constexpr std::size_t kNdLength = headerLengthOf(kIcmpv6NdFields);
    static constexpr std::size_t kMaxBody = 1232; ///< minimum IPv6 MTU less headers

    std::uint8_t type = icmpv6_type::kNeighborSolicitation;
    std::uint8_t code = 0;
    std::optional<std::uint16_t> checksum; ///< auto: computed over the pseudo-header
    /// NS/NA only.
    std::uint8_t flags = 0;     ///< R S O bits (na_flags)
    std::uint32_t reserved = 0; ///< the 29 bits after the flags
    Ipv6Address target;
    std::optional<MacAddress> sourceLinkLayer; ///< option 1
    std::optional<MacAddress> targetLinkLayer; ///< option 2
    /// Other types: the bytes after the 4-byte header. NS/NA: options we do not decode.
    std::vector<std::uint8_t> body;

    bool isNeighborDiscovery() const noexcept {
        return type == icmpv6_type::kNeighborSolicitation ||
               type == icmpv6_type::kNeighborAdvertisement;
    }

    /// Parses a message; with a pseudo-header, a correct checksum stays auto and a
    /// wrong one is kept as override with Icmpv6ChecksumBad. ND option length 0 fails
    /// (RFC 4861 §4.6: "nodes MUST silently discard an ND packet that contains an
    /// option with length zero").
    static tl::expected<Icmpv6Message, ParseError> parse(Bytes bytes, const PseudoHeader* pseudo,
                                                         Diagnostics* diagnostics = nullptr);
    std::size_t length() const noexcept;
    /// Writes length() bytes and the checksum under `pseudo`.
    std::size_t emit(std::uint8_t* out, const PseudoHeader& pseudo) const noexcept;

    static Icmpv6Message neighborSolicitation(const Ipv6Address& target,
                                              const MacAddress& sourceMac);
    static Icmpv6Message neighborAdvertisement(const Ipv6Address& target,
                                               const MacAddress& targetMac, std::uint8_t flags);
    friend bool operator==(const Icmpv6Message&, const Icmpv6Message&) = default;
};

} // namespace tcplab::wire
