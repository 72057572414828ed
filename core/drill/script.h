#pragma once

// A packetdrill script as a tree: what google/packetdrill's parser.y reads, kept close to
// its grammar so that its semantics carry over (gtests/net/packetdrill/parser.y, lexer.l).
//
//     --tolerance_usecs=10000            options before the first event
//     `../common/defaults.sh`            the init command (a command with no time)
//     0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
//     +0  setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
//     +0  bind(3, ..., ...) = 0
//     +0  listen(3, 1) = 0
//     +0  < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
//     +0  > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>
//     +.1 < . 1:1(0) ack 1 win 257
//     +0  accept(3, ..., ...) = 4
//     +0  write(4, ..., 1000) = 1000
//     +0  > P. 1:1001(1000) ack 1
//     +0  `sysctl -q net.ipv4.tcp_sack=0`
//
// Times are in microseconds; sequence numbers are as the script writes them (packetdrill
// maps them onto the live connection when it runs, run_packet.c). Every node carries
// where it was read (line and column, 1-based) for error messages; equality ignores it,
// so that formatScript() and parseScript() round-trip to an equal tree.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <tl/expected.hpp>

namespace tcplab::drill {

/// Where something was read: 1-based line and column (0 when built in code).
struct SourcePos {
    unsigned line = 0;
    unsigned column = 0;
    friend bool operator==(const SourcePos&, const SourcePos&) { return true; } // not content
};

/// An expression in a system call's arguments or result (parser.y "expression").
struct Expr {
    enum class Kind : std::uint8_t {
        Ellipsis, ///< ...            any value / "the tool fills it in"
        Integer,  ///< 1000, -1, 0x10 (hex keeps its spelling: `hex`)
        Word,     ///< AF_INET, SOL_SOCKET, TCP_ESTABLISHED, IPPROTO_TCP
        String,   ///< "abc" (escapes resolved); `stringEllipsis`: "abc"...
        Binary,   ///< items[0] text items[1]: "|" (bitwise or), "=" (field = value),
                  ///< "." (string concatenation)
        List,     ///< [1], [], [{fd=3, events=POLLIN}]
        Braces,   ///< {fd=3, events=POLLIN, revents=POLLOUT}, {onoff=1, linger=0},
                  ///< {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("1.2.3.4")},
                  ///< {tcpi_state=TCP_ESTABLISHED, tcpi_snd_cwnd=10}: items are "=" Binary
                  ///< nodes or plain expressions
        Call,     ///< htons(8080), inet_addr("1.2.3.4"), inet6_addr("::1"), msg_name(...),
                  ///< msg_iov(1): text = name (only these names: parser.y knows no others)
    };
    Kind kind = Kind::Ellipsis;
    std::int64_t integer = 0;
    bool hex = false;            ///< Integer written as 0x...
    std::string text;            ///< Word, String, Binary's operator, Call's name
    bool stringEllipsis = false; ///< String followed by ...
    std::vector<Expr> items;     ///< Binary: {lhs, rhs}; List, Braces, Call: elements
    SourcePos pos;
    friend bool operator==(const Expr&, const Expr&) = default;
};

/// When an event happens (parser.y "event_time"), in microseconds.
struct EventTime {
    enum class Kind : std::uint8_t {
        Absolute,      ///< 0.100
        Relative,      ///< +0.100 (after the previous event)
        Any,           ///< * (outbound packets only)
        AbsoluteRange, ///< 0.1~0.2 (outbound packets only)
        RelativeRange, ///< +0.1~+0.2 (outbound packets only)
    };
    Kind kind = Kind::Absolute;
    std::int64_t usecs = 0;
    std::int64_t endUsecs = 0; ///< ranges only
    friend bool operator==(const EventTime&, const EventTime&) = default;
};

/// One TCP option of a packet line (parser.y "tcp_option").
struct TcpOptionSpec {
    enum class Kind : std::uint8_t {
        Nop,
        Eol,
        Mss,         ///< mss N
        WindowScale, ///< wscale N
        SackOk,      ///< sackOK
        Sack,        ///< sack L:R L:R ... (script sequence numbers)
        Timestamp,   ///< TS val N ecr N
        FastOpen,    ///< FO [cookie hex]
        FastOpenExp, ///< FOEXP [cookie hex]
        Md5,         ///< md5 [hex]
    };
    Kind kind = Kind::Nop;
    std::uint32_t value = 0;                                     ///< mss, wscale shift, TS val
    std::uint32_t echo = 0;                                      ///< TS ecr
    std::vector<std::pair<std::uint32_t, std::uint32_t>> blocks; ///< sack blocks
    std::string cookie; ///< FO / FOEXP / md5 bytes as hex digits as written ("" none)
    friend bool operator==(const TcpOptionSpec&, const TcpOptionSpec&) = default;
};

/// "<" (the script injects it: the phantom sends it) or ">" (the kernel must send it).
enum class Direction : std::uint8_t { Inbound, Outbound };

/// One TCP packet line (parser.y "tcp_packet_spec").
struct PacketSpec {
    Direction direction = Direction::Inbound;
    /// (ect0), (ect1), (ce), (noecn), [ect01]; tos 0x..; flowlabel 0x..; ttl N.
    enum class Ecn : std::uint8_t { None, NoEcn, Ect0, Ect1, Ce, Ect01 };
    Ecn ecn = Ecn::None;
    std::optional<std::uint8_t> tos;
    std::optional<std::uint32_t> flowLabel;
    std::optional<std::uint8_t> ttl;
    std::optional<std::uint16_t> sourcePort; ///< "1234>80" before the flags
    std::optional<std::uint16_t> destinationPort;
    /// As written: any of F S R P . (ACK) U E (ECE) W (CWR) or "-" for none, "S." etc.
    /// Normalised to the written characters, "-" becomes "".
    std::string flags;
    std::uint32_t seq = 0;    ///< start:end(length): end is seq + length
    std::uint16_t length = 0; ///< payload bytes
    std::optional<std::uint32_t> ack;
    std::optional<std::uint16_t> window;
    std::optional<std::uint16_t> urgent;
    /// nullopt: "<...>", any options (outbound only); an empty list: no options.
    std::optional<std::vector<TcpOptionSpec>> options = std::vector<TcpOptionSpec>{};
    friend bool operator==(const PacketSpec&, const PacketSpec&) = default;
};

/// A system call line (parser.y "syscall_spec"): name(args) = result [ERRNO (note)].
struct SyscallSpec {
    /// "...TIME" before the name: a blocking call expected to return at TIME, which is
    /// absolute or relative as the event's own time is ("+0 ...0.1 accept(...)" returns 0.1 s
    /// after the previous event; packetdrill's run.c adjust_relative_event_times()).
    std::optional<std::int64_t> endUsecs;
    std::string name;
    std::vector<Expr> arguments;
    Expr result;
    std::string errnoName; ///< "EINPROGRESS"; empty: none
    std::string note;      ///< the words in parentheses after the errno or the result
    friend bool operator==(const SyscallSpec&, const SyscallSpec&) = default;
};

/// `shell command` (parser.y "command_spec").
struct CommandSpec {
    std::string command;
    friend bool operator==(const CommandSpec&, const CommandSpec&) = default;
};

/// %{ python }% (parser.y "code_spec"): parsed, refused when run.
struct CodeSpec {
    std::string code;
    friend bool operator==(const CodeSpec&, const CodeSpec&) = default;
};

/// UDP and ICMP packet lines, kept as their text: parsed far enough to know where they end,
/// refused when run (tcplab's peers are TCP).
struct OtherPacketSpec {
    Direction direction = Direction::Inbound;
    std::string text; ///< "udp (1472)", "icmp unreachable frag_needed mtu 1200 [1:1461(1460)]"
    friend bool operator==(const OtherPacketSpec&, const OtherPacketSpec&) = default;
};

using Action = std::variant<PacketSpec, SyscallSpec, CommandSpec, CodeSpec, OtherPacketSpec>;

struct Event {
    SourcePos pos; ///< of the time
    EventTime time;
    Action action;
    friend bool operator==(const Event&, const Event&) = default;
};

/// "--name=value" (or "--name" alone: value empty) before the first event.
struct ScriptOption {
    std::string name; ///< without the dashes: "tolerance_usecs"
    std::string value;
    SourcePos pos;
    friend bool operator==(const ScriptOption&, const ScriptOption&) = default;
};

struct Script {
    std::vector<ScriptOption> options;
    std::optional<CommandSpec> initCommand; ///< a command before the first event, no time
    std::vector<Event> events;
    std::optional<CommandSpec> cleanupCommand; ///< a command after the last event, no time
    friend bool operator==(const Script&, const Script&) = default;
};

/// "script.pkt:12:7: unknown TCP option 'foo' (expected mss, wscale, sackOK, sack, TS, nop,
/// eol, FO, FOEXP or md5)".
struct ScriptError {
    unsigned line = 0;
    unsigned column = 0;
    std::string message;
};
std::string describe(const ScriptError& error, std::string_view file);

/// The bytes an option takes in a TCP header (a NOP 1, MSS 4, TS 10, SACK 2 + 8 a block).
unsigned tcpOptionLength(const TcpOptionSpec& option);

/// packetdrill's -D NAME=VALUE definitions: a word NAME in the script reads as VALUE (a
/// number, a "string", a `command`, else a word), as packetdrill's lexer reads it.
using Defines = std::map<std::string, std::string, std::less<>>;

/// Parses a whole script. The first error ends it.
tl::expected<Script, ScriptError> parseScript(std::string_view text, const Defines& defines = {});
/// The script as text that parseScript() reads back to an equal Script.
std::string formatScript(const Script& script);
/// One event's line as formatScript() writes it ("+0.100 > S. 0:0(0) ack 1 <mss 1460>").
std::string formatEvent(const Event& event);
std::string formatPacket(const PacketSpec& packet);
std::string formatExpr(const Expr& expr);
std::string formatTime(const EventTime& time);

} // namespace tcplab::drill
