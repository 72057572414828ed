// The click-through handshake demo, clicked through against the built-in lab: each
// step pre-fills the editor, Fire sends it, the ladder holds one arrow per segment.
// Also the editor's link to Fire: an invalid field blocks it, an edit reaches the bytes.
#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QRadioButton>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTest>

#include "ui/demo_panel.h"
#include "ui/engine_worker.h"
#include "ui/hex_view.h"
#include "ui/ladder_view.h"
#include "ui/main_window.h"
#include "ui/peer_panel.h"
#include "ui/peer_socket_model.h"
#include "ui/segment_editor.h"
#include "ui/timeline_model.h"

using namespace tcplab;

namespace {

/// The TCP rows' flags, in order ("SYN", "SYN, ACK", ...).
QStringList tcpFlags(const ui::TimelineModel& model) {
    QStringList flags;
    for (int row = 0; row < model.rowCount(); ++row)
        if (model.row(row).tcp)
            flags << model.data(model.index(row, ui::TimelineModel::Flags)).toString();
    return flags;
}

/// Clicks the demo through: fires every Send step as pre-filled, waits for the peer
/// on Await steps. Bounded: 40 clicks, 10 s per step.
bool clickThrough(ui::MainWindow& window, QString& why) {
    QSignalSpy finished(window.demo(), &ui::DemoPanel::demoFinished);
    QSignalSpy prefilled(window.demo(), &ui::DemoPanel::prefillReady);
    window.startDemo();
    for (int click = 0; click < 40 && finished.isEmpty(); ++click) {
        if (!QTest::qWaitFor([&] { return !prefilled.isEmpty() || !finished.isEmpty(); }, 10'000)) {
            // The notes are long: print them whole (QTest cuts a failure message short).
            for (const QString& note : window.demo()->notes())
                qInfo("demo note: %s", qPrintable(note));
            why = QStringLiteral("no step after click %1 (the notes are above)").arg(click);
            return false;
        }
        if (!finished.isEmpty())
            break;
        prefilled.clear();
        const QString error = window.fire();
        if (!error.isEmpty()) {
            why = error;
            return false;
        }
    }
    if (!QTest::qWaitFor([&] { return !finished.isEmpty(); }, 10'000)) {
        why = QStringLiteral("the demo did not finish");
        return false;
    }
    if (!finished.first().first().toBool()) {
        why = finished.first().at(1).toString();
        return false;
    }
    return true;
}

/// The Fire action of the Segment menu (Ctrl+Return).
QAction* fireAction(ui::MainWindow& window) {
    for (QAction* action : window.findChildren<QAction*>())
        if (action->text() == QStringLiteral("&Fire"))
            return action;
    return nullptr;
}

/// Clicks the passive walk through: Make the call on Peer steps (the first one by the Fire
/// action's keys, Ctrl+Return, the others by the button), Fire on Send steps, waits on the
/// others. Bounded: 40 clicks, 10 s per step.
bool clickThroughPassive(ui::MainWindow& window, QString& why) {
    ui::DemoPanel* demo = window.demo();
    QSignalSpy finished(demo, &ui::DemoPanel::demoFinished);
    QSignalSpy prefilled(demo, &ui::DemoPanel::prefillReady);
    QSignalSpy calls(demo, &ui::DemoPanel::peerCallRequested);
    auto* makeCall = window.findChild<QPushButton*>(QStringLiteral("demoMakeCall"));
    QAction* fire = fireAction(window);
    if (!makeCall || !fire) {
        why = QStringLiteral("no Make the call button or Fire action");
        return false;
    }
    window.startPassiveDemo();
    for (int click = 0; click < 40 && finished.isEmpty(); ++click) {
        if (!QTest::qWaitFor(
                [&] { return demo->peerCallDue() || !prefilled.isEmpty() || !finished.isEmpty(); },
                10'000)) {
            for (const QString& note : demo->notes())
                qInfo("demo note: %s", qPrintable(note));
            why = QStringLiteral("no step after click %1 (the notes are above); at: %2")
                      .arg(click)
                      .arg(demo->explanationText());
            return false;
        }
        if (!finished.isEmpty())
            break;
        if (demo->peerCallDue()) {
            if (!makeCall->isEnabled()) {
                why = QStringLiteral("Make the call is disabled on a peer step");
                return false;
            }
            const qsizetype before = calls.count();
            if (calls.isEmpty())
                fire->trigger(); // Ctrl+Return makes the call in a peer step
            else
                makeCall->click();
            if (calls.count() != before + 1) {
                why = QStringLiteral("the click made no call");
                return false;
            }
            continue;
        }
        prefilled.clear();
        const QString error = window.fire();
        if (!error.isEmpty()) {
            why = error;
            return false;
        }
    }
    if (!QTest::qWaitFor([&] { return !finished.isEmpty(); }, 10'000)) {
        why = QStringLiteral("the demo did not finish");
        return false;
    }
    if (!finished.first().first().toBool()) {
        for (const QString& note : demo->notes())
            qInfo("demo note: %s", qPrintable(note));
        why = finished.first().at(1).toString();
        return false;
    }
    return true;
}

} // namespace

class TestDemo : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void demo_clicksThroughTheClassicExercise_data();
    void demo_clicksThroughTheClassicExercise();
    void editor_invalidFieldBlocksFire_andEditsReachTheHexView();
    void demo_sendAgain_recoversFromADroppedSyn();
    void demo_kernelConnectsToYou_clicksThrough();
};

void TestDemo::initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    qputenv("TCPLAB_LAB_HELPER", TCPLAB_LAB_HELPER_PATH);
    // The peer agent is built beside the helper (app/); the passive walk needs it.
    const QString agent = QFileInfo(QStringLiteral(TCPLAB_LAB_HELPER_PATH)).absolutePath() +
                          QStringLiteral("/tcplab-peer-agent");
    if (qEnvironmentVariableIsEmpty("TCPLAB_PEER_AGENT") && QFileInfo(agent).isExecutable())
        qputenv("TCPLAB_PEER_AGENT", agent.toLocal8Bit());
    ui::EngineWorker probe;
    QSignalSpy failed(&probe, &ui::EngineWorker::labFailed);
    probe.startLab(false);
    if (!failed.isEmpty())
        QSKIP(qPrintable(failed.first().first().toString()));
    probe.stop();
}

void TestDemo::demo_clicksThroughTheClassicExercise_data() {
    QTest::addColumn<bool>("rst");
    QTest::addColumn<bool>("ipv6");
    QTest::newRow("fin-v4") << false << false;
    QTest::newRow("rst-v4") << true << false;
    QTest::newRow("fin-v6") << false << true;
}

void TestDemo::demo_clicksThroughTheClassicExercise() {
    QFETCH(bool, rst);
    QFETCH(bool, ipv6);
    ui::MainWindow window;
    window.resize(1500, 920);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QVERIFY(window.setLabChoice(QStringLiteral("linux")));
    window.findChild<QComboBox*>(QStringLiteral("family"))->setCurrentIndex(ipv6 ? 1 : 0);
    window.findChild<QRadioButton*>(rst ? QStringLiteral("demoRst") : QStringLiteral("demoFin"))
        ->setChecked(true);

    QString why;
    QVERIFY2(clickThrough(window, why), qPrintable(why));
    QTest::qWait(300); // the last frames reach the model on the next poll

    const QStringList flags = tcpFlags(*window.model());
    QVERIFY2(flags.size() >= 6, qPrintable(flags.join(QStringLiteral(" | "))));
    QCOMPARE(flags.mid(0, 4), (QStringList{QStringLiteral("SYN"), QStringLiteral("SYN, ACK"),
                                           QStringLiteral("ACK"), QStringLiteral("PSH, ACK")}));
    if (rst)
        QVERIFY(flags.contains(QStringLiteral("RST")) ||
                flags.contains(QStringLiteral("RST, ACK")));
    else
        QVERIFY(flags.contains(QStringLiteral("FIN, ACK")));
    // One arrow per TCP segment in the timeline, each labelled with its flags.
    QCOMPARE(window.ladder()->arrowCount(), flags.size());
    QCOMPARE(window.ladder()->rowCount(), window.model()->rowCount());
    for (int row = 0; row < window.model()->rowCount(); ++row) {
        if (!window.model()->row(row).tcp)
            continue;
        const QString label = window.ladder()->row(row).label;
        QVERIFY2(label.startsWith(ui::flagWords(window.model()->row(row).flags)),
                 qPrintable(label));
    }
    // The whole response arrived, and the walk says what happened.
    QVERIFY(window.demo()->walkthrough()->receivedData().size() > 100);
    QVERIFY(!window.demo()->notes().isEmpty());

    if (!rst && !ipv6) {
        const QString dir = QStringLiteral(TCPLAB_BINARY_DIR "/tests/ui-output");
        QDir().mkpath(dir);
        QVERIFY(window.grab().save(dir + QStringLiteral("/demo-done.png")));
    }
}

void TestDemo::editor_invalidFieldBlocksFire_andEditsReachTheHexView() {
    ui::MainWindow window;
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QSignalSpy resolved(window.worker(), &ui::EngineWorker::peerResolved);
    window.startLab();
    QTRY_VERIFY_WITH_TIMEOUT(!resolved.isEmpty(), 10'000);
    // The editor holds a SYN to the peer now.
    QTRY_VERIFY(window.editor()->frameBytes().has_value());
    const auto before = *window.editor()->frameBytes();

    auto* ack = window.findChild<QLineEdit*>(QStringLiteral("tcp.ack"));
    QVERIFY(ack);
    ack->setFocus();
    ack->selectAll();
    QTest::keyClicks(ack, QStringLiteral("4294967296"));
    QTRY_VERIFY(!window.editor()->isValid());
    auto* fireButton = window.findChild<QPushButton*>(QStringLiteral("fire"));
    QVERIFY(!fireButton->isEnabled());
    const auto sentRows = [&] {
        int sent = 0;
        for (int row = 0; row < window.model()->rowCount(); ++row)
            sent += window.model()->row(row).direction == timeline::Direction::Sent ? 1 : 0;
        return sent;
    };
    const int sent = sentRows();
    QVERIFY(!window.fire().isEmpty());
    QTest::qWait(200);
    QCOMPARE(sentRows(), sent); // nothing was sent

    ack->selectAll();
    QTest::keyClicks(ack, QStringLiteral("305419896")); // 0x12345678
    QTRY_VERIFY(window.editor()->isValid());
    QVERIFY(fireButton->isEnabled());
    const auto after = *window.editor()->frameBytes();
    // The hex view shows the edited frame, and the ack's four bytes are the only TCP
    // header bytes besides the checksum that changed.
    QCOMPARE(window.hexView()->frame(), after);
    const std::size_t tcpStart = 14 + 20;
    QCOMPARE(after[tcpStart + 8], std::uint8_t(0x12));
    QCOMPARE(after[tcpStart + 11], std::uint8_t(0x78));
    for (std::size_t i = tcpStart; i < tcpStart + 20; ++i) {
        const bool ackByte = i >= tcpStart + 8 && i < tcpStart + 12;
        const bool checksum = i == tcpStart + 16 || i == tcpStart + 17;
        if (!ackByte && !checksum)
            QCOMPARE(after[i], before[i]);
    }
    // The hex view highlights the field under the editor's cursor.
    ack->setFocus();
    QTRY_COMPARE(window.hexView()->highlightedRange(), qMakePair(int(tcpStart + 8), 4));
}

void TestDemo::demo_sendAgain_recoversFromADroppedSyn() {
    ui::MainWindow window;
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QSignalSpy prefilled(window.demo(), &ui::DemoPanel::prefillReady);
    window.startDemo();
    QTRY_VERIFY_WITH_TIMEOUT(!prefilled.isEmpty(), 10'000);
    prefilled.clear();
    // Spoil the SYN's IPv4 header checksum: the peer's kernel drops it without a word.
    auto* autoSum = window.findChild<QCheckBox*>(QStringLiteral("ipv4.chksum.auto"));
    auto* sum = window.findChild<QLineEdit*>(QStringLiteral("ipv4.chksum"));
    QVERIFY(autoSum && sum);
    autoSum->setChecked(false);
    sum->setText(QStringLiteral("0x0bad"));
    QTRY_VERIFY(window.editor()->isValid());
    QCOMPARE(window.fire(), QString());
    auto* again = window.findChild<QPushButton*>(QStringLiteral("demoSendAgain"));
    QVERIFY(again);
    QTRY_VERIFY_WITH_TIMEOUT(again->isEnabled(), 5'000);
    QTest::qWait(500);
    QVERIFY(prefilled.isEmpty()); // no answer: still waiting for the SYN-ACK
    again->click();
    QCOMPARE(prefilled.count(), 1);
    // The SYN again, with a checksum the editor computes.
    const auto spec = window.editor()->spec();
    QVERIFY(spec);
    QCOMPARE(spec->tcp.flags, wire::tcp_flags::kSyn);
    QVERIFY(window.findChild<QCheckBox*>(QStringLiteral("ipv4.chksum.auto"))->isChecked());
    prefilled.clear();
    QCOMPARE(window.fire(), QString());
    // The peer answers now: the walk moves on to the ACK.
    QTRY_VERIFY_WITH_TIMEOUT(!prefilled.isEmpty(), 5'000);
    QCOMPARE(prefilled.first().at(1).toString(), QStringLiteral("ACK"));
}

void TestDemo::demo_kernelConnectsToYou_clicksThrough() {
    const QString agent = qEnvironmentVariable("TCPLAB_PEER_AGENT");
    if (agent.isEmpty() || !QFileInfo(agent).isExecutable())
        QSKIP("no tcplab-peer-agent beside tcplab-lab-helper: build the tcplab-peer-agent target");
    QElapsedTimer timer;
    timer.start();
    ui::MainWindow window;
    window.resize(1500, 920);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QVERIFY(window.setLabChoice(QStringLiteral("linux")));
    window.findChild<QComboBox*>(QStringLiteral("family"))->setCurrentIndex(0);

    QString why;
    QVERIFY2(clickThroughPassive(window, why), qPrintable(why));
    QCOMPARE(window.demo()->walk(), ui::DemoWalk::Passive);
    const auto* walk = window.demo()->walkthrough();
    QVERIFY(walk && walk->finished() && !walk->failed());
    // The peer's write arrived whole; the walk checked every call's answer.
    const std::string data(walk->receivedData().begin(), walk->receivedData().end());
    QCOMPARE(data, std::string("Hello from the peer's kernel\r\n"));
    const QString notes = window.demo()->notes().join(QLatin1Char('\n'));
    const QString connect =
        QStringLiteral("connect(3, 198.18.0.2:%1) = 0").arg(walk->params().sourcePort);
    QVERIFY2(notes.contains(connect), qPrintable(notes));
    QVERIFY2(notes.contains(QStringLiteral("read(3, 100) = 12")), qPrintable(notes));

    // The kernel opened the connection: its SYN came first, the phantom's SYN-ACK answered.
    QTest::qWait(300); // the last frames reach the model on the next poll
    const QStringList flags = tcpFlags(*window.model());
    QVERIFY2(flags.size() >= 6, qPrintable(flags.join(QStringLiteral(" | "))));
    QCOMPARE(flags.mid(0, 3), (QStringList{QStringLiteral("SYN"), QStringLiteral("SYN, ACK"),
                                           QStringLiteral("ACK")}));
    for (int row = 0; row < window.model()->rowCount(); ++row)
        if (window.model()->row(row).tcp) {
            QCOMPARE(window.model()->row(row).direction, timeline::Direction::Received);
            break;
        }
    // The Peer dock saw the walk's calls too, and the kernel's socket.
    QVERIFY(window.peerPanel()->history()->count() >= 5);
    QVERIFY(window.peerPanel()->sockets()->rowCount() >= 1);
    // The CSV export carries the calls and the samples after the segments.
    const QString dir = QStringLiteral(TCPLAB_BINARY_DIR "/tests/ui-output");
    QDir().mkpath(dir);
    const QString csv = dir + QStringLiteral("/passive.csv");
    QCOMPARE(window.exportTimeline(csv), QString());
    QFile file(csv);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QByteArray text = file.readAll();
    QVERIFY(text.startsWith("frame,time,direction,"));
    const qsizetype peerSection = text.indexOf("\r\n\r\nrecord,time,kind,");
    QVERIFY(peerSection > 0);
    QVERIFY(text.indexOf(",syscall,3,", peerSection) > 0);
    QVERIFY(text.indexOf(",tcp_info,3,", peerSection) > 0);
    qInfo("the passive walk took %lld ms", qint64(timer.elapsed()));
}

QTEST_MAIN(TestDemo)
#include "tst_demo.moc"
