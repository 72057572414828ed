#pragma once

#include <compare>
#include <cstdint>
#include <limits>

namespace tcplab::wire {

/// A TCP sequence number: arithmetic wraps at 2^32 and comparisons are modular
/// (RFC 9293 §3.4, "the space ranges from 0 to 2^32 - 1 ... all arithmetic dealing
/// with sequence numbers must be performed modulo 2^32"; RFC 1982 serial numbers).
/// `a < b` means `a` comes before `b` within half the sequence space; for two
/// numbers exactly 2^31 apart none of <, <=, >, >= holds. Comparing raw uint32_t is a bug.
class SeqNum {
public:
    constexpr SeqNum() noexcept = default;
    constexpr explicit SeqNum(std::uint32_t value) noexcept
        : m_value(value) {}

    constexpr std::uint32_t value() const noexcept { return m_value; }

    constexpr SeqNum operator+(std::int64_t n) const noexcept {
        return SeqNum(static_cast<std::uint32_t>(m_value + static_cast<std::uint64_t>(n)));
    }
    constexpr SeqNum operator-(std::int64_t n) const noexcept { return *this + (-n); }
    constexpr SeqNum& operator+=(std::int64_t n) noexcept { return *this = *this + n; }
    /// Signed distance from `other` to this, in [-2^31, 2^31).
    constexpr std::int32_t operator-(SeqNum other) const noexcept {
        return static_cast<std::int32_t>(m_value - other.m_value);
    }

    friend constexpr bool operator==(SeqNum a, SeqNum b) noexcept = default;
    // RFC 1982 §3.2: for i1 and i2 exactly 2^31 apart the comparison is undefined;
    // here neither is less, so the relation stays antisymmetric.
    friend constexpr bool operator<(SeqNum a, SeqNum b) noexcept {
        const std::int32_t d = a - b;
        return d < 0 && d != std::numeric_limits<std::int32_t>::min();
    }
    friend constexpr bool operator>(SeqNum a, SeqNum b) noexcept { return b < a; }
    friend constexpr bool operator<=(SeqNum a, SeqNum b) noexcept { return a == b || a < b; }
    friend constexpr bool operator>=(SeqNum a, SeqNum b) noexcept { return a == b || a > b; }

    /// `start <= x < start + size`, modulo 2^32 (the RFC 9293 §3.10.7.4 window test).
    constexpr bool inWindow(SeqNum start, std::uint32_t size) const noexcept {
        return static_cast<std::uint32_t>(m_value - start.m_value) < size;
    }

private:
    std::uint32_t m_value = 0;
};

} // namespace tcplab::wire
