// tcplab-cli compare: the classic exercise against both built-in peers (Linux and
// lwIP), the two ladders side by side, and what the stacks did differently; then a
// probe with a segment outside the receive window, to see what each answers. The runs
// and the analysis are core's (lab/compare.h); this file parses and prints.
#include "cli/commands.h"
#include "cli/lab_run.h"

#include "engine/scenario.h"
#include "lab/compare.h"
#include "timeline/timeline.h"
#include "wire/tcp.h"

#include <fmt/core.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace tcplab::cli {

namespace {

struct CompareArgs {
    bool ipv6 = false;
    std::string close = "fin";
};

std::string ladderText(const timeline::Timeline& t, std::size_t begin, std::size_t end,
                       const engine::ConnectionParams& params) {
    std::ostringstream text;
    Ladder ladder(params, text);
    for (std::size_t i = begin; i < end && i < t.size(); ++i) {
        const wire::Frame frame = t[i].decode();
        const auto* tcp = frame.tcp();
        const bool sent = t[i].direction == timeline::Direction::Sent;
        if (tcp && (sent ? tcp->srcPort : tcp->dstPort) == params.sourcePort)
            ladder.print(t[i]);
    }
    return text.str();
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        out.push_back(line);
    return out;
}

/// Two texts side by side when they fit in 160 columns, else one after the other.
void printColumns(std::ostream& out, const std::string& leftTitle, const std::string& left,
                  const std::string& rightTitle, const std::string& right) {
    const auto l = lines(left);
    const auto r = lines(right);
    std::size_t leftWidth = leftTitle.size();
    for (const auto& line : l)
        leftWidth = std::max(leftWidth, line.size());
    std::size_t rightWidth = rightTitle.size();
    for (const auto& line : r)
        rightWidth = std::max(rightWidth, line.size());
    constexpr std::string_view kGap = " | ";
    if (leftWidth + kGap.size() + rightWidth < 160) {
        out << fmt::format("{:<{}}{}{}\n", leftTitle, leftWidth, kGap, rightTitle);
        for (std::size_t i = 0; i < std::max(l.size(), r.size()); ++i) {
            const std::string a = i < l.size() ? l[i] : std::string();
            const std::string b = i < r.size() ? r[i] : std::string();
            std::string line = fmt::format("{:<{}}{}{}", a, leftWidth, kGap, b);
            line.erase(line.find_last_not_of(' ') + 1);
            out << line << "\n";
        }
    } else {
        out << leftTitle << "\n" << left << "\n" << rightTitle << "\n" << right;
    }
}

int runCompare(const CompareArgs& args) {
    const auto close = engine::parseCloseMode(args.close);
    if (!close)
        throw CLI::ValidationError("--close",
                                   fmt::format("'{}' is not one of fin, rst, peer", args.close));
    lab::CompareOptions options;
    options.ipv6 = args.ipv6;
    options.close = *close;
    std::ostream& out = std::cout;
    std::vector<lab::LabRun> runs;
    for (const auto stack : {lab::CompareStack::Linux, lab::CompareStack::Lwip}) {
        runs.push_back(lab::runLab(stack, options));
        const lab::LabRun& run = runs.back();
        if (!run.started) {
            std::cerr << "tcplab-cli compare: " << run.failure << "\n";
            return kExitFailure;
        }
        out << "# " << run.name << ": " << run.description << "\n";
    }

    out << "\n# " << lab::compareScenario(*close).title << "; our SYN offers "
        << lab::kCompareSynOptions << "\n";
    printColumns(
        out, "linux", ladderText(*runs[0].timeline, 0, runs[0].classicEnd, runs[0].classicParams),
        "lwip", ladderText(*runs[1].timeline, 0, runs[1].classicEnd, runs[1].classicParams));
    out << "\n# the bad-segment probe: after the handshake, 1 byte at snd.nxt+1000000\n";
    printColumns(out, "linux",
                 ladderText(*runs[0].timeline, runs[0].classicEnd, runs[0].timeline->size(),
                            runs[0].probeParams),
                 "lwip",
                 ladderText(*runs[1].timeline, runs[1].classicEnd, runs[1].timeline->size(),
                            runs[1].probeParams));

    out << "\nDifferences:\n";
    for (const auto& topic : lab::differences(lab::analyse(runs[0]), lab::analyse(runs[1]))) {
        out << "- " << topic.title << (topic.same() ? " (the same)" : "") << "\n";
        out << "    linux: " << topic.linuxText << "\n";
        out << "    lwip:  " << topic.lwipText << "\n";
    }

    int status = kExitOk;
    for (const auto& run : runs)
        if (!run.failure.empty()) {
            std::cerr << "tcplab-cli compare: " << run.name << ": " << run.failure << "\n";
            status = kExitFailure;
        }
    return status;
}

} // namespace

void addCompareCommand(CLI::App& app, int& exitCode) {
    auto o = std::make_shared<CompareArgs>();
    CLI::App* sub = app.add_subcommand(
        "compare",
        "Run the classic exercise against both built-in peers (linux and lwip), print the two "
        "ladders side by side and what the stacks did differently (ISN, SYN-ACK options, "
        "delayed ACK, segment sizes, close), then probe each with a segment outside its "
        "receive window. Exits 0 when both runs completed, 1 when a lab could not start or a "
        "run failed.");
    sub->add_flag("--ipv6", o->ipv6, "use the built-in lab's IPv6 addresses");
    sub->add_option("--close", o->close,
                    "fin: we close first; rst: we abort with RST; peer: the peer closes first")
        ->capture_default_str();
    sub->callback([o, &exitCode] { exitCode = runCompare(*o); });
}

} // namespace tcplab::cli
