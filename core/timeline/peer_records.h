#pragma once

// The peer agent's calls and samples as timeline records (Timeline::appendPeer): how they
// are encoded into a record's bytes and read back. A Call record is the Request and the
// Answer, each encoded as an agent message, one after the other; a Sample record is an
// agent Sample message with exactly one socket; a Hello record the agent's Hello.

#include "peer/agent_client.h"
#include "peer/agent_protocol.h"
#include "peer/tcp_info.h"
#include "timeline/timeline.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace tcplab::timeline {

/// The bytes of a Call record.
std::vector<std::uint8_t> encodeCallRecord(const peer::CallRecord& call);
/// The bytes of a Sample record of one socket.
std::vector<std::uint8_t> encodeSampleRecord(std::int64_t timeNs, std::uint32_t after,
                                             const peer::SocketSample& socket);

/// The call of a Call record; nullopt for another kind or bytes that do not decode.
std::optional<peer::CallRecord> callRecord(const PeerRecord& record);
/// One socket's sample of a Sample record (Sample::sockets has exactly one element).
std::optional<peer::Sample> sampleRecord(const PeerRecord& record);
std::optional<peer::Hello> helloRecord(const PeerRecord& record);

/// Appends what the agent said to the timeline: a call (at its start time), each socket
/// of a sample as a record of its own, the hello. False when the timeline is full.
bool appendCall(Timeline& timeline, const peer::CallRecord& call);
bool appendSample(Timeline& timeline, const peer::Sample& sample);
bool appendHello(Timeline& timeline, std::int64_t timeNs, const peer::Hello& hello);

} // namespace tcplab::timeline
