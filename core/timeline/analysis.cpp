#include "timeline/analysis.h"

#include "tcp/tutor.h"
#include "timeline/pcap_file.h"
#include "timeline/timeline_io.h"
#include "wire/frame_json.h"
#include "wire/tcp.h"

#include <pcap/pcap.h>

#include <algorithm>
#include <utility>

#include <fmt/format.h>

namespace tcplab::timeline {

namespace {

constexpr int kLinkTypeEthernet = 1; // DLT_EN10MB
constexpr std::size_t kProgressEvery = 4096;

/// The IP source of a frame (IPv4, IPv6 or the ARP sender), if it has one.
std::optional<wire::IpAddress> sourceAddress(const wire::Frame& f) {
    if (const auto* v4 = f.ipv4())
        return wire::IpAddress{v4->src};
    if (const auto* v6 = f.ipv6())
        return wire::IpAddress{v6->src};
    if (const auto* arp = f.arp())
        return wire::IpAddress{arp->senderIp};
    return std::nullopt;
}

class DirectionRule {
public:
    explicit DirectionRule(const ImportOptions& o)
        : m_options(o) {}

    /// True when the rule needs the first SYN before it can say anything.
    bool automatic() const noexcept {
        return m_options.localAddresses.empty() && m_options.localMacs.empty();
    }

    /// Sent or Received for `f`; nullopt while the automatic rule has not seen a SYN.
    std::optional<Direction> of(const wire::Frame& f) {
        if (!automatic()) {
            if (std::find(m_options.localMacs.begin(), m_options.localMacs.end(), f.ethernet.src) !=
                m_options.localMacs.end())
                return Direction::Sent;
            const auto src = sourceAddress(f);
            if (src && std::find(m_options.localAddresses.begin(), m_options.localAddresses.end(),
                                 *src) != m_options.localAddresses.end())
                return Direction::Sent;
            return Direction::Received;
        }
        if (!m_us) {
            const auto* tcp = f.tcp();
            if (!tcp || !tcp->has(wire::tcp_flags::kSyn) || tcp->has(wire::tcp_flags::kAck))
                return std::nullopt;
            m_us = f.ethernet.src;
        }
        return f.ethernet.src == *m_us ? Direction::Sent : Direction::Received;
    }

    /// Our MAC once the automatic rule found the first SYN.
    const std::optional<wire::MacAddress>& us() const noexcept { return m_us; }

private:
    const ImportOptions& m_options;
    std::optional<wire::MacAddress> m_us;
};

std::string linkTypeName(int linkType) {
    const char* name = pcap_datalink_val_to_name(linkType);
    return name ? fmt::format("{} ({})", linkType, name) : std::to_string(linkType);
}

/// What a frame without a TCP segment is, in a word or two.
std::string kindOf(const wire::Frame& f) {
    if (f.arp())
        return "ARP";
    if (f.icmpv6())
        return "ICMPv6";
    if (f.malformed)
        return "malformed: " + f.malformed->message();
    if (f.ipv4() || f.ipv6()) {
        const char* family = f.ipv4() ? "IPv4" : "IPv6";
        if (f.tcp())
            return fmt::format("{} fragment", family); // TCP header present, segment not usable
        if (f.transportProtocol)
            return fmt::format("{} proto {}", family, *f.transportProtocol);
        return fmt::format("{} fragment", family);
    }
    if (f.ethernet.etherType)
        return fmt::format("Ethernet type 0x{:04x}", *f.ethernet.etherType);
    return "Ethernet";
}

/// The tutor's words for one segment. THE single call site of tcp::annotate.
std::string tutorNote(const tcp::Connection& before, const tcp::Segment& segment,
                      const tcp::SegmentResult& result) {
    return tcp::annotate(before, segment, result);
}

std::string timeText(std::int64_t ns) {
    const bool negative = ns < 0;
    const std::uint64_t magnitude = negative ? std::uint64_t(0) - static_cast<std::uint64_t>(ns)
                                             : static_cast<std::uint64_t>(ns);
    return fmt::format("{}{}.{:09}", negative ? "-" : "", magnitude / 1'000'000'000u,
                       magnitude % 1'000'000'000u);
}

std::string dirText(Direction d) {
    return std::string(directionName(d));
}

std::string stateOf(const tcp::SegmentResult& r, bool after, bool ofSender) {
    const auto& states = after ? r.after : r.before;
    return std::string(tcp::stateName(states[ofSender ? r.sender : r.receiver()]));
}

std::string joined(const std::vector<std::string>& names, std::string_view separator) {
    std::string out;
    for (const auto& n : names) {
        if (!out.empty())
            out += separator;
        out += n;
    }
    return out;
}

/// The analyze vocabulary followed by the tracker's classes it has no word for.
std::vector<std::string> allClassNames(const AnalysisRow& row) {
    std::vector<std::string> names = row.classes;
    for (const auto c : row.result->classes.list()) {
        std::string name(tcp::className(c));
        if (std::find(names.begin(), names.end(), name) == names.end())
            names.push_back(std::move(name));
    }
    return names;
}

} // namespace

tl::expected<ImportSummary, std::string> importPcap(const std::string& path, Timeline& timeline,
                                                    const ImportOptions& options,
                                                    const ImportProgress& progress,
                                                    const std::atomic<bool>* cancel) {
    auto reader = PcapReader::open(path, options.backend);
    if (!reader)
        return tl::make_unexpected(reader.error());
    ImportSummary summary;
    summary.linkType = reader->linkType();
    if (summary.linkType != kLinkTypeEthernet)
        return tl::make_unexpected(fmt::format(
            "cannot import {}: its link type is {}; only Ethernet (1, EN10MB) captures can be "
            "imported (capture on an Ethernet interface, not \"any\" or a tunnel)",
            path, linkTypeName(summary.linkType)));

    DirectionRule rule(options);
    // Frames read before the automatic rule has seen the first SYN wait here.
    struct Pending {
        std::int64_t timeNs;
        std::vector<std::uint8_t> bytes;
        std::uint32_t wireLength;
    };
    std::vector<Pending> pending;
    const auto append = [&](std::int64_t timeNs, Direction d, wire::Bytes bytes,
                            std::uint32_t wireLength) {
        if (timeline.append(timeNs, d, bytes, wireLength))
            ++summary.frames;
        else
            ++summary.skipped;
    };
    const auto flushPending = [&](const std::optional<wire::MacAddress>& us) {
        for (auto& p : pending) {
            const auto frame = wire::decodeFrame(p.bytes);
            const Direction d =
                us && frame.ethernet.src == *us ? Direction::Sent : Direction::Received;
            append(p.timeNs, d, p.bytes, p.wireLength);
        }
        pending.clear();
    };

    PcapRecord record;
    std::size_t read = 0;
    while (reader->next(record)) {
        ++read;
        if (rule.automatic() && rule.us() && record.data.size() >= 12) {
            // Our MAC is known: the source MAC alone decides, with no decode (and no
            // checksum verification) per frame. The analysis decodes once, later.
            const auto src = wire::MacAddress::fromBytes(record.data.data() + 6);
            append(record.timestampNs, src == *rule.us() ? Direction::Sent : Direction::Received,
                   record.data, record.originalLength);
        } else if (const auto d = rule.of(wire::decodeFrame(record.data))) {
            if (!pending.empty())
                flushPending(rule.us());
            append(record.timestampNs, *d, record.data, record.originalLength);
        } else {
            pending.push_back({record.timestampNs,
                               std::vector<std::uint8_t>(record.data.begin(), record.data.end()),
                               record.originalLength});
        }
        if (progress && read % kProgressEvery == 0)
            progress(read);
        if (cancel && cancel->load(std::memory_order_relaxed)) {
            summary.cancelled = true;
            break;
        }
    }
    flushPending(std::nullopt); // no SYN at all: everything is Received
    if (!reader->error().empty())
        summary.error =
            fmt::format("{}: reading stopped after frame {}: {}", path, read, reader->error());
    if (progress)
        progress(read);
    return summary;
}

std::vector<std::string> analysisClassNames(const tcp::SegmentResult& result, bool ackUnseen) {
    using C = tcp::SegmentClass;
    static constexpr C kShared[] = {
        C::NewData,     C::Retransmission,  C::FastRetransmission, C::SpuriousRetransmission,
        C::OutOfOrder,  C::DuplicateAck,    C::WindowUpdate,       C::WindowFull,
        C::ZeroWindow,  C::ZeroWindowProbe, C::KeepAlive,          C::OutOfWindow,
        C::LostSegment,
    };
    std::vector<std::string> names;
    for (const C c : kShared)
        if (result.classes.has(c))
            names.emplace_back(tcp::className(c));
    if (ackUnseen)
        names.emplace_back("ack_unseen");
    return names;
}

std::vector<AnalysisRow> analyze(const Timeline& timeline,
                                 const std::vector<wire::IpAddress>& localAddresses) {
    tcp::ConnectionTable table;
    for (const auto& a : localAddresses)
        table.addLocalAddress(a);
    const std::size_t count = timeline.size();
    std::vector<AnalysisRow> rows;
    rows.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        const Entry& entry = timeline[i];
        AnalysisRow row;
        row.frame = i + 1;
        row.timeNs = entry.timeNs;
        row.direction = entry.direction;
        const wire::Frame frame = entry.decode();
        const auto fs = tcp::segmentOf(frame, entry.timeNs);
        if (!fs) {
            row.kind = kindOf(frame);
            rows.push_back(std::move(row));
            continue;
        }
        // The connection as it was before the segment, for the tutor (a value: copied).
        const auto existing = table.find(fs->src, fs->dst);
        std::optional<tcp::Connection> before;
        if (existing)
            before = table[*existing];
        const tcp::SegmentResult result = table.onSegment(fs->src, fs->dst, fs->segment);
        if (!existing || result.connection != *existing)
            before.emplace(fs->src, fs->dst);

        // Wireshark's "ACKed segment that wasn't captured": the ACK covers sequence space
        // its receiver was never seen to send (beyond its observed SND.NXT).
        const tcp::EndState& receiverBefore = before->end(result.receiver());
        const bool ackUnseen = fs->segment.has(wire::tcp_flags::kAck) &&
                               !fs->segment.has(wire::tcp_flags::kRst) && receiverBefore.issKnown &&
                               receiverBefore.ackLimit() < fs->segment.ack;

        row.kind = "TCP";
        row.result = result;
        row.seq = fs->segment.seq.value();
        row.ack = fs->segment.ack.value();
        row.classes = analysisClassNames(result, ackUnseen);
        row.src = fs->src.toString();
        row.dst = fs->dst.toString();
        row.note = tutorNote(*before, fs->segment, result);
        rows.push_back(std::move(row));
    }
    return rows;
}

std::string formatAnalysisLine(const AnalysisRow& row) {
    if (!row.result)
        return fmt::format("{:>6} {:<8} {}", row.frame, directionName(row.direction), row.kind);
    const tcp::SegmentResult& r = *row.result;
    const auto classes = allClassNames(row);
    std::string line =
        fmt::format("{:>6} {:<8} {:<4} seq {} ack {} len {} win {} [{}] {} -> {}: {}/{}", row.frame,
                    directionName(row.direction), wire::tcpFlagsToString(r.flags), r.relSeq,
                    r.relAck, r.payloadLength, r.window, joined(classes, ","), row.src, row.dst,
                    stateOf(r, true, true), stateOf(r, true, false));
    if (!row.note.empty())
        line += "  " + row.note;
    return line;
}

nlohmann::json analysisRowToJson(const AnalysisRow& row, const wire::Frame* frame) {
    nlohmann::json j = {{"frame", row.frame},
                        {"time_ns", row.timeNs},
                        {"dir", dirText(row.direction)},
                        {"kind", row.kind}};
    if (!row.result)
        return j;
    const tcp::SegmentResult& r = *row.result;
    std::vector<std::string> trackerClasses;
    for (const auto c : r.classes.list())
        trackerClasses.emplace_back(tcp::className(c));
    j["src"] = row.src;
    j["dst"] = row.dst;
    j["connection"] = r.connection;
    j["flags"] = wire::tcpFlagsToString(r.flags);
    j["seq"] = row.seq;
    j["ack"] = row.ack;
    j["rel_seq"] = r.relSeq;
    j["rel_ack"] = r.relAck;
    j["len"] = r.payloadLength;
    j["window"] = r.window;
    j["classes"] = row.classes;
    j["tracker_classes"] = trackerClasses;
    j["states_before"] = {{"src", stateOf(r, false, true)}, {"dst", stateOf(r, false, false)}};
    j["states"] = {{"src", stateOf(r, true, true)}, {"dst", stateOf(r, true, false)}};
    j["note"] = row.note;
    if (frame)
        j["decoded"] = wire::frameToJson(*frame);
    return j;
}

std::string csvField(std::string_view text) {
    if (text.find_first_of(",\"\r\n") == std::string_view::npos)
        return std::string(text);
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"')
            out += '"';
        out += c;
    }
    out += '"';
    return out;
}

std::string analysisToCsv(const std::vector<AnalysisRow>& rows) {
    std::string out = "frame,time,direction,src,dst,flags,seq,ack,rel_seq,rel_ack,len,window,"
                      "classes,src_state_before,dst_state_before,src_state_after,"
                      "dst_state_after,annotation\r\n";
    for (const AnalysisRow& row : rows) {
        if (!row.result)
            continue;
        const tcp::SegmentResult& r = *row.result;
        out += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\r\n", row.frame,
                           timeText(row.timeNs), directionName(row.direction), csvField(row.src),
                           csvField(row.dst), wire::tcpFlagsToString(r.flags), row.seq, row.ack,
                           r.relSeq, r.relAck, r.payloadLength, r.window,
                           csvField(joined(allClassNames(row), " ")), stateOf(r, false, true),
                           stateOf(r, false, false), stateOf(r, true, true),
                           stateOf(r, true, false), csvField(row.note));
    }
    return out;
}

tl::expected<void, std::string> exportAnalysisCsv(const std::vector<AnalysisRow>& rows,
                                                  const std::string& path) {
    return writeFileAtomically(path, analysisToCsv(rows));
}

tl::expected<void, std::string> exportAnalysisJson(const Timeline& timeline,
                                                   const std::vector<AnalysisRow>& rows,
                                                   const std::string& path) {
    std::string text = "[";
    bool first = true;
    for (const AnalysisRow& row : rows) {
        if (!row.result)
            continue;
        const wire::Frame* decoded = nullptr;
        wire::Frame frame;
        if (row.frame >= 1 && row.frame <= timeline.size()) {
            frame = timeline[row.frame - 1].decode();
            decoded = &frame;
        }
        text += first ? "\n" : ",\n";
        first = false;
        text += analysisRowToJson(row, decoded)
                    .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    text += first ? "]\n" : "\n]\n";
    return writeFileAtomically(path, text);
}

} // namespace tcplab::timeline
