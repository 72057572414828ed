// tcplab-lwip-helper: the built-in "lwip" peer (core/lab/lwip_lab.h spawns it).
//
// One process per lab: lwIP's state is global and its assertions abort. It runs
// Debian's liblwip as built (NO_SYS=0, LWIP_TCPIP_CORE_LOCKING=1: a tcpip thread runs
// the timers, every raw-API call from another thread holds the core lock), with one
// Ethernet netif whose frames travel over the SOCK_SEQPACKET socket on fd 3, one frame
// per datagram. The peer's application is the lab's HTTP responder (and discard, echo)
// on the raw TCP API, with the semantics of core/lab/peer_app.h (GET /bytes/N streamed:
// tcp_write as tcp_sndbuf allows, continued from the sent callback).
//
//   tcplab-lwip-helper --mac 02:xx:xx:xx:xx:xx --ipv4 198.18.0.1/24 --ipv6 2001:db8::1/64
//                      [--port 50001[:http|discard|echo]]... [--virtual-clock] [--agent]
//
// With --virtual-clock lwIP's time (sys_now, which this program interposes on the
// library's) stands still but for clock frames: EtherType 0x88B5 to the peer's MAC,
// payload "tcplab-lwip-clock" and a 32-bit big-endian count of milliseconds, which
// advances it a millisecond at a time, running the timers due. Its timers (delayed
// ACK, retransmission, ISN ticks, MLD) then depend on nothing but the frames.
//
// Its first datagram on fd 3 is its answer, text lines: "tcplab-lwip-helper", then "ok"
// or "error", then key=value lines (version=1, lwip=2.1.3, mac=..., or message=...).
// Every later datagram is an Ethernet frame. It exits when the socket is closed.
//
// With --agent, fd 4 (SOCK_SEQPACKET) carries the peer agent's protocol
// (core/peer/agent_protocol.h): the helper says Hello, then makes socket calls on lwIP's
// raw API on pcbs of its own, numbered as fds from 3 up, and samples every tcp_pcb it
// knows (its own, the HTTP responder's, and the ones closed but not yet gone) every 10 ms
// of lwIP's clock (the virtual one too) while any is neither LISTEN nor CLOSED, and after
// every call. What lwIP cannot do is Refused with a sentence, never imitated.
//
// lwIP's err_t as the errno a Linux socket gives (errnoOf(), and the call-specific cases):
//
//   ERR_OK 0              ERR_MEM ENOMEM (tcp_write: EAGAIN, its queue is full)
//   ERR_BUF ENOBUFS       (bind/connect with no free port: EADDRNOTAVAIL)
//   ERR_TIMEOUT ETIMEDOUT ERR_RTE ENETUNREACH        ERR_INPROGRESS EINPROGRESS
//   ERR_VAL EINVAL        ERR_WOULDBLOCK EAGAIN      ERR_USE EADDRINUSE
//   ERR_ALREADY EALREADY  ERR_ISCONN EISCONN         ERR_CONN ENOTCONN
//   ERR_IF EIO            ERR_ARG EINVAL             ERR_CLSD ENOTCONN
//   ERR_RST ECONNRESET    (to a SYN it sent: ECONNREFUSED)
//   ERR_ABRT ECONNABORTED (from lwIP's timers, which give up after TCP_MAXRTX or
//                          TCP_SYNMAXRTX retransmissions or unanswered keep-alives:
//                          ETIMEDOUT, as Linux says)
//   ERR_CLSD in the err callback is no error: the connection ended normally (LAST-ACK).
//
// The samples' tcp_info fields (core/peer/tcp_info.h), from the tcp_pcb, only those lwIP
// keeps: state (lwIP's enum tcp_state in Linux's numbering), ca_state (Open; Recovery in
// fast recovery, TF_INFR; Loss after an RTO, TF_RTO), retransmits (nrtx: retransmissions
// of the oldest unacknowledged segment; lwIP counts no total_retrans), probes
// (persist_probe or keep_cnt_sent), options (window scaling, TF_WND_SCALE) with
// snd_wscale/rcv_wscale, rto (in 500 ms ticks of TCP_SLOW_INTERVAL, given in us), snd_mss
// (mss), unacked (segments on pcb->unacked), rtt and rttvar (sa/8 and sv/4, Van
// Jacobson's scaled estimators in the same ticks, given in us: 0 on a fast link, where
// every RTT is under one tick), snd_ssthresh and snd_cwnd (bytes, given in segments of
// mss), notsent_bytes (pcb->unsent), snd_wnd and rcv_wnd (pcb->rcv_wnd: the window still
// free). Congestion control "lwip-reno": lwIP 2.1.3 leaves fast recovery on the first new
// ACK (tcp_in.c), which is Reno (RFC 5681), not NewReno.

// The agent protocol's codec is core/peer/agent_protocol.cpp itself, compiled into this
// program (app/CMakeLists.txt), so both sides use one codec by construction.
#include "lab/http_rules.h"
#include "peer/agent_protocol.h"
#include "peer/pattern.h"
#include "peer/tcp_info.h"

extern "C" {
#include <lwip/opt.h> // first of lwIP's, inside extern "C": lwipopts.h declares the core lock

#include <lwip/etharp.h>
#include <lwip/ethip6.h>
#include <lwip/init.h>
#include <lwip/ip_addr.h>
#include <lwip/netif.h>
#include <lwip/pbuf.h>
#include <lwip/priv/tcp_priv.h>
#include <lwip/sys.h>
#include <lwip/tcp.h>
#include <lwip/tcpip.h>
#include <lwip/timeouts.h>
#include <netif/ethernet.h>
}

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <time.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <future>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

constexpr int kChannelFd = 3;
constexpr const char* kVersion = "1";
constexpr std::size_t kMaxFrame = 65536;
/// Frames waiting for the socket; more are dropped, as a NIC's full ring would.
constexpr std::size_t kMaxQueuedFrames = 4096;
constexpr std::size_t kMaxConnections = 64;
constexpr std::uint32_t kIdleTimeoutMs = 10 * 60 * 1000;
/// tcp_poll interval, in TCP coarse timer ticks (500 ms).
constexpr u8_t kPollTicks = 4;
// As the lab's server (core/lab/peer_app.h: PeerAppOptions::maxRequestBytes).
constexpr std::size_t kMaxRequestBytes = 65536;
/// Echo stops opening its receive window while this much waits to go back.
constexpr std::size_t kMaxPendingOutput = 1 << 20;

enum class Service { Http, Discard, Echo };

constexpr std::uint16_t kClockEtherType = 0x88b5; // IEEE 802 local experimental
constexpr std::string_view kClockMagic = "tcplab-lwip-clock";
constexpr std::uint32_t kMaxClockStepMs = 10 * 60 * 1000;

std::atomic<bool> g_virtualClock{false};
/// lwIP's time with --virtual-clock: written under the core lock, read anywhere.
std::atomic<std::uint32_t> g_virtualNow{1000};

struct Listener {
    std::uint16_t port = 0;
    Service service = Service::Http;
    struct tcp_pcb* pcb = nullptr; ///< the listening pcb, once made
    std::uint64_t inode = 0;       ///< its id in the agent's samples
};

// --- The answer and the frames, on fd 3 -------------------------------------------

[[noreturn]] void fail(const std::string& message, int status = 1) {
    const std::string text = "tcplab-lwip-helper\nerror\nmessage=" + message + "\n";
    [[maybe_unused]] const auto n = ::send(kChannelFd, text.data(), text.size(), MSG_NOSIGNAL);
    std::fprintf(stderr, "tcplab-lwip-helper: %s\n", message.c_str());
    ::_exit(status);
}

int g_wakeFd = -1;
std::mutex g_queueMutex;
std::deque<std::vector<std::uint8_t>> g_queue; ///< frames lwIP sent, not yet written
std::size_t g_dropped = 0;

struct netif g_netif;
std::array<std::uint8_t, 6> g_mac{};
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

/// lwIP takes any frame it is given: a NIC would only pass its own, broadcast, and
/// the multicast groups joined.
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

std::vector<Listener> g_listeners; // stable: tcp_arg points into it

// --- The pcbs' identities, for the samples ---------------------------------------------

/// A stable id for every pcb the samples name (the "inode"), never 0.
std::uint64_t g_nextInode = 1;
std::uint64_t newInode() {
    return g_nextInode++;
}

void wake() {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(g_wakeFd, &one, sizeof one);
}

/// A pcb closed by its owner (tcp_close) that lwIP still runs (FIN-WAIT, LAST-ACK,
/// TIME-WAIT): its callback_arg is this record, so that it is found in lwIP's lists by
/// pointer and arg together (a freed pcb's memory may hold a new pcb, whose arg is not
/// this), and it keeps its inode until lwIP frees it.
struct Orphan {
    std::uint64_t inode = 0;
    struct tcp_pcb* pcb = nullptr;
};
std::list<std::unique_ptr<Orphan>> g_orphans;

/// Forgets the orphans lwIP has freed (the samples do it too; without the agent nothing
/// else would).
void pruneOrphans() {
    std::set<const void*> live;
    for (struct tcp_pcb* const* list : {&tcp_active_pcbs, &tcp_tw_pcbs, &tcp_bound_pcbs})
        for (const struct tcp_pcb* p = *list; p; p = p->next)
            live.insert(p->callback_arg);
    g_orphans.remove_if([&live](const auto& o) { return !live.count(o.get()); });
}

/// Takes every callback off `pcb` and marks it as an orphan of `inode`; the caller then
/// closes it.
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

// --- The application: HTTP (as core/lab/peer_app.cpp), discard, echo ---------------

using HttpRequest = tcplab::lab::http::Request;

struct Connection {
    struct tcp_pcb* pcb = nullptr;
    std::uint64_t inode = newInode();
    std::uint16_t port = 0;
    Service service = Service::Http;
    std::string in;
    std::string out; ///< to hand to lwIP: echo's data, or the front response's text
    /// HTTP: responses not (all) handed to lwIP yet, in order; of the front one,
    /// patternAt pattern bytes are.
    std::deque<tcplab::lab::http::Response> queued;
    std::uint64_t patternAt = 0;
    unsigned requests = 0;
    std::optional<HttpRequest> awaiting;
    bool peerFinished = false;
    bool closeAfterOut = false;
    bool shutDown = false;
    bool done = false;
    std::size_t held = 0; ///< echo: received bytes whose window is not yet reopened
    u32_t lastActivity = 0;

    bool sending() const noexcept { return !out.empty() || !queued.empty(); }
};

std::set<Connection*> g_connections;

void answerHttp(Connection& c) {
    const HttpRequest request = std::move(*c.awaiting);
    c.awaiting.reset();
    // GET /bytes/N's body stays a count: flush() makes its bytes as lwIP takes them.
    c.queued.push_back(tcplab::lab::http::plan(request, c.port, c.requests));
    if (!request.persistent) {
        c.closeAfterOut = true;
        c.in.clear();
    }
}

void handleHttp(Connection& c) {
    while (!c.closeAfterOut && !c.done) {
        if (c.awaiting) {
            const std::size_t length = *c.awaiting->bodyLength;
            if (c.in.size() < length) {
                if (c.peerFinished && !c.sending())
                    c.done = true;
                return;
            }
            c.in.erase(0, length);
            answerHttp(c);
            continue;
        }
        auto taken = tcplab::lab::http::takeRequest(c.in, kMaxRequestBytes, c.requests + 1);
        if (!taken) {
            if (c.peerFinished && !c.in.empty() && !c.sending())
                c.done = true;
            return;
        }
        ++c.requests;
        HttpRequest request = std::move(*taken);
        c.awaiting = std::move(request);
        if (!c.awaiting->persistent)
            answerHttp(c);
    }
}

err_t onRecv(void* arg, struct tcp_pcb* pcb, struct pbuf* p, err_t err);
err_t onSent(void* arg, struct tcp_pcb* pcb, u16_t len);
err_t onPoll(void* arg, struct tcp_pcb* pcb);
void onError(void* arg, err_t err);

/// Forgets the connection and lets lwIP finish it (FIN, or RST if close fails); the
/// samples follow the pcb on as an orphan.
err_t closeConnection(Connection* c) {
    struct tcp_pcb* pcb = c->pcb;
    orphan(pcb, c->inode);
    g_connections.erase(c);
    delete c;
    if (tcp_close(pcb) != ERR_OK) {
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    return ERR_OK;
}

/// Hands lwIP as much as its send buffer takes: `out` first, then the front response's
/// text and its pattern bytes, generated now, then the next response.
void flush(Connection& c) {
    std::array<std::uint8_t, 0xffff> chunk{};
    bool wrote = false;
    for (;;) {
        if (c.out.empty() && !c.queued.empty() && !c.queued.front().text.empty())
            c.out.swap(c.queued.front().text);
        const std::size_t room = tcp_sndbuf(c.pcb);
        if (room == 0)
            break;
        if (!c.out.empty()) {
            const auto n = static_cast<u16_t>(std::min<std::size_t>({c.out.size(), room, 0xffff}));
            if (tcp_write(c.pcb, c.out.data(), n, TCP_WRITE_FLAG_COPY) != ERR_OK)
                break; // the segment queue is full: tcp_sent brings us back
            c.out.erase(0, n);
            wrote = true;
            continue;
        }
        if (c.queued.empty())
            break;
        auto& front = c.queued.front();
        const std::uint64_t left = front.patternBytes - c.patternAt;
        if (left == 0) {
            c.queued.pop_front();
            c.patternAt = 0;
            continue;
        }
        const auto n = static_cast<u16_t>(std::min<std::uint64_t>({left, room, chunk.size()}));
        tcplab::peer::fillPattern(chunk.data(), n, c.patternAt);
        if (tcp_write(c.pcb, chunk.data(), n, TCP_WRITE_FLAG_COPY) != ERR_OK)
            break;
        c.patternAt += n;
        wrote = true;
    }
    if (wrote)
        tcp_output(c.pcb);
    if (c.service == Service::Echo && c.held > 0 && c.out.size() < kMaxPendingOutput) {
        tcp_recved(c.pcb, static_cast<u16_t>(c.held));
        c.held = 0;
    }
}

/// What follows once the output is handed over: our FIN after a closing response, the
/// close after the client's FIN.
err_t settle(Connection* c) {
    flush(*c);
    if (!c->sending() && c->closeAfterOut && !c->shutDown) {
        tcp_shutdown(c->pcb, 0, 1);
        c->shutDown = true;
    }
    if (c->done || (!c->sending() && c->peerFinished))
        return closeConnection(c);
    return ERR_OK;
}

err_t onRecv(void* arg, struct tcp_pcb* pcb, struct pbuf* p, err_t err) {
    auto* c = static_cast<Connection*>(arg);
    if (!c) {
        if (p) {
            tcp_recved(pcb, p->tot_len);
            pbuf_free(p);
        }
        return ERR_OK;
    }
    c->lastActivity = sys_now();
    if (err != ERR_OK || !p) {
        if (p)
            pbuf_free(p);
        c->peerFinished = true;
        if (c->service == Service::Http)
            handleHttp(*c);
        return settle(c);
    }
    std::string data(p->tot_len, '\0');
    pbuf_copy_partial(p, data.data(), p->tot_len, 0);
    const u16_t length = p->tot_len;
    pbuf_free(p);
    switch (c->service) {
    case Service::Discard:
        tcp_recved(pcb, length);
        break;
    case Service::Echo:
        c->out += data;
        if (c->out.size() < kMaxPendingOutput)
            tcp_recved(pcb, length);
        else
            c->held += length;
        break;
    case Service::Http:
        tcp_recved(pcb, length);
        if (!c->closeAfterOut)
            c->in += data;
        handleHttp(*c);
        break;
    }
    return settle(c);
}

err_t onSent(void* arg, struct tcp_pcb*, u16_t) {
    auto* c = static_cast<Connection*>(arg);
    if (!c)
        return ERR_OK;
    c->lastActivity = sys_now(); // a transfer that moves is not idle
    return settle(c);
}

err_t onPoll(void* arg, struct tcp_pcb*) {
    auto* c = static_cast<Connection*>(arg);
    if (!c)
        return ERR_OK;
    if (sys_now() - c->lastActivity >= kIdleTimeoutMs)
        c->done = true;
    return settle(c);
}

void onError(void* arg, err_t) {
    // The pcb is gone already (RST from the client, or lwIP gave up).
    auto* c = static_cast<Connection*>(arg);
    if (c) {
        g_connections.erase(c);
        delete c;
    }
}

err_t onAccept(void* arg, struct tcp_pcb* pcb, err_t err) {
    if (err != ERR_OK || !pcb)
        return ERR_VAL;
    const auto* listener = static_cast<const Listener*>(arg);
    if (g_connections.size() >= kMaxConnections) {
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    auto* c = new Connection;
    c->pcb = pcb;
    c->port = listener->port;
    c->service = listener->service;
    c->lastActivity = sys_now();
    g_connections.insert(c);
    tcp_arg(pcb, c);
    tcp_recv(pcb, onRecv);
    tcp_sent(pcb, onSent);
    tcp_poll(pcb, onPoll, kPollTicks);
    tcp_err(pcb, onError);
    wake(); // the agent's sampler may have a new connection to follow
    return ERR_OK;
}

// --- The peer agent: socket calls on lwIP's raw API, on fd 4 ------------------------
//
// Everything here runs in the main thread under the core lock, but lwIP's callbacks,
// which may also run in the tcpip thread (its timers; under the lock too): they only
// change a socket's state and wake the main loop, which answers the calls that can
// complete (progress()). A blocking call is answered when it completes; later requests
// are answered meanwhile.

namespace peer = tcplab::peer;

constexpr int kAgentFd = 4;
/// Messages waiting for tcplab to read them; over this, steady samples are skipped (the
/// next one carries what changed) and answers still queue.
constexpr std::size_t kMaxAgentQueue = 4096;
constexpr std::size_t kMaxSockets = 1024;
constexpr std::size_t kMaxParked = 64;
/// Connections a listening socket holds for accept(): lwIP is built without
/// TCP_LISTEN_BACKLOG, so this is the agent's own bound; more are reset.
constexpr std::size_t kMaxAcceptQueue = 128;
constexpr u32_t kSampleIntervalMs = 10;

// Linux's numbers, which the protocol speaks (agent_protocol.h); this program runs on
// Linux, so <cerrno>, <poll.h>, <fcntl.h> and <sys/socket.h> give the same, but
// <netinet/tcp.h> would clash with lwIP's TCP_MSS: the options are spelled out.
constexpr int kAfInet = 2;
constexpr int kAfInet6 = 10;
constexpr int kSockStream = 1;
constexpr int kSockNonblock = 04000;
constexpr int kSockCloexec = 02000000;
constexpr int kIpprotoTcp = 6;
constexpr int kSolSocket = 1;
constexpr int kIpprotoIp = 0;
constexpr int kIpprotoIpv6 = 41;
constexpr int kMsgPeek = 0x2;
constexpr int kMsgDontwait = 0x40;
constexpr int kMsgWaitall = 0x100;
constexpr int kMsgMore = 0x8000;
constexpr int kFGetfl = 3;
constexpr int kFSetfl = 4;
constexpr int kORdwr = 2;
constexpr int kONonblock = 04000;
static_assert(EAGAIN == 11 && ECONNRESET == 104 && POLLIN == 1 && POLLRDHUP == 0x2000 &&
              O_NONBLOCK == kONonblock && SOL_SOCKET == kSolSocket);

constexpr int kSoReuseaddr = 2;
constexpr int kSoType = 3;
constexpr int kSoError = 4;
constexpr int kSoSndbuf = 7;
constexpr int kSoRcvbuf = 8;
constexpr int kSoKeepalive = 9;
constexpr int kSoLinger = 13;
constexpr int kTcpNodelay = 1;
constexpr int kTcpMaxseg = 2;
constexpr int kTcpKeepidle = 4;
constexpr int kTcpKeepintvl = 5;
constexpr int kTcpKeepcnt = 6;
constexpr int kTcpInfo = 11;
constexpr int kIpTos = 1;
constexpr int kIpTtl = 2;
constexpr int kIpv6UnicastHops = 16;
constexpr int kIpv6Tclass = 67;

/// Options lwIP does not have, with the sentence that says so.
struct Missing {
    int level;
    int option;
    const char* sentence;
};
constexpr Missing kMissing[] = {
    {kIpprotoTcp, 3, "lwIP has no TCP_CORK: it cannot hold back partial segments"},
    {kIpprotoTcp, 7,
     "lwIP has no TCP_SYNCNT: it retries a SYN TCP_SYNMAXRTX (6) times, fixed at build time"},
    {kIpprotoTcp, 8, "lwIP has no TCP_LINGER2: its FIN-WAIT-2 timeout is fixed at build time"},
    {kIpprotoTcp, 9, "lwIP has no TCP_DEFER_ACCEPT: it accepts once the handshake completes"},
    {kIpprotoTcp, 10,
     "lwIP has no TCP_WINDOW_CLAMP: its window is TCP_WND (65535 bytes), fixed at build time"},
    {kIpprotoTcp, 11,
     "lwIP has no struct tcp_info: its tcp_pcb's variables come in the samples (call sample)"},
    {kIpprotoTcp, 12,
     "lwIP has no TCP_QUICKACK: it delays every ACK to its fast timer (250 ms) unless data "
     "goes out"},
    {kIpprotoTcp, 13, "lwIP has no TCP_CONGESTION: its one congestion control is Reno (RFC 5681)"},
    {kIpprotoTcp, 18,
     "lwIP has no TCP_USER_TIMEOUT: it gives up after TCP_MAXRTX (12) retransmissions"},
    {kIpprotoTcp, 25, "lwIP has no TCP_NOTSENT_LOWAT"},
    {kSolSocket, 15, "lwIP has no SO_REUSEPORT"},
    {kSolSocket, 18, "lwIP's raw API has no SO_RCVLOWAT: there is no socket layer"},
    {kSolSocket, 10, "lwIP has no urgent data: no SO_OOBINLINE"},
    {kIpprotoIpv6, 26,
     "this agent's IPv6 sockets are lwIP's dual-stack pcbs (IPADDR_TYPE_ANY): IPV6_V6ONLY "
     "cannot be set"},
};

/// The sentence of Hello::limits.
constexpr const char* kLimits =
    "lwIP 2.1.3 on its raw API, as Debian builds it, has no TCP_CORK, TCP_QUICKACK, "
    "TCP_USER_TIMEOUT or TCP_CONGESTION (its one congestion control is Reno), SO_LINGER only "
    "as 1,0 (close aborts with a RST), SO_RCVBUF, SO_SNDBUF and TCP_MAXSEG fixed at build time "
    "(TCP_WND and TCP_SND_BUF 65535 bytes, TCP_MSS 1460), no listen backlog, no SACK, no "
    "timestamps, no sysctls, no ioctls and no getsockopt TCP_INFO: its tcp_pcb's variables come "
    "in the samples, snd_cwnd and snd_ssthresh converted from bytes to segments of its MSS, "
    "rto, rtt and rttvar from its 500 ms timer ticks, without total_retrans (lwIP counts only "
    "the retransmissions of one segment); MSG_MORE only leaves PSH off, and after "
    "shutdown(SHUT_RD) lwIP answers arriving data with a RST";

std::int64_t realtimeNs() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

/// The errno a Linux socket gives for lwIP's `e` (see the table at the top).
int errnoOf(err_t e) {
    switch (e) {
    case ERR_OK:
        return 0;
    case ERR_MEM:
        return ENOMEM;
    case ERR_BUF:
        return ENOBUFS;
    case ERR_TIMEOUT:
        return ETIMEDOUT;
    case ERR_RTE:
        return ENETUNREACH;
    case ERR_INPROGRESS:
        return EINPROGRESS;
    case ERR_VAL:
        return EINVAL;
    case ERR_WOULDBLOCK:
        return EAGAIN;
    case ERR_USE:
        return EADDRINUSE;
    case ERR_ALREADY:
        return EALREADY;
    case ERR_ISCONN:
        return EISCONN;
    case ERR_CONN:
        return ENOTCONN;
    case ERR_IF:
        return EIO;
    case ERR_ABRT:
        return ECONNABORTED;
    case ERR_RST:
        return ECONNRESET;
    case ERR_CLSD:
        return ENOTCONN;
    case ERR_ARG:
        return EINVAL;
    default:
        return EIO;
    }
}

/// Where a socket is in its life, as the socket API sees it.
enum class Role : std::uint8_t {
    Fresh,      ///< made, not bound
    Bound,      ///< bound, neither listening nor connecting
    Listening,  ///< pcb is a tcp_pcb_listen
    Connecting, ///< SYN sent
    Connected,  ///< established once (it may have ended since)
    Failed,     ///< a connect that failed: it may connect again, on a new pcb
};

/// One of the agent's sockets: a pcb, its role, and what the socket layer of a kernel
/// would keep beside it (received bytes not read, a pending error, options).
struct AgentSocket {
    std::int32_t fd = -1; ///< -1 while in a listener's queue
    std::uint64_t inode = newInode();
    bool ipv6 = false; ///< AF_INET6 (a dual-stack pcb)
    /// nullptr once lwIP freed it; while `owned` the agent calls lwIP on it, else lwIP
    /// finishes it alone (after shutdown RDWR) and the samples only watch it.
    struct tcp_pcb* pcb = nullptr;
    bool owned = true;
    Role role = Role::Fresh;
    bool nonBlocking = false;
    bool drain = false;
    bool lingerAbort = false;
    bool noDelay = false;
    bool keepAlive = false;
    bool reuseAddress = false;
    std::optional<u32_t> keepIdleMs, keepIntervalMs, keepCount;
    std::deque<std::unique_ptr<AgentSocket>> accepted; ///< listening: not yet accepted
    std::string remoteText;                            ///< "198.18.0.2:50000"
    std::string received; ///< bytes arrived, not read, from receivedAt on
    std::size_t receivedAt = 0;
    bool finReceived = false;
    bool shutRead = false;
    bool shutWrite = false;
    int error = 0;             ///< the pending error (SO_ERROR), reported once
    std::uint64_t written = 0; ///< bytes given to lwIP: the pattern's offset
    /// The last endpoints sampled, for the samples after the pcb is gone.
    peer::SocketSample last;

    std::size_t unread() const noexcept { return received.size() - receivedAt; }
    /// The pcb, when the agent may call lwIP on it.
    struct tcp_pcb* live() const noexcept {
        return owned ? pcb : nullptr;
    }
    int takeError() noexcept { return std::exchange(error, 0); }
};

std::map<int, std::unique_ptr<AgentSocket>> g_sockets;
bool g_agentOn = false;
std::deque<std::vector<std::uint8_t>> g_agentOut;
std::thread::id g_mainThread;
/// Set while clockFrame() runs lwIP's timers in the main thread.
bool g_inClockStep = false;
u32_t g_lastSampleMs = 0;
/// Whether the last steady sample saw a connection: one more is taken after the last
/// one ends, to say it is gone.
bool g_wasActive = false;

/// Whether the running callback comes from lwIP's timers (tcp_slowtmr gives up).
bool fromTimer() {
    return g_inClockStep || std::this_thread::get_id() != g_mainThread;
}

void agentSend(const peer::Message& message) {
    if (g_agentOn)
        g_agentOut.push_back(peer::encode(message));
}

/// Writes the queued messages; stops at a full socket (POLLOUT brings us back).
void flushAgent() {
    while (g_agentOn && !g_agentOut.empty()) {
        const auto& m = g_agentOut.front();
        const ssize_t n = ::send(kAgentFd, m.data(), m.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
                return;
            g_agentOn = false; // tcplab closed its end: the lab goes on without the agent
            g_agentOut.clear();
            return;
        }
        g_agentOut.pop_front();
    }
}

// --- lwIP's callbacks on the agent's pcbs ---

err_t agentRecv(void* arg, struct tcp_pcb* pcb, struct pbuf* p, err_t) {
    auto* s = static_cast<AgentSocket*>(arg);
    if (!p) {
        if (s)
            s->finReceived = true;
        wake();
        return ERR_OK;
    }
    if (!s || s->drain) {
        // Drained: read and dropped at once, as an application that keeps reading.
        tcp_recved(pcb, p->tot_len);
        pbuf_free(p);
        wake();
        return ERR_OK;
    }
    if (s->receivedAt > 0 && s->receivedAt == s->received.size()) {
        s->received.clear();
        s->receivedAt = 0;
    }
    const std::size_t at = s->received.size();
    s->received.resize(at + p->tot_len);
    pbuf_copy_partial(p, s->received.data() + at, p->tot_len, 0);
    pbuf_free(p);
    // No tcp_recved: the window stays closed by these bytes until the user reads them.
    wake();
    return ERR_OK;
}

err_t agentSent(void*, struct tcp_pcb*, u16_t) {
    wake();
    return ERR_OK;
}

void agentError(void* arg, err_t err) {
    // lwIP has freed the pcb.
    auto* s = static_cast<AgentSocket*>(arg);
    if (!s)
        return;
    s->pcb = nullptr;
    if (err == ERR_CLSD) {
        // Closed normally (our FIN acknowledged after theirs): no error.
    } else if (err == ERR_RST) {
        s->error = s->role == Role::Connecting ? ECONNREFUSED : ECONNRESET;
    } else if (err == ERR_ABRT && fromTimer()) {
        s->error = ETIMEDOUT;
    } else {
        s->error = errnoOf(err);
    }
    if (s->role == Role::Connecting)
        s->role = Role::Failed;
    wake();
}

err_t agentConnected(void* arg, struct tcp_pcb*, err_t) {
    if (auto* s = static_cast<AgentSocket*>(arg))
        s->role = Role::Connected;
    wake();
    return ERR_OK;
}

void attach(AgentSocket& s, struct tcp_pcb* pcb) {
    s.pcb = pcb;
    s.owned = true;
    tcp_arg(pcb, &s);
    tcp_recv(pcb, agentRecv);
    tcp_sent(pcb, agentSent);
    tcp_err(pcb, agentError);
}

/// The options kept on the socket, onto a (new or accepted) pcb.
void applyOptions(const AgentSocket& s, struct tcp_pcb* pcb) {
    if (s.noDelay)
        tcp_nagle_disable(pcb);
    if (s.keepAlive)
        ip_set_option(pcb, SOF_KEEPALIVE);
    if (s.reuseAddress)
        ip_set_option(pcb, SOF_REUSEADDR);
    if (s.keepIdleMs)
        pcb->keep_idle = *s.keepIdleMs;
    if (s.keepIntervalMs)
        pcb->keep_intvl = *s.keepIntervalMs;
    if (s.keepCount)
        pcb->keep_cnt = *s.keepCount;
}

std::string endpointText(const ip_addr_t& address, u16_t port) {
    char text[IPADDR_STRLEN_MAX] = {};
    ipaddr_ntoa_r(&address, text, sizeof text);
    for (char& c : text) // lwIP writes IPv6 in upper case, inet_ntop (and RFC 5952) lower
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return IP_IS_V6_VAL(address) ? "[" + std::string(text) + "]:" + std::to_string(port)
                                 : std::string(text) + ":" + std::to_string(port);
}

err_t agentAccept(void* arg, struct tcp_pcb* pcb, err_t err) {
    auto* listener = static_cast<AgentSocket*>(arg);
    if (err != ERR_OK || !pcb)
        return ERR_VAL;
    if (!listener || listener->accepted.size() >= kMaxAcceptQueue) {
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    auto c = std::make_unique<AgentSocket>();
    c->ipv6 = listener->ipv6;
    c->role = Role::Connected;
    // As Linux's accept: the options are inherited, O_NONBLOCK is not.
    c->lingerAbort = listener->lingerAbort;
    c->noDelay = listener->noDelay;
    c->keepAlive = listener->keepAlive;
    c->reuseAddress = listener->reuseAddress;
    c->keepIdleMs = listener->keepIdleMs;
    c->keepIntervalMs = listener->keepIntervalMs;
    c->keepCount = listener->keepCount;
    c->remoteText = endpointText(pcb->remote_ip, pcb->remote_port);
    applyOptions(*c, pcb);
    attach(*c, pcb);
    listener->accepted.push_back(std::move(c));
    wake();
    return ERR_OK;
}

// --- Which pcbs still exist ---

/// Every pcb in lwIP's lists and its callback_arg: a pointer we hold is alive only if it
/// is here with the arg we gave it.
using PcbArgs = std::unordered_map<const void*, const void*>;

PcbArgs walkPcbs() {
    PcbArgs args;
    for (struct tcp_pcb* const* list : {&tcp_active_pcbs, &tcp_tw_pcbs, &tcp_bound_pcbs})
        for (const struct tcp_pcb* p = *list; p; p = p->next)
            args[p] = p->callback_arg;
    for (const struct tcp_pcb_listen* p = tcp_listen_pcbs.listen_pcbs; p; p = p->next)
        args[p] = p->callback_arg;
    return args;
}

bool alive(const PcbArgs& args, const void* pcb, const void* arg) {
    const auto it = args.find(pcb);
    return it != args.end() && it->second == arg;
}

/// Forgets pcbs lwIP freed without a callback (TIME-WAIT over, a close after
/// shutdown(SHUT_RD), ...). A fresh pcb is in no list, and nothing frees it.
void refresh(AgentSocket& s, const PcbArgs& args) {
    if (s.pcb && s.role != Role::Fresh && !alive(args, s.pcb, &s))
        s.pcb = nullptr;
    for (auto& c : s.accepted)
        refresh(*c, args);
}

void refreshAll() {
    const PcbArgs args = walkPcbs();
    for (auto& [fd, s] : g_sockets)
        refresh(*s, args);
}

/// Any pcb neither LISTEN nor CLOSED (those are in the active and TIME-WAIT lists).
bool anyActive() {
    return tcp_active_pcbs != nullptr || tcp_tw_pcbs != nullptr;
}

// --- The samples ---

std::uint64_t linuxState(enum tcp_state state) {
    switch (state) {
    case CLOSED:
        return 7;
    case LISTEN:
        return 10;
    case SYN_SENT:
        return 2;
    case SYN_RCVD:
        return 3;
    case ESTABLISHED:
        return 1;
    case FIN_WAIT_1:
        return 4;
    case FIN_WAIT_2:
        return 5;
    case CLOSE_WAIT:
        return 8;
    case CLOSING:
        return 11;
    case LAST_ACK:
        return 9;
    case TIME_WAIT:
        return 6;
    }
    return 7;
}

std::vector<std::uint8_t> addressBytes(const ip_addr_t& a) {
    std::vector<std::uint8_t> bytes;
    if (IP_IS_V4_VAL(a)) {
        const u32_t v = ip4_addr_get_u32(ip_2_ip4(&a)); // network order in memory
        bytes.resize(4);
        std::memcpy(bytes.data(), &v, 4);
    } else {
        bytes.resize(16);
        std::memcpy(bytes.data(), ip_2_ip6(&a)->addr, 16);
    }
    return bytes;
}

/// Endpoints, from the members every pcb type shares.
template <typename Pcb>
void endpoints(const Pcb& pcb, peer::SocketSample& s) {
    s.ipv6 = !IP_IS_V4_VAL(pcb.local_ip);
    if (pcb.local_port != 0) {
        s.local = addressBytes(pcb.local_ip);
        s.localPort = pcb.local_port;
    }
}

peer::SocketSample describeListener(const struct tcp_pcb_listen& pcb, std::uint64_t inode,
                                    std::int32_t fd, std::uint32_t waiting) {
    peer::SocketSample s;
    s.inode = inode;
    s.fd = fd;
    endpoints(pcb, s);
    s.receiveQueue = waiting;
    peer::TcpInfo info;
    info.set(peer::TcpInfoField::State, linuxState(pcb.state));
    s.fields = info.pairs();
    return s;
}

/// A tcp_pcb's own variables in tcp_info's fields and units (see the top of the file).
peer::SocketSample describePcb(const struct tcp_pcb& pcb, std::uint64_t inode, std::int32_t fd,
                               std::optional<std::uint32_t> unread) {
    using F = peer::TcpInfoField;
    peer::SocketSample s;
    s.inode = inode;
    s.fd = fd;
    endpoints(pcb, s);
    peer::TcpInfo info;
    info.set(F::State, linuxState(pcb.state));
    if (pcb.state != CLOSED) {
        if (pcb.remote_port != 0) {
            s.remote = addressBytes(pcb.remote_ip);
            s.remotePort = pcb.remote_port;
        }
        s.congestion = "lwip-reno";
        constexpr std::uint64_t kTickUs = TCP_SLOW_INTERVAL * 1000;
        const bool synchronized = pcb.state >= ESTABLISHED;
        info.set(F::Retransmits, pcb.nrtx);
        info.set(F::Rto, std::uint64_t(std::max<int>(pcb.rto, 0)) * kTickUs);
        info.set(F::SndMss, pcb.mss);
        std::uint64_t unacked = 0;
        for (const struct tcp_seg* seg = pcb.unacked; seg; seg = seg->next)
            ++unacked;
        info.set(F::Unacked, unacked);
        std::uint64_t notSent = 0;
        for (const struct tcp_seg* seg = pcb.unsent; seg; seg = seg->next)
            notSent += seg->len;
        info.set(F::NotsentBytes, notSent);
        info.set(F::RcvWnd, pcb.rcv_wnd);
        if (pcb.state >= SYN_RCVD)
            info.set(F::SndWnd, pcb.snd_wnd);
        if (synchronized) {
            const std::uint64_t mss = std::max<u16_t>(pcb.mss, 1);
            info.set(F::CaState, (pcb.flags & TF_INFR) ? 3 : (pcb.flags & TF_RTO) ? 4 : 0);
            info.set(F::Probes, pcb.persist_backoff > 0 ? pcb.persist_probe : pcb.keep_cnt_sent);
            const bool scaled = (pcb.flags & TF_WND_SCALE) != 0;
            info.set(F::Options, scaled ? 4 : 0); // TCPI_OPT_WSCALE
            if (scaled) {
                info.set(F::SndWscale, pcb.snd_scale);
                info.set(F::RcvWscale, pcb.rcv_scale);
            }
            // sa is 8 x SRTT, sv 4 x RTTVAR, both in ticks (tcp_in.c, after Van Jacobson).
            info.set(F::Rtt, std::uint64_t(std::max<int>(pcb.sa, 0)) * kTickUs / 8);
            info.set(F::Rttvar, std::uint64_t(std::max<int>(pcb.sv, 0)) * kTickUs / 4);
            info.set(F::SndSsthresh, pcb.ssthresh / mss);
            info.set(F::SndCwnd, pcb.cwnd / mss);
            s.sendQueue = pcb.snd_lbb - pcb.lastack;
        }
        s.receiveQueue = unread ? *unread : std::uint32_t(TCP_WND_MAX(&pcb) - pcb.rcv_wnd);
    }
    s.fields = info.pairs();
    return s;
}

peer::SocketSample describeSocket(AgentSocket& s) {
    peer::SocketSample out;
    if (s.pcb && s.role == Role::Listening) {
        out = describeListener(*reinterpret_cast<const struct tcp_pcb_listen*>(s.pcb), s.inode,
                               s.fd, static_cast<std::uint32_t>(s.accepted.size()));
    } else if (s.pcb) {
        out = describePcb(*s.pcb, s.inode, s.fd, static_cast<std::uint32_t>(s.unread()));
    } else {
        // The pcb is gone, the socket is not: CLOSE, as Linux shows a reset socket.
        out.inode = s.inode;
        out.fd = s.fd;
        out.ipv6 = s.last.ipv6;
        out.local = s.last.local;
        out.localPort = s.last.localPort;
        out.remote = s.last.remote;
        out.remotePort = s.last.remotePort;
        out.receiveQueue = static_cast<std::uint32_t>(s.unread());
        peer::TcpInfo info;
        info.set(peer::TcpInfoField::State, 7);
        out.fields = info.pairs();
    }
    s.last = out;
    return out;
}

std::map<std::uint64_t, peer::SocketSample> g_lastSent;

/// Every pcb the helper knows, now.
std::vector<peer::SocketSample> snapshot() {
    const PcbArgs args = walkPcbs();
    std::vector<peer::SocketSample> all;
    for (auto& [fd, s] : g_sockets) {
        refresh(*s, args);
        all.push_back(describeSocket(*s));
        for (auto& c : s->accepted)
            all.push_back(describeSocket(*c));
    }
    for (const auto* c : g_connections)
        if (c->pcb)
            all.push_back(describePcb(*c->pcb, c->inode, -1, std::nullopt));
    for (const auto& l : g_listeners)
        if (l.pcb)
            all.push_back(describeListener(*reinterpret_cast<const struct tcp_pcb_listen*>(l.pcb),
                                           l.inode, -1, 0));
    for (auto it = g_orphans.begin(); it != g_orphans.end();) {
        if (alive(args, (*it)->pcb, it->get())) {
            all.push_back(describePcb(*(*it)->pcb, (*it)->inode, -1, std::nullopt));
            ++it;
        } else {
            it = g_orphans.erase(it);
        }
    }
    return all;
}

/// Sends the sockets that changed since they were last sent (every one when `all`), and
/// those gone since (gone = true, once).
void emitSamples(const std::vector<peer::SocketSample>& now, std::uint32_t after, bool all) {
    std::vector<peer::SocketSample> out;
    std::set<std::uint64_t> seen;
    for (const auto& s : now) {
        seen.insert(s.inode);
        const auto it = g_lastSent.find(s.inode);
        if (all || it == g_lastSent.end() || it->second != s) {
            out.push_back(s);
            g_lastSent[s.inode] = s;
        }
    }
    for (auto it = g_lastSent.begin(); it != g_lastSent.end();) {
        if (seen.count(it->first)) {
            ++it;
            continue;
        }
        peer::SocketSample gone = it->second;
        gone.gone = true;
        gone.fields.clear();
        gone.receiveQueue = 0;
        gone.sendQueue = 0;
        out.push_back(std::move(gone));
        it = g_lastSent.erase(it);
    }
    if (out.empty() && !all)
        return;
    const std::int64_t time = realtimeNs();
    std::size_t at = 0;
    do {
        peer::Sample sample;
        sample.timeNs = time;
        sample.after = after;
        const std::size_t n = std::min(out.size() - at, peer::kMaxSampleSockets);
        sample.sockets.assign(out.begin() + static_cast<std::ptrdiff_t>(at),
                              out.begin() + static_cast<std::ptrdiff_t>(at + n));
        at += n;
        agentSend(sample);
    } while (at < out.size());
}

/// The steady rate: every kSampleIntervalMs of lwIP's clock while a connection lives.
void steadySample() {
    if (!g_agentOn || !(anyActive() || g_wasActive))
        return;
    const u32_t now = sys_now();
    if (now - g_lastSampleMs < kSampleIntervalMs)
        return;
    g_lastSampleMs = now;
    g_wasActive = anyActive();
    if (g_agentOut.size() >= kMaxAgentQueue)
        return; // tcplab is not reading: the next sample carries the changes
    emitSamples(snapshot(), 0, false);
}

// --- The calls ---

/// What an answer says, but its id, times and call.
struct Reply {
    peer::Outcome outcome = peer::Outcome::Done;
    std::int64_t result = 0;
    std::int32_t error = 0;
    std::vector<std::int64_t> numbers;
    std::string text;
    std::vector<std::uint8_t> data;
};

Reply ok(std::int64_t result = 0) {
    Reply r;
    r.result = result;
    return r;
}
Reply failed(int error) {
    Reply r;
    r.result = -1;
    r.error = error;
    return r;
}
Reply refused(std::string why) {
    Reply r;
    r.outcome = peer::Outcome::Refused;
    r.result = -1;
    r.text = std::move(why);
    return r;
}

/// A call and its progress: a blocking one waits in g_parked until it can complete.
struct Parked {
    peer::Request request;
    std::int64_t startNs = 0;
    std::uint64_t done = 0;            ///< read, write: bytes so far
    std::vector<std::uint8_t> data;    ///< read: the first kMaxDataBytes of them
    std::optional<u32_t> pollDeadline; ///< poll: lwIP's clock
    bool started = false;              ///< connect: tcp_connect made
};
std::list<Parked> g_parked;

void answer(const Parked& p, Reply r) {
    peer::Answer a;
    a.id = p.request.id;
    a.call = p.request.call;
    a.outcome = r.outcome;
    a.result = r.result;
    a.error = r.error;
    a.startNs = p.startNs;
    a.durationNs = realtimeNs() - p.startNs;
    a.numbers = std::move(r.numbers);
    a.text = std::move(r.text);
    a.data = std::move(r.data);
    agentSend(a);
    if (p.request.call != peer::Call::Sample)
        emitSamples(snapshot(), p.request.id, false);
}

AgentSocket* socketOf(std::int32_t fd) {
    const auto it = g_sockets.find(fd);
    return it == g_sockets.end() ? nullptr : it->second.get();
}

int lowestFreeFd() {
    int fd = 3;
    for (const auto& [used, s] : g_sockets) {
        if (used != fd)
            break;
        ++fd;
    }
    return fd;
}

/// `text` as an address for a socket of the family: "" (or "::" on an IPv6 socket) is
/// any (IP_ANY_TYPE on IPv6: dual-stack, as Linux without IPV6_V6ONLY); an IPv4-mapped
/// IPv6 address is the IPv4 one. An errno when it does not fit.
tl::expected<ip_addr_t, int> addressFor(const AgentSocket& s, const std::string& text) {
    ip_addr_t a;
    if (text.empty() || (s.ipv6 && text == "::")) {
        a = s.ipv6 ? *IP_ANY_TYPE : *IP4_ADDR_ANY;
        return a;
    }
    if (!ipaddr_aton(text.c_str(), &a))
        return tl::make_unexpected(EINVAL);
    if (IP_IS_V6_VAL(a) && ip6_addr_isipv4mappedipv6(ip_2_ip6(&a))) {
        if (!s.ipv6)
            return tl::make_unexpected(EAFNOSUPPORT);
        ip4_addr_t v4;
        unmap_ipv4_mapped_ipv6(&v4, ip_2_ip6(&a));
        ip_addr_copy_from_ip4(a, v4);
        return a;
    }
    if (IP_IS_V6_VAL(a) != s.ipv6)
        return tl::make_unexpected(EAFNOSUPPORT);
    return a;
}

Reply callSocket(const peer::Request& q) {
    const auto family = q.numbers[0];
    const auto type = q.numbers[1];
    const auto protocol = q.numbers[2];
    if (family != kAfInet && family != kAfInet6)
        return failed(EAFNOSUPPORT);
    if ((type & 0xf) != kSockStream)
        return refused("the lwIP agent makes TCP (SOCK_STREAM) sockets only");
    if ((type & ~std::int64_t{0xf} & ~std::int64_t{kSockNonblock | kSockCloexec}) != 0)
        return failed(EINVAL);
    if (protocol != 0 && protocol != kIpprotoTcp)
        return failed(EPROTONOSUPPORT);
    if (g_sockets.size() >= kMaxSockets)
        return failed(EMFILE);
    struct tcp_pcb* pcb = tcp_new_ip_type(family == kAfInet ? IPADDR_TYPE_V4 : IPADDR_TYPE_ANY);
    if (!pcb)
        return failed(ENOMEM);
    auto s = std::make_unique<AgentSocket>();
    s->ipv6 = family == kAfInet6;
    s->nonBlocking = (type & kSockNonblock) != 0;
    attach(*s, pcb);
    const int fd = lowestFreeFd();
    s->fd = fd;
    g_sockets[fd] = std::move(s);
    return ok(fd);
}

Reply callBind(AgentSocket& s, const peer::Request& q) {
    if (s.role != Role::Fresh || !s.live())
        return failed(EINVAL);
    const auto address = addressFor(s, q.text);
    if (!address)
        return failed(address.error());
    const err_t e = tcp_bind(s.pcb, &*address, static_cast<u16_t>(q.numbers[0]));
    if (e != ERR_OK)
        return failed(e == ERR_BUF ? EADDRNOTAVAIL : errnoOf(e));
    s.role = Role::Bound;
    return ok();
}

Reply callListen(AgentSocket& s, const peer::Request& q) {
    if (s.role == Role::Listening && s.pcb)
        return ok(); // as Linux: listen again only changes the backlog (lwIP keeps none)
    if ((s.role != Role::Fresh && s.role != Role::Bound) || !s.live())
        return failed(EINVAL);
    if (s.pcb->local_port == 0) {
        // As Linux: an unbound socket listens on a port of its own.
        const err_t e = tcp_bind(s.pcb, s.ipv6 ? IP_ANY_TYPE : IP4_ADDR_ANY, 0);
        if (e != ERR_OK)
            return failed(e == ERR_BUF ? EADDRNOTAVAIL : errnoOf(e));
    }
    const auto backlog = static_cast<u8_t>(std::clamp<std::int64_t>(
        q.numbers[0] < 0 ? 255 : q.numbers[0], 0, 255)); // not kept: no TCP_LISTEN_BACKLOG
    err_t e = ERR_OK;
    // tcp_listen frees the pcb and makes a tcp_pcb_listen with its callback_arg.
    struct tcp_pcb* listening = tcp_listen_with_backlog_and_err(s.pcb, backlog, &e);
    if (!listening)
        return failed(errnoOf(e));
    s.pcb = listening;
    s.role = Role::Listening;
    tcp_accept(listening, agentAccept);
    return ok();
}

std::optional<Reply> callAccept(AgentSocket& s) {
    if (s.role != Role::Listening || !s.pcb)
        return failed(EINVAL);
    if (s.accepted.empty()) {
        if (s.nonBlocking)
            return failed(EAGAIN);
        return std::nullopt;
    }
    if (g_sockets.size() >= kMaxSockets)
        return failed(EMFILE);
    auto c = std::move(s.accepted.front());
    s.accepted.pop_front();
    const int fd = lowestFreeFd();
    c->fd = fd;
    Reply r = ok(fd);
    r.text = c->remoteText;
    g_sockets[fd] = std::move(c);
    return r;
}

std::optional<Reply> callConnect(AgentSocket& s, Parked& p) {
    const peer::Request& q = p.request;
    if (p.started) {
        // Waiting for the handshake.
        if (s.role == Role::Connected)
            return ok();
        if (s.role == Role::Failed)
            return failed(s.error ? s.takeError() : ECONNREFUSED);
        return std::nullopt;
    }
    switch (s.role) {
    case Role::Listening:
    case Role::Connected:
        return failed(EISCONN);
    case Role::Connecting:
        return failed(EALREADY);
    case Role::Failed: {
        // As Linux: a socket whose connect failed may connect again; lwIP freed its pcb.
        struct tcp_pcb* pcb = tcp_new_ip_type(s.ipv6 ? IPADDR_TYPE_ANY : IPADDR_TYPE_V4);
        if (!pcb)
            return failed(ENOMEM);
        applyOptions(s, pcb);
        attach(s, pcb);
        s.error = 0;
        s.role = Role::Fresh;
        break;
    }
    case Role::Fresh:
    case Role::Bound:
        break;
    }
    if (!s.live())
        return failed(EINVAL);
    const auto address = addressFor(s, q.text);
    if (!address)
        return failed(address.error());
    const err_t e = tcp_connect(s.pcb, &*address, static_cast<u16_t>(q.numbers[0]), agentConnected);
    if (e != ERR_OK)
        return failed(e == ERR_BUF ? EADDRNOTAVAIL : errnoOf(e));
    s.role = Role::Connecting;
    p.started = true;
    if (s.nonBlocking)
        return failed(EINPROGRESS);
    return std::nullopt;
}

/// Gives lwIP back the window of `n` bytes the user has read.
void reopen(AgentSocket& s, std::size_t n) {
    struct tcp_pcb* pcb = s.live();
    if (!pcb)
        return;
    while (n > 0) {
        const auto step = static_cast<u16_t>(std::min<std::size_t>(n, 0xffff));
        tcp_recved(pcb, step);
        n -= step;
    }
}

std::optional<Reply> callRead(AgentSocket& s, Parked& p) {
    const auto count = static_cast<std::uint64_t>(p.request.numbers[0]);
    const auto flags = p.request.numbers[1];
    const bool peek = (flags & kMsgPeek) != 0;
    const bool dontWait = s.nonBlocking || (flags & kMsgDontwait) != 0;
    if (s.role == Role::Listening || s.role == Role::Fresh || s.role == Role::Bound)
        return failed(ENOTCONN);
    if (s.role == Role::Failed)
        return failed(s.error ? s.takeError() : ENOTCONN);
    if (count == 0)
        return ok(0);
    const std::size_t available = s.unread();
    if (peek) {
        if (available > 0) {
            const std::size_t n = std::min<std::uint64_t>(available, count);
            Reply r = ok(static_cast<std::int64_t>(n));
            const std::size_t shown = std::min(n, peer::kMaxDataBytes);
            r.data.assign(s.received.begin() + static_cast<std::ptrdiff_t>(s.receivedAt),
                          s.received.begin() + static_cast<std::ptrdiff_t>(s.receivedAt + shown));
            return r;
        }
    } else if (available > 0) {
        const std::size_t n = std::min<std::uint64_t>(available, count - p.done);
        const std::size_t shown =
            std::min(n, peer::kMaxDataBytes - std::min(peer::kMaxDataBytes, p.data.size()));
        const auto* from = reinterpret_cast<const std::uint8_t*>(s.received.data()) + s.receivedAt;
        p.data.insert(p.data.end(), from, from + shown);
        s.receivedAt += n;
        if (s.receivedAt == s.received.size()) {
            s.received.clear();
            s.receivedAt = 0;
        } else if (s.receivedAt >= 65536) {
            s.received.erase(0, s.receivedAt);
            s.receivedAt = 0;
        }
        p.done += n;
        reopen(s, n); // the window opens by what was read: tcp_recved
    }
    const bool waitAll = (flags & kMsgWaitall) != 0 && !peek;
    const bool ended = s.finReceived || s.shutRead || !s.live() || s.error != 0;
    if (p.done > 0 && (!waitAll || p.done >= count || ended)) {
        Reply r = ok(static_cast<std::int64_t>(p.done));
        r.data = std::move(p.data);
        return r;
    }
    if (p.done == 0) {
        if (s.error != 0)
            return failed(s.takeError());
        if (s.finReceived || s.shutRead || (!s.live() && s.role != Role::Connecting))
            return ok(0);
    }
    if (dontWait) {
        if (p.done > 0) {
            Reply r = ok(static_cast<std::int64_t>(p.done));
            r.data = std::move(p.data);
            return r;
        }
        return failed(EAGAIN);
    }
    return std::nullopt;
}

std::optional<Reply> callWrite(AgentSocket& s, Parked& p) {
    const peer::Request& q = p.request;
    const auto count = static_cast<std::uint64_t>(q.numbers[0]);
    const auto flags = q.numbers[1];
    const bool dontWait = s.nonBlocking || (flags & kMsgDontwait) != 0;
    const auto partial = [&p](int error) -> Reply {
        return p.done > 0 ? ok(static_cast<std::int64_t>(p.done)) : failed(error);
    };
    if (s.role == Role::Listening || s.role == Role::Fresh || s.role == Role::Bound)
        return failed(EPIPE); // as Linux's tcp_sendmsg on a socket never connected
    if (s.error != 0)
        return p.done > 0 ? ok(static_cast<std::int64_t>(p.done)) : failed(s.takeError());
    if (s.role == Role::Failed)
        return partial(EPIPE);
    if (s.role == Role::Connecting) {
        if (dontWait)
            return failed(EAGAIN);
        return std::nullopt;
    }
    struct tcp_pcb* pcb = s.live();
    if (s.shutWrite || !pcb)
        return partial(EPIPE);
    std::vector<std::uint8_t> chunk;
    bool wrote = false;
    while (p.done < count) {
        const std::size_t room = tcp_sndbuf(pcb);
        if (room == 0)
            break;
        const auto n = static_cast<u16_t>(std::min<std::uint64_t>({count - p.done, room, 0xffff}));
        const std::uint8_t* bytes = nullptr;
        if (!q.data.empty()) {
            bytes = q.data.data() + p.done;
        } else {
            chunk.resize(n);
            peer::fillPattern(chunk.data(), n, s.written);
            bytes = chunk.data();
        }
        const u8_t writeFlags =
            TCP_WRITE_FLAG_COPY | ((flags & kMsgMore) ? TCP_WRITE_FLAG_MORE : 0);
        const err_t e = tcp_write(pcb, bytes, n, writeFlags);
        if (e == ERR_MEM)
            break; // its segment queue is full: the sent callback brings us back
        if (e != ERR_OK) {
            if (wrote)
                tcp_output(pcb);
            return partial(errnoOf(e));
        }
        p.done += n;
        s.written += n;
        wrote = true;
    }
    if (wrote)
        tcp_output(pcb);
    if (p.done == count)
        return ok(static_cast<std::int64_t>(count));
    if (dontWait)
        return partial(EAGAIN);
    return std::nullopt;
}

Reply callShutdown(AgentSocket& s, const peer::Request& q) {
    const auto how = q.numbers[0];
    if (how < 0 || how > 2)
        return failed(EINVAL);
    if (s.role == Role::Listening) // lwIP: a listening pcb cannot be shut down
        return failed(s.pcb ? errnoOf(tcp_shutdown(s.pcb, how != 1, how != 0)) : ENOTCONN);
    if (s.role != Role::Connected && s.role != Role::Connecting)
        return failed(ENOTCONN);
    struct tcp_pcb* pcb = s.live();
    if (!pcb) {
        if (how != 1)
            s.shutRead = true;
        if (how != 0)
            s.shutWrite = true;
        return s.pcb ? ok() : failed(ENOTCONN);
    }
    if (how == 2) {
        // lwIP's raw API: shutting down both sides is closing. lwIP finishes the pcb
        // alone (FIN, or a RST if bytes wait unread); the socket stays, and the samples
        // watch the pcb.
        tcp_recv(pcb, nullptr);
        tcp_sent(pcb, nullptr);
        tcp_err(pcb, nullptr);
        const err_t e = tcp_shutdown(pcb, 1, 1);
        if (e != ERR_OK) {
            attach(s, pcb);
            return failed(errnoOf(e));
        }
        s.owned = false;
        s.shutRead = s.shutWrite = true;
        return ok();
    }
    const err_t e = tcp_shutdown(pcb, how == 0, how == 1);
    if (e != ERR_OK)
        return failed(errnoOf(e));
    (how == 0 ? s.shutRead : s.shutWrite) = true;
    return ok();
}

void answerParkedOn(std::int32_t fd, int error);

Reply callClose(std::int32_t fd) {
    AgentSocket* s = socketOf(fd);
    if (!s)
        return failed(EBADF);
    answerParkedOn(fd, EBADF);
    refreshAll();
    if (s->role == Role::Listening && s->pcb) {
        // As Linux: the connections not accepted yet are reset.
        for (auto& c : s->accepted)
            if (struct tcp_pcb* pcb = c->live()) {
                tcp_arg(pcb, nullptr);
                tcp_recv(pcb, nullptr);
                tcp_sent(pcb, nullptr);
                tcp_err(pcb, nullptr);
                tcp_abort(pcb);
            }
        s->accepted.clear();
        tcp_arg(s->pcb, nullptr);
        tcp_close(s->pcb); // a listening pcb is freed at once
    } else if (struct tcp_pcb* pcb = s->live()) {
        if (s->lingerAbort && s->role == Role::Connected) {
            // SO_LINGER {1, 0}: abort, with a RST (tcp_abort frees the pcb).
            tcp_arg(pcb, nullptr);
            tcp_recv(pcb, nullptr);
            tcp_sent(pcb, nullptr);
            tcp_err(pcb, nullptr);
            tcp_abort(pcb);
        } else {
            orphan(pcb, s->inode);
            if (tcp_close(pcb) != ERR_OK)
                tcp_abort(pcb);
        }
    } else if (s->pcb) {
        // lwIP finishes it alone already (shutdown RDWR): the samples follow it on.
        auto o = std::make_unique<Orphan>();
        o->inode = s->inode;
        o->pcb = s->pcb;
        tcp_arg(s->pcb, o.get());
        g_orphans.push_back(std::move(o));
    }
    g_sockets.erase(fd);
    return ok();
}

/// A socket's poll(2) events now, as Linux's tcp_poll gives them.
short pollEvents(const AgentSocket& s) {
    short mask = 0;
    switch (s.role) {
    case Role::Listening:
        return s.accepted.empty() ? 0 : POLLIN;
    case Role::Fresh:
    case Role::Bound:
        return POLLOUT | POLLHUP;
    case Role::Connecting:
        return 0;
    case Role::Failed:
        return POLLOUT | POLLHUP | POLLERR;
    case Role::Connected:
        break;
    }
    const struct tcp_pcb* pcb = s.live();
    const bool gone = !pcb;
    if (s.unread() > 0 || s.finReceived || s.shutRead || gone)
        mask |= POLLIN;
    if (s.finReceived || gone)
        mask |= POLLRDHUP;
    if (s.shutWrite || gone)
        mask |= POLLOUT; // as Linux: writable, to get EPIPE
    else if (tcp_sndbuf(pcb) > 0 && tcp_sndqueuelen(pcb) < TCP_SND_QUEUELEN)
        mask |= POLLOUT;
    if ((s.finReceived && s.shutWrite) || gone)
        mask |= POLLHUP;
    if (s.error != 0)
        mask |= POLLERR;
    return mask;
}

std::optional<Reply> callPoll(Parked& p) {
    const auto& n = p.request.numbers;
    const std::int64_t timeout = n[0];
    Reply r = ok();
    int ready = 0;
    for (std::size_t i = 1; i + 1 < n.size(); i += 2) {
        const AgentSocket* s = socketOf(static_cast<std::int32_t>(n[i]));
        const short events = static_cast<short>(n[i + 1]);
        const short revents =
            s ? static_cast<short>(pollEvents(*s) & (events | POLLERR | POLLHUP)) : POLLNVAL;
        r.numbers.push_back(revents);
        if (revents != 0)
            ++ready;
    }
    r.result = ready;
    if (ready > 0 || timeout == 0)
        return r;
    if (timeout > 0) {
        // The timeout runs on lwIP's clock: the virtual one with --virtual-clock.
        if (!p.pollDeadline)
            p.pollDeadline =
                sys_now() + static_cast<u32_t>(std::min<std::int64_t>(timeout, 1 << 30));
        if (static_cast<std::int32_t>(sys_now() - *p.pollDeadline) >= 0)
            return r;
    }
    return std::nullopt;
}

Reply callFcntl(AgentSocket& s, const peer::Request& q) {
    if (q.numbers[0] == kFGetfl)
        return ok(kORdwr | (s.nonBlocking ? kONonblock : 0));
    if (q.numbers[0] == kFSetfl) {
        s.nonBlocking = (q.numbers[1] & kONonblock) != 0;
        return ok();
    }
    return failed(EINVAL);
}

std::optional<int> intValue(const std::vector<std::uint8_t>& data) {
    if (data.size() < 4)
        return std::nullopt;
    int v = 0;
    std::memcpy(&v, data.data(), 4);
    return v;
}

std::vector<std::uint8_t> intBytes(int v) {
    std::vector<std::uint8_t> out(4);
    std::memcpy(out.data(), &v, 4);
    return out;
}

const Missing* missingOption(int level, int option) {
    for (const auto& m : kMissing)
        if (m.level == level && m.option == option)
            return &m;
    return nullptr;
}

Reply callSetSockOpt(AgentSocket& s, const peer::Request& q) {
    const auto level = static_cast<int>(q.numbers[0]);
    const auto option = static_cast<int>(q.numbers[1]);
    if (const Missing* m = missingOption(level, option))
        return refused(m->sentence);
    struct tcp_pcb* pcb = s.live();
    // A tcp_pcb_listen has the common members only (so_options, ttl, tos); the rest is
    // kept on the socket and given to the connections it accepts.
    struct tcp_pcb* connection = s.role == Role::Listening ? nullptr : pcb;
    if (level == kSolSocket && option == kSoLinger) {
        if (q.data.size() < 8)
            return failed(EINVAL);
        int on = 0;
        int seconds = 0;
        std::memcpy(&on, q.data.data(), 4);
        std::memcpy(&seconds, q.data.data() + 4, 4);
        if (on != 0 && seconds != 0)
            return refused("lwIP has no lingering close (tcp_close returns at once): SO_LINGER "
                           "takes 1,0 (close aborts with a RST, tcp_abort) or 0");
        s.lingerAbort = on != 0;
        return ok();
    }
    if ((level == kSolSocket && (option == kSoRcvbuf || option == kSoSndbuf)))
        return refused(option == kSoRcvbuf
                           ? "lwIP's receive window is TCP_WND (65535 bytes), fixed at build "
                             "time: SO_RCVBUF cannot change it"
                           : "lwIP's send buffer is TCP_SND_BUF (65535 bytes), fixed at build "
                             "time: SO_SNDBUF cannot change it");
    if (level == kIpprotoTcp && option == kTcpMaxseg)
        return refused("lwIP's MSS is TCP_MSS (1460), fixed at build time, and the peer's "
                       "option: TCP_MAXSEG cannot be set");
    const auto value = intValue(q.data);
    if (!value)
        return failed(EINVAL);
    const int v = *value;
    if (level == kSolSocket && option == kSoReuseaddr) {
        s.reuseAddress = v != 0;
        if (pcb && v)
            ip_set_option(pcb, SOF_REUSEADDR);
        else if (pcb)
            ip_reset_option(pcb, SOF_REUSEADDR);
        return ok();
    }
    if (level == kSolSocket && option == kSoKeepalive) {
        s.keepAlive = v != 0;
        if (pcb && v)
            ip_set_option(pcb, SOF_KEEPALIVE);
        else if (pcb)
            ip_reset_option(pcb, SOF_KEEPALIVE);
        return ok();
    }
    if (level == kIpprotoTcp && option == kTcpNodelay) {
        s.noDelay = v != 0;
        if (connection) {
            if (v)
                tcp_nagle_disable(connection);
            else
                tcp_nagle_enable(connection);
        }
        return ok();
    }
    if (level == kIpprotoTcp &&
        (option == kTcpKeepidle || option == kTcpKeepintvl || option == kTcpKeepcnt)) {
        // Linux's ranges: seconds 1 to 32767, probes 1 to 127.
        if (v < 1 || v > (option == kTcpKeepcnt ? 127 : 32767))
            return failed(EINVAL);
        const auto u = static_cast<u32_t>(v);
        if (option == kTcpKeepidle)
            s.keepIdleMs = u * 1000;
        else if (option == kTcpKeepintvl)
            s.keepIntervalMs = u * 1000;
        else
            s.keepCount = u;
        if (connection)
            applyOptions(s, connection);
        return ok();
    }
    if ((level == kIpprotoIp && (option == kIpTtl || option == kIpTos)) ||
        (level == kIpprotoIpv6 && (option == kIpv6UnicastHops || option == kIpv6Tclass))) {
        const bool ttl = option == kIpTtl || option == kIpv6UnicastHops;
        if (v < -1 || v > 255)
            return failed(EINVAL);
        if (pcb) {
            if (ttl)
                pcb->ttl = static_cast<u8_t>(v == -1 ? TCP_TTL : v);
            else
                pcb->tos = static_cast<u8_t>(v == -1 ? 0 : v);
        }
        return ok();
    }
    return failed(ENOPROTOOPT);
}

Reply callGetSockOpt(AgentSocket& s, const peer::Request& q) {
    const auto level = static_cast<int>(q.numbers[0]);
    const auto option = static_cast<int>(q.numbers[1]);
    const auto length = static_cast<std::size_t>(q.numbers[2]);
    if (const Missing* m = missingOption(level, option))
        return refused(m->sentence);
    const struct tcp_pcb* pcb = s.live();
    const struct tcp_pcb* connection = s.role == Role::Listening ? nullptr : pcb;
    std::vector<std::uint8_t> value;
    if (level == kSolSocket && option == kSoLinger) {
        value = intBytes(s.lingerAbort ? 1 : 0);
        const auto zero = intBytes(0);
        value.insert(value.end(), zero.begin(), zero.end());
    } else if (level == kSolSocket && option == kSoReuseaddr) {
        value = intBytes(s.reuseAddress ? 1 : 0);
    } else if (level == kSolSocket && option == kSoKeepalive) {
        value = intBytes(s.keepAlive ? 1 : 0);
    } else if (level == kSolSocket && option == kSoError) {
        value = intBytes(s.takeError());
    } else if (level == kSolSocket && option == kSoType) {
        value = intBytes(kSockStream);
    } else if (level == kSolSocket && option == kSoRcvbuf) {
        value = intBytes(TCP_WND);
    } else if (level == kSolSocket && option == kSoSndbuf) {
        value = intBytes(TCP_SND_BUF);
    } else if (level == kIpprotoTcp && option == kTcpNodelay) {
        value = intBytes(connection ? (tcp_nagle_disabled(connection) ? 1 : 0) : s.noDelay);
    } else if (level == kIpprotoTcp && option == kTcpMaxseg) {
        // A connection's MSS (536 until the peer's option says more); a listener
        // announces TCP_MSS.
        value = intBytes(connection ? connection->mss : TCP_MSS);
    } else if (level == kIpprotoTcp && option == kTcpKeepidle) {
        value = intBytes(static_cast<int>(
            (connection ? connection->keep_idle : s.keepIdleMs.value_or(TCP_KEEPIDLE_DEFAULT)) /
            1000));
    } else if (level == kIpprotoTcp && option == kTcpKeepintvl) {
        value = intBytes(
            static_cast<int>((connection ? connection->keep_intvl
                                         : s.keepIntervalMs.value_or(TCP_KEEPINTVL_DEFAULT)) /
                             1000));
    } else if (level == kIpprotoTcp && option == kTcpKeepcnt) {
        value = intBytes(static_cast<int>(connection ? connection->keep_cnt
                                                     : s.keepCount.value_or(TCP_KEEPCNT_DEFAULT)));
    } else if (level == kIpprotoIp && (option == kIpTtl || option == kIpTos)) {
        value = intBytes(pcb ? (option == kIpTtl ? pcb->ttl : pcb->tos)
                             : (option == kIpTtl ? TCP_TTL : 0));
    } else if (level == kIpprotoIpv6 && (option == kIpv6UnicastHops || option == kIpv6Tclass)) {
        value = intBytes(pcb ? (option == kIpv6UnicastHops ? pcb->ttl : pcb->tos)
                             : (option == kIpv6UnicastHops ? TCP_TTL : 0));
    } else if (level == kIpprotoTcp && option == kTcpInfo) {
        return refused(missingOption(kIpprotoTcp, kTcpInfo)->sentence);
    } else {
        return failed(ENOPROTOOPT);
    }
    value.resize(std::min(value.size(), length));
    Reply r = ok();
    r.data = std::move(value);
    return r;
}

Reply callDrain(AgentSocket& s, const peer::Request& q) {
    s.drain = q.numbers[0] != 0;
    if (s.drain && s.unread() > 0) {
        const std::size_t n = s.unread();
        s.received.clear();
        s.receivedAt = 0;
        reopen(s, n);
    }
    return ok();
}

/// One call, first made or tried again: the reply, or nullopt while it must wait.
std::optional<Reply> run(Parked& p) {
    const peer::Request& q = p.request;
    using peer::Call;
    switch (q.call) {
    case Call::Socket:
        return callSocket(q);
    case Call::Poll:
        return callPoll(p);
    case Call::Sysctl:
        return refused("lwIP has no sysctls: its TCP settings are compile-time options of the "
                       "Debian build (TCP_MSS 1460, TCP_WND and TCP_SND_BUF 65535, window "
                       "scaling on, no SACK, no timestamps)");
    case Call::SysctlList: {
        Reply r = ok(0);
        r.text = "lwIP has no sysctls: its TCP settings are fixed when the library is built";
        return r;
    }
    case Call::Ioctl:
        return refused("lwIP's raw API has no ioctls (no SIOCINQ, no SIOCOUTQ): the bytes "
                       "waiting are in the samples (receive_queue, send_queue)");
    case Call::Sample:
        return ok(); // answered by handleRequest with its count
    case Call::Close:
        return callClose(q.fd);
    default:
        break;
    }
    AgentSocket* s = socketOf(q.fd);
    if (!s)
        return failed(EBADF);
    switch (q.call) {
    case Call::Bind:
        return callBind(*s, q);
    case Call::Listen:
        return callListen(*s, q);
    case Call::Accept:
        return callAccept(*s);
    case Call::Connect:
        return callConnect(*s, p);
    case Call::Read:
        return callRead(*s, p);
    case Call::Write:
        return callWrite(*s, p);
    case Call::Shutdown:
        return callShutdown(*s, q);
    case Call::Fcntl:
        return callFcntl(*s, q);
    case Call::SetSockOpt:
        return callSetSockOpt(*s, q);
    case Call::GetSockOpt:
        return callGetSockOpt(*s, q);
    case Call::Drain:
        return callDrain(*s, q);
    default:
        break;
    }
    return refused("the lwIP agent does not know this call");
}

/// The calls waiting on `fd` end: it is being closed.
void answerParkedOn(std::int32_t fd, int error) {
    for (auto it = g_parked.begin(); it != g_parked.end();) {
        if (it->request.call != peer::Call::Poll && it->request.fd == fd) {
            const Parked p = std::move(*it);
            it = g_parked.erase(it);
            answer(p, failed(error));
        } else {
            ++it;
        }
    }
}

void handleRequest(peer::Request q) {
    Parked p;
    p.startNs = realtimeNs();
    p.request = std::move(q);
    if (auto invalid = peer::validate(p.request)) {
        answer(p, refused(*invalid));
        return;
    }
    refreshAll();
    if (p.request.call == peer::Call::Sample) {
        const auto now = snapshot();
        answer(p, ok(static_cast<std::int64_t>(now.size())));
        emitSamples(now, p.request.id, true);
        return;
    }
    if (auto reply = run(p)) {
        answer(p, std::move(*reply));
        return;
    }
    if (g_parked.size() >= kMaxParked) {
        answer(p, refused("too many blocking calls wait at once in the lwIP agent; make this one "
                          "non-blocking or wait for one to return"));
        return;
    }
    g_parked.push_back(std::move(p));
}

/// Answers the waiting calls that can complete now.
void progress() {
    if (g_parked.empty())
        return;
    refreshAll();
    for (int round = 0; round < 4; ++round) {
        bool answered = false;
        for (auto it = g_parked.begin(); it != g_parked.end();) {
            if (auto reply = run(*it)) {
                const Parked p = std::move(*it);
                it = g_parked.erase(it);
                answer(p, std::move(*reply));
                answered = true;
            } else {
                ++it;
            }
        }
        if (!answered)
            break;
    }
}

/// The next moment (lwIP's clock) the main loop must look: a poll's timeout or the next
/// steady sample; nullopt when nothing is due.
std::optional<u32_t> nextDueMs() {
    std::optional<u32_t> due;
    const auto earliest = [&due](u32_t t) {
        if (!due || static_cast<std::int32_t>(t - *due) < 0)
            due = t;
    };
    for (const auto& p : g_parked)
        if (p.pollDeadline)
            earliest(*p.pollDeadline);
    if (g_agentOn && (anyActive() || g_wasActive))
        earliest(g_lastSampleMs + kSampleIntervalMs);
    return due;
}

/// Handles the requests that wait on fd 4 (at most `max`); the agent ends when tcplab
/// closes its end.
void readRequests(std::vector<std::uint8_t>& buffer, int max) {
    for (int i = 0; i < max && g_agentOn; ++i) {
        const ssize_t n = ::recv(kAgentFd, buffer.data(), buffer.size(), MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                g_agentOn = false;
            return;
        }
        if (n == 0) {
            g_agentOn = false; // tcplab is done with the agent; the lab goes on
            return;
        }
        if (static_cast<std::size_t>(n) > buffer.size())
            continue; // over the protocol's limit: not a message
        auto message = peer::decode({buffer.data(), static_cast<std::size_t>(n)});
        if (!message) {
            std::fprintf(stderr, "tcplab-lwip-helper: agent: %s\n",
                         message.error().message.c_str());
            continue;
        }
        if (auto* request = std::get_if<peer::Request>(&*message)) {
            LOCK_TCPIP_CORE();
            handleRequest(std::move(*request));
            UNLOCK_TCPIP_CORE();
        }
    }
}

void startAgent() {
    int type = 0;
    socklen_t length = sizeof type;
    if (::getsockopt(kAgentFd, SOL_SOCKET, SO_TYPE, &type, &length) != 0 ||
        type != SOCK_SEQPACKET) {
        std::fprintf(stderr, "tcplab-lwip-helper: --agent: fd 4 is not a SOCK_SEQPACKET socket; "
                             "the lab goes on without its agent\n");
        return;
    }
    g_agentOn = true;
    peer::Hello hello;
    hello.stack = "lwip";
    hello.release = LWIP_VERSION_STRING;
    hello.pid = static_cast<std::int32_t>(::getpid());
    hello.limits = kLimits;
    agentSend(hello);
    flushAgent();
}

// --- Start-up and the frame loop -----------------------------------------------------

struct Arguments {
    std::array<std::uint8_t, 6> mac{};
    bool haveMac = false;
    std::string ipv4;
    unsigned prefix4 = 24;
    std::string ipv6;
    std::vector<Listener> listeners;
    bool virtualClock = false;
    bool agent = false; ///< fd 4 carries the peer agent's protocol
};

bool parseMac(const std::string& text, std::array<std::uint8_t, 6>& mac) {
    unsigned v[6];
    char tail = 0;
    if (std::sscanf(text.c_str(), "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                    &tail) != 6)
        return false;
    for (int i = 0; i < 6; ++i) {
        if (v[i] > 0xff)
            return false;
        mac[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v[i]);
    }
    return (mac[0] & 1) == 0;
}

Arguments parseArguments(int argc, char** argv) {
    Arguments a;
    for (int i = 1; i < argc; ++i) {
        const std::string key = argv[i];
        if (key == "--virtual-clock") {
            a.virtualClock = true;
            continue;
        }
        if (key == "--agent") {
            a.agent = true;
            continue;
        }
        if (i + 1 >= argc)
            fail("usage: " + key + " needs a value", 2);
        const std::string value = argv[++i];
        if (key == "--mac") {
            if (!parseMac(value, a.mac))
                fail("usage: '" + value + "' is not a unicast MAC address", 2);
            a.haveMac = true;
        } else if (key == "--ipv4") {
            const auto slash = value.find('/');
            a.ipv4 = value.substr(0, slash);
            if (slash != std::string::npos)
                a.prefix4 = static_cast<unsigned>(std::atoi(value.c_str() + slash + 1));
            if (a.prefix4 > 32)
                fail("usage: bad IPv4 prefix in '" + value + "'", 2);
        } else if (key == "--ipv6") {
            a.ipv6 = value.substr(0, value.find('/')); // lwIP keeps no prefix: on-link /64
        } else if (key == "--port") {
            const auto colon = value.find(':');
            const long port = std::strtol(value.substr(0, colon).c_str(), nullptr, 10);
            const std::string name = colon == std::string::npos ? "http" : value.substr(colon + 1);
            Listener l;
            if (port <= 0 || port > 65535)
                fail("usage: bad port '" + value + "'", 2);
            l.port = static_cast<std::uint16_t>(port);
            if (name == "http")
                l.service = Service::Http;
            else if (name == "discard")
                l.service = Service::Discard;
            else if (name == "echo")
                l.service = Service::Echo;
            else
                fail("usage: unknown service '" + name + "'", 2);
            a.listeners.push_back(l);
        } else {
            fail("usage: unknown option " + key, 2);
        }
    }
    if (!a.haveMac || a.ipv4.empty() || a.ipv6.empty() || a.listeners.empty())
        fail("usage: --mac, --ipv4, --ipv6 and at least one --port are needed", 2);
    return a;
}

std::string macText(const std::array<std::uint8_t, 6>& mac) {
    char text[18];
    std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
                  mac[3], mac[4], mac[5]);
    return text;
}

/// Builds the netif and the listeners; under the core lock. An error message or "".
std::string setUp(const Arguments& a) {
    ip4_addr_t address;
    ip4_addr_t netmask;
    ip4_addr_t gateway;
    if (!ip4addr_aton(a.ipv4.c_str(), &address))
        return "'" + a.ipv4 + "' is not an IPv4 address";
    const std::uint32_t mask = a.prefix4 == 0 ? 0 : ~std::uint32_t{0} << (32 - a.prefix4);
    ip4_addr_set_u32(&netmask, lwip_htonl(mask));
    ip4_addr_set_zero(&gateway);
    ip6_addr_t address6;
    if (!ip6addr_aton(a.ipv6.c_str(), &address6))
        return "'" + a.ipv6 + "' is not an IPv6 address";
    g_mac = a.mac;
    if (!netif_add(&g_netif, &address, &netmask, &gateway, nullptr, netifInit, ethernet_input))
        return "netif_add failed";
    netif_set_default(&g_netif);
    // Configured addresses, usable at once: no DAD, no router solicitation.
    netif_create_ip6_linklocal_address(&g_netif, 1);
    netif_ip6_addr_set_state(&g_netif, 0, IP6_ADDR_PREFERRED);
    s8_t index = -1;
    if (netif_add_ip6_address(&g_netif, &address6, &index) != ERR_OK || index < 0)
        return "cannot add the IPv6 address " + a.ipv6;
    netif_ip6_addr_set_state(&g_netif, index, IP6_ADDR_PREFERRED);
    netif_set_up(&g_netif);
    netif_set_link_up(&g_netif);
    g_netif.rs_count = 0; // set after up and link up, which restart ND

    g_listeners = a.listeners;
    for (auto& l : g_listeners) {
        struct tcp_pcb* pcb = tcp_new_ip_type(IPADDR_TYPE_ANY);
        if (!pcb)
            return "tcp_new failed";
        if (tcp_bind(pcb, IP_ANY_TYPE, l.port) != ERR_OK) {
            tcp_close(pcb);
            return "cannot bind port " + std::to_string(l.port);
        }
        struct tcp_pcb* listening = tcp_listen(pcb);
        if (!listening) {
            tcp_close(pcb);
            return "cannot listen on port " + std::to_string(l.port);
        }
        tcp_arg(listening, &l);
        tcp_accept(listening, onAccept);
        l.pcb = listening;
        l.inode = newInode();
    }
    return {};
}

void tcpipReady(void* arg) {
    static_cast<std::promise<void>*>(arg)->set_value();
}

/// Writes queued frames to the socket; false when the socket is gone.
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

/// A clock frame (see the top): advances the virtual clock. Under the core lock.
bool clockFrame(const std::uint8_t* frame, std::size_t size) {
    if (size < SIZEOF_ETH_HDR + kClockMagic.size() + 4 ||
        std::memcmp(frame, g_mac.data(), 6) != 0 ||
        ((frame[12] << 8) | frame[13]) != kClockEtherType ||
        std::memcmp(frame + SIZEOF_ETH_HDR, kClockMagic.data(), kClockMagic.size()) != 0)
        return false;
    if (!g_virtualClock.load())
        return true; // not for lwIP either way
    const std::uint8_t* p = frame + SIZEOF_ETH_HDR + kClockMagic.size();
    const std::uint32_t ms =
        std::min<std::uint32_t>((std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) |
                                    (std::uint32_t{p[2]} << 8) | p[3],
                                kMaxClockStepMs);
    // A millisecond at a time: lwIP's cyclic timers fire as often as in real time, and
    // the agent's sampler and poll timeouts follow the same clock.
    for (std::uint32_t i = 0; i < ms; ++i) {
        g_virtualNow.fetch_add(1);
        g_inClockStep = true;
        sys_check_timeouts();
        g_inClockStep = false;
        if (g_agentOn) {
            progress();
            steadySample();
        }
    }
    return true;
}

} // namespace

/// Interposes liblwip's own sys_now (the library calls it through the PLT).
extern "C" u32_t sys_now(void) {
    if (g_virtualClock.load(std::memory_order_relaxed))
        return g_virtualNow.load(std::memory_order_relaxed);
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<u32_t>(static_cast<std::uint64_t>(now.tv_sec) * 1000u +
                              static_cast<std::uint64_t>(now.tv_nsec) / 1'000'000u);
}

int main(int argc, char** argv) {
    ::signal(SIGPIPE, SIG_IGN);
    int type = 0;
    socklen_t length = sizeof type;
    if (::getsockopt(kChannelFd, SOL_SOCKET, SO_TYPE, &type, &length) != 0 ||
        type != SOCK_SEQPACKET) {
        std::fprintf(stderr, "tcplab-lwip-helper: fd 3 must be a SOCK_SEQPACKET socket; this "
                             "program is started by tcplab\n");
        return 2;
    }
    const Arguments arguments = parseArguments(argc, argv);
    g_virtualClock = arguments.virtualClock; // before lwIP reads its clock
    g_wakeFd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (g_wakeFd < 0)
        fail(std::string("eventfd: ") + std::strerror(errno));

    std::promise<void> ready;
    auto started = ready.get_future();
    tcpip_init(tcpipReady, &ready);
    if (started.wait_for(std::chrono::seconds(5)) != std::future_status::ready)
        fail("lwIP's tcpip thread did not start");

    LOCK_TCPIP_CORE();
    const std::string problem = setUp(arguments);
    UNLOCK_TCPIP_CORE();
    if (!problem.empty())
        fail(problem);

    const std::string answer = std::string("tcplab-lwip-helper\nok\nversion=") + kVersion +
                               "\nlwip=" + LWIP_VERSION_STRING + "\nmac=" + macText(g_mac) + "\n";
    if (::send(kChannelFd, answer.data(), answer.size(), MSG_NOSIGNAL) < 0)
        return 1;

    g_mainThread = std::this_thread::get_id();
    if (arguments.agent) {
        LOCK_TCPIP_CORE();
        startAgent();
        UNLOCK_TCPIP_CORE();
    }

    std::vector<std::uint8_t> buffer(kMaxFrame);
    std::vector<std::uint8_t> requestBuffer(tcplab::peer::kMaxMessageBytes + 1);
    std::deque<std::vector<std::uint8_t>> pending;
    for (;;) {
        std::array<pollfd, 3> fds{{{kChannelFd, POLLIN, 0},
                                   {g_wakeFd, POLLIN, 0},
                                   {g_agentOn ? kAgentFd : -1, POLLIN, 0}}};
        if (!pending.empty())
            fds[0].events |= POLLOUT;
        if (!g_agentOut.empty())
            fds[2].events |= POLLOUT;
        int timeout = 1000;
        if (g_agentOn && !g_virtualClock.load()) {
            // On real time the agent's timers are the loop's own: a poll's timeout, the
            // next steady sample.
            LOCK_TCPIP_CORE();
            if (const auto due = nextDueMs())
                timeout = std::clamp(static_cast<int>(static_cast<std::int32_t>(*due - sys_now())),
                                     0, timeout);
            UNLOCK_TCPIP_CORE();
        }
        if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR)
            return 1;
        if (fds[1].revents & POLLIN) {
            std::uint64_t count = 0;
            [[maybe_unused]] const auto n = ::read(g_wakeFd, &count, sizeof count);
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            for (int i = 0; i < 64; ++i) {
                const ssize_t n =
                    ::recv(kChannelFd, buffer.data(), buffer.size(), MSG_DONTWAIT | MSG_TRUNC);
                if (n == 0)
                    ::_exit(0); // tcplab closed its end: the lab is over
                if (n < 0) {
                    if (errno == EINTR)
                        continue;
                    if (errno == EAGAIN || errno == EWOULDBLOCK)
                        break;
                    ::_exit(errno == ECONNRESET ? 0 : 1);
                }
                const auto size = static_cast<std::size_t>(n);
                if (size < SIZEOF_ETH_HDR || size > 0xffff)
                    continue; // a runt, or cut short
                LOCK_TCPIP_CORE();
                if (!clockFrame(buffer.data(), size) && accepted(buffer.data())) {
                    // PBUF_RAM: one buffer the frame's size. A PBUF_POOL chain overflows
                    // with Debian's liblwip for a full-size frame (its pool buffers are 616
                    // bytes while pbuf_alloc fills them to 1514: AddressSanitizer shows it).
                    struct pbuf* p = pbuf_alloc(PBUF_RAW, static_cast<u16_t>(size), PBUF_RAM);
                    if (p) {
                        pbuf_take(p, buffer.data(), static_cast<u16_t>(size));
                        if (g_netif.input(p, &g_netif) != ERR_OK)
                            pbuf_free(p);
                    }
                }
                UNLOCK_TCPIP_CORE();
                if (!writeFrames(pending))
                    ::_exit(0);
            }
        }
        if (g_agentOn && (fds[2].revents & (POLLIN | POLLHUP | POLLERR)))
            readRequests(requestBuffer, 64);
        if (g_agentOn) {
            LOCK_TCPIP_CORE();
            progress();
            if (!g_virtualClock.load())
                steadySample();
            UNLOCK_TCPIP_CORE();
            flushAgent();
        }
        if (!writeFrames(pending))
            ::_exit(0);
    }
}
