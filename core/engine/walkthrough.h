#pragma once

#include "engine/scenario.h"
#include "engine/scenario_runner.h"
#include "peer/agent_client.h"
#include "tcp/tracker.h"
#include "tcp/tutor.h"
#include "wire/segment_spec.h"
#include "wire/seq_num.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace tcplab::engine {

/// The click-through handshake demo without a GUI: one Scenario (the same data the CLI
/// runs, e.g. classicScenario(CloseMode::Fin)) walked one click at a time.
///
/// A Send step offers the segment the scenario would send now (prefill), resolved from
/// what was actually on the wire: the connection tracker's view of the phantom's end
/// (ISS, SND.NXT, IRS, RCV.NXT), not from what the scenario assumed. So when the user
/// edits a seq or ack and the peer reacts differently, the next prefill follows the
/// peer instead of the script, and a note says what differed. The GUI fires the frame
/// itself (Engine::sendFrame) and reports it with fired(); frames from the link come in
/// through received(). Like ScenarioRunner, it does no I/O and has no clock.
///
/// The segments it offers are the ones the CLI runner sends, so the demo's ladder and
/// `tcplab-cli experiment`'s can be laid side by side: while a receive/wait step runs,
/// every arrival of new data from the peer makes the next step an inserted "ACK" (one
/// cumulative ACK of RCV.NXT for whatever arrived before the click), and the ACK owed
/// for the segment that completes such a step rides on the next scenario segment when
/// that carries ACK = RCV.NXT (the FIN after the response), else it is inserted before
/// it (the ACK of the response before the RST). Linger steps (TIME-WAIT in miniature)
/// need a clock: they are skipped with a note.
class Walkthrough {
public:
    /// `params` as ScenarioRunner takes them (nextHopMac filled in by the caller).
    Walkthrough(Scenario scenario, ConnectionParams params);

    /// What the GUI shows for the current step.
    struct Step {
        /// Send: fire `prefill`; Await: wait for the peer; Peer: make `call` on the peer's
        /// side (EngineWorker::peerCall, then peerCalled()); Done.
        enum class Kind : std::uint8_t { Send, Await, Peer, Done };
        /// Index of the scenario step (for an inserted ACK: the step it comes during or
        /// before); scenario().steps.size() when done.
        std::size_t index = 0;
        std::string name;
        Kind kind = Kind::Done;
        /// An ACK the walkthrough inserted (of the peer's data or FIN), not a scenario step.
        bool inserted = false;
        /// Two or three sentences: what the segment does, with its numbers, and what to
        /// look for in the ladder.
        std::string explanation;
        /// Send: the segment the scenario would send now.
        std::optional<wire::SegmentSpec> prefill;
        /// Await: what should arrive ("a SYN-ACK acknowledging 101").
        std::string expectation;
        /// Peer: the call to make (variables replaced), and whether the walk goes on without
        /// waiting for its answer (a blocking call the next steps complete).
        std::optional<peer::Request> call;
        bool background = false;
        /// Await: our oldest segment that took sequence space and is not acknowledged yet,
        /// to send again when the peer does not answer (what a TCP does when its
        /// retransmission timer expires, RFC 6298 §5.4), with the current ack. Also the
        /// way out when the user's edit made the peer drop the segment. Fire it like a
        /// prefill; it does not advance the step.
        std::optional<wire::SegmentSpec> resend;
    };
    Step current() const;

    /// The tutor's warnings for `spec` sent from the phantom now (empty when it is fine or
    /// not on this connection).
    std::vector<tcp::TutorWarning> warningsFor(const wire::SegmentSpec& spec) const;
    /// The user fired `frame` (maybe edited): it is recorded, and a Send step advances.
    /// A frame the peer will drop before TCP sees it (bad TCP checksum) or that is not on
    /// this connection does not advance the step; a note says why.
    void fired(std::span<const std::uint8_t> frame, std::int64_t timeNs);
    /// A frame from the link, in order (anything: only the peer's TCP on this 4-tuple
    /// counts; our own frames, if the timeline hands them in, are ignored here). With
    /// ConnectionParams::destinationPort 0 (passive open) the peer's port is taken from its
    /// first SYN to the phantom's port.
    void received(std::span<const std::uint8_t> frame, std::int64_t timeNs);
    /// The GUI made the current Peer step's call with this id: a background step is done at
    /// once, a foreground one waits for peerAnswered().
    void peerCalled(std::uint32_t id);
    /// A peer call came back (any: only the calls of peerCalled() count). A result other than
    /// the step expects ends the walk with a note saying so.
    void peerAnswered(const peer::CallRecord& call);
    /// The peer's sockets that changed (for expect-peer steps).
    void sampled(const peer::Sample& sample);

    /// One or more sentences per event, oldest first: what happened and how it differed
    /// from the scenario.
    const std::vector<std::string>& notes() const noexcept { return m_notes; }
    bool finished() const noexcept { return m_finished; }
    bool failed() const noexcept { return m_failed; }

    /// Switches the close (FIN <-> RST; Peer too) while the walkthrough has not reached
    /// it: the steps after the response are replaced by those of `mode`'s scenario.
    /// Returns false (and changes nothing) once the close has begun.
    bool chooseClose(CloseMode mode);

    const Scenario& scenario() const noexcept { return m_scenario; }
    const ConnectionParams& params() const noexcept { return m_params; }
    /// The peer's application bytes taken in order (the HTTP response).
    const std::vector<std::uint8_t>& receivedData() const noexcept { return m_received; }
    /// The connection as the tracker sees it (end localEnd() is the phantom).
    const tcp::Connection& connection() const noexcept { return m_connection; }

private:
    struct Vars {
        wire::SeqNum iss;
        wire::SeqNum sndUna;
        wire::SeqNum sndNxt;
        std::optional<wire::SeqNum> irs;
        std::optional<wire::SeqNum> rcvNxt;
    };
    Vars vars(const tcp::Connection& c) const;
    std::optional<wire::SeqNum> evaluate(const SeqExpr& expr, const Vars& v) const;
    wire::SegmentSpec build(const SendStep& step) const;
    bool ackOwed() const;
    bool insertAck() const;
    void advance();
    bool stepComplete() const;
    /// Bytes of the HTTP response after earlier ones, once it is whole.
    std::optional<std::size_t> responseLength() const;
    std::string explainSend(const wire::SegmentSpec& spec, bool inserted) const;
    std::string explainAwait(const StepAction& action) const;
    std::string explainPeer(const peer::Request& call, bool background) const;
    std::optional<peer::Request> peerRequest(const PeerStep& step) const;
    std::optional<std::uint64_t> peerValue(const ExpectPeerStep& step) const;
    std::string expectationText(const StepAction& action) const;
    void fail(std::string note);
    std::optional<wire::SegmentSpec> resendSpec() const;
    /// A segment of ours that took sequence space (SYN, data, FIN), not yet acknowledged.
    struct Outstanding {
        wire::SegmentSpec spec;
        wire::SeqNum end; ///< seq + SEG.LEN
    };

    Scenario m_scenario;
    ConnectionParams m_params;
    tcp::Endpoint m_phantom;
    tcp::Endpoint m_peer;
    tcp::Connection m_connection;
    std::size_t m_index = 0;
    std::vector<std::string> m_notes;
    std::vector<std::uint8_t> m_received;
    /// SND.NXT as a TCP keeps it (RFC 9293 §3.3.1): moved only by a segment sent at
    /// SND.NXT. The tracker's SND.NXT is the observer's (the highest number ever sent),
    /// which would include an edited segment the peer dropped as out of window.
    wire::SeqNum m_sndNxt;
    std::vector<Outstanding> m_outstanding; ///< oldest first
    std::uint16_t m_ipId = 1;
    bool m_finished = false;
    bool m_failed = false;
    bool m_closeBegun = false;
    bool m_synFired = false;
    /// The receive step completed with the segment that filled the response.
    std::size_t m_responseEnd = 0;
    /// Bytes of m_received that earlier "receive BYTES" steps took.
    std::size_t m_bytesCounted = 0;
    /// Peer calls made and not answered: id and the step that made them.
    std::vector<std::pair<std::uint32_t, std::size_t>> m_calls;
    std::map<std::uint64_t, peer::SocketSample> m_peerSockets; ///< the latest, by inode
    std::map<std::string, std::string> m_bound;                ///< "= $NAME" results, by name
};

} // namespace tcplab::engine
