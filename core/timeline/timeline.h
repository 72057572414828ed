#pragma once

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
    /// The frame's bytes, in the timeline's own storage: valid as long as the Timeline.
    wire::Bytes bytes;

    /// The frame decoded (decodeFrame is cheap; the result refers to `bytes`).
    wire::Frame decode() const { return wire::decodeFrame(bytes); }
};

/// The append-only store of every frame sent and received.
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

    explicit Timeline(std::size_t capacity = kDefaultCapacity);
    ~Timeline();
    Timeline(const Timeline&) = delete;
    Timeline& operator=(const Timeline&) = delete;

    /// Writer only. Copies `frame`; returns its index, or nullopt when full.
    std::optional<std::size_t> append(std::int64_t timeNs, Direction direction, wire::Bytes frame);

    /// Entries published so far (any thread).
    std::size_t size() const noexcept { return m_size.load(std::memory_order_acquire); }
    std::size_t capacity() const noexcept { return m_capacity; }
    bool full() const noexcept { return size() >= m_capacity; }

    /// Entry `index` < size() (any thread).
    const Entry& operator[](std::size_t index) const noexcept;

    /// Bytes held for frames (the arena's blocks), for memory accounting.
    std::size_t storedBytes() const noexcept { return m_arenaBytes; }

private:
    struct Chunk;
    /// Frame bytes are copied into large blocks that never move or shrink, so an
    /// append is one memcpy instead of one allocation per frame (writer only).
    std::uint8_t* reserveBytes(std::size_t length);

    std::size_t m_capacity;
    std::size_t m_chunkCount;
    std::unique_ptr<std::atomic<Chunk*>[]> m_chunks;
    std::atomic<std::size_t> m_size{0};
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
