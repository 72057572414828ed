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
// The parts: lwip_state.h (what they share: lwIP's clock, the netif and its frames, the
// pcbs' identities), http_app.h (the application), agent.h (the agent, with its errno
// mapping and its samples' fields); this file parses the arguments, starts lwIP and runs
// the frame loop.

#include "agent.h"
#include "http_app.h"
#include "lwip_state.h"
#include "peer/agent_protocol.h"

extern "C" {
#include <lwip/opt.h> // first of lwIP's, inside extern "C": lwipopts.h declares the core lock

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

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <future>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace tcplab::lwiphelper {
namespace {

constexpr const char* kVersion = "1";
constexpr std::size_t kMaxFrame = 65536;

constexpr std::uint16_t kClockEtherType = 0x88b5; // IEEE 802 local experimental
constexpr std::string_view kClockMagic = "tcplab-lwip-clock";
constexpr std::uint32_t kMaxClockStepMs = 10 * 60 * 1000;

// --- The answer, on fd 3 -----------------------------------------------------------

[[noreturn]] void fail(const std::string& message, int status = 1) {
    const std::string text = "tcplab-lwip-helper\nerror\nmessage=" + message + "\n";
    [[maybe_unused]] const auto n = ::send(kChannelFd, text.data(), text.size(), MSG_NOSIGNAL);
    std::fprintf(stderr, "tcplab-lwip-helper: %s\n", message.c_str());
    ::_exit(status);
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
} // namespace tcplab::lwiphelper

int main(int argc, char** argv) {
    using namespace tcplab::lwiphelper;
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
        if (agentOutputWaiting())
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
