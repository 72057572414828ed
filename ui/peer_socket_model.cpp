#include "ui/peer_socket_model.h"

#include "peer/call_text.h"
#include "ui/palette.h"

#include <QApplication>
#include <QFont>
#include <QPalette>

#include <algorithm>
#include <limits>

namespace tcplab::ui {

namespace {

using F = peer::TcpInfoField;

QString qs(const std::string& s) {
    return QString::fromStdString(s);
}

QString qs(std::string_view s) {
    return QString::fromUtf8(s.data(), qsizetype(s.size()));
}

/// A field's value for a table cell, "" when the stack did not report it.
QString fieldText(const peer::TcpInfo& info, F field) {
    const auto v = info.get(field);
    return v ? qs(peer::formatField(field, *v)) : QString();
}

QString endpoint(const std::vector<std::uint8_t>& address, std::uint16_t port) {
    if (address.empty())
        return port == 0 ? QStringLiteral("—") : QStringLiteral("*:%1").arg(port);
    return qs(peer::endpointText(address, port));
}

} // namespace

PeerSocketModel::PeerSocketModel(QObject* parent)
    : QAbstractTableModel(parent) {
    m_clock.start();
    m_goneTimer.setSingleShot(true);
    connect(&m_goneTimer, &QTimer::timeout, this,
            [this] { removeGoneBefore(m_clock.elapsed() - m_goneLingerMs + 1); });
}

int PeerSocketModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(m_rows.size());
}

int PeerSocketModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

int PeerSocketModel::rowOf(std::uint64_t inode) const {
    for (std::size_t i = 0; i < m_rows.size(); ++i)
        if (m_rows[i].socket.inode == inode)
            return int(i);
    return -1;
}

std::vector<int> PeerSocketModel::fds() const {
    std::vector<int> out;
    for (const Row& r : m_rows)
        if (!r.socket.gone && r.socket.fd >= 0)
            out.push_back(r.socket.fd);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

int PeerSocketModel::rowFor(const peer::SocketSample& s) const {
    if (s.inode != 0)
        if (const int row = rowOf(s.inode); row >= 0)
            return row;
    // A connection in a listener's accept queue has no inode yet (the kernel gives it one
    // at accept()): until then it is known by its 4-tuple, and stays the same socket after.
    if (s.local.empty() || s.remote.empty())
        return -1;
    for (std::size_t i = 0; i < m_rows.size(); ++i) {
        const peer::SocketSample& r = m_rows[i].socket;
        if ((r.inode == 0 || s.inode == 0) && !r.gone && r.local == s.local &&
            r.localPort == s.localPort && r.remote == s.remote && r.remotePort == s.remotePort)
            return int(i);
    }
    return -1;
}

void PeerSocketModel::addSamples(const std::vector<peer::Sample>& samples) {
    bool anyGone = false;
    for (const peer::Sample& sample : samples) {
        for (const peer::SocketSample& s : sample.sockets) {
            const int row = rowFor(s);
            if (row < 0 && s.gone)
                continue; // never seen alive: nothing to show going
            Row r;
            r.socket = s;
            r.info = peer::TcpInfo::fromPairs(s.fields);
            r.timeNs = sample.timeNs;
            if (s.gone) {
                r.goneAtMs = m_clock.elapsed();
                anyGone = true;
                // The last word of a gone socket has no fields and no fd: keep what it
                // said before, greyed.
                const Row& before = m_rows[std::size_t(row)];
                r.info = before.info;
                r.socket = before.socket;
                r.socket.gone = true;
                if (s.inode != 0)
                    r.socket.inode = s.inode;
            }
            if (row >= 0) {
                m_rows[std::size_t(row)] = std::move(r);
                Q_EMIT dataChanged(index(row, 0), index(row, ColumnCount - 1));
            } else {
                const int at = int(m_rows.size());
                beginInsertRows({}, at, at);
                m_rows.push_back(std::move(r));
                endInsertRows();
            }
        }
    }
    if (anyGone && !m_goneTimer.isActive())
        m_goneTimer.start(m_goneLingerMs);
}

void PeerSocketModel::removeGoneBefore(qint64 ms) {
    for (int row = int(m_rows.size()) - 1; row >= 0; --row) {
        const Row& r = m_rows[std::size_t(row)];
        if (!r.socket.gone || r.goneAtMs >= ms)
            continue;
        beginRemoveRows({}, row, row);
        m_rows.erase(m_rows.begin() + row);
        endRemoveRows();
    }
    // Those that went since wait for their turn.
    qint64 next = -1;
    for (const Row& r : m_rows)
        if (r.socket.gone && (next < 0 || r.goneAtMs < next))
            next = r.goneAtMs;
    if (next >= 0)
        m_goneTimer.start(int(std::max<qint64>(1, next + m_goneLingerMs - m_clock.elapsed())));
}

void PeerSocketModel::removeGone() {
    removeGoneBefore(std::numeric_limits<qint64>::max());
}

void PeerSocketModel::clear() {
    if (m_rows.empty())
        return;
    beginResetModel();
    m_rows.clear();
    endResetModel();
    m_goneTimer.stop();
}

QVariant PeerSocketModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() < 0 || std::size_t(index.row()) >= m_rows.size())
        return {};
    const Row& r = m_rows[std::size_t(index.row())];
    const peer::SocketSample& s = r.socket;
    if (role == kInodeRole)
        return qulonglong(s.inode);
    if (role == Qt::ForegroundRole)
        return s.gone ? QVariant(goneColor(QApplication::palette())) : QVariant();
    if (role == Qt::FontRole && s.gone) {
        QFont f = QApplication::font();
        f.setItalic(true);
        return f;
    }
    if (role == Qt::TextAlignmentRole) {
        switch (index.column()) {
        case Fd:
        case Cwnd:
        case Rtt:
        case Unacked:
        case ReceiveQueue:
        case SendQueue:
            return int(Qt::AlignRight | Qt::AlignVCenter);
        default:
            return {};
        }
    }
    if (role == Qt::ToolTipRole) {
        QString tip = QStringLiteral("%1 → %2, inode %3")
                          .arg(endpoint(s.local, s.localPort), endpoint(s.remote, s.remotePort))
                          .arg(s.inode);
        if (s.fd < 0)
            tip += QStringLiteral(": not the agent's (another program in the peer's namespace "
                                  "owns it, such as the lab's HTTP responder)");
        if (!s.congestion.empty())
            tip += QStringLiteral("; congestion control %1").arg(qs(s.congestion));
        if (s.gone)
            tip += QStringLiteral("; gone (closed, or its TIME-WAIT is over)");
        return tip;
    }
    if (role != Qt::DisplayRole)
        return {};
    switch (index.column()) {
    case Fd:
        return s.fd >= 0 ? QString::number(s.fd) : QStringLiteral("—");
    case Local:
        return endpoint(s.local, s.localPort);
    case Remote:
        return endpoint(s.remote, s.remotePort);
    case State:
        if (s.gone)
            return QStringLiteral("gone");
        return fieldText(r.info, F::State);
    case Cwnd:
        return r.info.has(F::SndCwnd) ? QString::number(r.info.value(F::SndCwnd)) : QString();
    case Rtt:
        return fieldText(r.info, F::Rtt);
    case Unacked:
        return r.info.has(F::Unacked) ? QString::number(r.info.value(F::Unacked)) : QString();
    case ReceiveQueue:
        return QString::number(s.receiveQueue);
    case SendQueue:
        return QString::number(s.sendQueue);
    default:
        return {};
    }
}

QVariant PeerSocketModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal)
        return QAbstractTableModel::headerData(section, orientation, role);
    if (role == Qt::ToolTipRole) {
        switch (section) {
        case Fd:
            return QStringLiteral("The agent's fd for the socket; — when another program owns it");
        case Cwnd:
            return QStringLiteral("snd_cwnd: the congestion window, in segments (RFC 5681)");
        case Rtt:
            return QStringLiteral("rtt: the smoothed round-trip time (RFC 6298)");
        case Unacked:
            return QStringLiteral("unacked: segments sent and not acknowledged yet");
        case ReceiveQueue:
            return QStringLiteral("Bytes received and not read yet (LISTEN: connections waiting "
                                  "for accept)");
        case SendQueue:
            return QStringLiteral("Bytes written and not acknowledged yet (LISTEN: the backlog)");
        default:
            return {};
        }
    }
    if (role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Fd:
        return QStringLiteral("fd");
    case Local:
        return QStringLiteral("local");
    case Remote:
        return QStringLiteral("remote");
    case State:
        return QStringLiteral("state");
    case Cwnd:
        return QStringLiteral("cwnd");
    case Rtt:
        return QStringLiteral("rtt");
    case Unacked:
        return QStringLiteral("unacked");
    case ReceiveQueue:
        return QStringLiteral("recv-Q");
    case SendQueue:
        return QStringLiteral("send-Q");
    default:
        return {};
    }
}

// ---------------------------------------------------------------------------------

TcpInfoModel::TcpInfoModel(QObject* parent)
    : QAbstractTableModel(parent) {}

int TcpInfoModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(m_fields.size());
}

int TcpInfoModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

bool TcpInfoModel::changed(int row) const {
    const F f = m_fields[std::size_t(row)];
    return m_previous.has(f) && m_previous.value(f) != m_info.value(f);
}

void TcpInfoModel::setSocket(const peer::SocketSample& socket) {
    peer::TcpInfo info = peer::TcpInfo::fromPairs(socket.fields);
    if (socket.gone && info.empty() && m_inode == socket.inode)
        return; // a gone socket's last word carries no fields: keep the last ones
    std::vector<F> fields;
    for (const auto& f : peer::tcpInfoFields())
        if (info.has(f.field))
            fields.push_back(f.field);
    const bool same = m_inode == socket.inode;
    m_previous = same ? m_info : peer::TcpInfo{};
    m_info = info;
    m_inode = socket.inode;
    if (fields != m_fields) {
        beginResetModel();
        m_fields = std::move(fields);
        endResetModel();
    } else if (!m_fields.empty()) {
        Q_EMIT dataChanged(index(0, 0), index(int(m_fields.size()) - 1, ColumnCount - 1));
    }
}

void TcpInfoModel::clear() {
    beginResetModel();
    m_inode.reset();
    m_info = {};
    m_previous = {};
    m_fields.clear();
    endResetModel();
}

QVariant TcpInfoModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() < 0 || std::size_t(index.row()) >= m_fields.size())
        return {};
    const F field = m_fields[std::size_t(index.row())];
    const auto& info = peer::fieldInfo(field);
    if (role == Qt::ToolTipRole)
        return QStringLiteral("tcpi_%1: %2").arg(qs(info.name), qs(info.meaning));
    if (role == Qt::FontRole && index.column() == Value && changed(index.row())) {
        QFont f = QApplication::font();
        f.setBold(true);
        return f;
    }
    if (role == Qt::TextAlignmentRole && index.column() == Value)
        return int(Qt::AlignRight | Qt::AlignVCenter);
    if (role != Qt::DisplayRole)
        return {};
    switch (index.column()) {
    case Field:
        return qs(info.name);
    case Value:
        return qs(peer::formatField(field, m_info.value(field)));
    case Unit:
        return qs(info.unit);
    default:
        return {};
    }
}

QVariant TcpInfoModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case Field:
        return QStringLiteral("field");
    case Value:
        return QStringLiteral("value");
    case Unit:
        return QStringLiteral("unit");
    default:
        return {};
    }
}

} // namespace tcplab::ui
