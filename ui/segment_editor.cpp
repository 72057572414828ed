#include "ui/segment_editor.h"

#include "wire/address.h"
#include "wire/bytes.h"
#include "wire/field.h"

#include <QAction>
#include <QCheckBox>
#include <QEvent>
#include <QFontDatabase>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QRegularExpression>
#include <QScrollArea>
#include <QTableWidget>
#include <QToolButton>
#include <QVBoxLayout>

#include <array>
#include <limits>

namespace tcplab::ui {

namespace {

using wire::FieldDescriptor;
using wire::FieldFormat;
using wire::SegmentSpec;

constexpr const char* kLayerProperty = "tcplabLayer";
constexpr const char* kFieldProperty = "tcplabField";
/// Marks an invalid entry; red reads on light and dark backgrounds alike.
const QColor kInvalidColor(211, 47, 47);

QString qs(std::string_view s) {
    return QString::fromUtf8(s.data(), static_cast<qsizetype>(s.size()));
}

QString qs(const std::string& s) {
    return QString::fromStdString(s);
}

/// What the user typed, for an error message: trimmed and cut short.
QString shortened(const QString& text) {
    constexpr int kMax = 24;
    const QString t = text.trimmed();
    return t.size() > kMax ? t.left(kMax) + QStringLiteral("…") : t;
}

QString quoted(const QString& text) {
    return QStringLiteral("\"%1\"").arg(shortened(text));
}

std::uint64_t maxOf(unsigned bits) {
    return bits >= 64 ? std::numeric_limits<std::uint64_t>::max() : (std::uint64_t{1} << bits) - 1;
}

/// Parses an unsigned number of at most `bits` bits: decimal, or hex with "0x" (hex
/// without the prefix too when `hexDefault`). Errors read "300 is more than 8 bits can
/// hold (at most 255)".
tl::expected<std::uint64_t, QString> parseNumber(const QString& raw, bool hexDefault,
                                                 unsigned bits) {
    const QString text = raw.trimmed();
    if (text.isEmpty())
        return tl::make_unexpected(QStringLiteral("is empty"));
    QStringView digits(text);
    bool hex = hexDefault;
    if (digits.startsWith(QLatin1String("0x"), Qt::CaseInsensitive)) {
        hex = true;
        digits = digits.mid(2);
    }
    const unsigned base = hex ? 16 : 10;
    std::uint64_t value = 0;
    bool overflow = false;
    for (const QChar c : digits) {
        const int d = c.isDigit() && c.unicode() < 0x80 ? c.unicode() - '0'
                      : hex && c.toLower() >= QLatin1Char('a') && c.toLower() <= QLatin1Char('f')
                          ? c.toLower().unicode() - 'a' + 10
                          : -1;
        if (d < 0)
            return tl::make_unexpected(QStringLiteral("%1 is not a %2 number")
                                           .arg(quoted(text), hex ? QStringLiteral("hexadecimal")
                                                                  : QStringLiteral("decimal")));
        const auto ud = static_cast<std::uint64_t>(d);
        if (value > (std::numeric_limits<std::uint64_t>::max() - ud) / base)
            overflow = true;
        else
            value = value * base + ud;
    }
    if (digits.isEmpty())
        return tl::make_unexpected(QStringLiteral("%1 is not a number").arg(quoted(text)));
    if (overflow || value > maxOf(bits))
        return tl::make_unexpected(QStringLiteral("%1 is more than %2 bits can hold (at most %3)")
                                       .arg(shortened(text))
                                       .arg(bits)
                                       .arg(maxOf(bits)));
    return value;
}

QString formatNumber(const FieldDescriptor& d, std::uint64_t value) {
    if (d.format == FieldFormat::Hex)
        return QStringLiteral("0x%1").arg(value, static_cast<int>((d.bitWidth + 3) / 4), 16,
                                          QLatin1Char('0'));
    return QString::number(value);
}

QString spacedHex(wire::Bytes bytes) {
    QString out;
    out.reserve(static_cast<qsizetype>(bytes.size() * 3));
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (i > 0)
            out += (i % 16 == 0) ? QLatin1Char('\n') : QLatin1Char(' ');
        out += QStringLiteral("%1").arg(bytes[i], 2, 16, QLatin1Char('0'));
    }
    return out;
}

// --- The spec's fields by (layer, id): the form's one mapping onto the header types.

/// Numeric value of a field; nullopt when it is a derived field left to auto.
std::optional<std::uint64_t> numberOf(const SegmentSpec& s, const QString& layer,
                                      std::string_view id) {
    if (layer == QLatin1String("ethernet")) {
        if (id == "type" && s.ethernet.etherType)
            return *s.ethernet.etherType;
        return std::nullopt;
    }
    if (layer == QLatin1String("ipv4")) {
        const wire::Ipv4Header* h = s.ipv4If();
        if (!h)
            return std::nullopt;
        if (id == "version")
            return h->version;
        if (id == "ihl")
            return h->ihl ? std::optional<std::uint64_t>(*h->ihl) : std::nullopt;
        if (id == "tos")
            return h->tos;
        if (id == "len")
            return h->totalLength ? std::optional<std::uint64_t>(*h->totalLength) : std::nullopt;
        if (id == "id")
            return h->id;
        if (id == "flags")
            return h->flags;
        if (id == "frag")
            return h->fragOffset;
        if (id == "ttl")
            return h->ttl;
        if (id == "proto")
            return h->protocol ? std::optional<std::uint64_t>(*h->protocol) : std::nullopt;
        if (id == "chksum")
            return h->checksum ? std::optional<std::uint64_t>(*h->checksum) : std::nullopt;
        return std::nullopt;
    }
    if (layer == QLatin1String("ipv6")) {
        const wire::Ipv6Header* h = s.ipv6If();
        if (!h)
            return std::nullopt;
        if (id == "version")
            return h->version;
        if (id == "tc")
            return h->trafficClass;
        if (id == "fl")
            return h->flowLabel;
        if (id == "plen")
            return h->payloadLength ? std::optional<std::uint64_t>(*h->payloadLength)
                                    : std::nullopt;
        if (id == "nh")
            return h->nextHeader ? std::optional<std::uint64_t>(*h->nextHeader) : std::nullopt;
        if (id == "hlim")
            return h->hopLimit;
        return std::nullopt;
    }
    const wire::TcpHeader& t = s.tcp;
    if (id == "sport")
        return t.srcPort;
    if (id == "dport")
        return t.dstPort;
    if (id == "seq")
        return t.seq.value();
    if (id == "ack")
        return t.ack.value();
    if (id == "dataofs")
        return t.dataOffset ? std::optional<std::uint64_t>(*t.dataOffset) : std::nullopt;
    if (id == "reserved")
        return t.reserved;
    if (id == "flags")
        return t.flags;
    if (id == "window")
        return t.window;
    if (id == "chksum")
        return t.checksum ? std::optional<std::uint64_t>(*t.checksum) : std::nullopt;
    if (id == "urgptr")
        return t.urgentPointer;
    return std::nullopt;
}

template <typename T>
std::optional<T> narrowed(std::optional<std::uint64_t> v) {
    return v ? std::optional<T>(static_cast<T>(*v)) : std::nullopt;
}

/// Sets a numeric field (already validated against its width); nullopt = auto.
void setNumber(SegmentSpec& s, const QString& layer, std::string_view id,
               std::optional<std::uint64_t> v) {
    const std::uint64_t n = v.value_or(0);
    if (layer == QLatin1String("ethernet")) {
        if (id == "type")
            s.ethernet.etherType = narrowed<std::uint16_t>(v);
        return;
    }
    if (layer == QLatin1String("ipv4")) {
        if (s.isIpv6())
            return;
        wire::Ipv4Header& h = s.ipv4();
        if (id == "version")
            h.version = static_cast<std::uint8_t>(n);
        else if (id == "ihl")
            h.ihl = narrowed<std::uint8_t>(v);
        else if (id == "tos")
            h.tos = static_cast<std::uint8_t>(n);
        else if (id == "len")
            h.totalLength = narrowed<std::uint16_t>(v);
        else if (id == "id")
            h.id = static_cast<std::uint16_t>(n);
        else if (id == "flags")
            h.flags = static_cast<std::uint8_t>(n);
        else if (id == "frag")
            h.fragOffset = static_cast<std::uint16_t>(n);
        else if (id == "ttl")
            h.ttl = static_cast<std::uint8_t>(n);
        else if (id == "proto")
            h.protocol = narrowed<std::uint8_t>(v);
        else if (id == "chksum")
            h.checksum = narrowed<std::uint16_t>(v);
        return;
    }
    if (layer == QLatin1String("ipv6")) {
        if (!s.isIpv6())
            return;
        wire::Ipv6Header& h = s.ipv6();
        if (id == "version")
            h.version = static_cast<std::uint8_t>(n);
        else if (id == "tc")
            h.trafficClass = static_cast<std::uint8_t>(n);
        else if (id == "fl")
            h.flowLabel = static_cast<std::uint32_t>(n);
        else if (id == "plen")
            h.payloadLength = narrowed<std::uint16_t>(v);
        else if (id == "nh")
            h.nextHeader = narrowed<std::uint8_t>(v);
        else if (id == "hlim")
            h.hopLimit = static_cast<std::uint8_t>(n);
        return;
    }
    wire::TcpHeader& t = s.tcp;
    if (id == "sport")
        t.srcPort = static_cast<std::uint16_t>(n);
    else if (id == "dport")
        t.dstPort = static_cast<std::uint16_t>(n);
    else if (id == "seq")
        t.seq = wire::SeqNum(static_cast<std::uint32_t>(n));
    else if (id == "ack")
        t.ack = wire::SeqNum(static_cast<std::uint32_t>(n));
    else if (id == "dataofs")
        t.dataOffset = narrowed<std::uint8_t>(v);
    else if (id == "reserved")
        t.reserved = static_cast<std::uint8_t>(n);
    else if (id == "flags")
        t.flags = static_cast<std::uint8_t>(n);
    else if (id == "window")
        t.window = static_cast<std::uint16_t>(n);
    else if (id == "chksum")
        t.checksum = narrowed<std::uint16_t>(v);
    else if (id == "urgptr")
        t.urgentPointer = static_cast<std::uint16_t>(n);
}

QString addressOf(const SegmentSpec& s, const QString& layer, std::string_view id) {
    if (layer == QLatin1String("ethernet"))
        return qs((id == "src" ? s.ethernet.src : s.ethernet.dst).toString());
    if (const auto* v4 = s.ipv4If(); v4 && layer == QLatin1String("ipv4"))
        return qs((id == "src" ? v4->src : v4->dst).toString());
    if (const auto* v6 = s.ipv6If(); v6 && layer == QLatin1String("ipv6"))
        return qs((id == "src" ? v6->src : v6->dst).toString());
    return {};
}

/// Parses and stores an address; the error says what the text should look like.
QString setAddress(SegmentSpec& s, std::string_view id, FieldFormat format, const QString& text) {
    const std::string t = text.trimmed().toStdString();
    if (format == FieldFormat::Mac) {
        const auto mac = wire::MacAddress::parse(t);
        if (!mac)
            return QStringLiteral("%1 is not a MAC address (like 02:00:5e:10:00:01)")
                .arg(quoted(text));
        (id == "src" ? s.ethernet.src : s.ethernet.dst) = *mac;
        return {};
    }
    if (format == FieldFormat::Ipv4) {
        const auto a = wire::Ipv4Address::parse(t);
        if (!a)
            return QStringLiteral("%1 is not an IPv4 address (like 198.18.0.1)").arg(quoted(text));
        if (!s.isIpv6())
            (id == "src" ? s.ipv4().src : s.ipv4().dst) = *a;
        return {};
    }
    const auto a = wire::Ipv6Address::parse(t);
    if (!a)
        return QStringLiteral("%1 is not an IPv6 address (like 2001:db8::1)").arg(quoted(text));
    if (s.isIpv6())
        (id == "src" ? s.ipv6().src : s.ipv6().dst) = *a;
    return {};
}

/// Byte offset of a layer's header in the encoded frame.
std::size_t layerOffset(const SegmentSpec& s, const QString& layer) {
    if (layer == QLatin1String("ethernet"))
        return 0;
    if (layer == QLatin1String("tcp")) {
        const std::size_t ip = s.ipv4If() ? s.ipv4If()->headerLength() : wire::Ipv6Header::kLength;
        return wire::EthernetHeader::kLength + ip;
    }
    return wire::EthernetHeader::kLength;
}

struct FlagBit {
    const char* letter;
    std::uint8_t bit;
    const char* tip;
};
// Most significant first, as the header diagram draws them (RFC 9293 §3.1).
constexpr std::array<FlagBit, 8> kTcpFlagBits{{
    {"C", 0x80, "CWR: congestion window reduced (RFC 3168 §6.1)"},
    {"E", 0x40, "ECE: ECN echo (RFC 3168 §6.1)"},
    {"U", 0x20, "URG: the urgent pointer is significant (RFC 9293 §3.1)"},
    {"A", 0x10, "ACK: the acknowledgment number is significant (RFC 9293 §3.1)"},
    {"P", 0x08, "PSH: push the data to the application (RFC 9293 §3.9.1)"},
    {"R", 0x04, "RST: reset the connection (RFC 9293 §3.5.2)"},
    {"S", 0x02, "SYN: synchronize sequence numbers (RFC 9293 §3.5)"},
    {"F", 0x01, "FIN: no more data from the sender (RFC 9293 §3.6)"},
}};
constexpr std::array<FlagBit, 3> kIpv4FlagBits{{
    {"R", 0x4, "reserved, must be zero (RFC 791; RFC 3514's \"evil bit\")"},
    {"DF", 0x2, "don't fragment (RFC 791 §3.1)"},
    {"MF", 0x1, "more fragments follow (RFC 791 §3.1)"},
}};

void markInvalid(QWidget* w, const QString& error, const QString& help) {
    const bool invalid = !error.isEmpty();
    if (w->property("invalid").toBool() != invalid || w->toolTip() != (invalid ? error : help)) {
        w->setProperty("invalid", invalid);
        // A red frame and the reason at the field; the style sheet keeps palette colours.
        // The selector names the widget's own class, so a table's headers keep their look.
        w->setStyleSheet(
            invalid
                ? QStringLiteral("%1 { border: 2px solid %2; border-radius: 2px; }")
                      .arg(QString::fromLatin1(w->metaObject()->className()), kInvalidColor.name())
                : QString());
        w->setToolTip(invalid ? error : help);
    }
}

} // namespace

// --- Fields and options -------------------------------------------------------------

struct SegmentEditor::Field {
    QString layer;     ///< "tcp"
    QString layerName; ///< "TCP"
    const FieldDescriptor* d = nullptr;
    QLineEdit* edit = nullptr;
    QCheckBox* autoBox = nullptr; ///< derived fields: auto; seq/ack: follow the suggestion
    QCheckBox* relBox = nullptr;  ///< seq/ack: relative display
    std::vector<QCheckBox*> bits; ///< flags, most significant first
    std::vector<std::uint8_t> bitValues;
    QString help; ///< the tooltip when valid

    QString id() const { return qs(d->id); }
    bool isSeqAck() const { return relBox != nullptr; }
    bool isDerived() const { return d->derived; }
};

enum class SegmentEditor::OptionType : std::uint8_t {
    Mss,
    WindowScale,
    SackPermitted,
    Sack,
    Timestamps,
    Nop,
    Eol,
    Raw,   ///< any kind with hex data; length = 2 + data
    Bytes, ///< verbatim bytes (odd lengths, padding, what does not parse)
};

namespace {

struct OptionInfo {
    const char* id;
    const char* name;
    int kind; ///< -1: none (Bytes)
    const char* defaultValue;
    const char* help;
    bool hasValue;
};

constexpr std::array<OptionInfo, 9> kOptionInfo{{
    {"mss", "MSS", 2, "1460", "maximum segment size, in bytes (RFC 9293 §3.7.1)", true},
    {"ws", "WScale", 3, "7", "window scale shift count, 0..14 (RFC 7323 §2.2)", true},
    {"sackok", "SAckOK", 4, "", "SACK permitted, on a SYN (RFC 2018 §2)", false},
    {"sack", "SAck", 5, "1-2", "blocks left-right, e.g. 1001-2001, 3001-4001 (RFC 2018 §3)", true},
    {"ts", "Timestamp", 8, "1 0", "TSval TSecr, e.g. 12345 0 (RFC 7323 §3.2)", true},
    {"nop", "NOP", 1, "", "no operation, pads to alignment (RFC 9293 §3.2)", false},
    {"eol", "EOL", 0, "", "end of option list (RFC 9293 §3.2)", false},
    {"raw", "raw", 254, "", "any kind; data in hex, e.g. 0a 0b (length = 2 + data)", true},
    {"bytes", "bytes", -1, "", "verbatim option bytes in hex, written as they are", true},
}};

} // namespace

// --- Construction -------------------------------------------------------------------

SegmentEditor::SegmentEditor(QWidget* parent)
    : QWidget(parent) {
    setObjectName(QStringLiteral("segmentEditor"));
    auto* outer = new QVBoxLayout(this);
    outer->setContentsMargins(0, 0, 0, 0);

    m_warnings = new QLabel;
    m_warnings->setObjectName(QStringLiteral("warnings"));
    m_warnings->setWordWrap(true);
    m_warnings->setTextFormat(Qt::PlainText);
    m_warnings->setAutoFillBackground(true);
    m_warnings->setBackgroundRole(QPalette::ToolTipBase);
    m_warnings->setForegroundRole(QPalette::ToolTipText);
    m_warnings->setFrameShape(QFrame::StyledPanel);
    m_warnings->setMargin(4);
    m_warnings->hide();
    outer->addWidget(m_warnings);

    m_errorLabel = new QLabel;
    m_errorLabel->setObjectName(QStringLiteral("errors"));
    m_errorLabel->setWordWrap(true);
    m_errorLabel->setTextFormat(Qt::PlainText);
    m_errorLabel->setStyleSheet(
        QStringLiteral("QLabel { border: 2px solid %1; border-radius: 3px; padding: 3px; }")
            .arg(kInvalidColor.name()));
    m_errorLabel->hide();
    outer->addWidget(m_errorLabel);

    m_reason = new QLabel;
    m_reason->setObjectName(QStringLiteral("tcp.suggestion"));
    m_reason->setWordWrap(true);
    m_reason->setTextFormat(Qt::PlainText);
    m_reason->hide();
    outer->addWidget(m_reason);

    auto* content = new QWidget;
    auto* column = new QVBoxLayout(content);
    column->setContentsMargins(4, 4, 4, 4);
    column->addWidget(buildLayer(wire::kEthernetProtocol));
    m_ipv4Box = buildLayer(wire::kIpv4Protocol);
    m_ipv6Box = buildLayer(wire::kIpv6Protocol);
    column->addWidget(m_ipv4Box);
    column->addWidget(m_ipv6Box);
    column->addWidget(buildLayer(wire::kTcpProtocol));
    column->addWidget(buildOptions());
    column->addWidget(buildPayload());
    column->addStretch(1);

    m_scroll = new QScrollArea;
    m_scroll->setObjectName(QStringLiteral("segmentEditorScroll"));
    m_scroll->setWidgetResizable(true);
    m_scroll->setFrameShape(QFrame::NoFrame);
    m_scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAsNeeded);
    m_scroll->setWidget(content);
    outer->addWidget(m_scroll, 1);

    setSpec(SegmentSpec{});
}

SegmentEditor::~SegmentEditor() = default;

void SegmentEditor::watch(QWidget* widget, const QString& layer, const QString& field) {
    widget->setProperty(kLayerProperty, layer);
    widget->setProperty(kFieldProperty, field);
    widget->installEventFilter(this);
}

QGroupBox* SegmentEditor::buildLayer(const wire::ProtocolDescriptor& protocol) {
    const QString layer = qs(protocol.id);
    auto* box = new QGroupBox(QStringLiteral("%1 — %2").arg(qs(protocol.name), qs(protocol.rfc)));
    box->setObjectName(layer);
    auto* grid = new QGridLayout(box);
    grid->setColumnStretch(1, 1);
    int row = 0;
    for (const FieldDescriptor& d : protocol.fields) {
        auto f = std::make_unique<Field>();
        f->layer = layer;
        f->layerName = qs(protocol.name);
        f->d = &d;
        const QString name = QStringLiteral("%1.%2").arg(layer, qs(d.id));
        f->help = QStringLiteral("%1: %2 (%3; %4 bit%5)")
                      .arg(qs(d.label), qs(d.meaning), qs(d.rfc))
                      .arg(d.bitWidth)
                      .arg(d.bitWidth == 1 ? QString() : QStringLiteral("s"));
        auto* label = new QLabel(qs(d.label));
        label->setToolTip(f->help);
        // "Acknowledgment number" may take two lines: the dock is narrow.
        label->setWordWrap(true);
        grid->addWidget(label, row, 0);

        if (d.format == FieldFormat::TcpFlags || d.format == FieldFormat::Ipv4Flags) {
            auto* holder = new QWidget;
            auto* h = new QGridLayout(holder);
            h->setContentsMargins(0, 0, 0, 0);
            // Two rows of four TCP flags, so that the form fits a narrow dock.
            const int perRow = d.format == FieldFormat::TcpFlags ? 4 : 3;
            const auto addBits = [&](const auto& table) {
                for (const FlagBit& b : table) {
                    auto* check = new QCheckBox(QString::fromLatin1(b.letter));
                    check->setObjectName(
                        QStringLiteral("%1.%2").arg(name, QString::fromLatin1(b.letter)));
                    check->setToolTip(QString::fromUtf8(b.tip));
                    watch(check, layer, qs(d.id));
                    connect(check, &QCheckBox::toggled, this, &SegmentEditor::refresh);
                    const auto n = static_cast<int>(f->bits.size());
                    h->addWidget(check, n / perRow, n % perRow);
                    f->bits.push_back(check);
                    f->bitValues.push_back(b.bit);
                }
            };
            if (d.format == FieldFormat::TcpFlags)
                addBits(kTcpFlagBits);
            else
                addBits(kIpv4FlagBits);
            h->setColumnStretch(perRow, 1);
            label->setBuddy(f->bits.front());
            m_focusTargets.insert(name, f->bits.front());
            grid->addWidget(holder, row, 1, 1, 2);
        } else {
            f->edit = new QLineEdit;
            f->edit->setObjectName(name);
            f->edit->setToolTip(f->help);
            // Room for the widest value of the field, at the current font size.
            f->edit->setMinimumWidth(f->edit->fontMetrics().horizontalAdvance(QLatin1Char('0')) *
                                     (d.format == FieldFormat::Ipv6  ? 16
                                      : d.format == FieldFormat::Mac ? 17
                                                                     : 8));
            label->setBuddy(f->edit);
            watch(f->edit, layer, qs(d.id));
            m_focusTargets.insert(name, f->edit);
            Field* raw = f.get();
            connect(f->edit, &QLineEdit::textChanged, this, [this, raw] {
                // Typing a number yourself stops it following the suggestion.
                if (!m_updating && raw->isSeqAck() && raw->autoBox->isChecked()) {
                    const QSignalBlocker block(raw->autoBox);
                    raw->autoBox->setChecked(false);
                }
                refresh();
            });
            const bool seqAck = protocol.id == "tcp" && (d.id == "seq" || d.id == "ack");
            if (seqAck) {
                auto* holder = new QWidget;
                auto* h = new QHBoxLayout(holder);
                h->setContentsMargins(0, 0, 0, 0);
                h->addWidget(f->edit, 1);
                f->relBox = new QCheckBox(tr("rel"));
                f->relBox->setObjectName(name + QStringLiteral(".rel"));
                f->relBox->setToolTip(d.id == "seq"
                                          ? tr("Show the sequence number relative to our ISS")
                                          : tr("Show the acknowledgment relative to the peer's "
                                               "IRS"));
                f->relBox->setEnabled(false);
                h->addWidget(f->relBox);
                grid->addWidget(holder, row, 1);
                f->autoBox = new QCheckBox(tr("auto"));
                f->autoBox->setObjectName(name + QStringLiteral(".auto"));
                f->autoBox->setToolTip(tr("Follow the suggested next segment"));
                f->autoBox->setChecked(true);
                grid->addWidget(f->autoBox, row, 2);
                connect(f->relBox, &QCheckBox::toggled, this, [this, raw](bool relative) {
                    // Same number, other display: read it the old way, write it the new way.
                    const std::optional<std::uint32_t> base =
                        raw->id() == QLatin1String("seq") ? m_iss : m_irs;
                    const auto shown = parseNumber(raw->edit->text(), false, 32);
                    if (shown && base) {
                        const auto v = static_cast<std::uint32_t>(*shown);
                        const std::uint32_t out = relative ? v - *base : v + *base;
                        m_updating = true;
                        raw->edit->setText(QString::number(out));
                        m_updating = false;
                    }
                    refresh();
                });
                connect(f->autoBox, &QCheckBox::toggled, this, [this] {
                    applySuggestion();
                    refresh();
                });
                watch(f->relBox, layer, qs(d.id));
                watch(f->autoBox, layer, qs(d.id));
            } else {
                grid->addWidget(f->edit, row, 1);
            }
            if (d.derived) {
                f->autoBox = new QCheckBox(tr("auto"));
                f->autoBox->setObjectName(name + QStringLiteral(".auto"));
                f->autoBox->setToolTip(
                    tr("Computed from the frame; untick to send a value of your own"));
                f->autoBox->setChecked(true);
                // A computed value reads as text, not as a box to type in.
                f->edit->setReadOnly(true);
                f->edit->setFrame(false);
                grid->addWidget(f->autoBox, row, 2);
                watch(f->autoBox, layer, qs(d.id));
                connect(f->autoBox, &QCheckBox::toggled, this, [this, raw](bool on) {
                    // Unticked, the computed value stays as the starting override.
                    raw->edit->setReadOnly(on);
                    raw->edit->setFrame(!on);
                    refresh();
                });
            }
        }
        m_fields.push_back(std::move(f));
        ++row;
    }
    return box;
}

QGroupBox* SegmentEditor::buildOptions() {
    auto* box = new QGroupBox(tr("TCP options — RFC 9293 §3.2"));
    box->setObjectName(QStringLiteral("tcpOptions"));
    auto* v = new QVBoxLayout(box);
    m_options = new QTableWidget(0, 3);
    m_options->setObjectName(QStringLiteral("tcp.options"));
    m_options->setHorizontalHeaderLabels({tr("Kind"), tr("Option"), tr("Value")});
    m_options->verticalHeader()->setVisible(false);
    m_options->verticalHeader()->setDefaultSectionSize(m_options->fontMetrics().height() + 8);
    m_options->horizontalHeader()->setStretchLastSection(true);
    m_options->horizontalHeader()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
    m_options->horizontalHeader()->setSectionResizeMode(1, QHeaderView::ResizeToContents);
    m_options->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_options->setSelectionMode(QAbstractItemView::SingleSelection);
    m_options->setEditTriggers(QAbstractItemView::AllEditTriggers);
    m_options->setToolTip(tr("The options after the fixed header, in order (at most 40 bytes)"));
    m_options->setMinimumHeight(m_options->fontMetrics().height() * 7);
    watch(m_options, QStringLiteral("tcp"), QStringLiteral("options"));
    m_focusTargets.insert(QStringLiteral("tcp.options"), m_options);
    connect(m_options, &QTableWidget::itemChanged, this, &SegmentEditor::refresh);
    connect(m_options, &QTableWidget::currentCellChanged, this,
            [this] { Q_EMIT fieldFocused(QStringLiteral("tcp"), QStringLiteral("options")); });
    v->addWidget(m_options);

    auto* buttons = new QHBoxLayout;
    auto* add = new QToolButton;
    add->setObjectName(QStringLiteral("tcp.options.add"));
    add->setText(tr("Add"));
    add->setPopupMode(QToolButton::InstantPopup);
    auto* menu = new QMenu(this);
    for (std::size_t i = 0; i < kOptionInfo.size(); ++i) {
        const OptionInfo& info = kOptionInfo[i];
        auto* action = new QAction(QStringLiteral("%1 — %2").arg(QString::fromLatin1(info.name),
                                                                 QString::fromUtf8(info.help)),
                                   this);
        action->setObjectName(QStringLiteral("tcp.options.add.") + QString::fromLatin1(info.id));
        const auto type = static_cast<OptionType>(i);
        connect(action, &QAction::triggered, this, [this, type, info] {
            const int at = m_options->currentRow() >= 0 ? m_options->currentRow() + 1 : -1;
            addOptionRow(type, QString::fromLatin1(info.defaultValue), info.kind, at);
            refresh();
        });
        menu->addAction(action);
    }
    add->setMenu(menu);
    buttons->addWidget(add);
    const auto button = [&](const QString& id, const QString& text, const QString& tip) {
        auto* b = new QPushButton(text);
        b->setObjectName(QStringLiteral("tcp.options.") + id);
        b->setToolTip(tip);
        buttons->addWidget(b);
        return b;
    };
    connect(button(QStringLiteral("remove"), tr("Remove"), tr("Remove the selected option")),
            &QPushButton::clicked, this, [this] {
                const int row = m_options->currentRow();
                if (row < 0 || row >= static_cast<int>(m_optionTypes.size()))
                    return;
                m_options->removeRow(row);
                m_optionTypes.erase(m_optionTypes.begin() + row);
                refresh();
            });
    connect(button(QStringLiteral("up"), tr("Up"), tr("Move the selected option up")),
            &QPushButton::clicked, this, [this] { moveOption(-1); });
    connect(button(QStringLiteral("down"), tr("Down"), tr("Move the selected option down")),
            &QPushButton::clicked, this, [this] { moveOption(1); });
    buttons->addStretch(1);
    v->addLayout(buttons);
    return box;
}

QGroupBox* SegmentEditor::buildPayload() {
    auto* box = new QGroupBox(tr("Payload"));
    box->setObjectName(QStringLiteral("payload"));
    auto* v = new QVBoxLayout(box);
    m_payloadHex = new QCheckBox(tr("Hex"));
    m_payloadHex->setObjectName(QStringLiteral("payload.hex"));
    auto* hint = new QLabel(tr("Text with C escapes (\\r\\n, \\t, \\xHH), or hex (47 45 54 or "
                               "474554)"));
    hint->setWordWrap(true);
    hint->setForegroundRole(QPalette::PlaceholderText);
    m_payloadHex->setToolTip(hint->text());
    auto* modeRow = new QHBoxLayout;
    modeRow->addWidget(m_payloadHex);
    modeRow->addWidget(hint, 1);
    v->addLayout(modeRow);
    m_payload = new QPlainTextEdit;
    m_payload->setObjectName(QStringLiteral("payload.data"));
    m_payload->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_payload->setTabChangesFocus(true);
    m_payload->setMinimumHeight(m_payload->fontMetrics().height() * 4);
    m_payload->setToolTip(tr("The application data after the TCP header"));
    watch(m_payload, QStringLiteral("payload"), QStringLiteral("data"));
    m_focusTargets.insert(QStringLiteral("payload.data"), m_payload);
    connect(m_payload, &QPlainTextEdit::textChanged, this, &SegmentEditor::refresh);
    connect(m_payloadHex, &QCheckBox::toggled, this, &SegmentEditor::setPayloadHex);
    v->addWidget(m_payload);
    return box;
}

// --- Options ------------------------------------------------------------------------

void SegmentEditor::addOptionRow(OptionType type, const QString& value, int kind, int at) {
    const OptionInfo& info = kOptionInfo[static_cast<std::size_t>(type)];
    const int row = at < 0 || at > m_options->rowCount() ? m_options->rowCount() : at;
    const bool was = m_updating;
    m_updating = true;
    m_options->insertRow(row);
    m_optionTypes.insert(m_optionTypes.begin() + row, type);
    auto* kindItem = new QTableWidgetItem(kind < 0 ? QStringLiteral("—") : QString::number(kind));
    if (type != OptionType::Raw)
        kindItem->setFlags(kindItem->flags() & ~Qt::ItemIsEditable);
    kindItem->setToolTip(type == OptionType::Raw ? tr("Option kind, 0..255") : QString());
    auto* nameItem = new QTableWidgetItem(QString::fromLatin1(info.name));
    nameItem->setFlags(nameItem->flags() & ~Qt::ItemIsEditable);
    nameItem->setToolTip(QString::fromUtf8(info.help));
    auto* valueItem = new QTableWidgetItem(value);
    if (!info.hasValue)
        valueItem->setFlags(valueItem->flags() & ~Qt::ItemIsEditable);
    valueItem->setToolTip(QString::fromUtf8(info.help));
    m_options->setItem(row, 0, kindItem);
    m_options->setItem(row, 1, nameItem);
    m_options->setItem(row, 2, valueItem);
    m_options->setCurrentCell(row, info.hasValue ? 2 : 1);
    m_updating = was;
}

void SegmentEditor::moveOption(int delta) {
    const int row = m_options->currentRow();
    const int to = row + delta;
    if (row < 0 || to < 0 || to >= m_options->rowCount())
        return;
    const OptionType type = m_optionTypes[static_cast<std::size_t>(row)];
    const QString kind = m_options->item(row, 0)->text();
    const QString value = m_options->item(row, 2)->text();
    m_updating = true;
    m_options->removeRow(row);
    m_optionTypes.erase(m_optionTypes.begin() + row);
    m_updating = false;
    bool ok = false;
    const int k = kind.toInt(&ok);
    addOptionRow(type, value, ok ? k : -1, to);
    refresh();
}

tl::expected<std::vector<std::uint8_t>, QString>
SegmentEditor::optionBytes(OptionType type, const QString& kindText, const QString& value) {
    using Result = tl::expected<std::vector<std::uint8_t>, QString>;
    const auto wireOf = [](const wire::TcpOption& o) -> Result {
        wire::TcpOptionList list;
        list.append(o);
        const wire::Bytes b = list.bytes();
        return std::vector<std::uint8_t>(b.begin(), b.end());
    };
    const auto number = [&](unsigned bits) { return parseNumber(value, false, bits); };
    switch (type) {
    case OptionType::Mss: {
        auto v = number(16);
        if (!v)
            return tl::make_unexpected(v.error());
        return wireOf(wire::TcpOption::mss(static_cast<std::uint16_t>(*v)));
    }
    case OptionType::WindowScale: {
        auto v = number(8);
        if (!v)
            return tl::make_unexpected(v.error());
        return wireOf(wire::TcpOption::windowScale(static_cast<std::uint8_t>(*v)));
    }
    case OptionType::SackPermitted:
        return wireOf(wire::TcpOption::sackPermitted());
    case OptionType::Sack: {
        std::vector<wire::SackBlock> blocks;
        const QStringList parts =
            value.split(QRegularExpression(QStringLiteral("[,;\\s]+")), Qt::SkipEmptyParts);
        if (parts.isEmpty() || parts.size() > 4)
            return tl::make_unexpected(
                QStringLiteral("1 to 4 blocks left-right (like 1001-2001), not %1")
                    .arg(parts.size()));
        for (const QString& part : parts) {
            const QStringList ends = part.split(QLatin1Char('-'));
            if (ends.size() != 2)
                return tl::make_unexpected(
                    QStringLiteral("%1 is not a block left-right").arg(quoted(part)));
            auto left = parseNumber(ends[0], false, 32);
            auto right = parseNumber(ends[1], false, 32);
            if (!left || !right)
                return tl::make_unexpected(left ? right.error() : left.error());
            blocks.push_back({wire::SeqNum(static_cast<std::uint32_t>(*left)),
                              wire::SeqNum(static_cast<std::uint32_t>(*right))});
        }
        return wireOf(wire::TcpOption::sack(blocks));
    }
    case OptionType::Timestamps: {
        const QStringList parts =
            value.split(QRegularExpression(QStringLiteral("[,:;\\s]+")), Qt::SkipEmptyParts);
        if (parts.size() != 2)
            return tl::make_unexpected(QStringLiteral("two numbers, TSval TSecr (like 12345 0)"));
        auto tsval = parseNumber(parts[0], false, 32);
        auto tsecr = parseNumber(parts[1], false, 32);
        if (!tsval || !tsecr)
            return tl::make_unexpected(tsval ? tsecr.error() : tsval.error());
        return wireOf(wire::TcpOption::timestamps(static_cast<std::uint32_t>(*tsval),
                                                  static_cast<std::uint32_t>(*tsecr)));
    }
    case OptionType::Nop:
        return std::vector<std::uint8_t>{wire::tcp_option_kind::kNop};
    case OptionType::Eol:
        return std::vector<std::uint8_t>{wire::tcp_option_kind::kEol};
    case OptionType::Raw: {
        auto kind = parseNumber(kindText, false, 8);
        if (!kind)
            return tl::make_unexpected(QStringLiteral("kind %1").arg(kind.error()));
        auto data = wire::fromHex(value.toStdString());
        if (!data)
            return tl::make_unexpected(qs(data.error()));
        if (data->size() > wire::TcpOption::kMaxData)
            return tl::make_unexpected(QStringLiteral("%1 bytes of data, more than the %2 that fit")
                                           .arg(data->size())
                                           .arg(wire::TcpOption::kMaxData));
        if (*kind <= wire::tcp_option_kind::kNop && !data->empty())
            return tl::make_unexpected(QStringLiteral("kinds 0 and 1 are one byte, with no data"));
        return wireOf(wire::TcpOption::raw(static_cast<std::uint8_t>(*kind), *data));
    }
    case OptionType::Bytes: { // verbatim
        auto data = wire::fromHex(value.toStdString());
        if (!data)
            return tl::make_unexpected(qs(data.error()));
        return *data;
    }
    }
    return tl::make_unexpected(QStringLiteral("unknown option type"));
}

// --- Spec in, spec out --------------------------------------------------------------

void SegmentEditor::writeField(Field& f, const SegmentSpec& spec) {
    const FieldDescriptor& d = *f.d;
    if (!f.bits.empty()) {
        const std::uint64_t v = numberOf(spec, f.layer, d.id).value_or(0);
        for (std::size_t i = 0; i < f.bits.size(); ++i)
            f.bits[i]->setChecked((v & f.bitValues[i]) != 0);
        return;
    }
    if (d.format == FieldFormat::Mac || d.format == FieldFormat::Ipv4 ||
        d.format == FieldFormat::Ipv6) {
        f.edit->setText(addressOf(spec, f.layer, d.id));
        return;
    }
    const auto v = numberOf(spec, f.layer, d.id);
    if (f.isSeqAck()) {
        const std::optional<std::uint32_t> base = f.id() == QLatin1String("seq") ? m_iss : m_irs;
        auto shown = static_cast<std::uint32_t>(v.value_or(0));
        if (f.relBox->isChecked() && base)
            shown -= *base;
        f.edit->setText(QString::number(shown));
        return;
    }
    if (f.isDerived()) {
        f.autoBox->setChecked(!v);
        f.edit->setReadOnly(!v);
        f.edit->setFrame(v.has_value());
        if (v)
            f.edit->setText(formatNumber(d, *v));
        return;
    }
    f.edit->setText(formatNumber(d, v.value_or(0)));
}

void SegmentEditor::setSpec(const SegmentSpec& spec) {
    m_updating = true;
    m_base = spec;
    m_ipv4Box->setVisible(!spec.isIpv6());
    m_ipv6Box->setVisible(spec.isIpv6());
    for (auto& f : m_fields) {
        const QSignalBlocker blockAuto(f->autoBox);
        if ((f->layer == QLatin1String("ipv4") && spec.isIpv6()) ||
            (f->layer == QLatin1String("ipv6") && !spec.isIpv6()))
            continue;
        writeField(*f, spec);
    }

    m_options->setRowCount(0);
    m_optionTypes.clear();
    const wire::Bytes area = spec.tcp.options.bytes();
    std::size_t consumed = 0;
    for (const wire::TcpOption& o : spec.tcp.options) {
        consumed += o.wireSize();
        const auto add = [&](OptionType t, const QString& value) {
            addOptionRow(t, value, kOptionInfo[static_cast<std::size_t>(t)].kind);
        };
        std::size_t sackCount = 0;
        const auto blocks = o.sackBlocks(sackCount);
        if (auto mss = o.mssValue()) {
            add(OptionType::Mss, QString::number(*mss));
        } else if (auto ws = o.windowScaleValue()) {
            add(OptionType::WindowScale, QString::number(*ws));
        } else if (o.kind == wire::tcp_option_kind::kSackPermitted && o.data.empty()) {
            add(OptionType::SackPermitted, {});
        } else if (sackCount > 0) {
            QStringList parts;
            for (std::size_t i = 0; i < sackCount; ++i)
                parts << QStringLiteral("%1-%2")
                             .arg(blocks[i].left.value())
                             .arg(blocks[i].right.value());
            add(OptionType::Sack, parts.join(QStringLiteral(", ")));
        } else if (auto ts = o.timestampsValue()) {
            add(OptionType::Timestamps, QStringLiteral("%1 %2").arg(ts->first).arg(ts->second));
        } else if (o.kind == wire::tcp_option_kind::kNop) {
            add(OptionType::Nop, {});
        } else if (o.kind == wire::tcp_option_kind::kEol) {
            add(OptionType::Eol, {});
        } else {
            addOptionRow(OptionType::Raw, qs(wire::toHex(o.data.bytes())), o.kind);
        }
    }
    // Padding after EOL, or bytes that do not parse as options: kept as they are.
    if (consumed < area.size())
        addOptionRow(OptionType::Bytes, spacedHex(area.subspan(consumed)), -1);

    {
        const QSignalBlocker block(m_payloadHex);
        // Text when the payload reads as text, else hex.
        const bool printable = std::all_of(spec.payload.begin(), spec.payload.end(), [](auto b) {
            return (b >= 0x20 && b < 0x7f) || b == '\r' || b == '\n' || b == '\t';
        });
        m_payloadIsHex = !printable;
        m_payloadHex->setChecked(m_payloadIsHex);
        m_payload->setPlainText(m_payloadIsHex ? spacedHex(spec.payload)
                                               : qs(wire::escapeText(spec.payload)));
    }
    // The spec given wins over the suggestion: seq/ack that differ from it stop following.
    for (auto& f : m_fields) {
        if (!f->isSeqAck() || !m_suggestion)
            continue;
        const bool seq = f->id() == QLatin1String("seq");
        const wire::SeqNum given = seq ? spec.tcp.seq : spec.tcp.ack;
        const wire::SeqNum suggested = seq ? m_suggestion->tcp.seq : m_suggestion->tcp.ack;
        if (given != suggested) {
            const QSignalBlocker block(f->autoBox);
            f->autoBox->setChecked(false);
        }
    }
    m_updating = false;
    refresh();
}

SegmentSpec SegmentEditor::readForm(QStringList& errors, bool mark) {
    SegmentSpec s = m_base;
    for (auto& fp : m_fields) {
        Field& f = *fp;
        const FieldDescriptor& d = *f.d;
        if ((f.layer == QLatin1String("ipv4") && s.isIpv6()) ||
            (f.layer == QLatin1String("ipv6") && !s.isIpv6()))
            continue;
        QString error;
        if (!f.bits.empty()) {
            std::uint64_t v = 0;
            for (std::size_t i = 0; i < f.bits.size(); ++i)
                if (f.bits[i]->isChecked())
                    v |= f.bitValues[i];
            setNumber(s, f.layer, d.id, v);
        } else if (d.format == FieldFormat::Mac || d.format == FieldFormat::Ipv4 ||
                   d.format == FieldFormat::Ipv6) {
            error = setAddress(s, d.id, d.format, f.edit->text());
        } else if (f.isDerived() && f.autoBox->isChecked()) {
            setNumber(s, f.layer, d.id, std::nullopt);
        } else {
            auto v = parseNumber(f.edit->text(), d.format == FieldFormat::Hex, d.bitWidth);
            if (!v) {
                error = v.error();
            } else if (f.isSeqAck()) {
                const std::optional<std::uint32_t> base =
                    f.id() == QLatin1String("seq") ? m_iss : m_irs;
                auto abs = static_cast<std::uint32_t>(*v);
                // Relative numbers wrap like the sequence space (RFC 9293 §3.4).
                if (f.relBox->isChecked() && base)
                    abs += *base;
                setNumber(s, f.layer, d.id, abs);
            } else {
                setNumber(s, f.layer, d.id, *v);
            }
        }
        if (!error.isEmpty())
            errors << QStringLiteral("%1 %2: %3").arg(f.layerName, f.id(), error);
        if (mark && f.edit)
            markInvalid(f.edit, error, f.help);
    }

    // Options: each row's bytes, in order, verbatim.
    std::vector<std::uint8_t> area;
    for (int row = 0; row < m_options->rowCount(); ++row) {
        const OptionType type = m_optionTypes[static_cast<std::size_t>(row)];
        QTableWidgetItem* kindItem = m_options->item(row, 0);
        QTableWidgetItem* valueItem = m_options->item(row, 2);
        if (!kindItem || !valueItem)
            continue;
        auto bytes = optionBytes(type, kindItem->text(), valueItem->text());
        QString error;
        if (!bytes) {
            error = bytes.error();
            errors << QStringLiteral("TCP option %1 (%2): %3")
                          .arg(row + 1)
                          .arg(m_options->item(row, 1)->text(), error);
        } else {
            area.insert(area.end(), bytes->begin(), bytes->end());
        }
        if (mark) {
            const QString help =
                QString::fromUtf8(kOptionInfo[static_cast<std::size_t>(type)].help);
            for (QTableWidgetItem* item : {kindItem, valueItem}) {
                item->setData(Qt::BackgroundRole,
                              error.isEmpty()
                                  ? QVariant()
                                  : QVariant(QColor(kInvalidColor.red(), kInvalidColor.green(),
                                                    kInvalidColor.blue(), 90)));
                item->setToolTip(error.isEmpty() ? help : error);
            }
        }
    }
    QString optionsError;
    if (area.size() > wire::TcpOptionList::kCapacity)
        optionsError =
            tr("%1 bytes of options, more than the 40 a TCP header holds").arg(area.size());
    else
        s.tcp.options = wire::TcpOptionList::fromRawBytes(area);
    if (!optionsError.isEmpty())
        errors << QStringLiteral("TCP options: ") + optionsError;
    if (mark)
        markInvalid(m_options, optionsError,
                    tr("The options after the fixed header, in order "
                       "(at most 40 bytes)"));

    // Payload.
    const std::string text = m_payload->toPlainText().toStdString();
    auto payload = m_payloadIsHex ? wire::fromHex(text) : wire::unescapeText(text);
    QString payloadError;
    if (payload)
        s.payload = std::move(*payload);
    else
        payloadError = qs(payload.error());
    if (!payloadError.isEmpty())
        errors << QStringLiteral("Payload: ") + payloadError;
    if (mark)
        markInvalid(m_payload, payloadError, tr("The application data after the TCP header"));
    return s;
}

void SegmentEditor::refresh() {
    if (m_updating)
        return;
    m_updating = true;
    QStringList errors;
    SegmentSpec s = readForm(errors, true);
    m_spec.reset();
    m_frame.reset();
    if (errors.isEmpty()) {
        auto bytes = s.encode();
        if (!bytes) {
            errors << QStringLiteral("Payload: %1").arg(qs(wire::describe(bytes.error())));
            markInvalid(m_payload, errors.back(), {});
        } else {
            showComputed(*bytes, s);
            m_spec = std::move(s);
            m_frame = std::move(*bytes);
        }
    }
    m_errors = errors;
    m_errorLabel->setVisible(!errors.isEmpty());
    QStringList shown = errors.mid(0, 3);
    if (errors.size() > 3)
        shown << tr("… and %n more", nullptr, static_cast<int>(errors.size() - 3));
    m_errorLabel->setText(shown.join(QLatin1Char('\n')));
    m_updating = false;
    const bool valid = errors.isEmpty();
    if (valid != m_valid) {
        m_valid = valid;
        Q_EMIT validityChanged(valid);
    }
    Q_EMIT specChanged();
}

void SegmentEditor::showComputed(const std::vector<std::uint8_t>& frame, const SegmentSpec& spec) {
    for (auto& f : m_fields) {
        if (!f->isDerived() || !f->autoBox->isChecked() || !f->edit)
            continue;
        if ((f->layer == QLatin1String("ipv4") && spec.isIpv6()) ||
            (f->layer == QLatin1String("ipv6") && !spec.isIpv6()))
            continue;
        const std::size_t offset = layerOffset(spec, f->layer);
        if (offset + f->d->byteOffset() + f->d->byteLength() > frame.size())
            continue;
        f->edit->setText(formatNumber(*f->d, wire::readField(frame.data() + offset, *f->d)));
    }
}

tl::expected<SegmentSpec, QString> SegmentEditor::spec() const {
    if (!m_spec)
        return tl::make_unexpected(m_errors.isEmpty() ? tr("the segment cannot be encoded")
                                                      : m_errors.front());
    return *m_spec;
}

std::optional<std::vector<std::uint8_t>> SegmentEditor::frameBytes() const {
    return m_frame;
}

// --- Suggestions, bases, warnings, focus --------------------------------------------

void SegmentEditor::applySuggestion() {
    if (!m_suggestion)
        return;
    const bool was = m_updating;
    m_updating = true;
    for (auto& f : m_fields) {
        if (!f->isSeqAck() || !f->autoBox->isChecked())
            continue;
        const bool seq = f->id() == QLatin1String("seq");
        const std::optional<std::uint32_t> base = seq ? m_iss : m_irs;
        std::uint32_t v = (seq ? m_suggestion->tcp.seq : m_suggestion->tcp.ack).value();
        if (f->relBox->isChecked() && base)
            v -= *base;
        f->edit->setText(QString::number(v));
    }
    m_updating = was;
}

void SegmentEditor::setSuggestion(const SegmentSpec& suggestion, const QString& reason) {
    m_suggestion = suggestion;
    m_reason->setText(tr("Suggested: %1").arg(reason));
    m_reason->setVisible(!reason.isEmpty());
    applySuggestion();
    refresh();
}

void SegmentEditor::setRelativeBases(std::optional<std::uint32_t> iss,
                                     std::optional<std::uint32_t> irs) {
    // Keep the numbers, change how they are shown.
    std::vector<std::pair<Field*, std::optional<std::uint32_t>>> absolute;
    for (auto& f : m_fields) {
        if (!f->isSeqAck())
            continue;
        const std::optional<std::uint32_t> base = f->id() == QLatin1String("seq") ? m_iss : m_irs;
        auto shown = parseNumber(f->edit->text(), false, 32);
        std::optional<std::uint32_t> abs;
        if (shown)
            abs =
                static_cast<std::uint32_t>(*shown) + (f->relBox->isChecked() && base ? *base : 0u);
        absolute.emplace_back(f.get(), abs);
    }
    m_iss = iss;
    m_irs = irs;
    m_updating = true;
    for (auto& [f, abs] : absolute) {
        const std::optional<std::uint32_t> base = f->id() == QLatin1String("seq") ? m_iss : m_irs;
        {
            const QSignalBlocker block(f->relBox);
            f->relBox->setEnabled(base.has_value());
            if (!base)
                f->relBox->setChecked(false);
            else
                f->relBox->setToolTip(
                    f->id() == QLatin1String("seq")
                        ? tr("Show the sequence number relative to our ISS %1").arg(*base)
                        : tr("Show the acknowledgment relative to the peer's "
                             "IRS %1")
                              .arg(*base));
        }
        if (abs)
            f->edit->setText(QString::number(f->relBox->isChecked() && base ? *abs - *base : *abs));
    }
    m_updating = false;
    refresh();
}

void SegmentEditor::setWarnings(const QStringList& warnings) {
    QStringList lines;
    for (const QString& w : warnings)
        lines << QStringLiteral("⚠ ") + w;
    m_warnings->setText(lines.join(QLatin1Char('\n')));
    m_warnings->setVisible(!warnings.isEmpty());
}

void SegmentEditor::focusField(const QString& layerId, const QString& fieldId) {
    QWidget* target = layerId == QLatin1String("payload")
                          ? m_payload
                          : m_focusTargets.value(QStringLiteral("%1.%2").arg(layerId, fieldId));
    if (!target || !target->isVisibleTo(this))
        return;
    m_scroll->ensureWidgetVisible(target);
    target->setFocus(Qt::OtherFocusReason);
}

bool SegmentEditor::eventFilter(QObject* watched, QEvent* event) {
    if (event->type() == QEvent::FocusIn) {
        const QVariant layer = watched->property(kLayerProperty);
        if (layer.isValid())
            Q_EMIT fieldFocused(layer.toString(), watched->property(kFieldProperty).toString());
    }
    return QWidget::eventFilter(watched, event);
}

void SegmentEditor::setPayloadHex(bool hex) {
    if (hex == m_payloadIsHex)
        return;
    // Convert what is there when it parses; otherwise leave the text to be fixed.
    const std::string text = m_payload->toPlainText().toStdString();
    auto bytes = m_payloadIsHex ? wire::fromHex(text) : wire::unescapeText(text);
    m_payloadIsHex = hex;
    if (bytes) {
        m_updating = true;
        m_payload->setPlainText(hex ? spacedHex(*bytes) : qs(wire::escapeText(*bytes)));
        m_updating = false;
    }
    refresh();
}

} // namespace tcplab::ui
