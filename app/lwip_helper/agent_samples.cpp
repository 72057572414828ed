// The agent's samples: every pcb the helper knows, as struct tcp_info fields (agent.h
// lists which).
#include "agent_internal.h"

#include "http_app.h"

#include "peer/tcp_info.h"

#include <algorithm>
#include <cstring>
#include <set>

namespace tcplab::lwiphelper::agent {

namespace {

std::uint64_t linuxState(enum tcp_state state) {
    switch (state) {
    case CLOSED:
        return 7;
    case LISTEN:
        return 10;
    case SYN_SENT:
        return 2;
    case SYN_RCVD:
        return 3;
    case ESTABLISHED:
        return 1;
    case FIN_WAIT_1:
        return 4;
    case FIN_WAIT_2:
        return 5;
    case CLOSE_WAIT:
        return 8;
    case CLOSING:
        return 11;
    case LAST_ACK:
        return 9;
    case TIME_WAIT:
        return 6;
    }
    return 7;
}

std::vector<std::uint8_t> addressBytes(const ip_addr_t& a) {
    std::vector<std::uint8_t> bytes;
    if (IP_IS_V4_VAL(a)) {
        const u32_t v = ip4_addr_get_u32(ip_2_ip4(&a)); // network order in memory
        bytes.resize(4);
        std::memcpy(bytes.data(), &v, 4);
    } else {
        bytes.resize(16);
        std::memcpy(bytes.data(), ip_2_ip6(&a)->addr, 16);
    }
    return bytes;
}

/// Endpoints, from the members every pcb type shares.
template <typename Pcb>
void endpoints(const Pcb& pcb, peer::SocketSample& s) {
    s.ipv6 = !IP_IS_V4_VAL(pcb.local_ip);
    if (pcb.local_port != 0) {
        s.local = addressBytes(pcb.local_ip);
        s.localPort = pcb.local_port;
    }
}

peer::SocketSample describeListener(const struct tcp_pcb_listen& pcb, std::uint64_t inode,
                                    std::int32_t fd, std::uint32_t waiting) {
    peer::SocketSample s;
    s.inode = inode;
    s.fd = fd;
    endpoints(pcb, s);
    s.receiveQueue = waiting;
    peer::TcpInfo info;
    info.set(peer::TcpInfoField::State, linuxState(pcb.state));
    s.fields = info.pairs();
    return s;
}

/// A tcp_pcb's own variables in tcp_info's fields and units (see agent.h).
peer::SocketSample describePcb(const struct tcp_pcb& pcb, std::uint64_t inode, std::int32_t fd,
                               std::optional<std::uint32_t> unread) {
    using F = peer::TcpInfoField;
    peer::SocketSample s;
    s.inode = inode;
    s.fd = fd;
    endpoints(pcb, s);
    peer::TcpInfo info;
    info.set(F::State, linuxState(pcb.state));
    if (pcb.state != CLOSED) {
        if (pcb.remote_port != 0) {
            s.remote = addressBytes(pcb.remote_ip);
            s.remotePort = pcb.remote_port;
        }
        s.congestion = "lwip-reno";
        constexpr std::uint64_t kTickUs = TCP_SLOW_INTERVAL * 1000;
        const bool synchronized = pcb.state >= ESTABLISHED;
        info.set(F::Retransmits, pcb.nrtx);
        info.set(F::Rto, std::uint64_t(std::max<int>(pcb.rto, 0)) * kTickUs);
        info.set(F::SndMss, pcb.mss);
        std::uint64_t unacked = 0;
        for (const struct tcp_seg* seg = pcb.unacked; seg; seg = seg->next)
            ++unacked;
        info.set(F::Unacked, unacked);
        std::uint64_t notSent = 0;
        for (const struct tcp_seg* seg = pcb.unsent; seg; seg = seg->next)
            notSent += seg->len;
        info.set(F::NotsentBytes, notSent);
        info.set(F::RcvWnd, pcb.rcv_wnd);
        if (pcb.state >= SYN_RCVD)
            info.set(F::SndWnd, pcb.snd_wnd);
        if (synchronized) {
            const std::uint64_t mss = std::max<u16_t>(pcb.mss, 1);
            info.set(F::CaState, (pcb.flags & TF_INFR) ? 3 : (pcb.flags & TF_RTO) ? 4 : 0);
            info.set(F::Probes, pcb.persist_backoff > 0 ? pcb.persist_probe : pcb.keep_cnt_sent);
            const bool scaled = (pcb.flags & TF_WND_SCALE) != 0;
            info.set(F::Options, scaled ? 4 : 0); // TCPI_OPT_WSCALE
            if (scaled) {
                info.set(F::SndWscale, pcb.snd_scale);
                info.set(F::RcvWscale, pcb.rcv_scale);
            }
            // sa is 8 x SRTT, sv 4 x RTTVAR, both in ticks (tcp_in.c, after Van Jacobson).
            info.set(F::Rtt, std::uint64_t(std::max<int>(pcb.sa, 0)) * kTickUs / 8);
            info.set(F::Rttvar, std::uint64_t(std::max<int>(pcb.sv, 0)) * kTickUs / 4);
            info.set(F::SndSsthresh, pcb.ssthresh / mss);
            info.set(F::SndCwnd, pcb.cwnd / mss);
            s.sendQueue = pcb.snd_lbb - pcb.lastack;
        }
        s.receiveQueue = unread ? *unread : std::uint32_t(TCP_WND_MAX(&pcb) - pcb.rcv_wnd);
    }
    s.fields = info.pairs();
    return s;
}

peer::SocketSample describeSocket(AgentSocket& s) {
    peer::SocketSample out;
    if (s.pcb && s.role == Role::Listening) {
        out = describeListener(*reinterpret_cast<const struct tcp_pcb_listen*>(s.pcb), s.inode,
                               s.fd, static_cast<std::uint32_t>(s.accepted.size()));
    } else if (s.pcb) {
        out = describePcb(*s.pcb, s.inode, s.fd, static_cast<std::uint32_t>(s.unread()));
    } else {
        // The pcb is gone, the socket is not: CLOSE, as Linux shows a reset socket.
        out.inode = s.inode;
        out.fd = s.fd;
        out.ipv6 = s.last.ipv6;
        out.local = s.last.local;
        out.localPort = s.last.localPort;
        out.remote = s.last.remote;
        out.remotePort = s.last.remotePort;
        out.receiveQueue = static_cast<std::uint32_t>(s.unread());
        peer::TcpInfo info;
        info.set(peer::TcpInfoField::State, 7);
        out.fields = info.pairs();
    }
    s.last = out;
    return out;
}

std::map<std::uint64_t, peer::SocketSample> g_lastSent;
} // namespace

std::vector<peer::SocketSample> snapshot() {
    const PcbArgs args = walkPcbs();
    std::vector<peer::SocketSample> all;
    for (auto& [fd, s] : g_sockets) {
        refresh(*s, args);
        all.push_back(describeSocket(*s));
        for (auto& c : s->accepted)
            all.push_back(describeSocket(*c));
    }
    for (const auto& c : connectionPcbs())
        if (c.pcb)
            all.push_back(describePcb(*c.pcb, c.inode, -1, std::nullopt));
    for (const auto& l : g_listeners)
        if (l.pcb)
            all.push_back(describeListener(*reinterpret_cast<const struct tcp_pcb_listen*>(l.pcb),
                                           l.inode, -1, 0));
    for (auto it = g_orphans.begin(); it != g_orphans.end();) {
        if (alive(args, (*it)->pcb, it->get())) {
            all.push_back(describePcb(*(*it)->pcb, (*it)->inode, -1, std::nullopt));
            ++it;
        } else {
            it = g_orphans.erase(it);
        }
    }
    return all;
}
void emitSamples(const std::vector<peer::SocketSample>& now, std::uint32_t after, bool all) {
    std::vector<peer::SocketSample> out;
    std::set<std::uint64_t> seen;
    for (const auto& s : now) {
        seen.insert(s.inode);
        const auto it = g_lastSent.find(s.inode);
        if (all || it == g_lastSent.end() || it->second != s) {
            out.push_back(s);
            g_lastSent[s.inode] = s;
        }
    }
    for (auto it = g_lastSent.begin(); it != g_lastSent.end();) {
        if (seen.count(it->first)) {
            ++it;
            continue;
        }
        peer::SocketSample gone = it->second;
        gone.gone = true;
        gone.fields.clear();
        gone.receiveQueue = 0;
        gone.sendQueue = 0;
        out.push_back(std::move(gone));
        it = g_lastSent.erase(it);
    }
    if (out.empty() && !all)
        return;
    const std::int64_t time = realtimeNs();
    std::size_t at = 0;
    do {
        peer::Sample sample;
        sample.timeNs = time;
        sample.after = after;
        const std::size_t n = std::min(out.size() - at, peer::kMaxSampleSockets);
        sample.sockets.assign(out.begin() + static_cast<std::ptrdiff_t>(at),
                              out.begin() + static_cast<std::ptrdiff_t>(at + n));
        at += n;
        agentSend(sample);
    } while (at < out.size());
}

} // namespace tcplab::lwiphelper::agent
