// tcplab-cli: the wire layer, the phantom host and the scenarios without a GUI.
#include "cli/commands.h"

#include <iostream>

int main(int argc, char** argv) {
    CLI::App app{"tcplab-cli: craft, decode and send TCP segments by hand"};
    app.set_version_flag("--version", std::string("tcplab-cli ") + TCPLAB_VERSION);
    app.require_subcommand(1);
    int exitCode = tcplab::cli::kExitOk;
    tcplab::cli::addCraftCommand(app, exitCode);
    tcplab::cli::addDecodeCommand(app, exitCode);
    tcplab::cli::addAnalyzeCommand(app, exitCode);
    tcplab::cli::addExperimentCommand(app, exitCode);
    tcplab::cli::addCompareCommand(app, exitCode);
    tcplab::cli::addPeerCommand(app, exitCode);
    tcplab::cli::addDrillCommand(app, exitCode);
    tcplab::cli::addScriptCommand(app, exitCode);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        std::cout << app.help();
        return tcplab::cli::kExitOk;
    } catch (const CLI::CallForAllHelp&) {
        std::cout << app.help("", CLI::AppFormatMode::All);
        return tcplab::cli::kExitOk;
    } catch (const CLI::CallForVersion& e) {
        std::cout << e.what() << "\n";
        return tcplab::cli::kExitOk;
    } catch (const CLI::ParseError& e) {
        std::cerr << "tcplab-cli: " << e.what() << "\n";
        return tcplab::cli::kExitBadUsage;
    }
    return exitCode;
}
