#!/usr/bin/env bash
# vs-tshark.sh - time espcap-fast against `tshark -T ek` on the same capture,
# both writing NDJSON to /dev/null, and print the ratio.
#
#   bench/vs-tshark.sh [CAPTURE] [PACKETS]
#
# CAPTURE defaults to a 2M-packet benchmark capture (bench/make-bench.sh);
# the first PACKETS packets (default 100000: tshark -T ek manages about
# 5,000 packets per CPU-second) are cut into a slice with editcap, and both
# tools read that slice. Reported: wall time, CPU time (user+sys), packets/s
# and packets per CPU-second of each, and their ratios.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cap=${1:-}
n=${2:-100000}
if [ -z "$cap" ]; then
	cap=$("$here/make-bench.sh" 2000000 | tail -1)
fi
for tool in tshark editcap; do
	command -v "$tool" >/dev/null || { echo "vs-tshark.sh: $tool not found (Debian: apt-get install tshark)" >&2; exit 69; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
slice=$tmp/slice.pcap
editcap -r -F pcap "$cap" "$slice" "1-$n"
bin=$tmp/espcap-fast
(cd "$here/.." && go build -o "$bin" ./cmd/espcap-fast)

# measure CMD...: prints "wall cpu" in seconds
measure() {
	local t0 t1 c
	t0=$(date +%s.%N)
	/usr/bin/time -o "$tmp/time" -f '%U %S' "$@" >/dev/null 2>/dev/null
	c=$(tail -1 "$tmp/time")
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" -v c="$c" 'BEGIN { split(c, x, " "); printf "%.3f %.3f\n", b - a, x[1] + x[2] }'
}
read -r ew ec < <(measure "$bin" -q -r "$slice")
read -r tw tc < <(measure tshark -n -r "$slice" -T ek)
awk -v n="$n" -v ew="$ew" -v ec="$ec" -v tw="$tw" -v tc="$tc" 'BEGIN {
	printf "%-14s %10s %10s %14s %16s\n", "", "wall s", "cpu s", "packets/s", "packets/cpu-s"
	printf "%-14s %10.3f %10.3f %14.0f %16.0f\n", "espcap-fast", ew, ec, n / ew, n / ec
	printf "%-14s %10.3f %10.3f %14.0f %16.0f\n", "tshark -T ek", tw, tc, n / tw, n / tc
	printf "espcap-fast is %.0fx faster (wall clock), %.0fx per CPU-second, on %d packets\n", tw / ew, tc / ec, n
}'
