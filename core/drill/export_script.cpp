// timelineToScript, exportPacketdrill and exportScapy: one TCP connection of a timeline as a
// packetdrill script, built as a Script and printed by formatScript() so that what is
// written is what parseScript() reads, and as a scapy program made from that Script.
#include "drill/export_script.h"

#include "drill/export_calls.h"

#include "peer/agent_protocol.h"
#include "peer/call_text.h"
#include "timeline/peer_records.h"
#include "wire/address.h"
#include "wire/frame.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <set>
#include <span>
#include <variant>

#include <fmt/format.h>

namespace tcplab::drill {

namespace {

using namespace exporting;

/// A recorded call that took longer than this blocked: it is written with its return time
/// ("...0.1 accept(...)"), since packetdrill expects a call without one to return at once
/// and would not go on meanwhile.
constexpr std::int64_t kBlockingNs = 1'000'000;

struct Endpoint {
    wire::IpAddress address;
    std::uint16_t port = 0;
    auto operator<=>(const Endpoint&) const = default;
};

std::string endpointText(const Endpoint& e) {
    if (std::holds_alternative<wire::Ipv6Address>(e.address))
        return fmt::format("[{}]:{}", wire::addressText(e.address), e.port);
    return fmt::format("{}:{}", wire::addressText(e.address), e.port);
}

/// One TCP frame of the exported connection.
struct Segment {
    std::size_t frame = 0; ///< its index in the timeline
    std::int64_t timeNs = 0;
    bool fromPhantom = false;
    wire::TcpHeader tcp;
    std::uint32_t payload = 0;
    std::uint8_t ecn = 0; ///< the IP header's two ECN bits
};

struct Connection {
    Endpoint phantom;
    Endpoint peer;
    bool ipv6 = false;
    std::vector<Segment> segments;
};

/// The data length as it was on the wire: a frame cut short by the snap length keeps only
/// its first bytes, but its IP header still says how long the packet was.
std::uint32_t payloadLength(const wire::Frame& f) {
    const std::size_t at = f.networkOffset;
    std::size_t end = 0; // where the IP packet ends, as its header says
    if (f.ipv4() && f.bytes.size() >= at + 4)
        end = at + wire::load16(f.bytes.data() + at + 2);
    else if (f.ipv6() && f.bytes.size() >= at + 6)
        end = at + wire::Ipv6Header::kLength + wire::load16(f.bytes.data() + at + 4);
    const std::size_t present = std::size_t{f.payloadOffset} + f.payloadLength;
    if (end > present && end - f.payloadOffset <= 0xffff)
        return static_cast<std::uint32_t>(end - f.payloadOffset);
    return f.payloadLength;
}

/// The connection `which` (0-based, by first appearance; a connection is the pair of
/// endpoints oriented by the frames' direction: a Sent frame's source is the phantom's).
tl::expected<Connection, std::string> findConnection(const timeline::Timeline& t,
                                                     std::optional<std::size_t> which) {
    const std::size_t wanted = which.value_or(0);
    std::map<std::pair<Endpoint, Endpoint>, std::size_t> seen;
    Connection c;
    for (std::size_t i = 0; i < t.size(); ++i) {
        const timeline::Entry& entry = t[i];
        const wire::Frame f = entry.decode();
        const wire::TcpHeader* tcp = f.tcp();
        if (!tcp)
            continue; // ARP, NDP, other protocols, malformed or later fragments
        Endpoint src{wire::Ipv4Address{}, tcp->srcPort};
        Endpoint dst{wire::Ipv4Address{}, tcp->dstPort};
        std::uint8_t ecn = 0;
        if (const auto* v4 = f.ipv4()) {
            src.address = v4->src;
            dst.address = v4->dst;
            ecn = v4->tos & 0x3;
        } else if (const auto* v6 = f.ipv6()) {
            src.address = v6->src;
            dst.address = v6->dst;
            ecn = v6->trafficClass & 0x3;
        } else {
            continue;
        }
        const bool sent = entry.direction == timeline::Direction::Sent;
        std::pair<Endpoint, Endpoint> key{sent ? src : dst, sent ? dst : src};
        const auto [it, added] = seen.try_emplace(key, seen.size());
        if (it->second != wanted)
            continue;
        if (added) {
            c.phantom = key.first;
            c.peer = key.second;
            c.ipv6 = f.ipv6() != nullptr;
        }
        c.segments.push_back(Segment{i, entry.timeNs, sent, *tcp, payloadLength(f), ecn});
    }
    if (seen.empty())
        return tl::make_unexpected(std::string("the timeline has no TCP connection"));
    if (c.segments.empty())
        return tl::make_unexpected(
            fmt::format("there is no TCP connection {}: the timeline has {} (numbered from 0)",
                        wanted, seen.size()));
    return c;
}

/// Where each side's numbers count from: its SYN's sequence number, else (the capture began
/// mid-connection) the lowest it was seen to send, else what the other side acknowledged.
struct Numbering {
    std::uint32_t phantomBase = 0;
    std::uint32_t peerBase = 0;
    bool phantomSyn = false;
    bool peerSyn = false;
};

Numbering numberingOf(const Connection& c) {
    Numbering n;
    const auto baseOf = [&](bool phantom, std::uint32_t& base, bool& syn) {
        std::optional<wire::SeqNum> lowest;
        std::optional<wire::SeqNum> acked; // the first ack of the other side
        for (const Segment& s : c.segments) {
            if (s.fromPhantom == phantom) {
                if (s.tcp.has(wire::tcp_flags::kSyn)) {
                    base = s.tcp.seq.value();
                    syn = true;
                    return;
                }
                if (!lowest || s.tcp.seq < *lowest)
                    lowest = s.tcp.seq;
            } else if (!acked && s.tcp.has(wire::tcp_flags::kAck)) {
                acked = s.tcp.ack;
            }
        }
        base = lowest ? lowest->value() : acked ? acked->value() : 0;
    };
    baseOf(true, n.phantomBase, n.phantomSyn);
    baseOf(false, n.peerBase, n.peerSyn);
    return n;
}

// ---- packets ------------------------------------------------------------------------------

/// packetdrill's letters (tcp_packet.c): S F R P U E (ECE) W (CWR) A (AE) and "." for ACK,
/// which the parser wants last.
std::string flagLetters(const wire::TcpHeader& tcp) {
    using namespace wire::tcp_flags;
    std::string out;
    for (const auto& [bit, letter] : std::array<std::pair<std::uint8_t, char>, 7>{{{kSyn, 'S'},
                                                                                   {kFin, 'F'},
                                                                                   {kRst, 'R'},
                                                                                   {kPsh, 'P'},
                                                                                   {kUrg, 'U'},
                                                                                   {kEce, 'E'},
                                                                                   {kCwr, 'W'}}})
        if (tcp.has(bit))
            out += letter;
    if (tcp.reserved & 0x1)
        out += 'A';
    if (tcp.has(kAck))
        out += '.';
    return out;
}

/// The header's options as packetdrill writes them; SACK blocks count from `otherBase` (they
/// acknowledge the other side's data). What packetdrill has no word for becomes nops, and
/// the list is padded to a multiple of 4 bytes, as its parser insists.
std::vector<TcpOptionSpec> optionsOf(const Segment& s, std::uint32_t otherBase, Notes& notes) {
    using K = TcpOptionSpec::Kind;
    namespace kind = wire::tcp_option_kind;
    std::vector<TcpOptionSpec> out;
    for (const wire::TcpOption& option : s.tcp.options) {
        TcpOptionSpec o;
        const wire::Bytes data = option.data.bytes();
        bool ok = true;
        switch (option.kind) {
        case kind::kEol:
            o.kind = K::Eol;
            break;
        case kind::kNop:
            o.kind = K::Nop;
            break;
        case kind::kMss:
            o.kind = K::Mss;
            ok = option.mssValue().has_value();
            o.value = option.mssValue().value_or(0);
            break;
        case kind::kWindowScale:
            o.kind = K::WindowScale;
            ok = option.windowScaleValue().has_value();
            o.value = option.windowScaleValue().value_or(0);
            break;
        case kind::kSackPermitted:
            o.kind = K::SackOk;
            ok = data.empty() && option.wireLength() == 2;
            break;
        case kind::kSack: {
            o.kind = K::Sack;
            std::size_t count = 0;
            const auto blocks = option.sackBlocks(count);
            ok = count > 0;
            for (std::size_t i = 0; i < count; ++i)
                o.blocks.emplace_back(blocks[i].left.value() - otherBase,
                                      blocks[i].right.value() - otherBase);
            break;
        }
        case kind::kTimestamps:
            o.kind = K::Timestamp;
            ok = option.timestampsValue().has_value();
            if (ok) {
                o.value = option.timestampsValue()->first;
                o.echo = option.timestampsValue()->second;
            }
            break;
        case 34: // TCP Fast Open, RFC 7413 §4.1.1
            o.kind = K::FastOpen;
            o.cookie = wire::toHex(data);
            break;
        case 254: // the experimental Fast Open option, RFC 6994 magic 0xF989
            o.kind = K::FastOpenExp;
            ok = data.size() >= 2 && data[0] == 0xf9 && data[1] == 0x89;
            if (ok)
                o.cookie = wire::toHex(data.subspan(2));
            break;
        case 19: // TCP MD5 signature, RFC 2385
            o.kind = K::Md5;
            ok = data.size() == 16;
            o.cookie = wire::toHex(data);
            break;
        default:
            ok = false;
            break;
        }
        if (ok && option.wireLength() != option.wireSize() && !option.isSingleByte())
            ok = false; // a length byte that lies: packetdrill writes the true one
        if (!ok) {
            // As many nops as it took, so that the header keeps its length.
            notes.add(fmt::format("TCP option kind {} written as nop (packetdrill cannot write it "
                                  "as it was)",
                                  option.kind),
                      s.frame);
            TcpOptionSpec nop;
            nop.kind = K::Nop;
            out.insert(out.end(), option.wireSize(), nop);
            continue;
        }
        out.push_back(std::move(o));
    }
    unsigned bytes = 0;
    for (const TcpOptionSpec& o : out)
        bytes += tcpOptionLength(o);
    // After an EOL the rest is zeros, which is EOL again; otherwise fill with nop.
    const K pad = !out.empty() && out.back().kind == K::Eol ? K::Eol : K::Nop;
    TcpOptionSpec padding;
    padding.kind = pad;
    for (; bytes % 4 != 0; ++bytes)
        out.push_back(padding);
    return out;
}

/// The segment as a packet line, or nullopt (noted) when its numbers cannot be written.
std::optional<PacketSpec> packetOf(const Segment& s, const Numbering& n, const ExportOptions& o,
                                   Notes& notes) {
    PacketSpec p;
    p.direction = s.fromPhantom ? Direction::Inbound : Direction::Outbound;
    const std::uint32_t ownBase = s.fromPhantom ? n.phantomBase : n.peerBase;
    const std::uint32_t otherBase = s.fromPhantom ? n.peerBase : n.phantomBase;
    p.flags = flagLetters(s.tcp);
    p.seq = s.tcp.seq.value() - ownBase;
    if (s.payload > 0xffff) {
        notes.add("left out: segments longer than a packet line can write (65535 bytes)", s.frame);
        return std::nullopt;
    }
    if (std::uint64_t{p.seq} + s.payload > 0xffffffff) {
        notes.add("left out: sequence numbers before the side's ISN, which packetdrill cannot "
                  "write",
                  s.frame);
        return std::nullopt;
    }
    p.length = static_cast<std::uint16_t>(s.payload);
    if (s.tcp.has(wire::tcp_flags::kAck))
        p.ack = s.tcp.ack.value() - otherBase;
    if (s.tcp.has(wire::tcp_flags::kUrg))
        p.urgent = s.tcp.urgentPointer;
    if (s.fromPhantom) {
        // What the phantom sent goes out again exactly: every field is written.
        p.window = s.tcp.window;
        static constexpr std::array kEcn = {PacketSpec::Ecn::None, PacketSpec::Ecn::Ect1,
                                            PacketSpec::Ecn::Ect0, PacketSpec::Ecn::Ce};
        p.ecn = kEcn[s.ecn & 0x3];
        p.options = optionsOf(s, otherBase, notes);
    } else {
        // The peer's options are checked only where they are negotiated: later ones (TS
        // values, SACK blocks) follow the live run's timing.
        if (o.assertWindow)
            p.window = s.tcp.window;
        if (s.tcp.has(wire::tcp_flags::kSyn))
            p.options = optionsOf(s, otherBase, notes);
        else
            p.options.reset();
    }
    return p;
}

// ---- system calls -------------------------------------------------------------------------

SyscallSpec syscall(std::string name, std::vector<Expr> arguments, std::int64_t result) {
    SyscallSpec s;
    s.name = std::move(name);
    s.arguments = std::move(arguments);
    s.result = integer(result);
    return s;
}

/// Keeps the calls of this connection: in a timeline of several, an fd accepted from or
/// connected to another endpoint is another connection's, and its calls are left out
/// until it is closed.
std::vector<peer::CallRecord> callsOf(const timeline::Timeline& t, const Connection& c) {
    std::vector<peer::CallRecord> calls;
    for (std::size_t i = 0; i < t.peerSize(); ++i) {
        const timeline::PeerRecord& record = t.peer(i);
        auto call = timeline::callRecord(record);
        if (!call)
            continue;
        if (call->answer.startNs == 0)
            call->answer.startNs = record.timeNs;
        calls.push_back(std::move(*call));
    }
    // Records come as calls return; a blocking call's goes where it started.
    std::stable_sort(calls.begin(), calls.end(), [](const auto& a, const auto& b) {
        return a.answer.startNs < b.answer.startNs;
    });
    const std::string phantom = endpointText(c.phantom);
    std::set<std::int32_t> others;
    std::vector<peer::CallRecord> out;
    for (peer::CallRecord& call : calls) {
        const peer::Request& r = call.request;
        const peer::Answer& a = call.answer;
        const auto newFd = static_cast<std::int32_t>(a.result);
        if (r.call == peer::Call::Accept && a.result >= 0) {
            if (!a.text.empty() && a.text != phantom) {
                others.insert(newFd);
                continue;
            }
            others.erase(newFd);
        } else if (r.call == peer::Call::Socket && a.result >= 0) {
            others.erase(newFd);
        } else if (r.call == peer::Call::Connect && !r.numbers.empty()) {
            const auto address = wire::parseIpAddress(r.text);
            if (address && !(*address == c.phantom.address && r.numbers[0] == c.phantom.port))
                others.insert(r.fd);
        }
        if (r.fd >= 0 && others.contains(r.fd)) {
            if (r.call == peer::Call::Close)
                others.erase(r.fd);
            continue;
        }
        out.push_back(std::move(call));
    }
    return out;
}

// ---- the script -----------------------------------------------------------------------------

struct Item {
    std::int64_t timeNs = 0;
    std::optional<std::int64_t> endNs; ///< a blocking call's return
    Action action;
};

/// Made-up calls of the peer's application, keyed by the segment they go before or after.
struct Synthesized {
    std::map<std::size_t, std::vector<Action>> before;
    std::map<std::size_t, std::vector<Action>> after;
};

/// The calls an application makes for what the capture shows (see export_script.h).
Synthesized synthesize(const Connection& c, std::vector<std::string>& header) {
    using namespace wire::tcp_flags;
    Synthesized out;
    const auto& segs = c.segments;
    const auto firstSyn = std::find_if(segs.begin(), segs.end(), [](const Segment& s) {
        return s.tcp.has(kSyn) && !s.tcp.has(kAck);
    });
    const bool peerIsClient = firstSyn != segs.end() && !firstSyn->fromPhantom;
    const std::int32_t fd = peerIsClient ? 3 : 4;
    if (peerIsClient) {
        auto& at = out.before[static_cast<std::size_t>(firstSyn - segs.begin())];
        at.push_back(syscall("socket", {ellipsis(), word("SOCK_STREAM"), word("IPPROTO_TCP")}, 3));
        at.push_back(syscall(
            "fcntl", {integer(3), word("F_SETFL"), binary("|", word("O_RDWR"), word("O_NONBLOCK"))},
            0));
        SyscallSpec connect = syscall("connect", {integer(3), ellipsis(), ellipsis()}, -1);
        connect.errnoName = "EINPROGRESS";
        connect.note = "Operation now in progress";
        at.push_back(std::move(connect));
        header.push_back("The peer's calls are made up (the timeline has no call records): a "
                         "client that connects without blocking, reads what it received, "
                         "writes what it sent and closes.");
    } else {
        auto& at = out.before[0];
        at.push_back(syscall("socket", {ellipsis(), word("SOCK_STREAM"), word("IPPROTO_TCP")}, 3));
        at.push_back(syscall("setsockopt",
                             {integer(3), word("SOL_SOCKET"), word("SO_REUSEADDR"),
                              group(Expr::Kind::List, {integer(1)}), integer(4)},
                             0));
        at.push_back(syscall("bind", {integer(3), ellipsis(), ellipsis()}, 0));
        at.push_back(syscall("listen", {integer(3), integer(1)}, 0));
        SyscallSpec accept = syscall("accept", {integer(3), ellipsis(), ellipsis()}, 4);
        // Accepted once the handshake's last ACK is in: the phantom's first ACK after the
        // peer's SYN-ACK.
        std::optional<std::size_t> lastAck;
        bool synAck = false;
        for (std::size_t i = 0; i < segs.size() && !lastAck; ++i) {
            const Segment& s = segs[i];
            if (!s.fromPhantom && s.tcp.has(kSyn | kAck))
                synAck = true;
            else if (synAck && s.fromPhantom && s.tcp.has(kAck) && !s.tcp.has(kSyn))
                lastAck = i;
        }
        if (lastAck)
            out.after[*lastAck].push_back(std::move(accept));
        else if (firstSyn == segs.end())
            at.push_back(std::move(accept)); // mid-connection: accepted before the capture
        header.push_back("The peer's calls are made up (the timeline has no call records): a "
                         "server that accepts, reads what it received, writes what it sent "
                         "and closes.");
    }
    // A write before each run of the peer's new data (until the phantom sends data of its
    // own), a close before its first FIN.
    std::optional<wire::SeqNum> sentEnd; // the end of the peer's data so far
    std::optional<std::size_t> runStart;
    std::int64_t runBytes = 0;
    const auto flush = [&] {
        if (runStart && runBytes > 0)
            out.before[*runStart].push_back(
                syscall("write", {integer(fd), ellipsis(), integer(runBytes)}, runBytes));
        runStart.reset();
        runBytes = 0;
    };
    bool closed = false;
    std::optional<wire::SeqNum> receivedEnd; // the end of the phantom's data read so far
    for (std::size_t i = 0; i < segs.size(); ++i) {
        const Segment& s = segs[i];
        if (s.fromPhantom) {
            if (s.payload > 0) {
                flush();
                // The application reads what came (a server that never read would close
                // with data unread, which makes its kernel send a RST, not a FIN).
                const wire::SeqNum start = s.tcp.seq + (s.tcp.has(kSyn) ? 1 : 0);
                const wire::SeqNum end = start + s.payload;
                const wire::SeqNum from =
                    receivedEnd && *receivedEnd > start ? *receivedEnd : start;
                if (end > from && !closed) {
                    const std::int64_t n = end - from;
                    out.after[i].push_back(
                        syscall("read", {integer(fd), ellipsis(), integer(n)}, n));
                    receivedEnd = end;
                }
            }
            continue;
        }
        if (s.payload > 0) {
            const wire::SeqNum start = s.tcp.seq + (s.tcp.has(kSyn) ? 1 : 0);
            const wire::SeqNum end = start + s.payload;
            const wire::SeqNum from = sentEnd && *sentEnd > start ? *sentEnd : start;
            if (end > from) {
                if (!runStart)
                    runStart = i;
                runBytes += end - from;
                sentEnd = end;
            }
        }
        if (s.tcp.has(kFin) && !closed) {
            flush();
            out.before[i].push_back(syscall("close", {integer(fd)}, 0));
            closed = true;
        }
    }
    flush();
    return out;
}

struct Exported {
    Script script;
    std::vector<std::string> header; ///< comment lines, "// " included
    Connection connection;
    Numbering numbering;
    ExportOptions options;
};

tl::expected<Exported, std::string> build(const timeline::Timeline& t, const ExportOptions& o) {
    auto found = findConnection(t, o.connection);
    if (!found)
        return tl::make_unexpected(found.error());
    Exported x;
    x.options = o;
    x.connection = std::move(*found);
    const Connection& c = x.connection;
    x.numbering = numberingOf(c);
    const Numbering& n = x.numbering;
    Notes notes;
    std::vector<std::string> about;

    std::vector<Item> items;
    const std::vector<peer::CallRecord> calls = callsOf(t, c);
    for (const peer::CallRecord& call : calls) {
        auto action = callAction(call, o, notes);
        if (!action)
            continue;
        Item item;
        item.timeNs = call.answer.startNs;
        if (std::holds_alternative<SyscallSpec>(*action) && call.answer.durationNs > kBlockingNs)
            item.endNs = call.answer.startNs + call.answer.durationNs;
        item.action = std::move(*action);
        items.push_back(std::move(item));
    }
    bool anyCall = false;
    for (std::size_t i = 0; i < t.peerSize() && !anyCall; ++i)
        anyCall = t.peer(i).kind == timeline::PeerRecordKind::Call;
    Synthesized made;
    if (!anyCall)
        made = synthesize(c, about);
    else if (calls.empty())
        about.push_back("The timeline has no call records of this connection: no system calls.");
    for (std::size_t i = 0; i < c.segments.size(); ++i) {
        const Segment& s = c.segments[i];
        for (Action& a : made.before[i])
            items.push_back(Item{s.timeNs, std::nullopt, std::move(a)});
        if (auto packet = packetOf(s, n, o, notes))
            items.push_back(Item{s.timeNs, std::nullopt, std::move(*packet)});
        for (Action& a : made.after[i])
            items.push_back(Item{s.timeNs, std::nullopt, std::move(a)});
    }
    // Calls were put first: at the same moment the call comes before what it causes.
    std::stable_sort(items.begin(), items.end(),
                     [](const Item& a, const Item& b) { return a.timeNs < b.timeNs; });

    Script& script = x.script;
    if (c.ipv6)
        script.options.push_back(ScriptOption{"ip_version", "ipv6", {}});
    if (o.toleranceUsecs != 0)
        script.options.push_back(
            ScriptOption{"tolerance_usecs", fmt::format("{}", o.toleranceUsecs), {}});
    const std::int64_t originNs = items.empty() ? 0 : items.front().timeNs;
    const auto usecs = [&](std::int64_t ns) { return (ns - originNs + 500) / 1000; };
    std::int64_t previous = 0;
    for (std::size_t i = 0; i < items.size(); ++i) {
        Item& item = items[i];
        Event e;
        const std::int64_t at = usecs(item.timeNs);
        e.time = i == 0 ? EventTime{EventTime::Kind::Absolute, 0, 0}
                        : EventTime{EventTime::Kind::Relative, at - previous, 0};
        if (auto* s = std::get_if<SyscallSpec>(&item.action); s && item.endNs)
            s->endUsecs = usecs(*item.endNs) - (i == 0 ? 0 : previous);
        e.action = std::move(item.action);
        script.events.push_back(std::move(e));
        previous = at;
    }

    std::size_t exportedFrames = 0;
    for (const Event& e : script.events)
        exportedFrames += std::holds_alternative<PacketSpec>(e.action) ? 1 : 0;
    auto& h = x.header;
    h.push_back(fmt::format("// Exported by tcplab from {} frames: {} -> {}", exportedFrames,
                            endpointText(c.phantom), endpointText(c.peer)));
    h.push_back(fmt::format("// '<' lines: what the phantom ({}) sent, replayed; '>' lines: what "
                            "the peer ({}) must send.",
                            endpointText(c.phantom), endpointText(c.peer)));
    h.push_back(fmt::format("// Sequence numbers count from each side's ISN (phantom {}, peer "
                            "{}), acks and SACK blocks from the other side's.",
                            n.phantomBase, n.peerBase));
    if (!n.phantomSyn || !n.peerSyn) {
        const std::string who = !n.phantomSyn && !n.peerSyn ? "either side"
                                : !n.phantomSyn             ? "the phantom"
                                                            : "the peer";
        h.push_back(fmt::format("// The capture starts mid-connection (no SYN of {}): the first "
                                "sequence number seen counts as 0.",
                                who));
    }
    for (const std::string& line : about)
        h.push_back("// " + line);
    h.push_back("// Payloads replay as zeros (packetdrill sends and expects zero bytes).");
    for (const std::string& line : notes.lines())
        h.push_back("// " + line);
    return x;
}

// ---- scapy --------------------------------------------------------------------------------

/// packetdrill's flag letters as scapy's.
std::string scapyFlags(std::string_view letters) {
    std::string out;
    for (const char ch : letters) {
        switch (ch) {
        case '.':
            out += 'A';
            break;
        case 'W':
            out += 'C';
            break;
        case 'A':
            out += 'N';
            break;
        default:
            out += ch;
            break;
        }
    }
    return out;
}

std::string scapyOptions(const std::vector<TcpOptionSpec>& options) {
    using K = TcpOptionSpec::Kind;
    std::string out;
    for (const TcpOptionSpec& o : options) {
        std::string item;
        switch (o.kind) {
        case K::Nop:
            item = "(\"NOP\", None)";
            break;
        case K::Eol:
            item = "(\"EOL\", None)";
            break;
        case K::Mss:
            item = fmt::format("(\"MSS\", {})", o.value);
            break;
        case K::WindowScale:
            item = fmt::format("(\"WScale\", {})", o.value);
            break;
        case K::SackOk:
            item = "(\"SAckOK\", b\"\")";
            break;
        case K::Sack: {
            std::string edges;
            for (const auto& [left, right] : o.blocks)
                edges += fmt::format("{}{}, {}", edges.empty() ? "" : ", ", left, right);
            item = fmt::format("(\"SAck\", ({}))", edges);
            break;
        }
        case K::Timestamp:
            item = fmt::format("(\"Timestamp\", ({}, {}))", o.value, o.echo);
            break;
        case K::FastOpen:
            item = fmt::format("(34, bytes.fromhex(\"{}\"))", o.cookie);
            break;
        case K::FastOpenExp:
            item = fmt::format("(254, bytes.fromhex(\"f989{}\"))", o.cookie);
            break;
        case K::Md5:
            item = fmt::format("(19, bytes.fromhex(\"{}\"))", o.cookie);
            break;
        }
        out += (out.empty() ? "" : ", ") + item;
    }
    return "[" + out + "]";
}

/// The fixed part of the program: how segments are built, numbered and checked.
constexpr std::string_view kScapyBody = R"PY(
MOD = 1 << 32
FLAG_BITS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, "U": 0x20, "E": 0x40,
             "C": 0x80, "N": 0x100}


def flag_bits(letters):
    bits = 0
    for letter in letters:
        bits |= FLAG_BITS[letter]
    return bits


def flag_letters(bits):
    return "".join(letter for letter, bit in FLAG_BITS.items() if bits & bit)


class Numbering:
    """The script's numbers on the live connection, as packetdrill maps them (run_packet.c):
    the phantom's go out as captured, the peer's count from its live ISN, learnt from the
    first SYN it sends, and a TS ecr echoes the peer's latest TS val."""

    def __init__(self):
        self.peer_isn = PEER_ISN
        self.learnt = False
        self.ts_recent = 0

    def phantom_seq(self, relative):
        return (PHANTOM_ISN + relative) % MOD

    def peer_seq(self, relative):
        return (self.peer_isn + relative) % MOD

    def learn(self, tcp):
        if int(tcp.flags) & FLAG_BITS["S"] and not self.learnt:
            self.peer_isn = tcp.seq
            self.learnt = True
        for option in tcp.options:
            if option[0] == "Timestamp":
                self.ts_recent = option[1][0]

    def options(self, options):
        out = []
        for name, value in options:
            if name == "SAck":
                value = tuple(self.peer_seq(edge) for edge in value)
            elif name == "Timestamp":
                value = (value[0], self.ts_recent if value[1] else 0)
            out.append((name, value))
        return out


def segment(numbering, flags, seq, ack, length, window, options):
    ip = IPv6(src=PHANTOM, dst=PEER) if IPV6 else IP(src=PHANTOM, dst=PEER)
    tcp = TCP(sport=PHANTOM_PORT, dport=PEER_PORT, flags=flag_bits(flags),
              seq=numbering.phantom_seq(seq),
              ack=numbering.peer_seq(ack) if ack is not None else 0,
              window=window, options=numbering.options(options))
    packet = ip / tcp
    if length:
        packet = packet / Raw(load=bytes(length))  # zeros, as packetdrill sends
    return packet


def same_address(a, b):
    family = socket.AF_INET6 if IPV6 else socket.AF_INET
    try:
        return socket.inet_pton(family, a) == socket.inet_pton(family, b)
    except (OSError, ValueError):
        return False


def from_peer(packet):
    layer = IPv6 if IPV6 else IP
    if not packet.haslayer(layer) or not packet.haslayer(TCP):
        return False
    ip = packet[layer]
    tcp = packet[TCP]
    return (same_address(ip.src, PEER) and same_address(ip.dst, PHANTOM)
            and tcp.sport == PEER_PORT and tcp.dport == PHANTOM_PORT)


def payload_length(packet):
    tcp = packet[TCP]
    if IPV6:
        return packet[IPv6].plen - tcp.dataofs * 4
    ip = packet[IP]
    return ip.len - ip.ihl * 4 - tcp.dataofs * 4


def describe(flags, seq, ack, length, window):
    text = "%s seq %d" % (flag_letters(flags) or "-", seq)
    if ack is not None:
        text += " ack %d" % ack
    text += " len %d" % length
    if window is not None:
        text += " win %d" % window
    return text


def main():
    numbering = Numbering()
    arrivals = queue.Queue()
    sniffer = AsyncSniffer(iface=IFACE, lfilter=from_peer, prn=arrivals.put, store=False)
    sniffer.start()
    time.sleep(0.5)  # the sniffer runs before the first segment goes out
    start = time.monotonic()
    failed = False
    try:
        for line, at, kind, flags, seq, ack, length, window, options in STEPS:
            if kind == "send":
                delay = start + at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                send(segment(numbering, flags, seq, ack, length, window, options), iface=IFACE,
                     verbose=False)
                continue
            if not CHECK_WINDOW:
                window = None
            expected = (flag_bits(flags), seq, ack, length, window)
            try:
                packet = arrivals.get(timeout=max(0.0, start + at - time.monotonic()) + WAIT)
            except queue.Empty:
                print("mismatch line %d: expected %s got nothing within %.1f s"
                      % (line, describe(*expected), WAIT))
                failed = True
                break
            tcp = packet[TCP]
            numbering.learn(tcp)
            bits = int(tcp.flags)
            got = (bits, (tcp.seq - numbering.peer_isn) % MOD,
                   (tcp.ack - PHANTOM_ISN) % MOD if bits & FLAG_BITS["A"] else None,
                   payload_length(packet), tcp.window if window is not None else None)
            if got == expected:
                print("ok line %d" % line)
            else:
                print("mismatch line %d: expected %s got %s"
                      % (line, describe(*expected), describe(*got)))
                failed = True
                break
    finally:
        sniffer.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
)PY";

std::string pythonString(std::string_view text) {
    std::string out = "\"";
    for (const char ch : text) {
        if (ch == '"' || ch == '\\')
            out += '\\';
        out += ch;
    }
    return out + "\"";
}

std::string scapyProgram(const Exported& x) {
    const Connection& c = x.connection;
    std::string out = "#!/usr/bin/env python3\n";
    for (const std::string& line : x.header)
        out += "#" + line.substr(2) + "\n";
    out += "#\n"
           "# Replays the phantom's side with scapy and checks the peer's segments. Run it as "
           "root on a\n"
           "# host that reaches the peer through IFACE and owns PHANTOM (or answers ARP/NDP for "
           "it), and\n"
           "# keep that host's own kernel from resetting a connection it does not know, e.g.\n"
           "#     iptables -A OUTPUT -p tcp --tcp-flags RST RST -s PHANTOM -j DROP\n"
           "# The peer's application makes its calls itself: they are listed as comments.\n"
           "\n"
           "import queue\n"
           "import socket\n"
           "import sys\n"
           "import time\n"
           "\n"
           "from scapy.all import IP, IPv6, TCP, AsyncSniffer, Raw, send\n"
           "\n"
           "IFACE = \"eth0\"  # placeholder: the interface that reaches the peer; set it\n";
    out += fmt::format("PHANTOM = {}\n", pythonString(wire::addressText(c.phantom.address)));
    out += fmt::format("PHANTOM_PORT = {}\n", c.phantom.port);
    out += fmt::format("PEER = {}\n", pythonString(wire::addressText(c.peer.address)));
    out += fmt::format("PEER_PORT = {}\n", c.peer.port);
    out += fmt::format("IPV6 = {}\n", c.ipv6 ? "True" : "False");
    out += fmt::format("PHANTOM_ISN = {}  # as captured: the phantom's numbers go out as they "
                       "were\n",
                       x.numbering.phantomBase);
    out += fmt::format("PEER_ISN = {}  # as captured; the live one is learnt from the peer's "
                       "SYN\n",
                       x.numbering.peerBase);
    out += fmt::format("CHECK_WINDOW = {}\n", x.options.assertWindow ? "True" : "False");
    out += "WAIT = 2.0  # seconds to wait for each of the peer's segments past its time\n\n";
    out += "# (packetdrill line, seconds from the start, \"send\" or \"expect\", flags, seq, ack, "
           "length,\n"
           "#  window, options): numbers as the packetdrill script writes them, each side's own "
           "from its\n"
           "#  ISN, acks and SACK blocks from the other side's.\n"
           "STEPS = [\n";
    const Script& s = x.script;
    unsigned line =
        static_cast<unsigned>(x.header.size() + s.options.size() + (s.initCommand ? 1 : 0));
    std::int64_t at = 0;
    for (const Event& e : s.events) {
        ++line;
        at = e.time.kind == EventTime::Kind::Absolute ? e.time.usecs : at + e.time.usecs;
        const std::string seconds = fmt::format("{}.{:06}", at / 1'000'000, at % 1'000'000);
        if (const auto* p = std::get_if<PacketSpec>(&e.action)) {
            const bool send = p->direction == Direction::Inbound;
            out += fmt::format("    ({}, {}, \"{}\", \"{}\", {}, {}, {}, {}, {}),\n", line, seconds,
                               send ? "send" : "expect", scapyFlags(p->flags), p->seq,
                               p->ack ? fmt::format("{}", *p->ack) : "None", p->length,
                               p->window ? fmt::format("{}", *p->window) : "None",
                               send && p->options ? scapyOptions(*p->options) : "None");
        } else {
            out += fmt::format("    # line {}, the peer's side at {} s: {}\n", line, seconds,
                               formatEvent(Event{{}, EventTime{}, e.action}).substr(2));
        }
    }
    out += "]\n";
    out += kScapyBody;
    return out;
}

} // namespace

tl::expected<Script, std::string> timelineToScript(const timeline::Timeline& t,
                                                   const ExportOptions& o) {
    auto x = build(t, o);
    if (!x)
        return tl::make_unexpected(x.error());
    return std::move(x->script);
}

tl::expected<std::string, std::string> exportPacketdrill(const timeline::Timeline& t,
                                                         const ExportOptions& o) {
    auto x = build(t, o);
    if (!x)
        return tl::make_unexpected(x.error());
    std::string out;
    for (const std::string& line : x->header)
        out += line + "\n";
    return out + formatScript(x->script);
}

tl::expected<std::string, std::string> exportScapy(const timeline::Timeline& t,
                                                   const ExportOptions& o) {
    auto x = build(t, o);
    if (!x)
        return tl::make_unexpected(x.error());
    return scapyProgram(*x);
}

} // namespace tcplab::drill
