#pragma once

#include "wire/bytes.h"

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace tcplab::wire {

/// A 48-bit IEEE 802 MAC address.
struct MacAddress {
    std::array<std::uint8_t, 6> octets{};

    static MacAddress fromBytes(const std::uint8_t* p) noexcept {
        MacAddress a;
        std::memcpy(a.octets.data(), p, 6);
        return a;
    }
    /// "02:00:5e:10:00:01" (also '-' separated); nullopt when malformed.
    static std::optional<MacAddress> parse(std::string_view text);
    static constexpr MacAddress broadcast() noexcept {
        return {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
    }
    std::string toString() const;
    void write(std::uint8_t* p) const noexcept { std::memcpy(p, octets.data(), sizeof octets); }
    bool isBroadcast() const noexcept { return *this == broadcast(); }
    bool isMulticast() const noexcept { return (octets[0] & 0x01) != 0; }
    bool isLocallyAdministered() const noexcept { return (octets[0] & 0x02) != 0; }
    bool isZero() const noexcept { return *this == MacAddress{}; }
    friend auto operator<=>(const MacAddress&, const MacAddress&) = default;
};

/// A 32-bit IPv4 address, kept in network order.
struct Ipv4Address {
    std::array<std::uint8_t, 4> octets{};

    static Ipv4Address fromBytes(const std::uint8_t* p) noexcept {
        Ipv4Address a;
        std::memcpy(a.octets.data(), p, 4);
        return a;
    }
    static constexpr Ipv4Address fromUint(std::uint32_t v) noexcept {
        return {{static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
                 static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)}};
    }
    /// Dotted quad; nullopt when malformed.
    static std::optional<Ipv4Address> parse(std::string_view text);
    std::uint32_t toUint() const noexcept { return load32(octets.data()); }
    std::string toString() const;
    void write(std::uint8_t* p) const noexcept { std::memcpy(p, octets.data(), sizeof octets); }
    bool isUnspecified() const noexcept { return toUint() == 0; }
    /// True when both addresses share the first `prefix` bits.
    bool sameSubnet(const Ipv4Address& other, unsigned prefix) const noexcept;
    friend auto operator<=>(const Ipv4Address&, const Ipv4Address&) = default;
};

/// A 128-bit IPv6 address.
struct Ipv6Address {
    std::array<std::uint8_t, 16> octets{};

    static Ipv6Address fromBytes(const std::uint8_t* p) noexcept {
        Ipv6Address a;
        std::memcpy(a.octets.data(), p, 16);
        return a;
    }
    /// RFC 4291 text form (with "::"); nullopt when malformed.
    static std::optional<Ipv6Address> parse(std::string_view text);
    /// RFC 5952 canonical text.
    std::string toString() const;
    void write(std::uint8_t* p) const noexcept { std::memcpy(p, octets.data(), sizeof octets); }
    bool isUnspecified() const noexcept { return *this == Ipv6Address{}; }
    bool isMulticast() const noexcept { return octets[0] == 0xff; }
    bool isLinkLocal() const noexcept { return octets[0] == 0xfe && (octets[1] & 0xc0) == 0x80; }
    bool sameSubnet(const Ipv6Address& other, unsigned prefix) const noexcept;
    /// ff02::1:ffXX:XXXX for this address (RFC 4291 §2.7.1).
    Ipv6Address solicitedNodeMulticast() const noexcept;
    /// 33:33:xx:xx:xx:xx, the Ethernet group address of a multicast IPv6 address (RFC 2464 §7).
    MacAddress multicastMac() const noexcept;
    friend auto operator<=>(const Ipv6Address&, const Ipv6Address&) = default;
};

/// Either family, for code that serves both (the phantom's address, a peer's).
using IpAddress = std::variant<Ipv4Address, Ipv6Address>;
std::optional<IpAddress> parseIpAddress(std::string_view text);
std::string addressText(const IpAddress& address);

} // namespace tcplab::wire
