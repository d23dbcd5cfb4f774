package decode

import "encoding/binary"

// This file decodes Teredo (RFC 4380): IPv6 over UDP, on port 3544 as
// Wireshark decodes it (its Teredo heuristic on other ports is off by
// default).

// teredoPort is the Teredo server port.
const teredoPort = 3544

// Teredo holds the optional Teredo headers in front of the IPv6 packet: the
// authentication header (indicator type 1) and the origin indication
// (indicator type 0). Field names are Wireshark's (teredo.auth.*,
// teredo.orig.*).
type Teredo struct {
	Auth bool // an authentication header is present
	// AuthIDLen and AuthAuLen are the lengths of the client identifier
	// and of the authentication value.
	AuthIDLen, AuthAuLen uint8
	AuthNonce            [8]byte
	AuthConf             uint8 // the confirmation byte
	Origin               bool  // an origin indication is present
	// OrigPort and OrigAddr are the client's mapped port and IPv4
	// address, de-obfuscated (the wire holds them XORed with all ones).
	OrigPort uint16
	OrigAddr [4]byte
}

// DecodeFromBytes decodes the Teredo headers at the start of b and returns
// the IPv6 packet after them; ok is false when b holds neither a header
// nor an IPv6 packet.
func (t *Teredo) DecodeFromBytes(b []byte) (ipv6 []byte, ok bool) {
	*t = Teredo{}
	if len(b) >= 13 && b[0] == 0 && b[1] == 1 {
		idLen, auLen := int(b[2]), int(b[3])
		n := 4 + idLen + auLen + 9
		if n > len(b) {
			return nil, false
		}
		t.Auth, t.AuthIDLen, t.AuthAuLen = true, b[2], b[3]
		copy(t.AuthNonce[:], b[4+idLen+auLen:])
		t.AuthConf = b[n-1]
		b = b[n:]
	}
	if len(b) >= 8 && b[0] == 0 && b[1] == 0 {
		t.Origin = true
		t.OrigPort = ^binary.BigEndian.Uint16(b[2:4])
		for i := range t.OrigAddr {
			t.OrigAddr[i] = ^b[4+i]
		}
		b = b[8:]
	}
	if len(b) < 40 || b[0]>>4 != 6 {
		return nil, false
	}
	return b, true
}

// teredoProbe accepts what Wireshark's Teredo dissector takes on its port:
// an IPv6 packet, behind an authentication header and/or an origin
// indication.
func teredoProbe(b []byte) bool {
	var t Teredo
	_, ok := t.DecodeFromBytes(b)
	return ok
}

func (d *Decoder) teredo(nx next, data []byte) (next, []byte) {
	p := &d.pkt
	i := p.add(KindTeredo)
	if i < 0 {
		return nDone, nil
	}
	ipv6, ok := p.Teredo[i].DecodeFromBytes(data)
	if !ok {
		return nDone, nil
	}
	p.commit(KindTeredo, i, "teredo")
	return nIPv6, ipv6
}
