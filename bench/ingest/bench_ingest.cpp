// Ingest benchmark (issue 4, "Benchmark"): a capture of N TCP frames (default 1,000,000)
// read into a Timeline and run through a ConnectionTable, pcap export of the same
// timeline, and the same file read by `tcpdump -n -r` and `tshark -r`, in one run.
//
// The input is generated here with PcapWriter and SegmentSpec: a few HTTP-like keep-alive
// connections from 198.18.0.2 to 198.18.0.1:80, interleaved in bursts: handshake (MSS,
// SACK-permitted, timestamps, WS 7), requests of 100..700 bytes, responses of 1..24
// segments of up to 1448 bytes ACKed every second segment, now and then a segment lost
// after the capture point (three duplicate ACKs with SACK, then a fast retransmission),
// now and then a request retransmitted after an RTO, and FIN at the end. Frames are
// 66..1514 bytes.
//
// Memory: global operator new/delete are replaced to count live heap bytes (usable
// sizes), and mallinfo2() gives the heap in use (chunk headers and mmapped chunks
// included). "Bookkeeping" is the heap that the timeline and the tracker hold after the
// ingest, less the frame bytes themselves.
//
// Exit status: 0 when everything ran (goals met or not: the output says), 1 when a step
// failed, 2 on bad arguments.

#include "tcp/tracker.h"
#include "timeline/analysis.h"
#include "timeline/pcap_file.h"
#include "timeline/timeline.h"
#include "timeline/timeline_io.h"
#include "wire/address.h"
#include "wire/frame.h"
#include "wire/segment_spec.h"
#include "wire/tcp.h"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <fcntl.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <new>
#include <optional>
#include <random>
#include <string>
#include <vector>

// ---------------------------------------------------------------------------------------
// Counting allocator: live heap bytes (malloc_usable_size) and allocations.

namespace {
std::atomic<std::int64_t> gLiveBytes{0};
std::atomic<std::int64_t> gLiveBlocks{0};
std::atomic<std::int64_t> gAllocations{0};

void* countedAlloc(std::size_t n, std::size_t align) {
    void* p =
        align > alignof(std::max_align_t)
            ? std::aligned_alloc(align, (std::max<std::size_t>(n, 1) + align - 1) / align * align)
            : std::malloc(std::max<std::size_t>(n, 1));
    if (!p)
        throw std::bad_alloc();
    gLiveBytes.fetch_add(static_cast<std::int64_t>(malloc_usable_size(p)),
                         std::memory_order_relaxed);
    gLiveBlocks.fetch_add(1, std::memory_order_relaxed);
    gAllocations.fetch_add(1, std::memory_order_relaxed);
    return p;
}
void countedFree(void* p) noexcept {
    if (!p)
        return;
    gLiveBytes.fetch_sub(static_cast<std::int64_t>(malloc_usable_size(p)),
                         std::memory_order_relaxed);
    gLiveBlocks.fetch_sub(1, std::memory_order_relaxed);
    std::free(p);
}
} // namespace

void* operator new(std::size_t n) {
    return countedAlloc(n, 0);
}
void* operator new[](std::size_t n) {
    return countedAlloc(n, 0);
}
void* operator new(std::size_t n, std::align_val_t a) {
    return countedAlloc(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
    return countedAlloc(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept {
    countedFree(p);
}
void operator delete[](void* p) noexcept {
    countedFree(p);
}
void operator delete(void* p, std::size_t) noexcept {
    countedFree(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    countedFree(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
    countedFree(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
    countedFree(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
    countedFree(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
    countedFree(p);
}

namespace {

using namespace tcplab;
using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

/// CPU seconds of this process (user + system): on a shared, loaded machine a steadier
/// figure than wall time, which also counts the time other processes held the CPU.
double cpuSeconds() {
    struct rusage u {};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

struct HeapSnapshot {
    std::int64_t mallinfoBytes = 0; ///< uordblks + hblkhd: in-use chunks (headers included)
    std::int64_t liveBytes = 0;     ///< usable bytes of live operator-new blocks
    std::int64_t liveBlocks = 0;
};
HeapSnapshot heapNow() {
    const struct mallinfo2 mi = mallinfo2();
    return {static_cast<std::int64_t>(mi.uordblks + mi.hblkhd),
            gLiveBytes.load(std::memory_order_relaxed),
            gLiveBlocks.load(std::memory_order_relaxed)};
}

// ---------------------------------------------------------------------------------------
// The input.

struct GenStats {
    std::size_t frames = 0;
    std::uint64_t frameBytes = 0;
    std::size_t minFrame = SIZE_MAX;
    std::size_t maxFrame = 0;
    std::size_t dupAcks = 0;
    std::size_t fastRetransmissions = 0;
    std::size_t rtoRetransmissions = 0;
    std::size_t connections = 0;
};

class Generator {
public:
    Generator(timeline::PcapWriter& writer, GenStats& stats)
        : m_writer(writer)
        , m_stats(stats) {
        m_pattern.resize(1448);
        for (std::size_t i = 0; i < m_pattern.size(); ++i)
            m_pattern[i] = static_cast<std::uint8_t>("HTTP/1.1 200 OK payload "[i % 24]);
        m_buffer.resize(2048);
    }

    struct Conn {
        wire::SegmentSpec c2s; ///< client -> server template
        wire::SegmentSpec s2c;
        std::uint32_t cNxt = 0; ///< client's next sequence number
        std::uint32_t sNxt = 0;
        std::uint32_t cAcked = 0; ///< what the client acknowledged of the server
        std::uint32_t ts = 0;
        std::size_t budget = 0;
        std::size_t emitted = 0;
        int phase = 0; ///< 0 handshake, 1 rounds, 2 done
    };

    Conn makeConn(std::size_t index, std::size_t budget) {
        Conn c;
        const auto clientMac = wire::MacAddress{{0x02, 0x00, 0x5e, 0x10, 0x00, 0x02}};
        const auto serverMac = wire::MacAddress{{0x02, 0x00, 0x5e, 0x10, 0x00, 0x01}};
        const auto clientIp = wire::Ipv4Address{{198, 18, 0, 2}};
        const auto serverIp = wire::Ipv4Address{{198, 18, 0, 1}};
        const auto port = static_cast<std::uint16_t>(42570 + index);
        c.c2s.ethernet.src = clientMac;
        c.c2s.ethernet.dst = serverMac;
        wire::Ipv4Header ip;
        ip.src = clientIp;
        ip.dst = serverIp;
        c.c2s.ip = ip;
        c.c2s.tcp.srcPort = port;
        c.c2s.tcp.dstPort = 80;
        c.s2c.ethernet.src = serverMac;
        c.s2c.ethernet.dst = clientMac;
        ip.src = serverIp;
        ip.dst = clientIp;
        c.s2c.ip = ip;
        c.s2c.tcp.srcPort = 80;
        c.s2c.tcp.dstPort = port;
        c.cNxt = static_cast<std::uint32_t>(m_rng());
        c.sNxt = static_cast<std::uint32_t>(m_rng());
        c.ts = static_cast<std::uint32_t>(m_rng());
        c.budget = budget;
        return c;
    }

    /// One burst of `c`: the handshake, a request/response round, or the close.
    tl::expected<void, std::string> step(Conn& c) {
        using namespace wire::tcp_flags;
        if (c.phase == 0) {
            const std::uint32_t ciss = c.cNxt;
            const std::uint32_t siss = c.sNxt;
            emit(c, true, kSyn, ciss, 0, 0, Opt::Syn);
            emit(c, false, kSyn | kAck, siss, ciss + 1, 0, Opt::Syn);
            c.cNxt = ciss + 1;
            c.sNxt = siss + 1;
            c.cAcked = c.sNxt;
            emit(c, true, kAck, c.cNxt, c.sNxt, 0, Opt::Ts);
            c.phase = 1;
            return {};
        }
        if (c.phase == 2)
            return {};
        constexpr std::size_t kMaxRound = 64;
        constexpr std::size_t kClose = 3;
        if (c.emitted + kMaxRound + kClose <= c.budget) {
            round(c);
            return {};
        }
        // Fill to the exact budget with pipelined requests, then close: the server's
        // FIN-ACK acknowledges them all.
        while (c.emitted + kClose < c.budget)
            emit(c, true, kPsh | kAck, c.cNxt, c.cAcked, 100 + m_rng() % 600, Opt::Ts, true);
        emit(c, true, kFin | kAck, c.cNxt, c.cAcked, 0, Opt::Ts);
        c.cNxt += 1;
        emit(c, false, kFin | kAck, c.sNxt, c.cNxt, 0, Opt::Ts);
        c.sNxt += 1;
        emit(c, true, kAck, c.cNxt, c.sNxt, 0, Opt::Ts);
        c.phase = 2;
        return {};
    }

private:
    enum class Opt { Syn, Ts, TsSack };

    void round(Conn& c) {
        using namespace wire::tcp_flags;
        // The request; now and then lost after the capture point and sent again after an RTO.
        const std::uint32_t rq = 100 + static_cast<std::uint32_t>(m_rng() % 600);
        const std::uint32_t rqSeq = c.cNxt;
        emit(c, true, kPsh | kAck, rqSeq, c.cAcked, rq, Opt::Ts, true);
        if (m_rng() % 50 == 0) {
            m_timeNs += 200'000'000; // RTO
            emit(c, true, kPsh | kAck, rqSeq, c.cAcked, rq, Opt::Ts);
            ++m_stats.rtoRetransmissions;
        }
        // The response: n segments, ACKed every second one.
        const std::size_t n = 1 + m_rng() % 24;
        const std::uint32_t lastLen = 1 + static_cast<std::uint32_t>(m_rng() % 1448);
        // A segment lost after the capture point: at an even index, with three after it.
        std::optional<std::size_t> lost;
        if (n >= 6 && m_rng() % 20 == 0)
            lost = 2 * (m_rng() % ((n - 4) / 2 + 1));
        std::size_t unacked = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint32_t len = i + 1 == n ? lastLen : 1448;
            const std::uint32_t seq = c.sNxt;
            emit(c, false, i + 1 == n ? kPsh | kAck : kAck, seq, c.cNxt, len, Opt::Ts, true);
            if (lost && i == *lost) {
                // Three more segments arrive beyond the hole: three duplicate ACKs with SACK.
                const std::uint32_t holeEnd = c.sNxt;
                for (int k = 0; k < 3; ++k) {
                    ++i;
                    emit(c, false, kAck, c.sNxt, c.cNxt, 1448, Opt::Ts, true);
                    m_sack = {wire::SackBlock{wire::SeqNum(holeEnd), wire::SeqNum(c.sNxt)}};
                    emit(c, true, kAck, c.cNxt, seq, 0, Opt::TsSack);
                    ++m_stats.dupAcks;
                }
                // The fast retransmission, and the ACK of everything.
                emit(c, false, kAck, seq, c.cNxt, len, Opt::Ts);
                ++m_stats.fastRetransmissions;
                c.cAcked = c.sNxt;
                emit(c, true, kAck, c.cNxt, c.cAcked, 0, Opt::Ts);
                unacked = 0;
                continue;
            }
            if (++unacked == 2 || i + 1 == n) {
                c.cAcked = c.sNxt;
                emit(c, true, kAck, c.cNxt, c.cAcked, 0, Opt::Ts);
                unacked = 0;
            }
        }
    }

    /// Writes one frame; `advance` moves the sender's next sequence number past the data.
    void emit(Conn& c, bool fromClient, std::uint8_t flags, std::uint32_t seq, std::uint32_t ack,
              std::uint32_t len, Opt opt, bool advance = false) {
        wire::SegmentSpec& s = fromClient ? c.c2s : c.s2c;
        s.tcp.flags = flags;
        s.tcp.seq = wire::SeqNum(seq);
        s.tcp.ack = wire::SeqNum((flags & wire::tcp_flags::kAck) ? ack : 0);
        s.tcp.window = fromClient ? 502 : 501;
        s.tcp.options.clear();
        ++c.ts;
        const std::uint32_t tsEcr = c.ts - 7;
        if (opt == Opt::Syn) {
            s.tcp.window = 64240;
            s.tcp.options.append(wire::TcpOption::mss(1460));
            s.tcp.options.append(wire::TcpOption::sackPermitted());
            s.tcp.options.append(
                wire::TcpOption::timestamps(c.ts, (flags & wire::tcp_flags::kAck) ? tsEcr : 0));
            s.tcp.options.append(wire::TcpOption::nop());
            s.tcp.options.append(wire::TcpOption::windowScale(7));
        } else {
            s.tcp.options.append(wire::TcpOption::nop());
            s.tcp.options.append(wire::TcpOption::nop());
            s.tcp.options.append(wire::TcpOption::timestamps(c.ts, tsEcr));
            if (opt == Opt::TsSack) {
                s.tcp.options.append(wire::TcpOption::nop());
                s.tcp.options.append(wire::TcpOption::nop());
                s.tcp.options.append(wire::TcpOption::sack(m_sack));
            }
        }
        s.ipv4().id = static_cast<std::uint16_t>(s.ipv4().id + 1);
        s.payload.assign(m_pattern.begin(), m_pattern.begin() + len);
        const auto n = s.encode(wire::MutableBytes(m_buffer));
        if (!n) {
            fmt::print(stderr, "bench_ingest: cannot encode a frame: {}\n",
                       wire::describe(n.error()));
            std::exit(1);
        }
        m_timeNs += 5'000 + static_cast<std::int64_t>(m_rng() % 20'000);
        m_writer.write(wire::Bytes(m_buffer.data(), *n), m_timeNs);
        if (advance)
            (fromClient ? c.cNxt : c.sNxt) += len;
        ++c.emitted;
        ++m_stats.frames;
        m_stats.frameBytes += *n;
        m_stats.minFrame = std::min(m_stats.minFrame, *n);
        m_stats.maxFrame = std::max(m_stats.maxFrame, *n);
    }

    timeline::PcapWriter& m_writer;
    GenStats& m_stats;
    std::mt19937_64 m_rng{20240604};
    std::vector<std::uint8_t> m_pattern;
    std::vector<std::uint8_t> m_buffer;
    std::array<wire::SackBlock, 1> m_sack{};
    std::int64_t m_timeNs = 1'717'000'000'000'000'000;
};

tl::expected<GenStats, std::string> generate(const std::string& path, std::size_t frames,
                                             std::size_t connections) {
    auto writer = timeline::PcapWriter::create(path);
    if (!writer)
        return tl::make_unexpected(writer.error());
    GenStats stats;
    connections = std::max<std::size_t>(1, std::min(connections, frames / 200));
    stats.connections = connections;
    Generator gen(*writer, stats);
    std::vector<Generator::Conn> conns;
    for (std::size_t i = 0; i < connections; ++i)
        conns.push_back(
            gen.makeConn(i, frames / connections + (i == 0 ? frames % connections : 0)));
    for (bool any = true; any;) {
        any = false;
        for (auto& c : conns) {
            if (c.phase == 2)
                continue;
            any = true;
            if (auto r = gen.step(c); !r)
                return tl::make_unexpected(r.error());
        }
    }
    if (auto r = writer->close(); !r)
        return tl::make_unexpected(r.error());
    return stats;
}

// ---------------------------------------------------------------------------------------
// Running the other readers.

struct External {
    bool ran = false;
    bool timedOut = false;
    int status = -1;
    double wall = 0;
    double cpu = 0;
};

External runQuiet(const std::vector<std::string>& argv) {
    External r;
    std::vector<char*> args;
    for (const auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const auto t0 = Clock::now();
    const pid_t pid = fork();
    if (pid < 0)
        return r;
    if (pid == 0) {
        const int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        execvp(args[0], args.data());
        _exit(127);
    }
    int status = 0;
    struct rusage ru {};
    if (wait4(pid, &status, 0, &ru) < 0)
        return r;
    r.wall = secondsSince(t0);
    r.cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
            static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.timedOut = r.status == 124; // timeout(1)
    r.ran = r.status == 0;
    return r;
}

bool haveTool(const std::string& name) {
    return runQuiet({"sh", "-c", "command -v " + name}).status == 0;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

bool sameFile(const std::string& a, const std::string& b) {
    std::ifstream fa(a, std::ios::binary);
    std::ifstream fb(b, std::ios::binary);
    std::vector<char> ba(1 << 20);
    std::vector<char> bb(1 << 20);
    while (fa && fb) {
        fa.read(ba.data(), static_cast<std::streamsize>(ba.size()));
        fb.read(bb.data(), static_cast<std::streamsize>(bb.size()));
        if (fa.gcount() != fb.gcount() ||
            !std::equal(ba.begin(), ba.begin() + fa.gcount(), bb.begin()))
            return false;
    }
    return fa.eof() && fb.eof();
}

const char* yesNo(bool ok) {
    return ok ? "MET" : "NOT MET";
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"tcplab ingest benchmark: import + tracking, pcap export, tcpdump and tshark"};
    std::size_t frames = 1'000'000;
    std::size_t connections = 4;
    int repeat = 3;
    int tcpdumpRepeat = 3;
    int tsharkTimeout = 120;
    std::string dir;
    std::string input;
    bool keep = false;
    bool noExternal = false;
    app.add_option("--frames", frames, "frames to generate (default 1000000)")
        ->check(CLI::Range(200, 4'000'000));
    app.add_option("--connections", connections, "connections, interleaved (default 4)")
        ->check(CLI::Range(1, 64));
    app.add_option("--repeat", repeat, "ingest repetitions; the median is reported (default 3)")
        ->check(CLI::Range(1, 20));
    app.add_option("--tcpdump-repeat", tcpdumpRepeat, "tcpdump repetitions (default 3)")
        ->check(CLI::Range(1, 20));
    app.add_option("--tshark-timeout", tsharkTimeout,
                   "seconds before tshark is stopped (default 120)");
    app.add_option("--dir", dir,
                   "directory for the files (default: a new one under $TMPDIR or /tmp)");
    app.add_option("--input", input, "use this capture instead of generating one (not removed)");
    app.add_flag("--keep", keep, "keep the generated files");
    app.add_flag("--no-external", noExternal, "skip tcpdump and tshark");
    CLI11_PARSE(app, argc, argv);

    namespace fs = std::filesystem;
    bool ownDir = false;
    if (dir.empty()) {
        const char* tmp = std::getenv("TMPDIR");
        std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/tcplab-ingest-XXXXXX";
        if (!mkdtemp(templ.data())) {
            fmt::print(stderr, "bench_ingest: cannot create a directory under {}\n", templ);
            return 1;
        }
        dir = templ;
        ownDir = true;
    }
    const std::string exported = dir + "/export.pcap";
    bool generated = false;
    const auto cleanup = [&] {
        std::error_code ec;
        fs::remove(exported, ec);
        if (generated && !keep)
            fs::remove(input, ec);
        if (ownDir && !keep)
            fs::remove(dir, ec);
    };

    // ---- the input
    GenStats gen;
    if (input.empty()) {
        // About 870 bytes per frame on disk: the input and the export need twice that.
        constexpr std::uint64_t kBytesPerFrame = 900;
        struct statvfs vfs {};
        if (statvfs(dir.c_str(), &vfs) == 0) {
            const std::uint64_t avail = std::uint64_t(vfs.f_bavail) * vfs.f_frsize;
            const std::uint64_t need = 2 * kBytesPerFrame * frames + (256u << 20);
            if (avail < need) {
                const std::size_t fit =
                    avail > (512u << 20)
                        ? std::size_t((avail - (256u << 20)) / (2 * kBytesPerFrame))
                        : 0;
                if (fit < 10'000) {
                    fmt::print(stderr, "bench_ingest: only {} MB free in {}\n", avail >> 20, dir);
                    cleanup();
                    return 1;
                }
                fmt::print("NOTE: only {} MB free in {}: {} frames instead of {}\n", avail >> 20,
                           dir, fit, frames);
                frames = fit;
            }
        }
        input = dir + "/input.pcap";
        generated = true;
        fmt::print("Generating {} frames into {} ...\n", frames, input);
        const auto t0 = Clock::now();
        auto g = generate(input, frames, connections);
        if (!g) {
            fmt::print(stderr, "bench_ingest: generating the input failed: {}\n", g.error());
            cleanup();
            return 1;
        }
        gen = *g;
        fmt::print("  {} frames, {} connections, {:.1f} MB of frames (file {:.1f} MB), frames "
                   "{}..{} bytes, {} dup ACKs, {} fast retransmissions, {} RTO retransmissions "
                   "({:.1f} s)\n",
                   gen.frames, gen.connections, double(gen.frameBytes) / 1e6,
                   double(fs::file_size(input)) / 1e6, gen.minFrame, gen.maxFrame, gen.dupAcks,
                   gen.fastRetransmissions, gen.rtoRetransmissions, secondsSince(t0));
    } else {
        fmt::print("Input {} ({:.1f} MB)\n", input, double(fs::file_size(input)) / 1e6);
    }
    std::fflush(stdout);
    // Page the file in once, so every reader below starts from the page cache.
    runQuiet({"cat", input});

    // ---- (1) import + tracking, repeated; memory measured on each
    std::vector<double> importS, trackS, totalS;
    std::vector<double> bookkeeping, bookkeepingCounted;
    std::size_t n = 0, segments = 0;
    std::uint64_t frameBytes = 0;
    std::array<std::size_t, tcp::kSegmentClassCount> classCount{};
    std::int64_t tableBytes = 0;
    std::unique_ptr<timeline::Timeline> tl;
    // The same import through libpcap alone (PcapBackend::Libpcap, the reader before our
    // own parser), interleaved with the measured runs so both see the same machine.
    std::vector<double> libpcapImportS, libpcapTotalS, libpcapCpuS, cpuS;
    for (int r = 0; r < repeat; ++r) {
        tl.reset();
        malloc_trim(0);
        {
            const double cb = cpuSeconds();
            const auto tb = Clock::now();
            timeline::Timeline reference;
            timeline::ImportOptions viaLibpcap;
            viaLibpcap.backend = timeline::PcapBackend::Libpcap;
            const auto summary = timeline::importPcap(input, reference, viaLibpcap);
            const double ti = secondsSince(tb);
            if (!summary || !summary->error.empty()) {
                fmt::print(stderr, "bench_ingest: libpcap import failed\n");
                cleanup();
                return 1;
            }
            const auto tt0 = Clock::now();
            tcp::ConnectionTable table;
            std::uint64_t sink = 0;
            for (std::size_t i = 0; i < reference.size(); ++i)
                if (const auto res = table.onFrame(reference[i].decode(), reference[i].timeNs))
                    sink += res->classes.bits();
            libpcapImportS.push_back(ti);
            libpcapTotalS.push_back(ti + secondsSince(tt0));
            libpcapCpuS.push_back(cpuSeconds() - cb);
            if (sink == 0xffffffffffffffffull)
                fmt::print("");
        }
        malloc_trim(0);
        const HeapSnapshot h0 = heapNow();
        const double c0 = cpuSeconds();
        const auto t0 = Clock::now();
        auto timeline = std::make_unique<timeline::Timeline>();
        auto summary = timeline::importPcap(input, *timeline);
        const double ti = secondsSince(t0);
        if (!summary || !summary->error.empty() || summary->skipped != 0) {
            fmt::print(stderr, "bench_ingest: import failed: {}\n",
                       summary ? (summary->error.empty() ? "timeline full" : summary->error)
                               : summary.error());
            cleanup();
            return 1;
        }
        const HeapSnapshot h1 = heapNow();
        const auto t1 = Clock::now();
        tcp::ConnectionTable table;
        std::array<std::size_t, tcp::kSegmentClassCount> counts{};
        std::size_t segs = 0;
        const std::size_t size = timeline->size();
        for (std::size_t i = 0; i < size; ++i) {
            const timeline::Entry& e = (*timeline)[i];
            const auto res = table.onFrame(e.decode(), e.timeNs);
            if (!res)
                continue;
            ++segs;
            for (std::uint32_t bits = res->classes.bits(); bits; bits &= bits - 1)
                ++counts[std::size_t(__builtin_ctz(bits))];
        }
        const double tt = secondsSince(t1);
        cpuS.push_back(cpuSeconds() - c0);
        const HeapSnapshot h2 = heapNow();
        frameBytes = 0;
        for (std::size_t i = 0; i < size; ++i)
            frameBytes += (*timeline)[i].bytes.size();
        n = size;
        segments = segs;
        classCount = counts;
        tableBytes = h2.liveBytes - h1.liveBytes;
        importS.push_back(ti);
        trackS.push_back(tt);
        totalS.push_back(ti + tt);
        // The timeline maps its frame blocks itself (mmap, not malloc): neither mallinfo2
        // nor operator new sees them, so they are added here, unused tails included.
        const auto arena = std::int64_t(timeline->storedBytes());
        bookkeeping.push_back(
            double(h2.mallinfoBytes - h0.mallinfoBytes + arena - std::int64_t(frameBytes)) /
            double(n));
        bookkeepingCounted.push_back(
            double(h2.liveBytes - h0.liveBytes + arena - std::int64_t(frameBytes)) / double(n));
        tl = std::move(timeline); // table dies here; the timeline is kept for the passes below
    }
    const double ingest = median(totalS);
    const double ingestRate = double(n) / ingest;
    const double perSeg = median(bookkeeping);

    // ---- (2) tracking alone: the same table fed decoded segments from memory
    std::vector<tcp::FrameSegment> decoded;
    decoded.reserve(n);
    auto t0 = Clock::now();
    for (std::size_t i = 0; i < n; ++i) {
        const auto fs = tcp::segmentOf((*tl)[i].decode(), (*tl)[i].timeNs);
        if (fs)
            decoded.push_back(*fs);
    }
    const double decodeS = secondsSince(t0);
    std::vector<double> trackAloneS;
    for (int r = 0; r < repeat; ++r) {
        tcp::ConnectionTable table;
        std::uint64_t sink = 0;
        t0 = Clock::now();
        for (const auto& fs : decoded)
            sink += table.onSegment(fs.src, fs.dst, fs.segment).classes.bits();
        trackAloneS.push_back(secondsSince(t0));
        if (sink == 0xffffffffffffffffull)
            fmt::print("");
    }
    decoded.clear();
    decoded.shrink_to_fit();

    // ---- (3) pcap export
    std::vector<double> exportS;
    for (int r = 0; r < repeat; ++r) {
        std::error_code ec;
        fs::remove(exported, ec);
        t0 = Clock::now();
        if (auto e = timeline::exportPcap(*tl, exported); !e) {
            fmt::print(stderr, "bench_ingest: export failed: {}\n", e.error());
            cleanup();
            return 1;
        }
        exportS.push_back(secondsSince(t0));
    }
    const bool roundTrip = sameFile(input, exported);
    tl.reset();

    // ---- (4) tcpdump and tshark
    std::optional<double> tcpdumpS, tsharkS;
    std::string tcpdumpNote, tsharkNote;
    if (!noExternal) {
        if (haveTool("tcpdump")) {
            std::vector<double> v;
            for (int r = 0; r < tcpdumpRepeat; ++r) {
                const auto x = runQuiet(
                    {"timeout", std::to_string(tsharkTimeout), "tcpdump", "-n", "-r", input});
                if (!x.ran) {
                    tcpdumpNote =
                        x.timedOut ? "timed out" : fmt::format("failed (status {})", x.status);
                    break;
                }
                v.push_back(x.wall);
            }
            if (!v.empty())
                tcpdumpS = median(v);
        } else {
            tcpdumpNote = "not installed (apt-get install tcpdump)";
        }
        if (haveTool("tshark")) {
            fmt::print("Running tshark -r (up to {} s) ...\n", tsharkTimeout);
            std::fflush(stdout);
            const auto x =
                runQuiet({"timeout", std::to_string(tsharkTimeout), "tshark", "-r", input});
            if (x.ran)
                tsharkS = x.wall;
            else
                tsharkNote = x.timedOut ? fmt::format("timed out after {} s", tsharkTimeout)
                                        : fmt::format("failed (status {})", x.status);
        } else {
            tsharkNote = "not installed";
        }
    }

    // ---- report
    struct rusage self {};
    getrusage(RUSAGE_SELF, &self);
    const auto cls = [&](tcp::SegmentClass c) { return classCount[std::size_t(c)]; };
    fmt::print(
        "\n== Ingest of {} frames ({} TCP segments, {:.1f} MB of frame bytes), median of {} ==\n",
        n, segments, double(frameBytes) / 1e6, repeat);
    fmt::print("  importPcap into Timeline         {:8.3f} s  {:>12.0f} frames/s\n",
               median(importS), double(n) / median(importS));
    fmt::print("  decode + ConnectionTable pass    {:8.3f} s  {:>12.0f} segments/s\n",
               median(trackS), double(segments) / median(trackS));
    fmt::print("  ingest with tracking (sum)       {:8.3f} s  {:>12.0f} segments/s\n", ingest,
               ingestRate);
    fmt::print("  the same through libpcap only:   {:8.3f} s  {:>12.0f} segments/s  (import "
               "{:.3f} s; ours {:.2f}x faster)\n",
               median(libpcapTotalS), double(segments) / median(libpcapTotalS),
               median(libpcapImportS), median(libpcapTotalS) / ingest);
    fmt::print("  CPU time (user+sys) of the ingest: {:.3f} s ({:.0f} segments per CPU-second); "
               "through libpcap only {:.3f} s ({:.2f}x)\n",
               median(cpuS), double(segments) / median(cpuS), median(libpcapCpuS),
               median(libpcapCpuS) / median(cpuS));
    fmt::print("  decode alone (segmentOf)         {:8.3f} s  {:>12.0f} segments/s\n", decodeS,
               double(segments) / decodeS);
    fmt::print("  tracking alone (onSegment)       {:8.3f} s  {:>12.0f} segments/s\n",
               median(trackAloneS), double(segments) / median(trackAloneS));
    fmt::print("  exportPcap                       {:8.3f} s  {:>12.0f} frames/s  {:.0f} MB/s  "
               "(byte-identical to the input: {})\n",
               median(exportS), double(n) / median(exportS),
               double(fs::file_size(input)) / 1e6 / median(exportS), roundTrip ? "yes" : "NO");
    fmt::print("  tracker classes: {} retransmission ({} fast), {} dup_ack, {} new_data "
               "(generated: {} fast + {} RTO retransmissions, {} dup ACKs)\n",
               cls(tcp::SegmentClass::Retransmission), cls(tcp::SegmentClass::FastRetransmission),
               cls(tcp::SegmentClass::DuplicateAck), cls(tcp::SegmentClass::NewData),
               gen.fastRetransmissions, gen.rtoRetransmissions, gen.dupAcks);

    fmt::print("\n== Memory beyond the frame bytes (after import + tracking) ==\n");
    fmt::print("  heap in use (mallinfo2, headers + mmapped chunks): {:.1f} bytes/segment\n",
               perSeg);
    fmt::print("  live operator-new blocks (usable sizes):          {:.1f} bytes/segment\n",
               median(bookkeepingCounted));
    fmt::print(
        "  of which: sizeof(Entry) {} (in {}-entry chunks), ConnectionTable {} bytes in all;\n"
        "  the rest is the unused tail of the timeline's last 4 MiB byte block\n",
        sizeof(timeline::Entry), timeline::Timeline::kChunkSize, tableBytes);
    fmt::print("  (keeping a SegmentResult per segment, as a GUI row does, would add {} bytes)\n",
               sizeof(tcp::SegmentResult));
    fmt::print("  peak RSS {:.0f} MB\n", double(self.ru_maxrss) / 1024.0);

    fmt::print("\n== Other readers of the same file (output to /dev/null) ==\n");
    if (tcpdumpS)
        fmt::print("  tcpdump -n -r FILE   {:8.3f} s  {:>12.0f} frames/s  (median of {})\n",
                   *tcpdumpS, double(n) / *tcpdumpS, tcpdumpRepeat);
    else
        fmt::print("  tcpdump -n -r FILE   {}\n", noExternal ? "skipped" : tcpdumpNote);
    if (tsharkS)
        fmt::print("  tshark -r FILE       {:8.3f} s  {:>12.0f} frames/s\n", *tsharkS,
                   double(n) / *tsharkS);
    else
        fmt::print("  tshark -r FILE       {}\n", noExternal ? "skipped" : tsharkNote);

    fmt::print("\n== Ratios (same run) ==\n");
    if (tcpdumpS)
        fmt::print("  tcpdump / tcplab ingest with tracking: {:.2f}x\n", *tcpdumpS / ingest);
    if (tsharkS)
        fmt::print("  tshark  / tcplab ingest with tracking: {:.2f}x\n", *tsharkS / ingest);
    else if (!tsharkNote.empty() && tsharkNote.starts_with("timed out"))
        fmt::print("  tshark  / tcplab ingest with tracking: > {:.2f}x (tshark timed out)\n",
                   double(tsharkTimeout) / ingest);

    fmt::print("\n== Goals ==\n");
    fmt::print("  >= 1,000,000 segments/s ingest with tracking: {:.0f}  {}\n", ingestRate,
               yesNo(ingestRate >= 1e6));
    fmt::print("  <= 64 bytes bookkeeping per segment:          {:.1f}  {}\n", perSeg,
               yesNo(perSeg <= 64.0));
    if (tcpdumpS)
        fmt::print("  faster than tcpdump -n -r:                    {:.3f} s vs {:.3f} s  {}\n",
                   ingest, *tcpdumpS, yesNo(ingest < *tcpdumpS));
    else
        fmt::print("  faster than tcpdump -n -r:                    not measured\n");
    if (tsharkS)
        fmt::print("  over 20x tshark -r:                           {:.1f}x  {}\n",
                   *tsharkS / ingest, yesNo(*tsharkS / ingest > 20.0));
    else
        fmt::print("  over 20x tshark -r:                           not measured ({})\n",
                   noExternal ? "skipped" : tsharkNote);
    if (n != 1'000'000)
        fmt::print("NOTE: {} frames, not the 1,000,000 of the issue\n", n);

    cleanup();
    return 0;
}
