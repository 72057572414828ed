#include "wire/frame_json.h"

#include <fmt/format.h>

namespace tcplab::wire {

using nlohmann::json;

namespace {

json fieldValue(Bytes layer, const FieldDescriptor& d) {
    switch (d.format) {
    case FieldFormat::Mac:
        return MacAddress::fromBytes(layer.data() + d.byteOffset()).toString();
    case FieldFormat::Ipv4:
        return Ipv4Address::fromBytes(layer.data() + d.byteOffset()).toString();
    case FieldFormat::Ipv6:
        return Ipv6Address::fromBytes(layer.data() + d.byteOffset()).toString();
    case FieldFormat::TcpFlags:
        return tcpFlagsToString(static_cast<std::uint8_t>(readField(layer.data(), d)));
    case FieldFormat::Ipv4Flags:
        return ipv4FlagsToString(static_cast<std::uint8_t>(readField(layer.data(), d)));
    case FieldFormat::Decimal:
    case FieldFormat::Hex:
        return readField(layer.data(), d);
    }
    return nullptr;
}

json ipv6ExtensionsToJson(const Frame& frame) {
    json list = json::array();
    for (std::size_t i = 0; i < frame.ipv6Chain.count; ++i) {
        const auto& h = frame.ipv6Chain.headers[i];
        list.push_back(
            {{"type", h.type}, {"name", ipv6ExtensionName(h.type)}, {"length", h.length}});
    }
    return list;
}

void addExtras(json& layer, const ProtocolDescriptor& protocol, const Frame& frame) {
    const Diagnostics& d = frame.diagnostics;
    if (&protocol == &kIpv4Protocol) {
        layer["chksum_ok"] = !d.has(Diagnostic::Ipv4ChecksumBad);
    } else if (&protocol == &kIpv6Protocol) {
        layer["extensions"] = ipv6ExtensionsToJson(frame);
    } else if (&protocol == &kTcpProtocol) {
        const TcpHeader* tcp = frame.tcp();
        if (!tcp || !frame.transportChecksumChecked)
            layer["chksum_ok"] = nullptr;
        else
            layer["chksum_ok"] =
                !d.has(Diagnostic::TcpChecksumBad) && !d.has(Diagnostic::TcpChecksumPartial);
        // null, not [], when the options could not be parsed: "none" would be a lie.
        layer["options"] = tcp ? tcpOptionsToJson(tcp->options) : json(nullptr);
    } else if (&protocol == &kIcmpv6Protocol) {
        const Icmpv6Message* icmp = frame.icmpv6();
        layer["chksum_ok"] = frame.transportChecksumChecked
                                 ? json(!d.has(Diagnostic::Icmpv6ChecksumBad))
                                 : json(nullptr);
        if (icmp && icmp->sourceLinkLayer)
            layer["src_lladdr"] = icmp->sourceLinkLayer->toString();
        if (icmp && icmp->targetLinkLayer)
            layer["tgt_lladdr"] = icmp->targetLinkLayer->toString();
    }
}

} // namespace

json layerFieldsToJson(const ProtocolDescriptor& protocol, Bytes layerBytes) {
    json out = json::object();
    for (const auto& d : protocol.fields) {
        if (!fieldFits(layerBytes, d))
            break;
        out[std::string(d.id)] = fieldValue(layerBytes, d);
    }
    return out;
}

json tcpOptionsToJson(const TcpOptionList& options) {
    json list = json::array();
    for (const TcpOption& o : options) {
        const std::string_view name = o.name();
        json value;
        switch (o.kind) {
        case tcp_option_kind::kEol:
        case tcp_option_kind::kNop:
        case tcp_option_kind::kSackPermitted:
            if (o.kind != tcp_option_kind::kSackPermitted || o.data.empty())
                value = nullptr;
            break;
        case tcp_option_kind::kMss:
            if (auto v = o.mssValue())
                value = *v;
            break;
        case tcp_option_kind::kWindowScale:
            if (auto v = o.windowScaleValue())
                value = *v;
            break;
        case tcp_option_kind::kTimestamps:
            if (auto v = o.timestampsValue())
                value = json::array({v->first, v->second});
            break;
        case tcp_option_kind::kSack: {
            std::size_t count = 0;
            const auto blocks = o.sackBlocks(count);
            if (count > 0) {
                value = json::array();
                for (std::size_t i = 0; i < count; ++i)
                    value.push_back(json::array({blocks[i].left.value(), blocks[i].right.value()}));
            }
            break;
        }
        default:
            break;
        }
        const bool known =
            !name.empty() && (!value.is_null() || o.kind == tcp_option_kind::kEol ||
                              o.kind == tcp_option_kind::kNop ||
                              (o.kind == tcp_option_kind::kSackPermitted && o.data.empty()));
        if (known)
            list.push_back(json::array({name, value}));
        else // unknown kind, or a known kind whose size is wrong: kind and bytes as they are
            list.push_back(json::array({o.kind, toHex(o.data.bytes())}));
    }
    return list;
}

json frameToJson(const Frame& frame) {
    json layers = json::array();
    for (const LayerRange& range : frame.layers()) {
        json layer = json::object();
        layer["layer"] = std::string(range.protocol->id);
        const Bytes bytes = frame.bytes.subspan(range.offset, range.length);
        json fields = layerFieldsToJson(*range.protocol, bytes);
        // ICMPv6 other than Neighbor Discovery has only type, code and checksum in common.
        if (range.protocol == &kIcmpv6Protocol &&
            !(frame.icmpv6() && frame.icmpv6()->isNeighborDiscovery())) {
            for (const char* key : {"flags", "res", "tgt"})
                fields.erase(key);
        }
        layer.update(fields);
        addExtras(layer, *range.protocol, frame);
        layers.push_back(std::move(layer));
    }
    json diagnostics = json::array();
    frame.diagnostics.forEach([&](Diagnostic d) {
        diagnostics.push_back({{"layer", diagnosticLayer(d)},
                               {"field", diagnosticField(d)},
                               {"message", describe(d)}});
    });
    json out = json::object();
    out["layers"] = std::move(layers);
    out["payload_hex"] = toHex(frame.payload());
    out["malformed"] = frame.malformed ? json(frame.malformed->message()) : json(nullptr);
    out["diagnostics"] = std::move(diagnostics);
    return out;
}

} // namespace tcplab::wire
