// tcplab-lab-helper — builds the built-in "linux" lab for tcplab and hands it over.
//
// Spawned by tcplab (posix_spawn; a multithreaded process cannot unshare a user
// namespace) with one end of a SOCK_SEQPACKET socketpair on fd 3. Single-threaded,
// no libraries beyond libc and libstdc++.
//
//   tcplab-lab-helper setup [--port N]... [--sysctl tcp_KEY=VALUE]...
//     1. unshare(CLONE_NEWUSER | CLONE_NEWNET): a private user namespace in which we
//        are root, and the phantom's network namespace ("A"); setgroups=deny,
//        uid_map and gid_map before anything else (the caller's uid/gid become 0).
//     2. unshare(CLONE_NEWNET) again: the peer's network namespace ("B"). Both are
//        held by fds from /proc/self/ns/net; setns() moves between them, so no
//        child process is needed and none can be left behind.
//     3. A veth pair: tcplab0 in A (no address, IPv6 disabled, ARP off: nothing there
//        answers for the phantom), tcplab0p created directly in B (198.18.0.1/24,
//        2001:db8::1/64 nodad). rtnetlink for links and addresses, SIOCETHTOOL to turn
//        off tx checksum offload, TSO, GSO and GRO (partial checksums and
//        super-segments would otherwise reach the phantom).
//     4. Waits (bounded) until both ends are operationally up with their real qdisc:
//        until the link watcher activates it, "noop" silently drops frames.
//     5. An AF_PACKET socket on tcplab0 (A) and dual-stack listening TCP sockets in B;
//        sends them to tcplab over fd 3 (SCM_RIGHTS) and exits. The namespaces live
//        exactly as long as tcplab holds those fds.
//
//   tcplab-lab-helper tcp-settings [--sysctl tcp_KEY=VALUE]...
//     With the peer's user namespace on fd 4 and its network namespace on fd 5 (tcplab
//     got them with SIOCGSKNS on a listening socket and NS_GET_USERNS), enters both,
//     writes the settings and reports the values in force.
//
// Replies (one datagram on fd 3): "ok\n" then key=value lines, with the fds attached;
// or "error\nkind=K\nerrno=N\nmessage=...\n". Kinds: userns (user namespaces refused),
// setup, sysctl, usage. For tests, TCPLAB_LAB_HELPER_FAIL=userns|crash|hang|silent makes
// the helper fail that way.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <linux/veth.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace {

constexpr int kChannelFd = 3;
constexpr int kUserNsFd = 4;
constexpr int kNetNsFd = 5;
/// The whole helper is bounded: SIGALRM (default action: terminate) after this.
constexpr unsigned kDeadlineSeconds = 20;
/// How long the veth may take to become usable (carrier and the real qdisc).
constexpr int kLinkWaitMs = 5000;
constexpr int kListenBacklog = 64;
constexpr std::size_t kMaxPorts = 8;

constexpr const char* kPhantomIf = "tcplab0"; ///< in A: the phantom's side
constexpr const char* kPeerIf = "tcplab0p";   ///< in B: the peer kernel's side
constexpr std::uint8_t kPeer4[4] = {198, 18, 0, 1};
constexpr unsigned kPrefix4 = 24;
constexpr std::uint8_t kPeer6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
constexpr unsigned kPrefix6 = 64;
/// The veth's MTU: the longest segment the phantom can send in one frame (IPv4's limit).
constexpr unsigned kLinkMtu = 65535;
/// The MTU of the peer's routes to the lab's subnets: what its kernel sends and advertises.
constexpr unsigned kRouteMtu = 1500;

/// The per-namespace TCP settings tcplab may change, and nothing else.
constexpr std::array<const char*, 6> kTcpKeys = {
    "tcp_sack", "tcp_timestamps", "tcp_window_scaling",
    "tcp_ecn",  "tcp_syncookies", "tcp_congestion_control",
};

std::string errnoText(int error) {
    return std::strerror(error);
}

/// Sends the reply (and fds) to tcplab. MSG_NOSIGNAL: if tcplab is gone we just exit.
bool sendReply(const std::string& text, const std::vector<int>& fds) {
    iovec vector{const_cast<char*>(text.data()), text.size()};
    msghdr message{};
    message.msg_iov = &vector;
    message.msg_iovlen = 1;
    std::vector<char> control;
    if (!fds.empty()) {
        control.resize(CMSG_SPACE(sizeof(int) * fds.size()));
        message.msg_control = control.data();
        message.msg_controllen = control.size();
        cmsghdr* c = CMSG_FIRSTHDR(&message);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    for (int attempt = 0; attempt < 16; ++attempt) {
        if (::sendmsg(kChannelFd, &message, MSG_NOSIGNAL) >= 0)
            return true;
        if (errno != EINTR)
            return false;
    }
    return false;
}

/// Reports a failure to tcplab and exits. Every fd we made dies with us, and with
/// them the namespaces.
[[noreturn]] void fail(const char* kind, int error, const std::string& message) {
    std::string text = "error\nkind=";
    text += kind;
    text += "\nerrno=" + std::to_string(error) + "\nmessage=";
    for (char c : message)
        text += c == '\n' ? ' ' : c;
    text += '\n';
    sendReply(text, {});
    ::_exit(1);
}

[[noreturn]] void failErrno(const char* kind, const std::string& what) {
    const int error = errno;
    fail(kind, error, what + ": " + errnoText(error));
}

/// Writes a whole small file (a /proc file); errno on failure, 0 on success.
int writeFile(const std::string& path, std::string_view value) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    const ssize_t n = ::write(fd, value.data(), value.size());
    const int error = n < 0 ? errno : (static_cast<std::size_t>(n) == value.size() ? 0 : EIO);
    ::close(fd);
    return error;
}

/// The first line of a small file, or "" when it cannot be read.
std::string readLine(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return {};
    std::array<char, 256> buffer{};
    const ssize_t n = ::read(fd, buffer.data(), buffer.size() - 1);
    ::close(fd);
    if (n <= 0)
        return {};
    std::string text(buffer.data(), static_cast<std::size_t>(n));
    const auto end = text.find('\n');
    if (end != std::string::npos)
        text.resize(end);
    for (auto& c : text)
        if (c == '\t')
            c = ' ';
    return text;
}

/// A sysctl of the network namespace this process is in (per-netns under /proc/sys/net).
void writeSysctl(const std::string& path, std::string_view value, const char* kind) {
    if (const int error = writeFile("/proc/sys/" + path, value); error != 0)
        fail(kind, error,
             "cannot set " + path + " to " + std::string(value) + ": " + errnoText(error));
}

std::int64_t monotonicMs() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

void sleepMs(int ms) {
    timespec ts{ms / 1000, (ms % 1000) * 1'000'000L};
    while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

// --- rtnetlink ---------------------------------------------------------------

/// A netlink request under construction: header, family header and attributes,
/// each aligned to 4 bytes as netlink(7) wants.
class NlMessage {
public:
    NlMessage(std::uint16_t type, std::uint16_t flags) {
        m_bytes.resize(NLMSG_HDRLEN);
        header()->nlmsg_type = type;
        header()->nlmsg_flags = flags | NLM_F_REQUEST | NLM_F_ACK;
    }
    template <typename T>
    void putStruct(const T& value) {
        append(&value, sizeof value);
    }
    void putAttr(std::uint16_t type, const void* data, std::size_t length) {
        rtattr attribute{};
        attribute.rta_len = static_cast<unsigned short>(RTA_LENGTH(length));
        attribute.rta_type = type;
        append(&attribute, sizeof attribute);
        append(data, length);
    }
    void putString(std::uint16_t type, const char* text) {
        putAttr(type, text, std::strlen(text) + 1);
    }
    void putU32(std::uint16_t type, std::uint32_t value) { putAttr(type, &value, sizeof value); }
    /// Opens a nested attribute; close it with endNest(the returned offset).
    std::size_t beginNest(std::uint16_t type) {
        const std::size_t offset = m_bytes.size();
        putAttr(type, nullptr, 0);
        return offset;
    }
    void endNest(std::size_t offset) {
        auto* attribute = reinterpret_cast<rtattr*>(m_bytes.data() + offset);
        attribute->rta_len = static_cast<unsigned short>(m_bytes.size() - offset);
    }
    nlmsghdr* header() { return reinterpret_cast<nlmsghdr*>(m_bytes.data()); }
    std::vector<std::uint8_t>& finish(std::uint32_t seq) {
        header()->nlmsg_len = static_cast<std::uint32_t>(m_bytes.size());
        header()->nlmsg_seq = seq;
        return m_bytes;
    }

private:
    void append(const void* data, std::size_t length) {
        const auto* p = static_cast<const std::uint8_t*>(data);
        m_bytes.insert(m_bytes.end(), p, p + length);
        m_bytes.resize(NLMSG_ALIGN(m_bytes.size()));
    }
    std::vector<std::uint8_t> m_bytes;
};

/// What RTM_GETLINK says about an interface.
struct LinkInfo {
    int ifindex = 0;
    std::array<std::uint8_t, 6> mac{};
    std::uint8_t operstate = IF_OPER_UNKNOWN;
    bool carrier = false;
    std::string qdisc;
};

/// A NETLINK_ROUTE socket of the network namespace it was opened in (it keeps
/// talking to that namespace wherever this process goes afterwards).
class Rtnl {
public:
    explicit Rtnl(const char* where) {
        m_fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (m_fd < 0)
            failErrno("setup", std::string("cannot open an rtnetlink socket in ") + where);
        timeval timeout{2, 0}; // a kernel answer never takes this long; bound it anyway
        ::setsockopt(m_fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        sockaddr_nl local{};
        local.nl_family = AF_NETLINK;
        if (::bind(m_fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0)
            failErrno("setup", std::string("cannot bind an rtnetlink socket in ") + where);
    }
    ~Rtnl() { ::close(m_fd); }
    Rtnl(const Rtnl&) = delete;
    Rtnl& operator=(const Rtnl&) = delete;

    /// Sends a request and waits for its acknowledgement; 0 or the kernel's errno.
    /// A RTM_NEWLINK answer (to RTM_GETLINK) is parsed into `info` when given.
    int request(NlMessage& message, LinkInfo* info = nullptr) {
        auto& bytes = message.finish(++m_seq);
        if (::send(m_fd, bytes.data(), bytes.size(), 0) < 0)
            return errno;
        std::array<std::uint8_t, 16384> buffer{};
        for (int reads = 0; reads < 64; ++reads) {
            const ssize_t n = ::recv(m_fd, buffer.data(), buffer.size(), 0);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                return errno;
            }
            auto length = static_cast<unsigned>(n);
            for (auto* h = reinterpret_cast<nlmsghdr*>(buffer.data()); NLMSG_OK(h, length);
                 h = NLMSG_NEXT(h, length)) {
                if (h->nlmsg_seq != m_seq)
                    continue;
                if (h->nlmsg_type == NLMSG_ERROR) {
                    const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
                    return -e->error;
                }
                if (h->nlmsg_type == RTM_NEWLINK && info)
                    parseLink(h, *info);
            }
        }
        return ETIMEDOUT;
    }

    /// The interface `name` of this socket's namespace; errno on failure.
    int getLink(const char* name, LinkInfo& info) {
        NlMessage m(RTM_GETLINK, 0);
        ifinfomsg ifi{};
        ifi.ifi_family = AF_UNSPEC;
        m.putStruct(ifi);
        m.putString(IFLA_IFNAME, name);
        info = {};
        const int error = request(m, &info);
        if (error == 0 && info.ifindex == 0)
            return ENODEV;
        return error;
    }

    /// Sets `flags` (within `change`) on interface `ifindex`.
    int setFlags(int ifindex, unsigned flags, unsigned change) {
        NlMessage m(RTM_NEWLINK, 0);
        ifinfomsg ifi{};
        ifi.ifi_family = AF_UNSPEC;
        ifi.ifi_index = ifindex;
        ifi.ifi_flags = flags;
        ifi.ifi_change = change;
        m.putStruct(ifi);
        return request(m);
    }

    /// Adds an address (IFA_F_NODAD for IPv6: lab addresses are ours by construction).
    int addAddress(int ifindex, int family, const std::uint8_t* address, unsigned prefix) {
        NlMessage m(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE);
        ifaddrmsg ifa{};
        ifa.ifa_family = static_cast<unsigned char>(family);
        ifa.ifa_prefixlen = static_cast<unsigned char>(prefix);
        ifa.ifa_index = static_cast<unsigned>(ifindex);
        ifa.ifa_flags = family == AF_INET6 ? IFA_F_NODAD : 0;
        m.putStruct(ifa);
        const std::size_t length = family == AF_INET6 ? 16 : 4;
        m.putAttr(IFA_LOCAL, address, length);
        m.putAttr(IFA_ADDRESS, address, length);
        if (family == AF_INET6)
            m.putU32(IFA_FLAGS, IFA_F_NODAD);
        return request(m);
    }

    /// Sets interface `ifindex`'s MTU.
    int setMtu(int ifindex, unsigned mtu) {
        NlMessage m(RTM_NEWLINK, 0);
        ifinfomsg ifi{};
        ifi.ifi_family = AF_UNSPEC;
        ifi.ifi_index = ifindex;
        m.putStruct(ifi);
        m.putU32(IFLA_MTU, mtu);
        return request(m);
    }

    /// Replaces the kernel's route to the subnet `dst`/`prefix` on `ifindex` with the same
    /// route carrying an MTU and an advertised MSS (ip route replace ... mtu M advmss A).
    int replaceSubnetRoute(int family, const std::uint8_t* dst, unsigned prefix, int ifindex,
                           const std::uint8_t* source, unsigned mtu, unsigned advmss) {
        NlMessage m(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
        rtmsg rt{};
        rt.rtm_family = static_cast<unsigned char>(family);
        rt.rtm_dst_len = static_cast<unsigned char>(prefix);
        rt.rtm_table = RT_TABLE_MAIN;
        rt.rtm_protocol = RTPROT_KERNEL;
        rt.rtm_scope = family == AF_INET ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
        rt.rtm_type = RTN_UNICAST;
        m.putStruct(rt);
        const std::size_t length = family == AF_INET6 ? 16 : 4;
        std::uint8_t network[16] = {};
        std::memcpy(network, dst, length);
        for (std::size_t bit = prefix; bit < length * 8; ++bit)
            network[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
        m.putAttr(RTA_DST, network, length);
        m.putU32(RTA_OIF, static_cast<std::uint32_t>(ifindex));
        if (family == AF_INET)
            m.putAttr(RTA_PREFSRC, source, length);
        else
            m.putU32(RTA_PRIORITY, 256); // the kernel's own prefix route's metric
        const std::size_t metrics = m.beginNest(RTA_METRICS);
        m.putU32(RTAX_MTU, mtu);
        m.putU32(RTAX_ADVMSS, advmss);
        m.endNest(metrics);
        return request(m);
    }

    /// A veth pair: `name` here, `peerName` created directly in the network namespace
    /// `peerNetnsFd`.
    int addVeth(const char* name, const char* peerName, int peerNetnsFd) {
        NlMessage m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        ifinfomsg ifi{};
        ifi.ifi_family = AF_UNSPEC;
        m.putStruct(ifi);
        m.putString(IFLA_IFNAME, name);
        const auto linkInfo = m.beginNest(IFLA_LINKINFO);
        m.putString(IFLA_INFO_KIND, "veth");
        const auto data = m.beginNest(IFLA_INFO_DATA);
        const auto peer = m.beginNest(VETH_INFO_PEER);
        ifinfomsg peerIfi{};
        peerIfi.ifi_family = AF_UNSPEC;
        m.putStruct(peerIfi);
        m.putString(IFLA_IFNAME, peerName);
        m.putU32(IFLA_NET_NS_FD, static_cast<std::uint32_t>(peerNetnsFd));
        m.endNest(peer);
        m.endNest(data);
        m.endNest(linkInfo);
        return request(m);
    }

private:
    static void parseLink(const nlmsghdr* h, LinkInfo& info) {
        const auto* ifi = static_cast<const ifinfomsg*>(NLMSG_DATA(h));
        info.ifindex = ifi->ifi_index;
        int length = static_cast<int>(IFLA_PAYLOAD(h));
        for (const auto* a = IFLA_RTA(ifi); RTA_OK(a, length); a = RTA_NEXT(a, length)) {
            const auto* data = static_cast<const std::uint8_t*>(RTA_DATA(a));
            const auto size = RTA_PAYLOAD(a);
            switch (a->rta_type) {
            case IFLA_ADDRESS:
                if (size == info.mac.size())
                    std::memcpy(info.mac.data(), data, size);
                break;
            case IFLA_OPERSTATE:
                if (size >= 1)
                    info.operstate = data[0];
                break;
            case IFLA_CARRIER:
                if (size >= 1)
                    info.carrier = data[0] != 0;
                break;
            case IFLA_QDISC:
                info.qdisc.assign(reinterpret_cast<const char*>(data),
                                  ::strnlen(reinterpret_cast<const char*>(data), size));
                break;
            default:
                break;
            }
        }
    }

    int m_fd = -1;
    std::uint32_t m_seq = 0;
};

std::string macText(const std::array<std::uint8_t, 6>& mac) {
    char text[18];
    std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
                  mac[3], mac[4], mac[5]);
    return text;
}

// --- Namespaces --------------------------------------------------------------

/// An fd for the network namespace this process is in now.
int currentNetns(const char* which) {
    const int fd = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        failErrno("setup", std::string("cannot open the ") + which + " network namespace");
    return fd;
}

void enterNetns(int fd, const char* which) {
    if (::setns(fd, CLONE_NEWNET) != 0)
        failErrno("setup", std::string("cannot enter the ") + which + " network namespace");
}

/// Step 1: root in a user namespace of our own, in a new network namespace.
void enterUserNamespace() {
    const uid_t uid = ::geteuid();
    const gid_t gid = ::getegid();
    const char* simulate = std::getenv("TCPLAB_LAB_HELPER_FAIL");
    if (simulate && std::string_view(simulate) == "userns")
        fail("userns", EPERM,
             "unshare(CLONE_NEWUSER): Operation not permitted (simulated: "
             "TCPLAB_LAB_HELPER_FAIL=userns)");
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0)
        failErrno("userns", "unshare(CLONE_NEWUSER | CLONE_NEWNET)");
    // setgroups must be denied before an unprivileged process may write gid_map
    // (user_namespaces(7)); the file is absent on kernels before 3.19.
    if (const int error = writeFile("/proc/self/setgroups", "deny"); error != 0 && error != ENOENT)
        fail("userns", error, "cannot write /proc/self/setgroups: " + errnoText(error));
    if (const int error = writeFile("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1\n");
        error != 0)
        fail("userns", error, "cannot write /proc/self/uid_map: " + errnoText(error));
    if (const int error = writeFile("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1\n");
        error != 0)
        fail("userns", error, "cannot write /proc/self/gid_map: " + errnoText(error));
}

// --- Offloads ----------------------------------------------------------------

/// Turns one legacy ethtool feature off and checks it is off. Returns "" or what failed.
std::string featureOff(int sock, const char* ifname, std::uint32_t setCmd, std::uint32_t getCmd,
                       const char* name) {
    ifreq request{};
    std::strncpy(request.ifr_name, ifname, IFNAMSIZ - 1);
    ethtool_value value{};
    value.cmd = setCmd;
    value.data = 0;
    request.ifr_data = reinterpret_cast<char*>(&value);
    const bool set = ::ioctl(sock, SIOCETHTOOL, &request) == 0;
    const int setError = errno;
    value = {};
    value.cmd = getCmd;
    request.ifr_data = reinterpret_cast<char*>(&value);
    if (::ioctl(sock, SIOCETHTOOL, &request) == 0 && value.data == 0)
        return {};
    return std::string(name) + " (" + (set ? "still on" : errnoText(setError)) + ")";
}

/// Tx checksum offload, TSO, GSO and GRO off on `ifname`, through a socket of its
/// namespace: the kernel's frames then carry real checksums and wire-sized segments.
/// The first three are required (a frame with a partial checksum or a 64 KB
/// "segment" would mislead the user); GRO is best effort (a merged frame would only be
/// reported by the link as too large, and veth does no GRO unless asked).
void offloadsOff(int sock, const char* ifname) {
    struct Feature {
        std::uint32_t set;
        std::uint32_t get;
        const char* name;
        bool required;
    };
    constexpr Feature kFeatures[] = {
        {ETHTOOL_STXCSUM, ETHTOOL_GTXCSUM, "tx checksum offload", true},
        {ETHTOOL_STSO, ETHTOOL_GTSO, "TSO", true},
        {ETHTOOL_SGSO, ETHTOOL_GGSO, "GSO", true},
        {ETHTOOL_SGRO, ETHTOOL_GGRO, "GRO", false},
    };
    std::string failed;
    for (const auto& f : kFeatures) {
        const std::string what = featureOff(sock, ifname, f.set, f.get, f.name);
        if (!what.empty() && f.required)
            failed += (failed.empty() ? "" : ", ") + what;
    }
    if (!failed.empty())
        fail("setup", 0,
             std::string("cannot turn off offloads on ") + ifname + ": " + failed +
                 "; its frames would carry partial checksums or super-segments");
}

// --- Sockets -----------------------------------------------------------------

/// The phantom's raw side: every frame of `ifname`, not our own sends.
int packetSocket(const LinkInfo& link) {
    const int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd < 0)
        failErrno("setup", "cannot open the AF_PACKET socket");
    const int on = 1;
    int buffer = 4 * 1024 * 1024;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    if (::setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &on, sizeof on) != 0 &&
        errno != ENOPROTOOPT)
        failErrno("setup", "PACKET_IGNORE_OUTGOING");
    sockaddr_ll address{};
    address.sll_family = AF_PACKET;
    address.sll_protocol = htons(ETH_P_ALL);
    address.sll_ifindex = link.ifindex;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
        failErrno("setup", std::string("cannot bind the AF_PACKET socket to ") + kPhantomIf);
    packet_mreq membership{};
    membership.mr_ifindex = link.ifindex;
    membership.mr_type = PACKET_MR_PROMISC;
    if (::setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &membership, sizeof membership) != 0)
        failErrno("setup", std::string("cannot make ") + kPhantomIf + " promiscuous");
    return fd;
}

/// A dual-stack listening TCP socket on `port`, in the namespace we are in.
int listeningSocket(std::uint16_t port) {
    const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        failErrno("setup", "cannot open a TCP socket in the peer namespace");
    const int on = 1;
    const int off = 0;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) != 0)
        failErrno("setup", "IPV6_V6ONLY off (a dual-stack socket)");
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    address.sin6_port = htons(port);
    address.sin6_addr = in6addr_any;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
        failErrno("setup", "cannot bind port " + std::to_string(port) + " in the peer namespace");
    if (::listen(fd, kListenBacklog) != 0)
        failErrno("setup", "cannot listen on port " + std::to_string(port));
    return fd;
}

// --- TCP settings --------------------------------------------------------------

bool validSetting(const std::string& setting, std::string& key, std::string& value) {
    const auto eq = setting.find('=');
    if (eq == std::string::npos)
        return false;
    key = setting.substr(0, eq);
    value = setting.substr(eq + 1);
    bool known = false;
    for (const char* k : kTcpKeys)
        known = known || key == k;
    if (!known || value.empty() || value.size() > 32)
        return false;
    for (char c : value)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'))
            return false;
    return true;
}

/// Writes the settings in the namespace we are in (validated by main()).
void applySettings(const std::vector<std::string>& settings) {
    for (const auto& s : settings) {
        std::string key;
        std::string value;
        validSetting(s, key, value);
        const std::string path = "/proc/sys/net/ipv4/" + key;
        if (const int error = writeFile(path, value); error != 0)
            fail("sysctl", error,
                 "the peer's kernel refused net.ipv4." + key + "=" + value + " (" +
                     errnoText(error) + ")" +
                     (key == "tcp_congestion_control"
                          ? "; a namespace may only use the algorithms in "
                            "net.ipv4.tcp_allowed_congestion_control (here: " +
                                readLine("/proc/sys/net/ipv4/tcp_allowed_congestion_control") + ")"
                          : ""));
    }
}

/// "tcp.KEY=VALUE" lines for every setting, as the peer's kernel has them now.
std::string settingsReport() {
    std::string text;
    for (const char* k : kTcpKeys)
        text +=
            std::string("tcp.") + k + "=" + readLine(std::string("/proc/sys/net/ipv4/") + k) + "\n";
    text += "tcp.available_congestion_control=" +
            readLine("/proc/sys/net/ipv4/tcp_available_congestion_control") + "\n";
    text += "tcp.allowed_congestion_control=" +
            readLine("/proc/sys/net/ipv4/tcp_allowed_congestion_control") + "\n";
    return text;
}

// --- The two modes -------------------------------------------------------------

[[noreturn]] void setup(const std::vector<std::uint16_t>& ports,
                        const std::vector<std::string>& settings) {
    const std::int64_t started = monotonicMs();
    enterUserNamespace();

    // A: the phantom's namespace. IPv6 off by default here, so tcplab0 is born
    // without it: no link-local address, no DAD, router or MLD chatter, no NA.
    writeSysctl("net/ipv6/conf/default/disable_ipv6", "1", "setup");
    // The peer's namespace gets a TCP hash table of its own (net namespaces made from here
    // on): with the host's shared one, every inet_diag dump of the peer agent's sampler
    // walks the whole machine's table (262144 buckets: 2.2 ms, against 35 us). Best effort:
    // a kernel older than 6.1 has no such setting, and the lab works without it.
    writeFile("/proc/sys/net/ipv4/tcp_child_ehash_entries", "4096");
    const int netnsA = currentNetns("phantom's");

    // B: the peer's namespace. Lab addresses are ours by construction (no DAD), and
    // the peer does not solicit routers: the phantom's link stays quiet.
    if (::unshare(CLONE_NEWNET) != 0)
        failErrno("userns", "unshare(CLONE_NEWNET) for the peer's namespace");
    const int netnsB = currentNetns("peer's");
    writeSysctl("net/ipv6/conf/all/accept_dad", "0", "setup");
    writeSysctl("net/ipv6/conf/default/accept_dad", "0", "setup");
    writeSysctl("net/ipv6/conf/default/router_solicitations", "0", "setup");
    applySettings(settings);
    const std::string tcpReport = settingsReport();
    Rtnl rtnlB("the peer's namespace");
    std::vector<int> listeners;
    for (const auto port : ports)
        listeners.push_back(listeningSocket(port));
    const int ioctlB = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (ioctlB < 0)
        failErrno("setup", "cannot open a socket in the peer's namespace");

    enterNetns(netnsA, "phantom's");
    Rtnl rtnlA("the phantom's namespace");
    const int ioctlA = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (ioctlA < 0)
        failErrno("setup", "cannot open a socket in the phantom's namespace");
    if (const int error = rtnlA.addVeth(kPhantomIf, kPeerIf, netnsB); error != 0)
        fail("setup", error,
             std::string("cannot create the veth pair ") + kPhantomIf + "/" + kPeerIf + ": " +
                 errnoText(error) +
                 (error == EOPNOTSUPP ? " (is the veth module available?)" : ""));
    ::close(netnsB);
    ::close(netnsA);

    LinkInfo phantom;
    LinkInfo peer;
    if (const int error = rtnlA.getLink(kPhantomIf, phantom); error != 0)
        fail("setup", error, std::string("cannot find ") + kPhantomIf + ": " + errnoText(error));
    if (const int error = rtnlB.getLink(kPeerIf, peer); error != 0)
        fail("setup", error,
             std::string("cannot find ") + kPeerIf +
                 " in the peer's namespace: " + errnoText(error));

    // The phantom's side: nothing of the kernel answers there. IPv6 is off (inherited);
    // say so explicitly in case the default did not apply, and no ARP.
    writeSysctl(std::string("net/ipv6/conf/") + kPhantomIf + "/disable_ipv6", "1", "setup");
    offloadsOff(ioctlA, kPhantomIf);
    offloadsOff(ioctlB, kPeerIf);
    ::close(ioctlA);
    ::close(ioctlB);

    // packetdrill's tun takes a segment of any length, as a GRO'd one: a script's
    // `< P. 1:4001(4000)` reaches the kernel whole. The veth's ends take up to kLinkMtu;
    // the routes keep the peer's own segments and its SYN's MSS at Ethernet's 1500
    // (its kernel sends what a 1500-byte link would carry).
    for (const auto& [rtnl, link, name] :
         {std::tuple{&rtnlA, &phantom, kPhantomIf}, std::tuple{&rtnlB, &peer, kPeerIf}})
        if (const int error = rtnl->setMtu(link->ifindex, kLinkMtu); error != 0)
            fail("setup", error,
                 std::string("cannot set the MTU of ") + name + " to " + std::to_string(kLinkMtu) +
                     ": " + errnoText(error));
    if (const int error = rtnlB.addAddress(peer.ifindex, AF_INET, kPeer4, kPrefix4); error != 0)
        fail("setup", error, "cannot give the peer 198.18.0.1/24: " + errnoText(error));
    if (const int error = rtnlB.addAddress(peer.ifindex, AF_INET6, kPeer6, kPrefix6); error != 0)
        fail("setup", error, "cannot give the peer 2001:db8::1/64: " + errnoText(error));
    LinkInfo lo;
    if (rtnlB.getLink("lo", lo) == 0)
        rtnlB.setFlags(lo.ifindex, IFF_UP, IFF_UP);
    if (const int error = rtnlB.setFlags(peer.ifindex, IFF_UP, IFF_UP); error != 0)
        fail("setup", error, std::string("cannot bring ") + kPeerIf + " up: " + errnoText(error));
    if (const int error = rtnlA.setFlags(phantom.ifindex, IFF_UP | IFF_NOARP, IFF_UP | IFF_NOARP);
        error != 0)
        fail("setup", error,
             std::string("cannot bring ") + kPhantomIf + " up: " + errnoText(error));

    // Routes with metrics need their device up (IPv4 refuses a route on a device down).
    if (const int error = rtnlB.replaceSubnetRoute(AF_INET, kPeer4, kPrefix4, peer.ifindex, kPeer4,
                                                   kRouteMtu, kRouteMtu - 40);
        error != 0)
        fail("setup", error, "cannot set the route to 198.18.0.0/24: " + errnoText(error));
    if (const int error = rtnlB.replaceSubnetRoute(AF_INET6, kPeer6, kPrefix6, peer.ifindex, kPeer6,
                                                   kRouteMtu, kRouteMtu - 60);
        error != 0)
        fail("setup", error, "cannot set the route to 2001:db8::/64: " + errnoText(error));

    // Usable means: carrier, operationally up, and the real qdisc attached ("noop"
    // until the link watcher activates the device, which drops everything).
    const std::int64_t waitStart = monotonicMs();
    bool ready = false;
    while (monotonicMs() - waitStart < kLinkWaitMs) {
        const int e1 = rtnlA.getLink(kPhantomIf, phantom);
        const int e2 = rtnlB.getLink(kPeerIf, peer);
        if (e1 == 0 && e2 == 0 && phantom.carrier && peer.carrier &&
            phantom.operstate == IF_OPER_UP && peer.operstate == IF_OPER_UP &&
            !phantom.qdisc.empty() && phantom.qdisc != "noop" && !peer.qdisc.empty() &&
            peer.qdisc != "noop") {
            ready = true;
            break;
        }
        sleepMs(5);
    }
    if (!ready)
        fail("setup", ETIMEDOUT,
             "the veth pair did not come up within " + std::to_string(kLinkWaitMs / 1000) + " s (" +
                 kPhantomIf + ": operstate " + std::to_string(phantom.operstate) + ", qdisc " +
                 phantom.qdisc + "; " + kPeerIf + ": operstate " + std::to_string(peer.operstate) +
                 ", qdisc " + peer.qdisc + ")");
    const std::int64_t linkWait = monotonicMs() - waitStart;

    std::vector<int> fds{packetSocket(phantom)};
    fds.insert(fds.end(), listeners.begin(), listeners.end());

    std::string text = "ok\nversion=1\n";
    text += std::string("phantom_if=") + kPhantomIf + "\n";
    text += std::string("peer_if=") + kPeerIf + "\n";
    text += "link_mtu=" + std::to_string(kLinkMtu) + "\n";
    text += "phantom_ifindex=" + std::to_string(phantom.ifindex) + "\n";
    text += "phantom_if_mac=" + macText(phantom.mac) + "\n";
    text += std::string("peer_if=") + kPeerIf + "\n";
    text += "peer_mac=" + macText(peer.mac) + "\n";
    text += "ports=";
    for (std::size_t i = 0; i < ports.size(); ++i)
        text += (i ? "," : "") + std::to_string(ports[i]);
    text += "\nlink_wait_ms=" + std::to_string(linkWait) + "\n";
    text += "setup_ms=" + std::to_string(monotonicMs() - started) + "\n";
    text += tcpReport;
    if (!sendReply(text, fds))
        ::_exit(1); // tcplab is gone: exiting takes everything with us
    ::_exit(0);
}

[[noreturn]] void tcpSettings(const std::vector<std::string>& settings) {
    // The user namespace first: only its root may enter the network namespace it owns.
    if (::setns(kUserNsFd, CLONE_NEWUSER) != 0)
        failErrno("setup", "cannot enter the lab's user namespace");
    if (::setns(kNetNsFd, CLONE_NEWNET) != 0)
        failErrno("setup", "cannot enter the peer's network namespace");
    ::close(kUserNsFd);
    ::close(kNetNsFd);
    applySettings(settings);
    if (!sendReply("ok\n" + settingsReport(), {}))
        ::_exit(1);
    ::_exit(0);
}

[[noreturn]] void usage(const std::string& why) {
    fail("usage", EINVAL,
         why + " (usage: tcplab-lab-helper setup|tcp-settings [--port N]... "
               "[--sysctl tcp_KEY=VALUE]...; it is started by tcplab, not by hand)");
}

} // namespace

int main(int argc, char** argv) {
    // Nothing but the channel (and the namespace fds of tcp-settings) is ours to keep:
    // an fd tcplab leaked to us would outlive it.
    const bool settingsMode = argc >= 2 && std::string_view(argv[1]) == "tcp-settings";
    ::close_range(settingsMode ? kNetNsFd + 1 : kChannelFd + 1, ~0U, 0);
    ::alarm(kDeadlineSeconds);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);

    if (const char* simulate = std::getenv("TCPLAB_LAB_HELPER_FAIL")) {
        const std::string_view how(simulate);
        if (how == "crash")
            std::abort();
        if (how == "silent")
            ::_exit(3);
        if (how == "hang")
            for (int i = 0; i < 1000; ++i)
                sleepMs(1000); // ended by the alarm or by tcplab's kill
    }

    if (argc < 2)
        usage("no mode given");
    const std::string mode = argv[1];
    std::vector<std::uint16_t> ports;
    std::vector<std::string> settings;
    for (int i = 2; i < argc; ++i) {
        const std::string arg = argv[i];
        if (i + 1 >= argc)
            usage(arg + " needs a value");
        const std::string value = argv[++i];
        if (arg == "--port") {
            char* end = nullptr;
            const unsigned long port = std::strtoul(value.c_str(), &end, 10);
            if (value.empty() || *end != '\0' || port == 0 || port > 65535)
                usage("bad port '" + value + "'");
            if (ports.size() >= kMaxPorts)
                usage("at most " + std::to_string(kMaxPorts) + " ports");
            ports.push_back(static_cast<std::uint16_t>(port));
        } else if (arg == "--sysctl") {
            std::string key;
            std::string v;
            if (!validSetting(value, key, v))
                usage("not a TCP setting tcplab may change: '" + value + "'");
            settings.push_back(value);
        } else {
            usage("unknown argument '" + arg + "'");
        }
    }
    if (mode == "setup") {
        if (ports.empty())
            ports = {50001, 80};
        setup(ports, settings);
    }
    if (mode == "tcp-settings")
        tcpSettings(settings);
    usage("unknown mode '" + mode + "'");
}
