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
		fmt.Fprintf(p.w, "espcap-fast: skipped %s: not a capture file\n", fe.Name)
		return
	}
	fmt.Fprintf(p.w, "espcap-fast: %v\n", err)
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
