package pipeline

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/espcap/espcap-fast/capfile"
)

// A capture file read through a memory mapping (capfile.OpenMapped) that
// another process truncates or overwrites in place while it is read makes
// the reads past its new end fault (SIGBUS), which would end the process.
// The goroutines that read mapped bytes — the file reader, the workers and
// the flow stage — make such a fault a panic (debug.SetPanicOnFault) and
// recover from it: the file is reported damaged, with the offset or frame
// reached, as a file cut short is, and the run goes on.

// errChanged is the error of a file whose mapping faulted.
var errChanged = errors.New("the file changed while it was read (truncated or overwritten in place)")

// panicOnFault makes a memory fault on the calling goroutine a panic that
// recover can catch; the returned function restores what it was.
func panicOnFault() (restore func()) {
	old := debug.SetPanicOnFault(true)
	return func() { debug.SetPanicOnFault(old) }
}

// isFault reports whether a value recovered from a panic is a memory fault
// (the runtime.Error of debug.SetPanicOnFault, which has the address).
func isFault(v any) bool {
	if _, ok := v.(runtime.Error); !ok {
		return false
	}
	_, ok := v.(interface{ Addr() uintptr })
	return ok
}

// nextRecord is r.Next, with a fault of a mapped file as an error naming
// the offset reached (the caller's goroutine panics on faults).
func nextRecord(r *capfile.Reader, rec *capfile.Record) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if !isFault(v) {
				panic(v)
			}
			err = fmt.Errorf("at byte offset %d: %w", r.Offset(), errChanged)
		}
	}()
	return r.Next(rec)
}

// dropFrom gives the packets of b from index from on no document and no
// flow (a fault while they were decoded), cuts b.out after the last
// document before them, and reports the damage through warn.
func dropFrom(b *Batch, from int, warn func(error)) {
	end := 0
	for i := from - 1; i >= 0; i-- {
		if b.recs[i].docEnd >= 0 {
			end = b.recs[i].docEnd + 1
			break
		}
	}
	b.out = b.out[:end]
	for i := from; i < len(b.recs); i++ {
		rec := &b.recs[i]
		rec.docEnd, rec.hasFlow, rec.light = -1, false, false
	}
	if from < len(b.recs) {
		warn(&FileError{Name: b.src.Name, Err: fmt.Errorf("frames %d to %d left out: %w",
			b.recs[from].number, b.recs[len(b.recs)-1].number, errChanged)})
	}
}
