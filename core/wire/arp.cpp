#include "wire/arp.h"

namespace tcplab::wire {

namespace {
constexpr const FieldDescriptor& field(ArpField f) noexcept {
    return kArpFields[static_cast<std::size_t>(f)];
}

constexpr std::uint8_t kEthernetAddressLength = 6;
constexpr std::uint8_t kIpv4AddressLength = 4;
} // namespace

tl::expected<ArpPacket, ParseError> ArpPacket::parse(Bytes bytes) {
    const std::uint8_t* p = bytes.data();
    // RFC 826: the address lengths decide where every later field sits, so they are
    // checked as soon as they are there. Other lengths are well-formed ARP of a kind
    // whose layout this table does not describe. The hardware and protocol types are
    // recorded as read: with 6/4-byte addresses the layout is the same.
    const FieldDescriptor& hlen = field(ArpField::HwLen);
    const FieldDescriptor& plen = field(ArpField::PLen);
    if (fieldFits(bytes, hlen)) {
        const auto v = static_cast<std::uint32_t>(readField(p, hlen));
        if (v != kEthernetAddressLength)
            return tl::make_unexpected(ParseError{
                ParseErrorCode::Unsupported, kArpProtocol.id, hlen.id,
                static_cast<std::uint32_t>(hlen.byteOffset()), kEthernetAddressLength, v});
    }
    if (fieldFits(bytes, plen)) {
        const auto v = static_cast<std::uint32_t>(readField(p, plen));
        if (v != kIpv4AddressLength)
            return tl::make_unexpected(
                ParseError{ParseErrorCode::Unsupported, kArpProtocol.id, plen.id,
                           static_cast<std::uint32_t>(plen.byteOffset()), kIpv4AddressLength, v});
    }
    // Ethernet frames pad ARP to 46 bytes: anything after the packet is ignored.
    if (bytes.size() < kLength)
        return tl::make_unexpected(truncatedError(kArpProtocol, kLength, bytes.size()));

    ArpPacket a;
    a.hardwareType = static_cast<std::uint16_t>(readField(p, field(ArpField::HwType)));
    a.protocolType = static_cast<std::uint16_t>(readField(p, field(ArpField::PType)));
    a.hardwareLength = static_cast<std::uint8_t>(readField(p, hlen));
    a.protocolLength = static_cast<std::uint8_t>(readField(p, plen));
    a.operation = static_cast<std::uint16_t>(readField(p, field(ArpField::Op)));
    a.senderMac = MacAddress::fromBytes(p + field(ArpField::HwSrc).byteOffset());
    a.senderIp = Ipv4Address::fromBytes(p + field(ArpField::PSrc).byteOffset());
    a.targetMac = MacAddress::fromBytes(p + field(ArpField::HwDst).byteOffset());
    a.targetIp = Ipv4Address::fromBytes(p + field(ArpField::PDst).byteOffset());
    return a;
}

void ArpPacket::emit(std::uint8_t* out) const noexcept {
    writeField(out, field(ArpField::HwType), hardwareType);
    writeField(out, field(ArpField::PType), protocolType);
    // Written as set, even when not 6/4: a lab may send ARP that lies about its
    // address lengths; the addresses stay where the Ethernet/IPv4 layout puts them.
    writeField(out, field(ArpField::HwLen), hardwareLength);
    writeField(out, field(ArpField::PLen), protocolLength);
    writeField(out, field(ArpField::Op), operation);
    senderMac.write(out + field(ArpField::HwSrc).byteOffset());
    senderIp.write(out + field(ArpField::PSrc).byteOffset());
    targetMac.write(out + field(ArpField::HwDst).byteOffset());
    targetIp.write(out + field(ArpField::PDst).byteOffset());
}

} // namespace tcplab::wire
