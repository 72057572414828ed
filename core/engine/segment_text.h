#pragma once
// Words for segments in the messages of the scenario runner and the click-through
// demo (engine::Walkthrough), so both describe a segment the same way.

#include "wire/tcp.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace tcplab::engine {

/// "SYN,ACK" (or "SYN|ACK" with '|'): flag words in bit order; "no flags" for none.
std::string flagWords(std::uint8_t flags, char separator = ',');

/// "RST,ACK seq=0 ack=101", "PSH,ACK seq=5001 ack=119 len=100".
std::string describeSegment(const wire::TcpHeader& tcp, std::size_t payloadLength,
                            char separator = ',');

/// "1 byte", "161 bytes".
std::string bytesText(std::size_t n);

} // namespace tcplab::engine
