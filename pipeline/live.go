package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/espcap/espcap-fast/decode"
	"github.com/espcap/espcap-fast/encode"
	"github.com/espcap/espcap-fast/filter"
	"github.com/espcap/espcap-fast/pcapstore"
	"github.com/espcap/espcap-fast/ring"
)

// LiveRunner runs the pipeline on live capture rings. Each ring has its own
// worker, which decodes and encodes straight from the ring's frames (no
// copy) and gives a block back to the kernel as soon as its packets are
// encoded; the documents go to the sink through the same in-order writer,
// batch pool and Count logic as a file run.
//
// Frame numbers count the session's packets from 1, across interfaces; a
// worker reserves a batch's numbers together with the batch's place in the
// output, so the documents written are numbered 1, 2, 3, ... in order even
// with several workers, and --count N writes frames 1 to N.
type LiveRunner struct {
	r      *Runner
	groups []*ring.Group

	claimMu sync.Mutex
	number  uint64 // last frame number handed out

	abort atomic.Bool // the writer stopped (Count reached, sink failed): do not drain
}

// NewLive returns a LiveRunner reading every ring of groups, one worker per
// ring (cfg.Workers is ignored), and sending documents to sink. cfg.BPF is
// ignored too: the kernel filters (see ring.Config.BPF).
func NewLive(cfg Config, sink Sink, groups []*ring.Group) (*LiveRunner, error) {
	if len(groups) == 0 {
		return nil, errors.New("pipeline: live capture without interfaces")
	}
	cfg.Workers = 0
	for _, g := range groups {
		cfg.Workers += len(g.Rings())
	}
	cfg.BPF = ""
	// (live workers read the rings, not the Runner's work channel)
	r, err := newRunner(cfg, sink, newLiveBatch)
	if err != nil {
		return nil, err
	}
	return &LiveRunner{r: r, groups: groups}, nil
}

// flowIdleMargin is how far behind the clock a flow tick expires flows: a
// packet still in a ring block the kernel has not handed over yet (block
// timeout) must not find its flow ended.
const flowIdleMargin = 2 * time.Second

// flowTicks sends a packetless batch to the writer every second until ctx
// ends, so that the flow stage expires idle flows (and writes their
// documents) while no packet arrives; on a busy link packets do it too.
func (l *LiveRunner) flowTicks(ctx context.Context) {
	r := l.r
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var b *Batch
		select {
		case b = <-r.free:
		case <-ctx.Done():
			return
		}
		b.reset()
		b.tick = time.Now().Add(-flowIdleMargin).UnixNano()
		l.claimMu.Lock()
		b.seq = r.seq
		r.seq++
		l.claimMu.Unlock()
		r.done <- b
	}
}

// newLiveBatch makes a batch without packet storage: live packets stay in
// the ring.
func newLiveBatch() *Batch {
	return &Batch{
		recs: make([]record, 0, BatchPackets),
		out:  make([]byte, 0, BatchBytes),
	}
}

// FlowStats reports the flow stage's counters once Run has returned (see
// Runner.FlowStats).
func (l *LiveRunner) FlowStats() (flows, evicted, capped uint64) { return l.r.FlowStats() }

// Stats returns the run's counters: Packets counts the packets taken from
// the rings (decoded), Docs the documents written.
func (l *LiveRunner) Stats() *Stats { return &l.r.Stats }

// Groups returns the capture groups the runner reads.
func (l *LiveRunner) Groups() []*ring.Group { return l.groups }

// Run captures until ctx is cancelled, Count documents are written, the
// sink fails or a ring fails. When ctx is cancelled (a signal, a duration)
// the rings are drained: no packet enters them any more, and every packet
// the kernel had already accepted is decoded and written before Run
// returns. Run does not close the groups.
func (l *LiveRunner) Run(ctx context.Context) error {
	r := l.r
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()

	writeErr := make(chan error, 1)
	go func() {
		writeErr <- r.writer(func() {
			l.abort.Store(true)
			stopReading()
		})
	}()

	// on stop: let nothing more in, then wake the workers
	stopped := make(chan struct{})
	var quiesceErr error
	go func() {
		defer close(stopped)
		<-readCtx.Done()
		for _, g := range l.groups {
			if err := g.Quiesce(); err != nil && quiesceErr == nil {
				quiesceErr = err
			}
			g.Stop()
		}
	}()

	start := strconv.FormatInt(time.Now().UnixNano(), 10)
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var readErr error
	for _, g := range l.groups {
		src := &Source{ID: "live-" + g.Interface() + "-" + start, Interfaces: []string{g.Interface()}}
		for i, rg := range g.Rings() {
			var store *pcapstore.Writer
			if r.cfg.Store != nil {
				store = r.cfg.Store.Writer(g.Interface(), i)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := l.worker(g, rg, src, store); err != nil {
					errMu.Lock()
					if readErr == nil {
						readErr = err
					}
					errMu.Unlock()
					stopReading()
				}
			}()
		}
	}
	if r.flows != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.flowTicks(readCtx)
		}()
	}
	wg.Wait()
	stopReading()
	<-stopped
	close(r.done)
	err := <-writeErr
	switch {
	case readErr != nil:
		return readErr
	case err != nil:
		return err
	}
	return quiesceErr
}

// worker reads one ring until the group is stopped, then drains it unless
// the writer needs no more documents.
func (l *LiveRunner) worker(g *ring.Group, rg *ring.Ring, src *Source, store *pcapstore.Writer) error {
	w := liveWorker{
		l:     l,
		src:   src,
		lt:    g.LinkType(),
		dec:   decode.NewDecoder(),
		enc:   encode.NewEncoder(l.r.cfg.Protocols),
		store: store,
	}
	w.meta.Interface = g.Interface()
	if p := g.TaggedFilter(); p != nil {
		w.tagged = p.Matcher()
	}
	for {
		blk, err := rg.Next(-1)
		if errors.Is(err, ring.ErrStopped) {
			break
		}
		if err != nil {
			return fmt.Errorf("capturing on %s: %w", g.Interface(), err)
		}
		w.block(blk)
	}
	// drain: Quiesce let nothing more in; the block the kernel was filling
	// is handed over within DrainTimeout
	for !l.abort.Load() {
		blk, err := rg.Drain(g.DrainTimeout())
		if err != nil {
			return fmt.Errorf("draining %s: %w", g.Interface(), err)
		}
		if blk == nil {
			break
		}
		w.block(blk)
	}
	return nil
}

// liveWorker is one ring's decoder and encoder.
type liveWorker struct {
	l    *LiveRunner
	src  *Source
	lt   uint16
	dec  *decode.Decoder
	enc  *encode.Encoder
	meta encode.Meta
	// tagged decides for the frames the kernel filter let through
	// because they had a VLAN tag (nil: no filter)
	tagged *filter.Matcher
	pkts   [BatchPackets]ring.Packet
	store  *pcapstore.Writer // --write (nil: none)
	pos    [BatchPackets]storePos
	hdr    decode.FlowHeader // FlowConfig.light's
}

// storePos is where the store wrote a packet.
type storePos struct {
	file string
	off  int64
}

// room reports whether b can keep a copy of an n-byte frame for the flow
// stage (FlowConfig.light): with --records flows a live batch gets room for
// BatchBytes of frames, made once and reused.
func (w *liveWorker) room(b *Batch, fc *FlowConfig, n int) bool {
	if fc.Packets {
		return false
	}
	if cap(b.data) == 0 {
		b.data = make([]byte, 0, BatchBytes)
	}
	return cap(b.data)-len(b.data) >= n
}

// write writes the first n packets of w.pkts, batch seq, to the pcap store
// before any is decoded (the documents point into the store; a single
// file shared by the workers gets the batches in order).
func (w *liveWorker) write(seq uint64, n int) {
	w.store.BeginSeq(seq)
	defer w.store.EndSeq()
	for i := range n {
		p := &w.pkts[i]
		w.pos[i].file, w.pos[i].off = w.store.Write(p.Data, p.Len, p.Timestamp, w.lt)
	}
}

// block decodes and encodes a block's packets into batches of at most
// BatchPackets documents, hands them to the writer and releases the block.
func (w *liveWorker) block(blk *ring.Block) {
	defer blk.Release()
	l, r := w.l, w.l.r
	for blk.Remaining() > 0 && !l.abort.Load() {
		// a batch first, then its place in the output: a worker holding
		// a place never waits for a batch, so the writer never waits for
		// a worker that waits for it
		b := <-r.free
		b.reset()
		b.src = w.src
		// the packets of this batch first (no copy: slices of the ring),
		// so that frame numbers are only given to packets kept
		n := 0
		for n < len(w.pkts) && blk.Next(&w.pkts[n]) {
			p := &w.pkts[n]
			if p.TagRestored && w.tagged != nil && !w.tagged.Match(p.Data, p.Len) {
				r.Stats.Filtered.Add(1)
				continue
			}
			n++
		}
		l.claimMu.Lock()
		b.seq = r.seq
		r.seq++
		number := l.number
		l.number += uint64(n)
		l.claimMu.Unlock()
		if w.store != nil {
			w.write(b.seq, n)
		}
		for i := range n {
			number++
			p := &w.pkts[i]
			if i+1 < n {
				decode.Prefetch(w.pkts[i+1].Data)
			}
			rec := record{data: p.Data, origLen: p.Len, ts: p.Timestamp, number: number, linkType: w.lt}
			if w.store != nil && w.pos[i].file != "" {
				rec.pcapFile, rec.pcapOff = w.pos[i].file, w.pos[i].off
			}
			if fc := r.cfg.Flows; fc != nil && fc.light(&rec, b.flowPacket(len(b.recs)), &w.hdr, p.Data, w.room(b, fc, len(p.Data))) {
				if w.hdr.Payload > 0 {
					// the flow stage decodes it if its flow
					// wants it, after the block is released
					rec.data = b.copyIn(p.Data)
				}
				b.recs = append(b.recs, rec)
				continue
			}
			dp := w.dec.Decode(p.Data, w.lt, p.Len)
			if fc := r.cfg.Flows; fc != nil && !fc.track(&rec, b.flowPacket(len(b.recs)), dp, &w.meta) {
				// --records flows: no packet document, but the flow
				// stage (in the writer) sees the packet
				rec.docEnd = -1
				b.recs = append(b.recs, rec)
				continue
			}
			w.meta.Timestamp = p.Timestamp
			w.meta.Number = number
			w.meta.PcapFile, w.meta.PcapOffset = rec.pcapFile, rec.pcapOff
			w.meta.CapLen, w.meta.OrigLen = len(p.Data), p.Len
			rec.docOff = len(b.out)
			b.out = w.enc.Encode(b.out, &w.meta, dp)
			rec.docEnd, rec.malformed = len(b.out), dp.Has(decode.FlagMalformed)
			b.recs = append(b.recs, rec)
			b.out = append(b.out, '\n')
		}
		r.Stats.Packets.Add(uint64(len(b.recs)))
		r.done <- b
	}
}
