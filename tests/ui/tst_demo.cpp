// The click-through handshake demo, clicked through against the built-in lab: each
// step pre-fills the editor, Fire sends it, the ladder holds one arrow per segment.
// Also the editor's link to Fire: an invalid field blocks it, an edit reaches the bytes.
#include <QCheckBox>
#include <QLineEdit>
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

} // namespace

class TestDemo : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void demo_clicksThroughTheClassicExercise_data();
    void demo_clicksThroughTheClassicExercise();
    void editor_invalidFieldBlocksFire_andEditsReachTheHexView();
    void demo_sendAgain_recoversFromADroppedSyn();
};

void TestDemo::initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    qputenv("TCPLAB_LAB_HELPER", TCPLAB_LAB_HELPER_PATH);
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

QTEST_MAIN(TestDemo)
#include "tst_demo.moc"
