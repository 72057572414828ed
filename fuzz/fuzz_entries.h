#pragma once

// The fuzz targets' entry functions, shared by the libFuzzer executables (fuzz/, built
// with clang and -fsanitize=fuzzer) and tests/core/tst_fuzz_regressions (g++), so a
// finding kept under tests/data/fuzz/regressions/<target>/ runs through the very same
// code in every build. Each entry returns an empty string when the input was handled
// correctly, or what went wrong: an oracle failed (a round trip that does not give back
// its input). Crashes, leaks and UB are the sanitizers' to report.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tcplab::fuzz {

/// bytes -> wire::decodeFrame, its JSON and summary; when SegmentSpec::fromFrame accepts
/// the frame, encoding that spec must give back the input byte for byte.
std::string frameDecode(const std::uint8_t* data, std::size_t size);

/// bytes -> a capture file (pcap or pcapng, whatever the bytes say) -> importPcap into a
/// Timeline, then analyze() of what was read. Our own reader (PcapBackend::Auto) must
/// read what libpcap alone reads: the same frames, times and error. The file goes to a
/// memfd (a tmp file where memfd_create is missing).
std::string pcapImport(const std::uint8_t* data, std::size_t size);

/// text -> parseScenario; when it parses, formatScenario then parseScenario must give an
/// equal Scenario, and formatting that must give the same text.
std::string scenario(const std::uint8_t* data, std::size_t size);

/// text -> drill::parseScript (a packetdrill script); when it parses, formatScript then
/// parseScript must give an equal Script, and formatting that must give the same text. An
/// error must carry its line, column and reason.
std::string drillScript(const std::uint8_t* data, std::size_t size);

/// bytes -> TCP segments between two endpoints (16 bytes each, see fuzz_entries.cpp), fed
/// to a ConnectionTable; for each, Connection::preview must predict onSegment, and the
/// tutor (annotate, checkBeforeSend, suggestNext, suggestReset, autoAck) runs on it.
std::string tracker(const std::uint8_t* data, std::size_t size);

/// bytes -> peer::decode (the peer agent's protocol); a message that decodes must encode
/// back to the same bytes. The bytes as text -> peer::parseCall; a call that parses must
/// pass validate() and parse again from formatCall() to an equal Request. The request or
/// answer is also described (describeCall, describeAnswer) without crashing.
std::string agentProtocol(const std::uint8_t* data, std::size_t size);

/// The entry function of a target by name ("frame_decode", "pcap_import", "scenario",
/// "drill_script", "tracker", "agent_protocol", "link_helper_args"); nullptr for another
/// name.
using Entry = std::string (*)(const std::uint8_t*, std::size_t);
Entry entryFor(std::string_view target) noexcept;

/// bytes split at NUL -> link::parseHelperArguments (tcplab-link's argv); accepted
/// arguments must name a valid interface, a unicast MAC and an address, and format back
/// (helperArguments) to the same request. The bytes as text -> parseHelperAnswer; an
/// answer that parses must parse equal once written again.
std::string linkHelperArgs(const std::uint8_t* data, std::size_t size);

} // namespace tcplab::fuzz
