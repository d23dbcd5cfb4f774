package flow

// MaxPositions is the most packet positions a flow record keeps (see
// Record.Positions): a flow document lists where its first MaxPositions
// packets lie, so that they can be exported whole even when only some of
// them were indexed; the packets after them are counted. A tracked flow
// holds at most MaxPositions × 32 bytes for them.
const MaxPositions = 1024

// Position is where one packet of a flow lies: the capture file (as in a
// packet document's pcap.file), the byte offset of its record and its
// capture time (Unix ns).
type Position struct {
	File string
	Off  int64
	TS   int64
}

// AddPosition records where a packet of the flow lies, up to MaxPositions.
func (r *Record) AddPosition(file string, off, ts int64) {
	if len(r.Positions) >= MaxPositions {
		r.PositionsCut++
		return
	}
	r.Positions = append(r.Positions, Position{File: file, Off: off, TS: ts})
}
