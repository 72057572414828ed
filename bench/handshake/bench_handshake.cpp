// Contender (e) of the handshake benchmark: tcplab's own engine (PcapLink, the phantom
// host, the scenario runner, the timeline), as the GUI and the CLI use it.
//
// One long-lived Engine. After the conflict probe (short timing) it runs, N times, the
// scenario
//     send S seq=iss
//     expect SA ack=iss+1 within=TIMEOUT
//     send R seq=iss+1
// with a fresh source port each time (sport-base + i), waiting for ScenarioFinished
// with a bound. The first run also teaches the peer the phantom's MAC (the engine
// answers its ARP); warm-up runs are not counted.
//
// From the runner's step results and the timeline (the engine's clock and the capture
// timestamps are both nanoseconds since the epoch):
//   e_full        send step start (before the SYN is built)  -> SYN-ACK matched
//   e_after_send  the SYN's timeline entry (after link send) -> SYN-ACK matched
//   e_capture     send step start -> the SYN-ACK's capture timestamp
//   e_delivery    the SYN-ACK's capture timestamp -> matched (wake-up, read, decode)
//   e_turnaround  SYN-ACK matched -> our RST's timeline entry (after link send)
// printed as RESULT lines (handshake_result.h) for run.sh.
//
// Exit status: 0 when it measured something with at most --max-failures failed runs
// (the RESULT lines count them), 1 otherwise or when a step failed (the message says
// which), 2 on bad arguments.

#include "engine_harness.h"
#include "handshake_result.h"

#include "engine/engine.h"
#include "engine/scenario.h"
#include "host/phantom_filter.h"
#include "host/phantom_host.h"
#include "link/pcap_link.h"
#include "timeline/timeline.h"
#include "wire/address.h"
#include "wire/frame.h"
#include "wire/tcp.h"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace tcplab;
using bench::Clock;
using bench::findFrames;
using bench::nonNegative;
using bench::RunFrames;

struct Options {
    std::string iface;
    std::string phantom; ///< IPv4 address/prefix
    std::string phantomMac;
    std::string peer;
    std::uint16_t dport = 50001;
    std::uint16_t sportBase = 50000;
    unsigned count = 2000;
    unsigned warmup = 20;
    unsigned timeoutMs = 1000; ///< the expect step's limit
    unsigned budgetS = 60;
    unsigned maxFailures = 10;
};

/// Ends the process at once: the engine's thread may still run, so no destructors.
[[noreturn]] void fatal(const std::string& message) {
    bench::fatalExit("bench_handshake", message);
}

int run(const Options& o) {
    // --- Who is who --------------------------------------------------------------------
    const auto slash = o.phantom.find('/');
    const auto phantomIp = wire::Ipv4Address::parse(o.phantom.substr(0, slash));
    unsigned prefix = 24;
    if (slash != std::string::npos) {
        try {
            prefix = static_cast<unsigned>(std::stoul(o.phantom.substr(slash + 1)));
        } catch (const std::exception&) {
            prefix = 99;
        }
    }
    if (!phantomIp || prefix > 32) {
        std::fprintf(stderr, "bench_handshake: --phantom '%s' is not an IPv4 address/prefix\n",
                     o.phantom.c_str());
        return 2;
    }
    const auto peerIp = wire::Ipv4Address::parse(o.peer);
    const auto mac = wire::MacAddress::parse(o.phantomMac);
    if (!peerIp || !mac) {
        std::fprintf(stderr, "bench_handshake: bad --peer or --phantom-mac\n");
        return 2;
    }
    if (std::uint32_t{o.sportBase} + o.warmup + o.count - 1 > 65535) {
        std::fprintf(stderr, "bench_handshake: sport-base + warmup + count - 1 must fit in a "
                             "port (<= 65535)\n");
        return 2;
    }
    host::Identity identity;
    identity.mac = *mac;
    identity.ipv4 = host::Ipv4Config{*phantomIp, prefix, std::nullopt};

    const std::string text = fmt::format("title handshake latency\n"
                                         "send S seq=iss name=\"SYN\"\n"
                                         "expect SA ack=iss+1 within={} name=\"SYN-ACK\"\n"
                                         "send R seq=iss+1 name=\"RST\"\n",
                                         o.timeoutMs);
    auto scenario = engine::parseScenario(text);
    if (!scenario)
        fatal("the scenario does not parse: " + engine::describe(scenario.error()));
    if (scenario->steps.size() != 3)
        fatal(fmt::format("the scenario has {} steps, not 3", scenario->steps.size()));
    engine::ConnectionParams params;
    params.phantomMac = *mac;
    params.phantom = *phantomIp;
    params.peer = *peerIp;
    params.destinationPort = o.dport;
    params.iss = wire::SeqNum{100};

    // --- The engine --------------------------------------------------------------------
    auto link = link::PcapLink::open(o.iface, host::phantomBpfFilter(identity));
    if (!link)
        fatal(link.error().message);
    auto timeline = std::make_shared<timeline::Timeline>();
    engine::Engine engine(std::move(*link), timeline);
    engine.start();

    // The probe runs once, quickly: the lab link is private.
    host::HostTiming timing;
    timing.probeCount = 1;
    timing.probeIntervalNs = 20'000'000;
    timing.probeWaitNs = 100'000'000;
    timing.resolveAttempts = 3;
    timing.resolveIntervalNs = 200'000'000;
    engine.configure(identity, timing, engine::Engine::Probe::Run);
    const auto claimed = bench::waitFor(
        "bench_handshake", engine, Clock::now() + std::chrono::seconds(5), [](const auto& e) {
            return e.kind == engine::EngineEvent::Kind::Host && e.host &&
                   (e.host->kind == host::HostEvent::Kind::AddressClaimed ||
                    e.host->kind == host::HostEvent::Kind::AddressConflict);
        });
    if (!claimed)
        fatal("the conflict probe did not end within 5 s");
    if (claimed->host->kind == host::HostEvent::Kind::AddressConflict)
        fatal("the phantom's address is in use: " + claimed->message);

    // --- The runs ----------------------------------------------------------------------
    std::vector<std::uint64_t> full, afterSend, capture, delivery, turnaround;
    for (auto* v : {&full, &afterSend, &capture, &delivery, &turnaround})
        v->reserve(o.count);
    std::size_t failures = 0;
    unsigned negatives = 0;
    const auto runDeadline = Clock::now() + std::chrono::seconds(o.budgetS);
    const auto runLimit = std::chrono::milliseconds(o.timeoutMs) + std::chrono::seconds(2);
    const auto isFinished = [](const engine::EngineEvent& e) {
        return e.kind == engine::EngineEvent::Kind::ScenarioFinished;
    };
    unsigned i = 0;
    for (; i < o.warmup + o.count; ++i) {
        if (Clock::now() > runDeadline) {
            std::fprintf(stderr, "bench_handshake: time budget of %u s spent after %u runs\n",
                         o.budgetS, i);
            break;
        }
        const bool measured = i >= o.warmup;
        params.sourcePort = static_cast<std::uint16_t>(o.sportBase + i);
        const std::size_t from = timeline->size();
        engine.runScenario(*scenario, params);
        auto finished =
            bench::waitFor("bench_handshake", engine, Clock::now() + runLimit, isFinished);
        if (!finished) {
            engine.cancelScenario();
            if (!bench::waitFor("bench_handshake", engine, Clock::now() + std::chrono::seconds(1),
                                isFinished))
                fatal(fmt::format("run {} (port {}) did not finish, even when cancelled", i,
                                  params.sourcePort));
        }
        const auto snapshot = engine.scenarioSnapshot();
        std::string problem;
        if (!finished)
            problem = fmt::format("no end within {} ms", runLimit.count());
        else if (!snapshot.succeeded || snapshot.results.size() != 3)
            problem = finished->message;
        else if (snapshot.results[1].retransmissions > 0)
            problem = "the SYN was retransmitted";

        // Our RST is appended to the timeline right after it is sent; give it a moment.
        RunFrames frames = findFrames(*timeline, from, params.sourcePort);
        for (int wait = 0; problem.empty() && !frames.replySent && wait < 100; ++wait) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            frames = findFrames(*timeline, from, params.sourcePort);
        }
        if (problem.empty() && (!frames.synSent || !frames.synAckReceived || !frames.replySent))
            problem =
                fmt::format("the timeline lacks the {}", !frames.synSent          ? "SYN we sent"
                                                         : !frames.synAckReceived ? "SYN-ACK"
                                                                                  : "RST we sent");
        if (!problem.empty()) {
            if (!measured)
                continue;
            ++failures;
            std::fprintf(stderr, "bench_handshake: run %u (port %u): %s\n", i,
                         unsigned{params.sourcePort}, problem.c_str());
            if (failures > o.maxFailures)
                fatal(fmt::format("more than {} failures: giving up", o.maxFailures));
            continue;
        }
        if (!measured)
            continue;
        const std::int64_t sendStart = snapshot.results[0].startNs;
        const std::int64_t matched = snapshot.results[1].endNs;
        full.push_back(nonNegative(matched - sendStart, negatives));
        afterSend.push_back(nonNegative(matched - *frames.synSent, negatives));
        capture.push_back(nonNegative(*frames.synAckReceived - sendStart, negatives));
        delivery.push_back(nonNegative(matched - *frames.synAckReceived, negatives));
        turnaround.push_back(nonNegative(*frames.replySent - matched, negatives));
    }
    engine.stop();
    if (negatives > 0)
        std::fprintf(stderr,
                     "bench_handshake: note: %u intervals came out negative (clamped to 0): the "
                     "capture timestamps and the engine's clock disagree\n",
                     negatives);

    hsr_print(stdout, "e_full", full.data(), full.size(), failures);
    hsr_print(stdout, "e_after_send", afterSend.data(), afterSend.size(), failures);
    hsr_print(stdout, "e_capture", capture.data(), capture.size(), failures);
    hsr_print(stdout, "e_delivery", delivery.data(), delivery.size(), failures);
    hsr_print(stdout, "e_turnaround", turnaround.data(), turnaround.size(), failures);
    return full.empty() ? 1 : 0;
}

} // namespace

int main(int argc, char** argv) {
    Options o;
    CLI::App app{"Handshake latency of tcplab's engine (contender (e) of bench/handshake/run.sh)",
                 "bench_handshake"};
    app.add_option("--iface", o.iface, "the interface (the phantom's side of the veth)")
        ->required();
    app.add_option("--phantom", o.phantom, "the phantom's IPv4 address/prefix")->required();
    app.add_option("--phantom-mac", o.phantomMac, "the phantom's MAC")->required();
    app.add_option("--peer", o.peer, "the peer's IPv4 address")->required();
    app.add_option("--dport", o.dport, "the peer's listening port")->capture_default_str();
    app.add_option("--sport-base", o.sportBase, "source port of the first run")
        ->capture_default_str();
    app.add_option("--count", o.count, "measured runs")
        ->check(CLI::Range(1u, 1'000'000u))
        ->capture_default_str();
    app.add_option("--warmup", o.warmup, "runs before the measured ones")
        ->check(CLI::Range(0u, 10'000u))
        ->capture_default_str();
    app.add_option("--timeout-ms", o.timeoutMs, "limit of the SYN-ACK wait per run")
        ->check(CLI::Range(1u, 60'000u))
        ->capture_default_str();
    app.add_option("--budget-s", o.budgetS, "limit of the whole run")
        ->check(CLI::Range(1u, 3600u))
        ->capture_default_str();
    app.add_option("--max-failures", o.maxFailures, "give up after this many failed runs")
        ->capture_default_str();
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int status = app.exit(e);
        return status == 0 ? 0 : 2;
    }
    return run(o);
}
