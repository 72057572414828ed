#pragma once

#include "link/link.h"

#include <memory>
#include <optional>
#include <string>

struct pcap;

namespace tcplab::link {

/// libpcap live capture on a named interface: immediate mode, promiscuous (the
/// phantom's MAC is nobody's), nanosecond timestamps where the platform has them,
/// only incoming frames (our own injections do not come back), a BPF filter for
/// the phantom's traffic, and pcap_inject to send.
///
/// Errors name the cause and the cure: no such interface (with those that exist),
/// permission denied (with the setcap line), interface down (with the ip command),
/// interface gone while capturing, bad filter (with libpcap's reason). Once
/// receive() or send() has reported the interface gone, the link stays failed.
class PcapLink final : public Link {
public:
    /// Snapshot length: any Ethernet frame, jumbo or GRO-merged, arrives whole.
    static constexpr int kSnapLength = 262'144;

    /// Opens `ifname` for capture and injection; `bpfFilter` is pcap-filter(7) syntax
    /// ("" captures everything).
    static tl::expected<std::unique_ptr<PcapLink>, LinkError> open(const std::string& ifname,
                                                                   const std::string& bpfFilter);
    ~PcapLink() override;

    tl::expected<void, LinkError> send(wire::Bytes frame) override;
    tl::expected<std::size_t, LinkError> receive(const FrameSink& sink,
                                                 std::size_t maxFrames) override;
    int pollFd() const noexcept override { return m_fd; }
    std::optional<std::int64_t> receiveAgainWithinMs() const noexcept override;
    std::string description() const override;

    /// True when libpcap delivers nanosecond timestamps (else microseconds, scaled).
    bool nanosecondTimestamps() const noexcept { return m_nanoseconds; }

private:
    PcapLink(pcap* handle, std::string ifname, bool nanoseconds);
    LinkError errorFromPcap(const char* operation) const;

    pcap* m_pcap;
    std::string m_ifname;
    bool m_nanoseconds;
    int m_fd;
    std::optional<LinkError> m_failure; ///< final: reported by every later call
    std::optional<LinkError> m_pending; ///< reported once by the next receive()
};

} // namespace tcplab::link
