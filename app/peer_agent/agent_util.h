#pragma once

// Small things every part of tcplab-peer-agent uses: an owned fd, moving an fd out of the
// user's way (at or above kInternalFdFloor), the two clocks, and the log.

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <utility>

namespace tcplab::agent {

/// The agent's own fds (channel, netlink, eventfd, the copies a blocking call works on)
/// live at or above this, so that the user's sockets get the numbers a fresh process would
/// give them: the first socket() is fd 3.
inline constexpr int kInternalFdFloor = 100;

/// An owned fd.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) noexcept
        : m_fd(fd) {}
    ~Fd() { reset(); }
    Fd(Fd&& o) noexcept
        : m_fd(std::exchange(o.m_fd, -1)) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) {
            reset();
            m_fd = std::exchange(o.m_fd, -1);
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const noexcept { return m_fd; }
    int release() noexcept { return std::exchange(m_fd, -1); }
    void reset() noexcept {
        if (m_fd >= 0)
            ::close(m_fd);
        m_fd = -1;
    }

private:
    int m_fd = -1;
};

/// `fd` moved to the lowest free number at or above kInternalFdFloor, close-on-exec (the
/// original is closed); -1 (and `fd` closed) on failure.
inline int moveHigh(int fd) noexcept {
    if (fd < 0 || fd >= kInternalFdFloor)
        return fd;
    const int high = ::fcntl(fd, F_DUPFD_CLOEXEC, kInternalFdFloor);
    ::close(fd);
    return high;
}

/// CLOCK_REALTIME in nanoseconds: the clock of the frames' timestamps.
inline std::int64_t realtimeNs() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

inline std::int64_t monotonicNs() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

/// Where log lines go (stderr as the agent was given it, moved out of the user's way);
/// -1: nowhere.
void setLogFd(int fd) noexcept;
/// One line, "tcplab-peer-agent[PID]: TEXT", to the log.
void logLine(std::string_view text) noexcept;

/// strerror(error), thread-safe.
std::string errnoText(int error);

} // namespace tcplab::agent
