// Package spool is a durable first-in first-out queue of encoded document
// batches between the encoders and the bulk indexers, so that a slow or
// absent cluster never makes capture wait.
//
// While the reader keeps up, batches pass through a bounded in-memory queue
// and never touch the disk. When that queue is full, batches go to segment
// files (dir/%020d.seg) in order, and the reader drains them in order
// before it returns to memory. Each frame on disk carries a CRC-32C; the
// acknowledged position is kept in dir/ack (two slots written alternately),
// and segments wholly below it are deleted. Open replays what was not
// acknowledged, after Close or after a crash; a torn or corrupt tail is
// reported (segment file and offset), truncated, and the rest replayed.
//
// Durability: frames are written with one pwrite each and synced by Sync,
// at segment roll and by Close; a process crash (kill -9) loses nothing
// that was written; a power loss can lose what was written since the last
// Sync. Batches still in memory are written to disk by Close; a crash loses
// them (the capture that made them is lost with the process anyway).
package spool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/espcap/espcap-fast/internal/safefile"
)

// Defaults of Options.
const (
	DefaultMaxBytes     = 10 << 30 // Packetbeat's queue.disk default
	DefaultSegmentBytes = 64 << 20
	DefaultMemBytes     = 64 << 20
)

var (
	// ErrFull is returned by Append when the spool holds MaxBytes, or the
	// disk under it is full (ENOSPC); the batch was not stored.
	ErrFull = errors.New("spool full")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("spool closed")
)

// Options tune a spool; zero values take the defaults.
type Options struct {
	MaxBytes     int64 // bytes of segment files at most (DefaultMaxBytes)
	SegmentBytes int64 // a segment is rolled beyond this size (DefaultSegmentBytes, at most MaxBytes/8)
	// MemBytes bounds the batches held in memory (queued, or handed out
	// and not yet acknowledged) on the fast path; negative: every batch
	// goes through the disk.
	MemBytes int64
	Logf     func(format string, args ...any) // corrupt tails at Open; nil: discarded
}

// Batch is one batch handed out by Next. Data is valid until Ack.
type Batch struct {
	Data     []byte
	Docs     int
	Appended time.Time
	seq      uint64
}

// Stats are the spool's counters.
type Stats struct {
	Bytes     int64         // bytes of segment files on disk
	Segments  int           // segment files
	MemBytes  int64         // bytes of batches held in memory
	Oldest    time.Duration // age of the oldest batch not acknowledged (0: none)
	Appended  int64         // documents accepted by Append
	ToDisk    int64         // documents of the batches written to disk
	Replayed  int64         // documents read back from disk (spooled by this run or an earlier one)
	Acked     int64         // documents acknowledged
	Dropped   int64         // documents the caller dropped after ErrFull (see Drop)
	Unacked   int64         // documents not yet acknowledged (memory and disk)
	Corrupted int           // corrupt tails found at Open
}

type entry struct {
	buf   []byte // batch bytes (owned)
	docs  int
	t     int64
	disk  bool
	seg   uint64 // disk: segment and end offset of the frame
	end   int64
	acked bool
}

// ring is a growable FIFO of entries.
type ring struct {
	buf     []entry
	head, n int
}

func (r *ring) push(e entry) {
	if r.n == len(r.buf) {
		nb := make([]entry, max(16, 2*len(r.buf)))
		for i := range r.n {
			nb[i] = r.buf[(r.head+i)%len(r.buf)]
		}
		r.buf, r.head = nb, 0
	}
	r.buf[(r.head+r.n)%len(r.buf)] = e
	r.n++
}

func (r *ring) at(i int) *entry { return &r.buf[(r.head+i)%len(r.buf)] }

func (r *ring) pop() entry {
	e := r.buf[r.head]
	r.buf[r.head] = entry{}
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	return e
}

type segment struct {
	seq  uint64
	size int64
}

// Spool is an open spool directory. Append, Next, Ack, Stats, Sync and Close
// are safe for concurrent use; there is one reader (Next and Ack).
type Spool struct {
	dir  string
	opt  Options
	lock *os.File
	ackf *os.File

	mu       sync.Mutex
	closed   bool
	done     chan struct{} // closed by Close
	notify   chan struct{} // a batch was appended
	room     chan struct{} // a batch was acknowledged
	mem      ring          // queued in memory, before everything unread on disk
	memBytes int64
	free     [][]byte

	segs      []segment // on disk, by sequence; the last one is written
	w         *os.File
	wsynced   bool
	r         *os.File // segment being read
	rseq      uint64
	roff      int64
	diskBytes int64
	rbuf      []byte
	wbuf      []byte

	out     ring   // handed out by Next, not yet acknowledged
	outSeq  uint64 // seq of out's first entry
	ack     ackPos // acknowledged position (persisted when dirty by Sync)
	ackDone ackPos // last persisted

	appended, toDisk, replayed, acked, dropped, unacked int64
	corrupt                                             []error
}

// Open opens (creating it, mode 0700) the spool directory dir and locks it
// against a second process. What an earlier run left unacknowledged is
// replayed first by Next; corrupt tails are truncated and reported by
// Corrupt and Options.Logf.
func Open(dir string, opt Options) (*Spool, error) {
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = DefaultMaxBytes
	}
	if opt.SegmentBytes <= 0 {
		// at least 8 segments in a spool, so that acknowledged space
		// comes back while the rest is still being read
		opt.SegmentBytes = max(min(DefaultSegmentBytes, opt.MaxBytes/8), 64<<10)
	}
	if opt.MemBytes == 0 {
		opt.MemBytes = DefaultMemBytes
	}
	if opt.Logf == nil {
		opt.Logf = func(string, ...any) {}
	}
	if err := safefile.MkdirAll(dir); err != nil {
		return nil, fmt.Errorf("spool: creating %s: %w", dir, err)
	}
	s := &Spool{dir: dir, opt: opt, done: make(chan struct{}), notify: make(chan struct{}, 1), room: make(chan struct{}, 1)}
	lockPath := filepath.Join(dir, "lock")
	lock, err := safefile.OpenFile(lockPath, os.O_RDWR|os.O_CREATE)
	if err != nil {
		return nil, fmt.Errorf("spool: %s: %w", dir, err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("spool: %s is in use by another espcap-fast process (%s is locked)", dir, lockPath)
		}
		return nil, fmt.Errorf("spool: locking %s: %w", lockPath, err)
	}
	s.lock = lock
	if err := s.load(); err != nil {
		s.closeFiles()
		return nil, err
	}
	return s, nil
}

func (s *Spool) segPath(seq uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d.seg", seq))
}

// load reads the ack file, deletes acknowledged segments, validates the
// rest (truncating corrupt tails) and opens the writer and the reader.
func (s *Spool) load() error {
	var err error
	if s.ackf, err = safefile.OpenFile(filepath.Join(s.dir, "ack"), os.O_RDWR|os.O_CREATE); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.ack = readAck(s.ackf)
	s.ackDone = s.ack
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".seg")
		if !ok || len(name) != 20 {
			continue
		}
		seq, err := strconv.ParseUint(name, 10, 64)
		if err != nil || !e.Type().IsRegular() {
			continue
		}
		if seq < s.ack.seg {
			if err := os.Remove(s.segPath(seq)); err != nil {
				return fmt.Errorf("spool: removing acknowledged segment: %w", err)
			}
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		s.segs = append(s.segs, segment{seq, fi.Size()})
	}
	slices.SortFunc(s.segs, func(a, b segment) int { return cmpU64(a.seq, b.seq) })
	if len(s.segs) == 0 || s.segs[0].seq != s.ack.seg {
		// the acknowledged segment is gone: start at the first one left
		s.ack.off = 0
		if len(s.segs) > 0 {
			s.ack.seg = s.segs[0].seq
		} else {
			s.ack.seg = max(s.ack.seg, 1)
		}
	}
	for i := range s.segs {
		if err := s.scan(&s.segs[i]); err != nil {
			return err
		}
		s.diskBytes += s.segs[i].size
	}
	// writer: the last segment, or a new one
	if len(s.segs) == 0 {
		s.segs = append(s.segs, segment{seq: s.ack.seg})
	}
	last := s.segs[len(s.segs)-1]
	if s.w, err = safefile.OpenFile(s.segPath(last.seq), os.O_RDWR|os.O_CREATE); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.rseq, s.roff = s.ack.seg, s.ack.off
	if s.r, err = safefile.OpenFile(s.segPath(s.rseq), os.O_RDONLY); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// scan validates the frames of seg not yet acknowledged, counts them as
// unacknowledged and truncates a corrupt tail.
func (s *Spool) scan(seg *segment) error {
	path := s.segPath(seg.seq)
	off := int64(0)
	if seg.seq == s.ack.seg {
		off = s.ack.off
		if off > seg.size {
			err := &CorruptError{Segment: path, Offset: seg.size, Reason: fmt.Sprintf("acknowledged offset %d beyond the end", off)}
			s.corrupt = append(s.corrupt, err)
			s.opt.Logf("%v", err)
			s.ack.off = seg.size
			return nil
		}
	}
	f, err := safefile.OpenFile(path, os.O_RDWR)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	for {
		var fr frame
		fr, s.rbuf, err = readFrame(f, path, off, seg.size, s.rbuf)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			s.corrupt = append(s.corrupt, err)
			s.opt.Logf("%v; truncated there (%d bytes dropped), the rest is replayed", err, seg.size-off)
			if terr := f.Truncate(off); terr != nil {
				return fmt.Errorf("spool: truncating %s at %d: %w", path, off, terr)
			}
			seg.size = off
			return nil
		}
		s.unacked += int64(fr.docs)
		off += fr.size
	}
}

// Corrupt returns the corrupt tails found by Open (each a *CorruptError).
func (s *Spool) Corrupt() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.corrupt)
}

func (s *Spool) wseg() *segment { return &s.segs[len(s.segs)-1] }

// diskUnread reports whether frames on disk wait for the reader.
func (s *Spool) diskUnread() bool {
	w := s.wseg()
	return s.rseq < w.seq || s.roff < w.size
}

func (s *Spool) getBuf(n int) []byte {
	for i := len(s.free) - 1; i >= 0; i-- {
		if b := s.free[i]; cap(b) >= n {
			s.free[i] = s.free[len(s.free)-1]
			s.free = s.free[:len(s.free)-1]
			return b[:n]
		}
	}
	return make([]byte, n, max(n, 64<<10))
}

func (s *Spool) putBuf(b []byte) {
	if b != nil && len(s.free) < 64 && cap(b) <= 8<<20 {
		s.free = append(s.free, b[:0])
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Append queues a copy of batch (docs documents). It never waits: it
// returns ErrFull (wrapped, with the cause) when the batch would go to disk
// and the spool holds MaxBytes or the disk is full; the caller then waits
// (AppendWait) or drops it (and counts it with Drop).
func (s *Spool) Append(batch []byte, docs int) error {
	if len(batch) > MaxBatch {
		return fmt.Errorf("spool: batch of %d bytes is larger than %d", len(batch), MaxBatch)
	}
	t := time.Now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.opt.MemBytes > 0 && !s.diskUnread() && s.memBytes+int64(len(batch)) <= s.opt.MemBytes {
		b := s.getBuf(len(batch))
		copy(b, batch)
		s.mem.push(entry{buf: b, docs: docs, t: t})
		s.memBytes += int64(cap(b))
		s.appended += int64(docs)
		s.unacked += int64(docs)
		signal(s.notify)
		return nil
	}
	if err := s.write(batch, docs, t); err != nil {
		return err
	}
	s.appended += int64(docs)
	s.toDisk += int64(docs)
	s.unacked += int64(docs)
	signal(s.notify)
	return nil
}

// write appends one frame to the write segment, rolling it when full.
func (s *Spool) write(batch []byte, docs int, t int64) error {
	n := frameLen(len(batch))
	if s.diskBytes+n > s.opt.MaxBytes {
		return fmt.Errorf("spool: %s holds %d bytes (--spool-max %d): %w", s.dir, s.diskBytes, s.opt.MaxBytes, ErrFull)
	}
	w := s.wseg()
	if w.size > 0 && w.size+n > s.opt.SegmentBytes {
		if err := s.roll(); err != nil {
			return err
		}
		w = s.wseg()
	}
	s.wbuf = appendFrame(s.wbuf[:0], batch, docs, t)
	if _, err := s.w.WriteAt(s.wbuf, w.size); err != nil {
		// never leave a torn frame behind
		if terr := s.w.Truncate(w.size); terr != nil {
			err = errors.Join(err, terr)
		}
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
			return fmt.Errorf("spool: %s: offset %d: %w: %w", s.w.Name(), w.size, ErrFull, err)
		}
		return fmt.Errorf("spool: %s: offset %d: %w", s.w.Name(), w.size, err)
	}
	if len(s.wbuf) > 1<<20 {
		s.wbuf = nil
	}
	w.size += n
	s.diskBytes += n
	s.wsynced = false
	return nil
}

// roll syncs the write segment and starts the next one.
func (s *Spool) roll() error {
	if err := s.w.Sync(); err != nil {
		return fmt.Errorf("spool: syncing %s: %w", s.w.Name(), err)
	}
	seq := s.wseg().seq + 1
	f, err := safefile.OpenFile(s.segPath(seq), os.O_RDWR|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	syncDir(s.dir)
	if s.w != s.r {
		s.w.Close()
	}
	s.w = f
	s.segs = append(s.segs, segment{seq: seq})
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// AppendWait is Append that waits for room while the spool is full (not
// when the disk is): it returns ctx's error if ctx ends first.
func (s *Spool) AppendWait(ctx context.Context, batch []byte, docs int) error {
	for {
		err := s.Append(batch, docs)
		if !errors.Is(err, ErrFull) || errors.Is(err, syscall.ENOSPC) {
			return err
		}
		select {
		case <-s.room:
		case <-s.done:
			return ErrClosed
		case <-ctx.Done():
			return fmt.Errorf("spool: waiting for room: %w", ctx.Err())
		}
	}
}

// Drop counts docs documents the caller dropped after ErrFull (Stats.Dropped).
func (s *Spool) Drop(docs int) {
	s.mu.Lock()
	s.dropped += int64(docs)
	s.mu.Unlock()
}

// Next returns the oldest batch not yet handed out, waiting for one until
// ctx ends or the spool is closed. Batches come in Append order (after
// what an earlier run left on disk).
func (s *Spool) Next(ctx context.Context) (Batch, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return Batch{}, ErrClosed
		}
		if s.mem.n > 0 {
			e := s.mem.pop()
			b := s.handOut(e)
			s.mu.Unlock()
			return b, nil
		}
		if s.diskUnread() {
			e, err := s.readDisk()
			if err != nil {
				s.mu.Unlock()
				return Batch{}, err
			}
			if e.buf != nil {
				b := s.handOut(e)
				s.mu.Unlock()
				return b, nil
			}
			s.mu.Unlock()
			continue // moved to the next segment
		}
		s.mu.Unlock()
		select {
		case <-s.notify:
		case <-s.done:
		case <-ctx.Done():
			return Batch{}, ctx.Err()
		}
	}
}

func (s *Spool) handOut(e entry) Batch {
	seq := s.outSeq + uint64(s.out.n)
	s.out.push(e)
	return Batch{Data: e.buf, Docs: e.docs, Appended: time.Unix(0, e.t), seq: seq}
}

// readDisk reads the frame at the read position. An entry with a nil
// buffer means the reader moved to the next segment. A corrupt frame (the
// disk failed under us) is reported and its segment skipped.
func (s *Spool) readDisk() (entry, error) {
	size := s.segSize(s.rseq)
	if s.roff >= size && s.rseq < s.wseg().seq {
		return entry{}, s.nextReadSeg()
	}
	fr, buf, err := readFrame(s.r, s.r.Name(), s.roff, size, s.getBuf(0))
	if err != nil {
		s.corrupt = append(s.corrupt, err)
		s.opt.Logf("%v; skipping the rest of the segment", err)
		if s.rseq == s.wseg().seq {
			s.roff = size
			return entry{}, nil
		}
		return entry{}, s.nextReadSeg()
	}
	// the payload starts metaLen bytes into buf: move it to the front so
	// that the buffer can be reused as it is
	n := copy(buf[:cap(buf)], fr.data)
	s.roff += fr.size
	s.replayed += int64(fr.docs)
	return entry{buf: buf[:n], docs: fr.docs, t: fr.t, disk: true, seg: s.rseq, end: s.roff}, nil
}

func (s *Spool) segSize(seq uint64) int64 {
	for i := len(s.segs) - 1; i >= 0; i-- {
		if s.segs[i].seq == seq {
			return s.segs[i].size
		}
	}
	return 0
}

// nextReadSeg moves the reader to the segment after rseq.
func (s *Spool) nextReadSeg() error {
	for _, g := range s.segs {
		if g.seq > s.rseq {
			f, err := safefile.OpenFile(s.segPath(g.seq), os.O_RDONLY)
			if err != nil {
				return fmt.Errorf("spool: %w", err)
			}
			s.r.Close()
			s.r, s.rseq, s.roff = f, g.seq, 0
			return nil
		}
	}
	return nil
}

// Ack acknowledges b (every document of it was answered): the acknowledged
// position moves past it once every earlier batch is acknowledged too, and
// segments wholly below that position are deleted.
func (s *Spool) Ack(b Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := int(b.seq - s.outSeq)
	if b.seq < s.outSeq || i >= s.out.n || s.out.at(i).acked {
		return fmt.Errorf("spool: Ack of a batch not handed out (or acknowledged twice)")
	}
	s.out.at(i).acked = true
	oldSeg := s.ack.seg
	for s.out.n > 0 && s.out.at(0).acked {
		e := s.out.pop()
		s.outSeq++
		if e.disk {
			s.ack.seg, s.ack.off = e.seg, e.end
		} else {
			s.memBytes -= int64(cap(e.buf))
		}
		s.acked += int64(e.docs)
		s.unacked -= int64(e.docs)
		s.putBuf(e.buf)
	}
	signal(s.room)
	if s.ack.seg != oldSeg {
		return s.persistAck()
	}
	return nil
}

// persistAck writes the acknowledged position and deletes the segments
// below it.
func (s *Spool) persistAck() error {
	if s.ack.seg == s.ackDone.seg && s.ack.off == s.ackDone.off {
		return nil
	}
	s.ack.gen = s.ackDone.gen
	if err := writeAck(s.ackf, &s.ack); err != nil {
		return err
	}
	s.ackDone = s.ack
	var errs []error
	for len(s.segs) > 1 && s.segs[0].seq < s.ack.seg {
		if err := os.Remove(s.segPath(s.segs[0].seq)); err != nil {
			errs = append(errs, fmt.Errorf("spool: %w", err))
			break
		}
		s.diskBytes -= s.segs[0].size
		s.segs = s.segs[1:]
		signal(s.room)
	}
	return errors.Join(errs...)
}

// Sync makes what was appended and acknowledged durable (fsync of the
// write segment and the ack file). When everything on disk was read and
// acknowledged it also starts a new empty segment, so that the disk space
// is given back. Call it periodically (about once a second).
func (s *Spool) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return s.sync()
}

func (s *Spool) sync() error {
	if !s.wsynced {
		if err := s.w.Sync(); err != nil {
			return fmt.Errorf("spool: syncing %s: %w", s.w.Name(), err)
		}
		s.wsynced = true
	}
	w := s.wseg()
	if w.size > 0 && s.ack.seg == w.seq && s.ack.off == w.size && !s.diskUnread() {
		// all read and acknowledged: give the space back
		if err := s.roll(); err != nil {
			return err
		}
		s.ack.seg, s.ack.off = s.wseg().seq, 0
		if err := s.nextReadSeg(); err != nil {
			return err
		}
	}
	return s.persistAck()
}

// Stats returns a snapshot of the counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{
		Bytes: s.diskBytes, Segments: len(s.segs), MemBytes: s.memBytes,
		Appended: s.appended, ToDisk: s.toDisk, Replayed: s.replayed, Acked: s.acked,
		Dropped: s.dropped, Unacked: s.unacked, Corrupted: len(s.corrupt),
	}
	if len(s.segs) == 1 && s.segs[0].size == 0 {
		st.Segments = 0
	}
	var oldest int64
	switch {
	case s.out.n > 0:
		oldest = s.out.at(0).t
	case s.mem.n > 0:
		oldest = s.mem.at(0).t
	case s.diskUnread() && s.roff < s.segSize(s.rseq):
		if fr, buf, err := readFrame(s.r, "", s.roff, s.segSize(s.rseq), nil); err == nil {
			oldest = fr.t
			_ = buf
		}
	}
	if oldest != 0 {
		st.Oldest = time.Since(time.Unix(0, oldest))
	}
	return st
}

// Close writes the batches still in memory (queued, or handed out and not
// acknowledged) to disk so that the next Open replays them, syncs and
// releases the directory. Batches handed out must not be used after Close.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.done)
	var errs []error
	for i := range s.out.n {
		if e := s.out.at(i); !e.disk && !e.acked {
			errs = append(errs, s.write(e.buf, e.docs, e.t))
		}
	}
	for i := range s.mem.n {
		e := s.mem.at(i)
		errs = append(errs, s.write(e.buf, e.docs, e.t))
	}
	errs = append(errs, s.sync())
	s.closeFiles()
	return errors.Join(errs...)
}

func (s *Spool) closeFiles() {
	for _, f := range []*os.File{s.r, s.w, s.ackf, s.lock} {
		if f != nil {
			f.Close()
		}
	}
}
