#pragma once

// What the parts of tcplab-lwip-helper (main.cpp) share: lwIP's clock, the netif and its
// frames on fd 3, the application's listeners, and the pcbs' identities in the agent's
// samples. lwIP's state is global, and so are these.

extern "C" {
#include <lwip/opt.h> // first of lwIP's, inside extern "C": lwipopts.h declares the core lock

#include <lwip/netif.h>
#include <lwip/tcp.h>
}

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <vector>

namespace tcplab::lwiphelper {

constexpr int kChannelFd = 3;

enum class Service { Http, Discard, Echo };

inline std::atomic<bool> g_virtualClock{false};
/// lwIP's time with --virtual-clock: written under the core lock, read anywhere.
inline std::atomic<std::uint32_t> g_virtualNow{1000};

struct Listener {
    std::uint16_t port = 0;
    Service service = Service::Http;
    struct tcp_pcb* pcb = nullptr; ///< the listening pcb, once made
    std::uint64_t inode = 0;       ///< its id in the agent's samples
};

// --- The frames, on fd 3 ----------------------------------------------------------

/// The eventfd that wakes the main loop (frames to write, a callback's news).
inline int g_wakeFd = -1;
inline struct netif g_netif;
inline std::array<std::uint8_t, 6> g_mac{};

/// netif_add's init: an Ethernet netif with g_mac, whose frames linkOutput queues.
err_t netifInit(struct netif* n);

/// lwIP takes any frame it is given: a NIC would only pass its own, broadcast, and
/// the multicast groups joined.
bool accepted(const std::uint8_t* dst);

/// Writes queued frames to the socket; false when the socket is gone.
bool writeFrames(std::deque<std::vector<std::uint8_t>>& pending);

inline std::vector<Listener> g_listeners; // stable: tcp_arg points into it

// --- The pcbs' identities, for the samples ---------------------------------------------

/// A stable id for every pcb the samples name (the "inode"), never 0.
std::uint64_t newInode();

/// Wakes the main loop: a callback has news for the agent.
void wake();

/// A pcb closed by its owner (tcp_close) that lwIP still runs (FIN-WAIT, LAST-ACK,
/// TIME-WAIT): its callback_arg is this record, so that it is found in lwIP's lists by
/// pointer and arg together (a freed pcb's memory may hold a new pcb, whose arg is not
/// this), and it keeps its inode until lwIP frees it.
struct Orphan {
    std::uint64_t inode = 0;
    struct tcp_pcb* pcb = nullptr;
};
inline std::list<std::unique_ptr<Orphan>> g_orphans;

/// Takes every callback off `pcb` and marks it as an orphan of `inode`; the caller then
/// closes it.
void orphan(struct tcp_pcb* pcb, std::uint64_t inode);

} // namespace tcplab::lwiphelper
