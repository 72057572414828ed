"""HTTP/1.1 persistence of the namespace lab's server, checked with a kernel
client from inside the lab (Python stdlib only).

usage: lab_http.py ADDRESS PORT CHECK
CHECKs:
  get              one "GET / HTTP/1.1" (no Host header): 200 with Content-Length
  keepalive        HTTP/1.1 without "Connection: close": no "Connection: close",
                   the connection stays open, a second request is answered on
                   it, and the server's FIN comes only after ours
  pipeline         GET, HEAD, GET in one segment: answered in order, the HEAD
                   without a body, the connection still open after them
  body             a POST with a Content-Length body, then a GET, in one
                   segment: the body is skipped, the GET is request 2
  close            "connection: CLOSE" (any case): the answer says
                   "Connection: close" and the server's FIN follows it without
                   ours; a request pipelined after it is not answered
  http10           HTTP/1.0 without keep-alive: "Connection: close", then FIN
  http10-keepalive HTTP/1.0 with "Connection: keep-alive": the answer says so
                   and the connection stays open for a second request
  bytes            GET /bytes/N: 200, application/octet-stream, Content-Length N
                   and N bytes of tcplab's bulk pattern (core/peer/pattern.h) for
                   N = 0, 1, 100000 and 20 MiB; HEAD /bytes/1073741824 has the
                   head alone; /bytes/1073741825 is "413 Content Too Large" with its
                   one-line body; an 11-digit N is an ordinary target (the greeting);
                   all on one kept-alive connection
Prints what happened; exit 0 when the check holds, 1 otherwise. Every wait is
bounded (5 s per read).
"""
import socket
import sys

QUIET_SECONDS = 0.5  # how long an open connection must stay silent
WAIT_SECONDS = 5
PATTERN = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.\n"
MAX_BULK = 1 << 30


class Failed(Exception):
    pass


class Client:
    def __init__(self, address, port):
        self.sock = socket.create_connection((address, port), timeout=WAIT_SECONDS)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def send(self, data):
        # One send of a few hundred bytes with Nagle off: one segment.
        self.sock.sendall(data)

    def recv(self):
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise Failed(f"nothing more within {WAIT_SECONDS} s (buffer {self.buffer!r})")
        if not chunk:
            raise Failed(f"the server closed in the middle of a response ({self.buffer!r})")
        self.buffer += chunk

    def response(self, head_request=False, status="200"):
        """(status line, {header: value}, body) of the next response."""
        while b"\r\n\r\n" not in self.buffer:
            self.recv()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" not in headers:
            raise Failed(f"no Content-Length in {head!r}")
        length = 0 if head_request else int(headers["content-length"])
        while len(self.buffer) < length:
            self.recv()   # a 20 MiB body: the buffer grows, which is fine for a test
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        if not lines[0].startswith(f"HTTP/1.1 {status} "):
            raise Failed(f"status {lines[0]!r}, not {status}")
        return lines[0], headers, body

    def stays_open(self, what):
        self.sock.settimeout(QUIET_SECONDS)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            data = None
        finally:
            self.sock.settimeout(WAIT_SECONDS)
        if data == b"":
            raise Failed(f"the server closed (FIN) {what}")
        if data or self.buffer:
            raise Failed(f"unexpected bytes {what}: {self.buffer + (data or b'')!r}")

    def server_fin(self, what):
        """The server's FIN comes; anything else before it is a failure."""
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise Failed(f"no FIN from the server {what} within {WAIT_SECONDS} s")
        if data or self.buffer:
            raise Failed(f"bytes instead of the FIN {what}: {self.buffer + data!r}")


def is_answer(body, number, line):
    want = f"Request {number} on this connection: {line}".encode()
    if want not in body:
        raise Failed(f"response {number} is not the answer to {line}: {body!r}")


def closes_unasked(headers, number):
    if "connection" in headers:
        raise Failed(f"response {number} has 'Connection: {headers['connection']}'")


def check(address, port, name):
    c = Client(address, port)
    if name == "get":
        c.send(b"GET / HTTP/1.1\r\n\r\n")
        status, headers, body = c.response()
        return f"{status}, Content-Length {headers['content-length']}: {body!r}"
    if name == "keepalive":
        c.send(b"GET / HTTP/1.1\r\n\r\n")
        _, headers, body = c.response()
        closes_unasked(headers, 1)
        is_answer(body, 1, "GET /")
        c.stays_open("after answering a keep-alive request")
        c.send(b"GET /again HTTP/1.1\r\n\r\n")
        _, headers, body = c.response()
        closes_unasked(headers, 2)
        is_answer(body, 2, "GET /again")
        c.stays_open("after the second request")
        c.sock.shutdown(socket.SHUT_WR)
        c.server_fin("after our FIN")
        return "kept open for two requests; its FIN came after ours"
    if name == "pipeline":
        c.send(b"GET /a HTTP/1.1\r\n\r\nHEAD /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n")
        _, _, body = c.response()
        is_answer(body, 1, "GET /a")
        _, headers, body = c.response(head_request=True)
        if int(headers["content-length"]) == 0:
            raise Failed("the HEAD answer has Content-Length 0, not the GET's length")
        _, _, body = c.response()
        is_answer(body, 3, "GET /c")
        c.stays_open("after three pipelined requests")
        return "GET /a, HEAD /b, GET /c in one segment answered in order; still open"
    if name == "body":
        c.send(b"POST /form HTTP/1.1\r\nContent-Length: 11\r\n\r\nGET /hidden"
               b"GET /next HTTP/1.1\r\n\r\n")
        _, _, body = c.response()
        is_answer(body, 1, "POST /form")
        _, _, body = c.response()
        is_answer(body, 2, "GET /next")
        c.stays_open("after a POST and a GET")
        return "the POST body was skipped; the GET after it was request 2"
    if name == "close":
        c.send(b"GET /x HTTP/1.1\r\nconnection: CLOSE\r\n\r\nGET /y HTTP/1.1\r\n\r\n")
        _, headers, body = c.response()
        if headers.get("connection", "").lower() != "close":
            raise Failed(f"no 'Connection: close' in the answer ({headers})")
        is_answer(body, 1, "GET /x")
        c.server_fin("after 'Connection: close', with ours not sent")
        return "answered with Connection: close, then the server's FIN; /y not answered"
    if name == "http10":
        c.send(b"GET / HTTP/1.0\r\n\r\n")
        _, headers, _ = c.response()
        if headers.get("connection", "").lower() != "close":
            raise Failed(f"no 'Connection: close' in the answer to HTTP/1.0 ({headers})")
        c.server_fin("after an HTTP/1.0 answer")
        return "HTTP/1.0: Connection: close, then the server's FIN"
    if name == "http10-keepalive":
        for number in (1, 2):
            c.send(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
            _, headers, body = c.response()
            if headers.get("connection", "").lower() != "keep-alive":
                raise Failed(f"no 'Connection: keep-alive' in answer {number} ({headers})")
            is_answer(body, number, "GET /")
            c.stays_open(f"after HTTP/1.0 keep-alive request {number}")
        return "HTTP/1.0 keep-alive: two answers with Connection: keep-alive, still open"
    if name == "bytes":
        c.sock.settimeout(WAIT_SECONDS * 4)
        for n in (0, 1, 100000, 20 << 20):
            c.send(f"GET /bytes/{n} HTTP/1.1\r\n\r\n".encode())
            _, headers, body = c.response()
            if headers.get("content-type") != "application/octet-stream" or \
                    int(headers["content-length"]) != n:
                raise Failed(f"/bytes/{n}: headers {headers}")
            want = (PATTERN * (n // len(PATTERN) + 1))[:n]
            if body != want:
                at = next(i for i in range(n) if body[i] != want[i])
                raise Failed(f"/bytes/{n}: byte {at} is {body[at]!r}, not the pattern's {want[at]!r}")
        c.send(f"HEAD /bytes/{MAX_BULK} HTTP/1.1\r\n\r\n".encode())
        _, headers, _ = c.response(head_request=True)
        if int(headers["content-length"]) != MAX_BULK:
            raise Failed(f"HEAD /bytes/{MAX_BULK}: headers {headers}")
        c.send(f"GET /bytes/{MAX_BULK + 1} HTTP/1.1\r\n\r\n".encode())
        _, headers, body = c.response(status="413")
        if body != f"GET /bytes/N serves at most {MAX_BULK} bytes\n".encode() or \
                headers.get("content-type") != "text/plain":
            raise Failed(f"/bytes/{MAX_BULK + 1}: {headers} {body!r}")
        c.send(b"GET /bytes/12345678901 HTTP/1.1\r\n\r\n")
        _, _, body = c.response()
        is_answer(body, 7, "GET /bytes/12345678901")
        c.stays_open("after the bulk answers")
        return (f"/bytes/0, 1, 100000 and {20 << 20}: the pattern; HEAD of 1 GiB: the head; "
                "over 1 GiB: 413; 11 digits: the greeting")
    raise Failed(f"no check named {name!r}")


def main():
    if len(sys.argv) != 4:
        print("usage: lab_http.py ADDRESS PORT CHECK", file=sys.stderr)
        return 2
    try:
        print(check(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
    except (Failed, OSError) as error:
        print(f"{sys.argv[3]}: {error}")
        return 1
    return 0


sys.exit(main())
