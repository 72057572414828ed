#pragma once

// The peer agent: socket calls on lwIP's raw API, on fd 4 (--agent; main.cpp says what
// it does).
//
// Everything here runs in the main thread under the core lock, but lwIP's callbacks,
// which may also run in the tcpip thread (its timers; under the lock too): they only
// change a socket's state and wake the main loop, which answers the calls that can
// complete (progress()). A blocking call is answered when it completes; later requests
// are answered meanwhile.
//
// lwIP's err_t as the errno a Linux socket gives (errnoOf(), and the call-specific cases):
//
//   ERR_OK 0              ERR_MEM ENOMEM (tcp_write: EAGAIN, its queue is full)
//   ERR_BUF ENOBUFS       (bind/connect with no free port: EADDRNOTAVAIL)
//   ERR_TIMEOUT ETIMEDOUT ERR_RTE ENETUNREACH        ERR_INPROGRESS EINPROGRESS
//   ERR_VAL EINVAL        ERR_WOULDBLOCK EAGAIN      ERR_USE EADDRINUSE
//   ERR_ALREADY EALREADY  ERR_ISCONN EISCONN         ERR_CONN ENOTCONN
//   ERR_IF EIO            ERR_ARG EINVAL             ERR_CLSD ENOTCONN
//   ERR_RST ECONNRESET    (to a SYN it sent: ECONNREFUSED)
//   ERR_ABRT ECONNABORTED (from lwIP's timers, which give up after TCP_MAXRTX or
//                          TCP_SYNMAXRTX retransmissions or unanswered keep-alives:
//                          ETIMEDOUT, as Linux says)
//   ERR_CLSD in the err callback is no error: the connection ended normally (LAST-ACK).
//
// The samples' tcp_info fields (core/peer/tcp_info.h), from the tcp_pcb, only those lwIP
// keeps: state (lwIP's enum tcp_state in Linux's numbering), ca_state (Open; Recovery in
// fast recovery, TF_INFR; Loss after an RTO, TF_RTO), retransmits (nrtx: retransmissions
// of the oldest unacknowledged segment; lwIP counts no total_retrans), probes
// (persist_probe or keep_cnt_sent), options (window scaling, TF_WND_SCALE) with
// snd_wscale/rcv_wscale, rto (in 500 ms ticks of TCP_SLOW_INTERVAL, given in us), snd_mss
// (mss), unacked (segments on pcb->unacked), rtt and rttvar (sa/8 and sv/4, Van
// Jacobson's scaled estimators in the same ticks, given in us: 0 on a fast link, where
// every RTT is under one tick), snd_ssthresh and snd_cwnd (bytes, given in segments of
// mss), notsent_bytes (pcb->unsent), snd_wnd and rcv_wnd (pcb->rcv_wnd: the window still
// free). Congestion control "lwip-reno": lwIP 2.1.3 leaves fast recovery on the first new
// ACK (tcp_in.c), which is Reno (RFC 5681), not NewReno.

#include "lwip_state.h"

#include <cstdint>
#include <optional>
#include <thread>
#include <vector>

namespace tcplab::lwiphelper {

constexpr int kAgentFd = 4;

/// Whether the agent runs: from startAgent() until fd 4 fails or tcplab closes its end.
inline bool g_agentOn = false;
/// The thread main() runs the frame loop in; lwIP's own is the tcpip thread.
inline std::thread::id g_mainThread;
/// Set while clockFrame() runs lwIP's timers in the main thread.
inline bool g_inClockStep = false;

/// Writes the queued messages; stops at a full socket (POLLOUT brings us back).
void flushAgent();

/// Whether messages wait for fd 4 to take them.
bool agentOutputWaiting();

/// The steady rate: every kSampleIntervalMs of lwIP's clock while a connection lives.
void steadySample();

/// Answers the waiting calls that can complete now.
void progress();

/// The next moment (lwIP's clock) the main loop must look: a poll's timeout or the next
/// steady sample; nullopt when nothing is due.
std::optional<u32_t> nextDueMs();

/// Handles the requests that wait on fd 4 (at most `max`); the agent ends when tcplab
/// closes its end.
void readRequests(std::vector<std::uint8_t>& buffer, int max);

/// Says Hello on fd 4, if it is a SOCK_SEQPACKET socket; the lab goes on without the
/// agent when it is not. Under the core lock.
void startAgent();

} // namespace tcplab::lwiphelper
