// tcplab-cli drill: packetdrill scripts run against a fresh built-in lab each, with
// packetdrill's verdict wording and tcplab's explanation of a failure.
#include "cli/commands.h"
#include "cli/lab_run.h"
#include "cli/script_export.h"

#include "drill/drill_runner.h"
#include "drill/script.h"
#include "engine/engine.h"
#include "host/phantom_host.h"
#include "lab/builtin_lab.h"
#include "lab/lwip_lab.h"
#include "timeline/timeline.h"
#include "timeline/timeline_io.h"

#include <fmt/core.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

namespace tcplab::cli {

namespace {

struct DrillCommandOptions {
    std::vector<std::string> scripts;
    std::string lab = "linux";
    std::string ipVersion = "ipv4";
    std::vector<std::string> drillOptions; ///< "--name=value" as given
    drill::Defines defines;                ///< -D NAME=VALUE
    std::string timelinePath;
    std::string pcapPath;
    std::vector<std::string> exportPaths; ///< the run as a script (.pkt) or scapy (.py)
    bool verbose = false;
    bool checkOnly = false; ///< parse and plan, send nothing
};

std::optional<std::string> readText(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

/// Runs one script; 0 pass, 1 fail, 2 script error.
int runOne(const DrillCommandOptions& o, const std::string& path, drill::DrillOptions options,
           bool last) {
    namespace fs = std::filesystem;
    const auto text = readText(path);
    if (!text) {
        std::cerr << path << ": cannot read the script\n";
        return kExitBadUsage;
    }
    auto script = drill::parseScript(*text, o.defines);
    if (!script) {
        std::cerr << drill::describe(script.error(), path) << "\n";
        return kExitBadUsage;
    }
    bool ipv6 = o.ipVersion == "ipv6";
    for (const auto& opt : script->options) {
        if (opt.name == "ip_version")
            ipv6 = opt.value == "ipv6";
        if (auto ok = drill::applyOption(options, opt.name, opt.value); !ok) {
            std::cerr << fmt::format("{}:{}:{}: {}\n", path, opt.pos.line, opt.pos.column,
                                     ok.error());
            return kExitBadUsage;
        }
    }
    const fs::path folder = fs::path(path).parent_path();
    const auto reader = [&](const std::string& file) {
        return readText(fs::path(file).is_absolute() ? fs::path(file) : folder / file);
    };
    auto plan = drill::planScript(*script, ipv6, reader);
    if (!plan) {
        std::cerr << drill::describe(plan.error(), path) << "\n";
        return kExitBadUsage;
    }
    if (o.checkOnly) {
        std::cout << path << ": ok (" << plan->steps.size() << " lines)\n";
        return kExitOk;
    }

    std::optional<lab::BuiltinLinuxLab> linuxLab;
    std::optional<lab::BuiltinLwipLab> lwipLab;
    std::unique_ptr<link::Link> link;
    std::unique_ptr<peer::AgentClient> agent;
    std::string noAgent;
    lab::LabAddresses addresses;
    if (o.lab == "linux") {
        auto started = lab::startLinuxLab();
        if (!started) {
            std::cerr << "tcplab-cli drill: " << started.error().message << "\n";
            return kExitFailure;
        }
        linuxLab.emplace(std::move(*started));
        link = linuxLab->takeLink();
        agent = linuxLab->takeAgent();
        noAgent = linuxLab->agentError();
        addresses = linuxLab->addresses();
        if (!addresses.peerInterfaceName.empty())
            options.peerInterface = addresses.peerInterfaceName;
        options.linkMtu = addresses.linkMtu;
    } else {
        auto started = lab::startLwipLab();
        if (!started) {
            std::cerr << "tcplab-cli drill: " << started.error().message << "\n";
            return kExitFailure;
        }
        lwipLab.emplace(std::move(*started));
        link = lwipLab->takeLink();
        agent = lwipLab->takeAgent();
        noAgent = lwipLab->agentError();
        addresses = lwipLab->addresses();
    }
    if (!agent) {
        std::cerr << "tcplab-cli drill: "
                  << (noAgent.empty() ? "the lab has no peer agent" : noAgent) << "\n";
        return kExitFailure;
    }

    host::Identity identity;
    std::mt19937_64 rng{std::random_device{}()};
    identity.mac = host::randomLocalMac(rng);
    engine::ConnectionParams params;
    params.phantomMac = identity.mac;
    if (ipv6) {
        identity.ipv6 = host::Ipv6Config{addresses.phantom6, addresses.prefix6, std::nullopt};
        params.phantom = addresses.phantom6;
        params.peer = addresses.peer6;
    } else {
        identity.ipv4 = host::Ipv4Config{addresses.phantom4, addresses.prefix4, std::nullopt};
        params.phantom = addresses.phantom4;
        params.peer = addresses.peer4;
    }
    params.sourcePort = static_cast<std::uint16_t>(40000 + rng() % 20000);
    params.destinationPort = options.bindPort;

    auto timeline = std::make_shared<timeline::Timeline>();
    engine::Engine engine(std::move(link), timeline);
    engine.attachAgent(std::move(agent), noAgent);
    engine.start();
    // The lab's namespace is new and private: nobody else can hold the address.
    engine.configure(identity, host::HostTiming{}, engine::Engine::Probe::Skip);

    const engine::Scenario steps = drill::planSteps(*plan, path);
    engine.run(steps, params, [plan = *plan, options, path](engine::ConnectionParams p) mutable {
        return std::make_unique<drill::DrillRunner>(std::move(plan), options, std::move(p), path);
    });

    // A script is bounded by its own times plus the limit.
    std::int64_t lastUsecs = 0;
    for (const auto& s : plan->steps)
        lastUsecs = std::max({lastUsecs, s.time.usecs, s.time.endUsecs});
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::microseconds(lastUsecs + options.limitUsecs) +
                          std::chrono::seconds(15);
    std::optional<engine::EngineEvent> finished;
    std::string failure;
    std::string explanation;
    std::optional<unsigned> failedLine;
    while (!finished && std::chrono::steady_clock::now() < deadline) {
        engine.waitForEvents(std::chrono::milliseconds(50));
        for (const auto& e : engine.takeEvents()) {
            if (e.kind == engine::EngineEvent::Kind::ScenarioFinished)
                finished = e; // a failure's message is tcplab's explanation
            if (o.verbose && e.kind == engine::EngineEvent::Kind::ScenarioStep && e.scenario &&
                e.scenario->kind == engine::ScenarioEvent::Kind::StepDone)
                std::cout << "ok   " << e.scenario->message << "\n";
        }
    }
    // The runner's words, read on the engine's thread's behalf only after it stopped.
    engine.stop();
    const auto snapshot = engine.scenarioSnapshot();
    for (std::size_t i = 0; i < snapshot.results.size(); ++i)
        if (snapshot.results[i].status == engine::StepResult::Status::Failed) {
            failure = snapshot.results[i].message;
            failedLine = i < steps.steps.size() ? std::optional(steps.steps[i].line) : std::nullopt;
            break;
        }
    if (finished && !finished->ok)
        explanation = finished->message;
    (void)last;

    int status = kExitOk;
    if (!finished) {
        std::cerr << path << ": error: the script did not end within its time plus "
                  << options.limitUsecs / 1'000'000 << " s\n";
        status = kExitFailure;
    } else if (!finished->ok) {
        std::cerr << path << ":" << failedLine.value_or(0) << ": "
                  << (failure.empty() ? finished->message : failure) << "\n";
        if (!explanation.empty())
            std::cerr << "tcplab: " << explanation << "\n";
        status = kExitFailure;
    } else {
        std::cout << path << ": pass (" << steps.steps.size() << " lines)\n";
    }
    if (!o.timelinePath.empty())
        if (auto r = timeline::exportJson(*timeline, o.timelinePath); !r) {
            std::cerr << "tcplab-cli drill: --timeline: " << r.error() << "\n";
            status = kExitFailure;
        }
    if (!o.pcapPath.empty())
        if (auto r = timeline::exportPcap(*timeline, o.pcapPath); !r) {
            std::cerr << "tcplab-cli drill: --pcap: " << r.error() << "\n";
            status = kExitFailure;
        }
    // The export runs with the tolerance this run had (the script's, or the command's).
    drill::ExportOptions exportOptions;
    if (options.toleranceUsecs != drill::DrillOptions{}.toleranceUsecs)
        exportOptions.toleranceUsecs = options.toleranceUsecs;
    for (const std::string& out : o.exportPaths)
        if (auto r = writeScriptExport(*timeline, out, exportOptions); !r) {
            std::cerr << "tcplab-cli drill: --export-script: " << r.error() << "\n";
            status = kExitFailure;
        }
    return status;
}

int runDrill(const DrillCommandOptions& o) {
    drill::DrillOptions options;
    for (const std::string& given : o.drillOptions) {
        const auto eq = given.find('=');
        const std::string name = given.substr(0, eq);
        const std::string value = eq == std::string::npos ? "" : given.substr(eq + 1);
        if (auto ok = drill::applyOption(options, name, value); !ok) {
            std::cerr << "tcplab-cli drill: " << ok.error() << "\n";
            return kExitBadUsage;
        }
    }
    if ((!o.timelinePath.empty() || !o.pcapPath.empty() || !o.exportPaths.empty()) &&
        o.scripts.size() > 1) {
        std::cerr << "tcplab-cli drill: --timeline, --pcap and --export-script take one script\n";
        return kExitBadUsage;
    }
    int worst = kExitOk;
    for (std::size_t i = 0; i < o.scripts.size(); ++i) {
        const int status = runOne(o, o.scripts[i], options, i + 1 == o.scripts.size());
        if (status == kExitBadUsage || (status == kExitFailure && worst == kExitOk))
            worst = status;
    }
    return worst;
}

} // namespace

void addDrillCommand(CLI::App& app, int& exitCode) {
    auto o = std::make_shared<DrillCommandOptions>();
    CLI::App* sub = app.add_subcommand(
        "drill",
        "Run packetdrill scripts against a fresh built-in lab each: '<' lines are sent by the "
        "phantom, '>' lines must come from the peer's kernel, calls are made by the peer "
        "agent. Exits 0 when every script passes, 1 when one fails, 2 on a script error.");
    sub->add_option("scripts", o->scripts, "the .pkt scripts")
        ->required()
        ->check(CLI::ExistingFile);
    sub->add_option("--lab", o->lab, "the built-in peer: linux (default) or lwip")
        ->check(CLI::IsMember({"linux", "lwip"}));
    sub->add_option("--ip_version", o->ipVersion,
                    "ipv4 (default) or ipv6: the lab's addresses of that version")
        ->check(CLI::IsMember({"ipv4", "ipv6"}));
    for (const char* name :
         {"tolerance_usecs", "tolerance_percent", "tcp_ts_tick_usecs", "bind_port", "local_ip",
          "remote_ip", "gateway_ip", "netmask_ip", "mtu", "mss", "connect_port"}) {
        const std::string key = name;
        sub->add_option_function<std::string>(
            "--" + key,
            [o, key](const std::string& v) { o->drillOptions.push_back(key + "=" + v); },
            key == "tolerance_usecs" ? "packetdrill's timing tolerance (default 4000)"
            : key == "tolerance_percent"
                ? "packetdrill's tolerance as a share of the time since the last event (12.5)"
            : key == "tcp_ts_tick_usecs"
                ? "the kernel's TS clock tick: TS val is checked against the script's clock "
                  "(default 0: not checked)"
            : key == "bind_port" ? "the peer's port for bind(fd, ..., ...) (default 8080)"
            : key == "mss"
                ? "checked and taken: a long '<' segment goes out whole, as the one GSO packet "
                  "packetdrill cooks reaches the kernel"
            : key == "mtu"
                ? "taken and ignored: the lab's link has an MTU of 65535 with 1500-byte routes"
                : "taken as packetdrill takes it; the lab's own addresses "
                  "and ports are used");
    }
    sub->add_option_function<std::vector<std::string>>(
           "-D,--define",
           [o](const std::vector<std::string>& all) {
               for (const std::string& d : all) {
                   const auto eq = d.find('=');
                   o->defines[d.substr(0, eq)] = d.substr(eq + 1);
               }
           },
           "NAME=VALUE: the word NAME in a script reads as VALUE (a number, a \"string\", a "
           "`command` or a word), as packetdrill's -D")
        ->check([](const std::string& d) {
            const auto eq = d.find('=');
            return eq == std::string::npos || eq == 0
                       ? std::string("-D takes NAME=VALUE, not '") + d + "'"
                       : std::string();
        });
    sub->add_flag_callback(
        "--strict_segments", [o] { o->drillOptions.push_back("strict_segments"); },
        "each of the peer's segments must match a line by itself (no merging into the "
        "super-segment a line expects)");
    sub->add_option("--timeline", o->timelinePath, "write the timeline as JSON to this file");
    sub->add_option("--pcap", o->pcapPath, "write the frames to this pcap file");
    sub->add_option("--export-script", o->exportPaths,
                    "write the run as a packetdrill script (.pkt) or a scapy program (.py), "
                    "with the calls the agent made (repeatable)");
    sub->add_flag("-v,--verbose", o->verbose, "print each line as it passes");
    sub->add_flag("--check", o->checkOnly,
                  "read and plan each script, start no lab and send nothing: exits 0 when "
                  "every script can run, 2 naming the first line that can not");
    sub->callback([o, &exitCode] { exitCode = runDrill(*o); });
}

} // namespace tcplab::cli
