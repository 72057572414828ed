#pragma once

#include "engine/scenario.h"
#include "engine/scenario_runner.h"
#include "engine/walkthrough.h"
#include "peer/agent_client.h"
#include "timeline/timeline.h"
#include "ui/peer_metatypes.h"

#include <QWidget>

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

class QComboBox;
class QLabel;
class QListWidget;
class QPushButton;
class QRadioButton;
class QTextBrowser;

namespace tcplab::ui {

/// The demo's walks.
enum class DemoWalk : std::uint8_t {
    Classic, ///< the classic exercise: the phantom connects to the peer's server
    Passive, ///< the kernel connects to you: the peer's connect(), the phantom's SYN-ACK
};

/// The click-through demo: a scenario as one click per step, either the classic exercise
/// (engine::classicScenario) or "the kernel connects to you" (engine::passiveScenario), the
/// same data as the CLI runs. Each Send step pre-fills the segment editor (prefillReady)
/// and explains what the segment does and what to watch for; the user may change a field,
/// then fires it from the editor. A Peer step shows the socket call the peer's application
/// makes and "Make the call" (peerCallRequested; the caller makes it and reports its id with
/// peerCalled). Frames come back in timeline order (onFrame), both directions, the calls'
/// answers through onPeerAnswered and the kernel's samples through onSamples, so the walk
/// follows the wire and the peer exactly; when the peer does something else than expected,
/// it says what.
class DemoPanel : public QWidget {
    Q_OBJECT
public:
    explicit DemoPanel(QWidget* parent = nullptr);
    ~DemoPanel() override;

    bool active() const noexcept { return m_walk != nullptr && !m_done; }
    const engine::Walkthrough* walkthrough() const noexcept { return m_walk.get(); }
    engine::CloseMode closeMode() const;
    /// The walk the chooser names (the next start() walks it).
    DemoWalk walk() const;
    void setWalk(DemoWalk walk);
    /// The current step is a peer call to make (Make the call is enabled).
    bool peerCallDue() const;
    /// The explanation shown for the current step (plain text), for tests.
    QString explanationText() const;
    /// The notes so far (what happened, and how it differed), one per line.
    QStringList notes() const;

public Q_SLOTS:
    /// Starts walk() on `params` (the classic one: the phantom, the peer, ports, ISN 100,
    /// the request; the passive one: EngineWorker::nextPassiveConnection()).
    void start(const tcplab::engine::ConnectionParams& params);
    void stop();
    /// One timeline entry, in order: sent frames are the steps fired, received ones the
    /// peer's answers.
    void onFrame(const tcplab::timeline::Entry& entry);
    /// Asks for the current Peer step's call (peerCallRequested); false when none is due.
    bool makeCall();
    /// The call of the current Peer step was made with this id (0: it could not be made).
    void peerCalled(quint32 id);
    /// A peer call came back (any: the walk picks its own).
    void onPeerAnswered(const tcplab::peer::CallRecord& call);
    /// The peer's sockets that changed, in timeline order.
    void onSamples(const std::vector<tcplab::peer::Sample>& samples);

Q_SIGNALS:
    /// The user wants the demo (the main window starts the lab if needed, then start()).
    void startRequested(tcplab::ui::DemoWalk walk);
    /// Make this peer call now (the main window: EngineWorker::peerCall, then peerCalled).
    void peerCallRequested(const tcplab::peer::Request& request);
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
    bool m_calling = false;                 ///< peerCallRequested is out, peerCalled not back yet
    DemoWalk m_walking = DemoWalk::Classic; ///< the walk m_walk walks
    /// The Peer step whose call was made (its answer is awaited): not to be made twice.
    std::optional<std::size_t> m_calledStep;
    std::size_t m_lastIndex = 0; ///< the last step that was current (where a failure happened)
    QLabel* m_title = nullptr;
    QListWidget* m_steps = nullptr;
    QTextBrowser* m_explanation = nullptr;
    QTextBrowser* m_notes = nullptr;
    QPushButton* m_start = nullptr;
    QPushButton* m_again = nullptr; ///< "Send again": the oldest unacknowledged segment
    QPushButton* m_call = nullptr;  ///< "Make the call": the current Peer step's
    QComboBox* m_walkChooser = nullptr;
    QLabel* m_closeLabel = nullptr;
    QRadioButton* m_fin = nullptr;
    QRadioButton* m_rst = nullptr;
};

} // namespace tcplab::ui
