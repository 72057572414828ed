// tcplab-cli analyze: a capture through the trackers and the tutor, one line per TCP
// segment, optionally exported as JSON or CSV.
#include "cli/commands.h"

#include "timeline/analysis.h"

#include <iostream>
#include <memory>
#include <vector>

namespace tcplab::cli {

namespace {

struct AnalyzeOptions {
    std::string pcap;
    std::string json;
    std::string csv;
    std::vector<std::string> local;
};

int runAnalyze(const AnalyzeOptions& o) {
    timeline::ImportOptions import;
    for (const auto& text : o.local) {
        if (auto mac = wire::MacAddress::parse(text)) {
            import.localMacs.push_back(*mac);
        } else if (auto ip = wire::parseIpAddress(text)) {
            import.localAddresses.push_back(*ip);
        } else {
            std::cerr << "tcplab-cli analyze: --local: \"" << text
                      << "\" is neither an IP address nor a MAC address\n";
            return kExitBadUsage;
        }
    }
    timeline::Timeline store;
    auto summary = timeline::importPcap(o.pcap, store, import);
    if (!summary) {
        std::cerr << "tcplab-cli analyze: " << summary.error() << "\n";
        return kExitFailure;
    }
    const auto rows = timeline::analyze(store, import.localAddresses);
    for (const auto& row : rows)
        if (row.result)
            std::cout << timeline::formatAnalysisLine(row) << "\n";
    std::cout.flush();

    int status = kExitOk;
    if (!o.json.empty()) {
        if (auto r = timeline::exportAnalysisJson(store, rows, o.json); !r) {
            std::cerr << "tcplab-cli analyze: " << r.error() << "\n";
            status = kExitFailure;
        }
    }
    if (!o.csv.empty()) {
        if (auto r = timeline::exportAnalysisCsv(rows, o.csv); !r) {
            std::cerr << "tcplab-cli analyze: " << r.error() << "\n";
            status = kExitFailure;
        }
    }
    if (summary->skipped != 0) {
        std::cerr << "tcplab-cli analyze: " << o.pcap << ": " << summary->skipped
                  << " frames left out: the timeline holds at most " << store.capacity() << "\n";
        status = kExitFailure;
    }
    if (!summary->error.empty()) {
        // What was read is analysed above; the file itself is broken.
        std::cerr << "tcplab-cli analyze: " << summary->error << "\n";
        status = kExitFailure;
    }
    return status;
}

} // namespace

void addAnalyzeCommand(CLI::App& app, int& exitCode) {
    auto o = std::make_shared<AnalyzeOptions>();
    CLI::App* sub = app.add_subcommand(
        "analyze",
        "Run a capture through the connection trackers and the tutor: one line per TCP segment "
        "(frame, direction, flags, relative seq/ack, len, window, classes, both ends' states "
        "after it, annotation).");
    sub->add_option("--pcap", o->pcap, "a pcap or pcapng file (Ethernet)")
        ->required()
        ->check(CLI::ExistingFile);
    auto* json = sub->add_option("--json", o->json, "also write one JSON object per TCP segment");
    auto* csv = sub->add_option("--csv", o->csv, "also write one CSV row per TCP segment");
    json->excludes(csv);
    sub->add_option("--local", o->local,
                    "an address or MAC of ours: frames from it are 'sent' (default: the sender of "
                    "the first SYN)");
    sub->callback([o, &exitCode] { exitCode = runAnalyze(*o); });
}

} // namespace tcplab::cli
