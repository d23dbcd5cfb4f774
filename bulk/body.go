package bulk

import (
	"bytes"
	"strconv"
	"sync"
)

// item locates one bulk item (action line + document line) inside a batch
// buffer. All offsets are into batch.buf.
type item struct {
	start    int // first byte of the action line
	idxStart int // quoted JSON string literal of the index name
	idxEnd   int
	idStart  int // quoted JSON string literal of the _id (idStart==idEnd: none)
	idEnd    int
	docStart int // first byte of the document
	end      int // one past the '\n' that ends the document line
}

// doc returns the document bytes of it (without the trailing newline).
func (b *batch) doc(it *item) []byte { return b.buf[it.docStart : it.end-1] }

// indexLit returns the quoted index name of it.
func (b *batch) indexLit(it *item) []byte { return b.buf[it.idxStart:it.idxEnd] }

// idLit returns the quoted _id of it, or nil.
func (b *batch) idLit(it *item) []byte {
	if it.idStart == it.idEnd {
		return nil
	}
	return b.buf[it.idStart:it.idEnd]
}

// batch is one bulk request body under construction or in flight: NDJSON
// written by hand, plus the item offsets needed to re-send or dead-letter
// single items.
type batch struct {
	buf   []byte
	items []item
	seq   uint64 // order of creation (OnAnswered)
}

func (b *batch) reset() {
	b.buf = b.buf[:0]
	b.items = b.items[:0]
}

// body returns the NDJSON request body.
func (b *batch) body() []byte { return b.buf }

var batchPool = sync.Pool{New: func() any { return new(batch) }}

func getBatch() *batch { return batchPool.Get().(*batch) }

// putBatch returns b to the pool; very large buffers are dropped so that a
// single oversized document does not pin memory forever.
func putBatch(b *batch) {
	if cap(b.buf) > 64<<20 {
		return
	}
	b.reset()
	batchPool.Put(b)
}

// itemSize is the number of bytes add will append for one item.
func itemSize(action string, index string, id, doc []byte) int {
	return len(`{"":{"_index":"","_id":""}}`) + len(action) + len(index) + len(id) + len(doc) + 2 +
		escapeExtra(index) + escapeExtra(id)
}

// add appends one action line and one document line. The document must be a
// single JSON value; raw newlines in it (legal only as insignificant
// whitespace, because JSON strings cannot hold raw control characters) are
// replaced by spaces so that the NDJSON framing holds.
func (b *batch) add(action string, index string, id, doc []byte) {
	b.addVersioned(action, index, id, doc, 0)
}

// versionSize is the number of bytes addVersioned adds to the action line
// for version (0: none).
func versionSize(version int64) int {
	if version <= 0 {
		return 0
	}
	n := len(`,"version":,"version_type":"external"`) + 1
	for ; version >= 10; version /= 10 {
		n++
	}
	return n
}

// addVersioned is add with, when version is positive, an external version
// in the action line.
func (b *batch) addVersioned(action string, index string, id, doc []byte, version int64) {
	var it item
	it.start = len(b.buf)
	b.buf = append(b.buf, `{"`...)
	b.buf = append(b.buf, action...)
	b.buf = append(b.buf, `":{"_index":`...)
	it.idxStart = len(b.buf)
	b.buf = appendJSONString(b.buf, index)
	it.idxEnd = len(b.buf)
	if len(id) > 0 {
		b.buf = append(b.buf, `,"_id":`...)
		it.idStart = len(b.buf)
		b.buf = appendJSONString(b.buf, id)
		it.idEnd = len(b.buf)
	} else {
		it.idStart, it.idEnd = it.idxEnd, it.idxEnd
	}
	if version > 0 {
		b.buf = strconv.AppendInt(append(b.buf, `,"version":`...), version, 10)
		b.buf = append(b.buf, `,"version_type":"external"`...)
	}
	b.buf = append(b.buf, "}}\n"...)
	it.docStart = len(b.buf)
	b.buf = append(b.buf, doc...)
	if bytes.IndexByte(doc, '\n') >= 0 {
		d := b.buf[it.docStart:]
		for i, c := range d {
			if c == '\n' {
				d[i] = ' '
			}
		}
	}
	b.buf = append(b.buf, '\n')
	it.end = len(b.buf)
	b.items = append(b.items, it)
}

// keep compacts the batch in place so that only the items whose positions are
// listed in idx (ascending) remain. No allocation: item bytes only move
// towards the start of the buffer.
func (b *batch) keep(idx []int) {
	w := 0
	for n, i := range idx {
		it := b.items[i]
		shift := w - it.start
		copy(b.buf[w:], b.buf[it.start:it.end])
		w += it.end - it.start
		it.start += shift
		it.idxStart += shift
		it.idxEnd += shift
		it.idStart += shift
		it.idEnd += shift
		it.docStart += shift
		it.end += shift
		b.items[n] = it
	}
	b.buf = b.buf[:w]
	b.items = b.items[:len(idx)]
}

// split moves the second half of b's items into a new batch (used after a
// 413 answer).
func (b *batch) split() *batch {
	half := len(b.items) / 2
	nb := getBatch()
	from := b.items[half].start
	nb.buf = append(nb.buf[:0], b.buf[from:]...)
	for _, it := range b.items[half:] {
		it.start -= from
		it.idxStart -= from
		it.idxEnd -= from
		it.idStart -= from
		it.idEnd -= from
		it.docStart -= from
		it.end -= from
		nb.items = append(nb.items, it)
	}
	b.buf = b.buf[:from]
	b.items = b.items[:half]
	return nb
}

const hexDigits = "0123456789abcdef"

// jsonSafe[c] is true for bytes that need no escaping inside a JSON string.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = true
	}
	t['"'] = false
	t['\\'] = false
	return
}()

func escapeExtra[S string | []byte](s S) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if !jsonSafe[s[i]] {
			n += 5
		}
	}
	return n
}

// appendJSONString appends s as a quoted JSON string. Bytes >= 0x80 are
// copied unchanged (index names and ids are expected to be UTF-8).
func appendJSONString[S string | []byte](dst []byte, s S) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if jsonSafe[c] {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
