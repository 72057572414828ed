#pragma once

#include "engine/scenario.h"
#include "ui/engine_worker.h"

#include <QMainWindow>
#include <QString>

class QAction;
class QCheckBox;
class QComboBox;
class QDockWidget;
class QLabel;
class QPushButton;
class QSplitter;
class QTabWidget;
class QTableView;
class QToolBar;
class QTreeWidget;

namespace tcplab::ui {

class ConnectionPanel;
class DemoPanel;
class TimeSequenceView;
class HexView;
class LadderView;
class SegmentEditor;
class TimelineModel;

/// The desktop lab's main window: the lab bar (which lab, IPv4/IPv6, addresses,
/// Start/Stop, the probe's verdict), the exercise bar, the ladder (centre), the segment
/// table (bottom) and the decode tree of the selected segment (a dock on the right).
class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    EngineWorker* worker() const noexcept { return m_worker; }
    TimelineModel* model() const noexcept { return m_model; }
    LadderView* ladder() const noexcept { return m_ladder; }
    QTableView* table() const noexcept { return m_table; }
    QTreeWidget* decodeTree() const noexcept { return m_decode; }
    SegmentEditor* editor() const noexcept { return m_editor; }
    HexView* hexView() const noexcept { return m_hex; }
    DemoPanel* demo() const noexcept { return m_demo; }
    TimeSequenceView* graph() const noexcept { return m_graph; }
    ConnectionPanel* connectionPanel() const noexcept { return m_connection; }
    /// Writes the ladder (or, with `graph`, the time-sequence graph) as PNG, SVG or PDF
    /// by the suffix of `path`. The error sentence on failure (no file is left then).
    QString exportImage(const QString& path, bool graph);
    engine::CloseMode closeMode() const;
    void setCloseMode(engine::CloseMode mode);

    /// Writes the timeline to `path`: pcap, CSV (.csv: one row per segment, with the
    /// tracker's and the tutor's words) or JSON (.json). The error sentence on failure
    /// (nothing is written then). With a progress dialog when it takes a while.
    QString exportTimeline(const QString& path);
    /// Reads a pcap or pcapng file into a new timeline, tracked and annotated as if live
    /// (the lab is stopped first). The error sentence on failure; the frames before a
    /// break in the file are kept, and said so in the status bar.
    QString openCapture(const QString& path);
    /// The lab the chooser names.
    LabChoice labChoice() const;
    /// Selects a lab in the chooser: "linux", "lwip" or "iface:NAME".
    bool setLabChoice(const QString& id);
    bool darkPalette() const noexcept { return m_dark; }

public Q_SLOTS:
    void startLab();
    void stopLab();
    /// Starts the lab first when it is not running.
    void runClassic();
    /// Asks for a file name and exports; errors in a message box.
    void exportTimelineInteractively();
    void openCaptureInteractively();
    void exportLadderInteractively();
    void exportGraphInteractively();
    /// The dark or the light palette, for the whole application (persisted).
    void setDarkPalette(bool dark);
    /// Selects `row` in the table, the ladder and the decode tree (-1: none).
    void selectRow(int row);
    /// Sends the editor's segment (Ctrl+Return). Empty on success, else why not (an
    /// invalid field, no lab, the address not claimed): nothing is sent then.
    QString fire();
    /// Fills the editor from the selected segment: the skeleton of an answer to a
    /// received one (ports, addresses and MACs swapped, ACK of all it carried), or a
    /// copy of a sent one to edit and send again. False when no TCP row is selected.
    bool replyToSelected();
    /// The click-through demo: starts the lab when needed, then the walk (its close
    /// mode from the demo panel).
    void startDemo();
    /// The same exercise against both built-in peers, side by side (a dialog).
    void compareStacks();

protected:
    void closeEvent(QCloseEvent* event) override;

private:
    void buildMenus();
    void buildLabBar();
    void buildEditorDock();
    void buildDemoDock();
    QWidget* buildGraphTab();
    /// The connection panel shows the selected segment's connection, else the latest.
    void updateConnectionPanel();
    /// The tutor's warnings for the editor's segment, the next-segment suggestion and the
    /// relative bases, from the tracker's view of the editor's connection.
    void updateAssist();
    /// A SYN from the phantom to the peer (a new source port, ISN 100) in the editor.
    void prefillSyn();
    void beginDemo();
    void buildExerciseBar();
    void fillLabChooser();
    void connectWorker();
    void onTimelineGrew(qsizetype newSize);
    /// Hands the model's new rows to the ladder and the graph.
    void addModelRowsToViews();
    void showDecode(int row);
    void updateLabBar();
    void restoreSettings();
    void saveSettings() const;
    /// False (with a status message) while an import or export runs.
    bool notBusy();

    EngineWorker* m_worker = nullptr;
    TimelineModel* m_model = nullptr;
    LadderView* m_ladder = nullptr;
    QTableView* m_table = nullptr;
    QTreeWidget* m_decode = nullptr;
    QSplitter* m_vertical = nullptr;
    QTabWidget* m_views = nullptr;
    QDockWidget* m_decodeDock = nullptr;
    QToolBar* m_labBar = nullptr;
    QToolBar* m_exerciseBar = nullptr;
    QAction* m_darkAction = nullptr;
    QDockWidget* m_editorDock = nullptr;
    QDockWidget* m_demoDock = nullptr;
    SegmentEditor* m_editor = nullptr;
    HexView* m_hex = nullptr;
    QLabel* m_hexCaption = nullptr; ///< whose bytes the hex view shows
    QPushButton* m_fire = nullptr;
    QPushButton* m_reply = nullptr;
    DemoPanel* m_demo = nullptr;
    TimeSequenceView* m_graph = nullptr;
    QComboBox* m_graphDirection = nullptr;
    ConnectionPanel* m_connection = nullptr;
    QDockWidget* m_connectionDock = nullptr;
    bool m_demoPending = false; ///< startDemo() waits for the lab to be ready
    int m_demoFed = 0;          ///< model rows handed to the demo
    bool m_assisting = false;   ///< updateAssist() runs (its edits re-enter)
    bool m_editorFilled = false;

    QComboBox* m_labChooser = nullptr;
    QComboBox* m_family = nullptr;
    QLabel* m_addresses = nullptr;
    QPushButton* m_start = nullptr;
    QPushButton* m_stop = nullptr;
    QLabel* m_probe = nullptr;
    QPushButton* m_run = nullptr;
    QComboBox* m_closeMode = nullptr;
    QCheckBox* m_follow = nullptr;
    QCheckBox* m_autoAck = nullptr;
    int m_ladderRows = 0; ///< model rows handed to the ladder
    bool m_dark = false;
    bool m_busy = false; ///< an import or export runs (its progress loop delivers events)
};

} // namespace tcplab::ui
