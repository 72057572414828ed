#include "wire/address.h"

#include <arpa/inet.h>

#include <cstring>

#include <fmt/format.h>

namespace tcplab::wire {

namespace {
int hexDigit(char c) noexcept {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool prefixEqual(const std::uint8_t* a, const std::uint8_t* b, unsigned prefix) noexcept {
    const unsigned whole = prefix / 8;
    if (std::memcmp(a, b, whole) != 0)
        return false;
    const unsigned rest = prefix % 8;
    if (rest == 0)
        return true;
    const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}
} // namespace

std::optional<MacAddress> MacAddress::parse(std::string_view text) {
    // Exactly six groups of two hex digits separated by ':' or '-'.
    if (text.size() != 17)
        return std::nullopt;
    MacAddress m;
    for (std::size_t i = 0; i < 6; ++i) {
        const int hi = hexDigit(text[i * 3]);
        const int lo = hexDigit(text[i * 3 + 1]);
        if (hi < 0 || lo < 0)
            return std::nullopt;
        if (i < 5 && text[i * 3 + 2] != ':' && text[i * 3 + 2] != '-')
            return std::nullopt;
        m.octets[i] = static_cast<std::uint8_t>((hi << 4) | lo);
    }
    return m;
}

std::string MacAddress::toString() const {
    return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", octets[0], octets[1], octets[2],
                       octets[3], octets[4], octets[5]);
}

std::optional<Ipv4Address> Ipv4Address::parse(std::string_view text) {
    // inet_pton accepts only the strict dotted quad (no octal, no short forms).
    if (text.size() > 15)
        return std::nullopt;
    char buf[16] = {};
    std::memcpy(buf, text.data(), text.size());
    Ipv4Address a;
    if (inet_pton(AF_INET, buf, a.octets.data()) != 1)
        return std::nullopt;
    return a;
}

std::string Ipv4Address::toString() const {
    return fmt::format("{}.{}.{}.{}", octets[0], octets[1], octets[2], octets[3]);
}

bool Ipv4Address::sameSubnet(const Ipv4Address& other, unsigned prefix) const noexcept {
    return prefixEqual(octets.data(), other.octets.data(), prefix > 32 ? 32 : prefix);
}

std::optional<Ipv6Address> Ipv6Address::parse(std::string_view text) {
    if (text.size() > 45)
        return std::nullopt;
    char buf[46] = {};
    std::memcpy(buf, text.data(), text.size());
    Ipv6Address a;
    if (inet_pton(AF_INET6, buf, a.octets.data()) != 1)
        return std::nullopt;
    return a;
}

std::string Ipv6Address::toString() const {
    // inet_ntop follows RFC 5952 on glibc (longest zero run compressed, lower case).
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(AF_INET6, octets.data(), buf, sizeof buf);
    return buf;
}

bool Ipv6Address::sameSubnet(const Ipv6Address& other, unsigned prefix) const noexcept {
    return prefixEqual(octets.data(), other.octets.data(), prefix > 128 ? 128 : prefix);
}

Ipv6Address Ipv6Address::solicitedNodeMulticast() const noexcept {
    Ipv6Address m{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, 0, 0, 0}};
    m.octets[13] = octets[13];
    m.octets[14] = octets[14];
    m.octets[15] = octets[15];
    return m;
}

MacAddress Ipv6Address::multicastMac() const noexcept {
    return {{0x33, 0x33, octets[12], octets[13], octets[14], octets[15]}};
}

std::optional<IpAddress> parseIpAddress(std::string_view text) {
    if (auto v4 = Ipv4Address::parse(text))
        return IpAddress{*v4};
    if (auto v6 = Ipv6Address::parse(text))
        return IpAddress{*v6};
    return std::nullopt;
}

std::string addressText(const IpAddress& address) {
    return std::visit([](const auto& a) { return a.toString(); }, address);
}

} // namespace tcplab::wire
