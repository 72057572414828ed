#include "link/pcap_link.h"

#include "link/link_errors.h"

#include <pcap/pcap.h>

#include <linux/if_packet.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <exception>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace tcplab::link {

namespace {

bool contains(std::string_view text, std::string_view part) {
    return text.find(part) != std::string_view::npos;
}

/// libpcap reports a vanished or downed interface only in its message text; these
/// are the wordings of pcap-linux.c and strerror(ENETDOWN/ENODEV/ENXIO).
bool meansInterfaceGone(std::string_view message) {
    constexpr std::array<std::string_view, 6> kWordings = {"went down",
                                                           "disappeared",
                                                           "No such device",
                                                           "Network is down",
                                                           "No such device or address",
                                                           "ENETDOWN"};
    return std::any_of(kWordings.begin(), kWordings.end(),
                       [&](std::string_view w) { return contains(message, w); });
}

/// The activate error as a LinkError that says what to do about it.
LinkError activateError(int status, const std::string& ifname, const std::string& detail) {
    const std::string said = detail.empty() ? pcap_statustostr(status) : detail;
    switch (status) {
    case PCAP_ERROR_NO_SUCH_DEVICE:
        return noSuchInterface(ifname);
    case PCAP_ERROR_PERM_DENIED:
    case PCAP_ERROR_PROMISC_PERM_DENIED:
        return permissionDenied(ifname, said);
    case PCAP_ERROR_IFACE_NOT_UP:
        return interfaceDown(ifname);
    default:
        break;
    }
    // A plain PCAP_ERROR can still be one of these, told only by the errno text.
    if (contains(said, "Operation not permitted") || contains(said, "Permission denied"))
        return permissionDenied(ifname, said);
    if (contains(said, "No such device"))
        return noSuchInterface(ifname);
    return {LinkErrorCode::Io, fmt::format("libpcap cannot capture on {}: {}", ifname, said)};
}

/// Closes a pcap handle on scope exit unless released.
class PcapGuard {
public:
    explicit PcapGuard(pcap_t* p) noexcept
        : m_pcap(p) {}
    ~PcapGuard() {
        if (m_pcap)
            pcap_close(m_pcap);
    }
    PcapGuard(const PcapGuard&) = delete;
    PcapGuard& operator=(const PcapGuard&) = delete;
    pcap_t* get() const noexcept { return m_pcap; }
    pcap_t* release() noexcept { return std::exchange(m_pcap, nullptr); }

private:
    pcap_t* m_pcap;
};

/// What the pcap_dispatch callback needs, and what it reports back.
struct DispatchContext {
    const FrameSink* sink;
    const std::string* description;
    bool nanoseconds;
    std::size_t delivered = 0;
    std::optional<LinkError> truncated;
    std::exception_ptr exception;
    pcap_t* handle;
};

void onFrame(u_char* user, const pcap_pkthdr* header, const u_char* bytes) {
    auto& context = *reinterpret_cast<DispatchContext*>(user);
    if (context.exception)
        return;
    if (header->caplen < header->len) {
        // Never pass on a cut frame as if it were whole.
        context.truncated = LinkError{
            LinkErrorCode::Io,
            fmt::format("{}: dropped a received frame of {} bytes, longer than the {}-byte "
                        "snapshot length (turn off GRO/LRO: ethtool -K <interface> gro off lro "
                        "off)",
                        *context.description, header->len, PcapLink::kSnapLength)};
        return;
    }
    const std::int64_t fraction = header->ts.tv_usec; // nanoseconds in nano precision
    const std::int64_t timestampNs = std::int64_t{header->ts.tv_sec} * 1'000'000'000 +
                                     (context.nanoseconds ? fraction : fraction * 1000);
    // An exception must not unwind through libpcap's C frames: keep it, stop the
    // loop, and rethrow once pcap_dispatch has returned.
    try {
        (*context.sink)(timestampNs, wire::Bytes(bytes, header->caplen));
        ++context.delivered;
    } catch (...) {
        context.exception = std::current_exception();
        pcap_breakloop(context.handle);
    }
}

} // namespace

tl::expected<std::unique_ptr<PcapLink>, LinkError> PcapLink::open(const std::string& ifname,
                                                                  const std::string& bpfFilter) {
    if (ifname.empty())
        return tl::make_unexpected(noSuchInterface(ifname));
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    PcapGuard handle(pcap_create(ifname.c_str(), errbuf));
    if (!handle.get())
        return tl::make_unexpected(LinkError{
            LinkErrorCode::Io, fmt::format("libpcap cannot open {}: {}", ifname, errbuf)});
    pcap_t* p = handle.get();

    // Immediate mode: each frame is delivered as it arrives, not when a buffer fills,
    // so the ladder is live and a reply is seen at once.
    pcap_set_immediate_mode(p, 1);
    pcap_set_promisc(p, 1);
    pcap_set_snaplen(p, kSnapLength);
    // Nanoseconds where the platform has them; microseconds otherwise (scaled).
    pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);

    const int status = pcap_activate(p);
    if (status < 0)
        return tl::make_unexpected(activateError(status, ifname, pcap_geterr(p)));
    // status > 0 is a warning (no promiscuous mode, no such timestamp type): usable.
    const bool nanoseconds = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;

    if (const int type = pcap_datalink(p); type != DLT_EN10MB)
        return tl::make_unexpected(LinkError{
            LinkErrorCode::Io,
            fmt::format("{} is not an Ethernet interface (link type {}): the phantom host needs "
                        "Ethernet frames; use a veth, bridge, TAP or Ethernet interface",
                        ifname,
                        pcap_datalink_val_to_name(type) ? pcap_datalink_val_to_name(type)
                                                        : "unknown")});

    if (pcap_setdirection(p, PCAP_D_IN) != 0)
        return tl::make_unexpected(
            LinkError{LinkErrorCode::Io, fmt::format("libpcap cannot capture only incoming frames "
                                                     "on {}: {}",
                                                     ifname, pcap_geterr(p))});
    // libpcap drops outgoing frames only after they were queued to it; let the kernel
    // not queue them at all (Linux >= 4.20), so our own sends never wake the poller.
    const int on = 1;
    ::setsockopt(pcap_fileno(p), SOL_PACKET, PACKET_IGNORE_OUTGOING, &on, sizeof on);

    if (pcap_setnonblock(p, 1, errbuf) != 0)
        return tl::make_unexpected(
            LinkError{LinkErrorCode::Io,
                      fmt::format("libpcap cannot make {} non-blocking: {}", ifname, errbuf)});

    bpf_program program{};
    if (pcap_compile(p, &program, bpfFilter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0)
        return tl::make_unexpected(LinkError{
            LinkErrorCode::BadFilter,
            fmt::format("bad capture filter \"{}\": {} (see pcap-filter(7) for the syntax)",
                        bpfFilter, pcap_geterr(p))});
    const int set = pcap_setfilter(p, &program);
    pcap_freecode(&program);
    if (set != 0)
        return tl::make_unexpected(LinkError{
            LinkErrorCode::BadFilter, fmt::format("capture filter \"{}\" was refused on {}: {}",
                                                  bpfFilter, ifname, pcap_geterr(p))});

    if (pcap_get_selectable_fd(p) < 0)
        return tl::make_unexpected(LinkError{
            LinkErrorCode::Io, fmt::format("libpcap gives no pollable descriptor for {}", ifname)});

    return std::unique_ptr<PcapLink>(new PcapLink(handle.release(), ifname, nanoseconds));
}

PcapLink::PcapLink(pcap* handle, std::string ifname, bool nanoseconds)
    : m_pcap(handle)
    , m_ifname(std::move(ifname))
    , m_nanoseconds(nanoseconds)
    , m_fd(pcap_get_selectable_fd(handle)) {}

PcapLink::~PcapLink() {
    pcap_close(m_pcap);
}

std::string PcapLink::description() const {
    return fmt::format("pcap on {}", m_ifname);
}

std::optional<std::int64_t> PcapLink::receiveAgainWithinMs() const noexcept {
    // pcap_get_required_select_timeout(3PCAP): non-null while libpcap waits to learn
    // whether an interface that reported ENETDOWN still exists.
    const timeval* within = pcap_get_required_select_timeout(m_pcap);
    if (!within)
        return std::nullopt;
    return std::int64_t{within->tv_sec} * 1000 + (within->tv_usec + 999) / 1000;
}

LinkError PcapLink::errorFromPcap(const char* operation) const {
    const std::string said = pcap_geterr(m_pcap);
    if (meansInterfaceGone(said))
        return interfaceGone(description(), fmt::format("{}: {}", operation, said));
    return {LinkErrorCode::Io, fmt::format("{}: {} failed: {}", description(), operation, said)};
}

tl::expected<std::size_t, LinkError> PcapLink::receive(const FrameSink& sink,
                                                       std::size_t maxFrames) {
    if (m_failure)
        return tl::make_unexpected(*m_failure);
    if (m_pending)
        return tl::make_unexpected(*std::exchange(m_pending, std::nullopt));
    if (maxFrames == 0)
        return 0;

    const std::string what = description();
    DispatchContext context{&sink, &what, m_nanoseconds, 0, std::nullopt, nullptr, m_pcap};
    const int count = static_cast<int>(std::min<std::size_t>(maxFrames, INT_MAX));
    const int result = pcap_dispatch(m_pcap, count, &onFrame, reinterpret_cast<u_char*>(&context));
    if (context.exception)
        std::rethrow_exception(context.exception);
    if (result == PCAP_ERROR) {
        // Every capture error leaves the handle unusable.
        m_failure = errorFromPcap("capture");
        if (context.delivered == 0)
            return tl::make_unexpected(*m_failure);
        return context.delivered;
    }
    if (context.truncated) {
        if (context.delivered == 0)
            return tl::make_unexpected(*context.truncated);
        m_pending = std::move(context.truncated);
    }
    return context.delivered;
}

tl::expected<void, LinkError> PcapLink::send(wire::Bytes frame) {
    if (m_failure)
        return tl::make_unexpected(*m_failure);
    if (frame.empty())
        return tl::make_unexpected(LinkError{
            LinkErrorCode::Io, fmt::format("{}: refusing to send an empty frame", description())});
    const int sent = pcap_inject(m_pcap, frame.data(), frame.size());
    if (sent < 0) {
        LinkError e = errorFromPcap("send");
        if (e.code == LinkErrorCode::InterfaceGone)
            m_failure = e;
        return tl::make_unexpected(std::move(e));
    }
    if (static_cast<std::size_t>(sent) != frame.size())
        return tl::make_unexpected(
            LinkError{LinkErrorCode::Io, fmt::format("{}: only {} of {} bytes were sent",
                                                     description(), sent, frame.size())});
    return {};
}

} // namespace tcplab::link
