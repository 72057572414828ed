// The built-in "lwip" lab (core/lab/lwip_lab.h): tcplab-lwip-helper runs Debian's lwIP
// behind a SOCK_SEQPACKET socketpair. Here the phantom speaks to lwIP through that link
// (ARP, NS, hand-made handshakes, HTTP as PeerApp answers it, both close modes), over
// IPv4 and IPv6; frames for another MAC are not taken; the helper is gone after the
// lab (or its link) is; and a missing or wrong helper gives a clear LabError.
//
// Needs no privilege. Where tcplab was built without liblwip-dev the lab tests skip.
#include <QObject>
#include <QTest>

#include "tests_support/lab_phantom.h"
#include "tests_support/test_support.h"

#include "host/phantom_host.h"
#include "lab/lwip_lab.h"
#include "lab/peer_app.h"
#include "wire/frame.h"
#include "wire/segment_spec.h"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace tcplab;
using namespace tcplab::test;
using lab::LabErrorCode;
using wire::IpAddress;
using wire::MacAddress;
using wire::SeqNum;
namespace flags = wire::tcp_flags;

namespace {

using Clock = std::chrono::steady_clock;

std::string helperPath() {
    if (const char* env = std::getenv("TCPLAB_LWIP_HELPER"); env && *env)
        return env;
#ifdef TCPLAB_LWIP_HELPER_PATH
    return TCPLAB_LWIP_HELPER_PATH;
#else
    return {};
#endif
}

lab::LwipLabOptions options() {
    lab::LwipLabOptions o;
    o.helperPath = helperPath();
    o.timeout = std::chrono::milliseconds(5'000);
    return o;
}

/// The state letter of /proc/<pid>/stat ('Z' for a zombie), or 0 when there is no such
/// process.
char processState(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line))
        return 0;
    const auto close = line.rfind(')');
    return close == std::string::npos || close + 2 >= line.size() ? '?' : line[close + 2];
}

/// The response PeerApp gives (its body is PeerApp::body: the two peers share it).
std::string expectedResponse(std::uint16_t port, unsigned number, const std::string& method,
                             const std::string& target, bool closing) {
    const std::string body = lab::PeerApp::body(port, number, method, target);
    return "HTTP/1.1 200 OK\r\nServer: tcplab-lab\r\nContent-Type: text/plain\r\n"
           "Content-Length: " +
           std::to_string(body.size()) + "\r\n" + (closing ? "Connection: close\r\n" : "") +
           "\r\n" + body;
}

} // namespace

class TestLwipLab : public QObject {
    Q_OBJECT

    void skipWithoutHelper() {
        if (helperPath().empty())
            QSKIP("tcplab was built without liblwip-dev: there is no tcplab-lwip-helper");
    }

private Q_SLOTS:
    void start_givesTheLinkAddressesAndMac() {
        skipWithoutHelper();
        auto o = options();
        o.peerMac = MacAddress::parse("02:11:22:33:44:55");
        auto l = lab::startLwipLab(o);
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        QVERIFY(l->link() != nullptr);
        const auto& a = l->addresses();
        QCOMPARE(qs(a.peer4.toString()), QStringLiteral("198.18.0.1"));
        QCOMPARE(qs(a.peer6.toString()), QStringLiteral("2001:db8::1"));
        QCOMPARE(qs(a.phantom4.toString()), QStringLiteral("198.18.0.2"));
        QCOMPARE(qs(a.phantom6.toString()), QStringLiteral("2001:db8::2"));
        QCOMPARE(a.prefix4, 24u);
        QCOMPARE(a.prefix6, 64u);
        QCOMPARE(qs(a.peerMac.toString()), QStringLiteral("02:11:22:33:44:55"));
        QCOMPARE(l->listeners().size(), std::size_t{2});
        QCOMPARE(l->listeners()[0].port, std::uint16_t{50001});
        QCOMPARE(l->listeners()[1].port, std::uint16_t{80});
        QVERIFY(l->helperPid() > 0);
        QVERIFY(processState(l->helperPid()) != 0);
        QVERIFY2(l->lwipVersion().starts_with("2."), l->lwipVersion().c_str());
        QVERIFY(l->startupTime() > std::chrono::nanoseconds(0));
        QVERIFY(l->startupTime() < std::chrono::seconds(5));
        QVERIFY2(l->description().find("lwIP " + l->lwipVersion()) != std::string::npos,
                 l->description().c_str());
        qInfo("%s; started in %.1f ms", l->description().c_str(),
              std::chrono::duration<double, std::milli>(l->startupTime()).count());

        // Without peerMac: a random locally administered unicast MAC.
        auto other = lab::startLwipLab(options());
        QVERIFY2(other.has_value(), other ? "" : other.error().message.c_str());
        const MacAddress mac = other->addresses().peerMac;
        QVERIFY(mac.isLocallyAdministered() && !mac.isMulticast() && !mac.isZero());
        QVERIFY(mac != a.peerMac);
    }

    void arpAndNs_forThePeer_areAnsweredByLwip() {
        skipWithoutHelper();
        auto l = lab::startLwipLab(options());
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        Phantom phantom(*l->link(), l->addresses());
        phantom.answerNeighbours = false;
        host::PhantomHost asker(phantom.identity());
        phantom.send(asker.arpRequest(l->addresses().peer4, false));
        const auto reply = phantom.waitFor(
            [](const wire::Frame& f) {
                return f.arp() && f.arp()->operation == wire::arp_op::kReply;
            },
            3000);
        QVERIFY2(reply.has_value(), "no ARP reply from lwIP within 3 s");
        const auto f = wire::decodeFrame(wire::Bytes(*reply));
        QCOMPARE(f.arp()->senderIp, l->addresses().peer4);
        QCOMPARE(qs(f.arp()->senderMac.toString()), qs(l->addresses().peerMac.toString()));
        QCOMPARE(qs(f.arp()->targetMac.toString()), qs(phantom.mac().toString()));
        QCOMPARE(f.arp()->targetIp, l->addresses().phantom4);
        QCOMPARE(qs(f.ethernet.src.toString()), qs(l->addresses().peerMac.toString()));
        QCOMPARE(qs(f.ethernet.dst.toString()), qs(phantom.mac().toString()));

        // IPv6: a Neighbor Solicitation to the solicited-node group lwIP joined (its
        // destination MAC is 33:33:ff:00:00:01, which the helper lets through).
        phantom.answerNeighbours = true;
        const auto mac6 = phantom.resolve(IpAddress{l->addresses().peer6}, 3000);
        QVERIFY2(mac6.has_value(), "no Neighbor Advertisement from lwIP within 3 s");
        QCOMPARE(qs(mac6->toString()), qs(l->addresses().peerMac.toString()));
    }

    void http_data() {
        QTest::addColumn<bool>("ipv6");
        QTest::addColumn<int>("port");
        QTest::addColumn<bool>("closing");
        QTest::newRow("IPv4, port 50001, keep-alive") << false << 50001 << false;
        QTest::newRow("IPv6, port 50001, keep-alive") << true << 50001 << false;
        QTest::newRow("IPv4, port 80, Connection: close") << false << 80 << true;
        QTest::newRow("IPv6, port 80, Connection: close") << true << 80 << true;
    }
    void http() {
        // The classic exercise against lwIP: SYN (ISN 100), SYN-ACK acking 101, ACK +
        // GET, the response; keep-alive: lwIP's FIN only follows ours; with
        // "Connection: close": its FIN follows the response.
        QFETCH(bool, ipv6);
        QFETCH(int, port);
        QFETCH(bool, closing);
        skipWithoutHelper();
        auto l = lab::startLwipLab(options());
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        Phantom phantom(*l->link(), l->addresses()); // answers lwIP's ARP/NS for the phantom
        const auto dport = static_cast<std::uint16_t>(port);
        RawClient client(phantom, l->addresses(), ipv6, 50000, dport, l->addresses().peerMac);

        const auto synAck = client.connect({}, false);
        QVERIFY2(synAck.has_value(), "no SYN-ACK from lwIP within 3 s");
        const auto f = wire::decodeFrame(wire::Bytes(*synAck));
        QVERIFY(f.tcp() != nullptr);
        QCOMPARE(f.tcp()->flags, std::uint8_t(flags::kSyn | flags::kAck));
        QCOMPARE(f.tcp()->ack.value(), 101u);
        QCOMPARE(qs(f.ethernet.src.toString()), qs(l->addresses().peerMac.toString()));
        QCOMPARE(qs(f.ethernet.dst.toString()), qs(phantom.mac().toString()));
        QVERIFY(!f.diagnostics.has(wire::Diagnostic::TcpChecksumBad));
        QVERIFY(f.transportChecksumChecked);

        const std::string target = closing ? "/close" : "/";
        const std::string request =
            "GET " + target + " HTTP/1.1\r\n" + (closing ? "Connection: close\r\n" : "") + "\r\n";
        client.send(client.segment(flags::kAck));
        client.send(client.segment(flags::kPsh | flags::kAck, request));
        const std::string expected = expectedResponse(dport, 1, "GET", target, closing);
        client.receive(
            [&] { return client.data.size() >= expected.size() && (!closing || client.finSeen); },
            3000);
        QCOMPARE(qs(client.data), qs(expected));
        QVERIFY(!client.resetSeen);
        QCOMPARE(client.finSeen, closing);
        if (!closing) {
            // Persistent: nothing more until our FIN; then lwIP closes too.
            client.receive([] { return false; }, 300);
            QVERIFY(!client.finSeen);
            QCOMPARE(qs(client.data), qs(expected));
        }
        client.send(client.segment(flags::kFin | flags::kAck));
        if (!closing) {
            client.receive([&] { return client.finSeen; }, 3000);
            QVERIFY2(client.finSeen, "lwIP did not close after the client's FIN");
        } else {
            // lwIP acknowledges our FIN (and is in TIME_WAIT): an ACK of rcvNxt+1 ours.
            const auto ack = client.next(3000);
            QVERIFY2(ack.has_value(), "lwIP did not acknowledge the client's FIN");
            QVERIFY(wire::decodeFrame(wire::Bytes(*ack)).tcp()->has(flags::kAck));
        }
        QVERIFY(!client.resetSeen);
    }

    void keepAlive_secondRequest_isNumberTwo() {
        skipWithoutHelper();
        auto l = lab::startLwipLab(options());
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        Phantom phantom(*l->link(), l->addresses());
        RawClient client(phantom, l->addresses(), false, 50002, 50001, l->addresses().peerMac);
        QVERIFY(client.connect({}, false).has_value());
        client.send(client.segment(flags::kAck));
        client.send(client.segment(flags::kPsh | flags::kAck, "GET /a HTTP/1.1\r\n\r\n"));
        const std::string first = expectedResponse(50001, 1, "GET", "/a", false);
        client.receive([&] { return client.data.size() >= first.size(); }, 3000);
        client.send(client.segment(flags::kPsh | flags::kAck,
                                   "HEAD /b HTTP/1.1\r\nConnection: close\r\n\r\n"));
        std::string second = expectedResponse(50001, 2, "HEAD", "/b", true);
        second.erase(second.find("\r\n\r\n") + 4); // HEAD: the head alone
        client.receive([&] { return client.finSeen; }, 3000);
        QCOMPARE(qs(client.data), qs(first + second));
        QVERIFY(client.finSeen);
    }

    void framesForAnotherMac_areNotTaken() {
        // lwIP itself would take a frame to any MAC; the helper drops them as a NIC does.
        skipWithoutHelper();
        auto l = lab::startLwipLab(options());
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        Phantom phantom(*l->link(), l->addresses());
        MacAddress elsewhere = l->addresses().peerMac;
        elsewhere.octets[5] ^= 0x01;
        RawClient wrong(phantom, l->addresses(), false, 50003, 50001, elsewhere);
        wrong.send(wrong.segment(flags::kSyn));
        QVERIFY2(!wrong.next(700).has_value(), "lwIP answered a SYN sent to another MAC");
        RawClient right(phantom, l->addresses(), false, 50004, 50001, l->addresses().peerMac);
        QVERIFY2(right.connect({}, false).has_value(),
                 "no SYN-ACK to the same SYN sent to lwIP's MAC");
    }

    void startupNoise_isLabelled() {
        skipWithoutHelper();
        auto l = lab::startLwipLab(options());
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        Phantom phantom(*l->link(), l->addresses());
        phantom.answerNeighbours = false;
        const auto frames = phantom.drain(1500); // MLD reports wait up to 1 s
        bool gratuitous = false;
        bool mld = false;
        for (const auto& bytes : frames) {
            const auto noise = lab::lwipStartupNoise(wire::decodeFrame(wire::Bytes(bytes)),
                                                     l->addresses().peerMac);
            QVERIFY2(noise.has_value(), "lwIP sent a frame at start-up that is not labelled");
            gratuitous |= *noise == "lwIP start-up: gratuitous ARP";
            mld |= *noise == "lwIP start-up: MLD report";
        }
        QVERIFY2(gratuitous, "no gratuitous ARP from lwIP at start-up");
        QVERIFY2(mld, "no MLD report from lwIP at start-up");

        // A frame of the lab's traffic is not noise.
        RawClient client(phantom, l->addresses(), false, 50005, 50001, l->addresses().peerMac);
        phantom.answerNeighbours = true;
        const auto synAck = client.connect({}, false);
        QVERIFY(synAck.has_value());
        QVERIFY(!lab::lwipStartupNoise(wire::decodeFrame(wire::Bytes(*synAck)),
                                       l->addresses().peerMac));
    }

    void virtualClock_timersRunOnlyWhenAdvanced() {
        // With a virtual clock lwIP's ISN (it counts timer ticks) is the same in every
        // lab, and its SYN-ACK is retransmitted only once the clock is advanced past
        // its initial RTO (3 s), however long we wait in real time.
        skipWithoutHelper();
        std::vector<std::uint32_t> isns;
        for (int round = 0; round < 2; ++round) {
            auto o = options();
            o.virtualClock = true;
            auto l = lab::startLwipLab(o);
            QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
            QVERIFY(l->virtualClock());
            Phantom phantom(*l->link(), l->addresses());
            RawClient client(phantom, l->addresses(), round == 1, 50006, 50001,
                             l->addresses().peerMac);
            const auto synAck = client.connect({}, false);
            QVERIFY2(synAck.has_value(), "no SYN-ACK from lwIP on a virtual clock");
            const auto first = wire::decodeFrame(wire::Bytes(*synAck));
            isns.push_back(first.tcp()->seq.value());
            // Not acknowledged: in real time lwIP would resend it after 3 s.
            QVERIFY2(!client.next(1200).has_value(), "lwIP resent its SYN-ACK on a frozen clock");
            QVERIFY(l->advanceClock(std::chrono::milliseconds(1000)).has_value());
            QVERIFY2(!client.next(300).has_value(), "lwIP resent its SYN-ACK before its RTO");
            QVERIFY(l->advanceClock(std::chrono::milliseconds(2500)).has_value());
            // Within 0.5 s: in real time no more than 2.2 s have passed since the SYN-ACK.
            const auto again = client.next(500);
            QVERIFY2(again.has_value(), "no retransmitted SYN-ACK after advancing the clock 3.5 s");
            const auto f = wire::decodeFrame(wire::Bytes(*again));
            QCOMPARE(f.tcp()->flags, std::uint8_t(flags::kSyn | flags::kAck));
            QCOMPARE(f.tcp()->seq.value(), isns.back());
        }
        QCOMPARE(isns[0], isns[1]);

        // A lab on real time refuses, and says why.
        auto real = lab::startLwipLab(options());
        QVERIFY2(real.has_value(), real ? "" : real.error().message.c_str());
        const auto refused = real->advanceClock(std::chrono::milliseconds(10));
        QVERIFY(!refused.has_value());
        QVERIFY(refused.error().message.find("real time") != std::string::npos);
    }

    void destroyingTheLab_leavesNoHelper() {
        skipWithoutHelper();
        pid_t pid = -1;
        {
            auto l = lab::startLwipLab(options());
            QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
            pid = l->helperPid();
            QVERIFY(processState(pid) != 0);
            // A link in use when the lab goes.
            auto link = l->takeLink();
            QVERIFY(link != nullptr);
            QVERIFY(l->link() == nullptr);
        }
        QCOMPARE(processState(pid), char(0)); // reaped: not even a zombie
        QVERIFY(::kill(pid, 0) != 0);
    }

    void closingTheLink_endsTheHelper() {
        skipWithoutHelper();
        auto l = lab::startLwipLab(options());
        QVERIFY2(l.has_value(), l ? "" : l.error().message.c_str());
        const pid_t pid = l->helperPid();
        l->takeLink().reset();
        const auto deadline = Clock::now() + std::chrono::seconds(3);
        while (processState(pid) != 'Z' && Clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        QCOMPARE(processState(pid), 'Z'); // ended by itself, waiting for the lab to reap it
    }

    void bogusHelper_givesAClearError() {
        auto o = options();
        o.helperPath = "/nonexistent/tcplab-lwip-helper";
        const auto missing = lab::startLwipLab(o);
        QVERIFY(!missing.has_value());
        QCOMPARE(missing.error().code, LabErrorCode::HelperMissing);
        QVERIFY2(missing.error().message.find("/nonexistent/tcplab-lwip-helper does not exist") !=
                     std::string::npos,
                 missing.error().message.c_str());

        // Something executable that is not the helper: it ends without an answer.
        o.helperPath = "/bin/true";
        const auto wrong = lab::startLwipLab(o);
        QVERIFY(!wrong.has_value());
        QCOMPARE(wrong.error().code, LabErrorCode::HelperCrashed);
        QVERIFY2(wrong.error().message.find("exited with status 0 without an answer") !=
                     std::string::npos,
                 wrong.error().message.c_str());

        // A file that cannot be run.
        const auto notExecutable = lab::findLwipHelper("/etc/passwd");
        QVERIFY(!notExecutable.has_value());
        QCOMPARE(notExecutable.error().code, LabErrorCode::HelperMissing);
        QVERIFY(notExecutable.error().message.find("is not executable") != std::string::npos);
    }
};

QTEST_GUILESS_MAIN(TestLwipLab)
#include "tst_lwip_lab.moc"
