#pragma once

#include "wire/address.h"
#include "wire/bytes.h"

#include <bit>
#include <cstdint>
#include <cstring>

namespace tcplab::wire {

/// The Internet checksum (RFC 1071): ones' complement sum of 16-bit words. Sums are
/// accumulated 64 bits at a time in host order and folded once, which RFC 1071 §2(B)
/// allows because ones' complement addition is byte-order independent.
class InternetChecksum {
public:
    /// Adds bytes that start on an even offset of the checksummed data. Inline: headers
    /// sum a few fixed-size runs per frame, and the call would cost more than the sum.
    void add(Bytes bytes) noexcept {
        // Native-order 32-bit loads summed into 64 bits cannot overflow for any packet
        // we handle (2^32 words); RFC 1071 §2(B) makes the byte order irrelevant until
        // the final fold, where a swap brings it to host order.
        const std::uint8_t* p = bytes.data();
        std::size_t n = bytes.size();
        std::uint64_t sum = 0;
        while (n >= 16) {
            std::uint32_t w[4];
            std::memcpy(w, p, 16);
            sum += std::uint64_t{w[0]} + w[1] + w[2] + w[3];
            p += 16;
            n -= 16;
        }
        while (n >= 4) {
            std::uint32_t w;
            std::memcpy(&w, p, 4);
            sum += w;
            p += 4;
            n -= 4;
        }
        if (n >= 2) {
            std::uint16_t w;
            std::memcpy(&w, p, 2);
            sum += w;
            p += 2;
            n -= 2;
        }
        if (n == 1) {
            // An odd trailing byte is padded with a zero byte on the right (RFC 1071 §4.1).
            const std::uint8_t last[2] = {*p, 0};
            std::uint16_t w;
            std::memcpy(&w, last, 2);
            sum += w;
        }
        m_rawSum += sum;
    }
    /// Adds one 16-bit word given in host order.
    void addWord(std::uint16_t word) noexcept { m_wordSum += word; }
    /// The checksum to put on the wire (complement of the folded sum), host order.
    std::uint16_t finish() const noexcept { return static_cast<std::uint16_t>(~folded()); }
    /// The folded sum without complement: 0xffff when data including a correct
    /// checksum is summed.
    std::uint16_t folded() const noexcept {
        std::uint16_t raw = fold(m_rawSum);
        if constexpr (std::endian::native == std::endian::little)
            raw = static_cast<std::uint16_t>((raw >> 8) | (raw << 8));
        return fold(std::uint64_t{raw} + m_wordSum);
    }

private:
    // Folds a 64-bit accumulation of 16-bit lanes to 16 bits (end-around carry).
    static std::uint16_t fold(std::uint64_t sum) noexcept {
        sum = (sum & 0xffffffffu) + (sum >> 32);
        sum = (sum & 0xffffffffu) + (sum >> 32);
        sum = (sum & 0xffffu) + (sum >> 16);
        sum = (sum & 0xffffu) + (sum >> 16);
        sum = (sum & 0xffffu) + (sum >> 16);
        return static_cast<std::uint16_t>(sum);
    }

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
                             std::uint8_t protocol) noexcept {
        PseudoHeader p;
        p.m_sum.add(src.octets);
        p.m_sum.add(dst.octets);
        p.m_sum.addWord(protocol);
        return p;
    }
    static PseudoHeader ipv6(const Ipv6Address& src, const Ipv6Address& dst,
                             std::uint8_t nextHeader) noexcept;

    /// Checksum of `segment` (whose checksum field must be zero) under this pseudo-header.
    std::uint16_t checksum(Bytes segment) const noexcept {
        InternetChecksum c = m_sum;
        // Upper-layer length: 16 bits for IPv4 (RFC 9293 §3.1), 32 bits for IPv6 (RFC 8200
        // §8.1). Adding the high and low words serves both: the high word is 0 for IPv4.
        const auto len = static_cast<std::uint32_t>(segment.size());
        c.addWord(static_cast<std::uint16_t>(len >> 16));
        c.addWord(static_cast<std::uint16_t>(len));
        c.add(segment);
        return c.finish();
    }
    /// True when `segment`, checksum field included, sums to all ones.
    bool verify(Bytes segment) const noexcept {
        // Summing data that includes a correct checksum gives all ones; the complement is 0.
        return checksum(segment) == 0;
    }
    /// The value a NIC with checksum offload leaves in the field: the folded,
    /// uncomplemented pseudo-header sum (Linux CHECKSUM_PARTIAL). Captures taken on the
    /// sending host show it instead of a full checksum.
    std::uint16_t partialChecksum(std::size_t segmentLength) const noexcept;

private:
    InternetChecksum m_sum;
};

} // namespace tcplab::wire
