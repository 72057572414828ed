#include "peer/agent_protocol.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <utility>

namespace tcplab::peer {

namespace {

// Bodies, field after field (u = unsigned big-endian, i = two's complement; "bytes" is a
// u32 length and that many bytes, "numbers" a u16 count and that many i64):
//
//   Hello    u32 version, bytes stack, bytes release, i32 pid, bytes limits
//   Request  u32 id, u8 call, i32 fd, numbers, bytes text, bytes data
//   Answer   u32 id, u8 call, u8 outcome, i64 result, i32 error, i64 start_ns,
//            i64 duration_ns, numbers, bytes text, bytes data
//   Sample   i64 time_ns, u32 after, u16 count, then per socket:
//            u64 inode, i32 fd, u8 flags (1 ipv6, 2 gone), bytes local, u16 local_port,
//            bytes remote, u16 remote_port, u32 receive_queue, u32 send_queue,
//            bytes congestion, u8 field_count, (u8 field, u64 value) * field_count

constexpr std::array<std::string_view, kLastCall + 1> kCallNames = {
    "",           "socket",       "bind",      "listen",     "accept",      "connect",
    "read",       "write",        "shutdown",  "close",      "poll",        "fcntl",
    "setsockopt", "getsockopt",   "ioctl",     "sysctl",     "sysctl-list", "drain",
    "sample",     "epoll_create", "epoll_ctl", "epoll_wait", "command",
};

class Writer {
public:
    void u8(std::uint8_t v) { m_out.push_back(v); }
    void u16(std::uint16_t v) { unsignedBytes(v, 2); }
    void u32(std::uint32_t v) { unsignedBytes(v, 4); }
    void u64(std::uint64_t v) { unsignedBytes(v, 8); }
    void i32(std::int32_t v) { u32(static_cast<std::uint32_t>(v)); }
    void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
    void bytes(std::span<const std::uint8_t> b) {
        u32(static_cast<std::uint32_t>(b.size()));
        m_out.insert(m_out.end(), b.begin(), b.end());
    }
    void text(std::string_view t) {
        bytes({reinterpret_cast<const std::uint8_t*>(t.data()), t.size()});
    }
    void numbers(const std::vector<std::int64_t>& n) {
        u16(static_cast<std::uint16_t>(n.size()));
        for (const auto v : n)
            i64(v);
    }
    std::vector<std::uint8_t> finish() {
        const auto length = static_cast<std::uint32_t>(m_out.size() - 4);
        for (int i = 0; i < 4; ++i)
            m_out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(length >> (24 - 8 * i));
        return std::move(m_out);
    }

private:
    void unsignedBytes(std::uint64_t v, int n) {
        for (int i = n - 1; i >= 0; --i)
            m_out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    std::vector<std::uint8_t> m_out = std::vector<std::uint8_t>(4, 0);
};

/// Reads fields in order; the first failure sticks and names what was being read.
class Reader {
public:
    explicit Reader(std::span<const std::uint8_t> b)
        : m_bytes(b) {}

    std::uint8_t u8(const char* what) { return static_cast<std::uint8_t>(unsignedBytes(1, what)); }
    std::uint16_t u16(const char* what) {
        return static_cast<std::uint16_t>(unsignedBytes(2, what));
    }
    std::uint32_t u32(const char* what) {
        return static_cast<std::uint32_t>(unsignedBytes(4, what));
    }
    std::uint64_t u64(const char* what) { return unsignedBytes(8, what); }
    std::int32_t i32(const char* what) { return static_cast<std::int32_t>(u32(what)); }
    std::int64_t i64(const char* what) { return static_cast<std::int64_t>(u64(what)); }

    std::vector<std::uint8_t> bytes(const char* what, std::size_t limit) {
        const std::uint32_t n = u32(what);
        if (failed())
            return {};
        if (n > limit) {
            fail(fmt::format("{} of {} bytes is over its limit of {}", what, n, limit));
            return {};
        }
        if (n > left()) {
            fail(fmt::format("truncated: {} needs {} bytes, {} are left", what, n, left()));
            return {};
        }
        std::vector<std::uint8_t> out(m_bytes.begin() + static_cast<std::ptrdiff_t>(m_at),
                                      m_bytes.begin() + static_cast<std::ptrdiff_t>(m_at + n));
        m_at += n;
        return out;
    }
    std::string text(const char* what) {
        const auto b = bytes(what, kMaxTextBytes);
        return std::string(b.begin(), b.end());
    }
    std::vector<std::int64_t> numbers(const char* what) {
        const std::uint16_t n = u16(what);
        if (failed())
            return {};
        if (n > kMaxNumbers) {
            fail(fmt::format("{}: {} numbers is over the limit of {}", what, n, kMaxNumbers));
            return {};
        }
        std::vector<std::int64_t> out;
        out.reserve(n);
        for (std::uint16_t i = 0; i < n && !failed(); ++i)
            out.push_back(i64(what));
        return out;
    }

    void fail(std::string message) {
        if (!m_error)
            m_error = std::move(message);
    }
    bool failed() const noexcept { return m_error.has_value(); }
    std::size_t left() const noexcept { return m_bytes.size() - m_at; }
    const std::optional<std::string>& error() const noexcept { return m_error; }

private:
    std::uint64_t unsignedBytes(std::size_t n, const char* what) {
        if (failed())
            return 0;
        if (left() < n) {
            fail(fmt::format("truncated: {} needs {} bytes, {} are left", what, n, left()));
            return 0;
        }
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < n; ++i)
            v = (v << 8) | m_bytes[m_at + i];
        m_at += n;
        return v;
    }

    std::span<const std::uint8_t> m_bytes;
    std::size_t m_at = 0;
    std::optional<std::string> m_error;
};

std::optional<Call> callFrom(std::uint8_t v) {
    if (v == 0 || v > kLastCall)
        return std::nullopt;
    return static_cast<Call>(v);
}

void writeBody(Writer& w, const Hello& m) {
    w.u32(m.version);
    w.text(m.stack);
    w.text(m.release);
    w.i32(m.pid);
    w.text(m.limits);
}

void writeBody(Writer& w, const Request& m) {
    w.u32(m.id);
    w.u8(static_cast<std::uint8_t>(m.call));
    w.i32(m.fd);
    w.numbers(m.numbers);
    w.text(m.text);
    w.bytes(m.data);
}

void writeBody(Writer& w, const Answer& m) {
    w.u32(m.id);
    w.u8(static_cast<std::uint8_t>(m.call));
    w.u8(static_cast<std::uint8_t>(m.outcome));
    w.i64(m.result);
    w.i32(m.error);
    w.i64(m.startNs);
    w.i64(m.durationNs);
    w.numbers(m.numbers);
    w.text(m.text);
    w.bytes(m.data);
}

void writeBody(Writer& w, const Sample& m) {
    w.i64(m.timeNs);
    w.u32(m.after);
    w.u16(static_cast<std::uint16_t>(m.sockets.size()));
    for (const auto& s : m.sockets) {
        w.u64(s.inode);
        w.i32(s.fd);
        w.u8(static_cast<std::uint8_t>((s.ipv6 ? 1 : 0) | (s.gone ? 2 : 0)));
        w.bytes(s.local);
        w.u16(s.localPort);
        w.bytes(s.remote);
        w.u16(s.remotePort);
        w.u32(s.receiveQueue);
        w.u32(s.sendQueue);
        w.text(s.congestion);
        w.u8(static_cast<std::uint8_t>(s.fields.size()));
        for (const auto& [field, value] : s.fields) {
            w.u8(field);
            w.u64(value);
        }
    }
}

Hello readHello(Reader& r) {
    Hello m;
    m.version = r.u32("the version");
    m.stack = r.text("the stack's name");
    m.release = r.text("the stack's release");
    m.pid = r.i32("the pid");
    m.limits = r.text("the stack's limits");
    return m;
}

Call readCall(Reader& r, const char* whose) {
    const std::uint8_t v = r.u8(whose);
    if (r.failed())
        return Call::Sample;
    const auto call = callFrom(v);
    if (!call) {
        r.fail(fmt::format("unknown call {}", v));
        return Call::Sample;
    }
    return *call;
}

Request readRequest(Reader& r) {
    Request m;
    m.id = r.u32("the request's id");
    m.call = readCall(r, "the request's call");
    m.fd = r.i32("the request's fd");
    m.numbers = r.numbers("the request's numbers");
    m.text = r.text("the request's text");
    m.data = r.bytes("the request's data", kMaxDataBytes);
    return m;
}

Answer readAnswer(Reader& r) {
    Answer m;
    m.id = r.u32("the answer's id");
    m.call = readCall(r, "the answer's call");
    const std::uint8_t outcome = r.u8("the answer's outcome");
    if (!r.failed() && outcome > 1)
        r.fail(fmt::format("unknown outcome {}", outcome));
    m.outcome = static_cast<Outcome>(outcome & 1);
    m.result = r.i64("the answer's result");
    m.error = r.i32("the answer's errno");
    m.startNs = r.i64("the answer's start");
    m.durationNs = r.i64("the answer's duration");
    m.numbers = r.numbers("the answer's numbers");
    m.text = r.text("the answer's text");
    m.data = r.bytes("the answer's data", kMaxDataBytes);
    return m;
}

std::vector<std::uint8_t> readAddress(Reader& r, const char* what, bool ipv6) {
    auto a = r.bytes(what, 16);
    if (!r.failed() && !a.empty() && a.size() != (ipv6 ? 16u : 4u))
        r.fail(fmt::format("{} has {} bytes where an IPv{} address has {}", what, a.size(),
                           ipv6 ? 6 : 4, ipv6 ? 16 : 4));
    return a;
}

Sample readSample(Reader& r) {
    Sample m;
    m.timeNs = r.i64("the sample's time");
    m.after = r.u32("the sample's cause");
    const std::uint16_t count = r.u16("the sample's socket count");
    if (!r.failed() && count > kMaxSampleSockets)
        r.fail(fmt::format("{} sockets in one sample is over the limit of {}", count,
                           kMaxSampleSockets));
    for (std::uint16_t i = 0; i < count && !r.failed(); ++i) {
        SocketSample s;
        s.inode = r.u64("a socket's inode");
        s.fd = r.i32("a socket's fd");
        const std::uint8_t flags = r.u8("a socket's flags");
        if (!r.failed() && (flags & ~3u) != 0)
            r.fail(fmt::format("unknown socket flags {:#x}", flags));
        s.ipv6 = (flags & 1) != 0;
        s.gone = (flags & 2) != 0;
        s.local = readAddress(r, "a socket's local address", s.ipv6);
        s.localPort = r.u16("a socket's local port");
        s.remote = readAddress(r, "a socket's remote address", s.ipv6);
        s.remotePort = r.u16("a socket's remote port");
        s.receiveQueue = r.u32("a socket's receive queue");
        s.sendQueue = r.u32("a socket's send queue");
        s.congestion = r.text("a socket's congestion control");
        const std::uint8_t fields = r.u8("a socket's field count");
        int previous = -1;
        for (std::uint8_t f = 0; f < fields && !r.failed(); ++f) {
            const std::uint8_t id = r.u8("a tcp_info field");
            const std::uint64_t value = r.u64("a tcp_info value");
            if (r.failed())
                break;
            if (int{id} <= previous)
                r.fail(fmt::format("tcp_info field {} out of order", id));
            previous = id;
            s.fields.emplace_back(id, value);
        }
        m.sockets.push_back(std::move(s));
    }
    return m;
}

} // namespace

std::string_view callName(Call call) noexcept {
    const auto v = static_cast<std::size_t>(call);
    return v >= 1 && v < kCallNames.size() ? kCallNames[v] : std::string_view("?");
}

std::optional<Call> callByName(std::string_view name) noexcept {
    for (std::size_t i = 1; i < kCallNames.size(); ++i)
        if (kCallNames[i] == name)
            return static_cast<Call>(i);
    return std::nullopt;
}

std::vector<std::uint8_t> encode(const Message& message) {
    Writer w;
    w.u8(static_cast<std::uint8_t>(message.index() + 1));
    std::visit([&w](const auto& m) { writeBody(w, m); }, message);
    return w.finish();
}

std::optional<std::size_t> messageSize(std::span<const std::uint8_t> bytes) noexcept {
    if (bytes.size() < 4)
        return std::nullopt;
    const std::size_t length = (std::size_t{bytes[0]} << 24) | (std::size_t{bytes[1]} << 16) |
                               (std::size_t{bytes[2]} << 8) | std::size_t{bytes[3]};
    return length + 4;
}

tl::expected<Message, DecodeError> decode(std::span<const std::uint8_t> bytes) {
    if (bytes.size() > kMaxMessageBytes)
        return tl::make_unexpected(DecodeError{fmt::format(
            "a message of {} bytes is over the limit of {}", bytes.size(), kMaxMessageBytes)});
    const auto size = messageSize(bytes);
    if (!size)
        return tl::make_unexpected(
            DecodeError{fmt::format("truncated: {} bytes, not even a length", bytes.size())});
    if (*size > bytes.size())
        return tl::make_unexpected(DecodeError{fmt::format(
            "truncated: the message says {} bytes, {} are there", *size, bytes.size())});
    if (*size < bytes.size())
        return tl::make_unexpected(DecodeError{
            fmt::format("{} bytes after the end of the message", bytes.size() - *size)});
    Reader r(bytes.subspan(4));
    const std::uint8_t kind = r.u8("the message kind");
    Message message;
    switch (kind) {
    case static_cast<std::uint8_t>(MessageKind::Hello):
        message = readHello(r);
        break;
    case static_cast<std::uint8_t>(MessageKind::Request):
        message = readRequest(r);
        break;
    case static_cast<std::uint8_t>(MessageKind::Answer):
        message = readAnswer(r);
        break;
    case static_cast<std::uint8_t>(MessageKind::Sample):
        message = readSample(r);
        break;
    default:
        if (!r.failed())
            r.fail(fmt::format("unknown message kind {}", kind));
    }
    if (!r.failed() && r.left() != 0)
        r.fail(fmt::format("{} bytes after the end of the message", r.left()));
    if (r.failed())
        return tl::make_unexpected(DecodeError{*r.error()});
    return message;
}

bool isCommandWord(std::string_view w) noexcept {
    return !w.empty() && std::all_of(w.begin(), w.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               std::string_view("._-:/+,=@%").find(c) != std::string_view::npos;
    });
}

std::vector<std::string> commandArguments(const Request& request) {
    std::vector<std::string> args;
    std::string word;
    for (const std::uint8_t b : request.data) {
        if (b == 0) {
            args.push_back(std::move(word));
            word.clear();
        } else {
            word += static_cast<char>(b);
        }
    }
    return args;
}

std::optional<std::string> commandRefusal(std::string_view program,
                                          const std::vector<std::string>& args) {
    // No word may reach another namespace, a file, a program or a batch of commands.
    static constexpr std::array<std::string_view, 8> kNever = {
        "netns", "exec", "-b", "-batch", "-n", "-netns", "-force", "bpf"};
    for (const std::string& a : args) {
        if (!isCommandWord(a))
            return fmt::format("{}: '{}' is not a plain word (letters, digits and ._-:/+,=@%)",
                               program, a);
        for (std::string_view never : kNever)
            if (a == never)
                return fmt::format("{}: '{}' is not allowed (a command stays in the peer's "
                                   "namespace and runs nothing else)",
                                   program, a);
    }
    std::size_t first = 0;
    if (program == "ip")
        while (first < args.size() && (args[first] == "-4" || args[first] == "-6"))
            ++first;
    const std::string_view object = first < args.size() ? args[first] : std::string_view();
    if (program == "tc") {
        if (object != "qdisc")
            return std::string("tc runs qdisc commands only (tc qdisc add|replace|change|del "
                               "dev IF root ...)");
        return std::nullopt;
    }
    if (program == "ip") {
        if (object == "route" || object == "r" || object == "tcp_metrics" || object == "tcpmetrics")
            return std::nullopt;
        // ip link set [dev] IF mtu N / up / down: nothing that makes or moves a device.
        if (object == "link" && first + 1 < args.size() && args[first + 1] == "set")
            return std::nullopt;
        return std::string("ip runs route, tcp_metrics and link set commands only");
    }
    return fmt::format("command runs tc or ip, not '{}'", program);
}

std::optional<std::string> validate(const Request& q) {
    const std::string_view name = callName(q.call);
    const auto needNumbers = [&](std::size_t n) -> std::optional<std::string> {
        if (q.numbers.size() != n)
            return fmt::format("{} takes {} numbers, not {}", name, n, q.numbers.size());
        return std::nullopt;
    };
    const auto needFd = [&]() -> std::optional<std::string> {
        if (q.fd < 0)
            return fmt::format("{} needs the fd of a socket, not {}", name, q.fd);
        return std::nullopt;
    };
    if (q.text.size() > kMaxTextBytes)
        return fmt::format("{}'s text of {} bytes is over the limit of {}", name, q.text.size(),
                           kMaxTextBytes);
    if (q.data.size() > kMaxDataBytes)
        return fmt::format("{} carries {} bytes, over the limit of {} per call", name,
                           q.data.size(), kMaxDataBytes);
    if (q.numbers.size() > kMaxNumbers)
        return fmt::format("{} has {} numbers, over the limit of {}", name, q.numbers.size(),
                           kMaxNumbers);
    const auto port = [&]() -> std::optional<std::string> {
        if (q.numbers[0] < 0 || q.numbers[0] > 65535)
            return fmt::format("{} needs a port from 0 to 65535, not {}", name, q.numbers[0]);
        return std::nullopt;
    };
    switch (q.call) {
    case Call::Socket:
        return needNumbers(3);
    case Call::Bind:
    case Call::Connect:
        if (auto e = needFd())
            return e;
        if (auto e = needNumbers(1))
            return e;
        if (auto e = port())
            return e;
        // Bind's empty address is the wildcard; connect's would be 0.0.0.0, this host.
        if (q.call == Call::Connect && q.text.empty())
            return std::string("connect needs the address to connect to (the phantom's is "
                               "$phantom in a scenario), not the wildcard");
        return std::nullopt;
    case Call::Listen:
    case Call::Shutdown:
    case Call::Ioctl:
    case Call::Drain:
        if (auto e = needFd())
            return e;
        return needNumbers(1);
    case Call::Accept:
    case Call::Close:
        if (auto e = needFd())
            return e;
        return needNumbers(0);
    case Call::Read:
        if (auto e = needFd())
            return e;
        if (auto e = needNumbers(2))
            return e;
        if (q.numbers[0] < 0 || std::uint64_t(q.numbers[0]) > kMaxReadBytes)
            return fmt::format("read takes a count from 0 to {} bytes, not {}", kMaxReadBytes,
                               q.numbers[0]);
        return std::nullopt;
    case Call::Write:
        if (auto e = needFd())
            return e;
        if (auto e = needNumbers(2))
            return e;
        if (!q.data.empty() && q.numbers[0] != std::int64_t(q.data.size()))
            return fmt::format("write of given bytes: the count {} is not the {} bytes given",
                               q.numbers[0], q.data.size());
        if (q.numbers[0] < 0 || std::uint64_t(q.numbers[0]) > kMaxPatternWrite)
            return fmt::format("write takes a count from 0 to {} bytes, not {}", kMaxPatternWrite,
                               q.numbers[0]);
        return std::nullopt;
    case Call::Poll:
        if (q.numbers.empty() || q.numbers.size() % 2 != 1)
            return std::string("poll takes a timeout and then (fd, events) pairs");
        if (q.numbers.size() < 3)
            return std::string("poll needs at least one (fd, events) pair");
        return std::nullopt;
    case Call::Fcntl:
    case Call::SetSockOpt:
        if (auto e = needFd())
            return e;
        return needNumbers(2);
    case Call::GetSockOpt:
        if (auto e = needFd())
            return e;
        if (auto e = needNumbers(3))
            return e;
        if (q.numbers[2] < 0 || std::uint64_t(q.numbers[2]) > kMaxDataBytes)
            return fmt::format("getsockopt takes a length from 0 to {}, not {}", kMaxDataBytes,
                               q.numbers[2]);
        return std::nullopt;
    case Call::Sysctl:
        if (q.text.empty())
            return std::string("sysctl needs a key (net.ipv4.tcp_sack)");
        return needNumbers(0);
    case Call::SysctlList:
    case Call::Sample:
        return needNumbers(0);
    case Call::EpollCreate:
        if (auto e = needNumbers(1))
            return e;
        if (q.numbers[0] <= 0 || q.numbers[0] > 0x7fffffff)
            return fmt::format("epoll_create takes a size from 1 to {}, not {}", 0x7fffffff,
                               q.numbers[0]);
        return std::nullopt;
    case Call::EpollCtl:
        if (auto e = needFd())
            return e;
        return needNumbers(4);
    case Call::EpollWait:
        if (auto e = needFd())
            return e;
        if (auto e = needNumbers(2))
            return e;
        if (q.numbers[0] < 1 || q.numbers[0] > kMaxEpollEvents)
            return fmt::format("epoll_wait takes maxevents from 1 to {}, not {}", kMaxEpollEvents,
                               q.numbers[0]);
        return std::nullopt;
    case Call::Command:
        if (!q.data.empty() && q.data.back() != 0)
            return std::string("a command's arguments each end with a NUL byte");
        if (auto e = commandRefusal(q.text, commandArguments(q)))
            return e;
        return needNumbers(0);
    }
    return fmt::format("unknown call {}", static_cast<int>(q.call));
}

} // namespace tcplab::peer
