package decode

import "encoding/binary"

// This file decodes ERSPAN type I, II and III headers.

// ERSPAN is an ERSPAN type I, II or III header.
type ERSPAN struct {
	Version   uint8 // 0 for type I (no header), 1 for type II, 2 for type III
	VLAN      uint16
	CoS       uint8
	Encap     uint8 // the En field
	Truncated bool
	SessionID uint16
	Index     uint32 // type II only
	Timestamp uint32 // type III only
	SGT       uint16 // type III only
}

func (d *Decoder) erspan(nx next, data []byte) (next, []byte) {
	p := &d.pkt
	i := p.add(KindERSPAN)
	if i < 0 {
		return nDone, nil
	}
	n, err := p.ERSPAN[i].DecodeFromBytes(data, d.walk.erspan3, d.walk.greSeq)
	if err != nil {
		p.fail(KindERSPAN, err)
		return nDone, nil
	}
	p.commit(KindERSPAN, i, "erspan")
	return nEthernet, data[n:]
}

// DecodeFromBytes decodes an ERSPAN header and returns its length: type
// III when type3 (GRE protocol 0x22eb), else type II when the GRE header
// had a sequence number (seq), else type I, which has no header.
func (h *ERSPAN) DecodeFromBytes(data []byte, type3, seq bool) (n int, err error) {
	*h = ERSPAN{}
	switch {
	case type3:
		n = 12
	case seq:
		n = 8
	}
	if len(data) < n {
		return 0, errShort
	}
	if n > 0 {
		// the first word is the same in types II and III
		v := binary.BigEndian.Uint32(data)
		h.Version = uint8(v >> 28)
		h.VLAN = uint16(v>>16) & 0xfff
		h.CoS = uint8(v>>13) & 7
		h.Encap = uint8(v>>11) & 3
		h.Truncated = v&0x400 != 0
		h.SessionID = uint16(v & 0x3ff)
	}
	if type3 {
		h.Timestamp = binary.BigEndian.Uint32(data[4:8])
		h.SGT = binary.BigEndian.Uint16(data[8:10])
		if data[11]&1 != 0 { // platform-specific subheader follows
			n += 8
		}
		if len(data) < n {
			return 0, errShort
		}
	} else if n > 0 {
		h.Index = binary.BigEndian.Uint32(data[4:8]) & 0xfffff
	}
	return n, nil
}
