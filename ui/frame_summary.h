#pragma once

#include "wire/frame.h"

#include <QString>

namespace tcplab::ui {

/// One line for a frame that is not a TCP segment, in words: "ARP probe: who-has
/// 198.18.0.2?", "NA 2001:db8::1 is-at 02:..", "ICMPv6 type 143", "malformed: ...".
QString otherFrameSummary(const wire::Frame& frame);
/// Short words for the ladder's grey marks: "ARP who-has", "ARP reply", "NS", "NA".
QString otherFrameShort(const wire::Frame& frame);

} // namespace tcplab::ui
