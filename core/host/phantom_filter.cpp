#include "host/phantom_filter.h"

#include "wire/bytes.h"

#include <vector>

#include <fmt/format.h>

namespace tcplab::host {

using namespace tcplab::wire;

namespace {
// Offsets the filter reads, named after the layouts they come from.
//
// ARP for Ethernet/IPv4 (RFC 826), from the start of the ARP packet:
//   0 htype | 2 ptype | 4 hlen | 5 plen | 6 oper | 8 sha | 14 spa | 18 tha | 24 tpa
constexpr int kArpLengths = 4;   ///< hlen, plen as one 16-bit word: 0x0604 for Ethernet/IPv4
constexpr int kArpSenderIp = 14; ///< spa
constexpr int kArpTargetIp = 24; ///< tpa
// IPv6 (RFC 8200 §3) then ICMPv6 (RFC 4443 §2.1), from the start of the IPv6 header. The
// filter reads ICMPv6 only when it follows the fixed header directly: Neighbor Discovery
// never carries extension headers, and a frame that does is not one the phantom handles.
constexpr int kIp6NextHeader = 6;
constexpr int kIcmp6Type = 40;
constexpr int kNdTarget = 48; ///< NS/NA target address (RFC 4861 §4.3, §4.4): 16 bytes

constexpr unsigned kIcmpv6Proto = 58;
constexpr unsigned kNeighborSolicitation = 135;
constexpr unsigned kNeighborAdvertisement = 136;

const MacAddress kAllNodesMac{{0x33, 0x33, 0, 0, 0, 0x01}}; // ff02::1 (RFC 2464 §7)

// "ip6[48:4] = 0x20010db8 and ip6[52:4] = 0 and ...": the ND target equals `address`.
// BPF loads at most four bytes at once, so the 128 bits are four comparisons.
std::string ndTargetIs(const Ipv6Address& address) {
    std::vector<std::string> words;
    for (int i = 0; i < 4; ++i)
        words.push_back(fmt::format("ip6[{}:4] = 0x{:08x}", kNdTarget + 4 * i,
                                    load32(address.octets.data() + 4 * i)));
    return fmt::format("{}", fmt::join(words, " and "));
}

// ARP that concerns the phantom's IPv4 address: a request for it (target), a reply or
// announcement that claims it (sender, RFC 5227 §2.4), another host's probe for it
// (sender 0.0.0.0, target ours: RFC 5227 §2.1.1), a broadcast reply to our own request.
std::string arpClause(const Ipv4Config& v4) {
    const std::uint32_t ip = v4.address.toUint();
    return fmt::format("(arp and arp[{}:2] = 0x0604 and (arp[{}:4] = 0x{:08x} or arp[{}:4] = "
                       "0x{:08x}))",
                       kArpLengths, kArpSenderIp, ip, kArpTargetIp, ip);
}

// Neighbor Discovery that concerns the phantom's IPv6 address and arrives on a group
// address: Neighbor Solicitations for it on its solicited-node group (address
// resolution, and another host's DAD from ::), and Neighbor Advertisements for it to
// all-nodes (a host defending the address against our DAD, RFC 4862 §5.4.4). Replies
// to our own solicitations are unicast to our MAC and pass the first clause.
std::string ndClause(const Ipv6Config& v6) {
    const MacAddress solicitedMac = v6.address.solicitedNodeMulticast().multicastMac();
    return fmt::format(
        "(ip6[{}] = {} and ((ether dst {} and ip6[{}] = {}) or (ether dst {} and ip6[{}] = {})) "
        "and {})",
        kIp6NextHeader, kIcmpv6Proto, solicitedMac.toString(), kIcmp6Type, kNeighborSolicitation,
        kAllNodesMac.toString(), kIcmp6Type, kNeighborAdvertisement, ndTargetIs(v6.address));
}
} // namespace

// pcap-filter(7) gives "and" and "or" the same precedence, left to right: every clause
// is parenthesised so the expression means what it reads.
std::string phantomBpfFilter(const Identity& identity) {
    std::vector<std::string> clauses;
    // Everything unicast to the phantom: TCP, ARP replies, solicited NAs, NUD probes.
    clauses.push_back(fmt::format("(ether dst {})", identity.mac.toString()));
    if (identity.ipv4)
        clauses.push_back(arpClause(*identity.ipv4));
    if (identity.ipv6)
        clauses.push_back(ndClause(*identity.ipv6));
    return fmt::format("{}", fmt::join(clauses, " or "));
}

} // namespace tcplab::host
