#!/usr/bin/env bash
# engine-tshark.sh - packets/s of `espcap-fast --engine tshark` against the
# native engine and against plain `tshark -T ek > /dev/null` (with the same
# dissection options) on the same capture, and the wrapper's cost.
#
#   bench/engine-tshark.sh [CAPTURE] [PACKETS]
#
# CAPTURE defaults to a PACKETS-packet (default 20000) capture made by
# the shared corpus's tools/make-bench-pcap.sh (../shared beside the checkout) or
# bench/make-bench.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cap=${1:-}
n=${2:-20000}
command -v tshark >/dev/null || { echo "engine-tshark.sh: tshark not found (apt-get install tshark)" >&2; exit 69; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -z "$cap" ]; then
	cap=$tmp/bench.pcap
	tool=$here/../../shared/tools/make-bench-pcap.sh
	if [ -r "$tool" ]; then
		bash "$tool" -n "$n" -o "$cap" -s "$here/../../shared/pcaps" >/dev/null
	else
		editcap -r -F pcap "$("$here/make-bench.sh" "$n" | tail -1)" "$cap" "1-$n"
	fi
fi
bin=$tmp/espcap-fast
(cd "$here/.." && go build -o "$bin" ./cmd/espcap-fast)
pk=$(capinfos -c -M "$cap" 2>/dev/null | awk '/Number of packets/ {print $NF}')

# measure CMD...: prints "wall cpu" in seconds
measure() {
	local t0 t1 c
	t0=$(date +%s.%N)
	/usr/bin/time -o "$tmp/time" -f '%U %S' "$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
	c=$(tail -1 "$tmp/time")
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" -v c="$c" 'BEGIN { split(c, x, " "); printf "%.3f %.3f\n", b - a, x[1] + x[2] }'
}
read -r nw nc < <(measure "$bin" -q -r "$cap")
read -r ew ec < <(measure "$bin" -q --engine tshark -r "$cap")
read -r tw tc < <(measure tshark -n -o tcp.desegment_tcp_streams:FALSE -o ip.defragment:FALSE \
	-o ipv6.defragment:FALSE -o tcp.analyze_sequence_numbers:FALSE -T ek -r "$cap")
awk -v n="$pk" -v nw="$nw" -v nc="$nc" -v ew="$ew" -v ec="$ec" -v tw="$tw" -v tc="$tc" 'BEGIN {
	printf "%d packets\n", n
	printf "%-28s %8s %8s %12s %14s\n", "", "wall s", "cpu s", "packets/s", "packets/cpu-s"
	printf "%-28s %8.2f %8.2f %12.0f %14.0f\n", "espcap-fast (native)", nw, nc, n / nw, n / nc
	printf "%-28s %8.2f %8.2f %12.0f %14.0f\n", "espcap-fast --engine tshark", ew, ec, n / ew, n / ec
	printf "%-28s %8.2f %8.2f %12.0f %14.0f\n", "tshark -T ek > /dev/null", tw, tc, n / tw, n / tc
	printf "--engine tshark / plain tshark: %.2f x wall time, %.2f x CPU time\n", ew / tw, ec / tc
	printf "native / --engine tshark:       %.1f x faster (wall)\n", ew / nw
}'
