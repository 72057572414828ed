#pragma once

#include "wire/segment_spec.h"

#include <QHash>
#include <QStringList>
#include <QWidget>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <tl/expected.hpp>

class QCheckBox;
class QGroupBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QScrollArea;
class QTableWidget;

namespace tcplab::ui {

/// The form that edits one Ethernet/IPv4|IPv6/TCP segment, built from the protocols'
/// FieldDescriptor tables: a section per layer, a line edit per numeric or address
/// field, check boxes for flags, an "auto" box beside each derived field (lengths,
/// data offset, checksums: computed from the encoded frame unless overridden), seq/ack
/// with relative display and "follow the suggestion", the TCP options as an editable
/// list, the payload as text (C escapes) or hex.
///
/// Every field widget is named "<layer>.<field id>" ("tcp.ack", "tcp.flags.S",
/// "ipv4.ttl", "tcp.seq.auto", "tcp.options", "payload.data"). A bad entry is framed
/// in red with its reason in the tooltip and listed by errors(); while any exists,
/// spec() and frameBytes() refuse and canFire() is false. No text crashes the form.
class SegmentEditor : public QWidget {
    Q_OBJECT
public:
    explicit SegmentEditor(QWidget* parent = nullptr);
    ~SegmentEditor() override;

    /// Replaces the form's content (the family shown follows the spec). Fields the form
    /// does not show (IPv4 options) are carried over verbatim.
    void setSpec(const wire::SegmentSpec& spec);
    /// The segment as the form holds it; the error names the first bad field.
    tl::expected<wire::SegmentSpec, QString> spec() const;
    /// The encoded frame; nullopt while a field is invalid or the frame cannot encode.
    std::optional<std::vector<std::uint8_t>> frameBytes() const;
    /// "TCP ack: 4294967296 is more than 32 bits can hold", in form order.
    QStringList errors() const { return m_errors; }
    bool isValid() const noexcept { return m_errors.isEmpty(); }
    /// What Fire checks: a valid form.
    bool canFire() const noexcept { return isValid(); }

    /// The next segment a correct TCP would send, and why. While "tcp.seq.auto" /
    /// "tcp.ack.auto" are ticked, seq / ack follow it; the reason is shown.
    void setSuggestion(const wire::SegmentSpec& suggestion, const QString& reason);
    /// Bases of the relative display: seq relative to `iss` (ours), ack relative to
    /// `irs` (the peer's). Without a base the field shows absolute numbers.
    void setRelativeBases(std::optional<std::uint32_t> iss, std::optional<std::uint32_t> irs);
    /// The tutor's warnings for this segment, shown in a banner above the form.
    void setWarnings(const QStringList& warnings);
    /// Scrolls to the widget of `layerId`.`fieldId` and gives it the focus (the hex
    /// view's reverse link). Unknown names are ignored.
    void focusField(const QString& layerId, const QString& fieldId);

Q_SIGNALS:
    /// Any edit (valid or not); frameBytes() tells whether there is a frame.
    void specChanged();
    void validityChanged(bool valid);
    /// A field widget got the focus: the hex view highlights its bytes.
    void fieldFocused(const QString& layerId, const QString& fieldId);

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    struct Field;
    enum class OptionType : std::uint8_t;

    QGroupBox* buildLayer(const wire::ProtocolDescriptor& protocol);
    QGroupBox* buildOptions();
    QGroupBox* buildPayload();
    void addOptionRow(OptionType type, const QString& value, int kind, int at = -1);
    /// The wire bytes of one option row, or why they cannot be built.
    static tl::expected<std::vector<std::uint8_t>, QString>
    optionBytes(OptionType type, const QString& kindText, const QString& value);
    void moveOption(int delta);
    void watch(QWidget* widget, const QString& layer, const QString& field);

    /// Reads the form into a spec; fills `errors` (and the fields' marks when `mark`).
    wire::SegmentSpec readForm(QStringList& errors, bool mark);
    void writeField(Field& f, const wire::SegmentSpec& spec);
    void refresh();
    void showComputed(const std::vector<std::uint8_t>& frame, const wire::SegmentSpec& spec);
    void applySuggestion();
    void setPayloadHex(bool hex);

    std::vector<std::unique_ptr<Field>> m_fields;
    QHash<QString, QWidget*> m_focusTargets;
    wire::SegmentSpec m_base; ///< what setSpec gave: carries what the form does not show
    std::optional<wire::SegmentSpec> m_spec;
    std::optional<std::vector<std::uint8_t>> m_frame;
    QStringList m_errors;
    bool m_valid = true;
    bool m_updating = false;

    std::optional<wire::SegmentSpec> m_suggestion;
    std::optional<std::uint32_t> m_iss;
    std::optional<std::uint32_t> m_irs;

    QLabel* m_warnings = nullptr;
    QLabel* m_errorLabel = nullptr;
    QLabel* m_reason = nullptr;
    QScrollArea* m_scroll = nullptr;
    QGroupBox* m_ipv4Box = nullptr;
    QGroupBox* m_ipv6Box = nullptr;
    QTableWidget* m_options = nullptr;
    std::vector<OptionType> m_optionTypes;
    QPlainTextEdit* m_payload = nullptr;
    QCheckBox* m_payloadHex = nullptr;
    bool m_payloadIsHex = false;
};

} // namespace tcplab::ui
