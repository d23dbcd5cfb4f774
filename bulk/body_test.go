package bulk

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/valyala/fastjson"
)

func lines(b []byte) []string {
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestBatchAdd(t *testing.T) {
	b := getBatch()
	defer putBatch(b)
	b.add("create", "packets-2024-01-02", []byte("abc"), []byte(`{"a":1}`))
	b.add("create", `we"ird\idx`, []byte("id\n\x01"), []byte("{\"b\":\n2}"))
	b.add("index", "i", nil, []byte(`{"c":"x"}`))
	want := []string{
		`{"create":{"_index":"packets-2024-01-02","_id":"abc"}}`,
		`{"a":1}`,
		`{"create":{"_index":"we\"ird\\idx","_id":"id\n\u0001"}}`,
		`{"b": 2}`,
		`{"index":{"_index":"i"}}`,
		`{"c":"x"}`,
	}
	got := lines(b.body())
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("body:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i, l := range got {
		if err := fastjson.Validate(l); err != nil {
			t.Errorf("line %d not JSON: %v", i, err)
		}
	}
	var p fastjson.Parser
	v, err := p.ParseBytes(b.body()[b.items[1].start:b.items[1].docStart])
	if err != nil {
		t.Fatal(err)
	}
	if s := string(v.GetStringBytes("create", "_index")); s != `we"ird\idx` {
		t.Errorf("index round trip: %q", s)
	}
	if s := string(v.GetStringBytes("create", "_id")); s != "id\n\x01" {
		t.Errorf("id round trip: %q", s)
	}
	if s := string(b.indexLit(&b.items[0])); s != `"packets-2024-01-02"` {
		t.Errorf("indexLit %s", s)
	}
	if b.idLit(&b.items[2]) != nil {
		t.Errorf("idLit of item without id should be nil")
	}
	if s := string(b.doc(&b.items[2])); s != `{"c":"x"}` {
		t.Errorf("doc %s", s)
	}
	for i := range b.items {
		n := itemSize([]string{"create", "create", "index"}[i], []string{"packets-2024-01-02", `we"ird\idx`, "i"}[i],
			[][]byte{[]byte("abc"), []byte("id\n\x01"), nil}[i], b.doc(&b.items[i]))
		if got := b.items[i].end - b.items[i].start; n < got {
			t.Errorf("itemSize %d < actual %d for item %d", n, got, i)
		}
	}
}

func TestBatchKeepAndSplit(t *testing.T) {
	b := getBatch()
	defer putBatch(b)
	var want []string
	for i := range 10 {
		b.add("create", fmt.Sprintf("idx-%d", i%3), fmt.Appendf(nil, "id-%d", i), fmt.Appendf(nil, `{"n":%d}`, i))
	}
	all := lines(b.body())
	for _, i := range []int{1, 4, 5, 9} {
		want = append(want, all[2*i], all[2*i+1])
	}
	b.keep([]int{1, 4, 5, 9})
	if got := lines(b.body()); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("keep:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if s := string(b.doc(&b.items[3])); s != `{"n":9}` {
		t.Errorf("doc after keep: %s", s)
	}
	if s := string(b.idLit(&b.items[0])); s != `"id-1"` {
		t.Errorf("id after keep: %s", s)
	}
	nb := b.split()
	defer putBatch(nb)
	if len(b.items) != 2 || len(nb.items) != 2 {
		t.Fatalf("split sizes %d %d", len(b.items), len(nb.items))
	}
	if got := strings.Join(append(lines(b.body()), lines(nb.body())...), "\n"); got != strings.Join(want, "\n") {
		t.Fatalf("split changed content:\n%s", got)
	}
	if s := string(nb.doc(&nb.items[1])); s != `{"n":9}` {
		t.Errorf("doc after split: %s", s)
	}
	b.keep(nil)
	if len(b.body()) != 0 || len(b.items) != 0 {
		t.Errorf("keep(nil) should empty the batch")
	}
}

func TestNoErrors(t *testing.T) {
	for s, want := range map[string]bool{
		`{"errors":false,"items":[{"create":{"status":201}}]}`:   true,
		`{"took":3,"errors" : false,"items":[]}`:                 true,
		`{"errors":true,"items":[{"create":{"status":409}}]}`:    false,
		`{"took":3,"items":[{"create":{"status":201}}]}`:         false,
		`{"error":{"type":"x"},"status":400}`:                    false,
		``:                                                       false,
		`{"took":3,"errors":falsy}`:                              false,
		`{"took":3,"errors":true,"x":"\"errors\":false"}`:        false,
		`{"took":3,"ingest_took":1,"errors":false,"items":[{}]}`: true,
	} {
		if got := noErrors([]byte(s)); got != want {
			t.Errorf("noErrors(%s) = %v", s, got)
		}
	}
}

func TestParseItems(t *testing.T) {
	resp := `{"errors":true,"items":[
	 {"create":{"status":201}},
	 {"create":{"status":409,"error":{"type":"version_conflict_engine_exception","reason":"exists"}}},
	 {"create":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"queue full"}}},
	 {"index":{"status":400,"error":{"type":"document_parsing_exception","reason":"failed to parse field [n] of type [long]"}}},
	 {"create":{"status":503,"error":{"type":"unavailable_shards_exception","reason":"primary not active"}}}]}`
	var p fastjson.Parser
	var got []int
	var reasons []string
	err := parseItems(&p, []byte(resp), 5, func(i int, r itemResult) {
		got = append(got, classify(r.status))
		reasons = append(reasons, errorSummary(r.err))
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []int{outIndexed, outDuplicate, outRetry, outReject, outRetry}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("classes %v want %v", got, want)
	}
	if reasons[3] != "document_parsing_exception: failed to parse field [n] of type [long]" {
		t.Errorf("reason %q", reasons[3])
	}
	if reasons[0] != "no error detail" {
		t.Errorf("reason of success %q", reasons[0])
	}
	if err := parseItems(&p, []byte(resp), 4, func(int, itemResult) {}); err == nil {
		t.Error("item count mismatch not reported")
	}
	if err := parseItems(&p, []byte(`{"errors":true,"items":[{"create":{}}]}`), 1, func(int, itemResult) {}); err == nil {
		t.Error("missing status not reported")
	}
	if err := parseItems(&p, []byte(`<html>`), 1, func(int, itemResult) {}); err == nil {
		t.Error("garbage not reported")
	}
}

func TestParseNodes(t *testing.T) {
	urls, u, pw, err := parseNodes([]string{"localhost:9200, https://bob:s3cret@es.example:9243/prefix/", "10.0.0.1:9201"})
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, x := range urls {
		s = append(s, x.String())
	}
	if got := strings.Join(s, " "); got != "http://localhost:9200 https://es.example:9243/prefix http://10.0.0.1:9201" {
		t.Errorf("urls %s", got)
	}
	if u != "bob" || pw != "s3cret" {
		t.Errorf("credentials %q %q", u, pw)
	}
	// no port: 9200, as Beats read their hosts (also IPv6 literals)
	urls, _, _, err = parseNodes([]string{"127.0.0.1", "https://es.example/", "[::1]"})
	if err != nil {
		t.Fatal(err)
	}
	s = s[:0]
	for _, x := range urls {
		s = append(s, x.String())
	}
	if got := strings.Join(s, " "); got != "http://127.0.0.1:9200 https://es.example:9200 http://[::1]:9200" {
		t.Errorf("nodes without a port: %s", got)
	}
	_, _, _, err = parseNodes([]string{"ftp://bob:s3cret@host"})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("bad scheme: err %v (must not leak the password)", err)
	}
	if _, _, _, err := parseNodes([]string{" , "}); err == nil {
		t.Error("empty node list accepted")
	}
}

func TestDeadLetterLine(t *testing.T) {
	dir := t.TempDir()
	d, err := openDeadLetter(dir + "/dl.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.write([]byte(`"idx"`), []byte(`"id1"`), 400, []byte(`{"type":"x","reason":"y"}`), []byte(`{"n":"a"}`)); err != nil {
		t.Fatal(err)
	}
	if err := d.write([]byte(`"idx"`), nil, 400, []byte(`null`), []byte(`{broken`)); err != nil {
		t.Fatal(err)
	}
	if err := d.close(); err != nil {
		t.Fatal(err)
	}
	got := readFile(t, dir+"/dl.ndjson")
	want := `{"index":"idx","_id":"id1","status":400,"error":{"type":"x","reason":"y"},"doc":{"n":"a"}}` + "\n" +
		`{"index":"idx","status":400,"error":null,"doc_raw":"{broken"}` + "\n"
	if got != want {
		t.Errorf("dead letter:\n%s\nwant\n%s", got, want)
	}
}

// benchIndexer is an Indexer whose workers drop batches: it measures Add.
func benchIndexer(tb testing.TB) *Indexer {
	cfg, err := DefaultConfig().withDefaults()
	if err != nil {
		tb.Fatal(err)
	}
	ix := &Indexer{cfg: cfg, work: make(chan *batch)}
	ix.cur = ix.newBatch()
	go func() {
		for b := range ix.work {
			putBatch(b)
			ix.finished()
		}
	}()
	tb.Cleanup(func() { close(ix.work) })
	return ix
}

func BenchmarkAdd(b *testing.B) {
	ix := benchIndexer(b)
	doc := []byte(`{"@timestamp":"2024-01-02T03:04:05.123456789Z","protocol":"tcp","layers":{"ip":{"src":"10.0.0.1","dst":"10.0.0.2"},"tcp":{"srcport":443,"dstport":51234,"seq":4000000000}}}`)
	id := []byte("0123456789abcdef0123456789abcdef")
	ctx := context.Background()
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if err := ix.Add(ctx, "packets-2024-01-02", id, doc); err != nil {
			b.Fatal(err)
		}
	}
}

func TestAddAllocs(t *testing.T) {
	ix := benchIndexer(t)
	doc := bytes.Repeat([]byte("x"), 200)
	doc[0], doc[199] = '"', '"'
	ctx := context.Background()
	for range 3000 { // warm the batch pool
		_ = ix.Add(ctx, "packets-2024-01-02", []byte("id"), doc)
	}
	if a := testing.AllocsPerRun(5000, func() { _ = ix.Add(ctx, "packets-2024-01-02", []byte("id"), doc) }); a > 0.05 {
		t.Errorf("Add allocates %.3f times per call", a)
	}
	opt := ItemOptions{Action: "index", Version: 3456789012345678901}
	if a := testing.AllocsPerRun(5000, func() { _ = ix.AddWith(ctx, "flows-2024-01-02", []byte("id"), doc, opt) }); a > 0.05 {
		t.Errorf("AddWith (versioned) allocates %.3f times per call", a)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestBatchAddVersioned: an external version goes into the action line,
// and itemSize+versionSize is exactly the item's size.
func TestBatchAddVersioned(t *testing.T) {
	for _, tc := range []struct {
		version int64
		want    string
	}{
		{0, `{"index":{"_index":"flows-2024-01-02","_id":"AbC"}}`},
		{7, `{"index":{"_index":"flows-2024-01-02","_id":"AbC","version":7,"version_type":"external"}}`},
		{10, `{"index":{"_index":"flows-2024-01-02","_id":"AbC","version":10,"version_type":"external"}}`},
		{3456789012345678901, `{"index":{"_index":"flows-2024-01-02","_id":"AbC","version":3456789012345678901,"version_type":"external"}}`},
	} {
		b := getBatch()
		doc := []byte(`{"flow":{"id":"AbC"}}`)
		b.addVersioned("index", "flows-2024-01-02", []byte("AbC"), doc, tc.version)
		got := lines(b.body())
		if len(got) != 2 || got[0] != tc.want || got[1] != string(doc) {
			t.Errorf("version %d: body %q, want %s", tc.version, got, tc.want)
		}
		if n, size := itemSize("index", "flows-2024-01-02", []byte("AbC"), doc)+versionSize(tc.version), b.items[0].end-b.items[0].start; n != size {
			t.Errorf("version %d: itemSize+versionSize %d, item %d bytes", tc.version, n, size)
		}
		putBatch(b)
	}
}
