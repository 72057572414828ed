#pragma once
// The phantom host over a built-in lab's Link, for the lab suites (tst_builtin_lab,
// tst_lwip_lab): PhantomHost answers the peer's ARP/NS, everything else is queued for
// the test to look at. Every wait is bounded.

#include "host/phantom_host.h"
#include "lab/builtin_lab.h"
#include "link/link.h"
#include "wire/frame.h"

#include <poll.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
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

} // namespace tcplab::test
