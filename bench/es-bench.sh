#!/usr/bin/env bash
# es-bench.sh - end to end: a large capture into a local Elasticsearch /
# OpenSearch, espcap-fast against `tshark -T ek` piped to the _bulk API.
#
#   bench/es-bench.sh [-p PCAP] [-n PACKETS] [-u URL] [-c CHUNK] [-k]
#
#   -p  capture to load (default: /tmp/espcap-es-bench-<N>.pcap, built once with
#       ../shared/tools/make-bench-pcap.sh -n N beside the checkout, or bench/make-bench.sh)
#   -n  packets for the default capture (default 200000)
#   -u  server URL (default $ESPCAP_ES_URL, else http://127.0.0.1:9200; start one
#       with scripts/es-server.sh start [--port N])
#   -c  documents per bulk request for both loaders (default 1000)
#   -k  keep the benchmark indices (default: deleted at the end)
#
# For each loader it reports wall time, documents in the index, docs/s, the
# loader's CPU seconds (user+sys, from /usr/bin/time; for tshark the tshark
# process and the bulk helper separately) and the server's CPU seconds (the
# java process listening on the URL's port, from /proc/<pid>/stat before and
# after; the indices are refreshed before the second reading so that the
# server's work is counted in full).
#
# The tshark side: `tshark -T ek -r PCAP` writes {"index":{"_index":...,
# "_type":"doc"}} action lines; a small Python helper drops "_type" (removed
# in Elasticsearch 8), renames the index to the benchmark prefix and posts
# chunks of CHUNK documents to _bulk with two requests in flight (as
# espcap-fast's default --indexers 2), gzip off. The tshark indices get a
# template with only a total-fields limit of 20000 (tshark's EK output has
# thousands of distinct fields; the default 1000 would reject documents) and
# the server's default dynamic mapping; espcap-fast installs its own
# template as it always does. tshark 4.0 repeats keys inside EK objects
# (e.g. eth_eth_addr), which Elasticsearch rejects as duplicate fields; the
# helper merges them into arrays, and that JSON round trip is part of the
# helper's CPU time.
set -euo pipefail
cd "$(dirname "$0")/.."

pcap="" n=200000 url=${ESPCAP_ES_URL:-http://127.0.0.1:9200} chunk=1000 keep=0
while getopts "p:n:u:c:kh" o; do
	case $o in
	p) pcap=$OPTARG ;;
	n) n=$OPTARG ;;
	u) url=${OPTARG%/} ;;
	c) chunk=$OPTARG ;;
	k) keep=1 ;;
	*) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
command -v tshark >/dev/null || { echo "es-bench: tshark not found" >&2; exit 1; }
command -v python3 >/dev/null || { echo "es-bench: python3 not found" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "es-bench: /usr/bin/time not found (apt-get install time)" >&2; exit 1; }
curl -fsS -m 3 "$url/_cluster/health" >/dev/null || { echo "es-bench: no server at $url" >&2; exit 1; }

if [ -z "$pcap" ]; then
	pcap=/tmp/espcap-es-bench-$n.pcap
	if [ ! -s "$pcap" ]; then
		if [ -r "../shared/tools/make-bench-pcap.sh" ]; then
			bash "../shared/tools/make-bench-pcap.sh" -n "$n" -o "$pcap" -s "../shared/pcaps" >&2
		else
			bench/make-bench.sh -n "$n" -o "$pcap" >&2
		fi
	fi
fi
packets=$(capinfos -Mc "$pcap" 2>/dev/null | awk -F': *' '/Number of packets/ {print $2}')

port=${url##*:}
port=${port%%/*}
spid=$(ss -ltnpH "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 || true)
[ -n "$spid" ] || { echo "es-bench: cannot find the server process on port $port (run as the server's user or root)" >&2; exit 1; }
tck=$(getconf CLK_TCK)
server_cpu() { awk -v t="$tck" '{printf "%.2f", ($14+$15)/t}' "/proc/$spid/stat"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run=$$
ep=bench-espcap-$run-
tp=bench-tshark-$run-
cleanup_indices() {
	[ "$keep" = 1 ] && return 0
	curl -fsS -m 60 -XDELETE "$url/$ep*,$tp*" >/dev/null || true
	curl -fsS -m 10 -XDELETE "$url/_index_template/espcap-fast-bench-espcap-$run,bench-tshark-$run" >/dev/null 2>&1 || true
}
trap 'cleanup_indices; rm -rf "$work"' EXIT

go build -o "$work/espcap-fast" ./cmd/espcap-fast

count() {
	curl -fsS -m 60 -XPOST "$url/$1*/_refresh" >/dev/null
	curl -fsS -m 60 "$url/$1*/_count" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])'
}

# cpu FILE: user+sys seconds from /usr/bin/time -f "%e %U %S".
cpu() { awk '{printf "%.2f", $2+$3}' "$1"; }
wall() { awk '{printf "%.2f", $1}' "$1"; }

echo "es-bench: $pcap ($packets packets) into $url, chunk $chunk" >&2

# --- espcap-fast ---
s0=$(server_cpu)
/usr/bin/time -f "%e %U %S" -o "$work/t.espcap" "$work/espcap-fast" -q --file "$pcap" --node "$url" \
	--index-prefix "$ep" --chunk "$chunk" --dead-letter "$work/dead.ndjson" || echo "es-bench: espcap-fast exited non-zero" >&2
e_docs=$(count "$ep")
s1=$(server_cpu)

# --- tshark -T ek | _bulk ---
cat >"$work/bulk.py" <<'EOF'
import concurrent.futures, json, sys, urllib.error, urllib.request
url, prefix, chunk = sys.argv[1], sys.argv[2], int(sys.argv[3])
errors = 0
def post(body):
    # Retries 429/5xx answers, whole requests and single items, as a fair
    # loader must (espcap-fast does the same); other item errors are counted.
    import time
    lines = body.splitlines(keepends=True)
    for attempt in range(100):
        req = urllib.request.Request(url + "/_bulk?filter_path=errors,items.*.status,items.*.error.type", data=b"".join(lines),
                                     headers={"Content-Type": "application/x-ndjson"})
        try:
            with urllib.request.urlopen(req, timeout=300) as r:
                res = json.loads(r.read())
        except urllib.error.HTTPError as e:
            if e.code == 429 or e.code >= 500:
                time.sleep(min(30, 0.1 * 2 ** attempt))
                continue
            raise
        if not res.get("errors"):
            return 0
        retry, bad = [], 0
        for i, it in enumerate(res["items"]):
            st = list(it.values())[0]["status"]
            if st == 429 or st >= 500:
                retry += lines[2 * i:2 * i + 2]
            elif st >= 300:
                bad += 1
        if not retry:
            return bad
        lines = retry
        time.sleep(min(30, 0.1 * 2 ** attempt))
    raise SystemExit("bulk: giving up after 100 attempts")
def merge(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            if not isinstance(d[k], list) or not d.get("__multi_" + k):
                d[k] = [d[k]]
                d["__multi_" + k] = True
            d[k].append(v)
        else:
            d[k] = v
    return {k: v for k, v in d.items() if not k.startswith("__multi_")}
pool = concurrent.futures.ThreadPoolExecutor(2)
pending, buf, n = [], [], 0
for line in sys.stdin.buffer:
    if line.startswith(b'{"index"'):
        a = json.loads(line)
        idx = a["index"]["_index"]
        # packets-YYYY-MM-DD -> <prefix>YYYY-MM-DD; drop _type
        line = json.dumps({"index": {"_index": prefix + idx.split("-", 1)[-1]}}).encode() + b"\n"
        buf.append(line)
        continue
    # tshark 4.0's EK output repeats keys within an object (e.g.
    # eth_eth_addr); Elasticsearch rejects such documents, so the helper
    # merges repeated keys into arrays (its CPU is reported separately).
    buf.append(json.dumps(json.loads(line, object_pairs_hook=merge), separators=(",", ":")).encode() + b"\n")
    n += 1
    if n == chunk:
        pending.append(pool.submit(post, b"".join(buf)))
        buf, n = [], 0
        while len(pending) >= 2:
            errors += pending.pop(0).result()
if buf:
    pending.append(pool.submit(post, b"".join(buf)))
for f in pending:
    errors += f.result()
print(errors, file=open(sys.argv[4], "w"))
EOF
curl -fsS -m 10 -XPUT "$url/_index_template/bench-tshark-$run" -H 'Content-Type: application/json' \
	-d "{\"index_patterns\":[\"$tp*\"],\"priority\":500,\"template\":{\"settings\":{\"index.mapping.total_fields.limit\":20000,\"index.number_of_shards\":1,\"index.number_of_replicas\":0,\"index.refresh_interval\":\"5s\"}}}" >/dev/null
s2=$(server_cpu)
start=$(date +%s.%N)
/usr/bin/time -f "%e %U %S" -o "$work/t.tshark" tshark -T ek -r "$pcap" 2>/dev/null |
	/usr/bin/time -f "%e %U %S" -o "$work/t.helper" python3 "$work/bulk.py" "$url" "$tp" "$chunk" "$work/errors"
end=$(date +%s.%N)
t_docs=$(count "$tp")
s3=$(server_cpu)

e_wall=$(wall "$work/t.espcap")
t_wall=$(python3 -c "print(f'{$end-$start:.2f}')")
report() { # name wall docs client_cpu server_cpu extra
	python3 -c "
name, wall, docs, ccpu, scpu, extra = '$1', $2, $3, $4, $5, '$6'
print(f'{name:<22} {wall:8.2f} s  {docs:>9} docs  {docs/wall:10.0f} docs/s   client CPU {ccpu:7.2f} s  server CPU {scpu:7.2f} s  {extra}')"
}
echo "loader                     wall          docs        rate"
report espcap-fast "$e_wall" "$e_docs" "$(cpu "$work/t.espcap")" "$(python3 -c "print($s1-$s0)")" "dead-lettered: $(cat "$work/dead.ndjson" 2>/dev/null | wc -l)"
report "tshark -T ek | _bulk" "$t_wall" "$t_docs" "$(python3 -c "print($(cpu "$work/t.tshark")+$(cpu "$work/t.helper"))")" "$(python3 -c "print($s3-$s2)")" \
	"(tshark $(cpu "$work/t.tshark") s + helper $(cpu "$work/t.helper") s; rejected items: $(cat "$work/errors" 2>/dev/null || echo ?))"
echo "store size: espcap-fast $(curl -fsS "$url/_cat/indices/$ep*?h=store.size&bytes=mb" | awk '{s+=$1} END {print s}') MB, tshark $(curl -fsS "$url/_cat/indices/$tp*?h=store.size&bytes=mb" | awk '{s+=$1} END {print s}') MB"
