package capfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
)

// seen is one record as a sequential read returned it.
type seen struct {
	off, ts int64
	data    []byte
	orig    int
}

func readAllRecords(t testing.TB, data []byte) []seen {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data), "seq")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []seen
	var rec Record
	for {
		err := r.Next(&rec)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, seen{rec.Offset, rec.Timestamp, bytes.Clone(rec.Data), rec.OrigLen})
	}
}

// TestSeekRecord jumps to every record of pcap files in a shuffled order
// (within the buffer and beyond it) and checks it is the record a
// sequential read found there.
func TestSeekRecord(t *testing.T) {
	big, _ := manyRecords(t, 3000) // several buffers long
	if len(big) < 2*defaultBufSize {
		t.Fatalf("test file only %d bytes", len(big))
	}
	files := map[string][]byte{"many": big}
	for _, n := range []string{"dhcp.pcap", "bigendian.pcap", "dhcp-nanosecond.pcap"} {
		b, err := os.ReadFile(testdataPath(n))
		if err != nil {
			t.Fatal(err)
		}
		files[n] = b
	}
	for name, data := range files {
		t.Run(name, func(t *testing.T) {
			want := readAllRecords(t, data)
			if len(want) == 0 {
				t.Fatal("no records")
			}
			r, err := NewReader(bytes.NewReader(data), name)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			order := rand.New(rand.NewPCG(1, 2)).Perm(len(want))
			order = append(order, len(want)-1, len(want)-1) // the last one twice: after EOF too
			var rec Record
			for _, i := range order {
				w := want[i]
				if err := r.SeekRecord(w.off); err != nil {
					t.Fatalf("record %d at %d: %v", i, w.off, err)
				}
				if err := r.Next(&rec); err != nil {
					t.Fatalf("record %d at %d: %v", i, w.off, err)
				}
				if rec.Offset != w.off || rec.Timestamp != w.ts || rec.OrigLen != w.orig || !bytes.Equal(rec.Data, w.data) {
					t.Fatalf("record %d at %d: got offset %d ts %d, %d bytes; want ts %d, %d bytes", i, w.off, rec.Offset, rec.Timestamp, len(rec.Data), w.ts, len(w.data))
				}
			}
			if err := r.Next(&rec); err != io.EOF {
				t.Errorf("after the last record: %v, want EOF", err)
			}
		})
	}
}

// TestSeekRecordErrors covers the files and offsets SeekRecord refuses.
func TestSeekRecordErrors(t *testing.T) {
	pcap, pcapng := manyRecords(t, 2)
	for _, tc := range []struct {
		name string
		data []byte
		off  int64
		seek error // from SeekRecord
		next error // from the Next after it
	}{
		{"pcapng", pcapng, 28, ErrNotSeekable, nil},
		{"gzip", compressBytes(t, "gzip", pcap), 24, ErrNotSeekable, nil},
		{"zstd", compressBytes(t, "zstd", pcap), 24, ErrNotSeekable, nil},
		{"in header", pcap, 10, ErrCorrupt, nil},
		{"negative", pcap, -1, ErrCorrupt, nil},
		{"at the end", pcap, int64(len(pcap)), nil, io.EOF},
		{"beyond the end", pcap, int64(len(pcap)) + 100, nil, io.EOF},
		{"cut record", pcap, int64(len(pcap)) - 5, nil, ErrTruncated},
		{"not a record", pcapFile(65535, 1, bytes.Repeat([]byte{0xff}, 64)), 30, nil, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(tc.data), tc.name)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			err = r.SeekRecord(tc.off)
			if tc.seek != nil || err != nil {
				if !errors.Is(err, tc.seek) {
					t.Fatalf("SeekRecord(%d) = %v, want %v", tc.off, err, tc.seek)
				}
				return
			}
			var rec Record
			if err := r.Next(&rec); !errors.Is(err, tc.next) {
				t.Fatalf("Next after SeekRecord(%d) = %v, want %v", tc.off, err, tc.next)
			}
		})
	}
	// a closed reader does not seek
	r, err := NewReader(bytes.NewReader(pcap), "closed")
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if err := r.SeekRecord(24); !errors.Is(err, ErrNotSeekable) {
		t.Errorf("SeekRecord after Close = %v, want ErrNotSeekable", err)
	}
}

// FuzzSeekRecord reads one record at an arbitrary offset of arbitrary data:
// no panic, a record that is consistent and lies where it was asked for,
// and every failure an *Error, io.EOF or ErrNotSeekable; the same through a
// mapping as through a buffer.
func FuzzSeekRecord(f *testing.F) {
	for _, n := range []string{"dhcp.pcap", "bigendian.pcap", "bad-caplen.pcap", "timestamp_invalid_nano.pcap"} {
		if b, err := os.ReadFile(testdataPath(n)); err == nil {
			f.Add(b, int64(24))
			f.Add(b, int64(len(b)/2))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, off int64) {
		r, err := NewReader(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		defer r.Close()
		want := seekAndRead(t, r, data, off)
		if compressionOf(data) != "" {
			return
		}
		m := newMapped(data, "fuzz", int64(len(data)), nil)
		defer m.Close()
		if err := m.readFileHeader(); err != nil {
			t.Fatalf("header read through a buffer, not through a mapping: %v", err)
		}
		if got := seekAndRead(t, m, data, off); !slices.Equal(got, want) {
			t.Fatalf("through a mapping %q, through a buffer %q", got, want)
		}
	})
}

// seekAndRead reads the record at off of r (over data) and the one after
// it, twice, checking each, and returns what it found: each record's
// offset and length, or the error.
func seekAndRead(t *testing.T, r *Reader, data []byte, off int64) []string {
	var out []string
	var rec Record
	for range 3 { // the record, the one after it, and the same again
		err := r.SeekRecord(off)
		if errors.Is(err, ErrNotSeekable) {
			return append(out, err.Error())
		}
		var ce *Error
		if err != nil {
			if !errors.As(err, &ce) {
				t.Fatalf("SeekRecord error is not *Error: %v", err)
			}
			return append(out, err.Error())
		}
		for range 2 {
			err = r.Next(&rec)
			if err == io.EOF {
				out = append(out, "EOF")
				break
			}
			if err != nil {
				if !errors.As(err, &ce) {
					t.Fatalf("Next error is not *Error: %v", err)
				}
				out = append(out, err.Error())
				break
			}
			if rec.CapLen != len(rec.Data) || rec.Offset < off || rec.Offset+int64(rec.CapLen) > int64(len(data)) {
				t.Fatalf("record at %d (asked %d): caplen %d, %d bytes, file %d bytes", rec.Offset, off, rec.CapLen, len(rec.Data), len(data))
			}
			out = append(out, fmt.Sprint(rec.Offset, rec.CapLen, rec.Timestamp))
		}
	}
	return out
}
