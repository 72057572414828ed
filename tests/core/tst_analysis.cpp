// Import of capture files into a Timeline, the analysis rows and the CSV/JSON export
// (core/timeline/analysis.h), on the real captures of tests/data/captures.
#include "tests_support/test_support.h"

#include "timeline/analysis.h"

#include <QDir>
#include <QFile>
#include <QTemporaryDir>

#include <algorithm>
#include <atomic>
#include <fstream>

#include <nlohmann/json.hpp>

using namespace tcplab;
using timeline::Direction;

namespace {

std::vector<std::uint8_t> fileBytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void writeBytes(const QString& path, const std::vector<std::uint8_t>& bytes) {
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(reinterpret_cast<const char*>(bytes.data()), qint64(bytes.size()));
}

/// A classic pcap global header (microseconds, little-endian) with `linkType`.
std::vector<std::uint8_t> pcapHeader(std::uint32_t linkType) {
    std::vector<std::uint8_t> h = {0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0,
                                   0,    0,    0,    0,    0, 0, 0, 0, 4, 0};
    for (int i = 0; i < 4; ++i)
        h.push_back(static_cast<std::uint8_t>(linkType >> (8 * i)));
    return h;
}

/// RFC 4180 fields of one CSV record (quotes and doubled quotes undone).
QStringList parseCsvRecord(const QString& line) {
    QStringList fields;
    QString field;
    bool quoted = false;
    for (int i = 0; i < line.size(); ++i) {
        const QChar c = line[i];
        if (quoted) {
            if (c == u'"' && i + 1 < line.size() && line[i + 1] == u'"') {
                field += u'"';
                ++i;
            } else if (c == u'"') {
                quoted = false;
            } else {
                field += c;
            }
        } else if (c == u'"') {
            quoted = true;
        } else if (c == u',') {
            fields << field;
            field.clear();
        } else {
            field += c;
        }
    }
    fields << field;
    return fields;
}

} // namespace

class TestAnalysis : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void import_readsEveryFrame_firstSynSenderIsSent() {
        timeline::Timeline t;
        std::size_t lastProgress = 0;
        auto s = timeline::importPcap(test::dataPath("captures/linux_tcp_ipv4.pcap"), t, {},
                                      [&](std::size_t n) { lastProgress = n; });
        QVERIFY2(s, s ? "" : s.error().c_str());
        QCOMPARE(s->frames, std::size_t(12));
        QCOMPARE(t.size(), std::size_t(12));
        QVERIFY(s->error.empty());
        QCOMPARE(lastProgress, std::size_t(12));
        // tshark: 1 ARP request from 02:..:0a (the SYN's sender), 2 the reply, 3 SYN, 4 SYN-ACK.
        QCOMPARE(t[0].direction, Direction::Sent);
        QCOMPARE(t[1].direction, Direction::Received);
        QCOMPARE(t[2].direction, Direction::Sent);
        QCOMPARE(t[3].direction, Direction::Received);
        const auto frames = test::readPcap("captures/linux_tcp_ipv4.pcap");
        QVERIFY(std::ranges::equal(t[5].bytes, frames[5]));
    }

    void import_localAddress_decidesDirection() {
        timeline::Timeline t;
        timeline::ImportOptions o;
        o.localAddresses.push_back(*wire::parseIpAddress("198.18.0.1")); // the server
        auto s = timeline::importPcap(test::dataPath("captures/linux_tcp_ipv4.pcap"), t, o);
        QVERIFY(s);
        QCOMPARE(t[0].direction, Direction::Received); // ARP from .2
        QCOMPARE(t[1].direction, Direction::Sent);     // ARP reply from .1
        QCOMPARE(t[2].direction, Direction::Received); // SYN from .2
        QCOMPARE(t[3].direction, Direction::Sent);     // SYN-ACK from .1
    }

    void import_truncatedFile_keepsFramesAndSaysWhy() {
        QTemporaryDir dir;
        auto bytes = fileBytes(test::dataPath("captures/linux_tcp_loss.pcap"));
        QVERIFY(bytes.size() > 10000);
        bytes.resize(bytes.size() / 2);
        const QString path = dir.filePath("cut.pcap");
        writeBytes(path, bytes);
        timeline::Timeline t;
        auto s = timeline::importPcap(path.toStdString(), t);
        QVERIFY(s);
        QVERIFY(s->frames > 10);
        QVERIFY(s->frames < test::readPcap("captures/linux_tcp_loss.pcap").size());
        QCOMPARE(t.size(), s->frames);
        QVERIFY2(!s->error.empty(), "a truncated file must say so");
        QVERIFY2(s->error.find(fmt::format("after frame {}", s->frames)) != std::string::npos,
                 s->error.c_str());
    }

    void import_nonEthernet_isRefused() {
        QTemporaryDir dir;
        const QString path = dir.filePath("sll.pcap");
        writeBytes(path, pcapHeader(113)); // LINKTYPE_LINUX_SLL ("any")
        timeline::Timeline t;
        auto s = timeline::importPcap(path.toStdString(), t);
        QVERIFY(!s);
        QVERIFY2(s.error().find("link type is 113 (LINUX_SLL)") != std::string::npos,
                 s.error().c_str());
        QVERIFY2(s.error().find("only Ethernet") != std::string::npos, s.error().c_str());
        QCOMPARE(t.size(), std::size_t(0));
    }

    void import_emptyFile_isAnError_headerOnlyIsEmpty() {
        QTemporaryDir dir;
        const QString empty = dir.filePath("empty.pcap");
        writeBytes(empty, {});
        timeline::Timeline t;
        auto s = timeline::importPcap(empty.toStdString(), t);
        QVERIFY(!s);
        QVERIFY2(s.error().find("empty.pcap") != std::string::npos, s.error().c_str());

        const QString headerOnly = dir.filePath("none.pcap");
        writeBytes(headerOnly, pcapHeader(1));
        auto h = timeline::importPcap(headerOnly.toStdString(), t);
        QVERIFY(h);
        QCOMPARE(h->frames, std::size_t(0));
        QVERIFY(h->error.empty());
        QVERIFY(timeline::analyze(t).empty());
    }

    void import_cancel_keepsWhatWasRead() {
        timeline::Timeline t;
        std::atomic<bool> cancel{true};
        auto s = timeline::importPcap(test::dataPath("captures/linux_tcp_loss.pcap"), t, {}, {},
                                      &cancel);
        QVERIFY(s);
        QVERIFY(s->cancelled);
        QVERIFY(t.size() <= 1);
    }

    void analyze_rowsForEveryFrame_tcpAndOthers() {
        timeline::Timeline t;
        QVERIFY(timeline::importPcap(test::dataPath("captures/linux_tcp_ipv4.pcap"), t));
        const auto rows = timeline::analyze(t);
        QCOMPARE(rows.size(), std::size_t(12));
        QCOMPARE(rows[0].kind, std::string("ARP"));
        QVERIFY(!rows[0].result);
        QCOMPARE(rows[0].frame, std::size_t(1));
        // tshark frame 6: GET, Seq=1 Ack=1 Len=18 from 42570.
        const auto& get = rows[5];
        QCOMPARE(get.kind, std::string("TCP"));
        QVERIFY(get.result);
        QCOMPARE(get.result->relSeq, 1u);
        QCOMPARE(get.result->relAck, 1u);
        QCOMPARE(get.result->payloadLength, 18u);
        QCOMPARE(get.src, std::string("198.18.0.2:42570"));
        QCOMPARE(get.classes, std::vector<std::string>{"new_data"});
        // Frame 4 (SYN-ACK): absolute seq as on the wire, rel 0.
        QCOMPARE(rows[3].result->relSeq, 0u);
        QCOMPARE(rows[3].result->relAck, 1u);
        QCOMPARE(rows[2].seq + 1, rows[3].ack);
        // The server closed first (frame 10): its last ACK (frame 12) takes the client from
        // LAST-ACK to CLOSED; the server stays in TIME-WAIT.
        const auto j = timeline::analysisRowToJson(rows[11]);
        QCOMPARE(j["src"].get<std::string>(), std::string("198.18.0.1:50001"));
        QCOMPARE(j["states"]["src"].get<std::string>(), std::string("TIME-WAIT"));
        QCOMPARE(j["states"]["dst"].get<std::string>(), std::string("CLOSED"));
        QCOMPARE(j["states_before"]["dst"].get<std::string>(), std::string("LAST-ACK"));
    }

    void analyze_malformedFrame_isShownAsSuch() {
        timeline::Timeline t;
        auto frames = test::readPcap("captures/linux_tcp_ipv4.pcap");
        auto broken = frames[2];
        broken.resize(14 + 10); // IPv4 header cut short
        t.append(1, Direction::Sent, broken);
        const auto rows = timeline::analyze(t);
        QCOMPARE(rows.size(), std::size_t(1));
        QVERIFY(!rows[0].result);
        QVERIFY2(rows[0].kind.rfind("malformed: ", 0) == 0, rows[0].kind.c_str());
    }

    void csv_quotesCommasAndQuotes() {
        QCOMPARE(timeline::csvField("plain"), std::string("plain"));
        QCOMPARE(timeline::csvField("a, \"b\""), std::string("\"a, \"\"b\"\"\""));
        QCOMPARE(timeline::csvField("two\nlines"), std::string("\"two\nlines\""));

        timeline::Timeline t;
        QVERIFY(timeline::importPcap(test::dataPath("captures/linux_tcp_ipv4.pcap"), t));
        auto rows = timeline::analyze(t);
        const std::string note = "SYN, ACK: \"the peer's ISN\", then 1, 2, 3";
        rows[3].note = note;
        const QString csv = QString::fromStdString(timeline::analysisToCsv(rows));
        const QStringList lines = csv.split(QStringLiteral("\r\n"), Qt::SkipEmptyParts);
        QCOMPARE(lines.size(), 1 + 10); // header + the 10 TCP segments
        const QStringList header = parseCsvRecord(lines[0]);
        QCOMPARE(header.size(), 18);
        QCOMPARE(header.last(), QStringLiteral("annotation"));
        const QStringList synAck = parseCsvRecord(lines[2]);
        QCOMPARE(synAck.size(), 18);
        QCOMPARE(synAck[0], QStringLiteral("4"));
        QCOMPARE(synAck[5], QStringLiteral("SA"));
        QCOMPARE(synAck.last(), QString::fromStdString(note));
        QCOMPARE(synAck[header.indexOf(QStringLiteral("src_state_after"))],
                 QStringLiteral("SYN-RECEIVED"));
    }

    void export_csvAndJson_roundTrip() {
        QTemporaryDir dir;
        timeline::Timeline t;
        QVERIFY(timeline::importPcap(test::dataPath("captures/linux_tcp_ipv6.pcap"), t));
        const auto rows = timeline::analyze(t);
        const std::string json = dir.filePath("a.json").toStdString();
        auto r = timeline::exportAnalysisJson(t, rows, json);
        QVERIFY2(r, r ? "" : r.error().c_str());
        std::ifstream in(json);
        const auto doc = nlohmann::json::parse(in);
        std::size_t tcpRows = 0;
        for (const auto& row : rows)
            tcpRows += row.result ? 1 : 0;
        QCOMPARE(doc.size(), tcpRows);
        QVERIFY(doc[0].contains("decoded"));
        QCOMPARE(doc[0]["decoded"]["layers"][1]["layer"].get<std::string>(), std::string("ipv6"));
        const std::string csv = dir.filePath("a.csv").toStdString();
        QVERIFY(timeline::exportAnalysisCsv(rows, csv));
        QCOMPARE(fileBytes(csv).size(), timeline::analysisToCsv(rows).size());
    }

    void export_unwritablePath_failsAndLeavesNoFile() {
        QTemporaryDir dir;
        timeline::Timeline t;
        QVERIFY(timeline::importPcap(test::dataPath("captures/linux_tcp_ipv4.pcap"), t));
        const auto rows = timeline::analyze(t);
        // No such directory.
        auto r = timeline::exportAnalysisCsv(rows, dir.filePath("missing/x.csv").toStdString());
        QVERIFY(!r);
        QVERIFY2(r.error().find("missing/x.csv") != std::string::npos, r.error().c_str());
        // The target is a directory: the rename fails, the temporary file must go.
        QVERIFY(QDir(dir.path()).mkdir(QStringLiteral("taken")));
        auto j = timeline::exportAnalysisJson(t, rows, dir.filePath("taken").toStdString());
        QVERIFY(!j);
        QCOMPARE(QDir(dir.path()).entryList(QDir::AllEntries | QDir::NoDotAndDotDot),
                 QStringList{QStringLiteral("taken")});
    }
};

QTEST_GUILESS_MAIN(TestAnalysis)
#include "tst_analysis.moc"
