#include "tests_support/test_support.h"

#include "wire/address.h"
#include "wire/bytes.h"

using namespace tcplab;
using namespace tcplab::wire;

class TestAddress : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void mac_parsesAndPrints() {
        const auto mac = MacAddress::parse("02:00:5E:10:00:0a");
        QVERIFY(mac);
        QCOMPARE(QString::fromStdString(mac->toString()), QString("02:00:5e:10:00:0a"));
        QVERIFY(mac->isLocallyAdministered());
        QVERIFY(!mac->isMulticast());
        QVERIFY(MacAddress::parse("02-00-5e-10-00-0a"));
        QVERIFY(MacAddress::broadcast().isBroadcast());
    }

    void mac_rejectsMalformed_data() {
        QTest::addColumn<QString>("text");
        for (const char* t : {"", "02:00:5e:10:00", "02:00:5e:10:00:0a:0b", "02:00:5e:10:00:0g",
                              "0200:5e:10:00:0a:", "02:00:5e:10:00:0a ", "2:0:5e:10:0:a"})
            QTest::newRow(t) << QString(t);
    }
    void mac_rejectsMalformed() {
        QFETCH(QString, text);
        QVERIFY(!MacAddress::parse(text.toStdString()));
    }

    void ipv4_parsesAndPrints() {
        const auto a = Ipv4Address::parse("198.18.0.1");
        QVERIFY(a);
        QCOMPARE(a->toUint(), 0xc6120001u);
        QCOMPARE(QString::fromStdString(a->toString()), QString("198.18.0.1"));
        QCOMPARE(Ipv4Address::fromUint(0xc6120001u), *a);
        for (const char* bad :
             {"198.18.0", "198.18.0.256", "198.18.0.1.", "a.b.c.d", "", "198.018.0.1 x"})
            QVERIFY2(!Ipv4Address::parse(bad), bad);
    }

    void ipv4_subnets() {
        const auto a = *Ipv4Address::parse("198.18.0.1");
        QVERIFY(a.sameSubnet(*Ipv4Address::parse("198.18.0.200"), 24));
        QVERIFY(!a.sameSubnet(*Ipv4Address::parse("198.18.1.1"), 24));
        QVERIFY(a.sameSubnet(*Ipv4Address::parse("198.19.255.255"), 15));
        QVERIFY(!a.sameSubnet(*Ipv4Address::parse("198.20.0.1"), 15));
    }

    void ipv6_parsesAndPrintsCanonically() {
        const auto a = Ipv6Address::parse("2001:DB8:0:0:0:0:0:1");
        QVERIFY(a);
        QCOMPARE(QString::fromStdString(a->toString()), QString("2001:db8::1"));
        QVERIFY(!Ipv6Address::parse("2001:db8::1::2"));
        QVERIFY(!Ipv6Address::parse("198.18.0.1"));
        QVERIFY(Ipv6Address::parse("fe80::1")->isLinkLocal());
    }

    void ipv6_solicitedNodeAndMulticastMac() {
        // RFC 4291 §2.7.1: ff02::1:ff + the low 24 bits; RFC 2464 §7: 33:33 + low 32 bits.
        const auto a = *Ipv6Address::parse("2001:db8::1:2345:6789");
        const auto sn = a.solicitedNodeMulticast();
        QCOMPARE(QString::fromStdString(sn.toString()), QString("ff02::1:ff45:6789"));
        QVERIFY(sn.isMulticast());
        QCOMPARE(QString::fromStdString(sn.multicastMac().toString()),
                 QString("33:33:ff:45:67:89"));
    }

    void ipAddress_eitherFamily() {
        QVERIFY(std::holds_alternative<Ipv4Address>(*parseIpAddress("198.18.0.1")));
        QVERIFY(std::holds_alternative<Ipv6Address>(*parseIpAddress("2001:db8::1")));
        QVERIFY(!parseIpAddress("phantom"));
        QCOMPARE(QString::fromStdString(addressText(*parseIpAddress("2001:db8::1"))),
                 QString("2001:db8::1"));
    }

    void hex_roundTripsAndReportsErrors() {
        const auto b = fromHex("0x0a:1B 2c");
        QVERIFY(b);
        QCOMPARE(QString::fromStdString(toHex(*b)), QString("0a1b2c"));
        QVERIFY(!fromHex("abc"));
        const auto bad = fromHex("0a1g");
        QVERIFY(!bad);
        QVERIFY(QString::fromStdString(bad.error()).contains("position 4"));
    }

    void text_escapes() {
        const auto b = unescapeText("GET / HTTP/1.1\\r\\n\\r\\n\\x00\\\\");
        QVERIFY(b);
        QCOMPARE(b->size(), std::size_t{14 + 4 + 1 + 1});
        QCOMPARE((*b)[14], std::uint8_t{'\r'});
        QCOMPARE((*b)[18], std::uint8_t{0});
        QCOMPARE(QString::fromStdString(escapeText(*b)),
                 QString("GET / HTTP/1.1\\r\\n\\r\\n\\x00\\\\"));
        const auto quoted = unescapeText("say \\\"hi\\\"");
        QVERIFY(quoted);
        QCOMPARE(
            QByteArray(reinterpret_cast<const char*>(quoted->data()), qsizetype(quoted->size())),
            QByteArray("say \"hi\""));
        QVERIFY(!unescapeText("bad \\q"));
        QVERIFY(!unescapeText("\\x4"));
        QVERIFY(!unescapeText("end\\"));
    }
};

QTEST_GUILESS_MAIN(TestAddress)
#include "tst_address.moc"
