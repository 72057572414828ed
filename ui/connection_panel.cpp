#include "ui/connection_panel.h"

#include "peer/tcp_info.h"
#include "ui/palette.h"

#include <QEvent>
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

/// The peer kernel's column: a tcp_info field per row. The first rows sit beside the
/// tracker's row of the same meaning (`besideRow`, an id of kRows); the others, which the
/// wire does not show, below the tracker's rows.
struct KernelRowDef {
    const char* id; ///< the cell is "peer.kernel.<id>"
    peer::TcpInfoField field;
    const char* besideRow; ///< nullptr: a row of its own, labelled `label`
    const char* label;
};
constexpr KernelRowDef kKernelRows[] = {
    {"state", peer::TcpInfoField::State, "state", nullptr},
    {"snd_wnd", peer::TcpInfoField::SndWnd, "snd_wnd", nullptr},
    {"rcv_wnd", peer::TcpInfoField::RcvWnd, "rcv_wnd", nullptr},
    {"snd_mss", peer::TcpInfoField::SndMss, "mss", nullptr},
    {"snd_cwnd", peer::TcpInfoField::SndCwnd, nullptr, "cwnd"},
    {"snd_ssthresh", peer::TcpInfoField::SndSsthresh, nullptr, "ssthresh"},
    {"rto", peer::TcpInfoField::Rto, nullptr, "RTO"},
    {"rtt", peer::TcpInfoField::Rtt, nullptr, "SRTT"},
    {"rttvar", peer::TcpInfoField::Rttvar, nullptr, "RTTVAR"},
    {"unacked", peer::TcpInfoField::Unacked, nullptr, "in flight"},
    {"total_retrans", peer::TcpInfoField::TotalRetrans, nullptr, "retransmitted"},
};
constexpr int kPhantomColumn = 1; ///< and 2: relative, absolute
constexpr int kPeerColumn = 3;
constexpr int kKernelColumn = 4;
constexpr int kPeerAbsColumn = 5;
constexpr const char* kNoSample =
    "No tcp_info sample of the peer's socket: the lab has no peer agent, or its kernel "
    "has not reported this connection.";
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
    grid->setHorizontalSpacing(10);
    grid->setVerticalSpacing(3);
    const QFont fixed = QFontDatabase::systemFont(QFontDatabase::FixedFont);
    QFont bold = font();
    bold.setBold(true);

    m_summary = new QLabel(this);
    m_summary->setObjectName(QStringLiteral("summary"));
    m_summary->setWordWrap(true);
    grid->addWidget(m_summary, 0, 0, 1, kPeerAbsColumn + 1);

    auto* variable = new QLabel(QStringLiteral("variable"), this);
    variable->setFont(bold);
    grid->addWidget(variable, 1, 0, Qt::AlignBottom);
    // Columns: the variable, the phantom's relative and absolute values, then the peer's
    // relative value, its kernel's own value right beside it (where the dock shows it
    // without scrolling), and its absolute value.
    const auto hasKernelRow = [](const char* id) {
        for (const KernelRowDef& k : kKernelRows)
            if (k.besideRow && std::string_view(k.besideRow) == id)
                return true;
        return false;
    };
    for (std::size_t e = 0; e < 2; ++e) {
        Cells& cells = m_cells[e];
        const bool peerEnd = e == 1;
        const int column = peerEnd ? kPeerColumn : kPhantomColumn;
        const int absColumn = peerEnd ? kPeerAbsColumn : kPhantomColumn + 1;
        cells.endpoint = new QLabel(this);
        cells.endpoint->setObjectName(QStringLiteral("endpoint.%1").arg(latin(kEndNames[e])));
        cells.endpoint->setFont(bold);
        grid->addWidget(cells.endpoint, 1, column, 1, absColumn - column + 1);
        for (const int k : {column, absColumn}) {
            auto* caption = new QLabel(
                k == column ? QStringLiteral("relative") : QStringLiteral("absolute"), this);
            caption->setForegroundRole(QPalette::PlaceholderText);
            grid->addWidget(caption, 2, k, Qt::AlignRight);
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
                grid->addWidget(abs, 3 + int(r), absColumn);
            } else if (peerEnd && hasKernelRow(kRows[r].id)) {
                grid->addWidget(rel, 3 + int(r), column); // the kernel's value follows
            } else {
                grid->addWidget(rel, 3 + int(r), column, 1, absColumn - column + 1);
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

    // The peer's kernel, beside the tracker's view of the peer.
    m_kernelHeader = new QLabel(QStringLiteral("kernel"), this);
    m_kernelHeader->setObjectName(QStringLiteral("endpoint.kernel"));
    m_kernelHeader->setForegroundRole(QPalette::PlaceholderText);
    grid->addWidget(m_kernelHeader, 2, kKernelColumn, Qt::AlignRight);
    int extraRow = 3 + int(kRowCount);
    for (const KernelRowDef& k : kKernelRows) {
        int row = -1;
        if (k.besideRow) {
            for (std::size_t r = 0; r < kRowCount; ++r)
                if (std::string_view(kRows[r].id) == k.besideRow)
                    row = 3 + int(r);
        } else {
            row = extraRow++;
            auto* label = new QLabel(latin(k.label), this);
            label->setToolTip(fromStd(peer::fieldInfo(k.field).meaning));
            grid->addWidget(label, row, 0);
        }
        auto* cell = new QLabel(this);
        cell->setObjectName(QStringLiteral("peer.kernel.%1").arg(latin(k.id)));
        cell->setTextInteractionFlags(Qt::TextSelectableByMouse);
        cell->setAlignment(Qt::AlignRight | Qt::AlignVCenter);
        grid->addWidget(cell, row, kKernelColumn);
        m_kernel.push_back(cell);
    }
    grid->setColumnStretch(kPeerAbsColumn + 1, 1);
    grid->setRowStretch(extraRow, 1);
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
    m_peerEnd.reset();
    m_sample.reset();
    fillKernel();
}

void ConnectionPanel::setKernelSample(const peer::SocketSample* sample) {
    if (sample)
        m_sample = *sample;
    else
        m_sample.reset();
    fillKernel();
}

void ConnectionPanel::fillKernel() {
    const peer::TcpInfo info =
        m_sample ? peer::TcpInfo::fromPairs(m_sample->fields) : peer::TcpInfo{};
    m_kernelHeader->setToolTip(
        m_sample
            ? QStringLiteral("The latest tcp_info sample of the peer's socket (inode %1%2): "
                             "what its kernel really holds")
                  .arg(m_sample->inode)
                  .arg(m_sample->fd >= 0 ? QStringLiteral(", the agent's fd %1").arg(m_sample->fd)
                                         : QString())
            : latin(kNoSample));
    for (std::size_t k = 0; k < std::size(kKernelRows); ++k) {
        const KernelRowDef& def = kKernelRows[k];
        QLabel* cell = m_kernel[k];
        const auto& field = peer::fieldInfo(def.field);
        QString text = QStringLiteral("–");
        QString tip =
            QStringLiteral("tcpi_%1: %2").arg(fromStd(field.name), fromStd(field.meaning));
        QString disagreement;
        if (m_sample && m_sample->gone) {
            text = k == 0 ? QStringLiteral("gone") : QStringLiteral("–");
            tip = QStringLiteral("The kernel's socket is gone (closed, or its TIME-WAIT is over).");
        } else if (const auto v = info.get(def.field)) {
            // Bytes and segments as bare numbers, as the tracker's cells show windows (the
            // tooltip names the unit); times and states as formatField says them.
            const std::string_view unit = field.unit;
            text = unit == "bytes" || unit == "segments"
                       ? QString::number(*v)
                       : QString::fromStdString(peer::formatField(def.field, *v));
            if (def.field == peer::TcpInfoField::SndSsthresh && *v >= 0x7fffffff)
                text = QStringLiteral("infinite"); // no loss yet (the tooltip says so)
            if (def.field == peer::TcpInfoField::State) {
                // Linux's own states (NEW_SYN_RECV) as RFC 9293 names them, beside its name.
                const auto rfc = peer::linuxStateAsRfc(*v);
                if (rfc && fromStd(tcp::stateName(*rfc)) != text)
                    text += QStringLiteral(" (%1)").arg(fromStd(tcp::stateName(*rfc)));
                if (m_peerEnd && m_peerEnd->known && rfc && *rfc != m_peerEnd->state)
                    disagreement = QStringLiteral("The tracker infers %1, the kernel says %2.")
                                       .arg(fromStd(tcp::stateName(m_peerEnd->state)),
                                            QString::fromStdString(peer::linuxStateName(*v)));
            } else if (def.field == peer::TcpInfoField::SndWnd) {
                if (m_peerEnd && m_peerEnd->sndWndKnown && m_peerEnd->sndWnd != *v)
                    disagreement =
                        QStringLiteral("The tracker infers SND.WND %1, the kernel says %2 "
                                       "(snd_wnd).")
                            .arg(m_peerEnd->sndWnd)
                            .arg(*v);
            }
        }
        if (!disagreement.isEmpty()) {
            text = QStringLiteral("≠ %1").arg(text);
            tip = disagreement + QStringLiteral("\n") + tip;
        }
        const bool disagrees = !disagreement.isEmpty();
        cell->setProperty("disagrees", disagrees);
        // Only the text's colour is the cell's own: the rest follows the application's
        // palette (light or dark), and changeEvent() recolours on a change.
        QPalette pal;
        if (disagrees)
            pal.setColor(QPalette::WindowText, errorColor(palette()));
        cell->setPalette(pal);
        cell->setToolTip(tip);
        setText(cell, text);
    }
}

void ConnectionPanel::changeEvent(QEvent* event) {
    QWidget::changeEvent(event);
    if (event->type() == QEvent::PaletteChange && !m_kernel.empty())
        fillKernel(); // the error colour of the other palette
}

bool ConnectionPanel::disagrees(const QString& name) const {
    const auto* label = findChild<QLabel*>(name);
    return label && label->property("disagrees").toBool();
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
    m_peerEnd = c.end(peer);
    fillKernel();

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
