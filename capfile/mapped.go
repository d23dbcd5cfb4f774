package capfile

import (
	"io"
	"math"
	"os"
)

// A regular uncompressed file opened by Open is read through a read-only
// memory mapping rather than a buffer: the reader parses the mapping in
// place and Record.Data slices it, so a record stays valid until Close
// (Stable) and a caller that keeps records need not copy them. Everything
// else (errors and their offsets, BytesRead, SeekRecord) is as for a
// buffered file.
//
// The file is mapped to the size it has when opened. Should it have grown
// when the reader reaches the end of the mapping, the rest is mapped too
// (from the page of the next unread byte, so that no record spans two
// mappings) and read as a buffered reader would read it; the earlier
// mappings stay until Close. A file that shrinks while mapped cannot be
// read past its new end: the kernel stops the process (SIGBUS) when such
// a page is touched. Captures being written are read from standard input
// or a FIFO, or handed over complete (--watch waits until their writer
// closes them).

// mapChunk is how far ahead of the reader the pages of the mapping are
// made present (and the next chunk is asked for), and the granularity of
// BytesRead.
const mapChunk = 4 << 20

// mapBehind is how far behind the reader the pages of the mapping are
// taken out of the process again (the page cache keeps them): the
// records there were handed out long ago, so that the process does not
// hold a whole file's pages (its resident size) until Close. A record
// still held there is not lost: reading it maps its page again. It is
// more than the records a pipeline holds at once (workers × 4 batches
// of at most 1 MiB) for up to 16 workers.
const mapBehind = 64 << 20

// compressionOf names the compression whose magic number starts m ("":
// none).
func compressionOf(m []byte) string {
	switch {
	case len(m) >= 2 && m[0] == 0x1f && m[1] == 0x8b:
		return "gzip"
	case len(m) >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd:
		return "zstd"
	}
	return ""
}

// openMapped returns a Reader for f, a regular file of size bytes opened
// by Open, that reads it through a mapping; nil without error when the
// file is empty, compressed or cannot be mapped (Open then reads it
// through a buffer), and the header's error for a file that is not a
// capture. The Reader closes f.
func openMapped(f *os.File, name string, size int64) (*Reader, error) {
	if size <= 0 || size > math.MaxInt {
		return nil, nil
	}
	m, err := mapFile(f, 0, int(size))
	if err != nil {
		return nil, nil
	}
	if compressionOf(m) != "" {
		unmapFile(m)
		return nil, nil
	}
	r := newMapped(m, name, size, f)
	if err := r.readFileHeader(); err != nil {
		r.file = nil // (Open closes it)
		r.Close()
		return nil, err
	}
	return r, nil
}

// newMapped returns a Reader over m, the mapping of f, a file of size
// bytes, before its header is read. f nil makes m a mapping of nothing
// (the fuzz target's bytes): no advice to the kernel, nothing to map once
// it is read.
func newMapped(m []byte, name string, size int64, f *os.File) *Reader {
	r := &Reader{name: name, size: size, cnt: &countingReader{}, file: f}
	r.maps = [][]byte{m}
	r.buf, r.w = m, len(m)
	r.rerr = io.EOF // all there is is mapped (fill asks remap for more)
	if f != nil {
		adviseSequential(m)
	}
	r.advance()
	return r
}

// Stable reports whether a record's Data stays valid, unchanged by later
// calls to Next, until the reader is closed: true for a file read through
// a mapping, false when Data lies in a buffer that Next reuses (standard
// input, a FIFO, a compressed file, NewReader).
func (r *Reader) Stable() bool { return r.maps != nil }

// advance makes the pages of the mapping up to mapChunk past the reader
// present, asks for the chunk after them, and moves BytesRead.
func (r *Reader) advance() {
	n := len(r.buf)
	advise := r.file != nil
	for r.advised < n && r.advised < r.r+mapChunk {
		end := min(r.advised+mapChunk, n)
		if advise && !populate(r.buf[r.advised:end]) {
			adviseSoon(r.buf[r.advised:end])
		}
		r.advised = end
	}
	if behind := (r.r - mapBehind) &^ (mapChunk - 1); advise && behind > r.released {
		release(r.buf[r.released:behind])
		r.released = behind
	}
	if r.advised < n {
		if advise {
			adviseSoon(r.buf[r.advised:min(r.advised+mapChunk, n)])
		}
		r.adviseAt = r.advised - mapChunk/2
	} else {
		r.adviseAt = math.MaxInt
	}
	r.cnt.n.Store(r.base + int64(r.advised))
}

// remap maps the rest of the file when it has grown past the mapping
// (see above) and reports whether there is more to read.
func (r *Reader) remap() bool {
	if r.file == nil {
		return false
	}
	size := fileSize(r.file)
	if size <= r.base+int64(len(r.buf)) {
		return false
	}
	return r.mapFrom(r.pos(), size)
}

// mapFrom maps the file, size bytes now, from the page of offset off to
// its end and positions the reader at off.
func (r *Reader) mapFrom(off, size int64) bool {
	at := off - off%pageSize
	if r.file == nil || off < 0 || size <= off || size-at > math.MaxInt {
		return false
	}
	m, err := mapFile(r.file, at, int(size-at))
	if err != nil {
		return false
	}
	r.maps = append(r.maps, m)
	r.buf, r.base, r.r, r.w = m, at, int(off-at), len(m)
	r.advised, r.released = 0, 0
	if !r.random {
		adviseSequential(m)
		r.advance()
	}
	return true
}

// seeking is told of a SeekRecord: the pages are no longer made present
// ahead of the reader, nor read ahead by the kernel beyond its usual
// window (export reads a few records here and there); BytesRead stays
// where it was.
func (r *Reader) seeking() {
	if r.random {
		return
	}
	r.random = true
	r.adviseAt = math.MaxInt
	for _, m := range r.maps {
		adviseNormal(m)
	}
}

// unmap releases the mappings.
func (r *Reader) unmap() {
	for _, m := range r.maps {
		unmapFile(m)
	}
	r.maps, r.buf, r.r, r.w = nil, nil, 0, 0
}
