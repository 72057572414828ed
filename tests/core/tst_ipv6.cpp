// IPv6 (RFC 8200): the five checks on real captured frames, malformed input, every
// prefix of every fixture, and the extension-header walk (§4).
//
// Fixtures: tests/data/captures/linux_tcp_ipv6.pcap (tests/data/captures/capture.sh):
// frames 1-2 Neighbor Solicitation/Advertisement, 3-12 a TCP exchange between
// 2001:db8::2 (client) and 2001:db8::1 (server), 13-14 Router Solicitations. Captured
// Linux traffic carries no extension headers; those fixtures are hand-built with scapy
// 2.5 (the expression is above each).

#include "tests_support/test_support.h"
#include "wire/ethernet.h"
#include "wire/ipv6.h"

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
// The walk as one line: "0@0+8 43@8+8 60@16+8 -> 6@24".
QString chainOf(const tl::expected<Ipv6Chain, ParseError>& r) {
    if (!r)
        return errorOf(r);
    QStringList parts;
    for (std::size_t i = 0; i < r->count; ++i)
        parts << QStringLiteral("%1@%2+%3")
                     .arg(r->headers[i].type)
                     .arg(r->headers[i].offset)
                     .arg(r->headers[i].length);
    parts << QStringLiteral("-> %1@%2%3%4")
                 .arg(r->upperProtocol)
                 .arg(r->upperOffset)
                 .arg(r->fragmented ? QStringLiteral(" fragmented") : QString())
                 .arg(r->moreFragments ? QStringLiteral(" more") : QString());
    return parts.join(QLatin1Char(' '));
}

const Ipv6Address kClientIp = *Ipv6Address::parse("2001:db8::2");
const Ipv6Address kServerIp = *Ipv6Address::parse("2001:db8::1");

// IPv6(src="2001:db8::2", dst="2001:db8::1")/IPv6ExtHdrHopByHop()/IPv6ExtHdrRouting()/
// IPv6ExtHdrDestOpt()/TCP(sport=43638, dport=50001, flags="S", seq=1): three 8-byte
// extension headers, then TCP.
const char* const kChainHex =
    "60000000002c004020010db800000000000000000000000220010db8000000000000000000000001"
    "2b00010400000000"
    "3c00000000000000"
    "0600010400000000"
    "aa76c351000000010000000050022000c6a40000";
// ...IPv6ExtHdrFragment(offset=0, m=1, id=0x12345678)/TCP(...): a first fragment.
const char* const kFirstFragmentHex =
    "60000000001c2c4020010db800000000000000000000000220010db8000000000000000000000001"
    "0600000112345678"
    "aa76c351000000010000000050022000c6a40000";
// ...IPv6ExtHdrFragment(offset=0, m=0, id=0x12345678)/TCP(...): an atomic fragment.
const char* const kAtomicFragmentHex =
    "60000000001c2c4020010db800000000000000000000000220010db8000000000000000000000001"
    "0600000012345678"
    "aa76c351000000010000000050022000c6a40000";
// ...IPv6ExtHdrFragment(nh=6, offset=185, m=0, id=0x12345678)/Raw(b"x"*16): a last
// fragment, the middle of a TCP segment.
const char* const kLaterFragmentHex =
    "6000000000182c4020010db800000000000000000000000220010db8000000000000000000000001"
    "060005c812345678"
    "78787878787878787878787878787878";
// ...AH(nh=6, spi=0x100, seq=1, icv=b"\xaa"*12)/TCP(...): AH counts 4-byte units
// minus 2 (payload len 4 -> 24 bytes).
const char* const kAhHex =
    "60000000002c334020010db800000000000000000000000220010db8000000000000000000000001"
    "060400000000010000000001aaaaaaaaaaaaaaaaaaaaaaaa"
    "aa76c35100000001000000005002200000000000";
// ...IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\x00"*12)])/ICMPv6EchoRequest():
// Hdr Ext Len 1 -> 16 bytes, then ICMPv6.
const char* const kDestOpts16Hex =
    "6000000000183c4020010db800000000000000000000000220010db8000000000000000000000001"
    "3a01010c000000000000000000000000"
    "8000244800000000";

wire::Bytes ipBytes(const ByteVector& frame) {
    return wire::Bytes(frame).subspan(EthernetHeader::kLength);
}
} // namespace

class TestIpv6 : public QObject {
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

    void fieldsAtTheirLimits_doNotSpill();
    void autoFields_takePayloadAndLayerAbove();
    void payloadLengthBeyondFrame_isDiagnosedAndKept();
    void payloadLengthShorterThanBytes_isKeptWithoutDiagnostic();

    void walk_capturedFrames_haveNoExtensions();
    void walk_data();
    void walk();
    void walk_malformed_data();
    void walk_malformed();
    void walk_eightHeaders_isTheLimit();
    void walk_everyPrefix_failsTruncatedOrParses();
    void walk_everyPrefixOfEveryFrame_neverCrashes();
    void extensionName();

private:
    std::vector<ByteVector> m_frames; // every frame of both captures
    std::vector<ByteVector> m_ipv6;   // every frame of the IPv6 capture
    ByteVector m_syn;                 // IPv6 frame 3
};

void TestIpv6::initTestCase() {
    std::string error;
    const auto v4 = test::readPcap("captures/linux_tcp_ipv4.pcap", &error);
    QVERIFY2(v4.size() == 12, error.c_str());
    m_ipv6 = test::readPcap("captures/linux_tcp_ipv6.pcap", &error);
    QVERIFY2(m_ipv6.size() == 14, error.c_str());
    m_syn = m_ipv6[2];
    m_frames = v4;
    m_frames.insert(m_frames.end(), m_ipv6.begin(), m_ipv6.end());
}

void TestIpv6::captured_readsEveryField() {
    // 600a03ec 0028 06 40 2001:db8::2 2001:db8::1
    Diagnostics diags;
    const auto h = Ipv6Header::parse(ipBytes(m_syn), &diags);
    QVERIFY(h);
    QCOMPARE(h->version, std::uint8_t{6});
    QCOMPARE(h->trafficClass, std::uint8_t{0});
    QCOMPARE(h->flowLabel, std::uint32_t{0x0a03ec});
    QVERIFY(!h->payloadLength); // 40: exactly the bytes after the header, so auto
    QCOMPARE(h->nextHeader.value_or(0), ip_proto::kTcp);
    QVERIFY(h->nextHeader); // always recorded
    QCOMPARE(h->hopLimit, std::uint8_t{64});
    QCOMPARE(qs(h->src.toString()), QStringLiteral("2001:db8::2"));
    QCOMPARE(qs(h->dst.toString()), QStringLiteral("2001:db8::1"));
    QCOMPARE(names(diags), QString());

    // The Neighbor Solicitation: hop limit 255 (RFC 4861 §4.3), to the solicited-node group.
    const auto ns = Ipv6Header::parse(ipBytes(m_ipv6[0]));
    QVERIFY(ns);
    QCOMPARE(ns->hopLimit, std::uint8_t{255});
    QCOMPARE(ns->nextHeader.value_or(0), ip_proto::kIcmpv6);
    QCOMPARE(qs(ns->dst.toString()), QStringLiteral("ff02::1:ff00:1"));
}

void TestIpv6::captured_buildFromFields_emitsCapturedBytes() {
    Ipv6Header h; // version 6, hop limit 64; payload length and next header auto
    h.flowLabel = 0x0a03ec;
    h.src = kClientIp;
    h.dst = kServerIp;
    ByteVector out(Ipv6Header::kLength, 0xee);
    h.emit(out.data(), ipBytes(m_syn).size() - Ipv6Header::kLength, ip_proto::kTcp);
    TCPLAB_COMPARE_BYTES(out, ipBytes(m_syn).first(Ipv6Header::kLength));
}

void TestIpv6::captured_parse_equalsHandBuiltHeader() {
    Ipv6Header expected;
    expected.flowLabel = 0x0a03ec;
    expected.nextHeader = ip_proto::kTcp;
    expected.src = kClientIp;
    expected.dst = kServerIp;
    const auto parsed = Ipv6Header::parse(ipBytes(m_syn));
    QVERIFY(parsed);
    QVERIFY(*parsed == expected);
}

void TestIpv6::captured_emit_reproducesEveryFrame() {
    for (const auto& frame : m_ipv6) {
        const wire::Bytes ip = ipBytes(frame);
        Diagnostics diags;
        const auto h = Ipv6Header::parse(ip, &diags);
        QVERIFY(h);
        QCOMPARE(names(diags), QString());
        QVERIFY(!h->payloadLength);
        ByteVector out(Ipv6Header::kLength, 0xee);
        // A next header recorded on parse wins over the auto one.
        h->emit(out.data(), ip.size() - Ipv6Header::kLength, ip_proto::kUdp);
        TCPLAB_COMPARE_BYTES(out, ip.first(Ipv6Header::kLength));
    }
}

void TestIpv6::truncated_failsNamingTheMissingField() {
    const auto r = Ipv6Header::parse(ipBytes(m_syn).first(39));
    QCOMPARE(errorOf(r), QStringLiteral("truncated ipv6.dst @24 expected 40 actual 39"));
    QCOMPARE(qs(r.error().message()),
             QStringLiteral("ipv6: truncated: needs 40 bytes, 39 present"));
}

void TestIpv6::malformed_data() {
    QTest::addColumn<QString>("input");
    QTest::addColumn<QString>("error");
    QTest::addColumn<QString>("message");
    QTest::newRow("empty") << ""
                           << "truncated ipv6.version @0 expected 40 actual 0"
                           << "ipv6: truncated: needs 40 bytes, 0 present";
    QTest::newRow("no addresses") << "600a03ec00280640"
                                  << "truncated ipv6.src @8 expected 40 actual 8"
                                  << "ipv6: truncated: needs 40 bytes, 8 present";
    QTest::newRow("version 4")
        << "400a03ec0028064020010db800000000000000000000000220010db8000000000000000000000001"
        << "bad version ipv6.version @0 expected 6 actual 4"
        << "ipv6: version 4 where 6 was expected";
    QTest::newRow("version 15")
        << "f00a03ec0028064020010db800000000000000000000000220010db8000000000000000000000001"
        << "bad version ipv6.version @0 expected 6 actual 15"
        << "ipv6: version 15 where 6 was expected";
}

void TestIpv6::malformed() {
    QFETCH(QString, input);
    QFETCH(QString, error);
    QFETCH(QString, message);
    const ByteVector bytes = hex(input.toStdString());
    Diagnostics diags;
    const auto r = Ipv6Header::parse(bytes, &diags);
    QCOMPARE(errorOf(r), error);
    QCOMPARE(qs(r.error().message()), message);
}

void TestIpv6::everyPrefix_failsTruncatedOrParses() {
    std::vector<ByteVector> fixtures = m_ipv6;
    for (const char* text : {kChainHex, kFirstFragmentHex, kAtomicFragmentHex, kLaterFragmentHex,
                             kAhHex, kDestOpts16Hex}) {
        ByteVector frame(EthernetHeader::kLength, 0);
        const ByteVector ip = hex(text);
        frame.insert(frame.end(), ip.begin(), ip.end());
        fixtures.push_back(frame);
    }
    for (const auto& frame : fixtures) {
        const wire::Bytes ip = ipBytes(frame);
        for (std::size_t n = 0; n <= ip.size(); ++n) {
            Diagnostics diags;
            const auto r = Ipv6Header::parse(prefixOf(ip, n), &diags);
            if (n < Ipv6Header::kLength) {
                QVERIFY2(errorOf(r).startsWith(QStringLiteral("truncated ipv6.")),
                         qPrintable(errorOf(r)));
                continue;
            }
            QCOMPARE(errorOf(r), QStringLiteral("parsed"));
            QCOMPARE(diags.has(Diagnostic::Ipv6PayloadLengthBeyondFrame), n < ip.size());
            QCOMPARE(r->payloadLength.has_value(), n < ip.size());
        }
    }
}

void TestIpv6::everyPrefixOfEveryFrame_neverCrashes() {
    for (const auto& frame : m_frames) {
        for (std::size_t start = 0; start <= EthernetHeader::kLength; ++start) {
            const wire::Bytes from = wire::Bytes(frame).subspan(start);
            for (std::size_t n = 0; n <= from.size(); ++n) {
                Diagnostics diags;
                const auto r = Ipv6Header::parse(prefixOf(from, n), &diags);
                if (!r)
                    QVERIFY(qs(r.error().message()).startsWith(QStringLiteral("ipv6: ")));
                else
                    QVERIFY(n >= Ipv6Header::kLength);
            }
        }
    }
}

void TestIpv6::fieldsAtTheirLimits_doNotSpill() {
    // Traffic class 0xff and flow label 0xfffff share bytes with the version: each
    // must read and write only its own bits.
    ByteVector ip(ipBytes(m_syn).begin(), ipBytes(m_syn).end());
    store32(ip.data(), 0x6fffffff);
    const auto h = Ipv6Header::parse(ip);
    QVERIFY(h);
    QCOMPARE(h->version, std::uint8_t{6});
    QCOMPARE(h->trafficClass, std::uint8_t{0xff});
    QCOMPARE(h->flowLabel, std::uint32_t{0xfffff});
    Ipv6Header g = *h;
    g.trafficClass = 0;
    ByteVector out(Ipv6Header::kLength, 0xee);
    g.emit(out.data(), 0, 0);
    QCOMPARE(load32(out.data()), std::uint32_t{0x600fffff});
    g.trafficClass = 0xff;
    g.flowLabel = 0;
    g.emit(out.data(), 0, 0);
    QCOMPARE(load32(out.data()), std::uint32_t{0x6ff00000});
}

void TestIpv6::autoFields_takePayloadAndLayerAbove() {
    Ipv6Header h;
    h.src = kClientIp;
    h.dst = kServerIp;
    ByteVector out(Ipv6Header::kLength);
    h.emit(out.data(), 1220, ip_proto::kIcmpv6);
    QCOMPARE(load16(out.data() + 4), std::uint16_t{1220});
    QCOMPARE(int(out[6]), int(ip_proto::kIcmpv6));
    h.payloadLength = 3;
    h.nextHeader = ip_proto::kNoNext;
    h.version = 4; // a lie, sent as set
    h.emit(out.data(), 1220, ip_proto::kIcmpv6);
    QCOMPARE(load16(out.data() + 4), std::uint16_t{3});
    QCOMPARE(int(out[6]), int(ip_proto::kNoNext));
    QCOMPARE(int(out[0] >> 4), 4);
}

void TestIpv6::payloadLengthBeyondFrame_isDiagnosedAndKept() {
    const wire::Bytes ip = ipBytes(m_syn).first(50);
    Diagnostics diags;
    const auto h = Ipv6Header::parse(ip, &diags);
    QVERIFY(h);
    QCOMPARE(names(diags), QStringLiteral("Ipv6PayloadLengthBeyondFrame"));
    QCOMPARE(h->payloadLength.value_or(0), std::uint16_t{40});
}

void TestIpv6::payloadLengthShorterThanBytes_isKeptWithoutDiagnostic() {
    // Ethernet padding after the packet: the length is kept as read (parse cannot know
    // what the caller will emit); the trailing bytes are the frame decoder's to report.
    ByteVector ip(ipBytes(m_syn).begin(), ipBytes(m_syn).end());
    ip.resize(ip.size() + 4, 0);
    Diagnostics diags;
    const auto h = Ipv6Header::parse(ip, &diags);
    QVERIFY(h);
    QCOMPARE(names(diags), QString());
    QCOMPARE(h->payloadLength.value_or(0), std::uint16_t{40});
    ByteVector out(Ipv6Header::kLength);
    h->emit(out.data(), ip.size() - Ipv6Header::kLength, ip_proto::kTcp);
    TCPLAB_COMPARE_BYTES(out, wire::Bytes(ip).first(Ipv6Header::kLength));
}

void TestIpv6::walk_capturedFrames_haveNoExtensions() {
    for (const auto& frame : m_ipv6) {
        const auto h = Ipv6Header::parse(ipBytes(frame));
        QVERIFY(h);
        const auto chain = walkIpv6Extensions(ipBytes(frame).subspan(Ipv6Header::kLength),
                                              h->nextHeader.value_or(0));
        QCOMPARE(chainOf(chain), QStringLiteral("-> %1@0").arg(*h->nextHeader));
    }
}

void TestIpv6::walk_data() {
    QTest::addColumn<QString>("packet");
    QTest::addColumn<QString>("chain");
    QTest::newRow("hop-by-hop, routing, destination options, TCP")
        << kChainHex << "0@0+8 43@8+8 60@16+8 -> 6@24";
    QTest::newRow("first fragment: the walk goes on") << kFirstFragmentHex << "44@0+8 -> 6@8 more";
    QTest::newRow("later fragment: no upper layer")
        << kLaterFragmentHex << "44@0+8 -> 6@8 fragmented";
    QTest::newRow("atomic fragment (RFC 6946)") << kAtomicFragmentHex << "44@0+8 -> 6@8";
    QTest::newRow("AH, 4-byte units") << kAhHex << "51@0+24 -> 6@24";
    QTest::newRow("destination options, 16 bytes, ICMPv6") << kDestOpts16Hex << "60@0+16 -> 58@16";
}

void TestIpv6::walk() {
    QFETCH(QString, packet);
    QFETCH(QString, chain);
    const ByteVector ip = hex(packet.toStdString());
    Diagnostics diags;
    const auto h = Ipv6Header::parse(ip, &diags);
    QVERIFY(h);
    QCOMPARE(names(diags), QString());
    QVERIFY(!h->payloadLength);
    const auto walked =
        walkIpv6Extensions(wire::Bytes(ip).subspan(Ipv6Header::kLength), h->nextHeader.value_or(0));
    QCOMPARE(chainOf(walked), chain);
    // The fixed header re-emits as scapy built it.
    ByteVector out(Ipv6Header::kLength);
    h->emit(out.data(), ip.size() - Ipv6Header::kLength, 0);
    TCPLAB_COMPARE_BYTES(out, wire::Bytes(ip).first(Ipv6Header::kLength));
}

void TestIpv6::walk_malformed_data() {
    QTest::addColumn<int>("firstNext");
    QTest::addColumn<QString>("after"); // the bytes after the fixed header
    QTest::addColumn<QString>("result");
    QTest::addColumn<QString>("message");
    // Stops, not failures: the walk ends at anything that is not an extension it knows.
    QTest::newRow("no next header") << 59 << ""
                                    << "-> 59@0"
                                    << "";
    QTest::newRow("ESP: the rest is encrypted") << 50 << "0000010000000001"
                                                << "-> 50@0"
                                                << "";
    QTest::newRow("UDP") << 17 << ""
                         << "-> 17@0"
                         << "";
    QTest::newRow("empty hop-by-hop: no next header") << 0 << "3b00010400000000"
                                                      << "0@0+8 -> 59@8"
                                                      << "";
    // Failures.
    QTest::newRow("hop-by-hop, no bytes") << 0 << ""
                                          << "truncated ipv6.HopByHop @40 expected 2 actual 0"
                                          << "ipv6: truncated: needs 2 bytes, 0 present";
    QTest::newRow("routing, 1 byte") << 43 << "06"
                                     << "truncated ipv6.Routing @40 expected 2 actual 1"
                                     << "ipv6: truncated: needs 2 bytes, 1 present";
    QTest::newRow("hop-by-hop len 1, 8 bytes")
        << 0 << "0601010400000000"
        << "header length overruns the packet ipv6.HopByHop @40 expected 16 actual 8"
        << "ipv6: HopByHop says 16 bytes of header, only 8 present";
    QTest::newRow("destination options, 2 bytes")
        << 60 << "0600"
        << "header length overruns the packet ipv6.DestOpts @40 expected 8 actual 2"
        << "ipv6: DestOpts says 8 bytes of header, only 2 present";
    QTest::newRow("fragment, 7 bytes") << 44 << "06000001123456"
                                       << "truncated ipv6.Fragment @40 expected 8 actual 7"
                                       << "ipv6: truncated: needs 8 bytes, 7 present";
    QTest::newRow("AH len 4, 23 bytes")
        << 51 << "060400000000010000000001 aaaaaaaaaaaaaaaaaaaaaa"
        << "header length overruns the packet ipv6.AH @40 expected 24 actual 23"
        << "ipv6: AH says 24 bytes of header, only 23 present";
    QTest::newRow("second header cut")
        << 0 << "2b00010400000000 06ff"
        << "header length overruns the packet ipv6.Routing @48 expected 2048 actual 2"
        << "ipv6: Routing says 2048 bytes of header, only 2 present";
}

void TestIpv6::walk_malformed() {
    QFETCH(int, firstNext);
    QFETCH(QString, after);
    QFETCH(QString, result);
    QFETCH(QString, message);
    const ByteVector bytes = hex(after.toStdString());
    QCOMPARE(bytes.size() * 2, std::size_t(QString(after).remove(QLatin1Char(' ')).size()));
    const auto r = walkIpv6Extensions(bytes, static_cast<std::uint8_t>(firstNext));
    QCOMPARE(chainOf(r), result);
    if (!r)
        QCOMPARE(qs(r.error().message()), message);
}

void TestIpv6::walk_eightHeaders_isTheLimit() {
    // Destination Options headers, 8 bytes each, each naming the next.
    const auto chainOfDestOpts = [](std::size_t count) {
        ByteVector bytes;
        for (std::size_t i = 0; i < count; ++i) {
            const std::uint8_t next = i + 1 < count ? ip_proto::kDestOpts : ip_proto::kTcp;
            const ByteVector header{next, 0, 1, 4, 0, 0, 0, 0}; // PadN of 4
            bytes.insert(bytes.end(), header.begin(), header.end());
        }
        return bytes;
    };
    const ByteVector eight = chainOfDestOpts(Ipv6Chain::kMaxHeaders);
    const auto ok = walkIpv6Extensions(eight, ip_proto::kDestOpts);
    QVERIFY(ok);
    QCOMPARE(int(ok->count), int(Ipv6Chain::kMaxHeaders));
    QCOMPARE(int(ok->upperProtocol), int(ip_proto::kTcp));
    QCOMPARE(int(ok->upperOffset), 64);

    const ByteVector nine = chainOfDestOpts(Ipv6Chain::kMaxHeaders + 1);
    const auto r = walkIpv6Extensions(nine, ip_proto::kDestOpts);
    QCOMPARE(errorOf(r),
             QStringLiteral("unsupported ipv6.extension headers @104 expected 8 actual 9"));
    QCOMPARE(qs(r.error().message()), QStringLiteral("ipv6: unsupported extension headers 9"));
}

void TestIpv6::walk_everyPrefix_failsTruncatedOrParses() {
    // Every extension header is needed whole: a prefix walks iff it holds them all.
    for (const char* text : {kChainHex, kFirstFragmentHex, kAtomicFragmentHex, kLaterFragmentHex,
                             kAhHex, kDestOpts16Hex}) {
        const ByteVector ip = hex(text);
        const std::uint8_t first = ip[6];
        const wire::Bytes after = wire::Bytes(ip).subspan(Ipv6Header::kLength);
        const auto full = walkIpv6Extensions(after, first);
        QVERIFY(full);
        for (std::size_t n = 0; n <= after.size(); ++n) {
            const auto r = walkIpv6Extensions(prefixOf(after, n), first);
            if (n >= full->upperOffset) {
                QCOMPARE(chainOf(r), chainOf(full));
            } else {
                QVERIFY(!r);
                QVERIFY2(r.error().code == ParseErrorCode::Truncated ||
                             r.error().code == ParseErrorCode::HeaderLengthOverrun,
                         qPrintable(errorOf(r)));
            }
        }
    }
}

void TestIpv6::walk_everyPrefixOfEveryFrame_neverCrashes() {
    // Any bytes walked as any extension header: never a crash, never past the span.
    for (const auto& frame : m_frames) {
        for (std::uint8_t first : {ip_proto::kHopByHop, ip_proto::kRouting, ip_proto::kFragment,
                                   ip_proto::kAh, ip_proto::kDestOpts}) {
            const wire::Bytes from = wire::Bytes(frame).subspan(EthernetHeader::kLength);
            for (std::size_t n = 0; n <= from.size(); ++n) {
                const auto r = walkIpv6Extensions(prefixOf(from, n), first);
                if (r)
                    QVERIFY(r->upperOffset <= n);
                else
                    QVERIFY(qs(r.error().message()).startsWith(QStringLiteral("ipv6: ")));
            }
        }
    }
}

void TestIpv6::extensionName() {
    QCOMPARE(ipv6ExtensionName(0), std::string_view("HopByHop"));
    QCOMPARE(ipv6ExtensionName(43), std::string_view("Routing"));
    QCOMPARE(ipv6ExtensionName(44), std::string_view("Fragment"));
    QCOMPARE(ipv6ExtensionName(60), std::string_view("DestOpts"));
    QCOMPARE(ipv6ExtensionName(51), std::string_view("AH"));
    for (int type : {6, 17, 50, 58, 59, 255})
        QVERIFY(ipv6ExtensionName(static_cast<std::uint8_t>(type)).empty());
}

QTEST_GUILESS_MAIN(TestIpv6)
#include "tst_ipv6.moc"
