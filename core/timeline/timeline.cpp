#include "timeline/timeline.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <new>

#include <sys/mman.h>

namespace tcplab::timeline {

std::string_view directionName(Direction d) noexcept {
    switch (d) {
    case Direction::Sent:
        return "sent";
    case Direction::Received:
        return "received";
    }
    return "unknown";
}

/// A fixed block of entries. Allocated whole by the writer when the first entry in it
/// is appended, never moved or freed before the Timeline: a reader holding a reference
/// to an entry keeps a valid one for the Timeline's lifetime.
struct Timeline::Chunk {
    std::array<Entry, kChunkSize> entries;
};

Timeline::Timeline(std::size_t capacity)
    : m_capacity(capacity)
    , m_chunkCount(capacity / kChunkSize + (capacity % kChunkSize != 0 ? 1 : 0))
    , m_chunks(std::make_unique<std::atomic<Chunk*>[]>(m_chunkCount)) {
    for (std::size_t i = 0; i < m_chunkCount; ++i)
        m_chunks[i].store(nullptr, std::memory_order_relaxed);
}

Timeline::~Timeline() {
    for (std::size_t i = 0; i < m_chunkCount; ++i)
        delete m_chunks[i].load(std::memory_order_relaxed);
    for (const Block& b : m_blocks)
        ::munmap(b.data, b.size);
}

std::optional<std::size_t> Timeline::append(std::int64_t timeNs, Direction direction,
                                            wire::Bytes frame) {
    // Only the writer changes m_size, so its own relaxed read is exact.
    const std::size_t index = m_size.load(std::memory_order_relaxed);
    if (index >= m_capacity)
        return std::nullopt;
    std::atomic<Chunk*>& slot = m_chunks[index / kChunkSize];
    Chunk* chunk = slot.load(std::memory_order_relaxed);
    if (!chunk) {
        chunk = new Chunk;
        // Readers reach a chunk only through an index below the published size, and
        // the release store of that size below orders this store before it; release
        // here too so the pointer is never seen without its constructed entries.
        slot.store(chunk, std::memory_order_release);
    }
    Entry& entry = chunk->entries[index % kChunkSize];
    entry.timeNs = timeNs;
    entry.direction = direction;
    std::uint8_t* stored = reserveBytes(frame.size());
    if (!frame.empty())
        std::memcpy(stored, frame.data(), frame.size());
    entry.bytes = wire::Bytes(stored, frame.size());
    // Publish: everything written above happens-before a reader's acquire of size().
    m_size.store(index + 1, std::memory_order_release);
    return index;
}

std::uint8_t* Timeline::reserveBytes(std::size_t length) {
    // 4 MiB blocks hold thousands of frames; a frame larger than a block (a 256 KiB
    // GRO super-frame is the most libpcap hands over) gets a block of its own size.
    // (Huge pages were tried: zeroing 2 MiB pages made a 1 GB import slower.)
    // The blocks are mapped with MAP_POPULATE: the kernel provides all their pages in one
    // call instead of one page fault per 4 KiB as the copies first touch them, which took
    // about a third of the CPU time of filling a gigabyte here (0.55 s -> 0.38 s).
    constexpr std::size_t kBlockSize = 4u << 20;
    if (length > m_blockLeft) {
        const std::size_t size = std::max(kBlockSize, length);
        void* mapped = ::mmap(nullptr, size, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (mapped == MAP_FAILED)
            throw std::bad_alloc(); // what make_unique did before, for the engine to report
        m_blocks.push_back(Block{static_cast<std::uint8_t*>(mapped), size});
        m_blockNext = m_blocks.back().data;
        m_blockLeft = size;
        m_arenaBytes += size;
    }
    std::uint8_t* p = m_blockNext;
    m_blockNext += length;
    m_blockLeft -= length;
    return p;
}

const Entry& Timeline::operator[](std::size_t index) const noexcept {
    const Chunk* chunk = m_chunks[index / kChunkSize].load(std::memory_order_acquire);
    return chunk->entries[index % kChunkSize];
}

} // namespace tcplab::timeline
