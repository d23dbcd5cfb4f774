package export

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/espcap/espcap-fast/capfile"
	"github.com/espcap/espcap-fast/internal/safefile"
)

// badFile marks a position already counted as not found (Changed).
const badFile = math.MaxUint32

// spoolHeader is the size of a record header in the spool: time (8),
// on-the-wire length (4), captured length (4), link type (2), padding (6).
const spoolHeader = 24

var spoolSeq atomic.Uint64

// spoolFiles reads the packets of the files that cannot be read at an
// offset (pcapng, compressed: seqOnly) once each, in file order, and copies
// those wanted into one temporary file (unlinked at once, in dir or
// $TMPDIR), where the positions then point (File = spoolIndex). A wanted
// offset where no record with its time starts is counted in res.Changed and
// marked badFile. It returns the spool (nil when no file needed it).
func spoolFiles(ctx context.Context, pos *Positions, srcs []*source, spoolIndex uint32, dir string, res *Result) (*os.File, error) {
	byFile := make([][]int32, len(srcs))
	need := false
	for i, p := range pos.List {
		if s := srcs[p.File]; s.seqOnly && s.gone == nil {
			byFile[p.File] = append(byFile[p.File], int32(i))
			need = true
		}
	}
	if !need {
		return nil, nil
	}
	if dir == "" {
		dir = os.TempDir()
	}
	name := filepath.Join(dir, "espcap-fast-export-"+strconv.Itoa(os.Getpid())+"-"+strconv.FormatUint(spoolSeq.Add(1), 10)+".tmp")
	f, err := safefile.Create(name)
	if err != nil {
		return nil, fmt.Errorf("spool for pcapng and compressed files: %w", err)
	}
	os.Remove(name) // the open file lives on, and goes when closed
	w := bufio.NewWriterSize(f, 1<<20)
	var woff int64
	var hdr [spoolHeader]byte
	var rec capfile.Record
	for fi, idx := range byFile {
		if len(idx) == 0 {
			continue
		}
		if err := ctx.Err(); err != nil {
			f.Close()
			return nil, err
		}
		s := srcs[fi]
		slices.SortStableFunc(idx, func(a, b int32) int { return cmp.Compare(pos.List[a].Off, pos.List[b].Off) })
		changed := func(i int32, why error) {
			pos.List[i].File = badFile
			res.Changed[s.path]++
			if res.ChangedErr[s.path] == nil {
				res.ChangedErr[s.path] = why
			}
		}
		r, err := capfile.Open(s.path)
		if err != nil {
			s.gone = err // counted as missing by Run
			continue
		}
		j := 0
		for j < len(idx) {
			if err := r.Next(&rec); err != nil {
				if errors.Is(err, io.EOF) {
					err = fmt.Errorf("%s: no record at offset %d: the file ends before", s.path, pos.List[idx[j]].Off)
				}
				for ; j < len(idx); j++ {
					changed(idx[j], err)
				}
				break
			}
			for ; j < len(idx) && pos.List[idx[j]].Off < rec.Offset; j++ {
				changed(idx[j], fmt.Errorf("%s: no record starts at offset %d", s.path, pos.List[idx[j]].Off))
			}
			for ; j < len(idx) && pos.List[idx[j]].Off == rec.Offset; j++ {
				p := &pos.List[idx[j]]
				if rec.Timestamp != p.TS {
					changed(idx[j], fmt.Errorf("%s: the record at offset %d has capture time %d, the document %d: the file changed since it was indexed", s.path, p.Off, rec.Timestamp, p.TS))
					continue
				}
				binary.LittleEndian.PutUint64(hdr[0:], uint64(rec.Timestamp))
				binary.LittleEndian.PutUint32(hdr[8:], uint32(rec.OrigLen))
				binary.LittleEndian.PutUint32(hdr[12:], uint32(len(rec.Data)))
				binary.LittleEndian.PutUint16(hdr[16:], rec.LinkType)
				w.Write(hdr[:])
				if _, err := w.Write(rec.Data); err != nil {
					r.Close()
					f.Close()
					return nil, fmt.Errorf("spool for pcapng and compressed files: %w", err)
				}
				p.File, p.Off = spoolIndex, woff
				woff += spoolHeader + int64(len(rec.Data))
			}
		}
		r.Close()
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return nil, fmt.Errorf("spool for pcapng and compressed files: %w", err)
	}
	return f, nil
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
