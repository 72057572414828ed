#pragma once

#include "lab/builtin_lab.h"
#include "lab/lab_error.h"
#include "lab/peer_app.h"
#include "link/link.h"
#include "peer/agent_client.h"
#include "wire/address.h"
#include "wire/frame.h"

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

namespace tcplab::lab {

struct LwipLabOptions {
    /// The helper executable; empty: findLwipHelper() searches for it.
    std::string helperPath;
    /// How long the helper may take to answer before it is killed and the start fails.
    std::chrono::milliseconds timeout{5'000};
    /// Ports the peer listens on (IPv4 and IPv6), 1 to 8.
    std::vector<std::uint16_t> ports{50001, 80};
    /// What the peer's application runs on each port; ports not named get Http.
    std::map<std::uint16_t, PeerService> services;
    /// The peer's MAC; empty: a random locally administered one.
    std::optional<wire::MacAddress> peerMac;
    /// lwIP's clock stands still but for advanceClock() (clock frames): its timers
    /// (delayed ACK, retransmission, the ticks its ISN counts, MLD reports) depend on
    /// the frames alone, so a test or a teaching script sees the same thing every time.
    bool virtualClock = false;
    /// Starts the peer agent in the helper (a second socketpair, the helper's fd 4): socket
    /// calls on lwIP's raw API and samples of its tcp_pcbs (agent()). A failure to start
    /// it does not fail the lab (agentError() says why).
    bool agent = true;
};

/// The built-in "lwip" peer: lwIP (Debian's liblwip) in a helper process of its own,
/// tcplab-lwip-helper, reached over a SOCK_SEQPACKET socketpair that carries whole
/// Ethernet frames. It needs no privilege and no namespace. The peer has the linux
/// lab's addresses (198.18.0.1/24, 2001:db8::1/64) and runs the lab's HTTP responder
/// (PeerApp's semantics) on lwIP's raw TCP API, in the helper.
///
/// The helper is also the lab's peer agent (core/peer/agent_protocol.h): over a second
/// socketpair it makes socket calls on lwIP's raw API, on pcbs of its own, and samples
/// every tcp_pcb it knows (cwnd, ssthresh, rto, snd_wnd, rcv_wnd, state, ...: its Hello's
/// limits say what lwIP cannot do and how its variables are converted). startLwipLab
/// waits for its Hello within the start's timeout.
///
/// lwIP starts with a little noise of its own: a gratuitous ARP and MLD reports for
/// its solicited-node group (see lwipStartupNoise()).
///
/// Destroying the lab kills and reaps the helper (bounded), which ends the link too;
/// the helper also exits by itself when the link's socket is closed. Move-only; a
/// moved-from lab may only be destroyed or assigned to.
class BuiltinLwipLab {
public:
    ~BuiltinLwipLab();
    BuiltinLwipLab(BuiltinLwipLab&&) noexcept;
    BuiltinLwipLab& operator=(BuiltinLwipLab&&) noexcept;

    /// The phantom's link: frames to and from lwIP's netif; nullptr once taken.
    link::Link* link() const noexcept;
    /// Hands the link to its user (the engine). The peer still lives only as long as
    /// the lab: keep the lab until the link is no longer used.
    std::unique_ptr<link::Link> takeLink() noexcept;

    /// The peer's addresses and MAC; interfaceName is "" (there is no interface).
    const LabAddresses& addresses() const noexcept;
    /// The ports served, in the order asked for, with their services (fd is -1).
    const std::vector<LabListener>& listeners() const noexcept;
    /// The helper's pid (for tests and diagnostics); -1 once it is reaped.
    pid_t helperPid() const noexcept;
    /// lwIP's version as the helper reports it: "2.1.3".
    const std::string& lwipVersion() const noexcept;
    /// From the request to a usable link (spawned, lwIP up, the answer read).
    std::chrono::nanoseconds startupTime() const noexcept;

    /// With LwipLabOptions::virtualClock: moves lwIP's clock forward by `by` (at most 10
    /// minutes per call), a millisecond at a time, running the timers that fall due.
    /// Sent in order with the frames on the link (it is a frame: see lwipClockFrame), so
    /// it applies after every frame sent before it. Needs the link (not taken).
    tl::expected<void, LabError> advanceClock(std::chrono::milliseconds by);
    bool virtualClock() const noexcept;

    /// The peer agent, its Hello received; nullptr when it did not start (agentError())
    /// or once taken.
    peer::AgentClient* agent() const noexcept;
    /// Hands the agent to its user (the engine). It works as long as the lab lives.
    std::unique_ptr<peer::AgentClient> takeAgent() noexcept;
    /// Why there is no agent: "" when it started (or was not asked for).
    const std::string& agentError() const noexcept;

    /// "built-in lwIP lab (lwIP 2.1.3): peer 198.18.0.1, 2001:db8::1; port 50001 http,
    /// port 80 http".
    std::string description() const;

private:
    friend tl::expected<BuiltinLwipLab, LabError> startLwipLab(const LwipLabOptions& options);
    struct State;
    explicit BuiltinLwipLab(std::unique_ptr<State> state);
    std::unique_ptr<State> m;
};

/// Starts the built-in lwIP peer (see BuiltinLwipLab): spawns the helper with
/// posix_spawn (never fork: the caller may be multithreaded) and waits, bounded by
/// options.timeout, for its answer. Errors: HelperMissing (not found or not runnable),
/// Timeout, HelperCrashed (ended without an answer), SetupFailed (lwIP refused the
/// configuration), Protocol (a helper of another version), Io.
tl::expected<BuiltinLwipLab, LabError> startLwipLab(const LwipLabOptions& options = {});

/// The helper executable: `configured` if given, else $TCPLAB_LWIP_HELPER, else
/// tcplab-lwip-helper next to the running binary, in ../libexec/tcplab/ from it, or in
/// /usr/libexec/tcplab/. HelperMissing names every place tried.
tl::expected<std::string, LabError> findLwipHelper(const std::string& configured = {});

/// The frame that advances a virtual-clock lwIP peer's clock by `by` (for a user of
/// the link other than the lab, such as the engine): EtherType 0x88B5 to `peerMac`,
/// "tcplab-lwip-clock" and the milliseconds (32 bits, big-endian). The helper consumes
/// it; lwIP never sees it.
std::vector<std::uint8_t> lwipClockFrame(const wire::MacAddress& peerMac,
                                         std::chrono::milliseconds by);

/// What lwIP sends on its own right after the start, for the timeline's label: "lwIP
/// start-up: gratuitous ARP", "lwIP start-up: MLD report", "lwIP start-up: router
/// solicitation", "lwIP start-up: duplicate address detection"; nullopt for anything
/// else (it may be a frame of the lab's traffic). `peerMac` is the lab's peer MAC.
std::optional<std::string> lwipStartupNoise(const wire::Frame& frame,
                                            const wire::MacAddress& peerMac);

} // namespace tcplab::lab
