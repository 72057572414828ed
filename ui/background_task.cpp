#include "ui/background_task.h"

#include <QEventLoop>
#include <QProgressDialog>
#include <QTimer>

#include <algorithm>
#include <thread>

namespace tcplab::ui {

namespace {

constexpr int kShowAfterMs = 400;
constexpr int kPollMs = 50;

} // namespace

void runWithProgress(QWidget* parent, const QString& label, std::size_t total, bool cancellable,
                     const std::function<void(TaskControl&)>& work) {
    TaskControl control;
    std::atomic<bool> finished{false};
    std::thread thread([&] {
        work(control);
        finished.store(true, std::memory_order_release);
    });

    QProgressDialog dialog(label, cancellable ? QStringLiteral("Cancel") : QString(), 0,
                           total > 0 ? 1000 : 0, parent);
    dialog.setWindowTitle(QStringLiteral("tcplab"));
    dialog.setWindowModality(Qt::WindowModal);
    dialog.setMinimumDuration(kShowAfterMs);
    dialog.setAutoClose(false);
    dialog.setAutoReset(false);
    if (!cancellable)
        dialog.setCancelButton(nullptr);
    QObject::connect(&dialog, &QProgressDialog::canceled, [&] {
        control.cancel.store(true);
        dialog.setLabelText(label + QStringLiteral("\nCancelling…"));
    });

    QEventLoop loop;
    QTimer poll;
    poll.setInterval(kPollMs);
    QObject::connect(&poll, &QTimer::timeout, [&] {
        if (finished.load(std::memory_order_acquire)) {
            loop.quit();
            return;
        }
        if (total > 0) {
            const double share = double(control.done.load()) / double(total);
            dialog.setValue(int(std::min(share, 1.0) * 999));
        } else {
            dialog.setValue(0);
        }
    });
    poll.start();
    if (!finished.load(std::memory_order_acquire))
        loop.exec();
    poll.stop();
    thread.join();
}

} // namespace tcplab::ui
