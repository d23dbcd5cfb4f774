package decode

import "encoding/binary"

// This file decodes Geneve headers (RFC 8926).

// GeneveHeader is the fixed part of a Geneve header (RFC 8926).
type GeneveHeader struct {
	Version   uint8
	OptLen    uint8 // in 4-byte words
	Flags     uint8 // the second byte: O, C and reserved bits
	OAM       bool
	Critical  bool
	Protocol  uint16
	VNI       uint32
	OptionLen int
}

func (d *Decoder) geneve(nx next, data []byte) (next, []byte) {
	p := &d.pkt
	i := p.add(KindGeneve)
	if i < 0 {
		return nDone, nil
	}
	g := &p.Geneve[i]
	if err := g.DecodeFromBytes(data); err != nil {
		p.fail(KindGeneve, err)
		return nDone, nil
	}
	p.commit(KindGeneve, i, "geneve")
	if g.Protocol == 0x6558 {
		nx = nEthernet
	} else {
		nx = d.etherType(g.Protocol)
	}
	return nx, data[8+g.OptionLen:]
}

// DecodeFromBytes decodes the fixed header; the options (OptionLen bytes)
// must follow it in data.
func (g *GeneveHeader) DecodeFromBytes(data []byte) error {
	if len(data) < 8 {
		return errShort
	}
	g.Version = data[0] >> 6
	g.OptLen = data[0] & 0x3f
	g.Flags = data[1]
	g.OAM = data[1]&0x80 != 0
	g.Critical = data[1]&0x40 != 0
	g.Protocol = binary.BigEndian.Uint16(data[2:4])
	g.VNI = uint32(data[4])<<16 | uint32(data[5])<<8 | uint32(data[6])
	g.OptionLen = int(g.OptLen) * 4
	if 8+g.OptionLen > len(data) {
		return errShort
	}
	return nil
}
