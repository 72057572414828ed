#include "peer/agent_client.h"

#include "peer/call_text.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

namespace tcplab::peer {

namespace {

std::int64_t realtimeNs() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

std::int64_t monotonicMs() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

} // namespace

AgentClient::AgentClient(int fd, std::string description)
    : m_fd(fd)
    , m_description(std::move(description))
    , m_buffer(kMaxMessageBytes + 1) {}

AgentClient::~AgentClient() {
    if (m_fd >= 0)
        ::close(m_fd);
}

tl::expected<std::unique_ptr<AgentClient>, std::string>
AgentClient::adopt(int fd, std::string description) {
    if (fd < 0)
        return tl::make_unexpected(fmt::format("{}: no socket was given", description));
    int type = 0;
    socklen_t length = sizeof type;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0 || type != SOCK_SEQPACKET) {
        ::close(fd);
        return tl::make_unexpected(
            fmt::format("{}: the agent's channel must be a SOCK_SEQPACKET socket", description));
    }
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        const int error = errno;
        ::close(fd);
        return tl::make_unexpected(
            fmt::format("{}: cannot use its channel: {}", description, std::strerror(error)));
    }
    return std::unique_ptr<AgentClient>(new AgentClient(fd, std::move(description)));
}

std::string AgentClient::namespaceLabSocket() {
    if (const char* env = std::getenv("TCPLAB_AGENT_SOCKET"); env && *env)
        return env;
    return "/run/tcplab-lab/agent.sock";
}

tl::expected<std::unique_ptr<AgentClient>, std::string>
AgentClient::connectUnix(const std::string& path) {
    const std::string who = fmt::format("the peer agent at {}", path);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof address.sun_path)
        return tl::make_unexpected(fmt::format("{}: not a usable socket path", who));
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return tl::make_unexpected(fmt::format("{}: socket: {}", who, std::strerror(errno)));
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        const int error = errno;
        ::close(fd);
        const char* cure = error == ENOENT || error == ECONNREFUSED
                               ? "; the namespace lab starts its agent: sudo scripts/tcplab-lab up"
                           : error == EACCES ? "; the socket belongs to root and the tcplab group"
                                             : "";
        return tl::make_unexpected(
            fmt::format("cannot reach {}: {}{}", who, std::strerror(error), cure));
    }
    return adopt(fd, fmt::format("the namespace lab's peer agent ({})", path));
}

void AgentClient::fail(std::string why) {
    if (!m_failure)
        m_failure = std::move(why);
}

void AgentClient::refusePending(const std::function<void(AgentEvent)>& sink) {
    auto pending = std::move(m_pending);
    m_pending.clear();
    for (auto& [id, request] : pending) {
        Answer a;
        a.id = id;
        a.call = request.call;
        a.outcome = Outcome::Refused;
        a.result = -1;
        a.startNs = realtimeNs();
        a.text = *m_failure;
        if (sink)
            sink(CallRecord{std::move(request), std::move(a)});
    }
}

tl::expected<std::uint32_t, std::string> AgentClient::send(Request request) {
    if (m_failure)
        return tl::make_unexpected(*m_failure);
    if (auto invalid = validate(request))
        return tl::make_unexpected(*invalid);
    if (request.id == 0) {
        while (m_nextId == 0 || m_pending.count(m_nextId))
            ++m_nextId;
        request.id = m_nextId++;
    } else if (m_pending.count(request.id)) {
        return tl::make_unexpected(
            fmt::format("request {} is still waiting for its answer", request.id));
    }
    const auto bytes = encode(request);
    for (int attempt = 0; attempt < 8; ++attempt) {
        const ssize_t n = ::send(m_fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n == static_cast<ssize_t>(bytes.size())) {
            const std::uint32_t id = request.id;
            m_pending.emplace(id, std::move(request));
            return id;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return tl::make_unexpected(fmt::format(
                "{} is not taking requests ({} wait for answers); try again when it has answered",
                m_description, m_pending.size()));
        const int error = n < 0 ? errno : EIO;
        fail(fmt::format("{} is gone ({}): the lab was stopped or the agent ended; start the lab "
                         "again",
                         m_description, std::strerror(error)));
        return tl::make_unexpected(*m_failure);
    }
    return tl::make_unexpected(fmt::format("{}: send interrupted", m_description));
}

tl::expected<std::size_t, std::string>
AgentClient::receive(const std::function<void(AgentEvent)>& sink, std::size_t maxMessages) {
    if (m_failure) {
        refusePending(sink);
        return tl::make_unexpected(*m_failure);
    }
    std::size_t delivered = 0;
    while (delivered < maxMessages) {
        const ssize_t n = ::recv(m_fd, m_buffer.data(), m_buffer.size(), MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            fail(fmt::format("{} is gone ({})", m_description, std::strerror(errno)));
            break;
        }
        if (n == 0) {
            fail(fmt::format("{} is gone: the lab was stopped or the agent ended; start the lab "
                             "again",
                             m_description));
            break;
        }
        if (static_cast<std::size_t>(n) > kMaxMessageBytes) {
            fail(fmt::format("{} sent a message of {} bytes, over the limit of {}", m_description,
                             n, kMaxMessageBytes));
            break;
        }
        auto message = decode({m_buffer.data(), static_cast<std::size_t>(n)});
        if (!message) {
            fail(fmt::format("{} does not speak tcplab's protocol ({}): it belongs to another "
                             "version; reinstall tcplab",
                             m_description, message.error().message));
            break;
        }
        ++delivered;
        if (auto* hello = std::get_if<Hello>(&*message)) {
            if (hello->version != kProtocolVersion) {
                fail(fmt::format("{} speaks version {} of the protocol, tcplab speaks {}; "
                                 "reinstall tcplab",
                                 m_description, hello->version, kProtocolVersion));
                break;
            }
            m_hello = *hello;
            if (sink)
                sink(std::move(*hello));
        } else if (auto* answer = std::get_if<Answer>(&*message)) {
            const auto it = m_pending.find(answer->id);
            if (it == m_pending.end())
                continue; // an answer nobody waits for (a request refused on our side)
            CallRecord record{std::move(it->second), std::move(*answer)};
            m_pending.erase(it);
            if (sink)
                sink(std::move(record));
        } else if (auto* sample = std::get_if<Sample>(&*message)) {
            if (sink)
                sink(std::move(*sample));
        } else {
            fail(fmt::format("{} sent a request: it is not an agent", m_description));
            break;
        }
    }
    if (m_failure) {
        refusePending(sink);
        return tl::make_unexpected(*m_failure);
    }
    return delivered;
}

tl::expected<Hello, std::string>
AgentClient::waitHello(std::chrono::milliseconds timeout,
                       const std::function<void(AgentEvent)>& onOther) {
    const std::int64_t deadline = monotonicMs() + timeout.count();
    while (!m_hello) {
        const std::int64_t left = deadline - monotonicMs();
        if (left <= 0)
            return tl::make_unexpected(
                fmt::format("{} did not say hello within {} ms", m_description, timeout.count()));
        pollfd p{m_fd, POLLIN, 0};
        ::poll(&p, 1, static_cast<int>(left));
        auto got = receive([&onOther](AgentEvent e) {
            if (onOther && !std::holds_alternative<Hello>(e))
                onOther(std::move(e));
        });
        if (!got)
            return tl::make_unexpected(got.error());
    }
    return *m_hello;
}

tl::expected<CallRecord, std::string>
AgentClient::call(Request request, std::chrono::milliseconds timeout,
                  const std::function<void(AgentEvent)>& onOther) {
    auto id = send(std::move(request));
    if (!id)
        return tl::make_unexpected(id.error());
    const std::int64_t deadline = monotonicMs() + timeout.count();
    std::optional<CallRecord> result;
    while (!result) {
        const std::int64_t left = deadline - monotonicMs();
        if (left <= 0)
            return tl::make_unexpected(fmt::format("{} did not answer request {} within {} ms",
                                                   m_description, *id, timeout.count()));
        pollfd p{m_fd, POLLIN, 0};
        ::poll(&p, 1, static_cast<int>(left));
        auto got = receive([&](AgentEvent e) {
            if (auto* r = std::get_if<CallRecord>(&e); r && r->answer.id == *id)
                result = std::move(*r);
            else if (onOther)
                onOther(std::move(e));
        });
        if (!got && !result)
            return tl::make_unexpected(got.error());
    }
    return std::move(*result);
}

} // namespace tcplab::peer
