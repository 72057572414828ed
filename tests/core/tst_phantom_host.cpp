// The phantom host's ARP/ND behaviour, driven with an explicit clock. The strongest
// checks replay the real Linux captures (tests/data/captures): given the kernel's
// ARP request / Neighbor Solicitation, the phantom's answer must equal the answer the
// real Linux host gave, byte for byte.
#include "tests_support/test_support.h"

#include "host/phantom_host.h"
#include "wire/frame.h"

#include <set>

using namespace tcplab;
using namespace tcplab::wire;
using namespace tcplab::host;

namespace {
constexpr std::int64_t kMs = 1'000'000;

const MacAddress kPhantomMac = *MacAddress::parse("02:00:00:00:00:0b");
const MacAddress kPeerMac = *MacAddress::parse("02:00:00:00:00:0a");
const MacAddress kStrangerMac = *MacAddress::parse("02:00:00:00:00:99");

Identity identity(bool v4 = true, bool v6 = true) {
    Identity id;
    id.mac = kPhantomMac;
    if (v4)
        id.ipv4 = Ipv4Config{*Ipv4Address::parse("198.18.0.1"), 24, std::nullopt};
    if (v6)
        id.ipv6 = Ipv6Config{*Ipv6Address::parse("2001:db8::1"), 64, std::nullopt};
    return id;
}

// A host that owns its addresses already, as after a clean probe.
PhantomHost claimedHost(Identity id = identity()) {
    PhantomHost h(std::move(id));
    h.claimWithoutProbe();
    return h;
}

std::vector<std::uint8_t> arpFrom(const MacAddress& mac, std::uint16_t op,
                                  const Ipv4Address& sender, const Ipv4Address& target) {
    std::vector<std::uint8_t> f(EthernetHeader::kLength + ArpPacket::kLength);
    EthernetHeader{MacAddress::broadcast(), mac, std::nullopt}.emit(f.data(), ether_type::kArp);
    ArpPacket a;
    a.operation = op;
    a.senderMac = mac;
    a.senderIp = sender;
    a.targetIp = target;
    a.emit(f.data() + EthernetHeader::kLength);
    return f;
}

bool feed(PhantomHost& h, const std::vector<std::uint8_t>& bytes, std::int64_t now,
          PhantomHost::FrameList& out) {
    return h.onFrame(decodeFrame(bytes), now, out);
}

bool hasEvent(const std::vector<HostEvent>& events, HostEvent::Kind kind) {
    return std::any_of(events.begin(), events.end(),
                       [&](const HostEvent& e) { return e.kind == kind; });
}
} // namespace

class TestPhantomHost : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void realArpRequest_isAnsweredExactlyAsLinuxDid() {
        const auto frames = test::readPcap("captures/linux_tcp_ipv4.pcap");
        QVERIFY(frames.size() >= 2);
        PhantomHost h = claimedHost();
        PhantomHost::FrameList out;
        QVERIFY(feed(h, frames[0], 0, out));
        QCOMPARE(out.size(), std::size_t{1});
        TCPLAB_COMPARE_BYTES(out[0], frames[1]);
        const auto events = h.takeEvents();
        QVERIFY(hasEvent(events, HostEvent::Kind::AnsweredArp));
        // It also learned who asked.
        QCOMPARE(h.nextHopMac(IpAddress{*Ipv4Address::parse("198.18.0.2")}),
                 std::optional(kPeerMac));
    }

    void realNeighborSolicitation_isAnsweredExactlyAsLinuxDid() {
        const auto frames = test::readPcap("captures/linux_tcp_ipv6.pcap");
        QVERIFY(frames.size() >= 2);
        PhantomHost h = claimedHost();
        PhantomHost::FrameList out;
        QVERIFY(feed(h, frames[0], 0, out));
        QCOMPARE(out.size(), std::size_t{1});
        TCPLAB_COMPARE_BYTES(out[0], frames[1]);
        QVERIFY(hasEvent(h.takeEvents(), HostEvent::Kind::AnsweredNeighborSolicitation));
    }

    void arpForAnotherAddress_isNotAnswered() {
        PhantomHost h = claimedHost();
        PhantomHost::FrameList out;
        feed(h,
             arpFrom(kPeerMac, arp_op::kRequest, *Ipv4Address::parse("198.18.0.2"),
                     *Ipv4Address::parse("198.18.0.7")),
             0, out);
        QVERIFY(out.empty());
    }

    void probe_sendsProbesThenClaimsAndAnnounces() {
        PhantomHost h(identity(true, false));
        PhantomHost::FrameList out;
        h.startProbe(0, out);
        QVERIFY(h.probing());
        QCOMPARE(out.size(), std::size_t{1});
        const Frame probe = decodeFrame(out[0]);
        QVERIFY(probe.arp());
        QVERIFY(probe.ethernet.dst.isBroadcast());
        QCOMPARE(probe.arp()->operation, arp_op::kRequest);
        QVERIFY(probe.arp()->senderIp.isUnspecified()); // RFC 5227 §2.1.1
        QCOMPARE(probe.arp()->targetIp, *Ipv4Address::parse("198.18.0.1"));
        QCOMPARE(h.nextDeadline(), std::optional<std::int64_t>(200 * kMs));
        h.tick(199 * kMs, out);
        QCOMPARE(out.size(), std::size_t{1});
        h.tick(200 * kMs, out);
        h.tick(400 * kMs, out);
        QCOMPARE(out.size(), std::size_t{3});
        h.tick(799 * kMs, out);
        QVERIFY(!h.ready());
        h.tick(800 * kMs, out);
        QVERIFY(h.ready());
        QCOMPARE(out.size(), std::size_t{4});
        const Frame announce = decodeFrame(out[3]);
        QCOMPARE(announce.arp()->senderIp, *Ipv4Address::parse("198.18.0.1")); // RFC 5227 §2.3
        QCOMPARE(announce.arp()->targetIp, *Ipv4Address::parse("198.18.0.1"));
        const auto events = h.takeEvents();
        QVERIFY(hasEvent(events, HostEvent::Kind::ProbeStarted));
        QVERIFY(hasEvent(events, HostEvent::Kind::AddressClaimed));
        QVERIFY(!h.nextDeadline());
    }

    void probe_answered_refusesWithTheMacAndSendsNothingMore() {
        PhantomHost h(identity());
        PhantomHost::FrameList out;
        h.startProbe(0, out);
        QCOMPARE(out.size(), std::size_t{2}); // ARP probe and DAD NS
        out.clear();
        const auto ours = *Ipv4Address::parse("198.18.0.1");
        feed(h, arpFrom(kStrangerMac, arp_op::kReply, ours, ours), 10 * kMs, out);
        QVERIFY(h.refused());
        QVERIFY(!h.ready());
        const auto events = h.takeEvents();
        const auto it = std::find_if(events.begin(), events.end(), [](const HostEvent& e) {
            return e.kind == HostEvent::Kind::AddressConflict;
        });
        QVERIFY(it != events.end());
        QCOMPARE(it->mac, std::optional(kStrangerMac));
        QVERIFY(QString::fromStdString(it->message).contains("02:00:00:00:00:99"));
        QVERIFY(QString::fromStdString(it->message).contains("198.18.0.1 is in use"));
        // Nothing else goes out: no more probes, no answers, no resolution.
        for (std::int64_t t = 0; t < 5000; t += 100)
            h.tick(t * kMs, out);
        feed(h, arpFrom(kPeerMac, arp_op::kRequest, *Ipv4Address::parse("198.18.0.2"), ours),
             6000 * kMs, out);
        h.resolve(IpAddress{*Ipv4Address::parse("198.18.0.2")}, 6000 * kMs, out);
        QVERIFY(out.empty());
    }

    void probe_simultaneousProbeByAnotherHost_isAConflict() {
        PhantomHost h(identity(true, false));
        PhantomHost::FrameList out;
        h.startProbe(0, out);
        feed(h,
             arpFrom(kStrangerMac, arp_op::kRequest, Ipv4Address{},
                     *Ipv4Address::parse("198.18.0.1")),
             0, out);
        QVERIFY(h.refused());
    }

    void probe_unrelatedArpTraffic_doesNotConflict() {
        PhantomHost h(identity(true, false));
        PhantomHost::FrameList out;
        h.startProbe(0, out);
        feed(h,
             arpFrom(kStrangerMac, arp_op::kRequest, *Ipv4Address::parse("198.18.0.9"),
                     *Ipv4Address::parse("198.18.0.2")),
             0, out);
        for (std::int64_t t = 0; t <= 800; t += 100)
            h.tick(t * kMs, out);
        QVERIFY(h.ready());
    }

    void dad_sendsNsFromUnspecifiedWithoutSourceLinkLayer() {
        PhantomHost h(identity(false, true));
        PhantomHost::FrameList out;
        h.startProbe(0, out);
        QCOMPARE(out.size(), std::size_t{1});
        const Frame ns = decodeFrame(out[0]);
        QVERIFY(!ns.malformed);
        QVERIFY(ns.diagnostics.empty()); // checksum right
        QVERIFY(ns.ipv6()->src.isUnspecified());
        QCOMPARE(QString::fromStdString(ns.ipv6()->dst.toString()), QString("ff02::1:ff00:1"));
        QCOMPARE(QString::fromStdString(ns.ethernet.dst.toString()), QString("33:33:ff:00:00:01"));
        QCOMPARE(ns.ipv6()->hopLimit, std::uint8_t{255});
        QCOMPARE(ns.icmpv6()->type, icmpv6_type::kNeighborSolicitation);
        QVERIFY(!ns.icmpv6()->sourceLinkLayer); // RFC 4861 §4.3
    }

    void dad_answeredByAdvertisement_isRefused() {
        PhantomHost h(identity(false, true));
        PhantomHost::FrameList out;
        h.startProbe(0, out);
        // The stranger's NA for our tentative address, built by a claimed host of its own.
        Identity stranger = identity(false, true);
        stranger.mac = kStrangerMac;
        PhantomHost other = claimedHost(stranger);
        const auto na = other.neighborAdvertisement(*Ipv6Address::parse("ff02::1"),
                                                    MacAddress::broadcast(), false);
        feed(h, na, 5 * kMs, out);
        QVERIFY(h.refused());
        const auto events = h.takeEvents();
        QVERIFY(hasEvent(events, HostEvent::Kind::AddressConflict));
    }

    void ndWithHopLimitBelow255_isIgnored() {
        auto ns = test::readPcap("captures/linux_tcp_ipv6.pcap")[0];
        ns[14 + 7] = 64; // hop limit; the checksum does not cover it
        PhantomHost h = claimedHost();
        PhantomHost::FrameList out;
        feed(h, ns, 0, out);
        QVERIFY(out.empty());
    }

    void resolve_retriesThenFailsWithAReason() {
        PhantomHost h = claimedHost();
        PhantomHost::FrameList out;
        const IpAddress peer{*Ipv4Address::parse("198.18.0.2")};
        h.resolve(peer, 0, out);
        QCOMPARE(out.size(), std::size_t{1});
        QCOMPARE(decodeFrame(out[0]).arp()->senderIp, *Ipv4Address::parse("198.18.0.1"));
        h.resolve(peer, 1, out); // already pending: nothing new
        QCOMPARE(out.size(), std::size_t{1});
        h.tick(1000 * kMs, out);
        h.tick(2000 * kMs, out);
        QCOMPARE(out.size(), std::size_t{3});
        h.tick(3000 * kMs, out);
        const auto events = h.takeEvents();
        const auto it = std::find_if(events.begin(), events.end(), [](const HostEvent& e) {
            return e.kind == HostEvent::Kind::ResolveFailed;
        });
        QVERIFY(it != events.end());
        QVERIFY2(QString::fromStdString(it->message)
                     .contains("no answer from 198.18.0.2 to 3 ARP requests"),
                 it->message.c_str());
        QVERIFY(!h.nextHopMac(peer));
    }

    void resolve_learnsFromTheReply() {
        PhantomHost h = claimedHost();
        PhantomHost::FrameList out;
        const auto peer = *Ipv4Address::parse("198.18.0.2");
        h.resolve(IpAddress{peer}, 0, out);
        feed(h, arpFrom(kPeerMac, arp_op::kReply, peer, *Ipv4Address::parse("198.18.0.1")), 1 * kMs,
             out);
        QCOMPARE(h.nextHopMac(IpAddress{peer}), std::optional(kPeerMac));
        QVERIFY(hasEvent(h.takeEvents(), HostEvent::Kind::Resolved));
        h.tick(5000 * kMs, out);
        QCOMPARE(out.size(), std::size_t{1}); // no retries after the answer
    }

    void resolve_ipv6_learnsFromRealAdvertisement() {
        // The phantom as 2001:db8::2 asks for 2001:db8::1; Linux's real NA answers.
        Identity id;
        id.mac = kPeerMac;
        id.ipv6 = Ipv6Config{*Ipv6Address::parse("2001:db8::2"), 64, std::nullopt};
        PhantomHost h = claimedHost(id);
        PhantomHost::FrameList out;
        const IpAddress peer{*Ipv6Address::parse("2001:db8::1")};
        h.resolve(peer, 0, out);
        QCOMPARE(out.size(), std::size_t{1});
        const auto frames = test::readPcap("captures/linux_tcp_ipv6.pcap");
        // Our NS is the one Linux sent in the capture, byte for byte.
        TCPLAB_COMPARE_BYTES(out[0], frames[0]);
        feed(h, frames[1], 1 * kMs, out);
        QCOMPARE(h.nextHopMac(peer), std::optional(kPhantomMac));
    }

    void offSubnetPeer_goesThroughTheGateway() {
        Identity id = identity(true, false);
        PhantomHost noGateway = claimedHost(id);
        const IpAddress far{*Ipv4Address::parse("198.18.1.2")};
        const auto hop = noGateway.nextHop(far);
        QVERIFY(!hop);
        QVERIFY2(QString::fromStdString(hop.error()).contains("198.18.0.0/24"),
                 hop.error().c_str());
        QVERIFY(QString::fromStdString(hop.error()).contains("--gateway"));
        id.ipv4->gateway = *Ipv4Address::parse("198.18.0.254");
        PhantomHost h = claimedHost(id);
        QCOMPARE(*h.nextHop(far), IpAddress{*Ipv4Address::parse("198.18.0.254")});
        PhantomHost::FrameList out;
        h.resolve(far, 0, out);
        QCOMPARE(decodeFrame(out.at(0)).arp()->targetIp, *Ipv4Address::parse("198.18.0.254"));
    }

    void resolveBeforeClaim_waitsForTheClaim() {
        PhantomHost h(identity(true, false));
        PhantomHost::FrameList out;
        h.startProbe(0, out);
        h.resolve(IpAddress{*Ipv4Address::parse("198.18.0.2")}, 0, out);
        QCOMPARE(out.size(), std::size_t{1}); // only the probe
        for (std::int64_t t = 100; t <= 800; t += 100)
            h.tick(t * kMs, out);
        QVERIFY(h.ready());
        const Frame last = decodeFrame(out.back());
        QCOMPARE(last.arp()->targetIp, *Ipv4Address::parse("198.18.0.2"));
        QCOMPARE(last.arp()->senderIp, *Ipv4Address::parse("198.18.0.1"));
    }

    void randomMacs_areUnicastAndLocallyAdministered() {
        std::mt19937_64 rng(7);
        std::set<MacAddress> seen;
        for (int i = 0; i < 1000; ++i) {
            const MacAddress m = randomLocalMac(rng);
            QVERIFY(m.isLocallyAdministered());
            QVERIFY(!m.isMulticast());
            seen.insert(m);
        }
        QCOMPARE(seen.size(), std::size_t{1000});
    }
};

QTEST_GUILESS_MAIN(TestPhantomHost)
#include "tst_phantom_host.moc"
