// lab/compare: the analysis of a compared run on hand-built timelines (ISN, delayed
// ACK, close order, the bad-segment answer, the SYN-ACK's options, the topics), and
// one live comparison against both built-in peers.
#include "tests_support/test_support.h"

#include "lab/compare.h"
#include "timeline/timeline.h"
#include "wire/segment_spec.h"
#include "wire/tcp.h"

#include <QTest>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

using namespace tcplab;
using namespace tcplab::test;
using wire::SeqNum;
namespace flags = wire::tcp_flags;

namespace {

constexpr std::uint32_t kIss = 100; ///< ours, as the compared exercise sends it
constexpr std::uint32_t kRequestLength = 18;

/// A timeline written by hand, segment by segment, with times in microseconds from
/// its start. Sent segments go from the phantom's `port` to 50001, received ones back.
class TimelineBuilder {
public:
    TimelineBuilder() { run.timeline = std::make_shared<timeline::Timeline>(); }

    void segment(bool sent, std::uint16_t port, std::uint8_t tcpFlags, std::uint32_t seq,
                 std::uint32_t ack, std::uint32_t length, std::int64_t atUs,
                 const std::vector<wire::TcpOption>& options = {}) {
        wire::SegmentSpec s;
        const auto phantomMac = *wire::MacAddress::parse("02:00:00:00:00:02");
        const auto peerMac = *wire::MacAddress::parse("02:00:00:00:00:01");
        const auto phantom = std::get<wire::Ipv4Address>(*wire::parseIpAddress("198.18.0.2"));
        const auto peer = std::get<wire::Ipv4Address>(*wire::parseIpAddress("198.18.0.1"));
        s.ethernet.src = sent ? phantomMac : peerMac;
        s.ethernet.dst = sent ? peerMac : phantomMac;
        wire::Ipv4Header ip;
        ip.src = sent ? phantom : peer;
        ip.dst = sent ? peer : phantom;
        s.ip = ip;
        s.tcp.srcPort = sent ? port : 50001;
        s.tcp.dstPort = sent ? 50001 : port;
        s.tcp.seq = SeqNum{seq};
        s.tcp.ack = SeqNum{ack};
        s.tcp.flags = tcpFlags;
        s.tcp.window = sent ? 65535 : 64240;
        for (const auto& o : options)
            s.tcp.options.append(o);
        s.payload.assign(length, 'x');
        const auto bytes = s.encode();
        QVERIFY(bytes.has_value());
        run.timeline->append(kStartNs + atUs * 1000,
                             sent ? timeline::Direction::Sent : timeline::Direction::Received,
                             *bytes);
    }
    void sent(std::uint16_t port, std::uint8_t f, std::uint32_t seq, std::uint32_t ack,
              std::uint32_t length, std::int64_t atUs) {
        segment(true, port, f, seq, ack, length, atUs);
    }
    void received(std::uint16_t port, std::uint8_t f, std::uint32_t seq, std::uint32_t ack,
                  std::uint32_t length, std::int64_t atUs) {
        segment(false, port, f, seq, ack, length, atUs);
    }

    /// SYN, SYN-ACK (peer ISN `isn`), ACK, our request at 300 us, on `port`.
    void handshakeAndRequest(std::uint16_t port, std::uint32_t isn, std::int64_t atUs = 0) {
        sent(port, flags::kSyn, kIss, 0, 0, atUs);
        received(port, flags::kSyn | flags::kAck, isn, kIss + 1, 0, atUs + 100);
        sent(port, flags::kAck, kIss + 1, isn + 1, 0, atUs + 200);
        sent(port, flags::kPsh | flags::kAck, kIss + 1, isn + 1, kRequestLength, atUs + 300);
    }
    void endClassic() { run.classicEnd = run.timeline->size(); }

    lab::LabRun run;
    static constexpr std::int64_t kStartNs = 1'700'000'000'000'000'000;
};

constexpr std::uint32_t kPeerIsn = 3'000'000'000u;
constexpr std::uint32_t kAfterRequest = kIss + 1 + kRequestLength;

/// A classic run that answers the request with 100 bytes piggy-backing the ACK at
/// 40.3 ms, and nothing after.
TimelineBuilder classicWithResponse() {
    TimelineBuilder b;
    b.handshakeAndRequest(lab::kCompareClassicPort, kPeerIsn);
    b.received(lab::kCompareClassicPort, flags::kPsh | flags::kAck, kPeerIsn + 1, kAfterRequest,
               100, 40'300);
    b.sent(lab::kCompareClassicPort, flags::kAck, kAfterRequest, kPeerIsn + 101, 0, 40'400);
    return b;
}

std::string helperFromEnv(const char* variable, const char* built) {
    if (const char* env = std::getenv(variable); env && *env)
        return env;
    return built;
}

} // namespace

class TestCompareCore : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void analyse_withoutATimeline_givesTheDefaults() {
        lab::LabRun run;
        const lab::Findings f = lab::analyse(run);
        QCOMPARE(f.isnText, std::string("no SYN-ACK"));
        QCOMPARE(f.badSegment, std::string("not probed"));
        QVERIFY(!f.isn);
    }

    void analyse_isn_data() {
        QTest::addColumn<quint32>("probeIsn");
        QTest::addColumn<QString>("verdict");
        // A keyed hash (RFC 6528) lands anywhere; a counter moves a little.
        QTest::newRow("far apart") << quint32(123'456) << "looks random";
        QTest::newRow("close") << quint32(kPeerIsn + 64'000)
                               << "predictable (the same or close on every connection)";
        QTest::newRow("the same") << quint32(kPeerIsn)
                                  << "predictable (the same or close on every connection)";
    }
    void analyse_isn() {
        QFETCH(quint32, probeIsn);
        QFETCH(QString, verdict);
        TimelineBuilder b = classicWithResponse();
        b.endClassic();
        b.handshakeAndRequest(lab::kCompareProbePort, probeIsn, 1'000'000);
        const lab::Findings f = lab::analyse(b.run);
        QCOMPARE(f.isn, SeqNum{kPeerIsn});
        QCOMPARE(f.probeIsn, SeqNum{probeIsn});
        const std::string expected =
            fmt::format("{} then {} on the next connection (+{}): {}", kPeerIsn, probeIsn,
                        std::uint32_t(probeIsn - kPeerIsn), verdict.toStdString());
        QCOMPARE(f.isnText, expected);
    }

    void analyse_isn_withoutAProbe_saysSo() {
        TimelineBuilder b = classicWithResponse();
        b.endClassic();
        QCOMPARE(lab::analyse(b.run).isnText,
                 fmt::format("{} (no second connection to compare)", kPeerIsn));
    }

    void analyse_delayedAck_ackWaitsForTheResponse() {
        TimelineBuilder b = classicWithResponse();
        b.endClassic();
        const lab::Findings f = lab::analyse(b.run);
        QCOMPARE(f.dataAck, std::string("piggy-backed on the response, 40.000 ms after the "
                                        "request (the ACK waited for data: delayed ACK)"));
        QCOMPARE(f.sizes, std::string("1 segment(s), 100 bytes: 100"));
    }

    void analyse_immediateAck_isASeparateSegment() {
        TimelineBuilder b;
        b.handshakeAndRequest(lab::kCompareClassicPort, kPeerIsn);
        b.received(lab::kCompareClassicPort, flags::kAck, kPeerIsn + 1, kAfterRequest, 0, 400);
        b.received(lab::kCompareClassicPort, flags::kPsh | flags::kAck, kPeerIsn + 1, kAfterRequest,
                   60, 2'400);
        b.received(lab::kCompareClassicPort, flags::kPsh | flags::kAck, kPeerIsn + 61,
                   kAfterRequest, 40, 2'500);
        b.endClassic();
        const lab::Findings f = lab::analyse(b.run);
        QCOMPARE(f.dataAck, std::string("a separate ACK 0.100 ms after the request, the response "
                                        "2.000 ms after that (the ACK did not wait for data)"));
        QCOMPARE(f.sizes, std::string("2 segment(s), 100 bytes: 60 40"));
    }

    void analyse_unacknowledgedRequest_saysSo() {
        TimelineBuilder b;
        b.handshakeAndRequest(lab::kCompareClassicPort, kPeerIsn);
        // An ACK of less than the request is no acknowledgement of it.
        b.received(lab::kCompareClassicPort, flags::kAck, kPeerIsn + 1, kIss + 5, 0, 400);
        b.endClassic();
        QCOMPARE(lab::analyse(b.run).dataAck, std::string("our data was not acknowledged"));
    }

    void analyse_closeOrder_data() {
        QTest::addColumn<int>("shape");
        QTest::addColumn<QString>("closing");
        QTest::newRow("ack then fin") << 0
                                      << "ACKed our FIN, then sent its own FIN 0.200 ms after "
                                         "ours (two segments)";
        QTest::newRow("fin-ack") << 1 << "FIN-ACK in one segment, 0.100 ms after our FIN";
        QTest::newRow("peer first, on data") << 2 << "closed first: FIN on its last data segment";
        QTest::newRow("peer first, separate") << 3
                                              << "closed first: a separate FIN 5.000 ms after "
                                                 "its last data";
        QTest::newRow("we reset") << 4 << "no FIN (we aborted with RST)";
        QTest::newRow("silent") << 5 << "no FIN from the peer";
    }
    void analyse_closeOrder() {
        QFETCH(int, shape);
        QFETCH(QString, closing);
        constexpr auto port = lab::kCompareClassicPort;
        TimelineBuilder b;
        b.handshakeAndRequest(port, kPeerIsn);
        const std::uint32_t peerNext = kPeerIsn + 101;
        const std::uint8_t pa = flags::kPsh | flags::kAck;
        const std::uint8_t fa = flags::kFin | flags::kAck;
        switch (shape) {
        case 0:
        case 1:
        case 4:
        case 5:
            b.received(port, pa, kPeerIsn + 1, kAfterRequest, 100, 1'000);
            b.sent(port, flags::kAck, kAfterRequest, peerNext, 0, 1'100);
            if (shape == 4) {
                b.sent(port, flags::kRst, kAfterRequest, 0, 0, 2'000);
            } else if (shape != 5) {
                b.sent(port, fa, kAfterRequest, peerNext, 0, 2'000);
                if (shape == 0) {
                    b.received(port, flags::kAck, peerNext, kAfterRequest + 1, 0, 2'050);
                    b.received(port, fa, peerNext, kAfterRequest + 1, 0, 2'200);
                } else {
                    b.received(port, fa, peerNext, kAfterRequest + 1, 0, 2'100);
                }
                b.sent(port, flags::kAck, kAfterRequest + 1, peerNext + 1, 0, 2'300);
            }
            break;
        case 2:
            b.received(port, pa | flags::kFin, kPeerIsn + 1, kAfterRequest, 100, 1'000);
            b.sent(port, fa, kAfterRequest, peerNext + 1, 0, 1'100);
            break;
        case 3:
            b.received(port, pa, kPeerIsn + 1, kAfterRequest, 100, 1'000);
            b.received(port, fa, peerNext, kAfterRequest, 0, 6'000);
            b.sent(port, fa, kAfterRequest, peerNext + 1, 0, 6'100);
            break;
        }
        b.endClassic();
        QCOMPARE(QString::fromStdString(lab::analyse(b.run).closing), closing);
    }

    void analyse_badSegment_data() {
        QTest::addColumn<int>("answer");
        QTest::addColumn<QString>("text");
        QTest::newRow("ack") << 0
                             << "an ACK of iss+1, what it still expects (0.050 ms after it): RFC "
                                "9293 §3.10.7.4 behaviour";
        QTest::newRow("other ack") << 1
                                   << "an ACK of 7 (0.050 ms after it): RFC 9293 §3.10.7.4 "
                                      "behaviour";
        QTest::newRow("rst") << 2 << "RST (0.050 ms after it)";
        QTest::newRow("nothing") << 3 << "nothing: dropped silently";
    }
    void analyse_badSegment() {
        QFETCH(int, answer);
        QFETCH(QString, text);
        constexpr auto port = lab::kCompareProbePort;
        TimelineBuilder b = classicWithResponse();
        b.endClassic();
        b.run.probeParams.iss = SeqNum{kIss};
        const std::uint32_t isn = 555;
        b.sent(port, flags::kSyn, kIss, 0, 0, 1'000'000);
        b.received(port, flags::kSyn | flags::kAck, isn, kIss + 1, 0, 1'000'100);
        b.sent(port, flags::kAck, kIss + 1, isn + 1, 0, 1'000'200);
        b.sent(port, flags::kPsh | flags::kAck, kIss + 1 + 1'000'000, isn + 1, 1, 1'000'300);
        if (answer == 0 || answer == 1)
            b.received(port, flags::kAck, isn + 1, answer == 0 ? kIss + 1 : 7, 0, 1'000'350);
        else if (answer == 2)
            b.received(port, flags::kRst, isn + 1, 0, 0, 1'000'350);
        b.sent(port, flags::kRst, kIss + 1, 0, 0, 2'000'300);
        // A segment after our RST is not the answer.
        b.received(port, flags::kRst, isn + 1, 0, 0, 2'000'400);
        QCOMPARE(QString::fromStdString(lab::analyse(b.run).badSegment), text);
    }

    void analyse_synAck_namesTheOptionsAndWhatIsMissing() {
        TimelineBuilder b;
        constexpr auto port = lab::kCompareClassicPort;
        b.sent(port, flags::kSyn, kIss, 0, 0, 0);
        b.segment(
            false, port, flags::kSyn | flags::kAck, kPeerIsn, kIss + 1, 0, 100,
            {wire::TcpOption::mss(1460), wire::TcpOption::nop(), wire::TcpOption::windowScale(0)});
        b.endClassic();
        QCOMPARE(lab::analyse(b.run).synAck,
                 std::string("window 64240, options MSS=1460 WS=0, no SACK-permitted, no "
                             "timestamps"));

        TimelineBuilder full;
        full.sent(port, flags::kSyn, kIss, 0, 0, 0);
        full.segment(false, port, flags::kSyn | flags::kAck, kPeerIsn, kIss + 1, 0, 100,
                     {wire::TcpOption::mss(1460), wire::TcpOption::sackPermitted(),
                      wire::TcpOption::timestamps(5, 1)});
        full.endClassic();
        QCOMPARE(lab::analyse(full.run).synAck,
                 std::string("window 64240, options MSS=1460 SACK_PERM TS=5:1"));
    }

    void differences_areTheSixTopicsInOrder() {
        lab::Findings a;
        lab::Findings b;
        a.isnText = "1 then 2";
        b.isnText = "3 then 4";
        const auto topics = lab::differences(a, b);
        QCOMPARE(topics.size(), std::size_t(6));
        QCOMPARE(topics[0].title, std::string("ISN (the peer's initial sequence number)"));
        QCOMPARE(topics[5].title, std::string("answer to a segment outside the window"));
        QVERIFY(!topics[0].same());
        QCOMPARE(topics[0].linuxText, std::string("1 then 2"));
        QCOMPARE(topics[0].lwipText, std::string("3 then 4"));
        for (std::size_t i = 1; i < topics.size(); ++i)
            QVERIFY(topics[i].same());
        lab::Comparison c;
        c.topics = topics;
        QCOMPARE(c.differenceCount(), 1);
        QVERIFY(!c.ok()); // no lab ran
    }

    void differences_timingsAloneAreNotADifference() {
        lab::DifferenceTopic t{"how it closed", "FIN-ACK in one segment, 0.021 ms after our FIN",
                               "FIN-ACK in one segment, 10.056 ms after our FIN"};
        QVERIFY(!t.same());
        QVERIFY(t.sameApartFromTiming());
        t.lwipText = "ACKed our FIN, then sent its own FIN 0.021 ms after ours (two segments)";
        QVERIFY(!t.sameApartFromTiming());
        // Numbers that are not durations still count.
        lab::DifferenceTopic sizes{"sizes", "1 segment(s), 161 bytes: 161",
                                   "1 segment(s), 160 bytes: 160"};
        QVERIFY(!sizes.sameApartFromTiming());
        lab::Comparison c;
        c.topics = {t, sizes, {"same", "x 1.000 ms", "x 2.000 ms"}};
        QCOMPARE(c.differenceCount(), 2);
    }

    void probeScenario_parses() {
        const engine::Scenario probe = lab::probeScenario();
        QCOMPARE(probe.steps.size(), std::size_t(6));
        QVERIFY(!lab::compareScenario(engine::CloseMode::Fin).steps.empty());
    }

    // --- live, against both built-in peers ---------------------------------------

    void compareStacks_live_bothPeersRunAndDiffer_data() {
        QTest::addColumn<bool>("ipv6");
        QTest::addColumn<int>("close");
        QTest::newRow("ipv4, we close") << false << int(engine::CloseMode::Fin);
        QTest::newRow("ipv6, the peer closes") << true << int(engine::CloseMode::Peer);
    }
    void compareStacks_live_bothPeersRunAndDiffer() {
        QFETCH(bool, ipv6);
        QFETCH(int, close);
        lab::CompareOptions options;
        options.ipv6 = ipv6;
        options.close = engine::CloseMode(close);
        options.labHelperPath = helperFromEnv("TCPLAB_LAB_HELPER", TCPLAB_LAB_HELPER_PATH);
#ifdef TCPLAB_LWIP_HELPER_PATH
        options.lwipHelperPath = helperFromEnv("TCPLAB_LWIP_HELPER", TCPLAB_LWIP_HELPER_PATH);
#else
        QSKIP("no tcplab-lwip-helper in this build (liblwip-dev missing)");
#endif
        std::vector<std::string> progress;
        const auto started = std::chrono::steady_clock::now();
        const lab::Comparison c = lab::compareStacks(
            options, {}, [&](const std::string& text) { progress.push_back(text); });
        const auto seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        qInfo("both stacks compared in %.1f s", seconds);
        const lab::LabRun& linuxRun = c.runs[0];
        const lab::LabRun& lwipRun = c.runs[1];
        if (!linuxRun.started && linuxRun.failure.find("namespace") != std::string::npos)
            QSKIP(qPrintable("the Linux lab cannot start here: " + qs(linuxRun.failure)));
        QVERIFY2(c.ok(), qPrintable(qs(linuxRun.failure + " / " + lwipRun.failure)));
        QVERIFY(!c.cancelled);
        QCOMPARE(linuxRun.name, std::string("linux"));
        QVERIFY2(linuxRun.title.rfind("Linux ", 0) == 0, linuxRun.title.c_str());
        QVERIFY2(lwipRun.title.rfind("lwIP 2.", 0) == 0, lwipRun.title.c_str());
        QVERIFY(!progress.empty());
        QCOMPARE(progress.front(), std::string("starting the Linux lab…"));
        QVERIFY(std::find(progress.begin(), progress.end(), "running the exercise on lwIP…") !=
                progress.end());
        for (const auto& run : c.runs) {
            QVERIFY(run.timeline);
            QCOMPARE(std::holds_alternative<wire::Ipv6Address>(run.classicParams.peer), ipv6);
            QVERIFY(run.classicEnd > 0 && run.classicEnd < run.timeline->size());
            QVERIFY(run.probeHandshake);
        }
        for (const auto& f : c.findings) {
            QVERIFY(f.isn && f.probeIsn);
            QVERIFY2(f.dataAck != "our data was not acknowledged", f.dataAck.c_str());
            QVERIFY2(f.closing.find("FIN") != std::string::npos, f.closing.c_str());
            QVERIFY2(f.badSegment != "not probed", f.badSegment.c_str());
        }
        // Linux keys its ISN (RFC 6528); SACK and timestamps it offers, lwIP does not.
        QVERIFY2(c.findings[0].isnText.find("looks random") != std::string::npos,
                 c.findings[0].isnText.c_str());
        QVERIFY2(c.findings[0].synAck.find("SACK_PERM") != std::string::npos,
                 c.findings[0].synAck.c_str());
        QVERIFY2(c.findings[1].synAck.find("no SACK-permitted") != std::string::npos,
                 c.findings[1].synAck.c_str());
        QVERIFY(!c.topics[0].same());
        QVERIFY(c.differenceCount() >= 2);
        QVERIFY(seconds < 60);
    }

    void compareStacks_stopRequest_endsTheRunEarly() {
        lab::CompareOptions options;
        options.labHelperPath = helperFromEnv("TCPLAB_LAB_HELPER", TCPLAB_LAB_HELPER_PATH);
#ifdef TCPLAB_LWIP_HELPER_PATH
        options.lwipHelperPath = helperFromEnv("TCPLAB_LWIP_HELPER", TCPLAB_LWIP_HELPER_PATH);
#endif
        // Stopped before it begins: nothing runs.
        std::stop_source before;
        before.request_stop();
        const lab::Comparison none = lab::compareStacks(options, before.get_token());
        QVERIFY(none.cancelled);
        QVERIFY(!none.ok());
        QVERIFY(!none.runs[0].started && !none.runs[1].started);

        // Stopped while the exercise runs: it ends within a lab start and a poll.
        std::stop_source source;
        lab::Comparison result;
        std::atomic<bool> exercising{false};
        std::thread worker([&] {
            result = lab::compareStacks(options, source.get_token(), [&](const std::string& t) {
                if (t.rfind("running", 0) == 0)
                    exercising = true;
            });
        });
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
        while (!exercising && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        const auto stopAt = std::chrono::steady_clock::now();
        source.request_stop();
        worker.join();
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - stopAt)
                            .count();
        if (!result.runs[0].started &&
            result.runs[0].failure.find("namespace") != std::string::npos)
            QSKIP(qPrintable("the Linux lab cannot start here: " + qs(result.runs[0].failure)));
        QVERIFY(exercising);
        QVERIFY(result.cancelled);
        QVERIFY(result.runs[0].cancelled);
        QVERIFY(!result.runs[1].started); // the second lab never started
        QVERIFY2(ms < 2000, qPrintable(QString::number(ms) + " ms"));
    }
};

QTEST_GUILESS_MAIN(TestCompareCore)
#include "tst_compare_core.moc"
