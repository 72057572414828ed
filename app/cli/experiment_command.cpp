// tcplab-cli experiment: the classic exercise against a real TCP stack, from the
// phantom host, with a text ladder of every segment.
#include "cli/commands.h"
#include "cli/lab_run.h"

#include "engine/engine.h"
#include "engine/scenario.h"
#include "host/phantom_host.h"
#include "lab/builtin_lab.h"
#include "lab/interface_link.h"
#include "lab/lwip_lab.h"
#include "peer/agent_client.h"
#include "peer/call_text.h"
#include "peer/tcp_info.h"
#include "timeline/peer_records.h"
#include "timeline/timeline.h"
#include "timeline/timeline_io.h"
#include "wire/address.h"
#include "wire/bytes.h"
#include "wire/frame_summary.h"
#include "wire/tcp.h"

#include <fmt/core.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <sstream>

namespace tcplab::cli {

namespace {

using wire::IpAddress;

struct ExperimentOptions {
    std::string iface;
    std::string lab;
    bool ipv6 = false;
    std::string phantom;
    std::string phantomMac;
    std::string gateway;
    std::string peer;
    std::uint16_t sport = 50000;
    std::uint16_t dport = 50001;
    std::string isn = "100";
    std::string request;
    std::string close = "fin";
    std::string scenarioFile;
    std::string timelinePath;
    std::string pcapPath;
    unsigned rtoMs = 250;
    unsigned repeat = 1;
    bool skipProbe = false;
    bool quiet = false;
    bool passive = false;
    std::string agentSocket; ///< with --iface: the namespace lab's agent
    std::size_t snapLength = 0;
    /// `tcplab-cli peer`: the scenario's text (its calls), the socket table at the end, and
    /// the calls' lines printed as the main output.
    std::string scenarioText;
    bool peerCommand = false;
    bool info = false;
    bool ladder = true;
};

constexpr std::string_view kDefaultRequest = "GET / HTTP/1.1\r\n\r\n";
/// With --close peer the server must close: a keep-alive server waits for us.
constexpr std::string_view kDefaultPeerCloseRequest = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n";

/// "198.18.0.2/24" -> address and prefix; the prefix defaults to 24 / 64.
std::pair<IpAddress, unsigned> parsePhantom(const std::string& text) {
    const auto slash = text.find('/');
    const std::string addressText = text.substr(0, slash);
    auto address = wire::parseIpAddress(addressText);
    if (!address)
        throw CLI::ValidationError("--phantom",
                                   fmt::format("'{}' is not an IPv4 or IPv6 address", addressText));
    const bool v6 = std::holds_alternative<wire::Ipv6Address>(*address);
    unsigned prefix = v6 ? 64 : 24;
    if (slash != std::string::npos)
        prefix = static_cast<unsigned>(parseUnsigned(
            "--phantom prefix", std::string_view(text).substr(slash + 1), v6 ? 128 : 32));
    return {*address, prefix};
}

IpAddress parseAddressOption(std::string_view option, const std::string& text) {
    auto address = wire::parseIpAddress(text);
    if (!address)
        throw CLI::ValidationError(std::string(option),
                                   fmt::format("'{}' is not an IPv4 or IPv6 address", text));
    return *address;
}

/// An output file must be writable before anything is sent: a run is not repeated for
/// want of a directory. A directory, or a file in a missing one, is a bad argument.
void checkOutputPath(std::string_view option, const std::string& path) {
    if (path.empty())
        return;
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::is_directory(path, ec))
        throw CLI::ValidationError(std::string(option), fmt::format("{} is a directory", path));
    const fs::path parent = fs::path(path).parent_path();
    if (!parent.empty() && !fs::is_directory(parent, ec))
        throw CLI::ValidationError(
            std::string(option),
            fmt::format("cannot write {}: no directory {}", path, parent.string()));
}

bool isV6(const IpAddress& a) {
    return std::holds_alternative<wire::Ipv6Address>(a);
}

struct Plan {
    host::Identity identity;
    engine::Scenario scenario;
    engine::ConnectionParams params;
};

Plan makePlan(const ExperimentOptions& o) {
    Plan plan;
    auto [phantom, prefix] = parsePhantom(o.phantom);
    const IpAddress peer = parseAddressOption("--peer", o.peer);
    if (isV6(phantom) != isV6(peer))
        throw CLI::ValidationError("--peer", fmt::format("{} and the phantom {} are not the same "
                                                         "IP version",
                                                         o.peer, wire::addressText(phantom)));
    if (phantom == peer)
        throw CLI::ValidationError("--peer", "the peer cannot be the phantom's own address");

    if (o.phantomMac.empty()) {
        std::mt19937_64 rng{std::random_device{}()};
        plan.identity.mac = host::randomLocalMac(rng);
    } else {
        auto mac = wire::MacAddress::parse(o.phantomMac);
        if (!mac)
            throw CLI::ValidationError(
                "--phantom-mac",
                fmt::format("'{}' is not a MAC address (aa:bb:cc:dd:ee:ff)", o.phantomMac));
        if (mac->octets[0] & 0x01)
            throw CLI::ValidationError("--phantom-mac",
                                       fmt::format("{} is a group address; the phantom needs a "
                                                   "unicast MAC",
                                                   o.phantomMac));
        plan.identity.mac = *mac;
    }
    std::optional<IpAddress> gateway;
    if (!o.gateway.empty()) {
        gateway = parseAddressOption("--gateway", o.gateway);
        if (isV6(*gateway) != isV6(phantom))
            throw CLI::ValidationError(
                "--gateway", fmt::format("{} is not the phantom's IP version", o.gateway));
    }
    if (auto* v4 = std::get_if<wire::Ipv4Address>(&phantom)) {
        host::Ipv4Config c{*v4, prefix, std::nullopt};
        if (gateway)
            c.gateway = std::get<wire::Ipv4Address>(*gateway);
        plan.identity.ipv4 = c;
    } else {
        host::Ipv6Config c{std::get<wire::Ipv6Address>(phantom), prefix, std::nullopt};
        if (gateway)
            c.gateway = std::get<wire::Ipv6Address>(*gateway);
        plan.identity.ipv6 = c;
    }

    checkOutputPath("--pcap", o.pcapPath);
    checkOutputPath("--timeline", o.timelinePath);

    auto close = engine::parseCloseMode(o.close);
    if (!close)
        throw CLI::ValidationError("--close",
                                   fmt::format("'{}' is not one of fin, rst, peer", o.close));
    if (!o.scenarioText.empty()) {
        auto scenario = engine::parseScenario(o.scenarioText);
        if (!scenario)
            throw CLI::ValidationError("CALL", scenario.error().message);
        plan.scenario = std::move(*scenario);
    } else if (o.passive) {
        plan.scenario = engine::passiveScenario();
    } else if (o.scenarioFile.empty()) {
        plan.scenario = engine::classicScenario(*close);
    } else {
        std::ifstream in(o.scenarioFile, std::ios::binary);
        if (!in)
            throw CLI::ValidationError("--scenario", fmt::format("cannot read {}", o.scenarioFile));
        std::ostringstream text;
        text << in.rdbuf();
        auto scenario = engine::parseScenario(text.str());
        if (!scenario)
            throw CLI::ValidationError(
                "--scenario",
                fmt::format("{}: {}", o.scenarioFile, engine::describe(scenario.error())));
        if (scenario->steps.empty())
            throw CLI::ValidationError("--scenario",
                                       fmt::format("{}: no steps (send, expect, receive, wait, "
                                                   "linger)",
                                                   o.scenarioFile));
        plan.scenario = std::move(*scenario);
    }

    std::string_view request = o.request;
    if (request.empty())
        request = *close == engine::CloseMode::Peer ? kDefaultPeerCloseRequest : kDefaultRequest;
    auto requestBytes = wire::unescapeText(request);
    if (!requestBytes)
        throw CLI::ValidationError("--request", requestBytes.error());

    auto& p = plan.params;
    p.phantomMac = plan.identity.mac;
    p.phantom = phantom;
    p.peer = peer;
    p.sourcePort = o.sport;
    // Passive open: the peer's kernel picks its port; the runner learns it from the SYN.
    p.destinationPort = o.passive ? 0 : o.dport;
    p.iss = wire::SeqNum{static_cast<std::uint32_t>(parseUnsigned("--isn", o.isn, 0xffffffff))};
    p.request = std::move(*requestBytes);
    p.initialRtoNs = std::int64_t{o.rtoMs} * 1'000'000;
    return plan;
}

bool usesPeer(const engine::Scenario& scenario) {
    for (const auto& step : scenario.steps)
        if (std::holds_alternative<engine::PeerStep>(step.action) ||
            std::holds_alternative<engine::ExpectPeerStep>(step.action))
            return true;
    return false;
}

/// --info: each socket's last sample in the timeline, with every tcp_info field it has.
void printSockets(const timeline::Timeline& timeline, std::ostream& out) {
    std::map<std::uint64_t, peer::Sample> last;
    for (std::size_t i = 0, n = timeline.peerSize(); i < n; ++i)
        if (auto s = timeline::sampleRecord(timeline.peer(i)))
            last[s->sockets.front().inode] = std::move(*s);
    for (const auto& [inode, sample] : last) {
        const peer::SocketSample& s = sample.sockets.front();
        const auto info = peer::TcpInfo::fromPairs(s.fields);
        out << fmt::format(
            "# socket {}{} {} -> {}{}: receive queue {}, send queue {}{}\n",
            s.fd >= 0 ? "fd " : "inode ", s.fd >= 0 ? std::to_string(s.fd) : std::to_string(inode),
            peer::endpointText(s.local, s.localPort), peer::endpointText(s.remote, s.remotePort),
            s.gone ? " (gone)" : "", s.receiveQueue, s.sendQueue,
            s.congestion.empty() ? "" : ", " + s.congestion);
        // Zeros are left out: most fields of a listening or idle socket are.
        std::string line;
        for (const auto& f : peer::tcpInfoFields()) {
            const auto v = info.get(f.field);
            if (!v || (*v == 0 && f.field != peer::TcpInfoField::State))
                continue;
            const std::string item = fmt::format("{}={}", f.name, peer::formatField(f.field, *v));
            if (!line.empty() && line.size() + item.size() > 96) {
                out << "#   " << line << "\n";
                line.clear();
            }
            line += (line.empty() ? "" : "  ") + item;
        }
        if (!line.empty())
            out << "#   " << line << "\n";
    }
}

std::string hostEventLine(const host::HostEvent& e) {
    return "# " + e.message;
}

/// A line of /proc/self/status ("VmRSS", "VmHWM") in kB; 0 when it cannot be read.
long statusKb(std::string_view key) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.starts_with(key) && line.size() > key.size() && line[key.size()] == ':')
            return std::strtol(line.c_str() + key.size() + 1, nullptr, 10);
    return 0;
}

/// --repeat N (the soak, bench/soak): N runs one after the other in this process,
/// each with what a single run builds (link, engine, timeline), so a leak in any of
/// them shows as growth. The first run probes the address; later runs keep that
/// claim (same MAC and address) instead of probing again. Each run uses the next
/// source port. No ladder: the first failures, and every 1000 runs a line with the
/// counts and the process's memory.
int repeatExperiment(const ExperimentOptions& o, Plan plan) {
    if (o.skipProbe)
        std::cerr << "tcplab-cli experiment: warning: --skip-probe: the phantom claims "
                  << o.phantom << " without checking that nobody else uses it\n";
    const std::int64_t budgetNs = engine::timeBudgetNs(plan.scenario);
    constexpr unsigned kFailuresShown = 10;
    unsigned ok = 0;
    unsigned failures = 0;
    for (unsigned i = 0; i < o.repeat; ++i) {
        plan.params.sourcePort = static_cast<std::uint16_t>(1024 + (o.sport - 1024 + i) % 64512);
        std::string failure;
        if (auto opened = lab::openInterfaceLink(o.iface, plan.identity); !opened) {
            failure = opened.error().message;
        } else {
            auto timeline = std::make_shared<timeline::Timeline>();
            engine::Engine engine(std::move(*opened), timeline);
            engine.start();
            const bool probe = i == 0 && !o.skipProbe;
            engine.configure(plan.identity, host::HostTiming{},
                             probe ? engine::Engine::Probe::Run : engine::Engine::Probe::Skip);
            engine.runScenario(plan.scenario, plan.params);
            const auto deadline =
                std::chrono::steady_clock::now() + std::chrono::nanoseconds(budgetNs);
            std::optional<engine::EngineEvent> finished;
            while (!finished && std::chrono::steady_clock::now() < deadline) {
                engine.waitForEvents(std::chrono::milliseconds(50));
                for (auto& e : engine.takeEvents())
                    if (e.kind == engine::EngineEvent::Kind::ScenarioFinished)
                        finished = std::move(e);
            }
            engine.stop();
            if (!finished)
                failure = fmt::format("gave up after {} s without an end to the scenario",
                                      budgetNs / 1'000'000'000);
            else if (!finished->ok)
                failure = finished->message;
        }
        if (failure.empty()) {
            ++ok;
        } else {
            ++failures;
            if (failures <= kFailuresShown)
                std::cerr << "tcplab-cli experiment: run " << i + 1 << " (port "
                          << plan.params.sourcePort << "): " << failure << "\n";
            if (i == 0) // the probe or the link: later runs would fail the same way
                return kExitFailure;
        }
        if ((i + 1) % 1000 == 0 || i + 1 == o.repeat)
            std::cout << "# " << i + 1 << " runs: " << ok << " ok, " << failures
                      << " failed; VmRSS " << statusKb("VmRSS") << " kB, VmHWM "
                      << statusKb("VmHWM") << " kB" << std::endl;
    }
    return failures == 0 ? kExitOk : kExitFailure;
}

int runExperiment(ExperimentOptions o) {
    const std::string who = o.peerCommand ? "tcplab-cli peer: " : "tcplab-cli experiment: ";
    const bool builtin = o.iface.empty();
    const bool labChosen = !o.lab.empty();
    if (builtin) {
        if (o.lab.empty())
            o.lab = "linux";
        if (o.lab != "linux" && o.lab != "lwip")
            throw CLI::ValidationError(
                "--lab",
                fmt::format("'{}' is not a built-in peer (there are: linux, lwip)", o.lab));
        if (o.phantom.empty())
            o.phantom = o.ipv6 ? kLabPhantom6 : kLabPhantom4;
        if (o.peer.empty())
            o.peer = o.ipv6 ? kLabPeer6 : kLabPeer4;
    } else if (o.phantom.empty() || o.peer.empty()) {
        throw CLI::RequiredError(o.phantom.empty() ? "--phantom" : "--peer");
    }
    Plan plan = makePlan(o);
    if (o.repeat > 1) {
        if (builtin)
            throw CLI::ValidationError("--repeat", "needs --iface (the soak runs against the "
                                                   "namespace lab)");
        if (!o.timelinePath.empty() || !o.pcapPath.empty())
            throw CLI::ValidationError("--repeat", "cannot be combined with --timeline or --pcap");
        return repeatExperiment(o, std::move(plan));
    }

    // The link: the built-in Linux lab's veth (a private namespace pair that lives as
    // long as `linuxLab`), the lwIP helper's socket, or libpcap on the named interface,
    // filtered to the phantom's traffic. The labs outlive the engine below.
    std::optional<lab::BuiltinLinuxLab> linuxLab;
    std::optional<lab::BuiltinLwipLab> lwipLab;
    std::unique_ptr<link::Link> link;
    if (builtin && o.lab == "linux") {
        auto started = lab::startLinuxLab();
        if (started) {
            linuxLab.emplace(std::move(*started));
            link = linuxLab->takeLink();
            if (!o.quiet)
                std::cout << "# " << linuxLab->description() << "\n";
        } else if (!labChosen && started.error().code == lab::LabErrorCode::UserNamespacesRefused) {
            // The default peer cannot run here: say why, and use the embedded one.
            std::cerr << who << started.error().message
                      << "; using the embedded peer (lwip) instead\n";
            o.lab = "lwip";
        } else {
            std::cerr << who << started.error().message << "\n";
            return kExitFailure;
        }
    }
    if (builtin && o.lab == "lwip") {
        auto started = lab::startLwipLab();
        if (!started) {
            std::cerr << who << started.error().message << "\n";
            return kExitFailure;
        }
        lwipLab.emplace(std::move(*started));
        link = lwipLab->takeLink();
        if (!o.quiet)
            std::cout << "# " << lwipLab->description() << "\n";
    } else if (!builtin) {
        auto opened = lab::openInterfaceLink(o.iface, plan.identity);
        if (!opened) {
            std::cerr << who << opened.error().message << "\n";
            return kExitFailure;
        }
        link = std::move(*opened);
    }
    // The peer agent: the built-in lab's own, or the namespace lab's on its Unix socket.
    std::unique_ptr<peer::AgentClient> agent;
    std::string noAgent;
    if (linuxLab) {
        agent = linuxLab->takeAgent();
        noAgent = linuxLab->agentError();
    } else if (lwipLab) {
        agent = lwipLab->takeAgent();
        noAgent = lwipLab->agentError();
    } else if (!o.agentSocket.empty() || usesPeer(plan.scenario)) {
        auto connected = peer::AgentClient::connectUnix(
            o.agentSocket.empty() ? peer::AgentClient::namespaceLabSocket() : o.agentSocket);
        if (connected) {
            agent = std::move(*connected);
            if (auto hello = agent->waitHello(std::chrono::seconds(5)); !hello) {
                noAgent = hello.error();
                agent.reset();
            }
        } else {
            noAgent = connected.error();
        }
    }
    if (!agent && usesPeer(plan.scenario)) {
        std::cerr << who << (noAgent.empty() ? std::string("this lab has no peer agent") : noAgent)
                  << "\n";
        return kExitFailure;
    }

    auto timeline = std::make_shared<timeline::Timeline>();
    engine::Engine engine(std::move(link), timeline);
    engine.attachAgent(std::move(agent), noAgent);
    if (o.snapLength != 0)
        engine.setSnapLength(o.snapLength);
    engine.start();

    std::ostream& out = std::cout;
    if (o.skipProbe && !o.peerCommand)
        std::cerr << "tcplab-cli experiment: warning: --skip-probe: the phantom claims "
                  << o.phantom << " without checking that nobody else uses it\n";
    engine.configure(plan.identity, host::HostTiming{},
                     o.skipProbe ? engine::Engine::Probe::Skip : engine::Engine::Probe::Run);
    if (!o.quiet && !plan.scenario.title.empty())
        out << "# " << plan.scenario.title << "\n";
    engine.runScenario(plan.scenario, plan.params);

    // Bound the whole run: the probe and resolution, then every step's own limit.
    const std::int64_t budgetNs = engine::timeBudgetNs(plan.scenario);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(budgetNs);

    std::optional<Ladder> ladder;
    if (o.ladder)
        ladder.emplace(plan.params, out);
    std::size_t printed = 0;
    std::optional<engine::EngineEvent> finished;
    std::optional<std::string> linkFailure;
    while (!finished && std::chrono::steady_clock::now() < deadline) {
        engine.waitForEvents(std::chrono::milliseconds(50));
        for (const auto& e : engine.takeEvents()) {
            switch (e.kind) {
            case engine::EngineEvent::Kind::Host:
                if (e.host && !o.quiet && e.host->kind != host::HostEvent::Kind::AnsweredArp &&
                    e.host->kind != host::HostEvent::Kind::AnsweredNeighborSolicitation)
                    out << hostEventLine(*e.host) << "\n";
                break;
            case engine::EngineEvent::Kind::ScenarioFinished:
                finished = e;
                break;
            case engine::EngineEvent::Kind::LinkFailed:
                linkFailure = e.message;
                break;
            case engine::EngineEvent::Kind::ScenarioStep:
                if (e.scenario && !o.quiet &&
                    e.scenario->kind == engine::ScenarioEvent::Kind::Retransmitted)
                    out << "# " << e.scenario->message << "\n";
                // The peer command's expectations say what the kernel said.
                if (e.scenario && o.peerCommand &&
                    e.scenario->kind == engine::ScenarioEvent::Kind::StepDone &&
                    e.scenario->step < plan.scenario.steps.size() &&
                    std::holds_alternative<engine::ExpectPeerStep>(
                        plan.scenario.steps[e.scenario->step].action))
                    out << plan.scenario.steps[e.scenario->step].name << ": " << e.scenario->message
                        << "\n";
                break;
            case engine::EngineEvent::Kind::PeerCall:
                if (o.peerCommand)
                    out << e.message << "\n";
                else if (!o.quiet)
                    out << "# peer: " << e.message << "\n";
                break;
            case engine::EngineEvent::Kind::PeerAgent:
                if (!o.quiet)
                    out << "# " << e.message << "\n";
                break;
            default:
                break;
            }
        }
        for (const std::size_t size = timeline->size(); ladder && printed < size; ++printed)
            ladder->print((*timeline)[printed]);
    }
    engine.stop();
    for (const std::size_t size = timeline->size(); ladder && printed < size; ++printed)
        ladder->print((*timeline)[printed]);
    if (o.info)
        printSockets(*timeline, out);

    int status = kExitOk;
    if (!finished) {
        std::cerr << who << "gave up after " << budgetNs / 1'000'000'000
                  << " s without an end to the scenario"
                  << (linkFailure ? ": " + *linkFailure : std::string()) << "\n";
        status = kExitFailure;
    } else if (!finished->ok) {
        std::cerr << who << finished->message << "\n";
        status = kExitFailure;
    } else if (!o.quiet && !o.peerCommand) {
        const auto snapshot = engine.scenarioSnapshot();
        out << "# every step happened (" << snapshot.results.size() << " steps, "
            << snapshot.received.size() << " bytes received)\n";
    }

    // Exports keep what was seen even when the run failed.
    if (!o.timelinePath.empty()) {
        if (auto r = timeline::exportJson(*timeline, o.timelinePath); !r) {
            std::cerr << who << "--timeline: " << r.error() << "\n";
            status = kExitFailure;
        }
    }
    if (!o.pcapPath.empty()) {
        if (auto r = timeline::exportPcap(*timeline, o.pcapPath); !r) {
            std::cerr << who << "--pcap: " << r.error() << "\n";
            status = kExitFailure;
        }
    }
    return status;
}

} // namespace

void addExperimentCommand(CLI::App& app, int& exitCode) {
    auto o = std::make_shared<ExperimentOptions>();
    CLI::App* sub = app.add_subcommand(
        "experiment",
        "Run the classic exercise from the phantom host against a real TCP stack: conflict "
        "probe, SYN, SYN-ACK, ACK, the HTTP GET, the whole response acknowledged, the close. "
        "Prints a text ladder; exits 0 only when every step happened.");
    auto* iface = sub->add_option(
        "--iface", o->iface,
        "an interface to use (e.g. tcplab0 of tcplab-lab; opened through tcplab-link, for members "
        "of the group tcplab); without it the built-in lab is used");
    auto* lab = sub->add_option("--lab", o->lab,
                                "the built-in peer: linux (a real kernel in a private namespace, "
                                "no privileges needed; the default without --iface) or lwip "
                                "(lwIP in a helper process; works everywhere)");
    lab->excludes(iface);
    sub->add_flag("--ipv6", o->ipv6, "with the built-in lab: use its IPv6 addresses");
    sub->add_option("--phantom", o->phantom,
                    "the phantom's address and prefix, e.g. 198.18.0.2/24 or 2001:db8::2/64 "
                    "(needed with --iface; the built-in lab's: 198.18.0.2/24, 2001:db8::2/64)");
    sub->add_option("--phantom-mac", o->phantomMac,
                    "the phantom's MAC (default: random, locally administered)");
    sub->add_option("--gateway", o->gateway, "the phantom's gateway, for an off-link peer");
    sub->add_option("--peer", o->peer,
                    "the peer's address (needed with --iface; the built-in lab's: 198.18.0.1, "
                    "2001:db8::1)");
    // Port 0 is no port a TCP can connect from or to (RFC 6335 §6: reserved).
    sub->add_option("--sport", o->sport, "our port")
        ->check(CLI::Range(1, 65535))
        ->capture_default_str();
    sub->add_option("--dport", o->dport, "the peer's port")
        ->check(CLI::Range(1, 65535))
        ->capture_default_str();
    sub->add_option("--isn", o->isn, "our initial sequence number (0-4294967295)")
        ->capture_default_str();
    sub->add_option("--request", o->request,
                    "the data sent after the handshake, with \\r \\n \\t \\xHH escapes (default: "
                    "GET / HTTP/1.1\\r\\n\\r\\n; with --close peer it adds Connection: close)");
    sub->add_option("--close", o->close,
                    "fin: we send FIN, the peer answers with its FIN, we send the last ACK; rst: "
                    "we abort with RST; peer: we wait for the peer's FIN and answer it")
        ->capture_default_str();
    sub->add_option("--scenario", o->scenarioFile,
                    "run this scenario file instead of the classic exercise")
        ->check(CLI::ExistingFile);
    sub->add_option("--timeline", o->timelinePath, "write the timeline as JSON to this file");
    sub->add_option("--pcap", o->pcapPath, "write the frames to this pcap file");
    sub->add_option("--rto", o->rtoMs,
                    "first retransmission timeout of our SYN/data/FIN in ms (doubles; bounded)")
        ->check(CLI::Range(10u, 60'000u))
        ->capture_default_str();
    sub->add_option("--repeat", o->repeat,
                    "run the experiment this many times in one process, each from the next "
                    "source port (needs --iface; the soak: prints counts and memory every 1000 "
                    "runs, not the ladder)")
        ->check(CLI::Range(1u, 1'000'000u))
        ->capture_default_str();
    sub->add_flag("--passive", o->passive,
                  "the kernel connects to you: the peer's application connects to the phantom's "
                  "--sport and the phantom answers as a server (needs the peer agent)")
        ->excludes("--scenario");
    auto* agentOption =
        sub->add_option("--agent", o->agentSocket,
                        "with --iface: the namespace lab's peer agent socket (default: "
                        "/run/tcplab-lab/agent.sock, or $TCPLAB_AGENT_SOCKET)");
    agentOption->needs(iface);
    sub->add_option("--snaplen", o->snapLength,
                    "keep only the first N bytes of each frame in the timeline and the pcap (0: "
                    "all; 128 keeps the headers of any TCP segment)")
        ->check(CLI::Range(std::size_t{0}, std::size_t{262144}));
    sub->add_flag("--skip-probe", o->skipProbe,
                  "claim the address without the conflict probe (warns; for links where the "
                  "probe cannot work)");
    sub->add_flag("-q,--quiet", o->quiet, "print the ladder only");
    sub->callback([o, &exitCode] { exitCode = runExperiment(*o); });
}

void addPeerCommand(CLI::App& app, int& exitCode) {
    auto o = std::make_shared<ExperimentOptions>();
    o->ladder = false;
    auto calls = std::make_shared<std::vector<std::string>>();
    CLI::App* sub = app.add_subcommand(
        "peer",
        "Make socket calls and sysctls on the peer's side, through its agent, one after the "
        "other, and print each with its result (as strace does). CALL is one call of the "
        "grammar the scenario language's peer steps use, with an optional expected result: "
        "'socket inet', 'bind 3 5000', 'listen 3', 'accept 3 = 4', 'connect 3 198.18.0.2 "
        "50000 = -1 EINPROGRESS', 'read 4 1000', 'write 4 1M', 'write 4 \"text\\r\\n\"', "
        "'shutdown 4 wr', 'close 4', 'setsockopt 3 SO_LINGER 1,0', 'getsockopt 3 TCP_INFO', "
        "'fcntl 3 setfl nonblock', 'poll 100 3 in', 'ioctl 4 SIOCINQ', 'sysctl "
        "net.ipv4.tcp_sack=0', 'sysctl-list net.ipv4.tcp_', 'drain 4 on'; or an expectation "
        "on the kernel's variables: 'expect-peer state == LISTEN fd=3'. Exits 0 when every "
        "call did what was expected (by default: did not fail), 1 otherwise.");
    sub->add_option("CALL", *calls, "the calls, in order (each one argument: quote it)")
        ->required();
    auto* iface = sub->add_option("--iface", o->iface,
                                  "an interface of the namespace lab (tcplab0; opened through "
                                  "tcplab-link, for members of the "
                                  "group tcplab); without it the built-in lab is used");
    sub->add_option("--lab", o->lab, "the built-in peer: linux (the default) or lwip")
        ->excludes(iface);
    sub->add_flag("--ipv6", o->ipv6, "with the built-in lab: the phantom uses its IPv6 address");
    sub->add_option("--phantom", o->phantom, "with --iface: the phantom's address/prefix");
    sub->add_option("--peer", o->peer, "with --iface: the peer's address");
    sub->add_option("--agent", o->agentSocket,
                    "with --iface: the namespace lab's peer agent socket (default: "
                    "/run/tcplab-lab/agent.sock)")
        ->needs(iface);
    sub->add_flag("--info", o->info,
                  "at the end, every peer socket's last tcp_info sample (the fields that are not "
                  "zero)");
    sub->add_flag("--ladder", o->ladder, "print the text ladder of the frames too");
    sub->add_option("--timeline", o->timelinePath,
                    "write the timeline (calls, samples, frames) as JSON to this file");
    sub->add_flag("-q,--quiet", o->quiet, "print the calls only (no ladder, no lab lines)");
    sub->callback([o, calls, &exitCode] {
        std::string text;
        for (const auto& call : *calls) {
            if (call.find_first_of("\r\n") != std::string::npos)
                throw CLI::ValidationError("CALL", "a call is one line");
            const bool expectation = call.rfind("expect-peer", 0) == 0;
            text += (expectation ? "" : "peer ") + call + "\n";
        }
        o->scenarioText = text;
        o->peerCommand = true;
        o->quiet = o->quiet || !o->ladder;
        o->skipProbe = o->iface.empty(); // the built-in lab's addresses are ours by construction
        exitCode = runExperiment(*o);
    });
}

} // namespace tcplab::cli
