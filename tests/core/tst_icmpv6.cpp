// ICMPv6 (RFC 4443) and Neighbor Discovery (RFC 4861): the five checks on real
// captured frames, malformed input, every prefix of every fixture, options kept in
// order and checksums under the IPv6 pseudo-header.
//
// Fixtures: tests/data/captures/linux_tcp_ipv6.pcap (tests/data/captures/capture.sh):
// frame 1 the client's Neighbor Solicitation for 2001:db8::1 (from 2001:db8::2 to
// ff02::1:ff00:1, Source Link-Layer Address 02:00:00:00:00:0a), frame 2 the server's
// solicited, override Neighbor Advertisement (Target Link-Layer Address
// 02:00:00:00:00:0b), frames 13-14 Router Solicitations. Odd option orders and an echo
// request come from scapy 2.5 (the expression is above each).

#include "tests_support/test_support.h"
#include "wire/ethernet.h"
#include "wire/icmpv6.h"
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

const MacAddress kClientMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x0a}};
const MacAddress kServerMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x0b}};
const Ipv6Address kClientIp = *Ipv6Address::parse("2001:db8::2");
const Ipv6Address kServerIp = *Ipv6Address::parse("2001:db8::1");
const PseudoHeader kNsPseudo =
    PseudoHeader::ipv6(kClientIp, kServerIp.solicitedNodeMulticast(), ip_proto::kIcmpv6);
const PseudoHeader kNaPseudo = PseudoHeader::ipv6(kServerIp, kClientIp, ip_proto::kIcmpv6);

// The ICMPv6 message of one captured frame and the pseudo-header its IPv6 header gives.
struct Message {
    ByteVector bytes;
    PseudoHeader pseudo;
};
Message messageOf(const ByteVector& frame) {
    const wire::Bytes ip = wire::Bytes(frame).subspan(EthernetHeader::kLength);
    const auto h = Ipv6Header::parse(ip);
    const wire::Bytes icmp = ip.subspan(Ipv6Header::kLength);
    return {ByteVector(icmp.begin(), icmp.end()),
            PseudoHeader::ipv6(h->src, h->dst, ip_proto::kIcmpv6)};
}

// Under kNsPseudo: IPv6(src="2001:db8::2", dst="ff02::1:ff00:1")/ICMPv6ND_NS(
// tgt="2001:db8::1")/ICMPv6NDOptDstLLAddr(lladdr=...0b)/ICMPv6NDOptSrcLLAddr(lladdr=...0a):
// the target option before the source one, the reverse of emit's order.
const char* const kNsTargetThenSourceHex =
    "8700180b0000000020010db8000000000000000000000001020102000000000b010102000000000a";
// ...ICMPv6NDOptSrcLLAddr(...0a)/ICMPv6NDOptUnknown(type=14, len=1, data=01..06): a
// Nonce option (RFC 3971 §5.3.2) after the source link-layer address.
const char* const kNsSourceThenNonceHex =
    "8700050a0000000020010db8000000000000000000000001010102000000000a0e01010203040506";
// ...the Nonce first, then the source link-layer address.
const char* const kNsNonceThenSourceHex =
    "8700050a0000000020010db80000000000000000000000010e01010203040506010102000000000a";
// Under kNaPseudo: ICMPv6ND_NA(tgt="2001:db8::1", R=1, S=1, O=0)/ICMPv6NDOptMTU(
// mtu=1500)/ICMPv6NDOptDstLLAddr(lladdr=...0b).
const char* const kNaMtuThenTargetHex =
    "88001f84c000000020010db800000000000000000000000105010000000005dc020102000000000b";
// Under PseudoHeader::ipv6(2001:db8::2, 2001:db8::1, 58):
// ICMPv6EchoRequest(id=0x1234, seq=1, data=b"phantom").
const char* const kEchoRequestHex = "80005ec5123400017068616e746f6d";
} // namespace

class TestIcmpv6 : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();

    void captured_readsEveryField();
    void captured_buildFromFields_emitsCapturedBytes();
    void captured_parse_equalsHandBuiltMessage();
    void captured_emit_reproducesEveryMessage();
    void truncated_failsNamingTheMissingField();
    void malformed_data();
    void malformed();
    void everyPrefix_failsTruncatedOrParses();
    void everyPrefixOfEveryFrame_neverCrashes();

    void options_roundTripInTheirOrder_data();
    void options_roundTripInTheirOrder();
    void otherTypes_keepTheirBodyUndecoded();
    void flagsAndReserved_eachKeepTheirBits();
    void checksumBad_isDiagnosedAndKeptAsOverride();
    void withoutPseudoHeader_checksumIsKeptAsRead();

private:
    std::vector<ByteVector> m_frames; // every frame of both captures
    Message m_ns;
    Message m_na;
    std::vector<Message> m_captured; // NS, NA, RS, RS
};

void TestIcmpv6::initTestCase() {
    std::string error;
    const auto v4 = test::readPcap("captures/linux_tcp_ipv4.pcap", &error);
    QVERIFY2(v4.size() == 12, error.c_str());
    const auto v6 = test::readPcap("captures/linux_tcp_ipv6.pcap", &error);
    QVERIFY2(v6.size() == 14, error.c_str());
    m_frames = v4;
    m_frames.insert(m_frames.end(), v6.begin(), v6.end());
    for (std::size_t i : {0, 1, 12, 13})
        m_captured.push_back(messageOf(v6[i]));
    m_ns = m_captured[0];
    m_na = m_captured[1];
    QCOMPARE(m_ns.bytes.size(), std::size_t{32});
}

void TestIcmpv6::captured_readsEveryField() {
    // NS: 87 00 1c1f 00000000 2001:db8::1 | 01 01 02:00:00:00:00:0a
    Diagnostics diags;
    const auto ns = Icmpv6Message::parse(m_ns.bytes, &m_ns.pseudo, &diags);
    QVERIFY(ns);
    QCOMPARE(ns->type, icmpv6_type::kNeighborSolicitation);
    QCOMPARE(ns->code, std::uint8_t{0});
    QVERIFY(!ns->checksum); // 0x1c1f is right, so auto
    QCOMPARE(ns->flags, std::uint8_t{0});
    QCOMPARE(ns->reserved, std::uint32_t{0});
    QCOMPARE(qs(ns->target.toString()), QStringLiteral("2001:db8::1"));
    QVERIFY(ns->sourceLinkLayer);
    QCOMPARE(qs(ns->sourceLinkLayer->toString()), QStringLiteral("02:00:00:00:00:0a"));
    QVERIFY(!ns->targetLinkLayer);
    QVERIFY(ns->body.empty());
    QCOMPARE(ns->length(), std::size_t{32});
    QCOMPARE(names(diags), QString());

    // NA: 88 00 8a69 60000000 2001:db8::1 | 02 01 02:00:00:00:00:0b
    const auto na = Icmpv6Message::parse(m_na.bytes, &m_na.pseudo, &diags);
    QVERIFY(na);
    QCOMPARE(na->type, icmpv6_type::kNeighborAdvertisement);
    QCOMPARE(na->code, std::uint8_t{0});
    QVERIFY(!na->checksum);
    QCOMPARE(int(na->flags), na_flags::kSolicited | na_flags::kOverride);
    QCOMPARE(na->reserved, std::uint32_t{0});
    QCOMPARE(qs(na->target.toString()), QStringLiteral("2001:db8::1"));
    QVERIFY(!na->sourceLinkLayer);
    QVERIFY(na->targetLinkLayer);
    QCOMPARE(qs(na->targetLinkLayer->toString()), QStringLiteral("02:00:00:00:00:0b"));
    QVERIFY(na->body.empty());
    QCOMPARE(names(diags), QString());

    // RS (type 133) is not decoded: type, code, checksum and the bytes after them.
    const Message& rs = m_captured[2];
    const auto r = Icmpv6Message::parse(rs.bytes, &rs.pseudo, &diags);
    QVERIFY(r);
    QCOMPARE(r->type, icmpv6_type::kRouterSolicitation);
    QVERIFY(!r->checksum);
    QVERIFY(!r->sourceLinkLayer);
    TCPLAB_COMPARE_BYTES(r->body, hex("00000000 0101 02000000000a"));
    QCOMPARE(names(diags), QString());
}

void TestIcmpv6::captured_buildFromFields_emitsCapturedBytes() {
    const Icmpv6Message ns = Icmpv6Message::neighborSolicitation(kServerIp, kClientMac);
    QCOMPARE(ns.length(), m_ns.bytes.size());
    ByteVector out(ns.length(), 0xee);
    QCOMPARE(ns.emit(out.data(), kNsPseudo), m_ns.bytes.size());
    TCPLAB_COMPARE_BYTES(out, m_ns.bytes);

    const Icmpv6Message na = Icmpv6Message::neighborAdvertisement(
        kServerIp, kServerMac, na_flags::kSolicited | na_flags::kOverride);
    QCOMPARE(na.length(), m_na.bytes.size());
    out.assign(na.length(), 0xee);
    QCOMPARE(na.emit(out.data(), kNaPseudo), m_na.bytes.size());
    TCPLAB_COMPARE_BYTES(out, m_na.bytes);
}

void TestIcmpv6::captured_parse_equalsHandBuiltMessage() {
    const auto ns = Icmpv6Message::parse(m_ns.bytes, &kNsPseudo);
    QVERIFY(ns);
    QVERIFY(*ns == Icmpv6Message::neighborSolicitation(kServerIp, kClientMac));
    const auto na = Icmpv6Message::parse(m_na.bytes, &kNaPseudo);
    QVERIFY(na);
    QVERIFY(*na == Icmpv6Message::neighborAdvertisement(
                       kServerIp, kServerMac, na_flags::kSolicited | na_flags::kOverride));
}

void TestIcmpv6::captured_emit_reproducesEveryMessage() {
    for (const Message& m : m_captured) {
        const auto parsed = Icmpv6Message::parse(m.bytes, &m.pseudo);
        QVERIFY(parsed);
        QCOMPARE(parsed->length(), m.bytes.size());
        ByteVector out(parsed->length(), 0xee);
        QCOMPARE(parsed->emit(out.data(), m.pseudo), m.bytes.size());
        TCPLAB_COMPARE_BYTES(out, m.bytes);
    }
}

void TestIcmpv6::truncated_failsNamingTheMissingField() {
    auto r = Icmpv6Message::parse(wire::Bytes(m_ns.bytes).first(3), &m_ns.pseudo);
    QCOMPARE(errorOf(r), QStringLiteral("truncated icmpv6.cksum @2 expected 4 actual 3"));
    QCOMPARE(qs(r.error().message()),
             QStringLiteral("icmpv6: truncated: needs 4 bytes, 3 present"));
    // An NS needs its target.
    r = Icmpv6Message::parse(wire::Bytes(m_ns.bytes).first(23), &m_ns.pseudo);
    QCOMPARE(errorOf(r), QStringLiteral("truncated icmpv6.tgt @8 expected 24 actual 23"));
    QCOMPARE(qs(r.error().message()),
             QStringLiteral("icmpv6: truncated: needs 24 bytes, 23 present"));
}

void TestIcmpv6::malformed_data() {
    QTest::addColumn<QString>("input");
    QTest::addColumn<QString>("error");
    QTest::addColumn<QString>("message");
    // The captured NS (checksums are not structure, so left as they fall).
    const QString ns = QStringLiteral("87001c1f0000000020010db8000000000000000000000001");
    QTest::newRow("empty") << ""
                           << "truncated icmpv6.type @0 expected 4 actual 0"
                           << "icmpv6: truncated: needs 4 bytes, 0 present";
    QTest::newRow("NA without target") << "88008a6960000000"
                                       << "truncated icmpv6.tgt @8 expected 24 actual 8"
                                       << "icmpv6: truncated: needs 24 bytes, 8 present";
    QTest::newRow("NS without reserved word") << "87001c1f"
                                              << "truncated icmpv6.flags @4 expected 24 actual 4"
                                              << "icmpv6: truncated: needs 24 bytes, 4 present";
    // RFC 4861 §4.6: an option with length zero makes the whole packet invalid.
    QTest::newRow("option length 0")
        << ns + "0100 02000000000a"
        << "option length invalid icmpv6.options @24 expected 1 actual 0"
        << "icmpv6: option at offset 24 has length 0 (must be at least 1)";
    QTest::newRow("second option length 0")
        << ns + "0101 02000000000a 0e00 010203040506"
        << "option length invalid icmpv6.options @32 expected 1 actual 0"
        << "icmpv6: option at offset 32 has length 0 (must be at least 1)";
    QTest::newRow("option length 2, 8 bytes")
        << ns + "0102 02000000000a"
        << "option overruns the header icmpv6.options @24 expected 16 actual 8"
        << "icmpv6: option at offset 24 needs 16 bytes, 8 left in the header";
    QTest::newRow("option cut")
        << ns + "0101 0200"
        << "option overruns the header icmpv6.options @24 expected 8 actual 4"
        << "icmpv6: option at offset 24 needs 8 bytes, 4 left in the header";
    QTest::newRow("one stray byte")
        << ns + "0101 02000000000a 00"
        << "option overruns the header icmpv6.options @32 expected 8 actual 1"
        << "icmpv6: option at offset 32 needs 8 bytes, 1 left in the header";
    QTest::newRow("option length 255")
        << ns + "01ff 02000000000a"
        << "option overruns the header icmpv6.options @24 expected 2040 actual 8"
        << "icmpv6: option at offset 24 needs 2040 bytes, 8 left in the header";
}

void TestIcmpv6::malformed() {
    QFETCH(QString, input);
    QFETCH(QString, error);
    QFETCH(QString, message);
    const ByteVector bytes = hex(input.toStdString());
    QCOMPARE(bytes.size() * 2, std::size_t(QString(input).remove(QLatin1Char(' ')).size()));
    Diagnostics diags;
    const auto r = Icmpv6Message::parse(bytes, &kNsPseudo, &diags);
    QCOMPARE(errorOf(r), error);
    QCOMPARE(qs(r.error().message()), message);
    // Without a pseudo-header the structure fails the same way.
    QCOMPARE(errorOf(Icmpv6Message::parse(bytes, nullptr)), error);
}

void TestIcmpv6::everyPrefix_failsTruncatedOrParses() {
    // A prefix short of the fixed part is truncated; for NS/NA a cut inside an option
    // is that option overrunning the message (RFC 4861 §4.6: the message ends where
    // the IPv6 payload does). Every parsed prefix has a checksum that no longer holds.
    for (const Message& m : m_captured) {
        const bool nd = m.bytes[0] == icmpv6_type::kNeighborSolicitation ||
                        m.bytes[0] == icmpv6_type::kNeighborAdvertisement;
        const std::size_t fixed = nd ? Icmpv6Message::kNdLength : Icmpv6Message::kHeaderLength;
        for (std::size_t n = 0; n <= m.bytes.size(); ++n) {
            Diagnostics diags;
            const auto r = Icmpv6Message::parse(prefixOf(m.bytes, n), &m.pseudo, &diags);
            if (n < fixed) {
                QVERIFY2(errorOf(r).startsWith(QStringLiteral("truncated icmpv6.")),
                         qPrintable(errorOf(r)));
            } else if (nd && n > fixed && n < m.bytes.size()) {
                QCOMPARE(errorOf(r),
                         QStringLiteral(
                             "option overruns the header icmpv6.options @24 expected 8 actual %1")
                             .arg(n - fixed));
            } else {
                QCOMPARE(errorOf(r), QStringLiteral("parsed"));
                QCOMPARE(diags.has(Diagnostic::Icmpv6ChecksumBad), n < m.bytes.size());
                QCOMPARE(r->checksum.has_value(), n < m.bytes.size());
            }
        }
    }
}

void TestIcmpv6::everyPrefixOfEveryFrame_neverCrashes() {
    // Every captured byte sequence read as ICMPv6, as an NS and as an NA (the type
    // byte forced), at every length, with and without a pseudo-header.
    for (const auto& frame : m_frames) {
        for (std::size_t start : {std::size_t{14}, std::size_t{34}, std::size_t{54}}) {
            if (start > frame.size())
                continue;
            for (int forced : {-1, int(icmpv6_type::kNeighborSolicitation),
                               int(icmpv6_type::kNeighborAdvertisement)}) {
                ByteVector bytes(frame.begin() + std::ptrdiff_t(start), frame.end());
                if (forced >= 0 && !bytes.empty())
                    bytes[0] = static_cast<std::uint8_t>(forced);
                for (std::size_t n = 0; n <= bytes.size(); ++n) {
                    Diagnostics diags;
                    const ByteVector prefix = prefixOf(bytes, n);
                    const auto a = Icmpv6Message::parse(prefix, &kNsPseudo, &diags);
                    const auto b = Icmpv6Message::parse(prefix, nullptr);
                    QCOMPARE(errorOf(a), errorOf(b));
                    if (a) {
                        // What parsed re-emits byte for byte.
                        QCOMPARE(a->length(), n);
                        ByteVector out(a->length());
                        a->emit(out.data(), kNsPseudo);
                        TCPLAB_COMPARE_BYTES(out, prefix);
                    } else {
                        QVERIFY(qs(a.error().message()).startsWith(QStringLiteral("icmpv6: ")));
                    }
                }
            }
        }
    }
}

void TestIcmpv6::options_roundTripInTheirOrder_data() {
    QTest::addColumn<QString>("message");
    QTest::addColumn<bool>("isNa");
    QTest::addColumn<QString>("source");
    QTest::addColumn<QString>("target");
    QTest::addColumn<QString>("body");
    // Decoded only where emit puts a link-layer option back; the rest stays in order.
    QTest::newRow("target then source") << kNsTargetThenSourceHex << false << ""
                                        << "02:00:00:00:00:0b"
                                        << "010102000000000a";
    QTest::newRow("source then nonce") << kNsSourceThenNonceHex << false << "02:00:00:00:00:0a"
                                       << ""
                                       << "0e01010203040506";
    QTest::newRow("nonce then source") << kNsNonceThenSourceHex << false << ""
                                       << ""
                                       << "0e01010203040506010102000000000a";
    QTest::newRow("MTU then target") << kNaMtuThenTargetHex << true << ""
                                     << ""
                                     << "05010000000005dc020102000000000b";
}

void TestIcmpv6::options_roundTripInTheirOrder() {
    QFETCH(QString, message);
    QFETCH(bool, isNa);
    QFETCH(QString, source);
    QFETCH(QString, target);
    QFETCH(QString, body);
    const PseudoHeader& pseudo = isNa ? kNaPseudo : kNsPseudo;
    const ByteVector bytes = hex(message.toStdString());
    Diagnostics diags;
    const auto m = Icmpv6Message::parse(bytes, &pseudo, &diags);
    QVERIFY(m);
    QCOMPARE(names(diags), QString()); // scapy's checksums hold
    QVERIFY(!m->checksum);
    QCOMPARE(m->sourceLinkLayer ? qs(m->sourceLinkLayer->toString()) : QString(), source);
    QCOMPARE(m->targetLinkLayer ? qs(m->targetLinkLayer->toString()) : QString(), target);
    QCOMPARE(test::toHex(m->body), body);
    ByteVector out(m->length(), 0xee);
    QCOMPARE(m->emit(out.data(), pseudo), bytes.size());
    TCPLAB_COMPARE_BYTES(out, bytes);
}

void TestIcmpv6::otherTypes_keepTheirBodyUndecoded() {
    const PseudoHeader pseudo = PseudoHeader::ipv6(kClientIp, kServerIp, ip_proto::kIcmpv6);
    const ByteVector bytes = hex(kEchoRequestHex);
    Diagnostics diags;
    const auto m = Icmpv6Message::parse(bytes, &pseudo, &diags);
    QVERIFY(m);
    QCOMPARE(names(diags), QString());
    QCOMPARE(m->type, icmpv6_type::kEchoRequest);
    QVERIFY(!m->checksum);
    TCPLAB_COMPARE_BYTES(m->body, hex("12340001 7068616e746f6d"));
    // Build it from fields: an odd length, so the checksum pads the last byte.
    Icmpv6Message echo;
    echo.type = icmpv6_type::kEchoRequest;
    echo.body = hex("12340001 7068616e746f6d");
    echo.sourceLinkLayer = kClientMac; // NS/NA only: not emitted for other types
    QCOMPARE(echo.length(), bytes.size());
    ByteVector out(echo.length(), 0xee);
    QCOMPARE(echo.emit(out.data(), pseudo), bytes.size());
    TCPLAB_COMPARE_BYTES(out, bytes);

    // An RS with a zero-length option is not ours to judge: RS options are not parsed.
    const ByteVector rs = hex("85000000 00000000 0100 02000000000a");
    QVERIFY(Icmpv6Message::parse(rs, nullptr));
}

void TestIcmpv6::flagsAndReserved_eachKeepTheirBits() {
    Icmpv6Message na =
        Icmpv6Message::neighborAdvertisement(kServerIp, kServerMac, na_flags::kRouter);
    ByteVector out(na.length());
    na.emit(out.data(), kNaPseudo);
    QCOMPARE(load32(out.data() + 4), std::uint32_t{0x80000000});
    na.flags = 0;
    na.reserved = 0x1fffffff;
    na.emit(out.data(), kNaPseudo);
    QCOMPARE(load32(out.data() + 4), std::uint32_t{0x1fffffff});
    na.flags = 7;
    na.emit(out.data(), kNaPseudo);
    QCOMPARE(load32(out.data() + 4), std::uint32_t{0xffffffff});
    Diagnostics diags;
    const auto back = Icmpv6Message::parse(out, &kNaPseudo, &diags);
    QVERIFY(back);
    QCOMPARE(names(diags), QString());
    QCOMPARE(int(back->flags), 7);
    QCOMPARE(back->reserved, std::uint32_t{0x1fffffff});
    QVERIFY(*back == na);
}

void TestIcmpv6::checksumBad_isDiagnosedAndKeptAsOverride() {
    ByteVector bytes = m_na.bytes;
    store16(bytes.data() + 2, 0x8a68); // captured 0x8a69
    Diagnostics diags;
    const auto m = Icmpv6Message::parse(bytes, &m_na.pseudo, &diags);
    QVERIFY(m);
    QCOMPARE(names(diags), QStringLiteral("Icmpv6ChecksumBad"));
    QCOMPARE(m->checksum.value_or(0), std::uint16_t{0x8a68});
    ByteVector out(m->length());
    m->emit(out.data(), m_na.pseudo);
    TCPLAB_COMPARE_BYTES(out, bytes);
    // Under the wrong pseudo-header (another destination) the right checksum is wrong.
    diags = {};
    QVERIFY(Icmpv6Message::parse(m_na.bytes, &kNsPseudo, &diags));
    QVERIFY(diags.has(Diagnostic::Icmpv6ChecksumBad));
}

void TestIcmpv6::withoutPseudoHeader_checksumIsKeptAsRead() {
    Diagnostics diags;
    const auto m = Icmpv6Message::parse(m_ns.bytes, nullptr, &diags);
    QVERIFY(m);
    QCOMPARE(names(diags), QString());
    QCOMPARE(m->checksum.value_or(0), std::uint16_t{0x1c1f});
    // Kept as read, it re-emits verbatim whatever the pseudo-header.
    ByteVector out(m->length());
    m->emit(out.data(), kNaPseudo);
    TCPLAB_COMPARE_BYTES(out, m_ns.bytes);
}

QTEST_GUILESS_MAIN(TestIcmpv6)
#include "tst_icmpv6.moc"
