package decode

import "encoding/binary"

// This file decodes PPPoE session headers and PPP.

// PPPoE is a PPPoE session header (RFC 2516).
type PPPoE struct {
	Version, Type, Code uint8
	SessionID           uint16
	Length              uint16
}

// PPP is a PPP header: the protocol number, and whether address and control
// bytes were present.
type PPP struct {
	Protocol uint16
}

// DecodeFromBytes decodes the 6-byte header and returns the payload, cut
// to the header's length.
func (h *PPPoE) DecodeFromBytes(data []byte) (payload []byte, err error) {
	if len(data) < 6 {
		return nil, errShort
	}
	h.Version, h.Type = data[0]>>4, data[0]&0x0f
	h.Code = data[1]
	h.SessionID = binary.BigEndian.Uint16(data[2:4])
	h.Length = binary.BigEndian.Uint16(data[4:6])
	body := data[6:]
	if int(h.Length) < len(body) {
		body = body[:h.Length]
	}
	return body, nil
}

func (d *Decoder) pppoe(nx next, data []byte) (next, []byte) {
	p := &d.pkt
	i := p.add(KindPPPoE)
	if i < 0 {
		return nDone, nil
	}
	h := &p.PPPoE[i]
	body, err := h.DecodeFromBytes(data)
	if err != nil {
		p.fail(KindPPPoE, err)
		return nDone, nil
	}
	p.commit(KindPPPoE, i, "pppoes")
	if h.Code != 0 {
		return nDone, nil // discovery stage
	}
	return nPPP, body
}

func (d *Decoder) ppp(nx next, data []byte) (next, []byte) {
	p := &d.pkt
	i := p.add(KindPPP)
	if i < 0 {
		return nDone, nil
	}
	b, err := p.PPP[i].DecodeFromBytes(data)
	if err != nil {
		p.fail(KindPPP, err)
		return nDone, nil
	}
	p.commit(KindPPP, i, "ppp")
	switch p.PPP[i].Protocol {
	case 0x0021:
		nx = nIPv4
	case 0x0057:
		nx = nIPv6
	case 0x0281:
		nx = nMPLS
	default:
		return nDone, nil
	}
	return nx, b
}

// DecodeFromBytes decodes the PPP header (address and control bytes
// optional, the protocol field 1 or 2 bytes long) and returns the payload.
func (h *PPP) DecodeFromBytes(data []byte) (payload []byte, err error) {
	b := data
	if len(b) >= 2 && b[0] == 0xff && b[1] == 0x03 {
		b = b[2:]
	}
	switch {
	case len(b) >= 1 && b[0]&1 == 1:
		h.Protocol, b = uint16(b[0]), b[1:]
	case len(b) >= 2:
		h.Protocol, b = binary.BigEndian.Uint16(b), b[2:]
	default:
		return nil, errShort
	}
	return b, nil
}
