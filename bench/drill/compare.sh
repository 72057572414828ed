#!/usr/bin/env bash
# Runs packetdrill scripts through the real packetdrill (on this machine's kernel, each in a
# fresh network namespace: `unshare -n`) and through `tcplab-cli drill` (the built-in Linux
# lab), and compares the verdicts, per directory. A measurement for the closing notes, not a
# test and not a CI dependency: it needs a packetdrill binary built from google/packetdrill's
# source (gtests/net/packetdrill: ./configure && make; it needs bison and flex) and root.
#
#   bench/drill/compare.sh PACKETDRILL TCPLAB_CLI OUT_DIR SCRIPT_DIR...
#
# Writes OUT_DIR/results.tsv (script, packetdrill status, tcplab status, tcplab's first
# error line) and prints a table per directory: scripts run, same verdict, tcplab-only
# failures, packetdrill-only failures, unsupported (tcplab exits 2: a construct it refuses
# before sending anything). SKIP_RE (an extended regex over paths, default below) leaves out
# the families the issue sets aside. EXTRA_ARGS (split at white space) go to both tools
# before the script: the kernel's selftests run under ksft_runner.sh's ipv4 arguments, say
#   EXTRA_ARGS="--ip_version=ipv4 --local_ip=192.168.0.1 --gateway_ip=192.168.0.1
#     --netmask_ip=255.255.0.0 --remote_ip=192.0.2.1 -D CMSG_LEVEL_IP=SOL_IP
#     -D CMSG_TYPE_RECVERR=IP_RECVERR"
set -u
if (($# < 4)); then
    echo "usage: $0 PACKETDRILL TCPLAB_CLI OUT_DIR SCRIPT_DIR..." >&2
    exit 2
fi
packetdrill=$(realpath "$1")
cli=$(realpath "$2")
out=$3
shift 3
skip_re=${SKIP_RE:-/(fastopen|zerocopy|psp|accecn|timestamping)/}
read -r -a extra <<<"${EXTRA_ARGS:-}"
per_script_limit=${PER_SCRIPT_LIMIT:-120}
mkdir -p "$out"
results="$out/results.tsv"

# defaults.sh asks for cubic; a network namespace may only take the congestion controls
# the machine allows (net.ipv4.tcp_allowed_congestion_control). Where cubic is loaded but
# not allowed, both tools would run the scripts under the machine's default (bbr, say) and
# fail on timing for that reason alone: allow it for the measurement, and restore after.
allowed_file=/proc/sys/net/ipv4/tcp_allowed_congestion_control
allowed_before=$(cat "$allowed_file" 2>/dev/null || true)
if grep -qw cubic /proc/sys/net/ipv4/tcp_available_congestion_control 2>/dev/null &&
    ! grep -qw cubic <<<"$allowed_before"; then
    echo "compare.sh: allowing cubic in network namespaces for the run (was: $allowed_before)" >&2
    echo "$allowed_before cubic" >"$allowed_file"
    trap 'echo "$allowed_before" >"$allowed_file"' EXIT
fi
: >"$results"

for dir in "$@"; do
    while IFS= read -r script; do
        [[ "$script" =~ $skip_re ]] && continue
        folder=$(dirname "$script")
        name=$(basename "$script")
        # packetdrill as its own test runner runs it: from the script's folder.
        (cd "$folder" && timeout "$per_script_limit" unshare -n "$packetdrill" "${extra[@]}" "$name") \
            >"$out/pd.out" 2>&1
        pd=$?
        timeout "$per_script_limit" "$cli" drill "${extra[@]}" "$script" >"$out/tl.out" 2>&1
        tl=$?
        reason=$(grep -v '^\s*$' "$out/tl.out" | grep -m1 -E 'error|tcplab:|not supported|unknown|cannot|did not' |
            tr '\t' ' ' | cut -c1-300)
        printf '%s\t%s\t%s\t%s\n' "$script" "$pd" "$tl" "$reason" >>"$results"
        printf "%-60s packetdrill %-3s tcplab %-3s\n" "$script" "$pd" "$tl" >&2
    done < <(find "$dir" -name '*.pkt' | sort)
done

# Verdicts: packetdrill passes on 0; tcplab passes on 0, fails on 1, refuses on 2 (the
# script uses something it does not support) and anything else is a harness problem.
awk -F'\t' '
    {
        n = split($1, parts, "/"); d = parts[n - 1]
        run[d]++
        pd_pass = ($2 == 0); tl_pass = ($3 == 0)
        if ($3 == 2) { unsupported[d]++; next }
        if (pd_pass == tl_pass) same[d]++
        else if (pd_pass) tlonly[d]++
        else pdonly[d]++
    }
    END {
        printf "%-22s %5s %5s %9s %9s %11s\n", "directory", "run", "same", "tcplab-only", "pd-only", "unsupported"
        for (d in run) {
            printf "%-22s %5d %5d %9d %9d %11d\n", d, run[d], same[d], tlonly[d], pdonly[d], unsupported[d]
            R += run[d]; S += same[d]; T += tlonly[d]; P += pdonly[d]; U += unsupported[d]
        }
        printf "%-22s %5d %5d %9d %9d %11d\n", "total", R, S, T, P, U
    }' "$results" | sort
