// tcplab-screenshots: the README's pictures, from the real program. Starts the main
// window on the built-in Linux lab, clicks the handshake demo through, and saves the
// window mid-demo, the time-sequence graph, the finished exercise, and the same in
// the dark palette. Run it under Xvfb (scripts/screenshots) or any display.
//
//   tcplab-screenshots OUTPUT_DIR
#include "ui/demo_panel.h"
#include "ui/engine_worker.h"
#include "ui/main_window.h"

#include <QApplication>
#include <QDir>
#include <QElapsedTimer>
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
    window.close();
    if (!ok)
        std::fprintf(stderr, "tcplab-screenshots: the demo did not run through: %s\n",
                     qPrintable(window.demo()->notes().join(QStringLiteral(" | "))));
    return ok ? 0 : 1;
}
