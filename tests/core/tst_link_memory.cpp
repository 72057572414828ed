// The link behaviours (tests_support/link_behaviour.h) against the links that need
// no privileges: the in-process MemoryLink pair and FdLink over a SOCK_SEQPACKET
// socketpair (how the built-in lab's lwIP helper is connected). Then what is
// particular to each: MemoryLink's bounded queue and cross-thread use, FdLink's
// refusal of stream sockets and of frames it would have to cut.
#include <QObject>
#include <QTest>

#include "tests_support/link_behaviour.h"
#include "tests_support/test_support.h"

#include "link/fd_link.h"
#include "link/memory_link.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

using namespace tcplab;
using namespace tcplab::test;
using link::FdLink;
using link::LinkErrorCode;
using link::MemoryLink;

namespace {

void makeMemoryPair(LinkPair& pair) {
    auto [a, b] = MemoryLink::createPair();
    pair.sender = std::move(a);
    pair.receiver = std::move(b);
}

/// A connected SOCK_SEQPACKET pair, each end adopted by an FdLink.
void makeSeqpacketPair(LinkPair& pair) {
    int fds[2] = {-1, -1};
    QVERIFY2(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0,
             std::strerror(errno));
    auto sender = FdLink::adopt(fds[0], "seqpacket end 0");
    auto receiver = FdLink::adopt(fds[1], "seqpacket end 1");
    QVERIFY2(sender.has_value(), errorText(sender).c_str());
    QVERIFY2(receiver.has_value(), errorText(receiver).c_str());
    pair.sender = std::move(*sender);
    pair.receiver = std::move(*receiver);
}

const std::vector<LinkImplementation>& implementations() {
    static const std::vector<LinkImplementation> list = {
        {QStringLiteral("MemoryLink"), &makeMemoryPair, true},
        {QStringLiteral("FdLink over SOCK_SEQPACKET"), &makeSeqpacketPair, true},
    };
    return list;
}

} // namespace

class TestLinkMemory : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void behaviour_data() { addLinkBehaviourRows(implementations()); }
    void behaviour() { runLinkBehaviour(implementations()); }

    void memory_describesItsEnd() {
        auto [a, b] = MemoryLink::createPair();
        QCOMPARE(QString::fromStdString(a->description()),
                 QStringLiteral("memory (end A of a pair)"));
        QCOMPARE(QString::fromStdString(b->description()),
                 QStringLiteral("memory (end B of a pair)"));
        QVERIFY(a->pollFd() >= 0);
        QVERIFY(a->pollFd() != b->pollFd());
    }

    void memory_fullQueue_refusesWithIo_untilTheReceiverCatchesUp() {
        // The chosen bound policy: refuse (Io) rather than drop, so nothing is lost
        // silently and the flooding test learns it at the send that overflowed.
        auto [a, b] = MemoryLink::createPair();
        const ByteVector frame = testFrame(60, 0);
        for (std::size_t i = 0; i < MemoryLink::kMaxQueuedFrames; ++i) {
            const auto sent = a->send(wire::Bytes(frame));
            QVERIFY2(sent.has_value(), errorText(sent).c_str());
        }
        QCOMPARE(b->pending(), MemoryLink::kMaxQueuedFrames);
        const auto refused = a->send(wire::Bytes(frame));
        QVERIFY(!refused.has_value());
        QCOMPARE(refused.error().code, LinkErrorCode::Io);
        QVERIFY2(refused.error().message.find("10000 frames wait unread") != std::string::npos,
                 refused.error().message.c_str());
        QCOMPARE(b->pending(), MemoryLink::kMaxQueuedFrames);

        std::vector<ReceivedFrame> got;
        const auto r = b->receive(collectInto(got), 1);
        QVERIFY2(r.has_value(), errorText(r).c_str());
        const auto again = a->send(wire::Bytes(frame));
        QVERIFY2(again.has_value(), errorText(again).c_str());
        QCOMPARE(b->pending(), MemoryLink::kMaxQueuedFrames);
    }

    void memory_peerOnAnotherThread_deliversEverythingInOrder() {
        // The engine thread receives while a test's fake peer sends from its own.
        auto [engineEnd, peerEnd] = MemoryLink::createPair();
        constexpr std::uint32_t kCount = 20'000; // more than the queue holds at once
        std::atomic<bool> peerFailed = false;
        std::jthread peer([&, end = peerEnd.get()] {
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
            for (std::uint32_t i = 0; i < kCount;) {
                const auto sent = end->send(wire::Bytes(testFrame(64, i)));
                if (sent) {
                    ++i;
                } else if (sent.error().code != LinkErrorCode::Io ||
                           std::chrono::steady_clock::now() > deadline) {
                    peerFailed = true;
                    return;
                } else {
                    std::this_thread::yield(); // full: wait for the engine to catch up
                }
            }
        });
        std::vector<ReceivedFrame> got;
        got.reserve(kCount);
        receiveUntil(*engineEnd, got, kCount, 20'000);
        peer.join();
        QVERIFY(!peerFailed);
        QCOMPARE(got.size(), std::size_t{kCount});
        for (std::uint32_t i = 0; i < kCount; ++i)
            QCOMPARE(sequenceOf(got[i].bytes), i);
    }

    void memory_sendToAClosedEnd_isClosed() {
        auto [a, b] = MemoryLink::createPair();
        b.reset();
        const auto sent = a->send(wire::Bytes(testFrame(60, 1)));
        QVERIFY(!sent.has_value());
        QCOMPARE(sent.error().code, LinkErrorCode::Closed);
    }

    void memory_emptyFrame_isRefused() {
        auto [a, b] = MemoryLink::createPair();
        const auto sent = a->send(wire::Bytes());
        QVERIFY(!sent.has_value());
        QCOMPARE(sent.error().code, LinkErrorCode::Io);
        QCOMPARE(b->pending(), std::size_t{0});
    }

    void fd_streamSocket_isRefused() {
        int fds[2] = {-1, -1};
        QVERIFY(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
        ::close(fds[1]);
        const auto link = FdLink::adopt(fds[0], "stream");
        QVERIFY(!link.has_value());
        QCOMPARE(link.error().code, LinkErrorCode::Io);
        QVERIFY2(link.error().message.find("SOCK_SEQPACKET") != std::string::npos,
                 link.error().message.c_str());
        // adopt() closed the fd even though it refused it.
        QCOMPARE(::fcntl(fds[0], F_GETFD), -1);
    }

    void fd_invalidDescriptor_isRefused() {
        const auto link = FdLink::adopt(-1, "nothing");
        QVERIFY(!link.has_value());
        QCOMPARE(link.error().code, LinkErrorCode::Io);
    }

    void fd_adoptedDescriptor_isNonBlocking() {
        int fds[2] = {-1, -1};
        QVERIFY(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0);
        const int fd = fds[0];
        auto link = FdLink::adopt(fds[0], "seqpacket");
        ::close(fds[1]);
        QVERIFY(link.has_value());
        QVERIFY((::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
        QCOMPARE((*link)->pollFd(), fd);
        QCOMPARE(QString::fromStdString((*link)->description()), QStringLiteral("seqpacket"));
    }

    void fd_frameLargerThanTheBuffer_isReportedNotCut() {
        // A frame FdLink could only pass on cut short is reported (Io) and skipped; the
        // link stays usable and the next frame arrives whole.
        int fds[2] = {-1, -1};
        QVERIFY(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0);
        const int peer = fds[0];
        const int sendBuffer = 4 * 1024 * 1024;
        // As root SO_SNDBUFFORCE passes the wmem_max cap; else SO_SNDBUF gives 2*wmem_max.
        if (::setsockopt(peer, SOL_SOCKET, SO_SNDBUFFORCE, &sendBuffer, sizeof sendBuffer) != 0)
            ::setsockopt(peer, SOL_SOCKET, SO_SNDBUF, &sendBuffer, sizeof sendBuffer);
        auto link = FdLink::adopt(fds[1], "seqpacket");
        QVERIFY(link.has_value());
        ByteVector huge = testFrame(FdLink::kBufferSize + 1000, 1);
        if (::send(peer, huge.data(), huge.size(), 0) != static_cast<ssize_t>(huge.size())) {
            ::close(peer);
            QSKIP(qPrintable(QStringLiteral("cannot send a %1-byte datagram here: %2")
                                 .arg(huge.size())
                                 .arg(QString::fromLocal8Bit(std::strerror(errno)))));
        }
        const ByteVector normal = testFrame(100, 2);
        QCOMPARE(::send(peer, normal.data(), normal.size(), 0),
                 static_cast<ssize_t>(normal.size()));

        std::vector<ReceivedFrame> got;
        QVERIFY(pollsReadable((*link)->pollFd(), 2000));
        const auto first = (*link)->receive(collectInto(got), 64);
        QVERIFY(!first.has_value());
        QCOMPARE(first.error().code, LinkErrorCode::Io);
        QVERIFY2(first.error().message.find(std::to_string(huge.size()) + " bytes") !=
                     std::string::npos,
                 first.error().message.c_str());
        QVERIFY(got.empty());
        receiveUntil(**link, got, 1);
        QCOMPARE(got.size(), std::size_t{1});
        TCPLAB_COMPARE_BYTES(got[0].bytes, normal);
        ::close(peer);
    }

    void fd_errorAfterFrames_deliversTheFramesFirst() {
        // Frames that arrived before the peer closed are handed over; Closed comes with
        // the next call, and every call after it.
        int fds[2] = {-1, -1};
        QVERIFY(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0);
        auto link = FdLink::adopt(fds[1], "seqpacket");
        QVERIFY(link.has_value());
        const ByteVector frame = testFrame(60, 1);
        QCOMPARE(::send(fds[0], frame.data(), frame.size(), 0), static_cast<ssize_t>(frame.size()));
        ::close(fds[0]);
        std::vector<ReceivedFrame> got;
        const auto first = (*link)->receive(collectInto(got), 64);
        QVERIFY2(first.has_value(), errorText(first).c_str());
        QCOMPARE(*first, std::size_t{1});
        for (int i = 0; i < 2; ++i) {
            const auto next = (*link)->receive(collectInto(got), 64);
            QVERIFY(!next.has_value());
            QCOMPARE(next.error().code, LinkErrorCode::Closed);
        }
        const auto sent = (*link)->send(wire::Bytes(frame));
        QVERIFY(!sent.has_value());
        QCOMPARE(sent.error().code, LinkErrorCode::Closed);
    }

    void fd_manyFrames_comeInOrder_neverMoreThanAsked() {
        // Frames are read in batches (recvmmsg): a call still hands over at most maxFrames,
        // and what one batch read beyond a call's share comes with the next call, in order.
        int fds[2] = {-1, -1};
        QVERIFY(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0);
        auto link = FdLink::adopt(fds[1], "seqpacket");
        QVERIFY(link.has_value());
        constexpr std::uint32_t kFrames = 3 * FdLink::kBatch + 5;
        for (std::uint32_t i = 0; i < kFrames; ++i) {
            const ByteVector f = testFrame(60 + i, i);
            QCOMPARE(::send(fds[0], f.data(), f.size(), 0), static_cast<ssize_t>(f.size()));
        }
        std::vector<ReceivedFrame> got;
        for (int call = 0; call < 1000 && got.size() < kFrames; ++call) {
            const std::size_t before = got.size();
            const auto r = (*link)->receive(collectInto(got), 7);
            QVERIFY2(r.has_value(), errorText(r).c_str());
            QVERIFY(*r <= 7);
            QCOMPARE(got.size() - before, *r);
        }
        QCOMPARE(got.size(), std::size_t{kFrames});
        for (std::uint32_t i = 0; i < kFrames; ++i) {
            QCOMPARE(sequenceOf(got[i].bytes), i);
            TCPLAB_COMPARE_BYTES(got[i].bytes, testFrame(60 + i, i));
        }
        const auto none = (*link)->receive(collectInto(got), 64);
        QVERIFY(none.has_value());
        QCOMPARE(*none, std::size_t{0});
        ::close(fds[0]);
    }

    void fd_frameLargerThanTheBuffer_amidOthers_keepsTheOrder() {
        // normal, too large, normal: the first frame, then the error, then the last frame,
        // each with its own call, as if they had been read one at a time.
        int fds[2] = {-1, -1};
        QVERIFY(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0);
        const int peer = fds[0];
        const int sendBuffer = 4 * 1024 * 1024;
        if (::setsockopt(peer, SOL_SOCKET, SO_SNDBUFFORCE, &sendBuffer, sizeof sendBuffer) != 0)
            ::setsockopt(peer, SOL_SOCKET, SO_SNDBUF, &sendBuffer, sizeof sendBuffer);
        auto link = FdLink::adopt(fds[1], "seqpacket");
        QVERIFY(link.has_value());
        const ByteVector first = testFrame(100, 1);
        const ByteVector huge = testFrame(FdLink::kBufferSize + 1000, 2);
        const ByteVector last = testFrame(120, 3);
        QCOMPARE(::send(peer, first.data(), first.size(), 0), static_cast<ssize_t>(first.size()));
        if (::send(peer, huge.data(), huge.size(), 0) != static_cast<ssize_t>(huge.size())) {
            ::close(peer);
            QSKIP(qPrintable(QStringLiteral("cannot send a %1-byte datagram here: %2")
                                 .arg(huge.size())
                                 .arg(QString::fromLocal8Bit(std::strerror(errno)))));
        }
        QCOMPARE(::send(peer, last.data(), last.size(), 0), static_cast<ssize_t>(last.size()));
        std::vector<ReceivedFrame> got;
        const auto one = (*link)->receive(collectInto(got), 64);
        QVERIFY2(one.has_value(), errorText(one).c_str());
        QCOMPARE(*one, std::size_t{1});
        const auto error = (*link)->receive(collectInto(got), 64);
        QVERIFY(!error.has_value());
        QCOMPARE(error.error().code, LinkErrorCode::Io);
        const auto two = (*link)->receive(collectInto(got), 64);
        QVERIFY2(two.has_value(), errorText(two).c_str());
        QCOMPARE(*two, std::size_t{1});
        QCOMPARE(got.size(), std::size_t{2});
        TCPLAB_COMPARE_BYTES(got[0].bytes, first);
        TCPLAB_COMPARE_BYTES(got[1].bytes, last);
        ::close(peer);
    }

    void fd_receiveStatistics_onlyForPacketSockets() {
        // PACKET_STATISTICS is an AF_PACKET socket's: other fds have none to give.
        int fds[2] = {-1, -1};
        QVERIFY(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0);
        auto link = FdLink::adopt(fds[1], "seqpacket");
        QVERIFY(link.has_value());
        QVERIFY(!(*link)->receiveStatistics().has_value());
        ::close(fds[0]);
    }

    void fd_sendToAClosedPeer_isClosed() {
        int fds[2] = {-1, -1};
        QVERIFY(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0);
        auto link = FdLink::adopt(fds[1], "seqpacket");
        QVERIFY(link.has_value());
        ::close(fds[0]);
        // MSG_NOSIGNAL: no SIGPIPE kills the process; the error says what happened.
        const auto sent = (*link)->send(wire::Bytes(testFrame(60, 1)));
        QVERIFY(!sent.has_value());
        QCOMPARE(sent.error().code, LinkErrorCode::Closed);
        QVERIFY2(sent.error().message.find("closed") != std::string::npos,
                 sent.error().message.c_str());
    }
};

QTEST_GUILESS_MAIN(TestLinkMemory)
#include "tst_link_memory.moc"
