#pragma once

#include "engine/scenario.h"

#include <QDialog>
#include <QString>

#include <array>
#include <memory>
#include <thread>

class QLabel;
class QProgressBar;
class QPushButton;
class QTableWidget;

namespace tcplab::lab {
struct Comparison;
} // namespace tcplab::lab

namespace tcplab::ui {

class LadderView;
class TimelineModel;

/// "Compare stacks": the classic exercise and the bad-segment probe against both
/// built-in peers (the Linux kernel and lwIP), the two ladders side by side and the
/// difference topics below them, those that differ highlighted.
///
/// Non-modal; deletes itself when closed (WA_DeleteOnClose). The comparison runs on a
/// thread of its own (lab::compareStacks, a few seconds); the GUI thread only shows the
/// progress and, at the end, the immutable result. Closing or deleting the dialog
/// mid-run asks the run to stop and waits for it (bounded by a lab's start, normally
/// well under a second), so the thread never outlives the dialog.
class CompareDialog : public QDialog {
    Q_OBJECT
public:
    explicit CompareDialog(QWidget* parent = nullptr);
    ~CompareDialog() override;

    /// How the exercise ends (FIN by default). Applies from the next start().
    void setCloseMode(engine::CloseMode mode);
    /// IPv6 (the built-in lab's 2001:db8::) instead of IPv4. Applies from the next start().
    void setIpv6(bool ipv6);
    /// Starts a comparison (a running one is stopped first); the views are cleared.
    void start();

    /// The last comparison started has finished and is shown.
    bool finished() const noexcept { return m_finished; }
    /// Topics whose findings differ between the two stacks (0 until finished()).
    int differenceCount() const;
    /// The ladder of side 0 (Linux) or 1 (lwIP).
    LadderView* ladder(int side) const;
    /// The comparison shown (null until finished()).
    std::shared_ptr<const lab::Comparison> comparison() const { return m_result; }

Q_SIGNALS:
    /// The comparison has finished and is shown; ok when both labs ran it completely.
    void comparisonFinished(bool ok);

private:
    void showProgress(unsigned generation, const QString& text);
    void showResult(unsigned generation, std::shared_ptr<const lab::Comparison> result);
    void showSide(int side);
    void showTopics();
    void setRunning(bool running);

    struct Side {
        QLabel* title = nullptr;
        QLabel* message = nullptr; ///< a failure, as a sentence; hidden when none
        LadderView* ladder = nullptr;
        TimelineModel* model = nullptr;
    };
    std::array<Side, 2> m_sides;
    QLabel* m_status = nullptr;
    QProgressBar* m_busy = nullptr;
    QTableWidget* m_topics = nullptr;
    QPushButton* m_runAgain = nullptr;

    engine::CloseMode m_close = engine::CloseMode::Fin;
    bool m_ipv6 = false;
    bool m_finished = false;
    /// Results and progress of an older start() are dropped.
    unsigned m_generation = 0;
    std::shared_ptr<const lab::Comparison> m_result;
    /// Declared last: destroyed (stopped, joined) before the members it reports to.
    std::jthread m_thread;
};

} // namespace tcplab::ui
