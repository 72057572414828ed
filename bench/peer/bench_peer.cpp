// The peer benchmark (issue 13, "Performance"): the built-in Linux lab's kernel against
// tcplab's engine, in one process. Parts (each one bounded in time):
//
//   download  a download of N bytes (default 100M) from the peer's kernel into the phantom
//             with Auto-ACK and snap length 128: goodput from the first data segment to the
//             last byte's arrival (the timeline's kernel timestamps), the AF_PACKET socket's
//             PACKET_STATISTICS, the peer's total_retrans (its tcp_info through the agent),
//             the timeline's bytes per frame, the engine process's CPU time.
//   answer    N classic experiments (default 20) with tcpdump capturing on the peer's end of
//             the veth inside the lab's namespaces (nsenter into the agent's): the phantom's
//             SYN-ACK -> ACK against the kernel's SYN -> SYN-ACK, from the capture.
//   analyze   the same figures from a capture made elsewhere (run.sh: the namespace lab).
//   rtt       peer-agent calls (AgentClient::call and Engine::peerCall) against the same
//             syscalls made directly in the lab's network namespace.
//   idle      the process's CPU time while the engine waits with nothing to do.
//
// Lines for run.sh: "RESULT name=... n=... median_ns=..." (bench/handshake/handshake_result.h)
// and "FIGURE key=value ...". Exit status 0 when the parts ran, 1 when one failed.

#include "handshake_result.h"

#include "engine/engine.h"
#include "engine/scenario.h"
#include "host/phantom_host.h"
#include "lab/builtin_lab.h"
#include "link/fd_link.h"
#include "peer/call_text.h"
#include "peer/tcp_info.h"
#include "timeline/timeline.h"
#include "wire/frame.h"
#include "wire/segment_spec.h"
#include "wire/tcp.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#ifndef TCPLAB_LAB_HELPER_PATH
#define TCPLAB_LAB_HELPER_PATH ""
#endif
#ifndef TCPLAB_PEER_AGENT_PATH
#define TCPLAB_PEER_AGENT_PATH ""
#endif

extern char** environ;

namespace {

using namespace tcplab;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace flags = wire::tcp_flags;

constexpr std::uint16_t kPeerPort = 5000;

/// --busy-poll-us: the engine's Options::busyPoll (default: the engine's own).
std::chrono::microseconds gBusyPoll = engine::Engine::kDefaultBusyPoll;

[[noreturn]] void fatal(const std::string& message) {
    std::fprintf(stderr, "bench_peer: %s\n", message.c_str());
    std::fflush(nullptr);
    std::_Exit(1); // an engine thread may still run: no destructors
}

std::int64_t sinceNs(Clock::time_point t0) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
}

/// CPU time of this process (all threads), user + system, in nanoseconds.
std::int64_t processCpuNs() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return (std::int64_t{u.ru_utime.tv_sec} + u.ru_stime.tv_sec) * 1'000'000'000 +
           (std::int64_t{u.ru_utime.tv_usec} + u.ru_stime.tv_usec) * 1000;
}

void printResult(const std::string& name, std::vector<std::uint64_t> samples,
                 std::size_t failures = 0) {
    hsr_print(stdout, name.c_str(), samples.data(), samples.size(), failures);
    std::fflush(stdout);
}

std::uint64_t median(std::vector<std::uint64_t> v) {
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    return hsr_percentile(v.data(), v.size(), 50);
}

/// How the engine's loop waited (its busy-poll windows).
void printLoop(const engine::Engine& engine, const char* part) {
    const auto l = engine.loopStatistics();
    std::printf("FIGURE name=loop part=%s sleeps=%llu busy_polls=%llu busy_poll_hits=%llu "
                "busy_poll_ms=%.2f\n",
                part, static_cast<unsigned long long>(l.sleeps),
                static_cast<unsigned long long>(l.busyPolls),
                static_cast<unsigned long long>(l.busyPollHits),
                static_cast<double>(l.busyPollNs) / 1e6);
}

/// The built-in lab with the engine on its link and the agent attached (as
/// tests/core/tst_peer_kernel.cpp's KernelLab).
class Rig {
public:
    explicit Rig(bool attachAgentToEngine = true) {
        lab::LabOptions options;
        options.helperPath = TCPLAB_LAB_HELPER_PATH;
        options.agentPath = TCPLAB_PEER_AGENT_PATH;
        if (const char* h = std::getenv("TCPLAB_LAB_HELPER"))
            options.helperPath = h;
        if (const char* agentPath = std::getenv("TCPLAB_PEER_AGENT"))
            options.agentPath = agentPath;
        auto started = lab::startLinuxLab(options);
        if (!started)
            fatal("cannot start the built-in Linux lab: " + started.error().message);
        lab.emplace(std::move(*started));
        if (!lab->agent())
            fatal("the built-in lab has no peer agent: " + lab->agentError());
        a = lab->addresses();
        description = lab->description();
        std::mt19937_64 rng(std::random_device{}());
        id.mac = host::randomLocalMac(rng);
        id.ipv4 = host::Ipv4Config{a.phantom4, a.prefix4, std::nullopt};
        timeline = std::make_shared<timeline::Timeline>();
        auto taken = lab->takeLink();
        fdLink = dynamic_cast<link::FdLink*>(taken.get());
        agent = lab->takeAgent();
        engine::Engine::Options engineOptions;
        engineOptions.busyPoll = gBusyPoll;
        engine = std::make_unique<engine::Engine>(std::move(taken), timeline, engineOptions);
        if (attachAgentToEngine)
            attachAgent();
        engine->start();
        engine->configure(id, host::HostTiming{}, engine::Engine::Probe::Skip);
    }
    ~Rig() {
        if (engine)
            engine->stop();
    }
    Rig(const Rig&) = delete;
    Rig& operator=(const Rig&) = delete;

    void attachAgent() { engine->attachAgent(std::move(agent)); }

    /// The peer agent's pid, from the lab's description ("peer agent: pid 4242").
    long agentPid() const {
        const auto at = description.find("peer agent: pid ");
        return at == std::string::npos ? -1
                                       : std::strtol(description.c_str() + at + 16, nullptr, 10);
    }

    bool until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        for (;;) {
            for (auto& e : engine->takeEvents()) {
                if (e.kind == engine::EngineEvent::Kind::LinkFailed)
                    fatal("the link failed: " + e.message);
                if (e.kind == engine::EngineEvent::Kind::TimelineFull)
                    fatal("the timeline is full: " + e.message);
                if (e.kind == engine::EngineEvent::Kind::PeerCall && e.call)
                    answers[e.call->answer.id] = *e.call;
                if (e.kind == engine::EngineEvent::Kind::ScenarioFinished)
                    finished.push_back(e);
            }
            if (done())
                return true;
            if (Clock::now() >= deadline)
                return false;
            engine->waitForEvents(5ms);
        }
    }

    std::uint32_t callAsync(const std::string& text) {
        auto r = peer::parseCall(text);
        if (!r)
            fatal(text + ": " + r.error());
        return engine->peerCall(*r);
    }
    peer::CallRecord call(const std::string& text, std::chrono::milliseconds timeout = 5s) {
        const std::uint32_t callId = callAsync(text);
        if (!until([&] { return answers.count(callId) != 0; }, timeout))
            fatal("no answer to '" + text + "'");
        return answers[callId];
    }

    wire::SegmentSpec segment(std::uint16_t sport, std::uint8_t f, std::uint32_t seq,
                              std::uint32_t ack, std::uint16_t window) const {
        wire::SegmentSpec s;
        s.ethernet.src = id.mac;
        s.ethernet.dst = a.peerMac;
        wire::Ipv4Header ip;
        ip.src = a.phantom4;
        ip.dst = a.peer4;
        ip.flags = wire::ipv4_flags::kDontFragment;
        s.ip = ip;
        s.tcp.srcPort = sport;
        s.tcp.dstPort = kPeerPort;
        s.tcp.flags = f;
        s.tcp.seq = wire::SeqNum(seq);
        s.tcp.ack = wire::SeqNum(ack);
        s.tcp.window = window;
        return s;
    }

    std::optional<lab::BuiltinLinuxLab> lab;
    lab::LabAddresses a;
    std::string description;
    host::Identity id;
    std::shared_ptr<timeline::Timeline> timeline;
    link::FdLink* fdLink = nullptr; ///< owned by the engine; read after it stopped
    std::unique_ptr<peer::AgentClient> agent;
    std::unique_ptr<engine::Engine> engine;
    std::map<std::uint32_t, peer::CallRecord> answers;
    std::vector<engine::EngineEvent> finished;
};

// --- download ---------------------------------------------------------------------------

struct DownloadOptions {
    std::string bytes = "100M";
    std::size_t snap = 128;
    unsigned budgetS = 60;
    std::uint16_t sport = 41000;
    int rcvbuf = 0; ///< SO_RCVBUF for the link's socket (0: as the lab made it)
};

std::uint16_t read16(wire::Bytes b, std::size_t at) {
    return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]);
}

int runDownload(const DownloadOptions& o) {
    auto parsed = peer::parseCall("write 4 " + o.bytes);
    if (!parsed)
        fatal("--bytes " + o.bytes + ": " + parsed.error());
    Rig rig;
    if (o.rcvbuf > 0 && rig.fdLink) // as a smaller net.core.rmem_max would leave it
        ::setsockopt(rig.fdLink->pollFd(), SOL_SOCKET, SO_RCVBUF, &o.rcvbuf, sizeof o.rcvbuf);
    rig.engine->setSnapLength(o.snap);
    rig.engine->setAutoAck(true);
    if (rig.call("socket inet").answer.result != 3 || rig.call("bind 3 5000").answer.result != 0 ||
        rig.call("listen 3").answer.result != 0)
        fatal("socket/bind/listen on the peer failed");

    // The SYN: MSS 1460, window 65535 with scale 7, so the phantom's window (8 MiB) is no
    // limit; Auto-ACK repeats the window field the phantom last sent.
    auto syn = rig.segment(o.sport, flags::kSyn, 1000, 0, 65535);
    syn.tcp.options.append(wire::TcpOption::mss(1460));
    syn.tcp.options.append(wire::TcpOption::nop());
    syn.tcp.options.append(wire::TcpOption::windowScale(7));
    const std::size_t from = rig.timeline->size();
    rig.engine->sendFrame(syn.encode().value());
    std::optional<std::uint32_t> irs;
    rig.until(
        [&] {
            for (std::size_t i = from, n = rig.timeline->size(); i < n; ++i) {
                const auto& e = (*rig.timeline)[i];
                const auto f = e.decode();
                if (e.direction == timeline::Direction::Received && f.tcp() &&
                    f.tcp()->dstPort == o.sport && f.tcp()->flags == (flags::kSyn | flags::kAck)) {
                    irs = f.tcp()->seq.value();
                    return true;
                }
            }
            return false;
        },
        3s);
    if (!irs)
        fatal("no SYN-ACK from the peer");
    if (rig.call("accept 3").answer.result != 4)
        fatal("accept on the peer failed");

    const std::int64_t cpu0 = processCpuNs();
    const auto wall0 = Clock::now();
    const std::uint32_t write = rig.engine->peerCall(*parsed);
    const auto total = static_cast<std::uint64_t>(parsed->numbers.at(0));
    if (!rig.until([&] { return rig.answers.count(write) != 0; }, std::chrono::seconds(o.budgetS)))
        fatal(fmt::format("the write of {} bytes did not finish within {} s", total, o.budgetS));
    if (rig.answers[write].answer.result != static_cast<std::int64_t>(total))
        fatal("the write failed: " +
              peer::describeCallLine(rig.answers[write].request, rig.answers[write].answer));
    // Everything acknowledged: the peer's tcp_info says unacked 0 (bounded).
    std::optional<peer::TcpInfo> info;
    for (int i = 0; i < 200; ++i) {
        const auto r = rig.call("getsockopt 4 TCP_INFO");
        info = peer::TcpInfo::fromLinux(r.answer.data);
        if (info->value(peer::TcpInfoField::Unacked) == 0)
            break;
        std::this_thread::sleep_for(10ms);
    }
    const std::int64_t wallNs = sinceNs(wall0);
    const std::int64_t cpuNs = processCpuNs() - cpu0;
    int receiveBuffer = 0;
    socklen_t receiveBufferLength = sizeof receiveBuffer;
    if (rig.fdLink)
        ::getsockopt(rig.fdLink->pollFd(), SOL_SOCKET, SO_RCVBUF, &receiveBuffer,
                     &receiveBufferLength);
    rig.engine->stop();
    printLoop(*rig.engine, "download");

    // The timeline's view: the first data segment and the last byte's arrival.
    const timeline::Timeline& t = *rig.timeline;
    const std::uint32_t end = *irs + 1 + static_cast<std::uint32_t>(total);
    std::optional<std::int64_t> first;
    std::optional<std::int64_t> last;
    std::uint64_t dataFrames = 0;
    std::uint64_t dataBytes = 0;
    std::uint64_t acksSent = 0;
    std::uint64_t retransmitted = 0;
    std::uint32_t highest = *irs + 1;
    for (std::size_t i = from, n = t.size(); i < n; ++i) {
        const auto& e = t[i];
        const wire::Bytes b = e.bytes;
        if (b.size() < 54 || read16(b, 12) != 0x0800 || b[23] != 6)
            continue;
        const std::size_t ihl = (b[14] & 0x0f) * 4u;
        const std::size_t tcpAt = 14 + ihl;
        const std::uint16_t sport = read16(b, tcpAt);
        const std::uint16_t dport = read16(b, tcpAt + 2);
        const std::size_t dataOffset = (b[tcpAt + 12] >> 4) * 4u;
        const std::size_t payload = read16(b, 16) - ihl - dataOffset;
        const std::uint32_t seq =
            static_cast<std::uint32_t>(read16(b, tcpAt + 4)) << 16 | read16(b, tcpAt + 6);
        if (e.direction == timeline::Direction::Sent && sport == o.sport) {
            ++acksSent;
            continue;
        }
        if (e.direction != timeline::Direction::Received || dport != o.sport || payload == 0)
            continue;
        ++dataFrames;
        dataBytes += payload;
        if (!first)
            first = e.timeNs;
        if (wire::SeqNum(seq) < wire::SeqNum(highest))
            ++retransmitted;
        if (wire::SeqNum(seq + static_cast<std::uint32_t>(payload)) > wire::SeqNum(highest))
            highest = seq + static_cast<std::uint32_t>(payload);
        if (seq + payload == end && !last)
            last = e.timeNs;
    }
    if (!first || !last)
        fatal("the timeline does not hold the first and the last data segment");
    const std::int64_t spanNs = std::max<std::int64_t>(*last - *first, 1);
    const auto stats = rig.fdLink ? rig.fdLink->receiveStatistics() : std::nullopt;
    // The timeline's bookkeeping: the frame arena (4 MiB blocks, peer records included) and
    // the entry arrays (4096-entry chunks and the chunk table).
    const std::size_t frames = t.size();
    const std::size_t chunk = timeline::Timeline::kChunkSize;
    const std::size_t entryBytes = (frames + chunk - 1) / chunk * chunk * sizeof(timeline::Entry) +
                                   (t.capacity() + chunk - 1) / chunk * sizeof(void*);
    const double perFrame = static_cast<double>(t.storedBytes() + entryBytes) /
                            static_cast<double>(std::max<std::size_t>(frames, 1));
    std::printf(
        "FIGURE name=tcplab_download bytes=%llu first_to_last_ns=%lld "
        "goodput_mbit_s=%.1f data_frames=%llu data_bytes=%llu acks_sent=%llu "
        "retransmitted_frames=%llu\n",
        static_cast<unsigned long long>(total), static_cast<long long>(spanNs),
        static_cast<double>(total) * 8e3 / static_cast<double>(spanNs),
        static_cast<unsigned long long>(dataFrames), static_cast<unsigned long long>(dataBytes),
        static_cast<unsigned long long>(acksSent), static_cast<unsigned long long>(retransmitted));
    std::printf("FIGURE name=tcplab_losses packet_socket_packets=%llu packet_socket_drops=%llu "
                "peer_total_retrans=%llu peer_lost=%llu peer_snd_cwnd=%llu so_rcvbuf=%d\n",
                static_cast<unsigned long long>(stats ? stats->packets : 0),
                static_cast<unsigned long long>(stats ? stats->drops : 0),
                static_cast<unsigned long long>(info->value(peer::TcpInfoField::TotalRetrans)),
                static_cast<unsigned long long>(info->value(peer::TcpInfoField::Lost)),
                static_cast<unsigned long long>(info->value(peer::TcpInfoField::SndCwnd)),
                receiveBuffer);
    std::printf("FIGURE name=tcplab_timeline frames=%zu peer_records=%zu stored_bytes=%zu "
                "entry_bytes=%zu bytes_per_frame=%.1f snap=%zu\n",
                frames, t.peerSize(), t.storedBytes(), entryBytes, perFrame, o.snap);
    std::printf("FIGURE name=tcplab_cpu wall_ns=%lld cpu_ns=%lld cpu_per_frame_ns=%.0f\n",
                static_cast<long long>(wallNs), static_cast<long long>(cpuNs),
                static_cast<double>(cpuNs) / static_cast<double>(std::max<std::size_t>(frames, 1)));
    std::fflush(stdout);
    return stats ? 0 : 1;
}

// --- answer / analyze -------------------------------------------------------------------

/// The handshakes of a capture: per phantom port, the phantom's SYN, the peer's SYN-ACK
/// and the phantom's ACK of it (the first segment after the SYN-ACK from the phantom's
/// port with ACK set and SYN clear). The phantom is whoever sent the SYN.
struct Handshake {
    std::optional<std::int64_t> syn;
    std::optional<std::int64_t> synAck;
    std::optional<std::int64_t> ack;
};

std::map<std::uint16_t, Handshake> readHandshakes(const std::string& path) {
    char error[PCAP_ERRBUF_SIZE] = {};
    pcap_t* p =
        pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, error);
    if (!p)
        fatal(fmt::format("cannot read the capture {}: {}", path, error));
    const bool nano = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
    std::map<std::uint16_t, Handshake> found;
    pcap_pkthdr* header = nullptr;
    const u_char* data = nullptr;
    while (pcap_next_ex(p, &header, &data) == 1) {
        const wire::Bytes b(data, header->caplen);
        if (b.size() < 54 || read16(b, 12) != 0x0800 || b[23] != 6)
            continue;
        const std::size_t tcpAt = 14 + (b[14] & 0x0f) * 4u;
        if (b.size() < tcpAt + 14)
            continue;
        const std::uint16_t sport = read16(b, tcpAt);
        const std::uint16_t dport = read16(b, tcpAt + 2);
        const std::uint8_t f = b[tcpAt + 13];
        const std::int64_t t = std::int64_t{header->ts.tv_sec} * 1'000'000'000 +
                               std::int64_t{header->ts.tv_usec} * (nano ? 1 : 1000);
        const bool syn = (f & flags::kSyn) != 0;
        const bool ack = (f & flags::kAck) != 0;
        if (syn && !ack) {
            Handshake& h = found[sport];
            if (!h.syn)
                h.syn = t;
        } else if (syn && ack) {
            auto it = found.find(dport);
            if (it != found.end() && it->second.syn && !it->second.synAck)
                it->second.synAck = t;
        } else if (ack && (f & flags::kRst) == 0) {
            auto it = found.find(sport);
            if (it != found.end() && it->second.synAck && !it->second.ack)
                it->second.ack = t;
        }
    }
    pcap_close(p);
    return found;
}

/// Prints the two figures of a capture and their ratio of medians; the number of complete
/// handshakes.
std::size_t analyze(const std::string& path, const std::string& prefix) {
    std::vector<std::uint64_t> kernel;
    std::vector<std::uint64_t> phantom;
    std::size_t incomplete = 0;
    for (const auto& [port, h] : readHandshakes(path)) {
        if (!h.syn || !h.synAck || !h.ack || *h.synAck < *h.syn || *h.ack < *h.synAck) {
            ++incomplete;
            continue;
        }
        kernel.push_back(static_cast<std::uint64_t>(*h.synAck - *h.syn));
        phantom.push_back(static_cast<std::uint64_t>(*h.ack - *h.synAck));
    }
    const double ratio = median(kernel) == 0 ? 0.0
                                             : static_cast<double>(median(phantom)) /
                                                   static_cast<double>(median(kernel));
    printResult(prefix + "_kernel_syn_to_synack", kernel, incomplete);
    printResult(prefix + "_phantom_synack_to_ack", phantom, incomplete);
    std::printf("FIGURE name=%s_answer_ratio handshakes=%zu incomplete=%zu ratio=%.2f\n",
                prefix.c_str(), phantom.size(), incomplete, ratio);
    std::fflush(stdout);
    return phantom.size();
}

/// A child process (tcpdump through nsenter) with its stderr on a pipe.
struct Capture {
    pid_t pid = -1;
    int errFd = -1;
};

Capture startCapture(const std::vector<std::string>& argv, std::chrono::milliseconds limit) {
    int pipeFds[2];
    if (::pipe2(pipeFds, O_CLOEXEC) != 0)
        fatal("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipeFds[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    Capture c;
    const int spawned = ::posix_spawnp(&c.pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(pipeFds[1]);
    if (spawned != 0)
        fatal(fmt::format("cannot start {}: {}", argv[0], std::strerror(spawned)));
    c.errFd = pipeFds[0];
    // tcpdump says "listening on ..." once its socket is bound and filtered.
    std::string said;
    const auto deadline = Clock::now() + limit;
    while (said.find("listening on") == std::string::npos) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0)
            fatal("tcpdump did not start: " + said);
        pollfd p{c.errFd, POLLIN, 0};
        ::poll(&p, 1, static_cast<int>(left.count()));
        char buffer[512];
        const ssize_t n = ::read(c.errFd, buffer, sizeof buffer);
        if (n <= 0)
            fatal("tcpdump ended: " + said);
        said.append(buffer, static_cast<std::size_t>(n));
    }
    return c;
}

void stopCapture(Capture& c) {
    ::kill(c.pid, SIGINT);
    int status = 0;
    for (int i = 0; i < 500; ++i) {
        if (::waitpid(c.pid, &status, WNOHANG) == c.pid) {
            ::close(c.errFd);
            return;
        }
        std::this_thread::sleep_for(10ms);
    }
    ::kill(c.pid, SIGKILL);
    ::waitpid(c.pid, &status, 0);
    ::close(c.errFd);
}

struct AnswerOptions {
    unsigned count = 20;
    std::string capture = "/tmp/tcplab-bench-answer.pcap";
    std::uint16_t sport = 45000;
    std::string close = "fin";
    std::string name = "builtin"; ///< prefix of the RESULT names
};

int runAnswer(const AnswerOptions& o) {
    Rig rig;
    const long pid = rig.agentPid();
    if (pid <= 0)
        fatal("the lab's description names no agent pid: " + rig.description);
    // The peer's end of the veth, in the lab's namespaces: the kernel's turnaround and the
    // phantom's are both seen from there (each includes what its own side does, the
    // phantom's the veth crossing both ways too).
    // As root the network namespace alone is entered; otherwise the lab's user namespace
    // first (the lab's owner may), keeping our credentials.
    std::vector<std::string> command{"nsenter", "-t", std::to_string(pid)};
    if (::geteuid() == 0)
        command.insert(command.end(), {"-n", "tcpdump", "-Z", "root"});
    else
        command.insert(command.end(), {"-U", "-n", "--preserve-credentials", "tcpdump"});
    command.insert(command.end(), {"-i", "tcplab0p", "-nn", "-U", "-s", "128",
                                   "--time-stamp-precision=nano", "-w", o.capture, "tcp"});
    Capture capture = startCapture(command, 5s);
    const auto mode = engine::parseCloseMode(o.close);
    if (!mode)
        fatal("--close " + o.close + ": fin, rst or peer");
    const engine::Scenario scenario = engine::classicScenario(*mode);
    const std::string request = "GET / HTTP/1.1\r\n\r\n";
    std::size_t failures = 0;
    for (unsigned i = 0; i < o.count; ++i) {
        engine::ConnectionParams p;
        p.phantomMac = rig.id.mac;
        p.nextHopMac = rig.a.peerMac;
        p.phantom = rig.a.phantom4;
        p.peer = rig.a.peer4;
        p.sourcePort = static_cast<std::uint16_t>(o.sport + i);
        p.destinationPort = 50001;
        p.request.assign(request.begin(), request.end());
        const std::size_t before = rig.finished.size();
        rig.engine->runScenario(scenario, p);
        if (!rig.until([&] { return rig.finished.size() > before; }, 10s) ||
            !rig.finished.back().ok) {
            ++failures;
            std::fprintf(stderr, "bench_peer: experiment %u: %s\n", i + 1,
                         rig.finished.size() > before ? rig.finished.back().message.c_str()
                                                      : "no end within 10 s");
        }
    }
    // tcpdump (TPACKET_V3, no immediate mode) hands frames over in blocks retired after at
    // most 1 s: wait for the last one before stopping it.
    std::this_thread::sleep_for(1200ms);
    stopCapture(capture);
    // The engine's own view of the same turnaround, for comparison.
    std::vector<std::uint64_t> own;
    for (unsigned i = 0; i < o.count; ++i) {
        std::optional<std::int64_t> synAck;
        for (std::size_t k = 0, n = rig.timeline->size(); k < n; ++k) {
            const auto& e = (*rig.timeline)[k];
            const auto f = e.decode();
            const auto* t = f.tcp();
            if (!t)
                continue;
            const auto port = static_cast<std::uint16_t>(o.sport + i);
            if (e.direction == timeline::Direction::Received && t->dstPort == port &&
                t->flags == (flags::kSyn | flags::kAck) && !synAck)
                synAck = e.timeNs;
            else if (e.direction == timeline::Direction::Sent && t->srcPort == port && synAck &&
                     t->has(flags::kAck) && !t->has(flags::kSyn)) {
                own.push_back(
                    static_cast<std::uint64_t>(std::max<std::int64_t>(e.timeNs - *synAck, 0)));
                break;
            }
        }
    }
    printResult(o.name + "_engine_own_synack_to_ack", own);
    printLoop(*rig.engine, "answer");
    const std::size_t complete = analyze(o.capture, o.name);
    return failures == 0 && complete == o.count ? 0 : 1;
}

// --- rtt --------------------------------------------------------------------------------

struct RttOptions {
    unsigned count = 2000; ///< fcntl and getsockopt calls
    unsigned cycles = 300; ///< socket/connect/close cycles, sample calls
    unsigned warmup = 50;
    unsigned pauseMs = 5; ///< after each close
};

/// Runs `work` on a thread inside the network namespace of process `pid` (the lab's
/// peer namespace), so that direct syscalls see what the agent's see.
void inNamespaceOf(long pid, const std::function<void()>& work) {
    std::thread t([&] {
        const int ns = ::open(fmt::format("/proc/{}/ns/net", pid).c_str(), O_RDONLY | O_CLOEXEC);
        if (ns < 0 || ::setns(ns, CLONE_NEWNET) != 0)
            fatal(fmt::format("cannot enter the lab's network namespace (pid {}): {}", pid,
                              std::strerror(errno)));
        ::close(ns);
        work();
    });
    t.join();
}

struct RttFigures {
    std::vector<std::uint64_t> roundTrip; ///< request to answer, as the caller sees it
    std::vector<std::uint64_t> inAgent;   ///< the agent's own durationNs
};

int runRtt(const RttOptions& o) {
    Rig rig(false); // the agent is used directly first, then through the engine
    const long pid = rig.agentPid();
    if (pid <= 0)
        fatal("the lab's description names no agent pid: " + rig.description);
    const std::string phantom = rig.a.phantom4.toString();

    // Direct syscalls in the peer's network namespace. Each kind in a loop of its own; the
    // socket/connect/close cycle pauses after close as the agent runs do (below).
    std::map<std::string, std::vector<std::uint64_t>> direct;
    const auto timed = [](std::vector<std::uint64_t>& into, bool keep, auto&& call) {
        const auto t0 = Clock::now();
        call();
        if (keep)
            into.push_back(static_cast<std::uint64_t>(sinceNs(t0)));
    };
    inNamespaceOf(pid, [&] {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(9);
        ::inet_pton(AF_INET, phantom.c_str(), &to.sin_addr);
        for (unsigned i = 0; i < o.warmup + o.count; ++i)
            timed(direct["fcntl_getfl"], i >= o.warmup, [&] { ::fcntl(fd, F_GETFL); });
        for (unsigned i = 0; i < o.warmup + o.count; ++i) {
            tcp_info info{};
            socklen_t length = sizeof info;
            timed(direct["getsockopt_tcp_info"], i >= o.warmup,
                  [&] { ::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length); });
        }
        for (unsigned i = 0; i < o.warmup + o.cycles; ++i) {
            const bool keep = i >= o.warmup;
            int s = -1;
            timed(direct["socket"], keep,
                  [&] { s = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0); });
            timed(direct["connect_nonblock"], keep,
                  [&] { ::connect(s, reinterpret_cast<const sockaddr*>(&to), sizeof to); });
            timed(direct["close"], keep, [&] { ::close(s); });
            std::this_thread::sleep_for(std::chrono::milliseconds(o.pauseMs));
        }
        ::close(fd);
    });

    // The same calls through the agent, on a socket of its own. After each close the agent
    // walks the namespace's sockets (a sock_diag dump: what became of the socket) before it
    // reads the next request; the pause keeps that out of the next call's round trip.
    const auto run =
        [&](const std::function<std::optional<peer::CallRecord>(const std::string&)>& callOne) {
            std::map<std::string, RttFigures> figures;
            const auto one = [&](const std::string& name, const std::string& text, bool keep) {
                const auto t0 = Clock::now();
                const auto r = callOne(text);
                const auto rtt = static_cast<std::uint64_t>(sinceNs(t0));
                if (!r)
                    fatal("no answer to " + text);
                if (keep) {
                    figures[name].roundTrip.push_back(rtt);
                    figures[name].inAgent.push_back(
                        static_cast<std::uint64_t>(r->answer.durationNs));
                }
                return r->answer.result;
            };
            const std::int64_t fd = one("socket", "socket inet", false);
            for (unsigned i = 0; i < o.warmup + o.count; ++i)
                one("fcntl_getfl", fmt::format("fcntl {} getfl", fd), i >= o.warmup);
            for (unsigned i = 0; i < o.warmup + o.count; ++i)
                one("getsockopt_tcp_info", fmt::format("getsockopt {} TCP_INFO", fd),
                    i >= o.warmup);
            for (unsigned i = 0; i < o.warmup + o.cycles; ++i) {
                const bool keep = i >= o.warmup;
                const std::int64_t s = one("socket", "socket inet nonblock", keep);
                one("connect_nonblock", fmt::format("connect {} {} 9", s, phantom), keep);
                one("close", fmt::format("close {}", s), keep);
                std::this_thread::sleep_for(std::chrono::milliseconds(o.pauseMs));
            }
            for (unsigned i = 0; i < o.warmup + o.cycles; ++i)
                one("sample", "sample", i >= o.warmup);
            one("close", fmt::format("close {}", fd), false);
            return figures;
        };

    const auto viaClient = run([&](const std::string& text) -> std::optional<peer::CallRecord> {
        auto r = peer::parseCall(text);
        if (!r)
            fatal(text + ": " + r.error());
        auto got = rig.agent->call(*r, 2s);
        if (!got)
            return std::nullopt;
        return *got;
    });
    rig.attachAgent();
    rig.until([] { return false; }, 100ms); // the Hello and first samples
    const auto viaEngine = run([&](const std::string& text) -> std::optional<peer::CallRecord> {
        const std::uint32_t id = rig.callAsync(text);
        if (!rig.until([&] { return rig.answers.count(id) != 0; }, 2s))
            return std::nullopt;
        auto r = rig.answers[id];
        rig.answers.erase(id);
        return r;
    });

    printLoop(*rig.engine, "rtt");
    printResult("rtt_client_sample", viaClient.at("sample").roundTrip);
    printResult("rtt_client_in_agent_sample", viaClient.at("sample").inAgent);
    printResult("rtt_engine_sample", viaEngine.at("sample").roundTrip);
    for (const auto& [name, samples] : direct) {
        printResult("rtt_direct_" + name, samples);
        printResult("rtt_client_" + name, viaClient.at(name).roundTrip);
        printResult("rtt_client_in_agent_" + name, viaClient.at(name).inAgent);
        printResult("rtt_engine_" + name, viaEngine.at(name).roundTrip);
        const double d = static_cast<double>(std::max<std::uint64_t>(median(samples), 1));
        std::printf("FIGURE name=rtt_ratio call=%s busy_poll_us=%lld direct_ns=%llu client_ns=%llu "
                    "engine_ns=%llu client_ratio=%.1f engine_ratio=%.1f\n",
                    name.c_str(), static_cast<long long>(gBusyPoll.count()),
                    static_cast<unsigned long long>(median(samples)),
                    static_cast<unsigned long long>(median(viaClient.at(name).roundTrip)),
                    static_cast<unsigned long long>(median(viaEngine.at(name).roundTrip)),
                    static_cast<double>(median(viaClient.at(name).roundTrip)) / d,
                    static_cast<double>(median(viaEngine.at(name).roundTrip)) / d);
    }
    std::fflush(stdout);
    return 0;
}

// --- idle -------------------------------------------------------------------------------

struct IdleOptions {
    unsigned seconds = 5;
};

int runIdle(const IdleOptions& o) {
    Rig rig;
    // Some activity first (the agent's Hello, a call), then nothing: no connection lives, so
    // the agent does not sample on its own either.
    rig.call("sample");
    rig.until([] { return false; }, 500ms);
    const std::int64_t cpu0 = processCpuNs();
    const auto wall0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(o.seconds));
    const std::int64_t cpu = processCpuNs() - cpu0;
    const std::int64_t wall = sinceNs(wall0);
    printLoop(*rig.engine, "idle");
    std::printf("FIGURE name=idle_cpu seconds=%u process_cpu_ns=%lld cpu_percent=%.3f\n", o.seconds,
                static_cast<long long>(cpu),
                100.0 * static_cast<double>(cpu) / static_cast<double>(wall));
    // With a connection open (the agent then samples every 10 ms and the engine records
    // what changed), still no data moving.
    if (rig.call("socket inet").answer.result != 3 || rig.call("bind 3 5000").answer.result != 0 ||
        rig.call("listen 3").answer.result != 0)
        fatal("socket/bind/listen on the peer failed");
    rig.engine->setAutoAck(true);
    auto syn = rig.segment(43000, flags::kSyn, 1000, 0, 65535);
    syn.tcp.options.append(wire::TcpOption::mss(1460));
    rig.engine->sendFrame(syn.encode().value());
    if (rig.call("accept 3").answer.result != 4)
        fatal("accept on the peer failed");
    rig.until([] { return false; }, 500ms);
    const std::int64_t cpu1 = processCpuNs();
    const auto wall1 = Clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(o.seconds));
    const std::int64_t cpuOpen = processCpuNs() - cpu1;
    const std::int64_t wallOpen = sinceNs(wall1);
    std::printf("FIGURE name=idle_cpu_connection_open seconds=%u process_cpu_ns=%lld "
                "cpu_percent=%.3f\n",
                o.seconds, static_cast<long long>(cpuOpen),
                100.0 * static_cast<double>(cpuOpen) / static_cast<double>(wallOpen));
    printLoop(*rig.engine, "idle_connection_open");
    std::fflush(stdout);
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"tcplab's peer benchmark (issue 13): bulk download, wire answer, agent RTT, "
                 "idle CPU"};
    app.require_subcommand(1);
    unsigned busyPollUs = static_cast<unsigned>(gBusyPoll.count());
    app.add_option("--busy-poll-us", busyPollUs,
                   "the engine's busy-poll window (Engine::Options::busyPoll; 0: none)");
    DownloadOptions d;
    auto* download = app.add_subcommand("download", "bulk download with Auto-ACK");
    download->add_option("--bytes", d.bytes, "how much the peer writes (k, M, G suffixes)");
    download->add_option("--snap", d.snap, "the timeline's snap length");
    download->add_option("--budget-s", d.budgetS, "the transfer's time limit");
    download->add_option("--rcvbuf", d.rcvbuf,
                         "SO_RCVBUF of the link's socket (the kernel doubles it; default: the "
                         "lab's 4 MiB request, capped by net.core.rmem_max)");
    AnswerOptions an;
    auto* answer = app.add_subcommand("answer", "N classic experiments, tcpdump in the lab");
    answer->add_option("--count", an.count, "experiments");
    answer->add_option("--capture", an.capture, "where tcpdump writes");
    answer->add_option("--name", an.name, "prefix of the RESULT names");
    answer->add_option("--close", an.close, "how each experiment ends: fin (as tcplab-cli), rst");
    std::string analyzePath;
    std::string analyzeName = "capture";
    auto* analyzeCommand = app.add_subcommand("analyze", "the answer figures of a capture");
    analyzeCommand->add_option("PCAP", analyzePath, "the capture")->required();
    analyzeCommand->add_option("--name", analyzeName, "prefix of the RESULT names");
    RttOptions r;
    auto* rtt = app.add_subcommand("rtt", "peer-agent calls against direct syscalls");
    rtt->add_option("--count", r.count, "fcntl and getsockopt calls");
    rtt->add_option("--cycles", r.cycles, "socket/connect/close cycles and sample calls");
    rtt->add_option("--pause-ms", r.pauseMs,
                    "pause after each close (the agent's dump of what became of the socket)");
    IdleOptions idle;
    auto* idleCommand = app.add_subcommand("idle", "CPU time of an idle engine");
    idleCommand->add_option("--seconds", idle.seconds, "how long to watch");
    CLI11_PARSE(app, argc, argv);
    gBusyPoll = std::chrono::microseconds(busyPollUs);
    ::signal(SIGPIPE, SIG_IGN);
    if (download->parsed())
        return runDownload(d);
    if (answer->parsed())
        return runAnswer(an);
    if (analyzeCommand->parsed())
        return analyze(analyzePath, analyzeName) > 0 ? 0 : 1;
    if (rtt->parsed())
        return runRtt(r);
    if (idleCommand->parsed())
        return runIdle(idle);
    return 2;
}
