#include "ui/main_window.h"

#include "drill/export_script.h"
#include "engine/scenario_runner.h"
#include "tcp/tutor.h"
#include "timeline/analysis.h"
#include "timeline/timeline_io.h"
#include "ui/background_task.h"
#include "ui/compare_dialog.h"
#include "ui/connection_panel.h"
#include "ui/demo_panel.h"
#include "ui/drill_panel.h"
#include "ui/engine_worker.h"
#include "ui/hex_view.h"
#include "ui/ladder_view.h"
#include "ui/palette.h"
#include "ui/peer_call_form.h"
#include "ui/peer_info_view.h"
#include "ui/peer_panel.h"
#include "ui/plot_export.h"
#include "ui/segment_editor.h"
#include "ui/time_sequence_view.h"
#include "ui/timeline_csv.h"
#include "ui/timeline_model.h"
#include "wire/frame_json.h"

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QCloseEvent>
#include <QComboBox>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QKeySequence>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QPushButton>
#include <QScrollArea>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QTabWidget>
#include <QTableView>
#include <QToolBar>
#include <QTreeWidget>
#include <QVBoxLayout>

namespace tcplab::ui {

namespace {

QString qs(const std::string& s) {
    return QString::fromStdString(s);
}

/// A JSON value as one line for the tree: strings without quotes.
QString jsonText(const nlohmann::json& value) {
    if (value.is_string())
        return qs(value.get<std::string>());
    if (value.is_null())
        return QStringLiteral("—");
    return qs(value.dump());
}

} // namespace

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent) {
    setObjectName(QStringLiteral("mainWindow"));
    setWindowTitle(QStringLiteral("tcplab"));
    m_worker = new EngineWorker(this);
    m_model = new TimelineModel(this);

    m_ladder = new LadderView;
    m_table = new QTableView;
    m_table->setObjectName(QStringLiteral("segmentTable"));
    m_table->setModel(m_model);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->setAlternatingRowColors(true);
    m_table->verticalHeader()->setVisible(false);
    m_table->verticalHeader()->setDefaultSectionSize(m_table->fontMetrics().height() + 6);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->setWordWrap(false);
    // Room for what the columns hold ("phantom ← peer", "ESTABLISHED / SYN-RECEIVED").
    const QFontMetrics metrics = m_table->fontMetrics();
    const auto widthOf = [&](const char* sample) {
        return metrics.horizontalAdvance(QString::fromUtf8(sample)) + 16;
    };
    m_table->setColumnWidth(TimelineModel::Number, widthOf("00000"));
    m_table->setColumnWidth(TimelineModel::Time, widthOf("000000.000"));
    m_table->setColumnWidth(TimelineModel::Direction, widthOf("phantom ← peer"));
    m_table->setColumnWidth(TimelineModel::Flags, widthOf("SYN, ACK, ECE"));
    m_table->setColumnWidth(TimelineModel::RelSeq, widthOf("0000000000"));
    m_table->setColumnWidth(TimelineModel::RelAck, widthOf("0000000000"));
    m_table->setColumnWidth(TimelineModel::Length, widthOf("00000"));
    m_table->setColumnWidth(TimelineModel::Window, widthOf("0000000"));
    m_table->setColumnWidth(TimelineModel::Classes, widthOf("retransmission,dup_ack"));
    m_table->setColumnWidth(TimelineModel::StatesAfter, widthOf("ESTABLISHED / SYN-RECEIVED"));
    m_decode = new QTreeWidget;
    m_decode->setObjectName(QStringLiteral("decodeTree"));
    m_decode->setHeaderLabels({QStringLiteral("Field"), QStringLiteral("Value")});
    m_decode->setMinimumWidth(260);

    m_views = new QTabWidget;
    m_views->setObjectName(QStringLiteral("views"));
    m_views->setDocumentMode(true);
    m_views->addTab(m_ladder, QStringLiteral("Ladder"));
    m_views->addTab(buildGraphTab(), QStringLiteral("Time-sequence graph"));
    m_views->addTab(buildPeerInfoTab(), QStringLiteral("The peer's kernel (cwnd, rtt)"));
    m_vertical = new QSplitter(Qt::Vertical);
    m_vertical->setObjectName(QStringLiteral("tableSplitter"));
    m_vertical->addWidget(m_views);
    m_vertical->addWidget(m_table);
    m_vertical->setStretchFactor(0, 3);
    m_vertical->setStretchFactor(1, 2);
    m_vertical->setSizes({520, 300});
    setCentralWidget(m_vertical);

    m_decodeDock = new QDockWidget(QStringLiteral("Decode"), this);
    m_decodeDock->setObjectName(QStringLiteral("decodeDock"));
    m_decodeDock->setWidget(m_decode);
    addDockWidget(Qt::RightDockWidgetArea, m_decodeDock);

    buildEditorDock();
    buildDemoDock();
    m_connection = new ConnectionPanel;
    m_connectionDock = new QDockWidget(QStringLiteral("Connection"), this);
    m_connectionDock->setObjectName(QStringLiteral("connectionDock"));
    // In a scroll area: the panel's six columns must not make the whole right dock wide.
    auto* connectionScroll = new QScrollArea;
    connectionScroll->setObjectName(QStringLiteral("connectionScroll"));
    connectionScroll->setWidget(m_connection);
    connectionScroll->setWidgetResizable(true);
    connectionScroll->setFrameShape(QFrame::NoFrame);
    m_connectionDock->setWidget(connectionScroll);
    addDockWidget(Qt::RightDockWidgetArea, m_connectionDock);
    buildPeerDock();
    buildDrillDock();
    tabifyDockWidget(m_decodeDock, m_demoDock);
    tabifyDockWidget(m_decodeDock, m_connectionDock);
    tabifyDockWidget(m_decodeDock, m_peerDock);
    tabifyDockWidget(m_decodeDock, m_drillDock);
    m_decodeDock->raise();
    buildLabBar();
    buildExerciseBar();
    buildMenus();
    connectWorker();

    connect(m_ladder, &LadderView::segmentClicked, this, &MainWindow::selectRow);
    connect(
        m_table->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
        [this](const QModelIndex& current) { selectRow(current.isValid() ? current.row() : -1); });
    connect(m_model, &QAbstractItemModel::modelReset, this, [this] {
        m_ladder->clear();
        m_ladderRows = 0;
        m_demoFed = 0;
        m_decode->clear();
        m_graph->setModel(m_model);
        m_graph->setCursorTime(std::nullopt);
        addModelRowsToViews();
        resetPeerViews();
    });
    connect(m_model, &QAbstractItemModel::rowsInserted, this, &MainWindow::addModelRowsToViews);

    resize(1280, 820);
    restoreSettings();
    updateLabBar();
    statusBar()->showMessage(
        QStringLiteral("Start the built-in lab, then run the classic exercise (Ctrl+R)."));
}

MainWindow::~MainWindow() = default;

void MainWindow::buildLabBar() {
    m_labBar = addToolBar(QStringLiteral("Lab"));
    m_labBar->setObjectName(QStringLiteral("labBar"));
    m_labBar->setMovable(false);

    m_labChooser = new QComboBox;
    m_labChooser->setObjectName(QStringLiteral("labChooser"));
    m_labChooser->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    fillLabChooser();
    m_family = new QComboBox;
    m_family->setObjectName(QStringLiteral("family"));
    m_family->addItems({QStringLiteral("IPv4"), QStringLiteral("IPv6")});
    m_addresses = new QLabel;
    m_addresses->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_start = new QPushButton(QStringLiteral("Start"));
    m_start->setToolTip(QStringLiteral("Start the lab and claim the phantom's address (F5)"));
    m_stop = new QPushButton(QStringLiteral("Stop"));
    m_probe = new QLabel;
    m_probe->setObjectName(QStringLiteral("probeStatus"));
    m_probe->setTextFormat(Qt::RichText);

    m_labBar->addWidget(new QLabel(QStringLiteral(" Lab: ")));
    m_labBar->addWidget(m_labChooser);
    m_labBar->addWidget(m_family);
    m_labBar->addWidget(m_start);
    m_labBar->addWidget(m_stop);
    m_labBar->addSeparator();
    m_labBar->addWidget(m_addresses);
    m_labBar->addSeparator();
    m_labBar->addWidget(m_probe);

    connect(m_start, &QPushButton::clicked, this, &MainWindow::startLab);
    connect(m_stop, &QPushButton::clicked, this, &MainWindow::stopLab);
    connect(m_family, &QComboBox::currentIndexChanged, this, [this] { updateLabBar(); });
    connect(m_labChooser, &QComboBox::currentIndexChanged, this, [this] { updateLabBar(); });
}

void MainWindow::buildEditorDock() {
    m_editor = new SegmentEditor;
    m_hex = new HexView;
    m_hex->setObjectName(QStringLiteral("hexView"));
    m_fire = new QPushButton(QStringLiteral("Fire"));
    m_fire->setObjectName(QStringLiteral("fire"));
    m_fire->setToolTip(QStringLiteral("Send this segment from the phantom (Ctrl+Return)"));
    m_fire->setDefault(true);
    m_reply = new QPushButton(QStringLiteral("Reply to selected"));
    m_reply->setObjectName(QStringLiteral("replyToSelected"));
    m_reply->setToolTip(QStringLiteral("Fill the editor with an answer to the selected segment, "
                                       "or a copy of a segment you sent (Ctrl+Y)"));
    auto* newSyn = new QPushButton(QStringLiteral("New SYN"));
    newSyn->setToolTip(
        QStringLiteral("A SYN on a new source port, ISN 100: a fresh connection (Ctrl+N)"));

    auto* buttons = new QHBoxLayout;
    buttons->addWidget(newSyn);
    buttons->addWidget(m_reply);
    buttons->addStretch(1);
    buttons->addWidget(m_fire);
    auto* split = new QSplitter(Qt::Vertical);
    split->setObjectName(QStringLiteral("editorSplitter"));
    m_hexCaption = new QLabel;
    m_hexCaption->setObjectName(QStringLiteral("hexCaption"));
    auto* hexBox = new QWidget;
    auto* hexLayout = new QVBoxLayout(hexBox);
    hexLayout->setContentsMargins(0, 0, 0, 0);
    hexLayout->setSpacing(2);
    hexLayout->addWidget(m_hexCaption);
    hexLayout->addWidget(m_hex, 1);
    split->addWidget(m_editor);
    split->addWidget(hexBox);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 1);
    auto* box = new QWidget;
    auto* layout = new QVBoxLayout(box);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addWidget(split, 1);
    layout->addLayout(buttons);

    m_editorDock = new QDockWidget(QStringLiteral("Segment"), this);
    m_editorDock->setObjectName(QStringLiteral("editorDock"));
    m_editorDock->setWidget(box);
    addDockWidget(Qt::LeftDockWidgetArea, m_editorDock);

    connect(m_fire, &QPushButton::clicked, this, [this] { fire(); });
    connect(m_reply, &QPushButton::clicked, this, [this] { replyToSelected(); });
    connect(newSyn, &QPushButton::clicked, this, &MainWindow::prefillSyn);
    connect(m_editor, &SegmentEditor::validityChanged, m_fire, &QPushButton::setEnabled);
    connect(m_editor, &SegmentEditor::specChanged, this, [this] {
        // While a field is invalid the hex view keeps the last frame that encoded.
        if (const auto bytes = m_editor->frameBytes()) {
            m_hex->setFrame(*bytes);
            m_hexCaption->setText(QStringLiteral("Bytes of the segment in the editor"));
        }
        updateAssist();
    });
    connect(m_editor, &SegmentEditor::fieldFocused, m_hex, &HexView::highlightField);
    connect(m_hex, &HexView::fieldActivated, m_editor, &SegmentEditor::focusField);
}

QWidget* MainWindow::buildGraphTab() {
    m_graph = new TimeSequenceView;
    m_graph->setObjectName(QStringLiteral("timeSequenceGraph"));
    m_graph->setModel(m_model);
    m_graphDirection = new QComboBox;
    m_graphDirection->setObjectName(QStringLiteral("graphDirection"));
    m_graphDirection->addItem(QStringLiteral("the peer's data (what the phantom receives)"),
                              int(timeline::Direction::Received));
    m_graphDirection->addItem(QStringLiteral("the phantom's data (what it sends)"),
                              int(timeline::Direction::Sent));
    auto* row = new QHBoxLayout;
    row->addWidget(new QLabel(QStringLiteral("Sequence numbers of")));
    row->addWidget(m_graphDirection);
    row->addStretch(1);
    auto* tab = new QWidget;
    auto* layout = new QVBoxLayout(tab);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(row);
    layout->addWidget(m_graph, 1);
    m_graph->setDirection(timeline::Direction::Received);
    connect(m_graphDirection, &QComboBox::currentIndexChanged, this, [this] {
        m_graph->setDirection(timeline::Direction(m_graphDirection->currentData().toInt()));
    });
    connect(m_graph, &TimeSequenceView::segmentClicked, this, &MainWindow::selectRow);
    return tab;
}

QWidget* MainWindow::buildPeerInfoTab() {
    m_peerInfo = new PeerInfoView;
    m_peerInfo->setObjectName(QStringLiteral("peerInfoPlot"));
    m_peerInfoCaption = new QLabel;
    m_peerInfoCaption->setObjectName(QStringLiteral("peerInfoCaption"));
    m_peerInfoCaption->setWordWrap(true); // long captions must not widen the window
    m_peerInfoCaption->setText(
        QStringLiteral("The socket selected in the Peer dock, else the peer's end of the "
                       "selected connection, else the most recent active one."));
    auto* fit = new QPushButton(QStringLiteral("Fit"));
    fit->setToolTip(QStringLiteral("Show all the samples and follow new ones again"));
    auto* row = new QHBoxLayout;
    row->addWidget(m_peerInfoCaption, 1);
    row->addWidget(fit);
    auto* tab = new QWidget;
    auto* layout = new QVBoxLayout(tab);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(row);
    layout->addWidget(m_peerInfo, 1);
    connect(fit, &QPushButton::clicked, this, [this] { m_peerInfo->setFollowLatest(true); });
    connect(m_peerInfo, &PeerInfoView::timeClicked, this, [this](double ms) {
        // The nearest frame, on the ladder's and the graph's time axis.
        if (const int nearest = m_model->rowNearestMs(ms); nearest >= 0)
            selectRow(nearest);
    });
    return tab;
}

void MainWindow::buildPeerDock() {
    m_peer = new PeerPanel;
    m_peerDock = new QDockWidget(QStringLiteral("Peer"), this);
    m_peerDock->setObjectName(QStringLiteral("peerDock"));
    m_peerDock->setWidget(m_peer);
    addDockWidget(Qt::RightDockWidgetArea, m_peerDock);
    connect(m_peer, &PeerPanel::callRequested, this, [this](const peer::Request& request) {
        if (m_worker->peerCall(request) == 0)
            statusBar()->showMessage(QStringLiteral("Start the lab first: the peer agent runs "
                                                    "in the lab's peer namespace."),
                                     kStatusTimeoutMs);
    });
    connect(m_peer, &PeerPanel::callSelected, this, &MainWindow::selectMoment);
    connect(m_peer, &PeerPanel::socketSelected, this, [this] { updatePeerPlotSocket(); });
    connect(m_peer, &PeerPanel::listeningPortChanged, m_worker,
            [this](quint16 port) { m_worker->setListeningPort(port); });
    connect(m_peer, &PeerPanel::advertisedWindowChanged, m_worker,
            [this](std::optional<std::uint16_t> window) { m_worker->setAdvertisedWindow(window); });
    connect(m_peer, &PeerPanel::snapLengthChanged, m_worker,
            [this](qulonglong bytes) { m_worker->setSnapLength(std::size_t(bytes)); });
}

void MainWindow::resetPeerViews() {
    m_feed.reset();
    m_peer->clear();
    m_peerInfo->clear();
    m_peerInfo->setOriginNs(m_model->originNs());
    if (const auto* tl = m_model->timeline())
        onPeerRecordsGrew(qsizetype(tl->peerSize()));
}

void MainWindow::onPeerRecordsGrew(qsizetype newSize) {
    const timeline::Timeline* tl = m_model->timeline();
    if (!tl)
        return;
    const PeerBatch batch = m_feed.read(*tl, std::size_t(std::max<qsizetype>(0, newSize)));
    if (batch.samples.empty())
        return;
    m_peer->addSamples(batch.samples);
    m_peerInfo->setOriginNs(m_model->originNs());
    m_peerInfo->addSamples(batch.samples);
    m_demo->onSamples(batch.samples);
    updatePeerPlotSocket();
    updateConnectionPanel();
}

void MainWindow::updatePeerPlotSocket() {
    std::optional<std::uint64_t> inode = m_peer->selectedSocket();
    QString why = QStringLiteral("The socket selected in the Peer dock.");
    if (!inode) {
        const int row = m_table->currentIndex().row();
        if (row >= 0 && row < m_model->rowCount() && m_model->row(row).segment) {
            const tcp::Connection& c =
                m_model->connections()[m_model->row(row).segment->connection];
            const tcp::EndState& phantom = c.end(c.localEnd());
            const tcp::EndState& peerEnd = c.end(std::uint8_t(1 - c.localEnd()));
            inode = m_peerInfo->socketOf(peerEnd.endpoint, phantom.endpoint);
            if (inode)
                why = QStringLiteral("The peer's end of the selected connection (%1).")
                          .arg(qs(peerEnd.endpoint.toString()));
        }
    }
    if (!inode)
        why = QStringLiteral("The most recent active socket of the peer (select one in the Peer "
                             "dock, or a segment of a connection, to choose).");
    m_peerInfo->setSocket(inode);
    m_peerInfoCaption->setText(why);
}

void MainWindow::focusPeerDock() {
    m_peerDock->show();
    m_peerDock->raise();
    m_peer->tabs()->setCurrentIndex(0);
    if (auto* line = m_peer->findChild<QLineEdit*>(QStringLiteral("peerCallLine")))
        line->setFocus(Qt::ShortcutFocusReason);
}

void MainWindow::selectMoment(qint64 timeNs) {
    const int row = m_model->rowNearest(timeNs);
    if (row >= 0)
        selectRow(row);
    // The cursors at the call's own moment, not the frame's.
    const double ms = m_model->msSinceOrigin(timeNs);
    m_graph->setCursorTime(ms);
    m_peerInfo->setCursorTime(ms);
}

void MainWindow::updateConnectionPanel() {
    const tcp::ConnectionTable& table = m_model->connections();
    if (table.size() == 0) {
        m_connection->clear();
        return;
    }
    std::size_t index = table.size() - 1;
    const int row = m_table->currentIndex().row();
    if (row >= 0 && row < m_model->rowCount() && m_model->row(row).segment)
        index = m_model->row(row).segment->connection;
    const tcp::Connection& connection = table[index];
    const tcp::EndState& local = connection.end(connection.localEnd());
    m_connection->setConnection(&connection, local.endpoint);
    // The peer kernel's own view of the same connection: its socket's local end is the
    // tracker's peer end.
    const tcp::EndState& peerEnd = connection.end(std::uint8_t(1 - connection.localEnd()));
    const peer::Sample* sample = m_feed.latestFor(peerEnd.endpoint, local.endpoint);
    m_connection->setKernelSample(sample ? &sample->sockets.front() : nullptr);
}

void MainWindow::buildDemoDock() {
    m_demo = new DemoPanel;
    m_demoDock = new QDockWidget(QStringLiteral("Demo"), this);
    m_demoDock->setObjectName(QStringLiteral("demoDock"));
    m_demoDock->setWidget(m_demo);
    addDockWidget(Qt::RightDockWidgetArea, m_demoDock);
    connect(m_demo, &DemoPanel::startRequested, this, &MainWindow::startDemoWalk);
    connect(m_demo, &DemoPanel::peerCallRequested, this, [this](const peer::Request& request) {
        m_demo->peerCalled(m_worker->peerCall(request));
    });
    connect(m_demo, &DemoPanel::prefillReady, this,
            [this](const wire::SegmentSpec& spec, const QString& step) {
                m_editor->setSpec(spec);
                m_editorFilled = true;
                m_editorDock->raise();
                statusBar()->showMessage(
                    QStringLiteral("Demo: \"%1\" is in the editor. Change a field if you like, "
                                   "then Fire (Ctrl+Return).")
                        .arg(step));
            });
    connect(m_demo, &DemoPanel::demoFinished, this, [this](bool ok, const QString& message) {
        statusBar()->showMessage(ok ? QStringLiteral("Demo complete: %1").arg(message)
                                    : QStringLiteral("The demo stopped: %1").arg(message));
    });
}

void MainWindow::compareStacks() {
    // Deletes itself on close; runs its own two labs, so the main one is untouched.
    auto* dialog = new CompareDialog(this);
    dialog->setCloseMode(closeMode());
    dialog->setIpv6(m_family->currentIndex() == 1);
    dialog->show();
    dialog->start();
}

void MainWindow::startDemo() {
    startDemoWalk(DemoWalk::Classic);
}

void MainWindow::startPassiveDemo() {
    startDemoWalk(DemoWalk::Passive);
}

void MainWindow::startDemoWalk(DemoWalk walk) {
    m_demo->setWalk(walk);
    m_demoDock->show();
    m_demoDock->raise();
    m_demoPending = true;
    if (!m_worker->running())
        startLab();
    else if (m_worker->addressClaimed() && m_worker->peerMac())
        beginDemo();
}

void MainWindow::beginDemo() {
    m_demoPending = false;
    auto params = m_demo->walk() == DemoWalk::Passive
                      ? m_worker->nextPassiveConnection()
                      : m_worker->nextConnection(m_demo->closeMode());
    if (!params)
        return;
    m_demoFed = m_model->rowCount(); // the walk follows frames from now on
    m_ladder->setFollowLatest(true);
    m_demo->start(*params);
}

void MainWindow::prefillSyn() {
    auto params = m_worker->nextConnection(engine::CloseMode::Fin);
    if (!params) {
        statusBar()->showMessage(QStringLiteral("Start the lab first: the SYN needs the "
                                                "phantom's and the peer's addresses."),
                                 kStatusTimeoutMs);
        return;
    }
    engine::SendStep syn;
    syn.flags = wire::tcp_flags::kSyn;
    m_editor->setSpec(engine::ScenarioRunner(engine::Scenario{}, *params).buildSegment(syn));
    m_editorFilled = true;
}

QString MainWindow::fire() {
    const auto bytes = m_editor->frameBytes();
    QString error;
    if (!bytes)
        error = QStringLiteral("Fix the marked fields first: %1")
                    .arg(m_editor->errors().value(0, QStringLiteral("the segment does not "
                                                                    "encode")));
    else
        error = m_worker->sendFrame(*bytes);
    if (!error.isEmpty()) {
        statusBar()->showMessage(error, kStatusTimeoutMs);
        return error;
    }
    m_ladder->setFollowLatest(true);
    statusBar()->showMessage(QStringLiteral("Fired %1 bytes.").arg(bytes->size()),
                             kStatusTimeoutMs);
    return {};
}

bool MainWindow::replyToSelected() {
    const int row = m_table->currentIndex().row();
    if (row < 0 || row >= m_model->rowCount() || !m_model->row(row).tcp) {
        statusBar()->showMessage(QStringLiteral("Select a TCP segment first (in the ladder or "
                                                "the table)."),
                                 kStatusTimeoutMs);
        return false;
    }
    const wire::Frame frame = m_model->entry(row).decode();
    const bool sent = m_model->row(row).direction == timeline::Direction::Sent;
    std::optional<wire::SegmentSpec> spec =
        sent ? wire::SegmentSpec::fromFrame(frame) : wire::SegmentSpec::replyTo(frame);
    if (!spec || !frame.tcp()) {
        statusBar()->showMessage(QStringLiteral("This segment cannot be answered from here (an "
                                                "IPv6 extension header or a VLAN tag)."),
                                 kStatusTimeoutMs);
        return false;
    }
    if (!sent) {
        // Acknowledge everything it carried; send from where it says we are.
        const wire::TcpHeader& tcp = *frame.tcp();
        const auto segment = tcp::segmentOf(frame);
        spec->tcp.flags = wire::tcp_flags::kAck;
        spec->tcp.seq = tcp.has(wire::tcp_flags::kAck) ? tcp.ack : wire::SeqNum{0};
        spec->tcp.ack = tcp.seq + (segment ? segment->segment.length() : 0u);
        spec->tcp.window = 65535;
    }
    m_editor->setSpec(*spec);
    m_editorFilled = true;
    m_editorDock->raise();
    statusBar()->showMessage(
        sent ? QStringLiteral("A copy of segment %1 is in the editor.").arg(row + 1)
             : QStringLiteral("An ACK of segment %1 is in the editor: add "
                              "flags or data, then Fire.")
                   .arg(row + 1),
        kStatusTimeoutMs);
    return true;
}

void MainWindow::updateAssist() {
    if (m_assisting)
        return;
    const auto spec = m_editor->spec();
    if (!spec) {
        m_editor->setWarnings({});
        return;
    }
    m_assisting = true;
    const auto& tcpHeader = spec->tcp;
    std::optional<wire::IpAddress> src;
    std::optional<wire::IpAddress> dst;
    if (const auto* v4 = spec->ipv4If()) {
        src = wire::IpAddress{v4->src};
        dst = wire::IpAddress{v4->dst};
    } else if (const auto* v6 = spec->ipv6If()) {
        src = wire::IpAddress{v6->src};
        dst = wire::IpAddress{v6->dst};
    }
    const tcp::Endpoint local = tcp::Endpoint::of(*src, tcpHeader.srcPort);
    const tcp::Endpoint remote = tcp::Endpoint::of(*dst, tcpHeader.dstPort);
    const tcp::ConnectionTable& table = m_model->connections();
    const auto index = table.find(local, remote);
    // A connection the tracker has not seen yet starts CLOSED / LISTEN in the tutor's eyes.
    tcp::Connection fresh(local, remote);
    fresh.setLocalEnd(0);
    const tcp::Connection& connection = index ? table[*index] : fresh;

    QStringList warnings;
    for (const auto& w : tcp::checkBeforeSend(
             connection, local,
             tcp::Segment::fromHeader(tcpHeader, std::uint32_t(spec->payload.size()))))
        warnings << QStringLiteral("%1 (%2)").arg(qs(w.message), qs(w.rfc));
    m_editor->setWarnings(warnings);

    if (index) {
        const auto localEnd = connection.endOf(local);
        if (localEnd) {
            const tcp::EndState& us = connection.end(*localEnd);
            const tcp::EndState& peer = connection.end(std::uint8_t(1 - *localEnd));
            m_editor->setRelativeBases(us.issKnown ? std::optional(us.iss.value()) : std::nullopt,
                                       peer.issKnown ? std::optional(peer.iss.value())
                                                     : std::nullopt);
        }
        if (const auto next = tcp::suggestNext(connection, local)) {
            wire::SegmentSpec suggestion = *spec;
            suggestion.tcp.flags = next->flags;
            suggestion.tcp.seq = next->seq;
            suggestion.tcp.ack = next->ack;
            suggestion.tcp.window = next->window;
            m_editor->setSuggestion(suggestion, qs(next->reason));
        }
    } else {
        m_editor->setRelativeBases(std::nullopt, std::nullopt);
    }
    m_assisting = false;
}

void MainWindow::fillLabChooser() {
    // The built-in peers first (no privileges, no set-up), then the interfaces.
    m_labChooser->clear();
    m_labChooser->addItem(QStringLiteral("Built-in Linux lab"), QStringLiteral("linux"));
    m_labChooser->setItemData(0,
                              QStringLiteral("A real Linux kernel in a private network namespace, "
                                             "made without privileges"),
                              Qt::ToolTipRole);
    m_labChooser->addItem(QStringLiteral("Built-in lwIP lab"), QStringLiteral("lwip"));
    m_labChooser->setItemData(1,
                              QStringLiteral("lwIP, an embedded TCP/IP stack, in a helper "
                                             "process: works everywhere"),
                              Qt::ToolTipRole);
    const QStringList interfaces = captureInterfaces();
    if (!interfaces.isEmpty())
        m_labChooser->insertSeparator(m_labChooser->count());
    for (const QString& name : interfaces) {
        m_labChooser->addItem(QStringLiteral("Interface %1").arg(name),
                              QStringLiteral("iface:%1").arg(name));
        m_labChooser->setItemData(
            m_labChooser->count() - 1,
            QStringLiteral("libpcap on %1 with the namespace lab's addresses (needs "
                           "CAP_NET_RAW; see scripts/tcplab-lab)")
                .arg(name),
            Qt::ToolTipRole);
    }
}

LabChoice MainWindow::labChoice() const {
    LabChoice choice;
    choice.ipv6 = m_family->currentIndex() == 1;
    const QString id = m_labChooser->currentData().toString();
    if (id == QStringLiteral("lwip")) {
        choice.kind = LabKind::Lwip;
    } else if (id.startsWith(QStringLiteral("iface:"))) {
        choice.kind = LabKind::Interface;
        choice.interfaceName = id.mid(6);
    }
    return choice;
}

bool MainWindow::setLabChoice(const QString& id) {
    const int index = m_labChooser->findData(id);
    if (index < 0)
        return false;
    m_labChooser->setCurrentIndex(index);
    return true;
}

void MainWindow::buildExerciseBar() {
    m_exerciseBar = addToolBar(QStringLiteral("Exercise"));
    m_exerciseBar->setObjectName(QStringLiteral("exerciseBar"));
    m_run = new QPushButton(QStringLiteral("Run the classic exercise"));
    m_run->setToolTip(QStringLiteral("SYN, SYN-ACK, ACK, the HTTP GET, the response, the close "
                                     "(Ctrl+R)"));
    m_closeMode = new QComboBox;
    m_closeMode->setObjectName(QStringLiteral("closeMode"));
    m_closeMode->addItem(QStringLiteral("close: FIN"), int(engine::CloseMode::Fin));
    m_closeMode->addItem(QStringLiteral("close: RST"), int(engine::CloseMode::Rst));
    m_closeMode->addItem(QStringLiteral("close: peer first"), int(engine::CloseMode::Peer));
    m_autoAck = new QCheckBox(QStringLiteral("Auto-ACK"));
    m_autoAck->setObjectName(QStringLiteral("autoAck"));
    m_autoAck->setToolTip(QStringLiteral(
        "Acknowledge the peer's new data and FIN at once while no scenario runs, so a long "
        "answer does not stall while you craft the next segment"));
    m_follow = new QCheckBox(QStringLiteral("Follow latest"));
    m_follow->setObjectName(QStringLiteral("followLatest"));
    m_follow->setChecked(m_ladder->followLatest());

    m_exerciseBar->addWidget(m_run);
    m_exerciseBar->addWidget(m_closeMode);
    m_exerciseBar->addSeparator();
    m_exerciseBar->addWidget(m_autoAck);
    m_exerciseBar->addWidget(m_follow);

    connect(m_run, &QPushButton::clicked, this, &MainWindow::runClassic);
    connect(m_autoAck, &QCheckBox::toggled, m_worker, &EngineWorker::setAutoAck);
    connect(m_follow, &QCheckBox::toggled, m_ladder, &LadderView::setFollowLatest);
    connect(m_ladder, &LadderView::followLatestChanged, m_follow, &QCheckBox::setChecked);
}

void MainWindow::buildMenus() {
    const auto add = [this](QMenu* menu, const QString& text, const QKeySequence& keys, auto slot) {
        QAction* action = menu->addAction(text);
        if (!keys.isEmpty())
            action->setShortcut(keys);
        connect(action, &QAction::triggered, this, slot);
        return action;
    };
    QMenu* file = menuBar()->addMenu(QStringLiteral("&File"));
    add(file, QStringLiteral("&Open capture…"), QKeySequence::Open,
        &MainWindow::openCaptureInteractively);
    add(file, QStringLiteral("Open &packetdrill script…"),
        QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O), &MainWindow::openDrillInteractively);
    add(file, QStringLiteral("&Export timeline…"), QKeySequence(Qt::CTRL | Qt::Key_E),
        &MainWindow::exportTimelineInteractively);
    add(file, QStringLiteral("Export the &ladder as an image…"),
        QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_E), &MainWindow::exportLadderInteractively);
    add(file, QStringLiteral("Export the &graph as an image…"), QKeySequence(),
        &MainWindow::exportGraphInteractively);
    add(file, QStringLiteral("Export the &peer kernel's plot as an image…"), QKeySequence(),
        &MainWindow::exportPeerInfoInteractively);
    file->addSeparator();
    add(file, QStringLiteral("&Quit"), QKeySequence(Qt::CTRL | Qt::Key_Q), &QWidget::close);

    QMenu* lab = menuBar()->addMenu(QStringLiteral("&Lab"));
    add(lab, QStringLiteral("&Start the lab"), QKeySequence(Qt::Key_F5), &MainWindow::startLab);
    add(lab, QStringLiteral("S&top the lab"), QKeySequence(Qt::SHIFT | Qt::Key_F5),
        &MainWindow::stopLab);
    lab->addSeparator();
    add(lab, QStringLiteral("&Run the classic exercise"), QKeySequence(Qt::CTRL | Qt::Key_R),
        &MainWindow::runClassic);
    add(lab, QStringLiteral("&Compare stacks (Linux and lwIP)…"),
        QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_C), &MainWindow::compareStacks);
    lab->addSeparator();
    // F5 and Shift+F5 are the lab's here; in the Packetdrill dock they run and stop the
    // script (the panel takes them while it has the focus). F10 is the script's anywhere.
    add(lab, QStringLiteral("Run the packetdrill script"), QKeySequence(),
        [this] { m_drill->run(); });
    add(lab, QStringLiteral("Ste&p the packetdrill script"), QKeySequence(Qt::Key_F10),
        [this] { m_drill->step(); });
    add(lab, QStringLiteral("Stop the packetdrill script"), QKeySequence(),
        [this] { m_drill->stop(); });

    QMenu* segment = menuBar()->addMenu(QStringLiteral("&Segment"));
    // In the demo's peer steps the same keys make the peer's call.
    add(segment, QStringLiteral("&Fire"), QKeySequence(Qt::CTRL | Qt::Key_Return), [this] {
        if (m_demo->peerCallDue())
            m_demo->makeCall();
        else
            fire();
    });
    add(segment, QStringLiteral("&Reply to selected"), QKeySequence(Qt::CTRL | Qt::Key_Y),
        [this] { replyToSelected(); });
    add(segment, QStringLiteral("&New SYN"), QKeySequence(Qt::CTRL | Qt::Key_N),
        &MainWindow::prefillSyn);
    segment->addSeparator();
    add(segment, QStringLiteral("Start the handshake &demo"), QKeySequence(Qt::CTRL | Qt::Key_D),
        &MainWindow::startDemo);
    add(segment, QStringLiteral("Demo: the &kernel connects to you"),
        QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_K), &MainWindow::startPassiveDemo);

    QMenu* peerMenu = menuBar()->addMenu(QStringLiteral("&Peer"));
    add(peerMenu, QStringLiteral("&Go to the Peer dock"),
        QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_P), &MainWindow::focusPeerDock);
    add(peerMenu, QStringLiteral("&Make the call"),
        QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_Return), [this] {
            if (!m_peer->makeCall())
                statusBar()->showMessage(
                    QStringLiteral("The call is not valid: %1").arg(m_peer->form()->errorText()),
                    kStatusTimeoutMs);
        });
    add(peerMenu, QStringLiteral("Read the &sysctls again"), QKeySequence(),
        [this] { m_peer->refreshSysctls(); });

    QMenu* view = menuBar()->addMenu(QStringLiteral("&View"));
    m_darkAction = view->addAction(QStringLiteral("&Dark palette"));
    m_darkAction->setCheckable(true);
    m_darkAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_D));
    connect(m_darkAction, &QAction::toggled, this, &MainWindow::setDarkPalette);
    view->addSeparator();
    view->addAction(m_editorDock->toggleViewAction());
    view->addAction(m_demoDock->toggleViewAction());
    view->addAction(m_decodeDock->toggleViewAction());
    view->addAction(m_connectionDock->toggleViewAction());
    view->addAction(m_peerDock->toggleViewAction());
    view->addAction(m_drillDock->toggleViewAction());
}

void MainWindow::connectWorker() {
    connect(m_worker, &EngineWorker::timelineGrew, this, &MainWindow::onTimelineGrew);
    connect(m_worker, &EngineWorker::peerRecordsGrew, this, &MainWindow::onPeerRecordsGrew);
    connect(m_worker, &EngineWorker::peerCallAnswered, this,
            [this](const peer::CallRecord& call, bool ok, const QString& line) {
                m_peer->onCallAnswered(call, ok, line);
                m_demo->onPeerAnswered(call);
            });
    connect(m_worker, &EngineWorker::peerAgentChanged, m_peer, &PeerPanel::setAgentStatus);
    connect(m_worker, &EngineWorker::labStarted, this, [this](const QString& description) {
        std::vector<wire::IpAddress> local;
        if (auto phantom = m_worker->phantomAddress())
            local.push_back(*phantom);
        m_model->setTimeline(m_worker->timeline(), std::move(local)); // modelReset: peer views
        if (m_worker->phantomAddress())
            m_peer->setLab(qs(wire::addressText(*m_worker->phantomAddress())), m_worker->ipv6());
        m_peer->setAgentStatus(m_worker->peerAgentReady(), m_worker->peerAgentStatus());
        m_editorFilled = false;
        m_probe->setText(QStringLiteral("probing the phantom's address…"));
        statusBar()->showMessage(description, kStatusTimeoutMs);
        updateLabBar();
    });
    connect(m_worker, &EngineWorker::peerResolved, this, [this] {
        if (!m_editorFilled)
            prefillSyn();
        if (m_demoPending)
            beginDemo();
        if (m_drillPending)
            beginDrill();
    });
    connect(m_worker, &EngineWorker::labFailed, this, [this](const QString& message) {
        m_demoPending = false;
        if (m_drillPending) {
            m_drillPending.reset();
            m_drill->runRefused(message);
        }
        m_probe->setText(QStringLiteral("<span style='color:#d62728'>lab failed</span>"));
        m_probe->setToolTip(message);
        statusBar()->showMessage(message);
        updateLabBar();
    });
    connect(m_worker, &EngineWorker::labStopped, this, [this] {
        m_peer->setAgentStatus(false, QStringLiteral("The lab is stopped: there is no peer agent "
                                                     "until it starts again (F5)."));
        m_probe->setText(QStringLiteral("stopped"));
        statusBar()->showMessage(QStringLiteral("The lab is stopped; the timeline is kept."),
                                 kStatusTimeoutMs);
        updateLabBar();
    });
    connect(
        m_worker, &EngineWorker::probeFinished, this, [this](bool claimed, const QString& message) {
            m_probe->setText(claimed ? QStringLiteral("<span style='color:#1a9a4a'>address free: "
                                                      "claimed</span>")
                                     : QStringLiteral("<span style='color:#d62728'>address "
                                                      "refused: %1</span>")
                                           .arg(message.toHtmlEscaped()));
            m_probe->setToolTip(message);
            statusBar()->showMessage(message, kStatusTimeoutMs);
        });
    connect(m_worker, &EngineWorker::scenarioStep, this,
            [this](int step, const QString& what, const QString& message) {
                statusBar()->showMessage(message.isEmpty()
                                             ? QStringLiteral("step %1 %2").arg(step + 1).arg(what)
                                             : message,
                                         kStatusTimeoutMs);
            });
    connect(m_worker, &EngineWorker::scenarioFinished, this,
            [this](bool ok, const QString& message) {
                statusBar()->showMessage(
                    ok ? QStringLiteral("The classic exercise ran: every step happened.")
                       : QStringLiteral("The exercise failed: %1").arg(message));
            });
    connect(m_worker, &EngineWorker::linkFailed, this, [this](const QString& message) {
        statusBar()->showMessage(QStringLiteral("The link failed: %1").arg(message));
    });
}

engine::CloseMode MainWindow::closeMode() const {
    return static_cast<engine::CloseMode>(m_closeMode->currentData().toInt());
}

void MainWindow::setCloseMode(engine::CloseMode mode) {
    const int index = m_closeMode->findData(int(mode));
    if (index >= 0)
        m_closeMode->setCurrentIndex(index);
}

void MainWindow::startLab() {
    statusBar()->showMessage(QStringLiteral("Starting %1…").arg(m_labChooser->currentText()));
    m_worker->startLabOf(labChoice());
}

void MainWindow::stopLab() {
    m_worker->stop();
}

void MainWindow::runClassic() {
    if (!m_worker->running()) {
        startLab();
        if (!m_worker->running())
            return;
    }
    m_ladder->setFollowLatest(true);
    statusBar()->showMessage(
        QStringLiteral("Running the classic exercise (%1)…").arg(m_closeMode->currentText()));
    m_worker->runClassic(closeMode());
}

void MainWindow::onTimelineGrew(qsizetype newSize) {
    m_model->onTimelineGrew(newSize); // rowsInserted -> addModelRowsToViews
}

void MainWindow::addModelRowsToViews() {
    std::vector<LadderRow> rows;
    const int count = m_model->rowCount();
    rows.reserve(std::size_t(std::max(0, count - m_ladderRows)));
    for (; m_ladderRows < count; ++m_ladderRows) {
        const TimelineRow& r = m_model->row(m_ladderRows);
        LadderRow l;
        l.timeMs = m_model->timeMs(m_ladderRows);
        l.fromPhantom = r.direction == timeline::Direction::Sent;
        l.tcp = r.tcp;
        l.kind = r.kind;
        if (r.tcp)
            l.label = ladderLabel(r);
        else
            l.label = r.mark;
        rows.push_back(std::move(l));
    }
    m_ladder->addRows(rows);
    m_graph->onRowsAdded(count);
    updateConnectionPanel();
    // The demo follows the wire in order, our frames and the peer's (TCP only).
    for (; m_demoFed < count; ++m_demoFed)
        if (m_demo->active() && m_model->row(m_demoFed).tcp)
            m_demo->onFrame(m_model->entry(m_demoFed));
    updateAssist();
}

void MainWindow::selectRow(int row) {
    if (row < 0 || row >= m_model->rowCount()) {
        m_ladder->setSelectedRow(-1);
        m_decode->clear();
        m_graph->setCursorTime(std::nullopt);
        m_peerInfo->setCursorTime(std::nullopt);
        return;
    }
    m_ladder->setSelectedRow(row);
    // The graph plots the selected segment's connection.
    if (const auto& segment = m_model->row(row).segment;
        segment && int(segment->connection) != m_graph->connection())
        m_graph->setConnection(int(segment->connection));
    m_graph->setSelectedRow(row);
    // One moment in every view: the ladder's row, a cursor in the graphs.
    m_graph->setCursorTime(m_model->timeMs(row));
    m_peerInfo->setCursorTime(m_model->timeMs(row));
    if (m_table->currentIndex().row() != row) {
        const QModelIndex index = m_model->index(row, 0);
        m_table->selectionModel()->setCurrentIndex(index, QItemSelectionModel::ClearAndSelect |
                                                              QItemSelectionModel::Rows);
        m_table->scrollTo(index);
    }
    showDecode(row);
    updateConnectionPanel();
    updatePeerPlotSocket();
    // The selected frame's bytes, until the editor changes again.
    m_hex->setFrame(m_model->entry(row).bytes);
    m_hexCaption->setText(QStringLiteral("Bytes of frame %1 (selected)").arg(row + 1));
}

void MainWindow::showDecode(int row) {
    m_decode->clear();
    const TimelineRow& r = m_model->row(row);
    const wire::Frame frame = m_model->entry(row).decode();
    const nlohmann::json json = wire::frameToJson(frame);

    auto* head = new QTreeWidgetItem(m_decode, {QStringLiteral("Frame %1").arg(row + 1),
                                                QStringLiteral("%1 bytes, %2")
                                                    .arg(frame.bytes.size())
                                                    .arg(r.direction == timeline::Direction::Sent
                                                             ? QStringLiteral("sent")
                                                             : QStringLiteral("received"))});
    head->setFirstColumnSpanned(false);
    if (r.segment) {
        auto* tracker = new QTreeWidgetItem(m_decode, {QStringLiteral("Tracker"), r.summary});
        new QTreeWidgetItem(tracker,
                            {QStringLiteral("relative seq"), QString::number(r.segment->relSeq)});
        new QTreeWidgetItem(tracker,
                            {QStringLiteral("relative ack"), QString::number(r.segment->relAck)});
        new QTreeWidgetItem(tracker,
                            {QStringLiteral("classes"), qs(r.segment->classes.toString())});
        new QTreeWidgetItem(
            tracker, {QStringLiteral("states after"),
                      m_model->data(m_model->index(row, TimelineModel::StatesAfter)).toString()});
        tracker->setExpanded(true);
    }
    if (json.contains("layers")) {
        for (const auto& layer : json["layers"]) {
            const QString name =
                layer.contains("layer") ? jsonText(layer["layer"]) : QStringLiteral("layer");
            auto* item = new QTreeWidgetItem(m_decode, {name});
            for (auto it = layer.begin(); it != layer.end(); ++it) {
                if (it.key() == "layer")
                    continue;
                new QTreeWidgetItem(item, {qs(it.key()), jsonText(it.value())});
            }
            item->setExpanded(true);
        }
    }
    if (json.contains("payload_hex") && json["payload_hex"].is_string() &&
        !json["payload_hex"].get<std::string>().empty())
        new QTreeWidgetItem(m_decode, {QStringLiteral("payload"), jsonText(json["payload_hex"])});
    if (json.contains("diagnostics") && json["diagnostics"].is_array() &&
        !json["diagnostics"].empty()) {
        auto* diagnostics = new QTreeWidgetItem(m_decode, {QStringLiteral("diagnostics")});
        for (const auto& d : json["diagnostics"])
            new QTreeWidgetItem(diagnostics,
                                {jsonText(d.value("layer", nlohmann::json())) + QLatin1Char('.') +
                                     jsonText(d.value("field", nlohmann::json())),
                                 jsonText(d.value("message", nlohmann::json()))});
        diagnostics->setExpanded(true);
    }
    m_decode->resizeColumnToContents(0);
}

void MainWindow::updateLabBar() {
    const bool running = m_worker->running();
    m_start->setEnabled(!running);
    m_stop->setEnabled(running);
    m_family->setEnabled(!running);
    const bool v6 = running ? m_worker->ipv6() : m_family->currentIndex() == 1;
    if (running && m_worker->phantomAddress() && m_worker->peerAddress()) {
        m_addresses->setText(QStringLiteral("phantom %1 (%2) → peer %3 port %4")
                                 .arg(qs(wire::addressText(*m_worker->phantomAddress())),
                                      qs(m_worker->phantomMac().toString()),
                                      qs(wire::addressText(*m_worker->peerAddress())))
                                 .arg(m_worker->peerPort()));
    } else {
        m_addresses->setText(
            v6 ? QStringLiteral("phantom 2001:db8::2 → peer 2001:db8::1 port 50001")
               : QStringLiteral("phantom 198.18.0.2 → peer 198.18.0.1 port 50001"));
    }
    if (!running && m_probe->text().isEmpty())
        m_probe->setText(QStringLiteral("not started"));
    const QString phantom =
        running && m_worker->phantomAddress()
            ? qs(wire::addressText(*m_worker->phantomAddress()))
            : (v6 ? QStringLiteral("2001:db8::2") : QStringLiteral("198.18.0.2"));
    const QString peer = running && m_worker->peerAddress()
                             ? qs(wire::addressText(*m_worker->peerAddress()))
                             : (v6 ? QStringLiteral("2001:db8::1") : QStringLiteral("198.18.0.1"));
    m_ladder->setLaneTitles(QStringLiteral("phantom %1").arg(phantom),
                            QStringLiteral("peer %1").arg(peer));
}

bool MainWindow::notBusy() {
    if (!m_busy)
        return true;
    statusBar()->showMessage(QStringLiteral("Wait for the running import or export to end."),
                             kStatusTimeoutMs);
    return false;
}

QString MainWindow::exportTimeline(const QString& path) {
    const timeline::Timeline* tl = m_model->timeline();
    if (!tl || tl->size() == 0)
        return QStringLiteral("There is nothing to export yet: start the lab and run something.");
    if (!notBusy())
        return QStringLiteral("An import or export is running already.");
    const std::string file = path.toStdString();
    const QString suffix = QFileInfo(path).suffix().toLower();
    std::vector<wire::IpAddress> local;
    if (auto phantom = m_worker->phantomAddress())
        local.push_back(*phantom);
    // The timeline is append-only: the first `frames` entries stay valid while the
    // engine goes on appending, so the export can read them on its own thread.
    tl::expected<void, std::string> result;
    m_busy = true;
    runWithProgress(
        this, QStringLiteral("Exporting %1 frames to %2…").arg(tl->size()).arg(path), 0, false,
        [&](TaskControl&) {
            if (suffix == QStringLiteral("csv")) {
                result = timeline::writeFileAtomically(
                    file, timelineCsv(timeline::analyze(*tl, local), *tl));
            } else if (suffix == QStringLiteral("pkt") || suffix == QStringLiteral("py")) {
                // The first connection, as a script that replays the phantom's
                // side and checks the peer's (packetdrill, or scapy).
                auto text = suffix == QStringLiteral("pkt") ? drill::exportPacketdrill(*tl, {})
                                                            : drill::exportScapy(*tl, {});
                result = text ? timeline::writeFileAtomically(file, *text)
                              : tl::expected<void, std::string>(tl::make_unexpected(text.error()));
            } else if (suffix == QStringLiteral("json"))
                result = timeline::exportJson(*tl, file);
            else
                result = timeline::exportPcap(*tl, file);
        });
    m_busy = false;
    return result ? QString() : qs(result.error());
}

void MainWindow::exportTimelineInteractively() {
    QString filter;
    const QString path = QFileDialog::getSaveFileName(
        this, QStringLiteral("Export the timeline"), QStringLiteral("timeline.pcap"),
        QStringLiteral("pcap (*.pcap);;CSV, the segments then the peer's calls and samples "
                       "(*.csv);;JSON (*.json);;packetdrill script of the first connection "
                       "(*.pkt);;scapy program of the first connection (*.py)"),
        &filter);
    if (path.isEmpty())
        return;
    QString target = path;
    if (QFileInfo(target).suffix().isEmpty())
        target += filter.startsWith(QStringLiteral("JSON"))          ? QStringLiteral(".json")
                  : filter.startsWith(QStringLiteral("CSV"))         ? QStringLiteral(".csv")
                  : filter.startsWith(QStringLiteral("packetdrill")) ? QStringLiteral(".pkt")
                  : filter.startsWith(QStringLiteral("scapy"))       ? QStringLiteral(".py")
                                                                     : QStringLiteral(".pcap");
    const QString error = exportTimeline(target);
    if (!error.isEmpty()) {
        QMessageBox::warning(this, QStringLiteral("Export failed"), error);
        return;
    }
    statusBar()->showMessage(
        QStringLiteral("Exported %1 frames to %2").arg(m_model->rowCount()).arg(target),
        kStatusTimeoutMs);
}

QString MainWindow::exportImage(const QString& path, bool graph) {
    QCustomPlot* plot = graph ? static_cast<QCustomPlot*>(m_graph) : m_ladder;
    return exportPlot(plot, path);
}

QString MainWindow::exportPeerInfoImage(const QString& path) {
    return exportPlot(m_peerInfo, path);
}

namespace {

/// Asks for an image file name (PNG, SVG or PDF); empty when cancelled.
QString askImagePath(QWidget* parent, const QString& title, const QString& name) {
    QString filter;
    QString path = QFileDialog::getSaveFileName(
        parent, title, name, QStringLiteral("PNG (*.png);;SVG (*.svg);;PDF (*.pdf)"), &filter);
    if (!path.isEmpty() && QFileInfo(path).suffix().isEmpty())
        path += filter.startsWith(QStringLiteral("SVG"))   ? QStringLiteral(".svg")
                : filter.startsWith(QStringLiteral("PDF")) ? QStringLiteral(".pdf")
                                                           : QStringLiteral(".png");
    return path;
}

} // namespace

void MainWindow::exportLadderInteractively() {
    const QString path =
        askImagePath(this, QStringLiteral("Export the ladder"), QStringLiteral("ladder.png"));
    if (path.isEmpty())
        return;
    if (const QString error = exportImage(path, false); !error.isEmpty())
        QMessageBox::warning(this, QStringLiteral("Export failed"), error);
    else
        statusBar()->showMessage(QStringLiteral("Saved the ladder to %1").arg(path),
                                 kStatusTimeoutMs);
}

void MainWindow::exportGraphInteractively() {
    const QString path = askImagePath(this, QStringLiteral("Export the time-sequence graph"),
                                      QStringLiteral("time-sequence.png"));
    if (path.isEmpty())
        return;
    if (const QString error = exportImage(path, true); !error.isEmpty())
        QMessageBox::warning(this, QStringLiteral("Export failed"), error);
    else
        statusBar()->showMessage(QStringLiteral("Saved the graph to %1").arg(path),
                                 kStatusTimeoutMs);
}

void MainWindow::exportPeerInfoInteractively() {
    const QString path = askImagePath(this, QStringLiteral("Export the peer kernel's plot"),
                                      QStringLiteral("peer-kernel.png"));
    if (path.isEmpty())
        return;
    if (const QString error = exportPeerInfoImage(path); !error.isEmpty())
        QMessageBox::warning(this, QStringLiteral("Export failed"), error);
    else
        statusBar()->showMessage(QStringLiteral("Saved the peer kernel's plot to %1").arg(path),
                                 kStatusTimeoutMs);
}

QString MainWindow::openCapture(const QString& path) {
    if (!notBusy())
        return QStringLiteral("An import or export is running already.");
    m_worker->stop();
    auto imported = std::make_shared<timeline::Timeline>();
    tl::expected<timeline::ImportSummary, std::string> result =
        tl::make_unexpected(std::string("not read"));
    const std::string file = path.toStdString();
    const qint64 bytes = QFileInfo(path).size();
    m_busy = true;
    // Progress in bytes is unknown to libpcap: show frames read against a guess of
    // 100 bytes per frame, which is what lab captures average.
    runWithProgress(this, QStringLiteral("Reading %1…").arg(path),
                    std::size_t(std::max<qint64>(1, bytes / 100)), true, [&](TaskControl& c) {
                        result = timeline::importPcap(
                            file, *imported, {}, [&c](std::size_t frames) { c.done.store(frames); },
                            &c.cancel);
                    });
    m_busy = false;
    if (!result)
        return qs(result.error());
    m_model->setTimeline(imported);
    QString message = QStringLiteral("Read %1 frames from %2").arg(result->frames).arg(path);
    if (result->cancelled)
        message += QStringLiteral(" (cancelled: the frames read so far are shown)");
    if (!result->error.empty())
        message += QStringLiteral("; %1").arg(qs(result->error));
    if (result->skipped > 0)
        message += QStringLiteral("; %1 frames did not fit in the timeline").arg(result->skipped);
    statusBar()->showMessage(message);
    setWindowTitle(QStringLiteral("tcplab — %1").arg(QFileInfo(path).fileName()));
    return {};
}

void MainWindow::openCaptureInteractively() {
    const QString path = QFileDialog::getOpenFileName(
        this, QStringLiteral("Open a capture"), QString(),
        QStringLiteral("Captures (*.pcap *.pcapng *.cap);;All files (*)"));
    if (path.isEmpty())
        return;
    const QString error = openCapture(path);
    if (!error.isEmpty())
        QMessageBox::warning(this, QStringLiteral("Cannot open the capture"), error);
}

void MainWindow::setDarkPalette(bool dark) {
    m_dark = dark;
    if (m_darkAction && m_darkAction->isChecked() != dark)
        m_darkAction->setChecked(dark);
    applyPalette(dark);
}

void MainWindow::restoreSettings() {
    QSettings settings;
    restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray());
    const QByteArray state = settings.value(QStringLiteral("window/state")).toByteArray();
    if (state.isEmpty())
        // The first start: the editor and the right docks at widths that leave the ladder
        // room (the docks' own hints are their widest tabs').
        resizeDocks({m_editorDock, m_decodeDock}, {470, 520}, Qt::Horizontal);
    else
        restoreState(state);
    m_vertical->restoreState(settings.value(QStringLiteral("window/tableSplitter")).toByteArray());
    if (const auto mode = engine::parseCloseMode(
            settings.value(QStringLiteral("run/closeMode")).toString().toStdString()))
        setCloseMode(*mode);
    m_family->setCurrentIndex(settings.value(QStringLiteral("lab/ipv6"), false).toBool() ? 1 : 0);
    setLabChoice(settings.value(QStringLiteral("lab/choice")).toString());
    setDarkPalette(settings.value(QStringLiteral("view/dark"), false).toBool());
    m_autoAck->setChecked(settings.value(QStringLiteral("run/autoAck"), false).toBool());
    m_peer->setListeningPort(
        std::uint16_t(settings.value(QStringLiteral("peer/listenPort"), 0).toUInt()));
    const int window = settings.value(QStringLiteral("peer/window"), -1).toInt();
    m_peer->setAdvertisedWindow(window < 0 || window > 65535
                                    ? std::nullopt
                                    : std::optional<std::uint16_t>(std::uint16_t(window)));
    m_peer->setSnapLength(
        std::size_t(settings.value(QStringLiteral("peer/snapLength"), 0).toUInt()));
    // The worker follows the restored controls even when they did not change.
    m_worker->setListeningPort(m_peer->listeningPort());
    m_worker->setAdvertisedWindow(m_peer->advertisedWindow());
    m_worker->setSnapLength(m_peer->snapLength());
}

void MainWindow::saveSettings() const {
    QSettings settings;
    settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
    settings.setValue(QStringLiteral("window/state"), saveState());
    settings.setValue(QStringLiteral("window/tableSplitter"), m_vertical->saveState());
    settings.setValue(QStringLiteral("lab/choice"), m_labChooser->currentData());
    settings.setValue(QStringLiteral("view/dark"), m_dark);
    const std::string_view mode = engine::closeModeName(closeMode());
    settings.setValue(QStringLiteral("run/closeMode"),
                      QString::fromUtf8(mode.data(), qsizetype(mode.size())));
    settings.setValue(QStringLiteral("lab/ipv6"), m_family->currentIndex() == 1);
    settings.setValue(QStringLiteral("run/autoAck"), m_autoAck->isChecked());
    settings.setValue(QStringLiteral("peer/listenPort"), m_peer->listeningPort());
    const auto window = m_peer->advertisedWindow();
    settings.setValue(QStringLiteral("peer/window"), window ? int(*window) : -1);
    settings.setValue(QStringLiteral("peer/snapLength"), qulonglong(m_peer->snapLength()));
}

void MainWindow::closeEvent(QCloseEvent* event) {
    saveSettings();
    m_worker->stop();
    QMainWindow::closeEvent(event);
}

} // namespace tcplab::ui
