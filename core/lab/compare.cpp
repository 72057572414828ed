#include "lab/compare.h"

#include "engine/engine.h"
#include "host/phantom_host.h"
#include "lab/builtin_lab.h"
#include "lab/lwip_lab.h"
#include "wire/address.h"
#include "wire/bytes.h"
#include "wire/tcp.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <sys/utsname.h>
#include <utility>
#include <variant>

namespace tcplab::lab {

namespace {

using wire::SeqNum;
namespace flags = wire::tcp_flags;

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

/// The stack's name in a sentence: "Linux", "lwIP".
std::string_view humanName(CompareStack stack) {
    return stack == CompareStack::Linux ? "Linux" : "lwIP";
}

std::string kernelRelease() {
    struct utsname u {};
    return ::uname(&u) == 0 ? std::string(u.release) : std::string("?");
}

engine::ConnectionParams makeParams(const host::Identity& identity, const LabAddresses& lab,
                                    bool ipv6, engine::CloseMode close, std::uint16_t sourcePort) {
    engine::ConnectionParams p;
    p.phantomMac = identity.mac;
    p.phantom =
        ipv6 ? wire::IpAddress{identity.ipv6->address} : wire::IpAddress{identity.ipv4->address};
    p.peer = ipv6 ? wire::IpAddress{lab.peer6} : wire::IpAddress{lab.peer4};
    p.sourcePort = sourcePort;
    p.destinationPort = 50001;
    p.iss = SeqNum{100};
    const auto request =
        wire::unescapeText(close == engine::CloseMode::Peer ? kPeerCloseRequest : kRequest);
    if (request)
        p.request = *request;
    return p;
}

host::Identity makeIdentity(const LabAddresses& lab, bool ipv6) {
    host::Identity identity;
    std::mt19937_64 rng{std::random_device{}()};
    identity.mac = host::randomLocalMac(rng);
    if (ipv6)
        identity.ipv6 = host::Ipv6Config{lab.phantom6, lab.prefix6, std::nullopt};
    else
        identity.ipv4 = host::Ipv4Config{lab.phantom4, lab.prefix4, std::nullopt};
    return identity;
}

constexpr std::string_view kCancelled = "cancelled";

/// Waits for the scenario's end within its budget (or a stop request); the failure, if
/// any (kCancelled on a stop request).
std::optional<std::string> waitForScenario(engine::Engine& engine, const engine::Scenario& scenario,
                                           const std::stop_token& stop) {
    const std::int64_t budget = engine::timeBudgetNs(scenario);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(budget);
    std::optional<std::string> linkFailure;
    while (std::chrono::steady_clock::now() < deadline) {
        if (stop.stop_requested())
            return std::string(kCancelled);
        engine.waitForEvents(std::chrono::milliseconds(50));
        for (const auto& e : engine.takeEvents()) {
            if (e.kind == engine::EngineEvent::Kind::LinkFailed)
                linkFailure = e.message;
            if (e.kind == engine::EngineEvent::Kind::ScenarioFinished)
                return e.ok ? std::nullopt : std::optional<std::string>(e.message);
        }
    }
    return fmt::format("gave up after {} s without an end to the scenario{}",
                       budget / 1'000'000'000, linkFailure ? ": " + *linkFailure : "");
}

std::string ms(std::int64_t ns) {
    return fmt::format("{:.3f} ms", static_cast<double>(ns) / 1e6);
}

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

/// `text` with every duration ("12.345 ms") replaced by "# ms".
std::string withoutTimings(std::string_view text) {
    constexpr std::string_view kUnit = " ms";
    std::string out;
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t j = i;
        while (j < text.size() && ((text[j] >= '0' && text[j] <= '9') || text[j] == '.'))
            ++j;
        if (j > i && text.substr(j, kUnit.size()) == kUnit) {
            out += '#';
            i = j;
        } else {
            out.append(text.substr(i, std::max<std::size_t>(j - i, 1)));
            i = std::max(j, i + 1);
        }
    }
    return out;
}

} // namespace

bool DifferenceTopic::sameApartFromTiming() const {
    return same() || withoutTimings(linuxText) == withoutTimings(lwipText);
}

std::string_view compareStackName(CompareStack stack) noexcept {
    return stack == CompareStack::Linux ? "linux" : "lwip";
}

engine::Scenario compareScenario(engine::CloseMode close) {
    std::string text(engine::classicScenarioText(close));
    constexpr std::string_view kSyn = "send S seq=iss ";
    if (const auto at = text.find(kSyn); at != std::string::npos)
        text.insert(at + kSyn.size(), fmt::format("options={} ", kCompareSynOptions));
    auto scenario = engine::parseScenario(text);
    return scenario ? *scenario : engine::classicScenario(close);
}

engine::Scenario probeScenario() {
    // The text is ours and tested: it parses.
    auto probe = engine::parseScenario(kProbeScenario);
    return probe ? std::move(*probe) : engine::Scenario{};
}

LabRun runLab(CompareStack stack, const CompareOptions& o, std::stop_token stop,
              const CompareProgress& progress) {
    const auto say = [&](const std::string& what) {
        if (progress)
            progress(what);
    };
    LabRun run;
    run.stack = stack;
    run.name = std::string(compareStackName(stack));
    run.title = std::string(humanName(stack));

    std::optional<BuiltinLinuxLab> linuxLab;
    std::optional<BuiltinLwipLab> lwipLab;
    std::unique_ptr<link::Link> link;
    LabAddresses addresses;
    say(fmt::format("starting the {} lab…", humanName(stack)));
    if (stack == CompareStack::Linux) {
        LabOptions options;
        options.helperPath = o.labHelperPath;
        auto started = startLinuxLab(options);
        if (!started) {
            run.failure = "the linux lab could not start: " + started.error().message;
            return run;
        }
        linuxLab.emplace(std::move(*started));
        link = linuxLab->takeLink();
        addresses = linuxLab->addresses();
        run.description = linuxLab->description();
        run.title = "Linux " + kernelRelease();
    } else {
        LwipLabOptions options;
        options.helperPath = o.lwipHelperPath;
        auto started = startLwipLab(options);
        if (!started) {
            run.failure = "the lwip lab could not start: " + started.error().message;
            return run;
        }
        lwipLab.emplace(std::move(*started));
        link = lwipLab->takeLink();
        addresses = lwipLab->addresses();
        run.description = lwipLab->description();
        run.title = "lwIP " + lwipLab->lwipVersion();
    }
    run.started = true;

    run.timeline = std::make_shared<timeline::Timeline>();
    engine::Engine engine(std::move(link), run.timeline);
    engine.start();
    const host::Identity identity = makeIdentity(addresses, o.ipv6);
    engine.configure(identity, host::HostTiming{}, engine::Engine::Probe::Run);
    run.classicParams = makeParams(identity, addresses, o.ipv6, o.close, kCompareClassicPort);
    run.probeParams = makeParams(identity, addresses, o.ipv6, o.close, kCompareProbePort);

    say(fmt::format("running the exercise on {}…", humanName(stack)));
    const engine::Scenario classic = compareScenario(o.close);
    engine.runScenario(classic, run.classicParams);
    if (auto failed = waitForScenario(engine, classic, stop)) {
        run.cancelled = *failed == kCancelled;
        run.failure =
            run.cancelled ? std::string(kCancelled) : "the classic exercise failed: " + *failed;
        engine.stop();
        run.classicEnd = run.timeline->size();
        return run;
    }
    run.classicEnd = run.timeline->size();

    say(fmt::format("probing {} with a segment outside its window…", humanName(stack)));
    const engine::Scenario probe = probeScenario();
    engine.runScenario(probe, run.probeParams);
    const auto probeFailed = waitForScenario(engine, probe, stop);
    engine.stop();
    if (probeFailed && *probeFailed == kCancelled) {
        run.cancelled = true;
        run.failure = std::string(kCancelled);
        return run;
    }
    // The probe's own steps may fail on a RST from the peer: that is its answer. Only a
    // handshake that did not happen makes the probe a failure.
    const auto snapshot = engine.scenarioSnapshot();
    run.probeHandshake = snapshot.results.size() > kProbeHandshakeSteps;
    for (std::size_t i = 0; run.probeHandshake && i < kProbeHandshakeSteps; ++i)
        run.probeHandshake = snapshot.results[i].status == engine::StepResult::Status::Done;
    if (!run.probeHandshake)
        run.failure = "the bad-segment probe failed before its handshake was done" +
                      (probeFailed ? ": " + *probeFailed : std::string());
    return run;
}

std::vector<CompareSegment> compareSegments(const timeline::Timeline& t, std::size_t begin,
                                            std::size_t end, std::uint16_t port) {
    std::vector<CompareSegment> out;
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

Findings analyse(const LabRun& run) {
    Findings f;
    if (!run.timeline)
        return f;
    using Segment = CompareSegment;
    const auto classic = compareSegments(*run.timeline, 0, run.classicEnd, kCompareClassicPort);
    const auto probe =
        compareSegments(*run.timeline, run.classicEnd, run.timeline->size(), kCompareProbePort);

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

std::vector<DifferenceTopic> differences(const Findings& a, const Findings& b) {
    return {
        {"ISN (the peer's initial sequence number)", a.isnText, b.isnText},
        {"SYN-ACK window and options", a.synAck, b.synAck},
        {"how our data was acknowledged", a.dataAck, b.dataAck},
        {"response segment sizes", a.sizes, b.sizes},
        {"how it closed", a.closing, b.closing},
        {"answer to a segment outside the window", a.badSegment, b.badSegment},
    };
}

bool Comparison::ok() const {
    return !cancelled && std::all_of(runs.begin(), runs.end(), [](const LabRun& r) {
        return r.started && r.failure.empty();
    });
}

int Comparison::differenceCount() const {
    return int(std::count_if(topics.begin(), topics.end(),
                             [](const DifferenceTopic& t) { return !t.sameApartFromTiming(); }));
}

Comparison compareStacks(const CompareOptions& options, std::stop_token stop,
                         const CompareProgress& progress) {
    Comparison c;
    c.options = options;
    const std::array<CompareStack, 2> stacks{CompareStack::Linux, CompareStack::Lwip};
    for (std::size_t i = 0; i < stacks.size(); ++i) {
        if (stop.stop_requested()) {
            c.runs[i].stack = stacks[i];
            c.runs[i].name = std::string(compareStackName(stacks[i]));
            c.runs[i].title = std::string(humanName(stacks[i]));
            c.runs[i].cancelled = true;
            c.runs[i].failure = std::string(kCancelled);
            continue;
        }
        c.runs[i] = runLab(stacks[i], options, stop, progress);
    }
    c.cancelled =
        std::any_of(c.runs.begin(), c.runs.end(), [](const LabRun& r) { return r.cancelled; });
    c.findings[0] = analyse(c.runs[0]);
    c.findings[1] = analyse(c.runs[1]);
    c.topics = differences(c.findings[0], c.findings[1]);
    return c;
}

} // namespace tcplab::lab
