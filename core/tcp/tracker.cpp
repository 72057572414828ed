#include "tcp/tracker.h"

#include "wire/bytes.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace tcplab::tcp {

namespace {

using wire::tcp_flags::kAck;
using wire::tcp_flags::kFin;
using wire::tcp_flags::kRst;
using wire::tcp_flags::kSyn;

constexpr std::uint8_t kMaxWindowShift = 14; // RFC 7323 §2.3

SeqNum later(SeqNum a, SeqNum b) noexcept {
    return a < b ? b : a;
}
SeqNum earlier(SeqNum a, SeqNum b) noexcept {
    return b < a ? b : a;
}

// RFC 9293 §3.10.7.4, first check: the four cases of segment length and receive window.
//   Length  Window  Test
//   0       0       SEG.SEQ = RCV.NXT
//   0       >0      RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND
//   >0      0       not acceptable
//   >0      >0      RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND
//                   or RCV.NXT =< SEG.SEQ+SEG.LEN-1 < RCV.NXT+RCV.WND
bool acceptable(const EndState& receiver, const Segment& s) noexcept {
    const std::uint32_t len = s.length();
    const std::uint32_t wnd = receiver.rcvWnd();
    if (len == 0)
        return wnd == 0 ? s.seq == receiver.rcvNxt : s.seq.inWindow(receiver.rcvNxt, wnd);
    if (wnd == 0)
        return false;
    return s.seq.inWindow(receiver.rcvNxt, wnd) ||
           (s.seq + (len - 1)).inWindow(receiver.rcvNxt, wnd);
}

bool finAcknowledged(const EndState& e) noexcept {
    return e.finSent && e.sndUna > e.finSeq;
}

} // namespace

// ---- names -----------------------------------------------------------------------------

std::string_view stateName(TcpState state) noexcept {
    switch (state) {
    case TcpState::Closed:
        return "CLOSED";
    case TcpState::Listen:
        return "LISTEN";
    case TcpState::SynSent:
        return "SYN-SENT";
    case TcpState::SynReceived:
        return "SYN-RECEIVED";
    case TcpState::Established:
        return "ESTABLISHED";
    case TcpState::FinWait1:
        return "FIN-WAIT-1";
    case TcpState::FinWait2:
        return "FIN-WAIT-2";
    case TcpState::CloseWait:
        return "CLOSE-WAIT";
    case TcpState::Closing:
        return "CLOSING";
    case TcpState::LastAck:
        return "LAST-ACK";
    case TcpState::TimeWait:
        return "TIME-WAIT";
    }
    return "?";
}

std::string_view className(SegmentClass c) noexcept {
    switch (c) {
    case SegmentClass::Syn:
        return "syn";
    case SegmentClass::SynAck:
        return "syn_ack";
    case SegmentClass::NewData:
        return "new_data";
    case SegmentClass::Retransmission:
        return "retransmission";
    case SegmentClass::FastRetransmission:
        return "fast_retransmission";
    case SegmentClass::SpuriousRetransmission:
        return "spurious_retransmission";
    case SegmentClass::LostSegment:
        return "lost_segment";
    case SegmentClass::GapFill:
        return "gap_fill";
    case SegmentClass::OutOfOrder:
        return "out_of_order";
    case SegmentClass::DuplicateAck:
        return "dup_ack";
    case SegmentClass::WindowUpdate:
        return "window_update";
    case SegmentClass::WindowFull:
        return "window_full";
    case SegmentClass::ZeroWindow:
        return "zero_window";
    case SegmentClass::ZeroWindowProbe:
        return "zero_window_probe";
    case SegmentClass::KeepAlive:
        return "keep_alive";
    case SegmentClass::OutOfWindow:
        return "out_of_window";
    case SegmentClass::UnacceptableAck:
        return "unacceptable_ack";
    case SegmentClass::RstAccepted:
        return "rst_accepted";
    case SegmentClass::RstChallenge:
        return "rst_challenge";
    case SegmentClass::RstIgnored:
        return "rst_ignored";
    case SegmentClass::SynInWindow:
        return "syn_in_window";
    }
    return "?";
}

std::vector<SegmentClass> SegmentClasses::list() const {
    std::vector<SegmentClass> out;
    for (std::size_t i = 0; i < kSegmentClassCount; ++i)
        if (has(static_cast<SegmentClass>(i)))
            out.push_back(static_cast<SegmentClass>(i));
    return out;
}

std::string SegmentClasses::toString() const {
    std::string out;
    for (const SegmentClass c : list()) {
        if (!out.empty())
            out += ',';
        out += className(c);
    }
    return out;
}

// ---- endpoints and segments ------------------------------------------------------------

Endpoint Endpoint::v4(const wire::Ipv4Address& a, std::uint16_t port) noexcept {
    Endpoint e;
    std::copy(a.octets.begin(), a.octets.end(), e.address.begin());
    e.port = port;
    return e;
}

Endpoint Endpoint::v6(const wire::Ipv6Address& a, std::uint16_t port) noexcept {
    Endpoint e;
    e.address = a.octets;
    e.port = port;
    e.ipv6 = true;
    return e;
}

Endpoint Endpoint::of(const wire::IpAddress& a, std::uint16_t port) noexcept {
    if (const auto* v4a = std::get_if<wire::Ipv4Address>(&a))
        return v4(*v4a, port);
    return v6(std::get<wire::Ipv6Address>(a), port);
}

wire::IpAddress Endpoint::ip() const noexcept {
    if (ipv6)
        return wire::Ipv6Address::fromBytes(address.data());
    return wire::Ipv4Address::fromBytes(address.data());
}

std::string Endpoint::toString() const {
    if (ipv6)
        return fmt::format("[{}]:{}", wire::Ipv6Address::fromBytes(address.data()).toString(),
                           port);
    return fmt::format("{}:{}", wire::Ipv4Address::fromBytes(address.data()).toString(), port);
}

std::uint32_t Segment::length() const noexcept {
    return payloadLength + (has(kSyn) ? 1u : 0u) + (has(kFin) ? 1u : 0u);
}

Segment Segment::fromHeader(const wire::TcpHeader& tcp, std::uint32_t payloadLength,
                            std::int64_t timeNs) noexcept {
    Segment s;
    s.seq = tcp.seq;
    s.ack = tcp.ack;
    s.flags = tcp.flags;
    s.window = tcp.window;
    s.payloadLength = payloadLength;
    s.timeNs = timeNs;
    if (tcp.options.empty())
        return s;
    if (tcp.has(kSyn)) {
        s.mss = tcp.options.mss();
        s.windowScale = tcp.options.windowScale();
        s.sackPermitted = tcp.options.sackPermitted();
    }
    s.timestamps = tcp.options.timestamps();
    // SACK blocks matter to the tracker only on pure ACKs (a duplicate ACK says what the
    // receiver holds); skipping them elsewhere keeps data segments cheap.
    if (payloadLength == 0 && tcp.has(kAck)) {
        for (const wire::TcpOption& option : tcp.options) {
            if (option.kind != wire::tcp_option_kind::kSack)
                continue;
            std::size_t count = 0;
            s.sackBlocks = option.sackBlocks(count);
            s.sackCount = static_cast<std::uint8_t>(count);
            break;
        }
    }
    return s;
}

std::optional<FrameSegment> segmentOf(const wire::Frame& frame, std::int64_t timeNs) noexcept {
    const wire::TcpHeader* tcp = frame.tcp();
    if (!tcp)
        return std::nullopt;
    FrameSegment out;
    // The end of the IP packet as its header declares it: beyond the captured bytes when
    // the capture was cut short by a snap length.
    std::size_t ipEnd = 0;
    const std::size_t at = frame.networkOffset;
    if (const auto* v4 = frame.ipv4()) {
        out.src = Endpoint::v4(v4->src, tcp->srcPort);
        out.dst = Endpoint::v4(v4->dst, tcp->dstPort);
        if (frame.bytes.size() >= at + 4)
            ipEnd = at + wire::load16(frame.bytes.data() + at + 2);
    } else if (const auto* v6 = frame.ipv6()) {
        out.src = Endpoint::v6(v6->src, tcp->srcPort);
        out.dst = Endpoint::v6(v6->dst, tcp->dstPort);
        if (frame.bytes.size() >= at + 6)
            ipEnd = at + wire::Ipv6Header::kLength + wire::load16(frame.bytes.data() + at + 4);
    } else {
        return std::nullopt;
    }
    std::uint32_t payload = frame.payloadLength;
    const std::size_t capturedEnd = std::size_t{frame.payloadOffset} + payload;
    if (ipEnd > capturedEnd && capturedEnd == frame.bytes.size())
        payload = static_cast<std::uint32_t>(ipEnd - frame.payloadOffset);
    out.segment = Segment::fromHeader(*tcp, payload, timeNs);
    return out;
}

// ---- SeqRangeSet -----------------------------------------------------------------------

template <std::size_t N>
void SeqRangeSet<N>::assign(const Range* ranges, std::size_t count) noexcept {
    m_count = static_cast<std::uint8_t>(std::min(count, N));
    std::copy(ranges, ranges + m_count, m_ranges.begin());
}

template <std::size_t N>
void SeqRangeSet<N>::add(SeqNum left, SeqNum right) noexcept {
    if (!(left < right))
        return;
    std::array<Range, N + 1> out{};
    std::size_t k = 0;
    Range merged{left, right};
    bool placed = false;
    for (std::size_t i = 0; i < m_count; ++i) {
        const Range& r = m_ranges[i];
        if (r.right < merged.left) {
            out[k++] = r; // wholly before, not touching
        } else if (merged.right < r.left) {
            if (!placed) {
                out[k++] = merged;
                placed = true;
            }
            out[k++] = r;
        } else {
            merged.left = earlier(merged.left, r.left);
            merged.right = later(merged.right, r.right);
        }
    }
    if (!placed)
        out[k++] = merged;
    assign(out.data(), k);
}

template <std::size_t N>
void SeqRangeSet<N>::remove(SeqNum left, SeqNum right) noexcept {
    if (!(left < right))
        return;
    std::array<Range, N + 1> out{};
    std::size_t k = 0;
    for (std::size_t i = 0; i < m_count && k <= N; ++i) {
        const Range& r = m_ranges[i];
        if (r.right <= left || right <= r.left) {
            out[k++] = r;
            continue;
        }
        if (r.left < left)
            out[k++] = Range{r.left, left};
        if (right < r.right && k <= N)
            out[k++] = Range{right, r.right};
    }
    assign(out.data(), k);
}

template <std::size_t N>
bool SeqRangeSet<N>::covers(SeqNum left, SeqNum right) const noexcept {
    SeqNum reached = left;
    for (std::size_t i = 0; i < m_count && reached < right; ++i) {
        const Range& r = m_ranges[i];
        if (r.left <= reached && reached < r.right)
            reached = r.right;
    }
    return !(reached < right);
}

template <std::size_t N>
bool SeqRangeSet<N>::overlaps(SeqNum left, SeqNum right) const noexcept {
    for (std::size_t i = 0; i < m_count; ++i)
        if (m_ranges[i].left < right && left < m_ranges[i].right)
            return true;
    return false;
}

template class SeqRangeSet<4>;

// ---- EndState --------------------------------------------------------------------------

std::uint32_t EndState::rcvWnd() const noexcept {
    if (!rcvEdgeKnown)
        return kUnknownWindow;
    const std::int32_t room = rcvEdge - rcvNxt;
    return room > 0 ? static_cast<std::uint32_t>(room) : 0u;
}

SeqNum EndState::ackLimit() const noexcept {
    return probeSent ? later(sndNxt, probeEnd) : sndNxt;
}

// ---- Connection ------------------------------------------------------------------------

Connection::Connection(const Endpoint& first, const Endpoint& second) noexcept {
    m_ends[0].endpoint = first;
    m_ends[1].endpoint = second;
}

std::optional<std::uint8_t> Connection::endOf(const Endpoint& endpoint) const noexcept {
    if (endpoint == m_ends[0].endpoint)
        return std::uint8_t{0};
    if (endpoint == m_ends[1].endpoint)
        return std::uint8_t{1};
    return std::nullopt;
}

std::uint8_t Connection::localEnd() const noexcept {
    if (m_local)
        return *m_local;
    return m_client.value_or(std::uint8_t{0});
}

bool Connection::windowScaling() const noexcept {
    return handshakeSeen() && m_ends[0].windowScale && m_ends[1].windowScale;
}

std::uint8_t Connection::windowShift(std::uint8_t end) const noexcept {
    if (!windowScaling())
        return 0;
    return std::min(*m_ends[end & 1u].windowScale, kMaxWindowShift);
}

bool Connection::sackPermitted() const noexcept {
    return handshakeSeen() && m_ends[0].sackPermitted && m_ends[1].sackPermitted;
}

bool Connection::timestamps() const noexcept {
    return handshakeSeen() && m_ends[0].timestampsOffered && m_ends[1].timestampsOffered;
}

std::uint16_t Connection::sendMss(std::uint8_t end) const noexcept {
    const EndState& other = m_ends[(end & 1u) ^ 1u];
    if (other.mss)
        return *other.mss;
    return m_ends[0].endpoint.ipv6 ? kDefaultMssIpv6 : kDefaultMssIpv4;
}

bool Connection::finished() const noexcept {
    const auto done = [](TcpState s) {
        return s == TcpState::Closed || s == TcpState::Listen || s == TcpState::TimeWait;
    };
    return m_segments > 0 && done(m_ends[0].state) && done(m_ends[1].state);
}

std::uint32_t Connection::windowForModel(std::uint8_t sender, const Segment& s) const noexcept {
    // RFC 7323 §2.2: "The window field in a segment where the SYN bit is set (i.e., a
    // <SYN> or <SYN,ACK>) MUST NOT be scaled." Without both SYNs the shift is unknown:
    // take the largest window the field can mean.
    if (s.has(kSyn))
        return s.window;
    if (!handshakeSeen())
        return std::uint32_t{s.window} << kMaxWindowShift;
    return std::uint32_t{s.window} << windowShift(sender);
}

std::uint32_t Connection::windowForReport(std::uint8_t sender, const Segment& s) const noexcept {
    if (s.has(kSyn) || !handshakeSeen())
        return s.window;
    return std::uint32_t{s.window} << windowShift(sender);
}

void Connection::setState(EndState& end, TcpState state) noexcept {
    if (end.state == state)
        return;
    end.state = state;
    end.stateSince = m_segments + 1; // the segment being fed
}

SegmentResult Connection::preview(std::uint8_t sender, const Segment& segment) const noexcept {
    Connection copy = *this;
    return copy.onSegment(sender, segment);
}

SegmentResult Connection::onSegment(std::uint8_t sender, const Segment& s) noexcept {
    const std::uint8_t xi = sender & 1u;
    const std::uint8_t yi = xi ^ 1u;
    EndState& x = m_ends[xi];
    EndState& y = m_ends[yi];

    SegmentResult r;
    r.sender = xi;
    r.flags = s.flags;
    r.segLen = s.length();
    r.payloadLength = s.payloadLength;
    r.before = {m_ends[0].state, m_ends[1].state};

    // The client is the first sender of a SYN without ACK.
    if (s.has(kSyn) && !s.has(kAck) && !s.has(kRst) && !m_client)
        m_client = xi;

    learn(x, y, s);
    classifySending(x, y, s, r.classes);
    send(xi, s, r.classes);
    receive(yi, s, r.classes);

    r.relSeq = x.issKnown ? static_cast<std::uint32_t>(s.seq.value() - x.iss.value()) : 0u;
    r.relAck =
        s.has(kAck) && y.issKnown ? static_cast<std::uint32_t>(s.ack.value() - y.iss.value()) : 0u;
    r.window = windowForReport(xi, s);
    r.dupAckCount = x.dupAcks;
    r.after = {m_ends[0].state, m_ends[1].state};
    ++m_segments;
    return r;
}

// Ends first seen after their handshake: what this segment tells about them. Its sender
// has sent up to SEG.SEQ (ISS taken as SEG.SEQ - 1, so relative numbers start at 1 as
// Wireshark's do); an ACK tells the receiver's sequence space the same way.
void Connection::learn(EndState& x, EndState& y, const Segment& s) noexcept {
    const bool syn = s.has(kSyn);
    const bool ack = s.has(kAck);
    x.known = true;
    if (!x.issKnown && !syn) {
        x.issKnown = true;
        x.issInferred = true;
        x.iss = s.seq - 1;
        x.sndUna = s.seq;
        x.sndNxt = s.seq;
        x.sndNxtTimeNs = s.timeNs;
        if (x.state == TcpState::Closed && !s.has(kRst))
            setState(x, TcpState::Established);
    }
    // (An ACK sent to an end presumed LISTEN tells nothing of it: it has sent nothing.)
    if (ack && !y.issKnown && y.state == TcpState::Closed) {
        y.known = true;
        y.issKnown = true;
        y.issInferred = true;
        y.iss = s.ack - 1;
        y.sndUna = syn ? y.iss : s.ack;
        y.sndNxt = s.ack;
        setState(y, syn ? TcpState::SynSent : TcpState::Established);
    }
    if (ack && !x.irsKnown && y.issKnown && x.state != TcpState::Listen) {
        x.irsKnown = true;
        x.irs = y.iss;
        x.rcvNxt = s.ack;
    }
    if (!syn && !y.irsKnown && x.issKnown && isSynchronized(y.state)) {
        y.irsKnown = true;
        y.irs = x.iss;
        y.rcvNxt = s.seq;
    }
}

// What the segment is from its sender's side, judged against what the sender was seen
// to send before (x is still as it was before this segment).
void Connection::classifySending(const EndState& x, const EndState& y, const Segment& s,
                                 SegmentClasses& classes) const noexcept {
    const bool syn = s.has(kSyn);
    const bool ack = s.has(kAck);
    const bool fin = s.has(kFin);
    const bool rst = s.has(kRst);
    const std::uint8_t xi = &x == &m_ends[0] ? 0 : 1;

    if (syn)
        classes.add(ack ? SegmentClass::SynAck : SegmentClass::Syn);
    if (s.window == 0 && !syn && !fin && !rst)
        classes.add(SegmentClass::ZeroWindow);
    // A RST is judged by its receiver alone (RFC 9293 §3.10.7, RFC 5961 §3).
    if (rst || !x.issKnown)
        return;
    if (syn) {
        // The same SYN again; a SYN-ACK after its own bare SYN is simultaneous open's
        // step 5 (RFC 9293 Figure 7), not a retransmission.
        if (x.synSeen && s.seq == x.iss && (ack ? x.synAckSent : x.synSent))
            classes.add(SegmentClass::Retransmission);
        return;
    }

    const SeqNum nxt = x.sndNxt;
    bool keepAlive = false;
    bool probe = false;
    if (!fin && isSynchronized(x.state)) {
        // RFC 9293 §3.8.4: "SEG.SEQ = SND.NXT-1 ... may or may not contain one garbage octet".
        if (s.payloadLength <= 1 && s.seq == nxt - 1)
            keepAlive = true;
        // RFC 9293 §3.8.6.1: with a zero window the sender probes with one octet.
        else if (s.payloadLength == 1 && s.seq == nxt && x.sndWndKnown && x.sndWnd == 0)
            probe = true;
    }
    if (keepAlive)
        classes.add(SegmentClass::KeepAlive);
    if (probe)
        classes.add(SegmentClass::ZeroWindowProbe);

    const std::uint32_t len = s.length();
    if (!keepAlive && !probe && len > 0) {
        const SeqNum end = s.seq + len;
        const SeqNum dataEnd = s.seq + s.payloadLength;
        if (s.payloadLength > 0 && dataEnd > nxt)
            classes.add(SegmentClass::NewData);
        if (s.seq > nxt)
            classes.add(SegmentClass::LostSegment);
        const SeqNum seenEnd = earlier(end, nxt);
        if (s.seq < seenEnd) {
            if (x.holes.overlaps(s.seq, seenEnd))
                classes.add(SegmentClass::GapFill);
            if (!x.holes.covers(s.seq, seenEnd)) {
                classes.add(SegmentClass::Retransmission);
                if (end <= x.sndUna)
                    classes.add(SegmentClass::SpuriousRetransmission);
                if (y.dupAcks >= 3 && s.seq == x.sndUna)
                    classes.add(SegmentClass::FastRetransmission);
            }
        }
        if (s.payloadLength > 0 && !fin && handshakeSeen() && y.ackSent &&
            dataEnd == y.lastAck + y.lastWindow)
            classes.add(SegmentClass::WindowFull);
    }

    if (!ack || s.payloadLength > 0 || fin || !x.ackSent)
        return;
    const std::uint32_t window = windowForReport(xi, s);
    // RFC 5681 §2, DUPLICATE ACKNOWLEDGMENT, conditions (a) to (e).
    if (!keepAlive && y.issKnown && y.sndUna < y.sndNxt && s.ack == y.sndUna &&
        window == x.lastWindow)
        classes.add(SegmentClass::DuplicateAck);
    if (s.ack == x.lastAck && s.seq == nxt && s.window != 0 && window != x.lastWindow)
        classes.add(SegmentClass::WindowUpdate);
}

// What sending the segment does to its sender.
void Connection::send(std::uint8_t xi, const Segment& s, SegmentClasses& classes) noexcept {
    EndState& x = m_ends[xi];
    EndState& y = m_ends[xi ^ 1u];
    const bool syn = s.has(kSyn);
    const bool ack = s.has(kAck);
    const bool fin = s.has(kFin);
    const bool rst = s.has(kRst);

    // A SYN from a synchronized end opens nothing: its receiver judges it (SynInWindow,
    // OutOfWindow) and it changes nothing of its sender.
    const bool opening = syn && !rst && !isSynchronized(x.state);
    if (opening) {
        x.mss = s.mss;
        x.windowScale = s.windowScale;
        x.sackPermitted = s.sackPermitted;
        x.timestampsOffered = s.timestamps.has_value();
        if (!x.synSeen || s.seq != x.iss) {
            // A new ISN: what came before it is another incarnation.
            x.synSeen = true;
            x.issKnown = true;
            x.issInferred = false;
            x.iss = s.seq;
            x.sndUna = s.seq;
            x.sndNxt = s.seq + 1;
            x.sndNxtTimeNs = s.timeNs;
            x.holes.clear();
            x.synSent = false;
            x.synAckSent = false;
            x.finSent = false;
            x.probeSent = false;
        }
        (ack ? x.synAckSent : x.synSent) = true;
        if (!ack) {
            // Active open (RFC 9293 §3.10.1). An end presumed LISTEN that sends a bare SYN
            // had opened actively; holding the other end's SYN already, it is in the
            // crossing of a simultaneous open (Figure 7 lines 3-4): SYN-RECEIVED.
            if (x.state == TcpState::Closed)
                setState(x, TcpState::SynSent);
            else if (x.state == TcpState::Listen)
                setState(x, x.irsKnown ? TcpState::SynReceived : TcpState::SynSent);
            if (x.state == TcpState::SynReceived)
                x.passiveOpen = false;
        } else if (x.state == TcpState::Closed || x.state == TcpState::Listen ||
                   x.state == TcpState::SynSent) {
            // RFC 9293 §3.10.7.2: LISTEN answers a SYN with <SYN,ACK> and enters SYN-RECEIVED.
            x.passiveOpen = x.state != TcpState::SynSent;
            setState(x, TcpState::SynReceived);
        }
    }

    // Sequence space: SND.NXT is the highest sent; a jump leaves a hole (a LostSegment).
    if (!rst && x.issKnown && (opening || !syn)) {
        if (classes.has(SegmentClass::ZeroWindowProbe)) {
            x.probeSent = true;
            x.probeEnd = s.seq + 1;
        } else if (const std::uint32_t len = s.length(); len > 0) {
            const SeqNum end = s.seq + len;
            if (x.sndNxt < s.seq)
                x.holes.add(x.sndNxt, s.seq);
            x.holes.remove(s.seq, end);
            if (x.sndNxt < end) {
                x.sndNxt = end;
                x.sndNxtTimeNs = s.timeNs;
            }
        }
    }

    if (fin && !rst) {
        x.finSent = true;
        x.finSeq = s.seq + (syn ? 1 : 0) + s.payloadLength;
        switch (x.state) {
        case TcpState::SynReceived:
        case TcpState::Established:
            // RFC 9293 §3.10.4 CLOSE: "form a FIN segment ... enter FIN-WAIT-1".
            setState(x, TcpState::FinWait1);
            break;
        case TcpState::CloseWait:
            // CLOSE in CLOSE-WAIT enters LAST-ACK. A FIN that does not acknowledge the
            // other end's FIN was sent before that FIN arrived: the two crossed, a
            // simultaneous close (RFC 9293 §3.6, Figure 13); the sender is in CLOSING.
            setState(x,
                     ack && y.finSent && s.ack <= y.finSeq ? TcpState::Closing : TcpState::LastAck);
            break;
        default:
            break;
        }
    }

    // An end that sends a RST from SYN-RECEIVED or a synchronized state has aborted
    // (RFC 9293 §3.10.4 ABORT). One presumed LISTEN that answers a SYN with RST had no
    // listener (§3.10.7.1). SYN-SENT sends RST only to refuse a bad SYN-ACK (§3.10.7.3)
    // and stays where it is.
    if (rst && (x.state == TcpState::Listen || x.state == TcpState::SynReceived ||
                isSynchronized(x.state)))
        setState(x, TcpState::Closed);

    if (!rst) {
        x.lastWindow = windowForReport(xi, s);
        if (ack) {
            x.ackSent = true;
            x.lastAck = s.ack;
            x.rcvEdge = s.ack + windowForModel(xi, s);
            x.rcvEdgeKnown = true;
        } else if (x.irsKnown) {
            x.rcvEdge = x.rcvNxt + windowForModel(xi, s);
            x.rcvEdgeKnown = true;
        }
    }
    if (s.timestamps) {
        x.tsVal = s.timestamps->first;
        x.tsEcr = s.timestamps->second;
    }

    // The sender's own ACK is the best evidence of what it holds. Beyond the model's
    // RCV.NXT (within what the other end sent): it has received that much. A duplicate
    // ACK below it: a segment was lost after the capture point; its SACK blocks (RFC 2018
    // §4) tell what the end holds beyond the hole. SACK blocks beyond SEG.ACK say so by
    // themselves, whatever the window: a receiver that also grows its window (Linux
    // autotuning while it holds out-of-order data) sends window updates, not duplicate
    // ACKs (RFC 5681 §2 (e)), yet its RCV.NXT is SEG.ACK all the same (RFC 2018 §3: "the
    // cumulative ACK field remains the left edge"). Without this the model would keep
    // the hole's data as received, and call its retransmission out of window.
    const auto sacksBeyondAck = [&]() {
        for (std::size_t i = 0; i < s.sackCount; ++i)
            if (s.ack < s.sackBlocks[i].left)
                return true;
        return false;
    };
    if (ack && !rst && x.irsKnown && isSynchronized(x.state)) {
        if (x.rcvNxt < s.ack && s.ack <= y.ackLimit()) {
            if (y.finSent && !x.finReceived && s.ack == y.finSeq + 1) {
                advanceRcvNxt(x, y.finSeq);
                if (x.rcvNxt == y.finSeq)
                    deliverFin(x);
            } else {
                advanceRcvNxt(x, s.ack);
            }
        } else if ((classes.has(SegmentClass::DuplicateAck) || sacksBeyondAck()) &&
                   s.ack <= x.rcvNxt && !x.finReceived) {
            x.rcvNxt = s.ack;
            // Between its lowest and highest SACK edge it holds what the blocks say and
            // nothing else: the ranges between them were lost too, whatever the model
            // took it to receive. Below and above that span the model's guess stands (a
            // receiver reports only its 3 or 4 most recent blocks, RFC 2018 §4; above
            // them segments may still be in flight).
            bool spanKnown = false;
            SeqNum spanLeft;
            SeqNum spanRight;
            for (std::size_t i = 0; i < s.sackCount; ++i) {
                const wire::SackBlock& b = s.sackBlocks[i];
                if (!(s.ack < b.left) || !(b.left < b.right))
                    continue;
                spanLeft = spanKnown ? earlier(spanLeft, b.left) : b.left;
                spanRight = spanKnown ? later(spanRight, b.right) : b.right;
                spanKnown = true;
            }
            if (spanKnown)
                x.outOfOrder.remove(spanLeft, spanRight);
            for (std::size_t i = 0; i < s.sackCount; ++i)
                if (s.ack < s.sackBlocks[i].left)
                    x.outOfOrder.add(s.sackBlocks[i].left, s.sackBlocks[i].right);
        }
    }

    if (classes.has(SegmentClass::DuplicateAck))
        x.dupAcks = x.dupAcks < 255 ? static_cast<std::uint8_t>(x.dupAcks + 1) : x.dupAcks;
    else
        x.dupAcks = 0;
    x.lastTimeNs = s.timeNs;
    ++x.segments;
}

// What receiving the segment does to its receiver: RFC 9293 §3.10.7, by state.
void Connection::receive(std::uint8_t yi, const Segment& s, SegmentClasses& classes) noexcept {
    EndState& y = m_ends[yi];
    if (!y.known) {
        // Nothing known of the receiver: one that is sent a SYN is presumed to listen (it
        // enters SYN-RECEIVED when its SYN-ACK is seen, RFC 9293 Figure 6 line 3).
        if (!s.has(kSyn) || s.has(kAck) || s.has(kRst))
            return;
        y.known = true;
        setState(y, TcpState::Listen);
    }
    switch (y.state) {
    case TcpState::Closed:
        // §3.10.7.1: "An incoming segment containing a RST is discarded." Anything else
        // draws a RST, which the sender will show.
        if (s.has(kRst))
            classes.add(SegmentClass::RstIgnored);
        return;
    case TcpState::Listen:
        return receiveInListen(y, s, classes);
    case TcpState::SynSent:
        return receiveInSynSent(yi, s, classes);
    default:
        return receiveSynchronized(yi, s, classes);
    }
}

// RFC 9293 §3.10.7.2, LISTEN.
void Connection::receiveInListen(EndState& y, const Segment& s, SegmentClasses& classes) noexcept {
    // "First, check for a RST: an incoming RST should be ignored."
    if (s.has(kRst)) {
        classes.add(SegmentClass::RstIgnored);
        return;
    }
    // "Second, check for an ACK: any acknowledgment is bad if it arrives on a connection
    // still in the LISTEN state. An acceptable reset segment should be formed."
    if (s.has(kAck)) {
        classes.add(SegmentClass::UnacceptableAck);
        return;
    }
    if (!s.has(kSyn))
        return;
    // "Third, check for a SYN: ... set RCV.NXT to SEG.SEQ+1, IRS is set to SEG.SEQ". The
    // observer keeps it in LISTEN until its SYN-ACK is seen.
    y.irsKnown = true;
    y.irs = s.seq;
    y.rcvNxt = s.seq + 1;
    y.outOfOrder.clear();
    y.finReceived = false;
    y.finQueued = false;
    y.sndWnd = s.window;
    y.sndWndKnown = true;
    y.sndWl1 = s.seq;
    y.sndWl2 = s.ack;
    y.maxSndWnd = std::max(y.maxSndWnd, y.sndWnd);
}

// RFC 9293 §3.10.7.3, SYN-SENT.
void Connection::receiveInSynSent(std::uint8_t yi, const Segment& s,
                                  SegmentClasses& classes) noexcept {
    EndState& y = m_ends[yi];
    const bool rst = s.has(kRst);
    // "First, check the ACK bit: If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset
    // (unless the RST bit is set, if so drop the segment and return)."
    bool ackOk = false;
    if (s.has(kAck)) {
        if (s.ack <= y.iss || y.ackLimit() < s.ack) {
            classes.add(SegmentClass::UnacceptableAck);
            if (rst)
                classes.add(SegmentClass::RstIgnored);
            return;
        }
        ackOk = true;
    }
    // "Second, check the RST bit: If the ACK was acceptable, then signal ... 'connection
    // reset', drop the segment, enter CLOSED state ... Otherwise (no ACK), drop the
    // segment and return."
    if (rst) {
        if (ackOk) {
            classes.add(SegmentClass::RstAccepted);
            setState(y, TcpState::Closed);
        } else {
            classes.add(SegmentClass::RstIgnored);
        }
        return;
    }
    // "Fourth, check the SYN bit": RCV.NXT = SEG.SEQ+1, IRS = SEG.SEQ, SND.UNA = SEG.ACK.
    if (!s.has(kSyn))
        return;
    y.irsKnown = true;
    y.irs = s.seq;
    y.rcvNxt = s.seq + 1;
    y.outOfOrder.clear();
    y.finReceived = false;
    y.finQueued = false;
    if (ackOk) {
        y.sndUna = s.ack;
        y.holes.clear();
    }
    y.sndWnd = windowForModel(yi ^ 1u, s);
    y.sndWndKnown = true;
    y.sndWl1 = s.seq;
    y.sndWl2 = s.ack;
    y.maxSndWnd = std::max(y.maxSndWnd, y.sndWnd);
    if (!y.rcvEdgeKnown && y.synSeen) {
        // The window of its own SYN, unscaled, counted from the RCV.NXT it now has.
        y.rcvEdge = y.rcvNxt + y.lastWindow;
        y.rcvEdgeKnown = true;
    }
    // "If SND.UNA > ISS (our SYN has been ACKed), change the connection state to
    // ESTABLISHED ... Otherwise, enter SYN-RECEIVED" (simultaneous open, Figure 7).
    if (y.iss < y.sndUna) {
        setState(y, TcpState::Established);
        // "If there are other controls or text in the segment, then continue processing
        // at the sixth step."
        if (s.payloadLength > 0 || s.has(kFin))
            receiveText(y, s, classes);
    } else {
        setState(y, TcpState::SynReceived);
        y.passiveOpen = false;
    }
}

// RFC 9293 §3.10.7.4, SYN-RECEIVED and the synchronized states.
void Connection::receiveSynchronized(std::uint8_t yi, const Segment& s,
                                     SegmentClasses& classes) noexcept {
    EndState& y = m_ends[yi];
    const std::uint8_t xi = yi ^ 1u;
    const bool syn = s.has(kSyn);
    const bool ack = s.has(kAck);

    // Second check, RST, by RFC 5961 §3.2 (which RFC 9293 takes up): exactly RCV.NXT
    // resets; elsewhere in the window draws a challenge ACK; outside it is dropped.
    if (s.has(kRst)) {
        if (s.seq == y.rcvNxt) {
            classes.add(SegmentClass::RstAccepted);
            // "If this connection was initiated with a passive OPEN (i.e., came from the
            // LISTEN state), then return this connection to LISTEN state".
            if (y.state == TcpState::SynReceived && y.passiveOpen) {
                setState(y, TcpState::Listen);
                y.irsKnown = false;
            } else {
                setState(y, TcpState::Closed);
            }
        } else if (s.seq.inWindow(y.rcvNxt, y.rcvWnd())) {
            classes.add(SegmentClass::RstChallenge);
        } else {
            classes.add(SegmentClass::RstIgnored);
        }
        return;
    }

    // Simultaneous open, Figure 7 line 6: in SYN-RECEIVED the other end's SYN-ACK repeats
    // the SYN already received (SEG.SEQ = RCV.NXT - 1), so the first check would refuse
    // it; the figure (and Linux, tcp_validate_incoming) let it through when it
    // acknowledges our SYN.
    const bool simultaneousSynAck = syn && ack && y.state == TcpState::SynReceived && y.irsKnown &&
                                    s.seq + 1 == y.rcvNxt && s.ack == y.sndNxt;
    if (!simultaneousSynAck) {
        // First check: is the segment acceptable? "If an incoming segment is not
        // acceptable, an acknowledgment should be sent in reply".
        if (!acceptable(y, s)) {
            if (!classes.has(SegmentClass::KeepAlive) &&
                !classes.has(SegmentClass::ZeroWindowProbe))
                classes.add(SegmentClass::OutOfWindow);
            return;
        }
        // Fourth check, SYN (RFC 5961 §4.2): "TCP endpoints MUST send a challenge ACK".
        // In SYN-RECEIVED RFC 9293 would return a passive end to LISTEN; Linux answers
        // with its SYN-ACK again; the tracker keeps the state.
        if (syn) {
            classes.add(SegmentClass::SynInWindow);
            return;
        }
    }

    // Fifth check: "if the ACK bit is off, drop the segment and return".
    if (!ack)
        return;
    bool forceWindow = false;
    if (y.state == TcpState::SynReceived) {
        // "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED state ... If the segment
        // acknowledgment is not acceptable, form a reset segment".
        if (!(y.sndUna < s.ack && s.ack <= y.ackLimit())) {
            classes.add(SegmentClass::UnacceptableAck);
            return;
        }
        setState(y, TcpState::Established);
        forceWindow = true;
    }
    // "If the ACK acknowledges something not yet sent (SEG.ACK > SND.NXT), then send an
    // ACK, drop the segment, and return"; RFC 5961 §5.2: also when SEG.ACK <
    // SND.UNA - MAX.SND.WND.
    if (y.ackLimit() < s.ack || s.ack < y.sndUna - std::int64_t{y.maxSndWnd}) {
        classes.add(SegmentClass::UnacceptableAck);
        return;
    }
    const bool oldAck = s.ack < y.sndUna;
    if (y.sndUna < s.ack) {
        y.sndUna = s.ack;
        if (y.sndNxt < s.ack)
            y.sndNxt = s.ack; // a zero-window probe byte was taken
        y.holes.remove(y.iss, s.ack);
    }
    // "If SND.UNA =< SEG.ACK =< SND.NXT, the send window should be updated. If (SND.WL1 <
    // SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK)), set SND.WND <- SEG.WND,
    // set SND.WL1 <- SEG.SEQ, and set SND.WL2 <- SEG.ACK."
    if (!oldAck && (forceWindow || !y.sndWndKnown || y.sndWl1 < s.seq ||
                    (y.sndWl1 == s.seq && y.sndWl2 <= s.ack))) {
        y.sndWnd = windowForModel(xi, s);
        y.sndWndKnown = true;
        y.sndWl1 = s.seq;
        y.sndWl2 = s.ack;
        y.maxSndWnd = std::max(y.maxSndWnd, y.sndWnd);
    }
    const bool finAcked = finAcknowledged(y);
    switch (y.state) {
    case TcpState::FinWait1:
        // "if the FIN segment is now acknowledged, then enter FIN-WAIT-2"
        if (finAcked)
            setState(y, TcpState::FinWait2);
        break;
    case TcpState::Closing:
        // "if the ACK acknowledges our FIN, then enter the TIME-WAIT state"
        if (finAcked)
            setState(y, TcpState::TimeWait);
        break;
    case TcpState::LastAck:
        // "If our FIN is now acknowledged, delete the TCB, enter the CLOSED state"
        if (finAcked) {
            setState(y, TcpState::Closed);
            return;
        }
        break;
    default:
        break;
    }
    if (s.payloadLength > 0 || s.has(kFin))
        receiveText(y, s, classes);
}

// Seventh (segment text) and eighth (FIN) steps of RFC 9293 §3.10.7.4.
void Connection::receiveText(EndState& y, const Segment& s, SegmentClasses& classes) noexcept {
    const SeqNum start = s.seq + (s.has(kSyn) ? 1 : 0);
    const SeqNum dataEnd = start + s.payloadLength;
    // Text is taken in ESTABLISHED, FIN-WAIT-1 and FIN-WAIT-2; in the later states "this
    // should not occur, since a FIN has been received from the remote side".
    const bool takesText = y.state == TcpState::Established || y.state == TcpState::FinWait1 ||
                           y.state == TcpState::FinWait2;
    if (s.payloadLength > 0 && takesText) {
        // Whatever lies beyond the window is trimmed off.
        const SeqNum edge = y.rcvNxt + y.rcvWnd();
        const SeqNum end = earlier(dataEnd, edge);
        if (start <= y.rcvNxt) {
            if (y.rcvNxt < end)
                advanceRcvNxt(y, end);
        } else {
            classes.add(SegmentClass::OutOfOrder);
            y.outOfOrder.add(start, end);
        }
    }
    if (!s.has(kFin) || y.finReceived)
        return;
    // The FIN is taken when everything before it is (a FIN right after data that fills
    // the window is taken too, as Linux does).
    if (dataEnd == y.rcvNxt) {
        deliverFin(y);
    } else if (y.rcvNxt < dataEnd && dataEnd.inWindow(y.rcvNxt, y.rcvWnd())) {
        if (!classes.has(SegmentClass::OutOfOrder))
            classes.add(SegmentClass::OutOfOrder);
        y.finQueued = true;
        y.finQueuedSeq = dataEnd;
    }
}

void Connection::advanceRcvNxt(EndState& y, SeqNum to) noexcept {
    y.rcvNxt = to;
    // Held segments that now join the in-order data are taken with it.
    while (!y.outOfOrder.empty() && y.outOfOrder[0].left <= y.rcvNxt) {
        const auto first = y.outOfOrder[0];
        y.rcvNxt = later(y.rcvNxt, first.right);
        y.outOfOrder.remove(first.left, first.right);
    }
    if (y.finQueued && y.finQueuedSeq == y.rcvNxt)
        deliverFin(y);
}

// The eighth step: "If the FIN bit is set ... advance RCV.NXT over the FIN".
void Connection::deliverFin(EndState& y) noexcept {
    y.rcvNxt = y.rcvNxt + 1;
    y.finReceived = true;
    y.finQueued = false;
    switch (y.state) {
    case TcpState::SynReceived:
    case TcpState::Established:
        setState(y, TcpState::CloseWait);
        break;
    case TcpState::FinWait1:
        // "If our FIN has been ACKed (perhaps in this segment), then enter TIME-WAIT ...
        // otherwise, enter the CLOSING state."
        setState(y, finAcknowledged(y) ? TcpState::TimeWait : TcpState::Closing);
        break;
    case TcpState::FinWait2:
        setState(y, TcpState::TimeWait);
        break;
    default:
        break;
    }
}

// ---- ConnectionTable -------------------------------------------------------------------

std::size_t ConnectionTable::KeyHash::operator()(const Key& k) const noexcept {
    // FNV-1a over both endpoints.
    std::uint64_t h = 14695981039346656037ull;
    const auto mix = [&h](const Endpoint& e) {
        for (const std::uint8_t b : e.address)
            h = (h ^ b) * 1099511628211ull;
        h = (h ^ e.port) * 1099511628211ull;
        h = (h ^ (e.ipv6 ? 1u : 0u)) * 1099511628211ull;
    };
    mix(k.low);
    mix(k.high);
    return static_cast<std::size_t>(h);
}

ConnectionTable::Key ConnectionTable::keyOf(const Endpoint& a, const Endpoint& b) noexcept {
    return a < b ? Key{a, b} : Key{b, a};
}

void ConnectionTable::addLocalAddress(const wire::IpAddress& address) {
    m_localAddresses.push_back(address);
    for (Connection& c : m_connections) {
        if (c.localEndKnown())
            continue;
        if (isLocal(c.end(0).endpoint))
            c.setLocalEnd(0);
        else if (isLocal(c.end(1).endpoint))
            c.setLocalEnd(1);
    }
}

bool ConnectionTable::isLocal(const Endpoint& e) const noexcept {
    const wire::IpAddress ip = e.ip();
    return std::find(m_localAddresses.begin(), m_localAddresses.end(), ip) !=
           m_localAddresses.end();
}

std::optional<SegmentResult> ConnectionTable::onFrame(const wire::Frame& frame,
                                                      std::int64_t timeNs) {
    auto found = segmentOf(frame, timeNs);
    if (!found)
        return std::nullopt;
    return onSegment(found->src, found->dst, found->segment);
}

SegmentResult ConnectionTable::onSegment(const Endpoint& src, const Endpoint& dst,
                                         const Segment& segment) {
    const Key key = keyOf(src, dst);
    const std::uint32_t index = connectionFor(key, src, dst, segment);
    Connection& c = m_connections[index];
    SegmentResult r = c.onSegment(c.endOf(src).value_or(0), segment);
    r.connection = index;
    return r;
}

std::uint32_t ConnectionTable::connectionFor(const Key& key, const Endpoint& src,
                                             const Endpoint& dst, const Segment& s) {
    std::optional<std::uint32_t> index;
    if (m_lastKey && *m_lastKey == key) {
        index = m_lastIndex;
    } else if (const auto it = m_latest.find(key); it != m_latest.end()) {
        index = it->second;
    }
    if (index && s.has(kSyn) && !s.has(kAck) && !s.has(kRst)) {
        // A new SYN on a 4-tuple whose ends are both done opens a new connection (RFC 9293
        // §3.10.7.4 TIME-WAIT, RFC 6191); the same SYN again is a retransmission.
        const Connection& c = m_connections[*index];
        const EndState& sender = c.end(c.endOf(src).value_or(0));
        if (c.finished() && !(sender.synSeen && sender.iss == s.seq))
            index.reset();
    }
    if (!index) {
        index = static_cast<std::uint32_t>(m_connections.size());
        Connection& c = m_connections.emplace_back(src, dst);
        if (isLocal(src))
            c.setLocalEnd(0);
        else if (isLocal(dst))
            c.setLocalEnd(1);
        m_latest[key] = *index;
    }
    m_lastKey = key;
    m_lastIndex = *index;
    return *index;
}

std::optional<std::size_t> ConnectionTable::find(const Endpoint& a, const Endpoint& b) const {
    const auto it = m_latest.find(keyOf(a, b));
    if (it == m_latest.end())
        return std::nullopt;
    return it->second;
}

void ConnectionTable::clear() {
    m_connections.clear();
    m_latest.clear();
    m_lastKey.reset();
    m_lastIndex = 0;
}

} // namespace tcplab::tcp
