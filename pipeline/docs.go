package pipeline

// Batches of ready-made documents, for engines that make documents
// themselves (the tshark engine, package tsharkek) but send them to the
// same sinks as the native pipeline.

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

// CutDocs keeps the first n documents of the batch.
func (b *Batch) CutDocs(n int) {
	if n >= len(b.recs) {
		return
	}
	b.out = b.out[:b.recs[n].docOff]
	b.recs = b.recs[:n]
}

// Malformed reports whether packet i's document is flagged malformed.
func (b *Batch) Malformed(i int) bool { return b.recs[i].malformed }
