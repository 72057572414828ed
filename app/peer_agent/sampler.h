#pragma once

// The TCP state of every socket of the peer's network namespace, as its kernel has it:
// the agent's own sockets through getsockopt(TCP_INFO), getsockname/getpeername,
// SIOCINQ/SIOCOUTQ, TCP_CONGESTION and fstat (for the inode), every other one (the lab's
// HTTP responder's connections, owned by tcplab's process) through NETLINK_SOCK_DIAG
// (inet_diag: INET_DIAG_INFO and INET_DIAG_CONG, AF_INET and AF_INET6).
//
// Two kinds of look. A full one dumps every socket of the namespace: it is how sockets
// nobody asked about are found, and how a socket is known to be gone. But a dump walks the
// kernel's whole established-socket hash, which a namespace shares with the host unless it
// was made with a private one (net.ipv4.tcp_child_ehash_entries): a millisecond and more on
// a big machine. So a quick look, made in between, samples the agent's own sockets and asks
// inet_diag for each other socket already known by its 4-tuple (a hash lookup each), and
// only says that a socket is gone when that lookup finds none. (Neither asks for the state
// BOUND_INACTIVE: that makes the kernel walk its whole bind hash too. The agent's own
// bound-only sockets are sampled anyway; other programs' are not.)
//
// A socket is followed from sample to sample as one thing: by its inode while it has one,
// by its 4-tuple once it is connected (a closed socket lives on as an orphan in
// FIN-WAIT-1 or TIME-WAIT without an inode; a connection waiting in the accept queue has
// none yet). Its SocketSample keeps the identity of its first sample: the inode it had, or
// an id of the agent's (top bit set) for one that had none yet. Only what changed since it
// was last sent is returned (TcpInfo::sameState, queues, addresses, congestion control,
// fd), and a socket that is gone once, with gone = true.

#include "agent_util.h"

#include "peer/agent_protocol.h"
#include "peer/tcp_info.h"

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace tcplab::agent {

class Sampler {
public:
    /// One of the agent's sockets, and where its connect() went (what a SYN-SENT socket's
    /// SYN goes to: getpeername() does not say until the handshake is done).
    struct OwnSocket {
        int fd = -1;
        std::optional<sockaddr_storage> connectTarget;
    };

    /// Opens the sock_diag socket; without one (an old kernel) only the agent's own
    /// sockets are sampled, and the log says why once.
    Sampler();

    /// Samples now: a full look or a quick one (see above). Returns the sockets that
    /// changed since they were last returned (every one seen when `all`), and those gone.
    std::vector<peer::SocketSample> take(std::span<const OwnSocket> own, bool all, bool full);

    /// Whether a socket was, when last seen, in a state other than LISTEN and CLOSE: a
    /// connection lives, so the steady sampling goes on.
    bool live() const noexcept;

private:
    /// A socket's endpoints as the kernel has them (an inet_diag id): to look it up again.
    struct KernelId {
        std::uint8_t family = 0;
        std::array<std::uint8_t, 16> src{};
        std::array<std::uint8_t, 16> dst{};
        std::uint16_t sport = 0;
        std::uint16_t dport = 0;
        std::uint32_t ifindex = 0;
    };
    /// One socket as seen now.
    struct Observation {
        std::uint64_t inode = 0;
        int fd = -1;
        bool ipv6 = false;
        std::vector<std::uint8_t> local;
        std::uint16_t localPort = 0;
        std::vector<std::uint8_t> remote;
        std::uint16_t remotePort = 0;
        std::uint32_t receiveQueue = 0;
        std::uint32_t sendQueue = 0;
        std::string congestion;
        peer::TcpInfo info;
        std::optional<KernelId> id; ///< connected sockets only
    };
    /// One socket followed over time.
    struct Tracked {
        std::uint64_t inode = 0; ///< the first nonzero inode seen
        /// What its samples say it is (SocketSample::inode), fixed at its first sample: its
        /// inode, or for one that had none yet (a connection waiting in the accept queue) a
        /// number of the agent's with the top bit set, kept after accept() gives it one.
        std::uint64_t reportedId = 0;
        std::uint64_t currentInode = 0;
        std::string tuple; ///< its 4-tuple once connected
        std::optional<KernelId> id;
        std::optional<peer::SocketSample> lastSent;
        peer::TcpInfo lastInfo;
        bool seen = false;
    };
    enum class Lookup { Found, Gone, Failed };

    bool dump(int family, std::vector<Observation>& out);
    Lookup lookup(const KernelId& id, Observation& out);
    bool request(const void* message, std::size_t size);
    static bool parse(const void* header, Observation& out);
    std::optional<Observation> observeOwn(const OwnSocket& own,
                                          const std::map<std::uint64_t, Observation>& diag);
    std::uint64_t track(const Observation& o);
    void report(std::uint64_t id, const Observation& o, bool all,
                std::vector<peer::SocketSample>& out);
    void forget(std::uint64_t id, std::vector<peer::SocketSample>& out);

    Fd m_diag;
    std::uint32_t m_sequence = 0;
    std::vector<std::uint8_t> m_buffer;
    std::uint64_t m_nextId = 1;
    std::map<std::uint64_t, Tracked> m_tracked; ///< by id
    std::map<std::uint64_t, std::uint64_t> m_byInode;
    std::map<std::string, std::uint64_t> m_byTuple;
};

} // namespace tcplab::agent
