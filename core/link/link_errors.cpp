#include "link/link_errors.h"

#include <pcap/pcap.h>

#include <net/if.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace tcplab::link {

namespace {

/// Quotes `word` for a POSIX shell when it holds anything but safe characters, so the
/// printed command can be pasted as it is.
std::string shellQuoted(const std::string& word) {
    const bool safe = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '/' || c == '.' || c == '_' || c == '-' || c == '+' || c == ',' || c == '=';
    });
    if (safe)
        return word;
    std::string quoted = "'";
    for (const char c : word) {
        if (c == '\'')
            quoted += "'\\''";
        else
            quoted += c;
    }
    quoted += '\'';
    return quoted;
}

std::vector<std::string> kernelInterfaceNames() {
    std::vector<std::string> names;
    if (struct if_nameindex* list = ::if_nameindex()) {
        for (const struct if_nameindex* i = list; i->if_index != 0 && i->if_name; ++i)
            names.emplace_back(i->if_name);
        ::if_freenameindex(list);
    }
    return names;
}

} // namespace

std::string runningBinary() {
    std::array<char, 4096> buffer{};
    const ssize_t n = ::readlink("/proc/self/exe", buffer.data(), buffer.size() - 1);
    if (n <= 0)
        return "<path to the tcplab binary>";
    std::string path(buffer.data(), static_cast<std::size_t>(n));
    // A binary replaced on disk while running reads as "/path (deleted)".
    constexpr std::string_view kDeleted = " (deleted)";
    if (path.size() > kDeleted.size() && path.ends_with(kDeleted))
        path.resize(path.size() - kDeleted.size());
    return shellQuoted(path);
}

std::string userName() {
    if (const passwd* entry = ::getpwuid(::getuid()); entry && entry->pw_name)
        return shellQuoted(entry->pw_name);
    return "$USER";
}

std::string captureHint() {
    return fmt::format("tcplab opens interfaces through its helper tcplab-link, which members of "
                       "the group tcplab may run: 'sudo usermod -aG tcplab {}', then log in "
                       "again; or use the built-in lab (--lab linux), which needs no privileges",
                       userName());
}

std::string interfaceList() {
    std::vector<std::string> names;
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    pcap_if_t* devices = nullptr;
    if (pcap_findalldevs(&devices, errbuf) == 0) {
        // libpcap also lists capture-only pseudo devices ("any", "nflog", "dbus-system",
        // "bluetooth-monitor"); only kernel interfaces can carry the phantom's frames.
        for (const pcap_if_t* d = devices; d; d = d->next) {
            if (d->name && ::if_nametoindex(d->name) != 0)
                names.emplace_back(d->name);
        }
        pcap_freealldevs(devices);
    } else {
        names = kernelInterfaceNames();
    }
    if (names.empty())
        return "none";
    return fmt::format("{}", fmt::join(names, ", "));
}

LinkError noSuchInterface(const std::string& ifname) {
    return {LinkErrorCode::NoSuchInterface,
            fmt::format("no interface named '{}' here; existing interfaces: {} (see 'ip link')",
                        ifname, interfaceList())};
}

LinkError permissionDenied(const std::string& ifname, const std::string& detail) {
    return {LinkErrorCode::PermissionDenied,
            fmt::format("permission denied for raw I/O on {}: it needs CAP_NET_RAW ({}); {}",
                        ifname, detail, captureHint())};
}

LinkError interfaceDown(const std::string& ifname) {
    return {LinkErrorCode::InterfaceDown,
            fmt::format("interface {} is down: bring it up with 'sudo ip link set {} up'", ifname,
                        ifname)};
}

LinkError interfaceGone(const std::string& what, const std::string& detail) {
    return {LinkErrorCode::InterfaceGone,
            fmt::format("the interface of {} went down or disappeared ({}): bring it back up or "
                        "recreate it, then open the link again",
                        what, detail)};
}

} // namespace tcplab::link
