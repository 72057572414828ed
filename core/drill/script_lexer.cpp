#include "drill/script_lexer.h"

#include <algorithm>

#include <fmt/format.h>

namespace tcplab::drill {

namespace {

bool isSpace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool isDigit(char c) {
    return c >= '0' && c <= '9';
}
bool isHexDigit(char c) {
    return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool isWordChar(char c) {
    return isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool startsComment(std::string_view text, std::size_t at) {
    return text[at] == '/' && at + 1 < text.size() && (text[at + 1] == '/' || text[at + 1] == '*');
}

/// The index of the delimiter closing a quoted body that starts at `at` (after the opening
/// one), a backslash taking the next character with it as lexer.l's (\\.|[^"])* does;
/// npos when there is none.
std::size_t closingDelimiter(std::string_view text, std::size_t at, char delimiter) {
    while (at < text.size()) {
        if (text[at] == '\\' && at + 1 < text.size())
            at += 2;
        else if (text[at] == delimiter)
            return at;
        else
            ++at;
    }
    return std::string_view::npos;
}

} // namespace

void ScriptLexer::advance(std::size_t n) {
    for (std::size_t end = m_at + n; m_at < end; ++m_at) {
        if (m_text[m_at] == '\n') {
            ++m_line;
            m_column = 1;
        } else {
            ++m_column;
        }
    }
}

bool ScriptLexer::skipSpaceAndComments(Token& error) {
    while (m_at < m_text.size()) {
        if (isSpace(m_text[m_at])) {
            advance(1);
        } else if (m_text.substr(m_at, 2) == "//") {
            const std::size_t end = m_text.find('\n', m_at);
            advance((end == std::string_view::npos ? m_text.size() : end) - m_at);
        } else if (m_text.substr(m_at, 2) == "/*") {
            const std::size_t end = m_text.find("*/", m_at + 2);
            if (end == std::string_view::npos) {
                error = Token{Token::Kind::Error,
                              "unterminated comment: '/*' without '*/'",
                              {},
                              false,
                              {m_line, m_column}};
                return false;
            }
            advance(end + 2 - m_at);
        } else {
            return true;
        }
    }
    return true;
}

Token ScriptLexer::make(Token::Kind kind, std::size_t length, SourcePos pos) {
    Token t{kind, std::string(m_text.substr(m_at, length)), {}, false, pos};
    advance(length);
    return t;
}

Token ScriptLexer::quoted(char delimiter, SourcePos pos) {
    const std::size_t close = closingDelimiter(m_text, m_at + 1, delimiter);
    if (close == std::string_view::npos) {
        m_failed = true;
        return Token{Token::Kind::Error,
                     delimiter == '"' ? "unterminated string: '\"' without its closing '\"'"
                                      : "unterminated command: '`' without its closing '`'",
                     {},
                     false,
                     pos};
    }
    const std::string_view raw = m_text.substr(m_at + 1, close - m_at - 1);
    advance(close + 1 - m_at);
    if (delimiter == '`')
        return Token{Token::Kind::Command, std::string(raw), {}, false, pos};
    Token t{Token::Kind::String, {}, {}, false, pos};
    std::string error;
    if (!unescapeString(raw, t.text, error)) {
        m_failed = true;
        return Token{Token::Kind::Error, error, {}, false, pos};
    }
    return t;
}

Token ScriptLexer::defined(const std::string& value, SourcePos pos) const {
    Token t;
    t.pos = pos;
    // SYM="val" and SYM=`val` (lexer.l's word()): the text between the quotes.
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '`') &&
        value.back() == value.front()) {
        t.kind = value.front() == '"' ? Token::Kind::String : Token::Kind::Command;
        t.text = value.substr(1, value.size() - 2);
        return t;
    }
    // SYM=val: a whole number (strtol's, any base), else a word.
    t.text = value;
    const std::string_view digits =
        std::string_view(value).substr(!value.empty() && value[0] == '-' ? 1 : 0);
    const bool hex = digits.size() > 2 && digits.starts_with("0x") &&
                     std::all_of(digits.begin() + 2, digits.end(), isHexDigit);
    const bool decimal = !digits.empty() && std::all_of(digits.begin(), digits.end(), isDigit);
    t.kind = hex && value[0] != '-' ? Token::Kind::Hex
             : decimal              ? Token::Kind::Integer
                                    : Token::Kind::Word;
    return t;
}

Token ScriptLexer::next() {
    Token error;
    if (m_failed)
        return Token{Token::Kind::End, {}, {}, false, {m_line, m_column}};
    if (!skipSpaceAndComments(error)) {
        m_failed = true;
        return error;
    }
    const SourcePos pos{m_line, m_column};
    const std::size_t n = m_text.size();
    if (m_at >= n)
        return Token{Token::Kind::End, {}, {}, false, pos};
    const std::string_view rest = m_text.substr(m_at);
    const char c = rest[0];

    if (rest.starts_with("%{")) {
        const std::size_t end = rest.find("}%", 2);
        if (end == std::string_view::npos) {
            m_failed = true;
            return Token{
                Token::Kind::Error, "unterminated code: '%{' without '}%'", {}, false, pos};
        }
        // Spaces and tabs at both ends go, as lexer.l's code() strips them (Python minds
        // indentation); newlines stay.
        std::size_t first = 2;
        std::size_t last = end;
        while (first < last && (rest[first] == ' ' || rest[first] == '\t'))
            ++first;
        while (last > first && (rest[last - 1] == ' ' || rest[last - 1] == '\t'))
            --last;
        Token t{Token::Kind::Code, std::string(rest.substr(first, last - first)), {}, false, pos};
        advance(end + 2);
        return t;
    }
    if (rest.starts_with("..."))
        return make(Token::Kind::Ellipsis, 3, pos);
    if (rest.starts_with("--") && rest.size() > 2 && isWordChar(rest[2])) {
        std::size_t end = 2;
        while (end < rest.size() && isWordChar(rest[end]))
            ++end;
        Token t{Token::Kind::Option, std::string(rest.substr(2, end - 2)), {}, false, pos};
        if (end < rest.size() && rest[end] == '=') {
            std::size_t at = m_at + end + 1;
            std::string why;
            if (!readOptionValue(m_text, at, t.value, why)) {
                m_failed = true;
                return Token{
                    Token::Kind::Error, fmt::format("--{}=: {}", t.text, why), {}, false, pos};
            }
            t.hasValue = true;
            end = at - m_at;
        }
        advance(end);
        return t;
    }
    if (c == '"' || c == '`')
        return quoted(c, pos);

    // The longest of FLOAT, INTEGER, HEX_INTEGER and WORD wins; on a tie the one lexer.l
    // lists first (so "0x10" is hex, "123" an integer, "1e5" a word, "-1" an integer).
    const auto digitsEnd = [&](std::size_t i) {
        while (i < rest.size() && isDigit(rest[i]))
            ++i;
        return i;
    };
    const std::size_t sign = c == '-' ? 1 : 0;
    const std::size_t intEnd = digitsEnd(sign);
    const std::size_t intLength = intEnd > sign ? intEnd : 0;
    std::size_t floatLength = 0;
    if (intEnd < rest.size() && rest[intEnd] == '.') {
        const std::size_t fracEnd = digitsEnd(intEnd + 1);
        floatLength = fracEnd > intEnd + 1 ? fracEnd : 0;
    }
    std::size_t hexLength = 0;
    if (rest.starts_with("0x")) {
        std::size_t i = 2;
        while (i < rest.size() && isHexDigit(rest[i]))
            ++i;
        hexLength = i > 2 ? i : 0;
    }
    std::size_t wordLength = 0;
    while (wordLength < rest.size() && isWordChar(rest[wordLength]))
        ++wordLength;
    const std::size_t longest = std::max({floatLength, intLength, hexLength, wordLength});
    if (longest > 0) {
        if (floatLength == longest)
            return make(Token::Kind::Float, longest, pos);
        if (intLength == longest)
            return make(Token::Kind::Integer, longest, pos);
        if (hexLength == longest)
            return make(Token::Kind::Hex, longest, pos);
        if (m_defines && wordLength == longest) {
            const auto it = m_defines->find(rest.substr(0, longest));
            if (it != m_defines->end()) {
                advance(longest);
                return defined(it->second, pos);
            }
        }
        return make(Token::Kind::Word, longest, pos);
    }
    const auto byte = static_cast<unsigned char>(c);
    if (byte > 0x20 && byte < 0x7f)
        return make(Token::Kind::Punct, 1, pos);
    m_failed = true;
    return Token{
        Token::Kind::Error, fmt::format("unexpected character 0x{:02x}", byte), {}, false, pos};
}

bool readOptionValue(std::string_view text, std::size_t& at, std::string& value,
                     std::string& error) {
    if (at >= text.size() || isSpace(text[at]) || startsComment(text, at)) {
        error = "expected a value after '='";
        return false;
    }
    if (text[at] == '"') {
        const std::size_t close = closingDelimiter(text, at + 1, '"');
        if (close == std::string_view::npos) {
            error = "unterminated string: '\"' without its closing '\"'";
            return false;
        }
        value = std::string(text.substr(at + 1, close - at - 1));
        at = close + 1;
        return true;
    }
    const std::size_t start = at;
    while (at < text.size() && !isSpace(text[at]) && !startsComment(text, at)) {
        if (text[at] == '"' || text[at] == '`') {
            const std::size_t close = closingDelimiter(text, at + 1, text[at]);
            if (close == std::string_view::npos) {
                error = fmt::format("unterminated quote: '{}' without its closing '{}'", text[at],
                                    text[at]);
                return false;
            }
            at = close + 1;
        } else {
            ++at;
        }
    }
    value = std::string(text.substr(start, at - start));
    return true;
}

std::string writeOptionValue(std::string_view value) {
    std::size_t at = 0;
    std::string readBack;
    std::string error;
    if (readOptionValue(value, at, readBack, error) && at == value.size() && readBack == value)
        return std::string(value);
    return fmt::format("\"{}\"", value);
}

bool unescapeString(std::string_view raw, std::string& out, std::string& error) {
    out.clear();
    for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] != '\\') {
            out += raw[i];
            continue;
        }
        if (++i >= raw.size()) {
            error = "a string ends in a lone '\\'";
            return false;
        }
        switch (raw[i]) {
        case '\\':
            out += '\\';
            break;
        case '"':
            out += '"';
            break;
        case 'f':
            out += '\f';
            break;
        case 'n':
            out += '\n';
            break;
        case 'r':
            out += '\r';
            break;
        case 't':
            out += '\t';
            break;
        case 'v':
            out += '\v';
            break;
        case 'x': {
            if (i + 2 >= raw.size() || !isHexDigit(raw[i + 1]) || !isHexDigit(raw[i + 2])) {
                error = fmt::format("invalid hex escape '\\x{}' in a string (\\xhh takes two "
                                    "hex digits)",
                                    raw.substr(i + 1, 2));
                return false;
            }
            const auto digit = [](char h) { return isDigit(h) ? h - '0' : (h | 0x20) - 'a' + 10; };
            out += static_cast<char>(digit(raw[i + 1]) * 16 + digit(raw[i + 2]));
            i += 2;
            break;
        }
        default:
            error = fmt::format("unsupported escape '\\{}' in a string (known: \\\\ \\\" \\f \\n "
                                "\\r \\t \\v \\xhh)",
                                raw[i]);
            return false;
        }
    }
    return true;
}

std::string quoteString(std::string_view bytes) {
    std::string out = "\"";
    for (const char c : bytes) {
        switch (c) {
        case '\\':
            out += "\\\\";
            break;
        case '"':
            out += "\\\"";
            break;
        case '\f':
            out += "\\f";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        case '\v':
            out += "\\v";
            break;
        default: {
            const auto byte = static_cast<unsigned char>(c);
            if (byte < 0x20 || byte >= 0x7f)
                out += fmt::format("\\x{:02x}", byte);
            else
                out += c;
        }
        }
    }
    out += '"';
    return out;
}

} // namespace tcplab::drill
