#include "link/helper_request.h"

#include <charconv>

#include <fmt/format.h>

namespace tcplab::link {

namespace {
constexpr std::size_t kMaxInterfaceName = 15; ///< IFNAMSIZ less the terminating NUL
constexpr std::size_t kMaxArgument = 64;      ///< longer than any valid argument
constexpr std::string_view kNone = "-";

/// A word fit to be quoted in a sentence: printable ASCII only, at most kMaxArgument.
std::string shown(std::string_view word) {
    std::string out;
    for (const char c : word.substr(0, kMaxArgument)) {
        const auto u = static_cast<unsigned char>(c);
        out += u >= 0x20 && u < 0x7f ? std::string(1, c) : fmt::format("\\x{:02x}", u);
    }
    if (word.size() > kMaxArgument)
        out += "...";
    return out;
}

tl::unexpected<HelperRefusal> refuse(std::string message) {
    return tl::make_unexpected(HelperRefusal{std::move(message)});
}
} // namespace

std::optional<std::string> invalidInterfaceName(std::string_view name) {
    if (name.empty())
        return "an interface name cannot be empty";
    if (name.size() > kMaxInterfaceName)
        return fmt::format("'{}' is {} bytes long; an interface name has at most {}", shown(name),
                           name.size(), kMaxInterfaceName);
    if (name == "." || name == "..")
        return fmt::format("'{}' is not an interface name", name);
    for (const char c : name) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '/' || c == ':' || u <= 0x20 || u >= 0x7f)
            return fmt::format("'{}' cannot be an interface name: it holds '{}'", shown(name),
                               shown(std::string_view(&c, 1)));
    }
    return std::nullopt;
}

tl::expected<HelperRequest, HelperRefusal>
parseHelperArguments(const std::vector<std::string>& args) {
    constexpr const char* kUsage = "usage: tcplab-link INTERFACE MAC IPV4|- IPV6|-";
    if (args.size() != 4)
        return refuse(fmt::format("{} ({} argument{} given, 4 expected)", kUsage, args.size(),
                                  args.size() == 1 ? "" : "s"));
    HelperRequest request;
    if (auto why = invalidInterfaceName(args[0]))
        return refuse(*why);
    request.interfaceName = args[0];

    const auto mac = wire::MacAddress::parse(args[1]);
    if (!mac || args[1].size() > kMaxArgument)
        return refuse(fmt::format("'{}' is not a MAC address (02:00:5e:10:00:01)", shown(args[1])));
    if (mac->isMulticast() || *mac == wire::MacAddress{})
        return refuse(fmt::format("{} is not a unicast MAC address: the phantom's must be one",
                                  mac->toString()));
    request.mac = *mac;

    if (args[2] != kNone) {
        const auto v4 = wire::Ipv4Address::parse(args[2]);
        if (!v4 || args[2].size() > kMaxArgument)
            return refuse(fmt::format("'{}' is not an IPv4 address, nor '-'", shown(args[2])));
        request.ipv4 = *v4;
    }
    if (args[3] != kNone) {
        const auto v6 = wire::Ipv6Address::parse(args[3]);
        if (!v6 || args[3].size() > kMaxArgument)
            return refuse(fmt::format("'{}' is not an IPv6 address, nor '-'", shown(args[3])));
        if (v6->isMulticast())
            return refuse(fmt::format("{} is a multicast address: the phantom's must be unicast",
                                      v6->toString()));
        request.ipv6 = *v6;
    }
    if (!request.ipv4 && !request.ipv6)
        return refuse("the phantom needs an IPv4 or an IPv6 address: both are '-'");
    return request;
}

std::vector<std::string> helperArguments(const HelperRequest& request) {
    return {request.interfaceName, request.mac.toString(),
            request.ipv4 ? request.ipv4->toString() : std::string(kNone),
            request.ipv6 ? request.ipv6->toString() : std::string(kNone)};
}

std::string okAnswer(int ifindex) {
    return fmt::format("ok {}", ifindex);
}

std::string errorAnswer(HelperStatus status, std::string_view sentence) {
    return fmt::format("error {} {}", static_cast<int>(status), sentence);
}

std::optional<HelperAnswer> parseHelperAnswer(std::string_view text) {
    const auto number = [](std::string_view digits, int& out) {
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
        return ec == std::errc{} && end == digits.data() + digits.size() && !digits.empty();
    };
    HelperAnswer answer;
    if (text.starts_with("ok ")) {
        if (!number(text.substr(3), answer.ifindex) || answer.ifindex <= 0)
            return std::nullopt;
        answer.status = HelperStatus::Ok;
        return answer;
    }
    if (!text.starts_with("error "))
        return std::nullopt;
    text.remove_prefix(6);
    const auto space = text.find(' ');
    int status = 0;
    if (space == std::string_view::npos || !number(text.substr(0, space), status) || status <= 0 ||
        status > static_cast<int>(HelperStatus::NotEthernet))
        return std::nullopt;
    answer.status = static_cast<HelperStatus>(status);
    answer.sentence = std::string(text.substr(space + 1));
    return answer;
}

} // namespace tcplab::link
