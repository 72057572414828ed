#pragma once

#include "timeline/published_array.h"
#include "wire/bytes.h"
#include "wire/frame.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace tcplab::timeline {

/// Which way a frame went, seen from the phantom host.
enum class Direction : std::uint8_t {
    Sent,     ///< the phantom (tcplab) put it on the wire
    Received, ///< it arrived on the link
};
std::string_view directionName(Direction d) noexcept; ///< "sent" / "received"

/// One frame of the timeline, immutable once published.
struct Entry {
    std::int64_t timeNs = 0; ///< nanoseconds since the Unix epoch
    Direction direction = Direction::Received;
    /// The frame's length on the wire; more than bytes.size() when the snap length (or the
    /// capture it was imported from) kept only its first bytes.
    std::uint32_t wireLength = 0;
    /// The frame's bytes (the first snap length of them), in the timeline's own storage:
    /// valid as long as the Timeline.
    wire::Bytes bytes;

    /// The frame decoded (decodeFrame is cheap; the result refers to `bytes`).
    wire::Frame decode() const { return wire::decodeFrame(bytes); }
};

/// What the peer agent reported, beside the frames (core/peer, timeline/peer_records.h).
enum class PeerRecordKind : std::uint8_t {
    Call,   ///< a socket call or sysctl: its request and its answer
    Sample, ///< one socket's TCP state (tcp_info) at one moment
    Hello,  ///< the agent started (its stack and release)
};

/// One record of the peer agent, immutable once published.
struct PeerRecord {
    std::int64_t timeNs = 0; ///< a call's start, a sample's moment (the frames' clock)
    PeerRecordKind kind = PeerRecordKind::Call;
    /// The record, encoded (timeline/peer_records.h decodes it), in the timeline's storage.
    wire::Bytes bytes;
};

/// The append-only store of every frame sent and received, and of the peer agent's
/// calls and samples on the same clock.
///
/// One writer (the engine thread) appends; any number of readers on other threads
/// read entries [0, size()) without a lock: size() is published with release
/// semantics after the entry is complete, and an entry never moves or changes once
/// published (storage grows in fixed chunks; nothing is reallocated).
///
/// The store is bounded (`capacity`): a flood of traffic cannot exhaust memory.
/// append() past the capacity refuses the frame and the engine says so.
class Timeline {
public:
    static constexpr std::size_t kChunkSize = 4096;
    static constexpr std::size_t kDefaultCapacity = 4'000'000;
    static constexpr std::size_t kDefaultPeerCapacity = 1'000'000;

    explicit Timeline(std::size_t capacity = kDefaultCapacity,
                      std::size_t peerCapacity = kDefaultPeerCapacity);
    ~Timeline();
    Timeline(const Timeline&) = delete;
    Timeline& operator=(const Timeline&) = delete;

    /// Writer only. Copies `frame` (its first snapLength() bytes); returns its index, or
    /// nullopt when full. `wireLength` is the frame's length on the wire when `frame` is
    /// already cut short (an imported capture's), 0 for frame.size().
    std::optional<std::size_t> append(std::int64_t timeNs, Direction direction, wire::Bytes frame,
                                      std::uint32_t wireLength = 0);

    /// Writer only: frames appended from now on keep at most `bytes` bytes (0: all of
    /// them), so a long transfer's timeline stays small. Headers need 54 to 134 bytes.
    void setSnapLength(std::size_t bytes) noexcept { m_snapLength = bytes; }
    std::size_t snapLength() const noexcept { return m_snapLength; }

    /// Entries published so far (any thread).
    std::size_t size() const noexcept { return m_entries.size(); }
    std::size_t capacity() const noexcept { return m_entries.capacity(); }
    bool full() const noexcept { return size() >= capacity(); }

    /// Entry `index` < size() (any thread).
    const Entry& operator[](std::size_t index) const noexcept { return m_entries[index]; }

    /// Writer only. Copies the encoded record; its index, or nullopt when full.
    std::optional<std::size_t> appendPeer(std::int64_t timeNs, PeerRecordKind kind,
                                          wire::Bytes bytes);
    /// Peer records published so far, and record `index` < peerSize() (any thread).
    std::size_t peerSize() const noexcept { return m_peer.size(); }
    std::size_t peerCapacity() const noexcept { return m_peer.capacity(); }
    const PeerRecord& peer(std::size_t index) const noexcept { return m_peer[index]; }

    /// Bytes held for frames and records (the arena's blocks), for memory accounting.
    std::size_t storedBytes() const noexcept { return m_arenaBytes; }

private:
    /// Frame bytes are copied into large blocks that never move or shrink, so an
    /// append is one memcpy instead of one allocation per frame (writer only).
    std::uint8_t* reserveBytes(std::size_t length);

    PublishedArray<Entry, kChunkSize> m_entries;
    PublishedArray<PeerRecord, 1024> m_peer;
    std::size_t m_snapLength = 0;
    struct Block {
        std::uint8_t* data = nullptr;
        std::size_t size = 0;
    };
    std::vector<Block> m_blocks; ///< writer only; mmap()ed, freed by the destructor
    std::uint8_t* m_blockNext = nullptr;
    std::size_t m_blockLeft = 0;
    std::size_t m_arenaBytes = 0;
};

} // namespace tcplab::timeline
