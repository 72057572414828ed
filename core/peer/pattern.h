#pragma once

// The bytes the labs' peers send in bulk: the agent's "write FD COUNT" and the HTTP
// responders' GET /bytes/N body. 64 printable bytes repeated, a newline among them, so a
// hex view and a text view both show where in the stream a segment lies. Plain C++ (the
// lwIP helper compiles it in).

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tcplab::peer {

inline constexpr std::string_view kPattern =
    "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.\n";
static_assert(kPattern.size() == 64);

/// Byte `offset` of the pattern stream.
constexpr std::uint8_t patternByte(std::uint64_t offset) noexcept {
    return static_cast<std::uint8_t>(kPattern[offset % kPattern.size()]);
}

/// Fills `out[0, size)` with the pattern from stream offset `offset`.
inline void fillPattern(std::uint8_t* out, std::size_t size, std::uint64_t offset) noexcept {
    for (std::size_t i = 0; i < size; ++i)
        out[i] = patternByte(offset + i);
}

} // namespace tcplab::peer
