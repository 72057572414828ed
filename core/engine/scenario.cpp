#include "engine/scenario.h"

#include "peer/call_text.h"
#include "peer/tcp_info.h"
#include "wire/bytes.h"

#include <array>
#include <cctype>
#include <charconv>
#include <limits>
#include <set>
#include <utility>

#include <fmt/format.h>

namespace tcplab::engine {

namespace {

using wire::TcpOption;
using wire::TcpOptionList;
namespace opt = wire::tcp_option_kind;

constexpr std::int64_t kNsPerMs = 1'000'000;
constexpr std::uint64_t kMaxSeq = 0xffffffffu;

// ---------------------------------------------------------------------------------
// The classic exercise, as text. classicScenario() parses these; a test checks that
// every one of them parses and runs against a Linux-like peer.

constexpr std::string_view kClassicFin =
    R"(# The classic exercise, closed with FIN: we close first (RFC 9293 §3.6, case 1).
# Our ISN is ISS (--isn). ack=iss+1 checks that the SYN-ACK acknowledges our SYN;
# every other number follows from what the peer sent. Works whether the server
# keeps the connection open (it answers our FIN with its own, which the last ACK
# acknowledges) or closes right after its response (its FIN arrives before or
# across ours; the last ACK then reaches it in TIME-WAIT, where it is harmless).
title The classic exercise: handshake, HTTP GET, close with FIN
send S seq=iss name="SYN"
expect SA ack=iss+1 within=5000 name="SYN-ACK"
send A name="ACK"
send PA data=request name="GET"
receive http within=10000 name="response"
send FA name="FIN"
wait acked,peer-fin within=5000 name="peer's ACK and FIN"
send A name="last ACK"
linger 500 name="TIME-WAIT"
)";

constexpr std::string_view kClassicRst =
    R"(# The classic exercise, aborted with RST (RFC 9293 §3.10.5, ABORT): no FIN, no TIME-WAIT.
# The RST carries seq=snd.nxt, exactly what the peer expects next, so the peer
# accepts it (RFC 5961 §3.2) and drops the connection at once.
title The classic exercise: handshake, HTTP GET, abort with RST
send S seq=iss name="SYN"
expect SA ack=iss+1 within=5000 name="SYN-ACK"
send A name="ACK"
send PA data=request name="GET"
receive http within=10000 name="response"
send R name="RST"
linger 200 name="after the RST"
)";

constexpr std::string_view kClassicPeer =
    R"(# The classic exercise, closed by the server: it sends its FIN first (ask for it with
# "Connection: close" in the request) and we close second (RFC 9293 §3.6, case 2):
# acknowledge its FIN, send ours, wait for its ACK of ours.
title The classic exercise: handshake, HTTP GET, the server closes first
send S seq=iss name="SYN"
expect SA ack=iss+1 within=5000 name="SYN-ACK"
send A name="ACK"
send PA data=request name="GET"
receive http within=10000 name="response"
wait peer-fin within=10000 name="peer's FIN"
send A name="ACK of the peer's FIN"
send FA name="FIN"
wait acked within=5000 name="ACK of our FIN"
)";

constexpr std::string_view kPassive =
    R"scn(# The kernel connects to you: the peer's application opens the connection (its active
# open, RFC 9293 §3.5 Figure 6, seen from the server's side) and the phantom answers as a
# server in LISTEN would (§3.10.7.2): a SYN-ACK with its own ISN (ISS) acknowledging the
# peer's SYN. Data goes both ways through the peer's socket calls; the peer closes first,
# so its socket, not ours, ends in TIME-WAIT.
title The kernel connects to you: its SYN, your SYN-ACK, data both ways, its FIN first
peer socket $family = $s name="peer: socket()"
peer connect $s $phantom $sport = 0 background within=15000 name="peer: connect() (blocks)"
expect S within=5000 name="the peer's SYN"
send SA seq=iss ack=irs+1 options=mss:1460 name="SYN-ACK"
expect A ack=iss+1 within=5000 name="the handshake's ACK"
peer write $s "Hello from the peer's kernel\r\n" = 30 name="peer: write()"
receive 30 within=5000 name="the peer's data"
send PA data="Hello back\r\n" name="data to the peer"
peer read $s 100 = 12 name="peer: read()"
peer close $s = 0 name="peer: close()"
receive fin within=5000 name="the peer's FIN"
send FA name="FIN"
wait acked within=5000 name="the peer's ACK of our FIN"
)scn";

// ---------------------------------------------------------------------------------
// Words of a line.

constexpr bool isSpace(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && isSpace(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && isSpace(s.back()))
        s.remove_suffix(1);
    return s;
}

/// Splits a line into words: runs of non-blank characters in which a double quote
/// opens a string that runs to the next unescaped double quote. A '#' that starts a
/// word begins a comment.
tl::expected<std::vector<std::string_view>, std::string> splitWords(std::string_view line) {
    std::vector<std::string_view> words;
    std::size_t i = 0;
    while (i < line.size()) {
        if (isSpace(line[i])) {
            ++i;
            continue;
        }
        if (line[i] == '#')
            break;
        const std::size_t start = i;
        while (i < line.size() && !isSpace(line[i])) {
            if (line[i] != '"') {
                ++i;
                continue;
            }
            const std::size_t open = i++;
            while (i < line.size() && line[i] != '"')
                i += line[i] == '\\' ? 2 : 1;
            if (i >= line.size())
                return tl::make_unexpected(fmt::format(
                    "unterminated string: the double quote at column {} has no closing quote",
                    open + 1));
            ++i;
        }
        words.push_back(line.substr(start, i - start));
    }
    return words;
}

/// A value as written: a quoted string loses its quotes and its escapes are decoded;
/// anything else has its escapes decoded as it stands.
tl::expected<std::vector<std::uint8_t>, std::string> valueBytes(std::string_view value) {
    if (!value.empty() && value.front() == '"') {
        // splitWords guarantees a closing quote; it must end the word.
        std::size_t i = 1;
        while (i < value.size() && value[i] != '"')
            i += value[i] == '\\' ? 2 : 1;
        if (i + 1 != value.size())
            return tl::make_unexpected(
                fmt::format("unexpected '{}' after the closing double quote", value.substr(i + 1)));
        return wire::unescapeText(value.substr(1, i - 1));
    }
    return wire::unescapeText(value);
}

/// Bytes as a double-quoted string that valueBytes() reads back.
std::string quoteBytes(wire::Bytes bytes) {
    std::string out = "\"";
    for (const char c : wire::escapeText(bytes)) {
        if (c == '"')
            out += "\\\"";
        else
            out.push_back(c);
    }
    out.push_back('"');
    return out;
}

/// A name as a double-quoted string: UTF-8 stays as it is, control characters,
/// quotes and backslashes are escaped.
std::string quoteText(std::string_view text) {
    std::string out = "\"";
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (c < 0x20 || c == 0x7f)
                out += fmt::format("\\x{:02x}", c);
            else
                out.push_back(ch);
        }
    }
    out.push_back('"');
    return out;
}

// ---------------------------------------------------------------------------------
// Numbers, durations, flags.

/// Decimal, or hex with 0x. Error: "bad number" or "out of range" with the limit.
tl::expected<std::uint64_t, std::string> parseNumber(std::string_view text, std::uint64_t max,
                                                     std::string_view what) {
    if (text.empty())
        return tl::make_unexpected(fmt::format("missing number for {}", what));
    int base = 10;
    std::string_view digits = text;
    if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
        base = 16;
        digits.remove_prefix(2);
    }
    std::uint64_t value = 0;
    const auto [end, ec] =
        std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
    if (ec == std::errc::result_out_of_range)
        return tl::make_unexpected(
            fmt::format("value out of range: {}={} (at most {})", what, text, max));
    if (ec != std::errc() || end != digits.data() + digits.size())
        return tl::make_unexpected(fmt::format("bad number '{}' for {}", text, what));
    if (value > max)
        return tl::make_unexpected(
            fmt::format("value out of range: {}={} (at most {})", what, text, max));
    return value;
}

/// "500", "500ms", "5s", "250us", "100ns"; a bare number is milliseconds.
tl::expected<std::int64_t, std::string> parseDuration(std::string_view text,
                                                      std::string_view what) {
    struct Unit {
        std::string_view suffix;
        std::int64_t ns;
    };
    // Longest suffixes first: "ms" before "s".
    static constexpr std::array<Unit, 4> kUnits{
        {{"ms", kNsPerMs}, {"us", 1'000}, {"ns", 1}, {"s", 1'000'000'000}}};
    std::int64_t factor = kNsPerMs;
    std::string_view digits = text;
    for (const Unit& u : kUnits) {
        if (digits.size() > u.suffix.size() && digits.ends_with(u.suffix) &&
            digits[digits.size() - u.suffix.size() - 1] >= '0' &&
            digits[digits.size() - u.suffix.size() - 1] <= '9') {
            digits.remove_suffix(u.suffix.size());
            factor = u.ns;
            break;
        }
    }
    if (digits.empty())
        return tl::make_unexpected(fmt::format("missing duration for {}", what));
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    const auto max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max() / factor);
    if (ec == std::errc::result_out_of_range || (ec == std::errc() && value > max))
        return tl::make_unexpected(fmt::format("value out of range: {}={}", what, text));
    if (ec != std::errc() || end != digits.data() + digits.size())
        return tl::make_unexpected(
            fmt::format("bad duration '{}' for {} (milliseconds, or a number with ms, s, us or ns)",
                        text, what));
    return static_cast<std::int64_t>(value) * factor;
}

std::string formatDuration(std::int64_t ns) {
    if (ns % kNsPerMs == 0)
        return std::to_string(ns / kNsPerMs);
    return fmt::format("{}ns", ns);
}

constexpr std::array<std::string_view, 8> kFlagWords{"FIN", "SYN", "RST", "PSH",
                                                     "ACK", "URG", "ECE", "CWR"};

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i]))
            return false;
    }
    return true;
}

/// Flag words separated by commas ("SYN,ACK", any case), or nullopt when the text is
/// not made of flag words only.
std::optional<std::uint8_t> parseFlagWords(std::string_view text) {
    std::uint8_t flags = 0;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t comma = text.find(',', start);
        const std::string_view word = text.substr(
            start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        bool known = false;
        for (std::size_t bit = 0; bit < kFlagWords.size(); ++bit) {
            if (equalsIgnoringCase(word, kFlagWords[bit])) {
                flags = static_cast<std::uint8_t>(flags | (1u << bit));
                known = true;
            }
        }
        if (!known)
            return std::nullopt;
        if (comma == std::string_view::npos)
            break;
        start = comma + 1;
    }
    return flags;
}

tl::expected<std::uint8_t, std::string> parseFlags(std::string_view text) {
    if (equalsIgnoringCase(text, "none"))
        return std::uint8_t{0};
    if (auto words = parseFlagWords(text))
        return *words;
    if (text.find(',') != std::string_view::npos)
        return tl::make_unexpected(fmt::format(
            "unknown flag word in '{}' (use FIN SYN RST PSH ACK URG ECE CWR, comma separated)",
            text));
    auto letters = wire::parseTcpFlags(text);
    if (!letters)
        return tl::make_unexpected(
            fmt::format("{} or comma-separated words (SYN,ACK)", letters.error()));
    return *letters;
}

std::string formatFlags(std::uint8_t flags) {
    return flags == 0 ? std::string("0") : wire::tcpFlagsToString(flags);
}

/// "SYN-ACK", "PSH-ACK", "FIN": for names a person reads.
std::string flagName(std::uint8_t flags) {
    if (flags == 0)
        return "segment without flags";
    std::string s;
    for (std::size_t bit = 0; bit < kFlagWords.size(); ++bit) {
        if (!(flags & (1u << bit)))
            continue;
        if (!s.empty())
            s += '-';
        s += kFlagWords[bit];
    }
    return s;
}

// ---------------------------------------------------------------------------------
// TCP options: "mss:1460,ws:7,sackok,sack:L-R[:L-R],ts:VAL:ECR,nop,eol,raw:KIND[:HEX]",
// or "hex:..." for the exact bytes.

std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    while (true) {
        const std::size_t at = text.find(separator, start);
        parts.push_back(text.substr(start, at == std::string_view::npos ? at : at - start));
        if (at == std::string_view::npos)
            return parts;
        start = at + 1;
    }
}

tl::expected<TcpOptionList, std::string> parseOptions(std::string_view text) {
    if (text.starts_with("hex:")) {
        auto bytes = wire::fromHex(text.substr(4));
        if (!bytes)
            return tl::make_unexpected(fmt::format("bad hex in options: {}", bytes.error()));
        if (bytes->size() > TcpOptionList::kCapacity)
            return tl::make_unexpected(fmt::format(
                "value out of range: options take {} bytes (at most 40)", bytes->size()));
        return TcpOptionList::fromRawBytes(*bytes);
    }
    if (text.empty())
        return tl::make_unexpected(std::string("missing value for options"));
    TcpOptionList list;
    for (const std::string_view item : split(text, ',')) {
        const auto parts = split(item, ':');
        const std::string_view kind = parts[0];
        const auto arity = [&](std::size_t n, std::string_view form) -> std::optional<std::string> {
            if (parts.size() == n + 1)
                return std::nullopt;
            return fmt::format("option '{}' is written {}", item, form);
        };
        std::optional<TcpOption> option;
        std::optional<std::string> error;
        if (kind == "mss") {
            if ((error = arity(1, "mss:N")))
                return tl::make_unexpected(*error);
            auto v = parseNumber(parts[1], 0xffff, "mss");
            if (!v)
                return tl::make_unexpected(v.error());
            option = TcpOption::mss(static_cast<std::uint16_t>(*v));
        } else if (kind == "ws") {
            if ((error = arity(1, "ws:SHIFT")))
                return tl::make_unexpected(*error);
            auto v = parseNumber(parts[1], 0xff, "ws");
            if (!v)
                return tl::make_unexpected(v.error());
            option = TcpOption::windowScale(static_cast<std::uint8_t>(*v));
        } else if (kind == "sackok") {
            if ((error = arity(0, "sackok")))
                return tl::make_unexpected(*error);
            option = TcpOption::sackPermitted();
        } else if (kind == "nop") {
            if ((error = arity(0, "nop")))
                return tl::make_unexpected(*error);
            option = TcpOption::nop();
        } else if (kind == "eol") {
            if ((error = arity(0, "eol")))
                return tl::make_unexpected(*error);
            option = TcpOption::eol();
        } else if (kind == "ts") {
            if ((error = arity(2, "ts:VALUE:ECHO")))
                return tl::make_unexpected(*error);
            auto v = parseNumber(parts[1], kMaxSeq, "ts");
            if (!v)
                return tl::make_unexpected(v.error());
            auto e = parseNumber(parts[2], kMaxSeq, "ts echo");
            if (!e)
                return tl::make_unexpected(e.error());
            option = TcpOption::timestamps(static_cast<std::uint32_t>(*v),
                                           static_cast<std::uint32_t>(*e));
        } else if (kind == "sack") {
            if (parts.size() < 2 || parts.size() > 5)
                return tl::make_unexpected(fmt::format(
                    "option '{}' is written sack:LEFT-RIGHT, with 1 to 4 blocks separated by ':'",
                    item));
            std::vector<wire::SackBlock> blocks;
            for (std::size_t i = 1; i < parts.size(); ++i) {
                const auto dash = parts[i].find('-');
                if (dash == std::string_view::npos)
                    return tl::make_unexpected(
                        fmt::format("SACK block '{}' is written LEFT-RIGHT", parts[i]));
                auto left = parseNumber(parts[i].substr(0, dash), kMaxSeq, "sack left edge");
                if (!left)
                    return tl::make_unexpected(left.error());
                auto right = parseNumber(parts[i].substr(dash + 1), kMaxSeq, "sack right edge");
                if (!right)
                    return tl::make_unexpected(right.error());
                blocks.push_back({wire::SeqNum(static_cast<std::uint32_t>(*left)),
                                  wire::SeqNum(static_cast<std::uint32_t>(*right))});
            }
            option = TcpOption::sack(blocks);
        } else if (kind == "raw") {
            if (parts.size() != 2 && parts.size() != 3)
                return tl::make_unexpected(
                    fmt::format("option '{}' is written raw:KIND or raw:KIND:HEX", item));
            auto k = parseNumber(parts[1], 0xff, "raw option kind");
            if (!k)
                return tl::make_unexpected(k.error());
            std::vector<std::uint8_t> data;
            if (parts.size() == 3) {
                auto bytes = wire::fromHex(parts[2]);
                if (!bytes)
                    return tl::make_unexpected(
                        fmt::format("bad hex in option '{}': {}", item, bytes.error()));
                data = std::move(*bytes);
            }
            if (data.size() > TcpOption::kMaxData)
                return tl::make_unexpected(
                    fmt::format("value out of range: option '{}' has {} data bytes (at most {})",
                                item, data.size(), TcpOption::kMaxData));
            option = TcpOption::raw(static_cast<std::uint8_t>(*k), data);
        } else {
            return tl::make_unexpected(fmt::format(
                "unknown option '{}' (use mss:N, ws:N, sackok, sack:L-R, ts:VALUE:ECHO, nop, "
                "eol, raw:KIND:HEX, or options=hex:...)",
                item.empty() ? std::string_view("(empty)") : kind));
        }
        if (!list.append(*option))
            return tl::make_unexpected(fmt::format(
                "value out of range: the options take more than 40 bytes at '{}'", item));
    }
    return list;
}

/// "sack:L-R:L-R" for a well-formed SACK option, "" otherwise.
std::string sackText(const TcpOption& o) {
    std::size_t n = 0;
    const auto blocks = o.sackBlocks(n);
    if (o.kind != opt::kSack || n == 0)
        return {};
    std::string text = "sack";
    for (std::size_t i = 0; i < n; ++i)
        text += fmt::format(":{}-{}", blocks[i].left.value(), blocks[i].right.value());
    return text;
}

/// The options as parseOptions reads them back to the same bytes: by name when
/// that reproduces them, as hex:... otherwise (length overrides, broken bytes,
/// padding after EOL).
std::string formatOptions(const TcpOptionList& list) {
    std::string text;
    for (const TcpOption& o : list) {
        if (!text.empty())
            text += ',';
        switch (o.kind) {
        case opt::kEol:
            text += "eol";
            continue;
        case opt::kNop:
            text += "nop";
            continue;
        default:
            break;
        }
        if (auto mss = o.mssValue()) {
            text += fmt::format("mss:{}", *mss);
        } else if (auto ws = o.windowScaleValue()) {
            text += fmt::format("ws:{}", *ws);
        } else if (o.kind == opt::kSackPermitted && o.data.empty()) {
            text += "sackok";
        } else if (auto ts = o.timestampsValue()) {
            text += fmt::format("ts:{}:{}", ts->first, ts->second);
        } else if (std::string sack = sackText(o); !sack.empty()) {
            text += sack;
        } else {
            text += fmt::format("raw:{}", o.kind);
            if (!o.data.empty())
                text += ":" + wire::toHex(o.data.bytes());
        }
    }
    auto back = parseOptions(text);
    if (back && *back == list)
        return text;
    return "hex:" + wire::toHex(list.bytes());
}

// ---------------------------------------------------------------------------------
// Steps.

struct BaseName {
    std::string_view name;
    SeqExpr::Base base;
};
constexpr std::array<BaseName, 5> kBases{{{"iss", SeqExpr::Base::Iss},
                                          {"irs", SeqExpr::Base::Irs},
                                          {"snd.una", SeqExpr::Base::SndUna},
                                          {"snd.nxt", SeqExpr::Base::SndNxt},
                                          {"rcv.nxt", SeqExpr::Base::RcvNxt}}};

/// One line being read: its words past the step kind, checked and consumed.
class LineReader {
public:
    LineReader(std::string_view kind, std::vector<std::string_view> words)
        : m_kind(kind)
        , m_words(std::move(words)) {}

    /// The positional words (without '='), in order.
    std::vector<std::string_view> positional() const {
        std::vector<std::string_view> out;
        for (std::size_t i = 1; i < m_words.size(); ++i)
            if (m_words[i].find('=') == std::string_view::npos || m_words[i].front() == '"')
                out.push_back(m_words[i]);
        return out;
    }

    /// Checks every key=value against `allowed`; the error names the first offence.
    std::optional<std::string> checkKeys(std::initializer_list<std::string_view> allowed) {
        for (std::size_t i = 1; i < m_words.size(); ++i) {
            const std::string_view w = m_words[i];
            const auto eq = w.find('=');
            if (eq == std::string_view::npos || w.front() == '"')
                continue;
            const std::string_view key = w.substr(0, eq);
            if (key.empty())
                return fmt::format("'{}' has no key before '='", w);
            bool ok = false;
            for (auto a : allowed)
                ok = ok || a == key;
            if (!ok) {
                std::string list;
                for (auto a : allowed)
                    list += (list.empty() ? "" : ", ") + std::string(a);
                return fmt::format("unknown key '{}' for {} (use {})", key, m_kind, list);
            }
            if (w.size() == eq + 1)
                return fmt::format("missing value for {}", key);
            for (const auto& [k, v] : m_pairs)
                if (k == key)
                    return fmt::format("duplicated key {}", key);
            m_pairs.emplace_back(key, w.substr(eq + 1));
        }
        return std::nullopt;
    }

    std::optional<std::string_view> value(std::string_view key) const {
        for (const auto& [k, v] : m_pairs)
            if (k == key)
                return v;
        return std::nullopt;
    }

private:
    std::string_view m_kind;
    std::vector<std::string_view> m_words;
    std::vector<std::pair<std::string_view, std::string_view>> m_pairs;
};

using StepResultOr = tl::expected<StepAction, std::string>;

tl::expected<std::optional<SeqExpr>, std::string> exprValue(const LineReader& r,
                                                            std::string_view key) {
    const auto v = r.value(key);
    if (!v)
        return std::optional<SeqExpr>{};
    auto e = parseSeqExpr(*v);
    if (!e && e.error().starts_with("value out of range"))
        return tl::make_unexpected(
            fmt::format("value out of range: {}={} (at most {})", key, *v, kMaxSeq));
    if (!e)
        return tl::make_unexpected(fmt::format("{}: {}", key, e.error()));
    return std::optional<SeqExpr>{*e};
}

/// FLAGS [seq=EXPR] [ack=EXPR]: what send and expect both say about a segment.
template <typename Step>
std::optional<std::string> readFlagsSeqAck(const LineReader& r, std::string_view flagsWord,
                                           Step& s) {
    auto flags = parseFlags(flagsWord);
    if (!flags)
        return flags.error();
    s.flags = *flags;
    auto seq = exprValue(r, "seq");
    if (!seq)
        return seq.error();
    s.seq = *seq;
    auto ack = exprValue(r, "ack");
    if (!ack)
        return ack.error();
    s.ack = *ack;
    return std::nullopt;
}

tl::expected<std::int64_t, std::string> withinValue(const LineReader& r, std::int64_t fallback) {
    const auto v = r.value("within");
    if (!v)
        return fallback;
    return parseDuration(*v, "within");
}

std::optional<std::string> tooManyPositional(std::string_view kind,
                                             const std::vector<std::string_view>& pos,
                                             std::size_t expected, std::string_view form) {
    if (pos.size() <= expected)
        return std::nullopt;
    return fmt::format("unexpected '{}' ({} is written {})", pos[expected], kind, form);
}

/// A byte count: decimal digits with an optional k, M or G (powers of 1024), at most 2^40.
std::optional<std::uint64_t> sizeValue(std::string_view w) {
    std::uint64_t scale = 1;
    if (!w.empty() && (w.back() == 'k' || w.back() == 'K' || w.back() == 'M' || w.back() == 'G')) {
        scale = w.back() == 'G' ? 1ull << 30 : w.back() == 'M' ? 1ull << 20 : 1ull << 10;
        w.remove_suffix(1);
    }
    if (w.empty() || w.size() > 13 || w.find_first_not_of("0123456789") != std::string_view::npos)
        return std::nullopt;
    std::uint64_t v = 0;
    std::from_chars(w.data(), w.data() + w.size(), v);
    if (v > (1ull << 40) / scale)
        return std::nullopt;
    return v * scale;
}

/// The names a call uses beyond the connection's own, each standing for "3" (an fd), so
/// that a call can be checked before the step that binds them has run.
std::map<std::string, std::string> placeholders(std::string_view call) {
    std::map<std::string, std::string> out;
    for (std::size_t i = call.find('$'); i != std::string_view::npos; i = call.find('$', i + 1)) {
        std::size_t j = i + 1;
        while (j < call.size() &&
               (std::isalnum(static_cast<unsigned char>(call[j])) || call[j] == '_'))
            ++j;
        out.emplace(std::string(call.substr(i + 1, j - i - 1)), "3");
    }
    return out;
}

/// "peer CALL [= RESULT [ERRNO] | = * | = $NAME] [background] [within=MS] [name=...]"; `name`
/// receives the name= value when there is one.
StepResultOr parsePeer(const std::vector<std::string_view>& words,
                       std::optional<std::string_view>& name, const std::set<std::string>& bound) {
    PeerStep s;
    std::vector<std::string_view> call;
    std::vector<std::string_view> result;
    bool inResult = false;
    for (std::size_t i = 1; i < words.size(); ++i) {
        const std::string_view w = words[i];
        if (w.starts_with("within=")) {
            auto d = parseDuration(w.substr(7), "within");
            if (!d)
                return tl::make_unexpected(d.error());
            s.withinNs = *d;
        } else if (w.starts_with("name=")) {
            name = w.substr(5);
        } else if (w == "background") {
            s.background = true;
        } else if (w == "=") {
            if (inResult)
                return tl::make_unexpected(std::string("a second '=' in a peer step"));
            inResult = true;
        } else if (inResult) {
            result.push_back(w);
        } else {
            call.push_back(w);
        }
    }
    if (call.empty())
        return tl::make_unexpected(
            std::string("missing value: peer needs a call (peer socket inet, peer listen 3)"));
    for (const auto w : call) {
        s.call += s.call.empty() ? "" : " ";
        s.call += w;
    }
    // A name must be bound by an earlier step.
    for (const auto& [variable, value] : placeholders(s.call)) {
        const bool own = variable == "phantom" || variable == "peer" || variable == "sport" ||
                         variable == "dport" || variable == "family";
        if (!own && !bound.count(variable))
            return tl::make_unexpected(fmt::format(
                "${} has no value: an earlier peer step binds it (peer socket inet = ${})",
                variable, variable));
    }
    // Checked now, with stand-in values for the variables, so a typo fails before anything
    // is sent.
    const auto checked = peer::parseCall(expandPeerCall(
        s.call, {"198.18.0.2", "198.18.0.1", "50000", "50001", "inet"}, placeholders(s.call)));
    if (!checked)
        return tl::make_unexpected(checked.error());
    if (inResult) {
        if (result.empty())
            return tl::make_unexpected(
                std::string("'=' needs the result it expects (= 0, = -1 ECONNREFUSED, = *)"));
        if (result.size() > 2)
            return tl::make_unexpected(
                fmt::format("unexpected '{}' after the expected result", result[2]));
        if (result[0] == "*") {
            if (result.size() > 1)
                return tl::make_unexpected(std::string("'= *' takes no errno"));
            s.anyResult = true;
        } else if (result[0].starts_with("$")) {
            const std::string_view variable = result[0].substr(1);
            if (result.size() > 1)
                return tl::make_unexpected(std::string("'= $NAME' takes no errno"));
            if (variable.empty() || !std::isalpha(static_cast<unsigned char>(variable.front())) ||
                variable.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") !=
                    std::string_view::npos)
                return tl::make_unexpected(fmt::format(
                    "'{}' is not a name to bind the result to ($s, $listener, $fd2)", result[0]));
            if (variable == "phantom" || variable == "peer" || variable == "sport" ||
                variable == "dport" || variable == "family")
                return tl::make_unexpected(fmt::format(
                    "${} is the connection's own: bind the result to another name", variable));
            s.bind = std::string(variable);
        } else {
            std::int64_t v = 0;
            const auto [end, ec] =
                std::from_chars(result[0].data(), result[0].data() + result[0].size(), v);
            if (ec != std::errc() || end != result[0].data() + result[0].size())
                return tl::make_unexpected(
                    fmt::format("'{}' is not a result (a number such as 0, 4 or -1)", result[0]));
            s.result = v;
            if (result.size() == 2) {
                std::optional<int> e = peer::errnoByName(result[1]);
                if (int n = 0;
                    !e &&
                    std::from_chars(result[1].data(), result[1].data() + result[1].size(), n).ptr ==
                        result[1].data() + result[1].size() &&
                    n > 0 && n < 4096)
                    e = n;
                if (!e)
                    return tl::make_unexpected(fmt::format(
                        "'{}' is not an errno name (ECONNREFUSED, EAGAIN...)", result[1]));
                if (v != -1)
                    return tl::make_unexpected(std::string("an errno goes with the result -1"));
                s.error = *e;
            }
        }
    }
    return s;
}

/// A tcp_info state by name ("ESTABLISHED", "time-wait", "TIME_WAIT").
std::optional<std::uint64_t> stateByName(std::string_view name) {
    std::string n(name);
    for (auto& c : n)
        c = c == '_' ? '-' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (std::uint64_t v = 1; v <= 13; ++v)
        if (peer::linuxStateName(v) == n)
            return v;
    if (n == "SYN-RECV")
        return 3;
    if (n == "CLOSE")
        return 7;
    return std::nullopt;
}

/// "expect-peer FIELD OP VALUE [fd=N] [within=MS] [name=...]".
StepResultOr parseExpectPeer(const std::vector<std::string_view>& words,
                             std::optional<std::string_view>& name,
                             const std::set<std::string>& bound) {
    constexpr std::string_view kForm =
        "expect-peer FIELD OP VALUE [fd=N] [within=MS] [name=...] (expect-peer snd_cwnd >= 20)";
    ExpectPeerStep s;
    std::vector<std::string_view> pos;
    for (std::size_t i = 1; i < words.size(); ++i) {
        const std::string_view w = words[i];
        if (w.starts_with("within=")) {
            auto d = parseDuration(w.substr(7), "within");
            if (!d)
                return tl::make_unexpected(d.error());
            s.withinNs = *d;
        } else if (w.starts_with("name=")) {
            name = w.substr(5);
        } else if (w.starts_with("fd=$")) {
            const std::string variable(w.substr(4));
            if (!bound.count(variable))
                return tl::make_unexpected(fmt::format(
                    "${} has no value: an earlier peer step binds it (peer accept 3 = ${})",
                    variable, variable));
            s.fdVariable = variable;
        } else if (w.starts_with("fd=")) {
            auto n = parseNumber(w.substr(3), 1'000'000, "fd");
            if (!n)
                return tl::make_unexpected(n.error());
            s.fd = static_cast<int>(*n);
        } else {
            pos.push_back(w);
        }
    }
    if (pos.size() != 3)
        return tl::make_unexpected(fmt::format("expect-peer is written {}", kForm));
    const std::string_view field = pos[0];
    if (field != "rqueue" && field != "wqueue" && !peer::fieldByName(field))
        return tl::make_unexpected(fmt::format(
            "'{}' is not a tcp_info field (snd_cwnd, snd_ssthresh, rtt, rto, state, unacked, "
            "snd_wnd, rcv_wnd, total_retrans, ...) nor rqueue or wqueue",
            field));
    s.field = std::string(field);
    static constexpr std::pair<std::string_view, ExpectPeerStep::Op> kOps[] = {
        {"==", ExpectPeerStep::Op::Equal},        {"=", ExpectPeerStep::Op::Equal},
        {"!=", ExpectPeerStep::Op::NotEqual},     {"<", ExpectPeerStep::Op::Less},
        {"<=", ExpectPeerStep::Op::LessEqual},    {">", ExpectPeerStep::Op::Greater},
        {">=", ExpectPeerStep::Op::GreaterEqual},
    };
    bool known = false;
    for (const auto& [text, op] : kOps)
        if (pos[1] == text) {
            s.op = op;
            known = true;
        }
    if (!known)
        return tl::make_unexpected(
            fmt::format("'{}' is not a comparison (==, !=, <, <=, >, >=)", pos[1]));
    if (s.field == "state") {
        const auto v = stateByName(pos[2]);
        if (!v)
            return tl::make_unexpected(fmt::format(
                "'{}' is not a TCP state (ESTABLISHED, SYN-SENT, FIN-WAIT-1, TIME-WAIT, ...)",
                pos[2]));
        s.value = *v;
    } else {
        std::optional<std::uint64_t> v = sizeValue(pos[2]);
        if (!v && !pos[2].empty()) {
            std::uint64_t n = 0;
            const auto [end, ec] = std::from_chars(pos[2].data(), pos[2].data() + pos[2].size(), n);
            if (ec == std::errc() && end == pos[2].data() + pos[2].size())
                v = n;
        }
        if (!v)
            return tl::make_unexpected(fmt::format("'{}' is not a number", pos[2]));
        s.value = *v;
    }
    return s;
}

StepResultOr parseSend(LineReader& r) {
    constexpr std::string_view kForm =
        "send FLAGS [seq=EXPR] [ack=EXPR] [win=N] [data=...] [options=...] [name=...]";
    if (auto e = r.checkKeys({"seq", "ack", "win", "data", "options", "name"}))
        return tl::make_unexpected(*e);
    const auto pos = r.positional();
    if (pos.empty())
        return tl::make_unexpected(
            std::string("missing value: send needs its flags (send S, send PA, send SYN,ACK)"));
    if (auto e = tooManyPositional("send", pos, 1, kForm))
        return tl::make_unexpected(*e);
    SendStep s;
    if (auto e = readFlagsSeqAck(r, pos[0], s))
        return tl::make_unexpected(*e);
    if (auto w = r.value("win")) {
        auto v = parseNumber(*w, 0xffff, "win");
        if (!v)
            return tl::make_unexpected(v.error());
        s.window = static_cast<std::uint16_t>(*v);
    }
    if (auto d = r.value("data")) {
        if (*d == "request") {
            s.dataIsRequest = true;
        } else if (d->starts_with("hex:")) {
            auto bytes = wire::fromHex(d->substr(4));
            if (!bytes)
                return tl::make_unexpected(fmt::format("bad hex in data: {}", bytes.error()));
            s.data = std::move(*bytes);
        } else {
            auto bytes = valueBytes(*d);
            if (!bytes)
                return tl::make_unexpected(fmt::format("data: {}", bytes.error()));
            s.data = std::move(*bytes);
        }
    }
    if (auto o = r.value("options")) {
        auto list = parseOptions(*o);
        if (!list)
            return tl::make_unexpected(list.error());
        s.options = *list;
    }
    return s;
}

StepResultOr parseExpect(LineReader& r) {
    if (auto e = r.checkKeys({"seq", "ack", "within", "name"}))
        return tl::make_unexpected(*e);
    const auto pos = r.positional();
    if (pos.empty())
        return tl::make_unexpected(
            std::string("missing value: expect needs the flags to wait for (expect SA)"));
    if (auto e = tooManyPositional("expect", pos, 1,
                                   "expect FLAGS [seq=EXPR] [ack=EXPR] [within=MS] [name=...]"))
        return tl::make_unexpected(*e);
    ExpectStep s;
    if (auto e = readFlagsSeqAck(r, pos[0], s))
        return tl::make_unexpected(*e);
    auto within = withinValue(r, s.withinNs);
    if (!within)
        return tl::make_unexpected(within.error());
    s.withinNs = *within;
    return s;
}

StepResultOr parseReceive(LineReader& r) {
    if (auto e = r.checkKeys({"within", "name"}))
        return tl::make_unexpected(*e);
    const auto pos = r.positional();
    if (pos.empty())
        return tl::make_unexpected(
            std::string("missing value: receive needs what to receive (http or fin)"));
    if (auto e =
            tooManyPositional("receive", pos, 1, "receive http|fin|BYTES [within=MS] [name=...]"))
        return tl::make_unexpected(*e);
    ReceiveStep s;
    if (pos[0] == "http") {
        s.until = ReceiveStep::Until::HttpResponse;
    } else if (pos[0] == "fin") {
        s.until = ReceiveStep::Until::PeerFin;
    } else if (const auto n = sizeValue(pos[0]); n && *n > 0) {
        s.until = ReceiveStep::Until::Bytes;
        s.bytes = *n;
    } else {
        return tl::make_unexpected(fmt::format(
            "receive takes http, fin or a number of bytes (1000, 4M), not '{}'", pos[0]));
    }
    auto within = withinValue(r, s.withinNs);
    if (!within)
        return tl::make_unexpected(within.error());
    s.withinNs = *within;
    return s;
}

StepResultOr parseWait(LineReader& r) {
    if (auto e = r.checkKeys({"within", "name"}))
        return tl::make_unexpected(*e);
    const auto pos = r.positional();
    if (pos.empty())
        return tl::make_unexpected(std::string(
            "missing value: wait needs its conditions (acked, peer-fin or acked,peer-fin)"));
    if (auto e = tooManyPositional("wait", pos, 1,
                                   "wait acked|peer-fin|acked,peer-fin [within=MS] [name=...]"))
        return tl::make_unexpected(*e);
    WaitStep s;
    for (const std::string_view c : split(pos[0], ',')) {
        bool* flag = c == "acked" ? &s.acked : c == "peer-fin" ? &s.peerFin : nullptr;
        if (!flag)
            return tl::make_unexpected(fmt::format(
                "unknown wait condition '{}' (use acked, peer-fin or acked,peer-fin)", c));
        if (*flag)
            return tl::make_unexpected(fmt::format("duplicated wait condition {}", c));
        *flag = true;
    }
    auto within = withinValue(r, s.withinNs);
    if (!within)
        return tl::make_unexpected(within.error());
    s.withinNs = *within;
    return s;
}

StepResultOr parseLinger(LineReader& r) {
    if (auto e = r.checkKeys({"name"}))
        return tl::make_unexpected(*e);
    const auto pos = r.positional();
    if (pos.empty())
        return tl::make_unexpected(
            std::string("missing value: linger needs a duration (linger 500)"));
    if (auto e = tooManyPositional("linger", pos, 1, "linger MS [name=...]"))
        return tl::make_unexpected(*e);
    auto d = parseDuration(pos[0], "linger");
    if (!d)
        return tl::make_unexpected(d.error());
    return LingerStep{*d};
}

StepResultOr parseWindow(LineReader& r) {
    if (auto e = r.checkKeys({"name"}))
        return tl::make_unexpected(*e);
    const auto pos = r.positional();
    if (pos.empty())
        return tl::make_unexpected(
            std::string("missing value: window needs the window to advertise (window 0)"));
    if (auto e = tooManyPositional("window", pos, 1, "window N [name=...]"))
        return tl::make_unexpected(*e);
    auto v = parseNumber(pos[0], 0xffff, "window");
    if (!v)
        return tl::make_unexpected(v.error());
    return WindowStep{static_cast<std::uint16_t>(*v)};
}

std::string seqPart(std::string_view key, const std::optional<SeqExpr>& e) {
    return e ? fmt::format(" {}={}", key, formatSeqExpr(*e)) : std::string();
}

std::string formatAction(const StepAction& action) {
    return std::visit(
        [](const auto& a) -> std::string {
            using T = std::decay_t<decltype(a)>;
            if constexpr (std::is_same_v<T, SendStep>) {
                std::string s =
                    "send " + formatFlags(a.flags) + seqPart("seq", a.seq) + seqPart("ack", a.ack);
                if (a.window)
                    s += fmt::format(" win={}", *a.window);
                if (a.dataIsRequest)
                    s += " data=request";
                else if (!a.data.empty())
                    s += " data=" + quoteBytes(a.data);
                if (!a.options.empty())
                    s += " options=" + formatOptions(a.options);
                return s;
            } else if constexpr (std::is_same_v<T, ExpectStep>) {
                return "expect " + formatFlags(a.flags) + seqPart("seq", a.seq) +
                       seqPart("ack", a.ack) + " within=" + formatDuration(a.withinNs);
            } else if constexpr (std::is_same_v<T, ReceiveStep>) {
                return fmt::format("receive {} within={}",
                                   a.until == ReceiveStep::Until::HttpResponse ? "http"
                                   : a.until == ReceiveStep::Until::PeerFin
                                       ? "fin"
                                       : std::to_string(a.bytes),
                                   formatDuration(a.withinNs));
            } else if constexpr (std::is_same_v<T, WaitStep>) {
                const char* what = a.acked && a.peerFin ? "acked,peer-fin"
                                   : a.peerFin          ? "peer-fin"
                                                        : "acked";
                return fmt::format("wait {} within={}", what, formatDuration(a.withinNs));
            } else if constexpr (std::is_same_v<T, LingerStep>) {
                return "linger " + formatDuration(a.durationNs);
            } else if constexpr (std::is_same_v<T, WindowStep>) {
                return fmt::format("window {}", a.window);
            } else if constexpr (std::is_same_v<T, PeerStep>) {
                std::string s = "peer " + a.call;
                if (a.anyResult)
                    s += " = *";
                else if (!a.bind.empty())
                    s += " = $" + a.bind;
                else if (a.result)
                    s += fmt::format(" = {}", *a.result);
                if (a.error) {
                    const std::string name = peer::errnoName(*a.error);
                    s += " " + (name.starts_with("errno ") ? std::to_string(*a.error) : name);
                }
                if (a.background)
                    s += " background";
                return s + " within=" + formatDuration(a.withinNs);
            } else {
                std::string s = fmt::format("expect-peer {} {} ", a.field, opText(a.op));
                s += a.field == "state" ? peer::linuxStateName(a.value) : std::to_string(a.value);
                if (a.fd)
                    s += fmt::format(" fd={}", *a.fd);
                else if (!a.fdVariable.empty())
                    s += " fd=$" + a.fdVariable;
                return s + " within=" + formatDuration(a.withinNs);
            }
        },
        action);
}

} // namespace

// ---------------------------------------------------------------------------------

std::string describe(const ScenarioError& error) {
    if (error.line == 0)
        return error.message;
    return fmt::format("line {}: {}", error.line, error.message);
}

std::string formatSeqExpr(const SeqExpr& expr) {
    if (expr.base == SeqExpr::Base::Literal)
        return std::to_string(expr.offset);
    std::string_view name;
    for (const auto& b : kBases)
        if (b.base == expr.base)
            name = b.name;
    if (expr.offset == 0)
        return std::string(name);
    return fmt::format("{}{:+d}", name, expr.offset);
}

tl::expected<SeqExpr, std::string> parseSeqExpr(std::string_view text) {
    if (text.empty())
        return tl::make_unexpected(std::string("missing value"));
    for (const auto& b : kBases) {
        if (!text.starts_with(b.name))
            continue;
        std::string_view rest = text.substr(b.name.size());
        SeqExpr e{b.base, 0};
        if (rest.empty())
            return e;
        if (rest.front() != '+' && rest.front() != '-')
            continue; // "issX": not this base
        const bool negative = rest.front() == '-';
        auto n = parseNumber(rest.substr(1), kMaxSeq, b.name);
        if (!n)
            return tl::make_unexpected(n.error());
        e.offset = negative ? -static_cast<std::int64_t>(*n) : static_cast<std::int64_t>(*n);
        return e;
    }
    if (text.front() < '0' || text.front() > '9')
        return tl::make_unexpected(fmt::format(
            "bad number '{}' (use a number, or iss, irs, snd.una, snd.nxt, rcv.nxt with an "
            "optional +N or -N)",
            text));
    auto n = parseNumber(text, kMaxSeq, "sequence number");
    if (!n)
        return tl::make_unexpected(n.error());
    return SeqExpr{SeqExpr::Base::Literal, static_cast<std::int64_t>(*n)};
}

std::string defaultStepName(const StepAction& action) {
    return std::visit(
        [](const auto& a) -> std::string {
            using T = std::decay_t<decltype(a)>;
            if constexpr (std::is_same_v<T, SendStep>) {
                std::string s = "send " + flagName(a.flags);
                if (a.dataIsRequest)
                    s += " with the request";
                else if (!a.data.empty())
                    s += fmt::format(" with {} byte{}", a.data.size(),
                                     a.data.size() == 1 ? "" : "s");
                return s;
            } else if constexpr (std::is_same_v<T, ExpectStep>) {
                return "expect " + flagName(a.flags);
            } else if constexpr (std::is_same_v<T, ReceiveStep>) {
                if (a.until == ReceiveStep::Until::Bytes)
                    return fmt::format("receive {} byte{}", a.bytes, a.bytes == 1 ? "" : "s");
                return a.until == ReceiveStep::Until::HttpResponse ? "receive the response"
                                                                   : "receive the peer's FIN";
            } else if constexpr (std::is_same_v<T, WaitStep>) {
                if (a.acked && a.peerFin)
                    return "wait for the ACK and the peer's FIN";
                if (a.peerFin)
                    return "wait for the peer's FIN";
                return "wait until everything is acknowledged";
            } else if constexpr (std::is_same_v<T, LingerStep>) {
                return fmt::format("linger {}", a.durationNs % kNsPerMs == 0
                                                    ? fmt::format("{} ms", a.durationNs / kNsPerMs)
                                                    : fmt::format("{} ns", a.durationNs));
            } else if constexpr (std::is_same_v<T, WindowStep>) {
                return a.window == 0 ? std::string("close the window")
                                     : fmt::format("open the window to {}", a.window);
            } else if constexpr (std::is_same_v<T, PeerStep>) {
                return "peer " + a.call;
            } else {
                return fmt::format("expect-peer {} {} {}", a.field, opText(a.op),
                                   a.field == "state" ? peer::linuxStateName(a.value)
                                                      : std::to_string(a.value));
            }
        },
        action);
}

tl::expected<Scenario, ScenarioError> parseScenario(std::string_view text) {
    Scenario scenario;
    std::set<std::string> bound; ///< names earlier peer steps bind with "= $NAME"
    unsigned titleLine = 0;
    unsigned lineNo = 0;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        const std::size_t nl = text.find('\n', pos);
        const std::string_view raw =
            text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
        ++lineNo;
        const auto fail = [&](std::string message) {
            return tl::make_unexpected(ScenarioError{lineNo, std::move(message)});
        };

        const std::string_view line = trim(raw);
        if (line.empty() || line.front() == '#')
            continue;
        const std::string_view kind = line.substr(0, line.find_first_of(" \t"));
        if (kind == "title") {
            if (titleLine != 0)
                return fail(fmt::format("a second title (the first is on line {})", titleLine));
            scenario.title = std::string(trim(line.substr(kind.size())));
            if (scenario.title.empty())
                return fail("missing value: title needs its text");
            titleLine = lineNo;
            continue;
        }
        auto words = splitWords(line);
        if (!words)
            return fail(words.error());
        LineReader reader(kind, *words);
        std::optional<std::string_view> peerName;
        StepResultOr action = [&]() -> StepResultOr {
            if (kind == "peer")
                return parsePeer(*words, peerName, bound);
            if (kind == "expect-peer")
                return parseExpectPeer(*words, peerName, bound);
            if (kind == "send")
                return parseSend(reader);
            if (kind == "expect")
                return parseExpect(reader);
            if (kind == "receive")
                return parseReceive(reader);
            if (kind == "wait")
                return parseWait(reader);
            if (kind == "linger")
                return parseLinger(reader);
            if (kind == "window")
                return parseWindow(reader);
            return tl::make_unexpected(fmt::format(
                "unknown step kind '{}' (use send, expect, receive, wait, linger, window, peer, "
                "expect-peer or title)",
                kind));
        }();
        if (!action)
            return fail(action.error());
        Step step;
        step.line = lineNo;
        step.action = std::move(*action);
        if (const auto name = peerName ? peerName : reader.value("name")) {
            auto bytes = valueBytes(*name);
            if (!bytes)
                return fail(fmt::format("name: {}", bytes.error()));
            step.name.assign(bytes->begin(), bytes->end());
            if (step.name.empty())
                return fail("missing value: the name is empty");
        } else {
            step.name = defaultStepName(step.action);
        }
        if (const auto* peerStep = std::get_if<PeerStep>(&step.action);
            peerStep && !peerStep->bind.empty())
            bound.insert(peerStep->bind);
        scenario.steps.push_back(std::move(step));
    }
    return scenario;
}

std::string formatScenario(const Scenario& scenario) {
    std::string out;
    if (!scenario.title.empty())
        out += "title " + scenario.title + "\n";
    for (const Step& step : scenario.steps) {
        out += formatAction(step.action);
        if (step.name != defaultStepName(step.action))
            out += " name=" + quoteText(step.name);
        out += '\n';
    }
    return out;
}

/// The call text of a peer step with its variables replaced by `values` ($phantom, $peer,
/// $sport, $dport, in that order).
std::string expandPeerCall(std::string_view call, const std::array<std::string, 5>& values,
                           const std::map<std::string, std::string>& bound) {
    static constexpr std::array<std::string_view, 5> kNames = {"phantom", "peer", "sport", "dport",
                                                               "family"};
    std::string out;
    std::size_t i = 0;
    while (i < call.size()) {
        if (call[i] != '$') {
            out += call[i++];
            continue;
        }
        std::size_t j = i + 1;
        while (j < call.size() &&
               (std::isalnum(static_cast<unsigned char>(call[j])) || call[j] == '_'))
            ++j;
        const std::string name(call.substr(i + 1, j - i - 1));
        std::optional<std::string> value;
        for (std::size_t k = 0; k < kNames.size(); ++k)
            if (name == kNames[k])
                value = values[k];
        if (!value)
            if (const auto it = bound.find(name); it != bound.end())
                value = it->second;
        out += value ? *value : std::string(call.substr(i, j - i));
        i = j;
    }
    return out;
}

std::string_view passiveScenarioText() {
    return kPassive;
}

Scenario passiveScenario() {
    auto s = parseScenario(kPassive);
    return s ? std::move(*s) : Scenario{};
}

std::int64_t timeBudgetNs(const Scenario& scenario) {
    std::int64_t budgetNs = 15'000'000'000;
    for (const auto& step : scenario.steps)
        std::visit(
            [&](const auto& a) {
                using T = std::decay_t<decltype(a)>;
                if constexpr (std::is_same_v<T, LingerStep>)
                    budgetNs += a.durationNs;
                else if constexpr (!std::is_same_v<T, SendStep> && !std::is_same_v<T, WindowStep>)
                    budgetNs += a.withinNs;
            },
            step.action);
    return budgetNs;
}

std::string_view opText(ExpectPeerStep::Op op) noexcept {
    switch (op) {
    case ExpectPeerStep::Op::Equal:
        return "==";
    case ExpectPeerStep::Op::NotEqual:
        return "!=";
    case ExpectPeerStep::Op::Less:
        return "<";
    case ExpectPeerStep::Op::LessEqual:
        return "<=";
    case ExpectPeerStep::Op::Greater:
        return ">";
    case ExpectPeerStep::Op::GreaterEqual:
        return ">=";
    }
    return "?";
}

bool holds(ExpectPeerStep::Op op, std::uint64_t value, std::uint64_t expected) noexcept {
    switch (op) {
    case ExpectPeerStep::Op::Equal:
        return value == expected;
    case ExpectPeerStep::Op::NotEqual:
        return value != expected;
    case ExpectPeerStep::Op::Less:
        return value < expected;
    case ExpectPeerStep::Op::LessEqual:
        return value <= expected;
    case ExpectPeerStep::Op::Greater:
        return value > expected;
    case ExpectPeerStep::Op::GreaterEqual:
        return value >= expected;
    }
    return false;
}

std::optional<CloseMode> parseCloseMode(std::string_view text) {
    if (text == "fin")
        return CloseMode::Fin;
    if (text == "rst")
        return CloseMode::Rst;
    if (text == "peer")
        return CloseMode::Peer;
    return std::nullopt;
}

std::string_view closeModeName(CloseMode mode) noexcept {
    switch (mode) {
    case CloseMode::Fin:
        return "fin";
    case CloseMode::Rst:
        return "rst";
    case CloseMode::Peer:
        return "peer";
    }
    return "fin";
}

std::string_view classicScenarioText(CloseMode close) {
    switch (close) {
    case CloseMode::Fin:
        return kClassicFin;
    case CloseMode::Rst:
        return kClassicRst;
    case CloseMode::Peer:
        return kClassicPeer;
    }
    return kClassicFin;
}

Scenario classicScenario(CloseMode close) {
    // The texts are ours and a test parses each of them; a failure here is a bug in
    // this file, so it yields an empty scenario with the error as its title rather
    // than a crash.
    auto scenario = parseScenario(classicScenarioText(close));
    if (!scenario)
        return Scenario{"classic scenario does not parse: " + describe(scenario.error()), {}};
    return *scenario;
}

} // namespace tcplab::engine
