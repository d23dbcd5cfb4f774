package main

// --watch DIR: import the capture files of a folder as they are completed
// (package watch finds them), and the import state (--state): per file its
// identity and how many of its records the sink accepted, so that a
// restarted --watch or --dir import never reads a finished file again and
// resumes a partly read one. --delete and --move-to act on a file once all
// its documents were accepted. README.md, "Watching a folder".

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/espcap/espcap-fast/internal/safefile"
	"github.com/espcap/espcap-fast/internal/statedir"
	"github.com/espcap/espcap-fast/pipeline"
	"github.com/espcap/espcap-fast/watch"
)

// watchFlags are the flags of folder watching and import state.
type watchFlags struct {
	dirs   stringList
	state  string
	del    bool
	moveTo string
}

func registerWatchFlags(fs *flag.FlagSet) *watchFlags {
	w := &watchFlags{}
	fs.Var(&w.dirs, "watch", "folder to watch: import its capture files (name order), then each new one once its writer closed it or it was renamed into place, until interrupted; repeatable (--recursive: subfolders too)")
	fs.StringVar(&w.state, "state", "", "import state file: which files were imported and how far, so that a restarted --watch or --dir import skips finished files and resumes a partly read one (default with --watch, --delete or --move-to: <state dir>/watch/<hash of the folders>.json)")
	fs.BoolVar(&w.del, "delete", false, "with --watch or --dir: delete each file once all its documents were accepted (written to stdout, answered by the server, or spooled and answered)")
	fs.StringVar(&w.moveTo, "move-to", "", "with --watch or --dir: move each file into this folder once all its documents were accepted")
	return w
}

// on reports whether the run keeps an import state.
func (w *watchFlags) on() bool {
	return len(w.dirs) > 0 || w.state != "" || w.del || w.moveTo != ""
}

// validate checks the watch flags against the rest of the run.
func (w *watchFlags) validate(o *options) error {
	if !w.on() {
		return nil
	}
	switch {
	case w.del && w.moveTo != "":
		return errors.New("give either --delete or --move-to")
	case len(o.files) > 0:
		return errors.New("--watch, --state, --delete and --move-to work with folders (--watch, --dir), not --file")
	case o.count > 0 && len(w.dirs) > 0:
		return errors.New("--count and --watch: a watch runs until interrupted; use one")
	}
	if w.moveTo != "" {
		st, err := os.Stat(w.moveTo)
		if err == nil && !st.IsDir() {
			err = errors.New("not a folder")
		}
		if err != nil {
			return fmt.Errorf("--move-to %s: %w", w.moveTo, err)
		}
	}
	return nil
}

// statePath is --state, or the default for the folders read: one state
// file per set of folders, so that two runs on different folders do not
// share one.
func (w *watchFlags) statePath(dirs []string) (string, error) {
	if w.state != "" {
		return w.state, nil
	}
	abs := make([]string, 0, len(dirs))
	for _, d := range dirs {
		a, err := filepath.Abs(d)
		if err != nil {
			return "", err
		}
		abs = append(abs, a)
	}
	sort.Strings(abs)
	sum := sha256.Sum256([]byte(strings.Join(abs, "\x00")))
	sub, err := statedir.Sub("watch")
	if err != nil {
		return "", fmt.Errorf("%w (--state FILE chooses another place)", err)
	}
	return filepath.Join(sub, hex.EncodeToString(sum[:8])+".json"), nil
}

// start sets the import up for a run: it opens the state, hooks it into
// in (and, with --watch, makes in read the watched folders), and returns
// the sink to use in place of sink. It returns a nil tracker when there
// is no import state.
func (w *watchFlags) start(o *options, in *pipeline.FileInput, sink pipeline.Sink, out *bufio.Writer, idx *indexSink,
	stderr io.Writer, warn func(error)) (*importTracker, pipeline.Sink, error) {
	if !w.on() {
		return nil, sink, nil
	}
	path, err := w.statePath(append(append([]string(nil), o.dirs...), w.dirs...))
	if err != nil {
		return nil, nil, err
	}
	st, err := watch.OpenState(path)
	if err != nil {
		return nil, nil, err
	}
	if len(w.dirs) > 0 {
		st.Prune() // files deleted or rotated away while no watch ran
	}
	t := &importTracker{st: st, inner: sink, files: map[string]*tracked{}, del: w.del, moveTo: w.moveTo,
		warn: warn, stderr: stderr, quiet: o.quiet, wake: make(chan struct{}, 1), saverDone: make(chan struct{})}
	switch {
	case idx == nil:
		t.out = out
	case idx.sp != nil:
		t.sp = idx.sp
		fn := t.spoolAcked
		idx.sp.onAck.Store(&fn)
	default:
		t.idx = idx
		t.flushWake = make(chan struct{}, 1)
		go t.flusher()
	}
	in.Resume = t.resume
	in.OnDone = t.done
	if len(w.dirs) > 0 {
		wt, err := watch.New(w.dirs, watch.Options{Recursive: o.recursive, Warn: warn})
		if err != nil {
			st.Close()
			return nil, nil, err
		}
		t.watcher = wt
		var announce sync.Once
		first := in.Paths // --dir given too: those first
		in.Next = func(ctx context.Context) (string, error) {
			if len(first) > 0 {
				p := first[0]
				first = first[1:]
				return p, nil
			}
			// said once reading runs (interrupts are handled by then)
			announce.Do(func() {
				if !o.quiet {
					fmt.Fprintf(stderr, "espcap-fast: watching %s (state %s; interrupt to stop)\n", strings.Join(w.dirs, ", "), path)
				}
			})
			p, err := wt.Next(ctx)
			if err == nil {
				in.FromDir[p] = true
			} else if ctx.Err() != nil {
				err = io.EOF // interrupted: what was read is written
			}
			return p, err
		}
	}
	go t.saver()
	return t, t, nil
}

// importTracker is the sink in front of the real one when an import state
// is kept: it follows how far each file's records were written, has them
// accepted (stdout: flushed; --node: answered; spool: answered through the
// spool), and then records them in the state, deletes or moves the file.
type importTracker struct {
	mu       sync.Mutex
	st       *watch.State // saver goroutine and under mu
	inner    pipeline.Sink
	files    map[string]*tracked // by the path read (Source.Name)
	out      *bufio.Writer       // stdout: flushed before documents count as accepted
	idx      *indexSink          // --node without spool
	sp       *spoolStage         // --node with spool
	spWait   []spoolWait         // snapshots waiting on spool answers (under mu)
	lastPush time.Time
	watcher  *watch.Watcher
	del      bool
	moveTo   string
	warn     func(error)
	stderr   io.Writer
	quiet    bool
	skipped  atomic.Int64 // files left out: imported whole by an earlier run

	qmu       sync.Mutex
	queue     [][]position // accepted snapshots for the saver
	wake      chan struct{}
	saverDone chan struct{}
	closing   atomic.Bool
	saveErr   error         // saver goroutine
	flushWake chan struct{} // --node without spool: send the indexer's batch
	closeOnce sync.Once
}

// tracked is one file being imported.
type tracked struct {
	abs      string
	id       watch.Identity
	written  uint64 // highest record number handed to the sink
	total    uint64 // records in the file (ended)
	ended    bool   // read to its end or damage: total is known
	note     string
	accepted uint64
	done     bool
}

// position is how far one file's documents were handed on, in a snapshot.
type position struct {
	path     string
	written  uint64
	complete bool
}

type spoolWait struct {
	mark int64 // spool documents acknowledged when the snapshot is accepted
	snap []position
}

// resume is FileInput.Resume: it asks the state about path.
func (t *importTracker) resume(path string) (uint64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	d, err := t.st.Decide(path)
	if err != nil {
		return 0, true // reading it reports the problem
	}
	if d.Skip {
		t.skipped.Add(1)
		if e, _ := t.st.Get(d.Path); e.Note == "" && (t.del || t.moveTo != "") {
			// accepted by an earlier run (without --delete or --move-to)
			if err := t.dispose(d.Path); err != nil {
				t.warn(err)
			} else {
				t.st.Remove(d.Path)
				t.accepted(nil) // the saver writes the state
			}
		}
		return 0, false
	}
	if d.From > 0 {
		t.warn(fmt.Errorf("note: %s: %s; resuming after record %d (state %s)", path, d.Why, d.From, t.st.Path()))
	}
	t.files[path] = &tracked{abs: d.Path, id: d.ID, written: d.From, accepted: d.From}
	return d.From, true
}

// done is FileInput.OnDone.
func (t *importTracker) done(path string, records uint64, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.files[path]
	if f == nil {
		return
	}
	f.ended, f.total = true, records
	var fe *pipeline.FileError
	switch {
	case errors.As(err, &fe) && fe.Skipped:
		f.note = "not a capture file"
	case err != nil:
		f.note = err.Error()
	}
	if f.written >= f.total {
		t.push()
	}
}

// Write hands b to the real sink and notes how far its file was written.
func (t *importTracker) Write(b *pipeline.Batch) error {
	if t.out != nil {
		// stdout: push flushes it from the reading goroutine too
		t.mu.Lock()
		defer t.mu.Unlock()
		if err := t.inner.Write(b); err != nil {
			return err
		}
	} else {
		// the index sink may wait on the spool or the indexers, whose
		// answers take mu: not under it
		if err := t.inner.Write(b); err != nil {
			return err
		}
		t.mu.Lock()
		defer t.mu.Unlock()
	}
	t.note(b)
	return nil
}

// Passed is told of a batch without documents: its packets were filtered
// out, and count as written.
func (t *importTracker) Passed(b *pipeline.Batch) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.note(b)
}

// note moves its file's written mark to b's last record (under mu).
func (t *importTracker) note(b *pipeline.Batch) {
	src := b.Source()
	if src == nil || b.Len() == 0 {
		return
	}
	f := t.files[src.Name]
	if f == nil {
		return
	}
	_, _, last := b.Doc(b.Len() - 1)
	f.written = max(f.written, last)
	if f.ended && f.written >= f.total || time.Since(t.lastPush) >= time.Second {
		t.push()
	}
}

// push has the documents written so far accepted by the sink, after which
// the saver records them (under mu).
func (t *importTracker) push() {
	t.lastPush = time.Now()
	snap := make([]position, 0, len(t.files))
	for p, f := range t.files {
		if !f.done {
			snap = append(snap, position{p, f.written, f.ended && f.written >= f.total})
		}
	}
	if len(snap) == 0 {
		return
	}
	switch {
	case t.out != nil:
		if err := t.out.Flush(); err != nil {
			return // not written: not accepted (the run reports the error)
		}
		t.accepted(snap)
	case t.idx != nil:
		// OnAnswered may call back at once: accepted only queues
		t.idx.ix.OnAnswered(func() { t.accepted(snap) })
		for _, p := range snap {
			if p.complete {
				// a file is complete: its last documents must not wait
				// in the indexer for more (a watch may stay idle)
				select {
				case t.flushWake <- struct{}{}:
				default:
				}
				break
			}
		}
	case t.sp != nil:
		t.spWait = append(t.spWait, spoolWait{t.sp.base + t.sp.appended.Load(), snap})
		t.spoolAckedLocked(t.sp.acked.Load())
	}
}

// flusher sends the indexer's current batch when asked (it waits for the
// answers, so not on the pipeline's goroutines), until the run's context
// ends.
func (t *importTracker) flusher() {
	for {
		select {
		case <-t.flushWake:
		case <-t.idx.ctx.Done():
			return
		case <-t.saverDone:
			return
		}
		if err := t.idx.ix.Flush(t.idx.ctx); err != nil && t.idx.ctx.Err() == nil && !t.closing.Load() {
			t.warn(fmt.Errorf("import state: sending the documents of finished files: %w", err))
		}
	}
}

// spoolAcked is told by the spool's drain how many documents it has seen
// answered.
func (t *importTracker) spoolAcked(acked int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.spoolAckedLocked(acked)
}

func (t *importTracker) spoolAckedLocked(acked int64) {
	n := 0
	for n < len(t.spWait) && t.spWait[n].mark <= acked {
		t.accepted(t.spWait[n].snap)
		n++
	}
	t.spWait = append(t.spWait[:0], t.spWait[n:]...)
}

// accepted queues a snapshot whose documents the sink accepted.
func (t *importTracker) accepted(snap []position) {
	t.qmu.Lock()
	t.queue = append(t.queue, snap)
	t.qmu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// saver records accepted snapshots in the state file, then deletes or
// moves the files finished, until close.
func (t *importTracker) saver() {
	defer close(t.saverDone)
	for {
		<-t.wake
		t.qmu.Lock()
		q := t.queue
		t.queue = nil
		t.qmu.Unlock()
		if len(q) > 0 {
			t.record(q)
		}
		if t.closing.Load() {
			t.qmu.Lock()
			empty := len(t.queue) == 0
			t.qmu.Unlock()
			if empty {
				return
			}
		}
	}
}

// record applies accepted snapshots to the state and saves it.
func (t *importTracker) record(q [][]position) {
	var finished []*tracked
	t.mu.Lock()
	for _, snap := range q {
		for _, p := range snap {
			f := t.files[p.path]
			if f == nil || f.done {
				continue
			}
			f.accepted = max(f.accepted, p.written)
			if p.complete {
				f.done = true
				if f.note == "" {
					// a damaged or non-capture file stays where it is
					finished = append(finished, f)
				}
				delete(t.files, p.path)
			}
			t.st.Put(watch.Entry{Path: f.abs, Identity: f.id, Records: f.accepted, Done: f.done, Note: f.note})
		}
	}
	data := t.st.Marshal()
	t.mu.Unlock()
	if err := safefile.WriteAtomic(t.st.Path(), data); err != nil {
		if t.saveErr == nil {
			t.warn(fmt.Errorf("import state: %w (files are not deleted or moved while it cannot be written)", err))
		}
		t.saveErr = err
		return
	}
	t.saveErr = nil
	if !t.del && t.moveTo == "" || len(finished) == 0 {
		return
	}
	for _, f := range finished {
		if err := t.dispose(f.abs); err != nil {
			t.warn(err)
			continue
		}
		t.mu.Lock()
		t.st.Remove(f.abs)
		t.mu.Unlock()
	}
	t.mu.Lock()
	data = t.st.Marshal()
	t.mu.Unlock()
	if err := safefile.WriteAtomic(t.st.Path(), data); err != nil {
		t.warn(fmt.Errorf("import state: %w", err))
	}
}

// dispose deletes the file at abs (--delete) or moves it (--move-to).
func (t *importTracker) dispose(abs string) error {
	if t.del {
		if err := os.Remove(abs); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("--delete: %w", err)
		}
		return nil
	}
	dst := filepath.Join(t.moveTo, filepath.Base(abs))
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("--move-to: %s exists; %s left in place", dst, abs)
	}
	err := os.Rename(abs, dst)
	if errors.Is(err, syscall.EXDEV) {
		err = moveAcross(abs, dst)
	}
	if err != nil {
		return fmt.Errorf("--move-to: %w", err)
	}
	return nil
}

// moveAcross moves a file to another file system: copy, sync, remove.
func moveAcross(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := safefile.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
		return fmt.Errorf("copying %s to %s: %w", src, dst, err)
	}
	return os.Remove(src)
}

// ran is told that the pipeline ended and stdout was flushed (flushErr):
// what was written is accepted, or (--node) will be once answered.
func (t *importTracker) ran(flushErr error) {
	if t == nil {
		return
	}
	t.mu.Lock()
	if t.watcher != nil {
		t.watcher.Close()
	}
	if t.out == nil || flushErr == nil {
		t.push()
	}
	t.mu.Unlock()
}

// close waits for the state to be saved (after the index sink finished:
// its last answers are in) and releases it.
func (t *importTracker) close() {
	if t == nil {
		return
	}
	t.closeOnce.Do(t.closeNow)
}

func (t *importTracker) closeNow() {
	t.closing.Store(true)
	select {
	case t.wake <- struct{}{}:
	default:
	}
	<-t.saverDone
	if t.sp != nil {
		t.sp.onAck.Store(nil)
	}
	if n := t.skipped.Load(); n > 0 && !t.quiet {
		fmt.Fprintf(t.stderr, "espcap-fast: %d files left out: imported whole by an earlier run (state %s)\n", n, t.st.Path())
	}
	t.st.Close()
}
