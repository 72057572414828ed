#pragma once
// One TCP frame of the phantom's connection 198.18.0.2:50000 <-> 198.18.0.1:50001, for
// suites and benchmarks that build a timeline by hand (header-only: the ui suites and
// bench/ladder include it without the test support library).

#include "wire/segment_spec.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tcplab::test {

inline const wire::MacAddress kPhantomMac = *wire::MacAddress::parse("02:00:00:00:00:02");
inline const wire::MacAddress kPeerMac = *wire::MacAddress::parse("02:00:00:00:00:01");
inline const wire::Ipv4Address kPhantom = *wire::Ipv4Address::parse("198.18.0.2");
inline const wire::Ipv4Address kPeer = *wire::Ipv4Address::parse("198.18.0.1");

/// The frame from the phantom (or the peer) with these flags, numbers, window and
/// `payload` bytes of 'x'; IPv4, ports 50000 -> 50001 (or back).
inline std::vector<std::uint8_t> labSegment(bool fromPhantom, std::uint8_t flags, std::uint32_t seq,
                                            std::uint32_t ack, std::uint16_t window,
                                            std::size_t payload = 0) {
    wire::SegmentSpec spec;
    spec.ethernet = {fromPhantom ? kPeerMac : kPhantomMac, fromPhantom ? kPhantomMac : kPeerMac,
                     std::nullopt};
    wire::Ipv4Header ip;
    ip.src = fromPhantom ? kPhantom : kPeer;
    ip.dst = fromPhantom ? kPeer : kPhantom;
    spec.ip = ip;
    spec.tcp.srcPort = fromPhantom ? 50000 : 50001;
    spec.tcp.dstPort = fromPhantom ? 50001 : 50000;
    spec.tcp.seq = wire::SeqNum(seq);
    spec.tcp.ack = wire::SeqNum(ack);
    spec.tcp.flags = flags;
    spec.tcp.window = window;
    spec.payload.assign(payload, std::uint8_t{'x'});
    return spec.encode().value_or(std::vector<std::uint8_t>{});
}

} // namespace tcplab::test
