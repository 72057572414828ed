#pragma once

#include "wire/bytes.h"

#include <cassert>
#include <cstdint>
#include <span>
#include <string_view>

namespace tcplab::wire {

/// How a field's value is shown and edited.
enum class FieldFormat : std::uint8_t {
    Decimal,   ///< unsigned integer
    Hex,       ///< unsigned integer, shown as 0x...
    TcpFlags,  ///< the eight TCP flag bits (scapy letters F S R P A U E C)
    Ipv4Flags, ///< the three IPv4 flag bits (reserved, DF, MF)
    Mac,       ///< 48-bit MAC address
    Ipv4,      ///< 32-bit IPv4 address
    Ipv6,      ///< 128-bit IPv6 address
};

/// One field of a protocol header, as drawn in its RFC. Offsets count bits from the
/// first bit of the header, most significant bit first (network order), exactly as
/// the RFC diagrams number them. One table of these per protocol drives the encoder,
/// the decoder's JSON, the GUI form and the hex-view highlighter.
struct FieldDescriptor {
    std::string_view id;     ///< short, stable name (scapy's where one exists): "sport"
    std::string_view label;  ///< human name: "Source port"
    std::uint16_t bitOffset; ///< from the start of the header
    std::uint16_t bitWidth;  ///< 1..128
    FieldFormat format;
    bool derived;             ///< computed on emit unless overridden (lengths, checksums)
    std::string_view meaning; ///< one line for tooltips and the tutor
    std::string_view rfc;     ///< "RFC 9293 §3.1"

    constexpr std::size_t byteOffset() const noexcept { return bitOffset / 8u; }
    /// Number of bytes the field touches.
    constexpr std::size_t byteLength() const noexcept {
        return (bitOffset % 8u + bitWidth + 7u) / 8u;
    }
    constexpr std::size_t endBit() const noexcept { return std::size_t{bitOffset} + bitWidth; }
    /// Largest value the field can hold (fields of at most 64 bits).
    constexpr std::uint64_t maxValue() const noexcept {
        return bitWidth >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << bitWidth) - 1;
    }
    /// Mask of the bits the field uses within byte `i` of its byte range.
    constexpr std::uint8_t byteMask(std::size_t i) const noexcept {
        std::uint8_t mask = 0;
        for (unsigned bit = 0; bit < 8; ++bit) {
            const std::size_t abs = (byteOffset() + i) * 8u + bit;
            if (abs >= bitOffset && abs < endBit())
                mask = static_cast<std::uint8_t>(mask | (0x80u >> bit));
        }
        return mask;
    }
};

/// Reads a field of at most 64 bits from the bytes of its header. The caller
/// guarantees `header` holds the field (`byteOffset() + byteLength()` bytes).
constexpr std::uint64_t readField(const std::uint8_t* header, const FieldDescriptor& d) noexcept {
    const std::size_t first = d.byteOffset();
    const std::size_t last = (d.endBit() - 1) / 8u;
    std::uint64_t acc = 0;
    for (std::size_t i = first; i <= last; ++i)
        acc = (acc << 8) | header[i];
    const unsigned trailing = static_cast<unsigned>((last + 1) * 8u - d.endBit());
    return (acc >> trailing) & d.maxValue();
}

/// Writes a field of at most 64 bits; bits outside the field are kept. Values wider
/// than the field are truncated to its width (callers validate first).
constexpr void writeField(std::uint8_t* header, const FieldDescriptor& d,
                          std::uint64_t value) noexcept {
    const std::size_t first = d.byteOffset();
    const std::size_t last = (d.endBit() - 1) / 8u;
    const unsigned trailing = static_cast<unsigned>((last + 1) * 8u - d.endBit());
    const std::uint64_t mask = d.maxValue() << trailing;
    const std::uint64_t bits = (value << trailing) & mask;
    for (std::size_t i = last + 1; i-- > first;) {
        const unsigned shift = static_cast<unsigned>((last - i) * 8u);
        const auto m = static_cast<std::uint8_t>(mask >> shift);
        header[i] =
            static_cast<std::uint8_t>((header[i] & ~m) | static_cast<std::uint8_t>(bits >> shift));
    }
}

/// Bounds-checked forms for callers holding a span (GUI, JSON): false/0 when short.
constexpr bool fieldFits(Bytes header, const FieldDescriptor& d) noexcept {
    return header.size() >= d.byteOffset() + d.byteLength();
}
/// The bytes a byte-aligned field covers (addresses, 128-bit fields).
constexpr Bytes fieldBytes(Bytes header, const FieldDescriptor& d) noexcept {
    return header.subspan(d.byteOffset(), d.byteLength());
}

/// True when the fields are in order, do not overlap, leave no gap and end exactly at
/// `headerBits`: used in a static_assert under every table.
template <std::size_t N>
constexpr bool fieldsTile(const std::array<FieldDescriptor, N>& fields, std::size_t headerBits) {
    std::size_t next = 0;
    for (const auto& f : fields) {
        if (f.bitOffset != next || f.bitWidth == 0)
            return false;
        if (f.bitWidth > 64 && (f.bitOffset % 8 != 0 || f.bitWidth % 8 != 0))
            return false;
        if (f.bitWidth <= 64 && f.byteLength() > 8)
            return false;
        next = f.endBit();
    }
    return next == headerBits;
}

/// A protocol's table, for code that walks any header (GUI form, JSON, hex marks).
struct ProtocolDescriptor {
    std::string_view id;   ///< "tcp"; also the JSON layer name
    std::string_view name; ///< "TCP"
    std::span<const FieldDescriptor> fields;
    std::size_t fixedHeaderLength; ///< bytes, derived from the last field
    std::string_view rfc;
};

template <std::size_t N>
constexpr std::size_t headerLengthOf(const std::array<FieldDescriptor, N>& fields) {
    return fields.back().endBit() / 8u;
}

/// Looks a field up by id; nullptr when the protocol has no such field.
const FieldDescriptor* findField(const ProtocolDescriptor& protocol, std::string_view id) noexcept;

} // namespace tcplab::wire
