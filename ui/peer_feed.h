#pragma once

#include "peer/agent_client.h"
#include "peer/agent_protocol.h"
#include "tcp/tracker.h"
#include "timeline/timeline.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace tcplab::ui {

/// The peer records that came since the last read, decoded once.
struct PeerBatch {
    std::vector<peer::Sample> samples;   ///< one socket each, in record order
    std::vector<peer::CallRecord> calls; ///< in record order (answer order)
    std::vector<peer::Hello> hellos;     ///< the agent's hello (once per agent)
    bool empty() const noexcept { return samples.empty() && calls.empty() && hellos.empty(); }
};

/// "198.18.0.1:5000" as the tracker names endpoints, from a sample's address bytes (4 or 16)
/// and port; nullopt when the address is empty (a socket not bound or not connected).
std::optional<tcp::Endpoint> sampleEndpoint(std::span<const std::uint8_t> address,
                                            std::uint16_t port);

/// Follows the timeline's peer records with a cursor: each read() decodes only the records
/// published since the last one, so a long transfer's thousands of samples are decoded once
/// however often the GUI asks. Keeps the latest sample of every connected socket by its
/// 4-tuple, for the connection panel's kernel column (gone sockets too: their last word).
class PeerFeed {
public:
    /// Forgets everything: the next read() starts at record 0 (a new timeline).
    void reset();
    /// Records [cursor(), min(upTo, timeline.peerSize())), decoded.
    PeerBatch read(const timeline::Timeline& timeline, std::size_t upTo);
    std::size_t cursor() const noexcept { return m_cursor; }

    /// The latest sample of the kernel socket whose local end is `local` and remote end
    /// `remote` (the peer's end of a connection, then the phantom's), or nullptr.
    const peer::Sample* latestFor(const tcp::Endpoint& local, const tcp::Endpoint& remote) const;

private:
    std::size_t m_cursor = 0;
    std::map<std::pair<tcp::Endpoint, tcp::Endpoint>, peer::Sample> m_byTuple;
};

} // namespace tcplab::ui
