// tcplab-cli compare: the classic exercise against both built-in peers (Linux and
// lwIP), the two ladders side by side, and what the stacks did differently; then a
// probe with a segment outside the receive window, to see what each answers.
#include "cli/commands.h"
#include "cli/lab_run.h"

#include "engine/engine.h"
#include "engine/scenario.h"
#include "host/phantom_host.h"
#include "lab/builtin_lab.h"
#include "lab/lwip_lab.h"
#include "timeline/timeline.h"
#include "wire/address.h"
#include "wire/bytes.h"
#include "wire/tcp.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace tcplab::cli {

namespace {

using wire::SeqNum;
namespace flags = wire::tcp_flags;

struct CompareOptions {
    bool ipv6 = false;
    std::string close = "fin";
};

constexpr std::string_view kRequest = "GET / HTTP/1.1\r\n\r\n";
constexpr std::string_view kPeerCloseRequest = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n";

/// After the handshake, one byte a million sequence numbers past what the peer
/// expects: far outside any receive window. RFC 9293 §3.10.7.4 says to answer an
/// unacceptable segment with an ACK (unless it carries RST) and drop it. The linger
/// step only listens (it cannot fail because the peer stays silent; it fails on a
/// RST, which is then the answer); the last RST cleans up on the peer's side.
constexpr std::string_view kProbeScenario =
    R"(title Bad-segment probe: a segment outside the receive window after the handshake
send S seq=iss name="SYN"
expect SA ack=iss+1 within=5000 name="SYN-ACK"
send A name="ACK"
send PA seq=snd.nxt+1000000 data="x" name="out-of-window segment"
linger 1000 name="listen for the answer"
send R name="abort"
)";
constexpr std::size_t kProbeHandshakeSteps = 3;
constexpr std::uint16_t kClassicPort = 50000;
constexpr std::uint16_t kProbePort = 50002;

/// One TCP segment of our connection, from the timeline.
struct Segment {
    std::int64_t timeNs = 0;
    bool sent = false;
    wire::TcpHeader tcp;
    std::uint32_t length = 0;
};

struct LabRun {
    std::string name;
    std::string description;
    std::shared_ptr<timeline::Timeline> timeline;
    engine::ConnectionParams classicParams;
    engine::ConnectionParams probeParams;
    std::size_t classicEnd = 0; ///< timeline entries [0, classicEnd) are the classic run
    std::string failure;        ///< empty when both runs completed
    bool probeHandshake = false;
};

engine::ConnectionParams makeParams(const host::Identity& identity, bool ipv6,
                                    engine::CloseMode close, std::uint16_t sourcePort) {
    engine::ConnectionParams p;
    p.phantomMac = identity.mac;
    p.phantom =
        ipv6 ? wire::IpAddress{identity.ipv6->address} : wire::IpAddress{identity.ipv4->address};
    p.peer = *wire::parseIpAddress(ipv6 ? kLabPeer6 : kLabPeer4);
    p.sourcePort = sourcePort;
    p.destinationPort = 50001;
    p.iss = SeqNum{100};
    const auto request =
        wire::unescapeText(close == engine::CloseMode::Peer ? kPeerCloseRequest : kRequest);
    if (request)
        p.request = *request;
    return p;
}

host::Identity makeIdentity(bool ipv6) {
    const auto address = [](std::string_view text) {
        return *wire::parseIpAddress(text.substr(0, text.find('/')));
    };
    host::Identity identity;
    std::mt19937_64 rng{std::random_device{}()};
    identity.mac = host::randomLocalMac(rng);
    if (ipv6)
        identity.ipv6 =
            host::Ipv6Config{std::get<wire::Ipv6Address>(address(kLabPhantom6)), 64, std::nullopt};
    else
        identity.ipv4 =
            host::Ipv4Config{std::get<wire::Ipv4Address>(address(kLabPhantom4)), 24, std::nullopt};
    return identity;
}

/// Waits for the scenario's end within its budget; the failure, if any.
std::optional<std::string> waitForScenario(engine::Engine& engine,
                                           const engine::Scenario& scenario) {
    const std::int64_t budgetNs = scenarioBudgetNs(scenario);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(budgetNs);
    std::optional<std::string> linkFailure;
    while (std::chrono::steady_clock::now() < deadline) {
        engine.waitForEvents(std::chrono::milliseconds(50));
        for (const auto& e : engine.takeEvents()) {
            if (e.kind == engine::EngineEvent::Kind::LinkFailed)
                linkFailure = e.message;
            if (e.kind == engine::EngineEvent::Kind::ScenarioFinished)
                return e.ok ? std::nullopt : std::optional<std::string>(e.message);
        }
    }
    return fmt::format("gave up after {} s without an end to the scenario{}",
                       budgetNs / 1'000'000'000, linkFailure ? ": " + *linkFailure : "");
}

/// What our SYN offers in the classic exercise here, so that each SYN-ACK shows
/// which of them the peer supports (a stack only answers options it was offered).
/// WS 0 negotiates scaling without changing what our window field means.
constexpr std::string_view kSynOptions = "mss:1460,sackok,ts:1:0,nop,ws:0";

/// The classic exercise with kSynOptions on the SYN.
engine::Scenario compareScenario(engine::CloseMode close) {
    std::string text(engine::classicScenarioText(close));
    constexpr std::string_view kSyn = "send S seq=iss ";
    if (const auto at = text.find(kSyn); at != std::string::npos)
        text.insert(at + kSyn.size(), fmt::format("options={} ", kSynOptions));
    auto scenario = engine::parseScenario(text);
    return scenario ? *scenario : engine::classicScenario(close);
}

/// Starts the lab, runs the classic exercise and the probe. Returns false when the
/// lab could not start (the reason in run.failure).
bool runLab(LabRun& run, const CompareOptions& o, engine::CloseMode close) {
    std::optional<lab::BuiltinLinuxLab> linuxLab;
    std::optional<lab::BuiltinLwipLab> lwipLab;
    std::unique_ptr<link::Link> link;
    if (run.name == "linux") {
        auto started = lab::startLinuxLab();
        if (!started) {
            run.failure = "the linux lab could not start: " + started.error().message;
            return false;
        }
        linuxLab.emplace(std::move(*started));
        link = linuxLab->takeLink();
        run.description = linuxLab->description();
    } else {
        auto started = lab::startLwipLab();
        if (!started) {
            run.failure = "the lwip lab could not start: " + started.error().message;
            return false;
        }
        lwipLab.emplace(std::move(*started));
        link = lwipLab->takeLink();
        run.description = lwipLab->description();
    }

    run.timeline = std::make_shared<timeline::Timeline>();
    engine::Engine engine(std::move(link), run.timeline);
    engine.start();
    const host::Identity identity = makeIdentity(o.ipv6);
    engine.configure(identity, host::HostTiming{}, engine::Engine::Probe::Run);
    run.classicParams = makeParams(identity, o.ipv6, close, kClassicPort);
    run.probeParams = makeParams(identity, o.ipv6, close, kProbePort);

    const engine::Scenario classic = compareScenario(close);
    engine.runScenario(classic, run.classicParams);
    if (auto failed = waitForScenario(engine, classic)) {
        run.failure = "the classic exercise failed: " + *failed;
        engine.stop();
        run.classicEnd = run.timeline->size();
        return true;
    }
    run.classicEnd = run.timeline->size();

    auto probe = engine::parseScenario(kProbeScenario);
    if (!probe) {
        run.failure = "the probe scenario does not parse: " + engine::describe(probe.error());
        engine.stop();
        return true;
    }
    engine.runScenario(*probe, run.probeParams);
    const auto probeFailed = waitForScenario(engine, *probe);
    engine.stop();
    // The probe's own steps may fail on a RST from the peer: that is its answer. Only a
    // handshake that did not happen makes the probe a failure.
    const auto snapshot = engine.scenarioSnapshot();
    run.probeHandshake = snapshot.results.size() > kProbeHandshakeSteps;
    for (std::size_t i = 0; run.probeHandshake && i < kProbeHandshakeSteps; ++i)
        run.probeHandshake = snapshot.results[i].status == engine::StepResult::Status::Done;
    if (!run.probeHandshake)
        run.failure = "the bad-segment probe failed before its handshake was done" +
                      (probeFailed ? ": " + *probeFailed : std::string());
    return true;
}

/// Our connection's segments (on `port`) among entries [begin, end).
std::vector<Segment> segments(const timeline::Timeline& t, std::size_t begin, std::size_t end,
                              std::uint16_t port) {
    std::vector<Segment> out;
    for (std::size_t i = begin; i < end && i < t.size(); ++i) {
        const auto& entry = t[i];
        const wire::Frame frame = entry.decode();
        const auto* tcp = frame.tcp();
        if (!tcp)
            continue;
        const bool sent = entry.direction == timeline::Direction::Sent;
        if ((sent ? tcp->srcPort : tcp->dstPort) != port)
            continue;
        out.push_back({entry.timeNs, sent, *tcp, frame.payloadLength});
    }
    return out;
}

std::string ladderText(const timeline::Timeline& t, std::size_t begin, std::size_t end,
                       const engine::ConnectionParams& params) {
    std::ostringstream text;
    Ladder ladder(params, text);
    for (std::size_t i = begin; i < end && i < t.size(); ++i) {
        const wire::Frame frame = t[i].decode();
        const auto* tcp = frame.tcp();
        const bool sent = t[i].direction == timeline::Direction::Sent;
        if (tcp && (sent ? tcp->srcPort : tcp->dstPort) == params.sourcePort)
            ladder.print(t[i]);
    }
    return text.str();
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        out.push_back(line);
    return out;
}

/// Two texts side by side when they fit in 160 columns, else one after the other.
void printColumns(std::ostream& out, const std::string& leftTitle, const std::string& left,
                  const std::string& rightTitle, const std::string& right) {
    const auto l = lines(left);
    const auto r = lines(right);
    std::size_t leftWidth = leftTitle.size();
    for (const auto& line : l)
        leftWidth = std::max(leftWidth, line.size());
    std::size_t rightWidth = rightTitle.size();
    for (const auto& line : r)
        rightWidth = std::max(rightWidth, line.size());
    constexpr std::string_view kGap = " | ";
    if (leftWidth + kGap.size() + rightWidth < 160) {
        out << fmt::format("{:<{}}{}{}\n", leftTitle, leftWidth, kGap, rightTitle);
        for (std::size_t i = 0; i < std::max(l.size(), r.size()); ++i) {
            const std::string a = i < l.size() ? l[i] : std::string();
            const std::string b = i < r.size() ? r[i] : std::string();
            std::string line = fmt::format("{:<{}}{}{}", a, leftWidth, kGap, b);
            line.erase(line.find_last_not_of(' ') + 1);
            out << line << "\n";
        }
    } else {
        out << leftTitle << "\n" << left << "\n" << rightTitle << "\n" << right;
    }
}

std::string ms(std::int64_t ns) {
    return fmt::format("{:.3f} ms", static_cast<double>(ns) / 1e6);
}

/// What one stack did, in words, one entry per difference topic.
struct Findings {
    std::optional<SeqNum> isn;
    std::optional<SeqNum> probeIsn;
    std::string isnText = "no SYN-ACK";
    std::string synAck = "no SYN-ACK";
    std::string dataAck = "our data was not acknowledged";
    std::string sizes = "no response data";
    std::string closing = "no FIN from the peer";
    std::string badSegment = "not probed";
};

std::string synAckText(const wire::TcpHeader& tcp) {
    std::vector<std::string> parts;
    bool sack = false;
    bool timestamps = false;
    for (const auto& option : tcp.options) {
        if (option.kind == wire::tcp_option_kind::kNop ||
            option.kind == wire::tcp_option_kind::kEol)
            continue;
        if (option.kind == wire::tcp_option_kind::kSackPermitted)
            sack = true;
        if (option.kind == wire::tcp_option_kind::kTimestamps)
            timestamps = true;
        parts.push_back(option.summary());
    }
    std::string options;
    for (const auto& p : parts)
        options += (options.empty() ? "" : " ") + p;
    return fmt::format("window {}, options {}{}{}", tcp.window, options.empty() ? "none" : options,
                       sack ? "" : ", no SACK-permitted", timestamps ? "" : ", no timestamps");
}

Findings analyse(const LabRun& run) {
    Findings f;
    const auto classic = segments(*run.timeline, 0, run.classicEnd, kClassicPort);
    const auto probe = segments(*run.timeline, run.classicEnd, run.timeline->size(), kProbePort);

    const auto isSynAck = [](const Segment& s) {
        return !s.sent && s.tcp.has(flags::kSyn) && s.tcp.has(flags::kAck);
    };
    const auto synAck = std::find_if(classic.begin(), classic.end(), isSynAck);
    if (synAck != classic.end()) {
        f.isn = synAck->tcp.seq;
        f.synAck = synAckText(synAck->tcp);
    }
    if (const auto p = std::find_if(probe.begin(), probe.end(), isSynAck); p != probe.end())
        f.probeIsn = p->tcp.seq;
    if (f.isn && f.probeIsn) {
        const std::uint32_t step = static_cast<std::uint32_t>(*f.probeIsn - *f.isn);
        // Two connections a second apart: a clock-driven or counter ISN moves a little, a
        // keyed hash (RFC 6528) lands anywhere in the 2^32 space.
        const bool predictable = step < (1u << 20);
        f.isnText = fmt::format("{} then {} on the next connection (+{}): {}", f.isn->value(),
                                f.probeIsn->value(), step,
                                predictable ? "predictable (the same or close on every connection)"
                                            : "looks random");
    } else if (f.isn) {
        f.isnText = fmt::format("{} (no second connection to compare)", f.isn->value());
    }

    // Our request, then how the peer acknowledged it.
    const auto request = std::find_if(classic.begin(), classic.end(), [](const Segment& s) {
        return s.sent && s.length > 0 && !s.tcp.has(flags::kSyn);
    });
    if (request != classic.end()) {
        const SeqNum end = request->tcp.seq + request->length;
        for (auto it = request + 1; it != classic.end(); ++it) {
            if (it->sent || !it->tcp.has(flags::kAck) || !(it->tcp.ack >= end))
                continue;
            const std::int64_t after = it->timeNs - request->timeNs;
            if (it->length > 0) {
                f.dataAck = fmt::format("piggy-backed on the response, {} after the request (the "
                                        "ACK waited for data: delayed ACK)",
                                        ms(after));
            } else {
                const auto response = std::find_if(
                    it, classic.end(), [](const Segment& s) { return !s.sent && s.length > 0; });
                f.dataAck = fmt::format(
                    "a separate ACK {} after the request{} (the ACK did not wait for data)",
                    ms(after),
                    response == classic.end() ? std::string(", no response")
                                              : fmt::format(", the response {} after that",
                                                            ms(response->timeNs - it->timeNs)));
            }
            break;
        }
    }

    std::vector<std::uint32_t> sizes;
    std::uint32_t total = 0;
    std::optional<std::int64_t> lastDataNs;
    for (const auto& s : classic)
        if (!s.sent && s.length > 0 && !s.tcp.has(flags::kSyn)) {
            sizes.push_back(s.length);
            total += s.length;
            lastDataNs = s.timeNs;
        }
    if (!sizes.empty()) {
        std::string list;
        for (const auto size : sizes)
            list += (list.empty() ? "" : " ") + std::to_string(size);
        f.sizes = fmt::format("{} segment(s), {} bytes: {}", sizes.size(), total, list);
    }

    const auto peerFin = std::find_if(classic.begin(), classic.end(), [](const Segment& s) {
        return !s.sent && s.tcp.has(flags::kFin);
    });
    const auto ourEnd = std::find_if(classic.begin(), classic.end(), [](const Segment& s) {
        return s.sent && (s.tcp.has(flags::kFin) || s.tcp.has(flags::kRst));
    });
    if (peerFin == classic.end()) {
        if (ourEnd != classic.end() && ourEnd->tcp.has(flags::kRst))
            f.closing = "no FIN (we aborted with RST)";
    } else if (ourEnd == classic.end() || peerFin < ourEnd) {
        if (peerFin->length > 0)
            f.closing = "closed first: FIN on its last data segment";
        else
            f.closing = fmt::format("closed first: a separate FIN {} after its last data",
                                    ms(lastDataNs ? peerFin->timeNs - *lastDataNs : 0));
    } else {
        const bool pureAckFirst = std::any_of(ourEnd + 1, peerFin, [](const Segment& s) {
            return !s.sent && s.length == 0 && !s.tcp.has(flags::kFin);
        });
        f.closing = pureAckFirst
                        ? fmt::format("ACKed our FIN, then sent its own FIN {} after ours (two "
                                      "segments)",
                                      ms(peerFin->timeNs - ourEnd->timeNs))
                        : fmt::format("FIN-ACK in one segment, {} after our FIN",
                                      ms(peerFin->timeNs - ourEnd->timeNs));
    }

    // The probe: what came back after our out-of-window segment (before our last RST).
    const auto bad = std::find_if(probe.begin(), probe.end(), [](const Segment& s) {
        return s.sent && s.length > 0 && !s.tcp.has(flags::kSyn);
    });
    if (bad != probe.end()) {
        const auto ourRst = std::find_if(
            bad, probe.end(), [](const Segment& s) { return s.sent && s.tcp.has(flags::kRst); });
        const auto answer = std::find_if(bad, ourRst, [](const Segment& s) { return !s.sent; });
        if (answer == ourRst)
            f.badSegment = "nothing: dropped silently";
        else if (answer->tcp.has(flags::kRst))
            f.badSegment = fmt::format("RST ({} after it)", ms(answer->timeNs - bad->timeNs));
        else if (answer->tcp.has(flags::kAck))
            f.badSegment = fmt::format("an ACK of {} ({} after it): RFC 9293 §3.10.7.4 behaviour",
                                       run.probeParams.iss.value() + 1 == answer->tcp.ack.value()
                                           ? std::string("iss+1, what it still expects")
                                           : std::to_string(answer->tcp.ack.value()),
                                       ms(answer->timeNs - bad->timeNs));
        else
            f.badSegment =
                fmt::format("a segment with flags {}", wire::tcpFlagsToString(answer->tcp.flags));
    }
    return f;
}

int runCompare(const CompareOptions& o) {
    const auto close = engine::parseCloseMode(o.close);
    if (!close)
        throw CLI::ValidationError("--close",
                                   fmt::format("'{}' is not one of fin, rst, peer", o.close));
    std::ostream& out = std::cout;
    std::vector<LabRun> runs(2);
    runs[0].name = "linux";
    runs[1].name = "lwip";
    for (auto& run : runs) {
        if (!runLab(run, o, *close)) {
            std::cerr << "tcplab-cli compare: " << run.failure << "\n";
            return kExitFailure;
        }
        out << "# " << run.name << ": " << run.description << "\n";
    }

    out << "\n# " << compareScenario(*close).title << "; our SYN offers " << kSynOptions << "\n";
    printColumns(
        out, "linux", ladderText(*runs[0].timeline, 0, runs[0].classicEnd, runs[0].classicParams),
        "lwip", ladderText(*runs[1].timeline, 0, runs[1].classicEnd, runs[1].classicParams));
    out << "\n# the bad-segment probe: after the handshake, 1 byte at snd.nxt+1000000\n";
    printColumns(out, "linux",
                 ladderText(*runs[0].timeline, runs[0].classicEnd, runs[0].timeline->size(),
                            runs[0].probeParams),
                 "lwip",
                 ladderText(*runs[1].timeline, runs[1].classicEnd, runs[1].timeline->size(),
                            runs[1].probeParams));

    const Findings linuxFound = analyse(runs[0]);
    const Findings lwipFound = analyse(runs[1]);
    out << "\nDifferences:\n";
    const auto topic = [&](std::string_view title, const std::string& a, const std::string& b) {
        out << "- " << title << (a == b ? " (the same)" : "") << "\n";
        out << "    linux: " << a << "\n";
        out << "    lwip:  " << b << "\n";
    };
    topic("ISN (the peer's initial sequence number)", linuxFound.isnText, lwipFound.isnText);
    topic("SYN-ACK window and options", linuxFound.synAck, lwipFound.synAck);
    topic("how our data was acknowledged", linuxFound.dataAck, lwipFound.dataAck);
    topic("response segment sizes", linuxFound.sizes, lwipFound.sizes);
    topic("how it closed", linuxFound.closing, lwipFound.closing);
    topic("answer to a segment outside the window", linuxFound.badSegment, lwipFound.badSegment);

    int status = kExitOk;
    for (const auto& run : runs)
        if (!run.failure.empty()) {
            std::cerr << "tcplab-cli compare: " << run.name << ": " << run.failure << "\n";
            status = kExitFailure;
        }
    return status;
}

} // namespace

void addCompareCommand(CLI::App& app, int& exitCode) {
    auto o = std::make_shared<CompareOptions>();
    CLI::App* sub = app.add_subcommand(
        "compare",
        "Run the classic exercise against both built-in peers (linux and lwip), print the two "
        "ladders side by side and what the stacks did differently (ISN, SYN-ACK options, "
        "delayed ACK, segment sizes, close), then probe each with a segment outside its "
        "receive window. Exits 0 when both runs completed, 1 when a lab could not start or a "
        "run failed.");
    sub->add_flag("--ipv6", o->ipv6, "use the built-in lab's IPv6 addresses");
    sub->add_option("--close", o->close,
                    "fin: we close first; rst: we abort with RST; peer: the peer closes first")
        ->capture_default_str();
    sub->callback([o, &exitCode] { exitCode = runCompare(*o); });
}

} // namespace tcplab::cli
