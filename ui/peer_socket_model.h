#pragma once

#include "peer/agent_protocol.h"
#include "peer/tcp_info.h"

#include <QAbstractTableModel>
#include <QElapsedTimer>
#include <QTimer>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

namespace tcplab::ui {

/// The peer's sockets, one row each with its latest sample: the agent's fd ("—" for a
/// socket another program owns, such as the lab's HTTP responder), both ends, the
/// kernel's state and a few of its variables. Samples come in through addSamples(), in
/// timeline order (the caller keeps the cursor, see PeerFeed). A socket the agent reports
/// gone is greyed, then removed kGoneLingerMs later (removeGone() at once).
class PeerSocketModel : public QAbstractTableModel {
    Q_OBJECT
public:
    /// The live numbers before the remote end, so that a narrow dock shows them.
    enum Column {
        Fd,
        Local,
        State,
        Cwnd,
        Rtt,
        Unacked,
        ReceiveQueue,
        SendQueue,
        Remote,
        ColumnCount
    };
    /// Qt::UserRole: the socket's inode (qulonglong), on every cell.
    static constexpr int kInodeRole = Qt::UserRole;
    /// How long a gone socket stays (greyed) before its row goes.
    static constexpr int kGoneLingerMs = 3000;

    explicit PeerSocketModel(QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

    /// The latest sample of row `row` (one socket) and its time.
    const peer::SocketSample& socket(int row) const { return m_rows[std::size_t(row)].socket; }
    std::int64_t timeNs(int row) const { return m_rows[std::size_t(row)].timeNs; }
    bool gone(int row) const { return m_rows[std::size_t(row)].socket.gone; }
    /// The row of the socket with `inode`, or -1.
    int rowOf(std::uint64_t inode) const;
    /// The agent's fds of the sockets that are not gone, ascending.
    std::vector<int> fds() const;
    /// How long a gone socket stays greyed (kGoneLingerMs by default).
    void setGoneLinger(int ms) { m_goneLingerMs = std::max(1, ms); }

public Q_SLOTS:
    /// Takes samples (each of one or more sockets) in timeline order.
    void addSamples(const std::vector<tcplab::peer::Sample>& samples);
    /// Removes the rows of gone sockets now.
    void removeGone();
    void clear();

private:
    struct Row {
        peer::SocketSample socket;
        peer::TcpInfo info;
        std::int64_t timeNs = 0;
        qint64 goneAtMs = 0; ///< m_clock's time when it went
    };
    void removeGoneBefore(qint64 ms);
    /// The row of the socket `s` is a sample of, or -1.
    int rowFor(const peer::SocketSample& s) const;

    std::vector<Row> m_rows;
    QElapsedTimer m_clock;
    QTimer m_goneTimer;
    int m_goneLingerMs = kGoneLingerMs;
};

/// Every field one socket's kernel reported in its latest sample: name, value (as
/// peer::formatField says it), unit, the field's meaning as tooltip. A value that changed
/// since the previous sample of the same socket is bold, as in the connection panel.
class TcpInfoModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Field, Value, Unit, ColumnCount };

    explicit TcpInfoModel(QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

    /// Shows `socket`'s fields; a new sample of the same inode marks what changed.
    void setSocket(const peer::SocketSample& socket);
    void clear();
    /// The inode shown, nullopt when none.
    std::optional<std::uint64_t> inode() const noexcept { return m_inode; }
    /// The field of row `row`, and whether its value changed with the last sample.
    peer::TcpInfoField field(int row) const { return m_fields[std::size_t(row)]; }
    bool changed(int row) const;

private:
    std::optional<std::uint64_t> m_inode;
    peer::TcpInfo m_info;
    peer::TcpInfo m_previous;
    std::vector<peer::TcpInfoField> m_fields;
};

} // namespace tcplab::ui
