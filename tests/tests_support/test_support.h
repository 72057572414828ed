#pragma once

// Shared by the test suites: fixtures from tests/data, hex helpers.

#include "wire/address.h"
#include "wire/bytes.h"
#include "wire/diagnostic.h"
#include "wire/parse_error.h"
#include "wire/segment_spec.h"
#include "wire/seq_num.h"

#include <QString>
#include <QTest>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tcplab::test {

using ByteVector = std::vector<std::uint8_t>;

/// Absolute path of a file under tests/data.
std::string dataPath(std::string_view relative);
/// Every frame of a pcap/pcapng file under tests/data (read with libpcap). Fails the
/// calling test (QFAIL via the returned error string) when the file cannot be read.
std::vector<ByteVector> readPcap(std::string_view relative, std::string* error = nullptr);
/// Hex to bytes; aborts the test with QFAIL-friendly empty vector on bad input.
ByteVector hex(std::string_view text);
/// Bytes to lower-case hex.
QString toHex(wire::Bytes bytes);

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
