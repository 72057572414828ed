#pragma once

// The HTTP rules of the labs' peers (PeerApp and the lwIP helper), as the namespace
// lab's server (scripts/tcplab-lab) keeps them: finding a request's end, its
// Content-Length, when the connection persists, and the response. Plain C++: no
// threads, no I/O, no fmt (the lwIP helper compiles this file in).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tcplab::lab::http {

/// A request body is read (and dropped) up to this; a longer one cannot be skipped, so
/// its request is answered with close.
constexpr std::size_t kMaxBody = 1 << 20;
/// Requests per connection; the last one is answered with close.
constexpr unsigned kMaxRequests = 1000;
/// Bytes of the method and target repeated in the body.
constexpr std::size_t kMaxEchoed = 200;

/// A parsed request head, as the lab's server reads it.
struct Request {
    std::string line; ///< the request line, trimmed
    std::string method;
    std::string target;
    std::string version; ///< upper case; "HTTP/0.9" when absent
    /// RFC 9112 §9.3: HTTP/1.1 unless "Connection: close", HTTP/1.0 only with
    /// "Connection: keep-alive"
    bool persistent = false;
    std::optional<std::size_t> bodyLength; ///< nullopt: the body cannot be delimited
};

/// Parses a request head (without its empty line).
Request parseHead(std::string_view head);

/// Drops the empty lines before a request line (RFC 9112 §2.2) from `in`, then takes
/// the next request head out of it, with its empty line: nullopt while it is not
/// complete. A head longer than `maxRequestBytes` whose end is not found is taken
/// whole (all of `in`) and its request answered with close.
/// `number` is the request's number on its connection (1 for the first): the last one
/// allowed is answered with close too, as is one whose body cannot be delimited.
std::optional<Request> takeRequest(std::string& in, std::size_t maxRequestBytes, unsigned number);

/// Python's printable(): the first kMaxEchoed bytes read as Latin-1, anything not
/// printable as '?', the result in UTF-8.
std::string printable(std::string_view bytes);

/// "Hello from the tcplab peer, port N. Request K on this connection: METHOD TARGET\n".
std::string responseBody(std::uint16_t port, unsigned number, std::string_view method,
                         std::string_view target);

/// The largest GET /bytes/N body.
constexpr std::uint64_t kMaxBulkBytes = std::uint64_t{1} << 30;

/// N of a "/bytes/N" target (N decimal digits, at most 10 of them): the response body is
/// N bytes of the bulk pattern (peer/pattern.h) instead of the greeting. nullopt for any
/// other target. An N over kMaxBulkBytes is returned as it is: response() answers it with
/// 413.
std::optional<std::uint64_t> bulkLength(std::string_view target);

/// A response in two parts, so that a bulk body is streamed, never built whole: the head
/// and a short body as text, then `patternBytes` bytes of the pattern from offset 0.
struct Response {
    std::string text;               ///< status line, headers, and the short body
    std::uint64_t patternBytes = 0; ///< bulk body bytes that follow `text`
};
/// The response to `request` as response() words it, with GET /bytes/N's body (N bytes of
/// the pattern) left to the caller to stream; HEAD gets the head alone.
Response plan(const Request& request, std::uint16_t port, unsigned number);

/// The whole response to `request`, request number `number` on a connection to
/// `port`: "HTTP/1.1 200 OK" with Content-Length, "Connection: close" when it does not
/// persist ("keep-alive" for a persistent HTTP/1.0 one), and the body but for HEAD. A bulk
/// body (GET /bytes/N) is written out in full: use plan() to stream one.
std::string response(const Request& request, std::uint16_t port, unsigned number);

} // namespace tcplab::lab::http
