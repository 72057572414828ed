#pragma once

#include "wire/bytes.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <tl/expected.hpp>

struct pcap;
struct pcap_dumper;

namespace tcplab::timeline {

/// Nanoseconds since the Unix epoch, now (for frames crafted rather than captured).
std::int64_t wallClockNanoseconds() noexcept;

/// Writes Ethernet frames to a pcap file with nanosecond timestamps, through libpcap.
/// `create` writes to a temporary file beside the target and renames it on a
/// successful close(), so a failure never leaves a half-written file; `openAppend`
/// appends to an existing capture (or creates one).
class PcapWriter {
public:
    static tl::expected<PcapWriter, std::string> create(const std::string& path);
    static tl::expected<PcapWriter, std::string> openAppend(const std::string& path);

    PcapWriter(PcapWriter&&) noexcept;
    PcapWriter& operator=(PcapWriter&&) noexcept;
    ~PcapWriter(); ///< without close(): the temporary file of create() is removed

    void write(wire::Bytes frame, std::int64_t timestampNs, std::uint32_t originalLength = 0);
    void write(wire::Bytes frame) { write(frame, wallClockNanoseconds()); }
    /// Flushes, checks for write errors and (for create) renames into place.
    tl::expected<void, std::string> close();

private:
    PcapWriter() = default;
    void discard() noexcept;

    pcap* m_pcap = nullptr;
    pcap_dumper* m_dumper = nullptr;
    std::string m_target;
    std::string m_temporary; ///< empty when appending in place
};

/// One record of a capture file.
struct PcapRecord {
    std::int64_t timestampNs = 0;
    wire::Bytes data; ///< valid until the next call to next()
    std::uint32_t originalLength = 0;
};

/// How PcapReader reads a file.
enum class PcapBackend : std::uint8_t {
    /// Our own parser for the common cases (pcap 2.4 little/big endian, micro/nanosecond;
    /// pcapng with one section, Ethernet interfaces, decimal if_tsresol, EPBs), libpcap
    /// for anything else, and libpcap from the first unusual record on (a truncated or
    /// oversized record, a block that does not add up): then libpcap re-reads the records
    /// before it, skips them, and reports exactly what it reports on its own.
    Auto,
    Libpcap, ///< libpcap for every record (the reference the tests compare Auto with)
};

class FastPcapParser; // pcap_file.cpp

/// Reads pcap and pcapng files (libpcap reads both) with nanosecond timestamps.
class PcapReader {
public:
    static tl::expected<PcapReader, std::string> open(const std::string& path);
    static tl::expected<PcapReader, std::string> open(const std::string& path, PcapBackend backend);
    PcapReader(PcapReader&&) noexcept;
    PcapReader& operator=(PcapReader&&) noexcept;
    ~PcapReader();

    /// The next record; false at the end or on an error (then error() says why).
    bool next(PcapRecord& record);
    /// Empty unless reading stopped on an error (a truncated file, say).
    const std::string& error() const noexcept { return m_error; }
    /// DLT_ link type; 1 is Ethernet.
    int linkType() const noexcept;
    /// True while our own parser reads (false once libpcap took over, or never had it).
    bool fastPath() const noexcept { return m_fast != nullptr; }

private:
    PcapReader() = default;
    bool handOverToLibpcap();

    pcap* m_pcap = nullptr;
    std::string m_error;
    std::unique_ptr<FastPcapParser> m_fast;
    std::string m_path;
    std::size_t m_delivered = 0; ///< records returned by next() so far
};

} // namespace tcplab::timeline
