// importPcap on files a user should not have opened: empty, not a capture, a
// directory, truncated; and an enormous one (200 MB, generated in a temporary
// directory), where progress must be reported, a cancel must stop the import at once,
// and a full timeline must refuse frames without growing.
#include "tests_support/test_support.h"

#include "timeline/analysis.h"
#include "timeline/timeline.h"

#include <QElapsedTimer>
#include <QFile>
#include <QTemporaryDir>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

using namespace tcplab;

namespace {

constexpr std::size_t kFrameBytes = 1514; // a full-sized Ethernet frame
constexpr std::uint64_t kEnormousBytes = 200ull << 20;

void put32(QByteArray& out, std::uint32_t v) {
    out.append(reinterpret_cast<const char*>(&v), 4); // host order: the magic says which
}

/// A pcap (nanosecond, host byte order) of copies of a real IPv4 TCP frame padded to
/// kFrameBytes, `bytes` long in all; returns the number of frames.
std::size_t writeEnormousPcap(const QString& path, std::uint64_t bytes) {
    const auto frames = test::readPcap("captures/linux_tcp_ipv4.pcap");
    auto frame = frames.at(2);
    frame.resize(kFrameBytes, 0);
    QByteArray header;
    put32(header, 0xa1b23c4du);
    header.append("\x02\x00\x04\x00", 4); // version 2.4 (host order on little endian)
    put32(header, 0);
    put32(header, 0);
    put32(header, 65535);
    put32(header, 1);
    if (QSysInfo::ByteOrder == QSysInfo::BigEndian)
        header.replace(4, 4, QByteArray("\x00\x02\x00\x04", 4));
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly))
        return 0;
    f.write(header);
    // Records in batches, so that 200 MB is written in well under a second.
    QByteArray batch;
    const std::size_t perBatch = 512;
    std::size_t count = 0;
    std::uint64_t written = std::uint64_t(header.size());
    while (written < bytes) {
        batch.clear();
        for (std::size_t i = 0; i < perBatch; ++i, ++count) {
            put32(batch, std::uint32_t(1700000000 + count / 1000));
            put32(batch, std::uint32_t(count % 1000 * 1000));
            put32(batch, kFrameBytes);
            put32(batch, kFrameBytes);
            batch.append(reinterpret_cast<const char*>(frame.data()), kFrameBytes);
        }
        f.write(batch);
        written += std::uint64_t(batch.size());
    }
    return count;
}

} // namespace

class TestBadPcap : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { QVERIFY(m_dir.isValid()); }

    void refused_data() {
        QTest::addColumn<QByteArray>("contents");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("empty") << QByteArray() << "";
        QTest::newRow("not a pcap") << QByteArray("this is not a capture file at all\n") << "";
        QTest::newRow("half a header") << QByteArray("\xd4\xc3\xb2\xa1\x02\x00", 6) << "";
        QTest::newRow("pcapng junk") << QByteArray("\x0a\x0d\x0d\x0a\xff\xff\xff\xff", 8) << "";
    }

    void refused() {
        QFETCH(QByteArray, contents);
        const QString path = m_dir.filePath(QString("bad-%1.pcap").arg(QTest::currentDataTag()));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(contents);
        f.close();
        timeline::Timeline timeline;
        const auto r = timeline::importPcap(path.toStdString(), timeline);
        QVERIFY(!r);
        QCOMPARE(timeline.size(), std::size_t{0});
        // The message names the file, so a user who opened several knows which.
        QVERIFY2(QString::fromStdString(r.error()).contains(path), r.error().c_str());
        QCOMPARE(QString::fromStdString(r.error()).count('\n'), 0);
    }

    void directory_isRefused() {
        timeline::Timeline timeline;
        const auto r = timeline::importPcap(m_dir.path().toStdString(), timeline);
        QVERIFY(!r);
        QVERIFY2(QString::fromStdString(r.error()).contains(m_dir.path()), r.error().c_str());
    }

    void truncated_keepsTheFramesBeforeTheBreak() {
        QFile in(QString::fromStdString(test::dataPath("captures/linux_tcp_ipv4.pcap")));
        QVERIFY(in.open(QIODevice::ReadOnly));
        const QByteArray whole = in.readAll();
        const QString path = m_dir.filePath("truncated.pcap");
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(whole.left(whole.size() - 30)); // the last record cut short
        f.close();
        timeline::Timeline timeline;
        const auto r = timeline::importPcap(path.toStdString(), timeline);
        QVERIFY2(r, r ? "" : r.error().c_str());
        QVERIFY(r->frames > 0);
        QCOMPARE(timeline.size(), r->frames);
        QVERIFY2(!r->error.empty(), "a truncated file says so");
    }

    void enormous_reportsProgressAndCancelsQuickly() {
        const QString path = m_dir.filePath("enormous.pcap");
        const std::size_t total = writeEnormousPcap(path, kEnormousBytes);
        QVERIFY(total > 100'000);

        // 1. Into a small timeline: everything is read (progress to the end), what does
        // not fit is counted as skipped, and memory stays that of the small timeline.
        {
            timeline::Timeline timeline(8 * timeline::Timeline::kChunkSize);
            std::vector<std::size_t> reports;
            QElapsedTimer clock;
            clock.start();
            const auto r = timeline::importPcap(path.toStdString(), timeline, {},
                                                [&](std::size_t n) { reports.push_back(n); });
            QVERIFY2(r, r ? "" : r.error().c_str());
            QVERIFY2(r->error.empty(), r->error.c_str());
            QVERIFY(!r->cancelled);
            QCOMPARE(r->frames, timeline.capacity());
            QCOMPARE(r->frames + r->skipped, total);
            QVERIFY2(reports.size() >= total / 8192, qPrintable(QString::number(reports.size())));
            QVERIFY(std::is_sorted(reports.begin(), reports.end()));
            QVERIFY(reports.back() <= total);
            QVERIFY(timeline.storedBytes() < 2 * timeline.capacity() * (kFrameBytes + 64));
            qInfo("200 MB, %zu frames: read in %lld ms, %zu progress reports", total,
                  static_cast<long long>(clock.elapsed()), reports.size());
        }

        // 2. Cancelled from the progress callback (as the GUI's dialog does): the import
        // stops at once and keeps what it read.
        {
            timeline::Timeline timeline;
            std::atomic<bool> cancel{false};
            std::size_t reports = 0;
            const auto r = timeline::importPcap(
                path.toStdString(), timeline, {},
                [&](std::size_t) {
                    if (++reports == 2)
                        cancel = true;
                },
                &cancel);
            QVERIFY(r);
            QVERIFY(r->cancelled);
            QVERIFY2(reports <= 3, qPrintable(QString::number(reports))); // + the final one
            QVERIFY(r->frames < total / 4);
            QCOMPARE(timeline.size(), r->frames);
        }

        // 3. Cancelled from another thread while it reads: it returns within a moment.
        {
            timeline::Timeline timeline;
            std::atomic<bool> cancel{false};
            std::atomic<bool> started{false};
            std::thread canceller([&] {
                for (int i = 0; i < 2000 && !started; ++i)
                    std::this_thread::sleep_for(std::chrono::milliseconds(1));
                cancel = true;
            });
            QElapsedTimer clock;
            std::int64_t sinceCancel = -1;
            clock.start();
            const auto r = timeline::importPcap(
                path.toStdString(), timeline, {}, [&](std::size_t) { started = true; }, &cancel);
            canceller.join();
            sinceCancel = clock.elapsed();
            QVERIFY(r);
            QVERIFY2(r->cancelled, "the import finished before the cancel: a faster machine than "
                                   "this test expects");
            QVERIFY2(sinceCancel < 5000, qPrintable(QString::number(sinceCancel)));
            QVERIFY(r->frames < total);
        }
        QVERIFY(QFile::remove(path));
    }

private:
    QTemporaryDir m_dir;
};

QTEST_GUILESS_MAIN(TestBadPcap)
#include "tst_bad_pcap.moc"
