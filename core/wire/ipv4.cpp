#include "wire/ipv4.h"

#include "wire/checksum.h"

#include <algorithm>

namespace tcplab::wire {

namespace {
constexpr const FieldDescriptor& field(Ipv4Field f) noexcept {
    return kIpv4Fields[static_cast<std::size_t>(f)];
}

ParseError error(ParseErrorCode code, Ipv4Field f, std::size_t expected, std::size_t actual) {
    const FieldDescriptor& d = field(f);
    return {code,
            kIpv4Protocol.id,
            d.id,
            static_cast<std::uint32_t>(d.byteOffset()),
            static_cast<std::uint32_t>(expected),
            static_cast<std::uint32_t>(actual)};
}

constexpr std::size_t kIhlUnit = 4; // IHL counts 32-bit words (RFC 791 §3.1)
constexpr std::uint64_t kMinIhl = Ipv4Header::kMinLength / kIhlUnit;

// The checksum emit would write for `header`: RFC 791 §3.1, "for purposes of computing
// the checksum, the value of the checksum field is zero". The bytes around the field
// are summed instead of zeroing a copy; the field starts on an even offset, so both
// runs do too, as InternetChecksum::add requires.
InternetChecksum sumWithoutChecksum(Bytes header) noexcept {
    const FieldDescriptor& d = field(Ipv4Field::Chksum);
    InternetChecksum sum;
    sum.add(header.first(d.byteOffset()));
    sum.add(header.subspan(d.byteOffset() + d.byteLength()));
    return sum;
}
std::uint16_t computeChecksum(Bytes header) noexcept {
    return sumWithoutChecksum(header).finish();
}
} // namespace

std::string ipv4FlagsToString(std::uint8_t flags) {
    // scapy's FlagsField order for IP: lowest bit first, joined with '+'.
    std::string out;
    const auto add = [&out](std::string_view name) {
        if (!out.empty())
            out += '+';
        out += name;
    };
    if (flags & ipv4_flags::kMoreFragments)
        add("MF");
    if (flags & ipv4_flags::kDontFragment)
        add("DF");
    if (flags & ipv4_flags::kReserved)
        add("evil");
    return out;
}

tl::expected<Ipv4Header, ParseError> Ipv4Header::parse(Bytes bytes, Diagnostics* diagnostics) {
    Ipv4Header h;
    if (auto error = parseInto(h, bytes, diagnostics))
        return tl::make_unexpected(*error);
    return h;
}

std::optional<ParseError> Ipv4Header::parseInto(Ipv4Header& h, Bytes bytes,
                                                Diagnostics* diagnostics) noexcept {
    if (bytes.size() < kMinLength)
        return truncatedError(kIpv4Protocol, kMinLength, bytes.size());
    const std::uint8_t* p = bytes.data();

    const auto version = readField(p, field(Ipv4Field::Version));
    if (version != 4)
        return error(ParseErrorCode::BadVersion, Ipv4Field::Version, 4, version);
    const auto ihl = readField(p, field(Ipv4Field::Ihl));
    if (ihl < kMinIhl)
        return error(ParseErrorCode::HeaderLengthTooShort, Ipv4Field::Ihl, kMinIhl, ihl);
    const std::size_t headerLen = ihl * kIhlUnit;
    if (headerLen > bytes.size())
        return error(ParseErrorCode::HeaderLengthOverrun, Ipv4Field::Ihl, headerLen, bytes.size());
    const auto totalLen = static_cast<std::uint16_t>(readField(p, field(Ipv4Field::Len)));
    if (totalLen < headerLen)
        return error(ParseErrorCode::TotalLengthTooShort, Ipv4Field::Len, headerLen, totalLen);

    h.version = static_cast<std::uint8_t>(version);
    // The options fill the header exactly (IHL * 4 - 20 is a multiple of 4), so the
    // IHL always equals what emit computes: auto.
    h.options.assign(bytes.subspan(kMinLength, headerLen - kMinLength));
    h.tos = static_cast<std::uint8_t>(readField(p, field(Ipv4Field::Tos)));
    // The caller hands over the bytes after the link header: the IP packet, plus any
    // Ethernet padding, or less when the capture was cut short. Parsing cannot tell
    // which payload the caller will emit, so the total length is auto only when it
    // equals the bytes given (a caller that trims to the packet gets auto); otherwise
    // it is kept as read so that re-emitting reproduces it.
    if (totalLen != bytes.size())
        h.totalLength = totalLen;
    h.id = static_cast<std::uint16_t>(readField(p, field(Ipv4Field::Id)));
    h.flags = static_cast<std::uint8_t>(readField(p, field(Ipv4Field::Flags)));
    h.fragOffset = static_cast<std::uint16_t>(readField(p, field(Ipv4Field::Frag)));
    h.ttl = static_cast<std::uint8_t>(readField(p, field(Ipv4Field::Ttl)));
    // Always recorded: the protocol may name a layer we do not decode.
    h.protocol = static_cast<std::uint8_t>(readField(p, field(Ipv4Field::Proto)));
    h.src = Ipv4Address::fromBytes(p + field(Ipv4Field::Src).byteOffset());
    h.dst = Ipv4Address::fromBytes(p + field(Ipv4Field::Dst).byteOffset());

    // Auto only when emit would write the very same 16 bits. A value that sums
    // correctly but differs (0x0000 for 0xffff, the two ones' complement zeros) is
    // kept as an override without a diagnostic.
    const Bytes header = bytes.first(headerLen);
    const auto wire = static_cast<std::uint16_t>(readField(p, field(Ipv4Field::Chksum)));
    // One pass: the sum without the field gives what emit writes; adding the field's
    // value gives the sum of the whole header, all ones when it verifies.
    InternetChecksum sum = sumWithoutChecksum(header);
    if (wire != sum.finish())
        h.checksum = wire;
    sum.addWord(wire);

    if (diagnostics) {
        if (sum.folded() != 0xffff)
            diagnostics->set(Diagnostic::Ipv4ChecksumBad);
        if (h.flags & ipv4_flags::kReserved)
            diagnostics->set(Diagnostic::Ipv4ReservedFlagSet);
        if (totalLen > bytes.size())
            diagnostics->set(Diagnostic::Ipv4TotalLengthBeyondFrame);
        if ((h.flags & ipv4_flags::kMoreFragments) || h.fragOffset != 0)
            diagnostics->set(Diagnostic::Ipv4Fragment);
    }
    return std::nullopt;
}

std::size_t Ipv4Header::headerLength() const noexcept {
    return kMinLength + (options.size() + kIhlUnit - 1) / kIhlUnit * kIhlUnit;
}

std::size_t Ipv4Header::emit(std::uint8_t* out, std::size_t payloadLength,
                             std::uint8_t autoProtocol) const noexcept {
    const std::size_t length = headerLength();
    writeField(out, field(Ipv4Field::Version), version);
    // An IHL override goes on the wire exactly as set; the bytes laid out are still
    // the header and options there are, so a deliberately wrong IHL stays wrong.
    writeField(out, field(Ipv4Field::Ihl),
               ihl.value_or(static_cast<std::uint8_t>(length / kIhlUnit)));
    writeField(out, field(Ipv4Field::Tos), tos);
    // Lengths past 16 bits are truncated by writeField; SegmentSpec refuses them first.
    writeField(out, field(Ipv4Field::Len), totalLength.value_or(length + payloadLength));
    writeField(out, field(Ipv4Field::Id), id);
    writeField(out, field(Ipv4Field::Flags), flags);
    writeField(out, field(Ipv4Field::Frag), fragOffset);
    writeField(out, field(Ipv4Field::Ttl), ttl);
    writeField(out, field(Ipv4Field::Proto), protocol.value_or(autoProtocol));
    writeField(out, field(Ipv4Field::Chksum), 0);
    src.write(out + field(Ipv4Field::Src).byteOffset());
    dst.write(out + field(Ipv4Field::Dst).byteOffset());
    // Options verbatim, then zero padding (End of Option List, RFC 791 §3.1) to 4 bytes.
    std::uint8_t* opt = out + kMinLength;
    std::copy(options.bytes().begin(), options.bytes().end(), opt);
    std::fill(opt + options.size(), out + length, std::uint8_t{0});
    // The checksum covers the bytes emitted, whatever an IHL override claims.
    writeField(out, field(Ipv4Field::Chksum), checksum.value_or(computeChecksum({out, length})));
    return length;
}

} // namespace tcplab::wire
