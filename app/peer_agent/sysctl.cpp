#include "sysctl.h"

#include "agent_util.h"

#include "peer/agent_protocol.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <map>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace tcplab::agent {

namespace {

constexpr std::size_t kMaxKeyBytes = 256;
constexpr std::size_t kMaxValueBytes = 64 * 1024;
/// How deep a listing walks below the directory its prefix names.
constexpr int kMaxListDepth = 4;

/// Keys that a network namespace other than the host's cannot change (read-only there) or
/// does not even have: they belong to the whole machine (Linux 6.x).
constexpr std::array<std::string_view, 12> kMachineWide = {
    "net.core.rmem_default",
    "net.core.rmem_max",
    "net.core.wmem_default",
    "net.core.wmem_max",
    "net.core.netdev_max_backlog",
    "net.core.default_qdisc",
    "net.ipv4.tcp_mem",
    "net.ipv4.tcp_max_orphans",
    "net.ipv4.tcp_low_latency",
    "net.ipv4.udp_mem",
    "net.ipv4.tcp_allowed_congestion_control",
    "net.netfilter.nf_conntrack_max",
};

bool machineWide(const std::string& key) {
    return std::find(kMachineWide.begin(), kMachineWide.end(), key) != kMachineWide.end();
}

/// /proc/sys/... of a key, or why the key is not one the agent touches. A '/' inside a
/// component stands for a '.' in a name, as sysctl(8) writes it (net.ipv4.conf.eth0/100.rp_filter).
std::optional<std::string> pathOf(const std::string& key, std::string& why) {
    if (!key.starts_with("net.")) {
        why = fmt::format("the agent reads and writes the peer's network namespace's own "
                          "settings only, keys under net. ('{}' is not one)",
                          key);
        return std::nullopt;
    }
    if (key.size() > kMaxKeyBytes) {
        why = fmt::format("a sysctl key of {} bytes is longer than any there is", key.size());
        return std::nullopt;
    }
    std::string path = "/proc/sys";
    std::size_t start = 0;
    while (start <= key.size()) {
        auto end = key.find('.', start);
        if (end == std::string::npos)
            end = key.size();
        std::string component = key.substr(start, end - start);
        for (char& c : component)
            if (c == '/')
                c = '.';
        const bool wellFormed =
            !component.empty() && component != "." && component != ".." &&
            component.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789_-.") == std::string::npos;
        if (!wellFormed) {
            why = fmt::format("'{}' is not a sysctl key: its parts are names of letters, digits, "
                              "'_' and '-' between dots (net.ipv4.tcp_sack)",
                              key);
            return std::nullopt;
        }
        path += '/';
        path += component;
        start = end + 1;
    }
    return path;
}

/// The file's text as /proc/sys has it, without the trailing newline, tabs (and inner
/// newlines) as spaces; errno on failure.
int readValue(const std::string& path, std::string& value) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0)
        return errno;
    std::string text;
    std::array<char, 4096> buffer{};
    while (text.size() <= kMaxValueBytes) {
        const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        if (n == 0)
            break;
        text.append(buffer.data(), static_cast<std::size_t>(n));
    }
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
        text.pop_back();
    for (char& c : text)
        if (c == '\t' || c == '\n')
            c = ' ';
    value = std::move(text);
    return 0;
}

int writeValue(const std::string& path, const std::string& value, bool& openFailed) {
    openFailed = false;
    Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (fd.get() < 0) {
        openFailed = true;
        return errno;
    }
    for (;;) {
        const ssize_t n = ::write(fd.get(), value.data(), value.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        return static_cast<std::size_t>(n) == value.size() ? 0 : EIO;
    }
}

std::string listOf(const char* key) {
    std::string value;
    std::string why;
    if (const auto path = pathOf(key, why); !path || readValue(*path, value) != 0)
        return "?";
    return value;
}

bool readOnly(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && (st.st_mode & 0222) == 0;
}

/// Why reading `key` failed, in plain words.
std::string readRefusal(const std::string& key, int error) {
    if (error == ENOENT)
        return machineWide(key) || key.starts_with("net.core.")
                   ? fmt::format("this network namespace has no {} of its own: it belongs to "
                                 "the whole machine",
                                 key)
                   : fmt::format("there is no {} in this network namespace (a key looks like "
                                 "net.ipv4.tcp_sack; sysctl-list names them)",
                                 key);
    if (error == EACCES || error == EPERM)
        return fmt::format("{} may not be read here ({})", key, errnoText(error));
    if (error == EISDIR)
        return fmt::format("{} is a group of keys, not one: sysctl-list {}. names them", key, key);
    return fmt::format("cannot read {}: {}", key, errnoText(error));
}

/// Why writing `value` to `key` failed, in plain words.
std::string writeRefusal(const std::string& key, const std::string& path, const std::string& value,
                         int error, bool openFailed) {
    const bool congestion = key == "net.ipv4.tcp_congestion_control";
    if (congestion && !openFailed && error == ENOENT)
        return fmt::format("no congestion control algorithm named '{}' is loaded (net.ipv4."
                           "tcp_available_congestion_control: {})",
                           value, listOf("net.ipv4.tcp_available_congestion_control"));
    if (congestion && !openFailed && error == EPERM)
        return fmt::format("a network namespace may only choose one of net.ipv4."
                           "tcp_allowed_congestion_control ({}), not '{}'",
                           listOf("net.ipv4.tcp_allowed_congestion_control"), value);
    if (openFailed && error == ENOENT)
        return machineWide(key) || key.starts_with("net.core.")
                   ? fmt::format("this network namespace may not change {}: it belongs to the "
                                 "whole machine",
                                 key)
                   : fmt::format("there is no {} in this network namespace (a key looks like "
                                 "net.ipv4.tcp_sack; sysctl-list names them)",
                                 key);
    if (openFailed && (error == EACCES || error == EPERM)) {
        if (machineWide(key))
            return fmt::format("this network namespace may not change {}: it belongs to the "
                               "whole machine",
                               key);
        if (readOnly(path))
            return fmt::format("{} is read-only: the kernel lets nobody change it", key);
        return fmt::format("the agent may not change {} ({})", key, errnoText(error));
    }
    if (openFailed && error == EISDIR)
        return fmt::format("{} is a group of keys, not one: sysctl-list {}. names them", key, key);
    if (error == EINVAL || error == ERANGE)
        return fmt::format("the kernel refused '{}' for {}: not a value it takes ({})", value, key,
                           errnoText(error));
    return fmt::format("cannot set {} to '{}': {}", key, value, errnoText(error));
}

void collect(const std::string& dir, const std::string& keyPrefix, const std::string& wanted,
             int depth, std::map<std::string, std::string>& out) {
    DIR* d = ::opendir(dir.c_str());
    if (!d)
        return;
    std::vector<std::pair<std::string, bool>> entries;
    while (const dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name == "." || name == "..")
            continue;
        entries.emplace_back(name, e->d_type == DT_DIR);
    }
    ::closedir(d);
    for (const auto& [name, isDir] : entries) {
        std::string component = name;
        std::replace(component.begin(), component.end(), '.', '/');
        const std::string key = keyPrefix + component;
        const std::string path = dir + "/" + name;
        if (isDir) {
            const std::string below = key + ".";
            const bool mayMatch = below.starts_with(wanted) || wanted.starts_with(below);
            if (depth > 0 && mayMatch)
                collect(path, below, wanted, depth - 1, out);
            continue;
        }
        if (!key.starts_with(wanted))
            continue;
        std::string value;
        if (readValue(path, value) == 0)
            out[key] = std::move(value);
    }
}

} // namespace

SysctlAnswer sysctl(const std::string& key, const std::optional<std::string>& value) {
    SysctlAnswer a;
    const auto path = pathOf(key, a.text);
    if (!path) {
        a.refused = true;
        return a;
    }
    if (value) {
        bool openFailed = false;
        if (const int error = writeValue(*path, *value, openFailed); error != 0) {
            a.result = -1;
            a.error = error;
            a.text = writeRefusal(key, *path, *value, error, openFailed);
        }
        // What is in force now, refused or not.
        readValue(*path, a.data);
        return a;
    }
    if (const int error = readValue(*path, a.data); error != 0) {
        a.result = -1;
        a.error = error;
        a.text = readRefusal(key, error);
    }
    return a;
}

SysctlAnswer sysctlList(const std::string& prefix) {
    SysctlAnswer a;
    if (!prefix.empty() && !prefix.starts_with("net.") &&
        !std::string_view("net.").starts_with(prefix)) {
        a.refused = true;
        a.text = fmt::format("the agent lists the peer's network namespace's own settings only, "
                             "keys under net. ('{}' is not a prefix of any)",
                             prefix);
        return a;
    }
    std::map<std::string, std::string> found;
    collect("/proc/sys/net/ipv4", "net.ipv4.", "net.ipv4.tcp_", 0, found);
    for (const char* key : {"net.core.rmem_default", "net.core.rmem_max", "net.core.wmem_default",
                            "net.core.wmem_max", "net.core.somaxconn"}) {
        std::string why;
        std::string value;
        if (const auto path = pathOf(key, why); path && readValue(*path, value) == 0)
            found[key] = std::move(value);
    }
    std::erase_if(found, [&prefix](const auto& kv) { return !kv.first.starts_with(prefix); });
    if (found.empty() && prefix.size() > 4) {
        // Elsewhere under net.: the part of the tree the prefix's whole components name.
        const std::string dirKey = prefix.substr(0, prefix.rfind('.'));
        std::string why;
        if (const auto dir = pathOf(dirKey, why))
            collect(*dir, dirKey + ".", prefix, kMaxListDepth, found);
    }
    std::size_t lines = 0;
    for (const auto& [key, v] : found) {
        const std::string line = key + "=" + v + "\n";
        if (a.data.size() + line.size() > peer::kMaxDataBytes) {
            a.text = fmt::format("the list stops after {} of {} keys, at {} bytes: ask for a "
                                 "longer prefix",
                                 lines, found.size(), peer::kMaxDataBytes);
            break;
        }
        a.data += line;
        ++lines;
    }
    a.result = static_cast<std::int64_t>(lines);
    return a;
}

} // namespace tcplab::agent
