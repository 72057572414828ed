#include "agent_util.h"

#include <cstring>

namespace tcplab::agent {

namespace {

int g_logFd = -1;

} // namespace

void setLogFd(int fd) noexcept {
    g_logFd = fd;
}

void logLine(std::string_view text) noexcept {
    if (g_logFd < 0)
        return;
    try {
        std::string line = "tcplab-peer-agent[" + std::to_string(::getpid()) + "]: ";
        line += text;
        line += '\n';
        // One write per line, so that the lines of several sessions do not mix.
        [[maybe_unused]] const ssize_t n = ::write(g_logFd, line.data(), line.size());
    } catch (...) {
        // Out of memory while logging: the line is lost, nothing else.
    }
}

std::string errnoText(int error) {
    char buffer[256];
    // The GNU strerror_r: returns the message, in `buffer` or a static string.
    return ::strerror_r(error, buffer, sizeof buffer);
}

} // namespace tcplab::agent
