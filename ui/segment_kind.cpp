#include "ui/segment_kind.h"

#include "wire/tcp.h"

#include <QStringList>

namespace tcplab::ui {

SegmentKind segmentKindOf(std::uint8_t flags, std::uint32_t payloadLength,
                          tcp::SegmentClasses classes) noexcept {
    using namespace wire::tcp_flags;
    using tcp::SegmentClass;
    if (flags & kRst)
        return SegmentKind::Rst;
    if (classes.has(SegmentClass::Retransmission) ||
        classes.has(SegmentClass::FastRetransmission) ||
        classes.has(SegmentClass::SpuriousRetransmission))
        return SegmentKind::Retransmission;
    if (flags & kSyn)
        return SegmentKind::Handshake;
    if (flags & kFin)
        return SegmentKind::Fin;
    if (payloadLength > 0)
        return SegmentKind::Data;
    return SegmentKind::Ack;
}

QString segmentKindName(SegmentKind kind) {
    switch (kind) {
    case SegmentKind::Rst:
        return QStringLiteral("RST");
    case SegmentKind::Retransmission:
        return QStringLiteral("retransmission");
    case SegmentKind::Handshake:
        return QStringLiteral("handshake");
    case SegmentKind::Fin:
        return QStringLiteral("FIN");
    case SegmentKind::Data:
        return QStringLiteral("data");
    case SegmentKind::Ack:
        return QStringLiteral("ACK");
    case SegmentKind::Other:
        return QStringLiteral("other");
    }
    return {};
}

QColor segmentKindColor(SegmentKind kind) {
    // Mid-lightness hues: they keep their contrast on a white and on a near-black plot.
    switch (kind) {
    case SegmentKind::Rst:
        return QColor(0xd6, 0x27, 0x28);
    case SegmentKind::Retransmission:
        return QColor(0xe6, 0x7e, 0x00);
    case SegmentKind::Handshake:
        return QColor(0x1f, 0x77, 0xd4);
    case SegmentKind::Fin:
        return QColor(0x94, 0x4f, 0xc8);
    case SegmentKind::Data:
        return QColor(0x1a, 0x9a, 0x4a);
    case SegmentKind::Ack:
        return QColor(0x70, 0x78, 0x80);
    case SegmentKind::Other:
        return QColor(0x9a, 0x9a, 0x9a);
    }
    return Qt::gray;
}

QString flagWords(std::uint8_t flags) {
    using namespace wire::tcp_flags;
    // SYN and FIN and RST first: they name the segment; ACK last, as people say "SYN-ACK".
    static constexpr std::pair<std::uint8_t, const char*> kOrder[] = {
        {kSyn, "SYN"}, {kFin, "FIN"}, {kRst, "RST"}, {kPsh, "PSH"},
        {kUrg, "URG"}, {kEce, "ECE"}, {kCwr, "CWR"}, {kAck, "ACK"},
    };
    QStringList words;
    for (const auto& [bit, name] : kOrder)
        if (flags & bit)
            words << QLatin1String(name);
    return words.isEmpty() ? QStringLiteral("none") : words.join(QStringLiteral(", "));
}

} // namespace tcplab::ui
