#pragma once

#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/diagnostic.h"
#include "wire/field.h"
#include "wire/parse_error.h"
#include "wire/seq_num.h"

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace tcplab::wire {

// TCP header, RFC 9293 §3.1:
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |          Source Port          |       Destination Port        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                        Sequence Number                        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                    Acknowledgment Number                      |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  Data |       |C|E|U|A|P|R|S|F|                               |
//   | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//   |       |       |R|E|G|K|H|T|N|N|                               |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |           Checksum            |         Urgent Pointer        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                           [Options]                           |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
enum class TcpField : std::uint8_t {
    Sport,
    Dport,
    Seq,
    Ack,
    Dataofs,
    Reserved,
    Flags,
    Window,
    Chksum,
    Urgptr
};
inline constexpr std::array<FieldDescriptor, 10> kTcpFields{{
    {"sport", "Source port", 0, 16, FieldFormat::Decimal, false, "port of the sending application",
     "RFC 9293 §3.1"},
    {"dport", "Destination port", 16, 16, FieldFormat::Decimal, false,
     "port of the receiving application", "RFC 9293 §3.1"},
    {"seq", "Sequence number", 32, 32, FieldFormat::Decimal, false,
     "number of the first data byte (the ISN when SYN is set)", "RFC 9293 §3.1, §3.4"},
    {"ack", "Acknowledgment number", 64, 32, FieldFormat::Decimal, false,
     "next sequence number the sender expects, when ACK is set", "RFC 9293 §3.1"},
    {"dataofs", "Data offset", 96, 4, FieldFormat::Decimal, true,
     "header length in 32-bit words (5 without options)", "RFC 9293 §3.1"},
    {"reserved", "Reserved", 100, 4, FieldFormat::Decimal, false,
     "must be zero; bit 3 was NS (RFC 3540, historic)", "RFC 9293 §3.1"},
    {"flags", "Flags", 104, 8, FieldFormat::TcpFlags, false, "CWR ECE URG ACK PSH RST SYN FIN",
     "RFC 9293 §3.1, RFC 3168 §6.1"},
    {"window", "Window", 112, 16, FieldFormat::Decimal, false,
     "bytes the sender can receive, before scaling", "RFC 9293 §3.1, RFC 7323 §2"},
    {"chksum", "Checksum", 128, 16, FieldFormat::Hex, true,
     "over the pseudo-header, header and data", "RFC 9293 §3.1"},
    {"urgptr", "Urgent pointer", 144, 16, FieldFormat::Decimal, false,
     "offset of the end of urgent data, when URG is set", "RFC 9293 §3.1, §3.8.5"},
}};
static_assert(fieldsTile(kTcpFields, 160));
inline constexpr ProtocolDescriptor kTcpProtocol{"tcp", "TCP", kTcpFields,
                                                 headerLengthOf(kTcpFields), "RFC 9293"};

namespace tcp_flags {
inline constexpr std::uint8_t kFin = 0x01;
inline constexpr std::uint8_t kSyn = 0x02;
inline constexpr std::uint8_t kRst = 0x04;
inline constexpr std::uint8_t kPsh = 0x08;
inline constexpr std::uint8_t kAck = 0x10;
inline constexpr std::uint8_t kUrg = 0x20;
inline constexpr std::uint8_t kEce = 0x40;
inline constexpr std::uint8_t kCwr = 0x80;
/// The flag letters, one per bit from FIN up, as scapy spells them.
inline constexpr std::string_view kLetters = "FSRPAUEC";
} // namespace tcp_flags

/// "SA", "PA", "FA" ...: scapy's letters in bit order; "" when no flag is set.
std::string tcpFlagsToString(std::uint8_t flags);
/// Parses scapy letters (any order, case-sensitive as scapy: F S R P A U E C); also
/// accepts a number ("18", "0x12"). Errors name the offending character.
tl::expected<std::uint8_t, std::string> parseTcpFlags(std::string_view text);
/// "SYN, ACK" for a person.
std::string tcpFlagsToWords(std::uint8_t flags);

namespace tcp_option_kind {
inline constexpr std::uint8_t kEol = 0;           ///< RFC 9293 §3.2
inline constexpr std::uint8_t kNop = 1;           ///< RFC 9293 §3.2
inline constexpr std::uint8_t kMss = 2;           ///< RFC 9293 §3.7.1
inline constexpr std::uint8_t kWindowScale = 3;   ///< RFC 7323 §2.2
inline constexpr std::uint8_t kSackPermitted = 4; ///< RFC 2018 §2
inline constexpr std::uint8_t kSack = 5;          ///< RFC 2018 §3
inline constexpr std::uint8_t kTimestamps = 8;    ///< RFC 7323 §3.2
} // namespace tcp_option_kind

struct SackBlock {
    SeqNum left;  ///< first sequence number of the block
    SeqNum right; ///< sequence number just after the block
    friend bool operator==(const SackBlock&, const SackBlock&) = default;
};

/// One TCP option as it stands on the wire: kind, length and data. Built with the
/// named constructors; typed accessors read it back when kind and size agree.
/// A deliberately wrong length is one `length = ...` away: emit writes it verbatim.
struct TcpOption {
    static constexpr std::size_t kMaxData = 38; ///< 40 bytes of options less kind and length

    std::uint8_t kind = tcp_option_kind::kNop;
    /// Auto: 2 + data size. Set: written verbatim. EOL and NOP have no length byte.
    std::optional<std::uint8_t> length;
    InlineBytes<kMaxData> data;

    static TcpOption eol();
    static TcpOption nop();
    static TcpOption mss(std::uint16_t mss);
    static TcpOption windowScale(std::uint8_t shift);
    static TcpOption sackPermitted();
    /// At most 4 blocks fit (RFC 2018 §3); extra blocks are dropped.
    static TcpOption sack(std::span<const SackBlock> blocks);
    static TcpOption timestamps(std::uint32_t value, std::uint32_t echoReply);
    static TcpOption raw(std::uint8_t kind, Bytes data,
                         std::optional<std::uint8_t> length = std::nullopt);

    bool isSingleByte() const noexcept {
        return kind == tcp_option_kind::kEol || kind == tcp_option_kind::kNop;
    }
    /// Bytes on the wire: 1 for EOL/NOP, else 2 + data.
    std::size_t wireSize() const noexcept { return isSingleByte() ? 1 : 2 + data.size(); }
    /// The length byte that goes on the wire.
    std::uint8_t wireLength() const noexcept {
        return length.value_or(static_cast<std::uint8_t>(2 + data.size()));
    }

    std::optional<std::uint16_t> mssValue() const noexcept;
    std::optional<std::uint8_t> windowScaleValue() const noexcept;
    /// SACK blocks (up to 4), empty when not a well-formed SACK option.
    std::array<SackBlock, 4> sackBlocks(std::size_t& count) const noexcept;
    std::optional<std::pair<std::uint32_t, std::uint32_t>> timestampsValue() const noexcept;

    /// scapy's option name: "EOL", "NOP", "MSS", "WScale", "SAckOK", "SAck", "Timestamp";
    /// "" for a kind scapy does not name.
    std::string_view name() const noexcept;
    /// "MSS=1460", "WS=7", "SACK_PERM", "SACK=1001-2001,3001-4001", "TS=1:0", "EOL", "NOP";
    /// anything else, or a known kind whose length or size is off: "kind=254 len=4 [0a0b]".
    std::string summary() const;
    friend bool operator==(const TcpOption&, const TcpOption&) = default;
};

/// The options of one TCP header, kept as the exact bytes between the fixed header
/// and the data (at most 40), so a header with odd options re-emits byte for byte.
/// Iterating yields TcpOption values; construction validates structure.
class TcpOptionList {
public:
    static constexpr std::size_t kCapacity = 40;

    TcpOptionList() = default;

    /// Validates the options area of a received header (RFC 9293 §3.2: options
    /// are either a single kind byte or kind, length, data with length >= 2 and
    /// inside the area). Everything after EOL is padding and not parsed.
    /// `nonZeroAfterEol`, when given, receives what nonZeroAfterEol() would return, found
    /// in the same walk.
    static tl::expected<TcpOptionList, ParseError>
    fromBytes(Bytes area, std::uint32_t areaOffset = 20, bool* nonZeroAfterEol = nullptr);
    /// fromBytes() into `out` (a parser's own storage, so the list is not copied): nullopt
    /// on success, else the error (out is then unchanged).
    static std::optional<ParseError> parseInto(TcpOptionList& out, Bytes area,
                                               std::uint32_t areaOffset = 20,
                                               bool* nonZeroAfterEol = nullptr) noexcept;
    /// Bytes as they are, without validation (for deliberately broken options).
    static TcpOptionList fromRawBytes(Bytes area);

    /// Appends an option's wire bytes; false if it does not fit in 40 bytes.
    bool append(const TcpOption& option) noexcept;
    void clear() noexcept { m_bytes.clear(); }

    Bytes bytes() const noexcept { return m_bytes.bytes(); }
    std::size_t byteSize() const noexcept { return m_bytes.size(); }
    /// Rounded up to a multiple of 4 with zero bytes (EOL), as emitted.
    std::size_t paddedSize() const noexcept { return (m_bytes.size() + 3u) & ~std::size_t{3}; }
    bool empty() const noexcept { return m_bytes.empty(); }

    /// Iterates options up to and including an EOL, stopping quietly at anything
    /// that does not parse (raw lists can hold broken bytes).
    class Iterator {
    public:
        using value_type = TcpOption;
        using difference_type = std::ptrdiff_t;
        Iterator() = default;
        Iterator(Bytes bytes, std::size_t pos)
            : m_bytes(bytes)
            , m_pos(pos) {
            load();
        }
        const TcpOption& operator*() const noexcept { return m_current; }
        const TcpOption* operator->() const noexcept { return &m_current; }
        Iterator& operator++() noexcept;
        Iterator operator++(int) noexcept {
            auto old = *this;
            ++*this;
            return old;
        }
        bool operator==(const Iterator& other) const noexcept { return m_pos == other.m_pos; }
        /// Offset of the current option within the options area.
        std::size_t offset() const noexcept { return m_pos; }

    private:
        void load() noexcept;
        Bytes m_bytes;
        std::size_t m_pos = 0;
        std::size_t m_next = 0;
        TcpOption m_current;
    };
    Iterator begin() const noexcept { return Iterator(bytes(), 0); }
    Iterator end() const noexcept { return Iterator(bytes(), bytes().size()); }

    /// Offset of the first EOL within the area, as iterating finds it; nullopt without one.
    std::optional<std::size_t> eolOffset() const noexcept;
    /// True when a byte after the EOL is not zero (RFC 9293 §3.1: the rest is padding,
    /// which is zero; TcpOptionAfterEolNotZero on parse).
    bool nonZeroAfterEol() const noexcept;

    /// Typed look-ups of the first option of a kind.
    std::optional<std::uint16_t> mss() const noexcept;
    std::optional<std::uint8_t> windowScale() const noexcept;
    bool sackPermitted() const noexcept;
    std::optional<std::pair<std::uint32_t, std::uint32_t>> timestamps() const noexcept;

    friend bool operator==(const TcpOptionList&, const TcpOptionList&) = default;

private:
    /// The data of the first option of `kind`, walked as the iterator walks (stopping at
    /// EOL or broken bytes) without building TcpOption values; nullopt when absent.
    std::optional<Bytes> findData(std::uint8_t kind) const noexcept;

    InlineBytes<kCapacity> m_bytes;
};

struct TcpHeader {
    static constexpr std::size_t kMinLength = headerLengthOf(kTcpFields);

    std::uint16_t srcPort = 0;
    std::uint16_t dstPort = 0;
    SeqNum seq;
    SeqNum ack;
    std::optional<std::uint8_t> dataOffset; ///< auto: (20 + padded options) / 4
    std::uint8_t reserved = 0;              ///< 4 bits
    std::uint8_t flags = 0;                 ///< tcp_flags
    std::uint16_t window = 64240;
    std::optional<std::uint16_t> checksum; ///< auto: computed under the pseudo-header
    std::uint16_t urgentPointer = 0;
    TcpOptionList options;

    bool has(std::uint8_t flag) const noexcept { return (flags & flag) == flag; }

    /// Parses a segment (header, options; the data is what follows headerLength()).
    /// Fails on truncation, data offset < 5, a data offset past the bytes, or options
    /// that break structure. With a pseudo-header the checksum is verified: right
    /// stays auto, wrong is kept as override with TcpChecksumBad (or TcpChecksumPartial
    /// when it equals the offload value). Without one it is kept as read.
    static tl::expected<TcpHeader, ParseError> parse(Bytes segment, const PseudoHeader* pseudo,
                                                     Diagnostics* diagnostics = nullptr);
    /// parse() into `h`, a default-constructed header (a decoder's own storage, so the
    /// header is not copied): nullopt on success, else the error (h is then unspecified).
    static std::optional<ParseError> parseInto(TcpHeader& h, Bytes segment,
                                               const PseudoHeader* pseudo,
                                               Diagnostics* diagnostics = nullptr) noexcept;

    /// Bytes of header as emitted: 20 + padded options (independent of a dataOffset override).
    std::size_t headerLength() const noexcept { return kMinLength + options.paddedSize(); }
    /// Writes the header followed by `payload` into `out` (which must hold
    /// headerLength() + payload.size() bytes) and the checksum under `pseudo`.
    /// Returns the bytes written.
    std::size_t emit(std::uint8_t* out, Bytes payload, const PseudoHeader& pseudo) const noexcept;
    /// Sequence space the segment occupies: data + SYN + FIN (RFC 9293 §3.4).
    std::uint32_t sequenceLength(std::size_t payloadLength) const noexcept {
        return static_cast<std::uint32_t>(payloadLength) + (has(tcp_flags::kSyn) ? 1u : 0u) +
               (has(tcp_flags::kFin) ? 1u : 0u);
    }
    friend bool operator==(const TcpHeader&, const TcpHeader&) = default;
};

} // namespace tcplab::wire
