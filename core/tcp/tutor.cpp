#include "tcp/tutor.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace tcplab::tcp {

namespace {

using wire::tcp_flags::kAck;
using wire::tcp_flags::kFin;
using wire::tcp_flags::kRst;
using wire::tcp_flags::kSyn;

// ---- wording ---------------------------------------------------------------------------

/// How the tutor names an end: "you" for the local end (the phantom), "the peer" for the
/// other.
struct Name {
    bool local = false;
    std::string subject() const { return local ? "you" : "the peer"; }
    std::string possessive() const { return local ? "your" : "the peer's"; }
};

/// A sequence number of `owner`'s sequence space, relative to its ISN.
std::uint32_t rel(SeqNum value, const EndState& owner) noexcept {
    return owner.issKnown ? static_cast<std::uint32_t>(value.value() - owner.iss.value())
                          : value.value();
}

/// "1049 (relative 49)", or "1049" when the owner's ISN is unknown.
std::string seqText(SeqNum value, const EndState& owner) {
    if (!owner.issKnown)
        return fmt::format("{}", value.value());
    return fmt::format("{} (relative {})", value.value(), rel(value, owner));
}

void sentence(std::string& text, const std::string& add) {
    if (add.empty())
        return;
    if (!text.empty())
        text += ' ';
    text += add;
}

std::string optionsText(const Segment& s) {
    std::vector<std::string> parts;
    if (s.mss)
        parts.push_back(fmt::format("MSS {}", *s.mss));
    if (s.windowScale)
        parts.push_back(fmt::format("window scale {}", *s.windowScale));
    if (s.sackPermitted)
        parts.push_back("SACK");
    if (s.timestamps)
        parts.push_back("timestamps");
    if (parts.empty())
        return {};
    std::string out = "It offers ";
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (i > 0)
            out += i + 1 == parts.size() ? " and " : ", ";
        out += parts[i];
    }
    return out + ".";
}

/// The receive window of `receiver` as a relative range of the sender's space.
std::string windowText(const EndState& receiver, const EndState& sender) {
    const std::uint32_t wnd = receiver.rcvWnd();
    return fmt::format("[{}, {})", rel(receiver.rcvNxt, sender),
                       rel(receiver.rcvNxt + wnd, sender));
}

std::string rstText(const Connection& before, const Segment& s, const SegmentResult& r,
                    const Name& rx) {
    const EndState& x = before.end(r.sender);
    const EndState& y = before.end(r.receiver());
    const TcpState ys = r.before[r.receiver()];
    if (r.classes.has(SegmentClass::RstAccepted)) {
        if (ys == TcpState::SynSent)
            return fmt::format("RST: it acknowledges {} = {} ISN + 1, so {} (in SYN-SENT) takes "
                               "it as a refusal of the connection and goes to CLOSED "
                               "(RFC 9293 §3.10.7.3).",
                               s.ack.value(), rx.possessive(), rx.subject());
        return fmt::format("RST: seq {} is exactly {} RCV.NXT, so {} accept{} it and abort{} the "
                           "connection (RFC 5961 §3.2).",
                           seqText(s.seq, x), rx.possessive(), rx.subject(), rx.local ? "" : "s",
                           rx.local ? "" : "s");
    }
    if (r.classes.has(SegmentClass::RstChallenge))
        return fmt::format("RST: seq {} is inside {} window {} but not RCV.NXT = {}, so {} keep{} "
                           "the connection and answer{} with a challenge ACK (RFC 5961 §3.2).",
                           seqText(s.seq, x), rx.possessive(), windowText(y, x),
                           seqText(y.rcvNxt, x), rx.subject(), rx.local ? "" : "s",
                           rx.local ? "" : "s");
    if (r.classes.has(SegmentClass::RstIgnored)) {
        switch (ys) {
        case TcpState::Closed:
            return fmt::format("RST: {} {} no connection (CLOSED) and a RST is simply discarded "
                               "(RFC 9293 §3.10.7.1).",
                               rx.subject(), rx.local ? "have" : "has");
        case TcpState::Listen:
            return fmt::format("RST: {} {} in LISTEN, where a RST is ignored (RFC 9293 §3.10.7.2).",
                               rx.subject(), rx.local ? "are" : "is");
        case TcpState::SynSent:
            if (!s.has(kAck))
                return fmt::format("RST without ACK: in SYN-SENT {} accept{} a RST only when it "
                                   "acknowledges the SYN ({}), so this one is ignored "
                                   "(RFC 9293 §3.10.7.3).",
                                   rx.subject(), rx.local ? "" : "s", (y.iss + 1).value());
            return fmt::format("RST: it acknowledges {}, but in SYN-SENT {} accept{} only an ACK "
                               "of the SYN ({}), so it is ignored (RFC 9293 §3.10.7.3).",
                               s.ack.value(), rx.subject(), rx.local ? "" : "s",
                               (y.iss + 1).value());
        default:
            return fmt::format("RST: seq {} is outside {} window {}, so it is dropped silently "
                               "(RFC 5961 §3.2); only seq = RCV.NXT = {} would reset.",
                               seqText(s.seq, x), rx.possessive(), windowText(y, x),
                               y.rcvNxt.value());
        }
    }
    return "RST.";
}

std::string synText(const Connection& before, const Segment& s, const SegmentResult& r,
                    const Name& tx, const Name& rx) {
    const EndState& x = before.end(r.sender);
    const EndState& y = before.end(r.receiver());
    const bool ack = s.has(kAck);
    const char* what = ack ? "SYN-ACK" : "SYN";
    if (r.classes.has(SegmentClass::SynInWindow))
        return fmt::format("{} on a synchronized connection: {} {} {} and keep{} it; {} answer{} "
                           "with a challenge ACK (RFC 5961 §4.2).",
                           what, rx.subject(), rx.local ? "are" : "is",
                           stateName(r.before[r.receiver()]), rx.local ? "" : "s", rx.subject(),
                           rx.local ? "" : "s");
    if (r.classes.has(SegmentClass::OutOfWindow))
        return fmt::format("{} outside {} window {}: {} drop{} it and answer{} with an ACK "
                           "(RFC 9293 §3.10.7.4, RFC 5961 §4.2).",
                           what, rx.possessive(), windowText(y, x), rx.subject(),
                           rx.local ? "" : "s", rx.local ? "" : "s");
    if (r.classes.has(SegmentClass::Retransmission))
        return fmt::format("{} again (retransmission): {} repeat{} {} {} with ISN {}; the first "
                           "was not answered, or its answer was lost.",
                           what, tx.subject(), tx.local ? "" : "s", tx.possessive(), what,
                           s.seq.value());
    std::string text;
    if (!ack) {
        if (r.before[r.receiver()] == TcpState::SynSent)
            text = fmt::format("SYN: {} open{} too, with ISN {}: both ends sent a SYN, a "
                               "simultaneous open (RFC 9293 §3.5, Figure 7).",
                               tx.subject(), tx.local ? "" : "s", s.seq.value());
        else
            text =
                fmt::format("SYN: {} open{} a connection with ISN {} (relative seq 0); the SYN "
                            "consumes one sequence number, so data starts at {}.",
                            tx.subject(), tx.local ? "" : "s", s.seq.value(), (s.seq + 1).value());
    } else if (r.classes.has(SegmentClass::UnacceptableAck)) {
        text = fmt::format("SYN-ACK: {} ISN is {}, but it acknowledges {} where {} expect{} {} = "
                           "{} ISN + 1, so {} answer{} with a RST (RFC 9293 §3.10.7.3).",
                           tx.possessive(), s.seq.value(), s.ack.value(), rx.subject(),
                           rx.local ? "" : "s", (y.iss + 1).value(), rx.possessive(), rx.subject(),
                           rx.local ? "" : "s");
    } else {
        text = fmt::format("SYN-ACK: {} ISN is {}; it acknowledges {} = {} ISN + 1, because a SYN "
                           "consumes one sequence number.",
                           tx.possessive(), s.seq.value(), s.ack.value(), rx.possessive());
    }
    sentence(text, optionsText(s));
    return text;
}

std::string unacceptableAckText(const Connection& before, const Segment& s, const SegmentResult& r,
                                const Name& rx) {
    const EndState& y = before.end(r.receiver());
    const TcpState ys = r.before[r.receiver()];
    const char* verb = rx.local ? "" : "s";
    switch (ys) {
    case TcpState::Listen:
        return fmt::format("Unacceptable ACK: {} {} in LISTEN and {} sent nothing to acknowledge, "
                           "so {} answer{} with a RST (RFC 9293 §3.10.7.2).",
                           rx.subject(), rx.local ? "are" : "is", rx.local ? "have" : "has",
                           rx.subject(), verb);
    case TcpState::SynSent:
    case TcpState::SynReceived:
        return fmt::format("Unacceptable ACK: it acknowledges {}, but {} in {} expect{} {} = {} "
                           "ISN + 1, so {} answer{} with a RST (RFC 9293 §{}).",
                           s.ack.value(), rx.subject(), stateName(ys), verb, (y.iss + 1).value(),
                           rx.possessive(), rx.subject(), verb,
                           ys == TcpState::SynSent ? "3.10.7.3" : "3.10.7.4");
    default:
        break;
    }
    if (y.ackLimit() < s.ack)
        return fmt::format("Unacceptable ACK: it acknowledges {}, beyond anything {} sent "
                           "(SND.NXT = {}), so {} drop{} the segment and answer{} with an ACK "
                           "(RFC 9293 §3.10.7.4).",
                           seqText(s.ack, y), rx.subject(), seqText(y.sndNxt, y), rx.subject(),
                           verb, verb);
    return fmt::format("Unacceptable ACK: it acknowledges {}, older than SND.UNA - MAX.SND.WND "
                       "({} - {}), so {} drop{} the segment and answer{} with an ACK "
                       "(RFC 5961 §5.2).",
                       seqText(s.ack, y), rel(y.sndUna, y), y.maxSndWnd, rx.subject(), verb, verb);
}

std::string ackPart(const Segment& s, const SegmentResult& r) {
    if (!s.has(kAck))
        return {};
    return fmt::format("It acknowledges {} (ack {}).", r.relAck, s.ack.value());
}

std::string dataText(const Connection& before, const Segment& s, const SegmentResult& r,
                     const Name& tx, const Name& rx) {
    const EndState& x = before.end(r.sender);
    const EndState& y = before.end(r.receiver());
    const SegmentClasses& c = r.classes;
    const std::uint32_t n = s.payloadLength;
    const std::uint32_t start = r.relSeq;
    std::string text;
    if (c.has(SegmentClass::Retransmission)) {
        text = fmt::format("Retransmission: {} bytes at relative seq {} to {} (seq {}) that {} "
                           "already sent",
                           n, start, start + n, s.seq.value(), tx.subject());
        if (c.has(SegmentClass::FastRetransmission))
            text += fmt::format(", a fast retransmit after {} duplicate ACKs (RFC 5681 §3.2)",
                                y.dupAcks);
        if (c.has(SegmentClass::SpuriousRetransmission))
            text += fmt::format("; {} had already acknowledged them, so it was not needed",
                                rx.subject());
        text += '.';
    } else {
        text = fmt::format("Data: {} bytes at relative seq {} to {} (seq {}); {} next byte is "
                           "relative {}.",
                           n, start, start + n, s.seq.value(), tx.possessive(), start + n);
    }
    if (c.has(SegmentClass::LostSegment))
        sentence(text, fmt::format("It starts beyond {} SND.NXT (relative {}): the {} bytes "
                                   "before it were not captured.",
                                   tx.possessive(), rel(x.sndNxt, x), s.seq - x.sndNxt));
    if (c.has(SegmentClass::GapFill))
        sentence(text, "It fills a gap: these bytes were not seen before (overtaken, or lost "
                       "before the capture point and sent again).");
    if (c.has(SegmentClass::OutOfOrder))
        sentence(text,
                 fmt::format("Out of order: {} expect{} relative {} first, so {} hold{} it "
                             "and acknowledge{} {} again.",
                             rx.subject(), rx.local ? "" : "s", rel(y.rcvNxt, x), rx.subject(),
                             rx.local ? "" : "s", rx.local ? "" : "s", rel(y.rcvNxt, x)));
    if (c.has(SegmentClass::WindowFull))
        sentence(text, fmt::format("It fills {} window to its right edge: {} must wait for the "
                                   "window to move.",
                                   rx.possessive(), tx.subject()));
    return text;
}

std::string pureAckText(const Connection& before, const Segment& s, const SegmentResult& r,
                        const Name& tx, const Name& rx) {
    const EndState& x = before.end(r.sender);
    const EndState& y = before.end(r.receiver());
    const SegmentClasses& c = r.classes;
    if (!s.has(kAck))
        return fmt::format("Segment without ACK, SYN or RST: {} drop{} it (RFC 9293 §3.10.7.4, "
                           "fifth check).",
                           rx.subject(), rx.local ? "" : "s");
    if (r.before[r.receiver()] == TcpState::SynReceived &&
        r.after[r.receiver()] == TcpState::Established)
        return fmt::format("ACK: it completes the three-way handshake; it acknowledges {} = {} "
                           "ISN + 1.",
                           s.ack.value(), rx.possessive());
    if (c.has(SegmentClass::DuplicateAck))
        return fmt::format("Duplicate ACK #{}: {} acknowledge{} relative {} again while {} data "
                           "beyond it is outstanding, so a segment seems lost; 3 in a row "
                           "trigger a fast retransmit (RFC 5681 §3.2).",
                           r.dupAckCount, tx.subject(), tx.local ? "" : "s", r.relAck,
                           rx.possessive());
    if (c.has(SegmentClass::ZeroWindow))
        return fmt::format("Zero window: {} can take no more data now; {} must stop sending "
                           "and probe the window (RFC 9293 §3.8.6). It acknowledges {}.",
                           tx.subject(), rx.subject(), r.relAck);
    if (c.has(SegmentClass::WindowUpdate))
        return fmt::format("Window update: the same ACK {}, window {} (was {}): {} may send "
                           "more (RFC 9293 §3.8.6.2.2).",
                           r.relAck, r.window, x.lastWindow, rx.subject());
    if (y.finSent && s.ack == y.finSeq + 1 && y.sndUna <= y.finSeq)
        return fmt::format("ACK of {} FIN: {} = the FIN's seq {} + 1, because a FIN consumes "
                           "one sequence number.",
                           rx.possessive(), s.ack.value(), y.finSeq.value());
    const std::int32_t fresh = y.issKnown ? s.ack - y.sndUna : 0;
    if (fresh > 0)
        return fmt::format("ACK: {} {} new bytes arrived; it acknowledges relative {} (ack "
                           "{}), window {}.",
                           rx.possessive(), fresh, r.relAck, s.ack.value(), r.window);
    return fmt::format("ACK: it acknowledges relative {} (ack {}) again, nothing new; window {}.",
                       r.relAck, s.ack.value(), r.window);
}

std::string stateChangeText(const SegmentResult& r, const Name& tx, const Name& rx) {
    const auto changed = [&r](std::uint8_t end) { return r.before[end] != r.after[end]; };
    const bool a = changed(r.sender);
    const bool b = changed(r.receiver());
    if (!a && !b)
        return {};
    if (r.after[0] == TcpState::Established && r.after[1] == TcpState::Established)
        return "Both ends are now ESTABLISHED.";
    const auto move = [&r](std::uint8_t end) {
        return fmt::format("from {} to {}", stateName(r.before[end]), stateName(r.after[end]));
    };
    // "You go from ESTABLISHED to FIN-WAIT-1, the peer from ESTABLISHED to CLOSE-WAIT."
    const Name& first = a ? tx : rx;
    std::string text = fmt::format("{} {} {}", first.local ? "You" : "The peer",
                                   first.local ? "go" : "goes", move(a ? r.sender : r.receiver()));
    if (a && b)
        text += fmt::format(", {} {}", rx.subject(), move(r.receiver()));
    return text + ".";
}

// ---- suggestions -----------------------------------------------------------------------

/// The window field `end` would put on its next segment: what it last advertised.
std::uint16_t windowField(const Connection& c, std::uint8_t end) {
    const EndState& e = c.end(end);
    if (e.segments == 0)
        return 65535;
    const std::uint32_t raw = e.lastWindow >> c.windowShift(end);
    return static_cast<std::uint16_t>(std::min<std::uint32_t>(raw, 65535));
}

Suggestion ackOf(const Connection& c, std::uint8_t li, std::string reason) {
    const EndState& x = c.end(li);
    Suggestion s;
    s.flags = kAck;
    s.seq = x.sndNxt;
    s.ack = x.rcvNxt;
    s.window = windowField(c, li);
    s.reason = std::move(reason);
    return s;
}

/// Why `local` has something to acknowledge (its RCV.NXT is beyond its last ACK).
std::string ackReason(const Connection& c, std::uint8_t li, const char* prefix) {
    const EndState& x = c.end(li);
    const EndState& y = c.end(li ^ 1u);
    if (!x.ackSent && x.rcvNxt == x.irs + 1)
        return fmt::format("{}ACK of the peer's SYN: ack = IRS + 1 = {}, seq = {}; it completes "
                           "the handshake.",
                           prefix, x.rcvNxt.value(), x.sndNxt.value());
    const SeqNum from = x.ackSent ? x.lastAck : x.irs + 1;
    const bool fin = x.finReceived && y.finSent && x.rcvNxt == y.finSeq + 1;
    const std::int32_t bytes = (fin ? y.finSeq : x.rcvNxt) - from;
    if (fin && bytes <= 0)
        return fmt::format("{}ACK of the peer's FIN: ack = its seq {} + 1 = {}, because a FIN "
                           "consumes one sequence number.",
                           prefix, y.finSeq.value(), x.rcvNxt.value());
    if (fin)
        return fmt::format("{}ACK of the peer's {} new bytes and its FIN: ack = {} (the FIN "
                           "consumes one sequence number).",
                           prefix, bytes, x.rcvNxt.value());
    return fmt::format("{}ACK of the peer's {} new bytes (relative {} to {}): ack = RCV.NXT = {}.",
                       prefix, bytes, rel(from, y), rel(x.rcvNxt, y), x.rcvNxt.value());
}

bool hasNewToAck(const EndState& x) noexcept {
    if (!x.irsKnown || !isSynchronized(x.state))
        return false;
    return !x.ackSent || x.lastAck < x.rcvNxt;
}

} // namespace

// ---- annotate --------------------------------------------------------------------------

std::string annotate(const Connection& before, const Segment& segment,
                     const SegmentResult& result) {
    const Name tx{before.localEnd() == result.sender};
    const Name rx{!tx.local};
    const SegmentClasses& c = result.classes;
    std::string text;
    if (segment.has(kRst)) {
        text = rstText(before, segment, result, rx);
    } else if (segment.has(kSyn)) {
        text = synText(before, segment, result, tx, rx);
    } else if (c.has(SegmentClass::UnacceptableAck)) {
        text = unacceptableAckText(before, segment, result, rx);
    } else if (c.has(SegmentClass::OutOfWindow)) {
        const EndState& x = before.end(result.sender);
        const EndState& y = before.end(result.receiver());
        const char* verbs = rx.local ? "" : "s";
        if (c.has(SegmentClass::Retransmission) && segment.seq + segment.length() <= y.rcvNxt)
            text = fmt::format("Retransmission of {} sequence numbers at relative seq {} that {} "
                               "already {}: all below RCV.NXT = relative {}, so {} drop{} it and "
                               "answer{} with an ACK of {} (RFC 9293 §3.10.7.4).",
                               segment.length(), result.relSeq, rx.subject(),
                               rx.local ? "have" : "has", rel(y.rcvNxt, x), rx.subject(), verbs,
                               verbs, rel(y.rcvNxt, x));
        else
            text = fmt::format("Out of window: seq {}, {} sequence numbers, is outside {} receive "
                               "window {}, so {} drop{} it and answer{} with an ACK of {} "
                               "(RFC 9293 §3.10.7.4).",
                               seqText(segment.seq, x), segment.length(), rx.possessive(),
                               windowText(y, x), rx.subject(), verbs, verbs, rel(y.rcvNxt, x));
    } else if (c.has(SegmentClass::KeepAlive)) {
        text = fmt::format("Keep-alive: {} byte{} at relative seq {} = SND.NXT - 1, a number {} "
                           "already {}, so {} answer{} with an ACK: {} check{} the connection "
                           "is still there (RFC 9293 §3.8.4).",
                           segment.payloadLength, segment.payloadLength == 1 ? "" : "s",
                           result.relSeq, rx.subject(), rx.local ? "have" : "has", rx.subject(),
                           rx.local ? "" : "s", tx.subject(), tx.local ? "" : "s");
    } else if (c.has(SegmentClass::ZeroWindowProbe)) {
        text = fmt::format("Zero-window probe: 1 byte at relative seq {} while {} window is zero; "
                           "the ACK it draws tells whether the window opened "
                           "(RFC 9293 §3.8.6.1).",
                           result.relSeq, rx.possessive());
    } else if (segment.payloadLength > 0 || segment.has(kFin)) {
        if (segment.payloadLength > 0)
            text = dataText(before, segment, result, tx, rx);
        if (segment.has(kFin)) {
            const std::uint32_t finRel = result.relSeq + segment.payloadLength;
            sentence(text, fmt::format("FIN: {} close{} {} side; the FIN takes relative seq {} "
                                       "(one sequence number).",
                                       tx.subject(), tx.local ? "" : "s", tx.local ? "your" : "its",
                                       finRel));
            if (segment.payloadLength == 0 && c.has(SegmentClass::Retransmission))
                sentence(text, "It is a retransmission of the FIN.");
            if (segment.payloadLength == 0 && c.has(SegmentClass::OutOfOrder))
                sentence(text, fmt::format("It arrives beyond a hole, so {} hold{} it for later.",
                                           rx.subject(), rx.local ? "" : "s"));
        }
        sentence(text, ackPart(segment, result));
        if (c.has(SegmentClass::ZeroWindow))
            sentence(text, fmt::format("It advertises a zero window: {} can take no more data.",
                                       tx.subject()));
    } else {
        text = pureAckText(before, segment, result, tx, rx);
    }
    sentence(text, stateChangeText(result, tx, rx));
    return text;
}

// ---- checkBeforeSend -------------------------------------------------------------------

std::vector<TutorWarning> checkBeforeSend(const Connection& connection, const Endpoint& sender,
                                          const Segment& segment) {
    std::vector<TutorWarning> out;
    const auto xi = connection.endOf(sender);
    if (!xi)
        return out;
    const std::uint8_t yi = *xi ^ 1u;
    const EndState& x = connection.end(*xi);
    const EndState& y = connection.end(yi);
    const SegmentResult r = connection.preview(*xi, segment);
    const bool syn = segment.has(kSyn);
    const bool ack = segment.has(kAck);
    const bool fin = segment.has(kFin);
    const bool rst = segment.has(kRst);
    const auto warn = [&out](std::string rule, std::string message, std::string rfc) {
        out.push_back({std::move(rule), std::move(message), std::move(rfc)});
    };

    // Flag combinations no TCP sends.
    if (syn && fin)
        warn("flags-syn-fin",
             "SYN and FIN together: a SYN opens and a FIN closes, no TCP sends both; Linux "
             "drops such a segment. Send the SYN alone.",
             "RFC 9293 §3.10.7.2");
    if (syn && rst)
        warn("flags-syn-rst",
             "SYN and RST together: the receiver handles the RST first and never opens; send "
             "one or the other.",
             "RFC 9293 §3.10.7.4");

    // The ACK of a handshake must be the peer's ISN + 1.
    if (ack && !rst && y.issKnown &&
        (y.state == TcpState::SynSent || y.state == TcpState::SynReceived) && y.synSeen &&
        segment.ack != y.iss + 1) {
        const bool synSent = y.state == TcpState::SynSent;
        warn("ack-not-acknowledging-syn",
             fmt::format("ACK {} does not acknowledge the peer's SYN: expected IRS + 1 = {} "
                         "(its ISN {} + 1, a SYN consumes one sequence number). The peer in {} "
                         "will answer with a RST.",
                         segment.ack.value(), (y.iss + 1).value(), y.iss.value(),
                         stateName(y.state)),
             synSent ? "RFC 9293 §3.10.7.3" : "RFC 9293 §3.10.7.4");
    }

    // A SYN to a synchronized peer does not open anything.
    bool synOnEstablished = false;
    if (syn && !rst && isSynchronized(y.state)) {
        synOnEstablished = true;
        warn("syn-on-established",
             fmt::format("SYN on a connection the peer holds as {}: it will not reset or reopen, "
                         "it answers with a challenge ACK (ack {}) and keeps the connection.",
                         stateName(y.state), y.rcvNxt.value()),
             "RFC 5961 §4.2");
    }

    // Segments without ACK are dropped by a synchronized receiver; a LISTEN end wants a SYN.
    if (!ack && !syn && !rst && y.known) {
        if (y.state == TcpState::SynReceived || isSynchronized(y.state))
            warn("no-ack-bit",
                 fmt::format("The ACK bit is off: the peer in {} drops any segment without ACK. "
                             "Set ACK with ack = {}.",
                             stateName(y.state), x.rcvNxt.value()),
                 "RFC 9293 §3.10.7.4");
        else if (y.state == TcpState::Listen)
            warn("no-ack-bit",
                 "The peer is in LISTEN: a segment without SYN, ACK or RST is dropped; open with "
                 "a SYN.",
                 "RFC 9293 §3.10.7.2");
    }

    // Data only once the handshake is done.
    if (segment.payloadLength > 0 && !rst &&
        (x.state == TcpState::Closed || x.state == TcpState::Listen ||
         x.state == TcpState::SynSent || !isSynchronized(r.after[yi]))) {
        warn("data-before-handshake",
             syn ? fmt::format("{} bytes of data on a SYN: the peer may hold them until the "
                               "handshake completes, or drop them (most stacks without TCP Fast "
                               "Open); it acknowledges only the SYN.",
                               segment.payloadLength)
                 : fmt::format("{} bytes of data before the handshake completes: you are {}, the "
                               "peer {}; the peer will not take the data.",
                               segment.payloadLength, stateName(x.state), stateName(y.state)),
             syn ? "RFC 9293 §3.10.7.3" : "RFC 9293 §3.5");
    }

    // Acknowledging what the peer never sent, or far too old.
    if (ack && !rst && isSynchronized(y.state) && y.issKnown) {
        if (y.ackLimit() < segment.ack)
            warn("ack-of-unsent-data",
                 fmt::format("ACK {} acknowledges data the peer never sent: its SND.NXT is {} "
                             "(relative {}). It drops the segment and answers with an ACK. "
                             "Expected at most {}.",
                             segment.ack.value(), y.sndNxt.value(), rel(y.sndNxt, y),
                             y.ackLimit().value()),
                 "RFC 9293 §3.10.7.4");
        else if (segment.ack < y.sndUna - std::int64_t{y.maxSndWnd})
            warn("ack-too-old",
                 fmt::format("ACK {} is older than the peer's SND.UNA - MAX.SND.WND ({} - {}): it "
                             "drops the segment and answers with an ACK. Expected {}.",
                             segment.ack.value(), y.sndUna.value(), y.maxSndWnd, x.rcvNxt.value()),
                 "RFC 5961 §5.2");
    }
    if (ack && !rst && y.known && y.state == TcpState::Listen && !syn)
        warn("ack-to-listen",
             "The peer is in LISTEN and has sent nothing: any ACK draws a RST. Open with a SYN.",
             "RFC 9293 §3.10.7.2");
    if (!rst && y.known && y.state == TcpState::Closed && y.segments > 0)
        warn("peer-closed",
             "The peer's end of this connection is CLOSED: it answers anything but a RST with a "
             "RST.",
             "RFC 9293 §3.10.7.1");

    // Sequence number against the peer's receive window.
    if (!rst && !synOnEstablished && r.classes.has(SegmentClass::OutOfWindow)) {
        const std::uint32_t wnd = y.rcvWnd();
        warn("seq-outside-window",
             fmt::format("seq {} is outside the peer's receive window [RCV.NXT, RCV.NXT + "
                         "RCV.WND) = [{}, {}) (window {}): it drops the segment and answers "
                         "with an ACK of {}. Expected seq {}.",
                         segment.seq.value(), y.rcvNxt.value(), (y.rcvNxt + wnd).value(), wnd,
                         y.rcvNxt.value(), y.rcvNxt.value()),
             "RFC 9293 §3.10.7.4");
    }
    if (!rst && r.classes.has(SegmentClass::OutOfOrder) &&
        !r.classes.has(SegmentClass::OutOfWindow))
        warn("seq-beyond-rcv-nxt",
             fmt::format("seq {} is beyond the peer's RCV.NXT {}: it leaves a hole of {} bytes; "
                         "the peer holds the data and acknowledges {} again. Expected seq {}.",
                         segment.seq.value(), y.rcvNxt.value(), segment.seq - y.rcvNxt,
                         y.rcvNxt.value(), y.rcvNxt.value()),
             "RFC 9293 §3.10.7.4");

    // A RST the peer will not act on.
    if (rst) {
        if (r.classes.has(SegmentClass::RstChallenge)) {
            warn("rst-challenged",
                 fmt::format("RST seq {} is inside the peer's window but not its RCV.NXT {}: the "
                             "peer keeps the connection and sends a challenge ACK. Use seq {}.",
                             segment.seq.value(), y.rcvNxt.value(), y.rcvNxt.value()),
                 "RFC 5961 §3.2");
        } else if (r.classes.has(SegmentClass::RstIgnored)) {
            switch (y.state) {
            case TcpState::SynSent:
                warn("rst-ignored",
                     fmt::format("The peer is in SYN-SENT: it accepts a RST only with ACK set and "
                                 "ack = its ISN + 1 = {}; this one will be ignored.",
                                 (y.iss + 1).value()),
                     "RFC 9293 §3.10.7.3");
                break;
            case TcpState::Listen:
                warn("rst-ignored", "The peer is in LISTEN: it ignores any RST.",
                     "RFC 9293 §3.10.7.2");
                break;
            case TcpState::Closed:
                warn("rst-ignored", "The peer has no connection (CLOSED): it discards a RST.",
                     "RFC 9293 §3.10.7.1");
                break;
            default: {
                const std::uint32_t wnd = y.rcvWnd();
                warn("rst-ignored",
                     fmt::format("RST seq {} is outside the peer's window [{}, {}): the peer "
                                 "ignores it. Use seq = RCV.NXT = {}.",
                                 segment.seq.value(), y.rcvNxt.value(), (y.rcvNxt + wnd).value(),
                                 y.rcvNxt.value()),
                     "RFC 5961 §3.2");
                break;
            }
            }
        }
    }
    return out;
}

// ---- suggestions -----------------------------------------------------------------------

std::optional<Suggestion> suggestNext(const Connection& connection, const Endpoint& local) {
    const auto li = connection.endOf(local);
    if (!li || connection.segmentCount() == 0)
        return std::nullopt;
    const EndState& x = connection.end(*li);
    const EndState& y = connection.end(*li ^ 1u);

    // The peer's SYN arrived: answer with a SYN-ACK (passive open, or the crossing of a
    // simultaneous open, RFC 9293 Figure 7).
    if (x.irsKnown && !x.synAckSent &&
        (x.state == TcpState::Listen || x.state == TcpState::SynReceived)) {
        Suggestion s;
        s.flags = kSyn | kAck;
        // Any ISN will do; RFC 9293 §3.4.1 wants it hard to guess. Keep ours if known.
        s.seq = x.issKnown ? x.iss : SeqNum(x.irs.value() ^ 0x5A17C0DEu);
        s.ack = x.irs + 1;
        s.window = 65535;
        s.reason = fmt::format("SYN-ACK to the peer's SYN: ack = IRS + 1 = {} (a SYN consumes "
                               "one sequence number), seq = your ISN {}.",
                               s.ack.value(), s.seq.value());
        return s;
    }
    if (!isSynchronized(x.state) || !x.irsKnown)
        return std::nullopt;
    if (hasNewToAck(x))
        return ackOf(connection, *li, ackReason(connection, *li, ""));
    if (x.state == TcpState::CloseWait && !x.finSent) {
        Suggestion s = ackOf(connection, *li, {});
        s.flags = kFin | kAck;
        s.reason = fmt::format("The peer has closed its side (you are in CLOSE-WAIT): send your "
                               "FIN at seq {} to close yours; you go to LAST-ACK.",
                               s.seq.value());
        return s;
    }
    if (x.state == TcpState::Established && !x.finSent && y.state == TcpState::Established) {
        Suggestion s = ackOf(connection, *li, {});
        s.flags = kFin | kAck;
        s.reason = fmt::format("Nothing to acknowledge: send data at seq {}, or close your side "
                               "with this FIN (you go to FIN-WAIT-1).",
                               s.seq.value());
        return s;
    }
    return std::nullopt;
}

std::optional<Suggestion> suggestReset(const Connection& connection, const Endpoint& local) {
    const auto li = connection.endOf(local);
    if (!li)
        return std::nullopt;
    const EndState& x = connection.end(*li);
    const EndState& y = connection.end(*li ^ 1u);
    if (!y.known)
        return std::nullopt;
    Suggestion s;
    s.window = 0;
    if (y.state == TcpState::SynSent && y.issKnown) {
        // RFC 9293 §3.10.7.3: in SYN-SENT a RST counts when its ACK acknowledges the SYN;
        // the form of §3.10.7.1, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
        s.flags = kRst | kAck;
        s.seq = SeqNum(0);
        s.ack = y.iss + 1;
        s.reason = fmt::format("The peer is in SYN-SENT: a RST with ack = its ISN + 1 = {} "
                               "refuses the connection (RFC 9293 §3.10.7.3).",
                               s.ack.value());
        return s;
    }
    if ((y.state == TcpState::SynReceived || isSynchronized(y.state)) && y.irsKnown) {
        s.flags = x.irsKnown ? std::uint8_t(kRst | kAck) : kRst;
        s.seq = y.rcvNxt;
        s.ack = x.irsKnown ? x.rcvNxt : SeqNum(0);
        s.reason = fmt::format("RST at seq {} = the peer's RCV.NXT exactly: it accepts it and "
                               "aborts the connection (RFC 5961 §3.2, RFC 9293 §3.10.7.4).",
                               s.seq.value());
        return s;
    }
    return std::nullopt;
}

std::optional<Suggestion> autoAck(const Connection& connection, const Endpoint& local,
                                  const SegmentResult& result) {
    const auto li = connection.endOf(local);
    if (!li || result.sender == *li)
        return std::nullopt;
    if ((result.flags & kRst) != 0)
        return std::nullopt;
    if (result.payloadLength == 0 && (result.flags & kFin) == 0)
        return std::nullopt;
    if (!hasNewToAck(connection.end(*li)))
        return std::nullopt;
    return ackOf(connection, *li, ackReason(connection, *li, "Auto-ACK: "));
}

bool owesAck(const Connection& connection, const Endpoint& local, const SegmentResult& result) {
    const auto li = connection.endOf(local);
    if (!li || result.sender == *li || (result.flags & kRst) != 0)
        return false;
    const SegmentClasses& c = result.classes;
    return c.has(SegmentClass::OutOfWindow) || c.has(SegmentClass::ZeroWindowProbe) ||
           c.has(SegmentClass::KeepAlive) || c.has(SegmentClass::OutOfOrder) ||
           c.has(SegmentClass::UnacceptableAck) || c.has(SegmentClass::SynInWindow) ||
           (c.has(SegmentClass::Retransmission) && result.segLen > 0);
}

std::optional<Suggestion> ackNow(const Connection& connection, const Endpoint& local, bool owed) {
    const auto li = connection.endOf(local);
    if (!li)
        return std::nullopt;
    const EndState& x = connection.end(*li);
    if (!x.irsKnown || !isSynchronized(x.state))
        return std::nullopt;
    if (!hasNewToAck(x) && !owed)
        return std::nullopt;
    if (hasNewToAck(x))
        return ackOf(connection, *li, ackReason(connection, *li, "Auto-ACK: "));
    return ackOf(connection, *li,
                 fmt::format("Auto-ACK: the segment brought nothing acceptable; a TCP answers "
                             "with an ACK of RCV.NXT = {} (RFC 9293 §3.10.7.4).",
                             x.rcvNxt.value()));
}

} // namespace tcplab::tcp
