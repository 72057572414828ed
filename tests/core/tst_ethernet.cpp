// Ethernet II and 802.1Q: the five checks on a real captured frame, malformed input,
// and every prefix of every captured frame.
//
// Fixtures: tests/data/captures/linux_tcp_ipv4.pcap and linux_tcp_ipv6.pcap, made by
// tests/data/captures/capture.sh (Linux 6.x client 02:00:00:00:00:0a and server
// 02:00:00:00:00:0b in two namespaces joined by veth, offloads off).

#include "tests_support/test_support.h"
#include "wire/ethernet.h"

#include <QObject>
#include <QTest>

#include <string_view>
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

// An 802.1Q-tagged frame's first 18 bytes (client to server, PCP 5, DEI 1, VID 100,
// inner type IPv4). Origin: scapy 2.5,
// bytes(Ether(dst=...0b, src=...0a)/Dot1Q(prio=5, id=1, vlan=100)/IP()/TCP())[:18].
const char* const kVlanFrameHex = "02000000000b02000000000a8100b0640800";
// Same with PCP 7, DEI 0, VID 4095, inner type IPv6 (scapy, as above): every bit of
// priority and VID set, DEI clear, to catch a field that spills into its neighbour.
const char* const kVlanMaxFrameHex = "02000000000b02000000000a8100efff86dd";
} // namespace

class TestEthernet : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();

    void captured_readsEveryField();
    void captured_buildFromFields_emitsCapturedBytes();
    void captured_parse_equalsHandBuiltHeader();
    void captured_emit_reproducesEveryFrame();
    void truncated_failsNamingTheMissingField();
    void malformed_data();
    void malformed();
    void everyPrefix_failsTruncatedOrParses();

    void etherType_autoTakesTheLayerAbove_overrideWinsVerbatim();
    void parse_ignoresBytesAfterTheHeader();

    void vlan_readsEveryField_data();
    void vlan_readsEveryField();
    void vlan_buildFromFields_emitsTheBytes();
    void vlan_truncated_failsAsDot1q();
    void vlan_everyPrefix_failsTruncatedOrParses();

private:
    std::vector<ByteVector> m_frames; // every frame of both captures
    ByteVector m_syn;                 // IPv4 frame 3: SYN client -> server
    ByteVector m_arpRequest;          // IPv4 frame 1: broadcast
    ByteVector m_ns;                  // IPv6 frame 1: to 33:33:ff:00:00:01
};

void TestEthernet::initTestCase() {
    std::string error;
    const auto v4 = test::readPcap("captures/linux_tcp_ipv4.pcap", &error);
    QVERIFY2(v4.size() == 12, error.c_str());
    const auto v6 = test::readPcap("captures/linux_tcp_ipv6.pcap", &error);
    QVERIFY2(v6.size() == 14, error.c_str());
    m_arpRequest = v4[0];
    m_syn = v4[2];
    m_ns = v6[0];
    m_frames = v4;
    m_frames.insert(m_frames.end(), v6.begin(), v6.end());
}

void TestEthernet::captured_readsEveryField() {
    const auto syn = EthernetHeader::parse(m_syn);
    QVERIFY(syn);
    QCOMPARE(qs(syn->dst.toString()), QStringLiteral("02:00:00:00:00:0b"));
    QCOMPARE(qs(syn->src.toString()), QStringLiteral("02:00:00:00:00:0a"));
    QVERIFY(syn->etherType.has_value());
    QCOMPARE(*syn->etherType, ether_type::kIpv4);

    const auto arp = EthernetHeader::parse(m_arpRequest);
    QVERIFY(arp);
    QCOMPARE(qs(arp->dst.toString()), QStringLiteral("ff:ff:ff:ff:ff:ff"));
    QCOMPARE(qs(arp->src.toString()), QStringLiteral("02:00:00:00:00:0a"));
    QVERIFY(arp->etherType.has_value());
    QCOMPARE(*arp->etherType, ether_type::kArp);

    // RFC 2464 §7: the solicited-node group ff02::1:ff00:1 maps to 33:33:ff:00:00:01.
    const auto ns = EthernetHeader::parse(m_ns);
    QVERIFY(ns);
    QCOMPARE(qs(ns->dst.toString()), QStringLiteral("33:33:ff:00:00:01"));
    QCOMPARE(qs(ns->src.toString()), QStringLiteral("02:00:00:00:00:0a"));
    QVERIFY(ns->etherType.has_value());
    QCOMPARE(*ns->etherType, ether_type::kIpv6);
}

void TestEthernet::captured_buildFromFields_emitsCapturedBytes() {
    EthernetHeader h;
    h.dst = kServerMac;
    h.src = kClientMac;
    // etherType left auto: the layer above says IPv4.
    ByteVector out(EthernetHeader::kLength, 0xee);
    h.emit(out.data(), ether_type::kIpv4);
    TCPLAB_COMPARE_BYTES(out, wire::Bytes(m_syn).first(EthernetHeader::kLength));
}

void TestEthernet::captured_parse_equalsHandBuiltHeader() {
    EthernetHeader expected;
    expected.dst = MacAddress::broadcast();
    expected.src = kClientMac;
    expected.etherType = ether_type::kArp; // always recorded on parse
    const auto parsed = EthernetHeader::parse(m_arpRequest);
    QVERIFY(parsed);
    QVERIFY(*parsed == expected);
}

void TestEthernet::captured_emit_reproducesEveryFrame() {
    for (const auto& frame : m_frames) {
        const auto h = EthernetHeader::parse(frame);
        QVERIFY(h);
        // The auto type must not leak in: the recorded EtherType wins.
        ByteVector out(EthernetHeader::kLength, 0xee);
        h->emit(out.data(), 0x1234);
        TCPLAB_COMPARE_BYTES(out, wire::Bytes(frame).first(EthernetHeader::kLength));
    }
}

void TestEthernet::truncated_failsNamingTheMissingField() {
    const auto r = EthernetHeader::parse(wire::Bytes(m_syn).first(13));
    QCOMPARE(errorOf(r), QStringLiteral("truncated ethernet.type @12 expected 14 actual 13"));
    QCOMPARE(qs(r.error().message()),
             QStringLiteral("ethernet: truncated: needs 14 bytes, 13 present"));
}

void TestEthernet::malformed_data() {
    QTest::addColumn<QString>("input");
    QTest::addColumn<QString>("field");
    QTest::addColumn<QString>("message");
    QTest::newRow("empty") << ""
                           << "dst"
                           << "ethernet: truncated: needs 14 bytes, 0 present";
    QTest::newRow("half a destination") << "ffffff"
                                        << "dst"
                                        << "ethernet: truncated: needs 14 bytes, 3 present";
    QTest::newRow("no source") << "ffffffffffff"
                               << "src"
                               << "ethernet: truncated: needs 14 bytes, 6 present";
    QTest::newRow("half a source") << "ffffffffffff0200000000"
                                   << "src"
                                   << "ethernet: truncated: needs 14 bytes, 11 present";
    QTest::newRow("no type") << "ffffffffffff02000000000a"
                             << "type"
                             << "ethernet: truncated: needs 14 bytes, 12 present";
}

void TestEthernet::malformed() {
    QFETCH(QString, input);
    QFETCH(QString, field);
    QFETCH(QString, message);
    const ByteVector bytes = hex(input.toStdString());
    const auto r = EthernetHeader::parse(bytes);
    QVERIFY(!r);
    QVERIFY(r.error().code == ParseErrorCode::Truncated);
    QCOMPARE(QString::fromUtf8(r.error().field.data(), qsizetype(r.error().field.size())), field);
    QCOMPARE(qs(r.error().message()), message);
}

void TestEthernet::everyPrefix_failsTruncatedOrParses() {
    for (const auto& frame : m_frames) {
        for (std::size_t n = 0; n <= frame.size(); ++n) {
            const auto r = EthernetHeader::parse(prefixOf(frame, n));
            if (n < EthernetHeader::kLength)
                QVERIFY(errorOf(r).startsWith(QStringLiteral("truncated ethernet.")));
            else
                QCOMPARE(errorOf(r), QStringLiteral("parsed"));
        }
    }
}

void TestEthernet::etherType_autoTakesTheLayerAbove_overrideWinsVerbatim() {
    EthernetHeader h;
    h.dst = kServerMac;
    h.src = kClientMac;
    ByteVector out(EthernetHeader::kLength);
    h.emit(out.data(), ether_type::kIpv6);
    TCPLAB_COMPARE_BYTES(out, hex("02000000000b 02000000000a 86dd"));
    // A deliberately wrong type goes on the wire as set.
    h.etherType = 0x88b5; // IEEE 802 local experimental EtherType
    h.emit(out.data(), ether_type::kIpv6);
    TCPLAB_COMPARE_BYTES(out, hex("02000000000b 02000000000a 88b5"));
}

void TestEthernet::parse_ignoresBytesAfterTheHeader() {
    const auto whole = EthernetHeader::parse(m_syn);
    const auto header = EthernetHeader::parse(wire::Bytes(m_syn).first(EthernetHeader::kLength));
    QVERIFY(whole && header);
    QVERIFY(*whole == *header);
}

void TestEthernet::vlan_readsEveryField_data() {
    QTest::addColumn<QString>("frame");
    QTest::addColumn<int>("priority");
    QTest::addColumn<bool>("dei");
    QTest::addColumn<int>("vid");
    QTest::addColumn<int>("innerType");
    QTest::newRow("pcp 5, dei, vid 100, IPv4") << kVlanFrameHex << 5 << true << 100 << 0x0800;
    QTest::newRow("pcp 7, vid 4095, IPv6") << kVlanMaxFrameHex << 7 << false << 4095 << 0x86dd;
}

void TestEthernet::vlan_readsEveryField() {
    QFETCH(QString, frame);
    QFETCH(int, priority);
    QFETCH(bool, dei);
    QFETCH(int, vid);
    QFETCH(int, innerType);
    const ByteVector bytes = hex(frame.toStdString());
    const auto eth = EthernetHeader::parse(bytes);
    QVERIFY(eth);
    QCOMPARE(eth->etherType.value_or(0), ether_type::kVlan);
    const auto tag = VlanTag::parse(wire::Bytes(bytes).subspan(EthernetHeader::kLength));
    QVERIFY(tag);
    QCOMPARE(int(tag->priority), priority);
    QCOMPARE(tag->dropEligible, dei);
    QCOMPARE(int(tag->vlanId), vid);
    QCOMPARE(int(tag->innerType), innerType);

    // Emit from the parsed value gives the bytes back.
    ByteVector out(VlanTag::kLength, 0xee);
    tag->emit(out.data());
    TCPLAB_COMPARE_BYTES(out, wire::Bytes(bytes).subspan(EthernetHeader::kLength));
}

void TestEthernet::vlan_buildFromFields_emitsTheBytes() {
    EthernetHeader eth;
    eth.dst = kServerMac;
    eth.src = kClientMac;
    VlanTag tag;
    tag.priority = 5;
    tag.dropEligible = true;
    tag.vlanId = 100;
    tag.innerType = ether_type::kIpv4;
    ByteVector out(EthernetHeader::kLength + VlanTag::kLength, 0xee);
    eth.emit(out.data(), ether_type::kVlan);
    tag.emit(out.data() + EthernetHeader::kLength);
    TCPLAB_COMPARE_BYTES(out, hex(kVlanFrameHex));
}

void TestEthernet::vlan_truncated_failsAsDot1q() {
    const ByteVector bytes = hex("b064 08");
    const auto r = VlanTag::parse(bytes);
    QCOMPARE(errorOf(r), QStringLiteral("truncated dot1q.type @2 expected 4 actual 3"));
    QCOMPARE(qs(r.error().message()), QStringLiteral("dot1q: truncated: needs 4 bytes, 3 present"));
}

void TestEthernet::vlan_everyPrefix_failsTruncatedOrParses() {
    for (const char* text : {kVlanFrameHex, kVlanMaxFrameHex}) {
        const ByteVector tag = hex(text);
        const wire::Bytes after = wire::Bytes(tag).subspan(EthernetHeader::kLength);
        for (std::size_t n = 0; n <= after.size(); ++n) {
            const auto r = VlanTag::parse(prefixOf(after, n));
            if (n < VlanTag::kLength)
                QVERIFY(errorOf(r).startsWith(QStringLiteral("truncated dot1q.")));
            else
                QCOMPARE(errorOf(r), QStringLiteral("parsed"));
        }
    }
    // Captured frames are not tagged, but their bytes after the MACs are fed anyway:
    // the parser must read any 4 bytes as a tag and never more.
    for (const auto& frame : m_frames) {
        const wire::Bytes after = wire::Bytes(frame).subspan(12);
        for (std::size_t n = 0; n <= 8; ++n)
            QCOMPARE(bool(VlanTag::parse(prefixOf(after, n))), n >= VlanTag::kLength);
    }
}

QTEST_GUILESS_MAIN(TestEthernet)
#include "tst_ethernet.moc"
