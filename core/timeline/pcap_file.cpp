#include "timeline/pcap_file.h"

#include <pcap/pcap.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <unistd.h>
#include <utility>

#include <fmt/format.h>

namespace tcplab::timeline {

std::int64_t wallClockNanoseconds() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

namespace {
// Snapshot length written in the file header: large enough for any Ethernet frame.
constexpr int kSnapLength = 262144;

pcap_t* openDead() {
    return pcap_open_dead_with_tstamp_precision(DLT_EN10MB, kSnapLength,
                                                PCAP_TSTAMP_PRECISION_NANO);
}
} // namespace

tl::expected<PcapWriter, std::string> PcapWriter::create(const std::string& path) {
    PcapWriter w;
    w.m_target = path;
    w.m_temporary = fmt::format("{}.tmp-{}", path, ::getpid());
    w.m_pcap = openDead();
    if (!w.m_pcap)
        return tl::make_unexpected(std::string("libpcap could not create a capture handle"));
    w.m_dumper = pcap_dump_open(w.m_pcap, w.m_temporary.c_str());
    if (!w.m_dumper)
        return tl::make_unexpected(fmt::format("cannot write {}: {}", path, pcap_geterr(w.m_pcap)));
    return w;
}

tl::expected<PcapWriter, std::string> PcapWriter::openAppend(const std::string& path) {
    PcapWriter w;
    w.m_target = path;
    w.m_pcap = openDead();
    if (!w.m_pcap)
        return tl::make_unexpected(std::string("libpcap could not create a capture handle"));
    w.m_dumper = pcap_dump_open_append(w.m_pcap, path.c_str());
    if (!w.m_dumper)
        return tl::make_unexpected(
            fmt::format("cannot append to {}: {}", path, pcap_geterr(w.m_pcap)));
    return w;
}

PcapWriter::PcapWriter(PcapWriter&& other) noexcept
    : m_pcap(std::exchange(other.m_pcap, nullptr))
    , m_dumper(std::exchange(other.m_dumper, nullptr))
    , m_target(std::move(other.m_target))
    , m_temporary(std::move(other.m_temporary)) {}

PcapWriter& PcapWriter::operator=(PcapWriter&& other) noexcept {
    if (this != &other) {
        discard();
        m_pcap = std::exchange(other.m_pcap, nullptr);
        m_dumper = std::exchange(other.m_dumper, nullptr);
        m_target = std::move(other.m_target);
        m_temporary = std::move(other.m_temporary);
    }
    return *this;
}

PcapWriter::~PcapWriter() {
    discard();
}

void PcapWriter::discard() noexcept {
    if (m_dumper)
        pcap_dump_close(m_dumper);
    if (m_pcap)
        pcap_close(m_pcap);
    if (m_dumper && !m_temporary.empty())
        std::remove(m_temporary.c_str());
    m_dumper = nullptr;
    m_pcap = nullptr;
}

void PcapWriter::write(wire::Bytes frame, std::int64_t timestampNs, std::uint32_t originalLength) {
    if (!m_dumper)
        return;
    pcap_pkthdr header{};
    header.ts.tv_sec = static_cast<time_t>(timestampNs / 1'000'000'000);
    // With a nanosecond handle libpcap stores tv_usec as nanoseconds.
    header.ts.tv_usec = static_cast<suseconds_t>(timestampNs % 1'000'000'000);
    header.caplen = static_cast<bpf_u_int32>(frame.size());
    header.len = originalLength ? originalLength : static_cast<bpf_u_int32>(frame.size());
    pcap_dump(reinterpret_cast<u_char*>(m_dumper), &header, frame.data());
}

tl::expected<void, std::string> PcapWriter::close() {
    if (!m_dumper)
        return tl::make_unexpected(std::string("capture file already closed"));
    const bool flushed = pcap_dump_flush(m_dumper) == 0;
    const int savedErrno = errno;
    FILE* file = pcap_dump_file(m_dumper);
    const bool fileOk = file && !std::ferror(file);
    pcap_dump_close(m_dumper);
    m_dumper = nullptr;
    pcap_close(m_pcap);
    m_pcap = nullptr;
    if (!flushed || !fileOk) {
        if (!m_temporary.empty())
            std::remove(m_temporary.c_str());
        return tl::make_unexpected(
            fmt::format("writing {} failed: {}", m_target, std::strerror(savedErrno)));
    }
    if (!m_temporary.empty() && std::rename(m_temporary.c_str(), m_target.c_str()) != 0) {
        const int err = errno;
        std::remove(m_temporary.c_str());
        return tl::make_unexpected(
            fmt::format("cannot move the capture into {}: {}", m_target, std::strerror(err)));
    }
    return {};
}

tl::expected<PcapReader, std::string> PcapReader::open(const std::string& path) {
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    PcapReader r;
    r.m_pcap =
        pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (!r.m_pcap)
        return tl::make_unexpected(fmt::format("cannot read {}: {}", path, errbuf));
    return r;
}

PcapReader::PcapReader(PcapReader&& other) noexcept
    : m_pcap(std::exchange(other.m_pcap, nullptr))
    , m_error(std::move(other.m_error)) {}

PcapReader& PcapReader::operator=(PcapReader&& other) noexcept {
    if (this != &other) {
        if (m_pcap)
            pcap_close(m_pcap);
        m_pcap = std::exchange(other.m_pcap, nullptr);
        m_error = std::move(other.m_error);
    }
    return *this;
}

PcapReader::~PcapReader() {
    if (m_pcap)
        pcap_close(m_pcap);
}

int PcapReader::linkType() const noexcept {
    return m_pcap ? pcap_datalink(m_pcap) : -1;
}

bool PcapReader::next(PcapRecord& record) {
    if (!m_pcap)
        return false;
    pcap_pkthdr* header = nullptr;
    const u_char* data = nullptr;
    const int rc = pcap_next_ex(m_pcap, &header, &data);
    if (rc == 1) {
        record.timestampNs = std::int64_t{header->ts.tv_sec} * 1'000'000'000 + header->ts.tv_usec;
        record.data = wire::Bytes(data, header->caplen);
        record.originalLength = header->len;
        return true;
    }
    if (rc == PCAP_ERROR)
        m_error = pcap_geterr(m_pcap);
    return false;
}

} // namespace tcplab::timeline
