#!/usr/bin/env bash
# Handshake latency (issue 3), in one run, over a veth pair between two namespaces this
# script makes and removes:
#   (a) pcap_handshake  a minimal C program: libpcap immediate mode, hand-made SYN
#   (b) kernel_connect  the kernel's own socket() + connect()
#   (c) scapy_srp1.py   scapy's srp1()
#   (e) bench_handshake tcplab's engine (PcapLink, phantom host, scenario runner)
# then prints medians, p90, p99 and the ratios the issue sets goals for.
#
# usage: sudo bench/handshake/run.sh [BUILD_DIR] [--count N] [--scapy-count N]
#                                    [--warmup N] [--budget S] [--only a,b,c,e]
# BUILD_DIR (default build/default, relative to the repository) was configured with
# -DTCPLAB_BUILD_BENCH=ON and has the targets pcap_handshake, kernel_connect and
# bench_handshake built. Exit status: 0 when every contender ran, 1 when one failed
# (the message says which step), 2 on bad arguments, 77 when it cannot run here (not
# root, no namespaces, a tool missing).
#
# The lab: namespace tcplab-bench-ph-PID holds veth end tcplab-bench-a (the phantom's
# side: no address, IPv6 off; 198.18.0.3/24 only while (b) runs); namespace
# tcplab-bench-peer-PID holds tcplab-bench-b, 198.18.0.1/24, IPv6 off, with a listener
# on port 50001. The phantom is 198.18.0.2 with MAC 02:00:c6:12:00:02, which no kernel
# owns. Offloads (tx checksum, TSO, GSO, GRO) are off on both ends. Everything goes
# when the script ends, whatever the reason (trap).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

build_dir="$repo/build/default"
count=2000
scapy_count=50
warmup=20
budget=60
only="a,b,c,e"

usage() {
    sed -n '10,17p' "$0" | sed 's/^# \{0,1\}//'
}
die_usage() {
    echo "run.sh: $*" >&2
    usage >&2
    exit 2
}
positive() { [[ $1 =~ ^[0-9]+$ ]] && ((10#$1 > 0)); }

while (($#)); do
    case $1 in
    --count) positive "${2:-}" || die_usage "--count needs a positive number"; count=$2; shift 2 ;;
    --scapy-count) positive "${2:-}" || die_usage "--scapy-count needs a positive number"; scapy_count=$2; shift 2 ;;
    --warmup) [[ ${2:-} =~ ^[0-9]+$ ]] || die_usage "--warmup needs a number"; warmup=$2; shift 2 ;;
    --budget) positive "${2:-}" || die_usage "--budget needs a positive number of seconds"; budget=$2; shift 2 ;;
    --only) [[ ${2:-} =~ ^[abce](,[abce])*$ ]] || die_usage "--only takes a comma list of a, b, c, e"; only=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    -*) die_usage "unknown option $1" ;;
    *) build_dir=$1; shift ;;
    esac
done
((50000 + warmup + count - 1 <= 65535)) || die_usage "warmup + count must stay below 15536 (one source port each)"
wants() { [[ ,$only, == *,$1,* ]]; }

skip() {
    echo "run.sh: skipped: $*" >&2
    exit 77
}
fail() {
    echo "run.sh: FAILED: $*" >&2
    exit 1
}

((EUID == 0)) || skip "must run as root (network namespaces, veth, raw sockets): sudo $0"
for tool in ip ethtool timeout ss awk; do
    command -v "$tool" >/dev/null || skip "'$tool' is not installed"
done

[[ -d $build_dir ]] || fail "no build directory '$build_dir' (configure one with -DTCPLAB_BUILD_BENCH=ON)"
build_dir=$(cd "$build_dir" && pwd)
bin="$build_dir/bench/handshake"
for prog in pcap_handshake kernel_connect; do
    [[ -x $bin/$prog ]] || fail "$bin/$prog is missing: cmake --build $build_dir --target pcap_handshake kernel_connect bench_handshake"
done

ns_ph=tcplab-bench-ph-$$
ns_peer=tcplab-bench-peer-$$
if_ph=tcplab-bench-a
if_peer=tcplab-bench-b
peer_ip=198.18.0.1
phantom_ip=198.18.0.2
kernel_ip=198.18.0.3
peer_mac=02:00:c6:12:00:01
phantom_mac=02:00:c6:12:00:02
if_ph_mac=02:00:c6:12:00:fe
port=50001
tmp=$(mktemp -d /tmp/tcplab-bench-handshake.XXXXXX) || fail "mktemp"
listener_pid=

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    local status=$?
    if [[ -n $child_pid ]]; then
        kill -TERM "$child_pid" 2>/dev/null
        wait "$child_pid" 2>/dev/null
    fi
    if [[ -n $listener_pid ]]; then
        kill "$listener_pid" 2>/dev/null
        wait "$listener_pid" 2>/dev/null
    fi
    # Anything else still running inside our namespaces was started by this script.
    for ns in "$ns_ph" "$ns_peer"; do
        local pids
        pids=$(ip netns pids "$ns" 2>/dev/null) || continue
        for pid in $pids; do kill "$pid" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
    rm -rf "$tmp"
    exit "$status"
}
child_pid=
# shellcheck disable=SC2317 # called by the INT/TERM traps
on_signal() {
    [[ -n $child_pid ]] && kill -TERM "$child_pid" 2>/dev/null
    echo "run.sh: interrupted" >&2
    exit "$1"
}
trap cleanup EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

# shellcheck disable=SC2317 # called through step
in_ph() { ip netns exec "$ns_ph" "$@"; }
in_peer() { ip netns exec "$ns_peer" "$@"; }
step() { # step DESCRIPTION COMMAND...: runs COMMAND, fails the run with DESCRIPTION
    local what=$1
    shift
    "$@" >/dev/null 2>"$tmp/step.err" || fail "$what: $(tr '\n' ' ' <"$tmp/step.err")"
}

# --- The lab ----------------------------------------------------------------------------
ip netns add "$ns_ph" 2>"$tmp/step.err" || skip "cannot create a network namespace: $(cat "$tmp/step.err")"
step "creating namespace $ns_peer" ip netns add "$ns_peer"
for ns in "$ns_ph" "$ns_peer"; do
    # No IPv6 on the lab links: no router solicitations or MLD reports in the way.
    step "turning IPv6 off in $ns" ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
        net.ipv6.conf.default.disable_ipv6=1
    step "bringing lo up in $ns" ip -n "$ns" link set lo up
done
step "creating the veth pair" ip link add "$if_ph" address "$if_ph_mac" netns "$ns_ph" type veth \
    peer name "$if_peer" address "$peer_mac" netns "$ns_peer"
step "turning offloads off on $if_ph" in_ph ethtool -K "$if_ph" tx off tso off gso off gro off
step "turning offloads off on $if_peer" in_peer ethtool -K "$if_peer" tx off tso off gso off gro off
step "addressing $if_peer" ip -n "$ns_peer" addr add "$peer_ip/24" dev "$if_peer"
step "bringing $if_ph up" ip -n "$ns_ph" link set "$if_ph" up
step "bringing $if_peer up" ip -n "$ns_peer" link set "$if_peer" up

listener_limit=$((4 * (budget + 40) + 60)) # outlives every contender, however it ends
in_peer /usr/bin/python3 "$here/peer_listener.py" "$peer_ip" "$port" --max-seconds "$listener_limit" \
    >"$tmp/listener.out" 2>&1 &
listener_pid=$!
for _ in $(seq 50); do
    grep -q listening "$tmp/listener.out" 2>/dev/null && break
    kill -0 "$listener_pid" 2>/dev/null || break
    sleep 0.1
done
grep -q listening "$tmp/listener.out" || fail "the listener on $peer_ip:$port did not start: $(cat "$tmp/listener.out")"

# run NAME TIMEOUT COMMAND...: runs a contender, keeps its RESULT lines, reports failures.
failed=()
run() {
    local name=$1 limit=$2
    shift 2
    echo "run.sh: running $name" >&2
    # In the background so that a signal to this script is handled at once (the trap
    # stops the contender); timeout also bounds it.
    timeout --kill-after=5 "$limit" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
    child_pid=$!
    wait "$child_pid"
    local status=$?
    child_pid=
    grep '^RESULT ' "$tmp/$name.out" >>"$tmp/results"
    if ((status != 0)); then
        ((status == 124)) && echo "run.sh: $name did not finish within $limit s" >&2
        echo "run.sh: $name failed (exit $status):" >&2
        tail -n 20 "$tmp/$name.err" >&2
        failed+=("$name")
    fi
    # Every handshake was reset: nothing may be left half-open on the peer.
    local left
    left=$(in_peer ss -Htn state syn-recv "( sport = :$port )" | wc -l)
    ((left == 0)) || echo "run.sh: note: $left half-open connections left on the peer after $name" >&2
}
: >"$tmp/results"
limit=$((budget + 30))
common=(--phantom-mac "$phantom_mac" --phantom-ip "$phantom_ip" --peer-mac "$peer_mac"
    --peer-ip "$peer_ip" --dport "$port" --budget-s "$budget")

# (a) and (c) answer no ARP: the peer learns the phantom's MAC from a permanent entry.
if wants a || wants c; then
    step "adding the phantom's neighbour entry on the peer" ip -n "$ns_peer" neigh replace \
        "$phantom_ip" lladdr "$phantom_mac" dev "$if_peer" nud permanent
    if wants a; then
        run a "$limit" ip netns exec "$ns_ph" "$bin/pcap_handshake" --iface "$if_ph" "${common[@]}" \
            --count "$count" --warmup "$warmup"
    fi
    if wants c; then
        if /usr/bin/python3 -c 'import scapy.all' 2>/dev/null; then
            run c "$limit" ip netns exec "$ns_ph" /usr/bin/python3 "$here/scapy_srp1.py" --iface "$if_ph" "${common[@]}" \
                --count "$scapy_count" --warmup 3
        else
            echo "run.sh: (c) skipped: scapy is not importable by /usr/bin/python3 (apt install python3-scapy)" >&2
        fi
    fi
    step "removing the phantom's neighbour entry" ip -n "$ns_peer" neigh del "$phantom_ip" dev "$if_peer"
fi

# (b) the kernel's connect() from a temporary address on the phantom-side end.
if wants b; then
    step "adding $kernel_ip to $if_ph" ip -n "$ns_ph" addr add "$kernel_ip/24" dev "$if_ph"
    run b "$limit" ip netns exec "$ns_ph" "$bin/kernel_connect" --peer-ip "$peer_ip" --dport "$port" \
        --count "$count" --warmup "$warmup" --budget-s "$budget"
    step "removing $kernel_ip from $if_ph" ip -n "$ns_ph" addr del "$kernel_ip/24" dev "$if_ph"
fi

# (e) the engine answers ARP itself: the peer must learn the phantom's MAC from it.
if wants e; then
    if [[ -x $bin/bench_handshake ]]; then
        step "flushing the peer's neighbour table" ip -n "$ns_peer" neigh flush dev "$if_peer"
        run e "$limit" ip netns exec "$ns_ph" "$bin/bench_handshake" --iface "$if_ph" --phantom "$phantom_ip/24" \
            --phantom-mac "$phantom_mac" --peer "$peer_ip" --dport "$port" --count "$count" \
            --warmup "$warmup" --budget-s "$budget"
    else
        echo "run.sh: (e) skipped: $bin/bench_handshake is not built" >&2
    fi
fi

# --- The table --------------------------------------------------------------------------
awk '
function field(line, key,   m) {
    if (match(line, " " key "=[^ ]*")) return substr(line, RSTART + length(key) + 2, RLENGTH - length(key) - 2)
    return ""
}
/^RESULT / {
    name = field($0, "name")
    have[name] = 1; n[name] = field($0, "n"); fails[name] = field($0, "failures")
    med[name] = field($0, "median_ns"); p90[name] = field($0, "p90_ns"); p99[name] = field($0, "p99_ns")
}
function us(ns) { ns += 0; return ns >= 100000 ? sprintf("%.0f", ns / 1000) : sprintf("%.2f", ns / 1000) }
function row(name, label) {
    if (!(name in have) || n[name] + 0 == 0) { printf "  %-52s %10s\n", label, "(no result)"; return }
    printf "  %-52s %10s %10s %10s %6d%s\n", label, us(med[name]), us(p90[name]), us(p99[name]), n[name],
        (fails[name] + 0 > 0 ? "  (" fails[name] " failed)" : "")
}
function ratio(num, den, label, goal, op, limit,   r, verdict) {
    if (!(num in have) || !(den in have) || n[num] + 0 == 0 || n[den] + 0 == 0 || med[den] + 0 == 0) {
        printf "  %-52s %10s   %s\n", label, "n/a", goal; return
    }
    r = med[num] / med[den]
    verdict = op == "" ? "" : (op == "<=" ? r <= limit : op == "<" ? r < limit : r > limit) ? "met" : "MISSED"
    printf "  %-52s %10s   %-13s %s\n", label, (r >= 100 ? sprintf("%.0fx", r) : sprintf("%.2fx", r)), goal, verdict
}
END {
    printf "\nHandshake latency over a veth pair (microseconds; n = measured iterations)\n\n"
    printf "  %-52s %10s %10s %10s %6s\n", "", "median", "p90", "p99", "n"
    row("a_full", "(a) libpcap C: before inject -> SYN-ACK in hand")
    row("a_after_send", "(a) libpcap C: after inject -> SYN-ACK in hand")
    row("b_connect", "(b) kernel: socket() + connect()")
    row("c_srp1", "(c) scapy: srp1()")
    row("e_full", "(e) tcplab: send step start -> SYN-ACK matched")
    row("e_after_send", "(e) tcplab: SYN on the wire -> SYN-ACK matched")
    row("e_capture", "    of which: send step start -> SYN-ACK captured")
    row("e_delivery", "    of which: SYN-ACK captured -> matched")
    row("e_turnaround", "(e) tcplab turnaround: SYN-ACK matched -> RST sent")
    row("a_turnaround", "(a) libpcap C turnaround: SYN-ACK -> RST injected")
    printf "\nRatios of medians, same run (the goals compare like with like: from before the send):\n"
    ratio("e_full", "a_full", "e/a  tcplab vs minimal libpcap C", "goal <= 2x", "<=", 2)
    ratio("e_full", "b_connect", "e/b  tcplab vs kernel connect()", "goal < 1x", "<", 1)
    ratio("c_srp1", "e_full", "c/e  scapy vs tcplab", "goal > 1000x", ">", 1000)
    ratio("e_after_send", "a_after_send", "e/a  from the SYN on the wire (see README)", "no goal", "", 0)
}' "$tmp/results"

if ((${#failed[@]})); then
    fail "contender(s) ${failed[*]} did not complete (see above)"
fi
exit 0
