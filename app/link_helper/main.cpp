// tcplab-link: the one program of tcplab that holds a capability (CAP_NET_RAW, granted
// to the file by the package; root:tcplab 0750, so only members of the group tcplab can
// run it). It does one thing and exits:
//
//   tcplab-link INTERFACE MAC IPV4|- IPV6|-      (its channel, a Unix socket, at fd 3)
//
// It validates the request (link/helper_request.h), opens an AF_PACKET socket on that
// interface alone, attaches the phantom's capture filter (host::phantomBpfFilter, so the
// socket sees only the phantom's frames), makes it promiscuous, drops every capability,
// and passes the socket over fd 3 ("ok IFINDEX" with SCM_RIGHTS). Any failure is one
// line, "error STATUS SENTENCE", on the channel (on stderr when fd 3 is unusable), and
// the exit status is STATUS. It then waits for its parent to close the channel (at most
// kLinger), so that what it holds can be inspected, and exits.
//
// Why CAP_NET_RAW and not CAP_NET_ADMIN: opening the packet socket needs the first;
// promiscuous mode through PACKET_ADD_MEMBERSHIP needs nothing more. tcplab controls no
// offloads. Without CAP_NET_ADMIN the receive buffer is net.core.rmem_max at most
// (SO_RCVBUFFORCE is refused), which tcplab-lab raises for its own lab.
//
// Links libc, libfmt and libpcap (pcap_compile only: no capture, no file parsing).
#include "host/phantom_filter.h"
#include "link/helper_request.h"

#include <pcap/pcap.h>

#include <arpa/inet.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace {

using tcplab::link::HelperStatus;

constexpr int kChannel = 3;
constexpr int kReceiveBuffer = 4 * 1024 * 1024;
constexpr int kSnapLength = 262'144; ///< the filter's accept length: whole frames
constexpr int kLingerMs = 10'000;

bool channelUsable() {
    struct stat st {};
    int domain = 0;
    socklen_t length = sizeof domain;
    return ::fstat(kChannel, &st) == 0 && S_ISSOCK(st.st_mode) &&
           ::getsockopt(kChannel, SOL_SOCKET, SO_DOMAIN, &domain, &length) == 0 &&
           domain == AF_UNIX;
}

/// Says why on the channel (or stderr) and exits with that status.
[[noreturn]] void fail(HelperStatus status, const std::string& sentence) {
    const std::string line = tcplab::link::errorAnswer(status, sentence);
    if (status == HelperStatus::BadChannel ||
        ::send(kChannel, line.data(), line.size(), MSG_NOSIGNAL) < 0)
        std::fprintf(stderr, "tcplab-link: %s\n", sentence.c_str());
    std::_Exit(static_cast<int>(status));
}

std::string lastError() {
    return std::strerror(errno);
}

/// Drops the effective, permitted and inheritable sets and the ambient set; true when
/// none is left in effect.
bool dropCapabilities() {
    ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    if (::syscall(SYS_capset, &header, data) != 0)
        return false;
    if (::syscall(SYS_capget, &header, data) != 0)
        return false;
    for (const auto& d : data)
        if (d.effective != 0 || d.permitted != 0)
            return false;
    return true;
}

/// Compiles the phantom's filter for Ethernet and attaches it to `fd`.
void attachFilter(int fd, const tcplab::link::HelperRequest& request) {
    tcplab::host::Identity identity;
    identity.mac = request.mac;
    if (request.ipv4)
        identity.ipv4 = tcplab::host::Ipv4Config{*request.ipv4, 32, std::nullopt};
    if (request.ipv6)
        identity.ipv6 = tcplab::host::Ipv6Config{*request.ipv6, 128, std::nullopt};
    const std::string expression = tcplab::host::phantomBpfFilter(identity);
    pcap_t* dead = ::pcap_open_dead(DLT_EN10MB, kSnapLength);
    if (!dead)
        fail(HelperStatus::Failed, "libpcap cannot compile a filter here");
    bpf_program program{};
    if (::pcap_compile(dead, &program, expression.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0)
        fail(HelperStatus::Failed,
             fmt::format("the phantom's filter does not compile: {}", ::pcap_geterr(dead)));
    ::pcap_close(dead);
    sock_fprog kernelProgram{static_cast<unsigned short>(program.bf_len),
                             reinterpret_cast<sock_filter*>(program.bf_insns)};
    const int attached =
        ::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &kernelProgram, sizeof kernelProgram);
    ::pcap_freecode(&program);
    if (attached != 0)
        fail(HelperStatus::Failed,
             fmt::format("the kernel refused the phantom's filter: {}", lastError()));
}

struct PacketSocket {
    int fd;
    int ifindex;
};

/// The packet socket for `request`, filtered, bound to its interface, promiscuous.
PacketSocket openPacketSocket(const tcplab::link::HelperRequest& request) {
    const char* name = request.interfaceName.c_str();
    const unsigned ifindex = ::if_nametoindex(name);
    if (ifindex == 0)
        fail(HelperStatus::NoSuchInterface, fmt::format("there is no interface named {}", name));
    // Protocol 0: nothing is received until bind(), which comes after the filter.
    const int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd < 0 && (errno == EPERM || errno == EACCES))
        fail(HelperStatus::PermissionDenied,
             "tcplab-link holds no CAP_NET_RAW (the package grants it: sudo setcap cap_net_raw+ep "
             "on tcplab-link)");
    if (fd < 0)
        fail(HelperStatus::Failed, fmt::format("socket(AF_PACKET): {}", lastError()));

    ifreq interface {};
    std::memcpy(interface.ifr_name, name, request.interfaceName.size());
    if (::ioctl(fd, SIOCGIFHWADDR, &interface) == 0 &&
        interface.ifr_hwaddr.sa_family != ARPHRD_ETHER &&
        interface.ifr_hwaddr.sa_family != ARPHRD_LOOPBACK)
        fail(HelperStatus::NotEthernet, fmt::format("{} is not an Ethernet interface (ARPHRD {})",
                                                    name, interface.ifr_hwaddr.sa_family));
    if (::ioctl(fd, SIOCGIFFLAGS, &interface) != 0)
        fail(HelperStatus::NoSuchInterface, fmt::format("there is no interface named {}", name));
    if ((interface.ifr_flags & IFF_UP) == 0)
        fail(HelperStatus::InterfaceDown, fmt::format("interface {} is down", name));

    attachFilter(fd, request);
    int buffer = kReceiveBuffer;
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer) != 0)
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    sockaddr_ll address{};
    address.sll_family = AF_PACKET;
    address.sll_protocol = htons(ETH_P_ALL);
    address.sll_ifindex = static_cast<int>(ifindex);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
        fail(errno == ENETDOWN ? HelperStatus::InterfaceDown : HelperStatus::NoSuchInterface,
             fmt::format("cannot bind to {}: {}", name, lastError()));
    packet_mreq membership{};
    membership.mr_ifindex = static_cast<int>(ifindex);
    membership.mr_type = PACKET_MR_PROMISC;
    if (::setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &membership, sizeof membership) != 0)
        fail(HelperStatus::Failed,
             fmt::format("cannot make {} promiscuous: {}", name, lastError()));
    // The index still names the interface asked for (not one renamed meanwhile).
    ifreq bound{};
    bound.ifr_ifindex = static_cast<int>(ifindex);
    if (::ioctl(fd, SIOCGIFNAME, &bound) != 0 || request.interfaceName != bound.ifr_name)
        fail(HelperStatus::NoSuchInterface,
             fmt::format("interface {} was renamed or removed while it was opened", name));
    return {fd, static_cast<int>(ifindex)};
}

void passSocket(int fd, int ifindex) {
    const std::string text = tcplab::link::okAnswer(ifindex);
    iovec part{const_cast<char*>(text.data()), text.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr message{};
    message.msg_iov = &part;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(header), &fd, sizeof fd);
    if (::sendmsg(kChannel, &message, MSG_NOSIGNAL) < 0)
        fail(HelperStatus::BadChannel, fmt::format("cannot pass the socket: {}", lastError()));
}

} // namespace

int main(int argc, char* argv[]) {
    if (!channelUsable())
        fail(HelperStatus::BadChannel,
             "fd 3 must be the Unix socket to pass the link over (tcplab and tcplab-cli start "
             "this helper; it is not meant to be run by hand)");
    const std::vector<std::string> args(argv + std::min(argc, 1), argv + argc);
    const auto request = tcplab::link::parseHelperArguments(args);
    if (!request)
        fail(HelperStatus::Usage, request.error().message);

    const PacketSocket link = openPacketSocket(*request);
    if (!dropCapabilities())
        fail(HelperStatus::Failed, "cannot drop its capabilities; nothing was passed");
    passSocket(link.fd, link.ifindex);
    ::close(link.fd);
    // Until the parent has the socket and closes the channel (bounded).
    pollfd channel{kChannel, POLLIN, 0};
    ::poll(&channel, 1, kLingerMs);
    return 0;
}
