#include "lab/helper_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <thread>

#include <fmt/format.h>

extern char** environ;

namespace tcplab::lab {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

/// Fds we hand over are first moved at or above this, so that the dup2s of the spawn
/// cannot overwrite one another.
constexpr int kSpawnFdFloor = 10;

LabError ioError(std::string message) {
    return {LabErrorCode::Io, std::move(message)};
}

/// A copy of `fd` at or above kSpawnFdFloor, close-on-exec.
tl::expected<UniqueFd, LabError> highCopy(int fd, const std::string& who) {
    const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, kSpawnFdFloor);
    if (copy < 0)
        return tl::make_unexpected(
            ioError(fmt::format("{} cannot start: dup: {}", who, std::strerror(errno))));
    return UniqueFd(copy);
}

std::string directoryOfRunningBinary() {
    std::array<char, 4096> buffer{};
    const ssize_t n = ::readlink("/proc/self/exe", buffer.data(), buffer.size() - 1);
    if (n <= 0)
        return {};
    std::string path(buffer.data(), static_cast<std::size_t>(n));
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? std::string{} : path.substr(0, slash);
}

} // namespace

void UniqueFd::reset() noexcept {
    if (m_fd >= 0)
        ::close(m_fd);
    m_fd = -1;
}

std::string statusText(int status) {
    if (WIFEXITED(status))
        return fmt::format("exited with status {}", WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        return fmt::format("was killed by signal {} ({})", WTERMSIG(status),
                           ::strsignal(WTERMSIG(status)));
    return "ended";
}

std::optional<int> reapHelper(pid_t pid, bool killFirst, milliseconds grace) {
    if (killFirst)
        ::kill(pid, SIGKILL);
    bool killed = killFirst;
    auto deadline = Clock::now() + grace;
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0 && errno != EINTR)
            return std::nullopt;
        if (Clock::now() >= deadline) {
            if (killed)
                return std::nullopt; // SIGKILL did not end it in time: give up waiting
            ::kill(pid, SIGKILL);
            killed = true;
            deadline = Clock::now() + grace;
        }
        std::this_thread::sleep_for(milliseconds(1));
    }
}

bool isExecutable(const std::string& path) {
    return !path.empty() && ::access(path.c_str(), X_OK) == 0;
}

const char* whyNotExecutable(const std::string& path) {
    return ::access(path.c_str(), F_OK) == 0 ? "is not executable" : "does not exist";
}

HelperSearch searchHelper(const std::string& name) {
    std::vector<std::string> tried;
    const std::string dir = directoryOfRunningBinary();
    if (!dir.empty()) {
        tried.push_back(dir + "/" + name);
        tried.push_back(dir + "/../libexec/tcplab/" + name);
    }
    tried.push_back("/usr/libexec/tcplab/" + name);
    HelperSearch search;
    for (const auto& path : tried)
        if (isExecutable(path)) {
            search.found = path;
            break;
        }
    for (const auto& path : tried)
        search.tried += (search.tried.empty() ? "" : ", ") + path;
    return search;
}

tl::expected<HelperProcess, LabError> spawnHelper(const std::string& helper,
                                                  const std::vector<std::string>& args,
                                                  const std::vector<int>& extraFds,
                                                  const HelperSpawnText& text) {
    int pair[2] = {-1, -1};
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
        return tl::make_unexpected(ioError(
            fmt::format("{} cannot start: socketpair: {}", text.who, std::strerror(errno))));
    UniqueFd ours(pair[0]);
    auto theirs = highCopy(pair[1], text.who);
    ::close(pair[1]);
    if (!theirs)
        return tl::make_unexpected(theirs.error());
    std::vector<UniqueFd> extras;
    for (const int fd : extraFds) {
        auto copy = highCopy(fd, text.who);
        if (!copy)
            return tl::make_unexpected(copy.error());
        extras.push_back(std::move(*copy));
    }

    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawnattr_init(&attributes);
    ::posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    ::posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    ::posix_spawn_file_actions_adddup2(&actions, theirs->get(), kHelperChannelFd);
    for (std::size_t i = 0; i < extras.size(); ++i)
        ::posix_spawn_file_actions_adddup2(&actions, extras[i].get(),
                                           kHelperChannelFd + 1 + int(i));
    // The helper starts with no signal blocked or ignored, whatever this process does.
    sigset_t none;
    sigset_t all;
    sigemptyset(&none);
    sigfillset(&all);
    ::posix_spawnattr_setsigmask(&attributes, &none);
    ::posix_spawnattr_setsigdefault(&attributes, &all);
    ::posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    std::vector<std::string> argvStrings{helper};
    argvStrings.insert(argvStrings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : argvStrings)
        argv.push_back(s.data());
    argv.push_back(nullptr);

    pid_t pid = -1;
    const int spawnError =
        ::posix_spawn(&pid, helper.c_str(), &actions, &attributes, argv.data(), environ);
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attributes);
    theirs->reset();
    extras.clear();
    if (spawnError != 0)
        return tl::make_unexpected(
            LabError{spawnError == ENOENT || spawnError == EACCES || spawnError == ENOEXEC
                         ? LabErrorCode::HelperMissing
                         : LabErrorCode::Io,
                     fmt::format("{} cannot start: cannot run its helper {}: {}{}", text.who,
                                 helper, std::strerror(spawnError), text.spawnCure)});
    return HelperProcess{pid, std::move(ours)};
}

HelperDatagram receiveFromHelper(int fd, milliseconds timeout, std::size_t bufferSize,
                                 std::size_t maxFds) {
    HelperDatagram datagram;
    const auto deadline = Clock::now() + timeout;
    std::vector<char> buffer(bufferSize);
    std::vector<char> control(maxFds == 0 ? 0 : CMSG_SPACE(sizeof(int) * maxFds));
    for (;;) {
        const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) {
            datagram.timedOut = true;
            break;
        }
        pollfd p{fd, POLLIN, 0};
        const int ready = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
        if (ready < 0 && errno != EINTR)
            break;
        if (ready <= 0)
            continue;
        iovec vector{buffer.data(), buffer.size()};
        msghdr message{};
        message.msg_iov = &vector;
        message.msg_iovlen = 1;
        message.msg_control = control.empty() ? nullptr : control.data();
        message.msg_controllen = control.size();
        const ssize_t n = ::recvmsg(fd, &message, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        // Take every fd that came, even with a message then refused: none may leak.
        for (cmsghdr* c = n >= 0 && !control.empty() ? CMSG_FIRSTHDR(&message) : nullptr; c;
             c = CMSG_NXTHDR(&message, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                continue;
            const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (std::size_t i = 0; i < count; ++i) {
                int received = -1;
                std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof received);
                datagram.fds.emplace_back(received);
            }
        }
        if (n > 0) {
            datagram.text.assign(buffer.data(), static_cast<std::size_t>(n));
            datagram.received = true;
            datagram.truncated = (message.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
        }
        break;
    }
    return datagram;
}

} // namespace tcplab::lab
