#!/usr/bin/env bash
# Records linux_tcp_loss.pcap: a Linux TCP client and server in two network namespaces
# joined by a veth pair (offloads off), with nftables dropping 7% of the TCP segments the
# server namespace receives and 7% of those it sends (numgen random, as scripts/tcplab-lab
# does; this kernel has no netem). The client uploads 150 kB, the server answers 300 kB;
# dumpcap captures on the client side, so the server's dropped segments never appear
# (Wireshark: "previous segment not captured") and the client's dropped ones appear once
# more when retransmitted. Needs root, iproute2, nftables, ethtool, dumpcap/editcap and
# python3. Addresses: 198.18.0.0/15 only. Random: every run records a different file.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
a=tlloss-a b=tlloss-b
cleanup() { ip netns del $a 2>/dev/null || true; ip netns del $b 2>/dev/null || true; }
trap cleanup EXIT
cleanup
ip netns add $a; ip netns add $b
ip link add tlloss0 netns $a type veth peer name tlloss1 netns $b
for ns in $a $b; do
  dev=$([ $ns = $a ] && echo tlloss0 || echo tlloss1)
  ip -n $ns link set lo up
  ip -n $ns link set $dev up
  ip netns exec $ns ethtool -K $dev tx off tso off gso off gro off >/dev/null 2>&1 || true
done
ip -n $a link set tlloss0 address 02:00:00:00:00:0a
ip -n $b link set tlloss1 address 02:00:00:00:00:0b
ip -n $a addr add 198.18.0.2/24 dev tlloss0
ip -n $b addr add 198.18.0.1/24 dev tlloss1
ip netns exec $b nft -f - <<'NFT'
table inet tlloss {
  chain prerouting {
    type filter hook prerouting priority -300; policy accept;
    meta l4proto tcp numgen random mod 100 < 7 counter drop
  }
  chain output {
    type filter hook output priority -300; policy accept;
    meta l4proto tcp numgen random mod 100 < 7 counter drop
  }
}
NFT

server='
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.18.0.1", 50001)); s.listen(1); s.settimeout(30)
c, _ = s.accept(); c.settimeout(30)
got = 0
while got < 150000:
    d = c.recv(65536)
    if not d: break
    got += len(d)
c.sendall(bytes(range(256)) * 1172 + b"end!")
c.close()
'
client='
import socket
s = socket.create_connection(("198.18.0.1", 50001), timeout=30)
s.sendall(b"x" * 150000)
while s.recv(65536): pass
s.close()
'
ip netns exec $b timeout 60 /usr/bin/python3 -c "$server" & srv=$!
sleep 0.5
ip netns exec $a timeout 60 dumpcap -q -i tlloss0 -f "tcp or arp" -w "$here/linux_tcp_loss.pcapng" -a duration:12 >/dev/null 2>&1 & cap=$!
sleep 1
ip netns exec $a timeout 60 /usr/bin/python3 -c "$client"
wait $cap || true
wait $srv || true
ip netns exec $b nft list table inet tlloss | grep counter || true
editcap -F pcap "$here/linux_tcp_loss.pcapng" "$here/linux_tcp_loss.pcap" && rm -f "$here/linux_tcp_loss.pcapng"
echo "captured: $here/linux_tcp_loss.pcap ($(tshark -r "$here/linux_tcp_loss.pcap" 2>/dev/null | wc -l) frames)"
