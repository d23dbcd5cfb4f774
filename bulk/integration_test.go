package bulk

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fastjson"

	"github.com/espcap/espcap-fast/internal/estest"
)

// Integration tests talk to a real server at ESPCAP_ES_URL (default
// http://127.0.0.1:9200; start one with scripts/es-server.sh start). They
// skip when none answers, except under CI (env CI set), where they fail.

var runID = fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano()%1e9)

// testIndex returns a unique index name and deletes it when the test ends.
func testIndex(t *testing.T, base, name string) string {
	idx := "espcap-test-" + runID + "-" + name
	t.Cleanup(func() { esDo(t, base, http.MethodDelete, "/"+idx+"?ignore_unavailable=true", nil) })
	return idx
}

func esDo(t *testing.T, base, method, path string, body []byte) (int, []byte) {
	t.Helper()
	return estest.Server{URL: base}.Call(t, method, path, body)
}

func count(t *testing.T, base, idx string) int {
	t.Helper()
	s := estest.Server{URL: base}
	s.Refresh(t, idx)
	return s.Count(t, idx)
}

func newTestIndexer(t *testing.T, url string, mod func(*Config)) *Indexer {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Nodes = []string{url}
	cfg.Logf = t.Logf
	if mod != nil {
		mod(&cfg)
	}
	ix, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

// addDocs adds n synthetic packet documents, alternating between the
// given indices, with deterministic ids.
func addDocs(t *testing.T, ix *Indexer, n int, indices ...string) {
	t.Helper()
	ctx := context.Background()
	id := make([]byte, 0, 32)
	doc := make([]byte, 0, 256)
	for i := range n {
		id = fmt.Appendf(id[:0], "pkt-%08d", i)
		doc = fmt.Appendf(doc[:0], `{"@timestamp":"2024-01-02T03:04:%02d.%09dZ","frame":%d,"protocol":"tcp","layers":{"ip":{"src":"10.0.%d.%d"},"tcp":{"seq":%d}}}`,
			i%60, i, i, i/256%256, i%256, 3000000000+i)
		if err := ix.Add(ctx, indices[i%len(indices)], id, doc); err != nil {
			t.Fatal(err)
		}
	}
}

func closeIx(t *testing.T, ix *Indexer) Stats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := ix.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s := ix.Stats()
	t.Logf("stats: %+v", s)
	return s
}

func TestIntegrationCountAndDuplicates(t *testing.T) {
	base := estest.URL(t)
	a, b := testIndex(t, base, "packets-2024-01-02"), testIndex(t, base, "packets-2024-01-03")
	const n = 2500
	ix := newTestIndexer(t, base, func(c *Config) { c.Chunk = 300 })
	name, ver := ix.Backend()
	t.Logf("backend %s %s", name, ver)
	if name != "elasticsearch" && name != "opensearch" || ver == "" {
		t.Errorf("backend %q %q", name, ver)
	}
	addDocs(t, ix, n, a, b)
	if err := ix.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := closeIx(t, ix)
	if s.Added != n || s.Indexed != n || s.Duplicates != 0 || s.DeadLettered != 0 {
		t.Errorf("first import stats %+v", s)
	}
	if s.Requests < n/300 {
		t.Errorf("only %d requests for %d docs in chunks of 300", s.Requests, n)
	}
	if ca, cb := count(t, base, a), count(t, base, b); ca != n/2 || cb != n/2 {
		t.Errorf("counts %d %d, want %d each", ca, cb, n/2)
	}
	// Same documents again: all 409, nothing new.
	ix = newTestIndexer(t, base, func(c *Config) { c.Chunk = 300; c.Gzip = false })
	addDocs(t, ix, n, a, b)
	s = closeIx(t, ix)
	if s.Duplicates != n || s.Indexed != 0 || s.DeadLettered != 0 {
		t.Errorf("re-import stats %+v", s)
	}
	if ca, cb := count(t, base, a), count(t, base, b); ca != n/2 || cb != n/2 {
		t.Errorf("counts after re-import %d %d, want %d each", ca, cb, n/2)
	}
}

func TestIntegrationDeadLetter(t *testing.T) {
	base := estest.URL(t)
	idx := testIndex(t, base, "mapped")
	st, body := esDo(t, base, http.MethodPut, "/"+idx, []byte(`{"mappings":{"properties":{"n":{"type":"long"},"s":{"type":"keyword"}}}}`))
	if st != http.StatusOK {
		t.Fatalf("create index: %d %s", st, body)
	}
	dl := t.TempDir() + "/dead.ndjson"
	ix := newTestIndexer(t, base, func(c *Config) { c.DeadLetter = dl; c.Chunk = 40 })
	ctx := context.Background()
	for i := range 100 {
		doc := fmt.Appendf(nil, `{"n":%d,"s":"ok"}`, i)
		if i == 57 {
			doc = []byte(`{"n":"not a number","s":"bad"}`)
		}
		if err := ix.Add(ctx, idx, fmt.Appendf(nil, "d%d", i), doc); err != nil {
			t.Fatal(err)
		}
	}
	s := closeIx(t, ix)
	if s.Indexed != 99 || s.DeadLettered != 1 {
		t.Errorf("stats %+v", s)
	}
	if c := count(t, base, idx); c != 99 {
		t.Errorf("count %d want 99", c)
	}
	got := strings.TrimSpace(readFile(t, dl))
	if strings.Count(got, "\n") != 0 {
		t.Fatalf("dead letter has more than one line:\n%s", got)
	}
	v, err := fastjson.Parse(got)
	if err != nil {
		t.Fatalf("dead letter line not JSON: %v\n%s", err, got)
	}
	if string(v.GetStringBytes("index")) != idx || string(v.GetStringBytes("_id")) != "d57" || v.GetInt("status") != 400 {
		t.Errorf("dead letter line %s", got)
	}
	if string(v.GetStringBytes("doc", "n")) != "not a number" {
		t.Errorf("dead letter doc %s", v.Get("doc"))
	}
	if reason := string(v.GetStringBytes("error", "reason")); !strings.Contains(reason, "[n]") {
		t.Errorf("dead letter reason %q should name field n", reason)
	}
}

// proxy is a test HTTP proxy in front of the real server, on 127.0.0.1,
// that can misbehave on _bulk requests.
type proxy struct {
	t       *testing.T
	target  string
	srv     *httptest.Server
	bulks   atomic.Int64
	mode    atomic.Int32 // see proxy modes
	reject  atomic.Int64 // whole-request 429s still to answer
	itemsOn atomic.Bool  // answer 429 for every other item
}

const (
	modeForward    = iota
	modeDrop       // close the connection without an answer, forward nothing
	modeDropAnswer // forward, then close the connection without the answer
)

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{t: t, target: target}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *proxy) hangUp(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("no hijacker")
	}
	c, _, err := hj.Hijack()
	if err == nil {
		c.Close()
	}
}

func (p *proxy) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	isBulk := strings.HasPrefix(r.URL.Path, "/_bulk")
	if isBulk {
		p.bulks.Add(1)
		switch p.mode.Load() {
		case modeDrop:
			p.hangUp(w)
			return
		}
		if p.reject.Load() > 0 && p.reject.Add(-1) >= 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"error":{"type":"es_rejected_execution_exception","reason":"proxy says slow down"},"status":429}`)
			return
		}
		if p.itemsOn.Load() {
			p.itemLevel429(w, r, body)
			return
		}
	}
	status, hdr, out := p.forward(r, body)
	if isBulk && p.mode.Load() == modeDropAnswer {
		p.hangUp(w)
		return
	}
	for k, v := range hdr {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	w.Write(out)
}

func (p *proxy) forward(r *http.Request, body []byte) (int, http.Header, []byte) {
	req, _ := http.NewRequest(r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	for _, k := range []string{"Content-Type", "Content-Encoding", "Authorization"} {
		if v := r.Header.Get(k); v != "" {
			req.Header.Set(k, v)
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return http.StatusBadGateway, nil, []byte(`{"error":"proxy: ` + err.Error() + `"}`)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	h := http.Header{}
	h.Set("Content-Type", res.Header.Get("Content-Type"))
	if v := res.Header.Get("X-Elastic-Product"); v != "" {
		h.Set("X-Elastic-Product", v)
	}
	return res.StatusCode, h, out
}

// itemLevel429 forwards only the even items of a bulk body and answers 429
// for the odd ones, merging the statuses in request order.
func (p *proxy) itemLevel429(w http.ResponseWriter, r *http.Request, body []byte) {
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		body, _ = io.ReadAll(zr)
	}
	ls := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	var fwd strings.Builder
	for i := 0; i+1 < len(ls); i += 2 {
		if (i/2)%2 == 0 {
			fwd.WriteString(ls[i] + "\n" + ls[i+1] + "\n")
		}
	}
	r.Header.Del("Content-Encoding")
	status, _, out := p.forward(r, []byte(fwd.String()))
	if status != http.StatusOK {
		w.WriteHeader(status)
		w.Write(out)
		return
	}
	items := fastjson.MustParseBytes(out).GetArray("items")
	var resp strings.Builder
	resp.WriteString(`{"errors":true,"items":[`)
	for i, k := 0, 0; i < len(ls)/2; i++ {
		if i > 0 {
			resp.WriteByte(',')
		}
		if i%2 == 0 {
			resp.WriteString(items[k].String())
			k++
		} else {
			resp.WriteString(`{"create":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"proxy item 429"}}}`)
		}
	}
	resp.WriteString("]}")
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, resp.String())
}

func TestIntegration429(t *testing.T) {
	base := estest.URL(t)
	idx := testIndex(t, base, "throttled")
	px := newProxy(t, base)
	px.reject.Store(3) // the first three bulk requests: whole-request 429
	px.itemsOn.Store(true)
	const n = 1000
	ix := newTestIndexer(t, px.srv.URL, func(c *Config) { c.Chunk = 100 })
	done := make(chan struct{})
	go func() {
		// After a while stop item-level rejections, so the test ends.
		time.Sleep(1500 * time.Millisecond)
		px.itemsOn.Store(false)
		close(done)
	}()
	addDocs(t, ix, n, idx)
	s := closeIx(t, ix)
	<-done
	if s.Indexed != n || s.Duplicates != 0 || s.DeadLettered != 0 {
		t.Errorf("stats %+v", s)
	}
	if s.Retried < 100 {
		t.Errorf("retried only %d items: the proxy's 429s were not exercised", s.Retried)
	}
	if c := count(t, base, idx); c != n {
		t.Errorf("count %d want %d", c, n)
	}
}

func TestIntegrationOutage(t *testing.T) {
	base := estest.URL(t)
	idx := testIndex(t, base, "outage")
	px := newProxy(t, base)
	const n = 1500
	ix := newTestIndexer(t, px.srv.URL, func(c *Config) { c.Chunk = 100 })
	// Requests reach the server but answers are lost (the server stored the
	// documents; the retry must not duplicate them), then the server is
	// unreachable, then back.
	px.mode.Store(modeDropAnswer)
	go func() {
		// by bulk requests seen, not by time: a loaded machine may send
		// nothing for a while
		waitBulks := func(n int64) {
			for px.bulks.Load() < n {
				time.Sleep(5 * time.Millisecond)
			}
		}
		waitBulks(3)
		px.mode.Store(modeDrop)
		waitBulks(px.bulks.Load() + 3)
		px.mode.Store(modeForward)
	}()
	addDocs(t, ix, n, idx)
	s := closeIx(t, ix)
	if s.Indexed+s.Duplicates != n || s.DeadLettered != 0 {
		t.Errorf("stats %+v", s)
	}
	if s.Retried == 0 || s.Duplicates == 0 {
		t.Errorf("outage not exercised: %+v", s)
	}
	if c := count(t, base, idx); c != n {
		t.Errorf("count %d want %d", c, n)
	}
}

func TestIntegrationAbortDeadLetters(t *testing.T) {
	base := estest.URL(t)
	idx := testIndex(t, base, "abort")
	px := newProxy(t, base)
	dl := t.TempDir() + "/dead.ndjson"
	ix := newTestIndexer(t, px.srv.URL, func(c *Config) { c.Chunk = 50; c.DeadLetter = dl })
	px.mode.Store(modeDrop)
	addDocs(t, ix, 120, idx)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := ix.Close(ctx)
	if err == nil {
		t.Fatal("Close with the server gone and a short deadline should report the abort")
	}
	s := ix.Stats()
	if s.DeadLettered != 120 || s.Indexed != 0 {
		t.Errorf("stats %+v", s)
	}
	f, _ := os.Open(dl)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	lines := 0
	for sc.Scan() {
		lines++
		if !bytes.Contains(sc.Bytes(), []byte(`"type":"aborted"`)) {
			t.Errorf("line %s", sc.Bytes())
		}
	}
	if lines != 120 {
		t.Errorf("%d dead-letter lines, want 120", lines)
	}
}

func TestIntegrationTemplate(t *testing.T) {
	base := estest.URL(t)
	name := "espcap-test-" + runID
	t.Cleanup(func() {
		esDo(t, base, http.MethodDelete, "/_index_template/"+name, nil)
		esDo(t, base, http.MethodDelete, "/_component_template/"+name+"-mappings", nil)
	})
	ix := newTestIndexer(t, base, nil)
	defer closeIx(t, ix)
	ctx := context.Background()
	comp := []byte(`{"version":2,"template":{"mappings":{"properties":{"frame":{"type":"long"}}}}}`)
	if err := ix.InstallComponentTemplate(ctx, name+"-mappings", comp); err != nil {
		t.Fatal(err)
	}
	tmpl := func(v int, prio int) []byte {
		return fmt.Appendf(nil, `{"version":%d,"priority":%d,"index_patterns":["%s-*"],"composed_of":["%s-mappings"]}`, v, prio, name, name)
	}
	if err := ix.InstallTemplate(ctx, name, tmpl(2, 200)); err != nil {
		t.Fatal(err)
	}
	// An older version must not replace the installed one.
	if err := ix.InstallTemplate(ctx, name, tmpl(1, 100)); err != nil {
		t.Fatal(err)
	}
	_, b := esDo(t, base, http.MethodGet, "/_index_template/"+name, nil)
	v := fastjson.MustParseBytes(b).GetArray("index_templates")
	if len(v) != 1 || v[0].GetInt("index_template", "version") != 2 || v[0].GetInt("index_template", "priority") != 200 {
		t.Errorf("installed template %s", b)
	}
	if err := ix.InstallTemplate(ctx, name, tmpl(3, 300)); err != nil {
		t.Fatal(err)
	}
	_, b = esDo(t, base, http.MethodGet, "/_index_template/"+name, nil)
	if fastjson.GetInt(b, "index_templates", "0", "index_template", "version") != 3 {
		t.Errorf("newer template not installed: %s", b)
	}
}

func TestNewUnreachable(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	cfg := DefaultConfig()
	cfg.Nodes = []string{"http://elastic:hunter2@127.0.0.1:1"}
	_, err := New(context.Background(), cfg)
	if err == nil {
		t.Fatal("New succeeded against a closed port")
	}
	if strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("error %q: must name the node and hide the password", err)
	}
}

// TestIntegrationRefusedThenReachable closes the port the indexer talks to
// (connection refused), then listens again on it.
func TestIntegrationRefusedThenReachable(t *testing.T) {
	base := estest.URL(t)
	idx := testIndex(t, base, "refused")
	px := &proxy{t: t, target: base}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(px.serve)}
	go srv.Serve(ln)
	const n = 1200
	ix := newTestIndexer(t, "http://"+addr, func(c *Config) { c.Chunk = 100 })
	srv.Close() // the port now refuses connections
	srv2c := make(chan *http.Server, 1)
	go func() {
		time.Sleep(1500 * time.Millisecond)
		ln2, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("listen again on %s: %v", addr, err)
			return
		}
		srv2 := &http.Server{Handler: http.HandlerFunc(px.serve)}
		srv2c <- srv2
		go srv2.Serve(ln2)
	}()
	addDocs(t, ix, n, idx)
	s := closeIx(t, ix)
	select {
	case srv2 := <-srv2c:
		srv2.Close()
	case <-time.After(5 * time.Second):
	}
	if s.Indexed != n || s.Duplicates != 0 || s.DeadLettered != 0 || s.Retried == 0 {
		t.Errorf("stats %+v", s)
	}
	if c := count(t, base, idx); c != n {
		t.Errorf("count %d want %d", c, n)
	}
}
