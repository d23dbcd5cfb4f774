package decode

import (
	"encoding/binary"

	"github.com/gopacket/gopacket/layers"
)

// This file decodes ICMP and ICMPv6, and sends the datagram an error
// message quotes back through the loop.

func (d *Decoder) icmpv4(nx next, data []byte) (next, []byte) {
	p := &d.pkt
	df := &d.df
	i := p.add(KindICMPv4)
	if i < 0 {
		return nDone, nil
	}
	l := &p.ICMPv4[i]
	if err := l.DecodeFromBytes(data, df); err != nil {
		p.fail(KindICMPv4, err)
		if len(data) >= 2 {
			// cut before 8 bytes: Wireshark shows the type and code
			// (and the checksum when there)
			*l = layers.ICMPv4{TypeCode: layers.ICMPv4TypeCode(binary.BigEndian.Uint16(data))}
			if len(data) >= 4 {
				l.Checksum = binary.BigEndian.Uint16(data[2:4])
			}
			l.Contents = data
			p.commit(KindICMPv4, i, "icmp")
			p.Layers[len(p.Layers)-1].Partial = true
		}
		return nDone, nil
	}
	p.commit(KindICMPv4, i, "icmp")
	switch l.TypeCode.Type() {
	case 3, 4, 5, 11, 12: // errors quote the offending datagram
		if d.walk.icmpDepth == 0 && len(l.Payload) >= 20 && l.Payload[0]>>4 == 4 {
			d.walk.icmpDepth++
			return nIPv4, l.Payload
		}
	}
	return nDone, nil
}

func (d *Decoder) icmpv6(nx next, data []byte) (next, []byte) {
	p := &d.pkt
	df := &d.df
	i := p.add(KindICMPv6)
	if i < 0 {
		return nDone, nil
	}
	l := &p.ICMPv6[i]
	if err := l.DecodeFromBytes(data, df); err != nil {
		p.fail(KindICMPv6, err)
		return nDone, nil
	}
	p.commit(KindICMPv6, i, "icmpv6")
	if t := l.TypeCode.Type(); t >= 1 && t <= 4 && d.walk.icmpDepth == 0 && len(l.Payload) >= 44 && l.Payload[4]>>4 == 6 {
		d.walk.icmpDepth++
		return nIPv6, l.Payload[4:]
	}
	return nDone, nil
}
