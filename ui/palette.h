#pragma once

#include <QColor>

class QCustomPlot;
class QPalette;

namespace tcplab::ui {

/// The light or the dark palette for the whole application (Fusion style, so the two
/// look alike on every desktop). Widgets that paint with palette roles follow at once.
void applyPalette(bool dark);

/// Gives a plot the application palette's colours: background, axes, grid, legend and
/// text (QCustomPlot paints with its own colours otherwise). Plots call it on
/// QEvent::PaletteChange.
void applyPaletteToPlot(QCustomPlot& plot);

/// The colour of an error's words (a failed call, a refused write) on `palette`'s base: a
/// red that keeps 4.5:1 contrast on the light and on the dark palette.
QColor errorColor(const QPalette& palette);
/// The colour of something that is no longer there (a socket gone): the placeholder text.
QColor goneColor(const QPalette& palette);

} // namespace tcplab::ui
