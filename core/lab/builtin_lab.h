#pragma once

#include "lab/lab_error.h"
#include "lab/peer_app.h"
#include "link/link.h"
#include "peer/agent_client.h"
#include "wire/address.h"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

namespace tcplab::lab {

/// The peer kernel's TCP settings: sysctls of the peer's own network namespace, so
/// changing them touches nothing else on the system. Empty fields are left as they are.
/// They apply to connections made afterwards.
struct TcpSettings {
    std::optional<bool> sack;          ///< net.ipv4.tcp_sack (RFC 2018)
    std::optional<bool> timestamps;    ///< net.ipv4.tcp_timestamps (RFC 7323)
    std::optional<bool> windowScaling; ///< net.ipv4.tcp_window_scaling (RFC 7323)
    /// net.ipv4.tcp_ecn (RFC 3168): 0 off, 1 asks for it and accepts it, 2 only accepts it.
    std::optional<int> ecn;
    /// net.ipv4.tcp_syncookies: 0 never, 1 when the SYN queue overflows, 2 always.
    std::optional<int> syncookies;
    /// net.ipv4.tcp_congestion_control: one of TcpSettingsState::allowedCongestionControl.
    std::optional<std::string> congestionControl;

    bool empty() const noexcept;
    friend bool operator==(const TcpSettings&, const TcpSettings&) = default;
};

/// The settings in force in the peer's namespace (every field set) and the choices.
struct TcpSettingsState {
    TcpSettings current;
    /// Algorithms a namespace other than the host's may choose.
    std::vector<std::string> allowedCongestionControl;
    /// Algorithms the kernel has loaded.
    std::vector<std::string> availableCongestionControl;
};

/// Who is who in the lab: the peer's addresses are fixed, the phantom's are a
/// suggestion (any other free address of the two subnets works).
struct LabAddresses {
    wire::Ipv4Address peer4;       ///< 198.18.0.1
    unsigned prefix4 = 24;         ///< 198.18.0.0/24
    wire::Ipv6Address peer6;       ///< 2001:db8::1
    unsigned prefix6 = 64;         ///< 2001:db8::/64
    wire::Ipv4Address phantom4;    ///< 198.18.0.2
    wire::Ipv6Address phantom6;    ///< 2001:db8::2
    wire::MacAddress peerMac;      ///< the MAC of the peer's end of the veth
    std::string interfaceName;     ///< "tcplab0": the phantom's end, in the lab's namespace
    std::string peerInterfaceName; ///< "tcplab0p": the peer's end, in the peer's namespace
    /// The veth's MTU (65535: a segment of any length in one frame, as packetdrill's tun
    /// takes it); the peer's routes keep its own segments and MSS at 1500.
    unsigned linkMtu = 1500;
};

struct LabOptions {
    /// The helper executable; empty: findLabHelper() searches for it.
    std::string helperPath;
    /// How long the helper may take before it is killed and the start fails.
    std::chrono::milliseconds timeout{10'000};
    /// Ports the peer listens on (dual-stack), at most 8.
    std::vector<std::uint16_t> ports{50001, 80};
    /// What the peer's application runs on each port; ports not named get Http.
    std::map<std::uint16_t, PeerService> services;
    /// False: the listening sockets are left to the caller (listeners()), nothing accepts.
    bool runPeerApp = true;
    PeerAppOptions peerApp;
    /// Set before the listening sockets exist, so they apply from the first SYN.
    TcpSettings tcp;
    /// Starts the peer agent (app/peer_agent) in the peer's namespaces once the lab is
    /// built: socket calls, sysctls and TCP_INFO samples of the peer (see agent()). A lab
    /// whose agent does not start still works; agentError() says why.
    bool agent = true;
    /// The agent executable; empty: findPeerAgent() searches for it.
    std::string agentPath;
};

/// One listening socket in the peer's namespace (owned by the lab).
struct LabListener {
    std::uint16_t port = 0;
    int fd = -1;
    PeerService service = PeerService::Http;
};

/// The built-in "linux" peer: a real Linux kernel in a private user + network
/// namespace pair joined by a veth, built by tcplab-lab-helper without privileges.
/// The lab lives exactly as long as its fds: the link (the phantom's AF_PACKET socket)
/// and the listening sockets (and connections accepted from them), and its peer agent,
/// the one process it keeps: a child of this process inside the peer's namespaces, which
/// ends when its channel closes and which the lab reaps. Destroying the lab and the link
/// removes every namespace, interface and process it made. Move-only; a moved-from lab
/// may only be destroyed or assigned to.
class BuiltinLinuxLab {
public:
    ~BuiltinLinuxLab();
    BuiltinLinuxLab(BuiltinLinuxLab&&) noexcept;
    BuiltinLinuxLab& operator=(BuiltinLinuxLab&&) noexcept;

    /// The phantom's link: whole Ethernet frames on the phantom's end of the veth. The
    /// phantom answers ARP and NS itself (nothing on its side of the link does);
    /// nullptr once taken.
    link::Link* link() const noexcept;
    /// Hands the link to its user (the engine). The lab's namespaces then live until
    /// both the link and the lab are destroyed.
    std::unique_ptr<link::Link> takeLink() noexcept;

    const LabAddresses& addresses() const noexcept;
    const std::vector<LabListener>& listeners() const noexcept;
    /// The application serving the listeners; nullptr when not running.
    PeerApp* peerApp() const noexcept;
    /// Runs the application anew with these services (ports not named get Http).
    tl::expected<void, LabError> runPeerApp(const std::map<std::uint16_t, PeerService>& services,
                                            PeerAppOptions options = {});
    /// Stops the application; its connections are closed, the listeners stay.
    void stopPeerApp();

    /// From the request to a usable link (the helper spawned, the lab built, the veth
    /// carrying frames, the fds received, the helper reaped) and the agent's Hello.
    std::chrono::nanoseconds startupTime() const noexcept;
    /// From spawning the peer agent to its Hello (part of startupTime()); 0 without one.
    std::chrono::nanoseconds agentStartupTime() const noexcept;
    /// The time the helper waited for the veth to carry frames (part of startupTime()).
    std::chrono::milliseconds linkWait() const noexcept;
    /// The TCP settings in force, as of the start or the last applyTcpSettings().
    const TcpSettingsState& tcpSettings() const noexcept;
    /// Changes the peer kernel's TCP settings: a short-lived helper re-enters the lab's
    /// namespaces (SIOCGSKNS on a listening socket, NS_GET_USERNS, setns) and writes
    /// them. Returns the settings in force afterwards. Bounded by the start timeout.
    tl::expected<TcpSettingsState, LabError> applyTcpSettings(const TcpSettings& settings);

    /// The peer agent: calls on the peer's own sockets and its namespace's sysctls, and
    /// tcp_info samples of every TCP socket of the namespace (the HTTP responder's too).
    /// nullptr when there is none (agentError() says why) or it was taken.
    peer::AgentClient* agent() const noexcept;
    /// Hands the agent's channel to its user (the engine); nullptr when there is none or it
    /// was taken. The lab still owns the agent's process: destroying the lab ends it, and
    /// the taken client's calls then fail with a sentence.
    std::unique_ptr<peer::AgentClient> takeAgent() noexcept;
    /// Why there is no agent, a sentence with its cure; empty when there is one.
    const std::string& agentError() const noexcept;

    /// "built-in Linux lab (kernel 6.1.0): peer 198.18.0.1, 2001:db8::1 on tcplab0; port
    /// 50001 http, port 80 http; peer agent: pid 4242".
    std::string description() const;

private:
    friend tl::expected<BuiltinLinuxLab, LabError> startLinuxLab(const LabOptions& options);
    struct State;
    explicit BuiltinLinuxLab(std::unique_ptr<State> state);
    std::unique_ptr<State> m;
};

/// Builds the built-in Linux lab (see BuiltinLinuxLab). Errors name the cause and the
/// cure; where user namespaces are refused, LabErrorCode::UserNamespacesRefused, and the
/// caller offers the embedded peer instead. Bounded by options.timeout.
tl::expected<BuiltinLinuxLab, LabError> startLinuxLab(const LabOptions& options = {});

/// The peer agent executable: `configured` if given, else $TCPLAB_PEER_AGENT, else
/// tcplab-peer-agent where findLabHelper() looks. HelperMissing names every place tried.
tl::expected<std::string, LabError> findPeerAgent(const std::string& configured = {});

/// The helper executable: `configured` if given, else $TCPLAB_LAB_HELPER, else
/// tcplab-lab-helper next to the running binary, in ../libexec/tcplab/ from it, or in
/// /usr/libexec/tcplab/. HelperMissing names every place tried.
tl::expected<std::string, LabError> findLabHelper(const std::string& configured = {});

} // namespace tcplab::lab
