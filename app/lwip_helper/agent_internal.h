#pragma once

// The peer agent's parts share these (agent.h says what the agent does):
//   agent.cpp          what the main loop calls: the channel, the steady samples, start-up
//   agent_socket.cpp   the sockets, lwIP's callbacks on their pcbs, which pcbs still exist
//   agent_samples.cpp  the samples: pcbs as struct tcp_info fields
//   agent_calls.cpp    the calls, and the blocking ones waiting to complete
// Everything runs under lwIP's core lock.

#include "agent.h"

#include "peer/agent_protocol.h"

extern "C" {
#include <lwip/opt.h> // first of lwIP's, inside extern "C": lwipopts.h declares the core lock

#include <lwip/init.h>
#include <lwip/ip_addr.h>
#include <lwip/pbuf.h>
#include <lwip/priv/tcp_priv.h>
#include <lwip/sys.h>
#include <lwip/tcp.h>
#include <lwip/tcpip.h>
}

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tcplab::lwiphelper::agent {

namespace peer = tcplab::peer;

/// Connections a listening socket holds for accept(): lwIP is built without
/// TCP_LISTEN_BACKLOG, so this is the agent's own bound; more are reset.
constexpr std::size_t kMaxAcceptQueue = 128;

/// Where a socket is in its life, as the socket API sees it.
enum class Role : std::uint8_t {
    Fresh,      ///< made, not bound
    Bound,      ///< bound, neither listening nor connecting
    Listening,  ///< pcb is a tcp_pcb_listen
    Connecting, ///< SYN sent
    Connected,  ///< established once (it may have ended since)
    Failed,     ///< a connect that failed: it may connect again, on a new pcb
};

/// One of the agent's sockets: a pcb, its role, and what the socket layer of a kernel
/// would keep beside it (received bytes not read, a pending error, options).
struct AgentSocket {
    std::int32_t fd = -1; ///< -1 while in a listener's queue
    std::uint64_t inode = newInode();
    bool ipv6 = false; ///< AF_INET6 (a dual-stack pcb)
    /// nullptr once lwIP freed it; while `owned` the agent calls lwIP on it, else lwIP
    /// finishes it alone (after shutdown RDWR) and the samples only watch it.
    struct tcp_pcb* pcb = nullptr;
    bool owned = true;
    Role role = Role::Fresh;
    bool nonBlocking = false;
    bool drain = false;
    bool lingerAbort = false;
    bool noDelay = false;
    bool keepAlive = false;
    bool reuseAddress = false;
    std::optional<u32_t> keepIdleMs, keepIntervalMs, keepCount;
    std::deque<std::unique_ptr<AgentSocket>> accepted; ///< listening: not yet accepted
    std::string remoteText;                            ///< "198.18.0.2:50000"
    std::string received; ///< bytes arrived, not read, from receivedAt on
    std::size_t receivedAt = 0;
    bool finReceived = false;
    bool shutRead = false;
    bool shutWrite = false;
    int error = 0;             ///< the pending error (SO_ERROR), reported once
    std::uint64_t written = 0; ///< bytes given to lwIP: the pattern's offset
    /// The last endpoints sampled, for the samples after the pcb is gone.
    peer::SocketSample last;

    std::size_t unread() const noexcept { return received.size() - receivedAt; }
    /// The pcb, when the agent may call lwIP on it.
    struct tcp_pcb* live() const noexcept {
        return owned ? pcb : nullptr;
    }
    int takeError() noexcept { return std::exchange(error, 0); }
};

inline std::map<int, std::unique_ptr<AgentSocket>> g_sockets;
/// Messages encoded, waiting for tcplab to read them.
inline std::deque<std::vector<std::uint8_t>> g_agentOut;

// agent_socket.cpp
std::int64_t realtimeNs();
/// The errno a Linux socket gives for lwIP's `e` (see the table in agent.h).
int errnoOf(err_t e);
/// Whether the running callback comes from lwIP's timers (tcp_slowtmr gives up).
bool fromTimer();
void agentSend(const peer::Message& message);
/// Makes `s` the owner of `pcb`, with the agent's callbacks on it.
void attach(AgentSocket& s, struct tcp_pcb* pcb);
/// The options kept on the socket, onto a (new or accepted) pcb.
void applyOptions(const AgentSocket& s, struct tcp_pcb* pcb);
/// "198.18.0.2:50000", "[2001:db8::2]:50000".
std::string endpointText(const ip_addr_t& address, u16_t port);
err_t agentConnected(void* arg, struct tcp_pcb* pcb, err_t err);
err_t agentAccept(void* arg, struct tcp_pcb* pcb, err_t err);

/// Every pcb in lwIP's lists and its callback_arg: a pointer we hold is alive only if it
/// is here with the arg we gave it.
using PcbArgs = std::unordered_map<const void*, const void*>;
PcbArgs walkPcbs();
bool alive(const PcbArgs& args, const void* pcb, const void* arg);
/// Forgets pcbs lwIP freed without a callback (TIME-WAIT over, a close after
/// shutdown(SHUT_RD), ...). A fresh pcb is in no list, and nothing frees it.
void refresh(AgentSocket& s, const PcbArgs& args);
void refreshAll();
/// Any pcb neither LISTEN nor CLOSED (those are in the active and TIME-WAIT lists).
bool anyActive();

// agent_samples.cpp
/// Every pcb the helper knows, now.
std::vector<peer::SocketSample> snapshot();
/// Sends the sockets that changed since they were last sent (every one when `all`), and
/// those gone since (gone = true, once).
void emitSamples(const std::vector<peer::SocketSample>& now, std::uint32_t after, bool all);

// agent_calls.cpp
/// A request from tcplab: answered now, or parked until it can complete.
void handleRequest(peer::Request q);
/// Answers the parked calls that can complete now.
void progressParked();
/// The earliest deadline of a parked poll (lwIP's clock), if one waits.
std::optional<u32_t> parkedDeadline();

} // namespace tcplab::lwiphelper::agent
