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
// Memory is bounded whatever the number of packets: positions are sorted
// in runs of Positions.RunSize (DefaultRunSize, about 24 MB) spilled to
// temporary files (created in Positions.TempDir or $TMPDIR and unlinked at
// once, so nothing is left even after a crash) and merged with a heap; the
// spool of pcapng and compressed files is sorted the same way (by file and
// offset to read them, then by time again, about 28 MB per run). A result
// that fits in one run is sorted in memory and never touches the disk. The
// packets themselves are streamed; one string per file is kept.
//
// Order: packets come out by capture time; packets with the same capture
// time by file (the order in which the search first met each file) and
// then by offset in the file. One packet found several times (a capture
// imported twice, a packet listed by two flow documents) is written once.
package export

import "cmp"

// Pos is where one packet lies: file (an index into Positions.Files), the
// byte offset of its record and its capture time (Unix ns), which the packet
// read there must have.
type Pos struct {
	Off  int64
	TS   int64
	File uint32
}

// comparePos orders positions by time, then file, then offset: the order
// of the output.
func comparePos(a, b Pos) int {
	if c := cmp.Compare(a.TS, b.TS); c != 0 {
		return c
	}
	if c := cmp.Compare(a.File, b.File); c != 0 {
		return c
	}
	return cmp.Compare(a.Off, b.Off)
}

// posCodec encodes a Pos in 20 bytes.
var posCodec = codec[Pos]{
	size: 20,
	put: func(b []byte, p Pos) {
		le.PutUint64(b[0:], uint64(p.Off))
		le.PutUint64(b[8:], uint64(p.TS))
		le.PutUint32(b[16:], p.File)
	},
	get: func(b []byte) Pos {
		return Pos{Off: int64(le.Uint64(b[0:])), TS: int64(le.Uint64(b[8:])), File: le.Uint32(b[16:])}
	},
}

// Positions collects packet positions with bounded memory (see the package
// documentation); files are kept once each. Set RunSize and TempDir before
// the first Add; Close it when done.
type Positions struct {
	Files []string
	// RunSize is the number of positions sorted in memory at once (0:
	// DefaultRunSize).
	RunSize int
	// TempDir holds the sorted runs ("": $TMPDIR).
	TempDir string
	index   map[string]uint32
	s       *sorter[Pos]
}

// Add records one packet position. It fails only when a run cannot be
// written to the temporary file.
func (p *Positions) Add(file string, off, ts int64) error {
	i, ok := p.index[file]
	if !ok {
		if p.index == nil {
			p.index = map[string]uint32{}
		}
		i = uint32(len(p.Files))
		p.Files = append(p.Files, file)
		p.index[file] = i
	}
	return p.sorter().add(Pos{Off: off, TS: ts, File: i})
}

func (p *Positions) sorter() *sorter[Pos] {
	if p.s == nil {
		p.s = newSorter(comparePos, posCodec, p.RunSize, p.TempDir)
	}
	return p.s
}

// Added returns the number of positions added, repeats included.
func (p *Positions) Added() uint64 {
	if p.s == nil {
		return 0
	}
	return p.s.n
}

// sorted returns the positions in output order (repeats are not dropped:
// they follow each other).
func (p *Positions) sorted() (*merger[Pos], error) {
	return p.sorter().merged()
}

// Close frees the positions' memory and temporary file.
func (p *Positions) Close() {
	if p.s != nil {
		p.s.close()
		p.s = nil
	}
}

// Each calls fn for every position added, in output order, repeats
// included; it stops at fn's first error and returns it.
func (p *Positions) Each(fn func(file string, off, ts int64) error) error {
	it, err := p.sorted()
	if err != nil {
		return err
	}
	for {
		q, ok, err := it.next()
		if err != nil || !ok {
			return err
		}
		if err := fn(p.Files[q.File], q.Off, q.TS); err != nil {
			return err
		}
	}
}
