// TcpOption and TcpOptionList: named constructors, accessors, names and summaries,
// structure validation and the quiet iterator.
//
// Wire bytes marked "scapy" were produced with scapy 2.5 as an independent oracle:
//   raw(TCP(options=[...]))[20:].hex()
// The SYN options come from tests/data/captures/linux_tcp_ipv4.pcap frame 3 (see
// tests/data/captures/capture.sh).

#include "tests_support/test_support.h"

#include "wire/tcp.h"

#include <QObject>
#include <QTest>

#include <string>
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

ByteVector wireOf(const TcpOption& o) {
    TcpOptionList list;
    if (!list.append(o))
        return {};
    return ByteVector(list.bytes().begin(), list.bytes().end());
}

std::vector<std::string> summaries(const TcpOptionList& list) {
    std::vector<std::string> out;
    for (const TcpOption& o : list)
        out.push_back(o.summary());
    return out;
}

QByteArray qbytes(const ByteVector& b) {
    return QByteArray(reinterpret_cast<const char*>(b.data()), static_cast<qsizetype>(b.size()));
}

} // namespace

class TstTcpOptions : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void namedConstructors_wireBytes_data();
    void namedConstructors_wireBytes();
    void sack_atMostFourBlocks();
    void accessors_readBackValues();
    void accessors_nulloptWhenKindOrSizeDisagree();
    void names_areScapys();
    void summary_data();
    void summary();
    void raw_keepsKindLengthAndData();

    void fromBytes_realSyn_iteratesEveryOption();
    void fromBytes_roundTripsThroughAppend();
    void fromBytes_malformed_data();
    void fromBytes_malformed();
    void fromBytes_stopsAtEol_paddingNotParsed();
    void fromRawBytes_iteratorStopsQuietlyAtBrokenBytes();
    void append_refusesWhatDoesNotFit();
    void paddedSize_roundsUpToFour();
    void lookups_findFirstOfKind();
};

void TstTcpOptions::namedConstructors_wireBytes_data() {
    QTest::addColumn<int>("which");
    QTest::addColumn<QByteArray>("wire");
    QTest::newRow("EOL") << 0 << qbytes(test::hex("00"));
    QTest::newRow("NOP") << 1 << qbytes(test::hex("01"));
    QTest::newRow("MSS 1460") << 2 << qbytes(test::hex("020405b4"));
    QTest::newRow("WS 7") << 3 << qbytes(test::hex("030307"));
    QTest::newRow("SACK_PERM") << 4 << qbytes(test::hex("0402"));
    // scapy: [('SAck', (1001, 2001, 3001, 4001))]
    QTest::newRow("SACK 2 blocks")
        << 5 << qbytes(test::hex("0512000003e9000007d100000bb900000fa1"));
    // scapy: [('Timestamp', (1, 0))]
    QTest::newRow("TS 1:0") << 8 << qbytes(test::hex("080a0000000100000000"));
}

void TstTcpOptions::namedConstructors_wireBytes() {
    QFETCH(int, which);
    QFETCH(QByteArray, wire);
    const SackBlock blocks[] = {{SeqNum(1001), SeqNum(2001)}, {SeqNum(3001), SeqNum(4001)}};
    TcpOption o;
    switch (which) {
    case 0:
        o = TcpOption::eol();
        break;
    case 1:
        o = TcpOption::nop();
        break;
    case 2:
        o = TcpOption::mss(1460);
        break;
    case 3:
        o = TcpOption::windowScale(7);
        break;
    case 4:
        o = TcpOption::sackPermitted();
        break;
    case 5:
        o = TcpOption::sack(blocks);
        break;
    case 8:
        o = TcpOption::timestamps(1, 0);
        break;
    default:
        QFAIL("no such constructor");
    }
    QCOMPARE(int(o.kind), which);
    QVERIFY(!o.length);
    const ByteVector expected(wire.begin(), wire.end());
    TCPLAB_COMPARE_BYTES(wireOf(o), expected);
    QCOMPARE(o.wireSize(), expected.size());
}

void TstTcpOptions::sack_atMostFourBlocks() {
    std::vector<SackBlock> blocks;
    for (std::uint32_t i = 0; i < 5; ++i)
        blocks.push_back({SeqNum(i * 100), SeqNum(i * 100 + 50)});
    const TcpOption o = TcpOption::sack(blocks);
    QCOMPARE(o.data.size(), std::size_t{32});
    QCOMPARE(o.wireLength(), 34);
    std::size_t count = 99;
    const auto read = o.sackBlocks(count);
    QCOMPARE(count, std::size_t{4});
    for (std::size_t i = 0; i < 4; ++i)
        QVERIFY(read[i] == blocks[i]);
    // Blocks across the wrap keep their raw values.
    const SackBlock wrap[] = {{SeqNum(0xfffffff0u), SeqNum(0x10)}};
    QCOMPARE(TcpOption::sack(wrap).summary(), std::string("SACK=4294967280-16"));
}

void TstTcpOptions::accessors_readBackValues() {
    QCOMPARE(TcpOption::mss(1460).mssValue(), std::optional<std::uint16_t>(1460));
    QCOMPARE(TcpOption::mss(0xffff).mssValue(), std::optional<std::uint16_t>(0xffff));
    QCOMPARE(TcpOption::windowScale(14).windowScaleValue(), std::optional<std::uint8_t>(14));
    QCOMPARE(TcpOption::timestamps(0xdeadbeef, 7).timestampsValue(),
             (std::optional<std::pair<std::uint32_t, std::uint32_t>>({0xdeadbeefu, 7u})));
    const SackBlock one[] = {{SeqNum(5), SeqNum(9)}};
    std::size_t count = 0;
    const auto blocks = TcpOption::sack(one).sackBlocks(count);
    QCOMPARE(count, std::size_t{1});
    QVERIFY(blocks[0] == one[0]);
}

void TstTcpOptions::accessors_nulloptWhenKindOrSizeDisagree() {
    using namespace tcp_option_kind;
    const ByteVector three = test::hex("05b400");
    QVERIFY(!TcpOption::raw(kMss, three).mssValue());
    QVERIFY(!TcpOption::windowScale(7).mssValue());
    QVERIFY(!TcpOption::mss(1460).windowScaleValue());
    QVERIFY(!TcpOption::raw(kWindowScale, test::hex("0707")).windowScaleValue());
    QVERIFY(!TcpOption::raw(kTimestamps, test::hex("00000001000000")).timestampsValue());
    QVERIFY(!TcpOption::mss(1).timestampsValue());
    std::size_t count = 7;
    TcpOption::raw(kSack, test::hex("00000001000000")).sackBlocks(count);
    QCOMPARE(count, std::size_t{0});
    count = 7;
    TcpOption::raw(kSack, {}).sackBlocks(count); // SACK needs at least one block
    QCOMPARE(count, std::size_t{0});
    count = 7;
    TcpOption::timestamps(1, 2).sackBlocks(count);
    QCOMPARE(count, std::size_t{0});
}

void TstTcpOptions::names_areScapys() {
    QCOMPARE(TcpOption::eol().name(), std::string_view("EOL"));
    QCOMPARE(TcpOption::nop().name(), std::string_view("NOP"));
    QCOMPARE(TcpOption::mss(1).name(), std::string_view("MSS"));
    QCOMPARE(TcpOption::windowScale(1).name(), std::string_view("WScale"));
    QCOMPARE(TcpOption::sackPermitted().name(), std::string_view("SAckOK"));
    QCOMPARE(TcpOption::sack({}).name(), std::string_view("SAck"));
    QCOMPARE(TcpOption::timestamps(1, 0).name(), std::string_view("Timestamp"));
    QCOMPARE(TcpOption::raw(254, {}).name(), std::string_view(""));
    QCOMPARE(TcpOption::raw(6, {}).name(), std::string_view(""));
}

void TstTcpOptions::summary_data() {
    QTest::addColumn<QByteArray>("wire");
    QTest::addColumn<QString>("summary");
    QTest::newRow("MSS") << qbytes(test::hex("020405b4")) << "MSS=1460";
    QTest::newRow("WS") << qbytes(test::hex("030307")) << "WS=7";
    QTest::newRow("SACK_PERM") << qbytes(test::hex("0402")) << "SACK_PERM";
    QTest::newRow("SACK") << qbytes(test::hex("0512000003e9000007d100000bb900000fa1"))
                          << "SACK=1001-2001,3001-4001";
    QTest::newRow("TS") << qbytes(test::hex("080a0000000100000000")) << "TS=1:0";
    QTest::newRow("EOL") << qbytes(test::hex("00")) << "EOL";
    QTest::newRow("NOP") << qbytes(test::hex("01")) << "NOP";
    // scapy: [(254, b'\x0a\x0b')]
    QTest::newRow("unknown") << qbytes(test::hex("fe040a0b")) << "kind=254 len=4 [0a0b]";
    QTest::newRow("unknown, no data") << qbytes(test::hex("fe02")) << "kind=254 len=2 []";
    QTest::newRow("MSS of 3 bytes") << qbytes(test::hex("020505b400")) << "kind=2 len=5 [05b400]";
    QTest::newRow("SACK_PERM with data") << qbytes(test::hex("040301")) << "kind=4 len=3 [01]";
    QTest::newRow("SACK of 7 bytes")
        << qbytes(test::hex("050901020304050607")) << "kind=5 len=9 [01020304050607]";
}

void TstTcpOptions::summary() {
    QFETCH(QByteArray, wire);
    QFETCH(QString, summary);
    const ByteVector bytes(wire.begin(), wire.end());
    auto list = TcpOptionList::fromBytes(bytes);
    QVERIFY2(list, list ? "" : list.error().message().c_str());
    auto it = list->begin();
    QVERIFY(it != list->end());
    QCOMPARE(QString::fromStdString(it->summary()), summary);
    ++it;
    QVERIFY(it == list->end());
}

void TstTcpOptions::raw_keepsKindLengthAndData() {
    // A length override goes on the wire verbatim, with the data as it is.
    const TcpOption lying = TcpOption::raw(tcp_option_kind::kMss, test::hex("05b4"), 3);
    TCPLAB_COMPARE_BYTES(wireOf(lying), test::hex("020305b4"));
    QCOMPARE(lying.summary(), std::string("kind=2 len=3 [05b4]"));
    // A right override is just the value.
    QCOMPARE(TcpOption::raw(tcp_option_kind::kMss, test::hex("05b4"), 4).summary(),
             std::string("MSS=1460"));
    // Data beyond 38 bytes cannot be carried and is cut.
    const TcpOption big = TcpOption::raw(254, ByteVector(50, 0x11));
    QCOMPARE(big.data.size(), TcpOption::kMaxData);
    QCOMPARE(big.wireLength(), 40);
    // Length of an EOL/NOP is not written: they are one byte.
    TcpOption nop = TcpOption::nop();
    nop.length = 9;
    TCPLAB_COMPARE_BYTES(wireOf(nop), test::hex("01"));
}

void TstTcpOptions::fromBytes_realSyn_iteratesEveryOption() {
    std::string error;
    const auto v4 = test::readPcap("captures/linux_tcp_ipv4.pcap", &error);
    QVERIFY2(v4.size() >= 3, error.c_str());
    const Bytes area = Bytes(v4[2]).subspan(34 + 20, 20);
    auto list = TcpOptionList::fromBytes(area);
    QVERIFY(list);
    QCOMPARE(summaries(*list), (std::vector<std::string>{"MSS=1460", "SACK_PERM", "TS=3222837068:0",
                                                         "NOP", "WS=10"}));
    std::vector<std::size_t> offsets;
    for (auto it = list->begin(); it != list->end(); it++)
        offsets.push_back(it.offset());
    QCOMPARE(offsets, (std::vector<std::size_t>{0, 4, 6, 16, 17}));
    TCPLAB_COMPARE_BYTES(list->bytes(), area);
    QVERIFY(!list->nonZeroAfterEol());
    QVERIFY(!list->eolOffset());
}

void TstTcpOptions::fromBytes_roundTripsThroughAppend() {
    // scapy: [('MSS', 1460), ('WScale', 7), ('SAckOK', b''), ('Timestamp', (1, 0))] + EOL pad
    const ByteVector area = test::hex("020405b40303070402080a000000010000000000");
    auto list = TcpOptionList::fromBytes(area);
    QVERIFY(list);
    TcpOptionList rebuilt;
    for (const TcpOption& o : *list)
        QVERIFY(rebuilt.append(o));
    // 19 bytes of options, then the padding byte, which the iterator yields as EOL.
    QCOMPARE(summaries(*list),
             (std::vector<std::string>{"MSS=1460", "WS=7", "SACK_PERM", "TS=1:0", "EOL"}));
    QCOMPARE(list->eolOffset(), std::optional<std::size_t>(19));
    TCPLAB_COMPARE_BYTES(rebuilt.bytes(), area);
    QVERIFY(rebuilt == *list);
}

void TstTcpOptions::fromBytes_malformed_data() {
    QTest::addColumn<QByteArray>("area");
    QTest::addColumn<uint>("areaOffset");
    QTest::addColumn<int>("code");
    QTest::addColumn<uint>("offset");
    QTest::addColumn<uint>("expected");
    QTest::addColumn<uint>("actual");
    const int invalid = int(ParseErrorCode::OptionLengthInvalid);
    const int overrun = int(ParseErrorCode::OptionOverrun);
    QTest::newRow("length 0") << qbytes(test::hex("0200")) << 20u << invalid << 20u << 2u << 0u;
    QTest::newRow("length 1") << qbytes(test::hex("fe01")) << 20u << invalid << 20u << 2u << 1u;
    QTest::newRow("length 1 after NOPs")
        << qbytes(test::hex("01010301")) << 20u << invalid << 22u << 2u << 1u;
    QTest::newRow("overrun") << qbytes(test::hex("020805b4")) << 20u << overrun << 20u << 8u << 4u;
    QTest::newRow("length byte missing")
        << qbytes(test::hex("010101fe")) << 20u << overrun << 23u << 2u << 1u;
    QTest::newRow("lone MSS kind") << qbytes(test::hex("02")) << 20u << overrun << 20u << 2u << 1u;
    QTest::newRow("area offset 0")
        << qbytes(test::hex("0101020a05b4")) << 0u << overrun << 2u << 10u << 4u;
    QTest::newRow("more than 40 bytes")
        << qbytes(ByteVector(41, 0x01)) << 20u << overrun << 60u << 40u << 41u;
}

void TstTcpOptions::fromBytes_malformed() {
    QFETCH(QByteArray, area);
    QFETCH(uint, areaOffset);
    QFETCH(int, code);
    QFETCH(uint, offset);
    QFETCH(uint, expected);
    QFETCH(uint, actual);
    const ByteVector bytes(area.begin(), area.end());
    auto list = TcpOptionList::fromBytes(bytes, areaOffset);
    QVERIFY(!list);
    QCOMPARE(describeError(list.error()),
             describeError(ParseError{static_cast<ParseErrorCode>(code), "tcp", "options", offset,
                                      expected, actual}));

    // The same bytes taken raw never break iteration: it ends, and before the bad option.
    const TcpOptionList raw = TcpOptionList::fromRawBytes(bytes);
    std::size_t n = 0;
    for (auto it = raw.begin(); it != raw.end(); ++it) {
        QVERIFY(it.offset() + areaOffset < offset);
        QVERIFY(++n <= bytes.size());
    }
}

void TstTcpOptions::fromBytes_stopsAtEol_paddingNotParsed() {
    // After EOL, "02 00" would be an invalid option: it is padding and not parsed.
    const ByteVector area = test::hex("020405b4000200ff");
    auto list = TcpOptionList::fromBytes(area);
    QVERIFY(list);
    TCPLAB_COMPARE_BYTES(list->bytes(), area); // exact bytes kept
    QCOMPARE(summaries(*list), (std::vector<std::string>{"MSS=1460", "EOL"}));
    QCOMPARE(list->eolOffset(), std::optional<std::size_t>(4));
    QVERIFY(list->nonZeroAfterEol());

    auto clean = TcpOptionList::fromBytes(test::hex("01000000"));
    QVERIFY(clean);
    QCOMPARE(summaries(*clean), (std::vector<std::string>{"NOP", "EOL"}));
    QVERIFY(!clean->nonZeroAfterEol());
    // An EOL as the last byte has nothing after it.
    auto last = TcpOptionList::fromBytes(test::hex("01010100"));
    QVERIFY(last);
    QVERIFY(!last->nonZeroAfterEol());
}

void TstTcpOptions::fromRawBytes_iteratorStopsQuietlyAtBrokenBytes() {
    const TcpOptionList broken = TcpOptionList::fromRawBytes(test::hex("0101020005b4"));
    QCOMPARE(summaries(broken), (std::vector<std::string>{"NOP", "NOP"}));
    QVERIFY(!broken.mss());
    QVERIFY(!broken.nonZeroAfterEol());
    TCPLAB_COMPARE_BYTES(broken.bytes(), test::hex("0101020005b4"));

    const TcpOptionList overrun = TcpOptionList::fromRawBytes(test::hex("030307080a00"));
    QCOMPARE(summaries(overrun), (std::vector<std::string>{"WS=7"}));
    QCOMPARE(overrun.windowScale(), std::optional<std::uint8_t>(7));
    QVERIFY(!overrun.timestamps());

    const TcpOptionList brokenFirst = TcpOptionList::fromRawBytes(test::hex("fe"));
    QVERIFY(brokenFirst.begin() == brokenFirst.end());
    QVERIFY(TcpOptionList().begin() == TcpOptionList().end());

    // Raw lists hold at most 40 bytes.
    QCOMPARE(TcpOptionList::fromRawBytes(ByteVector(60, 1)).byteSize(), std::size_t{40});
}

void TstTcpOptions::append_refusesWhatDoesNotFit() {
    TcpOptionList list;
    for (int i = 0; i < 4; ++i)
        QVERIFY(list.append(TcpOption::timestamps(1, 2)));
    QCOMPARE(list.byteSize(), std::size_t{40});
    const TcpOptionList before = list;
    QVERIFY(!list.append(TcpOption::nop()));
    QVERIFY(list == before);
    list.clear();
    QVERIFY(list.empty());
    for (int i = 0; i < 39; ++i)
        QVERIFY(list.append(TcpOption::nop()));
    QVERIFY(!list.append(TcpOption::sackPermitted()));
    QVERIFY(list.append(TcpOption::eol()));
    QCOMPARE(list.byteSize(), std::size_t{40});
}

void TstTcpOptions::paddedSize_roundsUpToFour() {
    TcpOptionList list;
    QCOMPARE(list.paddedSize(), std::size_t{0});
    QVERIFY(list.append(TcpOption::nop()));
    QCOMPARE(list.paddedSize(), std::size_t{4});
    QVERIFY(list.append(TcpOption::windowScale(3)));
    QCOMPARE(list.paddedSize(), std::size_t{4});
    QVERIFY(list.append(TcpOption::nop()));
    QCOMPARE(list.paddedSize(), std::size_t{8});
}

void TstTcpOptions::lookups_findFirstOfKind() {
    TcpOptionList list;
    QVERIFY(!list.mss());
    QVERIFY(!list.windowScale());
    QVERIFY(!list.sackPermitted());
    QVERIFY(!list.timestamps());
    QVERIFY(list.append(TcpOption::nop()));
    QVERIFY(list.append(TcpOption::mss(536)));
    QVERIFY(list.append(TcpOption::mss(1460)));
    QVERIFY(list.append(TcpOption::windowScale(2)));
    QVERIFY(list.append(TcpOption::sackPermitted()));
    QVERIFY(list.append(TcpOption::timestamps(10, 20)));
    QCOMPARE(list.mss(), std::optional<std::uint16_t>(536));
    QCOMPARE(list.windowScale(), std::optional<std::uint8_t>(2));
    QVERIFY(list.sackPermitted());
    QCOMPARE(list.timestamps()->second, 20u);

    // Options after an EOL are padding: not found.
    TcpOptionList afterEol;
    QVERIFY(afterEol.append(TcpOption::eol()));
    QVERIFY(afterEol.append(TcpOption::mss(1460)));
    QVERIFY(!afterEol.mss());
    QVERIFY(afterEol.nonZeroAfterEol());
}

QTEST_GUILESS_MAIN(TstTcpOptions)
#include "tst_tcp_options.moc"
