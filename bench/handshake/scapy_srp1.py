#!/usr/bin/python3
"""Contender (c) of the handshake benchmark: scapy's srp1().

Each iteration times one srp1() of a SYN from the phantom (time.monotonic_ns before
and after the call), checks that the answer is the SYN-ACK acknowledging ISS + 1, then
sends a RST (seq = ISS + 1) so the peer forgets the connection. The peer must know the
phantom's MAC (run.sh adds a permanent neighbour entry): scapy answers no ARP.

Prints the RESULT line of handshake_result.h (same nearest-rank percentiles).
Exit status: 0 when it measured something with at most --max-failures iterations
without a SYN-ACK (the RESULT line counts them), 1 otherwise, 2 on bad arguments.
"""
import argparse
import math
import sys
import time

ISS = 100


def percentile(sorted_samples, p):
    rank = max(1, min(len(sorted_samples), math.ceil(p * len(sorted_samples) / 100)))
    return sorted_samples[rank - 1]


def print_result(name, samples, failures):
    s = sorted(samples)
    if not s:
        print(f"RESULT name={name} n=0 failures={failures} median_ns=0 p90_ns=0 p99_ns=0 "
              "min_ns=0 max_ns=0")
        return
    print(f"RESULT name={name} n={len(s)} failures={failures} median_ns={percentile(s, 50)} "
          f"p90_ns={percentile(s, 90)} p99_ns={percentile(s, 99)} min_ns={s[0]} max_ns={s[-1]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iface", required=True)
    ap.add_argument("--phantom-mac", required=True)
    ap.add_argument("--phantom-ip", required=True)
    ap.add_argument("--peer-mac", required=True)
    ap.add_argument("--peer-ip", required=True)
    ap.add_argument("--dport", type=int, default=50001)
    ap.add_argument("--sport-base", type=int, default=50000)
    ap.add_argument("--count", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--timeout-ms", type=int, default=1000)
    ap.add_argument("--budget-s", type=int, default=60)
    ap.add_argument("--max-failures", type=int, default=5)
    a = ap.parse_args()
    if a.count <= 0 or a.sport_base + a.warmup + a.count - 1 > 65535:
        print("scapy_srp1: --count must be > 0 and the ports must fit", file=sys.stderr)
        return 2

    try:
        from scapy.all import IP, TCP, Ether, conf, sendp, srp1
    except ImportError as e:
        print(f"scapy_srp1: scapy is not importable ({e}): apt install python3-scapy",
              file=sys.stderr)
        return 1
    conf.verb = 0

    samples, failures = [], 0
    deadline = time.monotonic() + a.budget_s
    for i in range(a.warmup + a.count):
        if time.monotonic() > deadline:
            print(f"scapy_srp1: time budget of {a.budget_s} s spent after {i} iterations",
                  file=sys.stderr)
            break
        sport = a.sport_base + i
        head = Ether(src=a.phantom_mac, dst=a.peer_mac) / IP(src=a.phantom_ip, dst=a.peer_ip)
        syn = head / TCP(sport=sport, dport=a.dport, flags="S", seq=ISS, window=65535)
        t0 = time.monotonic_ns()
        answer = srp1(syn, iface=a.iface, timeout=a.timeout_ms / 1000, verbose=0)
        t1 = time.monotonic_ns()
        sendp(head / TCP(sport=sport, dport=a.dport, flags="R", seq=ISS + 1, window=0),
              iface=a.iface, verbose=0)
        ok = (answer is not None and TCP in answer
              and (int(answer[TCP].flags) & 0x17) == 0x12 and answer[TCP].ack == ISS + 1)
        if i < a.warmup:
            continue
        if not ok:
            failures += 1
            print(f"scapy_srp1: no SYN-ACK for source port {sport}: got "
                  f"{answer.summary() if answer is not None else 'nothing'}", file=sys.stderr)
            if failures > a.max_failures:
                print(f"scapy_srp1: more than {a.max_failures} failures: giving up",
                      file=sys.stderr)
                break
            continue
        samples.append(t1 - t0)
    print_result("c_srp1", samples, failures)
    return 0 if samples and failures <= a.max_failures else 1


if __name__ == "__main__":
    sys.exit(main())
