#pragma once

#include "lab/lab_error.h"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <tl/expected.hpp>

namespace tcplab::lab {

/// What the peer's application does with a connection on a port.
enum class PeerService : std::uint8_t {
    Http,    ///< the namespace lab's HTTP responder (scripts/tcplab-lab)
    Discard, ///< reads and drops everything (RFC 863); closes after the client's FIN
    Echo,    ///< sends back what it reads (RFC 862); closes after the client's FIN
};
std::string_view serviceName(PeerService service) noexcept;

/// One listening stream socket the application serves. The fd is borrowed: it must
/// stay open until the PeerApp is destroyed.
struct PeerListener {
    int fd = -1;
    std::uint16_t port = 0;
    PeerService service = PeerService::Http;
};

/// Something the application did, for the user's log or the timeline's notes.
struct PeerEvent {
    enum class Kind : std::uint8_t {
        Accepted,  ///< a connection was accepted
        Request,   ///< an HTTP request line arrived (text: the line)
        Responded, ///< an HTTP response was queued (text: "200 OK, 40 bytes, keep-alive")
        Received,  ///< discard/echo: bytes arrived (text: how many)
        Closed,    ///< the connection is closed (text: why)
        Error,     ///< a socket error (text: what the system said)
    };
    Kind kind;
    std::uint16_t port = 0;
    std::string remote; ///< "198.18.0.2 port 40000", "[2001:db8::2] port 40000"
    std::string text;
};

struct PeerAppOptions {
    /// Idle connections are closed after this; a hand-crafted exchange is slow.
    std::chrono::milliseconds idleTimeout{std::chrono::minutes(10)};
    /// At most this many connections at once; more wait in the listen backlog.
    std::size_t maxConnections = 64;
    /// A request head longer than this is answered at once, with close (as the lab's
    /// server does: its end cannot be found).
    std::size_t maxRequestBytes = 65536;
    /// Called on the application's thread; must not block for long.
    std::function<void(const PeerEvent&)> onEvent;
};

/// The peer's application in the built-in lab: serves the listening sockets the lab
/// hands over on its own thread, so the connections are the peer kernel's own TCP.
///
/// HTTP behaves exactly like the namespace lab's server (scripts/tcplab-lab): every
/// request gets "HTTP/1.1 200 OK" with Content-Length and the body "Hello from the
/// tcplab peer, port N. Request K on this connection: METHOD TARGET\n" (none for HEAD),
/// but GET /bytes/N, whose body is N bytes of the bulk pattern (peer/pattern.h; any N up
/// to 1 GiB, 413 beyond: http::plan()). That body is streamed: generated as the socket
/// takes it (non-blocking sends from a buffer of kOutputBuffer bytes per connection), never
/// held whole, so a 1 GiB answer costs no more memory than a short one.
/// Connections persist (RFC 9112 §9.3: HTTP/1.1 unless "Connection: close", HTTP/1.0
/// only with "Connection: keep-alive"): pipelined requests are answered in order (a
/// request behind a bulk one is answered once the bulk body is sent), a request body
/// (Content-Length) is read before its answer, and the peer closes after the client's
/// FIN, once everything queued is sent. Otherwise (and for a body that cannot be
/// delimited, a head over maxRequestBytes, the 1000th request) the response says
/// "Connection: close", the peer shuts down its sending side (its FIN follows the
/// response's last byte) and reads until the client's FIN, then closes. A connection is
/// idle (idleTimeout) only when nothing arrives and nothing it sends is taken: a long
/// transfer that moves is never cut.
///
/// The thread polls (bounded waits, at most 200 ms) and stops when stop() is called or
/// the object is destroyed; open connections are then closed.
class PeerApp {
public:
    /// The most response bytes a connection holds ready to send; a bulk body is generated
    /// into it as the socket drains it.
    static constexpr std::size_t kOutputBuffer = 256 * 1024;

    static tl::expected<std::unique_ptr<PeerApp>, LabError>
    start(std::vector<PeerListener> listeners, PeerAppOptions options = {});
    ~PeerApp();
    PeerApp(const PeerApp&) = delete;
    PeerApp& operator=(const PeerApp&) = delete;

    /// Stops the thread and closes every accepted connection (not the listeners).
    void stop();
    /// Connections open now.
    std::size_t connectionCount() const noexcept { return m_open.load(); }
    /// Connections accepted since start.
    std::size_t acceptedCount() const noexcept { return m_accepted.load(); }

    /// The HTTP response body for request number `number` on a connection to `port`
    /// (method and target as received: bytes other than printable Latin-1 read as '?').
    static std::string body(std::uint16_t port, unsigned number, std::string_view method,
                            std::string_view target);

private:
    struct Connection;
    PeerApp(std::vector<PeerListener> listeners, PeerAppOptions options, int wakeFd);
    void run(const std::stop_token& token);
    void acceptFrom(const PeerListener& listener);
    void readFrom(Connection& c);
    void writeTo(Connection& c);
    void handleHttp(Connection& c);
    void answerHttp(Connection& c);
    void emitEvent(PeerEvent::Kind kind, const Connection& c, std::string text) const;

    std::vector<PeerListener> m_listeners;
    PeerAppOptions m_options;
    int m_wakeFd;
    std::vector<std::unique_ptr<Connection>> m_connections;
    std::atomic<std::size_t> m_open{0};
    std::atomic<std::size_t> m_accepted{0};
    std::jthread m_thread;
};

} // namespace tcplab::lab
