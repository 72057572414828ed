#pragma once

// Peer calls as people write them and read them: the one-line grammar that the scenario
// language's "peer" steps, `tcplab-cli peer` and the GUI's Peer dock share, and an
// strace-like line for every answer.
//
//   socket [inet|inet6] [nonblock]         socket(AF_INET, SOCK_STREAM, 0)
//   bind FD [ADDRESS] PORT                 ADDRESS defaults to any (0.0.0.0 / ::)
//   listen FD [BACKLOG]                    BACKLOG defaults to 16
//   accept FD
//   connect FD ADDRESS PORT
//   read FD COUNT [peek] [dontwait] [waitall]
//   read FD stop | read FD all             the same as drain FD off | drain FD on
//   write FD COUNT [more] [dontwait]       COUNT bytes of the agent's pattern (1k, 4M, 1G)
//   write FD "text with \r\n escapes" | write FD hex:0a0b   the given bytes
//   shutdown FD rd|wr|rdwr
//   close FD
//   poll TIMEOUT_MS FD EVENTS [FD EVENTS]...    EVENTS: in,out,pri,rdhup (comma-separated)
//   fcntl FD getfl | fcntl FD setfl FLAGS  FLAGS: nonblock, 0 (blocking) or a number
//   setsockopt FD OPTION VALUE             TCP_NODELAY 1, SO_LINGER 1,0, TCP_CONGESTION reno
//   getsockopt FD OPTION
//   ioctl FD SIOCINQ|SIOCOUTQ
//   sysctl KEY[=VALUE]                     net.ipv4.tcp_sack=0; the key alone reads it
//   sysctl-list [PREFIX]
//   drain FD on|off
//   sample
//
// Numbers take k, M and G suffixes (powers of 1024) where they count bytes.

#include "peer/agent_protocol.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace tcplab::peer {

/// What a socket option's value is, for reading and writing it as text.
enum class OptionType : std::uint8_t {
    Int,     ///< a C int: "1", "65536"
    Linger,  ///< struct linger: "1,0" (on, 0 s: close sends a RST)
    String,  ///< TCP_CONGESTION: "reno"
    TcpInfo, ///< struct tcp_info: read only
};

struct SocketOption {
    std::string_view name; ///< "TCP_NODELAY"
    int level;             ///< SOL_SOCKET 1, IPPROTO_IP 0, IPPROTO_TCP 6, IPPROTO_IPV6 41
    int option;            ///< Linux's number
    OptionType type;
    bool readOnly = false;
    std::string_view meaning; ///< one line
};
/// Every option the grammar knows, SOL_SOCKET ones first.
std::span<const SocketOption> socketOptions() noexcept;
/// By name, any case ("tcp_nodelay" works).
const SocketOption* findOption(std::string_view name) noexcept;
const SocketOption* findOption(int level, int option) noexcept;

/// The errno's name: "ECONNREFUSED"; "errno 999" when unknown.
std::string errnoName(int error);
/// The number of an errno name ("ECONNRESET" -> 104), for expectations.
std::optional<int> errnoByName(std::string_view name) noexcept;

/// Reads one call in the grammar above ("connect 3 198.18.0.2 50000"); the error names the
/// word that is wrong and says what was expected. The result passes validate().
tl::expected<Request, std::string> parseCall(std::string_view text);
/// The call in the grammar above: parseCall(formatCall(r)) == r for every request
/// parseCall made (id apart).
std::string formatCall(const Request& request);
/// The call as C: "connect(3, 198.18.0.2:50000)", "setsockopt(3, SOL_SOCKET, SO_LINGER,
/// {onoff=1, linger=0})", "write(4, 1048576 pattern bytes)".
std::string describeCall(const Request& request);
/// The answer, strace-like: "= 4 (198.18.0.2:50000)", "= -1 ECONNREFUSED (Connection
/// refused)", "refused: lwIP has no TCP_CORK"; with the data decoded for getsockopt (an int,
/// a linger, tcp_info's main fields) and sysctl.
std::string describeAnswer(const Request& request, const Answer& answer);
/// One line for both: "connect(3, 198.18.0.2:50000) = 0 [82 us]".
std::string describeCallLine(const Request& request, const Answer& answer);

/// An option's value as the kernel takes it, from text ("1", "1,0", "reno").
tl::expected<std::vector<std::uint8_t>, std::string> encodeOptionValue(const SocketOption& option,
                                                                       std::string_view text);
/// An option's value as the kernel gave it, as text ("1", "onoff=1 linger=0", "reno",
/// "state=ESTABLISHED snd_cwnd=10 rtt=0.1 ms ...").
std::string formatOptionValue(const SocketOption& option, std::span<const std::uint8_t> value);

/// poll's or epoll's events as the grammar writes them: "in,out", "in,et", "0".
std::string describeEvents(std::int64_t events);

/// "198.18.0.2:50000", "[2001:db8::2]:50000": a sample's endpoint (4 or 16 address bytes).
std::string endpointText(std::span<const std::uint8_t> address, std::uint16_t port);

} // namespace tcplab::peer
