#pragma once

// The GUI's CSV export of a timeline: the segments as `tcplab-cli analyze` writes them,
// then the peer agent's calls and samples in a second section of their own.
//
// The first section is timeline::analysisToCsv's, byte for byte (its header begins
// "frame,time,direction,"). When the timeline holds peer records, an empty line follows,
// then the peer section: its header (kPeerCsvHeader)
//
//   record,time,kind,fd,inode,local,remote,call,result,errno,duration_ns,state,snd_cwnd,
//   snd_ssthresh,rtt_us,rttvar_us,rto_us,unacked,snd_mss,snd_wnd,rcv_wnd,total_retrans,
//   receive_queue,send_queue,detail
//
// and one row per peer record, in timeline order (a call is recorded when its answer came,
// at the time it began). `kind` is as in the JSON export:
// - syscall: fd, call (the call grammar: "connect 3 198.18.0.2 40000"), result (or
//   "refused"), errno (its name), duration_ns, detail (the strace-like line);
// - tcp_info: fd (empty when another program owns the socket), inode, local, remote, state
//   (as RFC 9293 spells it, or "gone"), the kernel's numbers (rtt, rttvar and rto in
//   microseconds as struct tcp_info has them; snd_ssthresh empty while infinite), the
//   queues, detail (the congestion control);
// - agent: detail (the stack, its release, the pid, what it cannot do).
// Columns that do not apply to a kind are empty. Times are seconds since the epoch with nine
// decimals, as in the segment rows; fields are quoted as RFC 4180 says, lines end in CRLF.

#include "timeline/analysis.h"
#include "timeline/timeline.h"

#include <string>
#include <vector>

namespace tcplab::ui {

/// The peer section's header line, without its line end.
extern const char* const kPeerCsvHeader;

/// The peer records [0, timeline.peerSize()) as CSV, header first (RFC 4180, CRLF).
std::string peerRecordsCsv(const timeline::Timeline& timeline);
/// The whole export: analysisToCsv(rows), then an empty line and peerRecordsCsv(timeline)
/// when there are peer records.
std::string timelineCsv(const std::vector<timeline::AnalysisRow>& rows,
                        const timeline::Timeline& timeline);

} // namespace tcplab::ui
