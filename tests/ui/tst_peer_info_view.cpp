// PeerInfoView: the peer kernel's snd_cwnd, snd_ssthresh (once finite), segments in flight
// and rtt against the ladder's time, as step lines from hand-made samples; the socket shown
// (chosen, or the most recent active one); the time cursor and a click's time; an export.
#include <QDir>
#include <QSignalSpy>
#include <QTest>

#include "peer/tcp_info.h"
#include "ui/peer_feed.h"
#include "ui/peer_info_view.h"
#include "ui/plot_export.h"

#include <cmath>

using namespace tcplab;
using F = peer::TcpInfoField;

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000'000'000;
constexpr std::int64_t kMs = 1'000'000;

peer::Sample sampleOf(std::int64_t t, std::uint64_t inode, std::uint64_t state, std::uint64_t cwnd,
                      std::uint64_t ssthresh, std::uint64_t unacked, std::uint64_t rttUs,
                      std::uint16_t remotePort = 50000) {
    peer::TcpInfo info;
    info.set(F::State, state);
    info.set(F::SndCwnd, cwnd);
    info.set(F::SndSsthresh, ssthresh);
    info.set(F::Unacked, unacked);
    info.set(F::Rtt, rttUs);
    peer::SocketSample s;
    s.inode = inode;
    s.fd = 4;
    s.local = {198, 18, 0, 1};
    s.localPort = 5000;
    s.remote = {198, 18, 0, 2};
    s.remotePort = remotePort;
    s.fields = info.pairs();
    peer::Sample sample;
    sample.timeNs = t;
    sample.sockets.push_back(s);
    return sample;
}

/// The graph's (key, value) points.
std::vector<std::pair<double, double>> points(const QCPGraph* g) {
    std::vector<std::pair<double, double>> out;
    for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it)
        out.emplace_back(it->key, it->value);
    return out;
}

constexpr std::uint64_t kInfinite = 0x7fffffff;

} // namespace

class TestPeerInfoView : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void samples_becomeStepLinesOnTheLaddersTime();
    void socket_chosenOrTheMostRecentActive();
    void cursor_andAClicksTime();
    void acceptQueue_socketWithoutInode_oneSeries();
    void incremental_equalsAllAtOnce();
};

void TestPeerInfoView::samples_becomeStepLinesOnTheLaddersTime() {
    ui::PeerInfoView view;
    view.resize(800, 400);
    // The ladder's origin: its first frame, 10 ms before the first sample.
    view.setOriginNs(kT0);
    view.addSamples({sampleOf(kT0 + 10 * kMs, 7, 1, 10, kInfinite, 0, 400)});
    view.addSamples({sampleOf(kT0 + 20 * kMs, 7, 1, 20, kInfinite, 10, 600),
                     sampleOf(kT0 + 35 * kMs, 7, 1, 14, 14, 12, 1500)});
    QCOMPARE(view.shownSocket(), std::optional<std::uint64_t>(7));
    using P = std::vector<std::pair<double, double>>;
    QCOMPARE(points(view.cwndGraph()), (P{{10.0, 10.0}, {20.0, 20.0}, {35.0, 14.0}}));
    QCOMPARE(points(view.inFlightGraph()), (P{{10.0, 0.0}, {20.0, 10.0}, {35.0, 12.0}}));
    QCOMPARE(points(view.rttGraph()), (P{{10.0, 0.4}, {20.0, 0.6}, {35.0, 1.5}}));
    // ssthresh is drawn only once finite: "infinite" is a gap.
    const P ssthresh = points(view.ssthreshGraph());
    QCOMPARE(ssthresh.size(), std::size_t(3));
    QVERIFY(std::isnan(ssthresh[0].second) && std::isnan(ssthresh[1].second));
    QCOMPARE(ssthresh[2].second, 14.0);
    QCOMPARE(view.cwndGraph()->lineStyle(), QCPGraph::lsStepLeft);
    QCOMPARE(view.rttGraph()->valueAxis(), view.yAxis2);

    // A sample holds until the newest sample of any socket: another socket's at 50 ms.
    view.addSamples({sampleOf(kT0 + 50 * kMs, 8, 10, 10, kInfinite, 0, 0, 0)}); // LISTEN
    QCOMPARE(view.shownSocket(), std::optional<std::uint64_t>(7));
    QCOMPARE(points(view.cwndGraph()).back(), (std::pair<double, double>{50.0, 14.0}));

    // Another origin moves every key.
    view.setOriginNs(kT0 + 10 * kMs);
    QCOMPARE(points(view.cwndGraph()).front(), (std::pair<double, double>{0.0, 10.0}));

    const QString dir = QStringLiteral(TCPLAB_BINARY_DIR "/tests/ui-output");
    QDir().mkpath(dir);
    QCOMPARE(ui::exportPlot(&view, dir + QStringLiteral("/peer_info.png")), QString());
    QCOMPARE(ui::exportPlot(&view, dir + QStringLiteral("/peer_info.svg")), QString());
    QVERIFY(view.title().contains(QStringLiteral("198.18.0.1:5000 → 198.18.0.2:50000")));
}

void TestPeerInfoView::socket_chosenOrTheMostRecentActive() {
    ui::PeerInfoView view;
    view.setOriginNs(kT0);
    view.addSamples({sampleOf(kT0 + 1 * kMs, 1, 1, 10, kInfinite, 0, 100, 50001),
                     sampleOf(kT0 + 2 * kMs, 2, 1, 30, kInfinite, 0, 100, 50002)});
    QCOMPARE(view.shownSocket(), std::optional<std::uint64_t>(2));
    view.addSamples({sampleOf(kT0 + 3 * kMs, 1, 1, 11, kInfinite, 0, 100, 50001)});
    QCOMPARE(view.shownSocket(), std::optional<std::uint64_t>(1));
    view.setSocket(2);
    QCOMPARE(view.shownSocket(), std::optional<std::uint64_t>(2));
    QCOMPARE(points(view.cwndGraph()).front().second, 30.0);
    // By its 4-tuple, as the ladder's selected connection names it.
    const auto local = ui::sampleEndpoint(std::vector<std::uint8_t>{198, 18, 0, 1}, 5000);
    const auto remote = ui::sampleEndpoint(std::vector<std::uint8_t>{198, 18, 0, 2}, 50001);
    QCOMPARE(view.socketOf(*local, *remote), std::optional<std::uint64_t>(1));
    // A gone socket is no longer the most recent active one.
    view.setSocket(std::nullopt);
    peer::Sample gone = sampleOf(kT0 + 4 * kMs, 1, 1, 11, kInfinite, 0, 100, 50001);
    gone.sockets.front().gone = true;
    gone.sockets.front().fields.clear();
    view.addSamples({gone});
    QCOMPARE(view.shownSocket(), std::optional<std::uint64_t>(2));
    view.clear();
    QCOMPARE(view.shownSocket(), std::nullopt);
    QCOMPARE(view.cwndGraph()->dataCount(), 0);
}

void TestPeerInfoView::cursor_andAClicksTime() {
    ui::PeerInfoView view;
    view.resize(800, 400);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    view.setOriginNs(kT0);
    view.addSamples({sampleOf(kT0, 7, 1, 10, kInfinite, 0, 400),
                     sampleOf(kT0 + 100 * kMs, 7, 1, 20, kInfinite, 0, 400)});
    view.replot();
    view.setCursorTime(42.0);
    QCOMPARE(view.cursorTime(), std::optional<double>(42.0));
    view.setCursorTime(std::nullopt);
    QCOMPARE(view.cursorTime(), std::nullopt);

    QSignalSpy clicked(&view, &ui::PeerInfoView::timeClicked);
    const QPoint at(int(view.xAxis->coordToPixel(60.0)), int(view.yAxis->coordToPixel(5.0)));
    QTest::mouseClick(&view, Qt::LeftButton, {}, at);
    QCOMPARE(clicked.count(), 1);
    QVERIFY(std::abs(clicked.first().first().toDouble() - 60.0) < 1.0);
}

void TestPeerInfoView::acceptQueue_socketWithoutInode_oneSeries() {
    ui::PeerInfoView view;
    view.setOriginNs(kT0);
    // Sampled in the accept queue (no inode), then accepted (an inode): one socket.
    view.addSamples({sampleOf(kT0 + 1 * kMs, 0, 1, 10, kInfinite, 0, 100)});
    view.addSamples({sampleOf(kT0 + 2 * kMs, 55, 1, 20, kInfinite, 0, 100)});
    QCOMPARE(view.socketCount(), std::size_t(1));
    QCOMPARE(view.shownSocket(), std::optional<std::uint64_t>(55));
    using P = std::vector<std::pair<double, double>>;
    QCOMPARE(points(view.cwndGraph()), (P{{1.0, 10.0}, {2.0, 20.0}}));
}

void TestPeerInfoView::incremental_equalsAllAtOnce() {
    // A long transfer's samples one batch at a time plot what they plot all at once, the
    // last one held until the newest sample of another socket; a late sample (out of order)
    // finds its place.
    std::vector<peer::Sample> all;
    for (int i = 0; i < 2000; ++i)
        all.push_back(sampleOf(kT0 + i * kMs, 7, 1, 10 + std::uint64_t(i), kInfinite,
                               std::uint64_t(i % 40), 100 + std::uint64_t(i)));
    all.push_back(sampleOf(kT0 + 2500 * kMs, 9, 10, 10, kInfinite, 0, 0, 0)); // LISTEN
    ui::PeerInfoView once;
    ui::PeerInfoView batches;
    once.setOriginNs(kT0);
    batches.setOriginNs(kT0);
    once.addSamples(all);
    for (std::size_t i = 0; i < all.size(); i += 7)
        batches.addSamples(std::vector<peer::Sample>(
            all.begin() + qsizetype(i), all.begin() + qsizetype(std::min(i + 7, all.size()))));
    QCOMPARE(points(batches.cwndGraph()), points(once.cwndGraph()));
    QCOMPARE(points(batches.rttGraph()), points(once.rttGraph()));
    QCOMPARE(points(once.cwndGraph()).size(), std::size_t(2001));
    QCOMPARE(points(once.cwndGraph()).back(), (std::pair<double, double>{2500.0, 2009.0}));
    const auto late = sampleOf(kT0 + 500 * kMs + 1, 7, 1, 1, kInfinite, 0, 100);
    once.addSamples({late});
    batches.addSamples({late});
    QCOMPARE(points(batches.cwndGraph()), points(once.cwndGraph()));
    QCOMPARE(points(once.cwndGraph()).size(), std::size_t(2002));
}

QTEST_MAIN(TestPeerInfoView)
#include "tst_peer_info_view.moc"
