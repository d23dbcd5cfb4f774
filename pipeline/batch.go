// Package pipeline runs espcap-fast's one-way flow: a source reads packets
// into batches, per-core workers decode and encode each batch's packets into
// JSON documents, and a sink receives the batches in capture order.
//
// Batches are recycled through a fixed pool, so memory is bounded by the
// pool (workers × 4 batches of at most BatchPackets packets and BatchBytes
// bytes each, plus their documents) and a well-formed packet costs no
// allocation anywhere on the way.
package pipeline

import "github.com/espcap/espcap-fast/flow"

// Limits of one batch.
const (
	// BatchPackets is the most packets in one batch.
	BatchPackets = 256
	// BatchBytes is the size above which a batch takes no more packets.
	BatchBytes = 1 << 20
)

// Source describes where a batch's packets come from.
type Source struct {
	// Name is the capture file as the user gave it ("" for live capture).
	Name string
	// Date is the file's modification time as file_date_utc shows it.
	Date string
	// ID identifies the file's content (for deterministic document IDs).
	ID string
	// Interfaces names pcapng interfaces by id; may be nil.
	Interfaces []string
}

// record is one packet's place in a batch.
type record struct {
	// data is the packet's captured bytes (read them with Batch.packet):
	// a copy in Batch.data, or for a packet added by reference
	// (Feeder.AddShared) the source's own bytes, which its Pin keeps valid;
	// in a live batch the frame in the ring, valid only until its worker
	// releases the block
	data    []byte
	origLen int    // on-the-wire length
	ts      int64  // Unix nanoseconds
	number  uint64 // frame number within the source
	docOff  int    // document bytes in Batch.out, docOff:docEnd; docEnd < 0 = no document
	docEnd  int
	// pcapFile is the capture file holding the packet as export opens it
	// (an absolute path; one string shared by all the packets of a file),
	// "" when the packet has no position (standard input, a FIFO); pcapOff
	// is the byte offset of the packet's record header in that file. With
	// --write the worker points them at the store file it wrote the packet to.
	pcapFile string
	pcapOff  int64
	linkType uint16
	iface    int32
	// (the flags together after the small fields: a record stays 104 bytes)
	malformed bool
	hasFlow   bool // Batch.fps holds the packet's flow key, flags and payload length (flow records on)
	// light: only the packet's headers were parsed (FlowConfig.light);
	// the flow stage decodes its application layers if its flow wants
	// them
	light bool
	// tsSaturated: the reader saturated the timestamp (tagged malformed)
	tsSaturated bool
	filtered    bool // the BPF filter dropped the packet (set with --write)
}

// Batch is a run of packets from one source, and after the workers are done
// with it, their documents.
type Batch struct {
	seq  uint64
	src  *Source
	data []byte // the copied packets' bytes
	// pin keeps the bytes of the packets added by reference valid until
	// the writer is done with the batch (nil: none added)
	pin    *Pin
	recs   []record
	out    []byte
	failed error
	flows  []flowDoc // the flow documents in out (flow records on)
	// fps[i] is the flow packet of recs[i] when recs[i].hasFlow: kept
	// apart, so that a record stays small (each packet appends one) and
	// only runs with flow records pay for it; reused from batch to batch
	// (flow.Extract overwrites what it reads)
	fps []flow.Packet
	// tick, when not 0, makes the flow stage expire the flows idle at
	// this time (Unix ns) before the batch's packets: live capture sends
	// packetless batches with it every second, so that flows end on an
	// idle link too
	tick int64
}

// flowDoc is one flow document's place in a batch.
type flowDoc struct {
	off, end    int   // bytes in Batch.out
	first, last int64 // the flow's Start and End
	id          [22]byte
	final       bool
}

func newBatch() *Batch {
	return &Batch{
		data: make([]byte, 0, BatchBytes+65536),
		recs: make([]record, 0, BatchPackets),
		out:  make([]byte, 0, 2*BatchBytes),
	}
}

func (b *Batch) reset() {
	b.unpin()
	b.src = nil
	b.data = b.data[:0]
	b.recs = b.recs[:0]
	b.out = b.out[:0]
	b.failed = nil
	b.flows = b.flows[:0]
	b.tick = 0
}

// full reports whether the batch should take no more packets.
func (b *Batch) full() bool {
	return len(b.recs) >= BatchPackets || len(b.data) >= BatchBytes
}

// flowPacket returns the flow packet of record i, growing fps to hold it.
func (b *Batch) flowPacket(i int) *flow.Packet {
	for len(b.fps) <= i {
		if len(b.fps) < cap(b.fps) {
			b.fps = b.fps[:len(b.fps)+1]
		} else {
			b.fps = append(b.fps, flow.Packet{})
		}
	}
	return &b.fps[i]
}

// add copies a packet into the batch (shared false), or adds it by
// reference (the caller holds the batch's pin on its bytes).
func (b *Batch) add(data []byte, shared bool, origLen int, ts int64, number uint64, linkType uint16, iface int) {
	if !shared {
		data = b.copyIn(data)
	}
	b.recs = append(b.recs, record{
		data: data, origLen: origLen, ts: ts, number: number,
		linkType: linkType, iface: int32(iface), docEnd: -1,
	})
}

// copyIn copies a frame into b.data and returns the copy. (Should append
// move b.data, the records before keep the old array, which holds their
// bytes unchanged.)
func (b *Batch) copyIn(data []byte) []byte {
	off := len(b.data)
	b.data = append(b.data, data...)
	return b.data[off:len(b.data):len(b.data)]
}

// packet returns the captured bytes of packet i: every reader of a
// packet's bytes (decoding, the BPF filter, the pcap store) goes through it,
// whether the batch holds a copy or the packet was added by reference.
func (b *Batch) packet(i int) []byte { return b.recs[i].data }

// unpin drops the batch's hold on bytes added by reference, once the
// writer is done with it: its records forget them first (no slice into a
// file mapping survives its unmapping).
func (b *Batch) unpin() {
	if b.pin == nil {
		return
	}
	for i := range b.recs {
		b.recs[i].data = nil
	}
	p := b.pin
	b.pin = nil
	p.Unpin()
}

// Source returns where the batch's packets come from.
func (b *Batch) Source() *Source { return b.src }

// Len returns the number of packets in the batch.
func (b *Batch) Len() int { return len(b.recs) }

// Doc returns packet i's document (nil when the packet was filtered out or
// the batch was cut by --count), its capture time and frame number.
func (b *Batch) Doc(i int) (doc []byte, ts int64, number uint64) {
	r := &b.recs[i]
	if r.docEnd < 0 {
		return nil, r.ts, r.number
	}
	return b.out[r.docOff:r.docEnd], r.ts, r.number
}

// Out returns all the batch's documents as NDJSON, one line each.
func (b *Batch) Out() []byte { return b.out }

// FlowDoc is one flow document of a batch (flow records on).
type FlowDoc struct {
	// Doc is the document (no newline); it is valid until the batch is
	// recycled, like the documents of Doc.
	Doc []byte
	// ID is the flow.id (22 characters), valid as long as Doc.
	ID []byte
	// Start and End are the flow's first and last packet times (Unix ns):
	// Start is the document's @timestamp.
	Start, End int64
	// Final is false for an interim update (--flow-update): a later
	// document of the same flow.id replaces it.
	Final bool
}

// Flows returns the number of flow documents in the batch.
func (b *Batch) Flows() int { return len(b.flows) }

// Flow returns flow document i (0 <= i < Flows()).
func (b *Batch) Flow(i int) FlowDoc {
	f := &b.flows[i]
	return FlowDoc{Doc: b.out[f.off:f.end], ID: f.id[:], Start: f.first, End: f.last, Final: f.final}
}
