// Package pcapstore writes the raw frames of a capture to rolling pcap
// files: one Writer per worker, each appending whole records to a large
// buffer that goes to its file in one write when full, at least every
// second, and when the file is rotated or closed.
//
// Files are pcap with nanosecond timestamps (magic a1b23c4d), snapshot
// length 262144 (a longer packet, from a file with a larger snapshot
// length, is cut to it; its original length is kept). A file holds one
// link type: a Writer keeps a file open per link type it sees (usually one;
// at most 8, the oldest is closed for a ninth), so that a capture
// alternating link types does not make a file per run of packets.
//
// File names carry the host, the interface (or "file" for imports), the
// worker and the start time, so that they sort by time within a series:
//
//	espcap-<host>-<iface>-w<N>-20261203T081500.123Z.pcap
//
// Rotation: a file is closed when the next record would take it past
// Config.FileSize, or when it is older than Config.Every. Retention: after
// each write the Store deletes the oldest closed files (by the start time
// in their names, any worker, files of earlier runs included) while the
// store holds more than Config.MaxBytes or the file system has less free
// space than the floor; each deletion is logged with the file name. A file
// being written is locked (flock) and never deleted, also by the retention
// of another process sharing the directory.
//
// Each Writer has four buffers (and one more per extra link type): the
// worker fills one while a goroutine of the Writer's own writes the full
// ones and closes rotated files, in order, so that the worker waits on the
// disk only when all are in flight.
//
// Crash safety: records are only ever appended whole, so a closed file is
// complete and valid; and it is made durable when closed (fsync of the file
// and of its directory, once per file, by a goroutine of its own so that
// the worker's next file is not held up; Close waits for them), so that a
// power loss, not only a crash, leaves every closed file whole. The open
// file is readable up to its last whole record (and cut back to it by the
// next run, which checks the newest file of each series in the
// background). What a crash loses is what was still in the buffers: the
// last second of packets at most (at most four buffers, 4 MiB, a worker);
// a power loss also what the kernel had not yet written of the open file.
// A kill in the middle of a write system call can leave a partial last
// record, which readers report as a file cut short after the whole
// records; a short write (disk full) is cut back to the whole records
// before it, and the Writer writes no more.
//
// The per-packet path (Writer.Write) takes no lock and allocates nothing:
// a worker brackets each batch of packets with Begin and End, which take
// the Writer's own mutex, so that the once-a-second flusher can flush an
// idle worker's buffer. In single-file mode (Config.File, tcpdump -w FILE)
// every worker shares one Writer, and BeginSeq/EndSeq keep the batches in
// order.
package pcapstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/espcap/espcap-fast/internal/safefile"
)

// Format constants of the files written.
const (
	// Magic is the pcap magic number of nanosecond-resolution files.
	Magic = 0xa1b23c4d
	// FileHeaderLen is the size of the pcap file header.
	FileHeaderLen = 24
	// RecordHeaderLen is the size of a pcap record header.
	RecordHeaderLen = 16
	// Snaplen is the snapshot length written in the file header.
	Snaplen = 262144
	// Ext is the file name extension of store files.
	Ext = ".pcap"
	// Prefix is the default first part of store file names.
	Prefix = "espcap"
)

// Defaults.
const (
	// DefaultFileSize is the default rotation size: 1 GiB.
	DefaultFileSize = 1 << 30
	// DefaultMinFreePercent is the default free-space floor, in percent of
	// the file system holding the store.
	DefaultMinFreePercent = 5
	// DefaultBufSize is each Writer's buffer.
	DefaultBufSize = 1 << 20
	// DefaultFlushEvery is how often buffered records are written at the
	// latest.
	DefaultFlushEvery = time.Second
)

// timeLayout is the start time in file names (UTC, milliseconds).
const timeLayout = "20060102T150405.000Z"

// Config configures a Store.
type Config struct {
	// Dir is the directory of rolling files (created 0700 when missing).
	Dir string
	// File, instead of Dir, is a single file that every Writer shares
	// (tcpdump -w FILE): no rotation, no retention. It is truncated.
	File string
	// Prefix is the first part of file names (default "espcap").
	Prefix string
	// Host is the host part of file names (default: the host name).
	Host string
	// FileSize rotates a file before a record would take it past this
	// many bytes (0: no size rotation).
	FileSize int64
	// Every rotates files older than this (0: no time rotation).
	Every time.Duration
	// MaxBytes is the most bytes the store's files may hold in total, files
	// of earlier runs included (0: no limit).
	MaxBytes int64
	// MinFree is the free-space floor in bytes; MinFreePercent the floor
	// in percent of the file system. The larger applies; 0 and 0: none.
	MinFree        int64
	MinFreePercent float64
	// BufSize is each Writer's buffer (default DefaultBufSize).
	BufSize int
	// FlushEvery is the longest time a record stays in a buffer (default
	// DefaultFlushEvery).
	FlushEvery time.Duration
	// Log reports deletions and errors (default: nothing).
	Log func(msg string)
}

// Stats counts what a store did.
type Stats struct {
	Packets uint64 // records written (buffered included)
	Bytes   int64  // bytes of the files this run wrote
	Files   int    // files this run created
	Deleted int    // files deleted by retention
	Dropped uint64 // packets not written because of a write error
}

// fileEntry is one file of the store, for retention.
type fileEntry struct {
	path  string
	start time.Time
	size  int64
	open  bool
}

// Store is a directory of rolling capture files and its retention.
type Store struct {
	cfg     Config
	statDir string

	mu      sync.Mutex // files, total, writers, stats
	files   []*fileEntry
	total   int64
	writers []*Writer
	shared  *Writer // single-file mode
	deleted int
	created int
	stuck   bool  // retention wanted to delete but only open files were left
	syncErr error // the first failure to fsync or close a file
	final   bool  // Close is closing the last files: no retention for them

	stop    chan struct{}
	stopped chan struct{}
	closed  bool

	closing  atomic.Bool   // Close was called: the repair stops
	repaired chan struct{} // closed when the repair of earlier files is done
}

// Open opens the store: it creates the directory, counts the files that
// earlier runs left there, applies retention to them, and starts the
// flusher. Close stops it.
func Open(cfg Config) (*Store, error) {
	if (cfg.Dir == "") == (cfg.File == "") {
		return nil, errors.New("pcapstore: give a directory or a file")
	}
	// absolute: the positions handed out are read back (export) from
	// anywhere
	for _, p := range []*string{&cfg.Dir, &cfg.File} {
		if *p != "" {
			abs, err := filepath.Abs(*p)
			if err != nil {
				return nil, fmt.Errorf("pcapstore: %w", err)
			}
			*p = abs
		}
	}
	if cfg.Prefix == "" {
		cfg.Prefix = Prefix
	}
	if cfg.Host == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "localhost"
		}
		cfg.Host = h
	}
	cfg.Host = sanitize(cfg.Host)
	if cfg.BufSize <= 0 {
		cfg.BufSize = DefaultBufSize
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = DefaultFlushEvery
	}
	if cfg.Log == nil {
		cfg.Log = func(string) {}
	}
	if cfg.FileSize < 0 || cfg.MaxBytes < 0 || cfg.MinFree < 0 || cfg.MinFreePercent < 0 || cfg.MinFreePercent >= 100 || cfg.Every < 0 {
		return nil, errors.New("pcapstore: negative size or duration, or a free-space floor of 100% or more")
	}
	s := &Store{cfg: cfg, stop: make(chan struct{}), stopped: make(chan struct{}), repaired: make(chan struct{})}
	if cfg.File != "" {
		s.statDir = filepath.Dir(cfg.File)
		if err := safefile.MkdirAll(s.statDir); err != nil {
			return nil, fmt.Errorf("pcapstore: %w", err)
		}
		s.shared = s.newWriter("", 0)
		s.shared.series = ""
		s.shared.turn = sync.NewCond(&s.shared.mu)
		close(s.repaired)
	} else {
		s.statDir = cfg.Dir
		if err := safefile.MkdirAll(cfg.Dir); err != nil {
			return nil, fmt.Errorf("pcapstore: %w", err)
		}
		if err := s.scan(); err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.retain()
		s.mu.Unlock()
		s.repairNewest()
	}
	go s.flusher()
	return s, nil
}

// scan counts the store files already in the directory.
func (s *Store) scan() error {
	entries, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return fmt.Errorf("pcapstore: reading %s: %w", s.cfg.Dir, err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		start, ok := ParseName(e.Name(), s.cfg.Prefix)
		if !ok {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // gone meanwhile
		}
		s.files = append(s.files, &fileEntry{path: filepath.Join(s.cfg.Dir, e.Name()), start: start, size: fi.Size()})
		s.total += fi.Size()
	}
	s.sortFiles()
	return nil
}

func (s *Store) sortFiles() {
	slices.SortStableFunc(s.files, func(a, b *fileEntry) int {
		if c := a.start.Compare(b.start); c != 0 {
			return c
		}
		return strings.Compare(a.path, b.path)
	})
}

// ParseName reports whether name is a store file name with the given
// prefix ("<prefix>-...-<start>.pcap") and returns its start time.
func ParseName(name, prefix string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(name, prefix+"-")
	if !ok {
		return time.Time{}, false
	}
	rest, ok = strings.CutSuffix(rest, Ext)
	if !ok {
		return time.Time{}, false
	}
	i := strings.LastIndexByte(rest, '-')
	if i < 0 {
		return time.Time{}, false
	}
	ts := rest[i+1:]
	if len(ts) != len(timeLayout) {
		return time.Time{}, false
	}
	t, err := time.Parse(timeLayout, ts)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// sanitize keeps a name part to letters, digits, '.', '_' and '-'.
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}

// Writer returns the writer of one worker: label names the interface
// ("file" for imports) and worker the worker. In single-file mode every
// call returns the same Writer. A Writer's Write must be called by one
// goroutine at a time, between Begin and End.
func (s *Store) Writer(label string, worker int) *Writer {
	if s.shared != nil {
		return s.shared
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newWriter(label, worker)
}

func (s *Store) newWriter(label string, worker int) *Writer {
	w := &Writer{s: s, series: fmt.Sprintf("%s-%s-%s-w%d-", s.cfg.Prefix, s.cfg.Host, sanitize(label), worker),
		q: make(chan chunk, ioBuffers+2), free: make(chan []byte, ioBuffers+maxOpen), ioDone: make(chan struct{}),
		bufSize: max(s.cfg.BufSize, 2*(RecordHeaderLen+Snaplen))}
	for range ioBuffers {
		w.free <- make([]byte, 0, w.bufSize)
	}
	go w.io()
	s.writers = append(s.writers, w)
	return w
}

// Stats returns what the store did so far.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	ws := slices.Clone(s.writers)
	st := Stats{Files: s.created, Deleted: s.deleted}
	s.mu.Unlock()
	for _, w := range ws {
		w.mu.Lock()
		lost := w.lost.Load()
		st.Packets += w.packets - lost
		st.Bytes += w.bytes.Load()
		for _, o := range w.outs {
			st.Bytes += int64(len(o.buf))
		}
		st.Dropped += w.dropped + lost
		w.mu.Unlock()
	}
	return st
}

// Close flushes and closes every Writer's file and stops the flusher. The
// Writers must not be used any more. Closing again, or a nil Store, does
// nothing.
func (s *Store) Close() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	ws := slices.Clone(s.writers)
	s.mu.Unlock()
	s.closing.Store(true)
	<-s.repaired
	close(s.stop)
	<-s.stopped
	// files rotated before: synced, closed and given to retention; the
	// last files, closed now, are not (as when they were open)
	for _, w := range ws {
		w.mu.Lock()
		w.drain() // an error is the I/O goroutine's, reported below
		w.mu.Unlock()
	}
	s.mu.Lock()
	s.final = true
	s.mu.Unlock()
	var first error
	if w := s.shared; w != nil {
		w.mu.Lock()
		if !w.used {
			// no packet: still an (empty) capture file, as tcpdump -w leaves
			_, err := w.newOut(s.cfg.File, 1, time.Now().UTC())
			w.fail(err)
		}
		w.mu.Unlock()
	}
	for _, w := range ws {
		w.mu.Lock()
		w.fail(w.closeAll())
		close(w.q)
		<-w.ioDone
		w.syncs.Wait()
		if e := w.ioErr.Load(); e != nil {
			w.fail(*e)
		}
		if w.err != nil && first == nil {
			first = w.err
		}
		w.mu.Unlock()
	}
	if first == nil {
		s.mu.Lock()
		first = s.syncErr
		s.mu.Unlock()
	}
	return first
}

// flusher writes every buffer at least every FlushEvery, and closes the
// files older than Every that no packet came to rotate.
func (s *Store) flusher() {
	defer close(s.stopped)
	t := time.NewTicker(s.cfg.FlushEvery / 2)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.mu.Lock()
			ws := slices.Clone(s.writers)
			s.mu.Unlock()
			for _, w := range ws {
				w.mu.Lock()
				for _, o := range slices.Clone(w.outs) {
					if s.cfg.Every > 0 && !w.shared() && now.Sub(o.opened) >= s.cfg.Every {
						w.fail(w.closeOut(o))
					} else if len(o.buf) > 0 && now.Sub(o.flushed) >= s.cfg.FlushEvery/2 {
						w.fail(w.flush(o))
					}
				}
				w.mu.Unlock()
			}
		}
	}
}

// opened registers a new file; added accounts n more bytes written to e.
// Both apply retention. s.mu must not be held.
func (s *Store) opened(e *fileEntry) {
	s.mu.Lock()
	s.files = append(s.files, e)
	s.created++
	if s.shared == nil {
		s.total += e.size
	}
	if n := len(s.files); n > 1 && s.files[n-2].start.After(e.start) {
		s.sortFiles()
	}
	s.retain()
	s.mu.Unlock()
}

func (s *Store) added(e *fileEntry, n int64) {
	s.mu.Lock()
	e.size += n
	if s.shared == nil {
		s.total += n
		s.retain()
	}
	s.mu.Unlock()
}

// syncClose makes a closed file durable (fsync of the file, then of its
// directory, for its name), closes it and hands it to retention. A failure
// is logged and returned by Close.
func (s *Store) syncClose(f *os.File, path string, e *fileEntry) {
	err := f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		err = fmt.Errorf("pcapstore: closing %s: %w", path, err)
		s.cfg.Log(err.Error())
		s.mu.Lock()
		if s.syncErr == nil {
			s.syncErr = err
		}
		s.mu.Unlock()
	}
	s.closedFile(e)
}

// syncDir fsyncs a directory: the names of the files created in it
// survive a power loss.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// closedFile marks e closed, so retention may delete it, and applies
// retention.
func (s *Store) closedFile(e *fileEntry) {
	s.mu.Lock()
	e.open = false
	if s.shared == nil && !s.final {
		s.retain()
	}
	s.mu.Unlock()
}

// retain deletes the oldest closed files while the store is over
// MaxBytes or the file system under its free-space floor. s.mu is held.
func (s *Store) retain() {
	i := 0 // files before i are open, here or in another process
	for s.overMax() || s.lowSpace() {
		for i < len(s.files) && (s.files[i].open || inUse(s.files[i].path)) {
			i++
		}
		if i == len(s.files) {
			if !s.stuck {
				s.cfg.Log(fmt.Sprintf("pcapstore: %s: over --write-max or under --write-min-free, but only files being written are left to delete", s.statDir))
				s.stuck = true
			}
			return
		}
		s.stuck = false
		e := s.files[i]
		why := "--write-max"
		if !s.overMax() {
			why = "--write-min-free"
		}
		err := os.Remove(e.path)
		s.files = slices.Delete(s.files, i, i+1)
		s.total -= e.size
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			s.cfg.Log(fmt.Sprintf("pcapstore: deleting %s (%s): %v", e.path, why, err))
			continue
		}
		s.deleted++
		s.cfg.Log(fmt.Sprintf("pcapstore: deleted %s (%d bytes, oldest file; %s)", e.path, e.size, why))
	}
}

// inUse reports whether another Writer, maybe of another process sharing
// the directory, has path open: it holds an exclusive lock on its files.
func inUse(path string) bool {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	return errors.Is(unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB), unix.EWOULDBLOCK)
}

func (s *Store) overMax() bool { return s.cfg.MaxBytes > 0 && s.total > s.cfg.MaxBytes }

// lowSpace reports whether the file system's free space is under the
// floor.
func (s *Store) lowSpace() bool {
	if s.cfg.MinFree == 0 && s.cfg.MinFreePercent == 0 || s.shared != nil {
		return false
	}
	var st unix.Statfs_t
	if err := unix.Statfs(s.statDir, &st); err != nil {
		return false
	}
	floor := s.cfg.MinFree
	if p := int64(float64(st.Blocks) * float64(st.Bsize) * s.cfg.MinFreePercent / 100); p > floor {
		floor = p
	}
	return int64(st.Bavail)*st.Bsize < floor
}

// Writer appends one worker's packets to its files: one open file per
// link type (usually one).
type Writer struct {
	s      *Store
	series string // file name up to the start time

	mu      sync.Mutex // held by the worker from Begin to End, and by the flusher
	outs    []*out     // the open files, oldest first
	cur     *out       // the file of the last packet
	bufSize int
	last    time.Time  // start time of the newest file
	err     error      // the first write error: the Writer writes no more
	used    bool       // a file was opened (single-file mode opens one only)
	nextSeq uint64     // BeginSeq: the batch whose turn it is
	turn    *sync.Cond // on mu: nextSeq moved
	mixed   uint64

	packets uint64 // records taken
	dropped uint64 // packets not taken after an error

	// the I/O goroutine: writes and closes the files in the order the
	// worker hands them over, and returns the buffers
	q      chan chunk
	free   chan []byte
	ioDone chan struct{}
	ioErr  atomic.Pointer[error] // its first error
	syncs  sync.WaitGroup        // closed files being synced (syncClose); Add by the I/O goroutine only
	bytes  atomic.Int64          // bytes written to files
	lost   atomic.Uint64         // records taken but not written (error)
}

// out is one open file of a Writer.
type out struct {
	f        *os.File
	entry    *fileEntry
	path     string
	buf      []byte // records not yet handed to the I/O goroutine
	recs     uint64 // records in buf
	written  int64  // bytes handed to the I/O goroutine (offset of buf[0])
	linkType uint16
	opened   time.Time // start of the file
	flushed  time.Time
}

// ioBuffers is the number of buffers of a Writer with one open file: one
// filled by the worker, the others written by the I/O goroutine, so that
// a slow disk holds the worker only when all are in flight.
const ioBuffers = 4

// maxOpen is the most files of different link types a Writer keeps open;
// a packet of yet another link type closes the oldest.
const maxOpen = 8

// chunk is the I/O goroutine's work: a buffer to write, a file to close,
// or a request to report.
type chunk struct {
	f     *os.File
	entry *fileEntry
	path  string
	off   int64 // file offset of b
	b     []byte
	recs  uint64
	close bool
	sync  chan error
}

// io is the I/O goroutine of a Writer.
func (w *Writer) io() {
	defer close(w.ioDone)
	var failed error
	for c := range w.q {
		switch {
		case c.sync != nil:
			c.sync <- failed
		case c.close:
			// fsync in the background: the next file's buffers are not
			// held up behind the disk
			w.syncs.Add(1)
			go func() {
				defer w.syncs.Done()
				w.s.syncClose(c.f, c.path, c.entry)
			}()
		default:
			if failed == nil {
				n, err := c.f.Write(c.b)
				w.bytes.Add(int64(n))
				w.s.added(c.entry, int64(n))
				if err != nil {
					failed = fmt.Errorf("writing %s at offset %d: %w", c.path, c.off+int64(n), err)
					w.ioErr.Store(&failed)
					// a short write (disk full) cut a record: back to the
					// whole records before this buffer
					if n > 0 && c.f.Truncate(c.off) == nil {
						w.bytes.Add(-int64(n))
						w.s.added(c.entry, -int64(n))
					}
				}
			}
			if failed != nil {
				w.lost.Add(c.recs)
			}
			select {
			case w.free <- c.b[:0]:
			default: // more buffers than the pool holds (files closed): garbage
			}
		}
	}
}

func (w *Writer) shared() bool { return w.series == "" }

// Begin starts a batch of Writes: it takes the Writer's lock.
func (w *Writer) Begin() { w.mu.Lock() }

// End ends a batch of Writes and releases the Writer's lock.
func (w *Writer) End() { w.mu.Unlock() }

// BeginSeq is Begin for batch seq of a run whose batches are numbered 0,
// 1, 2, ...: on the single file shared by every worker (Config.File) it
// waits until batch seq-1 has ended, so that the file holds the batches in
// order. Every batch number must then be begun once, and ended with EndSeq.
// On a worker's own Writer it is Begin.
func (w *Writer) BeginSeq(seq uint64) {
	w.mu.Lock()
	for w.shared() && w.nextSeq != seq {
		w.turn.Wait()
	}
}

// EndSeq ends a batch begun with BeginSeq.
func (w *Writer) EndSeq() {
	if w.shared() {
		w.nextSeq++
		w.turn.Broadcast()
	}
	w.mu.Unlock()
}

// Err returns the write error that stopped the Writer, if any.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Write appends one packet: its captured bytes, length on the wire, time
// (Unix ns) and LINKTYPE_* value. It returns the file the packet is in (an
// absolute path, one string for all the packets of a file) and the byte
// offset of its record header there. After a write error (logged
// once) packets are counted as dropped and Write returns "", -1. Write
// must be called between Begin and End.
func (w *Writer) Write(data []byte, origLen int, ts int64, linkType uint16) (file string, off int64) {
	if len(data) > Snaplen {
		// from a file with a larger snapshot length: cut as a capture
		// would, so that readers keep to their limits (origLen says how
		// long it was)
		data = data[:Snaplen]
	}
	need := RecordHeaderLen + len(data)
	o := w.cur
	if o == nil || o.linkType != linkType {
		o = w.find(linkType)
	}
	if o == nil || w.full(o, need) {
		var err error
		switch {
		case w.err != nil:
		case !w.shared():
			o, err = w.rotate(o, linkType)
			w.fail(err)
		case !w.used:
			o, err = w.newOut(w.s.cfg.File, linkType, time.Now().UTC())
			w.fail(err)
		case len(w.outs) > 0:
			// the single file holds one link type
			if w.mixed == 0 {
				w.s.cfg.Log(fmt.Sprintf("pcapstore: %s holds link type %d: packets of link type %d are not written to it (a --write directory takes every link type)", w.outs[0].path, w.outs[0].linkType, linkType))
			}
			w.mixed++
			w.dropped++
			return "", -1
		}
	}
	if w.err != nil || o == nil {
		w.dropped++
		return "", -1
	}
	w.cur = o
	if len(o.buf)+need > cap(o.buf) {
		if w.fail(w.flush(o)) != nil {
			w.dropped++
			return "", -1
		}
	}
	off = o.written + int64(len(o.buf))
	var sec, nsec uint32
	if ts > 0 {
		if s := ts / 1e9; s > 0xffffffff {
			sec, nsec = 0xffffffff, 999999999
		} else {
			sec, nsec = uint32(s), uint32(ts%1e9)
		}
	}
	n := len(o.buf)
	o.buf = o.buf[:n+need]
	putRecordHeader(o.buf[n:], sec, nsec, len(data), origLen)
	copy(o.buf[n+RecordHeaderLen:], data)
	w.packets++
	o.recs++
	return o.path, off
}

// find returns the open file of linkType, nil if none.
func (w *Writer) find(linkType uint16) *out {
	for _, o := range w.outs {
		if o.linkType == linkType {
			return o
		}
	}
	return nil
}

// full reports whether a record of need bytes would take o past FileSize
// (a file holds at least one record).
func (w *Writer) full(o *out, need int) bool {
	size := o.written + int64(len(o.buf))
	return w.s.cfg.FileSize > 0 && !w.shared() && size+int64(need) > w.s.cfg.FileSize && size > FileHeaderLen
}

func putRecordHeader(h []byte, sec, nsec uint32, capLen, origLen int) {
	binary.LittleEndian.PutUint32(h[0:], sec)
	binary.LittleEndian.PutUint32(h[4:], nsec)
	binary.LittleEndian.PutUint32(h[8:], uint32(capLen))
	binary.LittleEndian.PutUint32(h[12:], uint32(origLen))
}

// fail records the first error and logs it; it returns err.
func (w *Writer) fail(err error) error {
	if err != nil && w.err == nil {
		w.err = err
		w.s.cfg.Log(fmt.Sprintf("pcapstore: %v; this worker writes no more packets", err))
	}
	return err
}

// Flush writes the buffered records to the files and waits until they
// are written.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, o := range w.outs {
		if err := w.fail(w.flush(o)); err != nil {
			return err
		}
	}
	return w.fail(w.drain())
}

// drain waits until the I/O goroutine has done everything handed to it so
// far, the files it closed synced and closed included, and returns its
// error. w.mu is held, so that no file is handed over meanwhile.
func (w *Writer) drain() error {
	ch := make(chan error, 1)
	w.q <- chunk{sync: ch}
	err := <-ch
	w.syncs.Wait() // every Add was before the reply
	return err
}

// flush hands o's buffer to the I/O goroutine and takes an empty one
// (waiting while all are in flight: a disk slower than the traffic holds
// the worker). It returns the I/O goroutine's error, if any.
func (w *Writer) flush(o *out) error {
	o.flushed = time.Now()
	if e := w.ioErr.Load(); e != nil {
		// the records buffered will not be written either
		w.lost.Add(o.recs)
		o.buf, o.recs = o.buf[:0], 0
		return *e
	}
	if len(o.buf) == 0 {
		return nil
	}
	w.q <- chunk{f: o.f, entry: o.entry, path: o.path, off: o.written, b: o.buf, recs: o.recs}
	o.written += int64(len(o.buf))
	o.buf, o.recs = <-w.free, 0
	return nil
}

// closeOut flushes o and has the I/O goroutine close it after its last
// buffer.
func (w *Writer) closeOut(o *out) error {
	err := w.flush(o)
	w.q <- chunk{f: o.f, entry: o.entry, path: o.path, close: true}
	w.outs = slices.DeleteFunc(w.outs, func(x *out) bool { return x == o })
	if w.cur == o {
		w.cur = nil
	}
	// its buffer goes back to the pool, or to the garbage collector
	select {
	case w.free <- o.buf[:0]:
	default:
	}
	o.buf = nil
	return err
}

// closeAll closes every open file.
func (w *Writer) closeAll() error {
	var first error
	for len(w.outs) > 0 {
		if err := w.closeOut(w.outs[0]); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// rotate closes o (nil: a file of a new link type; the oldest open file
// is closed when maxOpen are open) and starts a new file for linkType.
func (w *Writer) rotate(o *out, linkType uint16) (*out, error) {
	if o == nil && len(w.outs) >= maxOpen {
		o = w.outs[0]
	}
	if o != nil {
		if err := w.closeOut(o); err != nil {
			return nil, err
		}
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	if !now.After(w.last) {
		now = w.last.Add(time.Millisecond)
	}
	// a name taken (by an earlier run, or another process): the next
	// millisecond
	for range 1000 {
		path := filepath.Join(w.s.cfg.Dir, w.series+now.Format(timeLayout)+Ext)
		n, err := w.newOut(path, linkType, now)
		if err == nil || !errors.Is(err, os.ErrExist) {
			return n, err
		}
		now = now.Add(time.Millisecond)
	}
	return nil, fmt.Errorf("pcapstore: no free file name in %s", w.s.cfg.Dir)
}

// newOut creates path (exclusively, except the single file, which is
// truncated), writes its header and makes it an open file of the Writer.
func (w *Writer) newOut(path string, linkType uint16, start time.Time) (*out, error) {
	flag := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if w.shared() {
		flag = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := safefile.OpenFile(path, flag)
	if err != nil {
		return nil, fmt.Errorf("pcapstore: creating %s: %w", path, err)
	}
	// while it is open: the retention of another process sharing the
	// directory leaves it alone (released when the file is closed)
	lockFile(f)
	// the header goes to the file at once: a crash before the first flush
	// leaves a valid capture without packets, not an empty file
	var h [FileHeaderLen]byte
	binary.LittleEndian.PutUint32(h[0:], Magic)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], Snaplen)
	binary.LittleEndian.PutUint32(h[20:], uint32(linkType))
	if _, err := f.Write(h[:]); err != nil {
		f.Close()
		return nil, fmt.Errorf("pcapstore: writing %s: %w", path, err)
	}
	o := &out{f: f, path: path, linkType: linkType, opened: start, flushed: time.Now(), written: FileHeaderLen,
		entry: &fileEntry{path: path, start: start, open: true, size: FileHeaderLen}}
	select {
	case o.buf = <-w.free:
	default:
		o.buf = make([]byte, 0, w.bufSize)
	}
	w.last, w.used = start, true
	w.outs = append(w.outs, o)
	w.bytes.Add(FileHeaderLen)
	w.s.opened(o.entry)
	return o, nil
}
