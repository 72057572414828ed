#pragma once

#include "drill/drill_runner.h"
#include "engine/scenario.h"
#include "engine/scenario_runner.h"
#include "peer/agent_client.h"
#include "timeline/timeline.h"
#include "ui/peer_metatypes.h"
#include "wire/address.h"

#include <QObject>
#include <QString>
#include <QStringList>
#include <QTimer>

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <set>

#include <tl/expected.hpp>

namespace tcplab::engine {
class Engine;
struct EngineEvent;
} // namespace tcplab::engine
namespace tcplab::lab {
class BuiltinLinuxLab;
class BuiltinLwipLab;
} // namespace tcplab::lab

namespace tcplab::ui {

/// Which link the phantom uses. The built-in peers need no privileges; an interface
/// (the namespace lab's tcplab0, or any interface libpcap lists) is opened through
/// tcplab-link unless this process holds CAP_NET_RAW (lab/interface_link.h).
enum class LabKind : std::uint8_t {
    Linux,     ///< the built-in Linux lab (falls back to lwIP where user namespaces are refused)
    Lwip,      ///< the built-in lwIP peer
    Interface, ///< libpcap on a named interface, with the namespace lab's addresses
};

struct LabChoice {
    LabKind kind = LabKind::Linux;
    bool ipv6 = false;
    QString interfaceName; ///< LabKind::Interface: "tcplab0", ...
};

/// A packetdrill script read and planned, ready to run (prepareDrill()).
struct DrillScript {
    drill::Plan plan;
    drill::DrillOptions options; ///< packetdrill's defaults with the script's header applied
    engine::Scenario steps;      ///< planSteps(plan): steps[i].line is step i's script line
    bool ipv6 = false;           ///< the script's --ip_version, else the default given
};

/// Reads, parses and plans the script at `path` as tcplab-cli drill does (the options of
/// its header applied, backtick commands' files read beside it). Nothing is sent. The
/// error is "file:line:col: message" (or "file: cannot read the script").
tl::expected<DrillScript, QString> prepareDrill(const QString& path, bool ipv6);

/// How the last packetdrill run ended (EngineWorker::lastDrill()).
struct DrillOutcome {
    bool finished = false; ///< false while it runs (or before the first)
    bool ok = false;
    QString explanation; ///< tcplab's words (the engine's ScenarioFinished message)
    /// packetdrill's words from the engine's snapshot: "error handling packet: ...\nscript
    /// packet: ...\nactual packet: ..."; empty when it passed.
    QString failure;
    int failedStep = -1;           ///< index into the plan's steps, -1: none
    qint64 failedAtNs = 0;         ///< when it failed (the timeline's clock), 0: none
    std::uint16_t phantomPort = 0; ///< the phantom's end of the script's connection
};

/// The interfaces libpcap can open (names), the namespace lab's tcplab0 first when it
/// exists; empty when libpcap lists none.
QStringList captureInterfaces();

/// The one QObject that talks to the core engine. It lives in the GUI thread and owns
/// the built-in lab and the engine; the engine's notifier (on the engine thread) posts
/// one queued call at a time that takes the events here and turns them into signals.
/// Frames are not events: a 30 Hz timer follows the timeline's published size while the
/// engine runs (timelineGrew). Failures are signals with a sentence, never a crash.
class EngineWorker : public QObject {
    Q_OBJECT
public:
    explicit EngineWorker(QObject* parent = nullptr);
    ~EngineWorker() override; ///< stops the engine (joins its thread) and removes the lab

    bool running() const noexcept { return m_engine != nullptr; }
    /// The conflict probe has claimed the phantom's address: segments may be sent.
    bool addressClaimed() const noexcept { return m_claimed; }
    LabKind labKind() const noexcept { return m_kind; }
    bool autoAck() const noexcept { return m_autoAck; }
    bool ipv6() const noexcept { return m_ipv6; }
    /// The timeline of the current (or last) lab; null before the first start.
    std::shared_ptr<const timeline::Timeline> timeline() const { return m_timeline; }
    /// The phantom's and the peer's addresses of the current lab (empty when stopped).
    std::optional<wire::IpAddress> phantomAddress() const { return m_phantom; }
    std::optional<wire::IpAddress> peerAddress() const { return m_peer; }
    std::uint16_t peerPort() const noexcept { return 50001; }
    /// The phantom's MAC (random, locally administered; new on every start).
    wire::MacAddress phantomMac() const noexcept { return m_mac; }
    /// The MAC frames to the peer go to: known at once on a built-in lab, after the
    /// neighbour resolution (peerResolved) on an interface.
    std::optional<wire::MacAddress> peerMac() const { return m_peerMac; }
    /// The classic exercise's connection (ports 50000+run -> 50001, ISN 100, the GET) on
    /// the running lab; nullopt when stopped. Each call takes a new source port.
    std::optional<engine::ConnectionParams> nextConnection(engine::CloseMode mode);
    /// The lab's description ("built-in Linux lab (kernel ...): ..."), empty when stopped.
    QString labDescription() const { return m_description; }
    /// The kernel connects to you: a connection for passiveScenario() (the phantom listens on
    /// a new port from 50000 up, the peer's port is its kernel's choice); nullopt when
    /// stopped.
    std::optional<engine::ConnectionParams> nextPassiveConnection();

    /// The peer agent has said hello: peer calls can be made.
    bool peerAgentReady() const noexcept { return m_agentReady; }
    /// What the agent said last ("... is ready: linux 6.18", or why there is none).
    QString peerAgentStatus() const { return m_agentStatus; }
    /// The window the phantom advertises in Auto-ACK's segments (nullopt: what it last sent).
    std::optional<std::uint16_t> advertisedWindow() const noexcept { return m_window; }
    std::size_t snapLength() const noexcept { return m_snapLength; }
    /// The port the phantom listens on (0: none).
    std::uint16_t listeningPort() const noexcept { return m_listenPort; }

    /// A packetdrill script runs (from runDrill() to its drillFinished).
    bool drillRunning() const noexcept { return m_drilling; }
    /// It runs one line per stepDrill() (runDrill(path, true)).
    bool drillStepping() const noexcept { return m_drilling && m_gate != nullptr; }
    /// The steps of the last runDrill() (names and script lines); empty before.
    const engine::Scenario& drillSteps() const noexcept { return m_drillSteps; }
    const DrillOutcome& lastDrill() const noexcept { return m_drillOutcome; }

public Q_SLOTS:
    /// Starts the built-in Linux lab and the engine, then the conflict probe of the
    /// phantom's address (IPv4 198.18.0.2 or IPv6 2001:db8::2). Stops a running lab
    /// first. labStarted or labFailed tells how it went.
    void startLab(bool ipv6);
    /// Starts the chosen lab (see LabChoice); the same signals as startLab(bool).
    void startLabOf(const tcplab::ui::LabChoice& choice);
    /// Sends one frame as it is (the editor's Fire). Empty on success, else why not
    /// (no lab, the address not claimed yet): nothing is sent then.
    QString sendFrame(const std::vector<std::uint8_t>& frame);
    /// Runs the classic exercise (once the probe has claimed the address). Without a
    /// running lab: scenarioFinished(false, why).
    void runClassic(tcplab::engine::CloseMode mode);
    /// Auto-ACK: the phantom acknowledges the peer's new data and FIN at once while no
    /// scenario runs. Kept across lab restarts; off by default.
    void setAutoAck(bool on);
    /// Stops the engine and removes the lab; the timeline is kept for viewing/export.
    void stop();
    /// A socket call or sysctl on the peer's side; its id, whose answer comes with
    /// peerCallAnswered. 0 when no lab runs (nothing is sent then).
    quint32 peerCall(const tcplab::peer::Request& request);
    /// See Engine::setAdvertisedWindow; kept across lab restarts.
    void setAdvertisedWindow(std::optional<std::uint16_t> window);
    /// The phantom as a server: a SYN to `port` is answered with a SYN-ACK (0: none). Kept
    /// across lab restarts.
    void setListeningPort(std::uint16_t port);
    /// See Engine::setSnapLength; applies to the next lab too.
    void setSnapLength(std::size_t bytes);
    /// Runs the packetdrill script at `path` against the running lab, as tcplab-cli drill
    /// does (the phantom is packetdrill's remote host, the peer the kernel under test): a
    /// random phantom port 40000-59999, the peer's port the script's --bind_port. With
    /// `step` only the first line runs until stepDrill(). Empty when it started (drillStep
    /// and drillFinished follow), else why not: nothing runs then (a script error as
    /// "file:line:col: message", no lab, a script already running, the wrong IP version).
    QString runDrill(const QString& path, bool step);
    /// Stepping: lets the next line run.
    void stepDrill();
    /// Stepping: lets every remaining line run (times stay unchecked, see DrillOptions).
    void continueDrill();
    /// Cancels the running script (it fails at its current line, "cancelled").
    void stopDrill();

Q_SIGNALS:
    void labStarted(const QString& description);
    void labFailed(const QString& message);
    void labStopped();
    /// The conflict probe: claimed (free) or refused, with the host's sentence.
    void probeFinished(bool claimed, const QString& message);
    void hostEvent(const QString& message);
    /// The peer's MAC is known (see peerMac()).
    void peerResolved();
    /// A step started, completed, failed or retransmitted: step index (0-based), what
    /// happened ("started", "done", "failed", "retransmitted") and the sentence.
    void scenarioStep(int step, const QString& what, const QString& message);
    void scenarioFinished(bool ok, const QString& message);
    void linkFailed(const QString& message);
    /// The timeline holds `newSize` entries now.
    void timelineGrew(qsizetype newSize);
    /// The timeline holds `newSize` peer records (calls, samples) now.
    void peerRecordsGrew(qsizetype newSize);
    /// A peer call came back: the request, the answer, whether it worked, and the strace-like
    /// line ("connect(3, 198.18.0.2:50000) = -1 EINPROGRESS ...").
    void peerCallAnswered(const tcplab::peer::CallRecord& call, bool ok, const QString& line);
    /// The peer agent became ready (its hello) or unusable (gone, missing): why.
    void peerAgentChanged(bool ready, const QString& message);
    /// A packetdrill run's step (an index into drillSteps()) started, passed or failed:
    /// "started", "done" or "failed", with the line's text or packetdrill's failure. While
    /// a script runs these come instead of scenarioStep.
    void drillStep(int step, const QString& what, const QString& message);
    /// The script ended (instead of scenarioFinished): passed, or failed with tcplab's
    /// explanation and packetdrill's failure text (lastDrill() has the rest).
    void drillFinished(bool ok, const QString& explanation, const QString& failure);

private:
    void drainEvents();
    void handle(const engine::EngineEvent& event);
    void pollTimeline();
    void resolvePeer();
    void finishDrill(const engine::EngineEvent& event);
    /// Follows the sockets a script's calls open and close (its runner's call ids).
    void trackDrillSocket(const peer::CallRecord& call);
    /// Closes the sockets the script left open, as packetdrill's fds die with its process:
    /// the next script may bind the same port again.
    void closeDrillSockets();

    std::unique_ptr<lab::BuiltinLinuxLab> m_lab;
    std::unique_ptr<lab::BuiltinLwipLab> m_lwip;
    LabKind m_kind = LabKind::Linux;
    bool m_claimed = false;
    bool m_resolving = false; ///< the step-less scenario of resolvePeer() runs
    std::optional<wire::MacAddress> m_peerMac;
    std::unique_ptr<engine::Engine> m_engine;
    bool m_autoAck = false;
    std::shared_ptr<timeline::Timeline> m_timeline;
    /// Shared with the notifier: true while a drain is queued (one at a time).
    std::shared_ptr<std::atomic<bool>> m_drainQueued;
    QTimer m_poll;
    std::size_t m_published = 0;
    std::size_t m_peerPublished = 0;
    bool m_agentReady = false;
    QString m_agentStatus;
    std::optional<std::uint16_t> m_window;
    std::size_t m_snapLength = 0;
    std::uint16_t m_listenPort = 0;
    bool m_ipv6 = false;
    std::optional<wire::IpAddress> m_phantom;
    std::optional<wire::IpAddress> m_peer;
    wire::MacAddress m_mac;
    QString m_description;
    unsigned m_runs = 0;
    bool m_drilling = false;
    /// Stepping's gate, shared with the runner: the lines below its value may run.
    std::shared_ptr<std::atomic<std::size_t>> m_gate;
    engine::Scenario m_drillSteps;
    DrillOutcome m_drillOutcome;
    /// The last run was a script's: runner calls are its (the sockets it holds, live fds).
    bool m_drillCalls = false;
    std::set<int> m_drillFds;
};

} // namespace tcplab::ui
