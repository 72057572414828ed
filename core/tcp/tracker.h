#pragma once

// The connection tracker: follows both ends of every TCP connection from the segments
// seen on the wire, as an observer standing where the capture is (the phantom host).
//
// The model, in one paragraph. Every segment seen is taken to reach its receiver in the
// order seen, and each end is taken to be a correct RFC 9293 TCP: sending a segment
// moves its sender (a SYN enters SYN-SENT, a FIN leaves ESTABLISHED for FIN-WAIT-1, a
// RST aborts), and receiving it moves its receiver by the rules of RFC 9293 §3.10.7
// (with RFC 5961 for RST, SYN and ACK validation). What the ends themselves say
// corrects the model: an ACK beyond what we think an end received means it did
// receive it; a duplicate ACK below it means a segment was lost after the capture
// point (its SACK blocks say what the end holds). Nothing here has a timer: TIME-WAIT
// is the last state an end reaches, and a new SYN on the same 4-tuple after both
// ends are done starts a new Connection (RFC 9293 §3.10.7.4, RFC 6191).
//
// ConnectionTable maps frames to Connections; Connection holds the two EndStates and
// answers each segment with a SegmentResult (relative numbers, states before/after,
// SegmentClasses). A Connection is a plain value without heap storage: copy it to ask
// "what would the peer do with this segment" (preview()) without touching the real one.

#include "wire/address.h"
#include "wire/frame.h"
#include "wire/seq_num.h"
#include "wire/tcp.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tcplab::tcp {

using wire::SeqNum;

/// The connection states of RFC 9293 §3.3.2 (Figure 5).
enum class TcpState : std::uint8_t {
    Closed,
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
};
/// As the RFC spells it: "CLOSED", "SYN-SENT", "FIN-WAIT-1", "TIME-WAIT" ...
std::string_view stateName(TcpState state) noexcept;
/// RFC 9293 §3.5.2: ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT, CLOSING, LAST-ACK and
/// TIME-WAIT are the synchronized states.
constexpr bool isSynchronized(TcpState state) noexcept {
    return state >= TcpState::Established;
}

/// What a segment is, by the rules below. A segment can be several (a retransmission can
/// also fill a gap; a pure ACK can be a duplicate ACK and advertise a zero window).
/// "SND.NXT" of a sender is the observer's: the highest sequence number it was seen to
/// send plus one (what RFC 793 implementations call SND.MAX). "The receiver's RCV.NXT"
/// is the receiver's, as the model has it (see the file comment).
enum class SegmentClass : std::uint8_t {
    /// SYN without ACK: an active open (RFC 9293 §3.5, Figure 6 line 2), or either end's
    /// first segment of a simultaneous open (Figure 7). Also on retransmitted SYNs.
    Syn,
    /// SYN with ACK: the answer of a passive open (Figure 6 line 3), or the second segment
    /// of each end in a simultaneous open (Figure 7 lines 5 and 6).
    SynAck,
    /// Data bytes beyond the sender's SND.NXT: SEG.SEQ + data > SND.NXT (RFC 9293 §3.4).
    /// Not on keep-alives or zero-window probes.
    NewData,
    /// Sequence space (data, SYN or FIN) that this sender was already seen to send: part of
    /// [SEG.SEQ, SEG.SEQ + SEG.LEN) lies below SND.NXT outside any gap (RFC 9293 §3.8.1,
    /// RFC 6298). A retransmitted SYN or SYN-ACK counts; keep-alives and probes do not.
    Retransmission,
    /// A Retransmission that starts at the receiver's acknowledgment (SEG.SEQ = SND.UNA)
    /// after at least 3 duplicate ACKs from it in a row (RFC 5681 §3.2, fast retransmit).
    FastRetransmission,
    /// A Retransmission of sequence space the receiver had already acknowledged in full
    /// (SEG.SEQ + SEG.LEN =< SND.UNA): not needed (RFC 3522 §1 "spurious retransmission").
    SpuriousRetransmission,
    /// Starts beyond the sender's SND.NXT: the sequence numbers in between were never seen
    /// (lost before the capture point, or overtaken by this segment). Wireshark's
    /// "previous segment not captured". Not on RST.
    LostSegment,
    /// Carries sequence numbers of such a gap, seen for the first time: a segment that was
    /// overtaken, or the retransmission of one lost before the capture point (an observer
    /// cannot tell which; Wireshark guesses from timing).
    GapFill,
    /// Acceptable data or FIN beyond the receiver's RCV.NXT: a hole remains before it, so
    /// the receiver holds it for later and acknowledges RCV.NXT again (RFC 9293 §3.10.7.4,
    /// "segments with higher beginning sequence numbers than RCV.NXT may be held").
    OutOfOrder,
    /// RFC 5681 §2 "duplicate acknowledgment": (a) the receiver of the ACK has outstanding
    /// data (SND.UNA < SND.NXT), (b) no data, (c) SYN and FIN off (and RST), (d) SEG.ACK =
    /// the receiver's SND.UNA, (e) the window equals the sender's previous advertisement.
    /// Keep-alives are not counted. SegmentResult::dupAckCount numbers a run of them.
    DuplicateAck,
    /// A pure window update (RFC 9293 §3.8.6.2.2): no data, no SYN/FIN/RST, SEG.SEQ = the
    /// sender's SND.NXT, the same SEG.ACK as its previous ACK and a different, non-zero
    /// window. (A change to zero is ZeroWindow.)
    WindowUpdate,
    /// Data that reaches exactly the right edge of the window the receiver advertised
    /// (its last ACK + its window): the sender can send no more until the window moves
    /// (RFC 9293 §3.8.6). Only when window scaling is known; not on SYN/FIN/RST.
    WindowFull,
    /// Advertises a zero window: the sender of this segment can take no more data now
    /// (RFC 9293 §3.8.6). Not on SYN/FIN/RST.
    ZeroWindow,
    /// One byte at SND.NXT while the receiver's window is zero (RFC 9293 §3.8.6.1: the
    /// sender must keep probing a zero window). It does not advance SND.NXT, and is not
    /// OutOfWindow although the receiver refuses it: the ACK it draws is its purpose.
    ZeroWindowProbe,
    /// 0 or 1 byte at SND.NXT - 1, no SYN/FIN/RST, from a synchronized end (RFC 9293
    /// §3.8.4, RFC 1122 §4.2.3.6): an old sequence number the receiver answers with an
    /// ACK. Neither Retransmission nor OutOfWindow.
    KeepAlive,
    /// Fails the receiver's acceptability test (RFC 9293 §3.10.7.4 first check, the four
    /// cases of SEG.LEN and RCV.WND) while it is in SYN-RECEIVED or a synchronized state:
    /// it drops the segment and sends an ACK. RSTs, keep-alives and probes have their own
    /// classes instead.
    OutOfWindow,
    /// An acknowledgment the receiver refuses: in LISTEN any ACK (§3.10.7.2, answered with
    /// RST); in SYN-SENT SEG.ACK =< ISS or > SND.NXT (§3.10.7.3, RST); in SYN-RECEIVED
    /// not SND.UNA < SEG.ACK =< SND.NXT (§3.10.7.4 fifth check, RST); in a synchronized
    /// state SEG.ACK > SND.NXT, or SEG.ACK < SND.UNA - MAX.SND.WND (§3.10.7.4 fifth check,
    /// RFC 5961 §5.2: an ACK is sent and the segment dropped, data and all).
    UnacceptableAck,
    /// A RST the receiver acts on: in SYN-SENT with an acceptable ACK (§3.10.7.3); in
    /// SYN-RECEIVED or a synchronized state when SEG.SEQ = RCV.NXT exactly (§3.10.7.4
    /// second check, RFC 5961 §3.2). The receiver goes to CLOSED (to LISTEN from a
    /// passive SYN-RECEIVED).
    RstAccepted,
    /// A RST in SYN-RECEIVED or a synchronized state with RCV.NXT < SEG.SEQ < RCV.NXT +
    /// RCV.WND: the receiver keeps the connection and sends a "challenge ACK" (RFC 5961
    /// §3.2, RFC 9293 §3.10.7.4); a genuine sender answers it with an exact RST.
    RstChallenge,
    /// A RST the receiver drops silently: outside the window (RFC 5961 §3.2), in SYN-SENT
    /// without an acceptable ACK (§3.10.7.3), in LISTEN (§3.10.7.2) or CLOSED (§3.10.7.1).
    RstIgnored,
    /// A SYN inside the window of an end in SYN-RECEIVED or a synchronized state: the
    /// receiver sends a challenge ACK and keeps the connection (RFC 5961 §4.2, RFC 9293
    /// §3.10.7.4 fourth check). A SYN outside the window is OutOfWindow. (The repeated SYN
    /// of a simultaneous open's SYN-ACK is neither, RFC 9293 Figure 7.)
    SynInWindow,
};
inline constexpr std::size_t kSegmentClassCount = std::size_t(SegmentClass::SynInWindow) + 1;
/// snake_case names: "syn", "syn_ack", "new_data", "retransmission", "fast_retransmission",
/// "spurious_retransmission", "lost_segment", "gap_fill", "out_of_order", "dup_ack",
/// "window_update", "window_full", "zero_window", "zero_window_probe", "keep_alive",
/// "out_of_window", "unacceptable_ack", "rst_accepted", "rst_challenge", "rst_ignored",
/// "syn_in_window".
std::string_view className(SegmentClass c) noexcept;

/// A set of SegmentClass, one bit each.
class SegmentClasses {
public:
    constexpr SegmentClasses() noexcept = default;
    constexpr bool has(SegmentClass c) const noexcept { return (m_bits & bit(c)) != 0; }
    constexpr void add(SegmentClass c) noexcept { m_bits |= bit(c); }
    constexpr void remove(SegmentClass c) noexcept { m_bits &= ~bit(c); }
    constexpr bool empty() const noexcept { return m_bits == 0; }
    constexpr std::uint32_t bits() const noexcept { return m_bits; }
    /// The members in enum order.
    std::vector<SegmentClass> list() const;
    /// Names joined by ',' ("" when empty), in enum order.
    std::string toString() const;
    friend constexpr bool operator==(SegmentClasses, SegmentClasses) noexcept = default;

private:
    static constexpr std::uint32_t bit(SegmentClass c) noexcept {
        return std::uint32_t{1} << static_cast<unsigned>(c);
    }
    std::uint32_t m_bits = 0;
};
static_assert(kSegmentClassCount <= 32);

/// One end of a connection: address and port. IPv4 addresses use the first 4 bytes.
struct Endpoint {
    std::array<std::uint8_t, 16> address{};
    std::uint16_t port = 0;
    bool ipv6 = false;

    static Endpoint v4(const wire::Ipv4Address& a, std::uint16_t port) noexcept;
    static Endpoint v6(const wire::Ipv6Address& a, std::uint16_t port) noexcept;
    static Endpoint of(const wire::IpAddress& a, std::uint16_t port) noexcept;
    wire::IpAddress ip() const noexcept;
    /// "198.18.0.2:42570", "[2001:db8::2]:43638".
    std::string toString() const;
    friend auto operator<=>(const Endpoint&, const Endpoint&) = default;
};

/// What the tracker reads of one TCP segment.
struct Segment {
    SeqNum seq;
    SeqNum ack;
    std::uint8_t flags = 0;          ///< wire::tcp_flags
    std::uint16_t window = 0;        ///< the raw 16-bit field
    std::uint32_t payloadLength = 0; ///< data bytes
    // Options (RFC 9293 §3.2, RFC 7323, RFC 2018). MSS, WS and SACK-permitted are read
    // from SYNs only (they mean nothing elsewhere).
    std::optional<std::uint16_t> mss;
    std::optional<std::uint8_t> windowScale;
    bool sackPermitted = false;
    std::optional<std::pair<std::uint32_t, std::uint32_t>> timestamps; ///< TSval, TSecr
    /// SACK blocks (RFC 2018 §3), read from segments without data only: what a duplicate
    /// ACK says its sender holds beyond the hole.
    std::array<wire::SackBlock, 4> sackBlocks{};
    std::uint8_t sackCount = 0;
    std::int64_t timeNs = 0;

    bool has(std::uint8_t flag) const noexcept { return (flags & flag) == flag; }
    /// SEG.LEN: data + SYN + FIN (RFC 9293 §3.4).
    std::uint32_t length() const noexcept;
    static Segment fromHeader(const wire::TcpHeader& tcp, std::uint32_t payloadLength,
                              std::int64_t timeNs = 0) noexcept;
};

/// A TCP segment found in a frame, with its endpoints.
struct FrameSegment {
    Endpoint src;
    Endpoint dst;
    Segment segment;
};
/// The TCP segment of an Ethernet/IPv4|IPv6/TCP frame; nullopt for anything else (not TCP,
/// TCP that failed to parse, a later IP fragment). The data length is taken from the IP
/// length, so a capture cut short by its snap length still counts every byte.
std::optional<FrameSegment> segmentOf(const wire::Frame& frame, std::int64_t timeNs = 0) noexcept;

/// Up to N disjoint ranges [left, right) of sequence space, sorted, merged when they
/// touch; modulo 2^32 (every range must be shorter than 2^31). When more than N are
/// needed the highest is dropped. Inline storage: copying never allocates.
template <std::size_t N>
class SeqRangeSet {
public:
    struct Range {
        SeqNum left;
        SeqNum right;
        friend bool operator==(const Range&, const Range&) = default;
    };

    bool empty() const noexcept { return m_count == 0; }
    std::size_t size() const noexcept { return m_count; }
    const Range& operator[](std::size_t i) const noexcept { return m_ranges[i]; }
    void clear() noexcept { m_count = 0; }
    /// Adds [left, right) (nothing when left >= right).
    void add(SeqNum left, SeqNum right) noexcept;
    /// Removes [left, right), splitting a range when needed.
    void remove(SeqNum left, SeqNum right) noexcept;
    /// True when every number of [left, right) is in the set (true when left >= right).
    bool covers(SeqNum left, SeqNum right) const noexcept;
    /// True when some number of [left, right) is in the set.
    bool overlaps(SeqNum left, SeqNum right) const noexcept;

private:
    void assign(const Range* ranges, std::size_t count) noexcept;
    std::array<Range, N> m_ranges{};
    std::uint8_t m_count = 0;
};
extern template class SeqRangeSet<4>; // defined in tracker.cpp

/// One end as the tracker infers it: RFC 9293 §3.3.1 variables, named as the RFC names
/// them, plus what the observer needs to know how sure it is.
struct EndState {
    /// RCV.WND when the end has not advertised a window the model can scale: the largest
    /// the 16-bit field can mean (65535 << 14), so nothing is called out of window
    /// for want of knowledge.
    static constexpr std::uint32_t kUnknownWindow = 65535u << 14;

    Endpoint endpoint;
    TcpState state = TcpState::Closed;
    /// Something is known of this end: it sent a segment, was acknowledged, or was sent
    /// a SYN (then presumed LISTEN). An unknown end is shown as CLOSED.
    bool known = false;

    // Send sequence variables (RFC 9293 §3.3.1), from what this end sent and what the
    // other end acknowledged.
    bool issKnown = false;
    /// ISS was inferred (SEG.SEQ - 1 of the first segment seen, or SEG.ACK - 1 of the first
    /// ACK of it), not read from its SYN: the capture began after the handshake.
    bool issInferred = false;
    bool synSeen = false; ///< its SYN (or SYN-ACK) was seen: options below are real
    SeqNum iss;
    SeqNum sndUna;
    SeqNum sndNxt;            ///< the observer's SND.NXT: highest sequence number sent + 1
    std::uint32_t sndWnd = 0; ///< the other end's window as this end applies it (scaled)
    bool sndWndKnown = false;
    SeqNum sndWl1;
    SeqNum sndWl2;
    std::uint32_t maxSndWnd = 0; ///< MAX.SND.WND (RFC 5961 §5.2)

    // Receive sequence variables.
    bool irsKnown = false;
    SeqNum irs;
    SeqNum rcvNxt;
    /// The right edge of the window this end last advertised: its last SEG.ACK + window
    /// (scaled). RCV.WND is what remains of it beyond RCV.NXT (rcvWnd()).
    SeqNum rcvEdge;
    bool rcvEdgeKnown = false;

    // Options this end put on its SYN (RFC 9293 §3.7.1, RFC 7323 §2.2 and §3.2, RFC 2018).
    std::optional<std::uint16_t> mss;
    std::optional<std::uint8_t> windowScale; ///< as sent (may exceed 14)
    bool sackPermitted = false;
    bool timestampsOffered = false;
    /// The TSval of its latest segment with timestamps (what the other end echoes as
    /// TS.Recent, RFC 7323 §4.3), and that segment's TSecr.
    std::optional<std::uint32_t> tsVal;
    std::optional<std::uint32_t> tsEcr;

    // Closing.
    bool finSent = false;
    SeqNum finSeq;            ///< sequence number of its FIN
    bool finReceived = false; ///< the other end's FIN reached this end (RCV.NXT is past it)
    bool passiveOpen = false; ///< entered SYN-RECEIVED from LISTEN

    // What its latest segments said.
    bool ackSent = false;
    SeqNum lastAck;
    std::uint32_t lastWindow = 0; ///< as the other end reads it (scaled when known)
    std::uint8_t dupAcks = 0;     ///< duplicate ACKs in a row it has sent (saturates)
    std::int64_t lastTimeNs = 0;
    std::int64_t sndNxtTimeNs = 0; ///< time of the segment that last advanced SND.NXT
    std::uint64_t segments = 0;    ///< segments it sent
    /// Which segment of the connection (1-based, Connection::segmentCount() at the time) put
    /// this end in its current state; 0 before any change.
    std::uint64_t stateSince = 0;

    // Tracker bookkeeping.
    bool synSent = false;    ///< a SYN without ACK was seen from it (for this ISS)
    bool synAckSent = false; ///< a SYN-ACK was seen from it (for this ISS)
    bool finQueued = false;  ///< the other end's FIN arrived beyond a hole
    SeqNum finQueuedSeq;
    SeqNum probeEnd; ///< end of the latest zero-window probe (probes do not move SND.NXT)
    bool probeSent = false;
    SeqRangeSet<4> holes;      ///< sequence space below SND.NXT never seen from this end
    SeqRangeSet<4> outOfOrder; ///< data above RCV.NXT this end holds (RFC 9293 §3.10.7.4)

    /// RCV.WND: the advertised right edge less RCV.NXT (never negative); kUnknownWindow
    /// before this end advertised one.
    std::uint32_t rcvWnd() const noexcept;
    /// The highest acknowledgment this end can accept: SND.NXT, or past a probe byte.
    SeqNum ackLimit() const noexcept;
};

/// The tracker's answer to one segment: 36 bytes, fixed size, no heap.
struct SegmentResult {
    std::uint32_t connection = 0; ///< index in the ConnectionTable
    std::uint8_t sender = 0;      ///< the end (0 or 1) that sent it
    std::uint8_t flags = 0;
    /// The sender's run of duplicate ACKs after this segment (1 for the first, 0 when this
    /// one is not a duplicate ACK).
    std::uint8_t dupAckCount = 0;
    std::array<TcpState, 2> before{}; ///< both ends, by end index
    std::array<TcpState, 2> after{};
    SegmentClasses classes;
    std::uint32_t relSeq = 0; ///< SEG.SEQ - ISS of the sender (0 for its SYN)
    std::uint32_t relAck = 0; ///< SEG.ACK - ISS of the receiver; 0 without ACK
    std::uint32_t segLen = 0; ///< data + SYN + FIN
    std::uint32_t payloadLength = 0;
    /// The window as the receiver reads it: shifted by the sender's scale once both SYNs
    /// carried WS (never on a SYN, RFC 7323 §2.2); raw when scaling is unknown.
    std::uint32_t window = 0;

    std::uint8_t receiver() const noexcept { return static_cast<std::uint8_t>(1 - sender); }
};

/// Both ends of one TCP connection. End 0 is the sender of the first segment seen (the
/// client, when the capture starts with its SYN).
class Connection {
public:
    /// MSS assumed when none was announced (RFC 9293 §3.7.1; RFC 8200 §5 for IPv6: 1280 - 60).
    static constexpr std::uint16_t kDefaultMssIpv4 = 536;
    static constexpr std::uint16_t kDefaultMssIpv6 = 1220;

    Connection(const Endpoint& first, const Endpoint& second) noexcept;

    /// Feeds one segment sent by end `sender` (0 or 1).
    SegmentResult onSegment(std::uint8_t sender, const Segment& segment) noexcept;
    /// What onSegment would answer, leaving this connection as it is.
    SegmentResult preview(std::uint8_t sender, const Segment& segment) const noexcept;

    const EndState& end(std::uint8_t index) const noexcept { return m_ends[index & 1u]; }
    /// The end at `endpoint`, nullopt when it is neither.
    std::optional<std::uint8_t> endOf(const Endpoint& endpoint) const noexcept;

    /// The end that sent the first SYN without ACK, if one was seen.
    std::optional<std::uint8_t> client() const noexcept { return m_client; }
    /// "Our" end, the phantom: the one set with setLocalEnd() (ConnectionTable does it from
    /// its local addresses), else the client, else end 0.
    std::uint8_t localEnd() const noexcept;
    void setLocalEnd(std::uint8_t end) noexcept { m_local = static_cast<std::uint8_t>(end & 1u); }
    bool localEndKnown() const noexcept { return m_local.has_value(); }

    /// Both SYNs were seen: the options below are known.
    bool handshakeSeen() const noexcept { return m_ends[0].synSeen && m_ends[1].synSeen; }
    /// Window scaling is in force: both SYNs carried WS (RFC 7323 §2.2).
    bool windowScaling() const noexcept;
    /// The shift applied to windows `end` advertises: its WS (14 at most, RFC 7323 §2.3)
    /// when scaling is in force, else 0.
    std::uint8_t windowShift(std::uint8_t end) const noexcept;
    /// SACK may be used: both SYNs carried SACK-permitted (RFC 2018 §2).
    bool sackPermitted() const noexcept;
    /// Timestamps are in use: both SYNs carried them (RFC 7323 §3.2).
    bool timestamps() const noexcept;
    /// The largest segment `end` may send: the other end's MSS option, or the default
    /// (RFC 9293 §3.7.1 "SendMSS").
    std::uint16_t sendMss(std::uint8_t end) const noexcept;

    /// Segments fed so far.
    std::uint64_t segmentCount() const noexcept { return m_segments; }
    /// Both ends are done (each CLOSED, LISTEN or TIME-WAIT) after at least one segment: a
    /// new SYN on this 4-tuple belongs to a new connection.
    bool finished() const noexcept;

private:
    // Each step of onSegment; X sent the segment, Y receives it.
    void learn(EndState& x, EndState& y, const Segment& s) noexcept;
    void classifySending(const EndState& x, const EndState& y, const Segment& s,
                         SegmentClasses& classes) const noexcept;
    void send(std::uint8_t xi, const Segment& s, SegmentClasses& classes) noexcept;
    void receive(std::uint8_t yi, const Segment& s, SegmentClasses& classes) noexcept;
    void receiveInListen(EndState& y, const Segment& s, SegmentClasses& classes) noexcept;
    void receiveInSynSent(std::uint8_t yi, const Segment& s, SegmentClasses& classes) noexcept;
    void receiveSynchronized(std::uint8_t yi, const Segment& s, SegmentClasses& classes) noexcept;
    void receiveText(EndState& y, const Segment& s, SegmentClasses& classes) noexcept;
    void advanceRcvNxt(EndState& y, SeqNum to) noexcept;
    void deliverFin(EndState& y) noexcept;
    /// Every state change goes through here: it records the segment that caused it.
    void setState(EndState& end, TcpState state) noexcept;

    /// The window of `s` (sent by `sender`) as the model applies it, and as it is reported.
    std::uint32_t windowForModel(std::uint8_t sender, const Segment& s) const noexcept;
    std::uint32_t windowForReport(std::uint8_t sender, const Segment& s) const noexcept;

    std::array<EndState, 2> m_ends;
    std::optional<std::uint8_t> m_client;
    std::optional<std::uint8_t> m_local;
    std::uint64_t m_segments = 0;
};

/// Maps frames to connections: one Connection per 4-tuple (the two endpoints, either
/// direction first), a new one when a SYN reopens a finished 4-tuple. Connections are
/// numbered in the order they appear and never move (references stay valid).
class ConnectionTable {
public:
    ConnectionTable() = default;

    /// An address of ours (the phantom's): the end at it is the local end, in the
    /// connections to come and in those already made that have no local end yet.
    void addLocalAddress(const wire::IpAddress& address);

    /// Feeds a decoded frame; nullopt when it carries no TCP segment (segmentOf()).
    std::optional<SegmentResult> onFrame(const wire::Frame& frame, std::int64_t timeNs = 0);
    /// Feeds a segment from `src` to `dst`.
    SegmentResult onSegment(const Endpoint& src, const Endpoint& dst, const Segment& segment);

    std::size_t size() const noexcept { return m_connections.size(); }
    const Connection& operator[](std::size_t index) const noexcept { return m_connections[index]; }
    /// The latest connection between `a` and `b` (either order), if any.
    std::optional<std::size_t> find(const Endpoint& a, const Endpoint& b) const;
    void clear();

private:
    struct Key {
        Endpoint low;
        Endpoint high;
        friend bool operator==(const Key&, const Key&) = default;
    };
    struct KeyHash {
        std::size_t operator()(const Key& k) const noexcept;
    };
    static Key keyOf(const Endpoint& a, const Endpoint& b) noexcept;
    std::uint32_t connectionFor(const Key& key, const Endpoint& src, const Endpoint& dst,
                                const Segment& segment);
    bool isLocal(const Endpoint& e) const noexcept;

    std::deque<Connection> m_connections;
    std::unordered_map<Key, std::uint32_t, KeyHash> m_latest;
    std::vector<wire::IpAddress> m_localAddresses;
    // The last key looked up: a capture is mostly runs of one connection.
    std::optional<Key> m_lastKey;
    std::uint32_t m_lastIndex = 0;
};

} // namespace tcplab::tcp
