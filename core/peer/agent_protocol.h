#pragma once

// The peer agent's protocol: typed messages between tcplab and the agent that runs socket
// calls in the peer's network namespace (app/peer_agent for Linux, the lwIP helper for
// lwIP). One codec for both sides, so what one writes the other reads by construction,
// and a fuzz target checks that decode(encode(m)) == m and that nothing else decodes.
//
// A message on the wire (every number big-endian):
//
//     u32 length        bytes that follow (kind and body), at most kMaxMessageBytes - 4
//     u8  kind          MessageKind
//     ...               the body of that kind, field after field (see agent_protocol.cpp)
//
// Over a SOCK_SEQPACKET socket one datagram carries exactly one message; over a stream
// the length finds the end. Numbers are Linux's (AF_INET = 2, SOL_SOCKET = 1,
// TCP_NODELAY = 1, errno values): the agent runs on Linux, and the lwIP helper maps them.
//
// The conversation: the agent says Hello once, then answers each Request with one Answer
// (same id) when the call returns: a blocking call on a blocking socket runs on its own
// thread in the agent, so later requests are answered meanwhile. Sample messages come on
// their own: the agent samples the TCP state of the namespace's sockets at a steady rate
// and after each call, and sends what changed.

#include "peer/pattern.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <tl/expected.hpp>

namespace tcplab::peer {

inline constexpr std::uint32_t kProtocolVersion = 1;
/// The largest message, length field included: a SOCK_SEQPACKET datagram this size fits
/// the default socket buffers (net.core.wmem_default is 212992).
inline constexpr std::size_t kMaxMessageBytes = 128 * 1024;
/// The most bytes of data one message carries (a write's bytes, a read's, an option's).
inline constexpr std::size_t kMaxDataBytes = 64 * 1024;
/// The most numbers in a request or an answer (poll's fd/event pairs).
inline constexpr std::size_t kMaxNumbers = 256;
/// The most sockets in one Sample message (more go in several).
inline constexpr std::size_t kMaxSampleSockets = 128;
/// The longest text field (an address, a sysctl name, a sentence).
inline constexpr std::size_t kMaxTextBytes = 4096;

/// The calls the agent makes. Conventions for Request::fd, numbers, text and data, and
/// for what the Answer carries, are given per call; a Request that breaks them is refused
/// by validate() before it is sent.
enum class Call : std::uint8_t {
    /// numbers {family (AF_INET 2, AF_INET6 10), type (SOCK_STREAM 1, | SOCK_NONBLOCK
    /// 04000), protocol (0 or IPPROTO_TCP 6)}. Answer: result = the new fd.
    Socket = 1,
    /// fd; text = address ("" = any, "198.18.0.1", "::"); numbers {port}.
    Bind = 2,
    /// fd; numbers {backlog}.
    Listen = 3,
    /// fd (a listening socket). Answer: result = the new fd, text = the remote endpoint
    /// ("198.18.0.2:50000", "[2001:db8::2]:50000").
    Accept = 4,
    /// fd; text = address; numbers {port}. A non-blocking socket answers EINPROGRESS.
    Connect = 5,
    /// fd; numbers {count, flags (MSG_PEEK 2, MSG_DONTWAIT 0x40, MSG_WAITALL 0x100)}.
    /// Answer: result = bytes read (0 at the peer's FIN), data = the first
    /// kMaxDataBytes of them. count is at most kMaxReadBytes.
    Read = 6,
    /// fd; numbers {count, flags (MSG_MORE 0x8000, MSG_DONTWAIT 0x40)}; data = the bytes
    /// to write, or empty: `count` bytes of the agent's pattern (patternByte(), counted on
    /// from what this socket was given before), at most kMaxPatternWrite. Answer: result
    /// = bytes written (a blocking socket returns when all are queued).
    Write = 7,
    /// fd; numbers {how (SHUT_RD 0, SHUT_WR 1, SHUT_RDWR 2)}.
    Shutdown = 8,
    /// fd.
    Close = 9,
    /// numbers {timeout ms (-1: no limit), fd, events, fd, events, ...} (POLLIN 1, POLLPRI
    /// 2, POLLOUT 4, POLLERR 8, POLLHUP 0x10, POLLRDHUP 0x2000). Answer: result = the
    /// number of ready fds; numbers = revents per fd, in order.
    Poll = 10,
    /// fd; numbers {cmd (F_GETFL 3, F_SETFL 4), arg}. Answer: result = the flags (F_GETFL)
    /// or 0.
    Fcntl = 11,
    /// fd; numbers {level, name}; data = the value as the kernel takes it (an int is 4
    /// bytes in host order, SO_LINGER a struct linger, TCP_CONGESTION the name).
    SetSockOpt = 12,
    /// fd; numbers {level, name, length}. Answer: data = the value (as long as the kernel
    /// made it).
    GetSockOpt = 13,
    /// fd; numbers {request (SIOCINQ 0x541B, SIOCOUTQ 0x5411)}. Answer: result = the
    /// value.
    Ioctl = 14,
    /// text = the key ("net.ipv4.tcp_sack"); data = the value to write, or empty to read.
    /// Answer: data = the value in force afterwards (text, as /proc/sys has it). A refused
    /// write answers its errno and says why in text.
    Sysctl = 15,
    /// text = a prefix of keys ("net.ipv4.tcp_", "" for every key the agent reads).
    /// Answer: data = "key=value\n" lines, sorted.
    SysctlList = 16,
    /// fd; numbers {on}: while on, the agent reads and drops whatever arrives on the
    /// socket, as an application that keeps reading would (off, the default: nothing is
    /// read unless asked, so the receive buffer fills and the window closes).
    Drain = 17,
    /// Samples now. Answer: result = the sockets sampled; a Sample message with them
    /// follows (each one, changed or not).
    Sample = 18,
    /// numbers {size (> 0, as epoll_create(2) wants)}. Answer: result = the new epoll fd.
    EpollCreate = 19,
    /// fd = the epoll fd; numbers {op (EPOLL_CTL_ADD 1, EPOLL_CTL_DEL 2, EPOLL_CTL_MOD 3),
    /// the socket's fd, events (EPOLLIN 1, EPOLLOUT 4, EPOLLRDHUP 0x2000, EPOLLET 1 << 31,
    /// ...), the event's data (64 bits, returned as given: tcplab passes the fd)}.
    EpollCtl = 20,
    /// fd = the epoll fd; numbers {maxevents (1 to kMaxEpollEvents), timeout ms (-1: no
    /// limit)}. Answer: result = the events returned; numbers = (events, data) per event.
    EpollWait = 21,
    /// text = the program: "tc" or "ip", nothing else; data = its arguments, each ended by
    /// a NUL byte. Run without a shell in the peer's namespace, for at most
    /// kCommandSeconds. Answer: result = its exit status, text = what it wrote (stderr
    /// after stdout, the first kMaxTextBytes).
    Command = 22,
};
inline constexpr std::uint8_t kLastCall = 22;
/// The most events one epoll_wait returns (two numbers each in the answer).
inline constexpr std::int64_t kMaxEpollEvents = 64;
/// How long a command may run before the agent kills it.
inline constexpr int kCommandSeconds = 10;
/// The call's name as the C library names it: "socket", "setsockopt", "sysctl", "drain".
std::string_view callName(Call call) noexcept;
std::optional<Call> callByName(std::string_view name) noexcept;

inline constexpr std::uint64_t kMaxReadBytes = 64ull << 20;   ///< 64 MiB
inline constexpr std::uint64_t kMaxPatternWrite = 1ull << 30; ///< 1 GiB (see peer/pattern.h)

/// One call, from tcplab to the agent.
struct Request {
    std::uint32_t id = 0; ///< chosen by the caller; the Answer carries it back
    Call call = Call::Sample;
    std::int32_t fd = -1; ///< the socket the call is on; -1 where the call takes none
    std::vector<std::int64_t> numbers;
    std::string text;
    std::vector<std::uint8_t> data;
    friend bool operator==(const Request&, const Request&) = default;
};

/// Whether the agent made the call.
enum class Outcome : std::uint8_t {
    Done = 0,    ///< the call was made: result and error are the system's
    Refused = 1, ///< the agent did not make it (text says why: not supported by this stack,
                 ///< an fd the agent does not own, too many blocking calls at once)
};

/// The agent's answer to one Request.
struct Answer {
    std::uint32_t id = 0;
    Call call = Call::Sample;
    Outcome outcome = Outcome::Done;
    std::int64_t result = 0;     ///< the call's return value (-1 on failure)
    std::int32_t error = 0;      ///< errno when it failed, else 0
    std::int64_t startNs = 0;    ///< when the call began, CLOCK_REALTIME (the frames' clock)
    std::int64_t durationNs = 0; ///< how long it took (a blocking call: until it returned)
    std::vector<std::int64_t> numbers;
    std::string text;
    std::vector<std::uint8_t> data;
    friend bool operator==(const Answer&, const Answer&) = default;
};

/// Sent once by the agent when it starts.
struct Hello {
    std::uint32_t version = kProtocolVersion;
    std::string stack;   ///< "linux", "lwip"
    std::string release; ///< "6.18.44", "2.1.3"
    std::int32_t pid = 0;
    /// What this stack cannot do, in words ("lwIP: no TCP_CORK, no SO_LINGER with a time,
    /// no sysctls"), empty for Linux.
    std::string limits;
    friend bool operator==(const Hello&, const Hello&) = default;
};

/// One socket's TCP state at one moment: its kernel's own variables.
struct SocketSample {
    /// The socket's identity, the same for every sample of it: its inode, or, for a connection
    /// that had none when it was first seen (waiting in the accept queue), a number of the
    /// agent's with the top bit set, which it keeps after accept().
    std::uint64_t inode = 0;
    std::int32_t fd = -1; ///< the agent's fd for it, -1 when another program owns it
    bool ipv6 = false;
    std::vector<std::uint8_t> local; ///< 4 or 16 bytes (empty: not bound)
    std::uint16_t localPort = 0;
    std::vector<std::uint8_t> remote; ///< 4 or 16 bytes (empty: not connected)
    std::uint16_t remotePort = 0;
    bool gone = false;              ///< the socket no longer exists (closed, TIME-WAIT over)
    std::uint32_t receiveQueue = 0; ///< bytes not read yet (LISTEN: connections waiting)
    std::uint32_t sendQueue = 0;    ///< bytes not acknowledged yet (LISTEN: the backlog)
    std::string congestion;         ///< "cubic", "reno", ...; empty when unknown
    /// (field, value) pairs of TcpInfoField (core/peer/tcp_info.h), ascending by field:
    /// only what this stack provides.
    std::vector<std::pair<std::uint8_t, std::uint64_t>> fields;
    friend bool operator==(const SocketSample&, const SocketSample&) = default;
};

/// The sockets that changed since the last Sample (all of them when asked by Call::Sample).
struct Sample {
    std::int64_t timeNs = 0; ///< CLOCK_REALTIME
    /// The reason for the sample: 0 the steady rate, else the id of the request after
    /// which it was taken.
    std::uint32_t after = 0;
    std::vector<SocketSample> sockets;
    friend bool operator==(const Sample&, const Sample&) = default;
};

enum class MessageKind : std::uint8_t { Hello = 1, Request = 2, Answer = 3, Sample = 4 };
using Message = std::variant<Hello, Request, Answer, Sample>;

/// The message as bytes, length field first. Limits are the caller's to keep (validate()
/// for requests); a message over kMaxMessageBytes is still encoded (decode refuses it).
std::vector<std::uint8_t> encode(const Message& message);

/// Why bytes are not a message: "truncated: the answer's text needs 20 bytes, 3 are
/// left", "unknown call 99", "4 bytes after the end of the message".
struct DecodeError {
    std::string message;
};
/// Exactly one message, the whole of `bytes` (length field included). Refuses anything
/// over the limits above, unknown kinds and calls, and trailing bytes.
tl::expected<Message, DecodeError> decode(std::span<const std::uint8_t> bytes);
/// How many bytes the message at the start of `bytes` takes (length field included), once
/// its length field is there; for a stream transport. nullopt: fewer than 4 bytes.
std::optional<std::size_t> messageSize(std::span<const std::uint8_t> bytes) noexcept;

/// Whether `request` keeps its call's conventions (see Call); the sentence says what is
/// wrong ("connect needs a port from 1 to 65535, not 70000").
std::optional<std::string> validate(const Request& request);

/// A word a command's argument may be: letters, digits and ._-:/+,=@% only, nothing a
/// shell, a file name or a flag could turn into something else.
bool isCommandWord(std::string_view word) noexcept;
/// A Command request's arguments (its data, split at the NUL bytes).
std::vector<std::string> commandArguments(const Request& request);
/// Why `program args` is not a command the agent runs, or nullopt: tc qdisc, ip route,
/// ip tcp_metrics and ip link set, with no word that reaches another namespace, a file or
/// another program (netns, exec, -batch, bpf).
std::optional<std::string> commandRefusal(std::string_view program,
                                          const std::vector<std::string>& args);

} // namespace tcplab::peer
