#!/usr/bin/env bash
# live-rate.sh - offered rate vs kernel drops vs documents out, for live
# capture: replays a capture with tcpreplay at increasing rates onto a veth
# pair of a network namespace made here (never onto a real network), captures
# on the other end with 1 and 2 workers, and reports the highest rate
# without drops. Needs root, iproute2 and tcpreplay.
#
#   bench/live-rate.sh [CAPTURE] [RATES...]
#
# CAPTURE defaults to a 300,000-packet benchmark capture (make-bench.sh);
# RATES are packets/s for tcpreplay --pps (default: 25000 50000 100000
# 200000 400000 topspeed). Each run replays min(packets, 3 s at the rate)
# packets; topspeed preloads the capture (-K) and sends it three times. The generator's own CPU share (tcpreplay, user+sys over wall) is
# reported: on a 2-core machine the generator and the capture share the
# cores, so the limit found is the machine's, not the engine's alone.
# $LIVE_RATE_ARGS adds flags to espcap-fast's (e.g. "--write /var/tmp/store
# --write-max 2G" for the rate with the pcap store on). espcap-fast's own CPU
# (user+sys, from its start to its exit) per packet the kernel gave it is
# the cap-cpu column, in ns. $LIVE_RATE_BIN runs that binary instead of one
# built from this checkout (to compare two builds); $LIVE_RATE_WORKERS
# lists the worker counts (default "1 2").
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/live-lib.sh
. "$here/live-lib.sh"
cap=${1:-}
shift || true
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(25000 50000 100000 200000 400000 topspeed)
[ "$(id -u)" -eq 0 ] || { echo "live-rate.sh: needs root (network namespaces, AF_PACKET)" >&2; exit 77; }
for t in ip tcpreplay editcap capinfos; do
	command -v "$t" >/dev/null || { echo "live-rate.sh: $t not found (Debian: iproute2, tcpreplay, wireshark-common)" >&2; exit 69; }
done
[ -n "$cap" ] || cap=$("$here/make-bench.sh" 300000 | tail -1)

tmp=$(mktemp -d)
ns=espbench$$
out=eb$$o
in=eb$$i
cleanup() {
	veth_down "$ns" "$out"
	rm -rf "$tmp"
}
trap cleanup EXIT
veth_up "$ns" "$out" "$in"

bin=${LIVE_RATE_BIN:-}
if [ -z "$bin" ]; then
	bin=$tmp/espcap-fast
	(cd "$here/.." && go build -o "$bin" ./cmd/espcap-fast)
fi
total=$(capinfos -T -r -c "$cap" | awk -F'\t' '{print $2}')

printf '%-8s %-10s %12s %12s %10s %12s %10s %8s\n' workers offered replayed kernel drops documents gen-cpu cap-cpu
for w in ${LIVE_RATE_WORKERS:-1 2}; do
	for r in "${rates[@]}"; do
		if [ "$r" = topspeed ]; then
			n=$total
			rate=(--topspeed -K --loop=3) # preloaded, three passes: the fastest this generator goes
		else
			n=$((r * 3))
			[ "$n" -le "$total" ] || n=$total
			rate=(--pps="$r")
		fi
		slice=$tmp/slice.pcap
		editcap -r -F pcap "$cap" "$slice" "1-$n" >/dev/null
		# shellcheck disable=SC2086 # LIVE_RATE_ARGS is a list of flags
		/usr/bin/time -o "$tmp/captime" -f '%U %S' "$bin" -i "$out" --workers="$w" ${LIVE_RATE_ARGS:-} >/dev/null 2>"$tmp/err" &
		pid=$!
		sleep 1
		/usr/bin/time -o "$tmp/time" -f '%e %U %S' \
			ip netns exec "$ns" tcpreplay -q -i "$in" "${rate[@]}" "$slice" >"$tmp/replay" 2>&1 || true
		sleep 1
		pkill -INT -P "$pid" # espcap-fast, the child of time
		wait "$pid" || true
		read -r el us sy <"$tmp/time"
		live_figures "$tmp/replay" "$tmp/err"
		docs=$(awk '/documents written/ {for (i = 1; i <= NF; i++) if ($i == "documents") print $(i-1)}' "$tmp/err" | tail -1)
		cpu=$(awk -v e="$el" -v u="$us" -v s="$sy" 'BEGIN { if (e > 0) printf "%.0f%%", 100 * (u + s) / e }')
		capcpu=$(awk -v k="${kpk:-0}" '{ u = $1; s = $2 } END { if (k > 0) printf "%.0f", (u + s) * 1e9 / k }' "$tmp/captime")
		printf '%-8s %-10s %12s %12s %10s %12s %10s %8s\n' "$w" "${pps:-$r}" "${sent:-?}" "${kpk:-?}" "${kdr:-?}" "${docs:-?}" "$cpu" "${capcpu:-?}"
	done
done
