#pragma once
// The phantom host over a built-in lab's Link, for the lab suites (tst_builtin_lab,
// tst_lwip_lab): PhantomHost answers the peer's ARP/NS, everything else is queued for
// the test to look at. Every wait is bounded.

#include "host/phantom_host.h"
#include "lab/builtin_lab.h"
#include "link/link.h"
#include "wire/frame.h"
#include "wire/segment_spec.h"
#include "wire/tcp.h"

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace tcplab::test {

using wire::IpAddress;
using wire::Ipv4Address;
using wire::Ipv6Address;
using wire::MacAddress;

/// Nanoseconds on the steady clock, for PhantomHost's timers.
inline std::int64_t nowNs() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

/// The phantom host on the lab's link, with a queue of the frames it did not handle
/// (ARP and NS go to PhantomHost, which answers them).
class Phantom {
public:
    Phantom(link::Link& link, const lab::LabAddresses& a)
        : m_link(link)
        , m_host(identityFor(a)) {
        m_host.claimWithoutProbe();
    }

    const host::Identity& identity() const { return m_host.identity(); }
    MacAddress mac() const { return m_host.identity().mac; }
    bool answerNeighbours = true;
    /// Every frame the link delivered, in order (ARP/NS included).
    std::vector<std::vector<std::uint8_t>> seen;

    void send(const std::vector<std::uint8_t>& frame) {
        const auto r = m_link.send(wire::Bytes(frame));
        QVERIFY2(r.has_value(), r ? "" : r.error().message.c_str());
    }

    /// The first queued or arriving frame `match` accepts, within `ms`; unmatched
    /// frames stay queued for later calls.
    std::optional<std::vector<std::uint8_t>>
    waitFor(const std::function<bool(const wire::Frame&)>& match, int ms) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
        for (;;) {
            for (auto it = m_queue.begin(); it != m_queue.end(); ++it) {
                if (match(wire::decodeFrame(wire::Bytes(*it)))) {
                    auto frame = std::move(*it);
                    m_queue.erase(it);
                    return frame;
                }
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  deadline - std::chrono::steady_clock::now())
                                  .count();
            if (left <= 0)
                return std::nullopt;
            pump(static_cast<int>(std::min<long long>(left, 50)));
        }
    }

    /// Resolves the peer's MAC (ARP or NS), within `ms`.
    std::optional<MacAddress> resolve(const IpAddress& peer, int ms) {
        host::PhantomHost::FrameList out;
        m_host.resolve(peer, nowNs(), out);
        flush(out);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
        while (std::chrono::steady_clock::now() < deadline) {
            if (auto mac = m_host.nextHopMac(peer))
                return mac;
            pump(20);
        }
        return m_host.nextHopMac(peer);
    }

    /// Frames not handled as ARP/NS, queued now (after pumping `ms`); the queue empties.
    std::vector<std::vector<std::uint8_t>> drain(int ms) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
        while (std::chrono::steady_clock::now() < deadline)
            pump(20);
        std::vector<std::vector<std::uint8_t>> all(m_queue.begin(), m_queue.end());
        m_queue.clear();
        return all;
    }

private:
    static host::Identity identityFor(const lab::LabAddresses& a) {
        std::mt19937_64 rng(std::random_device{}());
        host::Identity id;
        id.mac = host::randomLocalMac(rng);
        id.ipv4 = host::Ipv4Config{a.phantom4, a.prefix4, std::nullopt};
        id.ipv6 = host::Ipv6Config{a.phantom6, a.prefix6, std::nullopt};
        return id;
    }

    void flush(host::PhantomHost::FrameList& out) {
        for (const auto& f : out)
            send(f);
        out.clear();
    }

    void pump(int ms) {
        pollfd p{m_link.pollFd(), POLLIN, 0};
        ::poll(&p, 1, ms);
        host::PhantomHost::FrameList out;
        const auto r = m_link.receive(
            [&](std::int64_t, wire::Bytes bytes) {
                std::vector<std::uint8_t> frame(bytes.begin(), bytes.end());
                seen.push_back(frame);
                const auto decoded = wire::decodeFrame(wire::Bytes(frame));
                if (answerNeighbours && m_host.onFrame(decoded, nowNs(), out))
                    return;
                m_queue.push_back(std::move(frame));
            },
            64);
        QVERIFY2(r.has_value(), r ? "" : r.error().message.c_str());
        m_host.tick(nowNs(), out);
        flush(out);
    }

    link::Link& m_link;
    host::PhantomHost m_host;
    std::deque<std::vector<std::uint8_t>> m_queue;
};

/// One TCP connection of the phantom's, by hand: its endpoints and sequence numbers, the
/// segments a user would craft on it, and what the peer sent on it.
class PhantomConnection {
public:
    wire::SegmentSpec segment(std::uint8_t tcpFlags, const std::string& payload = {}) const {
        wire::SegmentSpec s;
        s.ethernet.src = m_phantom.mac();
        s.ethernet.dst = m_peerMac;
        if (m_ipv6) {
            wire::Ipv6Header ip;
            ip.src = m_addresses.phantom6;
            ip.dst = m_addresses.peer6;
            s.ip = ip;
        } else {
            wire::Ipv4Header ip;
            ip.src = m_addresses.phantom4;
            ip.dst = m_addresses.peer4;
            s.ip = ip;
        }
        s.tcp.srcPort = m_port;
        s.tcp.dstPort = m_peerPort;
        s.tcp.seq = sndNxt;
        s.tcp.ack = (tcpFlags & wire::tcp_flags::kAck) ? rcvNxt : wire::SeqNum(0);
        s.tcp.flags = tcpFlags;
        s.tcp.window = window;
        s.payload.assign(payload.begin(), payload.end());
        return s;
    }

    void send(const wire::SegmentSpec& s) {
        const auto bytes = s.encode();
        QVERIFY(bytes.has_value());
        m_phantom.send(*bytes);
        sndNxt = sndNxt + s.tcp.sequenceLength(s.payload.size());
    }

    /// The peer's next segment on this connection, within `ms`.
    std::optional<std::vector<std::uint8_t>> next(int ms) {
        return m_phantom.waitFor(
            [this](const wire::Frame& f) {
                const auto* tcp = f.tcp();
                if (!tcp || tcp->dstPort != m_port || tcp->srcPort != m_peerPort)
                    return false;
                return m_ipv6 ? f.ipv6() != nullptr : f.ipv4() != nullptr;
            },
            ms);
    }

    wire::SeqNum sndNxt;
    wire::SeqNum rcvNxt{0};
    std::uint16_t window = 64240;
    std::string data;
    bool finSeen = false;
    bool resetSeen = false;
    std::vector<std::vector<std::uint8_t>> segments;

protected:
    PhantomConnection(Phantom& phantom, const lab::LabAddresses& a, bool ipv6, std::uint16_t port,
                      std::uint16_t peerPort, wire::MacAddress peerMac, wire::SeqNum isn)
        : sndNxt(isn)
        , m_phantom(phantom)
        , m_addresses(a)
        , m_ipv6(ipv6)
        , m_port(port)
        , m_peerPort(peerPort)
        , m_peerMac(peerMac) {}

    /// Takes one of the peer's segments in: its data when in order (and its FIN), kept in
    /// `segments`; acknowledged when `ack` and it carries data or FIN.
    void absorb(std::vector<std::uint8_t> frame, bool ack) {
        const auto f = wire::decodeFrame(wire::Bytes(frame));
        const auto* tcp = f.tcp();
        const auto payload = f.payload();
        if (tcp->has(wire::tcp_flags::kRst))
            resetSeen = true;
        if (tcp->seq == rcvNxt) {
            data.append(payload.begin(), payload.end());
            rcvNxt = rcvNxt + static_cast<std::uint32_t>(payload.size());
            if (tcp->has(wire::tcp_flags::kFin)) {
                finSeen = true;
                rcvNxt = rcvNxt + 1;
            }
        }
        const bool owed = !payload.empty() || tcp->has(wire::tcp_flags::kFin);
        segments.push_back(std::move(frame));
        if (ack && owed)
            send(segment(wire::tcp_flags::kAck));
    }

    Phantom& m_phantom;
    lab::LabAddresses m_addresses;
    bool m_ipv6;
    std::uint16_t m_port;
    std::uint16_t m_peerPort;
    wire::MacAddress m_peerMac;
};

/// One TCP connection from the phantom to the peer, by hand (the built-in labs' suites
/// drive the Linux and the lwIP peer with it).
class RawClient : public PhantomConnection {
public:
    RawClient(Phantom& phantom, const lab::LabAddresses& a, bool ipv6, std::uint16_t sport,
              std::uint16_t dport, wire::MacAddress peerMac)
        : PhantomConnection(phantom, a, ipv6, sport, dport, peerMac, wire::SeqNum(100)) {}

    std::uint16_t sport() const { return m_port; }

    /// SYN (ISN 100, with `options`), the SYN-ACK (returned), our ACK.
    std::optional<std::vector<std::uint8_t>> connect(const wire::TcpOptionList& options,
                                                     bool ack = true) {
        sndNxt = wire::SeqNum(100);
        auto syn = segment(wire::tcp_flags::kSyn);
        syn.tcp.options = options;
        send(syn);
        auto synAck = next(3000);
        if (!synAck)
            return std::nullopt;
        const auto f = wire::decodeFrame(wire::Bytes(*synAck));
        if (f.tcp() && f.tcp()->has(wire::tcp_flags::kSyn))
            rcvNxt = f.tcp()->seq + 1;
        if (ack)
            send(segment(wire::tcp_flags::kAck));
        return synAck;
    }

    /// Takes the peer's segments in, acknowledging every one that carries data or FIN,
    /// until `done` says enough or `ms` pass. Every segment is kept in `segments`.
    void receive(const std::function<bool()>& done, int ms) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
        while (!done() && std::chrono::steady_clock::now() < deadline) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            auto frame = next(static_cast<int>(std::max<long long>(1, left.count())));
            if (!frame)
                return;
            absorb(std::move(*frame), true);
        }
    }
};

/// The phantom as a server, by hand (IPv4): it answers a SYN to its port (the peer's
/// active open, by a connect() the peer agent made) and takes the peer's data,
/// acknowledging it. The peer's port and MAC are learnt from its SYN unless given.
class PhantomServer : public PhantomConnection {
public:
    PhantomServer(Phantom& phantom, const lab::LabAddresses& a, std::uint16_t port,
                  std::uint16_t peerPort = 0, std::optional<MacAddress> peerMac = std::nullopt)
        : PhantomConnection(phantom, a, false, port, peerPort, peerMac.value_or(a.peerMac),
                            wire::SeqNum(5000)) {}

    std::uint16_t peerPort() const { return m_peerPort; }

    /// Waits for the peer's SYN to our port and answers it with a SYN-ACK (ISN sndNxt, MSS
    /// 1460); the SYN's bytes.
    std::optional<std::vector<std::uint8_t>> acceptSyn(int ms) {
        auto syn = m_phantom.waitFor(
            [this](const wire::Frame& f) {
                const auto* tcp = f.tcp();
                return tcp && f.ipv4() && tcp->dstPort == m_port &&
                       (m_peerPort == 0 || tcp->srcPort == m_peerPort) &&
                       tcp->has(wire::tcp_flags::kSyn) && !tcp->has(wire::tcp_flags::kAck);
            },
            ms);
        if (!syn)
            return std::nullopt;
        const auto f = wire::decodeFrame(wire::Bytes(*syn));
        m_peerPort = f.tcp()->srcPort;
        m_peerMac = f.ethernet.src;
        rcvNxt = f.tcp()->seq + 1;
        auto synAck = segment(wire::tcp_flags::kSyn | wire::tcp_flags::kAck);
        synAck.tcp.options.append(wire::TcpOption::mss(1460));
        send(synAck);
        return syn;
    }

    /// Takes the peer's segments in (acknowledging data and FIN when `ack`) until `done`
    /// or `ms` pass; `pump` runs between them (the agent's messages, say).
    void receive(const std::function<bool()>& done, int ms, bool ack = true,
                 const std::function<void()>& pump = {}) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
        while (!done() && std::chrono::steady_clock::now() < deadline) {
            if (pump)
                pump();
            if (auto frame = next(20))
                absorb(std::move(*frame), ack);
        }
    }
};

} // namespace tcplab::test
