#include "timeline/pcap_file.h"

#include <pcap/pcap.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>
#include <vector>

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

// ---- our own reader for the common cases ---------------------------------------------
//
// libpcap reads a savefile through stdio, one fread for the header and one for the data
// of every record, and copies each frame into its own buffer. This reads the file in
// large chunks with read(2) and hands out frames where they lie in the chunk: one copy
// from the page cache, no per-record call. It takes only files and records it fully
// understands; everything else goes to libpcap (PcapReader::handOverToLibpcap), so the
// two can only differ in speed.

namespace {
constexpr std::uint32_t kPcapMagicMicro = 0xa1b2c3d4;
constexpr std::uint32_t kPcapMagicNano = 0xa1b23c4d;
constexpr std::uint32_t kPcapngShb = 0x0a0d0d0a;
constexpr std::uint32_t kPcapngByteOrder = 0x1a2b3c4d;
constexpr std::uint32_t kPcapngIdb = 1;
constexpr std::uint32_t kPcapngPb = 2; ///< the obsolete Packet Block, which libpcap still reads
constexpr std::uint32_t kPcapngSpb = 3;
constexpr std::uint32_t kPcapngEpb = 6;
constexpr std::uint32_t kLinkEthernet = 1;
/// libpcap's max_snaplen_for_dlt() for Ethernet: it refuses larger records.
constexpr std::uint32_t kMaxCaplen = 262144;
/// A pcapng block larger than this is left to libpcap (it has its own limit).
constexpr std::uint32_t kMaxBlock = 16u << 20;
constexpr std::size_t kChunk = 1u << 20;

std::uint32_t load32(const std::uint8_t* p, bool swap) noexcept {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return swap ? __builtin_bswap32(v) : v;
}
std::uint16_t load16(const std::uint8_t* p, bool swap) noexcept {
    std::uint16_t v;
    std::memcpy(&v, p, 2);
    return swap ? __builtin_bswap16(v) : v;
}
} // namespace

class FastPcapParser {
public:
    enum class Step : std::uint8_t { Record, End, Unusual };

    ~FastPcapParser() {
        if (m_fd >= 0)
            ::close(m_fd);
    }

    /// A parser when the file is one it handles from its start; nullptr otherwise.
    static std::unique_ptr<FastPcapParser> open(const std::string& path) {
        auto p = std::unique_ptr<FastPcapParser>(new FastPcapParser);
        p->m_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        // Regular files only: libpcap may have to read the file again from its start (a
        // pipe, /dev/stdin say, cannot be read twice).
        struct stat st {};
        if (p->m_fd < 0 || ::fstat(p->m_fd, &st) != 0 || !S_ISREG(st.st_mode) || !p->ensure(24))
            return nullptr;
        const std::uint8_t* h = p->at();
        std::uint32_t magic;
        std::memcpy(&magic, h, 4);
        if (magic == kPcapMagicMicro || magic == kPcapMagicNano ||
            __builtin_bswap32(magic) == kPcapMagicMicro ||
            __builtin_bswap32(magic) == kPcapMagicNano)
            return p->openPcap() ? std::move(p) : nullptr;
        if (magic == kPcapngShb)
            return p->openPcapng() ? std::move(p) : nullptr;
        return nullptr;
    }

    Step next(PcapRecord& record) { return m_ng ? nextPcapng(record) : nextPcap(record); }

private:
    FastPcapParser() = default;

    const std::uint8_t* at() const noexcept { return m_buffer.get() + m_pos; }
    std::size_t available() const noexcept { return m_end - m_pos; }

    /// At least `n` bytes from m_pos in the buffer; false at the end of the file (or on a
    /// read error, which libpcap will then meet and report).
    bool ensure(std::size_t n) {
        if (available() >= n)
            return true;
        if (n > m_capacity) {
            const std::size_t capacity = std::max(n, m_capacity * 2);
            auto bigger = std::make_unique_for_overwrite<std::uint8_t[]>(capacity);
            if (available() > 0)
                std::memcpy(bigger.get(), at(), available());
            m_buffer = std::move(bigger);
            m_capacity = capacity;
            m_end = available();
            m_pos = 0;
        } else if (m_pos > 0) {
            std::memmove(m_buffer.get(), at(), available());
            m_end = available();
            m_pos = 0;
        }
        while (m_end - m_pos < n) {
            const ssize_t got = ::read(m_fd, m_buffer.get() + m_end, m_capacity - m_end);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                return false;
            m_end += static_cast<std::size_t>(got);
        }
        return true;
    }

    bool openPcap() {
        const std::uint8_t* h = at();
        std::uint32_t magic;
        std::memcpy(&magic, h, 4);
        m_swap = magic != kPcapMagicMicro && magic != kPcapMagicNano;
        m_nano = load32(h, m_swap) == kPcapMagicNano;
        // Version 2.4 only (libpcap fixes up older ones), and plain Ethernet: the upper
        // bits of the link type (FCS length) are left to libpcap too.
        if (load16(h + 4, m_swap) != 2 || load16(h + 6, m_swap) != 4)
            return false;
        m_snaplen = load32(h + 16, m_swap);
        if (load32(h + 20, m_swap) != kLinkEthernet)
            return false;
        if (m_snaplen == 0 || m_snaplen > kMaxCaplen)
            m_snaplen = kMaxCaplen; // libpcap's own correction of a bad snaplen
        m_pos += 24;
        return true;
    }

    Step nextPcap(PcapRecord& record) {
        if (!ensure(16))
            return available() == 0 ? Step::End : Step::Unusual; // a header cut short
        const std::uint8_t* h = at();
        const std::uint32_t caplen = load32(h + 8, m_swap);
        // libpcap cuts a record longer than the snaplen down, refuses one over its
        // maximum: both are its business.
        if (caplen > m_snaplen || !ensure(16 + std::size_t{caplen}))
            return Step::Unusual;
        h = at();
        // libpcap reads both as signed 32-bit (struct pcap_timeval in sf-pcap.c): a time
        // past 2038 comes out before 1970, and so it must here, to read what libpcap reads.
        const auto sec = static_cast<std::int32_t>(load32(h, m_swap));
        const auto frac = static_cast<std::int32_t>(load32(h + 4, m_swap));
        record.timestampNs = std::int64_t{sec} * 1'000'000'000 +
                             (m_nano ? std::int64_t{frac} : std::int64_t{frac} * 1000);
        record.originalLength = load32(h + 12, m_swap);
        record.data = wire::Bytes(h + 16, caplen);
        m_pos += 16 + std::size_t{caplen};
        return Step::Record;
    }

    struct Interface {
        std::uint32_t snaplen = kMaxCaplen;
        std::uint64_t nanosPerUnit = 1000; ///< if_tsresol 6 by default
    };

    /// The block at m_pos: type and total length, checked to be whole and consistent.
    bool block(std::uint32_t& type, std::uint32_t& length) {
        if (!ensure(12))
            return false;
        type = load32(at(), m_swap);
        length = load32(at() + 4, m_swap);
        if (length < 12 || length % 4 != 0 || length > kMaxBlock || !ensure(length))
            return false;
        return load32(at() + length - 4, m_swap) == length;
    }

    bool openPcapng() {
        if (!ensure(28))
            return false;
        const std::uint32_t order = load32(at() + 8, false);
        if (order != kPcapngByteOrder && __builtin_bswap32(order) != kPcapngByteOrder)
            return false;
        m_swap = order != kPcapngByteOrder;
        std::uint32_t type, length;
        // Version 1.0 only; libpcap refuses some others, and judges them itself.
        if (!block(type, length) || length < 28 || load16(at() + 12, m_swap) != 1 ||
            load16(at() + 14, m_swap) != 0)
            return false;
        m_pos += length;
        m_ng = true;
        // libpcap needs an interface before the first packet and takes the link type
        // from it; so do we.
        while (block(type, length)) {
            if (type == kPcapngIdb)
                return addInterface(length);
            if (type == kPcapngEpb || type == kPcapngSpb || type == kPcapngPb || type == kPcapngShb)
                return false;
            m_pos += length;
        }
        return false;
    }

    bool addInterface(std::uint32_t length) {
        const std::uint8_t* b = at();
        if (length < 20 || load16(b + 8, m_swap) != kLinkEthernet)
            return false;
        Interface i;
        const std::uint32_t snaplen = load32(b + 12, m_swap);
        if (snaplen != 0 && snaplen <= kMaxCaplen)
            i.snaplen = snaplen;
        // Options: code, length, value padded to 4 bytes, until opt_endofopt.
        std::size_t o = 16;
        bool tsresolSeen = false;
        while (o + 4 <= length - 4) {
            const std::uint16_t code = load16(b + o, m_swap);
            const std::uint16_t len = load16(b + o + 2, m_swap);
            if (code == 0)
                break;
            if (o + 4 + len > length - 4)
                return false;
            if (code == 9) { // if_tsresol: decimal exponents up to nanoseconds only
                // (libpcap refuses a second one; it is left to it.)
                if (len != 1 || (b[o + 4] & 0x80) != 0 || b[o + 4] > 9 || tsresolSeen)
                    return false;
                tsresolSeen = true;
                std::uint64_t scale = 1;
                for (int k = b[o + 4]; k < 9; ++k)
                    scale *= 10;
                i.nanosPerUnit = scale;
            } else if (code == 14) { // if_tsoffset: left to libpcap
                return false;
            }
            o += 4 + ((len + 3u) & ~3u);
        }
        m_interfaces.push_back(i);
        m_pos += length;
        return true;
    }

    Step nextPcapng(PcapRecord& record) {
        for (;;) {
            if (!ensure(1))
                return Step::End;
            std::uint32_t type, length;
            if (!block(type, length))
                return Step::Unusual;
            if (type == kPcapngEpb) {
                const std::uint8_t* b = at();
                if (length < 32)
                    return Step::Unusual;
                const std::uint32_t id = load32(b + 8, m_swap);
                const std::uint32_t caplen = load32(b + 20, m_swap);
                // libpcap cuts frames to the first interface's snaplen (its snapshot
                // length for the whole file): longer ones are left to it.
                if (id >= m_interfaces.size() || caplen > length - 32 ||
                    caplen > m_interfaces[id].snaplen || caplen > m_interfaces[0].snaplen)
                    return Step::Unusual;
                const std::uint64_t units =
                    (std::uint64_t{load32(b + 12, m_swap)} << 32) | load32(b + 16, m_swap);
                // As libpcap computes it (pcap-ng.c): whole seconds and the fraction
                // apart, then nanoseconds with the wrap-around of PcapReader::next().
                const Interface& i = m_interfaces[id];
                const std::uint64_t perSecond = 1'000'000'000u / i.nanosPerUnit;
                record.timestampNs = static_cast<std::int64_t>(units / perSecond * 1'000'000'000u +
                                                               units % perSecond * i.nanosPerUnit);
                record.originalLength = load32(b + 24, m_swap);
                record.data = wire::Bytes(b + 28, caplen);
                m_pos += length;
                return Step::Record;
            }
            if (type == kPcapngIdb) {
                if (!addInterface(length))
                    return Step::Unusual;
                continue;
            }
            // Simple packets (no timestamp, length rules of their own), the obsolete
            // Packet Blocks and further sections are libpcap's; statistics, names,
            // secrets and custom blocks are skipped, as libpcap skips them.
            if (type == kPcapngSpb || type == kPcapngPb || type == kPcapngShb)
                return Step::Unusual;
            m_pos += length;
        }
    }

    int m_fd = -1;
    std::unique_ptr<std::uint8_t[]> m_buffer =
        std::make_unique_for_overwrite<std::uint8_t[]>(kChunk);
    std::size_t m_capacity = kChunk;
    std::size_t m_pos = 0;
    std::size_t m_end = 0;
    bool m_swap = false;
    bool m_nano = false;
    bool m_ng = false;
    std::uint32_t m_snaplen = kMaxCaplen;
    std::vector<Interface> m_interfaces;
};

tl::expected<PcapReader, std::string> PcapReader::open(const std::string& path) {
    return open(path, PcapBackend::Auto);
}

tl::expected<PcapReader, std::string> PcapReader::open(const std::string& path,
                                                       PcapBackend backend) {
    PcapReader r;
    r.m_path = path;
    if (backend == PcapBackend::Auto) {
        r.m_fast = FastPcapParser::open(path);
        if (r.m_fast)
            return r;
    }
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    r.m_pcap =
        pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (!r.m_pcap)
        return tl::make_unexpected(fmt::format("cannot read {}: {}", path, errbuf));
    return r;
}

PcapReader::PcapReader(PcapReader&& other) noexcept
    : m_pcap(std::exchange(other.m_pcap, nullptr))
    , m_error(std::move(other.m_error))
    , m_fast(std::move(other.m_fast))
    , m_path(std::move(other.m_path))
    , m_delivered(other.m_delivered) {}

PcapReader& PcapReader::operator=(PcapReader&& other) noexcept {
    if (this != &other) {
        if (m_pcap)
            pcap_close(m_pcap);
        m_pcap = std::exchange(other.m_pcap, nullptr);
        m_error = std::move(other.m_error);
        m_fast = std::move(other.m_fast);
        m_path = std::move(other.m_path);
        m_delivered = other.m_delivered;
    }
    return *this;
}

PcapReader::~PcapReader() {
    if (m_pcap)
        pcap_close(m_pcap);
}

int PcapReader::linkType() const noexcept {
    if (m_fast)
        return static_cast<int>(kLinkEthernet); // the parser takes Ethernet files only
    return m_pcap ? pcap_datalink(m_pcap) : -1;
}

bool PcapReader::handOverToLibpcap() {
    m_fast.reset();
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    m_pcap =
        pcap_open_offline_with_tstamp_precision(m_path.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (!m_pcap) {
        m_error = errbuf;
        return false;
    }
    pcap_pkthdr* header = nullptr;
    const u_char* data = nullptr;
    for (std::size_t i = 0; i < m_delivered; ++i) {
        if (pcap_next_ex(m_pcap, &header, &data) != 1) {
            // The file changed under us: what libpcap read differs from what we gave out.
            m_error = fmt::format("{} changed while it was being read", m_path);
            return false;
        }
    }
    return true;
}

bool PcapReader::next(PcapRecord& record) {
    if (m_fast) {
        switch (m_fast->next(record)) {
        case FastPcapParser::Step::Record:
            ++m_delivered;
            return true;
        case FastPcapParser::Step::End:
            return false;
        case FastPcapParser::Step::Unusual:
            if (!handOverToLibpcap())
                return false;
            break;
        }
    }
    if (!m_pcap)
        return false;
    pcap_pkthdr* header = nullptr;
    const u_char* data = nullptr;
    const int rc = pcap_next_ex(m_pcap, &header, &data);
    if (rc == 1) {
        // Unsigned, so that a corrupt pcapng time stamp (seconds beyond 2^63 / 10^9) wraps
        // instead of overflowing; the fast path computes the same bits.
        record.timestampNs = static_cast<std::int64_t>(
            static_cast<std::uint64_t>(header->ts.tv_sec) * 1'000'000'000u +
            static_cast<std::uint64_t>(header->ts.tv_usec));
        record.data = wire::Bytes(data, header->caplen);
        record.originalLength = header->len;
        ++m_delivered;
        return true;
    }
    if (rc == PCAP_ERROR)
        m_error = pcap_geterr(m_pcap);
    return false;
}

} // namespace tcplab::timeline
