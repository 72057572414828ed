#pragma once

#include "link/link.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tcplab::link {

/// A link over one file descriptor that carries whole Ethernet frames, one per
/// read and write: an AF_PACKET SOCK_RAW socket (ours, or one handed over by the
/// built-in lab's helper), a TAP fd, or a SOCK_SEQPACKET socket to a helper process
/// running an embedded stack. Every back end reduces to one of these.
///
/// The fd is owned (closed by the destructor) and made non-blocking. Received frames
/// carry the kernel's receive timestamp (SO_TIMESTAMPNS) on AF_PACKET sockets and the
/// system clock (CLOCK_REALTIME) otherwise. A frame larger than the 256 KiB receive
/// buffer is never cut short: it is reported as an `Io` error and skipped.
///
/// Errors: the peer of a SEQPACKET socket closing is `Closed`; the interface going
/// down or disappearing (ENETDOWN, ENODEV, ENXIO) is `InterfaceGone`. Both are
/// final: every later receive() reports the same error. Frames received before an
/// error in the same call are delivered first, and the error comes with the next call.
class FdLink final : public Link {
public:
    /// Receive buffer size: any Ethernet frame, jumbo or GRO-merged, fits.
    static constexpr std::size_t kBufferSize = 262'144;

    /// Takes ownership of `fd` (closed even on error). `description` names it in
    /// messages ("AF_PACKET fd from the built-in lab"). A stream socket is refused: it
    /// does not keep frame boundaries.
    static tl::expected<std::unique_ptr<FdLink>, LinkError> adopt(int fd, std::string description);

    /// An AF_PACKET/SOCK_RAW socket for every protocol (ETH_P_ALL), bound to `ifname`,
    /// promiscuous (so frames to the phantom's MAC arrive), not seeing its own sends
    /// (PACKET_IGNORE_OUTGOING). Needs CAP_NET_RAW.
    static tl::expected<std::unique_ptr<FdLink>, LinkError>
    openPacketSocket(const std::string& ifname);

    ~FdLink() override;

    tl::expected<void, LinkError> send(wire::Bytes frame) override;
    tl::expected<std::size_t, LinkError> receive(const FrameSink& sink,
                                                 std::size_t maxFrames) override;
    int pollFd() const noexcept override { return m_fd; }
    std::string description() const override { return m_description; }

private:
    enum class Kind : std::uint8_t {
        PacketSocket, ///< AF_PACKET: kernel timestamps, interface errors
        Socket,       ///< SOCK_SEQPACKET or SOCK_DGRAM: recvmsg, 0 bytes is a close
        Device,       ///< a TAP character device: read/write
    };
    FdLink(int fd, Kind kind, bool connectionOriented, std::string description);

    struct ReadResult;
    /// Reads one frame into m_buffer, or learns that none waits, or why it failed.
    ReadResult readOne();
    LinkError errorFromErrno(int error, const char* operation) const;

    int m_fd;
    Kind m_kind;
    bool m_connectionOriented; ///< a read of 0 bytes means the peer closed (SEQPACKET, TAP)
    std::string m_description;
    std::vector<std::uint8_t> m_buffer;
    std::optional<LinkError> m_failure; ///< final: reported by every later receive()
    std::optional<LinkError> m_pending; ///< reported once by the next receive()
};

} // namespace tcplab::link
