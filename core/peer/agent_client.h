#pragma once

#include "peer/agent_protocol.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <tl/expected.hpp>

namespace tcplab::peer {

/// A call that came back: what was asked and what the agent answered.
struct CallRecord {
    Request request;
    Answer answer;
    friend bool operator==(const CallRecord&, const CallRecord&) = default;
};

/// What the agent said: its Hello, a call's answer (matched to its request), a sample.
using AgentEvent = std::variant<Hello, CallRecord, Sample>;

/// tcplab's end of the conversation with a peer agent, over one SOCK_SEQPACKET socket (a
/// socketpair to an agent tcplab spawned, or the namespace lab's agent socket). It owns
/// the fd, numbers the requests, keeps each until its answer comes and hands both back
/// together. Used from one thread (the engine's, or a test's); never blocks but in call()
/// and waitHello().
///
/// Errors are sentences for a person. When the agent goes away (its end closed, the lab
/// removed) every later call fails with the same sentence, and the requests still waiting
/// are answered as Refused with it, so nobody waits for an answer that cannot come.
class AgentClient {
public:
    /// Takes `fd` (closed even on error); `description` names the agent in messages ("the
    /// built-in Linux lab's peer agent").
    static tl::expected<std::unique_ptr<AgentClient>, std::string> adopt(int fd,
                                                                         std::string description);
    /// Connects to an agent listening on a Unix socket (the namespace lab's
    /// /run/tcplab-lab/agent.sock).
    static tl::expected<std::unique_ptr<AgentClient>, std::string>
    connectUnix(const std::string& path);
    /// Where the namespace lab's agent listens: $TCPLAB_AGENT_SOCKET, else
    /// /run/tcplab-lab/agent.sock.
    static std::string namespaceLabSocket();

    ~AgentClient();
    AgentClient(const AgentClient&) = delete;
    AgentClient& operator=(const AgentClient&) = delete;

    /// Readable when messages wait.
    int pollFd() const noexcept { return m_fd; }
    const std::string& description() const noexcept { return m_description; }

    /// Sends `request` (validated first; an id of 0 gets the next free one). The id, or
    /// why it was not sent (invalid, the agent gone, its queue full).
    tl::expected<std::uint32_t, std::string> send(Request request);
    /// Delivers up to `maxMessages` waiting messages to `sink` without blocking; how many.
    /// An error means the agent is gone (the sentence); pending requests are then answered
    /// Refused through the sink first.
    tl::expected<std::size_t, std::string> receive(const std::function<void(AgentEvent)>& sink,
                                                   std::size_t maxMessages = 64);

    /// The agent's Hello, once it came.
    const std::optional<Hello>& hello() const noexcept { return m_hello; }
    /// Why the agent is unusable, once it is.
    const std::optional<std::string>& failure() const noexcept { return m_failure; }
    /// Requests sent and not answered yet.
    std::size_t pending() const noexcept { return m_pending.size(); }

    /// Blocking, for tests and the CLI: waits (bounded) for the Hello. Samples that come
    /// meanwhile go to `onOther` when given.
    tl::expected<Hello, std::string>
    waitHello(std::chrono::milliseconds timeout,
              const std::function<void(AgentEvent)>& onOther = nullptr);
    /// Blocking, for tests and the CLI: sends `request` and waits (bounded) for its
    /// answer; everything else that comes meanwhile goes to `onOther`.
    tl::expected<CallRecord, std::string>
    call(Request request, std::chrono::milliseconds timeout,
         const std::function<void(AgentEvent)>& onOther = nullptr);

private:
    AgentClient(int fd, std::string description);
    void fail(std::string why);
    void refusePending(const std::function<void(AgentEvent)>& sink);

    int m_fd;
    std::string m_description;
    std::uint32_t m_nextId = 1;
    std::map<std::uint32_t, Request> m_pending;
    std::optional<Hello> m_hello;
    std::optional<std::string> m_failure;
    std::vector<std::uint8_t> m_buffer;
};

} // namespace tcplab::peer
