// tcplab-screenshots: the README's pictures, from the real program. Starts the main
// window on the built-in Linux lab, clicks the handshake demo through, and saves the
// window mid-demo, the time-sequence graph, the finished exercise, and the same in
// the dark palette; then drives the peer from the Peer dock (socket, bind, listen on 5000,
// a SYN from the editor, accept, a 4 MiB write with Auto-ACK on) and saves the dock with
// the peer kernel's cwnd plot, its sockets with the time-sequence graph of the download,
// and the second demo walk ("the kernel connects to you") mid-way. Run it under Xvfb
// (scripts/screenshots) or any display.
//
//   tcplab-screenshots OUTPUT_DIR
#include "ui/connection_panel.h"
#include "ui/demo_panel.h"
#include "ui/engine_worker.h"
#include "ui/main_window.h"
#include "ui/peer_call_form.h"
#include "ui/peer_info_view.h"
#include "ui/peer_panel.h"
#include "ui/peer_socket_model.h"
#include "ui/segment_editor.h"
#include "ui/timeline_model.h"
#include "wire/tcp.h"

#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDockWidget>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTest>

#include <cstdio>

using namespace tcplab;

namespace {

bool waitFor(const std::function<bool()>& done, int ms) {
    QElapsedTimer timer;
    timer.start();
    while (!done()) {
        if (timer.elapsed() > ms)
            return false;
        QApplication::processEvents(QEventLoop::AllEvents, 20);
        QTest::qWait(10);
    }
    return true;
}

bool save(QWidget& widget, const QString& path) {
    QTest::qWait(250); // let queued replots paint
    const bool ok = widget.grab().save(path);
    std::fprintf(ok ? stdout : stderr, "%s %s\n", ok ? "wrote" : "could not write",
                 qPrintable(path));
    return ok;
}

/// Fires demo steps until `stopAfter` steps were fired or the demo ends (bounded).
bool fireSteps(ui::MainWindow& window, QSignalSpy& prefilled, QSignalSpy& finished, int stopAfter) {
    for (int fired = 0; fired < stopAfter && finished.isEmpty();) {
        if (!waitFor([&] { return !prefilled.isEmpty() || !finished.isEmpty(); }, 10'000))
            return false;
        if (!finished.isEmpty())
            break;
        prefilled.clear();
        if (!window.fire().isEmpty())
            return false;
        ++fired;
    }
    return true;
}

/// Makes one peer call from the Peer dock's line, as a user would, and waits for its answer.
bool peerCall(ui::MainWindow& window, QSignalSpy& answered, const QString& line, int ms = 5000) {
    const qsizetype before = answered.count();
    window.peerPanel()->form()->setLine(line);
    if (!window.peerPanel()->makeCall()) {
        std::fprintf(stderr, "tcplab-screenshots: %s: %s\n", qPrintable(line),
                     qPrintable(window.peerPanel()->form()->errorText()));
        return false;
    }
    if (!waitFor([&] { return answered.count() > before; }, ms)) {
        std::fprintf(stderr, "tcplab-screenshots: no answer to %s\n", qPrintable(line));
        return false;
    }
    const bool ok = answered.last().at(1).toBool();
    if (!ok)
        std::fprintf(stderr, "tcplab-screenshots: %s\n",
                     qPrintable(answered.last().at(2).toString()));
    return ok;
}

/// The Peer dock's scene: a server socket on the peer, the phantom connects from the
/// editor, the peer accepts and writes 4 MiB that Auto-ACK takes in.
bool peerScene(ui::MainWindow& window, const QString& out) {
    QSignalSpy answered(window.worker(), &ui::EngineWorker::peerCallAnswered);
    if (!window.worker()->peerAgentReady()) {
        std::fprintf(stderr, "tcplab-screenshots: no peer agent: %s\n",
                     qPrintable(window.worker()->peerAgentStatus()));
        return false;
    }
    window.findChild<QCheckBox*>(QStringLiteral("autoAck"))->setChecked(true);
    window.peerDock()->show();
    window.peerDock()->raise();
    bool ok = peerCall(window, answered, QStringLiteral("socket")) &&
              peerCall(window, answered, QStringLiteral("bind 3 5000")) &&
              peerCall(window, answered, QStringLiteral("listen 3 16"));
    // A SYN from the editor to the peer's port 5000; Auto-ACK completes the handshake.
    for (QPushButton* b : window.findChildren<QPushButton*>())
        if (b->text() == QStringLiteral("New SYN"))
            b->click();
    auto* port = window.findChild<QLineEdit*>(QStringLiteral("tcp.dport"));
    ok = ok && port;
    if (ok) {
        port->setFocus();
        port->selectAll();
        QTest::keyClicks(port, QStringLiteral("5000"));
        QTest::keyClick(port, Qt::Key_Tab);
        // An MSS and a window scale, as a real client's SYN has them (without, the peer
        // sends 536-byte segments into a 64 KiB window).
        if (auto spec = window.editor()->spec()) {
            spec->tcp.options.append(wire::TcpOption::mss(1460));
            spec->tcp.options.append(wire::TcpOption::nop());
            spec->tcp.options.append(wire::TcpOption::windowScale(7));
            window.editor()->setSpec(*spec);
        }
        ok = window.fire().isEmpty();
    }
    ok = ok && peerCall(window, answered, QStringLiteral("accept 3"));
    ok = ok && peerCall(window, answered, QStringLiteral("setsockopt 4 TCP_NODELAY 1"));
    ok = ok && peerCall(window, answered, QStringLiteral("write 4 4M"), 30'000);
    ok = ok && peerCall(window, answered, QStringLiteral("getsockopt 4 TCP_INFO"));
    // The next call in the form, not made: what the dock looks like mid-lesson.
    window.peerPanel()->form()->setLine(QStringLiteral("shutdown 4 wr"));
    if (!ok)
        return false;
    waitFor([] { return false; }, 400); // the last samples and frames
    // A moment in the download selected: the ladder's row, the cursor in the plots.
    const ui::TimelineModel* rows = window.model();
    std::vector<int> download;
    int connection = -1;
    for (int row = rows->rowCount() - 1; row >= 0; --row)
        if (const auto& segment = rows->row(row).segment) {
            if (connection < 0)
                connection = int(segment->connection);
            if (int(segment->connection) == connection && rows->row(row).payloadLength > 0)
                download.push_back(row);
        }
    if (!download.empty())
        window.selectRow(download[download.size() * 2 / 3]);
    if (auto* views = window.views())
        views->setCurrentIndex(2);
    window.peerInfo()->setFollowLatest(true);
    window.peerPanel()->tabs()->setCurrentIndex(0);
    ok = save(window, out + QStringLiteral("/peer.png"));

    // The sockets and the accepted one's tcp_info, beside the download's Stevens graph.
    auto* model = window.peerPanel()->sockets();
    for (int row = 0; row < model->rowCount(); ++row)
        if (model->socket(row).fd == 4)
            window.peerPanel()->selectSocket(model->socket(row).inode);
    window.peerPanel()->tabs()->setCurrentIndex(1);
    if (auto* views = window.views())
        views->setCurrentIndex(1);
    ok = ok && save(window, out + QStringLiteral("/peer-sockets.png"));

    // The connection panel: the tracker's view of the peer beside its kernel's own.
    QDockWidget* connectionDock = nullptr;
    for (QWidget* w = window.connectionPanel(); w && !connectionDock; w = w->parentWidget())
        connectionDock = qobject_cast<QDockWidget*>(w);
    if (connectionDock) {
        connectionDock->show();
        connectionDock->raise();
    }
    if (!download.empty())
        window.selectRow(download.back());
    ok = ok && save(window, out + QStringLiteral("/connection.png"));
    return ok;
}

/// The second walk, mid-way: the peer's calls made, the SYN-ACK fired, the data coming.
bool passiveScene(ui::MainWindow& window, const QString& out) {
    QSignalSpy prefilled(window.demo(), &ui::DemoPanel::prefillReady);
    QSignalSpy finished(window.demo(), &ui::DemoPanel::demoFinished);
    // The walk binds its socket's fd ("= $s"): the dock's sockets 3 and 4 stay open.
    window.views()->setCurrentIndex(0);
    window.startPassiveDemo();
    int fired = 0;
    for (int click = 0; click < 20 && finished.isEmpty() && fired < 2; ++click) {
        if (!waitFor(
                [&] {
                    return window.demo()->peerCallDue() || !prefilled.isEmpty() ||
                           !finished.isEmpty();
                },
                10'000))
            return false;
        if (window.demo()->peerCallDue()) {
            window.demo()->makeCall();
            continue;
        }
        if (!finished.isEmpty())
            break;
        prefilled.clear();
        if (!window.fire().isEmpty())
            return false;
        ++fired;
    }
    // The peer's write() is the step now: its explanation and Make the call.
    waitFor([&] { return window.demo()->peerCallDue(); }, 5000);
    return save(window, out + QStringLiteral("/demo-passive.png"));
}

} // namespace

int main(int argc, char* argv[]) {
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("tcplab-screenshots"));
    QApplication::setApplicationName(QStringLiteral("tcplab-screenshots"));
    if (argc != 2) {
        std::fprintf(stderr, "usage: tcplab-screenshots OUTPUT_DIR\n");
        return 2;
    }
    const QString out = QString::fromLocal8Bit(argv[1]);
    if (!QDir().mkpath(out)) {
        std::fprintf(stderr, "tcplab-screenshots: cannot create %s\n", argv[1]);
        return 1;
    }

    // The same pictures every run: no window state or lab choice from an earlier one.
    QSettings().clear();
    // The peer agent is built beside the lab's helper.
    if (qEnvironmentVariableIsEmpty("TCPLAB_PEER_AGENT") &&
        !qEnvironmentVariableIsEmpty("TCPLAB_LAB_HELPER")) {
        const QString agent = QFileInfo(qEnvironmentVariable("TCPLAB_LAB_HELPER")).absolutePath() +
                              QStringLiteral("/tcplab-peer-agent");
        if (QFileInfo(agent).isExecutable())
            qputenv("TCPLAB_PEER_AGENT", agent.toLocal8Bit());
    }

    ui::MainWindow window;
    window.setDarkPalette(false);
    window.setLabChoice(QStringLiteral("linux"));
    window.resize(1600, 960);
    window.show();
    QSignalSpy prefilled(window.demo(), &ui::DemoPanel::prefillReady);
    QSignalSpy finished(window.demo(), &ui::DemoPanel::demoFinished);
    QSignalSpy failed(window.worker(), &ui::EngineWorker::labFailed);
    window.startDemo();
    if (!failed.isEmpty()) {
        std::fprintf(stderr, "tcplab-screenshots: %s\n",
                     qPrintable(failed.first().first().toString()));
        return 1;
    }
    // Mid-demo: the handshake and the GET fired, the response in, the next step waiting.
    bool ok = fireSteps(window, prefilled, finished, 4);
    ok = ok && waitFor([&] { return !prefilled.isEmpty(); }, 10'000);
    ok = ok && save(window, out + QStringLiteral("/demo.png"));
    if (auto* views = window.findChild<QTabWidget*>(QStringLiteral("views"));
        views && views->count() > 1) {
        views->setCurrentIndex(1);
        ok = ok && save(window, out + QStringLiteral("/graph.png"));
        views->setCurrentIndex(0);
    }
    ok = ok && fireSteps(window, prefilled, finished, 20);
    ok = ok && waitFor([&] { return !finished.isEmpty(); }, 10'000);
    ok = ok && save(window, out + QStringLiteral("/main-window.png"));
    window.setDarkPalette(true);
    ok = ok && save(window, out + QStringLiteral("/main-window-dark.png"));
    window.setDarkPalette(false);
    if (!ok)
        std::fprintf(stderr, "tcplab-screenshots: the demo did not run through: %s\n",
                     qPrintable(window.demo()->notes().join(QStringLiteral(" | "))));
    const bool peerOk = ok && peerScene(window, out);
    if (ok && !peerOk)
        std::fprintf(stderr, "tcplab-screenshots: the Peer dock's scene did not run through\n");
    const bool passiveOk = peerOk && passiveScene(window, out);
    if (peerOk && !passiveOk)
        std::fprintf(stderr, "tcplab-screenshots: the second walk did not run through: %s\n",
                     qPrintable(window.demo()->notes().join(QStringLiteral(" | "))));
    window.close();
    return ok && peerOk && passiveOk ? 0 : 1;
}
