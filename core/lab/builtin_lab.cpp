#include "lab/builtin_lab.h"

#include "lab/helper_process.h"
#include "link/fd_link.h"

#include <linux/nsfs.h>
#include <linux/sockios.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <sstream>
#include <utility>

#include <fmt/format.h>

namespace tcplab::lab {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char* kHelperName = "tcplab-lab-helper";
constexpr const char* kAgentName = "tcplab-peer-agent";
constexpr const char* kAgentWho = "the built-in Linux lab's peer agent";
/// The agent's exit status when it could not enter the lab's namespaces (app/peer_agent).
constexpr int kAgentExitNamespaces = 3;
/// How long the agent may take to end once its channel is closed (or it is told to).
constexpr milliseconds kAgentGrace{500};
constexpr std::size_t kMaxReceivedFds = 16;
constexpr const char* kNamespaceLabCure =
    "build the namespace lab once with 'sudo scripts/tcplab-lab up' and use --iface tcplab0";

LabError ioError(std::string message) {
    return {LabErrorCode::Io, std::move(message)};
}

std::string errnoText(int error) {
    return std::strerror(error);
}

/// The helper's answer: its key=value lines and the fds that came with it.
struct Reply {
    bool ok = false;
    std::map<std::string, std::string> fields;
    std::vector<UniqueFd> fds;

    std::string field(const std::string& key) const {
        const auto it = fields.find(key);
        return it == fields.end() ? std::string{} : it->second;
    }
};

Reply parseReply(const std::string& text) {
    Reply reply;
    std::istringstream lines(text);
    std::string line;
    bool first = true;
    while (std::getline(lines, line)) {
        if (first) {
            reply.ok = line == "ok";
            first = false;
            continue;
        }
        const auto eq = line.find('=');
        if (eq != std::string::npos)
            reply.fields[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return reply;
}

/// Runs the helper with `args`, hands it `extraFds` as fds 4, 5, ..., and waits for its
/// one answer within `timeout`. The helper is always reaped before this returns.
tl::expected<Reply, LabError> runHelper(const std::string& helper,
                                        const std::vector<std::string>& args,
                                        const std::vector<int>& extraFds, milliseconds timeout) {
    auto process = spawnHelper(
        helper, args, extraFds,
        {"the built-in Linux lab", fmt::format(" (reinstall tcplab, or {})", kNamespaceLabCure)});
    if (!process)
        return tl::make_unexpected(process.error());
    UniqueFd ours = std::move(process->channel);

    // One datagram, bounded in time. EOF (the helper ended without answering) and a
    // time-out both end here too.
    HelperDatagram datagram = receiveFromHelper(ours.get(), timeout, 8192, kMaxReceivedFds);
    const bool answered = datagram.received && !datagram.truncated;
    const bool timedOut = datagram.timedOut;
    std::string text = std::move(datagram.text);
    if (datagram.received && !answered)
        text = "answer cut short";
    std::vector<UniqueFd> fds = std::move(datagram.fds);
    ours.reset();
    const auto status = reapHelper(process->pid, !answered);

    if (timedOut)
        return tl::make_unexpected(LabError{
            LabErrorCode::Timeout,
            fmt::format("the built-in Linux lab did not start: its helper {} did not answer "
                        "within {} ms and was stopped; try again, or {}",
                        helper, timeout.count(), kNamespaceLabCure)});
    if (!answered)
        return tl::make_unexpected(LabError{
            text.empty() ? LabErrorCode::HelperCrashed : LabErrorCode::Protocol,
            fmt::format("the built-in Linux lab did not start: its helper {} {} without an "
                        "answer{}; reinstall tcplab if this persists, or {}",
                        helper, status ? statusText(*status) : "ended",
                        text.empty() ? "" : " (" + text + ")", kNamespaceLabCure)});
    Reply reply = parseReply(text);
    reply.fds = std::move(fds);
    return reply;
}

/// The error the helper reported, as one sentence with its cure.
LabError helperError(const Reply& reply) {
    const std::string kind = reply.field("kind");
    const std::string detail = reply.field("message");
    if (kind == "userns") {
        const std::string diagnosis = userNamespaceDiagnosis();
        return {LabErrorCode::UserNamespacesRefused,
                fmt::format("the built-in Linux lab needs unprivileged user namespaces, which "
                            "this system refuses ({}){}; {}{}, or use the embedded peer (--lab "
                            "lwip), which needs none",
                            detail, diagnosis.empty() ? "" : ": " + diagnosis,
                            diagnosis.empty() ? "" : "otherwise ", kNamespaceLabCure)};
    }
    if (kind == "sysctl")
        return {LabErrorCode::SettingRefused, detail};
    if (kind == "usage")
        return {LabErrorCode::Protocol,
                fmt::format("the built-in Linux lab's helper does not understand tcplab ({}): "
                            "it belongs to another version; reinstall tcplab",
                            detail)};
    return {LabErrorCode::SetupFailed,
            fmt::format("the built-in Linux lab could not be built: {}; {}", detail,
                        kNamespaceLabCure)};
}

std::vector<std::string> settingArgs(const TcpSettings& s) {
    std::vector<std::string> args;
    const auto add = [&args](const char* key, const std::string& value) {
        args.emplace_back("--sysctl");
        args.push_back(fmt::format("{}={}", key, value));
    };
    if (s.sack)
        add("tcp_sack", *s.sack ? "1" : "0");
    if (s.timestamps)
        add("tcp_timestamps", *s.timestamps ? "1" : "0");
    if (s.windowScaling)
        add("tcp_window_scaling", *s.windowScaling ? "1" : "0");
    if (s.ecn)
        add("tcp_ecn", std::to_string(*s.ecn));
    if (s.syncookies)
        add("tcp_syncookies", std::to_string(*s.syncookies));
    if (s.congestionControl)
        add("tcp_congestion_control", *s.congestionControl);
    return args;
}

/// Checks settings before they reach a helper: the kernel's errors are less clear.
std::optional<LabError> invalidSetting(const TcpSettings& s) {
    const auto bad = [](std::string what) {
        return LabError{LabErrorCode::SettingRefused, std::move(what)};
    };
    if (s.ecn && (*s.ecn < 0 || *s.ecn > 2))
        return bad(fmt::format("tcp_ecn takes 0 (off), 1 (request and accept) or 2 (accept "
                               "only), not {}",
                               *s.ecn));
    if (s.syncookies && (*s.syncookies < 0 || *s.syncookies > 2))
        return bad(fmt::format("tcp_syncookies takes 0 (never), 1 (on SYN flood) or 2 "
                               "(always), not {}",
                               *s.syncookies));
    if (s.congestionControl) {
        const std::string& cc = *s.congestionControl;
        const bool ok =
            !cc.empty() && cc.size() <= 16 &&
            cc.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-") == std::string::npos;
        if (!ok)
            return bad(fmt::format("'{}' is not the name of a congestion control algorithm", cc));
    }
    return std::nullopt;
}

std::vector<std::string> words(const std::string& text) {
    std::vector<std::string> list;
    std::istringstream in(text);
    std::string w;
    while (in >> w)
        list.push_back(w);
    return list;
}

/// The settings from a helper's "tcp.KEY=VALUE" lines.
TcpSettingsState settingsFrom(const Reply& reply) {
    TcpSettingsState state;
    const auto number = [&reply](const char* key) -> std::optional<int> {
        const std::string value = reply.field(std::string("tcp.") + key);
        if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos)
            return std::nullopt;
        return std::stoi(value);
    };
    const auto flag = [&number](const char* key) -> std::optional<bool> {
        const auto n = number(key);
        return n ? std::optional<bool>(*n != 0) : std::nullopt;
    };
    state.current.sack = flag("tcp_sack");
    state.current.timestamps = flag("tcp_timestamps");
    state.current.windowScaling = flag("tcp_window_scaling");
    state.current.ecn = number("tcp_ecn");
    state.current.syncookies = number("tcp_syncookies");
    if (const auto cc = reply.field("tcp.tcp_congestion_control"); !cc.empty())
        state.current.congestionControl = cc;
    state.allowedCongestionControl = words(reply.field("tcp.allowed_congestion_control"));
    state.availableCongestionControl = words(reply.field("tcp.available_congestion_control"));
    return state;
}

/// The user namespace and the network namespace `socket` lives in. They are found through
/// a socket that lives in them, so no name, mount or process is needed to re-enter them.
tl::expected<std::pair<UniqueFd, UniqueFd>, LabError> peerNamespaces(int socket) {
    UniqueFd netns(::ioctl(socket, SIOCGSKNS));
    if (netns.get() < 0)
        return tl::make_unexpected(ioError(fmt::format(
            "cannot find the built-in lab's network namespace (SIOCGSKNS): {}", errnoText(errno))));
    UniqueFd userns(::ioctl(netns.get(), NS_GET_USERNS));
    if (userns.get() < 0)
        return tl::make_unexpected(
            ioError(fmt::format("cannot find the built-in lab's user namespace (NS_GET_USERNS): {}",
                                errnoText(errno))));
    return std::pair{std::move(userns), std::move(netns)};
}

std::string kernelRelease() {
    utsname u{};
    return ::uname(&u) == 0 ? std::string(u.release) : std::string("?");
}

} // namespace

bool TcpSettings::empty() const noexcept {
    return !sack && !timestamps && !windowScaling && !ecn && !syncookies && !congestionControl;
}

struct BuiltinLinuxLab::State {
    std::string helper;
    milliseconds timeout{};
    LabAddresses addresses;
    std::unique_ptr<link::Link> link;
    std::vector<UniqueFd> listenerFds;
    std::vector<LabListener> listeners;
    std::unique_ptr<PeerApp> peerApp; ///< declared after the listeners: destroyed first
    std::chrono::nanoseconds startupTime{};
    milliseconds linkWait{};
    TcpSettingsState tcp;
    std::unique_ptr<peer::AgentClient> agent; ///< nullptr once taken
    pid_t agentPid = -1;
    std::string agentError;
    std::chrono::nanoseconds agentStartupTime{};

    ~State() {
        peerApp.reset();
        stopAgent();
    }

    /// The agent ends when its channel closes; if someone else holds the channel, it is
    /// told to (SIGTERM). Either way it is reaped, killed if it takes longer than kAgentGrace.
    void stopAgent() {
        if (agentPid < 0)
            return;
        const bool held = agent != nullptr;
        agent.reset();
        if (!held)
            ::kill(agentPid, SIGTERM);
        reapHelper(agentPid, false, kAgentGrace);
        agentPid = -1;
    }
};

BuiltinLinuxLab::BuiltinLinuxLab(std::unique_ptr<State> state)
    : m(std::move(state)) {}
BuiltinLinuxLab::~BuiltinLinuxLab() = default;
BuiltinLinuxLab::BuiltinLinuxLab(BuiltinLinuxLab&&) noexcept = default;
BuiltinLinuxLab& BuiltinLinuxLab::operator=(BuiltinLinuxLab&&) noexcept = default;

link::Link* BuiltinLinuxLab::link() const noexcept {
    return m->link.get();
}
std::unique_ptr<link::Link> BuiltinLinuxLab::takeLink() noexcept {
    return std::move(m->link);
}
const LabAddresses& BuiltinLinuxLab::addresses() const noexcept {
    return m->addresses;
}
const std::vector<LabListener>& BuiltinLinuxLab::listeners() const noexcept {
    return m->listeners;
}
PeerApp* BuiltinLinuxLab::peerApp() const noexcept {
    return m->peerApp.get();
}
std::chrono::nanoseconds BuiltinLinuxLab::startupTime() const noexcept {
    return m->startupTime;
}
milliseconds BuiltinLinuxLab::linkWait() const noexcept {
    return m->linkWait;
}
const TcpSettingsState& BuiltinLinuxLab::tcpSettings() const noexcept {
    return m->tcp;
}
std::chrono::nanoseconds BuiltinLinuxLab::agentStartupTime() const noexcept {
    return m->agentStartupTime;
}
peer::AgentClient* BuiltinLinuxLab::agent() const noexcept {
    return m->agent.get();
}
std::unique_ptr<peer::AgentClient> BuiltinLinuxLab::takeAgent() noexcept {
    return std::move(m->agent);
}
const std::string& BuiltinLinuxLab::agentError() const noexcept {
    return m->agentError;
}

tl::expected<void, LabError>
BuiltinLinuxLab::runPeerApp(const std::map<std::uint16_t, PeerService>& services,
                            PeerAppOptions options) {
    m->peerApp.reset();
    std::vector<PeerListener> listeners;
    for (auto& l : m->listeners) {
        const auto it = services.find(l.port);
        l.service = it == services.end() ? PeerService::Http : it->second;
        listeners.push_back({l.fd, l.port, l.service});
    }
    auto app = PeerApp::start(std::move(listeners), std::move(options));
    if (!app)
        return tl::make_unexpected(app.error());
    m->peerApp = std::move(*app);
    return {};
}

void BuiltinLinuxLab::stopPeerApp() {
    m->peerApp.reset();
}

tl::expected<TcpSettingsState, LabError>
BuiltinLinuxLab::applyTcpSettings(const TcpSettings& settings) {
    if (auto bad = invalidSetting(settings))
        return tl::make_unexpected(*bad);
    if (m->listeners.empty())
        return tl::make_unexpected(ioError(
            "the built-in Linux lab has no listening socket left to find its namespace by"));
    auto namespaces = peerNamespaces(m->listeners.front().fd);
    if (!namespaces)
        return tl::make_unexpected(namespaces.error());
    const auto& [userns, netns] = *namespaces;
    std::vector<std::string> args{"tcp-settings"};
    const auto more = settingArgs(settings);
    args.insert(args.end(), more.begin(), more.end());
    auto reply = runHelper(m->helper, args, {userns.get(), netns.get()}, m->timeout);
    if (!reply)
        return tl::make_unexpected(reply.error());
    if (!reply->ok)
        return tl::make_unexpected(helperError(*reply));
    m->tcp = settingsFrom(*reply);
    return m->tcp;
}

std::string BuiltinLinuxLab::description() const {
    std::string ports;
    for (const auto& l : m->listeners)
        ports += fmt::format("{}port {} {}", ports.empty() ? "" : ", ", l.port,
                             m->peerApp ? serviceName(l.service) : "not served");
    const std::string agent = m->agentPid >= 0 ? fmt::format("peer agent: pid {}", m->agentPid)
                                               : fmt::format("no peer agent: {}", m->agentError);
    return fmt::format("built-in Linux lab (kernel {}): peer {}, {} on {}; {}; {}", kernelRelease(),
                       m->addresses.peer4.toString(), m->addresses.peer6.toString(),
                       m->addresses.interfaceName, ports, agent);
}

tl::expected<std::string, LabError> findLabHelper(const std::string& configured) {
    if (!configured.empty()) {
        if (isExecutable(configured))
            return configured;
        return tl::make_unexpected(
            LabError{LabErrorCode::HelperMissing,
                     fmt::format("the built-in Linux lab cannot start: its helper {} {}; reinstall "
                                 "tcplab, or {}",
                                 configured, whyNotExecutable(configured), kNamespaceLabCure)});
    }
    if (const char* env = std::getenv("TCPLAB_LAB_HELPER"); env && *env)
        return findLabHelper(env);
    const HelperSearch search = searchHelper(kHelperName);
    if (search.found)
        return *search.found;
    return tl::make_unexpected(LabError{
        LabErrorCode::HelperMissing,
        fmt::format("the built-in Linux lab cannot start: its helper {} is in none of "
                    "{} (reinstall tcplab, or name it with TCPLAB_LAB_HELPER=/path/to/{}); "
                    "meanwhile {}",
                    kHelperName, search.tried, kHelperName, kNamespaceLabCure)});
}

tl::expected<std::string, LabError> findPeerAgent(const std::string& configured) {
    if (!configured.empty()) {
        if (isExecutable(configured))
            return configured;
        return tl::make_unexpected(LabError{LabErrorCode::HelperMissing,
                                            fmt::format("{} {} {}: reinstall tcplab", kAgentWho,
                                                        configured, whyNotExecutable(configured))});
    }
    if (const char* env = std::getenv("TCPLAB_PEER_AGENT"); env && *env)
        return findPeerAgent(env);
    const HelperSearch search = searchHelper(kAgentName);
    if (search.found)
        return *search.found;
    return tl::make_unexpected(
        LabError{LabErrorCode::HelperMissing,
                 fmt::format("{} {} is in none of {}: reinstall tcplab, or name it with "
                             "TCPLAB_PEER_AGENT=/path/to/{}",
                             kAgentWho, kAgentName, search.tried, kAgentName)});
}

namespace {

/// The peer agent as startAgent() left it: running (client and pid), or why not.
struct AgentStart {
    std::unique_ptr<peer::AgentClient> client;
    pid_t pid = -1;
    std::string error;
    std::chrono::nanoseconds time{};
};

/// Spawns the agent into the namespaces `listener` lives in and waits (within the lab's
/// timeout) for its Hello. A failure leaves the lab without an agent and says why.
AgentStart startAgent(int listener, const LabOptions& options) {
    const auto started = Clock::now();
    AgentStart a;
    const auto noAgent = [&a](const std::string& why) {
        a.error = fmt::format("the built-in Linux lab has no peer agent, so no peer calls (the "
                              "lab works without them): {}",
                              why);
        return std::move(a);
    };
    if (!options.agent) {
        a.error = "the built-in Linux lab was started without its peer agent (LabOptions::agent "
                  "is false)";
        return a;
    }
    auto path = findPeerAgent(options.agentPath);
    if (!path)
        return noAgent(path.error().message);
    auto namespaces = peerNamespaces(listener);
    if (!namespaces)
        return noAgent(namespaces.error().message);
    auto process = spawnHelper(*path, {"--enter-namespaces"},
                               {namespaces->first.get(), namespaces->second.get()},
                               {kAgentWho, "; reinstall tcplab"});
    namespaces->first.reset();
    namespaces->second.reset();
    if (!process)
        return noAgent(process.error().message);
    const pid_t pid = process->pid;
    auto client = peer::AgentClient::adopt(process->channel.release(), kAgentWho);
    tl::expected<peer::Hello, std::string> hello =
        client ? (*client)->waitHello(options.timeout) : tl::make_unexpected(client.error());
    if (!hello) {
        if (client)
            client->reset(); // its channel closed: an agent that is up ends at once
        const auto status = reapHelper(pid, false, kAgentGrace);
        const bool namespacesRefused =
            status && WIFEXITED(*status) && WEXITSTATUS(*status) == kAgentExitNamespaces;
        return noAgent(fmt::format("{}{}; reinstall tcplab if this persists", hello.error(),
                                   namespacesRefused ? " (it could not enter the lab's namespaces)"
                                   : status          ? fmt::format(" (it {})", statusText(*status))
                                                     : std::string()));
    }
    a.client = std::move(*client);
    a.pid = pid;
    a.time = Clock::now() - started;
    return a;
}

} // namespace

tl::expected<BuiltinLinuxLab, LabError> startLinuxLab(const LabOptions& options) {
    const auto started = Clock::now();
    if (options.ports.empty() || options.ports.size() > 8)
        return tl::make_unexpected(ioError(fmt::format(
            "the built-in Linux lab listens on 1 to 8 ports, not {}", options.ports.size())));
    if (auto bad = invalidSetting(options.tcp))
        return tl::make_unexpected(*bad);
    auto helper = findLabHelper(options.helperPath);
    if (!helper)
        return tl::make_unexpected(helper.error());

    std::vector<std::string> args{"setup"};
    for (const auto port : options.ports) {
        args.emplace_back("--port");
        args.push_back(std::to_string(port));
    }
    const auto more = settingArgs(options.tcp);
    args.insert(args.end(), more.begin(), more.end());

    auto reply = runHelper(*helper, args, {}, options.timeout);
    if (!reply)
        return tl::make_unexpected(reply.error());
    if (!reply->ok)
        return tl::make_unexpected(helperError(*reply));
    if (reply->field("version") != "1" || reply->fds.size() != 1 + options.ports.size())
        return tl::make_unexpected(LabError{
            LabErrorCode::Protocol,
            fmt::format("the built-in Linux lab's helper {} answered with {} fds and version "
                        "'{}' where {} fds and version 1 were expected: it belongs to another "
                        "version; reinstall tcplab",
                        *helper, reply->fds.size(), reply->field("version"),
                        1 + options.ports.size())});

    auto state = std::make_unique<BuiltinLinuxLab::State>();
    state->helper = *helper;
    state->timeout = options.timeout;
    LabAddresses& a = state->addresses;
    a.peer4 = wire::Ipv4Address::fromUint(0xC6120001); // 198.18.0.1
    a.phantom4 = wire::Ipv4Address::fromUint(0xC6120002);
    a.peer6 = *wire::Ipv6Address::parse("2001:db8::1");
    a.phantom6 = *wire::Ipv6Address::parse("2001:db8::2");
    a.peerMac = wire::MacAddress::parse(reply->field("peer_mac")).value_or(wire::MacAddress{});
    a.interfaceName = reply->field("phantom_if");
    a.peerInterfaceName = reply->field("peer_if");
    if (const std::string mtu = reply->field("link_mtu"); !mtu.empty())
        a.linkMtu = static_cast<unsigned>(std::strtoul(mtu.c_str(), nullptr, 10));
    state->linkWait = milliseconds(std::atoll(reply->field("link_wait_ms").c_str()));
    state->tcp = settingsFrom(*reply);

    auto link = link::FdLink::adopt(
        reply->fds[0].release(),
        fmt::format("AF_PACKET on {} of the built-in Linux lab", a.interfaceName));
    if (!link)
        return tl::make_unexpected(ioError(
            fmt::format("the built-in Linux lab's link cannot be used: {}", link.error().message)));
    state->link = std::move(*link);
    for (std::size_t i = 0; i < options.ports.size(); ++i) {
        const auto it = options.services.find(options.ports[i]);
        state->listeners.push_back({options.ports[i], reply->fds[1 + i].get(),
                                    it == options.services.end() ? PeerService::Http : it->second});
        state->listenerFds.push_back(std::move(reply->fds[1 + i]));
    }

    if (state->listeners.empty()) {
        state->agentError = "the built-in Linux lab has no listening socket to find its "
                            "namespaces by, so no peer agent";
    } else {
        AgentStart agent = startAgent(state->listeners.front().fd, options);
        state->agent = std::move(agent.client);
        state->agentPid = agent.pid;
        state->agentError = std::move(agent.error);
        state->agentStartupTime = agent.time;
    }
    BuiltinLinuxLab lab(std::move(state));
    if (options.runPeerApp) {
        if (auto run = lab.runPeerApp(options.services, options.peerApp); !run)
            return tl::make_unexpected(run.error());
    }
    lab.m->startupTime = Clock::now() - started;
    return lab;
}

} // namespace tcplab::lab
