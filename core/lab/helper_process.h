#pragma once

// The plumbing the built-in labs share to run a helper process: an owned fd, spawning
// the helper with its channel and fds, receiving its answer within a bounded wait, and
// reaping it with a grace period.

#include "lab/lab_error.h"

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

namespace tcplab::lab {

/// An owned fd.
class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) noexcept
        : m_fd(fd) {}
    ~UniqueFd() { reset(); }
    UniqueFd(UniqueFd&& o) noexcept
        : m_fd(std::exchange(o.m_fd, -1)) {}
    UniqueFd& operator=(UniqueFd&& o) noexcept {
        if (this != &o) {
            reset();
            m_fd = std::exchange(o.m_fd, -1);
        }
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    int get() const noexcept { return m_fd; }
    int release() noexcept { return std::exchange(m_fd, -1); }
    void reset() noexcept;

private:
    int m_fd = -1;
};

/// The fd a helper finds its channel at; the extra fds follow it (4, 5, ...).
constexpr int kHelperChannelFd = 3;

/// "exited with status N", "was killed by signal N (name)" or "ended".
std::string statusText(int status);

/// Waits (bounded) for `pid` to end, killing it first when `killFirst` is set or the
/// grace period runs out. The exit status, or nullopt if it could not be reaped (another
/// part of the program reaped it: ECHILD, or SIGKILL did not end it in time).
std::optional<int> reapHelper(pid_t pid, bool killFirst,
                              std::chrono::milliseconds grace = std::chrono::milliseconds(2000));

/// Whether `path` names an executable file.
bool isExecutable(const std::string& path);
/// Why a configured helper cannot run: "is not executable" or "does not exist".
const char* whyNotExecutable(const std::string& path);

/// Where a helper called `name` was looked for, when none is configured: next to the
/// running binary, in ../libexec/tcplab/ from there, in /usr/libexec/tcplab/.
struct HelperSearch {
    std::optional<std::string> found; ///< the first executable one
    std::string tried;                ///< every place, "a, b, c"
};
HelperSearch searchHelper(const std::string& name);

/// A running helper and our end of its channel.
struct HelperProcess {
    pid_t pid = -1;
    UniqueFd channel;
};

/// How a lab words the failures of spawnHelper: "{who} cannot start: socketpair: ...",
/// "{who} cannot start: cannot run its helper PATH: ERROR{spawnCure}".
struct HelperSpawnText {
    std::string who;
    std::string spawnCure;
};

/// Runs `helper` with `args` (argv[0] is the helper itself), its stdin and stdout on
/// /dev/null, a SOCK_SEQPACKET channel at kHelperChannelFd and `extraFds` after it, no
/// signal blocked or ignored.
tl::expected<HelperProcess, LabError> spawnHelper(const std::string& helper,
                                                  const std::vector<std::string>& args,
                                                  const std::vector<int>& extraFds,
                                                  const HelperSpawnText& text);

/// One datagram from a helper.
struct HelperDatagram {
    std::string text;
    std::vector<UniqueFd> fds; ///< every fd that came, even with a datagram cut short
    bool received = false;     ///< a datagram of at least one byte came
    bool truncated = false;    ///< it (or its fds) did not fit
    bool timedOut = false;
};

/// Waits at most `timeout` for one datagram on `fd`; EOF and an error end the wait too.
HelperDatagram receiveFromHelper(int fd, std::chrono::milliseconds timeout, std::size_t bufferSize,
                                 std::size_t maxFds);

} // namespace tcplab::lab
