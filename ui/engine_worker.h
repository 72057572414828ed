#pragma once

#include "engine/scenario.h"
#include "engine/scenario_runner.h"
#include "timeline/timeline.h"
#include "wire/address.h"

#include <QObject>
#include <QString>
#include <QTimer>

#include <atomic>
#include <memory>
#include <optional>

namespace tcplab::engine {
class Engine;
struct EngineEvent;
} // namespace tcplab::engine
namespace tcplab::lab {
class BuiltinLinuxLab;
}

namespace tcplab::ui {

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
    bool autoAck() const noexcept { return m_autoAck; }
    bool ipv6() const noexcept { return m_ipv6; }
    /// The timeline of the current (or last) lab; null before the first start.
    std::shared_ptr<const timeline::Timeline> timeline() const { return m_timeline; }
    /// The phantom's and the peer's addresses of the current lab (empty when stopped).
    std::optional<wire::IpAddress> phantomAddress() const { return m_phantom; }
    std::optional<wire::IpAddress> peerAddress() const { return m_peer; }
    std::uint16_t peerPort() const noexcept { return 50001; }
    /// The lab's description ("built-in Linux lab (kernel ...): ..."), empty when stopped.
    QString labDescription() const { return m_description; }

public Q_SLOTS:
    /// Starts the built-in Linux lab and the engine, then the conflict probe of the
    /// phantom's address (IPv4 198.18.0.2 or IPv6 2001:db8::2). Stops a running lab
    /// first. labStarted or labFailed tells how it went.
    void startLab(bool ipv6);
    /// Runs the classic exercise (once the probe has claimed the address). Without a
    /// running lab: scenarioFinished(false, why).
    void runClassic(tcplab::engine::CloseMode mode);
    /// Auto-ACK: the phantom acknowledges the peer's new data and FIN at once while no
    /// scenario runs. Kept across lab restarts; off by default.
    void setAutoAck(bool on);
    /// Stops the engine and removes the lab; the timeline is kept for viewing/export.
    void stop();

Q_SIGNALS:
    void labStarted(const QString& description);
    void labFailed(const QString& message);
    void labStopped();
    /// The conflict probe: claimed (free) or refused, with the host's sentence.
    void probeFinished(bool claimed, const QString& message);
    void hostEvent(const QString& message);
    /// A step started, completed, failed or retransmitted: step index (0-based), what
    /// happened ("started", "done", "failed", "retransmitted") and the sentence.
    void scenarioStep(int step, const QString& what, const QString& message);
    void scenarioFinished(bool ok, const QString& message);
    void linkFailed(const QString& message);
    /// The timeline holds `newSize` entries now.
    void timelineGrew(qsizetype newSize);

private:
    void drainEvents();
    void handle(const engine::EngineEvent& event);
    void pollTimeline();

    std::unique_ptr<lab::BuiltinLinuxLab> m_lab;
    std::unique_ptr<engine::Engine> m_engine;
    bool m_autoAck = false;
    std::shared_ptr<timeline::Timeline> m_timeline;
    /// Shared with the notifier: true while a drain is queued (one at a time).
    std::shared_ptr<std::atomic<bool>> m_drainQueued;
    QTimer m_poll;
    std::size_t m_published = 0;
    bool m_ipv6 = false;
    std::optional<wire::IpAddress> m_phantom;
    std::optional<wire::IpAddress> m_peer;
    wire::MacAddress m_mac;
    QString m_description;
    unsigned m_runs = 0;
};

} // namespace tcplab::ui
