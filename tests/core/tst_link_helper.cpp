// tcplab-link (app/link_helper), the one program with a capability, and the client that
// starts it (lab/interface_link.h): its request grammar, then the helper itself run as
// tcplab runs it (a socketpair at fd 3) and by hand (fd 3 closed, or not a socket), and
// the socket it passes: for the interface asked for, filtered to the phantom's frames,
// passed only once the helper holds no capability (its /proc/PID/status, read while it
// still runs).
//
// The grammar cases run anywhere. The rest needs root and network namespaces:
// initTestCase moves this process into a fresh network namespace (unshare(CLONE_NEWNET),
// before any thread exists) and builds a veth pair there. Without root they skip.
#include <QCoreApplication>
#include <QObject>
#include <QTest>

#include "tests_support/link_behaviour.h"
#include "tests_support/test_support.h"

#include "lab/interface_link.h"
#include "link/fd_link.h"
#include "link/helper_request.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#ifndef TCPLAB_LINK_HELPER_PATH
#error "TCPLAB_LINK_HELPER_PATH must name this build's tcplab-link"
#endif

using namespace tcplab;
using namespace tcplab::test;
using link::HelperStatus;

namespace {

/// What one run of the helper gave: its exit status, the datagram on its channel (and
/// whether an fd came with it), and what it wrote on stderr.
struct HelperRun {
    int exitStatus = -1;
    std::string answer;
    int fd = -1;
    std::string stderrText;
};

enum class Channel { SocketPair, Closed, RegularFile };

/// Runs this build's helper with `args`, fd 3 as `channel`, within 10 s.
HelperRun runHelper(const std::vector<std::string>& args, Channel channel = Channel::SocketPair) {
    HelperRun result;
    int pair[2] = {-1, -1};
    ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair);
    int errPipe[2] = {-1, -1};
    if (::pipe2(errPipe, O_CLOEXEC) != 0)
        return result;
    const pid_t child = ::fork();
    if (child == 0) {
        ::dup2(errPipe[1], 2);
        if (channel == Channel::SocketPair) {
            ::dup2(pair[1], 3);
        } else if (channel == Channel::RegularFile) {
            const int file = ::open("/proc/self/status", O_RDONLY);
            ::dup2(file, 3);
        } else {
            ::close(3);
        }
        std::vector<char*> argv{const_cast<char*>(TCPLAB_LINK_HELPER_PATH)};
        for (const auto& a : args)
            argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(TCPLAB_LINK_HELPER_PATH, argv.data());
        ::_exit(127);
    }
    ::close(pair[1]);
    ::close(errPipe[1]);
    // The answer (with its fd), then close our end so that the helper exits.
    pollfd p{pair[0], POLLIN, 0};
    if (::poll(&p, 1, 10'000) > 0 && (p.revents & POLLIN)) {
        std::array<char, 1024> text{};
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
        iovec part{text.data(), text.size()};
        msghdr message{};
        message.msg_iov = &part;
        message.msg_iovlen = 1;
        message.msg_control = control;
        message.msg_controllen = sizeof control;
        const ssize_t n = ::recvmsg(pair[0], &message, MSG_CMSG_CLOEXEC);
        if (n > 0)
            result.answer.assign(text.data(), static_cast<std::size_t>(n));
        for (cmsghdr* h = CMSG_FIRSTHDR(&message); h; h = CMSG_NXTHDR(&message, h))
            if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS)
                std::memcpy(&result.fd, CMSG_DATA(h), sizeof(int));
    }
    ::close(pair[0]);
    std::array<char, 1024> buffer{};
    for (int i = 0; i < 100; ++i) {
        pollfd e{errPipe[0], POLLIN, 0};
        if (::poll(&e, 1, 100) <= 0)
            continue;
        const ssize_t n = ::read(errPipe[0], buffer.data(), buffer.size());
        if (n <= 0)
            break;
        result.stderrText.append(buffer.data(), static_cast<std::size_t>(n));
    }
    ::close(errPipe[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    result.exitStatus = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

std::vector<std::string> request(const std::string& ifname) {
    return {ifname, "02:74:6c:00:00:02", "198.18.0.2", "-"};
}

host::Identity identityOf(const std::array<std::uint8_t, 6>& mac) {
    host::Identity identity;
    identity.mac = wire::MacAddress::fromBytes(mac.data());
    identity.ipv4 = host::Ipv4Config{*wire::Ipv4Address::parse("198.18.0.2"), 24, std::nullopt};
    return identity;
}

/// A line of /proc/PID/status ("CapEff:\t0000000000000000"), its value.
std::string statusField(pid_t pid, const std::string& field) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind(field + ":", 0) == 0) {
            std::string value = line.substr(field.size() + 1);
            value.erase(0, value.find_first_not_of(" \t"));
            return value;
        }
    return "(none)";
}

} // namespace

class TestLinkHelper : public QObject {
    Q_OBJECT

    bool m_root = false;

private Q_SLOTS:
    void initTestCase() {
        if (::geteuid() != 0 || ::unshare(CLONE_NEWNET) != 0)
            return; // the grammar cases still run; the others skip
        writeSysctl("net/ipv6/conf/default/disable_ipv6", "1");
        m_root = runQuietly("ip link add tlh0 type veth peer name tlh1") == 0 &&
                 runQuietly("ip link set tlh0 up") == 0 && runQuietly("ip link set tlh1 up") == 0 &&
                 runQuietly("ip link add tld0 type veth peer name tld1") == 0; // tld0 stays down
        runQuietly("ip link set lo up");
    }

    // --- The request's grammar (no root needed). -----------------------------------
    void grammar_accepts_data() {
        QTest::addColumn<QStringList>("args");
        QTest::newRow("ipv4") << QStringList{"veth0", "02:00:5e:10:00:01", "198.18.0.2", "-"};
        QTest::newRow("ipv6") << QStringList{"veth0", "02:00:5e:10:00:01", "-", "2001:db8::2"};
        QTest::newRow("both") << QStringList{"tcplab0", "02:00:5e:10:00:01", "198.18.0.2",
                                             "2001:db8::2"};
        QTest::newRow("15 bytes") << QStringList{"abcdefghijklmno", "02:00:5e:10:00:01",
                                                 "198.18.0.2", "-"};
    }
    void grammar_accepts() {
        QFETCH(QStringList, args);
        std::vector<std::string> argv;
        for (const auto& a : args)
            argv.push_back(a.toStdString());
        const auto parsed = link::parseHelperArguments(argv);
        QVERIFY2(parsed.has_value(), parsed ? "" : parsed.error().message.c_str());
        QCOMPARE(parsed->interfaceName, argv[0]);
        // What the client passes parses back to the same request.
        const auto again = link::parseHelperArguments(link::helperArguments(*parsed));
        QVERIFY(again.has_value());
        QVERIFY(*again == *parsed);
    }

    void grammar_refuses_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("why");
        const QString mac = "02:00:5e:10:00:01";
        QTest::newRow("none") << QStringList{} << "0 arguments given, 4 expected";
        QTest::newRow("three") << QStringList{"veth0", mac, "198.18.0.2"} << "3 arguments given";
        QTest::newRow("five") << QStringList{"veth0", mac, "198.18.0.2", "-", "--extra"}
                              << "5 arguments given";
        QTest::newRow("slash") << QStringList{"../eth0", mac, "198.18.0.2", "-"} << "holds '/'";
        QTest::newRow("16 bytes") << QStringList{"abcdefghijklmnop", mac, "198.18.0.2", "-"}
                                  << "at most 15";
        QTest::newRow("empty") << QStringList{"", mac, "198.18.0.2", "-"} << "cannot be empty";
        QTest::newRow("dot-dot") << QStringList{"..", mac, "198.18.0.2", "-"}
                                 << "not an interface name";
        QTest::newRow("colon") << QStringList{"eth0:1", mac, "198.18.0.2", "-"} << "holds ':'";
        QTest::newRow("space") << QStringList{"eth 0", mac, "198.18.0.2", "-"} << "holds ' '";
        QTest::newRow("control") << QStringList{QStringLiteral("eth\n0"), mac, "198.18.0.2", "-"}
                                 << "holds '\\x0a'";
        QTest::newRow("bad MAC") << QStringList{"veth0", "02:00:5e", "198.18.0.2", "-"}
                                 << "not a MAC address";
        QTest::newRow("broadcast MAC")
            << QStringList{"veth0", "ff:ff:ff:ff:ff:ff", "198.18.0.2", "-"} << "not a unicast";
        QTest::newRow("multicast MAC")
            << QStringList{"veth0", "01:00:5e:00:00:01", "198.18.0.2", "-"} << "not a unicast";
        QTest::newRow("zero MAC") << QStringList{"veth0", "00:00:00:00:00:00", "198.18.0.2", "-"}
                                  << "not a unicast";
        QTest::newRow("bad IPv4") << QStringList{"veth0", mac, "198.18.0", "-"}
                                  << "not an IPv4 address";
        QTest::newRow("bad IPv6") << QStringList{"veth0", mac, "-", "2001:db8::g"}
                                  << "not an IPv6 address";
        QTest::newRow("multicast IPv6") << QStringList{"veth0", mac, "-", "ff02::1"} << "multicast";
        QTest::newRow("no address") << QStringList{"veth0", mac, "-", "-"} << "both are '-'";
    }
    void grammar_refuses() {
        QFETCH(QStringList, args);
        QFETCH(QString, why);
        std::vector<std::string> argv;
        for (const auto& a : args)
            argv.push_back(a.toStdString());
        const auto parsed = link::parseHelperArguments(argv);
        QVERIFY(!parsed.has_value());
        QVERIFY2(parsed.error().message.find(why.toStdString()) != std::string::npos,
                 parsed.error().message.c_str());
    }

    void answers_roundTrip() {
        const auto ok = link::parseHelperAnswer(link::okAnswer(7));
        QVERIFY(ok.has_value());
        QCOMPARE(ok->status, HelperStatus::Ok);
        QCOMPARE(ok->ifindex, 7);
        const auto error =
            link::parseHelperAnswer(link::errorAnswer(HelperStatus::InterfaceDown, "it is down"));
        QVERIFY(error.has_value());
        QCOMPARE(error->status, HelperStatus::InterfaceDown);
        QCOMPARE(error->sentence, std::string("it is down"));
        for (const char* bad : {"", "ok", "ok 0", "ok -1", "ok 3x", "error", "error 9 x",
                                "error 0 x", "error x y", "hello"})
            QVERIFY2(!link::parseHelperAnswer(bad).has_value(), bad);
    }

    // --- The helper, run as tcplab runs it and by hand (root). ---------------------
    void helper_refusesBadArgumentsWithUsage() {
        if (!m_root)
            QSKIP("needs root and network namespaces (CI runs it as root)");
        for (const auto& args : std::vector<std::vector<std::string>>{
                 {},
                 {"tlh0"},
                 {"tlh0", "02:74:6c:00:00:02", "198.18.0.2", "-", "extra"},
                 {"tl/h0", "02:74:6c:00:00:02", "198.18.0.2", "-"},
                 {std::string(IFNAMSIZ, 'a'), "02:74:6c:00:00:02", "198.18.0.2", "-"}}) {
            const HelperRun r = runHelper(args);
            QCOMPARE(r.exitStatus, int(HelperStatus::Usage));
            QVERIFY2(r.answer.starts_with("error 2 "), r.answer.c_str());
            QCOMPARE(r.answer.find('\n'), std::string::npos); // one line
            QCOMPARE(r.fd, -1);
        }
    }

    void helper_refusesUnknownAndDownInterfaces() {
        if (!m_root)
            QSKIP("needs root and network namespaces (CI runs it as root)");
        const HelperRun unknown = runHelper(request("tlnone0"));
        QCOMPARE(unknown.exitStatus, int(HelperStatus::NoSuchInterface));
        QVERIFY2(unknown.answer.find("no interface named tlnone0") != std::string::npos,
                 unknown.answer.c_str());
        QCOMPARE(unknown.fd, -1);
        const HelperRun down = runHelper(request("tld0"));
        QCOMPARE(down.exitStatus, int(HelperStatus::InterfaceDown));
        QVERIFY2(down.answer.find("tld0 is down") != std::string::npos, down.answer.c_str());
        QCOMPARE(down.fd, -1);
        // Through the client: the same sentences as the in-process path gives.
        const auto viaClient = lab::openInterfaceLink(
            "tld0", identityOf(kReceiverMac),
            {lab::InterfaceOpener::Helper, TCPLAB_LINK_HELPER_PATH, std::chrono::seconds(5), {}});
        QVERIFY(!viaClient.has_value());
        QCOMPARE(viaClient.error().code, link::LinkErrorCode::InterfaceDown);
        QVERIFY2(viaClient.error().message.find("sudo ip link set tld0 up") != std::string::npos,
                 viaClient.error().message.c_str());
    }

    void helper_refusesABadChannel() {
        if (!m_root)
            QSKIP("needs root and network namespaces (CI runs it as root)");
        for (const Channel channel : {Channel::Closed, Channel::RegularFile}) {
            const HelperRun r = runHelper(request("tlh0"), channel);
            QCOMPARE(r.exitStatus, int(HelperStatus::BadChannel));
            QVERIFY2(r.stderrText.starts_with("tcplab-link: fd 3 must be the Unix socket"),
                     r.stderrText.c_str());
            QCOMPARE(r.stderrText.find('\n'), r.stderrText.size() - 1); // one line
        }
    }

    void helper_passesTheAskedInterfaceFilteredWithoutCapabilities() {
        if (!m_root)
            QSKIP("needs root and network namespaces (CI runs it as root)");
        std::string capEff;
        std::string capPrm;
        std::string before = statusField(::getpid(), "CapEff");
        lab::InterfaceLinkOptions options{
            lab::InterfaceOpener::Helper, TCPLAB_LINK_HELPER_PATH, std::chrono::seconds(5), {}};
        options.onHelperAnswered = [&](pid_t pid) {
            capEff = statusField(pid, "CapEff");
            capPrm = statusField(pid, "CapPrm");
        };
        auto opened = lab::openInterfaceLink("tlh0", identityOf(kReceiverMac), options);
        QVERIFY2(opened.has_value(), errorText(opened).c_str());
        // Root started it with every capability; it passed the socket holding none.
        QVERIFY2(before != "0000000000000000", before.c_str());
        QCOMPARE(capEff, std::string("0000000000000000"));
        QCOMPARE(capPrm, std::string("0000000000000000"));

        link::Link& helperLink = **opened;
        sockaddr_ll bound{};
        socklen_t length = sizeof bound;
        QVERIFY(::getsockname(helperLink.pollFd(), reinterpret_cast<sockaddr*>(&bound), &length) ==
                0);
        QCOMPARE(bound.sll_family, sa_family_t(AF_PACKET));
        QCOMPARE(bound.sll_ifindex, int(::if_nametoindex("tlh0")));

        // Frames to the phantom's MAC arrive; frames to another MAC are filtered out.
        auto far = link::FdLink::openPacketSocket("tlh1");
        QVERIFY2(far.has_value(), errorText(far).c_str());
        ByteVector other = testFrame(64, 1);
        other[5] = 0x99; // destination 02:74:6c:00:00:99
        sendFrame(**far, other);
        sendFrame(**far, testFrame(64, 2));
        std::vector<ReceivedFrame> got;
        receiveUntil(helperLink, got, 2, 1500);
        QCOMPARE(got.size(), std::size_t{1});
        QCOMPARE(sequenceOf(got[0].bytes), 2U);
        // And it sends.
        sendFrame(helperLink, testFrame(64, 3));
        std::vector<ReceivedFrame> back;
        receiveUntil(**far, back, 1);
        QCOMPARE(back.size(), std::size_t{1});
        QCOMPARE(sequenceOf(back[0].bytes), 3U);
    }

    void helper_withoutItsCapabilitySaysSo() {
        if (!m_root)
            QSKIP("needs root and network namespaces (CI runs it as root)");
        // A child drops to nobody (no capability, and the build's helper has no file
        // capability) and asks through the client; it reports "<code>\t<message>".
        int pipeFds[2] = {-1, -1};
        QVERIFY(::pipe2(pipeFds, O_CLOEXEC) == 0);
        const pid_t child = ::fork();
        QVERIFY(child >= 0);
        if (child == 0) {
            std::string report;
            if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
                ::setresuid(65534, 65534, 65534) != 0) {
                report = "setuid failed";
            } else if (::access(TCPLAB_LINK_HELPER_PATH, X_OK) != 0) {
                report = "no access";
            } else {
                const auto r = lab::openInterfaceLink("tlh0", identityOf(kReceiverMac),
                                                      {lab::InterfaceOpener::Auto,
                                                       TCPLAB_LINK_HELPER_PATH,
                                                       std::chrono::seconds(5),
                                                       {}});
                report = r ? std::string("opened\t")
                           : std::string(link::codeName(r.error().code)) + "\t" + r.error().message;
            }
            [[maybe_unused]] const auto n = ::write(pipeFds[1], report.data(), report.size());
            ::_exit(0);
        }
        ::close(pipeFds[1]);
        std::string report;
        std::array<char, 4096> buffer{};
        ssize_t n = 0;
        while ((n = ::read(pipeFds[0], buffer.data(), buffer.size())) > 0)
            report.append(buffer.data(), static_cast<std::size_t>(n));
        ::close(pipeFds[0]);
        ::waitpid(child, nullptr, 0);
        if (report == "no access")
            QSKIP("the build tree is not readable by nobody here");
        qInfo("%s", report.c_str());
        QVERIFY2(report.starts_with("PermissionDenied\t"), report.c_str());
        QVERIFY2(report.find("holds no CAP_NET_RAW") != std::string::npos, report.c_str());
        QVERIFY2(report.find("sudo setcap cap_net_raw+ep " TCPLAB_LINK_HELPER_PATH) !=
                     std::string::npos,
                 report.c_str());
    }
};

QTEST_GUILESS_MAIN(TestLinkHelper)
#include "tst_link_helper.moc"
