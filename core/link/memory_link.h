#pragma once

#include "link/link.h"

#include <cstddef>
#include <memory>
#include <string>
#include <utility>

namespace tcplab::link {

/// An in-process pair of links for unit tests: a frame sent on one end is received
/// on the other, stamped with the system clock (CLOCK_REALTIME) when it was sent.
///
/// Each end may be driven from its own thread (the engine's, and a test's fake
/// peer); the ends share only two locked queues. An end's pollFd() is an eventfd that
/// is readable exactly while frames wait for it, or once the other end is gone.
///
/// Closing (destroying) one end: the other end still receives what was already
/// queued, then its receive() reports `Closed`; its send() reports `Closed` at once.
///
/// The queue towards an end is bounded: with kMaxQueuedFrames frames waiting unread,
/// send() refuses the next frame with an `Io` error instead of dropping anything, so
/// a test that floods a peer which never reads learns it at the send that overflowed.
/// Nothing is lost; the send may be retried once the other end has received.
class MemoryLink final : public Link {
public:
    static constexpr std::size_t kMaxQueuedFrames = 10'000;

    static std::pair<std::unique_ptr<MemoryLink>, std::unique_ptr<MemoryLink>> createPair();
    ~MemoryLink() override;

    tl::expected<void, LinkError> send(wire::Bytes frame) override;
    tl::expected<std::size_t, LinkError> receive(const FrameSink& sink,
                                                 std::size_t maxFrames) override;
    int pollFd() const noexcept override;
    std::string description() const override;

    /// Frames waiting to be received by this end.
    std::size_t pending() const;

private:
    class Channel;
    MemoryLink(std::shared_ptr<Channel> inbound, std::shared_ptr<Channel> outbound, char name);

    std::shared_ptr<Channel> m_inbound;  ///< frames for this end
    std::shared_ptr<Channel> m_outbound; ///< frames for the other end
    char m_name;                         ///< 'A' or 'B', for description()
};

} // namespace tcplab::link
