#pragma once

#include "tcp/tracker.h"
#include "timeline/timeline.h"
#include "ui/segment_kind.h"
#include "wire/address.h"

#include <QAbstractTableModel>
#include <QString>

#include <memory>
#include <optional>
#include <vector>

namespace tcplab::ui {

/// What the model keeps of one timeline entry (the bytes stay in the timeline).
struct TimelineRow {
    std::int64_t timeNs = 0;
    timeline::Direction direction = timeline::Direction::Received;
    bool tcp = false;
    std::uint8_t flags = 0;
    std::uint32_t payloadLength = 0;
    std::uint16_t rawWindow = 0;
    std::optional<tcp::SegmentResult> segment; ///< the tracker's answer, TCP only
    SegmentKind kind = SegmentKind::Other;
    QString summary;
    QString mark; ///< non-TCP: a few words for the ladder ("ARP probe 198.18.0.2")
};

/// The ladder's label of a TCP row: "SYN seq=0 win=65535", "PSH, ACK seq=1 ack=1 len=18
/// win=64256" (relative numbers).
QString ladderLabel(const TimelineRow& row);

/// The timeline as a table, one row per frame, growing as the engine appends. Each TCP
/// segment is fed through a ConnectionTable (in the GUI thread, in order) for relative
/// numbers, classes and states.
class TimelineModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column {
        Number,
        Time,
        Direction,
        Flags,
        RelSeq,
        RelAck,
        Length,
        Window,
        Classes,
        StatesAfter,
        Summary,
        ColumnCount
    };

    explicit TimelineModel(QObject* parent = nullptr);

    /// A new timeline (or none): the rows and the tracker start over. `local` are the
    /// phantom's addresses (its end of each connection is the local end).
    void setTimeline(std::shared_ptr<const timeline::Timeline> timeline,
                     std::vector<wire::IpAddress> local = {});
    const timeline::Timeline* timeline() const noexcept { return m_timeline.get(); }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

    /// Row `row` < rowCount().
    const TimelineRow& row(int row) const { return m_rows[static_cast<std::size_t>(row)]; }
    /// Its timeline entry.
    const timeline::Entry& entry(int row) const { return (*m_timeline)[std::size_t(row)]; }
    const tcp::ConnectionTable& connections() const noexcept { return m_table; }
    /// Milliseconds of row `row` since the first row.
    double timeMs(int row) const;
    /// The time every view counts from (the first row's, ns since the epoch): the ladder,
    /// the time-sequence graph and the peer's plot share it. nullopt without rows.
    std::optional<std::int64_t> originNs() const;
    /// `timeNs` as milliseconds since originNs() (0 without rows).
    double msSinceOrigin(std::int64_t timeNs) const;
    /// The row whose time is nearest `timeNs` (the first of equals), -1 without rows.
    int rowNearest(std::int64_t timeNs) const;
    /// The row nearest `ms` milliseconds since originNs(), -1 without rows.
    int rowNearestMs(double ms) const;

public Q_SLOTS:
    /// Takes the entries [rowCount(), newSize) (bounded by the timeline's size).
    void onTimelineGrew(qsizetype newSize);

private:
    QString statesAfter(const tcp::SegmentResult& r) const;

    std::shared_ptr<const timeline::Timeline> m_timeline;
    std::vector<wire::IpAddress> m_local;
    std::vector<TimelineRow> m_rows;
    tcp::ConnectionTable m_table;
};

} // namespace tcplab::ui
