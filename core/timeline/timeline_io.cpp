#include "timeline/timeline_io.h"

#include "peer/call_text.h"
#include "peer/tcp_info.h"
#include "timeline/pcap_file.h"
#include "timeline/peer_records.h"
#include "wire/frame_json.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace tcplab::timeline {

namespace {

/// The file mode a newly created file would get from open(..., 0666): the process's
/// umask read from /proc (umask(2) cannot be read without changing it, which would
/// race with other threads creating files). 022 when /proc does not say.
mode_t newFileMode() {
    mode_t mask = 022;
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("Umask:", 0) == 0) {
            try {
                mask = static_cast<mode_t>(std::stoul(line.substr(6), nullptr, 8));
            } catch (const std::exception&) {
                mask = 022;
            }
            break;
        }
    }
    return static_cast<mode_t>(0666 & ~mask);
}

std::string directoryOf(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos)
        return ".";
    if (slash == 0)
        return "/";
    return path.substr(0, slash);
}

/// A file written beside its target under a unique temporary name (mkstemp), synced,
/// and renamed over the target by commit(). Until then the target is untouched; a
/// failure or destruction without commit() removes the temporary file.
class AtomicFile {
public:
    static tl::expected<AtomicFile, std::string> create(const std::string& path) {
        AtomicFile f;
        f.m_target = path;
        std::string pattern = path + ".tmp-XXXXXX";
        f.m_fd = ::mkstemp(pattern.data());
        if (f.m_fd < 0)
            return tl::make_unexpected(
                fmt::format("cannot write {}: {}", path, std::strerror(errno)));
        f.m_temporary = std::move(pattern);
        // mkstemp makes the file 0600; give it the mode the target has, or the one a
        // plain new file would get, so an export is not unexpectedly private.
        struct stat existing {};
        const mode_t mode = ::stat(path.c_str(), &existing) == 0 && S_ISREG(existing.st_mode)
                                ? static_cast<mode_t>(existing.st_mode & 07777)
                                : newFileMode();
        ::fchmod(f.m_fd, mode);
        return f;
    }

    AtomicFile(AtomicFile&& other) noexcept
        : m_target(std::move(other.m_target))
        , m_temporary(std::move(other.m_temporary))
        , m_fd(std::exchange(other.m_fd, -1))
        , m_errno(other.m_errno)
        , m_buffer(std::move(other.m_buffer)) {
        other.m_temporary.clear();
    }
    AtomicFile& operator=(AtomicFile&&) = delete;
    ~AtomicFile() { discard(); }

    /// Buffers `text`; writes when the buffer is large. False after a write error
    /// (commit() then reports it).
    bool write(std::string_view text) {
        if (m_errno != 0)
            return false;
        m_buffer.append(text);
        if (m_buffer.size() >= kFlushThreshold)
            flush();
        return m_errno == 0;
    }

    tl::expected<void, std::string> commit() {
        flush();
        if (m_errno == 0 && ::fsync(m_fd) != 0)
            m_errno = errno;
        if (m_errno != 0) {
            const int error = m_errno;
            discard();
            return tl::make_unexpected(
                fmt::format("writing {} failed: {}", m_target, std::strerror(error)));
        }
        const int fd = std::exchange(m_fd, -1);
        if (::close(fd) != 0) {
            const int error = errno;
            discard();
            return tl::make_unexpected(
                fmt::format("writing {} failed: {}", m_target, std::strerror(error)));
        }
        if (std::rename(m_temporary.c_str(), m_target.c_str()) != 0) {
            const int error = errno;
            discard();
            return tl::make_unexpected(
                fmt::format("cannot write {}: {}", m_target, std::strerror(error)));
        }
        m_temporary.clear();
        syncDirectory();
        return {};
    }

private:
    static constexpr std::size_t kFlushThreshold = 1 << 20;

    AtomicFile() = default;

    void flush() {
        std::size_t done = 0;
        while (m_errno == 0 && done < m_buffer.size()) {
            const ssize_t n = ::write(m_fd, m_buffer.data() + done, m_buffer.size() - done);
            if (n < 0) {
                if (errno != EINTR)
                    m_errno = errno;
                continue;
            }
            if (n == 0) {
                m_errno = EIO; // a regular file never takes nothing; do not spin
                break;
            }
            done += static_cast<std::size_t>(n);
        }
        m_buffer.clear();
    }

    /// Makes the rename itself durable; a failure here changes nothing the caller
    /// can act on (the file is in place), so it is not reported.
    void syncDirectory() const {
        const int dir = ::open(directoryOf(m_target).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir >= 0) {
            ::fsync(dir);
            ::close(dir);
        }
    }

    void discard() noexcept {
        if (m_fd >= 0)
            ::close(std::exchange(m_fd, -1));
        if (!m_temporary.empty())
            ::unlink(m_temporary.c_str());
        m_temporary.clear();
    }

    std::string m_target;
    std::string m_temporary; ///< empty once renamed (or never created)
    int m_fd = -1;
    int m_errno = 0;
    std::string m_buffer;
};

nlohmann::json entryToJson(std::size_t index, const Entry& entry) {
    nlohmann::json j = {
        {"index", index},
        {"time_ns", entry.timeNs},
        {"direction", directionName(entry.direction)},
        {"length", entry.wireLength},
        {"hex", wire::toHex(entry.bytes)},
        {"frame", wire::frameToJson(entry.decode())},
    };
    if (entry.bytes.size() < entry.wireLength)
        j["captured"] = entry.bytes.size();
    return j;
}

/// Never throws on odd bytes: the decoder's JSON is ASCII, but a stray byte in a string
/// must not cost the user the whole export.
std::string dumpJson(const nlohmann::json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace

nlohmann::json peerRecordToJson(std::size_t index, const PeerRecord& record) {
    nlohmann::json j = {{"index", index}, {"time_ns", record.timeNs}};
    switch (record.kind) {
    case PeerRecordKind::Call: {
        j["kind"] = "syscall";
        const auto call = callRecord(record);
        if (!call) {
            j["malformed"] = true;
            break;
        }
        const peer::Request& q = call->request;
        const peer::Answer& a = call->answer;
        j["call"] = peer::callName(q.call);
        if (q.fd >= 0)
            j["fd"] = q.fd;
        j["arguments"] = peer::formatCall(q);
        j["c"] = peer::describeCall(q);
        j["outcome"] = a.outcome == peer::Outcome::Done ? "done" : "refused";
        j["result"] = a.result;
        j["errno"] =
            a.error == 0 ? nlohmann::json(nullptr) : nlohmann::json(peer::errnoName(a.error));
        j["duration_ns"] = a.durationNs;
        j["answer"] = peer::describeAnswer(q, a);
        if (!a.text.empty())
            j["text"] = a.text;
        if (!a.data.empty())
            j["data_hex"] = wire::toHex(a.data);
        break;
    }
    case PeerRecordKind::Sample: {
        j["kind"] = "tcp_info";
        const auto sample = sampleRecord(record);
        if (!sample) {
            j["malformed"] = true;
            break;
        }
        const peer::SocketSample& s = sample->sockets.front();
        nlohmann::json socket = {{"inode", s.inode},
                                 {"local", peer::endpointText(s.local, s.localPort)},
                                 {"remote", peer::endpointText(s.remote, s.remotePort)},
                                 {"receive_queue", s.receiveQueue},
                                 {"send_queue", s.sendQueue}};
        if (s.fd >= 0)
            socket["fd"] = s.fd;
        if (!s.congestion.empty())
            socket["congestion"] = s.congestion;
        if (s.gone)
            socket["gone"] = true;
        j["socket"] = std::move(socket);
        if (sample->after != 0)
            j["after_request"] = sample->after;
        nlohmann::json info = nlohmann::json::object();
        const auto tcpInfo = peer::TcpInfo::fromPairs(s.fields);
        for (const auto& f : peer::tcpInfoFields())
            if (const auto v = tcpInfo.get(f.field))
                info[std::string(f.name)] = *v;
        j["tcp_info"] = std::move(info);
        if (const auto state = tcpInfo.get(peer::TcpInfoField::State))
            j["state"] = peer::linuxStateName(*state);
        break;
    }
    case PeerRecordKind::Hello: {
        j["kind"] = "agent";
        const auto hello = helloRecord(record);
        if (!hello) {
            j["malformed"] = true;
            break;
        }
        j["stack"] = hello->stack;
        j["release"] = hello->release;
        j["pid"] = hello->pid;
        if (!hello->limits.empty())
            j["limits"] = hello->limits;
        break;
    }
    }
    return j;
}

tl::expected<void, std::string> exportPcap(const Timeline& timeline, const std::string& path) {
    // One snapshot of the published size: frames appended meanwhile are not exported.
    const std::size_t count = timeline.size();
    auto writer = PcapWriter::create(path);
    if (!writer)
        return tl::make_unexpected(writer.error());
    for (std::size_t i = 0; i < count; ++i) {
        const Entry& entry = timeline[i];
        writer->write(entry.bytes, entry.timeNs, entry.wireLength);
    }
    return writer->close();
}

namespace {
/// The peer records' indices in time order: a blocking call's record carries its start
/// but is appended when it is answered, after records that came meanwhile. Stable, so
/// records of one moment keep the order they came in.
std::vector<std::size_t> peerTimeOrder(const Timeline& timeline, std::size_t count) {
    std::vector<std::size_t> order(count);
    for (std::size_t i = 0; i < count; ++i)
        order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return timeline.peer(a).timeNs < timeline.peer(b).timeNs;
    });
    return order;
}
} // namespace

nlohmann::json timelineToJson(const Timeline& timeline) {
    const std::size_t count = timeline.size();
    nlohmann::json frames = nlohmann::json::array();
    for (std::size_t i = 0; i < count; ++i)
        frames.push_back(entryToJson(i, timeline[i]));
    nlohmann::json peer = nlohmann::json::array();
    for (const std::size_t i : peerTimeOrder(timeline, timeline.peerSize()))
        peer.push_back(peerRecordToJson(i, timeline.peer(i)));
    return {{"format", "tcplab-timeline"},
            {"version", 2},
            {"frames", std::move(frames)},
            {"peer", std::move(peer)}};
}

tl::expected<void, std::string> exportJson(const Timeline& timeline, const std::string& path) {
    // The same document as timelineToJson, written a frame at a time (one per line) so
    // that a timeline of millions of frames never exists as one JSON tree in memory.
    const std::size_t count = timeline.size();
    auto file = AtomicFile::create(path);
    if (!file)
        return tl::make_unexpected(file.error());
    const std::size_t peerCount = timeline.peerSize();
    bool ok = file->write(R"({"format":"tcplab-timeline","version":2,"frames":[)");
    for (std::size_t i = 0; ok && i < count; ++i) {
        ok = file->write(i == 0 ? "\n" : ",\n");
        ok = ok && file->write(dumpJson(entryToJson(i, timeline[i])));
    }
    ok = ok && file->write(count == 0 ? R"(],"peer":[)" : "\n],\"peer\":[");
    const std::vector<std::size_t> order = peerTimeOrder(timeline, peerCount);
    for (std::size_t k = 0; ok && k < order.size(); ++k) {
        ok = file->write(k == 0 ? "\n" : ",\n");
        ok = ok && file->write(dumpJson(peerRecordToJson(order[k], timeline.peer(order[k]))));
    }
    if (ok)
        file->write(peerCount == 0 ? "]}\n" : "\n]}\n");
    return file->commit();
}

tl::expected<void, std::string> writeFileAtomically(const std::string& path,
                                                    std::string_view text) {
    auto file = AtomicFile::create(path);
    if (!file)
        return tl::make_unexpected(file.error());
    file->write(text);
    return file->commit();
}

} // namespace tcplab::timeline
