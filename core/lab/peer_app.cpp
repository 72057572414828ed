#include "lab/peer_app.h"

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
/// As the namespace lab's server: a request body is read (and dropped) up to this;
/// a longer one cannot be skipped, so its request is answered with close.
constexpr std::size_t kMaxBody = 1 << 20;
/// Requests per connection; the last one is answered with close.
constexpr unsigned kMaxRequests = 1000;
/// Bytes of the method and target repeated in the body.
constexpr std::size_t kMaxEchoed = 200;

std::string lower(std::string_view text) {
    std::string s(text);
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

/// A parsed request head, as the lab's server reads it.
struct HttpRequest {
    std::string line; ///< the request line, trimmed
    std::string method;
    std::string target;
    std::string version; ///< upper case; "HTTP/0.9" when absent
    bool persistent = false;
    std::optional<std::size_t> bodyLength; ///< nullopt: the body cannot be delimited
};

std::vector<std::string_view> splitWhitespace(std::string_view text) {
    std::vector<std::string_view> parts;
    std::size_t pos = 0;
    while (pos < text.size()) {
        while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos])))
            ++pos;
        const std::size_t start = pos;
        while (pos < text.size() && !std::isspace(static_cast<unsigned char>(text[pos])))
            ++pos;
        if (pos > start)
            parts.push_back(text.substr(start, pos - start));
    }
    return parts;
}

std::string_view strip(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
        s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
        s.remove_suffix(1);
    return s;
}

HttpRequest parseHead(std::string_view head) {
    HttpRequest r;
    std::string text(head);
    for (auto pos = text.find("\r\n"); pos != std::string::npos; pos = text.find("\r\n", pos))
        text.erase(pos, 1);
    const std::string_view all(text);
    const auto firstEnd = all.find('\n');
    r.line = std::string(strip(all.substr(0, firstEnd)));
    const auto parts = splitWhitespace(r.line);
    r.method = parts.size() > 0 ? std::string(parts[0]) : std::string();
    r.target = parts.size() > 1 ? std::string(parts[1]) : std::string();
    r.version = parts.size() > 2 ? std::string(parts[2]) : std::string("HTTP/0.9");
    std::transform(r.version.begin(), r.version.end(), r.version.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });

    std::vector<std::string> options; // the Connection header's tokens
    std::optional<std::size_t> length = 0;
    std::size_t pos = firstEnd == std::string_view::npos ? all.size() : firstEnd + 1;
    while (pos < all.size()) {
        auto next = all.find('\n', pos);
        if (next == std::string_view::npos)
            next = all.size();
        const std::string_view line = all.substr(pos, next - pos);
        pos = next + 1;
        const auto colon = line.find(':');
        if (colon == std::string_view::npos)
            continue;
        const std::string name = lower(strip(line.substr(0, colon)));
        const std::string_view value = line.substr(colon + 1);
        if (name == "connection") {
            std::size_t at = 0;
            while (at <= value.size()) {
                auto comma = value.find(',', at);
                if (comma == std::string_view::npos)
                    comma = value.size();
                options.push_back(lower(strip(value.substr(at, comma - at))));
                at = comma + 1;
            }
        } else if (name == "transfer-encoding") {
            length = std::nullopt; // chunked: not something the lab's server parses
        } else if (name == "content-length" && length) {
            const std::string_view v = strip(value);
            const bool digits =
                !v.empty() && v.find_first_not_of("0123456789") == std::string_view::npos;
            const auto n = digits && v.size() <= 9
                               ? std::strtoull(std::string(v).c_str(), nullptr, 10)
                               : kMaxBody + 1;
            length = n <= kMaxBody ? std::optional<std::size_t>(n) : std::nullopt;
        }
    }
    r.bodyLength = length;
    const auto has = [&options](const char* o) {
        return std::find(options.begin(), options.end(), o) != options.end();
    };
    // RFC 9112 §9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with
    // "keep-alive"; anything older or unknown does not.
    if (r.version == "HTTP/1.1")
        r.persistent = !has("close");
    else if (r.version == "HTTP/1.0")
        r.persistent = has("keep-alive") && !has("close");
    return r;
}

/// Python's printable(): the first bytes read as Latin-1, anything not printable as
/// '?', the result in UTF-8.
std::string printable(std::string_view bytes) {
    std::string out;
    for (const char ch : bytes.substr(0, kMaxEchoed)) {
        const auto c = static_cast<unsigned char>(ch);
        if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
        } else if (c >= 0xa1 && c != 0xad) {
            // U+00A1..U+00FF in UTF-8 (U+00A0 and the soft hyphen are not printable).
            out += static_cast<char>(0xc0 | (c >> 6));
            out += static_cast<char>(0x80 | (c & 0x3f));
        } else {
            out += '?';
        }
    }
    return out;
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
    std::string in;                      ///< HTTP: received, not yet handled
    std::string out;                     ///< to send
    unsigned requests = 0;               ///< HTTP: requests so far on this connection
    std::optional<HttpRequest> awaiting; ///< HTTP: a request whose body is still coming
    bool peerFinished = false;           ///< the client's FIN has arrived
    bool closeAfterOut = false;          ///< HTTP: "Connection: close": FIN once `out` is sent
    bool shutDown = false;               ///< our FIN is sent
    bool done = false;                   ///< to be closed now
    std::string why;                     ///< why it is done, for the Closed event
    Clock::time_point lastActivity = Clock::now();

    void finish(std::string reason) {
        if (!done) {
            done = true;
            why = std::move(reason);
        }
    }
};

std::string PeerApp::body(std::uint16_t port, unsigned number, std::string_view method,
                          std::string_view target) {
    return fmt::format("Hello from the tcplab peer, port {}. Request {} on this connection: {} "
                       "{}\n",
                       port, number, printable(method), printable(target));
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
                if (!c->peerFinished && c->out.size() < kMaxPendingOutput)
                    events |= POLLIN;
                if (!c->out.empty())
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
                if (!c.done && !c.out.empty())
                    writeTo(c);
            }
            for (std::size_t i = 0; i < m_listeners.size(); ++i)
                if (fds[1 + i].revents & POLLIN)
                    acceptFrom(m_listeners[i]);

            const auto after = Clock::now();
            for (auto& c : m_connections) {
                if (c->done)
                    continue;
                if (c->out.empty() && c->closeAfterOut && !c->shutDown) {
                    // RFC 9112 §9.6: the server closes after the response; its FIN
                    // follows the data, and it reads on until the client's FIN so that
                    // a late request does not earn the client a RST.
                    ::shutdown(c->fd, SHUT_WR);
                    c->shutDown = true;
                }
                if (c->out.empty() && c->peerFinished)
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
            if (c.out.size() >= kMaxPendingOutput)
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
                if (c.peerFinished && c.out.empty())
                    c.finish("the client closed in the middle of a request body");
                return;
            }
            c.in.erase(0, length);
            answerHttp(c);
            continue;
        }
        // RFC 9112 §2.2: empty lines before a request line are ignored.
        c.in.erase(0, std::min(c.in.size(), c.in.find_first_not_of("\r\n")));
        std::size_t headEnd = std::string::npos;
        std::size_t terminator = 0;
        if (const auto crlf = c.in.find("\r\n\r\n"); crlf != std::string::npos) {
            headEnd = crlf;
            terminator = 4;
        }
        if (const auto lf = c.in.find("\n\n"); lf != std::string::npos && lf < headEnd) {
            headEnd = lf;
            terminator = 2;
        }
        const bool tooLong =
            headEnd == std::string::npos && c.in.size() > m_options.maxRequestBytes;
        if (headEnd == std::string::npos && !tooLong) {
            // The client's FIN: the peer closes too (its FIN follows the client's).
            if (c.peerFinished && !c.in.empty() && c.out.empty())
                c.finish("the client closed in the middle of a request");
            return;
        }
        const std::string head = tooLong ? c.in : c.in.substr(0, headEnd);
        c.in.erase(0, tooLong ? c.in.size() : headEnd + terminator);
        ++c.requests;
        HttpRequest request = parseHead(head);
        // A request whose end cannot be found ends the connection after its answer.
        if (tooLong || !request.bodyLength || c.requests >= kMaxRequests)
            request.persistent = false;
        emitEvent(PeerEvent::Kind::Request, c, request.line);
        c.awaiting = std::move(request);
        if (!c.awaiting->persistent)
            answerHttp(c);
    }
}

void PeerApp::answerHttp(Connection& c) {
    const HttpRequest request = std::move(*c.awaiting);
    c.awaiting.reset();
    const std::string content = body(c.port, c.requests, request.method, request.target);
    const char* connection = !request.persistent             ? "Connection: close\r\n"
                             : request.version == "HTTP/1.0" ? "Connection: keep-alive\r\n"
                                                             : "";
    std::string response = fmt::format("HTTP/1.1 200 OK\r\n"
                                       "Server: tcplab-lab\r\n"
                                       "Content-Type: text/plain\r\n"
                                       "Content-Length: {}\r\n"
                                       "{}\r\n",
                                       content.size(), connection);
    if (request.method != "HEAD")
        response += content;
    c.out += response;
    emitEvent(PeerEvent::Kind::Responded, c,
              fmt::format("200 OK, {} bytes, {}", response.size(),
                          request.persistent ? "keep-alive" : "closing"));
    if (!request.persistent) {
        // RFC 9112 §9.6: the FIN follows the response; the rest is read and dropped.
        c.closeAfterOut = true;
        c.in.clear();
    }
}

void PeerApp::writeTo(Connection& c) {
    for (int i = 0; i < kMaxReadsPerWakeup && !c.out.empty(); ++i) {
        const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
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
        c.out.erase(0, static_cast<std::size_t>(n));
        c.lastActivity = Clock::now();
    }
}

} // namespace tcplab::lab
