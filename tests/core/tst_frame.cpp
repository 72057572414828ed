// Whole-frame decode and SegmentSpec encode over real Linux captures, and the ways
// a frame can be broken: decode never fails, never reads past the bytes, and says why.
#include "tests_support/test_support.h"

#include "wire/frame.h"
#include "wire/frame_json.h"
#include "wire/segment_spec.h"

using namespace tcplab;
using namespace tcplab::wire;

namespace {
std::vector<test::ByteVector> allCaptured() {
    auto v4 = test::readPcap("captures/linux_tcp_ipv4.pcap");
    auto v6 = test::readPcap("captures/linux_tcp_ipv6.pcap");
    v4.insert(v4.end(), v6.begin(), v6.end());
    return v4;
}
} // namespace

class TestFrame : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void realIpv4Syn_decodesEveryLayer() {
        const auto frames = test::readPcap("captures/linux_tcp_ipv4.pcap");
        QVERIFY(frames.size() >= 12);
        const Frame f = decodeFrame(frames[2]);
        QVERIFY(!f.malformed);
        QVERIFY(f.diagnostics.empty());
        QCOMPARE(f.layers().size(), std::size_t{3});
        QCOMPARE(f.layers()[2].protocol, &kTcpProtocol);
        QCOMPARE(f.layers()[2].offset, 34u);
        QCOMPARE(f.layers()[2].length, 40u);
        QVERIFY(f.ipv4());
        QCOMPARE(QString::fromStdString(f.ipv4()->src.toString()), QString("198.18.0.2"));
        const TcpHeader* tcp = f.tcp();
        QVERIFY(tcp);
        QCOMPARE(tcp->srcPort, std::uint16_t{42570});
        QCOMPARE(tcp->seq, SeqNum(1505856435u));
        QCOMPARE(tcp->flags, tcp_flags::kSyn);
        QCOMPARE(tcp->options.mss(), std::optional<std::uint16_t>(1460));
        QCOMPARE(tcp->options.windowScale(), std::optional<std::uint8_t>(10));
        QVERIFY(tcp->options.sackPermitted());
        QCOMPARE(f.payloadLength, 0u);
    }

    void realIpv4Get_payloadIsTheRequest() {
        const auto frames = test::readPcap("captures/linux_tcp_ipv4.pcap");
        const Frame f = decodeFrame(frames[5]);
        QVERIFY(f.tcp());
        QCOMPARE(f.tcp()->flags, std::uint8_t(tcp_flags::kPsh | tcp_flags::kAck));
        const Bytes p = f.payload();
        QCOMPARE(QByteArray(reinterpret_cast<const char*>(p.data()), qsizetype(p.size())),
                 QByteArray("GET / HTTP/1.1\r\n\r\n"));
    }

    void realArpAndNeighborDiscovery_decode() {
        const auto v4 = test::readPcap("captures/linux_tcp_ipv4.pcap");
        const Frame arp = decodeFrame(v4[0]);
        QVERIFY(arp.arp());
        QCOMPARE(arp.arp()->operation, arp_op::kRequest);
        QCOMPARE(QString::fromStdString(arp.arp()->targetIp.toString()), QString("198.18.0.1"));
        const auto v6 = test::readPcap("captures/linux_tcp_ipv6.pcap");
        const Frame ns = decodeFrame(v6[0]);
        QVERIFY(ns.icmpv6());
        QCOMPARE(ns.icmpv6()->type, icmpv6_type::kNeighborSolicitation);
        QCOMPARE(QString::fromStdString(ns.icmpv6()->target.toString()), QString("2001:db8::1"));
        QVERIFY(ns.icmpv6()->sourceLinkLayer);
        const Frame na = decodeFrame(v6[1]);
        QVERIFY(na.icmpv6());
        QCOMPARE(na.icmpv6()->type, icmpv6_type::kNeighborAdvertisement);
        QCOMPARE(QString::fromStdString(na.icmpv6()->targetLinkLayer->toString()),
                 QString("02:00:00:00:00:0b"));
        QVERIFY(!na.malformed);
    }

    void everyCapturedTcpFrame_reencodesByteForByte() {
        int checked = 0;
        for (const auto& bytes : allCaptured()) {
            const Frame f = decodeFrame(bytes);
            if (!f.tcp())
                continue;
            const auto spec = SegmentSpec::fromFrame(f);
            QVERIFY(spec);
            // Derived fields that were right on the wire come back as "auto".
            QVERIFY(!spec->tcp.checksum);
            QVERIFY(!spec->ethernet.etherType);
            const auto encoded = spec->encode();
            QVERIFY(encoded);
            TCPLAB_COMPARE_BYTES(*encoded, bytes);
            ++checked;
        }
        QCOMPARE(checked, 20);
    }

    void json_namesFieldsAsScapy() {
        const auto frames = test::readPcap("captures/linux_tcp_ipv4.pcap");
        const auto j = frameToJson(decodeFrame(frames[3]));
        QVERIFY(j["malformed"].is_null());
        QCOMPARE(j["layers"].size(), std::size_t{3});
        const auto& eth = j["layers"][0];
        QCOMPARE(QString::fromStdString(eth["layer"]), QString("ethernet"));
        QCOMPARE(eth["type"].get<int>(), 0x0800);
        const auto& ip = j["layers"][1];
        for (const char* key : {"version", "ihl", "tos", "len", "id", "flags", "frag", "ttl",
                                "proto", "chksum", "src", "dst", "chksum_ok"})
            QVERIFY2(ip.contains(key), key);
        QCOMPARE(QString::fromStdString(ip["flags"]), QString("DF"));
        QCOMPARE(ip["chksum_ok"].get<bool>(), true);
        const auto& tcp = j["layers"][2];
        for (const char* key : {"sport", "dport", "seq", "ack", "dataofs", "reserved", "flags",
                                "window", "chksum", "urgptr", "chksum_ok", "options"})
            QVERIFY2(tcp.contains(key), key);
        QCOMPARE(QString::fromStdString(tcp["flags"]), QString("SA"));
        QCOMPARE(tcp["dataofs"].get<int>(), 10);
        QCOMPARE(QString::fromStdString(tcp["options"][0].dump()), QString("[\"MSS\",1460]"));
        QCOMPARE(QString::fromStdString(tcp["options"][1].dump()), QString("[\"SAckOK\",null]"));
        QCOMPARE(tcp["options"][2][0].get<std::string>(), std::string("Timestamp"));
        QCOMPARE(tcp["options"][2][1][1].get<std::uint32_t>(), 3222837068u);
        QCOMPARE(QString::fromStdString(tcp["options"][4].dump()), QString("[\"WScale\",10]"));
    }

    void badTcpChecksum_isADiagnosticNotAFailure() {
        auto bytes = test::readPcap("captures/linux_tcp_ipv4.pcap")[4];
        bytes[34 + 16] ^= 0xff;
        const Frame f = decodeFrame(bytes);
        QVERIFY(!f.malformed);
        QVERIFY(f.diagnostics.has(Diagnostic::TcpChecksumBad));
        QVERIFY(f.tcp()->checksum); // kept as override so it re-emits as it was
        const auto j = frameToJson(f);
        QCOMPARE(j["layers"][2]["chksum_ok"].get<bool>(), false);
        QCOMPARE(QString::fromStdString(j["diagnostics"][0]["field"]), QString("chksum"));
        TCPLAB_COMPARE_BYTES(*SegmentSpec::fromFrame(f)->encode(), bytes);
    }

    void dataOffsetBelowFive_isMalformedWithReason() {
        auto bytes = test::readPcap("captures/linux_tcp_ipv4.pcap")[4];
        bytes[34 + 12] = static_cast<std::uint8_t>((3 << 4) | (bytes[34 + 12] & 0x0f));
        const Frame f = decodeFrame(bytes);
        QVERIFY(f.malformed);
        QCOMPARE(f.malformed->code, ParseErrorCode::HeaderLengthTooShort);
        QCOMPARE(QString::fromStdString(std::string(f.malformed->layer)), QString("tcp"));
        const auto j = frameToJson(f);
        QVERIFY(QString::fromStdString(j["malformed"]).contains("dataofs"));
        // The fixed header is still shown, so the odd value can be seen.
        QCOMPARE(j["layers"][2]["dataofs"].get<int>(), 3);
        QVERIFY(!SegmentSpec::fromFrame(f));
    }

    void ethernetPadding_isTrailingBytesAndNotPayload() {
        auto bytes = test::readPcap("captures/linux_tcp_ipv4.pcap")[1]; // ARP reply, 42 bytes
        bytes.resize(60, 0);
        const Frame arp = decodeFrame(bytes);
        QVERIFY(arp.arp());
        QVERIFY(arp.diagnostics.has(Diagnostic::TrailingBytes));
        // An IPv4 ACK padded the same way: the payload is bounded by the total length.
        auto ack = test::readPcap("captures/linux_tcp_ipv4.pcap")[4];
        const auto size = ack.size();
        ack.resize(size + 6, 0);
        const Frame f = decodeFrame(ack);
        QVERIFY(f.tcp());
        QCOMPARE(f.payloadLength, 0u);
        QVERIFY(f.diagnostics.has(Diagnostic::TrailingBytes));
        QVERIFY(!f.diagnostics.has(Diagnostic::TcpChecksumBad));
    }

    void cutShortFrame_decodesWhatIsThereAndCannotVerify() {
        auto bytes = test::readPcap("captures/linux_tcp_ipv4.pcap")[7]; // response with data
        bytes.resize(bytes.size() - 10);
        const Frame f = decodeFrame(bytes);
        QVERIFY(f.tcp());
        QVERIFY(f.diagnostics.has(Diagnostic::Ipv4TotalLengthBeyondFrame));
        QVERIFY(!f.diagnostics.has(Diagnostic::TcpChecksumBad));
        QVERIFY(frameToJson(f)["layers"][2]["chksum_ok"].is_null());
    }

    void everyPrefixOfEveryCapture_decodesWithoutReadingPastTheEnd() {
        // Run under ASan in CI: a read past the span would be reported there.
        for (const auto& bytes : allCaptured()) {
            for (std::size_t n = 0; n <= bytes.size(); ++n) {
                const test::ByteVector prefix(bytes.begin(), bytes.begin() + std::ptrdiff_t(n));
                const Frame f = decodeFrame(prefix);
                QVERIFY(f.payloadOffset + f.payloadLength <= n);
                for (const auto& layer : f.layers())
                    QVERIFY(layer.offset + layer.length <= n);
                if (n < 14)
                    QVERIFY(f.malformed && f.malformed->code == ParseErrorCode::Truncated);
                (void)frameToJson(f);
            }
        }
    }

    void encode_reportsTooSmallBufferAndTooLargePacket() {
        SegmentSpec spec;
        spec.payload.assign(100, 'x');
        std::array<std::uint8_t, 64> small{};
        auto r = spec.encode(MutableBytes(small));
        QVERIFY(!r);
        QCOMPARE(r.error(), EncodeError::BufferTooSmall);
        spec.payload.assign(70000, 'x');
        auto big = spec.encode();
        QVERIFY(!big);
        QCOMPARE(big.error(), EncodeError::TooLarge);
    }

    void vlanTaggedFrame_decodesTheInnerPacket() {
        auto bytes = test::readPcap("captures/linux_tcp_ipv4.pcap")[2];
        // Insert an 802.1Q tag (TPID 8100, PCP 5, VID 100) after the source MAC.
        const std::array<std::uint8_t, 4> tag = {0x81, 0x00, 0xa0, 0x64};
        bytes.insert(bytes.begin() + 12, tag.begin(), tag.end());
        const Frame f = decodeFrame(bytes);
        QVERIFY(!f.malformed);
        QVERIFY(f.vlan);
        QCOMPARE(f.vlan->vlanId, std::uint16_t{100});
        QCOMPARE(f.vlan->priority, std::uint8_t{5});
        QVERIFY(f.tcp());
        QVERIFY(!f.diagnostics.has(Diagnostic::TcpChecksumBad));
        QCOMPARE(QString::fromStdString(frameToJson(f)["layers"][1]["layer"]), QString("dot1q"));
    }
};

QTEST_GUILESS_MAIN(TestFrame)
#include "tst_frame.moc"
