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

/// The timeline as JSON: {"format":"tcplab-timeline","version":1,"frames":[{"index",
/// "time_ns","direction","length","hex","frame":frameToJson(...)}]}.
nlohmann::json timelineToJson(const Timeline& timeline);
/// timelineToJson written to a temporary file and renamed, like exportPcap.
tl::expected<void, std::string> exportJson(const Timeline& timeline, const std::string& path);

/// Writes `text` to `path` through a temporary file in the same directory and a
/// rename, so readers see the old file or the whole new one, never a part.
tl::expected<void, std::string> writeFileAtomically(const std::string& path, std::string_view text);

} // namespace tcplab::timeline
