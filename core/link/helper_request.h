#pragma once

// What tcplab-link (app/link_helper) is asked for, in one place for the helper, for the
// client that starts it (link/interface_link) and for the fuzz target: the arguments'
// grammar, their validation, the exit statuses and the one-line answers.
//
//   tcplab-link INTERFACE MAC IPV4|- IPV6|-
//
// Exactly four arguments: the interface to open, the phantom's unicast MAC, and its IPv4
// and IPv6 addresses ("-" for none, but not both), from which the helper builds the
// phantom's capture filter (host::phantomBpfFilter). Nothing else is accepted: no
// options, no environment, no other fd than the channel at fd 3.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wire/address.h"

#include <tl/expected.hpp>

namespace tcplab::link {

/// tcplab-link's exit statuses; the answer line names the same cause.
enum class HelperStatus : std::uint8_t {
    Ok = 0,
    Failed = 1,           ///< any other failure (socket options, the filter)
    Usage = 2,            ///< the arguments are not the grammar above
    NoSuchInterface = 3,  ///< the interface does not exist
    InterfaceDown = 4,    ///< it exists but is not up
    PermissionDenied = 5, ///< this helper holds no CAP_NET_RAW
    BadChannel = 6,       ///< fd 3 is closed or not a Unix socket
    NotEthernet = 7,      ///< the interface does not carry Ethernet frames
};

/// A validated request.
struct HelperRequest {
    std::string interfaceName;
    wire::MacAddress mac;
    std::optional<wire::Ipv4Address> ipv4;
    std::optional<wire::Ipv6Address> ipv6;
    bool operator==(const HelperRequest&) const = default;
};

/// Why the arguments were refused (always HelperStatus::Usage) in one sentence.
struct HelperRefusal {
    std::string message;
};

/// Whether `name` may be a Linux interface name (the kernel's dev_valid_name): 1 to 15
/// bytes, not "." or "..", no '/', ':', whitespace or control byte. An empty optional
/// means it may; otherwise why not.
std::optional<std::string> invalidInterfaceName(std::string_view name);

/// Parses argv[1..] (the program name left out).
tl::expected<HelperRequest, HelperRefusal>
parseHelperArguments(const std::vector<std::string>& args);

/// The arguments that parse back to `request` (argv[1..]).
std::vector<std::string> helperArguments(const HelperRequest& request);

/// The channel's answers, one datagram each: "ok IFINDEX" with the packet socket attached
/// (SCM_RIGHTS), or "error STATUS SENTENCE" without it.
std::string okAnswer(int ifindex);
std::string errorAnswer(HelperStatus status, std::string_view sentence);

/// A parsed answer: status Ok with the ifindex, or the status and the sentence.
struct HelperAnswer {
    HelperStatus status = HelperStatus::Failed;
    int ifindex = 0;
    std::string sentence;
};
/// nullopt when `text` is neither form.
std::optional<HelperAnswer> parseHelperAnswer(std::string_view text);

} // namespace tcplab::link
