#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace tcplab::wire {

/// Read-only bytes of a frame or a header.
using Bytes = std::span<const std::uint8_t>;
/// Writable bytes of a frame being built.
using MutableBytes = std::span<std::uint8_t>;

/// Big-endian loads and stores: every multi-byte field on the wire is network order.
constexpr std::uint16_t load16(const std::uint8_t* p) noexcept {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
constexpr std::uint32_t load32(const std::uint8_t* p) noexcept {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}
constexpr void store16(std::uint8_t* p, std::uint16_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
constexpr void store32(std::uint8_t* p, std::uint32_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v >> 24);
    p[1] = static_cast<std::uint8_t>(v >> 16);
    p[2] = static_cast<std::uint8_t>(v >> 8);
    p[3] = static_cast<std::uint8_t>(v);
}

/// A byte buffer of fixed capacity stored inline: IPv4 options, TCP options and
/// option data are bounded by their headers (at most 40 bytes), so a header value
/// never allocates and copies cheaply.
template <std::size_t Capacity>
class InlineBytes {
public:
    static_assert(Capacity < 256);
    constexpr InlineBytes() = default;

    /// Replaces the contents; returns false (and leaves it unchanged) if `b` does not fit.
    constexpr bool assign(Bytes b) noexcept {
        if (b.size() > Capacity)
            return false;
        std::copy(b.begin(), b.end(), m_data.begin());
        m_size = static_cast<std::uint8_t>(b.size());
        return true;
    }
    /// Appends; returns false (and leaves it unchanged) if it does not fit.
    constexpr bool append(Bytes b) noexcept {
        if (b.size() > Capacity - m_size)
            return false;
        std::copy(b.begin(), b.end(), m_data.begin() + m_size);
        m_size = static_cast<std::uint8_t>(m_size + b.size());
        return true;
    }
    constexpr bool push(std::uint8_t v) noexcept {
        if (m_size == Capacity)
            return false;
        m_data[m_size++] = v;
        return true;
    }
    constexpr void clear() noexcept { m_size = 0; }
    constexpr Bytes bytes() const noexcept { return {m_data.data(), m_size}; }
    constexpr std::size_t size() const noexcept { return m_size; }
    constexpr bool empty() const noexcept { return m_size == 0; }
    static constexpr std::size_t capacity() noexcept { return Capacity; }
    constexpr const std::uint8_t* data() const noexcept { return m_data.data(); }
    constexpr std::uint8_t operator[](std::size_t i) const noexcept { return m_data[i]; }

    friend constexpr bool operator==(const InlineBytes& a, const InlineBytes& b) noexcept {
        return std::equal(a.bytes().begin(), a.bytes().end(), b.bytes().begin(), b.bytes().end());
    }

private:
    std::array<std::uint8_t, Capacity> m_data{};
    std::uint8_t m_size = 0;
};

/// Lower-case hex without separators ("0a1b").
std::string toHex(Bytes bytes);
/// Parses hex digits; spaces, colons and a leading "0x" are ignored. An odd digit
/// count or a non-hex character is an error that says where.
tl::expected<std::vector<std::uint8_t>, std::string> fromHex(std::string_view text);

/// Text with C escapes (\r \n \t \0 \\ \" \xHH) to bytes: how a user types
/// "GET / HTTP/1.1\r\n\r\n". An unknown escape is an error that says where.
tl::expected<std::vector<std::uint8_t>, std::string> unescapeText(std::string_view text);
/// Bytes as text with the same escapes for anything not printable ASCII.
std::string escapeText(Bytes bytes);

} // namespace tcplab::wire
