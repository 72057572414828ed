// tcplab-lwip-helper: the built-in "lwip" peer (core/lab/lwip_lab.h spawns it).
//
// One process per lab: lwIP's state is global and its assertions abort. It runs
// Debian's liblwip as built (NO_SYS=0, LWIP_TCPIP_CORE_LOCKING=1: a tcpip thread runs
// the timers, every raw-API call from another thread holds the core lock), with one
// Ethernet netif whose frames travel over the SOCK_SEQPACKET socket on fd 3, one frame
// per datagram. The peer's application is the lab's HTTP responder (and discard, echo)
// on the raw TCP API, with the semantics of core/lab/peer_app.h.
//
//   tcplab-lwip-helper --mac 02:xx:xx:xx:xx:xx --ipv4 198.18.0.1/24 --ipv6 2001:db8::1/64
//                      [--port 50001[:http|discard|echo]]... [--virtual-clock]
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
extern "C" {
#include <lwip/opt.h> // first, inside extern "C": lwipopts.h declares the core lock

#include <lwip/etharp.h>
#include <lwip/ethip6.h>
#include <lwip/init.h>
#include <lwip/ip_addr.h>
#include <lwip/netif.h>
#include <lwip/pbuf.h>
#include <lwip/sys.h>
#include <lwip/tcp.h>
#include <lwip/tcpip.h>
#include <lwip/timeouts.h>
#include <netif/ethernet.h>
}

#include "lab/http_rules.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <time.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
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

// --- The application: HTTP (as core/lab/peer_app.cpp), discard, echo ---------------

using HttpRequest = tcplab::lab::http::Request;

struct Connection {
    struct tcp_pcb* pcb = nullptr;
    std::uint16_t port = 0;
    Service service = Service::Http;
    std::string in;
    std::string out;
    unsigned requests = 0;
    std::optional<HttpRequest> awaiting;
    bool peerFinished = false;
    bool closeAfterOut = false;
    bool shutDown = false;
    bool done = false;
    std::size_t held = 0; ///< echo: received bytes whose window is not yet reopened
    u32_t lastActivity = 0;
};

std::set<Connection*> g_connections;

void answerHttp(Connection& c) {
    const HttpRequest request = std::move(*c.awaiting);
    c.awaiting.reset();
    const std::string response = tcplab::lab::http::response(request, c.port, c.requests);
    c.out += response;
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
                if (c.peerFinished && c.out.empty())
                    c.done = true;
                return;
            }
            c.in.erase(0, length);
            answerHttp(c);
            continue;
        }
        auto taken = tcplab::lab::http::takeRequest(c.in, kMaxRequestBytes, c.requests + 1);
        if (!taken) {
            if (c.peerFinished && !c.in.empty() && c.out.empty())
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

/// Forgets the connection and lets lwIP finish it (FIN, or RST if close fails).
err_t closeConnection(Connection* c) {
    struct tcp_pcb* pcb = c->pcb;
    tcp_arg(pcb, nullptr);
    tcp_recv(pcb, nullptr);
    tcp_sent(pcb, nullptr);
    tcp_poll(pcb, nullptr, 0);
    tcp_err(pcb, nullptr);
    g_connections.erase(c);
    delete c;
    if (tcp_close(pcb) != ERR_OK) {
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    return ERR_OK;
}

/// Hands lwIP as much of `out` as its send buffer takes.
void flush(Connection& c) {
    bool wrote = false;
    while (!c.out.empty()) {
        const std::size_t room = tcp_sndbuf(c.pcb);
        const auto n = static_cast<u16_t>(std::min<std::size_t>({c.out.size(), room, 0xffff}));
        if (n == 0)
            break;
        if (tcp_write(c.pcb, c.out.data(), n, TCP_WRITE_FLAG_COPY) != ERR_OK)
            break; // the segment queue is full: tcp_sent brings us back
        c.out.erase(0, n);
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
    if (c->out.empty() && c->closeAfterOut && !c->shutDown) {
        tcp_shutdown(c->pcb, 0, 1);
        c->shutDown = true;
    }
    if (c->done || (c->out.empty() && c->peerFinished))
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
    c->lastActivity = sys_now();
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
    return ERR_OK;
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

std::vector<Listener> g_listeners; // stable: tcp_arg points into it

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
    // A millisecond at a time: lwIP's cyclic timers fire as often as in real time.
    for (std::uint32_t i = 0; i < ms; ++i) {
        g_virtualNow.fetch_add(1);
        sys_check_timeouts();
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

    std::vector<std::uint8_t> buffer(kMaxFrame);
    std::deque<std::vector<std::uint8_t>> pending;
    for (;;) {
        std::array<pollfd, 2> fds{{{kChannelFd, POLLIN, 0}, {g_wakeFd, POLLIN, 0}}};
        if (!pending.empty())
            fds[0].events |= POLLOUT;
        if (::poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR)
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
                    struct pbuf* p = pbuf_alloc(PBUF_RAW, static_cast<u16_t>(size), PBUF_POOL);
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
        if (!writeFrames(pending))
            ::_exit(0);
    }
}
