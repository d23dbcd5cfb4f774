package main

// Integration tests of --node, template and query against a real server at
// ESPCAP_ES_URL (default http://127.0.0.1:9200; scripts/test.sh starts
// one). They skip when none answers, except under CI (env CI set), where
// they fail.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/espcap/espcap-fast/bulk"
	"github.com/espcap/espcap-fast/internal/estest"
)

const dnsSample = "../../testdata/pcaps/seed_test_dns.pcap"

func esCall(t *testing.T, base, method, path string, body []byte) (int, []byte) {
	t.Helper()
	return estest.Server{URL: base}.Call(t, method, path, body)
}

var testRun = fmt.Sprintf("%d%03d", os.Getpid()%100000, time.Now().UnixNano()/1e6%1000)

// testPrefix returns a unique index prefix; its indices and template are
// deleted when the test ends.
func testPrefix(t *testing.T, base, name string) string {
	p := "espcap-it-" + testRun + "-" + name + "-"
	t.Cleanup(func() {
		esCall(t, base, http.MethodDelete, "/"+p+"*?expand_wildcards=all", nil)
		esCall(t, base, http.MethodDelete, "/_index_template/"+bulk.TemplateName(p), nil)
	})
	return p
}

// pkt identifies a packet across runs.
type pkt struct {
	file  string
	frame int
}

type docT = map[string]any

func get(d docT, path string) []any {
	var cur []any = []any{d}
	for _, k := range strings.Split(path, ".") {
		var next []any
		for _, c := range cur {
			m, ok := c.(map[string]any)
			if !ok {
				continue
			}
			switch v := m[k].(type) {
			case nil:
			case []any:
				next = append(next, v...)
			default:
				next = append(next, v)
			}
		}
		cur = next
	}
	return cur
}

func keyOf(d docT) pkt {
	return pkt{filepath.Base(d["file_name"].(string)), int(d["frame"].(map[string]any)["number"].(float64))}
}

func has(d docT, path string, want string) bool {
	for _, v := range get(d, path) {
		if fmt.Sprint(v) == want {
			return true
		}
	}
	return false
}

// mostCommon returns the most frequent value of path among docs.
func mostCommon(docs []docT, path string) string {
	n := map[string]int{}
	for _, d := range docs {
		for _, v := range get(d, path) {
			n[fmt.Sprint(v)]++
		}
	}
	best, bn := "", 0
	for k, c := range n {
		if c > bn || c == bn && k < best {
			best, bn = k, c
		}
	}
	return best
}

func refresh(t *testing.T, base, prefix string) {
	t.Helper()
	estest.Server{URL: base}.Refresh(t, prefix+"*")
}

func countIn(t *testing.T, base, index string) int {
	t.Helper()
	return estest.Server{URL: base}.Count(t, index)
}

// queryKeys runs `espcap-fast query` and returns the packets it prints.
func queryKeys(t *testing.T, base, prefix, q string) []pkt {
	t.Helper()
	out, errs, code := espcap(t, "query", "--node", base, "--index", prefix+"*", "--size", "0", q)
	if code != 0 {
		t.Fatalf("query %q: exit %d: %s", q, code, errs)
	}
	var ks []pkt
	for _, d := range docs(t, out) {
		ks = append(ks, keyOf(d))
	}
	return ks
}

func sortedKeys(ks []pkt) []pkt {
	sort.Slice(ks, func(i, j int) bool {
		if ks[i].file != ks[j].file {
			return ks[i].file < ks[j].file
		}
		return ks[i].frame < ks[j].frame
	})
	return ks
}

func sameKeys(a, b []pkt) bool {
	a, b = sortedKeys(append([]pkt(nil), a...)), sortedKeys(append([]pkt(nil), b...))
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestNodeImport imports the HTTP and DNS samples through the CLI and checks
// counts per daily index, mapped types, queries against the offline NDJSON
// of the same files, and that a second import adds nothing.
func TestNodeImport(t *testing.T) {
	base := estest.URL(t)
	prefix := testPrefix(t, base, "import")
	files := []string{"--file", sample, "--file", dnsSample}
	out, errs, code := espcap(t, append([]string{"-q"}, files...)...)
	if code != 0 {
		t.Fatalf("offline run: exit %d: %s", code, errs)
	}
	want := docs(t, out)
	perDay := map[string]int{}
	for _, d := range want {
		perDay[prefix+d["@timestamp"].(string)[:10]]++
	}
	dl := filepath.Join(t.TempDir(), "dead.ndjson")
	_, errs, code = espcap(t, append([]string{"--node", base, "--index-prefix", prefix, "--chunk", "300", "--dead-letter", dl}, files...)...)
	t.Logf("import:\n%s", errs)
	if code != 0 {
		t.Fatalf("import: exit %d", code)
	}
	if !strings.Contains(errs, fmt.Sprintf("%d docs indexed, 0 duplicates", len(want))) {
		t.Errorf("summary does not say %d docs indexed", len(want))
	}
	if _, err := os.Stat(dl); err == nil {
		t.Errorf("dead-letter file created although nothing was rejected")
	}
	refresh(t, base, prefix)
	st, b := esCall(t, base, http.MethodGet, "/_cat/indices/"+prefix+"*?h=index,docs.count&format=json", nil)
	if st != http.StatusOK {
		t.Fatalf("_cat/indices: %d %s", st, b)
	}
	var cat []struct {
		Index string `json:"index"`
		Count string `json:"docs.count"`
	}
	json.Unmarshal(b, &cat)
	got := map[string]int{}
	for _, c := range cat {
		got[c.Index] = countIn(t, base, c.Index)
	}
	if fmt.Sprint(got) != fmt.Sprint(perDay) {
		t.Errorf("documents per daily index %v, want %v", got, perDay)
	}

	// Types as mapped.
	st, b = esCall(t, base, http.MethodGet, "/"+prefix+"*/_mapping/field/@timestamp,sniff_timestamp,sniff_date_utc,file_date_utc,protocol,frame.protocols,frame.number,source.ip,destination.port,network.transport,layers.ip.src,layers.tcp.seq_raw,layers.tcp.flags_syn,layers.dns.qry_name,layers.dns.a,layers.http.request_uri,layers.eth.src", nil)
	if st != http.StatusOK {
		t.Fatalf("field mapping: %d %s", st, b)
	}
	wantTypes := map[string]string{
		"@timestamp": "date_nanos", "sniff_timestamp": "double", "sniff_date_utc": "date", "file_date_utc": "date",
		"protocol": "keyword", "frame.protocols": "keyword", "frame.number": "long", "source.ip": "ip",
		"destination.port": "long", "network.transport": "keyword", "layers.ip.src": "ip", "layers.tcp.seq_raw": "long",
		"layers.tcp.flags_syn": "boolean", "layers.dns.qry_name": "keyword", "layers.dns.a": "ip",
		"layers.http.request_uri": "keyword", "layers.eth.src": "keyword",
	}
	var fm map[string]struct {
		Mappings map[string]struct {
			Mapping map[string]struct {
				Type string `json:"type"`
			} `json:"mapping"`
		} `json:"mappings"`
	}
	if err := json.Unmarshal(b, &fm); err != nil {
		t.Fatal(err)
	}
	for idx, m := range fm {
		for f, typ := range wantTypes {
			fld, ok := m.Mappings[f]
			if !ok {
				if f == "layers.dns.qry_name" || f == "layers.dns.a" || strings.HasPrefix(f, "layers.http") || f == "layers.tcp.seq_raw" || f == "layers.tcp.flags_syn" {
					continue // the index of a day without such packets still maps it: checked below
				}
				t.Errorf("%s: %s not mapped", idx, f)
				continue
			}
			leaf := f[strings.LastIndex(f, ".")+1:]
			if got := fld.Mapping[leaf].Type; got != typ {
				t.Errorf("%s: %s is %q, want %q", idx, f, got, typ)
			}
		}
		if len(m.Mappings) != len(wantTypes) {
			t.Errorf("%s maps %d of the %d fields asked for: template not applied?", idx, len(m.Mappings), len(wantTypes))
		}
	}

	// Queries against what the offline run says.
	ipSrc := mostCommon(want, "layers.ip.src")
	var dnsDocs []docT
	for _, d := range want {
		if d["protocol"] == "dns" {
			dnsDocs = append(dnsDocs, d)
		}
	}
	if len(dnsDocs) == 0 {
		t.Fatal("no dns documents in the samples")
	}
	qname := mostCommon(dnsDocs, "layers.dns.qry_name")
	srcIP := mostCommon(dnsDocs, "source.ip")
	for _, c := range []struct {
		q     string
		match func(d docT) bool
	}{
		{"layers.ip.src:" + strings.ReplaceAll(ipSrc, ":", `\:`), func(d docT) bool { return has(d, "layers.ip.src", ipSrc) }},
		{`source.ip:"` + srcIP + `"`, func(d docT) bool { return has(d, "source.ip", srcIP) }},
		{"protocol:dns", func(d docT) bool { return d["protocol"] == "dns" }},
		{"protocol:http", func(d docT) bool { return d["protocol"] == "http" }},
		{`layers.dns.qry_name:"` + qname + `"`, func(d docT) bool { return has(d, "layers.dns.qry_name", qname) }},
		{`protocol:dns AND NOT source.ip:"` + srcIP + `"`, func(d docT) bool { return d["protocol"] == "dns" && !has(d, "source.ip", srcIP) }},
	} {
		var exp []pkt
		for _, d := range want {
			if c.match(d) {
				exp = append(exp, keyOf(d))
			}
		}
		got := queryKeys(t, base, prefix, c.q)
		if len(exp) == 0 || !sameKeys(got, exp) {
			t.Errorf("query %s: %d hits, want %d (the offline documents that match)", c.q, len(got), len(exp))
		} else {
			t.Logf("query %s: %d hits, as expected", c.q, len(got))
		}
	}
	// Hits come sorted by time.
	out, _, _ = espcap(t, "query", "--node", base, "--index", prefix+"*", "--size", "0", "*")
	hits := docs(t, out)
	if len(hits) != len(want) {
		t.Fatalf("query *: %d hits, want %d", len(hits), len(want))
	}
	for i := 1; i < len(hits); i++ {
		if hits[i]["@timestamp"].(string) < hits[i-1]["@timestamp"].(string) {
			t.Fatalf("query hits not sorted by time at %d", i)
		}
	}
	out, _, code = espcap(t, "query", "--node", base, "--index", prefix+"*", "--size", "3", "--format", "table", "protocol:http")
	if code != 0 || strings.Count(out, "\n") != 3 || !strings.Contains(out, "→") {
		t.Errorf("table output:\n%s", out)
	}

	// The same files again: every document is a duplicate, nothing new.
	_, errs, code = espcap(t, append([]string{"--node", base, "--index-prefix", prefix, "--dead-letter", dl}, files...)...)
	if code != 0 {
		t.Fatalf("re-import: exit %d: %s", code, errs)
	}
	if !strings.Contains(errs, fmt.Sprintf("0 docs indexed, %d duplicates", len(want))) {
		t.Errorf("re-import summary:\n%s", errs)
	}
	refresh(t, base, prefix)
	if n := countIn(t, base, prefix+"*"); n != len(want) {
		t.Errorf("%d documents after re-import, want %d", n, len(want))
	}
}

// TestNodeDeadLetter: an index created beforehand maps layers.dns.a as a
// number, so the DNS answers with A records of that day are rejected: they go to
// the dead-letter file, the rest is indexed, the exit status is 1.
func TestNodeDeadLetter(t *testing.T) {
	base := estest.URL(t)
	prefix := testPrefix(t, base, "dead")
	out, _, _ := espcap(t, "-q", "--file", dnsSample)
	all := docs(t, out)
	day := all[0]["@timestamp"].(string)[:10]
	rejected := 0
	for _, d := range all {
		if d["@timestamp"].(string)[:10] == day && len(get(d, "layers.dns.a")) > 0 {
			rejected++
		}
	}
	if rejected == 0 || rejected == len(all) {
		t.Fatalf("bad test data: %d of %d would be rejected", rejected, len(all))
	}
	st, b := esCall(t, base, http.MethodPut, "/"+prefix+day, []byte(`{"mappings":{"properties":{"layers":{"properties":{"dns":{"properties":{"a":{"type":"long"}}}}}}}}`))
	if st != http.StatusOK {
		t.Fatalf("create index: %d %s", st, b)
	}
	dl := filepath.Join(t.TempDir(), "dead.ndjson")
	_, errs, code := espcap(t, "--node", base, "--index-prefix", prefix, "--dead-letter", dl, "--file", dnsSample)
	t.Logf("%s", errs)
	if code != 1 {
		t.Errorf("exit %d, want 1 when documents were dead-lettered", code)
	}
	if !strings.Contains(errs, fmt.Sprintf("%d dead-lettered", rejected)) || !strings.Contains(errs, dl) {
		t.Errorf("summary should count %d dead-lettered and name %s", rejected, dl)
	}
	b, err := os.ReadFile(dl)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != rejected {
		t.Errorf("%d dead-letter lines, want %d", len(lines), rejected)
	}
	var l struct {
		Index  string `json:"index"`
		ID     string `json:"_id"`
		Status int    `json:"status"`
		Error  struct{ Type, Reason string }
		Doc    docT `json:"doc"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &l); err != nil {
		t.Fatal(err)
	}
	if l.Index != prefix+day || l.Status != 400 || !strings.Contains(l.Error.Reason, "layers.dns.a") || l.Doc["protocol"] != "dns" || l.ID == "" {
		t.Errorf("dead-letter line %.400s", lines[0])
	}
	refresh(t, base, prefix)
	if n := countIn(t, base, prefix+"*"); n != len(all)-rejected {
		t.Errorf("%d documents indexed, want %d", n, len(all)-rejected)
	}
}

// flakyProxy sits between espcap-fast and the server: it answers 429 to the
// first reject bulk requests, and can delay bulk requests.
type flakyProxy struct {
	target string
	reject atomic.Int64
	delay  atomic.Int64 // nanoseconds per bulk request
	bulks  atomic.Int64
}

func (p *flakyProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if strings.HasPrefix(r.URL.Path, "/_bulk") {
		p.bulks.Add(1)
		time.Sleep(time.Duration(p.delay.Load()))
		if p.reject.Add(-1) >= 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"error":{"type":"es_rejected_execution_exception","reason":"proxy: rejected execution"},"status":429}`)
			return
		}
	}
	req, _ := http.NewRequest(r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	for _, k := range []string{"Content-Type", "Content-Encoding", "Authorization"} {
		if v := r.Header.Get(k); v != "" {
			req.Header.Set(k, v)
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, `{"error":"proxy: no server"}`)
		return
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	for _, k := range []string{"Content-Type", "X-Elastic-Product"} {
		if v := res.Header.Get(k); v != "" {
			w.Header().Set(k, v)
		}
	}
	w.WriteHeader(res.StatusCode)
	w.Write(out)
}

func startProxy(t *testing.T, target string) (*flakyProxy, string) {
	p := &flakyProxy{target: target}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: p}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return p, "http://" + ln.Addr().String()
}

// TestNode429: the server answers 429 to the first bulk requests; nothing
// is lost and nothing duplicated.
func TestNode429(t *testing.T) {
	base := estest.URL(t)
	prefix := testPrefix(t, base, "throttle")
	px, url := startProxy(t, base)
	px.reject.Store(6)
	dl := filepath.Join(t.TempDir(), "dead.ndjson")
	_, errs, code := espcap(t, "--node", url, "--index-prefix", prefix, "--chunk", "200", "--indexers", "3", "--dead-letter", dl, "--file", sample)
	t.Logf("%s", errs)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(errs, "1268 docs indexed, 0 duplicates") || strings.Contains(errs, " 0 retried") {
		t.Errorf("summary should show 1268 indexed after retries")
	}
	refresh(t, base, prefix)
	if n := countIn(t, base, prefix+"*"); n != 1268 {
		t.Errorf("%d documents, want 1268", n)
	}
}

// TestNodeServerRestart stops a real server in the middle of an import and
// starts it again (scripts/es-server.sh on a port of its own): nothing lost,
// nothing duplicated. It costs a server start and a restart (~1 min), so it
// runs when ESPCAP_ES_URL's server is there (as in CI) and not with -short.
func TestNodeServerRestart(t *testing.T) {
	base, es := restartableServer(t)
	prefix := testPrefix(t, base, "restart")
	// A proxy slows the import down (50 ms per bulk of 25 documents, about
	// 90 requests) so that the restart falls in its middle.
	px, url := startProxy(t, base)
	px.delay.Store(int64(50 * time.Millisecond))
	out, _, _ := espcap(t, "-q", "--dir", "../../testdata/pcaps")
	want := len(docs(t, out))
	restarted := restartDuring(px, 20, es)
	dl := filepath.Join(t.TempDir(), "dead.ndjson")
	_, errs, code := espcap(t, "--node", url, "--index-prefix", prefix, "--chunk", "25", "--indexers", "2", "--dead-letter", dl, "--dir", "../../testdata/pcaps")
	stopErr, startErr := restarted()
	t.Logf("%s", errs)
	if stopErr != nil || startErr != nil {
		t.Fatalf("restart: stop %v, start %v", stopErr, startErr)
	}
	if code != 0 {
		t.Errorf("exit %d", code)
	}
	// the final summary (the periodic ones before the restart show none)
	if final := lastLineWith(errs, "indexed:"); final == "" || strings.Contains(final, " 0 retried") {
		t.Errorf("no retries in the final summary %q: the restart did not happen during the import", final)
	}
	refresh(t, base, prefix)
	if n := countIn(t, base, prefix+"*"); n != want {
		t.Errorf("%d documents after the restart, want %d", n, want)
	}
}

// restartableServer starts a server of its own with scripts/es-server.sh
// (ESPCAP_ES_RESTART_PORT, default 9213; ESPCAP_ES_RESTART_FLAVOR, default
// es8), stopped when the test ends, and returns its URL and a function
// running es-server.sh stop or start on it. It skips like the other
// integration tests, and with -short.
func restartableServer(t *testing.T) (string, func(cmd string) error) {
	estest.URL(t) // skip (or fail in CI) like the other integration tests
	if testing.Short() {
		t.Skip("-short: skipping the server restart test")
	}
	flavor := os.Getenv("ESPCAP_ES_RESTART_FLAVOR")
	if flavor == "" {
		flavor = "es8"
	}
	port := os.Getenv("ESPCAP_ES_RESTART_PORT")
	if port == "" {
		port = "9213"
	}
	script, _ := filepath.Abs("../../scripts/es-server.sh")
	es := func(cmd string) error {
		c := exec.Command(script, cmd, "--flavor", flavor, "--port", port)
		c.Env = append(os.Environ(), "ESPCAP_ES_HEAP=384m")
		out, err := c.CombinedOutput()
		t.Logf("es-server.sh %s: %s", cmd, strings.TrimSpace(string(out)))
		return err
	}
	if err := es("start"); err != nil {
		msg := fmt.Sprintf("cannot start a second server for the restart test: %v", err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() { es("stop") })
	return "http://127.0.0.1:" + port, es
}

// restartDuring stops the server (es) once px has seen n bulk requests,
// and starts it again a second later; restarted waits for that and
// returns the errors of the stop and the start.
func restartDuring(px *flakyProxy, n int64, es func(string) error) (restarted func() (stopErr, startErr error)) {
	done := make(chan struct{})
	var stopErr, startErr error
	go func() {
		defer close(done)
		for px.bulks.Load() < n {
			time.Sleep(10 * time.Millisecond)
		}
		stopErr = es("stop")
		time.Sleep(time.Second)
		startErr = es("start")
	}()
	return func() (error, error) {
		<-done
		return stopErr, startErr
	}
}

func TestNodeFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--node", "127.0.0.1:1", "--index-prefix", "Packets-", "-r", sample}, "lowercase"},
		{[]string{"--node", "127.0.0.1:1", "--user", "elastic", "-r", sample}, "ES_PASSWORD"},
		{[]string{"--node", "127.0.0.1:1", "--chunk", "0", "-r", sample}, "--chunk"},
		{[]string{"--node", "http://elastic:hunter2@127.0.0.1:1", "-r", sample}, "127.0.0.1:1"},
	} {
		t.Setenv("ES_PASSWORD", "")
		_, errs, code := espcap(t, c.args...)
		if code == 0 || !strings.Contains(errs, c.want) || strings.Contains(errs, "hunter2") {
			t.Errorf("%v: exit %d, stderr %q: want an error mentioning %q (and no password)", c.args, code, errs, c.want)
		}
	}
	var b byteSize
	for in, want := range map[string]int{"5MB": 5000000, "512KiB": 512 << 10, "100": 100, "2m": 2 << 20} {
		if err := b.Set(in); err != nil || int(b) != want {
			t.Errorf("byteSize %q = %d, %v; want %d", in, b, err, want)
		}
	}
	if id := string(docIDPrefix(nil, "stdin", "abc")); id != "stdin-abc-" {
		t.Errorf("stdin id prefix %q", id)
	}
}

// TestNodeDataStream indexes into a data stream. The Elasticsearch
// integ-test distribution can create data streams but lacks the
// data-streams module's REST API, so the stream could not be deleted
// afterwards: the test runs where GET /_data_stream answers (OpenSearch,
// full Elasticsearch distributions) and skips elsewhere.
func TestNodeDataStream(t *testing.T) {
	base := estest.URL(t)
	needDataStreams(t, base)
	ds := "espcap-it-" + testRun + "-stream"
	t.Cleanup(func() {
		esCall(t, base, http.MethodDelete, "/_data_stream/"+ds, nil)
		esCall(t, base, http.MethodDelete, "/_index_template/"+bulk.TemplateName(ds), nil)
	})
	for range 2 {
		_, errs, code := espcap(t, "--node", base, "--data-stream", ds, "--dead-letter", filepath.Join(t.TempDir(), "d"), "--file", dnsSample)
		t.Logf("%s", errs)
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
	}
	esCall(t, base, http.MethodPost, "/"+ds+"/_refresh", nil)
	if n := countIn(t, base, ds); n != 108 {
		t.Errorf("%d documents in the data stream after two imports, want 108", n)
	}
	st, b := esCall(t, base, http.MethodGet, "/_data_stream/"+ds, nil)
	if st != http.StatusOK || !strings.Contains(string(b), `"name":"`+ds+`"`) {
		t.Errorf("data stream not created: %d %s", st, b)
	}
}

// TestNodeIndexPeriod: --index-period week, month and none name the
// indices after the packets' ISO week, month, or not at all, and the
// template installed for the prefix covers them.
func TestNodeIndexPeriod(t *testing.T) {
	base := estest.URL(t)
	for _, c := range []struct{ period, suffix string }{
		{"week", "2015-w33"}, {"month", "2015-08"}, {"none", "all"},
	} {
		prefix := testPrefix(t, base, "period-"+c.period)
		_, errs, code := espcap(t, "--node", base, "--index-prefix", prefix, "--index-period", c.period,
			"--dead-letter", filepath.Join(t.TempDir(), "d"), "--file", dnsSample)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", c.period, code, errs)
		}
		if !strings.Contains(errs, "espcap-fast: into "+prefix+c.suffix+"\n") {
			t.Errorf("%s: the summary does not name the index written:\n%s", c.period, errs)
		}
		refresh(t, base, prefix)
		_, b := esCall(t, base, http.MethodGet, "/_cat/indices/"+prefix+"*?h=index", nil)
		if got := strings.TrimSpace(string(b)); got != prefix+c.suffix {
			t.Errorf("%s: indices %q, want %q", c.period, got, prefix+c.suffix)
		}
		if n := countIn(t, base, prefix+c.suffix); n != 108 {
			t.Errorf("%s: %d documents, want 108", c.period, n)
		}
		_, m := esCall(t, base, http.MethodGet, "/"+prefix+c.suffix+"/_mapping/field/frame.number", nil)
		if !strings.Contains(string(m), `"type":"long"`) && !strings.Contains(string(m), `"type":"unsigned_long"`) && !strings.Contains(string(m), `"type":"integer"`) {
			t.Errorf("%s: the template did not apply: frame.number mapping %s", c.period, m)
		}
	}
	_, errs, code := espcap(t, "--node", base, "--index-period", "year", "--file", dnsSample)
	if code == 0 || !strings.Contains(errs, "--index-period") {
		t.Errorf("--index-period year: exit %d, %q", code, errs)
	}
}

// lastLineWith returns the last line of s that contains sub, or "".
func lastLineWith(s, sub string) string {
	lines := strings.Split(s, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], sub) {
			return lines[i]
		}
	}
	return ""
}
