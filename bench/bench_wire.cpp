// Encode and decode rate of one Ethernet/IPv4/TCP frame: tcplab against libtins (its
// fastest mode: PDU objects built once and reused) and against a hand-written loop that
// fills the same bytes and computes both checksums (the practical limit).
//
// The frame, identical for every contender (checked byte for byte before timing):
//   Ethernet 02:42:c6:12:00:02 -> 02:42:c6:12:00:01, IPv4 198.18.0.2 -> 198.18.0.1
//   (id 0x1c46, DF, TTL 64), TCP 50000 -> 50001 PA, window 64240, options MSS 1460,
//   SACK-Permitted, Timestamps, NOP, WScale 7 (20 bytes), payload "GET / HTTP/1.1\r\n\r\n"
//   (18 bytes): 14 + 20 + 40 + 18 = 92 bytes.
// Each encode iteration bumps the sequence number and the timestamp value, so both
// checksums change and nothing can be hoisted out of the loop. Decoders cycle through a
// ring of such frames, each with its own sequence number and timestamp.
//
// After the runs a table prints the ratios the issue sets goals for (same run, same
// machine): tcplab/libtins >= 2 and hand-written/tcplab <= 4, for encode and decode.

#include "wire/bytes.h"
#include "wire/frame.h"
#include "wire/segment_spec.h"
#include "wire/tcp.h"

#include <benchmark/benchmark.h>

#if TCPLAB_HAVE_LIBTINS
#include <tins/ethernetII.h>
#include <tins/ip.h>
#include <tins/rawpdu.h>
#include <tins/tcp.h>
#endif

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

namespace {

using namespace tcplab::wire;

// --- The frame ------------------------------------------------------------------------

constexpr std::array<std::uint8_t, 6> kDstMac{0x02, 0x42, 0xc6, 0x12, 0x00, 0x01};
constexpr std::array<std::uint8_t, 6> kSrcMac{0x02, 0x42, 0xc6, 0x12, 0x00, 0x02};
constexpr std::uint32_t kSrcIp = 0xc6120002; // 198.18.0.2 (RFC 2544 benchmarking range)
constexpr std::uint32_t kDstIp = 0xc6120001; // 198.18.0.1
constexpr std::uint16_t kIpId = 0x1c46;
constexpr std::uint8_t kTtl = 64;
constexpr std::uint16_t kSrcPort = 50000;
constexpr std::uint16_t kDstPort = 50001;
constexpr std::uint32_t kFirstSeq = 0x3b9aca00;
constexpr std::uint32_t kAck = 0x6b8b4567;
constexpr std::uint8_t kFlags = tcp_flags::kPsh | tcp_flags::kAck;
constexpr std::uint16_t kWindow = 64240;
constexpr std::uint16_t kMss = 1460;
constexpr std::uint8_t kWindowShift = 7;
constexpr std::uint32_t kFirstTsVal = 2718281;
constexpr std::uint32_t kTsEcr = 3141592;
constexpr std::string_view kPayload = "GET / HTTP/1.1\r\n\r\n";
constexpr std::size_t kFrameLength = 14 + 20 + 40 + kPayload.size();
static_assert(kFrameLength == 92);

// Offsets of what changes per iteration, in the options area: MSS (4), SACK-Permitted (2),
// then Timestamps kind, length, TSval, TSecr.
constexpr std::size_t kTsValInOptions = 4 + 2 + 2;

const std::vector<std::uint8_t>& payloadBytes() {
    static const std::vector<std::uint8_t> bytes(kPayload.begin(), kPayload.end());
    return bytes;
}

std::vector<std::uint8_t> copyOf(Bytes b) {
    return {b.begin(), b.end()};
}

[[noreturn]] void die(const std::string& message) {
    std::fprintf(stderr, "bench_wire: %s\n", message.c_str());
    std::exit(EXIT_FAILURE);
}

// --- tcplab ---------------------------------------------------------------------------

// A SegmentSpec built once; per frame only the sequence number and the timestamp value
// change. The options are replaced by their raw bytes with TSval patched (the cheapest
// public way: TcpOptionList has no in-place edit of one option).
class TcplabEncoder {
public:
    TcplabEncoder() {
        m_spec.ethernet.dst.octets = kDstMac;
        m_spec.ethernet.src.octets = kSrcMac;
        Ipv4Header ip;
        ip.id = kIpId;
        ip.flags = ipv4_flags::kDontFragment;
        ip.ttl = kTtl;
        ip.src = Ipv4Address::fromUint(kSrcIp);
        ip.dst = Ipv4Address::fromUint(kDstIp);
        m_spec.ip = ip;
        m_spec.tcp.srcPort = kSrcPort;
        m_spec.tcp.dstPort = kDstPort;
        m_spec.tcp.ack = SeqNum(kAck);
        m_spec.tcp.flags = kFlags;
        m_spec.tcp.window = kWindow;
        m_spec.tcp.options = typedOptions(kFirstTsVal);
        m_spec.payload = payloadBytes();
        const Bytes area = m_spec.tcp.options.bytes();
        if (area.size() != m_area.size())
            die("tcplab options are not 20 bytes");
        std::copy(area.begin(), area.end(), m_area.begin());
    }

    /// The five options through the typed constructors, in Linux's SYN order.
    static TcpOptionList typedOptions(std::uint32_t tsVal) {
        TcpOptionList options;
        options.append(TcpOption::mss(kMss));
        options.append(TcpOption::sackPermitted());
        options.append(TcpOption::timestamps(tsVal, kTsEcr));
        options.append(TcpOption::nop());
        options.append(TcpOption::windowScale(kWindowShift));
        return options;
    }

    Bytes encode(std::uint32_t seq, std::uint32_t tsVal) noexcept {
        m_spec.tcp.seq = SeqNum(seq);
        store32(m_area.data() + kTsValInOptions, tsVal);
        m_spec.tcp.options = TcpOptionList::fromRawBytes(m_area);
        return write();
    }

    /// The same change made the way a user editing options would: rebuild them typed.
    Bytes encodeTyped(std::uint32_t seq, std::uint32_t tsVal) noexcept {
        m_spec.tcp.seq = SeqNum(seq);
        m_spec.tcp.options = typedOptions(tsVal);
        return write();
    }

private:
    Bytes write() noexcept {
        const auto n = m_spec.encode(MutableBytes(m_buffer));
        return n ? Bytes(m_buffer.data(), *n) : Bytes();
    }

    SegmentSpec m_spec;
    std::array<std::uint8_t, TcpOptionList::kCapacity / 2> m_area{};
    std::array<std::uint8_t, 256> m_buffer{};
};

struct Decoded {
    std::uint32_t seq = 0;
    std::uint16_t mss = 0;
    bool checksumsOk = false;
};

Decoded decodeTcplab(Bytes frame) {
    const Frame f = decodeFrame(frame);
    const TcpHeader* tcp = f.tcp();
    if (!tcp)
        return {};
    const bool ok = !f.malformed && !f.diagnostics.has(Diagnostic::Ipv4ChecksumBad) &&
                    !f.diagnostics.has(Diagnostic::TcpChecksumBad);
    return {tcp->seq.value(), tcp->options.mss().value_or(0), ok};
}

// --- hand-written ---------------------------------------------------------------------

// What a competent engineer writes without a library: htons/htonl stores, memcpy for the
// addresses and payload, and the RFC 1071 sum as native 32-bit loads into a 64-bit
// accumulator, folded once. Independent of tcplab's InternetChecksum on purpose.
namespace hand {

// htons/htonl and one store each, as network code does (byte-wise stores are left to the
// compiler to merge, which it does not always do).
inline std::uint16_t toNet(std::uint16_t v) {
    if constexpr (std::endian::native == std::endian::little)
        return static_cast<std::uint16_t>((v >> 8) | (v << 8));
    else
        return v;
}
inline std::uint32_t toNet(std::uint32_t v) {
    if constexpr (std::endian::native == std::endian::little)
        return (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24);
    else
        return v;
}
inline void be16(std::uint8_t* p, std::uint16_t v) {
    const std::uint16_t n = toNet(v);
    std::memcpy(p, &n, 2);
}
inline void be32(std::uint8_t* p, std::uint32_t v) {
    const std::uint32_t n = toNet(v);
    std::memcpy(p, &n, 4);
}
inline std::uint16_t rd16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
inline std::uint32_t rd32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           p[3];
}

// Ones' complement sum of `n` bytes in native order (RFC 1071 §2(B): byte order only
// matters when storing the result, which is stored natively too).
inline std::uint64_t sum(const std::uint8_t* p, std::size_t n) {
    std::uint64_t s = 0;
    for (; n >= 4; p += 4, n -= 4) {
        std::uint32_t w;
        std::memcpy(&w, p, 4);
        s += w;
    }
    if (n >= 2) {
        std::uint16_t w;
        std::memcpy(&w, p, 2);
        s += w;
        p += 2;
        n -= 2;
    }
    if (n == 1) {
        const std::uint8_t last[2] = {*p, 0};
        std::uint16_t w;
        std::memcpy(&w, last, 2);
        s += w;
    }
    return s;
}

// The same sum over bytes stored a moment ago by 1-, 2- and 4-byte stores (encode). GCC -O3
// vectorizes sum()'s loop into 16-byte loads, and a load wider than the stores it reads
// cannot be store-forwarded: it waits for them to reach the cache (about 10 ns per frame
// on the bench machine). Kept scalar here, its 32-bit loads are forwarded; for bytes at
// rest (decode) the vectorized loop is the faster one.
#if defined(__GNUC__) && !defined(__clang__)
#define TCPLAB_BENCH_SCALAR __attribute__((optimize("no-tree-vectorize")))
#else
#define TCPLAB_BENCH_SCALAR
#endif
TCPLAB_BENCH_SCALAR inline std::uint64_t sumJustWritten(const std::uint8_t* p, std::size_t n) {
    return sum(p, n);
}

inline std::uint16_t fold(std::uint64_t s) {
    s = (s & 0xffffffff) + (s >> 32);
    s = (s & 0xffffffff) + (s >> 32);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    return static_cast<std::uint16_t>(s);
}

inline void storeChecksum(std::uint8_t* p, std::uint64_t s) {
    const auto c = static_cast<std::uint16_t>(~fold(s));
    std::memcpy(p, &c, 2); // native order, as summed
}

// Pseudo-header (RFC 9293 §3.1) of an IPv4 header at `ip`, for `tcpLength` bytes.
inline std::uint64_t pseudoSum(const std::uint8_t* ip, std::size_t tcpLength) {
    std::uint32_t src;
    std::uint32_t dst;
    std::memcpy(&src, ip + 12, 4);
    std::memcpy(&dst, ip + 16, 4);
    // Protocol and length as the native-order load of their network-order bytes reads them.
    return std::uint64_t{src} + dst + toNet(std::uint16_t{6}) +
           toNet(static_cast<std::uint16_t>(tcpLength));
}

struct Fields {
    std::array<std::uint8_t, 6> dstMac = kDstMac;
    std::array<std::uint8_t, 6> srcMac = kSrcMac;
    std::uint32_t srcIp = kSrcIp;
    std::uint32_t dstIp = kDstIp;
    std::uint16_t id = kIpId;
    std::uint8_t ttl = kTtl;
    std::uint16_t srcPort = kSrcPort;
    std::uint16_t dstPort = kDstPort;
    std::uint32_t seq = kFirstSeq;
    std::uint32_t ack = kAck;
    std::uint8_t flags = kFlags;
    std::uint16_t window = kWindow;
    std::uint16_t mss = kMss;
    std::uint8_t windowShift = kWindowShift;
    std::uint32_t tsVal = kFirstTsVal;
    std::uint32_t tsEcr = kTsEcr;
    const std::uint8_t* payload = payloadBytes().data();
    std::size_t payloadLength = payloadBytes().size();
};

// Writes every byte of the frame from `f` (nothing from a template) and both checksums.
inline std::size_t encode(const Fields& f, std::uint8_t* out) {
    std::memcpy(out, f.dstMac.data(), 6);
    std::memcpy(out + 6, f.srcMac.data(), 6);
    be16(out + 12, 0x0800);

    std::uint8_t* ip = out + 14;
    constexpr std::size_t tcpHeader = 40;
    const std::size_t tcpLength = tcpHeader + f.payloadLength;
    ip[0] = 0x45;
    ip[1] = 0;
    be16(ip + 2, static_cast<std::uint16_t>(20 + tcpLength));
    be16(ip + 4, f.id);
    be16(ip + 6, 0x4000); // DF, offset 0
    ip[8] = f.ttl;
    ip[9] = 6;
    ip[10] = 0;
    ip[11] = 0;
    be32(ip + 12, f.srcIp);
    be32(ip + 16, f.dstIp);
    storeChecksum(ip + 10, sumJustWritten(ip, 20));

    std::uint8_t* tcp = ip + 20;
    be16(tcp, f.srcPort);
    be16(tcp + 2, f.dstPort);
    be32(tcp + 4, f.seq);
    be32(tcp + 8, f.ack);
    tcp[12] = static_cast<std::uint8_t>((tcpHeader / 4) << 4);
    tcp[13] = f.flags;
    be16(tcp + 14, f.window);
    tcp[16] = 0;
    tcp[17] = 0;
    be16(tcp + 18, 0);
    std::uint8_t* o = tcp + 20;
    o[0] = 2; // MSS
    o[1] = 4;
    be16(o + 2, f.mss);
    o[4] = 4; // SACK-Permitted
    o[5] = 2;
    o[6] = 8; // Timestamps
    o[7] = 10;
    be32(o + 8, f.tsVal);
    be32(o + 12, f.tsEcr);
    o[16] = 1; // NOP
    o[17] = 3; // Window scale
    o[18] = 3;
    o[19] = f.windowShift;
    std::memcpy(tcp + tcpHeader, f.payload, f.payloadLength);
    storeChecksum(tcp + 16, pseudoSum(ip, tcpLength) + sumJustWritten(tcp, tcpLength));
    return 14 + 20 + tcpLength;
}

// Structure checks as any decoder needs them, both checksums verified, then the fields.
inline Decoded decode(const std::uint8_t* p, std::size_t n) {
    Decoded d;
    if (n < 14 + 20 || rd16(p + 12) != 0x0800)
        return d;
    const std::uint8_t* ip = p + 14;
    const std::size_t ihl = std::size_t{ip[0] & 0x0fu} * 4;
    const std::size_t total = rd16(ip + 2);
    if ((ip[0] >> 4) != 4 || ihl < 20 || total < ihl || 14 + total > n)
        return d;
    if ((rd16(ip + 6) & 0x3fff) != 0 || ip[9] != 6) // a fragment, or not TCP
        return d;
    const bool ipOk = fold(sum(ip, ihl)) == 0xffff;
    const std::uint8_t* tcp = ip + ihl;
    const std::size_t tcpLength = total - ihl;
    if (tcpLength < 20)
        return d;
    const std::size_t doff = std::size_t{tcp[12]} >> 4 << 2;
    if (doff < 20 || doff > tcpLength)
        return d;
    const bool tcpOk = fold(pseudoSum(ip, tcpLength) + sum(tcp, tcpLength)) == 0xffff;
    d.seq = rd32(tcp + 4);
    for (std::size_t i = 20; i < doff;) {
        const std::uint8_t kind = tcp[i];
        if (kind == 0)
            break;
        if (kind == 1) {
            ++i;
            continue;
        }
        if (i + 1 >= doff || tcp[i + 1] < 2 || i + tcp[i + 1] > doff)
            return {};
        if (kind == 2 && tcp[i + 1] == 4)
            d.mss = rd16(tcp + i + 2);
        i += tcp[i + 1];
    }
    d.checksumsOk = ipOk && tcpOk;
    return d;
}

} // namespace hand

class HandEncoder {
public:
    Bytes encode(std::uint32_t seq, std::uint32_t tsVal) noexcept {
        m_fields.seq = seq;
        m_fields.tsVal = tsVal;
        return {m_buffer.data(), hand::encode(m_fields, m_buffer.data())};
    }
    hand::Fields& fields() noexcept { return m_fields; }

private:
    hand::Fields m_fields;
    std::array<std::uint8_t, 256> m_buffer{};
};

// --- libtins --------------------------------------------------------------------------

#if TCPLAB_HAVE_LIBTINS
// The PDU chain built once; per frame the sequence number is set and the Timestamps
// option's value replaced in place. libtins has no public way to edit one option
// (TCP::timestamp() appends another; remove_option + add would move it to the end and
// change the bytes), so the options vector is reached through const_cast: cheaper than
// anything its public API allows, which only favours libtins.
class TinsEncoder {
public:
    TinsEncoder() {
        using namespace Tins;
        const HWAddress<6> dst(kDstMac.data());
        const HWAddress<6> src(kSrcMac.data());
        IP ip(IPv4Address(hostToNet(kDstIp)), IPv4Address(hostToNet(kSrcIp)));
        ip.id(kIpId);
        ip.flags(IP::DONT_FRAGMENT);
        ip.ttl(kTtl);
        ip.tos(0);
        TCP tcp(kDstPort, kSrcPort);
        tcp.ack_seq(kAck);
        tcp.flags(TCP::PSH | TCP::ACK);
        tcp.window(kWindow);
        tcp.mss(kMss);
        tcp.sack_permitted();
        tcp.timestamp(kFirstTsVal, kTsEcr);
        tcp.add_option(TCP::option(TCP::NOP));
        tcp.winscale(kWindowShift);
        const auto& payload = payloadBytes();
        m_packet = EthernetII(dst, src) / ip / tcp / RawPDU(payload.begin(), payload.end());
        m_tcp = &m_packet.rfind_pdu<TCP>();
        auto& options = const_cast<TCP::options_type&>(m_tcp->options());
        for (auto& o : options)
            if (o.option() == TCP::TSOPT)
                m_timestamp = &o;
        if (!m_timestamp)
            die("libtins: no Timestamps option after TCP::timestamp()");
    }

    Tins::PDU::serialization_type encode(std::uint32_t seq, std::uint32_t tsVal) {
        m_tcp->seq(seq);
        std::uint8_t ts[8];
        store32(ts, tsVal);
        store32(ts + 4, kTsEcr);
        *m_timestamp = Tins::TCP::option(Tins::TCP::TSOPT, sizeof ts, ts);
        return m_packet.serialize();
    }

private:
    // IPv4Address takes the address in network order as a uint32_t.
    static std::uint32_t hostToNet(std::uint32_t v) {
        std::uint8_t b[4];
        store32(b, v);
        std::uint32_t n;
        std::memcpy(&n, b, 4);
        return n;
    }

    Tins::EthernetII m_packet;
    Tins::TCP* m_tcp = nullptr;
    Tins::TCP::option* m_timestamp = nullptr;
};

// libtins does not verify checksums on parse: checksumsOk says only that it parsed.
Decoded decodeTins(Bytes frame) {
    const Tins::EthernetII pdu(frame.data(), static_cast<std::uint32_t>(frame.size()));
    const auto& tcp = pdu.rfind_pdu<Tins::TCP>();
    return {tcp.seq(), tcp.mss(), true};
}
#endif

// --- Agreement check, before any timing -------------------------------------------------

std::string hexDiff(Bytes a, Bytes b) {
    std::string s = "sizes " + std::to_string(a.size()) + " and " + std::to_string(b.size());
    const std::size_t n = std::min(a.size(), b.size());
    for (std::size_t i = 0; i < n; ++i) {
        if (a[i] != b[i]) {
            char buf[96];
            std::snprintf(buf, sizeof buf, "; first difference at byte %zu: %02x vs %02x", i, a[i],
                          b[i]);
            s += buf;
            break;
        }
    }
    return s + "\n  " + toHex(a) + "\n  " + toHex(b);
}

void checkDecoded(const char* who, const Decoded& d, std::uint32_t seq, bool checksums) {
    if (d.seq != seq || d.mss != kMss || (checksums && !d.checksumsOk))
        die(std::string(who) + " decoder disagrees: seq " + std::to_string(d.seq) + " mss " +
            std::to_string(d.mss) + (d.checksumsOk ? "" : " (checksum check failed)"));
}

// All encoders must write the very same bytes, or the comparison means nothing.
void verifyAgreement() {
    TcplabEncoder tcplab;
    HandEncoder handEnc;
#if TCPLAB_HAVE_LIBTINS
    TinsEncoder tins;
#endif
    for (std::uint32_t i = 0; i < 3; ++i) {
        const std::uint32_t seq = kFirstSeq + i;
        const std::uint32_t ts = kFirstTsVal + i;
        // Copies: each encoder reuses its buffer.
        const auto a = copyOf(tcplab.encode(seq, ts));
        const auto typed = copyOf(tcplab.encodeTyped(seq, ts));
        const auto h = copyOf(handEnc.encode(seq, ts));
        if (a.size() != kFrameLength)
            die("tcplab encoded " + std::to_string(a.size()) + " bytes, expected " +
                std::to_string(kFrameLength));
        if (!std::ranges::equal(a, typed))
            die("tcplab raw-options and typed-options encodes differ: " + hexDiff(a, typed));
        if (!std::ranges::equal(a, h))
            die("tcplab and hand-written frames differ: " + hexDiff(a, h));
#if TCPLAB_HAVE_LIBTINS
        const auto t = tins.encode(seq, ts);
        if (!std::ranges::equal(a, t))
            die("tcplab and libtins frames differ: " + hexDiff(a, t));
        checkDecoded("libtins", decodeTins(a), seq, false);
#endif
        checkDecoded("tcplab", decodeTcplab(a), seq, true);
        checkDecoded("hand-written", hand::decode(a.data(), a.size()), seq, true);
    }
    // A decoder that verifies must notice a wrong checksum (the TCP one, at byte 50).
    auto bad = copyOf(tcplab.encode(kFirstSeq, kFirstTsVal));
    bad[14 + 20 + 16] ^= 0x01;
    if (decodeTcplab(bad).checksumsOk || hand::decode(bad.data(), bad.size()).checksumsOk)
        die("a decoder accepted a wrong TCP checksum");
}

// Frames for the decoders: a ring of distinct frames (own seq and TSval each), so a
// decoder inlined into the loop cannot hoist its work out of it.
constexpr std::size_t kRing = 64;
const std::vector<std::vector<std::uint8_t>>& decodeRing() {
    static const auto ring = [] {
        std::vector<std::vector<std::uint8_t>> frames;
        TcplabEncoder enc;
        for (std::uint32_t i = 0; i < kRing; ++i)
            frames.push_back(copyOf(enc.encode(kFirstSeq + i, kFirstTsVal + i)));
        return frames;
    }();
    return ring;
}

// --- Benchmarks -----------------------------------------------------------------------

template <typename Encoder>
void runEncode(benchmark::State& state, Encoder& encoder) {
    std::uint32_t seq = kFirstSeq;
    std::uint32_t ts = kFirstTsVal;
    for (auto _ : state) {
        auto out = encoder(seq++, ts++);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(kFrameLength));
}

template <typename Decoder>
void runDecode(benchmark::State& state, Decoder&& decoder) {
    const auto& ring = decodeRing();
    std::size_t i = 0;
    for (auto _ : state) {
        const auto& frame = ring[i];
        i = (i + 1) % kRing;
        const Decoded d = decoder(Bytes(frame));
        benchmark::DoNotOptimize(d.seq);
        benchmark::DoNotOptimize(d.mss);
        benchmark::DoNotOptimize(d.checksumsOk);
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(kFrameLength));
}

void BM_Encode_Tcplab(benchmark::State& state) {
    TcplabEncoder enc;
    auto f = [&enc](std::uint32_t seq, std::uint32_t ts) { return enc.encode(seq, ts); };
    runEncode(state, f);
}
BENCHMARK(BM_Encode_Tcplab);

// Informational: the options rebuilt through TcpOption's typed constructors per frame.
void BM_Encode_Tcplab_TypedOptions(benchmark::State& state) {
    TcplabEncoder enc;
    auto f = [&enc](std::uint32_t seq, std::uint32_t ts) { return enc.encodeTyped(seq, ts); };
    runEncode(state, f);
}
BENCHMARK(BM_Encode_Tcplab_TypedOptions);

#if TCPLAB_HAVE_LIBTINS
// serialize() allocates and returns a new vector per frame: libtins' only public path
// (PDU::serialize(uint8_t*, uint32_t) into a caller's buffer is protected).
void BM_Encode_Libtins(benchmark::State& state) {
    TinsEncoder enc;
    auto f = [&enc](std::uint32_t seq, std::uint32_t ts) { return enc.encode(seq, ts); };
    runEncode(state, f);
}
BENCHMARK(BM_Encode_Libtins);
#endif

void BM_Encode_HandWritten(benchmark::State& state) {
    HandEncoder enc;
    // The field values come from memory the compiler must assume changes (ClobberMemory
    // in the loop), so it cannot fold the constant parts of the checksums.
    benchmark::DoNotOptimize(&enc.fields());
    auto f = [&enc](std::uint32_t seq, std::uint32_t ts) { return enc.encode(seq, ts); };
    runEncode(state, f);
}
BENCHMARK(BM_Encode_HandWritten);

// decodeFrame verifies the IPv4 header checksum and the TCP checksum while decoding.
void BM_Decode_Tcplab(benchmark::State& state) {
    runDecode(state, decodeTcplab);
}
BENCHMARK(BM_Decode_Tcplab);

#if TCPLAB_HAVE_LIBTINS
// libtins parses without verifying either checksum: it does less work than the others.
void BM_Decode_Libtins(benchmark::State& state) {
    runDecode(state, decodeTins);
}
BENCHMARK(BM_Decode_Libtins);
#endif

void BM_Decode_HandWritten(benchmark::State& state) {
    runDecode(state, [](Bytes b) { return hand::decode(b.data(), b.size()); });
}
BENCHMARK(BM_Decode_HandWritten);

// --- Ratios -----------------------------------------------------------------------------

// The console reporter, also keeping frames/s per benchmark: the median aggregate when
// repetitions ran, else the mean of the runs.
class RatioReporter : public benchmark::ConsoleReporter {
public:
    explicit RatioReporter(OutputOptions options)
        : ConsoleReporter(options) {}

    void ReportRuns(const std::vector<Run>& reports) override {
        ConsoleReporter::ReportRuns(reports);
        for (const Run& run : reports) {
            const auto it = run.counters.find("items_per_second");
            if (it == run.counters.end())
                continue;
            Rate& r = m_rates[run.run_name.function_name];
            if (run.run_type == Run::RT_Aggregate) {
                if (run.aggregate_name == "median")
                    r.median = it->second.value;
            } else {
                r.sum += it->second.value;
                ++r.count;
            }
        }
    }

    std::optional<double> rate(const std::string& name) const {
        const auto it = m_rates.find(name);
        if (it == m_rates.end())
            return std::nullopt;
        if (it->second.median)
            return it->second.median;
        if (it->second.count > 0)
            return it->second.sum / it->second.count;
        return std::nullopt;
    }

private:
    struct Rate {
        std::optional<double> median;
        double sum = 0;
        int count = 0;
    };
    std::map<std::string, Rate> m_rates;
};

void printRate(const RatioReporter& r, const char* name) {
    if (const auto v = r.rate(name))
        std::printf("  %-32s %8.2f M frames/s\n", name, *v / 1e6);
}

enum class Goal { AtLeast, AtMost };

// Rate of `a` over rate of `b`, against its goal.
void printRatio(const RatioReporter& r, const char* label, const char* a, const char* b, Goal goal,
                double bound) {
    const auto va = r.rate(a);
    const auto vb = r.rate(b);
    if (!va || !vb || *vb <= 0) {
        std::printf("  %-30s    n/a (not run)\n", label);
        return;
    }
    const double ratio = *va / *vb;
    const bool met = goal == Goal::AtLeast ? ratio >= bound : ratio <= bound;
    std::printf("  %-30s %6.2fx   goal %s %.0fx   %s\n", label, ratio,
                goal == Goal::AtLeast ? ">=" : "<=", bound, met ? "met" : "MISSED");
}

void printSummary(const RatioReporter& r) {
    std::printf("\nFrames per second (median of repetitions when run with them):\n");
    for (const char* name : {"BM_Encode_Tcplab", "BM_Encode_Tcplab_TypedOptions",
                             "BM_Encode_Libtins", "BM_Encode_HandWritten", "BM_Decode_Tcplab",
                             "BM_Decode_Libtins", "BM_Decode_HandWritten"})
        printRate(r, name);
    std::printf("\nRatios, same run:\n");
    printRatio(r, "encode tcplab / libtins", "BM_Encode_Tcplab", "BM_Encode_Libtins", Goal::AtLeast,
               2);
    printRatio(r, "encode hand-written / tcplab", "BM_Encode_HandWritten", "BM_Encode_Tcplab",
               Goal::AtMost, 4);
    printRatio(r, "decode tcplab / libtins", "BM_Decode_Tcplab", "BM_Decode_Libtins", Goal::AtLeast,
               2);
    printRatio(r, "decode hand-written / tcplab", "BM_Decode_HandWritten", "BM_Decode_Tcplab",
               Goal::AtMost, 4);
#if TCPLAB_HAVE_LIBTINS
    std::printf("  (libtins decode does not verify checksums; tcplab and hand-written do)\n");
#else
    std::printf("  (built without libtins: no libtins comparison)\n");
#endif
}

} // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    verifyAgreement();
    std::printf("All encoders wrote the same %zu-byte frame; decoders agree.\n", kFrameLength);
    std::fflush(stdout);
    RatioReporter reporter(isatty(STDOUT_FILENO) ? benchmark::ConsoleReporter::OO_ColorTabular
                                                 : benchmark::ConsoleReporter::OO_Tabular);
    benchmark::RunSpecifiedBenchmarks(&reporter);
    printSummary(reporter);
    benchmark::Shutdown();
    return 0;
}
