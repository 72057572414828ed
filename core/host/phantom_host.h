#pragma once

#include "wire/address.h"
#include "wire/bytes.h"
#include "wire/frame.h"

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace tcplab::host {

/// The phantom's IPv4 side: its address, prefix and optional gateway.
struct Ipv4Config {
    wire::Ipv4Address address;
    unsigned prefix = 24;
    std::optional<wire::Ipv4Address> gateway;
};

/// The phantom's IPv6 side.
struct Ipv6Config {
    wire::Ipv6Address address;
    unsigned prefix = 64;
    std::optional<wire::Ipv6Address> gateway;
};

/// Who the phantom is. It owns no kernel: tcplab answers ARP and Neighbor
/// Solicitations for these addresses itself.
struct Identity {
    wire::MacAddress mac;
    std::optional<Ipv4Config> ipv4;
    std::optional<Ipv6Config> ipv6;
};

/// A random unicast, locally administered MAC (IEEE 802: I/G bit 0, U/L bit 1).
wire::MacAddress randomLocalMac(std::mt19937_64& rng);

/// Timing of the conflict probe and of address resolution. The defaults shorten RFC
/// 5227's (3 probes 1-2 s apart, then 2 s) for a lab whose links are private; the
/// rfc5227() timing is the RFC's, for shared networks.
struct HostTiming {
    unsigned probeCount = 3;
    std::int64_t probeIntervalNs = 200'000'000;     ///< between probes (RFC 5227: 1-2 s)
    std::int64_t probeWaitNs = 400'000'000;         ///< after the last probe (RFC 5227: 2 s)
    unsigned resolveAttempts = 3;                   ///< ARP requests / NS before giving up
    std::int64_t resolveIntervalNs = 1'000'000'000; ///< RFC 4861 RetransTimer: 1 s

    static HostTiming rfc5227() { return {3, 1'500'000'000, 2'000'000'000, 3, 1'000'000'000}; }
};

/// Something the engine reports to the user.
struct HostEvent {
    enum class Kind : std::uint8_t {
        ProbeStarted,
        AddressClaimed,  ///< no one answered the probe: the phantom owns the address
        AddressConflict, ///< someone answered: refused, with the MAC that answered
        Resolved,        ///< a neighbour's MAC is known
        ResolveFailed,   ///< no answer after every attempt
        AnsweredArp,     ///< we answered a who-has for one of our addresses
        AnsweredNeighborSolicitation,
    };
    Kind kind;
    wire::IpAddress address;
    std::optional<wire::MacAddress> mac;
    std::string message; ///< one sentence for a person
};

/// The phantom host as a state machine: fed received frames and the time, it
/// answers ARP/NS for its claimed addresses, probes before claiming (RFC 5227 ARP
/// probe, RFC 4862 DAD), and resolves neighbours. It does no I/O: frames to send are
/// appended to `out`, events to events(). The engine drives it from its thread.
class PhantomHost {
public:
    using FrameList = std::vector<std::vector<std::uint8_t>>;

    explicit PhantomHost(Identity identity, HostTiming timing = {});

    const Identity& identity() const noexcept { return m_identity; }

    /// Starts the conflict probe of every configured address. Until it succeeds the
    /// phantom answers nothing and sends nothing else.
    void startProbe(std::int64_t nowNs, FrameList& out);
    /// Skips the probe (explicitly, for a link where it cannot work); the caller
    /// warns the user. Addresses are claimed at once.
    void claimWithoutProbe();
    bool probing() const noexcept;
    /// True when every configured address is claimed.
    bool ready() const noexcept;
    /// True when an address was refused; nothing will be claimed.
    bool refused() const noexcept { return m_refused; }

    /// The MAC to send to for `peer`: the peer's own when on-link, the gateway's when
    /// not. nullopt until resolved; `resolve` starts resolution.
    std::optional<wire::MacAddress> nextHopMac(const wire::IpAddress& peer) const;
    /// The on-link address frames for `peer` go to, or an error sentence (off-link
    /// without a gateway, or the family is not configured).
    tl::expected<wire::IpAddress, std::string> nextHop(const wire::IpAddress& peer) const;
    /// Starts resolving the next hop for `peer` (no-op if known or pending).
    void resolve(const wire::IpAddress& peer, std::int64_t nowNs, FrameList& out);

    /// Handles one received frame: answers, learns, detects conflicts. Returns true
    /// when the frame was ARP/ND handled here (not for the TCP side).
    bool onFrame(const wire::Frame& frame, std::int64_t nowNs, FrameList& out);
    /// Advances timers: probe steps, resolution retries and time-outs.
    void tick(std::int64_t nowNs, FrameList& out);
    /// When tick() next has something to do (for the engine's poll timeout); nullopt if nothing
    /// pending.
    std::optional<std::int64_t> nextDeadline() const noexcept;

    /// Events since the last call, oldest first.
    std::vector<HostEvent> takeEvents();

    /// Builders, public for tests and for the GUI's "send an ARP by hand".
    std::vector<std::uint8_t> arpRequest(const wire::Ipv4Address& target, bool probe) const;
    std::vector<std::uint8_t> arpReply(const wire::ArpPacket& request) const;
    std::vector<std::uint8_t> neighborSolicitation(const wire::Ipv6Address& target, bool dad) const;
    std::vector<std::uint8_t> neighborAdvertisement(const wire::Ipv6Address& to,
                                                    const wire::MacAddress& toMac,
                                                    bool solicited) const;

private:
    enum class ClaimState : std::uint8_t { Unclaimed, Probing, Claimed, Refused };
    struct Claim {
        ClaimState state = ClaimState::Unclaimed;
        unsigned probesSent = 0;
        std::int64_t nextAt = 0;
    };
    struct Pending {
        unsigned attempts = 0;
        std::int64_t nextAt = 0;
    };

    void probeStep(bool ipv6, std::int64_t nowNs, FrameList& out);
    void conflict(bool ipv6, const wire::MacAddress& mac, const std::string& how);
    void learn(const wire::IpAddress& address, const wire::MacAddress& mac);
    bool handleArp(const wire::ArpPacket& arp, FrameList& out);
    bool handleIcmpv6(const wire::Frame& frame, FrameList& out);
    void sendResolveRequest(const wire::IpAddress& target, FrameList& out) const;
    void event(HostEvent::Kind kind, const wire::IpAddress& address,
               std::optional<wire::MacAddress> mac, std::string message);

    Identity m_identity;
    HostTiming m_timing;
    Claim m_claim4;
    Claim m_claim6;
    bool m_refused = false;
    std::map<wire::IpAddress, wire::MacAddress> m_neighbours;
    std::map<wire::IpAddress, Pending> m_pending;
    std::vector<HostEvent> m_events;
};

} // namespace tcplab::host
