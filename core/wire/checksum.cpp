#include "wire/checksum.h"

#include <bit>
#include <cstring>

namespace tcplab::wire {

namespace {
// Folds a 64-bit accumulation of 16-bit lanes to 16 bits (end-around carry).
std::uint16_t fold(std::uint64_t sum) noexcept {
    sum = (sum & 0xffffffffu) + (sum >> 32);
    sum = (sum & 0xffffffffu) + (sum >> 32);
    sum = (sum & 0xffffu) + (sum >> 16);
    sum = (sum & 0xffffu) + (sum >> 16);
    sum = (sum & 0xffffu) + (sum >> 16);
    return static_cast<std::uint16_t>(sum);
}

std::uint16_t byteSwap(std::uint16_t v) noexcept {
    return static_cast<std::uint16_t>((v >> 8) | (v << 8));
}
} // namespace

void InternetChecksum::add(Bytes bytes) noexcept {
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

std::uint16_t InternetChecksum::folded() const noexcept {
    std::uint16_t raw = fold(m_rawSum);
    if constexpr (std::endian::native == std::endian::little)
        raw = byteSwap(raw);
    return fold(std::uint64_t{raw} + m_wordSum);
}

std::uint16_t InternetChecksum::finish() const noexcept {
    return static_cast<std::uint16_t>(~folded());
}

std::uint16_t internetChecksum(Bytes bytes) noexcept {
    InternetChecksum c;
    c.add(bytes);
    return c.finish();
}

PseudoHeader PseudoHeader::ipv4(const Ipv4Address& src, const Ipv4Address& dst,
                                std::uint8_t protocol) noexcept {
    PseudoHeader p;
    p.m_sum.add(src.octets);
    p.m_sum.add(dst.octets);
    p.m_sum.addWord(protocol);
    return p;
}

PseudoHeader PseudoHeader::ipv6(const Ipv6Address& src, const Ipv6Address& dst,
                                std::uint8_t nextHeader) noexcept {
    PseudoHeader p;
    p.m_sum.add(src.octets);
    p.m_sum.add(dst.octets);
    p.m_sum.addWord(nextHeader);
    return p;
}

std::uint16_t PseudoHeader::checksum(Bytes segment) const noexcept {
    InternetChecksum c = m_sum;
    // Upper-layer length: 16 bits for IPv4 (RFC 9293 §3.1), 32 bits for IPv6 (RFC 8200
    // §8.1). Adding the high and low words serves both: the high word is 0 for IPv4.
    const auto len = static_cast<std::uint32_t>(segment.size());
    c.addWord(static_cast<std::uint16_t>(len >> 16));
    c.addWord(static_cast<std::uint16_t>(len));
    c.add(segment);
    return c.finish();
}

bool PseudoHeader::verify(Bytes segment) const noexcept {
    // Summing data that includes a correct checksum gives all ones; the complement is 0.
    return checksum(segment) == 0;
}

std::uint16_t PseudoHeader::partialChecksum(std::size_t segmentLength) const noexcept {
    InternetChecksum c = m_sum;
    const auto len = static_cast<std::uint32_t>(segmentLength);
    c.addWord(static_cast<std::uint16_t>(len >> 16));
    c.addWord(static_cast<std::uint16_t>(len));
    return c.folded();
}

} // namespace tcplab::wire
