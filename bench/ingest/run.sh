#!/usr/bin/env bash
# Ingest benchmark (issue 4): runs bench_ingest, which generates a capture (default
# 1,000,000 frames), imports and tracks it, exports it, and times tcpdump -n -r and
# tshark -r on the same file, all in one run. See bench/README.md.
#
#   bench/ingest/run.sh [BUILD_DIR] [--perf] [bench_ingest options...]
#
# BUILD_DIR defaults to build/default. --perf also records the ingest with `perf record`
# (a separate run with --no-external) and prints the top symbols.
# Exit status: bench_ingest's (0 ran, 1 a step failed, 2 bad arguments); 77 when the
# program is not built.
set -euo pipefail

build=build/default
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  build=$1
  shift
fi
perf=0
args=()
for a in "$@"; do
  if [ "$a" = "--perf" ]; then perf=1; else args+=("$a"); fi
done

bin="$build/bench/ingest/bench_ingest"
if [ ! -x "$bin" ]; then
  echo "run.sh: $bin not built (cmake -DTCPLAB_BUILD_BENCH=ON, then --target bench_ingest)" >&2
  exit 77
fi
for tool in tcpdump tshark; do
  command -v "$tool" >/dev/null || echo "run.sh: $tool not installed: its comparison is skipped (scripts/bootstrap installs it)" >&2
done
echo "Free space in ${TMPDIR:-/tmp}: $(df -h --output=avail "${TMPDIR:-/tmp}" | tail -1 | tr -d ' ') (the run needs about 2 GB for 1,000,000 frames)"

status=0
"$bin" "${args[@]}" || status=$?

if [ "$perf" = 1 ]; then
  if ! command -v perf >/dev/null; then
    echo "run.sh: perf not installed: no profile" >&2
    exit "$status"
  fi
  data=$(mktemp "${TMPDIR:-/tmp}/tcplab-ingest-perf-XXXXXX")
  trap 'rm -f "$data"' EXIT
  echo
  echo "== perf profile of the benchmark without tcpdump/tshark (--no-external) =="
  pargs=()
  for a in "${args[@]}"; do [ "$a" = "--no-external" ] || pargs+=("$a"); done
  perf record -q -g -o "$data" -- "$bin" --no-external "${pargs[@]}" >/dev/null
  perf report -i "$data" --no-children --stdio --percent-limit 1.5 2>/dev/null | grep -E '^ +[0-9]' | head -40
fi
exit "$status"
