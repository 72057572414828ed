// The packetdrill script parser (core/drill/script*): every packet form (flags, sequence,
// ack, win, urg, each TCP option, <...>, the IP information, ports), every time form in
// microseconds, system calls with their expressions, errno and note, commands, code and
// options, UDP and ICMP lines, the errors with their line and column, and round trips
// (formatScript -> parseScript) of our own texts and of generated scripts. With
// TCPLAB_DRILL_CORPUS set (packetdrill's gtests/net/tcp), every .pkt under it round-trips.
#include "tests_support/test_support.h"

#include "drill/script.h"

#include <QDirIterator>
#include <QFile>

#include <random>

using namespace tcplab;
using namespace tcplab::drill;

namespace {

QString qstr(const std::string& s) {
    return QString::fromStdString(s);
}

Script parsed(std::string_view text) {
    auto s = parseScript(text);
    if (!s) {
        qWarning("%s", describe(s.error(), "").c_str());
        return {};
    }
    return *s;
}

/// The single event of a one-event script ("0 " is prepended when `withTime`).
Event only(std::string_view line, bool withTime = true) {
    const Script s = parsed(withTime ? "0 " + std::string(line) : std::string(line));
    if (s.events.size() != 1) {
        qWarning("not one event: %s", std::string(line).c_str());
        return {};
    }
    return s.events[0];
}

template <typename T>
T actionOf(std::string_view line) {
    const Event e = only(line);
    if (const T* a = std::get_if<T>(&e.action))
        return *a;
    qWarning("line did not parse to the expected kind: %s", std::string(line).c_str());
    return T{};
}

PacketSpec packetOf(std::string_view line) {
    return actionOf<PacketSpec>(line);
}
SyscallSpec syscallOf(std::string_view line) {
    return actionOf<SyscallSpec>(line);
}

Expr integer(std::int64_t v, bool hex = false) {
    Expr e;
    e.kind = Expr::Kind::Integer;
    e.integer = v;
    e.hex = hex;
    return e;
}
Expr word(std::string text) {
    Expr e;
    e.kind = Expr::Kind::Word;
    e.text = std::move(text);
    return e;
}
Expr string(std::string text, bool ellipsis = false) {
    Expr e;
    e.kind = Expr::Kind::String;
    e.text = std::move(text);
    e.stringEllipsis = ellipsis;
    return e;
}
Expr ellipsis() {
    return Expr{};
}
Expr binary(std::string op, Expr lhs, Expr rhs) {
    Expr e;
    e.kind = Expr::Kind::Binary;
    e.text = std::move(op);
    e.items = {std::move(lhs), std::move(rhs)};
    return e;
}
Expr list(Expr::Kind kind, std::vector<Expr> items) {
    Expr e;
    e.kind = kind;
    e.items = std::move(items);
    return e;
}
Expr call(std::string name, std::vector<Expr> args) {
    Expr e;
    e.kind = Expr::Kind::Call;
    e.text = std::move(name);
    e.items = std::move(args);
    return e;
}

TcpOptionSpec option(TcpOptionSpec::Kind kind, std::uint32_t value = 0, std::uint32_t echo = 0) {
    TcpOptionSpec o;
    o.kind = kind;
    o.value = value;
    o.echo = echo;
    return o;
}

/// "" when `text` parses, formats to text that parses back equal, and formats again to the
/// same text; otherwise what went wrong.
std::string roundTripFailure(std::string_view text) {
    const auto first = parseScript(text);
    if (!first)
        return "does not parse: " + describe(first.error(), "");
    const std::string formatted = formatScript(*first);
    const auto again = parseScript(formatted);
    if (!again)
        return "the formatted text does not parse (" + describe(again.error(), "") + "):\n" +
               formatted;
    if (!(*again == *first))
        return "the formatted text parses to another script:\n" + formatted;
    if (const std::string twice = formatScript(*again); twice != formatted)
        return "formatting is not stable:\n" + formatted + "--- then ---\n" + twice;
    return {};
}

// ---- generated scripts: only trees that parseScript() can give -------------------------

class Generator {
public:
    explicit Generator(std::uint32_t seed)
        : m_rng(seed) {}

    Script script() {
        Script s;
        for (int i = pick(0, 2); i > 0; --i)
            s.options.push_back(scriptOption());
        if (chance(30))
            s.initCommand = CommandSpec{commandText()};
        for (int i = pick(1, 12); i > 0; --i)
            s.events.push_back(event());
        if (chance(30))
            s.cleanupCommand = CommandSpec{commandText()};
        return s;
    }

    Event event() {
        Event e;
        const int what = pick(0, 99);
        if (what < 45) {
            PacketSpec p = packet();
            e.time = time(p.direction == Direction::Outbound);
            e.action = std::move(p);
        } else if (what < 80) {
            e.time = time(false);
            e.action = syscall();
        } else if (what < 88) {
            e.time = time(false);
            e.action = CommandSpec{commandText()};
        } else if (what < 94) {
            e.time = time(false);
            e.action = CodeSpec{codeText()};
        } else {
            OtherPacketSpec o = otherPacket();
            e.time = time(o.direction == Direction::Outbound);
            e.action = std::move(o);
        }
        return e;
    }

    EventTime time(bool outbound) {
        using TK = EventTime::Kind;
        EventTime t;
        const int kinds = outbound ? 5 : 2;
        t.kind = static_cast<TK>(pick(0, kinds - 1));
        if (t.kind != TK::Any)
            t.usecs = usecs();
        if (t.kind == TK::AbsoluteRange || t.kind == TK::RelativeRange)
            t.endUsecs = t.usecs + usecs();
        return t;
    }

    PacketSpec packet() {
        using E = PacketSpec::Ecn;
        PacketSpec p;
        p.direction = chance(50) ? Direction::Outbound : Direction::Inbound;
        switch (pick(0, 5)) {
        case 0: // (ect0) and friends, maybe with a flow label
            p.ecn = static_cast<E>(pick(1, p.direction == Direction::Outbound ? 5 : 4));
            if (chance(30))
                p.flowLabel = static_cast<std::uint32_t>(pick(0, 0xfffff));
            break;
        case 1:
            p.tos = static_cast<std::uint8_t>(pick(0, 255));
            if (chance(30))
                p.flowLabel = static_cast<std::uint32_t>(pick(0, 0xfffff));
            break;
        case 2:
            p.flowLabel = static_cast<std::uint32_t>(pick(0, 0xfffff));
            break;
        case 3:
            p.ttl = static_cast<std::uint8_t>(pick(0, 255));
            break;
        default:
            break;
        }
        if (chance(20)) {
            p.sourcePort = static_cast<std::uint16_t>(pick(0, 0xffff));
            p.destinationPort = static_cast<std::uint16_t>(pick(0, 0xffff));
        }
        p.flags = flags();
        p.length = static_cast<std::uint16_t>(chance(50) ? 0 : pick(0, 0xffff));
        p.seq = static_cast<std::uint32_t>(u32() % (0x100000000ULL - p.length));
        if (chance(60))
            p.ack = u32();
        if (chance(60))
            p.window = static_cast<std::uint16_t>(pick(0, 0xffff));
        if (chance(10))
            p.urgent = static_cast<std::uint16_t>(pick(0, 0xffff));
        if (p.direction == Direction::Outbound && chance(10))
            p.options.reset();
        else if (chance(60))
            p.options = tcpOptions();
        return p;
    }

    std::string flags() {
        std::string out;
        for (const char c : std::string_view("FSRPU"))
            if (chance(25))
                out += c;
        const bool ecn = chance(20);
        if (ecn)
            for (const char c : std::string_view("EWA"))
                if (chance(50))
                    out += c;
        if (chance(50))
            out += '.';
        // AccECN's ACE digit: "S.5" (a word and a float), ".5" (a float), "S5" (one word).
        if (!ecn && chance(10)) {
            if (out.empty())
                out = ".";
            out += static_cast<char>('0' + pick(0, 7));
        }
        return out;
    }

    std::vector<TcpOptionSpec> tcpOptions() {
        using K = TcpOptionSpec::Kind;
        std::vector<TcpOptionSpec> out;
        unsigned bytes = 0;
        const auto size = [](const TcpOptionSpec& o) { return tcpOptionLength(o); };
        for (int n = pick(1, 6); n > 0; --n) {
            TcpOptionSpec o;
            o.kind = static_cast<K>(pick(0, 9));
            switch (o.kind) {
            case K::Mss:
                o.value = static_cast<std::uint32_t>(pick(0, 0xffff));
                break;
            case K::WindowScale:
                o.value = static_cast<std::uint32_t>(pick(0, 255));
                break;
            case K::Sack:
                for (int b = pick(1, 3); b > 0; --b)
                    o.blocks.emplace_back(u32(), u32());
                break;
            case K::Timestamp:
                o.value = u32();
                o.echo = u32();
                break;
            case K::FastOpen:
            case K::FastOpenExp:
                if (chance(70))
                    o.cookie = hexDigits(2 * pick(1, 8));
                break;
            case K::Md5:
                o.cookie = hexDigits(2 * pick(1, 16));
                break;
            default:
                break;
            }
            if (bytes + size(o) > 40)
                continue;
            bytes += size(o);
            out.push_back(std::move(o));
        }
        while (bytes % 4 != 0) {
            out.push_back(option(K::Nop));
            ++bytes;
        }
        return out;
    }

    /// Hex digits that the lexer reads as one word or integer (so no "0x" in front).
    std::string hexDigits(int n) {
        static constexpr std::string_view kDigits = "0123456789abcdefABCDEF";
        std::string out;
        for (int i = 0; i < n; ++i)
            out += kDigits[static_cast<std::size_t>(pick(0, int(kDigits.size()) - 1))];
        if (out.size() >= 2 && out[0] == '0' && (out[1] == 'x' || out[1] == 'X'))
            out[1] = '1';
        return out;
    }

    SyscallSpec syscall() {
        static constexpr const char* kNames[] = {"socket", "bind",   "listen", "accept",
                                                 "write",  "read",   "close",  "setsockopt",
                                                 "poll",   "sendmsg"};
        SyscallSpec s;
        if (chance(15))
            s.endUsecs = usecs();
        s.name = kNames[pick(0, 9)];
        for (int n = pick(0, 4); n > 0; --n)
            s.arguments.push_back(expr(3));
        s.result = chance(70) ? integer(pick(-1, 2000)) : expr(2);
        if (chance(20)) {
            s.errnoName = chance(50) ? "EINPROGRESS" : "EAGAIN";
            s.note = noteText();
        } else if (chance(10)) {
            s.note = noteText();
        }
        return s;
    }

    /// Any expression the parser gives, at most `depth` levels deep.
    Expr expr(int depth) {
        if (depth <= 1 || chance(40))
            return term(depth, true);
        if (chance(50)) {
            // a | b | c: left-leaning, no "=" inside but as the last operand.
            Expr out = term(depth - 1, false);
            for (int n = pick(1, 3); n > 0; --n)
                out = binary("|", std::move(out), term(depth - 1, false));
            if (chance(20))
                out = binary("|", std::move(out), assignment(depth - 1));
            return out;
        }
        return term(depth, true);
    }

    Expr assignment(int depth) {
        Expr lhs = chance(80) ? word(identifier()) : call("msg_iov", {integer(pick(0, 9))});
        return binary("=", std::move(lhs), expr(depth - 1));
    }

    /// One operand: no "|" at its top, no "=" unless `assign`.
    Expr term(int depth, bool assign) {
        const int what = pick(0, depth <= 1 ? 4 : 9);
        switch (what) {
        case 0:
            return ellipsis();
        case 1: {
            const bool hex = chance(30);
            std::int64_t v = static_cast<std::int64_t>(u64());
            if (hex && v < 0)
                v = -(v + 1);
            if (chance(70))
                v %= 100000;
            return integer(v, hex);
        }
        case 2:
            return word(identifier());
        case 3:
            return string(bytes(), chance(20));
        case 4: {
            Expr out = string(bytes());
            for (int n = pick(1, 2); n > 0; --n)
                out = binary(".", std::move(out), string(bytes()));
            return out;
        }
        case 5:
        case 6: {
            std::vector<Expr> items;
            for (int n = pick(0, 3); n > 0; --n)
                items.push_back(expr(depth - 1));
            return list(what == 5 ? Expr::Kind::List : Expr::Kind::Braces, std::move(items));
        }
        case 7:
            if (assign)
                return assignment(depth);
            return word(identifier());
        default: {
            switch (pick(0, 4)) {
            case 0:
                return call("htons", {integer(pick(0, 0xffff), chance(20))});
            case 1:
                return call("inet_addr",
                            {string(fmt::format("{}.{}.{}.{}", pick(0, 255), pick(0, 255),
                                                pick(0, 255), pick(0, 255)))});
            case 2:
                return call("inet6_addr", {string(chance(50) ? "::1" : "2001:db8::42")});
            case 3:
                return call("msg_name", {ellipsis()});
            default: {
                std::vector<Expr> items;
                for (int n = pick(0, 2); n > 0; --n)
                    items.push_back(expr(depth - 1));
                return call("msg_iov", std::move(items));
            }
            }
        }
        }
    }

    std::string identifier() {
        static constexpr const char* kWords[] = {
            "AF_INET", "SOCK_STREAM", "IPPROTO_TCP", "SOL_SOCKET", "SO_REUSEADDR", "POLLIN",
            "fd",      "events",      "revents",     "onoff",      "linger",       "MSG_ZEROCOPY",
            "x1",      "_y",          "TCP_INFO",    "O_NONBLOCK", "tcpi_state",   "e5"};
        return kWords[pick(0, 17)];
    }

    std::string bytes() {
        std::string out;
        for (int n = pick(0, 8); n > 0; --n) {
            const int c = pick(0, 20);
            if (c == 0)
                out += '\0';
            else if (c == 1)
                out += '"';
            else if (c == 2)
                out += '\\';
            else if (c == 3)
                out += '\n';
            else if (c == 4)
                out += static_cast<char>(pick(0x80, 0xff));
            else
                out += static_cast<char>(pick(0x20, 0x7e));
        }
        return out;
    }

    std::string noteText() {
        static constexpr const char* kWords[] = {"Operation", "now", "in", "progress",
                                                 "Resource",  "42",  "_x", "-1"};
        std::string out = "Word";
        for (int n = pick(0, 3); n > 0; --n)
            out += std::string(" ") + kWords[pick(0, 7)];
        return out;
    }

    std::string commandText() {
        static constexpr const char* kPieces[] = {
            "sysctl -q net.ipv4.tcp_sack=0", " ", "echo \"a b\"", "\\`", "; ", "\n", "$x", "//c",
            "../common/defaults.sh"};
        std::string out;
        for (int n = pick(1, 4); n > 0; --n)
            out += kPieces[pick(0, 8)];
        return out;
    }

    std::string codeText() {
        static constexpr const char* kPieces[] = {
            "assert tcpi_state == 1", "\n", "print(x)", "{", "}", "x = 1", "%"};
        std::string out;
        for (int n = pick(0, 4); n > 0; --n)
            out += kPieces[pick(0, 6)];
        // What the lexer keeps: no "}%" inside, no spaces or tabs at either end.
        while (out.find("}%") != std::string::npos)
            out.erase(out.find("}%"), 2);
        return out;
    }

    ScriptOption scriptOption() {
        static constexpr const char* kNames[] = {"tolerance_usecs", "ip_version", "define",
                                                 "strict_segments", "mtu"};
        static constexpr const char* kValues[] = {"",       "10000",   "ipv4",     "CC=\"reno\"",
                                                  "a b c",  "x=`y z`", "a\"q r\"", "192.0.2.1",
                                                  "a//b c", "tab\tx"};
        return ScriptOption{kNames[pick(0, 4)], kValues[pick(0, 9)], {}};
    }

    OtherPacketSpec otherPacket() {
        OtherPacketSpec o;
        o.direction = chance(50) ? Direction::Outbound : Direction::Inbound;
        static constexpr const char* kTexts[] = {"udp (1472)",
                                                 "udp 1234>53 (0)",
                                                 "(tos 0x10) udp (8)",
                                                 "icmp unreachable frag_needed mtu 1200 "
                                                 "[1:1461(1460)]",
                                                 "icmp unreachable",
                                                 "icmp echo_reply id 7 [udp (10)]",
                                                 "(ttl 3) icmp time_exceeded [raw (20)]"};
        o.text = kTexts[pick(0, 6)];
        return o;
    }

private:
    int pick(int low, int high) { return std::uniform_int_distribution<int>(low, high)(m_rng); }
    bool chance(int percent) { return pick(0, 99) < percent; }
    std::uint32_t u32() { return static_cast<std::uint32_t>(m_rng()); }
    std::uint64_t u64() { return (std::uint64_t{u32()} << 32) | u32(); }
    std::int64_t usecs() {
        switch (pick(0, 3)) {
        case 0:
            return 0;
        case 1:
            return pick(0, 999) * 1000;
        case 2:
            return pick(0, 999'999);
        default:
            return std::int64_t{pick(0, 100)} * 1'000'000 + pick(0, 999'999);
        }
    }

    std::mt19937 m_rng;
};

} // namespace

class TestDrillScript : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // ---- packets ------------------------------------------------------------------------

    void packet_flags_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("flags");
        QTest::newRow("S") << "S"
                           << "S";
        QTest::newRow("S.") << "S."
                            << "S.";
        QTest::newRow(".") << "."
                           << ".";
        QTest::newRow("P.") << "P."
                            << "P.";
        QTest::newRow("F.") << "F."
                            << "F.";
        QTest::newRow("R") << "R"
                           << "R";
        QTest::newRow("R.") << "R."
                            << "R.";
        QTest::newRow("E") << "E"
                           << "E";
        QTest::newRow("W") << "W"
                           << "W";
        QTest::newRow("- is none") << "-"
                                   << "";
        QTest::newRow("SEW") << "SEW"
                             << "SEW";
        QTest::newRow("FP.") << "FP."
                             << "FP.";
        QTest::newRow("PU.") << "PU."
                             << "PU.";
        QTest::newRow("S.E") << "SE."
                             << "SE.";
        QTest::newRow("S. apart") << "S ."
                                  << "S.";
        QTest::newRow("ACE S.5") << "S.5"
                                 << "S.5";
        QTest::newRow("ACE .3") << ".3"
                                << ".3";
        QTest::newRow("ACE in a word") << "S2"
                                       << "S2";
    }
    void packet_flags() {
        QFETCH(QString, text);
        QFETCH(QString, flags);
        const PacketSpec p = packetOf("< " + text.toStdString() + " 0:0(0) win 1000");
        QCOMPARE(qstr(p.flags), flags);
        QCOMPARE(p.window, std::optional<std::uint16_t>(1000));
        QCOMPARE(p.direction, Direction::Inbound);
    }

    void packet_sequenceAckWindowUrgent() {
        const PacketSpec p = packetOf("> P. 1:1001(1000) ack 4294967295 win 65535 urg 7");
        QCOMPARE(p.direction, Direction::Outbound);
        QCOMPARE(qstr(p.flags), QString("P."));
        QCOMPARE(p.seq, 1u);
        QCOMPARE(p.length, std::uint16_t(1000));
        QCOMPARE(p.ack, std::optional<std::uint32_t>(4294967295u));
        QCOMPARE(p.window, std::optional<std::uint16_t>(65535));
        QCOMPARE(p.urgent, std::optional<std::uint16_t>(7));
        QVERIFY(p.options && p.options->empty());
        QVERIFY(!p.sourcePort && !p.destinationPort && !p.tos && !p.ttl && !p.flowLabel);
        QCOMPARE(p.ecn, PacketSpec::Ecn::None);

        const PacketSpec bare = packetOf("< S 4294967295:4294967295(0)");
        QCOMPARE(bare.seq, 4294967295u);
        QCOMPARE(bare.length, std::uint16_t(0));
        QVERIFY(!bare.ack && !bare.window && !bare.urgent);
        QCOMPARE(qstr(formatPacket(bare)), QString("< S 4294967295:4294967295(0)"));
    }

    void packet_everyOption() {
        using K = TcpOptionSpec::Kind;
        using Blocks = std::vector<std::pair<std::uint32_t, std::uint32_t>>;
        // 4+2+10+1+3+18+1+1 = 40 bytes: as many as a TCP header holds.
        const PacketSpec p = packetOf("< S 0:0(0) win 32792 <mss 1460,sackOK,TS val 100 ecr 0,nop,"
                                      "wscale 7,sack 1:2 3:4,nop,nop>");
        QVERIFY(p.options);
        const auto& o = *p.options;
        QCOMPARE(o.size(), std::size_t(8));
        QCOMPARE(o[0], option(K::Mss, 1460));
        QCOMPARE(o[1], option(K::SackOk));
        QCOMPARE(o[2], option(K::Timestamp, 100, 0));
        QCOMPARE(o[3], option(K::Nop));
        QCOMPARE(o[4], option(K::WindowScale, 7));
        QCOMPARE(o[5].kind, K::Sack);
        QVERIFY((o[5].blocks == Blocks{{1, 2}, {3, 4}}));
        QCOMPARE(o[6], option(K::Nop));
        QCOMPARE(qstr(formatPacket(p)), QString("< S 0:0(0) win 32792 <mss 1460,sackOK,TS val 100 "
                                                "ecr 0,nop,wscale 7,sack 1:2 3:4,nop,nop>"));

        const PacketSpec more =
            packetOf("< S 0:0(0) <eol,FO abcd,md5 00112233445566778899aabbccddeeff,FOEXP,nop>");
        QVERIFY(more.options);
        const auto& m = *more.options;
        QCOMPARE(m.size(), std::size_t(5));
        QCOMPARE(m[0], option(K::Eol));
        QCOMPARE(m[1].kind, K::FastOpen);
        QCOMPARE(qstr(m[1].cookie), QString("abcd"));
        QCOMPARE(m[2].kind, K::Md5);
        QCOMPARE(qstr(m[2].cookie), QString("00112233445566778899aabbccddeeff"));
        QCOMPARE(m[3].kind, K::FastOpenExp);
        QVERIFY(m[3].cookie.empty());
        QCOMPARE(qstr(formatPacket(more)),
                 QString("< S 0:0(0) <eol,FO abcd,md5 00112233445566778899aabbccddeeff,FOEXP,"
                         "nop>"));

        const PacketSpec sack = packetOf("> . 1:1(0) ack 1 <nop,nop,sack 1001:2001 3001:4001>");
        QVERIFY(sack.options);
        QCOMPARE(sack.options->size(), std::size_t(3));
        QVERIFY((sack.options->back().blocks == Blocks{{1001, 2001}, {3001, 4001}}));
        // A cookie of digits only is an integer token, kept as written.
        const PacketSpec digits = packetOf("< S 0:0(0) <FO 0123>");
        QVERIFY(digits.options);
        QCOMPARE(digits.options->size(), std::size_t(1));
        QCOMPARE(qstr(digits.options->at(0).cookie), QString("0123"));
    }

    void packet_anyOptions() {
        const PacketSpec p = packetOf("> S. 0:0(0) ack 1 <...>");
        QVERIFY(!p.options);
        QCOMPARE(qstr(formatPacket(p)), QString("> S. 0:0(0) ack 1 <...>"));
        const PacketSpec none = packetOf("> S. 0:0(0) ack 1");
        QVERIFY(none.options && none.options->empty());
        QVERIFY(!(p == none));
    }

    void packet_ipInformation_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<int>("ecn");
        QTest::addColumn<int>("tos");       // -1: none
        QTest::addColumn<int>("flowLabel"); // -1: none
        QTest::addColumn<int>("ttl");       // -1: none
        QTest::addColumn<QString>("formatted");
        using E = PacketSpec::Ecn;
        QTest::newRow("(ect0)") << "(ect0)" << int(E::Ect0) << -1 << -1 << -1 << "(ect0)";
        QTest::newRow("(ect1)") << "(ect1)" << int(E::Ect1) << -1 << -1 << -1 << "(ect1)";
        QTest::newRow("(ce)") << "(ce)" << int(E::Ce) << -1 << -1 << -1 << "(ce)";
        QTest::newRow("(noecn)") << "(noecn)" << int(E::NoEcn) << -1 << -1 << -1 << "(noecn)";
        QTest::newRow("[ect01]") << "[ect01]" << int(E::Ect01) << -1 << -1 << -1 << "[ect01]";
        QTest::newRow("[ect0] brackets") << "[ect0]" << int(E::Ect0) << -1 << -1 << -1 << "(ect0)";
        QTest::newRow("tos") << "(tos 0x2)" << int(E::None) << 2 << -1 << -1 << "(tos 0x02)";
        QTest::newRow("tos, flowlabel") << "(tos 0xb8, flowlabel 0x12345)" << int(E::None) << 0xb8
                                        << 0x12345 << -1 << "(tos 0xb8, flowlabel 0x12345)";
        QTest::newRow("ce, flowlabel") << "(ce,flowlabel 0xfffff)" << int(E::Ce) << -1 << 0xfffff
                                       << -1 << "(ce, flowlabel 0xfffff)";
        QTest::newRow("flowlabel")
            << "(flowlabel 0x1)" << int(E::None) << -1 << 1 << -1 << "(flowlabel 0x1)";
        QTest::newRow("ttl") << "(ttl 64)" << int(E::None) << -1 << -1 << 64 << "(ttl 64)";
    }
    void packet_ipInformation() {
        QFETCH(QString, text);
        QFETCH(int, ecn);
        QFETCH(int, tos);
        QFETCH(int, flowLabel);
        QFETCH(int, ttl);
        QFETCH(QString, formatted);
        const PacketSpec p = packetOf("> " + text.toStdString() + " S 0:0(0)");
        QCOMPARE(int(p.ecn), ecn);
        QCOMPARE(p.tos ? int(*p.tos) : -1, tos);
        QCOMPARE(p.flowLabel ? int(*p.flowLabel) : -1, flowLabel);
        QCOMPARE(p.ttl ? int(*p.ttl) : -1, ttl);
        QCOMPARE(qstr(formatPacket(p)), "> " + formatted + " S 0:0(0)");
    }

    void packet_ports() {
        const PacketSpec p = packetOf("< 1234>80 S 0:0(0) win 100");
        QCOMPARE(p.sourcePort, std::optional<std::uint16_t>(1234));
        QCOMPARE(p.destinationPort, std::optional<std::uint16_t>(80));
        QCOMPARE(qstr(p.flags), QString("S"));
        QCOMPARE(qstr(formatPacket(p)), QString("< 1234>80 S 0:0(0) win 100"));
        const PacketSpec both = packetOf("> (ect0) 65535>0 . 1:1(0) ack 1");
        QCOMPARE(both.sourcePort, std::optional<std::uint16_t>(65535));
        QCOMPARE(both.destinationPort, std::optional<std::uint16_t>(0));
        QCOMPARE(both.ecn, PacketSpec::Ecn::Ect0);
    }

    // ---- times --------------------------------------------------------------------------

    void times_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<int>("kind");
        QTest::addColumn<qint64>("usecs");
        QTest::addColumn<qint64>("endUsecs");
        QTest::addColumn<QString>("formatted");
        using TK = EventTime::Kind;
        QTest::newRow("0") << "0" << int(TK::Absolute) << qint64(0) << qint64(0) << "0";
        QTest::newRow("0.100") << "0.100" << int(TK::Absolute) << qint64(100000) << qint64(0)
                               << "0.1";
        QTest::newRow("2") << "2" << int(TK::Absolute) << qint64(2000000) << qint64(0) << "2";
        QTest::newRow("1.000001") << "1.000001" << int(TK::Absolute) << qint64(1000001) << qint64(0)
                                  << "1.000001";
        QTest::newRow("below a microsecond dropped")
            << "0.0000019" << int(TK::Absolute) << qint64(1) << qint64(0) << "0.000001";
        QTest::newRow("+.1") << "+.1" << int(TK::Relative) << qint64(100000) << qint64(0) << "+0.1";
        QTest::newRow("+0") << "+0" << int(TK::Relative) << qint64(0) << qint64(0) << "+0";
        QTest::newRow("+1.5") << "+1.5" << int(TK::Relative) << qint64(1500000) << qint64(0)
                              << "+1.5";
        QTest::newRow("*") << "*" << int(TK::Any) << qint64(0) << qint64(0) << "*";
        QTest::newRow("0.1~0.2") << "0.1~0.2" << int(TK::AbsoluteRange) << qint64(100000)
                                 << qint64(200000) << "0.1~0.2";
        QTest::newRow("+0.1~+0.2") << "+0.1~+0.2" << int(TK::RelativeRange) << qint64(100000)
                                   << qint64(200000) << "+0.1~+0.2";
        QTest::newRow("+.01~+1") << "+.01~+1" << int(TK::RelativeRange) << qint64(10000)
                                 << qint64(1000000) << "+0.01~+1";
    }
    void times() {
        QFETCH(QString, text);
        QFETCH(int, kind);
        QFETCH(qint64, usecs);
        QFETCH(qint64, endUsecs);
        QFETCH(QString, formatted);
        // An outbound packet: the only action that takes every time form.
        const Event e = only(text.toStdString() + " > S 0:0(0)", false);
        QCOMPARE(int(e.time.kind), kind);
        QCOMPARE(qint64(e.time.usecs), usecs);
        QCOMPARE(qint64(e.time.endUsecs), endUsecs);
        QCOMPARE(qstr(formatTime(e.time)), formatted);
        QCOMPARE(e.pos.line, 1u);
        QCOMPARE(e.pos.column, 1u);
    }

    // ---- system calls -------------------------------------------------------------------

    void syscall_plain() {
        const SyscallSpec s = syscallOf("socket(..., SOCK_STREAM, IPPROTO_TCP) = 3");
        QCOMPARE(qstr(s.name), QString("socket"));
        QCOMPARE(s.arguments.size(), std::size_t(3));
        QCOMPARE(s.arguments[0], ellipsis());
        QCOMPARE(s.arguments[1], word("SOCK_STREAM"));
        QCOMPARE(s.arguments[2], word("IPPROTO_TCP"));
        QCOMPARE(s.result, integer(3));
        QVERIFY(!s.endUsecs && s.errnoName.empty() && s.note.empty());
        const SyscallSpec none = syscallOf("getpid() = 0x10");
        QVERIFY(none.arguments.empty());
        QCOMPARE(none.result, integer(16, true));
        QCOMPARE(qstr(formatExpr(none.result)), QString("0x10"));
    }

    void syscall_errnoAndNote() {
        const SyscallSpec s = syscallOf("connect(3, ..., ...) = -1 EINPROGRESS (Operation now in "
                                        "progress)");
        QCOMPARE(s.result, integer(-1));
        QCOMPARE(qstr(s.errnoName), QString("EINPROGRESS"));
        QCOMPARE(qstr(s.note), QString("Operation now in progress"));
        QCOMPARE(qstr(formatEvent(only("connect(3, ..., ...) = -1 EINPROGRESS (Operation now "
                                       "in progress)"))),
                 QString("0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)"));
        const SyscallSpec noted = syscallOf("write(4, ..., 10) = 10 (all of it 10)");
        QVERIFY(noted.errnoName.empty());
        QCOMPARE(qstr(noted.note), QString("all of it 10"));
    }

    void syscall_expressions() {
        using EK = Expr::Kind;
        const SyscallSpec s = syscallOf(
            "setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, [1], [], "
            "O_RDWR|O_NONBLOCK|0x4, \"ab\\n\\x00\", \"a\" \"b\", \"abc\"..., -9223372036854775808, "
            "{sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr(\"192.0.2.1\")}, "
            "inet6_addr(\"2001:db8::1\"), [{fd=3, events=POLLIN, revents=POLLOUT}]) = 0");
        QCOMPARE(s.arguments.size(), std::size_t(14));
        QCOMPARE(s.arguments[3], list(EK::Braces, {binary("=", word("onoff"), integer(1)),
                                                   binary("=", word("linger"), integer(0))}));
        QCOMPARE(s.arguments[4], list(EK::List, {integer(1)}));
        QCOMPARE(s.arguments[5], list(EK::List, {}));
        QCOMPARE(s.arguments[6],
                 binary("|", binary("|", word("O_RDWR"), word("O_NONBLOCK")), integer(4, true)));
        QCOMPARE(s.arguments[7], string(std::string("ab\n\0", 4)));
        QCOMPARE(s.arguments[8], binary(".", string("a"), string("b")));
        QCOMPARE(s.arguments[9], string("abc", true));
        QCOMPARE(s.arguments[10], integer(std::numeric_limits<std::int64_t>::min()));
        QCOMPARE(s.arguments[11],
                 list(EK::Braces,
                      {binary("=", word("sa_family"), word("AF_INET")),
                       binary("=", word("sin_port"), call("htons", {integer(8080)})),
                       binary("=", word("sin_addr"), call("inet_addr", {string("192.0.2.1")}))}));
        QCOMPARE(s.arguments[12], call("inet6_addr", {string("2001:db8::1")}));
        QCOMPARE(
            s.arguments[13],
            list(EK::List, {list(EK::Braces, {binary("=", word("fd"), integer(3)),
                                              binary("=", word("events"), word("POLLIN")),
                                              binary("=", word("revents"), word("POLLOUT"))})}));
        const SyscallSpec poll = syscallOf("poll([{fd=3, events=POLLIN, revents=POLLOUT}], 1, 0) "
                                           "= 1");
        QCOMPARE(
            poll.arguments[0],
            list(EK::List, {list(EK::Braces, {binary("=", word("fd"), integer(3)),
                                              binary("=", word("events"), word("POLLIN")),
                                              binary("=", word("revents"), word("POLLOUT"))})}));
        // "=" takes everything after it, "|" included.
        const SyscallSpec flags = syscallOf("f(events=POLLIN|POLLOUT) = 0");
        QCOMPARE(flags.arguments[0],
                 binary("=", word("events"), binary("|", word("POLLIN"), word("POLLOUT"))));
        QCOMPARE(qstr(formatExpr(flags.arguments[0])), QString("events=POLLIN|POLLOUT"));
        // msghdr: msg_name(...)=..., msg_iov(1)=[...].
        const SyscallSpec msg =
            syscallOf("sendmsg(4, {msg_name(...)=..., msg_iov(1)=[{iov_base=..., iov_len=10}], "
                      "msg_flags=0}, 0) = 10");
        QCOMPARE(msg.arguments[1].items[0],
                 binary("=", call("msg_name", {ellipsis()}), ellipsis()));
        QCOMPARE(msg.arguments[1].items[1].items[0], call("msg_iov", {integer(1)}));
        QCOMPARE(qstr(formatExpr(msg.arguments[1])),
                 QString("{msg_name(...)=..., msg_iov(1)=[{iov_base=..., iov_len=10}], "
                         "msg_flags=0}"));
        QCOMPARE(qstr(formatExpr(s.arguments[7])), QString("\"ab\\n\\x00\""));
        QCOMPARE(qstr(formatExpr(s.arguments[8])), QString("\"a\" \"b\""));
        QCOMPARE(qstr(formatExpr(s.arguments[9])), QString("\"abc\"..."));
    }

    void syscall_blocking() {
        const Event e = only("+0 ...0.1 accept(3, ..., ...) = 4", false);
        const auto& s = std::get<SyscallSpec>(e.action);
        QCOMPARE(e.time.kind, EventTime::Kind::Relative);
        QCOMPARE(s.endUsecs, std::optional<std::int64_t>(100000));
        QCOMPARE(qstr(s.name), QString("accept"));
        QCOMPARE(s.result, integer(4));
        QCOMPARE(qstr(formatEvent(e)), QString("+0 ...0.1 accept(3, ..., ...) = 4"));
        // As packetdrill's own scripts write it, glued: "+.01...0.011 connect(...)".
        const Event glued = only("+.01...0.011 connect(3, ..., ...) = 0", false);
        QCOMPARE(glued.time.usecs, std::int64_t(10000));
        QCOMPARE(std::get<SyscallSpec>(glued.action).endUsecs, std::optional<std::int64_t>(11000));
    }

    // ---- commands, code, options, other packets ------------------------------------------

    void defines_readAsTheirValues() {
        // packetdrill's -D: a defined word is read as a number, a "string", a `command` or
        // a word (lexer.l's word()); other words stay.
        const Defines d = {{"LEVEL", "SOL_SOCKET"},
                           {"SIZE", "0x10"},
                           {"COUNT", "-1"},
                           {"TEXT", "\"hi\""},
                           {"CMD", "`sysctl -q net.ipv4.tcp_sack=0`"}};
        const auto s = parseScript("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                                   "+0 setsockopt(3, LEVEL, SO_RCVBUF, [SIZE], 4) = COUNT\n"
                                   "+0 write(3, TEXT, 2) = 2\n"
                                   "+0 CMD\n",
                                   d);
        QVERIFY2(s.has_value(), s ? "" : s.error().message.c_str());
        QCOMPARE(qstr(formatEvent(s->events[1])),
                 QString("+0 setsockopt(3, SOL_SOCKET, SO_RCVBUF, [0x10], 4) = -1"));
        QCOMPARE(qstr(formatEvent(s->events[2])), QString("+0 write(3, \"hi\", 2) = 2"));
        QCOMPARE(qstr(std::get<CommandSpec>(s->events[3].action).command),
                 QString("sysctl -q net.ipv4.tcp_sack=0"));
        // Without the definitions the words stay words (and LEVEL is no level).
        const auto plain = parseScript("0 setsockopt(3, LEVEL, SO_RCVBUF, [1], 4) = 0\n");
        QVERIFY(plain.has_value());
        QCOMPARE(qstr(formatEvent(plain->events[0])),
                 QString("0 setsockopt(3, LEVEL, SO_RCVBUF, [1], 4) = 0"));
    }

    void commands_initMidAndCleanup() {
        const Script s = parsed("`../common/defaults.sh`\n"
                                "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                                "+0 `sysctl -q net.ipv4.tcp_sack=0; echo \\`x\\``\n"
                                "+0 close(3) = 0\n"
                                "`echo done`\n");
        QVERIFY(s.initCommand);
        QCOMPARE(qstr(s.initCommand->command), QString("../common/defaults.sh"));
        QCOMPARE(s.events.size(), std::size_t(3));
        QCOMPARE(qstr(std::get<CommandSpec>(s.events[1].action).command),
                 QString("sysctl -q net.ipv4.tcp_sack=0; echo \\`x\\`"));
        QCOMPARE(s.events[1].pos.line, 3u);
        QVERIFY(s.cleanupCommand);
        QCOMPARE(qstr(s.cleanupCommand->command), QString("echo done"));
        QCOMPARE(qstr(formatScript(s)), QString("`../common/defaults.sh`\n"
                                                "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                                                "+0 `sysctl -q net.ipv4.tcp_sack=0; echo \\`x\\``\n"
                                                "+0 close(3) = 0\n"
                                                "`echo done`\n"));
    }

    void code_block() {
        const Script s = parsed("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                                "+0 %{ assert tcpi_state == 1, tcpi_state }%\n"
                                "+0 %{\n"
                                "\tprint(tcpi_rto)\n"
                                "}%\n");
        QCOMPARE(s.events.size(), std::size_t(3));
        QCOMPARE(qstr(std::get<CodeSpec>(s.events[1].action).code),
                 QString("assert tcpi_state == 1, tcpi_state"));
        QCOMPARE(qstr(std::get<CodeSpec>(s.events[2].action).code),
                 QString("\n\tprint(tcpi_rto)\n"));
        QCOMPARE(qstr(formatEvent(s.events[1])),
                 QString("+0 %{ assert tcpi_state == 1, tcpi_state }%"));
    }

    void options_beforeTheFirstEvent() {
        const Script s = parsed("// a comment\n"
                                "--tolerance_usecs=10000\n"
                                "--strict_segments\n"
                                "--define=CC=\"reno\" /* c */ --remote_ip=\"192.0.2.1\"\n"
                                "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n");
        QCOMPARE(s.options.size(), std::size_t(4));
        QCOMPARE(qstr(s.options[0].name), QString("tolerance_usecs"));
        QCOMPARE(qstr(s.options[0].value), QString("10000"));
        QCOMPARE(qstr(s.options[1].name), QString("strict_segments"));
        QVERIFY(s.options[1].value.empty());
        QCOMPARE(qstr(s.options[2].name), QString("define"));
        QCOMPARE(qstr(s.options[2].value), QString("CC=\"reno\""));
        QCOMPARE(qstr(s.options[3].value), QString("192.0.2.1"));
        QCOMPARE(s.options[3].pos.line, 4u);
        QCOMPARE(s.events[0].pos.line, 5u);
        QCOMPARE(qstr(formatScript(s)), QString("--tolerance_usecs=10000\n"
                                                "--strict_segments\n"
                                                "--define=CC=\"reno\"\n"
                                                "--remote_ip=192.0.2.1\n"
                                                "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"));
        // A value with a space is quoted when written again.
        const Script spaced = parsed("--x=\"a b\"\n0 f() = 0\n");
        QCOMPARE(qstr(spaced.options[0].value), QString("a b"));
        QCOMPARE(qstr(formatScript(spaced)), QString("--x=\"a b\"\n0 f() = 0\n"));
    }

    void otherPackets_keptAsText_data() {
        QTest::addColumn<QString>("line");
        QTest::addColumn<QString>("text");
        QTest::newRow("udp") << "< udp (1472)"
                             << "udp (1472)";
        QTest::newRow("udp ports") << "> udp 1234>53 (8)"
                                   << "udp 1234>53 (8)";
        QTest::newRow("udp tos") << "< (tos 0x10) udp (8)"
                                 << "(tos 0x10) udp (8)";
        QTest::newRow("icmp frag_needed")
            << "< icmp unreachable frag_needed mtu 1200 [1:1461(1460)]"
            << "icmp unreachable frag_needed mtu 1200 [1:1461(1460)]";
        QTest::newRow("icmp type only") << "< icmp unreachable"
                                        << "icmp unreachable";
        QTest::newRow("icmp seq") << "< icmp unreachable [5000:6000(1000)]"
                                  << "icmp unreachable [5000:6000(1000)]";
        QTest::newRow("icmp udp") << "> icmp echo_reply id 7 [udp (10)]"
                                  << "icmp echo_reply id 7 [udp (10)]";
    }
    void otherPackets_keptAsText() {
        QFETCH(QString, line);
        QFETCH(QString, text);
        const auto o = actionOf<OtherPacketSpec>(line.toStdString());
        QCOMPARE(qstr(o.text), text);
        QCOMPARE(o.direction, line.startsWith('>') ? Direction::Outbound : Direction::Inbound);
        QCOMPARE(qstr(formatEvent(only(line.toStdString()))), "0 " + line);
    }

    // ---- errors -------------------------------------------------------------------------

    void errors_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<int>("line");
        QTest::addColumn<int>("column");
        QTest::addColumn<QString>("message");
        QTest::newRow("unknown option") << "0 socket() = 3\n+0 < S 0:0(0) <mss 1460,foo 1>" << 2
                                        << 25 << "unknown TCP option 'foo'";
        QTest::newRow("inconsistent seq")
            << "0 < S 0:10(5)" << 1 << 7 << "inconsistent TCP sequence numbers and payload size";
        QTest::newRow("star inbound")
            << "* < S 0:0(0)" << 1 << 1 << "event time <star> can only be used with outbound";
        QTest::newRow("range on a call") << "\n0.1~0.2 close(3) = 0" << 2 << 1
                                         << "event time range can only be used with outbound";
        QTest::newRow("backwards range")
            << "0.2~0.1 > S 0:0(0)" << 1 << 1 << "time range is backwards";
        QTest::newRow("<...> inbound") << "0 < S 0:0(0) <...>" << 1 << 14
                                       << "<...> for TCP options can only be used with outbound";
        QTest::newRow("[ect01] inbound")
            << "0 < [ect01] S 0:0(0)" << 1 << 6 << "[ect01] can only be used with outbound packets";
        QTest::newRow("unpadded options")
            << "0 < S 0:0(0) <mss 1460,wscale 7>" << 1 << 14 << "not padded correctly";
        QTest::newRow("options too long")
            << "0 < S 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,sack 1:2 3:4 5:6>" << 1 << 48
            << "TCP option list too long: 42 bytes with 'sack'";
        QTest::newRow("window out of range")
            << "0 < . 1:1(0) win 65536" << 1 << 18 << "TCP window value 65536 out of range";
        QTest::newRow("bad flag") << "0 < SX 0:0(0)" << 1 << 5 << "invalid TCP flag 'X'";
        QTest::newRow("missing =") << "0 close(3) 0" << 1 << 12 << "expected '=' and the expected";
        QTest::newRow("unterminated string")
            << "0 write(3, \"abc, 3) = 3\n+0 close(3) = 0" << 1 << 12 << "unterminated string";
        QTest::newRow("unterminated command") << "0 `echo" << 1 << 3 << "unterminated command";
        QTest::newRow("unterminated comment")
            << "0 close(3) = 0\n  /* no end" << 2 << 3 << "unterminated comment";
        QTest::newRow("late option")
            << "0 close(3) = 0\n--mtu=1500" << 2 << 1 << "the option '--mtu' comes too late";
        QTest::newRow("negative time") << "-1 close(3) = 0" << 1 << 1 << "negative time -1";
        QTest::newRow("no time") << "close(3) = 0" << 1 << 1 << "expected an event time";
        QTest::newRow("empty script") << "" << 1 << 1 << "found the end of the script";
        QTest::newRow("bad escape")
            << "0 write(3, \"\\q\", 1) = 1" << 1 << 12 << "unsupported escape '\\q'";
        QTest::newRow("htons argument") << "0 f(htons(70000)) = 0" << 1 << 5 << "htons() takes";
        QTest::newRow("bad address") << "0 f(inet_addr(\"1.2.3\")) = 0" << 1 << 15
                                     << "cannot parse \"1.2.3\" as an IPv4 address";
        QTest::newRow("odd cookie")
            << "0 < S 0:0(0) <FO abc,nop>" << 1 << 18 << "odd number of digits";
        QTest::newRow("TFO_COOKIE symbol")
            << "0 < S 0:0(0) <FOEXP TFO_COOKIE,nop,nop>" << 1 << 21 << "-D NAME=VALUE would define";
        QTest::newRow("after cleanup")
            << "0 close(3) = 0\n`x`\n+0 close(4) = 0" << 3 << 1 << "after the cleanup command";
        QTest::newRow("deep nesting") << "0 f(" + QString(70, '[') + QString(70, ']') + ") = 0" << 1
                                      << 69 << "nested too deeply";
        QTest::newRow("bad character") << "0 f(\x01) = 0" << 1 << 5 << "unexpected character 0x01";
        QTest::newRow("out of order")
            << "0 < . 1:1(0) win 10 ack 1" << 1 << 21 << "'ack' is out of order";
        QTest::newRow("second note") << "0 f() = -1 EAGAIN (x) (y)" << 1 << 23 << "a second note";
    }
    void errors() {
        QFETCH(QString, text);
        QFETCH(int, line);
        QFETCH(int, column);
        QFETCH(QString, message);
        const auto s = parseScript(text.toStdString());
        QVERIFY2(!s, qPrintable("parsed: " + text));
        const QString what = qstr(describe(s.error(), "t.pkt"));
        QVERIFY2(qstr(s.error().message).contains(message), qPrintable(what));
        QCOMPARE(int(s.error().line), line);
        QCOMPARE(int(s.error().column), column);
        QVERIFY(what.startsWith(QString("t.pkt:%1:%2: ").arg(line).arg(column)));
    }

    void describe_withAndWithoutFile() {
        const ScriptError e{3, 7, "oops"};
        QCOMPARE(qstr(describe(e, "a.pkt")), QString("a.pkt:3:7: oops"));
        QCOMPARE(qstr(describe(e, "")), QString("line 3:7: oops"));
    }

    // ---- round trips --------------------------------------------------------------------

    void roundTrip_ownTexts_data() {
        QTest::addColumn<QString>("text");
        QTest::newRow("server handshake") << "--tolerance_usecs=10000\n"
                                             "`../common/defaults.sh`\n"
                                             "0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                                             "+0  setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) "
                                             "= 0\n"
                                             "+0  bind(3, ..., ...) = 0\n"
                                             "+0  listen(3, 1) = 0\n"
                                             "+0  < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,"
                                             "nop,wscale 7>\n"
                                             "+0  > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,"
                                             "wscale 8>\n"
                                             "+.1 < . 1:1(0) ack 1 win 257\n"
                                             "+0  accept(3, ..., ...) = 4\n"
                                             "+0  write(4, ..., 1000) = 1000\n"
                                             "+0  > P. 1:1001(1000) ack 1\n"
                                             "+0  `sysctl -q net.ipv4.tcp_sack=0`\n";
        QTest::newRow("every packet form")
            << "0 < (ect0) 1234>80 SEW 0:0(0) win 1 <mss 1460,sackOK,TS val 100 ecr 0,nop,"
               "wscale 7,eol,FO abcd,FOEXP,nop,nop,nop>\n"
               "* > [ect01, flowlabel 0x3] S.5 0:0(0) ack 1 urg 3 <...>\n"
               "0.1~0.2 > (ttl 1) - 7:7(0)\n"
               "+0.1~+0.2 > (tos 0xfc) R. 1:1(0) ack 1 <md5 00112233445566778899aabbccddeeff,"
               "sack 1:2,nop,nop,nop,nop>\n"
               "+0 < icmp unreachable frag_needed mtu 1200 [1:1461(1460)]\n"
               "+0 > udp (0)\n";
        QTest::newRow("every expression")
            << "0 f(..., -1, 0xff, W, \"s\\t\\\"\", \"a\" \"b\" \"c\", \"x\"..., A|B|C, x=[1, "
               "{y=2}]|Z,"
               " [], {}, htons(0), inet_addr(\"0.0.0.0\"), inet6_addr(\"::\"), msg_name(...), "
               "msg_iov(1)=[]) = A|B EAGAIN (Resource temporarily unavailable)\n"
               "+0 ...0 g() = \"r\" (note)\n"
               "+1 %{ x = 1 }%\n"
               "`cleanup`\n";
    }
    void roundTrip_ownTexts() {
        QFETCH(QString, text);
        const std::string failure = roundTripFailure(text.toStdString());
        QVERIFY2(failure.empty(), failure.c_str());
    }

    void roundTrip_formattedTextIsExact() {
        const Script s = parsed("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                                "  +.1   <  S 0:0(0)   win 32792 <mss 1000 , sackOK,nop ,nop>\n"
                                "+0.250 > S. 0:0(0) ack 1 <...>\n"
                                "+0 poll([{fd=4,events=POLLIN|POLLOUT}],1,0)=1\n");
        QCOMPARE(qstr(formatScript(s)),
                 QString("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                         "+0.1 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop>\n"
                         "+0.25 > S. 0:0(0) ack 1 <...>\n"
                         "+0 poll([{fd=4, events=POLLIN|POLLOUT}], 1, 0) = 1\n"));
    }

    void roundTrip_generated() {
        Generator g(20250314);
        int packets = 0;
        int syscalls = 0;
        for (int i = 0; i < 600; ++i) {
            const Script original = g.script();
            for (const Event& e : original.events) {
                packets += std::holds_alternative<PacketSpec>(e.action) ? 1 : 0;
                syscalls += std::holds_alternative<SyscallSpec>(e.action) ? 1 : 0;
            }
            const std::string text = formatScript(original);
            const auto back = parseScript(text);
            QVERIFY2(back, qPrintable(qstr(back ? "" : describe(back.error(), "generated")) + "\n" +
                                      qstr(text)));
            QVERIFY2(*back == original, text.c_str());
            QCOMPARE(qstr(formatScript(*back)), qstr(text));
        }
        // The generator made what it was meant to, in numbers.
        QVERIFY(packets > 1000);
        QVERIFY(syscalls > 800);
    }

    /// packetdrill's own scripts: TCPLAB_DRILL_CORPUS=/path/to/packetdrill/gtests/net/tcp.
    void roundTrip_packetdrillCorpus() {
        const QString root = qEnvironmentVariable("TCPLAB_DRILL_CORPUS");
        if (root.isEmpty())
            QSKIP("TCPLAB_DRILL_CORPUS is not set (a checkout's gtests/net/tcp: every .pkt under "
                  "it must parse and round-trip)");
        QDirIterator it(root, {"*.pkt"}, QDir::Files, QDirIterator::Subdirectories);
        int scripts = 0;
        int defined = 0;
        while (it.hasNext()) {
            const QString path = it.next();
            QFile f(path);
            QVERIFY2(f.open(QIODevice::ReadOnly), qPrintable(path));
            std::string text = f.readAll().toStdString();
            // run_all.py runs these with -D TFO_COOKIE=3021b9d889017eeb: defined the same.
            std::size_t at = 0;
            while ((at = text.find("TFO_COOKIE", at)) != std::string::npos) {
                text.replace(at, 10, "3021b9d889017eeb");
                defined += 1;
            }
            const std::string failure = roundTripFailure(text);
            QVERIFY2(failure.empty(), qPrintable(path + ": " + qstr(failure)));
            ++scripts;
        }
        qInfo("%d scripts parsed and round-tripped (%d uses of -D TFO_COOKIE)", scripts, defined);
        QVERIFY2(scripts > 0, qPrintable("no .pkt files under " + root));
    }
};

QTEST_GUILESS_MAIN(TestDrillScript)
#include "tst_drill_script.moc"
