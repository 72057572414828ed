// The agent's calls on lwIP's raw API, and the blocking ones waiting to complete.
#include "agent_internal.h"

#include "peer/pattern.h"
#include "peer/tcp_info.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <list>

#include <tl/expected.hpp>

namespace tcplab::lwiphelper::agent {

namespace {

constexpr std::size_t kMaxSockets = 1024;
constexpr std::size_t kMaxParked = 64;

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
    case Call::EpollCreate:
    case Call::EpollCtl:
    case Call::EpollWait:
        return refused("lwIP's raw API has no epoll: poll() waits on its sockets");
    case Call::Command:
        return refused("the lwIP helper runs no commands: its link has no qdiscs and no "
                       "routing table of Linux's");
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
} // namespace

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

void progressParked() {
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

std::optional<u32_t> parkedDeadline() {
    std::optional<u32_t> due;
    for (const auto& p : g_parked)
        if (p.pollDeadline && (!due || static_cast<std::int32_t>(*p.pollDeadline - *due) < 0))
            due = p.pollDeadline;
    return due;
}

} // namespace tcplab::lwiphelper::agent
