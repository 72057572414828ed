#pragma once

#include <QList>
#include <QString>
#include <QWidget>

#include <set>
#include <vector>

class QAction;
class QGroupBox;
class QLabel;
class QPlainTextEdit;
class QToolBar;

namespace tcplab::ui {

class DrillScriptView;

/// packetdrill's failure text split for the expected/actual box: the lines that start
/// "script packet:" and "actual packet:" (without those words), and the rest.
struct DrillFailureText {
    QString headline; ///< "error handling packet: live packet field tcp_ack: expected: ..."
    QString expected; ///< "0.100000 . 1:1(0) ack 102"
    QString actual;   ///< "0.100212 . 1:1(0) ack 101 win 257"; empty: no packet came
};
DrillFailureText splitDrillFailure(const QString& failure);

/// A packetdrill script in the desktop lab: the script (read-only, with line numbers), Run
/// (F5), Step (F10: one line at a time) and Stop (Shift+F5), and what happened to each
/// line as the run goes: the current line highlighted, each passed line ticked, the
/// failing one red with the script's packet beside the one the peer's kernel sent, and
/// tcplab's explanation. The panel runs nothing itself: it asks (runRequested,
/// stepRequested, ...) and the main window hands it the worker's drillStep and
/// drillFinished. Its keys act while the focus is in it; elsewhere F5 and Shift+F5 are the
/// lab's.
class DrillPanel : public QWidget {
    Q_OBJECT
public:
    explicit DrillPanel(QWidget* parent = nullptr);
    ~DrillPanel() override;

    /// Shows the script at `path` and plans it (nothing is sent). Empty when it can run,
    /// else why not ("file:line:col: message"; the line is marked and Run stays off).
    QString load(const QString& path);
    QString path() const { return m_path; }
    /// A script is loaded and planned: it can run.
    bool runnable() const noexcept { return m_runnable; }
    bool running() const noexcept { return m_running; }
    bool stepping() const noexcept { return m_running && m_stepping; }
    int stepCount() const noexcept { return int(m_stepLines.size()); }
    /// The script line (1-based) of step `step`, 0 when there is none.
    int lineOfStep(int step) const;

    /// What the view shows, for tests: the line highlighted as current (0: none), the
    /// ticked lines, the red one (0: none), the status line and the failure box.
    int currentLine() const noexcept { return m_currentLine; }
    QList<int> passedLines() const;
    int failedLine() const noexcept { return m_failedLine; }
    QString statusText() const;
    QString headlineText() const;
    QString expectedText() const;
    QString actualText() const;
    QString explanationText() const;
    bool failureShown() const;
    QPlainTextEdit* scriptView() const;
    QAction* runAction() const noexcept { return m_run; }
    QAction* stepAction() const noexcept { return m_step; }
    QAction* stopAction() const noexcept { return m_stop; }

public Q_SLOTS:
    /// Run (F5): a new run, or the rest of a stepped one.
    void run();
    /// Step (F10): a new run one line at a time, or the next line of one.
    void step();
    /// Stop (Shift+F5).
    void stop();
    /// The run asked for has started (stepping: one line per Step); the marks start over.
    void runStarted(bool stepping);
    /// The run could not start: why (a script error, no lab).
    void runRefused(const QString& why);
    /// EngineWorker::drillStep: step `step` "started", "done" or "failed".
    void onStep(int step, const QString& what, const QString& message);
    /// EngineWorker::drillFinished.
    void onFinished(bool ok, const QString& explanation, const QString& failure);

Q_SIGNALS:
    /// The user wants a script (the main window asks for the file, then load()).
    void openRequested();
    /// Start the loaded script; `step`: one line at a time.
    void runRequested(bool step);
    /// Stepping: let the next line run.
    void stepRequested();
    /// Stepping: let the rest run.
    void continueRequested();
    void stopRequested();

protected:
    bool event(QEvent* event) override;
    void keyPressEvent(QKeyEvent* event) override;

private:
    /// The action the key triggers here, if it is one of the panel's and enabled.
    QAction* actionForKey(const QKeyEvent& key) const;
    void clearRun();
    void showFailure(const QString& failure, const QString& explanation);
    void refresh();
    QString progressText() const;

    QString m_path;
    bool m_runnable = false;
    bool m_running = false;
    bool m_waiting = false; ///< asked to run, not started yet (the lab starts first)
    bool m_stepping = false;
    bool m_stopAsked = false;
    std::vector<int> m_stepLines; ///< step index -> script line
    std::set<int> m_passedSteps;
    int m_currentStep = -1;
    int m_currentLine = 0;
    int m_failedLine = 0;
    int m_errorLine = 0; ///< a script error's line (load)
    QString m_status;
    QString m_failureText; ///< packetdrill's words for the failed line

    QLabel* m_title = nullptr;
    QToolBar* m_bar = nullptr;
    QAction* m_open = nullptr;
    QAction* m_run = nullptr;
    QAction* m_step = nullptr;
    QAction* m_stop = nullptr;
    DrillScriptView* m_view = nullptr;
    QLabel* m_statusLabel = nullptr;
    QGroupBox* m_failure = nullptr;
    QLabel* m_headline = nullptr;
    QPlainTextEdit* m_expected = nullptr;
    QPlainTextEdit* m_actual = nullptr;
    QLabel* m_expectedTitle = nullptr;
    QLabel* m_actualTitle = nullptr;
    QLabel* m_explanation = nullptr;
};

} // namespace tcplab::ui
