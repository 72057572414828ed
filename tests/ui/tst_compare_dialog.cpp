// CompareDialog: the comparison against both built-in peers off the GUI thread, the
// two ladders, the difference table, a lab that fails, and deleting it mid-run.
#include <QSignalSpy>
#include <QTest>

#include "lab/compare.h"
#include "timeline/timeline.h"
#include "ui/compare_dialog.h"
#include "ui/ladder_view.h"

#include <QDir>
#include <QElapsedTimer>
#include <QImage>
#include <QLabel>
#include <QPointer>
#include <QPushButton>
#include <QTableWidget>

using namespace tcplab;

namespace {

int tcpFrames(const timeline::Timeline& t) {
    int n = 0;
    for (std::size_t i = 0; i < t.size(); ++i)
        n += t[i].decode().tcp() != nullptr ? 1 : 0;
    return n;
}

/// Skips when the Linux lab cannot start here (user namespaces refused).
#define SKIP_WITHOUT_NAMESPACES(dialog)                                                            \
    if (const auto c = (dialog)->comparison();                                                     \
        c && !c->runs[0].started && c->runs[0].failure.find("namespace") != std::string::npos)     \
        QSKIP(qPrintable("the Linux lab cannot start here: " +                                     \
                         QString::fromStdString(c->runs[0].failure)));

constexpr int kRunTimeoutMs = 60'000;

} // namespace

class TestCompareDialog : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() {
        qputenv("TCPLAB_LAB_HELPER", TCPLAB_LAB_HELPER_PATH);
#ifdef TCPLAB_LWIP_HELPER_PATH
        qputenv("TCPLAB_LWIP_HELPER", TCPLAB_LWIP_HELPER_PATH);
#else
        QSKIP("no tcplab-lwip-helper in this build (liblwip-dev missing)");
#endif
    }

    void run_showsBothLaddersAndTheDifferences() {
        QPointer<ui::CompareDialog> dialog = new ui::CompareDialog;
        dialog->setCloseMode(engine::CloseMode::Fin);
        dialog->setIpv6(false);
        QSignalSpy finished(dialog.data(), &ui::CompareDialog::comparisonFinished);
        dialog->show();
        QElapsedTimer timer;
        timer.start();
        dialog->start();
        // start() returns at once: the run is on another thread.
        QVERIFY2(timer.elapsed() < 500, qPrintable(QString::number(timer.elapsed())));
        QVERIFY(!dialog->finished());
        auto* runAgain = dialog->findChild<QPushButton*>(QStringLiteral("runAgain"));
        QVERIFY(runAgain && !runAgain->isEnabled());
        QVERIFY(finished.wait(kRunTimeoutMs));
        SKIP_WITHOUT_NAMESPACES(dialog)
        QVERIFY(dialog->finished());
        const auto c = dialog->comparison();
        QVERIFY(c);
        QVERIFY2(
            finished.first().first().toBool(),
            qPrintable(QString::fromStdString(c->runs[0].failure + " / " + c->runs[1].failure)));
        QVERIFY(runAgain->isEnabled());

        for (int side = 0; side < 2; ++side) {
            const auto& run = c->runs[std::size_t(side)];
            QVERIFY(run.timeline);
            const int frames = tcpFrames(*run.timeline);
            QVERIFY(frames >= 10); // the exercise and the probe
            QCOMPARE(dialog->ladder(side)->arrowCount(), frames);
            // Only TCP rows, and one mark where the probe's connection begins.
            QCOMPARE(dialog->ladder(side)->rowCount(), frames + 1);
            QVERIFY(
                !dialog->findChild<QLabel*>(QStringLiteral("failure%1").arg(side))->isVisible());
        }
        QVERIFY(dialog->ladder(2) == nullptr);

        // The differences: the ISN at least, highlighted; the columns named by stack.
        QVERIFY(dialog->differenceCount() > 0);
        QVERIFY(!c->topics[0].same());
        auto* table = dialog->findChild<QTableWidget*>(QStringLiteral("differences"));
        QVERIFY(table);
        QCOMPARE(table->rowCount(), int(c->topics.size()));
        QVERIFY(table->horizontalHeaderItem(1)->text().startsWith(QStringLiteral("Linux ")));
        QVERIFY(table->horizontalHeaderItem(2)->text().startsWith(QStringLiteral("lwIP 2.")));
        int highlighted = 0;
        for (int row = 0; row < table->rowCount(); ++row) {
            const bool differs = !c->topics[std::size_t(row)].sameApartFromTiming();
            QCOMPARE(table->item(row, 0)->background().style() != Qt::NoBrush, differs);
            highlighted += differs ? 1 : 0;
            QCOMPARE(table->item(row, 1)->text().toStdString(),
                     c->topics[std::size_t(row)].linuxText);
        }
        QCOMPARE(highlighted, dialog->differenceCount());

        // The picture, for a person to look at.
        const QString dir = QStringLiteral(TCPLAB_BINARY_DIR "/tests/ui-output");
        QDir().mkpath(dir);
        QTest::qWait(100);
        const QImage shot = dialog->grab().toImage();
        QVERIFY(!shot.isNull());
        QVERIFY(shot.save(dir + QStringLiteral("/compare-dialog.png")));

        // Close deletes it (WA_DeleteOnClose).
        dialog->close();
        QTRY_VERIFY_WITH_TIMEOUT(dialog.isNull(), 2000);
    }

    void deleteRightAfterStart_doesNotCrash() {
        auto* dialog = new ui::CompareDialog;
        dialog->show();
        dialog->start();
        QElapsedTimer timer;
        timer.start();
        delete dialog;
        // The run was asked to stop and joined: bounded by a lab's start.
        QVERIFY2(timer.elapsed() < 12'000, qPrintable(QString::number(timer.elapsed())));
        QTest::qWait(50); // anything it might have posted would be delivered now
    }

    void closeWhileRunning_doesNotCrash() {
        QPointer<ui::CompareDialog> dialog = new ui::CompareDialog;
        auto* status = dialog->findChild<QLabel*>(QStringLiteral("compareStatus"));
        QVERIFY(status);
        dialog->show();
        dialog->start();
        // Mid-run: once the progress says the exercise runs.
        QTRY_VERIFY_WITH_TIMEOUT(status->text().startsWith(QStringLiteral("Running")), 15'000);
        dialog->close();
        QTRY_VERIFY_WITH_TIMEOUT(dialog.isNull(), 12'000);
        QTest::qWait(50);
    }

    void oneLabFailing_isASentenceInItsColumn() {
        const QByteArray saved = qgetenv("TCPLAB_LWIP_HELPER");
        qputenv("TCPLAB_LWIP_HELPER", "/nonexistent/tcplab-lwip-helper");
        QPointer<ui::CompareDialog> dialog = new ui::CompareDialog;
        QSignalSpy finished(dialog.data(), &ui::CompareDialog::comparisonFinished);
        dialog->show();
        dialog->start();
        const bool done = finished.wait(kRunTimeoutMs);
        qputenv("TCPLAB_LWIP_HELPER", saved);
        QVERIFY(done);
        SKIP_WITHOUT_NAMESPACES(dialog)
        QCOMPARE(finished.first().first().toBool(), false);
        auto* lwipFailure = dialog->findChild<QLabel*>(QStringLiteral("failure1"));
        QVERIFY(lwipFailure->isVisible());
        QVERIFY2(lwipFailure->text().startsWith(QStringLiteral("The lwip lab could not start")),
                 qPrintable(lwipFailure->text()));
        // The other stack is still shown.
        QVERIFY(!dialog->findChild<QLabel*>(QStringLiteral("failure0"))->isVisible());
        QVERIFY(dialog->ladder(0)->arrowCount() > 0);
        QCOMPARE(dialog->ladder(1)->arrowCount(), 0);
        delete dialog;
    }
};

QTEST_MAIN(TestCompareDialog)
#include "tst_compare_dialog.moc"
