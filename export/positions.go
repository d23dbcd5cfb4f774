// Package export writes the packets that documents point to (their
// pcap.file and pcap.offset) into one capture file, in time order: it reads
// each packet back from its capture file at its offset, checks that it is
// the packet the document describes (same capture time), and writes pcap
// with nanosecond timestamps, or pcapng when the packets' link types differ
// or a source is pcapng.
//
// An uncompressed pcap file is read at each offset. A pcapng or gzip/zstd
// file cannot be (a pcapng packet needs the interface blocks before it): it
// is read once, in file order, and the packets wanted are copied to a
// temporary file (unlinked, in $TMPDIR or Options.TempDir), read at offsets
// in turn.
//
// Memory is 24 bytes per packet position (Pos), 4 more while a pcapng or
// compressed file is spooled, plus one string per file, whatever the
// number of packets; the packets themselves are streamed.
package export

import (
	"cmp"
	"slices"
)

// Pos is where one packet lies: file (an index into Positions.Files), the
// byte offset of its record and its capture time (Unix ns), which the packet
// read there must have. 24 bytes.
type Pos struct {
	Off  int64
	TS   int64
	File uint32
}

// Positions collects packet positions; files are kept once each.
type Positions struct {
	Files []string
	List  []Pos
	index map[string]uint32
}

// Add records one packet position.
func (p *Positions) Add(file string, off, ts int64) {
	i, ok := p.index[file]
	if !ok {
		if p.index == nil {
			p.index = map[string]uint32{}
		}
		i = uint32(len(p.Files))
		p.Files = append(p.Files, file)
		p.index[file] = i
	}
	p.List = append(p.List, Pos{Off: off, TS: ts, File: i})
}

// Sort puts the positions in time order (then file and offset) and drops
// repeats of one packet (a capture imported twice, a packet found by two
// flow documents).
func (p *Positions) Sort() {
	slices.SortFunc(p.List, func(a, b Pos) int {
		if c := cmp.Compare(a.TS, b.TS); c != 0 {
			return c
		}
		if c := cmp.Compare(a.File, b.File); c != 0 {
			return c
		}
		return cmp.Compare(a.Off, b.Off)
	})
	p.List = slices.Compact(p.List)
}
