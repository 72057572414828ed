#include "sampler.h"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <set>

#include <fmt/format.h>

namespace tcplab::agent {

namespace {

// peer/tcp_info.cpp's table against this system's struct tcp_info, for every field its
// header has (the kernel's struct may be longer: the table goes on where the header stops).
static_assert(offsetof(tcp_info, tcpi_rto) == 8);
static_assert(offsetof(tcp_info, tcpi_snd_mss) == 16);
static_assert(offsetof(tcp_info, tcpi_unacked) == 24);
static_assert(offsetof(tcp_info, tcpi_last_data_sent) == 44);
static_assert(offsetof(tcp_info, tcpi_pmtu) == 60);
static_assert(offsetof(tcp_info, tcpi_rtt) == 68);
static_assert(offsetof(tcp_info, tcpi_snd_cwnd) == 80);
static_assert(offsetof(tcp_info, tcpi_rcv_space) == 96);
static_assert(offsetof(tcp_info, tcpi_total_retrans) == 100);
static_assert(offsetof(tcp_info, tcpi_pacing_rate) == 104);
static_assert(offsetof(tcp_info, tcpi_bytes_acked) == 120);
static_assert(offsetof(tcp_info, tcpi_segs_out) == 136);
static_assert(offsetof(tcp_info, tcpi_min_rtt) == 148);
static_assert(offsetof(tcp_info, tcpi_delivery_rate) == 160);
static_assert(offsetof(tcp_info, tcpi_busy_time) == 168);
static_assert(offsetof(tcp_info, tcpi_delivered) == 192);
static_assert(offsetof(tcp_info, tcpi_bytes_sent) == 200);
static_assert(offsetof(tcp_info, tcpi_dsack_dups) == 216);
static_assert(offsetof(tcp_info, tcpi_rcv_ooopack) == 224);
static_assert(offsetof(tcp_info, tcpi_snd_wnd) == 228);

/// Room for any kernel's struct tcp_info (280 bytes in Linux 6.18).
constexpr std::size_t kTcpInfoRoom = 512;
constexpr std::size_t kDiagBuffer = 64 * 1024;

// Linux's TCP states (include/net/tcp_states.h) that hold no connection.
constexpr std::uint64_t kStateClose = 7;
constexpr std::uint64_t kStateListen = 10;
constexpr std::uint64_t kStateBoundInactive = 13;
constexpr std::uint64_t kStateSynSent = 2;
/// Every state but BOUND_INACTIVE (1 << 13), which would make the kernel walk its whole bind
/// hash on every dump: TCPF_ESTABLISHED (1 << 1) to TCPF_NEW_SYN_RECV (1 << 12).
constexpr std::uint32_t kDumpStates = ((1u << 13) - 1) & ~1u;
constexpr std::uint32_t kNoCookie = ~0u; // INET_DIAG_NOCOOKIE

bool isLive(std::uint64_t state) {
    return state != kStateListen && state != kStateClose && state != kStateBoundInactive;
}

bool isMapped(const std::uint8_t* a) {
    static constexpr std::uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(a, kPrefix, sizeof kPrefix) == 0;
}

bool isZero(const std::uint8_t* a, std::size_t n) {
    return std::all_of(a, a + n, [](std::uint8_t b) { return b == 0; });
}

/// A socket's two endpoints, as the wire has them: an IPv4 connection of a dual-stack
/// socket (::ffff:198.18.0.2) is IPv4 here, so that it matches its frames. An endpoint
/// with port 0 is absent (not bound, not connected).
void setEndpoints(bool ipv6, const std::uint8_t* local, std::uint16_t localPort,
                  const std::uint8_t* remote, std::uint16_t remotePort,
                  std::vector<std::uint8_t>& l, std::uint16_t& lp, std::vector<std::uint8_t>& r,
                  std::uint16_t& rp, bool& isIpv6) {
    const std::size_t n = ipv6 ? 16 : 4;
    const bool haveLocal = localPort != 0;
    const bool haveRemote = remotePort != 0;
    isIpv6 = ipv6;
    l.clear();
    r.clear();
    lp = localPort;
    rp = remotePort;
    if (ipv6) {
        const bool localMapped = haveLocal && isMapped(local);
        const bool remoteMapped = haveRemote && isMapped(remote);
        const bool localAny = !haveLocal || isZero(local, 16);
        if ((remoteMapped && (localMapped || localAny)) || (localMapped && !haveRemote)) {
            isIpv6 = false;
            if (haveLocal)
                l = localMapped ? std::vector<std::uint8_t>(local + 12, local + 16)
                                : std::vector<std::uint8_t>(4, 0);
            if (haveRemote)
                r.assign(remote + 12, remote + 16);
            return;
        }
    }
    if (haveLocal)
        l.assign(local, local + n);
    if (haveRemote)
        r.assign(remote, remote + n);
}

/// Address bytes and port of a sockaddr (AF_INET or AF_INET6); false for anything else.
bool split(const sockaddr_storage& s, std::array<std::uint8_t, 16>& address, std::uint16_t& port) {
    address.fill(0);
    if (s.ss_family == AF_INET) {
        sockaddr_in in{};
        std::memcpy(&in, &s, sizeof in);
        std::memcpy(address.data(), &in.sin_addr, 4);
        port = ntohs(in.sin_port);
        return true;
    }
    if (s.ss_family == AF_INET6) {
        sockaddr_in6 in6{};
        std::memcpy(&in6, &s, sizeof in6);
        std::memcpy(address.data(), &in6.sin6_addr, 16);
        port = ntohs(in6.sin6_port);
        return true;
    }
    return false;
}

std::string tupleKey(const peer::SocketSample& s) {
    if (s.remote.empty())
        return {};
    std::string key = s.ipv6 ? "6" : "4";
    key.append(s.local.begin(), s.local.end());
    key += fmt::format(":{}>", s.localPort);
    key.append(s.remote.begin(), s.remote.end());
    key += fmt::format(":{}", s.remotePort);
    return key;
}

/// Everything but the tcp_info fields (those are compared with TcpInfo::sameState).
bool sameAsideFromFields(const peer::SocketSample& a, const peer::SocketSample& b) {
    return a.inode == b.inode && a.fd == b.fd && a.ipv6 == b.ipv6 && a.local == b.local &&
           a.localPort == b.localPort && a.remote == b.remote && a.remotePort == b.remotePort &&
           a.gone == b.gone && a.receiveQueue == b.receiveQueue && a.sendQueue == b.sendQueue &&
           a.congestion == b.congestion;
}

} // namespace

Sampler::Sampler()
    : m_buffer(kDiagBuffer) {
    const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) {
        logLine(fmt::format("no sock_diag socket ({}): only the agent's own sockets are sampled",
                            errnoText(errno)));
        return;
    }
    m_diag = Fd(moveHigh(fd));
    // The kernel answers a dump at once; bound the wait anyway.
    timeval timeout{1, 0};
    ::setsockopt(m_diag.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
}

bool Sampler::request(const void* message, std::size_t size) {
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    return ::sendto(m_diag.get(), message, size, 0, reinterpret_cast<sockaddr*>(&kernel),
                    sizeof kernel) == static_cast<ssize_t>(size);
}

bool Sampler::parse(const void* header, Observation& o) {
    const auto* h = static_cast<const nlmsghdr*>(header);
    if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg)))
        return false;
    const auto* r = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
    o = Observation{};
    o.inode = r->idiag_inode;
    KernelId id;
    id.family = r->idiag_family;
    std::memcpy(id.src.data(), r->id.idiag_src, 16);
    std::memcpy(id.dst.data(), r->id.idiag_dst, 16);
    id.sport = ntohs(r->id.idiag_sport);
    id.dport = ntohs(r->id.idiag_dport);
    id.ifindex = r->id.idiag_if;
    setEndpoints(id.family == AF_INET6, id.src.data(), id.sport, id.dst.data(), id.dport, o.local,
                 o.localPort, o.remote, o.remotePort, o.ipv6);
    if (id.dport != 0)
        o.id = id;
    o.receiveQueue = r->idiag_rqueue;
    o.sendQueue = r->idiag_wqueue;
    bool haveInfo = false;
    int attributes = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof *r));
    for (auto* a = reinterpret_cast<const rtattr*>(r + 1); RTA_OK(a, attributes);
         a = RTA_NEXT(a, attributes)) {
        const auto* data = static_cast<const std::uint8_t*>(RTA_DATA(a));
        const std::size_t size = RTA_PAYLOAD(a);
        if (a->rta_type == INET_DIAG_INFO) {
            o.info = peer::TcpInfo::fromLinux({data, size});
            haveInfo = true;
        } else if (a->rta_type == INET_DIAG_CONG) {
            o.congestion.assign(reinterpret_cast<const char*>(data),
                                ::strnlen(reinterpret_cast<const char*>(data), size));
        }
    }
    // TIME-WAIT and request sockets carry no tcp_info: their state is all there is.
    if (!haveInfo)
        o.info.set(peer::TcpInfoField::State, r->idiag_state);
    return true;
}

bool Sampler::dump(int family, std::vector<Observation>& out) {
    struct {
        nlmsghdr header;
        inet_diag_req_v2 request;
    } message{};
    message.header.nlmsg_len = sizeof message;
    message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    message.header.nlmsg_seq = ++m_sequence;
    message.request.sdiag_family = static_cast<std::uint8_t>(family);
    message.request.sdiag_protocol = IPPROTO_TCP;
    message.request.idiag_ext = (1u << (INET_DIAG_INFO - 1)) | (1u << (INET_DIAG_CONG - 1));
    message.request.idiag_states = kDumpStates;
    if (!request(&message, sizeof message))
        return false;
    for (;;) {
        const ssize_t n = ::recv(m_diag.get(), m_buffer.data(), m_buffer.size(), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        auto length = static_cast<unsigned>(n);
        for (auto* h = reinterpret_cast<nlmsghdr*>(m_buffer.data()); NLMSG_OK(h, length);
             h = NLMSG_NEXT(h, length)) {
            if (h->nlmsg_seq != m_sequence)
                continue;
            if (h->nlmsg_type == NLMSG_DONE)
                return true;
            if (h->nlmsg_type == NLMSG_ERROR)
                return false;
            Observation o;
            if (parse(h, o))
                out.push_back(std::move(o));
        }
    }
}

Sampler::Lookup Sampler::lookup(const KernelId& id, Observation& out) {
    struct {
        nlmsghdr header;
        inet_diag_req_v2 request;
    } message{};
    message.header.nlmsg_len = sizeof message;
    message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    message.header.nlmsg_flags = NLM_F_REQUEST; // one socket, found by its id: no walk
    message.header.nlmsg_seq = ++m_sequence;
    message.request.sdiag_family = id.family;
    message.request.sdiag_protocol = IPPROTO_TCP;
    message.request.idiag_ext = (1u << (INET_DIAG_INFO - 1)) | (1u << (INET_DIAG_CONG - 1));
    message.request.idiag_states = kDumpStates;
    std::memcpy(message.request.id.idiag_src, id.src.data(), 16);
    std::memcpy(message.request.id.idiag_dst, id.dst.data(), 16);
    message.request.id.idiag_sport = htons(id.sport);
    message.request.id.idiag_dport = htons(id.dport);
    message.request.id.idiag_if = id.ifindex;
    message.request.id.idiag_cookie[0] = kNoCookie;
    message.request.id.idiag_cookie[1] = kNoCookie;
    if (!request(&message, sizeof message))
        return Lookup::Failed;
    for (;;) {
        const ssize_t n = ::recv(m_diag.get(), m_buffer.data(), m_buffer.size(), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return Lookup::Failed;
        auto length = static_cast<unsigned>(n);
        for (auto* h = reinterpret_cast<nlmsghdr*>(m_buffer.data()); NLMSG_OK(h, length);
             h = NLMSG_NEXT(h, length)) {
            if (h->nlmsg_seq != m_sequence)
                continue;
            if (h->nlmsg_type == NLMSG_ERROR) {
                const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
                return e->error == -ENOENT ? Lookup::Gone : Lookup::Failed;
            }
            return parse(h, out) ? Lookup::Found : Lookup::Failed;
        }
    }
}

std::optional<Sampler::Observation>
Sampler::observeOwn(const OwnSocket& own, const std::map<std::uint64_t, Observation>& diag) {
    const int fd = own.fd;
    std::array<std::uint8_t, kTcpInfoRoom> raw{};
    socklen_t length = raw.size();
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, raw.data(), &length) != 0)
        return std::nullopt;
    Observation o;
    o.fd = fd;
    o.info = peer::TcpInfo::fromLinux({raw.data(), std::min<std::size_t>(length, raw.size())});
    struct stat st {};
    if (::fstat(fd, &st) == 0)
        o.inode = st.st_ino;

    sockaddr_storage local{};
    sockaddr_storage remote{};
    socklen_t localLength = sizeof local;
    socklen_t remoteLength = sizeof remote;
    KernelId id;
    id.family = AF_INET6;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &localLength) == 0) {
        id.family = static_cast<std::uint8_t>(local.ss_family);
        split(local, id.src, id.sport);
    }
    bool connected = ::getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &remoteLength) == 0;
    if (connected) {
        split(remote, id.dst, id.dport);
    } else if (o.info.value(peer::TcpInfoField::State) == kStateSynSent) {
        // SYN-SENT: getpeername says ENOTCONN, yet the SYN goes where connect() said.
        if (const auto d = diag.find(o.inode); d != diag.end() && d->second.id) {
            id = *d->second.id;
            connected = true;
        } else if (own.connectTarget) {
            connected = split(*own.connectTarget, id.dst, id.dport);
        }
    }
    setEndpoints(id.family == AF_INET6, id.src.data(), id.sport, id.dst.data(),
                 connected ? id.dport : 0, o.local, o.localPort, o.remote, o.remotePort, o.ipv6);
    if (connected && id.dport != 0)
        o.id = id;

    std::array<char, 32> congestion{};
    socklen_t congestionLength = congestion.size();
    if (::getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, congestion.data(), &congestionLength) == 0)
        o.congestion.assign(congestion.data(), ::strnlen(congestion.data(), congestionLength));

    if (o.info.value(peer::TcpInfoField::State) == kStateListen) {
        // A listener's queues as inet_diag reports them: connections waiting, the backlog.
        o.receiveQueue = static_cast<std::uint32_t>(o.info.value(peer::TcpInfoField::Unacked));
        o.sendQueue = static_cast<std::uint32_t>(o.info.value(peer::TcpInfoField::Sacked));
    } else {
        int queued = 0;
        if (::ioctl(fd, SIOCINQ, &queued) == 0)
            o.receiveQueue = static_cast<std::uint32_t>(queued);
        queued = 0;
        if (::ioctl(fd, SIOCOUTQ, &queued) == 0)
            o.sendQueue = static_cast<std::uint32_t>(queued);
    }
    return o;
}

std::uint64_t Sampler::track(const Observation& o) {
    peer::SocketSample probe;
    probe.ipv6 = o.ipv6;
    probe.local = o.local;
    probe.localPort = o.localPort;
    probe.remote = o.remote;
    probe.remotePort = o.remotePort;
    const std::string tuple = tupleKey(probe);

    std::uint64_t id = 0;
    if (o.inode != 0)
        if (const auto it = m_byInode.find(o.inode);
            it != m_byInode.end() && !m_tracked[it->second].seen)
            id = it->second;
    if (id == 0 && !tuple.empty())
        if (const auto it = m_byTuple.find(tuple);
            it != m_byTuple.end() && !m_tracked[it->second].seen)
            id = it->second;
    if (id == 0)
        id = m_nextId++;
    Tracked& t = m_tracked[id];
    t.seen = true;
    t.id = o.id;

    if (t.currentInode != o.inode) {
        if (const auto it = m_byInode.find(t.currentInode);
            it != m_byInode.end() && it->second == id)
            m_byInode.erase(it);
        t.currentInode = o.inode;
        if (o.inode != 0)
            m_byInode[o.inode] = id;
    }
    if (t.inode == 0)
        t.inode = o.inode;
    if (t.tuple != tuple) {
        if (const auto it = m_byTuple.find(t.tuple); it != m_byTuple.end() && it->second == id)
            m_byTuple.erase(it);
        t.tuple = tuple;
        if (!tuple.empty())
            m_byTuple[tuple] = id;
    }
    return id;
}

void Sampler::report(std::uint64_t id, const Observation& o, bool all,
                     std::vector<peer::SocketSample>& out) {
    Tracked& t = m_tracked[id];
    if (t.reportedId == 0)
        t.reportedId = t.inode != 0 ? t.inode : (std::uint64_t{1} << 63) | id;
    peer::SocketSample s;
    s.inode = t.reportedId;
    s.fd = o.fd;
    s.ipv6 = o.ipv6;
    s.local = o.local;
    s.localPort = o.localPort;
    s.remote = o.remote;
    s.remotePort = o.remotePort;
    s.receiveQueue = o.receiveQueue;
    s.sendQueue = o.sendQueue;
    s.congestion = o.congestion;
    s.fields = o.info.pairs();
    const bool changed =
        !t.lastSent || !sameAsideFromFields(*t.lastSent, s) || !t.lastInfo.sameState(o.info);
    if (changed || all) {
        t.lastInfo = o.info;
        t.lastSent = s;
        out.push_back(std::move(s));
    }
}

void Sampler::forget(std::uint64_t id, std::vector<peer::SocketSample>& out) {
    const auto it = m_tracked.find(id);
    if (it == m_tracked.end())
        return;
    Tracked& t = it->second;
    if (t.lastSent) {
        peer::SocketSample s = *t.lastSent;
        s.fd = -1;
        s.gone = true;
        s.receiveQueue = 0;
        s.sendQueue = 0;
        s.fields.clear();
        out.push_back(std::move(s));
    }
    if (const auto i = m_byInode.find(t.currentInode); i != m_byInode.end() && i->second == id)
        m_byInode.erase(i);
    if (const auto i = m_byTuple.find(t.tuple); i != m_byTuple.end() && i->second == id)
        m_byTuple.erase(i);
    m_tracked.erase(it);
}

std::vector<peer::SocketSample> Sampler::take(std::span<const OwnSocket> own, bool all, bool full) {
    const bool diag = m_diag.get() >= 0;
    std::vector<Observation> dumped;
    // Without sock_diag the agent's own sockets are all there is: every look is complete.
    bool complete = !diag;
    if (diag && full)
        complete = dump(AF_INET, dumped) && dump(AF_INET6, dumped);
    std::map<std::uint64_t, Observation> dumpedByInode;
    for (const auto& d : dumped)
        if (d.inode != 0)
            dumpedByInode.emplace(d.inode, d);

    for (auto& [id, t] : m_tracked)
        t.seen = false;
    std::vector<peer::SocketSample> out;
    std::set<std::uint64_t> ownInodes;
    for (const auto& socket : own)
        if (const auto o = observeOwn(socket, dumpedByInode)) {
            if (o->inode != 0)
                ownInodes.insert(o->inode);
            report(track(*o), *o, all, out);
        }
    if (full) {
        for (const auto& d : dumped)
            if (d.inode == 0 || !ownInodes.count(d.inode))
                report(track(d), d, all, out);
    } else if (diag) {
        // The others known by their 4-tuple, one lookup each.
        std::vector<std::uint64_t> ids;
        for (const auto& [id, t] : m_tracked)
            if (!t.seen && t.id)
                ids.push_back(id);
        for (const auto id : ids) {
            Observation o;
            switch (lookup(*m_tracked[id].id, o)) {
            case Lookup::Found:
                if (o.inode != 0 && ownInodes.count(o.inode))
                    break;
                report(track(o), o, all, out);
                break;
            case Lookup::Gone:
                forget(id, out);
                break;
            case Lookup::Failed:
                break;
            }
        }
    }
    // What a complete look did not see is gone: closed and released, or out of TIME-WAIT.
    if (complete) {
        std::vector<std::uint64_t> unseen;
        for (const auto& [id, t] : m_tracked)
            if (!t.seen)
                unseen.push_back(id);
        for (const auto id : unseen)
            forget(id, out);
    }
    return out;
}

bool Sampler::live() const noexcept {
    for (const auto& [id, t] : m_tracked)
        if (isLive(t.lastInfo.value(peer::TcpInfoField::State, kStateClose)))
            return true;
    return false;
}

} // namespace tcplab::agent
