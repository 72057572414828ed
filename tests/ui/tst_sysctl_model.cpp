// SysctlModel under QAbstractItemModelTester: a sysctl-list answer's lines, sorted; an edit
// asks for a write and keeps the old value until the kernel answers; a refused write says
// why; a key read by name joins the table.
#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QTest>

#include "peer/call_text.h"
#include "ui/sysctl_model.h"

using namespace tcplab;

namespace {

peer::CallRecord callOf(const char* line, std::int64_t result, int error, std::string data,
                        std::string text = {}) {
    peer::CallRecord c;
    c.request = *peer::parseCall(line);
    c.answer.call = c.request.call;
    c.answer.result = result;
    c.answer.error = error;
    c.answer.data.assign(data.begin(), data.end());
    c.answer.text = std::move(text);
    return c;
}

} // namespace

class TestSysctlModel : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void listing_sortedRows();
    void edit_asksForAWrite_theKernelDecides();
    void readByName_joinsTheTable();
};

void TestSysctlModel::listing_sortedRows() {
    ui::SysctlModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QVERIFY(model.onAnswer(callOf("sysctl-list net.", 0, 0,
                                  "net.ipv4.tcp_sack=1\nnet.ipv4.tcp_ecn=2\nmalformed line\n")));
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.data(model.index(0, ui::SysctlModel::Key)).toString(),
             QStringLiteral("net.ipv4.tcp_ecn"));
    QCOMPARE(model.value(QStringLiteral("net.ipv4.tcp_sack")), QStringLiteral("1"));
    QVERIFY(!(model.flags(model.index(0, ui::SysctlModel::Key)) & Qt::ItemIsEditable));
    // Other calls are not the table's.
    QVERIFY(!model.onAnswer(callOf("close 3", 0, 0, {})));
    // A failed listing keeps the table.
    QVERIFY(!model.onAnswer(callOf("sysctl-list net.", -1, 13, {})));
    QCOMPARE(model.rowCount(), 2);
}

void TestSysctlModel::edit_asksForAWrite_theKernelDecides() {
    ui::SysctlModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setListing("net.ipv4.tcp_sack=1\nnet.ipv4.tcp_syncookies=1\n");
    QSignalSpy writes(&model, &ui::SysctlModel::writeRequested);
    const QModelIndex sack = model.index(0, ui::SysctlModel::Value);
    QVERIFY(!model.setData(sack, QStringLiteral("1"))); // the same value: nothing to write
    QVERIFY(model.setData(sack, QStringLiteral("0")));
    QCOMPARE(writes.count(), 1);
    QCOMPARE(writes.first().at(0).toString(), QStringLiteral("net.ipv4.tcp_sack"));
    QCOMPARE(writes.first().at(1).toString(), QStringLiteral("0"));
    QCOMPARE(model.value(QStringLiteral("net.ipv4.tcp_sack")), QStringLiteral("1"));
    QVERIFY(model.onAnswer(callOf("sysctl net.ipv4.tcp_sack=0", 0, 0, "0\n")));
    QCOMPARE(model.value(QStringLiteral("net.ipv4.tcp_sack")), QStringLiteral("0"));
    QCOMPARE(model.answer(QStringLiteral("net.ipv4.tcp_sack")), QStringLiteral("set: 0"));

    QVERIFY(model.onAnswer(
        callOf("sysctl net.ipv4.tcp_syncookies=7", -1, 22, {}, "the kernel takes 0, 1 or 2")));
    QCOMPARE(model.value(QStringLiteral("net.ipv4.tcp_syncookies")), QStringLiteral("1"));
    QVERIFY(model.failed(QStringLiteral("net.ipv4.tcp_syncookies")));
    QCOMPARE(model.answer(QStringLiteral("net.ipv4.tcp_syncookies")),
             QStringLiteral("not set to 7: EINVAL: the kernel takes 0, 1 or 2"));
    // Listing again keeps what the kernel said last.
    model.setListing("net.ipv4.tcp_sack=0\nnet.ipv4.tcp_syncookies=1\n");
    QVERIFY(model.failed(QStringLiteral("net.ipv4.tcp_syncookies")));
}

void TestSysctlModel::readByName_joinsTheTable() {
    ui::SysctlModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setListing("net.ipv4.tcp_sack=1\n");
    QVERIFY(model.onAnswer(callOf("sysctl net.core.somaxconn", 0, 0, "4096\n")));
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.rowOf(QStringLiteral("net.core.somaxconn")), 0);
    QCOMPARE(model.answer(QStringLiteral("net.core.somaxconn")), QStringLiteral("read"));
}

QTEST_MAIN(TestSysctlModel)
#include "tst_sysctl_model.moc"
