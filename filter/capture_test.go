package filter

// A minimal pcap / pcapng reader for the tests, so that they depend on no
// other package of this repository.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
)

// testPacket is one packet of a capture file.
type testPacket struct {
	num      int // 1-based, as tcpdump and tshark count
	linkType int
	data     []byte
	origLen  int
}

// testCapture is a whole capture file in memory.
type testCapture struct {
	packets []testPacket
	// snaplen is the snapshot length libpcap would report for the file
	// (pcap header, or first pcapng interface); 0 if not set.
	snaplen   int
	linkTypes map[int]bool
	// order is the byte order of the file (of its first pcapng section).
	order binary.ByteOrder
}

func readCaptureFile(path string) (*testCapture, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseCapture(b)
}

func parseCapture(b []byte) (*testCapture, error) {
	if len(b) < 4 {
		return nil, errors.New("file too short")
	}
	if binary.LittleEndian.Uint32(b) == 0x0a0d0d0a {
		return parsePcapng(b)
	}
	return parsePcap(b)
}

func parsePcap(b []byte) (*testCapture, error) {
	if len(b) < 24 {
		return nil, errors.New("pcap header too short")
	}
	var bo binary.ByteOrder
	switch m := binary.LittleEndian.Uint32(b); m {
	case 0xa1b2c3d4, 0xa1b23c4d:
		bo = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		bo = binary.BigEndian
	default:
		return nil, fmt.Errorf("not a pcap file (magic %#x)", m)
	}
	c := &testCapture{
		snaplen:   int(bo.Uint32(b[16:])),
		linkTypes: map[int]bool{},
		order:     bo,
	}
	lt := int(bo.Uint32(b[20:]) & 0x03ffffff)
	c.linkTypes[lt] = true
	off := 24
	for off+16 <= len(b) {
		incl := int(bo.Uint32(b[off+8:]))
		orig := int(bo.Uint32(b[off+12:]))
		off += 16
		if incl > len(b)-off {
			return c, fmt.Errorf("packet %d truncated", len(c.packets)+1)
		}
		c.packets = append(c.packets, testPacket{num: len(c.packets) + 1, linkType: lt, data: b[off : off+incl], origLen: orig})
		off += incl
	}
	return c, nil
}

func parsePcapng(b []byte) (*testCapture, error) {
	c := &testCapture{linkTypes: map[int]bool{}}
	var bo binary.ByteOrder = binary.LittleEndian
	type iface struct{ lt, snaplen int }
	var ifaces []iface
	first := true
	for off := 0; off+12 <= len(b); {
		typ := binary.LittleEndian.Uint32(b[off:])
		if typ == 0x0a0d0d0a {
			switch binary.LittleEndian.Uint32(b[off+8:]) {
			case 0x1a2b3c4d:
				bo = binary.LittleEndian
			case 0x4d3c2b1a:
				bo = binary.BigEndian
			default:
				return c, errors.New("bad pcapng byte-order magic")
			}
			ifaces = nil
			if c.order == nil {
				c.order = bo
			}
		} else {
			typ = bo.Uint32(b[off:])
		}
		blen := int(bo.Uint32(b[off+4:]))
		if blen < 12 || blen > len(b)-off {
			return c, fmt.Errorf("bad block length %d at %d", blen, off)
		}
		body := b[off+8 : off+blen-4]
		switch typ {
		case 1: // IDB
			if len(body) < 8 {
				return c, errors.New("short IDB")
			}
			ifc := iface{lt: int(bo.Uint16(body)), snaplen: int(bo.Uint32(body[4:]))}
			ifaces = append(ifaces, ifc)
			c.linkTypes[ifc.lt] = true
			if first {
				c.snaplen, first = ifc.snaplen, false
			}
		case 6, 2: // EPB, obsolete PB
			if len(body) < 20 {
				return c, errors.New("short packet block")
			}
			var id int
			if typ == 6 {
				id = int(bo.Uint32(body))
			} else {
				id = int(bo.Uint16(body))
			}
			capl, orig := int(bo.Uint32(body[12:])), int(bo.Uint32(body[16:]))
			if id >= len(ifaces) || capl > len(body)-20 {
				return c, fmt.Errorf("bad packet block at %d", off)
			}
			c.packets = append(c.packets, testPacket{num: len(c.packets) + 1, linkType: ifaces[id].lt, data: body[20 : 20+capl], origLen: orig})
		case 3: // SPB
			if len(ifaces) == 0 || len(body) < 4 {
				return c, errors.New("bad simple packet block")
			}
			orig := int(bo.Uint32(body))
			capl := min(orig, len(body)-4)
			if s := ifaces[0].snaplen; s > 0 && capl > s {
				capl = s
			}
			c.packets = append(c.packets, testPacket{num: len(c.packets) + 1, linkType: ifaces[0].lt, data: body[4 : 4+capl], origLen: orig})
		}
		off += blen
	}
	return c, nil
}

// alignKept returns the numbers of the packets of in that tcpdump kept,
// given tcpdump's output out: out's records are a subsequence of in's, in
// order, so a greedy walk finds them.
func alignKept(in, out []testPacket) ([]int, error) {
	var kept []int
	j := 0
	for _, p := range in {
		if j < len(out) && p.origLen == out[j].origLen && bytes.Equal(p.data, out[j].data) {
			kept = append(kept, p.num)
			j++
		}
	}
	if j != len(out) {
		return kept, fmt.Errorf("only %d of tcpdump's %d output packets found in the input", j, len(out))
	}
	return kept, nil
}
