#pragma once

// The tokens of a packetdrill script, as google/packetdrill's lexer.l cuts them, for the
// parser in script.cpp. Keywords (mss, win, ack, TS, ...) are plain words here: what a word
// means depends on where the parser meets it. Tokens are made one at a time, so that the
// first error in the text is the one reported.

#include "drill/script.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tcplab::drill {

struct Token {
    enum class Kind : std::uint8_t {
        End,      ///< the end of the text
        Error,    ///< text: what is wrong (an unterminated string, a bad escape, ...)
        Ellipsis, ///< ...
        Option,   ///< --name[=value]: text = name, value, hasValue
        Float,    ///< [-]?[0-9]*.[0-9]+ as written
        Integer,  ///< [-]?[0-9]+ as written
        Hex,      ///< 0x[0-9a-fA-F]+ as written
        Word,     ///< [a-zA-Z0-9_]+
        String,   ///< "..." with its escapes resolved
        Command,  ///< `...`: the text between the backquotes, as written
        Code,     ///< %{ ... }%: the text inside, spaces and tabs at both ends stripped
        Punct,    ///< any other single printable character
    };
    Kind kind = Kind::End;
    std::string text;
    std::string value; ///< Option only
    bool hasValue = false;
    SourcePos pos;

    bool is(char c) const { return kind == Kind::Punct && text.size() == 1 && text[0] == c; }
    bool isWord(std::string_view w) const { return kind == Kind::Word && text == w; }
};

class ScriptLexer {
public:
    explicit ScriptLexer(std::string_view text, const Defines* defines = nullptr)
        : m_text(text)
        , m_defines(defines) {}
    /// The next token; End (forever) at the end of the text, Error where it cannot go on.
    Token next();

private:
    void advance(std::size_t n);
    bool skipSpaceAndComments(Token& error);
    Token make(Token::Kind kind, std::size_t length, SourcePos pos);
    Token quoted(char delimiter, SourcePos pos);
    /// A defined word's value as the token packetdrill's lexer makes of it.
    Token defined(const std::string& value, SourcePos pos) const;

    std::string_view m_text;
    const Defines* m_defines = nullptr;
    std::size_t m_at = 0;
    unsigned m_line = 1;
    unsigned m_column = 1;
    bool m_failed = false;
};

/// Reads an option's value starting at text[at] (just after "--name="): a "quoted" value
/// (the text between the quotes, as written), or a run of characters up to white space or
/// a comment, in which quoted and backquoted parts may hold anything ("CC=\"reno\"").
/// Returns false with `error` set when it cannot; `at` ends after the value.
bool readOptionValue(std::string_view text, std::size_t& at, std::string& value,
                     std::string& error);

/// `value` written so that readOptionValue() gives it back ("--name=" + this).
std::string writeOptionValue(std::string_view value);

/// Resolves a string's escapes (\\ \" \f \n \r \t \v \xhh, as packetdrill's script.c);
/// false with `error` set on another escape.
bool unescapeString(std::string_view raw, std::string& out, std::string& error);

/// `bytes` as a "quoted" string that unescapeString() reads back.
std::string quoteString(std::string_view bytes);

} // namespace tcplab::drill
