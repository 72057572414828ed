#include "ui/timeline_csv.h"

#include "peer/call_text.h"
#include "peer/tcp_info.h"
#include "timeline/peer_records.h"

#include <fmt/format.h>

#include <array>

namespace tcplab::ui {

const char* const kPeerCsvHeader =
    "record,time,kind,fd,inode,local,remote,call,result,errno,duration_ns,state,snd_cwnd,"
    "snd_ssthresh,rtt_us,rttvar_us,rto_us,unacked,snd_mss,snd_wnd,rcv_wnd,total_retrans,"
    "receive_queue,send_queue,detail";

namespace {

using F = peer::TcpInfoField;
constexpr std::uint64_t kInfiniteSsthresh = 0x7fffffff;

std::string timeText(std::int64_t ns) {
    const bool negative = ns < 0;
    const std::uint64_t magnitude = negative ? std::uint64_t(0) - static_cast<std::uint64_t>(ns)
                                             : static_cast<std::uint64_t>(ns);
    return fmt::format("{}{}.{:09}", negative ? "-" : "", magnitude / 1'000'000'000u,
                       magnitude % 1'000'000'000u);
}

/// The columns after `time`, in kPeerCsvHeader's order.
enum Col {
    Kind,
    Fd,
    Inode,
    Local,
    Remote,
    CallText,
    Result,
    Errno,
    Duration,
    State,
    Cwnd,
    Ssthresh,
    Rtt,
    Rttvar,
    Rto,
    Unacked,
    SndMss,
    SndWnd,
    RcvWnd,
    TotalRetrans,
    ReceiveQueue,
    SendQueue,
    Detail,
    kCols
};

} // namespace

std::string peerRecordsCsv(const timeline::Timeline& tl) {
    std::string out = kPeerCsvHeader;
    out += "\r\n";
    const std::size_t count = tl.peerSize();
    for (std::size_t i = 0; i < count; ++i) {
        const timeline::PeerRecord& record = tl.peer(i);
        std::array<std::string, kCols> c;
        switch (record.kind) {
        case timeline::PeerRecordKind::Call: {
            c[Kind] = "syscall";
            const auto call = timeline::callRecord(record);
            if (!call) {
                c[Detail] = "malformed record";
                break;
            }
            const peer::Request& q = call->request;
            const peer::Answer& a = call->answer;
            if (q.fd >= 0)
                c[Fd] = std::to_string(q.fd);
            c[CallText] = peer::formatCall(q);
            if (a.outcome == peer::Outcome::Done) {
                c[Result] = std::to_string(a.result);
                if (a.error != 0)
                    c[Errno] = peer::errnoName(a.error);
            } else {
                c[Result] = "refused";
            }
            c[Duration] = std::to_string(a.durationNs);
            c[Detail] = peer::describeCallLine(q, a);
            break;
        }
        case timeline::PeerRecordKind::Sample: {
            c[Kind] = "tcp_info";
            const auto sample = timeline::sampleRecord(record);
            if (!sample || sample->sockets.empty()) {
                c[Detail] = "malformed record";
                break;
            }
            const peer::SocketSample& s = sample->sockets.front();
            if (s.fd >= 0)
                c[Fd] = std::to_string(s.fd);
            c[Inode] = std::to_string(s.inode);
            if (!s.local.empty())
                c[Local] = peer::endpointText(s.local, s.localPort);
            if (!s.remote.empty())
                c[Remote] = peer::endpointText(s.remote, s.remotePort);
            const auto info = peer::TcpInfo::fromPairs(s.fields);
            const auto number = [&info](F f) {
                const auto v = info.get(f);
                return v ? std::to_string(*v) : std::string();
            };
            if (s.gone)
                c[State] = "gone";
            else if (const auto state = info.get(F::State))
                c[State] = peer::linuxStateName(*state);
            c[Cwnd] = number(F::SndCwnd);
            if (const auto ss = info.get(F::SndSsthresh); ss && *ss < kInfiniteSsthresh)
                c[Ssthresh] = std::to_string(*ss);
            c[Rtt] = number(F::Rtt);
            c[Rttvar] = number(F::Rttvar);
            c[Rto] = number(F::Rto);
            c[Unacked] = number(F::Unacked);
            c[SndMss] = number(F::SndMss);
            c[SndWnd] = number(F::SndWnd);
            c[RcvWnd] = number(F::RcvWnd);
            c[TotalRetrans] = number(F::TotalRetrans);
            c[ReceiveQueue] = std::to_string(s.receiveQueue);
            c[SendQueue] = std::to_string(s.sendQueue);
            if (!s.congestion.empty())
                c[Detail] = s.congestion;
            break;
        }
        case timeline::PeerRecordKind::Hello: {
            c[Kind] = "agent";
            if (const auto hello = timeline::helloRecord(record))
                c[Detail] =
                    fmt::format("{} {} (pid {}){}", hello->stack, hello->release, hello->pid,
                                hello->limits.empty() ? "" : "; " + hello->limits);
            break;
        }
        }
        out += fmt::format("{},{}", i, timeText(record.timeNs));
        for (const std::string& field : c) {
            out += ',';
            out += timeline::csvField(field);
        }
        out += "\r\n";
    }
    return out;
}

std::string timelineCsv(const std::vector<timeline::AnalysisRow>& rows,
                        const timeline::Timeline& tl) {
    std::string out = timeline::analysisToCsv(rows);
    if (tl.peerSize() == 0)
        return out;
    out += "\r\n";
    out += peerRecordsCsv(tl);
    return out;
}

} // namespace tcplab::ui
