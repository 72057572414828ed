// The phantom's capture filter, compiled by libpcap exactly as PcapLink compiles it
// (DLT_EN10MB, optimised, netmask unknown) and run on frames with pcap_offline_filter:
// no capture, no root. The frames come from the phantom host's own builders (what a
// peer, a stranger or a conflicting host would send), SegmentSpec, and the real Linux
// captures in tests/data/captures.
#include "tests_support/test_support.h"

#include "host/phantom_filter.h"
#include "host/phantom_host.h"
#include "wire/arp.h"
#include "wire/ethernet.h"
#include "wire/ip_proto.h"
#include "wire/ipv4.h"

#include <memory>

#include <pcap/pcap.h>

using namespace tcplab;
using namespace tcplab::wire;
using namespace tcplab::host;

namespace {
using ByteVector = std::vector<std::uint8_t>;

const MacAddress kPhantomMac = *MacAddress::parse("02:00:00:00:00:0b");
const MacAddress kPeerMac = *MacAddress::parse("02:00:00:00:00:0a");
const MacAddress kStrangerMac = *MacAddress::parse("02:00:00:00:00:99");
const MacAddress kAllNodesMac = *MacAddress::parse("33:33:00:00:00:01");
const Ipv4Address kPhantom4 = *Ipv4Address::parse("198.18.0.1");
const Ipv4Address kPeer4 = *Ipv4Address::parse("198.18.0.2");
const Ipv4Address kStranger4 = *Ipv4Address::parse("198.18.0.99");
const Ipv6Address kPhantom6 = *Ipv6Address::parse("2001:db8::1");
const Ipv6Address kPeer6 = *Ipv6Address::parse("2001:db8::2");
const Ipv6Address kStranger6 = *Ipv6Address::parse("2001:db8::99");
const Ipv6Address kAllNodes = *Ipv6Address::parse("ff02::1");

Identity identityOf(const MacAddress& mac, std::optional<Ipv4Address> v4,
                    std::optional<Ipv6Address> v6) {
    Identity id;
    id.mac = mac;
    if (v4)
        id.ipv4 = Ipv4Config{*v4, 24, std::nullopt};
    if (v6)
        id.ipv6 = Ipv6Config{*v6, 64, std::nullopt};
    return id;
}

// Hosts whose builders make the frames: the phantom itself, its peer, a bystander,
// and a host that already uses the phantom's addresses.
PhantomHost phantom() {
    return PhantomHost(identityOf(kPhantomMac, kPhantom4, kPhantom6));
}
PhantomHost peer() {
    return PhantomHost(identityOf(kPeerMac, kPeer4, kPeer6));
}
PhantomHost stranger() {
    return PhantomHost(identityOf(kStrangerMac, kStranger4, kStranger6));
}
PhantomHost squatter() {
    return PhantomHost(identityOf(kStrangerMac, kPhantom4, kPhantom6));
}

ArpPacket arpOf(const ByteVector& frame) {
    auto arp = ArpPacket::parse(Bytes(frame).subspan(EthernetHeader::kLength));
    return arp ? *arp : ArpPacket{};
}

ByteVector withEtherDst(ByteVector frame, const MacAddress& dst) {
    dst.write(frame.data());
    return frame;
}

ByteVector tcpFrame(const MacAddress& srcMac, const MacAddress& dstMac, const IpAddress& src,
                    const IpAddress& dst) {
    SegmentSpec spec;
    spec.ethernet = {dstMac, srcMac, std::nullopt};
    if (const auto* v4 = std::get_if<Ipv4Address>(&src)) {
        Ipv4Header ip;
        ip.src = *v4;
        ip.dst = std::get<Ipv4Address>(dst);
        spec.ip = ip;
    } else {
        Ipv6Header ip;
        ip.src = std::get<Ipv6Address>(src);
        ip.dst = std::get<Ipv6Address>(dst);
        spec.ip = ip;
    }
    spec.tcp.srcPort = 50001;
    spec.tcp.dstPort = 40000;
    spec.tcp.seq = SeqNum(3735928559u);
    spec.tcp.ack = SeqNum(101);
    spec.tcp.flags = tcp_flags::kSyn | tcp_flags::kAck;
    auto bytes = spec.encode();
    return bytes ? *bytes : ByteVector{};
}

// A DHCP-like IPv4/UDP datagram to the Ethernet broadcast address.
ByteVector broadcastUdp(const Ipv4Address& dst) {
    constexpr std::size_t kUdpLength = 8 + 4;
    ByteVector f(EthernetHeader::kLength + Ipv4Header::kMinLength + kUdpLength);
    EthernetHeader{MacAddress::broadcast(), kPeerMac, std::nullopt}.emit(f.data(),
                                                                         ether_type::kIpv4);
    Ipv4Header ip;
    ip.src = kPeer4;
    ip.dst = dst;
    const std::size_t at = EthernetHeader::kLength +
                           ip.emit(f.data() + EthernetHeader::kLength, kUdpLength, ip_proto::kUdp);
    const std::uint8_t udp[kUdpLength] = {0, 68, 0, 67, 0, kUdpLength, 0, 0, 'p', 'i', 'n', 'g'};
    std::copy(std::begin(udp), std::end(udp), f.begin() + std::ptrdiff_t(at));
    return f;
}

// The phantom filter compiled as PcapLink compiles it.
class CompiledFilter {
public:
    explicit CompiledFilter(const std::string& text)
        : m_pcap(pcap_open_dead(DLT_EN10MB, 65535), &pcap_close) {
        if (!m_pcap) {
            m_error = "pcap_open_dead failed";
            return;
        }
        if (pcap_compile(m_pcap.get(), &m_program, text.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
            m_error = pcap_geterr(m_pcap.get());
            return;
        }
        m_compiled = true;
    }
    ~CompiledFilter() {
        if (m_compiled)
            pcap_freecode(&m_program);
    }
    CompiledFilter(const CompiledFilter&) = delete;
    CompiledFilter& operator=(const CompiledFilter&) = delete;

    bool ok() const { return m_compiled; }
    const std::string& error() const { return m_error; }
    bool passes(const ByteVector& frame) const {
        pcap_pkthdr header{};
        header.caplen = static_cast<bpf_u_int32>(frame.size());
        header.len = header.caplen;
        return pcap_offline_filter(&m_program, &header, frame.data()) != 0;
    }

private:
    std::unique_ptr<pcap_t, decltype(&pcap_close)> m_pcap;
    bpf_program m_program{};
    bool m_compiled = false;
    std::string m_error;
};

enum class Family : std::uint8_t { V4Only, V6Only, Both };
const char* familyName(Family f) {
    return f == Family::V4Only ? "v4" : f == Family::V6Only ? "v6" : "v4+v6";
}
Identity phantomIdentity(Family f) {
    return identityOf(kPhantomMac, f == Family::V6Only ? std::nullopt : std::optional(kPhantom4),
                      f == Family::V4Only ? std::nullopt : std::optional(kPhantom6));
}

// When a frame must pass: whenever (unicast to the phantom's MAC), only when the
// phantom has the family the frame concerns, or never.
enum class Expect : std::uint8_t { Always, IfV4, IfV6, Never };
struct Case {
    const char* name;
    ByteVector frame;
    Expect expect;
};

std::vector<Case> cases() {
    const PhantomHost me = phantom();
    const PhantomHost p = peer();
    const PhantomHost s = stranger();
    const PhantomHost q = squatter();
    const ByteVector myRequest = me.arpRequest(kPeer4, false);
    const ByteVector myProbe = me.arpRequest(kPhantom4, true);
    const ByteVector peerNs = p.neighborSolicitation(kPhantom6, false);
    // An ICMPv6 echo request on the phantom's solicited-node group: not ND.
    ByteVector echoOnGroup = peerNs;
    echoOnGroup[EthernetHeader::kLength + 40] = 128;
    return {
        // Must pass.
        {"arp request for the phantom (broadcast)", p.arpRequest(kPhantom4, false), Expect::IfV4},
        {"arp reply to the phantom's mac", p.arpReply(arpOf(myRequest)), Expect::Always},
        {"arp reply to the phantom's request, broadcast",
         withEtherDst(p.arpReply(arpOf(myRequest)), MacAddress::broadcast()), Expect::IfV4},
        {"arp reply to the phantom's probe from a conflicting host", q.arpReply(arpOf(myProbe)),
         Expect::Always},
        {"arp probe from another host for the phantom's ip", s.arpRequest(kPhantom4, true),
         Expect::IfV4},
        {"arp announcement of the phantom's ip by another host", q.arpRequest(kPhantom4, false),
         Expect::IfV4},
        {"ns to the phantom's solicited-node group", peerNs, Expect::IfV6},
        {"ns for dad of the phantom's address", s.neighborSolicitation(kPhantom6, true),
         Expect::IfV6},
        {"na to ff02::1 defending the phantom's address",
         q.neighborAdvertisement(kAllNodes, kAllNodesMac, false), Expect::IfV6},
        {"solicited na unicast to the phantom's mac",
         p.neighborAdvertisement(kPhantom6, kPhantomMac, true), Expect::Always},
        {"tcp over ipv4 to the phantom's mac",
         tcpFrame(kPeerMac, kPhantomMac, IpAddress{kPeer4}, IpAddress{kPhantom4}), Expect::Always},
        {"tcp over ipv6 to the phantom's mac",
         tcpFrame(kPeerMac, kPhantomMac, IpAddress{kPeer6}, IpAddress{kPhantom6}), Expect::Always},
        // Must drop.
        {"arp request for another ip", p.arpRequest(kStranger4, false), Expect::Never},
        {"arp reply between two other hosts", p.arpReply(arpOf(s.arpRequest(kPeer4, false))),
         Expect::Never},
        {"tcp over ipv4 between two other macs",
         tcpFrame(kPeerMac, kStrangerMac, IpAddress{kPeer4}, IpAddress{kStranger4}), Expect::Never},
        {"tcp over ipv6 between two other macs",
         tcpFrame(kPeerMac, kStrangerMac, IpAddress{kPeer6}, IpAddress{kStranger6}), Expect::Never},
        {"tcp to the phantom's ipv4 address but another unicast mac",
         tcpFrame(kPeerMac, kStrangerMac, IpAddress{kPeer4}, IpAddress{kPhantom4}), Expect::Never},
        {"tcp to the phantom's ipv6 address but another unicast mac",
         tcpFrame(kPeerMac, kStrangerMac, IpAddress{kPeer6}, IpAddress{kPhantom6}), Expect::Never},
        {"broadcast ipv4 udp", broadcastUdp(*Ipv4Address::parse("255.255.255.255")), Expect::Never},
        {"broadcast ipv4 udp to the phantom's ip", broadcastUdp(kPhantom4), Expect::Never},
        {"ns to another address's solicited-node group", p.neighborSolicitation(kStranger6, false),
         Expect::Never},
        {"ns on the phantom's group for another address with the same low 24 bits",
         p.neighborSolicitation(*Ipv6Address::parse("2001:db8:1::1"), false), Expect::Never},
        {"icmpv6 echo request on the phantom's solicited-node group", echoOnGroup, Expect::Never},
        {"na to ff02::1 for another address",
         s.neighborAdvertisement(kAllNodes, kAllNodesMac, false), Expect::Never},
        {"tcp over ipv6 to all-nodes",
         tcpFrame(kPeerMac, kAllNodesMac, IpAddress{kPeer6}, IpAddress{kAllNodes}), Expect::Never},
    };
}

bool expected(Expect e, Family f) {
    switch (e) {
    case Expect::Always:
        return true;
    case Expect::IfV4:
        return f != Family::V6Only;
    case Expect::IfV6:
        return f != Family::V4Only;
    case Expect::Never:
        return false;
    }
    return false;
}

QByteArray qbytes(const ByteVector& v) {
    return QByteArray(reinterpret_cast<const char*>(v.data()), qsizetype(v.size()));
}
} // namespace

class TestPhantomFilter : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void filter_data() {
        QTest::addColumn<QString>("filter");
        QTest::addColumn<QByteArray>("frame");
        QTest::addColumn<bool>("passes");
        for (Family f : {Family::V4Only, Family::V6Only, Family::Both}) {
            const QString filter = test::qs(phantomBpfFilter(phantomIdentity(f)));
            for (const Case& c : cases()) {
                QVERIFY2(!c.frame.empty(), c.name);
                QTest::addRow("%s: %s", familyName(f), c.name)
                    << filter << qbytes(c.frame) << expected(c.expect, f);
            }
        }
    }
    void filter() {
        QFETCH(QString, filter);
        QFETCH(QByteArray, frame);
        QFETCH(bool, passes);
        const CompiledFilter compiled(filter.toStdString());
        QVERIFY2(compiled.ok(), compiled.error().c_str());
        const ByteVector bytes(frame.begin(), frame.end());
        if (compiled.passes(bytes) != passes)
            QFAIL(qPrintable(
                QStringLiteral("%1 (filter: %2)")
                    .arg(passes ? "dropped, must pass" : "passed, must be dropped", filter)));
    }

    // The frames the builders make are what the test believes they are: an ARP reply
    // to the probe has target IP 0.0.0.0 (so only the MAC clause can let it through
    // in a v6-only phantom), an NS for DAD comes from ::, the NA goes to all-nodes.
    void builtFrames_haveTheShapeTheCasesAssume() {
        const ArpPacket reply =
            arpOf(squatter().arpReply(arpOf(phantom().arpRequest(kPhantom4, true))));
        QCOMPARE(reply.operation, arp_op::kReply);
        QVERIFY(reply.targetIp.isUnspecified());
        QCOMPARE(reply.targetMac, kPhantomMac);
        const Frame dad = decodeFrame(stranger().neighborSolicitation(kPhantom6, true));
        QVERIFY(dad.ipv6() && dad.ipv6()->src.isUnspecified());
        QCOMPARE(dad.ethernet.dst, *MacAddress::parse("33:33:ff:00:00:01"));
        QVERIFY(dad.icmpv6() && dad.icmpv6()->target == kPhantom6);
        const Frame na =
            decodeFrame(squatter().neighborAdvertisement(kAllNodes, kAllNodesMac, false));
        QVERIFY(na.icmpv6() && na.icmpv6()->type == icmpv6_type::kNeighborAdvertisement);
        QCOMPARE(na.ethernet.dst, kAllNodesMac);
        QVERIFY(na.icmpv6()->target == kPhantom6);
    }

    // A phantom with no address yet still hears what is unicast to its MAC, and
    // nothing else.
    void noAddress_onlyTheMac() {
        const CompiledFilter compiled(phantomBpfFilter(identityOf(kPhantomMac, {}, {})));
        QVERIFY2(compiled.ok(), compiled.error().c_str());
        QVERIFY(compiled.passes(
            tcpFrame(kPeerMac, kPhantomMac, IpAddress{kPeer4}, IpAddress{kPhantom4})));
        QVERIFY(!compiled.passes(peer().arpRequest(kPhantom4, false)));
        QVERIFY(!compiled.passes(peer().neighborSolicitation(kPhantom6, false)));
    }

    // Another phantom MAC, another filter: the MAC is not baked in.
    void otherMac_otherFilter() {
        const MacAddress other = *MacAddress::parse("02:12:34:56:78:9a");
        const CompiledFilter compiled(phantomBpfFilter(identityOf(other, kPhantom4, kPhantom6)));
        QVERIFY2(compiled.ok(), compiled.error().c_str());
        QVERIFY(
            compiled.passes(tcpFrame(kPeerMac, other, IpAddress{kPeer4}, IpAddress{kPhantom4})));
        QVERIFY(!compiled.passes(
            tcpFrame(kPeerMac, kPhantomMac, IpAddress{kPeer4}, IpAddress{kPhantom4})));
    }

    // Real Linux traffic (tests/data/captures): a Linux client (02:..:0a) talking to a
    // Linux server at the phantom's addresses and MAC (02:..:0b). Seen from the
    // phantom's side: what the client sent to the server's MAC, and its ARP request or
    // Neighbor Solicitation for the server's address, must pass; the server's TCP to the
    // client and the router solicitations both sent to all-routers must not.
    void realCaptures_filteredAsThePhantomNeeds_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<int>("multicastDrops");
        QTest::newRow("ipv4") << QStringLiteral("captures/linux_tcp_ipv4.pcap") << 0;
        QTest::newRow("ipv6") << QStringLiteral("captures/linux_tcp_ipv6.pcap") << 2;
    }
    void realCaptures_filteredAsThePhantomNeeds() {
        QFETCH(QString, file);
        QFETCH(int, multicastDrops);
        std::string error;
        const auto frames = test::readPcap(file.toStdString(), &error);
        QVERIFY2(!frames.empty(), error.c_str());
        const CompiledFilter compiled(phantomBpfFilter(phantomIdentity(Family::Both)));
        QVERIFY2(compiled.ok(), compiled.error().c_str());
        int toPhantom = 0;
        int resolution = 0;
        int serverTcp = 0;
        int otherMulticast = 0;
        for (std::size_t i = 0; i < frames.size(); ++i) {
            const Frame f = decodeFrame(frames[i]);
            const bool passed = compiled.passes(frames[i]);
            const QByteArray what = "frame #" + QByteArray::number(qulonglong(i) + 1);
            if (f.ethernet.dst == kPhantomMac) {
                ++toPhantom;
                QVERIFY2(passed, what + " to the phantom's MAC was dropped");
            } else if (f.ethernet.src == kPeerMac && (f.arp() || f.icmpv6()) &&
                       (f.ethernet.dst.isBroadcast() ||
                        f.ethernet.dst == kPhantom6.solicitedNodeMulticast().multicastMac())) {
                ++resolution;
                QVERIFY2(passed, what + " (the client resolving the phantom) was dropped");
            } else if (f.tcp()) {
                ++serverTcp;
                QVERIFY2(!passed, what + " (the server's TCP to the client) passed");
            } else if (f.ethernet.dst.isMulticast()) {
                ++otherMulticast;
                QVERIFY2(!passed, what + " (multicast not for the phantom) passed");
            }
        }
        QVERIFY(toPhantom >= 4);
        QCOMPARE(resolution, 1);
        QVERIFY(serverTcp >= 3);
        QCOMPARE(otherMulticast, multicastDrops);
    }
};

QTEST_GUILESS_MAIN(TestPhantomFilter)
#include "tst_phantom_filter.moc"
