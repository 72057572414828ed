// HexView: field marks from the descriptor tables, clicks back to fields, odd frames.
#include <QSignalSpy>
#include <QTest>

#include "ui/hex_view.h"
#include "wire/segment_spec.h"

using namespace tcplab;

namespace {

constexpr int kIpv4Tcp = 14 + 20; // start of TCP in an IPv4 frame without IP options

/// Ethernet / IPv4 198.18.0.2 -> 198.18.0.1 / TCP 50000 -> 50001 with MSS, a payload.
std::vector<std::uint8_t> ipv4Frame() {
    wire::SegmentSpec spec;
    spec.ethernet.src = *wire::MacAddress::parse("02:00:00:00:00:02");
    spec.ethernet.dst = *wire::MacAddress::parse("02:00:00:00:00:01");
    wire::Ipv4Header ip;
    ip.src = *wire::Ipv4Address::parse("198.18.0.2");
    ip.dst = *wire::Ipv4Address::parse("198.18.0.1");
    spec.ip = ip;
    spec.tcp.srcPort = 50000;
    spec.tcp.dstPort = 50001;
    spec.tcp.seq = wire::SeqNum(100);
    spec.tcp.ack = wire::SeqNum(3735928560u);
    spec.tcp.flags = wire::tcp_flags::kAck | wire::tcp_flags::kPsh;
    spec.tcp.options.append(wire::TcpOption::mss(1460));
    const std::string get = "GET / HTTP/1.1\r\n\r\n";
    spec.payload.assign(get.begin(), get.end());
    return *spec.encode();
}

} // namespace

class TestHexView : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void fieldMap_coversEveryByteOfTheFrame();
    void highlightField_marksTheFieldsBytes();
    void highlightField_followsTheFieldIntoANewFrame();
    void click_onIpv4Source_activatesIt();
    void click_onSharedByte_choosesByHexDigit();
    void keys_moveTheCursorAndActivate();
    void oddFrames_doNotCrash();
};

void TestHexView::fieldMap_coversEveryByteOfTheFrame() {
    const auto frame = ipv4Frame();
    const auto map = ui::mapFrameFields(frame);
    std::vector<std::uint8_t> covered(frame.size(), 0);
    for (const auto& span : map)
        for (int i = 0; i < span.count; ++i)
            covered[static_cast<std::size_t>(span.first + i)] |=
                span.masks[static_cast<std::size_t>(i)];
    for (std::size_t i = 0; i < frame.size(); ++i)
        QVERIFY2(covered[i] == 0xff, qPrintable(QStringLiteral("byte %1").arg(i)));
    const auto find = [&](const char* layer, const char* field) -> const ui::FieldSpan* {
        for (const auto& s : map)
            if (s.layer == QLatin1String(layer) && s.field == QLatin1String(field))
                return &s;
        return nullptr;
    };
    const ui::FieldSpan* options = find("tcp", "options");
    QVERIFY(options);
    QCOMPARE(options->first, kIpv4Tcp + 20);
    QCOMPARE(options->count, 4);
    const ui::FieldSpan* payload = find("payload", "data");
    QVERIFY(payload);
    QCOMPARE(payload->first, kIpv4Tcp + 24);
    QCOMPARE(payload->count, 18);
    const ui::FieldSpan* dataofs = find("tcp", "dataofs");
    QVERIFY(dataofs);
    QCOMPARE(dataofs->count, 1);
    QCOMPARE(dataofs->masks.front(), std::uint8_t{0xf0});
}

void TestHexView::highlightField_marksTheFieldsBytes() {
    ui::HexView view;
    view.resize(640, 300);
    view.setFrame(ipv4Frame());
    QCOMPARE(view.highlightedRange(), (QPair<int, int>(-1, 0)));
    QSignalSpy activated(&view, &ui::HexView::fieldActivated);
    view.highlightField(QStringLiteral("tcp"), QStringLiteral("ack"));
    QCOMPARE(view.highlightedRange(), (QPair<int, int>(kIpv4Tcp + 8, 4)));
    view.highlightField(QStringLiteral("ipv4"), QStringLiteral("ttl"));
    QCOMPARE(view.highlightedRange(), (QPair<int, int>(14 + 8, 1)));
    view.highlightField(QStringLiteral("tcp"), QStringLiteral("nonsense"));
    QCOMPARE(view.highlightedRange(), (QPair<int, int>(-1, 0)));
    // Program marks are not user actions: nothing goes back to the editor.
    QCOMPARE(activated.count(), 0);
    QVERIFY(!view.grab().isNull());
}

void TestHexView::highlightField_followsTheFieldIntoANewFrame() {
    ui::HexView view;
    view.resize(640, 120);
    view.setFrame(ipv4Frame());
    view.highlightField(QStringLiteral("payload"), QStringLiteral("data"));
    QCOMPARE(view.highlightedRange(), (QPair<int, int>(kIpv4Tcp + 24, 18)));
    auto frame = ipv4Frame();
    frame.resize(frame.size() - 4); // a shorter payload (IP length now overruns: still maps)
    view.setFrame(frame);
    QCOMPARE(view.highlightedRange().first, kIpv4Tcp + 24);
    QCOMPARE(view.highlightedRange().second, 14);
}

void TestHexView::click_onIpv4Source_activatesIt() {
    ui::HexView view;
    view.resize(640, 300);
    view.show();
    view.setFrame(ipv4Frame());
    QSignalSpy activated(&view, &ui::HexView::fieldActivated);
    const int src = 14 + 12;
    const QRect r = view.byteRect(src);
    QVERIFY(r.isValid());
    QCOMPARE(view.byteAt(r.center()), src);
    QTest::mouseClick(view.viewport(), Qt::LeftButton, {}, r.center());
    QCOMPARE(activated.count(), 1);
    QCOMPARE(activated.at(0).at(0).toString(), QStringLiteral("ipv4"));
    QCOMPARE(activated.at(0).at(1).toString(), QStringLiteral("src"));
    QCOMPARE(view.cursorByte(), src);
    // The ASCII column is the same byte.
    QTest::mouseClick(view.viewport(), Qt::LeftButton, {},
                      QPoint(view.viewport()->width() - 2, r.center().y()));
    QVERIFY(activated.count() <= 2); // past the ASCII column or on it: never a wrong field
}

void TestHexView::click_onSharedByte_choosesByHexDigit() {
    ui::HexView view;
    view.resize(640, 300);
    view.show();
    view.setFrame(ipv4Frame());
    QSignalSpy activated(&view, &ui::HexView::fieldActivated);
    const QRect r = view.byteRect(kIpv4Tcp + 12); // data offset (high) | reserved (low)
    QTest::mouseClick(view.viewport(), Qt::LeftButton, {},
                      QPoint(r.left() + r.width() / 4, r.center().y()));
    QTest::mouseClick(view.viewport(), Qt::LeftButton, {},
                      QPoint(r.left() + 3 * r.width() / 4, r.center().y()));
    QCOMPARE(activated.count(), 2);
    QCOMPARE(activated.at(0).at(1).toString(), QStringLiteral("dataofs"));
    QCOMPARE(activated.at(1).at(1).toString(), QStringLiteral("reserved"));
}

void TestHexView::keys_moveTheCursorAndActivate() {
    ui::HexView view;
    view.resize(640, 60); // two lines visible: moving down must scroll
    view.show();
    view.setFrame(ipv4Frame());
    QSignalSpy activated(&view, &ui::HexView::fieldActivated);
    QTest::keyClick(&view, Qt::Key_Home);
    QCOMPARE(view.cursorByte(), 0);
    QCOMPARE(activated.last().at(1).toString(), QStringLiteral("dst"));
    QTest::keyClick(&view, Qt::Key_End);
    QCOMPARE(view.cursorByte(), static_cast<int>(view.frame().size()) - 1);
    QCOMPARE(activated.last().at(0).toString(), QStringLiteral("payload"));
    QVERIFY(view.byteRect(view.cursorByte()).bottom() <= view.viewport()->height());
    QTest::keyClick(&view, Qt::Key_Right); // past the end: stays
    QCOMPARE(view.cursorByte(), static_cast<int>(view.frame().size()) - 1);
}

void TestHexView::oddFrames_doNotCrash() {
    ui::HexView view;
    view.resize(300, 100);
    view.show();
    const std::vector<std::vector<std::uint8_t>> frames = {{},
                                                           {0x01, 0x02, 0x03},
                                                           std::vector<std::uint8_t>(14, 0xff),
                                                           std::vector<std::uint8_t>(15, 0x00),
                                                           std::vector<std::uint8_t>(70000, 0x45)};
    for (const auto& frame : frames) {
        view.setFrame(frame);
        view.highlightField(QStringLiteral("tcp"), QStringLiteral("ack"));
        view.highlightField(QStringLiteral("payload"), QStringLiteral("data"));
        QVERIFY(view.highlightedRange().second <= static_cast<int>(frame.size()));
        for (const QPoint p : {QPoint(0, 0), QPoint(150, 50), QPoint(299, 99), QPoint(-5, 400)})
            QTest::mouseClick(view.viewport(), Qt::LeftButton, {}, p);
        QTest::keyClick(&view, Qt::Key_Down);
        QTest::keyClick(&view, Qt::Key_End);
        QVERIFY(!view.grab().isNull());
    }
    // Every prefix of a real frame maps without reading past it.
    const auto full = ipv4Frame();
    for (std::size_t n = 0; n <= full.size(); ++n) {
        const auto map = ui::mapFrameFields(std::span(full.data(), n));
        for (const auto& span : map)
            QVERIFY(span.first + span.count <= static_cast<int>(n));
    }
}

QTEST_MAIN(TestHexView)
#include "tst_hex_view.moc"
