package pipeline

import (
	"fmt"

	"github.com/espcap/espcap-fast/decode"
	"github.com/espcap/espcap-fast/encode"
	"github.com/espcap/espcap-fast/flow"
)

// FlowConfig turns on flow records (--records flows or both).
type FlowConfig struct {
	// Table configures the flow table (its Emit is the pipeline's).
	Table flow.Config
	// Packets keeps packet documents (--records both).
	Packets bool
	// MaxPacketsPerFlow, when positive, writes packet documents only for
	// the first MaxPacketsPerFlow packets of each flow in each direction;
	// the others are counted in the flow document only.
	MaxPacketsPerFlow uint64
}

// flowIDPlaceholder stands for a packet's flow.id until the flow stage
// knows it: workers encode packets in parallel, the flow table sees them in
// capture order in the writer and writes the ID over the placeholder.
var flowIDPlaceholder = []byte("______________________")

// flowIDTail is what follows the flow.id at the end of a packet document
// (see encode.Meta.FlowID): the closing quote and two braces.
const flowIDTail = 3

// flowStage tracks flows in the writer goroutine, in capture order: one
// table, no locks. It assigns flow IDs to packet documents, drops those
// over MaxPacketsPerFlow, and interleaves flow documents with them.
type flowStage struct {
	tab    *flow.Table
	cfg    FlowConfig
	dec    *decode.Decoder // decodes the packets FlowConfig.light skipped whose flows want them
	warn   func(error)     // Config.Warn
	hdr    decode.FlowHeader
	out    []byte // the documents of the batch being rewritten
	cur    *Batch // the batch being rewritten (its flows list)
	spare  []byte
	flows  uint64 // flow documents written
	capped uint64 // packet documents left out by MaxPacketsPerFlow
	// light counts the packets tracked by their headers alone
	// (FlowConfig.light), redecoded those of them decoded here because
	// their flows wanted their application layers
	light, redecoded uint64
	// heldPositions counts the packet positions the tracked flows hold
	// (flow.Record.Positions), at most maxHeldPositions
	heldPositions int
}

// maxHeldPositions bounds the packet positions held by all the flows being
// tracked (32 bytes each: 128 MiB); past it, flows list no more positions
// and their documents say pcap.truncated.
const maxHeldPositions = 1 << 22

func newFlowStage(cfg FlowConfig) *flowStage {
	s := &flowStage{cfg: cfg, spare: make([]byte, 0, 2*BatchBytes), dec: decode.NewDecoder(), warn: func(error) {}}
	tc := cfg.Table
	tc.Emit = s.emit
	s.tab = flow.NewTable(tc)
	return s
}

func (s *flowStage) emit(r *flow.Record) {
	if r.Final {
		s.heldPositions -= len(r.Positions)
	}
	off := len(s.out)
	s.out = encode.AppendFlow(s.out, r)
	s.cur.flows = append(s.cur.flows, flowDoc{
		off: off, end: len(s.out), first: r.Start, last: r.End, id: r.ID, final: r.Final,
	})
	s.out = append(s.out, '\n')
	s.flows++
}

// batch tracks the batch's packets and rewrites its documents: flow
// documents due before each packet, then the packet's own document with its
// flow.id, unless capped.
func (s *flowStage) batch(b *Batch) {
	s.out = s.spare[:0]
	s.cur = b
	b.flows = b.flows[:0]
	if b.tick != 0 {
		s.tab.Expire(b.tick)
	}
	for i := range b.recs {
		s.prefetch(b, i)
		rec := &b.recs[i]
		if rec.hasFlow {
			fp := &b.fps[i]
			if rec.light {
				s.light++
				if fp.Payload > 0 && s.tab.Wants(fp, rec.ts) {
					// the worker parsed its headers only: decode
					// the application layers after them
					s.appLayers(b, i, fp)
				}
			}
			r := s.tab.Observe(fp, rec.ts, rec.origLen)
			if rec.pcapFile != "" {
				if s.heldPositions < maxHeldPositions {
					if r.AddPosition(rec.pcapFile, rec.pcapOff, rec.ts) {
						s.heldPositions++
					}
				} else {
					r.PositionsCut++
				}
			}
			if rec.docEnd >= 0 {
				side := 0
				if fp.FromB {
					side = 1
				}
				if s.cfg.MaxPacketsPerFlow > 0 && r.Packets[side] > s.cfg.MaxPacketsPerFlow {
					rec.docEnd = -1
					s.capped++
					continue
				}
				copy(b.out[rec.docEnd-flowIDTail-len(r.ID):], r.ID[:])
			}
		}
		if rec.docEnd >= 0 {
			off := len(s.out)
			s.out = append(s.out, b.out[rec.docOff:rec.docEnd]...)
			rec.docOff, rec.docEnd = off, len(s.out)
			s.out = append(s.out, '\n')
		}
	}
	s.spare, b.out = b.out, s.out
}

// appLayers adds to the flow packet fp of packet i of b, whose headers
// alone the worker parsed, its application layers. A fault of a mapped
// file (see fault.go) leaves them out, reported.
func (s *flowStage) appLayers(b *Batch, i int, fp *flow.Packet) {
	defer func() {
		if v := recover(); v != nil {
			if !isFault(v) {
				panic(v)
			}
			fp.App, fp.Fields = "", flow.AppFields{}
			s.warn(&FileError{Name: b.src.Name, Err: fmt.Errorf("frame %d: application layers left out of its flow: %w", b.recs[i].number, errChanged)})
		}
	}()
	rec := &b.recs[i]
	data := b.packet(i)
	if decode.ParseFlowHeader(data, rec.linkType, &s.hdr) {
		flow.AddApp(s.dec.DecodePayload(&s.hdr, data, rec.linkType, rec.origLen), fp)
	}
	s.redecoded++
}

// Prefetch distances, in packets: the flow table's index slot of packet
// i+slotAhead and the record of packet i+recordAhead start loading while
// packet i is tracked (the slot first, so that it has arrived when the
// record's address is read from it).
const (
	slotAhead   = 8
	recordAhead = 4
)

// prefetch starts loading what tracking the packets after packet i of b
// will read of the flow table (for i 0, also the slots of the first
// packets).
func (s *flowStage) prefetch(b *Batch, i int) {
	if i == 0 {
		for j := range min(slotAhead, len(b.recs)) {
			if b.recs[j].hasFlow {
				s.tab.Prefetch(&b.fps[j])
			}
		}
	}
	if j := i + slotAhead; j < len(b.recs) && b.recs[j].hasFlow {
		s.tab.Prefetch(&b.fps[j])
	}
	if j := i + recordAhead; j < len(b.recs) && b.recs[j].hasFlow {
		s.tab.PrefetchRecord(&b.fps[j])
	}
}

// flush writes every flow still tracked into b (emptied).
func (s *flowStage) flush(b *Batch) {
	s.out = b.out[:0]
	s.cur = b
	b.flows = b.flows[:0]
	s.tab.Flush()
	b.out = s.out
}

// track fills the flow packet fp of record rec from the decoded packet, and
// tells whether its document is wanted and with which flow.id placeholder.
func (s *FlowConfig) track(rec *record, fp *flow.Packet, p *decode.Packet, m *encode.Meta) (doc bool) {
	rec.hasFlow = flow.Extract(p, fp)
	m.FlowID = nil
	if rec.hasFlow {
		m.FlowID = flowIDPlaceholder
	}
	return s.Packets
}

// light fills the flow packet fp of record rec from the frame's headers
// alone (decode.ParseFlowHeader) when they give its flow and no document of
// it is wanted (--records flows), and reports whether it did; the worker
// then skips the full decode. The flow stage decodes such a packet's
// application layers if its flow still reads them (flow.Table.Wants), which
// needs the frame: payloadOK false (a live batch without room left for a
// copy of the frame, whose ring block is released before the flow stage
// runs) keeps to packets without a payload. A packet whose decoding
// changes the decoder's state (decode.KeepsState) is decoded by the
// worker, with the rest of its batch.
func (s *FlowConfig) light(rec *record, fp *flow.Packet, h *decode.FlowHeader, data []byte, payloadOK bool) bool {
	if s.Packets || !decode.ParseFlowHeader(data, rec.linkType, h) ||
		h.Payload > 0 && (!payloadOK || decode.KeepsState(h, data)) {
		return false
	}
	flow.FromHeader(h, fp)
	rec.hasFlow, rec.light, rec.docEnd = true, true, -1
	return true
}

// FlowStats reports the flow stage's counters once a run has ended: flow
// documents written, flows evicted from a full table, and packet documents
// left out by MaxPacketsPerFlow.
func (r *Runner) FlowStats() (flows, evicted, capped uint64) {
	if r.flows == nil {
		return 0, 0, 0
	}
	return (&FlowWriter{r.flows}).FlowStats()
}

// FlowIDPlaceholder returns what a packet document's flow.id is until the
// flow writer knows it (see encode.Meta.FlowID): an engine that makes its
// own documents (the tshark engine) ends them with it.
func FlowIDPlaceholder() []byte { return flowIDPlaceholder }

// FlowWriter is the flow stage for engines that make documents themselves
// (the tshark engine): it tracks the packets of batches made by AddFlowDoc
// in the order it is given them, like the native pipeline's writer.
type FlowWriter struct{ s *flowStage }

// NewFlowWriter returns a flow writer with its own table.
func NewFlowWriter(cfg FlowConfig) *FlowWriter { return &FlowWriter{s: newFlowStage(cfg)} }

// Batch tracks b's packets and rewrites its documents: the flow documents
// due before each packet, then the packet's own document with its
// flow.id, unless left out by MaxPacketsPerFlow.
func (w *FlowWriter) Batch(b *Batch) { w.s.batch(b) }

// Flush writes every flow still tracked into b (emptied).
func (w *FlowWriter) Flush(b *Batch) { w.s.flush(b) }

// Packets reports whether packet documents are kept (--records both).
func (w *FlowWriter) Packets() bool { return w.s.cfg.Packets }

// FlowStats reports flow documents written, flows evicted from a full
// table, and packet documents left out by MaxPacketsPerFlow.
func (w *FlowWriter) FlowStats() (flows, evicted, capped uint64) {
	return w.s.flows, w.s.tab.Stats().Evicted, w.s.capped
}
