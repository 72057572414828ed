// MainWindow end to end: the built-in lab, the classic exercise, the table and the
// ladder filled from the real timeline, an export, and a screenshot.
#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDockWidget>
#include <QFileInfo>
#include <QImage>
#include <QLineEdit>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTableView>
#include <QTemporaryFile>
#include <QTest>
#include <QTreeWidget>

#include "timeline/analysis.h"
#include "ui/connection_panel.h"
#include "ui/engine_worker.h"
#include "ui/hex_view.h"
#include "ui/ladder_view.h"
#include "ui/main_window.h"
#include "ui/peer_info_view.h"
#include "ui/peer_panel.h"
#include "ui/time_sequence_view.h"
#include "ui/timeline_model.h"

#include <unistd.h>

using namespace tcplab;

class TestMainWindow : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void classicExercise_fillsTableAndLadder();
    void runWithoutLab_startsIt_andStopKeepsTheTimeline();
    void autoAckCheckBox_switchesTheWorker();
    void openCapture_tracksItAsIfLive_andExportsCsv();
    void openCapture_refusesANonCapture_keepingTheTimeline();
    void labChooser_listsTheBuiltinPeersFirst_andPersists();
    void darkPalette_appliesAndPersists();
    void linkedTime_cursorsFollowTheSelection_aClickInThePeerPlotSelects();
    void peerDock_focusedByItsShortcut_controlsPersist();
};

void TestMainWindow::initTestCase() {
    QStandardPaths::setTestModeEnabled(true); // QSettings away from the user's
    qputenv("TCPLAB_LAB_HELPER", TCPLAB_LAB_HELPER_PATH);
    // The built-in lab needs unprivileged user namespaces; without them there is no peer.
    ui::EngineWorker probe;
    QSignalSpy failed(&probe, &ui::EngineWorker::labFailed);
    probe.startLab(false);
    if (!failed.isEmpty())
        QSKIP(qPrintable(failed.first().first().toString()));
    probe.stop();
}

void TestMainWindow::classicExercise_fillsTableAndLadder() {
    ui::MainWindow window;
    window.resize(1400, 860);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    window.setCloseMode(engine::CloseMode::Fin);
    QSignalSpy finished(window.worker(), &ui::EngineWorker::scenarioFinished);
    QSignalSpy probed(window.worker(), &ui::EngineWorker::probeFinished);

    window.startLab();
    QVERIFY(window.worker()->running());
    window.runClassic();
    QTRY_VERIFY_WITH_TIMEOUT(!finished.isEmpty(), 30'000);
    QVERIFY2(finished.first().at(0).toBool(), qPrintable(finished.first().at(1).toString()));
    QCOMPARE(probed.count(), 1);
    QVERIFY(probed.first().at(0).toBool());
    // Frames published before the end reach the model on the next poll.
    const auto* tl = window.worker()->timeline().get();
    QVERIFY(tl);
    QTRY_COMPARE_WITH_TIMEOUT(window.model()->rowCount(), int(tl->size()), 2'000);

    // The handshake, in order, among the TCP rows; ARP/ND rows are not arrows.
    ui::TimelineModel* model = window.model();
    QStringList flags;
    int tcpRows = 0;
    for (int row = 0; row < model->rowCount(); ++row) {
        if (!model->row(row).tcp)
            continue;
        ++tcpRows;
        flags << model->data(model->index(row, ui::TimelineModel::Flags)).toString();
    }
    QVERIFY2(flags.size() >= 7, qPrintable(flags.join(QStringLiteral(" | "))));
    QCOMPARE(flags.mid(0, 4), (QStringList{QStringLiteral("SYN"), QStringLiteral("SYN, ACK"),
                                           QStringLiteral("ACK"), QStringLiteral("PSH, ACK")}));
    QVERIFY(flags.contains(QStringLiteral("FIN, ACK")));
    QCOMPARE(window.ladder()->rowCount(), model->rowCount());
    QCOMPARE(window.ladder()->arrowCount(), tcpRows);

    // Sent segments go left to right, received ones right to left.
    for (int row = 0; row < model->rowCount(); ++row) {
        const auto arrow = window.ladder()->arrow(row);
        QCOMPARE(bool(arrow), model->row(row).tcp);
        const bool sent = model->row(row).direction == timeline::Direction::Sent;
        if (arrow)
            QCOMPARE(arrow->from.x() < arrow->to.x(), sent);
        QCOMPARE(model->data(model->index(row, ui::TimelineModel::Direction)).toString(),
                 sent ? QStringLiteral("phantom → peer") : QStringLiteral("phantom ← peer"));
    }

    // Selecting the SYN-ACK row shows it in the ladder and the decode tree.
    int synAck = -1;
    for (int row = 0; row < model->rowCount() && synAck < 0; ++row)
        if (model->data(model->index(row, ui::TimelineModel::Flags)).toString() ==
            QStringLiteral("SYN, ACK"))
            synAck = row;
    QVERIFY(synAck >= 0);
    window.table()->selectRow(synAck);
    QCOMPARE(window.ladder()->selectedRow(), synAck);
    // Selected everywhere: the hex view shows its bytes.
    const auto& bytes = window.model()->entry(synAck).bytes;
    QCOMPARE(window.hexView()->frame(), std::vector<std::uint8_t>(bytes.begin(), bytes.end()));
    QVERIFY(window.decodeTree()->topLevelItemCount() >= 4);
    QVERIFY(!window.decodeTree()->findItems(QStringLiteral("tcp"), Qt::MatchExactly).isEmpty());

    // Export: a pcap and a JSON file that exist; a bad path is a sentence, not a file.
    const QString dir = QStringLiteral(TCPLAB_BINARY_DIR "/tests/ui-output");
    QDir().mkpath(dir);
    QCOMPARE(window.exportTimeline(dir + QStringLiteral("/classic.pcap")), QString());
    QVERIFY(QFileInfo(dir + QStringLiteral("/classic.pcap")).size() > 24);
    QCOMPARE(window.exportTimeline(dir + QStringLiteral("/classic.json")), QString());
    QVERIFY(QFileInfo(dir + QStringLiteral("/classic.json")).size() > 100);
    QVERIFY(!window.exportTimeline(QStringLiteral("/nonexistent-dir/x.pcap")).isEmpty());
    // The pcap reads back with libpcap, frame for frame.
    timeline::Timeline readBack;
    const auto read =
        timeline::importPcap((dir + QStringLiteral("/classic.pcap")).toStdString(), readBack);
    QVERIFY(read.has_value());
    QCOMPARE(readBack.size(), tl->size());

    // The graph holds the peer's response; the connection panel follows the selection.
    QVERIFY(!window.graph()->segmentBars().empty());
    window.table()->selectRow(synAck);
    QCOMPARE(window.connectionPanel()->value(QStringLiteral("peer.state")).isEmpty(), false);
    // Both plots export as PNG (loads), SVG and PDF; a bad folder is a sentence, no file.
    QCOMPARE(window.exportImage(dir + QStringLiteral("/ladder.png"), false), QString());
    QVERIFY(!QImage(dir + QStringLiteral("/ladder.png")).isNull());
    QCOMPARE(window.exportImage(dir + QStringLiteral("/graph.svg"), true), QString());
    QCOMPARE(window.exportImage(dir + QStringLiteral("/graph.pdf"), true), QString());
    QFile pdf(dir + QStringLiteral("/graph.pdf"));
    QVERIFY(pdf.open(QIODevice::ReadOnly));
    QVERIFY(pdf.read(5) == "%PDF-");
    QVERIFY(!window.exportImage(QStringLiteral("/nonexistent-dir/ladder.png"), false).isEmpty());
    QVERIFY(!QFileInfo::exists(QStringLiteral("/nonexistent-dir/ladder.png")));

    // The picture, for a person to look at (and docs/screenshots).
    window.table()->selectRow(synAck);
    QTest::qWait(100);
    const QImage shot = window.grab().toImage();
    QVERIFY(!shot.isNull());
    const QString png = dir + QStringLiteral("/main-window.png");
    QVERIFY(shot.save(png));
    QVERIFY(!QImage(png).isNull());
}

void TestMainWindow::runWithoutLab_startsIt_andStopKeepsTheTimeline() {
    ui::MainWindow window;
    QSignalSpy finished(window.worker(), &ui::EngineWorker::scenarioFinished);
    window.setCloseMode(engine::CloseMode::Rst);
    QVERIFY(!window.worker()->running());
    window.runClassic(); // starts the lab on the way
    QVERIFY(window.worker()->running());
    QTRY_VERIFY_WITH_TIMEOUT(!finished.isEmpty(), 30'000);
    QVERIFY2(finished.first().at(0).toBool(), qPrintable(finished.first().at(1).toString()));
    QTRY_VERIFY_WITH_TIMEOUT(window.model()->rowCount() > 0, 2'000);
    const int rows = window.model()->rowCount();
    bool rst = false;
    for (int row = 0; row < rows; ++row)
        rst = rst || window.model()->row(row).kind == ui::SegmentKind::Rst;
    QVERIFY(rst);
    window.stopLab();
    QVERIFY(!window.worker()->running());
    // Kept (frames that arrived while stopping are added, nothing is dropped).
    QVERIFY(window.model()->rowCount() >= rows);
    QCOMPARE(window.model()->rowCount(), int(window.worker()->timeline()->size()));
    QCOMPARE(window.ladder()->rowCount(), window.model()->rowCount());
}

void TestMainWindow::autoAckCheckBox_switchesTheWorker() {
    ui::MainWindow window;
    auto* box = window.findChild<QCheckBox*>(QStringLiteral("autoAck"));
    QVERIFY(box);
    box->setChecked(false);
    QVERIFY(!window.worker()->autoAck());
    box->setChecked(true);
    QVERIFY(window.worker()->autoAck());
    box->setChecked(false);
    QVERIFY(!window.worker()->autoAck());
}

void TestMainWindow::openCapture_tracksItAsIfLive_andExportsCsv() {
    ui::MainWindow window;
    const QString capture = QStringLiteral(TCPLAB_TEST_DATA "/captures/linux_tcp_loss.pcap");
    QCOMPARE(window.openCapture(capture), QString());
    timeline::Timeline direct;
    QVERIFY(timeline::importPcap(capture.toStdString(), direct).has_value());
    QCOMPARE(window.model()->rowCount(), int(direct.size()));
    QCOMPARE(window.ladder()->rowCount(), int(direct.size()));
    // Tracked as if live: the loss shows up as retransmissions, both directions have arrows.
    bool retransmission = false;
    bool sent = false;
    bool received = false;
    for (int row = 0; row < window.model()->rowCount(); ++row) {
        const auto& r = window.model()->row(row);
        if (r.segment && r.segment->classes.has(tcp::SegmentClass::Retransmission))
            retransmission = true;
        (r.direction == timeline::Direction::Sent ? sent : received) = true;
    }
    QVERIFY(retransmission);
    QVERIFY(sent && received);

    const QString dir = QStringLiteral(TCPLAB_BINARY_DIR "/tests/ui-output");
    QDir().mkpath(dir);
    const QString csv = dir + QStringLiteral("/loss.csv");
    QFile::remove(csv);
    QCOMPARE(window.exportTimeline(csv), QString());
    QFile file(csv);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QList<QByteArray> lines = file.readAll().split('\n');
    QVERIFY(lines.first().startsWith("frame,time,direction,"));
    QVERIFY(lines.size() > 100);
}

void TestMainWindow::openCapture_refusesANonCapture_keepingTheTimeline() {
    ui::MainWindow window;
    QCOMPARE(window.openCapture(QStringLiteral(TCPLAB_TEST_DATA "/captures/linux_tcp_loss.pcap")),
             QString());
    const int rows = window.model()->rowCount();
    QTemporaryFile notPcap;
    QVERIFY(notPcap.open());
    notPcap.write("this is not a capture file at all, just text\n");
    notPcap.flush();
    const QString error = window.openCapture(notPcap.fileName());
    QVERIFY(!error.isEmpty());
    QCOMPARE(window.model()->rowCount(), rows);
    QVERIFY(!window.openCapture(QStringLiteral("/nonexistent/x.pcap")).isEmpty());
    QCOMPARE(window.model()->rowCount(), rows);
}

void TestMainWindow::labChooser_listsTheBuiltinPeersFirst_andPersists() {
    {
        ui::MainWindow window;
        auto* chooser = window.findChild<QComboBox*>(QStringLiteral("labChooser"));
        QVERIFY(chooser);
        QCOMPARE(chooser->itemData(0).toString(), QStringLiteral("linux"));
        QCOMPARE(chooser->itemData(1).toString(), QStringLiteral("lwip"));
        // Interfaces follow, never loopback.
        for (int i = 2; i < chooser->count(); ++i)
            QVERIFY(chooser->itemData(i).toString().isEmpty() ||
                    chooser->itemData(i).toString().startsWith(QStringLiteral("iface:")));
        QVERIFY(chooser->findData(QStringLiteral("iface:lo")) < 0);
        QVERIFY(window.setLabChoice(QStringLiteral("lwip")));
        QCOMPARE(window.labChoice().kind, ui::LabKind::Lwip);
        QVERIFY(!window.setLabChoice(QStringLiteral("iface:no-such-interface")));
        window.close(); // saves the settings
    }
    ui::MainWindow again;
    QCOMPARE(again.labChoice().kind, ui::LabKind::Lwip);
    QVERIFY(again.setLabChoice(QStringLiteral("linux")));
    again.close();
}

void TestMainWindow::darkPalette_appliesAndPersists() {
    {
        ui::MainWindow window;
        window.setDarkPalette(true);
        QVERIFY(QApplication::palette().color(QPalette::Window).lightness() < 80);
        QVERIFY(QApplication::palette().color(QPalette::WindowText).lightness() > 180);
        window.close();
    }
    {
        ui::MainWindow window;
        QVERIFY(window.darkPalette());
        window.setDarkPalette(false);
        QVERIFY(QApplication::palette().color(QPalette::Window).lightness() > 180);
        window.close();
    }
    ui::MainWindow light;
    QVERIFY(!light.darkPalette());
}

void TestMainWindow::linkedTime_cursorsFollowTheSelection_aClickInThePeerPlotSelects() {
    ui::MainWindow window;
    window.resize(1400, 860);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QCOMPARE(window.openCapture(QStringLiteral(TCPLAB_TEST_DATA "/captures/linux_tcp_loss.pcap")),
             QString());
    ui::TimelineModel* model = window.model();
    QVERIFY(model->rowCount() > 40);
    window.selectRow(10);
    QCOMPARE(window.graph()->cursorTime(), std::optional<double>(model->timeMs(10)));
    QCOMPARE(window.peerInfo()->cursorTime(), std::optional<double>(model->timeMs(10)));
    window.selectRow(-1);
    QCOMPARE(window.graph()->cursorTime(), std::nullopt);

    // A moment (a peer call's start): the nearest frame is selected, the cursors at the moment.
    const std::int64_t moment = model->row(20).timeNs + 1;
    window.selectMoment(moment);
    QCOMPARE(window.table()->currentIndex().row(), model->rowNearest(moment));
    QCOMPARE(window.peerInfo()->cursorTime(), std::optional<double>(model->msSinceOrigin(moment)));

    // A click in the peer plot selects the frame nearest its time.
    window.views()->setCurrentIndex(2);
    ui::PeerInfoView* plot = window.peerInfo();
    QTRY_VERIFY(plot->isVisible());
    const double last = model->timeMs(model->rowCount() - 1);
    plot->setFollowLatest(false);
    plot->xAxis->setRange(0, last);
    plot->replot();
    const double target = model->timeMs(30);
    const QPoint at(int(plot->xAxis->coordToPixel(target)),
                    int(plot->yAxis->coordToPixel(plot->yAxis->range().center())));
    QTest::mouseClick(plot, Qt::LeftButton, {}, at);
    const double clicked = plot->xAxis->pixelToCoord(at.x());
    QCOMPARE(window.table()->currentIndex().row(), model->rowNearestMs(clicked));
    QCOMPARE(window.ladder()->selectedRow(), model->rowNearestMs(clicked));
    QCOMPARE(window.graph()->cursorTime(),
             std::optional<double>(model->timeMs(model->rowNearestMs(clicked))));

    // A capture has no peer records: the CSV is the segments only.
    const QString dir = QStringLiteral(TCPLAB_BINARY_DIR "/tests/ui-output");
    QDir().mkpath(dir);
    const QString csv = dir + QStringLiteral("/loss-linked.csv");
    QCOMPARE(window.exportTimeline(csv), QString());
    QFile file(csv);
    QVERIFY(file.open(QIODevice::ReadOnly));
    QVERIFY(!file.readAll().contains("record,time,kind"));
    QCOMPARE(window.exportPeerInfoImage(dir + QStringLiteral("/peer-info-empty.png")), QString());
}

void TestMainWindow::peerDock_focusedByItsShortcut_controlsPersist() {
    {
        ui::MainWindow window;
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QDockWidget* dock = window.peerDock();
        QVERIFY(dock);
        bool inViewMenu = false;
        for (QAction* action : window.findChildren<QAction*>())
            inViewMenu |= action == dock->toggleViewAction();
        QVERIFY(inViewMenu);
        window.focusPeerDock();
        QVERIFY(dock->isVisible());
        QTRY_VERIFY(window.findChild<QLineEdit*>(QStringLiteral("peerCallLine"))->hasFocus() ||
                    !window.isActiveWindow());
        ui::PeerPanel* peer = window.peerPanel();
        peer->setListeningPort(41000);
        peer->setAdvertisedWindow(std::uint16_t(0));
        peer->setSnapLength(128);
        // The worker follows the controls.
        QCOMPARE(window.worker()->listeningPort(), std::uint16_t(41000));
        QCOMPARE(window.worker()->advertisedWindow(), std::optional<std::uint16_t>(0));
        QCOMPARE(window.worker()->snapLength(), std::size_t(128));
        window.close(); // saves the settings
    }
    ui::MainWindow again;
    QCOMPARE(again.peerPanel()->listeningPort(), std::uint16_t(41000));
    QCOMPARE(again.peerPanel()->advertisedWindow(), std::optional<std::uint16_t>(0));
    QCOMPARE(again.peerPanel()->snapLength(), std::size_t(128));
    QCOMPARE(again.worker()->listeningPort(), std::uint16_t(41000));
    // Back to the defaults for the other suites' windows.
    again.peerPanel()->setListeningPort(0);
    again.peerPanel()->setAdvertisedWindow(std::nullopt);
    again.peerPanel()->setSnapLength(0);
    again.close();
}

QTEST_MAIN(TestMainWindow)
#include "tst_main_window.moc"
