#!/usr/bin/env bash
# The soak (issue 8): tcplab-cli experiment many times in a row against the
# namespace lab, then with 10% random loss; reports failures, connections left
# behind in the peer namespace, and memory. Root only; not run in CI.
#
#   bash bench/soak/run.sh [--cli PATH] [--lab PATH] [--count N] [--loss-count M]
#                          [--processes P] [--fast]
#
#   --count N       runs without loss (default 10000), in ONE process
#                   (tcplab-cli experiment --repeat N: a fresh link, engine and
#                   timeline per run; VmRSS/VmHWM printed every 1000 runs: flat
#                   memory means these stay put)
#   --loss-count M  runs with `tcplab-lab up --loss 10` (default 1000), --rto 100
#   --processes P   separate CLI processes (default 100, each probing the address),
#                   for the per-process peak (max VmHWM over them, via getrusage)
#   --fast          the no-loss runs use the classic exercise without its 500 ms
#                   TIME-WAIT linger (bench/soak/classic_fast.scenario): ~0.1 s a run
#                   instead of ~0.6 s. The loss runs always keep the linger: there
#                   it acknowledges the peer's retransmitted FIN.
#
# Holds the lab tests' lock (/run/lock/tcplab-lab-test.lock) and takes the lab down
# at the end. Addresses 198.18.0.0/15 only. Every run is bounded (the CLI's own
# budget per run, and `timeout` around every command).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
CLI=$root/build/release/app/tcplab-cli
LAB=$root/scripts/tcplab-lab
COUNT=10000
LOSS_COUNT=1000
PROCESSES=100
FAST=0
while [ $# -gt 0 ]; do
  case $1 in
    --cli) CLI=$2; shift 2 ;;
    --lab) LAB=$2; shift 2 ;;
    --count) COUNT=$2; shift 2 ;;
    --loss-count) LOSS_COUNT=$2; shift 2 ;;
    --processes) PROCESSES=$2; shift 2 ;;
    --fast) FAST=1; shift ;;
    -h | --help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
for n in "$COUNT" "$LOSS_COUNT" "$PROCESSES"; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "run.sh: counts are whole numbers, not '$n'" >&2; exit 2; }
done
[ "$(id -u)" -eq 0 ] || { echo "run.sh: the namespace lab needs root" >&2; exit 1; }
[ -x "$CLI" ] || { echo "run.sh: no tcplab-cli at $CLI (use --cli)" >&2; exit 1; }
PEER_NS=tcplab-peer
PYTHON=/usr/bin/python3

LOCK=${TCPLAB_LAB_TEST_LOCK:-/run/lock/tcplab-lab-test.lock}
exec 8>>"$LOCK" || exit 1
flock -w 300 8 || { echo "run.sh: another lab user holds $LOCK" >&2; exit 1; }

work=$(mktemp -d /tmp/tcplab-soak.XXXXXX)
cleanup() { timeout 60 bash "$LAB" down >/dev/null 2>&1 8>&-; }
trap cleanup EXIT
echo "# soak: logs in $work"

lab_up() { timeout 60 bash "$LAB" down >/dev/null 2>&1 8>&-; timeout 60 bash "$LAB" up "$@" >"$work/lab.log" 2>&1 8>&-; }

# The peer's TCP sockets by state: "ESTAB 0 TIME-WAIT 3 ..." (LISTEN left out).
peer_states() {
  ip netns exec "$PEER_NS" ss -Htan 8>&- 2>/dev/null | awk '$1 != "LISTEN" { n[$1]++ }
    END { for (s in n) printf "%s %d ", s, n[s]; print "" }'
}
# Connections left behind: every state but LISTEN and TIME-WAIT (which expires).
leaked() { ip netns exec "$PEER_NS" ss -Htan 8>&- 2>/dev/null | awk '$1 != "LISTEN" && $1 != "TIME-WAIT"' | wc -l; }
time_wait() { ip netns exec "$PEER_NS" ss -Htan state time-wait 8>&- 2>/dev/null | wc -l; }

# One --repeat phase: NAME COUNT ARGS...
phase() {
  local name=$1 count=$2 t0 t1 rc before
  shift 2
  [ "$count" -gt 0 ] || return 0
  before=$(leaked)
  echo "# $name: $count runs in one process ($*)"
  t0=$(date +%s)
  # The budget: 30 s per run at most (the CLI bounds each run itself).
  timeout $((count * 30 + 60)) "$CLI" experiment --iface tcplab0 --phantom 198.18.0.2/24 \
    --peer 198.18.0.1 --repeat "$count" "$@" >"$work/$name.out" 2>"$work/$name.err" 8>&-
  rc=$?
  t1=$(date +%s)
  sed 's/^/  /' "$work/$name.out"
  local failures
  failures=$(grep -c "^tcplab-cli experiment: run " "$work/$name.err")
  echo "  exit $rc; $((t1 - t0)) s, $(awk -v n="$count" -v s=$((t1 - t0)) 'BEGIN { printf "%.1f", (s ? n / s : n) }') runs/s"
  [ -s "$work/$name.err" ] && { echo "  first failures:"; head -5 "$work/$name.err" | sed 's/^/    /'; }
  echo "  peer sockets right after: $(peer_states)(leaked before: $before, after: $(leaked); TIME-WAIT: $(time_wait))"
  sleep 10
  echo "  peer sockets 10 s later:  $(peer_states)(leaked: $(leaked))"
  : "$failures"
}

lab_up || { cat "$work/lab.log"; exit 1; }
scenario=()
[ "$FAST" -eq 1 ] && scenario=(--scenario "$here/classic_fast.scenario")
phase clean "$COUNT" --sport 20000 "${scenario[@]}"

# Separate processes: each one's peak RSS, from getrusage of the child.
if [ "$PROCESSES" -gt 0 ]; then
  echo "# processes: $PROCESSES separate runs (each probing the address)"
  "$PYTHON" - "$CLI" "$PROCESSES" "$work/processes.err" <<'PY' 8>&-
import resource, subprocess, sys, time
cli, count, errpath = sys.argv[1], int(sys.argv[2]), sys.argv[3]
peaks, failed, start = [], 0, time.monotonic()
with open(errpath, "w") as err:
    for i in range(count):
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        r = subprocess.run(["timeout", "90", cli, "experiment", "-q", "--iface", "tcplab0",
                            "--phantom", "198.18.0.2/24", "--peer", "198.18.0.1",
                            "--sport", str(10000 + i)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if r.returncode != 0:
            failed += 1
            err.write(f"run {i + 1}: exit {r.returncode}: {r.stderr.decode(errors='replace')}")
        # RUSAGE_CHILDREN's ru_maxrss is the largest peak of any child so far.
        peaks.append(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
elapsed = time.monotonic() - start
print(f"  {count} processes: {failed} failed; max VmHWM over them {peaks[-1]} kB "
      f"(after the first: {peaks[0]} kB); {elapsed / count:.2f} s per run")
PY
  [ -s "$work/processes.err" ] && head -5 "$work/processes.err" | sed 's/^/    /'
fi

lab_up --loss 10 || { cat "$work/lab.log"; exit 1; }
phase loss10 "$LOSS_COUNT" --sport 30000 --rto 100
timeout 60 bash "$LAB" status 8>&- 2>&1 | grep -i loss | sed 's/^/  /'
# Under loss a run can end while the peer's FIN is still being retransmitted (our
# last ACK lost, the phantom gone after its 500 ms linger): LAST-ACK, which the
# kernel gives up after its retries (tcp_orphan_retries: 8 backed-off FINs, about
# 100 s). What is still there two minutes later is a leak; its timer is shown.
sleep 50
echo "  peer sockets 60 s after the loss runs: $(peer_states)(leaked: $(leaked))"
ip netns exec "$PEER_NS" ss -Htano 8>&- | awk '$1 != "LISTEN" && $1 != "TIME-WAIT"' | sed 's/^/    /'
sleep 60
echo "  peer sockets 120 s after the loss runs: $(peer_states)(leaked: $(leaked))"
ip netns exec "$PEER_NS" ss -Htano 8>&- | awk '$1 != "LISTEN" && $1 != "TIME-WAIT"' | sed 's/^/    /'
echo "# done; logs in $work"
