// The peer agent's protocol (core/peer): every message kind round-trips byte for byte,
// every prefix and every trailing byte is refused with a reason, limits hold on both
// sides; the call grammar reads and writes back every call; struct tcp_info is decoded at
// the offsets this system's header has; peer records in the timeline and its JSON export.
#include <QObject>
#include <QTemporaryDir>
#include <QTest>

#include "peer/agent_protocol.h"
#include "peer/call_text.h"
#include "peer/tcp_info.h"
#include "timeline/peer_records.h"
#include "timeline/timeline.h"
#include "timeline/timeline_io.h"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <fstream>

using namespace tcplab;
using namespace tcplab::peer;

namespace {

Request sampleRequest() {
    Request r;
    r.id = 7;
    r.call = Call::Write;
    r.fd = 4;
    r.numbers = {5, 0x8000};
    r.data = {'h', 'e', 'l', 'l', 'o'};
    return r;
}

Answer sampleAnswer() {
    Answer a;
    a.id = 7;
    a.call = Call::Accept;
    a.result = -1;
    a.error = ECONNABORTED;
    a.startNs = 1'700'000'000'123'456'789;
    a.durationNs = 42'000;
    a.numbers = {1, -2, INT64_MIN, INT64_MAX};
    a.text = "198.18.0.2:50000";
    a.data = {0, 1, 2, 255};
    return a;
}

Sample sampleSample() {
    Sample s;
    s.timeNs = 1'700'000'000'000'000'001;
    s.after = 9;
    SocketSample v4;
    v4.inode = 123456;
    v4.fd = 3;
    v4.local = {198, 18, 0, 1};
    v4.localPort = 50001;
    v4.remote = {198, 18, 0, 2};
    v4.remotePort = 50000;
    v4.receiveQueue = 10;
    v4.sendQueue = 20;
    v4.congestion = "cubic";
    v4.fields = {{0, 1}, {28, 10}, {55, 65535}};
    SocketSample v6;
    v6.inode = 99;
    v6.ipv6 = true;
    v6.gone = true;
    v6.local = std::vector<std::uint8_t>(16, 0x20);
    v6.localPort = 80;
    s.sockets = {v4, v6};
    return s;
}

Hello sampleHello() {
    return Hello{kProtocolVersion, "linux", "6.18.44", 4242, ""};
}

} // namespace

class TestAgentProtocol : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void everyKind_roundTrips_data();
    void everyKind_roundTrips();
    void everyPrefix_isRefused();
    void trailingBytes_areRefused();
    void garbage_isRefusedWithAReason_data();
    void garbage_isRefusedWithAReason();
    void limits_holdWhenDecoding();
    void validate_refusesBrokenConventions_data();
    void validate_refusesBrokenConventions();
    void commands_stayInThePeersNamespace_data();
    void commands_stayInThePeersNamespace();
    void grammar_roundTrips_data();
    void grammar_roundTrips();
    void grammar_errorsNameTheWord_data();
    void grammar_errorsNameTheWord();
    void describe_readsLikeStrace();
    void errnoNames();
    void tcpInfo_offsetsMatchThisSystem();
    void tcpInfo_decodesARealSocket();
    void tcpInfo_shorterStructKeepsWhatItHas();
    void tcpInfo_sameStateIgnoresTheClock();
    void timeline_keepsPeerRecordsAndExportsThem();
    void timeline_snapLengthKeepsWireLength();
};

void TestAgentProtocol::everyKind_roundTrips_data() {
    QTest::addColumn<int>("kind");
    QTest::newRow("hello") << 0;
    QTest::newRow("request") << 1;
    QTest::newRow("answer") << 2;
    QTest::newRow("sample") << 3;
    QTest::newRow("empty request") << 4;
}

void TestAgentProtocol::everyKind_roundTrips() {
    QFETCH(int, kind);
    Message m;
    switch (kind) {
    case 0:
        m = sampleHello();
        break;
    case 1:
        m = sampleRequest();
        break;
    case 2:
        m = sampleAnswer();
        break;
    case 3:
        m = sampleSample();
        break;
    default:
        m = Request{};
        break;
    }
    const auto bytes = encode(m);
    QCOMPARE(messageSize(bytes).value_or(0), bytes.size());
    const auto back = decode(bytes);
    QVERIFY2(back.has_value(), back ? "" : back.error().message.c_str());
    QVERIFY(*back == m);
    QCOMPARE(encode(*back), bytes);
}

void TestAgentProtocol::everyPrefix_isRefused() {
    for (const Message& m : {Message(sampleHello()), Message(sampleRequest()),
                             Message(sampleAnswer()), Message(sampleSample())}) {
        const auto bytes = encode(m);
        for (std::size_t n = 0; n < bytes.size(); ++n) {
            const auto r = decode(std::span(bytes).first(n));
            QVERIFY2(!r.has_value(), qPrintable(QStringLiteral("prefix %1 decoded").arg(n)));
            QVERIFY(!r.error().message.empty());
        }
        // A length field that is right for a cut message is still caught inside the body.
        for (std::size_t n = 5; n < bytes.size(); ++n) {
            auto cut = std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + long(n));
            const auto length = static_cast<std::uint32_t>(n - 4);
            for (int i = 0; i < 4; ++i)
                cut[std::size_t(i)] = static_cast<std::uint8_t>(length >> (24 - 8 * i));
            const auto r = decode(cut);
            QVERIFY2(!r.has_value(), qPrintable(QStringLiteral("body cut at %1 decoded").arg(n)));
            QVERIFY2(r.error().message.find("truncated") != std::string::npos,
                     r.error().message.c_str());
        }
    }
}

void TestAgentProtocol::trailingBytes_areRefused() {
    auto bytes = encode(sampleRequest());
    bytes.push_back(0);
    auto r = decode(bytes);
    QVERIFY(!r);
    QVERIFY(r.error().message.find("after the end") != std::string::npos);
    // Trailing bytes inside the stated length, too.
    auto inside = encode(sampleRequest());
    inside.push_back(0);
    const auto length = static_cast<std::uint32_t>(inside.size() - 4);
    for (int i = 0; i < 4; ++i)
        inside[std::size_t(i)] = static_cast<std::uint8_t>(length >> (24 - 8 * i));
    r = decode(inside);
    QVERIFY(!r);
    QVERIFY2(r.error().message.find("1 bytes after the end") != std::string::npos,
             r.error().message.c_str());
}

void TestAgentProtocol::garbage_isRefusedWithAReason_data() {
    // The message's kind and body in hex; the test puts the length in front.
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QString>("reason");
    QTest::newRow("unknown kind") << QByteArray::fromHex("09") << "unknown message kind 9";
    QTest::newRow("unknown call") << QByteArray::fromHex("02"
                                                         "00000001"
                                                         "63"
                                                         "ffffffff"
                                                         "0000"
                                                         "00000000"
                                                         "00000000")
                                  << "unknown call 99";
    QTest::newRow("call zero") << QByteArray::fromHex("02"
                                                      "00000001"
                                                      "00"
                                                      "ffffffff"
                                                      "0000"
                                                      "00000000"
                                                      "00000000")
                               << "unknown call 0";
    QTest::newRow("bad outcome") << QByteArray::fromHex("03"
                                                        "00000001"
                                                        "01"
                                                        "07"
                                                        "0000000000000000"
                                                        "00000000"
                                                        "0000000000000000"
                                                        "0000000000000000"
                                                        "0000"
                                                        "00000000"
                                                        "00000000")
                                 << "unknown outcome 7";
    QTest::newRow("bad socket flags") << QByteArray::fromHex("04"
                                                             "0000000000000000"
                                                             "00000000"
                                                             "0001"
                                                             "0000000000000000"
                                                             "00000000"
                                                             "04")
                                      << "unknown socket flags";
    QTest::newRow("v4 address of 16 bytes")
        << QByteArray::fromHex("04"
                               "0000000000000000"
                               "00000000"
                               "0001"
                               "0000000000000000"
                               "00000000"
                               "00"
                               "00000010"
                               "00000000000000000000000000000000")
        << "IPv4 address has 4";
}

void TestAgentProtocol::garbage_isRefusedWithAReason() {
    QFETCH(QByteArray, body);
    QFETCH(QString, reason);
    QByteArray bytes(4, 0);
    for (int i = 0; i < 4; ++i)
        bytes[i] = char(std::uint32_t(body.size()) >> (24 - 8 * i));
    bytes += body;
    const auto r = decode({reinterpret_cast<const std::uint8_t*>(bytes.data()),
                           static_cast<std::size_t>(bytes.size())});
    QVERIFY(!r);
    QVERIFY2(QString::fromStdString(r.error().message).contains(reason), r.error().message.c_str());
}

void TestAgentProtocol::limits_holdWhenDecoding() {
    Request big = sampleRequest();
    big.data.assign(kMaxDataBytes + 1, 'x');
    auto r = decode(encode(big));
    QVERIFY(!r);
    QVERIFY(r.error().message.find("over its limit") != std::string::npos);

    Request manyNumbers = sampleRequest();
    manyNumbers.numbers.assign(kMaxNumbers + 1, 1);
    QVERIFY(!decode(encode(manyNumbers)));

    Sample many;
    many.sockets.assign(kMaxSampleSockets + 1, SocketSample{});
    r = decode(encode(many));
    QVERIFY(!r);
    QVERIFY(r.error().message.find("over the limit") != std::string::npos);

    Sample full;
    SocketSample s;
    for (std::uint8_t f = 0; f < kTcpInfoFieldCount; ++f)
        s.fields.emplace_back(f, ~std::uint64_t{0});
    s.local = std::vector<std::uint8_t>(16, 1);
    s.remote = s.local;
    s.ipv6 = true;
    full.sockets.assign(kMaxSampleSockets, s);
    const auto bytes = encode(full);
    QVERIFY2(bytes.size() <= kMaxMessageBytes,
             qPrintable(QStringLiteral("a full sample takes %1 bytes").arg(bytes.size())));
    QVERIFY(decode(bytes).has_value());

    Sample outOfOrder;
    SocketSample o;
    o.fields = {{5, 1}, {5, 2}};
    outOfOrder.sockets = {o};
    r = decode(encode(outOfOrder));
    QVERIFY(!r);
    QVERIFY(r.error().message.find("out of order") != std::string::npos);
}

void TestAgentProtocol::validate_refusesBrokenConventions_data() {
    QTest::addColumn<int>("call");
    QTest::addColumn<int>("fd");
    QTest::addColumn<QList<qint64>>("numbers");
    QTest::addColumn<int>("dataBytes");
    QTest::addColumn<QString>("reason");
    QTest::newRow("connect without fd")
        << int(Call::Connect) << -1 << QList<qint64>{80} << 0 << "needs the fd";
    QTest::newRow("connect port 70000")
        << int(Call::Connect) << 3 << QList<qint64>{70000} << 0 << "port from 0 to 65535";
    QTest::newRow("connect to no address")
        << int(Call::Connect) << 3 << QList<qint64>{80} << 0 << "not the wildcard";
    QTest::newRow("socket one number")
        << int(Call::Socket) << -1 << QList<qint64>{2} << 0 << "takes 3 numbers, not 1";
    QTest::newRow("read too much")
        << int(Call::Read) << 3 << QList<qint64>{1ll << 40, 0} << 0 << "read takes a count";
    QTest::newRow("write count is not data")
        << int(Call::Write) << 3 << QList<qint64>{9, 0} << 4 << "is not the 4 bytes given";
    QTest::newRow("write 2 GiB") << int(Call::Write) << 3 << QList<qint64>{2ll << 30, 0} << 0
                                 << "write takes a count";
    QTest::newRow("poll without fds") << int(Call::Poll) << -1 << QList<qint64>{10} << 0
                                      << "needs at least one (fd, events) pair";
    QTest::newRow("poll half a pair")
        << int(Call::Poll) << -1 << QList<qint64>{10, 3} << 0 << "takes a timeout and then";
    QTest::newRow("sysctl without key")
        << int(Call::Sysctl) << -1 << QList<qint64>{} << 0 << "needs a key";
    QTest::newRow("too much data") << int(Call::SetSockOpt) << 3 << QList<qint64>{1, 13}
                                   << int(kMaxDataBytes + 1) << "over the limit";
    QTest::newRow("epoll_create 0")
        << int(Call::EpollCreate) << -1 << QList<qint64>{0} << 0 << "takes a size from 1";
    QTest::newRow("epoll_ctl without its data")
        << int(Call::EpollCtl) << 5 << QList<qint64>{1, 3, 1} << 0 << "takes 4 numbers, not 3";
    QTest::newRow("epoll_wait 65 events")
        << int(Call::EpollWait) << 5 << QList<qint64>{65, 0} << 0 << "maxevents from 1 to 64";
    QTest::newRow("epoll_wait without its fd")
        << int(Call::EpollWait) << -1 << QList<qint64>{1, 0} << 0 << "needs the fd";
    // data 'x'...: one argument without its NUL
    QTest::newRow("command argument not ended")
        << int(Call::Command) << -1 << QList<qint64>{} << 3 << "each end with a NUL byte";
}

void TestAgentProtocol::commands_stayInThePeersNamespace_data() {
    QTest::addColumn<QString>("program");
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QString>("reason"); ///< empty: allowed
    QTest::newRow("tc qdisc") << "tc" << QStringList{"qdisc", "replace", "dev",   "tcplab0p",
                                                     "root",  "pfifo",   "limit", "0"}
                              << "";
    QTest::newRow("ip route") << "ip" << QStringList{"route",    "replace", "198.18.0.2", "dev",
                                                     "tcplab0p", "advmss",  "1000"}
                              << "";
    QTest::newRow("ip -6 route") << "ip" << QStringList{"-6", "route", "show"} << "";
    QTest::newRow("ip tcp_metrics") << "ip" << QStringList{"tcp_metrics", "flush", "all"} << "";
    QTest::newRow("ip link set mtu")
        << "ip" << QStringList{"link", "set", "dev", "tcplab0p", "mtu", "1400"} << "";
    QTest::newRow("a shell") << "sh" << QStringList{"-c", "true"} << "runs tc or ip, not 'sh'";
    QTest::newRow("tc filter") << "tc" << QStringList{"filter", "add"} << "qdisc commands only";
    QTest::newRow("tc batch") << "tc" << QStringList{"-b", "file"} << "'-b' is not allowed";
    QTest::newRow("ip netns exec")
        << "ip" << QStringList{"netns", "exec", "x", "sh"} << "'netns' is not allowed";
    QTest::newRow("ip -n") << "ip" << QStringList{"-n", "x", "route"} << "'-n' is not allowed";
    QTest::newRow("ip link add") << "ip" << QStringList{"link", "add", "x", "type", "dummy"}
                                 << "route, tcp_metrics and link set commands only";
    QTest::newRow("link to another namespace")
        << "ip" << QStringList{"link", "set", "tcplab0p", "netns", "1"} << "'netns' is not allowed";
    QTest::newRow("tc bpf") << "tc" << QStringList{"qdisc", "add", "dev", "x", "bpf"}
                            << "'bpf' is not allowed";
    QTest::newRow("shell syntax") << "ip" << QStringList{"route", "show", "$(reboot)"}
                                  << "is not a plain word";
    QTest::newRow("empty argument") << "ip" << QStringList{"route", ""} << "is not a plain word";
}

void TestAgentProtocol::commands_stayInThePeersNamespace() {
    QFETCH(QString, program);
    QFETCH(QStringList, args);
    QFETCH(QString, reason);
    Request r;
    r.call = Call::Command;
    r.text = program.toStdString();
    std::vector<std::string> words;
    for (const QString& a : args) {
        words.push_back(a.toStdString());
        r.data.insert(r.data.end(), words.back().begin(), words.back().end());
        r.data.push_back(0);
    }
    QCOMPARE(commandArguments(r), words);
    const auto why = validate(r);
    if (reason.isEmpty()) {
        QVERIFY2(!why, why ? why->c_str() : "");
    } else {
        QVERIFY(why.has_value());
        QVERIFY2(QString::fromStdString(*why).contains(reason), why->c_str());
    }
}

void TestAgentProtocol::validate_refusesBrokenConventions() {
    QFETCH(int, call);
    QFETCH(int, fd);
    QFETCH(QList<qint64>, numbers);
    QFETCH(int, dataBytes);
    QFETCH(QString, reason);
    Request r;
    r.call = static_cast<Call>(call);
    r.fd = fd;
    r.numbers.assign(numbers.begin(), numbers.end());
    r.data.assign(std::size_t(dataBytes), 'x');
    const auto why = validate(r);
    QVERIFY(why.has_value());
    QVERIFY2(QString::fromStdString(*why).contains(reason), why->c_str());
}

void TestAgentProtocol::grammar_roundTrips_data() {
    QTest::addColumn<QString>("line");
    QTest::addColumn<QString>("c");
    QTest::newRow("socket") << "socket inet"
                            << "socket(AF_INET, SOCK_STREAM, 0)";
    QTest::newRow("socket6 nb") << "socket inet6 nonblock"
                                << "socket(AF_INET6, SOCK_STREAM|SOCK_NONBLOCK, 0)";
    QTest::newRow("bind any") << "bind 3 5000"
                              << "bind(3, any:5000)";
    QTest::newRow("bind v6") << "bind 3 2001:db8::1 5000"
                             << "bind(3, [2001:db8::1]:5000)";
    QTest::newRow("listen") << "listen 3 8"
                            << "listen(3, 8)";
    QTest::newRow("accept") << "accept 3"
                            << "accept(3)";
    QTest::newRow("connect") << "connect 3 198.18.0.2 50000"
                             << "connect(3, 198.18.0.2:50000)";
    QTest::newRow("read") << "read 4 1000 peek"
                          << "read(4, 1000, MSG_PEEK)";
    QTest::newRow("write pattern") << "write 4 1048576 more"
                                   << "write(4, 1048576 pattern bytes, MSG_MORE)";
    QTest::newRow("write text") << "write 4 hex:48690d0a"
                                << "write(4, \"Hi\\r\\n\", 4)";
    QTest::newRow("shutdown") << "shutdown 4 wr"
                              << "shutdown(4, SHUT_WR)";
    QTest::newRow("close") << "close 4"
                           << "close(4)";
    QTest::newRow("poll") << "poll 100 3 in,out 4 rdhup"
                          << "poll([{3, in,out}, {4, rdhup}], 100)";
    QTest::newRow("getfl") << "fcntl 3 getfl"
                           << "fcntl(3, F_GETFL)";
    QTest::newRow("setfl") << "fcntl 3 setfl 2048"
                           << "fcntl(3, F_SETFL, O_NONBLOCK)";
    QTest::newRow("linger") << "setsockopt 3 SO_LINGER 1,0"
                            << "setsockopt(3, SOL_SOCKET, SO_LINGER, onoff=1 linger=0)";
    QTest::newRow("nodelay") << "setsockopt 3 TCP_NODELAY 1"
                             << "setsockopt(3, IPPROTO_TCP, TCP_NODELAY, 1)";
    QTest::newRow("cc") << "setsockopt 3 TCP_CONGESTION reno"
                        << "setsockopt(3, IPPROTO_TCP, TCP_CONGESTION, reno)";
    QTest::newRow("getsockopt") << "getsockopt 3 TCP_INFO"
                                << "getsockopt(3, IPPROTO_TCP, TCP_INFO)";
    QTest::newRow("ioctl") << "ioctl 3 SIOCOUTQ"
                           << "ioctl(3, SIOCOUTQ)";
    QTest::newRow("sysctl read") << "sysctl net.ipv4.tcp_sack"
                                 << "sysctl net.ipv4.tcp_sack";
    QTest::newRow("sysctl write") << "sysctl net.ipv4.tcp_sack=0"
                                  << "sysctl net.ipv4.tcp_sack=0";
    QTest::newRow("list") << "sysctl-list net.ipv4.tcp_"
                          << "sysctl -a net.ipv4.tcp_";
    QTest::newRow("drain") << "drain 4 on"
                           << "drain(4, on)";
    QTest::newRow("sample") << "sample"
                            << "sample()";
    QTest::newRow("epoll_create") << "epoll_create 1"
                                  << "epoll_create(1)";
    QTest::newRow("epoll_ctl") << "epoll_ctl 5 add 4 in,et"
                               << "epoll_ctl(5, EPOLL_CTL_ADD, 4, {in,et, data=4})";
    QTest::newRow("epoll_ctl data") << "epoll_ctl 5 mod 4 out 77"
                                    << "epoll_ctl(5, EPOLL_CTL_MOD, 4, {out, data=77})";
    QTest::newRow("epoll_wait") << "epoll_wait 5 8 -1"
                                << "epoll_wait(5, 8, -1)";
    QTest::newRow("command") << "command tc qdisc replace dev tcplab0p root pfifo limit 0"
                             << "tc qdisc replace dev tcplab0p root pfifo limit 0";
}

void TestAgentProtocol::grammar_roundTrips() {
    QFETCH(QString, line);
    QFETCH(QString, c);
    const auto r = parseCall(line.toStdString());
    QVERIFY2(r.has_value(), r ? "" : r.error().c_str());
    QVERIFY(!validate(*r));
    QCOMPARE(QString::fromStdString(describeCall(*r)), c);
    const auto again = parseCall(formatCall(*r));
    QVERIFY2(again.has_value(), formatCall(*r).c_str());
    QVERIFY2(*again == *r, formatCall(*r).c_str());
}

void TestAgentProtocol::grammar_errorsNameTheWord_data() {
    QTest::addColumn<QString>("line");
    QTest::addColumn<QString>("reason");
    QTest::newRow("empty") << ""
                           << "no call given";
    QTest::newRow("unknown") << "frobnicate 3"
                             << "'frobnicate' is not a peer call";
    QTest::newRow("fd") << "close three"
                        << "'three' is not an fd";
    QTest::newRow("address") << "connect 3 198.18.0.300 80"
                             << "not an IPv4 or IPv6 address";
    QTest::newRow("port") << "connect 3 198.18.0.2 70000"
                          << "'70000' is not a port";
    // Found by the fuzz target: '*' parsed as an empty address that formatted as nothing.
    QTest::newRow("connect to the wildcard") << "connect 3 * 80"
                                             << "'*' is the wildcard, not an address";
    QTest::newRow("option") << "setsockopt 3 TCP_FROB 1"
                            << "'TCP_FROB' is not an option";
    QTest::newRow("option value") << "setsockopt 3 TCP_NODELAY yes-please"
                                  << "takes a whole number";
    QTest::newRow("linger") << "setsockopt 3 SO_LINGER 2,0"
                            << "SO_LINGER takes ON,SECONDS";
    QTest::newRow("read only") << "setsockopt 3 TCP_INFO 1"
                               << "can be read, not set";
    QTest::newRow("shutdown") << "shutdown 3 sideways"
                              << "'sideways' is not rd, wr or rdwr";
    QTest::newRow("extra") << "accept 3 4"
                           << "unexpected '4'";
    QTest::newRow("quote") << "write 3 \"unfinished"
                           << "no closing quote";
    QTest::newRow("escape") << "write 3 \"bad \\q\""
                            << "write:";
    QTest::newRow("huge write") << "write 3 2G"
                                << "is not a count from 0 to 1G";
    QTest::newRow("sysctl key") << "sysctl ../../etc/passwd=1"
                                << "is not a sysctl key";
    QTest::newRow("sysctl empty") << "sysctl net.ipv4.tcp_sack="
                                  << "needs a value";
    QTest::newRow("poll events") << "poll 10 3 sideways"
                                 << "'sideways' is not in, out";
    QTest::newRow("epoll op") << "epoll_ctl 5 attach 4 in"
                              << "'attach' is not add, mod or del";
    QTest::newRow("epoll events") << "epoll_ctl 5 add 4"
                                  << "fd 4 needs its events";
    QTest::newRow("epoll maxevents") << "epoll_wait 5 0 10"
                                     << "maxevents";
    QTest::newRow("command word") << "command ip route show x;y"
                                  << "is not a plain word";
}

void TestAgentProtocol::grammar_errorsNameTheWord() {
    QFETCH(QString, line);
    QFETCH(QString, reason);
    const auto r = parseCall(line.toStdString());
    QVERIFY(!r.has_value());
    QVERIFY2(QString::fromStdString(r.error()).contains(reason), r.error().c_str());
}

void TestAgentProtocol::describe_readsLikeStrace() {
    auto connect = *parseCall("connect 3 198.18.0.2 50000");
    Answer a;
    a.call = Call::Connect;
    a.result = -1;
    a.error = ECONNREFUSED;
    a.durationNs = 82'000;
    QCOMPARE(QString::fromStdString(describeCallLine(connect, a)),
             QStringLiteral("connect(3, 198.18.0.2:50000) = -1 ECONNREFUSED (Connection refused) "
                            "[82 us]"));
    auto linger = *parseCall("getsockopt 3 SO_LINGER");
    Answer b;
    b.call = Call::GetSockOpt;
    b.data = {1, 0, 0, 0, 0, 0, 0, 0};
    QCOMPARE(QString::fromStdString(describeAnswer(linger, b)),
             QStringLiteral("= 0 onoff=1 linger=0"));
    Answer refused;
    refused.call = Call::SetSockOpt;
    refused.outcome = Outcome::Refused;
    refused.text = "lwIP has no TCP_CORK";
    QCOMPARE(QString::fromStdString(describeAnswer(*parseCall("setsockopt 3 TCP_CORK 1"), refused)),
             QStringLiteral("not made: lwIP has no TCP_CORK"));
}

void TestAgentProtocol::errnoNames() {
    QCOMPARE(QString::fromStdString(errnoName(ECONNRESET)), QStringLiteral("ECONNRESET"));
    QCOMPARE(errnoByName("econnreset").value_or(0), ECONNRESET);
    QCOMPARE(errnoByName("EINPROGRESS").value_or(0), EINPROGRESS);
    QVERIFY(!errnoByName("ENOTANERRNO"));
    QCOMPARE(QString::fromStdString(errnoName(9999)), QStringLiteral("errno 9999"));
}

void TestAgentProtocol::tcpInfo_offsetsMatchThisSystem() {
    // Every field this system's <linux/tcp.h> declares is at the offset and of the size the
    // table says (the newer ones, which Debian 12's header lacks, follow tcpi_snd_wnd).
#define CHECK_FIELD(member, field)                                                                 \
    QCOMPARE(std::size_t(fieldInfo(TcpInfoField::field).offset), offsetof(tcp_info, member));      \
    QCOMPARE(std::size_t(fieldInfo(TcpInfoField::field).size), sizeof(tcp_info::member))
    CHECK_FIELD(tcpi_state, State);
    CHECK_FIELD(tcpi_rto, Rto);
    CHECK_FIELD(tcpi_snd_mss, SndMss);
    CHECK_FIELD(tcpi_unacked, Unacked);
    CHECK_FIELD(tcpi_last_ack_recv, LastAckRecv);
    CHECK_FIELD(tcpi_rtt, Rtt);
    CHECK_FIELD(tcpi_snd_ssthresh, SndSsthresh);
    CHECK_FIELD(tcpi_snd_cwnd, SndCwnd);
    CHECK_FIELD(tcpi_total_retrans, TotalRetrans);
    CHECK_FIELD(tcpi_pacing_rate, PacingRate);
    CHECK_FIELD(tcpi_bytes_received, BytesReceived);
    CHECK_FIELD(tcpi_delivery_rate, DeliveryRate);
    CHECK_FIELD(tcpi_sndbuf_limited, SndbufLimited);
    CHECK_FIELD(tcpi_bytes_retrans, BytesRetrans);
    CHECK_FIELD(tcpi_snd_wnd, SndWnd);
#undef CHECK_FIELD
    QVERIFY(fieldInfo(TcpInfoField::RcvWnd).offset >= sizeof(tcp_info));
    for (const auto& f : tcpInfoFields())
        QVERIFY2(std::size_t(f.offset) + f.size <= 276, f.name.data());
    QCOMPARE(fieldByName("tcpi_snd_cwnd").value_or(TcpInfoField::State), TcpInfoField::SndCwnd);
    QCOMPARE(fieldByName("rtt").value_or(TcpInfoField::State), TcpInfoField::Rtt);
    QVERIFY(!fieldByName("cwnd"));
}

void TestAgentProtocol::tcpInfo_decodesARealSocket() {
    // A fresh socket of this process: CLOSE (7), and the bit fields at their places.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    QVERIFY(fd >= 0);
    std::uint8_t raw[512] = {};
    socklen_t length = sizeof raw;
    QCOMPARE(::getsockopt(fd, IPPROTO_TCP, TCP_INFO, raw, &length), 0);
    ::close(fd);
    const TcpInfo info = TcpInfo::fromLinux({raw, length});
    QCOMPARE(info.value(TcpInfoField::State), std::uint64_t{7});
    QCOMPARE(QString::fromStdString(linuxStateName(7)), QStringLiteral("CLOSED"));
    QVERIFY(info.has(TcpInfoField::SndWnd));
    tcp_info expected{};
    std::memcpy(&expected, raw, std::min<std::size_t>(sizeof expected, length));
    QCOMPARE(info.value(TcpInfoField::SndCwnd), std::uint64_t{expected.tcpi_snd_cwnd});
    QCOMPARE(info.value(TcpInfoField::Rto), std::uint64_t{expected.tcpi_rto});
    QCOMPARE(info.value(TcpInfoField::SndWscale), std::uint64_t{expected.tcpi_snd_wscale});
    QCOMPARE(info.value(TcpInfoField::RcvWscale), std::uint64_t{expected.tcpi_rcv_wscale});
    // Hand-made bit fields: snd_wscale 7 (low nibble), rcv_wscale 9, app_limited, fail 2.
    std::uint8_t made[8] = {1, 3, 0, 0, 0, 7, 0x97, 0x05};
    const TcpInfo bits = TcpInfo::fromLinux(made);
    QCOMPARE(bits.value(TcpInfoField::SndWscale), std::uint64_t{7});
    QCOMPARE(bits.value(TcpInfoField::RcvWscale), std::uint64_t{9});
    QCOMPARE(bits.value(TcpInfoField::DeliveryRateAppLimited), std::uint64_t{1});
    QCOMPARE(bits.value(TcpInfoField::FastopenClientFail), std::uint64_t{2});
    QCOMPARE(QString::fromStdString(optionsText(7)), QStringLiteral("timestamps sack wscale"));
    QCOMPARE(QString::fromStdString(caStateName(3)), QStringLiteral("Recovery"));
}

void TestAgentProtocol::tcpInfo_shorterStructKeepsWhatItHas() {
    std::vector<std::uint8_t> raw(104, 0); // a 2.6-era struct: up to total_retrans
    raw[80] = 10;                          // snd_cwnd
    const TcpInfo info = TcpInfo::fromLinux(raw);
    QCOMPARE(info.get(TcpInfoField::SndCwnd).value_or(0), std::uint64_t{10});
    QVERIFY(info.has(TcpInfoField::TotalRetrans));
    QVERIFY(!info.has(TcpInfoField::PacingRate));
    QVERIFY(!info.has(TcpInfoField::SndWnd));
    const auto pairs = info.pairs();
    QCOMPARE(TcpInfo::fromPairs(pairs), info);
}

void TestAgentProtocol::tcpInfo_sameStateIgnoresTheClock() {
    TcpInfo a;
    a.set(TcpInfoField::SndCwnd, 10);
    a.set(TcpInfoField::LastDataRecv, 5);
    TcpInfo b = a;
    b.set(TcpInfoField::LastDataRecv, 500);
    QVERIFY(a.sameState(b));
    QVERIFY(!(a == b));
    b.set(TcpInfoField::SndCwnd, 11);
    QVERIFY(!a.sameState(b));
    TcpInfo c = a;
    c.set(TcpInfoField::Rtt, 100);
    QVERIFY(!a.sameState(c));
}

void TestAgentProtocol::timeline_keepsPeerRecordsAndExportsThem() {
    timeline::Timeline t(16, 16);
    peer::CallRecord call{*parseCall("connect 3 198.18.0.2 50000"), {}};
    call.answer.call = Call::Connect;
    call.answer.result = -1;
    call.answer.error = EINPROGRESS;
    call.answer.startNs = 1000;
    call.answer.durationNs = 20;
    QVERIFY(timeline::appendCall(t, call));
    Sample s = sampleSample();
    QVERIFY(timeline::appendSample(t, s));
    QVERIFY(timeline::appendHello(t, s.timeNs + 5, sampleHello()));
    QCOMPARE(t.peerSize(), std::size_t{4}); // a call, two sockets, a hello
    QCOMPARE(t.size(), std::size_t{0});

    QCOMPARE(timeline::callRecord(t.peer(0)).value(), call);
    QCOMPARE(t.peer(0).timeNs, std::int64_t{1000});
    const auto one = timeline::sampleRecord(t.peer(2));
    QVERIFY(one);
    QCOMPARE(one->sockets.size(), std::size_t{1});
    QCOMPARE(one->sockets.front(), s.sockets[1]);
    QVERIFY(!timeline::callRecord(t.peer(1)));
    QCOMPARE(timeline::helloRecord(t.peer(3)).value(), sampleHello());

    const auto j = timeline::timelineToJson(t);
    QCOMPARE(j.at("version").get<int>(), 2);
    const auto& peer = j.at("peer");
    QCOMPARE(peer.size(), std::size_t{4});
    QCOMPARE(peer[0].at("kind").get<std::string>(), std::string("syscall"));
    QCOMPARE(peer[0].at("call").get<std::string>(), std::string("connect"));
    QCOMPARE(peer[0].at("errno").get<std::string>(), std::string("EINPROGRESS"));
    QCOMPARE(peer[0].at("result").get<int>(), -1);
    QCOMPARE(peer[0].at("duration_ns").get<int>(), 20);
    QCOMPARE(peer[1].at("kind").get<std::string>(), std::string("tcp_info"));
    QCOMPARE(peer[1].at("tcp_info").at("snd_cwnd").get<int>(), 10);
    QCOMPARE(peer[1].at("tcp_info").at("snd_wnd").get<int>(), 65535);
    QCOMPARE(peer[1].at("state").get<std::string>(), std::string("ESTABLISHED"));
    QCOMPARE(peer[1].at("socket").at("local").get<std::string>(), std::string("198.18.0.1:50001"));
    QCOMPARE(peer[2].at("socket").at("gone").get<bool>(), true);
    QCOMPARE(peer[3].at("kind").get<std::string>(), std::string("agent"));

    // A blocking call is recorded when it is answered, with its start time: the export
    // puts it where it started, keeping its index.
    peer::CallRecord accept{*parseCall("accept 3"), {}};
    accept.answer.call = Call::Accept;
    accept.answer.result = 4;
    accept.answer.startNs = 500;
    accept.answer.durationNs = 2'000'000;
    QVERIFY(timeline::appendCall(t, accept));
    const auto sorted = timeline::timelineToJson(t).at("peer");
    QCOMPARE(sorted.size(), std::size_t{5});
    QCOMPARE(sorted[0].at("call").get<std::string>(), std::string("accept"));
    QCOMPARE(sorted[0].at("index").get<int>(), 4);
    QCOMPARE(sorted[1].at("call").get<std::string>(), std::string("connect"));
    for (std::size_t i = 1; i < sorted.size(); ++i)
        QVERIFY(sorted[i - 1].at("time_ns").get<std::int64_t>() <=
                sorted[i].at("time_ns").get<std::int64_t>());
    // The streamed export writes the same order.
    QTemporaryDir dir;
    const std::string path = (dir.path() + QStringLiteral("/t.json")).toStdString();
    QVERIFY(timeline::exportJson(t, path).has_value());
    std::ifstream in(path);
    const auto read = nlohmann::json::parse(in);
    QVERIFY(read.at("peer") == sorted);

    // Full: the record is refused, nothing is torn.
    timeline::Timeline small(4, 1);
    QVERIFY(timeline::appendCall(small, call));
    QVERIFY(!timeline::appendCall(small, call));
    QCOMPARE(small.peerSize(), std::size_t{1});
}

void TestAgentProtocol::timeline_snapLengthKeepsWireLength() {
    timeline::Timeline t(8);
    std::vector<std::uint8_t> frame(1514, 0xab);
    t.setSnapLength(128);
    QVERIFY(t.append(1, timeline::Direction::Received, frame));
    t.setSnapLength(0);
    QVERIFY(t.append(2, timeline::Direction::Received, frame));
    QCOMPARE(t[0].bytes.size(), std::size_t{128});
    QCOMPARE(t[0].wireLength, std::uint32_t{1514});
    QCOMPARE(t[1].bytes.size(), std::size_t{1514});
    QCOMPARE(t[1].wireLength, std::uint32_t{1514});
    const auto j = timeline::timelineToJson(t);
    QCOMPARE(j.at("frames")[0].at("length").get<int>(), 1514);
    QCOMPARE(j.at("frames")[0].at("captured").get<int>(), 128);
    QVERIFY(!j.at("frames")[1].contains("captured"));
}

QTEST_GUILESS_MAIN(TestAgentProtocol)
#include "tst_agent_protocol.moc"
