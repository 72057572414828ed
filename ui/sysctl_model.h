#pragma once

#include "peer/agent_client.h"

#include <QAbstractTableModel>
#include <QString>

#include <string_view>
#include <vector>

namespace tcplab::ui {

/// The peer namespace's sysctls as the agent reads them (a `sysctl-list` call's answer:
/// "key=value" lines), with the value column editable: an edit asks for a write
/// (writeRequested: the caller sends `sysctl KEY=VALUE`) and keeps the old value until the
/// kernel answers (onAnswer): the value in force then, or, for a refused write, the old
/// value and the reason in the answer column, in the error colour.
class SysctlModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Key, Value, Answer, ColumnCount };

    explicit SysctlModel(QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    bool setData(const QModelIndex& index, const QVariant& value, int role = Qt::EditRole) override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

    /// Replaces the rows with the "key=value\n" lines of `listing` (a sysctl-list answer).
    void setListing(std::string_view listing);
    /// A sysctl or sysctl-list call came back (other calls are ignored): true when it
    /// changed the table.
    bool onAnswer(const peer::CallRecord& call);
    /// The row of `key`, or -1.
    int rowOf(const QString& key) const;
    QString value(const QString& key) const;
    QString answer(const QString& key) const;
    bool failed(const QString& key) const;

Q_SIGNALS:
    /// The user edited `key`'s value: send `sysctl key=value`.
    void writeRequested(const QString& key, const QString& value);

private:
    struct Row {
        QString key;
        QString value;
        QString answer;
        bool failed = false;
    };
    std::vector<Row> m_rows;
};

} // namespace tcplab::ui
