// A recorded peer call (peer::CallRecord) as the packetdrill line that makes it: the
// system call with packetdrill's symbols for its flags and values, or a backtick command.
#include "drill/export_calls.h"

#include "peer/call_text.h"

#include <array>
#include <cstring>
#include <span>

namespace tcplab::drill::exporting {

namespace {

struct Bit {
    std::string_view name;
    std::int64_t value;
};

constexpr std::array kMsgFlags = {Bit{"MSG_OOB", 0x1},       Bit{"MSG_PEEK", 0x2},
                                  Bit{"MSG_DONTWAIT", 0x40}, Bit{"MSG_EOR", 0x80},
                                  Bit{"MSG_WAITALL", 0x100}, Bit{"MSG_NOSIGNAL", 0x4000},
                                  Bit{"MSG_MORE", 0x8000}};
constexpr std::array kPollEvents = {
    Bit{"POLLIN", 0x1},       Bit{"POLLPRI", 0x2},     Bit{"POLLOUT", 0x4},
    Bit{"POLLERR", 0x8},      Bit{"POLLHUP", 0x10},    Bit{"POLLNVAL", 0x20},
    Bit{"POLLRDNORM", 0x40},  Bit{"POLLRDBAND", 0x80}, Bit{"POLLWRNORM", 0x100},
    Bit{"POLLWRBAND", 0x200}, Bit{"POLLRDHUP", 0x2000}};
constexpr std::array kEpollEvents = {Bit{"EPOLLIN", 0x1},
                                     Bit{"EPOLLPRI", 0x2},
                                     Bit{"EPOLLOUT", 0x4},
                                     Bit{"EPOLLERR", 0x8},
                                     Bit{"EPOLLHUP", 0x10},
                                     Bit{"EPOLLRDHUP", 0x2000},
                                     Bit{"EPOLLEXCLUSIVE", 1 << 28},
                                     Bit{"EPOLLWAKEUP", 1 << 29},
                                     Bit{"EPOLLONESHOT", 1 << 30},
                                     Bit{"EPOLLET", 1ll << 31}};
constexpr std::array kEpollOps = {Bit{"EPOLL_CTL_ADD", 1}, Bit{"EPOLL_CTL_DEL", 2},
                                  Bit{"EPOLL_CTL_MOD", 3}};
constexpr std::array kAccessModes = {Bit{"O_RDONLY", 0}, Bit{"O_WRONLY", 1}, Bit{"O_RDWR", 2}};
constexpr std::array kFileFlags = {Bit{"O_NONBLOCK", 04000}};
constexpr std::array kSocketFlags = {Bit{"SOCK_NONBLOCK", 04000}, Bit{"SOCK_CLOEXEC", 02000000}};
constexpr std::array kLevels = {Bit{"SOL_SOCKET", 1}, Bit{"IPPROTO_TCP", 6}, Bit{"IPPROTO_IP", 0},
                                Bit{"IPPROTO_IPV6", 41}};
constexpr std::array kShutdownHows = {Bit{"SHUT_RD", 0}, Bit{"SHUT_WR", 1}, Bit{"SHUT_RDWR", 2}};
constexpr std::array kIoctls = {Bit{"SIOCINQ", 0x541B}, Bit{"SIOCOUTQ", 0x5411}};

/// `value` as "A|B|0x40" in packetdrill's symbols, appended to `start` (a first word).
Expr flagsExpr(std::int64_t value, std::span<const Bit> bits, std::optional<Expr> start = {}) {
    std::optional<Expr> out = std::move(start);
    const auto add = [&](Expr e) {
        out = out ? binary("|", std::move(*out), std::move(e)) : std::move(e);
    };
    std::int64_t rest = value;
    for (const Bit& b : bits)
        if (b.value != 0 && (rest & b.value) == b.value) {
            add(word(b.name));
            rest &= ~b.value;
        }
    if (rest != 0 || !out)
        add(hexInteger(rest));
    return *out;
}

/// One of `names` by its value, else the number.
Expr nameOf(std::int64_t value, std::span<const Bit> names) {
    for (const Bit& b : names)
        if (b.value == value)
            return word(b.name);
    return integer(value);
}

/// strerror()'s words in the form a note takes (words and numbers only: "Input/output
/// error" becomes "Input output error").
std::string noteWords(int error) {
    std::string out;
    std::string current;
    const auto flush = [&] {
        if (!current.empty())
            out += (out.empty() ? "" : " ") + std::exchange(current, {});
    };
    for (const char* p = std::strerror(error); *p; ++p) {
        const char ch = *p;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '_')
            current += ch;
        else
            flush();
    }
    flush();
    return out.empty() ? "error" : out;
}

void setResult(SyscallSpec& s, const peer::Answer& a, std::optional<Expr> success = {}) {
    s.result = a.result >= 0 && success ? std::move(*success) : integer(a.result);
    if (a.result < 0 && a.error != 0) {
        const std::string name = peer::errnoName(a.error);
        if (!name.starts_with("errno ")) {
            s.errnoName = name;
            s.note = noteWords(a.error);
        }
    }
}

std::int32_t int32At(std::span<const std::uint8_t> data, std::size_t at) {
    std::int32_t v = 0;
    if (data.size() >= at + 4)
        std::memcpy(&v, data.data() + at, 4); // host order, as the kernel takes it
    return v;
}

/// A socket option's value as packetdrill writes it: [1], {onoff=1, linger=0}, "reno".
std::optional<Expr> optionValue(const peer::SocketOption* option,
                                std::span<const std::uint8_t> data) {
    const peer::OptionType type = option ? option->type : peer::OptionType::Int;
    switch (type) {
    case peer::OptionType::Int:
        if (data.size() != 4)
            return std::nullopt;
        return group(Expr::Kind::List, {integer(int32At(data, 0))});
    case peer::OptionType::Linger:
        if (data.size() != 8)
            return std::nullopt;
        return group(Expr::Kind::Braces, {field("onoff", integer(int32At(data, 0))),
                                          field("linger", integer(int32At(data, 4)))});
    case peer::OptionType::String: {
        Expr e;
        e.kind = Expr::Kind::String;
        e.text.assign(data.begin(), std::find(data.begin(), data.end(), std::uint8_t{0}));
        return e;
    }
    case peer::OptionType::TcpInfo:
        return std::nullopt;
    }
    return std::nullopt;
}

/// A sysctl's value in a shell word: quoted when it has spaces ("4096 131072 6291456").
std::optional<std::string> shellValue(std::string value) {
    while (!value.empty() && (value.back() == '\n' || value.back() == ' ' || value.back() == '\t'))
        value.pop_back();
    if (value.empty() || value.find_first_of("`\"'$\\\n\r;&|<>#") != std::string::npos)
        return std::nullopt;
    if (value.find_first_of(" \t") != std::string::npos)
        return "\"" + value + "\"";
    return value;
}

/// The recorded call as an event's action; nullopt (noted) for what has no packetdrill form.
} // namespace

std::optional<Action> callAction(const peer::CallRecord& call, const ExportOptions& o,
                                 Notes& notes) {
    const peer::Request& r = call.request;
    const peer::Answer& a = call.answer;
    const std::string name(peer::callName(r.call));
    if (a.outcome != peer::Outcome::Done) {
        notes.add(fmt::format("left out: the peer agent's refused {} calls", name));
        return std::nullopt;
    }
    const auto number = [&](std::size_t i) { return i < r.numbers.size() ? r.numbers[i] : 0; };
    SyscallSpec s;
    s.name = name;
    const Expr fd = integer(r.fd);
    switch (r.call) {
    case peer::Call::Socket: {
        const std::int64_t type = number(1);
        const std::int64_t base = type & 0xf;
        s.arguments = {
            ellipsis(),
            flagsExpr(type & ~0xf, kSocketFlags, base == 1 ? word("SOCK_STREAM") : integer(base)),
            number(2) == 6 ? word("IPPROTO_TCP") : integer(number(2))};
        setResult(s, a);
        break;
    }
    case peer::Call::Bind:
    case peer::Call::Connect:
    case peer::Call::Accept:
        // The addresses are the lab's (or packetdrill's) to choose.
        s.arguments = {fd, ellipsis(), ellipsis()};
        setResult(s, a);
        break;
    case peer::Call::Listen:
        s.arguments = {fd, integer(number(0))};
        setResult(s, a);
        break;
    case peer::Call::Read:
    case peer::Call::Write: {
        const bool read = r.call == peer::Call::Read;
        s.arguments = {fd, ellipsis(), integer(number(0))};
        if (number(1) != 0) {
            s.name = read ? "recv" : "send";
            s.arguments.push_back(flagsExpr(number(1), kMsgFlags));
        }
        setResult(s, a);
        break;
    }
    case peer::Call::Shutdown:
        s.arguments = {fd, nameOf(number(0), kShutdownHows)};
        setResult(s, a);
        break;
    case peer::Call::Close:
        s.arguments = {fd};
        setResult(s, a);
        break;
    case peer::Call::Poll: {
        std::vector<Expr> fds;
        for (std::size_t i = 1; i + 1 < r.numbers.size(); i += 2) {
            std::vector<Expr> items = {field("fd", integer(r.numbers[i])),
                                       field("events", flagsExpr(r.numbers[i + 1], kPollEvents))};
            const std::size_t k = (i - 1) / 2;
            if (a.result >= 0)
                items.push_back(field(
                    "revents", flagsExpr(k < a.numbers.size() ? a.numbers[k] : 0, kPollEvents)));
            fds.push_back(group(Expr::Kind::Braces, std::move(items)));
        }
        const auto count = static_cast<std::int64_t>(fds.size());
        s.arguments = {group(Expr::Kind::List, std::move(fds)), integer(count), integer(number(0))};
        setResult(s, a);
        break;
    }
    case peer::Call::Fcntl:
        if (number(0) == 3) {
            s.arguments = {fd, word("F_GETFL")};
            setResult(s, a, hexInteger(a.result));
        } else if (number(0) == 4) {
            const std::int64_t arg = number(1);
            s.arguments = {fd, word("F_SETFL"),
                           flagsExpr(arg & ~std::int64_t{3}, kFileFlags,
                                     (arg & 3) != 0 ? std::optional(nameOf(arg & 3, kAccessModes))
                                                    : std::nullopt)};
            setResult(s, a);
        } else {
            s.arguments = {fd, integer(number(0)), integer(number(1))};
            setResult(s, a);
        }
        break;
    case peer::Call::SetSockOpt:
    case peer::Call::GetSockOpt: {
        const bool set = r.call == peer::Call::SetSockOpt;
        const peer::SocketOption* option =
            peer::findOption(static_cast<int>(number(0)), static_cast<int>(number(1)));
        if (option && option->type == peer::OptionType::TcpInfo) {
            notes.add("left out: getsockopt of TCP_INFO (tcplab's samples show it)");
            return std::nullopt;
        }
        const Expr level = nameOf(number(0), kLevels);
        const Expr optionName = option ? word(option->name) : integer(number(1));
        const auto& data = set ? r.data : a.data;
        std::optional<Expr> value = (set || a.result >= 0) ? optionValue(option, data) : ellipsis();
        if (!value) {
            notes.add(
                fmt::format("left out: {} calls with a value packetdrill cannot write", name));
            return std::nullopt;
        }
        const auto length = static_cast<std::int64_t>(set ? r.data.size() : number(2));
        s.arguments = {fd, level, optionName, std::move(*value),
                       set ? integer(length)
                           : group(Expr::Kind::List,
                                   {integer(a.result >= 0 ? static_cast<std::int64_t>(data.size())
                                                          : length)})};
        setResult(s, a);
        break;
    }
    case peer::Call::Ioctl:
        s.arguments = {fd, nameOf(number(0), kIoctls),
                       a.result >= 0 ? group(Expr::Kind::List, {integer(a.result)}) : ellipsis()};
        // The agent answers the value as the result; the call itself returns 0.
        if (a.result >= 0)
            s.result = integer(0);
        else
            setResult(s, a);
        break;
    case peer::Call::Sysctl: {
        if (r.data.empty()) {
            notes.add("left out: sysctl reads (a script cannot check them)");
            return std::nullopt;
        }
        if (a.result < 0) {
            notes.add("left out: sysctl writes the peer refused");
            return std::nullopt;
        }
        const auto value = shellValue(std::string(r.data.begin(), r.data.end()));
        const bool keyOk = !r.text.empty() && std::all_of(r.text.begin(), r.text.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '.' || c == '_' || c == '-' || c == '/';
        });
        if (!value || !keyOk) {
            notes.add("left out: sysctl writes whose key or value a shell word cannot hold");
            return std::nullopt;
        }
        return CommandSpec{fmt::format("sysctl -q {}={}", r.text, *value)};
    }
    case peer::Call::Drain:
        notes.add("left out: drain calls (packetdrill has no call that reads on its own)");
        return std::nullopt;
    case peer::Call::EpollCreate:
        s.arguments = {integer(number(0))};
        setResult(s, a);
        break;
    case peer::Call::EpollCtl:
        // The data is the fd, as tcplab registers it (a number of another kind has no
        // packetdrill form that would check the same thing).
        if (number(3) != number(1)) {
            notes.add("left out: epoll_ctl calls whose data is not the fd");
            return std::nullopt;
        }
        s.arguments = {
            fd, nameOf(number(0), kEpollOps), integer(number(1)),
            group(Expr::Kind::Braces, {field("events", flagsExpr(number(2), kEpollEvents)),
                                       field("fd", integer(number(1)))})};
        setResult(s, a);
        break;
    case peer::Call::EpollWait: {
        // packetdrill checks the first event; with none it checks zeros.
        const std::int64_t events = a.numbers.size() >= 2 ? a.numbers[0] : 0;
        const std::int64_t data = a.numbers.size() >= 2 ? a.numbers[1] : 0;
        s.arguments = {
            fd,
            group(Expr::Kind::Braces,
                  {field("events", flagsExpr(events, kEpollEvents)),
                   a.numbers.size() >= 2 ? field("fd", integer(data)) : field("ptr", integer(0))}),
            integer(number(0)), integer(number(1))};
        setResult(s, a);
        break;
    }
    case peer::Call::Command: {
        std::string line = r.text;
        for (const std::string& arg : peer::commandArguments(r))
            line += " " + (arg == o.peerInterface ? std::string("tun0") : arg);
        if (a.result != 0) {
            notes.add("left out: commands that failed");
            return std::nullopt;
        }
        return CommandSpec{line};
    }
    case peer::Call::SysctlList:
    case peer::Call::Sample:
        return std::nullopt; // tcplab looking, not the application acting
    }
    return s;
}

} // namespace tcplab::drill::exporting
