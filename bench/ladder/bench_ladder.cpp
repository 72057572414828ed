// The ladder and the time-sequence graph with 100,000 segments (issue 5, "Benchmark"):
// the time to hand them to each view, and the time of one redraw zoomed out (every row)
// and zoomed in (~40 rows), median of 20, on this machine's software rendering.
//
//   bench_ladder [--segments N] [--repeat N] [--width W] [--height H] [--save DIR]
//
// The segments are a synthetic bulk transfer 198.18.0.2:50000 -> 198.18.0.1:50001 built
// with SegmentSpec into a real Timeline and read through TimelineModel (so every row has
// the tracker's relative numbers and classes): handshake, 1448-byte segments, an ACK
// every second segment, one segment in 100 retransmitted after three duplicate ACKs.
#include "tests_support/lab_segment.h"
#include "timeline/timeline.h"
#include "ui/ladder_view.h"
#include "ui/plot_export.h"
#include "ui/time_sequence_view.h"
#include "ui/timeline_model.h"
#include "wire/segment_spec.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QTest>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

using namespace tcplab;

namespace {

constexpr std::uint32_t kIss = 100;
constexpr std::uint32_t kIrs = 3'000'000'000u;
constexpr std::uint32_t kMss = 1448;

using test::kPeer;
using test::kPeerMac;
using test::kPhantom;
using test::kPhantomMac;
using test::labSegment;

std::shared_ptr<timeline::Timeline> bulkTransfer(std::size_t count) {
    using namespace wire::tcp_flags;
    auto tl = std::make_shared<timeline::Timeline>();
    std::int64_t t = 1'700'000'000'000'000'000;
    const auto add = [&](bool fromPhantom, std::uint8_t flags, std::uint32_t seq, std::uint32_t ack,
                         std::size_t payload) {
        t += 20'000; // 20 us apart: 100,000 segments in 2 s
        tl->append(t, fromPhantom ? timeline::Direction::Sent : timeline::Direction::Received,
                   labSegment(fromPhantom, flags, seq, ack, 65535, payload));
    };
    add(true, kSyn, kIss, 0, 0);
    add(false, kSyn | kAck, kIrs, kIss + 1, 0);
    add(true, kAck, kIss + 1, kIrs + 1, 0);
    std::uint32_t next = kIss + 1;  // phantom's SND.NXT
    std::uint32_t acked = kIss + 1; // what the peer acknowledged
    std::size_t segments = 0;
    while (tl->size() < count) {
        ++segments;
        if (segments % 100 == 0) {
            // A loss after the capture point: three duplicate ACKs, the retransmission.
            for (int d = 0; d < 3 && tl->size() < count; ++d)
                add(false, kAck, kIrs + 1, acked, 0);
            if (tl->size() < count)
                add(true, kPsh | kAck, acked, kIrs + 1, kMss);
            continue;
        }
        add(true, kPsh | kAck, next, kIrs + 1, kMss);
        next += kMss;
        if (segments % 2 == 0 && tl->size() < count) {
            acked = next;
            add(false, kAck, kIrs + 1, acked, 0);
        }
    }
    return tl;
}

std::vector<ui::LadderRow> ladderRows(const ui::TimelineModel& model) {
    std::vector<ui::LadderRow> rows;
    rows.reserve(std::size_t(model.rowCount()));
    for (int i = 0; i < model.rowCount(); ++i) {
        const ui::TimelineRow& r = model.row(i);
        ui::LadderRow l;
        l.timeMs = model.timeMs(i);
        l.fromPhantom = r.direction == timeline::Direction::Sent;
        l.tcp = r.tcp;
        l.kind = r.kind;
        l.label = r.tcp ? ui::ladderLabel(r) : r.mark; // as the main window labels it
        rows.push_back(std::move(l));
    }
    return rows;
}

double ms(const QElapsedTimer& timer) {
    return double(timer.nsecsElapsed()) / 1e6;
}

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    const auto rank = std::size_t(std::max(1.0, std::ceil(p * double(v.size()))));
    return v[rank - 1];
}

struct Figures {
    std::vector<double> replotTime; ///< QCustomPlot's own measure of replot()
    std::vector<double> replotWall; ///< replot(rpImmediateRefresh): layers + widget repaint
    std::vector<double> pixmapWall; ///< toPixmap(): a full render into a fresh pixmap
};

Figures measure(QCustomPlot& plot, int repeat) {
    Figures f;
    for (int i = 0; i < repeat; ++i) {
        QElapsedTimer timer;
        timer.start();
        plot.replot(QCustomPlot::rpImmediateRefresh);
        f.replotWall.push_back(ms(timer));
        f.replotTime.push_back(plot.replotTime());
        timer.start();
        const QPixmap pixmap = plot.toPixmap();
        f.pixmapWall.push_back(ms(timer));
        if (pixmap.isNull())
            std::fprintf(stderr, "toPixmap failed\n");
    }
    return f;
}

void print(const char* view, const char* zoom, const Figures& f, double goalMs) {
    const double median = percentile(f.replotWall, 0.5);
    std::printf("%-14s %-22s replotTime %7.2f ms | replot+repaint median %7.2f p90 %7.2f ms | "
                "toPixmap median %7.2f ms | goal < %.0f ms: %s\n",
                view, zoom, percentile(f.replotTime, 0.5), median, percentile(f.replotWall, 0.9),
                percentile(f.pixmapWall, 0.5), goalMs, median < goalMs ? "MET" : "NOT MET");
    std::printf("RESULT name=%s_%s median_ms=%.3f p90_ms=%.3f replot_time_ms=%.3f "
                "pixmap_ms=%.3f\n",
                view, zoom, median, percentile(f.replotWall, 0.9), percentile(f.replotTime, 0.5),
                percentile(f.pixmapWall, 0.5));
}

} // namespace

int main(int argc, char** argv) {
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    std::size_t segments = 100'000;
    int repeat = 20;
    int width = 1000;
    int height = 700;
    QString save;
    for (int i = 1; i < argc; ++i) {
        const auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : "0"; };
        if (!std::strcmp(argv[i], "--segments"))
            segments = std::size_t(std::max(10L, std::atol(next())));
        else if (!std::strcmp(argv[i], "--repeat"))
            repeat = std::max(1, std::atoi(next()));
        else if (!std::strcmp(argv[i], "--width"))
            width = std::max(200, std::atoi(next()));
        else if (!std::strcmp(argv[i], "--height"))
            height = std::max(200, std::atoi(next()));
        else if (!std::strcmp(argv[i], "--save"))
            save = QString::fromLocal8Bit(next());
        else {
            std::fprintf(stderr, "usage: bench_ladder [--segments N] [--repeat N] [--width W] "
                                 "[--height H] [--save DIR]\n");
            return 2;
        }
    }
    QApplication app(argc, argv);
    constexpr double kGoalMs = 16.0;

    QElapsedTimer timer;
    timer.start();
    const auto tl = bulkTransfer(segments);
    std::printf("generated %zu frames in %.1f ms (platform %s, %dx%d)\n", tl->size(), ms(timer),
                qPrintable(QGuiApplication::platformName()), width, height);
    ui::TimelineModel model;
    timer.start();
    model.setTimeline(tl, {wire::IpAddress{kPhantom}});
    std::printf("TimelineModel: %d rows in %.1f ms (decode + tracking + summaries)\n",
                model.rowCount(), ms(timer));
    int retransmissions = 0;
    for (int i = 0; i < model.rowCount(); ++i)
        retransmissions += model.row(i).kind == ui::SegmentKind::Retransmission;
    std::printf("retransmissions classified: %d\n\n", retransmissions);

    // --- Ladder ---------------------------------------------------------------------
    {
        timer.start();
        const auto rows = ladderRows(model);
        const double labelMs = ms(timer);
        ui::LadderView ladder;
        ladder.resize(width, height);
        ladder.show();
        if (!QTest::qWaitForWindowExposed(&ladder, 5000))
            std::fprintf(stderr, "the ladder was not exposed\n");
        timer.start();
        ladder.addRows(rows);
        const double addMs = ms(timer);
        // Live: the same rows in batches of 1,000 (what the main window hands on).
        ui::LadderView live;
        live.resize(width, height);
        timer.start();
        for (std::size_t i = 0; i < rows.size(); i += 1000)
            live.addRows(std::vector<ui::LadderRow>(
                rows.begin() + long(i), rows.begin() + long(std::min(rows.size(), i + 1000))));
        const double liveMs = ms(timer);
        std::printf("LadderView: %zu rows; labels %.1f ms; addRows (one batch) %.1f ms; "
                    "in batches of 1000 %.1f ms (%.3f us/row)\n",
                    rows.size(), labelMs, addMs, liveMs, liveMs * 1000.0 / double(rows.size()));

        ladder.setFollowLatest(false);
        ladder.yAxis->setRange(-0.8, double(rows.size()) + 0.2);
        print("ladder", "zoomed_out_all", measure(ladder, repeat), kGoalMs);
        if (!save.isEmpty())
            ui::exportPlot(&ladder, save + QStringLiteral("/ladder_zoomed_out.png"));
        const double mid = double(rows.size()) / 2.0;
        ladder.yAxis->setRange(mid, mid + 2000.0);
        print("ladder", "zoomed_2000_rows", measure(ladder, repeat), kGoalMs);
        if (!save.isEmpty())
            ui::exportPlot(&ladder, save + QStringLiteral("/ladder_zoomed_2000.png"));
        // The most rows still drawn one arrow each (2 pixels a row).
        ladder.yAxis->setRange(mid, mid + double(ladder.axisRect()->height()) / 2.05);
        print("ladder", "zoomed_2px_per_row", measure(ladder, repeat), kGoalMs);
        ladder.yAxis->setRange(mid, mid + 40.0);
        print("ladder", "zoomed_in_40_rows", measure(ladder, repeat), kGoalMs);
        if (!save.isEmpty())
            ui::exportPlot(&ladder, save + QStringLiteral("/ladder_zoomed_in.png"));
        ladder.setFollowLatest(true);
        ladder.setVisibleRows(40);
        print("ladder", "follow_latest_40", measure(ladder, repeat), kGoalMs);
    }
    std::printf("\n");

    // --- Time-sequence graph ----------------------------------------------------------
    {
        ui::TimeSequenceView graph;
        graph.resize(width, height);
        graph.show();
        if (!QTest::qWaitForWindowExposed(&graph, 5000))
            std::fprintf(stderr, "the graph was not exposed\n");
        timer.start();
        graph.setModel(&model);
        const double addMs = ms(timer);
        ui::TimeSequenceView live;
        live.resize(width, height);
        live.setModel(nullptr);
        ui::TimelineModel liveModel;
        liveModel.setTimeline(tl, {wire::IpAddress{kPhantom}});
        live.setModel(&liveModel);
        live.clear();
        timer.start();
        for (int i = 0; i < liveModel.rowCount(); i += 1000)
            live.onRowsAdded(std::min(liveModel.rowCount(), i + 1000));
        const double liveMs = ms(timer);
        std::printf("TimeSequenceView: %zu bars, %d ACK points; setModel %.1f ms; in batches "
                    "of 1000 (following) %.1f ms\n",
                    graph.bars().size(), graph.ackGraph()->dataCount(), addMs, liveMs);
        print("timeseq", "zoomed_out_all", measure(graph, repeat), kGoalMs);
        if (!save.isEmpty())
            ui::exportPlot(&graph, save + QStringLiteral("/timeseq_zoomed_out.png"));
        // ~40 segments: the middle of the transfer, 40 x 20 us x 1.5 rows per segment.
        // Zoomed in on ~40 segments in the middle of the transfer.
        graph.setFollowLatest(false);
        const auto& bars = graph.segmentBars();
        const std::size_t m = bars.size() / 2;
        const std::size_t e = std::min(bars.size() - 1, m + 40);
        graph.xAxis->setRange(bars[m].timeMs, bars[e].timeMs);
        graph.yAxis->setRange(bars[m].low, bars[e].high);
        print("timeseq", "zoomed_in_40_segs", measure(graph, repeat), kGoalMs);
        if (!save.isEmpty())
            ui::exportPlot(&graph, save + QStringLiteral("/timeseq_zoomed_in.png"));
    }
    return 0;
}
