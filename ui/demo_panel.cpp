#include "ui/demo_panel.h"

#include <QButtonGroup>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QRadioButton>
#include <QTextBrowser>
#include <QVBoxLayout>

namespace tcplab::ui {

namespace {

QString qs(const std::string& s) {
    return QString::fromStdString(s);
}

} // namespace

DemoPanel::DemoPanel(QWidget* parent)
    : QWidget(parent) {
    setObjectName(QStringLiteral("demoPanel"));
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);

    m_title = new QLabel(QStringLiteral("<b>The handshake demo</b>: the classic exercise, one "
                                        "click per step. Each step fills the segment editor; "
                                        "change a field if you like, then Fire (Ctrl+Return)."));
    m_title->setWordWrap(true);
    layout->addWidget(m_title);

    auto* row = new QHBoxLayout;
    m_start = new QPushButton(QStringLiteral("Start the demo"));
    m_start->setObjectName(QStringLiteral("demoStart"));
    m_start->setToolTip(
        QStringLiteral("Starts the lab if needed, then pre-fills the SYN (Ctrl+D)"));
    m_fin = new QRadioButton(QStringLiteral("close with FIN"));
    m_fin->setObjectName(QStringLiteral("demoFin"));
    m_rst = new QRadioButton(QStringLiteral("abort with RST"));
    m_rst->setObjectName(QStringLiteral("demoRst"));
    m_fin->setChecked(true);
    auto* group = new QButtonGroup(this);
    group->addButton(m_fin);
    group->addButton(m_rst);
    m_again = new QPushButton(QStringLiteral("Send again"));
    m_again->setObjectName(QStringLiteral("demoSendAgain"));
    m_again->setToolTip(QStringLiteral("While waiting: put the oldest segment the peer has not "
                                       "acknowledged in the editor again, as a TCP would "
                                       "retransmit it"));
    m_again->setEnabled(false);
    row->addWidget(m_start);
    row->addWidget(m_again);
    row->addWidget(m_fin);
    row->addWidget(m_rst);
    row->addStretch(1);
    layout->addLayout(row);

    m_steps = new QListWidget;
    m_steps->setObjectName(QStringLiteral("demoSteps"));
    m_steps->setSelectionMode(QAbstractItemView::NoSelection);
    m_steps->setFocusPolicy(Qt::NoFocus);
    layout->addWidget(m_steps, 2);

    m_explanation = new QTextBrowser;
    m_explanation->setObjectName(QStringLiteral("demoExplanation"));
    m_explanation->setOpenLinks(false);
    layout->addWidget(m_explanation, 3);

    auto* notesTitle = new QLabel(QStringLiteral("What happened"));
    layout->addWidget(notesTitle);
    m_notes = new QTextBrowser;
    m_notes->setObjectName(QStringLiteral("demoNotes"));
    layout->addWidget(m_notes, 2);

    connect(m_start, &QPushButton::clicked, this, [this] { Q_EMIT startRequested(closeMode()); });
    connect(m_again, &QPushButton::clicked, this, [this] {
        if (!m_walk)
            return;
        if (const auto step = m_walk->current(); step.resend)
            Q_EMIT prefillReady(*step.resend, QStringLiteral("send again"));
    });
    // The branch: FIN or RST at the close, switchable until the close step is reached.
    const auto branch = [this] {
        if (!m_walk || m_done)
            return;
        if (!m_walk->chooseClose(closeMode())) {
            m_notes->append(QStringLiteral("The close has begun: it can no longer change."));
            return;
        }
        m_prefilledStep.reset();
        refresh();
    };
    connect(m_fin, &QRadioButton::toggled, this, branch);
    m_explanation->setPlainText(
        QStringLiteral("Press \"Start the demo\". tcplab starts the built-in lab, claims the "
                       "phantom's address, and puts the first segment, a SYN, in the editor."));
}

DemoPanel::~DemoPanel() = default;

engine::CloseMode DemoPanel::closeMode() const {
    return m_rst->isChecked() ? engine::CloseMode::Rst : engine::CloseMode::Fin;
}

QString DemoPanel::explanationText() const {
    return m_explanation->toPlainText();
}

QStringList DemoPanel::notes() const {
    QStringList out;
    if (m_walk)
        for (const auto& note : m_walk->notes())
            out << qs(note);
    return out;
}

void DemoPanel::start(const engine::ConnectionParams& params) {
    m_walk = std::make_unique<engine::Walkthrough>(engine::classicScenario(closeMode()), params);
    m_prefilledStep.reset();
    m_done = false;
    refresh();
}

void DemoPanel::stop() {
    m_walk.reset();
    m_again->setEnabled(false);
    m_done = false;
    m_prefilledStep.reset();
    m_steps->clear();
}

void DemoPanel::onFrame(const timeline::Entry& entry) {
    if (!m_walk || m_done)
        return;
    if (entry.direction == timeline::Direction::Sent)
        m_walk->fired(entry.bytes, entry.timeNs);
    else
        m_walk->received(entry.bytes, entry.timeNs);
    refresh();
}

void DemoPanel::refresh() {
    if (!m_walk)
        return;
    using Kind = engine::Walkthrough::Step::Kind;
    const engine::Walkthrough::Step step = m_walk->current();
    const engine::Scenario& scenario = m_walk->scenario();

    m_steps->clear();
    const auto addLine = [this](const QString& mark, const QString& text, bool current) {
        auto* item = new QListWidgetItem(QStringLiteral("%1 %2").arg(mark, text));
        if (current) {
            QFont bold = item->font();
            bold.setBold(true);
            item->setFont(bold);
        }
        m_steps->addItem(item);
        if (current)
            m_steps->scrollToItem(item);
    };
    for (std::size_t i = 0; i < scenario.steps.size(); ++i) {
        const bool done = step.kind == Kind::Done || i < step.index;
        const bool current = step.kind != Kind::Done && i == step.index;
        // An ACK the walk inserted (of the peer's data or FIN) comes before the step.
        if (current && step.inserted)
            addLine(QStringLiteral("➜"), QStringLiteral("   %1").arg(qs(step.name)), true);
        addLine(done                        ? QStringLiteral("✓")
                : current && !step.inserted ? QStringLiteral("➜")
                                            : QStringLiteral("·"),
                QStringLiteral("%1. %2").arg(i + 1).arg(qs(scenario.steps[i].name)),
                current && !step.inserted);
    }

    QString text = qs(step.explanation);
    if (step.kind == engine::Walkthrough::Step::Kind::Await && !step.expectation.empty())
        text += QStringLiteral("\n\nWaiting for: %1").arg(qs(step.expectation));
    m_explanation->setPlainText(text);

    QStringList lines;
    for (const auto& note : m_walk->notes())
        lines << qs(note).toHtmlEscaped();
    m_notes->setHtml(lines.join(QStringLiteral("<br>")));
    m_notes->moveCursor(QTextCursor::End);

    m_again->setEnabled(!m_done && step.kind == Kind::Await && step.resend.has_value());
    if (step.kind == Kind::Send && step.prefill &&
        m_prefilledStep != std::pair(step.index, step.inserted)) {
        m_prefilledStep = std::pair(step.index, step.inserted);
        Q_EMIT prefillReady(*step.prefill, qs(step.name));
    }
    if (!m_done && (m_walk->finished() || m_walk->failed())) {
        m_done = true;
        Q_EMIT demoFinished(m_walk->finished() && !m_walk->failed(),
                            lines.isEmpty() ? QString() : qs(m_walk->notes().back()));
    }
}

} // namespace tcplab::ui
