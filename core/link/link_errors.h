#pragma once

#include "link/link.h"

#include <string>

namespace tcplab::link {

/// The cure for a missing capability, shared by every back end that opens raw I/O:
/// "run 'sudo setcap cap_net_raw,cap_net_admin+eip /usr/bin/tcplab-cli' and start it
/// again, or use the built-in lab (--lab linux), which needs no privileges". The path
/// is the running binary (/proc/self/exe), shell-quoted when it needs to be.
std::string setcapHint();

/// The command alone: "sudo setcap cap_net_raw,cap_net_admin+eip <running binary>",
/// shell-quoted, for callers that word the rest of the sentence themselves (tcplab's
/// start-up note).
std::string setcapCommand();

/// The network interfaces that exist here (libpcap's device list, keeping only real
/// kernel interfaces: no "any", "nflog", "dbus-system" and the like), comma-separated;
/// "none" when there are none.
std::string interfaceList();

/// `NoSuchInterface` for `ifname`, listing the interfaces that do exist.
LinkError noSuchInterface(const std::string& ifname);
/// `PermissionDenied` for raw I/O on `ifname`; `detail` is what the system said.
LinkError permissionDenied(const std::string& ifname, const std::string& detail);
/// `InterfaceDown` for `ifname`, with the command that brings it up.
LinkError interfaceDown(const std::string& ifname);
/// `InterfaceGone` for a link described as `what` ("pcap on veth-tl0"); `detail` is
/// what the system said.
LinkError interfaceGone(const std::string& what, const std::string& detail);

} // namespace tcplab::link
