#pragma once

#include "engine/scenario.h"
#include "ui/demo_panel.h"
#include "ui/engine_worker.h"
#include "ui/peer_feed.h"

#include <QMainWindow>
#include <QString>

#include <optional>

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

/// How long a passing message stays in the status bar.
inline constexpr int kStatusTimeoutMs = 8000;

class ConnectionPanel;
class DemoPanel;
class DrillPanel;
class PeerInfoView;
class PeerPanel;
class TimeSequenceView;
class HexView;
class LadderView;
class SegmentEditor;
class TimelineModel;

/// The desktop lab's main window: the lab bar (which lab, IPv4/IPv6, addresses,
/// Start/Stop, the probe's verdict), the exercise bar, the views (centre: the ladder, the
/// time-sequence graph, the peer kernel's variables), the segment table (bottom), the
/// segment editor (left), and on the right the decode tree, the connection panel, the demo
/// and the Peer dock (the peer's socket calls, sockets, tcp_info and sysctls).
///
/// Time is one axis everywhere: selecting a segment (ladder, table, graph) or a peer call
/// (the Peer dock's history) puts a cursor at its moment in the graph and the peer plot,
/// and a click in the peer plot selects the nearest frame.
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
    PeerPanel* peerPanel() const noexcept { return m_peer; }
    PeerInfoView* peerInfo() const noexcept { return m_peerInfo; }
    QDockWidget* peerDock() const noexcept { return m_peerDock; }
    DrillPanel* drillPanel() const noexcept { return m_drill; }
    QDockWidget* drillDock() const noexcept { return m_drillDock; }
    QTabWidget* views() const noexcept { return m_views; }
    /// Writes the ladder (or, with `graph`, the time-sequence graph) as PNG, SVG or PDF
    /// by the suffix of `path`. The error sentence on failure (no file is left then).
    QString exportImage(const QString& path, bool graph);
    /// Writes the peer kernel's plot (the third tab) as PNG, SVG or PDF.
    QString exportPeerInfoImage(const QString& path);
    engine::CloseMode closeMode() const;
    void setCloseMode(engine::CloseMode mode);

    /// Writes the timeline to `path`: pcap, CSV (.csv: one row per segment, with the
    /// tracker's and the tutor's words, then the peer's calls and samples in a second
    /// section, see ui/timeline_csv.h) or JSON (.json, frames and peer records). The error
    /// sentence on failure (nothing is written then). With a progress dialog when it takes a
    /// while.
    QString exportTimeline(const QString& path);
    /// Reads a pcap or pcapng file into a new timeline, tracked and annotated as if live
    /// (the lab is stopped first). The error sentence on failure; the frames before a
    /// break in the file are kept, and said so in the status bar.
    QString openCapture(const QString& path);
    /// Loads a packetdrill script into the Packetdrill dock and shows it. Empty when it can
    /// run, else why not (the dock shows the script and the line that cannot run).
    QString openDrill(const QString& path);
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
    /// Asks for a .pkt file (from the folder of the last one), then openDrill().
    void openDrillInteractively();
    /// Runs the loaded script (`step`: one line per Step), starting the lab first when it
    /// is not running; the dock shows how it goes and a failed packet's arrow is selected.
    void runDrill(bool step);
    void exportLadderInteractively();
    void exportGraphInteractively();
    void exportPeerInfoInteractively();
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
    /// The click-through demo's classic walk: starts the lab when needed, then the walk
    /// (its close mode from the demo panel).
    void startDemo();
    /// The demo's second walk, "the kernel connects to you" (passive open, peer calls).
    void startPassiveDemo();
    /// Shows the Peer dock and puts the focus in its call form (Ctrl+Shift+P).
    void focusPeerDock();
    /// Selects the frame nearest `timeNs` and puts the time cursors at `timeNs` (a peer
    /// call's moment).
    void selectMoment(qint64 timeNs);
    /// The same exercise against both built-in peers, side by side (a dialog).
    void compareStacks();

protected:
    void closeEvent(QCloseEvent* event) override;

private:
    void buildMenus();
    void buildLabBar();
    void buildEditorDock();
    void buildDemoDock();
    void buildPeerDock();
    void buildDrillDock();
    /// runDrill() once the lab is ready.
    void beginDrill();
    /// A script failed on a packet: selects the peer's segment it failed on, the last one
    /// the phantom received on the script's connection by the failure's time.
    void selectDrillMismatch();
    QWidget* buildGraphTab();
    QWidget* buildPeerInfoTab();
    void startDemoWalk(DemoWalk walk);
    /// New peer records: decoded once (m_feed), handed to the dock, the plot, the demo and
    /// the connection panel.
    void onPeerRecordsGrew(qsizetype newSize);
    /// The peer plot's socket: the Peer dock's selection, else the peer's end of the
    /// selected connection, else the most recent active one.
    void updatePeerPlotSocket();
    /// Forgets the peer's records (a new timeline) and reads the current one's.
    void resetPeerViews();
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
    PeerPanel* m_peer = nullptr;
    QDockWidget* m_peerDock = nullptr;
    DrillPanel* m_drill = nullptr;
    QDockWidget* m_drillDock = nullptr;
    /// runDrill() waits for the lab: whether it steps.
    std::optional<bool> m_drillPending;
    PeerInfoView* m_peerInfo = nullptr;
    QLabel* m_peerInfoCaption = nullptr;
    PeerFeed m_feed;
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
