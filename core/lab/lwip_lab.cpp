#include "lab/lwip_lab.h"

#include "lab/helper_process.h"
#include "link/fd_link.h"
#include "wire/arp.h"
#include "wire/bytes.h"
#include "wire/icmpv6.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <random>
#include <sstream>
#include <utility>

#include <fmt/format.h>

namespace tcplab::lab {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char* kHelperName = "tcplab-lwip-helper";
constexpr const char* kProtocolVersion = "1";
LabError ioError(std::string message) {
    return {LabErrorCode::Io, std::move(message)};
}

/// The helper's answer: "tcplab-lwip-helper", "ok"/"error", then key=value lines.
struct Answer {
    bool recognised = false;
    bool ok = false;
    std::map<std::string, std::string> fields;

    std::string field(const std::string& key) const {
        const auto it = fields.find(key);
        return it == fields.end() ? std::string{} : it->second;
    }
};

Answer parseAnswer(const std::string& text) {
    Answer answer;
    std::istringstream lines(text);
    std::string line;
    int index = 0;
    while (std::getline(lines, line)) {
        if (index == 0)
            answer.recognised = line == kHelperName;
        else if (index == 1)
            answer.ok = line == "ok";
        else if (const auto eq = line.find('='); eq != std::string::npos)
            answer.fields[line.substr(0, eq)] = line.substr(eq + 1);
        ++index;
    }
    return answer;
}

const char* serviceArg(PeerService service) {
    switch (service) {
    case PeerService::Discard:
        return "discard";
    case PeerService::Echo:
        return "echo";
    case PeerService::Http:
        break;
    }
    return "http";
}

constexpr const char* kCure = "reinstall tcplab (the package installs tcplab-lwip-helper), or name "
                              "it with TCPLAB_LWIP_HELPER=/path/to/tcplab-lwip-helper";

} // namespace

struct BuiltinLwipLab::State {
    pid_t pid = -1;
    std::string helper;
    std::string version;
    LabAddresses addresses;
    std::vector<LabListener> listeners;
    std::unique_ptr<link::Link> link;
    std::chrono::nanoseconds startupTime{};
    bool virtualClock = false;
    std::unique_ptr<peer::AgentClient> agent;
    std::string agentError;

    ~State() {
        if (pid > 0)
            reapHelper(pid, true);
    }
};

BuiltinLwipLab::BuiltinLwipLab(std::unique_ptr<State> state)
    : m(std::move(state)) {}
BuiltinLwipLab::~BuiltinLwipLab() = default;
BuiltinLwipLab::BuiltinLwipLab(BuiltinLwipLab&&) noexcept = default;
BuiltinLwipLab& BuiltinLwipLab::operator=(BuiltinLwipLab&&) noexcept = default;

link::Link* BuiltinLwipLab::link() const noexcept {
    return m->link.get();
}
std::unique_ptr<link::Link> BuiltinLwipLab::takeLink() noexcept {
    return std::move(m->link);
}
const LabAddresses& BuiltinLwipLab::addresses() const noexcept {
    return m->addresses;
}
const std::vector<LabListener>& BuiltinLwipLab::listeners() const noexcept {
    return m->listeners;
}
pid_t BuiltinLwipLab::helperPid() const noexcept {
    return m->pid;
}
const std::string& BuiltinLwipLab::lwipVersion() const noexcept {
    return m->version;
}
std::chrono::nanoseconds BuiltinLwipLab::startupTime() const noexcept {
    return m->startupTime;
}

peer::AgentClient* BuiltinLwipLab::agent() const noexcept {
    return m->agent.get();
}
std::unique_ptr<peer::AgentClient> BuiltinLwipLab::takeAgent() noexcept {
    return std::move(m->agent);
}
const std::string& BuiltinLwipLab::agentError() const noexcept {
    return m->agentError;
}

bool BuiltinLwipLab::virtualClock() const noexcept {
    return m->virtualClock;
}

tl::expected<void, LabError> BuiltinLwipLab::advanceClock(std::chrono::milliseconds by) {
    if (!m->virtualClock)
        return tl::make_unexpected(ioError("the built-in lwIP lab runs on real time: start it "
                                           "with a virtual clock to advance its clock"));
    if (!m->link)
        return tl::make_unexpected(ioError("the built-in lwIP lab's link was handed over: send "
                                           "lwipClockFrame() on it to advance the clock"));
    if (by.count() < 0 || by > std::chrono::minutes(10))
        return tl::make_unexpected(ioError(fmt::format(
            "the lwIP clock advances by 0 to 600000 ms at a time, not {} ms", by.count())));
    const auto frame = lwipClockFrame(m->addresses.peerMac, by);
    if (auto sent = m->link->send(wire::Bytes(frame)); !sent)
        return tl::make_unexpected(
            ioError(fmt::format("cannot advance the lwIP peer's clock: {}", sent.error().message)));
    return {};
}

std::vector<std::uint8_t> lwipClockFrame(const wire::MacAddress& peerMac,
                                         std::chrono::milliseconds by) {
    constexpr std::string_view kMagic = "tcplab-lwip-clock";
    // Source: a locally administered address of no one (the helper does not look).
    const std::array<std::uint8_t, 6> source{0x02, 0, 0, 0, 0, 0};
    // 6 + 6 + 2 + magic + 4 bytes, padded to the Ethernet minimum of 60. Written by
    // offset into a sized buffer (push_back chains trip g++ 12's -Warray-bounds).
    static_assert(14 + kMagic.size() + 4 <= 60);
    std::vector<std::uint8_t> frame(60, 0);
    std::copy(peerMac.octets.begin(), peerMac.octets.end(), frame.begin());
    std::copy(source.begin(), source.end(), frame.begin() + 6);
    frame[12] = 0x88;
    frame[13] = 0xb5;
    std::copy(kMagic.begin(), kMagic.end(), frame.begin() + 14);
    const auto ms = static_cast<std::uint32_t>(std::clamp<long long>(by.count(), 0, 0xffffffffLL));
    wire::store32(frame.data() + 14 + kMagic.size(), ms);
    return frame;
}

std::string BuiltinLwipLab::description() const {
    std::string ports;
    for (const auto& l : m->listeners)
        ports +=
            fmt::format("{}port {} {}", ports.empty() ? "" : ", ", l.port, serviceName(l.service));
    return fmt::format("built-in lwIP lab (lwIP {}{}): peer {}, {}; {}", m->version,
                       m->virtualClock ? ", virtual clock" : "", m->addresses.peer4.toString(),
                       m->addresses.peer6.toString(), ports);
}

tl::expected<std::string, LabError> findLwipHelper(const std::string& configured) {
    if (!configured.empty()) {
        if (isExecutable(configured))
            return configured;
        return tl::make_unexpected(
            LabError{LabErrorCode::HelperMissing,
                     fmt::format("the built-in lwIP lab cannot start: its helper {} {}; {}",
                                 configured, whyNotExecutable(configured), kCure)});
    }
    if (const char* env = std::getenv("TCPLAB_LWIP_HELPER"); env && *env)
        return findLwipHelper(env);
    const HelperSearch search = searchHelper(kHelperName);
    if (search.found)
        return *search.found;
    return tl::make_unexpected(LabError{
        LabErrorCode::HelperMissing,
        fmt::format("the built-in lwIP lab cannot start: its helper {} is in none of {} (tcplab "
                    "was built without liblwip-dev, or not installed); {}",
                    kHelperName, search.tried, kCure)});
}

tl::expected<BuiltinLwipLab, LabError> startLwipLab(const LwipLabOptions& options) {
    const auto started = Clock::now();
    if (options.ports.empty() || options.ports.size() > 8)
        return tl::make_unexpected(ioError(fmt::format(
            "the built-in lwIP lab listens on 1 to 8 ports, not {}", options.ports.size())));
    for (const auto port : options.ports)
        if (port == 0)
            return tl::make_unexpected(ioError("the built-in lwIP lab cannot listen on port 0"));
    auto helper = findLwipHelper(options.helperPath);
    if (!helper)
        return tl::make_unexpected(helper.error());

    wire::MacAddress mac;
    if (options.peerMac) {
        mac = *options.peerMac;
    } else {
        std::random_device device;
        for (auto& octet : mac.octets)
            octet = static_cast<std::uint8_t>(device());
        mac.octets[0] = static_cast<std::uint8_t>((mac.octets[0] & 0xfc) | 0x02);
    }
    if (mac.isMulticast() || mac.isZero())
        return tl::make_unexpected(ioError(fmt::format(
            "the built-in lwIP lab's peer needs a unicast MAC address, not {}", mac.toString())));

    LabAddresses a;
    a.peer4 = wire::Ipv4Address::fromUint(0xC6120001); // 198.18.0.1
    a.phantom4 = wire::Ipv4Address::fromUint(0xC6120002);
    a.peer6 = *wire::Ipv6Address::parse("2001:db8::1");
    a.phantom6 = *wire::Ipv6Address::parse("2001:db8::2");
    a.peerMac = mac;

    std::vector<std::string> args{"--mac",  mac.toString(),
                                  "--ipv4", fmt::format("{}/{}", a.peer4.toString(), a.prefix4),
                                  "--ipv6", fmt::format("{}/{}", a.peer6.toString(), a.prefix6)};
    std::vector<LabListener> listeners;
    for (const auto port : options.ports) {
        const auto it = options.services.find(port);
        const PeerService service = it == options.services.end() ? PeerService::Http : it->second;
        listeners.push_back({port, -1, service});
        args.emplace_back("--port");
        args.push_back(fmt::format("{}:{}", port, serviceArg(service)));
    }
    if (options.virtualClock)
        args.emplace_back("--virtual-clock");

    // The agent's channel: the helper's fd 4. Without it the lab still works.
    UniqueFd agentOurs;
    UniqueFd agentTheirs;
    std::string agentError;
    if (options.agent) {
        int pair[2] = {-1, -1};
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) == 0) {
            agentOurs = UniqueFd(pair[0]);
            agentTheirs = UniqueFd(pair[1]);
            args.emplace_back("--agent");
        } else {
            agentError = fmt::format("the built-in lwIP lab's peer agent cannot start: "
                                     "socketpair: {}",
                                     std::strerror(errno));
        }
    }
    std::vector<int> extraFds;
    if (agentTheirs.get() >= 0)
        extraFds.push_back(agentTheirs.get());

    auto process =
        spawnHelper(*helper, args, extraFds, {"the built-in lwIP lab", fmt::format("; {}", kCure)});
    agentTheirs.reset();
    if (!process)
        return tl::make_unexpected(process.error());
    const pid_t pid = process->pid;
    UniqueFd ours = std::move(process->channel);

    // The first datagram is the helper's answer; EOF or the time-out end the wait too.
    const HelperDatagram datagram = receiveFromHelper(ours.get(), options.timeout, 4096, 0);
    const std::string& text = datagram.text;
    const bool answered = datagram.received;
    const bool timedOut = datagram.timedOut;
    const Answer answer = parseAnswer(text);
    if (timedOut || !answered || !answer.recognised || !answer.ok) {
        // A helper that ended by itself is reaped for its status; any other is stopped.
        const auto status = reapHelper(pid, timedOut || answered);
        if (timedOut)
            return tl::make_unexpected(
                LabError{LabErrorCode::Timeout,
                         fmt::format("the built-in lwIP lab did not start: its helper {} did "
                                     "not answer within {} ms and was stopped; try again",
                                     *helper, options.timeout.count())});
        if (!answered)
            return tl::make_unexpected(LabError{
                LabErrorCode::HelperCrashed,
                fmt::format("the built-in lwIP lab did not start: its helper {} {} without an "
                            "answer; {}",
                            *helper, status ? statusText(*status) : "ended", kCure)});
        if (!answer.recognised)
            return tl::make_unexpected(
                LabError{LabErrorCode::Protocol,
                         fmt::format("the built-in lwIP lab did not start: {} is not tcplab's lwIP "
                                     "helper (it answered '{}'); {}",
                                     *helper, text.substr(0, text.find('\n')), kCure)});
        return tl::make_unexpected(LabError{
            answer.field("message").starts_with("usage:") ? LabErrorCode::Protocol
                                                          : LabErrorCode::SetupFailed,
            fmt::format("the built-in lwIP lab could not be built: {}", answer.field("message"))});
    }
    if (answer.field("version") != kProtocolVersion) {
        reapHelper(pid, true);
        return tl::make_unexpected(LabError{
            LabErrorCode::Protocol,
            fmt::format("the built-in lwIP lab's helper {} speaks version '{}' where {} was "
                        "expected: it belongs to another version of tcplab; {}",
                        *helper, answer.field("version"), kProtocolVersion, kCure)});
    }

    auto state = std::make_unique<BuiltinLwipLab::State>();
    state->pid = pid; // from here on the state kills and reaps it
    state->helper = *helper;
    state->version = answer.field("lwip");
    state->addresses = a;
    state->virtualClock = options.virtualClock;
    state->listeners = std::move(listeners);
    auto link = link::FdLink::adopt(
        ours.release(), fmt::format("SOCK_SEQPACKET to the built-in lwIP peer (pid {})", pid));
    if (!link)
        return tl::make_unexpected(ioError(
            fmt::format("the built-in lwIP lab's link cannot be used: {}", link.error().message)));
    state->link = std::move(*link);
    if (agentOurs.get() >= 0) {
        // The Hello follows the helper's answer at once; the start's timeout bounds it.
        const auto left = std::max(
            milliseconds(100),
            options.timeout - std::chrono::duration_cast<milliseconds>(Clock::now() - started));
        auto client = peer::AgentClient::adopt(
            agentOurs.release(), fmt::format("the built-in lwIP lab's peer agent (pid {})", pid));
        if (!client) {
            agentError = client.error();
        } else if (auto hello = (*client)->waitHello(left); !hello) {
            agentError = hello.error();
        } else if (hello->stack != "lwip") {
            agentError = fmt::format("the built-in lwIP lab's peer agent says it runs '{}', not "
                                     "lwIP; {}",
                                     hello->stack, kCure);
        } else {
            state->agent = std::move(*client);
        }
    }
    state->agentError = std::move(agentError);
    state->startupTime = Clock::now() - started;
    return BuiltinLwipLab(std::move(state));
}

std::optional<std::string> lwipStartupNoise(const wire::Frame& frame,
                                            const wire::MacAddress& peerMac) {
    if (frame.ethernet.src != peerMac)
        return std::nullopt;
    if (const auto* arp = frame.arp()) {
        if (arp->senderIp == arp->targetIp)
            return std::string("lwIP start-up: gratuitous ARP");
        return std::nullopt;
    }
    const auto* ip = frame.ipv6();
    if (!ip || !frame.ethernet.dst.isMulticast())
        return std::nullopt;
    if (const auto* icmp = frame.icmpv6()) {
        if (icmp->type == wire::icmpv6_type::kRouterSolicitation)
            return std::string("lwIP start-up: router solicitation");
        if (icmp->type == wire::icmpv6_type::kNeighborSolicitation && ip->src.isUnspecified())
            return std::string("lwIP start-up: duplicate address detection");
        if (icmp->type == 131 || icmp->type == 143) // MLDv1 / MLDv2 report
            return std::string("lwIP start-up: MLD report");
        return std::nullopt;
    }
    // MLD travels behind a hop-by-hop header (router alert, RFC 2711).
    if (ip->nextHeader && *ip->nextHeader == 0)
        return std::string("lwIP start-up: MLD report");
    return std::nullopt;
}

} // namespace tcplab::lab
