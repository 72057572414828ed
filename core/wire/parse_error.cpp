#include "wire/parse_error.h"

#include <fmt/format.h>

namespace tcplab::wire {

std::string_view codeName(ParseErrorCode code) noexcept {
    switch (code) {
    case ParseErrorCode::Truncated:
        return "truncated";
    case ParseErrorCode::BadVersion:
        return "bad version";
    case ParseErrorCode::HeaderLengthTooShort:
        return "header length too short";
    case ParseErrorCode::HeaderLengthOverrun:
        return "header length overruns the packet";
    case ParseErrorCode::TotalLengthTooShort:
        return "total length too short";
    case ParseErrorCode::OptionLengthInvalid:
        return "option length invalid";
    case ParseErrorCode::OptionOverrun:
        return "option overruns the header";
    case ParseErrorCode::Unsupported:
        return "unsupported";
    }
    return "unknown";
}

ParseError truncatedError(const ProtocolDescriptor& protocol, std::size_t need,
                          std::size_t have) noexcept {
    ParseError e{
        ParseErrorCode::Truncated,       protocol.id, "", 0, static_cast<std::uint32_t>(need),
        static_cast<std::uint32_t>(have)};
    for (const auto& f : protocol.fields) {
        if (f.byteOffset() + f.byteLength() > have) {
            e.field = f.id;
            e.offset = static_cast<std::uint32_t>(f.byteOffset());
            break;
        }
    }
    return e;
}

std::string ParseError::message() const {
    switch (code) {
    case ParseErrorCode::Truncated:
        return fmt::format("{}: truncated: needs {} bytes, {} present", layer, expected, actual);
    case ParseErrorCode::BadVersion:
        return fmt::format("{}: version {} where {} was expected", layer, actual, expected);
    case ParseErrorCode::HeaderLengthTooShort:
        return fmt::format("{}: {} {} is below the minimum of {}", layer, field, actual, expected);
    case ParseErrorCode::HeaderLengthOverrun:
        return fmt::format("{}: {} says {} bytes of header, only {} present", layer, field,
                           expected, actual);
    case ParseErrorCode::TotalLengthTooShort:
        return fmt::format("{}: {} {} is smaller than the header ({} bytes)", layer, field, actual,
                           expected);
    case ParseErrorCode::OptionLengthInvalid:
        return fmt::format("{}: option at offset {} has length {} (must be at least {})", layer,
                           offset, actual, expected);
    case ParseErrorCode::OptionOverrun:
        return fmt::format("{}: option at offset {} needs {} bytes, {} left in the header", layer,
                           offset, expected, actual);
    case ParseErrorCode::Unsupported:
        return fmt::format("{}: unsupported {} {}", layer, field, actual);
    }
    return fmt::format("{}: malformed", layer);
}

} // namespace tcplab::wire
