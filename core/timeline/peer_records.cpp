#include "timeline/peer_records.h"

namespace tcplab::timeline {

std::vector<std::uint8_t> encodeCallRecord(const peer::CallRecord& call) {
    auto bytes = peer::encode(call.request);
    const auto answer = peer::encode(call.answer);
    bytes.insert(bytes.end(), answer.begin(), answer.end());
    return bytes;
}

std::vector<std::uint8_t> encodeSampleRecord(std::int64_t timeNs, std::uint32_t after,
                                             const peer::SocketSample& socket) {
    peer::Sample one;
    one.timeNs = timeNs;
    one.after = after;
    one.sockets.push_back(socket);
    return peer::encode(one);
}

std::optional<peer::CallRecord> callRecord(const PeerRecord& record) {
    if (record.kind != PeerRecordKind::Call)
        return std::nullopt;
    const auto first = peer::messageSize(record.bytes);
    if (!first || *first > record.bytes.size())
        return std::nullopt;
    auto request = peer::decode(record.bytes.first(*first));
    auto answer = peer::decode(record.bytes.subspan(*first));
    if (!request || !answer)
        return std::nullopt;
    auto* q = std::get_if<peer::Request>(&*request);
    auto* a = std::get_if<peer::Answer>(&*answer);
    if (!q || !a)
        return std::nullopt;
    return peer::CallRecord{std::move(*q), std::move(*a)};
}

std::optional<peer::Sample> sampleRecord(const PeerRecord& record) {
    if (record.kind != PeerRecordKind::Sample)
        return std::nullopt;
    auto message = peer::decode(record.bytes);
    if (!message)
        return std::nullopt;
    auto* sample = std::get_if<peer::Sample>(&*message);
    if (!sample || sample->sockets.size() != 1)
        return std::nullopt;
    return std::move(*sample);
}

std::optional<peer::Hello> helloRecord(const PeerRecord& record) {
    if (record.kind != PeerRecordKind::Hello)
        return std::nullopt;
    auto message = peer::decode(record.bytes);
    if (!message)
        return std::nullopt;
    auto* hello = std::get_if<peer::Hello>(&*message);
    if (!hello)
        return std::nullopt;
    return std::move(*hello);
}

bool appendCall(Timeline& timeline, const peer::CallRecord& call) {
    return timeline.appendPeer(call.answer.startNs, PeerRecordKind::Call, encodeCallRecord(call))
        .has_value();
}

bool appendSample(Timeline& timeline, const peer::Sample& sample) {
    for (const auto& socket : sample.sockets)
        if (!timeline.appendPeer(sample.timeNs, PeerRecordKind::Sample,
                                 encodeSampleRecord(sample.timeNs, sample.after, socket)))
            return false;
    return true;
}

bool appendHello(Timeline& timeline, std::int64_t timeNs, const peer::Hello& hello) {
    return timeline.appendPeer(timeNs, PeerRecordKind::Hello, peer::encode(hello)).has_value();
}

} // namespace tcplab::timeline
