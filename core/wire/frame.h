#pragma once

#include "wire/arp.h"
#include "wire/bytes.h"
#include "wire/diagnostic.h"
#include "wire/ethernet.h"
#include "wire/field.h"
#include "wire/icmpv6.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include "wire/parse_error.h"
#include "wire/tcp.h"

#include <array>
#include <cstdint>
#include <optional>
#include <variant>

namespace tcplab::wire {

/// Where one decoded layer sits in the frame, for the JSON, the decode tree and the
/// hex view's marks. Offsets and lengths are in bytes from the start of the frame.
struct LayerRange {
    const ProtocolDescriptor* protocol;
    std::uint32_t offset;
    std::uint32_t length;
};

/// A whole frame decoded: L2, L3, L4 and payload. Decoding never fails and never
/// fixes anything: what parsed is here, what did not is `malformed` with the reason,
/// and oddities are `diagnostics`. A Frame refers to the bytes it was decoded from
/// (`bytes`); keep them alive while the Frame is used.
struct Frame {
    Bytes bytes;
    EthernetHeader ethernet;
    std::optional<VlanTag> vlan;
    std::variant<std::monostate, ArpPacket, Ipv4Header, Ipv6Header> network;
    Ipv6Chain ipv6Chain; ///< IPv6 only
    std::variant<std::monostate, TcpHeader, Icmpv6Message> transport;
    /// Protocol number of the upper layer named by IPv4/IPv6, decoded or not.
    std::optional<std::uint8_t> transportProtocol;
    std::uint32_t networkOffset = 0;
    std::uint32_t transportOffset = 0;
    /// The application data: after the TCP header, bounded by the IP length.
    /// For frames we do not decode to the end, the bytes after the last layer.
    std::uint32_t payloadOffset = 0;
    std::uint32_t payloadLength = 0;
    /// True when the TCP/ICMPv6 checksum could be checked: the whole datagram is in
    /// the frame, unfragmented (else the verdict is unknown, not "bad").
    bool transportChecksumChecked = false;
    /// Set when a layer's structure is broken; the layers before it are decoded.
    std::optional<ParseError> malformed;
    Diagnostics diagnostics;

    std::array<LayerRange, 5> layerRanges{};
    std::uint8_t layerCount = 0;

    const Ipv4Header* ipv4() const noexcept { return std::get_if<Ipv4Header>(&network); }
    const Ipv6Header* ipv6() const noexcept { return std::get_if<Ipv6Header>(&network); }
    const ArpPacket* arp() const noexcept { return std::get_if<ArpPacket>(&network); }
    const TcpHeader* tcp() const noexcept { return std::get_if<TcpHeader>(&transport); }
    const Icmpv6Message* icmpv6() const noexcept { return std::get_if<Icmpv6Message>(&transport); }
    Bytes payload() const noexcept { return bytes.subspan(payloadOffset, payloadLength); }
    std::span<const LayerRange> layers() const noexcept { return {layerRanges.data(), layerCount}; }
    /// The bytes of a decoded layer (the one whose protocol is `p`), empty if absent.
    Bytes layerBytes(const ProtocolDescriptor& p) const noexcept;
};

/// Decodes Ethernet II (with one 802.1Q tag), then ARP, IPv4 or IPv6 (walking
/// extension headers), then TCP or ICMPv6. Never throws, never reads past `bytes`.
Frame decodeFrame(Bytes bytes);

} // namespace tcplab::wire
