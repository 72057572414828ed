#include "host/phantom_host.h"

#include "wire/arp.h"
#include "wire/ethernet.h"
#include "wire/icmpv6.h"
#include "wire/ipv6.h"

#include <algorithm>

#include <fmt/format.h>

namespace tcplab::host {

using namespace tcplab::wire;

namespace {
// RFC 4861 §6.1.1, §7.1.1: Neighbor Discovery messages are sent and accepted with a
// hop limit of 255 only, proof that they did not cross a router.
constexpr std::uint8_t kNdHopLimit = 255;
const Ipv6Address kAllNodes{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01}};

std::string networkText(const Ipv4Config& c) {
    auto base = c.address.toUint();
    base = c.prefix == 0 ? 0 : base & (~std::uint32_t{0} << (32 - c.prefix));
    return fmt::format("{}/{}", Ipv4Address::fromUint(base).toString(), c.prefix);
}

std::string networkText(const Ipv6Config& c) {
    Ipv6Address base = c.address;
    for (unsigned bit = c.prefix; bit < 128; ++bit)
        base.octets[bit / 8] =
            static_cast<std::uint8_t>(base.octets[bit / 8] & ~(0x80u >> (bit % 8)));
    return fmt::format("{}/{}", base.toString(), c.prefix);
}

std::vector<std::uint8_t> ndFrame(const MacAddress& srcMac, const MacAddress& dstMac,
                                  const Ipv6Address& src, const Ipv6Address& dst,
                                  const Icmpv6Message& message) {
    const std::size_t length = message.length();
    std::vector<std::uint8_t> frame(EthernetHeader::kLength + Ipv6Header::kLength + length);
    EthernetHeader eth{dstMac, srcMac, std::nullopt};
    eth.emit(frame.data(), ether_type::kIpv6);
    Ipv6Header ip;
    ip.src = src;
    ip.dst = dst;
    ip.hopLimit = kNdHopLimit;
    ip.emit(frame.data() + EthernetHeader::kLength, length, ip_proto::kIcmpv6);
    message.emit(frame.data() + EthernetHeader::kLength + Ipv6Header::kLength,
                 PseudoHeader::ipv6(src, dst, ip_proto::kIcmpv6));
    return frame;
}
} // namespace

MacAddress randomLocalMac(std::mt19937_64& rng) {
    MacAddress mac;
    const std::uint64_t bits = rng();
    for (std::size_t i = 0; i < 6; ++i)
        mac.octets[i] = static_cast<std::uint8_t>(bits >> (8 * i));
    // IEEE 802 §8.2.2: clear the group bit, set the locally administered bit.
    mac.octets[0] = static_cast<std::uint8_t>((mac.octets[0] & 0xfc) | 0x02);
    return mac;
}

PhantomHost::PhantomHost(Identity identity, HostTiming timing)
    : m_identity(std::move(identity))
    , m_timing(timing) {}

bool PhantomHost::probing() const noexcept {
    return m_claim4.state == ClaimState::Probing || m_claim6.state == ClaimState::Probing;
}

bool PhantomHost::ready() const noexcept {
    if (m_refused)
        return false;
    const bool v4 = !m_identity.ipv4 || m_claim4.state == ClaimState::Claimed;
    const bool v6 = !m_identity.ipv6 || m_claim6.state == ClaimState::Claimed;
    return v4 && v6 && (m_identity.ipv4 || m_identity.ipv6);
}

void PhantomHost::startProbe(std::int64_t nowNs, FrameList& out) {
    if (m_refused)
        return;
    for (bool ipv6 : {false, true}) {
        const bool configured = ipv6 ? m_identity.ipv6.has_value() : m_identity.ipv4.has_value();
        if (!configured)
            continue;
        Claim& claim = ipv6 ? m_claim6 : m_claim4;
        claim = {ClaimState::Probing, 0, nowNs};
        const IpAddress address =
            ipv6 ? IpAddress{m_identity.ipv6->address} : IpAddress{m_identity.ipv4->address};
        event(HostEvent::Kind::ProbeStarted, address, std::nullopt,
              fmt::format("probing whether {} is free ({})", addressText(address),
                          ipv6 ? "IPv6 duplicate address detection, RFC 4862 §5.4"
                               : "ARP probe, RFC 5227 §2.1"));
    }
    tick(nowNs, out);
}

void PhantomHost::claimWithoutProbe() {
    if (m_identity.ipv4)
        m_claim4.state = ClaimState::Claimed;
    if (m_identity.ipv6)
        m_claim6.state = ClaimState::Claimed;
}

void PhantomHost::probeStep(bool ipv6, std::int64_t nowNs, FrameList& out) {
    Claim& claim = ipv6 ? m_claim6 : m_claim4;
    if (claim.state != ClaimState::Probing || nowNs < claim.nextAt)
        return;
    if (claim.probesSent < m_timing.probeCount) {
        out.push_back(ipv6 ? neighborSolicitation(m_identity.ipv6->address, true)
                           : arpRequest(m_identity.ipv4->address, true));
        ++claim.probesSent;
        claim.nextAt = nowNs + (claim.probesSent < m_timing.probeCount ? m_timing.probeIntervalNs
                                                                       : m_timing.probeWaitNs);
        return;
    }
    claim.state = ClaimState::Claimed;
    const IpAddress address =
        ipv6 ? IpAddress{m_identity.ipv6->address} : IpAddress{m_identity.ipv4->address};
    event(HostEvent::Kind::AddressClaimed, address, m_identity.mac,
          fmt::format("{} is free: no one answered {} probes; the phantom answers for it as {}",
                      addressText(address), m_timing.probeCount, m_identity.mac.toString()));
    if (!ipv6) {
        // RFC 5227 §2.3: announce the claim so neighbours update stale caches.
        auto announcement = arpRequest(m_identity.ipv4->address, false);
        out.push_back(std::move(announcement));
    }
}

void PhantomHost::conflict(bool ipv6, const MacAddress& mac, const std::string& how) {
    const IpAddress address =
        ipv6 ? IpAddress{m_identity.ipv6->address} : IpAddress{m_identity.ipv4->address};
    // "An address that answers is refused with the MAC that answered, and nothing
    // else is sent": every claim and pending resolution stops here.
    m_refused = true;
    m_claim4.state = m_identity.ipv4 ? ClaimState::Refused : ClaimState::Unclaimed;
    m_claim6.state = m_identity.ipv6 ? ClaimState::Refused : ClaimState::Unclaimed;
    m_pending.clear();
    event(HostEvent::Kind::AddressConflict, address, mac,
          fmt::format(
              "{} is in use: {} {}; choose another address (tcplab never takes over an address "
              "that someone else uses)",
              addressText(address), mac.toString(), how));
}

void PhantomHost::learn(const IpAddress& address, const MacAddress& mac) {
    m_neighbours[address] = mac;
    if (m_pending.erase(address) > 0)
        event(HostEvent::Kind::Resolved, address, mac,
              fmt::format("{} is at {}", addressText(address), mac.toString()));
}

tl::expected<IpAddress, std::string> PhantomHost::nextHop(const IpAddress& peer) const {
    if (const auto* v4 = std::get_if<Ipv4Address>(&peer)) {
        if (!m_identity.ipv4)
            return tl::make_unexpected(
                fmt::format("{} is IPv4 but the phantom has no IPv4 address", v4->toString()));
        const Ipv4Config& c = *m_identity.ipv4;
        if (c.address.sameSubnet(*v4, c.prefix))
            return peer;
        if (c.gateway)
            return IpAddress{*c.gateway};
        return tl::make_unexpected(
            fmt::format("{} is not in {} and no gateway is set: give the gateway (--gateway)",
                        v4->toString(), networkText(c)));
    }
    const auto& v6 = std::get<Ipv6Address>(peer);
    if (!m_identity.ipv6)
        return tl::make_unexpected(
            fmt::format("{} is IPv6 but the phantom has no IPv6 address", v6.toString()));
    const Ipv6Config& c = *m_identity.ipv6;
    if (c.address.sameSubnet(v6, c.prefix))
        return peer;
    if (c.gateway)
        return IpAddress{*c.gateway};
    return tl::make_unexpected(
        fmt::format("{} is not in {} and no gateway is set: give the gateway (--gateway)",
                    v6.toString(), networkText(c)));
}

std::optional<MacAddress> PhantomHost::nextHopMac(const IpAddress& peer) const {
    const auto hop = nextHop(peer);
    if (!hop)
        return std::nullopt;
    const auto it = m_neighbours.find(*hop);
    if (it == m_neighbours.end())
        return std::nullopt;
    return it->second;
}

void PhantomHost::resolve(const IpAddress& peer, std::int64_t nowNs, FrameList& out) {
    if (m_refused)
        return;
    const auto hop = nextHop(peer);
    if (!hop) {
        event(HostEvent::Kind::ResolveFailed, peer, std::nullopt, hop.error());
        return;
    }
    if (m_neighbours.count(*hop) || m_pending.count(*hop))
        return;
    m_pending[*hop] = Pending{0, nowNs};
    tick(nowNs, out);
}

void PhantomHost::sendResolveRequest(const IpAddress& target, FrameList& out) const {
    if (const auto* v4 = std::get_if<Ipv4Address>(&target))
        out.push_back(arpRequest(*v4, false));
    else
        out.push_back(neighborSolicitation(std::get<Ipv6Address>(target), false));
}

void PhantomHost::tick(std::int64_t nowNs, FrameList& out) {
    if (m_refused)
        return;
    if (m_identity.ipv4)
        probeStep(false, nowNs, out);
    if (m_identity.ipv6)
        probeStep(true, nowNs, out);
    // Resolution waits until the phantom owns its addresses: before that it has no
    // source address to ask from.
    if (!ready())
        return;
    for (auto it = m_pending.begin(); it != m_pending.end();) {
        Pending& p = it->second;
        if (nowNs < p.nextAt) {
            ++it;
            continue;
        }
        if (p.attempts < m_timing.resolveAttempts) {
            sendResolveRequest(it->first, out);
            ++p.attempts;
            p.nextAt = nowNs + m_timing.resolveIntervalNs;
            ++it;
            continue;
        }
        const bool v4 = std::holds_alternative<Ipv4Address>(it->first);
        event(HostEvent::Kind::ResolveFailed, it->first, std::nullopt,
              fmt::format("no answer from {} to {} {} in {} ms: is it up and on this link?",
                          addressText(it->first), p.attempts,
                          v4 ? "ARP requests" : "Neighbor Solicitations",
                          std::int64_t{p.attempts} * m_timing.resolveIntervalNs / 1'000'000));
        it = m_pending.erase(it);
    }
}

std::optional<std::int64_t> PhantomHost::nextDeadline() const noexcept {
    if (m_refused)
        return std::nullopt;
    std::optional<std::int64_t> next;
    auto consider = [&](std::int64_t t) { next = next ? std::min(*next, t) : t; };
    if (m_claim4.state == ClaimState::Probing)
        consider(m_claim4.nextAt);
    if (m_claim6.state == ClaimState::Probing)
        consider(m_claim6.nextAt);
    if (ready())
        for (const auto& [address, p] : m_pending)
            consider(p.nextAt);
    return next;
}

bool PhantomHost::onFrame(const Frame& frame, std::int64_t nowNs, FrameList& out) {
    (void)nowNs;
    if (frame.ethernet.src == m_identity.mac)
        return false; // our own frame, seen on a link that echoes
    if (const ArpPacket* arp = frame.arp())
        return handleArp(*arp, out);
    if (frame.icmpv6())
        return handleIcmpv6(frame, out);
    return false;
}

bool PhantomHost::handleArp(const ArpPacket& arp, FrameList& out) {
    if (!m_identity.ipv4 || m_refused)
        return true;
    const Ipv4Address ours = m_identity.ipv4->address;
    if (arp.senderMac == m_identity.mac)
        return true;
    if (m_claim4.state == ClaimState::Probing) {
        // RFC 5227 §2.1.1: any ARP packet with our address as sender IP, or a probe
        // for our address from another host, is a conflict.
        if (arp.senderIp == ours)
            conflict(false, arp.senderMac, "answered the ARP probe");
        else if (arp.operation == arp_op::kRequest && arp.senderIp.isUnspecified() &&
                 arp.targetIp == ours)
            conflict(false, arp.senderMac, "is probing for it at the same time");
        return true;
    }
    if (!arp.senderIp.isUnspecified() && arp.senderIp != ours)
        learn(IpAddress{arp.senderIp}, arp.senderMac);
    if (m_claim4.state != ClaimState::Claimed)
        return true;
    if (arp.senderIp == ours) {
        event(HostEvent::Kind::AddressConflict, IpAddress{ours}, arp.senderMac,
              fmt::format("{} also claims {} (RFC 5227 §2.4): two hosts now answer for it",
                          arp.senderMac.toString(), ours.toString()));
        return true;
    }
    if (arp.operation == arp_op::kRequest && arp.targetIp == ours) {
        out.push_back(arpReply(arp));
        event(HostEvent::Kind::AnsweredArp, IpAddress{arp.senderIp}, arp.senderMac,
              fmt::format("{} asked who has {}: answered {}", arp.senderIp.toString(),
                          ours.toString(), m_identity.mac.toString()));
    }
    return true;
}

bool PhantomHost::handleIcmpv6(const Frame& frame, FrameList& out) {
    const Icmpv6Message& icmp = *frame.icmpv6();
    const Ipv6Header& ip = *frame.ipv6();
    if (!icmp.isNeighborDiscovery())
        return false;
    if (!m_identity.ipv6 || m_refused || ip.hopLimit != kNdHopLimit ||
        frame.diagnostics.has(Diagnostic::Icmpv6ChecksumBad))
        return true; // RFC 4861 §7.1: invalid ND messages are silently discarded
    const Ipv6Address ours = m_identity.ipv6->address;
    const bool probingNow = m_claim6.state == ClaimState::Probing;
    if (icmp.type == icmpv6_type::kNeighborSolicitation) {
        if (icmp.target != ours) {
            if (!ip.src.isUnspecified() && icmp.sourceLinkLayer)
                learn(IpAddress{ip.src}, *icmp.sourceLinkLayer);
            return true;
        }
        if (probingNow) {
            // RFC 4862 §5.4.3: an NS for our tentative address from the unspecified
            // address is another host's DAD: the address is not unique.
            if (ip.src.isUnspecified())
                conflict(true, frame.ethernet.src,
                         "is running duplicate address detection for it too");
            return true;
        }
        if (m_claim6.state != ClaimState::Claimed)
            return true;
        if (ip.src.isUnspecified()) {
            // Someone else's DAD for our address: defend it (RFC 4862 §5.4.3 from the
            // owner's side: answer to all-nodes, not solicited).
            out.push_back(neighborAdvertisement(kAllNodes, kAllNodes.multicastMac(), false));
            return true;
        }
        const MacAddress replyMac = icmp.sourceLinkLayer.value_or(frame.ethernet.src);
        learn(IpAddress{ip.src}, replyMac);
        out.push_back(neighborAdvertisement(ip.src, replyMac, true));
        event(HostEvent::Kind::AnsweredNeighborSolicitation, IpAddress{ip.src}, replyMac,
              fmt::format("{} asked for {}: answered {}", ip.src.toString(), ours.toString(),
                          m_identity.mac.toString()));
        return true;
    }
    // Neighbor Advertisement.
    const MacAddress mac = icmp.targetLinkLayer.value_or(frame.ethernet.src);
    if (icmp.target == ours) {
        if (probingNow)
            conflict(true, mac, "answered duplicate address detection");
        else if (m_claim6.state == ClaimState::Claimed)
            event(HostEvent::Kind::AddressConflict, IpAddress{ours}, mac,
                  fmt::format("{} also advertises {}: two hosts now answer for it", mac.toString(),
                              ours.toString()));
        return true;
    }
    learn(IpAddress{icmp.target}, mac);
    return true;
}

std::vector<HostEvent> PhantomHost::takeEvents() {
    std::vector<HostEvent> events;
    events.swap(m_events);
    return events;
}

void PhantomHost::event(HostEvent::Kind kind, const IpAddress& address,
                        std::optional<MacAddress> mac, std::string message) {
    m_events.push_back({kind, address, mac, std::move(message)});
}

std::vector<std::uint8_t> PhantomHost::arpRequest(const Ipv4Address& target, bool probe) const {
    std::vector<std::uint8_t> frame(EthernetHeader::kLength + ArpPacket::kLength);
    EthernetHeader{MacAddress::broadcast(), m_identity.mac, std::nullopt}.emit(frame.data(),
                                                                               ether_type::kArp);
    ArpPacket arp;
    arp.operation = arp_op::kRequest;
    arp.senderMac = m_identity.mac;
    // RFC 5227 §2.1.1: a probe's sender IP is all zeros, so no cache is updated.
    arp.senderIp = probe ? Ipv4Address{} : m_identity.ipv4->address;
    arp.targetIp = target;
    arp.emit(frame.data() + EthernetHeader::kLength);
    return frame;
}

std::vector<std::uint8_t> PhantomHost::arpReply(const ArpPacket& request) const {
    std::vector<std::uint8_t> frame(EthernetHeader::kLength + ArpPacket::kLength);
    EthernetHeader{request.senderMac, m_identity.mac, std::nullopt}.emit(frame.data(),
                                                                         ether_type::kArp);
    ArpPacket arp;
    arp.operation = arp_op::kReply;
    arp.senderMac = m_identity.mac;
    arp.senderIp = m_identity.ipv4->address;
    arp.targetMac = request.senderMac;
    arp.targetIp = request.senderIp;
    arp.emit(frame.data() + EthernetHeader::kLength);
    return frame;
}

std::vector<std::uint8_t> PhantomHost::neighborSolicitation(const Ipv6Address& target,
                                                            bool dad) const {
    const Ipv6Address group = target.solicitedNodeMulticast();
    Icmpv6Message ns = Icmpv6Message::neighborSolicitation(target, m_identity.mac);
    // RFC 4861 §4.3: no source link-layer option when the source is unspecified (DAD).
    if (dad)
        ns.sourceLinkLayer.reset();
    return ndFrame(m_identity.mac, group.multicastMac(),
                   dad ? Ipv6Address{} : m_identity.ipv6->address, group, ns);
}

std::vector<std::uint8_t> PhantomHost::neighborAdvertisement(const Ipv6Address& to,
                                                             const MacAddress& toMac,
                                                             bool solicited) const {
    const std::uint8_t flags =
        static_cast<std::uint8_t>((solicited ? na_flags::kSolicited : 0) | na_flags::kOverride);
    const Icmpv6Message na =
        Icmpv6Message::neighborAdvertisement(m_identity.ipv6->address, m_identity.mac, flags);
    return ndFrame(m_identity.mac, toMac, m_identity.ipv6->address, to, na);
}

} // namespace tcplab::host
