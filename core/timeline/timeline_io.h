#pragma once

#include "timeline/timeline.h"

#include <string>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

namespace tcplab::timeline {

/// Writes entries [0, timeline.size()) as a pcap (nanosecond timestamps) through
/// libpcap. Written to a temporary file and renamed: a failure leaves no file and
/// says why ("cannot write /x/y.pcap: No space left on device").
tl::expected<void, std::string> exportPcap(const Timeline& timeline, const std::string& path);

/// The timeline as JSON: {"format":"tcplab-timeline","version":2,"frames":[{"index",
/// "time_ns","direction","length" (on the wire),"captured" (only when the snap length cut
/// it),"hex","frame":frameToJson(...)}],"peer":[peerRecordToJson(...)]}.
nlohmann::json timelineToJson(const Timeline& timeline);
/// One peer record: {"index","time_ns","kind":"syscall"|"tcp_info"|"agent", ...}. A
/// syscall has "call", "fd", "arguments" (the call grammar), "c" (as C), "outcome",
/// "result", "errno" (its name, or null), "duration_ns", "answer"; a tcp_info sample has
/// "socket" {"inode","fd","local","remote","receive_queue","send_queue","congestion"},
/// "state" and "tcp_info" with struct tcp_info's field names less "tcpi_" ("snd_cwnd").
nlohmann::json peerRecordToJson(std::size_t index, const PeerRecord& record);
/// timelineToJson written to a temporary file and renamed, like exportPcap.
tl::expected<void, std::string> exportJson(const Timeline& timeline, const std::string& path);

/// Writes `text` to `path` through a temporary file in the same directory and a
/// rename, so readers see the old file or the whole new one, never a part.
tl::expected<void, std::string> writeFileAtomically(const std::string& path, std::string_view text);

} // namespace tcplab::timeline
