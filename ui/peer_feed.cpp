#include "ui/peer_feed.h"

#include "timeline/peer_records.h"

#include <algorithm>

namespace tcplab::ui {

std::optional<tcp::Endpoint> sampleEndpoint(std::span<const std::uint8_t> address,
                                            std::uint16_t port) {
    if (address.size() != 4 && address.size() != 16)
        return std::nullopt;
    tcp::Endpoint e;
    std::copy(address.begin(), address.end(), e.address.begin());
    e.port = port;
    e.ipv6 = address.size() == 16;
    return e;
}

void PeerFeed::reset() {
    m_cursor = 0;
    m_byTuple.clear();
}

PeerBatch PeerFeed::read(const timeline::Timeline& timeline, std::size_t upTo) {
    PeerBatch batch;
    const std::size_t end = std::min(upTo, timeline.peerSize());
    for (; m_cursor < end; ++m_cursor) {
        const timeline::PeerRecord& record = timeline.peer(m_cursor);
        switch (record.kind) {
        case timeline::PeerRecordKind::Sample:
            if (auto sample = timeline::sampleRecord(record); sample && !sample->sockets.empty()) {
                const peer::SocketSample& s = sample->sockets.front();
                const auto local = sampleEndpoint(s.local, s.localPort);
                const auto remote = sampleEndpoint(s.remote, s.remotePort);
                if (local && remote)
                    m_byTuple[{*local, *remote}] = *sample;
                batch.samples.push_back(std::move(*sample));
            }
            break;
        case timeline::PeerRecordKind::Call:
            if (auto call = timeline::callRecord(record))
                batch.calls.push_back(std::move(*call));
            break;
        case timeline::PeerRecordKind::Hello:
            if (auto hello = timeline::helloRecord(record))
                batch.hellos.push_back(std::move(*hello));
            break;
        }
    }
    return batch;
}

const peer::Sample* PeerFeed::latestFor(const tcp::Endpoint& local,
                                        const tcp::Endpoint& remote) const {
    const auto it = m_byTuple.find({local, remote});
    return it == m_byTuple.end() ? nullptr : &it->second;
}

} // namespace tcplab::ui
