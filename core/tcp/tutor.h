#pragma once

#include "tcp/tracker.h"
#include "wire/segment_spec.h"

#include <optional>
#include <string>
#include <vector>

namespace tcplab::tcp {

/// The tutor: plain words for every segment, and warnings about a segment before it
/// is sent. Each rule cites the RFC 9293 (or RFC 5961) section it comes from.

/// "SYN-ACK: the peer's ISN is 3735928559; it acknowledges 101 = your ISN + 1, because a
/// SYN consumes one sequence number." `before` is the connection as it was before the
/// segment (Connection is a value: copy it before onSegment), `result` what the
/// tracker made of the segment.
std::string annotate(const Connection& before, const Segment& segment, const SegmentResult& result);

/// One warning about a segment the phantom is about to send.
struct TutorWarning {
    std::string rule;    ///< stable id, e.g. "ack-not-acknowledging-syn"
    std::string message; ///< one or two sentences for a person, with the expected value
    std::string rfc;     ///< "RFC 9293 §3.10.7.3"
};

/// Checks `segment`, sent by `sender` on `connection` as it stands now, against what
/// the receiver will do with it (without changing `connection`): ACK not acknowledging
/// the peer's SYN, seq outside the peer's receive window, data before the handshake
/// completes, a RST the peer will ignore or challenge, ... Empty when it is fine, or when
/// `sender` is neither end. Rule ids: "flags-syn-fin", "flags-syn-rst",
/// "ack-not-acknowledging-syn", "syn-on-established", "no-ack-bit", "data-before-handshake",
/// "ack-of-unsent-data", "ack-too-old", "ack-to-listen", "peer-closed", "seq-outside-window",
/// "seq-beyond-rcv-nxt", "rst-challenged", "rst-ignored".
std::vector<TutorWarning> checkBeforeSend(const Connection& connection, const Endpoint& sender,
                                          const Segment& segment);

/// The segment a correct TCP would send now as `local` (the phantom), with a one-line
/// reason: a SYN-ACK to the peer's SYN (the ISN kept if known, else derived from the
/// peer's), the ACK of the peer's SYN, an ACK of new data or of a FIN, a FIN (in
/// CLOSE-WAIT, or in ESTABLISHED when nothing is left to acknowledge), or nothing (while
/// waiting, or for an endpoint that is neither end). `window` repeats the field `local`
/// last sent (65535 before it sent anything).
struct Suggestion {
    std::uint8_t flags = 0;
    wire::SeqNum seq;
    wire::SeqNum ack;
    std::uint16_t window = 0;
    std::string reason;
};
std::optional<Suggestion> suggestNext(const Connection& connection, const Endpoint& local);
/// A RST the peer will accept (seq = its RCV.NXT), with its reason; nullopt before the
/// peer's state is known.
std::optional<Suggestion> suggestReset(const Connection& connection, const Endpoint& local);
/// Auto-ACK: the pure ACK to send after `result` (peer data or FIN that is new and not
/// yet acknowledged by `local`), or nullopt. `connection` is as it stands after the
/// segment of `result` (onSegment already done). Out-of-order data, retransmissions of
/// what was acknowledged, keep-alives and RSTs draw none.
std::optional<Suggestion> autoAck(const Connection& connection, const Endpoint& local,
                                  const SegmentResult& result);

/// Whether the segment of `result`, sent by the peer to `local`, calls for an immediate
/// ACK even when it brings nothing new: RFC 9293 §3.10.7.4 (an unacceptable segment, a
/// zero-window probe or a keep-alive is answered with an ACK of RCV.NXT) and RFC 5681 §3.2
/// and §4.2 (out-of-order data is answered at once with a duplicate ACK). Never for a RST.
bool owesAck(const Connection& connection, const Endpoint& local, const SegmentResult& result);
/// The ACK `local` sends now: the pure ACK of its RCV.NXT at SND.NXT (`reason` begins with
/// "Auto-ACK: "), when it has new data or a FIN to acknowledge, or when `owed` (see
/// owesAck); nullopt before the handshake or after a RST.
std::optional<Suggestion> ackNow(const Connection& connection, const Endpoint& local, bool owed);

} // namespace tcplab::tcp
