package pipeline

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"sort"
	"sync/atomic"
	"testing"

	espcapfast "github.com/espcap/espcap-fast"
	"github.com/espcap/espcap-fast/encode"
	"github.com/espcap/espcap-fast/filter"
	"github.com/espcap/espcap-fast/internal/need"
)

// captures returns the bundled test captures, in name order.
func captures(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../testdata/pcaps/*")
	if err != nil || len(files) < 10 {
		t.Fatalf("testdata/pcaps: %d files, %v", len(files), err)
	}
	sort.Strings(files)
	return files
}

// collectSink keeps every document it is handed, with the batch's source.
type collectSink struct {
	out     bytes.Buffer
	docs    int
	batches int
	failAt  int // Write fails on this batch (1-based; 0: never)
	handed  int // documents handed, including those of a failed Write
}

var errSinkFull = errors.New("sink: disk full")

func (s *collectSink) Write(b *Batch) error {
	s.batches++
	for i := range b.Len() {
		if doc, _, _ := b.Doc(i); doc != nil {
			s.handed++
		}
	}
	if s.failAt > 0 && s.batches == s.failAt {
		return errSinkFull
	}
	for i := range b.Len() {
		if doc, _, _ := b.Doc(i); doc != nil {
			s.out.Write(doc)
			s.out.WriteByte('\n')
			s.docs++
		}
	}
	return nil
}

// runFiles runs the pipeline over files and returns the sink and the
// runner's error.
func runFiles(t *testing.T, ctx context.Context, cfg Config, sink Sink, files []string) (*Runner, error) {
	t.Helper()
	protos, err := encode.ParseProtocols(espcapfast.ProtocolsList)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Protocols = protos
	r, err := New(cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	in := &FileInput{Paths: files}
	var warned atomic.Int64
	err = r.Run(ctx, func(f *Feeder) error {
		return in.Read(f, func(error) { warned.Add(1) })
	})
	return r, err
}

// TestOrderAcrossWorkers: whatever the number of workers, the documents
// come out in capture order, byte for byte the same as with one worker.
func TestOrderAcrossWorkers(t *testing.T) {
	files := captures(t)
	var one collectSink
	r1, err := runFiles(t, context.Background(), Config{Workers: 1}, &one, files)
	if err != nil {
		t.Fatal(err)
	}
	if one.docs < 1000 || uint64(one.docs) != r1.Stats.Docs.Load() || r1.Stats.Packets.Load() != uint64(one.docs) {
		t.Fatalf("one worker: %d documents, stats %d docs of %d packets", one.docs, r1.Stats.Docs.Load(), r1.Stats.Packets.Load())
	}
	for _, w := range []int{2, 3, 8} {
		var many collectSink
		if _, err := runFiles(t, context.Background(), Config{Workers: w}, &many, files); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(one.out.Bytes(), many.out.Bytes()) {
			t.Errorf("%d workers: output differs from one worker's (%d vs %d documents)", w, many.docs, one.docs)
		}
	}
}

// TestCountCut: --count N gives exactly the first N documents of the full
// run, across file boundaries, with and without a BPF filter.
func TestCountCut(t *testing.T) {
	var files []string
	for _, f := range captures(t) {
		// libpcap cannot filter NFLOG ("not implemented"): with --bpf
		// that capture stops the run, as it does tcpdump
		if filepath.Base(f) != "tcpdump_nflog.pcap" {
			files = append(files, f)
		}
	}
	var all collectSink
	if _, err := runFiles(t, context.Background(), Config{Workers: 2}, &all, files); err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(all.out.Bytes(), []byte("\n"))
	for _, n := range []int{1, 255, 256, 257, 1000, all.docs - 1} {
		var s collectSink
		if _, err := runFiles(t, context.Background(), Config{Workers: 2, Count: uint64(n)}, &s, files); err != nil {
			t.Fatal(err)
		}
		if s.docs != n || !bytes.Equal(s.out.Bytes(), bytes.Join(lines[:n], nil)) {
			t.Errorf("--count %d: %d documents, not the first %d of the full run", n, s.docs, n)
		}
	}
	if err := filter.Available(); err != nil {
		need.Missing(t, "libpcap not available: %v", err)
		return
	}
	var udp collectSink
	if _, err := runFiles(t, context.Background(), Config{Workers: 2, BPF: "udp"}, &udp, files); err != nil {
		t.Fatal(err)
	}
	udpLines := bytes.SplitAfter(udp.out.Bytes(), []byte("\n"))
	n := udp.docs / 2
	var s collectSink
	r, err := runFiles(t, context.Background(), Config{Workers: 2, BPF: "udp", Count: uint64(n)}, &s, files)
	if err != nil {
		t.Fatal(err)
	}
	if s.docs != n || !bytes.Equal(s.out.Bytes(), bytes.Join(udpLines[:n], nil)) || r.Stats.Docs.Load() != uint64(n) {
		t.Errorf("--count %d with a filter: %d documents (stats %d), not the first %d UDP ones", n, s.docs, r.Stats.Docs.Load(), n)
	}
}

// cancelSink cancels the run after its first batch.
type cancelSink struct {
	collectSink
	cancel func()
}

func (s *cancelSink) Write(b *Batch) error {
	s.cancel()
	return s.collectSink.Write(b)
}

// TestCancel: a cancelled run stops reading, still writes what it read (a
// prefix of the full output, nothing reordered or torn) and returns no
// error.
func TestCancel(t *testing.T) {
	files := captures(t)
	var all collectSink
	if _, err := runFiles(t, context.Background(), Config{Workers: 2}, &all, files); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &cancelSink{cancel: cancel}
	protos, _ := encode.ParseProtocols(espcapfast.ProtocolsList)
	r, err := New(Config{Workers: 2, Protocols: protos}, s)
	if err != nil {
		t.Fatal(err)
	}
	in := &FileInput{Paths: files}
	if err := r.Run(ctx, func(f *Feeder) error { return in.Read(f, func(error) {}) }); err != nil {
		t.Fatalf("cancelled run: %v", err)
	}
	if s.docs == 0 || s.docs >= all.docs {
		t.Fatalf("cancelled run wrote %d of %d documents", s.docs, all.docs)
	}
	if !bytes.HasPrefix(all.out.Bytes(), s.out.Bytes()) {
		t.Fatal("the documents of a cancelled run are not a prefix of the full run's")
	}
	if got := r.Stats.Docs.Load(); got != uint64(s.docs) {
		t.Fatalf("stats count %d documents, the sink got %d", got, s.docs)
	}
}

// TestSinkError: a sink that fails stops the run with its error; nothing is
// written after it.
func TestSinkError(t *testing.T) {
	files := captures(t)
	s := &collectSink{failAt: 3}
	r, err := runFiles(t, context.Background(), Config{Workers: 2}, s, files)
	if !errors.Is(err, errSinkFull) {
		t.Fatalf("run error %v, want the sink's", err)
	}
	if s.batches != 3 {
		t.Fatalf("the sink was handed %d batches after failing on the 3rd", s.batches-3)
	}
	if r.Stats.Docs.Load() != uint64(s.handed) || s.docs >= s.handed {
		t.Fatalf("stats count %d documents, the sink was handed %d and kept %d", r.Stats.Docs.Load(), s.handed, s.docs)
	}
}
