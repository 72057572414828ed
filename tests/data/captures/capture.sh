#!/usr/bin/env bash
# Regenerates the real captures in this folder: a Linux TCP client and server in two
# network namespaces joined by a veth pair, offloads off (so checksums are real and
# segments wire-sized), captured with dumpcap on the client side. Needs root,
# iproute2, ethtool, tshark and python3. Addresses: 198.18.0.0/15 and 2001:db8::/32.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
a=tlcap-a b=tlcap-b
cleanup() { ip netns del $a 2>/dev/null || true; ip netns del $b 2>/dev/null || true; }
trap cleanup EXIT
cleanup
ip netns add $a; ip netns add $b
ip link add tlcap0 netns $a type veth peer name tlcap1 netns $b
for ns in $a $b; do
  dev=$([ $ns = $a ] && echo tlcap0 || echo tlcap1)
  ip -n $ns link set lo up
  ip -n $ns link set $dev up
  ip netns exec $ns ethtool -K $dev tx off tso off gso off gro off >/dev/null 2>&1 || true
done
ip -n $a link set tlcap0 address 02:00:00:00:00:0a
ip -n $b link set tlcap1 address 02:00:00:00:00:0b
ip -n $a addr add 198.18.0.2/24 dev tlcap0
ip -n $b addr add 198.18.0.1/24 dev tlcap1
ip -n $a addr add 2001:db8::2/64 dev tlcap0 nodad
ip -n $b addr add 2001:db8::1/64 dev tlcap1 nodad

# A tiny HTTP responder in the server namespace (both families).
server='
import socket, threading
def serve(fam, addr):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, 50001)); s.listen(4)
    for _ in range(2):
        c, _ = s.accept()
        c.recv(4096)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, phantom")
        c.close()
for fam, addr in ((socket.AF_INET, "198.18.0.1"), (socket.AF_INET6, "2001:db8::1")):
    threading.Thread(target=serve, args=(fam, addr), daemon=True).start()
import time; time.sleep(6)
'
client='
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.connect((sys.argv[1], 50001))
s.sendall(b"GET / HTTP/1.1\r\n\r\n")
while s.recv(4096): pass
s.close()
'
ip netns exec $b /usr/bin/python3 -c "$server" & srv=$!
sleep 0.5
capture() {  # name filter command...
  local name=$1 filter=$2; shift 2
  ip netns exec $a dumpcap -q -i tlcap0 -f "$filter" -w "$here/$name.pcapng" -a duration:3 >/dev/null 2>&1 & local cap=$!
  sleep 1
  "$@"
  wait $cap
  # Plain pcap (nanosecond) is what the tests read; pcapng kept out of the repo.
  editcap -F pcap "$here/$name.pcapng" "$here/$name.pcap" && rm -f "$here/$name.pcapng"
}
capture linux_tcp_ipv4 "tcp or arp" ip netns exec $a /usr/bin/python3 -c "$client" 198.18.0.1
capture linux_tcp_ipv6 "tcp or icmp6" ip netns exec $a /usr/bin/python3 -c "$client" 2001:db8::1
wait $srv || true
echo "captured: $(ls "$here"/*.pcap)"
