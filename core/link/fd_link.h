#pragma once

#include "link/link.h"

#include <atomic>
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
/// buffer is never cut short: it is reported as an `Io` error and skipped. Sockets are
/// read up to kBatch frames per system call (recvmmsg), a TAP device one frame per read.
///
/// Errors: the peer of a SEQPACKET socket closing is `Closed`; the interface going
/// down or disappearing (ENETDOWN, ENODEV, ENXIO) is `InterfaceGone`. Both are
/// final: every later receive() reports the same error. Frames received before an
/// error in the same call are delivered first, and the error comes with the next call.
class FdLink final : public Link {
public:
    /// Receive buffer size: any Ethernet frame, jumbo or GRO-merged, fits.
    static constexpr std::size_t kBufferSize = 262'144;
    /// Frames taken from a socket per system call. Each has a buffer of kBufferSize in
    /// memory mapped on demand: only the pages frames are written to become resident.
    static constexpr std::size_t kBatch = 32;

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

    /// What the kernel counted on an AF_PACKET socket (PACKET_STATISTICS) since this link
    /// adopted it: frames it queued for us, and frames it dropped because our receive
    /// buffer was full. A drop is a frame tcplab lost, never saw and never recorded.
    struct ReceiveStatistics {
        std::uint64_t packets = 0; ///< received, drops included (tp_packets)
        std::uint64_t drops = 0;   ///< dropped: the receive buffer was full (tp_drops)
    };
    /// The counts so far; nullopt for other kinds of fd or when the kernel does not say.
    /// Any thread (the kernel resets its counters on each read; this keeps the sums).
    std::optional<ReceiveStatistics> receiveStatistics() const;

private:
    enum class Kind : std::uint8_t {
        PacketSocket, ///< AF_PACKET: kernel timestamps, interface errors
        Socket,       ///< SOCK_SEQPACKET or SOCK_DGRAM: recvmsg, 0 bytes is a close
        Device,       ///< a TAP character device: read/write
    };
    FdLink(int fd, Kind kind, bool connectionOriented, std::string description);

    struct ReadResult;
    struct Batch;
    /// Reads one frame of a device into the first buffer, or learns that none waits, or
    /// why it failed.
    ReadResult readDevice();
    /// Reads up to `count` frames of a socket (recvmmsg) into the batch's buffers; their
    /// results, in order, go to m_results. Nothing waiting gives one NoneWaiting result.
    void readSocket(std::size_t count);
    /// What frame `index` of the last readSocket() is.
    ReadResult resultOf(std::size_t index, std::size_t length, int flags) const;
    LinkError errorFromErrno(int error, const char* operation) const;

    int m_fd;
    Kind m_kind;
    bool m_connectionOriented; ///< a read of 0 bytes means the peer closed (SEQPACKET, TAP)
    std::string m_description;
    std::unique_ptr<Batch> m_batch;
    std::vector<ReadResult> m_results;  ///< the last batch's, in order
    std::size_t m_next = 0;             ///< the first of m_results not handed over yet
    std::optional<LinkError> m_failure; ///< final: reported by every later receive()
    std::optional<LinkError> m_pending; ///< reported once by the next receive()
    mutable std::atomic<std::uint64_t> m_statPackets{0}; ///< receiveStatistics()' sums
    mutable std::atomic<std::uint64_t> m_statDrops{0};
};

} // namespace tcplab::link
