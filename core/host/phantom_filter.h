#pragma once

#include "host/phantom_host.h"

#include <string>

namespace tcplab::host {

/// The pcap-filter(7) expression that lets through only what the phantom must see:
/// frames to its MAC; ARP whose sender or target is one of its IPv4 addresses
/// (requests for it, and a conflicting host's probes and announcements); IPv6
/// neighbour discovery to its solicited-node multicast group and to all-nodes
/// (DAD defences). Nothing else reaches the engine, so a busy link costs nothing.
std::string phantomBpfFilter(const Identity& identity);

} // namespace tcplab::host
