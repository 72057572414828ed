// The link behaviours (tests_support/link_behaviour.h) against real interfaces:
// FdLink::openPacketSocket and PcapLink over a veth pair, and FdLink over a TAP fd,
// then the error paths a user meets (no such interface, interface down, interface
// deleted under an open link, bad filter, no CAP_NET_RAW) and how their messages read.
//
// Needs root and network namespaces: initTestCase moves this process into a fresh
// network namespace of its own (unshare(CLONE_NEWNET) on the main thread, before any
// other thread exists) and builds the veth pair there, so nothing touches the host's
// interfaces and everything vanishes when the process exits. Without root it skips.
#include <QCoreApplication>
#include <QObject>
#include <QTest>

#include "tests_support/link_behaviour.h"
#include "tests_support/test_support.h"

#include "link/fd_link.h"
#include "link/pcap_link.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>

using namespace tcplab;
using namespace tcplab::test;
using link::FdLink;
using link::LinkErrorCode;
using link::PcapLink;

namespace {

/// The output of a shell command, or "" if it cannot run.
std::string output(const std::string& command) {
    std::string text;
    if (FILE* pipe = ::popen((command + " 2>/dev/null").c_str(), "r")) {
        std::array<char, 512> buffer{};
        while (std::fgets(buffer.data(), static_cast<int>(buffer.size()), pipe))
            text += buffer.data();
        ::pclose(pipe);
    }
    return text;
}

/// Waits (at most 5 s) until `name` is operationally up with its real queueing
/// discipline. A veth gets carrier only once both ends are up, and the kernel's
/// link watcher then activates its qdisc asynchronously (up to a second later);
/// until then the "noop" qdisc silently drops what is sent.
bool waitUntilRunning(const std::string& name) {
    for (int attempt = 0; attempt < 100; ++attempt) {
        const std::string state = output("ip -o link show dev " + name);
        // UNKNOWN: drivers that report no operational state (TUN/TAP) are running.
        const bool running = state.find("state UP") != std::string::npos ||
                             state.find("state UNKNOWN") != std::string::npos;
        if (running && state.find("qdisc noop") == std::string::npos)
            return true;
        QTest::qWait(50);
    }
    return false;
}

/// Creates a veth pair, quiet (no IPv6, hence no DAD, router or MLD chatter; no
/// IPv4 address, hence no ARP) and with offloads off, both ends up and running.
bool makeVeth(const std::string& a, const std::string& b) {
    if (runQuietly("ip link add " + a + " type veth peer name " + b) != 0)
        return false;
    for (const auto& name : {a, b}) {
        writeSysctl("net/ipv6/conf/" + name + "/disable_ipv6", "1");
        runQuietly("ethtool -K " + name + " tso off gso off gro off tx off rx off");
        if (runQuietly("ip link set " + name + " up") != 0)
            return false;
    }
    return waitUntilRunning(a) && waitUntilRunning(b);
}

/// A TAP interface `name` (no packet-info header), up and quiet; the fd or -1. The
/// interface exists as long as the fd is open.
int openTap(const std::string& name) {
    const int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ifreq request{};
    request.ifr_flags = IFF_TAP | IFF_NO_PI;
    std::strncpy(request.ifr_name, name.c_str(), IFNAMSIZ - 1);
    if (::ioctl(fd, TUNSETIFF, &request) != 0) {
        ::close(fd);
        return -1;
    }
    writeSysctl("net/ipv6/conf/" + name + "/disable_ipv6", "1");
    if (runQuietly("ip link set " + name + " up") != 0 || !waitUntilRunning(name)) {
        ::close(fd);
        return -1;
    }
    return fd;
}

void openPacketSocket(const std::string& ifname, std::unique_ptr<link::Link>& out) {
    auto l = FdLink::openPacketSocket(ifname);
    QVERIFY2(l.has_value(), errorText(l).c_str());
    out = std::move(*l);
}

void openPcap(const std::string& ifname, std::unique_ptr<link::Link>& out) {
    auto l = PcapLink::open(ifname, kTestFrameFilter);
    QVERIFY2(l.has_value(), errorText(l).c_str());
    out = std::move(*l);
}

void openTapLink(const std::string& ifname, std::unique_ptr<link::Link>& out) {
    const int fd = openTap(ifname);
    QVERIFY2(fd >= 0, qPrintable(QStringLiteral("cannot create TAP %1: %2")
                                     .arg(QString::fromStdString(ifname))
                                     .arg(QString::fromLocal8Bit(std::strerror(errno)))));
    auto l = FdLink::adopt(fd, "TAP fd of " + ifname);
    QVERIFY2(l.has_value(), errorText(l).c_str());
    out = std::move(*l);
}

const std::vector<LinkImplementation>& implementations() {
    static const std::vector<LinkImplementation> list = {
        {QStringLiteral("AF_PACKET over veth"),
         [](LinkPair& p) {
             openPacketSocket("tla0", p.sender);
             openPacketSocket("tla1", p.receiver);
         }},
        {QStringLiteral("pcap over veth"),
         [](LinkPair& p) {
             openPcap("tla0", p.sender);
             openPcap("tla1", p.receiver);
         }},
        {QStringLiteral("pcap to AF_PACKET over veth"),
         [](LinkPair& p) {
             openPcap("tla0", p.sender);
             openPacketSocket("tla1", p.receiver);
         }},
        // The TAP interface must exist before the packet socket binds to it.
        {QStringLiteral("TAP fd to AF_PACKET"),
         [](LinkPair& p) {
             openTapLink("tlt0", p.sender);
             openPacketSocket("tlt0", p.receiver);
         }},
        {QStringLiteral("AF_PACKET to TAP fd"),
         [](LinkPair& p) {
             openTapLink("tlt0", p.receiver);
             openPacketSocket("tlt0", p.sender);
         }},
    };
    return list;
}

/// Receives until the link reports an error or `timeoutMs` passes; the error, if any.
std::optional<link::LinkError> firstError(link::Link& l, int timeoutMs) {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
    std::vector<ReceivedFrame> ignored;
    while (Clock::now() < deadline) {
        pollsReadable(l.pollFd(), 50);
        const auto r = l.receive(collectInto(ignored), 64);
        if (!r)
            return r.error();
    }
    return std::nullopt;
}

/// Brings an interface back up when a test that downed it ends, passed or not.
struct UpAgain {
    std::string name;
    ~UpAgain() {
        runQuietly("ip link set " + name + " up");
        waitUntilRunning(name);
    }
};

/// Deletes an interface when a test that made it ends, passed or not.
struct DeleteAtEnd {
    std::string name;
    ~DeleteAtEnd() { runQuietly("ip link del " + name); }
};

} // namespace

class TestLinkNetns : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() {
        if (::geteuid() != 0)
            QSKIP("needs root and network namespaces: not running as root (CI runs it as root)");
        if (::unshare(CLONE_NEWNET) != 0)
            QSKIP(qPrintable(QStringLiteral("needs root and network namespaces: "
                                            "unshare(CLONE_NEWNET) failed: %1")
                                 .arg(QString::fromLocal8Bit(std::strerror(errno)))));
        // From here on this process (and the commands it runs) is alone in a fresh
        // namespace: only "lo" exists, and whatever we add dies with us.
        writeSysctl("net/ipv6/conf/default/disable_ipv6", "1");
        if (!makeVeth("tla0", "tla1"))
            QSKIP("needs root and network namespaces: cannot create a veth pair here "
                  "('ip link add tla0 type veth peer name tla1' failed; is iproute2 installed "
                  "and the veth module available?)");
    }

    void behaviour_data() { addLinkBehaviourRows(implementations()); }
    void behaviour() { runLinkBehaviour(implementations()); }

    void outgoingFramesOfOthers_areNotReceived_data() {
        QTest::addColumn<bool>("pcap");
        QTest::newRow("AF_PACKET") << false;
        QTest::newRow("pcap") << true;
    }
    void outgoingFramesOfOthers_areNotReceived() {
        // A socket never sees its own sends; but frames that something else on this
        // host sends out of the same interface (the kernel's own traffic, another
        // tool) are outgoing, not the peer's, and must not reach the phantom either.
        QFETCH(bool, pcap);
        std::unique_ptr<link::Link> watcher;
        if (pcap)
            openPcap("tla0", watcher);
        else
            openPacketSocket("tla0", watcher);
        std::unique_ptr<link::Link> other;
        std::unique_ptr<link::Link> far;
        openPacketSocket("tla0", other);
        openPacketSocket("tla1", far);
        if (QTest::currentTestFailed())
            return;
        const ByteVector frame = testFrame(60, 1);
        sendFrame(*other, frame);
        std::vector<ReceivedFrame> got;
        receiveUntil(*far, got, 1);
        QCOMPARE(got.size(), std::size_t{1}); // it did go out
        expectNothingMore(*watcher, 50);
    }

    void packetSocket_fullReceiveBuffer_countsTheDrops() {
        // Frames the kernel could not queue for us (the receive buffer full) never reach
        // the phantom: receiveStatistics() counts them (PACKET_STATISTICS), and counts every
        // frame that came, so received + dropped is all that was sent.
        auto receiver = FdLink::openPacketSocket("tla0");
        QVERIFY2(receiver.has_value(), errorText(receiver).c_str());
        auto sender = FdLink::openPacketSocket("tla1");
        QVERIFY2(sender.has_value(), errorText(sender).c_str());
        const auto start = (*receiver)->receiveStatistics();
        QVERIFY(start.has_value());
        const int tiny = 1; // the kernel rounds it up to its minimum: a frame or two
        QCOMPARE(::setsockopt((*receiver)->pollFd(), SOL_SOCKET, SO_RCVBUF, &tiny, sizeof tiny), 0);
        constexpr std::uint32_t kFrames = 200;
        for (std::uint32_t i = 0; i < kFrames; ++i)
            sendFrame(**sender, testFrame(1000, i));
        std::vector<ReceivedFrame> got;
        while (pollsReadable((*receiver)->pollFd(), 100)) {
            const auto r = (*receiver)->receive(collectInto(got), 64);
            QVERIFY2(r.has_value(), errorText(r).c_str());
            if (*r == 0)
                break;
        }
        const auto stats = (*receiver)->receiveStatistics();
        QVERIFY(stats.has_value());
        QVERIFY2(
            stats->drops > 0,
            qPrintable(
                QStringLiteral("%1 frames of %2 received, no drop").arg(got.size()).arg(kFrames)));
        QCOMPARE(stats->packets, static_cast<std::uint64_t>(got.size()) + stats->drops);
        QCOMPARE(stats->packets - start->packets, std::uint64_t{kFrames});
        // The sums stay: a second look adds nothing new.
        const auto again = (*receiver)->receiveStatistics();
        QCOMPARE(again->drops, stats->drops);
        QCOMPARE(again->packets, stats->packets);
    }

    void noSuchInterface_listsTheExistingOnes() {
        const auto pcap = PcapLink::open("tcplab-nonexistent0", "");
        QVERIFY(!pcap.has_value());
        QCOMPARE(pcap.error().code, LinkErrorCode::NoSuchInterface);
        qInfo("PcapLink: %s", pcap.error().message.c_str());
        const auto fd = FdLink::openPacketSocket("tcplab-nonexistent0");
        QVERIFY(!fd.has_value());
        QCOMPARE(fd.error().code, LinkErrorCode::NoSuchInterface);
        qInfo("FdLink: %s", fd.error().message.c_str());
        for (const auto* message : {&pcap.error().message, &fd.error().message}) {
            QVERIFY2(message->find("tcplab-nonexistent0") != std::string::npos, message->c_str());
            QVERIFY2(message->find("tla0") != std::string::npos, message->c_str());
            QVERIFY2(message->find("tla1") != std::string::npos, message->c_str());
            // libpcap's pseudo devices cannot carry frames; they are not offered.
            QVERIFY2(message->find("any") == std::string::npos, message->c_str());
        }
    }

    void interfaceDown_isInterfaceDown_withTheCommandThatFixesIt() {
        QCOMPARE(runQuietly("ip link set tla0 down"), 0);
        const UpAgain restore{"tla0"};
        const auto pcap = PcapLink::open("tla0", "");
        QVERIFY(!pcap.has_value());
        QCOMPARE(pcap.error().code, LinkErrorCode::InterfaceDown);
        qInfo("PcapLink: %s", pcap.error().message.c_str());
        const auto fd = FdLink::openPacketSocket("tla0");
        QVERIFY(!fd.has_value());
        QCOMPARE(fd.error().code, LinkErrorCode::InterfaceDown);
        qInfo("FdLink: %s", fd.error().message.c_str());
        for (const auto* message : {&pcap.error().message, &fd.error().message})
            QVERIFY2(message->find("ip link set tla0 up") != std::string::npos, message->c_str());
    }

    void badFilter_isBadFilter_withLibpcapsReason() {
        const auto pcap = PcapLink::open("tla0", "ether src and and tcp");
        QVERIFY(!pcap.has_value());
        QCOMPARE(pcap.error().code, LinkErrorCode::BadFilter);
        qInfo("PcapLink: %s", pcap.error().message.c_str());
        QVERIFY2(pcap.error().message.find("syntax error") != std::string::npos,
                 pcap.error().message.c_str());
        QVERIFY2(pcap.error().message.find("ether src and and tcp") != std::string::npos,
                 pcap.error().message.c_str());
    }

    void nonEthernetInterface_isRefused() {
        // A TUN interface carries bare IP packets: the phantom needs Ethernet.
        const int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        if (fd < 0)
            QSKIP("no /dev/net/tun here");
        ifreq request{};
        request.ifr_flags = IFF_TUN | IFF_NO_PI;
        std::strncpy(request.ifr_name, "tlu0", IFNAMSIZ - 1);
        const bool created = ::ioctl(fd, TUNSETIFF, &request) == 0;
        const bool up = created && runQuietly("ip link set tlu0 up") == 0;
        const auto packet = FdLink::openPacketSocket("tlu0");
        const auto pcap = PcapLink::open("tlu0", "");
        ::close(fd); // the TUN interface goes with it
        QVERIFY(created && up);
        QVERIFY(!packet.has_value());
        QVERIFY(!pcap.has_value());
        QVERIFY2(packet.error().message.find("not an Ethernet interface") != std::string::npos,
                 packet.error().message.c_str());
        QVERIFY2(pcap.error().message.find("not an Ethernet interface") != std::string::npos,
                 pcap.error().message.c_str());
    }

    void deletedInterface_isReported_notAHang_data() {
        QTest::addColumn<bool>("pcap");
        QTest::newRow("AF_PACKET") << false;
        QTest::newRow("pcap") << true;
    }
    void deletedInterface_isReported_notAHang() {
        QFETCH(bool, pcap);
        const DeleteAtEnd cleanup{"tlb0"}; // a no-op once the test deleted it
        QVERIFY(makeVeth("tlb0", "tlb1"));
        std::unique_ptr<link::Link> l;
        if (pcap)
            openPcap("tlb1", l);
        else
            openPacketSocket("tlb1", l);
        if (QTest::currentTestFailed())
            return;
        // Traffic before the deletion arrives as usual.
        {
            auto sender = FdLink::openPacketSocket("tlb0");
            QVERIFY2(sender.has_value(), errorText(sender).c_str());
            sendFrame(**sender, testFrame(60, 1));
            std::vector<ReceivedFrame> got;
            receiveUntil(*l, got, 1);
            QCOMPARE(got.size(), std::size_t{1});
        }
        QCOMPARE(runQuietly("ip link del tlb0"), 0); // takes tlb1 with it

        const auto error = firstError(*l, 3000);
        QVERIFY2(error.has_value(), "no error within 3 s of the interface's deletion");
        qInfo("%s: %s", pcap ? "PcapLink" : "FdLink", error->message.c_str());
        QVERIFY2(error->code == LinkErrorCode::InterfaceGone ||
                     error->code == LinkErrorCode::Closed,
                 link::codeName(error->code));
        QVERIFY2(error->message.find("tlb1") != std::string::npos, error->message.c_str());
        // The link stays failed, and sending on it is an error, not a crash.
        std::vector<ReceivedFrame> ignored;
        const auto again = l->receive(collectInto(ignored), 64);
        QVERIFY(!again.has_value());
        QCOMPARE(again.error().code, error->code);
        const auto sent = l->send(wire::Bytes(testFrame(60, 2)));
        QVERIFY(!sent.has_value());
    }

    void withoutCapNetRaw_messageNamesTheGroup() {
        // A child process drops to nobody (65534), which clears every capability, and
        // opens both kinds of raw link; it writes "<code>\t<message>\n" per attempt.
        int pipeFds[2] = {-1, -1};
        QVERIFY(::pipe2(pipeFds, O_CLOEXEC) == 0);
        const pid_t child = ::fork();
        QVERIFY(child >= 0);
        if (child == 0) {
            ::close(pipeFds[0]);
            std::string report;
            if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
                ::setresuid(65534, 65534, 65534) != 0) {
                report = "setuid failed\n";
            } else {
                const auto pcap = PcapLink::open("tla0", "");
                report += pcap ? std::string("opened\t")
                               : std::string(link::codeName(pcap.error().code)) + "\t" +
                                     pcap.error().message;
                report += '\n';
                const auto fd = FdLink::openPacketSocket("tla0");
                report +=
                    fd ? std::string("opened\t")
                       : std::string(link::codeName(fd.error().code)) + "\t" + fd.error().message;
                report += '\n';
            }
            [[maybe_unused]] const auto n = ::write(pipeFds[1], report.data(), report.size());
            ::_exit(0);
        }
        ::close(pipeFds[1]);
        std::string report;
        std::array<char, 4096> buffer{};
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (std::chrono::steady_clock::now() < deadline) {
            // At the end of a pipe poll reports POLLHUP alone: read then, to see the 0.
            pollfd p{pipeFds[0], POLLIN, 0};
            if (::poll(&p, 1, 100) <= 0)
                continue;
            const ssize_t n = ::read(pipeFds[0], buffer.data(), buffer.size());
            if (n <= 0)
                break;
            report.append(buffer.data(), static_cast<std::size_t>(n));
        }
        ::close(pipeFds[0]);
        int status = 0;
        pid_t reaped = 0;
        for (int i = 0; i < 100 && reaped == 0; ++i) {
            reaped = ::waitpid(child, &status, WNOHANG);
            if (reaped == 0)
                QTest::qWait(20);
        }
        if (reaped == 0) {
            ::kill(child, SIGKILL);
            ::waitpid(child, &status, 0);
            QFAIL("the unprivileged child did not finish within 12 s");
        }
        QVERIFY2(report != "setuid failed\n", "could not drop to nobody in the child");

        const QStringList lines = QString::fromStdString(report).split('\n', Qt::SkipEmptyParts);
        QCOMPARE(lines.size(), 2);
        // nobody's name, as the cure names the user.
        const QString usermod = QStringLiteral("sudo usermod -aG tcplab nobody'");
        for (const QString& line : lines) {
            qInfo("%s", qPrintable(line));
            const QString code = line.section('\t', 0, 0);
            const QString message = line.section('\t', 1);
            QCOMPARE(code, QStringLiteral("PermissionDenied"));
            QVERIFY2(message.contains(usermod), qPrintable(message));
            QVERIFY2(message.contains(QStringLiteral("or use the built-in lab")),
                     qPrintable(message));
            QVERIFY2(message.contains(QStringLiteral("tla0")), qPrintable(message));
        }
    }
};

QTEST_GUILESS_MAIN(TestLinkNetns)
#include "tst_link_netns.moc"
