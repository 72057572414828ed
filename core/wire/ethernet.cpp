#include "wire/ethernet.h"

namespace tcplab::wire {

namespace {
constexpr const FieldDescriptor& field(EthernetField f) noexcept {
    return kEthernetFields[static_cast<std::size_t>(f)];
}
constexpr const FieldDescriptor& field(VlanField f) noexcept {
    return kVlanFields[static_cast<std::size_t>(f)];
}

} // namespace

tl::expected<EthernetHeader, ParseError> EthernetHeader::parse(Bytes bytes) {
    if (bytes.size() < kLength)
        return tl::make_unexpected(truncatedError(kEthernetProtocol, kLength, bytes.size()));
    const std::uint8_t* p = bytes.data();
    EthernetHeader h;
    h.dst = MacAddress::fromBytes(p + field(EthernetField::Dst).byteOffset());
    h.src = MacAddress::fromBytes(p + field(EthernetField::Src).byteOffset());
    // Always recorded as read: the type may name a layer we do not decode, and a
    // re-emit must not depend on which layer the caller puts above.
    h.etherType = static_cast<std::uint16_t>(readField(p, field(EthernetField::Type)));
    return h;
}

void EthernetHeader::emit(std::uint8_t* out, std::uint16_t autoType) const noexcept {
    dst.write(out + field(EthernetField::Dst).byteOffset());
    src.write(out + field(EthernetField::Src).byteOffset());
    writeField(out, field(EthernetField::Type), etherType.value_or(autoType));
}

tl::expected<VlanTag, ParseError> VlanTag::parse(Bytes bytes) {
    if (bytes.size() < kLength)
        return tl::make_unexpected(truncatedError(kVlanProtocol, kLength, bytes.size()));
    const std::uint8_t* p = bytes.data();
    VlanTag t;
    t.priority = static_cast<std::uint8_t>(readField(p, field(VlanField::Prio)));
    t.dropEligible = readField(p, field(VlanField::Dei)) != 0;
    t.vlanId = static_cast<std::uint16_t>(readField(p, field(VlanField::Vlan)));
    t.innerType = static_cast<std::uint16_t>(readField(p, field(VlanField::Type)));
    return t;
}

void VlanTag::emit(std::uint8_t* out) const noexcept {
    // Every bit of the tag belongs to a field, so the four writes define all 4 bytes.
    writeField(out, field(VlanField::Prio), priority);
    writeField(out, field(VlanField::Dei), dropEligible ? 1u : 0u);
    writeField(out, field(VlanField::Vlan), vlanId);
    writeField(out, field(VlanField::Type), innerType);
}

} // namespace tcplab::wire
