package main

// The spool between the encoders and the bulk indexers (--spool): the
// capture side appends each pipeline batch to it and never waits on the
// cluster while it has room; a drain goroutine feeds the indexers and
// acknowledges a batch once the cluster answered every document of it.
// See docs/ELASTICSEARCH.md, "Spool".

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/espcap/espcap-fast/bulk"
	"github.com/espcap/espcap-fast/internal/statedir"
	"github.com/espcap/espcap-fast/pipeline"
	"github.com/espcap/espcap-fast/spool"
)

// spoolFlags are the spool's flags.
type spoolFlags struct {
	dir      string
	max      int64
	mem      int64 // -1: the default
	noSpool  bool
	full     string
	stateDir string
	live     bool // live capture: the spool is on by default
	forced   bool // the drain subcommand
}

// spoolMax is the --spool-max and --spool-mem flag (sizes up to
// exabytes; zero when zero is set).
type spoolMax struct {
	n    *int64
	zero bool
}

func (m spoolMax) String() string {
	if m.n == nil {
		return ""
	}
	return strconv.FormatInt(*m.n, 10)
}

func (m spoolMax) Set(s string) error {
	if m.zero && strings.TrimSpace(s) == "0" {
		*m.n = 0
		return nil
	}
	n, err := parseSize(s, 1<<62)
	if err == nil {
		*m.n = n
	}
	return err
}

// registerSpoolFlags defines the spool flags on fs.
func registerSpoolFlags(fs *flag.FlagSet) *spoolFlags {
	f := &spoolFlags{max: spool.DefaultMaxBytes, mem: -1}
	fs.StringVar(&f.dir, "spool", "", "spool directory between capture and the indexers (default for live capture with --node: <state dir>/spool; file imports: none)")
	fs.Var(spoolMax{n: &f.max}, "spool-max", "most bytes the spool may hold on disk (e.g. 10G, 500M)")
	fs.Var(spoolMax{n: &f.mem, zero: true}, "spool-mem", "most bytes of batches the spool passes through memory while the indexers keep up (default: --spool-max/16, at most 64MiB; 0: every batch goes through the disk, which survives kill -9)")
	fs.BoolVar(&f.noSpool, "no-spool", false, "no spool: capture waits on the indexers")
	fs.StringVar(&f.full, "spool-full", "block", "when the spool is full: block (capture waits; the kernel drops) or drop (newest documents dropped and counted)")
	fs.StringVar(&f.stateDir, "state-dir", "", "state directory (default $ESPCAP_STATE_DIR, /var/lib/espcap-fast as root, else $XDG_STATE_HOME/espcap-fast or ~/.local/state/espcap-fast)")
	return f
}

// resolve returns the spool directory, "" when there is no spool.
func (f *spoolFlags) resolve() (string, error) {
	if f == nil {
		return "", nil
	}
	if f.stateDir != "" {
		statedir.Set(f.stateDir)
	}
	switch {
	case f.full != "block" && f.full != "drop":
		return "", fmt.Errorf("--spool-full is block or drop, not %q", f.full)
	case f.noSpool && f.dir != "":
		return "", errors.New("give either --spool or --no-spool")
	case f.noSpool:
		return "", nil
	case f.dir != "":
		return f.dir, nil
	case f.live || f.forced:
		d, err := statedir.Sub("spool")
		if err != nil {
			return "", fmt.Errorf("spool: %w (--spool DIR chooses another place, --no-spool none)", err)
		}
		return d, nil
	}
	return "", nil
}

// spoolStage connects an indexSink to its spool.
type spoolStage struct {
	sp     *spool.Spool
	dir    string
	drop   bool
	max    int64
	ix     *bulk.Indexer
	warn   func(error)
	addCtx context.Context // the sink's context: ends on abort or flush timeout

	ctx      context.Context // drain lifetime
	stop     context.CancelFunc
	drained  chan struct{}
	stopSync func()
	fatal    atomic.Pointer[error]
	pending  bool // documents handed to the indexer since its last flush (drain goroutine)
	buf      []byte
	id       []byte
	dropOnce sync.Once
	closed   bool
	waited   atomic.Int64 // batches for which capture waited for room (--spool-full block)
	opened   time.Time
	// the import state (watch.go): documents appended by this run, left
	// by an earlier one (base), acknowledged, and who is told of acks
	appended atomic.Int64
	base     int64
	acked    atomic.Int64
	onAck    atomic.Pointer[func(acked int64)]
	// indices names every index the drain sent to (drain goroutine; read
	// after finish): an earlier run's documents go to indices this run
	// never named
	indices map[string]bool
}

// openSpoolStage opens the spool dir (from f.resolve; "": none) and starts draining it into
// ix: what an earlier run left is indexed first.
func openSpoolStage(f *spoolFlags, dir string, ix *bulk.Indexer, addCtx context.Context, w io.Writer, warn func(error)) (*spoolStage, error) {
	if dir == "" {
		return nil, nil
	}
	mem := f.mem
	switch {
	case mem < 0:
		mem = min(spool.DefaultMemBytes, f.max/16)
	case mem == 0:
		mem = -1 // the spool's "no memory path"
	}
	sp, err := spool.Open(dir, spool.Options{
		MaxBytes: f.max,
		MemBytes: mem,
		Logf:     func(format string, args ...any) { warn(fmt.Errorf(format, args...)) },
	})
	if err != nil {
		return nil, fmt.Errorf("%w (--spool DIR chooses another place, --no-spool none)", err)
	}
	p := &spoolStage{sp: sp, dir: dir, drop: f.full == "drop", max: f.max, ix: ix, warn: warn, addCtx: addCtx, drained: make(chan struct{}), opened: time.Now(), indices: map[string]bool{}}
	p.base = sp.Stats().Unacked
	if st := sp.Stats(); st.Unacked > 0 {
		fmt.Fprintf(w, "espcap-fast: spool %s: %d documents (%d bytes) left by an earlier run: indexing them first\n", dir, st.Unacked, st.Bytes)
	}
	p.ctx, p.stop = context.WithCancel(context.Background())
	go p.drain()
	p.stopSync = every(time.Second, func() {
		if err := sp.Sync(); err != nil && !errors.Is(err, spool.ErrClosed) {
			warn(err)
		}
	})
	return p, nil
}

// appendRecord appends one spooled document: uvarint lengths of the index
// name, the _id and the document, then the three. A document sent with an
// external version (a flow document, bulk action "index") is preceded by a
// zero byte and the uvarint version: no plain record starts with a zero,
// since an index name is never empty, so spools written before versions
// existed still read the same.
func appendRecord(dst []byte, index string, id, doc []byte, version int64) []byte {
	if version > 0 {
		dst = binary.AppendUvarint(append(dst, 0), uint64(version))
	}
	dst = binary.AppendUvarint(dst, uint64(len(index)))
	dst = binary.AppendUvarint(dst, uint64(len(id)))
	dst = binary.AppendUvarint(dst, uint64(len(doc)))
	dst = append(dst, index...)
	dst = append(dst, id...)
	return append(dst, doc...)
}

// spoolRecord is one decoded spool record; its slices point into the batch.
type spoolRecord struct {
	index, id, doc []byte
	version        int64 // > 0: bulk action "index" with this external version
}

// nextRecord decodes the first record of b.
func nextRecord(b []byte) (r spoolRecord, rest []byte, ok bool) {
	if len(b) > 0 && b[0] == 0 {
		v, k := binary.Uvarint(b[1:])
		if k <= 0 || v == 0 || v > math.MaxInt64 {
			return r, nil, false
		}
		r.version, b = int64(v), b[1+k:]
	}
	var n [3]uint64
	for i := range n {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return r, nil, false
		}
		n[i], b = v, b[k:]
	}
	if n[0] == 0 || n[0] > uint64(len(b)) || n[1] > uint64(len(b))-n[0] || n[2] > uint64(len(b))-n[0]-n[1] {
		return r, nil, false
	}
	r.index, b = b[:n[0]], b[n[0]:]
	r.id, b = b[:n[1]], b[n[1]:]
	r.doc = b[:n[2]]
	return r, b[n[2]:], true
}

// write appends the documents of b to the spool (the capture side).
func (p *spoolStage) write(s *indexSink, b *pipeline.Batch) error {
	if e := p.fatal.Load(); e != nil {
		s.failed.Store(true)
		return fmt.Errorf("indexing: %w", *e)
	}
	p.buf = p.buf[:0]
	docs := 0
	for i := range b.Len() {
		doc, ts, n := b.Doc(i)
		if doc == nil {
			continue
		}
		p.id = strconv.AppendUint(append(p.id[:0], s.idPrefix...), n, 10)
		p.buf = appendRecord(p.buf, s.indexFor(ts), p.id, doc, 0)
		docs++
	}
	for i := range b.Flows() {
		f := b.Flow(i)
		index, id, v := s.flowTarget(&f)
		p.buf = appendRecord(p.buf, index, id, f.Doc, v)
		docs++
	}
	if docs == 0 {
		return nil
	}
	err := p.sp.Append(p.buf, docs)
	if errors.Is(err, spool.ErrFull) && !p.drop && !errors.Is(err, syscall.ENOSPC) {
		p.waited.Add(1)
		err = p.sp.AppendWait(s.ctx, p.buf, docs)
	}
	if err == nil {
		p.appended.Add(int64(docs))
		return nil
	}
	// dropped: the spool is full with --spool-full drop, the disk is full,
	// or the run was aborted while waiting for room
	p.sp.Drop(docs)
	p.dropOnce.Do(func() {
		p.warn(fmt.Errorf("spool: dropping documents: %v (the indexers are behind; counted in the summary)", err))
	})
	if len(p.buf) > 16<<20 {
		p.buf = nil
	}
	return nil
}

var doneCtx = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// drain feeds the indexer from the spool until stopped.
func (p *spoolStage) drain() {
	defer close(p.drained)
	var index string
	for {
		b, err := p.sp.Next(doneCtx)
		if err != nil && p.ctx.Err() == nil && !errors.Is(err, spool.ErrClosed) {
			// nothing ready: send what the indexer holds, then wait
			if p.pending {
				if err := p.ix.Flush(p.addCtx); err != nil {
					p.fail(err)
					return
				}
				p.pending = false
			}
			b, err = p.sp.Next(p.ctx)
		}
		if err != nil {
			if p.ctx.Err() == nil && !errors.Is(err, spool.ErrClosed) {
				p.fail(err)
			}
			return
		}
		data := b.Data
		for len(data) > 0 {
			r, rest, ok := nextRecord(data)
			if !ok {
				p.warn(fmt.Errorf("spool %s: undecodable record in a batch of %d documents appended at %s; the rest of that batch is skipped",
					p.dir, b.Docs, b.Appended.Format(time.RFC3339)))
				break
			}
			if string(r.index) != index {
				index = string(r.index)
				p.indices[index] = true
			}
			if err := p.ix.AddWith(p.addCtx, index, r.id, r.doc, versioned(r.version)); err != nil {
				p.fail(err)
				return
			}
			data = rest
		}
		p.pending = true
		p.ix.OnAnswered(func() {
			if err := p.sp.Ack(b); err != nil && !errors.Is(err, spool.ErrClosed) {
				p.warn(err)
			}
			if n, fn := p.acked.Add(int64(b.Docs)), p.onAck.Load(); fn != nil {
				(*fn)(n)
			}
		})
	}
}

// fail records a drain error (unless the run is being aborted, which is
// not one: what was not answered stays in the spool).
func (p *spoolStage) fail(err error) {
	if p.addCtx.Err() != nil {
		return
	}
	p.fatal.CompareAndSwap(nil, &err)
	p.warn(fmt.Errorf("spool: draining into the indexers: %w", err))
}

// finish waits until everything spooled was answered (or the sink's
// context ends: abort, flush timeout), then stops the drain goroutine.
func (p *spoolStage) finish() {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for p.sp.Stats().Unacked > 0 && p.addCtx.Err() == nil && p.fatal.Load() == nil {
		select {
		case <-t.C:
		case <-p.drained:
		case <-p.addCtx.Done():
		}
	}
	p.stop()
	<-p.drained
}

// close closes the spool (after the indexer: its last answers acknowledge
// batches); what was not answered stays for the next run.
func (p *spoolStage) close(w io.Writer) (dropped int64) {
	if p.closed {
		return 0
	}
	p.closed = true
	p.stopSync()
	st := p.sp.Stats()
	if err := p.sp.Close(); err != nil {
		fmt.Fprintf(w, "espcap-fast: %v\n", err)
	}
	if st.Unacked > 0 {
		fmt.Fprintf(w, "espcap-fast: spool %s keeps %d documents not yet indexed: the next run (or espcap-fast drain --spool %s --node ...) indexes them\n", p.dir, st.Unacked, p.dir)
	}
	if st.Dropped > 0 {
		fmt.Fprintf(w, "espcap-fast: %d documents dropped: the spool was full (--spool-max %d, --spool-full %s) or its disk was; the indexers were behind\n",
			st.Dropped, p.max, map[bool]string{true: "drop", false: "block"}[p.drop])
	}
	return st.Dropped
}

// summary is the spool's part of the progress line.
func (p *spoolStage) summary() string {
	st := p.sp.Stats()
	return fmt.Sprintf("; spool %d bytes in %d segments, oldest %s, %d docs replayed from disk (%.0f/s), %d dropped (spool full)",
		st.Bytes, st.Segments, st.Oldest.Round(time.Millisecond), st.Replayed, float64(st.Replayed)/time.Since(p.opened).Seconds(), st.Dropped)
}

// runDrain is the drain subcommand: index what a stopped run left in a
// spool, then exit (0 when everything was indexed).
func runDrain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("espcap-fast drain", flag.ContinueOnError)
	quiet := fs.Bool("q", false, "no progress or summary on stderr")
	es := registerESFlags(fs)
	es.spool = registerSpoolFlags(fs)
	es.spool.forced = true
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "usage: espcap-fast drain [--spool DIR] --node URL [flags]   (default spool: <state dir>/spool)\n\n")
		printFlags(w, fs, "spool", "state-dir", "node", "q", "chunk", "indexers", "index-prefix", "index-period", "data-stream",
			"user", "password-file", "api-key-file", "ca-cert", "insecure", "dead-letter", "flush-timeout", "stats-interval")
	}
	if done, code := parseArgs(fs, args, stdout, stderr, usage); done {
		return code
	}
	es.nodeFromEnv()
	switch {
	case len(es.nodes) == 0:
		fmt.Fprintln(stderr, "espcap-fast: drain needs --node (or $ES_URL)")
		return 2
	case es.spool.noSpool:
		fmt.Fprintln(stderr, "espcap-fast: drain needs a spool (--no-spool makes no sense here)")
		return 2
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "espcap-fast: drain takes no arguments (got %q)\n", fs.Args())
		return 2
	}
	prog := newProgress(stderr, *quiet)
	idx, err := newIndexSink(es, stderr, *quiet, prog.warn)
	if err != nil {
		fmt.Fprintf(stderr, "espcap-fast: %v\n", err)
		return 1
	}
	idx.tickOnce.Do(func() { go idx.ticker() })
	return idx.finish(context.Background())
}

// dropCause says why a live capture's kernel drops happened, when the
// index sink knows ("" otherwise: then the CPU or the rings).
func (s *indexSink) dropCause() string {
	switch {
	case s.sp == nil:
		return "the capture waits on the indexers without a spool (--no-spool), or too little CPU: a spool (--spool), more --indexers, more --workers, larger rings (--block-count, --block-size)"
	case s.sp.waited.Load() > 0:
		return fmt.Sprintf("the indexers were behind and the spool was full (--spool-max %d, --spool-full block): capture waited %d times; a larger --spool-max, more --indexers or a faster cluster", s.sp.max, s.sp.waited.Load())
	}
	return ""
}
