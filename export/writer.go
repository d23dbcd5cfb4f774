package export

import (
	"encoding/binary"
	"fmt"
	"io"
)

// snapLen is the snapshot length written in headers: libpcap's and
// tcpdump's MAXIMUM_SNAPLEN.
const snapLen = 262144

var zeros [4]byte

// Writer writes packets as one capture file: pcap with nanosecond
// timestamps for one link type, or pcapng (one interface per link type,
// nanosecond resolution) when NewWriter is told that types may mix. It
// buffers nothing itself; give it a bufio.Writer.
type Writer struct {
	w      io.Writer
	ng     bool
	link   uint16
	ifaces map[uint16]uint32 // pcapng: interface id by link type
	buf    []byte
	n      uint64
}

// NewWriter writes the file header: pcap for link type link when ng is
// false, else the pcapng section header (interfaces follow as needed).
func NewWriter(w io.Writer, ng bool, link uint16) (*Writer, error) {
	wr := &Writer{w: w, ng: ng, link: link, ifaces: map[uint16]uint32{}}
	var h []byte
	if ng {
		h = binary.LittleEndian.AppendUint32(h, 0x0a0d0d0a)
		h = binary.LittleEndian.AppendUint32(h, 28)
		h = binary.LittleEndian.AppendUint32(h, 0x1a2b3c4d)
		h = binary.LittleEndian.AppendUint16(h, 1)
		h = binary.LittleEndian.AppendUint16(h, 0)
		h = binary.LittleEndian.AppendUint64(h, ^uint64(0)) // section length unknown
		h = binary.LittleEndian.AppendUint32(h, 28)
	} else {
		h = binary.LittleEndian.AppendUint32(h, 0xa1b23c4d) // nanoseconds
		h = binary.LittleEndian.AppendUint16(h, 2)
		h = binary.LittleEndian.AppendUint16(h, 4)
		h = binary.LittleEndian.AppendUint32(h, 0) // thiszone
		h = binary.LittleEndian.AppendUint32(h, 0) // sigfigs
		h = binary.LittleEndian.AppendUint32(h, snapLen)
		h = binary.LittleEndian.AppendUint32(h, uint32(link))
	}
	if _, err := w.Write(h); err != nil {
		return nil, fmt.Errorf("writing the file header: %w", err)
	}
	return wr, nil
}

// Packets returns the number of packets written.
func (w *Writer) Packets() uint64 { return w.n }

// Write writes one packet: its captured bytes, on-the-wire length, capture
// time (Unix ns) and link type. A pcap Writer takes only its link type.
func (w *Writer) Write(data []byte, origLen int, ts int64, link uint16) error {
	b := w.buf[:0]
	if !w.ng {
		if link != w.link {
			return fmt.Errorf("packet of link type %d in a pcap file of link type %d", link, w.link)
		}
		sec, nsec := ts/1e9, ts%1e9
		if nsec < 0 {
			sec, nsec = sec-1, nsec+1e9
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(sec))
		b = binary.LittleEndian.AppendUint32(b, uint32(nsec))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
		b = binary.LittleEndian.AppendUint32(b, uint32(origLen))
		b = append(b, data...)
	} else {
		id, ok := w.ifaces[link]
		if !ok {
			id = uint32(len(w.ifaces))
			w.ifaces[link] = id
			// IDB with if_tsresol 9 (nanoseconds)
			b = binary.LittleEndian.AppendUint32(b, 1)
			b = binary.LittleEndian.AppendUint32(b, 32)
			b = binary.LittleEndian.AppendUint16(b, link)
			b = binary.LittleEndian.AppendUint16(b, 0)
			b = binary.LittleEndian.AppendUint32(b, snapLen)
			b = binary.LittleEndian.AppendUint16(b, 9) // if_tsresol
			b = binary.LittleEndian.AppendUint16(b, 1)
			b = append(b, 9, 0, 0, 0)
			b = binary.LittleEndian.AppendUint32(b, 0) // opt_endofopt
			b = binary.LittleEndian.AppendUint32(b, 32)
		}
		pad := (4 - len(data)%4) % 4
		total := uint32(32 + len(data) + pad)
		b = binary.LittleEndian.AppendUint32(b, 6)
		b = binary.LittleEndian.AppendUint32(b, total)
		b = binary.LittleEndian.AppendUint32(b, id)
		b = binary.LittleEndian.AppendUint32(b, uint32(uint64(ts)>>32))
		b = binary.LittleEndian.AppendUint32(b, uint32(uint64(ts)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
		b = binary.LittleEndian.AppendUint32(b, uint32(origLen))
		b = append(b, data...)
		b = append(b, zeros[:pad]...)
		b = binary.LittleEndian.AppendUint32(b, total)
	}
	w.buf = b
	if _, err := w.w.Write(b); err != nil {
		return err
	}
	w.n++
	return nil
}
