// SeqNum: modular sequence-number arithmetic and comparison (RFC 9293 §3.4, RFC 1982).

#include <QObject>
#include <QTest>

#include "wire/seq_num.h"

#include <cstdint>
#include <limits>

using tcplab::wire::SeqNum;

namespace {
constexpr std::uint32_t kMax = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint32_t kHalf = 0x80000000u; // 2^31
} // namespace

class TstSeqNum : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void arithmetic_wrapsAt2To32();
    void comparison_data();
    void comparison();
    void comparison_isModularAcrossTheWrap();
    void distance_signTellsTheOrder();
    void halfSpaceApart_neitherIsLess();
    void inWindow_edges_data();
    void inWindow_edges();
    void constexprUsable();
};

void TstSeqNum::arithmetic_wrapsAt2To32() {
    QCOMPARE(SeqNum(kMax) + 1, SeqNum(0));
    QCOMPARE(SeqNum(0) - 1, SeqNum(kMax));
    QCOMPARE(SeqNum(10) + -20, SeqNum(kMax - 9));
    QCOMPARE(SeqNum(kMax - 4) + 10, SeqNum(5));
    // Adding a full turn changes nothing; sizes above 2^32 wrap too.
    QCOMPARE(SeqNum(1234) + (std::int64_t{1} << 32), SeqNum(1234));
    SeqNum s(kMax);
    s += 2;
    QCOMPARE(s, SeqNum(1));
    QCOMPARE(s.value(), 1u);
    QVERIFY(SeqNum(7) != SeqNum(8));
}

void TstSeqNum::comparison_data() {
    QTest::addColumn<uint>("a");
    QTest::addColumn<uint>("b");
    QTest::addColumn<bool>("less"); // a < b
    QTest::newRow("plain") << 1u << 2u << true;
    QTest::newRow("plain reversed") << 2u << 1u << false;
    QTest::newRow("equal") << 5u << 5u << false;
    QTest::newRow("max before 0") << kMax << 0u << true;
    QTest::newRow("0 after max") << 0u << kMax << false;
    QTest::newRow("across the wrap") << 0xfffffff0u << 5u << true;
    QTest::newRow("just under half ahead") << 0u << (kHalf - 1) << true;
    QTest::newRow("just over half ahead is behind") << 0u << (kHalf + 1) << false;
    QTest::newRow("ISN near the top, data past the wrap") << 4294967000u << 1000u << true;
}

void TstSeqNum::comparison() {
    QFETCH(uint, a);
    QFETCH(uint, b);
    QFETCH(bool, less);
    const SeqNum x(a), y(b);
    QCOMPARE(x < y, less);
    QCOMPARE(y > x, less);
    QCOMPARE(x >= y, !less);
    QCOMPARE(y <= x, !less);
    if (a != b) {
        // Within half the space exactly one order holds.
        QCOMPARE(y < x, !less);
        QCOMPARE(x <= y, less);
    } else {
        QVERIFY(x <= y && x >= y);
    }
}

void TstSeqNum::comparison_isModularAcrossTheWrap() {
    // A window that straddles 2^32: raw uint32_t comparison gets every one of these wrong.
    const SeqNum una(kMax - 100);
    const SeqNum nxt = una + 300; // 199 after the wrap
    QCOMPARE(nxt.value(), 199u);
    QVERIFY(una < nxt);
    QVERIFY(!(nxt < una));
    QVERIFY(una + 150 > una);
    QVERIFY(una + 150 < nxt);
    QVERIFY(nxt - 300 == una);
}

void TstSeqNum::distance_signTellsTheOrder() {
    QCOMPARE(SeqNum(5) - SeqNum(0xfffffffbu), 10);
    QCOMPARE(SeqNum(0xfffffffbu) - SeqNum(5), -10);
    QCOMPARE(SeqNum(100) - SeqNum(100), 0);
    QCOMPARE(SeqNum(kHalf - 1) - SeqNum(0), std::numeric_limits<std::int32_t>::max());
    QCOMPARE(SeqNum(0) - SeqNum(kHalf - 1), -std::numeric_limits<std::int32_t>::max());
    // The sign agrees with <.
    for (std::uint32_t d : {1u, 1000u, kHalf - 1}) {
        const SeqNum a(0xfffff000u), b = a + d;
        QVERIFY(b - a > 0);
        QVERIFY(a < b);
        QVERIFY(a - b < 0);
    }
}

void TstSeqNum::halfSpaceApart_neitherIsLess() {
    // RFC 1982 §3.2: for two numbers exactly 2^31 apart the comparison is undefined;
    // seq_num.h documents that neither is less (nor greater) then.
    for (std::uint32_t base : {0u, 1u, 12345u, kHalf, kMax}) {
        const SeqNum a(base), b = a + kHalf;
        QVERIFY(a != b);
        QVERIFY2(!(a < b), qPrintable(QString("base %1").arg(base)));
        QVERIFY(!(b < a));
        QVERIFY(!(a > b));
        QVERIFY(!(b > a));
        // The distance is the one value int32_t has no positive twin for; it is the same
        // both ways, so its sign cannot order the pair either.
        QCOMPARE(b - a, std::numeric_limits<std::int32_t>::min());
        QCOMPARE(a - b, std::numeric_limits<std::int32_t>::min());
        // Still reachable by arithmetic both ways.
        QCOMPARE(b + kHalf, a);
    }
}

void TstSeqNum::inWindow_edges_data() {
    QTest::addColumn<uint>("x");
    QTest::addColumn<uint>("start");
    QTest::addColumn<uint>("size");
    QTest::addColumn<bool>("inside");
    QTest::newRow("left edge") << 1000u << 1000u << 10u << true;
    QTest::newRow("right edge, last in") << 1009u << 1000u << 10u << true;
    QTest::newRow("one past the right edge") << 1010u << 1000u << 10u << false;
    QTest::newRow("one before the left edge") << 999u << 1000u << 10u << false;
    QTest::newRow("empty window holds nothing") << 1000u << 1000u << 0u << false;
    QTest::newRow("size 1") << 1000u << 1000u << 1u << true;
    QTest::newRow("wrap: top") << kMax << 0xfffffff0u << 0x20u << true;
    QTest::newRow("wrap: 0") << 0u << 0xfffffff0u << 0x20u << true;
    QTest::newRow("wrap: last in") << 0x0fu << 0xfffffff0u << 0x20u << true;
    QTest::newRow("wrap: one past") << 0x10u << 0xfffffff0u << 0x20u << false;
    QTest::newRow("wrap: one before") << 0xffffffefu << 0xfffffff0u << 0x20u << false;
    QTest::newRow("largest window, just before start") << 99u << 100u << kMax << false;
    QTest::newRow("largest window, far end") << 98u << 100u << kMax << true;
}

void TstSeqNum::inWindow_edges() {
    QFETCH(uint, x);
    QFETCH(uint, start);
    QFETCH(uint, size);
    QFETCH(bool, inside);
    QCOMPARE(SeqNum(x).inWindow(SeqNum(start), size), inside);
}

void TstSeqNum::constexprUsable() {
    static_assert(SeqNum(kMax) + 1 == SeqNum(0));
    static_assert(SeqNum(kMax) < SeqNum(0));
    static_assert(SeqNum(3).inWindow(SeqNum(kMax), 5));
    QVERIFY(true);
}

QTEST_GUILESS_MAIN(TstSeqNum)
#include "tst_seq_num.moc"
