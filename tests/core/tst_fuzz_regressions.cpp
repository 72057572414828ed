// Replays every input under tests/data/fuzz/regressions/<target>/ (what scripts/fuzz
// found) and the seed corpora tests/data/fuzz/<target>/ through the fuzz targets' own
// entry functions (fuzz/fuzz_entries.cpp), so a finding stays fixed in every build, the
// asan preset included. An entry returns what went wrong; a crash is the test crashing.
#include "fuzz/fuzz_entries.h"
#include "tests_support/test_support.h"

#include <QDir>
#include <QFile>
#include <QTest>

#include <cstring>

using namespace tcplab;

namespace {
const char* const kTargets[] = {"frame_decode",   "pcap_import",      "scenario",    "tracker",
                                "agent_protocol", "link_helper_args", "drill_script"};
}

class TestFuzzRegressions : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void everyTargetHasAnEntry() {
        for (const char* target : kTargets)
            QVERIFY2(fuzz::entryFor(target) != nullptr, target);
        QVERIFY(fuzz::entryFor("nonexistent") == nullptr);
    }

    void replay_data() {
        QTest::addColumn<QString>("target");
        QTest::addColumn<QString>("path");
        const QString root = QString::fromStdString(test::dataPath("fuzz"));
        int seeds = 0;
        for (const char* target : kTargets) {
            for (const QString& dir : {root + "/" + target, root + "/regressions/" + target}) {
                const QDir d(dir);
                for (const QString& name : d.entryList(QDir::Files, QDir::Name)) {
                    if (name == "README.md")
                        continue;
                    const bool regression = dir.contains("/regressions/");
                    const QString label =
                        QString("%1 %2/%3").arg(regression ? "regression" : "seed", target, name);
                    QTest::newRow(qPrintable(label)) << QString(target) << d.filePath(name);
                    seeds += regression ? 0 : 1;
                }
            }
        }
        // Without seeds the replay would pass on nothing at all.
        QVERIFY2(seeds >= 4, "no seed corpora under tests/data/fuzz");
    }

    void replay() {
        QFETCH(QString, target);
        QFETCH(QString, path);
        QFile f(path);
        QVERIFY2(f.open(QIODevice::ReadOnly), qPrintable(path));
        const QByteArray bytes = f.readAll();
        const auto entry = fuzz::entryFor(target.toStdString());
        QVERIFY(entry != nullptr);
        const std::string failure = entry(reinterpret_cast<const std::uint8_t*>(bytes.constData()),
                                          std::size_t(bytes.size()));
        QVERIFY2(failure.empty(), failure.c_str());
    }

    // The oracles must be able to fail: a frame whose round trip cannot hold would be
    // caught, and a scenario error carries its line.
    void frameDecode_acceptsEveryPrefixOfARealFrame() {
        const auto frames = test::readPcap("captures/linux_tcp_ipv4.pcap");
        QVERIFY(!frames.empty());
        for (const auto& frame : frames)
            for (std::size_t n = 0; n <= frame.size(); ++n) {
                const auto prefix = test::prefixOf(frame, n);
                const std::string failure = fuzz::frameDecode(prefix.data(), prefix.size());
                QVERIFY2(failure.empty(), failure.c_str());
            }
    }

    void scenario_errorsAreAnsweredNotCrashedOn() {
        for (const char* text : {"send SX\n", "\n\nexpect SA within=soon\n", "title\n",
                                 "send S data=\"unterminated\n", "wait\n"}) {
            const std::string failure =
                fuzz::scenario(reinterpret_cast<const std::uint8_t*>(text), std::strlen(text));
            QVERIFY2(failure.empty(), failure.c_str());
        }
    }

    void tracker_ignoresATrailingPartialRecord() {
        const std::uint8_t bytes[20] = {0x00, 0x02, 0, 0, 0, 100};
        QVERIFY(fuzz::tracker(bytes, sizeof bytes).empty());
        QVERIFY(fuzz::tracker(bytes, 0).empty());
    }
};

QTEST_GUILESS_MAIN(TestFuzzRegressions)
#include "tst_fuzz_regressions.moc"
