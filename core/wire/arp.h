#pragma once

#include "wire/address.h"
#include "wire/bytes.h"
#include "wire/field.h"
#include "wire/parse_error.h"

#include <array>
#include <cstdint>

#include <tl/expected.hpp>

namespace tcplab::wire {

// ARP for Ethernet and IPv4, RFC 826 (field names as scapy's):
//   HTYPE (16) | PTYPE (16) | HLEN (8) | PLEN (8) | OPER (16)
//   SHA (48) | SPA (32) | THA (48) | TPA (32)
enum class ArpField : std::uint8_t { HwType, PType, HwLen, PLen, Op, HwSrc, PSrc, HwDst, PDst };
inline constexpr std::array<FieldDescriptor, 9> kArpFields{{
    {"hwtype", "Hardware type", 0, 16, FieldFormat::Decimal, false, "1 = Ethernet", "RFC 826"},
    {"ptype", "Protocol type", 16, 16, FieldFormat::Hex, false, "0x0800 = IPv4", "RFC 826"},
    {"hwlen", "Hardware length", 32, 8, FieldFormat::Decimal, false,
     "bytes per hardware address (6)", "RFC 826"},
    {"plen", "Protocol length", 40, 8, FieldFormat::Decimal, false,
     "bytes per protocol address (4)", "RFC 826"},
    {"op", "Operation", 48, 16, FieldFormat::Decimal, false,
     "1 = request (who-has), 2 = reply (is-at)", "RFC 826"},
    {"hwsrc", "Sender MAC", 64, 48, FieldFormat::Mac, false, "MAC of the sender", "RFC 826"},
    {"psrc", "Sender IP", 112, 32, FieldFormat::Ipv4, false,
     "IPv4 address of the sender (0.0.0.0 in a probe)", "RFC 5227 §2.1.1"},
    {"hwdst", "Target MAC", 144, 48, FieldFormat::Mac, false,
     "MAC of the target (zero in a request)", "RFC 826"},
    {"pdst", "Target IP", 192, 32, FieldFormat::Ipv4, false, "IPv4 address asked about", "RFC 826"},
}};
static_assert(fieldsTile(kArpFields, 224));
inline constexpr ProtocolDescriptor kArpProtocol{"arp", "ARP", kArpFields,
                                                 headerLengthOf(kArpFields), "RFC 826"};

namespace arp_op {
inline constexpr std::uint16_t kRequest = 1;
inline constexpr std::uint16_t kReply = 2;
} // namespace arp_op

struct ArpPacket {
    static constexpr std::size_t kLength = headerLengthOf(kArpFields);
    std::uint16_t hardwareType = 1;
    std::uint16_t protocolType = 0x0800;
    std::uint8_t hardwareLength = 6;
    std::uint8_t protocolLength = 4;
    std::uint16_t operation = arp_op::kRequest;
    MacAddress senderMac;
    Ipv4Address senderIp;
    MacAddress targetMac;
    Ipv4Address targetIp;

    /// Fails with Unsupported for anything but Ethernet (hlen 6) / IPv4 (plen 4).
    static tl::expected<ArpPacket, ParseError> parse(Bytes bytes);
    /// Writes kLength bytes.
    void emit(std::uint8_t* out) const noexcept;
    friend bool operator==(const ArpPacket&, const ArpPacket&) = default;
};

} // namespace tcplab::wire
