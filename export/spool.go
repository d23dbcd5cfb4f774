package export

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/espcap/espcap-fast/capfile"
)

var le = binary.LittleEndian

// spoolHeader is the size of a record header in the spool: time (8),
// on-the-wire length (4), captured length (4), link type (2), padding (6).
const spoolHeader = 24

// spooled is a position of a pcapng or compressed file and where its packet
// lies in the spool (At; -1: not found, counted in Result.Changed).
type spooled struct {
	Pos
	At int64
}

// spooledCodec encodes a spooled in 28 bytes.
var spooledCodec = codec[spooled]{
	size: 28,
	put: func(b []byte, s spooled) {
		posCodec.put(b, s.Pos)
		le.PutUint64(b[20:], uint64(s.At))
	},
	get: func(b []byte) spooled {
		return spooled{Pos: posCodec.get(b), At: int64(le.Uint64(b[20:]))}
	},
}

// byFileOffset orders positions the way their files are read.
func byFileOffset(a, b Pos) int {
	return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Off, b.Off), cmp.Compare(a.TS, b.TS))
}

// spoolFiles reads the packets of the files that cannot be read at an
// offset (pcapng, compressed: seqOnly) once each, in file order, and copies
// those wanted into one temporary file (unlinked at once, in dir or
// $TMPDIR). It returns the spool and, in output order, one spooled entry for
// every distinct position of those files that could be opened: where its
// packet is in the spool, or -1 when no record with its time starts at its
// offset (counted in res.Changed). A file that cannot be opened gets s.gone
// and no entries. Nil, nil when no file needed it. The positions are sorted
// by file and offset, then back by time, with bounded memory (sorter).
func spoolFiles(ctx context.Context, pos *Positions, srcs []*source, dir string, runSize int, res *Result) (*os.File, *sorter[spooled], error) {
	byOff := newSorter(byFileOffset, posCodec, runSize, dir)
	defer byOff.close()
	it, err := pos.sorted()
	if err != nil {
		return nil, nil, err
	}
	var prev Pos
	for i := 0; ; i++ {
		p, ok, err := it.next()
		if err != nil || !ok {
			if err != nil {
				return nil, nil, err
			}
			break
		}
		if i > 0 && p == prev {
			continue
		}
		prev = p
		if s := srcs[p.File]; s.seqOnly && s.gone == nil {
			if err := byOff.add(p); err != nil {
				return nil, nil, err
			}
		}
	}
	if byOff.n == 0 {
		return nil, nil, nil
	}
	f, err := tempFile(dir, "export")
	if err != nil {
		return nil, nil, fmt.Errorf("spool for pcapng and compressed files: %w", err)
	}
	byTime := newSorter(func(a, b spooled) int { return comparePos(a.Pos, b.Pos) }, spooledCodec, runSize, dir)
	if err := copyWanted(ctx, byOff, srcs, f, byTime, res); err != nil {
		f.Close()
		byTime.close()
		return nil, nil, err
	}
	return f, byTime, nil
}

// copyWanted reads the files in the order of byOff and copies the records
// at its positions to f, adding where each went to byTime.
func copyWanted(ctx context.Context, byOff *sorter[Pos], srcs []*source, f *os.File, byTime *sorter[spooled], res *Result) error {
	it, err := byOff.merged()
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var (
		woff int64
		hdr  [spoolHeader]byte
		rec  capfile.Record
		r    *capfile.Reader
		cur  = -1    // the file r reads
		have bool    // rec holds r's last record
		end  error   // r's end: why no record is left
		s    *source // srcs[cur]
	)
	defer func() {
		if r != nil {
			r.Close()
		}
	}()
	for i := 0; ; i++ {
		p, ok, err := it.next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if int(p.File) != cur {
			if r != nil {
				r.Close()
				r = nil
			}
			cur, have, end, s = int(p.File), false, nil, srcs[p.File]
			if r, err = capfile.Open(s.path); err != nil {
				s.gone = err // counted as missing by Run
				r = nil
			}
		}
		if s.gone != nil {
			continue
		}
		for end == nil && (!have || rec.Offset < p.Off) {
			if err := r.Next(&rec); err != nil {
				end = err
				if errors.Is(err, io.EOF) {
					end = fmt.Errorf("%s: no record at offset %d: the file ends before", s.path, p.Off)
				}
				break
			}
			have = true
		}
		var why error
		switch {
		case end != nil && (!have || rec.Offset < p.Off):
			why = end
		case rec.Offset != p.Off:
			why = fmt.Errorf("%s: no record starts at offset %d", s.path, p.Off)
		case rec.Timestamp != p.TS:
			why = fmt.Errorf("%s: the record at offset %d has capture time %d, the document %d: the file changed since it was indexed", s.path, p.Off, rec.Timestamp, p.TS)
		}
		e := spooled{Pos: p, At: -1}
		if why != nil {
			res.Changed[s.path]++
			if res.ChangedErr[s.path] == nil {
				res.ChangedErr[s.path] = why
			}
		} else {
			binary.LittleEndian.PutUint64(hdr[0:], uint64(rec.Timestamp))
			binary.LittleEndian.PutUint32(hdr[8:], uint32(rec.OrigLen))
			binary.LittleEndian.PutUint32(hdr[12:], uint32(len(rec.Data)))
			binary.LittleEndian.PutUint16(hdr[16:], rec.LinkType)
			w.Write(hdr[:])
			if _, err := w.Write(rec.Data); err != nil {
				return fmt.Errorf("spool for pcapng and compressed files: %w", err)
			}
			e.At = woff
			woff += spoolHeader + int64(len(rec.Data))
		}
		if err := byTime.add(e); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("spool for pcapng and compressed files: %w", err)
	}
	return nil
}

// spoolAt reads the packet spoolFiles wrote at off.
func (s *source) spoolAt(off int64) (*capfile.Record, error) {
	var hdr [spoolHeader]byte
	if _, err := s.spool.ReadAt(hdr[:], off); err != nil {
		return nil, fmt.Errorf("spool: offset %d: %w", off, err)
	}
	n := int(binary.LittleEndian.Uint32(hdr[12:]))
	if cap(s.buf) < n {
		s.buf = make([]byte, n)
	}
	s.buf = s.buf[:n]
	if _, err := s.spool.ReadAt(s.buf, off+spoolHeader); err != nil {
		return nil, fmt.Errorf("spool: offset %d: %w", off, err)
	}
	s.rec = capfile.Record{
		Data: s.buf, CapLen: n, OrigLen: int(binary.LittleEndian.Uint32(hdr[8:])),
		Timestamp: int64(binary.LittleEndian.Uint64(hdr[0:])), LinkType: binary.LittleEndian.Uint16(hdr[16:]), Offset: off,
	}
	return &s.rec, nil
}
