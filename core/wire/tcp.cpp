#include "wire/tcp.h"

#include <array>
#include <cstring>

#include <fmt/format.h>

namespace tcplab::wire {

namespace {

constexpr const FieldDescriptor& field(TcpField f) noexcept {
    return kTcpFields[static_cast<std::size_t>(f)];
}

// Field access through kTcpFields, with the descriptor known at compile time: whole 16-
// and 32-bit fields become one big-endian load or store (GCC does not unroll the generic
// byte loop for them), the rest go through readField/writeField. Offsets still come from
// the table only.
template <TcpField F>
constexpr std::uint64_t get(const std::uint8_t* header) noexcept {
    constexpr const FieldDescriptor& d = field(F);
    if constexpr (d.bitOffset % 8 == 0 && d.bitWidth == 32)
        return load32(header + d.byteOffset());
    else if constexpr (d.bitOffset % 8 == 0 && d.bitWidth == 16)
        return load16(header + d.byteOffset());
    else
        return readField(header, d);
}

template <TcpField F>
constexpr void put(std::uint8_t* header, std::uint64_t value) noexcept {
    constexpr const FieldDescriptor& d = field(F);
    if constexpr (d.bitOffset % 8 == 0 && d.bitWidth == 32)
        store32(header + d.byteOffset(), static_cast<std::uint32_t>(value));
    else if constexpr (d.bitOffset % 8 == 0 && d.bitWidth == 16)
        store16(header + d.byteOffset(), static_cast<std::uint16_t>(value));
    else
        writeField(header, d, value);
}

constexpr std::array<std::string_view, 8> kFlagWords{"FIN", "SYN", "RST", "PSH",
                                                     "ACK", "URG", "ECE", "CWR"};

constexpr bool isSpace(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int hexDigit(char c) noexcept {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

tl::expected<std::uint8_t, std::string> parseFlagNumber(std::string_view text) {
    unsigned base = 10;
    std::size_t start = 0;
    if (text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        base = 16;
        start = 2;
        if (text.size() == 2)
            return tl::unexpected(std::string("flags \"0x\" has no hex digits after it"));
    }
    unsigned value = 0;
    for (std::size_t i = start; i < text.size(); ++i) {
        const int d = hexDigit(text[i]);
        if (d < 0 || static_cast<unsigned>(d) >= base)
            return tl::unexpected(fmt::format("invalid character '{}' at position {} in flags "
                                              "number \"{}\"",
                                              text[i], i + 1, text));
        value = value * base + static_cast<unsigned>(d);
        if (value > 0xff)
            return tl::unexpected(
                fmt::format("flags number \"{}\" is above 255 (8 flag bits)", text));
    }
    return static_cast<std::uint8_t>(value);
}

} // namespace

std::string tcpFlagsToString(std::uint8_t flags) {
    std::string s;
    for (std::size_t bit = 0; bit < 8; ++bit)
        if (flags & (1u << bit))
            s += tcp_flags::kLetters[bit];
    return s;
}

tl::expected<std::uint8_t, std::string> parseTcpFlags(std::string_view text) {
    while (!text.empty() && isSpace(text.front()))
        text.remove_prefix(1);
    while (!text.empty() && isSpace(text.back()))
        text.remove_suffix(1);
    if (!text.empty() && text.front() >= '0' && text.front() <= '9')
        return parseFlagNumber(text);
    std::uint8_t flags = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto bit = tcp_flags::kLetters.find(text[i]);
        if (bit == std::string_view::npos)
            return tl::unexpected(fmt::format("unknown TCP flag '{}' at position {} in \"{}\" "
                                              "(use the letters F S R P A U E C, or a number)",
                                              text[i], i + 1, text));
        flags = static_cast<std::uint8_t>(flags | (1u << bit));
    }
    return flags;
}

std::string tcpFlagsToWords(std::uint8_t flags) {
    if (flags == 0)
        return "none";
    std::string s;
    for (std::size_t bit = 0; bit < 8; ++bit) {
        if (!(flags & (1u << bit)))
            continue;
        if (!s.empty())
            s += ", ";
        s += kFlagWords[bit];
    }
    return s;
}

tl::expected<TcpHeader, ParseError> TcpHeader::parse(Bytes segment, const PseudoHeader* pseudo,
                                                     Diagnostics* diagnostics) {
    TcpHeader h;
    if (auto error = parseInto(h, segment, pseudo, diagnostics))
        return tl::unexpected(*error);
    return h;
}

std::optional<ParseError> TcpHeader::parseInto(TcpHeader& h, Bytes segment,
                                               const PseudoHeader* pseudo,
                                               Diagnostics* diagnostics) noexcept {
    const auto size = static_cast<std::uint32_t>(segment.size());
    if (segment.size() < kMinLength)
        return truncatedError(kTcpProtocol, kMinLength, size);
    const std::uint8_t* p = segment.data();
    const FieldDescriptor& dataofsField = field(TcpField::Dataofs);
    const auto dataofs = static_cast<std::uint32_t>(get<TcpField::Dataofs>(p));
    const auto dataofsAt = static_cast<std::uint32_t>(dataofsField.byteOffset());
    // RFC 9293 §3.1: the data offset counts 32-bit words of header; 5 is the fixed part.
    if (dataofs < 5)
        return ParseError{
            ParseErrorCode::HeaderLengthTooShort, "tcp", "dataofs", dataofsAt, 5, dataofs};
    const std::uint32_t headerBytes = dataofs * 4;
    if (headerBytes > size)
        return ParseError{
            ParseErrorCode::HeaderLengthOverrun, "tcp", "dataofs", dataofsAt, headerBytes, size};
    bool nonZeroAfterEol = false;
    if (auto error = TcpOptionList::parseInto(
            h.options, segment.subspan(kMinLength, headerBytes - kMinLength),
            static_cast<std::uint32_t>(kMinLength), &nonZeroAfterEol))
        return error;

    h.srcPort = static_cast<std::uint16_t>(get<TcpField::Sport>(p));
    h.dstPort = static_cast<std::uint16_t>(get<TcpField::Dport>(p));
    h.seq = SeqNum(static_cast<std::uint32_t>(get<TcpField::Seq>(p)));
    h.ack = SeqNum(static_cast<std::uint32_t>(get<TcpField::Ack>(p)));
    // The data offset read is what emit derives from the options (20 + area bytes), so it
    // stays auto and the header round-trips.
    h.reserved = static_cast<std::uint8_t>(get<TcpField::Reserved>(p));
    h.flags = static_cast<std::uint8_t>(get<TcpField::Flags>(p));
    h.window = static_cast<std::uint16_t>(get<TcpField::Window>(p));
    h.urgentPointer = static_cast<std::uint16_t>(get<TcpField::Urgptr>(p));

    Diagnostics found;
    const auto checksum = static_cast<std::uint16_t>(get<TcpField::Chksum>(p));
    if (!pseudo) {
        h.checksum = checksum;
    } else if (pseudo->verify(segment)) {
        // A right checksum is left to emit, except 0xffff: it verifies only where the
        // computed value is 0x0000 (ones' complement -0 and +0, RFC 1624 §3), so it is kept
        // to re-emit the bytes as they were.
        if (checksum == 0xffff)
            h.checksum = checksum;
    } else {
        h.checksum = checksum;
        found.set(checksum == pseudo->partialChecksum(segment.size())
                      ? Diagnostic::TcpChecksumPartial
                      : Diagnostic::TcpChecksumBad);
    }

    // SYN with FIN: nothing in RFC 9293 sends both, and stacks answer it differently (a
    // classic fingerprinting probe).
    if (h.has(tcp_flags::kSyn | tcp_flags::kFin))
        found.set(Diagnostic::TcpSynFin);
    // RFC 9293 §3.1: reserved bits "must be zero in generated segments".
    if (h.reserved != 0)
        found.set(Diagnostic::TcpReservedBitsSet);
    // RFC 9293 §3.1: the urgent pointer "is only to be interpreted in segments with the
    // URG control bit set".
    if (h.urgentPointer != 0 && !h.has(tcp_flags::kUrg))
        found.set(Diagnostic::TcpUrgentWithoutUrg);
    // RFC 9293 §3.1: the header is padded with zeros after the options.
    if (nonZeroAfterEol)
        found.set(Diagnostic::TcpOptionAfterEolNotZero);
    // Added to what the caller collected (a frame gathers every layer's diagnostics).
    if (diagnostics)
        diagnostics->merge(found);
    return std::nullopt;
}

std::size_t TcpHeader::emit(std::uint8_t* out, Bytes payload,
                            const PseudoHeader& pseudo) const noexcept {
    const std::size_t optionBytes = options.byteSize();
    const std::size_t headerBytes = headerLength();
    const std::size_t total = headerBytes + payload.size();

    // Byte 12 holds two sub-byte fields (data offset, reserved): clear it so writeField,
    // which keeps bits outside the field, starts from defined bytes.
    out[field(TcpField::Dataofs).byteOffset()] = 0;
    put<TcpField::Sport>(out, srcPort);
    put<TcpField::Dport>(out, dstPort);
    put<TcpField::Seq>(out, seq.value());
    put<TcpField::Ack>(out, ack.value());
    // An override goes on the wire as set; the bytes laid out do not follow it.
    put<TcpField::Dataofs>(out, dataOffset.value_or(headerBytes / 4));
    put<TcpField::Reserved>(out, reserved);
    put<TcpField::Flags>(out, flags);
    put<TcpField::Window>(out, window);
    put<TcpField::Chksum>(out, checksum.value_or(0));
    put<TcpField::Urgptr>(out, urgentPointer);

    std::uint8_t* o = out + kMinLength;
    if (optionBytes)
        std::memcpy(o, options.bytes().data(), optionBytes);
    // RFC 9293 §3.1: "The TCP header padding is used to ensure that the TCP header ends
    // ... on a 32-bit boundary. The padding is composed of zeros." (zero is also EOL).
    std::memset(o + optionBytes, 0, headerBytes - kMinLength - optionBytes);
    if (!payload.empty())
        std::memcpy(out + headerBytes, payload.data(), payload.size());

    if (!checksum)
        put<TcpField::Chksum>(out, pseudo.checksum(Bytes(out, total)));
    return total;
}

} // namespace tcplab::wire
