#pragma once

// Import of capture files into a Timeline, and the analysis of a timeline: every frame
// run through a tcp::ConnectionTable and the tutor exactly as the engine does live, one
// row per frame, exported as CSV or JSON (tcplab-cli analyze, the GUI's export).

#include "tcp/tracker.h"
#include "timeline/pcap_file.h"
#include "timeline/timeline.h"
#include "wire/address.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

namespace tcplab::timeline {

/// Which frames of an imported capture are "sent" (by the phantom, our side).
///
/// With any local address or MAC given: a frame is Sent when its source MAC is one of
/// `localMacs`, or its source IP (IPv4, IPv6, or the ARP sender address) is one of
/// `localAddresses`; every other frame is Received.
/// With neither: the sender of the first SYN without ACK is taken to be us (a capture
/// is usually taken on the host that opened the connection): frames from its source
/// MAC are Sent, the rest Received. Without any such SYN every frame is Received.
struct ImportOptions {
    std::vector<wire::IpAddress> localAddresses;
    std::vector<wire::MacAddress> localMacs;
    /// Auto: our own reader for plain pcap/pcapng, libpcap for the rest (PcapBackend).
    PcapBackend backend = PcapBackend::Auto;
};

/// What importPcap read.
struct ImportSummary {
    std::size_t frames = 0;  ///< frames appended to the timeline
    std::size_t skipped = 0; ///< frames refused because the timeline was full
    int linkType = 1;        ///< DLT_ of the file
    bool cancelled = false;  ///< `cancel` was set: the frames read so far are kept
    /// Non-empty when reading stopped early (a truncated file): the frames before the
    /// break are kept; this says why, with the frame number after which it stopped.
    std::string error;
};

/// Called every few thousand frames and at the end with the number of frames read.
using ImportProgress = std::function<void(std::size_t framesRead)>;

/// Reads a pcap or pcapng file (through PcapReader: our own parser for the common cases,
/// libpcap for the rest, options.backend) into `timeline`, appending after
/// what is there. Fails (nothing appended) when the file cannot be opened or its link
/// type is not Ethernet (DLT_EN10MB, 1). A file that breaks off midway is not a failure:
/// the frames read are kept and ImportSummary::error says why it stopped.
tl::expected<ImportSummary, std::string> importPcap(const std::string& path, Timeline& timeline,
                                                    const ImportOptions& options = {},
                                                    const ImportProgress& progress = {},
                                                    const std::atomic<bool>* cancel = nullptr);

/// One frame of the timeline as the analysis sees it.
struct AnalysisRow {
    std::size_t frame = 0; ///< 1-based, as tshark numbers frames
    std::int64_t timeNs = 0;
    Direction direction = Direction::Received;
    /// "TCP" for a TCP segment; otherwise what the frame is: "ARP", "ICMPv6", "IPv4
    /// proto 17", "IPv6 fragment", "Ethernet type 0x88cc", "malformed: <reason>".
    std::string kind;
    /// TCP segments only (kind == "TCP"): the tracker's answer and the segment's fields.
    std::optional<tcp::SegmentResult> result;
    std::uint32_t seq = 0; ///< absolute SEG.SEQ
    std::uint32_t ack = 0; ///< absolute SEG.ACK (0 without the ACK flag)
    /// Classes in the vocabulary of `tcplab-cli analyze` (analysisClassNames()).
    std::vector<std::string> classes;
    std::string src; ///< "198.18.0.2:42570"
    std::string dst;
    std::string note; ///< the tutor's annotation
};

/// Runs every entry of `timeline` through one ConnectionTable (with `localAddresses`
/// marking our end) and the tutor; one row per entry, in timeline order.
std::vector<AnalysisRow> analyze(const Timeline& timeline,
                                 const std::vector<wire::IpAddress>& localAddresses = {});

/// The tracker's classes of `result` in the analyze vocabulary: new_data, retransmission,
/// fast_retransmission, spurious_retransmission, out_of_order, dup_ack, window_update,
/// window_full, zero_window, zero_window_probe, keep_alive, out_of_window, lost_segment,
/// and ack_unseen when `ackUnseen`. The tracker's other classes (syn, syn_ack, gap_fill,
/// unacceptable_ack, rst_*, syn_in_window) are not in that vocabulary and are left out;
/// analysisRowToJson lists them all under "tracker_classes".
std::vector<std::string> analysisClassNames(const tcp::SegmentResult& result, bool ackUnseen);

/// One line for a person: "   4 sent     PA   seq 1 ack 1 len 18 win 64256
/// new_data  ESTABLISHED/ESTABLISHED  <note>".
std::string formatAnalysisLine(const AnalysisRow& row);

/// The analyze JSON of a TCP row: frame, time_ns, dir, src, dst, flags, seq, ack, rel_seq,
/// rel_ack, len, window, classes, tracker_classes, states_before and states ({"src":
/// sender's state, "dst": receiver's}, before and after the segment), connection, kind,
/// note. Non-TCP rows have frame, time_ns, dir and kind only. With `frame` set, "decoded" holds
/// frameToJson of it.
nlohmann::json analysisRowToJson(const AnalysisRow& row, const wire::Frame* frame = nullptr);

/// CSV, one row per TCP segment (RFC 4180 quoting, CRLF line ends), header first:
/// frame,time,direction,src,dst,flags,seq,ack,rel_seq,rel_ack,len,window,classes,
/// src_state_before,dst_state_before,src_state_after,dst_state_after,annotation.
/// time is seconds since the epoch with 9 decimals; classes are space-separated (the
/// analyze vocabulary, then the tracker's other classes); src/dst states are those of the
/// segment's sender and receiver.
std::string analysisToCsv(const std::vector<AnalysisRow>& rows);
/// A field quoted as RFC 4180 wants it: in double quotes (inner ones doubled) when it
/// holds a comma, a quote, CR or LF; as it is otherwise.
std::string csvField(std::string_view text);

/// analysisToCsv written through writeFileAtomically.
tl::expected<void, std::string> exportAnalysisCsv(const std::vector<AnalysisRow>& rows,
                                                  const std::string& path);
/// A JSON array of analysisRowToJson (with "decoded") for every TCP row, one per line,
/// written through writeFileAtomically. `timeline` must be the one analysed.
tl::expected<void, std::string> exportAnalysisJson(const Timeline& timeline,
                                                   const std::vector<AnalysisRow>& rows,
                                                   const std::string& path);

} // namespace tcplab::timeline
