#pragma once

// The peer namespace's sysctls for Call::Sysctl and Call::SysctlList: /proc/sys/net of the
// network namespace the agent is in (the peer's), keys under "net." only, read as text and
// written as text, with a sentence in plain words when the kernel refuses.

#include <cstdint>
#include <optional>
#include <string>

namespace tcplab::agent {

/// What a sysctl call answers (the session turns it into a peer::Answer).
struct SysctlAnswer {
    bool refused = false; ///< not made (a key outside net., a malformed key): text says why
    std::int64_t result = 0;
    int error = 0;
    std::string text; ///< why it failed, in plain words; empty on success
    std::string data; ///< the value in force (Sysctl), or the "key=value\n" lines (SysctlList)
};

/// Reads `key` ("net.ipv4.tcp_sack"), or writes `value` and then reads the value in force.
/// The value is the file's text without its trailing newline, tabs as spaces.
SysctlAnswer sysctl(const std::string& key, const std::optional<std::string>& value);

/// "key=value\n" lines, sorted, of every readable net.ipv4.tcp_* key and net.core.
/// {rmem,wmem}_{default,max} and net.core.somaxconn whose key starts with `prefix`; when
/// none does and `prefix` lies elsewhere under net. ("net.ipv6.conf.all."), the readable
/// keys of that part of the tree. At most kMaxDataBytes of lines (result: how many).
SysctlAnswer sysctlList(const std::string& prefix);

} // namespace tcplab::agent
