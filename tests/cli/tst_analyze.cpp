// tcplab-cli analyze, the real binary, against Wireshark's TCP analysis (tshark) as an
// independent oracle on the real captures in tests/data/captures.
//
// Purposeful differences, mapped here (README): Wireshark's "retransmission", "fast
// retransmission", "spurious retransmission" and "out-of-order" are compared as one
// set against ours plus gap_fill (Wireshark guesses from timing whether a segment
// that fills a hole was overtaken or retransmitted; an observer cannot know; our
// out_of_order is the receiver's view: data held beyond a hole); Wireshark's "previous
// segment not captured" is our lost_segment, its "ACKed segment that wasn't captured"
// our ack_unseen. Fast retransmission itself is not compared (we need 3 duplicate
// ACKs, RFC 5681; Wireshark 2 within 20 ms).
//
// Wireshark has no "out of window"; ours is the receiver's view (RFC 9293 §3.10.7.4,
// first check). In the loss capture the peer acknowledges 105705 with SACK blocks while
// its window grows (frames 170-178: window updates, not duplicate ACKs), and frame 179
// retransmits 105705: at the peer's RCV.NXT, inside its window, so a retransmission and
// nothing else, as Wireshark says (lossCapture_frame179_isARetransmissionInWindow).
#include "tests_support/test_support.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>

#include <map>
#include <set>

#include <nlohmann/json.hpp>

using namespace tcplab;

namespace {
struct Run {
    int exitCode = -1;
    QString out;
    QString err;
};

Run run(const QString& program, const QStringList& args) {
    QProcess p;
    p.start(program, args);
    if (!p.waitForFinished(60000)) {
        p.kill();
        p.waitForFinished(5000);
        return {};
    }
    return {p.exitCode(), QString::fromUtf8(p.readAllStandardOutput()),
            QString::fromUtf8(p.readAllStandardError())};
}

Run cli(const QStringList& args) {
    return run(QStringLiteral(TCPLAB_CLI), args);
}

QString capture(const char* name) {
    return QString::fromStdString(test::dataPath(std::string("captures/") + name));
}

struct Oracle {
    long seq = 0, ack = 0, len = 0;
    std::set<std::string> classes;
};

/// tshark's view of every TCP frame, by frame number.
std::map<long, Oracle> tsharkView(const QString& file) {
    static const char* kFlags[] = {
        "retransmission", "fast_retransmission", "spurious_retransmission",
        "out_of_order",   "duplicate_ack",       "zero_window",
        "window_update",  "lost_segment",        "ack_lost_segment"};
    QStringList args = {"-r", file, "-Y", "tcp", "-T", "fields", "-E", "separator=|"};
    for (const char* f : {"frame.number", "tcp.seq", "tcp.ack", "tcp.len"})
        args << "-e" << f;
    for (const char* f : kFlags)
        args << "-e" << QStringLiteral("tcp.analysis.%1").arg(f);
    const Run r = run(QStandardPaths::findExecutable(QStringLiteral("tshark")), args);
    std::map<long, Oracle> view;
    for (const QString& line : r.out.split(u'\n', Qt::SkipEmptyParts)) {
        const QStringList v = line.split(u'|');
        if (v.size() != 4 + int(std::size(kFlags)))
            continue;
        Oracle o{v[1].toLong(), v[2].toLong(), v[3].toLong(), {}};
        for (std::size_t i = 0; i < std::size(kFlags); ++i)
            if (!v[int(4 + i)].isEmpty())
                o.classes.insert(kFlags[i]);
        view[v[0].toLong()] = o;
    }
    return view;
}

bool hasAny(const std::set<std::string>& s, std::initializer_list<const char*> names) {
    for (const char* n : names)
        if (s.count(n))
            return true;
    return false;
}
} // namespace

class TestAnalyze : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void agreesWithTshark_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<int>("minRetransmissions");
        QTest::newRow("ipv4") << capture("linux_tcp_ipv4.pcap") << 0;
        QTest::newRow("ipv6") << capture("linux_tcp_ipv6.pcap") << 0;
        QTest::newRow("loss") << capture("linux_tcp_loss.pcap") << 5;
        QTest::newRow("loss pcapng") << capture("linux_tcp_loss.pcapng") << 5;
    }
    void agreesWithTshark() {
        QFETCH(QString, file);
        QFETCH(int, minRetransmissions);
        if (QStandardPaths::findExecutable(QStringLiteral("tshark")).isEmpty())
            QSKIP("tshark is not installed: it is the oracle of this test");
        const auto oracle = tsharkView(file);
        QVERIFY(!oracle.empty());

        QTemporaryDir dir;
        const QString json = dir.filePath(QStringLiteral("out.json"));
        const Run r = cli({"analyze", "--pcap", file, "--json", json});
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.err.isEmpty(), qPrintable(r.err));
        // One stdout line per TCP segment.
        QCOMPARE(r.out.split(u'\n', Qt::SkipEmptyParts).size(), int(oracle.size()));

        QFile f(json);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const auto doc = nlohmann::json::parse(f.readAll().toStdString());
        QCOMPARE(doc.size(), oracle.size());
        int retransmissions = 0;
        for (const auto& o : doc) {
            for (const char* key : {"frame", "dir", "flags", "seq", "ack", "rel_seq", "rel_ack",
                                    "len", "window", "classes", "states", "note"})
                QVERIFY2(o.contains(key), key);
            const long frame = o["frame"].get<long>();
            QVERIFY2(oracle.count(frame), qPrintable(QString::number(frame)));
            const Oracle& w = oracle.at(frame);
            const QString where = QStringLiteral("frame %1").arg(frame);
            QVERIFY2(o["rel_seq"].get<long>() == w.seq, qPrintable(where + " rel_seq"));
            QVERIFY2(o["rel_ack"].get<long>() == w.ack, qPrintable(where + " rel_ack"));
            QVERIFY2(o["len"].get<long>() == w.len, qPrintable(where + " len"));

            std::set<std::string> ours;
            for (const auto& c : o["classes"])
                ours.insert(c.get<std::string>());
            for (const auto& c : o["tracker_classes"])
                ours.insert(c.get<std::string>());
            const bool wsRetr = hasAny(w.classes, {"retransmission", "fast_retransmission",
                                                   "spurious_retransmission", "out_of_order"});
            const bool ourRetr = hasAny(ours, {"retransmission", "fast_retransmission",
                                               "spurious_retransmission", "gap_fill"});
            retransmissions += ourRetr ? 1 : 0;
            QVERIFY2(wsRetr == ourRetr, qPrintable(where + " retransmission"));
            QVERIFY2(w.classes.count("duplicate_ack") == ours.count("dup_ack"),
                     qPrintable(where + " dup_ack"));
            QVERIFY2(w.classes.count("zero_window") == ours.count("zero_window"),
                     qPrintable(where + " zero_window"));
            QVERIFY2(w.classes.count("window_update") == ours.count("window_update"),
                     qPrintable(where + " window_update"));
            QVERIFY2(w.classes.count("lost_segment") == ours.count("lost_segment"),
                     qPrintable(where + " lost_segment"));
            QVERIFY2(w.classes.count("ack_lost_segment") == ours.count("ack_unseen"),
                     qPrintable(where + " ack_unseen"));
            // Ours are the vocabulary only.
            static const std::set<std::string> kVocabulary = {"new_data",
                                                              "retransmission",
                                                              "fast_retransmission",
                                                              "spurious_retransmission",
                                                              "out_of_order",
                                                              "dup_ack",
                                                              "window_update",
                                                              "window_full",
                                                              "zero_window",
                                                              "zero_window_probe",
                                                              "keep_alive",
                                                              "out_of_window",
                                                              "lost_segment",
                                                              "ack_unseen"};
            for (const auto& c : o["classes"])
                QVERIFY2(kVocabulary.count(c.get<std::string>()), qPrintable(where));
        }
        QVERIFY(retransmissions >= minRetransmissions);
    }

    void lossCapture_frame179_isARetransmissionInWindow() {
        QTemporaryDir dir;
        const QString json = dir.filePath(QStringLiteral("out.json"));
        const Run r = cli({"analyze", "--pcap", capture("linux_tcp_loss.pcap"), "--json", json});
        QCOMPARE(r.exitCode, 0);
        QFile f(json);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const auto doc = nlohmann::json::parse(f.readAll().toStdString());
        bool seen = false;
        for (const auto& o : doc) {
            const std::string where = "frame " + std::to_string(o["frame"].get<long>());
            // Every segment of this capture reached a receiver that could take it.
            for (const auto& c : o["classes"])
                QVERIFY2(c.get<std::string>() != "out_of_window", where.c_str());
            if (o["frame"].get<long>() == 179) {
                seen = true;
                QCOMPARE(o["rel_seq"].get<long>(), 105705L);
                QVERIFY2(o["classes"] == nlohmann::json::array({"retransmission"}),
                         o["classes"].dump().c_str());
            }
        }
        QVERIFY(seen);
    }

    void csv_oneRowPerSegment() {
        QTemporaryDir dir;
        const QString csv = dir.filePath(QStringLiteral("out.csv"));
        const Run r = cli({"analyze", "--pcap", capture("linux_tcp_ipv4.pcap"), "--csv", csv});
        QCOMPARE(r.exitCode, 0);
        QFile f(csv);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QStringList lines =
            QString::fromUtf8(f.readAll()).split(QStringLiteral("\r\n"), Qt::SkipEmptyParts);
        QCOMPARE(lines.size(), 1 + 10);
        QVERIFY(lines[0].startsWith(QStringLiteral("frame,time,direction,")));
        QVERIFY(lines[1].startsWith(QStringLiteral("3,")));
    }

    void jsonAndCsv_areExclusive() {
        const Run r = cli({"analyze", "--pcap", capture("linux_tcp_ipv4.pcap"), "--json", "/tmp/a",
                           "--csv", "/tmp/b"});
        QCOMPARE(r.exitCode, 2);
    }

    void nonEthernet_exits1_withOneLine() {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("sll.pcap"));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        const unsigned char header[24] = {0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0,   0, 0, 0,
                                          0,    0,    0,    0,    0, 0, 4, 0, 113, 0, 0, 0};
        f.write(reinterpret_cast<const char*>(header), sizeof header);
        f.close();
        const Run r = cli({"analyze", "--pcap", path});
        QCOMPARE(r.exitCode, 1);
        QVERIFY(r.out.isEmpty());
        QCOMPARE(r.err.count(u'\n'), 1);
        QVERIFY2(r.err.contains(QStringLiteral("only Ethernet")), qPrintable(r.err));
    }

    void truncated_printsWhatWasRead_andExits1() {
        QTemporaryDir dir;
        QFile in(capture("linux_tcp_loss.pcap"));
        QVERIFY(in.open(QIODevice::ReadOnly));
        const QByteArray all = in.readAll();
        const QString path = dir.filePath(QStringLiteral("cut.pcap"));
        QFile out(path);
        QVERIFY(out.open(QIODevice::WriteOnly));
        out.write(all.left(all.size() / 3));
        out.close();
        const Run r = cli({"analyze", "--pcap", path});
        QCOMPARE(r.exitCode, 1);
        QVERIFY(r.out.split(u'\n', Qt::SkipEmptyParts).size() > 10);
        QVERIFY2(r.err.contains(QStringLiteral("reading stopped after frame")), qPrintable(r.err));
    }

    void unwritableOutput_exits1_leavesNoFile() {
        QTemporaryDir dir;
        QVERIFY(QDir(dir.path()).mkdir(QStringLiteral("taken")));
        const Run r = cli({"analyze", "--pcap", capture("linux_tcp_ipv4.pcap"), "--json",
                           dir.filePath(QStringLiteral("taken"))});
        QCOMPARE(r.exitCode, 1);
        QCOMPARE(r.err.count(u'\n'), 1);
        QCOMPARE(QDir(dir.path()).entryList(QDir::AllEntries | QDir::NoDotAndDotDot),
                 QStringList{QStringLiteral("taken")});
    }
};

QTEST_GUILESS_MAIN(TestAnalyze)
#include "tst_analyze.moc"
