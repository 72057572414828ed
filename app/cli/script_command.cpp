// tcplab-cli script: a capture's TCP connection as a packetdrill script (.pkt) that
// replays the phantom's side and asserts the peer's, or as a scapy program (.py); and the
// same export for the timelines of `drill` and `experiment` (writeScriptExport).
#include "cli/commands.h"
#include "cli/script_export.h"

#include "drill/export_script.h"
#include "timeline/analysis.h"
#include "timeline/timeline.h"
#include "timeline/timeline_io.h"
#include "wire/address.h"

#include <iostream>
#include <memory>

namespace tcplab::cli {

tl::expected<void, std::string> writeScriptExport(const timeline::Timeline& timeline,
                                                  const std::string& path,
                                                  const drill::ExportOptions& options) {
    const bool scapy = path.ends_with(".py");
    auto text =
        scapy ? drill::exportScapy(timeline, options) : drill::exportPacketdrill(timeline, options);
    if (!text)
        return tl::make_unexpected(text.error());
    // Written whole or not at all: a failed export leaves no half-written file.
    return timeline::writeFileAtomically(path, *text);
}

namespace {

struct ScriptOptions {
    std::string capture;
    std::vector<std::string> outputs;
    std::size_t connection = 0;
    bool assertWindow = false;
    std::int64_t toleranceUsecs = 0;
    std::vector<std::string> phantom; ///< addresses or MACs whose frames the phantom sent
};

int runScript(const ScriptOptions& o) {
    // A capture does not say who sent what: the phantom's frames are those from its
    // addresses (by default the built-in labs' phantom, 198.18.0.2 and 2001:db8::2).
    timeline::ImportOptions import;
    const std::vector<std::string> phantom =
        o.phantom.empty() ? std::vector<std::string>{"198.18.0.2", "2001:db8::2"} : o.phantom;
    for (const std::string& text : phantom) {
        if (auto mac = wire::MacAddress::parse(text)) {
            import.localMacs.push_back(*mac);
        } else if (auto ip = wire::parseIpAddress(text)) {
            import.localAddresses.push_back(*ip);
        } else {
            std::cerr << "tcplab-cli script: --phantom: \"" << text
                      << "\" is neither an IP address nor a MAC address\n";
            return kExitBadUsage;
        }
    }
    timeline::Timeline captured;
    const auto read = timeline::importPcap(o.capture, captured, import);
    if (!read) {
        std::cerr << "tcplab-cli script: " << read.error() << "\n";
        return kExitFailure;
    }
    if (!read->error.empty())
        std::cerr << "tcplab-cli script: " << o.capture << ": " << read->error
                  << " (the frames before it are used)\n";
    drill::ExportOptions options;
    options.connection = o.connection;
    options.assertWindow = o.assertWindow;
    options.toleranceUsecs = o.toleranceUsecs;
    int status = kExitOk;
    for (const std::string& out : o.outputs) {
        if (auto r = writeScriptExport(captured, out, options); !r) {
            std::cerr << "tcplab-cli script: " << out << ": " << r.error() << "\n";
            status = kExitFailure;
        } else {
            std::cout << out << ": written from " << read->frames << " frames\n";
        }
    }
    return status;
}

} // namespace

void addScriptCommand(CLI::App& app, int& exitCode) {
    auto o = std::make_shared<ScriptOptions>();
    CLI::App* sub = app.add_subcommand(
        "script",
        "Write one TCP connection of a capture as a packetdrill script (.pkt: the phantom's "
        "segments as '<' lines, the peer's as '>' lines to check, its calls made up where the "
        "capture has none) or as a scapy program (.py) that does the same.");
    sub->add_option("capture", o->capture, "a pcap or pcapng file")
        ->required()
        ->check(CLI::ExistingFile);
    sub->add_option("-o,--output", o->outputs,
                    "the script to write: .pkt for packetdrill, .py for scapy (repeatable)")
        ->required();
    sub->add_option("--phantom", o->phantom,
                    "an address or MAC of the side to replay: its frames become '<' lines "
                    "(default: the built-in labs' phantom, 198.18.0.2 and 2001:db8::2)");
    sub->add_option("--connection", o->connection,
                    "which connection, 0 for the first to appear (default)");
    sub->add_flag("--assert-window", o->assertWindow,
                  "check the peer's window too (it follows what its application read)");
    sub->add_option("--tolerance_usecs", o->toleranceUsecs,
                    "a --tolerance_usecs line for the script (0: none)");
    sub->callback([o, &exitCode] { exitCode = runScript(*o); });
}

} // namespace tcplab::cli
