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
// NAME = EXPR, NAME += / -= / *= EXPR; separated by newlines or ';', '#' comments.
// Expressions: integers (decimal, 0x), True/False, names, ( ), unary - + ~ not, the binary
// operators * // / % + - << >> & ^ | with Python's precedence, comparisons (chained),
// and, or; strings and 'format' % values only where a message or print takes them.
// Anything else (if, for, def, import, calls other than print, floats, lists) is refused
// when the script is read, with its place.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace tcplab::drill {

struct CodeNode;

/// One statement of a block.
struct CodeStatement {
    enum class Kind : std::uint8_t { Assert, Print, Assign };
    Kind kind = Kind::Assert;
    std::string text; ///< the statement as written (for messages)
    unsigned line = 1;
    std::shared_ptr<const CodeNode> expr;    ///< assert's test, assign's value
    std::shared_ptr<const CodeNode> message; ///< assert's message (may be null)
    std::vector<std::shared_ptr<const CodeNode>> printed;
    std::string target;         ///< assign: the name
    std::string assignOp = "="; ///< "=", "+=", "-=", "*="
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

/// Runs the statements in order. The failure, if any, as a sentence naming the statement
/// and its values ("assert tcpi_snd_cwnd == 10 failed: tcpi_snd_cwnd is 12 (message: 12)");
/// an unknown name is Python's NameError, a division by zero or an overflow a failure
/// too. print() appends a line to `printed` (Python's str() of each value, spaces between).
std::optional<std::string> runCode(const CodeBlock& block, CodeEnv& env,
                                   std::vector<std::string>& printed);

/// The names the block reads that start with "tcpi_" (it needs the socket's tcp_info).
std::vector<std::string> namesRead(const CodeBlock& block);

} // namespace tcplab::drill
