#include "engine/http_response.h"

#include "engine/segment_text.h"

#include <algorithm>
#include <optional>
#include <string_view>

#include <fmt/format.h>

namespace tcplab::engine {

using wire::Bytes;

namespace {

std::size_t find(Bytes data, std::string_view needle, std::size_t from) {
    if (from > data.size())
        return std::string_view::npos;
    const std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
    return text.find(needle, from);
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    return out;
}

std::string_view trimmed(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

HttpCheck checkChunked(Bytes data, std::size_t bodyStart) {
    std::size_t p = bodyStart;
    const auto incomplete = [&] {
        return HttpCheck{HttpCheck::State::Incomplete, 0,
                         fmt::format("got {} of a chunked response whose last chunk has not "
                                     "arrived",
                                     bytesText(data.size()))};
    };
    while (true) {
        const std::size_t lineEnd = find(data, "\r\n", p);
        if (lineEnd == std::string_view::npos)
            return incomplete();
        std::string_view line(reinterpret_cast<const char*>(data.data()) + p, lineEnd - p);
        line = trimmed(line.substr(0, line.find(';')));
        std::uint64_t size = 0;
        if (line.empty() || line.size() > 15)
            return {HttpCheck::State::Malformed, 0,
                    fmt::format("the chunk size at byte {} is not a hex number", p)};
        for (const char c : line) {
            const int d = c >= '0' && c <= '9'   ? c - '0'
                          : c >= 'a' && c <= 'f' ? c - 'a' + 10
                          : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                 : -1;
            if (d < 0)
                return {HttpCheck::State::Malformed, 0,
                        fmt::format("the chunk size at byte {} is not a hex number", p)};
            size = size * 16 + static_cast<std::uint64_t>(d);
        }
        if (size == 0) {
            // The last chunk, then trailer lines, then an empty line (RFC 9112 §7.1).
            const std::size_t end = find(data, "\r\n\r\n", lineEnd);
            if (end == std::string_view::npos)
                return incomplete();
            return {HttpCheck::State::Complete, end + 4, {}};
        }
        const std::uint64_t next = lineEnd + 2 + size + 2;
        if (next > data.size())
            return incomplete();
        p = static_cast<std::size_t>(next);
    }
}

} // namespace

HttpCheck checkHttpResponse(Bytes data, bool peerFin, bool headRequest) {
    std::size_t start = 0;
    while (true) {
        const std::size_t headerEnd = find(data, "\r\n\r\n", start);
        if (headerEnd == std::string_view::npos) {
            if (data.empty())
                return {HttpCheck::State::Incomplete, 0, "got no data"};
            return {HttpCheck::State::Incomplete, 0,
                    fmt::format("got {}; the headers have not ended", bytesText(data.size()))};
        }
        const std::string_view head(reinterpret_cast<const char*>(data.data()) + start,
                                    headerEnd - start);
        const std::size_t bodyStart = headerEnd + 4;
        // Status line: HTTP/1.1 200 OK
        const std::size_t firstEnd = head.find("\r\n");
        const std::string_view statusLine = head.substr(0, firstEnd);
        if (!statusLine.starts_with("HTTP/") || statusLine.size() < 12)
            return {HttpCheck::State::Malformed, 0,
                    fmt::format("got {} that do not start with an HTTP status line",
                                bytesText(data.size()))};
        const std::size_t space = statusLine.find(' ');
        const std::string_view codeText =
            space == std::string_view::npos ? std::string_view() : statusLine.substr(space + 1, 3);
        if (codeText.size() != 3 || !std::all_of(codeText.begin(), codeText.end(),
                                                 [](char c) { return c >= '0' && c <= '9'; }))
            return {
                HttpCheck::State::Malformed, 0,
                fmt::format("got {} whose status line has no status code", bytesText(data.size()))};
        int code = 0;
        for (const char c : codeText)
            code = code * 10 + (c - '0');
        if (code >= 100 && code < 200 && code != 101) {
            start = bodyStart; // an interim response: the final one follows
            continue;
        }
        if (headRequest || code == 204 || code == 304 || code < 200)
            return {HttpCheck::State::Complete, bodyStart, {}};

        std::optional<std::uint64_t> contentLength;
        bool chunked = false;
        std::size_t lineStart = firstEnd == std::string_view::npos ? head.size() : firstEnd + 2;
        while (lineStart < head.size()) {
            std::size_t lineEnd = head.find("\r\n", lineStart);
            if (lineEnd == std::string_view::npos)
                lineEnd = head.size();
            const std::string_view line = head.substr(lineStart, lineEnd - lineStart);
            lineStart = lineEnd + 2;
            const std::size_t colon = line.find(':');
            if (colon == std::string_view::npos)
                continue;
            const std::string name = lower(trimmed(line.substr(0, colon)));
            const std::string value = lower(trimmed(line.substr(colon + 1)));
            if (name == "transfer-encoding" && value.find("chunked") != std::string::npos)
                chunked = true;
            if (name == "content-length" && !value.empty() && value.size() <= 15 &&
                std::all_of(value.begin(), value.end(),
                            [](char c) { return c >= '0' && c <= '9'; }))
                contentLength = std::stoull(value);
        }
        if (chunked)
            return checkChunked(data, bodyStart);
        if (contentLength) {
            const std::uint64_t total = bodyStart + *contentLength;
            if (data.size() >= total)
                return {HttpCheck::State::Complete, static_cast<std::size_t>(total), {}};
            return {HttpCheck::State::Incomplete, 0,
                    fmt::format("got {} of {} bytes", data.size(), total)};
        }
        if (peerFin)
            return {HttpCheck::State::Complete, data.size(), {}};
        return {HttpCheck::State::Incomplete, 0,
                fmt::format("got {}; the response has no length, so it ends with the peer's "
                            "FIN, which has not arrived",
                            bytesText(data.size()))};
    }
}

} // namespace tcplab::engine
