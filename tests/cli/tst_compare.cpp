// tcplab-cli compare: the real binary against both built-in peers; its stdout and
// exit status.
#include "tests_support/test_support.h"

#include <QProcess>
#include <QRegularExpression>
#include <QStringList>

namespace {
struct Run {
    int exitCode = -1;
    QString out;
    QString err;
};

Run cli(const QStringList& args) {
    QProcess p;
    p.start(QStringLiteral(TCPLAB_CLI), args);
    if (!p.waitForFinished(90000)) {
        p.kill();
        p.waitForFinished(5000);
        return {};
    }
    return {p.exitCode(), QString::fromUtf8(p.readAllStandardOutput()),
            QString::fromUtf8(p.readAllStandardError())};
}

/// The "    linux: ..." / "    lwip:  ..." line under the difference `topic`.
QString finding(const QString& out, const QString& topic, const QString& lab) {
    const auto lines = out.split('\n');
    for (qsizetype i = 0; i < lines.size(); ++i) {
        if (!lines[i].startsWith("- " + topic))
            continue;
        for (qsizetype j = i + 1; j < lines.size() && j <= i + 2; ++j)
            if (lines[j].trimmed().startsWith(lab + ":"))
                return lines[j].trimmed().mid(lab.size() + 1).trimmed();
    }
    return {};
}

/// Skips when a lab cannot start here; the reason is the CLI's own.
#define SKIP_IF_NO_LAB(r)                                                                          \
    if ((r).exitCode == 1 && (r).err.contains("could not start"))                                  \
        QSKIP(qPrintable("a built-in lab cannot start here: " + (r).err.trimmed()));
} // namespace

class TestCompare : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void compare_showsBothLaddersAndTheDifferences() {
        const Run r = cli({"compare"});
        SKIP_IF_NO_LAB(r)
        QVERIFY2(r.exitCode == 0, qPrintable(r.out + r.err));

        // Both ladders: each peer's SYN-ACK, acknowledging our SYN, in the classic run
        // and in the probe (side by side, two on a line; or one after the other).
        const QRegularExpression synAck("phantom <- peer  SA +0 +1 ");
        QCOMPARE(r.out.count(synAck), 4);
        QVERIFY2(
            r.out.contains(
                QRegularExpression("^linux +\\| lwip$", QRegularExpression::MultilineOption)) ||
                r.out.contains(QRegularExpression("^lwip$", QRegularExpression::MultilineOption)),
            qPrintable(r.out));
        // Our request went to both; the whole response was acknowledged by both.
        QCOMPARE(r.out.count(QRegularExpression("phantom -> peer  PA +1 +1 +18 ")), 2);
        QVERIFY2(r.out.contains("\nDifferences:\n"), qPrintable(r.out));

        // The SYN-ACKs: Linux offers SACK and timestamps; lwIP's build MSS and WS only.
        const QString linuxSynAck = finding(r.out, "SYN-ACK window and options", "linux");
        const QString lwipSynAck = finding(r.out, "SYN-ACK window and options", "lwip");
        QVERIFY2(linuxSynAck.contains("MSS=") && linuxSynAck.contains("SACK_PERM") &&
                     linuxSynAck.contains("TS="),
                 qPrintable(r.out));
        QVERIFY2(lwipSynAck.contains("MSS=") && lwipSynAck.contains("WS=") &&
                     lwipSynAck.contains("no SACK-permitted") &&
                     lwipSynAck.contains("no timestamps"),
                 qPrintable(r.out));

        // The bad segment: each peer's answer, one of the three possible.
        const QRegularExpression answer("^(an ACK of .*RFC 9293 §3\\.10\\.7\\.4|nothing|RST)");
        for (const QString lab : {"linux", "lwip"}) {
            const QString bad = finding(r.out, "answer to a segment outside the window", lab);
            QVERIFY2(answer.match(bad).hasMatch(), qPrintable(lab + ": '" + bad + "'\n" + r.out));
        }
        // The other topics have a finding for each peer.
        for (const QString topic :
             {"ISN", "how our data was acknowledged", "response segment sizes", "how it closed"})
            for (const QString lab : {"linux", "lwip"})
                QVERIFY2(!finding(r.out, topic, lab).isEmpty(),
                         qPrintable(topic + " " + lab + "\n" + r.out));
        // The ISN finding names the peer's ISN as it was on the wire in the classic run.
        QVERIFY2(finding(r.out, "ISN", "lwip").contains(QRegularExpression("^\\d+ then \\d+")),
                 qPrintable(r.out));
    }

    void compare_closeWithRst() {
        const Run r = cli({"compare", "--close", "rst"});
        SKIP_IF_NO_LAB(r)
        QVERIFY2(r.exitCode == 0, qPrintable(r.out + r.err));
        QCOMPARE(r.out.count(QRegularExpression("phantom -> peer  R ")), 4);
        QCOMPARE(finding(r.out, "how it closed", "linux"), QString("no FIN (we aborted with RST)"));
        QCOMPARE(finding(r.out, "how it closed", "lwip"), QString("no FIN (we aborted with RST)"));
    }

    void compare_badArgumentsExitTwo_data() {
        QTest::addColumn<QStringList>("args");
        QTest::newRow("close mode") << QStringList{"compare", "--close", "sideways"};
        QTest::newRow("unknown option") << QStringList{"compare", "--lab", "linux"};
    }

    void compare_badArgumentsExitTwo() {
        QFETCH(QStringList, args);
        const Run r = cli(args);
        QCOMPARE(r.exitCode, 2);
        QVERIFY(!r.err.isEmpty());
        QVERIFY2(!r.out.contains("phantom"), qPrintable(r.out));
    }
};

QTEST_GUILESS_MAIN(TestCompare)
#include "tst_compare.moc"
