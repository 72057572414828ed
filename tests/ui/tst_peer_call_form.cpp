// PeerCallForm: each call's form writes exactly the request the call grammar reads from the
// same line; a typed line fills the form; a parse error or an option value that does not
// encode is shown at its field and blocks Call.
#include <QCheckBox>
#include <QComboBox>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QTest>

#include "peer/call_text.h"
#include "ui/peer_call_form.h"
#include "ui/peer_panel.h"

#include <cstring>

using namespace tcplab;

namespace {

/// Applies "name=value" settings to the form's widgets as a user would: a line edit is
/// typed into (textEdited), a combo chosen by its text, a check box ticked ("1") or not.
bool apply(QWidget& form, const QStringList& settings, QString& why) {
    for (const QString& setting : settings) {
        const qsizetype eq = setting.indexOf(QLatin1Char('='));
        const QString name = setting.left(eq);
        const QString value = setting.mid(eq + 1);
        if (auto* line = form.findChild<QLineEdit*>(name)) {
            line->setText(value);
            Q_EMIT line->textEdited(value);
        } else if (auto* combo = form.findChild<QComboBox*>(name)) {
            if (combo->isEditable()) {
                combo->setEditText(value);
            } else {
                const int index = combo->findText(value);
                if (index < 0) {
                    why = QStringLiteral("%1 has no item %2").arg(name, value);
                    return false;
                }
                combo->setCurrentIndex(index);
            }
        } else if (auto* box = form.findChild<QCheckBox*>(name)) {
            box->setChecked(value == QLatin1String("1"));
        } else {
            why = QStringLiteral("no widget %1").arg(name);
            return false;
        }
    }
    return true;
}

} // namespace

class TestPeerCallForm : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void form_makesTheRequestOfTheGrammar_data();
    void form_makesTheRequestOfTheGrammar();
    void typedLine_fillsTheForm();
    void parseError_isShownAtTheLine_andBlocksCall();
    void invalidOptionValue_blocksCall();
    void knownFds_offeredAndNewestTaken();
};

void TestPeerCallForm::form_makesTheRequestOfTheGrammar_data() {
    QTest::addColumn<QStringList>("settings");
    QTest::addColumn<QString>("line");
    const auto row = [](const char* name, QStringList settings, const char* line) {
        QTest::newRow(name) << settings << QString::fromLatin1(line);
    };
    row("socket", {"peerCall=socket"}, "socket inet");
    row("socket inet6 nonblock",
        {"peerCall=socket", "peer.socket.family=inet6", "peer.socket.nonblock=1"},
        "socket inet6 nonblock");
    row("bind any", {"peerCall=bind", "peerFd=3", "peer.bind.port=5000"}, "bind 3 5000");
    row("bind address",
        {"peerCall=bind", "peerFd=3", "peer.bind.address=198.18.0.1", "peer.bind.port=5001"},
        "bind 3 198.18.0.1 5001");
    row("listen", {"peerCall=listen", "peerFd=3", "peer.listen.backlog=4"}, "listen 3 4");
    row("accept", {"peerCall=accept", "peerFd=3"}, "accept 3");
    row("connect",
        {"peerCall=connect", "peerFd=5", "peer.connect.address=198.18.0.2",
         "peer.connect.port=40000"},
        "connect 5 198.18.0.2 40000");
    row("connect v6",
        {"peerCall=connect", "peerFd=5", "peer.connect.address=2001:db8::2",
         "peer.connect.port=40000"},
        "connect 5 2001:db8::2 40000");
    row("read count", {"peerCall=read", "peerFd=4", "peer.read.count=64k", "peer.read.peek=1"},
        "read 4 64k peek");
    row("read stop",
        {"peerCall=read", "peerFd=4", "peer.read.mode=stop reading (the window closes)"},
        "read 4 stop");
    row("read all", {"peerCall=read", "peerFd=4", "peer.read.mode=read all that comes (drain on)"},
        "read 4 all");
    row("write pattern", {"peerCall=write", "peerFd=4", "peer.write.data=4M"}, "write 4 4M");
    row("write text more",
        {"peerCall=write", "peerFd=4", "peer.write.mode=text",
         "peer.write.data=GET \\\"x\\\"\\r\\n", "peer.write.more=1"},
        "write 4 \"GET \\\"x\\\"\\r\\n\" more");
    row("write hex",
        {"peerCall=write", "peerFd=4", "peer.write.mode=hex bytes", "peer.write.data=0a0b0c"},
        "write 4 hex:0a0b0c");
    row("shutdown", {"peerCall=shutdown", "peerFd=4", "peer.shutdown.how=rdwr"}, "shutdown 4 rdwr");
    row("close", {"peerCall=close", "peerFd=4"}, "close 4");
    row("poll", {"peerCall=poll", "peerFd=4", "peer.poll.timeout=100", "peer.poll.out=1"},
        "poll 100 4 in,out");
    row("fcntl getfl", {"peerCall=fcntl", "peerFd=4"}, "fcntl 4 getfl");
    row("fcntl nonblock", {"peerCall=fcntl", "peerFd=4", "peer.fcntl.command=setfl nonblock"},
        "fcntl 4 setfl nonblock");
    row("setsockopt nodelay",
        {"peerCall=setsockopt", "peerFd=4", "peer.setsockopt.option=TCP_NODELAY",
         "peer.setsockopt.value=1"},
        "setsockopt 4 TCP_NODELAY 1");
    row("setsockopt linger",
        {"peerCall=setsockopt", "peerFd=4", "peer.setsockopt.option=SO_LINGER",
         "peer.setsockopt.value=1,0"},
        "setsockopt 4 SO_LINGER 1,0");
    row("setsockopt congestion",
        {"peerCall=setsockopt", "peerFd=4", "peer.setsockopt.option=TCP_CONGESTION",
         "peer.setsockopt.value=reno"},
        "setsockopt 4 TCP_CONGESTION reno");
    row("getsockopt", {"peerCall=getsockopt", "peerFd=4", "peer.getsockopt.option=SO_RCVBUF"},
        "getsockopt 4 SO_RCVBUF");
    row("getsockopt tcp_info", {"peerCall=getsockopt", "peerFd=4"}, "getsockopt 4 TCP_INFO");
    row("ioctl", {"peerCall=ioctl", "peerFd=4", "peer.ioctl.request=SIOCOUTQ"}, "ioctl 4 SIOCOUTQ");
    row("sysctl read", {"peerCall=sysctl", "peer.sysctl.key=net.ipv4.tcp_sack"},
        "sysctl net.ipv4.tcp_sack");
    row("sysctl write",
        {"peerCall=sysctl", "peer.sysctl.key=net.ipv4.tcp_rmem",
         "peer.sysctl.value=4096 131072 6291456"},
        "sysctl net.ipv4.tcp_rmem=4096 131072 6291456");
    row("sysctl-list", {"peerCall=sysctl-list", "peer.sysctl-list.prefix=net.ipv4.tcp_"},
        "sysctl-list net.ipv4.tcp_");
    row("drain", {"peerCall=drain", "peerFd=4", "peer.drain.on=off"}, "drain 4 off");
    row("sample", {"peerCall=sample"}, "sample");
}

void TestPeerCallForm::form_makesTheRequestOfTheGrammar() {
    QFETCH(QStringList, settings);
    QFETCH(QString, line);
    ui::PeerCallForm form;
    QString why;
    QVERIFY2(apply(form, settings, why), qPrintable(why));
    const auto expected = peer::parseCall(line.toStdString());
    QVERIFY2(expected, expected ? "" : expected.error().c_str());
    QVERIFY2(form.isValid(), qPrintable(form.errorText() + QStringLiteral(" in: ") + form.line()));
    QCOMPARE(form.line(), line);
    QVERIFY(*form.request() == *expected);
}

void TestPeerCallForm::typedLine_fillsTheForm() {
    ui::PeerCallForm form;
    form.setLine(QStringLiteral("connect 7 198.18.0.2 40001"));
    QVERIFY(form.isValid());
    QCOMPARE(form.call(), peer::Call::Connect);
    QCOMPARE(form.findChild<QComboBox*>(QStringLiteral("peerFd"))->currentText(),
             QStringLiteral("7"));
    QCOMPARE(form.findChild<QLineEdit*>(QStringLiteral("peer.connect.port"))->text(),
             QStringLiteral("40001"));
    // The line is the user's: the form follows it, it is not rewritten.
    QCOMPARE(form.line(), QStringLiteral("connect 7 198.18.0.2 40001"));

    form.setLine(QStringLiteral("setsockopt 4 SO_LINGER 1,5"));
    QCOMPARE(form.call(), peer::Call::SetSockOpt);
    QCOMPARE(form.findChild<QComboBox*>(QStringLiteral("peer.setsockopt.option"))->currentText(),
             QStringLiteral("SO_LINGER"));
    QCOMPARE(form.findChild<QLineEdit*>(QStringLiteral("peer.setsockopt.value"))->text(),
             QStringLiteral("1,5"));
    // An edit of the form now writes the line again from the form.
    auto* value = form.findChild<QLineEdit*>(QStringLiteral("peer.setsockopt.value"));
    value->setText(QStringLiteral("1,0"));
    Q_EMIT value->textEdited(value->text());
    QCOMPARE(form.line(), QStringLiteral("setsockopt 4 SO_LINGER 1,0"));
}

void TestPeerCallForm::parseError_isShownAtTheLine_andBlocksCall() {
    ui::PeerPanel panel;
    panel.show();
    auto* call = panel.findChild<QPushButton*>(QStringLiteral("peerCallButton"));
    QVERIFY(call && call->isEnabled());
    QSignalSpy validity(panel.form(), &ui::PeerCallForm::validityChanged);
    panel.form()->setLine(QStringLiteral("connect 3 nowhere 40000"));
    QVERIFY(!panel.form()->isValid());
    QVERIFY(!call->isEnabled());
    QCOMPARE(validity.count(), 1);
    const auto* line = panel.findChild<QLineEdit*>(QStringLiteral("peerCallLine"));
    QVERIFY(line->property("invalid").toBool());
    const auto* error = panel.findChild<QLabel*>(QStringLiteral("peerCallError"));
    QVERIFY(error->isVisible());
    QCOMPARE(error->text(),
             QString::fromStdString(peer::parseCall("connect 3 nowhere 40000").error()));
    QSignalSpy requested(&panel, &ui::PeerPanel::callRequested);
    QVERIFY(!panel.makeCall());
    QCOMPARE(requested.count(), 0);

    panel.form()->setLine(QStringLiteral("connect 3 198.18.0.2 40000"));
    QVERIFY(call->isEnabled());
    QVERIFY(!line->property("invalid").toBool());
    QVERIFY(!error->isVisible());
}

void TestPeerCallForm::invalidOptionValue_blocksCall() {
    ui::PeerPanel panel;
    panel.show();
    auto* call = panel.findChild<QPushButton*>(QStringLiteral("peerCallButton"));
    QString why;
    QVERIFY2(apply(*panel.form(),
                   {"peerCall=setsockopt", "peerFd=3", "peer.setsockopt.option=SO_LINGER",
                    "peer.setsockopt.value=on"},
                   why),
             qPrintable(why));
    auto* value = panel.findChild<QLineEdit*>(QStringLiteral("peer.setsockopt.value"));
    QVERIFY(!panel.form()->isValid());
    QVERIFY(!call->isEnabled());
    // The reason at the value field: encodeOptionValue's own sentence.
    QVERIFY(value->property("invalid").toBool());
    const auto* linger = peer::findOption("SO_LINGER");
    QCOMPARE(value->toolTip(),
             QString::fromStdString(peer::encodeOptionValue(*linger, "on").error()));
    QSignalSpy requested(&panel, &ui::PeerPanel::callRequested);
    call->click();
    QCOMPARE(requested.count(), 0);

    QVERIFY(apply(*panel.form(), {"peer.setsockopt.value=1,0"}, why));
    QVERIFY(panel.form()->isValid());
    QVERIFY(!value->property("invalid").toBool());
    QVERIFY(call->isEnabled());
    call->click();
    QCOMPARE(requested.count(), 1);
    const auto r = requested.first().first().value<peer::Request>();
    QCOMPARE(r.call, peer::Call::SetSockOpt);
    QCOMPARE(r.fd, 3);
    QCOMPARE(r.data, *peer::encodeOptionValue(*linger, "1,0"));
}

void TestPeerCallForm::knownFds_offeredAndNewestTaken() {
    ui::PeerCallForm form;
    form.setCall(peer::Call::Accept);
    form.setKnownFds({3, 5});
    auto* fd = form.findChild<QComboBox*>(QStringLiteral("peerFd"));
    QCOMPARE(fd->count(), 2);
    QCOMPARE(fd->itemText(1), QStringLiteral("5"));
    form.setCurrentFd(5);
    QCOMPARE(form.line(), QStringLiteral("accept 5"));
    // Defaults follow the lab: connect goes to the phantom's address and listening port.
    form.setPhantom(QStringLiteral("2001:db8::2"), true);
    form.setConnectPort(41000);
    form.setCall(peer::Call::Connect);
    QCOMPARE(form.line(), QStringLiteral("connect 5 2001:db8::2 41000"));
    form.setCall(peer::Call::Socket);
    QCOMPARE(form.line(), QStringLiteral("socket inet6"));
}

QTEST_MAIN(TestPeerCallForm)
#include "tst_peer_call_form.moc"
