#pragma once

// Shared by the test suites: fixtures from tests/data, hex helpers.

#include "wire/address.h"
#include "wire/bytes.h"
#include "wire/diagnostic.h"
#include "wire/parse_error.h"
#include "wire/segment_spec.h"
#include "wire/seq_num.h"

#include <QString>
#include <QStringList>
#include <QTest>

#include <cstdint>

#include <fmt/format.h>
#include <string>
#include <string_view>
#include <vector>

namespace tcplab::test {

using ByteVector = std::vector<std::uint8_t>;

/// Absolute path of a file under tests/data.
std::string dataPath(std::string_view relative);

/// Runs a shell command (iproute2, ethtool) quietly, in this process's network namespace;
/// its exit status, or -1 when it did not exit.
int runQuietly(const std::string& command);
/// Writes a sysctl of this process's namespaces (`path` below /proc/sys); false when it
/// does not exist or refuses the value.
bool writeSysctl(const std::string& path, const std::string& value);
/// Every frame of a pcap/pcapng file under tests/data (read with libpcap). Fails the
/// calling test (QFAIL via the returned error string) when the file cannot be read.
std::vector<ByteVector> readPcap(std::string_view relative, std::string* error = nullptr);
/// Hex to bytes; aborts the test with QFAIL-friendly empty vector on bad input.
ByteVector hex(std::string_view text);
/// Bytes to lower-case hex.
QString toHex(wire::Bytes bytes);

inline QString qs(const std::string& s) {
    return QString::fromStdString(s);
}

/// Every field of a parse result in one line, so a QCOMPARE shows all of it on failure.
template <typename T>
QString errorOf(const tl::expected<T, wire::ParseError>& r) {
    if (r)
        return QStringLiteral("parsed");
    const wire::ParseError& e = r.error();
    return QString::fromStdString(fmt::format("{} {}.{} @{} expected {} actual {}",
                                              wire::codeName(e.code), e.layer, e.field, e.offset,
                                              e.expected, e.actual));
}

/// The first n bytes in a buffer of exactly n bytes: a read past the span is then a
/// heap overflow that AddressSanitizer reports (the asan preset).
inline ByteVector prefixOf(wire::Bytes bytes, std::size_t n) {
    return ByteVector(bytes.begin(), bytes.begin() + std::ptrdiff_t(n));
}

/// The diagnostics in a set, by kind name (not by wording, which is the UI's to tune).
QString names(wire::Diagnostics d);

} // namespace tcplab::test

// Printers QCOMPARE finds by argument-dependent lookup, so a failing comparison of
// our types shows their values.
namespace tcplab::wire {
inline char* toString(ParseErrorCode c) {
    return qstrdup(std::string(codeName(c)).c_str());
}
inline char* toString(EncodeError e) {
    return qstrdup(std::string(describe(e)).c_str());
}
inline char* toString(Diagnostic d) {
    return qstrdup(std::string(describe(d)).c_str());
}
inline char* toString(SeqNum s) {
    return qstrdup(std::to_string(s.value()).c_str());
}
} // namespace tcplab::wire

// Compare two byte sequences and show both in hex on failure.
#define TCPLAB_COMPARE_BYTES(actual, expected)                                                     \
    QCOMPARE(::tcplab::test::toHex(wire::Bytes(actual)),                                           \
             ::tcplab::test::toHex(wire::Bytes(expected)))
