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
            return tl::make_unexpected(
                fmt::format("'{}' at position {} is not a hex digit", c, i + 1));
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

tl::expected<std::vector<std::uint8_t>, std::string> unescapeText(std::string_view text) {
    std::vector<std::uint8_t> out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c != '\\') {
            out.push_back(static_cast<std::uint8_t>(c));
            continue;
        }
        if (i + 1 == text.size())
            return tl::make_unexpected(std::string("a lone backslash at the end"));
        const char e = text[++i];
        switch (e) {
        case 'r':
            out.push_back('\r');
            break;
        case 'n':
            out.push_back('\n');
            break;
        case 't':
            out.push_back('\t');
            break;
        case '0':
            out.push_back(0);
            break;
        case '\\':
            out.push_back('\\');
            break;
        case '"':
            out.push_back('"');
            break;
        case 'x': {
            const int hi = i + 1 < text.size() ? hexValue(text[i + 1]) : -1;
            const int lo = i + 2 < text.size() ? hexValue(text[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return tl::make_unexpected(
                    fmt::format("\\x at position {} needs two hex digits", i));
            out.push_back(static_cast<std::uint8_t>((hi << 4) | lo));
            i += 2;
            break;
        }
        default:
            return tl::make_unexpected(fmt::format("unknown escape \\{} at position {}", e, i));
        }
    }
    return out;
}

std::string escapeText(Bytes bytes) {
    std::string out;
    out.reserve(bytes.size());
    for (const std::uint8_t b : bytes) {
        switch (b) {
        case '\r':
            out += "\\r";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\t':
            out += "\\t";
            break;
        case '\\':
            out += "\\\\";
            break;
        default:
            if (b >= 0x20 && b < 0x7f)
                out.push_back(static_cast<char>(b));
            else
                out += fmt::format("\\x{:02x}", b);
        }
    }
    return out;
}

} // namespace tcplab::wire
