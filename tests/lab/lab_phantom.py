"""A minimal phantom host for the namespace lab test (Python stdlib only).

Plays the classic exercise by hand through an AF_PACKET socket on tcplab0,
as tcplab does through libpcap: SYN, ACK, then PSH|ACK carrying the request
(no Host header), ACKs for the peer's data, and the close the mode asks for. Every
frame the peer sends is checked: IPv4 header checksum and TCP checksum
computed in full (with tx checksum offload on, a veth's frames carry only a
partial one) and no segment longer than the MSS we announced (with TSO/GSO on,
one "segment" can be 64 KB).

Modes, the close modes of the classic experiment against the lab's HTTP/1.1
server:
  keepalive  "GET / HTTP/1.1": the answer keeps the connection open (no
             "Connection: close", no FIN from the peer); we send FIN, the peer
             ACKs it and sends its FIN, we send the last ACK.
  pipeline   two requests in one segment, answered in order on the same
             connection; then closed as keepalive.
  close      "GET / HTTP/1.1" with "Connection: close": the answer says so and
             the peer's FIN follows it; we ACK it, send our FIN, the peer ACKs.
  rst        as keepalive, but we abort with RST after the answer.

The peer (or router) must already know the phantom's MAC: the test adds a
neighbour entry, so this script answers no ARP or Neighbor Solicitation.

usage: lab_phantom.py IFACE PHANTOM_MAC NEXT_HOP_MAC PHANTOM_IP PEER_IP PORT [MODE [SPORT]]
MODE defaults to keepalive, SPORT to a random port in 40000-59999.
Prints what happened; exit 0 when the exchange went as the mode says, with
200 responses and every checksum right, 1 otherwise. Gives up after 10 seconds.
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
QUIET_SECONDS = 0.5     # how long a keep-alive peer must stay silent after answering
MODES = ("keepalive", "pipeline", "close", "rst")


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
    def __init__(self, iface, mac, next_hop_mac, src, dst, dport, sport=None):
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.bind((iface, 0))
        self.mac, self.next_hop_mac = mac_bytes(mac), mac_bytes(next_hop_mac)
        self.src, self.dst = ipaddress.ip_address(src), ipaddress.ip_address(dst)
        self.v6 = self.src.version == 6
        self.sport, self.dport = sport or random.randint(40000, 59999), dport
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

    def receive(self, until=None):
        """The next segment of this connection from the peer, or None at the
        deadline (DEADLINE, or `until` when sooner)."""
        end = DEADLINE if until is None else min(until, DEADLINE)
        while True:
            left = end - time.monotonic()
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

    def exchange(self, mode):
        iss = random.randint(0, 2**32 - 1)
        self.send(iss, 0, SYN, options=struct.pack("!BBH", 2, 4, MSS))
        reply = self.receive()
        if reply is None or reply[2] & (SYN | ACK) != SYN | ACK or reply[1] != (iss + 1) % 2**32:
            return f"no SYN-ACK for our SYN (got {reply!r})"
        rcv_nxt = (reply[0] + 1) % 2**32
        snd_nxt = (iss + 1) % 2**32
        self.send(snd_nxt, rcv_nxt, ACK)
        if mode == "pipeline":
            targets = [b"/one", b"/two"]
            request = b"".join(b"GET " + t + b" HTTP/1.1\r\n\r\n" for t in targets)
        elif mode == "close":
            targets = [b"/"]
            request = b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n"
        else:
            targets = [b"/"]
            request = b"GET / HTTP/1.1\r\n\r\n"
        self.send(snd_nxt, rcv_nxt, PSH | ACK, request)
        snd_nxt = (snd_nxt + len(request)) % 2**32

        # Receive until every response is whole (Content-Length) and, when the
        # server is to close, until its FIN.
        data, peer_fin, responses = b"", False, []
        while True:
            responses, problem = split_responses(data)
            if problem:
                return problem
            if len(responses) >= len(targets) and (peer_fin or mode != "close"):
                break
            segment = self.receive()
            if segment is None:
                return (f"{len(responses)} of {len(targets)} responses"
                        f"{'' if mode != 'close' or len(responses) < len(targets) else ' but no FIN'}"
                        f" before the deadline (data so far {data!r})")
            seq, ack, flags, payload = segment
            if flags & RST:
                return "the peer reset the connection"
            if seq == rcv_nxt and payload:
                data += payload
                rcv_nxt = (rcv_nxt + len(payload)) % 2**32
            if flags & FIN and (seq + len(payload)) % 2**32 == rcv_nxt:
                if mode != "close":
                    return "the peer closed (FIN) a keep-alive connection first"
                rcv_nxt = (rcv_nxt + 1) % 2**32
                peer_fin = True
            if payload or flags & FIN:
                self.send(snd_nxt, rcv_nxt, ACK)

        for number, ((head, body), target) in enumerate(zip(responses, targets), 1):
            status = head.split(b"\r\n", 1)[0].decode(errors="replace")
            if not status.startswith("HTTP/1.1 200"):
                return f"response {number} was {status!r}, not 200"
            says_close = b"\r\nconnection: close" in head.lower()
            if says_close != (mode == "close"):
                return (f"response {number} {'says' if says_close else 'lacks'} "
                        f"'Connection: close' in mode {mode}: {head!r}")
            want = f"Request {number} on this connection: GET {target.decode()}".encode()
            if want not in body:
                return f"response {number} is not the answer to GET {target.decode()}: {body!r}"
        if len(responses) > len(targets):
            return f"{len(responses)} responses to {len(targets)} requests"

        if mode == "rst":
            self.send(snd_nxt, 0, RST)
            return None
        if mode == "close":
            # The peer closed first; our FIN, then its ACK.
            self.send(snd_nxt, rcv_nxt, FIN | ACK)
            while True:
                segment = self.receive()
                if segment is None:
                    return "no ACK for our FIN"
                if segment[2] & ACK and segment[1] == (snd_nxt + 1) % 2**32:
                    return None
        # Keep-alive: the peer must stay open (no FIN, nothing more) until we close.
        segment = self.receive(until=time.monotonic() + QUIET_SECONDS)
        if segment is not None and (segment[2] & (FIN | RST) or segment[3]):
            return (f"the peer sent flags 0x{segment[2]:02x} and {len(segment[3])} bytes "
                    f"after answering, on a keep-alive connection")
        self.send(snd_nxt, rcv_nxt, FIN | ACK)
        snd_nxt = (snd_nxt + 1) % 2**32
        # Its ACK and its FIN (one segment or two); the FIN must acknowledge ours.
        while True:
            segment = self.receive()
            if segment is None:
                return "no FIN from the peer after ours"
            seq, ack, flags, payload = segment
            if flags & RST:
                return "the peer answered our FIN with a RST"
            if flags & FIN:
                if ack != snd_nxt or seq != rcv_nxt:
                    return f"the peer's FIN has seq {seq} ack {ack}, not {rcv_nxt} {snd_nxt}"
                rcv_nxt = (rcv_nxt + 1) % 2**32
                break
        self.send(snd_nxt, rcv_nxt, ACK)
        return None


def split_responses(data):
    """([(head, body)], problem): the whole HTTP responses at the start of
    data, delimited by Content-Length; problem names one that has none."""
    responses = []
    while True:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            return responses, None
        head = data[:end]
        length = None
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if length is None:
            return responses, f"a response without Content-Length: {head!r}"
        if len(data) < end + 4 + length:
            return responses, None
        responses.append((head, data[end + 4:end + 4 + length]))
        data = data[end + 4 + length:]

def main():
    if len(sys.argv) not in (7, 8, 9) or (len(sys.argv) > 7 and sys.argv[7] not in MODES):
        print(next(line for line in __doc__.splitlines() if line.startswith("usage:")),
              file=sys.stderr)
        return 2
    iface, mac, next_hop_mac, src, dst, port = sys.argv[1:7]
    mode = sys.argv[7] if len(sys.argv) > 7 else "keepalive"
    sport = int(sys.argv[8]) if len(sys.argv) > 8 else None
    phantom = Phantom(iface, mac, next_hop_mac, src, dst, int(port), sport)
    failure = phantom.exchange(mode)
    problems = phantom.problems + ([failure] if failure else [])
    if problems:
        print(f"{mode}: " + "; ".join(problems))
        return 1
    close = {"keepalive": "kept open, then FIN from us first, the peer's FIN, our last ACK",
             "pipeline": "two requests in one segment answered in order, then closed as keepalive",
             "close": "Connection: close, the peer's FIN first, then ours",
             "rst": "kept open, then aborted with our RST"}[mode]
    print(f"{src} port {phantom.sport} -> {dst} port {port}: handshake, GET, 200; {close}; "
          f"{phantom.segments} segments from the peer, every checksum right")
    return 0


sys.exit(main())
