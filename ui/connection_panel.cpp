#include "ui/connection_panel.h"

#include <QFontDatabase>
#include <QGridLayout>
#include <QLabel>

namespace tcplab::ui {

namespace {

/// The rows of the panel, top to bottom. `sequence`: a sequence number, shown relative
/// and absolute; the others span both columns.
struct RowDef {
    const char* id;
    const char* label;
    bool sequence;
    const char* tip;
};
constexpr RowDef kRows[] = {
    {"state", "state", false,
     "The end's state as inferred from the segments seen (RFC 9293 §3.3.2)."},
    {"iss", "ISS", true, "Initial send sequence number: the sequence number of its SYN."},
    {"irs", "IRS", true, "Initial receive sequence number: the other end's ISS."},
    {"snd_una", "SND.UNA", true, "Oldest sequence number it sent that is not acknowledged yet."},
    {"snd_nxt", "SND.NXT", true, "Next sequence number it will send (the highest sent + 1)."},
    {"snd_wnd", "SND.WND", false, "The other end's window, as this end applies it (scaled)."},
    {"rcv_nxt", "RCV.NXT", true, "Next sequence number it expects from the other end."},
    {"rcv_wnd", "RCV.WND", false, "What remains of the window it advertised, beyond RCV.NXT."},
    {"mss", "MSS", false, "The MSS option of its SYN (the most it wants to receive per segment)."},
    {"wscale", "window scale", false, "The window scale option of its SYN (RFC 7323 §2)."},
    {"sack", "SACK permitted", false, "SACK-permitted on its SYN (RFC 2018); in use when on both."},
    {"timestamps", "timestamps", false, "Its latest TSval and TSecr (RFC 7323 §3)."},
    {"segments", "segments sent", false, "Segments seen from this end."},
};
constexpr std::size_t kRowCount = std::size(kRows);
constexpr const char* kEndNames[2] = {"phantom", "peer"};

QString latin(const char* s) {
    return QString::fromLatin1(s);
}

QString fromStd(std::string_view s) {
    return QString::fromUtf8(s.data(), qsizetype(s.size()));
}

/// `n` - `base` modulo 2^32: the number as the ladder shows it.
QString relative(wire::SeqNum n, wire::SeqNum base) {
    return QString::number(std::uint32_t(n.value() - base.value()));
}

QString windowText(std::uint32_t w) {
    return QString::number(w);
}

} // namespace

ConnectionPanel::ConnectionPanel(QWidget* parent)
    : QWidget(parent) {
    setObjectName(QStringLiteral("connectionPanel"));
    auto* grid = new QGridLayout(this);
    grid->setHorizontalSpacing(14);
    grid->setVerticalSpacing(3);
    const QFont fixed = QFontDatabase::systemFont(QFontDatabase::FixedFont);
    QFont bold = font();
    bold.setBold(true);

    m_summary = new QLabel(this);
    m_summary->setObjectName(QStringLiteral("summary"));
    m_summary->setWordWrap(true);
    grid->addWidget(m_summary, 0, 0, 1, 5);

    auto* variable = new QLabel(QStringLiteral("variable"), this);
    variable->setFont(bold);
    grid->addWidget(variable, 1, 0, Qt::AlignBottom);
    for (std::size_t e = 0; e < 2; ++e) {
        Cells& cells = m_cells[e];
        const int column = 1 + int(e) * 2;
        cells.endpoint = new QLabel(this);
        cells.endpoint->setObjectName(QStringLiteral("endpoint.%1").arg(latin(kEndNames[e])));
        cells.endpoint->setFont(bold);
        grid->addWidget(cells.endpoint, 1, column, 1, 2);
        for (int k = 0; k < 2; ++k) {
            auto* caption =
                new QLabel(k == 0 ? QStringLiteral("relative") : QStringLiteral("absolute"), this);
            caption->setForegroundRole(QPalette::PlaceholderText);
            grid->addWidget(caption, 2, column + k, Qt::AlignRight);
        }
        for (std::size_t r = 0; r < kRowCount; ++r) {
            const QString name =
                QStringLiteral("%1.%2").arg(latin(kEndNames[e]), latin(kRows[r].id));
            auto* rel = new QLabel(this);
            rel->setObjectName(name);
            rel->setTextInteractionFlags(Qt::TextSelectableByMouse);
            rel->setToolTip(latin(kRows[r].tip));
            QLabel* abs = nullptr;
            if (kRows[r].sequence) {
                rel->setFont(fixed);
                rel->setAlignment(Qt::AlignRight | Qt::AlignVCenter);
                grid->addWidget(rel, 3 + int(r), column);
                abs = new QLabel(this);
                abs->setObjectName(name + QStringLiteral(".abs"));
                abs->setFont(fixed);
                abs->setAlignment(Qt::AlignRight | Qt::AlignVCenter);
                abs->setTextInteractionFlags(Qt::TextSelectableByMouse);
                abs->setToolTip(latin(kRows[r].tip));
                grid->addWidget(abs, 3 + int(r), column + 1);
            } else {
                grid->addWidget(rel, 3 + int(r), column, 1, 2);
            }
            cells.relative.push_back(rel);
            cells.absolute.push_back(abs);
        }
    }
    for (std::size_t r = 0; r < kRowCount; ++r) {
        auto* label = new QLabel(latin(kRows[r].label), this);
        label->setToolTip(latin(kRows[r].tip));
        grid->addWidget(label, 3 + int(r), 0);
    }
    grid->setColumnStretch(5, 1);
    grid->setRowStretch(3 + int(kRowCount), 1);
    clear();
}

void ConnectionPanel::setText(QLabel* label, const QString& text) {
    if (!label)
        return;
    // Bold marks what the latest segment changed.
    const bool changed =
        label->text() != text && !label->text().isEmpty() && label->text() != QStringLiteral("–");
    QFont f = label->font();
    f.setBold(changed);
    label->setFont(f);
    label->setText(text);
}

void ConnectionPanel::clear() {
    m_summary->setText(QStringLiteral("No connection yet."));
    for (Cells& cells : m_cells) {
        cells.endpoint->setText({});
        for (std::size_t r = 0; r < kRowCount; ++r) {
            QFont f = cells.relative[r]->font();
            f.setBold(false);
            cells.relative[r]->setFont(f);
            cells.relative[r]->setText(QStringLiteral("–"));
            if (cells.absolute[r]) {
                cells.absolute[r]->setFont(f);
                cells.absolute[r]->setText(QStringLiteral("–"));
            }
        }
    }
    m_cells[0].endpoint->setText(QStringLiteral("phantom"));
    m_cells[1].endpoint->setText(QStringLiteral("peer"));
}

void ConnectionPanel::setConnection(const tcp::Connection* connection, const tcp::Endpoint& local) {
    if (!connection) {
        clear();
        return;
    }
    const tcp::Connection& c = *connection;
    const std::uint8_t phantom = c.endOf(local).value_or(c.localEnd());
    const auto peer = static_cast<std::uint8_t>(1 - phantom);
    fillEnd(m_cells[0], c, phantom);
    fillEnd(m_cells[1], c, peer);

    QStringList facts;
    facts << QStringLiteral("%1 segments").arg(c.segmentCount());
    facts << (c.handshakeSeen() ? QStringLiteral("handshake seen")
                                : QStringLiteral("handshake not seen: options unknown"));
    if (c.handshakeSeen()) {
        facts << (c.windowScaling() ? QStringLiteral("window scaling on")
                                    : QStringLiteral("no window scaling"));
        facts << (c.sackPermitted() ? QStringLiteral("SACK on") : QStringLiteral("no SACK"));
        facts << (c.timestamps() ? QStringLiteral("timestamps on")
                                 : QStringLiteral("no timestamps"));
    }
    m_summary->setText(facts.join(QStringLiteral(" · ")));
}

void ConnectionPanel::fillEnd(Cells& cells, const tcp::Connection& c, std::uint8_t index) {
    const tcp::EndState& e = c.end(index);
    const bool isPhantom = &cells == &m_cells[0];
    cells.endpoint->setText(
        QStringLiteral("%1  %2").arg(isPhantom ? QStringLiteral("phantom") : QStringLiteral("peer"),
                                     QString::fromStdString(e.endpoint.toString())));

    const QString unknown = QStringLiteral("?");
    for (std::size_t r = 0; r < kRowCount; ++r) {
        const std::string_view id = kRows[r].id;
        QString rel;
        QString abs;
        if (id == "state") {
            rel = fromStd(tcp::stateName(e.state));
            if (!e.known)
                rel += QStringLiteral(" (nothing seen)");
            cells.relative[r]->setToolTip(
                e.stateSince > 0
                    ? QStringLiteral("Since segment %1 of the connection.").arg(e.stateSince)
                    : latin(kRows[r].tip));
        } else if (id == "iss") {
            rel = e.issKnown ? QStringLiteral("0") : unknown;
            abs = e.issKnown ? QString::number(e.iss.value()) : unknown;
            if (e.issKnown && e.issInferred)
                abs += QStringLiteral(" (inferred)");
        } else if (id == "irs") {
            rel = e.irsKnown ? QStringLiteral("0") : unknown;
            abs = e.irsKnown ? QString::number(e.irs.value()) : unknown;
        } else if (id == "snd_una" || id == "snd_nxt") {
            const wire::SeqNum n = id == "snd_una" ? e.sndUna : e.sndNxt;
            rel = e.issKnown ? relative(n, e.iss) : unknown;
            abs = e.issKnown ? QString::number(n.value()) : unknown;
        } else if (id == "rcv_nxt") {
            rel = e.irsKnown ? relative(e.rcvNxt, e.irs) : unknown;
            abs = e.irsKnown ? QString::number(e.rcvNxt.value()) : unknown;
        } else if (id == "snd_wnd") {
            rel = e.sndWndKnown ? windowText(e.sndWnd) : unknown;
        } else if (id == "rcv_wnd") {
            const std::uint32_t w = e.rcvWnd();
            rel = (e.rcvEdgeKnown && w != tcp::EndState::kUnknownWindow) ? windowText(w) : unknown;
        } else if (id == "mss") {
            rel = e.mss ? QString::number(*e.mss)
                        : (e.synSeen ? QStringLiteral("none (%1 assumed)")
                                           .arg(c.sendMss(static_cast<std::uint8_t>(1 - index)))
                                     : unknown);
        } else if (id == "wscale") {
            if (e.windowScale)
                rel = QStringLiteral("%1 (×%2)%3")
                          .arg(*e.windowScale)
                          .arg(1u << std::min<unsigned>(*e.windowScale, 14))
                          .arg(c.windowScaling() ? QString() : QStringLiteral(", not in force"));
            else
                rel = e.synSeen ? QStringLiteral("none") : unknown;
        } else if (id == "sack") {
            rel = !e.synSeen ? unknown
                  : e.sackPermitted
                      ? (c.sackPermitted() ? QStringLiteral("yes, in use") : QStringLiteral("yes"))
                      : QStringLiteral("no");
        } else if (id == "timestamps") {
            if (e.tsVal)
                rel = QStringLiteral("TSval %1, TSecr %2")
                          .arg(*e.tsVal)
                          .arg(e.tsEcr ? QString::number(*e.tsEcr) : unknown);
            else
                rel = e.synSeen ? QStringLiteral("no") : unknown;
        } else if (id == "segments") {
            rel = QString::number(e.segments);
        }
        setText(cells.relative[r], rel);
        setText(cells.absolute[r], abs);
    }
}

QString ConnectionPanel::value(const QString& name) const {
    const auto* label = findChild<QLabel*>(name);
    return label ? label->text() : QString();
}

} // namespace tcplab::ui
