package decode

import (
	"encoding/binary"

	"github.com/gopacket/gopacket/layers"
)

// This file decodes MPLS label stack entries.

func (d *Decoder) mpls(nx next, data []byte) (next, []byte) {
	p := &d.pkt
	i := p.add(KindMPLS)
	if i < 0 {
		return nDone, nil
	}
	l := &p.MPLS[i]
	if err := decodeMPLS(l, data); err != nil {
		p.fail(KindMPLS, err)
		return nDone, nil
	}
	p.commit(KindMPLS, i, "mpls")
	data = data[4:]
	if !l.StackBottom {
		nx = nMPLS
	} else if len(data) > 0 && data[0]>>4 == 4 {
		nx = nIPv4
	} else if len(data) > 0 && data[0]>>4 == 6 {
		nx = nIPv6
	} else {
		return nDone, nil
	}
	return nx, data
}

// decodeMPLS decodes one label stack entry (gopacket's MPLS layer, without
// its Contents and Payload).
func decodeMPLS(l *layers.MPLS, data []byte) error {
	if len(data) < 4 {
		return errShort
	}
	v := binary.BigEndian.Uint32(data)
	l.Label = v >> 12
	l.TrafficClass = uint8(v>>9) & 7
	l.StackBottom = v&0x100 != 0
	l.TTL = uint8(v)
	return nil
}
