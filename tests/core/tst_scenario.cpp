// The scenario language: parsing of every step kind and option, the errors with
// their line numbers, default names, and formatScenario -> parseScenario round trips
// (the classic texts and generated scenarios).
#include "tests_support/test_support.h"

#include "engine/scenario.h"
#include "peer/call_text.h"

#include <random>

using namespace tcplab;
using namespace tcplab::engine;
using namespace tcplab::wire;

namespace {

Scenario parsed(std::string_view text) {
    auto s = parseScenario(text);
    if (!s) {
        qWarning("%s", describe(s.error()).c_str());
        return {};
    }
    return *s;
}

/// The single step of a one-line scenario.
Step only(std::string_view line) {
    Scenario s = parsed(line);
    if (s.steps.size() != 1)
        return {};
    return s.steps[0];
}

template <typename T>
T actionOf(std::string_view line) {
    const Step step = only(line);
    if (const T* a = std::get_if<T>(&step.action))
        return *a;
    qWarning("line did not parse to the expected kind: %s", std::string(line).c_str());
    return T{};
}

std::vector<std::uint8_t> bytesOf(std::string_view s) {
    return {s.begin(), s.end()};
}

constexpr std::int64_t kMs = 1'000'000;

} // namespace

class TestScenario : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void send_everyKey() {
        const auto s = actionOf<SendStep>("send PA seq=iss+1 ack=irs+1 win=1024 data=\"GET / "
                                          "HTTP/1.1\\r\\n\\r\\n\" name=\"GET\"");
        QCOMPARE(s.flags, std::uint8_t(tcp_flags::kPsh | tcp_flags::kAck));
        QCOMPARE(s.seq, std::optional(SeqExpr{SeqExpr::Base::Iss, 1}));
        QCOMPARE(s.ack, std::optional(SeqExpr{SeqExpr::Base::Irs, 1}));
        QCOMPARE(s.window, std::optional<std::uint16_t>(1024));
        QVERIFY(!s.dataIsRequest);
        QVERIFY(s.data == bytesOf("GET / HTTP/1.1\r\n\r\n"));
        QCOMPARE(only("send PA data=\"x\" name=\"GET\"").name, std::string("GET"));
    }

    void send_defaultsWhenKeysAreAbsent() {
        const auto s = actionOf<SendStep>("send S");
        QCOMPARE(s.flags, tcp_flags::kSyn);
        QVERIFY(!s.seq && !s.ack && !s.window && !s.dataIsRequest);
        QVERIFY(s.data.empty());
        QVERIFY(s.options.empty());
    }

    void flags_lettersAndWords_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<int>("flags");
        using namespace tcp_flags;
        QTest::newRow("S") << "S" << int(kSyn);
        QTest::newRow("SA") << "SA" << int(kSyn | kAck);
        QTest::newRow("AS any order") << "AS" << int(kSyn | kAck);
        QTest::newRow("PA") << "PA" << int(kPsh | kAck);
        QTest::newRow("FA") << "FA" << int(kFin | kAck);
        QTest::newRow("R") << "R" << int(kRst);
        QTest::newRow("SYN,ACK") << "SYN,ACK" << int(kSyn | kAck);
        QTest::newRow("FIN") << "FIN" << int(kFin);
        QTest::newRow("RST") << "RST" << int(kRst);
        QTest::newRow("PSH,ACK") << "PSH,ACK" << int(kPsh | kAck);
        QTest::newRow("lower-case words") << "fin,ack" << int(kFin | kAck);
        QTest::newRow("ECE is the word") << "ECE" << int(kEce);
        QTest::newRow("E C letters") << "EC" << int(kEce | kCwr);
        QTest::newRow("number") << "18" << int(kSyn | kAck);
        QTest::newRow("hex number") << "0x11" << int(kFin | kAck);
        QTest::newRow("none") << "none" << 0;
    }
    void flags_lettersAndWords() {
        QFETCH(QString, text);
        QFETCH(int, flags);
        const std::string line = "send " + text.toStdString();
        auto s = parseScenario(line);
        QVERIFY2(s, s ? "" : describe(s.error()).c_str());
        QCOMPARE(int(std::get<SendStep>(s->steps[0].action).flags), flags);
        const std::string expectLine = "expect " + text.toStdString();
        auto e = parseScenario(expectLine);
        QVERIFY(e);
        QCOMPARE(int(std::get<ExpectStep>(e->steps[0].action).flags), flags);
    }

    void seqExpr_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<int>("base");
        QTest::addColumn<qint64>("offset");
        using B = SeqExpr::Base;
        QTest::newRow("literal") << "100" << int(B::Literal) << qint64(100);
        QTest::newRow("literal max") << "4294967295" << int(B::Literal) << qint64(4294967295);
        QTest::newRow("hex literal") << "0xdeadbeef" << int(B::Literal) << qint64(0xdeadbeef);
        QTest::newRow("iss") << "iss" << int(B::Iss) << qint64(0);
        QTest::newRow("iss+1") << "iss+1" << int(B::Iss) << qint64(1);
        QTest::newRow("irs+1") << "irs+1" << int(B::Irs) << qint64(1);
        QTest::newRow("snd.una") << "snd.una" << int(B::SndUna) << qint64(0);
        QTest::newRow("snd.nxt-1") << "snd.nxt-1" << int(B::SndNxt) << qint64(-1);
        QTest::newRow("rcv.nxt+1000") << "rcv.nxt+1000" << int(B::RcvNxt) << qint64(1000);
    }
    void seqExpr() {
        QFETCH(QString, text);
        QFETCH(int, base);
        QFETCH(qint64, offset);
        const auto e = parseSeqExpr(text.toStdString());
        QVERIFY2(e, e ? "" : e.error().c_str());
        QCOMPARE(int(e->base), base);
        QCOMPARE(qint64(e->offset), offset);
        // Through a whole line too, for seq and ack.
        const auto s =
            actionOf<SendStep>("send A seq=" + text.toStdString() + " ack=" + text.toStdString());
        QCOMPARE(s.seq, std::optional(*e));
        QCOMPARE(s.ack, std::optional(*e));
        // And back to text.
        QCOMPARE(parseSeqExpr(formatSeqExpr(*e)).value(), *e);
    }

    void data_forms() {
        QVERIFY(actionOf<SendStep>("send PA data=request").dataIsRequest);
        QVERIFY(actionOf<SendStep>("send PA data=request").data.empty());
        // A quoted "request" is text, not the request.
        const auto quoted = actionOf<SendStep>("send PA data=\"request\"");
        QVERIFY(!quoted.dataIsRequest);
        QVERIFY(quoted.data == bytesOf("request"));
        QVERIFY((actionOf<SendStep>("send PA data=hex:0a0bff").data ==
                 std::vector<std::uint8_t>{0x0a, 0x0b, 0xff}));
        QVERIFY(actionOf<SendStep>("send PA data=\"a \\\"quoted\\\" word, a # and spaces\"").data ==
                bytesOf("a \"quoted\" word, a # and spaces"));
        QVERIFY((actionOf<SendStep>("send PA data=\"\\x00\\t\\\\\"").data ==
                 std::vector<std::uint8_t>{0x00, '\t', '\\'}));
        QVERIFY(actionOf<SendStep>("send PA data=plain").data == bytesOf("plain"));
    }

    void options_eachKind() {
        const auto s = actionOf<SendStep>(
            "send S options=mss:1460,ws:7,sackok,sack:1001-2001:3001-4001,ts:12345:0,nop,eol");
        TcpOptionList expected;
        const std::array<SackBlock, 2> blocks{
            {{SeqNum(1001), SeqNum(2001)}, {SeqNum(3001), SeqNum(4001)}}};
        for (const auto& o : {TcpOption::mss(1460), TcpOption::windowScale(7),
                              TcpOption::sackPermitted(), TcpOption::sack(blocks),
                              TcpOption::timestamps(12345, 0), TcpOption::nop(), TcpOption::eol()})
            QVERIFY(expected.append(o));
        QCOMPARE(expected.byteSize(), std::size_t{39});
        QCOMPARE(toHex(s.options.bytes()), toHex(expected.bytes()));
        QCOMPARE(s.options.mss(), std::optional<std::uint16_t>(1460));
        QCOMPARE(s.options.windowScale(), std::optional<std::uint8_t>(7));
        QVERIFY(s.options.sackPermitted());
    }

    void options_fitAndOrder() {
        const auto s =
            actionOf<SendStep>("send S options=mss:1460,sackok,ts:12345:0,nop,ws:7,sack:1-2,eol");
        TcpOptionList expected;
        for (const auto& o :
             {TcpOption::mss(1460), TcpOption::sackPermitted(), TcpOption::timestamps(12345, 0),
              TcpOption::nop(), TcpOption::windowScale(7)})
            QVERIFY(expected.append(o));
        const std::array<SackBlock, 1> blocks{{{SeqNum(1), SeqNum(2)}}};
        QVERIFY(expected.append(TcpOption::sack(blocks)));
        QVERIFY(expected.append(TcpOption::eol()));
        QCOMPARE(toHex(s.options.bytes()), toHex(expected.bytes()));
        // raw and hex forms.
        const auto raw = actionOf<SendStep>("send S options=raw:254:0a0b,raw:99");
        QCOMPARE(toHex(raw.options.bytes()), std::string("fe040a0b6302"));
        const auto hex = actionOf<SendStep>("send S options=hex:0204ffff");
        QCOMPARE(toHex(hex.options.bytes()), std::string("0204ffff"));
    }

    void expect_receive_wait_linger() {
        const auto e = actionOf<ExpectStep>("expect SA ack=iss+1 within=5000");
        QCOMPARE(e.flags, std::uint8_t(tcp_flags::kSyn | tcp_flags::kAck));
        QVERIFY(!e.seq);
        QCOMPARE(e.ack, std::optional(SeqExpr{SeqExpr::Base::Iss, 1}));
        QCOMPARE(e.withinNs, 5000 * kMs);
        QCOMPARE(actionOf<ExpectStep>("expect A seq=irs+1").withinNs, ExpectStep{}.withinNs);
        QCOMPARE(actionOf<ExpectStep>("expect A within=2s").withinNs, 2000 * kMs);
        QCOMPARE(actionOf<ExpectStep>("expect A within=250ms").withinNs, 250 * kMs);
        QCOMPARE(actionOf<ExpectStep>("expect A within=0").withinNs, std::int64_t{0});

        QCOMPARE(actionOf<ReceiveStep>("receive http within=10000").until,
                 ReceiveStep::Until::HttpResponse);
        QCOMPARE(actionOf<ReceiveStep>("receive http within=10000").withinNs, 10000 * kMs);
        QCOMPARE(actionOf<ReceiveStep>("receive fin").until, ReceiveStep::Until::PeerFin);

        const auto both = actionOf<WaitStep>("wait acked,peer-fin within=3s");
        QVERIFY(both.acked && both.peerFin);
        QCOMPARE(both.withinNs, 3000 * kMs);
        const auto reversed = actionOf<WaitStep>("wait peer-fin,acked");
        QVERIFY(reversed.acked && reversed.peerFin);
        const auto acked = actionOf<WaitStep>("wait acked");
        QVERIFY(acked.acked && !acked.peerFin);
        const auto fin = actionOf<WaitStep>("wait peer-fin");
        QVERIFY(!fin.acked && fin.peerFin);

        QCOMPARE(actionOf<LingerStep>("linger 500").durationNs, 500 * kMs);
        QCOMPARE(actionOf<LingerStep>("linger 2s").durationNs, 2000 * kMs);
        QCOMPARE(actionOf<LingerStep>("linger 500ms name=\"TIME-WAIT\"").durationNs, 500 * kMs);
    }

    void commentsBlankLinesTitleAndLineNumbers() {
        const auto s = parsed("# a comment\n"
                              "\n"
                              "title   A title # with a hash  \n"
                              "   send S   # trailing comment\n"
                              "\t\n"
                              "expect SA\r\n"
                              "linger 1 name=\"with # inside\"\n");
        QCOMPARE(s.title, std::string("A title # with a hash"));
        QCOMPARE(s.steps.size(), std::size_t{3});
        QCOMPARE(s.steps[0].line, 4u);
        QCOMPARE(s.steps[1].line, 6u);
        QCOMPARE(s.steps[2].line, 7u);
        QCOMPARE(s.steps[2].name, std::string("with # inside"));
        QVERIFY(parsed("").steps.empty());
        QVERIFY(parsed("# only comments\n\n").steps.empty());
    }

    void defaultNames_data() {
        QTest::addColumn<QString>("line");
        QTest::addColumn<QString>("name");
        QTest::newRow("send S") << "send S"
                                << "send SYN";
        QTest::newRow("send SA") << "send SA"
                                 << "send SYN-ACK";
        QTest::newRow("send A") << "send A"
                                << "send ACK";
        QTest::newRow("send PA request") << "send PA data=request"
                                         << "send PSH-ACK with the request";
        QTest::newRow("send PA bytes") << "send PA data=\"abc\""
                                       << "send PSH-ACK with 3 bytes";
        QTest::newRow("send FA") << "send FA"
                                 << "send FIN-ACK";
        QTest::newRow("send R") << "send R"
                                << "send RST";
        QTest::newRow("expect SA") << "expect SA"
                                   << "expect SYN-ACK";
        QTest::newRow("expect R") << "expect RST"
                                  << "expect RST";
        QTest::newRow("receive http") << "receive http"
                                      << "receive the response";
        QTest::newRow("receive fin") << "receive fin"
                                     << "receive the peer's FIN";
        QTest::newRow("wait acked") << "wait acked"
                                    << "wait until everything is acknowledged";
        QTest::newRow("wait peer-fin") << "wait peer-fin"
                                       << "wait for the peer's FIN";
        QTest::newRow("wait both") << "wait acked,peer-fin"
                                   << "wait for the ACK and the peer's FIN";
        QTest::newRow("linger") << "linger 500"
                                << "linger 500 ms";
    }
    void defaultNames() {
        QFETCH(QString, line);
        QFETCH(QString, name);
        const Step step = only(line.toStdString());
        QCOMPARE(test::qs(step.name), name);
        QCOMPARE(test::qs(defaultStepName(step.action)), name);
    }

    void errors_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<int>("line");
        QTest::addColumn<QString>("reason");
        QTest::newRow("unknown kind") << "send S\nsned A" << 2 << "unknown step kind 'sned'";
        QTest::newRow("unknown key") << "send S foo=1" << 1 << "unknown key 'foo' for send";
        QTest::newRow("key of another kind")
            << "\nexpect SA win=5" << 2 << "unknown key 'win' for expect";
        QTest::newRow("bad number") << "send S win=12a" << 1 << "bad number '12a' for win";
        QTest::newRow("bad seq") << "send S seq=abc" << 1 << "seq: bad number 'abc'";
        QTest::newRow("bad base offset")
            << "send S seq=iss+x" << 1 << "seq: bad number 'x' for iss";
        QTest::newRow("missing value") << "send S seq=" << 1 << "missing value for seq";
        QTest::newRow("missing flags") << "send" << 1 << "missing value: send needs its flags";
        QTest::newRow("missing expect flags")
            << "expect within=5" << 1 << "missing value: expect needs";
        QTest::newRow("missing linger")
            << "linger" << 1 << "missing value: linger needs a duration";
        QTest::newRow("missing title") << "title" << 1 << "missing value: title needs its text";
        QTest::newRow("duplicated key")
            << "send S\n\nsend A seq=1 seq=2" << 3 << "duplicated key seq";
        QTest::newRow("unterminated") << "send PA data=\"abc" << 1 << "unterminated string";
        QTest::newRow("text after quote")
            << "send PA data=\"abc\"def" << 1
            << "data: unexpected 'def' after the closing double quote";
        QTest::newRow("bad escape") << "send PA data=\"a\\q\"" << 1 << "data: unknown escape \\q";
        QTest::newRow("win out of range")
            << "send S win=65536" << 1 << "value out of range: win=65536 (at most 65535)";
        QTest::newRow("seq out of range")
            << "send S seq=4294967296" << 1
            << "value out of range: seq=4294967296 (at most 4294967295)";
        QTest::newRow("offset out of range")
            << "expect A ack=irs+4294967296" << 1 << "value out of range: ack=irs+4294967296";
        QTest::newRow("ws out of range")
            << "send S options=ws:256" << 1 << "value out of range: ws=256";
        QTest::newRow("mss out of range")
            << "send S options=mss:70000" << 1 << "value out of range: mss=70000";
        QTest::newRow("huge number")
            << "send S win=99999999999999999999999" << 1 << "value out of range";
        QTest::newRow("duration overflow")
            << "linger 9999999999999999s" << 1 << "value out of range";
        QTest::newRow("bad duration") << "expect A within=5m" << 1 << "bad duration '5m'";
        QTest::newRow("negative duration") << "linger -5" << 1 << "bad duration '-5'";
        QTest::newRow("unknown flag") << "send SX" << 1 << "unknown TCP flag 'X'";
        QTest::newRow("unknown flag word")
            << "send SYN,AKC" << 1 << "unknown flag word in 'SYN,AKC'";
        QTest::newRow("unknown option")
            << "send S options=mss:1460,foo" << 1 << "unknown option 'foo'";
        QTest::newRow("option arity")
            << "send S options=ts:1" << 1 << "option 'ts:1' is written ts:VALUE:ECHO";
        QTest::newRow("options too long")
            << "send S options=ts:1:2,ts:1:2,ts:1:2,ts:1:2,ts:1:2" << 1
            << "value out of range: the options take more than 40 bytes";
        QTest::newRow("bad hex data") << "send PA data=hex:0g" << 1 << "bad hex in data";
        QTest::newRow("receive what")
            << "receive html" << 1 << "receive takes http, fin or a number of bytes";
        QTest::newRow("wait what") << "wait peer-ack" << 1 << "unknown wait condition 'peer-ack'";
        QTest::newRow("wait twice") << "wait acked,acked" << 1 << "duplicated wait condition acked";
        QTest::newRow("extra positional") << "send S A" << 1 << "unexpected 'A'";
        QTest::newRow("two titles")
            << "title a\nsend S\ntitle b" << 3 << "a second title (the first is on line 1)";
        QTest::newRow("empty name")
            << "send S name=\"\"" << 1 << "missing value: the name is empty";
        QTest::newRow("peer nothing") << "peer" << 1 << "missing value: peer needs a call";
        QTest::newRow("peer unknown call")
            << "peer frobnicate 3" << 1 << "'frobnicate' is not a peer call";
        QTest::newRow("peer bad option") << "send S\npeer setsockopt 3 TCP_NODELAY maybe" << 2
                                         << "setsockopt: TCP_NODELAY takes a whole number";
        QTest::newRow("peer result") << "peer accept 3 = four" << 1 << "'four' is not a result";
        QTest::newRow("peer errno")
            << "peer accept 3 = -1 ENOTHING" << 1 << "'ENOTHING' is not an errno name";
        QTest::newRow("peer errno without -1")
            << "peer accept 3 = 4 EAGAIN" << 1 << "an errno goes with the result -1";
        QTest::newRow("peer empty result") << "peer accept 3 =" << 1 << "'=' needs the result";
        QTest::newRow("peer variable") << "peer connect 3 $nowhere 80" << 1
                                       << "$nowhere has no value: an earlier peer step binds it";
        QTest::newRow("expect-peer form")
            << "expect-peer snd_cwnd 20" << 1 << "expect-peer is written";
        QTest::newRow("expect-peer field")
            << "expect-peer cwnd >= 20" << 1 << "'cwnd' is not a tcp_info field";
        QTest::newRow("expect-peer op")
            << "expect-peer snd_cwnd => 20" << 1 << "'=>' is not a comparison";
        QTest::newRow("expect-peer state")
            << "expect-peer state == OPEN" << 1 << "'OPEN' is not a TCP state";
        QTest::newRow("receive zero") << "receive 0" << 1 << "receive takes http, fin or";
        QTest::newRow("unbound name") << "peer socket inet\npeer close $s" << 2
                                      << "$s has no value: an earlier peer step binds it";
        QTest::newRow("own name bound")
            << "peer socket inet = $peer" << 1 << "$peer is the connection's own";
        QTest::newRow("bad name") << "peer socket inet = $3x" << 1 << "'$3x' is not a name";
        QTest::newRow("window what") << "window wide" << 1 << "bad number 'wide'";
        QTest::newRow("window too big") << "window 65536" << 1 << "value out of range";
    }

    void passiveScenario_parses() {
        const Scenario s = passiveScenario();
        QCOMPARE(s.steps.size(), std::size_t{13});
        QVERIFY(std::get<PeerStep>(s.steps[1].action).background);
        // The data the peer writes is as long as the step that receives it says.
        const auto& write = std::get<PeerStep>(s.steps[5].action);
        const auto request = peer::parseCall(expandPeerCall(
            write.call, {"198.18.0.2", "198.18.0.1", "50000", "0", "inet"}, {{"s", "3"}}));
        QVERIFY(request);
        QCOMPARE(std::int64_t(request->data.size()), *write.result);
        QCOMPARE(std::get<ReceiveStep>(s.steps[6].action).bytes, std::uint64_t(*write.result));
        QCOMPARE(formatScenario(*parseScenario(formatScenario(s))), formatScenario(s));
    }

    void peerSteps_parse() {
        const Scenario s = parsed("peer connect 3 $phantom $sport = -1 EINPROGRESS within=2000\n"
                                  "peer accept 3 background name=\"wait for it\"\n"
                                  "expect-peer state == time_wait fd=4\n"
                                  "expect-peer snd_cwnd >= 4k\n"
                                  "receive 1M\n");
        QCOMPARE(s.steps.size(), std::size_t{5});
        const auto& connect = std::get<PeerStep>(s.steps[0].action);
        QCOMPARE(connect.call, std::string("connect 3 $phantom $sport"));
        QCOMPARE(connect.result.value_or(0), std::int64_t{-1});
        QCOMPARE(connect.error.value_or(0), 115); // EINPROGRESS
        QCOMPARE(connect.withinNs, std::int64_t{2'000'000'000});
        QCOMPARE(s.steps[0].name, std::string("peer connect 3 $phantom $sport"));
        const auto& accept = std::get<PeerStep>(s.steps[1].action);
        QVERIFY(accept.background);
        QVERIFY(!accept.result);
        QCOMPARE(s.steps[1].name, std::string("wait for it"));
        const auto& state = std::get<ExpectPeerStep>(s.steps[2].action);
        QCOMPARE(state.value, std::uint64_t{6});
        QCOMPARE(state.fd.value_or(0), 4);
        const auto& cwnd = std::get<ExpectPeerStep>(s.steps[3].action);
        QCOMPARE(cwnd.op, ExpectPeerStep::Op::GreaterEqual);
        QCOMPARE(cwnd.value, std::uint64_t{4096});
        QCOMPARE(std::get<ReceiveStep>(s.steps[4].action).bytes, std::uint64_t{1} << 20);
        QCOMPARE(
            expandPeerCall("connect 3 $phantom $sport", {"198.18.0.2", "x", "50000", "y", "inet"}),
            std::string("connect 3 198.18.0.2 50000"));
        QCOMPARE(timeBudgetNs(s), std::int64_t{15'000'000'000} + 2'000'000'000 + 4 * 5'000'000'000);
    }
    void errors() {
        QFETCH(QString, text);
        QFETCH(int, line);
        QFETCH(QString, reason);
        const auto s = parseScenario(text.toStdString());
        QVERIFY2(!s, "parsed, but should not have");
        QCOMPARE(int(s.error().line), line);
        const QString message = test::qs(s.error().message);
        QVERIFY2(message.startsWith(reason), qPrintable(message));
        QCOMPARE(test::qs(describe(s.error())),
                 QStringLiteral("line %1: %2").arg(line).arg(message));
    }

    void describe_withoutLine() {
        QCOMPARE(describe(ScenarioError{0, "no steps"}), std::string("no steps"));
        QCOMPARE(describe(ScenarioError{3, "bad"}), std::string("line 3: bad"));
    }

    void classicTexts_parseAndMatchClassicScenario() {
        for (const CloseMode mode : {CloseMode::Fin, CloseMode::Rst, CloseMode::Peer}) {
            const auto s = parseScenario(classicScenarioText(mode));
            QVERIFY2(s, s ? "" : describe(s.error()).c_str());
            QCOMPARE(classicScenario(mode), *s);
            QVERIFY(!s->title.empty());
            QVERIFY(s->title.starts_with("The classic exercise"));
            // The common opening: SYN seq=iss, SYN-ACK acknowledging it, ACK, the request.
            QVERIFY(s->steps.size() >= 6);
            const auto& syn = std::get<SendStep>(s->steps[0].action);
            QCOMPARE(syn.flags, tcp_flags::kSyn);
            QCOMPARE(syn.seq, std::optional(SeqExpr{SeqExpr::Base::Iss, 0}));
            const auto& synAck = std::get<ExpectStep>(s->steps[1].action);
            QCOMPARE(synAck.ack, std::optional(SeqExpr{SeqExpr::Base::Iss, 1}));
            QVERIFY(std::get<SendStep>(s->steps[3].action).dataIsRequest);
            QCOMPARE(std::get<ReceiveStep>(s->steps[4].action).until,
                     ReceiveStep::Until::HttpResponse);
            QCOMPARE(s->steps[1].name, std::string("SYN-ACK"));
        }
        const Scenario fin = classicScenario(CloseMode::Fin);
        QCOMPARE(fin.steps.size(), std::size_t{9});
        QCOMPARE(std::get<SendStep>(fin.steps[5].action).flags,
                 std::uint8_t(tcp_flags::kFin | tcp_flags::kAck));
        const auto& finWait = std::get<WaitStep>(fin.steps[6].action);
        QVERIFY(finWait.acked && finWait.peerFin);
        QCOMPARE(std::get<LingerStep>(fin.steps[8].action).durationNs, 500 * kMs);
        const Scenario rst = classicScenario(CloseMode::Rst);
        QCOMPARE(std::get<SendStep>(rst.steps[5].action).flags, tcp_flags::kRst);
        const Scenario peer = classicScenario(CloseMode::Peer);
        QVERIFY(std::get<WaitStep>(peer.steps[5].action).peerFin);
        QCOMPARE(std::get<SendStep>(peer.steps[7].action).flags,
                 std::uint8_t(tcp_flags::kFin | tcp_flags::kAck));
        QVERIFY(std::get<WaitStep>(peer.steps[8].action).acked);
    }

    void closeModes() {
        for (const CloseMode mode : {CloseMode::Fin, CloseMode::Rst, CloseMode::Peer})
            QCOMPARE(parseCloseMode(closeModeName(mode)), std::optional(mode));
        QCOMPARE(closeModeName(CloseMode::Rst), std::string_view("rst"));
        QVERIFY(!parseCloseMode("FIN"));
        QVERIFY(!parseCloseMode(""));
    }

    void roundTrip_classic() {
        for (const CloseMode mode : {CloseMode::Fin, CloseMode::Rst, CloseMode::Peer}) {
            const Scenario s = classicScenario(mode);
            const std::string text = formatScenario(s);
            const auto back = parseScenario(text);
            QVERIFY2(back, back ? "" : (describe(back.error()) + "\n" + text).c_str());
            QCOMPARE(*back, s);
            QCOMPARE(formatScenario(*back), text);
        }
    }

    void roundTrip_keepsNamesWithQuotesAndUtf8() {
        Scenario s;
        s.title = "Names: \"quoted\", back\\slash, caf\xc3\xa9";
        SendStep syn;
        syn.flags = tcp_flags::kSyn;
        s.steps.push_back({"the \"first\" \\ step\twith a tab", 0, syn});
        s.steps.push_back({"caf\xc3\xa9 # not a comment", 0, LingerStep{5 * kMs}});
        const auto back = parseScenario(formatScenario(s));
        QVERIFY2(back, back ? "" : describe(back.error()).c_str());
        QCOMPARE(*back, s);
    }

    void roundTrip_oddOptionsAsHex() {
        SendStep send;
        send.flags = tcp_flags::kSyn;
        // A byte after EOL is padding to the option walk: only hex keeps it.
        send.options = TcpOptionList::fromRawBytes(
            std::vector<std::uint8_t>{0x02, 0x04, 0x05, 0xb4, 0x00, 0x01});
        Scenario s{"", {{"odd", 0, send}}};
        const std::string text = formatScenario(s);
        QVERIFY2(text.find("options=hex:020405b40001") != std::string::npos, text.c_str());
        const auto back = parseScenario(text);
        QVERIFY(back);
        QCOMPARE(*back, s);
    }

    void roundTrip_generated() {
        std::mt19937_64 rng(20240501);
        const auto pick = [&](std::uint64_t n) { return rng() % n; };
        const auto expr = [&]() -> std::optional<SeqExpr> {
            if (pick(3) == 0)
                return std::nullopt;
            const auto base = static_cast<SeqExpr::Base>(pick(6));
            std::int64_t offset = 0;
            if (base == SeqExpr::Base::Literal)
                offset = static_cast<std::int64_t>(rng() & 0xffffffffu);
            else if (pick(2))
                offset = static_cast<std::int64_t>(pick(2001)) - 1000;
            return SeqExpr{base, offset};
        };
        const auto duration = [&]() -> std::int64_t {
            switch (pick(3)) {
            case 0:
                return static_cast<std::int64_t>(pick(100000)) * kMs;
            case 1:
                return static_cast<std::int64_t>(pick(100)) * 1'000'000'000;
            default:
                return static_cast<std::int64_t>(pick(1'000'000'000)); // not whole ms
            }
        };
        for (int round = 0; round < 300; ++round) {
            Scenario s;
            if (pick(2))
                s.title = fmt::format("generated {}", round);
            const std::size_t n = pick(12);
            for (std::size_t i = 0; i < n; ++i) {
                Step step;
                switch (pick(8)) {
                case 0: {
                    SendStep a;
                    a.flags = static_cast<std::uint8_t>(rng());
                    a.seq = expr();
                    a.ack = expr();
                    if (pick(2))
                        a.window = static_cast<std::uint16_t>(rng());
                    switch (pick(3)) {
                    case 0:
                        a.dataIsRequest = true;
                        break;
                    case 1:
                        for (std::size_t k = pick(40); k > 0; --k)
                            a.data.push_back(static_cast<std::uint8_t>(rng()));
                        break;
                    default:
                        break;
                    }
                    if (pick(2)) {
                        const TcpOption all[] = {
                            TcpOption::mss(static_cast<std::uint16_t>(rng())),
                            TcpOption::windowScale(static_cast<std::uint8_t>(rng())),
                            TcpOption::sackPermitted(),
                            TcpOption::timestamps(static_cast<std::uint32_t>(rng()),
                                                  static_cast<std::uint32_t>(rng())),
                            TcpOption::nop()};
                        for (std::size_t k = pick(5); k > 0; --k)
                            a.options.append(all[pick(5)]);
                    }
                    step.action = a;
                    break;
                }
                case 1: {
                    ExpectStep a;
                    a.flags = static_cast<std::uint8_t>(rng());
                    a.seq = expr();
                    a.ack = expr();
                    a.withinNs = duration();
                    step.action = a;
                    break;
                }
                case 2: {
                    ReceiveStep a;
                    a.until = static_cast<ReceiveStep::Until>(pick(3));
                    if (a.until == ReceiveStep::Until::Bytes)
                        a.bytes = 1 + pick(1u << 30);
                    a.withinNs = duration();
                    step.action = a;
                    break;
                }
                case 5: {
                    static const char* const kCalls[] = {
                        "socket inet6 nonblock",
                        "connect 3 $phantom $sport",
                        "accept 3",
                        "setsockopt 4 SO_LINGER 1,0",
                        "write 4 \"GET /\\r\\n\"",
                        "sysctl net.ipv4.tcp_rmem=4096 131072 6291456",
                        "read 4 stop"};
                    PeerStep a;
                    a.call = kCalls[pick(std::size(kCalls))];
                    switch (pick(4)) {
                    case 0:
                        a.anyResult = true;
                        break;
                    case 1:
                        a.result = static_cast<std::int64_t>(pick(10));
                        break;
                    case 2:
                        a.result = -1;
                        a.error = 1 + static_cast<int>(pick(100));
                        break;
                    default:
                        break;
                    }
                    a.background = pick(2);
                    a.withinNs = duration();
                    step.action = a;
                    break;
                }
                case 7:
                    step.action = WindowStep{static_cast<std::uint16_t>(rng())};
                    break;
                case 6: {
                    ExpectPeerStep a;
                    static const char* const kFields[] = {"snd_cwnd", "state", "rqueue", "rto"};
                    a.field = kFields[pick(4)];
                    a.op = static_cast<ExpectPeerStep::Op>(pick(6));
                    a.value = a.field == "state" ? 1 + pick(13) : rng();
                    if (pick(2))
                        a.fd = static_cast<int>(pick(1000));
                    a.withinNs = duration();
                    step.action = a;
                    break;
                }
                case 3: {
                    WaitStep a;
                    a.acked = pick(2);
                    a.peerFin = !a.acked || pick(2);
                    a.withinNs = duration();
                    step.action = a;
                    break;
                }
                default:
                    step.action = LingerStep{duration()};
                    break;
                }
                step.name = pick(2) ? defaultStepName(step.action)
                                    : fmt::format("step \"{}\" of {} \\ #{}", i, n, round);
                s.steps.push_back(std::move(step));
            }
            const std::string text = formatScenario(s);
            const auto back = parseScenario(text);
            QVERIFY2(back, back ? "" : (describe(back.error()) + "\n" + text).c_str());
            QVERIFY2(*back == s, text.c_str());
            QCOMPARE(formatScenario(*back), text);
        }
    }

    void format_isReadable() {
        const std::string text = formatScenario(classicScenario(CloseMode::Fin));
        QVERIFY2(text.find("send S seq=iss name=\"SYN\"\n") != std::string::npos, text.c_str());
        QVERIFY2(text.find("expect SA ack=iss+1 within=5000 name=\"SYN-ACK\"\n") !=
                     std::string::npos,
                 text.c_str());
        QVERIFY2(text.find("send PA data=request name=\"GET\"\n") != std::string::npos,
                 text.c_str());
        QVERIFY2(text.starts_with("title The classic exercise"), text.c_str());
        // A default name is left out.
        QCOMPARE(formatScenario(parsed("send S")), std::string("send S\n"));
    }
};

QTEST_GUILESS_MAIN(TestScenario)
#include "tst_scenario.moc"
