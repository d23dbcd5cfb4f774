#!/usr/bin/env bash
# es-cost.sh - what one packet document costs the server, for the packet
# template of mappings version 7 (every field indexed; kept in
# cmd/espcap-fast/testdata/template-v7) and today's (bulk/template), side by
# side, on one or more servers.
#
#   bench/es-cost.sh [-p PCAP] [-n PACKETS] [-r ROUNDS] [-u URL]... [-f FLAVOR]... [-q FILE]
#                    [-F] [-V VARIANT]... [-Q]
#
#   -p  capture to import (default: /tmp/espcap-es-bench-<N>.pcap, built once
#       with ../shared/tools/make-bench-pcap.sh, else bench/make-bench.sh)
#   -n  packets imported per round (default 200000)
#   -r  rounds per template, old and new interleaved (default 3)
#   -u  server URL, repeatable (default: $ESPCAP_ES_URL, else http://127.0.0.1:9200)
#   -f  a flavor of scripts/es-server.sh (es8, es9, os2, os3) to start on a port
#       of its own (9221 to 9224), measure and stop; repeatable; with -f and
#       no -u only the flavors are measured
#   -q  the queries (default bench/es-cost-queries.txt, one query_string a line)
#   -F  also today's template with flow records only (--records flows): the
#       server's cost per packet when it gets one document per connection
#   -V  also today's template with a variant, repeatable; a variant is a
#       comma-separated list of levers, all measured in the same interleaved
#       rounds on the same data:
#         gzip=off            espcap-fast --no-gzip
#         chunk=N             espcap-fast --chunk N (documents per request)
#         bulk=SIZE           espcap-fast --bulk-bytes SIZE --chunk 1000000 (the
#                             byte cap alone sizes the requests: 1MiB, 20MiB)
#         refresh=I           index.refresh_interval I (30s; -1: off during the
#                             import, reset to the template's after it)
#         translog=SIZE       index.translog.flush_threshold_size
#         floor=SIZE          index.merge.policy.floor_segment
#         spt=N               index.merge.policy.segments_per_tier
#         codec=C             index.codec (default, best_compression, ...)
#         feed                documents sent by a bench feeder instead of
#                             espcap-fast: the same documents (espcap-fast's
#                             NDJSON of the same packets), ids, index names,
#                             1000 per request, gzip level 1, 2 in flight;
#                             the feeder's bodies are built before the
#                             measurement. Its levers (compare with "feed"):
#         id=auto|short|time  no _id (the server makes time-based ids and
#                             skips the version lookup); a 16-character
#                             base64url id of the same identity (8 bytes of
#                             the file id, 4 of the packet number); or a
#                             22-character one led by the packet's time in
#                             µs (time-ordered, as the server's own ids)
#         fields=lean         the packet's duplicated fields left out (LEAN
#                             below): what a leaner document would cost
#       A variant's rounds report their CPU also as a share of today's; the
#       feeder's levers are to be compared with the "feed" variant
#   -Q  skip the query latencies
#   -P  after the rounds, one more round of v7 and of today with the server's
#       Java Flight Recorder on (jcmd, as the server's user): where its CPU
#       goes, per document, by what the sampled Java threads were doing
#       (gunzip, bulk parsing, document parsing, _id lookup, Lucene
#       indexing, stored fields, translog, merges, refresh/flush: see
#       CATEGORIES), plus the CPU of its GC and JIT threads from
#       /proc/PID/task
#   -W  first one unmeasured round of today's template (the server's JIT
#       warms up; without it the first measured round runs slower)
#
# A round imports the capture's first PACKETS packets with espcap-fast's
# defaults (--chunk 1000, gzip, 2 indexers) into fresh indices: the
# template (v7's, or today's from bulk/template with a variant's settings)
# is installed as an index template of higher priority and the import runs
# with --no-template. Server CPU is user+sys of the server's own process (/proc/PID/stat of
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

pcap="" n=200000 rounds=3 urls=() flavors=() queries=bench/es-cost-queries.txt flows=0 variants=() noq=0 warm=0 prof=0
while getopts "p:n:r:u:f:q:FV:QWPh" o; do
	case $o in
	p) pcap=$OPTARG ;;
	n) n=$OPTARG ;;
	r) rounds=$OPTARG ;;
	u) urls+=("${OPTARG%/}") ;;
	f) flavors+=("$OPTARG") ;;
	q) queries=$OPTARG ;;
	F) flows=1 ;;
	V) variants+=("$OPTARG") ;;
	Q) noq=1 ;;
	W) warm=1 ;;
	P) prof=1 ;;
	*) sed -n '2,79p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
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
	es8) port=9221 ;; es9) port=9222 ;; os2) port=9223 ;; os3) port=9224 ;;
	*) echo "es-cost: unknown flavor $f (es8, es9, os2, os3)" >&2; exit 2 ;;
	esac
	scripts/es-server.sh start --flavor "$f" --port "$port" >&2
	started+=("$f:$port")
	urls+=("$(scripts/es-server.sh url --flavor "$f" --port "$port")")
done

for url in "${urls[@]}"; do
	python3 - "$url" "$work/espcap-fast" "$pcap" "$n" "$rounds" "$queries" cmd/espcap-fast/testdata/template-v7 "$flows" "$noq$warm$prof" "${variants[@]}" <<'EOF'
import base64, calendar, gzip, hashlib, http.client, json, os, re, resource, statistics, subprocess, sys, threading, time, urllib.request, urllib.error

url, binary, pcap, n, rounds, qfile, v7, flows, noq = sys.argv[1:10]
noq, warm, prof = noq[0], noq[1], noq[2]
variants = sys.argv[10:]
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

LEAN = {  # fields=lean: what the packet document repeats (docs/SCHEMA.md)
    "top": ["sniff_timestamp", "sniff_date_utc", "file_name"],  # @timestamp, pcap.file
    "ip": ["src", "dst", "flags_rb", "flags_df", "flags_mf", "dsfield_dscp", "dsfield_ecn"],  # source/destination.ip, flags, dsfield
    "ipv6": ["src", "dst"],
    "tcp": ["srcport", "dstport", "flags_res", "flags_ae", "flags_cwr", "flags_ece", "flags_urg", "flags_ack",
            "flags_push", "flags_reset", "flags_syn", "flags_fin"],  # source/destination.port, flags
    "udp": ["srcport", "dstport"],
}

def template(prefix, tdir, settings_over):
    settings = json.load(open(os.path.join(tdir, "espcap-fast-settings.json")))["template"]["settings"]
    mappings = json.load(open(os.path.join(tdir, "espcap-fast-mappings.json")))["template"]["mappings"]
    if backend == "opensearch":
        settings["index"]["mapping"]["total_fields"].pop("ignore_dynamic_beyond_limit", None)
        for dt in mappings["dynamic_templates"]:
            for body in dt.values():
                if body["mapping"]["type"] == "flattened":
                    body["mapping"]["type"] = "flat_object"
                    body["mapping"].pop("ignore_above", None)
    for k, v in settings_over.items():
        settings["index"][k] = v
    return {"index_patterns": [prefix + "*"], "priority": 900, "template": {"settings": settings, "mappings": mappings}}

def parse_variant(spec):
    v = {"settings": {}, "args": [], "feed": None, "reset": None}
    for lever in filter(None, spec.split(",")):
        k, _, val = lever.partition("=")
        if k == "gzip" and val == "off":
            v["args"].append("--no-gzip")
        elif k == "chunk":
            v["args"] += ["--chunk", val]
        elif k == "bulk":
            v["args"] += ["--bulk-bytes", val, "--chunk", "1000000"]
        elif k == "refresh":
            v["settings"]["refresh_interval"] = val
            if val == "-1":
                v["reset"] = json.load(open("bulk/template/espcap-fast-settings.json"))["template"]["settings"]["index"]["refresh_interval"]
        elif k == "translog":
            v["settings"]["translog.flush_threshold_size"] = val
        elif k == "floor":
            v["settings"]["merge.policy.floor_segment"] = val
        elif k == "spt":
            v["settings"]["merge.policy.segments_per_tier"] = val
        elif k == "codec":
            v["settings"]["codec"] = val
        elif k == "feed":
            v["feed"] = v["feed"] or {"id": "espcap", "fields": "all"}
        elif k in ("id", "fields"):
            v["feed"] = v["feed"] or {"id": "espcap", "fields": "all"}
            if (k, val) not in (("id", "auto"), ("id", "short"), ("id", "time"), ("id", "espcap"), ("fields", "lean"), ("fields", "all")):
                sys.exit(f"es-cost: unknown lever {lever}")
            v["feed"][k] = val
        else:
            sys.exit(f"es-cost: unknown lever {lever} (gzip=off chunk= bulk= refresh= translog= floor= spt= codec= feed id= fields=)")
    if v["feed"] and v["args"]:
        sys.exit(f"es-cost: {spec}: espcap-fast's options do not apply to the feeder")
    return v

# the feeder's documents: espcap-fast's own NDJSON of the same packets, and
# the file id its _ids start with (pipeline.FileID)
ndjson = os.path.join(os.path.dirname(binary), "docs.ndjson")
fid = None
if any(parse_variant(x)["feed"] for x in variants):
    with open(ndjson, "wb") as out:
        subprocess.run([binary, "-q", "--file", pcap, "-c", str(n)], stdout=out, check=True)
    h = hashlib.sha256(str(os.path.getsize(pcap)).encode())
    h.update(open(pcap, "rb").read(64 << 10))
    fid = h.hexdigest()[:20]

def leaves(d):
    if isinstance(d, dict):
        return sum(leaves(x) for x in d.values())
    if isinstance(d, list):
        return sum(leaves(x) for x in d) or 1
    return 1

bodies = {}
def feed_bodies(name, f, prefix):
    """The bulk bodies (gzip level 1) of a feed variant, built once; each
    round writes into the same index names under its own prefix, so the
    index names are substituted at send time."""
    if name in bodies:
        return bodies[name]
    out, cur, nfields, ndocs = [], [], 0, 0
    for line in open(ndjson, "rb"):
        d = json.loads(line)
        ts = d["@timestamp"]
        num = d["frame"]["number"]
        if f["fields"] == "lean":
            for k in LEAN["top"]:
                d.pop(k, None)
            for layer, ks in LEAN.items():
                if layer != "top" and layer in d.get("layers", {}):
                    l = d["layers"][layer]
                    for x in (l if isinstance(l, list) else [l]):  # a list: one per tunnel level
                        for k in ks:
                            x.pop(k, None)
        nfields += leaves(d)
        ndocs += 1
        act = {}
        if f["id"] == "espcap":
            act["_id"] = f"{fid}-{num}"
        elif f["id"] == "short":  # 8 bytes of the file id, 4 of the packet number: 16 chars
            act["_id"] = base64.urlsafe_b64encode(bytes.fromhex(fid)[:8] + num.to_bytes(4, "big")).decode()
        elif f["id"] == "time":  # microseconds since 1970 first (time-ordered), then file and packet number: 22 chars
            us = calendar.timegm(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")) * 1000000 + int(ts[20:-1].ljust(9, "0")[:6])
            act["_id"] = base64.urlsafe_b64encode(us.to_bytes(7, "big") + bytes.fromhex(fid)[:5] + num.to_bytes(4, "big")).decode().rstrip("=")
        # the index name starts with a NUL (which JSON text cannot hold raw),
        # replaced by the round's prefix when sent
        cur.append('{"create":{"_index":"\0' + ts[:10] + '"' + (f',"_id":"{act["_id"]}"' if "_id" in act else "") + "}}\n" + json.dumps(d, separators=(",", ":"), ensure_ascii=False) + "\n")
        if len(cur) == 1000:
            out.append("".join(cur)); cur = []
    if cur:
        out.append("".join(cur))
    bodies[name] = (out, nfields / max(ndocs, 1))
    return bodies[name]

def feed(prefix, out):
    host, port_ = url.split("//", 1)[-1].split("/")[0].rsplit(":", 1)
    todo = list(enumerate(out))
    lock = threading.Lock()
    errs = []
    def worker():
        c = http.client.HTTPConnection(host, int(port_), timeout=600)
        while True:
            with lock:
                if not todo:
                    return
                _, body = todo.pop(0)
            z = gzip.compress(body.replace("\0", prefix).encode(), 1)
            c.request("POST", "/_bulk?filter_path=errors,items.*.error", z,
                      {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"})
            resp = c.getresponse()
            r = json.loads(resp.read())
            if resp.status != 200:
                errs.append(f"HTTP {resp.status}: {json.dumps(r)[:300]}")
            elif r.get("errors"):
                errs.append(json.dumps(r["items"][0])[:300])
    ts = [threading.Thread(target=worker) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errs:
        print(f"es-cost: feeder: {len(errs)} requests with errors, first: {errs[0]}", file=sys.stderr)

prefixes = {"v7 (all indexed)": (f"cost-{run}-old-", None), "today": (f"cost-{run}-new-", parse_variant(""))}
if flows == "1":
    prefixes["today, flows only"] = (f"cost-{run}-flows-", parse_variant(""))
for i, spec in enumerate(variants):
    prefixes["today+" + spec] = (f"cost-{run}-v{i}-", parse_variant(spec))
res = {k: [] for k in prefixes}
codecs = {}

def one_round(name, prefix, var, at_flushed=None):
    call("DELETE", f"/{prefix}*?expand_wildcards=all")
    args = [binary, "-q", "--file", pcap, "-c", str(n), "--node", url, "--index-prefix", prefix,
            "--dead-letter", os.path.join(os.path.dirname(binary), "dead.ndjson"), "--stats-interval", "0", "--no-template"]
    if "flows" in name:
        args[args.index("--index-prefix") + 1] = prefix + "packets-"  # none written: --records flows
        args += ["--records", "flows", "--flow-index-prefix", prefix]
        args.remove("--no-template")
    else:
        st, b = call("PUT", f"/_index_template/{prefix.rstrip('-')}",
                     template(prefix, v7 if var is None else "bulk/template", {} if var is None else var["settings"]))
        if st != 200:
            sys.exit(f"es-cost: {name} template: HTTP {st}: {b}")
        args += var["args"] if var else []
    fields = None
    if var and var["feed"]:
        out, fields = feed_bodies(name, var["feed"], prefix)
    s0 = server_cpu()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    c0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.time()
    if var and var["feed"]:
        feed(prefix, out)
    else:
        p = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            print(f"es-cost: espcap-fast exited {p.returncode}: {p.stderr[-500:]}", file=sys.stderr)
    wall = time.time() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    c1 = resource.getrusage(resource.RUSAGE_SELF)
    if var and var["reset"]:
        call("PUT", f"/{prefix}*/_settings", {"index": {"refresh_interval": var["reset"]}})
    call("POST", f"/{prefix}*/_refresh")
    call("POST", f"/{prefix}*/_flush")
    s1 = server_cpu()
    if at_flushed:
        at_flushed()
    docs = call("GET", f"/{prefix}*/_count")[1]["count"]
    call("POST", f"/{prefix}*/_forcemerge?max_num_segments=1", timeout=3600)
    s2 = server_cpu()
    store = call("GET", f"/{prefix}*/_stats/store")[1]["_all"]["primaries"]["store"]["size_in_bytes"]
    if name not in codecs:  # what the stored fields are compressed with
        st, seg = call("GET", f"/{prefix}*/_segments")
        attrs = set()
        for ix in (seg or {}).get("indices", {}).values():
            for shards in ix["shards"].values():
                for sh in shards:
                    for sg in sh["segments"].values():
                        attrs |= {f"{k}={v}" for k, v in (sg.get("attributes") or {}).items()}
        codecs[name] = ", ".join(sorted(attrs)) or "?"
    client = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime) if var and var["feed"] else \
        (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    res[name].append({"docs": docs, "server": s1 - s0, "merge": s2 - s1, "wall": wall, "fields": fields,
                      "client": client, "bytes": store})
    print(f"  {name:<28} round {len(res[name])}: {docs} docs, server {s1 - s0:.2f} s CPU, wall {wall:.1f} s", file=sys.stderr)


# -P: what the server's threads do. A sampled stack is put in the first
# category of CATEGORIES one of whose patterns is in one of its frames;
# "other" is everything else (HTTP, netty, scheduling, ...).
CATEGORIES = [  # in this order: the first whose pattern is in any frame of the stack
    ("gunzip (request body)", ("java.util.zip.Inflater", "java.util.zip.GZIPInputStream", "compression.JdkZlibDecoder", "compression.ZlibDecoder", "HttpContentDecompressor")),
    ("_id lookup/version map", ("VersionsAndSeqNoResolver", "PerThreadIDVersionAndSeqNoLookup", "LiveVersionMap", "resolveDocVersion", "loadCurrentVersionFromIndex")),
    ("translog", (".translog.",)),
    ("merge", ("SegmentMerger", "IndexWriter.merge", "MergeScheduler", "MergeThread")),
    ("refresh/flush (segments)", ("DocumentsWriterPerThread.flush", "IndexWriter.getReader", "DocumentsWriter.flush", "FrozenBufferedUpdates", "IndexWriter.commit", "IndexWriter.publishFlushedSegment", "ReaderPool")),
    ("stored fields (_source) while indexing", ("StoredFieldsWriter", "StoredFieldsConsumer")),
    ("Lucene indexing (terms, points, doc values)", ("org.apache.lucene.index.IndexingChain", "org.apache.lucene.index.DefaultIndexingChain", "org.apache.lucene.index.DocumentsWriterPerThread", "org.apache.lucene.index.TermsHash", "org.apache.lucene.index.FreqProxTermsWriter", "IndexWriter.addDocument", "IndexWriter.updateDocument", "IndexWriter.softUpdateDocument")),
    ("bulk request parsing", ("BulkRequestParser", "BulkRequest.add")),
    ("document parsing/mapping", ("index.mapper.", "xcontent.", "jackson")),
]

def profile_round(name, prefix, var):
    import pwd
    user = pwd.getpwuid(os.stat(f"/proc/{pid}").st_uid).pw_name
    jcmd = os.path.join(os.path.dirname(os.path.realpath(f"/proc/{pid}/exe")), "jcmd")
    jfrbin = os.path.join(os.path.dirname(jcmd), "jfr")
    asuser = [] if user == pwd.getpwuid(os.getuid()).pw_name else ["runuser", "-u", user, "--"]
    rec = f"/tmp/es-cost-{run}.jfr"
    def tasks():
        out = {}
        for t in os.listdir(f"/proc/{pid}/task"):
            try:
                comm = open(f"/proc/{pid}/task/{t}/comm").read().strip()
                f = open(f"/proc/{pid}/task/{t}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            g = "GC" if re.match(r"(GC Thread|G1 |GC |Parallel GC)", comm) else "JIT" if "Compiler" in comm else "java" if comm[:1].islower() else "other native"
            out[g] = out.get(g, 0) + (int(f[11]) + int(f[12])) / tck
        return out
    subprocess.run(asuser + [jcmd, pid, "JFR.start", "name=escost", "settings=profile", f"filename={rec}"], capture_output=True, check=True)
    t0, t1 = tasks(), {}
    def stop():  # the window of the CPU measured: import, refresh, flush
        t1.update(tasks())
        subprocess.run(asuser + [jcmd, pid, "JFR.stop", "name=escost"], capture_output=True, check=True)
    one_round(name, prefix, var, stop)
    r = res[name].pop()  # not one of the measured rounds
    txt = subprocess.run([jfrbin, "print", "--events", "jdk.ExecutionSample", "--stack-depth", "200", rec], capture_output=True, text=True).stdout
    os.remove(rec)
    counts, total = {}, 0
    for ev in txt.split("jdk.ExecutionSample")[1:]:
        frames = [l.strip() for l in ev.splitlines() if "line:" in l]
        stack = "\n".join(frames)
        cat = next((c for c, pats in CATEGORIES if any(p in stack for p in pats)), "other")
        counts[cat] = counts.get(cat, 0) + 1
        total += 1
    docs = r["docs"] or 1
    threads = {g: t1.get(g, 0) - t0.get(g, 0) for g in t1}
    return {"docs": docs, "server": r["server"], "samples": total, "share": {c: k / max(total, 1) for c, k in counts.items()}, "threads": threads}

print(f"es-cost: {pcap} (first {n} packets) into {backend} {version} at {url}, {rounds} rounds", file=sys.stderr)
try:
    if warm == "1":
        one_round("today", prefixes["today"][0], prefixes["today"][1])
        res["today"].clear()
        codecs.clear()
    for i in range(rounds):
        order = list(prefixes.items())
        if i % 2:
            order.reverse()
        for name, (prefix, var) in order:
            one_round(name, prefix, var)

    profiles = {}
    if prof == "1":
        for name in list(prefixes)[:2]:
            profiles[name] = profile_round(name, *prefixes[name])

    med = lambda name, key: statistics.median(r[key] for r in res[name])
    w = max(len(x) for x in prefixes) + 1
    print(f"\n{backend} {version} ({url}), {n} packets, median of {rounds} rounds (min-max of server CPU µs/packet)")
    print(f"{'variant':<{w}} {'docs':>7} {'µs/doc':>7} {'µs/packet':>9} {'spread':>11} {'docs/s':>7} {'client s':>8} {'merge s':>7} {'B/doc':>6} {'B/packet':>8} {'fields':>6}")
    base = {}
    for name in prefixes:
        docs = med(name, "docs")
        row = {"cpu": med(name, "server") / n * 1e6, "bytes": med(name, "bytes") / n}
        base.setdefault("cpu", row["cpu"]); base.setdefault("bytes", row["bytes"])
        if name == "today":
            base["today"] = row["cpu"]
        lo, hi = min(r["server"] for r in res[name]) / n * 1e6, max(r["server"] for r in res[name]) / n * 1e6
        fl = res[name][0]["fields"]
        print(f"{name:<{w}} {docs:>7.0f} {med(name, 'server') / docs * 1e6:>7.1f} {row['cpu']:>9.1f} {f'{lo:.0f}-{hi:.0f}':>11} "
              f"{docs / med(name, 'wall'):>7.0f} {med(name, 'client'):>8.2f} {med(name, 'merge'):>7.2f} {med(name, 'bytes') / docs:>6.0f} {row['bytes']:>8.0f} {'' if fl is None else f'{fl:.1f}':>6}"
              + ("" if name.startswith("v7") else f"   {row['cpu'] / base['cpu']:.0%} of v7's CPU, {row['bytes'] / base['bytes']:.0%} of its bytes"
                 + ("" if name == "today" else f"; {row['cpu'] / base['today']:.0%} of today's CPU")))
    if profiles:
        names = list(profiles)
        print(f"\nwhere the server's CPU goes (-P: one more round each, JFR; µs per document)")
        print(f"{'':<44}" + "".join(f"{x[:18]:>20}" for x in names))
        for g in ("java", "GC", "JIT", "other native"):
            print(f"{'threads: ' + g:<44}" + "".join(f"{profiles[x]['threads'].get(g, 0) / profiles[x]['docs'] * 1e6:>20.1f}" for x in names))
        print(f"{'java threads, by sampled activity:':<44}" + "".join(f"{profiles[x]['samples']:>12} samples" for x in names))
        cats = [c for c, _ in CATEGORIES] + ["other"]
        for c in cats:
            print(f"{'  ' + c:<44}" + "".join(f"{profiles[x]['share'].get(c, 0) * profiles[x]['threads'].get('java', 0) / profiles[x]['docs'] * 1e6:>13.1f} ({profiles[x]['share'].get(c, 0):>4.0%})" for x in names))
    print("\nstored fields codec after the force-merge:")
    for name, c in codecs.items():
        print(f"  {name:<{w}} {c}")

    qs = [] if noq == "1" else [l.strip() for l in open(qfile) if l.strip() and not l.startswith("#")]
    if qs:
        print(f"\n{'query':<70} {'v7 ms':>6} {'today ms':>8} {'hits v7':>8} {'hits today':>10}")
    for q in qs:
        out = []
        for prefix, _ in list(prefixes.values())[:2]:
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
    for name, (prefix, _) in prefixes.items():
        call("DELETE", f"/{prefix}*?expand_wildcards=all")
        call("DELETE", f"/_index_template/{prefix.rstrip('-')}")
        call("DELETE", f"/_index_template/espcap-fast-{prefix.rstrip('-')}")
EOF
done
