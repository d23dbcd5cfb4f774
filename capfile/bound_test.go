package capfile

import (
	"bytes"
	"errors"
	"io"
	"math"
	"runtime"
	"slices"
	"testing"

	"github.com/espcap/espcap-fast/internal/pcapngtest"
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

// TestTimestampOffsetSaturates: a timestamp plus if_tsoffset beyond the
// int64 nanosecond range saturates (and says so) instead of wrapping around
// to 1969 or 1677; sums that fit are exact even when one part alone would
// not.
func TestTimestampOffsetSaturates(t *testing.T) {
	const maxNS, minNS = math.MaxInt64, math.MinInt64
	const maxSec = math.MaxInt64 / 1_000_000_000 // 9223372036
	cases := []struct {
		name   string
		resol  byte   // if_tsresol
		offset int64  // if_tsoffset, seconds
		ts     uint64 // in the interface's units
		want   int64
		sat    bool
	}{
		{"plain µs", 6, 0, 1_700_000_000_000_000, 1_700_000_000_000_000_000, false},
		{"offset in range", 6, 3600, 1_000_000, 3601_000_000_000, false},
		{"negative offset", 9, -10, 5_000_000_000, -5_000_000_000, false},
		{"µs times 1000 overflows", 6, 0, 1 << 62, maxNS, true},
		{"ns above int64", 9, 0, 1<<63 + 5, maxNS, true},
		{"ns above int64 brought back by the offset", 9, -10, 1<<63 + 5, 1<<63 + 5 - 10e9, false},
		{"huge offset", 6, 2 * maxSec, 1, maxNS, true},
		{"huge negative offset", 6, -2 * maxSec, 1, minNS, true},
		{"largest offset", 9, math.MaxInt64, 0, maxNS, true},
		{"smallest offset", 9, math.MinInt64, math.MaxUint64, minNS, true},
		{"offset just over", 9, 1, math.MaxInt64 - 1e9 + 1, maxNS, true},
		{"offset just fits", 9, 1, math.MaxInt64 - 1e9, maxNS, false},
		{"offset minus one just fits", 9, -1, math.MaxInt64 + 1e9, maxNS, false},
		{"exactly the smallest", 9, -maxSec - 1, 145_224_192, minNS, false},
		{"one below the smallest", 9, -maxSec - 1, 145_224_191, minNS, true},
		{"seconds unit overflows", 0, 0, math.MaxUint64, maxNS, true},
		{"2^-30 s unit, offset negative", 0x80 | 30, -1, 3 << 30, 2e9, false},
	}
	for _, c := range cases {
		file := append(ngSHB(), ngIDB(1, 0, ngOpt(optTSResol, []byte{c.resol}), pcapngtest.TSOffset(c.offset))...)
		file = append(file, ngEPB(0, c.ts, []byte("pkt"))...)
		r, err := NewReader(bytes.NewReader(file), "ts.pcapng")
		if err != nil {
			t.Fatal(err)
		}
		var rec Record
		if err := r.Next(&rec); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if rec.Timestamp != c.want || rec.TimestampSaturated != c.sat {
			t.Errorf("%s: timestamp %d (saturated %v), want %d (%v)", c.name, rec.Timestamp, rec.TimestampSaturated, c.want, c.sat)
		}
	}
}

// TestCustomBlocksNumberFrames: Custom Blocks (0x00000BAD and 0x40000BAD)
// are not packets, but tshark 4.0 numbers each as a frame (pcapng-format
// test102: 8 frames, 5 packets); FramesBefore tells the reader how many
// came before each packet.
func TestCustomBlocksNumberFrames(t *testing.T) {
	pen := []byte{0x7b, 0, 0, 0, 'x'}
	pkt := func(ts uint64) []byte { return pcapngtest.Packet(0, ts, make([]byte, 60), 60) }
	file := slices.Concat(pcapngtest.Section(), pcapngtest.Block(blockCB, pen), pcapngtest.Interface(1, 65535),
		pkt(1), pcapngtest.Block(blockDCB, pen), pcapngtest.Block(0x00000004, make([]byte, 8)), pcapngtest.Block(blockCB, pen),
		pkt(2), pkt(3), pcapngtest.Block(blockCB, pen))
	r, err := NewReader(bytes.NewReader(file), "custom.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	eachRecord(t, r, func(rec *Record) { got = append(got, rec.FramesBefore) })
	if want := []int{1, 2, 0}; !slices.Equal(got, want) {
		t.Errorf("FramesBefore %v, want %v (a name resolution block is no frame)", got, want)
	}
}
