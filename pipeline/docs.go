package pipeline

// Batches of ready-made documents, for engines that make documents
// themselves (the tshark engine, package tsharkek) but send them to the
// same sinks as the native pipeline.

import "github.com/espcap/espcap-fast/flow"

// NewDocBatch returns an empty batch for documents from src.
func NewDocBatch(src *Source) *Batch {
	return &Batch{
		src:  src,
		recs: make([]record, 0, BatchPackets),
		out:  make([]byte, 0, 2*BatchBytes),
	}
}

// ResetDocs empties a batch made by NewDocBatch for reuse with src.
func (b *Batch) ResetDocs(src *Source) {
	b.reset()
	b.src = src
}

// AddDoc appends one document (one line of JSON, without newline) captured
// at ts (Unix nanoseconds) with the given frame number.
func (b *Batch) AddDoc(doc []byte, ts int64, number uint64, malformed bool) {
	off := len(b.out)
	b.out = append(b.out, doc...)
	b.recs = append(b.recs, record{ts: ts, number: number, docOff: off, docEnd: len(b.out), malformed: malformed})
	b.out = append(b.out, '\n')
}

// DocsFull reports whether a document batch should take no more documents.
func (b *Batch) DocsFull() bool {
	return len(b.recs) >= BatchPackets || len(b.out) >= BatchBytes
}

// CutDocs keeps the first n packet documents of the batch, and the flow
// documents before the cut.
func (b *Batch) CutDocs(n int) {
	seen := 0
	for i := range b.recs {
		r := &b.recs[i]
		if r.docEnd < 0 {
			continue
		}
		if seen == n {
			b.cutOut(r.docOff)
			b.recs = b.recs[:i]
			return
		}
		seen++
	}
}

// cutOut cuts the batch's output at off, with the flow documents that
// reach past it.
func (b *Batch) cutOut(off int) {
	b.out = b.out[:off]
	for len(b.flows) > 0 && b.flows[len(b.flows)-1].end > off {
		b.flows = b.flows[:len(b.flows)-1]
	}
}

// Malformed reports whether packet i's document is flagged malformed.
func (b *Batch) Malformed(i int) bool { return b.recs[i].malformed }

// keepBytes is the room of a document batch for the texts its flow
// packets keep (KeepBytes): 1 KiB per packet, more than a packet's
// application texts cut at flow.MaxField (HTTP method, host, URI and user
// agent, DHCP host name: 5 × 128 bytes).
const keepBytes = BatchPackets * 1024

// DocInfo describes a document added with AddFlowDoc.
type DocInfo struct {
	TS        int64  // capture time, Unix ns
	Number    uint64 // frame number
	Malformed bool
	OrigLen   int // frame length on the wire
	// PcapFile and PcapOffset: where the packet lies (PcapFile "": nowhere)
	PcapFile   string
	PcapOffset int64
	// Flow: the flow packet (NextFlowPacket) was filled
	Flow bool
}

// NextFlowPacket returns the flow packet of the next document that
// AddFlowDoc adds, for the caller to fill (flow records on).
func (b *Batch) NextFlowPacket() *flow.Packet { return b.flowPacket(len(b.recs)) }

// AddFlowDoc is AddDoc for a run with flow records (see FlowWriter): doc
// is nil for a packet without a document (--records flows); when d.Flow
// is set the packet is tracked from its flow packet (NextFlowPacket, filled
// before), and a document ends with the flow.id placeholder
// (FlowIDPlaceholder) that the flow writer overwrites.
func (b *Batch) AddFlowDoc(doc []byte, d DocInfo) {
	b.flowPacket(len(b.recs)) // fps follows recs
	rec := record{ts: d.TS, number: d.Number, docEnd: -1, malformed: d.Malformed, origLen: d.OrigLen,
		hasFlow: d.Flow, pcapFile: d.PcapFile, pcapOff: d.PcapOffset}
	if doc != nil {
		rec.docOff = len(b.out)
		b.out = append(b.out, doc...)
		rec.docEnd = len(b.out)
		b.out = append(b.out, '\n')
	}
	b.recs = append(b.recs, rec)
}

// KeepBytes copies s into the batch, where it stays until the batch is
// reset, and returns the copy (nil when the batch has no room left: see
// FlowDocsFull). The tshark engine keeps there the texts of its flow
// packets (encode.ByteKeeper).
func (b *Batch) KeepBytes(s []byte) []byte {
	if cap(b.data) == 0 {
		b.data = make([]byte, 0, keepBytes)
	}
	if len(s) > cap(b.data)-len(b.data) {
		return nil
	}
	off := len(b.data)
	b.data = append(b.data, s...)
	return b.data[off:len(b.data):len(b.data)]
}

// FlowDocsFull is DocsFull for a batch of AddFlowDoc: also full when
// KeepBytes might lack room for one more packet's texts.
func (b *Batch) FlowDocsFull() bool {
	return b.DocsFull() || len(b.data) > keepBytes-1024
}

// DocCount returns the number of packet documents in the batch (a batch of
// AddFlowDoc may hold packets without one).
func (b *Batch) DocCount() int {
	n := 0
	for i := range b.recs {
		if b.recs[i].docEnd >= 0 {
			n++
		}
	}
	return n
}

// SetFlowTick makes the flow writer expire the flows idle at now (Unix ns)
// before the batch's packets (live capture: flows end while the link is
// idle; see FlowWriter).
func (b *Batch) SetFlowTick(now int64) { b.tick = now }
