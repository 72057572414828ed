#include "wire/frame.h"

#include <algorithm>

namespace tcplab::wire {

namespace {

// Builds a Frame layer by layer. Each step either decodes its layer and says where
// the next one starts, or records why it could not and stops; nothing is repaired.
class FrameDecoder {
public:
    // Decodes into `frame`, the caller's return value: no Frame is moved or copied.
    FrameDecoder(Frame& frame, Bytes bytes)
        : m_frame(frame) {
        m_frame.bytes = bytes;
    }

    void run() {
        std::size_t offset = 0;
        auto type = decodeEthernet(offset);
        if (type)
            decodeNetwork(*type, offset);
    }

private:
    void addLayer(const ProtocolDescriptor& protocol, std::size_t offset, std::size_t length) {
        m_frame.layerRanges[m_frame.layerCount++] = {&protocol, static_cast<std::uint32_t>(offset),
                                                     static_cast<std::uint32_t>(length)};
    }

    // The rest of the frame from `offset` is shown as payload: undecoded, not lost.
    void restIsPayload(std::size_t offset) {
        m_frame.payloadOffset = static_cast<std::uint32_t>(offset);
        m_frame.payloadLength = static_cast<std::uint32_t>(m_frame.bytes.size() - offset);
    }

    void fail(const ParseError& error, std::size_t offset) {
        m_frame.malformed = error;
        restIsPayload(offset);
    }

    std::optional<std::uint16_t> decodeEthernet(std::size_t& offset) {
        auto eth = EthernetHeader::parse(m_frame.bytes);
        if (!eth) {
            fail(eth.error(), 0);
            return std::nullopt;
        }
        m_frame.ethernet = *eth;
        addLayer(kEthernetProtocol, 0, EthernetHeader::kLength);
        offset = EthernetHeader::kLength;
        std::uint16_t type = eth->etherType.value_or(0);
        if (type == ether_type::kVlan) {
            auto tag = VlanTag::parse(m_frame.bytes.subspan(offset));
            if (!tag) {
                fail(tag.error(), offset);
                return std::nullopt;
            }
            m_frame.vlan = *tag;
            addLayer(kVlanProtocol, offset, VlanTag::kLength);
            offset += VlanTag::kLength;
            type = tag->innerType;
        }
        return type;
    }

    void decodeNetwork(std::uint16_t type, std::size_t offset) {
        m_frame.networkOffset = static_cast<std::uint32_t>(offset);
        const Bytes rest = m_frame.bytes.subspan(offset);
        switch (type) {
        case ether_type::kArp:
            return decodeArp(rest, offset);
        case ether_type::kIpv4:
            return decodeIpv4(rest, offset);
        case ether_type::kIpv6:
            return decodeIpv6(rest, offset);
        default:
            return restIsPayload(offset);
        }
    }

    void decodeArp(Bytes rest, std::size_t offset) {
        auto arp = ArpPacket::parse(rest);
        if (!arp)
            return fail(arp.error(), offset);
        m_frame.network = *arp;
        addLayer(kArpProtocol, offset, ArpPacket::kLength);
        const std::size_t end = offset + ArpPacket::kLength;
        if (m_frame.bytes.size() > end)
            m_frame.diagnostics.set(Diagnostic::TrailingBytes);
        m_frame.payloadOffset = static_cast<std::uint32_t>(end);
        m_frame.payloadLength = 0;
    }

    void decodeIpv4(Bytes rest, std::size_t offset) {
        auto& ip = m_frame.network.emplace<Ipv4Header>();
        if (auto error = Ipv4Header::parseInto(ip, rest, &m_frame.diagnostics)) {
            m_frame.network = std::monostate{};
            return fail(*error, offset);
        }
        // The header as it is on the wire; parse has validated IHL and total length.
        const std::size_t headerLength = std::size_t{rest[0] & 0x0fu} * 4u;
        const std::size_t totalLength = load16(rest.data() + 2);
        const std::size_t packetLength = std::min(totalLength, rest.size());
        if (rest.size() > totalLength)
            m_frame.diagnostics.set(Diagnostic::TrailingBytes);
        addLayer(kIpv4Protocol, offset, headerLength);
        const std::uint8_t protocol = rest[9];
        m_frame.transportProtocol = protocol;
        const bool fragment = (ip.flags & ipv4_flags::kMoreFragments) != 0 || ip.fragOffset != 0;
        // A checksum covers the whole datagram: it can be verified only when the frame
        // holds all of it, unfragmented.
        const bool verifiable = totalLength <= rest.size() && !fragment;
        const auto pseudo = PseudoHeader::ipv4(ip.src, ip.dst, protocol);
        const bool laterFragment = ip.fragOffset != 0;
        const std::size_t upperOffset = offset + headerLength;
        const Bytes upper = rest.subspan(headerLength, packetLength - headerLength);
        if (laterFragment) {
            // Only the first fragment starts with the upper-layer header (RFC 791 §3.2).
            m_frame.transportOffset = static_cast<std::uint32_t>(upperOffset);
            m_frame.payloadOffset = static_cast<std::uint32_t>(upperOffset);
            m_frame.payloadLength = static_cast<std::uint32_t>(upper.size());
            return;
        }
        decodeTransport(protocol, upper, upperOffset, verifiable ? &pseudo : nullptr, false);
    }

    void decodeIpv6(Bytes rest, std::size_t offset) {
        auto ip = Ipv6Header::parse(rest, &m_frame.diagnostics);
        if (!ip)
            return fail(ip.error(), offset);
        const std::size_t payloadLength = load16(rest.data() + 4);
        const std::size_t declared = Ipv6Header::kLength + payloadLength;
        const std::size_t packetLength = std::min(declared, rest.size());
        if (rest.size() > declared)
            m_frame.diagnostics.set(Diagnostic::TrailingBytes);
        addLayer(kIpv6Protocol, offset, Ipv6Header::kLength);
        const std::uint8_t firstNext = rest[6];
        const Bytes afterFixed =
            rest.subspan(Ipv6Header::kLength, packetLength - Ipv6Header::kLength);
        const Ipv6Address src = ip->src;
        const Ipv6Address dst = ip->dst;
        m_frame.network = std::move(*ip);
        auto chain = walkIpv6Extensions(afterFixed, firstNext);
        if (!chain)
            return fail(chain.error(), offset + Ipv6Header::kLength);
        m_frame.ipv6Chain = *chain;
        const std::size_t upperOffset = offset + Ipv6Header::kLength + chain->upperOffset;
        m_frame.transportProtocol = chain->upperProtocol;
        const Bytes upper = afterFixed.subspan(chain->upperOffset);
        if (chain->fragmented) {
            m_frame.transportOffset = static_cast<std::uint32_t>(upperOffset);
            m_frame.payloadOffset = static_cast<std::uint32_t>(upperOffset);
            m_frame.payloadLength = static_cast<std::uint32_t>(upper.size());
            return;
        }
        // RFC 8200 §8.1: the pseudo-header names the upper-layer protocol and length,
        // and the final destination when a Routing header is present.
        const auto pseudo = PseudoHeader::ipv6(
            src, finalDestination(afterFixed, *chain).value_or(dst), chain->upperProtocol);
        // Only a whole, unfragmented datagram can have its checksum verified.
        const bool verifiable = declared <= rest.size() && !chain->moreFragments;
        decodeTransport(chain->upperProtocol, upper, upperOffset, verifiable ? &pseudo : nullptr,
                        true);
    }

    // RFC 8200 §8.1: "if the IPv6 packet contains a Routing header, the Destination
    // Address used in the pseudo-header is that of the final destination": the last
    // address of a type 0/2 header, the first of a Segment Routing header (RFC 8754
    // §2: the segment list is in reverse order), when segments are left.
    static std::optional<Ipv6Address> finalDestination(Bytes afterFixed, const Ipv6Chain& chain) {
        for (std::size_t i = 0; i < chain.count; ++i) {
            const auto& h = chain.headers[i];
            if (h.type != ip_proto::kRouting || h.length < 8)
                continue;
            const Bytes r = afterFixed.subspan(h.offset, h.length);
            const std::uint8_t routingType = r[2];
            const std::uint8_t segmentsLeft = r[3];
            const std::size_t addresses = (r.size() - 8) / 16;
            if (segmentsLeft == 0 || addresses == 0)
                return std::nullopt;
            if (routingType == 0 || routingType == 2)
                return Ipv6Address::fromBytes(r.data() + 8 + 16 * (addresses - 1));
            if (routingType == 4)
                return Ipv6Address::fromBytes(r.data() + 8);
        }
        return std::nullopt;
    }

    void decodeTransport(std::uint8_t protocol, Bytes upper, std::size_t offset,
                         const PseudoHeader* pseudo, bool ipv6) {
        m_frame.transportOffset = static_cast<std::uint32_t>(offset);
        m_frame.transportChecksumChecked = pseudo != nullptr;
        if (protocol == ip_proto::kTcp)
            return decodeTcp(upper, offset, pseudo);
        if (protocol == ip_proto::kIcmpv6 && ipv6)
            return decodeIcmpv6(upper, offset, pseudo);
        m_frame.payloadOffset = static_cast<std::uint32_t>(offset);
        m_frame.payloadLength = static_cast<std::uint32_t>(upper.size());
    }

    void decodeTcp(Bytes segment, std::size_t offset, const PseudoHeader* pseudo) {
        auto& tcp = m_frame.transport.emplace<TcpHeader>();
        if (auto error = TcpHeader::parseInto(tcp, segment, pseudo, &m_frame.diagnostics)) {
            m_frame.transport = std::monostate{};
            // The fixed header is still shown when it is all there: a data offset of 3
            // is exactly what a teacher wants to point at.
            if (segment.size() >= TcpHeader::kMinLength)
                addLayer(kTcpProtocol, offset, TcpHeader::kMinLength);
            m_frame.malformed = *error;
            m_frame.payloadOffset = static_cast<std::uint32_t>(offset);
            m_frame.payloadLength = static_cast<std::uint32_t>(segment.size());
            return;
        }
        const std::size_t headerLength = static_cast<std::size_t>(segment[12] >> 4) * 4u;
        addLayer(kTcpProtocol, offset, headerLength);
        m_frame.payloadOffset = static_cast<std::uint32_t>(offset + headerLength);
        m_frame.payloadLength = static_cast<std::uint32_t>(segment.size() - headerLength);
    }

    void decodeIcmpv6(Bytes message, std::size_t offset, const PseudoHeader* pseudo) {
        auto icmp = Icmpv6Message::parse(message, pseudo, &m_frame.diagnostics);
        if (!icmp)
            return fail(icmp.error(), offset);
        addLayer(kIcmpv6Protocol, offset, message.size());
        m_frame.transport = std::move(*icmp);
        m_frame.payloadOffset = static_cast<std::uint32_t>(offset + message.size());
        m_frame.payloadLength = 0;
    }

    Frame& m_frame;
};

} // namespace

Bytes Frame::layerBytes(const ProtocolDescriptor& p) const noexcept {
    for (const auto& layer : layers())
        if (layer.protocol == &p)
            return bytes.subspan(layer.offset, layer.length);
    return {};
}

Frame decodeFrame(Bytes bytes) {
    Frame frame;
    FrameDecoder(frame, bytes).run();
    return frame;
}

} // namespace tcplab::wire
