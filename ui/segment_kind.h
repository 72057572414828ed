#pragma once

#include "tcp/tracker.h"

#include <QColor>
#include <QString>

#include <cstdint>

namespace tcplab::ui {

/// What the ladder colours a segment by; the first that applies wins, in this order.
enum class SegmentKind : std::uint8_t {
    Rst,            ///< RST set
    Retransmission, ///< the tracker says retransmission (any kind)
    Handshake,      ///< SYN set (SYN, SYN-ACK)
    Fin,            ///< FIN set
    Data,           ///< carries payload
    Ack,            ///< anything else: a pure ACK
    Other,          ///< not TCP (ARP, ND, ...)
};

/// The kind of a TCP segment from its flags, data length and the tracker's classes.
SegmentKind segmentKindOf(std::uint8_t flags, std::uint32_t payloadLength,
                          tcp::SegmentClasses classes) noexcept;
/// "handshake", "data", ... (for legends and tests).
QString segmentKindName(SegmentKind kind);
/// A colour readable on light and dark backgrounds.
QColor segmentKindColor(SegmentKind kind);

/// "SYN, ACK", "PSH, ACK", "none": the flags as words, in the order a person reads them.
QString flagWords(std::uint8_t flags);

} // namespace tcplab::ui
