package capfile

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// addSeeds adds the test captures and a pcapng file of many records to the
// seed corpus of a fuzz target.
func addSeeds(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join("testdata", "*.pcap*"))
	for _, n := range names {
		if b, err := os.ReadFile(n); err == nil {
			f.Add(b)
		}
	}
	_, ng := manyRecords(f, 1)
	f.Add(ng)
}

// FuzzReader feeds arbitrary bytes to the reader: it must never panic, loop
// forever or allocate without bound (its buffer stays within twice the input,
// its interface table within MaxInterfaces and MaxInterfaceText), every record must be consistent, and
// every failure must be an *Error.
func FuzzReader(f *testing.F) {
	addSeeds(f)
	named := append(ngSHB(), ngIDB(1, 0, ngOpt(optIfName, []byte("eth0")), ngOpt(optIfDesc, []byte("uplink")))...)
	named = append(named, ngIDB(1, 0, ngOpt(optIfName, []byte("eth1")))...)
	f.Add(append(named, ngEPB(1, 0, []byte("pkt"))...))
	if b, err := os.ReadFile(filepath.Join("testdata", "dhcp.pcap")); err == nil {
		f.Add(compressBytes(f, "gzip", b))
		f.Add(compressBytes(f, "zstd", b))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data), "fuzz")
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("open error is not *Error: %v", err)
			}
			return
		}
		defer r.Close()
		var rec Record
		prev := int64(-1)
		for n := 0; ; n++ {
			err := r.Next(&rec)
			if err == io.EOF {
				break
			}
			if err != nil {
				var ce *Error
				if !errors.As(err, &ce) {
					t.Fatalf("error is not *Error: %v", err)
				}
				if r.Compression() == "" && (ce.Offset < 0 || ce.Offset > int64(len(data))) {
					t.Fatalf("error offset %d outside the %d-byte input", ce.Offset, len(data))
				}
				break
			}
			if len(rec.Data) != rec.CapLen || rec.CapLen > MaxRecordSize {
				t.Fatalf("record %d: len(Data)=%d CapLen=%d", n, len(rec.Data), rec.CapLen)
			}
			if rec.TimestampSaturated && rec.Timestamp != math.MaxInt64 && rec.Timestamp != math.MinInt64 {
				t.Fatalf("record %d: saturated timestamp %d is not a limit", n, rec.Timestamp)
			}
			if rec.Offset <= prev {
				t.Fatalf("record %d: offset %d not after %d", n, rec.Offset, prev)
			}
			if r.Compression() == "" && rec.Offset+int64(rec.CapLen) > int64(len(data)) {
				t.Fatalf("record %d at %d with %d bytes beyond the input", n, rec.Offset, rec.CapLen)
			}
			if rec.Interface < 0 || rec.Interface >= len(r.Interfaces()) {
				t.Fatalf("record %d on interface %d of %d", n, rec.Interface, len(r.Interfaces()))
			}
			prev = rec.Offset
		}
		ifs := r.Interfaces()
		text := 0
		for _, in := range ifs {
			text += len(in.Name) + len(in.Description)
		}
		if len(ifs) > MaxInterfaces || text > MaxInterfaceText {
			t.Fatalf("interface table holds %d interfaces and %d bytes of text, over the limits", len(ifs), text)
		}
		if len(r.buf) > 2*len(data)+minBufSize+64 && r.Compression() == "" {
			t.Fatalf("buffer grew to %d bytes for %d bytes of input", len(r.buf), len(data))
		}
	})
}
