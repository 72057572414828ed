#include "ui/plot_export.h"

#include "ui/qcustomplot_include.h"

#include <QFileInfo>
#include <QPageLayout>
#include <QPageSize>
#include <QPdfWriter>
#include <QSaveFile>
#include <QSvgGenerator>

namespace tcplab::ui {

namespace {

/// Renders the plot into `painter`'s device as vectors (no cached pixmaps), `size` in
/// the device's logical units.
void renderVector(QCustomPlot* plot, QCPPainter& painter, QSize size) {
    painter.setMode(QCPPainter::pmVectorized);
    painter.setMode(QCPPainter::pmNoCaching);
    painter.setWindow(QRect(QPoint(0, 0), size));
    plot->toPainter(&painter, size.width(), size.height());
}

QString writeFailed(const QString& path, const QString& why) {
    return QStringLiteral("Could not write %1: %2.").arg(path, why);
}

} // namespace

QString exportPlot(QCustomPlot* plot, const QString& path, int width, int height) {
    if (!plot)
        return QStringLiteral("There is no plot to export.");
    const QFileInfo info(path);
    const QString suffix = info.suffix().toLower();
    if (suffix != QLatin1String("png") && suffix != QLatin1String("svg") &&
        suffix != QLatin1String("pdf"))
        return QStringLiteral("Cannot export to \"%1\": the name must end in .png, .svg or .pdf.")
            .arg(info.fileName());
    const QFileInfo folder(info.absolutePath());
    if (!folder.exists() || !folder.isDir())
        return QStringLiteral("The folder %1 does not exist.").arg(folder.absoluteFilePath());
    const QSize size(width > 0 ? width : plot->width(), height > 0 ? height : plot->height());
    if (size.width() < 1 || size.height() < 1)
        return QStringLiteral("The plot has no size to export (%1 x %2 pixels).")
            .arg(size.width())
            .arg(size.height());

    // QSaveFile writes "<path>.XXXXXX" beside the target and renames it on commit();
    // destroyed uncommitted, it removes it: no half file, no leftover.
    QSaveFile file(info.absoluteFilePath());
    if (!file.open(QIODevice::WriteOnly))
        return writeFailed(info.absoluteFilePath(), file.errorString());

    bool ok = false;
    if (suffix == QLatin1String("png")) {
        const QPixmap pixmap = plot->toPixmap(size.width(), size.height());
        ok = !pixmap.isNull() && pixmap.save(&file, "PNG");
    } else if (suffix == QLatin1String("svg")) {
        QSvgGenerator svg;
        svg.setOutputDevice(&file);
        svg.setSize(size);
        svg.setViewBox(QRect(QPoint(0, 0), size));
        svg.setTitle(plot->objectName());
        svg.setDescription(QStringLiteral("Exported by tcplab"));
        QCPPainter painter;
        ok = painter.begin(&svg);
        if (ok) {
            renderVector(plot, painter, size);
            ok = painter.end();
        }
    } else {
        QPdfWriter pdf(&file);
        pdf.setCreator(QStringLiteral("tcplab"));
        pdf.setTitle(plot->objectName());
        // One page the size of the plot, a pixel to a point, no margins.
        pdf.setPageLayout(
            QPageLayout(QPageSize(QSizeF(size), QPageSize::Point, QString(), QPageSize::ExactMatch),
                        QPageLayout::Portrait, QMarginsF(0, 0, 0, 0)));
        QCPPainter painter;
        ok = painter.begin(&pdf);
        if (ok) {
            renderVector(plot, painter, size);
            ok = painter.end();
        }
    }
    if (!ok || file.error() != QFileDevice::NoError) {
        const QString why = file.error() != QFileDevice::NoError
                                ? file.errorString()
                                : QStringLiteral("the %1 renderer failed").arg(suffix.toUpper());
        file.cancelWriting();
        return writeFailed(info.absoluteFilePath(), why);
    }
    if (!file.commit())
        return writeFailed(info.absoluteFilePath(), file.errorString());
    return {};
}

} // namespace tcplab::ui
