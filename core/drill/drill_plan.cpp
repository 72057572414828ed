// planScript: a packetdrill script checked and turned into the steps DrillRunner runs.
// Every construct tcplab can not run is refused here, at its line and column, before
// anything is sent.
#include "drill/drill_runner.h"

#include "peer/call_text.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdlib>

#include <fmt/format.h>

namespace tcplab::drill {

namespace {

struct Symbol {
    std::string_view name;
    std::int64_t value;
};

/// The constants packetdrill scripts use, with Linux's values (symbols_linux.c).
constexpr std::array kSymbols = {
    Symbol{"AF_INET", 2},
    Symbol{"AF_INET6", 10},
    Symbol{"PF_INET", 2},
    Symbol{"PF_INET6", 10},
    Symbol{"SOCK_STREAM", 1},
    Symbol{"SOCK_NONBLOCK", 04000},
    Symbol{"SOCK_CLOEXEC", 02000000},
    Symbol{"IPPROTO_TCP", 6},
    Symbol{"IPPROTO_IP", 0},
    Symbol{"IPPROTO_IPV6", 41},
    Symbol{"SOL_SOCKET", 1},
    Symbol{"SOL_TCP", 6},
    Symbol{"SO_REUSEADDR", 2},
    Symbol{"SO_TYPE", 3},
    Symbol{"SO_ERROR", 4},
    Symbol{"SO_SNDBUF", 7},
    Symbol{"SO_RCVBUF", 8},
    Symbol{"SO_KEEPALIVE", 9},
    Symbol{"SO_OOBINLINE", 10},
    Symbol{"SO_LINGER", 13},
    Symbol{"SO_REUSEPORT", 15},
    Symbol{"SO_RCVLOWAT", 18},
    Symbol{"TCP_NODELAY", 1},
    Symbol{"TCP_MAXSEG", 2},
    Symbol{"TCP_CORK", 3},
    Symbol{"TCP_KEEPIDLE", 4},
    Symbol{"TCP_KEEPINTVL", 5},
    Symbol{"TCP_KEEPCNT", 6},
    Symbol{"TCP_SYNCNT", 7},
    Symbol{"TCP_LINGER2", 8},
    Symbol{"TCP_DEFER_ACCEPT", 9},
    Symbol{"TCP_WINDOW_CLAMP", 10},
    Symbol{"TCP_INFO", 11},
    Symbol{"TCP_QUICKACK", 12},
    Symbol{"TCP_CONGESTION", 13},
    Symbol{"TCP_USER_TIMEOUT", 18},
    Symbol{"TCP_NOTSENT_LOWAT", 25},
    Symbol{"TCP_THIN_LINEAR_TIMEOUTS", 16},
    Symbol{"TCP_INQ", 36},
    Symbol{"TCP_TX_DELAY", 37},
    Symbol{"SO_PRIORITY", 12},
    Symbol{"SO_MARK", 36},
    Symbol{"SO_MAX_PACING_RATE", 47},
    Symbol{"SOL_IP", 0},
    Symbol{"IP_TOS", 1},
    Symbol{"IP_TTL", 2},
    Symbol{"IP_MTU_DISCOVER", 10},
    Symbol{"IP_PMTUDISC_DONT", 0},
    Symbol{"IP_PMTUDISC_WANT", 1},
    Symbol{"IP_PMTUDISC_DO", 2},
    Symbol{"IP_PMTUDISC_PROBE", 3},
    Symbol{"SOL_IPV6", 41},
    Symbol{"IP_FREEBIND", 15},
    Symbol{"IPV6_MTU_DISCOVER", 23},
    Symbol{"IPV6_TCLASS", 67},
    Symbol{"IPV6_V6ONLY", 26},
    Symbol{"IPV6_UNICAST_HOPS", 16},
    Symbol{"SHUT_RD", 0},
    Symbol{"SHUT_WR", 1},
    Symbol{"SHUT_RDWR", 2},
    Symbol{"F_GETFL", 3},
    Symbol{"F_SETFL", 4},
    Symbol{"O_RDONLY", 0},
    Symbol{"O_WRONLY", 1},
    Symbol{"O_RDWR", 2},
    Symbol{"O_NONBLOCK", 04000},
    Symbol{"POLLIN", 0x1},
    Symbol{"POLLPRI", 0x2},
    Symbol{"POLLOUT", 0x4},
    Symbol{"POLLERR", 0x8},
    Symbol{"POLLHUP", 0x10},
    Symbol{"POLLNVAL", 0x20},
    Symbol{"POLLRDNORM", 0x40},
    Symbol{"POLLRDBAND", 0x80},
    Symbol{"POLLWRNORM", 0x100},
    Symbol{"POLLWRBAND", 0x200},
    Symbol{"POLLRDHUP", 0x2000},
    Symbol{"EPOLLIN", 0x1},
    Symbol{"EPOLLPRI", 0x2},
    Symbol{"EPOLLOUT", 0x4},
    Symbol{"EPOLLERR", 0x8},
    Symbol{"EPOLLHUP", 0x10},
    Symbol{"EPOLLRDNORM", 0x40},
    Symbol{"EPOLLRDBAND", 0x80},
    Symbol{"EPOLLWRNORM", 0x100},
    Symbol{"EPOLLWRBAND", 0x200},
    Symbol{"EPOLLMSG", 0x400},
    Symbol{"EPOLLRDHUP", 0x2000},
    Symbol{"EPOLLEXCLUSIVE", 1 << 28},
    Symbol{"EPOLLWAKEUP", 1 << 29},
    Symbol{"EPOLLONESHOT", 1 << 30},
    Symbol{"EPOLLET", 1ll << 31},
    Symbol{"EPOLL_CTL_ADD", 1},
    Symbol{"EPOLL_CTL_DEL", 2},
    Symbol{"EPOLL_CTL_MOD", 3},
    Symbol{"MSG_OOB", 0x1},
    Symbol{"MSG_PEEK", 0x2},
    Symbol{"MSG_DONTWAIT", 0x40},
    Symbol{"MSG_WAITALL", 0x100},
    Symbol{"MSG_MORE", 0x8000},
    Symbol{"MSG_EOR", 0x80},
    Symbol{"MSG_NOSIGNAL", 0x4000},
    Symbol{"SIOCINQ", 0x541B},
    Symbol{"FIONREAD", 0x541B},
    Symbol{"SIOCOUTQ", 0x5411},
    Symbol{"TIOCOUTQ", 0x5411},
    Symbol{"NULL", 0},
};

std::optional<std::int64_t> symbolValue(std::string_view name) {
    for (const auto& s : kSymbols)
        if (s.name == name)
            return s.value;
    return std::nullopt;
}

ScriptError errorAt(const SourcePos& pos, std::string message) {
    return ScriptError{pos.line, pos.column, std::move(message)};
}

/// An integer expression's value: a number, a symbol, a | b, htons(n), [n].
tl::expected<std::int64_t, ScriptError> integerOf(const Expr& e, std::string_view what) {
    switch (e.kind) {
    case Expr::Kind::Integer:
        return e.integer;
    case Expr::Kind::Word:
        if (const auto v = symbolValue(e.text))
            return *v;
        return tl::make_unexpected(
            errorAt(e.pos, fmt::format("unknown symbol '{}' for {} (tcplab knows the socket, TCP, "
                                       "poll, fcntl and ioctl constants of Linux)",
                                       e.text, what)));
    case Expr::Kind::Binary:
        if (e.text == "|" && e.items.size() == 2) {
            auto a = integerOf(e.items[0], what);
            if (!a)
                return a;
            auto b = integerOf(e.items[1], what);
            if (!b)
                return b;
            return *a | *b;
        }
        break;
    case Expr::Kind::Call:
        if ((e.text == "htons" || e.text == "htonl") && e.items.size() == 1)
            return integerOf(e.items[0], what);
        break;
    case Expr::Kind::List:
        if (e.items.size() == 1)
            return integerOf(e.items[0], what);
        break;
    default:
        break;
    }
    return tl::make_unexpected(
        errorAt(e.pos, fmt::format("{} must be a number here, not '{}'", what, formatExpr(e))));
}

/// A buffer argument: the agent passes buffers of its own, so only "..." (or a string, for
/// writes) is one; NULL, which scripts pass to see EFAULT, is refused.
tl::expected<void, ScriptError> agentBuffer(const Expr& e) {
    if (e.kind == Expr::Kind::Word && e.text == "NULL")
        return tl::make_unexpected(
            ScriptError{e.pos.line, e.pos.column,
                        "a NULL buffer is not supported: the peer agent passes buffers of its "
                        "own, so it cannot make a call fail with EFAULT"});
    return {};
}

bool isEllipsis(const Expr& e) {
    return e.kind == Expr::Kind::Ellipsis;
}

/// The bytes a struct msghdr moves: {msg_name(...)=..., msg_iov(K)=[{..., N}, ...],
/// msg_flags=0}. Control messages (cmsg: TCP_CM_INQ, timestamps) are not supported.
tl::expected<std::int64_t, ScriptError> messageBytes(const Expr& e) {
    auto refuse = [](const Expr& at, std::string why) {
        return tl::make_unexpected(ScriptError{at.pos.line, at.pos.column, std::move(why)});
    };
    if (e.kind != Expr::Kind::Braces)
        return refuse(e, "expected a struct msghdr: {msg_name(...)=..., msg_iov(1)=[{..., N}], "
                         "msg_flags=0}");
    std::optional<std::int64_t> total;
    for (const Expr& item : e.items) {
        if (item.kind != Expr::Kind::Binary || item.text != "=" || item.items.size() != 2)
            return refuse(item, "expected field=value in the struct msghdr");
        const Expr& field = item.items[0];
        const Expr& value = item.items[1];
        const std::string name = field.kind == Expr::Kind::Call || field.kind == Expr::Kind::Word
                                     ? field.text
                                     : std::string();
        if (name == "msg_name")
            continue; // the peer's address: the connection's
        if (name == "msg_flags") {
            if (!(value.kind == Expr::Kind::Integer && value.integer == 0) && !isEllipsis(value))
                return refuse(value, "only msg_flags=0 is supported");
            continue;
        }
        if (name == "msg_iov") {
            if (value.kind != Expr::Kind::List)
                return refuse(value, "expected msg_iov(K)=[{..., N}, ...]");
            std::int64_t sum = 0;
            for (const Expr& iov : value.items) {
                if (iov.kind != Expr::Kind::Braces || iov.items.size() != 2)
                    return refuse(iov, "expected {..., N} for one iovec");
                if (auto ok = agentBuffer(iov.items[0]); !ok)
                    return tl::make_unexpected(ok.error());
                auto n = integerOf(iov.items[1], "an iovec's length");
                if (!n)
                    return tl::make_unexpected(n.error());
                sum += *n;
            }
            total = sum;
            continue;
        }
        return refuse(field, fmt::format("the struct msghdr field '{}' is not supported "
                                         "(control messages are not: msg_name, msg_iov and "
                                         "msg_flags=0 are)",
                                         formatExpr(field)));
    }
    if (!total)
        return refuse(e, "the struct msghdr has no msg_iov");
    return *total;
}

/// The value of a setsockopt argument as the kernel takes it.
tl::expected<std::vector<std::uint8_t>, ScriptError> optionBytes(const Expr& e) {
    auto intBytes = [](std::int64_t v) {
        const auto i = static_cast<std::int32_t>(v);
        std::vector<std::uint8_t> out(4);
        std::memcpy(out.data(), &i, 4);
        return out;
    };
    if (e.kind == Expr::Kind::String)
        return std::vector<std::uint8_t>(e.text.begin(), e.text.end());
    if (e.kind == Expr::Kind::Braces) {
        // {onoff=1, linger=0}: struct linger.
        std::int64_t onoff = 0, linger = 0;
        for (const Expr& item : e.items) {
            if (item.kind != Expr::Kind::Binary || item.text != "=" || item.items.size() != 2 ||
                item.items[0].kind != Expr::Kind::Word)
                return tl::make_unexpected(
                    errorAt(item.pos, "expected {onoff=N, linger=N} for a struct linger"));
            auto v = integerOf(item.items[1], item.items[0].text);
            if (!v)
                return tl::make_unexpected(v.error());
            if (item.items[0].text == "onoff")
                onoff = *v;
            else if (item.items[0].text == "linger")
                linger = *v;
            else
                return tl::make_unexpected(
                    errorAt(item.pos, fmt::format("struct linger has no field '{}' (onoff, linger)",
                                                  item.items[0].text)));
        }
        auto out = intBytes(onoff);
        const auto tail = intBytes(linger);
        out.insert(out.end(), tail.begin(), tail.end());
        return out;
    }
    auto v = integerOf(e, "the option's value");
    if (!v)
        return tl::make_unexpected(v.error());
    return intBytes(*v);
}

tl::expected<int, ScriptError> fdArgument(const SyscallSpec& s, std::size_t i) {
    auto v = integerOf(s.arguments[i], "a file descriptor");
    if (!v)
        return tl::make_unexpected(v.error());
    return static_cast<int>(*v);
}

tl::expected<void, ScriptError> checkCount(const SyscallSpec& s, const SourcePos& pos,
                                           std::size_t count) {
    if (s.arguments.size() == count)
        return {};
    return tl::make_unexpected(errorAt(pos, fmt::format("{}() takes {} arguments here, not {}",
                                                        s.name, count, s.arguments.size())));
}

/// {events=..., fd=N} (or ptr=, u32=, u64=): a struct epoll_event as packetdrill writes it.
struct EpollEvent {
    std::int64_t events = 0;
    bool dataIsFd = false;
    std::int64_t data = 0;
};

tl::expected<EpollEvent, ScriptError> epollEventOf(const Expr& e) {
    if (e.kind != Expr::Kind::Braces)
        return tl::make_unexpected(errorAt(
            e.pos, "expected a struct epoll_event: {events=..., fd=N} (or ptr=, u32=, u64=)"));
    EpollEvent event;
    bool data = false;
    for (const Expr& field : e.items) {
        if (field.kind != Expr::Kind::Binary || field.text != "=" || field.items.size() != 2 ||
            field.items[0].kind != Expr::Kind::Word)
            return tl::make_unexpected(errorAt(field.pos, "expected NAME=VALUE"));
        const std::string& key = field.items[0].text;
        auto v = integerOf(field.items[1], key);
        if (!v)
            return tl::make_unexpected(v.error());
        if (key == "events") {
            event.events = *v;
        } else if (key == "fd" || key == "ptr" || key == "u32" || key == "u64") {
            event.dataIsFd = key == "fd";
            event.data = *v;
            data = true;
        } else {
            return tl::make_unexpected(errorAt(
                field.pos, fmt::format("struct epoll_event has no field '{}' (events, fd, ptr, "
                                       "u32, u64)",
                                       key)));
        }
    }
    if (!data)
        return tl::make_unexpected(errorAt(e.pos, "epoll_event specified incorrectly: it needs "
                                                  "its data (fd=, ptr=, u32= or u64=)"));
    return event;
}

tl::expected<PlannedCall, ScriptError> planCall(const SyscallSpec& s, const SourcePos& pos,
                                                bool ipv6) {
    PlannedCall c;
    c.endUsecs = s.endUsecs;
    auto result = integerOf(s.result, "the expected result");
    if (!result)
        return tl::make_unexpected(result.error());
    c.result = *result;
    if (!s.errnoName.empty()) {
        const auto e = peer::errnoByName(s.errnoName);
        if (!e)
            return tl::make_unexpected(errorAt(
                pos, fmt::format("unknown errno '{}' in the expected result", s.errnoName)));
        c.error = *e;
    }
    peer::Request& r = c.request;
    auto fd0 = [&]() -> tl::expected<void, ScriptError> {
        auto fd = fdArgument(s, 0);
        if (!fd)
            return tl::make_unexpected(fd.error());
        r.fd = *fd;
        return {};
    };
#define TCPLAB_TRY(expr)                                                                           \
    if (auto ok = (expr); !ok)                                                                     \
    return tl::make_unexpected(ok.error())

    const std::string& n = s.name;
    if (n == "socket") {
        TCPLAB_TRY(checkCount(s, pos, 3));
        r.call = peer::Call::Socket;
        std::int64_t family = ipv6 ? 10 : 2;
        if (!isEllipsis(s.arguments[0])) {
            auto f = integerOf(s.arguments[0], "the address family");
            if (!f)
                return tl::make_unexpected(f.error());
            family = *f;
        }
        auto type = integerOf(s.arguments[1], "the socket type");
        if (!type)
            return tl::make_unexpected(type.error());
        auto protocol = integerOf(s.arguments[2], "the protocol");
        if (!protocol)
            return tl::make_unexpected(protocol.error());
        if ((*type & 0xf) != 1)
            return tl::make_unexpected(
                errorAt(s.arguments[1].pos, "only SOCK_STREAM sockets: tcplab's peers speak TCP"));
        r.numbers = {family, *type & (1 | 04000), *protocol};
        c.newFd = true;
    } else if (n == "bind" || n == "connect") {
        TCPLAB_TRY(checkCount(s, pos, 3));
        TCPLAB_TRY(fd0());
        if (!isEllipsis(s.arguments[1]))
            return tl::make_unexpected(errorAt(
                s.arguments[1].pos,
                fmt::format("{}() takes ... for the address here: the lab chooses the addresses",
                            n)));
        r.call = n == "bind" ? peer::Call::Bind : peer::Call::Connect;
        c.fill = n == "bind" ? PlannedCall::Fill::PeerAddress : PlannedCall::Fill::PhantomAddress;
    } else if (n == "listen") {
        TCPLAB_TRY(checkCount(s, pos, 2));
        TCPLAB_TRY(fd0());
        auto backlog = integerOf(s.arguments[1], "the backlog");
        if (!backlog)
            return tl::make_unexpected(backlog.error());
        r.call = peer::Call::Listen;
        r.numbers = {*backlog};
    } else if (n == "accept" || n == "accept4") {
        TCPLAB_TRY(checkCount(s, pos, n == "accept" ? 3 : 4));
        TCPLAB_TRY(fd0());
        r.call = peer::Call::Accept;
        c.newFd = true;
    } else if (n == "read" || n == "recv" || n == "recvfrom" || n == "write" || n == "send" ||
               n == "sendto" || n == "sendmsg" || n == "recvmsg") {
        // read(fd, ..., N), recv(fd, ..., N, FLAGS), recvfrom(fd, ..., N, FLAGS, ..., ...);
        // the same for writes; sendmsg/recvmsg(fd, {msg_name(...)=..., msg_iov(K)=[{..., N1},
        // ...], msg_flags=0}, FLAGS) move N1 + ... bytes at once, as one send or recv does.
        const bool writes = n == "write" || n == "send" || n == "sendto" || n == "sendmsg";
        const bool message = n == "sendmsg" || n == "recvmsg";
        const bool plain = n == "read" || n == "write";
        TCPLAB_TRY(checkCount(s, pos,
                              message                        ? 3
                              : plain                        ? 3
                              : (n == "recv" || n == "send") ? 4
                                                             : 6));
        TCPLAB_TRY(fd0());
        std::int64_t count = 0;
        if (message) {
            auto total = messageBytes(s.arguments[1]);
            if (!total)
                return tl::make_unexpected(total.error());
            count = *total;
        } else {
            TCPLAB_TRY(agentBuffer(s.arguments[1]));
            auto given = integerOf(s.arguments[2], "the byte count");
            if (!given)
                return tl::make_unexpected(given.error());
            count = *given;
        }
        std::int64_t flags = 0;
        if (!plain) {
            auto f = integerOf(s.arguments[message ? 2 : 3], "the flags");
            if (!f)
                return tl::make_unexpected(f.error());
            flags = *f;
        }
        r.call = writes ? peer::Call::Write : peer::Call::Read;
        r.numbers = {count, flags};
        if (writes && count >= 0 && static_cast<std::uint64_t>(count) <= peer::kMaxDataBytes) {
            r.data.assign(static_cast<std::size_t>(count), 0); // packetdrill writes zeros
            c.zeroData = true;
        }
    } else if (n == "shutdown") {
        TCPLAB_TRY(checkCount(s, pos, 2));
        TCPLAB_TRY(fd0());
        auto how = integerOf(s.arguments[1], "how");
        if (!how)
            return tl::make_unexpected(how.error());
        r.call = peer::Call::Shutdown;
        r.numbers = {*how};
    } else if (n == "close") {
        TCPLAB_TRY(checkCount(s, pos, 1));
        TCPLAB_TRY(fd0());
        r.call = peer::Call::Close;
    } else if (n == "setsockopt" || n == "getsockopt") {
        TCPLAB_TRY(checkCount(s, pos, 5));
        TCPLAB_TRY(fd0());
        auto level = integerOf(s.arguments[1], "the level");
        if (!level)
            return tl::make_unexpected(level.error());
        auto name = integerOf(s.arguments[2], "the option");
        if (!name)
            return tl::make_unexpected(name.error());
        // An option tcplab has no entry for is taken as an int, as packetdrill takes [N];
        // the agent refuses the few it keeps for itself, saying why.
        const peer::SocketOption* option =
            peer::findOption(static_cast<int>(*level), static_cast<int>(*name));
        if (n == "setsockopt") {
            auto bytes = optionBytes(s.arguments[3]);
            if (!bytes)
                return tl::make_unexpected(bytes.error());
            // The length as the script gives it: setsockopt(3, SOL_IP, IP_MTU_DISCOVER,
            // [IP_PMTUDISC_DONT], 1) hands the kernel one byte of the int, as packetdrill does.
            if (!isEllipsis(s.arguments[4])) {
                auto length = integerOf(s.arguments[4], "the length");
                if (!length)
                    return tl::make_unexpected(length.error());
                if (*length < 0 || *length > 4096)
                    return tl::make_unexpected(errorAt(
                        s.arguments[4].pos,
                        fmt::format("a setsockopt length of {} is not supported (0 to 4096)",
                                    *length)));
                bytes->resize(static_cast<std::size_t>(*length), 0);
            }
            r.call = peer::Call::SetSockOpt;
            r.numbers = {*level, *name};
            r.data = std::move(*bytes);
        } else {
            if (option && (option->type == peer::OptionType::TcpInfo ||
                           option->type == peer::OptionType::String ||
                           option->type == peer::OptionType::Linger))
                return tl::make_unexpected(
                    errorAt(s.arguments[3].pos,
                            fmt::format("getsockopt of {} is not compared yet: only int options",
                                        option->name)));
            if (!isEllipsis(s.arguments[3])) {
                auto v = integerOf(s.arguments[3], "the expected value");
                if (!v)
                    return tl::make_unexpected(v.error());
                c.value = *v;
            }
            r.call = peer::Call::GetSockOpt;
            r.numbers = {*level, *name, 4};
        }
    } else if (n == "fcntl") {
        if (s.arguments.size() != 2 && s.arguments.size() != 3)
            return tl::make_unexpected(errorAt(pos, "fcntl() takes 2 or 3 arguments"));
        TCPLAB_TRY(fd0());
        auto cmd = integerOf(s.arguments[1], "the command");
        if (!cmd)
            return tl::make_unexpected(cmd.error());
        std::int64_t arg = 0;
        if (s.arguments.size() == 3) {
            auto a = integerOf(s.arguments[2], "the argument");
            if (!a)
                return tl::make_unexpected(a.error());
            arg = *a;
        }
        if (*cmd != 3 && *cmd != 4)
            return tl::make_unexpected(
                errorAt(s.arguments[1].pos, "fcntl() takes F_GETFL or F_SETFL"));
        r.call = peer::Call::Fcntl;
        r.numbers = {*cmd, arg};
    } else if (n == "ioctl") {
        TCPLAB_TRY(checkCount(s, pos, 3));
        TCPLAB_TRY(fd0());
        auto request = integerOf(s.arguments[1], "the request");
        if (!request)
            return tl::make_unexpected(request.error());
        if (*request != 0x541B && *request != 0x5411)
            return tl::make_unexpected(
                errorAt(s.arguments[1].pos, "ioctl() takes SIOCINQ or SIOCOUTQ here"));
        if (!isEllipsis(s.arguments[2])) {
            auto v = integerOf(s.arguments[2], "the expected value");
            if (!v)
                return tl::make_unexpected(v.error());
            c.value = *v;
        }
        r.call = peer::Call::Ioctl;
        r.numbers = {*request};
    } else if (n == "poll") {
        TCPLAB_TRY(checkCount(s, pos, 3));
        if (s.arguments[0].kind != Expr::Kind::List)
            return tl::make_unexpected(
                errorAt(s.arguments[0].pos, "poll() takes a list of {fd=..., events=...}"));
        auto timeout = integerOf(s.arguments[2], "the timeout");
        if (!timeout)
            return tl::make_unexpected(timeout.error());
        r.call = peer::Call::Poll;
        r.numbers = {*timeout};
        for (const Expr& item : s.arguments[0].items) {
            std::int64_t fd = -1, events = 0, revents = 0;
            if (item.kind != Expr::Kind::Braces)
                return tl::make_unexpected(errorAt(item.pos, "expected {fd=N, events=...}"));
            for (const Expr& field : item.items) {
                if (field.kind != Expr::Kind::Binary || field.text != "=" ||
                    field.items.size() != 2 || field.items[0].kind != Expr::Kind::Word)
                    return tl::make_unexpected(errorAt(field.pos, "expected NAME=VALUE"));
                auto v = integerOf(field.items[1], field.items[0].text);
                if (!v)
                    return tl::make_unexpected(v.error());
                const std::string& key = field.items[0].text;
                if (key == "fd")
                    fd = *v;
                else if (key == "events")
                    events = *v;
                else if (key == "revents")
                    revents = *v;
                else
                    return tl::make_unexpected(
                        errorAt(field.pos, fmt::format("struct pollfd has no field '{}'", key)));
            }
            c.pollFds.push_back(static_cast<int>(fd));
            r.numbers.push_back(fd);
            r.numbers.push_back(events);
            c.revents.push_back(revents);
        }
    } else if (n == "epoll_create") {
        TCPLAB_TRY(checkCount(s, pos, 1));
        auto size = integerOf(s.arguments[0], "the size");
        if (!size)
            return tl::make_unexpected(size.error());
        if (*size <= 0)
            return tl::make_unexpected(errorAt(s.arguments[0].pos,
                                               "epoll_create() of a size under 1 is not supported "
                                               "(the kernel's EINVAL is not run)"));
        r.call = peer::Call::EpollCreate;
        r.numbers = {*size};
        c.newFd = true;
    } else if (n == "epoll_ctl") {
        TCPLAB_TRY(checkCount(s, pos, 4));
        TCPLAB_TRY(fd0());
        auto op = integerOf(s.arguments[1], "the operation");
        if (!op)
            return tl::make_unexpected(op.error());
        auto fd = fdArgument(s, 2);
        if (!fd)
            return tl::make_unexpected(fd.error());
        auto event = epollEventOf(s.arguments[3]);
        if (!event)
            return tl::make_unexpected(event.error());
        if (event->dataIsFd && event->data != *fd)
            return tl::make_unexpected(
                errorAt(s.arguments[3].pos, "wrong fd specified in epoll_event"));
        r.call = peer::Call::EpollCtl;
        r.numbers = {*op, *fd, event->events, event->data};
        c.pollFds = {*fd};
        c.epollDataIsFd = event->dataIsFd;
    } else if (n == "epoll_wait") {
        TCPLAB_TRY(checkCount(s, pos, 4));
        TCPLAB_TRY(fd0());
        auto event = epollEventOf(s.arguments[1]);
        if (!event)
            return tl::make_unexpected(event.error());
        auto most = integerOf(s.arguments[2], "maxevents");
        if (!most)
            return tl::make_unexpected(most.error());
        auto timeout = integerOf(s.arguments[3], "the timeout");
        if (!timeout)
            return tl::make_unexpected(timeout.error());
        if (*most < 1 || *most > peer::kMaxEpollEvents)
            return tl::make_unexpected(
                errorAt(s.arguments[2].pos,
                        fmt::format("epoll_wait() with maxevents {} is not supported (1 to {})",
                                    *most, peer::kMaxEpollEvents)));
        r.call = peer::Call::EpollWait;
        r.numbers = {*most, *timeout};
        c.epollEvent = {event->events, event->data};
        c.epollDataIsFd = event->dataIsFd;
    } else {
        return tl::make_unexpected(errorAt(
            pos, fmt::format("system call {}() is not supported (tcplab runs socket, bind, listen, "
                             "accept, connect, read, recv, recvfrom, write, send, sendto, "
                             "shutdown, close, setsockopt, getsockopt, fcntl, ioctl, poll, "
                             "epoll_create, epoll_ctl and epoll_wait)",
                             n)));
    }
#undef TCPLAB_TRY
    return c;
}

std::string trim(std::string_view s) {
    const auto b = s.find_first_not_of(" \t\r");
    if (b == std::string_view::npos)
        return {};
    const auto e = s.find_last_not_of(" \t\r");
    return std::string(s.substr(b, e - b + 1));
}

/// "$((15*1024*1024))" inside a value, as the shell computes it (products and sums).
std::string expandArithmetic(std::string value) {
    for (std::size_t at; (at = value.find("$((")) != std::string::npos;) {
        const auto end = value.find("))", at);
        if (end == std::string::npos)
            break;
        const std::string expr = value.substr(at + 3, end - at - 3);
        std::int64_t sum = 0;
        std::size_t i = 0;
        bool ok = true;
        while (i <= expr.size() && ok) {
            std::int64_t product = 1;
            for (;;) {
                std::int64_t n = 0;
                const auto begin = expr.data() + i;
                const auto [ptr, ec] = std::from_chars(begin, expr.data() + expr.size(), n);
                if (ec != std::errc())
                    ok = false;
                i += static_cast<std::size_t>(ptr - begin);
                product *= n;
                if (i < expr.size() && expr[i] == '*') {
                    ++i;
                    continue;
                }
                break;
            }
            sum += product;
            if (i < expr.size() && expr[i] == '+')
                ++i;
            else
                break;
        }
        if (!ok)
            break;
        value.replace(at, end + 2 - at, std::to_string(sum));
    }
    return value;
}

/// The words of a shell line, quotes removed, redirections dropped.
std::vector<std::string> shellWords(std::string_view line) {
    std::vector<std::string> words;
    std::string word;
    bool inWord = false;
    char quote = 0;
    for (char ch : line) {
        if (quote) {
            if (ch == quote)
                quote = 0;
            else
                word += ch;
            continue;
        }
        if (ch == '"' || ch == '\'') {
            quote = ch;
            inWord = true;
        } else if (ch == ' ' || ch == '\t') {
            if (inWord)
                words.push_back(std::exchange(word, {}));
            inWord = false;
        } else {
            word += ch;
            inWord = true;
        }
    }
    if (inWord)
        words.push_back(word);
    // "> /dev/null", "2>&1", ">/dev/null"
    std::vector<std::string> kept;
    for (std::size_t i = 0; i < words.size(); ++i) {
        const std::string& w = words[i];
        if (w == ">" || w == "2>" || w == ">>") {
            ++i;
            continue;
        }
        if (w.starts_with(">") || w.starts_with("2>") || w.starts_with("1>"))
            continue;
        kept.push_back(w);
    }
    return kept;
}

SysctlSetting sysctlSetting(std::string key, std::string value) {
    SysctlSetting s;
    s.key = std::move(key);
    s.value = std::move(value);
    return s;
}

/// `tc ...` or `ip ...` as the agent runs it: "tun0" stays for the runner to map, an ip
/// route's destination becomes "$remote" (the phantom) and "via GATEWAY" goes (the lab's
/// phantom is on the peer's own link). Refused: anything the agent would refuse, and
/// shell syntax (pipes, lists, substitutions) that tcplab does not run.
tl::expected<std::vector<std::string>, ScriptError>
commandArgv(const std::string& line, const std::vector<std::string>& words, const SourcePos& pos) {
    std::vector<std::string> argv{words[0]};
    for (std::size_t i = 1; i < words.size(); ++i) {
        if (!peer::isCommandWord(words[i]))
            return tl::make_unexpected(errorAt(
                pos, fmt::format("command '{}' is not supported: '{}' is shell syntax or a word "
                                 "tcplab does not pass on (it runs tc and ip with plain words)",
                                 line, words[i])));
        argv.push_back(words[i]);
    }
    // Judged as written (before "$remote" stands in for the route's destination).
    const std::vector<std::string> args(argv.begin() + 1, argv.end());
    if (auto why = peer::commandRefusal(argv[0], args))
        return tl::make_unexpected(
            errorAt(pos, fmt::format("command '{}' is not supported: {}", line, *why)));
    if (words[0] == "ip") {
        std::size_t object = 1;
        while (object < argv.size() && (argv[object] == "-4" || argv[object] == "-6"))
            ++object;
        // `ip link set dev tun0 mtu N`: packetdrill's device takes N, and the kernel's
        // route to the remote host with it. The lab's veth already takes 65535 bytes and
        // its routes set the MTU, so the route to the phantom takes N instead.
        std::vector<std::string> link(argv.begin() + std::ptrdiff_t(object), argv.end());
        std::erase(link, std::string("dev"));
        if (link.size() == 5 && link[0] == "link" && link[1] == "set" && link[2] == "tun0" &&
            link[3] == "mtu")
            return std::vector<std::string>{"ip",  "route", "replace", "$remote",
                                            "dev", "tun0",  "mtu",     link[4]};
        if (object + 2 < argv.size() && (argv[object] == "route" || argv[object] == "r")) {
            static constexpr std::array<std::string_view, 6> kVerbs = {"add", "change", "replace",
                                                                       "del", "delete", "append"};
            if (std::find(kVerbs.begin(), kVerbs.end(), argv[object + 1]) != kVerbs.end() &&
                argv[object + 2].find_first_of(".:") != std::string::npos)
                argv[object + 2] = "$remote";
            for (std::size_t i = object + 2; i + 1 < argv.size();)
                if (argv[i] == "via")
                    argv.erase(argv.begin() + std::ptrdiff_t(i),
                               argv.begin() + std::ptrdiff_t(i) + 2);
                else
                    ++i;
        }
    }
    return argv;
}

/// A command's lines as sysctls; files it names are read (once, not recursively past 4).
/// Like the shell that packetdrill runs it with, a command fails only when its last line
/// fails (or any line after `set -e`): defaults.sh sets sysctls that a network namespace
/// may refuse, and packetdrill goes on. Settings whose failure does not count are marked
/// unchecked.
tl::expected<void, ScriptError> planCommand(const std::string& command, const SourcePos& pos,
                                            const FileReader& readFile, unsigned depth,
                                            std::vector<SysctlSetting>& out) {
    struct LineStart {
        std::size_t first; ///< index in `out` of the line's first setting
        bool errexit;      ///< `set -e` was in force
    };
    std::vector<LineStart> lines;
    bool errexit = false;
    // A backslash before a newline continues the line, as the shell reads it.
    std::string joined;
    for (std::size_t i = 0; i < command.size(); ++i) {
        if (command[i] == '\\' && i + 1 < command.size() && command[i + 1] == '\n') {
            joined += ' ';
            ++i;
        } else {
            joined += command[i];
        }
    }
    std::size_t start = 0;
    while (start <= joined.size()) {
        auto end = joined.find_first_of("\n;", start);
        if (end == std::string::npos)
            end = joined.size();
        std::string line = trim(std::string_view(joined).substr(start, end - start));
        start = end + 1;
        // "sysctl -q net.ipv4.tcp_ecn=1  # fully enabled": a comment starts a word.
        for (std::size_t hash = line.find('#'); hash != std::string::npos;
             hash = line.find('#', hash + 1))
            if (hash == 0 || line[hash - 1] == ' ' || line[hash - 1] == '\t') {
                line = trim(std::string_view(line).substr(0, hash));
                break;
            }
        if (line.empty())
            continue;
        if (line == "set -e") {
            errexit = true;
            continue;
        }
        lines.push_back(LineStart{out.size(), errexit});
        const auto words = shellWords(line);
        if (words.empty())
            continue;
        const std::string& verb = words[0];
        if (verb == "sysctl") {
            bool any = false;
            for (std::size_t i = 1; i < words.size(); ++i) {
                if (words[i].starts_with("-"))
                    continue;
                const auto eq = words[i].find('=');
                if (eq == std::string::npos)
                    return tl::make_unexpected(errorAt(
                        pos, fmt::format("'{}': only sysctl KEY=VALUE is run (reading a sysctl "
                                         "prints nothing a script could check)",
                                         line)));
                out.push_back(sysctlSetting(words[i].substr(0, eq),
                                            expandArithmetic(words[i].substr(eq + 1))));
                any = true;
            }
            if (!any)
                return tl::make_unexpected(errorAt(pos, fmt::format("'{}' sets nothing", line)));
            continue;
        }
        if (verb == "echo" && words.size() == 2) {
            // echo VALUE > /proc/sys/net/ipv4/KEY: the redirection was dropped; find it again.
            const auto gt = line.find('>');
            const std::string target = gt == std::string::npos ? "" : trim(line.substr(gt + 1));
            if (target.starts_with("/proc/sys/")) {
                std::string key = target.substr(10);
                std::replace(key.begin(), key.end(), '/', '.');
                out.push_back(sysctlSetting(key, words[1]));
                continue;
            }
        }
        // Every run starts a fresh namespace: no qdisc of a script's to delete, an empty
        // tcp_metrics cache.
        if (verb == "tc" && words.size() >= 3 && words[1] == "qdisc" &&
            (words[2] == "delete" || words[2] == "del"))
            continue;
        // defaults.sh's "tc qdisc add dev tun0 root pfifo": a plain FIFO without a limit
        // (no pacing), which is what the lab's veth does with no qdisc at all.
        if (verb == "tc" && words.size() == 7 && words[1] == "qdisc" &&
            (words[2] == "add" || words[2] == "replace") && words[3] == "dev" &&
            words[5] == "root" && words[6] == "pfifo")
            continue;
        if (verb == "ip" && words.size() >= 3 && words[1] == "tcp_metrics" && words[2] == "flush")
            continue;
        // Any other qdisc (fq's pacing, a pfifo that drops all), a route's advmss or mtu, a
        // link's mtu: run by the agent in the peer's namespace, on the peer's interface
        // where the script says tun0, and to the phantom where it names the remote host.
        if (verb == "tc" || verb == "ip") {
            auto argv = commandArgv(line, words, pos);
            if (!argv)
                return tl::make_unexpected(argv.error());
            SysctlSetting run;
            run.command = std::move(*argv);
            out.push_back(std::move(run));
            continue;
        }
        // The segmentation offloads of packetdrill's tun device: the lab's merging of
        // consecutive segments up to the length a line expects stands in for them.
        if (verb == "ethtool" && line.find("tun0") != std::string::npos)
            continue;
        // gtests' set_sysctls.py PROC_FILE=VALUE...: writes each /proc/sys file (and a file
        // to restore them, which a fresh namespace per run makes needless).
        if (verb.ends_with("set_sysctls.py")) {
            for (std::size_t i = 1; i < words.size(); ++i) {
                const auto eq = words[i].find('=');
                if (eq == std::string::npos || !words[i].starts_with("/proc/sys/"))
                    return tl::make_unexpected(
                        errorAt(pos, fmt::format("'{}': set_sysctls.py takes /proc/sys/KEY=VALUE",
                                                 words[i])));
                std::string key = words[i].substr(10, eq - 10);
                std::replace(key.begin(), key.end(), '/', '.');
                out.push_back(sysctlSetting(key, expandArithmetic(words[i].substr(eq + 1))));
            }
            continue;
        }
        if (verb.starts_with("/tmp/sysctl_restore_"))
            continue;
        if (verb.find('/') != std::string::npos || verb.ends_with(".sh")) {
            if (depth >= 4)
                return tl::make_unexpected(
                    errorAt(pos, fmt::format("'{}': files run files too deeply", verb)));
            const auto text = readFile ? readFile(verb) : std::nullopt;
            if (!text)
                return tl::make_unexpected(errorAt(
                    pos, fmt::format("cannot read '{}' (a command's file is read relative to "
                                     "the script's folder)",
                                     verb)));
            // "/bin/rm -f /tmp/testfile": a program, not a file of settings to read.
            if (text->find('\0') != std::string::npos)
                return tl::make_unexpected(errorAt(
                    pos, fmt::format("command '{}' is not supported: '{}' is a program, and "
                                     "tcplab runs only sysctl settings (and files of them, "
                                     "such as defaults.sh) in the peer's namespace",
                                     line, verb)));
            if (auto ok = planCommand(*text, pos, readFile, depth + 1, out); !ok)
                return ok;
            continue;
        }
        return tl::make_unexpected(errorAt(
            pos, fmt::format("command '{}' is not supported: tcplab runs sysctl settings (and "
                             "files of them, such as defaults.sh) in the peer's namespace",
                             line)));
    }
    // Every line but the last counts only under `set -e`.
    for (std::size_t k = 0; k + 1 < lines.size(); ++k)
        if (!lines[k].errexit)
            for (std::size_t i = lines[k].first; i < lines[k + 1].first; ++i)
                out[i].checked = false;
    return {};
}

} // namespace

tl::expected<void, std::string> applyOption(DrillOptions& options, std::string_view name,
                                            std::string_view value) {
    auto number = [&](std::int64_t& into) -> tl::expected<void, std::string> {
        std::int64_t v = 0;
        const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
        if (ec != std::errc() || ptr != value.data() + value.size() || v < 0)
            return tl::make_unexpected(
                fmt::format("--{} takes a number of microseconds, not '{}'", name, value));
        into = v;
        return {};
    };
    if (name == "tolerance_usecs")
        return number(options.toleranceUsecs);
    if (name == "tolerance_percent") {
        char* end = nullptr;
        const std::string text(value);
        const double v = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0' || v < 0)
            return tl::make_unexpected(
                fmt::format("--tolerance_percent takes a percentage, not '{}'", value));
        options.tolerancePercent = v;
        return {};
    }
    if (name == "tcp_ts_tick_usecs") {
        std::int64_t v = 0;
        if (auto ok = number(v); !ok)
            return ok;
        options.tcpTsTickUsecs = static_cast<std::uint32_t>(v);
        return {};
    }
    if (name == "strict_segments") {
        options.strictSegments = true;
        return {};
    }
    if (name == "mss") {
        // packetdrill cooks a long `<` segment as one GSO packet of this gso_size, which
        // the kernel receives as one skb: the lab sends it whole, as one frame (its link
        // takes 65535 bytes), so the value is checked and needs nothing more.
        std::int64_t v = 0;
        if (auto ok = number(v); !ok || v == 0 || v > 65535)
            return tl::make_unexpected(fmt::format("--mss takes a size in bytes, not '{}'", value));
        return {};
    }
    if (name == "bind_port") {
        std::int64_t v = 0;
        if (auto ok = number(v); !ok || v == 0 || v > 65535)
            return tl::make_unexpected(fmt::format("--bind_port takes a port, not '{}'", value));
        options.bindPort = static_cast<std::uint16_t>(v);
        return {};
    }
    static constexpr std::array<std::string_view, 14> kPlacement = {
        "ip_version",   "local_ip",     "remote_ip",       "gateway_ip", "netmask_ip",
        "mtu",          "speed",        "device",          "verbose",    "non_fatal",
        "connect_port", "init_scripts", "wire_client_dev", "dry_run"};
    if (std::find(kPlacement.begin(), kPlacement.end(), name) != kPlacement.end())
        return {};
    return tl::make_unexpected(
        fmt::format("option --{} is not supported (tcplab takes --ip_version, --tolerance_usecs, "
                    "--tolerance_percent, --tcp_ts_tick_usecs, --bind_port, --mss and the address "
                    "options)",
                    name));
}

tl::expected<Plan, ScriptError> planScript(const Script& script, bool ipv6,
                                           const FileReader& readFile) {
    Plan plan;
    plan.ipv6 = ipv6;
    auto commandStep = [&](const CommandSpec& command, const SourcePos& pos, EventTime time,
                           std::string text) -> tl::expected<void, ScriptError> {
        PlannedStep step;
        step.line = pos.line;
        step.column = pos.column;
        step.text = std::move(text);
        step.time = time;
        step.kind = PlannedStep::Kind::Sysctl;
        if (auto ok = planCommand(command.command, pos, readFile, 0, step.sysctls); !ok)
            return ok;
        plan.steps.push_back(std::move(step));
        return {};
    };
    const SourcePos top{1, 1};
    if (script.initCommand)
        if (auto ok =
                commandStep(*script.initCommand, top, EventTime{EventTime::Kind::Absolute, 0, 0},
                            fmt::format("`{}`", script.initCommand->command));
            !ok)
            return tl::make_unexpected(ok.error());
    for (const Event& event : script.events) {
        PlannedStep step;
        step.line = event.pos.line;
        step.column = event.pos.column;
        step.text = formatEvent(event);
        step.time = event.time;
        if (const auto* packet = std::get_if<PacketSpec>(&event.action)) {
            if (packet->sourcePort || packet->destinationPort)
                return tl::make_unexpected(errorAt(
                    event.pos, "explicit ports on a packet are not supported: the lab numbers "
                               "the connection"));
            step.kind = packet->direction == Direction::Inbound ? PlannedStep::Kind::Inject
                                                                : PlannedStep::Kind::Expect;
            step.packet = *packet;
        } else if (const auto* call = std::get_if<SyscallSpec>(&event.action)) {
            auto planned = planCall(*call, event.pos, ipv6);
            if (!planned)
                return tl::make_unexpected(planned.error());
            step.kind = PlannedStep::Kind::Call;
            step.call = std::move(*planned);
        } else if (const auto* command = std::get_if<CommandSpec>(&event.action)) {
            if (auto ok = commandStep(*command, event.pos, event.time, step.text); !ok)
                return tl::make_unexpected(ok.error());
            continue;
        } else if (const auto* code = std::get_if<CodeSpec>(&event.action)) {
            // packetdrill hands these to Python with the socket's tcp_info as tcpi_ names;
            // tcplab evaluates the subset scripts use (asserts over integers) itself.
            auto block = parseCode(code->code);
            if (!block) {
                const CodeError& e = block.error();
                return tl::make_unexpected(ScriptError{
                    event.pos.line + (e.line > 0 ? e.line - 1 : 0),
                    e.line <= 1 ? event.pos.column : e.column, "in %{ }%: " + e.message});
            }
            step.kind = PlannedStep::Kind::Code;
            step.code = std::make_shared<const CodeBlock>(std::move(*block));
        } else {
            return tl::make_unexpected(errorAt(
                event.pos, "UDP and ICMP packets are not supported: tcplab's peers speak TCP"));
        }
        plan.steps.push_back(std::move(step));
    }
    if (script.cleanupCommand) {
        const unsigned line = script.events.empty() ? 1 : script.events.back().pos.line + 1;
        if (auto ok = commandStep(*script.cleanupCommand, SourcePos{line, 1},
                                  EventTime{EventTime::Kind::Relative, 0, 0},
                                  fmt::format("`{}`", script.cleanupCommand->command));
            !ok)
            return tl::make_unexpected(ok.error());
    }
    return plan;
}

engine::Scenario planSteps(const Plan& plan, std::string title) {
    engine::Scenario s;
    s.title = std::move(title);
    for (const PlannedStep& p : plan.steps) {
        engine::Step step;
        step.name = p.text;
        step.line = p.line;
        step.action = engine::LingerStep{0};
        s.steps.push_back(std::move(step));
    }
    return s;
}

} // namespace tcplab::drill
