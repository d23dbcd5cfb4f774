package pipeline

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	espcapfast "github.com/espcap/espcap-fast"
	"github.com/espcap/espcap-fast/encode"
	"github.com/espcap/espcap-fast/internal/testpcap"
	"github.com/espcap/espcap-fast/pcapstore"
	"github.com/espcap/espcap-fast/ring"
	"github.com/espcap/espcap-fast/ring/ringtest"
)

// TestStorePositionsLive: live workers (two rings) set each packet's
// pcapFile/pcapOff to the store record holding exactly that packet: its
// length, time and bytes, one of the replayed packets; every packet the
// kernel gave is in the store once.
func TestStorePositionsLive(t *testing.T) {
	v := ringtest.NewVeth(t)
	const capture = "../testdata/pcaps/seed_test_http.pcap"
	want := testpcap.MustLoad(t, capture, 0)
	replayed := map[string]int{}
	for _, p := range want {
		replayed[string(p.Data)]++
	}
	g, err := ring.Open(ring.Config{Interface: v.Outside, Rings: 2, FrameTimeout: 10 * time.Millisecond, BlockCount: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	dir := t.TempDir()
	st, err := pcapstore.Open(pcapstore.Config{Dir: dir, Host: "h", FileSize: 128 << 10})
	if err != nil {
		t.Fatal(err)
	}
	protos, err := encode.ParseProtocols(espcapfast.ProtocolsList)
	if err != nil {
		t.Fatal(err)
	}
	sink := &liveRecs{}
	lr, err := NewLive(Config{Protocols: protos, Store: st}, sink, []*ring.Group{g})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- lr.Run(ctx) }()
	if sent := v.Replay(t, capture); sent != len(want) {
		t.Fatalf("tcpreplay sent %d of %d", sent, len(want))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.pcap"))
	recs := readStore(t, files)
	total := 0
	for _, m := range recs {
		total += len(m)
	}
	if len(sink.recs) < len(want) || total != len(sink.recs) || len(files) < 3 {
		t.Fatalf("%d packets captured, %d in the store (%d files); replayed %d", len(sink.recs), total, len(files), len(want))
	}
	type pos struct {
		file string
		off  int64
	}
	seen := map[pos]bool{}
	for i, p := range sink.recs {
		got, ok := recs[p.file][p.off]
		if !ok || seen[pos{p.file, p.off}] {
			t.Fatalf("packet %d: no record at %s:%d, or given twice", i, p.file, p.off)
		}
		seen[pos{p.file, p.off}] = true
		if len(got.Data) != len(p.data) || got.OrigLen != p.origLen || got.Timestamp != p.ts || replayed[string(got.Data)] == 0 {
			t.Fatalf("packet %d: the record at %s:%d (%d bytes, ts %d) is not the packet (%d bytes, ts %d) or not replayed",
				i, p.file, p.off, len(got.Data), got.Timestamp, len(p.data), p.ts)
		}
	}
}

// liveRecs keeps the store positions of live batches (which hold no
// packet bytes: the frames stay in the ring).
type liveRecs struct{ recs []storedRec }

func (s *liveRecs) Write(b *Batch) error {
	for _, r := range b.recs {
		s.recs = append(s.recs, storedRec{data: bytes.Repeat([]byte{0}, len(r.data)), origLen: r.origLen, ts: r.ts, file: r.pcapFile, off: r.pcapOff})
	}
	return nil
}
