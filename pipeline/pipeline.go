package pipeline

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/espcap/espcap-fast/decode"
	"github.com/espcap/espcap-fast/encode"
	"github.com/espcap/espcap-fast/filter"
	"github.com/espcap/espcap-fast/pcapstore"
)

// Sink receives batches with their documents, in capture order, from one
// goroutine. A batch belongs to the sink only during the call.
type Sink interface {
	Write(b *Batch) error
}

// PassSink is a Sink that is also told of the batches that had no
// documents to write (every packet filtered out, no flow ended), so that
// it knows how far each source was read (the import state).
type PassSink interface {
	Sink
	Passed(b *Batch)
}

// Config configures a run.
type Config struct {
	// Workers is the number of decode/encode goroutines (default: the
	// number of CPUs).
	Workers int
	// Count stops the run after exactly this many documents (0: no limit).
	Count uint64
	// BPF is a tcpdump filter expression applied to every packet ("": none).
	BPF string
	// Protocols names the packet's highest protocol.
	Protocols *encode.Protocols
	// Warn reports a problem that does not stop the run (a damaged file).
	Warn func(err error)
	// Flows turns on flow records (nil: packet documents only).
	Flows *FlowConfig
	// Store, when set, gets every packet the BPF filter keeps (--write):
	// file workers write as "file" worker N, live workers as their
	// interface and ring. Documents then point into the store.
	Store *pcapstore.Store
}

// Stats counts what a run did. Fields are updated atomically while it runs.
type Stats struct {
	Packets     atomic.Uint64 // packets read from the sources
	Docs        atomic.Uint64 // documents handed to the sink
	Filtered    atomic.Uint64 // packets the BPF filter dropped
	Malformed   atomic.Uint64 // documents flagged malformed
	Files       atomic.Uint64 // sources opened
	FilesFailed atomic.Uint64 // sources that could not be opened or were damaged
	Bytes       atomic.Int64  // bytes consumed from the current source
	Current     atomic.Pointer[string]
	Size        atomic.Int64 // size of the current source, -1 if unknown
}

// Runner runs one pipeline.
type Runner struct {
	cfg   Config
	sink  Sink
	Stats Stats

	free chan *Batch
	work chan *Batch
	done chan *Batch
	seq  uint64

	flows *flowStage // nil unless cfg.Flows
}

// CheckBPF compiles a --bpf expression with libpcap for Ethernet, so that
// a bad expression (or no libpcap) is an error at start rather than at the
// first packet.
func CheckBPF(expr string) error {
	if err := filter.Available(); err != nil {
		return fmt.Errorf("--bpf: %w", err)
	}
	if _, err := filter.Compile(expr, decode.LinkTypeEthernet, 262144); err != nil {
		return fmt.Errorf("--bpf: %w", err)
	}
	return nil
}

// New returns a Runner that sends documents to sink.
func New(cfg Config, sink Sink) (*Runner, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	if cfg.BPF != "" {
		if err := CheckBPF(cfg.BPF); err != nil {
			return nil, err
		}
	}
	return newRunner(cfg, sink, newBatch)
}

// newRunner returns a Runner for cfg.Workers workers with a pool of four
// batches each, made by newBatch.
func newRunner(cfg Config, sink Sink, newBatch func() *Batch) (*Runner, error) {
	if cfg.Protocols == nil {
		return nil, errors.New("pipeline: no protocols list")
	}
	if cfg.Warn == nil {
		cfg.Warn = func(error) {}
	}
	n := cfg.Workers * 4
	r := &Runner{
		cfg:  cfg,
		sink: sink,
		free: make(chan *Batch, n),
		work: make(chan *Batch, n),
		done: make(chan *Batch, n),
	}
	for i := 0; i < n; i++ {
		r.free <- newBatch()
	}
	if cfg.Flows != nil {
		r.flows = newFlowStage(*cfg.Flows)
		r.flows.warn = cfg.Warn
	}
	return r, nil
}

// Feeder is what a source uses to hand packets to the pipeline.
type Feeder struct {
	r     *Runner
	ctx   context.Context
	b     *Batch
	src   *Source
	limit uint64 // packets still allowed (Count without filter), 0 = none
	// the position of the next packet added (see SetPosition)
	pcapFile string
	pcapOff  int64
}

// SetPosition gives the next packet added its place in a capture file:
// file (absolute; "" for none) and the byte offset of its record header.
// It lasts for one packet.
func (f *Feeder) SetPosition(file string, off int64) {
	f.pcapFile, f.pcapOff = file, off
}

// Begin starts a new source. Packets added after it are attributed to src.
func (f *Feeder) Begin(src *Source) error {
	f.flush()
	f.src = src
	return f.ctx.Err()
}

// Add copies one packet into the current batch. It blocks while all
// batches are in use (backpressure) and returns the context's error when the
// run is cancelled, or errCountReached when --count packets have been read.
func (f *Feeder) Add(data []byte, origLen int, ts int64, number uint64, linkType uint16, iface int) error {
	return f.AddTS(data, origLen, ts, number, linkType, iface, false)
}

// AddTS is Add for a packet whose timestamp the reader may have saturated
// (capfile.Record.TimestampSaturated): such a packet's document is tagged
// malformed and says why.
func (f *Feeder) AddTS(data []byte, origLen int, ts int64, number uint64, linkType uint16, iface int, tsSaturated bool) error {
	return f.add(nil, data, origLen, ts, number, linkType, iface, tsSaturated)
}

// AddShared is AddTS for a packet added by reference: its bytes are not
// copied, the batch refers to data, which pin keeps valid and unchanged
// until every batch holding it has been written (see Pin). A source whose
// bytes outlive the batches — a memory-mapped file, packets in one arena —
// saves the copy; a stream (standard input, a FIFO), whose reader reuses
// its buffer, uses Add or AddTS; AddShared with a nil pin is AddTS.
func (f *Feeder) AddShared(pin *Pin, data []byte, origLen int, ts int64, number uint64, linkType uint16, iface int, tsSaturated bool) error {
	return f.add(pin, data, origLen, ts, number, linkType, iface, tsSaturated)
}

// add adds one packet: a copy when pin is nil, else by reference.
func (f *Feeder) add(pin *Pin, data []byte, origLen int, ts int64, number uint64, linkType uint16, iface int, tsSaturated bool) error {
	if pin != nil && f.b != nil && f.b.pin != pin && f.b.pin != nil {
		f.flush() // a batch holds one pin
	}
	if f.b == nil {
		select {
		case f.b = <-f.r.free:
		case <-f.ctx.Done():
			return f.ctx.Err()
		}
		f.b.reset()
		f.b.src = f.src
	}
	if pin != nil && f.b.pin == nil {
		pin.hold()
		f.b.pin = pin
	}
	f.b.add(data, pin != nil, origLen, ts, number, linkType, iface)
	rec := &f.b.recs[len(f.b.recs)-1]
	rec.tsSaturated = tsSaturated
	rec.pcapFile, rec.pcapOff = f.pcapFile, f.pcapOff
	f.pcapFile = ""
	f.r.Stats.Packets.Add(1)
	if f.b.full() {
		f.flush()
	}
	if f.limit > 0 {
		f.limit--
		if f.limit == 0 {
			return ErrCountReached
		}
	}
	return nil
}

// End marks the end of the current source.
func (f *Feeder) End() error {
	f.flush()
	return f.ctx.Err()
}

// errTimestampRange is the error of a packet whose timestamp the reader
// saturated.
var errTimestampRange = errors.New("timestamp plus if_tsoffset out of range; saturated")

// ErrCountReached tells a source that it has read all the packets --count
// can use.
var ErrCountReached = errors.New("packet count reached")

// flush hands the current batch to the workers. The work queue holds every
// batch there is, so this never blocks.
func (f *Feeder) flush() {
	if f.b == nil {
		return
	}
	b := f.b
	f.b = nil
	b.seq = f.r.seq
	f.r.seq++
	f.r.work <- b
}

// Run starts the workers and the writer, calls read to feed packets, and
// waits until every packet read has been encoded and written. Cancelling
// ctx stops reading; what was read is still written.
func (r *Runner) Run(ctx context.Context, read func(f *Feeder) error) error {
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()

	var wg sync.WaitGroup
	for i := 0; i < r.cfg.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.worker(i)
		}()
	}
	writeErr := make(chan error, 1)
	go func() { writeErr <- r.writer(stopReading) }()

	f := &Feeder{r: r, ctx: readCtx}
	if r.cfg.Count > 0 && r.cfg.BPF == "" {
		f.limit = r.cfg.Count
	}
	readErr := read(f)
	if errors.Is(readErr, ErrCountReached) || errors.Is(readErr, context.Canceled) {
		readErr = nil
	}
	// hand over the last partial batch even when reading was cancelled
	f.flush()
	close(r.work)
	wg.Wait()
	close(r.done)
	err := <-writeErr
	if readErr != nil {
		return readErr
	}
	return err
}

// worker decodes and encodes batches; worker n of the run.
func (r *Runner) worker(n int) {
	defer panicOnFault()()
	w := &fileWorker{r: r, dec: decode.NewDecoder(), enc: encode.NewEncoder(r.cfg.Protocols)}
	if r.cfg.Store != nil {
		w.store = r.cfg.Store.Writer("file", n)
	}
	if r.cfg.BPF != "" {
		w.bpf = filter.NewSet(r.cfg.BPF, 262144)
	}
	for b := range r.work {
		w.guarded(b)
		r.done <- b
	}
}

// fileWorker is one file worker's state.
type fileWorker struct {
	r     *Runner
	store *pcapstore.Writer
	dec   *decode.Decoder
	enc   *encode.Encoder
	bpf   *filter.Set
	meta  encode.Meta
	hdr   decode.FlowHeader
	at    int // the packet being decoded
}

// guarded is batch, recovering from a fault of a mapped file (see
// fault.go): the packets from the one that faulted on get no document.
func (w *fileWorker) guarded(b *Batch) {
	w.at = 0
	defer func() {
		if v := recover(); v != nil {
			if !isFault(v) {
				panic(v)
			}
			dropFrom(b, w.at, w.r.cfg.Warn)
		}
	}()
	w.batch(b)
}

// batch decodes and encodes the packets of b.
func (w *fileWorker) batch(b *Batch) {
	r, dec, enc, meta, store := w.r, w.dec, w.enc, &w.meta, w.store
	dec.Forget() // a document depends on its batch, not on the worker's earlier ones
	meta.FileName, meta.FileDate = b.src.Name, b.src.Date
	if store != nil {
		r.writeStore(store, w.bpf, b)
	}
	// how far ahead frames are prefetched: the next one while a frame is
	// decoded and encoded; several ahead where most frames are only
	// parsed (FlowConfig.light), which is shorter than the wait for memory
	ahead := 1
	if fc := r.cfg.Flows; fc != nil && !fc.Packets {
		ahead = lightAhead
	}
	for i := range b.recs {
		w.at = i
		rec := &b.recs[i]
		data := b.packet(i)
		if i+ahead < len(b.recs) {
			decode.Prefetch(b.packet(i + ahead))
		}
		if rec.filtered || store == nil && !r.keep(w.bpf, b, rec, data) {
			continue
		}
		if fc := r.cfg.Flows; fc != nil && fc.light(rec, b.flowPacket(i), &w.hdr, data, true) {
			continue
		}
		p := dec.Decode(data, rec.linkType, rec.origLen)
		if rec.tsSaturated {
			p.Flags |= decode.FlagMalformed
			if p.Err == nil {
				p.Err, p.ErrKind = errTimestampRange, decode.KindNone
			}
		}
		if fc := r.cfg.Flows; fc != nil && !fc.track(rec, b.flowPacket(i), p, meta) {
			continue
		}
		meta.Timestamp = rec.ts
		meta.Number = rec.number
		meta.PcapFile, meta.PcapOffset = rec.pcapFile, rec.pcapOff
		meta.CapLen, meta.OrigLen = len(data), rec.origLen
		meta.Interface = ""
		if ifs := b.src.Interfaces; int(rec.iface) < len(ifs) {
			meta.Interface = ifs[rec.iface]
		}
		rec.docOff = len(b.out)
		b.out = enc.Encode(b.out, meta, p)
		rec.docEnd = len(b.out)
		b.out = append(b.out, '\n')
		rec.malformed = p.Has(decode.FlagMalformed)
	}
}

// lightAhead is the prefetch distance, in frames, of a worker whose frames
// are mostly only parsed (FlowConfig.light): 4 to 8 gave the parser about
// 40 % more packets per CPU-second than 1 (BenchmarkFlowHeader).
const lightAhead = 6

// keep applies the BPF filter (nil: none) to a packet of b: false when the
// filter drops it (counted) or fails (b.failed).
func (r *Runner) keep(bpf *filter.Set, b *Batch, rec *record, data []byte) bool {
	if bpf == nil {
		return true
	}
	ok, err := bpf.Match(int(rec.linkType), data, rec.origLen)
	if err != nil && b.failed == nil {
		b.failed = err
	}
	if !ok {
		r.Stats.Filtered.Add(1)
	}
	return ok
}

// writeStore writes the packets of b that the filter keeps to the pcap store
// (--write), and marks the others filtered, before any is decoded: the
// documents point into the store, and a single file shared by the workers
// (-w FILE) gets the batches in order while the workers decode in
// parallel.
func (r *Runner) writeStore(w *pcapstore.Writer, bpf *filter.Set, b *Batch) {
	w.BeginSeq(b.seq)
	defer w.EndSeq()
	for i := range b.recs {
		rec := &b.recs[i]
		data := b.packet(i)
		if !r.keep(bpf, b, rec, data) {
			rec.filtered = true
			continue
		}
		// (not written, after a write error: the source position stays)
		if f, off := w.Write(data, rec.origLen, rec.ts, rec.linkType); f != "" {
			rec.pcapFile, rec.pcapOff = f, off
		}
	}
}

// writer hands batches to the sink in sequence order and enforces Count.
func (r *Runner) writer(stopReading func()) error {
	defer panicOnFault()() // the flow stage reads mapped frames (see fault.go)
	pending := make([]*Batch, cap(r.free))
	next := uint64(0)
	var docs uint64
	var sinkErr error
	var filterErr error
	stopped := false
	for b := range r.done {
		pending[b.seq%uint64(len(pending))] = b
		for {
			slot := next % uint64(len(pending))
			b := pending[slot]
			if b == nil || b.seq != next {
				break
			}
			pending[slot] = nil
			next++
			if b.failed != nil && filterErr == nil {
				filterErr = b.failed
				stopReading()
				stopped = true
			}
			if !stopped && sinkErr == nil {
				if r.flows != nil {
					r.flows.batch(b)
				}
				n, malformed := r.trim(b, &docs)
				if n > 0 || len(b.out) > 0 {
					if err := r.sink.Write(b); err != nil {
						sinkErr = err
						stopReading()
					}
				} else if ps, ok := r.sink.(PassSink); ok {
					ps.Passed(b)
				}
				r.Stats.Docs.Add(uint64(n))
				r.Stats.Malformed.Add(uint64(malformed))
				if r.cfg.Count > 0 && docs >= r.cfg.Count {
					stopped = true
					stopReading()
				}
			}
			b.unpin() // the sink is done with it: a mapped file may go
			r.free <- b
		}
	}
	if r.flows != nil && !stopped && sinkErr == nil {
		if err := r.flushFlows(); err != nil {
			sinkErr = err
		}
	}
	if sinkErr != nil {
		return sinkErr
	}
	if filterErr != nil {
		return fmt.Errorf("--bpf: %w", filterErr)
	}
	return nil
}

// flushFlows writes the flows still tracked at the end of the run.
func (r *Runner) flushFlows() error {
	b := <-r.free
	defer func() { r.free <- b }()
	b.reset()
	r.flows.flush(b)
	if len(b.out) == 0 {
		return nil
	}
	return r.sink.Write(b)
}

// trim cuts the batch's documents at Count and returns how many documents
// it holds and how many of them are flagged malformed.
func (r *Runner) trim(b *Batch, docs *uint64) (n, malformed int) {
	for i := range b.recs {
		rec := &b.recs[i]
		if rec.docEnd < 0 {
			continue
		}
		if r.cfg.Count > 0 && *docs >= r.cfg.Count {
			b.cutOut(rec.docOff)
			for j := i; j < len(b.recs); j++ {
				b.recs[j].docEnd = -1
			}
			break
		}
		*docs++
		n++
		if rec.malformed {
			malformed++
		}
	}
	return n, malformed
}

// Elapsed is a helper for summaries: the time since start, rounded.
func Elapsed(start time.Time) time.Duration {
	return time.Since(start).Round(time.Millisecond)
}
