#pragma once

// One behavioural suite for every Link (STYLE.md: "Links: one behavioural suite run
// against every implementation", after Okteta's abstract model tests). Each check
// is written once, against the Link interface, and takes a connected pair: frames
// sent on `sender` arrive on `receiver`. A suite lists its implementations and runs
// every check against each as a data row ("pcap over veth: order over 1000 frames").
//
// Test frames only use locally administered MACs (02:74:6c:...) and IPv4 addresses
// from the benchmarking range 198.18.0.0/15 (RFC 2544), protocol 253 (RFC 3692
// experimentation), so nothing a test sends can mean anything to a real network.
//
// Every wait is bounded: a link that loses a frame fails the check, it does not hang.

#include <QString>
#include <QTest>

#include "tests_support/test_support.h"

#include "link/link.h"
#include "wire/checksum.h"

#include <poll.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tcplab::link {
inline const char* codeName(LinkErrorCode c) {
    switch (c) {
    case LinkErrorCode::NoSuchInterface:
        return "NoSuchInterface";
    case LinkErrorCode::PermissionDenied:
        return "PermissionDenied";
    case LinkErrorCode::InterfaceDown:
        return "InterfaceDown";
    case LinkErrorCode::InterfaceGone:
        return "InterfaceGone";
    case LinkErrorCode::BadFilter:
        return "BadFilter";
    case LinkErrorCode::Io:
        return "Io";
    case LinkErrorCode::Closed:
        return "Closed";
    }
    return "?";
}
// QCOMPARE prints error codes by name.
inline char* toString(LinkErrorCode c) {
    return qstrdup(codeName(c));
}
} // namespace tcplab::link

namespace tcplab::test {

/// A connected pair: what `sender` sends, `receiver` receives.
struct LinkPair {
    std::unique_ptr<link::Link> sender;
    std::unique_ptr<link::Link> receiver;
};

/// One implementation under test. `make` fills a pair or fails the test (QVERIFY).
struct LinkImplementation {
    QString name;
    std::function<void(LinkPair&)> make;
    /// Destroying the sender makes the receiver report Closed (in-process and socket
    /// links; an interface has no "other end").
    bool peerCloseIsReported = false;
};

/// The message of a failed call, or "" (for QVERIFY2, which evaluates it always).
template <typename T>
std::string errorText(const tl::expected<T, link::LinkError>& r) {
    return r ? std::string()
             : std::string(link::codeName(r.error().code)) + ": " + r.error().message;
}

/// Nanoseconds since the Unix epoch, from CLOCK_REALTIME.
inline std::int64_t realtimeNs() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

inline constexpr std::array<std::uint8_t, 6> kSenderMac = {0x02, 0x74, 0x6c, 0x00, 0x00, 0x01};
inline constexpr std::array<std::uint8_t, 6> kReceiverMac = {0x02, 0x74, 0x6c, 0x00, 0x00, 0x02};
/// pcap-filter(7) expression that accepts exactly the test frames.
inline constexpr const char* kTestFrameFilter = "ether src 02:74:6c:00:00:01";

/// A well-formed test frame of exactly `size` bytes (at least 38): Ethernet II from
/// kSenderMac to kReceiverMac, IPv4 198.18.0.1 -> 198.19.0.2 with a correct header
/// checksum, protocol 253, then `sequence` (big-endian) and a pattern derived from it.
inline ByteVector testFrame(std::size_t size, std::uint32_t sequence) {
    ByteVector f(size, 0);
    std::copy(kReceiverMac.begin(), kReceiverMac.end(), f.begin());
    std::copy(kSenderMac.begin(), kSenderMac.end(), f.begin() + 6);
    wire::store16(&f[12], 0x0800);
    std::uint8_t* ip = &f[14];
    ip[0] = 0x45;
    wire::store16(ip + 2, static_cast<std::uint16_t>(size - 14));
    wire::store16(ip + 4, static_cast<std::uint16_t>(sequence));
    ip[8] = 64;
    ip[9] = 253;
    const std::array<std::uint8_t, 8> addresses = {198, 18, 0, 1, 198, 19, 0, 2};
    std::copy(addresses.begin(), addresses.end(), ip + 12);
    wire::store16(ip + 10, wire::internetChecksum(wire::Bytes(ip, 20)));
    wire::store32(&f[34], sequence);
    for (std::size_t i = 38; i < size; ++i)
        f[i] = static_cast<std::uint8_t>(i * 7 + sequence);
    return f;
}

/// The sequence number testFrame() wrote, or UINT32_MAX for a frame too short.
inline std::uint32_t sequenceOf(const ByteVector& f) {
    return f.size() >= 38 ? wire::load32(&f[34]) : UINT32_MAX;
}

struct ReceivedFrame {
    std::int64_t timestampNs;
    ByteVector bytes;
};

inline link::FrameSink collectInto(std::vector<ReceivedFrame>& out) {
    return [&out](std::int64_t ts, wire::Bytes b) { out.push_back({ts, {b.begin(), b.end()}}); };
}

/// Whether `fd` polls readable within `timeoutMs`.
inline bool pollsReadable(int fd, int timeoutMs) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, timeoutMs) > 0 && (p.revents & POLLIN) != 0;
}

inline void sendFrame(link::Link& l, const ByteVector& frame) {
    const auto sent = l.send(wire::Bytes(frame));
    QVERIFY2(sent.has_value(), errorText(sent).c_str());
}

/// Receives until `out` holds `want` frames or `timeoutMs` passes (polling the link's
/// fd as the engine would). Fails the test on a receive error.
inline void receiveUntil(link::Link& l, std::vector<ReceivedFrame>& out, std::size_t want,
                         int timeoutMs = 3000) {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
    const auto sink = collectInto(out);
    while (out.size() < want) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0)
            break;
        pollsReadable(l.pollFd(), static_cast<int>(std::min<long>(left.count(), 100)));
        const auto r = l.receive(sink, 64);
        QVERIFY2(r.has_value(), errorText(r).c_str());
    }
}

/// Expects nothing to arrive within `ms` milliseconds.
inline void expectNothingMore(link::Link& l, int ms) {
    std::vector<ReceivedFrame> extra;
    pollsReadable(l.pollFd(), ms);
    const auto r = l.receive(collectInto(extra), 64);
    QVERIFY2(r.has_value(), errorText(r).c_str());
    QVERIFY2(extra.empty(),
             qPrintable(QStringLiteral("%1 unexpected frame(s), the first: %2")
                            .arg(extra.size())
                            .arg(extra.empty() ? QString() : toHex(wire::Bytes(extra[0].bytes)))));
}

namespace behaviour {

/// A frame sent on one end arrives byte-identical on the other, once; the sender
/// does not receive its own frame back.
inline void frameArrivesByteIdentical(LinkPair& pair) {
    const ByteVector frame = testFrame(128, 7);
    sendFrame(*pair.sender, frame);
    if (QTest::currentTestFailed())
        return;
    std::vector<ReceivedFrame> got;
    receiveUntil(*pair.receiver, got, 1);
    if (QTest::currentTestFailed())
        return;
    QCOMPARE(got.size(), std::size_t{1});
    TCPLAB_COMPARE_BYTES(got[0].bytes, frame);
    expectNothingMore(*pair.receiver, 50);
    if (QTest::currentTestFailed())
        return;
    expectNothingMore(*pair.sender, 0);
}

/// 1000 frames, sent in bursts while the receiver keeps up, arrive complete and in order.
inline void orderPreservedOver1000Frames(LinkPair& pair) {
    constexpr std::uint32_t kCount = 1000;
    constexpr std::uint32_t kBurst = 20;
    std::vector<ReceivedFrame> got;
    const auto sink = collectInto(got);
    for (std::uint32_t i = 0; i < kCount; ++i) {
        sendFrame(*pair.sender, testFrame(60 + (i % 200), i));
        if (QTest::currentTestFailed())
            return;
        if (i % kBurst == kBurst - 1) {
            const auto r = pair.receiver->receive(sink, 1000);
            QVERIFY2(r.has_value(), errorText(r).c_str());
        }
    }
    receiveUntil(*pair.receiver, got, kCount, 5000);
    if (QTest::currentTestFailed())
        return;
    QCOMPARE(got.size(), std::size_t{kCount});
    for (std::uint32_t i = 0; i < kCount; ++i) {
        QCOMPARE(sequenceOf(got[i].bytes), i);
        QCOMPARE(got[i].bytes.size(), std::size_t{60 + (i % 200)});
    }
}

/// pollFd is not readable while nothing waits, becomes readable when a frame waits,
/// and is quiet again once it was received (level-triggered, like a socket).
inline void pollFdReadableOnlyWhenFrameWaits(LinkPair& pair) {
    const int fd = pair.receiver->pollFd();
    QVERIFY(fd >= 0);
    QVERIFY2(!pollsReadable(fd, 50), "readable before anything was sent");
    sendFrame(*pair.sender, testFrame(100, 1));
    if (QTest::currentTestFailed())
        return;
    QVERIFY2(pollsReadable(fd, 2000), "not readable within 2 s of a send");
    std::vector<ReceivedFrame> got;
    receiveUntil(*pair.receiver, got, 1);
    if (QTest::currentTestFailed())
        return;
    QCOMPARE(got.size(), std::size_t{1});
    QVERIFY2(!pollsReadable(fd, 50), "still readable after the only frame was received");
}

/// receive() never delivers more than maxFrames (0 delivers nothing), and returns
/// exactly how many it delivered.
inline void receiveRespectsMaxFrames(LinkPair& pair) {
    constexpr std::uint32_t kCount = 10;
    constexpr std::size_t kMax = 3;
    for (std::uint32_t i = 0; i < kCount; ++i) {
        sendFrame(*pair.sender, testFrame(80, i));
        if (QTest::currentTestFailed())
            return;
    }
    QVERIFY(pollsReadable(pair.receiver->pollFd(), 2000));
    // Let every frame of the burst reach the receiver's queue.
    QTest::qWait(50);
    std::vector<ReceivedFrame> got;
    const auto none = pair.receiver->receive(collectInto(got), 0);
    QVERIFY2(none.has_value(), errorText(none).c_str());
    QCOMPARE(*none, std::size_t{0});
    QVERIFY(got.empty());
    QVERIFY2(pollsReadable(pair.receiver->pollFd(), 0), "receive(0) consumed the wake-up");

    bool sawFullBatch = false;
    for (int call = 0; call < 200 && got.size() < kCount; ++call) {
        const std::size_t before = got.size();
        const auto r = pair.receiver->receive(collectInto(got), kMax);
        QVERIFY2(r.has_value(), errorText(r).c_str());
        QVERIFY2(*r <= kMax, qPrintable(QStringLiteral("delivered %1 > %2").arg(*r).arg(kMax)));
        QCOMPARE(got.size() - before, *r);
        sawFullBatch = sawFullBatch || *r == kMax;
        if (*r == 0)
            pollsReadable(pair.receiver->pollFd(), 20);
    }
    QCOMPARE(got.size(), std::size_t{kCount});
    QVERIFY2(sawFullBatch, "no call delivered maxFrames although 10 frames waited");
    for (std::uint32_t i = 0; i < kCount; ++i)
        QCOMPARE(sequenceOf(got[i].bytes), i);
}

/// A full-size (1514-byte) and a minimum-size (60-byte) frame both arrive whole.
inline void fullSizeAndMinimumFramesArriveWhole(LinkPair& pair) {
    const ByteVector big = testFrame(1514, 1);
    const ByteVector small = testFrame(60, 2);
    sendFrame(*pair.sender, big);
    sendFrame(*pair.sender, small);
    if (QTest::currentTestFailed())
        return;
    std::vector<ReceivedFrame> got;
    receiveUntil(*pair.receiver, got, 2);
    if (QTest::currentTestFailed())
        return;
    QCOMPARE(got.size(), std::size_t{2});
    QCOMPARE(got[0].bytes.size(), std::size_t{1514});
    TCPLAB_COMPARE_BYTES(got[0].bytes, big);
    TCPLAB_COMPARE_BYTES(got[1].bytes, small);
}

/// Receive timestamps are wall-clock nanoseconds: within a second of now and never
/// going backwards.
inline void timestampsNonDecreasingAndNearNow(LinkPair& pair) {
    constexpr std::uint32_t kCount = 50;
    const std::int64_t before = realtimeNs();
    for (std::uint32_t i = 0; i < kCount; ++i) {
        sendFrame(*pair.sender, testFrame(64, i));
        if (QTest::currentTestFailed())
            return;
    }
    std::vector<ReceivedFrame> got;
    receiveUntil(*pair.receiver, got, kCount);
    if (QTest::currentTestFailed())
        return;
    const std::int64_t after = realtimeNs();
    QCOMPARE(got.size(), std::size_t{kCount});
    constexpr std::int64_t kSecond = 1'000'000'000;
    for (std::size_t i = 0; i < got.size(); ++i) {
        const std::int64_t ts = got[i].timestampNs;
        QVERIFY2(ts >= before - kSecond && ts <= after + kSecond,
                 qPrintable(QStringLiteral("frame %1: timestamp %2 not within a second of [%3, %4]")
                                .arg(i)
                                .arg(ts)
                                .arg(before)
                                .arg(after)));
        if (i > 0)
            QVERIFY2(ts >= got[i - 1].timestampNs,
                     qPrintable(QStringLiteral("frame %1: timestamp %2 before its predecessor's %3")
                                    .arg(i)
                                    .arg(ts)
                                    .arg(got[i - 1].timestampNs)));
    }
}

/// Closing the sender: the receiver still gets what was sent, then Closed, and keeps
/// reporting Closed; its pollFd is readable so the engine wakes up to learn it.
inline void closingPeerGivesClosed(LinkPair& pair) {
    sendFrame(*pair.sender, testFrame(70, 1));
    sendFrame(*pair.sender, testFrame(70, 2));
    if (QTest::currentTestFailed())
        return;
    pair.sender.reset();
    QVERIFY2(pollsReadable(pair.receiver->pollFd(), 2000), "not readable after the peer closed");
    std::vector<ReceivedFrame> got;
    bool closed = false;
    for (int call = 0; call < 20 && !closed; ++call) {
        pollsReadable(pair.receiver->pollFd(), 100);
        const auto r = pair.receiver->receive(collectInto(got), 64);
        if (!r) {
            QCOMPARE(r.error().code, link::LinkErrorCode::Closed);
            QVERIFY(!r.error().message.empty());
            closed = true;
        }
    }
    QVERIFY2(closed, "receive never reported Closed");
    QCOMPARE(got.size(), std::size_t{2});
    QCOMPARE(sequenceOf(got[0].bytes), 1u);
    QCOMPARE(sequenceOf(got[1].bytes), 2u);
    const auto again = pair.receiver->receive(collectInto(got), 64);
    QVERIFY(!again.has_value());
    QCOMPARE(again.error().code, link::LinkErrorCode::Closed);
}

/// send() puts the bytes on the wire as they are: no padding of a runt, no fixing of
/// a wrong checksum or length, no trimming of trailing bytes.
inline void sendNeverPadsOrAlters(LinkPair& pair) {
    std::vector<ByteVector> frames;
    frames.push_back(testFrame(42, 1)); // shorter than the 60-byte minimum
    ByteVector badChecksum = testFrame(80, 2);
    wire::store16(&badChecksum[24], 0xdead); // IPv4 header checksum
    wire::store16(&badChecksum[16], 0x0fff); // IPv4 total length beyond the frame
    frames.push_back(badChecksum);
    ByteVector trailer = testFrame(60, 3);
    wire::store16(&trailer[16], 28); // IPv4 says 28 bytes; the rest is trailer
    std::fill(trailer.begin() + 42, trailer.end(), std::uint8_t{0xaa});
    trailer[24] = 0;
    trailer[25] = 0;
    wire::store16(&trailer[24], wire::internetChecksum(wire::Bytes(&trailer[14], 20)));
    frames.push_back(trailer);
    ByteVector headerOnly = testFrame(38, 4);
    headerOnly.resize(14); // an Ethernet header and nothing else
    frames.push_back(headerOnly);

    for (const auto& f : frames)
        sendFrame(*pair.sender, f);
    if (QTest::currentTestFailed())
        return;
    std::vector<ReceivedFrame> got;
    receiveUntil(*pair.receiver, got, frames.size());
    if (QTest::currentTestFailed())
        return;
    QCOMPARE(got.size(), frames.size());
    for (std::size_t i = 0; i < frames.size(); ++i)
        TCPLAB_COMPARE_BYTES(got[i].bytes, frames[i]);
}

} // namespace behaviour

struct LinkBehaviour {
    const char* name;
    void (*check)(LinkPair&);
    bool needsPeerClose;
};

inline constexpr std::array<LinkBehaviour, 8> kLinkBehaviours = {{
    {"frame arrives byte-identical", &behaviour::frameArrivesByteIdentical, false},
    {"order preserved over 1000 frames", &behaviour::orderPreservedOver1000Frames, false},
    {"pollFd readable only when a frame waits", &behaviour::pollFdReadableOnlyWhenFrameWaits,
     false},
    {"receive respects maxFrames", &behaviour::receiveRespectsMaxFrames, false},
    {"1514- and 60-byte frames arrive whole", &behaviour::fullSizeAndMinimumFramesArriveWhole,
     false},
    {"timestamps non-decreasing and near now", &behaviour::timestampsNonDecreasingAndNearNow,
     false},
    {"closing the peer gives Closed", &behaviour::closingPeerGivesClosed, true},
    {"send never pads or alters bytes", &behaviour::sendNeverPadsOrAlters, false},
}};

/// For a suite's `behaviour_data()`: one row per implementation and behaviour.
inline void addLinkBehaviourRows(const std::vector<LinkImplementation>& implementations) {
    QTest::addColumn<int>("implementation");
    QTest::addColumn<int>("behaviour");
    for (std::size_t i = 0; i < implementations.size(); ++i) {
        for (std::size_t b = 0; b < kLinkBehaviours.size(); ++b) {
            if (kLinkBehaviours[b].needsPeerClose && !implementations[i].peerCloseIsReported)
                continue;
            const QString tag =
                QStringLiteral("%1: %2").arg(implementations[i].name, kLinkBehaviours[b].name);
            QTest::newRow(qPrintable(tag)) << static_cast<int>(i) << static_cast<int>(b);
        }
    }
}

/// For a suite's `behaviour()`: builds a fresh pair for the row and runs its check.
inline void runLinkBehaviour(const std::vector<LinkImplementation>& implementations) {
    QFETCH(int, implementation);
    QFETCH(int, behaviour);
    LinkPair pair;
    implementations.at(static_cast<std::size_t>(implementation)).make(pair);
    if (QTest::currentTestFailed())
        return;
    QVERIFY(pair.sender && pair.receiver);
    kLinkBehaviours.at(static_cast<std::size_t>(behaviour)).check(pair);
}

} // namespace tcplab::test
