#!/usr/bin/env bash
# tcplab-cli experiment when things go wrong in the namespace lab: the peer resets
# the connection mid-transfer, the peer never answers, a flood of unrelated traffic
# on the link; and --skip-probe is never silent.
#
#   bash tests/cli/faults_lab.sh path/to/tcplab-cli path/to/scripts/tcplab-lab
#
# The fourth fault, the interface disappearing mid-run, is checked by
# tests/cli/experiment_lab.sh (tcplab0 deleted under a running scenario; the
# timeline is still exported), not repeated here.
#
# Needs root and network namespaces; exits 77 (ctest: skipped) without them.
# Holds the lab tests' lock, takes the lab down when it ends. Touches only
# 198.18.0.0/15; every process and loop is bounded in time and count.
set -uo pipefail

CLI=${1:?usage: $0 tcplab-cli tcplab-lab}
LAB=${2:?usage: $0 tcplab-cli tcplab-lab}
PEER_NS=tcplab-peer
PEER_IF=tcplab0p
PYTHON=/usr/bin/python3

skip() { echo "skip: $*" >&2; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "the namespace lab needs root (run as root to test it)"
for tool in ip nft ethtool ss timeout unshare flock; do
  command -v "$tool" >/dev/null || skip "$tool is not installed"
done
[ -x "$PYTHON" ] || skip "$PYTHON is not installed"
unshare --net true 2>/dev/null || skip "network namespaces are not available here"
[ -x "$CLI" ] || { echo "no such program: $CLI" >&2; exit 1; }

# The same lock as experiment_lab.sh: one lab per machine; children must not inherit it.
LOCK=${TCPLAB_LAB_TEST_LOCK:-/run/lock/tcplab-lab-test.lock}
exec 8>>"$LOCK" || skip "cannot open the lab tests' lock $LOCK"
flock -w "${TCPLAB_LAB_WAIT:-120}" 8 || skip "another lab test holds $LOCK; not waiting longer"

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   - $1"; }
fail() {
  failed=$((failed + 1))
  echo "FAIL - $1"
  [ -z "${2:-}" ] || while IFS= read -r line; do echo "       | $line"; done <<<"$2"
}

work=$(mktemp -d)
bg_pids=()
cleanup() {
  local pid
  for pid in "${bg_pids[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  timeout 60 bash "$LAB" down >/dev/null 2>&1 8>&-
  rm -rf "$work"
}
trap cleanup EXIT

lab_up() { # ARGS...: a fresh lab with these options
  timeout 60 bash "$LAB" down >/dev/null 2>&1 8>&-
  if ! out=$(timeout 60 bash "$LAB" up "$@" 2>&1 8>&-); then
    fail "tcplab-lab up $*" "$out"
    return 1
  fi
}
in_peer() { ip netns exec "$PEER_NS" "$@" 8>&-; }

# Every experiment is bounded; out, err, rc, seconds and maxrss_kb hold its result
# (the peak RSS from getrusage of the child, Debian's python3 as the wrapper).
out="" err="" rc=0 seconds=0 maxrss_kb=0
sport=50400
experiment() { # ARGS...
  sport=$((sport + 1))
  local t0 t1
  t0=$(date +%s%N)
  out=$("$PYTHON" -c '
import resource, subprocess, sys
r = subprocess.run(sys.argv[2:], stdout=subprocess.PIPE, stderr=open(sys.argv[1], "wb"))
sys.stdout.buffer.write(r.stdout)
sys.stdout.write("\n@maxrss %d\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(r.returncode)' "$work/err" timeout 90 "$CLI" experiment --iface tcplab0 --sport "$sport" "$@" 8>&-)
  rc=$?
  t1=$(date +%s%N)
  seconds=$(( (t1 - t0) / 1000000 ))   # milliseconds, in fact; printed as s.mmm below
  seconds=$(printf '%d.%03d' $((seconds / 1000)) $((seconds % 1000)))
  maxrss_kb=$(sed -n 's/^@maxrss //p' <<<"$out")
  out=$(sed '/^@maxrss /d' <<<"$out")
  err=$(cat "$work/err")
}

# Seconds (a decimal) below a whole bound?
below() { awk -v s="$1" -v b="$2" 'BEGIN { exit !(s < b) }'; }

lab_up || exit 1

# --- --skip-probe is never silent --------------------------------------------
experiment --phantom 198.18.0.2/24 --peer 198.18.0.1 --skip-probe --close rst
if [ "$rc" -eq 0 ] && grep -qi "warning" <<<"$err" && grep -q -- "--skip-probe" <<<"$err"; then
  pass "--skip-probe works and warns on stderr"
else
  fail "--skip-probe warns (exit $rc)" "$err"
fi
if ! grep -q "ARP probe" <<<"$out"; then pass "--skip-probe sends no probe"; else fail "--skip-probe still probed" "$out"; fi
experiment --phantom 198.18.0.2/24 --peer 198.18.0.1 --close rst
if [ "$rc" -eq 0 ] && grep -q "ARP probe" <<<"$out" && ! grep -qi "warning" <<<"$err"; then
  pass "without --skip-probe the conflict probe runs"
else
  fail "the conflict probe runs by default (exit $rc)" "$out"$'\n'"$err"
fi

# --- The peer resets mid-transfer ----------------------------------------------
# A one-shot server on 50002 in the peer namespace promises a 1 MB response, sends
# 20 kB of it, then aborts (SO_LINGER 0: the kernel sends RST, discarding the rest).
cat >"$work/rst_server.py" <<'PY'
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(1)
s.settimeout(30)
conn, _ = s.accept()
conn.settimeout(10)
conn.recv(4096)
conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 20000)
time.sleep(0.3)
conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
conn.close()
PY
timeout 40 ip netns exec "$PEER_NS" "$PYTHON" "$work/rst_server.py" 50002 8>&- &
server=$!
bg_pids+=("$server")
for _ in $(seq 50); do   # until it listens (5 s at most)
  in_peer ss -Hltn 'sport = :50002' | grep -q . && break
  sleep 0.1
done
experiment --phantom 198.18.0.2/24 --peer 198.18.0.1 --dport 50002 \
  --timeline "$work/rst.json" --pcap "$work/rst.pcap"
wait "$server" 2>/dev/null
if [ "$rc" -eq 1 ] && grep -q 'step [0-9]* "response"' <<<"$err" && grep -q "RST" <<<"$err" &&
   grep -qi "reset" <<<"$err"; then
  pass "a reset mid-transfer fails the response step, naming the RST"
else
  fail "a reset mid-transfer (exit $rc)" "$(tail -5 <<<"$out")"$'\n'"$err"
fi
if grep -Eq "phantom <- peer  PA? +[0-9]+ +[0-9]+ +[1-9]" <<<"$out" && grep -q "phantom <- peer  RA\?" <<<"$out"; then
  pass "the ladder shows the data, then the peer's RST"
else
  fail "the ladder shows data and RST" "$(tail -8 <<<"$out")"
fi
if "$PYTHON" - "$work/rst.json" <<'PY' 2>"$work/py.err"
import json, sys
frames = json.load(open(sys.argv[1]))["frames"]
received = sum(len(bytes.fromhex(f["frame"]["payload_hex"])) for f in frames
               if f["direction"] == "received")
assert received >= 10000, received
last = frames[-1]
tcp = [l for l in last["frame"]["layers"] if l["layer"] == "tcp"]
assert last["direction"] == "received" and tcp and "R" in tcp[0]["flags"], "the last frame is not the peer's RST"
PY
then pass "--timeline after a reset: JSON with the data and the RST"
else fail "--timeline after a reset" "$(cat "$work/py.err")"
fi
analyzed=$("$CLI" analyze --pcap "$work/rst.pcap" 2>&1)
arc=$?
if [ "$arc" -eq 0 ] && [ "$(grep -c . <<<"$analyzed")" -ge 10 ] &&
   grep -Eq "received RA? .*(rst_accepted|RST)" <<<"$analyzed"; then
  pass "--pcap after a reset: tcplab-cli analyze reads it ($(grep -c . <<<"$analyzed") lines)"
else
  fail "--pcap after a reset: analyze (exit $arc)" "$(tail -5 <<<"$analyzed")"
fi

# --- The peer never answers ------------------------------------------------------
# Every IP packet entering the peer namespace is dropped (ARP still works): the SYN
# is retransmitted a bounded number of times, then the run ends with a sentence.
in_peer nft -f - <<'NFT'
table inet tcplab_fault {
  chain input { type filter hook input priority -10; policy drop; }
}
NFT
experiment --phantom 198.18.0.2/24 --peer 198.18.0.1 --rto 50 --pcap "$work/silent.pcap"
echo "# silent peer (IP dropped): exit $rc after $seconds s"
if [ "$rc" -eq 1 ] && grep -q '"SYN-ACK"' <<<"$err" && grep -Eqi "got nothing|within" <<<"$err" &&
   grep -Eq "retransmitted [0-9]+ times" <<<"$err"; then
  pass "a silent peer: the SYN-ACK step times out after bounded retries, in one sentence"
else
  fail "a silent peer (exit $rc)" "$(tail -4 <<<"$out")"$'\n'"$err"
fi
syns=$(grep -c "phantom -> peer  S " <<<"$out")
if [ "$syns" -ge 2 ] && [ "$syns" -le 7 ]; then pass "a silent peer: $syns SYNs (1 + at most 6 retries)"; else fail "a silent peer: $syns SYNs sent" "$out"; fi
if below "$seconds" 12; then pass "a silent peer: the run ends within 12 s ($seconds s)"; else fail "a silent peer: $seconds s"; fi
# ARP dropped too: the peer does not exist as far as the link can tell.
in_peer nft -f - <<'NFT'
table arp tcplab_fault_arp {
  chain input { type filter hook input priority 0; policy drop; }
}
NFT
experiment --phantom 198.18.0.2/24 --peer 198.18.0.1 --rto 50
echo "# silent peer (ARP dropped too): exit $rc after $seconds s"
if [ "$rc" -eq 1 ] && grep -Eqi "resolve|answer" <<<"$err" && grep -q "198.18.0.1" <<<"$err"; then
  pass "a peer that does not answer ARP: the resolution fails, naming the address"
else
  fail "a peer that does not answer ARP (exit $rc)" "$(tail -4 <<<"$out")"$'\n'"$err"
fi
if below "$seconds" 20; then pass "a peer that does not answer ARP: the run ends within 20 s ($seconds s)"; else fail "unresolved peer: $seconds s"; fi
if ! grep -q "phantom -> peer  S" <<<"$out"; then pass "an unresolved peer gets no SYN"; else fail "a SYN went to an unresolved peer" "$out"; fi
in_peer nft delete table inet tcplab_fault
in_peer nft delete table arp tcplab_fault_arp

# --- A flood of unrelated traffic on the link --------------------------------------
# From the peer namespace, broadcast UDP to 198.18.0.77 (neither the phantom nor the
# peer) as fast as one python3 process can, from before a classic experiment starts
# until it ends (at most 3,000,000 frames and 15 s): the experiment must still succeed,
# record none of the flood (the BPF filter), and keep its peak RSS near that of a quiet
# run.
cat >"$work/flood.py" <<'PY'
import os, socket, struct, sys, time
iface, count, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
src = s.getsockname()[4]
payload = b"flood" * 20
def checksum(b):
    total = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF
udp = struct.pack("!HHHH", 40000, 9, 8 + len(payload), 0) + payload
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                 socket.inet_aton("198.18.0.1"), socket.inet_aton("198.18.0.77"))
ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
frame = b"\xff" * 6 + src + b"\x08\x00" + ip + udp
sent, start = 0, time.monotonic()
open(sys.argv[4], "w").close()   # started
while sent < count and time.monotonic() - start < seconds and not os.path.exists(sys.argv[5]):
    for _ in range(1000):
        try:
            s.send(frame)
            sent += 1
        except OSError:
            time.sleep(0.001)
print(sent, "%.2f" % (time.monotonic() - start))
PY
experiment --phantom 198.18.0.2/24 --peer 198.18.0.1 --close fin
quiet_rss=$maxrss_kb
[ "$rc" -eq 0 ] || fail "a quiet run before the flood (exit $rc)" "$err"
rx_before=$(cat /sys/class/net/tcplab0/statistics/rx_packets)
rm -f "$work/flood.started" "$work/flood.stop"
timeout 30 ip netns exec "$PEER_NS" "$PYTHON" "$work/flood.py" "$PEER_IF" 3000000 15 \
  "$work/flood.started" "$work/flood.stop" >"$work/flood.out" 8>&- &
flooder=$!
bg_pids+=("$flooder")
for _ in $(seq 50); do [ -e "$work/flood.started" ] && break; sleep 0.1; done
sleep 0.2
experiment --phantom 198.18.0.2/24 --peer 198.18.0.1 --close fin --timeline "$work/flood.json"
kill -0 "$flooder" 2>/dev/null && still=yes || still=no
touch "$work/flood.stop"
wait "$flooder"
rx=$(( $(cat /sys/class/net/tcplab0/statistics/rx_packets) - rx_before ))
read -r flood_sent flood_s <"$work/flood.out" || true
echo "# flood: ${flood_sent:-?} frames in ${flood_s:-?} s (tcplab0 received $rx); experiment $seconds s," \
     "peak RSS ${maxrss_kb} kB under the flood, ${quiet_rss} kB quiet; still flooding at its end: $still"
if [ "$rc" -eq 0 ]; then pass "under a flood the experiment still succeeds"; else fail "under a flood (exit $rc)" "$err"; fi
if [ "$still" = yes ] && [ "${flood_sent:-0}" -ge 10000 ]; then
  pass "the flood overlapped the run (${flood_sent:-?} frames)"
else
  fail "the flood did not overlap the run (${flood_sent:-?} frames, still running: $still)"
fi
if "$PYTHON" -c '
import json, sys
frames = json.load(open(sys.argv[1]))["frames"]
assert 8 <= len(frames) < 100, len(frames)
assert "198.18.0.77" not in json.dumps(frames)' "$work/flood.json" 2>"$work/py.err"; then
  pass "under a flood the timeline holds only the phantom's frames"
else
  fail "under a flood the timeline" "$(cat "$work/py.err")"
fi
# What matters is the growth under the flood; the absolute cap only catches a baseline
# gone wrong. AddressSanitizer's shadow memory alone puts a quiet run near 80 MB.
rss_cap_kb=65536
# ldd's output is captured before it is searched: under pipefail, "ldd | grep -q" fails
# whenever grep leaves at its match before ldd has written the rest (SIGPIPE).
libs=$(ldd "$CLI" 2>/dev/null || true)
if grep -q libasan <<<"$libs"; then
  rss_cap_kb=262144
fi
if [ -n "$maxrss_kb" ] && [ -n "$quiet_rss" ] && [ "$maxrss_kb" -lt $((quiet_rss + 16384)) ] &&
   [ "$maxrss_kb" -lt "$rss_cap_kb" ]; then
  pass "under a flood the peak RSS stays bounded ($maxrss_kb kB; quiet $quiet_rss kB)"
else
  fail "under a flood the peak RSS is ${maxrss_kb:-?} kB (quiet ${quiet_rss:-?} kB)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
