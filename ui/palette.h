#pragma once

class QCustomPlot;

namespace tcplab::ui {

/// The light or the dark palette for the whole application (Fusion style, so the two
/// look alike on every desktop). Widgets that paint with palette roles follow at once.
void applyPalette(bool dark);

/// Gives a plot the application palette's colours: background, axes, grid, legend and
/// text (QCustomPlot paints with its own colours otherwise). Plots call it on
/// QEvent::PaletteChange.
void applyPaletteToPlot(QCustomPlot& plot);

} // namespace tcplab::ui
