#pragma once

#include <QAbstractScrollArea>
#include <QPair>
#include <QString>

#include <cstdint>
#include <span>
#include <vector>

namespace tcplab::ui {

/// Where one field of a decoded frame sits: its bytes and, per byte, the bits it uses
/// (from the protocol's FieldDescriptor table, so a 4-bit data offset marks half a byte).
struct FieldSpan {
    QString layer; ///< the protocol id: "ethernet", "ipv4", "ipv6", "tcp", "payload"
    QString field; ///< the descriptor id ("ack"), "options" or "data" (the payload)
    int first = 0; ///< byte index in the frame
    int count = 0; ///< bytes (clipped to the frame)
    std::vector<std::uint8_t> masks; ///< one per byte: the bits of that byte the field uses
};

/// Every field of every decoded layer of `frame`, plus the IPv4/TCP options
/// ("ipv4"/"tcp", "options") and the payload ("payload", "data"), in frame order.
/// A short or broken frame maps what decoded; the rest is payload. Never fails.
std::vector<FieldSpan> mapFrameFields(std::span<const std::uint8_t> frame);

/// The bytes of one frame as offset / 16 hex bytes / ASCII lines, in the application's
/// fixed font and palette. Program marks (highlightField, from the editor) are kept
/// apart from the user's cursor (click or arrow keys), which reports the field under it
/// through fieldActivated. Painting reads state only; the map is rebuilt in setFrame.
class HexView : public QAbstractScrollArea {
    Q_OBJECT
public:
    static constexpr int kBytesPerLine = 16;

    explicit HexView(QWidget* parent = nullptr);

    /// Shows `frame` (copied). The highlighted field, if any, is looked up again in the
    /// new frame, so an edit that moves it (options grew) keeps it marked.
    void setFrame(std::span<const std::uint8_t> frame);
    void setFrame(const std::vector<std::uint8_t>& frame) { setFrame(std::span(frame)); }
    const std::vector<std::uint8_t>& frame() const noexcept { return m_frame; }
    const std::vector<FieldSpan>& fieldMap() const noexcept { return m_map; }

    /// Marks the bytes of `layer`.`field` with the palette's highlight and scrolls them
    /// into view; unknown fields clear the mark. Emits nothing.
    void highlightField(const QString& layer, const QString& field);
    void clearHighlight();
    /// First byte and byte count of the marked field; (-1, 0) when nothing is marked.
    QPair<int, int> highlightedRange() const;

    /// The byte under the user's cursor, -1 when none.
    int cursorByte() const noexcept { return m_cursor; }
    /// Rectangle of byte `index`'s two hex digits in viewport() coordinates (empty when
    /// out of range): tests click at its centre.
    QRect byteRect(int index) const;
    /// Byte under `viewportPos` (hex digits or ASCII column), -1 when none. `lowNibble`,
    /// when given, says whether the point is on the second hex digit.
    int byteAt(const QPoint& viewportPos, bool* lowNibble = nullptr) const;
    /// The field a click on `index` selects; nullptr when no field covers it.
    const FieldSpan* fieldAt(int index, bool lowNibble = false) const;

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

Q_SIGNALS:
    /// The user put the cursor on a byte of `layer`.`field` (click or arrow keys).
    void fieldActivated(const QString& layer, const QString& field);

protected:
    void paintEvent(QPaintEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    void keyPressEvent(QKeyEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;
    void changeEvent(QEvent* event) override;

private:
    int lineCount() const noexcept;
    int charWidth() const;
    int lineHeight() const;
    int hexColumn(int byteInLine) const noexcept;
    int asciiColumn(int byteInLine) const noexcept;
    int totalColumns() const noexcept;
    QRect cellRect(int index, int column, int chars) const;
    void updateScrollBars();
    void scrollToByte(int index);
    void moveCursorTo(int index, bool lowNibble);

    std::vector<std::uint8_t> m_frame;
    std::vector<FieldSpan> m_map;
    QString m_markLayer;
    QString m_markField;
    int m_mark = -1; ///< index into m_map of the marked field
    int m_cursor = -1;
};

} // namespace tcplab::ui
