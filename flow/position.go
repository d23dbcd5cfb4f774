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

// keptPositions is the capacity of a Positions array that a reused table
// entry keeps: a longer one, of a flow with many packets, goes with its
// flow, so that the table does not keep MaxPositions for every entry.
const keptPositions = 64

// AddPosition records where a packet of the flow lies, up to MaxPositions,
// and reports whether it did; the packets past them are counted in
// PositionsCut.
func (r *Record) AddPosition(file string, off, ts int64) bool {
	if len(r.Positions) >= MaxPositions {
		r.PositionsCut++
		return false
	}
	r.Positions = append(r.Positions, Position{File: file, Off: off, TS: ts})
	return true
}

// reusedPositions returns the Positions array a new flow in r's entry
// starts with: r's, emptied, unless it is long.
func (r *Record) reusedPositions() []Position {
	if cap(r.Positions) > keptPositions {
		return nil
	}
	return r.Positions[:0]
}
