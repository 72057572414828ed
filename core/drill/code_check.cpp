#include "drill/code_check.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <variant>

namespace tcplab::drill {

// An expression of a block, as parsed.
struct CodeNode {
    enum class Kind : std::uint8_t {
        Integer, ///< value
        Name,    ///< text
        String,  ///< text (escapes resolved)
        Tuple,   ///< items
        Unary,   ///< text: "-", "+", "~", "not"; items[0]
        Binary,  ///< text: the operator; items[0], items[1]
        Compare, ///< items: operands; ops: the operators between them (chained)
        And,     ///< items[0], items[1]
        Or,      ///< items[0], items[1]
    };
    Kind kind = Kind::Integer;
    std::int64_t value = 0;
    std::string text;
    std::vector<std::shared_ptr<const CodeNode>> items;
    std::vector<std::string> ops;
};

namespace {

using Node = std::shared_ptr<const CodeNode>;

struct Token {
    enum class Kind : std::uint8_t { Integer, Name, String, Op, End, EndOfInput };
    Kind kind = Kind::EndOfInput;
    std::string text;
    std::int64_t value = 0;
    unsigned line = 1;
    unsigned column = 1;
    std::size_t offset = 0; ///< in the block's text
};

constexpr std::array<std::string_view, 24> kRefusedWords = {
    "if",     "elif", "else",  "for", "while",  "def",     "class",    "return",
    "import", "from", "with",  "try", "except", "finally", "lambda",   "yield",
    "global", "del",  "raise", "in",  "is",     "pass",    "continue", "break"};

bool refusedWord(std::string_view w) {
    return std::find(kRefusedWords.begin(), kRefusedWords.end(), w) != kRefusedWords.end();
}

const std::string kSubset =
    "tcplab evaluates assert, print, = and += over integers in %{ }%, not all of Python";

/// Splits a block into tokens; newlines inside brackets do not end a statement (Python's
/// implicit line joining), ';' and newlines elsewhere do.
tl::expected<std::vector<Token>, CodeError> tokenize(std::string_view text) {
    std::vector<Token> out;
    unsigned line = 1, column = 1;
    int depth = 0;
    std::size_t i = 0;
    auto advance = [&](std::size_t n) {
        for (std::size_t k = 0; k < n && i < text.size(); ++k, ++i) {
            if (text[i] == '\n') {
                ++line;
                column = 1;
            } else {
                ++column;
            }
        }
    };
    auto error = [&](std::string message) {
        return tl::make_unexpected(CodeError{line, column, std::move(message)});
    };
    while (i < text.size()) {
        const char c = text[i];
        Token t;
        t.line = line;
        t.column = column;
        t.offset = i;
        if (c == '#') {
            while (i < text.size() && text[i] != '\n')
                advance(1);
            continue;
        }
        if (c == '\\' && i + 1 < text.size() && text[i + 1] == '\n') {
            advance(2);
            continue;
        }
        if (c == '\n' || c == ';') {
            if (depth == 0 || c == ';') {
                t.kind = Token::Kind::End;
                t.text = c == ';' ? ";" : "newline";
                out.push_back(t);
            }
            advance(1);
            continue;
        }
        if (std::isspace(static_cast<unsigned char>(c))) {
            advance(1);
            continue;
        }
        if (std::isdigit(static_cast<unsigned char>(c))) {
            std::size_t end = i;
            while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) ||
                                         text[end] == '_' || text[end] == '.'))
                ++end;
            std::string word(text.substr(i, end - i));
            std::erase(word, '_');
            const bool hexadecimal = word.starts_with("0x") || word.starts_with("0X");
            if (word.find('.') != std::string::npos ||
                (!hexadecimal && word.find_first_of("eEjJ") != std::string::npos))
                return error(fmt::format("'{}' is not an integer: {}", word, kSubset));
            int base = 10;
            std::string_view digits = word;
            if (digits.starts_with("0x") || digits.starts_with("0X")) {
                base = 16;
                digits.remove_prefix(2);
            }
            std::int64_t v = 0;
            const auto [ptr, ec] =
                std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
            if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size())
                return error(fmt::format("'{}' is not an integer tcplab can hold (64 bits)", word));
            t.kind = Token::Kind::Integer;
            t.value = v;
            t.text = word;
            out.push_back(t);
            advance(end - i);
            continue;
        }
        if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
            std::size_t end = i;
            while (end < text.size() &&
                   (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '_'))
                ++end;
            t.kind = Token::Kind::Name;
            t.text = std::string(text.substr(i, end - i));
            out.push_back(t);
            advance(end - i);
            continue;
        }
        if (c == '\'' || c == '"') {
            std::string value;
            std::size_t k = i + 1;
            bool closed = false;
            while (k < text.size() && text[k] != '\n') {
                if (text[k] == c) {
                    closed = true;
                    break;
                }
                if (text[k] == '\\' && k + 1 < text.size()) {
                    const char e = text[k + 1];
                    value += e == 'n' ? '\n' : e == 't' ? '\t' : e;
                    k += 2;
                    continue;
                }
                value += text[k++];
            }
            if (!closed)
                return error("a string that does not end on its line");
            t.kind = Token::Kind::String;
            t.text = std::move(value);
            out.push_back(t);
            advance(k + 1 - i);
            continue;
        }
        static constexpr std::array<std::string_view, 26> kOps = {
            "**=", "//=", "<<", ">>", "<=", ">=", "==", "!=", "+=", "-=", "*=", "//", "**",
            "+",   "-",   "*",  "/",  "%",  "<",  ">",  "=",  "&",  "|",  "^",  "~",  ","};
        bool matched = false;
        for (std::string_view op : kOps)
            if (text.substr(i).starts_with(op)) {
                if (op == "**" || op == "**=")
                    return error(fmt::format("'**' is not supported: {}", kSubset));
                t.kind = Token::Kind::Op;
                t.text = std::string(op);
                out.push_back(t);
                advance(op.size());
                matched = true;
                break;
            }
        if (matched)
            continue;
        if (c == '(') {
            ++depth;
        } else if (c == ')') {
            if (--depth < 0)
                return error("a ')' without its '('");
        } else if (c == ':' || c == '.' || c == '@' || c == '!') {
            // A token for the parser to refuse in its place (after `for`, `if`, ...).
        } else if (c == '[' || c == ']' || c == '{' || c == '}') {
            return error(
                fmt::format("'{}': lists, dicts and indexing are not supported: {}", c, kSubset));
        } else {
            return error(fmt::format("unexpected '{}'", c));
        }
        t.kind = Token::Kind::Op;
        t.text = std::string(1, c);
        out.push_back(t);
        advance(1);
    }
    if (depth > 0)
        return error("a '(' without its ')'");
    Token end;
    end.kind = Token::Kind::EndOfInput;
    end.line = line;
    end.column = column;
    end.offset = text.size();
    out.push_back(end);
    return out;
}

class Parser {
public:
    Parser(std::string_view text, std::vector<Token> tokens)
        : m_text(text)
        , m_tokens(std::move(tokens)) {}

    tl::expected<CodeBlock, CodeError> block() {
        CodeBlock b;
        while (peek().kind != Token::Kind::EndOfInput) {
            if (peek().kind == Token::Kind::End) {
                ++m_at;
                continue;
            }
            auto s = statement();
            if (!s)
                return tl::make_unexpected(s.error());
            b.statements.push_back(std::move(*s));
            if (peek().kind != Token::Kind::End && peek().kind != Token::Kind::EndOfInput)
                return fail(peek(),
                            fmt::format("unexpected '{}' after the statement", peek().text));
        }
        return b;
    }

private:
    using Expected = tl::expected<Node, CodeError>;

    const Token& peek(std::size_t ahead = 0) const {
        return m_tokens[std::min(m_at + ahead, m_tokens.size() - 1)];
    }
    bool isOp(std::string_view op, std::size_t ahead = 0) const {
        return peek(ahead).kind == Token::Kind::Op && peek(ahead).text == op;
    }
    bool isWord(std::string_view w) const {
        return peek().kind == Token::Kind::Name && peek().text == w;
    }
    static tl::unexpected<CodeError> fail(const Token& t, std::string message) {
        return tl::make_unexpected(CodeError{t.line, t.column, std::move(message)});
    }

    tl::expected<CodeStatement, CodeError> statement() {
        CodeStatement s;
        const Token& first = peek();
        s.line = first.line;
        const std::size_t start = first.offset;
        std::optional<std::size_t> testEnd; ///< assert: where its test ends
        if (first.kind == Token::Kind::Name && refusedWord(first.text))
            return fail(first,
                        fmt::format("Python's '{}' is not supported: {}", first.text, kSubset));
        if (isWord("assert")) {
            ++m_at;
            s.kind = CodeStatement::Kind::Assert;
            auto test = expression();
            if (!test)
                return tl::make_unexpected(test.error());
            s.expr = *test;
            testEnd = peek().offset;
            if (isOp(",")) {
                ++m_at;
                auto message = expression();
                if (!message)
                    return tl::make_unexpected(message.error());
                s.message = *message;
            }
        } else if (isWord("print")) {
            ++m_at;
            s.kind = CodeStatement::Kind::Print;
            const bool call = isOp("(");
            if (call && isOp(")", 1)) {
                m_at += 2;
            } else if (peek().kind != Token::Kind::End && peek().kind != Token::Kind::EndOfInput) {
                // print(a, b) reads as one tuple: print its items, as Python 3 would.
                auto first_ = expression();
                if (!first_)
                    return tl::make_unexpected(first_.error());
                s.printed.push_back(*first_);
                while (isOp(",")) {
                    ++m_at;
                    auto more = expression();
                    if (!more)
                        return tl::make_unexpected(more.error());
                    s.printed.push_back(*more);
                }
                if (call && s.printed.size() == 1 && (*first_)->kind == CodeNode::Kind::Tuple)
                    s.printed = (*first_)->items;
            }
        } else if (first.kind == Token::Kind::Name && peek(1).kind == Token::Kind::Op &&
                   (peek(1).text == "=" || peek(1).text == "+=" || peek(1).text == "-=" ||
                    peek(1).text == "*=" || peek(1).text == "//=")) {
            s.kind = CodeStatement::Kind::Assign;
            s.target = first.text;
            s.assignOp = peek(1).text;
            m_at += 2;
            auto value = expression();
            if (!value)
                return tl::make_unexpected(value.error());
            s.expr = *value;
        } else {
            return fail(first,
                        fmt::format("'{}' does not start a statement tcplab runs: {}",
                                    first.kind == Token::Kind::End ? ";" : first.text, kSubset));
        }
        std::string text(m_text.substr(start, testEnd.value_or(peek().offset) - start));
        while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
            text.pop_back();
        s.text = std::move(text);
        return s;
    }

    Expected expression() { return orTest(); }

    Expected orTest() {
        auto left = andTest();
        while (left && isWord("or")) {
            ++m_at;
            auto right = andTest();
            if (!right)
                return right;
            left = make(CodeNode::Kind::Or, "or", {*left, *right});
        }
        return left;
    }
    Expected andTest() {
        auto left = notTest();
        while (left && isWord("and")) {
            ++m_at;
            auto right = notTest();
            if (!right)
                return right;
            left = make(CodeNode::Kind::And, "and", {*left, *right});
        }
        return left;
    }
    Expected notTest() {
        if (isWord("not")) {
            ++m_at;
            auto operand = notTest();
            if (!operand)
                return operand;
            return make(CodeNode::Kind::Unary, "not", {*operand});
        }
        return comparison();
    }
    Expected comparison() {
        auto first = binary(0);
        if (!first)
            return first;
        auto node = std::make_shared<CodeNode>();
        node->kind = CodeNode::Kind::Compare;
        node->items.push_back(*first);
        while (peek().kind == Token::Kind::Op &&
               (peek().text == "==" || peek().text == "!=" || peek().text == "<" ||
                peek().text == "<=" || peek().text == ">" || peek().text == ">=")) {
            node->ops.push_back(peek().text);
            ++m_at;
            auto next = binary(0);
            if (!next)
                return next;
            node->items.push_back(*next);
        }
        if (node->ops.empty())
            return first;
        return Node(node);
    }

    /// The binary operators by Python's precedence, loosest first.
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
            return unary();
        auto left = binary(level + 1);
        while (left && peek().kind == Token::Kind::Op &&
               std::find(kLevels[level].begin(), kLevels[level].end(), peek().text) !=
                   kLevels[level].end()) {
            const std::string op = peek().text;
            ++m_at;
            auto right = binary(level + 1);
            if (!right)
                return right;
            left = make(CodeNode::Kind::Binary, op, {*left, *right});
        }
        return left;
    }
    Expected unary() {
        if (isOp("-") || isOp("+") || isOp("~")) {
            const std::string op = peek().text;
            ++m_at;
            auto operand = unary();
            if (!operand)
                return operand;
            return make(CodeNode::Kind::Unary, op, {*operand});
        }
        return atom();
    }
    Expected atom() {
        const Token& t = peek();
        switch (t.kind) {
        case Token::Kind::Integer: {
            ++m_at;
            auto node = std::make_shared<CodeNode>();
            node->kind = CodeNode::Kind::Integer;
            node->value = t.value;
            return Node(node);
        }
        case Token::Kind::String: {
            ++m_at;
            auto node = std::make_shared<CodeNode>();
            node->kind = CodeNode::Kind::String;
            node->text = t.text;
            // 'a' 'b': adjacent strings are one, as in Python.
            while (peek().kind == Token::Kind::String)
                node->text += m_tokens[m_at++].text;
            return Node(node);
        }
        case Token::Kind::Name: {
            if (refusedWord(t.text))
                return fail(t, fmt::format("Python's '{}' is not supported: {}", t.text, kSubset));
            if (isOp("(", 1))
                return fail(t, fmt::format("calling '{}' is not supported: {}", t.text, kSubset));
            ++m_at;
            auto node = std::make_shared<CodeNode>();
            if (t.text == "True" || t.text == "False") {
                node->kind = CodeNode::Kind::Integer;
                node->value = t.text == "True" ? 1 : 0;
            } else {
                node->kind = CodeNode::Kind::Name;
                node->text = t.text;
            }
            return Node(node);
        }
        case Token::Kind::Op:
            if (t.text == "(") {
                ++m_at;
                auto inner = expression();
                if (!inner)
                    return inner;
                if (isOp(",")) {
                    auto tuple = std::make_shared<CodeNode>();
                    tuple->kind = CodeNode::Kind::Tuple;
                    tuple->items.push_back(*inner);
                    while (isOp(",")) {
                        ++m_at;
                        if (isOp(")"))
                            break;
                        auto more = expression();
                        if (!more)
                            return more;
                        tuple->items.push_back(*more);
                    }
                    inner = Node(tuple);
                }
                if (!isOp(")"))
                    return fail(peek(), "expected ')'");
                ++m_at;
                return inner;
            }
            return fail(t, fmt::format("unexpected '{}'", t.text));
        case Token::Kind::End:
        case Token::Kind::EndOfInput:
            break;
        }
        return fail(t, "the statement ends where an expression should follow");
    }

    static Node make(CodeNode::Kind kind, std::string text, std::vector<Node> items) {
        auto node = std::make_shared<CodeNode>();
        node->kind = kind;
        node->text = std::move(text);
        node->items = std::move(items);
        return node;
    }

    std::string_view m_text;
    std::vector<Token> m_tokens;
    std::size_t m_at = 0;
};

// --- Evaluation -------------------------------------------------------------------

struct Value;
using Tuple = std::vector<Value>;
struct Value {
    std::variant<std::int64_t, std::string, Tuple> v;
};

std::string repr(const Value& value);

std::string str(const Value& value) {
    if (const auto* i = std::get_if<std::int64_t>(&value.v))
        return std::to_string(*i);
    if (const auto* s = std::get_if<std::string>(&value.v))
        return *s;
    return repr(value);
}

std::string repr(const Value& value) {
    if (const auto* s = std::get_if<std::string>(&value.v))
        return "'" + *s + "'";
    if (const auto* t = std::get_if<Tuple>(&value.v)) {
        std::string out = "(";
        for (std::size_t k = 0; k < t->size(); ++k)
            out += (k ? ", " : "") + repr((*t)[k]);
        return out + (t->size() == 1 ? ",)" : ")");
    }
    return str(value);
}

using Result = tl::expected<Value, std::string>;

/// Python's floor division and modulo (towards minus infinity).
std::int64_t floorDiv(std::int64_t a, std::int64_t b) {
    const std::int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
std::int64_t floorMod(std::int64_t a, std::int64_t b) {
    const std::int64_t m = a % b;
    return (m != 0 && ((m < 0) != (b < 0))) ? m + b : m;
}

/// 'srtt=%d us' % value, 'a=%d b=%d' % (a, b): %d %i %u %x %X %s %r %%.
Result format(const std::string& pattern, const Value& args) {
    std::vector<Value> items;
    if (const auto* t = std::get_if<Tuple>(&args.v))
        items = *t;
    else
        items.push_back(args);
    std::string out;
    std::size_t used = 0;
    for (std::size_t k = 0; k < pattern.size(); ++k) {
        if (pattern[k] != '%') {
            out += pattern[k];
            continue;
        }
        if (++k == pattern.size())
            return tl::make_unexpected(std::string("ValueError: incomplete format"));
        const char spec = pattern[k];
        if (spec == '%') {
            out += '%';
            continue;
        }
        if (used == items.size())
            return tl::make_unexpected(
                std::string("TypeError: not enough arguments for format string"));
        const Value& item = items[used++];
        if (spec == 's') {
            out += str(item);
        } else if (spec == 'r') {
            out += repr(item);
        } else if (spec == 'd' || spec == 'i' || spec == 'u' || spec == 'x' || spec == 'X') {
            const auto* i = std::get_if<std::int64_t>(&item.v);
            if (!i)
                return tl::make_unexpected(fmt::format(
                    "TypeError: %{} format: a number is required, not {}", spec, repr(item)));
            out += spec == 'x'   ? fmt::format("{:x}", *i)
                   : spec == 'X' ? fmt::format("{:X}", *i)
                                 : std::to_string(*i);
        } else {
            return tl::make_unexpected(fmt::format("the format '%{}' is not supported", spec));
        }
    }
    if (used != items.size())
        return tl::make_unexpected(
            std::string("TypeError: not all arguments converted during string formatting"));
    return Value{out};
}

class Evaluator {
public:
    explicit Evaluator(const CodeEnv& env)
        : m_env(env) {}

    Result eval(const CodeNode& n) const {
        switch (n.kind) {
        case CodeNode::Kind::Integer:
            return Value{n.value};
        case CodeNode::Kind::String:
            return Value{n.text};
        case CodeNode::Kind::Name: {
            const auto it = m_env.find(n.text);
            if (it == m_env.end())
                return tl::make_unexpected(
                    fmt::format("NameError: name '{}' is not defined", n.text));
            return Value{it->second};
        }
        case CodeNode::Kind::Tuple: {
            Tuple t;
            for (const auto& item : n.items) {
                auto v = eval(*item);
                if (!v)
                    return v;
                t.push_back(std::move(*v));
            }
            return Value{std::move(t)};
        }
        case CodeNode::Kind::Unary: {
            auto v = eval(*n.items[0]);
            if (!v)
                return v;
            if (n.text == "not")
                return Value{std::int64_t{truthy(*v) ? 0 : 1}};
            auto i = integer(*v, n.text);
            if (!i)
                return tl::make_unexpected(i.error());
            if (n.text == "-") {
                if (*i == INT64_MIN)
                    return tl::make_unexpected(std::string("the value is too large for 64 bits"));
                return Value{-*i};
            }
            if (n.text == "~")
                return Value{~*i};
            return Value{*i};
        }
        case CodeNode::Kind::And:
        case CodeNode::Kind::Or: {
            auto left = eval(*n.items[0]);
            if (!left)
                return left;
            const bool t = truthy(*left);
            if ((n.kind == CodeNode::Kind::And) != t)
                return left; // and: a false left; or: a true left
            return eval(*n.items[1]);
        }
        case CodeNode::Kind::Compare: {
            auto left = eval(*n.items[0]);
            if (!left)
                return left;
            for (std::size_t k = 0; k < n.ops.size(); ++k) {
                auto right = eval(*n.items[k + 1]);
                if (!right)
                    return right;
                auto holds = compare(*left, n.ops[k], *right);
                if (!holds)
                    return tl::make_unexpected(holds.error());
                if (!*holds)
                    return Value{std::int64_t{0}};
                left = std::move(right);
            }
            return Value{std::int64_t{1}};
        }
        case CodeNode::Kind::Binary: {
            auto left = eval(*n.items[0]);
            if (!left)
                return left;
            auto right = eval(*n.items[1]);
            if (!right)
                return right;
            if (n.text == "%")
                if (const auto* s = std::get_if<std::string>(&left->v))
                    return format(*s, *right);
            if (n.text == "+" && std::holds_alternative<std::string>(left->v) &&
                std::holds_alternative<std::string>(right->v))
                return Value{std::get<std::string>(left->v) + std::get<std::string>(right->v)};
            auto a = integer(*left, n.text);
            if (!a)
                return tl::make_unexpected(a.error());
            auto b = integer(*right, n.text);
            if (!b)
                return tl::make_unexpected(b.error());
            return arithmetic(n.text, *a, *b);
        }
        }
        return tl::make_unexpected(std::string("cannot evaluate this"));
    }

    static Result arithmetic(std::string_view op, std::int64_t a, std::int64_t b) {
        std::int64_t r = 0;
        const std::string overflow = fmt::format("{} {} {} does not fit 64 bits", a, op, b);
        if (op == "+") {
            if (__builtin_add_overflow(a, b, &r))
                return tl::make_unexpected(overflow);
        } else if (op == "-") {
            if (__builtin_sub_overflow(a, b, &r))
                return tl::make_unexpected(overflow);
        } else if (op == "*") {
            if (__builtin_mul_overflow(a, b, &r))
                return tl::make_unexpected(overflow);
        } else if (op == "//" || op == "%" || op == "/") {
            if (b == 0)
                return tl::make_unexpected(
                    fmt::format("ZeroDivisionError: division by zero in {} {} 0", a, op));
            if (a == INT64_MIN && b == -1)
                return tl::make_unexpected(overflow);
            if (op == "/" && a % b != 0)
                return tl::make_unexpected(
                    fmt::format("{} / {} is not a whole number, and tcplab's %{{ }}% holds "
                                "integers only (// divides to a whole number)",
                                a, b));
            r = op == "%" ? floorMod(a, b) : floorDiv(a, b);
        } else if (op == "<<" || op == ">>") {
            if (b < 0)
                return tl::make_unexpected(std::string("ValueError: negative shift count"));
            if (op == ">>") {
                r = b >= 63 ? (a < 0 ? -1 : 0) : a >> b;
            } else {
                if (b >= 63 || (a != 0 && (a > (INT64_MAX >> b) || a < (INT64_MIN >> b))))
                    return tl::make_unexpected(overflow);
                r = static_cast<std::int64_t>(static_cast<std::uint64_t>(a) << b);
            }
        } else if (op == "&") {
            r = a & b;
        } else if (op == "|") {
            r = a | b;
        } else if (op == "^") {
            r = a ^ b;
        } else {
            return tl::make_unexpected(fmt::format("the operator '{}' is not supported", op));
        }
        return Value{r};
    }

    static bool truthy(const Value& v) {
        if (const auto* i = std::get_if<std::int64_t>(&v.v))
            return *i != 0;
        if (const auto* s = std::get_if<std::string>(&v.v))
            return !s->empty();
        return !std::get<Tuple>(v.v).empty();
    }

private:
    static tl::expected<std::int64_t, std::string> integer(const Value& v, std::string_view op) {
        if (const auto* i = std::get_if<std::int64_t>(&v.v))
            return *i;
        return tl::make_unexpected(
            fmt::format("TypeError: '{}' takes numbers, not {}", op, repr(v)));
    }
    static tl::expected<bool, std::string> compare(const Value& a, std::string_view op,
                                                   const Value& b) {
        if (std::holds_alternative<std::int64_t>(a.v) &&
            std::holds_alternative<std::int64_t>(b.v)) {
            const std::int64_t x = std::get<std::int64_t>(a.v), y = std::get<std::int64_t>(b.v);
            return op == "=="   ? x == y
                   : op == "!=" ? x != y
                   : op == "<"  ? x < y
                   : op == "<=" ? x <= y
                   : op == ">"  ? x > y
                                : x >= y;
        }
        if (op == "==" || op == "!=") {
            const bool equal = repr(a) == repr(b);
            return op == "==" ? equal : !equal;
        }
        return tl::make_unexpected(
            fmt::format("TypeError: '{}' between {} and {}", op, repr(a), repr(b)));
    }

    const CodeEnv& m_env;
};

void collectNames(const CodeNode& n, std::vector<std::string>& out) {
    if (n.kind == CodeNode::Kind::Name && std::find(out.begin(), out.end(), n.text) == out.end())
        out.push_back(n.text);
    for (const auto& item : n.items)
        collectNames(*item, out);
}

} // namespace

tl::expected<CodeBlock, CodeError> parseCode(std::string_view text) {
    auto tokens = tokenize(text);
    if (!tokens)
        return tl::make_unexpected(tokens.error());
    return Parser(text, std::move(*tokens)).block();
}

void addCodeConstants(CodeEnv& env) {
    static constexpr std::pair<std::string_view, std::int64_t> kConstants[] = {
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
    };
    for (const auto& [name, value] : kConstants)
        env[std::string(name)] = value;
}

std::optional<std::string> runCode(const CodeBlock& block, CodeEnv& env,
                                   std::vector<std::string>& printed) {
    for (const CodeStatement& s : block.statements) {
        const Evaluator eval(env);
        switch (s.kind) {
        case CodeStatement::Kind::Assert: {
            auto test = eval.eval(*s.expr);
            if (!test)
                return fmt::format("{}: {}", s.text, test.error());
            if (Evaluator::truthy(*test))
                break;
            std::vector<std::string> names;
            collectNames(*s.expr, names);
            std::string values;
            for (const std::string& name : names)
                if (const auto it = env.find(name); it != env.end() && !name.starts_with("TCP"))
                    values +=
                        fmt::format("{}{} is {}", values.empty() ? "" : ", ", name, it->second);
            std::string message;
            if (s.message) {
                auto m = eval.eval(*s.message);
                message = m ? str(*m) : m.error();
            }
            return fmt::format("{} failed{}{}{}", s.text, values.empty() ? "" : ": ", values,
                               message.empty() ? "" : " (AssertionError: " + message + ")");
        }
        case CodeStatement::Kind::Print: {
            std::string line;
            for (std::size_t k = 0; k < s.printed.size(); ++k) {
                auto v = eval.eval(*s.printed[k]);
                if (!v)
                    return fmt::format("{}: {}", s.text, v.error());
                line += (k ? " " : "") + str(*v);
            }
            printed.push_back(std::move(line));
            break;
        }
        case CodeStatement::Kind::Assign: {
            auto v = eval.eval(*s.expr);
            if (!v)
                return fmt::format("{}: {}", s.text, v.error());
            const auto* i = std::get_if<std::int64_t>(&v->v);
            if (!i)
                return fmt::format("{}: tcplab's %{{ }}% variables hold integers, not {}", s.text,
                                   repr(*v));
            if (s.assignOp == "=") {
                env[s.target] = *i;
                break;
            }
            const auto it = env.find(s.target);
            if (it == env.end())
                return fmt::format("{}: NameError: name '{}' is not defined", s.text, s.target);
            const std::string op = s.assignOp.substr(0, s.assignOp.size() - 1);
            auto r = Evaluator::arithmetic(op, it->second, *i);
            if (!r)
                return fmt::format("{}: {}", s.text, r.error());
            it->second = std::get<std::int64_t>(r->v);
            break;
        }
        }
    }
    return std::nullopt;
}

std::vector<std::string> namesRead(const CodeBlock& block) {
    std::vector<std::string> names;
    for (const CodeStatement& s : block.statements) {
        if (s.expr)
            collectNames(*s.expr, names);
        if (s.message)
            collectNames(*s.message, names);
        for (const auto& p : s.printed)
            collectNames(*p, names);
    }
    std::erase_if(names, [](const std::string& n) { return !n.starts_with("tcpi_"); });
    return names;
}

} // namespace tcplab::drill
