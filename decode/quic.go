package decode

import (
	"encoding/binary"

	"github.com/espcap/espcap-fast/decode/quicinitial"
)

// This file decodes QUIC packet headers and the ClientHello of a client
// Initial.

// QUICHeader is the unprotected part of a QUIC packet header (RFC 9000
// 17): the form, and for a long header the version, packet type and
// connection IDs. The first packet of a datagram only.
type QUICHeader struct {
	Long       bool
	Version    uint32
	Type       uint8 // long header packet type (v1 numbering: 0 Initial, 1 0-RTT, 2 Handshake, 3 Retry)
	DCID, SCID []byte
}

func (d *Decoder) quicStep(nx next, data []byte) (next, []byte) {
	d.quicPacket(data)
	return nDone, nil
}

// quicPacket decodes a QUIC packet's header and, for a client Initial, the
// TLS ClientHello inside it (decrypted with the keys that its Destination
// Connection ID gives, RFC 9001 5.2), as Wireshark does.
func (d *Decoder) quicPacket(b []byte) {
	p := &d.pkt
	i := p.add(KindQUIC)
	if i < 0 {
		return
	}
	h := &p.QUIC[i]
	*h = QUICHeader{Long: b[0]&0x80 != 0}
	if h.Long {
		if len(b) < 7 {
			p.fail(KindQUIC, errShort)
			return
		}
		h.Version = binary.BigEndian.Uint32(b[1:5])
		h.Type = (b[0] >> 4) & 3
		if h.Version == quicinitial.Version2 { // v2 renumbered the types
			h.Type = (h.Type + 3) & 3
		}
		o := 5
		if n := int(b[o]); o+1+n < len(b) {
			h.DCID = b[o+1 : o+1+n]
			o += 1 + n
			if n := int(b[o]); o+1+n <= len(b) {
				h.SCID = b[o+1 : o+1+n]
			}
		}
	}
	p.commit(KindQUIC, i, "quic")
	if !h.Long || !quicinitial.IsLongHeaderInitial(b) {
		return
	}
	if err := d.quic.Parse(b, &d.initial); err != nil || len(d.initial.ClientHello) == 0 {
		return // a server Initial, or one sent after a Retry: no keys without state
	}
	j := p.add(KindTLS)
	if j < 0 {
		return
	}
	p.TLS[j].ParseQUIC(d.initial.ClientHello)
	p.commit(KindTLS, j, "tls")
}
