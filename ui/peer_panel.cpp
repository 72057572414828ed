#include "ui/peer_panel.h"

#include "peer/call_text.h"
#include "ui/palette.h"
#include "ui/peer_call_form.h"
#include "ui/peer_socket_model.h"
#include "ui/sysctl_model.h"

#include <QCheckBox>
#include <QComboBox>
#include <QEvent>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTabWidget>
#include <QTableView>
#include <QVBoxLayout>

namespace tcplab::ui {

namespace {

constexpr int kTimeRole = Qt::UserRole;       ///< history: the call's start (qint64 ns)
constexpr int kFailedRole = Qt::UserRole + 1; ///< history: it failed or was refused
constexpr int kMaxHistory = 5000;

QTableView* makeTable(QAbstractItemModel* model, const QString& name) {
    auto* view = new QTableView;
    view->setObjectName(name);
    view->setModel(model);
    view->setSelectionBehavior(QAbstractItemView::SelectRows);
    view->setSelectionMode(QAbstractItemView::SingleSelection);
    view->setAlternatingRowColors(true);
    view->verticalHeader()->setVisible(false);
    view->verticalHeader()->setDefaultSectionSize(view->fontMetrics().height() + 6);
    view->horizontalHeader()->setStretchLastSection(true);
    view->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
    view->setWordWrap(false);
    return view;
}

} // namespace

PeerPanel::PeerPanel(QWidget* parent)
    : QWidget(parent) {
    setObjectName(QStringLiteral("peerPanel"));
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);
    layout->setSpacing(4);
    m_status = new QLabel(QStringLiteral("Start the lab: the peer agent runs in the lab's peer "
                                         "namespace and makes the calls you choose here."));
    m_status->setObjectName(QStringLiteral("peerStatus"));
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(m_status);

    m_sockets = new PeerSocketModel(this);
    m_tcpInfo = new TcpInfoModel(this);
    m_sysctls = new SysctlModel(this);

    m_tabs = new QTabWidget;
    m_tabs->setObjectName(QStringLiteral("peerTabs"));
    m_tabs->setDocumentMode(true);
    m_tabs->addTab(buildCallsTab(), QStringLiteral("Calls"));
    m_tabs->addTab(buildSocketsTab(), QStringLiteral("Sockets"));
    m_tabs->addTab(buildSysctlsTab(), QStringLiteral("Sysctls"));
    m_tabs->addTab(buildPhantomTab(), QStringLiteral("Phantom"));
    layout->addWidget(m_tabs, 1);

    connect(m_sysctls, &SysctlModel::writeRequested, this,
            [this](const QString& key, const QString& value) {
                auto r =
                    peer::parseCall(QStringLiteral("sysctl %1=%2").arg(key, value).toStdString());
                if (!r) {
                    m_sysctlStatus->setText(QString::fromStdString(r.error()));
                    return;
                }
                Q_EMIT callRequested(*r);
            });
}

PeerPanel::~PeerPanel() = default;

QWidget* PeerPanel::buildCallsTab() {
    auto* tab = new QWidget;
    auto* layout = new QVBoxLayout(tab);
    layout->setContentsMargins(0, 4, 0, 0);
    m_form = new PeerCallForm;
    layout->addWidget(m_form);
    m_call = new QPushButton(QStringLiteral("Call"));
    m_call->setObjectName(QStringLiteral("peerCallButton"));
    m_call->setToolTip(QStringLiteral("Make the call in the peer's namespace (Ctrl+Shift+Return)"));
    m_call->setEnabled(m_form->isValid());
    auto* buttons = new QHBoxLayout;
    buttons->addStretch(1);
    buttons->addWidget(m_call);
    layout->addLayout(buttons);
    auto* title = new QLabel(QStringLiteral("Calls made, as strace would show them"));
    layout->addWidget(title);
    m_history = new QListWidget;
    m_history->setObjectName(QStringLiteral("peerHistory"));
    m_history->setSelectionMode(QAbstractItemView::SingleSelection);
    // Long answers (getsockopt TCP_INFO's fields) wrap rather than run off the dock.
    m_history->setWordWrap(true);
    m_history->setResizeMode(QListView::Adjust);
    m_history->setTextElideMode(Qt::ElideNone);
    layout->addWidget(m_history, 1);

    connect(m_form, &PeerCallForm::validityChanged, m_call, &QPushButton::setEnabled);
    connect(m_call, &QPushButton::clicked, this, [this] { makeCall(); });
    connect(m_history, &QListWidget::currentItemChanged, this, [this](QListWidgetItem* item) {
        if (item)
            Q_EMIT callSelected(item->data(kTimeRole).toLongLong());
    });
    return tab;
}

QWidget* PeerPanel::buildSocketsTab() {
    auto* split = new QSplitter(Qt::Vertical);
    split->setObjectName(QStringLiteral("peerSocketSplitter"));
    m_socketView = makeTable(m_sockets, QStringLiteral("peerSockets"));
    const QFontMetrics metrics = m_socketView->fontMetrics();
    const auto widthOf = [&](const char* sample) {
        return metrics.horizontalAdvance(QString::fromUtf8(sample)) + 14;
    };
    m_socketView->setColumnWidth(PeerSocketModel::Fd, widthOf("fd 00"));
    m_socketView->setColumnWidth(PeerSocketModel::Local, widthOf("198.18.0.1:50001"));
    m_socketView->setColumnWidth(PeerSocketModel::Remote, widthOf("198.18.0.2:50000"));
    m_socketView->setColumnWidth(PeerSocketModel::State, widthOf("ESTABLISHED"));
    m_socketView->setColumnWidth(PeerSocketModel::Cwnd, widthOf("cwnd 0"));
    m_socketView->setColumnWidth(PeerSocketModel::Rtt, widthOf("000.0 ms"));
    m_socketView->setColumnWidth(PeerSocketModel::Unacked, widthOf("unacked"));
    m_socketView->setColumnWidth(PeerSocketModel::ReceiveQueue, widthOf("recv-Q 0"));
    m_infoView = makeTable(m_tcpInfo, QStringLiteral("peerTcpInfo"));
    m_infoView->setSelectionMode(QAbstractItemView::NoSelection);
    m_infoView->setColumnWidth(TcpInfoModel::Field, widthOf("delivery_rate_app_limited"));
    m_infoView->setColumnWidth(TcpInfoModel::Value, widthOf("timestamps sack wscale"));
    split->addWidget(m_socketView);
    split->addWidget(m_infoView);
    split->setStretchFactor(0, 1);
    split->setStretchFactor(1, 2);

    connect(m_socketView->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this] {
        showSelectedSocket();
        Q_EMIT socketSelected(qulonglong(selectedSocket().value_or(0)));
    });
    connect(m_sockets, &QAbstractItemModel::rowsRemoved, this, [this] {
        if (!selectedSocket())
            m_tcpInfo->clear();
    });
    return split;
}

QWidget* PeerPanel::buildSysctlsTab() {
    auto* tab = new QWidget;
    auto* layout = new QVBoxLayout(tab);
    layout->setContentsMargins(0, 4, 0, 0);
    auto* row = new QHBoxLayout;
    auto* refresh = new QPushButton(QStringLiteral("Refresh"));
    refresh->setObjectName(QStringLiteral("sysctlRefresh"));
    refresh->setToolTip(QStringLiteral("Read every net.* sysctl of the peer's namespace again"));
    m_sysctlStatus = new QLabel(QStringLiteral("Double-click a value to write it."));
    m_sysctlStatus->setWordWrap(true);
    row->addWidget(refresh);
    row->addWidget(m_sysctlStatus, 1);
    layout->addLayout(row);
    m_sysctlView = makeTable(m_sysctls, QStringLiteral("peerSysctls"));
    m_sysctlView->setEditTriggers(QAbstractItemView::DoubleClicked |
                                  QAbstractItemView::EditKeyPressed);
    m_sysctlView->setColumnWidth(SysctlModel::Key,
                                 m_sysctlView->fontMetrics().horizontalAdvance(
                                     QStringLiteral("net.ipv4.tcp_synack_retries")) +
                                     16);
    m_sysctlView->setColumnWidth(
        SysctlModel::Value,
        m_sysctlView->fontMetrics().horizontalAdvance(QStringLiteral("4096 131072 6291456")) + 16);
    layout->addWidget(m_sysctlView, 1);
    connect(refresh, &QPushButton::clicked, this, &PeerPanel::refreshSysctls);
    return tab;
}

QWidget* PeerPanel::buildPhantomTab() {
    auto* tab = new QWidget;
    auto* layout = new QVBoxLayout(tab);
    layout->setContentsMargins(0, 4, 0, 0);

    auto* server = new QGroupBox(QStringLiteral("The phantom as a server"));
    auto* serverForm = new QFormLayout(server);
    m_listen = new QCheckBox(QStringLiteral("Listen on port"));
    m_listen->setObjectName(QStringLiteral("phantomListen"));
    m_listen->setToolTip(QStringLiteral("Answer a SYN to this port with a SYN-ACK (ISN 1000), so "
                                        "the peer's connect() completes by itself; Auto-ACK then "
                                        "looks after the connection"));
    m_listenPort = new QSpinBox;
    m_listenPort->setObjectName(QStringLiteral("phantomListenPort"));
    m_listenPort->setRange(1, 65535);
    m_listenPort->setValue(40000);
    auto* listenRow = new QHBoxLayout;
    listenRow->addWidget(m_listen);
    listenRow->addWidget(m_listenPort);
    listenRow->addStretch(1);
    serverForm->addRow(listenRow);
    layout->addWidget(server);

    auto* window = new QGroupBox(QStringLiteral("The window Auto-ACK advertises"));
    auto* windowForm = new QFormLayout(window);
    m_windowMode = new QComboBox;
    m_windowMode->setObjectName(QStringLiteral("phantomWindowMode"));
    m_windowMode->addItem(QStringLiteral("auto (the last one sent)"));
    m_windowMode->addItem(QStringLiteral("fixed"));
    m_window = new QSpinBox;
    m_window->setObjectName(QStringLiteral("phantomWindow"));
    m_window->setRange(0, 65535);
    m_window->setValue(65535);
    m_window->setSuffix(QStringLiteral(" bytes"));
    m_window->setToolTip(QStringLiteral("The 16-bit window field of the phantom's ACKs "
                                        "(0: the peer must stop sending and probe)"));
    auto* zero = new QPushButton(QStringLiteral("Zero window"));
    zero->setObjectName(QStringLiteral("phantomZeroWindow"));
    zero->setToolTip(QStringLiteral("Advertise 0 now: the peer stops, then sends zero-window "
                                    "probes (RFC 9293 §3.8.6.1)"));
    auto* open = new QPushButton(QStringLiteral("Open"));
    open->setObjectName(QStringLiteral("phantomOpenWindow"));
    open->setToolTip(QStringLiteral("Advertise the window again (a window update)"));
    auto* windowRow = new QHBoxLayout;
    windowRow->addWidget(m_windowMode);
    windowRow->addWidget(m_window, 1);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(zero);
    buttons->addWidget(open);
    buttons->addStretch(1);
    windowForm->addRow(windowRow);
    windowForm->addRow(buttons);
    layout->addWidget(window);

    auto* capture = new QGroupBox(QStringLiteral("Capture"));
    auto* captureForm = new QFormLayout(capture);
    m_snap = new QSpinBox;
    m_snap->setObjectName(QStringLiteral("snapLength"));
    m_snap->setRange(0, 65535);
    m_snap->setSingleStep(64);
    m_snap->setSpecialValueText(QStringLiteral("all of every frame"));
    m_snap->setSuffix(QStringLiteral(" bytes"));
    m_snap->setToolTip(QStringLiteral("Keep only the first bytes of each frame from now on (128 "
                                      "keeps the headers and a few bytes of data: a long "
                                      "transfer's timeline stays small)"));
    captureForm->addRow(QStringLiteral("snap length"), m_snap);
    layout->addWidget(capture);
    layout->addStretch(1);

    const auto listenChanged = [this] {
        m_form->setConnectPort(std::uint16_t(m_listenPort->value()));
        Q_EMIT listeningPortChanged(quint16(listeningPort()));
    };
    connect(m_listen, &QCheckBox::toggled, this, listenChanged);
    connect(m_listenPort, &QSpinBox::valueChanged, this, listenChanged);
    connect(m_windowMode, &QComboBox::currentIndexChanged, this, [this] {
        updateWindowControls();
        emitWindow();
    });
    connect(m_window, &QSpinBox::valueChanged, this, [this] {
        if (m_window->value() > 0)
            m_openWindow = std::uint16_t(m_window->value());
        emitWindow();
    });
    connect(zero, &QPushButton::clicked, this, [this] { setAdvertisedWindow(std::uint16_t(0)); });
    connect(open, &QPushButton::clicked, this, [this] { setAdvertisedWindow(m_openWindow); });
    connect(m_snap, &QSpinBox::valueChanged, this,
            [this](int bytes) { Q_EMIT snapLengthChanged(qulonglong(bytes)); });
    updateWindowControls();
    return tab;
}

QString PeerPanel::status() const {
    return m_status->text();
}

std::optional<std::uint64_t> PeerPanel::selectedSocket() const {
    const QModelIndex current = m_socketView->selectionModel()->currentIndex();
    if (!current.isValid() || !m_socketView->selectionModel()->isRowSelected(current.row()))
        return std::nullopt;
    return m_sockets->socket(current.row()).inode;
}

void PeerPanel::selectSocket(std::optional<std::uint64_t> inode) {
    const int row = inode ? m_sockets->rowOf(*inode) : -1;
    if (row < 0) {
        m_socketView->selectionModel()->clearSelection();
        m_socketView->selectionModel()->setCurrentIndex({}, QItemSelectionModel::Clear);
        return;
    }
    m_socketView->selectionModel()->setCurrentIndex(
        m_sockets->index(row, 0), QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
}

void PeerPanel::showSelectedSocket() {
    const auto inode = selectedSocket();
    const int row = inode ? m_sockets->rowOf(*inode) : -1;
    if (row < 0) {
        m_tcpInfo->clear();
        return;
    }
    m_tcpInfo->setSocket(m_sockets->socket(row));
}

std::uint16_t PeerPanel::listeningPort() const {
    return m_listen->isChecked() ? std::uint16_t(m_listenPort->value()) : std::uint16_t(0);
}

void PeerPanel::setListeningPort(std::uint16_t port) {
    if (port != 0)
        m_listenPort->setValue(port);
    m_listen->setChecked(port != 0);
}

std::optional<std::uint16_t> PeerPanel::advertisedWindow() const {
    if (m_windowMode->currentIndex() == 0)
        return std::nullopt;
    return std::uint16_t(m_window->value());
}

void PeerPanel::setAdvertisedWindow(std::optional<std::uint16_t> window) {
    if (window == advertisedWindow())
        return;
    {
        const QSignalBlocker blockMode(m_windowMode);
        const QSignalBlocker blockWindow(m_window);
        m_windowMode->setCurrentIndex(window ? 1 : 0);
        if (window) {
            m_window->setValue(*window);
            if (*window > 0)
                m_openWindow = *window;
        }
    }
    updateWindowControls();
    emitWindow();
}

void PeerPanel::updateWindowControls() {
    m_window->setEnabled(m_windowMode->currentIndex() == 1);
}

void PeerPanel::emitWindow() {
    Q_EMIT advertisedWindowChanged(advertisedWindow());
}

std::size_t PeerPanel::snapLength() const {
    return std::size_t(m_snap->value());
}

void PeerPanel::setSnapLength(std::size_t bytes) {
    m_snap->setValue(int(std::min<std::size_t>(bytes, 65535)));
}

bool PeerPanel::makeCall() {
    const auto& request = m_form->request();
    if (!request)
        return false;
    Q_EMIT callRequested(*request);
    return true;
}

void PeerPanel::onCallAnswered(const peer::CallRecord& call, bool ok, const QString& line) {
    const peer::Request& q = call.request;
    const peer::Answer& a = call.answer;
    // Every call that came back (the engine's own sample requests never do).
    auto* item = new QListWidgetItem(
        line.isEmpty() ? QString::fromStdString(peer::describeCallLine(q, a)) : line);
    item->setData(kTimeRole, qint64(a.startNs));
    item->setData(kFailedRole, !ok);
    item->setToolTip(QString::fromStdString(peer::formatCall(q)));
    if (!ok)
        item->setForeground(errorColor(palette()));
    const bool atBottom = m_history->count() == 0 || m_history->currentRow() < 0 ||
                          m_history->currentRow() == m_history->count() - 1;
    m_history->addItem(item);
    while (m_history->count() > kMaxHistory)
        delete m_history->takeItem(0);
    if (atBottom)
        m_history->scrollToBottom();
    if (a.outcome == peer::Outcome::Done && a.result >= 0) {
        if (q.call == peer::Call::Socket || q.call == peer::Call::Accept) {
            m_callFds.insert(int(a.result));
            updateFds();
            m_form->setCurrentFd(int(a.result));
        } else if (q.call == peer::Call::Close) {
            m_callFds.erase(q.fd);
            updateFds();
        }
    }
    if (m_sysctls->onAnswer(call)) {
        if (q.call == peer::Call::SysctlList)
            m_sysctlStatus->setText(QStringLiteral("%1 sysctls read. Double-click a value to "
                                                   "write it.")
                                        .arg(m_sysctls->rowCount()));
        else
            m_sysctlStatus->setText(QString::fromStdString(peer::describeCallLine(q, a)));
    } else if (q.call == peer::Call::SysctlList) {
        m_sysctlStatus->setText(QString::fromStdString(peer::describeCallLine(q, a)));
    }
}

void PeerPanel::addSamples(const std::vector<peer::Sample>& samples) {
    if (samples.empty())
        return;
    m_sockets->addSamples(samples);
    if (const auto inode = selectedSocket())
        for (const peer::Sample& sample : samples)
            for (const peer::SocketSample& s : sample.sockets)
                if (s.inode == *inode)
                    m_tcpInfo->setSocket(s);
    updateFds();
}

void PeerPanel::updateFds() {
    std::set<int> all = m_callFds;
    for (const int fd : m_sockets->fds())
        all.insert(fd);
    m_form->setKnownFds(std::vector<int>(all.begin(), all.end()));
}

void PeerPanel::setAgentStatus(bool ready, const QString& message) {
    m_status->setText(message.isEmpty() ? (ready ? QStringLiteral("The peer agent is ready.")
                                                 : QStringLiteral("There is no peer agent."))
                                        : message);
    m_ready = ready;
    colourStatus();
    m_call->setToolTip(
        ready ? QStringLiteral("Make the call in the peer's namespace "
                               "(Ctrl+Shift+Return)")
              : QStringLiteral("No agent: the call would be refused (%1)").arg(m_status->text()));
    if (ready && !m_sysctlsRead) {
        m_sysctlsRead = true;
        refreshSysctls();
    }
}

void PeerPanel::colourStatus() {
    // Only the text's colour is the label's own: the rest follows the application palette.
    QPalette pal;
    if (!m_ready)
        pal.setColor(QPalette::WindowText, errorColor(palette()));
    m_status->setPalette(pal);
}

void PeerPanel::changeEvent(QEvent* event) {
    QWidget::changeEvent(event);
    if (event->type() != QEvent::PaletteChange || !m_history)
        return;
    // The error colour of the other palette, for what is already shown.
    colourStatus();
    for (int i = 0; i < m_history->count(); ++i)
        if (QListWidgetItem* item = m_history->item(i); item->data(kFailedRole).toBool())
            item->setForeground(errorColor(palette()));
}

void PeerPanel::setLab(const QString& phantomAddress, bool ipv6) {
    m_form->setPhantom(phantomAddress, ipv6);
    m_form->setConnectPort(std::uint16_t(m_listenPort->value()));
}

void PeerPanel::refreshSysctls() {
    peer::Request r;
    r.call = peer::Call::SysctlList;
    r.text = "net.";
    m_sysctlStatus->setText(QStringLiteral("Reading the sysctls…"));
    Q_EMIT callRequested(r);
}

void PeerPanel::clear() {
    m_history->clear();
    m_sockets->clear();
    m_tcpInfo->clear();
    m_callFds.clear();
    m_sysctlsRead = false;
    m_ready = false;
    updateFds();
}

} // namespace tcplab::ui
