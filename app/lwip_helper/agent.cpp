// The peer agent, the main loop's side: the channel on fd 4, the steady samples, start-up.
// The sockets are agent_socket.cpp's, the samples agent_samples.cpp's, the calls
// agent_calls.cpp's (agent_internal.h).
#include "agent_internal.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <variant>

namespace tcplab::lwiphelper {

using namespace agent;

namespace {

/// Messages waiting for tcplab to read them; over this, steady samples are skipped (the
/// next one carries what changed) and answers still queue.
constexpr std::size_t kMaxAgentQueue = 4096;
constexpr u32_t kSampleIntervalMs = 10;

/// The sentence of Hello::limits.
constexpr const char* kLimits =
    "lwIP 2.1.3 on its raw API, as Debian builds it, has no TCP_CORK, TCP_QUICKACK, "
    "TCP_USER_TIMEOUT or TCP_CONGESTION (its one congestion control is Reno), SO_LINGER only "
    "as 1,0 (close aborts with a RST), SO_RCVBUF, SO_SNDBUF and TCP_MAXSEG fixed at build time "
    "(TCP_WND and TCP_SND_BUF 65535 bytes, TCP_MSS 1460), no listen backlog, no SACK, no "
    "timestamps, no sysctls, no ioctls and no getsockopt TCP_INFO: its tcp_pcb's variables come "
    "in the samples, snd_cwnd and snd_ssthresh converted from bytes to segments of its MSS, "
    "rto, rtt and rttvar from its 500 ms timer ticks, without total_retrans (lwIP counts only "
    "the retransmissions of one segment); MSG_MORE only leaves PSH off, and after "
    "shutdown(SHUT_RD) lwIP answers arriving data with a RST";

u32_t g_lastSampleMs = 0;
/// Whether the last steady sample saw a connection: one more is taken after the last
/// one ends, to say it is gone.
bool g_wasActive = false;

} // namespace

// --- What the main loop calls ---

void flushAgent() {
    while (g_agentOn && !g_agentOut.empty()) {
        const auto& m = g_agentOut.front();
        const ssize_t n = ::send(kAgentFd, m.data(), m.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
                return;
            g_agentOn = false; // tcplab closed its end: the lab goes on without the agent
            g_agentOut.clear();
            return;
        }
        g_agentOut.pop_front();
    }
}

bool agentOutputWaiting() {
    return !g_agentOut.empty();
}

void steadySample() {
    if (!g_agentOn || !(anyActive() || g_wasActive))
        return;
    const u32_t now = sys_now();
    if (now - g_lastSampleMs < kSampleIntervalMs)
        return;
    g_lastSampleMs = now;
    g_wasActive = anyActive();
    if (g_agentOut.size() >= kMaxAgentQueue)
        return; // tcplab is not reading: the next sample carries the changes
    emitSamples(snapshot(), 0, false);
}

void progress() {
    progressParked();
}

std::optional<u32_t> nextDueMs() {
    std::optional<u32_t> due;
    const auto earliest = [&due](u32_t t) {
        if (!due || static_cast<std::int32_t>(t - *due) < 0)
            due = t;
    };
    if (const auto poll = parkedDeadline())
        earliest(*poll);
    if (g_agentOn && (anyActive() || g_wasActive))
        earliest(g_lastSampleMs + kSampleIntervalMs);
    return due;
}

void readRequests(std::vector<std::uint8_t>& buffer, int max) {
    for (int i = 0; i < max && g_agentOn; ++i) {
        const ssize_t n = ::recv(kAgentFd, buffer.data(), buffer.size(), MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                g_agentOn = false;
            return;
        }
        if (n == 0) {
            g_agentOn = false; // tcplab is done with the agent; the lab goes on
            return;
        }
        if (static_cast<std::size_t>(n) > buffer.size())
            continue; // over the protocol's limit: not a message
        auto message = peer::decode({buffer.data(), static_cast<std::size_t>(n)});
        if (!message) {
            std::fprintf(stderr, "tcplab-lwip-helper: agent: %s\n",
                         message.error().message.c_str());
            continue;
        }
        if (auto* request = std::get_if<peer::Request>(&*message)) {
            LOCK_TCPIP_CORE();
            handleRequest(std::move(*request));
            UNLOCK_TCPIP_CORE();
        }
    }
}

void startAgent() {
    int type = 0;
    socklen_t length = sizeof type;
    if (::getsockopt(kAgentFd, SOL_SOCKET, SO_TYPE, &type, &length) != 0 ||
        type != SOCK_SEQPACKET) {
        std::fprintf(stderr, "tcplab-lwip-helper: --agent: fd 4 is not a SOCK_SEQPACKET socket; "
                             "the lab goes on without its agent\n");
        return;
    }
    g_agentOn = true;
    peer::Hello hello;
    hello.stack = "lwip";
    hello.release = LWIP_VERSION_STRING;
    hello.pid = static_cast<std::int32_t>(::getpid());
    hello.limits = kLimits;
    agentSend(hello);
    flushAgent();
}

} // namespace tcplab::lwiphelper
