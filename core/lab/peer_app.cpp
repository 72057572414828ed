#include "lab/peer_app.h"

#include "lab/http_rules.h"
#include "peer/pattern.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <deque>
#include <exception>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace tcplab::lab {

namespace {

using Clock = std::chrono::steady_clock;

/// The longest single wait: stop() is noticed through the wake-up fd at once, and
/// idle time-outs within this.
constexpr int kMaxPollMs = 200;
/// Reads and accepts per connection and per wake-up: one busy client cannot starve
/// the others.
constexpr int kMaxReadsPerWakeup = 16;
constexpr int kMaxAcceptsPerWakeup = 16;
constexpr std::size_t kReadChunk = 65536;
/// Echo stops reading while this much waits to go back (the client is not reading).
constexpr std::size_t kMaxPendingOutput = 1 << 20;
using HttpRequest = http::Request;

/// Appends `count` bytes of the bulk pattern from stream offset `offset`: copies from
/// one run of the pattern, 64 KiB at a time, rather than byte by byte.
void appendPattern(std::string& out, std::uint64_t offset, std::size_t count) {
    constexpr std::size_t kRun = 65536;
    static const std::string run = [] {
        std::string r(kRun + peer::kPattern.size(), '\0');
        for (std::size_t i = 0; i < r.size(); ++i)
            r[i] = static_cast<char>(peer::patternByte(i));
        return r;
    }();
    while (count > 0) {
        const std::size_t take = std::min(count, kRun);
        out.append(run, static_cast<std::size_t>(offset % peer::kPattern.size()), take);
        offset += take;
        count -= take;
    }
}

/// "200 OK" from "HTTP/1.1 200 OK\r\n...".
std::string statusOf(const std::string& response) {
    const auto space = response.find(' ');
    const auto end = response.find("\r\n");
    if (space == std::string::npos || end == std::string::npos || end < space)
        return "?";
    return response.substr(space + 1, end - space - 1);
}

/// "198.18.0.2 port 40000" (an IPv4-mapped address without its ::ffff:),
/// "[2001:db8::2] port 40000", "a local socket".
std::string remoteOf(int fd) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
        return "an unknown peer";
    std::array<char, INET6_ADDRSTRLEN> text{};
    if (address.ss_family == AF_INET) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(&address);
        ::inet_ntop(AF_INET, &a->sin_addr, text.data(), text.size());
        return fmt::format("{} port {}", text.data(), ntohs(a->sin_port));
    }
    if (address.ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&address);
        if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
            ::inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], text.data(), text.size());
            return fmt::format("{} port {}", text.data(), ntohs(a->sin6_port));
        }
        ::inet_ntop(AF_INET6, &a->sin6_addr, text.data(), text.size());
        return fmt::format("[{}] port {}", text.data(), ntohs(a->sin6_port));
    }
    return "a local socket";
}

} // namespace

std::string_view serviceName(PeerService service) noexcept {
    switch (service) {
    case PeerService::Http:
        return "http";
    case PeerService::Discard:
        return "discard";
    case PeerService::Echo:
        return "echo";
    }
    return "?";
}

struct PeerApp::Connection {
    int fd = -1;
    std::uint16_t port = 0;
    PeerService service = PeerService::Http;
    std::string remote;
    std::string in;        ///< HTTP: received, not yet handled
    std::string out;       ///< to send, from outAt on
    std::size_t outAt = 0; ///< bytes of `out` already sent
    /// HTTP: responses whose bytes are not (all) in `out` yet, in order; the front one's
    /// first patternAt pattern bytes are.
    std::deque<http::Response> queued;
    std::uint64_t patternAt = 0;
    unsigned requests = 0;               ///< HTTP: requests so far on this connection
    std::optional<HttpRequest> awaiting; ///< HTTP: a request whose body is still coming
    bool peerFinished = false;           ///< the client's FIN has arrived
    bool closeAfterOut = false;          ///< HTTP: "Connection: close": FIN once `out` is sent
    bool shutDown = false;               ///< our FIN is sent
    bool done = false;                   ///< to be closed now
    std::string why;                     ///< why it is done, for the Closed event
    Clock::time_point lastActivity = Clock::now();

    std::size_t unsent() const noexcept { return out.size() - outAt; }
    /// Whether anything is still to be sent (in `out` or queued).
    bool sending() const noexcept { return unsent() > 0 || !queued.empty(); }

    /// Once `out` is sent, fills it anew (up to kOutputBuffer) from the queued responses:
    /// their text, then their pattern bytes, generated now.
    void refill() {
        if (unsent() > 0 || queued.empty())
            return;
        out.clear();
        outAt = 0;
        while (!queued.empty() && out.size() < kOutputBuffer) {
            http::Response& r = queued.front();
            if (!r.text.empty()) {
                out += r.text;
                std::string().swap(r.text);
            }
            const std::size_t room = out.size() < kOutputBuffer ? kOutputBuffer - out.size() : 0;
            const auto n =
                static_cast<std::size_t>(std::min<std::uint64_t>(r.patternBytes - patternAt, room));
            appendPattern(out, patternAt, n);
            patternAt += n;
            if (patternAt == r.patternBytes) {
                queued.pop_front();
                patternAt = 0;
            }
        }
    }

    void finish(std::string reason) {
        if (!done) {
            done = true;
            why = std::move(reason);
        }
    }
};

std::string PeerApp::body(std::uint16_t port, unsigned number, std::string_view method,
                          std::string_view target) {
    return http::responseBody(port, number, method, target);
}

tl::expected<std::unique_ptr<PeerApp>, LabError> PeerApp::start(std::vector<PeerListener> listeners,
                                                                PeerAppOptions options) {
    for (const auto& l : listeners) {
        const int flags = ::fcntl(l.fd, F_GETFL);
        if (flags < 0 || ::fcntl(l.fd, F_SETFL, flags | O_NONBLOCK) != 0)
            return tl::make_unexpected(LabError{
                LabErrorCode::Io, fmt::format("the peer's application cannot use the listening "
                                              "socket of port {}: {}",
                                              l.port, std::strerror(errno))});
    }
    const int wake = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake < 0)
        return tl::make_unexpected(LabError{
            LabErrorCode::Io,
            fmt::format("the peer's application cannot start: eventfd: {}", std::strerror(errno))});
    if (options.maxConnections == 0)
        options.maxConnections = 1;
    std::unique_ptr<PeerApp> app(new PeerApp(std::move(listeners), std::move(options), wake));
    app->m_thread = std::jthread([p = app.get()](std::stop_token token) { p->run(token); });
    return app;
}

PeerApp::PeerApp(std::vector<PeerListener> listeners, PeerAppOptions options, int wakeFd)
    : m_listeners(std::move(listeners))
    , m_options(std::move(options))
    , m_wakeFd(wakeFd) {}

PeerApp::~PeerApp() {
    stop();
    ::close(m_wakeFd);
}

void PeerApp::stop() {
    if (!m_thread.joinable())
        return;
    m_thread.request_stop();
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(m_wakeFd, &one, sizeof one);
    m_thread.join();
}

void PeerApp::emitEvent(PeerEvent::Kind kind, const Connection& c, std::string text) const {
    if (m_options.onEvent)
        m_options.onEvent(PeerEvent{kind, c.port, c.remote, std::move(text)});
}

void PeerApp::run(const std::stop_token& token) {
    try {
        std::vector<pollfd> fds;
        while (!token.stop_requested()) {
            fds.clear();
            fds.push_back({m_wakeFd, POLLIN, 0});
            const bool accepting = m_connections.size() < m_options.maxConnections;
            for (const auto& l : m_listeners)
                fds.push_back({l.fd, static_cast<short>(accepting ? POLLIN : 0), 0});
            const auto now = Clock::now();
            auto wait = std::chrono::milliseconds(kMaxPollMs);
            for (const auto& c : m_connections) {
                short events = 0;
                // Once the client has finished there is nothing more to read; echo
                // stops reading while the client does not take what it sent.
                if (!c->peerFinished && c->unsent() < kMaxPendingOutput)
                    events |= POLLIN;
                if (c->sending())
                    events |= POLLOUT;
                fds.push_back({c->fd, events, 0});
                const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    c->lastActivity + m_options.idleTimeout - now);
                wait = std::clamp(left, std::chrono::milliseconds(0), wait);
            }
            const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(wait.count()));
            if (ready < 0 && errno != EINTR) {
                emitEvent(PeerEvent::Kind::Error, Connection{},
                          fmt::format("poll failed: {}; the peer's application stops",
                                      std::strerror(errno)));
                break;
            }
            if (fds[0].revents & POLLIN) {
                std::uint64_t count = 0;
                [[maybe_unused]] const auto n = ::read(m_wakeFd, &count, sizeof count);
            }
            // Connections first (their pollfds follow the listeners'), then new ones,
            // so the indices stay valid.
            const std::size_t first = 1 + m_listeners.size();
            for (std::size_t i = 0; i < m_connections.size(); ++i) {
                Connection& c = *m_connections[i];
                const short revents = fds[first + i].revents;
                if (revents & (POLLIN | POLLHUP | POLLERR))
                    readFrom(c);
                if (!c.done && c.sending())
                    writeTo(c);
            }
            for (std::size_t i = 0; i < m_listeners.size(); ++i)
                if (fds[1 + i].revents & POLLIN)
                    acceptFrom(m_listeners[i]);

            const auto after = Clock::now();
            for (auto& c : m_connections) {
                if (c->done)
                    continue;
                if (!c->sending() && c->closeAfterOut && !c->shutDown) {
                    // RFC 9112 §9.6: the server closes after the response; its FIN
                    // follows the data, and it reads on until the client's FIN so that
                    // a late request does not earn the client a RST.
                    ::shutdown(c->fd, SHUT_WR);
                    c->shutDown = true;
                }
                if (!c->sending() && c->peerFinished)
                    c->finish("the client closed its side");
                else if (after - c->lastActivity >= m_options.idleTimeout)
                    c->finish("idle for too long");
            }
            auto end = std::stable_partition(m_connections.begin(), m_connections.end(),
                                             [](const auto& c) { return !c->done; });
            for (auto it = end; it != m_connections.end(); ++it) {
                ::close((*it)->fd);
                m_open.fetch_sub(1);
                emitEvent(PeerEvent::Kind::Closed, **it, (*it)->why);
            }
            m_connections.erase(end, m_connections.end());
        }
    } catch (const std::exception& e) {
        emitEvent(PeerEvent::Kind::Error, Connection{},
                  fmt::format("the peer's application stopped: {}", e.what()));
    }
    for (auto& c : m_connections) {
        ::close(c->fd);
        m_open.fetch_sub(1);
    }
    m_connections.clear();
}

void PeerApp::acceptFrom(const PeerListener& listener) {
    for (int i = 0; i < kMaxAcceptsPerWakeup; ++i) {
        if (m_connections.size() >= m_options.maxConnections)
            return;
        const int fd = ::accept4(listener.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                errno != ECONNABORTED) {
                Connection none;
                none.port = listener.port;
                emitEvent(PeerEvent::Kind::Error, none,
                          fmt::format("accept failed: {}", std::strerror(errno)));
            }
            return;
        }
        auto c = std::make_unique<Connection>();
        c->fd = fd;
        c->port = listener.port;
        c->service = listener.service;
        c->remote = remoteOf(fd);
        m_accepted.fetch_add(1);
        m_open.fetch_add(1);
        emitEvent(PeerEvent::Kind::Accepted, *c, std::string(serviceName(c->service)));
        m_connections.push_back(std::move(c));
    }
}

void PeerApp::readFrom(Connection& c) {
    std::array<char, kReadChunk> buffer{};
    for (int i = 0; i < kMaxReadsPerWakeup && !c.peerFinished && !c.done; ++i) {
        const ssize_t n = ::recv(c.fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            const int error = errno;
            c.finish(error == ECONNRESET ? "reset by the client"
                                         : fmt::format("receive failed: {}", std::strerror(error)));
            return;
        }
        c.lastActivity = Clock::now();
        if (n == 0) {
            c.peerFinished = true;
            break;
        }
        const std::string_view data(buffer.data(), static_cast<std::size_t>(n));
        switch (c.service) {
        case PeerService::Discard:
            emitEvent(PeerEvent::Kind::Received, c, fmt::format("{} bytes discarded", n));
            break;
        case PeerService::Echo:
            emitEvent(PeerEvent::Kind::Received, c, fmt::format("{} bytes echoed", n));
            c.out.append(data);
            if (c.unsent() >= kMaxPendingOutput)
                return; // resume reading once the client takes some
            break;
        case PeerService::Http:
            // After a "Connection: close" response the rest is read and dropped.
            if (!c.closeAfterOut)
                c.in.append(data);
            break;
        }
    }
    if (c.service == PeerService::Http && !c.done)
        handleHttp(c);
}

void PeerApp::handleHttp(Connection& c) {
    // Requests in order, pipelined ones too, until one is answered with close.
    while (!c.closeAfterOut && !c.done) {
        if (c.awaiting) {
            // A persistent request is answered once its body has come (and is dropped).
            const std::size_t length = *c.awaiting->bodyLength;
            if (c.in.size() < length) {
                if (c.peerFinished && !c.sending())
                    c.finish("the client closed in the middle of a request body");
                return;
            }
            c.in.erase(0, length);
            answerHttp(c);
            continue;
        }
        auto taken = http::takeRequest(c.in, m_options.maxRequestBytes, c.requests + 1);
        if (!taken) {
            // The client's FIN: the peer closes too (its FIN follows the client's).
            if (c.peerFinished && !c.in.empty() && !c.sending())
                c.finish("the client closed in the middle of a request");
            return;
        }
        ++c.requests;
        HttpRequest request = std::move(*taken);
        emitEvent(PeerEvent::Kind::Request, c, request.line);
        c.awaiting = std::move(request);
        if (!c.awaiting->persistent)
            answerHttp(c);
    }
}

void PeerApp::answerHttp(Connection& c) {
    const HttpRequest request = std::move(*c.awaiting);
    c.awaiting.reset();
    // GET /bytes/N's body is left as a count of pattern bytes: refill() makes them as
    // the socket takes them.
    http::Response response = http::plan(request, c.port, c.requests);
    emitEvent(PeerEvent::Kind::Responded, c,
              fmt::format("{}, {} bytes, {}", statusOf(response.text),
                          response.text.size() + response.patternBytes,
                          request.persistent ? "keep-alive" : "closing"));
    c.queued.push_back(std::move(response));
    if (!request.persistent) {
        // RFC 9112 §9.6: the FIN follows the response; the rest is read and dropped.
        c.closeAfterOut = true;
        c.in.clear();
    }
}

void PeerApp::writeTo(Connection& c) {
    for (int i = 0; i < kMaxReadsPerWakeup; ++i) {
        c.refill();
        if (c.unsent() == 0)
            return;
        const ssize_t n =
            ::send(c.fd, c.out.data() + c.outAt, c.unsent(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            const int error = errno;
            c.finish(error == ECONNRESET || error == EPIPE
                         ? "reset by the client"
                         : fmt::format("send failed: {}", std::strerror(error)));
            return;
        }
        c.outAt += static_cast<std::size_t>(n);
        if (c.outAt == c.out.size()) {
            c.out.clear();
            c.outAt = 0;
        } else if (c.outAt >= kReadChunk && c.service == PeerService::Echo) {
            // Echo appends behind what is being sent: drop the sent part now and then.
            c.out.erase(0, c.outAt);
            c.outAt = 0;
        }
        c.lastActivity = Clock::now(); // a transfer that moves is not idle
    }
}

} // namespace tcplab::lab
