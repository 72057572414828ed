#pragma once

#include "wire/field.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace tcplab::wire {

/// Why a header could not be parsed. Only structure fails a parse (STYLE.md):
/// everything else (checksums, odd flags) is a Diagnostic on a parsed header.
enum class ParseErrorCode : std::uint8_t {
    Truncated,            ///< fewer bytes than the header needs
    BadVersion,           ///< IP version field does not match the EtherType
    HeaderLengthTooShort, ///< IHL < 5, TCP data offset < 5, ext header length impossible
    HeaderLengthOverrun,  ///< the header's own length runs past the bytes there are
    TotalLengthTooShort,  ///< IPv4 total length smaller than its header
    OptionLengthInvalid,  ///< an option length of 0 or 1 (RFC 9293 §3.1: length counts kind and
                          ///< length)
    OptionOverrun,        ///< an option runs past the end of the options area
    Unsupported, ///< a well-formed header of a kind we do not decode (ARP for non-Ethernet/IPv4)
};

struct ParseError {
    ParseErrorCode code;
    std::string_view layer;     ///< protocol id, "tcp"
    std::string_view field;     ///< field id the problem is in, "" when none
    std::uint32_t offset = 0;   ///< byte offset within the header where it went wrong
    std::uint32_t expected = 0; ///< bytes (or value) needed
    std::uint32_t actual = 0;   ///< bytes (or value) there

    /// One line: "tcp: data offset 3 is below the minimum of 5 (20 bytes)".
    std::string message() const;
    friend bool operator==(const ParseError&, const ParseError&) = default;
};

std::string_view codeName(ParseErrorCode code) noexcept;

/// A Truncated error for `protocol` naming the first field that `have` bytes do not hold.
ParseError truncatedError(const ProtocolDescriptor& protocol, std::size_t need,
                          std::size_t have) noexcept;

} // namespace tcplab::wire
