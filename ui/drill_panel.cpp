#include "ui/drill_panel.h"

#include "ui/engine_worker.h"
#include "ui/palette.h"

#include <QAction>
#include <QFile>
#include <QFileInfo>
#include <QFontDatabase>
#include <QGridLayout>
#include <QGroupBox>
#include <QKeyEvent>
#include <QLabel>
#include <QPainter>
#include <QPlainTextEdit>
#include <QTextBlock>
#include <QToolBar>
#include <QVBoxLayout>

#include <algorithm>
#include <cstdint>
#include <map>

namespace tcplab::ui {

namespace {

/// A passed line's green and the current line's amber, as translucent washes so that they
/// read on the light and on the dark base alike (the text keeps its own colour).
QColor passedWash() {
    return QColor(0x2e, 0xa0, 0x43, 0x40);
}
QColor currentWash() {
    return QColor(0xff, 0xc1, 0x07, 0x60);
}
QColor passedTick(const QPalette& palette) {
    return palette.color(QPalette::Base).lightness() < 128 ? QColor(0x5f, 0xd0, 0x7a)
                                                           : QColor(0x1a, 0x7f, 0x3c);
}

const QKeySequence kRunKeys{Qt::Key_F5};
const QKeySequence kStepKeys{Qt::Key_F10};
const QKeySequence kStopKeys{Qt::SHIFT | Qt::Key_F5};

} // namespace

/// The script, read-only, with a gutter of line numbers and marks (✓ passed, ✗ failed,
/// ▶ current); the same lines washed green, red or amber (Qt's code editor example's
/// gutter, with ExtraSelections for the washes).
class DrillScriptView : public QPlainTextEdit {
public:
    enum class Mark : std::uint8_t { Passed, Current, Failed };

    explicit DrillScriptView(QWidget* parent = nullptr);

    void setMarks(std::map<int, Mark> marks);
    /// Brings `line` (1-based) into view without moving the user's selection.
    void showLine(int line);
    int gutterWidth() const;
    void paintGutter(QPaintEvent* event);

protected:
    void resizeEvent(QResizeEvent* event) override;
    void changeEvent(QEvent* event) override;

private:
    void updateSelections();

    QWidget* m_gutter = nullptr;
    std::map<int, Mark> m_marks;
};

namespace {

class DrillGutter : public QWidget {
public:
    explicit DrillGutter(DrillScriptView* view)
        : QWidget(view)
        , m_view(view) {}
    QSize sizeHint() const override { return {m_view->gutterWidth(), 0}; }

protected:
    void paintEvent(QPaintEvent* event) override { m_view->paintGutter(event); }

private:
    DrillScriptView* m_view;
};

} // namespace

DrillScriptView::DrillScriptView(QWidget* parent)
    : QPlainTextEdit(parent) {
    setReadOnly(true);
    setLineWrapMode(QPlainTextEdit::NoWrap);
    setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    // Read-only still lets the keyboard select and copy, but the caret must not look like
    // an editor's.
    setTextInteractionFlags(Qt::TextSelectableByMouse | Qt::TextSelectableByKeyboard);
    m_gutter = new DrillGutter(this);
    connect(this, &QPlainTextEdit::blockCountChanged, this,
            [this] { setViewportMargins(gutterWidth(), 0, 0, 0); });
    connect(this, &QPlainTextEdit::updateRequest, this, [this](const QRect& rect, int dy) {
        if (dy != 0)
            m_gutter->scroll(0, dy);
        else
            m_gutter->update(0, rect.y(), m_gutter->width(), rect.height());
    });
    setViewportMargins(gutterWidth(), 0, 0, 0);
}

int DrillScriptView::gutterWidth() const {
    int digits = 1;
    for (int n = std::max(1, blockCount()); n >= 10; n /= 10)
        ++digits;
    // The mark's column, the number, a little air on both sides.
    const QFontMetrics m(font());
    return m.horizontalAdvance(QStringLiteral("✓ ")) +
           m.horizontalAdvance(QLatin1Char('9')) * digits + 10;
}

void DrillScriptView::resizeEvent(QResizeEvent* event) {
    QPlainTextEdit::resizeEvent(event);
    const QRect r = contentsRect();
    m_gutter->setGeometry(QRect(r.left(), r.top(), gutterWidth(), r.height()));
}

void DrillScriptView::changeEvent(QEvent* event) {
    QPlainTextEdit::changeEvent(event);
    // The washes' and ticks' colours follow the palette (View > Dark palette).
    if (event->type() == QEvent::PaletteChange) {
        updateSelections();
        m_gutter->update();
    }
}

void DrillScriptView::setMarks(std::map<int, Mark> marks) {
    if (marks == m_marks)
        return;
    m_marks = std::move(marks);
    updateSelections();
    m_gutter->update();
}

void DrillScriptView::showLine(int line) {
    const QTextBlock block = document()->findBlockByNumber(line - 1);
    if (!block.isValid())
        return;
    // Scroll by the block's position, not the cursor's: a selection to copy stays.
    const QRectF geometry = blockBoundingGeometry(block).translated(contentOffset());
    if (geometry.top() >= 0 && geometry.bottom() <= viewport()->height())
        return;
    const QTextCursor keep = textCursor();
    QTextCursor at(block);
    setTextCursor(at);
    centerCursor();
    setTextCursor(keep);
}

void DrillScriptView::updateSelections() {
    QList<QTextEdit::ExtraSelection> selections;
    for (const auto& [line, mark] : m_marks) {
        const QTextBlock block = document()->findBlockByNumber(line - 1);
        if (!block.isValid())
            continue;
        QTextEdit::ExtraSelection s;
        s.cursor = QTextCursor(block);
        s.format.setProperty(QTextFormat::FullWidthSelection, true);
        QColor wash = mark == Mark::Passed    ? passedWash()
                      : mark == Mark::Current ? currentWash()
                                              : errorColor(palette());
        if (mark == Mark::Failed)
            wash.setAlpha(0x50);
        s.format.setBackground(wash);
        selections << s;
    }
    setExtraSelections(selections);
}

void DrillScriptView::paintGutter(QPaintEvent* event) {
    QPainter painter(m_gutter);
    const QPalette& pal = palette();
    painter.fillRect(event->rect(), pal.color(QPalette::AlternateBase));
    painter.setFont(font());
    const QFontMetrics metrics(font());
    const int markWidth = metrics.horizontalAdvance(QStringLiteral("✓ "));
    QTextBlock block = firstVisibleBlock();
    int top = qRound(blockBoundingGeometry(block).translated(contentOffset()).top());
    int bottom = top + qRound(blockBoundingRect(block).height());
    while (block.isValid() && top <= event->rect().bottom()) {
        if (block.isVisible() && bottom >= event->rect().top()) {
            const int line = block.blockNumber() + 1;
            const auto mark = m_marks.find(line);
            if (mark != m_marks.end()) {
                const bool passed = mark->second == Mark::Passed;
                const bool failed = mark->second == Mark::Failed;
                painter.setPen(passed   ? passedTick(pal)
                               : failed ? errorColor(pal)
                                        : pal.color(QPalette::Text));
                painter.drawText(4, top, markWidth, metrics.height(), Qt::AlignLeft,
                                 passed   ? QStringLiteral("✓")
                                 : failed ? QStringLiteral("✗")
                                          : QStringLiteral("▶"));
            }
            painter.setPen(pal.color(QPalette::PlaceholderText));
            painter.drawText(markWidth, top, m_gutter->width() - markWidth - 4, metrics.height(),
                             Qt::AlignRight, QString::number(line));
        }
        block = block.next();
        top = bottom;
        bottom = top + qRound(blockBoundingRect(block).height());
    }
}

DrillFailureText splitDrillFailure(const QString& failure) {
    DrillFailureText out;
    QStringList rest;
    const QString script = QStringLiteral("script packet:");
    const QString actual = QStringLiteral("actual packet:");
    for (const QString& line : failure.split(QLatin1Char('\n'))) {
        if (line.startsWith(script))
            out.expected = line.mid(script.size()).trimmed();
        else if (line.startsWith(actual))
            out.actual = line.mid(actual.size()).trimmed();
        else if (!line.trimmed().isEmpty())
            rest << line;
    }
    out.headline = rest.join(QLatin1Char('\n'));
    return out;
}

DrillPanel::DrillPanel(QWidget* parent)
    : QWidget(parent) {
    setObjectName(QStringLiteral("drillPanel"));
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);

    m_title = new QLabel;
    m_title->setObjectName(QStringLiteral("drillTitle"));
    m_title->setWordWrap(true);
    m_title->setTextFormat(Qt::RichText);
    layout->addWidget(m_title);

    m_bar = new QToolBar;
    m_bar->setObjectName(QStringLiteral("drillBar"));
    m_bar->setToolButtonStyle(Qt::ToolButtonTextOnly);
    // The keys are not the actions' shortcuts: F5 and Shift+F5 are the lab's too (Start,
    // Stop). The panel takes them while the focus is in it (event()), so neither is
    // ambiguous; the tooltips say which key does what.
    m_open = m_bar->addAction(QStringLiteral("Open…"));
    m_open->setObjectName(QStringLiteral("drillOpen"));
    m_open->setToolTip(QStringLiteral("Open a packetdrill script (Ctrl+Shift+O)"));
    m_bar->addSeparator();
    m_run = m_bar->addAction(QStringLiteral("Run"));
    m_run->setObjectName(QStringLiteral("drillRun"));
    m_run->setToolTip(QStringLiteral("Run the script against the lab's peer (F5); while "
                                     "stepping, run the rest"));
    m_step = m_bar->addAction(QStringLiteral("Step"));
    m_step->setObjectName(QStringLiteral("drillStep"));
    m_step->setToolTip(QStringLiteral("Run the next line only (F10); times are not checked "
                                      "while stepping"));
    m_stop = m_bar->addAction(QStringLiteral("Stop"));
    m_stop->setObjectName(QStringLiteral("drillStop"));
    m_stop->setToolTip(QStringLiteral("Stop the script at its current line (Shift+F5)"));
    layout->addWidget(m_bar);

    m_view = new DrillScriptView;
    m_view->setObjectName(QStringLiteral("drillScript"));
    layout->addWidget(m_view, 3);

    m_statusLabel = new QLabel;
    m_statusLabel->setObjectName(QStringLiteral("drillStatus"));
    m_statusLabel->setWordWrap(true);
    m_statusLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(m_statusLabel);

    // The failing line's two packets side by side: what the script says the kernel must
    // send, and what it sent.
    m_failure = new QGroupBox(QStringLiteral("The failing line"));
    m_failure->setObjectName(QStringLiteral("drillFailure"));
    auto* grid = new QGridLayout(m_failure);
    m_headline = new QLabel;
    m_headline->setObjectName(QStringLiteral("drillHeadline"));
    m_headline->setWordWrap(true);
    m_headline->setTextInteractionFlags(Qt::TextSelectableByMouse);
    grid->addWidget(m_headline, 0, 0, 1, 2);
    const QFont fixed = QFontDatabase::systemFont(QFontDatabase::FixedFont);
    const auto packetBox = [&fixed](const QString& name) {
        auto* box = new QPlainTextEdit;
        box->setObjectName(name);
        box->setReadOnly(true);
        box->setFont(fixed);
        box->setLineWrapMode(QPlainTextEdit::WidgetWidth);
        box->setMaximumHeight(QFontMetrics(fixed).lineSpacing() * 4 + 12);
        return box;
    };
    m_expectedTitle = new QLabel(QStringLiteral("<b>expected</b> (the script)"));
    grid->addWidget(m_expectedTitle, 1, 0);
    m_actualTitle = new QLabel(QStringLiteral("<b>actual</b> (the peer's kernel)"));
    grid->addWidget(m_actualTitle, 1, 1);
    m_expected = packetBox(QStringLiteral("drillExpected"));
    m_actual = packetBox(QStringLiteral("drillActual"));
    grid->addWidget(m_expected, 2, 0);
    grid->addWidget(m_actual, 2, 1);
    m_explanation = new QLabel;
    m_explanation->setObjectName(QStringLiteral("drillExplanation"));
    m_explanation->setWordWrap(true);
    m_explanation->setTextInteractionFlags(Qt::TextSelectableByMouse);
    grid->addWidget(m_explanation, 3, 0, 1, 2);
    m_failure->hide();
    layout->addWidget(m_failure, 1);

    connect(m_open, &QAction::triggered, this, &DrillPanel::openRequested);
    connect(m_run, &QAction::triggered, this, &DrillPanel::run);
    connect(m_step, &QAction::triggered, this, &DrillPanel::step);
    connect(m_stop, &QAction::triggered, this, &DrillPanel::stop);
    refresh();
}

DrillPanel::~DrillPanel() = default;

QPlainTextEdit* DrillPanel::scriptView() const {
    return m_view;
}

int DrillPanel::lineOfStep(int step) const {
    return step >= 0 && step < stepCount() ? m_stepLines[std::size_t(step)] : 0;
}

QList<int> DrillPanel::passedLines() const {
    QList<int> lines;
    for (const int s : m_passedSteps)
        if (const int line = lineOfStep(s); line > 0 && !lines.contains(line))
            lines << line;
    std::sort(lines.begin(), lines.end());
    return lines;
}

QString DrillPanel::statusText() const {
    return m_statusLabel->text();
}
QString DrillPanel::headlineText() const {
    return m_headline->text();
}
QString DrillPanel::expectedText() const {
    return m_expected->toPlainText();
}
QString DrillPanel::actualText() const {
    return m_actual->toPlainText();
}
QString DrillPanel::explanationText() const {
    return m_explanation->text();
}
bool DrillPanel::failureShown() const {
    return !m_failure->isHidden();
}

QString DrillPanel::load(const QString& path) {
    clearRun();
    m_path = path;
    m_runnable = false;
    m_errorLine = 0;
    m_stepLines.clear();
    const QString name = QFileInfo(path).fileName();
    m_title->setText(
        QStringLiteral("<b>%1</b> <span style='color:gray'>%2</span>")
            .arg(name.toHtmlEscaped(), QFileInfo(path).absolutePath().toHtmlEscaped()));
    m_title->setToolTip(path);
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        m_view->clear();
        m_status = QStringLiteral("%1: cannot read the script").arg(path);
        refresh();
        return m_status;
    }
    m_view->setPlainText(QString::fromUtf8(file.readAll()));
    // Planned here as the worker plans it, for the step -> line map and to say at once
    // what cannot run (the lines' numbers do not depend on the IP version).
    auto prepared = prepareDrill(path, false);
    if (!prepared) {
        m_status = prepared.error();
        // "file:line:col: message": the line is after the file name.
        const QString rest = prepared.error().mid(path.size());
        if (rest.startsWith(QLatin1Char(':')))
            m_errorLine = rest.section(QLatin1Char(':'), 1, 1).toInt();
        refresh();
        if (m_errorLine > 0)
            m_view->showLine(m_errorLine);
        return m_status;
    }
    for (const auto& s : prepared->steps.steps)
        m_stepLines.push_back(int(s.line));
    m_runnable = true;
    m_status = QStringLiteral("%1 lines to run. Run (F5), or Step (F10) one line at a time.")
                   .arg(stepCount());
    refresh();
    return {};
}

void DrillPanel::run() {
    if (m_running && m_stepping) {
        // The rest of a stepped run, unchecked times and all (DrillOptions::stepGate).
        m_stepping = false;
        Q_EMIT continueRequested();
        refresh();
        return;
    }
    if (m_running || m_waiting || !m_runnable)
        return;
    // Read again: what runs is what the view shows, even after an edit elsewhere.
    if (!load(m_path).isEmpty())
        return;
    m_waiting = true;
    m_status = QStringLiteral("Starting…");
    refresh();
    Q_EMIT runRequested(false);
}

void DrillPanel::step() {
    if (m_running && m_stepping) {
        Q_EMIT stepRequested();
        return;
    }
    if (m_running || m_waiting || !m_runnable)
        return;
    if (!load(m_path).isEmpty())
        return;
    m_waiting = true;
    m_status = QStringLiteral("Starting, one line at a time…");
    refresh();
    Q_EMIT runRequested(true);
}

void DrillPanel::stop() {
    if (!m_running && !m_waiting)
        return;
    m_stopAsked = true;
    if (m_waiting && !m_running) {
        // Nothing runs yet: the main window forgets the request.
        m_waiting = false;
        m_status = QStringLiteral("Stopped before it started.");
        refresh();
    }
    Q_EMIT stopRequested();
}

void DrillPanel::clearRun() {
    m_running = false;
    m_waiting = false;
    m_stepping = false;
    m_stopAsked = false;
    m_passedSteps.clear();
    m_currentStep = -1;
    m_currentLine = 0;
    m_failedLine = 0;
    m_failure->hide();
    m_headline->clear();
    m_expected->clear();
    m_actual->clear();
    m_explanation->clear();
    m_failureText.clear();
}

void DrillPanel::runStarted(bool stepping) {
    clearRun();
    m_running = true;
    m_stepping = stepping;
    m_currentStep = 0;
    m_status = progressText();
    refresh();
}

void DrillPanel::runRefused(const QString& why) {
    m_waiting = false;
    m_running = false;
    m_status = why;
    refresh();
}

void DrillPanel::onStep(int step, const QString& what, const QString& message) {
    if (!m_running || step < 0 || step >= stepCount())
        return;
    if (what == QStringLiteral("started")) {
        m_currentStep = std::max(m_currentStep, step);
    } else if (what == QStringLiteral("done")) {
        m_passedSteps.insert(step);
        // The next line is the one that waits now (for its time, or for Step).
        if (step == m_currentStep)
            m_currentStep = step + 1 < stepCount() ? step + 1 : -1;
    } else if (what == QStringLiteral("failed")) {
        // A stop fails the current line too ("cancelled"): that is not the script's fault.
        if (!m_stopAsked) {
            m_failedLine = lineOfStep(step);
            m_currentStep = -1;
            showFailure(message, {});
        }
    }
    m_status = progressText();
    refresh();
}

void DrillPanel::onFinished(bool ok, const QString& explanation, const QString& failure) {
    if (!m_running)
        return;
    if (ok) {
        m_failedLine = 0;
        m_status =
            QStringLiteral("passed: %1 of %2 lines").arg(m_passedSteps.size()).arg(stepCount());
    } else if (m_stopAsked) {
        const int line = lineOfStep(m_currentStep);
        m_status = (line > 0 ? QStringLiteral("stopped at line %1: ").arg(line)
                             : QStringLiteral("stopped: ")) +
                   progressText();
    } else {
        m_status = (m_failedLine > 0 ? QStringLiteral("failed at line %1: ").arg(m_failedLine)
                                     : QStringLiteral("failed before the first line: ")) +
                   progressText();
        showFailure(failure, explanation);
    }
    m_running = false;
    m_stepping = false;
    m_currentStep = -1;
    refresh();
    if (m_failedLine > 0)
        m_view->showLine(m_failedLine);
}

void DrillPanel::showFailure(const QString& failure, const QString& explanation) {
    // The end's words complete the step's: keep what came first when the end has none.
    const QString text = failure.isEmpty() ? m_failureText : failure;
    m_failureText = text;
    const DrillFailureText split = splitDrillFailure(text);
    m_failure->setTitle(m_failedLine > 0 ? QStringLiteral("Line %1 failed").arg(m_failedLine)
                                         : QStringLiteral("The run failed"));
    m_headline->setText(split.headline.isEmpty() ? text : split.headline);
    // A packet line's failure has both packets (or the script's alone: nothing came); a
    // call's or a command's has neither.
    const bool packets = !split.expected.isEmpty();
    m_expected->setPlainText(split.expected);
    m_actual->setPlainText(split.actual.isEmpty() && packets ? QStringLiteral("(nothing arrived)")
                                                             : split.actual);
    for (QWidget* w :
         {static_cast<QWidget*>(m_expected), static_cast<QWidget*>(m_actual),
          static_cast<QWidget*>(m_expectedTitle), static_cast<QWidget*>(m_actualTitle)})
        w->setVisible(packets);
    if (!explanation.isEmpty() && explanation != text)
        m_explanation->setText(QStringLiteral("tcplab: %1").arg(explanation));
    m_failure->show();
}

QString DrillPanel::progressText() const {
    QString text =
        QStringLiteral("%1 of %2 lines passed").arg(m_passedSteps.size()).arg(stepCount());
    if (m_running && m_stepping)
        text += QStringLiteral(": Step (F10) runs the next line, Run (F5) the rest");
    return text;
}

void DrillPanel::refresh() {
    m_currentLine = m_running ? lineOfStep(m_currentStep) : 0;
    std::map<int, DrillScriptView::Mark> marks;
    for (const int line : passedLines())
        marks[line] = DrillScriptView::Mark::Passed;
    if (m_currentLine > 0)
        marks[m_currentLine] = DrillScriptView::Mark::Current;
    if (m_failedLine > 0)
        marks[m_failedLine] = DrillScriptView::Mark::Failed;
    if (m_errorLine > 0)
        marks[m_errorLine] = DrillScriptView::Mark::Failed;
    m_view->setMarks(std::move(marks));
    if (m_currentLine > 0)
        m_view->showLine(m_currentLine);

    if (m_path.isEmpty())
        m_status = QStringLiteral("Open a packetdrill script (File > Open packetdrill script…, "
                                  "Ctrl+Shift+O).");
    m_statusLabel->setText(m_status);
    m_open->setEnabled(!m_running && !m_waiting);
    m_run->setEnabled(m_runnable && (!m_running || m_stepping) && !(m_waiting && !m_running));
    m_step->setEnabled(m_runnable && (!m_running || m_stepping) && !(m_waiting && !m_running));
    m_stop->setEnabled(m_running || m_waiting);
}

QAction* DrillPanel::actionForKey(const QKeyEvent& key) const {
    const QKeySequence pressed(key.keyCombination());
    for (QAction* action : {m_run, m_step, m_stop}) {
        const QKeySequence& keys = action == m_run    ? kRunKeys
                                   : action == m_step ? kStepKeys
                                                      : kStopKeys;
        if (pressed == keys && action->isEnabled())
            return action;
    }
    return nullptr;
}

bool DrillPanel::event(QEvent* event) {
    // The focus is in the panel: its F5, F10 and Shift+F5 win over the main window's
    // shortcuts (accepting the override delivers the key here as a key press).
    if (event->type() == QEvent::ShortcutOverride &&
        actionForKey(*static_cast<QKeyEvent*>(event))) {
        event->accept();
        return true;
    }
    return QWidget::event(event);
}

void DrillPanel::keyPressEvent(QKeyEvent* event) {
    if (QAction* action = actionForKey(*event)) {
        action->trigger();
        event->accept();
        return;
    }
    QWidget::keyPressEvent(event);
}

} // namespace tcplab::ui
