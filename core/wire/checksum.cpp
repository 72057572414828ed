#include "wire/checksum.h"

#include <cstring>

namespace tcplab::wire {

std::uint16_t internetChecksum(Bytes bytes) noexcept {
    InternetChecksum c;
    c.add(bytes);
    return c.finish();
}

PseudoHeader PseudoHeader::ipv6(const Ipv6Address& src, const Ipv6Address& dst,
                                std::uint8_t nextHeader) noexcept {
    PseudoHeader p;
    p.m_sum.add(src.octets);
    p.m_sum.add(dst.octets);
    p.m_sum.addWord(nextHeader);
    return p;
}

std::uint16_t PseudoHeader::partialChecksum(std::size_t segmentLength) const noexcept {
    InternetChecksum c = m_sum;
    const auto len = static_cast<std::uint32_t>(segmentLength);
    c.addWord(static_cast<std::uint16_t>(len >> 16));
    c.addWord(static_cast<std::uint16_t>(len));
    return c.folded();
}

} // namespace tcplab::wire
