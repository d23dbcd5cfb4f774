package spool

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzSegment feeds arbitrary bytes to the segment reader: it must never
// panic, never ask for more memory than the bytes present (bounded by
// MaxBatch), and every frame it accepts must re-encode to the same bytes.
func FuzzSegment(f *testing.F) {
	var seg []byte
	for i := range 4 {
		seg = appendFrame(seg, payload(i), i+1, int64(i))
	}
	f.Add(seg)
	f.Add(seg[:len(seg)-3])
	f.Add([]byte("ESP1\xff\xff\xff\xff\x00\x00\x00\x00"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		var buf []byte
		off := int64(0)
		for {
			fr, nb, err := readFrame(r, "fuzz.seg", off, int64(len(data)), buf)
			buf = nb
			if cap(buf) > max(64<<10, len(data)) {
				t.Fatalf("buffer of %d bytes for %d bytes of input", cap(buf), len(data))
			}
			if err == io.EOF {
				return
			}
			var ce *CorruptError
			if err != nil {
				if !errors.As(err, &ce) || ce.Offset != off {
					t.Fatalf("error %v at offset %d", err, off)
				}
				return
			}
			again := appendFrame(nil, fr.data, fr.docs, fr.t)
			if !bytes.Equal(again, data[off:off+fr.size]) {
				t.Fatalf("frame at %d does not re-encode", off)
			}
			off += fr.size
		}
	})
}
