// The timeline store (append-only, chunked, one writer and lock-free readers) and its
// exports: pcap read back through libpcap, JSON parsed back, and the failures that
// must leave nothing behind (no half file, no temporary file, an old file intact).
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QObject>
#include <QTemporaryDir>
#include <QTest>

#include "tests_support/test_support.h"

#include "timeline/pcap_file.h"
#include "timeline/timeline.h"
#include "timeline/timeline_io.h"
#include "wire/frame.h"
#include "wire/frame_json.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <thread>

using namespace tcplab;
using namespace tcplab::timeline;
using ByteVector = std::vector<std::uint8_t>;

namespace {

/// A frame that names its own index: 8 bytes of index, then a length that varies
/// with it, filled with a pattern derived from it. Any torn or misplaced entry shows.
ByteVector numberedFrame(std::size_t index) {
    ByteVector f(8 + index % 61);
    for (std::size_t i = 0; i < 8; ++i)
        f[i] = static_cast<std::uint8_t>(index >> (8 * i));
    for (std::size_t i = 8; i < f.size(); ++i)
        f[i] = static_cast<std::uint8_t>(index * 7 + i);
    return f;
}

/// Empty when `entry` is the one numberedFrame(index) made; else what differs.
QString checkNumbered(const Entry& entry, std::size_t index) {
    const ByteVector expected = numberedFrame(index);
    if (!std::ranges::equal(entry.bytes, expected))
        return QStringLiteral("entry %1: bytes %2, expected %3")
            .arg(index)
            .arg(test::toHex(entry.bytes), test::toHex(expected));
    if (entry.timeNs != static_cast<std::int64_t>(index) * 1000 + 1)
        return QStringLiteral("entry %1: time %2").arg(index).arg(entry.timeNs);
    const Direction direction = index % 3 == 0 ? Direction::Sent : Direction::Received;
    if (entry.direction != direction)
        return QStringLiteral("entry %1: wrong direction").arg(index);
    return {};
}

std::optional<std::size_t> appendNumbered(Timeline& t, std::size_t index) {
    return t.append(static_cast<std::int64_t>(index) * 1000 + 1,
                    index % 3 == 0 ? Direction::Sent : Direction::Received, numberedFrame(index));
}

/// The real frames of the IPv4 capture (ARP, the handshake, data, the close).
std::vector<ByteVector> captureFrames() {
    return test::readPcap("captures/linux_tcp_ipv4.pcap");
}

QStringList entriesOf(const QString& dir) {
    return QDir(dir).entryList(
        QDir::AllEntries | QDir::Hidden | QDir::System | QDir::NoDotAndDotDot, QDir::Name);
}

QByteArray readAll(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return f.readAll();
}

bool writeText(const QString& path, const QByteArray& text) {
    QFile f(path);
    return f.open(QIODevice::WriteOnly | QIODevice::Truncate) && f.write(text) == text.size();
}

/// Lowers the file size limit (RLIMIT_FSIZE) for its lifetime, with SIGXFSZ ignored:
/// any write past the limit then fails with EFBIG, as on a full disk. Works as root.
class FileSizeLimit {
public:
    explicit FileSizeLimit(rlim_t bytes) {
        m_ok = ::getrlimit(RLIMIT_FSIZE, &m_saved) == 0;
        m_oldHandler = std::signal(SIGXFSZ, SIG_IGN);
        rlimit lowered = m_saved;
        lowered.rlim_cur = bytes;
        m_ok = m_ok && ::setrlimit(RLIMIT_FSIZE, &lowered) == 0;
    }
    ~FileSizeLimit() {
        ::setrlimit(RLIMIT_FSIZE, &m_saved);
        std::signal(SIGXFSZ, m_oldHandler);
    }
    FileSizeLimit(const FileSizeLimit&) = delete;
    FileSizeLimit& operator=(const FileSizeLimit&) = delete;
    bool ok() const { return m_ok; }

private:
    rlimit m_saved{};
    void (*m_oldHandler)(int) = nullptr;
    bool m_ok = false;
};

} // namespace

class TestTimeline : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // The arena grows by an eighth of itself: a long transfer at snap length 128 costs its
    // frames' bytes plus at most 1/8 (and one first block), never a mostly empty 4 MiB one.
    void arena_slackIsBounded() {
        for (const std::size_t frames : {1000u, 20'000u, 73'465u}) {
            Timeline t(100'000);
            t.setSnapLength(128);
            const std::vector<std::uint8_t> frame(1514, 0x42);
            for (std::size_t i = 0; i < frames; ++i)
                QVERIFY(t.append(std::int64_t(i), Direction::Received, frame));
            const std::size_t used = frames * 128;
            QVERIFY2(t.storedBytes() <= used + used / 8 + (256u << 10),
                     qPrintable(QStringLiteral("%1 frames: %2 bytes held for %3")
                                    .arg(frames)
                                    .arg(t.storedBytes())
                                    .arg(used)));
        }
    }

    void directionNames() {
        QCOMPARE(directionName(Direction::Sent), std::string_view("sent"));
        QCOMPARE(directionName(Direction::Received), std::string_view("received"));
    }

    void append_publishesEntriesInOrder() {
        Timeline t(100);
        QCOMPARE(t.size(), std::size_t{0});
        QVERIFY(!t.full());
        const ByteVector a = {1, 2, 3};
        const ByteVector b = {4, 5};
        QCOMPARE(t.append(10, Direction::Sent, a), std::optional<std::size_t>(0));
        QCOMPARE(t.append(20, Direction::Received, b), std::optional<std::size_t>(1));
        QCOMPARE(t.size(), std::size_t{2});
        QCOMPARE(t[0].timeNs, std::int64_t{10});
        QCOMPARE(t[0].direction, Direction::Sent);
        QVERIFY(std::ranges::equal(t[0].bytes, a));
        QCOMPARE(t[1].timeNs, std::int64_t{20});
        QCOMPARE(t[1].direction, Direction::Received);
        QVERIFY(std::ranges::equal(t[1].bytes, b));
    }

    void append_copiesTheFrame() {
        Timeline t(4);
        ByteVector frame = {9, 9, 9};
        QVERIFY(t.append(1, Direction::Sent, frame));
        frame[0] = 0;
        QCOMPARE(int(t[0].bytes[0]), 9);
    }

    void entry_decodesItsBytes() {
        const auto frames = captureFrames();
        QVERIFY(frames.size() >= 3);
        Timeline t(8);
        QVERIFY(t.append(1, Direction::Received, frames[2]));
        const wire::Frame f = t[0].decode();
        QVERIFY(f.tcp() != nullptr);
        QCOMPARE(f.bytes.data(), t[0].bytes.data());
    }

    void capacity_refusesFramesPastIt() {
        Timeline t(5);
        QCOMPARE(t.capacity(), std::size_t{5});
        for (std::size_t i = 0; i < 5; ++i)
            QCOMPARE(appendNumbered(t, i), std::optional<std::size_t>(i));
        QVERIFY(t.full());
        QCOMPARE(appendNumbered(t, 5), std::optional<std::size_t>());
        QCOMPARE(appendNumbered(t, 6), std::optional<std::size_t>());
        QCOMPARE(t.size(), std::size_t{5});
        for (std::size_t i = 0; i < 5; ++i)
            QCOMPARE(checkNumbered(t[i], i), QString());
    }

    void capacity_zeroHoldsNothing() {
        Timeline t(0);
        QVERIFY(t.full());
        QCOMPARE(appendNumbered(t, 0), std::optional<std::size_t>());
        QCOMPARE(t.size(), std::size_t{0});
    }

    void chunks_boundariesHoldTheRightEntries_andEntriesNeverMove() {
        constexpr std::size_t kChunk = Timeline::kChunkSize;
        const std::size_t capacity = 3 * kChunk + 10; // the last chunk only partly usable
        Timeline t(capacity);
        QVERIFY(appendNumbered(t, 0));
        const Entry* first = &t[0];
        const std::uint8_t* firstBytes = t[0].bytes.data();
        for (std::size_t i = 1; i < capacity; ++i)
            QCOMPARE(appendNumbered(t, i), std::optional<std::size_t>(i));
        QCOMPARE(appendNumbered(t, capacity), std::optional<std::size_t>());
        QCOMPARE(t.size(), capacity);
        QCOMPARE(&t[0], first);
        QCOMPARE(t[0].bytes.data(), firstBytes);
        for (std::size_t i : {std::size_t{0}, kChunk - 1, kChunk, kChunk + 1, 2 * kChunk - 1,
                              2 * kChunk, 3 * kChunk - 1, 3 * kChunk, capacity - 1})
            QCOMPARE(checkNumbered(t[i], i), QString());
        for (std::size_t i = 0; i < capacity; ++i)
            if (const QString problem = checkNumbered(t[i], i); !problem.isEmpty())
                QFAIL(qPrintable(problem));
    }

    void concurrentReader_seesOnlyCompleteEntriesInOrder() {
        // One writer appends 100k frames while this thread reads everything below the
        // published size as it grows. Run under TSan/ASan to catch a race the checks
        // cannot see.
        constexpr std::size_t kFrames = 100'000;
        Timeline t(kFrames);
        std::atomic<bool> writerDone{false};
        std::thread writer([&] {
            for (std::size_t i = 0; i < kFrames; ++i)
                appendNumbered(t, i);
            writerDone.store(true);
        });
        std::size_t checked = 0;
        QString failure;
        std::size_t observations = 0;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (checked < kFrames && failure.isEmpty() &&
               std::chrono::steady_clock::now() < deadline) {
            const std::size_t size = t.size();
            if (size < checked) {
                failure = QStringLiteral("size went back from %1 to %2").arg(checked).arg(size);
                break;
            }
            ++observations;
            for (; checked < size && failure.isEmpty(); ++checked)
                failure = checkNumbered(t[checked], checked);
            if (checked == size)
                std::this_thread::yield();
        }
        writer.join();
        QVERIFY2(failure.isEmpty(), qPrintable(failure));
        QVERIFY(writerDone.load());
        QCOMPARE(checked, kFrames);
        QCOMPARE(t.size(), kFrames);
        QVERIFY(observations > 0);
    }

    // --- pcap -------------------------------------------------------------------------

    void exportPcap_roundTripsTimestampsAndBytes() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const auto frames = captureFrames();
        QVERIFY(frames.size() >= 4);
        Timeline t(64);
        // Nanosecond stamps that a microsecond pcap would round.
        const std::int64_t base = 1'700'000'000'123'456'789;
        for (std::size_t i = 0; i < frames.size(); ++i)
            QVERIFY(t.append(base + std::int64_t(i) * 1'000'001,
                             i % 2 ? Direction::Sent : Direction::Received, frames[i]));
        const std::string path = dir.filePath(QStringLiteral("out.pcap")).toStdString();
        const auto written = exportPcap(t, path);
        QVERIFY2(written.has_value(), written ? "" : written.error().c_str());

        auto reader = PcapReader::open(path);
        QVERIFY2(reader.has_value(), reader ? "" : reader.error().c_str());
        QCOMPARE(reader->linkType(), 1); // Ethernet
        PcapRecord record;
        std::size_t n = 0;
        while (reader->next(record)) {
            QVERIFY(n < frames.size());
            QCOMPARE(record.timestampNs, base + std::int64_t(n) * 1'000'001);
            TCPLAB_COMPARE_BYTES(ByteVector(record.data.begin(), record.data.end()), frames[n]);
            QCOMPARE(record.originalLength, std::uint32_t(frames[n].size()));
            ++n;
        }
        QCOMPARE(QString::fromStdString(reader->error()), QString());
        QCOMPARE(n, frames.size());
        QCOMPARE(entriesOf(dir.path()), QStringList{QStringLiteral("out.pcap")});
    }

    void exportPcap_emptyTimeline_writesAnEmptyCapture() {
        QTemporaryDir dir;
        Timeline t(4);
        const std::string path = dir.filePath(QStringLiteral("empty.pcap")).toStdString();
        QVERIFY(exportPcap(t, path).has_value());
        auto reader = PcapReader::open(path);
        QVERIFY(reader.has_value());
        PcapRecord record;
        QVERIFY(!reader->next(record));
        QCOMPARE(QString::fromStdString(reader->error()), QString());
    }

    // --- JSON -------------------------------------------------------------------------

    void timelineToJson_hasTheDocumentedShape() {
        const auto frames = captureFrames();
        QVERIFY(frames.size() >= 3);
        Timeline t(8);
        QVERIFY(t.append(1'000'000'007, Direction::Received, frames[0]));
        QVERIFY(t.append(1'000'000'009, Direction::Sent, frames[1]));
        QVERIFY(t.append(1'000'000'011, Direction::Received, frames[2]));
        const nlohmann::json j = timelineToJson(t);
        QCOMPARE(j.at("format").get<std::string>(), std::string("tcplab-timeline"));
        QCOMPARE(j.at("version").get<int>(), 2);
        const auto& list = j.at("frames");
        QCOMPARE(list.size(), std::size_t{3});
        for (std::size_t i = 0; i < 3; ++i) {
            const auto& f = list[i];
            QCOMPARE(f.at("index").get<std::size_t>(), i);
            QCOMPARE(f.at("time_ns").get<std::int64_t>(), t[i].timeNs);
            QCOMPARE(f.at("direction").get<std::string>(),
                     std::string(directionName(t[i].direction)));
            QCOMPARE(f.at("length").get<std::size_t>(), frames[i].size());
            QCOMPARE(f.at("hex").get<std::string>(), wire::toHex(frames[i]));
            QVERIFY(f.at("frame") == wire::frameToJson(wire::decodeFrame(frames[i])));
        }
        QCOMPARE(list[1].at("direction").get<std::string>(), std::string("sent"));
        QVERIFY(!list[2].at("frame").at("layers").empty());
    }

    void exportJson_writesWhatTimelineToJsonSays() {
        QTemporaryDir dir;
        const auto frames = captureFrames();
        Timeline t(64);
        for (std::size_t i = 0; i < frames.size(); ++i)
            QVERIFY(t.append(std::int64_t(i) * 3 + 5, i % 2 ? Direction::Sent : Direction::Received,
                             frames[i]));
        const QString path = dir.filePath(QStringLiteral("timeline.json"));
        const auto written = exportJson(t, path.toStdString());
        QVERIFY2(written.has_value(), written ? "" : written.error().c_str());
        const QByteArray text = readAll(path);
        const auto parsed = nlohmann::json::parse(text.toStdString(), nullptr, false);
        QVERIFY(!parsed.is_discarded());
        QVERIFY(parsed == timelineToJson(t));
        QCOMPARE(parsed.at("frames").size(), frames.size());
        QCOMPARE(entriesOf(dir.path()), QStringList{QStringLiteral("timeline.json")});
    }

    void exportJson_emptyTimeline_isAValidDocument() {
        QTemporaryDir dir;
        Timeline t(1);
        const QString path = dir.filePath(QStringLiteral("empty.json"));
        QVERIFY(exportJson(t, path.toStdString()).has_value());
        const auto parsed = nlohmann::json::parse(readAll(path).toStdString(), nullptr, false);
        QVERIFY(!parsed.is_discarded());
        QVERIFY(parsed.at("frames").is_array());
        QCOMPARE(parsed.at("frames").size(), std::size_t{0});
    }

    void writeFileAtomically_replacesTheFile_keepingItsMode() {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("notes.txt"));
        QVERIFY(writeText(path, "old"));
        QCOMPARE(::chmod(path.toLocal8Bit().constData(), 0640), 0);
        QVERIFY(writeFileAtomically(path.toStdString(), "new text\n").has_value());
        QCOMPARE(readAll(path), QByteArray("new text\n"));
        struct stat st {};
        QCOMPARE(::stat(path.toLocal8Bit().constData(), &st), 0);
        QCOMPARE(int(st.st_mode & 07777), 0640);
        QCOMPARE(entriesOf(dir.path()), QStringList{QStringLiteral("notes.txt")});
    }

    void writeFileAtomically_newFile_getsTheUmaskMode() {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("fresh.txt"));
        const mode_t mask = ::umask(027);
        const auto written = writeFileAtomically(path.toStdString(), "x");
        ::umask(mask);
        QVERIFY(written.has_value());
        struct stat st {};
        QCOMPARE(::stat(path.toLocal8Bit().constData(), &st), 0);
        QCOMPARE(int(st.st_mode & 07777), 0640); // 0666 & ~027, not mkstemp's 0600
    }

    // --- Failures leave nothing behind -------------------------------------------------

    void export_toAMissingDirectory_failsNamingThePathAndCause() {
        QTemporaryDir dir;
        Timeline t(4);
        QVERIFY(appendNumbered(t, 1));
        const QString missing = dir.filePath(QStringLiteral("no/such/dir"));
        const std::string pcapPath = (missing + QStringLiteral("/x.pcap")).toStdString();
        const std::string jsonPath = (missing + QStringLiteral("/x.json")).toStdString();

        const auto pcap = exportPcap(t, pcapPath);
        QVERIFY(!pcap.has_value());
        QVERIFY2(pcap.error().find(pcapPath) != std::string::npos, pcap.error().c_str());
        QVERIFY2(pcap.error().find(std::strerror(ENOENT)) != std::string::npos,
                 pcap.error().c_str());

        const auto json = exportJson(t, jsonPath);
        QVERIFY(!json.has_value());
        QCOMPARE(QString::fromStdString(json.error()),
                 QStringLiteral("cannot write %1: %2")
                     .arg(QString::fromStdString(jsonPath), QString(std::strerror(ENOENT))));
        QCOMPARE(entriesOf(dir.path()), QStringList());
    }

    void export_ontoADirectory_failsAndLeavesNoTemporaryFile() {
        QTemporaryDir dir;
        QVERIFY(QDir(dir.path()).mkdir(QStringLiteral("target")));
        const QString target = dir.filePath(QStringLiteral("target"));
        Timeline t(4);
        QVERIFY(appendNumbered(t, 3));

        const auto pcap = exportPcap(t, target.toStdString());
        QVERIFY(!pcap.has_value());
        QVERIFY2(pcap.error().find(target.toStdString()) != std::string::npos,
                 pcap.error().c_str());
        const auto json = exportJson(t, target.toStdString());
        QVERIFY(!json.has_value());
        QVERIFY2(json.error().find(target.toStdString()) != std::string::npos,
                 json.error().c_str());
        QVERIFY2(json.error().find(std::strerror(EISDIR)) != std::string::npos,
                 json.error().c_str());
        const auto text = writeFileAtomically(target.toStdString(), "x");
        QVERIFY(!text.has_value());

        QVERIFY(QFileInfo(target).isDir());
        QCOMPARE(entriesOf(target), QStringList());
        QCOMPARE(entriesOf(dir.path()), QStringList{QStringLiteral("target")});
    }

    void export_intoAReadOnlyDirectory_fails() {
        if (::geteuid() == 0)
            QSKIP("root writes into read-only directories; covered by the size-limit test");
        QTemporaryDir dir;
        const QString ro = dir.filePath(QStringLiteral("ro"));
        QVERIFY(QDir(dir.path()).mkdir(QStringLiteral("ro")));
        QVERIFY(writeText(ro + QStringLiteral("/old.json"), "old"));
        QCOMPARE(::chmod(ro.toLocal8Bit().constData(), 0555), 0);
        Timeline t(4);
        QVERIFY(appendNumbered(t, 3));
        const std::string path = (ro + QStringLiteral("/old.json")).toStdString();
        const auto json = exportJson(t, path);
        const auto pcap = exportPcap(t, (ro + QStringLiteral("/new.pcap")).toStdString());
        ::chmod(ro.toLocal8Bit().constData(), 0755);
        QVERIFY(!json.has_value());
        QVERIFY2(json.error().find(std::strerror(EACCES)) != std::string::npos,
                 json.error().c_str());
        QVERIFY(!pcap.has_value());
        QCOMPARE(readAll(ro + QStringLiteral("/old.json")), QByteArray("old"));
        QCOMPARE(entriesOf(ro), QStringList{QStringLiteral("old.json")});
    }

    void export_failingMidWrite_keepsTheExistingFileIntact() {
        // A write that fails part-way (here EFBIG from RLIMIT_FSIZE, as a full disk
        // would) must leave the old file as it was and no temporary file.
        QTemporaryDir dir;
        const QString jsonPath = dir.filePath(QStringLiteral("timeline.json"));
        const QString pcapPath = dir.filePath(QStringLiteral("timeline.pcap"));
        const QString textPath = dir.filePath(QStringLiteral("notes.txt"));
        QVERIFY(writeText(jsonPath, "old json"));
        QVERIFY(writeText(pcapPath, "old pcap"));
        QVERIFY(writeText(textPath, "old text"));
        Timeline t(4096);
        for (std::size_t i = 0; i < 2000; ++i)
            QVERIFY(appendNumbered(t, i)); // well over the limit in either format
        const std::string big(64 * 1024, 'x');

        tl::expected<void, std::string> json, pcap, text;
        {
            FileSizeLimit limit(8192);
            QVERIFY(limit.ok());
            json = exportJson(t, jsonPath.toStdString());
            pcap = exportPcap(t, pcapPath.toStdString());
            text = writeFileAtomically(textPath.toStdString(), big);
        }
        QVERIFY(!json.has_value());
        QVERIFY2(json.error().find(jsonPath.toStdString()) != std::string::npos,
                 json.error().c_str());
        QVERIFY2(json.error().find(std::strerror(EFBIG)) != std::string::npos,
                 json.error().c_str());
        QVERIFY(!pcap.has_value());
        QVERIFY2(pcap.error().find(pcapPath.toStdString()) != std::string::npos,
                 pcap.error().c_str());
        QVERIFY(!text.has_value());
        QCOMPARE(readAll(jsonPath), QByteArray("old json"));
        QCOMPARE(readAll(pcapPath), QByteArray("old pcap"));
        QCOMPARE(readAll(textPath), QByteArray("old text"));
        QCOMPARE(entriesOf(dir.path()),
                 (QStringList{QStringLiteral("notes.txt"), QStringLiteral("timeline.json"),
                              QStringLiteral("timeline.pcap")}));

        // Without the limit the same exports succeed over the old files.
        QVERIFY(exportJson(t, jsonPath.toStdString()).has_value());
        QVERIFY(exportPcap(t, pcapPath.toStdString()).has_value());
        QVERIFY(readAll(jsonPath).startsWith("{\"format\":\"tcplab-timeline\""));
    }
};

QTEST_GUILESS_MAIN(TestTimeline)
#include "tst_timeline.moc"
