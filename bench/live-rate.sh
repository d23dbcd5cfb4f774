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
# --write-max 2G" for the rate with the pcap store on).
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

bin=$tmp/espcap-fast
(cd "$here/.." && go build -o "$bin" ./cmd/espcap-fast)
total=$(capinfos -T -r -c "$cap" | awk -F'\t' '{print $2}')

printf '%-8s %-10s %12s %12s %10s %12s %10s\n' workers offered replayed kernel drops documents gen-cpu
for w in 1 2; do
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
		"$bin" -i "$out" --workers="$w" ${LIVE_RATE_ARGS:-} >/dev/null 2>"$tmp/err" &
		pid=$!
		sleep 1
		/usr/bin/time -o "$tmp/time" -f '%e %U %S' \
			ip netns exec "$ns" tcpreplay -q -i "$in" "${rate[@]}" "$slice" >"$tmp/replay" 2>&1 || true
		sleep 1
		kill -INT "$pid"
		wait "$pid" || true
		read -r el us sy <"$tmp/time"
		live_figures "$tmp/replay" "$tmp/err"
		docs=$(awk '/documents written/ {for (i = 1; i <= NF; i++) if ($i == "documents") print $(i-1)}' "$tmp/err" | tail -1)
		cpu=$(awk -v e="$el" -v u="$us" -v s="$sy" 'BEGIN { if (e > 0) printf "%.0f%%", 100 * (u + s) / e }')
		printf '%-8s %-10s %12s %12s %10s %12s %10s\n' "$w" "${pps:-$r}" "${sent:-?}" "${kpk:-?}" "${kdr:-?}" "${docs:-?}" "$cpu"
	done
done
