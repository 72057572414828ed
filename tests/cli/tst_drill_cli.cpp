// tcplab-cli drill: the real binary runs the project's own packetdrill scripts against the
// built-in Linux lab (tests/data/drill/lab: each must pass; fail/: each must fail on its
// line with packetdrill's words; error/: each is refused before anything is sent), and
// against the built-in lwIP lab where a script applies.
#include "tests_support/test_support.h"

#include "timeline/analysis.h"
#include "timeline/timeline.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QRegularExpression>
#include <QStringList>
#include <QTemporaryDir>

namespace {
struct Run {
    int exitCode = -1;
    QString out;
    QString err;
};

Run cli(const QStringList& args, int timeoutMs = 120000) {
    QProcess p;
    p.start(QStringLiteral(TCPLAB_CLI), args);
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished(5000);
        return {};
    }
    return {p.exitCode(), QString::fromUtf8(p.readAllStandardOutput()),
            QString::fromUtf8(p.readAllStandardError())};
}

QString drillData(const QString& relative) {
    return QString::fromStdString(tcplab::test::dataPath("drill/" + relative.toStdString()));
}

/// Skips when the built-in lab cannot start here; the reason is the CLI's own.
#define SKIP_IF_NO_LAB(r)                                                                          \
    if ((r).exitCode == 1 &&                                                                       \
        ((r).err.contains("could not start") || (r).err.contains("cannot start") ||                \
         (r).err.contains("user namespace")))                                                      \
        QSKIP(qPrintable("the built-in lab cannot start here: " + (r).err.trimmed()));
} // namespace

class TestDrillCli : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void ourScripts_areThere() {
        // calls, client, commands, epoll, link_mtu, sack, server, server_ipv6, sysctl,
        // tcp_info, timing: one per family of constructs.
        QCOMPARE(QDir(drillData("lab")).entryList({"*.pkt"}, QDir::Files).size(), 11);
    }

    void ourScripts_passAgainstTheLinuxLab_data() {
        QTest::addColumn<QString>("script");
        QTest::addColumn<QString>("ipVersion");
        const QDir dir(drillData("lab"));
        const QStringList scripts = dir.entryList({"*.pkt"}, QDir::Files, QDir::Name);
        for (const QString& s : scripts)
            QTest::newRow(qPrintable(s)) << dir.filePath(s) << "ipv4";
    }
    void ourScripts_passAgainstTheLinuxLab() {
        QFETCH(QString, script);
        QFETCH(QString, ipVersion);
        const Run r = cli({"drill", "--ip_version", ipVersion, "-v", script});
        SKIP_IF_NO_LAB(r)
        QVERIFY2(r.exitCode == 0, qPrintable(r.out + r.err));
        // Every line was run: its "ok" line, and the pass with the line count.
        QVERIFY2(r.out.contains(QRegularExpression(": pass \\(\\d+ lines\\)")), qPrintable(r.out));
        QVERIFY2(r.out.count("\nok   ") + (r.out.startsWith("ok   ") ? 1 : 0) >= 5,
                 qPrintable(r.out));
    }

    void aWrongScript_failsOnItsLine_inPacketdrillsWords_data() {
        QTest::addColumn<QString>("script");
        QTest::addColumn<int>("line");
        QTest::addColumn<QString>("packetdrill");
        QTest::addColumn<QString>("tcplab");
        QTest::newRow("late") << "late.pkt" << 8
                              << "timing error: expected outbound packet at 0.200000 sec but "
                                 "happened at 0.3"
                              << "tcplab: ";
        QTest::newRow("wrong ack") << "wrong_ack.pkt" << 12
                                   << "error handling packet: live packet field tcp_ack_seq: "
                                      "expected: 102 (0x66) vs actual: 101 (0x65)"
                                   << "tcplab: the kernel acknowledges 101 where the script "
                                      "expects 102";
        QTest::newRow("wrong errno") << "wrong_errno.pkt" << 9
                                     << "Expected errno 104 (Connection reset by peer) but got "
                                        "11 (Resource temporarily unavailable)"
                                     << "tcplab: ";
        QTest::newRow("assertion")
            << "assert.pkt" << 9 << "runtime error in code: assert tcpi_snd_cwnd == 3"
            << "tcplab: the kernel's tcp_info does not hold what the "
               "script asserts";
    }
    void aWrongScript_failsOnItsLine_inPacketdrillsWords() {
        QFETCH(QString, script);
        QFETCH(int, line);
        QFETCH(QString, packetdrill);
        QFETCH(QString, tcplab);
        const QString path = drillData("fail/" + script);
        const Run r = cli({"drill", path});
        SKIP_IF_NO_LAB(r)
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains(QStringLiteral("%1:%2: ").arg(path).arg(line)), qPrintable(r.err));
        QVERIFY2(r.err.contains(packetdrill), qPrintable(r.err));
        QVERIFY2(r.err.contains(tcplab), qPrintable(r.err));
    }

    void anUnsupportedConstruct_isRefusedBeforeAnythingIsSent_data() {
        QTest::addColumn<QString>("script");
        QTest::addColumn<QString>("where");
        QTest::addColumn<QString>("message");
        QTest::newRow("call") << "unknown_call.pkt"
                              << ":2:1: "
                              << "system call pipe() is not supported";
        QTest::newRow("option") << "bad_option.pkt"
                                << ":2:"
                                << "frobnicate";
        QTest::newRow("python") << "python_loop.pkt"
                                << ":3:"
                                << "'for'";
        QTest::newRow("command")
            << "command.pkt"
            << ":1:1: "
            << "command 'ip netns exec other true' is not supported: ip: 'netns' is not allowed";
    }
    void anUnsupportedConstruct_isRefusedBeforeAnythingIsSent() {
        QFETCH(QString, script);
        QFETCH(QString, where);
        QFETCH(QString, message);
        const QString path = drillData("error/" + script);
        // --check plans only, and the full run refuses the same way before starting a lab.
        for (const QStringList& args : {QStringList{"drill", "--check", path},
                                        QStringList{"drill", "--pcap", "/dev/null", path}}) {
            const Run r = cli(args);
            QCOMPARE(r.exitCode, 2);
            QVERIFY2(r.err.startsWith(path + where), qPrintable(r.err));
            QVERIFY2(r.err.contains(message), qPrintable(r.err));
        }
    }

    void check_readsAndPlansWithoutALab() {
        const QDir dir(drillData("lab"));
        QStringList args{"drill", "--check"};
        for (const QString& s : dir.entryList({"*.pkt"}, QDir::Files, QDir::Name))
            args << dir.filePath(s);
        const Run r = cli(args);
        QVERIFY2(r.exitCode == 0, qPrintable(r.out + r.err));
        QCOMPARE(r.out.count(QRegularExpression(": ok \\(\\d+ lines\\)\n")), args.size() - 2);
    }

    void aRun_writesItsTimelineAndCapture() {
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        const QString json = tmp.filePath("run.json");
        const QString pcap = tmp.filePath("run.pcap");
        const Run r =
            cli({"drill", "--timeline", json, "--pcap", pcap, drillData("lab/server.pkt")});
        SKIP_IF_NO_LAB(r)
        QVERIFY2(r.exitCode == 0, qPrintable(r.out + r.err));
        tcplab::timeline::Timeline captured;
        const auto read = tcplab::timeline::importPcap(pcap.toStdString(), captured);
        QVERIFY2(read, read ? "" : read.error().c_str());
        // The handshake, the data both ways, the close: at least the script's 10 segments.
        QVERIFY2(read->frames >= 10, qPrintable(QString::number(read->frames)));
        QFile f(json);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray text = f.readAll();
        QVERIFY(text.contains("\"syscall\""));
        QVERIFY(text.contains("\"accept\""));
    }

    void aRecordedRun_exportedAsAScript_passesAgainstTheSamePeer_data() {
        QTest::addColumn<QString>("script");
        // From a capture alone the made-up calls close with close(): calls.pkt's SO_LINGER 0
        // abort (the peer's RST) replays only with its recorded calls.
        QTest::addColumn<bool>("fromCapture");
        QTest::newRow("server") << "lab/server.pkt" << true;
        QTest::newRow("client") << "lab/client.pkt" << true;
        QTest::newRow("calls") << "lab/calls.pkt" << false;
        QTest::newRow("timing") << "lab/timing.pkt" << true;
    }
    void aRecordedRun_exportedAsAScript_passesAgainstTheSamePeer() {
        QFETCH(QString, script);
        QFETCH(bool, fromCapture);
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        const QString again = tmp.filePath("again.pkt");
        const QString pcap = tmp.filePath("run.pcap");
        const Run first =
            cli({"drill", "--export-script", again, "--pcap", pcap, drillData(script)});
        SKIP_IF_NO_LAB(first)
        QVERIFY2(first.exitCode == 0, qPrintable(first.out + first.err));
        // With the agent's calls as recorded, and the first run's tolerance.
        QFile exportedScript(again);
        QVERIFY(exportedScript.open(QIODevice::ReadOnly));
        QVERIFY(exportedScript.readAll().contains("\n--tolerance_usecs=50000\n"));
        const Run second = cli({"drill", again});
        QVERIFY2(second.exitCode == 0, qPrintable(second.out + second.err));
        if (!fromCapture)
            return;
        // From the capture alone: the calls are made up, the verdict is the same.
        const QString captured = tmp.filePath("capture.pkt");
        const QString scapy = tmp.filePath("capture.py");
        // Our scripts' tolerance (50 ms: CI's machine is busy), as the first run had it.
        const Run exported =
            cli({"script", pcap, "--tolerance_usecs", "50000", "-o", captured, "-o", scapy});
        QVERIFY2(exported.exitCode == 0, qPrintable(exported.out + exported.err));
        const Run third = cli({"drill", captured});
        QVERIFY2(third.exitCode == 0, qPrintable(third.out + third.err));
        QVERIFY(QFile(scapy).size() > 1000);
    }

    void aFailedExport_leavesNoFile() {
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        // A connection the capture does not have: nothing to write, and nothing written.
        const QString out = tmp.filePath("none.pkt");
        const Run r = cli({"script", drillData("../captures/linux_tcp_ipv4.pcap"), "--connection",
                           "99", "-o", out});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("there is no TCP connection 99"), qPrintable(r.err));
        QVERIFY(!QFile::exists(out));
        QVERIFY(QDir(tmp.path()).entryList(QDir::Files | QDir::Hidden).isEmpty());
    }

    void lwip_runsAScriptThatNeedsNoLinuxCall() {
        const Run r = cli({"drill", "--lab", "lwip", "-v", drillData("lwip/server.pkt")});
        if (r.exitCode == 1 && r.err.contains("lwip") && r.err.contains("not built"))
            QSKIP(qPrintable("no lwIP lab in this build: " + r.err.trimmed()));
        SKIP_IF_NO_LAB(r)
        QVERIFY2(r.exitCode == 0, qPrintable(r.out + r.err));
    }
};

QTEST_GUILESS_MAIN(TestDrillCli)
#include "tst_drill_cli.moc"
