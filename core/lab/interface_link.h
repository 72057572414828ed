#pragma once

// Opening a network interface for the phantom host. tcplab and tcplab-cli carry no
// capabilities: a process that holds CAP_NET_RAW (root) opens the interface itself with
// libpcap; any other asks tcplab-link (app/link_helper), the one program with
// CAP_NET_RAW, which only members of the group tcplab may run. The helper opens an
// AF_PACKET socket on that interface, filtered to the phantom's frames, and passes it
// over a socketpair; it becomes an FdLink.

#include "host/phantom_host.h"
#include "link/link.h"

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <tl/expected.hpp>

namespace tcplab::lab {

/// Who opens the interface.
enum class InterfaceOpener : std::uint8_t {
    Auto,      ///< this process when it holds CAP_NET_RAW, else the helper; the helper
               ///< always when $TCPLAB_LINK is "helper" (root who wants the separation)
    InProcess, ///< this process, with libpcap (needs CAP_NET_RAW)
    Helper,    ///< tcplab-link, always
};

struct InterfaceLinkOptions {
    InterfaceOpener opener = InterfaceOpener::Auto;
    /// The helper; empty: $TCPLAB_LINK_HELPER, else where the other helpers are looked
    /// for (next to the running binary, ../libexec/tcplab/, /usr/libexec/tcplab/).
    std::string helperPath;
    /// How long the helper may take to answer before it is killed.
    std::chrono::milliseconds timeout{5000};
    /// Called with the helper's pid once it answered and before the channel is closed,
    /// while it still runs (the tests read its /proc/PID/status here).
    std::function<void(pid_t)> onHelperAnswered;
};

/// This process's effective capabilities (bit N is capability N); 0 when none or unknown.
std::uint64_t effectiveCapabilities();
/// Whether this process holds CAP_NET_RAW in its effective set.
bool holdsNetRaw();

/// Opens `ifname` for `identity` (its MAC and addresses make the capture filter).
/// Errors are sentences: no such interface (with those that exist), down (with the ip
/// command), not in the group tcplab (with the usermod command), helper missing or
/// without its capability (with the cure), the helper's own refusal.
tl::expected<std::unique_ptr<link::Link>, link::LinkError>
openInterfaceLink(const std::string& ifname, const host::Identity& identity,
                  const InterfaceLinkOptions& options = {});

} // namespace tcplab::lab
