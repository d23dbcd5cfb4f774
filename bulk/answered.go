package bulk

import "sync"

// answered tracks which batches are finished (every item indexed, a
// duplicate, or dead-lettered), in batch sequence order, and runs the
// callbacks registered with OnAnswered.
type answered struct {
	mu      sync.Mutex
	nextSeq uint64          // sequence number of the next batch (guarded by Indexer.mu)
	upTo    uint64          // every batch with seq <= upTo is finished
	above   map[uint64]bool // finished batches beyond upTo
	waiting []waiter        // by seq
}

type waiter struct {
	seq uint64
	fn  func()
}

// OnAnswered calls fn once every document added before this call has been
// answered by the cluster: stored, a 409 duplicate, or dead-lettered. It
// is how a caller learns that it may forget documents it keeps elsewhere
// (the spool acknowledges its batches this way). Callbacks run in the
// order they were registered, on an indexer goroutine (or at once, when
// nothing is pending); fn must be quick and must not call the Indexer.
// Documents abandoned by an abort (Close with an expired context) are not
// answered: callbacks waiting on them are never called.
func (ix *Indexer) OnAnswered(fn func()) {
	ix.mu.Lock()
	seq := ix.answers.nextSeq // the batch being filled
	if ix.closed || ix.cur == nil || len(ix.cur.items) == 0 {
		seq-- // only the batches already handed out matter
	}
	a := &ix.answers
	a.mu.Lock()
	ix.mu.Unlock()
	defer a.mu.Unlock()
	if seq <= a.upTo {
		fn()
		return
	}
	a.waiting = append(a.waiting, waiter{seq, fn})
}

// batchSeq gives the next batch sequence number (under Indexer.mu).
func (a *answered) batchSeq() uint64 {
	a.nextSeq++
	return a.nextSeq
}

// finished records that batch seq was answered and runs the callbacks
// that no longer wait on anything; aborted: nothing runs any more.
func (a *answered) finished(seq uint64, aborted bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if aborted {
		a.waiting = nil
		return
	}
	if seq != a.upTo+1 {
		if a.above == nil {
			a.above = map[uint64]bool{}
		}
		a.above[seq] = true
		return
	}
	a.upTo++
	for a.above[a.upTo+1] {
		delete(a.above, a.upTo+1)
		a.upTo++
	}
	n := 0
	for n < len(a.waiting) && a.waiting[n].seq <= a.upTo {
		a.waiting[n].fn()
		a.waiting[n] = waiter{}
		n++
	}
	if n > 0 {
		a.waiting = append(a.waiting[:0], a.waiting[n:]...)
	}
}
