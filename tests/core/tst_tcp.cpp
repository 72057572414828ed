// TcpHeader parse/emit and the flag helpers, against real captures.
//
// Fixtures: tests/data/captures/linux_tcp_ipv{4,6}.pcap, made by
// tests/data/captures/capture.sh (a Linux client and server in two network namespaces,
// offloads off, so checksums are real). Expected values below were read with scapy
// 2.5 (`rdpcap(...)[i][TCP]`) and agree with tshark.

#include "tests_support/test_support.h"

#include "wire/address.h"
#include "wire/checksum.h"
#include "wire/tcp.h"

#include <QObject>
#include <QTest>

#include <algorithm>
#include <bit>
#include <optional>
#include <random>
#include <vector>

using namespace tcplab;
using namespace tcplab::wire;
using tcplab::test::ByteVector;

namespace {

/// Every field of a parse error in one line, so QCOMPARE shows both sides on failure.
QString describeError(const ParseError& e) {
    return QString::fromStdString(
        e.message() + " [" + std::string(codeName(e.code)) + " layer=" + std::string(e.layer) +
        " field=" + std::string(e.field) + " offset=" + std::to_string(e.offset) +
        " expected=" + std::to_string(e.expected) + " actual=" + std::to_string(e.actual) + "]");
}

constexpr std::size_t kEthernetLength = 14;
constexpr std::size_t kIpv4TcpOffset = kEthernetLength + 20;
constexpr std::size_t kIpv6TcpOffset = kEthernetLength + 40;

/// The TCP segment of a captured frame and the pseudo-header its IP layer implies,
/// bounded by the IP length (as the frame decoder does).
struct Segment {
    ByteVector bytes;
    PseudoHeader pseudo;
    Bytes span() const { return bytes; }
};

Segment ipv4Segment(const ByteVector& frame) {
    const std::uint8_t* ip = frame.data() + kEthernetLength;
    const std::size_t total = load16(ip + 2);
    Segment s{ByteVector(frame.begin() + kIpv4TcpOffset, frame.begin() + kEthernetLength + total),
              PseudoHeader::ipv4(Ipv4Address::fromBytes(frame.data() + 26),
                                 Ipv4Address::fromBytes(frame.data() + 30), 6)};
    return s;
}

Segment ipv6Segment(const ByteVector& frame) {
    const std::uint8_t* ip = frame.data() + kEthernetLength;
    const std::size_t payload = load16(ip + 4);
    Segment s{ByteVector(frame.begin() + kIpv6TcpOffset, frame.begin() + kIpv6TcpOffset + payload),
              PseudoHeader::ipv6(Ipv6Address::fromBytes(frame.data() + 22),
                                 Ipv6Address::fromBytes(frame.data() + 38), 6)};
    return s;
}

std::vector<ByteVector> frames(const char* file) {
    std::string error;
    auto all = test::readPcap(std::string("captures/") + file, &error);
    if (all.empty())
        qWarning("cannot read %s: %s", file, error.c_str());
    return all;
}

/// Every TCP segment of both captures (frames 3..12, 1-based, in each file).
std::vector<Segment> allSegments() {
    std::vector<Segment> out;
    const auto v4 = frames("linux_tcp_ipv4.pcap");
    for (std::size_t i = 2; i < v4.size() && i < 12; ++i)
        out.push_back(ipv4Segment(v4[i]));
    const auto v6 = frames("linux_tcp_ipv6.pcap");
    for (std::size_t i = 2; i < v6.size() && i < 12; ++i)
        out.push_back(ipv6Segment(v6[i]));
    return out;
}

ByteVector emitToVector(const TcpHeader& h, Bytes payload, const PseudoHeader& pseudo,
                        std::uint8_t fill = 0xaa) {
    // Pre-filled with garbage: emit must write every byte it claims.
    ByteVector out(h.headerLength() + payload.size(), fill);
    const std::size_t n = h.emit(out.data(), payload, pseudo);
    out.resize(n);
    return out;
}

Bytes payloadOf(const Segment& s, const TcpHeader& h) {
    return s.span().subspan(h.headerLength());
}

const PseudoHeader kPseudo =
    PseudoHeader::ipv4(Ipv4Address::fromUint(0xc6120002), Ipv4Address::fromUint(0xc6120001), 6);

/// 20 bytes of fixed header then `options` (appended verbatim); data offset from the
/// size, unless `dataofs` is given.
ByteVector rawSegment(const ByteVector& options, std::optional<unsigned> dataofs = {}) {
    ByteVector b = test::hex("a64ac35159c18bb300000000"
                             "5002faf000000000");
    b.insert(b.end(), options.begin(), options.end());
    const unsigned d = dataofs.value_or(static_cast<unsigned>(b.size() / 4));
    b[12] = static_cast<std::uint8_t>(d << 4);
    return b;
}

} // namespace

class TstTcp : public QObject {
    Q_OBJECT

private Q_SLOTS:
    // --- the five checks on a real SYN --------------------------------------------
    void syn_readsEveryField();
    void syn_builtFromFields_equalsCapture();
    void pshAck_builtFromFields_withPayload_equalsCapture();
    void ipv6Syn_readsEveryField();
    void captures_parseThenEmit_roundTripByteForByte();
    void syn_truncated_failsStructurally();
    void everyPrefixOfEveryFixture_parsesOrFailsCleanly();
    void randomSegments_parseNeverBreaks_andReEmitByteForByte();

    // --- malformed input --------------------------------------------------------
    void malformed_data();
    void malformed();
    void bytesAfterEol_parseWithDiagnostic();

    // --- deliberate overrides ---------------------------------------------------
    void override_badChecksum_roundTrips();
    void override_dataOffset15WithoutOptions_goesOnTheWire();
    void override_reservedBits_roundTrip();
    void override_optionWithWrongLength_roundTrips();
    void checksum_partialOffloadValue_isDetected();
    void checksum_negativeZero_keptVerbatim();
    void checksum_withoutPseudo_keptAsRead();
    void diagnostics_synFinAndUrgentWithoutUrg();
    void diagnostics_addToCallersSet();
    void emit_paddingIsZero_andReturnsLength();
    void sequenceLength_countsSynAndFin();

    // --- flags ------------------------------------------------------------------
    void flagsToString_data();
    void flagsToString();
    void parseFlags_data();
    void parseFlags();
    void parseFlags_errorsNameTheCharacter_data();
    void parseFlags_errorsNameTheCharacter();
    void flags_everyValueRoundTrips();
    void flagsToWords();
};

void TstTcp::syn_readsEveryField() {
    const auto v4 = frames("linux_tcp_ipv4.pcap");
    QVERIFY(v4.size() >= 12);
    QCOMPARE(v4[2].size(), std::size_t{74});
    const Segment s = ipv4Segment(v4[2]);
    Diagnostics diags;
    auto h = TcpHeader::parse(s.span(), &s.pseudo, &diags);
    QVERIFY2(h, h ? "" : h.error().message().c_str());
    QCOMPARE(h->srcPort, 42570);
    QCOMPARE(h->dstPort, 50001);
    QCOMPARE(h->seq, SeqNum(1505856435));
    QCOMPARE(h->ack, SeqNum(0));
    QVERIFY(!h->dataOffset); // 10 on the wire: consistent, so auto
    QCOMPARE(h->headerLength(), std::size_t{40});
    QCOMPARE(h->reserved, 0);
    QCOMPARE(h->flags, tcp_flags::kSyn);
    QCOMPARE(tcpFlagsToString(h->flags), std::string("S"));
    QCOMPARE(h->window, 64240);
    QVERIFY(!h->checksum); // 0x1a6e verified: auto
    QCOMPARE(h->urgentPointer, 0);
    QVERIFY(diags.empty());

    // MSS=1460, SACK_PERM, TS=3222837068:0, NOP, WS=10 (Linux's SYN order).
    QCOMPARE(h->options.byteSize(), std::size_t{20});
    QCOMPARE(h->options.mss(), std::optional<std::uint16_t>(1460));
    QVERIFY(h->options.sackPermitted());
    QCOMPARE(h->options.timestamps(),
             (std::optional<std::pair<std::uint32_t, std::uint32_t>>({3222837068u, 0u})));
    QCOMPARE(h->options.windowScale(), std::optional<std::uint8_t>(10));
    std::vector<std::string> names;
    std::vector<std::size_t> offsets;
    for (auto it = h->options.begin(); it != h->options.end(); ++it) {
        names.emplace_back(it->name());
        offsets.push_back(it.offset());
    }
    QCOMPARE(names, (std::vector<std::string>{"MSS", "SAckOK", "Timestamp", "NOP", "WScale"}));
    QCOMPARE(offsets, (std::vector<std::size_t>{0, 4, 6, 16, 17}));
    QVERIFY(payloadOf(s, *h).empty());
}

void TstTcp::syn_builtFromFields_equalsCapture() {
    const auto v4 = frames("linux_tcp_ipv4.pcap");
    QVERIFY(v4.size() >= 12);
    const Segment s = ipv4Segment(v4[2]);

    TcpHeader h;
    h.srcPort = 42570;
    h.dstPort = 50001;
    h.seq = SeqNum(1505856435);
    h.flags = tcp_flags::kSyn;
    h.window = 64240;
    QVERIFY(h.options.append(TcpOption::mss(1460)));
    QVERIFY(h.options.append(TcpOption::sackPermitted()));
    QVERIFY(h.options.append(TcpOption::timestamps(3222837068u, 0)));
    QVERIFY(h.options.append(TcpOption::nop()));
    QVERIFY(h.options.append(TcpOption::windowScale(10)));

    TCPLAB_COMPARE_BYTES(emitToVector(h, {}, s.pseudo), s.bytes);
    // And the parsed header is the same value.
    auto parsed = TcpHeader::parse(s.span(), &s.pseudo);
    QVERIFY(parsed);
    QVERIFY(*parsed == h);
}

void TstTcp::pshAck_builtFromFields_withPayload_equalsCapture() {
    const auto v4 = frames("linux_tcp_ipv4.pcap");
    QVERIFY(v4.size() >= 12);
    const Segment s = ipv4Segment(v4[5]);
    QCOMPARE(s.bytes.size(), std::size_t{32 + 18});

    TcpHeader h;
    h.srcPort = 42570;
    h.dstPort = 50001;
    h.seq = SeqNum(1505856436);
    h.ack = SeqNum(2122897299);
    h.flags = tcp_flags::kPsh | tcp_flags::kAck;
    h.window = 63;
    QVERIFY(h.options.append(TcpOption::nop()));
    QVERIFY(h.options.append(TcpOption::nop()));
    QVERIFY(h.options.append(TcpOption::timestamps(3222837068u, 3186702069u)));
    const std::string_view get = "GET / HTTP/1.1\r\n\r\n";
    const Bytes payload(reinterpret_cast<const std::uint8_t*>(get.data()), get.size());

    TCPLAB_COMPARE_BYTES(emitToVector(h, payload, s.pseudo), s.bytes);
    QCOMPARE(load16(s.bytes.data() + 16), 0x1a21); // the capture's checksum, as scapy read it
}

void TstTcp::ipv6Syn_readsEveryField() {
    const auto v6 = frames("linux_tcp_ipv6.pcap");
    QVERIFY(v6.size() >= 12);
    QCOMPARE(v6[2].size(), std::size_t{94});
    const Segment s = ipv6Segment(v6[2]);
    Diagnostics diags;
    auto h = TcpHeader::parse(s.span(), &s.pseudo, &diags);
    QVERIFY(h);
    QCOMPARE(h->srcPort, 43638);
    QCOMPARE(h->dstPort, 50001);
    QCOMPARE(h->seq, SeqNum(1896826051));
    QCOMPARE(h->ack, SeqNum(0));
    QCOMPARE(h->flags, tcp_flags::kSyn);
    QCOMPARE(h->window, 64800);
    QVERIFY(!h->checksum); // 0x92f4 verified under the IPv6 pseudo-header
    QCOMPARE(h->options.mss(), std::optional<std::uint16_t>(1440));
    QCOMPARE(h->options.windowScale(), std::optional<std::uint8_t>(10));
    QVERIFY(h->options.sackPermitted());
    QCOMPARE(h->options.timestamps()->first, 2741147017u);
    QVERIFY(diags.empty());
    TCPLAB_COMPARE_BYTES(emitToVector(*h, {}, s.pseudo), s.bytes);
}

void TstTcp::captures_parseThenEmit_roundTripByteForByte() {
    const auto segments = allSegments();
    QCOMPARE(segments.size(), std::size_t{20});
    const std::uint8_t expectedFlags[10] = {0x02, 0x12, 0x10, 0x18, 0x10,
                                            0x18, 0x10, 0x11, 0x11, 0x10};
    for (std::size_t i = 0; i < segments.size(); ++i) {
        const Segment& s = segments[i];
        Diagnostics diags;
        auto h = TcpHeader::parse(s.span(), &s.pseudo, &diags);
        QVERIFY2(h, qPrintable(QString("segment %1").arg(i)));
        QVERIFY2(diags.empty(), qPrintable(QString("segment %1").arg(i)));
        QVERIFY(!h->checksum);
        QVERIFY(!h->dataOffset);
        QCOMPARE(h->flags, expectedFlags[i % 10]);
        QVERIFY(h->options.timestamps().has_value());
        TCPLAB_COMPARE_BYTES(emitToVector(*h, payloadOf(s, *h), s.pseudo), s.bytes);
    }
    // The response data (frame 8, 1-based) carries 72 bytes after a 32-byte header.
    QCOMPARE(segments[5].bytes.size(), std::size_t{32 + 72});
}

void TstTcp::syn_truncated_failsStructurally() {
    const auto v4 = frames("linux_tcp_ipv4.pcap");
    QVERIFY(v4.size() >= 3);
    const Segment s = ipv4Segment(v4[2]);
    auto h = TcpHeader::parse(s.span().first(19), &s.pseudo);
    QVERIFY(!h);
    QCOMPARE(describeError(h.error()),
             describeError(ParseError{ParseErrorCode::Truncated, "tcp", "urgptr", 18, 20, 19}));
    QCOMPARE(h.error().message(), std::string("tcp: truncated: needs 20 bytes, 19 present"));

    h = TcpHeader::parse(s.span().first(39), &s.pseudo);
    QVERIFY(!h);
    QCOMPARE(describeError(h.error()), describeError(ParseError{ParseErrorCode::HeaderLengthOverrun,
                                                                "tcp", "dataofs", 12, 40, 39}));
    QCOMPARE(h.error().message(),
             std::string("tcp: dataofs says 40 bytes of header, only 39 present"));
}

void TstTcp::everyPrefixOfEveryFixture_parsesOrFailsCleanly() {
    const auto segments = allSegments();
    QVERIFY(!segments.empty());
    for (const Segment& s : segments) {
        const std::size_t headerBytes = (s.bytes[12] >> 4) * 4u;
        for (std::size_t n = 0; n <= s.bytes.size(); ++n) {
            // A copy of exactly n bytes, so a read past the span shows under ASan.
            const ByteVector prefix(s.bytes.begin(), s.bytes.begin() + static_cast<long>(n));
            for (const PseudoHeader* pseudo :
                 {&s.pseudo, static_cast<const PseudoHeader*>(nullptr)}) {
                Diagnostics diags;
                auto h = TcpHeader::parse(prefix, pseudo, &diags);
                if (n < 20) {
                    QVERIFY(!h);
                    QCOMPARE(int(h.error().code), int(ParseErrorCode::Truncated));
                    QCOMPARE(h.error().actual, static_cast<std::uint32_t>(n));
                } else if (n < headerBytes) {
                    QVERIFY(!h);
                    QCOMPARE(int(h.error().code), int(ParseErrorCode::HeaderLengthOverrun));
                    QCOMPARE(h.error().expected, static_cast<std::uint32_t>(headerBytes));
                } else {
                    QVERIFY(h);
                    // A cut payload no longer matches its checksum.
                    const bool whole = n == s.bytes.size();
                    QCOMPARE(h->checksum.has_value(), !whole || !pseudo);
                    if (pseudo)
                        QCOMPARE(diags.has(Diagnostic::TcpChecksumBad), !whole);
                    TCPLAB_COMPARE_BYTES(
                        emitToVector(*h, Bytes(prefix).subspan(headerBytes), s.pseudo), prefix);
                }
            }
        }
    }
}

void TstTcp::randomSegments_parseNeverBreaks_andReEmitByteForByte() {
    // Whatever parses must re-emit exactly (STYLE.md: a broken frame round-trips byte for
    // byte); whatever does not must fail with a structural error. Fixed seed: repeatable.
    std::mt19937 rng(9293);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<std::size_t> length(0, 80);
    // Option-ish bytes make the options area interesting more often than uniform noise.
    const std::uint8_t optionish[] = {0, 1, 2, 3, 4, 5, 8, 10, 0xfe};
    std::size_t parsed = 0;
    for (int round = 0; round < 20000; ++round) {
        ByteVector b(length(rng));
        for (std::size_t i = 0; i < b.size(); ++i)
            b[i] = static_cast<std::uint8_t>(i >= 20 && (round & 1) ? optionish[byte(rng) % 9]
                                                                    : byte(rng));
        if (b.size() > 12 && (round & 2))
            b[12] = static_cast<std::uint8_t>((5 + byte(rng) % 11) << 4 | (b[12] & 0x0f));
        Diagnostics diags;
        auto h = TcpHeader::parse(b, (round & 4) ? &kPseudo : nullptr, &diags);
        if (!h) {
            QVERIFY(h.error().layer == "tcp");
            QVERIFY(!h.error().message().empty());
            continue;
        }
        ++parsed;
        const std::size_t headerBytes = (b[12] >> 4) * 4u;
        QCOMPARE(h->headerLength(), headerBytes);
        TCPLAB_COMPARE_BYTES(emitToVector(*h, Bytes(b).subspan(headerBytes), kPseudo), b);
    }
    QVERIFY(parsed > 1000); // the property was exercised
}

void TstTcp::malformed_data() {
    QTest::addColumn<QByteArray>("segment");
    QTest::addColumn<int>("code");
    QTest::addColumn<QString>("field");
    QTest::addColumn<uint>("offset");
    QTest::addColumn<uint>("expected");
    QTest::addColumn<uint>("actual");

    auto row = [](const char* name, const ByteVector& b, ParseErrorCode code, const char* fieldId,
                  uint offset, uint expected, uint actual) {
        QTest::newRow(name) << QByteArray(reinterpret_cast<const char*>(b.data()),
                                          static_cast<qsizetype>(b.size()))
                            << int(code) << QString(fieldId) << offset << expected << actual;
    };
    using C = ParseErrorCode;
    row("empty", {}, C::Truncated, "sport", 0, 20, 0);
    const ByteVector plain = rawSegment({});
    row("19 bytes", ByteVector(plain.begin(), plain.begin() + 19), C::Truncated, "urgptr", 18, 20,
        19);
    for (unsigned d = 0; d < 5; ++d)
        row(qPrintable(QString("data offset %1").arg(d)), rawSegment({}, d),
            C::HeaderLengthTooShort, "dataofs", 12, 5, d);
    row("data offset 6, 20 bytes", rawSegment({}, 6), C::HeaderLengthOverrun, "dataofs", 12, 24,
        20);
    row("data offset 15, 40 bytes", rawSegment(ByteVector(20, 1), 15), C::HeaderLengthOverrun,
        "dataofs", 12, 60, 40);
    row("option length 0", rawSegment(test::hex("02000000")), C::OptionLengthInvalid, "options", 20,
        2, 0);
    row("option length 1 after NOP", rawSegment(test::hex("01030100")), C::OptionLengthInvalid,
        "options", 21, 2, 1);
    row("MSS length 8 in 4 bytes", rawSegment(test::hex("020805b4")), C::OptionOverrun, "options",
        20, 8, 4);
    row("timestamps overrun", rawSegment(test::hex("0101080a00000000")), C::OptionOverrun,
        "options", 22, 10, 6);
    row("length byte missing at end", rawSegment(test::hex("01010102")), C::OptionOverrun,
        "options", 23, 2, 1);
    // 40 bytes of options: 38 NOPs, then kind 254 claims 4 bytes where 2 remain.
    ByteVector full(38, 0x01);
    full.push_back(0xfe);
    full.push_back(0x04);
    row("overrun at the last bytes of a full area", rawSegment(full), C::OptionOverrun, "options",
        58, 4, 2);
}

void TstTcp::malformed() {
    QFETCH(QByteArray, segment);
    QFETCH(int, code);
    QFETCH(QString, field);
    QFETCH(uint, offset);
    QFETCH(uint, expected);
    QFETCH(uint, actual);
    const ByteVector bytes(segment.begin(), segment.end());
    Diagnostics diags;
    auto h = TcpHeader::parse(bytes, &kPseudo, &diags);
    QVERIFY(!h);
    QCOMPARE(int(h.error().code), code);
    QCOMPARE(h.error().layer, std::string_view("tcp"));
    QCOMPARE(QString::fromUtf8(h.error().field.data(), qsizetype(h.error().field.size())), field);
    QCOMPARE(h.error().offset, offset);
    QCOMPARE(h.error().expected, expected);
    QCOMPARE(h.error().actual, actual);
    QVERIFY(h.error().message().rfind("tcp: ", 0) == 0);
    QVERIFY(diags.empty());
}

void TstTcp::bytesAfterEol_parseWithDiagnostic() {
    // MSS, EOL, then junk that would not parse as options: padding is not parsed.
    const ByteVector b = rawSegment(test::hex("020405b400ff0100"));
    Diagnostics diags;
    auto h = TcpHeader::parse(b, nullptr, &diags);
    QVERIFY(h);
    QVERIFY(diags.has(Diagnostic::TcpOptionAfterEolNotZero));
    QCOMPARE(h->options.mss(), std::optional<std::uint16_t>(1460));
    TCPLAB_COMPARE_BYTES(emitToVector(*h, {}, kPseudo), b);

    // Zero padding after EOL is fine.
    diags = {};
    QVERIFY(TcpHeader::parse(rawSegment(test::hex("020405b400000000")), nullptr, &diags));
    QVERIFY(diags.empty());
}

void TstTcp::override_badChecksum_roundTrips() {
    const auto v4 = frames("linux_tcp_ipv4.pcap");
    QVERIFY(v4.size() >= 6);
    const Segment s = ipv4Segment(v4[5]);
    auto h = TcpHeader::parse(s.span(), &s.pseudo);
    QVERIFY(h);
    h->checksum = 0xdead;
    const ByteVector wire = emitToVector(*h, payloadOf(s, *h), s.pseudo);
    QCOMPARE(load16(wire.data() + 16), 0xdead);
    ByteVector expected = s.bytes;
    store16(expected.data() + 16, 0xdead);
    TCPLAB_COMPARE_BYTES(wire, expected);

    Diagnostics diags;
    auto back = TcpHeader::parse(wire, &s.pseudo, &diags);
    QVERIFY(back);
    QCOMPARE(back->checksum, std::optional<std::uint16_t>(0xdead));
    QVERIFY(diags.has(Diagnostic::TcpChecksumBad));
    QVERIFY(!diags.has(Diagnostic::TcpChecksumPartial));
    QVERIFY(*back == *h);
    TCPLAB_COMPARE_BYTES(emitToVector(*back, payloadOf(s, *back), s.pseudo), wire);
}

void TstTcp::override_dataOffset15WithoutOptions_goesOnTheWire() {
    TcpHeader h;
    h.srcPort = 1;
    h.dstPort = 2;
    h.flags = tcp_flags::kAck;
    h.dataOffset = 15;
    const ByteVector payload = test::hex("0102030405");
    const ByteVector wire = emitToVector(h, payload, kPseudo);
    // The field says 60 bytes of header; the bytes laid out are still 20 + payload.
    QCOMPARE(wire.size(), std::size_t{25});
    QCOMPARE(wire[12], 0xf0);
    TCPLAB_COMPARE_BYTES(Bytes(wire).subspan(20), payload);
    // The checksum covers the bytes as sent, lie included.
    QVERIFY(kPseudo.verify(wire));

    auto parsed = TcpHeader::parse(wire, &kPseudo);
    QVERIFY(!parsed);
    QCOMPARE(describeError(parsed.error()),
             describeError(
                 ParseError{ParseErrorCode::HeaderLengthOverrun, "tcp", "dataofs", 12, 60, 25}));

    // An override that happens to be right still round-trips through parse as auto.
    h.dataOffset = 5;
    auto again = TcpHeader::parse(emitToVector(h, payload, kPseudo), &kPseudo);
    QVERIFY(again);
    QVERIFY(!again->dataOffset);
}

void TstTcp::override_reservedBits_roundTrip() {
    TcpHeader h;
    h.srcPort = 80;
    h.dstPort = 50001;
    h.flags = tcp_flags::kSyn | tcp_flags::kAck | tcp_flags::kCwr;
    h.reserved = 0x9; // NS (historic, RFC 3540) and the top reserved bit
    const ByteVector wire = emitToVector(h, {}, kPseudo);
    QCOMPARE(wire[12], 0x59);
    QCOMPARE(wire[13], 0x92);

    Diagnostics diags;
    auto back = TcpHeader::parse(wire, &kPseudo, &diags);
    QVERIFY(back);
    QCOMPARE(back->reserved, 0x9);
    QCOMPARE(back->flags, std::uint8_t(0x92));
    QVERIFY(diags.has(Diagnostic::TcpReservedBitsSet));
    QVERIFY(!diags.has(Diagnostic::TcpChecksumBad));
    QVERIFY(*back == h);
    TCPLAB_COMPARE_BYTES(emitToVector(*back, {}, kPseudo), wire);
}

void TstTcp::override_optionWithWrongLength_roundTrips() {
    TcpHeader h;
    h.flags = tcp_flags::kSyn;
    // An MSS option whose length byte claims 6: it swallows the two NOPs after it.
    const ByteVector mss = test::hex("05b4");
    const TcpOption lying = TcpOption::raw(tcp_option_kind::kMss, mss, 6);
    QCOMPARE(lying.summary(), std::string("kind=2 len=6 [05b4]"));
    QCOMPARE(lying.wireLength(), 6);
    QVERIFY(h.options.append(lying));
    QVERIFY(h.options.append(TcpOption::nop()));
    QVERIFY(h.options.append(TcpOption::nop()));
    const ByteVector wire = emitToVector(h, {}, kPseudo);
    QCOMPARE(wire.size(), std::size_t{28});
    TCPLAB_COMPARE_BYTES(Bytes(wire).subspan(20), test::hex("020605b401010000"));

    Diagnostics diags;
    auto back = TcpHeader::parse(wire, &kPseudo, &diags);
    QVERIFY(back);
    QVERIFY(diags.empty());
    // A receiver reads one option of kind 2 with four data bytes: not an MSS.
    auto it = back->options.begin();
    QCOMPARE(it->kind, tcp_option_kind::kMss);
    QCOMPARE(it->data.size(), std::size_t{4});
    QVERIFY(!back->options.mss());
    QCOMPARE(it->summary(), std::string("kind=2 len=6 [05b40101]"));
    TCPLAB_COMPARE_BYTES(emitToVector(*back, {}, kPseudo), wire);

    // A length that overruns the area is emitted as set, and parse refuses it.
    TcpHeader bad;
    QVERIFY(bad.options.append(TcpOption::raw(tcp_option_kind::kMss, mss, 40)));
    const ByteVector badWire = emitToVector(bad, {}, kPseudo);
    TCPLAB_COMPARE_BYTES(Bytes(badWire).subspan(20), test::hex("022805b4"));
    auto refused = TcpHeader::parse(badWire, &kPseudo);
    QVERIFY(!refused);
    QCOMPARE(describeError(refused.error()),
             describeError(ParseError{ParseErrorCode::OptionOverrun, "tcp", "options", 20, 40, 4}));
}

void TstTcp::checksum_partialOffloadValue_isDetected() {
    const auto v4 = frames("linux_tcp_ipv4.pcap");
    QVERIFY(v4.size() >= 6);
    const Segment s = ipv4Segment(v4[5]);
    ByteVector offloaded = s.bytes;
    const std::uint16_t partial = s.pseudo.partialChecksum(offloaded.size());
    store16(offloaded.data() + 16, partial);

    Diagnostics diags;
    auto h = TcpHeader::parse(offloaded, &s.pseudo, &diags);
    QVERIFY(h);
    QCOMPARE(h->checksum, std::optional<std::uint16_t>(partial));
    QVERIFY(diags.has(Diagnostic::TcpChecksumPartial));
    QVERIFY(!diags.has(Diagnostic::TcpChecksumBad));
    TCPLAB_COMPARE_BYTES(emitToVector(*h, payloadOf(s, *h), s.pseudo), offloaded);

    // Off by one is just bad.
    store16(offloaded.data() + 16, static_cast<std::uint16_t>(partial + 1));
    diags = {};
    QVERIFY(TcpHeader::parse(offloaded, &s.pseudo, &diags));
    QVERIFY(diags.has(Diagnostic::TcpChecksumBad));
    QVERIFY(!diags.has(Diagnostic::TcpChecksumPartial));
}

void TstTcp::checksum_negativeZero_keptVerbatim() {
    // Make a segment whose checksum computes to 0x0000: with window 0 the checksum is C,
    // and adding C into the sum (as the window) brings the sum to 0xffff.
    TcpHeader h;
    h.srcPort = 4242;
    h.dstPort = 80;
    h.seq = SeqNum(7);
    h.flags = tcp_flags::kAck;
    h.window = 0;
    const ByteVector first = emitToVector(h, {}, kPseudo);
    h.window = load16(first.data() + 16);
    ByteVector wire = emitToVector(h, {}, kPseudo);
    QCOMPARE(load16(wire.data() + 16), 0x0000);

    // 0xffff is the same ones' complement value (-0): it verifies, and is kept so the
    // bytes re-emit as they were.
    store16(wire.data() + 16, 0xffff);
    Diagnostics diags;
    auto back = TcpHeader::parse(wire, &kPseudo, &diags);
    QVERIFY(back);
    QVERIFY(diags.empty());
    QCOMPARE(back->checksum, std::optional<std::uint16_t>(0xffff));
    TCPLAB_COMPARE_BYTES(emitToVector(*back, {}, kPseudo), wire);
}

void TstTcp::checksum_withoutPseudo_keptAsRead() {
    const auto v4 = frames("linux_tcp_ipv4.pcap");
    QVERIFY(v4.size() >= 3);
    const Segment s = ipv4Segment(v4[2]);
    Diagnostics diags;
    auto h = TcpHeader::parse(s.span(), nullptr, &diags);
    QVERIFY(h);
    QCOMPARE(h->checksum, std::optional<std::uint16_t>(0x1a6e));
    QVERIFY(diags.empty());
    // Any pseudo-header then reproduces the captured bytes: the checksum is an override.
    TCPLAB_COMPARE_BYTES(emitToVector(*h, {}, kPseudo), s.bytes);
}

void TstTcp::diagnostics_synFinAndUrgentWithoutUrg() {
    TcpHeader h;
    h.flags = tcp_flags::kSyn | tcp_flags::kFin;
    h.urgentPointer = 5;
    Diagnostics diags;
    auto back = TcpHeader::parse(emitToVector(h, {}, kPseudo), &kPseudo, &diags);
    QVERIFY(back);
    QVERIFY(diags.has(Diagnostic::TcpSynFin));
    QVERIFY(diags.has(Diagnostic::TcpUrgentWithoutUrg));
    QVERIFY(!diags.has(Diagnostic::TcpChecksumBad));
    QVERIFY(!diags.has(Diagnostic::TcpReservedBitsSet));
    QCOMPARE(back->urgentPointer, 5);

    // URG set: the pointer means something; SYN alone: no SYN+FIN.
    h.flags = tcp_flags::kSyn | tcp_flags::kUrg;
    diags = {};
    QVERIFY(TcpHeader::parse(emitToVector(h, {}, kPseudo), &kPseudo, &diags));
    QVERIFY(diags.empty());
    // FIN alone is fine too.
    h.flags = tcp_flags::kFin;
    h.urgentPointer = 0;
    diags = {};
    QVERIFY(TcpHeader::parse(emitToVector(h, {}, kPseudo), &kPseudo, &diags));
    QVERIFY(diags.empty());
}

void TstTcp::diagnostics_addToCallersSet() {
    // The frame decoder collects every layer's diagnostics in one set: parse adds, it
    // does not replace.
    TcpHeader h;
    h.flags = tcp_flags::kSyn | tcp_flags::kFin;
    Diagnostics diags;
    diags.set(Diagnostic::Ipv4ChecksumBad);
    QVERIFY(TcpHeader::parse(emitToVector(h, {}, kPseudo), &kPseudo, &diags));
    QVERIFY(diags.has(Diagnostic::Ipv4ChecksumBad));
    QVERIFY(diags.has(Diagnostic::TcpSynFin));
}

void TstTcp::emit_paddingIsZero_andReturnsLength() {
    TcpHeader h;
    QVERIFY(h.options.append(TcpOption::windowScale(7))); // 3 bytes, padded to 4
    QCOMPARE(h.headerLength(), std::size_t{24});
    const ByteVector payload = test::hex("aabbcc");
    ByteVector out(40, 0xee);
    QCOMPARE(h.emit(out.data(), payload, kPseudo), std::size_t{27});
    QCOMPARE(out[12], 0x60);
    TCPLAB_COMPARE_BYTES(Bytes(out).subspan(20, 7), test::hex("030307"
                                                              "00"
                                                              "aabbcc"));
    QCOMPARE(out[27], 0xee); // nothing written past the segment
    QVERIFY(kPseudo.verify(Bytes(out).first(27)));
    // Default header: 20 bytes, data offset 5, window 64240.
    TCPLAB_COMPARE_BYTES(emitToVector(TcpHeader{}, {}, kPseudo, 0xff),
                         emitToVector(TcpHeader{}, {}, kPseudo, 0x00));
    const ByteVector plain = emitToVector(TcpHeader{}, {}, kPseudo);
    QCOMPARE(plain.size(), std::size_t{20});
    QCOMPARE(plain[12], 0x50);
    QCOMPARE(load16(plain.data() + 14), 64240);
}

void TstTcp::sequenceLength_countsSynAndFin() {
    TcpHeader h;
    QCOMPARE(h.sequenceLength(10), 10u);
    h.flags = tcp_flags::kSyn;
    QCOMPARE(h.sequenceLength(0), 1u);
    h.flags = tcp_flags::kFin | tcp_flags::kAck;
    QCOMPARE(h.sequenceLength(18), 19u);
    h.flags = tcp_flags::kSyn | tcp_flags::kFin;
    QCOMPARE(h.sequenceLength(0), 2u);
}

void TstTcp::flagsToString_data() {
    QTest::addColumn<int>("flags");
    QTest::addColumn<QString>("text");
    QTest::newRow("none") << 0x00 << "";
    QTest::newRow("SYN") << 0x02 << "S";
    QTest::newRow("SYN|ACK") << 0x12 << "SA";
    QTest::newRow("PSH|ACK") << 0x18 << "PA";
    QTest::newRow("FIN|ACK") << 0x11 << "FA";
    QTest::newRow("RST") << 0x04 << "R";
    QTest::newRow("RST|ACK") << 0x14 << "RA";
    QTest::newRow("SYN|ECE|CWR") << 0xc2 << "SEC";
    QTest::newRow("URG|ACK") << 0x30 << "AU";
    QTest::newRow("all") << 0xff << "FSRPAUEC";
}

void TstTcp::flagsToString() {
    QFETCH(int, flags);
    QFETCH(QString, text);
    QCOMPARE(QString::fromStdString(tcpFlagsToString(static_cast<std::uint8_t>(flags))), text);
}

void TstTcp::parseFlags_data() {
    QTest::addColumn<QString>("text");
    QTest::addColumn<int>("flags");
    QTest::newRow("empty") << "" << 0;
    QTest::newRow("S") << "S" << 0x02;
    QTest::newRow("SA") << "SA" << 0x12;
    QTest::newRow("AS, any order") << "AS" << 0x12;
    QTest::newRow("duplicates") << "SSAA" << 0x12;
    QTest::newRow("PA") << "PA" << 0x18;
    QTest::newRow("FA") << "FA" << 0x11;
    QTest::newRow("all shuffled") << "CEUAPRSF" << 0xff;
    QTest::newRow("spaces around") << " PA " << 0x18;
    QTest::newRow("decimal") << "18" << 0x12;
    QTest::newRow("decimal 0") << "0" << 0;
    QTest::newRow("decimal 255") << "255" << 0xff;
    QTest::newRow("hex") << "0x12" << 0x12;
    QTest::newRow("hex upper") << "0XFF" << 0xff;
    QTest::newRow("hex leading zeros") << "0x0002" << 0x02;
}

void TstTcp::parseFlags() {
    QFETCH(QString, text);
    QFETCH(int, flags);
    auto parsed = parseTcpFlags(text.toStdString());
    QVERIFY2(parsed, parsed ? "" : parsed.error().c_str());
    QCOMPARE(int(*parsed), flags);
}

void TstTcp::parseFlags_errorsNameTheCharacter_data() {
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("mentions");
    QTest::newRow("unknown letter") << "SX"
                                    << "'X'";
    QTest::newRow("lower case") << "sa"
                                << "'s'";
    QTest::newRow("scapy's N (NS) is not a flag here") << "SN"
                                                       << "'N'";
    QTest::newRow("separator") << "S|A"
                               << "'|'";
    QTest::newRow("inner space") << "S A"
                                 << "' '";
    QTest::newRow("letter in a decimal") << "1a"
                                         << "'a'";
    QTest::newRow("bad hex digit") << "0x1g"
                                   << "'g'";
    QTest::newRow("above 255") << "256"
                               << "255";
    QTest::newRow("hex above 255") << "0x100"
                                   << "255";
    QTest::newRow("huge") << "99999999999999999999"
                          << "255";
    QTest::newRow("hex prefix only") << "0x"
                                     << "0x";
}

void TstTcp::parseFlags_errorsNameTheCharacter() {
    QFETCH(QString, text);
    QFETCH(QString, mentions);
    auto parsed = parseTcpFlags(text.toStdString());
    QVERIFY(!parsed);
    QVERIFY2(QString::fromStdString(parsed.error()).contains(mentions), parsed.error().c_str());
}

void TstTcp::flags_everyValueRoundTrips() {
    for (unsigned v = 0; v < 256; ++v) {
        const auto flags = static_cast<std::uint8_t>(v);
        const std::string text = tcpFlagsToString(flags);
        QCOMPARE(text.size(), static_cast<std::size_t>(std::popcount(v)));
        auto back = parseTcpFlags(text);
        QVERIFY(back);
        QCOMPARE(*back, flags);
        auto number = parseTcpFlags(std::to_string(v));
        QVERIFY(number);
        QCOMPARE(*number, flags);
    }
}

void TstTcp::flagsToWords() {
    QCOMPARE(tcpFlagsToWords(0x12), std::string("SYN, ACK"));
    QCOMPARE(tcpFlagsToWords(0x18), std::string("PSH, ACK"));
    QCOMPARE(tcpFlagsToWords(0x11), std::string("FIN, ACK"));
    QCOMPARE(tcpFlagsToWords(0x04), std::string("RST"));
    QCOMPARE(tcpFlagsToWords(0xc0), std::string("ECE, CWR"));
    QCOMPARE(tcpFlagsToWords(0x00), std::string("none"));
    QCOMPARE(tcpFlagsToWords(0xff), std::string("FIN, SYN, RST, PSH, ACK, URG, ECE, CWR"));
}

QTEST_GUILESS_MAIN(TstTcp)
#include "tst_tcp.moc"
