// The descriptor read/write pair every layer uses: bit-exact at odd offsets.
#include "tests_support/test_support.h"

#include "wire/field.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

using namespace tcplab;
using namespace tcplab::wire;

class TestField : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void readsAndWritesEveryWidthAndOffset() {
        // Every field of 1..32 bits at every bit offset 0..15: write a value, read it
        // back, and check no bit outside the field changed.
        for (std::uint16_t width = 1; width <= 32; ++width) {
            for (std::uint16_t offset = 0; offset < 16; ++offset) {
                const FieldDescriptor d{"f",   "F", offset, width, FieldFormat::Decimal,
                                        false, "",  ""};
                std::array<std::uint8_t, 8> bytes;
                bytes.fill(0xa5);
                const std::uint64_t value = 0x5a5a5a5a5a5a5a5aull & d.maxValue();
                writeField(bytes.data(), d, value);
                QCOMPARE(readField(bytes.data(), d), value);
                for (std::size_t bit = 0; bit < 64; ++bit) {
                    if (bit >= offset && bit < std::size_t{offset} + width)
                        continue;
                    const bool now = (bytes[bit / 8] >> (7 - bit % 8)) & 1;
                    const bool before = (0xa5 >> (7 - bit % 8)) & 1;
                    QVERIFY2(
                        now == before,
                        qPrintable(
                            QString("width %1 offset %2 bit %3").arg(width).arg(offset).arg(bit)));
                }
            }
        }
    }

    void truncatesValuesWiderThanTheField() {
        const FieldDescriptor d{"f", "F", 4, 4, FieldFormat::Decimal, false, "", ""};
        std::uint8_t b[1] = {0};
        writeField(b, d, 0x1f);
        QCOMPARE(b[0], std::uint8_t{0x0f});
    }

    void byteMaskCoversTheFieldsBits() {
        const auto& flags = kIpv4Fields[std::size_t(Ipv4Field::Flags)];
        QCOMPARE(flags.byteOffset(), std::size_t{6});
        QCOMPARE(flags.byteLength(), std::size_t{1});
        QCOMPARE(flags.byteMask(0), std::uint8_t{0xe0});
        const auto& frag = kIpv4Fields[std::size_t(Ipv4Field::Frag)];
        QCOMPARE(frag.byteLength(), std::size_t{2});
        QCOMPARE(frag.byteMask(0), std::uint8_t{0x1f});
        QCOMPARE(frag.byteMask(1), std::uint8_t{0xff});
    }

    void tablesAreFoundById() {
        QCOMPARE(findField(kTcpProtocol, "dataofs"), &kTcpFields[std::size_t(TcpField::Dataofs)]);
        QVERIFY(!findField(kTcpProtocol, "nope"));
        QCOMPARE(kTcpProtocol.fixedHeaderLength, std::size_t{20});
        QCOMPARE(kIpv4Protocol.fixedHeaderLength, std::size_t{20});
    }
};

QTEST_GUILESS_MAIN(TestField)
#include "tst_field.moc"
