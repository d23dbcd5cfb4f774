package decode

import (
	"encoding/binary"

	"github.com/gopacket/gopacket/layers"
)

// This file decodes IPv4 and IPv6 headers and the IPv6 extension headers.

// IPv6Ext holds the IPv6 extension headers found after one IPv6 header.
type IPv6Ext struct {
	HopOptsNxt  int // -1 when absent; next header of the hop-by-hop header
	HopOptsLen  int // the length field: 8-octet units, not counting the first 8
	RoutingNxt  int // -1 when absent
	RoutingType int
	RoutingSegs int
	FragNxt     int // -1 when absent
	FragOffset  uint16
	FragMore    bool
	FragIdent   uint32
	DstOptsNxt  int // -1 when absent
	DstOptsLen  int // the length field: 8-octet units, not counting the first 8
}

func (e *IPv6Ext) reset() {
	e.HopOptsNxt, e.RoutingNxt, e.FragNxt, e.DstOptsNxt = -1, -1, -1, -1
}

func (d *Decoder) ipVersion(nx next, data []byte) (next, []byte) {
	switch data[0] >> 4 {
	case 4:
		nx = nIPv4
	case 6:
		nx = nIPv6
	default:
		return nDone, nil
	}
	return nx, data
}

func (d *Decoder) ipv4(nx next, data []byte) (next, []byte) {
	p := &d.pkt
	df := &d.df
	switch data[0] >> 4 {
	case 4:
	case 6:
		// As Wireshark's IP dissector: an IPv6 packet where IPv4 was
		// announced (EtherType 0x0800, LINKTYPE_IPV4) is decoded as IPv6.
		return nIPv6, data
	default:
		p.fail(KindIPv4, errIPVersion)
		return nDone, nil
	}
	i := p.add(KindIPv4)
	if i < 0 {
		return nDone, nil
	}
	l := &p.IPv4[i]
	if err := l.DecodeFromBytes(data, df); err != nil {
		p.fail(KindIPv4, err)
		if ipv4Partial(l, data) {
			p.commitIP(KindIPv4, i, "ip")
			p.Layers[len(p.Layers)-1].Partial = true
		}
		return nDone, nil
	}
	p.commitIP(KindIPv4, i, "ip")
	d.walk.ipPayload = fragPayload(p, int(l.Length)-int(l.IHL)*4, l.Payload)
	fragment := l.Flags&layers.IPv4MoreFragments != 0 || l.FragOffset != 0
	if fragment {
		p.Flags |= FlagFragment
		if l.FragOffset != 0 {
			return nDone, nil // no transport header in a later fragment
		}
	}
	return d.ipProto(uint8(l.Protocol)), l.Payload
}

func (d *Decoder) ipv6(nx next, data []byte) (next, []byte) {
	p := &d.pkt
	df := &d.df
	i := p.add(KindIPv6)
	if i < 0 {
		return nDone, nil
	}
	if data[0]>>4 != 6 {
		// Wireshark stops here too ("Bogus IPv6 version").
		p.fail(KindIPv6, errIPVersion)
		return nDone, nil
	}
	l := &p.IPv6[i]
	ext := &p.IPv6Ext[i]
	ext.reset()
	if len(data) >= 40 && data[4] == 0 && data[5] == 0 && data[6] != 0 {
		// Payload length 0 without a hop-by-hop header (no jumbogram):
		// gopacket refuses it; Wireshark shows the header (and an
		// empty payload). Not malformed: a Teredo bubble is such a
		// packet.
		ipv6NoLength(l, data)
	} else if err := l.DecodeFromBytes(data, df); err != nil {
		p.fail(KindIPv6, err)
		if ipv6Partial(l, data) {
			p.commitIP(KindIPv6, i, "ipv6")
			p.Layers[len(p.Layers)-1].Partial = true
		}
		return nDone, nil
	}
	p.commitIP(KindIPv6, i, "ipv6")
	proto := uint8(l.NextHeader)
	payload := l.Payload
	if l.HopByHop != nil {
		ext.HopOptsNxt = int(l.HopByHop.NextHeader)
		ext.HopOptsLen = l.HopByHop.ActualLength/8 - 1
		proto = uint8(l.HopByHop.NextHeader)
	}
	var later bool
	before := len(payload)
	proto, payload, later = d.ipv6Ext(ext, proto, payload)
	d.walk.ipPayload = int(l.Length) - (before - len(payload))
	if l.HopByHop != nil {
		d.walk.ipPayload -= l.HopByHop.ActualLength
	}
	d.walk.ipPayload = fragPayload(p, d.walk.ipPayload, payload)
	if later {
		return nDone, nil
	}
	return d.ipProto(proto), payload
}

// ipProto maps an IP protocol number to the next decoder.
func (d *Decoder) ipProto(proto uint8) next {
	switch proto {
	case 1:
		return nICMPv4
	case 4:
		return nIPv4
	case 6:
		return nTCP
	case 17:
		return nUDP
	case 41:
		return nIPv6
	case 47:
		return nGRE
	case 58:
		return nICMPv6
	case 132:
		return nSCTP
	case 137:
		return nMPLS
	}
	return nDone
}

// ipv6Ext walks the IPv6 extension headers after the hop-by-hop header
// (which gopacket's IPv6 decoder handles itself). It reports later=true for
// a non-first fragment, whose payload holds no upper-layer header.
func (d *Decoder) ipv6Ext(ext *IPv6Ext, proto uint8, b []byte) (uint8, []byte, bool) {
	for n := 0; n < 8; n++ {
		switch proto {
		case 43: // routing
			if len(b) < 8 {
				return proto, b, false
			}
			ext.RoutingNxt = int(b[0])
			ext.RoutingType = int(b[2])
			ext.RoutingSegs = int(b[3])
			l := (int(b[1]) + 1) * 8
			if l > len(b) {
				return proto, b, false
			}
			proto, b = b[0], b[l:]
		case 60: // destination options
			if len(b) < 8 {
				return proto, b, false
			}
			ext.DstOptsNxt = int(b[0])
			ext.DstOptsLen = int(b[1])
			l := (int(b[1]) + 1) * 8
			if l > len(b) {
				return proto, b, false
			}
			proto, b = b[0], b[l:]
		case 44: // fragment
			if len(b) < 8 {
				return proto, b, false
			}
			ext.FragNxt = int(b[0])
			fo := binary.BigEndian.Uint16(b[2:4])
			ext.FragOffset = fo >> 3
			ext.FragMore = fo&1 != 0
			ext.FragIdent = binary.BigEndian.Uint32(b[4:8])
			d.pkt.Flags |= FlagFragment
			if ext.FragOffset != 0 {
				return b[0], b[8:], true
			}
			proto, b = b[0], b[8:]
		default:
			return proto, b, false
		}
	}
	return proto, b, false
}

// ipv6NoLength decodes the fixed IPv6 header of data (at least 40 bytes),
// whose payload length is 0, as gopacket would if it accepted it: the
// payload is empty.
func ipv6NoLength(l *layers.IPv6, data []byte) {
	*l = layers.IPv6{
		Version:      data[0] >> 4,
		TrafficClass: data[0]<<4 | data[1]>>4,
		FlowLabel:    binary.BigEndian.Uint32(data[0:4]) & 0xfffff,
		NextHeader:   layers.IPProtocol(data[6]),
		HopLimit:     data[7],
		SrcIP:        data[8:24],
		DstIP:        data[24:40],
	}
	l.Contents, l.Payload = data[:40], data[40:40]
}

// ipv4Partial fills l from an IPv4 header gopacket refused (cut short, or
// a header or total length that does not fit), as far as Wireshark shows
// it: the fields of the bytes captured, but only the version and header
// length when the header length is below 20, and up to the length field
// when the total length is below the header length (where Wireshark
// stops). l.Contents holds the bytes whose fields are
// valid (the encoder writes those only). It reports false when not even
// the version byte is there.
func ipv4Partial(l *layers.IPv4, data []byte) bool {
	n := min(len(data), 20)
	if n < 1 {
		return false
	}
	*l = layers.IPv4{Version: data[0] >> 4, IHL: data[0] & 15}
	switch hl := int(l.IHL) * 4; {
	case hl < 20:
		n = 1 // Wireshark: "Bogus IP header length", nothing after it
	case n >= 4 && int(binary.BigEndian.Uint16(data[2:4])) < hl:
		n = 4 // "Bogus IP length", nothing after the length
	}
	if n >= 2 {
		l.TOS = data[1]
	}
	if n >= 4 {
		l.Length = binary.BigEndian.Uint16(data[2:4])
	}
	if n >= 6 {
		l.Id = binary.BigEndian.Uint16(data[4:6])
	}
	if n >= 8 {
		l.Flags = layers.IPv4Flag(data[6] >> 5)
		l.FragOffset = binary.BigEndian.Uint16(data[6:8]) & 0x1fff
	}
	if n >= 9 {
		l.TTL = data[8]
	}
	if n >= 10 {
		l.Protocol = layers.IPProtocol(data[9])
	}
	if n >= 12 {
		l.Checksum = binary.BigEndian.Uint16(data[10:12])
	}
	if n >= 16 {
		l.SrcIP = data[12:16]
	}
	if n >= 20 {
		l.DstIP = data[16:20]
	}
	l.Contents = data[:n]
	return true
}

// ipv6Partial fills l from an IPv6 header cut short (fewer than 40
// bytes), as far as the bytes captured reach; l.Contents holds them. It
// reports false when not even the version byte is there.
func ipv6Partial(l *layers.IPv6, data []byte) bool {
	n := min(len(data), 40)
	if n < 1 || n == 40 {
		return false
	}
	*l = layers.IPv6{Version: data[0] >> 4}
	if n >= 2 {
		l.TrafficClass = data[0]<<4 | data[1]>>4
	}
	if n >= 4 {
		l.FlowLabel = binary.BigEndian.Uint32(data[0:4]) & 0xfffff
	}
	if n >= 6 {
		l.Length = binary.BigEndian.Uint16(data[4:6])
	}
	if n >= 7 {
		l.NextHeader = layers.IPProtocol(data[6])
	}
	if n >= 8 {
		l.HopLimit = data[7]
	}
	if n >= 24 {
		l.SrcIP = data[8:24]
	}
	l.Contents = data[:n]
	return true
}
