#include "lwip_state.h"

extern "C" {
#include <lwip/opt.h> // first of lwIP's, inside extern "C": lwipopts.h declares the core lock

#include <lwip/etharp.h>
#include <lwip/ethip6.h>
#include <lwip/ip6_addr.h>
#include <lwip/pbuf.h>
#include <lwip/priv/tcp_priv.h>
#include <lwip/sys.h>
}

#include <sys/socket.h>
#include <unistd.h>

#include <time.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <set>
#include <utility>

namespace tcplab::lwiphelper {

// --- The frames, on fd 3 ----------------------------------------------------------

namespace {

/// Frames waiting for the socket; more are dropped, as a NIC's full ring would.
constexpr std::size_t kMaxQueuedFrames = 4096;

std::mutex g_queueMutex;
std::deque<std::vector<std::uint8_t>> g_queue; ///< frames lwIP sent, not yet written
std::size_t g_dropped = 0;

/// IPv6 multicast MACs (33:33:...) lwIP joined; read and written under the core lock.
std::set<std::array<std::uint8_t, 6>> g_multicast;

/// netif->linkoutput: only queues (it runs in lwIP's thread or under the core lock);
/// the main thread writes the frames outside the lock.
err_t linkOutput(struct netif*, struct pbuf* p) {
    std::vector<std::uint8_t> frame(p->tot_len);
    pbuf_copy_partial(p, frame.data(), p->tot_len, 0);
    {
        const std::lock_guard lock(g_queueMutex);
        if (g_queue.size() >= kMaxQueuedFrames) {
            ++g_dropped;
            return ERR_OK;
        }
        g_queue.push_back(std::move(frame));
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(g_wakeFd, &one, sizeof one);
    return ERR_OK;
}

err_t mldFilter(struct netif*, const ip6_addr_t* group, enum netif_mac_filter_action action) {
    std::array<std::uint8_t, 6> mac{0x33, 0x33};
    const std::uint32_t last = lwip_ntohl(group->addr[3]);
    mac[2] = static_cast<std::uint8_t>(last >> 24);
    mac[3] = static_cast<std::uint8_t>(last >> 16);
    mac[4] = static_cast<std::uint8_t>(last >> 8);
    mac[5] = static_cast<std::uint8_t>(last);
    if (action == NETIF_ADD_MAC_FILTER)
        g_multicast.insert(mac);
    else
        g_multicast.erase(mac);
    return ERR_OK;
}

} // namespace

err_t netifInit(struct netif* n) {
    n->name[0] = 't';
    n->name[1] = 'l';
    n->hwaddr_len = ETH_HWADDR_LEN;
    std::memcpy(n->hwaddr, g_mac.data(), g_mac.size());
    n->mtu = 1500;
    n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_IGMP |
               NETIF_FLAG_MLD6;
    n->output = etharp_output;
    n->output_ip6 = ethip6_output;
    n->linkoutput = linkOutput;
    n->mld_mac_filter = mldFilter;
    g_multicast.insert({0x33, 0x33, 0, 0, 0, 1}); // all-nodes, ff02::1
    return ERR_OK;
}

bool accepted(const std::uint8_t* dst) {
    if (std::memcmp(dst, g_mac.data(), 6) == 0)
        return true;
    static constexpr std::array<std::uint8_t, 6> kBroadcast{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    if (std::memcmp(dst, kBroadcast.data(), 6) == 0)
        return true;
    std::array<std::uint8_t, 6> mac{};
    std::memcpy(mac.data(), dst, 6);
    return g_multicast.count(mac) != 0;
}

bool writeFrames(std::deque<std::vector<std::uint8_t>>& pending) {
    {
        const std::lock_guard lock(g_queueMutex);
        while (!g_queue.empty() && pending.size() < kMaxQueuedFrames) {
            pending.push_back(std::move(g_queue.front()));
            g_queue.pop_front();
        }
    }
    while (!pending.empty()) {
        const auto& f = pending.front();
        const ssize_t n = ::send(kChannelFd, f.data(), f.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
                return true; // POLLOUT brings us back
            return false;
        }
        pending.pop_front();
    }
    return true;
}

// --- The pcbs' identities, for the samples ---------------------------------------------

namespace {

std::uint64_t g_nextInode = 1;

/// Forgets the orphans lwIP has freed (the samples do it too; without the agent nothing
/// else would).
void pruneOrphans() {
    std::set<const void*> live;
    for (struct tcp_pcb* const* list : {&tcp_active_pcbs, &tcp_tw_pcbs, &tcp_bound_pcbs})
        for (const struct tcp_pcb* p = *list; p; p = p->next)
            live.insert(p->callback_arg);
    g_orphans.remove_if([&live](const auto& o) { return !live.count(o.get()); });
}

} // namespace

std::uint64_t newInode() {
    return g_nextInode++;
}

void wake() {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(g_wakeFd, &one, sizeof one);
}

void orphan(struct tcp_pcb* pcb, std::uint64_t inode) {
    pruneOrphans();
    tcp_recv(pcb, nullptr);
    tcp_sent(pcb, nullptr);
    tcp_poll(pcb, nullptr, 0);
    tcp_err(pcb, nullptr);
    auto o = std::make_unique<Orphan>();
    o->inode = inode;
    o->pcb = pcb;
    tcp_arg(pcb, o.get());
    g_orphans.push_back(std::move(o));
}

} // namespace tcplab::lwiphelper

/// Interposes liblwip's own sys_now (the library calls it through the PLT).
extern "C" u32_t sys_now(void) {
    using tcplab::lwiphelper::g_virtualClock;
    using tcplab::lwiphelper::g_virtualNow;
    if (g_virtualClock.load(std::memory_order_relaxed))
        return g_virtualNow.load(std::memory_order_relaxed);
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<u32_t>(static_cast<std::uint64_t>(now.tv_sec) * 1000u +
                              static_cast<std::uint64_t>(now.tv_nsec) / 1'000'000u);
}
