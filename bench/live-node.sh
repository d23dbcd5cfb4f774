#!/usr/bin/env bash
# live-node.sh - live capture into a real cluster: offered rate vs kernel
# drops, spool peak, catch-up time and documents indexed, with the server up
# and with the server stopped for the whole replay (an outage), then started
# again. Replays a capture with tcpreplay onto a veth pair of a network
# namespace made here (never onto a real network) and captures on the other
# end with `espcap-fast -i ... --node ...` (the default spool, in a state
# directory made here). Needs root, iproute2, tcpreplay and Java for the
# server.
#
#   bench/live-node.sh [-p CAPTURE] [-d SECONDS] [-o OUTAGE] [-f FLAVOR] [-P PORT] [-w WORKERS] [RATES...]
#
#   -p  capture to replay (default: a 300,000-packet benchmark capture, bench/make-bench.sh)
#   -d  seconds of replay per run with the server up (default 10; 0: no such runs)
#   -o  seconds of replay per run with the server stopped (default 20; 0: no outage runs)
#   -f  scripts/es-server.sh flavor of the server started here (default es8)
#   -P  its port (default 9230): a server of its own, stopped for the outage runs
#   -w  --workers (default 2)
#   RATES  packets/s for tcpreplay --pps (default 25000 50000 100000 200000 topspeed)
#
# A run replays rate x seconds packets (looping the capture when it is
# shorter; topspeed: the preloaded capture as fast as tcpreplay can, looped
# for the run's seconds with new addresses on each pass), waits until the replay is over, sends
# SIGINT with --flush-timeout 1h and waits for espcap-fast to index
# everything: "catch-up" is the time from the end of the replay to its exit.
# The outage runs stop the server before the replay and start it after it
# (its start time is in the catch-up). Kernel packets and drops are
# espcap-fast's closing kernel statistics; "spool peak" is the largest spool
# size in its progress lines (every 500 ms); "packet-docs" and "flow-docs"
# are the server's _count of the run's packet and flow indices after a
# refresh (with the default --records packets, packet-docs must equal the
# kernel's packet count). $LIVE_NODE_ARGS adds flags to espcap-fast's (e.g.
# "--records flows", "--records both --max-packets-per-flow 10").
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/live-lib.sh
. "$here/live-lib.sh"
cap="" secs=10 outage=20 flavor=es8 port=9230 workers=2
while getopts p:d:o:f:P:w: o; do
	case $o in
	p) cap=$OPTARG ;;
	d) secs=$OPTARG ;;
	o) outage=$OPTARG ;;
	f) flavor=$OPTARG ;;
	P) port=$OPTARG ;;
	w) workers=$OPTARG ;;
	*) sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//; /^set -e/d' >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(25000 50000 100000 200000 topspeed)
[ "$(id -u)" -eq 0 ] || { echo "live-node.sh: needs root (network namespaces, AF_PACKET)" >&2; exit 77; }
for t in ip tcpreplay editcap capinfos mergecap curl; do
	command -v "$t" >/dev/null || { echo "live-node.sh: $t not found (Debian: iproute2, tcpreplay, wireshark-common, curl)" >&2; exit 69; }
done
[ -n "$cap" ] || cap=$("$here/make-bench.sh" 300000 | tail -1)
es="$here/../scripts/es-server.sh"
url=http://127.0.0.1:$port

tmp=$(mktemp -d /var/tmp/live-node.XXXXXX)
ns=espnode$$
out=en$$o
in=en$$i
cleanup() {
	[ -z "${pid:-}" ] || kill -9 "$pid" 2>/dev/null || true
	veth_down "$ns" "$out"
	"$es" stop --flavor "$flavor" --port "$port" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
"$es" start --flavor "$flavor" --port "$port" >&2
veth_up "$ns" "$out" "$in"

bin=$tmp/espcap-fast
(cd "$here/.." && go build -o "$bin" ./cmd/espcap-fast)
total=$(capinfos -T -r -c "$cap" | awk -F'\t' '{print $2}')

# slice N: the first N packets of the capture, the capture looped as needed
slice() {
	local n=$1 f=$tmp/slice.pcap
	if [ "$n" -le "$total" ]; then
		editcap -r -F pcap "$cap" "$f" "1-$n" >/dev/null
	else
		local loops=$(((n + total - 1) / total)) parts=() i
		for ((i = 0; i < loops; i++)); do parts+=("$cap"); done
		mergecap -a -F pcap -w "$tmp/looped.pcap" "${parts[@]}"
		editcap -r -F pcap "$tmp/looped.pcap" "$f" "1-$n" >/dev/null
		rm -f "$tmp/looped.pcap"
	fi
	echo "$f"
}

printf '%-7s %-9s %9s %10s %10s %9s %11s %9s %10s %10s %9s\n' server offered seconds replayed kernel drops spool-peak catch-up packet-docs flow-docs gen-cpu
run=0
runs() { # mode (up|outage) seconds
	local mode=$1 d=$2 r n rate f el us sy sent pps kpk kdr peak t0 t1 prefix fprefix count fcount cpu
	for r in "${rates[@]}"; do
		run=$((run + 1))
		if [ "$r" = topspeed ]; then
			# the whole capture, preloaded and looped for d seconds; each
			# pass rewrites the addresses (--unique-ip), so every pass
			# brings new flows instead of repeating the first pass's
			n=$total
			rate=(--topspeed -K --loop=0 --duration="$d" --unique-ip)
		else
			n=$((r * d))
			rate=(--pps="$r")
		fi
		f=$(slice "$n")
		prefix="live-node-$$-$run-" # unique: a killed run's indices never count
		fprefix="live-flows-$$-$run-"
		rm -rf "$tmp/state"
		# shellcheck disable=SC2086 # LIVE_NODE_ARGS is a list of flags
		"$bin" -i "$out" --workers="$workers" --node "$url" --index-prefix "$prefix" --flow-index-prefix "$fprefix" --state-dir "$tmp/state" \
			--flush-timeout 1h --stats-interval 500ms ${LIVE_NODE_ARGS:-} >/dev/null 2>"$tmp/err" &
		pid=$!
		sleep 1
		[ "$mode" = up ] || "$es" stop --flavor "$flavor" --port "$port" >/dev/null
		/usr/bin/time -o "$tmp/time" -f '%e %U %S' \
			ip netns exec "$ns" tcpreplay -q -i "$in" "${rate[@]}" "$f" >"$tmp/replay" 2>&1 || true
		t0=$(date +%s.%N)
		[ "$mode" = up ] || "$es" start --flavor "$flavor" --port "$port" >/dev/null
		kill -INT "$pid"
		wait "$pid" || true
		t1=$(date +%s.%N)
		pid=
		read -r el us sy <"$tmp/time"
		live_figures "$tmp/replay" "$tmp/err"
		peak=$(grep -o 'spool [0-9]* bytes' "$tmp/err" | awk '$2 > m {m = $2} END {printf "%.0fM", m / 1048576}')
		curl -s -XPOST "$url/$prefix*,$fprefix*/_refresh" >/dev/null
		count=$(curl -s "$url/$prefix*/_count" | sed -n 's/.*"count":\([0-9]*\).*/\1/p')
		fcount=$(curl -s "$url/$fprefix*/_count" | sed -n 's/.*"count":\([0-9]*\).*/\1/p')
		curl -s -XDELETE "$url/$prefix*,$fprefix*" >/dev/null
		cpu=$(awk -v e="$el" -v u="$us" -v s="$sy" 'BEGIN { if (e > 0) printf "%.0f%%", 100 * (u + s) / e }')
		printf '%-7s %-9s %9s %10s %10s %9s %11s %8.0fs %10s %10s %9s\n' "$mode" "${pps:-$r}" "$el" "${sent:-?}" "${kpk:-?}" "${kdr:-?}" "$peak" \
			"$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" "${count:-?}" "${fcount:-?}" "$cpu"
		if [ -n "${LIVE_NODE_KEEP:-}" ]; then cp "$tmp/err" "$LIVE_NODE_KEEP.$run.err"; fi
	done
}
[ "$secs" -eq 0 ] || runs up "$secs"
[ "$outage" -eq 0 ] || runs outage "$outage"
