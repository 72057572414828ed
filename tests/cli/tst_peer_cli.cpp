// tcplab-cli with the peer under the user's hand, as a user runs it: `tcplab-cli peer`,
// `experiment --passive`, every example scenario of docs/examples (each a lesson in
// miniature, so the documentation cannot rot), and the timeline's JSON with the peer's
// calls and tcp_info samples. Against the built-in Linux lab; skips, saying why, where
// user namespaces are refused.
#include "tests_support/test_support.h"

#include <QDir>
#include <QProcess>
#include <QTemporaryDir>

#include <fstream>

#include <nlohmann/json.hpp>

namespace {

struct Run {
    int exitCode = -1;
    QString out;
    QString err;
};

Run cli(const QStringList& args, int timeoutMs = 60000) {
    QProcess p;
    p.start(QStringLiteral(TCPLAB_CLI), args);
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished(1000);
        return {-1, QString::fromUtf8(p.readAllStandardOutput()), QStringLiteral("timed out")};
    }
    return {p.exitCode(), QString::fromUtf8(p.readAllStandardOutput()),
            QString::fromUtf8(p.readAllStandardError())};
}

/// Skips when the built-in lab cannot run here (the CLI says so and why).
bool labRefused(const Run& r) {
    return r.err.contains(QStringLiteral("needs unprivileged user namespaces"));
}

QString examplesDir() {
    return QStringLiteral(TCPLAB_TEST_DATA "/../../docs/examples");
}

} // namespace

class TestPeerCli : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void peer_printsEachCallAndChecksExpectations() {
        const Run r = cli(
            {"peer", "socket inet", "bind 3 5000", "listen 3", "expect-peer state == LISTEN fd=3",
             "setsockopt 3 TCP_MAXSEG 1 = -1 EINVAL", "getsockopt 3 SO_LINGER", "--info"});
        if (labRefused(r))
            QSKIP(qPrintable(r.err));
        QVERIFY2(r.exitCode == 0, qPrintable(r.out + r.err));
        const QStringList lines = r.out.split(QLatin1Char('\n'));
        QVERIFY2(lines.value(0).startsWith(QStringLiteral("socket(AF_INET, SOCK_STREAM, 0) = 3 [")),
                 qPrintable(r.out));
        QVERIFY(lines.value(1).startsWith(QStringLiteral("bind(3, any:5000) = 0 [")));
        QVERIFY(lines.value(2).startsWith(QStringLiteral("listen(3, 16) = 0 [")));
        QCOMPARE(lines.value(3), QStringLiteral("expect-peer state == LISTEN: the peer's kernel "
                                                "says state = LISTEN"));
        QVERIFY(lines.value(4).startsWith(QStringLiteral(
            "setsockopt(3, IPPROTO_TCP, TCP_MAXSEG, 1) = -1 EINVAL (Invalid argument) [")));
        QVERIFY(lines.value(5).startsWith(
            QStringLiteral("getsockopt(3, SOL_SOCKET, SO_LINGER) = 0 onoff=0 linger=0 [")));
        QVERIFY2(r.out.contains(QStringLiteral("# socket fd 3 0.0.0.0:5000 -> *:0")),
                 qPrintable(r.out));
    }

    void peer_failedCall_exitsOneNamingTheStep() {
        const Run r = cli({"peer", "socket inet", "listen 9"});
        if (labRefused(r))
            QSKIP(qPrintable(r.err));
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains(QStringLiteral("step 2 \"peer listen 9\"")), qPrintable(r.err));
        QVERIFY2(r.err.contains(QStringLiteral("listen(9, 16)")), qPrintable(r.err));
    }

    void peer_badCall_isABadArgument() {
        const Run r = cli({"peer", "frobnicate 3"});
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(QStringLiteral("'frobnicate' is not a peer call")),
                 qPrintable(r.err));
        const Run extra = cli({"peer", "socket inet\nlisten 3"});
        QCOMPARE(extra.exitCode, 2);
        QVERIFY2(extra.err.contains(QStringLiteral("a call is one line")), qPrintable(extra.err));
    }

    void experimentPassive_theKernelConnectsToYou() {
        QTemporaryDir dir;
        const QString json = dir.filePath(QStringLiteral("passive.json"));
        const Run r = cli({"experiment", "--passive", "--timeline", json});
        if (labRefused(r))
            QSKIP(qPrintable(r.err));
        QVERIFY2(r.exitCode == 0, qPrintable(r.out + r.err));
        QVERIFY2(r.out.contains(QStringLiteral("# peer: connect(3, 198.18.0.2:50000) = 0")),
                 qPrintable(r.out));
        std::ifstream in(json.toStdString());
        const auto j = nlohmann::json::parse(in);
        QCOMPARE(j.at("version").get<int>(), 2);
        bool connect = false;
        bool established = false;
        for (const auto& record : j.at("peer")) {
            if (record.at("kind") == "syscall" && record.at("call") == "connect") {
                connect = record.at("result").get<int>() == 0 && record.at("errno").is_null();
                QVERIFY(record.at("duration_ns").get<std::int64_t>() > 0);
            }
            if (record.at("kind") == "tcp_info" && record.contains("state") &&
                record.at("state") == "ESTABLISHED")
                established = record.at("tcp_info").at("snd_cwnd").get<int>() > 0;
        }
        QVERIFY(connect);
        QVERIFY(established);
    }

    void examples_everyScenarioRuns_data() {
        QTest::addColumn<QString>("file");
        const QDir dir(examplesDir());
        const QStringList files = dir.entryList({QStringLiteral("*.scenario")}, QDir::Files);
        QVERIFY2(files.size() >= 4, qPrintable(dir.absolutePath()));
        for (const QString& f : files)
            QTest::newRow(qPrintable(f)) << dir.filePath(f);
    }
    void examples_everyScenarioRuns() {
        QFETCH(QString, file);
        const Run r =
            cli({"experiment", "--scenario", file, "--dport", "5000", "--snaplen", "128", "-q"});
        if (labRefused(r))
            QSKIP(qPrintable(r.err));
        QVERIFY2(r.exitCode == 0, qPrintable(r.out.right(2000) + r.err));
    }
};

QTEST_GUILESS_MAIN(TestPeerCli)
#include "tst_peer_cli.moc"
