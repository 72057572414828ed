#include "ui/engine_worker.h"

#include "engine/engine.h"
#include "host/phantom_host.h"
#include "lab/builtin_lab.h"
#include "lab/interface_link.h"
#include "lab/lwip_lab.h"

#include <QFile>
#include <QMetaObject>

#include <pcap/pcap.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>

namespace tcplab::ui {

namespace {

constexpr std::string_view kRequest = "GET / HTTP/1.1\r\n\r\n";
/// With the peer closing, the server must close: a keep-alive server waits for us.
constexpr std::string_view kPeerCloseRequest = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
constexpr int kPollIntervalMs = 33; // ~30 Hz

QString qs(const std::string& s) {
    return QString::fromStdString(s);
}

std::optional<std::string> readText(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

} // namespace

tl::expected<DrillScript, QString> prepareDrill(const QString& path, bool ipv6) {
    namespace fs = std::filesystem;
    // The same steps as tcplab-cli drill (app/cli/drill_command.cpp), so that a script
    // means the same in both.
    const fs::path file = fs::path(QFile::encodeName(path).toStdString());
    const std::string name = path.toStdString();
    const auto text = readText(file);
    if (!text)
        return tl::make_unexpected(QStringLiteral("%1: cannot read the script").arg(path));
    auto script = drill::parseScript(*text);
    if (!script)
        return tl::make_unexpected(qs(drill::describe(script.error(), name)));
    DrillScript out;
    out.ipv6 = ipv6;
    for (const auto& option : script->options) {
        if (option.name == "ip_version")
            out.ipv6 = option.value == "ipv6";
        if (auto ok = drill::applyOption(out.options, option.name, option.value); !ok)
            return tl::make_unexpected(QStringLiteral("%1:%2:%3: %4")
                                           .arg(path)
                                           .arg(option.pos.line)
                                           .arg(option.pos.column)
                                           .arg(qs(ok.error())));
    }
    const fs::path folder = file.parent_path();
    const auto reader = [&folder](const std::string& named) {
        return readText(fs::path(named).is_absolute() ? fs::path(named) : folder / named);
    };
    auto plan = drill::planScript(*script, out.ipv6, reader);
    if (!plan)
        return tl::make_unexpected(qs(drill::describe(plan.error(), name)));
    out.steps = drill::planSteps(*plan, name);
    out.plan = std::move(*plan);
    return out;
}

EngineWorker::EngineWorker(QObject* parent)
    : QObject(parent) {
    qRegisterMetaType<tcplab::peer::CallRecord>();
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
    m_lwip.reset();
}

QStringList captureInterfaces() {
    QStringList names;
    pcap_if_t* all = nullptr;
    char error[PCAP_ERRBUF_SIZE] = {};
    if (pcap_findalldevs(&all, error) != 0)
        return names;
    for (pcap_if_t* d = all; d; d = d->next) {
        // Only links that carry Ethernet frames of their own: not "any", not loopback.
        if (!d->name || (d->flags & PCAP_IF_LOOPBACK) || std::string_view(d->name) == "any")
            continue;
        names << QString::fromUtf8(d->name);
    }
    pcap_freealldevs(all);
    if (const qsizetype lab = names.indexOf(QStringLiteral("tcplab0")); lab > 0)
        names.move(lab, 0);
    return names;
}

void EngineWorker::startLab(bool ipv6) {
    startLabOf(LabChoice{LabKind::Linux, ipv6, {}});
}

void EngineWorker::startLabOf(const LabChoice& choice) {
    if (m_engine)
        stop();
    std::unique_ptr<link::Link> link;
    lab::LabAddresses a;
    m_kind = choice.kind;
    QString fallback;
    if (choice.kind == LabKind::Linux) {
        auto started = lab::startLinuxLab();
        if (started) {
            m_lab = std::make_unique<lab::BuiltinLinuxLab>(std::move(*started));
            a = m_lab->addresses();
            link = m_lab->takeLink();
        } else if (started.error().code == lab::LabErrorCode::UserNamespacesRefused) {
            // The promise: the lab works everywhere. Say why, then use lwIP.
            fallback = QStringLiteral("%1; using the embedded peer (lwIP) instead.")
                           .arg(qs(started.error().message));
            m_kind = LabKind::Lwip;
        } else {
            Q_EMIT labFailed(QStringLiteral("The built-in Linux lab did not start: %1")
                                 .arg(qs(started.error().message)));
            return;
        }
    }
    if (m_kind == LabKind::Lwip) {
        auto started = lab::startLwipLab();
        if (!started) {
            Q_EMIT labFailed(QStringLiteral("The built-in lwIP lab did not start: %1")
                                 .arg(qs(started.error().message)));
            return;
        }
        m_lwip = std::make_unique<lab::BuiltinLwipLab>(std::move(*started));
        a = m_lwip->addresses();
        link = m_lwip->takeLink();
    }
    if (m_kind == LabKind::Interface) {
        // The namespace lab's addresses (scripts/tcplab-lab): the same as the built-in
        // peers', 198.18.0.0/24 and 2001:db8::/64.
        a.peer4 = *wire::Ipv4Address::parse("198.18.0.1");
        a.phantom4 = *wire::Ipv4Address::parse("198.18.0.2");
        a.peer6 = *wire::Ipv6Address::parse("2001:db8::1");
        a.phantom6 = *wire::Ipv6Address::parse("2001:db8::2");
    }
    m_ipv6 = choice.ipv6;
    m_claimed = false;
    m_drillFds.clear(); // a new lab's peer holds none of them
    m_peerMac.reset();

    // The peer agent: the built-in lab's own, or the namespace lab's on its Unix socket.
    std::unique_ptr<peer::AgentClient> agent;
    std::string noAgent;
    if (m_lab) {
        agent = m_lab->takeAgent();
        noAgent = m_lab->agentError();
    } else if (m_lwip) {
        agent = m_lwip->takeAgent();
        noAgent = m_lwip->agentError();
    } else {
        auto connected = peer::AgentClient::connectUnix(peer::AgentClient::namespaceLabSocket());
        if (connected)
            agent = std::move(*connected);
        else
            noAgent = connected.error();
    }
    m_agentReady = false;
    m_agentStatus = agent ? QStringLiteral("Waiting for the peer agent...") : qs(noAgent);

    std::mt19937_64 rng{std::random_device{}()};
    host::Identity identity;
    identity.mac = host::randomLocalMac(rng);
    m_mac = identity.mac;
    if (choice.ipv6) {
        identity.ipv6 = host::Ipv6Config{a.phantom6, a.prefix6, std::nullopt};
        m_phantom = wire::IpAddress{a.phantom6};
        m_peer = wire::IpAddress{a.peer6};
    } else {
        identity.ipv4 = host::Ipv4Config{a.phantom4, a.prefix4, std::nullopt};
        m_phantom = wire::IpAddress{a.phantom4};
        m_peer = wire::IpAddress{a.peer4};
    }
    if (m_kind == LabKind::Interface) {
        auto opened = lab::openInterfaceLink(choice.interfaceName.toStdString(), identity);
        if (!opened) {
            m_phantom.reset();
            m_peer.reset();
            Q_EMIT labFailed(QStringLiteral("The interface %1 cannot be used: %2")
                                 .arg(choice.interfaceName, qs(opened.error().message)));
            return;
        }
        link = std::move(*opened);
        m_description = QStringLiteral("interface %1 (%2): phantom %3, peer %4")
                            .arg(choice.interfaceName, qs(link->description()),
                                 qs(wire::addressText(*m_phantom)), qs(wire::addressText(*m_peer)));
    } else {
        m_peerMac = a.peerMac;
        m_description = m_lab ? qs(m_lab->description()) : qs(m_lwip->description());
        if (!fallback.isEmpty())
            m_description = fallback + QLatin1Char(' ') + m_description;
    }

    m_timeline = std::make_shared<timeline::Timeline>();
    m_published = 0;
    m_peerPublished = 0;
    m_engine = std::make_unique<engine::Engine>(std::move(link), m_timeline);
    m_engine->attachAgent(std::move(agent), noAgent);
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
    m_engine->setAdvertisedWindow(m_window);
    m_engine->setSnapLength(m_snapLength);
    if (m_listenPort != 0)
        m_engine->setListener(
            {m_listenPort, wire::SeqNum(1000), m_ipv6 ? std::uint16_t(1440) : std::uint16_t(1460)});
    m_engine->configure(identity, host::HostTiming{}, engine::Engine::Probe::Run);
    m_poll.start();
    Q_EMIT labStarted(m_description);
}

std::optional<engine::ConnectionParams> EngineWorker::nextConnection(engine::CloseMode mode) {
    if (!m_engine || !m_phantom || !m_peer)
        return std::nullopt;
    engine::ConnectionParams p;
    p.phantomMac = m_mac;
    p.phantom = *m_phantom;
    p.peer = *m_peer;
    if (m_peerMac)
        p.nextHopMac = *m_peerMac;
    // A new source port per run: the peer may still hold the last connection's 4-tuple
    // (TIME-WAIT after it closed first).
    p.sourcePort = static_cast<std::uint16_t>(50000 + (m_runs++ % 1000));
    p.destinationPort = peerPort();
    const std::string_view request = mode == engine::CloseMode::Peer ? kPeerCloseRequest : kRequest;
    p.request.assign(request.begin(), request.end());
    return p;
}

std::optional<engine::ConnectionParams> EngineWorker::nextPassiveConnection() {
    auto p = nextConnection(engine::CloseMode::Fin);
    if (!p)
        return std::nullopt;
    p->destinationPort = 0; // the peer's kernel chooses it: learned from its SYN
    p->iss = wire::SeqNum(1000);
    p->request.clear();
    return p;
}

quint32 EngineWorker::peerCall(const peer::Request& request) {
    if (!m_engine)
        return 0;
    return m_engine->peerCall(request);
}

void EngineWorker::setAdvertisedWindow(std::optional<std::uint16_t> window) {
    m_window = window;
    if (m_engine)
        m_engine->setAdvertisedWindow(window);
}

void EngineWorker::setListeningPort(std::uint16_t port) {
    m_listenPort = port;
    if (m_engine)
        m_engine->setListener(
            {port, wire::SeqNum(1000), m_ipv6 ? std::uint16_t(1440) : std::uint16_t(1460)});
}

void EngineWorker::setSnapLength(std::size_t bytes) {
    m_snapLength = bytes;
    if (m_engine)
        m_engine->setSnapLength(bytes);
}

void EngineWorker::runClassic(engine::CloseMode mode) {
    auto params = nextConnection(mode);
    if (!params) {
        Q_EMIT scenarioFinished(false, QStringLiteral("Start the lab first: there is no peer to "
                                                      "run the exercise against."));
        return;
    }
    m_drillCalls = false; // the scenario's calls are its own
    m_engine->runScenario(engine::classicScenario(mode), std::move(*params));
}

QString EngineWorker::runDrill(const QString& path, bool step) {
    // The script first: its errors need no lab, and nothing starts with one.
    auto prepared = prepareDrill(path, m_ipv6);
    if (!prepared)
        return prepared.error();
    if (!m_engine || !m_phantom || !m_peer)
        return QStringLiteral("Start the lab first (Lab > Start): the script runs against the "
                              "lab's peer.");
    // One run at a time: the engine's events name no run, so a second one would be
    // mistaken for the first.
    if (m_drilling)
        return QStringLiteral("A script is running: stop it first (Shift+F5).");
    if (prepared->ipv6 != m_ipv6)
        return prepared->ipv6
                   ? QStringLiteral(
                         "The script asks for IPv6 (--ip_version=ipv6) and the lab "
                         "runs IPv4: choose IPv6 in the lab bar and start the lab again.")
                   : QStringLiteral("The script asks for IPv4 and the lab runs IPv6: choose IPv4 "
                                    "in the lab bar and start the lab again.");

    engine::ConnectionParams params;
    params.phantomMac = m_mac;
    params.phantom = *m_phantom;
    params.peer = *m_peer;
    if (m_peerMac)
        params.nextHopMac = *m_peerMac;
    // As tcplab-cli drill: a random phantom port, so that the peer holds no old connection
    // of the same 4-tuple (TIME-WAIT of the last run).
    std::mt19937_64 rng{std::random_device{}()};
    params.sourcePort = static_cast<std::uint16_t>(40000 + rng() % 20000);
    params.destinationPort = prepared->options.bindPort;

    drill::DrillOptions options = prepared->options;
    m_gate.reset();
    if (step) {
        m_gate = std::make_shared<std::atomic<std::size_t>>(1);
        options.stepGate = m_gate;
    }
    m_drilling = true;
    m_drillCalls = true;
    m_drillSteps = prepared->steps;
    m_drillOutcome = DrillOutcome{};
    m_drillOutcome.phantomPort = params.sourcePort;
    m_engine->run(prepared->steps, std::move(params),
                  [plan = std::move(prepared->plan), options,
                   title = path.toStdString()](engine::ConnectionParams p) mutable {
                      return std::make_unique<drill::DrillRunner>(std::move(plan), options,
                                                                  std::move(p), title);
                  });
    return {};
}

void EngineWorker::stepDrill() {
    if (m_drilling && m_gate)
        m_gate->fetch_add(1, std::memory_order_release);
}

void EngineWorker::continueDrill() {
    if (m_drilling && m_gate)
        m_gate->store(std::numeric_limits<std::size_t>::max(), std::memory_order_release);
}

void EngineWorker::stopDrill() {
    if (m_engine && m_drilling)
        m_engine->cancelScenario();
}

QString EngineWorker::sendFrame(const std::vector<std::uint8_t>& frame) {
    if (!m_engine)
        return QStringLiteral("Start the lab first: there is no link to send on.");
    if (!m_claimed)
        return QStringLiteral("The phantom's address is not claimed yet: tcplab sends nothing "
                              "until the conflict probe has found it free.");
    if (frame.empty())
        return QStringLiteral("There is no frame to send.");
    m_engine->sendFrame(frame);
    return {};
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
    if (m_drilling) {
        // The engine ends a running scenario before it stops; this is for one it never
        // reported (a drill's view must not wait for an end that cannot come).
        finishDrill({engine::EngineEvent::Kind::ScenarioFinished, std::nullopt, std::nullopt, false,
                     "the lab stopped"});
    }
    m_engine.reset();
    m_lab.reset();
    m_lwip.reset();
    m_claimed = false;
    m_peerMac.reset();
    m_phantom.reset();
    m_peer.reset();
    m_description.clear();
    if (m_agentReady) {
        m_agentReady = false;
        m_agentStatus = QStringLiteral("The lab is stopped: its peer agent is gone.");
        Q_EMIT peerAgentChanged(false, m_agentStatus);
    }
    Q_EMIT labStopped();
}

void EngineWorker::resolvePeer() {
    if (m_peerMac) {
        Q_EMIT peerResolved();
        return;
    }
    // On an interface the peer's MAC is learnt by ARP/ND. A scenario without steps does
    // just that: the engine resolves its next hop (a Resolved host event), then it ends.
    auto params = nextConnection(engine::CloseMode::Fin);
    if (!params)
        return;
    engine::Scenario resolveOnly;
    resolveOnly.title = "resolve the peer";
    m_resolving = true;
    m_engine->runScenario(std::move(resolveOnly), std::move(*params));
}

void EngineWorker::finishDrill(const engine::EngineEvent& e) {
    m_drilling = false;
    m_gate.reset();
    DrillOutcome& o = m_drillOutcome;
    o.finished = true;
    o.ok = e.ok;
    o.explanation = qs(e.message);
    // packetdrill's words are the failed step's message in the snapshot (the engine
    // updates it before it publishes the turn's events).
    const auto snapshot = m_engine->scenarioSnapshot();
    for (std::size_t i = 0; i < snapshot.results.size(); ++i)
        if (snapshot.results[i].status == engine::StepResult::Status::Failed) {
            o.failedStep = int(i);
            o.failedAtNs = snapshot.results[i].endNs;
            o.failure = qs(snapshot.results[i].message);
            break;
        }
    if (o.ok) {
        o.failure.clear();
        o.failedStep = -1;
        o.failedAtNs = 0;
    } else if (o.failure.isEmpty()) {
        o.failure = o.explanation; // it failed before it started (no phantom, no peer)
    }
    closeDrillSockets();
    Q_EMIT drillFinished(o.ok, o.explanation, o.failure);
}

void EngineWorker::trackDrillSocket(const peer::CallRecord& call) {
    if (!m_drillCalls || call.request.id < engine::Engine::kRunnerCallIds ||
        call.answer.outcome != peer::Outcome::Done)
        return;
    if ((call.request.call == peer::Call::Socket || call.request.call == peer::Call::Accept) &&
        call.answer.result >= 0)
        m_drillFds.insert(int(call.answer.result));
    else if (call.request.call == peer::Call::Close && call.answer.result == 0)
        m_drillFds.erase(call.request.fd);
    // A blocking accept() that returns after the end: closed as the others were.
    if (!m_drilling)
        closeDrillSockets();
}

void EngineWorker::closeDrillSockets() {
    if (!m_engine) {
        m_drillFds.clear();
        return;
    }
    for (const int fd : m_drillFds) {
        peer::Request close;
        close.call = peer::Call::Close;
        close.fd = fd;
        m_engine->peerCall(close);
    }
    m_drillFds.clear();
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
    const std::size_t peerSize = m_timeline->peerSize();
    if (peerSize != m_peerPublished) {
        m_peerPublished = peerSize;
        Q_EMIT peerRecordsGrew(static_cast<qsizetype>(peerSize));
    }
}

void EngineWorker::handle(const engine::EngineEvent& e) {
    using Kind = engine::EngineEvent::Kind;
    switch (e.kind) {
    case Kind::Host:
        if (!e.host)
            break;
        Q_EMIT hostEvent(qs(e.host->message));
        if (e.host->kind == host::HostEvent::Kind::AddressClaimed) {
            m_claimed = true;
            Q_EMIT probeFinished(true, qs(e.host->message));
            resolvePeer();
        } else if (e.host->kind == host::HostEvent::Kind::Resolved && e.host->mac && m_peer &&
                   e.host->address == *m_peer && !m_peerMac) {
            m_peerMac = e.host->mac;
            Q_EMIT peerResolved();
        } else if (e.host->kind == host::HostEvent::Kind::AddressConflict)
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
            if (m_drilling) {
                if (e.scenario->kind == engine::ScenarioEvent::Kind::StepFailed) {
                    // The snapshot says the same; this covers a failure the snapshot missed.
                    m_drillOutcome.failedStep = int(e.scenario->step);
                    m_drillOutcome.failedAtNs = e.scenario->atNs;
                    m_drillOutcome.failure = qs(e.scenario->message);
                }
                Q_EMIT drillStep(int(e.scenario->step), what, qs(e.scenario->message));
            } else {
                Q_EMIT scenarioStep(int(e.scenario->step), what, qs(e.scenario->message));
            }
        }
        break;
    case Kind::ScenarioFinished:
        if (m_resolving) {
            // The step-less scenario of resolvePeer(): only its failure is news.
            m_resolving = false;
            if (!e.ok)
                Q_EMIT hostEvent(
                    QStringLiteral("The peer's MAC is unknown: %1").arg(qs(e.message)));
            break;
        }
        if (m_drilling) {
            finishDrill(e);
            break;
        }
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
    case Kind::PeerAgent:
        m_agentReady = e.ok;
        m_agentStatus = qs(e.message);
        Q_EMIT peerAgentChanged(e.ok, m_agentStatus);
        break;
    case Kind::PeerCall:
        if (e.call) {
            trackDrillSocket(*e.call);
            Q_EMIT peerCallAnswered(*e.call, e.ok, qs(e.message));
        }
        break;
    case Kind::Stopped:
        break;
    }
}

} // namespace tcplab::ui
