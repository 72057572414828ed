#pragma once

#include "wire/frame.h"

#include <nlohmann/json.hpp>

namespace tcplab::wire {

/// The decoder's JSON for one frame, field names as scapy's:
/// {"layers":[{"layer":"ethernet","src":...},...],"payload_hex":"...","malformed":null,
///  "diagnostics":[{"layer":"tcp","field":"chksum","message":"..."}]}.
/// Field values are read from the bytes through each protocol's descriptor table.
nlohmann::json frameToJson(const Frame& frame);

/// The JSON of one layer's fields (no "layer" key), read through its table.
nlohmann::json layerFieldsToJson(const ProtocolDescriptor& protocol, Bytes layerBytes);

/// TCP options as scapy lists them: [["MSS",1460],["NOP",null],["SAck",[[l,r]]],[254,"0a0b"]].
nlohmann::json tcpOptionsToJson(const TcpOptionList& options);

} // namespace tcplab::wire
