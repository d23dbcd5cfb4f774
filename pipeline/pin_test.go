package pipeline

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	espcapfast "github.com/espcap/espcap-fast"
	"github.com/espcap/espcap-fast/capfile"
	"github.com/espcap/espcap-fast/encode"
	"github.com/espcap/espcap-fast/internal/testpcap"
)

// pinSink collects the documents and checks, for every packet of a batch
// it is handed, that the pin holding the packet's bytes has not been
// released yet.
type pinSink struct {
	collectSink
	released []atomic.Bool // by pin
	pinOf    func(number uint64) int
	early    int // packets seen after their pin's release
}

func (s *pinSink) Write(b *Batch) error {
	for i := range b.Len() {
		if _, _, n := b.Doc(i); s.released[s.pinOf(n)].Load() {
			s.early++
		}
	}
	return s.collectSink.Write(b)
}

// TestAddShared feeds the same packets copied (Add) and by reference
// (AddShared, in runs of pins, with some packets copied in between): the
// documents are the same, every pin is released once, after the last
// batch holding its packets was written, also when --count stops reading
// early.
func TestAddShared(t *testing.T) {
	pk := testpcap.MustLoad(t, "../testdata/pcaps/*", 3000)
	protos, err := encode.ParseProtocols(espcapfast.ProtocolsList)
	if err != nil {
		t.Fatal(err)
	}
	const perPin = 700 // packets of one pin (not a multiple of BatchPackets)
	nPins := (len(pk) + perPin - 1) / perPin
	run := func(shared bool, count uint64) (*pinSink, []int) {
		// the bytes of each pin in an arena of its own, as a mapped file
		arenas := make([][]byte, nPins)
		for i, p := range pk {
			arenas[i/perPin] = append(arenas[i/perPin], p.Data...)
		}
		sink := &pinSink{released: make([]atomic.Bool, nPins), pinOf: func(n uint64) int { return int(n-1) / perPin }}
		releases := make([]int, nPins)
		r, err := New(Config{Workers: 2, Protocols: protos, Count: count}, sink)
		if err != nil {
			t.Fatal(err)
		}
		src := &Source{Name: "pins"}
		err = r.Run(context.Background(), func(f *Feeder) error {
			if err := f.Begin(src); err != nil {
				return err
			}
			var pin *Pin
			off := 0
			for i, p := range pk {
				if i%perPin == 0 {
					if pin != nil {
						pin.Unpin()
					}
					k := i / perPin
					pin, off = NewPin(func() {
						releases[k]++
						sink.released[k].Store(true)
						clear(arenas[k]) // as an unmapping would
					}), 0
				}
				data := arenas[i/perPin][off : off+len(p.Data)]
				off += len(p.Data)
				var err error
				if shared && i%5 != 0 {
					err = f.AddShared(pin, data, p.OrigLen, p.Timestamp, uint64(i+1), p.LinkType, 0, false)
				} else {
					err = f.Add(data, p.OrigLen, p.Timestamp, uint64(i+1), p.LinkType, 0)
				}
				if err != nil {
					pin.Unpin()
					return err
				}
			}
			pin.Unpin()
			return f.End()
		})
		if err != nil {
			t.Fatal(err)
		}
		return sink, releases
	}
	for _, count := range []uint64{0, 1000} {
		copied, _ := run(false, count)
		shared, releases := run(true, count)
		if shared.early != 0 {
			t.Errorf("count %d: %d packets written after their pin was released", count, shared.early)
		}
		pins := nPins
		if count > 0 {
			pins = int(count+perPin-1) / perPin
		}
		for k, n := range releases {
			want := 0 // a pin never made
			if k < pins {
				want = 1
			}
			if n != want {
				t.Errorf("count %d: pin %d released %d times", count, k, n)
			}
		}
		if copied.docs == 0 || !bytes.Equal(copied.out.Bytes(), shared.out.Bytes()) {
			t.Errorf("count %d: %d documents copied, %d by reference, or they differ", count, copied.docs, shared.docs)
		}
	}
}

// closedSink checks, for every batch, that the reader of its file has not
// been closed (unmapped) yet.
type closedSink struct {
	collectSink
	mu      sync.Mutex // readers: filled by the reading goroutine
	readers map[string]*capfile.Reader
	early   int
}

func (s *closedSink) Write(b *Batch) error {
	s.mu.Lock()
	r := s.readers[b.Source().Name]
	s.mu.Unlock()
	if r != nil && !r.Stable() {
		s.early++
	}
	return s.collectSink.Write(b)
}

// TestFileInputPins reads mapped and compressed files: a mapped file's
// packets go by reference and the file is closed only after its last batch
// was written, and every file is closed at the end. (That the documents
// are those of a copy: TestAddShared, and the command's NDJSON compared
// before and after.)
func TestFileInputPins(t *testing.T) {
	files := captures(t)
	dir := t.TempDir()
	gz := filepath.Join(dir, "dhcp.pcap.gz")
	data, err := os.ReadFile("../capfile/testdata/dhcp.pcap")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	zw.Close()
	if err := os.WriteFile(gz, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	files = append(files, gz)
	protos, err := encode.ParseProtocols(espcapfast.ProtocolsList)
	if err != nil {
		t.Fatal(err)
	}
	sink := &closedSink{readers: map[string]*capfile.Reader{}}
	var opened []*capfile.Reader
	mapped := 0
	in := &FileInput{Paths: files, OnOpen: func(r *capfile.Reader) {
		opened = append(opened, r)
		if r.Stable() {
			sink.mu.Lock()
			sink.readers[r.Name()] = r
			sink.mu.Unlock()
			mapped++
		}
	}}
	r, err := New(Config{Workers: 2, Protocols: protos}, sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background(), func(f *Feeder) error { return in.Read(f, func(error) {}) }); err != nil {
		t.Fatal(err)
	}
	if mapped == 0 || mapped == len(opened) || sink.early != 0 {
		t.Fatalf("%d of %d files mapped; %d batches written after their file was closed", mapped, len(opened), sink.early)
	}
	for _, rd := range opened {
		if rd.Stable() {
			t.Errorf("%s: still open after the run", rd.Name())
		}
	}
	if sink.docs == 0 {
		t.Fatal("no documents")
	}
}
