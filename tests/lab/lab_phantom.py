"""A minimal phantom host for the namespace lab test (Python stdlib only).

Plays the classic exercise by hand through an AF_PACKET socket on tcplab0,
as tcplab does through libpcap: SYN, then ACK carrying "GET / HTTP/1.1" (no
Host header), ACKs for the peer's data, and FIN after the peer's FIN. Every
frame the peer sends is checked: IPv4 header checksum and TCP checksum
computed in full (with tx checksum offload on, a veth's frames carry only a
partial one) and no segment longer than the MSS we announced (with TSO/GSO on,
one "segment" can be 64 KB).

The peer (or router) must already know the phantom's MAC: the test adds a
neighbour entry, so this script answers no ARP or Neighbor Solicitation.

usage: lab_phantom.py IFACE PHANTOM_MAC NEXT_HOP_MAC PHANTOM_IP PEER_IP PORT
Prints what happened; exit 0 when the exchange completed with a 200 response
and every checksum right, 1 otherwise. Gives up after 10 seconds.
"""
import ipaddress
import random
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
PACKET_OUTGOING = 4
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
MSS = 1460
DEADLINE = time.monotonic() + 10


def mac_bytes(text):
    return bytes(int(part, 16) for part in text.split(":"))


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


class Phantom:
    def __init__(self, iface, mac, next_hop_mac, src, dst, dport):
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.bind((iface, 0))
        self.mac, self.next_hop_mac = mac_bytes(mac), mac_bytes(next_hop_mac)
        self.src, self.dst = ipaddress.ip_address(src), ipaddress.ip_address(dst)
        self.v6 = self.src.version == 6
        self.sport, self.dport = random.randint(40000, 59999), dport
        self.problems = []
        self.segments = 0

    def pseudo(self, src, dst, length):
        if self.v6:
            return src.packed + dst.packed + struct.pack("!IxxxB", length, 6)
        return src.packed + dst.packed + struct.pack("!xBH", 6, length)

    def send(self, seq, ack, flags, payload=b"", options=b""):
        offset = (20 + len(options)) // 4
        tcp = struct.pack("!HHIIBBHHH", self.sport, self.dport, seq, ack, offset << 4, flags,
                          65535, 0, 0) + options + payload
        csum = checksum(self.pseudo(self.src, self.dst, len(tcp)) + tcp)
        tcp = tcp[:16] + struct.pack("!H", csum) + tcp[18:]
        if self.v6:
            ip = struct.pack("!IHBB", 6 << 28, len(tcp), 6, 64) + self.src.packed + self.dst.packed
            ethertype = ETH_P_IPV6
        else:
            header = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(tcp), random.randint(0, 65535),
                                 0x4000, 64, 6, 0) + self.src.packed + self.dst.packed
            ip = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
            ethertype = ETH_P_IP
        self.sock.send(self.next_hop_mac + self.mac + struct.pack("!H", ethertype) + ip + tcp)

    def receive(self):
        """The next segment of this connection from the peer, or None at the deadline."""
        while True:
            left = DEADLINE - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                frame, address = self.sock.recvfrom(65535)
            except socket.timeout:
                return None
            if address[2] == PACKET_OUTGOING or frame[0:6] != self.mac:
                continue
            segment = self.parse(frame)
            if segment is not None:
                return segment

    def parse(self, frame):
        ethertype = struct.unpack("!H", frame[12:14])[0]
        packet = frame[14:]
        if self.v6 and ethertype == ETH_P_IPV6 and len(packet) >= 40 and packet[6] == 6:
            length = struct.unpack("!H", packet[4:6])[0]
            src, dst = ipaddress.ip_address(packet[8:24]), ipaddress.ip_address(packet[24:40])
            tcp = packet[40:40 + length]
        elif not self.v6 and ethertype == ETH_P_IP and len(packet) >= 20 and packet[9] == 6:
            ihl = (packet[0] & 0x0F) * 4
            total = struct.unpack("!H", packet[2:4])[0]
            if checksum(packet[:ihl]) != 0:
                self.problems.append("IPv4 header checksum wrong")
            src, dst = ipaddress.ip_address(packet[12:16]), ipaddress.ip_address(packet[16:20])
            tcp = packet[ihl:total]
        else:
            return None
        if src != self.dst or dst != self.src or len(tcp) < 20:
            return None
        sport, dport, seq, ack, offset, flags = struct.unpack("!HHIIBB", tcp[:14])
        if sport != self.dport or dport != self.sport:
            return None
        self.segments += 1
        payload = tcp[(offset >> 4) * 4:]
        if checksum(self.pseudo(src, dst, len(tcp)) + tcp) != 0:
            self.problems.append(f"TCP checksum wrong on a segment of {len(payload)} bytes "
                                 f"(0x{struct.unpack('!H', tcp[16:18])[0]:04x}): partial checksum, tx offload on?")
        if len(payload) > MSS:
            self.problems.append(f"a {len(payload)}-byte segment, more than the MSS {MSS}: TSO/GSO on?")
        return seq, ack, flags, payload

    def exchange(self):
        iss = random.randint(0, 2**32 - 1)
        self.send(iss, 0, SYN, options=struct.pack("!BBH", 2, 4, MSS))
        reply = self.receive()
        if reply is None or reply[2] & (SYN | ACK) != SYN | ACK or reply[1] != (iss + 1) % 2**32:
            return f"no SYN-ACK for our SYN (got {reply!r})"
        rcv_nxt = (reply[0] + 1) % 2**32
        snd_nxt = (iss + 1) % 2**32
        request = b"GET / HTTP/1.1\r\n\r\n"
        self.send(snd_nxt, rcv_nxt, PSH | ACK, request)
        snd_nxt = (snd_nxt + len(request)) % 2**32
        data = b""
        while True:
            segment = self.receive()
            if segment is None:
                return f"the peer's FIN never came (data so far {data!r})"
            seq, ack, flags, payload = segment
            if flags & RST:
                return "the peer reset the connection"
            if seq == rcv_nxt and payload:
                data += payload
                rcv_nxt = (rcv_nxt + len(payload)) % 2**32
            if flags & FIN and (seq + len(payload)) % 2**32 == rcv_nxt:
                rcv_nxt = (rcv_nxt + 1) % 2**32
                break
            if payload:
                self.send(snd_nxt, rcv_nxt, ACK)
        self.send(snd_nxt, rcv_nxt, FIN | ACK)
        while True:
            segment = self.receive()
            if segment is None:
                return "no ACK for our FIN"
            if segment[2] & ACK and segment[1] == (snd_nxt + 1) % 2**32:
                break
        status = data.split(b"\r\n", 1)[0].decode(errors="replace")
        if not status.startswith("HTTP/1.1 200"):
            return f"the response was {status!r}, not 200"
        if b"\r\ncontent-length:" not in data.lower():
            return "the response has no Content-Length"
        return None


def main():
    iface, mac, next_hop_mac, src, dst, port = sys.argv[1:7]
    phantom = Phantom(iface, mac, next_hop_mac, src, dst, int(port))
    failure = phantom.exchange()
    problems = phantom.problems + ([failure] if failure else [])
    if problems:
        print("; ".join(problems))
        return 1
    print(f"{src} -> {dst} port {port}: handshake, GET, 200, FIN both ways; "
          f"{phantom.segments} segments from the peer, every checksum right")
    return 0


sys.exit(main())
