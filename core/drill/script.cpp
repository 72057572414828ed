// A hand-written recursive-descent parser for packetdrill scripts, following the grammar of
// google/packetdrill's parser.y (and its semantic checks, with their messages where it has
// them), and the formatter that writes a Script back in the same syntax.
#include "drill/script.h"

#include "drill/script_lexer.h"

#include <algorithm>
#include <charconv>
#include <deque>
#include <limits>

#include <arpa/inet.h>
#include <fmt/format.h>

namespace tcplab::drill {

namespace {

/// How deep expressions nest (lists in lists, a | b | c, ...): the parser recurses and the
/// tree is destroyed, compared and formatted recursively, so a hostile script must not get
/// deeper than this.
constexpr unsigned kMaxDepth = 64;
constexpr std::uint64_t kMaxTimeSeconds = 4294967295; // ~136 years
constexpr unsigned kMaxTcpOptionBytes = 40;           // 60-byte header - 20 fixed
constexpr std::string_view kTooDeep = "expression nested too deeply (more than 64 levels)";
constexpr std::string_view kSeqForm = "in 'START:END(LENGTH)' (as in 1:1001(1000))";
constexpr std::string_view kOptionNames =
    "mss, wscale, sackOK, sack, TS, nop, eol, FO, FOEXP or md5";

using Kind = Token::Kind;

std::string found(const Token& t) {
    const auto clip = [](std::string_view s) {
        return s.size() > 40 ? std::string(s.substr(0, 37)) + "..." : std::string(s);
    };
    switch (t.kind) {
    case Kind::End:
        return "the end of the script";
    case Kind::Error:
        return t.text;
    case Kind::String:
        return "the string " + clip(quoteString(t.text));
    case Kind::Command:
        return "the command `" + clip(t.text) + "`";
    case Kind::Code:
        return "%{ code }%";
    case Kind::Option:
        return "'--" + clip(t.text) + "'";
    default:
        return "'" + clip(t.text) + "'";
    }
}

/// Seconds as written ("1", ".5", "0.000001") to microseconds; digits past the sixth decimal
/// are dropped, as packetdrill's (s64)(seconds * 1e6) drops them. False when too large.
bool secondsToUsecs(std::string_view text, std::int64_t& usecs, bool& negative) {
    std::size_t i = 0;
    negative = !text.empty() && text[0] == '-';
    i = negative ? 1 : 0;
    std::uint64_t secs = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
        secs = secs * 10 + static_cast<unsigned>(text[i] - '0');
        if (secs > kMaxTimeSeconds)
            return false;
    }
    std::uint64_t frac = 0;
    unsigned digits = 0;
    bool belowMicro = false;
    if (i < text.size() && text[i] == '.') {
        for (++i; i < text.size(); ++i) {
            const auto d = static_cast<unsigned>(text[i] - '0');
            if (digits < 6) {
                frac = frac * 10 + d;
                ++digits;
            } else if (d != 0) {
                belowMicro = true;
            }
        }
    }
    for (; digits < 6; ++digits)
        frac *= 10;
    usecs = static_cast<std::int64_t>(secs * 1'000'000 + frac);
    negative = negative && (usecs != 0 || belowMicro);
    return true;
}

std::string seconds(std::int64_t usecs) {
    std::string out;
    std::uint64_t magnitude = static_cast<std::uint64_t>(usecs);
    if (usecs < 0) {
        out = "-";
        magnitude = 0 - magnitude;
    }
    out += fmt::format("{}", magnitude / 1'000'000);
    if (const std::uint64_t frac = magnitude % 1'000'000; frac != 0) {
        std::string digits = fmt::format("{:06}", frac);
        digits.erase(digits.find_last_not_of('0') + 1);
        out += "." + digits;
    }
    return out;
}

bool isHexString(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    });
}

std::string ipInfoText(const PacketSpec& p) {
    std::string inner;
    const auto add = [&](const std::string& part) { inner += (inner.empty() ? "" : ", ") + part; };
    switch (p.ecn) {
    case PacketSpec::Ecn::None:
        break;
    case PacketSpec::Ecn::NoEcn:
        add("noecn");
        break;
    case PacketSpec::Ecn::Ect0:
        add("ect0");
        break;
    case PacketSpec::Ecn::Ect1:
        add("ect1");
        break;
    case PacketSpec::Ecn::Ce:
        add("ce");
        break;
    case PacketSpec::Ecn::Ect01:
        add("ect01");
        break;
    }
    if (p.tos && p.ecn == PacketSpec::Ecn::None)
        add(fmt::format("tos {:#04x}", *p.tos));
    if (p.flowLabel)
        add(fmt::format("flowlabel {:#x}", *p.flowLabel));
    if (p.ttl)
        add(fmt::format("ttl {}", *p.ttl));
    if (inner.empty())
        return {};
    return p.ecn == PacketSpec::Ecn::Ect01 ? "[" + inner + "]" : "(" + inner + ")";
}

std::string formatOption(const TcpOptionSpec& o) {
    using K = TcpOptionSpec::Kind;
    switch (o.kind) {
    case K::Nop:
        return "nop";
    case K::Eol:
        return "eol";
    case K::Mss:
        return fmt::format("mss {}", o.value);
    case K::WindowScale:
        return fmt::format("wscale {}", o.value);
    case K::SackOk:
        return "sackOK";
    case K::Sack: {
        std::string out = "sack";
        for (const auto& [left, right] : o.blocks)
            out += fmt::format(" {}:{}", left, right);
        return out;
    }
    case K::Timestamp:
        return fmt::format("TS val {} ecr {}", o.value, o.echo);
    case K::FastOpen:
        return o.cookie.empty() ? "FO" : "FO " + o.cookie;
    case K::FastOpenExp:
        return o.cookie.empty() ? "FOEXP" : "FOEXP " + o.cookie;
    case K::Md5:
        return "md5 " + o.cookie;
    }
    return {};
}

template <typename T>
std::string joined(const std::vector<T>& items, std::string_view separator,
                   std::string (*format)(const T&)) {
    std::string out;
    for (const T& item : items)
        out += (out.empty() ? "" : std::string(separator)) + format(item);
    return out;
}

class Parser {
public:
    Parser(std::string_view text, const Defines& defines)
        : m_lexer(text, &defines) {}
    tl::expected<Script, ScriptError> script();

private:
    const Token& peek(std::size_t k = 0) {
        while (m_ahead.size() <= k)
            m_ahead.push_back(m_lexer.next());
        return m_ahead[k];
    }
    Token take() {
        peek();
        Token t = std::move(m_ahead.front());
        m_ahead.pop_front();
        return t;
    }
    /// Records the first error (a lexer's error where the parser meets it) and says false.
    bool fail(SourcePos at, std::string message) {
        if (!m_error)
            m_error = ScriptError{at.line, at.column, std::move(message)};
        return false;
    }
    bool fail(const Token& at, std::string message) {
        return fail(at.pos, at.kind == Kind::Error ? at.text : std::move(message));
    }
    bool expect(char c, std::string_view what) {
        if (peek().is(c)) {
            take();
            return true;
        }
        return fail(peek(), fmt::format("expected '{}' {}, found {}", c, what, found(peek())));
    }
    bool integerToken(std::string_view what) {
        if (peek().kind == Kind::Integer)
            return true;
        return fail(peek(), fmt::format("expected {}, found {}", what, found(peek())));
    }
    /// A decimal token within 0..max ("-0" is 0, as atoll reads it).
    bool unsignedIn(const Token& t, std::uint64_t max, std::string_view what, std::uint64_t& out);
    bool hexIn(const Token& t, std::uint64_t max, std::string_view what, std::uint64_t& out);

    bool event(Event& e);
    bool time(EventTime& t);
    bool secondsToken(std::int64_t& usecs, std::string_view what);
    bool packet(Action& out);
    bool ipInfo(PacketSpec& p);
    bool ports(PacketSpec& p);
    bool tcpPacket(PacketSpec& p);
    bool flags(std::string& out);
    bool sequence(std::uint32_t& seq, std::uint16_t& length);
    bool tcpOptions(PacketSpec& p);
    bool tcpOption(TcpOptionSpec& o);
    bool hexBlob(const Token& t, std::string_view what, std::size_t maxBytes, std::string& out);
    bool otherPacket(const PacketSpec& info, SourcePos infoPos, std::string& text);
    bool syscall(SyscallSpec& s);
    bool note(std::string& out);
    bool expr(Expr& out, unsigned level, unsigned& height);
    bool term(Expr& out, unsigned level, unsigned& height);
    bool strings(Expr& out, unsigned& height);
    bool list(Expr& out, unsigned level, unsigned& height);
    bool call(Expr& out, const Token& name, unsigned level, unsigned& height);

    ScriptLexer m_lexer;
    std::deque<Token> m_ahead;
    std::optional<ScriptError> m_error;
};

bool Parser::unsignedIn(const Token& t, std::uint64_t max, std::string_view what,
                        std::uint64_t& out) {
    std::string_view digits = t.text;
    const bool negative = !digits.empty() && digits[0] == '-';
    if (negative)
        digits.remove_prefix(1);
    std::uint64_t value = 0;
    bool tooLarge = false;
    for (const char c : digits) {
        value = value * 10 + static_cast<unsigned>(c - '0');
        if (value > max) {
            tooLarge = true;
            break;
        }
    }
    if (tooLarge || (negative && value != 0))
        return fail(t, fmt::format("{} {} out of range (0..{})", what, t.text, max));
    out = value;
    return true;
}

bool Parser::hexIn(const Token& t, std::uint64_t max, std::string_view what, std::uint64_t& out) {
    std::uint64_t value = 0;
    const auto [end, ec] =
        std::from_chars(t.text.data() + 2, t.text.data() + t.text.size(), value, 16);
    if (ec != std::errc() || end != t.text.data() + t.text.size() || value > max)
        return fail(t, fmt::format("{} {} out of range (0x0..{:#x})", what, t.text, max));
    out = value;
    return true;
}

tl::expected<Script, ScriptError> Parser::script() {
    Script s;
    while (peek().kind == Kind::Option) {
        Token t = take();
        s.options.push_back(ScriptOption{std::move(t.text), std::move(t.value), t.pos});
    }
    if (peek().kind == Kind::Command)
        s.initCommand = CommandSpec{take().text};
    for (;;) {
        const Token& t = peek();
        if (t.kind == Kind::End && !s.events.empty())
            break;
        if (t.kind == Kind::Command && !s.events.empty()) {
            s.cleanupCommand = CommandSpec{take().text};
            if (peek().kind != Kind::End)
                fail(peek(), fmt::format("expected the end of the script after the cleanup "
                                         "command (a `command` with no time after the last "
                                         "event), found {}",
                                         found(peek())));
            break;
        }
        if (t.kind == Kind::Option) {
            fail(t, fmt::format("the option '--{}' comes too late: options go before the init "
                                "command and the first event",
                                t.text));
            break;
        }
        Event e;
        if (!event(e))
            break;
        s.events.push_back(std::move(e));
    }
    if (m_error)
        return tl::unexpected(*m_error);
    return s;
}

bool Parser::event(Event& e) {
    const Token first = peek();
    e.pos = first.pos;
    if (!time(e.time))
        return false;
    const Token& t = peek();
    if (t.is('<') || t.is('>')) {
        if (!packet(e.action))
            return false;
    } else if (t.kind == Kind::Command) {
        e.action = CommandSpec{take().text};
    } else if (t.kind == Kind::Code) {
        e.action = CodeSpec{take().text};
    } else if (t.kind == Kind::Ellipsis || t.kind == Kind::Word) {
        SyscallSpec s;
        if (!syscall(s))
            return false;
        e.action = std::move(s);
    } else {
        return fail(t, fmt::format("expected a packet ('<' or '>'), a system call, a `command` "
                                   "or %{{ code }}% after the time, found {}",
                                   found(t)));
    }
    // parser.y's checks of the event as a whole.
    bool outbound = false;
    if (const auto* p = std::get_if<PacketSpec>(&e.action))
        outbound = p->direction == Direction::Outbound;
    else if (const auto* o = std::get_if<OtherPacketSpec>(&e.action))
        outbound = o->direction == Direction::Outbound;
    using TK = EventTime::Kind;
    const bool range = e.time.kind == TK::AbsoluteRange || e.time.kind == TK::RelativeRange;
    if (range && e.time.endUsecs < e.time.usecs)
        return fail(first, "time range is backwards");
    if (e.time.kind == TK::Any && !outbound)
        return fail(first, "event time <star> can only be used with outbound packets");
    if (range && !outbound)
        return fail(first, "event time range can only be used with outbound packets");
    return true;
}

bool Parser::time(EventTime& t) {
    using TK = EventTime::Kind;
    const Token& first = peek();
    if (first.is('*')) {
        take();
        t.kind = TK::Any;
        return true;
    }
    if (first.is('+')) {
        take();
        if (!secondsToken(t.usecs, "after '+'"))
            return false;
        t.kind = TK::Relative;
        if (!peek().is('~'))
            return true;
        take();
        if (!expect('+', "after '~' in a relative time range (+START~+END, as in +0.1~+0.2)"))
            return false;
        t.kind = TK::RelativeRange;
        return secondsToken(t.endUsecs, "after '~+'");
    }
    if (first.kind == Kind::Integer || first.kind == Kind::Float) {
        if (!secondsToken(t.usecs, ""))
            return false;
        t.kind = TK::Absolute;
        if (!peek().is('~'))
            return true;
        take();
        if (peek().is('+'))
            return fail(peek(), "an absolute time range has no '+' after '~' (START~END, as in "
                                "0.1~0.2)");
        t.kind = TK::AbsoluteRange;
        return secondsToken(t.endUsecs, "after '~'");
    }
    return fail(first, fmt::format("expected an event time (such as 0, 0.1, .1, +0.1 or *), "
                                   "found {}",
                                   found(first)));
}

bool Parser::secondsToken(std::int64_t& usecs, std::string_view what) {
    const Token& t = peek();
    if (t.kind != Kind::Integer && t.kind != Kind::Float)
        return fail(t, fmt::format("expected a time in seconds{}{} (such as 0, 0.1 or .1), "
                                   "found {}",
                                   what.empty() ? "" : " ", what, found(t)));
    bool negative = false;
    if (!secondsToUsecs(t.text, usecs, negative))
        return fail(
            t, fmt::format("time {} out of range (at most {} seconds)", t.text, kMaxTimeSeconds));
    if (negative)
        return fail(t, fmt::format("negative time {}", t.text));
    take();
    return true;
}

bool Parser::packet(Action& out) {
    const Token direction = take();
    PacketSpec p;
    p.direction = direction.is('>') ? Direction::Outbound : Direction::Inbound;
    for (const char* header : {"ipv4", "ipv6", "gre", "GREv0", "mpls"})
        if (peek().isWord(header))
            return fail(peek(),
                        fmt::format("unsupported: '{}' encapsulation in a packet line", header));
    const SourcePos infoPos = peek().pos;
    if ((peek().is('(') || peek().is('[')) && !ipInfo(p))
        return false;
    if (peek().isWord("encap"))
        return fail(peek(), "unsupported: 'encap' (PSP encapsulation) in a packet line");
    if (peek().isWord("udp") || peek().isWord("icmp")) {
        OtherPacketSpec other;
        other.direction = p.direction;
        if (!otherPacket(p, infoPos, other.text))
            return false;
        out = std::move(other);
        return true;
    }
    if (!tcpPacket(p))
        return false;
    out = std::move(p);
    return true;
}

bool Parser::ipInfo(PacketSpec& p) {
    const Token open = take();
    const char close = open.is('(') ? ')' : ']';
    const Token what = peek();
    static constexpr std::pair<std::string_view, PacketSpec::Ecn> kEcn[] = {
        {"noecn", PacketSpec::Ecn::NoEcn}, {"ect0", PacketSpec::Ecn::Ect0},
        {"ect1", PacketSpec::Ecn::Ect1},   {"ce", PacketSpec::Ecn::Ce},
        {"ect01", PacketSpec::Ecn::Ect01},
    };
    std::uint64_t value = 0;
    bool tosSpec = false;
    for (const auto& [name, ecn] : kEcn) {
        if (what.isWord(name)) {
            take();
            p.ecn = ecn;
            tosSpec = true;
            if (ecn == PacketSpec::Ecn::Ect01 && p.direction != Direction::Outbound)
                return fail(what, "[ect01] can only be used with outbound packets");
        }
    }
    const auto hexField = [&](std::string_view keyword, std::uint64_t max, std::string_view as) {
        take();
        if (peek().kind != Kind::Hex)
            return fail(peek(), fmt::format("expected a hex value after '{}' (as in {}), found {}",
                                            keyword, as, found(peek())));
        if (!hexIn(peek(), max, keyword, value))
            return false;
        take();
        return true;
    };
    if (what.isWord("tos")) {
        if (!hexField("tos", 0xff, "tos 0x02"))
            return false;
        p.tos = static_cast<std::uint8_t>(value);
        tosSpec = true;
    }
    // parser.y's ip_info: tos_spec [, flow_label] | flow_label | TTL INTEGER.
    const bool flowLabel = tosSpec ? peek().is(',') : what.isWord("flowlabel");
    if (tosSpec && flowLabel) {
        take();
        if (!peek().isWord("flowlabel"))
            return fail(peek(), fmt::format("expected 'flowlabel' after ',' in the IP "
                                            "information, found {}",
                                            found(peek())));
    }
    if (flowLabel) {
        if (!hexField("flowlabel", 0xfffff, "flowlabel 0x12345"))
            return false;
        p.flowLabel = static_cast<std::uint32_t>(value);
    } else if (what.isWord("ttl")) {
        take();
        if (!integerToken("the TTL after 'ttl' (as in ttl 64)") ||
            !unsignedIn(peek(), 0xff, "ttl", value))
            return false;
        take();
        p.ttl = static_cast<std::uint8_t>(value);
    } else if (!tosSpec) {
        return fail(what, fmt::format("expected ect0, ect1, ce, noecn, ect01, tos 0x.., "
                                      "flowlabel 0x.. or ttl N after '{}' in a packet line, "
                                      "found {}",
                                      open.text, found(what)));
    }
    return expect(close, "to end the IP information of the packet");
}

bool Parser::ports(PacketSpec& p) {
    std::uint64_t src = 0;
    std::uint64_t dst = 0;
    const Token first = take();
    if (!unsignedIn(first, 0xffff, "src port", src) ||
        !expect('>', fmt::format("and the destination port after the source port {} (as in "
                                 "1234>80)",
                                 first.text)) ||
        !integerToken("the destination port after '>'") ||
        !unsignedIn(peek(), 0xffff, "dst port", dst))
        return false;
    take();
    p.sourcePort = static_cast<std::uint16_t>(src);
    p.destinationPort = static_cast<std::uint16_t>(dst);
    return true;
}

bool Parser::tcpPacket(PacketSpec& p) {
    if (peek().kind == Kind::Integer && !ports(p))
        return false;
    if (!flags(p.flags) || !sequence(p.seq, p.length))
        return false;
    std::uint64_t value = 0;
    const auto number = [&](std::string_view keyword, std::uint64_t max, std::string_view what,
                            auto& field) {
        if (!peek().isWord(keyword))
            return true;
        take();
        if (!integerToken(fmt::format("a number after '{}'", keyword)) ||
            !unsignedIn(peek(), max, what, value))
            return false;
        take();
        field = static_cast<typename std::decay_t<decltype(field)>::value_type>(value);
        return true;
    };
    if (!number("ack", 0xffffffff, "TCP ack sequence number", p.ack) ||
        !number("win", 0xffff, "TCP window value", p.window) ||
        !number("urg", 0xffff, "urg_ptr value", p.urgent))
        return false;
    if (peek().is('<') && !tcpOptions(p))
        return false;
    for (const char* keyword : {"ack", "win", "urg"})
        if (peek().isWord(keyword))
            return fail(peek(), fmt::format("'{}' is out of order: a TCP packet is [PORTS] FLAGS "
                                            "START:END(LENGTH) [ack N] [win N] [urg N] "
                                            "[<OPTIONS>]",
                                            keyword));
    return true;
}

bool Parser::flags(std::string& out) {
    const Token t = peek();
    if (t.kind == Kind::Word) {
        out = take().text;
        if (peek().is('.') || peek().kind == Kind::Float)
            out += take().text; // "S." or AccECN's ACE digits: "S.5" is S then .5
    } else if (t.kind == Kind::Float || t.is('.')) {
        out = take().text;
    } else if (t.is('-')) {
        take();
        out.clear();
    } else {
        return fail(t, fmt::format("expected the TCP flags (such as S, S., ., P., F., R. or - "
                                   "for none), found {}",
                                   found(t)));
    }
    // tcp_packet.c: ".FSRPEWAU01234567", where a digit is the AccECN ACE field, which the
    // ECN flags E, W and A exclude, as a second digit does.
    bool ecn = false;
    bool ace = false;
    for (const char c : out) {
        if (std::string_view(".FSRPEWAU01234567").find(c) == std::string_view::npos)
            return fail(t, fmt::format("invalid TCP flag '{}' in '{}' (flags are F S R P . U E "
                                       "W A, an ACE digit 0-7, or - for none)",
                                       c, out));
        const bool isEcn = c == 'E' || c == 'W' || c == 'A';
        const bool isAce = c >= '0' && c <= '7';
        if ((isEcn && ace) || (isAce && (ecn || ace)))
            return fail(t, fmt::format("conflicting TCP flag '{}' in '{}' (E, W and A exclude "
                                       "an ACE digit, and there is one digit at most)",
                                       c, out));
        ecn = ecn || isEcn;
        ace = ace || isAce;
    }
    return true;
}

bool Parser::sequence(std::uint32_t& seq, std::uint16_t& length) {
    if (!integerToken(fmt::format("the start sequence number {}", kSeqForm)))
        return false;
    const Token start = take();
    if (!expect(':', fmt::format("after the start sequence number {}", kSeqForm)) ||
        !integerToken(fmt::format("the end sequence number after ':' {}", kSeqForm)))
        return false;
    const Token end = take();
    if (!expect('(', fmt::format("after the end sequence number {}", kSeqForm)) ||
        !integerToken(fmt::format("the payload length after '(' {}", kSeqForm)))
        return false;
    const Token size = take();
    if (!expect(')', fmt::format("after the payload length {}", kSeqForm)))
        return false;
    std::uint64_t a = 0;
    std::uint64_t b = 0;
    std::uint64_t n = 0;
    if (!unsignedIn(start, 0xffffffff, "TCP start sequence number", a) ||
        !unsignedIn(end, 0xffffffff, "TCP end sequence number", b) ||
        !unsignedIn(size, 0xffff, "TCP payload size", n))
        return false;
    if (b != a + n)
        return fail(start, fmt::format("inconsistent TCP sequence numbers and payload size: "
                                       "{}:{}({}) (the end is {} + {} = {})",
                                       a, b, n, a, n, a + n));
    seq = static_cast<std::uint32_t>(a);
    length = static_cast<std::uint16_t>(n);
    return true;
}

bool Parser::tcpOptions(PacketSpec& p) {
    const Token open = take();
    if (peek().kind == Kind::Ellipsis) {
        take();
        if (!expect('>', "after '<...'"))
            return false;
        if (p.direction != Direction::Outbound)
            return fail(open, "<...> for TCP options can only be used with outbound packets");
        p.options.reset();
        return true;
    }
    std::vector<TcpOptionSpec> list;
    unsigned bytes = 0;
    for (;;) {
        const Token at = peek();
        TcpOptionSpec o;
        if (!tcpOption(o))
            return false;
        bytes += tcpOptionLength(o);
        if (bytes > kMaxTcpOptionBytes)
            return fail(at, fmt::format("TCP option list too long: {} bytes with '{}' (at most "
                                        "{})",
                                        bytes, at.text, kMaxTcpOptionBytes));
        list.push_back(std::move(o));
        if (peek().is(',')) {
            take();
        } else if (peek().is('>')) {
            take();
            break;
        } else {
            return fail(peek(), fmt::format("expected ',' or '>' after the TCP option '{}', "
                                            "found {}",
                                            at.text, found(peek())));
        }
    }
    if (bytes % 4 != 0)
        return fail(open, fmt::format("TCP options are not padded correctly to ensure TCP header "
                                      "is a multiple of 4 bytes: {} excess bytes (of {}; add "
                                      "nop options)",
                                      bytes % 4, bytes));
    p.options = std::move(list);
    return true;
}

bool Parser::hexBlob(const Token& t, std::string_view what, std::size_t maxBytes,
                     std::string& out) {
    if (t.kind == Kind::Word && !isHexString(t.text))
        // packetdrill's own scripts write FO TFO_COOKIE, a symbol its -D TFO_COOKIE=... defines
        // (lexer.l's word()); there are no such definitions here.
        return fail(t, fmt::format("{} '{}' is not a valid hex string (hex digits, no 0x; a "
                                   "name that packetdrill's -D NAME=VALUE would define is not "
                                   "replaced here)",
                                   what, t.text));
    if (!isHexString(t.text) || t.kind == Kind::Hex)
        return fail(
            t, fmt::format("{} '{}' is not a valid hex string (hex digits, no 0x)", what, t.text));
    if (t.text.size() % 2 != 0)
        return fail(t, fmt::format("{} '{}' has an odd number of digits", what, t.text));
    if (t.text.size() / 2 > maxBytes)
        return fail(t, fmt::format("{} of {} bytes exceeds the maximum length of {} bytes", what,
                                   t.text.size() / 2, maxBytes));
    out = t.text;
    return true;
}

bool Parser::tcpOption(TcpOptionSpec& o) {
    using K = TcpOptionSpec::Kind;
    const Token name = peek();
    if (name.kind != Kind::Word)
        return fail(name,
                    fmt::format("expected a TCP option ({}), found {}", kOptionNames, found(name)));
    take();
    std::uint64_t value = 0;
    const auto number = [&](std::string_view what, std::uint64_t max, std::uint32_t& field) {
        if (!integerToken(fmt::format("{} after '{}'", what, name.text)) ||
            !unsignedIn(peek(), max, what, value))
            return false;
        take();
        field = static_cast<std::uint32_t>(value);
        return true;
    };
    const std::string& n = name.text;
    if (n == "nop" || n == "eol") {
        o.kind = n == "nop" ? K::Nop : K::Eol;
    } else if (n == "mss") {
        o.kind = K::Mss;
        return number("mss value", 0xffff, o.value);
    } else if (n == "wscale") {
        o.kind = K::WindowScale;
        return number("window scale shift count", 0xff, o.value);
    } else if (n == "sackOK") {
        o.kind = K::SackOk;
    } else if (n == "sack") {
        o.kind = K::Sack;
        do {
            std::uint32_t left = 0;
            std::uint32_t right = 0;
            if (!number("TCP SACK left sequence number", 0xffffffff, left) ||
                !expect(':', "between the edges of a SACK block (LEFT:RIGHT, as in sack 1:1001)") ||
                !number("TCP SACK right sequence number", 0xffffffff, right))
                return false;
            o.blocks.emplace_back(left, right);
        } while (peek().kind == Kind::Integer);
    } else if (n == "TS") {
        o.kind = K::Timestamp;
        if (!peek().isWord("val"))
            return fail(peek(), fmt::format("expected 'val' after 'TS' (as in TS val 100 ecr 0), "
                                            "found {}",
                                            found(peek())));
        take();
        if (!number("ts val", 0xffffffff, o.value))
            return false;
        if (!peek().isWord("ecr"))
            return fail(peek(), fmt::format("expected 'ecr' after the TS value (as in TS val 100 "
                                            "ecr 0), found {}",
                                            found(peek())));
        take();
        return number("ecr val", 0xffffffff, o.echo);
    } else if (n == "FO" || n == "FOEXP") {
        o.kind = n == "FO" ? K::FastOpen : K::FastOpenExp;
        const Kind k = peek().kind;
        if (k == Kind::Word || k == Kind::Integer || k == Kind::Hex)
            return hexBlob(take(), "TCP fast open cookie", n == "FO" ? 38 : 36, o.cookie);
    } else if (n == "md5") {
        o.kind = K::Md5;
        const Kind k = peek().kind;
        if (k != Kind::Word && k != Kind::Integer && k != Kind::Hex)
            return fail(peek(), fmt::format("expected the MD5 digest in hex after 'md5', found "
                                            "{}",
                                            found(peek())));
        return hexBlob(take(), "TCP MD5 digest", 16, o.cookie);
    } else if (n == "ECN") {
        return fail(name, "unsupported: the AccECN option 'ECN'");
    } else {
        return fail(name, fmt::format("unknown TCP option '{}' (expected {})", n, kOptionNames));
    }
    return true;
}

bool Parser::otherPacket(const PacketSpec& info, SourcePos infoPos, std::string& text) {
    text = ipInfoText(info);
    if (!text.empty())
        text += ' ';
    const Token keyword = take();
    std::uint64_t value = 0;
    const auto number = [&](std::string_view what, std::uint64_t max) {
        if (!integerToken(what) || !unsignedIn(peek(), max, what, value))
            return false;
        take();
        return true;
    };
    if (keyword.isWord("udp")) {
        using E = PacketSpec::Ecn;
        if (info.ecn != E::None && info.ecn != E::Ect01)
            return fail(infoPos, "ECN can only be used with TCP packets");
        text += "udp";
        if (peek().kind == Kind::Integer) {
            PacketSpec p;
            if (!ports(p))
                return false;
            text += fmt::format(" {}>{}", *p.sourcePort, *p.destinationPort);
        }
        if (!expect('(', "and the payload length after 'udp' (as in udp (1472))") ||
            !number("UDP payload size", 0xffff) || !expect(')', "after the UDP payload size"))
            return false;
        text += fmt::format(" ({})", value);
        return true;
    }
    text += "icmp";
    if (peek().kind != Kind::Word)
        return fail(peek(), fmt::format("expected the ICMP type after 'icmp' (as in icmp "
                                        "unreachable frag_needed), found {}",
                                        found(peek())));
    text += " " + take().text;
    if (peek().kind == Kind::Word && !peek().isWord("mtu") && !peek().isWord("id"))
        text += " " + take().text;
    for (const char* field : {"mtu", "id"}) {
        if (!peek().isWord(field))
            continue;
        take();
        if (!number(fmt::format("a number after '{}'", field), 0xffff))
            return false;
        text += fmt::format(" {} {}", field, value);
    }
    if (!peek().is('['))
        return true;
    take();
    if (peek().isWord("udp") || peek().isWord("raw")) {
        const std::string protocol = take().text;
        if (!expect('(', fmt::format("and the payload length after '{}'", protocol)) ||
            !number("payload size", 0xffff) || !expect(')', "after the payload size"))
            return false;
        text += fmt::format(" [{} ({})]", protocol, value);
    } else {
        std::uint32_t seq = 0;
        std::uint16_t length = 0;
        if (!sequence(seq, length))
            return false;
        text += fmt::format(" [{}:{}({})]", seq, std::uint64_t{seq} + length, length);
    }
    return expect(']', "to end the packet the ICMP message carries");
}

bool Parser::syscall(SyscallSpec& s) {
    if (peek().kind == Kind::Ellipsis) {
        take();
        std::int64_t end = 0;
        if (!secondsToken(end, "after '...' (when a blocking call returns, as in ...0.1)"))
            return false;
        s.endUsecs = end;
    }
    if (peek().kind != Kind::Word)
        return fail(peek(), fmt::format("expected a system call name, found {}", found(peek())));
    s.name = take().text;
    if (!expect('(', fmt::format("and the arguments after the system call name '{}'", s.name)))
        return false;
    if (!peek().is(')')) {
        for (;;) {
            Expr e;
            unsigned height = 0;
            if (!expr(e, 1, height))
                return false;
            s.arguments.push_back(std::move(e));
            if (!peek().is(','))
                break;
            take();
        }
    }
    if (!expect(')', fmt::format("or ',' in the arguments of {}()", s.name)) ||
        !expect('=', fmt::format("and the expected result after {}(...)", s.name)))
        return false;
    unsigned height = 0;
    if (!expr(s.result, 1, height))
        return false;
    if (peek().kind == Kind::Word) {
        s.errnoName = take().text;
        if (!peek().is('('))
            return fail(peek(), fmt::format("expected '(' and the error's description after the "
                                            "errno name {} (as in {} (Resource temporarily "
                                            "unavailable)), found {}",
                                            s.errnoName, s.errnoName, found(peek())));
        if (!note(s.note))
            return false;
        if (peek().is('('))
            return fail(peek(), "unsupported: a second note after the errno's description");
    } else if (peek().is('(')) {
        return note(s.note);
    }
    return true;
}

bool Parser::note(std::string& out) {
    take();
    out.clear();
    while (peek().kind == Kind::Word || peek().kind == Kind::Integer)
        out += (out.empty() ? "" : " ") + take().text;
    if (out.empty())
        return fail(peek(),
                    fmt::format("expected words in the note after '(', found {}", found(peek())));
    return expect(')', "to end the note");
}

bool Parser::expr(Expr& out, unsigned level, unsigned& height) {
    if (level > kMaxDepth)
        return fail(peek(), std::string(kTooDeep));
    if (!term(out, level, height))
        return false;
    // parser.y's "expression '|' expression"; bitwise or is associative, so the tree leans
    // left whatever bison's shift does.
    while (peek().is('|')) {
        const Token op = take();
        Expr rhs;
        unsigned rhsHeight = 0;
        if (!term(rhs, level, rhsHeight))
            return false;
        height = std::max(height, rhsHeight) + 1;
        if (height > kMaxDepth)
            return fail(op, std::string(kTooDeep));
        Expr binary;
        binary.kind = Expr::Kind::Binary;
        binary.text = "|";
        binary.pos = out.pos;
        binary.items.push_back(std::move(out));
        binary.items.push_back(std::move(rhs));
        out = std::move(binary);
    }
    return true;
}

bool Parser::term(Expr& out, unsigned level, unsigned& height) {
    const Token& t = peek();
    out.pos = t.pos;
    height = 1;
    switch (t.kind) {
    case Kind::Ellipsis:
        take();
        out.kind = Expr::Kind::Ellipsis;
        return true;
    case Kind::Integer: {
        const auto [end, ec] =
            std::from_chars(t.text.data(), t.text.data() + t.text.size(), out.integer);
        if (ec != std::errc() || end != t.text.data() + t.text.size())
            return fail(t, fmt::format("integer {} out of range (64 bits)", t.text));
        out.kind = Expr::Kind::Integer;
        take();
        return true;
    }
    case Kind::Hex: {
        std::uint64_t value = 0;
        if (!hexIn(t, std::numeric_limits<std::int64_t>::max(), "integer", value))
            return false;
        out.kind = Expr::Kind::Integer;
        out.integer = static_cast<std::int64_t>(value);
        out.hex = true;
        take();
        return true;
    }
    case Kind::String:
        return strings(out, height);
    case Kind::Word:
        break;
    default:
        if (t.is('[') || t.is('{'))
            return list(out, level, height);
        return fail(t, fmt::format("expected an expression (..., a number, a WORD, a \"string\", "
                                   "[list] or {{fields}}), found {}",
                                   found(t)));
    }
    const Token name = take();
    static constexpr std::string_view kCalls[] = {"htons", "inet_addr", "inet6_addr", "msg_name",
                                                  "msg_iov"};
    if (peek().is('(') &&
        std::find(std::begin(kCalls), std::end(kCalls), name.text) != std::end(kCalls)) {
        if (!call(out, name, level, height))
            return false;
    } else {
        out.kind = Expr::Kind::Word;
        out.text = name.text;
    }
    if (!peek().is('='))
        return true;
    // parser.y's "WORD '=' expression" (and msg_iov(1)=[...] of its msghdr).
    const Token op = take();
    Expr rhs;
    unsigned rhsHeight = 0;
    if (!expr(rhs, level + 1, rhsHeight))
        return false;
    height = std::max(height, rhsHeight) + 1;
    if (height > kMaxDepth)
        return fail(op, std::string(kTooDeep));
    Expr binary;
    binary.kind = Expr::Kind::Binary;
    binary.text = "=";
    binary.pos = out.pos;
    binary.items.push_back(std::move(out));
    binary.items.push_back(std::move(rhs));
    out = std::move(binary);
    return true;
}

bool Parser::strings(Expr& out, unsigned& height) {
    out.kind = Expr::Kind::String;
    out.text = take().text;
    if (peek().kind == Kind::Ellipsis) {
        take();
        out.stringEllipsis = true;
        return true;
    }
    // parser.y's string_sequence: "a" "b" is a "." Binary.
    while (peek().kind == Kind::String) {
        const Token s = take();
        if (++height > kMaxDepth)
            return fail(s, std::string(kTooDeep));
        Expr rhs;
        rhs.kind = Expr::Kind::String;
        rhs.text = s.text;
        rhs.pos = s.pos;
        Expr binary;
        binary.kind = Expr::Kind::Binary;
        binary.text = ".";
        binary.pos = out.pos;
        binary.items.push_back(std::move(out));
        binary.items.push_back(std::move(rhs));
        out = std::move(binary);
    }
    if (peek().kind == Kind::Ellipsis)
        return fail(peek(), "'...' can only follow a single string (as in \"abc\"...)");
    return true;
}

bool Parser::list(Expr& out, unsigned level, unsigned& height) {
    const Token open = take();
    const char close = open.is('[') ? ']' : '}';
    out.kind = open.is('[') ? Expr::Kind::List : Expr::Kind::Braces;
    height = 1;
    while (!peek().is(close)) {
        Expr item;
        unsigned itemHeight = 0;
        if (!expr(item, level + 1, itemHeight))
            return false;
        height = std::max(height, itemHeight + 1);
        out.items.push_back(std::move(item));
        if (!peek().is(','))
            break;
        take();
    }
    if (height > kMaxDepth)
        return fail(open, std::string(kTooDeep));
    return expect(close, fmt::format("or ',' in the {} that '{}' opened",
                                     open.is('[') ? "list" : "braces", open.text));
}

bool Parser::call(Expr& out, const Token& name, unsigned level, unsigned& height) {
    take(); // (
    out.kind = Expr::Kind::Call;
    out.text = name.text;
    while (!peek().is(')')) {
        Expr arg;
        unsigned argHeight = 0;
        if (!expr(arg, level + 1, argHeight))
            return false;
        height = std::max(height, argHeight + 1);
        out.items.push_back(std::move(arg));
        if (!peek().is(','))
            break;
        take();
    }
    if (height > kMaxDepth)
        return fail(name, std::string(kTooDeep));
    if (!expect(')', fmt::format("or ',' in the arguments of {}()", name.text)))
        return false;
    const auto& args = out.items;
    const bool oneString = args.size() == 1 && args[0].kind == Expr::Kind::String &&
                           args[0].text.find('\0') == std::string::npos;
    if (name.text == "htons" && (args.size() != 1 || args[0].kind != Expr::Kind::Integer ||
                                 args[0].integer < 0 || args[0].integer > 0xffff))
        return fail(name, "htons() takes one port number 0..65535, as in htons(8080)");
    if (name.text == "inet_addr" || name.text == "inet6_addr") {
        const bool v6 = name.text == "inet6_addr";
        if (!oneString)
            return fail(name, fmt::format("{}() takes one address string, as in {}(\"{}\")",
                                          name.text, name.text, v6 ? "2001:db8::1" : "192.0.2.1"));
        unsigned char address[16];
        if (::inet_pton(v6 ? AF_INET6 : AF_INET, args[0].text.c_str(), address) != 1)
            return fail(args[0].pos,
                        fmt::format("cannot parse {} as an {} address in {}()",
                                    quoteString(args[0].text), v6 ? "IPv6" : "IPv4", name.text));
    }
    return true;
}

} // namespace

unsigned tcpOptionLength(const TcpOptionSpec& o) {
    using K = TcpOptionSpec::Kind;
    switch (o.kind) {
    case K::Nop:
    case K::Eol:
        return 1;
    case K::Mss:
        return 4;
    case K::WindowScale:
        return 3;
    case K::SackOk:
        return 2;
    case K::Sack:
        return static_cast<unsigned>(2 + 8 * o.blocks.size());
    case K::Timestamp:
        return 10;
    case K::FastOpen:
        return static_cast<unsigned>(2 + o.cookie.size() / 2);
    case K::FastOpenExp:
        return static_cast<unsigned>(4 + o.cookie.size() / 2);
    case K::Md5:
        return static_cast<unsigned>(2 + o.cookie.size() / 2);
    }
    return 0;
}

std::string describe(const ScriptError& error, std::string_view file) {
    if (file.empty())
        return fmt::format("line {}:{}: {}", error.line, error.column, error.message);
    return fmt::format("{}:{}:{}: {}", file, error.line, error.column, error.message);
}

tl::expected<Script, ScriptError> parseScript(std::string_view text, const Defines& defines) {
    return Parser(text, defines).script();
}

std::string formatTime(const EventTime& time) {
    using TK = EventTime::Kind;
    switch (time.kind) {
    case TK::Absolute:
        return seconds(time.usecs);
    case TK::Relative:
        return "+" + seconds(time.usecs);
    case TK::Any:
        return "*";
    case TK::AbsoluteRange:
        return seconds(time.usecs) + "~" + seconds(time.endUsecs);
    case TK::RelativeRange:
        return "+" + seconds(time.usecs) + "~+" + seconds(time.endUsecs);
    }
    return {};
}

std::string formatExpr(const Expr& expr) {
    using EK = Expr::Kind;
    switch (expr.kind) {
    case EK::Ellipsis:
        return "...";
    case EK::Integer:
        return expr.hex ? fmt::format("{:#x}", static_cast<std::uint64_t>(expr.integer))
                        : fmt::format("{}", expr.integer);
    case EK::Word:
        return expr.text;
    case EK::String:
        return quoteString(expr.text) + (expr.stringEllipsis ? "..." : "");
    case EK::Binary: {
        const std::string lhs = expr.items.empty() ? std::string() : formatExpr(expr.items[0]);
        const std::string rhs = expr.items.size() < 2 ? std::string() : formatExpr(expr.items[1]);
        return lhs + (expr.text == "." ? " " : expr.text) + rhs;
    }
    case EK::List:
        return "[" + joined(expr.items, ", ", &formatExpr) + "]";
    case EK::Braces:
        return "{" + joined(expr.items, ", ", &formatExpr) + "}";
    case EK::Call:
        return expr.text + "(" + joined(expr.items, ", ", &formatExpr) + ")";
    }
    return {};
}

std::string formatPacket(const PacketSpec& packet) {
    std::string out = packet.direction == Direction::Outbound ? ">" : "<";
    if (const std::string info = ipInfoText(packet); !info.empty())
        out += " " + info;
    if (packet.sourcePort || packet.destinationPort)
        out += fmt::format(" {}>{}", packet.sourcePort.value_or(0),
                           packet.destinationPort.value_or(0));
    out += " " + (packet.flags.empty() ? std::string("-") : packet.flags);
    out += fmt::format(" {}:{}({})", packet.seq, std::uint64_t{packet.seq} + packet.length,
                       packet.length);
    if (packet.ack)
        out += fmt::format(" ack {}", *packet.ack);
    if (packet.window)
        out += fmt::format(" win {}", *packet.window);
    if (packet.urgent)
        out += fmt::format(" urg {}", *packet.urgent);
    if (!packet.options)
        out += " <...>";
    else if (!packet.options->empty())
        out += " <" + joined(*packet.options, ",", &formatOption) + ">";
    return out;
}

std::string formatEvent(const Event& event) {
    std::string out = formatTime(event.time) + " ";
    if (const auto* p = std::get_if<PacketSpec>(&event.action)) {
        out += formatPacket(*p);
    } else if (const auto* s = std::get_if<SyscallSpec>(&event.action)) {
        if (s->endUsecs)
            out += "..." + seconds(*s->endUsecs) + " ";
        out += fmt::format("{}({}) = {}", s->name, joined(s->arguments, ", ", &formatExpr),
                           formatExpr(s->result));
        if (!s->errnoName.empty())
            out += " " + s->errnoName;
        if (!s->note.empty())
            out += " (" + s->note + ")";
    } else if (const auto* c = std::get_if<CommandSpec>(&event.action)) {
        out += "`" + c->command + "`";
    } else if (const auto* code = std::get_if<CodeSpec>(&event.action)) {
        out += "%{ " + code->code + " }%";
    } else if (const auto* o = std::get_if<OtherPacketSpec>(&event.action)) {
        out += (o->direction == Direction::Outbound ? "> " : "< ") + o->text;
    }
    return out;
}

std::string formatScript(const Script& script) {
    std::string out;
    for (const ScriptOption& o : script.options)
        out += "--" + o.name + (o.value.empty() ? "" : "=" + writeOptionValue(o.value)) + "\n";
    if (script.initCommand)
        out += "`" + script.initCommand->command + "`\n";
    for (const Event& e : script.events)
        out += formatEvent(e) + "\n";
    if (script.cleanupCommand)
        out += "`" + script.cleanupCommand->command + "`\n";
    return out;
}

} // namespace tcplab::drill
