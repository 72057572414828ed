#include "wire/bytes.h"

#include <fmt/format.h>

namespace tcplab::wire {

std::string toHex(Bytes bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.resize(bytes.size() * 2);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        out[2 * i] = kDigits[bytes[i] >> 4];
        out[2 * i + 1] = kDigits[bytes[i] & 0x0f];
    }
    return out;
}

namespace {
int hexValue(char c) noexcept {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}
} // namespace

tl::expected<std::vector<std::uint8_t>, std::string> fromHex(std::string_view text) {
    if (text.starts_with("0x") || text.starts_with("0X"))
        text.remove_prefix(2);
    std::vector<std::uint8_t> out;
    out.reserve(text.size() / 2);
    int high = -1;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == ' ' || c == ':' || c == '\n' || c == '\t' || c == '\r')
            continue;
        const int v = hexValue(c);
        if (v < 0)
            return tl::make_unexpected(fmt::format("'{}' at position {} is not a hex digit", c, i + 1));
        if (high < 0) {
            high = v;
        } else {
            out.push_back(static_cast<std::uint8_t>((high << 4) | v));
            high = -1;
        }
    }
    if (high >= 0)
        return tl::make_unexpected(std::string("odd number of hex digits"));
    return out;
}

} // namespace tcplab::wire
