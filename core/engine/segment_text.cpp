#include "engine/segment_text.h"

#include <array>
#include <string_view>

#include <fmt/format.h>

namespace tcplab::engine {

std::string flagWords(std::uint8_t flags, char separator) {
    static constexpr std::array<std::string_view, 8> kWords{"FIN", "SYN", "RST", "PSH",
                                                            "ACK", "URG", "ECE", "CWR"};
    if (flags == 0)
        return "no flags";
    std::string s;
    for (std::size_t bit = 0; bit < kWords.size(); ++bit) {
        if (!(flags & (1u << bit)))
            continue;
        if (!s.empty())
            s += separator;
        s += kWords[bit];
    }
    return s;
}

std::string describeSegment(const wire::TcpHeader& tcp, std::size_t payloadLength, char separator) {
    std::string s = fmt::format("{} seq={}", flagWords(tcp.flags, separator), tcp.seq.value());
    if (tcp.has(wire::tcp_flags::kAck))
        s += fmt::format(" ack={}", tcp.ack.value());
    if (payloadLength > 0)
        s += fmt::format(" len={}", payloadLength);
    return s;
}

std::string bytesText(std::size_t n) {
    return fmt::format("{} byte{}", n, n == 1 ? "" : "s");
}

} // namespace tcplab::engine
