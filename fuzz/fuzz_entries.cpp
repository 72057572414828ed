#include "fuzz/fuzz_entries.h"

#include "drill/script.h"
#include "engine/scenario.h"
#include "link/helper_request.h"
#include "peer/agent_protocol.h"
#include "peer/call_text.h"
#include "tcp/tracker.h"
#include "tcp/tutor.h"
#include "timeline/analysis.h"
#include "timeline/pcap_file.h"
#include "timeline/timeline.h"
#include "wire/frame.h"
#include "wire/frame_json.h"
#include "wire/frame_summary.h"
#include "wire/segment_spec.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <vector>

#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

namespace tcplab::fuzz {

namespace {

std::string hexOf(const std::uint8_t* data, std::size_t size) {
    std::string out;
    for (std::size_t i = 0; i < size; ++i)
        out += fmt::format("{:02x}", data[i]);
    return out;
}

/// A file holding `data` whose path libpcap can open; removed (or closed) on destruction.
class ScratchFile {
public:
    ScratchFile(const std::uint8_t* data, std::size_t size) {
        m_fd = ::memfd_create("tcplab-fuzz", MFD_CLOEXEC);
        if (m_fd >= 0) {
            m_path = fmt::format("/proc/self/fd/{}", m_fd);
        } else {
            char name[] = "/tmp/tcplab-fuzz-XXXXXX";
            m_fd = ::mkstemp(name);
            if (m_fd < 0)
                return;
            m_path = name;
            m_unlink = true;
        }
        std::size_t done = 0;
        while (done < size) {
            const ssize_t n = ::write(m_fd, data + done, size - done);
            if (n <= 0) {
                m_path.clear();
                return;
            }
            done += static_cast<std::size_t>(n);
        }
    }
    ~ScratchFile() {
        if (m_unlink)
            ::unlink(m_path.c_str());
        if (m_fd >= 0)
            ::close(m_fd);
    }
    ScratchFile(const ScratchFile&) = delete;
    ScratchFile& operator=(const ScratchFile&) = delete;
    const std::string& path() const noexcept { return m_path; }

private:
    int m_fd = -1;
    bool m_unlink = false;
    std::string m_path;
};

bool sameResult(const tcp::SegmentResult& a, const tcp::SegmentResult& b) {
    return a.sender == b.sender && a.flags == b.flags && a.dupAckCount == b.dupAckCount &&
           a.before == b.before && a.after == b.after && a.classes == b.classes &&
           a.relSeq == b.relSeq && a.relAck == b.relAck && a.segLen == b.segLen &&
           a.payloadLength == b.payloadLength && a.window == b.window;
}

} // namespace

std::string frameDecode(const std::uint8_t* data, std::size_t size) {
    const wire::Bytes bytes(data, size);
    const wire::Frame frame = wire::decodeFrame(bytes);
    // What `tcplab-cli decode` and the GUI show of it: JSON (dumped, as the CLI prints it:
    // a string that is not UTF-8 would throw here) and the one-line summaries.
    (void)wire::frameToJson(frame).dump();
    (void)wire::describeOtherFrame(frame);
    (void)wire::shortOtherFrame(frame);
    (void)tcp::segmentOf(frame);

    // The lab's promise (DESIGN.md): a broken frame round-trips byte for byte.
    const auto spec = wire::SegmentSpec::fromFrame(frame);
    if (!spec)
        return {};
    const auto encoded = spec->encode();
    if (!encoded)
        return fmt::format("fromFrame accepted the frame but encode failed: {}",
                           wire::describe(encoded.error()));
    if (encoded->size() != size || !std::equal(encoded->begin(), encoded->end(), data))
        return fmt::format("fromFrame/encode round trip differs:\n in  {}\n out {}",
                           hexOf(data, size), hexOf(encoded->data(), encoded->size()));
    if (spec->encodedLength() != size)
        return fmt::format("encodedLength() {} but encode() wrote {}", spec->encodedLength(), size);
    return {};
}

std::string pcapImport(const std::uint8_t* data, std::size_t size) {
    const ScratchFile file(data, size);
    if (file.path().empty())
        return {}; // no scratch file: not the input's fault
    timeline::Timeline timeline(4 * timeline::Timeline::kChunkSize);
    std::size_t lastProgress = 0;
    bool progressWentBack = false;
    const std::atomic<bool> cancel{false};
    const auto summary = timeline::importPcap(
        file.path(), timeline, {},
        [&](std::size_t framesRead) {
            progressWentBack = progressWentBack || framesRead < lastProgress;
            lastProgress = framesRead;
        },
        &cancel);

    // Our own reader (PcapBackend::Auto) promises to read exactly what libpcap reads,
    // error messages included: libpcap is the oracle.
    timeline::Timeline reference(4 * timeline::Timeline::kChunkSize);
    timeline::ImportOptions libpcapOnly;
    libpcapOnly.backend = timeline::PcapBackend::Libpcap;
    const auto expected = timeline::importPcap(file.path(), reference, libpcapOnly);
    if (summary.has_value() != expected.has_value())
        return fmt::format("importPcap {} but with libpcap alone it {}",
                           summary ? "succeeded" : "failed: " + summary.error(),
                           expected ? "succeeds" : "fails: " + expected.error());
    if (!summary) {
        if (timeline.size() != 0)
            return fmt::format("importPcap failed ({}) but appended {} frames", summary.error(),
                               timeline.size());
        return {};
    }
    if (summary->error != expected->error)
        return fmt::format("importPcap stopped with '{}', libpcap alone with '{}'", summary->error,
                           expected->error);
    if (timeline.size() != reference.size())
        return fmt::format("importPcap read {} frames, libpcap alone {}", timeline.size(),
                           reference.size());
    for (std::size_t i = 0; i < timeline.size(); ++i) {
        const auto& got = timeline[i];
        const auto& want = reference[i];
        if (got.timeNs != want.timeNs || got.direction != want.direction ||
            !std::equal(got.bytes.begin(), got.bytes.end(), want.bytes.begin(), want.bytes.end()))
            return fmt::format("frame {} differs from what libpcap alone reads", i + 1);
    }
    if (progressWentBack)
        return "importPcap's progress went backwards";
    if (summary->frames != timeline.size())
        return fmt::format("importPcap says {} frames, the timeline holds {}", summary->frames,
                           timeline.size());
    // What `tcplab-cli analyze` and the GUI's export do with it.
    const auto rows = timeline::analyze(timeline);
    if (rows.size() != timeline.size())
        return fmt::format("analyze gave {} rows for {} frames", rows.size(), timeline.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const wire::Frame frame = timeline[i].decode();
        (void)timeline::analysisRowToJson(rows[i], &frame).dump();
        (void)timeline::formatAnalysisLine(rows[i]);
    }
    (void)timeline::analysisToCsv(rows);
    return {};
}

std::string scenario(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto parsed = engine::parseScenario(text);
    if (!parsed) {
        if (parsed.error().line == 0 || parsed.error().message.empty())
            return fmt::format("an error without a line or a reason: '{}'",
                               engine::describe(parsed.error()));
        return {};
    }
    const std::string formatted = engine::formatScenario(*parsed);
    const auto again = engine::parseScenario(formatted);
    if (!again)
        return fmt::format("formatScenario wrote what parseScenario refuses ({}):\n{}",
                           engine::describe(again.error()), formatted);
    if (!(*again == *parsed))
        return fmt::format("format then parse gives another scenario:\n{}", formatted);
    const std::string reformatted = engine::formatScenario(*again);
    if (reformatted != formatted)
        return fmt::format("formatting is not stable:\n{}\n--- then ---\n{}", formatted,
                           reformatted);
    return {};
}

std::string agentProtocol(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> bytes(data, size);
    if (const auto message = peer::decode(bytes)) {
        const auto again = peer::encode(*message);
        if (!std::equal(again.begin(), again.end(), bytes.begin(), bytes.end()))
            return fmt::format("a decoded message encodes to other bytes: {} -> {}",
                               hexOf(data, size), hexOf(again.data(), again.size()));
        if (const auto* request = std::get_if<peer::Request>(&*message)) {
            (void)peer::describeCall(*request);
            (void)peer::formatCall(*request);
        }
        if (const auto* answer = std::get_if<peer::Answer>(&*message)) {
            peer::Request r;
            r.call = answer->call;
            (void)peer::describeAnswer(r, *answer);
        }
    } else if (message.error().message.empty()) {
        return "a message refused without a reason";
    }
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (text.find('\n') != std::string_view::npos)
        return {};
    const auto call = peer::parseCall(text);
    if (!call)
        return call.error().empty() ? "a call refused without a reason" : std::string();
    if (const auto invalid = peer::validate(*call))
        return fmt::format("parseCall accepted '{}', which validate refuses: {}", text, *invalid);
    const std::string formatted = peer::formatCall(*call);
    const auto again = peer::parseCall(formatted);
    if (!again)
        return fmt::format("formatCall wrote '{}' for '{}', which parseCall refuses: {}", formatted,
                           text, again.error());
    if (!(*again == *call))
        return fmt::format("'{}' formatted as '{}' parses to another call", text, formatted);
    (void)peer::describeCall(*call);
    return {};
}

std::string linkHelperArgs(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> args;
    for (std::size_t start = 0; args.size() <= 8;) {
        const std::size_t end = text.find('\0', start);
        args.emplace_back(text.substr(start, end == std::string_view::npos ? end : end - start));
        if (end == std::string_view::npos)
            break;
        start = end + 1;
    }
    if (size == 0)
        args.clear();
    if (const auto request = link::parseHelperArguments(args)) {
        if (const auto why = link::invalidInterfaceName(request->interfaceName))
            return fmt::format("accepted the interface name {}: {}", hexOf(data, size), *why);
        if (request->interfaceName.size() > 15 ||
            request->interfaceName.find('/') != std::string::npos)
            return fmt::format("accepted an unsafe interface name: {}", hexOf(data, size));
        if (request->mac.isMulticast() || (!request->ipv4 && !request->ipv6))
            return fmt::format("accepted a multicast MAC or no address: {}", hexOf(data, size));
        const auto formatted = link::helperArguments(*request);
        const auto again = link::parseHelperArguments(formatted);
        if (!again)
            return fmt::format("helperArguments wrote what parseHelperArguments refuses: {}",
                               again.error().message);
        if (!(*again == *request) || link::helperArguments(*again) != formatted)
            return fmt::format("arguments {} parse back to another request", hexOf(data, size));
    } else if (request.error().message.empty()) {
        return "arguments refused without a reason";
    }
    // The channel's answers: what parses is written back to something that parses equal.
    if (const auto answer = link::parseHelperAnswer(text)) {
        const std::string written = answer->status == link::HelperStatus::Ok
                                        ? link::okAnswer(answer->ifindex)
                                        : link::errorAnswer(answer->status, answer->sentence);
        const auto again = link::parseHelperAnswer(written);
        if (!again || again->status != answer->status || again->ifindex != answer->ifindex ||
            again->sentence != answer->sentence)
            return fmt::format("the answer {} does not survive writing it again",
                               hexOf(data, size));
    }
    return {};
}

std::string drillScript(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto parsed = drill::parseScript(text);
    if (!parsed) {
        const drill::ScriptError& e = parsed.error();
        if (e.line == 0 || e.column == 0 || e.message.empty())
            return fmt::format("an error without a line, a column or a reason: '{}'",
                               drill::describe(e, "fuzz.pkt"));
        return {};
    }
    const std::string formatted = drill::formatScript(*parsed);
    const auto again = drill::parseScript(formatted);
    if (!again)
        return fmt::format("formatScript wrote what parseScript refuses ({}):\n{}",
                           drill::describe(again.error(), ""), formatted);
    if (!(*again == *parsed))
        return fmt::format("format then parse gives another script:\n{}", formatted);
    const std::string reformatted = drill::formatScript(*again);
    if (reformatted != formatted)
        return fmt::format("formatting is not stable:\n{}\n--- then ---\n{}", formatted,
                           reformatted);
    return {};
}

// The tracker's input: 16 bytes per segment.
//   0      bit 0: direction (0: A -> B, 1: B -> A); bit 1: seq relative to what this
//          direction sent last (+ int8 of byte 2), else absolute (bytes 2-5); bit 2: ack
//          relative to what the other direction sent last (+ int8 of byte 6), else
//          absolute (bytes 6-9); bit 3: MSS; bit 4: WS (byte 14 low nibble); bit 5: SACK
//          permitted; bit 6: timestamps (TSval byte 15, TSecr byte 14); bit 7: one SACK
//          block (relative to the ack, lengths from bytes 14 and 15)
//   1      flags
//   2..5   seq     6..9  ack     10..11  window     12..13  payload length
//   14, 15 option values
std::string tracker(const std::uint8_t* data, std::size_t size) {
    constexpr std::size_t kRecord = 16;
    const tcp::Endpoint a =
        tcp::Endpoint::v4(wire::Ipv4Address::fromUint(0xc6120002u /* 198.18.0.2 */), 42570);
    const tcp::Endpoint b =
        tcp::Endpoint::v4(wire::Ipv4Address::fromUint(0xc6120001u /* 198.18.0.1 */), 50001);
    tcp::ConnectionTable table;
    table.addLocalAddress(a.ip());
    std::array<std::uint32_t, 2> nextSeq{};
    std::int64_t time = 0;

    for (std::size_t at = 0; at + kRecord <= size; at += kRecord) {
        const std::uint8_t* r = data + at;
        const unsigned dir = r[0] & 1u;
        const tcp::Endpoint& src = dir == 0 ? a : b;
        const tcp::Endpoint& dst = dir == 0 ? b : a;

        tcp::Segment s;
        s.flags = r[1];
        const std::uint32_t seq =
            (r[0] & 2u) != 0
                ? nextSeq[dir] + static_cast<std::uint32_t>(static_cast<std::int8_t>(r[2]))
                : wire::load32(r + 2);
        const std::uint32_t ack =
            (r[0] & 4u) != 0
                ? nextSeq[1 - dir] + static_cast<std::uint32_t>(static_cast<std::int8_t>(r[6]))
                : wire::load32(r + 6);
        s.seq = wire::SeqNum(seq);
        s.ack = wire::SeqNum(ack);
        s.window = wire::load16(r + 10);
        s.payloadLength = wire::load16(r + 12);
        if ((r[0] & 8u) != 0)
            s.mss = static_cast<std::uint16_t>(r[14] * 16 + r[15]);
        if ((r[0] & 16u) != 0)
            s.windowScale = static_cast<std::uint8_t>(r[14] & 0x0f);
        s.sackPermitted = (r[0] & 32u) != 0;
        if ((r[0] & 64u) != 0)
            s.timestamps = std::pair<std::uint32_t, std::uint32_t>{r[15], r[14]};
        if ((r[0] & 128u) != 0) {
            const wire::SeqNum left = s.ack + r[14];
            s.sackBlocks[0] = wire::SackBlock{left, left + (r[15] + 1u)};
            s.sackCount = 1;
        }
        time += 1000;
        s.timeNs = time;
        nextSeq[dir] = seq + s.length();

        // preview() must say what onSegment() then does, on the same connection.
        const auto index = table.find(src, dst);
        std::optional<tcp::Connection> before;
        std::optional<tcp::SegmentResult> predicted;
        if (index) {
            before = table[*index];
            if (const auto sender = before->endOf(src))
                predicted = before->preview(*sender, s);
        }
        const tcp::SegmentResult result = table.onSegment(src, dst, s);
        if (result.connection >= table.size())
            return fmt::format("segment {}: result names connection {} of {}", at / kRecord,
                               result.connection, table.size());
        const tcp::Connection& after = table[result.connection];
        if (index && *index == result.connection && predicted && !sameResult(*predicted, result))
            return fmt::format("segment {}: preview() differs from onSegment()", at / kRecord);

        // The tutor, as the GUI runs it on every segment.
        (void)tcp::annotate(
            before && *index == result.connection ? *before : tcp::Connection(src, dst), s, result);
        tcp::Segment next = s;
        next.flags = r[1] ^ 0x10u; // the same segment with ACK toggled, from the other end
        (void)tcp::checkBeforeSend(after, dst, next);
        (void)tcp::checkBeforeSend(after, src, s);
        for (const tcp::Endpoint* local : {&a, &b}) {
            (void)tcp::suggestNext(after, *local);
            (void)tcp::suggestReset(after, *local);
            (void)tcp::autoAck(after, *local, result);
        }
    }
    return {};
}

Entry entryFor(std::string_view target) noexcept {
    if (target == "frame_decode")
        return &frameDecode;
    if (target == "pcap_import")
        return &pcapImport;
    if (target == "scenario")
        return &scenario;
    if (target == "tracker")
        return &tracker;
    if (target == "agent_protocol")
        return &agentProtocol;
    if (target == "link_helper_args")
        return &linkHelperArgs;
    if (target == "drill_script")
        return &drillScript;
    return nullptr;
}

} // namespace tcplab::fuzz
