#pragma once

#include "link/link.h"

#include <string>

namespace tcplab::link {

/// The cure for a missing capability, shared by every path that opens raw I/O: the
/// helper tcplab-link and its group ("'sudo usermod -aG tcplab alice', then log in
/// again"), or the built-in lab, which needs no privileges.
std::string captureHint();

/// The absolute path of the running binary (/proc/self/exe), shell-quoted when it needs to
/// be; a placeholder without /proc.
std::string runningBinary();

/// The user running this process, shell-quoted ("$USER" when it has no name).
std::string userName();

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
