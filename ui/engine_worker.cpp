#include "ui/engine_worker.h"

#include "engine/engine.h"
#include "host/phantom_host.h"
#include "lab/builtin_lab.h"

#include <QMetaObject>

#include <random>

namespace tcplab::ui {

namespace {

constexpr std::string_view kRequest = "GET / HTTP/1.1\r\n\r\n";
/// With the peer closing, the server must close: a keep-alive server waits for us.
constexpr std::string_view kPeerCloseRequest = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
constexpr int kPollIntervalMs = 33; // ~30 Hz

QString qs(const std::string& s) {
    return QString::fromStdString(s);
}

} // namespace

EngineWorker::EngineWorker(QObject* parent)
    : QObject(parent) {
    m_poll.setInterval(kPollIntervalMs);
    connect(&m_poll, &QTimer::timeout, this, &EngineWorker::pollTimeline);
}

EngineWorker::~EngineWorker() {
    // Join the engine thread before the lab's namespaces go; no signals from here on.
    m_poll.stop();
    if (m_engine)
        m_engine->stop();
    m_engine.reset();
    m_lab.reset();
}

void EngineWorker::startLab(bool ipv6) {
    if (m_engine)
        stop();
    auto started = lab::startLinuxLab();
    if (!started) {
        Q_EMIT labFailed(
            QStringLiteral("The built-in lab did not start: %1").arg(qs(started.error().message)));
        return;
    }
    m_lab = std::make_unique<lab::BuiltinLinuxLab>(std::move(*started));
    const lab::LabAddresses& a = m_lab->addresses();
    m_ipv6 = ipv6;

    std::mt19937_64 rng{std::random_device{}()};
    host::Identity identity;
    identity.mac = host::randomLocalMac(rng);
    m_mac = identity.mac;
    if (ipv6) {
        identity.ipv6 = host::Ipv6Config{a.phantom6, a.prefix6, std::nullopt};
        m_phantom = wire::IpAddress{a.phantom6};
        m_peer = wire::IpAddress{a.peer6};
    } else {
        identity.ipv4 = host::Ipv4Config{a.phantom4, a.prefix4, std::nullopt};
        m_phantom = wire::IpAddress{a.phantom4};
        m_peer = wire::IpAddress{a.peer4};
    }
    m_description = qs(m_lab->description());

    m_timeline = std::make_shared<timeline::Timeline>();
    m_published = 0;
    m_engine = std::make_unique<engine::Engine>(m_lab->takeLink(), m_timeline);
    m_drainQueued = std::make_shared<std::atomic<bool>>(false);
    // On the engine thread: queue one drain unless one is already waiting. `this` is the
    // queued call's context (dropped if we are gone) and outlives the engine thread,
    // which the destructor joins first.
    m_engine->setNotifier([this, queued = m_drainQueued] {
        if (queued->exchange(true))
            return;
        QMetaObject::invokeMethod(this, &EngineWorker::drainEvents, Qt::QueuedConnection);
    });
    m_engine->start();
    m_engine->setAutoAck(m_autoAck);
    m_engine->configure(identity, host::HostTiming{}, engine::Engine::Probe::Run);
    m_poll.start();
    Q_EMIT labStarted(m_description);
}

void EngineWorker::runClassic(engine::CloseMode mode) {
    if (!m_engine || !m_phantom || !m_peer) {
        Q_EMIT scenarioFinished(false, QStringLiteral("Start the lab first: there is no peer to "
                                                      "run the exercise against."));
        return;
    }
    engine::ConnectionParams p;
    p.phantomMac = m_mac;
    p.phantom = *m_phantom;
    p.peer = *m_peer;
    // A new source port per run: the peer may still hold the last connection's 4-tuple
    // (TIME-WAIT after it closed first).
    p.sourcePort = static_cast<std::uint16_t>(50000 + (m_runs++ % 1000));
    p.destinationPort = peerPort();
    const std::string_view request = mode == engine::CloseMode::Peer ? kPeerCloseRequest : kRequest;
    p.request.assign(request.begin(), request.end());
    m_engine->runScenario(engine::classicScenario(mode), p);
}

void EngineWorker::setAutoAck(bool on) {
    m_autoAck = on;
    if (m_engine)
        m_engine->setAutoAck(on);
}

void EngineWorker::stop() {
    if (!m_engine)
        return;
    m_poll.stop();
    m_engine->stop();
    drainEvents();
    m_engine.reset();
    m_lab.reset();
    m_phantom.reset();
    m_peer.reset();
    m_description.clear();
    Q_EMIT labStopped();
}

void EngineWorker::drainEvents() {
    if (m_drainQueued)
        m_drainQueued->store(false);
    if (!m_engine)
        return;
    // Frames first, so a step's signal finds its segments in the model.
    pollTimeline();
    for (const auto& event : m_engine->takeEvents())
        handle(event);
}

void EngineWorker::pollTimeline() {
    if (!m_timeline)
        return;
    const std::size_t size = m_timeline->size();
    if (size != m_published) {
        m_published = size;
        Q_EMIT timelineGrew(static_cast<qsizetype>(size));
    }
}

void EngineWorker::handle(const engine::EngineEvent& e) {
    using Kind = engine::EngineEvent::Kind;
    switch (e.kind) {
    case Kind::Host:
        if (!e.host)
            break;
        Q_EMIT hostEvent(qs(e.host->message));
        if (e.host->kind == host::HostEvent::Kind::AddressClaimed)
            Q_EMIT probeFinished(true, qs(e.host->message));
        else if (e.host->kind == host::HostEvent::Kind::AddressConflict)
            Q_EMIT probeFinished(false, qs(e.host->message));
        break;
    case Kind::ScenarioStep:
        if (e.scenario) {
            QString what;
            switch (e.scenario->kind) {
            case engine::ScenarioEvent::Kind::StepStarted:
                what = QStringLiteral("started");
                break;
            case engine::ScenarioEvent::Kind::StepDone:
                what = QStringLiteral("done");
                break;
            case engine::ScenarioEvent::Kind::StepFailed:
                what = QStringLiteral("failed");
                break;
            case engine::ScenarioEvent::Kind::Retransmitted:
                what = QStringLiteral("retransmitted");
                break;
            case engine::ScenarioEvent::Kind::Finished:
                what = QStringLiteral("finished");
                break;
            }
            Q_EMIT scenarioStep(int(e.scenario->step), what, qs(e.scenario->message));
        }
        break;
    case Kind::ScenarioFinished:
        Q_EMIT scenarioFinished(e.ok, qs(e.message));
        break;
    case Kind::LinkFailed:
        Q_EMIT linkFailed(qs(e.message));
        break;
    case Kind::SendFailed:
    case Kind::ReceiveFailed:
    case Kind::TimelineFull:
        Q_EMIT hostEvent(qs(e.message));
        break;
    case Kind::Stopped:
        break;
    }
}

} // namespace tcplab::ui
