#!/usr/bin/env bash
# tcplab-cli experiment against the Linux kernel in the namespace lab: the classic
# exercise over IPv4 and IPv6 with each close mode, checked from the kernel's side
# with ss; the off-link peer through the router namespace; 10% random loss; an
# address that is already in use; a closed port.
#
#   bash tests/cli/experiment_lab.sh path/to/tcplab-cli path/to/scripts/tcplab-lab
#
# Needs root and network namespaces; exits 77 (ctest: skipped) without them.
# Takes the lab down when it ends. Touches only 198.18.0.0/15 and 2001:db8::/32.
set -uo pipefail

CLI=${1:?usage: $0 tcplab-cli tcplab-lab}
LAB=${2:?usage: $0 tcplab-cli tcplab-lab}
PEER_NS=tcplab-peer

skip() { echo "skip: $*" >&2; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "the namespace lab needs root (run as root to test it)"
for tool in ip nft ethtool ss timeout unshare; do
  command -v "$tool" >/dev/null || skip "$tool is not installed"
done
unshare --net true 2>/dev/null || skip "network namespaces are not available here"
[ -x "$CLI" ] || { echo "no such program: $CLI" >&2; exit 1; }

# One lab per machine: lab tests hold this lock while they run (see
# tests/lab/test_tcplab_lab.sh); the lab's server must not inherit it.
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
cleanup() {
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

# Every experiment is bounded; out, err and rc hold its result.
out="" err="" rc=0
sport=50100
experiment() { # ARGS...
  sport=$((sport + 1))
  out=$(timeout 90 "$CLI" experiment --iface tcplab0 --sport "$sport" "$@" 2>"$work/err" 8>&-)
  rc=$?
  err=$(cat "$work/err")
}

# The peer's TCP sockets towards the phantom's port: "STATE" per line.
peer_states() { # PHANTOM_ADDRESS
  ip netns exec "$PEER_NS" ss -Htan 2>/dev/null |
    awk -v port=":$sport" -v addr="$1" '$5 ~ port"$" && index($5, addr) { print $1 }'
}

# The classic exercise with one close mode; then the kernel's side of it.
classic() { # FAMILY PHANTOM PEER CLOSE WANT_PEER_STATE [MORE ARGS]
  local family=$1 phantom=$2 peer=$3 close=$4 want=$5 states what
  shift 5
  what="$family close=$close"
  experiment --phantom "$phantom" --peer "$peer" --close "$close" \
    --timeline "$work/t.json" --pcap "$work/t.pcap" "$@"
  if [ "$rc" -ne 0 ]; then
    fail "$what: the experiment exits 0 (exit $rc)" "$out"$'\n'"$err"
    return
  fi
  pass "$what: every step happened"
  # The ladder shows the handshake, the request, the response and the close.
  local missing=""
  for flags in " S " " SA " " PA " "phantom <- peer  .*PA\\|phantom <- peer  .*A .* [1-9][0-9]* " ; do
    grep -q -- "$flags" <<<"$out" || missing+=" '$flags'"
  done
  case $close in
    fin | peer) grep -q "phantom -> peer  FA" <<<"$out" || missing+=" 'our FA'"
                grep -q "phantom <- peer  FA" <<<"$out" || missing+=" 'their FA'" ;;
    rst) grep -q "phantom -> peer  R " <<<"$out" || missing+=" 'our R'" ;;
  esac
  if [ -z "$missing" ]; then pass "$what: the ladder has every segment"; else fail "$what: the ladder lacks$missing" "$out"; fi
  # relative numbers: our SYN is seq 0, their SYN-ACK acknowledges 1
  if grep -Eq "phantom <- peer  SA +0 +1 " <<<"$out"; then pass "$what: relative seq/ack"; else fail "$what: relative seq/ack of the SYN-ACK" "$out"; fi
  sleep 0.2
  states=$(peer_states "${phantom%/*}" | sort -u | tr '\n' ' ')
  states=${states% }
  if [ "$states" = "$want" ]; then
    pass "$what: the kernel's socket ends ${want:-closed}"
  else
    fail "$what: the kernel's socket is '${states}', not '${want:-closed}'" "$(ip netns exec "$PEER_NS" ss -tan)"
  fi
  if grep -q ESTAB <<<"$states"; then fail "$what: a connection is left ESTABLISHED"; fi
  # The exports: JSON with every frame, a pcap that libpcap reads back.
  if /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["frames"] and all("frame" in f for f in d["frames"])' "$work/t.json" 2>/dev/null; then
    pass "$what: --timeline writes the JSON timeline"
  else
    fail "$what: --timeline JSON" "$(head -c 300 "$work/t.json" 2>&1)"
  fi
  local decoded
  decoded=$("$CLI" decode --pcap "$work/t.pcap" 2>&1)   # whole: grep -q would cut the pipe
  if [ -s "$work/t.pcap" ] && grep -q '"flags":"SA"' <<<"$decoded"; then
    pass "$what: --pcap writes a capture with the SYN-ACK"
  else
    fail "$what: --pcap" "$(head -3 <<<"$decoded")"
  fi
  rm -f "$work/t.json" "$work/t.pcap"
}

lab_up || exit 1
classic IPv4 198.18.0.2/24 198.18.0.1 fin ""
classic IPv4 198.18.0.2/24 198.18.0.1 rst ""
classic IPv4 198.18.0.2/24 198.18.0.1 peer "TIME-WAIT"
classic IPv6 2001:db8::2/64 2001:db8::1 fin ""
classic IPv6 2001:db8::2/64 2001:db8::1 rst ""
classic IPv6 2001:db8::2/64 2001:db8::1 peer "TIME-WAIT"

# The namespace lab's peer agent (tcplab-lab up starts it): peer calls over --iface, and
# the kernel connecting to the phantom.
out=$(timeout 60 "$CLI" peer --iface tcplab0 --phantom 198.18.0.2/24 --peer 198.18.0.1 \
  'sysctl net.ipv4.tcp_sack' 'socket inet = 3' 'close 3' 2>"$work/err" 8>&-)
rc=$?
err=$(cat "$work/err")
if [ "$rc" -eq 0 ] && grep -q '^sysctl net.ipv4.tcp_sack = 1 \[' <<<"$out" &&
  grep -q '^socket(AF_INET, SOCK_STREAM, 0) = 3 \[' <<<"$out"; then
  pass "tcplab-cli peer over --iface reaches the namespace lab's agent"
else
  fail "tcplab-cli peer over --iface (exit $rc)" "$out"$'\n'"$err"
fi
experiment --phantom 198.18.0.2/24 --peer 198.18.0.1 --passive
if [ "$rc" -eq 0 ] && grep -q "# peer: connect(3, 198.18.0.2:$sport) = 0" <<<"$out"; then
  pass "passive open: the namespace lab's kernel connects to the phantom"
else
  fail "passive open over --iface (exit $rc)" "$out"$'\n'"$err"
fi

# The HTTP response was received whole and acknowledged: the last ACK we sent
# before our FIN acknowledges every byte the peer sent before its FIN.
experiment --phantom 198.18.0.2/24 --peer 198.18.0.1 --close fin --timeline "$work/r.json"
if [ "$rc" -eq 0 ] && /usr/bin/python3 - "$work/r.json" <<'PY'
import json, sys
frames = json.load(open(sys.argv[1]))["frames"]
def is_tcp(frame):
    return any(layer["layer"] == "tcp" for layer in frame["layers"])
body = b"".join(bytes.fromhex(f["frame"]["payload_hex"]) for f in frames
                if f["direction"] == "received" and is_tcp(f["frame"]))
assert body.startswith(b"HTTP/1.1 200"), body[:40]
assert b"Hello from the tcplab peer" in body, body
PY
then pass "the response arrives whole (HTTP/1.1 200 and its body)"
else fail "the response arrives whole" "$out"$'\n'"$err"
fi

# An address in use is refused, with the MAC that answered, and no TCP is sent.
experiment --phantom 198.18.0.1/24 --peer 198.18.0.3 --pcap "$work/c.pcap"
if [ "$rc" -ne 0 ] && grep -Eqi "in use|conflict" <<<"$err" && grep -Eq "([0-9a-f]{2}:){5}[0-9a-f]{2}" <<<"$err"; then
  pass "an address in use is refused, naming the MAC that answered"
else
  fail "an address in use is refused (exit $rc)" "$out"$'\n'"$err"
fi
if ! grep -q "phantom -> peer  S" <<<"$out"; then pass "after a conflict no SYN is sent"; else fail "a SYN was sent after a conflict" "$out"; fi

# A closed port: the SYN-ACK step fails and says that a RST came instead.
experiment --phantom 198.18.0.2/24 --peer 198.18.0.1 --dport 50999
if [ "$rc" -eq 1 ] && grep -q "SYN-ACK" <<<"$err" && grep -Eq "RST|R[A ]" <<<"$err"; then
  pass "a closed port fails the SYN-ACK step, naming the RST that came"
else
  fail "a closed port (exit $rc)" "$out"$'\n'"$err"
fi

# Off-link: the peer behind the router namespace, reached through the gateway.
if lab_up --router; then
  classic "IPv4 via router" 198.18.0.2/24 198.18.1.2 fin "" --gateway 198.18.0.1
  classic "IPv6 via router" 2001:db8::2/64 2001:db8:1::2 fin "" --gateway 2001:db8::1
  experiment --phantom 198.18.0.2/24 --peer 198.18.1.2
  if [ "$rc" -eq 2 ] || grep -qi "gateway" <<<"$err"; then
    pass "an off-link peer without --gateway is refused with a reason"
  else
    fail "an off-link peer without --gateway (exit $rc)" "$out"$'\n'"$err"
  fi
fi

# 10% random loss in the peer namespace: retransmissions carry every run through.
if lab_up --loss 10; then
  lost=0
  for i in 1 2 3 4 5 6; do
    experiment --phantom 198.18.0.2/24 --peer 198.18.0.1 --close fin --rto 100
    [ "$rc" -eq 0 ] || { lost=$((lost + 1)); echo "$out"; echo "$err"; }
  done
  if [ "$lost" -eq 0 ]; then pass "10% loss: 6 of 6 runs complete"; else fail "10% loss: $lost of 6 runs failed"; fi
fi

# The interface disappears mid-run: the engine says so, the run fails, and the
# timeline up to that moment is still exported.
if lab_up; then
  cat >"$work/long.scenario" <<'SCENARIO'
title handshake, then wait
send S seq=iss name="SYN"
expect SA ack=iss+1 within=3000 name="SYN-ACK"
send A name="ACK"
linger 8000 name="idle"
SCENARIO
  (sleep 1.5 && ip link del dev tcplab0) &
  experiment --phantom 198.18.0.2/24 --peer 198.18.0.1 --scenario "$work/long.scenario" \
    --timeline "$work/gone.json"
  wait
  if [ "$rc" -eq 1 ] && grep -Eqi "gone|down|no such device|disappeared" <<<"$err"; then
    pass "an interface that disappears mid-run is reported"
  else
    fail "an interface that disappears mid-run (exit $rc)" "$out"$'\n'"$err"
  fi
  if /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["frames"]) >= 3' "$work/gone.json" 2>/dev/null; then
    pass "the timeline survives the interface"
  else
    fail "the timeline survives the interface" "$(head -c 300 "$work/gone.json" 2>&1)"
  fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
