#!/usr/bin/python3
"""Reference vectors for tcplab's decoder and encoder, from scapy.

scapy is the independent oracle (DESIGN.md): every frame here is built with scapy,
then dissected again from its bytes with Ether(raw_bytes), and every recorded field
value is scapy's reading of those bytes -- not what was asked for when building.

Run with Debian's interpreter, which has python3-scapy:

    /usr/bin/python3 tests/data/scapy/gen_vectors.py

It writes vectors.json beside itself. The output is deterministic (fixed field
values, a fixed seed for binary payloads, nothing read from the clock), so running
it again gives the same file; the file is committed and read by
tests/core/tst_scapy_vectors.cpp.

Output: a JSON list of
  {"name": "...", "tags": [...], "reencode": bool, "fields_complete": bool,
   "hex": "<frame bytes>",
   "layers": [{"layer": "ethernet", ...}, {"layer": "ipv4", ...}, {"layer": "tcp", ...}],
   "payload_hex": "<application data, scapy's Raw layer>",
   "trailing_hex": "<bytes after the IP packet, scapy's Padding layer>",
   "ipv4_options_hex": "<the IPv4 options area as scapy dissected it>"   (IPv4 only),
   "chksum_ok": {"ipv4": bool, "tcp": bool, "icmpv6": bool}  (scapy's verdict)}

Conventions (those of tcplab's frame JSON, wire/frame_json.h):
  MACs lower-case; IPv4 dotted quad; IPv6 RFC 5952 text; EtherType, checksums, TOS,
  traffic class and flow label as integers; IPv4 flags as str() of scapy's FlagValue
  ("DF", "MF+DF", "evil", "" for none); TCP flags as scapy's letters without "N";
  TCP "reserved" as RFC 9293's 4-bit field, i.e. (scapy reserved << 1) | NS;
  TCP options as [["MSS",1460],["NOP",null],["WScale",7],["SAckOK",null],
  ["Timestamp",[tsval,tsecr]],["SAck",[[l,r],...]],["EOL",null]] and any kind
  tcplab does not name (scapy may: UTO, MD5, ...) as [kind, "hexdata"].

Layers that tcplab keeps outside its per-layer JSON are recorded for the test to
check against the decoded Frame: "ipv6ext" (one per IPv6 extension header:
proto = the Next Header value that named it, nh, bytes = its length) and
"nd_option" (ICMPv6 link-layer address options: type, len, lladdr).

"reencode" marks plain Ethernet/IPv4|IPv6/TCP frames (no VLAN tag, no IPv6
extension header, no bytes after the IP packet): SegmentSpec::fromFrame must
re-encode them byte for byte, and a SegmentSpec built from the recorded fields
must encode to the same bytes. "fields_complete" is false where scapy's view does
not account for every byte (junk after an EOL option), so building from the
fields alone cannot reproduce the frame.
"""

import ipaddress
import json
import os
import random
import struct
import sys

from scapy.all import (
    ARP,
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptSrcLLAddr,
    IP,
    IPOption,
    IPOption_NOP,
    IPOption_RR,
    IPOption_Router_Alert,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
    Dot1Q,
    Ether,
    Padding,
    PadN,
    Raw,
    RouterAlert,
    TCP,
    TCPOptions,
    checksum,
    raw,
)
from scapy.layers.inet import in4_chksum, TCPOptionsField
from scapy.layers.inet6 import in6_chksum, _IPv6ExtHdr

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "vectors.json")

# Addresses from the ranges the lab uses (DESIGN.md): 198.18.0.0/15, 2001:db8::/32.
MAC_PHANTOM = "02:00:5e:10:00:01"
MAC_PEER = "02:00:5e:10:00:02"
V4_PHANTOM = "198.18.0.1"
V4_PEER = "198.18.0.2"
V6_PHANTOM = "2001:db8::1"
V6_PEER = "2001:db8::2"

RNG = random.Random(0x7C91AB)

# Kinds tcplab names (TcpOption::name()); scapy names more, and those are recorded
# as [kind, hex] like any other kind tcplab does not know.
OUR_OPTION_NAMES = {"EOL", "NOP", "MSS", "WScale", "SAckOK", "SAck", "Timestamp"}


def v6text(addr):
    """RFC 5952 text (the ipaddress module, independent of scapy's own formatter)."""
    return ipaddress.IPv6Address(addr).compressed


def mac(m):
    return m.lower()


def option_json(opt):
    name, value = opt
    if isinstance(name, str) and name in OUR_OPTION_NAMES:
        if name in ("EOL", "NOP", "SAckOK"):
            return [name, None]
        if name == "SAck":
            if isinstance(value, int):
                value = (value,)
            assert len(value) % 2 == 0, "odd SAck values"
            return [name, [[value[i], value[i + 1]] for i in range(0, len(value), 2)]]
        if name == "Timestamp":
            return [name, [value[0], value[1]]]
        return [name, value]
    if isinstance(name, str):
        # A kind scapy names but tcplab does not: re-serialise that one option with
        # scapy's own field to recover its kind and data bytes.
        kind = TCPOptions[1][name]
        wire = TCPOptionsField("options", "").i2m(None, [opt])
        assert wire[0] == kind
        return [kind, wire[2:wire[1]].hex()]
    return [name, bytes(value).hex()]


def layer_json(layer, prev):
    """One scapy layer as a dict in tcplab's conventions, or None to skip it."""
    if isinstance(layer, Ether):
        return {"layer": "ethernet", "dst": mac(layer.dst), "src": mac(layer.src), "type": layer.type}
    if isinstance(layer, Dot1Q):
        return {"layer": "dot1q", "prio": layer.prio, "id": layer.id, "vlan": layer.vlan, "type": layer.type}
    if isinstance(layer, ARP):
        return {
            "layer": "arp",
            "hwtype": layer.hwtype,
            "ptype": layer.ptype,
            "hwlen": layer.hwlen,
            "plen": layer.plen,
            "op": layer.op,
            "hwsrc": mac(layer.hwsrc),
            "psrc": layer.psrc,
            "hwdst": mac(layer.hwdst),
            "pdst": layer.pdst,
        }
    if isinstance(layer, IP):
        return {
            "layer": "ipv4",
            "version": layer.version,
            "ihl": layer.ihl,
            "tos": layer.tos,
            "len": layer.len,
            "id": layer.id,
            "flags": str(layer.flags),
            "frag": layer.frag,
            "ttl": layer.ttl,
            "proto": layer.proto,
            "chksum": layer.chksum,
            "src": layer.src,
            "dst": layer.dst,
        }
    if isinstance(layer, IPv6):
        return {
            "layer": "ipv6",
            "version": layer.version,
            "tc": layer.tc,
            "fl": layer.fl,
            "plen": layer.plen,
            "nh": layer.nh,
            "hlim": layer.hlim,
            "src": v6text(layer.src),
            "dst": v6text(layer.dst),
        }
    if isinstance(layer, _IPv6ExtHdr):
        if isinstance(layer, IPv6ExtHdrFragment):
            size = 8
        else:
            size = (layer.len + 1) * 8
        return {"layer": "ipv6ext", "proto": prev.nh, "nh": layer.nh, "bytes": size}
    if isinstance(layer, TCP):
        flags = int(layer.flags)
        ns = (flags >> 8) & 1
        letters = str(layer.flags).replace("N", "")
        return {
            "layer": "tcp",
            "sport": layer.sport,
            "dport": layer.dport,
            "seq": layer.seq,
            "ack": layer.ack,
            "dataofs": layer.dataofs,
            "reserved": (layer.reserved << 1) | ns,
            "flags": letters,
            "window": layer.window,
            "chksum": layer.chksum,
            "urgptr": layer.urgptr,
            "options": [option_json(o) for o in layer.options],
        }
    if isinstance(layer, (ICMPv6ND_NS, ICMPv6ND_NA)):
        if isinstance(layer, ICMPv6ND_NA):
            nd_flags = (layer.R << 2) | (layer.S << 1) | layer.O
            res = layer.res
        else:
            # scapy keeps NS's 32 reserved bits as one field; tcplab splits them as NA's.
            nd_flags = layer.res >> 29
            res = layer.res & 0x1FFFFFFF
        return {
            "layer": "icmpv6",
            "type": layer.type,
            "code": layer.code,
            "cksum": layer.cksum,
            "flags": nd_flags,
            "res": res,
            "tgt": v6text(layer.tgt),
        }
    if isinstance(layer, ICMPv6EchoRequest):
        return {"layer": "icmpv6", "type": layer.type, "code": layer.code, "cksum": layer.cksum}
    if isinstance(layer, (ICMPv6NDOptSrcLLAddr, ICMPv6NDOptDstLLAddr)):
        return {"layer": "nd_option", "type": layer.type, "len": layer.len, "lladdr": mac(layer.lladdr)}
    if type(layer) in (Raw, Padding):
        return None
    raise ValueError("no mapping for scapy layer %s" % layer.__class__.__name__)


def checksum_verdicts(data, pkt):
    """scapy's own verdict on each checksum, computed over the original bytes with
    scapy's pseudo-header functions (a rebuild would not be byte-faithful). None for
    the TCP checksum of a fragment: it covers the whole datagram."""
    verdicts = {}
    l3 = 18 if Dot1Q in pkt else 14
    if IP in pkt:
        ip = pkt[IP]
        hdr = bytearray(data[l3:l3 + ip.ihl * 4])
        hdr[10:12] = b"\0\0"
        verdicts["ipv4"] = checksum(bytes(hdr)) == ip.chksum
        fragment = (int(ip.flags) & 1) or ip.frag
        if TCP in pkt and not fragment:
            seg = bytearray(data[l3 + ip.ihl * 4:l3 + ip.len])
            seg[16:18] = b"\0\0"
            verdicts["tcp"] = in4_chksum(6, ip, bytes(seg)) == pkt[TCP].chksum
    elif IPv6 in pkt:
        ip6 = pkt[IPv6]
        offset = l3 + 40
        layer = ip6.payload
        while isinstance(layer, _IPv6ExtHdr):
            offset += 8 if isinstance(layer, IPv6ExtHdrFragment) else (layer.len + 1) * 8
            layer = layer.payload
        end = l3 + 40 + ip6.plen
        fragment = IPv6ExtHdrFragment in pkt and (pkt[IPv6ExtHdrFragment].m or pkt[IPv6ExtHdrFragment].offset)
        if isinstance(layer, TCP) and not fragment:
            seg = bytearray(data[offset:end])
            seg[16:18] = b"\0\0"
            verdicts["tcp"] = in6_chksum(6, layer, bytes(seg)) == layer.chksum
        elif layer.__class__.__name__.startswith("ICMPv6"):
            msg = bytearray(data[offset:end])
            msg[2:4] = b"\0\0"
            verdicts["icmpv6"] = in6_chksum(58, layer, bytes(msg)) == layer.cksum
    return verdicts


VECTORS = []
NAMES = set()


def add(name, pkt, tags, reencode=None, fields_complete=True):
    assert name not in NAMES, name
    NAMES.add(name)
    data = raw(pkt)
    dis = Ether(data)  # scapy's view of the bytes: every value below comes from here
    layers = []
    payload = b""
    trailing = b""
    prev = None
    layer = dis
    while layer is not None and not isinstance(layer, type(None)) and layer.__class__.__name__ != "NoPayload":
        j = layer_json(layer, prev)
        if j is not None:
            layers.append(j)
        if type(layer) is Raw:
            payload += layer.load
        elif type(layer) is Padding:
            trailing += layer.load
        prev = layer
        layer = layer.payload
    if TCP in dis:
        # Structurally well-formed: scapy reads a short options area without complaint.
        t = dis[TCP]
        assert t.dataofs * 4 <= len(raw(t)) - len(trailing), name
    plain_tcp = (
        [l["layer"] for l in layers] in (["ethernet", "ipv4", "tcp"], ["ethernet", "ipv6", "tcp"])
        and not trailing
    )
    if reencode is None:
        reencode = plain_tcp
    assert not reencode or plain_tcp, name
    kinds = [l["layer"] for l in layers]
    auto_tags = []
    for k in ("ipv4", "ipv6", "tcp", "arp", "icmpv6", "dot1q", "ipv6ext"):
        if k in kinds:
            auto_tags.append(k)
    if payload:
        auto_tags.append("payload")
    if trailing:
        auto_tags.append("trailing_bytes")
    vec = {
        "name": name,
        "tags": auto_tags + [t for t in tags if t not in auto_tags],
        "reencode": reencode,
        "fields_complete": fields_complete,
        "hex": data.hex(),
        "layers": layers,
        "payload_hex": payload.hex(),
        "trailing_hex": trailing.hex(),
        "chksum_ok": checksum_verdicts(data, dis),
    }
    if IP in dis:
        vec["ipv4_options_hex"] = b"".join(raw(o) for o in dis[IP].options).hex()
    VECTORS.append(vec)


def eth():
    return Ether(src=MAC_PHANTOM, dst=MAC_PEER)


def ip4(**kw):
    args = dict(src=V4_PHANTOM, dst=V4_PEER, id=0x1234, flags="DF", ttl=64)
    args.update(kw)
    return IP(**args)


def ip6(**kw):
    args = dict(src=V6_PHANTOM, dst=V6_PEER, hlim=64)
    args.update(kw)
    return IPv6(**args)


def tcp(**kw):
    args = dict(sport=40000, dport=50001, seq=100, ack=0, flags="S", window=64240)
    args.update(kw)
    return TCP(**args)


def v4(name, tcp_kw, payload=b"", ip_kw=None, tags=(), **add_kw):
    pkt = eth() / ip4(**(ip_kw or {})) / tcp(**tcp_kw)
    if payload:
        pkt = pkt / Raw(payload)
    add(name, pkt, list(tags), **add_kw)


def v6(name, tcp_kw, payload=b"", ip_kw=None, tags=(), **add_kw):
    pkt = eth() / ip6(**(ip_kw or {})) / tcp(**tcp_kw)
    if payload:
        pkt = pkt / Raw(payload)
    add(name, pkt, list(tags), **add_kw)


HTTP_GET = b"GET / HTTP/1.1\r\n\r\n"
HTTP_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"

# --- The classic exchange, and every flag combination commonly met -------------
SYN_OPTS = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1000, 0)), ("NOP", None), ("WScale", 7)]
for fam, mk in (("v4", v4), ("v6", v6)):
    mk(f"{fam}_syn", dict(flags="S", seq=100, ack=0), tags=["flags_S", "handshake"])
    mk(f"{fam}_syn_linux_options", dict(flags="S", seq=100, options=SYN_OPTS),
       tags=["flags_S", "handshake", "opt_mss", "opt_sackok", "opt_ts", "opt_nop", "opt_wscale"])
    mk(f"{fam}_synack", dict(sport=50001, dport=40000, flags="SA", seq=3735928559, ack=101, window=65160,
                             options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (555, 1000)), ("NOP", None),
                                      ("WScale", 7)]),
       tags=["flags_SA", "handshake", "opt_mss", "opt_sackok", "opt_ts", "opt_nop", "opt_wscale"])
    mk(f"{fam}_ack", dict(flags="A", seq=101, ack=3735928560, window=502), tags=["flags_A", "handshake"])
    mk(f"{fam}_psh_ack_http_get", dict(flags="PA", seq=101, ack=3735928560, window=502), HTTP_GET,
       tags=["flags_PA", "payload_text"])
    mk(f"{fam}_psh_ack_http_ok", dict(sport=50001, dport=40000, flags="PA", seq=3735928560, ack=119,
                                      window=509), HTTP_OK, tags=["flags_PA", "payload_text"])
    mk(f"{fam}_fin_ack", dict(flags="FA", seq=119, ack=3735928604, window=502), tags=["flags_FA"])
    mk(f"{fam}_rst", dict(flags="R", seq=119, ack=0, window=0), tags=["flags_R"])
    mk(f"{fam}_rst_ack", dict(flags="RA", seq=0, ack=101, window=0), tags=["flags_RA"])
    mk(f"{fam}_fin", dict(flags="F", seq=119, ack=0), tags=["flags_F"])

v4("v4_syn_fin", dict(flags="SF"), tags=["flags_SF", "odd_flags"])
v4("v4_all_flags", dict(flags="FSRPAUEC", urgptr=1), b"!", tags=["flags_all", "odd_flags"])
v4("v4_no_flags", dict(flags=0), tags=["flags_none", "odd_flags"])
v4("v4_syn_ece_cwr", dict(flags="SEC"), tags=["flags_SEC", "ecn"])
v4("v4_synack_ece", dict(sport=50001, dport=40000, flags="SAE", seq=7, ack=101), tags=["flags_SAE", "ecn"])
v4("v4_ack_cwr", dict(flags="AC", seq=200, ack=300), tags=["flags_AC", "ecn"], ip_kw=dict(tos=0x02))
v4("v4_psh_ack_ece_ce", dict(flags="PAE", seq=200, ack=300), b"data", tags=["flags_PAE", "ecn"],
   ip_kw=dict(tos=0x03))
v6("v6_syn_fin_rst", dict(flags="SRF"), tags=["flags_SRF", "odd_flags"])
v6("v6_all_flags", dict(flags=0xFF, urgptr=0), tags=["flags_all", "odd_flags"])
v6("v6_no_flags", dict(flags=0), tags=["flags_none", "odd_flags"])

# --- Options, each kind alone and in combination ------------------------------
v4("opt_mss", dict(options=[("MSS", 1460)]), tags=["opt_mss"])
v4("opt_mss_min_max", dict(options=[("MSS", 0), ("MSS", 65535)]), tags=["opt_mss"])
v4("opt_wscale", dict(options=[("WScale", 14)]), tags=["opt_wscale"])
v4("opt_wscale_255", dict(options=[("NOP", None), ("WScale", 255)]), tags=["opt_wscale", "opt_nop"])
v4("opt_sackok", dict(options=[("SAckOK", b"")]), tags=["opt_sackok"])
for n in range(1, 5):
    blocks = []
    for i in range(n):
        blocks += [1000 + 3000 * i, 2000 + 3000 * i]
    v4(f"opt_sack_{n}", dict(flags="A", seq=101, ack=1000, options=[("SAck", tuple(blocks))]), tags=["opt_sack"])
v6("v6_opt_sack_wrap", dict(flags="A", seq=5, ack=4294967000,
                            options=[("NOP", None), ("NOP", None), ("SAck", (4294967200, 100))]),
   tags=["opt_sack", "opt_nop", "seq_wrap"])
v4("opt_timestamp", dict(flags="A", options=[("Timestamp", (1, 0))]), tags=["opt_ts"])
v4("opt_timestamp_max", dict(flags="A", options=[("NOP", None), ("NOP", None),
                                                 ("Timestamp", (4294967295, 2147483648))]),
   tags=["opt_ts", "opt_nop"])
v4("opt_nop", dict(options=[("NOP", None)]), tags=["opt_nop"])
v4("opt_nop_x4", dict(options=[("NOP", None)] * 4), tags=["opt_nop"])
v4("opt_eol", dict(options=[("EOL", None)]), tags=["opt_eol"])
v4("opt_mss_eol_padding", dict(options=[("MSS", 536), ("EOL", None)]), tags=["opt_mss", "opt_eol"])
v4("opt_windows_syn", dict(options=[("MSS", 1460), ("NOP", None), ("WScale", 8), ("NOP", None),
                                    ("NOP", None), ("SAckOK", b"")]),
   tags=["opt_mss", "opt_nop", "opt_wscale", "opt_sackok"])
v4("opt_full_40_bytes", dict(flags="A", seq=101, ack=5000,
                             options=[("NOP", None), ("NOP", None), ("Timestamp", (123456, 654321)),
                                      ("NOP", None), ("NOP", None), ("SAck", (6000, 7000, 8000, 9000, 10000, 11000))]),
   tags=["opt_nop", "opt_ts", "opt_sack", "opt_full"])
v4("opt_unknown_254", dict(options=[(254, bytes.fromhex("f989cafe"))]), tags=["opt_unknown"])
v4("opt_unknown_253_empty", dict(options=[(253, b""), ("MSS", 1400)]), tags=["opt_unknown", "opt_mss"])
v4("opt_mptcp_capable", dict(options=[("MSS", 1460), ("SAckOK", b""), ("NOP", None), ("NOP", None),
                                      (30, bytes.fromhex("0181") + bytes(range(1, 9)))]),
   tags=["opt_unknown", "opt_mptcp", "opt_mss", "opt_sackok", "opt_nop"])
v6("v6_opt_mptcp_dss", dict(flags="PA", seq=1, ack=1, options=[("NOP", None), ("NOP", None),
                                                              (30, bytes.fromhex("2001") + bytes(range(8)))]),
   b"mptcp", tags=["opt_unknown", "opt_mptcp", "opt_nop"])
v4("opt_uto_scapy_named", dict(options=[("UTO", 300), ("NOP", None), ("NOP", None)]),
   tags=["opt_unknown", "opt_uto"])
v4("opt_md5_scapy_named", dict(flags="A", options=[("MD5", bytes(range(16))), ("NOP", None), ("NOP", None)]),
   tags=["opt_unknown", "opt_md5"])
v6("v6_opt_linux_synack", dict(sport=50001, dport=40000, flags="SA", seq=1, ack=101,
                               options=[("MSS", 1440), ("NOP", None), ("NOP", None), ("SAckOK", b""),
                                        ("NOP", None), ("WScale", 9)]),
   tags=["opt_mss", "opt_nop", "opt_sackok", "opt_wscale"])

# --- Payloads -----------------------------------------------------------------
v4("payload_one_byte", dict(flags="PA", seq=1, ack=1), b"x", tags=["payload_odd"])
v4("payload_odd_length", dict(flags="PA", seq=1, ack=1), b"abcdefg", tags=["payload_odd", "payload_text"])
v4("payload_binary_256", dict(flags="PA", seq=1, ack=1), bytes(range(256)), tags=["payload_binary"])
v4("payload_random_mss", dict(flags="A", seq=1, ack=1), bytes(RNG.getrandbits(8) for _ in range(1460)),
   tags=["payload_binary", "payload_mss"])
v6("v6_payload_odd_binary", dict(flags="PA", seq=1, ack=1), bytes(RNG.getrandbits(8) for _ in range(333)),
   tags=["payload_binary", "payload_odd"])
v4("syn_with_data", dict(flags="S", options=[("MSS", 1460)]), b"early", tags=["flags_S", "payload_text"])

# --- Odd fields -----------------------------------------------------------------
v4("bad_tcp_chksum", dict(flags="PA", seq=1, ack=1, chksum=0xDEAD), b"bad", tags=["bad_tcp_chksum"])
v4("zero_tcp_chksum", dict(flags="A", seq=1, ack=1, chksum=0), tags=["bad_tcp_chksum"])
v6("v6_bad_tcp_chksum", dict(flags="S", chksum=0x1234), tags=["bad_tcp_chksum"])
v4("bad_ip_chksum", dict(flags="S"), ip_kw=dict(chksum=0xBEEF), tags=["bad_ip_chksum"])
v4("bad_both_chksums", dict(flags="A", chksum=0xFFFF), ip_kw=dict(chksum=0), tags=["bad_ip_chksum", "bad_tcp_chksum"])
v4("tcp_reserved_bits", dict(flags="A", reserved=7), tags=["tcp_reserved"])
v4("tcp_ns_bit", dict(flags=0x112), tags=["tcp_reserved", "tcp_ns"])
v4("tcp_reserved_all_and_ns", dict(flags=0x1FF, reserved=7), tags=["tcp_reserved", "tcp_ns", "flags_all"])
v4("urgent_with_urg", dict(flags="PAU", seq=1, ack=1, urgptr=3), b"abc", tags=["urgent"])
v4("urgent_without_urg", dict(flags="PA", seq=1, ack=1, urgptr=7), b"abcdefgh", tags=["urgent", "urg_no_flag"])
v6("v6_urgent_with_urg", dict(flags="AU", seq=1, ack=1, urgptr=65535), tags=["urgent"])
# A data offset larger than the options need: the header claims 8 words (32 bytes),
# the options take 4, and the 8 bytes after them are zero (EOL and its padding).
v4("dataofs_override_mss", dict(flags="S", dataofs=8, options=[("MSS", 1460)]), bytes(8) + b"after",
   tags=["dataofs_override", "opt_mss", "opt_eol"])
# The largest data offset: 15 words (60 bytes), so 36 zero bytes after the built
# 24-byte header are options area too, and only "x" is data.
v6("v6_dataofs_override_max", dict(flags="S", dataofs=15, options=[("NOP", None), ("EOL", None)]),
   bytes(36) + b"x",
   tags=["dataofs_override", "opt_nop", "opt_eol"])
# Junk after EOL: scapy stops at EOL, so its fields do not account for those bytes.
# The header claims 8 words; built, the options take 8 bytes (MSS, EOL, zero padding)
# and the 4 bytes after them (aabbccdd) fall inside the options area, after EOL.
v4("opt_junk_after_eol", dict(flags="S", dataofs=8, options=[("MSS", 1460), ("EOL", None)]),
   bytes.fromhex("aabbccdd") + b"data",
   tags=["opt_mss", "opt_eol", "opt_after_eol_junk"], fields_complete=False)
v4("seq_ack_extremes", dict(flags="A", seq=4294967295, ack=4294967295, window=0), tags=["seq_wrap", "window_zero"])
v4("ports_extremes", dict(sport=0, dport=65535, flags="S", window=65535), tags=["ports"])
v4("ports_max_min", dict(sport=65535, dport=0, flags="R", seq=0, window=0), tags=["ports", "flags_R"])

# --- IPv4 header: options, flags, fragments, TOS, TTL --------------------------
v4("ipv4_option_rr", dict(flags="S"), ip_kw=dict(options=[IPOption_RR(routers=["198.18.0.254"])]),
   tags=["ipv4_options"])
v4("ipv4_option_nops", dict(flags="S"), ip_kw=dict(options=[IPOption_NOP(), IPOption_NOP(), IPOption_NOP(),
                                                             IPOption_NOP()]), tags=["ipv4_options"])
v4("ipv4_option_router_alert", dict(flags="A", seq=1, ack=1), b"ra",
   ip_kw=dict(options=[IPOption_Router_Alert()]), tags=["ipv4_options"])
v4("ipv4_option_raw_padded", dict(flags="A"), ip_kw=dict(options=IPOption(bytes.fromhex("9404000001"))),
   tags=["ipv4_options"])
v4("ipv4_flags_none", dict(flags="S"), ip_kw=dict(flags=0), tags=["ipv4_flags"])
v4("ipv4_flags_evil", dict(flags="S"), ip_kw=dict(flags="evil"), tags=["ipv4_flags", "ipv4_evil"])
v4("ipv4_flags_evil_df", dict(flags="S"), ip_kw=dict(flags="DF+evil"), tags=["ipv4_flags", "ipv4_evil"])
# Fragments of one datagram, cut by hand so the TCP checksum is the datagram's (it
# covers the whole segment, RFC 9293 §3.1, so no fragment verifies on its own). The
# first fragment (MF, offset 0) holds the TCP header: scapy decodes it, as do
# Wireshark and tcpdump without reassembly. The others are data only.
FRAG_TCP = dict(flags="PA", seq=1, ack=1)
FRAG_DATA = bytes(range(64, 104))  # 40 bytes: segment = 20 + 40 = 60 = 24 + 24 + 12
_dgram4 = Ether(raw(eth() / ip4(flags=0, id=77) / tcp(**FRAG_TCP) / Raw(FRAG_DATA)))
_seg4 = raw(_dgram4[TCP])
add("ipv4_first_fragment_mf",
    eth() / ip4(flags="MF", id=77) / tcp(chksum=_dgram4[TCP].chksum, **FRAG_TCP) / Raw(FRAG_DATA[:4]),
    ["ipv4_flags", "ipv4_fragment", "first_fragment"])
add("ipv4_fragment_middle",
    eth() / ip4(flags="MF", id=77, frag=3, proto=6) / Raw(_seg4[24:48]),
    ["ipv4_flags", "ipv4_fragment"])
add("ipv4_fragment_last_evil",
    eth() / ip4(flags="evil", id=77, frag=6, proto=6) / Raw(_seg4[48:]),
    ["ipv4_flags", "ipv4_fragment", "ipv4_evil"])
v4("ipv4_tos_ttl_id", dict(flags="S"), ip_kw=dict(tos=0xB8, ttl=1, id=0), tags=["ipv4_tos"])
v4("ipv4_ttl_255_id_max", dict(flags="A"), ip_kw=dict(ttl=255, id=65535, tos=0xFF), tags=["ipv4_tos"])

# --- IPv6 header: traffic class, flow label, hop limit, addresses ----------------
v6("v6_tc_flow_label", dict(flags="S"), ip_kw=dict(tc=0xB8, fl=0xABCDE), tags=["ipv6_tc", "ipv6_fl"])
v6("v6_flow_label_max_hlim_1", dict(flags="A"), ip_kw=dict(tc=0xFF, fl=0xFFFFF, hlim=1), tags=["ipv6_tc", "ipv6_fl"])
v6("v6_rfc5952_addresses", dict(flags="S"), ip_kw=dict(src="2001:db8:0:0:1:0:0:1", dst="2001:db8:0:1:1:1:1:1",
                                                       hlim=255), tags=["ipv6_text"])
v6("v6_link_local", dict(flags="S"), ip_kw=dict(src="fe80::200:5eff:fe10:1", dst="fe80::200:5eff:fe10:2"),
   tags=["ipv6_text"])

# --- IPv6 extension headers before TCP ---------------------------------------------
EXT = dict(flags="S", seq=100)
add("v6_ext_hopbyhop", eth() / ip6() / IPv6ExtHdrHopByHop(options=[RouterAlert()]) / tcp(**EXT), ["ipv6ext_hbh"])
add("v6_ext_destopts", eth() / ip6() / IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0" * 4)]) / tcp(**EXT),
    ["ipv6ext_dest"])
add("v6_ext_routing_segleft0",
    eth() / ip6() / IPv6ExtHdrRouting(addresses=["2001:db8::99"], segleft=0) / tcp(**EXT), ["ipv6ext_routing"])
# segleft 1: the TCP pseudo-header uses the final destination, the routing header's
# last address (RFC 8200 §8.1), which is what scapy computes the checksum over.
add("v6_ext_routing_segleft1",
    eth() / ip6() / IPv6ExtHdrRouting(addresses=["2001:db8::99"], segleft=1) / tcp(**EXT) / Raw(b"via"),
    ["ipv6ext_routing", "ipv6_final_dst"])
add("v6_ext_chain_hbh_dest_routing",
    eth() / ip6() / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() / IPv6ExtHdrRouting(addresses=[], segleft=0)
    / tcp(flags="PA", seq=1, ack=1) / Raw(HTTP_GET), ["ipv6ext_hbh", "ipv6ext_dest", "ipv6ext_routing"])
add("v6_ext_atomic_fragment",
    eth() / ip6() / IPv6ExtHdrFragment(id=0x1234, offset=0, m=0) / tcp(flags="A", seq=1, ack=1),
    ["ipv6ext_frag"])
_dgram6 = Ether(raw(eth() / ip6() / tcp(**FRAG_TCP) / Raw(FRAG_DATA)))
_seg6 = raw(_dgram6[TCP])
add("v6_ext_fragment_first",
    eth() / ip6() / IPv6ExtHdrFragment(id=0x1235, offset=0, m=1) / tcp(chksum=_dgram6[TCP].chksum, **FRAG_TCP)
    / Raw(FRAG_DATA[:4]), ["ipv6ext_frag", "ipv6_fragment", "first_fragment"])
add("v6_ext_fragment_middle",
    eth() / ip6() / IPv6ExtHdrFragment(nh=6, id=0x1235, offset=3, m=1) / Raw(_seg6[24:48]),
    ["ipv6ext_frag", "ipv6_fragment"])

# --- 802.1Q ---------------------------------------------------------------------------
add("vlan_ipv4_tcp", Ether(src=MAC_PHANTOM, dst=MAC_PEER) / Dot1Q(prio=5, id=0, vlan=100) / ip4() / tcp(flags="S"),
    ["vlan"])
add("vlan_dei_ipv6_tcp", Ether(src=MAC_PHANTOM, dst=MAC_PEER) / Dot1Q(prio=7, id=1, vlan=4094) / ip6()
    / tcp(flags="PA", seq=1, ack=1) / Raw(HTTP_GET), ["vlan"])
add("vlan_arp", Ether(src=MAC_PHANTOM, dst="ff:ff:ff:ff:ff:ff") / Dot1Q(prio=0, id=0, vlan=1)
    / ARP(op=1, hwsrc=MAC_PHANTOM, psrc=V4_PHANTOM, hwdst="00:00:00:00:00:00", pdst=V4_PEER), ["vlan", "arp_request"])

# --- Ethernet padding (bytes after the IP packet) ---------------------------------
add("trailing_ethernet_padding", eth() / ip4() / tcp(flags="R", seq=5, window=0) / Padding(b"\0" * 6),
    ["ethernet_padding"])
add("v6_trailing_junk", eth() / ip6() / tcp(flags="A", seq=5, ack=5) / Raw(b"d") / Padding(b"\xaa\xbb"),
    ["ethernet_padding"])

# --- ARP ----------------------------------------------------------------------------
add("arp_who_has", Ether(src=MAC_PHANTOM, dst="ff:ff:ff:ff:ff:ff")
    / ARP(op=1, hwsrc=MAC_PHANTOM, psrc=V4_PHANTOM, hwdst="00:00:00:00:00:00", pdst=V4_PEER), ["arp_request"])
add("arp_is_at", Ether(src=MAC_PEER, dst=MAC_PHANTOM)
    / ARP(op=2, hwsrc=MAC_PEER, psrc=V4_PEER, hwdst=MAC_PHANTOM, pdst=V4_PHANTOM), ["arp_reply"])
add("arp_probe", Ether(src=MAC_PHANTOM, dst="ff:ff:ff:ff:ff:ff")
    / ARP(op=1, hwsrc=MAC_PHANTOM, psrc="0.0.0.0", hwdst="00:00:00:00:00:00", pdst=V4_PHANTOM), ["arp_probe"])
add("arp_gratuitous_reply", Ether(src=MAC_PHANTOM, dst="ff:ff:ff:ff:ff:ff")
    / ARP(op=2, hwsrc=MAC_PHANTOM, psrc=V4_PHANTOM, hwdst="ff:ff:ff:ff:ff:ff", pdst=V4_PHANTOM), ["arp_gratuitous"])

# --- ICMPv6 Neighbor Discovery ----------------------------------------------------------
SNM = "ff02::1:ff00:2"  # solicited-node multicast of 2001:db8::2
add("icmpv6_ns", Ether(src=MAC_PHANTOM, dst="33:33:ff:00:00:02")
    / IPv6(src=V6_PHANTOM, dst=SNM, hlim=255) / ICMPv6ND_NS(tgt=V6_PEER) / ICMPv6NDOptSrcLLAddr(lladdr=MAC_PHANTOM),
    ["nd_ns"])
add("icmpv6_ns_dad", Ether(src=MAC_PHANTOM, dst="33:33:ff:00:00:01")
    / IPv6(src="::", dst="ff02::1:ff00:1", hlim=255) / ICMPv6ND_NS(tgt=V6_PHANTOM), ["nd_ns", "nd_dad"])
add("icmpv6_na_solicited", Ether(src=MAC_PEER, dst=MAC_PHANTOM)
    / IPv6(src=V6_PEER, dst=V6_PHANTOM, hlim=255) / ICMPv6ND_NA(R=0, S=1, O=1, tgt=V6_PEER)
    / ICMPv6NDOptDstLLAddr(lladdr=MAC_PEER), ["nd_na"])
add("icmpv6_na_unsolicited_router", Ether(src=MAC_PEER, dst="33:33:00:00:00:01")
    / IPv6(src="fe80::200:5eff:fe10:2", dst="ff02::1", hlim=255) / ICMPv6ND_NA(R=1, S=0, O=1, tgt=V6_PEER)
    / ICMPv6NDOptDstLLAddr(lladdr=MAC_PEER), ["nd_na"])
add("icmpv6_na_bad_cksum", Ether(src=MAC_PEER, dst=MAC_PHANTOM)
    / IPv6(src=V6_PEER, dst=V6_PHANTOM, hlim=255) / ICMPv6ND_NA(R=0, S=1, O=0, tgt=V6_PEER, cksum=0x4321)
    / ICMPv6NDOptDstLLAddr(lladdr=MAC_PEER), ["nd_na", "bad_icmpv6_cksum"])
add("icmpv6_echo_request", eth() / ip6() / ICMPv6EchoRequest(id=0x42, seq=1, data=b"ping"), ["icmpv6_echo"])


def main():
    text = json.dumps(VECTORS, indent=1)
    with open(OUT, "w") as f:
        f.write(text + "\n")
    print("%d vectors, %d bytes -> %s" % (len(VECTORS), len(text) + 1, OUT), file=sys.stderr)


if __name__ == "__main__":
    main()
