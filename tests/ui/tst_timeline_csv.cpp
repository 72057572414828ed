// The GUI's CSV export: the segment rows exactly as analysisToCsv writes them, then an
// empty line and the peer's records (calls, samples, the agent's hello), one row each.
#include <QTest>

#include "peer/call_text.h"
#include "peer/tcp_info.h"
#include "tests_support/lab_segment.h"
#include "timeline/analysis.h"
#include "timeline/peer_records.h"
#include "ui/timeline_csv.h"

using namespace tcplab;

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000'000'000;

QStringList lines(const std::string& csv) {
    return QString::fromStdString(csv).split(QStringLiteral("\r\n"));
}

/// RFC 4180 fields of one line (quotes honoured).
QStringList fields(const QString& line) {
    QStringList out;
    QString field;
    bool quoted = false;
    for (qsizetype i = 0; i < line.size(); ++i) {
        const QChar c = line[i];
        if (quoted) {
            if (c == QLatin1Char('"') && i + 1 < line.size() && line[i + 1] == QLatin1Char('"')) {
                field += c;
                ++i;
            } else if (c == QLatin1Char('"')) {
                quoted = false;
            } else {
                field += c;
            }
        } else if (c == QLatin1Char('"')) {
            quoted = true;
        } else if (c == QLatin1Char(',')) {
            out << field;
            field.clear();
        } else {
            field += c;
        }
    }
    out << field;
    return out;
}

} // namespace

class TestTimelineCsv : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void segmentsUnchanged_thenThePeersSection();
    void noPeerRecords_noSecondSection();
};

void TestTimelineCsv::segmentsUnchanged_thenThePeersSection() {
    timeline::Timeline tl;
    tl.append(kT0, timeline::Direction::Sent,
              test::labSegment(true, wire::tcp_flags::kSyn, 100, 0, 65535));
    tl.append(
        kT0 + 1000, timeline::Direction::Received,
        test::labSegment(false, wire::tcp_flags::kSyn | wire::tcp_flags::kAck, 7, 101, 64240));
    peer::Hello hello;
    hello.stack = "linux";
    hello.release = "6.1.0";
    hello.pid = 42;
    QVERIFY(timeline::appendHello(tl, kT0 - 5, hello));
    peer::CallRecord call;
    call.request = *peer::parseCall("connect 3 198.18.0.2 40000");
    call.answer.call = peer::Call::Connect;
    call.answer.result = -1;
    call.answer.error = 111;
    call.answer.startNs = kT0 + 10;
    call.answer.durationNs = 82'000;
    QVERIFY(timeline::appendCall(tl, call));
    peer::TcpInfo info;
    info.set(peer::TcpInfoField::State, 1);
    info.set(peer::TcpInfoField::Rto, 204000);
    info.set(peer::TcpInfoField::Rtt, 250);
    info.set(peer::TcpInfoField::SndSsthresh, 0x7fffffff);
    info.set(peer::TcpInfoField::SndCwnd, 10);
    peer::SocketSample s;
    s.inode = 4711;
    s.fd = 3;
    s.local = {198, 18, 0, 1};
    s.localPort = 5000;
    s.remote = {198, 18, 0, 2};
    s.remotePort = 40000;
    s.sendQueue = 100;
    s.congestion = "cubic";
    s.fields = info.pairs();
    peer::Sample sample;
    sample.timeNs = kT0 + 2'000'000'123;
    sample.sockets = {s};
    QVERIFY(timeline::appendSample(tl, sample));

    const auto rows = timeline::analyze(tl);
    const std::string segments = timeline::analysisToCsv(rows);
    const std::string csv = ui::timelineCsv(rows, tl);
    // The segment rows first, byte for byte.
    QVERIFY(csv.starts_with(segments));
    const QStringList peerLines = lines(csv.substr(segments.size()));
    // An empty line, the header, three records, the final line end.
    QCOMPARE(peerLines.size(), 6);
    QCOMPARE(peerLines[0], QString());
    QCOMPARE(peerLines[1], QString::fromLatin1(ui::kPeerCsvHeader));
    QCOMPARE(peerLines[5], QString());
    const QStringList header = fields(peerLines[1]);
    const auto column = [&header](const char* name) {
        return int(header.indexOf(QString::fromLatin1(name)));
    };
    for (int i = 2; i < 5; ++i)
        QCOMPARE(fields(peerLines[i]).size(), header.size());

    const QStringList agent = fields(peerLines[2]);
    QCOMPARE(agent[column("kind")], QStringLiteral("agent"));
    QCOMPARE(agent[column("detail")], QStringLiteral("linux 6.1.0 (pid 42)"));
    QCOMPARE(agent[column("time")], QStringLiteral("1699999999.999999995"));

    const QStringList syscall = fields(peerLines[3]);
    QCOMPARE(syscall[column("record")], QStringLiteral("1"));
    QCOMPARE(syscall[column("kind")], QStringLiteral("syscall"));
    QCOMPARE(syscall[column("fd")], QStringLiteral("3"));
    QCOMPARE(syscall[column("call")], QStringLiteral("connect 3 198.18.0.2 40000"));
    QCOMPARE(syscall[column("result")], QStringLiteral("-1"));
    QCOMPARE(syscall[column("errno")], QStringLiteral("ECONNREFUSED"));
    QCOMPARE(syscall[column("duration_ns")], QStringLiteral("82000"));
    QCOMPARE(syscall[column("detail")],
             QString::fromStdString(peer::describeCallLine(call.request, call.answer)));
    QCOMPARE(syscall[column("state")], QString());

    const QStringList tcpInfo = fields(peerLines[4]);
    QCOMPARE(tcpInfo[column("kind")], QStringLiteral("tcp_info"));
    QCOMPARE(tcpInfo[column("time")], QStringLiteral("1700000002.000000123"));
    QCOMPARE(tcpInfo[column("inode")], QStringLiteral("4711"));
    QCOMPARE(tcpInfo[column("local")], QStringLiteral("198.18.0.1:5000"));
    QCOMPARE(tcpInfo[column("remote")], QStringLiteral("198.18.0.2:40000"));
    QCOMPARE(tcpInfo[column("state")], QStringLiteral("ESTABLISHED"));
    QCOMPARE(tcpInfo[column("snd_cwnd")], QStringLiteral("10"));
    QCOMPARE(tcpInfo[column("snd_ssthresh")], QString()); // infinite
    QCOMPARE(tcpInfo[column("rtt_us")], QStringLiteral("250"));
    QCOMPARE(tcpInfo[column("rto_us")], QStringLiteral("204000"));
    QCOMPARE(tcpInfo[column("send_queue")], QStringLiteral("100"));
    QCOMPARE(tcpInfo[column("detail")], QStringLiteral("cubic"));
}

void TestTimelineCsv::noPeerRecords_noSecondSection() {
    timeline::Timeline tl;
    tl.append(kT0, timeline::Direction::Sent,
              test::labSegment(true, wire::tcp_flags::kSyn, 100, 0, 65535));
    const auto rows = timeline::analyze(tl);
    QCOMPARE(ui::timelineCsv(rows, tl), timeline::analysisToCsv(rows));
}

QTEST_MAIN(TestTimelineCsv)
#include "tst_timeline_csv.moc"
