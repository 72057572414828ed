// Random SegmentSpecs (fixed seed): encode -> decode -> fromFrame gives the same
// spec back, for IPv4 and IPv6, with and without options, with derived fields auto
// and with deliberately wrong checksums.
#include "tests_support/test_support.h"

#include "wire/frame.h"
#include "wire/segment_spec.h"

#include <random>

using namespace tcplab;
using namespace tcplab::wire;

namespace {

class SpecGenerator {
public:
    explicit SpecGenerator(std::uint32_t seed)
        : m_rng(seed) {}

    SegmentSpec next(bool ipv6, bool withOptions) {
        SegmentSpec s;
        s.ethernet.src = mac();
        s.ethernet.dst = mac();
        if (ipv6) {
            Ipv6Header ip;
            for (auto& o : ip.src.octets)
                o = byte();
            for (auto& o : ip.dst.octets)
                o = byte();
            ip.trafficClass = byte();
            ip.flowLabel = uniform(0, 0xfffff);
            ip.hopLimit = byte();
            s.ip = ip;
        } else {
            Ipv4Header ip;
            ip.src = Ipv4Address::fromUint(uniform(0, 0xffffffffu));
            ip.dst = Ipv4Address::fromUint(uniform(0, 0xffffffffu));
            ip.tos = byte();
            ip.id = static_cast<std::uint16_t>(uniform(0, 0xffff));
            ip.flags = uniform(0, 1) ? ipv4_flags::kDontFragment : 0;
            ip.ttl = byte();
            s.ip = ip;
        }
        TcpHeader& t = s.tcp;
        t.srcPort = static_cast<std::uint16_t>(uniform(0, 0xffff));
        t.dstPort = static_cast<std::uint16_t>(uniform(0, 0xffff));
        t.seq = SeqNum(uniform(0, 0xffffffffu));
        t.ack = SeqNum(uniform(0, 0xffffffffu));
        // Flags without SYN+FIN together (a diagnostic, covered elsewhere).
        t.flags = static_cast<std::uint8_t>(byte() & ~tcp_flags::kFin);
        t.window = static_cast<std::uint16_t>(uniform(0, 0xffff));
        t.urgentPointer =
            (t.flags & tcp_flags::kUrg) ? static_cast<std::uint16_t>(uniform(0, 0xffff)) : 0;
        if (withOptions)
            addOptions(t);
        s.payload.resize(uniform(0, 300));
        for (auto& b : s.payload)
            b = byte();
        return s;
    }

private:
    void addOptions(TcpHeader& t) {
        const std::uint32_t n = uniform(1, 6);
        for (std::uint32_t i = 0; i < n; ++i) {
            TcpOption o;
            switch (uniform(0, 6)) {
            case 0:
                o = TcpOption::mss(static_cast<std::uint16_t>(uniform(0, 0xffff)));
                break;
            case 1:
                o = TcpOption::windowScale(static_cast<std::uint8_t>(uniform(0, 14)));
                break;
            case 2:
                o = TcpOption::sackPermitted();
                break;
            case 3:
                o = TcpOption::timestamps(uniform(0, 0xffffffffu), uniform(0, 0xffffffffu));
                break;
            case 4: {
                std::vector<SackBlock> blocks(uniform(1, 3));
                for (auto& b : blocks)
                    b = {SeqNum(uniform(0, 0xffffffffu)), SeqNum(uniform(0, 0xffffffffu))};
                o = TcpOption::sack(blocks);
                break;
            }
            case 5:
                o = TcpOption::nop();
                break;
            default: {
                std::array<std::uint8_t, 4> data{byte(), byte(), byte(), byte()};
                o = TcpOption::raw(static_cast<std::uint8_t>(uniform(9, 253)),
                                   Bytes(data).first(uniform(0, 4)));
            }
            }
            t.options.append(o); // what does not fit is left out
        }
    }

    MacAddress mac() {
        MacAddress m;
        for (auto& o : m.octets)
            o = byte();
        return m;
    }
    std::uint8_t byte() { return static_cast<std::uint8_t>(uniform(0, 255)); }
    std::uint32_t uniform(std::uint32_t lo, std::uint32_t hi) {
        return std::uniform_int_distribution<std::uint32_t>(lo, hi)(m_rng);
    }

    std::mt19937 m_rng;
};

// What goes on the wire: options padded with zero bytes to a multiple of 4, which the
// decoder reports as they are (EOL and padding).
SegmentSpec asOnTheWire(SegmentSpec spec) {
    std::vector<std::uint8_t> bytes(spec.tcp.options.bytes().begin(),
                                    spec.tcp.options.bytes().end());
    bytes.resize(spec.tcp.options.paddedSize(), 0);
    spec.tcp.options = TcpOptionList::fromRawBytes(bytes);
    return spec;
}

} // namespace

class TestRoundTrip : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void randomSpecs_data() {
        QTest::addColumn<bool>("ipv6");
        QTest::addColumn<bool>("withOptions");
        QTest::newRow("ipv4") << false << false;
        QTest::newRow("ipv4+options") << false << true;
        QTest::newRow("ipv6") << true << false;
        QTest::newRow("ipv6+options") << true << true;
    }

    void randomSpecs() {
        QFETCH(bool, ipv6);
        QFETCH(bool, withOptions);
        SpecGenerator gen(0x7c91ab + (ipv6 ? 1 : 0) + (withOptions ? 2 : 0));
        for (int i = 0; i < 3000; ++i) {
            const SegmentSpec spec = gen.next(ipv6, withOptions);
            const auto bytes = spec.encode();
            QVERIFY(bytes);
            QCOMPARE(bytes->size(), spec.encodedLength());
            const Frame frame = decodeFrame(*bytes);
            QVERIFY2(!frame.malformed, frame.malformed ? frame.malformed->message().c_str() : "");
            QVERIFY2(!frame.diagnostics.has(Diagnostic::TcpChecksumBad),
                     qPrintable(QString("case %1").arg(i)));
            QVERIFY(!frame.diagnostics.has(Diagnostic::Ipv4ChecksumBad));
            const auto back = SegmentSpec::fromFrame(frame);
            QVERIFY(back);
            QVERIFY2(*back == asOnTheWire(spec),
                     qPrintable(QString("case %1: %2").arg(i).arg(test::toHex(*bytes))));
        }
    }

    void wrongChecksumsSurviveTheRoundTrip() {
        SpecGenerator gen(42);
        for (int i = 0; i < 500; ++i) {
            SegmentSpec spec = gen.next(i % 2 == 1, true);
            // The right checksum, then a wrong one that differs from it for sure.
            const auto good = *spec.encode();
            const std::size_t tcpAt = 14 + (spec.isIpv6() ? 40 : spec.ipv4().headerLength());
            spec.tcp.checksum =
                static_cast<std::uint16_t>(load16(good.data() + tcpAt + 16) ^ 0x0101);
            if (!spec.isIpv6())
                spec.ipv4().checksum =
                    static_cast<std::uint16_t>(load16(good.data() + 24) ^ 0x8000);
            const auto bad = *spec.encode();
            QCOMPARE(load16(bad.data() + tcpAt + 16), *spec.tcp.checksum);
            const Frame frame = decodeFrame(bad);
            QVERIFY(frame.diagnostics.has(Diagnostic::TcpChecksumBad));
            QCOMPARE(frame.diagnostics.has(Diagnostic::Ipv4ChecksumBad), !spec.isIpv6());
            const auto back = SegmentSpec::fromFrame(frame);
            QVERIFY(back);
            QVERIFY(*back == asOnTheWire(spec));
        }
    }
};

QTEST_GUILESS_MAIN(TestRoundTrip)
#include "tst_roundtrip.moc"
