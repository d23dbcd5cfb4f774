package tsharkek

// --bpf for capture files. tshark's capture filter (-f) applies to live
// capture only, and its read filter (-R/-Y) is a display filter, not a BPF
// expression. So the engine filters as the native engine does: capfile
// reads the file, the filter package (libpcap's pcap_compile and a BPF VM
// that matches libpcap's bpf_filter) decides per packet, and the packets
// kept are written as pcapng into tshark's standard input (-r -). tshark
// numbers them 1, 2, 3, ...; frameMap turns those numbers back into the
// original file's, for frame.number and for frame-number fields
// (dns.response_to, ...). tshark sees exactly the packets a capture with
// the same filter would have given it, as in live capture with -f.

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/espcap/espcap-fast/capfile"
	"github.com/espcap/espcap-fast/filter"
	"github.com/espcap/espcap-fast/pipeline"
)

// frameMap maps tshark's frame numbers (1, 2, ... over the packets kept) to
// the frame numbers of the original file. It holds one number per packet
// kept (8 bytes; tshark itself keeps far more per frame).
type frameMap struct {
	mu   sync.Mutex
	orig []uint64
}

// add records that the next packet given to tshark is the original file's
// frame n. It is called before the packet is written, so lookup always
// finds the packets tshark prints.
func (m *frameMap) add(n uint64) {
	m.mu.Lock()
	m.orig = append(m.orig, n)
	m.mu.Unlock()
}

// lookup returns the original number of tshark's frame n (n itself when it
// is out of range: not a frame tshark was given).
func (m *frameMap) lookup(n uint64) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n >= 1 && n <= uint64(len(m.orig)) {
		return m.orig[n-1]
	}
	return n
}

// pcapng block types and options written by feedFiltered.
const (
	blockSHB     = 0x0A0D0D0A
	blockIDB     = 1
	blockEPB     = 6
	optIfName    = 2
	optIfTSResol = 9
	optIfFCSLen  = 13
)

// pcapngWriter writes a little-endian pcapng stream with nanosecond
// timestamps.
type pcapngWriter struct {
	w   *bufio.Writer
	hdr [32]byte
}

var le = binary.LittleEndian

func (p *pcapngWriter) section() error {
	b := p.hdr[:28]
	le.PutUint32(b[0:], blockSHB)
	le.PutUint32(b[4:], 28)
	le.PutUint32(b[8:], 0x1A2B3C4D)
	le.PutUint16(b[12:], 1)
	le.PutUint16(b[14:], 0)
	le.PutUint64(b[16:], ^uint64(0)) // section length unknown
	le.PutUint32(b[24:], 28)
	_, err := p.w.Write(b)
	return err
}

// iface writes an Interface Description Block: the link type, the name
// (if_name, when known), nanosecond resolution and the FCS length when the
// original interface has one.
func (p *pcapngWriter) iface(in capfile.Interface) error {
	var opts []byte
	opt := func(code uint16, val []byte) {
		var h [4]byte
		le.PutUint16(h[0:], code)
		le.PutUint16(h[2:], uint16(len(val)))
		opts = append(opts, h[:]...)
		opts = append(opts, val...)
		for len(opts)%4 != 0 {
			opts = append(opts, 0)
		}
	}
	if in.Name != "" && len(in.Name) < 1<<15 {
		opt(optIfName, []byte(in.Name))
	}
	opt(optIfTSResol, []byte{9})
	if in.FCSLen > 0 {
		opt(optIfFCSLen, []byte{byte(in.FCSLen)})
	}
	opt(0, nil) // opt_endofopt
	total := 20 + len(opts)
	b := p.hdr[:16]
	le.PutUint32(b[0:], blockIDB)
	le.PutUint32(b[4:], uint32(total))
	le.PutUint16(b[8:], in.LinkType)
	le.PutUint16(b[10:], 0)
	le.PutUint32(b[12:], 0) // snaplen: no limit
	p.w.Write(b)
	p.w.Write(opts)
	le.PutUint32(b[0:], uint32(total))
	_, err := p.w.Write(b[:4])
	return err
}

// packet writes an Enhanced Packet Block.
func (p *pcapngWriter) packet(id uint32, rec *capfile.Record) error {
	pad := (4 - len(rec.Data)%4) % 4
	total := 32 + len(rec.Data) + pad
	b := p.hdr[:28]
	ts := uint64(rec.Timestamp)
	le.PutUint32(b[0:], blockEPB)
	le.PutUint32(b[4:], uint32(total))
	le.PutUint32(b[8:], id)
	le.PutUint32(b[12:], uint32(ts>>32))
	le.PutUint32(b[16:], uint32(ts))
	le.PutUint32(b[20:], uint32(len(rec.Data)))
	le.PutUint32(b[24:], uint32(rec.OrigLen))
	p.w.Write(b)
	p.w.Write(rec.Data)
	var z [4]byte
	p.w.Write(z[:pad])
	le.PutUint32(z[:], uint32(total))
	_, err := p.w.Write(z[:])
	return err
}

// pcapWriter writes a little-endian nanosecond pcap stream.
type pcapWriter struct {
	w   *bufio.Writer
	hdr [24]byte
}

// header writes the file header of the original's interface: link type,
// FCS length and snapshot length as they were.
func (p *pcapWriter) header(in capfile.Interface) error {
	b := p.hdr[:24]
	le.PutUint32(b[0:], 0xa1b23c4d)
	le.PutUint16(b[4:], 2)
	le.PutUint16(b[6:], 4)
	le.PutUint32(b[8:], 0)
	le.PutUint32(b[12:], 0)
	snap := in.SnapLen
	if snap == 0 {
		snap = 262144
	}
	le.PutUint32(b[16:], snap)
	lt := uint32(in.LinkType)
	if in.FCSLen > 0 {
		lt |= 0x04000000 | uint32(in.FCSLen/2)<<28 // FCS length in 16-bit words
	}
	le.PutUint32(b[20:], lt)
	_, err := p.w.Write(b)
	return err
}

func (p *pcapWriter) packet(rec *capfile.Record) error {
	b := p.hdr[:16]
	sec, ns := rec.Timestamp/1e9, rec.Timestamp%1e9
	if ns < 0 {
		sec, ns = sec-1, ns+1e9
	}
	le.PutUint32(b[0:], uint32(sec))
	le.PutUint32(b[4:], uint32(ns))
	le.PutUint32(b[8:], uint32(len(rec.Data)))
	le.PutUint32(b[12:], uint32(rec.OrigLen))
	p.w.Write(b)
	_, err := p.w.Write(rec.Data)
	return err
}

// errFeedStopped ends feedFiltered when tshark no longer reads.
var errFeedStopped = errors.New("tshark stopped reading")

// feedFiltered reads the capture r, runs the filter expr on every packet
// and writes the packets kept to w in the file's format (pcap as pcap,
// with nanosecond timestamps; pcapng as pcapng, with each interface's link
// type, name and FCS length), so that tshark sees them as in the file,
// recording their original
// frame numbers in fm; it counts the others in st.Filtered. It returns
// the file's damage (a *capfile.Error: the packets before it are written),
// a filter that does not apply to the file's link type, or nil at the end
// of the file; errFeedStopped when w fails (tshark died or was stopped).
func feedFiltered(ctx context.Context, r *capfile.Reader, expr string, skip uint64, w io.Writer, fm *frameMap, st *pipeline.Stats) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	p := &pcapngWriter{w: bw}
	var pc *pcapWriter
	if r.Format() == capfile.Pcap && len(r.Interfaces()) == 1 {
		pc = &pcapWriter{w: bw}
		if err := pc.header(r.Interfaces()[0]); err != nil {
			return errFeedStopped
		}
	} else if err := p.section(); err != nil {
		return errFeedStopped
	}
	set := filter.NewSet(expr, 262144)
	type ifKey struct{ section, id int }
	ids := map[ifKey]uint32{}
	var rec capfile.Record
	var number uint64
	for {
		err := r.Next(&rec)
		if err == io.EOF {
			break
		}
		if err != nil {
			p.w.Flush()
			return err
		}
		number += uint64(rec.FramesBefore) + 1 // tshark's frame numbers
		if number%256 == 0 && ctx.Err() != nil {
			return errFeedStopped
		}
		if number <= skip {
			continue // a resumed import: imported by an earlier run
		}
		ok, err := set.Match(int(rec.LinkType), rec.Data, rec.OrigLen)
		if err != nil {
			p.w.Flush()
			return fmt.Errorf("--bpf: frame %d: %w", number, err)
		}
		if !ok {
			st.Filtered.Add(1)
			continue
		}
		if pc != nil {
			fm.add(number)
			if err := pc.packet(&rec); err != nil {
				return errFeedStopped
			}
			continue
		}
		ifs := r.Interfaces()
		var in capfile.Interface
		if rec.Interface < len(ifs) {
			in = ifs[rec.Interface]
		} else {
			in = capfile.Interface{LinkType: rec.LinkType, FCSLen: -1}
		}
		k := ifKey{in.Section, rec.Interface}
		id, seen := ids[k]
		if !seen {
			id = uint32(len(ids))
			ids[k] = id
			if err := p.iface(in); err != nil {
				return errFeedStopped
			}
		}
		fm.add(number)
		if err := p.packet(id, &rec); err != nil {
			return errFeedStopped
		}
	}
	if err := p.w.Flush(); err != nil {
		return errFeedStopped
	}
	return nil
}
