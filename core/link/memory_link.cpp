#include "link/memory_link.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <deque>
#include <mutex>
#include <vector>

#include <fmt/format.h>

namespace tcplab::link {

namespace {

std::int64_t realtimeNs() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

} // namespace

/// Frames travelling one way, from a writer end to a reader end. The eventfd is kept
/// readable exactly while frames wait or the writer is gone (so the reader wakes up
/// to learn that), which makes it level-triggered like a socket.
class MemoryLink::Channel {
public:
    Channel()
        : m_eventFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC))
        , m_eventFdErrno(m_eventFd < 0 ? errno : 0) {}
    ~Channel() {
        if (m_eventFd >= 0)
            ::close(m_eventFd);
    }
    Channel(const Channel&) = delete;
    Channel& operator=(const Channel&) = delete;

    int eventFd() const noexcept { return m_eventFd; }
    int eventFdErrno() const noexcept { return m_eventFdErrno; }

    enum class PushResult : std::uint8_t { Queued, ReaderGone, Full };

    PushResult push(wire::Bytes frame) {
        std::lock_guard lock(m_mutex);
        if (m_readerGone)
            return PushResult::ReaderGone;
        if (m_frames.size() >= kMaxQueuedFrames)
            return PushResult::Full;
        // Stamp at send, as a wire tap would; never let the stamps of one channel go
        // backwards if the wall clock is stepped.
        m_lastTimestampNs = std::max(m_lastTimestampNs, realtimeNs());
        m_frames.push_back({m_lastTimestampNs, {frame.begin(), frame.end()}});
        updateSignalLocked();
        return PushResult::Queued;
    }

    struct Queued {
        std::int64_t timestampNs;
        std::vector<std::uint8_t> bytes;
    };
    enum class PopResult : std::uint8_t { Frame, Empty, WriterGone };

    PopResult pop(Queued& out) {
        std::lock_guard lock(m_mutex);
        if (m_frames.empty())
            return m_writerGone ? PopResult::WriterGone : PopResult::Empty;
        out = std::move(m_frames.front());
        m_frames.pop_front();
        updateSignalLocked();
        return PopResult::Frame;
    }

    std::size_t size() const {
        std::lock_guard lock(m_mutex);
        return m_frames.size();
    }

    void closeWriter() {
        std::lock_guard lock(m_mutex);
        m_writerGone = true;
        updateSignalLocked();
    }

    void closeReader() {
        std::lock_guard lock(m_mutex);
        m_readerGone = true;
        m_frames.clear();
        updateSignalLocked();
    }

private:
    void updateSignalLocked() noexcept {
        if (m_eventFd < 0)
            return;
        const bool wanted = !m_frames.empty() || m_writerGone;
        if (wanted == m_signalled)
            return;
        if (wanted) {
            const std::uint64_t one = 1;
            // Cannot fail: the counter is 0 here, far from overflow.
            [[maybe_unused]] const auto n = ::write(m_eventFd, &one, sizeof one);
        } else {
            std::uint64_t value = 0;
            [[maybe_unused]] const auto n = ::read(m_eventFd, &value, sizeof value);
        }
        m_signalled = wanted;
    }

    mutable std::mutex m_mutex;
    std::deque<Queued> m_frames;
    std::int64_t m_lastTimestampNs = 0;
    bool m_writerGone = false;
    bool m_readerGone = false;
    bool m_signalled = false;
    int m_eventFd;
    int m_eventFdErrno;
};

std::pair<std::unique_ptr<MemoryLink>, std::unique_ptr<MemoryLink>> MemoryLink::createPair() {
    auto aToB = std::make_shared<Channel>();
    auto bToA = std::make_shared<Channel>();
    std::unique_ptr<MemoryLink> a(new MemoryLink(bToA, aToB, 'A'));
    std::unique_ptr<MemoryLink> b(new MemoryLink(aToB, bToA, 'B'));
    return {std::move(a), std::move(b)};
}

MemoryLink::MemoryLink(std::shared_ptr<Channel> inbound, std::shared_ptr<Channel> outbound,
                       char name)
    : m_inbound(std::move(inbound))
    , m_outbound(std::move(outbound))
    , m_name(name) {}

MemoryLink::~MemoryLink() {
    m_outbound->closeWriter();
    m_inbound->closeReader();
}

tl::expected<void, LinkError> MemoryLink::send(wire::Bytes frame) {
    if (frame.empty())
        return tl::make_unexpected(
            LinkError{LinkErrorCode::Io, "memory link: refusing to send an empty frame"});
    if (m_outbound->eventFd() < 0)
        return tl::make_unexpected(LinkError{
            LinkErrorCode::Io, fmt::format("memory link: no eventfd for the other end ({})",
                                           std::strerror(m_outbound->eventFdErrno()))});
    switch (m_outbound->push(frame)) {
    case Channel::PushResult::Queued:
        return {};
    case Channel::PushResult::ReaderGone:
        return tl::make_unexpected(
            LinkError{LinkErrorCode::Closed, "memory link: the other end was closed"});
    case Channel::PushResult::Full:
        break;
    }
    return tl::make_unexpected(LinkError{
        LinkErrorCode::Io,
        fmt::format("memory link: {} frames wait unread on the other end; refusing to queue "
                    "more until it receives some (is the peer receiving?)",
                    kMaxQueuedFrames)});
}

tl::expected<std::size_t, LinkError> MemoryLink::receive(const FrameSink& sink,
                                                         std::size_t maxFrames) {
    if (m_inbound->eventFd() < 0)
        return tl::make_unexpected(LinkError{
            LinkErrorCode::Io, fmt::format("memory link: could not create its eventfd ({})",
                                           std::strerror(m_inbound->eventFdErrno()))});
    std::size_t delivered = 0;
    Channel::Queued frame;
    // One frame per lock, and the sink runs unlocked: it may send on this link.
    while (delivered < maxFrames) {
        const auto result = m_inbound->pop(frame);
        if (result == Channel::PopResult::Empty)
            break;
        if (result == Channel::PopResult::WriterGone) {
            // Deliver what came before the close first; report it on the next call.
            if (delivered > 0)
                break;
            return tl::make_unexpected(
                LinkError{LinkErrorCode::Closed, "memory link: the other end was closed"});
        }
        sink(frame.timestampNs, wire::Bytes(frame.bytes));
        ++delivered;
    }
    return delivered;
}

int MemoryLink::pollFd() const noexcept {
    return m_inbound->eventFd();
}

std::string MemoryLink::description() const {
    return fmt::format("memory (end {} of a pair)", m_name);
}

std::size_t MemoryLink::pending() const {
    return m_inbound->size();
}

} // namespace tcplab::link
