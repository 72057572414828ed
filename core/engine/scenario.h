#pragma once

#include "wire/address.h"
#include "wire/seq_num.h"
#include "wire/tcp.h"

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <tl/expected.hpp>

namespace tcplab::engine {

/// A sequence or acknowledgment number in a scenario: a base the runner knows at
/// run time plus an offset ("irs+1", "snd.nxt", "100"). Evaluated modulo 2^32.
struct SeqExpr {
    enum class Base : std::uint8_t {
        Literal, ///< just the offset
        Iss,     ///< our initial sequence number
        Irs,     ///< the peer's initial sequence number (from its SYN)
        SndUna,  ///< oldest of our sequence numbers not yet acknowledged
        SndNxt,  ///< next sequence number we send
        RcvNxt,  ///< next sequence number we expect from the peer
    };
    Base base = Base::Literal;
    std::int64_t offset = 0;
    friend bool operator==(const SeqExpr&, const SeqExpr&) = default;
};

/// "send FLAGS [seq=EXPR] [ack=EXPR] [win=N] [data=...] [options=...]".
/// seq defaults to snd.nxt; ack to rcv.nxt when ACK is set, else 0.
struct SendStep {
    std::uint8_t flags = 0; ///< wire::tcp_flags bits
    std::optional<SeqExpr> seq;
    std::optional<SeqExpr> ack;
    std::optional<std::uint16_t> window; ///< default: ConnectionParams::window
    bool dataIsRequest = false;          ///< data=request: ConnectionParams::request
    std::vector<std::uint8_t> data;      ///< data="text with \r\n escapes" or data=hex:0a0b
    wire::TcpOptionList options;         ///< options=mss:1460,ws:7,sackok,ts:1:0,nop,eol
    friend bool operator==(const SendStep&, const SendStep&) = default;
};

/// "expect FLAGS [seq=EXPR] [ack=EXPR] [within=MS]": waits for a segment from the
/// peer that carries every flag in FLAGS (others allowed) and the given numbers.
/// A RST that was not expected fails the step at once.
struct ExpectStep {
    std::uint8_t flags = 0;
    std::optional<SeqExpr> seq;
    std::optional<SeqExpr> ack;
    std::int64_t withinNs = 5'000'000'000;
    friend bool operator==(const ExpectStep&, const ExpectStep&) = default;
};

/// "receive http|fin|BYTES [within=MS]": takes the peer's data in order, acknowledging
/// it, until a whole HTTP response has arrived (headers, then Content-Length bytes,
/// or chunked to the last chunk, or until the peer's FIN), until the peer's FIN, or until
/// BYTES more bytes (a number with k, M or G: powers of 1024) have arrived.
struct ReceiveStep {
    enum class Until : std::uint8_t { HttpResponse, PeerFin, Bytes };
    Until until = Until::HttpResponse;
    std::uint64_t bytes = 0; ///< Until::Bytes
    std::int64_t withinNs = 5'000'000'000;
    friend bool operator==(const ReceiveStep&, const ReceiveStep&) = default;
};

/// "wait acked[,peer-fin] [within=MS]": waits until the named conditions hold:
/// `acked` = everything we sent is acknowledged (snd.una == snd.nxt), `peer-fin` =
/// the peer's FIN has arrived (and is acknowledged by us, which the runner does).
struct WaitStep {
    bool acked = false;
    bool peerFin = false;
    std::int64_t withinNs = 5'000'000'000;
    friend bool operator==(const WaitStep&, const WaitStep&) = default;
};

/// "linger MS": TIME-WAIT in miniature: stays MS milliseconds, acknowledging any
/// retransmitted FIN of the peer, then succeeds.
struct LingerStep {
    std::int64_t durationNs = 0;
    friend bool operator==(const LingerStep&, const LingerStep&) = default;
};

/// "peer CALL [= RESULT [ERRNO] | = * | = $NAME] [background] [within=MS]": a socket call or sysctl
/// the peer agent makes on the peer's side, in the call grammar of core/peer/call_text.h
/// ("peer connect 3 $phantom $sport"). In CALL, $phantom and $peer are the connection's
/// addresses, $sport the phantom's port and $dport the peer's. Without "=", the step fails
/// when the call fails (-1) or is not made; "= -1 EINPROGRESS" expects exactly that result
/// and errno, "= 4" that result, "= *" anything the call returns. The step waits for the
/// answer (within MS, 5 s by default); with "background" it starts the call and completes at
/// once, so that the next steps can make a blocking call return (a blocking accept that
/// the phantom's SYN completes), and its answer is checked when it comes: the scenario
/// fails then if it is wrong, and ends only when every background call has answered.
struct PeerStep {
    std::string call; ///< as written, the variables not yet replaced
    /// The expected result; nullopt: anything but a failure.
    std::optional<std::int64_t> result;
    std::optional<int> error; ///< the expected errno, with result -1
    bool anyResult = false;   ///< "= *"
    /// "= $name": the result (an fd, say) is bound to $name for the later steps' calls
    /// ("peer socket inet = $s", then "peer connect $s $phantom $sport"); the step fails
    /// when the call fails. Empty: no binding.
    std::string bind;
    bool background = false;
    std::int64_t withinNs = 5'000'000'000;
    friend bool operator==(const PeerStep&, const PeerStep&) = default;
};

/// "expect-peer FIELD OP VALUE [fd=N|fd=$NAME] [within=MS]": waits until the peer's kernel says so
/// in a sample of its socket (the peer's end of the scenario's connection, or the agent's
/// fd N): FIELD is a struct tcp_info field without "tcpi_" (snd_cwnd, rto, state, ...) or
/// rqueue/wqueue (the bytes waiting to be read, and not yet acknowledged); OP is ==, !=, <,
/// <=, > or >=; VALUE a number (k, M, G allowed), or for state a state's name (ESTABLISHED,
/// TIME-WAIT, CLOSE-WAIT...). "expect-peer snd_cwnd >= 20 within=2000".
struct ExpectPeerStep {
    enum class Op : std::uint8_t { Equal, NotEqual, Less, LessEqual, Greater, GreaterEqual };
    std::string field;
    Op op = Op::Equal;
    std::uint64_t value = 0;
    std::optional<int> fd;
    std::string fdVariable; ///< "fd=$conn": the fd an earlier step bound to $conn
    std::int64_t withinNs = 5'000'000'000;
    friend bool operator==(const ExpectPeerStep&, const ExpectPeerStep&) = default;
};

/// "window N": the phantom advertises N (the raw 16-bit field) in its later segments (the
/// send steps without win=, and the runner's own ACKs), and says so at once with a pure ACK
/// when the connection is synchronized: a window update (RFC 9293 §3.8.6.2.2). "window 0"
/// closes the window: the peer then probes it (§3.8.6.1).
struct WindowStep {
    std::uint16_t window = 0;
    friend bool operator==(const WindowStep&, const WindowStep&) = default;
};

using StepAction = std::variant<SendStep, ExpectStep, ReceiveStep, WaitStep, LingerStep, PeerStep,
                                ExpectPeerStep, WindowStep>;

struct Step {
    std::string name;  ///< name="..." or a default made from the action ("send SYN")
    unsigned line = 0; ///< where the step was read (1-based); 0 when built in code
    StepAction action;
    /// Name and action: `line` says where a step came from, not what it does, so a
    /// scenario formatted and parsed again (or built in code) compares equal.
    friend bool operator==(const Step& a, const Step& b) {
        return a.name == b.name && a.action == b.action;
    }
};

/// The name a step gets without name=: "send SYN", "expect SYN-ACK", "receive the
/// response", "wait for the peer's FIN", "linger 500 ms".
std::string defaultStepName(const StepAction& action);
/// "iss+1", "rcv.nxt", "100": the text parseSeqExpr reads back.
std::string formatSeqExpr(const SeqExpr& expr);
/// A number (0..4294967295, decimal or 0x hex) or iss|irs|snd.una|snd.nxt|rcv.nxt with
/// an optional +N / -N; the error says what is wrong.
tl::expected<SeqExpr, std::string> parseSeqExpr(std::string_view text);

/// A scenario is data: the classic experiment, the GUI's handshake demo and user
/// scripts are lists of steps in the same format (one step per line, '#' comments).
struct Scenario {
    std::string title; ///< from a "title ..." line
    std::vector<Step> steps;
    friend bool operator==(const Scenario&, const Scenario&) = default;
};

struct ScenarioError {
    unsigned line = 0; ///< 1-based
    std::string message;
};
/// "line 3: unknown flag 'X' in 'SX' (use F S R P A U E C or FIN,SYN,...)".
std::string describe(const ScenarioError& error);

tl::expected<Scenario, ScenarioError> parseScenario(std::string_view text);
/// The scenario as text that parseScenario reads back to an equal Scenario.
std::string formatScenario(const Scenario& scenario);

/// A peer step's call with its variables replaced by `values` ($phantom, $peer, $sport,
/// $dport and $family, in that order) and by `bound` (the names earlier steps bound with
/// "= $name", without the '$'). A variable that is neither stays as it is written.
std::string expandPeerCall(std::string_view call, const std::array<std::string, 5>& values,
                           const std::map<std::string, std::string>& bound = {});

/// How long a run of `scenario` may take in all: 15 s for the probe and the resolution,
/// plus every step's own limit.
std::int64_t timeBudgetNs(const Scenario& scenario);

/// "==", "!=", "<", "<=", ">", ">=".
std::string_view opText(ExpectPeerStep::Op op) noexcept;
/// Whether `value` OP `expected` holds.
bool holds(ExpectPeerStep::Op op, std::uint64_t value, std::uint64_t expected) noexcept;

/// How the classic experiment ends.
enum class CloseMode : std::uint8_t {
    Fin,  ///< we send FIN, the peer ACKs and sends its FIN, we send the last ACK
    Rst,  ///< we abort with RST
    Peer, ///< we wait for the peer's FIN, acknowledge it, then send ours
};
std::optional<CloseMode> parseCloseMode(std::string_view text);
std::string_view closeModeName(CloseMode mode) noexcept;

/// The classic exercise: SYN, SYN-ACK, ACK, PSH|ACK with the request, the whole
/// response acknowledged, then the close.
Scenario classicScenario(CloseMode close);
/// Its text (what classicScenario parses), for the GUI demo and the docs.
std::string_view classicScenarioText(CloseMode close);

/// The kernel connects to you (passive open): the peer's application calls connect() to
/// the phantom, the phantom answers its SYN with a SYN-ACK as a server would, data goes both
/// ways through the peer's socket calls, and the peer closes first. For ConnectionParams
/// with destinationPort 0 (the peer's port is its kernel's choice) and sourcePort the
/// phantom's listening port. Needs the peer agent.
Scenario passiveScenario();
std::string_view passiveScenarioText();

} // namespace tcplab::engine
