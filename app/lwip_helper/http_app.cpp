#include "http_app.h"

#include "lab/http_rules.h"
#include "peer/pattern.h"

extern "C" {
#include <lwip/opt.h> // first of lwIP's, inside extern "C": lwipopts.h declares the core lock

#include <lwip/pbuf.h>
#include <lwip/sys.h>
#include <lwip/tcp.h>
}

#include <algorithm>
#include <array>
#include <cstddef>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <utility>

namespace tcplab::lwiphelper {
namespace {

constexpr std::size_t kMaxConnections = 64;
constexpr std::uint32_t kIdleTimeoutMs = 10 * 60 * 1000;
/// tcp_poll interval, in TCP coarse timer ticks (500 ms).
constexpr u8_t kPollTicks = 4;
// As the lab's server (core/lab/peer_app.h: PeerAppOptions::maxRequestBytes).
constexpr std::size_t kMaxRequestBytes = 65536;
/// Echo stops opening its receive window while this much waits to go back.
constexpr std::size_t kMaxPendingOutput = 1 << 20;

using HttpRequest = tcplab::lab::http::Request;

struct Connection {
    struct tcp_pcb* pcb = nullptr;
    std::uint64_t inode = newInode();
    std::uint16_t port = 0;
    Service service = Service::Http;
    std::string in;
    std::string out; ///< to hand to lwIP: echo's data, or the front response's text
    /// HTTP: responses not (all) handed to lwIP yet, in order; of the front one,
    /// patternAt pattern bytes are.
    std::deque<tcplab::lab::http::Response> queued;
    std::uint64_t patternAt = 0;
    unsigned requests = 0;
    std::optional<HttpRequest> awaiting;
    bool peerFinished = false;
    bool closeAfterOut = false;
    bool shutDown = false;
    bool done = false;
    std::size_t held = 0; ///< echo: received bytes whose window is not yet reopened
    u32_t lastActivity = 0;

    bool sending() const noexcept { return !out.empty() || !queued.empty(); }
};

std::set<Connection*> g_connections;

void answerHttp(Connection& c) {
    const HttpRequest request = std::move(*c.awaiting);
    c.awaiting.reset();
    // GET /bytes/N's body stays a count: flush() makes its bytes as lwIP takes them.
    c.queued.push_back(tcplab::lab::http::plan(request, c.port, c.requests));
    if (!request.persistent) {
        c.closeAfterOut = true;
        c.in.clear();
    }
}

void handleHttp(Connection& c) {
    while (!c.closeAfterOut && !c.done) {
        if (c.awaiting) {
            const std::size_t length = *c.awaiting->bodyLength;
            if (c.in.size() < length) {
                if (c.peerFinished && !c.sending())
                    c.done = true;
                return;
            }
            c.in.erase(0, length);
            answerHttp(c);
            continue;
        }
        auto taken = tcplab::lab::http::takeRequest(c.in, kMaxRequestBytes, c.requests + 1);
        if (!taken) {
            if (c.peerFinished && !c.in.empty() && !c.sending())
                c.done = true;
            return;
        }
        ++c.requests;
        HttpRequest request = std::move(*taken);
        c.awaiting = std::move(request);
        if (!c.awaiting->persistent)
            answerHttp(c);
    }
}

err_t onRecv(void* arg, struct tcp_pcb* pcb, struct pbuf* p, err_t err);
err_t onSent(void* arg, struct tcp_pcb* pcb, u16_t len);
err_t onPoll(void* arg, struct tcp_pcb* pcb);
void onError(void* arg, err_t err);

/// Forgets the connection and lets lwIP finish it (FIN, or RST if close fails); the
/// samples follow the pcb on as an orphan.
err_t closeConnection(Connection* c) {
    struct tcp_pcb* pcb = c->pcb;
    orphan(pcb, c->inode);
    g_connections.erase(c);
    delete c;
    if (tcp_close(pcb) != ERR_OK) {
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    return ERR_OK;
}

/// Hands lwIP as much as its send buffer takes: `out` first, then the front response's
/// text and its pattern bytes, generated now, then the next response.
void flush(Connection& c) {
    std::array<std::uint8_t, 0xffff> chunk{};
    bool wrote = false;
    for (;;) {
        if (c.out.empty() && !c.queued.empty() && !c.queued.front().text.empty())
            c.out.swap(c.queued.front().text);
        const std::size_t room = tcp_sndbuf(c.pcb);
        if (room == 0)
            break;
        if (!c.out.empty()) {
            const auto n = static_cast<u16_t>(std::min<std::size_t>({c.out.size(), room, 0xffff}));
            if (tcp_write(c.pcb, c.out.data(), n, TCP_WRITE_FLAG_COPY) != ERR_OK)
                break; // the segment queue is full: tcp_sent brings us back
            c.out.erase(0, n);
            wrote = true;
            continue;
        }
        if (c.queued.empty())
            break;
        auto& front = c.queued.front();
        const std::uint64_t left = front.patternBytes - c.patternAt;
        if (left == 0) {
            c.queued.pop_front();
            c.patternAt = 0;
            continue;
        }
        const auto n = static_cast<u16_t>(std::min<std::uint64_t>({left, room, chunk.size()}));
        tcplab::peer::fillPattern(chunk.data(), n, c.patternAt);
        if (tcp_write(c.pcb, chunk.data(), n, TCP_WRITE_FLAG_COPY) != ERR_OK)
            break;
        c.patternAt += n;
        wrote = true;
    }
    if (wrote)
        tcp_output(c.pcb);
    if (c.service == Service::Echo && c.held > 0 && c.out.size() < kMaxPendingOutput) {
        tcp_recved(c.pcb, static_cast<u16_t>(c.held));
        c.held = 0;
    }
}

/// What follows once the output is handed over: our FIN after a closing response, the
/// close after the client's FIN.
err_t settle(Connection* c) {
    flush(*c);
    if (!c->sending() && c->closeAfterOut && !c->shutDown) {
        tcp_shutdown(c->pcb, 0, 1);
        c->shutDown = true;
    }
    if (c->done || (!c->sending() && c->peerFinished))
        return closeConnection(c);
    return ERR_OK;
}

err_t onRecv(void* arg, struct tcp_pcb* pcb, struct pbuf* p, err_t err) {
    auto* c = static_cast<Connection*>(arg);
    if (!c) {
        if (p) {
            tcp_recved(pcb, p->tot_len);
            pbuf_free(p);
        }
        return ERR_OK;
    }
    c->lastActivity = sys_now();
    if (err != ERR_OK || !p) {
        if (p)
            pbuf_free(p);
        c->peerFinished = true;
        if (c->service == Service::Http)
            handleHttp(*c);
        return settle(c);
    }
    std::string data(p->tot_len, '\0');
    pbuf_copy_partial(p, data.data(), p->tot_len, 0);
    const u16_t length = p->tot_len;
    pbuf_free(p);
    switch (c->service) {
    case Service::Discard:
        tcp_recved(pcb, length);
        break;
    case Service::Echo:
        c->out += data;
        if (c->out.size() < kMaxPendingOutput)
            tcp_recved(pcb, length);
        else
            c->held += length;
        break;
    case Service::Http:
        tcp_recved(pcb, length);
        if (!c->closeAfterOut)
            c->in += data;
        handleHttp(*c);
        break;
    }
    return settle(c);
}

err_t onSent(void* arg, struct tcp_pcb*, u16_t) {
    auto* c = static_cast<Connection*>(arg);
    if (!c)
        return ERR_OK;
    c->lastActivity = sys_now(); // a transfer that moves is not idle
    return settle(c);
}

err_t onPoll(void* arg, struct tcp_pcb*) {
    auto* c = static_cast<Connection*>(arg);
    if (!c)
        return ERR_OK;
    if (sys_now() - c->lastActivity >= kIdleTimeoutMs)
        c->done = true;
    return settle(c);
}

void onError(void* arg, err_t) {
    // The pcb is gone already (RST from the client, or lwIP gave up).
    auto* c = static_cast<Connection*>(arg);
    if (c) {
        g_connections.erase(c);
        delete c;
    }
}

} // namespace

err_t onAccept(void* arg, struct tcp_pcb* pcb, err_t err) {
    if (err != ERR_OK || !pcb)
        return ERR_VAL;
    const auto* listener = static_cast<const Listener*>(arg);
    if (g_connections.size() >= kMaxConnections) {
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    auto* c = new Connection;
    c->pcb = pcb;
    c->port = listener->port;
    c->service = listener->service;
    c->lastActivity = sys_now();
    g_connections.insert(c);
    tcp_arg(pcb, c);
    tcp_recv(pcb, onRecv);
    tcp_sent(pcb, onSent);
    tcp_poll(pcb, onPoll, kPollTicks);
    tcp_err(pcb, onError);
    wake(); // the agent's sampler may have a new connection to follow
    return ERR_OK;
}

std::vector<ConnectionPcb> connectionPcbs() {
    std::vector<ConnectionPcb> all;
    all.reserve(g_connections.size());
    for (const auto* c : g_connections)
        all.push_back({c->pcb, c->inode});
    return all;
}

} // namespace tcplab::lwiphelper
