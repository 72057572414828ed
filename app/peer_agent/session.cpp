#include "session.h"

#include "sysctl.h"

#include "peer/pattern.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <limits>
#include <optional>
#include <thread>
#include <utility>

#include <fmt/format.h>

namespace tcplab::agent {

namespace {

using peer::Answer;
using peer::Call;
using peer::Outcome;
using peer::Request;

constexpr int kMaxBlockingCalls = 32;
constexpr std::int64_t kSampleIntervalNs = 10'000'000; // 10 ms
/// The steady sampling looks at the whole namespace (a dump) at most this often.
constexpr std::int64_t kFullLookIntervalNs = 100'000'000; // 100 ms
/// Requests read from the channel in one go before the rest of the loop gets its turn.
constexpr int kRequestsPerRound = 16;
/// Bytes a drained socket gives up per round of the loop (then the others get theirs).
constexpr int kDrainReadsPerRound = 16;
/// A write of pattern bytes goes to the kernel this much at a time (a multiple of the
/// pattern's 64 bytes, so any offset into the pattern fits the buffer).
constexpr std::size_t kWriteChunk = 256 * 1024;
static_assert(kWriteChunk % peer::kPattern.size() == 0);

// Linux's numbers (the protocol's): fcntl commands, the ioctls a socket answers with a count.
constexpr std::int64_t kGetFl = 3;
constexpr std::int64_t kSetFl = 4;
constexpr std::array<std::int64_t, 4> kCountIoctls = {SIOCINQ, SIOCOUTQ, SIOCOUTQNSD, SIOCATMARK};

/// The pattern, long enough that kWriteChunk bytes start at any offset of it.
const std::uint8_t* patternBuffer() {
    static const auto buffer = [] {
        auto b = std::make_unique<std::uint8_t[]>(kWriteChunk + peer::kPattern.size());
        peer::fillPattern(b.get(), kWriteChunk + peer::kPattern.size(), 0);
        return b;
    }();
    return buffer.get();
}

/// When a call began, on both clocks: when the agent took it up (a blocking call's thread
/// may get going a little later; its duration counts from here).
struct CallClock {
    std::int64_t startNs = realtimeNs();
    std::int64_t startMono = monotonicNs();
    void stamp(Answer& a) const {
        a.startNs = startNs;
        a.durationNs = monotonicNs() - startMono;
    }
};

Answer answerTo(const Request& q) {
    Answer a;
    a.id = q.id;
    a.call = q.call;
    return a;
}

/// The system call's own result: -1 and its errno, or what it returned.
void setResult(Answer& a, std::int64_t result, int error) {
    a.result = result;
    a.error = result < 0 ? error : 0;
}

std::optional<int> asInt(std::int64_t v) {
    if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max())
        return std::nullopt;
    return static_cast<int>(v);
}

bool isBlocking(int fd) {
    const int flags = ::fcntl(fd, F_GETFL);
    return flags >= 0 && (flags & O_NONBLOCK) == 0;
}

int socketFamily(int fd) {
    int family = AF_INET6;
    socklen_t length = sizeof family;
    ::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &length);
    return family;
}

/// "198.18.0.2:50000" or "[2001:db8::2]:50000" (an IPv4-mapped address as IPv4).
std::string endpointText(const sockaddr_storage& s) {
    std::array<char, INET6_ADDRSTRLEN> text{};
    if (s.ss_family == AF_INET) {
        sockaddr_in in{};
        std::memcpy(&in, &s, sizeof in);
        ::inet_ntop(AF_INET, &in.sin_addr, text.data(), text.size());
        return fmt::format("{}:{}", text.data(), ntohs(in.sin_port));
    }
    if (s.ss_family == AF_INET6) {
        sockaddr_in6 in6{};
        std::memcpy(&in6, &s, sizeof in6);
        if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {
            ::inet_ntop(AF_INET, in6.sin6_addr.s6_addr + 12, text.data(), text.size());
            return fmt::format("{}:{}", text.data(), ntohs(in6.sin6_port));
        }
        ::inet_ntop(AF_INET6, &in6.sin6_addr, text.data(), text.size());
        return fmt::format("[{}]:{}", text.data(), ntohs(in6.sin6_port));
    }
    return {};
}

/// The sockaddr for `text` ("" = any, "198.18.0.1", "2001:db8::1", "[2001:db8::1]") and
/// `port`, for a socket of `family`: an IPv4 address for an IPv6 socket becomes
/// ::ffff:a.b.c.d, as a dual-stack program writes it. An address of the other family
/// otherwise goes to the kernel as it is, which answers for it. nullopt: not an address.
std::optional<std::pair<sockaddr_storage, socklen_t>> makeAddress(int family, std::string text,
                                                                  int port) {
    if (text.size() >= 2 && text.front() == '[' && text.back() == ']')
        text = text.substr(1, text.size() - 2);
    sockaddr_storage s{};
    in_addr v4{};
    in6_addr v6{};
    const bool isV4 =
        text.empty() ? family == AF_INET : ::inet_pton(AF_INET, text.c_str(), &v4) == 1;
    const bool isV6 = !isV4 && (text.empty() || ::inet_pton(AF_INET6, text.c_str(), &v6) == 1);
    if (!isV4 && !isV6)
        return std::nullopt;
    if (isV4 && family != AF_INET6) {
        sockaddr_in in{};
        in.sin_family = AF_INET;
        in.sin_port = htons(static_cast<std::uint16_t>(port));
        in.sin_addr = v4;
        std::memcpy(&s, &in, sizeof in);
        return std::pair{s, socklen_t{sizeof in}};
    }
    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(static_cast<std::uint16_t>(port));
    if (isV4) {
        in6.sin6_addr.s6_addr[10] = 0xff;
        in6.sin6_addr.s6_addr[11] = 0xff;
        std::memcpy(in6.sin6_addr.s6_addr + 12, &v4, 4);
    } else {
        in6.sin6_addr = text.empty() ? in6addr_any : v6;
    }
    std::memcpy(&s, &in6, sizeof in6);
    return std::pair{s, socklen_t{sizeof in6}};
}

/// Options whose value holds a pointer into the caller's memory (or an fd of its), or that
/// rewrite the namespace's firewall: the agent does not pass them.
std::optional<std::string> forbiddenOption(bool set, int level, int name) {
    if (level == SOL_SOCKET &&
        (name == SO_ATTACH_FILTER || name == SO_ATTACH_BPF || name == SO_ATTACH_REUSEPORT_CBPF ||
         name == SO_ATTACH_REUSEPORT_EBPF))
        return fmt::format("the agent does not attach filters (option {} at SOL_SOCKET): its "
                           "value points into the agent's memory",
                           name);
    if (level == IPPROTO_TCP && name == TCP_ZEROCOPY_RECEIVE)
        return std::string("the agent does not pass TCP_ZEROCOPY_RECEIVE: its value points "
                           "into the agent's memory");
    if (set && ((level == IPPROTO_IP && name >= 64) ||
                (level == IPPROTO_IPV6 && (name == 64 || name == 65))))
        return fmt::format("the agent does not pass option {} at level {}: it is a netfilter "
                           "table control, not a socket option",
                           name, level);
    return std::nullopt;
}

// --- The calls that may block, as their threads run them --------------------------

/// Whether a poll(2) of `fd` finds it readable now (a listening socket: a connection waits).
bool readable(int fd) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

/// The bytes a read of `fd` finds (SIOCINQ), 0 when it cannot say.
std::size_t bytesToRead(int fd) {
    int n = 0;
    return ::ioctl(fd, SIOCINQ, &n) == 0 && n > 0 ? static_cast<std::size_t>(n) : 0;
}

Session::Completion doAccept(int fd, CallClock clock) {
    Session::Completion c;
    sockaddr_storage remote{};
    socklen_t length = sizeof remote;
    const int r = ::accept4(fd, reinterpret_cast<sockaddr*>(&remote), &length, 0);
    const int error = errno;
    clock.stamp(c.answer);
    setResult(c.answer, r, error);
    if (r >= 0) {
        c.newFd = r;
        c.answer.text = endpointText(remote);
    }
    return c;
}

Session::Completion doConnect(int fd, const sockaddr_storage& address, socklen_t length,
                              CallClock clock) {
    Session::Completion c;
    const int r = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), length);
    const int error = errno;
    clock.stamp(c.answer);
    setResult(c.answer, r, error);
    return c;
}

Session::Completion doRead(int fd, std::size_t count, int flags, CallClock clock) {
    Session::Completion c;
    // Uninitialised: only what the kernel writes is touched, up to 64 MiB.
    std::unique_ptr<std::uint8_t[]> buffer(new std::uint8_t[std::max<std::size_t>(count, 1)]);
    const ssize_t r = ::recv(fd, buffer.get(), count, flags);
    const int error = errno;
    clock.stamp(c.answer);
    setResult(c.answer, r, error);
    if (r > 0)
        c.answer.data.assign(
            buffer.get(),
            buffer.get() + std::min<std::size_t>(static_cast<std::size_t>(r), peer::kMaxDataBytes));
    return c;
}

/// write(2) of `count` bytes (the given ones, or the pattern from where the socket's
/// stream is): a blocking socket returns when all are queued (or an error stops it); a
/// non-blocking one queues what it can and returns that (-1 EAGAIN when nothing).
Session::Completion doWrite(int fd, Session::SocketState& state, std::uint64_t count, int flags,
                            const std::vector<std::uint8_t>& data, CallClock clock,
                            std::uint64_t already = 0) {
    std::atomic<std::uint64_t>& written = state.written;
    Session::Completion c;
    const std::uint8_t* pattern = patternBuffer();
    std::uint64_t done = already;
    ssize_t last = 0;
    int error = 0;
    do {
        if (state.closed.load()) {
            last = -1;
            error = EBADF; // closed meanwhile: what the next write(2) would say
            break;
        }
        const std::uint8_t* from = nullptr;
        std::size_t size = 0;
        if (!data.empty()) {
            from = data.data() + done;
            size = static_cast<std::size_t>(count - done);
        } else {
            from = pattern + written.load() % peer::kPattern.size();
            size = static_cast<std::size_t>(std::min<std::uint64_t>(count - done, kWriteChunk));
        }
        last = ::send(fd, from, size, flags | MSG_NOSIGNAL);
        error = errno;
        if (last > 0) {
            done += static_cast<std::uint64_t>(last);
            written += static_cast<std::uint64_t>(last);
            continue;
        }
        if (last < 0 && error == EINTR)
            continue;
        break; // EAGAIN (non-blocking, or a send timeout), an error, or 0
    } while (done < count);
    clock.stamp(c.answer);
    c.wouldBlock = last < 0 && error == EAGAIN;
    if (done > 0)
        setResult(c.answer, static_cast<std::int64_t>(done), 0);
    else
        setResult(c.answer, last < 0 ? -1 : 0, error);
    return c;
}

Session::Completion doPoll(std::vector<pollfd> fds, int timeout, CallClock clock) {
    Session::Completion c;
    const int r = ::poll(fds.data(), fds.size(), timeout);
    const int error = errno;
    clock.stamp(c.answer);
    setResult(c.answer, r, error);
    for (const auto& p : fds)
        c.answer.numbers.push_back(r > 0 ? p.revents : 0);
    c.sampleAfter = false;
    return c;
}

Session::Completion doClose(int fd, CallClock clock) {
    Session::Completion c;
    const int r = ::close(fd);
    const int error = errno;
    clock.stamp(c.answer);
    setResult(c.answer, r, error);
    return c;
}

Session::Completion doEpollWait(int epfd, int most, int timeout, CallClock clock) {
    Session::Completion c;
    std::array<epoll_event, peer::kMaxEpollEvents> events{};
    const int r = ::epoll_wait(epfd, events.data(), most, timeout);
    const int error = errno;
    clock.stamp(c.answer);
    setResult(c.answer, r, error);
    for (int i = 0; i < r; ++i) {
        c.answer.numbers.push_back(events[std::size_t(i)].events);
        c.answer.numbers.push_back(static_cast<std::int64_t>(events[std::size_t(i)].data.u64));
    }
    c.sampleAfter = false;
    return c;
}

/// The program's own file: the system's places for tc and ip, no PATH search.
std::optional<std::string> programPath(const std::string& program) {
    for (const char* dir : {"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"}) {
        std::string path = dir + program;
        if (::access(path.c_str(), X_OK) == 0)
            return path;
    }
    return std::nullopt;
}

/// Runs `program args` with stdin from /dev/null and stdout and stderr into one pipe,
/// killed after kCommandSeconds; the answer's result is its exit status.
Session::Completion doCommand(std::string program, std::vector<std::string> args, CallClock clock) {
    Session::Completion c;
    c.sampleAfter = false;
    const auto path = programPath(program);
    if (!path) {
        clock.stamp(c.answer);
        c.answer.outcome = Outcome::Refused;
        c.answer.result = -1;
        c.answer.text = fmt::format("{} is not installed in /usr/sbin, /sbin, /usr/bin or /bin "
                                    "(Debian: apt-get install iproute2)",
                                    program);
        return c;
    }
    int pipeFds[2];
    if (::pipe2(pipeFds, O_CLOEXEC) != 0) {
        const int error = errno;
        clock.stamp(c.answer);
        setResult(c.answer, -1, error);
        return c;
    }
    // Above the floor, so that a socket() meanwhile gets the number a script expects.
    Fd readEnd(::fcntl(pipeFds[0], F_DUPFD_CLOEXEC, kInternalFdFloor));
    Fd writeEnd(::fcntl(pipeFds[1], F_DUPFD_CLOEXEC, kInternalFdFloor));
    ::close(pipeFds[0]);
    ::close(pipeFds[1]);
    if (readEnd.get() < 0 || writeEnd.get() < 0) {
        const int error = errno;
        clock.stamp(c.answer);
        setResult(c.answer, -1, error);
        return c;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, writeEnd.get(), 1);
    posix_spawn_file_actions_adddup2(&actions, writeEnd.get(), 2);
    std::vector<std::string> argvText{program};
    argvText.insert(argvText.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argvText)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string pathVar = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
    std::string langVar = "LC_ALL=C";
    char* envp[] = {pathVar.data(), langVar.data(), nullptr};
    pid_t pid = -1;
    const int spawned = ::posix_spawn(&pid, path->c_str(), &actions, nullptr, argv.data(), envp);
    posix_spawn_file_actions_destroy(&actions);
    writeEnd = Fd();
    if (spawned != 0) {
        clock.stamp(c.answer);
        setResult(c.answer, -1, spawned);
        return c;
    }
    std::string output;
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(peer::kCommandSeconds);
    bool killed = false;
    while (true) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            ::kill(pid, SIGKILL);
            killed = true;
            break;
        }
        pollfd p{readEnd.get(), POLLIN, 0};
        const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0)
            continue;
        char buffer[1024];
        const ssize_t n = ::read(readEnd.get(), buffer, sizeof buffer);
        if (n <= 0)
            break; // the program closed its output: it is ending
        if (output.size() < peer::kMaxTextBytes)
            output.append(
                buffer, std::min<std::size_t>(std::size_t(n), peer::kMaxTextBytes - output.size()));
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    clock.stamp(c.answer);
    while (!output.empty() && (output.back() == '\n' || output.back() == ' '))
        output.pop_back();
    if (killed) {
        c.answer.result = 128 + SIGKILL;
        c.answer.text = fmt::format("killed after {} s", peer::kCommandSeconds);
    } else if (WIFEXITED(status)) {
        c.answer.result = WEXITSTATUS(status);
        c.answer.text = std::move(output);
    } else {
        c.answer.result = 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        c.answer.text = std::move(output);
    }
    return c;
}

} // namespace

Session::Session(int channel)
    : m_channel(channel)
    , m_receive(peer::kMaxMessageBytes + 1)
    , m_sink(64 * 1024) {
    const int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake >= 0)
        m_wake = Fd(moveHigh(wake));
    patternBuffer();
}

bool Session::sendMessage(const peer::Message& message) {
    if (m_broken || m_closed)
        return false;
    const auto bytes = peer::encode(message);
    for (;;) {
        const ssize_t n = ::send(m_channel.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n == static_cast<ssize_t>(bytes.size()))
            return true;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
            m_closed = true; // tcplab closed its end: the session is over
            return false;
        }
        logLine(fmt::format("cannot send to tcplab ({}): the session ends",
                            n < 0 ? errnoText(errno) : "cut short"));
        m_broken = true;
        return false;
    }
}

void Session::sendSamples(std::uint32_t after, std::vector<peer::SocketSample> sockets,
                          bool always) {
    if (sockets.empty() && !always)
        return;
    // kMaxSampleSockets per message, and well within kMaxMessageBytes (a socket with every
    // field takes about 700 bytes).
    constexpr std::size_t kBudget = peer::kMaxMessageBytes - 4096;
    peer::Sample message;
    message.timeNs = realtimeNs();
    message.after = after;
    std::size_t bytes = 0;
    for (auto& s : sockets) {
        const std::size_t size =
            80 + s.local.size() + s.remote.size() + s.congestion.size() + 9 * s.fields.size();
        if (message.sockets.size() == peer::kMaxSampleSockets || bytes + size > kBudget) {
            sendMessage(message);
            message.sockets.clear();
            bytes = 0;
        }
        bytes += size;
        message.sockets.push_back(std::move(s));
    }
    if (!message.sockets.empty() || always)
        sendMessage(message);
}

void Session::sample(std::uint32_t after, bool full) {
    std::vector<Sampler::OwnSocket> own;
    own.reserve(m_owned.size());
    for (const auto& [fd, o] : m_owned)
        own.push_back({fd, o.connectTarget});
    if (full)
        m_lastFullNs = monotonicNs();
    sendSamples(after, m_sampler.take(own, false, full), false);
}

void Session::answer(Answer a, bool sampleAfter) {
    const bool full = a.call == Call::Close; // what became of the socket: only a dump says
    sendMessage(a);
    if (sampleAfter)
        sample(a.id, full);
}

void Session::refuse(const Request& q, std::string why) {
    Answer a = answerTo(q);
    a.outcome = Outcome::Refused;
    a.result = -1;
    a.startNs = realtimeNs();
    a.text = std::move(why);
    sendMessage(a);
}

Session::Owned* Session::owned(const Request& q, int fd) {
    const auto it = m_owned.find(fd);
    if (it != m_owned.end())
        return &it->second;
    refuse(q, fmt::format("fd {} is not the agent's: it makes calls only on the sockets that "
                          "socket or accept made in this session",
                          fd));
    return nullptr;
}

void Session::own(int fd) {
    Owned o;
    o.state = std::make_shared<SocketState>();
    m_owned[fd] = std::move(o);
}

template <typename Work>
void Session::runBlocking(const Request& q, Work&& work) {
    if (m_inFlight >= kMaxBlockingCalls) {
        refuse(q, fmt::format("{} blocking calls are running, the most the agent runs at once: "
                              "this one was not made; make it again once one of them returned",
                              kMaxBlockingCalls));
        return;
    }
    try {
        std::thread([this, id = q.id, call = q.call, work = std::forward<Work>(work)]() mutable {
            Completion c;
            try {
                c = work();
            } catch (...) {
                c = Completion{};
                c.answer.outcome = Outcome::Refused;
                c.answer.result = -1;
                c.answer.text = "the agent ran out of memory for this call";
            }
            c.answer.id = id;
            c.answer.call = call;
            post(std::move(c));
        }).detach();
        ++m_inFlight;
    } catch (const std::system_error& e) {
        refuse(q, fmt::format("the agent cannot start a thread for this blocking call ({})",
                              e.what()));
    }
}

void Session::post(Completion c) {
    {
        const std::lock_guard lock(m_mutex);
        m_completions.push_back(std::move(c));
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(m_wake.get(), &one, sizeof one);
}

void Session::finishCompletions() {
    std::uint64_t count = 0;
    [[maybe_unused]] const ssize_t n = ::read(m_wake.get(), &count, sizeof count);
    std::vector<Completion> done;
    {
        const std::lock_guard lock(m_mutex);
        done.swap(m_completions);
    }
    for (auto& c : done) {
        --m_inFlight;
        if (c.newFd >= 0)
            own(c.newFd);
        answer(std::move(c.answer), c.sampleAfter);
    }
}

// --- The calls ------------------------------------------------------------------

void Session::callSocket(const Request& q) {
    const std::int64_t family = q.numbers[0];
    const std::int64_t type = q.numbers[1];
    const std::int64_t protocol = q.numbers[2];
    if (family != AF_INET && family != AF_INET6)
        return refuse(q, fmt::format("the agent makes TCP sockets only: family AF_INET (2) or "
                                     "AF_INET6 (10), not {}",
                                     family));
    if ((type & ~std::int64_t{SOCK_NONBLOCK | SOCK_CLOEXEC}) != SOCK_STREAM)
        return refuse(q, fmt::format("the agent makes TCP sockets only: type SOCK_STREAM (1), "
                                     "with SOCK_NONBLOCK (04000) or not, not {}",
                                     type));
    if (protocol != 0 && protocol != IPPROTO_TCP)
        return refuse(q, fmt::format("the agent makes TCP sockets only: protocol 0 or "
                                     "IPPROTO_TCP (6), not {}",
                                     protocol));
    Answer a = answerTo(q);
    CallClock clock;
    const int r =
        ::socket(static_cast<int>(family), static_cast<int>(type), static_cast<int>(protocol));
    const int error = errno;
    clock.stamp(a);
    setResult(a, r, error);
    if (r >= 0)
        own(r);
    answer(std::move(a), true);
}

void Session::callBind(const Request& q) {
    if (!owned(q, q.fd))
        return;
    const auto address = makeAddress(socketFamily(q.fd), q.text, static_cast<int>(q.numbers[0]));
    if (!address)
        return refuse(q, fmt::format("'{}' is not an IPv4 or IPv6 address", q.text));
    Answer a = answerTo(q);
    CallClock clock;
    const int r = ::bind(q.fd, reinterpret_cast<const sockaddr*>(&address->first), address->second);
    const int error = errno;
    clock.stamp(a);
    setResult(a, r, error);
    answer(std::move(a), true);
}

void Session::callConnect(const Request& q) {
    Owned* o = owned(q, q.fd);
    if (!o)
        return;
    const auto address = makeAddress(socketFamily(q.fd), q.text, static_cast<int>(q.numbers[0]));
    if (!address)
        return refuse(q, fmt::format("'{}' is not an IPv4 or IPv6 address", q.text));
    o->connectTarget = address->first;
    if (!isBlocking(q.fd)) {
        Completion c = doConnect(q.fd, address->first, address->second, CallClock{});
        c.answer.id = q.id;
        c.answer.call = q.call;
        return answer(std::move(c.answer), true);
    }
    Fd copy(::fcntl(q.fd, F_DUPFD_CLOEXEC, kInternalFdFloor));
    runBlocking(q, [copy = std::move(copy), address = *address, clock = CallClock{}]() {
        return doConnect(copy.get(), address.first, address.second, clock);
    });
}

void Session::callAccept(const Request& q) {
    if (!owned(q, q.fd))
        return;
    // A blocking accept with a connection waiting returns at once: made here, without the
    // thread's start (milliseconds on a busy machine, which packetdrill does not spend).
    if (!isBlocking(q.fd) || (m_inFlight == 0 && readable(q.fd))) {
        Completion c = doAccept(q.fd, CallClock{});
        c.answer.id = q.id;
        c.answer.call = q.call;
        if (c.newFd >= 0)
            own(c.newFd);
        return answer(std::move(c.answer), true);
    }
    Fd copy(::fcntl(q.fd, F_DUPFD_CLOEXEC, kInternalFdFloor));
    runBlocking(
        q, [copy = std::move(copy), clock = CallClock{}]() { return doAccept(copy.get(), clock); });
}

void Session::callRead(const Request& q) {
    if (!owned(q, q.fd))
        return;
    const auto flags = asInt(q.numbers[1]);
    if (!flags)
        return refuse(q, fmt::format("read's flags {} do not fit a C int", q.numbers[1]));
    const auto count = static_cast<std::size_t>(q.numbers[0]);
    // A blocking read of bytes already there returns them at once: made here (see accept).
    if ((*flags & MSG_DONTWAIT) != 0 || !isBlocking(q.fd) ||
        (m_inFlight == 0 && count > 0 && bytesToRead(q.fd) >= count)) {
        Completion c = doRead(q.fd, count, *flags, CallClock{});
        c.answer.id = q.id;
        c.answer.call = q.call;
        return answer(std::move(c.answer), true);
    }
    Fd copy(::fcntl(q.fd, F_DUPFD_CLOEXEC, kInternalFdFloor));
    runBlocking(q, [copy = std::move(copy), count, flags = *flags, clock = CallClock{}]() {
        return doRead(copy.get(), count, flags, clock);
    });
}

void Session::callWrite(const Request& q) {
    Owned* o = owned(q, q.fd);
    if (!o)
        return;
    const auto flags = asInt(q.numbers[1]);
    if (!flags)
        return refuse(q, fmt::format("write's flags {} do not fit a C int", q.numbers[1]));
    const auto count = static_cast<std::uint64_t>(q.numbers[0]);
    std::shared_ptr<SocketState> state = o->state;
    if ((*flags & MSG_DONTWAIT) != 0 || !isBlocking(q.fd)) {
        Completion c = doWrite(q.fd, *state, count, *flags, q.data, CallClock{});
        c.answer.id = q.id;
        c.answer.call = q.call;
        return answer(std::move(c.answer), true);
    }
    // A blocking write queues what fits without waiting here (see accept); only the rest,
    // if the send buffer fills, waits on a thread.
    const CallClock clock;
    std::uint64_t already = 0;
    if (m_inFlight == 0) {
        Completion c = doWrite(q.fd, *state, count, *flags | MSG_DONTWAIT, q.data, clock);
        if (!c.wouldBlock) {
            c.answer.id = q.id;
            c.answer.call = q.call;
            return answer(std::move(c.answer), true);
        }
        already = c.answer.result > 0 ? static_cast<std::uint64_t>(c.answer.result) : 0;
    }
    Fd copy(::fcntl(q.fd, F_DUPFD_CLOEXEC, kInternalFdFloor));
    runBlocking(
        q, [copy = std::move(copy), state, count, flags = *flags, data = q.data, clock, already]() {
            return doWrite(copy.get(), *state, count, flags, data, clock, already);
        });
}

void Session::callClose(const Request& q) {
    Owned* o = owned(q, q.fd);
    if (!o)
        return;
    linger l{};
    socklen_t length = sizeof l;
    const bool lingers = ::getsockopt(q.fd, SOL_SOCKET, SO_LINGER, &l, &length) == 0 &&
                         l.l_onoff != 0 && l.l_linger > 0;
    if (lingers && m_inFlight >= kMaxBlockingCalls)
        return runBlocking(q, [] { return Completion{}; }); // refused: the fd stays open
    o->state->closed = true;
    m_owned.erase(q.fd);
    CallClock clock;
    // close(2) with SO_LINGER > 0 waits until the data is acknowledged or the time is up.
    // The number is free at once, as after a close(2) in a single-threaded program (the
    // next socket() gets it, whenever the thread runs); the socket lingers in a copy, and
    // the thread's close of that last reference is the one that waits.
    const int copy = lingers ? ::fcntl(q.fd, F_DUPFD_CLOEXEC, kInternalFdFloor) : -1;
    if (copy < 0) {
        Completion c = doClose(q.fd, clock);
        c.answer.id = q.id;
        c.answer.call = q.call;
        return answer(std::move(c.answer), true);
    }
    ::close(q.fd);
    runBlocking(q, [copy = Fd(copy), clock]() mutable { return doClose(copy.release(), clock); });
}

void Session::callPoll(const Request& q) {
    const auto timeout = asInt(q.numbers[0]);
    if (!timeout)
        return refuse(q, fmt::format("poll's timeout {} ms does not fit a C int", q.numbers[0]));
    std::vector<pollfd> fds;
    for (std::size_t i = 1; i + 1 < q.numbers.size(); i += 2) {
        const auto fd = asInt(q.numbers[i]);
        const std::int64_t events = q.numbers[i + 1];
        if (!fd || events < 0 || events > 0xffff)
            return refuse(q, fmt::format("poll: fd {} with events {:#x} is not a pollfd",
                                         q.numbers[i], events));
        if (*fd >= 0 && !owned(q, *fd))
            return;
        fds.push_back({*fd, static_cast<short>(events), 0});
    }
    if (*timeout == 0) {
        Completion c = doPoll(std::move(fds), 0, CallClock{});
        c.answer.id = q.id;
        c.answer.call = q.call;
        return answer(std::move(c.answer), false);
    }
    // The thread polls copies of the fds: the same sockets, numbers of its own.
    std::vector<std::shared_ptr<Fd>> copies;
    for (auto& p : fds)
        if (p.fd >= 0) {
            auto copy = std::make_shared<Fd>(::fcntl(p.fd, F_DUPFD_CLOEXEC, kInternalFdFloor));
            p.fd = copy->get();
            copies.push_back(std::move(copy));
        }
    runBlocking(q, [copies = std::move(copies), fds = std::move(fds), timeout = *timeout,
                    clock = CallClock{}]() { return doPoll(fds, timeout, clock); });
}

void Session::callFcntl(const Request& q) {
    if (!owned(q, q.fd))
        return;
    const std::int64_t cmd = q.numbers[0];
    const auto arg = asInt(q.numbers[1]);
    if (cmd != kGetFl && cmd != kSetFl)
        return refuse(q, fmt::format("the agent makes fcntl F_GETFL (3) and F_SETFL (4) only, "
                                     "not command {}",
                                     cmd));
    if (!arg)
        return refuse(q, fmt::format("fcntl's argument {} does not fit a C int", q.numbers[1]));
    Answer a = answerTo(q);
    CallClock clock;
    const int r = cmd == kGetFl ? ::fcntl(q.fd, F_GETFL) : ::fcntl(q.fd, F_SETFL, *arg);
    const int error = errno;
    clock.stamp(a);
    setResult(a, r, error);
    answer(std::move(a), cmd == kSetFl);
}

void Session::callSockOpt(const Request& q) {
    if (!owned(q, q.fd))
        return;
    const bool set = q.call == Call::SetSockOpt;
    const auto level = asInt(q.numbers[0]);
    const auto name = asInt(q.numbers[1]);
    if (!level || !name)
        return refuse(q, fmt::format("{}: level {} and option {} must each fit a C int",
                                     peer::callName(q.call), q.numbers[0], q.numbers[1]));
    if (auto why = forbiddenOption(set, *level, *name))
        return refuse(q, std::move(*why));
    Answer a = answerTo(q);
    if (set) {
        CallClock clock;
        const int r = ::setsockopt(q.fd, *level, *name, q.data.empty() ? nullptr : q.data.data(),
                                   static_cast<socklen_t>(q.data.size()));
        const int error = errno;
        clock.stamp(a);
        setResult(a, r, error);
        return answer(std::move(a), true);
    }
    std::vector<std::uint8_t> value(static_cast<std::size_t>(q.numbers[2]) + 1, 0);
    socklen_t length = static_cast<socklen_t>(q.numbers[2]);
    CallClock clock;
    const int r = ::getsockopt(q.fd, *level, *name, value.data(), &length);
    const int error = errno;
    clock.stamp(a);
    setResult(a, r, error);
    if (r == 0)
        a.data.assign(value.begin(),
                      value.begin() + std::min<std::size_t>(length, value.size() - 1));
    answer(std::move(a), false);
}

void Session::callIoctl(const Request& q) {
    if (!owned(q, q.fd))
        return;
    const std::int64_t request = q.numbers[0];
    if (std::find(kCountIoctls.begin(), kCountIoctls.end(), request) == kCountIoctls.end())
        return refuse(q, fmt::format("the agent makes the ioctls SIOCINQ (0x541B), SIOCOUTQ "
                                     "(0x5411), SIOCOUTQNSD (0x894B) and SIOCATMARK (0x8905) "
                                     "only, not {:#x}",
                                     request));
    Answer a = answerTo(q);
    int value = 0;
    CallClock clock;
    const int r = ::ioctl(q.fd, static_cast<unsigned long>(request), &value);
    const int error = errno;
    clock.stamp(a);
    setResult(a, r < 0 ? r : value, error);
    answer(std::move(a), false);
}

void Session::callSysctl(const Request& q) {
    CallClock clock;
    const SysctlAnswer s =
        q.call == Call::SysctlList
            ? sysctlList(q.text)
            : sysctl(q.text, q.data.empty() ? std::nullopt
                                            : std::optional<std::string>(
                                                  std::string(q.data.begin(), q.data.end())));
    if (s.refused)
        return refuse(q, s.text);
    Answer a = answerTo(q);
    clock.stamp(a);
    setResult(a, s.result, s.error);
    a.text = s.text;
    a.data.assign(s.data.begin(),
                  s.data.begin() + static_cast<std::ptrdiff_t>(
                                       std::min<std::size_t>(s.data.size(), peer::kMaxDataBytes)));
    answer(std::move(a), false);
}

void Session::callSample(const Request& q) {
    CallClock clock;
    std::vector<Sampler::OwnSocket> own;
    for (const auto& [fd, o] : m_owned)
        own.push_back({fd, o.connectTarget});
    m_lastFullNs = monotonicNs();
    auto sockets = m_sampler.take(own, true, true);
    Answer a = answerTo(q);
    clock.stamp(a);
    a.result = std::count_if(sockets.begin(), sockets.end(),
                             [](const peer::SocketSample& s) { return !s.gone; });
    sendMessage(a);
    sendSamples(q.id, std::move(sockets), true);
}

void Session::callDrain(const Request& q) {
    Owned* o = owned(q, q.fd);
    if (!o)
        return;
    Answer a = answerTo(q);
    CallClock clock;
    o->drain = q.numbers[0] != 0;
    clock.stamp(a);
    answer(std::move(a), false);
}

void Session::callSimple(const Request& q) {
    if (!owned(q, q.fd))
        return;
    const auto n = asInt(q.numbers[0]);
    if (!n)
        return refuse(q, fmt::format("{}'s argument {} does not fit a C int",
                                     peer::callName(q.call), q.numbers[0]));
    Answer a = answerTo(q);
    CallClock clock;
    const int r = q.call == Call::Listen ? ::listen(q.fd, *n) : ::shutdown(q.fd, *n);
    const int error = errno;
    clock.stamp(a);
    setResult(a, r, error);
    answer(std::move(a), true);
}

void Session::callEpollCreate(const Request& q) {
    Answer a = answerTo(q);
    CallClock clock;
    const int r = ::epoll_create(static_cast<int>(q.numbers[0]));
    const int error = errno;
    clock.stamp(a);
    if (r >= 0) {
        ::fcntl(r, F_SETFD, FD_CLOEXEC);
        own(r);
    }
    setResult(a, r, error);
    answer(std::move(a), false);
}

void Session::callEpollCtl(const Request& q) {
    if (!owned(q, q.fd))
        return;
    const auto op = asInt(q.numbers[0]);
    const auto fd = asInt(q.numbers[1]);
    if (!op || !fd || q.numbers[2] < 0 || q.numbers[2] > 0xffffffffll)
        return refuse(q, fmt::format("epoll_ctl: op {}, fd {} and events {:#x} must each fit "
                                     "epoll_ctl's types",
                                     q.numbers[0], q.numbers[1], q.numbers[2]));
    if (!owned(q, *fd))
        return;
    epoll_event event{};
    event.events = static_cast<std::uint32_t>(q.numbers[2]);
    event.data.u64 = static_cast<std::uint64_t>(q.numbers[3]);
    Answer a = answerTo(q);
    CallClock clock;
    const int r = ::epoll_ctl(q.fd, *op, *fd, &event);
    const int error = errno;
    clock.stamp(a);
    setResult(a, r, error);
    answer(std::move(a), false);
}

void Session::callEpollWait(const Request& q) {
    if (!owned(q, q.fd))
        return;
    const auto timeout = asInt(q.numbers[1]);
    if (!timeout)
        return refuse(q,
                      fmt::format("epoll_wait's timeout {} ms does not fit a C int", q.numbers[1]));
    const int most = static_cast<int>(q.numbers[0]);
    if (*timeout == 0) {
        Completion c = doEpollWait(q.fd, most, 0, CallClock{});
        c.answer.id = q.id;
        c.answer.call = q.call;
        return answer(std::move(c.answer), false);
    }
    // A copy of the epoll fd: the same epoll instance, a number of the thread's own.
    auto copy = std::make_shared<Fd>(::fcntl(q.fd, F_DUPFD_CLOEXEC, kInternalFdFloor));
    runBlocking(q, [copy, most, timeout = *timeout, clock = CallClock{}]() {
        return doEpollWait(copy->get(), most, timeout, clock);
    });
}

void Session::callCommand(const Request& q) {
    runBlocking(q, [program = q.text, args = peer::commandArguments(q), clock = CallClock{}]() {
        return doCommand(program, args, clock);
    });
}

void Session::handle(const Request& q) {
    if (auto why = peer::validate(q))
        return refuse(q, std::move(*why));
    switch (q.call) {
    case Call::Socket:
        return callSocket(q);
    case Call::Bind:
        return callBind(q);
    case Call::Listen:
    case Call::Shutdown:
        return callSimple(q);
    case Call::Accept:
        return callAccept(q);
    case Call::Connect:
        return callConnect(q);
    case Call::Read:
        return callRead(q);
    case Call::Write:
        return callWrite(q);
    case Call::Close:
        return callClose(q);
    case Call::Poll:
        return callPoll(q);
    case Call::Fcntl:
        return callFcntl(q);
    case Call::SetSockOpt:
    case Call::GetSockOpt:
        return callSockOpt(q);
    case Call::Ioctl:
        return callIoctl(q);
    case Call::Sysctl:
    case Call::SysctlList:
        return callSysctl(q);
    case Call::Drain:
        return callDrain(q);
    case Call::Sample:
        return callSample(q);
    case Call::EpollCreate:
        return callEpollCreate(q);
    case Call::EpollCtl:
        return callEpollCtl(q);
    case Call::EpollWait:
        return callEpollWait(q);
    case Call::Command:
        return callCommand(q);
    }
    refuse(q, fmt::format("the agent does not know call {}", static_cast<int>(q.call)));
}

// --- The loop -----------------------------------------------------------------------

bool Session::receiveRequests() {
    for (int i = 0; i < kRequestsPerRound && !m_broken && !m_closed; ++i) {
        const ssize_t n =
            ::recv(m_channel.get(), m_receive.data(), m_receive.size(), MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (n < 0 && errno == ECONNRESET)
            return false; // tcplab closed its end with messages unread: over, as at EOF
        if (n < 0) {
            logLine(fmt::format("the channel broke ({}): the session ends", errnoText(errno)));
            m_broken = true;
            return false;
        }
        if (n == 0)
            return false; // tcplab closed its end: the session is over
        if (static_cast<std::size_t>(n) > peer::kMaxMessageBytes) {
            logLine(fmt::format("tcplab sent a message of {} bytes, over the limit of {}: the "
                                "session ends",
                                n, peer::kMaxMessageBytes));
            m_broken = true;
            return false;
        }
        auto message = peer::decode({m_receive.data(), static_cast<std::size_t>(n)});
        if (!message) {
            logLine(fmt::format("a message that does not decode ({}): the session ends",
                                message.error().message));
            m_broken = true;
            return false;
        }
        const auto* request = std::get_if<Request>(&*message);
        if (!request) {
            logLine("tcplab sent something other than a request: the session ends");
            m_broken = true;
            return false;
        }
        handle(*request);
    }
    return !m_broken && !m_closed;
}

void Session::drainSockets(const std::vector<int>& ready) {
    for (const int fd : ready) {
        const auto it = m_owned.find(fd);
        if (it == m_owned.end())
            continue;
        for (int i = 0; i < kDrainReadsPerRound; ++i) {
            const ssize_t n = ::recv(fd, m_sink.data(), m_sink.size(), MSG_DONTWAIT);
            if (n > 0)
                continue;
            if (n < 0 && errno == EINTR)
                continue;
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
                it->second.drain = false; // the peer's FIN (or an error): nothing more comes
            break;
        }
    }
}

int Session::run() {
    utsname u{};
    ::uname(&u);
    peer::Hello hello;
    hello.stack = "linux";
    hello.release = u.release;
    hello.pid = ::getpid();
    if (!sendMessage(hello))
        return 1;
    for (;;) {
        // The steady rate runs while a connection lives or a call blocks.
        const bool steady = m_sampler.live() || m_inFlight > 0;
        if (steady && !m_steady)
            m_nextSampleNs = monotonicNs() + kSampleIntervalNs;
        m_steady = steady;

        std::vector<pollfd> fds{{m_channel.get(), POLLIN, 0}, {m_wake.get(), POLLIN, 0}};
        for (const auto& [fd, o] : m_owned)
            if (o.drain)
                fds.push_back({fd, POLLIN | POLLRDHUP, 0});
        timespec timeout{};
        if (m_steady) {
            const std::int64_t left = std::max<std::int64_t>(0, m_nextSampleNs - monotonicNs());
            timeout = {static_cast<time_t>(left / 1'000'000'000),
                       static_cast<long>(left % 1'000'000'000)};
        }
        const int ready = ::ppoll(fds.data(), fds.size(), m_steady ? &timeout : nullptr, nullptr);
        if (ready < 0 && errno != EINTR) {
            logLine(fmt::format("poll failed ({}): the session ends", errnoText(errno)));
            return 1;
        }
        if (ready > 0) {
            if (fds[1].revents != 0)
                finishCompletions();
            if (fds[0].revents != 0 && !receiveRequests())
                return m_broken ? 1 : 0;
            std::vector<int> drained;
            for (std::size_t i = 2; i < fds.size(); ++i)
                if (fds[i].revents != 0)
                    drained.push_back(fds[i].fd);
            drainSockets(drained);
        }
        if (m_broken)
            return 1;
        if (m_closed)
            return 0;
        if (m_steady && monotonicNs() >= m_nextSampleNs) {
            sample(0, monotonicNs() - m_lastFullNs >= kFullLookIntervalNs);
            m_nextSampleNs += kSampleIntervalNs;
            if (m_nextSampleNs < monotonicNs())
                m_nextSampleNs = monotonicNs() + kSampleIntervalNs;
        }
    }
}

} // namespace tcplab::agent
