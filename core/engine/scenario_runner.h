#pragma once

#include "engine/runner.h"
#include "engine/scenario.h"
#include "peer/agent_client.h"
#include "wire/address.h"
#include "wire/frame.h"
#include "wire/segment_spec.h"
#include "wire/seq_num.h"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>

#include <string>
#include <tl/expected.hpp>
#include <vector>

namespace tcplab::engine {

/// Who talks to whom in a scenario, and how.
struct ConnectionParams {
    wire::MacAddress phantomMac;
    wire::MacAddress nextHopMac; ///< the peer's, or the gateway's when off-link
    wire::IpAddress phantom;     ///< same family as peer
    wire::IpAddress peer;
    std::uint16_t sourcePort = 50000; ///< the phantom's port
    /// The peer's port; 0 when the peer opens the connection (passive open: the phantom
    /// listens on sourcePort): learned from the peer's first SYN to sourcePort.
    std::uint16_t destinationPort = 50001;
    wire::SeqNum iss{100};
    std::uint16_t window = 65535;
    std::uint8_t ttl = 64;             ///< IPv4 TTL / IPv6 hop limit
    std::vector<std::uint8_t> request; ///< what "data=request" sends
    /// Retransmission of our own SYN/data/FIN while a later step waits.
    std::int64_t initialRtoNs = 250'000'000; ///< doubled after each retry
    unsigned maxRetransmissions = 6;
    std::uint16_t firstIpId = 1; ///< IPv4 identification of the first segment, +1 per segment
};

/// Where a send step's sequence numbers come from: its seq=/ack= expressions, evaluated
/// against the sender's variables, else SND.NXT and (with ACK) RCV.NXT.
struct SendNumbers {
    std::function<std::optional<wire::SeqNum>(const SeqExpr&)> evaluate;
    wire::SeqNum sndNxt;
    std::optional<wire::SeqNum> rcvNxt;
};

/// The segment `step` makes on `params`' connection now: the MACs, the addresses (TTL or
/// hop limit; DF on IPv4, RFC 9293 §3.7.1), IPv4 identification `ipId`, the ports, the
/// step's flags, seq and ack (an expression that cannot be evaluated yet gives 0), window,
/// options and data. Shared by the runner and the click-through demo (Walkthrough).
wire::SegmentSpec buildSendSegment(const SendStep& step, const ConnectionParams& params,
                                   std::uint16_t ipId, const SendNumbers& numbers);

/// A peer step's call on `params`' connection: its variables replaced, parsed (the
/// error says what is wrong with it).
tl::expected<peer::Request, std::string>
peerRequest(const PeerStep& step, const ConnectionParams& params,
            const std::map<std::string, std::string>& bound = {});
/// Why the answer to a peer step's call is not what the step expects; nullopt when it is.
std::optional<std::string> peerVerdict(const PeerStep& step, const peer::CallRecord& call);
/// The latest sample an expect-peer step looks at, among `sockets` (by inode): the agent's
/// fd of the step, else the peer's end of `params`' connection; nullptr when none.
const peer::SocketSample* peerSocket(const std::map<std::uint64_t, peer::SocketSample>& sockets,
                                     const ExpectPeerStep& step, const ConnectionParams& params,
                                     const std::map<std::string, std::string>& bound = {});
/// The value of the step's field in that sample; nullopt when there is no sample or the
/// stack does not report the field.
std::optional<std::uint64_t> peerValue(const std::map<std::uint64_t, peer::SocketSample>& sockets,
                                       const ExpectPeerStep& step, const ConnectionParams& params,
                                       const std::map<std::string, std::string>& bound = {});
/// Keeps `sockets` (by inode) up to date with a sample.
void updatePeerSockets(std::map<std::uint64_t, peer::SocketSample>& sockets,
                       const peer::Sample& sample);

/// Runs a Scenario as the phantom's side of one TCP connection. Like PhantomHost
/// it does no I/O and owns no clock: it is fed received frames and the time, and
/// appends the frames to send to `out`. The engine drives it from its thread; the
/// tests drive it directly.
///
/// It keeps the phantom's own sequence variables (ISS, SND.UNA, SND.NXT, IRS,
/// RCV.NXT) from what it sent and what the peer sent on this 4-tuple, so steps can
/// refer to them. Only in-order data advances RCV.NXT; anything else is answered
/// with an ACK of RCV.NXT while a receive/wait/linger step runs. The ACK owed for the
/// segment that completes such a step rides on the next step's segment when that is
/// a send carrying the same acknowledgment ("send FA" right after "receive http"
/// acknowledges the response, as a stack does when the application closes at once);
/// otherwise it goes out at once as a pure ACK, before anything else. While a step
/// waits, our oldest unacknowledged SYN/data/FIN is sent again after an RTO
/// (doubling, bounded); when the last RTO expires the step fails. Nothing is sent
/// after a failure, and no ACK or retransmission after a RST either way. Our first SYN
/// sets SND.UNA and SND.NXT from its own seq ("send S seq=1000" starts the sequence
/// space at 1000; `iss` in expressions stays ConnectionParams::iss).
class ScenarioRunner final : public Runner {
public:
    ScenarioRunner(Scenario scenario, ConnectionParams params);

    /// Runs steps until one has to wait.
    void start(std::int64_t nowNs, FrameList& out) override;
    /// Feeds one received frame (anything; only TCP on our 4-tuple matters).
    void onFrame(const wire::Frame& frame, std::int64_t nowNs, FrameList& out) override;
    /// Timeouts and retransmissions.
    void tick(std::int64_t nowNs, FrameList& out) override;
    /// The peer calls the runner's steps make, for the engine to send to the agent (their
    /// ids are kFirstCallId and up); the answers come back through onPeerAnswer().
    std::vector<peer::Request> takePeerRequests() override;
    /// The answer to one of the runner's peer calls (takePeerRequests()).
    void onPeerAnswer(const peer::CallRecord& call, std::int64_t nowNs, FrameList& out) override;
    /// Sockets of the peer whose state changed (what the engine recorded).
    void onPeerSample(const peer::Sample& sample, std::int64_t nowNs, FrameList& out) override;
    std::optional<std::int64_t> nextDeadline() const noexcept override;
    /// Stops at the current step, which fails with `reason`.
    void cancel(std::int64_t nowNs, const std::string& reason) override;

    bool finished() const noexcept override;
    bool succeeded() const noexcept override;
    /// Index of the failed step, if one failed.
    std::optional<std::size_t> failedStep() const noexcept;

    const Scenario& scenario() const noexcept override { return m_scenario; }
    const ConnectionParams& params() const noexcept { return m_params; }
    const std::vector<StepResult>& results() const noexcept override { return m_results; }
    std::vector<ScenarioEvent> takeEvents() override;

    /// The received application bytes, in order (the HTTP response).
    const std::vector<std::uint8_t>& received() const noexcept override { return m_received; }

    /// The variables, for the ladder and the tests.
    wire::SeqNum sndUna() const noexcept { return m_sndUna; }
    wire::SeqNum sndNxt() const noexcept { return m_sndNxt; }
    std::optional<wire::SeqNum> irs() const noexcept { return m_irs; }
    std::optional<wire::SeqNum> rcvNxt() const noexcept { return m_rcvNxt; }
    bool peerFinReceived() const noexcept { return m_peerFin; }

    /// The segment a SendStep makes now (for the GUI's pre-filled editor).
    wire::SegmentSpec buildSegment(const SendStep& step) const;

private:
    /// A segment of ours that took sequence space (SYN, data, FIN) and is not yet
    /// acknowledged: what a retransmission sends again.
    struct Outstanding {
        wire::SegmentSpec spec;
        wire::SeqNum end; ///< seq + data + SYN + FIN
        std::string what; ///< "SYN seq=100", for messages
    };

    void advance(std::int64_t nowNs, FrameList& out);
    void beginStep(std::int64_t nowNs, FrameList& out);
    void checkRunningStep(std::int64_t nowNs);
    void executeSend(const SendStep& step, std::int64_t nowNs, FrameList& out);
    void completeStep(std::int64_t nowNs, std::string message);
    void failStep(std::int64_t nowNs, const std::string& reason);
    void finish(std::int64_t nowNs);
    void retransmit(std::int64_t nowNs, FrameList& out);
    void timeout(std::int64_t nowNs);
    void flushAck(FrameList& out);
    void transmit(wire::SegmentSpec& spec, FrameList& out);
    void noteSeen(const std::string& description);
    void beginPeerStep(const PeerStep& step, std::int64_t nowNs);
    void failBackground(std::size_t step, std::int64_t nowNs, const std::string& reason);
    std::string peerCallText(const PeerStep& step) const;
    std::optional<wire::SeqNum> evaluate(const SeqExpr& expr) const;
    std::string expressionText(const std::optional<SeqExpr>& expr, std::string_view key) const;
    std::string stepLabel(std::size_t index) const;
    std::string retransmissionNote() const;
    bool acksData() const;

    Scenario m_scenario;
    ConnectionParams m_params;
    std::vector<StepResult> m_results;
    std::vector<ScenarioEvent> m_events;
    std::vector<std::uint8_t> m_received;
    std::size_t m_current = 0;
    wire::SeqNum m_sndUna;
    wire::SeqNum m_sndNxt;
    std::optional<wire::SeqNum> m_irs;
    std::optional<wire::SeqNum> m_rcvNxt;
    bool m_peerFin = false;
    bool m_failed = false;
    bool m_started = false;
    bool m_finished = false;
    bool m_synSent = false;        ///< our first SYN sets SND.UNA/SND.NXT (RFC 9293 §3.10.1)
    bool m_aborted = false;        ///< a RST went either way: no more ACKs or retransmissions
    bool m_ackOwed = false;        ///< a pure ACK is due (data/FIN/SYN-ACK while we acknowledge)
    bool m_unacknowledged = false; ///< in-order data or FIN taken while no ACK was due
    std::uint16_t m_ipId = 1;
    std::size_t m_consumed = 0; ///< bytes of received() that earlier responses took
    std::optional<std::int64_t> m_stepDeadline;
    unsigned m_seenCount = 0; ///< peer segments an expect step saw that did not match
    std::string m_lastSeen;
    std::vector<Outstanding> m_outstanding; ///< oldest first
    std::optional<std::int64_t> m_rtxAt;
    std::int64_t m_rto = 0;
    unsigned m_rtxCount = 0; ///< retransmissions of the oldest outstanding segment

    /// Bytes taken in order from the peer since the start (received() keeps them but during
    /// a "receive BYTES" step, which only counts: a bulk transfer is not kept).
    std::uint64_t m_taken = 0;
    std::uint64_t m_bytesTarget = 0;  ///< a "receive BYTES" step completes at this m_taken
    std::uint64_t m_takenCounted = 0; ///< m_taken that earlier "receive BYTES" steps took
    std::vector<peer::Request> m_peerOut;
    std::uint32_t m_nextCallId = kFirstCallId;
    struct PendingCall {
        std::size_t step;
        std::int64_t deadlineNs;
        bool background;
        std::string text; ///< the call as sent
    };
    std::vector<std::pair<std::uint32_t, PendingCall>> m_calls; ///< by id, oldest first
    std::map<std::uint64_t, peer::SocketSample> m_peerSockets;  ///< the latest, by inode
    std::map<std::string, std::string> m_bound;                 ///< "= $NAME" results, by name
    std::int64_t m_peerSampleNs = 0;                            ///< when m_peerSockets last changed
};

} // namespace tcplab::engine
