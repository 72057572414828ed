// tcplab-peer-agent — the peer's socket calls, sysctls and TCP_INFO, in the peer's network
// namespace, for tcplab (core/peer/agent_protocol.h is the conversation; core/peer/
// agent_client.h is tcplab's end of it).
//
//   tcplab-peer-agent [--enter-namespaces]
//     The built-in Linux lab's agent (core/lab/builtin_lab.h spawns it once the lab is
//     built). Its channel, a SOCK_SEQPACKET socket, is on fd 3. With --enter-namespaces,
//     the lab's user namespace is on fd 4 and its peer's network namespace on fd 5 (tcplab
//     found them with SIOCGSKNS on a listening socket and NS_GET_USERNS): while still
//     single-threaded, the agent enters the user namespace first (only its root may enter
//     the network namespace it owns), then the network namespace, and closes both. Then it
//     serves the channel until its end, and exits: every socket it made dies with it. It
//     lives exactly as long as its channel (tcplab's end closes when tcplab ends, however
//     it ends), and the lab reaps it.
//
//   tcplab-peer-agent --listen PATH [--group NAME] [--pidfile FILE]
//     The namespace lab's agent (scripts/tcplab-lab starts it as root inside
//     `ip netns exec tcplab-peer`). An AF_UNIX SOCK_SEQPACKET socket at PATH (mode 0660 and
//     group NAME when that group exists, else root's alone; a stale socket there is
//     removed; a PATH whose directory is not root's, or writable by others, is refused), a
//     session per client in a process of its own (forked: one client's calls cannot touch
//     another's sockets), at most kMaxSessions at once: a further client gets one Answer
//     (id 0, Refused, saying so) and is closed. SIGTERM (or SIGINT, SIGHUP) ends the
//     daemon and its sessions, and removes the socket and the pid file.
//
// Either way a session sees a fresh process's fds: its own (channel, netlink, eventfd, the
// copies blocking calls work on) are at or above kInternalFdFloor, 0-2 are /dev/null, so the
// user's first socket() is fd 3 and accept() gives the next ones, as packetdrill scripts
// expect. SIGPIPE is ignored and every send says MSG_NOSIGNAL. Log lines (a message that
// does not decode, a broken channel) go to the stderr it was started with.
#include "agent_util.h"
#include "session.h"

#include "peer/agent_protocol.h"

#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace {

using namespace tcplab::agent;

constexpr int kChannelFd = 3;
constexpr int kUserNsFd = 4;
constexpr int kNetNsFd = 5;
constexpr int kMaxSessions = 8;
constexpr int kListenBacklog = 16;
/// How long sessions may take to end after SIGTERM before they are killed.
constexpr int kSessionGraceMs = 2000;

/// Exit statuses (the lab words them in its message).
constexpr int kExitUsage = 2;
constexpr int kExitNamespaces = 3;
constexpr int kExitSetup = 4;

[[noreturn]] void usage(const std::string& why, int status = kExitUsage) {
    std::fprintf(status == 0 ? stdout : stderr,
                 "tcplab-peer-agent: %s\n"
                 "usage: tcplab-peer-agent [--enter-namespaces]      (channel on fd 3; tcplab "
                 "starts it)\n"
                 "       tcplab-peer-agent --listen PATH [--group NAME] [--pidfile FILE]\n",
                 why.c_str());
    std::exit(status);
}

/// Log to the stderr we were given, from above the user's fds; 0-2 on /dev/null.
void settleStandardFds() {
    setLogFd(::fcntl(2, F_DUPFD_CLOEXEC, kInternalFdFloor));
    const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int fd = 0; fd <= 2 && null >= 0; ++fd)
        if (fd != null)
            ::dup2(null, fd); // dup2 clears close-on-exec: 0-2 stay what a process expects
    if (null > 2)
        ::close(null);
}

[[noreturn]] void serve(int channel) {
    ::signal(SIGPIPE, SIG_IGN);
    Session session(channel);
    const int status = session.run();
    // Threads may still block in calls: end the process, and with it all it made.
    ::_exit(status);
}

[[noreturn]] void channelMode(bool enterNamespaces) {
    // Nothing but the channel (and the namespaces) is ours to keep.
    ::close_range(enterNamespaces ? kNetNsFd + 1 : kChannelFd + 1, ~0U, 0);
    settleStandardFds();
    if (enterNamespaces) {
        // Single-threaded still, as setns(CLONE_NEWUSER) requires.
        if (::setns(kUserNsFd, CLONE_NEWUSER) != 0) {
            logLine(fmt::format("cannot enter the lab's user namespace: {}", errnoText(errno)));
            ::_exit(kExitNamespaces);
        }
        if (::setns(kNetNsFd, CLONE_NEWNET) != 0) {
            logLine(fmt::format("cannot enter the peer's network namespace: {}", errnoText(errno)));
            ::_exit(kExitNamespaces);
        }
        ::close(kUserNsFd);
        ::close(kNetNsFd);
    }
    const int channel = moveHigh(kChannelFd);
    int type = 0;
    socklen_t length = sizeof type;
    if (channel < 0 || ::getsockopt(channel, SOL_SOCKET, SO_TYPE, &type, &length) != 0 ||
        type != SOCK_SEQPACKET) {
        logLine("fd 3 is not a SOCK_SEQPACKET socket: tcplab starts this program, with its "
                "channel there");
        ::_exit(kExitUsage);
    }
    serve(channel);
}

// --- The namespace lab's daemon ---------------------------------------------------

[[noreturn]] void setupFailed(const std::string& why) {
    logLine(why);
    ::_exit(kExitSetup);
}

/// The listening socket at `path`, after the checks the header describes.
int listenAt(const std::string& path, const std::string& group, ino_t& inode) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.empty() || path.front() != '/' || path.size() >= sizeof address.sun_path)
        setupFailed(fmt::format("--listen needs an absolute path shorter than {} bytes, not '{}'",
                                sizeof address.sun_path, path));
    const std::string dir = path.substr(0, std::max<std::size_t>(1, path.rfind('/')));
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0)
        setupFailed(fmt::format("cannot use {}: {}", dir, errnoText(errno)));
    if (st.st_uid != 0 || (st.st_mode & 022) != 0)
        setupFailed(fmt::format("refusing to listen at {}: its directory {} must be root's and "
                                "writable by root alone (it is uid {}, mode {:04o})",
                                path, dir, st.st_uid, st.st_mode & 07777));
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);

    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            setupFailed(fmt::format("{} exists and is not a socket: not removing it", path));
        Fd probe(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
        if (probe.get() >= 0 &&
            ::connect(probe.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0)
            setupFailed(fmt::format("another agent listens at {}: stop it first", path));
        ::unlink(path.c_str()); // stale: nobody listens there any more
    }
    const int fd = moveHigh(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (fd < 0)
        setupFailed(fmt::format("socket: {}", errnoText(errno)));
    const mode_t old = ::umask(077); // no moment with a wider mode than ours
    const int bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    const int bindError = errno;
    ::umask(old);
    if (bound != 0)
        setupFailed(fmt::format("cannot bind {}: {}", path, errnoText(bindError)));
    if (::listen(fd, kListenBacklog) != 0)
        setupFailed(fmt::format("cannot listen at {}: {}", path, errnoText(errno)));
    const struct group* g = group.empty() ? nullptr : ::getgrnam(group.c_str());
    if (g && ::chown(path.c_str(), 0, g->gr_gid) == 0) {
        ::chmod(path.c_str(), 0660);
    } else {
        ::chmod(path.c_str(), 0600);
        if (!group.empty())
            logLine(fmt::format("no group {}: {} is root's alone", group, path));
    }
    if (::stat(path.c_str(), &st) == 0)
        inode = st.st_ino;
    return fd;
}

void writePidFile(const std::string& file) {
    if (file.empty())
        return;
    const std::string tmp = file + ".tmp";
    const std::string text = fmt::format("{}\n", ::getpid());
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0 || ::write(fd.get(), text.data(), text.size()) != ssize_t(text.size()) ||
        ::rename(tmp.c_str(), file.c_str()) != 0)
        setupFailed(fmt::format("cannot write the pid file {}: {}", file, errnoText(errno)));
}

/// The one Answer a client beyond kMaxSessions gets before it is closed.
void refuseClient(int fd) {
    tcplab::peer::Answer a;
    a.id = 0;
    a.outcome = tcplab::peer::Outcome::Refused;
    a.result = -1;
    a.startNs = realtimeNs();
    a.text = fmt::format("the namespace lab's agent serves {} sessions at most", kMaxSessions);
    const auto bytes = tcplab::peer::encode(a);
    [[maybe_unused]] const ssize_t n =
        ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    ::close(fd);
}

void reap(std::set<pid_t>& sessions) {
    for (;;) {
        int status = 0;
        const pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return;
        sessions.erase(pid);
    }
}

[[noreturn]] void daemonMode(const std::string& path, const std::string& group,
                             const std::string& pidFile) {
    ::close_range(kChannelFd, ~0U, 0);
    settleStandardFds();
    ::signal(SIGPIPE, SIG_IGN);
    sigset_t handled;
    sigemptyset(&handled);
    for (const int s : {SIGTERM, SIGINT, SIGHUP, SIGCHLD})
        sigaddset(&handled, s);
    sigset_t previous;
    ::sigprocmask(SIG_BLOCK, &handled, &previous);
    const int signals = moveHigh(::signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK));
    if (signals < 0)
        setupFailed(fmt::format("signalfd: {}", errnoText(errno)));
    ino_t inode = 0;
    const int listener = listenAt(path, group, inode);
    writePidFile(pidFile);
    const pid_t daemonPid = ::getpid();
    logLine(fmt::format("listening at {}", path));

    std::set<pid_t> sessions;
    bool stopping = false;
    while (!stopping) {
        pollfd fds[2] = {{listener, POLLIN, 0}, {signals, POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0 && errno != EINTR)
            break;
        if (fds[1].revents & POLLIN) {
            signalfd_siginfo info{};
            while (::read(signals, &info, sizeof info) == sizeof info) {
                if (info.ssi_signo == SIGCHLD)
                    reap(sessions);
                else
                    stopping = true;
            }
        }
        if (stopping || !(fds[0].revents & POLLIN))
            continue;
        // The client's fd is the lowest free one (3): the session moves it up.
        const int client = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0)
            continue;
        reap(sessions);
        if (static_cast<int>(sessions.size()) >= kMaxSessions) {
            refuseClient(client);
            continue;
        }
        const pid_t pid = ::fork();
        if (pid == 0) {
            ::close(listener);
            ::close(signals);
            ::sigprocmask(SIG_SETMASK, &previous, nullptr);
            ::prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (::getppid() != daemonPid)
                ::_exit(0); // the daemon ended in between
            serve(moveHigh(client));
        }
        if (pid < 0)
            logLine(fmt::format("cannot start a session: fork: {}", errnoText(errno)));
        else
            sessions.insert(pid);
        ::close(client);
    }

    // Ending: the sessions first (bounded), then what the daemon left in the file system.
    for (const pid_t pid : sessions)
        ::kill(pid, SIGTERM);
    for (int waited = 0; !sessions.empty() && waited < kSessionGraceMs; waited += 10) {
        reap(sessions);
        ::usleep(10'000);
    }
    for (const pid_t pid : sessions)
        ::kill(pid, SIGKILL);
    reap(sessions);
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && st.st_ino == inode)
        ::unlink(path.c_str());
    if (!pidFile.empty())
        ::unlink(pidFile.c_str());
    logLine("stopped");
    ::_exit(0);
}

} // namespace

int main(int argc, char** argv) {
    bool enterNamespaces = false;
    std::string listen;
    std::string group;
    std::string pidFile;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        const auto value = [&](const char* what) -> std::string {
            if (i + 1 >= argc)
                usage(fmt::format("{} needs a value", what));
            return argv[++i];
        };
        if (arg == "--enter-namespaces")
            enterNamespaces = true;
        else if (arg == "--listen")
            listen = value("--listen");
        else if (arg == "--group")
            group = value("--group");
        else if (arg == "--pidfile")
            pidFile = value("--pidfile");
        else if (arg == "-h" || arg == "--help")
            usage("the peer agent of tcplab's labs (started by tcplab and tcplab-lab)", 0);
        else
            usage(fmt::format("unknown argument '{}'", arg));
    }
    if (!listen.empty()) {
        if (enterNamespaces)
            usage("--enter-namespaces goes with the channel on fd 3, not with --listen");
        daemonMode(listen, group, pidFile);
    }
    if (!group.empty() || !pidFile.empty())
        usage("--group and --pidfile go with --listen");
    channelMode(enterNamespaces);
}
