// The decoder and the encoder against an independent implementation: scapy.
//
// Fixture: tests/data/scapy/vectors.json, written by tests/data/scapy/gen_vectors.py
// (Debian's python3-scapy 2.5; run with /usr/bin/python3). Each vector is a frame
// scapy built, with every field value as scapy dissects those bytes, in the
// conventions of our frame JSON (wire/frame_json.h). For each vector:
//   decode_matchesScapy          decodeFrame + frameToJson agree with scapy field for
//                                field, payload included; checksum verdicts and the
//                                diagnostics scapy's values imply agree too;
//   fromFrame_reencodesBytes     SegmentSpec::fromFrame re-encodes the frame exactly
//                                ("reencode" vectors: plain Ethernet/IP/TCP);
//   fromFrame_refusesOtherFrames and gives nothing for the others (VLAN, IPv6
//                                extension headers, trailing bytes, not TCP);
//   buildFromFields_encodesBytes a SegmentSpec built from scapy's field values, with
//                                derived fields left auto unless the vector's tags say
//                                they were set on purpose, encodes to scapy's bytes;
//   truncated_decodesConsistently every prefix of every frame decodes without reading
//                                past it (run under ASan), and what it decodes agrees
//                                with the whole frame or is reported as cut short.

#include "tests_support/test_support.h"

#include "wire/address.h"
#include "wire/bytes.h"
#include "wire/diagnostic.h"
#include "wire/frame.h"
#include "wire/frame_json.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include "wire/segment_spec.h"
#include "wire/tcp.h"

#include <QObject>
#include <QTest>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using namespace tcplab;
using namespace tcplab::wire;
using nlohmann::json;
using tcplab::test::ByteVector;

namespace {

/// Layers our frameToJson must produce with scapy's field names and values.
constexpr std::string_view kJsonLayers[] = {"ethernet", "dot1q",  "arp", "ipv4",
                                            "ipv6",     "icmpv6", "tcp"};

bool isJsonLayer(std::string_view name) {
    return std::find(std::begin(kJsonLayers), std::end(kJsonLayers), name) != std::end(kJsonLayers);
}

const json& vectors() {
    static const json all = [] {
        std::ifstream in(test::dataPath("scapy/vectors.json"));
        if (!in)
            return json();
        return json::parse(in, nullptr, /*allow_exceptions=*/false);
    }();
    return all;
}

const json& vectorAt(int index) {
    return vectors().at(static_cast<std::size_t>(index));
}

std::string nameOf(const json& v) {
    return v.at("name").get<std::string>();
}

bool hasTag(const json& v, std::string_view tag) {
    for (const auto& t : v.at("tags"))
        if (t.get<std::string>() == tag)
            return true;
    return false;
}

ByteVector bytesOf(const json& v, const char* key = "hex") {
    auto b = fromHex(v.at(key).get<std::string>());
    return b ? *b : ByteVector{};
}

/// The n-th (0-based) layer named `name` in a layer list, or nullptr.
const json* findLayer(const json& layers, std::string_view name, int n) {
    for (const auto& l : layers) {
        if (l.value("layer", std::string()) == name && n-- == 0)
            return &l;
    }
    return nullptr;
}

/// The scapy layer of a vector by name (first one), or nullptr.
const json* scapyLayer(const json& v, std::string_view name) {
    return findLayer(v.at("layers"), name, 0);
}

QByteArray msg(const std::string& text) {
    return QByteArray::fromStdString(text);
}

/// Where encoded bytes first differ from the frame's (scapy's), with both in hex.
std::string describeDifference(const std::vector<std::uint8_t>& ours, const ByteVector& theirs) {
    std::size_t i = 0;
    while (i < ours.size() && i < theirs.size() && ours[i] == theirs[i])
        ++i;
    return "first difference at byte " + std::to_string(i) + " (ours " +
           std::to_string(ours.size()) + " bytes, frame " + std::to_string(theirs.size()) +
           " bytes)\n   ours:  " + toHex(ours) + "\n   frame: " + toHex(theirs);
}

/// End of the IP packet (or ARP body) from scapy's fields: where a cut starts to matter.
std::size_t networkEnd(const json& v) {
    const std::size_t l3 = scapyLayer(v, "dot1q") ? 18 : 14;
    if (const json* ip = scapyLayer(v, "ipv4"))
        return l3 + ip->at("len").get<std::size_t>();
    if (const json* ip6 = scapyLayer(v, "ipv6"))
        return l3 + 40 + ip6->at("plen").get<std::size_t>();
    if (scapyLayer(v, "arp"))
        return l3 + ArpPacket::kLength;
    return l3;
}

std::optional<std::uint8_t> ipv4FlagsFromScapy(const std::string& text) {
    std::uint8_t flags = 0;
    std::size_t start = 0;
    while (start < text.size()) {
        const std::size_t plus = std::min(text.find('+', start), text.size());
        const std::string_view part(text.data() + start, plus - start);
        if (part == "MF")
            flags |= ipv4_flags::kMoreFragments;
        else if (part == "DF")
            flags |= ipv4_flags::kDontFragment;
        else if (part == "evil")
            flags |= ipv4_flags::kReserved;
        else
            return std::nullopt;
        start = plus + 1;
    }
    return flags;
}

template <typename T>
T num(const json& layer, const char* key) {
    return layer.at(key).get<T>();
}

} // namespace

class TestScapyVectors : public QObject {
    Q_OBJECT

private:
    enum class RowFilter {
        All,            ///< every vector
        Reencode,       ///< plain Ethernet/IPv4|IPv6/TCP
        ReencodeFields, ///< those whose fields account for every byte
        NotReencode,    ///< VLAN, IPv6 extension headers, trailing bytes, not TCP
    };
    /// One row per vector the filter keeps, named after the vector.
    void addRows(RowFilter filter);
    void compareLayers(const json& v, const Frame& frame, const json& ours);
    void compareIpv6Chain(const json& v, const Frame& frame);
    void compareNdOptions(const json& v, const Frame& frame);
    void compareDiagnostics(const json& v, const Frame& frame);
    void buildTcp(const json& v, const json& layer, TcpHeader& tcp);

private Q_SLOTS:
    void initTestCase();

    void decode_matchesScapy_data() { addRows(RowFilter::All); }
    void decode_matchesScapy();
    void fromFrame_reencodesBytes_data() { addRows(RowFilter::Reencode); }
    void fromFrame_reencodesBytes();
    void fromFrame_refusesOtherFrames_data() { addRows(RowFilter::NotReencode); }
    void fromFrame_refusesOtherFrames();
    void buildFromFields_encodesBytes_data() { addRows(RowFilter::ReencodeFields); }
    void buildFromFields_encodesBytes();
    void truncated_decodesConsistently_data() { addRows(RowFilter::All); }
    void truncated_decodesConsistently();
};

void TestScapyVectors::initTestCase() {
    const json& all = vectors();
    QVERIFY2(all.is_array(), "tests/data/scapy/vectors.json is missing or not a JSON list; "
                             "regenerate it with /usr/bin/python3 tests/data/scapy/gen_vectors.py");
    QVERIFY2(all.size() >= 60, "fewer vectors than expected in vectors.json");
}

void TestScapyVectors::addRows(RowFilter filter) {
    QTest::addColumn<int>("index");
    const json& all = vectors();
    if (!all.is_array())
        return;
    for (std::size_t i = 0; i < all.size(); ++i) {
        const json& v = all[i];
        const bool reencode = v.value("reencode", false);
        const bool complete = v.value("fields_complete", true);
        const bool keep = filter == RowFilter::All || (filter == RowFilter::Reencode && reencode) ||
                          (filter == RowFilter::ReencodeFields && reencode && complete) ||
                          (filter == RowFilter::NotReencode && !reencode);
        if (keep)
            QTest::newRow(nameOf(v).c_str()) << static_cast<int>(i);
    }
}

// ---------------------------------------------------------------------------------
// decode

void TestScapyVectors::compareLayers(const json& v, const Frame& frame, const json& ours) {
    const std::string name = nameOf(v);
    QVERIFY2(ours.contains("layers") && ours["layers"].is_array(),
             msg(name + ": our JSON has no \"layers\" list: " + ours.dump()));
    std::map<std::string, int> seen;
    for (const json& theirs : v.at("layers")) {
        const std::string layerName = theirs.at("layer").get<std::string>();
        if (!isJsonLayer(layerName))
            continue; // ipv6ext, nd_option: checked against the Frame below
        const int n = seen[layerName]++;
        const json* mine = findLayer(ours["layers"], layerName, n);
        QVERIFY2(mine,
                 msg(name + ": scapy decodes a " + layerName +
                     " layer, ours does not (our layers: " + ours["layers"].dump() +
                     ", malformed: " +
                     (frame.malformed ? frame.malformed->message() : std::string("no")) + ")"));
        for (const auto& [key, scapyValue] : theirs.items()) {
            if (key == "layer")
                continue;
            QVERIFY2(mine->contains(key), msg(name + ": " + layerName + "." + key +
                                              " missing from our JSON " + mine->dump()));
            const json& ourValue = (*mine)[key];
            QVERIFY2(ourValue == scapyValue, msg(name + ": " + layerName + "." + key + ": ours " +
                                                 ourValue.dump() + ", scapy " + scapyValue.dump()));
        }
    }
}

void TestScapyVectors::compareIpv6Chain(const json& v, const Frame& frame) {
    const std::string name = nameOf(v);
    std::vector<const json*> exts;
    for (const json& l : v.at("layers"))
        if (l.at("layer") == "ipv6ext")
            exts.push_back(&l);
    if (!frame.ipv6()) {
        QVERIFY2(exts.empty(), msg(name + ": scapy has IPv6 extension headers, ours no IPv6"));
        return;
    }
    const Ipv6Chain& chain = frame.ipv6Chain;
    QVERIFY2(std::size_t{chain.count} == exts.size(),
             msg(name + ": IPv6 extension headers: ours " + std::to_string(chain.count) +
                 ", scapy " + std::to_string(exts.size())));
    for (std::size_t i = 0; i < exts.size(); ++i) {
        const json& e = *exts[i];
        const std::string where = name + ": ipv6ext[" + std::to_string(i) + "].";
        const auto& h = chain.headers[i];
        QVERIFY2(h.type == num<int>(e, "proto"),
                 msg(where + "proto: ours " + std::to_string(h.type) + ", scapy " +
                     e.at("proto").dump()));
        QVERIFY2(h.length == num<int>(e, "bytes"),
                 msg(where + "bytes: ours " + std::to_string(h.length) + ", scapy " +
                     e.at("bytes").dump()));
        const int next = i + 1 < exts.size() ? chain.headers[i + 1].type : chain.upperProtocol;
        QVERIFY2(next == num<int>(e, "nh"),
                 msg(where + "nh: ours " + std::to_string(next) + ", scapy " + e.at("nh").dump()));
    }
}

void TestScapyVectors::compareNdOptions(const json& v, const Frame& frame) {
    const std::string name = nameOf(v);
    bool sawSource = false;
    bool sawTarget = false;
    for (const json& l : v.at("layers")) {
        if (l.at("layer") != "nd_option")
            continue;
        const Icmpv6Message* icmp = frame.icmpv6();
        QVERIFY2(icmp, msg(name + ": scapy has an ND option, ours no ICMPv6 message"));
        const auto lladdr = MacAddress::parse(l.at("lladdr").get<std::string>());
        QVERIFY(lladdr);
        const int type = num<int>(l, "type");
        QVERIFY2(num<int>(l, "len") == 1, msg(name + ": unexpected ND option length in vector"));
        if (type == nd_option::kSourceLinkLayer) {
            sawSource = true;
            QVERIFY2(icmp->sourceLinkLayer && *icmp->sourceLinkLayer == *lladdr,
                     msg(name + ": nd_option source lladdr: ours " +
                         (icmp->sourceLinkLayer ? icmp->sourceLinkLayer->toString() : "none") +
                         ", scapy " + lladdr->toString()));
        } else if (type == nd_option::kTargetLinkLayer) {
            sawTarget = true;
            QVERIFY2(icmp->targetLinkLayer && *icmp->targetLinkLayer == *lladdr,
                     msg(name + ": nd_option target lladdr: ours " +
                         (icmp->targetLinkLayer ? icmp->targetLinkLayer->toString() : "none") +
                         ", scapy " + lladdr->toString()));
        }
    }
    if (const Icmpv6Message* icmp = frame.icmpv6()) {
        QVERIFY2(sawSource || !icmp->sourceLinkLayer,
                 msg(name + ": ours has a source lladdr option, scapy none"));
        QVERIFY2(sawTarget || !icmp->targetLinkLayer,
                 msg(name + ": ours has a target lladdr option, scapy none"));
    }
}

// The diagnostics that follow from scapy's field values, and scapy's checksum verdicts.
void TestScapyVectors::compareDiagnostics(const json& v, const Frame& frame) {
    const std::string name = nameOf(v);
    const Diagnostics& d = frame.diagnostics;
    auto expect = [&](Diagnostic diag, bool expected, const std::string& why) {
        QVERIFY2(d.has(diag) == expected,
                 msg(name + ": diagnostic \"" + std::string(describe(diag)) + "\": ours " +
                     (d.has(diag) ? "set" : "not set") + ", expected " +
                     (expected ? "set" : "not set") + " (" + why + ")"));
    };
    const json& ok = v.at("chksum_ok");
    if (ok.contains("ipv4")) {
        expect(Diagnostic::Ipv4ChecksumBad, !ok["ipv4"].get<bool>(),
               "scapy's IPv4 checksum verdict");
        if (QTest::currentTestFailed())
            return;
    }
    if (ok.contains("tcp")) {
        const bool bad = d.has(Diagnostic::TcpChecksumBad) || d.has(Diagnostic::TcpChecksumPartial);
        QVERIFY2(bad == !ok["tcp"].get<bool>(),
                 msg(name + ": TCP checksum: ours " + (bad ? "bad" : "good") + ", scapy " +
                     (ok["tcp"].get<bool>() ? "good" : "bad")));
    }
    if (hasTag(v, "first_fragment") && frame.tcp()) {
        // The checksum covers the whole datagram (RFC 9293 §3.1): a fragment alone can
        // neither confirm nor refute it, so flagging it wrong would mislead.
        QVERIFY2(!d.has(Diagnostic::TcpChecksumBad) && !d.has(Diagnostic::TcpChecksumPartial),
                 msg(name + ": the TCP checksum of a first fragment is flagged wrong; it covers "
                            "the whole datagram and cannot be verified from one fragment"));
    }
    if (ok.contains("icmpv6")) {
        expect(Diagnostic::Icmpv6ChecksumBad, !ok["icmpv6"].get<bool>(),
               "scapy's ICMPv6 checksum verdict");
        if (QTest::currentTestFailed())
            return;
    }
    if (const json* ip = scapyLayer(v, "ipv4")) {
        const auto flags = ipv4FlagsFromScapy(ip->at("flags").get<std::string>());
        QVERIFY(flags);
        expect(Diagnostic::Ipv4ReservedFlagSet, (*flags & ipv4_flags::kReserved) != 0,
               "evil bit in scapy's flags");
        if (QTest::currentTestFailed())
            return;
        expect(Diagnostic::Ipv4Fragment,
               (*flags & ipv4_flags::kMoreFragments) != 0 || num<int>(*ip, "frag") != 0,
               "MF or offset");
        if (QTest::currentTestFailed())
            return;
    }
    if (const json* t = scapyLayer(v, "tcp")) {
        const auto flags = parseTcpFlags(t->at("flags").get<std::string>());
        QVERIFY(flags);
        expect(Diagnostic::TcpReservedBitsSet, num<int>(*t, "reserved") != 0, "reserved field");
        if (QTest::currentTestFailed())
            return;
        expect(Diagnostic::TcpSynFin, (*flags & tcp_flags::kSyn) && (*flags & tcp_flags::kFin),
               "SYN and FIN");
        if (QTest::currentTestFailed())
            return;
        expect(Diagnostic::TcpUrgentWithoutUrg,
               num<int>(*t, "urgptr") != 0 && !(*flags & tcp_flags::kUrg), "urgptr without URG");
        if (QTest::currentTestFailed())
            return;
        expect(Diagnostic::TcpOptionAfterEolNotZero, hasTag(v, "opt_after_eol_junk"),
               "bytes after EOL");
        if (QTest::currentTestFailed())
            return;
    }
    expect(Diagnostic::TrailingBytes, !v.at("trailing_hex").get<std::string>().empty(),
           "scapy's Padding layer");
}

void TestScapyVectors::decode_matchesScapy() {
    QFETCH(int, index);
    const json& v = vectorAt(index);
    const std::string name = nameOf(v);
    const ByteVector bytes = bytesOf(v);
    QVERIFY2(!bytes.empty(), msg(name + ": bad hex in vector"));

    const Frame frame = decodeFrame(bytes);
    QVERIFY2(!frame.malformed, msg(name + ": decoded as malformed: " +
                                   (frame.malformed ? frame.malformed->message() : std::string())));
    const json ours = frameToJson(frame);

    compareLayers(v, frame, ours);
    if (QTest::currentTestFailed())
        return;
    compareIpv6Chain(v, frame);
    if (QTest::currentTestFailed())
        return;
    compareNdOptions(v, frame);
    if (QTest::currentTestFailed())
        return;

    const std::string payloadHex = toHex(frame.payload());
    QVERIFY2(payloadHex == v.at("payload_hex").get<std::string>(),
             msg(name + ": payload: ours " + payloadHex + ", scapy " +
                 v.at("payload_hex").get<std::string>()));
    QVERIFY2(ours.value("payload_hex", std::string("<none>")) == payloadHex,
             msg(name + ": our JSON's payload_hex " +
                 ours.value("payload_hex", std::string("<none>")) + " is not the frame's payload " +
                 payloadHex));

    if (frame.ipv4()) {
        const std::string optionsHex = toHex(frame.ipv4()->options.bytes());
        QVERIFY2(optionsHex == v.at("ipv4_options_hex").get<std::string>(),
                 msg(name + ": ipv4 options: ours " + optionsHex + ", scapy " +
                     v.at("ipv4_options_hex").get<std::string>()));
    }

    compareDiagnostics(v, frame);
}

// ---------------------------------------------------------------------------------
// encode

void TestScapyVectors::fromFrame_reencodesBytes() {
    QFETCH(int, index);
    const json& v = vectorAt(index);
    const std::string name = nameOf(v);
    const ByteVector bytes = bytesOf(v);

    const Frame frame = decodeFrame(bytes);
    const auto spec = SegmentSpec::fromFrame(frame);
    QVERIFY2(spec, msg(name + ": fromFrame gives no spec for a plain Ethernet/IP/TCP frame"));
    QVERIFY2(spec->encodedLength() == bytes.size(),
             msg(name + ": encodedLength " + std::to_string(spec->encodedLength()) + ", frame " +
                 std::to_string(bytes.size())));
    const auto encoded = spec->encode();
    QVERIFY2(encoded, msg(name + ": encode failed: " + std::string(describe(encoded.error()))));
    QVERIFY2(*encoded == bytes,
             msg(name + ": re-encoded frame differs, " + describeDifference(*encoded, bytes)));

    // The allocation-free form writes the same bytes and refuses a short buffer.
    std::vector<std::uint8_t> out(bytes.size() + 8, 0xaa);
    const auto written = spec->encode(MutableBytes(out));
    QVERIFY(written);
    QCOMPARE(*written, bytes.size());
    out.resize(*written);
    QVERIFY2(out == bytes, msg(name + ": encode(span) differs, " + describeDifference(out, bytes)));
    std::vector<std::uint8_t> tooSmall(bytes.size() - 1);
    const auto refused = spec->encode(MutableBytes(tooSmall));
    QVERIFY2(!refused && refused.error() == EncodeError::BufferTooSmall,
             msg(name + ": encode into a buffer one byte short did not fail with BufferTooSmall"));
}

// SegmentSpec::fromFrame's contract: nullopt for anything but plain Ethernet/IP/TCP
// (an 802.1Q tag, IPv6 extension headers, bytes after the IP packet, no TCP), since
// a spec could not re-encode those bytes.
void TestScapyVectors::fromFrame_refusesOtherFrames() {
    QFETCH(int, index);
    const json& v = vectorAt(index);
    const std::string name = nameOf(v);
    const ByteVector bytes = bytesOf(v);

    const Frame frame = decodeFrame(bytes);
    const auto spec = SegmentSpec::fromFrame(frame);
    if (spec) {
        const auto encoded = spec->encode();
        QVERIFY2(!spec, msg(name + ": fromFrame gives a spec for a frame it cannot re-encode (" +
                            (encoded ? describeDifference(*encoded, bytes)
                                     : "encode failed: " + std::string(describe(encoded.error()))) +
                            ")"));
    }
}

void TestScapyVectors::buildTcp(const json& v, const json& t, TcpHeader& tcp) {
    const std::string name = nameOf(v);
    tcp.srcPort = num<std::uint16_t>(t, "sport");
    tcp.dstPort = num<std::uint16_t>(t, "dport");
    tcp.seq = SeqNum(num<std::uint32_t>(t, "seq"));
    tcp.ack = SeqNum(num<std::uint32_t>(t, "ack"));
    tcp.reserved = num<std::uint8_t>(t, "reserved");
    const auto flags = parseTcpFlags(t.at("flags").get<std::string>());
    QVERIFY2(flags, msg(name + ": parseTcpFlags(\"" + t.at("flags").get<std::string>() +
                        "\") failed: " + (flags ? std::string() : flags.error())));
    tcp.flags = *flags;
    tcp.window = num<std::uint16_t>(t, "window");
    tcp.urgentPointer = num<std::uint16_t>(t, "urgptr");
    tcp.options.clear();
    for (const json& o : t.at("options")) {
        TcpOption option;
        if (o[0].is_number()) {
            const auto data = fromHex(o[1].get<std::string>());
            QVERIFY(data);
            option = TcpOption::raw(o[0].get<std::uint8_t>(), *data);
        } else {
            const std::string kind = o[0].get<std::string>();
            if (kind == "EOL") {
                option = TcpOption::eol();
            } else if (kind == "NOP") {
                option = TcpOption::nop();
            } else if (kind == "MSS") {
                option = TcpOption::mss(o[1].get<std::uint16_t>());
            } else if (kind == "WScale") {
                option = TcpOption::windowScale(o[1].get<std::uint8_t>());
            } else if (kind == "SAckOK") {
                option = TcpOption::sackPermitted();
            } else if (kind == "Timestamp") {
                option = TcpOption::timestamps(o[1][0].get<std::uint32_t>(),
                                               o[1][1].get<std::uint32_t>());
            } else if (kind == "SAck") {
                std::vector<SackBlock> blocks;
                for (const json& b : o[1])
                    blocks.push_back(
                        {SeqNum(b[0].get<std::uint32_t>()), SeqNum(b[1].get<std::uint32_t>())});
                option = TcpOption::sack(blocks);
            } else {
                QFAIL(msg(name + ": option " + kind + " has no constructor").constData());
            }
        }
        QVERIFY2(tcp.options.append(option), msg(name + ": option " + o.dump() + " does not fit"));
    }
    if (hasTag(v, "dataofs_override")) {
        // Set on purpose: scapy's header is longer than the options need, and the rest
        // of it is EOL padding (zeros), which scapy's option list stops before.
        tcp.dataOffset = num<std::uint8_t>(t, "dataofs");
        const std::size_t area = std::size_t{*tcp.dataOffset} * 4 - TcpHeader::kMinLength;
        while (tcp.options.paddedSize() < area)
            QVERIFY(tcp.options.append(TcpOption::eol()));
    }
    // Set on purpose, or (a first fragment) the whole datagram's, which this
    // fragment's bytes do not give.
    if (hasTag(v, "bad_tcp_chksum") || hasTag(v, "first_fragment"))
        tcp.checksum = num<std::uint16_t>(t, "chksum");
}

void TestScapyVectors::buildFromFields_encodesBytes() {
    QFETCH(int, index);
    const json& v = vectorAt(index);
    const std::string name = nameOf(v);
    const ByteVector bytes = bytesOf(v);

    SegmentSpec spec;
    const json* eth = scapyLayer(v, "ethernet");
    QVERIFY(eth);
    const auto dstMac = MacAddress::parse(eth->at("dst").get<std::string>());
    const auto srcMac = MacAddress::parse(eth->at("src").get<std::string>());
    QVERIFY(dstMac && srcMac);
    spec.ethernet.dst = *dstMac;
    spec.ethernet.src = *srcMac;

    if (const json* ip = scapyLayer(v, "ipv4")) {
        Ipv4Header h;
        h.version = num<std::uint8_t>(*ip, "version");
        h.tos = num<std::uint8_t>(*ip, "tos");
        h.id = num<std::uint16_t>(*ip, "id");
        const auto flags = ipv4FlagsFromScapy(ip->at("flags").get<std::string>());
        QVERIFY2(flags, msg(name + ": unknown IPv4 flags " + ip->at("flags").dump()));
        h.flags = *flags;
        h.fragOffset = num<std::uint16_t>(*ip, "frag");
        h.ttl = num<std::uint8_t>(*ip, "ttl");
        const auto src = Ipv4Address::parse(ip->at("src").get<std::string>());
        const auto dst = Ipv4Address::parse(ip->at("dst").get<std::string>());
        QVERIFY(src && dst);
        h.src = *src;
        h.dst = *dst;
        const auto options = fromHex(v.at("ipv4_options_hex").get<std::string>());
        QVERIFY(options && h.options.assign(*options));
        if (hasTag(v, "bad_ip_chksum"))
            h.checksum = num<std::uint16_t>(*ip, "chksum");
        spec.ip = h;
    } else if (const json* ip6 = scapyLayer(v, "ipv6")) {
        Ipv6Header h;
        h.version = num<std::uint8_t>(*ip6, "version");
        h.trafficClass = num<std::uint8_t>(*ip6, "tc");
        h.flowLabel = num<std::uint32_t>(*ip6, "fl");
        h.hopLimit = num<std::uint8_t>(*ip6, "hlim");
        const auto src = Ipv6Address::parse(ip6->at("src").get<std::string>());
        const auto dst = Ipv6Address::parse(ip6->at("dst").get<std::string>());
        QVERIFY(src && dst);
        h.src = *src;
        h.dst = *dst;
        spec.ip = h;
    } else {
        QFAIL(msg(name + ": reencode vector without IP").constData());
    }

    const json* t = scapyLayer(v, "tcp");
    QVERIFY(t);
    buildTcp(v, *t, spec.tcp);
    if (QTest::currentTestFailed())
        return;
    const auto payload = fromHex(v.at("payload_hex").get<std::string>());
    QVERIFY(payload);
    spec.payload = *payload;

    const auto encoded = spec.encode();
    QVERIFY2(encoded, msg(name + ": encode failed: " + std::string(describe(encoded.error()))));
    QVERIFY2(*encoded == bytes, msg(name + ": frame built from scapy's fields differs, " +
                                    describeDifference(*encoded, bytes)));
}

// ---------------------------------------------------------------------------------
// truncation

void TestScapyVectors::truncated_decodesConsistently() {
    QFETCH(int, index);
    const json& v = vectorAt(index);
    const std::string name = nameOf(v);
    const ByteVector bytes = bytesOf(v);
    const Frame full = decodeFrame(bytes);
    const json fullJson = frameToJson(full);
    const std::string fullPayload = toHex(full.payload());
    const std::size_t ipEnd = networkEnd(v);

    for (std::size_t n = 0; n < bytes.size(); ++n) {
        // An exactly sized heap copy, so ASan sees any read past the prefix.
        const ByteVector prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
        const Frame frame = decodeFrame(prefix);
        const json ours = frameToJson(frame);
        const std::string at = name + " cut at " + std::to_string(n) + ": ";

        if (n < EthernetHeader::kLength)
            QVERIFY2(frame.malformed, msg(at + "a frame shorter than Ethernet is not malformed"));
        for (const LayerRange& r : frame.layers())
            QVERIFY2(std::size_t{r.offset} + r.length <= n,
                     msg(at + std::string(r.protocol->id) + " layer range runs past the bytes"));
        QVERIFY2(std::size_t{frame.payloadOffset} + frame.payloadLength <= n,
                 msg(at + "payload runs past the bytes"));
        // A frame decoded to its end has part of the whole frame's payload; a malformed
        // one shows the bytes after its last layer, which may be anything.
        if (!frame.malformed)
            QVERIFY2(fullPayload.starts_with(toHex(frame.payload())),
                     msg(at + "payload " + toHex(frame.payload()) +
                         " is not a prefix of the whole frame's"));

        // The layers decoded are the whole frame's first ones, with the same values.
        const json& layers = ours.at("layers");
        const json& fullLayers = fullJson.at("layers");
        QVERIFY2(layers.size() <= fullLayers.size(), msg(at + "more layers than the whole frame"));
        for (std::size_t i = 0; i < layers.size(); ++i) {
            const std::string layerName = layers[i].value("layer", std::string());
            QVERIFY2(layerName == fullLayers[i].value("layer", std::string()),
                     msg(at + "layer " + std::to_string(i) + " is " + layerName + ", whole frame " +
                         fullLayers[i].dump()));
            const json* theirs = scapyLayer(v, layerName);
            if (!theirs)
                continue;
            for (const auto& [key, value] : theirs->items()) {
                if (key == "layer" || !fullLayers[i].contains(key))
                    continue;
                // The layer that failed shows its fixed header; its options were not
                // parsed, so what the JSON says of them is no reading of the bytes.
                if (frame.malformed && i + 1 == layers.size() && key == "options")
                    continue;
                QVERIFY2(layers[i].value(key, json()) == fullLayers[i][key],
                         msg(at + layerName + "." + key + " is " +
                             layers[i].value(key, json()).dump() + ", whole frame " +
                             fullLayers[i][key].dump()));
            }
        }
        // Anything the cut removed is reported: a layer missing is a malformed frame; a
        // cut inside the IP packet is malformed or flagged as a length past the frame.
        if (layers.size() < fullLayers.size())
            QVERIFY2(frame.malformed, msg(at + "fewer layers than the whole frame (" +
                                          layers.dump() + ") but not reported malformed"));
        if (n < ipEnd)
            QVERIFY2(frame.malformed ||
                         frame.diagnostics.has(Diagnostic::Ipv4TotalLengthBeyondFrame) ||
                         frame.diagnostics.has(Diagnostic::Ipv6PayloadLengthBeyondFrame),
                     msg(at + "cut inside the IP packet (ends at " + std::to_string(ipEnd) +
                         ") is neither malformed nor flagged"));

        // A spec from a cut frame, if there is one, still re-encodes it byte for byte.
        if (const auto spec = SegmentSpec::fromFrame(frame)) {
            const auto encoded = spec->encode();
            QVERIFY2(encoded && *encoded == prefix,
                     msg(at + "fromFrame gave a spec that does not re-encode the bytes" +
                         (encoded ? ", " + describeDifference(*encoded, prefix) : std::string())));
        }
    }
}

QTEST_GUILESS_MAIN(TestScapyVectors)
#include "tst_scapy_vectors.moc"
