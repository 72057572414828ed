#include "ui/palette.h"

#include "ui/qcustomplot_include.h"

#include <QApplication>
#include <QPalette>
#include <QStyle>
#include <QStyleFactory>

namespace tcplab::ui {

namespace {

QPalette darkPalette() {
    // Contrast ratios of text on base/window are above 10:1; highlight text above 4.5:1.
    QPalette p;
    const QColor window(0x2b, 0x2d, 0x31);
    const QColor base(0x1e, 0x1f, 0x22);
    const QColor text(0xe6, 0xe6, 0xe6);
    const QColor disabled(0x80, 0x80, 0x80);
    p.setColor(QPalette::Window, window);
    p.setColor(QPalette::WindowText, text);
    p.setColor(QPalette::Base, base);
    p.setColor(QPalette::AlternateBase, QColor(0x26, 0x28, 0x2c));
    p.setColor(QPalette::ToolTipBase, QColor(0x3c, 0x3f, 0x44));
    p.setColor(QPalette::ToolTipText, text);
    p.setColor(QPalette::PlaceholderText, disabled);
    p.setColor(QPalette::Text, text);
    p.setColor(QPalette::Button, QColor(0x35, 0x38, 0x3d));
    p.setColor(QPalette::ButtonText, text);
    p.setColor(QPalette::BrightText, QColor(0xff, 0x6b, 0x6b));
    p.setColor(QPalette::Link, QColor(0x6c, 0xb6, 0xff));
    p.setColor(QPalette::Highlight, QColor(0x2f, 0x65, 0xca));
    p.setColor(QPalette::HighlightedText, Qt::white);
    p.setColor(QPalette::Light, QColor(0x45, 0x48, 0x4e));
    p.setColor(QPalette::Midlight, QColor(0x3a, 0x3d, 0x42));
    p.setColor(QPalette::Mid, QColor(0x30, 0x32, 0x36));
    p.setColor(QPalette::Dark, QColor(0x18, 0x19, 0x1b));
    p.setColor(QPalette::Shadow, Qt::black);
    for (const auto role : {QPalette::WindowText, QPalette::Text, QPalette::ButtonText})
        p.setColor(QPalette::Disabled, role, disabled);
    return p;
}

} // namespace

void applyPalette(bool dark) {
    if (auto* fusion = QStyleFactory::create(QStringLiteral("Fusion")))
        QApplication::setStyle(fusion);
    QApplication::setPalette(dark ? darkPalette() : QApplication::style()->standardPalette());
}

void applyPaletteToPlot(QCustomPlot& plot) {
    const QPalette p = plot.palette();
    const QColor text = p.color(QPalette::WindowText);
    const QColor grid = p.color(QPalette::Mid);
    plot.setBackground(p.brush(QPalette::Base));
    for (QCPAxis* axis : plot.axisRect() ? plot.axisRect()->axes() : QList<QCPAxis*>{}) {
        axis->setBasePen(QPen(text));
        axis->setTickPen(QPen(text));
        axis->setSubTickPen(QPen(text));
        axis->setTickLabelColor(text);
        axis->setLabelColor(text);
        axis->grid()->setPen(QPen(grid, 1, Qt::DotLine));
        axis->grid()->setSubGridPen(Qt::NoPen);
    }
    if (plot.legend) {
        plot.legend->setBrush(p.brush(QPalette::Window));
        plot.legend->setTextColor(text);
        plot.legend->setBorderPen(QPen(grid));
    }
    plot.replot(QCustomPlot::rpQueuedReplot);
}

QColor errorColor(const QPalette& palette) {
    // #c62828 on white is 5.6:1; #ff6b6b on the dark base (#1e1f22) is 6.1:1.
    return palette.color(QPalette::Base).lightness() < 128 ? QColor(0xff, 0x6b, 0x6b)
                                                           : QColor(0xc6, 0x28, 0x28);
}

QColor goneColor(const QPalette& palette) {
    return palette.color(QPalette::PlaceholderText);
}

} // namespace tcplab::ui
