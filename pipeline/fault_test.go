package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	espcapfast "github.com/espcap/espcap-fast"
	"github.com/espcap/espcap-fast/capfile"
	"github.com/espcap/espcap-fast/decode"
	"github.com/espcap/espcap-fast/encode"
	"github.com/espcap/espcap-fast/flow"
	"github.com/espcap/espcap-fast/internal/testpcap"
)

// TestFileTruncatedWhileRead: a mapped capture file truncated while it is
// read (its mapping faults past the new end: SIGBUS) is reported damaged,
// with the offset reached; the packets before are kept and the next file
// is read.
func TestFileTruncatedWhileRead(t *testing.T) {
	src, err := os.ReadFile("../testdata/pcaps/seed_test_http.pcap")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cut.pcap")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	protos, err := encode.ParseProtocols(espcapfast.ProtocolsList)
	if err != nil {
		t.Fatal(err)
	}
	for _, fc := range []*FlowConfig{nil, {}} {
		if err := os.WriteFile(path, src, 0o600); err != nil {
			t.Fatal(err)
		}
		sink := &countSink{}
		r, err := New(Config{Workers: 2, Protocols: protos, Flows: fc}, sink)
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var warned []error
		warn := func(err error) { mu.Lock(); warned = append(warned, err); mu.Unlock() }
		in := &FileInput{Paths: []string{path, "../testdata/pcaps/tcpdump_tcp-handshake-nano.pcap"},
			OnOpen: func(rd *capfile.Reader) {
				if rd.Name() == path && rd.Stable() {
					// a quarter of the file is left: the pages past it go
					os.Truncate(path, int64(len(src)/4))
				}
			}}
		err = r.Run(context.Background(), func(f *Feeder) error { return in.Read(f, warn) })
		if err != nil {
			t.Fatal(err)
		}
		if len(warned) == 0 || !errors.Is(warned[0], errChanged) {
			t.Fatalf("warnings %v, want one that the file changed", warned)
		}
		var fe *FileError
		if !errors.As(warned[0], &fe) || fe.Name != path {
			t.Errorf("warning %v does not name %s", warned[0], path)
		}
		n := r.Stats.Packets.Load()
		if n < 10 || n > 1268/2 || r.Stats.Files.Load() != 2 || r.Stats.FilesFailed.Load() != 1 {
			t.Errorf("%d packets read of 1268 (a quarter of the file left), %d files, %d failed", n, r.Stats.Files.Load(), r.Stats.FilesFailed.Load())
		}
		t.Logf("flows %v: %d packets read, warnings %v", fc != nil, n, warned)
	}
}

// TestWorkerFault: a worker whose packet's bytes fault (the mapping's file
// was truncated after the reader read the record) gives that packet and the
// batch's later ones no document, keeps the earlier ones, and reports it.
func TestWorkerFault(t *testing.T) {
	page := os.Getpagesize()
	m := truncatedMapping(t, page)
	good := testpcap.MustLoad(t, "../testdata/pcaps/tcpdump_tcp-handshake-nano.pcap", 1)[0].Data
	protos, err := encode.ParseProtocols(espcapfast.ProtocolsList)
	if err != nil {
		t.Fatal(err)
	}
	var warned []error
	r, err := New(Config{Workers: 1, Protocols: protos, Warn: func(err error) { warned = append(warned, err) }}, &countSink{})
	if err != nil {
		t.Fatal(err)
	}
	b := &Batch{src: &Source{Name: "m.pcap"}}
	b.add(good, false, len(good), 1, 1, 1, 0)
	b.add(m[2*page:2*page+60], true, 60, 2, 2, 1, 0) // past the end now
	b.add(good, false, len(good), 3, 3, 1, 0)
	w := &fileWorker{r: r, dec: decode.NewDecoder(), enc: encode.NewEncoder(protos)}
	restore := panicOnFault()
	w.guarded(b)
	restore()
	if b.recs[0].docEnd < 0 || b.recs[1].docEnd >= 0 || b.recs[2].docEnd >= 0 {
		t.Errorf("documents %d %d %d, want the first only", b.recs[0].docEnd, b.recs[1].docEnd, b.recs[2].docEnd)
	}
	if len(b.out) != b.recs[0].docEnd+1 {
		t.Errorf("output %d bytes, the first document ends at %d", len(b.out), b.recs[0].docEnd)
	}
	if len(warned) != 1 || !errors.Is(warned[0], errChanged) {
		t.Errorf("warnings %v, want one that the file changed", warned)
	}
}

// TestFlowStageFault: the flow stage decoding the application layers of a
// header-parsed packet whose bytes fault leaves them out of its flow,
// reported, and goes on.
func TestFlowStageFault(t *testing.T) {
	page := os.Getpagesize()
	m := truncatedMapping(t, page)
	// an HTTP request: plain, with a payload
	var data []byte
	for _, p := range testpcap.MustLoad(t, "../testdata/pcaps/seed_test_http.pcap", 0) {
		var h decode.FlowHeader
		if decode.ParseFlowHeader(p.Data, p.LinkType, &h) && h.Payload > 0 {
			data = p.Data
			break
		}
	}
	var warned []error
	s := newFlowStage(FlowConfig{})
	s.warn = func(err error) { warned = append(warned, err) }
	b := &Batch{src: &Source{Name: "m.pcap"}}
	b.add(m[2*page:2*page+len(data)], true, len(data), 1, 1, 1, 0) // past the end now
	var h decode.FlowHeader
	decode.ParseFlowHeader(data, 1, &h)
	flow.FromHeader(&h, b.flowPacket(0))
	b.recs[0].hasFlow, b.recs[0].light = true, true
	restore := panicOnFault()
	s.batch(b)
	restore()
	if len(warned) != 1 || !errors.Is(warned[0], errChanged) {
		t.Errorf("warnings %v, want one that the file changed", warned)
	}
	if st := s.tab.Stats(); st.Flows != 1 {
		t.Errorf("%d flows, want the packet's", st.Flows)
	}
}

// truncatedMapping returns a mapping of 4 pages of a file since truncated to
// one: reading past the first page faults.
func truncatedMapping(t *testing.T, page int) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "m")
	if err := os.WriteFile(path, make([]byte, 4*page), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := syscall.Mmap(int(f.Fd()), 0, 4*page, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Munmap(m) })
	if err := os.Truncate(path, int64(page)); err != nil {
		t.Fatal(err)
	}
	return m
}
