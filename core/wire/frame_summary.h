#pragma once

#include "wire/frame.h"

#include <string>

namespace tcplab::wire {

/// One line for a frame that is not a TCP segment, in words: "ARP probe: who-has
/// 198.18.0.2?", "NA 2001:db8::1 is-at 02:..", "ICMPv6 type 143", "malformed: ...".
std::string describeOtherFrame(const Frame& frame);
/// Short words for a ladder's grey marks: "ARP who-has 198.18.0.1", "ARP 198.18.0.1
/// is-at", "NS 2001:db8::1", "NA 2001:db8::1", "ICMPv6 133".
std::string shortOtherFrame(const Frame& frame);

} // namespace tcplab::wire
