#pragma once

#include "drill/export_script.h"
#include "timeline/timeline.h"

#include <string>

#include <tl/expected.hpp>

namespace tcplab::cli {

/// Writes a connection of `timeline` as a packetdrill script, or as a scapy program when
/// `path` ends in .py; atomically (nothing is left of a failed write).
tl::expected<void, std::string> writeScriptExport(const timeline::Timeline& timeline,
                                                  const std::string& path,
                                                  const drill::ExportOptions& options = {});

} // namespace tcplab::cli
