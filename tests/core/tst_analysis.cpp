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

// ---- capture files built by hand, for the two readers (ours and libpcap) ----------------

void put16(std::vector<std::uint8_t>& out, std::uint16_t v, bool bigEndian) {
    for (int i = 0; i < 2; ++i)
        out.push_back(static_cast<std::uint8_t>(v >> (8 * (bigEndian ? 1 - i : i))));
}
void put32(std::vector<std::uint8_t>& out, std::uint32_t v, bool bigEndian) {
    for (int i = 0; i < 4; ++i)
        out.push_back(static_cast<std::uint8_t>(v >> (8 * (bigEndian ? 3 - i : i))));
}

struct Frame {
    std::int64_t timeNs;
    std::vector<std::uint8_t> bytes;
};

/// The frames of a capture, read by libpcap (the reference).
std::vector<Frame> framesOf(const std::string& path) {
    std::vector<Frame> frames;
    auto r = timeline::PcapReader::open(path, timeline::PcapBackend::Libpcap);
    if (!r)
        return frames;
    timeline::PcapRecord rec;
    while (r->next(rec))
        frames.push_back({rec.timestampNs, {rec.data.begin(), rec.data.end()}});
    return frames;
}

/// A classic pcap: 2.4, Ethernet, the given byte order and time resolution.
std::vector<std::uint8_t> pcapFile(const std::vector<Frame>& frames, bool bigEndian, bool nano,
                                   std::uint32_t snaplen = 262144) {
    std::vector<std::uint8_t> out;
    put32(out, nano ? 0xa1b23c4d : 0xa1b2c3d4, bigEndian);
    put16(out, 2, bigEndian);
    put16(out, 4, bigEndian);
    put32(out, 0, bigEndian);
    put32(out, 0, bigEndian);
    put32(out, snaplen, bigEndian);
    put32(out, 1, bigEndian);
    for (const Frame& f : frames) {
        put32(out, std::uint32_t(f.timeNs / 1'000'000'000), bigEndian);
        const auto frac = std::uint32_t(f.timeNs % 1'000'000'000);
        put32(out, nano ? frac : frac / 1000, bigEndian);
        put32(out, std::uint32_t(f.bytes.size()), bigEndian);
        put32(out, std::uint32_t(f.bytes.size()), bigEndian);
        out.insert(out.end(), f.bytes.begin(), f.bytes.end());
    }
    return out;
}

/// One pcapng block: type, total length, body padded to 4 bytes, total length.
void pcapngBlock(std::vector<std::uint8_t>& out, std::uint32_t type,
                 const std::vector<std::uint8_t>& body, bool bigEndian) {
    const std::size_t padded = (body.size() + 3) & ~std::size_t{3};
    const auto length = std::uint32_t(12 + padded);
    put32(out, type, bigEndian);
    put32(out, length, bigEndian);
    out.insert(out.end(), body.begin(), body.end());
    out.insert(out.end(), padded - body.size(), 0);
    put32(out, length, bigEndian);
}

/// A pcapng: one section, `interfaces` Ethernet interfaces (if_tsresol `tsresol` when
/// not 6), frames spread over them in turn as EPBs, a statistics block at the end.
std::vector<std::uint8_t> pcapngFile(const std::vector<Frame>& frames, bool bigEndian, int tsresol,
                                     int interfaces = 1) {
    std::vector<std::uint8_t> out, body;
    put32(body, 0x1a2b3c4d, bigEndian);
    put16(body, 1, bigEndian);
    put16(body, 0, bigEndian);
    put32(body, 0xffffffff, bigEndian);
    put32(body, 0xffffffff, bigEndian);
    pcapngBlock(out, 0x0a0d0d0a, body, bigEndian);
    for (int i = 0; i < interfaces; ++i) {
        body.clear();
        put16(body, 1, bigEndian); // LINKTYPE_ETHERNET
        put16(body, 0, bigEndian);
        put32(body, 262144, bigEndian);
        if (tsresol != 6) {
            put16(body, 9, bigEndian); // if_tsresol
            put16(body, 1, bigEndian);
            body.insert(body.end(), {std::uint8_t(tsresol), 0, 0, 0});
            put16(body, 0, bigEndian); // opt_endofopt
            put16(body, 0, bigEndian);
        }
        pcapngBlock(out, 1, body, bigEndian);
    }
    std::int64_t perUnit = 1;
    for (int k = tsresol; k < 9; ++k)
        perUnit *= 10;
    for (std::size_t n = 0; n < frames.size(); ++n) {
        const Frame& f = frames[n];
        body.clear();
        put32(body, std::uint32_t(n % std::size_t(interfaces)), bigEndian);
        const auto units = std::uint64_t(f.timeNs / perUnit);
        put32(body, std::uint32_t(units >> 32), bigEndian);
        put32(body, std::uint32_t(units), bigEndian);
        put32(body, std::uint32_t(f.bytes.size()), bigEndian);
        put32(body, std::uint32_t(f.bytes.size()), bigEndian);
        body.insert(body.end(), f.bytes.begin(), f.bytes.end());
        pcapngBlock(out, 6, body, bigEndian);
    }
    body.assign(8, 0);
    pcapngBlock(out, 5, body, bigEndian); // an interface statistics block: skipped
    return out;
}

/// importPcap through our reader and through libpcap alone must give the same timeline
/// and say the same about where and why reading stopped.
void compareBackends(const std::string& path, bool expectFastPath) {
    {
        auto reader = timeline::PcapReader::open(path, timeline::PcapBackend::Auto);
        if (reader)
            QCOMPARE(reader->fastPath(), expectFastPath);
    }
    timeline::Timeline fast, reference;
    timeline::ImportOptions viaLibpcap;
    viaLibpcap.backend = timeline::PcapBackend::Libpcap;
    const auto a = timeline::importPcap(path, fast);
    const auto b = timeline::importPcap(path, reference, viaLibpcap);
    QCOMPARE(bool(a), bool(b));
    if (!a) {
        QCOMPARE(a.error(), b.error());
        return;
    }
    QCOMPARE(a->frames, b->frames);
    QCOMPARE(a->error, b->error);
    QCOMPARE(a->linkType, b->linkType);
    QCOMPARE(fast.size(), reference.size());
    for (std::size_t i = 0; i < fast.size(); ++i) {
        QCOMPARE(fast[i].timeNs, reference[i].timeNs);
        QCOMPARE(fast[i].direction, reference[i].direction);
        QVERIFY2(std::ranges::equal(fast[i].bytes, reference[i].bytes),
                 qPrintable(QString("frame %1").arg(i + 1)));
    }
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

    // ---- our reader against libpcap ---------------------------------------------------

    void reader_everyCapture_sameTimelineAsLibpcap_data() {
        QTest::addColumn<QString>("path");
        const QDir d(QString::fromStdString(test::dataPath("captures")));
        int n = 0;
        for (const QString& name : d.entryList({"*.pcap", "*.pcapng"}, QDir::Files, QDir::Name)) {
            QTest::newRow(qPrintable(name)) << d.filePath(name);
            ++n;
        }
        QVERIFY(n >= 4); // three pcaps and linux_tcp_loss.pcapng (editcap -F pcapng)
    }
    void reader_everyCapture_sameTimelineAsLibpcap() {
        QFETCH(QString, path);
        compareBackends(path.toStdString(), true);
    }

    void reader_formats_sameTimelineAsLibpcap_data() {
        QTest::addColumn<int>("kind");
        QTest::newRow("pcap big-endian microseconds") << 0;
        QTest::newRow("pcap little-endian nanoseconds") << 1;
        QTest::newRow("pcap big-endian nanoseconds") << 2;
        QTest::newRow("pcapng little-endian, if_tsresol 9") << 3;
        QTest::newRow("pcapng big-endian, default resolution") << 4;
        QTest::newRow("pcapng, three interfaces, if_tsresol 7") << 5;
    }
    void reader_formats_sameTimelineAsLibpcap() {
        QFETCH(int, kind);
        auto frames = framesOf(test::dataPath("captures/linux_tcp_loss.pcap"));
        QVERIFY(frames.size() > 100);
        // Give the nanosecond formats nanoseconds to carry.
        for (std::size_t i = 0; i < frames.size(); ++i)
            frames[i].timeNs += std::int64_t(i % 1000);
        std::vector<std::uint8_t> bytes;
        switch (kind) {
        case 0:
            bytes = pcapFile(frames, true, false);
            break;
        case 1:
            bytes = pcapFile(frames, false, true);
            break;
        case 2:
            bytes = pcapFile(frames, true, true);
            break;
        case 3:
            bytes = pcapngFile(frames, false, 9);
            break;
        case 4:
            bytes = pcapngFile(frames, true, 6);
            break;
        default:
            bytes = pcapngFile(frames, false, 7, 3);
            break;
        }
        QTemporaryDir dir;
        const QString path = dir.filePath("f");
        writeBytes(path, bytes);
        compareBackends(path.toStdString(), true);
        timeline::Timeline t;
        QCOMPARE(timeline::importPcap(path.toStdString(), t)->frames, frames.size());
    }

    void reader_badInput_sameAsLibpcap_framesBeforeKept_data() {
        QTest::addColumn<int>("kind");
        QTest::addColumn<bool>("fastAtOpen");
        QTest::newRow("pcap: record header cut short") << 0 << true;
        QTest::newRow("pcap: record data cut short") << 1 << true;
        QTest::newRow("pcap: caplen > snaplen (libpcap cuts it to the snaplen)") << 2 << true;
        QTest::newRow("pcap: caplen > 256 KiB") << 3 << true;
        QTest::newRow("pcap: only part of the file header") << 4 << false;
        QTest::newRow("zero-length file") << 5 << false;
        QTest::newRow("pcapng: block lengths disagree") << 6 << true;
        QTest::newRow("pcapng: block cut short") << 7 << true;
        QTest::newRow("pcapng: EPB caplen beyond its block") << 8 << true;
        QTest::newRow("pcapng: EPB of an interface never described") << 9 << true;
        QTest::newRow("pcap: version 2.2 (libpcap only)") << 10 << false;
    }
    void reader_badInput_sameAsLibpcap_framesBeforeKept() {
        QFETCH(int, kind);
        QFETCH(bool, fastAtOpen);
        auto frames = framesOf(test::dataPath("captures/linux_tcp_ipv4.pcap"));
        QCOMPARE(frames.size(), std::size_t(12));
        std::vector<std::uint8_t> bytes;
        const std::size_t recordsBefore = 5; // the damage is in record 6
        std::size_t offset = 24;             // of record 6 in a pcap
        for (std::size_t i = 0; i < recordsBefore; ++i)
            offset += 16 + frames[i].bytes.size();
        std::size_t expectFrames = recordsBefore;
        bool expectError = true;
        switch (kind) {
        case 0:
            bytes = pcapFile(frames, false, false);
            bytes.resize(offset + 9);
            break;
        case 1:
            bytes = pcapFile(frames, false, false);
            bytes.resize(offset + 16 + 10);
            break;
        case 2: {
            bytes = pcapFile(frames, false, false, 60); // frames of 60 bytes and more
            expectFrames = frames.size();
            expectError = false;
            break;
        }
        case 3:
            bytes = pcapFile(frames, false, false);
            bytes[offset + 8] = 0;
            bytes[offset + 9] = 0;
            bytes[offset + 10] = 0x10; // caplen 1 MiB
            break;
        case 4:
            bytes = pcapFile(frames, false, false);
            bytes.resize(10);
            break;
        case 5:
            break;
        case 10:
            bytes = pcapFile(frames, false, false);
            bytes[6] = 2;
            expectFrames = frames.size();
            expectError = false;
            break;
        default: {
            bytes = pcapngFile(frames, false, 6);
            // Block 0 is the SHB (28 bytes), block 1 the IDB (20), then one EPB per frame.
            std::size_t at = 28 + 20;
            for (std::size_t i = 0; i < recordsBefore; ++i)
                at += 32 + ((frames[i].bytes.size() + 3) & ~std::size_t{3});
            if (kind == 6) {
                bytes[at + 4] += 4; // the leading length no longer matches the trailing one
            } else if (kind == 7) {
                bytes.resize(at + 30);
            } else if (kind == 8) {
                bytes[at + 20] = 0xff; // caplen
                bytes[at + 21] = 0x7f;
            } else {
                bytes[at + 8] = 3; // interface 3 of 1
            }
            break;
        }
        }
        QTemporaryDir dir;
        const QString path = dir.filePath("bad");
        writeBytes(path, bytes);
        compareBackends(path.toStdString(), fastAtOpen);
        timeline::Timeline t;
        const auto s = timeline::importPcap(path.toStdString(), t);
        if (kind == 4 || kind == 5) {
            QVERIFY(!s); // no header: nothing to import, and it says which file
            QVERIFY2(s.error().find(path.toStdString()) != std::string::npos, s.error().c_str());
            return;
        }
        QVERIFY(s);
        QCOMPARE(s->frames, expectFrames);
        QCOMPARE(!s->error.empty(), expectError);
        if (expectError)
            QVERIFY2(s->error.find(fmt::format("after frame {}", expectFrames)) !=
                         std::string::npos,
                     s->error.c_str());
        for (std::size_t i = 0; i < s->frames; ++i)
            QCOMPARE(t[i].timeNs, frames[i].timeNs / 1000 * 1000);
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
