#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>

namespace tcplab::timeline {

/// A bounded, append-only array with one writer and lock-free readers: the writer fills
/// the next slot and publishes it (release); readers see slots [0, size()) (acquire) and
/// a slot never moves or changes once published. Storage grows in fixed chunks that are
/// never reallocated, so a reference to a slot stays valid for the array's lifetime.
template <typename T, std::size_t ChunkSize = 4096>
class PublishedArray {
public:
    static constexpr std::size_t kChunkSize = ChunkSize;

    explicit PublishedArray(std::size_t capacity)
        : m_capacity(capacity)
        , m_chunkCount(capacity / ChunkSize + (capacity % ChunkSize != 0 ? 1 : 0))
        , m_chunks(std::make_unique<std::atomic<Chunk*>[]>(m_chunkCount)) {
        for (std::size_t i = 0; i < m_chunkCount; ++i)
            m_chunks[i].store(nullptr, std::memory_order_relaxed);
    }
    ~PublishedArray() {
        for (std::size_t i = 0; i < m_chunkCount; ++i)
            delete m_chunks[i].load(std::memory_order_relaxed);
    }
    PublishedArray(const PublishedArray&) = delete;
    PublishedArray& operator=(const PublishedArray&) = delete;

    /// Writer only: the next slot to fill, nullptr when the array is full. Fill it, then
    /// publish().
    T* next() {
        // Only the writer changes m_size, so its own relaxed read is exact.
        const std::size_t index = m_size.load(std::memory_order_relaxed);
        if (index >= m_capacity)
            return nullptr;
        std::atomic<Chunk*>& slot = m_chunks[index / ChunkSize];
        Chunk* chunk = slot.load(std::memory_order_relaxed);
        if (!chunk) {
            chunk = new Chunk;
            // Readers reach a chunk only through an index below the published size, and
            // the release store of that size orders this store before it; release here
            // too so the pointer is never seen without its constructed slots.
            slot.store(chunk, std::memory_order_release);
        }
        return &chunk->slots[index % ChunkSize];
    }
    /// Writer only: makes the slot next() gave visible; returns its index.
    std::size_t publish() {
        const std::size_t index = m_size.load(std::memory_order_relaxed);
        // Everything written to the slot happens-before a reader's acquire of size().
        m_size.store(index + 1, std::memory_order_release);
        return index;
    }

    std::size_t size() const noexcept { return m_size.load(std::memory_order_acquire); }
    std::size_t capacity() const noexcept { return m_capacity; }
    /// Slot `index` < size() (any thread).
    const T& operator[](std::size_t index) const noexcept {
        const Chunk* chunk = m_chunks[index / ChunkSize].load(std::memory_order_acquire);
        return chunk->slots[index % ChunkSize];
    }

private:
    struct Chunk {
        std::array<T, ChunkSize> slots;
    };
    std::size_t m_capacity;
    std::size_t m_chunkCount;
    std::unique_ptr<std::atomic<Chunk*>[]> m_chunks;
    std::atomic<std::size_t> m_size{0};
};

} // namespace tcplab::timeline
