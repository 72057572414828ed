#pragma once

// The peer's application on lwIP's raw TCP API, on the listeners of --port: the lab's
// HTTP responder with the semantics of core/lab/peer_app.h (GET /bytes/N streamed:
// tcp_write as tcp_sndbuf allows, continued from the sent callback), discard and echo.
// Its callbacks run in lwIP's thread or under the core lock, as does every call here.

#include "lwip_state.h"

#include <cstdint>
#include <vector>

namespace tcplab::lwiphelper {

/// tcp_accept's callback on a listening pcb whose arg is its Listener: the connection
/// is served by the listener's service.
err_t onAccept(void* arg, struct tcp_pcb* pcb, err_t err);

/// A connection the application serves, as the agent's samples name it.
struct ConnectionPcb {
    const struct tcp_pcb* pcb = nullptr;
    std::uint64_t inode = 0;
};

/// The connections the application serves now.
std::vector<ConnectionPcb> connectionPcbs();

} // namespace tcplab::lwiphelper
