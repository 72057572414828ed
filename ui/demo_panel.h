#pragma once

#include "engine/scenario.h"
#include "engine/scenario_runner.h"
#include "engine/walkthrough.h"
#include "timeline/timeline.h"

#include <QWidget>

#include <memory>
#include <optional>
#include <utility>

class QLabel;
class QListWidget;
class QPushButton;
class QRadioButton;
class QTextBrowser;

namespace tcplab::ui {

/// The click-through handshake demo: the classic exercise as one click per step. Each
/// step pre-fills the segment editor (prefillReady) and explains what the segment does
/// and what to watch for; the user may change a field, then fires it from the editor.
/// Frames come back in timeline order (onFrame), both directions, so the walk follows
/// the wire exactly; when the peer does something else than expected, it says what.
/// The steps are engine::classicScenario's, the same data as the CLI runs.
class DemoPanel : public QWidget {
    Q_OBJECT
public:
    explicit DemoPanel(QWidget* parent = nullptr);
    ~DemoPanel() override;

    bool active() const noexcept { return m_walk != nullptr && !m_done; }
    const engine::Walkthrough* walkthrough() const noexcept { return m_walk.get(); }
    engine::CloseMode closeMode() const;
    /// The explanation shown for the current step (plain text), for tests.
    QString explanationText() const;
    /// The notes so far (what happened, and how it differed), one per line.
    QStringList notes() const;

public Q_SLOTS:
    /// Starts the walk on `params` (the phantom, the peer, ports, ISN 100, the request).
    void start(const tcplab::engine::ConnectionParams& params);
    void stop();
    /// One timeline entry, in order: sent frames are the steps fired, received ones the
    /// peer's answers.
    void onFrame(const tcplab::timeline::Entry& entry);

Q_SIGNALS:
    /// The user wants the demo (the main window starts the lab if needed, then start()).
    void startRequested(tcplab::engine::CloseMode mode);
    /// The segment of the current Send step, to put in the editor.
    void prefillReady(const tcplab::wire::SegmentSpec& spec, const QString& reason);
    /// The walk ended: finished or failed, with the last note.
    void demoFinished(bool ok, const QString& message);

private:
    void refresh();

    std::unique_ptr<engine::Walkthrough> m_walk;
    /// The Send step already put in the editor: its index, and whether it was an ACK the
    /// walk inserted before that step (the step itself follows with the same index).
    std::optional<std::pair<std::size_t, bool>> m_prefilledStep;
    bool m_done = false;
    QLabel* m_title = nullptr;
    QListWidget* m_steps = nullptr;
    QTextBrowser* m_explanation = nullptr;
    QTextBrowser* m_notes = nullptr;
    QPushButton* m_start = nullptr;
    QPushButton* m_again = nullptr; ///< "Send again": the oldest unacknowledged segment
    QRadioButton* m_fin = nullptr;
    QRadioButton* m_rst = nullptr;
};

} // namespace tcplab::ui
