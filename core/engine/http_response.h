#pragma once
// When is an HTTP response whole? RFC 9112 §6.3: no body for 1xx/204/304 or a HEAD
// request; else chunked to the last chunk, else Content-Length, else until the
// connection closes (the peer's FIN). Shared by the scenario runner (receive http) and
// the click-through demo (engine::Walkthrough).

#include "wire/bytes.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace tcplab::engine {

/// How far a response has arrived.
struct HttpCheck {
    enum class State : std::uint8_t { Incomplete, Complete, Malformed };
    State state = State::Incomplete;
    std::size_t end = 0;  ///< Complete: bytes the response takes
    std::string progress; ///< Incomplete: "got 120 of 154 bytes"; Malformed: why
};

/// Checks the response at the start of `data` (interim 1xx responses skipped):
/// `peerFin` says the peer has closed (a response without a length ends there),
/// `headRequest` that the request was HEAD (no body).
HttpCheck checkHttpResponse(wire::Bytes data, bool peerFin, bool headRequest);

} // namespace tcplab::engine
