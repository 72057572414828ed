// The main window's Packetdrill dock: opening a script, running or stepping it on the
// lab (EngineWorker::runDrill), and pointing at the ladder's arrow of a mismatch. Kept
// apart from main_window.cpp, which holds the rest of the window.
#include "ui/main_window.h"

#include "ui/drill_panel.h"
#include "ui/engine_worker.h"
#include "ui/ladder_view.h"
#include "ui/timeline_model.h"

#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QMessageBox>
#include <QSettings>
#include <QStatusBar>

namespace tcplab::ui {

void MainWindow::buildDrillDock() {
    m_drill = new DrillPanel;
    m_drillDock = new QDockWidget(QStringLiteral("Packetdrill"), this);
    m_drillDock->setObjectName(QStringLiteral("drillDock"));
    m_drillDock->setWidget(m_drill);
    addDockWidget(Qt::RightDockWidgetArea, m_drillDock);
    connect(m_drill, &DrillPanel::openRequested, this, &MainWindow::openDrillInteractively);
    connect(m_drill, &DrillPanel::runRequested, this, &MainWindow::runDrill);
    connect(m_drill, &DrillPanel::stepRequested, m_worker, &EngineWorker::stepDrill);
    connect(m_drill, &DrillPanel::continueRequested, m_worker, &EngineWorker::continueDrill);
    connect(m_drill, &DrillPanel::stopRequested, this, [this] {
        m_drillPending.reset(); // a run still waiting for the lab does not start
        m_worker->stopDrill();
    });
    connect(m_worker, &EngineWorker::drillStep, m_drill, &DrillPanel::onStep);
    connect(m_worker, &EngineWorker::drillStep, this,
            [this](int step, const QString& what, const QString& message) {
                const int line = m_drill->lineOfStep(step);
                if (what == QStringLiteral("done"))
                    statusBar()->showMessage(
                        QStringLiteral("Line %1 passed: %2").arg(QString::number(line), message),
                        kStatusTimeoutMs);
                else if (what == QStringLiteral("failed"))
                    statusBar()->showMessage(
                        QStringLiteral("Line %1 failed: %2")
                            .arg(QString::number(line), message.section(QLatin1Char('\n'), 0, 0)));
            });
    connect(m_worker, &EngineWorker::drillFinished, this,
            [this](bool ok, const QString& explanation, const QString& failure) {
                m_drill->onFinished(ok, explanation, failure);
                statusBar()->showMessage(QStringLiteral("%1: %2").arg(
                    QFileInfo(m_drill->path()).fileName(), m_drill->statusText()));
                if (!ok)
                    selectDrillMismatch();
            });
}

QString MainWindow::openDrill(const QString& path) {
    if (m_worker->drillRunning() || m_drillPending)
        return QStringLiteral("A script is running: stop it first (Shift+F5 in the Packetdrill "
                              "dock).");
    const QString error = m_drill->load(path);
    m_drillDock->show();
    m_drillDock->raise();
    statusBar()->showMessage(error.isEmpty() ? QStringLiteral("%1: Run (F5) or Step (F10) in the "
                                                              "Packetdrill dock.")
                                                   .arg(QFileInfo(path).fileName())
                                             : error);
    return error;
}

void MainWindow::openDrillInteractively() {
    QSettings settings;
    const QString folder = settings.value(QStringLiteral("drill/folder")).toString();
    const QString path =
        QFileDialog::getOpenFileName(this, QStringLiteral("Open a packetdrill script"), folder,
                                     QStringLiteral("packetdrill scripts (*.pkt);;All files (*)"));
    if (path.isEmpty())
        return;
    settings.setValue(QStringLiteral("drill/folder"), QFileInfo(path).absolutePath());
    const QString error = openDrill(path);
    // A script error is shown in the dock, at its line; a refusal to open is not.
    if (!error.isEmpty() && m_drill->path() != path)
        QMessageBox::warning(this, QStringLiteral("Cannot open the script"), error);
}

void MainWindow::runDrill(bool step) {
    if (!m_drill->runnable()) {
        statusBar()->showMessage(QStringLiteral("Open a packetdrill script that can run first "
                                                "(Ctrl+Shift+O)."),
                                 kStatusTimeoutMs);
        return;
    }
    m_drillDock->show();
    m_drillDock->raise();
    m_drillPending = step;
    // As the demo: the run begins once the lab is up and the peer's MAC known (on an
    // interface the resolution is a scenario of its own, which would replace the run).
    if (!m_worker->running())
        startLab();
    else if (m_worker->peerMac())
        beginDrill();
}

void MainWindow::beginDrill() {
    if (!m_drillPending)
        return;
    const bool step = *m_drillPending;
    m_drillPending.reset();
    const QString error = m_worker->runDrill(m_drill->path(), step);
    if (!error.isEmpty()) {
        m_drill->runRefused(error);
        statusBar()->showMessage(error, kStatusTimeoutMs);
        return;
    }
    m_drill->runStarted(step);
    m_ladder->setFollowLatest(true);
    statusBar()->showMessage(
        step ? QStringLiteral("Stepping through %1: F10 for each line.")
                   .arg(QFileInfo(m_drill->path()).fileName())
             : QStringLiteral("Running %1…").arg(QFileInfo(m_drill->path()).fileName()));
}

void MainWindow::selectDrillMismatch() {
    const DrillOutcome& outcome = m_worker->lastDrill();
    // Only a packet's mismatch has an arrow of its own: a call's failure or a timeout has
    // none (nothing came).
    if (outcome.ok || outcome.failedAtNs == 0 ||
        !outcome.failure.contains(QStringLiteral("actual packet:")))
        return;
    for (int row = m_model->rowCount() - 1; row >= 0; --row) {
        const TimelineRow& r = m_model->row(row);
        if (r.timeNs > outcome.failedAtNs || r.direction != timeline::Direction::Received || !r.tcp)
            continue;
        const wire::Frame frame = m_model->entry(row).decode();
        if (!frame.tcp() || frame.tcp()->dstPort != outcome.phantomPort)
            continue;
        // The selection must stay in view when the peer sends more (its RST, a retransmission).
        m_ladder->setFollowLatest(false);
        selectRow(row);
        return;
    }
}

} // namespace tcplab::ui
