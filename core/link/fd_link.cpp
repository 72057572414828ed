#include "link/fd_link.h"

#include "link/link_errors.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <utility>

#include <fmt/format.h>

namespace tcplab::link {

namespace {

std::int64_t realtimeNs() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

/// How many times a call interrupted by a signal is retried before giving up.
constexpr int kEintrRetries = 16;
/// Frames a receive() may skip (our own sends on a packet socket without
/// PACKET_IGNORE_OUTGOING, empty datagrams) without counting them, so that a call
/// stays bounded even when it delivers nothing.
constexpr std::size_t kMaxSkippedPerCall = 1024;
/// Receive buffer asked for on our own packet sockets: bursts of a few thousand
/// frames while the engine is busy must not be dropped.
constexpr int kPacketReceiveBuffer = 4 * 1024 * 1024;

LinkError ioError(std::string message) {
    return {LinkErrorCode::Io, std::move(message)};
}

/// Closes an fd on scope exit unless released.
class FdGuard {
public:
    explicit FdGuard(int fd) noexcept
        : m_fd(fd) {}
    ~FdGuard() {
        if (m_fd >= 0)
            ::close(m_fd);
    }
    FdGuard(const FdGuard&) = delete;
    FdGuard& operator=(const FdGuard&) = delete;
    int get() const noexcept { return m_fd; }
    int release() noexcept { return std::exchange(m_fd, -1); }

private:
    int m_fd;
};

} // namespace

/// The buffers and headers of one recvmmsg() call. The buffers (kBatch x kBufferSize) are
/// mapped without MAP_POPULATE: a 1514-byte frame makes one page resident, not 256 KiB.
struct FdLink::Batch {
    static constexpr std::size_t kControlSize = CMSG_SPACE(sizeof(timespec)) + 64;
    struct alignas(cmsghdr) Control {
        char bytes[kControlSize];
    };

    Batch() {
        void* mapped = ::mmap(nullptr, kBatch * kBufferSize, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        memory = mapped == MAP_FAILED ? nullptr : static_cast<std::uint8_t*>(mapped);
    }
    ~Batch() {
        if (memory)
            ::munmap(memory, kBatch * kBufferSize);
    }
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;

    std::uint8_t* buffer(std::size_t index) const noexcept { return memory + index * kBufferSize; }

    /// Sets the headers up for `count` frames (recvmmsg() changes the lengths it is given).
    void prepare(std::size_t count) noexcept {
        for (std::size_t i = 0; i < count; ++i) {
            vectors[i] = iovec{buffer(i), kBufferSize};
            msghdr& m = headers[i].msg_hdr;
            m = msghdr{};
            m.msg_name = &from[i];
            m.msg_namelen = sizeof from[i];
            m.msg_iov = &vectors[i];
            m.msg_iovlen = 1;
            m.msg_control = control[i].bytes;
            m.msg_controllen = sizeof control[i].bytes;
            headers[i].msg_len = 0;
        }
    }

    std::uint8_t* memory = nullptr;
    std::array<mmsghdr, kBatch> headers{};
    std::array<iovec, kBatch> vectors{};
    std::array<sockaddr_ll, kBatch> from{};
    std::array<Control, kBatch> control{};
};

struct FdLink::ReadResult {
    enum class Outcome : std::uint8_t { Frame, NoneWaiting, Skipped, Failed };
    Outcome outcome;
    std::size_t length = 0;
    std::int64_t timestampNs = 0;
    std::optional<LinkError> error = std::nullopt;
    bool final = false;                 ///< the link is unusable from now on
    const std::uint8_t* data = nullptr; ///< the frame's bytes (Frame), in the batch's buffers

    static ReadResult frame(const std::uint8_t* bytes, std::size_t length, std::int64_t stampNs) {
        return {Outcome::Frame, length, stampNs, std::nullopt, false, bytes};
    }
    static ReadResult none() { return {Outcome::NoneWaiting}; }
    static ReadResult skipped() { return {Outcome::Skipped}; }
    static ReadResult failed(LinkError e, bool isFinal) {
        return {Outcome::Failed, 0, 0, std::move(e), isFinal};
    }
};

FdLink::FdLink(int fd, Kind kind, bool connectionOriented, std::string description)
    : m_fd(fd)
    , m_kind(kind)
    , m_connectionOriented(connectionOriented)
    , m_description(std::move(description))
    , m_batch(std::make_unique<Batch>()) {
    m_results.reserve(kBatch);
}

FdLink::~FdLink() {
    if (m_fd >= 0)
        ::close(m_fd);
}

tl::expected<std::unique_ptr<FdLink>, LinkError> FdLink::adopt(int fd, std::string description) {
    if (fd < 0)
        return tl::make_unexpected(ioError(fmt::format("{}: not a file descriptor", description)));
    FdGuard guard(fd);

    struct stat st {};
    if (::fstat(fd, &st) != 0)
        return tl::make_unexpected(
            ioError(fmt::format("{}: fstat failed: {}", description, std::strerror(errno))));

    Kind kind = Kind::Device;
    bool connectionOriented = true; // a TAP or other device: end of file is a close
    if (S_ISSOCK(st.st_mode)) {
        int domain = 0;
        int type = 0;
        socklen_t length = sizeof domain;
        if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length) != 0)
            return tl::make_unexpected(ioError(fmt::format(
                "{}: cannot read the socket's domain: {}", description, std::strerror(errno))));
        length = sizeof type;
        if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0)
            return tl::make_unexpected(ioError(fmt::format("{}: cannot read the socket's type: {}",
                                                           description, std::strerror(errno))));
        if (type == SOCK_STREAM)
            return tl::make_unexpected(ioError(fmt::format(
                "{}: a stream socket does not keep frame boundaries; use SOCK_SEQPACKET",
                description)));
        kind = domain == AF_PACKET ? Kind::PacketSocket : Kind::Socket;
        connectionOriented = type == SOCK_SEQPACKET;
    }

    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
        return tl::make_unexpected(ioError(
            fmt::format("{}: cannot make it non-blocking: {}", description, std::strerror(errno))));
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);

    if (kind == Kind::PacketSocket) {
        // Best effort: without kernel timestamps we stamp with the clock on receipt,
        // and without PACKET_IGNORE_OUTGOING (Linux < 4.20) receive() skips our own
        // frames by their packet type.
        const int on = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
        ::setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &on, sizeof on);
    }
    std::unique_ptr<FdLink> link(
        new FdLink(guard.release(), kind, connectionOriented, std::move(description)));
    if (!link->m_batch->memory)
        return tl::make_unexpected(
            ioError(fmt::format("{}: cannot map {} bytes of receive buffers: {}",
                                link->m_description, kBatch * kBufferSize, std::strerror(errno))));
    return link;
}

tl::expected<std::unique_ptr<FdLink>, LinkError>
FdLink::openPacketSocket(const std::string& ifname) {
    if (ifname.empty() || ifname.size() >= IFNAMSIZ)
        return tl::make_unexpected(noSuchInterface(ifname));

    // Protocol 0: the socket receives nothing until bind() names the interface, so no
    // frame of another interface slips in between.
    FdGuard fd(::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) {
        const int error = errno;
        if (error == EPERM || error == EACCES)
            return tl::make_unexpected(permissionDenied(
                ifname, fmt::format("socket(AF_PACKET): {}", std::strerror(error))));
        return tl::make_unexpected(ioError(
            fmt::format("cannot open a packet socket for {}: {}", ifname, std::strerror(error))));
    }

    const unsigned ifindex = ::if_nametoindex(ifname.c_str());
    if (ifindex == 0)
        return tl::make_unexpected(noSuchInterface(ifname));

    ifreq request{};
    std::memcpy(request.ifr_name, ifname.c_str(), ifname.size());
    if (::ioctl(fd.get(), SIOCGIFHWADDR, &request) == 0) {
        const auto type = request.ifr_hwaddr.sa_family;
        // Loopback frames carry an Ethernet header too (all-zero addresses).
        if (type != ARPHRD_ETHER && type != ARPHRD_LOOPBACK)
            return tl::make_unexpected(ioError(fmt::format(
                "{} is not an Ethernet interface (ARPHRD {}): the phantom host needs Ethernet "
                "frames; use a veth, bridge, TAP or Ethernet interface",
                ifname, type)));
    }
    if (::ioctl(fd.get(), SIOCGIFFLAGS, &request) != 0) {
        if (errno == ENODEV || errno == ENXIO)
            return tl::make_unexpected(noSuchInterface(ifname));
    } else if ((request.ifr_flags & IFF_UP) == 0) {
        return tl::make_unexpected(interfaceDown(ifname));
    }

    int receiveBuffer = kPacketReceiveBuffer;
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &receiveBuffer, sizeof receiveBuffer) !=
        0)
        ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &receiveBuffer, sizeof receiveBuffer);
    const int on = 1;
    ::setsockopt(fd.get(), SOL_PACKET, PACKET_IGNORE_OUTGOING, &on, sizeof on);

    sockaddr_ll address{};
    address.sll_family = AF_PACKET;
    address.sll_protocol = htons(ETH_P_ALL);
    address.sll_ifindex = static_cast<int>(ifindex);
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        const int error = errno;
        if (error == ENODEV || error == ENXIO)
            return tl::make_unexpected(noSuchInterface(ifname));
        if (error == ENETDOWN)
            return tl::make_unexpected(interfaceDown(ifname));
        if (error == EPERM || error == EACCES)
            return tl::make_unexpected(
                permissionDenied(ifname, fmt::format("bind: {}", std::strerror(error))));
        return tl::make_unexpected(ioError(
            fmt::format("cannot bind a packet socket to {}: {}", ifname, std::strerror(error))));
    }
    // Binding to an interface that is down succeeds but leaves ENETDOWN pending.
    int pending = 0;
    socklen_t length = sizeof pending;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &pending, &length) == 0 && pending == ENETDOWN)
        return tl::make_unexpected(interfaceDown(ifname));

    // Promiscuous: the phantom's MAC is nobody's, so its frames would be filtered out
    // by a NIC that only accepts its own address. The membership ends with the socket.
    packet_mreq membership{};
    membership.mr_ifindex = static_cast<int>(ifindex);
    membership.mr_type = PACKET_MR_PROMISC;
    if (::setsockopt(fd.get(), SOL_PACKET, PACKET_ADD_MEMBERSHIP, &membership, sizeof membership) !=
        0) {
        const int error = errno;
        if (error == EPERM || error == EACCES)
            return tl::make_unexpected(permissionDenied(
                ifname, fmt::format("promiscuous mode: {}", std::strerror(error))));
        if (error == ENODEV || error == ENXIO)
            return tl::make_unexpected(noSuchInterface(ifname));
        return tl::make_unexpected(ioError(
            fmt::format("cannot put {} in promiscuous mode: {}", ifname, std::strerror(error))));
    }
    return adopt(fd.release(), fmt::format("AF_PACKET on {}", ifname));
}

LinkError FdLink::errorFromErrno(int error, const char* operation) const {
    switch (error) {
    case ENETDOWN:
    case ENODEV:
    case ENXIO:
        return interfaceGone(m_description, fmt::format("{}: {}", operation, std::strerror(error)));
    case EPIPE:
    case ECONNRESET:
    case ENOTCONN:
    case ECONNREFUSED:
        return {LinkErrorCode::Closed,
                fmt::format("{}: the other end closed the connection ({}: {})", m_description,
                            operation, std::strerror(error))};
    default:
        return ioError(
            fmt::format("{}: {} failed: {}", m_description, operation, std::strerror(error)));
    }
}

FdLink::ReadResult FdLink::readDevice() {
    std::uint8_t* buffer = m_batch->buffer(0);
    ssize_t n = -1;
    for (int attempt = 0; attempt < kEintrRetries; ++attempt) {
        n = ::read(m_fd, buffer, kBufferSize);
        if (n >= 0 || errno != EINTR)
            break;
    }
    if (n < 0) {
        const int error = errno;
        if (error == EAGAIN || error == EWOULDBLOCK)
            return ReadResult::none();
        // Every read error leaves the link unusable: interface gone, peer gone, or
        // something we do not know how to recover from.
        return ReadResult::failed(errorFromErrno(error, "receive"), true);
    }
    if (n == 0)
        return ReadResult::failed(
            LinkError{LinkErrorCode::Closed,
                      fmt::format("{}: the other end closed the connection", m_description)},
            true);
    // A device read cannot say whether it cut the frame; one that fills the buffer
    // exactly may have been cut, so it is not passed on as whole.
    if (n == static_cast<ssize_t>(kBufferSize))
        return ReadResult::failed(
            ioError(fmt::format("{}: dropped a received frame of {} bytes or more, larger than "
                                "the {}-byte receive buffer",
                                m_description, n, kBufferSize)),
            false);
    return ReadResult::frame(buffer, static_cast<std::size_t>(n), realtimeNs());
}

void FdLink::readSocket(std::size_t count) {
    m_results.clear();
    count = std::min(count, kBatch);
    m_batch->prepare(count);
    int n = -1;
    for (int attempt = 0; attempt < kEintrRetries; ++attempt) {
        // MSG_TRUNC: the kernel returns each frame's real length even when it did not
        // fit, so a cut frame is detected rather than passed on short.
        n = ::recvmmsg(m_fd, m_batch->headers.data(), static_cast<unsigned>(count),
                       MSG_TRUNC | MSG_DONTWAIT, nullptr);
        if (n >= 0 || errno != EINTR)
            break;
    }
    if (n < 0) {
        const int error = errno;
        if (error == EAGAIN || error == EWOULDBLOCK)
            m_results.push_back(ReadResult::none());
        else
            m_results.push_back(ReadResult::failed(errorFromErrno(error, "receive"), true));
        return;
    }
    // An error after the first frame is kept by the kernel for the next call.
    for (int i = 0; i < n; ++i) {
        const mmsghdr& h = m_batch->headers[static_cast<std::size_t>(i)];
        m_results.push_back(resultOf(static_cast<std::size_t>(i), h.msg_len, h.msg_hdr.msg_flags));
        if (m_results.back().final)
            return; // a close: the rest (more of the same) means nothing
    }
    if (n == 0)
        m_results.push_back(ReadResult::none());
}

FdLink::ReadResult FdLink::resultOf(std::size_t index, std::size_t length, int flags) const {
    if (length == 0) {
        if (m_connectionOriented)
            return ReadResult::failed(
                LinkError{LinkErrorCode::Closed,
                          fmt::format("{}: the other end closed the connection", m_description)},
                true);
        return ReadResult::skipped(); // an empty datagram is not a frame
    }
    if (length > kBufferSize || (flags & MSG_TRUNC) != 0)
        return ReadResult::failed(
            ioError(fmt::format(
                "{}: dropped a received frame of {} bytes, larger than the {}-byte receive "
                "buffer (turn off GRO/LRO on the interface: ethtool -K <interface> gro off "
                "lro off)",
                m_description, length, kBufferSize)),
            false);
    if (m_kind == Kind::PacketSocket && m_batch->from[index].sll_pkttype == PACKET_OUTGOING)
        return ReadResult::skipped();
    std::int64_t timestampNs = 0;
    // CMSG_NXTHDR takes a non-const msghdr; the header is only read.
    auto& message = const_cast<msghdr&>(m_batch->headers[index].msg_hdr);
    for (cmsghdr* c = CMSG_FIRSTHDR(&message); c; c = CMSG_NXTHDR(&message, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS &&
            c->cmsg_len >= CMSG_LEN(sizeof(timespec))) {
            timespec ts{};
            std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
            timestampNs = std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
        }
    }
    return ReadResult::frame(m_batch->buffer(index), length,
                             timestampNs > 0 ? timestampNs : realtimeNs());
}

tl::expected<std::size_t, LinkError> FdLink::receive(const FrameSink& sink, std::size_t maxFrames) {
    if (m_failure)
        return tl::make_unexpected(*m_failure);
    if (m_pending)
        return tl::make_unexpected(*std::exchange(m_pending, std::nullopt));

    std::size_t delivered = 0;
    std::size_t skipped = 0;
    while (delivered < maxFrames && skipped < kMaxSkippedPerCall) {
        // Results of the last batch not handed over yet (after an error that returned
        // early), else a new batch: never more frames than this call may deliver.
        if (m_next >= m_results.size()) {
            m_next = 0;
            if (m_kind == Kind::Device) {
                m_results.clear();
                m_results.push_back(readDevice());
            } else {
                readSocket(maxFrames - delivered);
            }
        }
        ReadResult& r = m_results[m_next++];
        switch (r.outcome) {
        case ReadResult::Outcome::NoneWaiting:
            return delivered;
        case ReadResult::Outcome::Skipped:
            ++skipped;
            continue;
        case ReadResult::Outcome::Failed:
            if (r.final)
                m_failure = r.error;
            if (delivered == 0)
                return tl::make_unexpected(*r.error);
            // Hand over what arrived before the error; report it next time.
            if (!r.final)
                m_pending = r.error;
            return delivered;
        case ReadResult::Outcome::Frame:
            sink(r.timestampNs, wire::Bytes(r.data, r.length));
            ++delivered;
            break;
        }
    }
    return delivered;
}

std::optional<FdLink::ReceiveStatistics> FdLink::receiveStatistics() const {
    if (m_kind != Kind::PacketSocket)
        return std::nullopt;
    tpacket_stats stats{};
    socklen_t length = sizeof stats;
    if (::getsockopt(m_fd, SOL_PACKET, PACKET_STATISTICS, &stats, &length) != 0)
        return std::nullopt;
    // Each read returns the counts since the previous one (and zeroes the kernel's), so
    // concurrent readers each add what they took.
    const std::uint64_t packets = m_statPackets.fetch_add(stats.tp_packets) + stats.tp_packets;
    const std::uint64_t drops = m_statDrops.fetch_add(stats.tp_drops) + stats.tp_drops;
    return ReceiveStatistics{packets, drops};
}

tl::expected<void, LinkError> FdLink::send(wire::Bytes frame) {
    if (m_failure)
        return tl::make_unexpected(*m_failure);
    if (frame.empty())
        return tl::make_unexpected(
            ioError(fmt::format("{}: refusing to send an empty frame", m_description)));
    ssize_t n = -1;
    for (int attempt = 0; attempt < kEintrRetries; ++attempt) {
        n = m_kind == Kind::Device
                ? ::write(m_fd, frame.data(), frame.size())
                : ::send(m_fd, frame.data(), frame.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0 || errno != EINTR)
            break;
    }
    if (n < 0) {
        const int error = errno;
        switch (error) {
        case EAGAIN:
#if EWOULDBLOCK != EAGAIN
        case EWOULDBLOCK:
#endif
        case ENOBUFS:
            return tl::make_unexpected(ioError(
                fmt::format("{}: the send queue is full ({}); the frame was not sent, try again",
                            m_description, std::strerror(error))));
        case EMSGSIZE:
            return tl::make_unexpected(ioError(fmt::format(
                "{}: a frame of {} bytes is larger than the link carries (its MTU); the frame "
                "was not sent",
                m_description, frame.size())));
        case EINVAL:
            return tl::make_unexpected(ioError(fmt::format(
                "{}: the kernel refused a frame of {} bytes ({}); an Ethernet frame needs at "
                "least its 14-byte header",
                m_description, frame.size(), std::strerror(error))));
        default:
            break;
        }
        LinkError e = errorFromErrno(error, "send");
        if (e.code == LinkErrorCode::Closed || e.code == LinkErrorCode::InterfaceGone)
            m_failure = e;
        return tl::make_unexpected(std::move(e));
    }
    if (static_cast<std::size_t>(n) != frame.size())
        return tl::make_unexpected(ioError(
            fmt::format("{}: only {} of {} bytes were sent", m_description, n, frame.size())));
    return {};
}

} // namespace tcplab::link
