#include "wire/tcp.h"

#include <algorithm>

#include <fmt/format.h>

// TCP options, RFC 9293 §3.2:
//
//   Case 1: a single octet of option-kind (EOL = 0, NOP = 1).
//   Case 2: an octet of option-kind (Kind), an octet of option-length, and the actual
//           option-data octets. The option-length counts the two octets of option-kind
//           and option-length as well as the option-data octets.
//
//   +--------+--------+---------...
//   |  Kind  | Length |  Data ...
//   +--------+--------+---------...

namespace tcplab::wire {

namespace {

using namespace tcp_option_kind;

TcpOption withData(std::uint8_t kind, Bytes data) noexcept {
    TcpOption o;
    o.kind = kind;
    o.data.assign(data.first(std::min(data.size(), TcpOption::kMaxData)));
    return o;
}

// Where one option at `pos` of `area` ends, or why it cannot be read. Shared by the
// validating parse and the quiet iterator so both agree on what "structure" is.
struct OptionExtent {
    std::size_t end = 0;    // one past the option's last byte
    ParseErrorCode error{}; // meaningful only when !ok
    std::uint32_t expected = 0;
    std::uint32_t actual = 0;
    bool ok = true;
};

OptionExtent extentAt(Bytes area, std::size_t pos) noexcept {
    const std::uint8_t kind = area[pos];
    if (kind == kEol || kind == kNop)
        return {pos + 1};
    const std::size_t left = area.size() - pos;
    if (left < 2) // the length byte itself is missing
        return {0, ParseErrorCode::OptionOverrun, 2, static_cast<std::uint32_t>(left), false};
    const std::uint8_t length = area[pos + 1];
    // RFC 9293 §3.2: the length counts kind and length, so anything below 2 is
    // impossible (and a length of 0 or 1 would never advance).
    if (length < 2)
        return {0, ParseErrorCode::OptionLengthInvalid, 2, length, false};
    if (length > left)
        return {0, ParseErrorCode::OptionOverrun, length, static_cast<std::uint32_t>(left), false};
    return {pos + length};
}

} // namespace

// --- TcpOption -------------------------------------------------------------------

TcpOption TcpOption::eol() {
    TcpOption o;
    o.kind = kEol;
    return o;
}

TcpOption TcpOption::nop() {
    TcpOption o;
    o.kind = kNop;
    return o;
}

TcpOption TcpOption::mss(std::uint16_t mss) {
    std::uint8_t b[2];
    store16(b, mss);
    return withData(kMss, b);
}

TcpOption TcpOption::windowScale(std::uint8_t shift) {
    const std::uint8_t b[1] = {shift};
    return withData(kWindowScale, b);
}

TcpOption TcpOption::sackPermitted() {
    TcpOption o;
    o.kind = kSackPermitted;
    return o;
}

TcpOption TcpOption::sack(std::span<const SackBlock> blocks) {
    TcpOption o;
    o.kind = kSack;
    // RFC 2018 §3: at most 4 blocks fit in 40 bytes of options.
    const std::size_t n = std::min<std::size_t>(blocks.size(), 4);
    for (std::size_t i = 0; i < n; ++i) {
        std::uint8_t b[8];
        store32(b, blocks[i].left.value());
        store32(b + 4, blocks[i].right.value());
        o.data.append(b);
    }
    return o;
}

TcpOption TcpOption::timestamps(std::uint32_t value, std::uint32_t echoReply) {
    std::uint8_t b[8];
    store32(b, value);
    store32(b + 4, echoReply);
    return withData(kTimestamps, b);
}

TcpOption TcpOption::raw(std::uint8_t kind, Bytes data, std::optional<std::uint8_t> length) {
    TcpOption o = withData(kind, data);
    o.length = length;
    return o;
}

std::optional<std::uint16_t> TcpOption::mssValue() const noexcept {
    if (kind != kMss || data.size() != 2)
        return std::nullopt;
    return load16(data.data());
}

std::optional<std::uint8_t> TcpOption::windowScaleValue() const noexcept {
    if (kind != kWindowScale || data.size() != 1)
        return std::nullopt;
    return data[0];
}

std::array<SackBlock, 4> TcpOption::sackBlocks(std::size_t& count) const noexcept {
    std::array<SackBlock, 4> blocks{};
    count = 0;
    if (kind != kSack || data.empty() || data.size() % 8 != 0 || data.size() > 32)
        return blocks;
    count = data.size() / 8;
    for (std::size_t i = 0; i < count; ++i)
        blocks[i] = {SeqNum(load32(data.data() + 8 * i)), SeqNum(load32(data.data() + 8 * i + 4))};
    return blocks;
}

std::optional<std::pair<std::uint32_t, std::uint32_t>> TcpOption::timestampsValue() const noexcept {
    if (kind != kTimestamps || data.size() != 8)
        return std::nullopt;
    return std::pair{load32(data.data()), load32(data.data() + 4)};
}

std::string_view TcpOption::name() const noexcept {
    switch (kind) {
    case kEol:
        return "EOL";
    case kNop:
        return "NOP";
    case kMss:
        return "MSS";
    case kWindowScale:
        return "WScale";
    case kSackPermitted:
        return "SAckOK";
    case kSack:
        return "SAck";
    case kTimestamps:
        return "Timestamp";
    default:
        return "";
    }
}

std::string TcpOption::summary() const {
    if (kind == kEol)
        return "EOL";
    if (kind == kNop)
        return "NOP";
    // A known option is summarized by value only when its length byte tells the truth;
    // otherwise (deliberately wrong length, odd data size) it is shown raw.
    if (wireLength() == 2 + data.size()) {
        if (auto v = mssValue())
            return fmt::format("MSS={}", *v);
        if (auto v = windowScaleValue())
            return fmt::format("WS={}", *v);
        if (kind == kSackPermitted && data.empty())
            return "SACK_PERM";
        std::size_t count = 0;
        const auto blocks = sackBlocks(count);
        if (count > 0) {
            std::string s = "SACK=";
            for (std::size_t i = 0; i < count; ++i)
                s += fmt::format("{}{}-{}", i ? "," : "", blocks[i].left.value(),
                                 blocks[i].right.value());
            return s;
        }
        if (auto v = timestampsValue())
            return fmt::format("TS={}:{}", v->first, v->second);
    }
    return fmt::format("kind={} len={} [{}]", kind, wireLength(), toHex(data.bytes()));
}

// --- TcpOptionList ---------------------------------------------------------------

tl::expected<TcpOptionList, ParseError>
TcpOptionList::fromBytes(Bytes area, std::uint32_t areaOffset, bool* nonZeroAfterEol) {
    TcpOptionList list;
    if (auto error = parseInto(list, area, areaOffset, nonZeroAfterEol))
        return tl::unexpected(*error);
    return list;
}

std::optional<ParseError> TcpOptionList::parseInto(TcpOptionList& out, Bytes area,
                                                   std::uint32_t areaOffset,
                                                   bool* nonZeroAfterEol) noexcept {
    if (area.size() > kCapacity) {
        // Cannot come from a header (data offset 15 leaves 40 bytes); a caller's misuse.
        return ParseError{ParseErrorCode::OptionOverrun,
                          "tcp",
                          "options",
                          areaOffset + static_cast<std::uint32_t>(kCapacity),
                          static_cast<std::uint32_t>(kCapacity),
                          static_cast<std::uint32_t>(area.size())};
    }
    std::size_t pos = 0;
    bool afterEol = false;
    while (pos < area.size()) {
        // RFC 9293 §3.2: EOL marks the end of the option list; what follows is padding.
        if (area[pos] == kEol) {
            afterEol = std::any_of(area.begin() + static_cast<std::ptrdiff_t>(pos) + 1, area.end(),
                                   [](std::uint8_t b) { return b != 0; });
            break;
        }
        const OptionExtent e = extentAt(area, pos);
        if (!e.ok)
            return ParseError{e.error,    "tcp",
                              "options",  areaOffset + static_cast<std::uint32_t>(pos),
                              e.expected, e.actual};
        pos = e.end;
    }
    if (nonZeroAfterEol)
        *nonZeroAfterEol = afterEol;
    out.m_bytes.assign(area);
    return std::nullopt;
}

TcpOptionList TcpOptionList::fromRawBytes(Bytes area) {
    TcpOptionList list;
    list.m_bytes.assign(area.first(std::min(area.size(), kCapacity)));
    return list;
}

bool TcpOptionList::append(const TcpOption& option) noexcept {
    if (option.wireSize() > kCapacity - m_bytes.size())
        return false;
    if (option.isSingleByte())
        return m_bytes.push(option.kind);
    const std::uint8_t head[2] = {option.kind, option.wireLength()};
    m_bytes.append(head);
    m_bytes.append(option.data.bytes());
    return true;
}

std::optional<std::size_t> TcpOptionList::eolOffset() const noexcept {
    // The iterator's walk without building options (parse calls this on every segment).
    const Bytes area = bytes();
    for (std::size_t pos = 0; pos < area.size();) {
        if (area[pos] == kEol)
            return pos;
        const OptionExtent e = extentAt(area, pos);
        if (!e.ok)
            return std::nullopt;
        pos = e.end;
    }
    return std::nullopt;
}

bool TcpOptionList::nonZeroAfterEol() const noexcept {
    const auto eol = eolOffset();
    if (!eol)
        return false;
    const Bytes rest = bytes().subspan(*eol + 1);
    return std::any_of(rest.begin(), rest.end(), [](std::uint8_t b) { return b != 0; });
}

void TcpOptionList::Iterator::load() noexcept {
    m_current = TcpOption{};
    if (m_pos >= m_bytes.size()) {
        m_pos = m_next = m_bytes.size();
        return;
    }
    m_current.kind = m_bytes[m_pos];
    if (m_current.kind == kEol) {
        // Yield the EOL itself, then stop: the rest is padding.
        m_next = m_bytes.size();
        return;
    }
    const OptionExtent e = extentAt(m_bytes, m_pos);
    const bool singleByte = e.ok && e.end == m_pos + 1;
    const bool read =
        singleByte ||
        (e.ok && m_current.data.assign(m_bytes.subspan(m_pos + 2, e.end - m_pos - 2)));
    if (!read) {
        // Broken bytes (only possible in a raw list): stop quietly, this is the end.
        m_current = TcpOption{};
        m_pos = m_next = m_bytes.size();
        return;
    }
    m_next = e.end;
}

TcpOptionList::Iterator& TcpOptionList::Iterator::operator++() noexcept {
    m_pos = m_next;
    load();
    return *this;
}

std::optional<Bytes> TcpOptionList::findData(std::uint8_t kind) const noexcept {
    const Bytes area = bytes();
    for (std::size_t pos = 0; pos < area.size();) {
        const std::uint8_t k = area[pos];
        if (k == kEol)
            return kind == kEol ? std::optional<Bytes>(Bytes()) : std::nullopt;
        const OptionExtent e = extentAt(area, pos);
        if (!e.ok)
            return std::nullopt;
        if (k == kind)
            return k == kNop ? Bytes() : area.subspan(pos + 2, e.end - pos - 2);
        pos = e.end;
    }
    return std::nullopt;
}

std::optional<std::uint16_t> TcpOptionList::mss() const noexcept {
    const auto data = findData(kMss);
    if (!data || data->size() != 2)
        return std::nullopt;
    return load16(data->data());
}

std::optional<std::uint8_t> TcpOptionList::windowScale() const noexcept {
    const auto data = findData(kWindowScale);
    if (!data || data->size() != 1)
        return std::nullopt;
    return (*data)[0];
}

bool TcpOptionList::sackPermitted() const noexcept {
    const auto data = findData(kSackPermitted);
    return data && data->empty();
}

std::optional<std::pair<std::uint32_t, std::uint32_t>> TcpOptionList::timestamps() const noexcept {
    const auto data = findData(kTimestamps);
    if (!data || data->size() != 8)
        return std::nullopt;
    return std::pair{load32(data->data()), load32(data->data() + 4)};
}

} // namespace tcplab::wire
