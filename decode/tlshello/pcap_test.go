package tlshello

// A minimal pcap/pcapng reader for the tests. gopacket's pcapgo package
// imports golang.org/x/sys, which is not in this module's go.sum, so the
// tests read captures themselves and decode packets with gopacket.NewPacket.

import (
	"encoding/binary"
	"fmt"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// readCapture returns the packets of a pcap or pcapng file, in file order.
func readCapture(name string) ([]gopacket.Packet, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	if len(data) < 24 {
		return nil, fmt.Errorf("%s: short file", name)
	}
	var out []gopacket.Packet
	add := func(b []byte, lt uint32) {
		c := make([]byte, len(b))
		copy(c, b)
		out = append(out, gopacket.NewPacket(c, layers.LinkType(lt), gopacket.Default))
	}
	switch m := binary.LittleEndian.Uint32(data); m {
	case 0xa1b2c3d4, 0xa1b23c4d, 0xd4c3b2a1, 0x4d3cb2a1:
		var bo binary.ByteOrder = binary.LittleEndian
		if m == 0xd4c3b2a1 || m == 0x4d3cb2a1 {
			bo = binary.BigEndian
		}
		lt := bo.Uint32(data[20:]) & 0xffff
		for p := 24; p+16 <= len(data); {
			incl := int(bo.Uint32(data[p+8:]))
			if incl < 0 || p+16+incl > len(data) {
				return out, fmt.Errorf("%s: truncated record", name)
			}
			add(data[p+16:p+16+incl], lt)
			p += 16 + incl
		}
		return out, nil
	case 0x0a0d0d0a:
		var bo binary.ByteOrder = binary.LittleEndian
		var ifaces []uint32
		for p := 0; p+12 <= len(data); {
			typ := binary.LittleEndian.Uint32(data[p:])
			if typ == 0x0a0d0d0a {
				if binary.LittleEndian.Uint32(data[p+8:]) == 0x1a2b3c4d {
					bo = binary.LittleEndian
				} else {
					bo = binary.BigEndian
				}
				ifaces = ifaces[:0]
			} else {
				typ = bo.Uint32(data[p:])
			}
			blen := int(bo.Uint32(data[p+4:]))
			if blen < 12 || p+blen > len(data) {
				return out, fmt.Errorf("%s: bad block", name)
			}
			body := data[p+8 : p+blen-4]
			switch typ {
			case 1: // interface description
				ifaces = append(ifaces, uint32(bo.Uint16(body)))
			case 6: // enhanced packet
				id := bo.Uint32(body)
				incl := int(bo.Uint32(body[12:]))
				if int(id) < len(ifaces) && 20+incl <= len(body) {
					add(body[20:20+incl], ifaces[id])
				}
			case 3: // simple packet
				if len(ifaces) > 0 {
					add(body[4:], ifaces[0])
				}
			}
			p += blen
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: not a capture file", name)
}
