#pragma once

#include "wire/bytes.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <tl/expected.hpp>

namespace tcplab::link {

enum class LinkErrorCode : std::uint8_t {
    NoSuchInterface,  ///< the named interface does not exist
    PermissionDenied, ///< raw I/O needs CAP_NET_RAW
    InterfaceDown,    ///< the interface exists but is not up
    InterfaceGone,    ///< the interface disappeared while in use
    BadFilter,        ///< the BPF filter did not compile
    Io,               ///< any other send/receive failure
    Closed,           ///< the other end of an in-process or socket link went away
};

/// What went wrong, in one sentence that names the cause and the cure
/// ("only members of the group tcplab may capture on network interfaces: run 'sudo
/// usermod -aG tcplab alice', then log in again; or use the built-in lab (--lab linux)").
struct LinkError {
    LinkErrorCode code;
    std::string message;
};

/// Called once per received frame: its capture timestamp (nanoseconds since the
/// Unix epoch) and its bytes, valid only during the call.
using FrameSink = std::function<void(std::int64_t timestampNs, wire::Bytes frame)>;

/// Sends and receives whole Ethernet frames. Every back end (libpcap on an interface,
/// an AF_PACKET or TAP fd, a socket to an embedded stack, an in-process pair) is one
/// of these, so the phantom host and the scenarios never know which it is. A Link is
/// used from one thread (the engine's).
class Link {
public:
    virtual ~Link() = default;
    Link() = default;
    Link(const Link&) = delete;
    Link& operator=(const Link&) = delete;

    /// Sends one frame as it is (no padding, no checksum fixing).
    virtual tl::expected<void, LinkError> send(wire::Bytes frame) = 0;
    /// Delivers up to `maxFrames` waiting frames to `sink` without blocking; returns
    /// how many. An error means the link is unusable (interface gone, peer closed).
    virtual tl::expected<std::size_t, LinkError> receive(const FrameSink& sink,
                                                         std::size_t maxFrames) = 0;
    /// A descriptor that polls readable when frames are waiting.
    virtual int pollFd() const noexcept = 0;
    /// Set when receive() must be called again within this many milliseconds even if
    /// pollFd() stays quiet: libpcap, told ENETDOWN, can tell a downed interface from a
    /// vanished one only on a later call, and the error that woke the poller is gone.
    virtual std::optional<std::int64_t> receiveAgainWithinMs() const noexcept {
        return std::nullopt;
    }
    /// "pcap on veth-tl0", "AF_PACKET fd from the built-in lab", "memory".
    virtual std::string description() const = 0;
};

} // namespace tcplab::link
