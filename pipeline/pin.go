package pipeline

import (
	"sync/atomic"

	"github.com/espcap/espcap-fast/capfile"
)

// Pin keeps the bytes of packets added by reference (Feeder.AddShared)
// valid: a source whose bytes outlive the batches that refer to them — a
// memory-mapped capture file, an arena — makes one with NewPin, and the
// pipeline calls its release function once the last batch holding one of
// its packets has been written and the source has said that it adds no
// more (Unpin). Until then the bytes must stay valid and unchanged.
//
// Each batch that takes packets of a Pin holds one reference on it, the
// source one more from NewPin to its Unpin; so a file is released while
// the next one is read, without waiting for the pipeline to drain.
type Pin struct {
	refs    atomic.Int64
	release func()
}

// NewPin returns a Pin holding one reference, the source's, which its
// Unpin drops. release (nil: nothing to do) runs once, on the goroutine
// that drops the last reference: the source's or the pipeline's writer.
func NewPin(release func()) *Pin {
	p := &Pin{release: release}
	p.refs.Store(1)
	return p
}

func (p *Pin) hold() { p.refs.Add(1) }

// Unpin drops one reference: the source calls it once, after its last
// AddShared with the Pin (also when adding failed); the pipeline drops
// the batches' references.
func (p *Pin) Unpin() {
	switch n := p.refs.Add(-1); {
	case n == 0 && p.release != nil:
		p.release()
	case n < 0:
		panic("pipeline: Pin unpinned more often than held")
	}
}

// pinReader returns a Pin that closes r once the batches holding its
// records have been written, when r's records stay valid until it is
// closed (a mapped file); nil when r reuses its buffer (standard input, a
// FIFO, a compressed file), whose records are copied.
func pinReader(r *capfile.Reader) *Pin {
	if !r.Stable() {
		return nil
	}
	return NewPin(func() { r.Close() })
}

// closeReader closes r when the source is done with it: now, or with a
// Pin once the last batch holding its records has been written.
func closeReader(r *capfile.Reader, pin *Pin) {
	if pin == nil {
		r.Close()
		return
	}
	pin.Unpin()
}
