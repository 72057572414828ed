// tcplab-cli craft: every header field as an option; the frame as hex or into a pcap.
#include "cli/commands.h"
#include "timeline/pcap_file.h"

#include "wire/segment_spec.h"

#include <fmt/format.h>

#include <charconv>
#include <iostream>
#include <memory>

namespace tcplab::cli {

using namespace tcplab::wire;
using timeline::PcapWriter;

std::uint64_t parseUnsigned(std::string_view option, std::string_view text, std::uint64_t max) {
    std::string_view digits = text;
    int base = 10;
    if (digits.starts_with("0x") || digits.starts_with("0X")) {
        digits.remove_prefix(2);
        base = 16;
    }
    std::uint64_t value = 0;
    const auto [end, ec] =
        std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
    if (digits.empty() || ec == std::errc::invalid_argument || end != digits.data() + digits.size())
        throw CLI::ValidationError(std::string(option), fmt::format("'{}' is not a number", text));
    if (ec == std::errc::result_out_of_range || value > max)
        throw CLI::ValidationError(std::string(option),
                                   fmt::format("{} is out of range 0..{}", text, max));
    return value;
}

namespace {

struct CraftOptions {
    bool ipv6 = false;
    std::string src, dst, srcMac = "02:00:00:00:00:02", dstMac = "02:00:00:00:00:01";
    std::string sport = "50000", dport = "50001", seq = "0", ack = "0", flags = "S";
    std::string window = "64240", urgent = "0", ttl = "64", ipId = "1", tos = "0", flowLabel = "0";
    std::string ipFlags, frag = "0";
    std::string mss, wscale, sack, ts;
    std::vector<std::string> rawOptions;
    std::string payload, payloadHex;
    std::string tcpChecksum, ipChecksum, dataOffset, reserved, ihl, ipLength, etherType;
    bool hex = false;
    std::string out;
    std::string count = "1";
};

template <typename T>
T number(std::string_view option, const std::string& text) {
    return static_cast<T>(parseUnsigned(option, text, std::numeric_limits<T>::max()));
}

template <typename T>
std::optional<T> optionalNumber(std::string_view option, const std::string& text,
                                std::uint64_t max) {
    if (text.empty())
        return std::nullopt;
    return static_cast<T>(parseUnsigned(option, text, max));
}

SeqNum parseSeq(std::string_view option, std::string_view text) {
    return SeqNum(static_cast<std::uint32_t>(parseUnsigned(option, text, 0xffffffffu)));
}

std::vector<SackBlock> parseSackBlocks(const std::string& text) {
    std::vector<SackBlock> blocks;
    std::string_view rest = text;
    while (!rest.empty()) {
        const auto comma = rest.find(',');
        const std::string_view block = rest.substr(0, comma);
        const auto dash = block.find('-');
        if (dash == std::string_view::npos)
            throw CLI::ValidationError("--sack", fmt::format("'{}' is not L-R", block));
        blocks.push_back({parseSeq("--sack", block.substr(0, dash)),
                          parseSeq("--sack", block.substr(dash + 1))});
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
    if (blocks.empty() || blocks.size() > 4)
        throw CLI::ValidationError("--sack", "give 1 to 4 blocks L-R[,L-R]");
    return blocks;
}

TcpOption parseTimestamps(const std::string& text) {
    const auto colon = text.find(':');
    if (colon == std::string::npos)
        throw CLI::ValidationError("--ts", fmt::format("'{}' is not VAL:ECR", text));
    return TcpOption::timestamps(
        static_cast<std::uint32_t>(
            parseUnsigned("--ts", std::string_view(text).substr(0, colon), 0xffffffffu)),
        static_cast<std::uint32_t>(
            parseUnsigned("--ts", std::string_view(text).substr(colon + 1), 0xffffffffu)));
}

TcpOption parseRawOption(const std::string& text) {
    // KIND[:HEX] or KIND:LEN:HEX (an explicit, possibly wrong, length byte).
    const auto first = text.find(':');
    const auto kind =
        static_cast<std::uint8_t>(parseUnsigned("--option", text.substr(0, first), 255));
    if (first == std::string::npos)
        return TcpOption::raw(kind, {});
    std::string rest = text.substr(first + 1);
    std::optional<std::uint8_t> length;
    if (const auto second = rest.find(':'); second != std::string::npos) {
        length = static_cast<std::uint8_t>(parseUnsigned("--option", rest.substr(0, second), 255));
        rest = rest.substr(second + 1);
    }
    auto data = fromHex(rest);
    if (!data)
        throw CLI::ValidationError("--option", data.error());
    if (data->size() > TcpOption::kMaxData)
        throw CLI::ValidationError(
            "--option", fmt::format("{} bytes of data do not fit in a TCP option (max {})",
                                    data->size(), TcpOption::kMaxData));
    return TcpOption::raw(kind, *data, length);
}

void addTcpOption(TcpHeader& tcp, const TcpOption& option, std::string_view name) {
    if (!tcp.options.append(option))
        throw CLI::ValidationError(std::string(name), "the TCP options do not fit in 40 bytes");
}

// The TCP options in the order they were given on the command line, so
// `--nop --mss 1460` and `--mss 1460 --nop` put the bytes on the wire in that order.
void buildOptions(const CLI::App& sub, const CraftOptions& o, TcpHeader& tcp) {
    std::size_t rawIndex = 0;
    for (const CLI::Option* opt : sub.parse_order()) {
        const std::string name = opt->get_name();
        if (name == "--mss")
            addTcpOption(tcp, TcpOption::mss(number<std::uint16_t>("--mss", o.mss)), name);
        else if (name == "--wscale")
            addTcpOption(tcp, TcpOption::windowScale(number<std::uint8_t>("--wscale", o.wscale)),
                         name);
        else if (name == "--sack-perm")
            addTcpOption(tcp, TcpOption::sackPermitted(), name);
        else if (name == "--sack")
            addTcpOption(tcp, TcpOption::sack(parseSackBlocks(o.sack)), name);
        else if (name == "--ts")
            addTcpOption(tcp, parseTimestamps(o.ts), name);
        else if (name == "--nop")
            addTcpOption(tcp, TcpOption::nop(), name);
        else if (name == "--eol")
            addTcpOption(tcp, TcpOption::eol(), name);
        else if (name == "--option")
            addTcpOption(tcp, parseRawOption(o.rawOptions.at(rawIndex++)), name);
    }
}

template <typename Address>
Address parseAddress(std::string_view option, const std::string& text, const char* fallback) {
    const std::string& value = text.empty() ? std::string(fallback) : text;
    auto parsed = Address::parse(value);
    if (!parsed)
        throw CLI::ValidationError(std::string(option),
                                   fmt::format("'{}' is not an {} address", value,
                                               sizeof(Address) == 4 ? "IPv4" : "IPv6"));
    return *parsed;
}

MacAddress parseMac(std::string_view option, const std::string& text) {
    auto mac = MacAddress::parse(text);
    if (!mac)
        throw CLI::ValidationError(
            std::string(option),
            fmt::format("'{}' is not a MAC address (aa:bb:cc:dd:ee:ff)", text));
    return *mac;
}

SegmentSpec buildSpec(const CLI::App& sub, const CraftOptions& o) {
    SegmentSpec spec;
    spec.ethernet.src = parseMac("--src-mac", o.srcMac);
    spec.ethernet.dst = parseMac("--dst-mac", o.dstMac);
    spec.ethernet.etherType = optionalNumber<std::uint16_t>("--ether-type", o.etherType, 0xffff);
    if (o.ipv6) {
        Ipv6Header ip;
        ip.src = parseAddress<Ipv6Address>("--src", o.src, "2001:db8::2");
        ip.dst = parseAddress<Ipv6Address>("--dst", o.dst, "2001:db8::1");
        ip.hopLimit = number<std::uint8_t>("--ttl", o.ttl);
        ip.trafficClass = number<std::uint8_t>("--tos", o.tos);
        ip.flowLabel =
            static_cast<std::uint32_t>(parseUnsigned("--flow-label", o.flowLabel, 0xfffff));
        ip.payloadLength = optionalNumber<std::uint16_t>("--ip-len", o.ipLength, 0xffff);
        spec.ip = ip;
    } else {
        Ipv4Header ip;
        ip.src = parseAddress<Ipv4Address>("--src", o.src, "198.18.0.2");
        ip.dst = parseAddress<Ipv4Address>("--dst", o.dst, "198.18.0.1");
        ip.ttl = number<std::uint8_t>("--ttl", o.ttl);
        ip.id = number<std::uint16_t>("--ip-id", o.ipId);
        ip.tos = number<std::uint8_t>("--tos", o.tos);
        ip.fragOffset = static_cast<std::uint16_t>(parseUnsigned("--frag", o.frag, 0x1fff));
        if (!o.ipFlags.empty())
            ip.flags = static_cast<std::uint8_t>(parseUnsigned("--ip-flags", o.ipFlags, 7));
        ip.checksum = optionalNumber<std::uint16_t>("--ip-checksum", o.ipChecksum, 0xffff);
        ip.ihl = optionalNumber<std::uint8_t>("--ihl", o.ihl, 15);
        ip.totalLength = optionalNumber<std::uint16_t>("--ip-len", o.ipLength, 0xffff);
        spec.ip = ip;
    }
    TcpHeader& tcp = spec.tcp;
    tcp.srcPort = number<std::uint16_t>("--sport", o.sport);
    tcp.dstPort = number<std::uint16_t>("--dport", o.dport);
    tcp.seq = parseSeq("--seq", o.seq);
    tcp.ack = parseSeq("--ack", o.ack);
    auto flags = parseTcpFlags(o.flags);
    if (!flags)
        throw CLI::ValidationError("--flags", flags.error());
    tcp.flags = *flags;
    tcp.window = number<std::uint16_t>("--window", o.window);
    tcp.urgentPointer = number<std::uint16_t>("--urgent", o.urgent);
    tcp.checksum = optionalNumber<std::uint16_t>("--tcp-checksum", o.tcpChecksum, 0xffff);
    tcp.dataOffset = optionalNumber<std::uint8_t>("--data-offset", o.dataOffset, 15);
    if (!o.reserved.empty())
        tcp.reserved = static_cast<std::uint8_t>(parseUnsigned("--reserved", o.reserved, 15));
    buildOptions(sub, o, tcp);
    if (!o.payload.empty() && !o.payloadHex.empty())
        throw CLI::ValidationError("--payload-hex", "give --payload or --payload-hex, not both");
    if (!o.payloadHex.empty()) {
        auto bytes = fromHex(o.payloadHex);
        if (!bytes)
            throw CLI::ValidationError("--payload-hex", bytes.error());
        spec.payload = std::move(*bytes);
    } else {
        auto bytes = unescapeText(o.payload);
        if (!bytes)
            throw CLI::ValidationError("--payload", bytes.error());
        spec.payload = std::move(*bytes);
    }
    return spec;
}

int runCraft(const CLI::App& sub, const CraftOptions& o) {
    const SegmentSpec spec = buildSpec(sub, o);
    const auto count = parseUnsigned("--count", o.count, 100'000'000);
    std::vector<std::uint8_t> frame(spec.encodedLength());
    auto n = spec.encode(MutableBytes(frame));
    if (!n) {
        std::cerr << "tcplab-cli craft: " << describe(n.error()) << "\n";
        return kExitBadUsage;
    }
    frame.resize(*n);
    if (!o.out.empty()) {
        auto writer = PcapWriter::openAppend(o.out);
        if (!writer) {
            std::cerr << "tcplab-cli craft: " << writer.error() << "\n";
            return kExitFailure;
        }
        for (std::uint64_t i = 0; i < count; ++i)
            writer->write(frame);
        if (auto closed = writer->close(); !closed) {
            std::cerr << "tcplab-cli craft: " << closed.error() << "\n";
            return kExitFailure;
        }
    }
    if (o.hex || o.out.empty()) {
        const std::string line = toHex(frame) + "\n";
        const std::uint64_t lines = o.out.empty() ? count : 1;
        for (std::uint64_t i = 0; i < lines; ++i)
            std::cout << line;
    }
    return kExitOk;
}

} // namespace

void addCraftCommand(CLI::App& app, int& exitCode) {
    auto o = std::make_shared<CraftOptions>();
    CLI::App* sub = app.add_subcommand(
        "craft", "Build one Ethernet/IP/TCP frame from fields; print it as hex "
                 "or append it to a pcap. Derived fields are computed unless set.");
    sub->add_flag("--ipv6", o->ipv6, "IPv6 instead of IPv4");
    sub->add_option("--src", o->src, "source IP (default 198.18.0.2 or 2001:db8::2)");
    sub->add_option("--dst", o->dst, "destination IP (default 198.18.0.1 or 2001:db8::1)");
    sub->add_option("--src-mac", o->srcMac, "source MAC")->capture_default_str();
    sub->add_option("--dst-mac", o->dstMac, "destination MAC")->capture_default_str();
    sub->add_option("--ether-type", o->etherType, "EtherType override (e.g. 0x0800)");
    sub->add_option("--sport", o->sport, "TCP source port")->capture_default_str();
    sub->add_option("--dport", o->dport, "TCP destination port")->capture_default_str();
    sub->add_option("--seq", o->seq, "sequence number")->capture_default_str();
    sub->add_option("--ack", o->ack, "acknowledgment number")->capture_default_str();
    sub->add_option("--flags", o->flags,
                    "flags as scapy letters F S R P A U E C (SA, PA) or a number")
        ->capture_default_str();
    sub->add_option("--window", o->window, "window")->capture_default_str();
    sub->add_option("--urgent", o->urgent, "urgent pointer")->capture_default_str();
    sub->add_option("--ttl", o->ttl, "IPv4 TTL / IPv6 hop limit")->capture_default_str();
    sub->add_option("--ip-id", o->ipId, "IPv4 identification")->capture_default_str();
    sub->add_option("--tos", o->tos, "IPv4 TOS / IPv6 traffic class")->capture_default_str();
    sub->add_option("--flow-label", o->flowLabel, "IPv6 flow label")->capture_default_str();
    sub->add_option("--ip-flags", o->ipFlags,
                    "IPv4 flags as a number: 4 reserved, 2 DF, 1 MF (default DF)");
    sub->add_option("--frag", o->frag, "IPv4 fragment offset (8-byte units)")
        ->capture_default_str();
    sub->add_option("--mss", o->mss, "add an MSS option");
    sub->add_option("--wscale", o->wscale, "add a Window Scale option (shift count)");
    sub->add_flag("--sack-perm")->description("add a SACK-Permitted option");
    sub->add_option("--sack", o->sack, "add a SACK option: L-R[,L-R] (up to 4 blocks)");
    sub->add_option("--ts", o->ts, "add a Timestamps option: VAL:ECR");
    sub->add_flag("--nop")->description("add a NOP option (repeat for more)");
    sub->add_flag("--eol")->description("add an End of Option List");
    sub->add_option("--option", o->rawOptions,
                    "add a raw option KIND[:HEX] or KIND:LEN:HEX (repeatable)");
    sub->add_option("--payload", o->payload, "payload as text (C escapes: \\r \\n \\t \\\\ \\xHH)");
    sub->add_option("--payload-hex", o->payloadHex, "payload as hex");
    sub->add_option("--tcp-checksum", o->tcpChecksum, "TCP checksum override (sent as given)");
    sub->add_option("--ip-checksum", o->ipChecksum, "IPv4 header checksum override");
    sub->add_option("--data-offset", o->dataOffset,
                    "TCP data offset override (0-15, in 32-bit words)");
    sub->add_option("--reserved", o->reserved, "TCP reserved bits (0-15)");
    sub->add_option("--ihl", o->ihl, "IPv4 IHL override (0-15)");
    sub->add_option("--ip-len", o->ipLength, "IPv4 total length / IPv6 payload length override");
    sub->add_flag("--hex", o->hex, "print the frame as hex (the default without --out)");
    sub->add_option("--out", o->out, "append the frame to this pcap file (created if missing)");
    sub->add_option("--count", o->count, "repeat the frame N times")->capture_default_str();
    sub->callback([sub, o, &exitCode] { exitCode = runCraft(*sub, *o); });
}

} // namespace tcplab::cli
