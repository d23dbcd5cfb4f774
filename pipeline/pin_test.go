package pipeline

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"

	espcapfast "github.com/espcap/espcap-fast"
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
