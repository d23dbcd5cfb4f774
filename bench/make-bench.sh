#!/usr/bin/env bash
# make-bench.sh - build the large benchmark capture from the shared corpus.
#
#   bench/make-bench.sh [PACKETS]     (default 2000000)
#
# Writes bench/bench-PACKETS.pcap (ignored by git) with the shared corpus's
# tools/make-bench-pcap.sh (deterministic: real traffic, each copy with its
# own addresses). Looks for the corpus in ../shared beside the checkout, or
# in ESPCAP_SHARED (the folder that holds pcaps/ and tools/).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
n=${1:-2000000}
shared=${ESPCAP_SHARED_ROOT:-$here/../../shared}
tool=$shared/tools/make-bench-pcap.sh
[ -x "$tool" ] || [ -r "$tool" ] || { echo "make-bench.sh: $tool not found (set ESPCAP_SHARED_ROOT)" >&2; exit 66; }
out=$here/bench-$n.pcap
if [ -s "$out" ]; then
	echo "$out exists" >&2
else
	bash "$tool" -n "$n" -o "$out" -s "$shared/pcaps"
fi
echo "$out"
