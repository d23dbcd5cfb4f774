package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/espcap/espcap-fast/internal/estest"
	"github.com/espcap/espcap-fast/spool"
)

// TestMain keeps every test away from the real state directory (live
// captures with --node spool there by default).
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "espcap-state-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("ESPCAP_STATE_DIR", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// offlineDocs runs espcap-fast with args (no --node) and returns the
// number of documents it writes.
func offlineDocs(t *testing.T, args ...string) int {
	t.Helper()
	out, errs, code := espcap(t, append([]string{"-q"}, args...)...)
	if code != 0 {
		t.Fatalf("offline run: exit %d: %s", code, errs)
	}
	return len(docs(t, out))
}

func TestSpoolRecords(t *testing.T) {
	var b []byte
	type rec struct {
		index, id, doc string
		version        int64
	}
	recs := []rec{
		{"packets-2024-01-02", "abc-1", `{"a":1}`, 0},
		{"p", "", `{}`, 0},
		{"flows-2024-01-02", "fid", `{"flow":{}}`, 1<<62 + 3},
		{"packets-x", strings.Repeat("i", 300), strings.Repeat("d", 70000), 0},
		{"f", "1", `{}`, 1},
	}
	for _, r := range recs {
		b = appendRecord(b, r.index, []byte(r.id), []byte(r.doc), r.version)
	}
	for i, want := range recs {
		r, rest, ok := nextRecord(b)
		if !ok || string(r.index) != want.index || string(r.id) != want.id || string(r.doc) != want.doc || r.version != want.version {
			t.Fatalf("record %d: %q %q %.20q version %d, %v", i, r.index, r.id, r.doc, r.version, ok)
		}
		b = rest
	}
	if len(b) != 0 {
		t.Fatalf("%d bytes left", len(b))
	}
	for _, v := range []int64{0, 77} {
		full := appendRecord(nil, "idx", []byte("id"), []byte(`{"x":1}`), v)
		for n := range len(full) {
			if _, _, ok := nextRecord(full[:n]); ok {
				t.Fatalf("version %d: a record cut to %d bytes decoded", v, n)
			}
		}
	}
	// a zero marker with version 0, and an empty index name, are not records
	for _, bad := range [][]byte{{0, 0, 1, 1, 1, 'i', 'd', '{'}, {0, 1, 1, '{'}} {
		if _, _, ok := nextRecord(bad); ok {
			t.Errorf("% x decoded", bad)
		}
	}
}

// FuzzSpoolRecord: nextRecord never panics or reads past its input, and
// what it decodes encodes back to the same bytes.
func FuzzSpoolRecord(f *testing.F) {
	f.Add(appendRecord(nil, "packets-2024-01-02", []byte("abc-1"), []byte(`{"a":1}`), 0))
	f.Add(appendRecord(nil, "flows-2024-01-02", []byte("fid"), []byte(`{}`), 12345))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, rest, ok := nextRecord(b)
		if !ok {
			return
		}
		again := appendRecord(nil, string(r.index), r.id, r.doc, r.version)
		if got := b[:len(b)-len(rest)]; len(again) > len(got) {
			t.Fatalf("re-encoded record longer (%d) than what was read (%d)", len(again), len(got))
		}
		if r2, _, ok := nextRecord(again); !ok || string(r2.index) != string(r.index) || string(r2.id) != string(r.id) ||
			string(r2.doc) != string(r.doc) || r2.version != r.version {
			t.Fatalf("round trip changed the record: %+v vs %+v", r, r2)
		}
	})
}

func TestSpoolFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--node", "127.0.0.1:1", "--spool-full", "wait", "-r", sample}, "--spool-full"},
		{[]string{"--node", "127.0.0.1:1", "--spool", t.TempDir(), "--no-spool", "-r", sample}, "--no-spool"},
		{[]string{"--node", "127.0.0.1:1", "--spool-max", "ten", "-r", sample}, "spool-max"},
		{[]string{"drain", "--spool", t.TempDir()}, "needs --node"},
	} {
		_, errs, code := espcap(t, c.args...)
		if code == 0 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q: want an error mentioning %q", c.args, code, errs, c.want)
		}
	}
	var m int64
	for in, want := range map[string]int64{"10G": 10 << 30, "500M": 500 << 20, "2TB": 2e12, "4096": 4096} {
		if err := (spoolMax{n: &m}).Set(in); err != nil || m != want {
			t.Errorf("--spool-max %q = %d, %v; want %d", in, m, err, want)
		}
	}
}

// TestSpoolImport imports the samples through a spool: exactly the
// documents of the offline run, and nothing left in the spool.
func TestSpoolImport(t *testing.T) {
	base := estest.URL(t)
	prefix := testPrefix(t, base, "spool")
	files := []string{"--file", sample, "--file", dnsSample}
	want := offlineDocs(t, files...)
	dir := filepath.Join(t.TempDir(), "spool")
	_, errs, code := espcap(t, append([]string{"--node", base, "--index-prefix", prefix, "--chunk", "50", "--spool", dir}, files...)...)
	t.Logf("import:\n%s", errs)
	if code != 0 {
		t.Fatalf("import: exit %d", code)
	}
	if !strings.Contains(errs, fmt.Sprintf("%d docs indexed, 0 duplicates", want)) || !strings.Contains(errs, "; spool ") {
		t.Errorf("summary does not say %d docs indexed with the spool's counters", want)
	}
	refresh(t, base, prefix)
	if n := countIn(t, base, prefix+"*"); n != want {
		t.Errorf("%d documents indexed, want %d", n, want)
	}
	sp, err := spool.Open(dir, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if st := sp.Stats(); st.Unacked != 0 || st.Bytes != 0 {
		t.Errorf("spool not empty after the import: %+v", st)
	}
}

// fillSpool leaves n documents in a spool as a run that could not index
// them would: in batches of 40, not acknowledged; the first batch twice
// (acknowledged by the cluster but not yet on disk when the run died).
func fillSpool(t *testing.T, dir, index string, n int) {
	t.Helper()
	sp, err := spool.Open(dir, spool.Options{MemBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	docs := 0
	flush := func() {
		if err := sp.Append(b, docs); err != nil {
			t.Fatal(err)
		}
		b, docs = b[:0], 0
	}
	for i := range n {
		b = appendRecord(b, index, fmt.Appendf(nil, "left-%d", i), fmt.Appendf(nil, `{"@timestamp":"2024-01-02T03:04:05Z","frame":{"number":%d}}`, i), 0)
		if docs++; docs == 40 || i == n-1 {
			flush()
			if i == 39 {
				for j := range 40 {
					b = appendRecord(b, index, fmt.Appendf(nil, "left-%d", j), fmt.Appendf(nil, `{"@timestamp":"2024-01-02T03:04:05Z","frame":{"number":%d}}`, j), 0)
				}
				docs = 40
				flush()
			}
		}
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSpoolReplayAtStart: what an earlier run left in the spool is
// indexed first, exactly once, by the next import and by drain.
func TestSpoolReplayAtStart(t *testing.T) {
	base := estest.URL(t)
	prefix := testPrefix(t, base, "replay")
	const n = 333
	left := prefix + "2024-01-02"

	dir := filepath.Join(t.TempDir(), "spool")
	fillSpool(t, dir, left, n)
	fileDocs := offlineDocs(t, "--file", dnsSample)
	_, errs, code := espcap(t, "--node", base, "--index-prefix", prefix, "--spool", dir, "--file", dnsSample)
	t.Logf("import:\n%s", errs)
	if code != 0 {
		t.Fatalf("import: exit %d", code)
	}
	if !strings.Contains(errs, fmt.Sprintf("%d documents", n+40)) || !strings.Contains(errs, "left by an earlier run") {
		t.Errorf("the replay of %d documents is not announced", n+40)
	}
	if !strings.Contains(errs, fmt.Sprintf("%d docs indexed, 40 duplicates", n+fileDocs)) {
		t.Errorf("summary does not say %d docs indexed, 40 duplicates", n+fileDocs)
	}
	refresh(t, base, prefix)
	if c := countIn(t, base, left); c != n {
		t.Errorf("%d documents from the spool indexed, want %d", c, n)
	}

	// drain: a second spool, indexed without capturing anything
	dir2 := filepath.Join(t.TempDir(), "spool2")
	fillSpool(t, dir2, prefix+"2024-01-03", n)
	_, errs, code = espcap(t, "drain", "--node", base, "--spool", dir2)
	t.Logf("drain:\n%s", errs)
	if code != 0 {
		t.Fatalf("drain: exit %d", code)
	}
	refresh(t, base, prefix)
	if c := countIn(t, base, prefix+"2024-01-03"); c != n {
		t.Errorf("drain indexed %d documents, want %d", c, n)
	}
	_, errs, code = espcap(t, "drain", "--node", base, "--spool", dir2)
	if code != 0 || strings.Contains(errs, "earlier run") || !strings.Contains(errs, "0 docs indexed, 0 duplicates") {
		t.Errorf("second drain: exit %d:\n%s", code, errs)
	}
}

func TestDropCause(t *testing.T) {
	waited := &spoolStage{max: 1 << 20}
	waited.waited.Store(3)
	for _, c := range []struct {
		sp   *spoolStage
		want string
	}{
		{nil, "--no-spool"},
		{&spoolStage{max: 1 << 20}, ""},
		{waited, "spool was full (--spool-max 1048576"},
	} {
		got := (&indexSink{sp: c.sp}).dropCause()
		if c.want == "" && got != "" || !strings.Contains(got, c.want) {
			t.Errorf("dropCause = %q, want %q", got, c.want)
		}
	}
}
