#pragma once

#include <QString>

#include <atomic>
#include <cstddef>
#include <functional>

class QWidget;

namespace tcplab::ui {

/// What a long piece of work sees: a cancel flag set by the dialog's Cancel button, and
/// a counter it advances for the progress bar.
struct TaskControl {
    std::atomic<bool> cancel{false};
    std::atomic<std::size_t> done{0};
};

/// Runs `work` on a thread of its own and waits for it with a local event loop, so the
/// window keeps painting and the engine's frames keep arriving. A progress dialog with
/// `label` appears when the work takes longer than a moment: a bar when `total` is known
/// (TaskControl::done of total), a busy indicator otherwise, and Cancel when `cancellable`.
/// Returns when the work has ended (it is joined: nothing outlives the call). The caller
/// guards against starting a second task from the events the loop delivers.
void runWithProgress(QWidget* parent, const QString& label, std::size_t total, bool cancellable,
                     const std::function<void(TaskControl&)>& work);

} // namespace tcplab::ui
