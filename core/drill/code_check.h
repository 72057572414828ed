#pragma once

// packetdrill's %{ }% blocks without Python: the subset of Python that packetdrill's own
// scripts write there, evaluated over integers. packetdrill (code.c) writes every block
// into one Python file after the socket's tcp_info as tcpi_ variables and runs it at the
// end; tcplab evaluates each block at its own time, with the same variables, so that a
// failed assertion fails its own line.
//
//     %{ assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd }%
//     %{ print(tcpi_snd_cwnd); cwnd += 10; assert tcpi_snd_cwnd == cwnd, tcpi_snd_cwnd }%
//     %{
//     assert tcpi_ca_state == TCP_CA_Recovery, tcpi_ca_state
//     assert 5000 <= tcpi_rtt <= 20000, 'srtt=%d us' % tcpi_rtt   # a chained comparison
//     }%
//
// Statements: assert EXPR[, MESSAGE], print(EXPR, ...) (and Python 2's print EXPR),
// NAME = EXPR, NAME += / -= / *= EXPR; separated by newlines or ';', '#' comments,
// indentation ignored. Expressions: integers (decimal, 0x), True/False, names, ( ), unary
// - + ~ not, the binary operators * / // % + - << >> & ^ | with Python's precedence,
// comparisons (chained), and, or. Strings, 'format' % values and tuples only where a
// message or print takes them. Anything else (if, for, def, import, calls other than
// print, floats, lists, **) is refused when the block is read, with its place: a script
// that tcplab would evaluate differently from Python fails before anything is sent.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace tcplab::drill {

/// An expression of a block, as parsed.
struct CodeExpr {
    enum class Kind : std::uint8_t {
        Integer, ///< integer: 10, 0x10
        Bool,    ///< integer 1 or 0: True, False (printed as Python prints them)
        Name,    ///< text: the name
        String,  ///< text: the value (escapes resolved, adjacent literals joined)
        Tuple,   ///< items: (a, b), only as a message, a print value or right of a string's %
        Unary,   ///< text: "-", "+", "~" or "not"; items[0]
        Binary,  ///< text: the operator ("*", "//", "<<", "%", ...); items[0], items[1]
        Compare, ///< items: the operands; ops: the operators between them (a <= b < c)
        And,     ///< items: the operands, evaluated left to right until one is false
        Or,      ///< items: the operands, evaluated left to right until one is true
    };
    Kind kind = Kind::Integer;
    std::int64_t integer = 0;
    std::string text;
    std::vector<std::string> ops;
    std::vector<CodeExpr> items;
    std::string source; ///< as written, one space where the text had any: for messages
    unsigned line = 0;  ///< 1-based, within the block's text
    unsigned column = 0;
};

/// One statement of a block.
struct CodeStatement {
    enum class Kind : std::uint8_t { Assert, Print, Assign };
    Kind kind = Kind::Assert;
    /// Assert: {test} or {test, message}; Print: the values; Assign: {value}.
    std::vector<CodeExpr> exprs;
    std::string target;   ///< Assign: the name
    std::string op = "="; ///< Assign: "=", "+=", "-=" or "*="
    std::string text;     ///< the statement as written (see CodeExpr::source)
    unsigned line = 0;
    unsigned column = 0;
};

/// One %{ }% block, parsed.
struct CodeBlock {
    std::vector<CodeStatement> statements;
};

/// Where a block is wrong: 1-based line and column within the block's text.
struct CodeError {
    unsigned line = 0;
    unsigned column = 0;
    std::string message;
};

tl::expected<CodeBlock, CodeError> parseCode(std::string_view text);

/// Python's variables: names to integers. Blocks share one (assignments persist).
using CodeEnv = std::map<std::string, std::int64_t, std::less<>>;

/// packetdrill's constants (code.c write_symbols): TCP_ESTABLISHED..., TCP_CA_Open...,
/// TCPI_OPT_..., TCP_INFINITE_SSTHRESH.
void addCodeConstants(CodeEnv& env);

/// Runs the statements in order, up to the first that fails. The failure as a sentence
/// naming the statement and its values: "assert tcpi_snd_cwnd == 10 failed: tcpi_snd_cwnd
/// is 12"; with a message that is not one of those values, "assert 5000 <= tcpi_rtt <=
/// 20000 failed: srtt=30000 us (tcpi_rtt is 30000)". An unknown name is Python's NameError
/// ("name 'x' is not defined in cwnd += x"); a division by zero or a value beyond 64 bits
/// fails too. print() appends a line to `printed` (Python's str() of each value, spaces
/// between).
std::optional<std::string> runCode(const CodeBlock& block, CodeEnv& env,
                                   std::vector<std::string>& printed);

/// The names the block reads that start with "tcpi_" (it needs the socket's tcp_info),
/// each once, in the order they appear.
std::vector<std::string> namesRead(const CodeBlock& block);

} // namespace tcplab::drill
