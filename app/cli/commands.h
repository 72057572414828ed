#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace tcplab::cli {

/// Exit statuses shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure =
    1; ///< the command ran and failed (I/O, a step that did not happen)
inline constexpr int kExitBadUsage = 2; ///< bad or missing arguments

/// Each subcommand registers itself on the app and stores its exit status in
/// `exitCode` when CLI11 runs its callback.
void addCraftCommand(CLI::App& app, int& exitCode);
void addDecodeCommand(CLI::App& app, int& exitCode);
void addAnalyzeCommand(CLI::App& app, int& exitCode);
void addExperimentCommand(CLI::App& app, int& exitCode);
void addCompareCommand(CLI::App& app, int& exitCode);
void addPeerCommand(CLI::App& app, int& exitCode);
void addDrillCommand(CLI::App& app, int& exitCode);
void addScriptCommand(CLI::App& app, int& exitCode);

/// Parses an unsigned number (decimal or 0x hex) no larger than `max`; throws
/// CLI::ValidationError naming the option on anything else, so every numeric option
/// gets the same clear one-line error.
std::uint64_t parseUnsigned(std::string_view option, std::string_view text, std::uint64_t max);

} // namespace tcplab::cli
