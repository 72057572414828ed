#include "ui/peer_call_form.h"

#include "peer/call_text.h"
#include "ui/palette.h"
#include "wire/bytes.h"

#include <QCheckBox>
#include <QComboBox>
#include <QEvent>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QStackedWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <array>
#include <map>

namespace tcplab::ui {

namespace {

using peer::Call;

QString qs(std::string_view s) {
    return QString::fromUtf8(s.data(), qsizetype(s.size()));
}

QString qs(const std::string& s) {
    return QString::fromStdString(s);
}

/// The calls in the chooser, in the order a socket's life takes them.
constexpr std::array kCalls = {
    Call::Socket,     Call::Bind,       Call::Listen,     Call::Accept,      Call::Connect,
    Call::Read,       Call::Write,      Call::Shutdown,   Call::Close,       Call::Poll,
    Call::Fcntl,      Call::SetSockOpt, Call::GetSockOpt, Call::Ioctl,       Call::Sysctl,
    Call::SysctlList, Call::Drain,      Call::Sample,     Call::EpollCreate, Call::EpollCtl,
    Call::EpollWait,  Call::Command,
};

const char* callHelp(Call call) {
    switch (call) {
    case Call::Socket:
        return "A new TCP socket; its fd comes back";
    case Call::Bind:
        return "Gives the socket a local address and port";
    case Call::Listen:
        return "Makes a bound socket accept connections (a server's passive open)";
    case Call::Accept:
        return "Takes the next connection of a listening socket; a new fd comes back "
               "(blocks until one is there)";
    case Call::Connect:
        return "The kernel opens a connection to the phantom: its SYN goes out (active open)";
    case Call::Read:
        return "Reads bytes the peer's kernel received; stop/all switch the reading off "
               "(the window closes) and on";
    case Call::Write:
        return "Queues bytes to send: a count of the agent's pattern bytes, text or hex";
    case Call::Shutdown:
        return "Half-closes: wr sends a FIN and the socket stays readable";
    case Call::Close:
        return "Closes the fd: a FIN (or a RST with unread data or SO_LINGER 0)";
    case Call::Poll:
        return "Waits for the socket to become readable or writable";
    case Call::Fcntl:
        return "Reads or sets the fd's flags (O_NONBLOCK)";
    case Call::SetSockOpt:
        return "Sets a socket option";
    case Call::GetSockOpt:
        return "Reads a socket option (TCP_INFO: the kernel's variables)";
    case Call::Ioctl:
        return "SIOCINQ: bytes not read yet; SIOCOUTQ: bytes not acknowledged yet";
    case Call::Sysctl:
        return "Reads a sysctl of the peer's namespace, or writes it with a value";
    case Call::SysctlList:
        return "Reads every sysctl under a prefix";
    case Call::Drain:
        return "on: the agent reads and drops whatever arrives; off: nothing is read";
    case Call::Sample:
        return "Samples every socket's TCP_INFO now";
    case Call::EpollCreate:
    case Call::EpollCtl:
    case Call::EpollWait:
        return "epoll: type it on the call line (epoll_create, epoll_ctl 5 add 4 in,et, "
               "epoll_wait 5 1 0)";
    case Call::Command:
        return "Runs tc qdisc, ip route or ip link set in the peer's namespace (type it on "
               "the call line: command tc qdisc replace dev tcplab0p root pfifo)";
    }
    return "";
}

/// Marks an invalid entry with a red frame and says why in its tooltip.
void markInvalid(QWidget* w, const QString& error, const QString& help) {
    const bool invalid = !error.isEmpty();
    w->setProperty("invalid", invalid);
    w->setStyleSheet(invalid ? QStringLiteral("%1 { border: 2px solid %2; border-radius: 2px; }")
                                   .arg(QString::fromLatin1(w->metaObject()->className()),
                                        errorColor(w->palette()).name())
                             : QString());
    w->setToolTip(invalid ? error : help);
}

/// Escapes a bare double quote so that the text stays one word of the grammar; the
/// grammar's own escapes (\r, \n, \", \xHH) are the user's to type.
QString quotedText(const QString& text) {
    QString out = QStringLiteral("\"");
    for (qsizetype i = 0; i < text.size(); ++i) {
        const QChar c = text[i];
        if (c == QLatin1Char('\\') && i + 1 < text.size()) {
            out += c;
            out += text[++i];
            continue;
        }
        if (c == QLatin1Char('"'))
            out += QLatin1Char('\\');
        out += c;
    }
    out += QLatin1Char('"');
    return out;
}

} // namespace

/// The widgets of every call's form.
struct PeerCallForm::Pages {
    QComboBox* socketFamily = nullptr;
    QCheckBox* socketNonblock = nullptr;
    QLineEdit* bindAddress = nullptr;
    QLineEdit* bindPort = nullptr;
    QLineEdit* listenBacklog = nullptr;
    QLineEdit* connectAddress = nullptr;
    QLineEdit* connectPort = nullptr;
    QComboBox* readMode = nullptr;
    QLineEdit* readCount = nullptr;
    QCheckBox* readPeek = nullptr;
    QCheckBox* readDontwait = nullptr;
    QCheckBox* readWaitall = nullptr;
    QComboBox* writeMode = nullptr;
    QLineEdit* writeData = nullptr;
    QCheckBox* writeMore = nullptr;
    QCheckBox* writeDontwait = nullptr;
    QComboBox* shutdownHow = nullptr;
    QLineEdit* pollTimeout = nullptr;
    QCheckBox* pollIn = nullptr;
    QCheckBox* pollOut = nullptr;
    QCheckBox* pollPri = nullptr;
    QCheckBox* pollRdhup = nullptr;
    QComboBox* fcntlCommand = nullptr;
    QComboBox* setOption = nullptr;
    QLineEdit* setValue = nullptr;
    QComboBox* getOption = nullptr;
    QComboBox* ioctlRequest = nullptr;
    QLineEdit* sysctlKey = nullptr;
    QLineEdit* sysctlValue = nullptr;
    QLineEdit* listPrefix = nullptr;
    QComboBox* drainOn = nullptr;
    std::map<Call, int> pageOf;
};

PeerCallForm::PeerCallForm(QWidget* parent)
    : QWidget(parent)
    , m_p(std::make_unique<Pages>()) {
    setObjectName(QStringLiteral("peerCallForm"));
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(4);

    m_call = new QComboBox;
    m_call->setObjectName(QStringLiteral("peerCall"));
    for (const Call c : kCalls) {
        m_call->addItem(qs(peer::callName(c)), int(c));
        m_call->setItemData(m_call->count() - 1, QString::fromLatin1(callHelp(c)), Qt::ToolTipRole);
    }
    m_fd = new QComboBox;
    m_fd->setObjectName(QStringLiteral("peerFd"));
    m_fd->setEditable(true);
    m_fd->setInsertPolicy(QComboBox::NoInsert);
    m_fd->setToolTip(QStringLiteral("The socket: one of the agent's fds (from socket, accept and "
                                    "the samples), or type one"));
    m_fd->setEditText(QStringLiteral("3"));
    m_head = new QFormLayout;
    m_head->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    m_head->addRow(QStringLiteral("call"), m_call);
    m_head->addRow(QStringLiteral("fd"), m_fd);
    layout->addLayout(m_head);

    m_pages = new QStackedWidget;
    for (const Call c : kCalls) {
        m_p->pageOf[c] = m_pages->count();
        m_pages->addWidget(buildPage(c));
    }
    layout->addWidget(m_pages);

    m_line = new QLineEdit;
    m_line->setObjectName(QStringLiteral("peerCallLine"));
    m_line->setPlaceholderText(QStringLiteral("connect 3 198.18.0.2 40000"));
    m_line->setToolTip(QStringLiteral("The call in tcplab-cli peer's grammar: type one, or edit "
                                      "the form above"));
    m_errorLabel = new QLabel;
    m_errorLabel->setObjectName(QStringLiteral("peerCallError"));
    m_errorLabel->setWordWrap(true);
    m_errorLabel->setTextFormat(Qt::PlainText);
    m_errorLabel->hide();
    auto* lineRow = new QFormLayout;
    lineRow->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    lineRow->addRow(QStringLiteral("as a line"), m_line);
    layout->addLayout(lineRow);
    layout->addWidget(m_errorLabel);

    connect(m_call, &QComboBox::currentIndexChanged, this, [this] {
        showPage(m_p->pageOf[call()]);
        m_head->setRowVisible(m_fd, takesFd(call()));
        m_call->setToolTip(QString::fromLatin1(callHelp(call())));
        formEdited();
    });
    connect(m_fd, &QComboBox::editTextChanged, this, [this] { formEdited(); });
    connect(m_line, &QLineEdit::textEdited, this, [this] { lineEdited(); });
    showPage(0);
    m_head->setRowVisible(m_fd, false);
    formEdited();
}

PeerCallForm::~PeerCallForm() = default;

QWidget* PeerCallForm::buildPage(Call c) {
    auto* page = new QWidget;
    auto* form = new QFormLayout(page);
    form->setContentsMargins(0, 0, 0, 0);
    form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    const QString callWord = qs(peer::callName(c));
    const auto line = [&](const char* id, const QString& text, const QString& tip) {
        auto* e = new QLineEdit(text);
        e->setObjectName(QStringLiteral("peer.%1.%2").arg(callWord, QLatin1String(id)));
        e->setToolTip(tip);
        connect(e, &QLineEdit::textEdited, this, [this] { formEdited(); });
        return e;
    };
    const auto combo = [&](const char* id, const QStringList& items) {
        auto* box = new QComboBox;
        box->setObjectName(QStringLiteral("peer.%1.%2").arg(callWord, QLatin1String(id)));
        box->addItems(items);
        connect(box, &QComboBox::currentIndexChanged, this, [this] { formEdited(); });
        return box;
    };
    const auto check = [&](const char* id, const QString& text, const QString& tip) {
        auto* box = new QCheckBox(text);
        box->setObjectName(QStringLiteral("peer.%1.%2").arg(callWord, QLatin1String(id)));
        box->setToolTip(tip);
        connect(box, &QCheckBox::toggled, this, [this] { formEdited(); });
        return box;
    };
    const auto row = [](std::initializer_list<QWidget*> widgets) {
        auto* box = new QWidget;
        auto* h = new QHBoxLayout(box);
        h->setContentsMargins(0, 0, 0, 0);
        for (QWidget* w : widgets)
            h->addWidget(w);
        h->addStretch(1);
        return box;
    };
    const auto options = [&](const char* id, bool settable) {
        auto* box = combo(id, {});
        for (const auto& o : peer::socketOptions()) {
            if (settable && (o.readOnly || o.type == peer::OptionType::TcpInfo))
                continue;
            box->addItem(qs(o.name));
            box->setItemData(box->count() - 1, qs(o.meaning), Qt::ToolTipRole);
        }
        const auto tip = [box] { box->setToolTip(box->currentData(Qt::ToolTipRole).toString()); };
        connect(box, &QComboBox::currentIndexChanged, box, tip);
        tip();
        return box;
    };
    Pages& p = *m_p;
    switch (c) {
    case Call::Socket:
        p.socketFamily = combo("family", {QStringLiteral("inet"), QStringLiteral("inet6")});
        p.socketFamily->setToolTip(QStringLiteral("AF_INET (IPv4) or AF_INET6 (IPv6)"));
        p.socketNonblock =
            check("nonblock", QStringLiteral("non-blocking"),
                  QStringLiteral("SOCK_NONBLOCK: calls return EAGAIN/EINPROGRESS instead of "
                                 "waiting"));
        form->addRow(QStringLiteral("family"), p.socketFamily);
        form->addRow(QString(), p.socketNonblock);
        break;
    case Call::Bind:
        p.bindAddress = line("address", QStringLiteral("any"),
                             QStringLiteral("The peer's own address, or any (0.0.0.0 / ::)"));
        p.bindPort = line("port", QStringLiteral("5000"), QStringLiteral("0 to 65535"));
        form->addRow(QStringLiteral("address"), p.bindAddress);
        form->addRow(QStringLiteral("port"), p.bindPort);
        break;
    case Call::Listen:
        p.listenBacklog = line("backlog", QStringLiteral("16"),
                               QStringLiteral("Connections the kernel completes before accept"));
        form->addRow(QStringLiteral("backlog"), p.listenBacklog);
        break;
    case Call::Connect:
        p.connectAddress = line("address", QStringLiteral("198.18.0.2"),
                                QStringLiteral("Where the kernel connects to: the phantom"));
        p.connectPort = line("port", QStringLiteral("40000"),
                             QStringLiteral("The phantom's port (its listening port answers by "
                                            "itself; any other is yours to answer)"));
        form->addRow(QStringLiteral("address"), p.connectAddress);
        form->addRow(QStringLiteral("port"), p.connectPort);
        break;
    case Call::Read:
        p.readMode = combo("mode", {QStringLiteral("read a count of bytes"),
                                    QStringLiteral("stop reading (the window closes)"),
                                    QStringLiteral("read all that comes (drain on)")});
        p.readCount = line("count", QStringLiteral("64k"),
                           QStringLiteral("Bytes to read at most: 100, 64k, 4M"));
        p.readPeek = check("peek", QStringLiteral("peek"), QStringLiteral("MSG_PEEK"));
        p.readDontwait =
            check("dontwait", QStringLiteral("dontwait"), QStringLiteral("MSG_DONTWAIT"));
        p.readWaitall = check("waitall", QStringLiteral("waitall"), QStringLiteral("MSG_WAITALL"));
        form->addRow(QStringLiteral("what"), p.readMode);
        form->addRow(QStringLiteral("count"), p.readCount);
        form->addRow(QStringLiteral("flags"), row({p.readPeek, p.readDontwait, p.readWaitall}));
        break;
    case Call::Write:
        p.writeMode = combo("mode", {QStringLiteral("a count of pattern bytes"),
                                     QStringLiteral("text"), QStringLiteral("hex bytes")});
        p.writeData = line("data", QStringLiteral("4M"),
                           QStringLiteral("A count (1k, 4M, 1G), text with \\r\\n escapes, or "
                                          "hex digits"));
        p.writeMore = check("more", QStringLiteral("more"), QStringLiteral("MSG_MORE"));
        p.writeDontwait =
            check("dontwait", QStringLiteral("dontwait"), QStringLiteral("MSG_DONTWAIT"));
        form->addRow(QStringLiteral("what"), p.writeMode);
        form->addRow(QStringLiteral("data"), p.writeData);
        form->addRow(QStringLiteral("flags"), row({p.writeMore, p.writeDontwait}));
        connect(p.writeMode, &QComboBox::currentIndexChanged, this, [this] {
            // A sensible value for the new kind of data.
            static const char* const kDefaults[] = {"4M", "Hello from the peer\\r\\n", "0a0b"};
            m_p->writeData->setText(
                QString::fromLatin1(kDefaults[std::clamp(m_p->writeMode->currentIndex(), 0, 2)]));
            formEdited();
        });
        break;
    case Call::Shutdown:
        p.shutdownHow =
            combo("how", {QStringLiteral("rd"), QStringLiteral("wr"), QStringLiteral("rdwr")});
        p.shutdownHow->setCurrentIndex(1);
        p.shutdownHow->setToolTip(QStringLiteral("SHUT_RD, SHUT_WR (a FIN), SHUT_RDWR"));
        form->addRow(QStringLiteral("how"), p.shutdownHow);
        break;
    case Call::Poll:
        p.pollTimeout =
            line("timeout", QStringLiteral("0"), QStringLiteral("Milliseconds; -1 waits forever"));
        p.pollIn = check("in", QStringLiteral("in"), QStringLiteral("POLLIN: readable"));
        p.pollOut = check("out", QStringLiteral("out"), QStringLiteral("POLLOUT: writable"));
        p.pollPri = check("pri", QStringLiteral("pri"), QStringLiteral("POLLPRI: urgent data"));
        p.pollRdhup =
            check("rdhup", QStringLiteral("rdhup"), QStringLiteral("POLLRDHUP: the peer's FIN"));
        p.pollIn->setChecked(true);
        form->addRow(QStringLiteral("timeout ms"), p.pollTimeout);
        form->addRow(QStringLiteral("events"), row({p.pollIn, p.pollOut, p.pollPri, p.pollRdhup}));
        break;
    case Call::Fcntl:
        p.fcntlCommand =
            combo("command", {QStringLiteral("getfl"), QStringLiteral("setfl nonblock"),
                              QStringLiteral("setfl 0 (blocking)")});
        form->addRow(QStringLiteral("command"), p.fcntlCommand);
        break;
    case Call::SetSockOpt:
        p.setOption = options("option", true);
        p.setValue = line("value", QStringLiteral("1"),
                          QStringLiteral("An int (1, 65536), SO_LINGER on,seconds (1,0), or "
                                         "TCP_CONGESTION's name (reno)"));
        form->addRow(QStringLiteral("option"), p.setOption);
        form->addRow(QStringLiteral("value"), p.setValue);
        connect(p.setOption, &QComboBox::currentIndexChanged, this, [this] {
            // A value of the option's type, so that the line stays valid.
            const auto* o = peer::findOption(m_p->setOption->currentText().toStdString());
            if (o && o->type == peer::OptionType::Linger)
                m_p->setValue->setText(QStringLiteral("1,0"));
            else if (o && o->type == peer::OptionType::String)
                m_p->setValue->setText(QStringLiteral("reno"));
            else if (!m_p->setValue->text().toInt())
                m_p->setValue->setText(QStringLiteral("1"));
            formEdited();
        });
        break;
    case Call::GetSockOpt:
        p.getOption = options("option", false);
        if (const int info = p.getOption->findText(QStringLiteral("TCP_INFO")); info >= 0)
            p.getOption->setCurrentIndex(info);
        form->addRow(QStringLiteral("option"), p.getOption);
        break;
    case Call::Ioctl:
        p.ioctlRequest = combo("request", {QStringLiteral("SIOCINQ"), QStringLiteral("SIOCOUTQ")});
        form->addRow(QStringLiteral("request"), p.ioctlRequest);
        break;
    case Call::Sysctl:
        p.sysctlKey = line("key", QStringLiteral("net.ipv4.tcp_sack"),
                           QStringLiteral("A key of the peer namespace's /proc/sys"));
        p.sysctlValue = line("value", QString(), QStringLiteral("Empty: read it; else write it"));
        p.sysctlValue->setPlaceholderText(QStringLiteral("(read)"));
        form->addRow(QStringLiteral("key"), p.sysctlKey);
        form->addRow(QStringLiteral("value"), p.sysctlValue);
        break;
    case Call::SysctlList:
        p.listPrefix = line("prefix", QStringLiteral("net."),
                            QStringLiteral("Keys that start with it (empty: all)"));
        form->addRow(QStringLiteral("prefix"), p.listPrefix);
        break;
    case Call::Drain:
        p.drainOn = combo("on", {QStringLiteral("on"), QStringLiteral("off")});
        form->addRow(QStringLiteral("reading"), p.drainOn);
        break;
    case Call::Accept:
    case Call::Close:
    case Call::Sample:
    case Call::EpollCreate:
    case Call::EpollCtl:
    case Call::EpollWait:
    case Call::Command:
        break;
    }
    return page;
}

void PeerCallForm::showPage(int index) {
    // The stack is as tall as the page shown, not as its tallest page.
    for (int i = 0; i < m_pages->count(); ++i)
        m_pages->widget(i)->setSizePolicy(
            i == index ? QSizePolicy::Preferred : QSizePolicy::Ignored,
            i == index ? QSizePolicy::Preferred : QSizePolicy::Ignored);
    m_pages->setCurrentIndex(index);
    m_pages->adjustSize();
    m_pages->updateGeometry();
}

peer::Call PeerCallForm::call() const {
    return static_cast<Call>(m_call->currentData().toInt());
}

QString PeerCallForm::line() const {
    return m_line->text();
}

bool PeerCallForm::takesFd(Call c) const {
    return c != Call::Socket && c != Call::Sysctl && c != Call::SysctlList && c != Call::Sample &&
           c != Call::EpollCreate && c != Call::Command;
}

QString PeerCallForm::compose() const {
    const Pages& p = *m_p;
    const Call c = call();
    const QString name = qs(peer::callName(c));
    const QString fd = m_fd->currentText().trimmed();
    QStringList w{name};
    if (takesFd(c) && c != Call::Poll)
        w << fd;
    const auto text = [](const QLineEdit* e) { return e->text().trimmed(); };
    switch (c) {
    case Call::Socket:
        w << p.socketFamily->currentText();
        if (p.socketNonblock->isChecked())
            w << QStringLiteral("nonblock");
        break;
    case Call::Bind:
        if (const QString a = text(p.bindAddress); !a.isEmpty() && a != QLatin1String("any"))
            w << a;
        w << text(p.bindPort);
        break;
    case Call::Listen:
        w << text(p.listenBacklog);
        break;
    case Call::Connect:
        w << text(p.connectAddress) << text(p.connectPort);
        break;
    case Call::Read:
        if (p.readMode->currentIndex() == 1) {
            w << QStringLiteral("stop");
        } else if (p.readMode->currentIndex() == 2) {
            w << QStringLiteral("all");
        } else {
            w << text(p.readCount);
            if (p.readPeek->isChecked())
                w << QStringLiteral("peek");
            if (p.readDontwait->isChecked())
                w << QStringLiteral("dontwait");
            if (p.readWaitall->isChecked())
                w << QStringLiteral("waitall");
        }
        break;
    case Call::Write:
        if (p.writeMode->currentIndex() == 1)
            w << quotedText(p.writeData->text());
        else if (p.writeMode->currentIndex() == 2)
            w << QStringLiteral("hex:%1").arg(text(p.writeData).remove(QLatin1Char(' ')));
        else
            w << text(p.writeData);
        if (p.writeMore->isChecked())
            w << QStringLiteral("more");
        if (p.writeDontwait->isChecked())
            w << QStringLiteral("dontwait");
        break;
    case Call::Shutdown:
        w << p.shutdownHow->currentText();
        break;
    case Call::Poll: {
        QStringList events;
        for (QCheckBox* box : {p.pollIn, p.pollOut, p.pollPri, p.pollRdhup})
            if (box->isChecked())
                events << box->text();
        w << text(p.pollTimeout) << fd << events.join(QLatin1Char(','));
        break;
    }
    case Call::Fcntl:
        w << (p.fcntlCommand->currentIndex() == 0   ? QStringLiteral("getfl")
              : p.fcntlCommand->currentIndex() == 1 ? QStringLiteral("setfl nonblock")
                                                    : QStringLiteral("setfl 0"));
        break;
    case Call::SetSockOpt:
        w << p.setOption->currentText() << text(p.setValue);
        break;
    case Call::GetSockOpt:
        w << p.getOption->currentText();
        break;
    case Call::Ioctl:
        w << p.ioctlRequest->currentText();
        break;
    case Call::Sysctl: {
        const QString value = text(p.sysctlValue);
        w << (value.isEmpty() ? text(p.sysctlKey)
                              : QStringLiteral("%1=%2").arg(text(p.sysctlKey), value));
        break;
    }
    case Call::SysctlList:
        if (const QString prefix = text(p.listPrefix); !prefix.isEmpty())
            w << prefix;
        break;
    case Call::Drain:
        w << p.drainOn->currentText();
        break;
    case Call::Accept:
    case Call::Close:
    case Call::Sample:
    case Call::EpollCreate:
    case Call::EpollCtl:
    case Call::EpollWait:
    case Call::Command:
        break;
    }
    w.removeAll(QString());
    return w.join(QLatin1Char(' '));
}

void PeerCallForm::fill(const peer::Request& r) {
    Pages& p = *m_p;
    m_filling = true;
    const auto n = [&r](std::size_t i) { return i < r.numbers.size() ? r.numbers[i] : 0; };
    if (const int index = m_call->findData(int(r.call)); index >= 0)
        m_call->setCurrentIndex(index);
    if (r.fd >= 0 && r.call != Call::Poll)
        m_fd->setEditText(QString::number(r.fd));
    switch (r.call) {
    case Call::Socket:
        p.socketFamily->setCurrentIndex(n(0) == 10 ? 1 : 0);
        p.socketNonblock->setChecked((n(1) & 04000) != 0);
        break;
    case Call::Bind:
        p.bindAddress->setText(r.text.empty() ? QStringLiteral("any") : qs(r.text));
        p.bindPort->setText(QString::number(n(0)));
        break;
    case Call::Listen:
        p.listenBacklog->setText(QString::number(n(0)));
        break;
    case Call::Connect:
        p.connectAddress->setText(qs(r.text));
        p.connectPort->setText(QString::number(n(0)));
        break;
    case Call::Read:
        p.readMode->setCurrentIndex(0);
        p.readCount->setText(QString::number(n(0)));
        p.readPeek->setChecked(n(1) & 0x2);
        p.readDontwait->setChecked(n(1) & 0x40);
        p.readWaitall->setChecked(n(1) & 0x100);
        break;
    case Call::Write:
        if (r.data.empty()) {
            p.writeMode->setCurrentIndex(0);
            p.writeData->setText(QString::number(n(0)));
        } else {
            p.writeMode->setCurrentIndex(1);
            p.writeData->setText(qs(wire::escapeText(r.data)));
        }
        p.writeMore->setChecked(n(1) & 0x8000);
        p.writeDontwait->setChecked(n(1) & 0x40);
        break;
    case Call::Shutdown:
        p.shutdownHow->setCurrentIndex(int(std::clamp<std::int64_t>(n(0), 0, 2)));
        break;
    case Call::Poll:
        p.pollTimeout->setText(QString::number(n(0)));
        if (r.numbers.size() >= 3) {
            m_fd->setEditText(QString::number(n(1)));
            p.pollIn->setChecked(n(2) & 0x1);
            p.pollPri->setChecked(n(2) & 0x2);
            p.pollOut->setChecked(n(2) & 0x4);
            p.pollRdhup->setChecked(n(2) & 0x2000);
        }
        break;
    case Call::Fcntl:
        p.fcntlCommand->setCurrentIndex(n(0) == 3 ? 0 : (n(1) & 04000) ? 1 : 2);
        break;
    case Call::SetSockOpt: {
        const std::string text = peer::formatCall(r);
        // "setsockopt FD NAME VALUE": the value is what follows the third word.
        std::size_t at = 0;
        for (int word = 0; word < 3 && at != std::string::npos; ++word)
            at = text.find(' ', at + (word ? 1 : 0));
        if (const auto* o = peer::findOption(int(n(0)), int(n(1))))
            p.setOption->setCurrentText(qs(o->name));
        p.setValue->setText(at == std::string::npos ? QString() : qs(text.substr(at + 1)));
        break;
    }
    case Call::GetSockOpt:
        if (const auto* o = peer::findOption(int(n(0)), int(n(1))))
            p.getOption->setCurrentText(qs(o->name));
        break;
    case Call::Ioctl:
        p.ioctlRequest->setCurrentIndex(n(0) == 0x5411 ? 1 : 0);
        break;
    case Call::Sysctl:
        p.sysctlKey->setText(qs(r.text));
        p.sysctlValue->setText(QString::fromUtf8(reinterpret_cast<const char*>(r.data.data()),
                                                 qsizetype(r.data.size())));
        break;
    case Call::SysctlList:
        p.listPrefix->setText(qs(r.text));
        break;
    case Call::Drain:
        p.drainOn->setCurrentIndex(n(0) ? 0 : 1);
        break;
    case Call::Accept:
    case Call::Close:
    case Call::Sample:
    case Call::EpollCreate:
    case Call::EpollCtl:
    case Call::EpollWait:
    case Call::Command:
        break;
    }
    m_filling = false;
}

void PeerCallForm::formEdited() {
    if (m_filling || !m_line)
        return; // filling from a line, or still building the pages
    m_line->setText(compose());
    validate();
}

void PeerCallForm::lineEdited() {
    const auto parsed = peer::parseCall(m_line->text().toStdString());
    if (parsed)
        fill(*parsed);
    validate();
}

void PeerCallForm::updateOptionValue() {
    const Pages& p = *m_p;
    QString error;
    if (call() == Call::SetSockOpt) {
        if (const auto* o = peer::findOption(p.setOption->currentText().toStdString()))
            if (auto v = peer::encodeOptionValue(*o, p.setValue->text().trimmed().toStdString());
                !v)
                error = qs(v.error());
    }
    markInvalid(p.setValue, error,
                QStringLiteral("An int (1, 65536), SO_LINGER on,seconds (1,0), or "
                               "TCP_CONGESTION's name (reno)"));
}

void PeerCallForm::validate() {
    updateOptionValue();
    const auto parsed = peer::parseCall(m_line->text().toStdString());
    if (parsed) {
        m_request = *parsed;
        m_error.clear();
    } else {
        m_request.reset();
        m_error = qs(parsed.error());
    }
    markInvalid(m_line, m_error,
                QStringLiteral("The call in tcplab-cli peer's grammar: type one, or edit the "
                               "form above"));
    if (m_error.isEmpty()) {
        m_errorLabel->hide();
    } else {
        m_errorLabel->setText(m_error);
        QPalette pal; // only the text's colour: the rest follows the application palette
        pal.setColor(QPalette::WindowText, errorColor(palette()));
        m_errorLabel->setPalette(pal);
        m_errorLabel->show();
    }
    const bool valid = m_request.has_value();
    if (valid != m_valid) {
        m_valid = valid;
        Q_EMIT validityChanged(valid);
    }
    Q_EMIT changed();
}

void PeerCallForm::changeEvent(QEvent* event) {
    QWidget::changeEvent(event);
    if (event->type() == QEvent::PaletteChange && m_line)
        validate(); // the marks in the error colour of the other palette
}

void PeerCallForm::setCall(Call c) {
    if (const int index = m_call->findData(int(c)); index >= 0)
        m_call->setCurrentIndex(index);
}

void PeerCallForm::setLine(const QString& text) {
    m_line->setText(text);
    lineEdited();
}

void PeerCallForm::setKnownFds(const std::vector<int>& fds) {
    const QString current = m_fd->currentText();
    QStringList items;
    for (const int fd : fds)
        items << QString::number(fd);
    QStringList now;
    for (int i = 0; i < m_fd->count(); ++i)
        now << m_fd->itemText(i);
    if (now == items)
        return;
    m_filling = true;
    m_fd->clear();
    m_fd->addItems(items);
    m_fd->setEditText(current);
    m_filling = false;
}

void PeerCallForm::setCurrentFd(int fd) {
    if (fd < 0 || m_fd->currentText() == QString::number(fd))
        return;
    m_fd->setEditText(QString::number(fd)); // editTextChanged: the line follows
}

void PeerCallForm::setPhantom(const QString& address, bool ipv6) {
    m_filling = true;
    m_p->connectAddress->setText(address);
    m_p->socketFamily->setCurrentIndex(ipv6 ? 1 : 0);
    m_filling = false;
    formEdited();
}

void PeerCallForm::setConnectPort(std::uint16_t port) {
    if (port == 0)
        return;
    m_p->connectPort->setText(QString::number(port));
    formEdited();
}

} // namespace tcplab::ui
