// SegmentEditor: round trips, the bytes each edit changes, invalid entries, auto fields,
// relative and suggested seq/ack, options, payload modes, garbage; and a picture.
#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QDir>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScrollArea>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTest>

#include "ui/hex_view.h"
#include "ui/palette.h"
#include "ui/segment_editor.h"
#include "wire/segment_spec.h"

using namespace tcplab;

namespace {

constexpr std::size_t kIpv4Tcp = 14 + 20;

std::vector<std::uint8_t> bytesOf(std::string_view s) {
    return {s.begin(), s.end()};
}

wire::SegmentSpec ipv4Spec() {
    wire::SegmentSpec spec;
    spec.ethernet.src = *wire::MacAddress::parse("02:00:00:00:00:02");
    spec.ethernet.dst = *wire::MacAddress::parse("02:00:00:00:00:01");
    wire::Ipv4Header ip;
    ip.src = *wire::Ipv4Address::parse("198.18.0.2");
    ip.dst = *wire::Ipv4Address::parse("198.18.0.1");
    ip.id = 4321;
    ip.ttl = 63;
    spec.ip = ip;
    spec.tcp.srcPort = 50000;
    spec.tcp.dstPort = 50001;
    spec.tcp.seq = wire::SeqNum(101);
    spec.tcp.ack = wire::SeqNum(3735928560u);
    spec.tcp.flags = wire::tcp_flags::kAck | wire::tcp_flags::kPsh;
    spec.tcp.window = 502;
    spec.tcp.options.append(wire::TcpOption::nop());
    spec.tcp.options.append(wire::TcpOption::nop());
    spec.tcp.options.append(wire::TcpOption::timestamps(12345, 678));
    const wire::SackBlock blocks[] = {{wire::SeqNum(1001), wire::SeqNum(2001)},
                                      {wire::SeqNum(3001), wire::SeqNum(4001)}};
    spec.tcp.options.append(wire::TcpOption::sack(blocks));
    spec.payload = bytesOf("GET / HTTP/1.1\r\n\r\n");
    return spec;
}

wire::SegmentSpec ipv6Spec() {
    wire::SegmentSpec spec;
    spec.ethernet.src = *wire::MacAddress::parse("02:00:00:00:00:02");
    spec.ethernet.dst = *wire::MacAddress::parse("02:00:00:00:00:01");
    wire::Ipv6Header ip;
    ip.src = *wire::Ipv6Address::parse("2001:db8::2");
    ip.dst = *wire::Ipv6Address::parse("2001:db8::1");
    ip.flowLabel = 0x12345;
    ip.trafficClass = 0xb8;
    ip.hopLimit = 5;
    spec.ip = ip;
    spec.tcp.srcPort = 50000;
    spec.tcp.dstPort = 50001;
    spec.tcp.seq = wire::SeqNum(100);
    spec.tcp.flags = wire::tcp_flags::kSyn;
    spec.tcp.checksum = 0xbeef; // a deliberate override
    spec.tcp.reserved = 0x1;
    // MSS, WS, SACK-permitted, an unknown kind, EOL and non-zero padding: every row type.
    wire::TcpOptionList options;
    options.append(wire::TcpOption::mss(1440));
    options.append(wire::TcpOption::windowScale(7));
    options.append(wire::TcpOption::sackPermitted());
    const std::uint8_t data[] = {0xca, 0xfe};
    options.append(wire::TcpOption::raw(254, data));
    options.append(wire::TcpOption::eol());
    std::vector<std::uint8_t> area(options.bytes().begin(), options.bytes().end());
    area.push_back(0x00);
    area.push_back(0x07);
    spec.tcp.options = wire::TcpOptionList::fromRawBytes(area);
    spec.payload = {0x00, 0xff, 0x10, 0x80};
    return spec;
}

template <typename T>
T* child(const QWidget& parent, const char* name) {
    T* w = parent.findChild<T*>(QString::fromLatin1(name));
    if (!w)
        qWarning("no child %s", name);
    return w;
}

std::uint32_t load32(const std::vector<std::uint8_t>& b, std::size_t at) {
    return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) |
           (std::uint32_t{b[at + 2]} << 8) | b[at + 3];
}

} // namespace

class TestSegmentEditor : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void setSpec_roundTrips_ipv4();
    void setSpec_roundTrips_ipv6();
    void editAck_changesOnlyItsFourBytes();
    void tickSyn_setsTheBit();
    void outOfRange_isInvalidWithTheField_andFixingRestores();
    void autoChecksum_tracksEdits_overrideIsKept();
    void relativeDisplay_showsSeqMinusIss_wrapping();
    void autoSeqAck_followsSuggestion_untilEdited();
    void options_addRemoveMove_changeDataOffset();
    void options_badValue_isMarked();
    void payload_textAndHex_giveTheSameBytes();
    void focus_andFocusField_nameTheField();
    void garbage_inEveryField_neverCrashes();
    void picture_editorBesideHexView();
};

void TestSegmentEditor::setSpec_roundTrips_ipv4() {
    ui::SegmentEditor editor;
    const auto spec = ipv4Spec();
    editor.setSpec(spec);
    QVERIFY2(editor.isValid(), qPrintable(editor.errors().join(QLatin1Char('\n'))));
    const auto got = editor.spec();
    QVERIFY(got.has_value());
    QVERIFY(*got == spec);
    QCOMPARE(*editor.frameBytes(), *spec.encode());
    QCOMPARE(child<QLineEdit>(editor, "ipv4.ttl")->text(), QStringLiteral("63"));
    QCOMPARE(child<QLineEdit>(editor, "ethernet.type")->text(), QStringLiteral("0x0800"));
    QCOMPARE(child<QTableWidget>(editor, "tcp.options")->rowCount(), 4);
    QVERIFY(child<QCheckBox>(editor, "tcp.flags.P")->isChecked());
    QVERIFY(!child<QCheckBox>(editor, "tcp.flags.S")->isChecked());
    QVERIFY(child<QCheckBox>(editor, "ipv4.flags.DF")->isChecked());
}

void TestSegmentEditor::setSpec_roundTrips_ipv6() {
    ui::SegmentEditor editor;
    const auto spec = ipv6Spec();
    editor.setSpec(spec);
    QVERIFY2(editor.isValid(), qPrintable(editor.errors().join(QLatin1Char('\n'))));
    const auto got = editor.spec();
    QVERIFY(got.has_value());
    QVERIFY(got->tcp.options == spec.tcp.options);
    QVERIFY(got->payload == spec.payload);
    QVERIFY(*got == spec);
    QVERIFY(child<QWidget>(editor, "ipv6")->isVisibleTo(&editor));
    QVERIFY(!child<QWidget>(editor, "ipv4")->isVisibleTo(&editor));
    QCOMPARE(child<QLineEdit>(editor, "ipv6.fl")->text(), QStringLiteral("0x12345"));
    QVERIFY(!child<QCheckBox>(editor, "tcp.chksum.auto")->isChecked());
    QCOMPARE(child<QLineEdit>(editor, "tcp.chksum")->text(), QStringLiteral("0xbeef"));
    QVERIFY(child<QCheckBox>(editor, "payload.hex")->isChecked()); // binary payload
    // Back to IPv4 in the same editor: the other family's section again.
    editor.setSpec(ipv4Spec());
    QVERIFY(*editor.spec() == ipv4Spec());
}

void TestSegmentEditor::editAck_changesOnlyItsFourBytes() {
    ui::SegmentEditor editor;
    auto spec = ipv4Spec();
    spec.tcp.checksum = 0x1111; // fixed, so only the ack may change
    editor.setSpec(spec);
    const auto before = *editor.frameBytes();
    child<QLineEdit>(editor, "tcp.ack")->setText(QStringLiteral("16909060")); // 0x01020304
    QVERIFY(editor.isValid());
    const auto after = *editor.frameBytes();
    QCOMPARE(after.size(), before.size());
    for (std::size_t i = 0; i < after.size(); ++i)
        if (i < kIpv4Tcp + 8 || i >= kIpv4Tcp + 12)
            QVERIFY2(after[i] == before[i], qPrintable(QStringLiteral("byte %1").arg(i)));
    QCOMPARE(load32(after, kIpv4Tcp + 8), 0x01020304u);
    // With the checksum auto, the ack and the checksum change, nothing else.
    spec.tcp.checksum.reset();
    editor.setSpec(spec);
    const auto b2 = *editor.frameBytes();
    child<QLineEdit>(editor, "tcp.ack")->setText(QStringLiteral("7"));
    const auto a2 = *editor.frameBytes();
    for (std::size_t i = 0; i < a2.size(); ++i)
        if (a2[i] != b2[i])
            QVERIFY((i >= kIpv4Tcp + 8 && i < kIpv4Tcp + 12) ||
                    (i >= kIpv4Tcp + 16 && i < kIpv4Tcp + 18));
}

void TestSegmentEditor::tickSyn_setsTheBit() {
    ui::SegmentEditor editor;
    editor.setSpec(ipv4Spec());
    QCOMPARE((*editor.frameBytes())[kIpv4Tcp + 13] & 0x02, 0);
    child<QCheckBox>(editor, "tcp.flags.S")->setChecked(true);
    QCOMPARE((*editor.frameBytes())[kIpv4Tcp + 13], std::uint8_t{0x1a});
    QCOMPARE(editor.spec()->tcp.flags, std::uint8_t{0x1a});
    child<QCheckBox>(editor, "tcp.flags.A")->setChecked(false);
    child<QCheckBox>(editor, "tcp.flags.P")->setChecked(false);
    child<QCheckBox>(editor, "tcp.flags.C")->setChecked(true);
    QCOMPARE((*editor.frameBytes())[kIpv4Tcp + 13], std::uint8_t{0x82});
    child<QCheckBox>(editor, "ipv4.flags.MF")->setChecked(true);
    QCOMPARE((*editor.frameBytes())[14 + 6] >> 5, 0x3);
}

void TestSegmentEditor::outOfRange_isInvalidWithTheField_andFixingRestores() {
    ui::SegmentEditor editor;
    editor.setSpec(ipv4Spec());
    QSignalSpy validity(&editor, &ui::SegmentEditor::validityChanged);
    struct Case {
        const char* name;
        const char* bad;
        const char* good;
        const char* reason;
    };
    const Case cases[] = {
        {"tcp.ack", "4294967296", "4294967295", "ack: 4294967296 is more than 32 bits can hold"},
        {"ipv4.ttl", "300", "255", "ttl: 300 is more than 8 bits can hold"},
        {"ethernet.dst", "zz", "02:00:00:00:00:09", "dst: \"zz\" is not a MAC address"},
        {"ipv4.src", "198.18.0.256", "198.18.0.9", "src: \"198.18.0.256\" is not an IPv4"},
        {"tcp.window", "-1", "0", "window: \"-1\" is not a decimal number"},
    };
    for (const Case& c : cases) {
        auto* edit = child<QLineEdit>(editor, c.name);
        QVERIFY(edit);
        edit->setText(QString::fromLatin1(c.bad));
        QVERIFY2(!editor.isValid(), c.name);
        QVERIFY(!editor.canFire());
        QVERIFY(!editor.frameBytes());
        QVERIFY2(editor.errors().join(QLatin1Char('\n')).contains(QString::fromLatin1(c.reason)),
                 qPrintable(editor.errors().join(QLatin1Char('\n'))));
        QVERIFY(!editor.spec().has_value());
        QVERIFY(editor.spec().error().contains(QString::fromLatin1(c.reason)));
        QVERIFY(edit->property("invalid").toBool());
        QVERIFY(edit->toolTip().contains(
            QString::fromLatin1(c.reason).section(QLatin1String(": "), 1)));
        QVERIFY(child<QLabel>(editor, "errors")->isVisibleTo(&editor));
        edit->setText(QString::fromLatin1(c.good));
        QVERIFY2(editor.isValid(), qPrintable(editor.errors().join(QLatin1Char('\n'))));
        QVERIFY(!edit->property("invalid").toBool());
        QVERIFY(editor.frameBytes().has_value());
    }
    QCOMPARE(validity.count(), 2 * static_cast<int>(std::size(cases)));
    QCOMPARE(validity.first().at(0).toBool(), false);
    QCOMPARE(validity.last().at(0).toBool(), true);
    QCOMPARE(editor.spec()->tcp.ack.value(), 4294967295u);
    QCOMPARE(editor.spec()->ipv4().ttl, std::uint8_t{255});
    // Two bad fields: both listed, in form order.
    child<QLineEdit>(editor, "ipv4.ttl")->setText(QStringLiteral("256"));
    child<QLineEdit>(editor, "tcp.sport")->setText(QStringLiteral("65536"));
    QCOMPARE(editor.errors().size(), 2);
    QVERIFY(editor.errors().at(0).startsWith(QStringLiteral("IPv4 ttl")));
    QVERIFY(editor.errors().at(1).startsWith(QStringLiteral("TCP sport")));
}

void TestSegmentEditor::autoChecksum_tracksEdits_overrideIsKept() {
    ui::SegmentEditor editor;
    editor.setSpec(ipv4Spec());
    auto* sum = child<QLineEdit>(editor, "tcp.chksum");
    auto* sumAuto = child<QCheckBox>(editor, "tcp.chksum.auto");
    QVERIFY(sumAuto->isChecked());
    QVERIFY(sum->isReadOnly());
    const auto wireSum = [&] {
        const auto f = *editor.frameBytes();
        return static_cast<unsigned>((f[kIpv4Tcp + 16] << 8) | f[kIpv4Tcp + 17]);
    };
    QCOMPARE(sum->text(), QStringLiteral("0x%1").arg(wireSum(), 4, 16, QLatin1Char('0')));
    const QString first = sum->text();
    child<QLineEdit>(editor, "tcp.window")->setText(QStringLiteral("1000"));
    QVERIFY(sum->text() != first);
    QCOMPARE(sum->text(), QStringLiteral("0x%1").arg(wireSum(), 4, 16, QLatin1Char('0')));
    // The IPv4 length and checksum follow the payload too.
    const QString ipLen = child<QLineEdit>(editor, "ipv4.len")->text();
    child<QPlainTextEdit>(editor, "payload.data")->setPlainText(QStringLiteral("x"));
    QCOMPARE(child<QLineEdit>(editor, "ipv4.len")->text(), QStringLiteral("73"));
    QVERIFY(ipLen != QStringLiteral("73"));

    sumAuto->setChecked(false);
    QVERIFY(!sum->isReadOnly());
    sum->setText(QStringLiteral("0x1234"));
    QCOMPARE(wireSum(), 0x1234u);
    QCOMPARE(editor.spec()->tcp.checksum, std::optional<std::uint16_t>(0x1234));
    child<QLineEdit>(editor, "tcp.window")->setText(QStringLiteral("2000"));
    QCOMPARE(wireSum(), 0x1234u);
    QCOMPARE(sum->text(), QStringLiteral("0x1234"));
    sum->setText(QStringLiteral("10000")); // hex fields read hex: 0x10000 is 17 bits
    QVERIFY(!editor.isValid());
    sum->setText(QStringLiteral("abcd"));
    QCOMPARE(wireSum(), 0xabcdu);
    sumAuto->setChecked(true);
    QVERIFY(!editor.spec()->tcp.checksum.has_value());
    QVERIFY(wireSum() != 0xabcdu);
    // A data offset override goes on the wire verbatim.
    child<QCheckBox>(editor, "tcp.dataofs.auto")->setChecked(false);
    child<QLineEdit>(editor, "tcp.dataofs")->setText(QStringLiteral("15"));
    QCOMPARE((*editor.frameBytes())[kIpv4Tcp + 12] >> 4, 15);
}

void TestSegmentEditor::relativeDisplay_showsSeqMinusIss_wrapping() {
    ui::SegmentEditor editor;
    auto spec = ipv4Spec();
    spec.tcp.seq = wire::SeqNum(0x10);
    spec.tcp.ack = wire::SeqNum(5000);
    editor.setSpec(spec);
    auto* seq = child<QLineEdit>(editor, "tcp.seq");
    auto* ack = child<QLineEdit>(editor, "tcp.ack");
    auto* seqRel = child<QCheckBox>(editor, "tcp.seq.rel");
    auto* ackRel = child<QCheckBox>(editor, "tcp.ack.rel");
    QVERIFY(!seqRel->isEnabled()); // no base yet
    editor.setRelativeBases(0xfffffff0u, 4000u);
    QVERIFY(seqRel->isEnabled());
    seqRel->setChecked(true);
    ackRel->setChecked(true);
    QCOMPARE(seq->text(), QStringLiteral("32")); // 0x10 - 0xfffffff0, modulo 2^32
    QCOMPARE(ack->text(), QStringLiteral("1000"));
    QVERIFY(*editor.spec() == spec); // the display changed, not the numbers
    seq->setText(QStringLiteral("5"));
    QCOMPARE(editor.spec()->tcp.seq.value(), 0xfffffff5u);
    seqRel->setChecked(false);
    QCOMPARE(seq->text(), QStringLiteral("4294967285"));
    // New bases keep the numbers; losing the base goes back to absolute.
    editor.setRelativeBases(std::nullopt, 4500u);
    QCOMPARE(ack->text(), QStringLiteral("500"));
    QCOMPARE(editor.spec()->tcp.ack.value(), 5000u);
    editor.setRelativeBases(std::nullopt, std::nullopt);
    QVERIFY(!ackRel->isChecked());
    QCOMPARE(ack->text(), QStringLiteral("5000"));
}

void TestSegmentEditor::autoSeqAck_followsSuggestion_untilEdited() {
    ui::SegmentEditor editor;
    editor.setSpec(ipv4Spec());
    auto* seqAuto = child<QCheckBox>(editor, "tcp.seq.auto");
    auto* ackAuto = child<QCheckBox>(editor, "tcp.ack.auto");
    QVERIFY(seqAuto->isChecked() && ackAuto->isChecked());
    auto suggestion = ipv4Spec();
    suggestion.tcp.seq = wire::SeqNum(777);
    suggestion.tcp.ack = wire::SeqNum(888);
    editor.setSuggestion(suggestion, QStringLiteral("ACK of the peer's SYN"));
    QCOMPARE(editor.spec()->tcp.seq.value(), 777u);
    QCOMPARE(editor.spec()->tcp.ack.value(), 888u);
    QVERIFY(child<QLabel>(editor, "tcp.suggestion")->text().contains(QStringLiteral("peer's SYN")));
    // The user types a seq: it stops following; ack still follows.
    auto* seq = child<QLineEdit>(editor, "tcp.seq");
    seq->selectAll();
    QTest::keyClicks(seq, QStringLiteral("5"));
    QVERIFY(!seqAuto->isChecked());
    QVERIFY(ackAuto->isChecked());
    suggestion.tcp.seq = wire::SeqNum(999);
    suggestion.tcp.ack = wire::SeqNum(1234);
    editor.setSuggestion(suggestion, QStringLiteral("next"));
    QCOMPARE(editor.spec()->tcp.seq.value(), 5u);
    QCOMPARE(editor.spec()->tcp.ack.value(), 1234u);
    // Ticking auto again takes the suggestion at once; in relative display too.
    editor.setRelativeBases(900u, 1000u);
    child<QCheckBox>(editor, "tcp.seq.rel")->setChecked(true);
    seqAuto->setChecked(true);
    QCOMPARE(editor.spec()->tcp.seq.value(), 999u);
    QCOMPARE(seq->text(), QStringLiteral("99"));
    // setSpec wins over a standing suggestion: what differs stops following it.
    auto given = ipv4Spec();
    given.tcp.ack = wire::SeqNum(1234);
    editor.setSpec(given);
    QVERIFY(*editor.spec() == given);
    QVERIFY(!seqAuto->isChecked());
    QVERIFY(ackAuto->isChecked());
}

void TestSegmentEditor::options_addRemoveMove_changeDataOffset() {
    ui::SegmentEditor editor;
    auto spec = ipv4Spec();
    spec.tcp.options.clear();
    editor.setSpec(spec);
    const auto dataOffset = [&] { return (*editor.frameBytes())[kIpv4Tcp + 12] >> 4; };
    QCOMPARE(dataOffset(), 5);
    auto* table = child<QTableWidget>(editor, "tcp.options");
    child<QAction>(editor, "tcp.options.add.mss")->trigger();
    QCOMPARE(table->rowCount(), 1);
    QCOMPARE(dataOffset(), 6);
    QCOMPARE(child<QLineEdit>(editor, "tcp.dataofs")->text(), QStringLiteral("6"));
    QCOMPARE(editor.spec()->tcp.options.mss(), std::optional<std::uint16_t>(1460));
    child<QAction>(editor, "tcp.options.add.ts")->trigger(); // 10 more bytes: 14 -> 16
    QCOMPARE(dataOffset(), 9);
    child<QAction>(editor, "tcp.options.add.nop")->trigger();
    QCOMPARE(table->rowCount(), 3);
    QCOMPARE(table->item(2, 1)->text(), QStringLiteral("NOP"));
    // Move the NOP to the top.
    table->setCurrentCell(2, 1);
    child<QPushButton>(editor, "tcp.options.up")->click();
    child<QPushButton>(editor, "tcp.options.up")->click();
    QCOMPARE(table->item(0, 1)->text(), QStringLiteral("NOP"));
    QCOMPARE(editor.spec()->tcp.options.bytes()[0], std::uint8_t{1});
    child<QPushButton>(editor, "tcp.options.down")->click();
    QCOMPARE(table->item(1, 1)->text(), QStringLiteral("NOP"));
    // Edit the MSS value in its cell.
    table->item(0, 2)->setText(QStringLiteral("536"));
    QCOMPARE(editor.spec()->tcp.options.mss(), std::optional<std::uint16_t>(536));
    while (table->rowCount() > 0) {
        table->setCurrentCell(0, 1);
        child<QPushButton>(editor, "tcp.options.remove")->click();
    }
    QCOMPARE(dataOffset(), 5);
    QVERIFY(editor.spec()->tcp.options.empty());
}

void TestSegmentEditor::options_badValue_isMarked() {
    ui::SegmentEditor editor;
    editor.setSpec(ipv4Spec());
    auto* table = child<QTableWidget>(editor, "tcp.options");
    const int sackRow = 3;
    QCOMPARE(table->item(sackRow, 1)->text(), QStringLiteral("SAck"));
    QCOMPARE(table->item(sackRow, 2)->text(), QStringLiteral("1001-2001, 3001-4001"));
    table->item(sackRow, 2)->setText(QStringLiteral("1001-"));
    QVERIFY(!editor.isValid());
    QVERIFY(editor.errors().front().startsWith(QStringLiteral("TCP option 4 (SAck)")));
    QVERIFY(table->item(sackRow, 2)->data(Qt::BackgroundRole).isValid());
    table->item(sackRow, 2)->setText(QStringLiteral("1-5 7-9"));
    QVERIFY(editor.isValid());
    QVERIFY(!table->item(sackRow, 2)->data(Qt::BackgroundRole).isValid());
    // Too many bytes for a header: 5 timestamps are 50 bytes.
    for (int i = 0; i < 3; ++i)
        child<QAction>(editor, "tcp.options.add.ts")->trigger();
    QVERIFY(!editor.isValid());
    QVERIFY(editor.errors().join(QLatin1Char('\n')).contains(QStringLiteral("more than the 40")));
    // A raw option: kind and hex data.
    editor.setSpec(ipv4Spec());
    child<QAction>(editor, "tcp.options.add.raw")->trigger();
    const int raw = table->currentRow();
    table->item(raw, 0)->setText(QStringLiteral("300"));
    QVERIFY(!editor.isValid());
    table->item(raw, 0)->setText(QStringLiteral("253"));
    table->item(raw, 2)->setText(QStringLiteral("0a 0b"));
    QVERIFY2(editor.isValid(), qPrintable(editor.errors().join(QLatin1Char('\n'))));
    // The spec is a value: keep it while its option bytes are read.
    const auto spec = editor.spec();
    const auto area = spec->tcp.options.bytes();
    const std::vector<std::uint8_t> tail(area.end() - 4, area.end());
    QCOMPARE(tail, (std::vector<std::uint8_t>{253, 4, 0x0a, 0x0b}));
}

void TestSegmentEditor::payload_textAndHex_giveTheSameBytes() {
    ui::SegmentEditor editor;
    editor.setSpec(ipv4Spec());
    auto* payload = child<QPlainTextEdit>(editor, "payload.data");
    auto* hex = child<QCheckBox>(editor, "payload.hex");
    QVERIFY(!hex->isChecked());
    QCOMPARE(payload->toPlainText(), QStringLiteral("GET / HTTP/1.1\\r\\n\\r\\n"));
    payload->setPlainText(QStringLiteral("GET\\r\\n"));
    const auto text = editor.spec()->payload;
    QCOMPARE(text, bytesOf("GET\r\n"));
    hex->setChecked(true);
    QCOMPARE(payload->toPlainText(), QStringLiteral("47 45 54 0d 0a"));
    QCOMPARE(editor.spec()->payload, text);
    payload->setPlainText(QStringLiteral("474554 0D0A"));
    QCOMPARE(editor.spec()->payload, text);
    payload->setPlainText(QStringLiteral("47 45 5"));
    QVERIFY(!editor.isValid());
    QVERIFY(editor.errors().front().startsWith(QStringLiteral("Payload: ")));
    QVERIFY(payload->property("invalid").toBool());
    hex->setChecked(false); // does not parse: the text stays for the user to fix
    QCOMPARE(payload->toPlainText(), QStringLiteral("47 45 5"));
    QVERIFY(editor.isValid()); // ... and as text it is fine
    payload->setPlainText(QStringLiteral("bad \\q escape"));
    QVERIFY(!editor.isValid());
    payload->setPlainText(QString());
    QVERIFY(editor.isValid());
    QVERIFY(editor.spec()->payload.empty());
    // Too big for an IP packet: refused, not truncated.
    hex->setChecked(true);
    payload->setPlainText(QString(2 * 65600, QLatin1Char('a')));
    QVERIFY(!editor.isValid());
    QVERIFY(!editor.frameBytes());
}

void TestSegmentEditor::focus_andFocusField_nameTheField() {
    QWidget window;
    auto* layout = new QHBoxLayout(&window);
    auto* editor = new ui::SegmentEditor;
    layout->addWidget(editor);
    window.resize(380, 500);
    window.show();
    QVERIFY(QTest::qWaitForWindowActive(&window));
    editor->setSpec(ipv4Spec());
    QSignalSpy focused(editor, &ui::SegmentEditor::fieldFocused);
    editor->focusField(QStringLiteral("tcp"), QStringLiteral("ack"));
    QCOMPARE(QApplication::focusWidget(), child<QLineEdit>(*editor, "tcp.ack"));
    QVERIFY(focused.count() >= 1);
    QCOMPARE(focused.last().at(0).toString(), QStringLiteral("tcp"));
    QCOMPARE(focused.last().at(1).toString(), QStringLiteral("ack"));
    editor->focusField(QStringLiteral("tcp"), QStringLiteral("flags"));
    QCOMPARE(focused.last().at(1).toString(), QStringLiteral("flags"));
    editor->focusField(QStringLiteral("payload"), QStringLiteral("data"));
    QCOMPARE(focused.last().at(0).toString(), QStringLiteral("payload"));
    editor->focusField(QStringLiteral("tcp"), QStringLiteral("options"));
    QCOMPARE(focused.last().at(1).toString(), QStringLiteral("options"));
    const int before = focused.count();
    editor->focusField(QStringLiteral("ipv6"), QStringLiteral("src")); // hidden: ignored
    editor->focusField(QStringLiteral("nope"), QStringLiteral("nothing"));
    QCOMPARE(focused.count(), before);
}

void TestSegmentEditor::garbage_inEveryField_neverCrashes() {
    ui::SegmentEditor editor;
    editor.resize(380, 700);
    editor.show();
    const QStringList nasty = {QString(),
                               QStringLiteral(" "),
                               QStringLiteral("-1"),
                               QStringLiteral("0x"),
                               QStringLiteral("0xZZ"),
                               QStringLiteral("99999999999999999999999999999"),
                               QStringLiteral("18446744073709551616"),
                               QStringLiteral("1e9"),
                               QStringLiteral("１２３"),
                               QStringLiteral("\\x"),
                               QStringLiteral("%s%n%x"),
                               QString(5000, QLatin1Char('9')),
                               QStringLiteral("::"),
                               QStringLiteral("1.2.3.4.5"),
                               QStringLiteral("ff:ff:ff:ff:ff:ff:ff"),
                               QString(QChar(0)),
                               QStringLiteral("\u202e\U0001F600")};
    for (const auto& spec : {ipv4Spec(), ipv6Spec()}) {
        editor.setSpec(spec);
        const auto edits = editor.findChildren<QLineEdit*>();
        QVERIFY(edits.size() >= 20);
        for (QLineEdit* edit : edits) {
            for (const QString& text : nasty) {
                edit->setText(text);
                QCOMPARE(editor.frameBytes().has_value(), editor.isValid());
                QCOMPARE(editor.spec().has_value(), editor.isValid());
            }
            editor.setSpec(spec); // next field from a clean form
        }
        auto* table = editor.findChild<QTableWidget*>(QStringLiteral("tcp.options"));
        for (int row = 0; row < table->rowCount(); ++row)
            for (int column = 0; column < 3; ++column)
                for (const QString& text : nasty) {
                    table->item(row, column)->setText(text);
                    QCOMPARE(editor.frameBytes().has_value(), editor.isValid());
                }
        auto* payload = editor.findChild<QPlainTextEdit*>(QStringLiteral("payload.data"));
        auto* hex = editor.findChild<QCheckBox*>(QStringLiteral("payload.hex"));
        for (const bool h : {false, true}) {
            hex->setChecked(h);
            for (const QString& text : nasty) {
                payload->setPlainText(text);
                QCOMPARE(editor.frameBytes().has_value(), editor.isValid());
            }
        }
        QVERIFY(!editor.grab().isNull());
    }
}

void TestSegmentEditor::picture_editorBesideHexView() {
    const QString dir = QStringLiteral(TCPLAB_BINARY_DIR "/tests/ui-output");
    QDir().mkpath(dir);
    for (const bool dark : {false, true}) {
        ui::applyPalette(dark);
        QWidget window;
        auto* layout = new QHBoxLayout(&window);
        auto* editor = new ui::SegmentEditor;
        auto* hex = new ui::HexView;
        editor->setFixedWidth(380);
        layout->addWidget(editor);
        layout->addWidget(hex, 1);
        // As the lead wires them.
        connect(editor, &ui::SegmentEditor::fieldFocused, hex, &ui::HexView::highlightField);
        connect(hex, &ui::HexView::fieldActivated, editor, &ui::SegmentEditor::focusField);
        connect(editor, &ui::SegmentEditor::specChanged, hex, [editor, hex] {
            if (auto bytes = editor->frameBytes())
                hex->setFrame(*bytes);
        });
        editor->setSpec(ipv4Spec());
        editor->setRelativeBases(100u, 3735928559u);
        auto suggestion = ipv4Spec();
        editor->setSuggestion(suggestion, QStringLiteral("PSH|ACK: your data, acknowledging the "
                                                         "peer's SYN-ACK (ack = IRS + 1)"));
        editor->setWarnings({QStringLiteral("seq-outside-window: the peer expects seq 101 "
                                            "(RFC 9293 §3.10.7.4)")});
        window.resize(1000, 900);
        window.show();
        QTest::qWait(50);
        if (dark) {
            // The top of the form, with an invalid field and the ack marked in the hex view.
            editor->focusField(QStringLiteral("tcp"), QStringLiteral("ack"));
            child<QLineEdit>(*editor, "ipv4.ttl")->setText(QStringLiteral("300"));
            hex->highlightField(QStringLiteral("tcp"), QStringLiteral("ack"));
            QCOMPARE(hex->highlightedRange(), (QPair<int, int>(static_cast<int>(kIpv4Tcp) + 8, 4)));
        } else {
            // The bottom: seq/ack relative, options and payload; the options marked.
            child<QCheckBox>(*editor, "tcp.seq.rel")->setChecked(true);
            child<QCheckBox>(*editor, "tcp.ack.rel")->setChecked(true);
            editor->focusField(QStringLiteral("tcp"), QStringLiteral("options"));
            QCOMPARE(hex->highlightedRange(),
                     (QPair<int, int>(static_cast<int>(kIpv4Tcp) + 20, 32)));
        }
        QTest::qWait(50);
        const QImage shot = window.grab().toImage();
        QVERIFY(!shot.isNull());
        const QString png = dir + (dark ? QStringLiteral("/segment-editor-dark.png")
                                        : QStringLiteral("/segment-editor.png"));
        QVERIFY(shot.save(png));
        QVERIFY(!QImage(png).isNull());
    }
    ui::applyPalette(false);
    // The whole form at once, as tall as it needs.
    ui::SegmentEditor editor;
    editor.setSpec(ipv6Spec());
    editor.resize(380, editor.findChild<QScrollArea*>(QStringLiteral("segmentEditorScroll"))
                               ->widget()
                               ->sizeHint()
                               .height() +
                           20);
    editor.show();
    QTest::qWait(50);
    QVERIFY(editor.grab().save(dir + QStringLiteral("/segment-editor-full.png")));
}

QTEST_MAIN(TestSegmentEditor)
#include "tst_segment_editor.moc"
