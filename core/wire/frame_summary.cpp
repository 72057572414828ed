#include "wire/frame_summary.h"

#include "wire/arp.h"
#include "wire/icmpv6.h"

#include <fmt/format.h>

namespace tcplab::wire {

std::string describeOtherFrame(const Frame& frame) {
    if (frame.malformed)
        return fmt::format("malformed: {}", frame.malformed->message());
    if (const auto* arp = frame.arp()) {
        if (arp->operation == 1 && arp->senderIp == Ipv4Address{})
            return fmt::format("ARP probe: who-has {}?", arp->targetIp.toString());
        if (arp->operation == 1 && arp->senderIp == arp->targetIp)
            return fmt::format("ARP announcement: {} is-at {}", arp->senderIp.toString(),
                               arp->senderMac.toString());
        if (arp->operation == 1)
            return fmt::format("ARP who-has {} tell {}", arp->targetIp.toString(),
                               arp->senderIp.toString());
        return fmt::format("ARP {} is-at {}", arp->senderIp.toString(), arp->senderMac.toString());
    }
    if (const auto* icmp = frame.icmpv6()) {
        if (icmp->type == icmpv6_type::kNeighborSolicitation)
            return fmt::format("NS who-has {}", icmp->target.toString());
        if (icmp->type == icmpv6_type::kNeighborAdvertisement)
            return fmt::format("NA {} is-at {}", icmp->target.toString(),
                               icmp->targetLinkLayer ? icmp->targetLinkLayer->toString()
                                                     : std::string("(no MAC)"));
        switch (icmp->type) {
        case 133:
            return "ICMPv6 router solicitation";
        case 134:
            return "ICMPv6 router advertisement";
        case 131:
            return "ICMPv6 MLD report (the peer joins a multicast group)";
        case 143:
            return "ICMPv6 MLDv2 report (the peer joins a multicast group)";
        default:
            return fmt::format("ICMPv6 type {}", icmp->type);
        }
    }
    return fmt::format("other frame, {} bytes", frame.bytes.size());
}

std::string shortOtherFrame(const Frame& frame) {
    if (frame.malformed)
        return "malformed";
    if (const auto* arp = frame.arp()) {
        if (arp->operation == 1 && arp->senderIp == Ipv4Address{})
            return fmt::format("ARP probe {}", arp->targetIp.toString());
        if (arp->operation == 1 && arp->senderIp == arp->targetIp)
            return fmt::format("ARP announce {}", arp->senderIp.toString());
        if (arp->operation == 1)
            return fmt::format("ARP who-has {}", arp->targetIp.toString());
        return fmt::format("ARP {} is-at", arp->senderIp.toString());
    }
    if (const auto* icmp = frame.icmpv6()) {
        if (icmp->type == icmpv6_type::kNeighborSolicitation)
            return fmt::format("NS {}", icmp->target.toString());
        if (icmp->type == icmpv6_type::kNeighborAdvertisement)
            return fmt::format("NA {}", icmp->target.toString());
        if (icmp->type == 131 || icmp->type == 143)
            return "MLD report";
        if (icmp->type == 133)
            return "router solicitation";
        return fmt::format("ICMPv6 {}", icmp->type);
    }
    return "frame";
}

} // namespace tcplab::wire
