#!/usr/bin/env bash
# es-cost.sh - what one packet document costs the server, for the packet
# template of mappings version 7 (every field indexed; kept in
# cmd/espcap-fast/testdata/template-v7) and today's (bulk/template), side by
# side, on one or more servers.
#
#   bench/es-cost.sh [-p PCAP] [-n PACKETS] [-r ROUNDS] [-u URL]... [-f FLAVOR]... [-q FILE]
#
#   -p  capture to import (default: /tmp/espcap-es-bench-<N>.pcap, built once
#       with ../shared/tools/make-bench-pcap.sh, else bench/make-bench.sh)
#   -n  packets imported per round (default 200000)
#   -r  rounds per template, old and new interleaved (default 3)
#   -u  server URL, repeatable (default: $ESPCAP_ES_URL, else http://127.0.0.1:9200)
#   -f  a flavor of scripts/es-server.sh (es8, es9, os2) to start on a port of
#       its own (9221, 9222, 9223), measure and stop; repeatable; with -f and
#       no -u only the flavors are measured
#   -q  the queries (default bench/es-cost-queries.txt, one query_string a line)
#   -F  also today's template with flow records only (--records flows): the
#       server's cost per packet when it gets one document per connection
#
# A round imports the capture's first PACKETS packets with espcap-fast's
# defaults (--chunk 1000, gzip, 2 indexers) into fresh indices: the old
# template is installed as an index template of higher priority and the
# import runs with --no-template; the new one is installed as every import
# does. Server CPU is user+sys of the server's own process (/proc/PID/stat of
# the java listening on the URL's port) from just before the import to after
# its refresh and a flush: index creation, mapping updates, refreshes and
# the merges that ran meanwhile are in it. Then the indices are force-merged
# to one segment (its CPU is reported apart) and the primaries' store size
# divided by the documents gives bytes per packet. After the last round
# every query runs 5 times on each template's indices (request cache off);
# its median `took` and its hit count are reported, and a query whose hits
# differ between the templates is marked DIFF (TestTemplateHitSets checks the
# hit sets themselves).
#
# Each figure is the median over the rounds. The server process's CPU time
# is counted whatever else runs, but a loaded machine still inflates it
# (caches, JIT, GC): compare the two templates of one run, not runs of
# different days.
set -euo pipefail
cd "$(dirname "$0")/.."

pcap="" n=200000 rounds=3 urls=() flavors=() queries=bench/es-cost-queries.txt flows=0
while getopts "p:n:r:u:f:q:Fh" o; do
	case $o in
	p) pcap=$OPTARG ;;
	n) n=$OPTARG ;;
	r) rounds=$OPTARG ;;
	u) urls+=("${OPTARG%/}") ;;
	f) flavors+=("$OPTARG") ;;
	q) queries=$OPTARG ;;
	F) flows=1 ;;
	*) sed -n '2,43p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
command -v python3 >/dev/null || { echo "es-cost: python3 not found" >&2; exit 1; }
if [ ${#urls[@]} -eq 0 ] && [ ${#flavors[@]} -eq 0 ]; then
	urls=("${ESPCAP_ES_URL:-http://127.0.0.1:9200}")
fi

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
[ -r "$pcap" ] || { echo "es-cost: cannot read $pcap" >&2; exit 1; }

work=$(mktemp -d)
started=()
cleanup() {
	for fp in "${started[@]}"; do
		scripts/es-server.sh stop --flavor "${fp%%:*}" --port "${fp##*:}" >/dev/null 2>&1 || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/espcap-fast" ./cmd/espcap-fast

for f in "${flavors[@]}"; do
	case $f in
	es8) port=9221 ;; es9) port=9222 ;; os2) port=9223 ;;
	*) echo "es-cost: unknown flavor $f (es8, es9, os2)" >&2; exit 2 ;;
	esac
	scripts/es-server.sh start --flavor "$f" --port "$port" >&2
	started+=("$f:$port")
	urls+=("$(scripts/es-server.sh url --flavor "$f" --port "$port")")
done

for url in "${urls[@]}"; do
	python3 - "$url" "$work/espcap-fast" "$pcap" "$n" "$rounds" "$queries" cmd/espcap-fast/testdata/template-v7 "$flows" <<'EOF'
import json, os, re, resource, statistics, subprocess, sys, time, urllib.request, urllib.error

url, binary, pcap, n, rounds, qfile, v7, flows = sys.argv[1:9]
n, rounds = int(n), int(rounds)
run = str(os.getpid())

def call(method, path, body=None, timeout=600):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")

st, info = call("GET", "/")
if st == 200 and isinstance(info, dict) and "version" in info:
    backend = "opensearch" if info["version"].get("distribution") == "opensearch" else "elasticsearch"
    version = info["version"]["number"]
else:  # the Elasticsearch integ-test distribution has no GET / (405)
    backend = "elasticsearch"
    version = next(iter(call("GET", "/_nodes/_local?filter_path=nodes.*.version")[1]["nodes"].values()))["version"]
port = re.search(r":(\d+)$", url.split("//", 1)[-1].split("/")[0])
port = port.group(1) if port else "9200"
pid = None
for line in subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True).stdout.splitlines():
    m = re.search(r"pid=(\d+)", line)
    if m:
        pid = m.group(1)
        break
if not pid:
    sys.exit(f"es-cost: cannot find the process listening on port {port} (run as its user or root)")
tck = os.sysconf("SC_CLK_TCK")

def server_cpu():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / tck

def old_template(prefix):
    settings = json.load(open(os.path.join(v7, "espcap-fast-settings.json")))["template"]["settings"]
    mappings = json.load(open(os.path.join(v7, "espcap-fast-mappings.json")))["template"]["mappings"]
    if backend == "opensearch":
        settings["index"]["mapping"]["total_fields"].pop("ignore_dynamic_beyond_limit", None)
        for dt in mappings["dynamic_templates"]:
            for body in dt.values():
                if body["mapping"]["type"] == "flattened":
                    body["mapping"]["type"] = "flat_object"
                    body["mapping"].pop("ignore_above", None)
    return {"index_patterns": [prefix + "*"], "priority": 900, "template": {"settings": settings, "mappings": mappings}}

prefixes = {"v7 (all indexed)": f"cost-{run}-old-", "today": f"cost-{run}-new-"}
if flows == "1":
    prefixes["today, flows only"] = f"cost-{run}-flows-"
res = {k: [] for k in prefixes}

def one_round(name, prefix):
    call("DELETE", f"/{prefix}*?expand_wildcards=all")
    args = [binary, "-q", "--file", pcap, "-c", str(n), "--node", url, "--index-prefix", prefix,
            "--dead-letter", os.path.join(os.path.dirname(binary), "dead.ndjson"), "--stats-interval", "0"]
    if "flows" in name:
        args[args.index("--index-prefix") + 1] = prefix + "packets-"  # none written: --records flows
        args += ["--records", "flows", "--flow-index-prefix", prefix]
    if name.startswith("v7"):
        st, b = call("PUT", f"/_index_template/{prefix.rstrip('-')}", old_template(prefix))
        if st != 200:
            sys.exit(f"es-cost: old template: HTTP {st}: {b}")
        args.append("--no-template")
    s0 = server_cpu()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    p = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.time() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        print(f"es-cost: espcap-fast exited {p.returncode}: {p.stderr[-500:]}", file=sys.stderr)
    call("POST", f"/{prefix}*/_refresh")
    call("POST", f"/{prefix}*/_flush")
    s1 = server_cpu()
    docs = call("GET", f"/{prefix}*/_count")[1]["count"]
    call("POST", f"/{prefix}*/_forcemerge?max_num_segments=1", timeout=3600)
    s2 = server_cpu()
    store = call("GET", f"/{prefix}*/_stats/store")[1]["_all"]["primaries"]["store"]["size_in_bytes"]
    res[name].append({"docs": docs, "server": s1 - s0, "merge": s2 - s1, "wall": wall,
                      "client": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), "bytes": store})
    print(f"  {name:<17} round {len(res[name])}: {docs} docs, server {s1 - s0:.2f} s CPU, wall {wall:.1f} s", file=sys.stderr)

print(f"es-cost: {pcap} (first {n} packets) into {backend} {version} at {url}, {rounds} rounds", file=sys.stderr)
try:
    for i in range(rounds):
        order = list(prefixes.items())
        if i % 2:
            order.reverse()
        for name, prefix in order:
            one_round(name, prefix)

    med = lambda name, key: statistics.median(r[key] for r in res[name])
    print(f"\n{backend} {version} ({url}), {n} packets, median of {rounds} rounds")
    print(f"{'template':<18} {'docs':>8} {'server CPU s/100k docs':>22} {'µs/doc':>8} {'µs/packet':>9} {'docs/s':>8} {'client CPU s':>13} {'merge CPU s':>12} {'bytes/doc':>10} {'bytes/packet':>12}")
    base = {}
    for name in prefixes:
        docs = med(name, "docs")
        row = {"cpu": med(name, "server") / n * 1e6, "bytes": med(name, "bytes") / n}
        base.setdefault("cpu", row["cpu"]); base.setdefault("bytes", row["bytes"])
        print(f"{name:<18} {docs:>8.0f} {med(name, 'server') / docs * 1e5:>22.2f} {med(name, 'server') / docs * 1e6:>8.1f} {row['cpu']:>9.1f} "
              f"{docs / med(name, 'wall'):>8.0f} {med(name, 'client'):>13.2f} {med(name, 'merge'):>12.2f} {med(name, 'bytes') / docs:>10.0f} {row['bytes']:>12.0f}"
              + ("" if name.startswith("v7") else f"   (per packet: {row['cpu'] / base['cpu']:.0%} of v7's CPU, {row['bytes'] / base['bytes']:.0%} of its bytes)"))

    qs = [l.strip() for l in open(qfile) if l.strip() and not l.startswith("#")]
    print(f"\n{'query':<70} {'v7 ms':>6} {'today ms':>8} {'hits v7':>8} {'hits today':>10}")
    for q in qs:
        out = []
        for prefix in list(prefixes.values())[:2]:
            body = {"size": 0, "track_total_hits": True, "query": {"query_string": {"query": q}}}
            took, hits = [], None
            for _ in range(5):
                st, r = call("POST", f"/{prefix}*/_search?request_cache=false", body)
                if st != 200:
                    hits = f"HTTP {st}"
                    break
                took.append(r["took"])
                hits = r["hits"]["total"]["value"]
            out.append((statistics.median(took) if took else float("nan"), hits))
        mark = "" if out[0][1] == out[1][1] else "  DIFF"
        print(f"{q[:70]:<70} {out[0][0]:>6.0f} {out[1][0]:>8.0f} {out[0][1]!s:>8} {out[1][1]!s:>10}{mark}")
finally:
    for prefix in prefixes.values():
        call("DELETE", f"/{prefix}*?expand_wildcards=all")
    call("DELETE", f"/_index_template/{prefixes['v7 (all indexed)'].rstrip('-')}")
    for name, prefix in prefixes.items():
        if not name.startswith("v7"):
            call("DELETE", f"/_index_template/espcap-fast-{prefix.rstrip('-')}")
EOF
done
