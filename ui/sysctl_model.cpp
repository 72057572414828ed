#include "ui/sysctl_model.h"

#include "peer/call_text.h"
#include "ui/palette.h"

#include <QApplication>
#include <QPalette>

#include <algorithm>

namespace tcplab::ui {

namespace {

/// /proc/sys's text for a person: tabs between numbers as spaces, no newline at the end.
QString valueText(std::string_view raw) {
    QString text = QString::fromUtf8(raw.data(), qsizetype(raw.size())).trimmed();
    text.replace(QLatin1Char('\t'), QLatin1Char(' '));
    return text;
}

QString bytesText(const std::vector<std::uint8_t>& data) {
    return valueText(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
}

} // namespace

SysctlModel::SysctlModel(QObject* parent)
    : QAbstractTableModel(parent) {}

int SysctlModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(m_rows.size());
}

int SysctlModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

int SysctlModel::rowOf(const QString& key) const {
    const auto it = std::lower_bound(m_rows.begin(), m_rows.end(), key,
                                     [](const Row& r, const QString& k) { return r.key < k; });
    return it != m_rows.end() && it->key == key ? int(it - m_rows.begin()) : -1;
}

QString SysctlModel::value(const QString& key) const {
    const int row = rowOf(key);
    return row < 0 ? QString() : m_rows[std::size_t(row)].value;
}

QString SysctlModel::answer(const QString& key) const {
    const int row = rowOf(key);
    return row < 0 ? QString() : m_rows[std::size_t(row)].answer;
}

bool SysctlModel::failed(const QString& key) const {
    const int row = rowOf(key);
    return row >= 0 && m_rows[std::size_t(row)].failed;
}

void SysctlModel::setListing(std::string_view listing) {
    std::vector<Row> rows;
    while (!listing.empty()) {
        const auto end = listing.find('\n');
        const std::string_view line = listing.substr(0, end);
        listing = end == std::string_view::npos ? std::string_view() : listing.substr(end + 1);
        const auto eq = line.find('=');
        if (eq == std::string_view::npos || eq == 0)
            continue;
        Row r;
        r.key = valueText(line.substr(0, eq));
        r.value = valueText(line.substr(eq + 1));
        rows.push_back(std::move(r));
    }
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.key < b.key; });
    // Keep what the kernel said last about a key that is still there.
    for (Row& r : rows)
        if (const int old = rowOf(r.key); old >= 0) {
            r.answer = m_rows[std::size_t(old)].answer;
            r.failed = m_rows[std::size_t(old)].failed;
        }
    beginResetModel();
    m_rows = std::move(rows);
    endResetModel();
}

bool SysctlModel::onAnswer(const peer::CallRecord& call) {
    const peer::Answer& a = call.answer;
    const bool ok = a.outcome == peer::Outcome::Done && a.error == 0 && a.result >= 0;
    if (call.request.call == peer::Call::SysctlList) {
        if (!ok)
            return false;
        setListing(std::string_view(reinterpret_cast<const char*>(a.data.data()), a.data.size()));
        return true;
    }
    if (call.request.call != peer::Call::Sysctl)
        return false;
    const QString key = QString::fromStdString(call.request.text);
    int row = rowOf(key);
    if (row < 0) {
        // A key the listing did not have (read by name): it joins the table.
        Row r;
        r.key = key;
        const auto at = std::lower_bound(m_rows.begin(), m_rows.end(), key,
                                         [](const Row& x, const QString& k) { return x.key < k; });
        row = int(at - m_rows.begin());
        beginInsertRows({}, row, row);
        m_rows.insert(at, std::move(r));
        endInsertRows();
    }
    Row& r = m_rows[std::size_t(row)];
    const bool write = !call.request.data.empty();
    if (ok) {
        r.value = bytesText(a.data);
        r.answer = write ? QStringLiteral("set: %1").arg(r.value) : QStringLiteral("read");
        r.failed = false;
    } else {
        // The old value stays: the kernel did not take the new one.
        QString why = a.outcome == peer::Outcome::Refused
                          ? QStringLiteral("refused")
                          : QString::fromStdString(peer::errnoName(a.error));
        if (!a.text.empty())
            why += QStringLiteral(": %1").arg(QString::fromStdString(a.text));
        r.answer = write
                       ? QStringLiteral("not set to %1: %2").arg(bytesText(call.request.data), why)
                       : why;
        r.failed = true;
        if (!a.data.empty())
            r.value = bytesText(a.data); // the value in force, as the agent read it after
    }
    Q_EMIT dataChanged(index(row, 0), index(row, ColumnCount - 1));
    return true;
}

Qt::ItemFlags SysctlModel::flags(const QModelIndex& index) const {
    Qt::ItemFlags f = QAbstractTableModel::flags(index);
    if (index.isValid() && index.column() == Value)
        f |= Qt::ItemIsEditable;
    return f;
}

bool SysctlModel::setData(const QModelIndex& index, const QVariant& value, int role) {
    if (!index.isValid() || role != Qt::EditRole || index.column() != Value ||
        std::size_t(index.row()) >= m_rows.size())
        return false;
    Row& r = m_rows[std::size_t(index.row())];
    const QString text = value.toString().trimmed();
    if (text.isEmpty() || text == r.value)
        return false;
    // The value shown stays the kernel's until it answers.
    r.answer = QStringLiteral("writing %1…").arg(text);
    r.failed = false;
    Q_EMIT dataChanged(this->index(index.row(), Answer), this->index(index.row(), Answer));
    Q_EMIT writeRequested(r.key, text);
    return true;
}

QVariant SysctlModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() < 0 || std::size_t(index.row()) >= m_rows.size())
        return {};
    const Row& r = m_rows[std::size_t(index.row())];
    if (role == Qt::ForegroundRole && index.column() == Answer && r.failed)
        return errorColor(QApplication::palette());
    if (role == Qt::ToolTipRole) {
        if (index.column() == Value)
            return QStringLiteral("Double-click to write a new value (sysctl %1=...)").arg(r.key);
        if (index.column() == Answer && !r.answer.isEmpty())
            return r.answer;
        return r.key;
    }
    if (role != Qt::DisplayRole && role != Qt::EditRole)
        return {};
    switch (index.column()) {
    case Key:
        return r.key;
    case Value:
        return r.value;
    case Answer:
        return r.answer;
    default:
        return {};
    }
}

QVariant SysctlModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case Key:
        return QStringLiteral("sysctl");
    case Value:
        return QStringLiteral("value");
    case Answer:
        return QStringLiteral("the kernel's answer");
    default:
        return {};
    }
}

} // namespace tcplab::ui
