#include "wire/ipv6.h"

namespace tcplab::wire {

namespace {
constexpr const FieldDescriptor& field(Ipv6Field f) noexcept {
    return kIpv6Fields[static_cast<std::size_t>(f)];
}
constexpr const FieldDescriptor& field(Ipv6ExtensionField f) noexcept {
    return kIpv6ExtensionFields[static_cast<std::size_t>(f)];
}
constexpr const FieldDescriptor& field(Ipv6FragmentField f) noexcept {
    return kIpv6FragmentFields[static_cast<std::size_t>(f)];
}

constexpr std::size_t kFragmentHeaderLength = headerLengthOf(kIpv6FragmentFields);

// Errors met in the extension-header walk belong to the "ipv6" layer; the field is
// the extension header's name, the offset counts from the start of the IPv6 header,
// and expected/actual are bytes of that extension header.
ParseError chainError(ParseErrorCode code, std::uint8_t type, std::size_t pos, std::size_t expected,
                      std::size_t actual) {
    return {code,
            kIpv6Protocol.id,
            ipv6ExtensionName(type),
            static_cast<std::uint32_t>(Ipv6Header::kLength + pos),
            static_cast<std::uint32_t>(expected),
            static_cast<std::uint32_t>(actual)};
}
} // namespace

tl::expected<Ipv6Header, ParseError> Ipv6Header::parse(Bytes bytes, Diagnostics* diagnostics) {
    if (bytes.size() < kLength)
        return tl::make_unexpected(truncatedError(kIpv6Protocol, kLength, bytes.size()));
    const std::uint8_t* p = bytes.data();

    const FieldDescriptor& versionField = field(Ipv6Field::Version);
    const auto version = readField(p, versionField);
    if (version != 6)
        return tl::make_unexpected(ParseError{ParseErrorCode::BadVersion, kIpv6Protocol.id,
                                              versionField.id, 0, 6,
                                              static_cast<std::uint32_t>(version)});

    Ipv6Header h;
    h.version = static_cast<std::uint8_t>(version);
    h.trafficClass = static_cast<std::uint8_t>(readField(p, field(Ipv6Field::Tc)));
    h.flowLabel = static_cast<std::uint32_t>(readField(p, field(Ipv6Field::Fl)));
    // As for the IPv4 total length: the bytes may hold Ethernet padding or be cut
    // short, so the payload length is auto only when it equals the bytes given.
    const auto payloadLen = static_cast<std::uint16_t>(readField(p, field(Ipv6Field::Plen)));
    const std::size_t available = bytes.size() - kLength;
    if (payloadLen != available)
        h.payloadLength = payloadLen;
    // Always recorded: the extension-header walk starts from it, and it may name a
    // layer we do not decode.
    h.nextHeader = static_cast<std::uint8_t>(readField(p, field(Ipv6Field::Nh)));
    h.hopLimit = static_cast<std::uint8_t>(readField(p, field(Ipv6Field::Hlim)));
    h.src = Ipv6Address::fromBytes(p + field(Ipv6Field::Src).byteOffset());
    h.dst = Ipv6Address::fromBytes(p + field(Ipv6Field::Dst).byteOffset());

    if (diagnostics && payloadLen > available)
        diagnostics->set(Diagnostic::Ipv6PayloadLengthBeyondFrame);
    return h;
}

void Ipv6Header::emit(std::uint8_t* out, std::size_t payloadBytes,
                      std::uint8_t autoNextHeader) const noexcept {
    writeField(out, field(Ipv6Field::Version), version);
    writeField(out, field(Ipv6Field::Tc), trafficClass);
    writeField(out, field(Ipv6Field::Fl), flowLabel);
    // Lengths past 16 bits are truncated by writeField; SegmentSpec refuses them first.
    writeField(out, field(Ipv6Field::Plen), payloadLength.value_or(payloadBytes));
    writeField(out, field(Ipv6Field::Nh), nextHeader.value_or(autoNextHeader));
    writeField(out, field(Ipv6Field::Hlim), hopLimit);
    src.write(out + field(Ipv6Field::Src).byteOffset());
    dst.write(out + field(Ipv6Field::Dst).byteOffset());
}

tl::expected<Ipv6Chain, ParseError> walkIpv6Extensions(Bytes afterFixedHeader,
                                                       std::uint8_t firstNext) {
    const Bytes bytes = afterFixedHeader;
    Ipv6Chain chain;
    std::uint8_t next = firstNext;
    std::size_t pos = 0;
    // RFC 8200 §4: each extension header names the next; the walk follows the ones it
    // knows the length of and stops at the first upper-layer header (TCP, ICMPv6), No
    // Next Header, ESP (the rest is encrypted) or anything else.
    while (!ipv6ExtensionName(next).empty()) {
        if (chain.count == Ipv6Chain::kMaxHeaders)
            return tl::make_unexpected(
                ParseError{ParseErrorCode::Unsupported, kIpv6Protocol.id, "extension headers",
                           static_cast<std::uint32_t>(Ipv6Header::kLength + pos),
                           Ipv6Chain::kMaxHeaders, Ipv6Chain::kMaxHeaders + 1u});
        const Bytes rest = bytes.subspan(pos);
        const std::uint8_t* p = rest.data();
        const std::size_t minimum = next == ip_proto::kFragment
                                        ? kFragmentHeaderLength
                                        : headerLengthOf(kIpv6ExtensionFields);
        if (rest.size() < minimum)
            return tl::make_unexpected(
                chainError(ParseErrorCode::Truncated, next, pos, minimum, rest.size()));

        std::size_t length = 0;
        bool stop = false;
        std::uint8_t following = 0;
        if (next == ip_proto::kFragment) {
            // RFC 8200 §4.5: a fixed 8 bytes. Only the first fragment (offset 0) holds
            // the start of the upper layer; a later one holds the middle of it.
            length = kFragmentHeaderLength;
            following = static_cast<std::uint8_t>(readField(p, field(Ipv6FragmentField::Nh)));
            chain.moreFragments = readField(p, field(Ipv6FragmentField::M)) != 0;
            if (readField(p, field(Ipv6FragmentField::Offset)) != 0) {
                chain.fragmented = true;
                stop = true;
            }
        } else {
            following = static_cast<std::uint8_t>(readField(p, field(Ipv6ExtensionField::Nh)));
            const auto len = readField(p, field(Ipv6ExtensionField::Len));
            // AH counts 4-byte words minus 2 (RFC 4302 §2.2); the others 8-byte units
            // not including the first 8 (RFC 8200 §4.3, §4.4, §4.6).
            length = next == ip_proto::kAh ? (len + 2) * 4 : (len + 1) * 8;
            if (length > rest.size())
                return tl::make_unexpected(chainError(ParseErrorCode::HeaderLengthOverrun, next,
                                                      pos, length, rest.size()));
        }
        chain.headers[chain.count++] = {next, static_cast<std::uint16_t>(pos),
                                        static_cast<std::uint16_t>(length)};
        pos += length;
        next = following;
        if (stop)
            break;
    }
    chain.upperProtocol = next;
    chain.upperOffset = static_cast<std::uint16_t>(pos);
    return chain;
}

std::string_view ipv6ExtensionName(std::uint8_t type) noexcept {
    switch (type) {
    case ip_proto::kHopByHop:
        return "HopByHop";
    case ip_proto::kRouting:
        return "Routing";
    case ip_proto::kFragment:
        return "Fragment";
    case ip_proto::kDestOpts:
        return "DestOpts";
    case ip_proto::kAh:
        return "AH";
    default:
        return "";
    }
}

} // namespace tcplab::wire
