// The Internet checksum and the pseudo-headers, against RFC 1071's worked example
// and real Linux frames (tests/data/captures, offloads off so checksums are real).
#include "tests_support/test_support.h"

#include "wire/checksum.h"

using namespace tcplab;
using namespace tcplab::wire;

class TestChecksum : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void rfc1071Example() {
        // RFC 1071 §3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 (folded).
        const auto bytes = test::hex("0001f203f4f5f6f7");
        InternetChecksum c;
        c.add(bytes);
        QCOMPARE(c.folded(), std::uint16_t{0xddf2});
        QCOMPARE(c.finish(), std::uint16_t{0x220d});
    }

    void oddLengthPadsWithZeroOnTheRight() {
        // 0x0102 + 0x0300 = 0x0402 -> checksum 0xfbfd
        QCOMPARE(internetChecksum(test::hex("010203")), std::uint16_t{0xfbfd});
        QCOMPARE(internetChecksum(test::hex("ff")), std::uint16_t{0x00ff});
    }

    void everyLengthAgreesWithReferenceSum() {
        // The 16-byte unrolled path, the 4-byte path and the tail must agree with a
        // plain word-by-word sum for every length and alignment.
        std::vector<std::uint8_t> data(300);
        for (std::size_t i = 0; i < data.size(); ++i)
            data[i] = static_cast<std::uint8_t>(i * 37 + 11);
        for (std::size_t start = 0; start < 4; ++start) {
            for (std::size_t len = 0; len + start <= data.size(); ++len) {
                std::uint32_t ref = 0;
                for (std::size_t i = 0; i < len; i += 2) {
                    const std::uint32_t hi = data[start + i];
                    const std::uint32_t lo = i + 1 < len ? data[start + i + 1] : 0;
                    ref += (hi << 8) | lo;
                }
                while (ref >> 16)
                    ref = (ref & 0xffff) + (ref >> 16);
                const auto expected = static_cast<std::uint16_t>(~ref);
                QCOMPARE(internetChecksum(Bytes(data).subspan(start, len)), expected);
            }
        }
    }

    void ipv4HeaderOfRealFrameVerifies() {
        const auto frames = test::readPcap("captures/linux_tcp_ipv4.pcap");
        QVERIFY(frames.size() >= 3);
        const Bytes ip = Bytes(frames[2]).subspan(14, 20);
        QCOMPARE(internetChecksum(ip), std::uint16_t{0});
        std::vector<std::uint8_t> zeroed(ip.begin(), ip.end());
        zeroed[10] = zeroed[11] = 0;
        QCOMPARE(internetChecksum(zeroed), load16(ip.data() + 10));
    }

    void tcpOverIpv4OfRealFramesVerifies() {
        const auto frames = test::readPcap("captures/linux_tcp_ipv4.pcap");
        QVERIFY(frames.size() >= 12);
        for (std::size_t i = 2; i < 12; ++i) {
            const Bytes f = frames[i];
            const auto pseudo = PseudoHeader::ipv4(Ipv4Address::fromBytes(f.data() + 26),
                                                   Ipv4Address::fromBytes(f.data() + 30), 6);
            const Bytes segment = f.subspan(34, load16(f.data() + 16) - 20);
            QVERIFY2(pseudo.verify(segment), qPrintable(QString("frame %1").arg(i + 1)));
            std::vector<std::uint8_t> zeroed(segment.begin(), segment.end());
            zeroed[16] = zeroed[17] = 0;
            QCOMPARE(pseudo.checksum(zeroed), load16(segment.data() + 16));
            // A single flipped bit is caught.
            zeroed = {segment.begin(), segment.end()};
            zeroed.back() ^= 0x01;
            QVERIFY(!pseudo.verify(zeroed));
        }
    }

    void tcpOverIpv6OfRealFramesVerifies() {
        const auto frames = test::readPcap("captures/linux_tcp_ipv6.pcap");
        QVERIFY(frames.size() >= 12);
        for (std::size_t i = 2; i < 12; ++i) {
            const Bytes f = frames[i];
            const auto pseudo = PseudoHeader::ipv6(Ipv6Address::fromBytes(f.data() + 22),
                                                   Ipv6Address::fromBytes(f.data() + 38), 6);
            QVERIFY2(pseudo.verify(f.subspan(54, load16(f.data() + 18))),
                     qPrintable(QString("frame %1").arg(i + 1)));
        }
    }

    void icmpv6OfRealNeighborSolicitationVerifies() {
        const auto frames = test::readPcap("captures/linux_tcp_ipv6.pcap");
        QVERIFY(!frames.empty());
        const Bytes f = frames[0];
        QCOMPARE(f[20], std::uint8_t{58});
        const auto pseudo = PseudoHeader::ipv6(Ipv6Address::fromBytes(f.data() + 22),
                                               Ipv6Address::fromBytes(f.data() + 38), 58);
        QVERIFY(pseudo.verify(f.subspan(54, load16(f.data() + 18))));
    }

    void partialChecksumIsTheFoldedPseudoHeaderSum() {
        // What Linux leaves in a CHECKSUM_PARTIAL skb: the uncomplemented pseudo-header
        // sum. 198.18.0.2 -> 198.18.0.1, TCP, 40 bytes:
        // c612 + 0002 + c612 + 0001 + 0006 + 0028 = 0x18c55 -> 0x8c56
        const auto pseudo = PseudoHeader::ipv4(*Ipv4Address::parse("198.18.0.2"),
                                               *Ipv4Address::parse("198.18.0.1"), 6);
        QCOMPARE(pseudo.partialChecksum(40), std::uint16_t{0x8c56});
    }
};

QTEST_GUILESS_MAIN(TestChecksum)
#include "tst_checksum.moc"
