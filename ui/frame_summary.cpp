#include "ui/frame_summary.h"

#include "wire/arp.h"
#include "wire/icmpv6.h"

namespace tcplab::ui {

namespace {
QString qs(const std::string& s) {
    return QString::fromStdString(s);
}
} // namespace

QString otherFrameSummary(const wire::Frame& frame) {
    if (frame.malformed)
        return QStringLiteral("malformed: %1").arg(qs(frame.malformed->message()));
    if (const auto* arp = frame.arp()) {
        const QString target = qs(arp->targetIp.toString());
        const QString sender = qs(arp->senderIp.toString());
        if (arp->operation == 1 && arp->senderIp == wire::Ipv4Address{})
            return QStringLiteral("ARP probe: who-has %1?").arg(target);
        if (arp->operation == 1 && arp->senderIp == arp->targetIp)
            return QStringLiteral("ARP announcement: %1 is-at %2")
                .arg(sender, qs(arp->senderMac.toString()));
        if (arp->operation == 1)
            return QStringLiteral("ARP who-has %1 tell %2").arg(target, sender);
        return QStringLiteral("ARP %1 is-at %2").arg(sender, qs(arp->senderMac.toString()));
    }
    if (const auto* icmp = frame.icmpv6()) {
        if (icmp->type == wire::icmpv6_type::kNeighborSolicitation)
            return QStringLiteral("NS who-has %1").arg(qs(icmp->target.toString()));
        if (icmp->type == wire::icmpv6_type::kNeighborAdvertisement)
            return QStringLiteral("NA %1 is-at %2")
                .arg(qs(icmp->target.toString()), icmp->targetLinkLayer
                                                      ? qs(icmp->targetLinkLayer->toString())
                                                      : QStringLiteral("(no MAC)"));
        switch (icmp->type) {
        case 133:
            return QStringLiteral("ICMPv6 router solicitation");
        case 134:
            return QStringLiteral("ICMPv6 router advertisement");
        case 143:
            return QStringLiteral("ICMPv6 MLDv2 report (the peer joins a multicast group)");
        default:
            return QStringLiteral("ICMPv6 type %1").arg(icmp->type);
        }
    }
    return QStringLiteral("other frame, %1 bytes").arg(frame.bytes.size());
}

QString otherFrameShort(const wire::Frame& frame) {
    if (frame.malformed)
        return QStringLiteral("malformed");
    if (const auto* arp = frame.arp()) {
        if (arp->operation == 1 && arp->senderIp == wire::Ipv4Address{})
            return QStringLiteral("ARP probe %1").arg(qs(arp->targetIp.toString()));
        if (arp->operation == 1 && arp->senderIp == arp->targetIp)
            return QStringLiteral("ARP announce %1").arg(qs(arp->senderIp.toString()));
        if (arp->operation == 1)
            return QStringLiteral("ARP who-has %1").arg(qs(arp->targetIp.toString()));
        return QStringLiteral("ARP %1 is-at").arg(qs(arp->senderIp.toString()));
    }
    if (const auto* icmp = frame.icmpv6()) {
        if (icmp->type == wire::icmpv6_type::kNeighborSolicitation)
            return QStringLiteral("NS %1").arg(qs(icmp->target.toString()));
        if (icmp->type == wire::icmpv6_type::kNeighborAdvertisement)
            return QStringLiteral("NA %1").arg(qs(icmp->target.toString()));
        return QStringLiteral("ICMPv6 %1").arg(icmp->type);
    }
    return QStringLiteral("frame");
}

} // namespace tcplab::ui
