#include "ui/demo_panel.h"

#include "peer/call_text.h"

#include <QButtonGroup>
#include <QComboBox>
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

const char* const kClassicTitle =
    "<b>The handshake demo</b>: the classic exercise, one click per step. Each step fills the "
    "segment editor; change a field if you like, then Fire (Ctrl+Return).";
const char* const kPassiveTitle =
    "<b>The kernel connects to you</b>: the peer's application calls connect() to the phantom, "
    "and you answer as a server would. Peer steps are calls: Make the call (Ctrl+Return); the "
    "phantom's segments fill the editor: Fire (Ctrl+Return).";

} // namespace

DemoPanel::DemoPanel(QWidget* parent)
    : QWidget(parent) {
    setObjectName(QStringLiteral("demoPanel"));
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);

    m_walkChooser = new QComboBox;
    m_walkChooser->setObjectName(QStringLiteral("demoWalk"));
    m_walkChooser->addItem(QStringLiteral("The classic exercise (Ctrl+D)"), int(DemoWalk::Classic));
    m_walkChooser->setItemData(0,
                               QStringLiteral("You connect to the peer's server: SYN, SYN-ACK, "
                                              "ACK, an HTTP GET, its response, the close"),
                               Qt::ToolTipRole);
    m_walkChooser->addItem(QStringLiteral("The kernel connects to you (Ctrl+Shift+K)"),
                           int(DemoWalk::Passive));
    m_walkChooser->setItemData(1,
                               QStringLiteral("The peer's kernel opens the connection to the "
                                              "phantom: its SYN, your SYN-ACK, data both ways, "
                                              "its FIN first (needs the peer agent)"),
                               Qt::ToolTipRole);
    layout->addWidget(m_walkChooser);

    m_title = new QLabel(QString::fromLatin1(kClassicTitle));
    m_title->setWordWrap(true);
    layout->addWidget(m_title);

    auto* row = new QHBoxLayout;
    m_start = new QPushButton(QStringLiteral("Start the demo"));
    m_start->setObjectName(QStringLiteral("demoStart"));
    m_start->setToolTip(
        QStringLiteral("Starts the lab if needed, then the first step (Ctrl+D, Ctrl+Shift+K)"));
    m_call = new QPushButton(QStringLiteral("Make the call"));
    m_call->setObjectName(QStringLiteral("demoMakeCall"));
    m_call->setToolTip(QStringLiteral("Make the peer's socket call of this step (Ctrl+Return)"));
    m_call->setEnabled(false);
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
    row->addWidget(m_call);
    row->addWidget(m_again);
    row->addStretch(1);
    layout->addLayout(row);
    // The classic walk's branch, on a row of its own: the dock stays narrow.
    auto* branchRow = new QHBoxLayout;
    m_closeLabel = new QLabel(QStringLiteral("The close:"));
    branchRow->addWidget(m_closeLabel);
    branchRow->addWidget(m_fin);
    branchRow->addWidget(m_rst);
    branchRow->addStretch(1);
    layout->addLayout(branchRow);

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

    connect(m_start, &QPushButton::clicked, this, [this] { Q_EMIT startRequested(walk()); });
    connect(m_call, &QPushButton::clicked, this, [this] { makeCall(); });
    connect(m_again, &QPushButton::clicked, this, [this] {
        if (!m_walk)
            return;
        if (const auto step = m_walk->current(); step.resend)
            Q_EMIT prefillReady(*step.resend, QStringLiteral("send again"));
    });
    // The branch: FIN or RST at the close, switchable until the close step is reached.
    const auto branch = [this] {
        if (!m_walk || m_done || m_walking != DemoWalk::Classic)
            return;
        if (!m_walk->chooseClose(closeMode())) {
            m_notes->append(QStringLiteral("The close has begun: it can no longer change."));
            return;
        }
        m_prefilledStep.reset();
        refresh();
    };
    connect(m_fin, &QRadioButton::toggled, this, branch);
    connect(m_walkChooser, &QComboBox::currentIndexChanged, this, [this] {
        const bool classic = walk() == DemoWalk::Classic;
        m_title->setText(QString::fromLatin1(classic ? kClassicTitle : kPassiveTitle));
        m_fin->setVisible(classic);
        m_rst->setVisible(classic);
        m_closeLabel->setVisible(classic);
        if (!m_walk)
            m_explanation->setPlainText(
                classic ? QStringLiteral("Press \"Start the demo\". tcplab starts the built-in "
                                         "lab, claims the phantom's address, and puts the first "
                                         "segment, a SYN, in the editor.")
                        : QStringLiteral("Press \"Start the demo\". tcplab starts the built-in "
                                         "lab; the first steps are the peer's: its socket() and "
                                         "its connect() to the phantom, whose SYN you answer."));
    });
    m_explanation->setPlainText(
        QStringLiteral("Press \"Start the demo\". tcplab starts the built-in lab, claims the "
                       "phantom's address, and puts the first segment, a SYN, in the editor."));
}

DemoPanel::~DemoPanel() = default;

engine::CloseMode DemoPanel::closeMode() const {
    return m_rst->isChecked() ? engine::CloseMode::Rst : engine::CloseMode::Fin;
}

DemoWalk DemoPanel::walk() const {
    return static_cast<DemoWalk>(m_walkChooser->currentData().toInt());
}

void DemoPanel::setWalk(DemoWalk walk) {
    if (const int index = m_walkChooser->findData(int(walk)); index >= 0)
        m_walkChooser->setCurrentIndex(index);
}

bool DemoPanel::peerCallDue() const {
    if (!m_walk || m_done || m_calling)
        return false;
    const auto step = m_walk->current();
    return step.kind == engine::Walkthrough::Step::Kind::Peer && m_calledStep != step.index;
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
    m_calledStep.reset();
    m_walking = walk();
    m_walk = std::make_unique<engine::Walkthrough>(m_walking == DemoWalk::Passive
                                                       ? engine::passiveScenario()
                                                       : engine::classicScenario(closeMode()),
                                                   params);
    m_prefilledStep.reset();
    m_done = false;
    m_calling = false;
    m_lastIndex = 0;
    refresh();
}

void DemoPanel::stop() {
    m_calledStep.reset();
    m_walk.reset();
    m_again->setEnabled(false);
    m_call->setEnabled(false);
    m_done = false;
    m_calling = false;
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

bool DemoPanel::makeCall() {
    if (!peerCallDue())
        return false;
    const auto step = m_walk->current();
    if (!step.call)
        return false;
    m_calling = true;
    m_call->setEnabled(false);
    Q_EMIT peerCallRequested(*step.call);
    return true;
}

void DemoPanel::peerCalled(quint32 id) {
    m_calling = false;
    if (!m_walk || m_done)
        return;
    if (id == 0) {
        m_notes->append(QStringLiteral("The call could not be made: the lab is not running."));
        refresh();
        return;
    }
    m_calledStep = m_walk->current().index;
    m_walk->peerCalled(id);
    refresh();
}

void DemoPanel::onPeerAnswered(const peer::CallRecord& call) {
    if (!m_walk || m_done)
        return;
    m_walk->peerAnswered(call);
    refresh();
}

void DemoPanel::onSamples(const std::vector<peer::Sample>& samples) {
    if (!m_walk || m_done || samples.empty())
        return;
    for (const peer::Sample& sample : samples)
        m_walk->sampled(sample);
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
    if (step.kind != Kind::Done)
        m_lastIndex = step.index;
    const bool failed = m_walk->failed();
    for (std::size_t i = 0; i < scenario.steps.size(); ++i) {
        // A failed walk ends at the step it failed in: the steps after it were not done.
        if (failed && step.kind == Kind::Done) {
            addLine(i < m_lastIndex    ? QStringLiteral("✓")
                    : i == m_lastIndex ? QStringLiteral("✗")
                                       : QStringLiteral("·"),
                    QStringLiteral("%1. %2").arg(i + 1).arg(qs(scenario.steps[i].name)),
                    i == m_lastIndex);
            continue;
        }
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
    if (step.kind == Kind::Await && !step.expectation.empty())
        text += QStringLiteral("\n\nWaiting for: %1").arg(qs(step.expectation));
    if (step.kind == Kind::Peer && step.call) {
        text += QStringLiteral("\n\nThe call: %1").arg(qs(peer::describeCall(*step.call)));
        text += step.background
                    ? QStringLiteral(" (it blocks: the walk goes on while it waits, and its "
                                     "answer is checked when it comes).")
                    : QStringLiteral(".");
        text += m_calling || m_calledStep == step.index
                    ? QStringLiteral("\nMade: waiting for its answer…")
                    : QStringLiteral("\nPress \"Make the call\" (Ctrl+Return).");
    }
    m_explanation->setPlainText(text);

    QStringList lines;
    for (const auto& note : m_walk->notes())
        lines << qs(note).toHtmlEscaped();
    m_notes->setHtml(lines.join(QStringLiteral("<br>")));
    m_notes->moveCursor(QTextCursor::End);

    m_again->setEnabled(!m_done && step.kind == Kind::Await && step.resend.has_value());
    m_call->setEnabled(peerCallDue());
    if (step.kind == Kind::Send && step.prefill &&
        m_prefilledStep != std::pair(step.index, step.inserted)) {
        m_prefilledStep = std::pair(step.index, step.inserted);
        Q_EMIT prefillReady(*step.prefill, qs(step.name));
    }
    if (!m_done && (m_walk->finished() || m_walk->failed())) {
        m_done = true;
        m_call->setEnabled(false);
        Q_EMIT demoFinished(m_walk->finished() && !m_walk->failed(),
                            lines.isEmpty() ? QString() : qs(m_walk->notes().back()));
    }
}

} // namespace tcplab::ui
