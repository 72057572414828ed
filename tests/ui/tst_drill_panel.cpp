// DrillPanel and EngineWorker::runDrill: a packetdrill script in the desktop lab. The
// panel alone, driven by the worker's signals as they would come (no lab); then scripts
// run through the worker and the main window against the built-in Linux lab (skipped
// when it cannot start here), stepping included.
#include <QAction>
#include <QDir>
#include <QDockWidget>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QPlainTextEdit>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTest>
#include <QTextBlock>

#include "ui/drill_panel.h"
#include "ui/engine_worker.h"
#include "ui/ladder_view.h"
#include "ui/main_window.h"
#include "ui/timeline_model.h"
#include "wire/frame.h"

using namespace tcplab;

namespace {

QString dataFile(const char* name) {
    return QStringLiteral(TCPLAB_TEST_DATA "/drill/") + QString::fromLatin1(name);
}

/// packetdrill's words for wrong_ack.pkt's last line, as DrillRunner writes them.
const char* const kWrongAck =
    "error handling packet: live packet field tcp_ack: expected: 102 (0x66) vs actual: 101 "
    "(0x65)\nscript packet:  0.100000 . 1:1(0) ack 102\nactual packet:  0.100321 . 1:1(0) "
    "ack 101 win 249";

/// The backgrounds of the view's extra selections by 1-based line.
std::map<int, QColor> washes(const ui::DrillPanel& panel) {
    std::map<int, QColor> out;
    for (const auto& s : panel.scriptView()->extraSelections())
        out[s.cursor.block().blockNumber() + 1] = s.format.background().color();
    return out;
}

bool greenish(const QColor& c) {
    return c.green() > c.red() && c.green() > c.blue();
}
bool reddish(const QColor& c) {
    return c.red() > 2 * c.green() && c.red() > 2 * c.blue();
}
/// The current line's wash: amber, neither the passed green nor the failed red.
bool amber(const QColor& c) {
    return !greenish(c) && !reddish(c) && c.blue() < c.green();
}

/// Starts the built-in Linux lab on `worker` and waits for the peer: false (why) when it
/// cannot start here.
bool startLab(ui::EngineWorker& worker, QString& why) {
    QSignalSpy failed(&worker, &ui::EngineWorker::labFailed);
    QSignalSpy resolved(&worker, &ui::EngineWorker::peerResolved);
    worker.startLab(false);
    if (!failed.isEmpty()) {
        why = failed.first().first().toString();
        return false;
    }
    if (!resolved.wait(10'000) && resolved.isEmpty()) {
        why = QStringLiteral("the lab's peer was not resolved within 10 s");
        return false;
    }
    return true;
}

/// The steps of a drillStep spy with `what` ("started", "done", "failed").
QList<int> stepsOf(const QSignalSpy& spy, const QString& what) {
    QList<int> steps;
    for (const auto& args : spy)
        if (args.at(1).toString() == what)
            steps << args.at(0).toInt();
    return steps;
}

} // namespace

class TestDrillPanel : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void splitFailure_takesThePacketLinesApart();
    void load_mapsStepsToLines();
    void load_scriptError_marksItsLine_andRunStaysOff();
    void events_highlightTheLine_tickPassed_andRedOnFailure();
    void events_passedRun_saysPassed();
    void keys_actInThePanel_andStepRunsOneLineAtATime();
    void worker_scriptErrorAndNoLab_runNothing();
    void worker_runsServerScript_againstTheLab();
    void worker_stepMode_runsOnlyTheFirstLineUntilStepped();
    void mainWindow_runsAndFails_selectingTheMismatch();

private:
    QString m_noLab; ///< why the built-in lab cannot start here (empty: it can)
};

void TestDrillPanel::initTestCase() {
    QStandardPaths::setTestModeEnabled(true); // QSettings away from the user's
    qputenv("TCPLAB_LAB_HELPER", TCPLAB_LAB_HELPER_PATH);
    // The scripts' calls are made by the peer agent, built beside the helper (app/).
    const QString agent = QFileInfo(QStringLiteral(TCPLAB_LAB_HELPER_PATH)).absolutePath() +
                          QStringLiteral("/tcplab-peer-agent");
    if (qEnvironmentVariableIsEmpty("TCPLAB_PEER_AGENT") && QFileInfo(agent).isExecutable())
        qputenv("TCPLAB_PEER_AGENT", agent.toLocal8Bit());
    // The panel's own tests need no lab; the live ones skip with this reason.
    ui::EngineWorker probe;
    QSignalSpy failed(&probe, &ui::EngineWorker::labFailed);
    probe.startLab(false);
    if (!failed.isEmpty())
        m_noLab = failed.first().first().toString();
    probe.stop();
    const QString agentPath = qEnvironmentVariable("TCPLAB_PEER_AGENT");
    if (m_noLab.isEmpty() && (agentPath.isEmpty() || !QFileInfo(agentPath).isExecutable()))
        m_noLab = QStringLiteral("no tcplab-peer-agent beside tcplab-lab-helper: build the "
                                 "tcplab-peer-agent target");
}

void TestDrillPanel::splitFailure_takesThePacketLinesApart() {
    const ui::DrillFailureText split = ui::splitDrillFailure(QString::fromLatin1(kWrongAck));
    QCOMPARE(split.expected, QStringLiteral("0.100000 . 1:1(0) ack 102"));
    QCOMPARE(split.actual, QStringLiteral("0.100321 . 1:1(0) ack 101 win 249"));
    QVERIFY(split.headline.startsWith(QStringLiteral("error handling packet: live packet field "
                                                     "tcp_ack")));
    // A timeout has the script's packet alone; a call's failure neither.
    const auto timeout = ui::splitDrillFailure(
        QStringLiteral("error: Timed out waiting for packet\nscript packet:  0.1 > S. 0:0(0)"));
    QCOMPARE(timeout.expected, QStringLiteral("0.1 > S. 0:0(0)"));
    QVERIFY(timeout.actual.isEmpty());
    const auto call = ui::splitDrillFailure(
        QStringLiteral("error: Expected result 0 but got -1 with errno 22 (Invalid argument)"));
    QVERIFY(call.expected.isEmpty());
    QVERIFY(call.headline.startsWith(QStringLiteral("error: Expected result 0")));
}

void TestDrillPanel::load_mapsStepsToLines() {
    ui::DrillPanel panel;
    QCOMPARE(panel.load(dataFile("lab/server.pkt")), QString());
    QVERIFY(panel.runnable());
    // 18 events; the comment, the option and the blank lines are not steps.
    QCOMPARE(panel.stepCount(), 18);
    QCOMPARE(panel.lineOfStep(0), 3);   // socket()
    QCOMPARE(panel.lineOfStep(4), 8);   // < S
    QCOMPARE(panel.lineOfStep(17), 24); // > . 1002:1002(0) ack 102
    QCOMPARE(panel.lineOfStep(18), 0);
    QVERIFY(panel.scriptView()->isReadOnly());
    QVERIFY(panel.scriptView()->toPlainText().contains(QStringLiteral("listen(3, 1) = 0")));
    QVERIFY(panel.runAction()->isEnabled());
    QVERIFY(panel.stepAction()->isEnabled());
    QVERIFY(!panel.stopAction()->isEnabled());
    QVERIFY2(panel.statusText().contains(QStringLiteral("18 lines")),
             qPrintable(panel.statusText()));
    // The gutter makes room for the line numbers.
    QVERIFY(panel.scriptView()->viewport()->geometry().left() > 10);
}

void TestDrillPanel::load_scriptError_marksItsLine_andRunStaysOff() {
    ui::DrillPanel panel;
    const QString path = dataFile("error/unknown_call.pkt");
    const QString error = panel.load(path);
    QVERIFY2(error.startsWith(path + QStringLiteral(":2:")), qPrintable(error));
    QVERIFY(!panel.runnable());
    QVERIFY(!panel.runAction()->isEnabled());
    QVERIFY(!panel.stepAction()->isEnabled());
    QCOMPARE(panel.statusText(), error);
    // The script is shown anyway, its line 2 red.
    QVERIFY(panel.scriptView()->toPlainText().contains(QStringLiteral("pipe([5, 6])")));
    const auto w = washes(panel);
    QVERIFY(w.count(2) == 1 && reddish(w.at(2)));
    QSignalSpy run(&panel, &ui::DrillPanel::runRequested);
    panel.run();
    QVERIFY(run.isEmpty());

    QVERIFY(
        panel.load(QStringLiteral("/nonexistent/x.pkt")).contains(QStringLiteral("cannot read")));
}

void TestDrillPanel::events_highlightTheLine_tickPassed_andRedOnFailure() {
    ui::DrillPanel panel;
    panel.resize(500, 700);
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    QCOMPARE(panel.load(dataFile("fail/wrong_ack.pkt")), QString());
    QCOMPARE(panel.stepCount(), 10);
    QSignalSpy run(&panel, &ui::DrillPanel::runRequested);
    panel.run();
    QCOMPARE(run.count(), 1);
    QCOMPARE(run.first().first().toBool(), false);
    QVERIFY(!panel.runAction()->isEnabled()); // asked: not twice
    panel.runStarted(false);
    QVERIFY(panel.running());
    QVERIFY(panel.stopAction()->isEnabled());

    // The first line runs: highlighted, nothing ticked.
    panel.onStep(0, QStringLiteral("started"), QStringLiteral("0 socket(...)"));
    QCOMPARE(panel.currentLine(), 3);
    QVERIFY(panel.passedLines().isEmpty());
    auto w = washes(panel);
    QCOMPARE(int(w.size()), 1);
    QVERIFY(w.count(3) == 1 && amber(w.at(3)));
    // It passes: ticked (green), and the next line is the current one.
    panel.onStep(0, QStringLiteral("done"), QString());
    QCOMPARE(panel.passedLines(), QList<int>{3});
    QCOMPARE(panel.currentLine(), 4);
    w = washes(panel);
    QVERIFY(greenish(w.at(3)));
    QCOMPARE(panel.statusText(), QStringLiteral("1 of 10 lines passed"));

    for (int step = 1; step < 9; ++step) {
        panel.onStep(step, QStringLiteral("started"), QString());
        panel.onStep(step, QStringLiteral("done"), QString());
    }
    QCOMPARE(panel.passedLines().size(), 9);
    QCOMPARE(panel.currentLine(), 12);
    QVERIFY(!panel.failureShown());

    // The last line fails on the peer's ACK: red, the two packets side by side.
    panel.onStep(9, QStringLiteral("started"), QString());
    panel.onStep(9, QStringLiteral("failed"), QString::fromLatin1(kWrongAck));
    panel.onFinished(false,
                     QStringLiteral("the peer's kernel acknowledged 101 where the script expects "
                                    "102"),
                     QString::fromLatin1(kWrongAck));
    QVERIFY(!panel.running());
    QCOMPARE(panel.failedLine(), 12);
    QCOMPARE(panel.currentLine(), 0);
    w = washes(panel);
    QVERIFY(reddish(w.at(12)));
    QVERIFY(greenish(w.at(11)));
    QCOMPARE(int(w.size()), 10); // nine ticked, one red
    QVERIFY(panel.failureShown());
    QCOMPARE(panel.expectedText(), QStringLiteral("0.100000 . 1:1(0) ack 102"));
    QCOMPARE(panel.actualText(), QStringLiteral("0.100321 . 1:1(0) ack 101 win 249"));
    QVERIFY(panel.headlineText().contains(QStringLiteral("tcp_ack")));
    QVERIFY2(panel.explanationText().contains(QStringLiteral("acknowledged 101")),
             qPrintable(panel.explanationText()));
    QCOMPARE(panel.statusText(), QStringLiteral("failed at line 12: 9 of 10 lines passed"));
    QVERIFY(panel.runAction()->isEnabled());

    // A new run starts over.
    panel.runStarted(false);
    QVERIFY(panel.passedLines().isEmpty());
    QCOMPARE(panel.failedLine(), 0);
    QVERIFY(!panel.failureShown());
}

void TestDrillPanel::events_passedRun_saysPassed() {
    ui::DrillPanel panel;
    QCOMPARE(panel.load(dataFile("lab/server.pkt")), QString());
    panel.runStarted(false);
    for (int step = 0; step < panel.stepCount(); ++step) {
        panel.onStep(step, QStringLiteral("started"), QString());
        panel.onStep(step, QStringLiteral("done"), QString());
    }
    panel.onFinished(true, QStringLiteral("every line of the script passed"), QString());
    QVERIFY(panel.statusText().startsWith(QStringLiteral("passed")));
    QCOMPARE(panel.passedLines().size(), 18);
    QCOMPARE(panel.currentLine(), 0);
    QVERIFY(!panel.failureShown());
}

void TestDrillPanel::keys_actInThePanel_andStepRunsOneLineAtATime() {
    ui::DrillPanel panel;
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    QCOMPARE(panel.load(dataFile("lab/server.pkt")), QString());
    QSignalSpy run(&panel, &ui::DrillPanel::runRequested);
    QSignalSpy step(&panel, &ui::DrillPanel::stepRequested);
    QSignalSpy rest(&panel, &ui::DrillPanel::continueRequested);
    QSignalSpy stop(&panel, &ui::DrillPanel::stopRequested);
    panel.scriptView()->setFocus();
    QTRY_VERIFY(panel.scriptView()->hasFocus());

    QTest::keyClick(panel.scriptView(), Qt::Key_F10);
    QCOMPARE(run.count(), 1);
    QCOMPARE(run.first().first().toBool(), true); // a stepped run
    panel.runStarted(true);
    QVERIFY(panel.stepping());
    panel.onStep(0, QStringLiteral("started"), QString());
    panel.onStep(0, QStringLiteral("done"), QString());
    // Waiting for Step: the next line is the highlighted one.
    QCOMPARE(panel.currentLine(), 4);
    QVERIFY(panel.statusText().contains(QStringLiteral("Step (F10)")));
    QTest::keyClick(panel.scriptView(), Qt::Key_F10);
    QCOMPARE(step.count(), 1);
    QCOMPARE(run.count(), 1);
    // F5 while stepping: the rest.
    QTest::keyClick(panel.scriptView(), Qt::Key_F5);
    QCOMPARE(rest.count(), 1);
    QVERIFY(!panel.stepping());
    QTest::keyClick(panel.scriptView(), Qt::Key_F5, Qt::ShiftModifier);
    QCOMPARE(stop.count(), 1);
    // The stop fails the current line; it is not the script's failure.
    panel.onStep(1, QStringLiteral("failed"), QStringLiteral("error: cancelled"));
    panel.onFinished(false, QStringLiteral("cancelled"), QStringLiteral("error: cancelled"));
    QCOMPARE(panel.failedLine(), 0);
    QVERIFY(!panel.failureShown());
    QVERIFY2(panel.statusText().startsWith(QStringLiteral("stopped at line 4")),
             qPrintable(panel.statusText()));
}

void TestDrillPanel::worker_scriptErrorAndNoLab_runNothing() {
    ui::EngineWorker worker;
    QSignalSpy steps(&worker, &ui::EngineWorker::drillStep);
    const QString path = dataFile("error/bad_option.pkt");
    const QString error = worker.runDrill(path, false);
    QVERIFY2(error.startsWith(path + QStringLiteral(":2:")), qPrintable(error));
    QVERIFY(!worker.drillRunning());
    const QString noLab = worker.runDrill(dataFile("lab/server.pkt"), false);
    QVERIFY2(noLab.startsWith(QStringLiteral("Start the lab first (Lab > Start)")),
             qPrintable(noLab));
    QVERIFY(!worker.drillRunning());
    QTest::qWait(50);
    QVERIFY(steps.isEmpty());
}

void TestDrillPanel::worker_runsServerScript_againstTheLab() {
    if (!m_noLab.isEmpty())
        QSKIP(qPrintable(m_noLab));
    ui::EngineWorker worker;
    QString why;
    QVERIFY2(startLab(worker, why), qPrintable(why));
    QSignalSpy steps(&worker, &ui::EngineWorker::drillStep);
    QSignalSpy finished(&worker, &ui::EngineWorker::drillFinished);
    QSignalSpy classic(&worker, &ui::EngineWorker::scenarioFinished);
    const QString path = dataFile("lab/server.pkt");
    QCOMPARE(worker.runDrill(path, false), QString());
    QVERIFY(worker.drillRunning());
    QVERIFY(!worker.drillStepping());
    QCOMPARE(int(worker.drillSteps().steps.size()), 18);
    QCOMPARE(worker.runDrill(path, false), QStringLiteral("A script is running: stop it first "
                                                          "(Shift+F5)."));
    QTRY_VERIFY_WITH_TIMEOUT(!finished.isEmpty(), 20'000);
    const auto& outcome = worker.lastDrill();
    QVERIFY2(finished.first().at(0).toBool(),
             qPrintable(finished.first().at(2).toString() + QLatin1Char('\n') +
                        finished.first().at(1).toString()));
    QVERIFY(outcome.finished && outcome.ok);
    QVERIFY(outcome.failure.isEmpty());
    QCOMPARE(outcome.failedStep, -1);
    QVERIFY(outcome.phantomPort >= 40000 && outcome.phantomPort < 60000);
    // Every line passed, each once; the classic exercise's signal stayed silent.
    QList<int> done = stepsOf(steps, QStringLiteral("done"));
    std::sort(done.begin(), done.end());
    QCOMPARE(done.size(), 18);
    QCOMPARE(done.first(), 0);
    QCOMPARE(done.last(), 17);
    QVERIFY(classic.isEmpty());
    QVERIFY(!worker.drillRunning());

    // The panel follows the same signals to "passed".
    ui::DrillPanel panel;
    QCOMPARE(panel.load(path), QString());
    panel.runStarted(false);
    for (const auto& args : steps)
        panel.onStep(args.at(0).toInt(), args.at(1).toString(), args.at(2).toString());
    panel.onFinished(true, finished.first().at(1).toString(), QString());
    QVERIFY2(panel.statusText().startsWith(QStringLiteral("passed: 18 of 18")),
             qPrintable(panel.statusText()));
    worker.stop();
}

void TestDrillPanel::worker_stepMode_runsOnlyTheFirstLineUntilStepped() {
    if (!m_noLab.isEmpty())
        QSKIP(qPrintable(m_noLab));
    ui::EngineWorker worker;
    QString why;
    QVERIFY2(startLab(worker, why), qPrintable(why));
    QSignalSpy steps(&worker, &ui::EngineWorker::drillStep);
    QSignalSpy finished(&worker, &ui::EngineWorker::drillFinished);
    QCOMPARE(worker.runDrill(dataFile("lab/server.pkt"), true), QString());
    QVERIFY(worker.drillStepping());
    // socket() runs, then the run waits for Step however long it takes.
    QTRY_VERIFY_WITH_TIMEOUT(stepsOf(steps, QStringLiteral("done")).contains(0), 10'000);
    QTest::qWait(1'500);
    for (const auto& args : steps)
        QVERIFY2(args.at(0).toInt() == 0, qPrintable(QStringLiteral("step %1 %2 before Step")
                                                         .arg(args.at(0).toInt())
                                                         .arg(args.at(1).toString())));
    QVERIFY(finished.isEmpty());

    worker.stepDrill(); // setsockopt()
    QTRY_VERIFY_WITH_TIMEOUT(stepsOf(steps, QStringLiteral("done")).contains(1), 10'000);
    QTest::qWait(300);
    QVERIFY(!stepsOf(steps, QStringLiteral("started")).contains(2));
    // Step by step through the handshake: bind, listen, < S, > S., < ., accept.
    for (int line = 2; line < 8; ++line) {
        worker.stepDrill();
        QTRY_VERIFY_WITH_TIMEOUT(stepsOf(steps, QStringLiteral("done")).contains(line), 10'000);
    }
    QVERIFY(finished.isEmpty());
    // The rest at once; times are not checked while stepping, so it still passes.
    worker.continueDrill();
    QTRY_VERIFY_WITH_TIMEOUT(!finished.isEmpty(), 20'000);
    QVERIFY2(finished.first().at(0).toBool(), qPrintable(finished.first().at(2).toString()));
    QVERIFY(!worker.drillStepping());

    // Stop: the stepped run ends at its current line, failed ("cancelled").
    finished.clear();
    steps.clear();
    QCOMPARE(worker.runDrill(dataFile("lab/server.pkt"), true), QString());
    QTRY_VERIFY_WITH_TIMEOUT(stepsOf(steps, QStringLiteral("done")).contains(0), 10'000);
    worker.stopDrill();
    QTRY_VERIFY_WITH_TIMEOUT(!finished.isEmpty(), 5'000);
    QVERIFY(!finished.first().at(0).toBool());
    QVERIFY2(finished.first().at(2).toString().contains(QStringLiteral("cancelled")),
             qPrintable(finished.first().at(2).toString()));
    QVERIFY(!worker.drillRunning());
    worker.stop();
}

void TestDrillPanel::mainWindow_runsAndFails_selectingTheMismatch() {
    if (!m_noLab.isEmpty())
        QSKIP(qPrintable(m_noLab));
    ui::MainWindow window;
    window.resize(1500, 920);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QVERIFY(window.setLabChoice(QStringLiteral("linux")));
    ui::DrillPanel* panel = window.drillPanel();
    QSignalSpy finished(window.worker(), &ui::EngineWorker::drillFinished);

    // server.pkt with F5 in the dock: the lab starts first, then the script passes.
    QCOMPARE(window.openDrill(dataFile("lab/server.pkt")), QString());
    QVERIFY(window.drillDock()->isVisible());
    panel->scriptView()->setFocus();
    QTRY_VERIFY(panel->scriptView()->hasFocus());
    QTest::keyClick(panel->scriptView(), Qt::Key_F5);
    QTRY_VERIFY_WITH_TIMEOUT(!finished.isEmpty(), 30'000);
    QVERIFY2(finished.first().at(0).toBool(), qPrintable(finished.first().at(2).toString()));
    QVERIFY2(panel->statusText().startsWith(QStringLiteral("passed")),
             qPrintable(panel->statusText()));
    QCOMPARE(panel->passedLines().size(), 18);
    const QString dir = QStringLiteral(TCPLAB_BINARY_DIR "/tests/ui-output");
    QDir().mkpath(dir);
    QTest::qWait(200); // the last frames reach the ladder on the next poll
    QVERIFY(window.grab().save(dir + QStringLiteral("/drill-passed.png")));

    // wrong_ack.pkt with Run: it fails at its last line, the peer's ACK selected.
    finished.clear();
    QCOMPARE(window.openDrill(dataFile("fail/wrong_ack.pkt")), QString());
    panel->runAction()->trigger();
    QTRY_VERIFY_WITH_TIMEOUT(!finished.isEmpty(), 30'000);
    QVERIFY(!finished.first().at(0).toBool());
    QCOMPARE(panel->failedLine(), 12);
    QVERIFY2(panel->statusText().startsWith(QStringLiteral("failed at line 12")),
             qPrintable(panel->statusText()));
    QVERIFY2(panel->expectedText().contains(QStringLiteral("ack 102")),
             qPrintable(panel->expectedText()));
    QVERIFY2(panel->actualText().contains(QStringLiteral("ack 101")),
             qPrintable(panel->actualText()));
    QVERIFY(!panel->explanationText().isEmpty());
    const int row = window.ladder()->selectedRow();
    QVERIFY(row >= 0);
    QCOMPARE(window.model()->row(row).direction, timeline::Direction::Received);
    const wire::Frame frame = window.model()->entry(row).decode();
    QVERIFY(frame.tcp());
    QCOMPARE(frame.tcp()->dstPort, window.worker()->lastDrill().phantomPort);
    QVERIFY(frame.tcp()->has(wire::tcp_flags::kAck));
    QCOMPARE(frame.payloadLength, 0u);
    // The ACK of 101 (relative to the phantom's ISN) where the script wants 102.
    QVERIFY(window.model()->row(row).segment);
    QCOMPARE(window.model()->row(row).segment->relAck, 101u);
    QVERIFY(window.model()->row(row).timeNs <= window.worker()->lastDrill().failedAtNs);
    QTest::qWait(200);
    QVERIFY(window.grab().save(dir + QStringLiteral("/drill-failed.png")));
}

QTEST_MAIN(TestDrillPanel)
#include "tst_drill_panel.moc"
