#include "ui/hex_view.h"

#include "wire/frame.h"

#include <QFontDatabase>
#include <QKeyEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QScrollBar>

#include <algorithm>

namespace tcplab::ui {

namespace {

constexpr int kMarginPx = 4;
constexpr int kOffsetDigits = 4;
// Columns, in characters: "0000  xx xx xx xx xx xx xx xx  xx ... xx  ................"
constexpr int kHexStart = kOffsetDigits + 2;
constexpr int kAsciiStart = kHexStart + HexView::kBytesPerLine * 3 + 1 + 1;

QString qs(std::string_view s) {
    return QString::fromUtf8(s.data(), static_cast<qsizetype>(s.size()));
}

void addSpan(std::vector<FieldSpan>& map, const QString& layer, const QString& field,
             std::size_t first, std::size_t count, std::size_t frameSize,
             const wire::FieldDescriptor* descriptor) {
    if (first >= frameSize || count == 0)
        return;
    count = std::min(count, frameSize - first);
    FieldSpan span{layer, field, static_cast<int>(first), static_cast<int>(count), {}};
    span.masks.reserve(count);
    for (std::size_t i = 0; i < count; ++i)
        span.masks.push_back(descriptor ? descriptor->byteMask(i) : std::uint8_t{0xff});
    map.push_back(std::move(span));
}

} // namespace

std::vector<FieldSpan> mapFrameFields(std::span<const std::uint8_t> bytes) {
    std::vector<FieldSpan> map;
    const wire::Frame frame = wire::decodeFrame(bytes);
    const std::size_t size = bytes.size();
    for (const wire::LayerRange& range : frame.layers()) {
        const wire::ProtocolDescriptor& p = *range.protocol;
        const QString layer = qs(p.id);
        for (const wire::FieldDescriptor& f : p.fields)
            addSpan(map, layer, qs(f.id), range.offset + f.byteOffset(), f.byteLength(), size, &f);
        // The variable part after the fixed header: IPv4 and TCP options.
        if (range.length > p.fixedHeaderLength)
            addSpan(map, layer, QStringLiteral("options"), range.offset + p.fixedHeaderLength,
                    range.length - p.fixedHeaderLength, size, nullptr);
    }
    addSpan(map, QStringLiteral("payload"), QStringLiteral("data"), frame.payloadOffset,
            frame.payloadLength, size, nullptr);
    return map;
}

HexView::HexView(QWidget* parent)
    : QAbstractScrollArea(parent) {
    setObjectName(QStringLiteral("hexView"));
    setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    setFocusPolicy(Qt::StrongFocus);
    viewport()->setBackgroundRole(QPalette::Base);
    viewport()->setAutoFillBackground(true);
    viewport()->setCursor(Qt::IBeamCursor);
    setHorizontalScrollBarPolicy(Qt::ScrollBarAsNeeded);
    setVerticalScrollBarPolicy(Qt::ScrollBarAsNeeded);
    updateScrollBars();
}

void HexView::setFrame(std::span<const std::uint8_t> frame) {
    m_frame.assign(frame.begin(), frame.end());
    m_map = mapFrameFields(m_frame);
    if (m_cursor >= static_cast<int>(m_frame.size()))
        m_cursor = m_frame.empty() ? -1 : static_cast<int>(m_frame.size()) - 1;
    m_mark = -1;
    for (std::size_t i = 0; i < m_map.size() && !m_markLayer.isEmpty(); ++i)
        if (m_map[i].layer == m_markLayer && m_map[i].field == m_markField) {
            m_mark = static_cast<int>(i);
            break;
        }
    updateScrollBars();
    viewport()->update();
}

void HexView::highlightField(const QString& layer, const QString& field) {
    m_markLayer = layer;
    m_markField = field;
    m_mark = -1;
    for (std::size_t i = 0; i < m_map.size(); ++i)
        if (m_map[i].layer == layer && m_map[i].field == field) {
            m_mark = static_cast<int>(i);
            break;
        }
    if (m_mark >= 0) {
        const FieldSpan& span = m_map[static_cast<std::size_t>(m_mark)];
        scrollToByte(span.first + span.count - 1);
        scrollToByte(span.first);
    }
    viewport()->update();
}

void HexView::clearHighlight() {
    m_markLayer.clear();
    m_markField.clear();
    m_mark = -1;
    viewport()->update();
}

QPair<int, int> HexView::highlightedRange() const {
    if (m_mark < 0)
        return {-1, 0};
    const FieldSpan& span = m_map[static_cast<std::size_t>(m_mark)];
    return {span.first, span.count};
}

int HexView::lineCount() const noexcept {
    return static_cast<int>((m_frame.size() + kBytesPerLine - 1) / kBytesPerLine);
}

int HexView::charWidth() const {
    return std::max(1, fontMetrics().horizontalAdvance(QLatin1Char('0')));
}

int HexView::lineHeight() const {
    return fontMetrics().height() + 2;
}

int HexView::hexColumn(int byteInLine) const noexcept {
    // One extra space between the two groups of eight, as in hexdump -C.
    return kHexStart + byteInLine * 3 + (byteInLine >= kBytesPerLine / 2 ? 1 : 0);
}

int HexView::asciiColumn(int byteInLine) const noexcept {
    return kAsciiStart + byteInLine;
}

int HexView::totalColumns() const noexcept {
    return kAsciiStart + kBytesPerLine;
}

QRect HexView::cellRect(int index, int column, int chars) const {
    const int line = index / kBytesPerLine;
    const int x = kMarginPx + column * charWidth() - horizontalScrollBar()->value();
    const int y = kMarginPx + (line - verticalScrollBar()->value()) * lineHeight();
    return {x, y, chars * charWidth(), lineHeight()};
}

QRect HexView::byteRect(int index) const {
    if (index < 0 || index >= static_cast<int>(m_frame.size()))
        return {};
    return cellRect(index, hexColumn(index % kBytesPerLine), 2);
}

int HexView::byteAt(const QPoint& pos, bool* lowNibble) const {
    if (m_frame.empty())
        return -1;
    const int cw = charWidth();
    const int y = pos.y() - kMarginPx;
    const int x = pos.x() - kMarginPx + horizontalScrollBar()->value();
    if (y < 0 || x < 0)
        return -1;
    const int line = y / lineHeight() + verticalScrollBar()->value();
    const int column = x / cw;
    int inLine = -1;
    bool low = false;
    if (column >= kAsciiStart && column < kAsciiStart + kBytesPerLine) {
        inLine = column - kAsciiStart;
    } else {
        for (int b = 0; b < kBytesPerLine; ++b) {
            const int c = hexColumn(b);
            if (column == c || column == c + 1) {
                inLine = b;
                low = column == c + 1;
                break;
            }
        }
    }
    if (inLine < 0)
        return -1;
    const long long index = static_cast<long long>(line) * kBytesPerLine + inLine;
    if (index < 0 || index >= static_cast<long long>(m_frame.size()))
        return -1;
    if (lowNibble)
        *lowNibble = low;
    return static_cast<int>(index);
}

const FieldSpan* HexView::fieldAt(int index, bool lowNibble) const {
    // Several fields share a byte (data offset and reserved bits, IPv4 flags and fragment
    // offset): the hex digit clicked says which half of the byte the user means.
    const std::uint8_t nibble = lowNibble ? 0x0f : 0xf0;
    const FieldSpan* any = nullptr;
    for (const FieldSpan& span : m_map) {
        if (index < span.first || index >= span.first + span.count)
            continue;
        const std::uint8_t mask = span.masks[static_cast<std::size_t>(index - span.first)];
        if (mask & nibble)
            return &span;
        if (!any)
            any = &span;
    }
    return any;
}

QSize HexView::sizeHint() const {
    const int width = 2 * kMarginPx + totalColumns() * charWidth() +
                      verticalScrollBar()->sizeHint().width() + 2 * frameWidth();
    const int lines = std::clamp(lineCount(), 4, 12);
    return {width, 2 * kMarginPx + lines * lineHeight() + 2 * frameWidth()};
}

QSize HexView::minimumSizeHint() const {
    return {20 * charWidth(), 3 * lineHeight()};
}

void HexView::updateScrollBars() {
    const int visibleLines = std::max(1, (viewport()->height() - 2 * kMarginPx) / lineHeight());
    verticalScrollBar()->setRange(0, std::max(0, lineCount() - visibleLines));
    verticalScrollBar()->setPageStep(visibleLines);
    verticalScrollBar()->setSingleStep(1);
    const int contentWidth = 2 * kMarginPx + totalColumns() * charWidth();
    horizontalScrollBar()->setRange(0, std::max(0, contentWidth - viewport()->width()));
    horizontalScrollBar()->setPageStep(viewport()->width());
    horizontalScrollBar()->setSingleStep(charWidth());
}

void HexView::scrollToByte(int index) {
    if (index < 0 || index >= static_cast<int>(m_frame.size()))
        return;
    const int line = index / kBytesPerLine;
    const int visibleLines = std::max(1, (viewport()->height() - 2 * kMarginPx) / lineHeight());
    QScrollBar* bar = verticalScrollBar();
    if (line < bar->value())
        bar->setValue(line);
    else if (line >= bar->value() + visibleLines)
        bar->setValue(line - visibleLines + 1);
}

void HexView::moveCursorTo(int index, bool lowNibble) {
    if (index < 0 || index >= static_cast<int>(m_frame.size()))
        return;
    m_cursor = index;
    scrollToByte(index);
    viewport()->update();
    if (const FieldSpan* span = fieldAt(index, lowNibble))
        Q_EMIT fieldActivated(span->layer, span->field);
}

void HexView::paintEvent(QPaintEvent*) {
    QPainter painter(viewport());
    const QPalette& pal = palette();
    painter.setFont(font());
    const int cw = charWidth();
    const int lh = lineHeight();
    const int ascent = fontMetrics().ascent() + 1;
    const int firstLine = verticalScrollBar()->value();
    const int visible = viewport()->height() / lh + 2;
    const int lastLine = std::min(lineCount(), firstLine + visible);

    // The marked field's bytes: which halves of each byte it covers.
    const FieldSpan* mark = m_mark >= 0 ? &m_map[static_cast<std::size_t>(m_mark)] : nullptr;
    const auto markMask = [&](int index) -> std::uint8_t {
        if (!mark || index < mark->first || index >= mark->first + mark->count)
            return 0;
        return mark->masks[static_cast<std::size_t>(index - mark->first)];
    };

    const QColor dim = pal.color(QPalette::PlaceholderText);
    for (int line = firstLine; line < lastLine; ++line) {
        const int first = line * kBytesPerLine;
        const QRect offsetRect = cellRect(first, 0, kOffsetDigits);
        painter.setPen(dim);
        painter.drawText(offsetRect.x(), offsetRect.y() + ascent,
                         QStringLiteral("%1").arg(first, kOffsetDigits, 16, QLatin1Char('0')));
        for (int b = 0; b < kBytesPerLine; ++b) {
            const int index = first + b;
            if (index >= static_cast<int>(m_frame.size()))
                break;
            const std::uint8_t value = m_frame[static_cast<std::size_t>(index)];
            const std::uint8_t mask = markMask(index);
            const QString digits = QStringLiteral("%1").arg(value, 2, 16, QLatin1Char('0'));
            const QRect hex = cellRect(index, hexColumn(b), 2);
            // A field of a few bits marks only the hex digit that holds them.
            const bool high = (mask & 0xf0) != 0;
            const bool low = (mask & 0x0f) != 0;
            if (high || low) {
                QRect band = hex;
                if (!high)
                    band.setLeft(hex.left() + cw);
                if (!low)
                    band.setRight(hex.left() + cw - 1);
                // Join neighbours into one band, as a selection looks.
                if (low && (markMask(index + 1) & 0xf0) && b + 1 < kBytesPerLine)
                    band.setRight(cellRect(index + 1, hexColumn(b + 1), 2).left() - 1);
                painter.fillRect(band, pal.color(QPalette::Highlight));
                painter.fillRect(cellRect(index, asciiColumn(b), 1),
                                 pal.color(QPalette::Highlight));
            }
            for (int d = 0; d < 2; ++d) {
                const bool marked = d == 0 ? high : low;
                painter.setPen(pal.color(marked ? QPalette::HighlightedText : QPalette::Text));
                painter.drawText(hex.x() + d * cw, hex.y() + ascent, digits.mid(d, 1));
            }
            const QChar c = (value >= 0x20 && value < 0x7f) ? QChar(value) : QLatin1Char('.');
            const QRect ascii = cellRect(index, asciiColumn(b), 1);
            painter.setPen(
                mask ? pal.color(QPalette::HighlightedText)
                     : (c == QLatin1Char('.') && value != '.' ? dim : pal.color(QPalette::Text)));
            painter.drawText(ascii.x(), ascii.y() + ascent, QString(c));
            if (index == m_cursor) {
                // The user's cursor: an outline, apart from the program's mark.
                painter.setPen(QPen(pal.color(hasFocus() ? QPalette::Text : QPalette::Mid), 1));
                painter.drawRect(hex.adjusted(-1, 0, 0, -1));
                painter.drawRect(ascii.adjusted(0, 0, -1, -1));
            }
        }
    }
    if (m_frame.empty()) {
        painter.setPen(dim);
        painter.drawText(viewport()->rect().adjusted(kMarginPx, kMarginPx, 0, 0),
                         Qt::AlignLeft | Qt::AlignTop, tr("(no frame)"));
    }
}

void HexView::mousePressEvent(QMouseEvent* event) {
    bool low = false;
    const int index = byteAt(event->position().toPoint(), &low);
    if (index >= 0)
        moveCursorTo(index, low);
    setFocus(Qt::MouseFocusReason);
    event->accept();
}

void HexView::keyPressEvent(QKeyEvent* event) {
    if (m_frame.empty())
        return QAbstractScrollArea::keyPressEvent(event);
    const int last = static_cast<int>(m_frame.size()) - 1;
    const int at = std::max(m_cursor, 0);
    int to = -1;
    switch (event->key()) {
    case Qt::Key_Left:
        to = at - 1;
        break;
    case Qt::Key_Right:
        to = m_cursor < 0 ? 0 : at + 1;
        break;
    case Qt::Key_Up:
        to = at - kBytesPerLine;
        break;
    case Qt::Key_Down:
        to = m_cursor < 0 ? 0 : at + kBytesPerLine;
        break;
    case Qt::Key_Home:
        to = 0;
        break;
    case Qt::Key_End:
        to = last;
        break;
    default:
        return QAbstractScrollArea::keyPressEvent(event);
    }
    if (to >= 0 && to <= last)
        moveCursorTo(to, false);
    event->accept();
}

void HexView::resizeEvent(QResizeEvent* event) {
    QAbstractScrollArea::resizeEvent(event);
    updateScrollBars();
}

void HexView::changeEvent(QEvent* event) {
    QAbstractScrollArea::changeEvent(event);
    if (event->type() == QEvent::FontChange) {
        updateScrollBars();
        updateGeometry();
    }
}

} // namespace tcplab::ui
