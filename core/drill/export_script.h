#pragma once

// A captured timeline as a script that plays it again: one TCP connection between the
// phantom (the frames tcplab sent) and the peer (the frames it received), written as a
// packetdrill script (the phantom's segments as "<" lines to inject, the peer's as ">"
// lines to expect, the peer agent's socket calls as system call lines) or as a scapy
// program that does the same from any Linux host.
//
// packetdrill's numbering is kept (google/packetdrill run_packet.c): each side's sequence
// numbers count from its own ISN (its SYN's; when the capture starts mid-connection, the
// lowest it was seen to send: the first, unless a retransmission of older data came later),
// acks and SACK blocks from the other side's; TS val and ecr are written as they were on
// the wire. The first event is at 0, each later one relative to the one before, in
// microseconds. Payloads replay as zeros, as packetdrill sends and expects.
//
// Without call records (a timeline of a peer that tcplab's agent did not drive: a server
// app, a capture) the peer's calls are made up: a server's socket, bind, listen and accept
// when the phantom opened the connection, a non-blocking client's connect when the peer
// did, a write before each run of the peer's data and a close before its FIN.

#include "drill/script.h"
#include "timeline/timeline.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include <tl/expected.hpp>

namespace tcplab::drill {

struct ExportOptions {
    /// Which TCP connection: 0-based, in the order connections first appear in the timeline
    /// (a connection is one pair of endpoints, the phantom's address and port and the
    /// peer's); nullopt: the first one.
    std::optional<std::size_t> connection;
    /// Whether the peer's '>' lines carry its window: off by default, since it follows what
    /// the peer's application has read, which a replay does not reproduce.
    bool assertWindow = false;
    /// 0: no option; else a `--tolerance_usecs=N` line.
    std::int64_t toleranceUsecs = 0;
    /// The peer's interface as the recorded commands name it (the built-in lab's): written
    /// tun0, packetdrill's device, which `tcplab-cli drill` maps back onto the lab's.
    std::string peerInterface = "tcplab0p";
};

/// The connection as a packetdrill script. Frames of other connections, and ARP, NDP and
/// other frames, are left out; an error ("the timeline has no TCP connection") only when
/// nothing is left.
tl::expected<Script, std::string> timelineToScript(const timeline::Timeline& t,
                                                   const ExportOptions& o);

/// formatScript() of timelineToScript(), after comment lines that say what was exported
/// ("// Exported by tcplab from 11 frames: 198.18.0.2:50000 -> 198.18.0.1:50001"), how
/// the numbers count and what was made up.
tl::expected<std::string, std::string> exportPacketdrill(const timeline::Timeline& t,
                                                         const ExportOptions& o);

/// A self-contained python3 program (scapy) that sends the phantom's segments with the
/// captured flags, numbers, window and options, learns the peer's live ISN from its
/// SYN or SYN-ACK as packetdrill does, and checks each of the peer's segments (flags, seq,
/// ack, length; window with assertWindow): "ok line N" or "mismatch line N: expected ...
/// got ...", exit status 1 on a mismatch. N is the line of exportPacketdrill()'s text.
tl::expected<std::string, std::string> exportScapy(const timeline::Timeline& t,
                                                   const ExportOptions& o);

} // namespace tcplab::drill
