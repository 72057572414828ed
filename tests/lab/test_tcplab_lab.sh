#!/usr/bin/env bash
# Tests scripts/tcplab-lab end to end: builds the namespace lab, checks it from
# the kernel's side (namespaces, links, addresses, offloads, nftables, the root
# namespace untouched), talks to its servers from inside the lab (lab_http.py:
# HTTP/1.1 keep-alive, pipelining, Connection: close, GET /bytes/N), plays the
# classic exercise through tcplab0 with lab_phantom.py, an AF_PACKET phantom, with
# each close: our FIN on a kept-alive connection, the server's FIN after
# "Connection: close", our RST; and talks to the peer agent on its socket with a
# client of the protocol of its own (lab_agent.py).
#
# The agent is the one $TCPLAB_PEER_AGENT names (ctest sets it), else the one the
# script finds; when none is built, its checks are left out, saying so.
#
#   bash tests/lab/test_tcplab_lab.sh path/to/scripts/tcplab-lab
#
# Needs root and network namespaces; exits 77 (ctest: skipped) without them.
# Removes the lab when it ends, whatever happens. Touches only 198.18.0.0/15
# and 2001:db8::/32.
#
# The lab is one per machine. Tests that use it hold an exclusive flock on
# $TCPLAB_LAB_TEST_LOCK (default /run/lock/tcplab-lab-test.lock) while they run.
# A lab that is up when this test starts belongs to someone else: the test
# waits for it to go down, at most TCPLAB_LAB_WAIT seconds (default 40) in all,
# then skips (77) rather than tear it down.
set -uo pipefail

LAB=${1:?usage: $0 path/to/scripts/tcplab-lab}
HERE=$(cd "$(dirname "$0")" && pwd)
PHANTOM_PY=$HERE/lab_phantom.py
HTTP_PY=$HERE/lab_http.py
AGENT_PY=$HERE/lab_agent.py
LOCK=${TCPLAB_LAB_TEST_LOCK:-/run/lock/tcplab-lab-test.lock}
WAIT=${TCPLAB_LAB_WAIT:-40}
PYTHON=/usr/bin/python3
PHANTOM_MAC=02:00:5e:10:00:02     # locally administered, the test's phantom

skip() { echo "skip: $*" >&2; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "the namespace lab needs root (run as root to test it)"
for tool in ip nft ethtool tc timeout unshare; do
  command -v "$tool" >/dev/null || skip "$tool is not installed"
done
[ -x "$PYTHON" ] || skip "$PYTHON is not installed"
[ -r "$LAB" ] || { echo "no such script: $LAB" >&2; exit 1; }
unshare --net true 2>/dev/null || skip "network namespaces are not available here"

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   - $1"; }
fail() {
  failed=$((failed + 1))
  echo "FAIL - $1"
  [ -z "${2:-}" ] || while IFS= read -r line; do echo "       | $line"; done <<<"$2"
}
check() { # DESCRIPTION COMMAND...: passes when the command succeeds
  local what=$1 out
  shift
  if out=$("$@" 2>&1); then pass "$what"; else fail "$what" "$out"; fi
}

# Every run of the script is bounded; out, err and rc hold its last result.
out="" err="" rc=0
errfile=$(mktemp)
lab() {
  out=$(timeout 60 bash "$LAB" "$@" 2>"$errfile" 8>&-)   # the lock stays with the test
  rc=$?
  err=$(cat "$errfile")
}
expect_rc() { # WANT DESCRIPTION
  if [ "$rc" -eq "$1" ]; then pass "$2"; else fail "$2 (exit $rc, not $1)" "$out${err:+$'\n'$err}"; fi
}

foreign=0   # 1 while the test's own non-veth tcplab0 exists
own_lab=0   # 1 once the lab is this test's to build and remove
cleanup() {
  [ "$foreign" -eq 0 ] || ip link del dev tcplab0 2>/dev/null
  [ "$own_lab" -eq 0 ] || timeout 60 bash "$LAB" down >/dev/null 2>&1 8>&-
  rm -f "$errfile"
}
trap cleanup EXIT

# --- Wait for the lab to be ours (bounded), never tear down someone else's ----
lab_in_use() { # what of a lab is there: namespaces, tcplab0, state; "" when none
  local list what=""
  list=$(ip netns list 2>/dev/null | awk '{ print $1 }' | grep -E '^tcplab-(peer|router)$' | paste -sd' ' -)
  [ -z "$list" ] || what+=" namespaces $list"
  ! ip link show dev tcplab0 >/dev/null 2>&1 || what+=" link tcplab0"
  [ ! -e /run/tcplab-lab ] || what+=" state /run/tcplab-lab"
  echo "${what# }"
}
deadline=$((SECONDS + WAIT))
exec 8>>"$LOCK" || skip "cannot open the lab tests' lock $LOCK"
flock -w "$WAIT" 8 || skip "another lab test has held $LOCK for $WAIT s; not waiting longer"
while in_use=$(lab_in_use) && [ -n "$in_use" ]; do
  [ "$SECONDS" -lt "$deadline" ] ||
    skip "a tcplab lab is up ($in_use) and did not go down within $WAIT s: it is someone else's, so this test leaves it alone (run tcplab-lab down if it is stale)"
  sleep 1
done
own_lab=1

# --- Small probes ------------------------------------------------------------
# Output is captured before it is searched: under pipefail, "cmd | grep -q"
# fails whenever grep exits before cmd has written everything.
has() { # ERE COMMAND...: the command succeeds and its output matches
  local text
  text=$("${@:2}" 2>&1) || { echo "failed: ${*:2}: $text"; return 1; }
  grep -qE -- "$1" <<<"$text" || { echo "no '$1' in the output of ${*:2}:"; echo "$text"; return 1; }
}
hasnt() { # ERE COMMAND...: the command's output does not match
  local text
  text=$("${@:2}" 2>&1)
  ! grep -qE -- "$1" <<<"$text" || { echo "'$1' in the output of ${*:2}:"; echo "$text"; return 1; }
}
is() { # WANT COMMAND...: the command prints exactly WANT
  local text
  text=$("${@:2}" 2>&1)
  [ "$text" = "$1" ] || { echo "${*:2} printed '$text', not '$1'"; return 1; }
}
ns_exists() { has "^$1( |\$)" ip netns list >/dev/null; }
no_ns() { ! ns_exists "$1"; }
link_in() { ip -n "$1" link show dev "$2" >/dev/null 2>&1; }
no_link_in() { ! link_in "$@"; }
fails() { ! "$@"; }
process_gone() { [ -n "$1" ] && [ ! -e "/proc/$1" ]; }
contains() { grep -qF -- "$2" <<<"$1"; }
mentions_all() { # TEXT WORD...
  local word
  for word in "${@:2}"; do contains "$1" "$word" || { echo "no '$word'"; return 1; }; done
}

has_addr() { # NS DEV ADDR/PREFIX
  has "inet6? $3 " ip -n "$1" -o addr show dev "$2"
}

count_addrs() { # NS DEV FAMILY(-4|-6): global addresses
  local text
  text=$(ip -n "$1" "$3" -o addr show dev "$2" scope global)
  grep -c . <<<"$text"
}

offloads_off() { # NS|root DEV
  local feature value all
  if [ "$1" = root ]; then all=$(ethtool -k "$2"); else all=$(ip netns exec "$1" ethtool -k "$2"); fi || return 1
  for feature in tx-checksumming tcp-segmentation-offload generic-segmentation-offload generic-receive-offload; do
    value=$(awk -F': ' -v f="$feature" '$1 == f { split($2, v, " "); print v[1] }' <<<"$all")
    [ "$value" = off ] || { echo "$2: $feature is '$value'"; return 1; }
  done
}

http_check() { # NS ADDR PORT CHECK: lab_http.py from inside the lab (see its usage)
  timeout 30 ip netns exec "$1" "$PYTHON" "$HTTP_PY" "$2" "$3" "$4"
}
http_200() { # NS ADDR PORT: a request without Host header, from inside the lab
  http_check "$1" "$2" "$3" get
}

# The peer's sockets towards one phantom port, "STATE" per line ("" when none).
peer_states() { # PHANTOM_IP PHANTOM_PORT
  local text
  text=$(ip netns exec tcplab-peer ss -Htan 2>/dev/null) || return 1
  awk -v port=":$2" -v addr="$1" \
    'substr($5, length($5) - length(port) + 1) == port && index($5, addr) { print $1 }' <<<"$text" |
    sort -u | paste -sd' ' -
}

# The classic exercise through tcplab0, as tcplab plays it: the next hop (the
# peer's or the router's tcplab0p) is told the phantom's MAC for the duration.
# MODE is lab_phantom.py's (keepalive, pipeline, close, rst); with PEER_STATE
# given, the peer's socket must end in that state ("" = gone) once it is over.
phantom_exchange() { # NEAR_NS PHANTOM_IP PEER_IP PORT [MODE [PEER_STATE]]
  local near=$1 src=$2 dst=$3 port=$4 mode=${5:-keepalive} next_hop status sport states
  sport=$((40000 + RANDOM % 20000))
  next_hop=$(ip -n "$near" -br link show dev tcplab0p | awk '{ print $3 }')
  ip -n "$near" neigh replace "$src" lladdr "$PHANTOM_MAC" dev tcplab0p nud permanent || return 1
  timeout 20 "$PYTHON" "$PHANTOM_PY" tcplab0 "$PHANTOM_MAC" "$next_hop" "$src" "$dst" "$port" \
    "$mode" "$sport"
  status=$?
  ip -n "$near" neigh del "$src" dev tcplab0p 2>/dev/null
  [ "$status" -eq 0 ] && [ $# -ge 6 ] || return "$status"
  sleep 0.2
  states=$(peer_states "$src" "$sport")
  [ "$states" = "$6" ] || {
    echo "the peer's socket to $src port $sport is '${states:-gone}', not '${6:-gone}':"
    ip netns exec tcplab-peer ss -tan
    return 1
  }
}

lab_addrs_in_range() { # NS: every address is the lab's, link-local or loopback
  local bad
  bad=$(ip -n "$1" -o addr show | awk '{ print $4 }' |
    grep -vE '^(198\.1[89]\.[0-9]+\.[0-9]+/|2001:db8:|fe80:|127\.0\.0\.1/|::1/)')
  [ -z "$bad" ] || { echo "unexpected addresses in $1: $bad"; return 1; }
}

root_snapshot() { # what the lab must never change in the root namespace
  nft list ruleset 2>/dev/null
  echo "--- IPv4 routes"
  ip -4 route show table all
  echo "--- IPv4 addresses"
  ip -4 -o addr show | awk '{ print $2, $4 }'
  echo "--- sysctls"
  sysctl -n net.ipv4.ip_forward net.ipv6.conf.all.forwarding
}

root_unchanged() {
  local now
  now=$(root_snapshot)
  [ "$now" = "$root_before" ] || { diff <(echo "$root_before") <(echo "$now"); return 1; }
  hasnt tcplab ip -4 route show table all && hasnt tcplab ip -6 route show table all
}

server_pid() { cat /run/tcplab-lab/server.pid 2>/dev/null; }
agent_pid() { cat /run/tcplab-lab/agent.pid 2>/dev/null; }
lab_pids() { # the lab's processes in tcplab-peer, sorted: the server and the agent
  printf '%s\n' $(server_pid) $(agent_pid) | sort -n | paste -sd' ' -
}
ns_pids() { ip netns pids tcplab-peer | sort -n | paste -sd' ' -; }
agent_check() { # CHECK: lab_agent.py against the agent's socket (see its usage)
  timeout 30 "$PYTHON" "$AGENT_PY" /run/tcplab-lab/agent.sock "$1"
}
agent_sysctl_matches() { # the agent's net.ipv4.tcp_sack is the namespace's
  local said want
  said=$(agent_check sysctl) || { echo "$said"; return 1; }
  want=$(ip netns exec tcplab-peer sysctl -n net.ipv4.tcp_sack)
  [ "${said%% *}" = "$want" ] || { echo "the agent says '$said', sysctl -n says '$want'"; return 1; }
}
agent_socket_access() { # 660 root:tcplab where the group exists, else 600 root:root
  local want="600 root root" got
  ! getent group tcplab >/dev/null || want="660 root tcplab"
  got=$(stat -c '%a %U %G' /run/tcplab-lab/agent.sock 2>&1)
  [ "$got" = "$want" ] || { echo "agent.sock is '$got', not '$want'"; return 1; }
}
in_peer_ns() { # PID
  [ "$(readlink "/proc/$1/ns/net" 2>/dev/null)" = "net:[$(stat -L -c %i /run/netns/tcplab-peer)]" ]
}
own_tcp_hash() { # NS: a TCP established hash of its own (a negative size means shared)
  local size
  size=$(ip netns exec "$1" sysctl -n net.ipv4.tcp_ehash_entries)
  [ "$size" -gt 0 ] 2>/dev/null || { echo "$1 shares the host's TCP hash ($size)"; return 1; }
}
count_numgen() { # NS: loss rules
  local text
  text=$(ip netns exec "$1" nft list ruleset)
  grep -c numgen <<<"$text"
}
count_routes() { # NS PREFIX
  local text
  text=$(ip -n "$1" route show "$2")
  grep -c . <<<"$text"
}

direct4="tcplab-cli experiment --iface tcplab0 --phantom 198.18.0.2/24 --peer 198.18.0.1"
direct6="tcplab-cli experiment --iface tcplab0 --phantom 2001:db8::2/64 --peer 2001:db8::1"
router4="tcplab-cli experiment --iface tcplab0 --phantom 198.18.0.2/24 --gateway 198.18.0.1 --peer 198.18.1.2"
router6="tcplab-cli experiment --iface tcplab0 --phantom 2001:db8::2/64 --gateway 2001:db8::1 --peer 2001:db8:1::2"

# --- A clean slate -----------------------------------------------------------
lab down
expect_rc 0 "down when nothing is there"
check "down when nothing is there says so" contains "$out" "nothing to remove"
lab status
expect_rc 3 "status says down (exit 3) when down"
root_before=$(root_snapshot)

# --- Arguments ---------------------------------------------------------------
for args in "" "frobnicate" "up --loss 101" "up --loss x" "up --loss" "up --loss -1" \
  "up --delay -5" "up --delay 60001" "up down" "down --loss 5" "status --router" "up --bogus"; do
  read -ra argv <<<"$args"
  lab "${argv[@]}"
  if [ "$rc" -eq 2 ] && [ -n "$err" ] && [ "$(wc -l <<<"$err")" -eq 1 ]; then
    pass "bad arguments '$args': exit 2, one line ($err)"
  else
    fail "bad arguments '$args': exit $rc, want 2 and one line" "$err"
  fi
done
lab --help
expect_rc 0 "--help"
check "--help names up, down, status and the options" \
  mentions_all "$out" up down status --router --loss --delay --strict
check "--help describes the servers' keep-alive and Connection: close" \
  mentions_all "$out" keep-alive '"Connection: close"' HTTP/1.0 pipelined
check "no namespace made by bad arguments" no_ns tcplab-peer

# --- A tcplab0 that is not the lab's is refused and left alone ---------------
for kind in ifb bridge; do
  if ip link add name tcplab0 type "$kind" 2>/dev/null; then foreign=1; break; fi
done
if [ "$foreign" -eq 1 ]; then
  lab up
  expect_rc 1 "up refuses a tcplab0 that is not a veth ($kind)"
  check "and says why" contains "$err" "not a veth"
  check "and makes no namespace" no_ns tcplab-peer
  lab down
  expect_rc 0 "down beside a foreign tcplab0"
  check "down leaves the foreign tcplab0 alone" has "tcplab0" ip -br link show dev tcplab0
  ip link del dev tcplab0 && foreign=0
else
  echo "       (no link type to make a foreign tcplab0 with; that check is left out)"
fi

# --- up ----------------------------------------------------------------------
lab up
expect_rc 0 "up"
check "up prints the IPv4 experiment line" contains "$out" "$direct4"
check "up prints the IPv6 experiment line" contains "$out" "$direct6"
check "namespace tcplab-peer exists" ns_exists tcplab-peer
check "no router namespace without --router" no_ns tcplab-router
check "tcplab0 exists in the root namespace and is a veth" has "veth" ip -d link show dev tcplab0
check "tcplab0 is up" has "[<,]UP[,>]" ip -o link show dev tcplab0
check "tcplab0 answers no ARP (NOARP)" has "[<,]NOARP[,>]" ip -o link show dev tcplab0
check "tcplab0 has no IPv4 address" is "" ip -4 -o addr show dev tcplab0
check "tcplab0 has IPv6 disabled" is 1 sysctl -n net.ipv6.conf.tcplab0.disable_ipv6
check "tcplab0 has no IPv6 address" is "" ip -6 -o addr show dev tcplab0
check "tcplab0p is in tcplab-peer" link_in tcplab-peer tcplab0p
check "tcplab0p has 198.18.0.1/24" has_addr tcplab-peer tcplab0p 198.18.0.1/24
check "tcplab0p has 2001:db8::1/64" has_addr tcplab-peer tcplab0p 2001:db8::1/64
check "tcplab-peer has only lab addresses" lab_addrs_in_range tcplab-peer
check "offloads off on tcplab0" offloads_off root tcplab0
check "offloads off on tcplab0p" offloads_off tcplab-peer tcplab0p
for target in 198.18.0.1 2001:db8::1; do
  for port in 50001 80; do
    check "HTTP 200 from $target port $port (no Host header)" http_200 tcplab-peer "$target" "$port"
  done
done
# HTTP/1.1 persistence, from a kernel client in the lab.
for http in keepalive pipeline body close http10 http10-keepalive; do
  check "HTTP $http, 198.18.0.1 port 50001" http_check tcplab-peer 198.18.0.1 50001 "$http"
done
for http in keepalive close; do
  check "HTTP $http, [2001:db8::1] port 80" http_check tcplab-peer 2001:db8::1 80 "$http"
done
check "GET /bytes/N, 198.18.0.1 port 50001: N pattern bytes, HEAD, 413 over 1 GiB" \
  http_check tcplab-peer 198.18.0.1 50001 bytes
check "GET /bytes/N, [2001:db8::1] port 80" http_check tcplab-peer 2001:db8::1 80 bytes
if [ -r /proc/sys/net/ipv4/tcp_child_ehash_entries ]; then
  check "tcplab-peer has a TCP hash of its own (the host's is not walked)" own_tcp_hash tcplab-peer
fi

# --- The peer agent ------------------------------------------------------------
have_agent=1
if contains "$out" "no peer agent"; then
  have_agent=0
  if [ -n "${TCPLAB_PEER_AGENT:-}" ]; then
    fail "up found no peer agent, though TCPLAB_PEER_AGENT=$TCPLAB_PEER_AGENT" "$out"
  else
    echo "       (no tcplab-peer-agent is built: the agent's checks are left out)"
  fi
fi
if [ "$have_agent" -eq 1 ]; then
  check "up started the peer agent: its socket is there" test -S /run/tcplab-lab/agent.sock
  check "the agent's socket is for root and group tcplab (or root alone)" agent_socket_access
  check "the agent runs in tcplab-peer" in_peer_ns "$(agent_pid)"
  check "the agent says hello and answers sysctl net.ipv4.tcp_sack as the namespace has it" \
    agent_sysctl_matches
  check "a session's first sockets are fds 3 and 4, and a sample lists them" agent_check socket
  check "a second session starts at fd 3 again" agent_check socket
  check "a ninth session at once gets one Answer (Refused) and is closed" agent_check refused
fi
server_log=$(cat /run/tcplab-lab/server.log 2>/dev/null)
check "the server logs each request with its persistence" \
  mentions_all "$server_log" "b'GET /again HTTP/1.1' (keep-alive)" "b'HEAD /b HTTP/1.1' (keep-alive)" \
  "b'GET /x HTTP/1.1' (close)" "b'GET / HTTP/1.0' (close)"
check "a request pipelined after Connection: close is neither answered nor logged" \
  fails contains "$server_log" "GET /y"
# The classic exercise from the phantom, with each close.
check "the classic exercise through tcplab0, IPv4, port 50001: keep-alive, our FIN first" \
  phantom_exchange tcplab-peer 198.18.0.2 198.18.0.1 50001 keepalive ""
check "the classic exercise through tcplab0, IPv6, port 80: keep-alive, our FIN first" \
  phantom_exchange tcplab-peer 2001:db8::2 2001:db8::1 80 keepalive ""
check "the classic exercise, IPv4: Connection: close, the server's FIN first (TIME-WAIT)" \
  phantom_exchange tcplab-peer 198.18.0.2 198.18.0.1 50001 close TIME-WAIT
check "the classic exercise, IPv6: Connection: close, the server's FIN first (TIME-WAIT)" \
  phantom_exchange tcplab-peer 2001:db8::2 2001:db8::1 50001 close TIME-WAIT
check "the classic exercise, IPv4: two requests pipelined in one segment" \
  phantom_exchange tcplab-peer 198.18.0.2 198.18.0.1 80 pipeline ""
check "the classic exercise, IPv6: aborted with RST after the answer" \
  phantom_exchange tcplab-peer 2001:db8::2 2001:db8::1 50001 rst ""
check "the root namespace is untouched (rules, routes, addresses, forwarding)" root_unchanged

# --- up again ----------------------------------------------------------------
pid_before=$(server_pid)
lab up
expect_rc 0 "up again"
check "up again says it was already up" contains "$out" "already up"
check "up again prints the experiment line" contains "$out" "$direct4"
check "up again keeps the same server (PID $pid_before)" is "${pid_before:-none}" server_pid
agent_before=$(agent_pid)
check "the processes in tcplab-peer are the server and the agent" is "$(lab_pids)" ns_pids
if [ "$have_agent" -eq 1 ]; then
  check "up again keeps the same agent (PID $agent_before)" is "${agent_before:-none}" agent_pid
fi
check "one IPv4 address on tcplab0p" is 1 count_addrs tcplab-peer tcplab0p -4
check "one global IPv6 address on tcplab0p" is 1 count_addrs tcplab-peer tcplab0p -6
check "one route per lab subnet in tcplab-peer" is 1 count_routes tcplab-peer 198.18.0.0/24
check "one nft table in tcplab-peer (none)" is "" ip netns exec tcplab-peer nft list tables

# --- status ------------------------------------------------------------------
lab status
expect_rc 0 "status exits 0 when up"
check "status prints the experiment line" contains "$out" "$direct4"
check "status names the server and its PID" contains "$out" "PID $pid_before, running"
if [ "$have_agent" -eq 1 ]; then
  check "status names the agent, its PID and its socket" \
    contains "$out" "peer agent in tcplab-peer, PID $agent_before, running on /run/tcplab-lab/agent.sock"
fi

# --- repair ------------------------------------------------------------------
kill "$pid_before" 2>/dev/null
for _ in $(seq 50); do [ -e "/proc/$pid_before" ] || break; sleep 0.1; done
lab status
expect_rc 4 "status exits 4 when the server is dead"
lab up
expect_rc 0 "up after the server died"
check "up says it repaired the lab" contains "$out" "repaired"
check "up started a new server" http_200 tcplab-peer 198.18.0.1 50001
ip link del dev tcplab0
lab status
expect_rc 4 "status exits 4 when tcplab0 is gone"
lab up
expect_rc 0 "up after tcplab0 was deleted"
check "tcplab0 is back, paired with tcplab0p" link_in tcplab-peer tcplab0p
check "tcplab0 is back with IPv6 disabled" is 1 sysctl -n net.ipv6.conf.tcplab0.disable_ipv6
check "offloads off on the new tcplab0" offloads_off root tcplab0
check "offloads off on the new tcplab0p" offloads_off tcplab-peer tcplab0p
check "the exercise works after the repair" phantom_exchange tcplab-peer 198.18.0.2 198.18.0.1 50001 keepalive ""
if [ "$have_agent" -eq 1 ]; then
  agent_before=$(agent_pid)
  kill "$agent_before" 2>/dev/null
  for _ in $(seq 50); do [ -e "/proc/$agent_before" ] || break; sleep 0.1; done
  check "SIGTERM ends the agent and removes its socket" fails test -e /run/tcplab-lab/agent.sock
  lab status
  expect_rc 4 "status exits 4 when the agent is dead"
  # Where no agent can be found, up says so in one line and goes on.
  if [ ! -e /usr/libexec/tcplab/tcplab-peer-agent ]; then
    lonely=$(mktemp -d)
    cp "$LAB" "$lonely/tcplab-lab"
    LAB=$lonely/tcplab-lab TCPLAB_PEER_AGENT="" lab up
    expect_rc 0 "up without any agent to find"
    check "up says, in one line, that peer calls will be unavailable" \
      is 1 grep -c "peer calls will be unavailable" <<<"$out"
    LAB=$lonely/tcplab-lab TCPLAB_PEER_AGENT="" lab status
    expect_rc 0 "status exits 0 without an agent to run"
    check "status says there is no agent" contains "$out" "peer agent: none found"
    rm -rf "$lonely"
  fi
  lab up
  expect_rc 0 "up after the agent died"
  check "up started a new agent" agent_sysctl_matches
fi

# --- loss --------------------------------------------------------------------
lab up --loss 30
expect_rc 0 "up --loss 30"
check "the nft loss rule is in tcplab-peer" \
  has "numgen random mod 100 < 30 .*drop" ip netns exec tcplab-peer nft list ruleset
lab status
check "status reports 30% loss" contains "$out" "loss: 30%"
lab up --loss 30
check "up --loss 30 twice: one table, one rule per chain" is 2 count_numgen tcplab-peer
lab up --loss 100
expect_rc 0 "up --loss 100"
lab status
check "status reports 100% loss" contains "$out" "loss: 100%"
check "with 100% loss the phantom gets no SYN-ACK" fails \
  phantom_exchange tcplab-peer 198.18.0.2 198.18.0.1 50001
check "loss spares the peer's loopback" http_200 tcplab-peer 198.18.0.1 50001
lab up --loss 0
expect_rc 0 "up --loss 0"
check "up --loss 0 removes the table" is "" ip netns exec tcplab-peer nft list ruleset
check "the exercise works again after loss 0" \
  phantom_exchange tcplab-peer 198.18.0.2 198.18.0.1 50001
check "no firewall rule appeared in the root namespace" root_unchanged

# --- delay: netem where the kernel has it, a clear sentence where not --------
lab up --delay 20
expect_rc 0 "up --delay 20"
if has "netem.*delay 20" ip netns exec tcplab-peer tc qdisc show dev tcplab0p >/dev/null; then
  pass "netem delays tcplab0p by 20 ms"
  lab up
  check "up without --delay removes netem" hasnt netem ip netns exec tcplab-peer tc qdisc show dev tcplab0p
else
  check "no netem here, and up --delay says so in one sentence" contains "$err" "needs the netem qdisc"
  echo "       (this kernel has no netem: $err)"
  lab up --delay 20 --strict
  expect_rc 1 "up --delay --strict fails without netem"
  check "the lab stays up after --strict fails" link_in tcplab-peer tcplab0p
fi

# --- --router ----------------------------------------------------------------
lab up --router
expect_rc 0 "up --router on a direct lab rebuilds it"
check "up --router prints the IPv4 line with the gateway" contains "$out" "$router4"
check "up --router prints the IPv6 line with the gateway" contains "$out" "$router6"
check "namespace tcplab-router exists" ns_exists tcplab-router
check "namespace tcplab-peer exists" ns_exists tcplab-peer
check "tcplab0p is in tcplab-router" link_in tcplab-router tcplab0p
check "tcplab0p is no longer in tcplab-peer" no_link_in tcplab-peer tcplab0p
check "router: tcplab0p 198.18.0.1/24" has_addr tcplab-router tcplab0p 198.18.0.1/24
check "router: tcplab0p 2001:db8::1/64" has_addr tcplab-router tcplab0p 2001:db8::1/64
check "router: tcplab1 198.18.1.1/24" has_addr tcplab-router tcplab1 198.18.1.1/24
check "router: tcplab1 2001:db8:1::1/64" has_addr tcplab-router tcplab1 2001:db8:1::1/64
check "peer: tcplab1p 198.18.1.2/24" has_addr tcplab-peer tcplab1p 198.18.1.2/24
check "peer: tcplab1p 2001:db8:1::2/64" has_addr tcplab-peer tcplab1p 2001:db8:1::2/64
check "peer: default route via the router" has "via 198\.18\.1\.1 " ip -n tcplab-peer route show default
check "peer: IPv6 default route via the router" has "via 2001:db8:1::1 " ip -n tcplab-peer -6 route show default
check "router forwards IPv4" is 1 ip netns exec tcplab-router sysctl -n net.ipv4.ip_forward
check "router forwards IPv6" is 1 ip netns exec tcplab-router sysctl -n net.ipv6.conf.all.forwarding
check "tcplab-router has only lab addresses" lab_addrs_in_range tcplab-router
check "tcplab-peer has only lab addresses" lab_addrs_in_range tcplab-peer
for end in "tcplab-router tcplab0p" "tcplab-router tcplab1" "tcplab-peer tcplab1p"; do
  read -r ns dev <<<"$end"
  check "offloads off on $dev ($ns)" offloads_off "$ns" "$dev"
done
check "offloads off on tcplab0" offloads_off root tcplab0
check "tcplab0 still has IPv6 disabled" is 1 sysctl -n net.ipv6.conf.tcplab0.disable_ipv6
check "tcplab0 still has no IPv4 address" is "" ip -4 -o addr show dev tcplab0
check "peer's HTTP 198.18.1.2:50001 reached from the router" http_200 tcplab-router 198.18.1.2 50001
check "peer's HTTP [2001:db8:1::2]:50001 reached from the router" http_200 tcplab-router 2001:db8:1::2 50001
if [ "$have_agent" -eq 1 ]; then
  check "with --router the agent runs in the new tcplab-peer" in_peer_ns "$(agent_pid)"
  check "and answers" agent_sysctl_matches
fi
check "the classic exercise through the gateway, IPv4, keep-alive" \
  phantom_exchange tcplab-router 198.18.0.2 198.18.1.2 50001 keepalive ""
check "the classic exercise through the gateway, IPv6, Connection: close" \
  phantom_exchange tcplab-router 2001:db8::2 2001:db8:1::2 50001 close TIME-WAIT
lab up --router --loss 30
check "with --router the loss rule is in tcplab-peer" \
  has "numgen random mod 100 < 30 .*drop" ip netns exec tcplab-peer nft list ruleset
check "and not in tcplab-router" is "" ip netns exec tcplab-router nft list ruleset
router_pid=$(server_pid)
router_agent=$(agent_pid)
lab up --router
expect_rc 0 "up --router again"
check "up --router again keeps the server" is "${router_pid:-none}" server_pid
lab status
expect_rc 0 "status with --router"
check "status prints the gateway line" contains "$out" "$router4"
check "the root namespace is still untouched" root_unchanged

# --- down --------------------------------------------------------------------
lab down
expect_rc 0 "down"
# Only the lab's own names: other tcplab tools (the benchmarks) make their own.
check "no lab namespace (tcplab-peer, tcplab-router) left" hasnt "^tcplab-(peer|router)( |\$)" ip netns list
check "no tcplab0 link left" fails ip link show dev tcplab0
check "no lab link (tcplab0, tcplab0p, tcplab1, tcplab1p) left in the root namespace" \
  hasnt ": tcplab[01]p?[@:]" ip -o link show
check "the server process is gone" process_gone "$router_pid"
if [ "$have_agent" -eq 1 ]; then
  check "the agent process is gone" process_gone "$router_agent"
fi
check "the state directory is gone" fails test -e /run/tcplab-lab
lab status
expect_rc 3 "status exits 3 after down"
lab down
expect_rc 0 "down again is harmless"
check "the root namespace is as it was" root_unchanged

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
