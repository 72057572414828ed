#include "ui/timeline_model.h"

#include "ui/frame_summary.h"
#include "wire/frame.h"

#include <algorithm>
#include <cmath>

namespace tcplab::ui {

QString ladderLabel(const TimelineRow& r) {
    QString label = flagWords(r.flags);
    if (r.segment) {
        label += QStringLiteral(" seq=%1").arg(r.segment->relSeq);
        if (r.flags & wire::tcp_flags::kAck)
            label += QStringLiteral(" ack=%1").arg(r.segment->relAck);
    }
    if (r.payloadLength > 0)
        label += QStringLiteral(" len=%1").arg(r.payloadLength);
    label += QStringLiteral(" win=%1").arg(r.segment ? r.segment->window : r.rawWindow);
    return label;
}

TimelineModel::TimelineModel(QObject* parent)
    : QAbstractTableModel(parent) {}

void TimelineModel::setTimeline(std::shared_ptr<const timeline::Timeline> timeline,
                                std::vector<wire::IpAddress> local) {
    beginResetModel();
    m_timeline = std::move(timeline);
    m_local = std::move(local);
    m_rows.clear();
    m_table = tcp::ConnectionTable{};
    for (const auto& address : m_local)
        m_table.addLocalAddress(address);
    endResetModel();
    if (m_timeline)
        onTimelineGrew(static_cast<qsizetype>(m_timeline->size()));
}

int TimelineModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(m_rows.size());
}

int TimelineModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

double TimelineModel::timeMs(int row) const {
    if (m_rows.empty() || row < 0 || std::size_t(row) >= m_rows.size())
        return 0.0;
    return static_cast<double>(m_rows[std::size_t(row)].timeNs - m_rows.front().timeNs) / 1e6;
}

std::optional<std::int64_t> TimelineModel::originNs() const {
    if (m_rows.empty())
        return std::nullopt;
    return m_rows.front().timeNs;
}

double TimelineModel::msSinceOrigin(std::int64_t timeNs) const {
    if (m_rows.empty())
        return 0.0;
    return static_cast<double>(timeNs - m_rows.front().timeNs) / 1e6;
}

int TimelineModel::rowNearest(std::int64_t timeNs) const {
    if (m_rows.empty())
        return -1;
    // Rows are in timeline order, which is time order but for a received frame stamped a
    // little before the sent one appended ahead of it: the search lands beside it then.
    const auto after =
        std::lower_bound(m_rows.begin(), m_rows.end(), timeNs,
                         [](const TimelineRow& r, std::int64_t t) { return r.timeNs < t; });
    if (after == m_rows.begin())
        return 0;
    if (after == m_rows.end())
        return int(m_rows.size()) - 1;
    const auto before = after - 1;
    // The first row of the nearest time.
    if (timeNs - before->timeNs <= after->timeNs - timeNs) {
        auto first = before;
        while (first != m_rows.begin() && (first - 1)->timeNs == before->timeNs)
            --first;
        return int(first - m_rows.begin());
    }
    return int(after - m_rows.begin());
}

int TimelineModel::rowNearestMs(double ms) const {
    if (m_rows.empty())
        return -1;
    return rowNearest(m_rows.front().timeNs + std::int64_t(std::llround(ms * 1e6)));
}

void TimelineModel::onTimelineGrew(qsizetype newSize) {
    if (!m_timeline)
        return;
    const std::size_t end =
        std::min<std::size_t>(std::size_t(std::max<qsizetype>(newSize, 0)), m_timeline->size());
    const std::size_t first = m_rows.size();
    if (end <= first)
        return;
    beginInsertRows({}, int(first), int(end - 1));
    m_rows.reserve(end);
    for (std::size_t i = first; i < end; ++i) {
        const timeline::Entry& e = (*m_timeline)[i];
        const wire::Frame frame = e.decode();
        TimelineRow r;
        r.timeNs = e.timeNs;
        r.direction = e.direction;
        if (const auto* tcp = frame.tcp()) {
            r.tcp = true;
            r.flags = tcp->flags;
            r.payloadLength = frame.payloadLength;
            r.rawWindow = tcp->window;
            r.segment = m_table.onFrame(frame, e.timeNs);
            r.kind = segmentKindOf(r.flags, r.payloadLength,
                                   r.segment ? r.segment->classes : tcp::SegmentClasses{});
            r.summary = QStringLiteral("%1 → %2 [%3] len=%4")
                            .arg(tcp->srcPort)
                            .arg(tcp->dstPort)
                            .arg(flagWords(tcp->flags))
                            .arg(frame.payloadLength);
            if (frame.payloadLength > 0) {
                // The first printable line of the data, as a hint ("GET / HTTP/1.1").
                const auto payload = frame.payload();
                QString text;
                for (std::size_t k = 0; k < payload.size() && text.size() < 40; ++k) {
                    const char c = static_cast<char>(payload[k]);
                    if (c == '\r' || c == '\n')
                        break;
                    text += (c >= 0x20 && c < 0x7f) ? QChar(c) : QChar('.');
                }
                if (!text.isEmpty())
                    r.summary += QStringLiteral(" \"%1\"").arg(text);
            }
        } else {
            r.summary = otherFrameSummary(frame);
            r.mark = otherFrameShort(frame);
        }
        m_rows.push_back(std::move(r));
    }
    endInsertRows();
}

QString TimelineModel::statesAfter(const tcp::SegmentResult& r) const {
    if (r.connection >= m_table.size())
        return {};
    const auto& c = m_table[r.connection];
    const std::uint8_t local = c.localEnd();
    const auto other = static_cast<std::uint8_t>(1 - local);
    return QStringLiteral("%1 / %2").arg(
        QString::fromUtf8(tcp::stateName(r.after[local]).data(),
                          qsizetype(tcp::stateName(r.after[local]).size())),
        QString::fromUtf8(tcp::stateName(r.after[other]).data(),
                          qsizetype(tcp::stateName(r.after[other]).size())));
}

QVariant TimelineModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() < 0 || std::size_t(index.row()) >= m_rows.size())
        return {};
    const TimelineRow& r = m_rows[std::size_t(index.row())];
    if (role == Qt::TextAlignmentRole) {
        switch (index.column()) {
        case Number:
        case Time:
        case RelSeq:
        case RelAck:
        case Length:
        case Window:
            return int(Qt::AlignRight | Qt::AlignVCenter);
        default:
            return {};
        }
    }
    if (role == Qt::ForegroundRole && index.column() == Flags && r.tcp)
        return segmentKindColor(r.kind);
    if (role != Qt::DisplayRole && role != Qt::ToolTipRole)
        return {};
    const bool sent = r.direction == timeline::Direction::Sent;
    const auto& s = r.segment;
    switch (index.column()) {
    case Number:
        return index.row() + 1;
    case Time:
        return QString::number(timeMs(index.row()), 'f', 3);
    case Direction:
        return sent ? QStringLiteral("phantom → peer") : QStringLiteral("phantom ← peer");
    case Flags:
        return r.tcp ? flagWords(r.flags) : QString();
    case RelSeq:
        return s ? QVariant(qulonglong(s->relSeq)) : QVariant();
    case RelAck:
        return (s && (r.flags & 0x10)) ? QVariant(qulonglong(s->relAck)) : QVariant();
    case Length:
        return r.tcp ? QVariant(qulonglong(r.payloadLength)) : QVariant();
    case Window:
        return s ? QVariant(qulonglong(s->window)) : QVariant();
    case Classes:
        return s ? QString::fromStdString(s->classes.toString()) : QString();
    case StatesAfter:
        return s ? statesAfter(*s) : QString();
    case Summary:
        return r.summary;
    default:
        return {};
    }
}

QVariant TimelineModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case Number:
        return QStringLiteral("No.");
    case Time:
        return QStringLiteral("Time (ms)");
    case Direction:
        return QStringLiteral("Direction");
    case Flags:
        return QStringLiteral("Flags");
    case RelSeq:
        return QStringLiteral("Rel. seq");
    case RelAck:
        return QStringLiteral("Rel. ack");
    case Length:
        return QStringLiteral("Len");
    case Window:
        return QStringLiteral("Window");
    case Classes:
        return QStringLiteral("Classes");
    case StatesAfter:
        return QStringLiteral("States after (phantom / peer)");
    case Summary:
        return QStringLiteral("Summary");
    default:
        return {};
    }
}

} // namespace tcplab::ui
