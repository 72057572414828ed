// EngineWorker: the lab kinds (built-in Linux, built-in lwIP, an interface), Fire
// (sendFrame) and what it refuses, against the real built-in peers.
#include <QSignalSpy>
#include <QTest>

#include "lab/interface_link.h"
#include "timeline/timeline.h"
#include "ui/engine_worker.h"
#include "wire/frame.h"
#include "wire/segment_spec.h"

#include <QElapsedTimer>
#include <QProcess>
#include <QScopeGuard>

#include <unistd.h>

using namespace tcplab;

namespace {

/// The SYN of `params` (ISN 100), as the editor is pre-filled with it.
std::vector<std::uint8_t> synOf(const engine::ConnectionParams& p) {
    engine::SendStep syn;
    syn.flags = wire::tcp_flags::kSyn;
    return engine::ScenarioRunner(engine::Scenario{}, p).buildSegment(syn).encode().value();
}

/// Waits (bounded) for a received SYN-ACK in the worker's timeline.
bool synAckArrives(ui::EngineWorker& worker) {
    QElapsedTimer timer;
    timer.start();
    while (timer.elapsed() < 5000) {
        QTest::qWait(20);
        const auto tl = worker.timeline();
        for (std::size_t i = 0; tl && i < tl->size(); ++i) {
            const auto& entry = (*tl)[i];
            if (entry.direction != timeline::Direction::Received)
                continue;
            const wire::Frame frame = entry.decode();
            if (frame.tcp() &&
                frame.tcp()->flags == (wire::tcp_flags::kSyn | wire::tcp_flags::kAck) &&
                frame.tcp()->ack == wire::SeqNum{101})
                return true;
        }
    }
    return false;
}

} // namespace

class TestEngineWorker : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void fire_isRefusedWithoutALab();
    void builtinPeer_answersAFiredSyn_data();
    void builtinPeer_answersAFiredSyn();
    void missingInterface_failsWithItsName();
    void interface_resolvesThePeerByArp_data();
    void interface_resolvesThePeerByArp();
    void interface_asAnOrdinaryUser();
};

void TestEngineWorker::initTestCase() {
    qputenv("TCPLAB_LAB_HELPER", TCPLAB_LAB_HELPER_PATH);
#ifdef TCPLAB_LWIP_HELPER_PATH
    qputenv("TCPLAB_LWIP_HELPER", TCPLAB_LWIP_HELPER_PATH);
#endif
}

void TestEngineWorker::fire_isRefusedWithoutALab() {
    ui::EngineWorker worker;
    const QString why = worker.sendFrame({1, 2, 3});
    QVERIFY2(why.contains(QStringLiteral("Start the lab")), qPrintable(why));
    QVERIFY(!worker.nextConnection(engine::CloseMode::Fin));
}

void TestEngineWorker::builtinPeer_answersAFiredSyn_data() {
    QTest::addColumn<int>("kind");
    QTest::addColumn<bool>("ipv6");
    QTest::newRow("linux-v4") << int(ui::LabKind::Linux) << false;
    QTest::newRow("linux-v6") << int(ui::LabKind::Linux) << true;
    QTest::newRow("lwip-v4") << int(ui::LabKind::Lwip) << false;
    QTest::newRow("lwip-v6") << int(ui::LabKind::Lwip) << true;
}

void TestEngineWorker::builtinPeer_answersAFiredSyn() {
    QFETCH(int, kind);
    QFETCH(bool, ipv6);
#ifndef TCPLAB_LWIP_HELPER_PATH
    if (kind == int(ui::LabKind::Lwip))
        QSKIP("no tcplab-lwip-helper in this build (liblwip-dev missing)");
#endif
    ui::EngineWorker worker;
    QSignalSpy failed(&worker, &ui::EngineWorker::labFailed);
    QSignalSpy probed(&worker, &ui::EngineWorker::probeFinished);
    QSignalSpy resolved(&worker, &ui::EngineWorker::peerResolved);
    worker.startLabOf(ui::LabChoice{ui::LabKind(kind), ipv6, {}});
    if (!failed.isEmpty()) {
        const QString why = failed.first().first().toString();
        if (why.contains(QStringLiteral("namespace")))
            QSKIP(qPrintable(why));
        QFAIL(qPrintable(why));
    }
    // Before the probe has claimed the address, Fire sends nothing.
    if (probed.isEmpty())
        QVERIFY(worker.sendFrame({1, 2, 3}).contains(QStringLiteral("not claimed")));
    QTRY_VERIFY_WITH_TIMEOUT(!probed.isEmpty(), 10'000);
    QVERIFY(probed.first().first().toBool());
    QTRY_VERIFY_WITH_TIMEOUT(!resolved.isEmpty(), 5'000);
    QVERIFY(worker.peerMac().has_value());

    const auto params = worker.nextConnection(engine::CloseMode::Fin);
    QVERIFY(params);
    QCOMPARE(params->nextHopMac, *worker.peerMac());
    const QString error = worker.sendFrame(synOf(*params));
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QVERIFY2(synAckArrives(worker), "no SYN-ACK acknowledging 101 within 5 s");
    worker.stop();
    QVERIFY(!worker.running());
}

void TestEngineWorker::missingInterface_failsWithItsName() {
    ui::EngineWorker worker;
    QSignalSpy failed(&worker, &ui::EngineWorker::labFailed);
    worker.startLabOf(ui::LabChoice{ui::LabKind::Interface, false, QStringLiteral("tcplab-nope9")});
    QCOMPARE(failed.count(), 1);
    QVERIFY2(failed.first().first().toString().contains(QStringLiteral("tcplab-nope9")),
             qPrintable(failed.first().first().toString()));
    QVERIFY(!worker.running());
}

namespace {

bool run(const QString& command) {
    return QProcess::execute(QStringLiteral("sh"), {QStringLiteral("-c"), command}) == 0;
}

} // namespace

void TestEngineWorker::interface_resolvesThePeerByArp_data() {
    QTest::addColumn<QString>("opener");
    QTest::newRow("in process (root holds CAP_NET_RAW)") << QString();
    QTest::newRow("through tcplab-link") << QStringLiteral("helper");
}

void TestEngineWorker::interface_resolvesThePeerByArp() {
    QFETCH(QString, opener);
    // TCPLAB_LINK=helper: root too opens the interface through this build's tcplab-link.
    const QByteArray previous = qgetenv("TCPLAB_LINK");
    qputenv("TCPLAB_LINK", opener.toUtf8());
    qputenv("TCPLAB_LINK_HELPER", TCPLAB_LINK_HELPER_PATH);
    auto restore = qScopeGuard([&] { qputenv("TCPLAB_LINK", previous); });
    if (geteuid() != 0)
        QSKIP("needs root: it makes a network namespace and a veth pair");
    // A peer namespace of our own behind a veth: the kernel there answers ARP for
    // 198.18.0.1, and RST|ACK to a SYN (nothing listens).
    const QString ns = QStringLiteral("tcplab-tew-%1").arg(getpid());
    const QString host = QStringLiteral("tew%1a").arg(getpid() % 100000);
    const QString peer = QStringLiteral("tew%1b").arg(getpid() % 100000);
    if (!run(QStringLiteral("ip netns add %1").arg(ns)))
        QSKIP("cannot create a network namespace here");
    auto cleanup = qScopeGuard(
        [&] { run(QStringLiteral("ip link del %1 2>/dev/null; ip netns del %2").arg(host, ns)); });
    QVERIFY(run(QStringLiteral("ip link add %1 type veth peer name %2 netns %3 && "
                               "ip link set %1 up && ip netns exec %3 ip link set %2 up && "
                               "ip netns exec %3 ip addr add 198.18.0.1/24 dev %2")
                    .arg(host, peer, ns)));
    // Frames sent just after a veth comes up are dropped: wait for the carrier.
    QTRY_VERIFY_WITH_TIMEOUT(run(QStringLiteral("ip link show %1 | grep -q 'state UP'").arg(host)),
                             5'000);
    QTest::qWait(1000);

    ui::EngineWorker worker;
    QSignalSpy failed(&worker, &ui::EngineWorker::labFailed);
    QSignalSpy probed(&worker, &ui::EngineWorker::probeFinished);
    QSignalSpy resolved(&worker, &ui::EngineWorker::peerResolved);
    QSignalSpy finished(&worker, &ui::EngineWorker::scenarioFinished);
    worker.startLabOf(ui::LabChoice{ui::LabKind::Interface, false, host});
    QVERIFY2(failed.isEmpty(),
             failed.isEmpty() ? "" : qPrintable(failed.first().first().toString()));
    QTRY_VERIFY_WITH_TIMEOUT(!probed.isEmpty(), 10'000);
    QVERIFY(probed.first().first().toBool());
    QTRY_VERIFY_WITH_TIMEOUT(!resolved.isEmpty(), 10'000);
    QVERIFY(worker.peerMac().has_value());
    QProcess cat;
    cat.start(QStringLiteral("ip"),
              {QStringLiteral("netns"), QStringLiteral("exec"), ns, QStringLiteral("cat"),
               QStringLiteral("/sys/class/net/%1/address").arg(peer)});
    QVERIFY(cat.waitForFinished(5000));
    QCOMPARE(QString::fromStdString(worker.peerMac()->toString()),
             QString::fromUtf8(cat.readAllStandardOutput()).trimmed());
    // The resolution's step-less scenario is not reported as an exercise.
    QVERIFY(finished.isEmpty());
    if (!opener.isEmpty())
        QVERIFY2(worker.labDescription().contains(QStringLiteral("from tcplab-link")),
                 qPrintable(worker.labDescription()));
    worker.stop();
}

// Run by tests/package/test_package.sh, as an ordinary user in the group tcplab, with the
// installed tcplab-link, in a network namespace whose lo is up: the worker opens
// $TCPLAB_TEST_IFACE through the helper, and the phantom's ARP probe, sent and looped
// back, arrives in the timeline.
void TestEngineWorker::interface_asAnOrdinaryUser() {
    const QString iface = qEnvironmentVariable("TCPLAB_TEST_IFACE");
    if (iface.isEmpty())
        QSKIP("run by the package test (tests/package/test_package.sh) as a member of the group "
              "tcplab, with TCPLAB_TEST_IFACE naming an interface");
    QVERIFY2(!lab::holdsNetRaw(), "this case is for a process without CAP_NET_RAW");
    ui::EngineWorker worker;
    QSignalSpy failed(&worker, &ui::EngineWorker::labFailed);
    QSignalSpy started(&worker, &ui::EngineWorker::labStarted);
    worker.startLabOf(ui::LabChoice{ui::LabKind::Interface, false, iface});
    QVERIFY2(failed.isEmpty(),
             failed.isEmpty() ? "" : qPrintable(failed.first().first().toString()));
    QCOMPARE(started.count(), 1);
    qInfo("%s", qPrintable(started.first().first().toString()));
    QVERIFY2(started.first().first().toString().contains(QStringLiteral("from tcplab-link")),
             qPrintable(started.first().first().toString()));
    bool received = false;
    for (int i = 0; i < 250 && !received; ++i) {
        QTest::qWait(20);
        const auto tl = worker.timeline();
        for (std::size_t k = 0; tl && k < tl->size() && !received; ++k)
            received = (*tl)[k].direction == timeline::Direction::Received;
    }
    QVERIFY2(received, "nothing arrived through the helper's socket within 5 s");
    worker.stop();
}

QTEST_MAIN(TestEngineWorker)
#include "tst_engine_worker.moc"
