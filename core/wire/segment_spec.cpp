#include "wire/segment_spec.h"

namespace tcplab::wire {

std::string_view describe(EncodeError e) noexcept {
    switch (e) {
    case EncodeError::BufferTooSmall:
        return "output buffer too small for the frame";
    case EncodeError::TooLarge:
        return "IP packet larger than 65535 bytes";
    }
    return "encode error";
}

namespace {
std::size_t ipHeaderLength(const SegmentSpec& spec) noexcept {
    if (const auto* v4 = spec.ipv4If())
        return v4->headerLength();
    return Ipv6Header::kLength;
}
} // namespace

std::size_t SegmentSpec::encodedLength() const noexcept {
    return EthernetHeader::kLength + ipHeaderLength(*this) + tcp.headerLength() + payload.size();
}

PseudoHeader SegmentSpec::pseudoHeader() const noexcept {
    // The TCP checksum is TCP's own: computed with protocol 6 even if the user sets the
    // IP protocol field to something else, so "auto" always means "correct for TCP".
    if (const auto* v4 = ipv4If())
        return PseudoHeader::ipv4(v4->src, v4->dst, ip_proto::kTcp);
    const auto& v6 = std::get<Ipv6Header>(ip);
    return PseudoHeader::ipv6(v6.src, v6.dst, ip_proto::kTcp);
}

tl::expected<std::size_t, EncodeError> SegmentSpec::encode(MutableBytes out) const noexcept {
    const std::size_t ipLength = ipHeaderLength(*this);
    const std::size_t tcpLength = tcp.headerLength() + payload.size();
    const std::size_t ipPacket = isIpv6() ? tcpLength : ipLength + tcpLength;
    if (ipPacket > 0xffff)
        return tl::make_unexpected(EncodeError::TooLarge);
    const std::size_t total = EthernetHeader::kLength + ipLength + tcpLength;
    if (out.size() < total)
        return tl::make_unexpected(EncodeError::BufferTooSmall);

    std::uint8_t* p = out.data();
    if (const auto* v4 = ipv4If()) {
        ethernet.emit(p, ether_type::kIpv4);
        v4->emit(p + EthernetHeader::kLength, tcpLength, ip_proto::kTcp);
    } else {
        ethernet.emit(p, ether_type::kIpv6);
        std::get<Ipv6Header>(ip).emit(p + EthernetHeader::kLength, tcpLength, ip_proto::kTcp);
    }
    tcp.emit(p + EthernetHeader::kLength + ipLength, payload, pseudoHeader());
    return total;
}

tl::expected<std::vector<std::uint8_t>, EncodeError> SegmentSpec::encode() const {
    std::vector<std::uint8_t> out(encodedLength());
    auto n = encode(MutableBytes(out));
    if (!n)
        return tl::make_unexpected(n.error());
    out.resize(*n);
    return out;
}

std::optional<SegmentSpec> SegmentSpec::replyTo(const Frame& frame) {
    const TcpHeader* tcp = frame.tcp();
    if (!tcp || frame.malformed)
        return std::nullopt;
    SegmentSpec spec;
    spec.ethernet.src = frame.ethernet.dst;
    spec.ethernet.dst = frame.ethernet.src;
    if (const Ipv4Header* v4 = frame.ipv4()) {
        Ipv4Header reply;
        reply.src = v4->dst;
        reply.dst = v4->src;
        spec.ip = reply;
    } else if (const Ipv6Header* v6 = frame.ipv6()) {
        Ipv6Header reply;
        reply.src = v6->dst;
        reply.dst = v6->src;
        spec.ip = reply;
    } else {
        return std::nullopt;
    }
    spec.tcp.srcPort = tcp->dstPort;
    spec.tcp.dstPort = tcp->srcPort;
    return spec;
}

std::optional<SegmentSpec> SegmentSpec::fromFrame(const Frame& frame) {
    const TcpHeader* tcp = frame.tcp();
    if (!tcp || frame.malformed || frame.vlan || frame.ipv6Chain.count != 0 ||
        frame.diagnostics.has(Diagnostic::TrailingBytes))
        return std::nullopt;
    SegmentSpec spec;
    spec.ethernet = frame.ethernet;
    if (const auto* v4 = frame.ipv4()) {
        Ipv4Header ip = *v4;
        // Values that equal what encode computes go back to auto, so an edit to the
        // payload or options recomputes them; odd values stay as overrides.
        if (spec.ethernet.etherType == ether_type::kIpv4)
            spec.ethernet.etherType.reset();
        if (ip.protocol == ip_proto::kTcp)
            ip.protocol.reset();
        const std::size_t expectedTotal =
            ip.headerLength() + tcp->headerLength() + frame.payloadLength;
        if (ip.totalLength == expectedTotal)
            ip.totalLength.reset();
        spec.ip = ip;
    } else if (const auto* v6 = frame.ipv6()) {
        Ipv6Header ip = *v6;
        if (spec.ethernet.etherType == ether_type::kIpv6)
            spec.ethernet.etherType.reset();
        if (ip.nextHeader == ip_proto::kTcp)
            ip.nextHeader.reset();
        if (ip.payloadLength == tcp->headerLength() + frame.payloadLength)
            ip.payloadLength.reset();
        spec.ip = ip;
    } else {
        return std::nullopt;
    }
    spec.tcp = *tcp;
    const Bytes payload = frame.payload();
    spec.payload.assign(payload.begin(), payload.end());
    return spec;
}

} // namespace tcplab::wire
