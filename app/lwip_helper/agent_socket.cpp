// The agent's sockets: lwIP's callbacks on their pcbs, and which pcbs still exist.
#include "agent_internal.h"

#include <time.h>

#include <cctype>
#include <cerrno>
#include <thread>

namespace tcplab::lwiphelper::agent {

std::int64_t realtimeNs() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

int errnoOf(err_t e) {
    switch (e) {
    case ERR_OK:
        return 0;
    case ERR_MEM:
        return ENOMEM;
    case ERR_BUF:
        return ENOBUFS;
    case ERR_TIMEOUT:
        return ETIMEDOUT;
    case ERR_RTE:
        return ENETUNREACH;
    case ERR_INPROGRESS:
        return EINPROGRESS;
    case ERR_VAL:
        return EINVAL;
    case ERR_WOULDBLOCK:
        return EAGAIN;
    case ERR_USE:
        return EADDRINUSE;
    case ERR_ALREADY:
        return EALREADY;
    case ERR_ISCONN:
        return EISCONN;
    case ERR_CONN:
        return ENOTCONN;
    case ERR_IF:
        return EIO;
    case ERR_ABRT:
        return ECONNABORTED;
    case ERR_RST:
        return ECONNRESET;
    case ERR_CLSD:
        return ENOTCONN;
    case ERR_ARG:
        return EINVAL;
    default:
        return EIO;
    }
}
bool fromTimer() {
    return g_inClockStep || std::this_thread::get_id() != g_mainThread;
}

void agentSend(const peer::Message& message) {
    if (g_agentOn)
        g_agentOut.push_back(peer::encode(message));
}

// --- lwIP's callbacks on the agent's pcbs ---
namespace {

err_t agentRecv(void* arg, struct tcp_pcb* pcb, struct pbuf* p, err_t) {
    auto* s = static_cast<AgentSocket*>(arg);
    if (!p) {
        if (s)
            s->finReceived = true;
        wake();
        return ERR_OK;
    }
    if (!s || s->drain) {
        // Drained: read and dropped at once, as an application that keeps reading.
        tcp_recved(pcb, p->tot_len);
        pbuf_free(p);
        wake();
        return ERR_OK;
    }
    if (s->receivedAt > 0 && s->receivedAt == s->received.size()) {
        s->received.clear();
        s->receivedAt = 0;
    }
    const std::size_t at = s->received.size();
    s->received.resize(at + p->tot_len);
    pbuf_copy_partial(p, s->received.data() + at, p->tot_len, 0);
    pbuf_free(p);
    // No tcp_recved: the window stays closed by these bytes until the user reads them.
    wake();
    return ERR_OK;
}

err_t agentSent(void*, struct tcp_pcb*, u16_t) {
    wake();
    return ERR_OK;
}

void agentError(void* arg, err_t err) {
    // lwIP has freed the pcb.
    auto* s = static_cast<AgentSocket*>(arg);
    if (!s)
        return;
    s->pcb = nullptr;
    if (err == ERR_CLSD) {
        // Closed normally (our FIN acknowledged after theirs): no error.
    } else if (err == ERR_RST) {
        s->error = s->role == Role::Connecting ? ECONNREFUSED : ECONNRESET;
    } else if (err == ERR_ABRT && fromTimer()) {
        s->error = ETIMEDOUT;
    } else {
        s->error = errnoOf(err);
    }
    if (s->role == Role::Connecting)
        s->role = Role::Failed;
    wake();
}
} // namespace

err_t agentConnected(void* arg, struct tcp_pcb*, err_t) {
    if (auto* s = static_cast<AgentSocket*>(arg))
        s->role = Role::Connected;
    wake();
    return ERR_OK;
}

void attach(AgentSocket& s, struct tcp_pcb* pcb) {
    s.pcb = pcb;
    s.owned = true;
    tcp_arg(pcb, &s);
    tcp_recv(pcb, agentRecv);
    tcp_sent(pcb, agentSent);
    tcp_err(pcb, agentError);
}
void applyOptions(const AgentSocket& s, struct tcp_pcb* pcb) {
    if (s.noDelay)
        tcp_nagle_disable(pcb);
    if (s.keepAlive)
        ip_set_option(pcb, SOF_KEEPALIVE);
    if (s.reuseAddress)
        ip_set_option(pcb, SOF_REUSEADDR);
    if (s.keepIdleMs)
        pcb->keep_idle = *s.keepIdleMs;
    if (s.keepIntervalMs)
        pcb->keep_intvl = *s.keepIntervalMs;
    if (s.keepCount)
        pcb->keep_cnt = *s.keepCount;
}

std::string endpointText(const ip_addr_t& address, u16_t port) {
    char text[IPADDR_STRLEN_MAX] = {};
    ipaddr_ntoa_r(&address, text, sizeof text);
    for (char& c : text) // lwIP writes IPv6 in upper case, inet_ntop (and RFC 5952) lower
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return IP_IS_V6_VAL(address) ? "[" + std::string(text) + "]:" + std::to_string(port)
                                 : std::string(text) + ":" + std::to_string(port);
}

err_t agentAccept(void* arg, struct tcp_pcb* pcb, err_t err) {
    auto* listener = static_cast<AgentSocket*>(arg);
    if (err != ERR_OK || !pcb)
        return ERR_VAL;
    if (!listener || listener->accepted.size() >= kMaxAcceptQueue) {
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    auto c = std::make_unique<AgentSocket>();
    c->ipv6 = listener->ipv6;
    c->role = Role::Connected;
    // As Linux's accept: the options are inherited, O_NONBLOCK is not.
    c->lingerAbort = listener->lingerAbort;
    c->noDelay = listener->noDelay;
    c->keepAlive = listener->keepAlive;
    c->reuseAddress = listener->reuseAddress;
    c->keepIdleMs = listener->keepIdleMs;
    c->keepIntervalMs = listener->keepIntervalMs;
    c->keepCount = listener->keepCount;
    c->remoteText = endpointText(pcb->remote_ip, pcb->remote_port);
    applyOptions(*c, pcb);
    attach(*c, pcb);
    listener->accepted.push_back(std::move(c));
    wake();
    return ERR_OK;
}

// --- Which pcbs still exist ---
PcbArgs walkPcbs() {
    PcbArgs args;
    for (struct tcp_pcb* const* list : {&tcp_active_pcbs, &tcp_tw_pcbs, &tcp_bound_pcbs})
        for (const struct tcp_pcb* p = *list; p; p = p->next)
            args[p] = p->callback_arg;
    for (const struct tcp_pcb_listen* p = tcp_listen_pcbs.listen_pcbs; p; p = p->next)
        args[p] = p->callback_arg;
    return args;
}

bool alive(const PcbArgs& args, const void* pcb, const void* arg) {
    const auto it = args.find(pcb);
    return it != args.end() && it->second == arg;
}
void refresh(AgentSocket& s, const PcbArgs& args) {
    if (s.pcb && s.role != Role::Fresh && !alive(args, s.pcb, &s))
        s.pcb = nullptr;
    for (auto& c : s.accepted)
        refresh(*c, args);
}

void refreshAll() {
    const PcbArgs args = walkPcbs();
    for (auto& [fd, s] : g_sockets)
        refresh(*s, args);
}
bool anyActive() {
    return tcp_active_pcbs != nullptr || tcp_tw_pcbs != nullptr;
}

} // namespace tcplab::lwiphelper::agent
