#include "ui/frame_summary.h"

#include "wire/frame_summary.h"

namespace tcplab::ui {

QString otherFrameSummary(const wire::Frame& frame) {
    return QString::fromStdString(wire::describeOtherFrame(frame));
}

QString otherFrameShort(const wire::Frame& frame) {
    return QString::fromStdString(wire::shortOtherFrame(frame));
}

} // namespace tcplab::ui
