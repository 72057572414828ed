#include "wire/icmpv6.h"

#include <algorithm>

namespace tcplab::wire {

namespace {
constexpr const FieldDescriptor& field(Icmpv6Field f) noexcept {
    return kIcmpv6NdFields[static_cast<std::size_t>(f)];
}
constexpr const FieldDescriptor& field(NdOptionField f) noexcept {
    return kNdLinkLayerOptionFields[static_cast<std::size_t>(f)];
}

ParseError optionError(ParseErrorCode code, std::size_t offset, std::size_t expected,
                       std::size_t actual) {
    return {code,
            kIcmpv6Protocol.id,
            "options",
            static_cast<std::uint32_t>(offset),
            static_cast<std::uint32_t>(expected),
            static_cast<std::uint32_t>(actual)};
}

constexpr std::size_t kOptionUnit = 8; // RFC 4861 §4.6: lengths count 8-byte units
constexpr std::size_t kOptionPrefix = field(NdOptionField::Addr).byteOffset(); // type, length
constexpr std::size_t kLinkLayerOptionLength = headerLengthOf(kNdLinkLayerOptionFields);
static_assert(kLinkLayerOptionLength == kOptionUnit);

void writeLinkLayerOption(std::uint8_t* out, std::uint8_t type, const MacAddress& mac) noexcept {
    writeField(out, field(NdOptionField::Type), type);
    writeField(out, field(NdOptionField::Len), kLinkLayerOptionLength / kOptionUnit);
    mac.write(out + field(NdOptionField::Addr).byteOffset());
}
} // namespace

tl::expected<Icmpv6Message, ParseError>
Icmpv6Message::parse(Bytes bytes, const PseudoHeader* pseudo, Diagnostics* diagnostics) {
    if (bytes.size() < kHeaderLength)
        return tl::make_unexpected(truncatedError(kIcmpv6Protocol, kHeaderLength, bytes.size()));
    const std::uint8_t* p = bytes.data();
    Icmpv6Message m;
    m.type = static_cast<std::uint8_t>(readField(p, field(Icmpv6Field::Type)));
    m.code = static_cast<std::uint8_t>(readField(p, field(Icmpv6Field::Code)));
    const auto wireChecksum = static_cast<std::uint16_t>(readField(p, field(Icmpv6Field::Cksum)));

    if (m.isNeighborDiscovery()) {
        if (bytes.size() < kNdLength)
            return tl::make_unexpected(truncatedError(kIcmpv6Protocol, kNdLength, bytes.size()));
        m.flags = static_cast<std::uint8_t>(readField(p, field(Icmpv6Field::Flags)));
        m.reserved = static_cast<std::uint32_t>(readField(p, field(Icmpv6Field::Reserved)));
        m.target = Ipv6Address::fromBytes(p + field(Icmpv6Field::Tgt).byteOffset());

        // Options (RFC 4861 §4.6) fill the rest of the message. A link-layer address
        // option of Ethernet size is decoded into its field only where emit would put
        // it back (source, then target, before any other option); anything else, a
        // repeated or reordered one included, is kept verbatim in `body`, so a
        // captured message re-emits byte for byte.
        for (std::size_t pos = kNdLength; pos < bytes.size();) {
            const Bytes option = bytes.subspan(pos);
            if (option.size() < kOptionPrefix)
                return tl::make_unexpected(
                    optionError(ParseErrorCode::OptionOverrun, pos, kOptionUnit, option.size()));
            const auto type = readField(option.data(), field(NdOptionField::Type));
            const auto units = readField(option.data(), field(NdOptionField::Len));
            // RFC 4861 §4.6: "Nodes MUST silently discard an ND packet that contains an
            // option with length zero."
            if (units == 0)
                return tl::make_unexpected(
                    optionError(ParseErrorCode::OptionLengthInvalid, pos, 1, units));
            const std::size_t length = units * kOptionUnit;
            if (length > option.size())
                return tl::make_unexpected(
                    optionError(ParseErrorCode::OptionOverrun, pos, length, option.size()));
            const bool ethernetSize = length == kLinkLayerOptionLength;
            const MacAddress mac =
                MacAddress::fromBytes(option.data() + field(NdOptionField::Addr).byteOffset());
            if (type == nd_option::kSourceLinkLayer && ethernetSize && !m.sourceLinkLayer &&
                !m.targetLinkLayer && m.body.empty())
                m.sourceLinkLayer = mac;
            else if (type == nd_option::kTargetLinkLayer && ethernetSize && !m.targetLinkLayer &&
                     m.body.empty())
                m.targetLinkLayer = mac;
            else
                m.body.insert(m.body.end(), option.begin(), option.begin() + length);
            pos += length;
        }
    } else {
        m.body.assign(bytes.begin() + kHeaderLength, bytes.end());
    }

    if (pseudo) {
        // Auto only when emit would write the very same value (computed with the field
        // zero, RFC 4443 §2.3); anything else is an override, flagged when it does not
        // even sum right.
        std::vector<std::uint8_t> zeroed(bytes.begin(), bytes.end());
        writeField(zeroed.data(), field(Icmpv6Field::Cksum), 0);
        if (wireChecksum != pseudo->checksum(zeroed))
            m.checksum = wireChecksum;
        if (diagnostics && !pseudo->verify(bytes))
            diagnostics->set(Diagnostic::Icmpv6ChecksumBad);
    } else {
        // Without the addresses the checksum cannot be checked: kept as read.
        m.checksum = wireChecksum;
    }
    return m;
}

std::size_t Icmpv6Message::length() const noexcept {
    if (!isNeighborDiscovery())
        return kHeaderLength + body.size();
    return kNdLength + (sourceLinkLayer ? kLinkLayerOptionLength : 0) +
           (targetLinkLayer ? kLinkLayerOptionLength : 0) + body.size();
}

std::size_t Icmpv6Message::emit(std::uint8_t* out, const PseudoHeader& pseudo) const noexcept {
    const std::size_t total = length();
    writeField(out, field(Icmpv6Field::Type), type);
    writeField(out, field(Icmpv6Field::Code), code);
    writeField(out, field(Icmpv6Field::Cksum), 0);
    std::size_t pos = kHeaderLength;
    if (isNeighborDiscovery()) {
        writeField(out, field(Icmpv6Field::Flags), flags);
        writeField(out, field(Icmpv6Field::Reserved), reserved);
        target.write(out + field(Icmpv6Field::Tgt).byteOffset());
        pos = kNdLength;
        // Options in a fixed order: Source Link-Layer Address, Target Link-Layer
        // Address, then the undecoded options verbatim. parse decodes a link-layer
        // option only where this order puts it back.
        if (sourceLinkLayer) {
            writeLinkLayerOption(out + pos, nd_option::kSourceLinkLayer, *sourceLinkLayer);
            pos += kLinkLayerOptionLength;
        }
        if (targetLinkLayer) {
            writeLinkLayerOption(out + pos, nd_option::kTargetLinkLayer, *targetLinkLayer);
            pos += kLinkLayerOptionLength;
        }
    }
    std::copy(body.begin(), body.end(), out + pos);
    writeField(out, field(Icmpv6Field::Cksum), checksum.value_or(pseudo.checksum({out, total})));
    return total;
}

Icmpv6Message Icmpv6Message::neighborSolicitation(const Ipv6Address& target,
                                                  const MacAddress& sourceMac) {
    // RFC 4861 §4.3. A DAD probe (source ::) must not carry the source link-layer
    // option (§7.2.2): the caller resets sourceLinkLayer for one.
    Icmpv6Message m;
    m.type = icmpv6_type::kNeighborSolicitation;
    m.target = target;
    m.sourceLinkLayer = sourceMac;
    return m;
}

Icmpv6Message Icmpv6Message::neighborAdvertisement(const Ipv6Address& target,
                                                   const MacAddress& targetMac,
                                                   std::uint8_t naFlags) {
    // RFC 4861 §4.4: a solicited advertisement carries the target link-layer option.
    Icmpv6Message m;
    m.type = icmpv6_type::kNeighborAdvertisement;
    m.flags = naFlags;
    m.target = target;
    m.targetLinkLayer = targetMac;
    return m;
}

} // namespace tcplab::wire
