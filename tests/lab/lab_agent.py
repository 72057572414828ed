"""The namespace lab's peer agent, checked through its socket with a client of its own
(Python stdlib only): the codec here is written from core/peer/agent_protocol.cpp's
description of the wire, so it checks that codec independently too.

usage: lab_agent.py SOCKET CHECK
CHECKs:
  sysctl     Hello (stack "linux", protocol version 1), then "sysctl net.ipv4.tcp_sack":
             answered Done, result 0, the value the namespace has (sysctl -n agrees: the
             value is printed), and a key outside net. is refused
  socket     "socket inet": the first fd of the session is 3, a second one 4; "sample"
             answers the number of sockets its Sample message (after = its id) lists,
             every TCP socket of the namespace, among them these two (fd set, state
             CLOSE, 7)
  refused    nine sessions at once: the ninth gets one Answer (id 0, Refused, "8 sessions
             at most") and is closed
Prints what happened; exit 0 when the check holds, 1 otherwise. Every wait is bounded.
"""
import socket
import struct
import sys

WAIT_SECONDS = 5
HELLO, REQUEST, ANSWER, SAMPLE = 1, 2, 3, 4
CALLS = {"socket": 1, "close": 9, "sysctl": 15, "sample": 18}
TCPI_STATE = 0   # TcpInfoField::State


class Failed(Exception):
    pass


class Reader:
    """Big-endian fields in order, as agent_protocol.cpp writes them."""

    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, n):
        if self.at + n > len(self.data):
            raise Failed(f"truncated at byte {self.at}: {n} more wanted of {self.data!r}")
        chunk = self.data[self.at:self.at + n]
        self.at += n
        return chunk

    def u(self, n):
        return int.from_bytes(self.take(n), "big")

    def i(self, n):
        return int.from_bytes(self.take(n), "big", signed=True)

    def blob(self):
        return self.take(self.u(4))

    def numbers(self):
        return [self.i(8) for _ in range(self.u(2))]


def encode_request(request_id, call, fd=-1, numbers=(), text=b"", data=b""):
    body = struct.pack("!BIBi", REQUEST, request_id, call, fd)
    body += struct.pack("!H", len(numbers)) + b"".join(struct.pack("!q", n) for n in numbers)
    body += struct.pack("!I", len(text)) + text + struct.pack("!I", len(data)) + data
    return struct.pack("!I", len(body)) + body


def decode(message):
    r = Reader(message)
    length = r.u(4)
    if length != len(message) - 4:
        raise Failed(f"length field {length}, {len(message) - 4} bytes follow")
    kind = r.u(1)
    if kind == HELLO:
        m = {"kind": "hello", "version": r.u(4), "stack": r.blob().decode(),
             "release": r.blob().decode(), "pid": r.i(4), "limits": r.blob().decode()}
    elif kind == ANSWER:
        m = {"kind": "answer", "id": r.u(4), "call": r.u(1), "outcome": r.u(1),
             "result": r.i(8), "error": r.i(4), "start_ns": r.i(8), "duration_ns": r.i(8),
             "numbers": r.numbers(), "text": r.blob().decode(), "data": r.blob()}
    elif kind == SAMPLE:
        m = {"kind": "sample", "time_ns": r.i(8), "after": r.u(4), "sockets": []}
        for _ in range(r.u(2)):
            s = {"inode": r.u(8), "fd": r.i(4), "flags": r.u(1), "local": r.blob(),
                 "local_port": r.u(2), "remote": r.blob(), "remote_port": r.u(2),
                 "receive_queue": r.u(4), "send_queue": r.u(4),
                 "congestion": r.blob().decode()}
            s["fields"] = dict((r.u(1), r.u(8)) for _ in range(r.u(1)))
            m["sockets"].append(s)
    else:
        raise Failed(f"unknown message kind {kind}")
    if r.at != len(message):
        raise Failed(f"{len(message) - r.at} bytes after the end of the message")
    return m


class Agent:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.settimeout(WAIT_SECONDS)
        self.sock.connect(path)
        self.next_id = 1
        self.others = []

    def receive(self):
        try:
            data = self.sock.recv(256 * 1024)
        except socket.timeout:
            raise Failed(f"nothing from the agent within {WAIT_SECONDS} s")
        if not data:
            raise Failed("the agent closed the session")
        return decode(data)

    def hello(self):
        m = self.receive()
        if m["kind"] != "hello":
            raise Failed(f"the first message is not a Hello: {m}")
        if m["version"] != 1 or m["stack"] != "linux" or m["limits"] != "" or m["pid"] <= 0:
            raise Failed(f"a Hello that is not the Linux agent's: {m}")
        return m

    def call(self, name, fd=-1, numbers=(), text=b"", data=b""):
        request_id = self.next_id
        self.next_id += 1
        self.sock.send(encode_request(request_id, CALLS[name], fd, numbers, text, data))
        while True:
            m = self.receive()
            if m["kind"] == "answer" and m["id"] == request_id:
                if m["call"] != CALLS[name]:
                    raise Failed(f"the answer to {name} names call {m['call']}")
                return m
            self.others.append(m)

    def samples_after(self, request_id):
        """The Sample messages that followed request `request_id` (bounded wait)."""
        found = [m for m in self.others if m["kind"] == "sample" and m["after"] == request_id]
        while not found:
            m = self.receive()
            self.others.append(m)
            if m["kind"] == "sample" and m["after"] == request_id:
                found.append(m)
        return found


def check(path, name):
    if name == "sysctl":
        a = Agent(path)
        hello = a.hello()
        m = a.call("sysctl", text=b"net.ipv4.tcp_sack")
        if m["outcome"] != 0 or m["result"] != 0 or m["error"] != 0 or m["data"] not in (b"0", b"1"):
            raise Failed(f"sysctl net.ipv4.tcp_sack: {m}")
        if m["start_ns"] <= 0 or m["duration_ns"] < 0:
            raise Failed(f"the answer has no start or duration: {m}")
        outside = a.call("sysctl", text=b"kernel.hostname")
        if outside["outcome"] != 1 or "net." not in outside["text"]:
            raise Failed(f"a key outside net. was not refused: {outside}")
        return f"{m['data'].decode()} (agent pid {hello['pid']}, kernel {hello['release']})"
    if name == "socket":
        a = Agent(path)
        a.hello()
        first = a.call("socket", numbers=(2, 1, 0))
        second = a.call("socket", numbers=(10, 1, 0))
        if (first["result"], second["result"]) != (3, 4):
            raise Failed(f"the session's first sockets are fds {first['result']} and "
                         f"{second['result']}, not 3 and 4")
        m = a.call("sample")
        sockets = [s for sample in a.samples_after(m["id"]) for s in sample["sockets"]]
        present = [s for s in sockets if not s["flags"] & 2]
        if m["result"] != len(present) or m["result"] < 2:
            raise Failed(f"sample answered {m['result']}, its Sample lists {len(present)}")
        mine = sorted((s["fd"], s["fields"].get(TCPI_STATE)) for s in sockets if s["fd"] >= 0)
        if mine != [(3, 7), (4, 7)]:
            raise Failed(f"the sample shows {mine}, not fds 3 and 4 in CLOSE (7)")
        return "fds 3 and 4, both in the sample, CLOSE"
    if name == "refused":
        held = []
        for _ in range(8):
            a = Agent(path)
            a.hello()
            held.append(a)
        extra = Agent(path)
        m = extra.receive()
        if m["kind"] != "answer" or m["id"] != 0 or m["outcome"] != 1 or \
                "8 sessions at most" not in m["text"]:
            raise Failed(f"the ninth session got {m}")
        try:
            more = extra.sock.recv(1024)
        except socket.timeout:
            raise Failed("the ninth session was not closed")
        if more:
            raise Failed(f"the ninth session got more: {more!r}")
        return m["text"]
    raise Failed(f"no check named {name!r}")


def main():
    if len(sys.argv) != 3:
        print("usage: lab_agent.py SOCKET CHECK", file=sys.stderr)
        return 2
    try:
        print(check(sys.argv[1], sys.argv[2]))
    except (Failed, OSError) as error:
        print(f"{sys.argv[2]}: {error}")
        return 1
    return 0


sys.exit(main())
