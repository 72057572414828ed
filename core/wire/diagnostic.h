#pragma once

#include <cstdint>
#include <string_view>

namespace tcplab::wire {

/// Something odd about a frame that parsed: the frame is shown as it is, with the
/// oddity attached to the field it concerns. Never a reason to refuse a frame.
enum class Diagnostic : std::uint8_t {
    Ipv4ChecksumBad,
    Ipv4ReservedFlagSet,
    Ipv4TotalLengthBeyondFrame, ///< the frame was cut short (snaplen) or the length lies
    Ipv4Fragment, ///< MF set or offset non-zero: no checksum check; offset > 0 not decoded
    Ipv6PayloadLengthBeyondFrame,
    TrailingBytes, ///< bytes after the IP packet (Ethernet padding)
    TcpChecksumBad,
    TcpChecksumPartial, ///< checksum offload left the pseudo-header sum only
    TcpSynFin,          ///< SYN and FIN together
    TcpReservedBitsSet,
    TcpUrgentWithoutUrg,      ///< urgent pointer non-zero with URG clear
    TcpOptionAfterEolNotZero, ///< padding after End of Option List is not zero
    Icmpv6ChecksumBad,
    Count
};

/// The field id the diagnostic is attached to ("chksum", "flags").
std::string_view diagnosticField(Diagnostic d) noexcept;
/// Layer id ("tcp").
std::string_view diagnosticLayer(Diagnostic d) noexcept;
/// One line for a person: "TCP checksum does not match the segment".
std::string_view describe(Diagnostic d) noexcept;

/// A set of diagnostics: a bit per kind, so a decoded frame never allocates.
class Diagnostics {
public:
    constexpr void set(Diagnostic d) noexcept { m_bits |= bit(d); }
    /// Adds every diagnostic of `other`.
    constexpr void merge(Diagnostics other) noexcept { m_bits |= other.m_bits; }
    constexpr bool has(Diagnostic d) const noexcept { return (m_bits & bit(d)) != 0; }
    constexpr bool empty() const noexcept { return m_bits == 0; }
    constexpr std::uint32_t bits() const noexcept { return m_bits; }
    friend constexpr bool operator==(Diagnostics, Diagnostics) noexcept = default;

    /// Calls f(Diagnostic) for each one set, in enum order.
    template <typename F>
    constexpr void forEach(F&& f) const {
        for (unsigned i = 0; i < static_cast<unsigned>(Diagnostic::Count); ++i)
            if ((m_bits >> i) & 1u)
                f(static_cast<Diagnostic>(i));
    }

private:
    static constexpr std::uint32_t bit(Diagnostic d) noexcept {
        return std::uint32_t{1} << static_cast<unsigned>(d);
    }
    std::uint32_t m_bits = 0;
};
static_assert(static_cast<unsigned>(Diagnostic::Count) <= 32);

} // namespace tcplab::wire
