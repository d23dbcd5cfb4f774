package decode

import "encoding/binary"

// This file decodes Cisco MetaData headers.

// CiscoMetaData is a Cisco MetaData header (EtherType 0x8909), as found in
// GRE: it carries a Security Group Tag and the EtherType of what follows.
type CiscoMetaData struct {
	Version, Length uint8
	OptionType      uint16
	SGT             uint16
	Type            uint16
}

func (d *Decoder) cmd(nx next, data []byte) (next, []byte) {
	p := &d.pkt
	i := p.add(KindCMD)
	if i < 0 {
		return nDone, nil
	}
	c := &p.CMD[i]
	if err := c.DecodeFromBytes(data, d.walk.cmdInGRE); err != nil {
		p.fail(KindCMD, err)
		return nDone, nil
	}
	p.commit(KindCMD, i, "cmd")
	return d.etherType(c.Type), data[8:]
}

// DecodeFromBytes decodes the 8-byte header. In GRE (inGRE) the EtherType
// comes first, as Wireshark lays it out; after an Ethernet header it comes
// last.
func (c *CiscoMetaData) DecodeFromBytes(data []byte, inGRE bool) error {
	if len(data) < 8 {
		return errShort
	}
	h := data
	if inGRE {
		c.Type = binary.BigEndian.Uint16(h[0:2])
		h = h[2:]
	} else {
		c.Type = binary.BigEndian.Uint16(h[6:8])
	}
	c.Version, c.Length = h[0], h[1]
	c.OptionType = binary.BigEndian.Uint16(h[2:4])
	c.SGT = binary.BigEndian.Uint16(h[4:6])
	return nil
}
