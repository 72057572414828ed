// %{ }% blocks without Python: every operator with Python's precedence and results, chained
// comparisons, and/or short-circuits, variables that last from one block to the next,
// assert's failure sentences for every message form, print's output, comments and
// separators, every refused construct with its line and column, and the failures Python
// would raise (NameError, ZeroDivisionError) or tcplab adds (64-bit overflow).
#include "tests_support/test_support.h"

#include "drill/code_check.h"

using namespace tcplab;
using namespace tcplab::drill;

namespace {

QString qstr(std::string_view s) {
    return QString::fromUtf8(s.data(), static_cast<qsizetype>(s.size()));
}

/// "line:column message", or "parsed".
QString parseErrorOf(std::string_view text) {
    const auto block = parseCode(text);
    if (block)
        return QStringLiteral("parsed");
    const CodeError& e = block.error();
    return QStringLiteral("%1:%2 %3").arg(e.line).arg(e.column).arg(qstr(e.message));
}

/// Parses and runs `text`: its failure, "ok", or "parse error ..." when it does not parse.
QString runIn(std::string_view text, CodeEnv& env, std::vector<std::string>* printed = nullptr) {
    const auto block = parseCode(text);
    if (!block)
        return "parse error " + parseErrorOf(text);
    std::vector<std::string> lines;
    const auto failure = runCode(*block, env, printed ? *printed : lines);
    return failure ? qstr(*failure) : QStringLiteral("ok");
}

QString runAlone(std::string_view text) {
    CodeEnv env;
    return runIn(text, env);
}

/// What print(EXPR) prints (or its failure), with a few variables set.
QString printed(std::string_view expr) {
    CodeEnv env{{"a", 1}, {"b", 2}, {"tcpi_snd_cwnd", 10}};
    std::vector<std::string> lines;
    const QString r = runIn("print(" + std::string(expr) + ")", env, &lines);
    if (r != QStringLiteral("ok"))
        return r;
    if (lines.size() != 1)
        return QStringLiteral("%1 lines").arg(lines.size());
    return qstr(lines[0]);
}

const QString kSubset =
    QStringLiteral(" is not supported in %{ }% (tcplab evaluates assert, print, = and += over "
                   "integers)");
const QString kOverflow = QStringLiteral(" (tcplab's integers are 64-bit; Python's have no limit)");

} // namespace

class TestDrillCode : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void operators_data() {
        QTest::addColumn<QString>("expr");
        QTest::addColumn<QString>("result");
        const auto row = [](const char* expr, const char* result) {
            QTest::newRow(expr) << QString::fromUtf8(expr) << QString::fromUtf8(result);
        };
        // Literals.
        row("0", "0");
        row("1000", "1000");
        row("0x10", "16");
        row("0XfF", "255");
        row("0x7fffffff", "2147483647");
        row("1_000", "1000");
        row("9223372036854775807", "9223372036854775807");
        row("True", "True");
        row("False", "False");
        row("a", "1");
        // Unary.
        row("-5", "-5");
        row("+5", "5");
        row("--5", "5");
        row("~5", "-6");
        row("~-1", "0");
        row("not 5", "False");
        row("not 0", "True");
        row("-True", "-1");
        row("~False", "-1");
        // Arithmetic, with Python's floor division and remainder.
        row("1 + 2", "3");
        row("2 - 3 - 4", "-5");
        row("6 * 7", "42");
        row("7 // 2", "3");
        row("-7 // 2", "-4");
        row("7 // -2", "-4");
        row("-7 // -2", "3");
        row("100 // 10 // 5", "2");
        row("7 / 2", "3"); // floors: tcplab's values are integers
        row("-7 / 2", "-4");
        row("7 % 3", "1");
        row("-7 % 3", "2");
        row("7 % -3", "-2");
        row("-7 % -3", "-1");
        row("-9223372036854775807 - 1", "-9223372036854775808");
        row("(-9223372036854775807 - 1) % -1", "0");
        row("True + True", "2");
        // Shifts and bits.
        row("1 << 4", "16");
        row("1 << 62", "4611686018427387904");
        row("-1 << 63", "-9223372036854775808");
        row("0 << 100", "0");
        row("256 >> 4", "16");
        row("-256 >> 4", "-16");
        row("-1 >> 100", "-1");
        row("1 >> 64", "0");
        row("6 & 3", "2");
        row("6 | 3", "7");
        row("6 ^ 3", "5");
        row("True & False", "False");
        row("True | False", "True");
        row("True & 3", "1");
        // Comparisons.
        row("3 == 3", "True");
        row("3 != 3", "False");
        row("2 < 3", "True");
        row("3 < 3", "False");
        row("3 <= 3", "True");
        row("4 > 3", "True");
        row("3 >= 4", "False");
        row("True == 1", "True");
        // Precedence, tightest first: unary, * / // %, + -, << >>, &, ^, |, comparisons,
        // not, and, or.
        row("1 + 2 * 3", "7");
        row("(1 + 2) * 3", "9");
        row("2 * 3 % 4", "2");
        row("2 + 3 % 2", "3");
        row("-3 // 2", "-2");
        row("-2 * 3", "-6");
        row("~1 + 1", "-1");
        row("1 + 2 << 1", "6");
        row("1 << 2 + 1", "8");
        row("16 >> 1 - 1", "16");
        row("3 & 1 << 1", "2");
        row("1 | 6 & 3", "3");
        row("1 | 2 ^ 3 & 4", "3");
        row("6 ^ 1 | 1", "7");
        row("5 ^ 3 & 1", "4");
        row("3 & 1 == 1", "True");
        row("1 | 2 == 3", "True");
        row("1 + 1 == 2 and 3", "3");
        row("not 1 == 2", "True");
        row("not 1 + 1", "False");
        row("not 0 and 0", "0");
        row("1 or 0 and 0", "1");
        row("0 or 0 and 1", "0");
        row("not 0 or 0", "True");
        row("(a + b) * (b - a) << 2", "12");
        // and / or give the operand that decided, as Python does.
        row("0 or 5", "5");
        row("3 or 5", "3");
        row("3 and 5", "5");
        row("0 and 5", "0");
        row("False or 0", "0");
        row("True and False", "False");
        row("0 or 0 or 7", "7");
        row("1 and 2 and 3", "3");
    }
    void operators() {
        QFETCH(QString, expr);
        QFETCH(QString, result);
        QCOMPARE(printed(expr.toStdString()), result);
    }

    void chainedComparisons_data() {
        QTest::addColumn<QString>("expr");
        QTest::addColumn<QString>("result");
        QTest::newRow("both hold") << "1 < 2 < 3"
                                   << "True";
        QTest::newRow("second fails") << "1 < 3 < 2"
                                      << "False";
        QTest::newRow("first fails") << "3 < 1 < 5"
                                     << "False";
        QTest::newRow("range") << "5000 <= tcpi_snd_cwnd <= 20000"
                               << "False";
        QTest::newRow("range in") << "0 <= tcpi_snd_cwnd <= 10"
                                  << "True";
        QTest::newRow("not (1 < 2) == True") << "1 < 2 == True"
                                             << "False";
        QTest::newRow("four") << "1 < 2 <= 2 != 3"
                              << "True";
        QTest::newRow("equal equal") << "a == 1 == True"
                                     << "True";
        // Python stops at the first comparison that fails: the rest is not evaluated.
        QTest::newRow("stops early") << "2 < 1 < nope"
                                     << "False";
        QTest::newRow("goes on") << "1 < 2 < nope"
                                 << "name 'nope' is not defined in print(1 < 2 < nope)";
    }
    void chainedComparisons() {
        QFETCH(QString, expr);
        QFETCH(QString, result);
        QCOMPARE(printed(expr.toStdString()), result);
    }

    void andOr_shortCircuit() {
        QCOMPARE(printed("0 and nope"), QStringLiteral("0"));
        QCOMPARE(printed("1 or nope"), QStringLiteral("1"));
        QCOMPARE(printed("0 or 1 or nope"), QStringLiteral("1"));
        QCOMPARE(printed("1 and 0 and nope"), QStringLiteral("0"));
        QCOMPARE(printed("1 and nope"),
                 QStringLiteral("name 'nope' is not defined in print(1 and nope)"));
        QCOMPARE(printed("0 or nope"),
                 QStringLiteral("name 'nope' is not defined in print(0 or nope)"));
        QCOMPARE(printed("0 and 1 // 0"), QStringLiteral("0"));
        QCOMPARE(runAlone("assert 0 and nope"), QStringLiteral("assert 0 and nope failed"));
    }

    void assignments_persistAcrossBlocks() {
        CodeEnv env{{"tcpi_snd_cwnd", 10}};
        QCOMPARE(runIn("cwnd = tcpi_snd_cwnd", env), QStringLiteral("ok"));
        QCOMPARE(env.at("cwnd"), std::int64_t{10});
        env["tcpi_snd_cwnd"] = 20;
        const char* grow = "cwnd += 10; assert tcpi_snd_cwnd == cwnd, tcpi_snd_cwnd";
        QCOMPARE(runIn(grow, env), QStringLiteral("ok"));
        QCOMPARE(env.at("cwnd"), std::int64_t{20});
        env["tcpi_snd_cwnd"] = 25;
        QCOMPARE(runIn(grow, env),
                 QStringLiteral("assert tcpi_snd_cwnd == cwnd failed: tcpi_snd_cwnd is 25, "
                                "cwnd is 30"));
        QCOMPARE(env.at("cwnd"), std::int64_t{30}); // the += before the failure stays
        QCOMPARE(runIn("cwnd -= 5", env), QStringLiteral("ok"));
        QCOMPARE(env.at("cwnd"), std::int64_t{25});
        QCOMPARE(runIn("cwnd *= 3", env), QStringLiteral("ok"));
        QCOMPARE(env.at("cwnd"), std::int64_t{75});
        QCOMPARE(runIn("cwnd = cwnd * 2 + 1", env), QStringLiteral("ok"));
        QCOMPARE(env.at("cwnd"), std::int64_t{151});
        QCOMPARE(runIn("x = 3 > 2; y = 0 or 9", env), QStringLiteral("ok"));
        QCOMPARE(env.at("x"), std::int64_t{1}); // the environment holds integers
        QCOMPARE(env.at("y"), std::int64_t{9});
        // A name assigned in a block is read later in the same block.
        QCOMPARE(runIn("z = 4\nz += z\nassert z == 8", env), QStringLiteral("ok"));
    }

    void runStops_atTheFirstFailure() {
        CodeEnv env;
        std::vector<std::string> lines;
        QCOMPARE(runIn("x = 1; print(x); assert x == 2; x = 3; print(x)", env, &lines),
                 QStringLiteral("assert x == 2 failed: x is 1"));
        QCOMPARE(env.at("x"), std::int64_t{1});
        QCOMPARE(lines, std::vector<std::string>{"1"});
    }

    void assertMessages_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("failure");
        QTest::newRow("pass") << "assert tcpi_snd_cwnd == 12, tcpi_snd_cwnd"
                              << "ok";
        QTest::newRow("pass, no message") << "assert tcpi_snd_cwnd"
                                          << "ok";
        QTest::newRow("pass, chained")
            << "assert 5000 <= tcpi_rtt <= 40000, 'srtt=%d us' % tcpi_rtt"
            << "ok";
        QTest::newRow("the value as message")
            << "assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd"
            << "assert tcpi_snd_cwnd == 10 failed: tcpi_snd_cwnd is 12";
        QTest::newRow("no message") << "assert tcpi_snd_cwnd == 10"
                                    << "assert tcpi_snd_cwnd == 10 failed: tcpi_snd_cwnd is 12";
        QTest::newRow("no names") << "assert 1 == 2"
                                  << "assert 1 == 2 failed";
        QTest::newRow("False with a string") << "assert False, 'boom'"
                                             << "assert False failed: boom";
        QTest::newRow("a string") << "assert tcpi_snd_cwnd == 10, \"no cwnd moderation\""
                                  << "assert tcpi_snd_cwnd == 10 failed: no cwnd moderation "
                                     "(tcpi_snd_cwnd is 12)";
        QTest::newRow("a format") << "assert 5000 <= tcpi_rtt <= 20000, 'srtt=%d us' % tcpi_rtt"
                                  << "assert 5000 <= tcpi_rtt <= 20000 failed: srtt=30000 us "
                                     "(tcpi_rtt is 30000)";
        QTest::newRow("a format of a tuple") << "assert a == b, 'a=%d b=%d' % (a, b)"
                                             << "assert a == b failed: a=1 b=2 (a is 1, b is 2)";
        QTest::newRow("a tuple") << "assert tcpi_snd_cwnd == a + 2, (tcpi_snd_cwnd, a)"
                                 << "assert tcpi_snd_cwnd == a + 2 failed: (12, 1) "
                                    "(tcpi_snd_cwnd is 12, a is 1)";
        QTest::newRow("an expression") << "assert a == b, a - b"
                                       << "assert a == b failed: a - b is -1, a is 1, b is 2";
        QTest::newRow("another name") << "assert a == 2, b"
                                      << "assert a == 2 failed: b is 2, a is 1";
        QTest::newRow("a number") << "assert a == 2, 42"
                                  << "assert a == 2 failed: 42 (a is 1)";
        QTest::newRow("a bool") << "assert a == 2, a == 2"
                                << "assert a == 2 failed: a == 2 is False, a is 1";
        QTest::newRow("an unknown name: as written")
            << "assert a == 2, 'x=%d' % nope"
            << "assert a == 2 failed: 'x=%d' % nope (a is 1)";
        QTest::newRow("a bad format: as written") << "assert a == 2, '%d %d' % a"
                                                  << "assert a == 2 failed: '%d %d' % a (a is 1)";
        QTest::newRow("constants left out")
            << "assert tcpi_ca_state == TCP_CA_Disorder, tcpi_ca_state"
            << "assert tcpi_ca_state == TCP_CA_Disorder failed: tcpi_ca_state is 3";
        QTest::newRow("bits") << "assert (tcpi_options & TCPI_OPT_SYN_DATA) != 0, tcpi_options"
                              << "assert (tcpi_options & TCPI_OPT_SYN_DATA) != 0 failed: "
                                 "tcpi_options is 7";
        QTest::newRow("a constant changed")
            << "TCP_CA_Open = 5; assert tcpi_ca_state == TCP_CA_Open"
            << "assert tcpi_ca_state == TCP_CA_Open failed: "
               "tcpi_ca_state is 3, TCP_CA_Open is 5";
        QTest::newRow("spaces and a comment") << "assert   a ==\t2   # a comment"
                                              << "assert a == 2 failed: a is 1";
        QTest::newRow("lines joined in brackets") << "assert (a ==\n        2)"
                                                  << "assert (a == 2) failed: a is 1";
        QTest::newRow("a NameError in the test")
            << "assert nope == 1"
            << "name 'nope' is not defined in assert nope == 1";
        QTest::newRow("a name read once") << "assert a + a == 3, a"
                                          << "assert a + a == 3 failed: "
                                             "a is 1";
    }
    void assertMessages() {
        QFETCH(QString, text);
        QFETCH(QString, failure);
        CodeEnv env{{"a", 1},
                    {"b", 2},
                    {"tcpi_snd_cwnd", 12},
                    {"tcpi_rtt", 30000},
                    {"tcpi_ca_state", 3},
                    {"tcpi_options", 7}};
        addCodeConstants(env);
        QCOMPARE(runIn(text.toStdString(), env), failure);
    }

    void print_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QStringList>("lines");
        QTest::newRow("a value") << "print(tcpi_snd_cwnd)" << QStringList{"10"};
        QTest::newRow("values") << "print('cwnd', tcpi_snd_cwnd, 1 == 1)"
                                << QStringList{"cwnd 10 True"};
        QTest::newRow("python 2") << "print tcpi_snd_cwnd" << QStringList{"10"};
        QTest::newRow("python 2, values")
            << "print 'cwnd', tcpi_snd_cwnd" << QStringList{"cwnd 10"};
        QTest::newRow("python 2, trailing comma") << "print 'cwnd'," << QStringList{"cwnd"};
        QTest::newRow("trailing comma") << "print(1, 2,)" << QStringList{"1 2"};
        QTest::newRow("nothing") << "print()" << QStringList{""};
        QTest::newRow("python 2, nothing") << "print" << QStringList{""};
        QTest::newRow("a space before (") << "print (tcpi_snd_cwnd + 1)" << QStringList{"11"};
        QTest::newRow("a format") << "print('cwnd=%d' % tcpi_snd_cwnd)" << QStringList{"cwnd=10"};
        QTest::newRow("a tuple's format") << "print('%d/%d' % (1, 2))" << QStringList{"1/2"};
        QTest::newRow("a tuple") << "print((1, 'a', True))" << QStringList{"(1, 'a', True)"};
        QTest::newRow("a tuple of one") << "print((1,))" << QStringList{"(1,)"};
        QTest::newRow("joined strings") << "print('a' \"b\")" << QStringList{"ab"};
        QTest::newRow("quotes") << "print(\"it's\", '\"q\"')" << QStringList{"it's \"q\""};
        QTest::newRow("escapes") << R"(print('a\tb\\c\'d\x41\101\q'))"
                                 << QStringList{"a\tb\\c'dAA\\q"};
        QTest::newRow("python 2's u''") << "print(u'x')" << QStringList{"x"};
        QTest::newRow("lines") << "print(1)\nprint(2); print 3" << QStringList{"1", "2", "3"};
    }
    void print() {
        QFETCH(QString, text);
        QFETCH(QStringList, lines);
        CodeEnv env{{"tcpi_snd_cwnd", 10}};
        std::vector<std::string> out;
        QCOMPARE(runIn(text.toStdString(), env, &out), QStringLiteral("ok"));
        QStringList got;
        for (const std::string& line : out)
            got << qstr(line);
        QCOMPARE(got, lines);
    }

    void format_data() {
        QTest::addColumn<QString>("expr");
        QTest::addColumn<QString>("result");
        const auto row = [](const char* expr, const char* result) {
            QTest::newRow(expr) << QString::fromUtf8(expr) << QString::fromUtf8(result);
        };
        row("'%d' % 42", "42");
        row("'%i' % -42", "-42");
        row("'%u' % 7", "7");
        row("'%x' % 255", "ff");
        row("'%X' % 255", "FF");
        row("'%#x' % 255", "0xff");
        row("'%x' % -255", "-ff");
        row("'%o' % 8", "10");
        row("'%s' % 7", "7");
        row("'%s' % True", "True");
        row("'%d' % True", "1");
        row("'%r' % 'a'", "'a'");
        row("'%s' % 'a'", "a");
        row("'%5d|' % 42", "   42|");
        row("'%-5d|' % 42", "42   |");
        row("'%05d' % -42", "-0042");
        row("'%.3d' % 5", "005");
        row("'%+d' % 5", "+5");
        row("'% d' % 5", " 5");
        row("'%ld' % 5", "5");
        row("'%5s|' % 'ab'", "   ab|");
        row("'%.1s' % 'ab'", "a");
        row("'%d%%' % 50", "50%");
        row("'100%%'", "100%%"); // no % operator: no formatting
        row("'%s|%s' % (1, 'b')", "1|b");
        row("'%d-%d' % (a, b)", "1-2");
        row("'%d' % (a,)", "1");
        row("'%s' % ((1, 2),)", "(1, 2)");
        row("'%d %%d' % 1 % 2", "1 2");
        row("'%d' % 9223372036854775807", "9223372036854775807");
        row("'%d' % (-9223372036854775807 - 1)", "-9223372036854775808");
        // What Python raises, as its TypeError says it.
        row("'%d %d' % 1", "not enough arguments for format string in print('%d %d' % 1)");
        row("'%d' % (1, 2)",
            "not all arguments converted during string formatting in print('%d' % (1, 2))");
        row("'x' % 1", "not all arguments converted during string formatting in print('x' % 1)");
        row("'%q' % 1", "unsupported format character 'q' (0x71) in print('%q' % 1)");
        row("'%d' % 'a'", "%d format: a number is required, not 'a' in print('%d' % 'a')");
        row("'%' % 1", "incomplete format in print('%' % 1)");
        row("'%(x)d' % 1",
            "a format with names ('%(name)s') needs a dict, which tcplab does not have in "
            "print('%(x)d' % 1)");
        row("'%*d' % (1, 2)", "'*' widths are not supported in print('%*d' % (1, 2))");
        row("'%2000d' % 1", "a width over 1000 in print('%2000d' % 1)");
    }
    void format() {
        QFETCH(QString, expr);
        QFETCH(QString, result);
        QCOMPARE(printed(expr.toStdString()), result);
    }

    void layout_commentsSeparatorsIndentation() {
        // The spec's multi-line block, as the script's lexer hands it over.
        const std::string_view text = "\n"
                                      "assert tcpi_ca_state == TCP_CA_Disorder, tcpi_ca_state\n"
                                      "  assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd  # no cwnd "
                                      "moderation\n";
        const auto block = parseCode(text);
        QVERIFY2(block, block ? "" : block.error().message.c_str());
        QCOMPARE(block->statements.size(), std::size_t{2});
        const CodeStatement& first = block->statements[0];
        QCOMPARE(first.kind, CodeStatement::Kind::Assert);
        QCOMPARE(first.line, 2u);
        QCOMPARE(first.column, 1u);
        QCOMPARE(qstr(first.text),
                 QStringLiteral("assert tcpi_ca_state == TCP_CA_Disorder, tcpi_ca_state"));
        QCOMPARE(first.exprs.size(), std::size_t{2});
        const CodeStatement& second = block->statements[1];
        QCOMPARE(second.line, 3u);
        QCOMPARE(second.column, 3u);
        QCOMPARE(qstr(second.text), QStringLiteral("assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd"));
        CodeEnv env{{"tcpi_ca_state", 1}, {"tcpi_snd_cwnd", 10}};
        addCodeConstants(env);
        std::vector<std::string> lines;
        QCOMPARE(runCode(*block, env, lines), std::optional<std::string>{});
        env["tcpi_snd_cwnd"] = 11;
        QCOMPARE(
            runCode(*block, env, lines),
            std::optional<std::string>{"assert tcpi_snd_cwnd == 10 failed: tcpi_snd_cwnd is 11"});

        const auto count = [](std::string_view t) {
            const auto b = parseCode(t);
            return b ? int(b->statements.size()) : -1;
        };
        QCOMPARE(count(""), 0);
        QCOMPARE(count("   \n\n\t\n"), 0);
        QCOMPARE(count("# only a comment"), 0);
        QCOMPARE(count("# a comment\n\n   x = 1  # set x\n# another\n"), 1);
        QCOMPARE(count("x = 1; y = 2;z=3"), 3);
        QCOMPARE(count("x = 1;"), 1);
        QCOMPARE(count("x = 1;; y = 2"), 2);
        QCOMPARE(count("x = 1\r\ny = 2\r\n"), 2);
        QCOMPARE(count("print('# not a comment'); x = 1"), 2);
        QCOMPARE(count("x = (1 +\n  2)\nassert x == 3"), 2);
        QCOMPARE(count("x = 1 + \\\n  2"), 1);
        QCOMPARE(count("if x: y = 1"), -1);

        CodeEnv e2;
        std::vector<std::string> out;
        QCOMPARE(runIn("x = (1 +  # one\n     2)\ny = 1 + \\\n 2\nprint('#', x, y)\n"
                       "    print(x) ; print(y)",
                       e2, &out),
                 QStringLiteral("ok"));
        QCOMPARE(out, (std::vector<std::string>{"# 3 3", "3", "3"}));
    }

    void statements_asParsed() {
        const auto block = parseCode("cwnd += 10\nassert cwnd, 'x'\nprint 1, 2\nx = -a");
        QVERIFY(block);
        QCOMPARE(block->statements.size(), std::size_t{4});
        const CodeStatement& assign = block->statements[0];
        QCOMPARE(assign.kind, CodeStatement::Kind::Assign);
        QCOMPARE(qstr(assign.target), QStringLiteral("cwnd"));
        QCOMPARE(qstr(assign.op), QStringLiteral("+="));
        QCOMPARE(assign.exprs[0].kind, CodeExpr::Kind::Integer);
        QCOMPARE(assign.exprs[0].integer, std::int64_t{10});
        QCOMPARE(block->statements[1].exprs[1].kind, CodeExpr::Kind::String);
        QCOMPARE(block->statements[2].kind, CodeStatement::Kind::Print);
        QCOMPARE(block->statements[2].exprs.size(), std::size_t{2});
        const CodeExpr& neg = block->statements[3].exprs[0];
        QCOMPARE(neg.kind, CodeExpr::Kind::Unary);
        QCOMPARE(qstr(neg.text), QStringLiteral("-"));
        QCOMPARE(qstr(neg.source), QStringLiteral("-a"));
        QCOMPARE(neg.line, 4u);
        QCOMPARE(neg.column, 5u);
        const auto chain = parseCode("assert 1 <= x < 3");
        QVERIFY(chain);
        const CodeExpr& c = chain->statements[0].exprs[0];
        QCOMPARE(c.kind, CodeExpr::Kind::Compare);
        QCOMPARE(c.items.size(), std::size_t{3});
        QCOMPARE(c.ops, (std::vector<std::string>{"<=", "<"}));
    }

    void refused_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("error");
        const auto keyword = [](const char* word) {
            return QStringLiteral("Python's '%1'").arg(QString::fromUtf8(word)) + kSubset;
        };
        QTest::newRow("for") << "for i in range(3): pass"
                             << "1:1 " + keyword("for");
        QTest::newRow("if, line 2") << "x = 1\nif x: pass"
                                    << "2:1 " + keyword("if");
        QTest::newRow("def, indented") << "  def f():"
                                       << "1:3 " + keyword("def");
        QTest::newRow("import") << "import os"
                                << "1:1 " + keyword("import");
        QTest::newRow("from") << "from os import path"
                              << "1:1 " + keyword("from");
        QTest::newRow("while") << "while True: pass"
                               << "1:1 " + keyword("while");
        QTest::newRow("class") << "class A: pass"
                               << "1:1 " + keyword("class");
        QTest::newRow("return") << "return 1"
                                << "1:1 " + keyword("return");
        QTest::newRow("with") << "with x: pass"
                              << "1:1 " + keyword("with");
        QTest::newRow("try") << "try:"
                             << "1:1 " + keyword("try");
        QTest::newRow("pass") << "pass"
                              << "1:1 " + keyword("pass");
        QTest::newRow("del") << "del x"
                             << "1:1 " + keyword("del");
        QTest::newRow("raise") << "raise x"
                               << "1:1 " + keyword("raise");
        QTest::newRow("global") << "global x"
                                << "1:1 " + keyword("global");
        QTest::newRow("else after ;") << "x = 1; else: y"
                                      << "1:8 " + keyword("else");
        QTest::newRow("conditional expression") << "x = 1 if y else 2"
                                                << "1:7 " + keyword("if");
        QTest::newRow("in") << "assert x in (1, 2)"
                            << "1:10 " + keyword("in");
        QTest::newRow("is") << "assert x is None"
                            << "1:10 " + keyword("is");
        QTest::newRow("not in") << "assert x not in y"
                                << "1:10 " + keyword("not in");
        QTest::newRow("None") << "x = None"
                              << "1:5 " + keyword("None");
        QTest::newRow("lambda") << "x = lambda: 1"
                                << "1:5 " + keyword("lambda");
        QTest::newRow("a call") << "x = len(y)"
                                << "1:5 calling 'len'" + kSubset;
        QTest::newRow("a call in assert") << "assert abs(x) < 2"
                                          << "1:8 calling 'abs'" + kSubset;
        QTest::newRow("a call of a value") << "x = (a)(1)"
                                           << "1:5 calling 'a'" + kSubset;
        QTest::newRow("an attribute") << "x = a.b"
                                      << "1:6 an attribute ('a.b')" + kSubset;
        QTest::newRow("indexing") << "x = a[0]"
                                  << "1:6 indexing ('a[i]')" + kSubset;
        QTest::newRow("a list") << "x = [1]"
                                << "1:5 a list ('[...]')" + kSubset;
        QTest::newRow("a dict") << "x = {}"
                                << "1:5 a dict or a set ('{...}')" + kSubset;
        QTest::newRow("power") << "x = 2 ** 3"
                               << "1:7 '**' (power)" + kSubset;
        QTest::newRow("power assignment") << "x **= 3"
                                          << "1:3 '**='" + kSubset + "; use =, +=, -= or *=";
        QTest::newRow("/=") << "x /= 2"
                            << "1:3 '/='" + kSubset + "; use =, +=, -= or *=";
        QTest::newRow("//=") << "x //= 2"
                             << "1:3 '//='" + kSubset + "; use =, +=, -= or *=";
        QTest::newRow("|=") << "x |= 2"
                            << "1:3 '|='" + kSubset + "; use =, +=, -= or *=";
        QTest::newRow("<<=") << "x <<= 2"
                             << "1:3 '<<='" + kSubset + "; use =, +=, -= or *=";
        QTest::newRow("walrus") << "assert (x := 1)"
                                << "1:11 ':=' (assignment in an expression)" + kSubset;
        QTest::newRow("a float") << "x = 1.5"
                                 << "1:5 the floating-point number '1.5'" + kSubset;
        QTest::newRow("a float .5") << "x = .5"
                                    << "1:5 the floating-point number '.5'" + kSubset;
        QTest::newRow("an exponent") << "x = 1e-3"
                                     << "1:5 the floating-point number '1e-3'" + kSubset;
        QTest::newRow("octal") << "x = 0o17"
                               << "1:5 '0o17': only decimal and 0x hex integers are supported "
                                  "in %{ }%";
        QTest::newRow("binary") << "x = 0b101"
                                << "1:5 '0b101': only decimal and 0x hex integers are "
                                   "supported in %{ }%";
        QTest::newRow("leading zero") << "x = 017"
                                      << "1:5 '017': Python 3 does not read leading zeros (0o "
                                         "is octal, which tcplab does not read either)";
        QTest::newRow("long") << "x = 10L"
                              << "1:5 '10L' is not an integer";
        QTest::newRow("bad hex") << "x = 0xg"
                                 << "1:5 '0xg' is not an integer";
        QTest::newRow("too large") << "x = 9223372036854775808"
                                   << "1:5 the integer 9223372036854775808 does not fit in 64 "
                                      "bits" +
                                          kOverflow;
        QTest::newRow("too large hex") << "x = 0x8000000000000000"
                                       << "1:5 the integer 0x8000000000000000 does not fit in "
                                          "64 bits" +
                                              kOverflow;
        QTest::newRow("f-string") << "x = f'{y}'"
                                  << "1:5 the string prefix 'f'" + kSubset;
        QTest::newRow("raw string") << "print(r'a')"
                                    << "1:7 the string prefix 'r'" + kSubset;
        QTest::newRow("triple quotes") << "print('''a''')"
                                       << "1:7 a triple-quoted string" + kSubset;
        QTest::newRow("unterminated string") << "print('abc\nx = 1"
                                             << "1:7 a string that does not end on its line";
        QTest::newRow("bad \\x") << "print('\\xZ1')"
                                 << "1:8 a \\x escape needs two hex digits";
        const QString str = QStringLiteral("a string can only be printed, be an assert's message "
                                           "or be formatted with % in %{ }% (tcplab's other "
                                           "values are integers)");
        QTest::newRow("a string assigned") << "x = 'cwnd'"
                                           << "1:5 " + str;
        QTest::newRow("strings added") << "print('a' + 'b')"
                                       << "1:7 " + str;
        QTest::newRow("a string added") << "x = 1 + 'b'"
                                        << "1:9 " + str;
        QTest::newRow("a string compared") << "assert x == 'a'"
                                           << "1:13 " + str;
        QTest::newRow("a string tested") << "assert 'a'"
                                         << "1:8 " + str;
        QTest::newRow("a format in arithmetic") << "x = '%d' % 1 + 2"
                                                << "1:5 " + str;
        QTest::newRow("a string right of %") << "x = 5 % 'a'"
                                             << "1:9 " + str;
        QTest::newRow("not a string") << "x = not 'a'"
                                      << "1:9 " + str;
        QTest::newRow("a negative string") << "x = -'a'"
                                           << "1:6 " + str;
        QTest::newRow("a string or") << "print('a' or 1)"
                                     << "1:7 " + str;
        const QString tuple = QStringLiteral("a tuple can only be printed, be an assert's "
                                             "message or follow a string's % in %{ }% ('%d %d' % "
                                             "(a, b))");
        QTest::newRow("a tuple assigned") << "x = (1, 2)"
                                          << "1:5 " + tuple;
        QTest::newRow("a tuple compared") << "assert x == (1, 2)"
                                          << "1:13 " + tuple;
        QTest::newRow("a tuple right of an int %") << "x = 5 % (1, 2)"
                                                   << "1:9 " + tuple;
        QTest::newRow("an empty tuple") << "print('%d' % ())"
                                        << "1:15 the empty tuple ()" + kSubset;
        QTest::newRow("assert of a tuple")
            << "assert (x == 1, 'msg')"
            << "1:8 assert (a, b) tests a tuple, which is always true: write assert a, b for a "
               "test and its message";
        QTest::newRow("a chained assignment") << "x = y = 1"
                                              << "1:7 a chained assignment (a = b "
                                                 "= 1)" +
                                                     kSubset;
        QTest::newRow("a tuple assignment") << "a, b = 1, 2"
                                            << "1:2 a tuple (a, b) as a "
                                               "statement" +
                                                   kSubset;
        QTest::newRow("assign to a non-name") << "(x) = 1"
                                              << "1:5 only a plain name can be "
                                                 "assigned to in %{ }%";
        QTest::newRow("assign to True") << "True = 1"
                                        << "1:1 cannot assign to True";
        QTest::newRow("a bare expression")
            << "x = 1\n  x + 1"
            << "2:3 this expression's value would be thrown away: write assert EXPR to check it "
               "or print(EXPR) to show it";
        QTest::newRow("print as a value") << "x = print(1)"
                                          << "1:5 print(...) is a statement in "
                                             "%{ }%, not a value";
        QTest::newRow("a missing operand") << "assert x =="
                                           << "1:12 expected an expression, found the end of the "
                                              "block";
        QTest::newRow("a missing operand, newline")
            << "assert x == \ny"
            << "1:13 expected an expression, found the end of the line";
        QTest::newRow("a missing operand, ;") << "assert x ==; y"
                                              << "1:12 expected an expression, found ';'";
        QTest::newRow("an unclosed (") << "assert (x ==\n 1"
                                       << "2:3 expected ')', found the end of the block";
        QTest::newRow("an unclosed print(")
            << "print(x"
            << "1:8 expected ',' or ')', found the end of the block";
        QTest::newRow("an unclosed tuple") << "print((x, 1)"
                                           << "1:13 expected ',' or ')', found the end of the "
                                              "block";
        QTest::newRow("a stray )") << "x = 1)"
                                   << "1:6 expected the end of the statement, found "
                                      "')'";
        QTest::newRow("two values") << "x = 1 2"
                                    << "1:7 expected the end of the statement, "
                                       "found '2'";
        QTest::newRow("a stray character") << "x = 1 $"
                                           << "1:7 unexpected '$'";
        QTest::newRow("a backtick") << "x = `y`"
                                    << "1:5 unexpected '`'";
        QTest::newRow("a stray backslash") << "x = 1 \\ 2"
                                           << "1:7 unexpected '\\'";
        QTest::newRow("a non-ASCII byte") << "x = \xc3\xa9"
                                          << "1:5 unexpected byte 0xc3";
        QTest::newRow("<>") << "assert x <> 1"
                            << "1:10 '<>' is Python 2's '!=': write '!='";
        QTest::newRow("!") << "assert !x"
                           << "1:8 expected an expression, found '!' (Python writes 'not x' "
                              "and 'a != b')";
        QTest::newRow("assert alone") << "assert"
                                      << "1:7 expected an expression, found the end of the "
                                         "block";
        QTest::newRow("a colon") << "x = 1:"
                                 << "1:6 expected the end of the statement, found "
                                    "':'";
        QTest::newRow("print >>") << "print >>f, x"
                                  << "1:7 expected an expression, found '>>'";
        QTest::newRow("the error on its line") << "x = 1\n    y = 2\n    z = len(x)"
                                               << "3:9 calling 'len'" + kSubset;
        QTest::newRow("the error after ;") << "x = 1; y = len(x)"
                                           << "1:12 calling 'len'" + kSubset;
        // The first mistake in the text is the one reported, the lexer's or the parser's.
        QTest::newRow("the first mistake") << "for i in [1]: $"
                                           << "1:1 " + keyword("for");
        QTest::newRow("the lexer's first") << "x = 1 $ for"
                                           << "1:7 unexpected '$'";
    }
    void refused() {
        QFETCH(QString, text);
        QFETCH(QString, error);
        QCOMPARE(parseErrorOf(text.toStdString()), error);
    }

    void limits_doNotCrash() {
        const std::string deep = "x = " + std::string(200, '(') + "1" + std::string(200, ')');
        QCOMPARE(parseErrorOf(deep),
                 QStringLiteral("1:105 the expression nests deeper than 100 levels"));
        QCOMPARE(parseErrorOf("x = " + std::string(200, '-') + "1"),
                 QStringLiteral("1:105 the expression nests deeper than 100 levels"));
        std::string nots = "assert ";
        for (int k = 0; k < 200; ++k)
            nots += "not ";
        QCOMPARE(parseErrorOf(nots + "1"),
                 QStringLiteral("1:408 the expression nests deeper than 100 levels"));
        const std::string ok = "x = " + std::string(100, '(') + "1" + std::string(100, ')');
        QCOMPARE(parseErrorOf(ok), QStringLiteral("parsed"));
        std::string longChain = "x = ";
        for (int k = 0; k < 600; ++k)
            longChain += "1 + ";
        QCOMPARE(parseErrorOf(longChain + "1"),
                 QStringLiteral("1:1 a statement of more than 1000 tokens; split it"));
        std::string chain = "x = ";
        for (int k = 0; k < 400; ++k)
            chain += "1 + ";
        CodeEnv env;
        QCOMPARE(runIn(chain + "1", env), QStringLiteral("ok"));
        QCOMPARE(env.at("x"), std::int64_t{401});
        // An unclosed bracket swallows the newlines after it, then ends with the block.
        QCOMPARE(parseErrorOf(std::string(50, '(')),
                 QStringLiteral("1:51 expected an expression, found the end of the block"));
    }

    void nameError() {
        QCOMPARE(runAlone("x = y + 1"), QStringLiteral("name 'y' is not defined in x = y + 1"));
        QCOMPARE(runAlone("assert nope == 1, nope"),
                 QStringLiteral("name 'nope' is not defined in assert nope == 1, nope"));
        QCOMPARE(runAlone("cwnd += 10"),
                 QStringLiteral("name 'cwnd' is not defined in cwnd += 10"));
        QCOMPARE(runAlone("cwnd *= 2"), QStringLiteral("name 'cwnd' is not defined in cwnd *= 2"));
        QCOMPARE(runAlone("print(1, nope)"),
                 QStringLiteral("name 'nope' is not defined in print(1, nope)"));
        QCOMPARE(runAlone("print 'x=%d' % nope"),
                 QStringLiteral("name 'nope' is not defined in print 'x=%d' % nope"));
        // Constants are the caller's: without addCodeConstants() they are unknown too.
        QCOMPARE(runAlone("assert 1 == TCP_CA_Open"),
                 QStringLiteral("name 'TCP_CA_Open' is not defined in assert 1 == TCP_CA_Open"));
    }

    void divisionByZero() {
        QCOMPARE(runAlone("x = 1 // 0"), QStringLiteral("division by zero in x = 1 // 0"));
        QCOMPARE(runAlone("x = 1 / 0"), QStringLiteral("division by zero in x = 1 / 0"));
        QCOMPARE(runAlone("x = 5 % 0"), QStringLiteral("division by zero in x = 5 % 0"));
        CodeEnv env{{"a", 0}};
        QCOMPARE(runIn("assert 1 // a == 0, 'never shown'", env),
                 QStringLiteral("division by zero in assert 1 // a == 0, 'never shown'"));
        QCOMPARE(runIn("print(-7 % a)", env), QStringLiteral("division by zero in print(-7 % a)"));
        // In a message: shown as written.
        QCOMPARE(runIn("assert a, 1 // a", env),
                 QStringLiteral("assert a failed: 1 // a (a is 0)"));
        QCOMPARE(runAlone("x = 1 << -1"), QStringLiteral("negative shift count in x = 1 << -1"));
        QCOMPARE(runAlone("x = 1 >> -1"), QStringLiteral("negative shift count in x = 1 >> -1"));
    }

    void overflow_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("failure");
        QTest::newRow("+") << "x = 9223372036854775807 + 1"
                           << "9223372036854775807 + 1 overflows in x = 9223372036854775807 + 1" +
                                  kOverflow;
        QTest::newRow("-") << "x = -9223372036854775807 - 2"
                           << "-9223372036854775807 - 2 overflows in x = -9223372036854775807 - "
                              "2" +
                                  kOverflow;
        QTest::newRow("*") << "x = 4294967296 * 4294967296"
                           << "4294967296 * 4294967296 overflows in x = 4294967296 * "
                              "4294967296" +
                                  kOverflow;
        QTest::newRow("<<") << "x = 1 << 63"
                            << "1 << 63 overflows in x = 1 << 63" + kOverflow;
        QTest::newRow("<< 64") << "x = -1 << 64"
                               << "-1 << 64 overflows in x = -1 << 64" + kOverflow;
        QTest::newRow("<< big") << "x = 3 << 62"
                                << "3 << 62 overflows in x = 3 << 62" + kOverflow;
        QTest::newRow("unary -") << "x = -(-9223372036854775807 - 1)"
                                 << "-(-9223372036854775808) overflows in x = "
                                    "-(-9223372036854775807 - 1)" +
                                        kOverflow;
        QTest::newRow("//") << "x = (-9223372036854775807 - 1) // -1"
                            << "-9223372036854775808 // -1 overflows in x = "
                               "(-9223372036854775807 - 1) // -1" +
                                   kOverflow;
        QTest::newRow("*=") << "x = 4294967296; x *= x"
                            << "4294967296 * 4294967296 overflows in x *= x" + kOverflow;
        QTest::newRow("+=") << "x = 9223372036854775807; x += 1"
                            << "9223372036854775807 + 1 overflows in x += 1" + kOverflow;
        QTest::newRow("-=") << "x = -9223372036854775807; x -= 2"
                            << "-9223372036854775807 - 2 overflows in x -= 2" + kOverflow;
        QTest::newRow("in an assert") << "assert 9223372036854775807 + 1 > 0"
                                      << "9223372036854775807 + 1 overflows in assert "
                                         "9223372036854775807 + 1 > 0" +
                                             kOverflow;
        QTest::newRow("no overflow") << "x = 9223372036854775807 - 1 + 1"
                                     << "ok";
    }
    void overflow() {
        QFETCH(QString, text);
        QFETCH(QString, failure);
        QCOMPARE(runAlone(text.toStdString()), failure);
    }

    void namesRead_findsTcpInfoNames() {
        const auto block = parseCode("assert tcpi_snd_cwnd == cwnd, tcpi_msg\n"
                                     "print(tcpi_rtt, tcpi_snd_cwnd, 'tcpi_in_a_string')\n"
                                     "x = tcpi_rto + TCP_CA_Open\n"
                                     "tcpi_counted += 1\n"
                                     "tcpi_written = 3\n"
                                     "assert (tcpi_options & 1) != 0 and not tcpi_x or -tcpi_y");
        QVERIFY(block);
        QCOMPARE(namesRead(*block),
                 (std::vector<std::string>{"tcpi_snd_cwnd", "tcpi_msg", "tcpi_rtt", "tcpi_rto",
                                           "tcpi_counted", "tcpi_options", "tcpi_x", "tcpi_y"}));
        const auto none = parseCode("cwnd = 10; cwnd += 1; print(cwnd, 'tcpi_snd_cwnd')");
        QVERIFY(none);
        QCOMPARE(namesRead(*none), std::vector<std::string>{});
        const auto format = parseCode("print('%d %d' % (tcpi_a, (tcpi_b)))");
        QVERIFY(format);
        QCOMPARE(namesRead(*format), (std::vector<std::string>{"tcpi_a", "tcpi_b"}));
    }

    void constants() {
        CodeEnv env{{"TCP_CA_Loss", 99}};
        addCodeConstants(env);
        QCOMPARE(env.size(), std::size_t{25});
        const std::vector<std::pair<std::string, std::int64_t>> expected = {
            {"TCP_ESTABLISHED", 1},
            {"TCP_SYN_SENT", 2},
            {"TCP_SYN_RECV", 3},
            {"TCP_FIN_WAIT1", 4},
            {"TCP_FIN_WAIT2", 5},
            {"TCP_TIME_WAIT", 6},
            {"TCP_CLOSE", 7},
            {"TCP_CLOSE_WAIT", 8},
            {"TCP_LAST_ACK", 9},
            {"TCP_LISTEN", 10},
            {"TCP_CLOSING", 11},
            {"TCP_CA_Open", 0},
            {"TCP_CA_Disorder", 1},
            {"TCP_CA_CWR", 2},
            {"TCP_CA_Recovery", 3},
            {"TCP_CA_Loss", 4},
            {"TCPI_OPT_TIMESTAMPS", 1},
            {"TCPI_OPT_SACK", 2},
            {"TCPI_OPT_WSCALE", 4},
            {"TCPI_OPT_ECN", 8},
            {"TCPI_OPT_ECN_SEEN", 16},
            {"TCPI_OPT_SYN_DATA", 32},
            {"TCPI_OPT_USEC_TS", 64},
            {"TCPI_OPT_TFO_CHILD", 128},
            {"TCP_INFINITE_SSTHRESH", 0x7fffffff},
        };
        for (const auto& [name, value] : expected) {
            const auto it = env.find(name);
            QVERIFY2(it != env.end(), name.c_str());
            QCOMPARE(it->second, value);
        }
        env["tcpi_ca_state"] = 1;
        env["tcpi_snd_ssthresh"] = 0x7fffffff;
        env["tcpi_options"] = 1 | 2 | 32;
        QCOMPARE(runIn("assert tcpi_ca_state == TCP_CA_Disorder\n"
                       "assert tcpi_snd_ssthresh == TCP_INFINITE_SSTHRESH\n"
                       "assert (tcpi_options & TCPI_OPT_SYN_DATA) != 0, tcpi_options\n"
                       "assert tcpi_options & TCPI_OPT_WSCALE == 0",
                       env),
                 QStringLiteral("ok"));
    }
};

QTEST_GUILESS_MAIN(TestDrillCode)
#include "tst_drill_code.moc"
