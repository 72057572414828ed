// PeerPanel: the history of calls (failures and refusals in the error colour, selecting one
// says when it was made), the fds the answers give, the sockets and their tcp_info, the
// sysctls read at the agent's start and written by an edit, the phantom's controls.
#include <QCheckBox>
#include <QComboBox>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTableView>
#include <QTest>

#include "peer/call_text.h"
#include "peer/tcp_info.h"
#include "ui/palette.h"
#include "ui/peer_call_form.h"
#include "ui/peer_panel.h"
#include "ui/peer_socket_model.h"
#include "ui/sysctl_model.h"

using namespace tcplab;

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000'000'000;

peer::CallRecord callOf(const char* line, std::int64_t result, int error = 0,
                        peer::Outcome outcome = peer::Outcome::Done, std::string data = {},
                        std::string text = {}) {
    peer::CallRecord c;
    c.request = *peer::parseCall(line);
    c.answer.call = c.request.call;
    c.answer.outcome = outcome;
    c.answer.result = result;
    c.answer.error = error;
    c.answer.startNs = kT0 + 5'000'000;
    c.answer.durationNs = 80'000;
    c.answer.data.assign(data.begin(), data.end());
    c.answer.text = std::move(text);
    return c;
}

bool okOf(const peer::CallRecord& c) {
    return c.answer.outcome == peer::Outcome::Done && c.answer.error == 0 && c.answer.result >= 0;
}

void answer(ui::PeerPanel& panel, const peer::CallRecord& c) {
    panel.onCallAnswered(c, okOf(c),
                         QString::fromStdString(peer::describeCallLine(c.request, c.answer)));
}

peer::Sample sampleOf(std::uint64_t inode, int fd, std::uint64_t state, std::uint64_t cwnd,
                      std::int64_t timeNs = kT0) {
    peer::TcpInfo info;
    info.set(peer::TcpInfoField::State, state);
    info.set(peer::TcpInfoField::SndCwnd, cwnd);
    info.set(peer::TcpInfoField::Rtt, 120);
    peer::SocketSample s;
    s.inode = inode;
    s.fd = fd;
    s.local = {198, 18, 0, 1};
    s.localPort = 5000;
    s.remote = {198, 18, 0, 2};
    s.remotePort = 50000;
    s.fields = info.pairs();
    peer::Sample sample;
    sample.timeNs = timeNs;
    sample.sockets.push_back(s);
    return sample;
}

} // namespace

class TestPeerPanel : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void history_failedAndRefusedCallsInTheErrorColour();
    void history_selectingACallSaysWhen();
    void answers_giveTheFormItsFds();
    void sockets_selectingOneShowsItsTcpInfo();
    void sysctls_readAtAgentStart_writtenByAnEdit();
    void phantomControls_listenWindowSnap();
    void noAgent_saysWhy();
};

void TestPeerPanel::history_failedAndRefusedCallsInTheErrorColour() {
    ui::PeerPanel panel;
    answer(panel, callOf("socket", 3));
    answer(panel, callOf("connect 3 198.18.0.2 40000", -1, 111)); // ECONNREFUSED
    answer(panel, callOf("setsockopt 3 TCP_CORK 1", -1, 0, peer::Outcome::Refused, {},
                         "lwIP has no TCP_CORK"));
    QListWidget* history = panel.history();
    QCOMPARE(history->count(), 3);
    // Newest at the bottom, each as the strace-like line.
    QVERIFY(history->item(0)->text().startsWith(QStringLiteral("socket(")));
    QVERIFY2(history->item(1)->text().contains(QStringLiteral("ECONNREFUSED")),
             qPrintable(history->item(1)->text()));
    QVERIFY2(history->item(2)->text().contains(QStringLiteral("TCP_CORK")),
             qPrintable(history->item(2)->text()));
    const QColor error = ui::errorColor(panel.palette());
    QVERIFY(history->item(0)->foreground().style() == Qt::NoBrush ||
            history->item(0)->foreground().color() != error);
    QCOMPARE(history->item(1)->foreground().color(), error);
    QCOMPARE(history->item(2)->foreground().color(), error);
}

void TestPeerPanel::history_selectingACallSaysWhen() {
    ui::PeerPanel panel;
    QSignalSpy selected(&panel, &ui::PeerPanel::callSelected);
    auto call = callOf("listen 3 16", 0);
    call.answer.startNs = kT0 + 42'000'000;
    answer(panel, call);
    panel.history()->setCurrentRow(0);
    QCOMPARE(selected.count(), 1);
    QCOMPARE(selected.first().first().toLongLong(), kT0 + 42'000'000);
}

void TestPeerPanel::answers_giveTheFormItsFds() {
    ui::PeerPanel panel;
    panel.form()->setCall(peer::Call::Listen);
    answer(panel, callOf("socket", 3));
    QCOMPARE(panel.form()->line(), QStringLiteral("listen 3 16"));
    panel.form()->setCall(peer::Call::Write);
    answer(panel, callOf("accept 3", 4));
    QCOMPARE(panel.form()->line(), QStringLiteral("write 4 4M"));
    auto* fd = panel.findChild<QComboBox*>(QStringLiteral("peerFd"));
    QCOMPARE(fd->count(), 2);
    // A sample of a socket the agent owns adds its fd; close takes one back.
    panel.addSamples({sampleOf(77, 6, 1, 10)});
    QCOMPARE(fd->count(), 3);
    answer(panel, callOf("close 4", 0));
    QStringList items;
    for (int i = 0; i < fd->count(); ++i)
        items << fd->itemText(i);
    QCOMPARE(items, (QStringList{QStringLiteral("3"), QStringLiteral("6")}));
}

void TestPeerPanel::sockets_selectingOneShowsItsTcpInfo() {
    ui::PeerPanel panel;
    panel.show();
    QSignalSpy selected(&panel, &ui::PeerPanel::socketSelected);
    panel.addSamples({sampleOf(10, 4, 1, 10), sampleOf(11, -1, 10, 10)});
    QCOMPARE(panel.sockets()->rowCount(), 2);
    QCOMPARE(panel.tcpInfo()->rowCount(), 0);
    panel.selectSocket(10);
    QCOMPARE(panel.selectedSocket(), std::optional<std::uint64_t>(10));
    QCOMPARE(selected.last().first().toULongLong(), 10ull);
    QCOMPARE(panel.tcpInfo()->rowCount(), 3); // state, rtt, snd_cwnd: what the stack said
    // A new sample of the selected socket: the live table follows, the change in bold.
    panel.addSamples({sampleOf(10, 4, 1, 14, kT0 + 1'000'000)});
    int cwndRow = -1;
    for (int row = 0; row < panel.tcpInfo()->rowCount(); ++row)
        if (panel.tcpInfo()->field(row) == peer::TcpInfoField::SndCwnd)
            cwndRow = row;
    QVERIFY(cwndRow >= 0);
    const QModelIndex value = panel.tcpInfo()->index(cwndRow, ui::TcpInfoModel::Value);
    QCOMPARE(value.data().toString(), QStringLiteral("14 segments"));
    QVERIFY(value.data(Qt::FontRole).value<QFont>().bold());
}

void TestPeerPanel::sysctls_readAtAgentStart_writtenByAnEdit() {
    ui::PeerPanel panel;
    QSignalSpy requested(&panel, &ui::PeerPanel::callRequested);
    panel.setAgentStatus(true, QStringLiteral("the built-in Linux lab's peer agent is ready"));
    QCOMPARE(requested.count(), 1);
    QCOMPARE(requested.first().first().value<peer::Request>().call, peer::Call::SysctlList);
    QCOMPARE(panel.status(), QStringLiteral("the built-in Linux lab's peer agent is ready"));
    // Once only: another hello does not read them again (Refresh does).
    panel.setAgentStatus(true, QStringLiteral("ready"));
    QCOMPARE(requested.count(), 1);

    answer(panel, callOf("sysctl-list net.", 0, 0, peer::Outcome::Done,
                         "net.ipv4.tcp_rmem=4096\t131072\t6291456\nnet.ipv4.tcp_sack=1\n"
                         "net.core.somaxconn=4096\n"));
    ui::SysctlModel* sysctls = panel.sysctls();
    QCOMPARE(sysctls->rowCount(), 3);
    QCOMPARE(sysctls->value(QStringLiteral("net.ipv4.tcp_rmem")),
             QStringLiteral("4096 131072 6291456"));
    requested.clear();
    const QModelIndex sack =
        sysctls->index(sysctls->rowOf(QStringLiteral("net.ipv4.tcp_sack")), ui::SysctlModel::Value);
    QVERIFY(sysctls->flags(sack) & Qt::ItemIsEditable);
    QVERIFY(sysctls->setData(sack, QStringLiteral("0")));
    QCOMPARE(requested.count(), 1);
    const auto write = requested.first().first().value<peer::Request>();
    QCOMPARE(QString::fromStdString(peer::formatCall(write)),
             QStringLiteral("sysctl net.ipv4.tcp_sack=0"));
    // The value stays the kernel's until it answers.
    QCOMPARE(sysctls->value(QStringLiteral("net.ipv4.tcp_sack")), QStringLiteral("1"));
    answer(panel, callOf("sysctl net.ipv4.tcp_sack=0", 0, 0, peer::Outcome::Done, "0\n"));
    QCOMPARE(sysctls->value(QStringLiteral("net.ipv4.tcp_sack")), QStringLiteral("0"));
    QVERIFY(!sysctls->failed(QStringLiteral("net.ipv4.tcp_sack")));

    // A refused write keeps the old value and says why, in the error colour.
    answer(panel, callOf("sysctl net.core.somaxconn=1", -1, 13, peer::Outcome::Done, "4096\n",
                         "the namespace does not own net.core"));
    QCOMPARE(sysctls->value(QStringLiteral("net.core.somaxconn")), QStringLiteral("4096"));
    QVERIFY(sysctls->failed(QStringLiteral("net.core.somaxconn")));
    const QString why = sysctls->answer(QStringLiteral("net.core.somaxconn"));
    QVERIFY2(why.contains(QStringLiteral("EACCES")) && why.contains(QStringLiteral("does not own")),
             qPrintable(why));
    const QModelIndex cell = sysctls->index(sysctls->rowOf(QStringLiteral("net.core.somaxconn")),
                                            ui::SysctlModel::Answer);
    QCOMPARE(cell.data(Qt::ForegroundRole).value<QColor>(),
             ui::errorColor(QApplication::palette()));

    requested.clear();
    panel.findChild<QPushButton*>(QStringLiteral("sysctlRefresh"))->click();
    QCOMPARE(requested.count(), 1);
}

void TestPeerPanel::phantomControls_listenWindowSnap() {
    ui::PeerPanel panel;
    QSignalSpy listening(&panel, &ui::PeerPanel::listeningPortChanged);
    QSignalSpy window(&panel, &ui::PeerPanel::advertisedWindowChanged);
    QSignalSpy snap(&panel, &ui::PeerPanel::snapLengthChanged);
    QCOMPARE(panel.listeningPort(), std::uint16_t(0));
    panel.findChild<QSpinBox*>(QStringLiteral("phantomListenPort"))->setValue(41000);
    panel.findChild<QCheckBox*>(QStringLiteral("phantomListen"))->setChecked(true);
    QCOMPARE(panel.listeningPort(), std::uint16_t(41000));
    QCOMPARE(listening.last().first().toUInt(), 41000u);
    // connect's default target port follows.
    panel.form()->setCall(peer::Call::Connect);
    QVERIFY2(panel.form()->line().endsWith(QStringLiteral(" 41000")),
             qPrintable(panel.form()->line()));

    QCOMPARE(panel.advertisedWindow(), std::nullopt);
    panel.findChild<QComboBox*>(QStringLiteral("phantomWindowMode"))->setCurrentIndex(1);
    panel.findChild<QSpinBox*>(QStringLiteral("phantomWindow"))->setValue(8192);
    QCOMPARE(panel.advertisedWindow(), std::optional<std::uint16_t>(8192));
    panel.findChild<QPushButton*>(QStringLiteral("phantomZeroWindow"))->click();
    QCOMPARE(panel.advertisedWindow(), std::optional<std::uint16_t>(0));
    QCOMPARE(window.last().first().value<std::optional<std::uint16_t>>(),
             std::optional<std::uint16_t>(0));
    // Open gives back the window before the zero one.
    panel.findChild<QPushButton*>(QStringLiteral("phantomOpenWindow"))->click();
    QCOMPARE(panel.advertisedWindow(), std::optional<std::uint16_t>(8192));
    panel.setAdvertisedWindow(std::nullopt);
    QCOMPARE(window.last().first().value<std::optional<std::uint16_t>>(), std::nullopt);

    panel.setSnapLength(128);
    QCOMPARE(panel.snapLength(), std::size_t(128));
    QCOMPARE(snap.last().first().toULongLong(), 128ull);
}

void TestPeerPanel::noAgent_saysWhy() {
    ui::PeerPanel panel;
    QVERIFY(panel.status().contains(QStringLiteral("Start the lab")));
    panel.setAgentStatus(false, QStringLiteral("no agent at /run/tcplab-lab/agent.sock: start "
                                               "it with scripts/tcplab-lab up"));
    QVERIFY(panel.status().contains(QStringLiteral("tcplab-lab up")));
    const auto* status = panel.findChild<QLabel*>(QStringLiteral("peerStatus"));
    QCOMPARE(status->palette().color(QPalette::WindowText), ui::errorColor(panel.palette()));
}

QTEST_MAIN(TestPeerPanel)
#include "tst_peer_panel.moc"
