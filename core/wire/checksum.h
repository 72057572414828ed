#pragma once

#include "wire/address.h"
#include "wire/bytes.h"

#include <cstdint>

namespace tcplab::wire {

/// The Internet checksum (RFC 1071): ones' complement sum of 16-bit words. Sums are
/// accumulated 64 bits at a time in host order and folded once, which RFC 1071 §2(B)
/// allows because ones' complement addition is byte-order independent.
class InternetChecksum {
public:
    /// Adds bytes that start on an even offset of the checksummed data.
    void add(Bytes bytes) noexcept;
    /// Adds one 16-bit word given in host order.
    void addWord(std::uint16_t word) noexcept { m_wordSum += word; }
    /// The checksum to put on the wire (complement of the folded sum), host order.
    std::uint16_t finish() const noexcept;
    /// The folded sum without complement: 0xffff when data including a correct
    /// checksum is summed.
    std::uint16_t folded() const noexcept;

private:
    std::uint64_t m_rawSum = 0;  // native-order words
    std::uint64_t m_wordSum = 0; // host-order words
};

/// Checksum of a whole buffer (IPv4 header, with its checksum field zeroed or not).
std::uint16_t internetChecksum(Bytes bytes) noexcept;

/// The pseudo-header a TCP or ICMPv6 checksum covers, passed in explicitly by the
/// layer below: RFC 9293 §3.1 (IPv4) and RFC 8200 §8.1 (IPv6). It holds the partial
/// sum of the addresses and protocol; the upper-layer length is added per segment.
class PseudoHeader {
public:
    static PseudoHeader ipv4(const Ipv4Address& src, const Ipv4Address& dst,
                             std::uint8_t protocol) noexcept;
    static PseudoHeader ipv6(const Ipv6Address& src, const Ipv6Address& dst,
                             std::uint8_t nextHeader) noexcept;

    /// Checksum of `segment` (whose checksum field must be zero) under this pseudo-header.
    std::uint16_t checksum(Bytes segment) const noexcept;
    /// True when `segment`, checksum field included, sums to all ones.
    bool verify(Bytes segment) const noexcept;
    /// The value a NIC with checksum offload leaves in the field: the folded,
    /// uncomplemented pseudo-header sum (Linux CHECKSUM_PARTIAL). Captures taken on the
    /// sending host show it instead of a full checksum.
    std::uint16_t partialChecksum(std::size_t segmentLength) const noexcept;

private:
    InternetChecksum m_sum;
};

} // namespace tcplab::wire
