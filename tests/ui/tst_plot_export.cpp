// exportPlot: PNG, SVG and PDF that open; a refusal is one sentence and leaves no file.
#include <QDir>
#include <QFile>
#include <QImage>
#include <QTemporaryDir>
#include <QTest>

#include "ui/plot_export.h"
#include "ui/qcustomplot_include.h"

#include <unistd.h>

using namespace tcplab;

namespace {

void fill(QCustomPlot& plot) {
    plot.resize(500, 300);
    QCPGraph* g = plot.addGraph();
    for (int i = 0; i < 50; ++i)
        g->addData(i, i * i);
    plot.rescaleAxes();
    plot.replot();
}

QByteArray head(const QString& path, int n) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return f.read(n);
}

} // namespace

class TestPlotExport : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void png_loadsAtTheRequestedSize();
    void svg_and_pdf_areWhatTheySay();
    void unknownSuffix_isRefused();
    void missingFolder_isRefused();
    void unwritableFolder_isRefused();
};

void TestPlotExport::png_loadsAtTheRequestedSize() {
    QTemporaryDir dir;
    QCustomPlot plot;
    fill(plot);
    const QString path = dir.filePath(QStringLiteral("plot.PNG"));
    QCOMPARE(ui::exportPlot(&plot, path, 640, 480), QString());
    QImage image(path);
    QVERIFY(!image.isNull());
    QCOMPARE(image.size(), QSize(640, 480));
    // Default size: the plot's.
    const QString own = dir.filePath(QStringLiteral("own.png"));
    QCOMPARE(ui::exportPlot(&plot, own), QString());
    QCOMPARE(QImage(own).size(), QSize(500, 300));
    // Over an existing file, and nothing else left in the folder (no temporary file).
    QCOMPARE(ui::exportPlot(&plot, path, 320, 200), QString());
    QCOMPARE(QImage(path).size(), QSize(320, 200));
    QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden | QDir::System),
             (QStringList{QStringLiteral("own.png"), QStringLiteral("plot.PNG")}));
}

void TestPlotExport::svg_and_pdf_areWhatTheySay() {
    QTemporaryDir dir;
    QCustomPlot plot;
    fill(plot);
    const QString svg = dir.filePath(QStringLiteral("plot.svg"));
    const QString pdf = dir.filePath(QStringLiteral("plot.pdf"));
    QCOMPARE(ui::exportPlot(&plot, svg), QString());
    QCOMPARE(ui::exportPlot(&plot, pdf, 600, 400), QString());
    const QByteArray s = head(svg, 4096);
    QVERIFY2(s.startsWith("<?xml") || s.contains("<svg"), s.left(80).constData());
    QVERIFY(s.contains("<svg"));
    QVERIFY(QFileInfo(svg).size() > 1000); // axes, ticks and the graph, not an empty page
    QVERIFY(head(pdf, 5).startsWith("%PDF-"));
    QVERIFY(QFileInfo(pdf).size() > 1000);
    QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden | QDir::System).size(), 2);
}

void TestPlotExport::unknownSuffix_isRefused() {
    QTemporaryDir dir;
    QCustomPlot plot;
    fill(plot);
    for (const char* name : {"plot.bmp", "plot", "plot.png.txt"}) {
        const QString why = ui::exportPlot(&plot, dir.filePath(QLatin1String(name)));
        QVERIFY2(why.contains(QStringLiteral(".png, .svg or .pdf")), qPrintable(why));
        QVERIFY(why.endsWith(QLatin1Char('.')));
    }
    QVERIFY(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden | QDir::System).isEmpty());
}

void TestPlotExport::missingFolder_isRefused() {
    QTemporaryDir dir;
    QCustomPlot plot;
    fill(plot);
    const QString path = dir.filePath(QStringLiteral("no/such/folder/plot.png"));
    const QString why = ui::exportPlot(&plot, path);
    QVERIFY2(why.contains(QStringLiteral("does not exist")), qPrintable(why));
    QVERIFY(!QFileInfo::exists(path));
    QVERIFY(QDir(dir.path()).entryList(QDir::AllEntries | QDir::NoDotAndDotDot).isEmpty());
}

void TestPlotExport::unwritableFolder_isRefused() {
    QCustomPlot plot;
    fill(plot);
    QTemporaryDir dir;
    QString folder = dir.filePath(QStringLiteral("readonly"));
    QVERIFY(QDir().mkdir(folder));
    QVERIFY(QFile::setPermissions(folder, QFile::ReadOwner | QFile::ExeOwner));
    if (::geteuid() == 0) {
        // root writes through permissions: /proc takes no new files from anyone.
        folder = QStringLiteral("/proc");
    }
    for (const char* name : {"plot.png", "plot.svg", "plot.pdf"}) {
        const QString path = folder + QLatin1Char('/') + QLatin1String(name);
        const QString why = ui::exportPlot(&plot, path);
        QVERIFY2(why.startsWith(QStringLiteral("Could not write")), qPrintable(why));
        QVERIFY(!QFileInfo::exists(path));
    }
    QVERIFY(QDir(dir.filePath(QStringLiteral("readonly")))
                .entryList(QDir::AllEntries | QDir::NoDotAndDotDot | QDir::Hidden)
                .isEmpty());
    QFile::setPermissions(dir.filePath(QStringLiteral("readonly")),
                          QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
}

QTEST_MAIN(TestPlotExport)
#include "tst_plot_export.moc"
