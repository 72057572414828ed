#!/usr/bin/env bash
# The peer benchmark (issue 13, "Performance"), in one run:
#   download  a 100 MB download from the built-in lab's kernel into the phantom (Auto-ACK,
#             snap length 128) against the kernel-to-kernel baseline over a veth pair this
#             script makes (two namespaces, tx checksum/TSO/GSO/GRO off), interleaved,
#             --repeat times each; drops (PACKET_STATISTICS) and the peer's total_retrans;
#             the timeline's bytes per frame
#   answer    20 classic experiments on the built-in lab and 20 with tcplab-cli experiment
#             --iface against the namespace lab (scripts/tcplab-lab), tcpdump on the peer's
#             end of the veth: the phantom's SYN-ACK -> ACK against the kernel's SYN -> SYN-ACK
#   rtt       peer-agent calls against the same syscalls made directly
#   idle      the engine's CPU time with nothing to do
# then a table of the figures and the ratios the issue sets goals for.
#
# usage: sudo bench/peer/run.sh [BUILD_DIR] [--bytes N] [--repeat N] [--count N]
#                               [--rtt-count N] [--idle-s S] [--only download,answer,rtt,idle]
# BUILD_DIR (default build/default, relative to the repository) was configured with
# -DTCPLAB_BUILD_BENCH=ON and has bench_peer, bulk_pair, tcplab-cli, tcplab-lab-helper and
# tcplab-peer-agent built. Exit status: 0 when every part ran, 1 when one failed (the
# message says which), 2 on bad arguments, 77 when it cannot run here (not root, a tool
# missing).
#
# The namespace lab is used as it is when it is up already (and left up); otherwise this
# script brings it up and down again. Everything else it makes goes when it ends (trap).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

build_dir="$repo/build/default"
bytes=100M
repeat=3
count=20
rtt_count=2000
idle_s=5
only="download,answer,rtt,idle"

usage() { sed -n '15,24p' "$0" | sed 's/^# \{0,1\}//'; }
die_usage() {
    echo "run.sh: $*" >&2
    usage >&2
    exit 2
}
positive() { [[ $1 =~ ^[0-9]+$ ]] && ((10#$1 > 0)); }

while (($#)); do
    case $1 in
    --bytes) [[ ${2:-} =~ ^[0-9]+[kMG]?$ ]] || die_usage "--bytes takes a count (k, M, G)"; bytes=$2; shift 2 ;;
    --repeat) positive "${2:-}" || die_usage "--repeat needs a positive number"; repeat=$2; shift 2 ;;
    --count) positive "${2:-}" || die_usage "--count needs a positive number"; count=$2; shift 2 ;;
    --rtt-count) positive "${2:-}" || die_usage "--rtt-count needs a positive number"; rtt_count=$2; shift 2 ;;
    --idle-s) positive "${2:-}" || die_usage "--idle-s needs a positive number"; idle_s=$2; shift 2 ;;
    --only) [[ ${2:-} =~ ^(download|answer|rtt|idle)(,(download|answer|rtt|idle))*$ ]] ||
        die_usage "--only takes a comma list of download, answer, rtt, idle"; only=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    -*) die_usage "unknown option $1" ;;
    *) build_dir=$1; shift ;;
    esac
done
wants() { [[ ,$only, == *,$1,* ]]; }

skip() {
    echo "run.sh: skipped: $*" >&2
    exit 77
}
fail() {
    echo "run.sh: FAILED: $*" >&2
    exit 1
}

((EUID == 0)) || skip "must run as root (network namespaces, veth, tcpdump): sudo $0"
for tool in ip ethtool timeout tcpdump nsenter awk; do
    command -v "$tool" >/dev/null || skip "'$tool' is not installed"
done

[[ -d $build_dir ]] || fail "no build directory '$build_dir' (configure one with -DTCPLAB_BUILD_BENCH=ON)"
build_dir=$(cd "$build_dir" && pwd)
bench=$build_dir/bench/peer/bench_peer
pair=$build_dir/bench/peer/bulk_pair
cli=$build_dir/app/tcplab-cli
for prog in "$bench" "$pair" "$cli" "$build_dir/app/tcplab-lab-helper" "$build_dir/app/tcplab-peer-agent"; do
    [[ -x $prog ]] || fail "$prog is missing: cmake --build $build_dir --target bench_peer bulk_pair tcplab-cli"
done

ns_a=tcplab-bpeer-a-$$
ns_b=tcplab-bpeer-b-$$
tmp=$(mktemp -d /tmp/tcplab-bench-peer.XXXXXX) || fail "mktemp"
results=$tmp/results
: >"$results"
lab_ours=
capture_pid=
child_pid=

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    local status=$?
    [[ -n $child_pid ]] && kill -TERM "$child_pid" 2>/dev/null
    [[ -n $capture_pid ]] && kill -INT "$capture_pid" 2>/dev/null && wait "$capture_pid" 2>/dev/null
    for ns in "$ns_a" "$ns_b"; do
        local pids
        pids=$(ip netns pids "$ns" 2>/dev/null) || continue
        for pid in $pids; do kill "$pid" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
    [[ -n $lab_ours ]] && "$repo/scripts/tcplab-lab" down >/dev/null 2>&1
    rm -rf "$tmp"
    exit "$status"
}
# shellcheck disable=SC2317 # called by the INT/TERM traps
on_signal() {
    [[ -n $child_pid ]] && kill -TERM "$child_pid" 2>/dev/null
    echo "run.sh: interrupted" >&2
    exit "$1"
}
trap cleanup EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

step() { # step DESCRIPTION COMMAND...: runs COMMAND, fails the run with DESCRIPTION
    local what=$1
    shift
    "$@" >/dev/null 2>"$tmp/step.err" || fail "$what: $(tr '\n' ' ' <"$tmp/step.err")"
}
# bounded BUDGET_S COMMAND...: runs COMMAND (killed after BUDGET_S), its output appended to
# $results and shown
bounded() {
    local budget=$1
    shift
    timeout --kill-after=5 "$budget" "$@" >"$tmp/child.out" 2>"$tmp/child.err" &
    child_pid=$!
    wait "$child_pid"
    local status=$?
    child_pid=
    tee -a "$results" <"$tmp/child.out"
    if ((status != 0)); then
        cat "$tmp/child.err" >&2
        return "$status"
    fi
    return 0
}

# --- download ---------------------------------------------------------------------------
if wants download; then
    ip netns add "$ns_a" 2>"$tmp/step.err" || skip "cannot create a network namespace: $(cat "$tmp/step.err")"
    step "creating namespace $ns_b" ip netns add "$ns_b"
    for ns in "$ns_a" "$ns_b"; do
        step "turning IPv6 off in $ns" ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
            net.ipv6.conf.default.disable_ipv6=1
        step "bringing lo up in $ns" ip -n "$ns" link set lo up
    done
    # The same kind of veth as the built-in lab's: MTU 1500, tx checksum, TSO, GSO and GRO
    # off on both ends (the lab's helper turns them off too), default socket buffers.
    step "creating the veth pair" ip link add tcplab-bp-a netns "$ns_a" type veth peer name tcplab-bp-b netns "$ns_b"
    step "offloads off (a)" ip netns exec "$ns_a" ethtool -K tcplab-bp-a tx off tso off gso off gro off
    step "offloads off (b)" ip netns exec "$ns_b" ethtool -K tcplab-bp-b tx off tso off gso off gro off
    step "addressing (a)" ip -n "$ns_a" addr add 198.18.0.2/24 dev tcplab-bp-a
    step "addressing (b)" ip -n "$ns_b" addr add 198.18.0.1/24 dev tcplab-bp-b
    step "link up (a)" ip -n "$ns_a" link set tcplab-bp-a up
    step "link up (b)" ip -n "$ns_b" link set tcplab-bp-b up
    for ((i = 0; i < 50; ++i)); do
        ip netns exec "$ns_b" ping -c1 -W1 -q 198.18.0.2 >/dev/null 2>&1 && break
        sleep 0.1
    done
    count_bytes=$(awk -v b="$bytes" 'BEGIN { m = 1; u = substr(b, length(b)); if (u == "k") m = 1024; else if (u == "M") m = 1048576; else if (u == "G") m = 1073741824; n = (m == 1) ? b : substr(b, 1, length(b) - 1); printf "%d", n * m }')
    echo "# download of $bytes ($count_bytes bytes), $repeat times each, interleaved"
    for ((r = 1; r <= repeat; ++r)); do
        ip netns exec "$ns_a" timeout 90 "$pair" receive 5001 60 >"$tmp/receiver.out" 2>"$tmp/receiver.err" &
        receiver=$!
        for ((i = 0; i < 50; ++i)); do
            grep -q READY "$tmp/receiver.out" 2>/dev/null && break
            sleep 0.1
        done
        ip netns exec "$ns_b" timeout 90 "$pair" send 198.18.0.2 5001 "$count_bytes" 60 >>"$results" 2>"$tmp/sender.err" ||
            fail "kernel-to-kernel sender: $(cat "$tmp/sender.err")"
        wait "$receiver" || fail "kernel-to-kernel receiver: $(cat "$tmp/receiver.err")"
        grep RESULT "$tmp/receiver.out" | tee -a "$results"
        bounded 120 "$bench" download --bytes "$bytes" || fail "bench_peer download (run $r)"
    done
fi

# --- answer -----------------------------------------------------------------------------
if wants answer; then
    echo "# answer on the wire: $count classic experiments on the built-in lab"
    bounded 120 "$bench" answer --count "$count" --capture "$tmp/builtin.pcap" || fail "bench_peer answer"
    echo "# the same with the engine's busy-poll off (Engine::Options::busyPoll 0)"
    bounded 120 "$bench" --busy-poll-us 0 answer --count "$count" --name builtin_nobusy \
        --capture "$tmp/builtin0.pcap" || fail "bench_peer answer (busy-poll off)"
    lab="$repo/scripts/tcplab-lab"
    "$lab" status >/dev/null 2>&1
    case $? in
    0) echo "# the namespace lab is up already: used as it is" ;;
    3) step "bringing the namespace lab up" "$lab" up
       lab_ours=1 ;;
    *) fail "the namespace lab is partly there (scripts/tcplab-lab status): run 'scripts/tcplab-lab down' first" ;;
    esac
    echo "# answer on the wire: tcplab-cli experiment --iface tcplab0 --repeat $count"
    ip netns exec tcplab-peer tcpdump -i tcplab0p -nn -U -Z root -s 128 --time-stamp-precision=nano \
        -w "$tmp/iface.pcap" tcp 2>"$tmp/tcpdump.err" &
    capture_pid=$!
    for ((i = 0; i < 50; ++i)); do
        grep -q "listening on" "$tmp/tcpdump.err" 2>/dev/null && break
        sleep 0.1
    done
    grep -q "listening on" "$tmp/tcpdump.err" || fail "tcpdump in tcplab-peer: $(cat "$tmp/tcpdump.err")"
    timeout 120 "$cli" experiment --iface tcplab0 --phantom 198.18.0.2/24 --peer 198.18.0.1 \
        --repeat "$count" >"$tmp/cli.out" 2>&1 || fail "tcplab-cli experiment --iface: $(cat "$tmp/cli.out")"
    sleep 1.2 # tcpdump hands frames over in blocks retired within 1 s
    kill -INT "$capture_pid"
    wait "$capture_pid"
    capture_pid=
    bounded 30 "$bench" analyze "$tmp/iface.pcap" --name iface || fail "bench_peer analyze"
fi

# --- rtt, idle --------------------------------------------------------------------------
if wants rtt; then
    echo "# peer-agent round trips: $rtt_count calls of each cheap kind"
    bounded 300 "$bench" rtt --count "$rtt_count" || fail "bench_peer rtt"
    echo "# the same with the engine's busy-poll off"
    bounded 300 "$bench" --busy-poll-us 0 rtt --count "$rtt_count" || fail "bench_peer rtt (busy-poll off)"
fi
if wants idle; then
    echo "# idle CPU, $idle_s s with no connection and $idle_s s with one open"
    bounded 60 "$bench" idle --seconds "$idle_s" || fail "bench_peer idle"
fi

# --- Summary ----------------------------------------------------------------------------
echo
echo "== summary (medians; ratios of the medians of this run)"
awk '
function field(line, key,   n, i, kv) {
    n = split(line, kv, " ")
    for (i = 1; i <= n; ++i) if (index(kv[i], key "=") == 1) return substr(kv[i], length(key) + 2)
    return ""
}
function median(list, n,   i, j, t, a) {
    for (i = 1; i <= n; ++i) a[i] = list[i]
    for (i = 1; i <= n; ++i) for (j = i + 1; j <= n; ++j) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n == 0 ? 0 : a[int((n + 1) / 2)]
}
/name=kernel_download/ { kg[++nk] = field($0, "goodput_mbit_s") }
/name=kernel_sender/ { kr = kr " " field($0, "total_retrans") }
/name=tcplab_download / { tg[++nt] = field($0, "goodput_mbit_s") }
/name=tcplab_losses/ { drops = drops " " field($0, "packet_socket_drops"); tr = tr " " field($0, "peer_total_retrans") }
/name=tcplab_timeline/ { bpf = bpf " " field($0, "bytes_per_frame") }
/^RESULT/ { med[field($0, "name")] = field($0, "median_ns") }
/name=rtt_ratio/ { rtt = rtt sprintf("  %-20s busy-poll %3s us: direct %7.1f us  AgentClient %7.1f us (%.1fx)  Engine::peerCall %7.1f us (%.1fx)\n", field($0, "call"), field($0, "busy_poll_us"), field($0, "direct_ns") / 1000, field($0, "client_ns") / 1000, field($0, "client_ratio"), field($0, "engine_ns") / 1000, field($0, "engine_ratio")) }
/name=idle_cpu / { idle = field($0, "cpu_percent") }
/name=idle_cpu_connection_open/ { idleOpen = field($0, "cpu_percent") }
END {
    if (nk > 0 && nt > 0) {
        k = median(kg, nk); t = median(tg, nt)
        printf "download: tcplab %.0f Mbit/s, kernel-to-kernel %.0f Mbit/s: %.2fx (goal >= 0.5)\n", t, k, t / k
        printf "  tcplab drops (PACKET_STATISTICS):%s; peer total_retrans with tcplab:%s; kernel sender total_retrans:%s\n", drops, tr, kr
        printf "  timeline bytes per frame:%s (goal <= 200)\n", bpf
    }
    split("builtin builtin_nobusy iface", paths, " ")
    for (p = 1; p <= 3; ++p) {
        kk = med[paths[p] "_kernel_syn_to_synack"]; ph = med[paths[p] "_phantom_synack_to_ack"]
        if (kk > 0) printf "answer (%s): phantom SYN-ACK->ACK %.1f us, kernel SYN->SYN-ACK %.1f us: %.2fx (goal <= 2)\n", paths[p], ph / 1000, kk / 1000, ph / kk
    }
    if (rtt != "") printf "agent round trips (goal <= 3x):\n%s", rtt
    if (idle != "") printf "idle CPU: %s %% with no connection, %s %% with one open\n", idle, idleOpen
}' "$results"
exit 0
