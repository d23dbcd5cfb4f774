package decode

import "encoding/binary"

// This file decodes Linux netfilter log records (LINKTYPE_NFLOG).

// NFLOG is the header of a Linux netfilter log record (LINKTYPE_NFLOG).
type NFLOG struct {
	Family  uint8
	Version uint8
	ResID   uint16
	Prefix  []byte // the log prefix (NFULA_PREFIX), if any
}

// DecodeFromBytes decodes the record header and its TLVs from data, and
// returns the logged packet (NFULA_PAYLOAD; nil when there is none).
func (h *NFLOG) DecodeFromBytes(data []byte) (payload []byte, err error) {
	if len(data) < 4 {
		return nil, errShort
	}
	h.Family, h.Version = data[0], data[1]
	h.ResID = binary.BigEndian.Uint16(data[2:4])
	h.Prefix = nil
	// TLVs: length and type in host byte order (little-endian
	// on the machines that write these files), padded to 4
	for b := data[4:]; len(b) >= 4; {
		l := int(binary.LittleEndian.Uint16(b[0:2]))
		t := binary.LittleEndian.Uint16(b[2:4]) & 0x7fff
		if l < 4 || l > len(b) {
			break
		}
		switch t {
		case 9: // NFULA_PAYLOAD
			payload = b[4:l]
		case 10: // NFULA_PREFIX
			h.Prefix = trimNUL(b[4:l])
		}
		l = (l + 3) &^ 3
		if l > len(b) {
			break
		}
		b = b[l:]
	}
	return payload, nil
}

func (d *Decoder) nflog(nx next, data []byte) (next, []byte) {
	p := &d.pkt
	i := p.add(KindNFLOG)
	if i < 0 {
		return nDone, nil
	}
	payload, err := p.NFLOG[0].DecodeFromBytes(data)
	if err != nil {
		p.fail(KindNFLOG, err)
		return nDone, nil
	}
	p.commit(KindNFLOG, i, "nflog")
	if len(payload) == 0 {
		return nDone, nil
	}
	return nIPVersion, payload
}

// trimNUL cuts b at its first NUL byte.
func trimNUL(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}
