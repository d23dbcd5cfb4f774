package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/espcap/espcap-fast/pipeline"
)

// progress prints warnings, and on a terminal a live status line, to stderr.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	quiet bool
	tty   bool
	live  bool // a status line is on screen
	done  chan struct{}
	wg    sync.WaitGroup

	skipped []string // files that are not captures (found by --dir)
	failed  []string // the other file errors, as printed
}

// shownSkipped is how many "not a capture file" notes are printed one by
// one; the rest are counted, so that a directory of other files does not
// bury the real errors.
const shownSkipped = 3

// Write prints p (a line of another part, such as the indexing stats) on
// its own line: the live status line is cleared first.
func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLine()
	return p.w.Write(b)
}

func newProgress(w io.Writer, quiet bool) *progress {
	p := &progress{w: w, quiet: quiet}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// warn prints a problem that does not stop the run. Warnings are printed
// even with -q: a damaged file must never go unnoticed.
func (p *progress) warn(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLine()
	var fe *pipeline.FileError
	if errors.As(err, &fe) && fe.Skipped {
		p.skipped = append(p.skipped, fe.Name)
		if len(p.skipped) <= shownSkipped {
			fmt.Fprintf(p.w, "espcap-fast: skipped %s: not a capture file\n", fe.Name)
		}
		return
	}
	if fe != nil {
		p.failed = append(p.failed, err.Error())
	}
	fmt.Fprintf(p.w, "espcap-fast: %v\n", err)
}

// summarizeFiles prints, at the end of a run, how many files were skipped
// as not captures and, when those were many, the real file errors again
// so that they come last.
func (p *progress) summarizeFiles() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLine()
	if n := len(p.skipped); n > shownSkipped {
		fmt.Fprintf(p.w, "espcap-fast: skipped %d files that are not capture files (the first %d named above)\n", n, shownSkipped)
		if len(p.failed) > 0 {
			fmt.Fprintf(p.w, "espcap-fast: %d files had errors:\n", len(p.failed))
			for _, f := range p.failed {
				fmt.Fprintf(p.w, "espcap-fast:   %s\n", f)
			}
		}
	}
}

func (p *progress) clearLine() {
	if p.live {
		fmt.Fprint(p.w, "\r\033[K")
		p.live = false
	}
}

// start shows a live line (file, % of its bytes, packets/s) every half
// second while the run goes on, on a terminal only.
func (p *progress) start(st *pipeline.Stats, start time.Time) {
	if p.quiet || !p.tty {
		return
	}
	p.done = make(chan struct{})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		var lastN uint64
		last := start
		for {
			select {
			case <-p.done:
				return
			case now := <-t.C:
				n := st.Packets.Load()
				rate := float64(n-lastN) / now.Sub(last).Seconds()
				lastN, last = n, now
				name := ""
				if c := st.Current.Load(); c != nil {
					name = *c
				}
				pct := ""
				if size := st.Size.Load(); size > 0 {
					pct = fmt.Sprintf(" %3.0f%%", 100*float64(st.Bytes.Load())/float64(size))
				}
				p.mu.Lock()
				fmt.Fprintf(p.w, "\r\033[K%s%s  %d packets  %.0f packets/s", name, pct, n, rate)
				p.live = true
				p.mu.Unlock()
			}
		}
	}()
}

func (p *progress) stop() {
	if p.done != nil {
		close(p.done)
		p.wg.Wait()
	}
	p.mu.Lock()
	p.clearLine()
	p.mu.Unlock()
}
