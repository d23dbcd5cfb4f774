package export

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/espcap/espcap-fast/capfile"
	"github.com/espcap/espcap-fast/filter"
)

// DefaultMaxOpen is the most capture files a run keeps open at once.
const DefaultMaxOpen = 32

// Options configure a run.
type Options struct {
	// BPF is a tcpdump filter expression; only the packets it keeps are
	// written ("": all).
	BPF string
	// MaxOpen is the most files kept open at once (0: DefaultMaxOpen).
	MaxOpen int
	// TempDir holds the spool of the packets of pcapng and compressed
	// files and its sorted runs ("": $TMPDIR; the positions' runs go to
	// Positions.TempDir).
	TempDir string
}

// Result says what a run did. A packet is written, filtered out, or
// counted under its file in Missing or Changed.
type Result struct {
	// Found counts the distinct packet positions (a packet found several
	// times counts once); Written and Filtered count the packets written
	// and those the BPF filter dropped.
	Found, Written, Filtered uint64
	// Missing counts, by file, the packets of files that could not be
	// opened as captures (rotated away, moved, unreadable); MissingErr
	// says why.
	Missing    map[string]uint64
	MissingErr map[string]error
	// Changed counts, by file, the packets not found at their offset: no
	// record there, or a record with another capture time (the file changed
	// since it was indexed). ChangedErr holds the first such problem.
	Changed    map[string]uint64
	ChangedErr map[string]error
	// Format is the output format, "pcap" or "pcapng".
	Format string
}

// Complete reports whether every position was written or filtered out.
func (r *Result) Complete() bool { return len(r.Missing) == 0 && len(r.Changed) == 0 }

// Run reads every packet of pos from its file and writes the packets to
// out in time order (see the package documentation for the order and the
// memory). It returns an error only when out or a temporary file cannot be
// written, the filter fails or ctx ends; missing and changed packets are
// counted in the Result.
func Run(ctx context.Context, pos *Positions, out io.Writer, opt Options) (*Result, error) {
	if opt.MaxOpen <= 0 {
		opt.MaxOpen = DefaultMaxOpen
	}
	res := &Result{Missing: map[string]uint64{}, MissingErr: map[string]error{}, Changed: map[string]uint64{}, ChangedErr: map[string]error{}}
	var bpf *filter.Set
	if opt.BPF != "" {
		bpf = filter.NewSet(opt.BPF, snapLen)
	}

	// open every file once: which exist, their formats and link types
	srcs := make([]*source, len(pos.Files))
	ng, link, links := false, uint16(1), 0
	for i, f := range pos.Files {
		s := &source{path: f}
		srcs[i] = s
		r, err := capfile.Open(f)
		if err != nil {
			s.gone = err
			continue
		}
		s.seqOnly = r.Format() != capfile.Pcap || r.Compression() != ""
		if r.Format() == capfile.PcapNG {
			ng = true
		} else if lt := r.Interfaces()[0].LinkType; links == 0 || lt != link {
			link = lt
			links++
		}
		r.Close()
	}
	ng = ng || links > 1
	res.Format = "pcap"
	if ng {
		res.Format = "pcapng"
	}
	// pcapng and compressed files: the packets wanted, read once in file
	// order into a spool that is then read at offsets like a pcap
	spoolFile, spooledPos, err := spoolFiles(ctx, pos, srcs, opt.TempDir, pos.RunSize, res)
	if err != nil {
		return res, err
	}
	var spool *source
	var spoolIt *merger[spooled]
	if spoolFile != nil {
		defer spoolFile.Close()
		defer spooledPos.close()
		spool = &source{path: "(spool)", spool: spoolFile}
		if spoolIt, err = spooledPos.merged(); err != nil {
			return res, err
		}
	}
	w, err := NewWriter(out, ng, link)
	if err != nil {
		return res, err
	}
	open := 0
	var tick uint64
	defer func() {
		for _, s := range srcs {
			s.close()
		}
	}()
	it, err := pos.sorted()
	if err != nil {
		return res, err
	}
	var prev Pos
	for i := 0; ; i++ {
		p, ok, err := it.next()
		if err != nil {
			return res, err
		}
		if !ok {
			break
		}
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return res, err
			}
		}
		if i > 0 && p == prev {
			continue // one packet found twice
		}
		prev = p
		res.Found++
		s := srcs[p.File]
		if s.gone != nil {
			res.Missing[s.path]++
			if res.MissingErr[s.path] == nil {
				res.MissingErr[s.path] = s.gone
			}
			continue
		}
		var rec *capfile.Record
		if s.seqOnly {
			e, ok, err := spoolIt.next()
			if err == nil && (!ok || e.Pos != p) {
				err = fmt.Errorf("export: internal error: the spool is out of step at %s offset %d", s.path, p.Off)
			}
			if err != nil {
				return res, err
			}
			if e.At < 0 {
				continue // counted as changed
			}
			if rec, err = spool.spoolAt(e.At); err != nil {
				return res, err
			}
		} else {
			if s.r == nil && open >= opt.MaxOpen {
				closeOldest(srcs)
				open--
			}
			tick++
			s.used = tick
			wasOpen := s.r != nil
			rec, err = s.at(p.Off)
			if !wasOpen && s.r != nil {
				open++
			} else if wasOpen && s.r == nil {
				open--
			}
			if err == nil && rec.Timestamp != p.TS {
				err = fmt.Errorf("%s: the record at offset %d has capture time %d, the document %d: the file changed since it was indexed", s.path, p.Off, rec.Timestamp, p.TS)
			}
			if err != nil {
				if s.gone != nil { // could not be opened now
					res.Missing[s.path]++
					res.MissingErr[s.path] = s.gone
					continue
				}
				res.Changed[s.path]++
				if res.ChangedErr[s.path] == nil {
					res.ChangedErr[s.path] = err
				}
				continue
			}
		}
		if bpf != nil {
			ok, err := bpf.Match(int(rec.LinkType), rec.Data, rec.OrigLen)
			if err != nil {
				return res, fmt.Errorf("bpf: %w", err)
			}
			if !ok {
				res.Filtered++
				continue
			}
		}
		if err := w.Write(rec.Data, rec.OrigLen, rec.Timestamp, rec.LinkType); err != nil {
			return res, fmt.Errorf("writing packet %d: %w", w.Packets()+1, err)
		}
		res.Written++
	}
	return res, nil
}

// closeOldest closes the open source used least recently.
func closeOldest(srcs []*source) {
	var old *source
	for _, s := range srcs {
		if s.r != nil && (old == nil || s.used < old.used) {
			old = s
		}
	}
	if old != nil {
		old.close()
	}
}

// source is one capture file packets are read from, or the spool.
type source struct {
	path    string
	gone    error // the file could not be opened
	seqOnly bool  // pcapng or compressed: read through the spool
	spool   *os.File
	buf     []byte // spool: the packet read
	r       *capfile.Reader
	rec     capfile.Record
	used    uint64
}

func (s *source) close() {
	if s.r != nil {
		s.r.Close()
		s.r = nil
	}
}

// at returns the record at offset off: of the spool, or of an uncompressed
// pcap file (pcapng and compressed files are read through the spool; a
// file that has become one since is not at its offset: an error).
func (s *source) at(off int64) (*capfile.Record, error) {
	if s.spool != nil {
		return s.spoolAt(off)
	}
	if s.r == nil {
		r, err := capfile.Open(s.path)
		if err != nil {
			s.gone = err
			return nil, err
		}
		s.r = r
	}
	if err := s.r.SeekRecord(off); err != nil {
		return nil, fmt.Errorf("%s: offset %d: %w", s.path, off, err)
	}
	if err := s.r.Next(&s.rec); err != nil {
		if err == io.EOF {
			err = fmt.Errorf("%s: offset %d is at or past the end of the file", s.path, off)
		}
		return nil, err
	}
	return &s.rec, nil
}
