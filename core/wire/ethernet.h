#pragma once

#include "wire/address.h"
#include "wire/bytes.h"
#include "wire/field.h"
#include "wire/parse_error.h"

#include <array>
#include <cstdint>
#include <optional>

#include <tl/expected.hpp>

namespace tcplab::wire {

namespace ether_type {
inline constexpr std::uint16_t kIpv4 = 0x0800;
inline constexpr std::uint16_t kArp = 0x0806;
inline constexpr std::uint16_t kVlan = 0x8100; ///< IEEE 802.1Q customer tag
inline constexpr std::uint16_t kIpv6 = 0x86dd;
} // namespace ether_type

// Ethernet II (DIX) header, IEEE 802.3 §3.1.1 / RFC 894:
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                  Destination MAC (48 bits)                    |
//  +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                               |                               |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//  |                     Source MAC (48 bits)                      |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |           EtherType           |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
enum class EthernetField : std::uint8_t { Dst, Src, Type };
inline constexpr std::array<FieldDescriptor, 3> kEthernetFields{{
    {"dst", "Destination", 0, 48, FieldFormat::Mac, false, "MAC address of the receiving interface",
     "IEEE 802.3 §3.2.4"},
    {"src", "Source", 48, 48, FieldFormat::Mac, false, "MAC address of the sending interface",
     "IEEE 802.3 §3.2.5"},
    {"type", "EtherType", 96, 16, FieldFormat::Hex, true,
     "protocol of the payload: 0x0800 IPv4, 0x0806 ARP, 0x86DD IPv6", "RFC 894"},
}};
static_assert(fieldsTile(kEthernetFields, 112));
inline constexpr ProtocolDescriptor kEthernetProtocol{"ethernet", "Ethernet II", kEthernetFields,
                                                      headerLengthOf(kEthernetFields), "RFC 894"};

struct EthernetHeader {
    static constexpr std::size_t kLength = headerLengthOf(kEthernetFields);

    MacAddress dst;
    MacAddress src;
    /// Auto: the type of the layer above. Set: written verbatim.
    std::optional<std::uint16_t> etherType;

    /// Parses the 14-byte header. The EtherType is always recorded as read.
    static tl::expected<EthernetHeader, ParseError> parse(Bytes bytes);
    /// Writes 14 bytes; `autoType` is used when etherType is auto.
    void emit(std::uint8_t* out, std::uint16_t autoType) const noexcept;
    friend bool operator==(const EthernetHeader&, const EthernetHeader&) = default;
};

// IEEE 802.1Q tag, after the source MAC (TPID 0x8100 read as the EtherType):
//   PCP (3) | DEI (1) | VID (12) | inner EtherType (16)
enum class VlanField : std::uint8_t { Prio, Dei, Vlan, Type };
inline constexpr std::array<FieldDescriptor, 4> kVlanFields{{
    {"prio", "Priority", 0, 3, FieldFormat::Decimal, false,
     "priority code point (IEEE 802.1p class)", "IEEE 802.1Q §6.9.3"},
    {"id", "DEI", 3, 1, FieldFormat::Decimal, false, "drop eligible indicator",
     "IEEE 802.1Q §6.9.3"},
    {"vlan", "VLAN ID", 4, 12, FieldFormat::Decimal, false, "VLAN the frame belongs to",
     "IEEE 802.1Q §6.9.3"},
    {"type", "EtherType", 16, 16, FieldFormat::Hex, true, "protocol of the payload",
     "IEEE 802.1Q §6.9.3"},
}};
static_assert(fieldsTile(kVlanFields, 32));
inline constexpr ProtocolDescriptor kVlanProtocol{"dot1q", "802.1Q VLAN tag", kVlanFields,
                                                  headerLengthOf(kVlanFields), "IEEE 802.1Q"};

struct VlanTag {
    static constexpr std::size_t kLength = headerLengthOf(kVlanFields);
    std::uint8_t priority = 0;
    bool dropEligible = false;
    std::uint16_t vlanId = 0;
    std::uint16_t innerType = 0;

    static tl::expected<VlanTag, ParseError> parse(Bytes bytes);
    void emit(std::uint8_t* out) const noexcept;
    friend bool operator==(const VlanTag&, const VlanTag&) = default;
};

} // namespace tcplab::wire
