package spool

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
)

// On-disk frame: magic "ESP1", u32 payload length, u32 CRC-32C of the
// payload, payload. Payload: u32 document count, i64 append time (Unix
// nanoseconds), batch bytes. Integers are little-endian.
const (
	magic     = "ESP1"
	headerLen = 12
	metaLen   = 12
	// MaxBatch is the largest batch Append accepts (and the largest frame
	// a reader believes): it bounds the memory a corrupt length can ask for.
	MaxBatch = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frameLen is the size on disk of a batch of n bytes.
func frameLen(n int) int64 { return int64(headerLen + metaLen + n) }

// appendFrame appends the frame of one batch to dst.
func appendFrame(dst, data []byte, docs int, t int64) []byte {
	start := len(dst)
	dst = append(dst, magic...)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(metaLen+len(data)))
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(docs))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(t))
	dst = append(dst, data...)
	crc := crc32.Checksum(dst[start+headerLen:], castagnoli)
	binary.LittleEndian.PutUint32(dst[start+8:], crc)
	return dst
}

// CorruptError reports a torn or corrupt frame: the segment file and the
// offset of the first byte that could not be used.
type CorruptError struct {
	Segment string // file path
	Offset  int64
	Reason  string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("spool: %s: offset %d: %s", e.Segment, e.Offset, e.Reason)
}

// frame is one decoded frame; data aliases the buffer given to readFrame.
type frame struct {
	docs int
	t    int64
	data []byte
	size int64 // bytes on disk
}

// readFrame reads the frame at off of segment r (named name), whose valid
// bytes end at end. buf is reused for the payload (grown as needed, never
// beyond MaxBatch). io.EOF when off == end; a *CorruptError for a short,
// oversized or corrupt frame.
func readFrame(r io.ReaderAt, name string, off, end int64, buf []byte) (frame, []byte, error) {
	if off >= end {
		return frame{}, buf, io.EOF
	}
	bad := func(format string, args ...any) (frame, []byte, error) {
		return frame{}, buf, &CorruptError{Segment: name, Offset: off, Reason: fmt.Sprintf(format, args...)}
	}
	if end-off < headerLen {
		return bad("torn frame header (%d of %d bytes)", end-off, headerLen)
	}
	if cap(buf) < headerLen {
		buf = make([]byte, 0, 64<<10)
	}
	hdr := buf[:headerLen]
	if _, err := r.ReadAt(hdr, off); err != nil {
		return bad("reading frame header: %v", err)
	}
	if string(hdr[:4]) != magic {
		return bad("bad magic %q", hdr[:4])
	}
	n := int64(binary.LittleEndian.Uint32(hdr[4:]))
	crc := binary.LittleEndian.Uint32(hdr[8:])
	switch {
	case n < metaLen || n > metaLen+MaxBatch:
		return bad("bad frame length %d", n)
	case n > end-off-headerLen:
		return bad("torn frame: %d payload bytes announced, %d present", n, end-off-headerLen)
	}
	if int64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	p := buf[:n]
	if _, err := r.ReadAt(p, off+headerLen); err != nil {
		return bad("reading frame payload: %v", err)
	}
	if got := crc32.Checksum(p, castagnoli); got != crc {
		return bad("checksum mismatch (stored %08x, computed %08x)", crc, got)
	}
	return frame{
		docs: int(binary.LittleEndian.Uint32(p)),
		t:    int64(binary.LittleEndian.Uint64(p[4:])),
		data: p[metaLen:],
		size: headerLen + n,
	}, buf, nil
}
