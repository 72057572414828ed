// tcplab-cli given what it should refuse: every option out of range or malformed, and
// files that are missing, empty, broken or not files. The contract (README: exit status
// 2 for bad arguments): ONE line on stderr that names the option (or the file and what is
// wrong with it), nothing on stdout, exit status 2 for arguments, 1 for a file that can
// be named but not read as asked (an I/O failure), and never a crash.
#include "tests_support/test_support.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>

using namespace tcplab;

namespace {

struct Run {
    int exitCode = -1;
    QProcess::ExitStatus status = QProcess::CrashExit;
    QString out;
    QString err;
};

Run cli(const QStringList& args) {
    QProcess p;
    p.start(QStringLiteral(TCPLAB_CLI), args);
    if (!p.waitForFinished(30000)) {
        p.kill();
        p.waitForFinished();
        return {};
    }
    return {p.exitCode(), p.exitStatus(), QString::fromUtf8(p.readAllStandardOutput()),
            QString::fromUtf8(p.readAllStandardError())};
}

QString writeFile(const QTemporaryDir& dir, const QString& name, const QByteArray& contents) {
    const QString path = dir.filePath(name);
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly))
        return {};
    f.write(contents);
    return path;
}

QByteArray fileBytes(const std::string& path) {
    QFile f(QString::fromStdString(path));
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

} // namespace

class TestBadInput : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() {
        QVERIFY(m_dir.isValid());
        const QByteArray capture = fileBytes(test::dataPath("captures/linux_tcp_ipv4.pcap"));
        QVERIFY(capture.size() > 100);
        m_empty = writeFile(m_dir, "empty.pcap", {});
        m_junk = writeFile(m_dir, "junk.pcap", "this is not a capture file at all\n");
        m_truncated = writeFile(m_dir, "truncated.pcap", capture.left(capture.size() - 30));
        m_headerOnly = writeFile(m_dir, "half-header.pcap", capture.left(10));
        m_badScenario =
            writeFile(m_dir, "bad.scenario", "title broken\nsend S\n\nexpect SA within=soon\n");
        m_unknownStep = writeFile(m_dir, "unknown.scenario", "send S\njump 3\n");
        m_subdir = m_dir.filePath("a-directory");
        QVERIFY(QDir().mkpath(m_subdir));
    }

    // Arguments: exit 2, one line naming the option, stdout empty.
    void badArgument_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("mentions");

        for (const char* port : {"65536", "-1", "abc", "1e3", ""}) {
            QTest::addRow("craft --sport '%s'", port)
                << QStringList{"craft", "--sport", port} << "--sport";
            QTest::addRow("craft --dport '%s'", port)
                << QStringList{"craft", "--dport", port} << "--dport";
        }
        QTest::newRow("craft --seq 2^32") << QStringList{"craft", "--seq", "4294967296"} << "--seq";
        QTest::newRow("craft --ack abc") << QStringList{"craft", "--ack", "abc"} << "--ack";
        QTest::newRow("craft --window 65536")
            << QStringList{"craft", "--window", "65536"} << "--window";
        QTest::newRow("craft --ttl 256") << QStringList{"craft", "--ttl", "256"} << "--ttl";
        QTest::newRow("craft --mss 65536") << QStringList{"craft", "--mss", "65536"} << "--mss";
        QTest::newRow("craft --wscale 256")
            << QStringList{"craft", "--wscale", "256"} << "--wscale";
        QTest::newRow("craft --flow-label 2^20")
            << QStringList{"craft", "--ipv6", "--flow-label", "0x100000"} << "--flow-label";
        QTest::newRow("craft --frag 8192") << QStringList{"craft", "--frag", "8192"} << "--frag";
        QTest::newRow("craft --src not an address")
            << QStringList{"craft", "--src", "not-an-address"} << "--src";
        QTest::newRow("craft --ipv6 --dst v4")
            << QStringList{"craft", "--ipv6", "--dst", "198.18.0.1"} << "--dst";
        QTest::newRow("craft --ts huge") << QStringList{"craft", "--ts", "4294967296:0"} << "--ts";
        QTest::newRow("craft --sack 2^32")
            << QStringList{"craft", "--sack", "1-4294967296"} << "--sack";
        QTest::newRow("craft --option kind 256")
            << QStringList{"craft", "--option", "256:00"} << "--option";
        QTest::newRow("craft --flags empty") << QStringList{"craft", "--flags", "Z"} << "Z";
        QTest::newRow("craft option without value") << QStringList{"craft", "--seq"} << "--seq";

        QTest::newRow("decode --hex odd") << QStringList{"decode", "--hex", "abc"} << "--hex";
        QTest::newRow("decode --hex and --pcap")
            << QStringList{"decode", "--hex", "00", "--pcap", m_junk} << "--pcap";
        QTest::newRow("decode --pcap missing")
            << QStringList{"decode", "--pcap", m_dir.filePath("missing.pcap")} << "--pcap";
        QTest::newRow("decode --pcap directory")
            << QStringList{"decode", "--pcap", m_subdir} << "--pcap";

        QTest::newRow("analyze without --pcap") << QStringList{"analyze"} << "--pcap";
        QTest::newRow("analyze --pcap missing")
            << QStringList{"analyze", "--pcap", m_dir.filePath("missing.pcap")} << "--pcap";
        QTest::newRow("analyze --pcap directory")
            << QStringList{"analyze", "--pcap", m_subdir} << "--pcap";
        QTest::newRow("analyze --local junk")
            << QStringList{"analyze", "--pcap", m_truncated, "--local", "nowhere"} << "--local";

        // experiment: every argument is checked before an interface or a lab is opened
        // (nonexistent0 would fail with status 1 only after that).
        const QStringList ex{"experiment",    "--iface", "nonexistent0", "--phantom",
                             "198.18.0.2/24", "--peer",  "198.18.0.1"};
        for (const char* port : {"0", "65536", "-1", "abc"}) {
            QTest::addRow("experiment --sport '%s'", port)
                << ex + QStringList{"--sport", port} << "--sport";
            QTest::addRow("experiment --dport '%s'", port)
                << ex + QStringList{"--dport", port} << "--dport";
        }
        QTest::newRow("experiment --isn 2^32")
            << ex + QStringList{"--isn", "4294967296"} << "--isn";
        QTest::newRow("experiment --isn -1") << ex + QStringList{"--isn", "-1"} << "--isn";
        QTest::newRow("experiment --isn abc") << ex + QStringList{"--isn", "abc"} << "--isn";
        for (const char* rto : {"0", "-5", "abc", "9", "60001"})
            QTest::addRow("experiment --rto '%s'", rto)
                << ex + QStringList{"--rto", rto} << "--rto";
        QTest::newRow("experiment --repeat 0") << ex + QStringList{"--repeat", "0"} << "--repeat";
        QTest::newRow("experiment --phantom not an address")
            << QStringList{"experiment", "--iface", "nonexistent0", "--phantom",
                           "phantom",    "--peer",  "198.18.0.1"}
            << "--phantom";
        QTest::newRow("experiment --phantom prefix abc")
            << QStringList{"experiment",     "--iface", "nonexistent0", "--phantom",
                           "198.18.0.2/abc", "--peer",  "198.18.0.1"}
            << "--phantom";
        QTest::newRow("experiment --phantom v6 prefix 129")
            << QStringList{"experiment",      "--iface", "nonexistent0", "--phantom",
                           "2001:db8::2/129", "--peer",  "2001:db8::1"}
            << "--phantom";
        QTest::newRow("experiment --peer not an address")
            << QStringList{"experiment",    "--iface", "nonexistent0", "--phantom",
                           "198.18.0.2/24", "--peer",  "peer"}
            << "--peer";
        QTest::newRow("experiment --gateway junk")
            << ex + QStringList{"--gateway", "gw"} << "--gateway";
        QTest::newRow("experiment --phantom-mac junk")
            << ex + QStringList{"--phantom-mac", "02:00:00"} << "--phantom-mac";
        QTest::newRow("experiment --close bogus")
            << ex + QStringList{"--close", "bogus"} << "--close";
        QTest::newRow("experiment --lab bogus")
            << QStringList{"experiment", "--lab", "bogus"} << "--lab";
        QTest::newRow("experiment --lab with --iface")
            << ex + QStringList{"--lab", "linux"} << "--lab";
        QTest::newRow("experiment --scenario missing")
            << ex + QStringList{"--scenario", m_dir.filePath("missing.scenario")} << "--scenario";
        QTest::newRow("experiment --scenario directory")
            << ex + QStringList{"--scenario", m_subdir} << "--scenario";
        QTest::newRow("experiment --scenario line 4 reason")
            << ex + QStringList{"--scenario", m_badScenario} << "line 4";
        QTest::newRow("experiment --scenario unknown step")
            << ex + QStringList{"--scenario", m_unknownStep} << "line 2";
        QTest::newRow("experiment --pcap unwritable")
            << ex + QStringList{"--pcap", "/nonexistent-dir/out.pcap"} << "--pcap";
        QTest::newRow("experiment --pcap directory")
            << ex + QStringList{"--pcap", m_subdir} << "--pcap";
        QTest::newRow("experiment --timeline unwritable")
            << ex + QStringList{"--timeline", "/nonexistent-dir/t.json"} << "--timeline";
        QTest::newRow("compare --close bogus")
            << QStringList{"compare", "--close", "bogus"} << "--close";
    }

    void badArgument() {
        QFETCH(QStringList, args);
        QFETCH(QString, mentions);
        const Run r = cli(args);
        QCOMPARE(r.status, QProcess::NormalExit);
        QVERIFY2(r.exitCode == 2, qPrintable(QString("exit %1: %2").arg(r.exitCode).arg(r.err)));
        QVERIFY2(r.out.isEmpty(), qPrintable(r.out));
        QVERIFY2(!r.err.trimmed().isEmpty(), "no message");
        QVERIFY2(r.err.trimmed().count('\n') == 0, qPrintable(r.err));
        QVERIFY2(r.err.contains(mentions), qPrintable(r.err));
    }

    // Files that exist but are not what they should be: exit 1 (the command ran and could
    // not read it), one line naming the file, and for a truncated capture the frames
    // before the break are still shown.
    void badCapture_data() {
        QTest::addColumn<QString>("command");
        QTest::addColumn<QString>("file");
        QTest::addColumn<bool>("someOutput");
        for (const char* command : {"decode", "analyze"}) {
            QTest::addRow("%s empty", command) << command << m_empty << false;
            QTest::addRow("%s not a pcap", command) << command << m_junk << false;
            QTest::addRow("%s half a header", command) << command << m_headerOnly << false;
            QTest::addRow("%s truncated", command) << command << m_truncated << true;
        }
    }

    void badCapture() {
        QFETCH(QString, command);
        QFETCH(QString, file);
        QFETCH(bool, someOutput);
        const Run r = cli({command, "--pcap", file});
        QCOMPARE(r.status, QProcess::NormalExit);
        QVERIFY2(r.exitCode == 1, qPrintable(QString("exit %1: %2").arg(r.exitCode).arg(r.err)));
        QVERIFY2(r.err.trimmed().count('\n') == 0, qPrintable(r.err));
        QVERIFY2(r.err.contains(QFileInfo(file).fileName()), qPrintable(r.err));
        QCOMPARE(!r.out.isEmpty(), someOutput);
    }

    // An output that cannot be written is known before anything is sent.
    void analyzeUnwritableExport_exitsOneNamingThePath() {
        const QByteArray capture = fileBytes(test::dataPath("captures/linux_tcp_ipv4.pcap"));
        const QString good = writeFile(m_dir, "good.pcap", capture);
        const Run r = cli({"analyze", "--pcap", good, "--csv", "/nonexistent-dir/out.csv"});
        QCOMPARE(r.status, QProcess::NormalExit);
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("/nonexistent-dir/out.csv"), qPrintable(r.err));
    }

private:
    QTemporaryDir m_dir;
    QString m_empty;
    QString m_junk;
    QString m_truncated;
    QString m_headerOnly;
    QString m_badScenario;
    QString m_unknownStep;
    QString m_subdir;
};

QTEST_GUILESS_MAIN(TestBadInput)
#include "tst_bad_input.moc"
