#pragma once

// One conversation with tcplab over a SOCK_SEQPACKET channel (core/peer/agent_protocol.h):
// Hello, then an Answer per Request, and Sample messages of the namespace's TCP sockets
// after each call and every 10 ms while a connection lives (or a call blocks); when none
// does, the agent sleeps until a request comes. A full look at the namespace (a sock_diag
// dump) is taken on `sample`, after `close` and at most every 100 ms on the steady rate;
// quick ones otherwise (sampler.h). Calls that only ask (getsockopt, ioctl, fcntl F_GETFL,
// poll, sysctl, sysctl-list) change no socket: no sample follows them.
//
// One thread (this one) owns everything: the channel, the table of the sockets the agent
// made, the sampler, the sockets being drained. A blocking call on a blocking socket
// (accept, connect, read, write, poll with a timeout, close with SO_LINGER > 0) runs on a
// thread of its own, on a copy of the socket's fd made above kInternalFdFloor (the copy is
// the kernel's own reference an in-flight call holds: a close meanwhile frees the number,
// the socket stays until the call returns, as in any threaded program). The thread hands
// its answer back through a queue and an eventfd; this thread sends it, makes the socket an
// accept created the agent's, and samples. So later requests are answered meanwhile.

#include "agent_util.h"
#include "sampler.h"

#include "peer/agent_protocol.h"

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace tcplab::agent {

class Session {
public:
    /// Takes `channel`, a connected SOCK_SEQPACKET socket (already at or above
    /// kInternalFdFloor).
    explicit Session(int channel);
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    /// Says hello, then serves until the channel ends (EOF: status 0) or breaks (a message
    /// that does not decode, an error on the channel: status 1, logged). Calls may still
    /// block on their threads when it returns: the caller then ends the process (_exit),
    /// and with it every socket the session made.
    int run();

    /// What the agent keeps per socket it made: the pattern's offset (every byte written
    /// so far, so that a write of pattern bytes goes on where the stream is) and whether it
    /// was closed (a blocking write on another thread stops there).
    struct SocketState {
        std::atomic<std::uint64_t> written{0};
        std::atomic<bool> closed{false};
    };
    /// A call's outcome as its thread hands it back.
    struct Completion {
        peer::Answer answer;
        int newFd = -1; ///< accept: the socket it made, the agent's from now on
        bool sampleAfter = true;
        bool wouldBlock = false; ///< write: it stopped at EAGAIN (a MSG_DONTWAIT try)
    };

private:
    struct Owned {
        std::shared_ptr<SocketState> state;
        bool drain = false;
        std::optional<sockaddr_storage> connectTarget; ///< where connect() was told to go
    };

    bool sendMessage(const peer::Message& message);
    void sendSamples(std::uint32_t after, std::vector<peer::SocketSample> sockets, bool always);
    /// Samples (a full look or a quick one, see sampler.h) and sends what changed.
    void sample(std::uint32_t after, bool full);
    /// Reads what waits on the channel; false when the session is over.
    bool receiveRequests();
    void handle(const peer::Request& q);
    void refuse(const peer::Request& q, std::string why);
    void answer(peer::Answer a, bool sampleAfter);
    Owned* owned(const peer::Request& q, int fd);
    void own(int fd);

    // The calls; each answers (or hands itself to a thread that will).
    void callSocket(const peer::Request& q);
    void callBind(const peer::Request& q);
    void callConnect(const peer::Request& q);
    void callAccept(const peer::Request& q);
    void callRead(const peer::Request& q);
    void callWrite(const peer::Request& q);
    void callClose(const peer::Request& q);
    void callPoll(const peer::Request& q);
    void callFcntl(const peer::Request& q);
    void callSockOpt(const peer::Request& q);
    void callIoctl(const peer::Request& q);
    void callSysctl(const peer::Request& q);
    void callSample(const peer::Request& q);
    void callDrain(const peer::Request& q);
    void callSimple(const peer::Request& q); // listen, shutdown
    void callEpollCreate(const peer::Request& q);
    void callEpollCtl(const peer::Request& q);
    void callEpollWait(const peer::Request& q);
    void callCommand(const peer::Request& q);

    /// Runs `work` (returning a Completion) on a thread of its own; refused when
    /// kMaxBlockingCalls are already running.
    template <typename Work>
    void runBlocking(const peer::Request& q, Work&& work);
    void post(Completion c);
    void finishCompletions();
    void drainSockets(const std::vector<int>& ready);

    Fd m_channel;
    Fd m_wake; ///< eventfd: a blocking call returned
    Sampler m_sampler;
    std::map<int, Owned> m_owned;
    std::vector<std::uint8_t> m_receive;
    std::vector<std::uint8_t> m_sink; ///< where drained bytes go
    bool m_broken = false;            ///< the channel failed (logged): status 1
    bool m_closed = false;            ///< tcplab closed its end: status 0
    int m_inFlight = 0;
    bool m_steady = false;
    std::int64_t m_nextSampleNs = 0;
    std::int64_t m_lastFullNs = 0; ///< monotonic time of the last full look

    std::mutex m_mutex;
    std::vector<Completion> m_completions;
};

} // namespace tcplab::agent
