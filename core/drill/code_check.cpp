#include "drill/code_check.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <limits>
#include <utility>

namespace tcplab::drill {

namespace {

// What every refusal ends with: what tcplab does evaluate, so that the writer sees how to
// say the same thing within the subset.
constexpr std::string_view kSubset = "tcplab evaluates assert, print, = and += over integers";

// Python ints have no limit; ours are 64-bit, and a script that goes beyond them would
// compute something else than packetdrill's Python, so it fails instead.
constexpr std::string_view kOverflowNote =
    " (tcplab's integers are 64-bit; Python's have no limit)";

// A fuzzer's or a typo's "((((((...": the parser and the evaluator recurse, so both are
// bounded, far above what a script writes.
constexpr unsigned kMaxNesting = 100;
constexpr std::size_t kMaxStatementTokens = 1000;

struct NamedConstant {
    std::string_view name;
    std::int64_t value;
};

constexpr std::array<NamedConstant, 25> kConstants{{
    {"TCP_ESTABLISHED", 1},
    {"TCP_SYN_SENT", 2},
    {"TCP_SYN_RECV", 3},
    {"TCP_FIN_WAIT1", 4},
    {"TCP_FIN_WAIT2", 5},
    {"TCP_TIME_WAIT", 6},
    {"TCP_CLOSE", 7},
    {"TCP_CLOSE_WAIT", 8},
    {"TCP_LAST_ACK", 9},
    {"TCP_LISTEN", 10},
    {"TCP_CLOSING", 11},
    {"TCP_CA_Open", 0},
    {"TCP_CA_Disorder", 1},
    {"TCP_CA_CWR", 2},
    {"TCP_CA_Recovery", 3},
    {"TCP_CA_Loss", 4},
    {"TCPI_OPT_TIMESTAMPS", 1},
    {"TCPI_OPT_SACK", 2},
    {"TCPI_OPT_WSCALE", 4},
    {"TCPI_OPT_ECN", 8},
    {"TCPI_OPT_ECN_SEEN", 16},
    {"TCPI_OPT_SYN_DATA", 32},
    {"TCPI_OPT_USEC_TS", 64},
    {"TCPI_OPT_TFO_CHILD", 128},
    {"TCP_INFINITE_SSTHRESH", 0x7fffffff},
}};

/// A constant of addCodeConstants() that still holds its value: a failure leaves it out of
/// the values it lists ("tcpi_ca_state is 3", not also "TCP_CA_Open is 0").
bool isConstant(std::string_view name, std::int64_t value) {
    return std::any_of(kConstants.begin(), kConstants.end(),
                       [&](const NamedConstant& c) { return c.name == name && c.value == value; });
}

// Python's keywords that tcplab does not evaluate (assert, print, not, and, or, True and
// False it does). Python 2's exec is one too.
constexpr std::array<std::string_view, 29> kRefusedWords = {
    "if",     "elif",     "else",  "for",   "while",  "def",     "class",  "return",
    "import", "from",     "with",  "try",   "except", "finally", "lambda", "yield",
    "global", "nonlocal", "del",   "raise", "in",     "is",      "pass",   "continue",
    "break",  "None",     "async", "await", "exec"};

bool refusedWord(std::string_view w) {
    return std::find(kRefusedWords.begin(), kRefusedWords.end(), w) != kRefusedWords.end();
}

std::string refused(std::string_view what) {
    return fmt::format("{} is not supported in %{{ }}% ({})", what, kSubset);
}

std::string refusedKeyword(std::string_view word) {
    return refused(fmt::format("Python's '{}'", word));
}

bool isDigit(char c) {
    return c >= '0' && c <= '9';
}
bool isHexDigit(char c) {
    return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool isNameStart(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool isNameChar(char c) {
    return isNameStart(c) || isDigit(c);
}

// --- Tokens ------------------------------------------------------------------------

struct Tok {
    enum class Kind : std::uint8_t {
        End,     ///< the end of the block
        Newline, ///< a newline outside brackets, or ';' (text says which)
        Name,    ///< text: the name or keyword
        Integer, ///< integer
        String,  ///< text: the value
        Op,      ///< text: the operator or bracket
        Error,   ///< text: what is wrong here; the last token
    };
    Kind kind = Kind::End;
    std::string text;
    std::int64_t integer = 0;
    std::size_t begin = 0; ///< the spelling: [begin, end) of the block's text
    std::size_t end = 0;
    unsigned line = 1;
    unsigned column = 1;

    bool is(std::string_view op) const { return kind == Kind::Op && text == op; }
    bool isName(std::string_view name) const { return kind == Kind::Name && text == name; }
};

/// Cuts a block into tokens, up to the first that is wrong (an Error token, then nothing):
/// the parser meets the tokens in order, so the first mistake in the text is the one
/// reported, whether the lexer or the parser finds it. Newlines inside brackets do not end
/// a statement (Python's implicit line joining); ';' and other newlines do.
class Lexer {
public:
    explicit Lexer(std::string_view text)
        : m_text(text) {}

    std::vector<Tok> run() {
        std::vector<Tok> out;
        for (;;) {
            Tok t = next();
            const bool last = t.kind == Tok::Kind::End || t.kind == Tok::Kind::Error;
            out.push_back(std::move(t));
            if (last)
                return out;
        }
    }

private:
    char at(std::size_t ahead = 0) const {
        return m_at + ahead < m_text.size() ? m_text[m_at + ahead] : '\0';
    }
    bool atEnd() const { return m_at >= m_text.size(); }
    void advance(std::size_t n = 1) {
        for (; n > 0 && m_at < m_text.size(); --n, ++m_at) {
            if (m_text[m_at] == '\n') {
                ++m_line;
                m_column = 1;
            } else {
                ++m_column;
            }
        }
    }
    Tok start(Tok::Kind kind) const {
        Tok t;
        t.kind = kind;
        t.begin = m_at;
        t.end = m_at;
        t.line = m_line;
        t.column = m_column;
        return t;
    }
    Tok done(Tok t) const {
        t.end = m_at;
        return t;
    }
    static Tok error(Tok t, std::string message) {
        t.kind = Tok::Kind::Error;
        t.text = std::move(message);
        return t;
    }

    Tok next() {
        for (;;) {
            const char c = at();
            if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v' ||
                (c == '\n' && m_depth > 0)) {
                advance();
            } else if (c == '#') {
                while (!atEnd() && at() != '\n')
                    advance();
            } else if (c == '\\' && (at(1) == '\n' || (at(1) == '\r' && at(2) == '\n'))) {
                advance(at(1) == '\n' ? 2 : 3);
            } else {
                break;
            }
        }
        Tok t = start(Tok::Kind::End);
        if (atEnd())
            return t;
        const char c = at();
        if (c == '\n' || c == ';') {
            t.kind = Tok::Kind::Newline;
            t.text = std::string(1, c);
            advance();
            return done(std::move(t));
        }
        if (isDigit(c) || (c == '.' && isDigit(at(1))))
            return number(std::move(t));
        if (isNameStart(c)) {
            std::size_t n = 0;
            while (isNameChar(at(n)))
                ++n;
            const std::string word(m_text.substr(m_at, n));
            if (at(n) == '\'' || at(n) == '"') {
                std::string lower = word;
                for (char& ch : lower)
                    ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
                if (lower == "u") { // Python 2's unicode strings are plain strings here
                    advance(n);
                    return quoted(std::move(t));
                }
                if (lower == "r" || lower == "b" || lower == "f" || lower == "rb" ||
                    lower == "br" || lower == "fr" || lower == "rf")
                    return error(std::move(t),
                                 refused(fmt::format("the string prefix '{}'", word)));
            }
            t.kind = Tok::Kind::Name;
            t.text = word;
            advance(n);
            return done(std::move(t));
        }
        if (c == '\'' || c == '"')
            return quoted(std::move(t));
        static constexpr std::array<std::string_view, 26> kLongOps = {
            "**=", "//=", ">>=", "<<=", "**", "//", "<<", ">>", "<=", ">=", "==", "!=",  "<>",
            "+=",  "-=",  "*=",  "/=",  "%=", "&=", "|=", "^=", "@=", "->", ":=", "...", "!"};
        for (std::string_view op : kLongOps)
            if (m_text.substr(m_at).starts_with(op)) {
                t.kind = Tok::Kind::Op;
                t.text = std::string(op);
                advance(op.size());
                return done(std::move(t));
            }
        static constexpr std::string_view kShortOps = "+-*/%&|^~<>()[]{},:.=@";
        if (kShortOps.find(c) != std::string_view::npos) {
            if (c == '(' || c == '[' || c == '{')
                ++m_depth;
            else if ((c == ')' || c == ']' || c == '}') && m_depth > 0)
                --m_depth;
            t.kind = Tok::Kind::Op;
            t.text = std::string(1, c);
            advance();
            return done(std::move(t));
        }
        const auto byte = static_cast<unsigned char>(c);
        if (byte >= 0x20 && byte < 0x7f)
            return error(std::move(t), fmt::format("unexpected '{}'", c));
        return error(std::move(t), fmt::format("unexpected byte 0x{:02x}", byte));
    }

    Tok number(Tok t) {
        std::size_t n = 0;
        while (isNameChar(at(n)) || at(n) == '.' ||
               ((at(n) == '+' || at(n) == '-') && n > 0 && (at(n - 1) == 'e' || at(n - 1) == 'E') &&
                !(at(0) == '0' && (at(1) == 'x' || at(1) == 'X'))))
            ++n;
        const std::string_view word = m_text.substr(m_at, n);
        std::string digits(word);
        std::erase(digits, '_'); // 1_000, as Python 3.6 reads it
        const bool hex = digits.starts_with("0x") || digits.starts_with("0X");
        if (!hex && (digits.find_first_of(".eEjJ") != std::string::npos))
            return error(std::move(t),
                         refused(fmt::format("the floating-point number '{}'", word)));
        std::string_view body = digits;
        unsigned base = 10;
        if (hex) {
            base = 16;
            body.remove_prefix(2);
        }
        const bool valid =
            !body.empty() && std::all_of(body.begin(), body.end(), hex ? isHexDigit : isDigit);
        if (!valid) {
            if (digits.starts_with("0o") || digits.starts_with("0O") || digits.starts_with("0b") ||
                digits.starts_with("0B"))
                return error(std::move(t),
                             fmt::format("'{}': only decimal and 0x hex integers are supported "
                                         "in %{{ }}%",
                                         word));
            return error(std::move(t), fmt::format("'{}' is not an integer", word));
        }
        if (!hex && body.size() > 1 && body[0] == '0' &&
            body.find_first_not_of('0') != std::string_view::npos)
            return error(std::move(t),
                         fmt::format("'{}': Python 3 does not read leading zeros (0o is octal, "
                                     "which tcplab does not read either)",
                                     word));
        std::uint64_t value = 0;
        for (char d : body) {
            const unsigned digit = isDigit(d) ? unsigned(d - '0') : unsigned((d | 0x20) - 'a' + 10);
            if (value > (std::uint64_t(std::numeric_limits<std::int64_t>::max()) - digit) / base)
                return error(std::move(t), fmt::format("the integer {} does not fit in 64 bits{}",
                                                       word, kOverflowNote));
            value = value * base + digit;
        }
        t.kind = Tok::Kind::Integer;
        t.integer = static_cast<std::int64_t>(value);
        advance(n);
        return done(std::move(t));
    }

    Tok quoted(Tok t) {
        const char quote = at();
        if (at(1) == quote && at(2) == quote)
            return error(std::move(t), refused("a triple-quoted string"));
        advance();
        std::string value;
        for (;;) {
            if (atEnd() || at() == '\n')
                return error(std::move(t), "a string that does not end on its line");
            const char c = at();
            if (c == quote) {
                advance();
                break;
            }
            if (c != '\\') {
                value += c;
                advance();
                continue;
            }
            const char e = at(1);
            // Python's escapes; an unknown one keeps its backslash, as Python does.
            static constexpr std::string_view kFrom = "\\'\"abfnrtv";
            static constexpr std::string_view kTo = "\\'\"\a\b\f\n\r\t\v";
            if (const auto k = kFrom.find(e); e != '\0' && k != std::string_view::npos) {
                value += kTo[k];
                advance(2);
            } else if (e == '\n') {
                advance(2);
            } else if (e == 'x') {
                if (!isHexDigit(at(2)) || !isHexDigit(at(3)))
                    return error(start(Tok::Kind::Error), "a \\x escape needs two hex digits");
                const auto hexValue = [](char h) {
                    return isDigit(h) ? h - '0' : (h | 0x20) - 'a' + 10;
                };
                value += static_cast<char>(hexValue(at(2)) * 16 + hexValue(at(3)));
                advance(4);
            } else if (e >= '0' && e <= '7') {
                int v = 0;
                std::size_t n = 1;
                for (; n <= 3 && at(n) >= '0' && at(n) <= '7'; ++n)
                    v = v * 8 + (at(n) - '0');
                value += static_cast<char>(v & 0xff);
                advance(n);
            } else {
                value += '\\';
                advance();
            }
        }
        t.kind = Tok::Kind::String;
        t.text = std::move(value);
        return done(std::move(t));
    }

    std::string_view m_text;
    std::size_t m_at = 0;
    unsigned m_line = 1;
    unsigned m_column = 1;
    int m_depth = 0;
};

// --- Parsing -----------------------------------------------------------------------

/// What an expression yields, as far as reading it tells: strings and tuples may only be
/// printed, be a message or follow a string's %.
enum class Shape : std::uint8_t { Integer, String, Tuple };

Shape shapeOf(const CodeExpr& e) {
    switch (e.kind) {
    case CodeExpr::Kind::String:
        return Shape::String;
    case CodeExpr::Kind::Tuple:
        return Shape::Tuple;
    case CodeExpr::Kind::Binary:
        if (e.text == "%" && shapeOf(e.items[0]) == Shape::String)
            return Shape::String;
        return Shape::Integer;
    default:
        return Shape::Integer;
    }
}

bool isAssignOp(const Tok& t) {
    return t.is("=") || t.is("+=") || t.is("-=") || t.is("*=");
}
bool isOtherAssignOp(const Tok& t) {
    return t.is("/=") || t.is("//=") || t.is("%=") || t.is("&=") || t.is("|=") || t.is("^=") ||
           t.is("<<=") || t.is(">>=") || t.is("**=") || t.is("@=") || t.is(":=");
}
bool isCompareOp(const Tok& t) {
    return t.is("==") || t.is("!=") || t.is("<") || t.is("<=") || t.is(">") || t.is(">=");
}

class Parser {
public:
    Parser(std::string_view text, std::vector<Tok> tokens)
        : m_text(text)
        , m_tokens(std::move(tokens)) {}

    tl::expected<CodeBlock, CodeError> block() {
        CodeBlock b;
        for (;;) {
            while (peek().kind == Tok::Kind::Newline)
                ++m_at;
            if (peek().kind == Tok::Kind::End)
                return b;
            auto s = statement();
            if (!s)
                return tl::make_unexpected(s.error());
            b.statements.push_back(std::move(*s));
        }
    }

private:
    using Expected = tl::expected<CodeExpr, CodeError>;
    using Failure = tl::unexpected<CodeError>;

    const Tok& peek(std::size_t ahead = 0) const {
        return m_tokens[std::min(m_at + ahead, m_tokens.size() - 1)];
    }
    bool atStatementEnd() const {
        return peek().kind == Tok::Kind::Newline || peek().kind == Tok::Kind::End;
    }
    static Failure fail(const Tok& t, std::string message) {
        return tl::make_unexpected(CodeError{t.line, t.column, std::move(message)});
    }
    static Failure fail(const CodeExpr& e, std::string message) {
        return tl::make_unexpected(CodeError{e.line, e.column, std::move(message)});
    }
    /// `t` where `wanted` should be: its own message if it is an error, a refusal if it is
    /// a keyword tcplab does not evaluate.
    static Failure unexpected(const Tok& t, std::string_view wanted) {
        switch (t.kind) {
        case Tok::Kind::Error:
            return fail(t, t.text);
        case Tok::Kind::End:
            return fail(t, fmt::format("expected {}, found the end of the block", wanted));
        case Tok::Kind::Newline:
            return fail(t, fmt::format("expected {}, found {}", wanted,
                                       t.text == ";" ? "';'" : "the end of the line"));
        case Tok::Kind::Name:
            if (refusedWord(t.text))
                return fail(t, refusedKeyword(t.text));
            break;
        case Tok::Kind::String:
            return fail(t, fmt::format("expected {}, found a string", wanted));
        default:
            break;
        }
        if (t.is("!"))
            return fail(t, fmt::format("expected {}, found '!' (Python writes 'not x' and "
                                       "'a != b')",
                                       wanted));
        if (t.is("**"))
            return fail(t, refused("'**' (power)"));
        if (t.is(":="))
            return fail(t, refused("':=' (assignment in an expression)"));
        const std::string spelling =
            t.kind == Tok::Kind::Integer ? std::to_string(t.integer) : t.text;
        return fail(t, fmt::format("expected {}, found '{}'", wanted, spelling));
    }

    /// The tokens [first, m_at) as written, one space where the text had any (or a comment
    /// or a line break) between two of them.
    std::string sourceFrom(std::size_t first) const {
        std::string out;
        for (std::size_t k = first; k < m_at && k < m_tokens.size(); ++k) {
            const Tok& t = m_tokens[k];
            if (k > first && t.begin > m_tokens[k - 1].end)
                out += ' ';
            out += m_text.substr(t.begin, t.end - t.begin);
        }
        return out;
    }
    CodeExpr node(CodeExpr::Kind kind, std::size_t first) const {
        CodeExpr e;
        e.kind = kind;
        e.line = m_tokens[first].line;
        e.column = m_tokens[first].column;
        return e;
    }
    CodeExpr finish(CodeExpr e, std::size_t first) const {
        e.source = sourceFrom(first);
        return e;
    }

    /// An operand of an operator, an assert's test, an assigned value: an integer.
    static std::optional<CodeError> requireInteger(const CodeExpr& e) {
        switch (shapeOf(e)) {
        case Shape::Integer:
            return std::nullopt;
        case Shape::String:
            return CodeError{e.line, e.column,
                             "a string can only be printed, be an assert's message or be "
                             "formatted with % in %{ }% (tcplab's other values are integers)"};
        case Shape::Tuple:
            break;
        }
        return CodeError{e.line, e.column,
                         "a tuple can only be printed, be an assert's message or follow a "
                         "string's % in %{ }% ('%d %d' % (a, b))"};
    }

    /// Nesting: "(", unary operators and "not" recurse.
    struct Nest {
        explicit Nest(unsigned& depth)
            : m_depth(depth) {
            ++m_depth;
        }
        ~Nest() { --m_depth; }
        Nest(const Nest&) = delete;
        Nest& operator=(const Nest&) = delete;
        bool tooDeep() const { return m_depth > kMaxNesting; }
        unsigned& m_depth;
    };
    Failure tooDeep(const Tok& t) const {
        return fail(t, fmt::format("the expression nests deeper than {} levels", kMaxNesting));
    }

    tl::expected<CodeStatement, CodeError> statement() {
        const std::size_t first = m_at;
        const Tok& start = peek();
        std::size_t length = 0;
        while (m_at + length < m_tokens.size() &&
               m_tokens[m_at + length].kind != Tok::Kind::Newline &&
               m_tokens[m_at + length].kind != Tok::Kind::End)
            ++length;
        if (length > kMaxStatementTokens)
            return fail(start, fmt::format("a statement of more than {} tokens; split it",
                                           kMaxStatementTokens));
        CodeStatement s;
        s.line = start.line;
        s.column = start.column;
        if (start.kind == Tok::Kind::Name && refusedWord(start.text))
            return fail(start, refusedKeyword(start.text));
        if (start.isName("assert")) {
            ++m_at;
            s.kind = CodeStatement::Kind::Assert;
            auto test = expression();
            if (!test)
                return Failure(test.error());
            if (test->kind == CodeExpr::Kind::Tuple)
                return fail(*test, "assert (a, b) tests a tuple, which is always true: write "
                                   "assert a, b for a test and its message");
            if (auto e = requireInteger(*test))
                return Failure(*e);
            s.exprs.push_back(std::move(*test));
            if (peek().is(",")) {
                ++m_at;
                auto message = expression();
                if (!message)
                    return Failure(message.error());
                s.exprs.push_back(std::move(*message));
            }
        } else if (start.isName("print")) {
            ++m_at;
            s.kind = CodeStatement::Kind::Print;
            // print(a, b) as Python 3 reads it: two values, not Python 2's tuple.
            const bool call = peek().is("(");
            if (call)
                ++m_at;
            const auto closed = [&] { return call ? peek().is(")") : atStatementEnd(); };
            while (!closed()) {
                auto value = expression();
                if (!value)
                    return Failure(value.error());
                s.exprs.push_back(std::move(*value));
                if (!peek().is(","))
                    break;
                ++m_at; // a trailing comma is allowed (Python 2: no newline; ignored)
            }
            if (call) {
                if (!peek().is(")"))
                    return unexpected(peek(), "',' or ')'");
                ++m_at;
            }
        } else if (start.kind == Tok::Kind::Name && isAssignOp(peek(1))) {
            if (start.text == "True" || start.text == "False" || start.text == "and" ||
                start.text == "or" || start.text == "not")
                return fail(start, fmt::format("cannot assign to {}", start.text));
            s.kind = CodeStatement::Kind::Assign;
            s.target = start.text;
            s.op = peek(1).text;
            m_at += 2;
            auto value = expression();
            if (!value)
                return Failure(value.error());
            if (auto e = requireInteger(*value))
                return Failure(*e);
            s.exprs.push_back(std::move(*value));
            if (isAssignOp(peek()))
                return fail(peek(), refused("a chained assignment (a = b = 1)"));
        } else if (start.kind == Tok::Kind::Name && isOtherAssignOp(peek(1))) {
            return fail(peek(1),
                        refused(fmt::format("'{}'", peek(1).text)) + "; use =, +=, -= or *=");
        } else {
            auto e = expression();
            if (!e)
                return Failure(e.error());
            if (isAssignOp(peek()) || isOtherAssignOp(peek()))
                return fail(peek(), "only a plain name can be assigned to in %{ }%");
            if (peek().is(","))
                return fail(peek(), refused("a tuple (a, b) as a statement"));
            if (!atStatementEnd())
                return unexpected(peek(), "the end of the statement");
            return fail(start, "this expression's value would be thrown away: write assert "
                               "EXPR to check it or print(EXPR) to show it");
        }
        if (!atStatementEnd())
            return unexpected(peek(), "the end of the statement");
        s.text = sourceFrom(first);
        return s;
    }

    Expected expression() { return orTest(); }

    /// a or b or c / a and b and c: the operands in one node, evaluated until one decides.
    Expected logical(CodeExpr::Kind kind, std::string_view word, Expected (Parser::*operand)()) {
        const std::size_t first = m_at;
        auto left = (this->*operand)();
        if (!left || !peek().isName(word))
            return left;
        if (auto e = requireInteger(*left))
            return Failure(*e);
        CodeExpr n = node(kind, first);
        n.items.push_back(std::move(*left));
        while (peek().isName(word)) {
            ++m_at;
            auto right = (this->*operand)();
            if (!right)
                return right;
            if (auto e = requireInteger(*right))
                return Failure(*e);
            n.items.push_back(std::move(*right));
        }
        return finish(std::move(n), first);
    }
    Expected orTest() { return logical(CodeExpr::Kind::Or, "or", &Parser::andTest); }
    Expected andTest() { return logical(CodeExpr::Kind::And, "and", &Parser::notTest); }

    Expected notTest() {
        if (!peek().isName("not"))
            return comparison();
        const std::size_t first = m_at;
        const Nest nest(m_nesting);
        if (nest.tooDeep())
            return tooDeep(peek());
        ++m_at;
        auto operand = notTest();
        if (!operand)
            return operand;
        if (auto e = requireInteger(*operand))
            return Failure(*e);
        CodeExpr n = node(CodeExpr::Kind::Unary, first);
        n.text = "not";
        n.items.push_back(std::move(*operand));
        return finish(std::move(n), first);
    }

    Expected comparison() {
        const std::size_t first = m_at;
        auto left = bitOr();
        if (!left)
            return left;
        CodeExpr n = node(CodeExpr::Kind::Compare, first);
        n.items.push_back(std::move(*left));
        for (;;) {
            const Tok& t = peek();
            if (t.isName("not") && peek(1).isName("in"))
                return fail(t, refusedKeyword("not in"));
            if (t.isName("in") || t.isName("is"))
                return fail(t, refusedKeyword(t.text));
            if (t.is("<>"))
                return fail(t, "'<>' is Python 2's '!=': write '!='");
            if (!isCompareOp(t))
                break;
            if (auto e = requireInteger(n.items.back()))
                return Failure(*e);
            n.ops.push_back(t.text);
            ++m_at;
            auto right = bitOr();
            if (!right)
                return right;
            if (auto e = requireInteger(*right))
                return Failure(*e);
            n.items.push_back(std::move(*right));
        }
        if (n.ops.empty())
            return std::move(n.items.front());
        return finish(std::move(n), first);
    }

    /// One level of left-associative binary operators, loosest first: | ^ & << >> + - * / // %.
    Expected binary(std::size_t level) {
        static const std::array<std::vector<std::string_view>, 6> kLevels = {{
            {"|"},
            {"^"},
            {"&"},
            {"<<", ">>"},
            {"+", "-"},
            {"*", "/", "//", "%"},
        }};
        if (level == kLevels.size())
            return factor();
        const std::size_t first = m_at;
        auto left = binary(level + 1);
        while (left) {
            const Tok& t = peek();
            if (t.kind != Tok::Kind::Op || std::find(kLevels[level].begin(), kLevels[level].end(),
                                                     t.text) == kLevels[level].end())
                break;
            const std::string op = t.text;
            ++m_at;
            auto right = binary(level + 1);
            if (!right)
                return right;
            if (op == "%" && shapeOf(*left) == Shape::String) {
                // 'srtt=%d us' % tcpi_rtt, '%d %d' % (a, b): a string, formatted when run.
            } else {
                if (auto e = requireInteger(*left))
                    return Failure(*e);
                if (auto e = requireInteger(*right))
                    return Failure(*e);
            }
            CodeExpr n = node(CodeExpr::Kind::Binary, first);
            n.text = op;
            n.items.push_back(std::move(*left));
            n.items.push_back(std::move(*right));
            left = finish(std::move(n), first);
        }
        return left;
    }
    Expected bitOr() { return binary(0); }

    Expected factor() {
        const Tok& t = peek();
        if (!t.is("-") && !t.is("+") && !t.is("~"))
            return power();
        const std::size_t first = m_at;
        const Nest nest(m_nesting);
        if (nest.tooDeep())
            return tooDeep(t);
        ++m_at;
        auto operand = factor();
        if (!operand)
            return operand;
        if (auto e = requireInteger(*operand))
            return Failure(*e);
        CodeExpr n = node(CodeExpr::Kind::Unary, first);
        n.text = t.text;
        n.items.push_back(std::move(*operand));
        return finish(std::move(n), first);
    }

    Expected power() {
        auto a = atom();
        if (!a)
            return a;
        const Tok& t = peek();
        if (t.is("**"))
            return fail(t, refused("'**' (power)"));
        if (t.is("("))
            return fail(*a, a->kind == CodeExpr::Kind::Name
                                ? refused(fmt::format("calling '{}'", a->text))
                                : refused("a call"));
        if (t.is("["))
            return fail(t, refused("indexing ('a[i]')"));
        if (t.is("."))
            return fail(t, refused("an attribute ('a.b')"));
        return a;
    }

    Expected atom() {
        const std::size_t first = m_at;
        const Tok& t = peek();
        switch (t.kind) {
        case Tok::Kind::Integer: {
            ++m_at;
            CodeExpr n = node(CodeExpr::Kind::Integer, first);
            n.integer = t.integer;
            return finish(std::move(n), first);
        }
        case Tok::Kind::String: {
            CodeExpr n = node(CodeExpr::Kind::String, first);
            // 'a' 'b': adjacent strings are one, as in Python.
            while (peek().kind == Tok::Kind::String)
                n.text += m_tokens[m_at++].text;
            return finish(std::move(n), first);
        }
        case Tok::Kind::Name: {
            if (refusedWord(t.text))
                return fail(t, refusedKeyword(t.text));
            if (t.text == "print")
                return fail(t, "print(...) is a statement in %{ }%, not a value");
            if (t.text == "assert" || t.text == "and" || t.text == "or")
                return unexpected(t, "an expression");
            ++m_at;
            if (t.text == "True" || t.text == "False") {
                CodeExpr n = node(CodeExpr::Kind::Bool, first);
                n.integer = t.text == "True" ? 1 : 0;
                return finish(std::move(n), first);
            }
            CodeExpr n = node(CodeExpr::Kind::Name, first);
            n.text = t.text;
            return finish(std::move(n), first);
        }
        case Tok::Kind::Op:
            if (t.is("("))
                return parenthesized();
            if (t.is("["))
                return fail(t, refused("a list ('[...]')"));
            if (t.is("{"))
                return fail(t, refused("a dict or a set ('{...}')"));
            break;
        default:
            break;
        }
        return unexpected(t, "an expression");
    }

    /// (a), or a tuple (a, b) / (a,).
    Expected parenthesized() {
        const std::size_t first = m_at;
        const Nest nest(m_nesting);
        if (nest.tooDeep())
            return tooDeep(peek());
        ++m_at;
        if (peek().is(")"))
            return fail(peek(), refused("the empty tuple ()"));
        auto inner = expression();
        if (!inner)
            return inner;
        if (peek().is(",")) {
            CodeExpr n = node(CodeExpr::Kind::Tuple, first);
            n.items.push_back(std::move(*inner));
            while (peek().is(",")) {
                ++m_at;
                if (peek().is(")"))
                    break;
                auto more = expression();
                if (!more)
                    return more;
                n.items.push_back(std::move(*more));
            }
            if (!peek().is(")"))
                return unexpected(peek(), "',' or ')'");
            ++m_at;
            return finish(std::move(n), first);
        }
        if (!peek().is(")"))
            return unexpected(peek(), "')'");
        ++m_at;
        // The parentheses are part of what the expression was written as.
        inner->source = sourceFrom(first);
        inner->line = m_tokens[first].line;
        inner->column = m_tokens[first].column;
        return inner;
    }

    std::string_view m_text;
    std::vector<Tok> m_tokens;
    std::size_t m_at = 0;
    unsigned m_nesting = 0;
};

// --- Evaluation --------------------------------------------------------------------

struct Value {
    enum class Kind : std::uint8_t { Integer, Bool, String, Tuple };
    Kind kind = Kind::Integer;
    std::int64_t integer = 0; ///< Integer, Bool (1 or 0)
    std::string text;         ///< String
    std::vector<Value> items; ///< Tuple
};

Value integerValue(std::int64_t v) {
    return Value{Value::Kind::Integer, v, {}, {}};
}
Value boolValue(bool v) {
    return Value{Value::Kind::Bool, v ? 1 : 0, {}, {}};
}

std::string repr(const Value& v);

/// Python's str().
std::string str(const Value& v) {
    switch (v.kind) {
    case Value::Kind::Integer:
        return std::to_string(v.integer);
    case Value::Kind::Bool:
        return v.integer ? "True" : "False";
    case Value::Kind::String:
        return v.text;
    case Value::Kind::Tuple:
        break;
    }
    return repr(v);
}

/// Python's repr().
std::string repr(const Value& v) {
    if (v.kind == Value::Kind::String) {
        const char quote =
            v.text.find('\'') != std::string::npos && v.text.find('"') == std::string::npos ? '"'
                                                                                            : '\'';
        std::string out(1, quote);
        for (char c : v.text) {
            if (c == '\\' || c == quote)
                out += '\\';
            if (c == '\n')
                out += "\\n";
            else if (c == '\t')
                out += "\\t";
            else
                out += c;
        }
        return out + quote;
    }
    if (v.kind == Value::Kind::Tuple) {
        std::string out = "(";
        for (std::size_t k = 0; k < v.items.size(); ++k)
            out += (k ? ", " : "") + repr(v.items[k]);
        return out + (v.items.size() == 1 ? ",)" : ")");
    }
    return str(v);
}

bool truthy(const Value& v) {
    switch (v.kind) {
    case Value::Kind::String:
        return !v.text.empty();
    case Value::Kind::Tuple:
        return !v.items.empty();
    default:
        return v.integer != 0;
    }
}

/// Why an expression could not be evaluated: Python's words; `overflow` adds why tcplab
/// refuses what Python would compute.
struct Problem {
    std::string what;
    bool overflow = false;
};

using Result = tl::expected<Value, Problem>;
using IntResult = tl::expected<std::int64_t, Problem>;

tl::unexpected<Problem> problem(std::string what, bool overflow = false) {
    return tl::make_unexpected(Problem{std::move(what), overflow});
}

/// The integer operators, as Python computes them on ints that fit in 64 bits.
IntResult arithmetic(std::string_view op, std::int64_t a, std::int64_t b) {
    constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
    std::int64_t r = 0;
    const auto overflow = [&] {
        return problem(fmt::format("{} {} {} overflows", a, op, b), true);
    };
    if (op == "+") {
        if (__builtin_add_overflow(a, b, &r))
            return overflow();
    } else if (op == "-") {
        if (__builtin_sub_overflow(a, b, &r))
            return overflow();
    } else if (op == "*") {
        if (__builtin_mul_overflow(a, b, &r))
            return overflow();
    } else if (op == "/" || op == "//" || op == "%") {
        // Python 3's '/' gives a float (7 / 2 is 3.5); tcplab's values are integers, so '/'
        // floors as '//' does (Python 2's int division). Scripts rarely divide.
        if (b == 0)
            return problem("division by zero");
        if (op == "%") {
            if (b == -1)
                return 0; // kMin % -1 is undefined in C++; Python says 0
            r = a % b;
            if (r != 0 && ((r < 0) != (b < 0)))
                r += b; // Python's remainder takes the divisor's sign
            return r;
        }
        if (a == kMin && b == -1)
            return overflow();
        r = a / b;
        if (a % b != 0 && ((a < 0) != (b < 0)))
            --r; // Python floors towards minus infinity; C++ truncates towards zero
    } else if (op == "<<" || op == ">>") {
        if (b < 0)
            return problem("negative shift count");
        if (op == ">>")
            return b >= 63 ? (a < 0 ? -1 : 0) : a >> b;
        if (a == 0)
            return 0;
        if (b >= 64)
            return overflow();
        r = static_cast<std::int64_t>(static_cast<std::uint64_t>(a) << b);
        if ((r >> b) != a)
            return overflow();
    } else if (op == "&") {
        r = a & b;
    } else if (op == "|") {
        r = a | b;
    } else if (op == "^") {
        r = a ^ b;
    } else {
        return problem(fmt::format("unsupported operator '{}'", op));
    }
    return r;
}

/// One conversion of a %-format: %[flags][width][.precision]type.
struct Conversion {
    bool left = false, zero = false, plus = false, space = false, alternate = false;
    std::size_t width = 0;
    std::optional<std::size_t> precision;
};

std::string pad(std::string body, const Conversion& c, std::size_t signLength = 0) {
    if (body.size() >= c.width)
        return body;
    const std::size_t fill = c.width - body.size();
    if (c.left)
        return body + std::string(fill, ' ');
    if (c.zero)
        return body.insert(signLength, fill, '0');
    return std::string(fill, ' ') + body;
}

std::string formatInteger(std::int64_t v, char type, const Conversion& c) {
    const std::uint64_t magnitude =
        v < 0 ? std::uint64_t{0} - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
    std::string digits = type == 'x'   ? fmt::format("{:x}", magnitude)
                         : type == 'X' ? fmt::format("{:X}", magnitude)
                         : type == 'o' ? fmt::format("{:o}", magnitude)
                                       : fmt::format("{}", magnitude);
    if (c.precision && *c.precision > digits.size())
        digits.insert(0, *c.precision - digits.size(), '0');
    std::string sign = v < 0 ? "-" : c.plus ? "+" : c.space ? " " : "";
    if (c.alternate)
        sign += type == 'x' ? "0x" : type == 'X' ? "0X" : type == 'o' ? "0o" : "";
    const std::size_t signLength = sign.size();
    return pad(sign + digits, c, signLength);
}

/// Python's 'format' % args: %d %i %u %x %X %o %s %r %%, with flags, width and precision.
tl::expected<std::string, std::string> percentFormat(std::string_view pattern,
                                                     const std::vector<Value>& args) {
    constexpr std::size_t kMaxWidth = 1000; // a message, not a way to fill memory
    std::string out;
    std::size_t used = 0;
    for (std::size_t k = 0; k < pattern.size(); ++k) {
        if (pattern[k] != '%') {
            out += pattern[k];
            continue;
        }
        ++k;
        if (k < pattern.size() && pattern[k] == '%') {
            out += '%';
            continue;
        }
        if (k < pattern.size() && pattern[k] == '(')
            return tl::make_unexpected(std::string("a format with names ('%(name)s') needs a "
                                                   "dict, which tcplab does not have"));
        Conversion c;
        for (; k < pattern.size(); ++k) {
            const char f = pattern[k];
            if (f == '-')
                c.left = true;
            else if (f == '0')
                c.zero = true;
            else if (f == '+')
                c.plus = true;
            else if (f == ' ')
                c.space = true;
            else if (f == '#')
                c.alternate = true;
            else
                break;
        }
        const auto number = [&](std::size_t& into) {
            for (; k < pattern.size() && isDigit(pattern[k]); ++k) {
                into = into * 10 + std::size_t(pattern[k] - '0');
                if (into > kMaxWidth)
                    return false;
            }
            return true;
        };
        if (k < pattern.size() && pattern[k] == '*')
            return tl::make_unexpected(std::string("'*' widths are not supported"));
        if (!number(c.width))
            return tl::make_unexpected(fmt::format("a width over {}", kMaxWidth));
        if (k < pattern.size() && pattern[k] == '.') {
            ++k;
            std::size_t precision = 0;
            if (!number(precision))
                return tl::make_unexpected(fmt::format("a precision over {}", kMaxWidth));
            c.precision = precision;
        }
        while (k < pattern.size() && (pattern[k] == 'h' || pattern[k] == 'l' || pattern[k] == 'L'))
            ++k; // length modifiers: Python reads and ignores them
        if (k >= pattern.size())
            return tl::make_unexpected(std::string("incomplete format"));
        const char type = pattern[k];
        static constexpr std::string_view kTypes = "diuxXosr";
        if (kTypes.find(type) == std::string_view::npos) {
            const auto byte = static_cast<unsigned char>(type);
            return tl::make_unexpected(
                byte >= 0x20 && byte < 0x7f
                    ? fmt::format("unsupported format character '{}' (0x{:x})", type, byte)
                    : fmt::format("unsupported format character 0x{:x}", byte));
        }
        if (used == args.size())
            return tl::make_unexpected(std::string("not enough arguments for format string"));
        const Value& v = args[used++];
        if (type == 's' || type == 'r') {
            std::string s = type == 's' ? str(v) : repr(v);
            if (c.precision && *c.precision < s.size())
                s.resize(*c.precision);
            c.zero = false;
            out += pad(std::move(s), c);
        } else {
            if (v.kind != Value::Kind::Integer && v.kind != Value::Kind::Bool)
                return tl::make_unexpected(
                    fmt::format("%{} format: a number is required, not {}", type, repr(v)));
            out += formatInteger(v.integer, type, c);
        }
    }
    if (used != args.size())
        return tl::make_unexpected(
            std::string("not all arguments converted during string formatting"));
    return out;
}

class Evaluator {
public:
    explicit Evaluator(const CodeEnv& env)
        : m_env(env) {}

    Result eval(const CodeExpr& e) const {
        switch (e.kind) {
        case CodeExpr::Kind::Integer:
            return integerValue(e.integer);
        case CodeExpr::Kind::Bool:
            return boolValue(e.integer != 0);
        case CodeExpr::Kind::String:
            return Value{Value::Kind::String, 0, e.text, {}};
        case CodeExpr::Kind::Name: {
            const auto it = m_env.find(e.text);
            if (it == m_env.end())
                return problem(fmt::format("name '{}' is not defined", e.text));
            return integerValue(it->second);
        }
        case CodeExpr::Kind::Tuple: {
            Value t{Value::Kind::Tuple, 0, {}, {}};
            for (const CodeExpr& item : e.items) {
                auto v = eval(item);
                if (!v)
                    return v;
                t.items.push_back(std::move(*v));
            }
            return t;
        }
        case CodeExpr::Kind::Unary:
            return unary(e);
        case CodeExpr::Kind::And:
        case CodeExpr::Kind::Or: {
            // Python's and/or give the operand that decided, not a bool: 0 or 5 is 5.
            Result last;
            for (const CodeExpr& item : e.items) {
                last = eval(item);
                if (!last || truthy(*last) == (e.kind == CodeExpr::Kind::Or))
                    return last;
            }
            return last;
        }
        case CodeExpr::Kind::Compare:
            return compare(e);
        case CodeExpr::Kind::Binary:
            return binary(e);
        }
        return problem("cannot evaluate this");
    }

private:
    IntResult integer(const CodeExpr& e) const {
        auto v = eval(e);
        if (!v)
            return tl::make_unexpected(v.error());
        if (v->kind != Value::Kind::Integer && v->kind != Value::Kind::Bool)
            return problem(fmt::format("{} is not an integer", repr(*v))); // the parser refuses it
        return v->integer;
    }

    Result unary(const CodeExpr& e) const {
        if (e.text == "not") {
            auto v = eval(e.items[0]);
            if (!v)
                return v;
            return boolValue(!truthy(*v));
        }
        auto a = integer(e.items[0]);
        if (!a)
            return tl::make_unexpected(a.error());
        if (e.text == "-") {
            if (*a == std::numeric_limits<std::int64_t>::min())
                return problem(fmt::format("-({}) overflows", *a), true);
            return integerValue(-*a);
        }
        if (e.text == "~")
            return integerValue(~*a);
        return integerValue(*a);
    }

    Result compare(const CodeExpr& e) const {
        // a < b < c is a < b and b < c, with b evaluated once.
        auto left = integer(e.items[0]);
        if (!left)
            return tl::make_unexpected(left.error());
        for (std::size_t k = 0; k < e.ops.size(); ++k) {
            auto right = integer(e.items[k + 1]);
            if (!right)
                return tl::make_unexpected(right.error());
            const std::int64_t x = *left, y = *right;
            const std::string_view op = e.ops[k];
            const bool holds = op == "=="   ? x == y
                               : op == "!=" ? x != y
                               : op == "<"  ? x < y
                               : op == "<=" ? x <= y
                               : op == ">"  ? x > y
                                            : x >= y;
            if (!holds)
                return boolValue(false);
            left = right;
        }
        return boolValue(true);
    }

    Result binary(const CodeExpr& e) const {
        if (e.text == "%" && shapeOf(e.items[0]) == Shape::String) {
            auto pattern = eval(e.items[0]);
            if (!pattern)
                return pattern;
            auto args = eval(e.items[1]);
            if (!args)
                return args;
            std::vector<Value> items;
            if (args->kind == Value::Kind::Tuple)
                items = std::move(args->items);
            else
                items.push_back(std::move(*args));
            auto formatted = percentFormat(pattern->text, items);
            if (!formatted)
                return problem(std::move(formatted.error()));
            return Value{Value::Kind::String, 0, std::move(*formatted), {}};
        }
        auto left = eval(e.items[0]);
        if (!left)
            return left;
        auto right = eval(e.items[1]);
        if (!right)
            return right;
        const auto isInteger = [](const Value& v) {
            return v.kind == Value::Kind::Integer || v.kind == Value::Kind::Bool;
        };
        if (!isInteger(*left) || !isInteger(*right))
            return problem(fmt::format("'{}' takes integers", e.text)); // the parser refuses it
        auto r = arithmetic(e.text, left->integer, right->integer);
        if (!r)
            return tl::make_unexpected(r.error());
        // True & False is a bool in Python; True + True is the int 2.
        if (left->kind == Value::Kind::Bool && right->kind == Value::Kind::Bool &&
            (e.text == "&" || e.text == "|" || e.text == "^"))
            return boolValue(*r != 0);
        return integerValue(*r);
    }

    const CodeEnv& m_env;
};

void collectNames(const CodeExpr& e, std::vector<std::string>& out) {
    if (e.kind == CodeExpr::Kind::Name && std::find(out.begin(), out.end(), e.text) == out.end())
        out.push_back(e.text);
    for (const CodeExpr& item : e.items)
        collectNames(item, out);
}

/// "assert a == b failed: a is 1, b is 2"; a message that is a value of its own comes
/// first ("tcpi_snd_cwnd - cwnd is 2, ..."), a string as Python would show it
/// ("failed: srtt=30000 us (tcpi_rtt is 30000)").
std::string assertFailure(const CodeStatement& s, const CodeEnv& env, const Evaluator& eval) {
    const CodeExpr& test = s.exprs[0];
    std::vector<std::string> names;
    collectNames(test, names);
    const auto valuesOf = [&](const std::vector<std::string>& which, std::string_view skip) {
        std::vector<std::string> parts;
        for (const std::string& name : which) {
            const auto it = env.find(name);
            if (it != env.end() && name != skip && !isConstant(name, it->second))
                parts.push_back(fmt::format("{} is {}", name, it->second));
        }
        return parts;
    };
    const std::string head = fmt::format("assert {} failed", test.source);
    if (s.exprs.size() < 2) {
        const auto parts = valuesOf(names, {});
        return parts.empty() ? head : fmt::format("{}: {}", head, fmt::join(parts, ", "));
    }
    const CodeExpr& message = s.exprs[1];
    const Result m = eval.eval(message);
    std::vector<std::string> messageNames;
    collectNames(message, messageNames);
    if (m && (m->kind == Value::Kind::Integer || m->kind == Value::Kind::Bool) &&
        !messageNames.empty()) {
        // assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd: the message is one of the values.
        std::vector<std::string> parts{fmt::format("{} is {}", message.source, str(*m))};
        const std::string_view skip =
            message.kind == CodeExpr::Kind::Name ? std::string_view(message.text) : "";
        for (std::string& part : valuesOf(names, skip))
            parts.push_back(std::move(part));
        return fmt::format("{}: {}", head, fmt::join(parts, ", "));
    }
    // A message that cannot be evaluated (a NameError, a bad format) shows as written.
    const std::string shown = m ? str(*m) : message.source;
    const auto parts = valuesOf(names, {});
    if (parts.empty())
        return fmt::format("{}: {}", head, shown);
    return fmt::format("{}: {} ({})", head, shown, fmt::join(parts, ", "));
}

std::optional<std::string> runStatement(const CodeStatement& s, CodeEnv& env,
                                        std::vector<std::string>& printed) {
    const Evaluator eval(env);
    const auto failure = [&](const Problem& p) {
        return fmt::format("{} in {}{}", p.what, s.text, p.overflow ? kOverflowNote : "");
    };
    switch (s.kind) {
    case CodeStatement::Kind::Assert: {
        const Result test = eval.eval(s.exprs[0]);
        if (!test)
            return failure(test.error());
        if (truthy(*test))
            return std::nullopt;
        return assertFailure(s, env, eval);
    }
    case CodeStatement::Kind::Print: {
        std::vector<std::string> parts;
        for (const CodeExpr& e : s.exprs) {
            const Result v = eval.eval(e);
            if (!v)
                return failure(v.error());
            parts.push_back(str(*v));
        }
        printed.push_back(fmt::format("{}", fmt::join(parts, " ")));
        return std::nullopt;
    }
    case CodeStatement::Kind::Assign: {
        const Result v = eval.eval(s.exprs[0]);
        if (!v)
            return failure(v.error());
        // The environment holds integers: x = a == b keeps 1 or 0, not True or False.
        if (s.op == "=") {
            env.insert_or_assign(s.target, v->integer);
            return std::nullopt;
        }
        const auto it = env.find(s.target);
        if (it == env.end())
            return failure(Problem{fmt::format("name '{}' is not defined", s.target)});
        const auto r = arithmetic(std::string_view(s.op).substr(0, 1), it->second, v->integer);
        if (!r)
            return failure(r.error());
        it->second = *r;
        return std::nullopt;
    }
    }
    return std::nullopt;
}

} // namespace

tl::expected<CodeBlock, CodeError> parseCode(std::string_view text) {
    return Parser(text, Lexer(text).run()).block();
}

void addCodeConstants(CodeEnv& env) {
    for (const auto& [name, value] : kConstants)
        env.insert_or_assign(std::string(name), value);
}

std::optional<std::string> runCode(const CodeBlock& block, CodeEnv& env,
                                   std::vector<std::string>& printed) {
    for (const CodeStatement& s : block.statements)
        if (auto failure = runStatement(s, env, printed))
            return failure;
    return std::nullopt;
}

std::vector<std::string> namesRead(const CodeBlock& block) {
    std::vector<std::string> names;
    for (const CodeStatement& s : block.statements) {
        // x += 1 reads x; x = 1 does not.
        if (s.kind == CodeStatement::Kind::Assign && s.op != "=" &&
            std::find(names.begin(), names.end(), s.target) == names.end())
            names.push_back(s.target);
        for (const CodeExpr& e : s.exprs)
            collectNames(e, names);
    }
    std::erase_if(names, [](const std::string& n) { return !n.starts_with("tcpi_"); });
    return names;
}

} // namespace tcplab::drill
