// IPv4 (RFC 791): the five checks on real captured frames, malformed input, every
// prefix of every fixture, derived fields (auto vs override) and diagnostics.
//
// Fixtures: tests/data/captures/linux_tcp_ipv4.pcap (tests/data/captures/capture.sh):
// frames 3-12 are a TCP exchange between 198.18.0.2 (client) and 198.18.0.1 (server),
// offloads off, so every IPv4 checksum is real. Headers with options come from scapy
// 2.5 (noted where used).

#include "tests_support/test_support.h"
#include "wire/ethernet.h"
#include "wire/ipv4.h"

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

const Ipv4Address kClientIp{{198, 18, 0, 2}};
const Ipv4Address kServerIp{{198, 18, 0, 1}};

// IP(src=198.18.0.2, dst=198.18.0.1, id=1, options=[IPOption_Router_Alert()])/TCP(
// sport=42570, dport=50001, flags="S", seq=100), scapy 2.5: IHL 6, a 4-byte option.
const char* const kRouterAlertHex = "4600002c000100004006599fc6120002c612000194040000"
                                    "a64ac35100000064000000005002200099ba0000";
// Same with options=[IPOption_RR(routers=["198.18.0.2", "0.0.0.0"])]: an 11-byte
// Record Route option and one byte of zero padding, IHL 8.
const char* const kRecordRouteHex =
    "48000034000100004006cbcac6120002c6120001070b04c61200020000000000"
    "a64ac35100000064000000005002200099ba0000";

wire::Bytes ipBytes(const ByteVector& frame) {
    return wire::Bytes(frame).subspan(EthernetHeader::kLength);
}
} // namespace

class TestIpv4 : public QObject {
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
    void everyPrefixOfEveryFrame_neverCrashes();

    void options_parseVerbatimAndReEmit_data();
    void options_parseVerbatimAndReEmit();
    void options_arePaddedWithZeros();
    void ihlOverride_goesOnTheWireAsSet();
    void autoFields_takePayloadAndLayerAbove();

    void checksumBad_isDiagnosedAndKeptAsOverride();
    void checksumOtherZero_isKeptWithoutDiagnostic();
    void totalLengthBeyondFrame_isDiagnosedAndKept();
    void totalLengthShorterThanBytes_isKeptWithoutDiagnostic();
    void flags_data();
    void flags();
    void flagsToString_matchesScapy_data();
    void flagsToString_matchesScapy();

private:
    std::vector<ByteVector> m_frames; // every frame of both captures
    std::vector<ByteVector> m_ipv4;   // frames 3-12 of the IPv4 capture
    ByteVector m_syn;                 // frame 3
};

void TestIpv4::initTestCase() {
    std::string error;
    const auto v4 = test::readPcap("captures/linux_tcp_ipv4.pcap", &error);
    QVERIFY2(v4.size() == 12, error.c_str());
    const auto v6 = test::readPcap("captures/linux_tcp_ipv6.pcap", &error);
    QVERIFY2(v6.size() == 14, error.c_str());
    m_ipv4.assign(v4.begin() + 2, v4.end());
    m_syn = v4[2];
    m_frames = v4;
    m_frames.insert(m_frames.end(), v6.begin(), v6.end());
}

void TestIpv4::captured_readsEveryField() {
    // 4500 003c 4d1d 4000 4006 6177 c6120002 c6120001
    Diagnostics diags;
    const auto h = Ipv4Header::parse(ipBytes(m_syn), &diags);
    QVERIFY(h);
    QCOMPARE(h->version, std::uint8_t{4});
    QVERIFY(!h->ihl); // 5: what the (absent) options give, so auto
    QCOMPARE(h->headerLength(), std::size_t{20});
    QCOMPARE(h->tos, std::uint8_t{0});
    QVERIFY(!h->totalLength); // 60: exactly the bytes given, so auto
    QCOMPARE(h->id, std::uint16_t{0x4d1d});
    QCOMPARE(h->flags, ipv4_flags::kDontFragment);
    QCOMPARE(h->fragOffset, std::uint16_t{0});
    QCOMPARE(h->ttl, std::uint8_t{64});
    QCOMPARE(h->protocol.value_or(0), ip_proto::kTcp); // always recorded
    QVERIFY(h->protocol);
    QVERIFY(!h->checksum); // 0x6177 is right, so auto
    QCOMPARE(qs(h->src.toString()), QStringLiteral("198.18.0.2"));
    QCOMPARE(qs(h->dst.toString()), QStringLiteral("198.18.0.1"));
    QVERIFY(h->options.empty());
    QCOMPARE(names(diags), QString());
}

void TestIpv4::captured_buildFromFields_emitsCapturedBytes() {
    Ipv4Header h; // version 4, DF, TTL 64 by default; lengths and checksum auto
    h.id = 0x4d1d;
    h.src = kClientIp;
    h.dst = kServerIp;
    ByteVector out(Ipv4Header::kMinLength, 0xee);
    const std::size_t tcpLength = ipBytes(m_syn).size() - Ipv4Header::kMinLength;
    QCOMPARE(h.emit(out.data(), tcpLength, ip_proto::kTcp), Ipv4Header::kMinLength);
    TCPLAB_COMPARE_BYTES(out, ipBytes(m_syn).first(Ipv4Header::kMinLength));
}

void TestIpv4::captured_parse_equalsHandBuiltHeader() {
    Ipv4Header expected;
    expected.id = 0x4d1d;
    expected.protocol = ip_proto::kTcp;
    expected.src = kClientIp;
    expected.dst = kServerIp;
    const auto parsed = Ipv4Header::parse(ipBytes(m_syn));
    QVERIFY(parsed);
    QVERIFY(*parsed == expected);
}

void TestIpv4::captured_emit_reproducesEveryFrame() {
    for (const auto& frame : m_ipv4) {
        const wire::Bytes ip = ipBytes(frame);
        Diagnostics diags;
        const auto h = Ipv4Header::parse(ip, &diags);
        QVERIFY(h);
        QCOMPARE(names(diags), QString());
        QVERIFY(!h->totalLength && !h->checksum && !h->ihl);
        ByteVector out(h->headerLength(), 0xee);
        // A protocol recorded on parse wins over the auto one.
        QCOMPARE(h->emit(out.data(), ip.size() - h->headerLength(), ip_proto::kUdp),
                 Ipv4Header::kMinLength);
        TCPLAB_COMPARE_BYTES(out, ip.first(h->headerLength()));
    }
}

void TestIpv4::truncated_failsNamingTheMissingField() {
    const auto r = Ipv4Header::parse(ipBytes(m_syn).first(11));
    QCOMPARE(errorOf(r), QStringLiteral("truncated ipv4.chksum @10 expected 20 actual 11"));
    QCOMPARE(qs(r.error().message()),
             QStringLiteral("ipv4: truncated: needs 20 bytes, 11 present"));
}

void TestIpv4::malformed_data() {
    QTest::addColumn<QString>("input");
    QTest::addColumn<QString>("error");
    QTest::addColumn<QString>("message");
    // The captured SYN header (checksum right) with one thing broken at a time.
    QTest::newRow("empty") << ""
                           << "truncated ipv4.version @0 expected 20 actual 0"
                           << "ipv4: truncated: needs 20 bytes, 0 present";
    QTest::newRow("no addresses") << "4500003c4d1d400040066177"
                                  << "truncated ipv4.src @12 expected 20 actual 12"
                                  << "ipv4: truncated: needs 20 bytes, 12 present";
    QTest::newRow("version 6") << "6500003c4d1d400040066177c6120002c6120001"
                               << "bad version ipv4.version @0 expected 4 actual 6"
                               << "ipv4: version 6 where 4 was expected";
    QTest::newRow("version 0") << "0500003c4d1d400040066177c6120002c6120001"
                               << "bad version ipv4.version @0 expected 4 actual 0"
                               << "ipv4: version 0 where 4 was expected";
    QTest::newRow("ihl 0") << "4000003c4d1d400040066177c6120002c6120001"
                           << "header length too short ipv4.ihl @0 expected 5 actual 0"
                           << "ipv4: ihl 0 is below the minimum of 5";
    QTest::newRow("ihl 4") << "4400003c4d1d400040066177c6120002c6120001"
                           << "header length too short ipv4.ihl @0 expected 5 actual 4"
                           << "ipv4: ihl 4 is below the minimum of 5";
    QTest::newRow("ihl 15, no options")
        << "4f00003c4d1d400040066177c6120002c6120001"
        << "header length overruns the packet ipv4.ihl @0 expected 60 actual 20"
        << "ipv4: ihl says 60 bytes of header, only 20 present";
    QTest::newRow("ihl 6, options cut")
        << "4600003c4d1d400040066177c6120002c6120001940400"
        << "header length overruns the packet ipv4.ihl @0 expected 24 actual 23"
        << "ipv4: ihl says 24 bytes of header, only 23 present";
    QTest::newRow("total length 0") << "450000004d1d400040066177c6120002c6120001"
                                    << "total length too short ipv4.len @2 expected 20 actual 0"
                                    << "ipv4: len 0 is smaller than the header (20 bytes)";
    QTest::newRow("total length 19") << "450000134d1d400040066177c6120002c6120001"
                                     << "total length too short ipv4.len @2 expected 20 actual 19"
                                     << "ipv4: len 19 is smaller than the header (20 bytes)";
    QTest::newRow("total length inside options")
        << "460000144d1d400040066177c6120002c612000194040000"
        << "total length too short ipv4.len @2 expected 24 actual 20"
        << "ipv4: len 20 is smaller than the header (24 bytes)";
}

void TestIpv4::malformed() {
    QFETCH(QString, input);
    QFETCH(QString, error);
    QFETCH(QString, message);
    const ByteVector bytes = hex(input.toStdString());
    Diagnostics diags;
    const auto r = Ipv4Header::parse(bytes, &diags);
    QCOMPARE(errorOf(r), error);
    QCOMPARE(qs(r.error().message()), message);
}

void TestIpv4::everyPrefix_failsTruncatedOrParses() {
    // Captured headers have no options: short of 20 bytes is truncated, then it parses
    // (with the total length kept as an override and Ipv4TotalLengthBeyondFrame).
    for (const auto& frame : m_ipv4) {
        const wire::Bytes ip = ipBytes(frame);
        for (std::size_t n = 0; n <= ip.size(); ++n) {
            Diagnostics diags;
            const auto r = Ipv4Header::parse(prefixOf(ip, n), &diags);
            if (n < Ipv4Header::kMinLength) {
                QVERIFY2(errorOf(r).startsWith(QStringLiteral("truncated ipv4.")),
                         qPrintable(errorOf(r)));
                continue;
            }
            QCOMPARE(errorOf(r), QStringLiteral("parsed"));
            QCOMPARE(diags.has(Diagnostic::Ipv4TotalLengthBeyondFrame), n < ip.size());
            QCOMPARE(r->totalLength.has_value(), n < ip.size());
        }
    }
    // With options, a cut inside them is the IHL running past the bytes.
    for (const char* text : {kRouterAlertHex, kRecordRouteHex}) {
        const ByteVector ip = hex(text);
        const std::size_t headerLength = std::size_t(ip[0] & 0x0f) * 4;
        for (std::size_t n = 0; n <= ip.size(); ++n) {
            const auto r = Ipv4Header::parse(prefixOf(ip, n));
            if (n < Ipv4Header::kMinLength)
                QVERIFY(errorOf(r).startsWith(QStringLiteral("truncated ipv4.")));
            else if (n < headerLength)
                QCOMPARE(errorOf(r),
                         QStringLiteral(
                             "header length overruns the packet ipv4.ihl @0 expected %1 actual %2")
                             .arg(headerLength)
                             .arg(n));
            else
                QCOMPARE(errorOf(r), QStringLiteral("parsed"));
        }
    }
}

void TestIpv4::everyPrefixOfEveryFrame_neverCrashes() {
    // Every frame (ARP, IPv6, TCP bytes included) read as IPv4 from every offset up to
    // the IP header and at every length: a crash or an overread (ASan in CI) fails.
    for (const auto& frame : m_frames) {
        for (std::size_t start = 0; start <= EthernetHeader::kLength; ++start) {
            const wire::Bytes from = wire::Bytes(frame).subspan(start);
            for (std::size_t n = 0; n <= from.size(); ++n) {
                Diagnostics diags;
                const auto r = Ipv4Header::parse(prefixOf(from, n), &diags);
                if (!r)
                    QVERIFY(qs(r.error().message()).startsWith(QStringLiteral("ipv4: ")));
                else
                    QVERIFY(r->headerLength() <= n);
            }
        }
    }
}

void TestIpv4::options_parseVerbatimAndReEmit_data() {
    QTest::addColumn<QString>("packet");
    QTest::addColumn<QString>("options");
    QTest::newRow("router alert (ihl 6)") << kRouterAlertHex << "94040000";
    QTest::newRow("record route + pad (ihl 8)") << kRecordRouteHex << "070b04c61200020000000000";
}

void TestIpv4::options_parseVerbatimAndReEmit() {
    QFETCH(QString, packet);
    QFETCH(QString, options);
    const ByteVector ip = hex(packet.toStdString());
    Diagnostics diags;
    const auto h = Ipv4Header::parse(ip, &diags);
    QVERIFY(h);
    QCOMPARE(names(diags), QString());
    TCPLAB_COMPARE_BYTES(h->options.bytes(), hex(options.toStdString()));
    QVERIFY(!h->ihl);
    QVERIFY(!h->checksum);
    QCOMPARE(h->headerLength(), std::size_t(ip[0] & 0x0f) * 4);
    ByteVector out(h->headerLength(), 0xee);
    QCOMPARE(h->emit(out.data(), ip.size() - h->headerLength(), ip_proto::kTcp), h->headerLength());
    TCPLAB_COMPARE_BYTES(out, wire::Bytes(ip).first(h->headerLength()));
}

void TestIpv4::options_arePaddedWithZeros() {
    // Record Route without its padding byte: emit adds it (RFC 791: the header is
    // padded with zeros to a 32-bit boundary), so it equals scapy's header.
    Ipv4Header h;
    h.flags = 0;
    h.id = 1;
    h.src = kClientIp;
    h.dst = kServerIp;
    QVERIFY(h.options.assign(hex("070b04c6120002000000 00")));
    QCOMPARE(h.options.size(), std::size_t{11});
    QCOMPARE(h.headerLength(), std::size_t{32});
    ByteVector out(h.headerLength(), 0xee);
    QCOMPARE(h.emit(out.data(), 20, ip_proto::kTcp), std::size_t{32});
    const ByteVector scapy = hex(kRecordRouteHex);
    TCPLAB_COMPARE_BYTES(out, wire::Bytes(scapy).first(32));
}

void TestIpv4::ihlOverride_goesOnTheWireAsSet() {
    auto h = Ipv4Header::parse(ipBytes(m_syn));
    QVERIFY(h);
    h->ihl = 7; // a lie: no options follow
    ByteVector out(h->headerLength(), 0xee);
    QCOMPARE(h->emit(out.data(), 40, ip_proto::kTcp), std::size_t{20}); // the bytes there are
    QCOMPARE(int(out[0]), 0x47);
    // The checksum is that of the 20 bytes emitted, lie included.
    QCOMPARE(internetChecksum(out), std::uint16_t{0});
    // And it reads back as an overrun, the structural error a receiver would see.
    QCOMPARE(errorOf(Ipv4Header::parse(out)),
             QStringLiteral("header length overruns the packet ipv4.ihl @0 expected 28 actual 20"));

    h->ihl = 3;
    h->emit(out.data(), 40, ip_proto::kTcp);
    QCOMPARE(int(out[0]), 0x43);
}

void TestIpv4::autoFields_takePayloadAndLayerAbove() {
    Ipv4Header h;
    h.src = kClientIp;
    h.dst = kServerIp;
    ByteVector out(20);
    h.emit(out.data(), 1000, ip_proto::kUdp);
    QCOMPARE(load16(out.data() + 2), std::uint16_t{1020});
    QCOMPARE(int(out[9]), int(ip_proto::kUdp));
    QCOMPARE(internetChecksum(out), std::uint16_t{0});
    // Overrides go out verbatim, a wrong checksum included.
    h.totalLength = 7;
    h.protocol = 253; // RFC 3692 experimentation
    h.checksum = 0xbeef;
    h.emit(out.data(), 1000, ip_proto::kUdp);
    QCOMPARE(load16(out.data() + 2), std::uint16_t{7});
    QCOMPARE(int(out[9]), 253);
    QCOMPARE(load16(out.data() + 10), std::uint16_t{0xbeef});
}

void TestIpv4::checksumBad_isDiagnosedAndKeptAsOverride() {
    ByteVector ip(ipBytes(m_syn).begin(), ipBytes(m_syn).end());
    ip[11] ^= 0x01; // 0x6177 -> 0x6176
    Diagnostics diags;
    const auto h = Ipv4Header::parse(ip, &diags);
    QVERIFY(h);
    QCOMPARE(names(diags), QStringLiteral("Ipv4ChecksumBad"));
    QCOMPARE(h->checksum.value_or(0), std::uint16_t{0x6176});
    ByteVector out(20);
    h->emit(out.data(), ip.size() - 20, ip_proto::kTcp);
    TCPLAB_COMPARE_BYTES(out, wire::Bytes(ip).first(20));
    // No diagnostics sink: parses all the same.
    QVERIFY(Ipv4Header::parse(ip));
}

void TestIpv4::checksumOtherZero_isKeptWithoutDiagnostic() {
    // The captured SYN's header cut to 20 bytes (total length 20) with id 0xaebc sums
    // so that emit computes 0x0000;
    // 0xffff, the other ones' complement zero, verifies as well (RFC 1624 §3) but is
    // not what emit writes, so it is kept as an override, without a diagnostic.
    const ByteVector ip = hex("45000014aebc4000 4006 ffff c6120002c6120001");
    Diagnostics diags;
    auto h = Ipv4Header::parse(ip, &diags);
    QVERIFY(h);
    QCOMPARE(names(diags), QString());
    QCOMPARE(h->checksum.value_or(0), std::uint16_t{0xffff});
    ByteVector out(20);
    h->emit(out.data(), 0, ip_proto::kTcp);
    TCPLAB_COMPARE_BYTES(out, ip);
    h->checksum.reset();
    h->emit(out.data(), 0, ip_proto::kTcp);
    QCOMPARE(load16(out.data() + 10), std::uint16_t{0});
}

void TestIpv4::totalLengthBeyondFrame_isDiagnosedAndKept() {
    // Cut by a snap length: the header parses, the length is what the sender said.
    const wire::Bytes ip = ipBytes(m_syn).first(30);
    Diagnostics diags;
    const auto h = Ipv4Header::parse(ip, &diags);
    QVERIFY(h);
    QCOMPARE(names(diags), QStringLiteral("Ipv4TotalLengthBeyondFrame"));
    QCOMPARE(h->totalLength.value_or(0), std::uint16_t{60});
}

void TestIpv4::totalLengthShorterThanBytes_isKeptWithoutDiagnostic() {
    // An ACK (total length 52) in a frame padded by 6 bytes: parse cannot know which
    // payload the caller will emit, so the length is kept as read; bytes after the
    // packet are the frame decoder's to report (TrailingBytes).
    ByteVector ip(ipBytes(m_ipv4[2]).begin(), ipBytes(m_ipv4[2]).end());
    QCOMPARE(ip.size(), std::size_t{52});
    ip.resize(58, 0);
    Diagnostics diags;
    const auto h = Ipv4Header::parse(ip, &diags);
    QVERIFY(h);
    QCOMPARE(names(diags), QString());
    QCOMPARE(h->totalLength.value_or(0), std::uint16_t{52});
    ByteVector out(20);
    h->emit(out.data(), ip.size() - 20, ip_proto::kTcp);
    TCPLAB_COMPARE_BYTES(out, wire::Bytes(ip).first(20));
}

void TestIpv4::flags_data() {
    QTest::addColumn<int>("flagsAndOffset"); // the 16 bits after the identification
    QTest::addColumn<QString>("diagnostics");
    QTest::newRow("DF") << 0x4000 << "";
    QTest::newRow("none") << 0x0000 << "";
    QTest::newRow("evil") << 0x8000 << "Ipv4ReservedFlagSet";
    QTest::newRow("MF") << 0x2000 << "Ipv4Fragment";
    QTest::newRow("offset 1") << 0x0001 << "Ipv4Fragment";
    QTest::newRow("offset max") << 0x1fff << "Ipv4Fragment";
    QTest::newRow("all") << 0xffff << "Ipv4ReservedFlagSet, Ipv4Fragment";
}

void TestIpv4::flags() {
    QFETCH(int, flagsAndOffset);
    QFETCH(QString, diagnostics);
    ByteVector ip(ipBytes(m_syn).begin(), ipBytes(m_syn).end());
    store16(ip.data() + 6, static_cast<std::uint16_t>(flagsAndOffset));
    store16(ip.data() + 10, 0);
    store16(ip.data() + 10, internetChecksum(wire::Bytes(ip).first(20)));
    Diagnostics diags;
    const auto h = Ipv4Header::parse(ip, &diags);
    QVERIFY(h);
    QCOMPARE(names(diags), diagnostics);
    QCOMPARE(int(h->flags), flagsAndOffset >> 13);
    QCOMPARE(int(h->fragOffset), flagsAndOffset & 0x1fff);
    QVERIFY(!h->checksum);
    ByteVector out(20);
    h->emit(out.data(), ip.size() - 20, ip_proto::kTcp);
    TCPLAB_COMPARE_BYTES(out, wire::Bytes(ip).first(20));
}

void TestIpv4::flagsToString_matchesScapy_data() {
    // str(IP(flags=n).flags), scapy 2.5.
    QTest::addColumn<int>("flags");
    QTest::addColumn<QString>("text");
    QTest::newRow("0") << 0 << "";
    QTest::newRow("1") << 1 << "MF";
    QTest::newRow("2") << 2 << "DF";
    QTest::newRow("3") << 3 << "MF+DF";
    QTest::newRow("4") << 4 << "evil";
    QTest::newRow("5") << 5 << "MF+evil";
    QTest::newRow("6") << 6 << "DF+evil";
    QTest::newRow("7") << 7 << "MF+DF+evil";
}

void TestIpv4::flagsToString_matchesScapy() {
    QFETCH(int, flags);
    QFETCH(QString, text);
    QCOMPARE(qs(ipv4FlagsToString(static_cast<std::uint8_t>(flags))), text);
}

QTEST_GUILESS_MAIN(TestIpv4)
#include "tst_ipv4.moc"
