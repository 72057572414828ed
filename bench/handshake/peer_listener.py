#!/usr/bin/python3
"""The peer of the handshake benchmark: a listening TCP socket whose connections are
accepted and closed (SO_LINGER 0: a RST, no TIME-WAIT), so the backlog never fills.

It drains the accept queue in batches, every --interval seconds, rather than accepting
each connection as it arrives: an accept() running while the next SYN comes in holds the
listener's lock, the SYN waits in the socket's backlog, and the kernel's connect() (b)
measured twice as slow here (37 us instead of 17 us). The backlog (4096) holds far more
than one interval of handshakes. It stops by itself after --max-seconds.

usage: peer_listener.py ADDRESS PORT [--interval 0.05] [--max-seconds 900]
Prints "listening" on stdout once the socket listens.
"""
import argparse
import socket
import struct
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("address")
    ap.add_argument("port", type=int)
    ap.add_argument("--interval", type=float, default=0.05)
    ap.add_argument("--max-seconds", type=float, default=900)
    a = ap.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.address, a.port))
    s.listen(4096)
    s.setblocking(False)
    print("listening", flush=True)
    abort = struct.pack("ii", 1, 0)
    deadline = time.monotonic() + a.max_seconds
    while time.monotonic() < deadline:
        time.sleep(a.interval)
        for _ in range(4096):
            try:
                c, _ = s.accept()
            except BlockingIOError:
                break
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, abort)
            c.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
