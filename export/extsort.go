package export

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/espcap/espcap-fast/internal/safefile"
)

// DefaultRunSize is the number of entries a sorter sorts in memory at once
// (about 24 MB of positions); more are spilled to a temporary file as
// sorted runs and merged.
const DefaultRunSize = 1 << 20

// maxFanIn is the most runs merged at once: more are first merged into
// longer runs, so that the readers' buffers stay bounded too.
const maxFanIn = 64

var tempSeq atomic.Uint64

// runBuf is the read buffer of each run being merged.
const runBuf = 64 << 10

// codec encodes one entry of type T in a fixed number of bytes.
type codec[T any] struct {
	size int
	put  func(b []byte, v T)
	get  func(b []byte) T
}

// sorter sorts entries with bounded memory: runSize entries are sorted in
// memory; once that many are held they are written, sorted, as one run to
// a temporary file (created with safefile in dir or $TMPDIR and unlinked
// at once, so that nothing is left behind, even by a crash), and the runs
// are merged with a heap when read. A sorter that never filled a run never
// touches the disk. Entries that compare equal come out in an unspecified
// order: cmp must order everything that matters.
type sorter[T any] struct {
	cmp     func(a, b T) int
	codec   codec[T]
	runSize int
	fanIn   int
	dir     string
	buf     []T
	f       *os.File // the runs, one after another
	w       *bufio.Writer
	end     int64 // bytes written to f
	runs    []run
	n       uint64 // entries added
	done    bool   // finish was called: no more adds
}

// run is one sorted run in the sorter's file.
type run struct {
	off int64  // byte offset
	n   uint64 // entries
}

func newSorter[T any](cmp func(a, b T) int, c codec[T], runSize int, dir string) *sorter[T] {
	if runSize <= 0 {
		runSize = DefaultRunSize
	}
	return &sorter[T]{cmp: cmp, codec: c, runSize: runSize, fanIn: maxFanIn, dir: dir}
}

// add adds one entry.
func (s *sorter[T]) add(v T) error {
	if s.done {
		return fmt.Errorf("export: internal error: sorter added to after it was read")
	}
	if len(s.buf) == cap(s.buf) {
		// double up to runSize, not past it
		s.buf = slices.Grow(s.buf, min(max(cap(s.buf), 4096), s.runSize-len(s.buf)))
	}
	s.buf = append(s.buf, v)
	s.n++
	if len(s.buf) >= s.runSize {
		return s.spill()
	}
	return nil
}

// spill writes the entries held, sorted, as one run.
func (s *sorter[T]) spill() error {
	if len(s.buf) == 0 {
		return nil
	}
	slices.SortFunc(s.buf, s.cmp)
	if s.f == nil {
		if err := s.create(); err != nil {
			return err
		}
	}
	r := run{off: s.end, n: uint64(len(s.buf))}
	b := make([]byte, s.codec.size)
	for _, v := range s.buf {
		s.codec.put(b, v)
		if _, err := s.w.Write(b); err != nil {
			return fmt.Errorf("sorting packet positions: %s: %w", s.f.Name(), err)
		}
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("sorting packet positions: %s: %w", s.f.Name(), err)
	}
	s.end += int64(r.n) * int64(s.codec.size)
	s.runs = append(s.runs, r)
	s.buf = s.buf[:0]
	return nil
}

// create opens the sorter's temporary file.
func (s *sorter[T]) create() error {
	f, err := tempFile(s.dir, "sort")
	if err != nil {
		return fmt.Errorf("sorting packet positions: %w", err)
	}
	s.f = f
	s.w = bufio.NewWriterSize(f, 1<<20)
	return nil
}

// tempFile creates a temporary file in dir ("": $TMPDIR) with safefile and
// unlinks it at once: the open file lives on until closed, and nothing is
// left behind, even by a crash.
func tempFile(dir, what string) (*os.File, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	name := filepath.Join(dir, "espcap-fast-"+what+"-"+strconv.Itoa(os.Getpid())+"-"+strconv.FormatUint(tempSeq.Add(1), 10)+".tmp")
	f, err := safefile.Create(name)
	if err != nil {
		return nil, err
	}
	os.Remove(name)
	return f, nil
}

// finish ends adding: with runs on disk the entries held are spilled too
// (the memory is freed) and runs are merged until at most fanIn are left;
// else the entries held are sorted in memory.
func (s *sorter[T]) finish() error {
	if s.done {
		return nil
	}
	s.done = true
	if len(s.runs) == 0 {
		slices.SortFunc(s.buf, s.cmp)
		return nil
	}
	if err := s.spill(); err != nil {
		return err
	}
	s.buf = nil
	for len(s.runs) > s.fanIn {
		if err := s.mergeRuns(s.fanIn); err != nil {
			return err
		}
	}
	return nil
}

// mergeRuns merges the first k runs into one written at the end of the
// file; the space of the merged runs is not reused.
func (s *sorter[T]) mergeRuns(k int) error {
	m := &merger[T]{cmp: s.cmp, codec: s.codec}
	for _, r := range s.runs[:k] {
		m.addRun(s.f, r)
	}
	out := run{off: s.end}
	b := make([]byte, s.codec.size)
	for {
		v, ok, err := m.next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		s.codec.put(b, v)
		if _, err := s.w.Write(b); err != nil {
			return fmt.Errorf("sorting packet positions: %s: %w", s.f.Name(), err)
		}
		out.n++
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("sorting packet positions: %s: %w", s.f.Name(), err)
	}
	s.end += int64(out.n) * int64(s.codec.size)
	s.runs = append(s.runs[k:], out)
	return nil
}

// merged returns a reader of all the entries in order; it may be called
// more than once (each reads everything again).
func (s *sorter[T]) merged() (*merger[T], error) {
	if err := s.finish(); err != nil {
		return nil, err
	}
	m := &merger[T]{cmp: s.cmp, codec: s.codec}
	for _, r := range s.runs {
		m.addRun(s.f, r)
	}
	if len(s.buf) > 0 {
		m.srcs = append(m.srcs, &runReader[T]{mem: s.buf})
	}
	return m, nil
}

// close frees the memory and closes (so deletes) the temporary file.
func (s *sorter[T]) close() {
	s.buf = nil
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
	s.runs = nil
}

// runReader reads one run: from the file, or from memory.
type runReader[T any] struct {
	r    *bufio.Reader
	left uint64
	mem  []T
	b    []byte
}

// merger reads sorted runs as one sorted sequence, through a heap of the
// runs' next entries.
type merger[T any] struct {
	cmp   func(a, b T) int
	codec codec[T]
	srcs  []*runReader[T]
	heads []T
	heap  []int // indices into srcs/heads
	init  bool
}

func (m *merger[T]) addRun(f *os.File, r run) {
	sz := int64(r.n) * int64(m.codec.size)
	m.srcs = append(m.srcs, &runReader[T]{
		r:    bufio.NewReaderSize(io.NewSectionReader(f, r.off, sz), runBuf),
		left: r.n,
		b:    make([]byte, m.codec.size),
	})
}

// pull reads source i's next entry into heads[i]; false when it has none.
func (m *merger[T]) pull(i int) (bool, error) {
	src := m.srcs[i]
	if src.r == nil {
		if len(src.mem) == 0 {
			return false, nil
		}
		m.heads[i], src.mem = src.mem[0], src.mem[1:]
		return true, nil
	}
	if src.left == 0 {
		return false, nil
	}
	if _, err := io.ReadFull(src.r, src.b); err != nil {
		return false, fmt.Errorf("sorting packet positions: reading a run back: %w", err)
	}
	src.left--
	m.heads[i] = m.codec.get(src.b)
	return true, nil
}

func (m *merger[T]) less(a, b int) bool {
	if c := m.cmp(m.heads[m.heap[a]], m.heads[m.heap[b]]); c != 0 {
		return c < 0
	}
	return m.heap[a] < m.heap[b] // equal entries: earlier run first
}

func (m *merger[T]) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(m.heap) {
			return
		}
		j := l
		if r := l + 1; r < len(m.heap) && m.less(r, l) {
			j = r
		}
		if !m.less(j, i) {
			return
		}
		m.heap[i], m.heap[j] = m.heap[j], m.heap[i]
		i = j
	}
}

// next returns the next entry in order; false at the end.
func (m *merger[T]) next() (T, bool, error) {
	var zero T
	if !m.init {
		m.init = true
		m.heads = make([]T, len(m.srcs))
		for i := range m.srcs {
			ok, err := m.pull(i)
			if err != nil {
				return zero, false, err
			}
			if ok {
				m.heap = append(m.heap, i)
			}
		}
		for i := len(m.heap)/2 - 1; i >= 0; i-- {
			m.down(i)
		}
	}
	if len(m.heap) == 0 {
		return zero, false, nil
	}
	i := m.heap[0]
	v := m.heads[i]
	ok, err := m.pull(i)
	if err != nil {
		return zero, false, err
	}
	if !ok {
		last := len(m.heap) - 1
		m.heap[0] = m.heap[last]
		m.heap = m.heap[:last]
	}
	m.down(0)
	return v, true, nil
}
