#include "peer/call_text.h"

#include "peer/tcp_info.h"
#include "wire/address.h"
#include "wire/bytes.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

namespace tcplab::peer {

namespace {

// Linux's numbers (the agent's wire speaks them; see agent_protocol.h).
constexpr int kAfInet = 2;
constexpr int kAfInet6 = 10;
constexpr int kSockStream = 1;
constexpr int kSockNonblock = 04000;
constexpr int kMsgPeek = 0x2;
constexpr int kMsgDontwait = 0x40;
constexpr int kMsgWaitall = 0x100;
constexpr int kMsgMore = 0x8000;
constexpr int kFGetfl = 3;
constexpr int kFSetfl = 4;
constexpr int kONonblock = 04000;
constexpr int kSiocinq = 0x541B;
constexpr int kEpollCtlAdd = 1;
constexpr int kEpollCtlDel = 2;
constexpr int kEpollCtlMod = 3;
constexpr int kSiocoutq = 0x5411;
constexpr int kDefaultBacklog = 16;

constexpr int kSolSocket = 1;
constexpr int kIpprotoIp = 0;
constexpr int kIpprotoTcp = 6;
constexpr int kIpprotoIpv6 = 41;

constexpr SocketOption kOptions[] = {
    {"SO_LINGER", kSolSocket, 13, OptionType::Linger, false,
     "on close, wait for unsent data; linger 0 aborts the connection with a RST"},
    {"SO_RCVBUF", kSolSocket, 8, OptionType::Int, false,
     "receive buffer (the kernel doubles it; sets the window clamp)"},
    {"SO_SNDBUF", kSolSocket, 7, OptionType::Int, false, "send buffer (the kernel doubles it)"},
    {"SO_REUSEADDR", kSolSocket, 2, OptionType::Int, false,
     "bind a port that has connections in TIME-WAIT"},
    {"SO_REUSEPORT", kSolSocket, 15, OptionType::Int, false, "several sockets on one port"},
    {"SO_KEEPALIVE", kSolSocket, 9, OptionType::Int, false,
     "send keep-alive probes on an idle connection"},
    {"SO_RCVLOWAT", kSolSocket, 18, OptionType::Int, false,
     "a read waits for at least this many bytes"},
    {"SO_ERROR", kSolSocket, 4, OptionType::Int, true, "the pending error (clears it)"},
    {"SO_TYPE", kSolSocket, 3, OptionType::Int, true, "SOCK_STREAM is 1"},
    {"SO_OOBINLINE", kSolSocket, 10, OptionType::Int, false, "urgent data in the normal stream"},
    {"TCP_NODELAY", kIpprotoTcp, 1, OptionType::Int, false,
     "send small segments at once: Nagle's algorithm off (RFC 896)"},
    {"TCP_MAXSEG", kIpprotoTcp, 2, OptionType::Int, false, "the MSS: set before connect/listen"},
    {"TCP_CORK", kIpprotoTcp, 3, OptionType::Int, false,
     "hold partial segments until uncorked (or 200 ms)"},
    {"TCP_KEEPIDLE", kIpprotoTcp, 4, OptionType::Int, false,
     "seconds idle before the first keep-alive probe"},
    {"TCP_KEEPINTVL", kIpprotoTcp, 5, OptionType::Int, false, "seconds between keep-alive probes"},
    {"TCP_KEEPCNT", kIpprotoTcp, 6, OptionType::Int, false,
     "unanswered keep-alive probes before the connection is dropped"},
    {"TCP_SYNCNT", kIpprotoTcp, 7, OptionType::Int, false, "SYN retransmissions before giving up"},
    {"TCP_LINGER2", kIpprotoTcp, 8, OptionType::Int, false,
     "seconds an orphan stays in FIN-WAIT-2"},
    {"TCP_DEFER_ACCEPT", kIpprotoTcp, 9, OptionType::Int, false,
     "accept only once data has arrived (seconds)"},
    {"TCP_WINDOW_CLAMP", kIpprotoTcp, 10, OptionType::Int, false,
     "the largest window it advertises"},
    {"TCP_INFO", kIpprotoTcp, 11, OptionType::TcpInfo, true, "the kernel's TCP variables"},
    {"TCP_QUICKACK", kIpprotoTcp, 12, OptionType::Int, false,
     "acknowledge at once for now instead of delaying ACKs"},
    {"TCP_CONGESTION", kIpprotoTcp, 13, OptionType::String, false,
     "the congestion control algorithm"},
    {"TCP_USER_TIMEOUT", kIpprotoTcp, 18, OptionType::Int, false,
     "ms that data may stay unacknowledged before the connection is dropped (RFC 5482)"},
    {"TCP_NOTSENT_LOWAT", kIpprotoTcp, 25, OptionType::Int, false,
     "writable only while fewer unsent bytes wait"},
    {"IP_TOS", kIpprotoIp, 1, OptionType::Int, false, "the IPv4 TOS byte (DSCP and ECN)"},
    {"IP_TTL", kIpprotoIp, 2, OptionType::Int, false, "the IPv4 time to live"},
    {"IPV6_V6ONLY", kIpprotoIpv6, 26, OptionType::Int, false,
     "an IPv6 socket that takes no IPv4 (mapped) connections"},
    {"IPV6_TCLASS", kIpprotoIpv6, 67, OptionType::Int, false, "the IPv6 traffic class"},
    {"IPV6_UNICAST_HOPS", kIpprotoIpv6, 16, OptionType::Int, false, "the IPv6 hop limit"},
};

std::string upper(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

/// Words separated by blanks; a double-quoted word keeps its blanks and its escapes
/// (\" does not end it), and comes back with its quotes.
tl::expected<std::vector<std::string>, std::string> words(std::string_view text) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < text.size()) {
        if (std::isspace(static_cast<unsigned char>(text[i]))) {
            ++i;
            continue;
        }
        if (text[i] == '"') {
            std::size_t j = i + 1;
            while (j < text.size() && text[j] != '"') {
                if (text[j] == '\\' && j + 1 < text.size())
                    ++j;
                ++j;
            }
            if (j >= text.size())
                return tl::make_unexpected(
                    fmt::format("the text that begins at column {} has no closing quote", i + 1));
            out.emplace_back(text.substr(i, j - i + 1));
            i = j + 1;
            continue;
        }
        std::size_t j = i;
        while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j])))
            ++j;
        out.emplace_back(text.substr(i, j - i));
        i = j;
    }
    return out;
}

/// A decimal (or 0x hex) integer, optionally with k/M/G (powers of 1024) when `sizes`.
std::optional<std::int64_t> number(std::string_view w, bool sizes = false) {
    if (w.empty())
        return std::nullopt;
    bool negative = false;
    if (w.front() == '-') {
        negative = true;
        w.remove_prefix(1);
    }
    std::int64_t scale = 1;
    if (sizes && !w.empty()) {
        switch (w.back()) {
        case 'k':
        case 'K':
            scale = 1024;
            break;
        case 'M':
            scale = 1024 * 1024;
            break;
        case 'G':
            scale = 1024 * 1024 * 1024;
            break;
        default:
            break;
        }
        if (scale != 1)
            w.remove_suffix(1);
    }
    int base = 10;
    if (w.size() > 2 && w[0] == '0' && (w[1] == 'x' || w[1] == 'X')) {
        base = 16;
        w.remove_prefix(2);
    }
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), v, base);
    if (ec != std::errc() || end != w.data() + w.size() || w.empty())
        return std::nullopt;
    if (v > INT64_MAX / scale)
        return std::nullopt;
    v *= scale;
    return negative ? -v : v;
}

/// "command tc qdisc add dev tcplab0p root fq": the program and its arguments.
std::string commandLine(const Request& r) {
    std::string text = "command " + r.text;
    for (const std::string& w : commandArguments(r))
        text += " " + w;
    return text;
}

std::string epollOpName(std::int64_t op) {
    return op == kEpollCtlAdd   ? "add"
           : op == kEpollCtlDel ? "del"
           : op == kEpollCtlMod ? "mod"
                                : std::to_string(op);
}

std::string upper(std::string s) {
    for (char& c : s)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

class Parser {
public:
    Parser(std::vector<std::string> w)
        : m_words(std::move(w)) {}

    bool more() const noexcept { return m_at < m_words.size(); }
    const std::string& peek() const { return m_words[m_at]; }
    std::string next() { return m_words[m_at++]; }
    std::size_t position() const noexcept { return m_at + 1; }

    tl::expected<std::int32_t, std::string> fd(std::string_view call) {
        if (!more())
            return tl::make_unexpected(fmt::format("{} needs the fd of a socket", call));
        const std::string w = next();
        const auto v = number(w);
        if (!v || *v < 0 || *v > 1'000'000)
            return tl::make_unexpected(
                fmt::format("{}: '{}' is not an fd (a number such as 3)", call, w));
        return static_cast<std::int32_t>(*v);
    }
    tl::expected<std::int64_t, std::string> integer(std::string_view call, std::string_view what,
                                                    std::int64_t low, std::int64_t high,
                                                    bool sizes = false) {
        if (!more())
            return tl::make_unexpected(fmt::format("{} needs {}", call, what));
        const std::string w = next();
        const auto v = number(w, sizes);
        if (!v || *v < low || *v > high)
            return tl::make_unexpected(fmt::format(
                "{}: {} must be a number from {} to {}, not '{}'", call, what, low, high, w));
        return *v;
    }
    std::optional<std::string> done(std::string_view call) const {
        if (more())
            return fmt::format("{}: unexpected '{}' (word {})", call, m_words[m_at], m_at + 1);
        return std::nullopt;
    }

private:
    std::vector<std::string> m_words;
    std::size_t m_at = 0;
};

tl::expected<std::string, std::string> addressWord(std::string_view call, const std::string& w) {
    std::string text = w;
    if (text.size() > 2 && text.front() == '[' && text.back() == ']')
        text = text.substr(1, text.size() - 2);
    if (text == "any" || text == "*")
        return std::string();
    if (!wire::parseIpAddress(text))
        return tl::make_unexpected(fmt::format("{}: '{}' is not an IPv4 or IPv6 address", call, w));
    return text;
}

std::string eventsText(std::int64_t events) {
    static constexpr std::pair<std::int64_t, std::string_view> kEvents[] = {
        {0x1, "in"},
        {0x2, "pri"},
        {0x4, "out"},
        {0x8, "err"},
        {0x10, "hup"},
        {0x20, "nval"},
        {0x2000, "rdhup"},
        // epoll's own flags (poll's events stop at 0xffff)
        {1 << 28, "exclusive"},
        {1 << 29, "wakeup"},
        {1 << 30, "oneshot"},
        {1ll << 31, "et"},
    };
    std::string text;
    std::int64_t rest = events;
    for (const auto& [bit, name] : kEvents)
        if (events & bit) {
            text += fmt::format("{}{}", text.empty() ? "" : ",", name);
            rest &= ~std::int64_t{bit};
        }
    if (rest != 0)
        text += fmt::format("{}{:#x}", text.empty() ? "" : ",", rest);
    return text.empty() ? "0" : text;
}

/// "in,out", "rdhup", "0x41" or any mix: the names eventsText() writes and numbers.
std::optional<std::int64_t> eventsFrom(std::string_view w) {
    static constexpr std::pair<std::string_view, std::int64_t> kNames[] = {
        {"in", 0x1},         {"pri", 0x2},         {"out", 0x4},      {"err", 0x8},
        {"hup", 0x10},       {"nval", 0x20},       {"rdhup", 0x2000}, {"exclusive", 1 << 28},
        {"wakeup", 1 << 29}, {"oneshot", 1 << 30}, {"et", 1ll << 31},
    };
    if (w.empty())
        return std::nullopt;
    std::int64_t events = 0;
    while (true) {
        const auto comma = w.find(',');
        const std::string name = lower(w.substr(0, comma));
        bool known = false;
        for (const auto& [n, bit] : kNames)
            if (name == n) {
                events |= bit;
                known = true;
            }
        if (!known) {
            const auto v = number(name);
            if (!v || *v < 0 || *v > 0xffff)
                return std::nullopt;
            events |= *v;
        }
        if (comma == std::string_view::npos)
            break;
        w.remove_prefix(comma + 1);
    }
    return events;
}

std::string flagsText(std::int64_t flags,
                      std::initializer_list<std::pair<int, const char*>> known) {
    std::string text;
    for (const auto& [bit, name] : known)
        if (flags & bit)
            text += fmt::format(" {}", name);
    return text;
}

std::string quoted(std::span<const std::uint8_t> data) {
    return "\"" + wire::escapeText(data) + "\"";
}

std::string levelName(int level) {
    switch (level) {
    case kSolSocket:
        return "SOL_SOCKET";
    case kIpprotoTcp:
        return "IPPROTO_TCP";
    case kIpprotoIp:
        return "IPPROTO_IP";
    case kIpprotoIpv6:
        return "IPPROTO_IPV6";
    default:
        return std::to_string(level);
    }
}

std::string optionName(int level, int option) {
    if (const auto* o = findOption(level, option))
        return std::string(o->name);
    return fmt::format("{}, {}", levelName(level), option);
}

std::string hostIntBytesText(std::span<const std::uint8_t> v) {
    if (v.size() == 4) {
        int x = 0;
        std::memcpy(&x, v.data(), 4);
        return std::to_string(x);
    }
    return "hex:" + wire::toHex(v);
}

} // namespace

std::span<const SocketOption> socketOptions() noexcept {
    return kOptions;
}

const SocketOption* findOption(std::string_view name) noexcept {
    const std::string u = upper(name);
    for (const auto& o : kOptions)
        if (o.name == u)
            return &o;
    return nullptr;
}

const SocketOption* findOption(int level, int option) noexcept {
    for (const auto& o : kOptions)
        if (o.level == level && o.option == option)
            return &o;
    return nullptr;
}

std::string errnoName(int error) {
    if (error == 0)
        return "0";
    if (const char* name = ::strerrorname_np(error))
        return name;
    return fmt::format("errno {}", error);
}

std::optional<int> errnoByName(std::string_view name) noexcept {
    const std::string u = upper(name);
    for (int e = 1; e < 200; ++e)
        if (const char* n = ::strerrorname_np(e); n && u == n)
            return e;
    return std::nullopt;
}

tl::expected<std::vector<std::uint8_t>, std::string> encodeOptionValue(const SocketOption& option,
                                                                       std::string_view text) {
    const auto intBytes = [](int v) {
        std::vector<std::uint8_t> out(4);
        std::memcpy(out.data(), &v, 4);
        return out;
    };
    switch (option.type) {
    case OptionType::Int: {
        const std::string t = lower(text);
        if (t == "on" || t == "true" || t == "yes")
            return intBytes(1);
        if (t == "off" || t == "false" || t == "no")
            return intBytes(0);
        const auto v = number(text, true);
        if (!v || *v < INT32_MIN || *v > INT32_MAX)
            return tl::make_unexpected(
                fmt::format("{} takes a whole number (an int), not '{}'", option.name, text));
        return intBytes(static_cast<int>(*v));
    }
    case OptionType::Linger: {
        const auto comma = text.find(',');
        const auto on = number(text.substr(0, comma));
        const auto seconds = comma == std::string_view::npos ? std::optional<std::int64_t>(0)
                                                             : number(text.substr(comma + 1));
        if (!on || !seconds || *on < 0 || *on > 1 || *seconds < 0 || *seconds > INT32_MAX)
            return tl::make_unexpected(fmt::format(
                "SO_LINGER takes ON,SECONDS: 1,0 (close aborts with a RST), 1,5 or 0,0, not "
                "'{}'",
                text));
        auto out = intBytes(static_cast<int>(*on));
        const auto s = intBytes(static_cast<int>(*seconds));
        out.insert(out.end(), s.begin(), s.end());
        return out;
    }
    case OptionType::String:
        if (text.empty() || text.size() > 16)
            return tl::make_unexpected(
                fmt::format("{} takes a name of 1 to 16 characters, not '{}'", option.name, text));
        return std::vector<std::uint8_t>(text.begin(), text.end());
    case OptionType::TcpInfo:
        break;
    }
    return tl::make_unexpected(fmt::format("{} can be read, not set", option.name));
}

std::string formatOptionValue(const SocketOption& option, std::span<const std::uint8_t> value) {
    switch (option.type) {
    case OptionType::Int:
        return hostIntBytesText(value);
    case OptionType::Linger:
        if (value.size() == 8) {
            int on = 0;
            int seconds = 0;
            std::memcpy(&on, value.data(), 4);
            std::memcpy(&seconds, value.data() + 4, 4);
            return fmt::format("onoff={} linger={}", on, seconds);
        }
        return "hex:" + wire::toHex(value);
    case OptionType::String: {
        std::string s(value.begin(), value.end());
        s.resize(std::strlen(s.c_str()));
        return s;
    }
    case OptionType::TcpInfo: {
        const TcpInfo info = TcpInfo::fromLinux(value);
        std::string text;
        for (const auto f :
             {TcpInfoField::State, TcpInfoField::SndCwnd, TcpInfoField::SndSsthresh,
              TcpInfoField::Rtt, TcpInfoField::Rto, TcpInfoField::Unacked, TcpInfoField::SndWnd,
              TcpInfoField::RcvWnd, TcpInfoField::TotalRetrans}) {
            if (const auto v = info.get(f))
                text += fmt::format("{}{}={}", text.empty() ? "" : " ", fieldInfo(f).name,
                                    formatField(f, *v));
        }
        return fmt::format("{} ({} bytes)", text, value.size());
    }
    }
    return "hex:" + wire::toHex(value);
}

std::string describeEvents(std::int64_t events) {
    return eventsText(events);
}

std::string endpointText(std::span<const std::uint8_t> address, std::uint16_t port) {
    if (address.size() == 4) {
        wire::Ipv4Address a;
        std::copy(address.begin(), address.end(), a.octets.begin());
        return fmt::format("{}:{}", a.toString(), port);
    }
    if (address.size() == 16) {
        wire::Ipv6Address a;
        std::copy(address.begin(), address.end(), a.octets.begin());
        return fmt::format("[{}]:{}", a.toString(), port);
    }
    return fmt::format("*:{}", port);
}

tl::expected<Request, std::string> parseCall(std::string_view text) {
    auto list = words(text);
    if (!list)
        return tl::make_unexpected(list.error());
    if (list->empty())
        return tl::make_unexpected(std::string("no call given (socket, connect, write, ...)"));
    Parser p(std::move(*list));
    const std::string name = lower(p.next());
    const auto call = callByName(name);
    if (!call)
        return tl::make_unexpected(fmt::format(
            "'{}' is not a peer call (socket, bind, listen, accept, connect, read, write, "
            "shutdown, close, poll, fcntl, setsockopt, getsockopt, ioctl, sysctl, sysctl-list, "
            "drain, sample, epoll_create, epoll_ctl, epoll_wait, command)",
            name));
    Request r;
    r.call = *call;
    const auto fail = [](std::string m) { return tl::make_unexpected(std::move(m)); };

    switch (*call) {
    case Call::Socket: {
        int family = kAfInet;
        int type = kSockStream;
        while (p.more()) {
            const std::string w = lower(p.next());
            if (w == "inet" || w == "ipv4" || w == "af_inet")
                family = kAfInet;
            else if (w == "inet6" || w == "ipv6" || w == "af_inet6")
                family = kAfInet6;
            else if (w == "nonblock" || w == "sock_nonblock")
                type |= kSockNonblock;
            else if (w == "stream" || w == "sock_stream")
                continue;
            else
                return fail(fmt::format("socket: '{}' is neither inet, inet6 nor nonblock", w));
        }
        r.numbers = {family, type, 0};
        break;
    }
    case Call::Bind:
    case Call::Connect: {
        auto fd = p.fd(name);
        if (!fd)
            return fail(fd.error());
        r.fd = *fd;
        std::vector<std::string> rest;
        while (p.more())
            rest.push_back(p.next());
        if (rest.empty() || rest.size() > 2 || (*call == Call::Connect && rest.size() != 2))
            return fail(*call == Call::Connect ? "connect takes FD ADDRESS PORT"
                                               : "bind takes FD [ADDRESS] PORT");
        if (rest.size() == 2) {
            auto address = addressWord(name, rest[0]);
            if (!address)
                return fail(address.error());
            if (*call == Call::Connect && address->empty())
                return fail(fmt::format("connect: '{}' is the wildcard, not an address to connect "
                                        "to (the phantom's is $phantom in a scenario)",
                                        rest[0]));
            r.text = *address;
        }
        const auto port = number(rest.back());
        if (!port || *port < 0 || *port > 65535)
            return fail(fmt::format("{}: '{}' is not a port (0 to 65535)", name, rest.back()));
        r.numbers = {*port};
        break;
    }
    case Call::Listen: {
        auto fd = p.fd(name);
        if (!fd)
            return fail(fd.error());
        r.fd = *fd;
        std::int64_t backlog = kDefaultBacklog;
        if (p.more()) {
            auto b = p.integer(name, "a backlog", 0, 65535);
            if (!b)
                return fail(b.error());
            backlog = *b;
        }
        r.numbers = {backlog};
        break;
    }
    case Call::Accept:
    case Call::Close: {
        auto fd = p.fd(name);
        if (!fd)
            return fail(fd.error());
        r.fd = *fd;
        break;
    }
    case Call::Read: {
        auto fd = p.fd(name);
        if (!fd)
            return fail(fd.error());
        r.fd = *fd;
        if (p.more() && (lower(p.peek()) == "stop" || lower(p.peek()) == "all")) {
            const bool on = lower(p.next()) == "all";
            r.call = Call::Drain;
            r.numbers = {on ? 1 : 0};
            break;
        }
        auto count = p.integer(name, "a count of bytes", 0, std::int64_t(kMaxReadBytes), true);
        if (!count)
            return fail(count.error());
        std::int64_t flags = 0;
        while (p.more()) {
            const std::string w = lower(p.next());
            if (w == "peek")
                flags |= kMsgPeek;
            else if (w == "dontwait")
                flags |= kMsgDontwait;
            else if (w == "waitall")
                flags |= kMsgWaitall;
            else
                return fail(fmt::format("read: '{}' is not peek, dontwait or waitall", w));
        }
        r.numbers = {*count, flags};
        break;
    }
    case Call::Write: {
        auto fd = p.fd(name);
        if (!fd)
            return fail(fd.error());
        r.fd = *fd;
        if (!p.more())
            return fail(std::string("write takes FD COUNT, FD \"text\" or FD hex:BYTES"));
        const std::string what = p.next();
        if (what.size() >= 2 && what.front() == '"') {
            auto bytes = wire::unescapeText(std::string_view(what).substr(1, what.size() - 2));
            if (!bytes)
                return fail(fmt::format("write: {}", bytes.error()));
            r.data = std::move(*bytes);
        } else if (what.starts_with("hex:")) {
            auto bytes = wire::fromHex(std::string_view(what).substr(4));
            if (!bytes)
                return fail(fmt::format("write: {}", bytes.error()));
            r.data = std::move(*bytes);
        }
        std::int64_t count = std::int64_t(r.data.size());
        if (r.data.empty() && !(what.front() == '"' || what.starts_with("hex:"))) {
            const auto n = number(what, true);
            if (!n || *n < 0 || std::uint64_t(*n) > kMaxPatternWrite)
                return fail(fmt::format("write: '{}' is not a count from 0 to 1G bytes", what));
            count = *n;
        }
        std::int64_t flags = 0;
        while (p.more()) {
            const std::string w = lower(p.next());
            if (w == "more")
                flags |= kMsgMore;
            else if (w == "dontwait")
                flags |= kMsgDontwait;
            else
                return fail(fmt::format("write: '{}' is not more or dontwait", w));
        }
        r.numbers = {count, flags};
        break;
    }
    case Call::Shutdown: {
        auto fd = p.fd(name);
        if (!fd)
            return fail(fd.error());
        r.fd = *fd;
        if (!p.more())
            return fail(std::string("shutdown takes FD rd|wr|rdwr"));
        const std::string w = lower(p.next());
        const std::int64_t how = w == "rd" || w == "shut_rd"       ? 0
                                 : w == "wr" || w == "shut_wr"     ? 1
                                 : w == "rdwr" || w == "shut_rdwr" ? 2
                                                                   : -1;
        if (how < 0)
            return fail(fmt::format("shutdown: '{}' is not rd, wr or rdwr", w));
        r.numbers = {how};
        break;
    }
    case Call::Poll: {
        auto timeout = p.integer(name, "a timeout in ms (-1: none)", -1, 600'000);
        if (!timeout)
            return fail(timeout.error());
        r.numbers = {*timeout};
        while (p.more()) {
            auto fd = p.fd(name);
            if (!fd)
                return fail(fd.error());
            if (!p.more())
                return fail(fmt::format("poll: fd {} needs its events (in, out, in,out)", *fd));
            const std::string w = p.next();
            const auto events = eventsFrom(w);
            if (!events)
                return fail(fmt::format("poll: '{}' is not in, out, pri, rdhup or a number", w));
            r.numbers.push_back(*fd);
            r.numbers.push_back(*events);
        }
        if (r.numbers.size() < 3)
            return fail(std::string("poll takes TIMEOUT_MS FD EVENTS [FD EVENTS]..."));
        break;
    }
    case Call::Fcntl: {
        auto fd = p.fd(name);
        if (!fd)
            return fail(fd.error());
        r.fd = *fd;
        if (!p.more())
            return fail(std::string("fcntl takes FD getfl or FD setfl FLAGS"));
        const std::string cmd = lower(p.next());
        if (cmd == "getfl" || cmd == "f_getfl") {
            r.numbers = {kFGetfl, 0};
        } else if (cmd == "setfl" || cmd == "f_setfl") {
            if (!p.more())
                return fail(std::string("fcntl setfl takes nonblock, 0 or a number"));
            const std::string w = lower(p.next());
            std::optional<std::int64_t> flags = w == "nonblock" || w == "o_nonblock"
                                                    ? std::optional<std::int64_t>(kONonblock)
                                                : w == "blocking" ? std::optional<std::int64_t>(0)
                                                                  : number(w);
            if (!flags)
                return fail(fmt::format("fcntl setfl: '{}' is not nonblock, 0 or a number", w));
            r.numbers = {kFSetfl, *flags};
        } else {
            return fail(fmt::format("fcntl: '{}' is not getfl or setfl", cmd));
        }
        break;
    }
    case Call::SetSockOpt:
    case Call::GetSockOpt: {
        auto fd = p.fd(name);
        if (!fd)
            return fail(fd.error());
        r.fd = *fd;
        if (!p.more())
            return fail(fmt::format("{} takes FD OPTION{}", name,
                                    *call == Call::SetSockOpt ? " VALUE" : ""));
        const std::string optionWord = p.next();
        const SocketOption* option = findOption(optionWord);
        if (!option)
            return fail(fmt::format("{}: '{}' is not an option tcplab knows (TCP_NODELAY, "
                                    "SO_LINGER, TCP_CONGESTION, ...)",
                                    name, optionWord));
        if (*call == Call::GetSockOpt) {
            const std::int64_t length = option->type == OptionType::TcpInfo  ? 512
                                        : option->type == OptionType::Linger ? 8
                                        : option->type == OptionType::String ? 16
                                                                             : 4;
            r.numbers = {option->level, option->option, length};
            break;
        }
        if (option->readOnly)
            return fail(fmt::format("setsockopt: {} can be read, not set", option->name));
        if (!p.more())
            return fail(fmt::format("setsockopt {} needs a value", option->name));
        auto value = encodeOptionValue(*option, p.next());
        if (!value)
            return fail(fmt::format("setsockopt: {}", value.error()));
        r.numbers = {option->level, option->option};
        r.data = std::move(*value);
        break;
    }
    case Call::Ioctl: {
        auto fd = p.fd(name);
        if (!fd)
            return fail(fd.error());
        r.fd = *fd;
        if (!p.more())
            return fail(std::string("ioctl takes FD SIOCINQ|SIOCOUTQ"));
        const std::string w = upper(p.next());
        if (w == "SIOCINQ" || w == "FIONREAD")
            r.numbers = {kSiocinq};
        else if (w == "SIOCOUTQ" || w == "TIOCOUTQ")
            r.numbers = {kSiocoutq};
        else
            return fail(fmt::format("ioctl: '{}' is not SIOCINQ or SIOCOUTQ", w));
        break;
    }
    case Call::Sysctl: {
        if (!p.more())
            return fail(std::string("sysctl takes KEY (to read it) or KEY=VALUE"));
        std::string w = p.next();
        const auto eq = w.find('=');
        std::string key = w.substr(0, eq);
        std::string value;
        if (eq != std::string::npos) {
            value = w.substr(eq + 1);
            // "net.ipv4.tcp_rmem=4096 131072 6291456": the rest of the line is the value.
            while (p.more())
                value += " " + p.next();
            if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
                value = value.substr(1, value.size() - 2);
            if (value.empty())
                return fail(fmt::format("sysctl {}= needs a value", key));
            for (const char c : value)
                if (c < ' ' || c > '~' || c == '"')
                    return fail(fmt::format("sysctl {}: a value is printable text without "
                                            "quotes (\"4096 131072 6291456\", reno, 1)",
                                            key));
        }
        for (auto& c : key)
            if (c == '/')
                c = '.';
        if (key.empty() || key.find("..") != std::string::npos ||
            key.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_.-") != std::string::npos)
            return fail(fmt::format("sysctl: '{}' is not a sysctl key (net.ipv4.tcp_sack)", key));
        r.text = key;
        r.data.assign(value.begin(), value.end());
        break;
    }
    case Call::SysctlList:
        if (p.more())
            r.text = p.next();
        break;
    case Call::Drain: {
        auto fd = p.fd(name);
        if (!fd)
            return fail(fd.error());
        r.fd = *fd;
        if (!p.more())
            return fail(std::string("drain takes FD on|off"));
        const std::string w = lower(p.next());
        if (w != "on" && w != "off")
            return fail(fmt::format("drain: '{}' is not on or off", w));
        r.numbers = {w == "on" ? 1 : 0};
        break;
    }
    case Call::Sample:
        break;
    case Call::EpollCreate: {
        std::int64_t size = 1;
        if (p.more()) {
            auto v = p.integer(name, "a size", 1, 0x7fffffff);
            if (!v)
                return fail(v.error());
            size = *v;
        }
        r.numbers = {size};
        break;
    }
    case Call::EpollCtl: {
        auto epfd = p.fd(name);
        if (!epfd)
            return fail(epfd.error());
        r.fd = *epfd;
        if (!p.more())
            return fail(std::string("epoll_ctl takes EPFD add|mod|del FD EVENTS [DATA]"));
        const std::string op = lower(p.next());
        const std::int64_t code = op == "add"   ? kEpollCtlAdd
                                  : op == "del" ? kEpollCtlDel
                                  : op == "mod" ? kEpollCtlMod
                                                : 0;
        if (code == 0)
            return fail(fmt::format("epoll_ctl: '{}' is not add, mod or del", op));
        auto fd = p.fd(name);
        if (!fd)
            return fail(fd.error());
        if (!p.more())
            return fail(fmt::format("epoll_ctl: fd {} needs its events (in, out, in,out,et)", *fd));
        const std::string w = p.next();
        const auto events = eventsFrom(w);
        if (!events)
            return fail(fmt::format("epoll_ctl: '{}' is not in, out, rdhup, et, oneshot or a "
                                    "number",
                                    w));
        std::int64_t data = *fd;
        if (p.more()) {
            auto v = p.integer(name, "the event's data", INT64_MIN, INT64_MAX);
            if (!v)
                return fail(v.error());
            data = *v;
        }
        r.numbers = {code, *fd, *events, data};
        break;
    }
    case Call::EpollWait: {
        auto epfd = p.fd(name);
        if (!epfd)
            return fail(epfd.error());
        r.fd = *epfd;
        auto most = p.integer(name, "maxevents", 1, kMaxEpollEvents);
        if (!most)
            return fail(most.error());
        auto timeout = p.integer(name, "a timeout in ms (-1: none)", -1, 600'000);
        if (!timeout)
            return fail(timeout.error());
        r.numbers = {*most, *timeout};
        break;
    }
    case Call::Command: {
        if (!p.more())
            return fail(std::string("command takes tc or ip and its arguments"));
        r.text = p.next();
        while (p.more()) {
            const std::string w = p.next();
            if (!isCommandWord(w))
                return fail(fmt::format("command: '{}' is not a plain word (letters, digits and "
                                        "._-:/+,=@%)",
                                        w));
            r.data.insert(r.data.end(), w.begin(), w.end());
            r.data.push_back(0);
        }
        break;
    }
    }
    if (auto extra = p.done(name))
        return fail(*extra);
    if (auto invalid = validate(r))
        return fail(*invalid);
    return r;
}

std::string formatCall(const Request& r) {
    const std::string name(callName(r.call));
    const auto n = [&r](std::size_t i) { return i < r.numbers.size() ? r.numbers[i] : 0; };
    switch (r.call) {
    case Call::Socket:
        return fmt::format("socket {}{}", n(0) == kAfInet6 ? "inet6" : "inet",
                           (n(1) & kSockNonblock) ? " nonblock" : "");
    case Call::Bind:
        return r.text.empty() ? fmt::format("bind {} {}", r.fd, n(0))
                              : fmt::format("bind {} {} {}", r.fd, r.text, n(0));
    case Call::Connect:
        return fmt::format("connect {} {} {}", r.fd, r.text, n(0));
    case Call::Listen:
        return fmt::format("listen {} {}", r.fd, n(0));
    case Call::Accept:
    case Call::Close:
        return fmt::format("{} {}", name, r.fd);
    case Call::Read:
        return fmt::format(
            "read {} {}{}", r.fd, n(0),
            flagsText(n(1),
                      {{kMsgPeek, "peek"}, {kMsgDontwait, "dontwait"}, {kMsgWaitall, "waitall"}}));
    case Call::Write: {
        const std::string flags = flagsText(n(1), {{kMsgMore, "more"}, {kMsgDontwait, "dontwait"}});
        if (r.data.empty())
            return fmt::format("write {} {}{}", r.fd, n(0), flags);
        return fmt::format("write {} hex:{}{}", r.fd, wire::toHex(r.data), flags);
    }
    case Call::Shutdown:
        return fmt::format("shutdown {} {}", r.fd, n(0) == 0 ? "rd" : n(0) == 1 ? "wr" : "rdwr");
    case Call::Poll: {
        std::string text = fmt::format("poll {}", n(0));
        for (std::size_t i = 1; i + 1 < r.numbers.size(); i += 2)
            text += fmt::format(" {} {}", r.numbers[i], eventsText(r.numbers[i + 1]));
        return text;
    }
    case Call::Fcntl:
        if (n(0) == kFGetfl)
            return fmt::format("fcntl {} getfl", r.fd);
        return fmt::format("fcntl {} setfl {}", r.fd, n(1));
    case Call::SetSockOpt: {
        const SocketOption* o = findOption(static_cast<int>(n(0)), static_cast<int>(n(1)));
        if (!o)
            return fmt::format("setsockopt {} {} {}", r.fd, n(0), n(1));
        std::string value = formatOptionValue(*o, r.data);
        if (o->type == OptionType::Linger && r.data.size() == 8) {
            int on = 0;
            int seconds = 0;
            std::memcpy(&on, r.data.data(), 4);
            std::memcpy(&seconds, r.data.data() + 4, 4);
            value = fmt::format("{},{}", on, seconds);
        }
        return fmt::format("setsockopt {} {} {}", r.fd, o->name, value);
    }
    case Call::GetSockOpt:
        return fmt::format("getsockopt {} {}", r.fd,
                           optionName(static_cast<int>(n(0)), static_cast<int>(n(1))));
    case Call::Ioctl:
        return fmt::format("ioctl {} {}", r.fd,
                           n(0) == kSiocinq    ? "SIOCINQ"
                           : n(0) == kSiocoutq ? "SIOCOUTQ"
                                               : std::to_string(n(0)));
    case Call::Sysctl:
        if (r.data.empty())
            return fmt::format("sysctl {}", r.text);
        return fmt::format("sysctl {}={}", r.text, std::string(r.data.begin(), r.data.end()));
    case Call::SysctlList:
        return r.text.empty() ? "sysctl-list" : "sysctl-list " + r.text;
    case Call::Drain:
        return fmt::format("drain {} {}", r.fd, n(0) ? "on" : "off");
    case Call::Sample:
        return "sample";
    case Call::EpollCreate:
        return fmt::format("epoll_create {}", n(0));
    case Call::EpollCtl:
        return fmt::format("epoll_ctl {} {} {} {}{}", r.fd, epollOpName(n(0)), n(1),
                           eventsText(n(2)), n(3) == n(1) ? "" : fmt::format(" {}", n(3)));
    case Call::EpollWait:
        return fmt::format("epoll_wait {} {} {}", r.fd, n(0), n(1));
    case Call::Command:
        return commandLine(r);
    }
    return name;
}

std::string describeCall(const Request& r) {
    const auto n = [&r](std::size_t i) { return i < r.numbers.size() ? r.numbers[i] : 0; };
    const auto address = [&r, &n]() {
        const bool v6 = r.text.find(':') != std::string::npos;
        const std::string host = r.text.empty() ? "any" : r.text;
        return v6 ? fmt::format("[{}]:{}", host, n(0)) : fmt::format("{}:{}", host, n(0));
    };
    switch (r.call) {
    case Call::Socket:
        return fmt::format("socket({}, SOCK_STREAM{}, {})",
                           n(0) == kAfInet6  ? "AF_INET6"
                           : n(0) == kAfInet ? "AF_INET"
                                             : std::to_string(n(0)),
                           (n(1) & kSockNonblock) ? "|SOCK_NONBLOCK" : "", n(2));
    case Call::Bind:
        return fmt::format("bind({}, {})", r.fd, address());
    case Call::Connect:
        return fmt::format("connect({}, {})", r.fd, address());
    case Call::Listen:
        return fmt::format("listen({}, {})", r.fd, n(0));
    case Call::Accept:
        return fmt::format("accept({})", r.fd);
    case Call::Close:
        return fmt::format("close({})", r.fd);
    case Call::Read:
        return fmt::format("read({}, {}{})", r.fd, n(0),
                           n(1) == 0 ? ""
                                     : "," + flagsText(n(1), {{kMsgPeek, "MSG_PEEK"},
                                                              {kMsgDontwait, "MSG_DONTWAIT"},
                                                              {kMsgWaitall, "MSG_WAITALL"}}));
    case Call::Write: {
        const std::string flags =
            flagsText(n(1), {{kMsgMore, "MSG_MORE"}, {kMsgDontwait, "MSG_DONTWAIT"}});
        if (r.data.empty())
            return fmt::format("write({}, {} pattern bytes{})", r.fd, n(0),
                               flags.empty() ? "" : "," + flags);
        const std::size_t shown = std::min<std::size_t>(r.data.size(), 48);
        return fmt::format("write({}, {}{}, {}{})", r.fd, quoted(std::span(r.data).first(shown)),
                           shown < r.data.size() ? "..." : "", r.data.size(),
                           flags.empty() ? "" : "," + flags);
    }
    case Call::Shutdown:
        return fmt::format("shutdown({}, {})", r.fd,
                           n(0) == 0   ? "SHUT_RD"
                           : n(0) == 1 ? "SHUT_WR"
                                       : "SHUT_RDWR");
    case Call::Poll: {
        std::string fds;
        for (std::size_t i = 1; i + 1 < r.numbers.size(); i += 2)
            fds += fmt::format("{}{{{}, {}}}", fds.empty() ? "" : ", ", r.numbers[i],
                               eventsText(r.numbers[i + 1]));
        return fmt::format("poll([{}], {})", fds, n(0));
    }
    case Call::Fcntl:
        if (n(0) == kFGetfl)
            return fmt::format("fcntl({}, F_GETFL)", r.fd);
        return fmt::format("fcntl({}, F_SETFL, {})", r.fd,
                           n(1) == kONonblock ? "O_NONBLOCK" : std::to_string(n(1)));
    case Call::SetSockOpt: {
        const SocketOption* o = findOption(static_cast<int>(n(0)), static_cast<int>(n(1)));
        return fmt::format("setsockopt({}, {}, {}, {})", r.fd, levelName(static_cast<int>(n(0))),
                           optionName(static_cast<int>(n(0)), static_cast<int>(n(1))),
                           o ? formatOptionValue(*o, r.data) : "hex:" + wire::toHex(r.data));
    }
    case Call::GetSockOpt:
        return fmt::format("getsockopt({}, {}, {})", r.fd, levelName(static_cast<int>(n(0))),
                           optionName(static_cast<int>(n(0)), static_cast<int>(n(1))));
    case Call::Ioctl:
        return fmt::format("ioctl({}, {})", r.fd,
                           n(0) == kSiocinq    ? "SIOCINQ"
                           : n(0) == kSiocoutq ? "SIOCOUTQ"
                                               : std::to_string(n(0)));
    case Call::Sysctl:
        if (r.data.empty())
            return fmt::format("sysctl {}", r.text);
        return fmt::format("sysctl {}={}", r.text, std::string(r.data.begin(), r.data.end()));
    case Call::SysctlList:
        return fmt::format("sysctl -a {}", r.text);
    case Call::Drain:
        return fmt::format("drain({}, {})", r.fd, n(0) ? "on" : "off");
    case Call::Sample:
        return "sample()";
    case Call::EpollCreate:
        return fmt::format("epoll_create({})", n(0));
    case Call::EpollCtl:
        return fmt::format("epoll_ctl({}, EPOLL_CTL_{}, {}, {{{}, data={}}})", r.fd,
                           upper(epollOpName(n(0))), n(1), eventsText(n(2)), n(3));
    case Call::EpollWait:
        return fmt::format("epoll_wait({}, {}, {})", r.fd, n(0), n(1));
    case Call::Command:
        return commandLine(r).substr(8);
    }
    return std::string(callName(r.call));
}

std::string describeAnswer(const Request& r, const Answer& a) {
    if (a.outcome == Outcome::Refused)
        return fmt::format("not made: {}", a.text);
    if (a.result < 0 || a.error != 0) {
        std::string text =
            fmt::format("= {} {} ({})", a.result, errnoName(a.error), std::strerror(a.error));
        if (!a.text.empty())
            text += ": " + a.text;
        return text;
    }
    std::string text = fmt::format("= {}", a.result);
    switch (r.call) {
    case Call::Accept:
        if (!a.text.empty())
            text += fmt::format(" ({})", a.text);
        break;
    case Call::Read:
        if (!a.data.empty()) {
            const std::size_t shown = std::min<std::size_t>(a.data.size(), 48);
            text += fmt::format(" {}{}", quoted(std::span(a.data).first(shown)),
                                shown < std::size_t(a.result) ? "..." : "");
        }
        break;
    case Call::Poll: {
        std::string revents;
        for (std::size_t i = 0; i < a.numbers.size(); ++i)
            revents += fmt::format("{}{}", i ? ", " : "", eventsText(a.numbers[i]));
        text += fmt::format(" [{}]", revents);
        break;
    }
    case Call::Fcntl:
        if (!r.numbers.empty() && r.numbers[0] == kFGetfl)
            text += (a.result & kONonblock) ? " (O_NONBLOCK)" : " (blocking)";
        break;
    case Call::GetSockOpt:
        if (r.numbers.size() >= 2) {
            const SocketOption* o =
                findOption(static_cast<int>(r.numbers[0]), static_cast<int>(r.numbers[1]));
            text += " " + (o ? formatOptionValue(*o, a.data) : "hex:" + wire::toHex(a.data));
        }
        break;
    case Call::Sysctl:
        text = fmt::format("= {}", std::string(a.data.begin(), a.data.end()));
        break;
    case Call::SysctlList:
        text = fmt::format("= {} settings",
                           std::count(a.data.begin(), a.data.end(), std::uint8_t('\n')));
        break;
    case Call::EpollWait: {
        std::string events;
        for (std::size_t i = 0; i + 1 < a.numbers.size(); i += 2)
            events += fmt::format("{}{{{}, data={}}}", i ? ", " : "", eventsText(a.numbers[i]),
                                  a.numbers[i + 1]);
        text += fmt::format(" [{}]", events);
        break;
    }
    case Call::Command:
        text = a.result == 0 ? "= 0" : fmt::format("= exit status {}", a.result);
        break;
    default:
        break;
    }
    if (!a.text.empty() && r.call != Call::Accept)
        text += fmt::format(" ({})", a.text);
    return text;
}

std::string describeCallLine(const Request& r, const Answer& a) {
    const double us = double(a.durationNs) / 1000.0;
    const std::string took =
        us >= 10'000 ? fmt::format("{:.1f} ms", us / 1000.0) : fmt::format("{:.0f} us", us);
    return fmt::format("{} {} [{}]", describeCall(r), describeAnswer(r, a), took);
}

} // namespace tcplab::peer
