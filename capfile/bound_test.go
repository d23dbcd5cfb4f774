package capfile

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"
)

// blockStream is an io.Reader that produces a pcapng file made of a Section
// Header Block, then n copies of block, without holding the whole file in
// memory (a hostile file may be gigabytes once decompressed).
type blockStream struct {
	head  []byte
	block []byte
	n     int
	cur   []byte
}

func (s *blockStream) Read(p []byte) (int, error) {
	for len(s.cur) == 0 {
		switch {
		case s.head != nil:
			s.cur, s.head = s.head, nil
		case s.n > 0:
			s.cur = s.block
			s.n--
		default:
			return 0, io.EOF
		}
	}
	k := copy(p, s.cur)
	s.cur = s.cur[k:]
	return k, nil
}

// heapInUse returns the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestInterfaceTableBound reads sections holding very many Interface
// Description Blocks, with long or short names: the reader must stop with
// ErrTooLarge at the block that crosses a limit, naming it by offset, and
// the memory it keeps must stay a few megabytes whatever the file claims.
func TestInterfaceTableBound(t *testing.T) {
	long := bytes.Repeat([]byte("n"), 60<<10)
	cases := []struct {
		name    string
		idb     []byte
		n       int
		wantIdx int // index of the block rejected
	}{
		// 2000 × 60 KiB of names would keep 120 MB.
		{"long names", ngIDB(1, 0, ngOpt(optIfName, long)), 2000, MaxInterfaceText / len(long)},
		// 200,000 small interfaces would keep about 30 MB of tables.
		{"many interfaces", ngIDB(1, 0, ngOpt(optIfName, []byte("eth0"))), 200_000, MaxInterfaces},
		// descriptions count as well
		{"long descriptions", ngIDB(1, 0, ngOpt(optIfDesc, long)), 2000, MaxInterfaceText / len(long)},
	}
	const boundMB = 12
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			shb := ngSHB()
			before := heapInUse()
			r, err := NewReader(&blockStream{head: shb, block: c.idb, n: c.n}, "bomb.pcapng")
			if err != nil {
				t.Fatal(err)
			}
			var rec Record
			err = r.Next(&rec)
			held := heapInUse()
			nIfaces := len(r.Interfaces())
			runtime.KeepAlive(r)
			grown := int64(held) - int64(before)
			t.Logf("%d interfaces kept, heap grew %.2f MB", nIfaces, float64(grown)/(1<<20))
			if grown > boundMB<<20 {
				t.Errorf("reader keeps %.1f MB after reading the interfaces, want at most %d MB", float64(grown)/(1<<20), boundMB)
			}
			var ce *Error
			wantOff := int64(len(shb) + c.wantIdx*len(c.idb))
			if !errors.As(err, &ce) || !errors.Is(err, ErrTooLarge) || ce.Offset != wantOff || ce.File != "bomb.pcapng" {
				t.Fatalf("got %v; want ErrTooLarge in bomb.pcapng at offset %d", err, wantOff)
			}
			if nIfaces != c.wantIdx {
				t.Errorf("%d interfaces kept, want %d", nIfaces, c.wantIdx)
			}
		})
	}
}

// TestInterfaceTableLimitsPerSection checks that the limits count per
// section: a new section starts with an empty table.
func TestInterfaceTableLimitsPerSection(t *testing.T) {
	long := bytes.Repeat([]byte("n"), 60<<10)
	per := MaxInterfaceText / len(long) // IDBs that fit in one section
	var file []byte
	for range 2 {
		file = append(file, ngSHB()...)
		for range per {
			file = append(file, ngIDB(1, 0, ngOpt(optIfName, long))...)
		}
		file = append(file, ngEPB(uint32(per-1), 0, []byte("pkt"))...)
	}
	recs, r, err := readBytes(file, "sections.pcapng")
	if err != nil || len(recs) != 2 {
		t.Fatalf("%d records, %v; want 2 and no error", len(recs), err)
	}
	if n := len(r.Interfaces()); n != per {
		t.Errorf("%d interfaces in the second section, want %d", n, per)
	}
}
