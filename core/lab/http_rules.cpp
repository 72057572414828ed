#include "lab/http_rules.h"

#include "peer/pattern.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <vector>

namespace tcplab::lab::http {

namespace {

std::string lower(std::string_view text) {
    std::string s(text);
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::vector<std::string_view> splitWhitespace(std::string_view text) {
    std::vector<std::string_view> parts;
    std::size_t pos = 0;
    while (pos < text.size()) {
        while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos])))
            ++pos;
        const std::size_t start = pos;
        while (pos < text.size() && !std::isspace(static_cast<unsigned char>(text[pos])))
            ++pos;
        if (pos > start)
            parts.push_back(text.substr(start, pos - start));
    }
    return parts;
}

std::string_view strip(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
        s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
        s.remove_suffix(1);
    return s;
}

} // namespace

Request parseHead(std::string_view head) {
    Request r;
    std::string text(head);
    for (auto pos = text.find("\r\n"); pos != std::string::npos; pos = text.find("\r\n", pos))
        text.erase(pos, 1);
    const std::string_view all(text);
    const auto firstEnd = all.find('\n');
    r.line = std::string(strip(all.substr(0, firstEnd)));
    const auto parts = splitWhitespace(r.line);
    r.method = parts.size() > 0 ? std::string(parts[0]) : std::string();
    r.target = parts.size() > 1 ? std::string(parts[1]) : std::string();
    r.version = parts.size() > 2 ? std::string(parts[2]) : std::string("HTTP/0.9");
    std::transform(r.version.begin(), r.version.end(), r.version.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });

    std::vector<std::string> options; // the Connection header's tokens
    std::optional<std::size_t> length = 0;
    std::size_t pos = firstEnd == std::string_view::npos ? all.size() : firstEnd + 1;
    while (pos < all.size()) {
        auto next = all.find('\n', pos);
        if (next == std::string_view::npos)
            next = all.size();
        const std::string_view line = all.substr(pos, next - pos);
        pos = next + 1;
        const auto colon = line.find(':');
        if (colon == std::string_view::npos)
            continue;
        const std::string name = lower(strip(line.substr(0, colon)));
        const std::string_view value = line.substr(colon + 1);
        if (name == "connection") {
            std::size_t at = 0;
            while (at <= value.size()) {
                auto comma = value.find(',', at);
                if (comma == std::string_view::npos)
                    comma = value.size();
                options.push_back(lower(strip(value.substr(at, comma - at))));
                at = comma + 1;
            }
        } else if (name == "transfer-encoding") {
            length = std::nullopt; // chunked: not something the lab's server parses
        } else if (name == "content-length" && length) {
            const std::string_view v = strip(value);
            const bool digits =
                !v.empty() && v.find_first_not_of("0123456789") == std::string_view::npos;
            const auto n = digits && v.size() <= 9
                               ? std::strtoull(std::string(v).c_str(), nullptr, 10)
                               : kMaxBody + 1;
            length = n <= kMaxBody ? std::optional<std::size_t>(n) : std::nullopt;
        }
    }
    r.bodyLength = length;
    const auto has = [&options](const char* o) {
        return std::find(options.begin(), options.end(), o) != options.end();
    };
    // RFC 9112 §9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with
    // "keep-alive"; anything older or unknown does not.
    if (r.version == "HTTP/1.1")
        r.persistent = !has("close");
    else if (r.version == "HTTP/1.0")
        r.persistent = has("keep-alive") && !has("close");
    return r;
}

std::optional<Request> takeRequest(std::string& in, std::size_t maxRequestBytes, unsigned number) {
    // RFC 9112 §2.2: empty lines before a request line are ignored.
    in.erase(0, std::min(in.size(), in.find_first_not_of("\r\n")));
    std::size_t headEnd = std::string::npos;
    std::size_t terminator = 0;
    if (const auto crlf = in.find("\r\n\r\n"); crlf != std::string::npos) {
        headEnd = crlf;
        terminator = 4;
    }
    if (const auto lf = in.find("\n\n"); lf != std::string::npos && lf < headEnd) {
        headEnd = lf;
        terminator = 2;
    }
    const bool tooLong = headEnd == std::string::npos && in.size() > maxRequestBytes;
    if (headEnd == std::string::npos && !tooLong)
        return std::nullopt;
    const std::string head = tooLong ? in : in.substr(0, headEnd);
    in.erase(0, tooLong ? in.size() : headEnd + terminator);
    Request request = parseHead(head);
    // A request whose end cannot be found ends the connection after its answer.
    if (tooLong || !request.bodyLength || number >= kMaxRequests)
        request.persistent = false;
    return request;
}

std::string printable(std::string_view bytes) {
    std::string out;
    for (const char ch : bytes.substr(0, kMaxEchoed)) {
        const auto c = static_cast<unsigned char>(ch);
        if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
        } else if (c >= 0xa1 && c != 0xad) {
            // U+00A1..U+00FF in UTF-8 (U+00A0 and the soft hyphen are not printable).
            out += static_cast<char>(0xc0 | (c >> 6));
            out += static_cast<char>(0x80 | (c & 0x3f));
        } else {
            out += '?';
        }
    }
    return out;
}

std::string responseBody(std::uint16_t port, unsigned number, std::string_view method,
                         std::string_view target) {
    return "Hello from the tcplab peer, port " + std::to_string(port) + ". Request " +
           std::to_string(number) + " on this connection: " + printable(method) + " " +
           printable(target) + "\n";
}

std::optional<std::uint64_t> bulkLength(std::string_view target) {
    constexpr std::string_view kPrefix = "/bytes/";
    if (target.substr(0, kPrefix.size()) != kPrefix)
        return std::nullopt;
    const std::string_view digits = target.substr(kPrefix.size());
    if (digits.empty() || digits.size() > 10)
        return std::nullopt;
    std::uint64_t n = 0;
    for (const char c : digits) {
        if (c < '0' || c > '9')
            return std::nullopt;
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return n;
}

Response plan(const Request& request, std::uint16_t port, unsigned number) {
    const char* connection = !request.persistent             ? "Connection: close\r\n"
                             : request.version == "HTTP/1.0" ? "Connection: keep-alive\r\n"
                                                             : "";
    const auto bulk = bulkLength(request.target);
    const bool tooLarge = bulk && *bulk > kMaxBulkBytes;
    const std::string content =
        tooLarge ? "GET /bytes/N serves at most " + std::to_string(kMaxBulkBytes) + " bytes\n"
        : bulk   ? std::string()
                 : responseBody(port, number, request.method, request.target);
    const std::uint64_t length = bulk && !tooLarge ? *bulk : content.size();
    Response r;
    r.text = std::string("HTTP/1.1 ") + (tooLarge ? "413 Content Too Large" : "200 OK") +
             "\r\n"
             "Server: tcplab-lab\r\n" +
             (bulk && !tooLarge ? "Content-Type: application/octet-stream\r\n"
                                : "Content-Type: text/plain\r\n") +
             "Content-Length: " + std::to_string(length) + "\r\n" + connection + "\r\n";
    if (request.method == "HEAD")
        return r;
    r.text += content;
    if (bulk && !tooLarge)
        r.patternBytes = *bulk;
    return r;
}

std::string response(const Request& request, std::uint16_t port, unsigned number) {
    Response r = plan(request, port, number);
    const std::size_t head = r.text.size();
    r.text.resize(head + r.patternBytes);
    for (std::uint64_t i = 0; i < r.patternBytes; ++i)
        r.text[head + i] = static_cast<char>(peer::patternByte(i));
    return r.text;
}

} // namespace tcplab::lab::http
