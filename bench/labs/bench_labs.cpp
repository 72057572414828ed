// The built-in labs benchmark (issue 6): for each built-in peer ("linux", a real
// kernel in a private user + network namespace; "lwip", lwIP in a helper process), in
// one unprivileged run:
//
//   start-up   N starts (default 30): wall time from the call (startLinuxLab /
//              startLwipLab) to its return with a Link ("link"), and to an ARP request
//              for the peer, sent over that Link, answered ("first frame"). The lab's
//              own startupTime() is printed too ("self").
//   handshake  one lab, tcplab's engine on its link, and N runs (default 500) of
//                  send S seq=iss / expect SA ack=iss+1 / send R seq=iss+1
//              with a fresh source port each (as bench/handshake/bench_handshake.cpp):
//                full        send step start -> SYN-ACK matched
//                after_send  the SYN's timeline entry (after link send) -> matched
//                turnaround  SYN-ACK matched -> our RST's timeline entry
//
// RESULT lines (bench/handshake/handshake_result.h) for each figure, then a table with
// the ratio lwip/linux. The helpers: $TCPLAB_LAB_HELPER / $TCPLAB_LWIP_HELPER, else the
// paths CMake built them at, else the labs' own search.
//
// Exit status: 0 when every lab it could start was measured, 1 otherwise, 2 on bad
// arguments.

#include "engine_harness.h"
#include "handshake_result.h"

#include "engine/engine.h"
#include "engine/scenario.h"
#include "host/phantom_host.h"
#include "lab/builtin_lab.h"
#include "lab/lwip_lab.h"
#include "link/link.h"
#include "timeline/timeline.h"
#include "wire/address.h"
#include "wire/arp.h"
#include "wire/ethernet.h"
#include "wire/frame.h"
#include "wire/tcp.h"

#include <poll.h>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
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
    unsigned starts = 30;
    unsigned count = 500;
    unsigned warmup = 20;
    unsigned timeoutMs = 1000; ///< the expect step's limit
    unsigned budgetS = 60;     ///< per lab and per part
    unsigned maxFailures = 10;
    std::uint16_t sportBase = 40000;
    std::vector<std::string> labs{"linux", "lwip"};
};

/// Ends the process at once: an engine thread may still run, so no destructors.
[[noreturn]] void fatal(const std::string& message) {
    bench::fatalExit("bench_labs", message);
}

std::uint64_t nsSince(Clock::time_point t0) {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count());
}

/// A started lab of either kind, reduced to what the benchmark needs.
struct StartedLab {
    std::function<link::Link*()> link;
    std::function<std::unique_ptr<link::Link>()> takeLink;
    lab::LabAddresses addresses;
    std::uint64_t selfNs = 0;
    std::string description;
    std::shared_ptr<void> keep; ///< the lab itself
};

tl::expected<StartedLab, lab::LabError> startLab(const std::string& kind) {
    StartedLab s;
    if (kind == "linux") {
        auto lab = lab::startLinuxLab();
        if (!lab)
            return tl::unexpected(lab.error());
        auto held = std::make_shared<lab::BuiltinLinuxLab>(std::move(*lab));
        s.link = [held] { return held->link(); };
        s.takeLink = [held] { return held->takeLink(); };
        s.addresses = held->addresses();
        s.selfNs = static_cast<std::uint64_t>(held->startupTime().count());
        s.description = held->description();
        s.keep = held;
    } else {
        auto lab = lab::startLwipLab();
        if (!lab)
            return tl::unexpected(lab.error());
        auto held = std::make_shared<lab::BuiltinLwipLab>(std::move(*lab));
        s.link = [held] { return held->link(); };
        s.takeLink = [held] { return held->takeLink(); };
        s.addresses = held->addresses();
        s.selfNs = static_cast<std::uint64_t>(held->startupTime().count());
        s.description = held->description();
        s.keep = held;
    }
    return s;
}

/// Sends an ARP request for the peer over `link` and waits (bounded) for the answer.
bool arpAnswered(link::Link& link, const lab::LabAddresses& a, const wire::MacAddress& mac,
                 std::chrono::milliseconds limit) {
    wire::EthernetHeader eth;
    eth.dst = wire::MacAddress::broadcast();
    eth.src = mac;
    wire::ArpPacket arp;
    arp.operation = wire::arp_op::kRequest;
    arp.senderMac = mac;
    arp.senderIp = a.phantom4;
    arp.targetIp = a.peer4;
    std::vector<std::uint8_t> frame(wire::EthernetHeader::kLength + wire::ArpPacket::kLength);
    eth.emit(frame.data(), wire::ether_type::kArp);
    arp.emit(frame.data() + wire::EthernetHeader::kLength);
    frame.resize(60, 0); // the minimum Ethernet frame, as a NIC would pad it
    if (!link.send(wire::Bytes(frame)))
        return false;
    const auto deadline = Clock::now() + limit;
    bool answered = false;
    while (!answered && Clock::now() < deadline) {
        pollfd p{link.pollFd(), POLLIN, 0};
        ::poll(&p, 1, 10);
        const auto r = link.receive(
            [&](std::int64_t, wire::Bytes bytes) {
                const wire::Frame f = wire::decodeFrame(bytes);
                const wire::ArpPacket* reply = f.arp();
                if (reply != nullptr && reply->operation == wire::arp_op::kReply &&
                    reply->senderIp == a.peer4 && reply->targetIp == a.phantom4)
                    answered = true;
            },
            64);
        if (!r)
            return false;
    }
    return answered;
}

struct StartupFigures {
    std::vector<std::uint64_t> link, firstFrame, self;
    std::size_t failures = 0;
};

StartupFigures measureStartup(const std::string& kind, const Options& o) {
    StartupFigures f;
    std::mt19937_64 rng(std::random_device{}());
    const auto deadline = Clock::now() + std::chrono::seconds(o.budgetS);
    for (unsigned i = 0; i < o.starts; ++i) {
        if (Clock::now() > deadline) {
            std::fprintf(stderr, "bench_labs: %s start-up: budget of %u s spent after %u starts\n",
                         kind.c_str(), o.budgetS, i);
            break;
        }
        const auto t0 = Clock::now();
        auto lab = startLab(kind);
        const std::uint64_t linkNs = nsSince(t0);
        if (!lab) {
            ++f.failures;
            std::fprintf(stderr, "bench_labs: %s start %u: %s\n", kind.c_str(), i,
                         lab.error().message.c_str());
            if (f.failures > o.maxFailures || i == 0)
                break;
            continue;
        }
        const bool ok = arpAnswered(*lab->link(), lab->addresses, host::randomLocalMac(rng),
                                    std::chrono::milliseconds(2000));
        const std::uint64_t firstNs = nsSince(t0);
        if (!ok) {
            ++f.failures;
            std::fprintf(stderr, "bench_labs: %s start %u: the peer did not answer ARP\n",
                         kind.c_str(), i);
            continue;
        }
        f.link.push_back(linkNs);
        f.firstFrame.push_back(firstNs);
        f.self.push_back(lab->selfNs);
        // The lab ends here (namespaces, helper), outside the timed part.
    }
    return f;
}

struct HandshakeFigures {
    std::vector<std::uint64_t> full, afterSend, turnaround;
    std::size_t failures = 0;
};

HandshakeFigures measureHandshake(const std::string& kind, const Options& o) {
    HandshakeFigures h;
    auto lab = startLab(kind);
    if (!lab) {
        std::fprintf(stderr, "bench_labs: %s: %s\n", kind.c_str(), lab.error().message.c_str());
        h.failures = 1;
        return h;
    }
    std::fprintf(stderr, "bench_labs: handshake through %s\n", lab->description.c_str());
    const lab::LabAddresses a = lab->addresses;
    std::mt19937_64 rng(std::random_device{}());
    host::Identity identity;
    identity.mac = host::randomLocalMac(rng);
    identity.ipv4 = host::Ipv4Config{a.phantom4, a.prefix4, std::nullopt};

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
    params.phantomMac = identity.mac;
    params.phantom = a.phantom4;
    params.peer = a.peer4;
    params.destinationPort = 50001;
    params.iss = wire::SeqNum{100};

    auto timeline = std::make_shared<timeline::Timeline>();
    engine::Engine engine(lab->takeLink(), timeline);
    engine.start();
    host::HostTiming timing;
    timing.probeCount = 1;
    timing.probeIntervalNs = 20'000'000;
    timing.probeWaitNs = 100'000'000;
    timing.resolveAttempts = 3;
    timing.resolveIntervalNs = 200'000'000;
    engine.configure(identity, timing, engine::Engine::Probe::Run);
    const auto claimed = bench::waitFor(
        "bench_labs", engine, Clock::now() + std::chrono::seconds(5), [](const auto& e) {
            return e.kind == engine::EngineEvent::Kind::Host && e.host &&
                   (e.host->kind == host::HostEvent::Kind::AddressClaimed ||
                    e.host->kind == host::HostEvent::Kind::AddressConflict);
        });
    if (!claimed)
        fatal("the conflict probe did not end within 5 s");
    if (claimed->host->kind == host::HostEvent::Kind::AddressConflict)
        fatal("the phantom's address is in use: " + claimed->message);

    for (auto* v : {&h.full, &h.afterSend, &h.turnaround})
        v->reserve(o.count);
    unsigned negatives = 0;
    const auto runDeadline = Clock::now() + std::chrono::seconds(o.budgetS);
    const auto runLimit = std::chrono::milliseconds(o.timeoutMs) + std::chrono::seconds(2);
    const auto isFinished = [](const engine::EngineEvent& e) {
        return e.kind == engine::EngineEvent::Kind::ScenarioFinished;
    };
    for (unsigned i = 0; i < o.warmup + o.count; ++i) {
        if (Clock::now() > runDeadline) {
            std::fprintf(stderr, "bench_labs: %s handshake: budget of %u s spent after %u runs\n",
                         kind.c_str(), o.budgetS, i);
            break;
        }
        const bool measured = i >= o.warmup;
        params.sourcePort = static_cast<std::uint16_t>(o.sportBase + i);
        const std::size_t from = timeline->size();
        engine.runScenario(*scenario, params);
        auto finished = bench::waitFor("bench_labs", engine, Clock::now() + runLimit, isFinished);
        if (!finished) {
            engine.cancelScenario();
            if (!bench::waitFor("bench_labs", engine, Clock::now() + std::chrono::seconds(1),
                                isFinished))
                fatal(fmt::format("{} run {} (port {}) did not finish, even when cancelled", kind,
                                  i, params.sourcePort));
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
            ++h.failures;
            std::fprintf(stderr, "bench_labs: %s run %u (port %u): %s\n", kind.c_str(), i,
                         unsigned{params.sourcePort}, problem.c_str());
            if (h.failures > o.maxFailures) {
                std::fprintf(stderr, "bench_labs: %s: more than %u failures, giving up\n",
                             kind.c_str(), o.maxFailures);
                break;
            }
            continue;
        }
        if (!measured)
            continue;
        const std::int64_t sendStart = snapshot.results[0].startNs;
        const std::int64_t matched = snapshot.results[1].endNs;
        h.full.push_back(nonNegative(matched - sendStart, negatives));
        h.afterSend.push_back(nonNegative(matched - *frames.synSent, negatives));
        h.turnaround.push_back(nonNegative(*frames.replySent - matched, negatives));
    }
    engine.stop();
    if (negatives > 0)
        std::fprintf(stderr, "bench_labs: %s: %u intervals came out negative (clamped to 0)\n",
                     kind.c_str(), negatives);
    return h;
}

struct Summary {
    std::size_t n = 0;
    std::uint64_t median = 0, p90 = 0, p99 = 0;
};

/// Prints the RESULT line (sorting `v`) and returns the percentiles.
Summary report(const std::string& name, std::vector<std::uint64_t>& v, std::size_t failures) {
    hsr_print(stdout, name.c_str(), v.data(), v.size(), failures);
    Summary s;
    s.n = v.size();
    if (!v.empty()) {
        s.median = hsr_percentile(v.data(), v.size(), 50);
        s.p90 = hsr_percentile(v.data(), v.size(), 90);
        s.p99 = hsr_percentile(v.data(), v.size(), 99);
    }
    return s;
}

std::string us(std::uint64_t ns) {
    return fmt::format("{:.1f}", static_cast<double>(ns) / 1000.0);
}

std::string ratio(std::uint64_t lwip, std::uint64_t linux_) {
    if (linux_ == 0 || lwip == 0)
        return "-";
    return fmt::format("{:.2f}", static_cast<double>(lwip) / static_cast<double>(linux_));
}

/// Makes the helpers CMake built the default, unless the environment names others.
void defaultHelpers() {
#ifdef TCPLAB_LAB_HELPER_PATH
    ::setenv("TCPLAB_LAB_HELPER", TCPLAB_LAB_HELPER_PATH, 0);
#endif
#ifdef TCPLAB_LWIP_HELPER_PATH
    ::setenv("TCPLAB_LWIP_HELPER", TCPLAB_LWIP_HELPER_PATH, 0);
#endif
}

int run(const Options& o) {
    defaultHelpers();
    if (std::uint32_t{o.sportBase} + o.warmup + o.count - 1 > 65535) {
        std::fprintf(stderr, "bench_labs: sport-base + warmup + count - 1 must fit in a port\n");
        return 2;
    }
    // name -> {link, first frame, self, full, after_send, turnaround}
    std::map<std::string, std::vector<Summary>> table;
    bool allOk = true;
    for (const std::string& kind : o.labs) {
        const std::string where = kind == "linux" ? lab::findLabHelper().value_or("")
                                                  : lab::findLwipHelper().value_or("");
        if (where.empty()) {
            std::fprintf(stderr, "bench_labs: %s: no helper found: skipped\n", kind.c_str());
            allOk = false;
            continue;
        }
        std::fprintf(stderr, "bench_labs: %s lab, helper %s\n", kind.c_str(), where.c_str());
        StartupFigures s = measureStartup(kind, o);
        HandshakeFigures h = measureHandshake(kind, o);
        auto& row = table[kind];
        row.push_back(report(kind + "_startup_link", s.link, s.failures));
        row.push_back(report(kind + "_startup_first_frame", s.firstFrame, s.failures));
        row.push_back(report(kind + "_startup_self", s.self, s.failures));
        row.push_back(report(kind + "_hs_full", h.full, h.failures));
        row.push_back(report(kind + "_hs_after_send", h.afterSend, h.failures));
        row.push_back(report(kind + "_hs_turnaround", h.turnaround, h.failures));
        if (s.link.empty() || h.full.empty())
            allOk = false;
    }

    static const char* const names[] = {
        "start-up: call -> Link",    "start-up: call -> ARP answered", "start-up: lab's own",
        "handshake: SYN step -> SA", "handshake: SYN sent -> SA",      "turnaround: SA -> RST",
    };
    std::printf("\n%-32s %6s %10s %10s %10s %6s %6s\n", "figure (microseconds)", "lab", "median",
                "p90", "p99", "n", "");
    for (std::size_t r = 0; r < 6; ++r) {
        for (const auto& [kind, row] : table) {
            const Summary& s = row[r];
            std::printf("%-32s %6s %10s %10s %10s %6zu\n", names[r], kind.c_str(),
                        us(s.median).c_str(), us(s.p90).c_str(), r < 3 ? "-" : us(s.p99).c_str(),
                        s.n);
        }
        if (table.count("linux") && table.count("lwip")) {
            const Summary& l = table["linux"][r];
            const Summary& w = table["lwip"][r];
            std::printf("%-32s %6s %10s %10s %10s\n", "", "ratio",
                        ratio(w.median, l.median).c_str(), ratio(w.p90, l.p90).c_str(),
                        r < 3 ? "-" : ratio(w.p99, l.p99).c_str());
        }
    }
    return allOk ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
    Options o;
    CLI::App app{"Start-up time of the built-in labs and the handshake through each", "bench_labs"};
    app.add_option("--starts", o.starts, "start-ups measured per lab")
        ->check(CLI::Range(1u, 1000u))
        ->capture_default_str();
    app.add_option("--count", o.count, "measured handshakes per lab")
        ->check(CLI::Range(1u, 20'000u))
        ->capture_default_str();
    app.add_option("--warmup", o.warmup, "handshakes before the measured ones")
        ->check(CLI::Range(0u, 1000u))
        ->capture_default_str();
    app.add_option("--timeout-ms", o.timeoutMs, "limit of the SYN-ACK wait per run")
        ->check(CLI::Range(1u, 60'000u))
        ->capture_default_str();
    app.add_option("--budget-s", o.budgetS, "limit of each part (start-ups, handshakes) per lab")
        ->check(CLI::Range(1u, 3600u))
        ->capture_default_str();
    app.add_option("--max-failures", o.maxFailures, "give up after this many failures")
        ->capture_default_str();
    app.add_option("--sport-base", o.sportBase, "source port of the first run")
        ->capture_default_str();
    app.add_option("--lab", o.labs, "labs to measure (linux, lwip)")
        ->check(CLI::IsMember({"linux", "lwip"}))
        ->capture_default_str();
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int status = app.exit(e);
        return status == 0 ? 0 : 2;
    }
    return run(o);
}
