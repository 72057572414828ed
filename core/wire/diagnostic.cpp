#include "wire/diagnostic.h"

namespace tcplab::wire {

namespace {
struct DiagnosticInfo {
    std::string_view layer;
    std::string_view field;
    std::string_view text;
};

constexpr DiagnosticInfo info(Diagnostic d) noexcept {
    switch (d) {
    case Diagnostic::Ipv4ChecksumBad:
        return {"ipv4", "chksum", "IPv4 header checksum is wrong"};
    case Diagnostic::Ipv4ReservedFlagSet:
        return {"ipv4", "flags", "IPv4 reserved flag (evil bit) is set"};
    case Diagnostic::Ipv4TotalLengthBeyondFrame:
        return {"ipv4", "len", "IPv4 total length runs past the end of the frame (cut short?)"};
    case Diagnostic::Ipv4Fragment:
        return {"ipv4", "frag",
                "IPv4 fragment: checksums cannot be verified; later fragments are not decoded"};
    case Diagnostic::Ipv6PayloadLengthBeyondFrame:
        return {"ipv6", "plen", "IPv6 payload length runs past the end of the frame (cut short?)"};
    case Diagnostic::TrailingBytes:
        return {"ethernet", "", "bytes after the IP packet (Ethernet padding)"};
    case Diagnostic::TcpChecksumBad:
        return {"tcp", "chksum", "TCP checksum is wrong"};
    case Diagnostic::TcpChecksumPartial:
        return {
            "tcp", "chksum",
            "TCP checksum holds only the pseudo-header sum: checksum offload on the sending host"};
    case Diagnostic::TcpSynFin:
        return {"tcp", "flags", "SYN and FIN together"};
    case Diagnostic::TcpReservedBitsSet:
        return {"tcp", "reserved", "TCP reserved bits are set"};
    case Diagnostic::TcpUrgentWithoutUrg:
        return {"tcp", "urgptr", "urgent pointer is non-zero but URG is not set"};
    case Diagnostic::TcpOptionAfterEolNotZero:
        return {"tcp", "options", "bytes after End of Option List are not zero"};
    case Diagnostic::Icmpv6ChecksumBad:
        return {"icmpv6", "cksum", "ICMPv6 checksum is wrong"};
    case Diagnostic::Count:
        break;
    }
    return {"", "", ""};
}
} // namespace

std::string_view diagnosticField(Diagnostic d) noexcept {
    return info(d).field;
}
std::string_view diagnosticLayer(Diagnostic d) noexcept {
    return info(d).layer;
}
std::string_view describe(Diagnostic d) noexcept {
    return info(d).text;
}

} // namespace tcplab::wire
