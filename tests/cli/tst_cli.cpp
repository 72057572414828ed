// tcplab-cli craft/decode as a script uses them: the real binary, its stdout, its
// exit status. Captured frames are rebuilt from field values that tshark read out of
// the same capture (tests/data/captures), so the check is independent of our decoder.
#include "tests_support/test_support.h"

#include "timeline/pcap_file.h"

#include <QProcess>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTemporaryDir>

#include <unistd.h>

#include <nlohmann/json.hpp>

using namespace tcplab;

namespace {
struct Run {
    int exitCode = -1;
    QString out;
    QString err;
};

Run cli(const QStringList& args) {
    QProcess p;
    p.start(QStringLiteral(TCPLAB_CLI), args);
    if (!p.waitForFinished(30000)) {
        p.kill();
        return {};
    }
    return {p.exitCode(), QString::fromUtf8(p.readAllStandardOutput()),
            QString::fromUtf8(p.readAllStandardError())};
}

nlohmann::json parseLine(const QString& line) {
    return nlohmann::json::parse(line.toStdString());
}
} // namespace

class TestCli : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void craft_rebuildsTheCapturedIpv4Syn() {
        // tshark -r linux_tcp_ipv4.pcap -Y frame.number==3: ip.id 0x4d1d, TTL 64, DF,
        // 42570 -> 50001, seq 1505856435, win 64240, MSS 1460, SACK_PERM, TS 3222837068:0,
        // NOP, WS 10 (option kinds 2,4,8,1,3).
        const Run r = cli({"craft",
                           "--src-mac",
                           "02:00:00:00:00:0a",
                           "--dst-mac",
                           "02:00:00:00:00:0b",
                           "--src",
                           "198.18.0.2",
                           "--dst",
                           "198.18.0.1",
                           "--ip-id",
                           "0x4d1d",
                           "--sport",
                           "42570",
                           "--dport",
                           "50001",
                           "--seq",
                           "1505856435",
                           "--flags",
                           "S",
                           "--window",
                           "64240",
                           "--mss",
                           "1460",
                           "--sack-perm",
                           "--ts",
                           "3222837068:0",
                           "--nop",
                           "--wscale",
                           "10",
                           "--hex"});
        QCOMPARE(r.exitCode, 0);
        const auto frames = test::readPcap("captures/linux_tcp_ipv4.pcap");
        QCOMPARE(r.out.trimmed(), test::toHex(frames.at(2)));
    }

    void craft_rebuildsTheCapturedIpv6Syn() {
        // tshark: flow label 0x0a03ec, hop limit 64, 43638 -> 50001, seq 1896826051,
        // win 64800, MSS 1440, SACK_PERM, TS 2741147017:0, NOP, WS 10.
        const Run r = cli({"craft",        "--ipv6",
                           "--src-mac",    "02:00:00:00:00:0a",
                           "--dst-mac",    "02:00:00:00:00:0b",
                           "--src",        "2001:db8::2",
                           "--dst",        "2001:db8::1",
                           "--flow-label", "0x0a03ec",
                           "--sport",      "43638",
                           "--dport",      "50001",
                           "--seq",        "1896826051",
                           "--flags",      "S",
                           "--window",     "64800",
                           "--mss",        "1440",
                           "--sack-perm",  "--ts",
                           "2741147017:0", "--nop",
                           "--wscale",     "10"});
        QCOMPARE(r.exitCode, 0);
        const auto frames = test::readPcap("captures/linux_tcp_ipv6.pcap");
        QCOMPARE(r.out.trimmed(), test::toHex(frames.at(2)));
    }

    void craft_overridesGoOnTheWireAsGiven() {
        const Run r = cli({"craft", "--flags", "PA", "--tcp-checksum", "0xbeef", "--data-offset",
                           "3", "--reserved", "5", "--ip-checksum", "0x1234", "--payload",
                           "GET / HTTP/1.1\\r\\n\\r\\n"});
        QCOMPARE(r.exitCode, 0);
        const auto bytes = test::hex(r.out.trimmed().toStdString());
        QCOMPARE(bytes.size(), std::size_t{14 + 20 + 20 + 18});
        QCOMPARE(wire::load16(bytes.data() + 24), std::uint16_t{0x1234});
        QCOMPARE(int(bytes[34 + 12]), (3 << 4) | 5);
        QCOMPARE(wire::load16(bytes.data() + 34 + 16), std::uint16_t{0xbeef});
        // Decoding it says what is wrong: data offset 3 is malformed.
        const Run d = cli({"decode", "--hex", r.out.trimmed()});
        QCOMPARE(d.exitCode, 0);
        const auto j = parseLine(d.out.trimmed());
        QVERIFY(j["malformed"].is_string());
        QVERIFY(QString::fromStdString(j["malformed"]).contains("dataofs"));
    }

    void craft_optionsKeepCommandLineOrder() {
        const Run a = cli({"craft", "--nop", "--mss", "1460", "--wscale", "7"});
        const Run b = cli({"craft", "--wscale", "7", "--mss", "1460", "--nop"});
        QCOMPARE(a.exitCode, 0);
        QCOMPARE(b.exitCode, 0);
        const auto ja = parseLine(cli({"decode", "--hex", a.out.trimmed()}).out.trimmed());
        const auto jb = parseLine(cli({"decode", "--hex", b.out.trimmed()}).out.trimmed());
        QCOMPARE(QString::fromStdString(ja["layers"][2]["options"].dump()),
                 QString(R"([["NOP",null],["MSS",1460],["WScale",7]])"));
        QCOMPARE(QString::fromStdString(jb["layers"][2]["options"].dump()),
                 QString(R"([["WScale",7],["MSS",1460],["NOP",null]])"));
        // 3 + 4 bytes is not a multiple of 4: the padding shows as End of Option List.
        const Run c = cli({"craft", "--wscale", "7", "--mss", "1460"});
        const auto jc = parseLine(cli({"decode", "--hex", c.out.trimmed()}).out.trimmed());
        QCOMPARE(QString::fromStdString(jc["layers"][2]["options"].dump()),
                 QString(R"([["WScale",7],["MSS",1460],["EOL",null]])"));
    }

    void decode_printsScapyStyleJson() {
        const Run c =
            cli({"craft", "--flags", "SA", "--seq", "3735928559", "--ack", "101", "--sack",
                 "1000-2000,3000-4000", "--option", "254:0a0b", "--payload-hex", "00ff"});
        QCOMPARE(c.exitCode, 0);
        const Run d = cli({"decode", "--hex", c.out.trimmed()});
        QCOMPARE(d.exitCode, 0);
        const auto j = parseLine(d.out.trimmed());
        QVERIFY(j["malformed"].is_null());
        const auto& tcp = j["layers"][2];
        QCOMPARE(QString::fromStdString(tcp["layer"]), QString("tcp"));
        QCOMPARE(QString::fromStdString(tcp["flags"]), QString("SA"));
        QCOMPARE(tcp["seq"].get<std::uint64_t>(), 3735928559ull);
        QCOMPARE(tcp["ack"].get<std::uint64_t>(), 101ull);
        QCOMPARE(tcp["chksum_ok"].get<bool>(), true);
        QCOMPARE(QString::fromStdString(tcp["options"].dump()),
                 QString(R"([["SAck",[[1000,2000],[3000,4000]]],[254,"0a0b"],["EOL",null]])"));
        QCOMPARE(QString::fromStdString(j["payload_hex"]), QString("00ff"));
    }

    void out_appendsCountFramesToAPcapThatLibpcapReads() {
        QTemporaryDir dir;
        const QString path = dir.filePath("out.pcap");
        QCOMPARE(cli({"craft", "--flags", "S", "--out", path, "--count", "5"}).exitCode, 0);
        QCOMPARE(cli({"craft", "--flags", "A", "--out", path}).exitCode, 0);
        auto reader = timeline::PcapReader::open(path.toStdString());
        QVERIFY(reader);
        timeline::PcapRecord rec;
        int n = 0;
        std::int64_t previous = 0;
        while (reader->next(rec)) {
            QVERIFY(rec.timestampNs >= previous);
            previous = rec.timestampNs;
            ++n;
        }
        QCOMPARE(n, 6);
        const Run d = cli({"decode", "--pcap", path});
        QCOMPARE(d.exitCode, 0);
        const QStringList lines = d.out.trimmed().split('\n');
        QCOMPARE(lines.size(), 6);
        QCOMPARE(QString::fromStdString(parseLine(lines.last())["layers"][2]["flags"]),
                 QString("A"));
        QCOMPARE(parseLine(lines.last())["frame"].get<int>(), 6);
    }

    void decode_readsTheRealCapture() {
        const Run d = cli({"decode", "--pcap",
                           QString::fromStdString(test::dataPath("captures/linux_tcp_ipv6.pcap"))});
        QCOMPARE(d.exitCode, 0);
        const QStringList lines = d.out.trimmed().split('\n');
        QCOMPARE(lines.size(), 14);
        QCOMPARE(QString::fromStdString(parseLine(lines[0])["layers"][2]["layer"]),
                 QString("icmpv6"));
        QCOMPARE(QString::fromStdString(parseLine(lines[2])["layers"][1]["src"]),
                 QString("2001:db8::2"));
    }

    void badArguments_exitTwoWithOneLine_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("port too big") << QStringList{"craft", "--sport", "70000"} << "--sport";
        QTest::newRow("negative seq") << QStringList{"craft", "--seq", "-1"} << "--seq";
        QTest::newRow("seq too big") << QStringList{"craft", "--seq", "4294967296"} << "--seq";
        QTest::newRow("flag letter") << QStringList{"craft", "--flags", "SX"} << "X";
        QTest::newRow("bad ipv4") << QStringList{"craft", "--src", "198.18.0"} << "--src";
        QTest::newRow("ipv6 address on ipv4")
            << QStringList{"craft", "--dst", "2001:db8::1"} << "--dst";
        QTest::newRow("bad mac") << QStringList{"craft", "--src-mac", "02:00"} << "--src-mac";
        QTest::newRow("sack without dash") << QStringList{"craft", "--sack", "5"} << "--sack";
        QTest::newRow("five sack blocks")
            << QStringList{"craft", "--sack", "1-2,3-4,5-6,7-8,9-10"} << "--sack";
        QTest::newRow("ts without colon") << QStringList{"craft", "--ts", "1"} << "--ts";
        QTest::newRow("wscale not number")
            << QStringList{"craft", "--wscale", "seven"} << "--wscale";
        QTest::newRow("data offset 16")
            << QStringList{"craft", "--data-offset", "16"} << "--data-offset";
        QTest::newRow("odd hex payload")
            << QStringList{"craft", "--payload-hex", "abc"} << "--payload-hex";
        QTest::newRow("bad escape") << QStringList{"craft", "--payload", "a\\q"} << "--payload";
        QTest::newRow("options over 40 bytes")
            << QStringList{"craft", "--sack", "1-2,3-4,5-6,7-8", "--ts", "1:2"} << "40";
        QTest::newRow("unknown option") << QStringList{"craft", "--bogus"} << "--bogus";
        QTest::newRow("no subcommand") << QStringList{} << "subcommand";
        QTest::newRow("decode nothing") << QStringList{"decode"} << "--hex";
        QTest::newRow("decode bad hex") << QStringList{"decode", "--hex", "0g"} << "hex";
        QTest::newRow("decode missing file")
            << QStringList{"decode", "--pcap", "/nonexistent.pcap"} << "nonexistent";
        // experiment: every argument is checked before any interface is opened.
        const QStringList ex{"experiment", "--iface", "nonexistent0"};
        QTest::newRow("experiment without phantom")
            << (ex + QStringList{"--peer", "198.18.0.1"}) << "--phantom";
        QTest::newRow("experiment bad phantom")
            << (ex + QStringList{"--phantom", "198.18.0/24", "--peer", "198.18.0.1"})
            << "--phantom";
        QTest::newRow("experiment prefix 33")
            << (ex + QStringList{"--phantom", "198.18.0.2/33", "--peer", "198.18.0.1"})
            << "--phantom";
        QTest::newRow("experiment mixed families")
            << (ex + QStringList{"--phantom", "198.18.0.2/24", "--peer", "2001:db8::1"})
            << "--peer";
        QTest::newRow("experiment peer is phantom")
            << (ex + QStringList{"--phantom", "198.18.0.2/24", "--peer", "198.18.0.2"}) << "--peer";
        QTest::newRow("experiment gateway family")
            << (ex + QStringList{"--phantom", "198.18.0.2/24", "--peer", "198.18.1.2", "--gateway",
                                 "2001:db8::1"})
            << "--gateway";
        QTest::newRow("experiment close mode")
            << (ex + QStringList{"--phantom", "198.18.0.2/24", "--peer", "198.18.0.1", "--close",
                                 "maybe"})
            << "--close";
        QTest::newRow("experiment isn too big")
            << (ex + QStringList{"--phantom", "198.18.0.2/24", "--peer", "198.18.0.1", "--isn",
                                 "4294967296"})
            << "--isn";
        QTest::newRow("experiment group mac")
            << (ex + QStringList{"--phantom", "198.18.0.2/24", "--peer", "198.18.0.1",
                                 "--phantom-mac", "03:00:00:00:00:01"})
            << "--phantom-mac";
        QTest::newRow("experiment request escape")
            << (ex + QStringList{"--phantom", "198.18.0.2/24", "--peer", "198.18.0.1", "--request",
                                 "GET \\q"})
            << "--request";
        QTest::newRow("experiment rto zero")
            << (ex +
                QStringList{"--phantom", "198.18.0.2/24", "--peer", "198.18.0.1", "--rto", "0"})
            << "--rto";
        QTest::newRow("experiment missing scenario")
            << (ex + QStringList{"--phantom", "198.18.0.2/24", "--peer", "198.18.0.1", "--scenario",
                                 "/nonexistent.scenario"})
            << "--scenario";
    }

    void experiment_scenarioErrorNamesTheLine() {
        QTemporaryDir dir;
        QFile f(dir.filePath("bad.scenario"));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("title broken\nsend S\nexpect SA within=soon\n");
        f.close();
        const Run r = cli({"experiment", "--iface", "nonexistent0", "--phantom", "198.18.0.2/24",
                           "--peer", "198.18.0.1", "--scenario", f.fileName()});
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains("line 3"), qPrintable(r.err));
        QVERIFY2(r.err.contains("within"), qPrintable(r.err));
    }

    void experiment_noSuchInterfaceExitsOne() {
        const Run r = cli({"experiment", "--iface", "nonexistent0", "--phantom", "198.18.0.2/24",
                           "--peer", "198.18.0.1"});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("nonexistent0"), qPrintable(r.err));
        // Root learns which interfaces exist; anyone else, through tcplab-link, too.
        if (geteuid() == 0)
            QVERIFY2(r.err.contains("lo"), qPrintable(r.err));
        else
            QVERIFY2(r.err.contains("tcplab") || r.err.contains("nonexistent0"), qPrintable(r.err));
        QCOMPARE(r.err.trimmed().count('\n'), 0);
    }

    void badArguments_exitTwoWithOneLine() {
        QFETCH(QStringList, args);
        QFETCH(QString, mentions);
        const Run r = cli(args);
        QCOMPARE(r.exitCode, 2);
        QVERIFY(r.out.isEmpty());
        QCOMPARE(r.err.trimmed().count('\n'), 0);
        QVERIFY2(r.err.contains(mentions), qPrintable(r.err));
    }

    void unwritableOutput_exitsOneAndSaysWhy() {
        const Run r = cli({"craft", "--out", "/nonexistent-dir/x.pcap"});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("/nonexistent-dir/x.pcap"), qPrintable(r.err));
    }

    void notAPcap_exitsOneAndSaysWhy() {
        QTemporaryDir dir;
        QFile f(dir.filePath("junk.pcap"));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("this is not a capture file at all");
        f.close();
        const Run r = cli({"decode", "--pcap", f.fileName()});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("junk.pcap"), qPrintable(r.err));
    }

    // The classic exercise on the built-in lab: a real kernel in a private namespace,
    // which needs no privileges (CI runs it as root and, below, as nobody).
    void experiment_builtinLab_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("closing");
        QTest::newRow("ipv4 fin") << QStringList{"--close", "fin"} << "phantom <- peer  FA";
        QTest::newRow("ipv4 rst") << QStringList{"--close", "rst"} << "phantom -> peer  R ";
        QTest::newRow("ipv4 peer") << QStringList{"--close", "peer"} << "phantom -> peer  FA";
        QTest::newRow("ipv6 fin") << QStringList{"--ipv6", "--close", "fin"}
                                  << "phantom <- peer  FA";
        QTest::newRow("ipv6 rst") << QStringList{"--ipv6", "--close", "rst"}
                                  << "phantom -> peer  R ";
        QTest::newRow("ipv6 peer")
            << QStringList{"--ipv6", "--close", "peer"} << "phantom -> peer  FA";
        // The embedded peer: lwIP in a helper process.
        QTest::newRow("lwip ipv4 fin")
            << QStringList{"--lab", "lwip", "--close", "fin"} << "phantom <- peer  FA";
        QTest::newRow("lwip ipv6 peer")
            << QStringList{"--lab", "lwip", "--ipv6", "--close", "peer"} << "phantom -> peer  FA";
        QTest::newRow("lwip ipv4 rst")
            << QStringList{"--lab", "lwip", "--close", "rst"} << "phantom -> peer  R ";
    }

    void experiment_builtinLab() {
        QFETCH(QStringList, args);
        QFETCH(QString, closing);
        const Run r = cli(QStringList{"experiment", "-q"} + args);
        if (r.exitCode == 1 && r.err.contains("user namespace"))
            QSKIP(qPrintable("the built-in lab cannot run here: " + r.err.trimmed()));
        QVERIFY2(r.exitCode == 0, qPrintable(r.out + r.err));
        QVERIFY2(r.out.contains(QRegularExpression("phantom -> peer  S +0 ")), qPrintable(r.out));
        QVERIFY2(r.out.contains(QRegularExpression("phantom <- peer  SA +0 +1 ")),
                 qPrintable(r.out));
        QVERIFY2(r.out.contains(QRegularExpression("phantom -> peer  PA +1 +1 +18 ")) ||
                     r.out.contains(QRegularExpression("phantom -> peer  PA +1 +1 +37 ")),
                 qPrintable(r.out));
        QVERIFY2(r.out.contains(closing), qPrintable(r.out));
    }

    // Where user namespaces are refused (simulated: the helper honours
    // TCPLAB_LAB_HELPER_FAIL), the default lab says why and runs on lwIP instead.
    void experiment_fallsBackToLwipWithoutUserNamespaces() {
        QProcess p;
        auto env = QProcessEnvironment::systemEnvironment();
        env.insert("TCPLAB_LAB_HELPER_FAIL", "userns");
        p.setProcessEnvironment(env);
        p.start(QStringLiteral(TCPLAB_CLI), {"experiment", "-q"});
        QVERIFY(p.waitForFinished(60000));
        const QString out = QString::fromUtf8(p.readAllStandardOutput());
        const QString err = QString::fromUtf8(p.readAllStandardError());
        QVERIFY2(p.exitCode() == 0, qPrintable(out + err));
        QVERIFY2(err.contains("using the embedded peer (lwip)"), qPrintable(err));
        QVERIFY2(out.contains("phantom <- peer  SA"), qPrintable(out));
        // Asked for by name, the Linux lab does not fall back: the error is the answer.
        p.start(QStringLiteral(TCPLAB_CLI), {"experiment", "-q", "--lab", "linux"});
        QVERIFY(p.waitForFinished(60000));
        QCOMPARE(p.exitCode(), 1);
        QVERIFY(!QString::fromUtf8(p.readAllStandardError()).contains("using the embedded peer"));
    }

    void experiment_builtinLabAsAnOrdinaryUser() {
        if (geteuid() != 0)
            QSKIP("already unprivileged: experiment_builtinLab covers it");
        if (QStandardPaths::findExecutable("setpriv").isEmpty())
            QSKIP("setpriv is not installed");
        // From a copy nobody can reach (the build tree may sit under /root), with the
        // helper beside it, where tcplab-cli looks for it.
        QTemporaryDir dir(QDir::tempPath() + "/tcplab-cli-test-XXXXXX");
        QVERIFY(dir.isValid());
        QFile::setPermissions(dir.path(), QFileDevice::ReadOwner | QFileDevice::WriteOwner |
                                              QFileDevice::ExeOwner | QFileDevice::ReadOther |
                                              QFileDevice::ExeOther);
        const QString cliPath = QStringLiteral(TCPLAB_CLI);
        const QString helper = QFileInfo(cliPath).dir().filePath("tcplab-lab-helper");
        QVERIFY(QFile::copy(cliPath, dir.filePath("tcplab-cli")));
        QVERIFY(QFile::copy(helper, dir.filePath("tcplab-lab-helper")));
        QProcess p;
        p.setWorkingDirectory(dir.path());
        p.start("setpriv", {"--reuid=nobody", "--regid=nogroup", "--clear-groups",
                            dir.filePath("tcplab-cli"), "experiment", "-q"});
        QVERIFY(p.waitForFinished(60000));
        const QString out = QString::fromUtf8(p.readAllStandardOutput());
        const QString err = QString::fromUtf8(p.readAllStandardError());
        QVERIFY2(p.exitCode() == 0, qPrintable(out + err));
        QVERIFY2(out.contains("phantom <- peer  FA"), qPrintable(out));
    }

    void versionAndHelp() {
        const Run v = cli({"--version"});
        QCOMPARE(v.exitCode, 0);
        QVERIFY(v.out.startsWith("tcplab-cli "));
        const Run h = cli({"craft", "--help"});
        QCOMPARE(h.exitCode, 0);
        for (const char* opt :
             {"--ipv6",  "--src",   "--dst",     "--src-mac",     "--dst-mac",      "--sport",
              "--dport", "--seq",   "--ack",     "--flags",       "--window",       "--urgent",
              "--ttl",   "--ip-id", "--mss",     "--wscale",      "--sack-perm",    "--sack",
              "--ts",    "--nop",   "--payload", "--payload-hex", "--tcp-checksum", "--data-offset",
              "--hex",   "--out",   "--count"})
            QVERIFY2(h.out.contains(opt), opt);
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
