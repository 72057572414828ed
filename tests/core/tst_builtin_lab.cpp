// The built-in "linux" lab (core/lab): tcplab-lab-helper builds a user + network
// namespace pair joined by a veth, without privileges, and hands over the phantom's
// AF_PACKET socket and the peer's listening sockets. Here the phantom speaks to the
// peer's kernel through that link (ARP, NS, raw handshakes, HTTP through PeerApp), the
// peer's TCP settings are changed, and every way of failing is checked for its message
// and for what it leaves behind. PeerApp's HTTP semantics are also checked on its own,
// over local (AF_UNIX) sockets.
//
// Runs as any user where unprivileged user namespaces are allowed (it skips, saying
// why, where they are not). As root it also re-runs the lab tests as "nobody", so the
// unprivileged path is covered by CI, and checks that the veth is gone afterwards.
#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QObject>
#include <QProcess>
#include <QProcessEnvironment>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include "tests_support/lab_phantom.h"
#include "tests_support/test_support.h"

#include "host/phantom_host.h"
#include "lab/builtin_lab.h"
#include "lab/peer_app.h"
#include "link/fd_link.h"
#include "peer/pattern.h"
#include "wire/frame.h"
#include "wire/segment_spec.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

// The build names the helper it built (app/CMakeLists.txt); else it is looked for
// where that build puts it.
#ifndef TCPLAB_LAB_HELPER_PATH
#define TCPLAB_LAB_HELPER_PATH TCPLAB_BINARY_DIR "/app/tcplab-lab-helper"
#endif

using namespace tcplab;
using namespace tcplab::test;
using lab::LabErrorCode;
using wire::IpAddress;
using wire::Ipv4Address;
using wire::Ipv6Address;
using wire::MacAddress;
using wire::SeqNum;
namespace flags = wire::tcp_flags;

namespace {

using Clock = std::chrono::steady_clock;

/// Set in the copy of this suite that runs as nobody (asNobody_theLabWorks).
constexpr const char* kUnprivilegedMarker = "TCPLAB_TEST_AS_NOBODY";

std::string helperPath() {
    if (const char* env = std::getenv("TCPLAB_LAB_HELPER"); env && *env)
        return env;
    return TCPLAB_LAB_HELPER_PATH;
}

lab::LabOptions options() {
    lab::LabOptions o;
    o.helperPath = helperPath();
    o.timeout = std::chrono::milliseconds(10'000);
    // The peer agent has its own suite (tst_peer_agent); here the lab leaves no process
    // behind, whether or not an agent could be found.
    o.agent = false;
    return o;
}

/// Sets an environment variable for one test; restores it after, passed or not.
class EnvGuard {
public:
    EnvGuard(const char* name, const char* value)
        : m_name(name) {
        if (const char* old = std::getenv(name))
            m_old = old;
        ::setenv(name, value, 1);
    }
    ~EnvGuard() {
        if (m_old)
            ::setenv(m_name, m_old->c_str(), 1);
        else
            ::unsetenv(m_name);
    }
    EnvGuard(const EnvGuard&) = delete;
    EnvGuard& operator=(const EnvGuard&) = delete;

private:
    const char* m_name;
    std::optional<std::string> m_old;
};

/// The pids of this process's children (from /proc/<pid>/stat's ppid field).
std::vector<pid_t> childProcesses(pid_t parent = ::getpid()) {
    std::vector<pid_t> children;
    DIR* proc = ::opendir("/proc");
    if (!proc)
        return children;
    while (dirent* e = ::readdir(proc)) {
        const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
        if (pid <= 0)
            continue;
        std::ifstream stat(std::string("/proc/") + e->d_name + "/stat");
        std::string line;
        if (!std::getline(stat, line))
            continue;
        // pid (comm) state ppid ...: comm may hold spaces, so parse after the last ')'.
        const auto close = line.rfind(')');
        if (close == std::string::npos)
            continue;
        std::istringstream rest(line.substr(close + 1));
        std::string state;
        pid_t ppid = 0;
        rest >> state >> ppid;
        if (ppid == parent)
            children.push_back(pid);
    }
    ::closedir(proc);
    return children;
}

bool processExists(pid_t pid) {
    return ::kill(pid, 0) == 0 || errno == EPERM;
}

/// The open fds of this process, as "fd -> target" lines.
std::vector<std::string> openFds() {
    std::vector<std::string> list;
    DIR* dir = ::opendir("/proc/self/fd");
    if (!dir)
        return list;
    while (dirent* e = ::readdir(dir)) {
        if (e->d_name[0] == '.')
            continue;
        if (std::atoi(e->d_name) == ::dirfd(dir))
            continue;
        std::array<char, 256> target{};
        const auto path = std::string("/proc/self/fd/") + e->d_name;
        const ssize_t n = ::readlink(path.c_str(), target.data(), target.size() - 1);
        list.push_back(std::string(e->d_name) + " -> " +
                       (n > 0 ? std::string(target.data(), static_cast<std::size_t>(n)) : "?"));
    }
    ::closedir(dir);
    std::sort(list.begin(), list.end());
    return list;
}

QString joined(const std::vector<std::string>& lines) {
    QStringList l;
    for (const auto& s : lines)
        l << qs(s);
    return l.join(QStringLiteral("; "));
}

/// A source port of its own for each connection, so runs never meet an old 4-tuple.
std::uint16_t clientPort() {
    return static_cast<std::uint16_t>(40000 + std::random_device{}() % 20000);
}

// --- The phantom, over the lab's link ------------------------------------------

/// The options a Linux client offers in its SYN.
wire::TcpOptionList linuxLikeOptions() {
    wire::TcpOptionList o;
    o.append(wire::TcpOption::mss(1460));
    o.append(wire::TcpOption::sackPermitted());
    o.append(wire::TcpOption::timestamps(1000, 0));
    o.append(wire::TcpOption::nop());
    o.append(wire::TcpOption::windowScale(7));
    return o;
}

/// "checksum ok" or what is wrong with a received TCP segment's checksums.
QString checksumVerdict(const std::vector<std::uint8_t>& frame) {
    const auto f = wire::decodeFrame(wire::Bytes(frame));
    if (!f.tcp())
        return QStringLiteral("not TCP");
    if (!f.transportChecksumChecked)
        return QStringLiteral("TCP checksum not checkable");
    if (f.diagnostics.has(wire::Diagnostic::TcpChecksumPartial))
        return QStringLiteral("partial TCP checksum (tx checksum offload is on)");
    if (f.diagnostics.has(wire::Diagnostic::TcpChecksumBad))
        return QStringLiteral("bad TCP checksum");
    if (f.diagnostics.has(wire::Diagnostic::Ipv4ChecksumBad))
        return QStringLiteral("bad IPv4 checksum");
    return QStringLiteral("checksum ok");
}

/// The peer's events, collected from PeerApp's thread.
struct EventLog {
    std::mutex mutex;
    std::vector<lab::PeerEvent> events;

    std::function<void(const lab::PeerEvent&)> sink() {
        return [this](const lab::PeerEvent& e) {
            const std::lock_guard lock(mutex);
            events.push_back(e);
        };
    }
    bool has(lab::PeerEvent::Kind kind, const std::string& remotePart,
             const std::string& textPart = {}) {
        const std::lock_guard lock(mutex);
        for (const auto& e : events)
            if (e.kind == kind && e.remote.find(remotePart) != std::string::npos &&
                e.text.find(textPart) != std::string::npos)
                return true;
        return false;
    }
    QString dump() {
        const std::lock_guard lock(mutex);
        QStringList l;
        for (const auto& e : events)
            l << QStringLiteral("%1 %2 %3 '%4'")
                     .arg(int(e.kind))
                     .arg(e.port)
                     .arg(qs(e.remote), qs(e.text));
        return l.join(QStringLiteral("; "));
    }
};

// --- Local sockets for PeerApp alone --------------------------------------------

/// A listening AF_UNIX stream socket (abstract name: no file, no network).
int localListener(std::string& name) {
    static int counter = 0;
    name = "tcplab-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path + 1, name.data(), name.size());
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(fd, 16) != 0) {
        if (fd >= 0)
            ::close(fd);
        return -1;
    }
    return fd;
}

int localConnect(const std::string& name) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path + 1, name.data(), name.size());
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) {
        if (fd >= 0)
            ::close(fd);
        return -1;
    }
    return fd;
}

void sendAll(int fd, const std::string& text) {
    const ssize_t n = ::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
    QCOMPARE(n, static_cast<ssize_t>(text.size()));
}

/// Reads until `until` says the text is complete, the other end closes (eof set), or
/// `ms` pass.
std::string readSome(int fd, int ms, bool* eof = nullptr,
                     const std::function<bool(const std::string&)>& until = {}) {
    std::string text;
    const auto deadline = Clock::now() + std::chrono::milliseconds(ms);
    if (eof)
        *eof = false;
    while (Clock::now() < deadline) {
        if (until && until(text))
            break;
        pollfd p{fd, POLLIN, 0};
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (::poll(&p, 1, static_cast<int>(std::max<long long>(1, left.count()))) <= 0)
            continue;
        std::array<char, 4096> buffer{};
        const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (n == 0) {
            if (eof)
                *eof = true;
            break;
        }
        if (n > 0)
            text.append(buffer.data(), static_cast<std::size_t>(n));
    }
    return text;
}

int countOf(const std::string& text, const std::string& what) {
    int n = 0;
    for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1))
        ++n;
    return n;
}

/// A complete response: head and Content-Length bytes of body (count of them in text).
bool responsesComplete(const std::string& text, int count, bool withBody = true) {
    if (countOf(text, "\r\n\r\n") < count)
        return false;
    if (!withBody)
        return true;
    return countOf(text, "Hello from the tcplab peer") >= count;
}

/// One HTTP response: its head (with the blank line) and its Content-Length body.
struct Response {
    std::string head;
    std::string body;
};

/// The complete responses at the start of `text` (none for HEAD requests' bodies).
std::vector<Response> parseResponses(const std::string& text) {
    std::vector<Response> list;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const auto end = text.find("\r\n\r\n", pos);
        if (end == std::string::npos)
            break;
        Response r;
        r.head = text.substr(pos, end + 4 - pos);
        const auto cl = r.head.find("Content-Length: ");
        const std::size_t length =
            cl == std::string::npos ? 0 : std::strtoul(r.head.c_str() + cl + 16, nullptr, 10);
        if (end + 4 + length > text.size())
            break;
        r.body = text.substr(end + 4, length);
        pos = end + 4 + length;
        list.push_back(std::move(r));
    }
    return list;
}

/// `count` bytes of the bulk pattern from offset 0: GET /bytes/N's body.
std::string patternText(std::size_t count) {
    std::string text(count, '\0');
    for (std::size_t i = 0; i < count; ++i)
        text[i] = static_cast<char>(peer::patternByte(i));
    return text;
}

/// The head PeerApp gives GET (or HEAD) /bytes/N.
std::string bulkHead(std::uint64_t length, const char* connection = "") {
    return fmt::format("HTTP/1.1 200 OK\r\nServer: tcplab-lab\r\nContent-Type: "
                       "application/octet-stream\r\nContent-Length: {}\r\n{}\r\n",
                       length, connection);
}

/// This process's resident set (VmRSS), in bytes; 0 when /proc does not say.
std::size_t residentBytes() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.starts_with("VmRSS:"))
            return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
    return 0;
}

} // namespace

class TestBuiltinLab : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() {
        ::signal(SIGPIPE, SIG_IGN);
        if (helperPath().empty())
            QSKIP("TCPLAB_LAB_HELPER_PATH is not defined: the build did not tell this suite "
                  "where tcplab-lab-helper is (set TCPLAB_LAB_HELPER=/path/to/it)");
        auto probe = lab::startLinuxLab(options());
        if (!probe && probe.error().code == LabErrorCode::UserNamespacesRefused)
            m_noNamespaces = qs(probe.error().message);
        else
            QVERIFY2(probe.has_value(), probe ? "" : probe.error().message.c_str());
    }

    // --- PeerApp alone, over local sockets --------------------------------------

    void peerApp_http_keepAlive_answersEveryRequest_andClosesAfterTheClientsFin() {
        std::string name;
        const int listener = localListener(name);
        QVERIFY(listener >= 0);
        EventLog log;
        lab::PeerAppOptions o;
        o.onEvent = log.sink();
        auto app = lab::PeerApp::start({{listener, 50001, lab::PeerService::Http}}, o);
        QVERIFY(app.has_value());
        const int fd = localConnect(name);
        QVERIFY(fd >= 0);
        // Two pipelined requests in one write, then a third one later.
        sendAll(fd, "GET / HTTP/1.1\r\nHost: peer\r\n\r\nGET /again HTTP/1.1\r\n\r\n");
        bool eof = false;
        std::string text =
            readSome(fd, 3000, &eof, [](const std::string& t) { return responsesComplete(t, 2); });
        QVERIFY2(responsesComplete(text, 2), text.c_str());
        QVERIFY(!eof);
        sendAll(fd, "GET /third HTTP/1.1\n\n"); // bare LF line ends, as the lab server accepts
        text += readSome(fd, 3000, &eof,
                         [&text](const std::string& t) { return responsesComplete(text + t, 3); });
        const auto responses = parseResponses(text);
        QCOMPARE(responses.size(), std::size_t{3});
        const char* targets[] = {"/", "/again", "/third"};
        for (unsigned i = 0; i < 3; ++i) {
            const std::string body = lab::PeerApp::body(50001, i + 1, "GET", targets[i]);
            QVERIFY2(responses[i].head.starts_with("HTTP/1.1 200 OK\r\n"),
                     responses[i].head.c_str());
            QCOMPARE(qs(responses[i].body), qs(body));
            QVERIFY(responses[i].head.find("Connection:") == std::string::npos);
        }
        QCOMPARE(qs(responses[1].body),
                 QStringLiteral("Hello from the tcplab peer, port 50001. Request 2 on this "
                                "connection: GET /again\n"));
        QVERIFY(!eof);
        // Persistent: no close while the client keeps its side open...
        QVERIFY(readSome(fd, 300, &eof).empty());
        QVERIFY(!eof);
        // ...and the peer closes once the client has.
        ::shutdown(fd, SHUT_WR);
        readSome(fd, 3000, &eof);
        QVERIFY(eof);
        ::close(fd);
        QTRY_VERIFY_WITH_TIMEOUT((*app)->connectionCount() == 0, 3000);
        QVERIFY2(log.has(lab::PeerEvent::Kind::Request, "", "GET /again HTTP/1.1"),
                 qPrintable(log.dump()));
        QVERIFY2(log.has(lab::PeerEvent::Kind::Closed, "", "the client closed"),
                 qPrintable(log.dump()));
        app->reset();
        ::close(listener);
    }

    void peerApp_http_asTheLabServer_data() {
        // Each row: what the client sends (then it waits), the request lines the peer
        // answers (method and target as echoed in the body), the Connection header
        // of each answer, and whether the peer then closes (its FIN).
        QTest::addColumn<QString>("request");
        QTest::addColumn<QStringList>("answered");
        QTest::addColumn<QStringList>("connection");
        QTest::addColumn<bool>("peerCloses");
        QTest::newRow("HTTP/1.1 Connection: close")
            << "GET / HTTP/1.1\r\nHost: peer\r\nConnection: close\r\n\r\n"
            << QStringList{"GET /"} << QStringList{"close"} << true;
        QTest::newRow("connection tokens, any case")
            << "GET / HTTP/1.1\r\nconnection: Upgrade, CLOSE\r\n\r\n"
            << QStringList{"GET /"} << QStringList{"close"} << true;
        QTest::newRow("HTTP/1.0") << "GET / HTTP/1.0\r\n\r\n"
                                  << QStringList{"GET /"} << QStringList{"close"} << true;
        QTest::newRow("HTTP/1.0 keep-alive")
            << "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n"
            << QStringList{"GET /a", "GET /b"} << QStringList{"keep-alive", "close"} << true;
        QTest::newRow("no version (HTTP/0.9)")
            << "GET /\r\n\r\n"
            << QStringList{"GET /"} << QStringList{"close"} << true;
        QTest::newRow("version in lower case persists")
            << "GET / http/1.1\r\n\r\n"
            << QStringList{"GET /"} << QStringList{""} << false;
        QTest::newRow("empty lines before a request are ignored")
            << "\r\n\r\n\nGET /x HTTP/1.1\r\n\r\n\r\nGET /y HTTP/1.1\r\n\r\n"
            << QStringList{"GET /x", "GET /y"} << QStringList{"", ""} << false;
        QTest::newRow("a body is read before its answer")
            << "POST /form HTTP/1.1\r\nContent-Length: 22\r\n\r\nGET /not-a-request\r\n\r\n"
               "GET /next HTTP/1.1\r\n\r\n"
            << QStringList{"POST /form", "GET /next"} << QStringList{"", ""} << false;
        QTest::newRow("chunked bodies cannot be skipped: close")
            << "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
            << QStringList{"POST /"} << QStringList{"close"} << true;
        QTest::newRow("an oversized body: close")
            << "POST / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n"
            << QStringList{"POST /"} << QStringList{"close"} << true;
        QTest::newRow("odd bytes in the target read as '?'")
            << QString::fromLatin1("GET /\x01\x7f\xe9 HTTP/1.1\r\n\r\n")
            << QStringList{QString::fromUtf8("GET /??\u00e9")} << QStringList{""} << false;
    }
    void peerApp_http_asTheLabServer() {
        QFETCH(QString, request);
        QFETCH(QStringList, answered);
        QFETCH(QStringList, connection);
        QFETCH(bool, peerCloses);
        std::string name;
        const int listener = localListener(name);
        QVERIFY(listener >= 0);
        auto app = lab::PeerApp::start({{listener, 80, lab::PeerService::Http}});
        QVERIFY(app.has_value());
        const int fd = localConnect(name);
        QVERIFY(fd >= 0);
        sendAll(fd, request.toLatin1().toStdString());
        bool eof = false;
        const auto count = static_cast<std::size_t>(answered.size());
        const std::string text =
            readSome(fd, peerCloses ? 3000 : 1000, &eof, [&](const std::string& t) {
                return !peerCloses && parseResponses(t).size() >= count;
            });
        const auto responses = parseResponses(text);
        QCOMPARE(responses.size(), count);
        for (std::size_t i = 0; i < count; ++i) {
            const QString line = answered[int(i)];
            const QString method = line.section(' ', 0, 0);
            const QString target = line.section(' ', 1);
            QCOMPARE(
                qs(responses[i].body),
                qs(lab::PeerApp::body(80, unsigned(i + 1), method.toStdString(), "")).chopped(1) +
                    target + QStringLiteral("\n"));
            const QString header = connection[int(i)];
            if (header.isEmpty())
                QVERIFY2(responses[i].head.find("Connection:") == std::string::npos,
                         responses[i].head.c_str());
            else
                QVERIFY2(responses[i].head.find("Connection: " + header.toStdString() + "\r\n") !=
                             std::string::npos,
                         responses[i].head.c_str());
        }
        QCOMPARE(eof, peerCloses);
        if (!peerCloses) {
            QVERIFY(readSome(fd, 200, &eof).empty());
            QVERIFY(!eof);
        }
        ::close(fd);
        app->reset();
        ::close(listener);
    }

    void peerApp_http_closingResponse_readsOnUntilTheClientsFin() {
        std::string name;
        const int listener = localListener(name);
        QVERIFY(listener >= 0);
        auto app = lab::PeerApp::start({{listener, 80, lab::PeerService::Http}});
        QVERIFY(app.has_value());
        const int fd = localConnect(name);
        QVERIFY(fd >= 0);
        sendAll(fd, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
        bool eof = false;
        readSome(fd, 3000, &eof);
        QVERIFY(eof); // the peer's FIN follows the response
        // It reads on until our FIN: a late request is dropped, not answered.
        sendAll(fd, "GET /late HTTP/1.1\r\n\r\n");
        QTest::qWait(100);
        QCOMPARE((*app)->connectionCount(), std::size_t{1});
        ::shutdown(fd, SHUT_WR);
        QTRY_VERIFY_WITH_TIMEOUT((*app)->connectionCount() == 0, 3000);
        ::close(fd);
        app->reset();
        ::close(listener);
    }

    void peerApp_http_head_hasTheHeadWithoutTheBody() {
        std::string name;
        const int listener = localListener(name);
        QVERIFY(listener >= 0);
        auto app = lab::PeerApp::start({{listener, 80, lab::PeerService::Http}});
        QVERIFY(app.has_value());
        const int fd = localConnect(name);
        QVERIFY(fd >= 0);
        sendAll(fd, "HEAD /h HTTP/1.1\r\n\r\nGET /g HTTP/1.1\r\n\r\n");
        const std::string text = readSome(
            fd, 3000, nullptr, [](const std::string& t) { return t.ends_with("GET /g\n"); });
        // HEAD: the Content-Length of the body it would get, and no body.
        const std::string headBody = lab::PeerApp::body(80, 1, "HEAD", "/h");
        const std::string getBody = lab::PeerApp::body(80, 2, "GET", "/g");
        const std::string expected =
            fmt::format("HTTP/1.1 200 OK\r\nServer: tcplab-lab\r\nContent-Type: text/plain\r\n"
                        "Content-Length: {}\r\n\r\n"
                        "HTTP/1.1 200 OK\r\nServer: tcplab-lab\r\nContent-Type: text/plain\r\n"
                        "Content-Length: {}\r\n\r\n{}",
                        headBody.size(), getBody.size(), getBody);
        QCOMPARE(qs(text), qs(expected));
        ::close(fd);
        app->reset();
        ::close(listener);
    }

    void peerApp_http_theThousandthRequest_isAnsweredWithClose() {
        std::string name;
        const int listener = localListener(name);
        QVERIFY(listener >= 0);
        auto app = lab::PeerApp::start({{listener, 80, lab::PeerService::Http}});
        QVERIFY(app.has_value());
        const int fd = localConnect(name);
        QVERIFY(fd >= 0);
        std::string requests;
        for (int i = 0; i < 1001; ++i)
            requests += "GET / HTTP/1.1\r\n\r\n";
        std::thread writer([fd, &requests] {
            std::size_t sent = 0;
            for (int i = 0; i < 10'000 && sent < requests.size(); ++i) {
                const ssize_t n =
                    ::send(fd, requests.data() + sent, requests.size() - sent, MSG_NOSIGNAL);
                if (n > 0)
                    sent += static_cast<std::size_t>(n);
                else
                    break;
            }
        });
        bool eof = false;
        const std::string text = readSome(fd, 10'000, &eof);
        writer.join();
        QVERIFY(eof);
        const auto responses = parseResponses(text);
        QCOMPARE(responses.size(), std::size_t{1000});
        QCOMPARE(countOf(text, "Connection: close"), 1);
        QVERIFY(responses.back().head.find("Connection: close") != std::string::npos);
        ::close(fd);
        app->reset();
        ::close(listener);
    }

    void peerApp_echoAndDiscard() {
        std::string echoName;
        std::string discardName;
        const int echo = localListener(echoName);
        const int discard = localListener(discardName);
        QVERIFY(echo >= 0 && discard >= 0);
        auto app = lab::PeerApp::start(
            {{echo, 7, lab::PeerService::Echo}, {discard, 9, lab::PeerService::Discard}});
        QVERIFY(app.has_value());
        const int e = localConnect(echoName);
        const int d = localConnect(discardName);
        QVERIFY(e >= 0 && d >= 0);
        const std::string big(200'000, 'x'); // more than one read and one send
        std::thread writer([e, &big] {
            std::size_t sent = 0;
            for (int i = 0; i < 10'000 && sent < big.size(); ++i) {
                const ssize_t n = ::send(e, big.data() + sent, big.size() - sent, MSG_NOSIGNAL);
                if (n > 0)
                    sent += static_cast<std::size_t>(n);
            }
            ::shutdown(e, SHUT_WR);
        });
        bool eof = false;
        const std::string back = readSome(e, 5000, &eof);
        writer.join();
        QCOMPARE(back.size(), big.size());
        QVERIFY(back == big);
        QVERIFY(eof); // closes after our FIN, once everything went back

        sendAll(d, "GET / HTTP/1.1\r\n\r\n");
        QVERIFY(readSome(d, 300, &eof).empty());
        QVERIFY(!eof);
        ::shutdown(d, SHUT_WR);
        readSome(d, 3000, &eof);
        QVERIFY(eof);
        ::close(e);
        ::close(d);
        app->reset();
        ::close(echo);
        ::close(discard);
    }

    void peerApp_idleConnections_andStop_closeThem() {
        std::string name;
        const int listener = localListener(name);
        QVERIFY(listener >= 0);
        lab::PeerAppOptions o;
        o.idleTimeout = std::chrono::milliseconds(300);
        auto app = lab::PeerApp::start({{listener, 80, lab::PeerService::Http}}, o);
        QVERIFY(app.has_value());
        const int idle = localConnect(name);
        QVERIFY(idle >= 0);
        bool eof = false;
        const auto start = Clock::now();
        readSome(idle, 3000, &eof);
        QVERIFY(eof);
        QVERIFY(Clock::now() - start >= std::chrono::milliseconds(250));
        ::close(idle);
        app->reset(); // one application per listener

        auto app2 = lab::PeerApp::start({{listener, 80, lab::PeerService::Http}});
        QVERIFY(app2.has_value());
        const int busy = localConnect(name);
        QVERIFY(busy >= 0);
        QTRY_COMPARE_WITH_TIMEOUT((*app2)->connectionCount(), std::size_t{1}, 3000);
        const auto stopStart = Clock::now();
        (*app2)->stop();
        QVERIFY(Clock::now() - stopStart < std::chrono::seconds(1));
        readSome(busy, 1000, &eof);
        QVERIFY(eof);
        ::close(busy);
        app2->reset();
        ::close(listener);
    }

    void peerApp_http_bulk_isThePattern_andAPipelinedRequestFollowsIt() {
        // GET /bytes/N: N bytes of the pattern, streamed; the request behind it (pipelined
        // in the same write) is answered after the last of them, as number 3.
        std::string name;
        const int listener = localListener(name);
        QVERIFY(listener >= 0);
        EventLog log;
        lab::PeerAppOptions o;
        o.onEvent = log.sink();
        auto app = lab::PeerApp::start({{listener, 50001, lab::PeerService::Http}}, o);
        QVERIFY(app.has_value());
        const int fd = localConnect(name);
        QVERIFY(fd >= 0);
        sendAll(fd, "GET /bytes/100000 HTTP/1.1\r\n\r\nGET /bytes/0 HTTP/1.1\r\n\r\n"
                    "GET /after HTTP/1.1\r\n\r\n");
        bool eof = false;
        const std::string text = readSome(
            fd, 5000, &eof, [](const std::string& t) { return parseResponses(t).size() >= 3; });
        const auto responses = parseResponses(text);
        QCOMPARE(responses.size(), std::size_t{3});
        QCOMPARE(qs(responses[0].head), qs(bulkHead(100000)));
        QCOMPARE(responses[0].body.size(), std::size_t{100000});
        QVERIFY2(responses[0].body == patternText(100000), "the body is not the pattern");
        QCOMPARE(qs(responses[1].head), qs(bulkHead(0)));
        QVERIFY(responses[1].body.empty());
        QVERIFY2(responses[2].head.starts_with("HTTP/1.1 200 OK\r\n"), responses[2].head.c_str());
        QCOMPARE(qs(responses[2].body), qs(lab::PeerApp::body(50001, 3, "GET", "/after")));
        // Nothing after it, and the connection persists.
        QCOMPARE(text.size(), responses[0].head.size() + 100000 + responses[1].head.size() +
                                  responses[2].head.size() + responses[2].body.size());
        QVERIFY(readSome(fd, 200, &eof).empty());
        QVERIFY(!eof);
        QVERIFY2(
            log.has(lab::PeerEvent::Kind::Responded, "",
                    fmt::format("200 OK, {} bytes, keep-alive", bulkHead(100000).size() + 100000)),
            qPrintable(log.dump()));
        ::close(fd);
        app->reset();
        ::close(listener);
    }

    void peerApp_http_bulk_head_andTooLarge() {
        std::string name;
        const int listener = localListener(name);
        QVERIFY(listener >= 0);
        auto app = lab::PeerApp::start({{listener, 80, lab::PeerService::Http}});
        QVERIFY(app.has_value());
        const int fd = localConnect(name);
        QVERIFY(fd >= 0);
        // HEAD: the length of the body GET would get, no body; over 1 GiB: 413 with a
        // sentence. The largest N (1 GiB) is accepted (its HEAD says so).
        sendAll(fd, "HEAD /bytes/100000 HTTP/1.1\r\n\r\nHEAD /bytes/1073741824 HTTP/1.1\r\n\r\n"
                    "GET /bytes/1073741825 HTTP/1.1\r\n\r\n");
        const std::string tooLargeBody = "GET /bytes/N serves at most 1073741824 bytes\n";
        const std::string expected =
            bulkHead(100000) + bulkHead(1073741824) +
            fmt::format("HTTP/1.1 413 Content Too Large\r\nServer: tcplab-lab\r\nContent-Type: "
                        "text/plain\r\nContent-Length: {}\r\n\r\n{}",
                        tooLargeBody.size(), tooLargeBody);
        bool eof = false;
        const std::string text = readSome(
            fd, 3000, &eof, [&](const std::string& t) { return t.size() >= expected.size(); });
        QCOMPARE(qs(text), qs(expected));
        QVERIFY(readSome(fd, 200, &eof).empty());
        QVERIFY(!eof);
        ::close(fd);
        app->reset();
        ::close(listener);
    }

    void peerApp_http_bulk_connectionClose_finFollowsTheBody() {
        std::string name;
        const int listener = localListener(name);
        QVERIFY(listener >= 0);
        auto app = lab::PeerApp::start({{listener, 80, lab::PeerService::Http}});
        QVERIFY(app.has_value());
        const int fd = localConnect(name);
        QVERIFY(fd >= 0);
        constexpr std::size_t kLength = 3 * lab::PeerApp::kOutputBuffer + 12345;
        sendAll(fd, fmt::format("GET /bytes/{} HTTP/1.1\r\nConnection: close\r\n\r\n", kLength));
        bool eof = false;
        const std::string text = readSome(fd, 5000, &eof);
        QVERIFY(eof);
        const std::string head = bulkHead(kLength, "Connection: close\r\n");
        QCOMPARE(text.size(), head.size() + kLength);
        QCOMPARE(qs(text.substr(0, head.size())), qs(head));
        QVERIFY2(text.substr(head.size()) == patternText(kLength), "the body is not the pattern");
        ::shutdown(fd, SHUT_WR);
        QTRY_VERIFY_WITH_TIMEOUT((*app)->connectionCount() == 0, 3000);
        ::close(fd);
        app->reset();
        ::close(listener);
    }

    void peerApp_http_bulk_slowReader_isNotCutByTheIdleTimeout() {
        // The client takes 64 KiB every 40 ms: the transfer lasts several idle timeouts
        // but moves all the time, so it is not idle.
        std::string name;
        const int listener = localListener(name);
        QVERIFY(listener >= 0);
        lab::PeerAppOptions o;
        o.idleTimeout = std::chrono::milliseconds(400);
        auto app = lab::PeerApp::start({{listener, 80, lab::PeerService::Http}}, o);
        QVERIFY(app.has_value());
        const int fd = localConnect(name);
        QVERIFY(fd >= 0);
        constexpr std::size_t kLength = 2'000'000;
        sendAll(fd, fmt::format("GET /bytes/{} HTTP/1.1\r\n\r\n", kLength));
        const std::string head = bulkHead(kLength);
        std::string text;
        const auto start = Clock::now();
        bool eof = false;
        while (text.size() < head.size() + kLength && !eof &&
               Clock::now() - start < std::chrono::seconds(20)) {
            std::this_thread::sleep_for(std::chrono::milliseconds(40));
            std::vector<char> buffer(65536);
            const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
            if (n == 0)
                eof = true;
            if (n > 0)
                text.append(buffer.data(), static_cast<std::size_t>(n));
        }
        QVERIFY2(!eof, "the peer closed a transfer that was moving");
        QVERIFY(Clock::now() - start > 3 * o.idleTimeout);
        QCOMPARE(text.size(), head.size() + kLength);
        QVERIFY(text.substr(head.size()) == patternText(kLength));
        // Once it is over and nothing moves, the idle timeout applies again.
        readSome(fd, 3000, &eof);
        QVERIFY(eof);
        ::close(fd);
        app->reset();
        ::close(listener);
    }

    void peerApp_http_bulk_aGigabyte_isStreamedInBoundedMemory() {
        // The largest body, read as fast as the socket goes and checked byte for byte on
        // the way: the application (in this process) never holds more than its buffer.
        std::string name;
        const int listener = localListener(name);
        QVERIFY(listener >= 0);
        auto app = lab::PeerApp::start({{listener, 80, lab::PeerService::Http}});
        QVERIFY(app.has_value());
        const int fd = localConnect(name);
        QVERIFY(fd >= 0);
        constexpr std::uint64_t kLength = std::uint64_t{1} << 30;
        const std::size_t before = residentBytes();
        sendAll(fd, "GET /bytes/1073741824 HTTP/1.1\r\nConnection: close\r\n\r\n");
        const std::string head = bulkHead(kLength, "Connection: close\r\n");
        const std::string run = patternText(2 * 1024 * 1024);
        std::vector<char> buffer(1024 * 1024);
        std::string start;
        std::uint64_t body = 0;
        std::size_t peak = before;
        bool same = true;
        bool eof = false;
        const auto began = Clock::now();
        const auto deadline = began + std::chrono::seconds(60);
        while (!eof && Clock::now() < deadline) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 1000) <= 0)
                continue;
            const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
            if (n == 0)
                eof = true;
            if (n <= 0)
                continue;
            std::size_t at = 0;
            const auto got = static_cast<std::size_t>(n);
            if (start.size() < head.size()) {
                at = std::min(got, head.size() - start.size());
                start.append(buffer.data(), at);
            }
            const std::size_t rest = got - at;
            const auto offset = static_cast<std::size_t>(body % peer::kPattern.size());
            same = same && std::memcmp(buffer.data() + at, run.data() + offset, rest) == 0;
            const auto before64 = body >> 26;
            body += rest;
            if ((body >> 26) != before64) // every 64 MiB
                peak = std::max(peak, residentBytes());
        }
        const double seconds = std::chrono::duration<double>(Clock::now() - began).count();
        QVERIFY(eof);
        QCOMPARE(qs(start), qs(head));
        QCOMPARE(body, kLength);
        QVERIFY2(same, "the body is not the pattern");
        qInfo("1 GiB in %.2f s (%.0f MB/s); resident set grew by %.1f MiB at most", seconds,
              double(kLength) / seconds / 1e6, double(peak - std::min(peak, before)) / 1048576.0);
        QVERIFY2(peak < before + (64u << 20), "the resident set grew by more than 64 MiB");
        ::close(fd);
        app->reset();
        ::close(listener);
    }

    // --- The lab --------------------------------------------------------------

    void start_givesTheLinkListenersAndAddresses() {
        skipWithoutNamespaces();
        auto labOrError = lab::startLinuxLab(options());
        QVERIFY2(labOrError.has_value(), labOrError ? "" : labOrError.error().message.c_str());
        auto& l = *labOrError;
        QVERIFY(l.link() != nullptr);
        const auto& a = l.addresses();
        QCOMPARE(qs(a.peer4.toString()), QStringLiteral("198.18.0.1"));
        QCOMPARE(qs(a.peer6.toString()), QStringLiteral("2001:db8::1"));
        QCOMPARE(qs(a.phantom4.toString()), QStringLiteral("198.18.0.2"));
        QCOMPARE(qs(a.phantom6.toString()), QStringLiteral("2001:db8::2"));
        QCOMPARE(a.prefix4, 24u);
        QCOMPARE(a.prefix6, 64u);
        QCOMPARE(qs(a.interfaceName), QStringLiteral("tcplab0"));
        QVERIFY(!a.peerMac.isZero() && !a.peerMac.isMulticast());
        QCOMPARE(l.listeners().size(), std::size_t{2});
        QCOMPARE(l.listeners()[0].port, std::uint16_t{50001});
        QCOMPARE(l.listeners()[1].port, std::uint16_t{80});
        for (const auto& listener : l.listeners()) {
            int accepting = 0;
            int domain = 0;
            int v6only = 1;
            socklen_t length = sizeof accepting;
            QCOMPARE(::getsockopt(listener.fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length), 0);
            QCOMPARE(accepting, 1);
            length = sizeof domain;
            QCOMPARE(::getsockopt(listener.fd, SOL_SOCKET, SO_DOMAIN, &domain, &length), 0);
            QCOMPARE(domain, AF_INET6);
            length = sizeof v6only;
            QCOMPARE(::getsockopt(listener.fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &length), 0);
            QCOMPARE(v6only, 0); // dual-stack: IPv4 clients too
            QCOMPARE(listener.service, lab::PeerService::Http);
        }
        QVERIFY(l.peerApp() != nullptr);
        QVERIFY(l.startupTime() > std::chrono::nanoseconds(0));
        QVERIFY(l.startupTime() < std::chrono::seconds(10));
        // The helper is gone: no process outlives startLinuxLab().
        QVERIFY2(childProcesses().empty(), "a child process is left after startLinuxLab()");
        qInfo("%s; started in %.1f ms (%lld ms waiting for the veth)", l.description().c_str(),
              std::chrono::duration<double, std::milli>(l.startupTime()).count(),
              static_cast<long long>(l.linkWait().count()));
        const auto& tcp = l.tcpSettings().current;
        QVERIFY(tcp.sack.has_value() && tcp.timestamps.has_value() && tcp.ecn.has_value() &&
                tcp.congestionControl.has_value());
    }

    void firstFrame_isAnsweredRightAfterTheStart() {
        // startLinuxLab() returns only once the veth carries frames: until the link
        // watcher attaches its real qdisc, a veth drops everything silently for up to
        // a second. So one ARP request sent at once is answered, every time.
        skipWithoutNamespaces();
        std::vector<double> startMs;
        std::vector<double> answerMs;
        for (int round = 0; round < 5; ++round) {
            const auto start = Clock::now();
            auto l = lab::startLinuxLab(options());
            QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
            const auto started = Clock::now();
            Phantom phantom(*l->link(), l->addresses());
            phantom.answerNeighbours = false;
            host::PhantomHost asker(phantom.identity());
            phantom.send(asker.arpRequest(l->addresses().peer4, false));
            const auto reply =
                phantom.waitFor([](const wire::Frame& f) { return f.arp() != nullptr; }, 1000);
            QVERIFY2(reply.has_value(),
                     qPrintable(QStringLiteral("round %1: the first ARP request, sent as soon as "
                                               "the lab was up, got no answer within 1 s")
                                    .arg(round)));
            startMs.push_back(std::chrono::duration<double, std::milli>(started - start).count());
            answerMs.push_back(
                std::chrono::duration<double, std::milli>(Clock::now() - started).count());
        }
        std::sort(startMs.begin(), startMs.end());
        std::sort(answerMs.begin(), answerMs.end());
        qInfo("start-up to a usable link: median %.1f ms (min %.1f, max %.1f); first ARP "
              "answered after a median %.2f ms",
              startMs[2], startMs[0], startMs[4], answerMs[2]);
    }

    void arp_forThePeer_isAnsweredByItsKernel() {
        skipWithoutNamespaces();
        auto l = lab::startLinuxLab(options());
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        Phantom phantom(*l->link(), l->addresses());
        phantom.answerNeighbours = false; // the reply is for this test, not for PhantomHost
        host::PhantomHost asker(phantom.identity());
        phantom.send(asker.arpRequest(l->addresses().peer4, false));
        const auto reply = phantom.waitFor([](const wire::Frame& f) { return f.arp(); }, 3000);
        QVERIFY2(reply.has_value(), "no ARP reply from the peer's kernel within 3 s");
        const auto f = wire::decodeFrame(wire::Bytes(*reply));
        QCOMPARE(f.arp()->operation, wire::arp_op::kReply);
        QCOMPARE(f.arp()->senderIp, l->addresses().peer4);
        QCOMPARE(qs(f.arp()->senderMac.toString()), qs(l->addresses().peerMac.toString()));
        QCOMPARE(qs(f.arp()->targetMac.toString()), qs(phantom.mac().toString()));
        QCOMPARE(f.arp()->targetIp, l->addresses().phantom4);
        QCOMPARE(qs(f.ethernet.dst.toString()), qs(phantom.mac().toString()));

        // IPv6: the peer's Neighbor Advertisement for 2001:db8::1.
        phantom.answerNeighbours = true;
        const auto mac6 = phantom.resolve(IpAddress{l->addresses().peer6}, 3000);
        QVERIFY2(mac6.has_value(), "no Neighbor Advertisement from the peer within 3 s");
        QCOMPARE(qs(mac6->toString()), qs(l->addresses().peerMac.toString()));
    }

    void phantomSide_nothingAnswersForThePhantom_data() {
        QTest::addColumn<bool>("ipv6");
        QTest::newRow("IPv4: ARP") << false;
        QTest::newRow("IPv6: NS") << true;
    }
    void phantomSide_nothingAnswersForThePhantom() {
        // A SYN from the phantom, whose ARP/NS we leave unanswered: the peer asks for
        // the phantom's MAC and gets no answer from the phantom's side of the veth, so
        // its SYN-ACK never comes. (If tcplab0 answered, it would.)
        QFETCH(bool, ipv6);
        skipWithoutNamespaces();
        auto l = lab::startLinuxLab(options());
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        Phantom phantom(*l->link(), l->addresses());
        phantom.answerNeighbours = false;
        RawClient client(phantom, l->addresses(), ipv6, clientPort(), 50001,
                         l->addresses().peerMac);
        client.send(client.segment(flags::kSyn));
        const auto frames = phantom.drain(1500);
        int asks = 0;
        int tcp = 0;
        for (const auto& frame : frames) {
            const auto f = wire::decodeFrame(wire::Bytes(frame));
            if (f.arp() && f.arp()->operation == wire::arp_op::kRequest &&
                f.arp()->targetIp == l->addresses().phantom4)
                ++asks;
            if (f.icmpv6() && f.icmpv6()->type == wire::icmpv6_type::kNeighborSolicitation)
                ++asks;
            if (f.tcp())
                ++tcp;
        }
        QVERIFY2(asks >= 1, "the peer never asked for the phantom's MAC");
        QCOMPARE(tcp, 0);
    }

    void handshake_synAck_hasRealChecksums_data() {
        QTest::addColumn<bool>("ipv6");
        QTest::addColumn<int>("port");
        QTest::newRow("IPv4, port 50001") << false << 50001;
        QTest::newRow("IPv6, port 80") << true << 80;
    }
    void handshake_synAck_hasRealChecksums() {
        QFETCH(bool, ipv6);
        QFETCH(int, port);
        skipWithoutNamespaces();
        auto l = lab::startLinuxLab(options());
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        Phantom phantom(*l->link(), l->addresses());
        const IpAddress peer =
            ipv6 ? IpAddress{l->addresses().peer6} : IpAddress{l->addresses().peer4};
        const auto mac = phantom.resolve(peer, 3000);
        QVERIFY(mac.has_value());
        RawClient client(phantom, l->addresses(), ipv6, clientPort(),
                         static_cast<std::uint16_t>(port), *mac);
        const auto synAck = client.connect(linuxLikeOptions(), false);
        QVERIFY2(synAck.has_value(), "no SYN-ACK from the peer's kernel within 3 s");
        const auto f = wire::decodeFrame(wire::Bytes(*synAck));
        QVERIFY(!f.malformed);
        QCOMPARE(wire::tcpFlagsToString(f.tcp()->flags), std::string("SA"));
        QCOMPARE(f.tcp()->ack, SeqNum(101));
        QCOMPARE(checksumVerdict(*synAck), QStringLiteral("checksum ok"));
        QCOMPARE(qs(f.ethernet.dst.toString()), qs(phantom.mac().toString()));
        QVERIFY(f.tcp()->options.mss().has_value());
        // A RST ends it: the peer forgets the half-open connection.
        auto rst = client.segment(flags::kRst);
        rst.tcp.seq = SeqNum(101);
        client.send(rst);
    }

    void http_throughPeerApp_data() {
        QTest::addColumn<bool>("ipv6");
        QTest::addColumn<int>("port");
        QTest::addColumn<QString>("request");
        QTest::addColumn<bool>("keepAlive");
        QTest::newRow("IPv4, keep-alive, client closes")
            << false << 50001 << "GET / HTTP/1.1\r\n\r\n"
            << true;
        QTest::newRow("IPv6, keep-alive, client closes")
            << true << 50001 << "GET / HTTP/1.1\r\nHost: [2001:db8::1]\r\n\r\n"
            << true;
        QTest::newRow("IPv4, Connection: close, peer closes")
            << false << 80 << "GET / HTTP/1.1\r\nConnection: close\r\n\r\n"
            << false;
        QTest::newRow("IPv6, HTTP/1.0, peer closes") << true << 80 << "GET / HTTP/1.0\r\n\r\n"
                                                     << false;
    }
    void http_throughPeerApp() {
        // The classic exercise by hand: handshake, GET with PSH|ACK, the response's
        // data segments acknowledged one by one, and the close.
        QFETCH(bool, ipv6);
        QFETCH(int, port);
        QFETCH(QString, request);
        QFETCH(bool, keepAlive);
        skipWithoutNamespaces();
        EventLog log;
        auto o = options();
        o.peerApp.onEvent = log.sink();
        auto l = lab::startLinuxLab(o);
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        Phantom phantom(*l->link(), l->addresses());
        const IpAddress peer =
            ipv6 ? IpAddress{l->addresses().peer6} : IpAddress{l->addresses().peer4};
        const auto mac = phantom.resolve(peer, 3000);
        QVERIFY(mac.has_value());
        RawClient client(phantom, l->addresses(), ipv6, clientPort(),
                         static_cast<std::uint16_t>(port), *mac);
        QVERIFY2(client.connect(linuxLikeOptions()).has_value(), "no SYN-ACK");
        const std::string body =
            lab::PeerApp::body(static_cast<std::uint16_t>(port), 1, "GET", "/");
        client.send(client.segment(flags::kPsh | flags::kAck, request.toStdString()));
        client.receive([&] { return client.data.ends_with(body); }, 5000);
        QVERIFY2(client.data.starts_with("HTTP/1.1 200 OK\r\n"), client.data.c_str());
        QVERIFY2(client.data.ends_with("\r\n\r\n" + body), client.data.c_str());
        QVERIFY2(client.data.find(fmt::format("Content-Length: {}\r\n", body.size())) !=
                     std::string::npos,
                 client.data.c_str());
        QCOMPARE(client.data.find("Connection: close") == std::string::npos, keepAlive);
        for (const auto& segment : client.segments) {
            QCOMPARE(checksumVerdict(segment), QStringLiteral("checksum ok"));
            // No super-segments: TSO/GSO are off, every segment fits the MSS we offered.
            QVERIFY(wire::decodeFrame(wire::Bytes(segment)).payloadLength <= 1460);
        }

        if (keepAlive) {
            // Persistent: the peer waits for more; it closes after our FIN.
            client.receive([&] { return client.finSeen; }, 400);
            QVERIFY(!client.finSeen);
            client.send(client.segment(flags::kFin | flags::kAck));
            client.receive([&] { return client.finSeen; }, 3000);
            QVERIFY2(client.finSeen, "the peer did not close after the client's FIN");
        } else {
            // The peer's FIN follows the response; ours answers it.
            client.receive([&] { return client.finSeen; }, 3000);
            QVERIFY2(client.finSeen, "no FIN from the peer after a closing response");
            client.send(client.segment(flags::kFin | flags::kAck));
            // A loaded machine may see the peer send its FIN again (its RTO expired before
            // our FIN arrived): such a retransmission acknowledges less; the ACK follows.
            std::optional<wire::SeqNum> acked;
            for (int i = 0; i < 8 && acked != client.sndNxt; ++i) {
                const auto segment = client.next(3000);
                if (!segment)
                    break;
                acked = wire::decodeFrame(wire::Bytes(*segment)).tcp()->ack;
            }
            QVERIFY2(acked.has_value(), "the peer did not acknowledge our FIN");
            QCOMPARE(*acked, client.sndNxt);
        }
        QVERIFY(!client.resetSeen);
        const std::string remote = ipv6 ? fmt::format("[2001:db8::2] port {}", client.sport())
                                        : fmt::format("198.18.0.2 port {}", client.sport());
        QTRY_VERIFY2_WITH_TIMEOUT(log.has(lab::PeerEvent::Kind::Closed, remote),
                                  qPrintable(log.dump()), 3000);
        QVERIFY2(log.has(lab::PeerEvent::Kind::Accepted, remote), qPrintable(log.dump()));
        QVERIFY2(log.has(lab::PeerEvent::Kind::Request, remote,
                         request.section('\r', 0, 0).toStdString()),
                 qPrintable(log.dump()));
    }

    void http_bulk_throughPeerApp() {
        // GET /bytes/100000 from the peer's kernel, every segment acknowledged by hand,
        // and a request pipelined behind it answered after its last byte.
        skipWithoutNamespaces();
        auto l = lab::startLinuxLab(options());
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        Phantom phantom(*l->link(), l->addresses());
        const auto mac = phantom.resolve(IpAddress{l->addresses().peer4}, 3000);
        QVERIFY(mac.has_value());
        RawClient client(phantom, l->addresses(), false, clientPort(), 50001, *mac);
        QVERIFY2(client.connect(linuxLikeOptions()).has_value(), "no SYN-ACK");
        client.send(client.segment(flags::kPsh | flags::kAck,
                                   "GET /bytes/100000 HTTP/1.1\r\n\r\nGET /next HTTP/1.1\r\n\r\n"));
        const std::string next = lab::PeerApp::body(50001, 2, "GET", "/next");
        client.receive([&] { return client.data.ends_with(next); }, 10000);
        const auto responses = parseResponses(client.data);
        QCOMPARE(responses.size(), std::size_t{2});
        QCOMPARE(qs(responses[0].head), qs(bulkHead(100000)));
        QVERIFY2(responses[0].body == patternText(100000), "the body is not the pattern");
        QCOMPARE(qs(responses[1].body), qs(next));
        for (const auto& segment : client.segments)
            QVERIFY(wire::decodeFrame(wire::Bytes(segment)).payloadLength <= 1460);
        QVERIFY(client.segments.size() >= 100000 / 1460);
        QVERIFY(!client.resetSeen);
        QVERIFY(!client.finSeen);
        client.send(client.segment(flags::kFin | flags::kAck));
        client.receive([&] { return client.finSeen; }, 3000);
        QVERIFY2(client.finSeen, "the peer did not close after the client's FIN");
    }

    void echoService_overTheLab_sendsTheDataBack() {
        // LabOptions::services: port 50001 echoes instead of answering HTTP.
        skipWithoutNamespaces();
        auto o = options();
        o.services[50001] = lab::PeerService::Echo;
        auto l = lab::startLinuxLab(o);
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        QCOMPARE(l->listeners()[0].service, lab::PeerService::Echo);
        QCOMPARE(l->listeners()[1].service, lab::PeerService::Http);
        Phantom phantom(*l->link(), l->addresses());
        const auto mac = phantom.resolve(IpAddress{l->addresses().peer6}, 3000);
        QVERIFY(mac.has_value());
        RawClient client(phantom, l->addresses(), true, clientPort(), 50001, *mac);
        QVERIFY(client.connect(linuxLikeOptions()).has_value());
        const std::string text = "GET / HTTP/1.1\r\n\r\n";
        client.send(client.segment(flags::kPsh | flags::kAck, text));
        client.receive([&] { return client.data.size() >= text.size(); }, 3000);
        QCOMPARE(qs(client.data), qs(text));
        client.send(client.segment(flags::kFin | flags::kAck));
        client.receive([&] { return client.finSeen; }, 3000);
        QVERIFY2(client.finSeen, "the echo service did not close after the client's FIN");
    }

    void tcpSettings_changeWhatThePeersKernelSends() {
        skipWithoutNamespaces();
        lab::LabOptions o = options();
        o.tcp.sack = false;
        o.tcp.timestamps = false;
        o.tcp.windowScaling = false;
        auto l = lab::startLinuxLab(o);
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        QCOMPARE(l->tcpSettings().current.sack, std::optional<bool>(false));
        QCOMPARE(l->tcpSettings().current.timestamps, std::optional<bool>(false));
        Phantom phantom(*l->link(), l->addresses());
        const auto mac = phantom.resolve(IpAddress{l->addresses().peer4}, 3000);
        QVERIFY(mac.has_value());

        const auto synAckOptions = [&]() -> std::optional<wire::TcpOptionList> {
            RawClient client(phantom, l->addresses(), false, clientPort(), 50001, *mac);
            const auto synAck = client.connect(linuxLikeOptions(), false);
            if (!synAck)
                return std::nullopt;
            auto rst = client.segment(flags::kRst);
            rst.tcp.seq = SeqNum(101);
            client.send(rst);
            return wire::decodeFrame(wire::Bytes(*synAck)).tcp()->options;
        };
        // Off from the start: the SYN-ACK answers our offer with MSS alone.
        auto off = synAckOptions();
        QVERIFY(off.has_value());
        QVERIFY(off->mss().has_value());
        QVERIFY(!off->sackPermitted());
        QVERIFY(!off->timestamps().has_value());
        QVERIFY(!off->windowScale().has_value());

        // Back on, in the running lab.
        lab::TcpSettings on;
        on.sack = true;
        on.timestamps = true;
        on.windowScaling = true;
        const auto state = l->applyTcpSettings(on);
        QVERIFY2(state.has_value(), state ? "" : state.error().message.c_str());
        QCOMPARE(state->current.sack, std::optional<bool>(true));
        QCOMPARE(state->current.windowScaling, std::optional<bool>(true));
        QVERIFY(!state->allowedCongestionControl.empty());
        auto now = synAckOptions();
        QVERIFY(now.has_value());
        QVERIFY(now->sackPermitted());
        QVERIFY(now->timestamps().has_value());
        QVERIFY(now->windowScale().has_value());
        QVERIFY2(childProcesses().empty(), "the settings helper was not reaped");

        // Congestion control: any allowed algorithm; others are refused with the list.
        lab::TcpSettings cc;
        cc.congestionControl = state->allowedCongestionControl.back();
        const auto ccState = l->applyTcpSettings(cc);
        QVERIFY2(ccState.has_value(), ccState ? "" : ccState.error().message.c_str());
        QCOMPARE(ccState->current.congestionControl, cc.congestionControl);
        cc.congestionControl = "nosuchcc";
        const auto refused = l->applyTcpSettings(cc);
        QVERIFY(!refused.has_value());
        QCOMPARE(refused.error().code, LabErrorCode::SettingRefused);
        qInfo("%s", refused.error().message.c_str());
        QVERIFY2(refused.error().message.find("nosuchcc") != std::string::npos,
                 refused.error().message.c_str());
        lab::TcpSettings badEcn;
        badEcn.ecn = 7;
        const auto bad = l->applyTcpSettings(badEcn);
        QVERIFY(!bad.has_value());
        QCOMPARE(bad.error().code, LabErrorCode::SettingRefused);
    }

    void destroyingTheLab_leavesNoProcessFdOrInterface() {
        skipWithoutNamespaces();
        const auto fdsBefore = openFds();
        int heldNetns = -1;
        {
            auto l = lab::startLinuxLab(options());
            QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
            // A connection accepted by PeerApp, so that it has something to close.
            Phantom phantom(*l->link(), l->addresses());
            const auto mac = phantom.resolve(IpAddress{l->addresses().peer4}, 3000);
            QVERIFY(mac.has_value());
            RawClient client(phantom, l->addresses(), false, clientPort(), 50001, *mac);
            QVERIFY(client.connect(linuxLikeOptions()).has_value());
            QTRY_COMPARE_WITH_TIMEOUT(l->peerApp()->connectionCount(), std::size_t{1}, 3000);
            if (::geteuid() == 0) // holding the peer's namespace to look into it afterwards
                heldNetns = ::ioctl(l->listeners().front().fd, SIOCGSKNS);
            auto link = l->takeLink();
            QVERIFY(link != nullptr);
            QVERIFY(l->link() == nullptr);
        }
        QVERIFY2(childProcesses().empty(), "a child process is left after the lab");
        if (heldNetns >= 0) {
            // The phantom's namespace died with the link, and the veth with it: the
            // peer's end is gone from the peer's namespace (which only we still hold).
            bool gone = false;
            const auto deadline = Clock::now() + std::chrono::seconds(3);
            while (!gone && Clock::now() < deadline) {
                std::thread look([&] {
                    if (::setns(heldNetns, CLONE_NEWNET) == 0)
                        gone = ::if_nametoindex("tcplab0p") == 0 && ::if_nametoindex("lo") != 0;
                });
                look.join();
                if (!gone)
                    QTest::qWait(20);
            }
            ::close(heldNetns);
            QVERIFY2(gone, "tcplab0p still exists after the lab was destroyed");
        } else {
            qInfo("not root: the veth's end cannot be looked for (the fds and processes were)");
        }
        // Every fd the lab had (link, listeners, connections, PeerApp's eventfd) is closed.
        QCOMPARE(joined(openFds()), joined(fdsBefore));
    }

    void helperKilledWithItsParent_leavesNothing() {
        // tcplab crashing while the helper works: the helper dies with it
        // (PR_SET_PDEATHSIG), and with the helper everything it made.
        EnvGuard hang("TCPLAB_LAB_HELPER_FAIL", "hang");
        QProcess shell;
        shell.start(QStringLiteral("/bin/sh"),
                    {QStringLiteral("-c"), QStringLiteral("\"$0\" setup & echo $!; sleep 30"),
                     qs(helperPath())});
        QVERIFY(shell.waitForStarted(3000));
        QVERIFY(shell.waitForReadyRead(3000));
        const pid_t helper = static_cast<pid_t>(shell.readLine().trimmed().toInt());
        QVERIFY(helper > 0);
        QTRY_VERIFY_WITH_TIMEOUT(processExists(helper), 1000);
        QTest::qWait(100); // the helper is past its start-up (prctl) by now
        ::kill(static_cast<pid_t>(shell.processId()), SIGKILL);
        QVERIFY(shell.waitForFinished(3000));
        const auto deadline = Clock::now() + std::chrono::seconds(3);
        bool alive = true;
        while (alive && Clock::now() < deadline) {
            std::ifstream stat("/proc/" + std::to_string(helper) + "/stat");
            std::string line;
            // Gone, or a zombie waiting for init to reap it: either way it runs no more.
            alive = static_cast<bool>(std::getline(stat, line)) &&
                    line.find(") Z ") == std::string::npos;
            if (alive)
                QTest::qWait(20);
        }
        QVERIFY2(!alive, "the helper outlived its parent");
    }

    // --- Failures: the message says what and how to fix it ----------------------

    void bogusHelperPath_isHelperMissing() {
        auto o = options();
        o.helperPath = "/nonexistent/tcplab-lab-helper";
        const auto l = lab::startLinuxLab(o);
        QVERIFY(!l.has_value());
        QCOMPARE(l.error().code, LabErrorCode::HelperMissing);
        qInfo("%s", l.error().message.c_str());
        QVERIFY(l.error().message.find("/nonexistent/tcplab-lab-helper") != std::string::npos);
        QVERIFY(l.error().message.find("reinstall") != std::string::npos);

        // Searched for: every place tried is named.
        EnvGuard none("TCPLAB_LAB_HELPER", "");
        const auto found = lab::findLabHelper();
        if (!found) {
            QCOMPARE(found.error().code, LabErrorCode::HelperMissing);
            QVERIFY2(found.error().message.find("libexec/tcplab/tcplab-lab-helper") !=
                         std::string::npos,
                     found.error().message.c_str());
        }
    }

    void userNamespacesRefused_givesTheCauseAndTheCure() {
        EnvGuard fail("TCPLAB_LAB_HELPER_FAIL", "userns");
        const auto l = lab::startLinuxLab(options());
        QVERIFY(!l.has_value());
        QCOMPARE(l.error().code, LabErrorCode::UserNamespacesRefused);
        const std::string& m = l.error().message;
        qInfo("%s", m.c_str());
        QVERIFY2(m.find("user namespaces") != std::string::npos, m.c_str());
        QVERIFY2(m.find("Operation not permitted") != std::string::npos, m.c_str());
        QVERIFY2(m.find("sudo scripts/tcplab-lab up") != std::string::npos, m.c_str());
        QVERIFY2(m.find("--lab lwip") != std::string::npos, m.c_str());
        QVERIFY2(childProcesses().empty(), "the failed helper was not reaped");
    }

    void userNamespaceDiagnosis_namesWhereAndTheFix_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("content");
        QTest::addColumn<QString>("expected");
        QTest::newRow("Ubuntu AppArmor") << "proc/sys/kernel/apparmor_restrict_unprivileged_userns"
                                         << "1\n"
                                         << "AppArmor profile";
        QTest::newRow("Debian switch") << "proc/sys/kernel/unprivileged_userns_clone"
                                       << "0\n"
                                       << "sysctl -w kernel.unprivileged_userns_clone=1";
        QTest::newRow("no namespaces") << "proc/sys/user/max_user_namespaces"
                                       << "0\n"
                                       << "user.max_user_namespaces = 0";
        QTest::newRow("Flatpak") << ".flatpak-info"
                                 << ""
                                 << "Flatpak";
        QTest::newRow("Docker") << ".dockerenv"
                                << ""
                                << "container";
        QTest::newRow("Podman") << "run/.containerenv"
                                << ""
                                << "container";
        QTest::newRow("allowed") << "proc/sys/user/max_user_namespaces"
                                 << "15000\n"
                                 << "";
    }
    void userNamespaceDiagnosis_namesWhereAndTheFix() {
        QFETCH(QString, file);
        QFETCH(QString, content);
        QFETCH(QString, expected);
        QTemporaryDir root;
        QVERIFY(root.isValid());
        const QString path = root.filePath(file);
        QVERIFY(QDir().mkpath(QFileInfo(path).absolutePath()));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(content.toUtf8());
        f.close();
        const std::string d = lab::userNamespaceDiagnosis(root.path().toStdString());
        if (expected.isEmpty())
            QCOMPARE(qs(d), QString());
        else
            QVERIFY2(d.find(expected.toStdString()) != std::string::npos, d.c_str());
    }

    void brokenHelpers_areReported_andReaped_data() {
        QTest::addColumn<QString>("how");
        QTest::addColumn<int>("code");
        QTest::addColumn<QString>("expected");
        QTest::newRow("hangs") << "hang" << int(LabErrorCode::Timeout) << "did not answer within";
        QTest::newRow("crashes") << "crash" << int(LabErrorCode::HelperCrashed)
                                 << "killed by signal 6";
        QTest::newRow("exits silently")
            << "silent" << int(LabErrorCode::HelperCrashed) << "exited with status 3";
    }
    void brokenHelpers_areReported_andReaped() {
        QFETCH(QString, how);
        QFETCH(int, code);
        QFETCH(QString, expected);
        EnvGuard fail("TCPLAB_LAB_HELPER_FAIL", how.toUtf8().constData());
        auto o = options();
        o.timeout = std::chrono::milliseconds(500);
        const auto start = Clock::now();
        const auto l = lab::startLinuxLab(o);
        const auto took = Clock::now() - start;
        QVERIFY(!l.has_value());
        qInfo("%s", l.error().message.c_str());
        QCOMPARE(int(l.error().code), code);
        QVERIFY2(l.error().message.find(expected.toStdString()) != std::string::npos,
                 l.error().message.c_str());
        QVERIFY(took < std::chrono::seconds(3));
        QVERIFY2(childProcesses().empty(), "the helper was not reaped");
    }

    // --- As an ordinary user ------------------------------------------------------

    void asNobody_theLabWorks() {
        if (std::getenv(kUnprivilegedMarker))
            QSKIP("this is the copy running as nobody");
        if (::geteuid() != 0)
            QSKIP("already unprivileged: the other tests ran as this user");
        skipWithoutNamespaces();
        // The same lab tests, as nobody with no groups and no capabilities.
        QProcess self;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QString::fromLatin1(kUnprivilegedMarker), QStringLiteral("1"));
        env.insert(QStringLiteral("TCPLAB_LAB_HELPER"), qs(helperPath()));
        self.setProcessEnvironment(env);
        self.setProcessChannelMode(QProcess::MergedChannels);
        self.setWorkingDirectory(QDir::tempPath());
        self.start(QStringLiteral("setpriv"),
                   {QStringLiteral("--reuid=nobody"), QStringLiteral("--regid=nogroup"),
                    QStringLiteral("--clear-groups"), QCoreApplication::applicationFilePath(),
                    QStringLiteral("start_givesTheLinkListenersAndAddresses"),
                    QStringLiteral("arp_forThePeer_isAnsweredByItsKernel"),
                    QStringLiteral("handshake_synAck_hasRealChecksums"),
                    QStringLiteral("firstFrame_isAnsweredRightAfterTheStart"),
                    QStringLiteral("phantomSide_nothingAnswersForThePhantom"),
                    QStringLiteral("http_throughPeerApp"),
                    QStringLiteral("echoService_overTheLab_sendsTheDataBack"),
                    QStringLiteral("tcpSettings_changeWhatThePeersKernelSends"),
                    QStringLiteral("destroyingTheLab_leavesNoProcessFdOrInterface")});
        QVERIFY2(self.waitForStarted(5000), "setpriv (util-linux) cannot run");
        if (!self.waitForFinished(120'000)) {
            self.kill();
            self.waitForFinished(5000);
            QFAIL("the unprivileged run did not finish within 120 s");
        }
        const QString output = QString::fromLocal8Bit(self.readAll());
        if (output.contains(QStringLiteral("Permission denied")) &&
            !output.contains(QStringLiteral("Totals:")))
            QSKIP(qPrintable(QStringLiteral("nobody cannot run this build's binaries: %1")
                                 .arg(output.left(300))));
        const auto totals =
            QRegularExpression(QStringLiteral("Totals: (\\d+) passed, (\\d+) failed, (\\d+) "
                                              "skipped"))
                .match(output);
        QVERIFY2(totals.hasMatch(), qPrintable(output.right(3000)));
        QVERIFY2(self.exitCode() == 0 && totals.captured(2) == QStringLiteral("0") &&
                     totals.captured(3) == QStringLiteral("0"),
                 qPrintable(output.right(3000)));
        QVERIFY(totals.captured(1).toInt() >= 14);
        qInfo("as nobody: %s", qPrintable(totals.captured(0)));
    }

private:
    void skipWithoutNamespaces() {
        if (!m_noNamespaces.isEmpty())
            QSKIP(qPrintable(m_noNamespaces));
    }

    QString m_noNamespaces;
};

QTEST_GUILESS_MAIN(TestBuiltinLab)
#include "tst_builtin_lab.moc"
