#pragma once

#include <QString>

class QCustomPlot;

namespace tcplab::ui {

/// Writes `plot` to `path` as PNG, SVG or PDF, chosen by the suffix (case-insensitive),
/// `width` x `height` pixels (0: the plot's own size; PDF and SVG use them as points).
/// The file is written under a temporary name in the same folder and renamed over `path`
/// only when complete, so a failure leaves neither a half file nor a temporary one.
/// Returns "" on success, else one sentence saying why (unknown suffix, missing folder,
/// not writable, nothing to draw).
QString exportPlot(QCustomPlot* plot, const QString& path, int width = 0, int height = 0);

} // namespace tcplab::ui
