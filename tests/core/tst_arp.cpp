// ARP for Ethernet/IPv4 (RFC 826): the five checks on real captured frames, malformed
// input, and every prefix of every captured frame.
//
// Fixtures: tests/data/captures/linux_tcp_ipv4.pcap (tests/data/captures/capture.sh):
// frame 1 is the client's who-has 198.18.0.1 tell 198.18.0.2 from 02:00:00:00:00:0a,
// frame 2 the server's reply 198.18.0.1 is-at 02:00:00:00:00:0b. Captured on the
// sending side of a veth, so neither carries Ethernet padding.

#include "tests_support/test_support.h"
#include "wire/arp.h"
#include "wire/ethernet.h"

#include <QObject>
#include <QTest>

#include <vector>

#include <fmt/format.h>

using namespace tcplab;
using namespace tcplab::wire;
using tcplab::test::ByteVector;
using tcplab::test::errorOf;
using tcplab::test::hex;
using tcplab::test::names;
using tcplab::test::prefixOf;
using tcplab::test::qs;

namespace {

const MacAddress kClientMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x0a}};
const MacAddress kServerMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x0b}};
const Ipv4Address kClientIp{{198, 18, 0, 2}};
const Ipv4Address kServerIp{{198, 18, 0, 1}};

wire::Bytes arpBytes(const ByteVector& frame) {
    return wire::Bytes(frame).subspan(EthernetHeader::kLength);
}
} // namespace

class TestArp : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();

    void captured_readsEveryField();
    void captured_buildFromFields_emitsCapturedBytes();
    void captured_parse_equalsHandBuiltPacket();
    void captured_emit_reproducesBothFrames();
    void truncated_failsNamingTheMissingField();
    void malformed_data();
    void malformed();
    void everyPrefix_failsTruncatedOrParses();
    void everyPrefixOfEveryFrame_neverCrashes();

    void parse_ignoresEthernetPadding();
    void parse_recordsOddTypesAsRead();
    void emit_writesOddLengthsAsSet();

private:
    std::vector<ByteVector> m_frames;
    ByteVector m_request;
    ByteVector m_reply;
};

void TestArp::initTestCase() {
    std::string error;
    m_frames = test::readPcap("captures/linux_tcp_ipv4.pcap", &error);
    QVERIFY2(m_frames.size() == 12, error.c_str());
    const auto v6 = test::readPcap("captures/linux_tcp_ipv6.pcap", &error);
    QVERIFY2(v6.size() == 14, error.c_str());
    m_request = m_frames[0];
    m_reply = m_frames[1];
    m_frames.insert(m_frames.end(), v6.begin(), v6.end());
    QCOMPARE(m_request.size(), std::size_t{42});
}

void TestArp::captured_readsEveryField() {
    const auto req = ArpPacket::parse(arpBytes(m_request));
    QVERIFY(req);
    QCOMPARE(req->hardwareType, std::uint16_t{1});
    QCOMPARE(req->protocolType, std::uint16_t{0x0800});
    QCOMPARE(req->hardwareLength, std::uint8_t{6});
    QCOMPARE(req->protocolLength, std::uint8_t{4});
    QCOMPARE(req->operation, arp_op::kRequest);
    QCOMPARE(qs(req->senderMac.toString()), QStringLiteral("02:00:00:00:00:0a"));
    QCOMPARE(qs(req->senderIp.toString()), QStringLiteral("198.18.0.2"));
    QCOMPARE(qs(req->targetMac.toString()), QStringLiteral("00:00:00:00:00:00"));
    QCOMPARE(qs(req->targetIp.toString()), QStringLiteral("198.18.0.1"));

    const auto rep = ArpPacket::parse(arpBytes(m_reply));
    QVERIFY(rep);
    QCOMPARE(rep->hardwareType, std::uint16_t{1});
    QCOMPARE(rep->protocolType, std::uint16_t{0x0800});
    QCOMPARE(rep->hardwareLength, std::uint8_t{6});
    QCOMPARE(rep->protocolLength, std::uint8_t{4});
    QCOMPARE(rep->operation, arp_op::kReply);
    QCOMPARE(qs(rep->senderMac.toString()), QStringLiteral("02:00:00:00:00:0b"));
    QCOMPARE(qs(rep->senderIp.toString()), QStringLiteral("198.18.0.1"));
    QCOMPARE(qs(rep->targetMac.toString()), QStringLiteral("02:00:00:00:00:0a"));
    QCOMPARE(qs(rep->targetIp.toString()), QStringLiteral("198.18.0.2"));
}

void TestArp::captured_buildFromFields_emitsCapturedBytes() {
    // The reply, field by field; the defaults are Ethernet/IPv4.
    ArpPacket a;
    a.operation = arp_op::kReply;
    a.senderMac = kServerMac;
    a.senderIp = kServerIp;
    a.targetMac = kClientMac;
    a.targetIp = kClientIp;
    ByteVector out(ArpPacket::kLength, 0xee);
    a.emit(out.data());
    TCPLAB_COMPARE_BYTES(out, arpBytes(m_reply));
}

void TestArp::captured_parse_equalsHandBuiltPacket() {
    ArpPacket expected;
    expected.operation = arp_op::kRequest;
    expected.senderMac = kClientMac;
    expected.senderIp = kClientIp;
    expected.targetIp = kServerIp;
    const auto parsed = ArpPacket::parse(arpBytes(m_request));
    QVERIFY(parsed);
    QVERIFY(*parsed == expected);
}

void TestArp::captured_emit_reproducesBothFrames() {
    for (const auto* frame : {&m_request, &m_reply}) {
        const auto a = ArpPacket::parse(arpBytes(*frame));
        QVERIFY(a);
        ByteVector out(ArpPacket::kLength, 0xee);
        a->emit(out.data());
        TCPLAB_COMPARE_BYTES(out, arpBytes(*frame));
    }
}

void TestArp::truncated_failsNamingTheMissingField() {
    const auto r = ArpPacket::parse(arpBytes(m_request).first(27));
    QCOMPARE(errorOf(r), QStringLiteral("truncated arp.pdst @24 expected 28 actual 27"));
    QCOMPARE(qs(r.error().message()), QStringLiteral("arp: truncated: needs 28 bytes, 27 present"));
}

void TestArp::malformed_data() {
    QTest::addColumn<QString>("input");
    QTest::addColumn<QString>("error");
    QTest::addColumn<QString>("message");
    QTest::newRow("empty") << ""
                           << "truncated arp.hwtype @0 expected 28 actual 0"
                           << "arp: truncated: needs 28 bytes, 0 present";
    QTest::newRow("no addresses") << "0001 0800 0604 0001"
                                  << "truncated arp.hwsrc @8 expected 28 actual 8"
                                  << "arp: truncated: needs 28 bytes, 8 present";
    // Token Ring style 8-byte hardware addresses: well formed, not ours to decode.
    QTest::newRow("hlen 8")
        << "0001 0800 0804 0001 0200000000000a00 c6120002 0000000000000000 c6120001"
        << "unsupported arp.hwlen @4 expected 6 actual 8"
        << "arp: unsupported hwlen 8";
    // ARP for IPv6-sized protocol addresses (never used, RFC 826 allows it).
    QTest::newRow("plen 16") << "0001 86dd 0610 0001 02000000000a"
                             << "unsupported arp.plen @5 expected 4 actual 16"
                             << "arp: unsupported plen 16";
    // The lengths decide the layout, so they are judged as soon as they are there.
    QTest::newRow("hlen 0, cut short") << "0001 0800 00"
                                       << "unsupported arp.hwlen @4 expected 6 actual 0"
                                       << "arp: unsupported hwlen 0";
    QTest::newRow("plen 0, cut short") << "0001 0800 0600"
                                       << "unsupported arp.plen @5 expected 4 actual 0"
                                       << "arp: unsupported plen 0";
}

void TestArp::malformed() {
    QFETCH(QString, input);
    QFETCH(QString, error);
    QFETCH(QString, message);
    const ByteVector bytes = hex(input.toStdString());
    const auto r = ArpPacket::parse(bytes);
    QCOMPARE(errorOf(r), error);
    QCOMPARE(qs(r.error().message()), message);
}

void TestArp::everyPrefix_failsTruncatedOrParses() {
    for (const auto* frame : {&m_request, &m_reply}) {
        const wire::Bytes arp = arpBytes(*frame);
        for (std::size_t n = 0; n <= arp.size(); ++n) {
            const auto r = ArpPacket::parse(prefixOf(arp, n));
            if (n < ArpPacket::kLength)
                QVERIFY2(errorOf(r).startsWith(QStringLiteral("truncated arp.")),
                         qPrintable(errorOf(r)));
            else
                QCOMPARE(errorOf(r), QStringLiteral("parsed"));
        }
    }
}

void TestArp::everyPrefixOfEveryFrame_neverCrashes() {
    // IPv4, IPv6, TCP bytes read as ARP: any outcome but a crash or an overread
    // (run under ASan in CI), and a failure always explains itself.
    for (const auto& frame : m_frames) {
        const wire::Bytes after = arpBytes(frame);
        for (std::size_t n = 0; n <= after.size(); ++n) {
            const auto r = ArpPacket::parse(prefixOf(after, n));
            if (!r) {
                QVERIFY(r.error().code == ParseErrorCode::Truncated ||
                        r.error().code == ParseErrorCode::Unsupported);
                QVERIFY(qs(r.error().message()).startsWith(QStringLiteral("arp: ")));
            }
        }
    }
}

void TestArp::parse_ignoresEthernetPadding() {
    // On the wire the request is padded to the 60-byte minimum frame (IEEE 802.3
    // §4.2.3.3); a capture taken on the receiving side shows 18 zero bytes after it.
    ByteVector padded(arpBytes(m_request).begin(), arpBytes(m_request).end());
    padded.resize(padded.size() + 18, 0);
    const auto a = ArpPacket::parse(padded);
    const auto b = ArpPacket::parse(arpBytes(m_request));
    QVERIFY(a && b);
    QVERIFY(*a == *b);
}

void TestArp::parse_recordsOddTypesAsRead() {
    // Hardware type 6 (IEEE 802) and protocol type 0x0801: the same 6/4 layout, so
    // the packet is decoded and shown as it is, not refused.
    const ByteVector bytes = hex("0006 0801 0604 0003 02000000000a c6120002 000000000000 c6120001");
    const auto a = ArpPacket::parse(bytes);
    QVERIFY(a);
    QCOMPARE(a->hardwareType, std::uint16_t{6});
    QCOMPARE(a->protocolType, std::uint16_t{0x0801});
    QCOMPARE(a->operation, std::uint16_t{3});
    ByteVector out(ArpPacket::kLength);
    a->emit(out.data());
    TCPLAB_COMPARE_BYTES(out, bytes);
}

void TestArp::emit_writesOddLengthsAsSet() {
    // A lab may lie about the address lengths; the addresses stay in the 6/4 layout.
    ArpPacket a;
    a.hardwareLength = 8;
    a.protocolLength = 16;
    a.senderMac = kClientMac;
    a.senderIp = kClientIp;
    a.targetIp = kServerIp;
    ByteVector out(ArpPacket::kLength);
    a.emit(out.data());
    TCPLAB_COMPARE_BYTES(out,
                         hex("0001 0800 0810 0001 02000000000a c6120002 000000000000 c6120001"));
    // ...and such a packet is refused on the way back in.
    QCOMPARE(errorOf(ArpPacket::parse(out)),
             QStringLiteral("unsupported arp.hwlen @4 expected 6 actual 8"));
}

QTEST_GUILESS_MAIN(TestArp)
#include "tst_arp.moc"
