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
	hello := []byte(nil)
	if err := d.quic.Parse(b, &d.initial); err == nil && len(d.initial.ClientHello) > 0 {
		hello = d.initial.ClientHello
		d.quicConns.remember(h.SCID, h.DCID, d.udpTuple(false))
	} else if odcid := d.quicConns.lookup(h.DCID, d.udpTuple(true)); odcid != nil {
		// A server Initial: its keys come from the Destination
		// Connection ID of the client's Initial, as Wireshark finds
		// them through the connection.
		if d.quic.ParseServer(b, odcid, &d.initial) == nil {
			hello = d.initial.ServerHello
		}
	}
	if len(hello) == 0 {
		return
	}
	j := p.add(KindTLS)
	if j < 0 {
		return
	}
	p.TLS[j].ParseQUIC(hello)
	p.commit(KindTLS, j, "tls")
}

// quicConnSlots is the number of QUIC connections a Decoder remembers.
const quicConnSlots = 16

// quicConns remembers, for the last QUIC connections whose client Initial
// a Decoder decoded, the client's Source Connection ID (the Destination
// Connection ID of the server's Initial), a hash of its addresses and
// ports (for clients without a connection ID) and the Destination
// Connection ID the client chose (from which both sides' Initial keys
// derive). A fixed ring: no allocation, the oldest entry is overwritten. A
// wrong match costs a failed decryption: the AEAD rejects wrong keys.
type quicConns struct {
	slot [quicConnSlots]struct {
		scidLen, dcidLen uint8
		scid, dcid       [20]byte
		tuple            uint64
	}
	n    int // entries in use
	next int // the slot written next
}

// remember records the connection IDs and the addresses and ports (tuple)
// of a client Initial.
func (c *quicConns) remember(scid, dcid []byte, tuple uint64) {
	if len(scid) > 20 || len(dcid) > 20 {
		return
	}
	i := c.find(scid, tuple)
	if i < 0 {
		i = c.next
		c.next = (c.next + 1) % quicConnSlots
		c.n = min(c.n+1, quicConnSlots)
	}
	s := &c.slot[i]
	s.scidLen, s.dcidLen, s.tuple = uint8(len(scid)), uint8(len(dcid)), tuple
	copy(s.scid[:], scid)
	copy(s.dcid[:], dcid)
}

// lookup returns the client's Destination Connection ID for a server
// packet sent to dcid, with tuple the client's addresses and ports, or nil.
func (c *quicConns) lookup(dcid []byte, tuple uint64) []byte {
	if i := c.find(dcid, tuple); i >= 0 {
		s := &c.slot[i]
		return s.dcid[:s.dcidLen]
	}
	return nil
}

// find returns the slot of the client with Source Connection ID scid or,
// for a client without one, with addresses and ports tuple; -1 if none.
func (c *quicConns) find(scid []byte, tuple uint64) int {
	for i := range c.n {
		s := &c.slot[i]
		if int(s.scidLen) != len(scid) || string(s.scid[:s.scidLen]) != string(scid) {
			continue
		}
		if len(scid) > 0 || s.tuple == tuple {
			return i
		}
	}
	return -1
}

// udpTuple hashes (FNV-1a) the addresses of the packet's last IP header
// and the UDP ports, in the client's direction: for a packet from the
// server (fromServer) source and destination are swapped.
func (d *Decoder) udpTuple(fromServer bool) uint64 {
	p := &d.pkt
	var src, dst []byte
	for k := len(p.Layers) - 1; k >= 0 && src == nil; k-- {
		switch l := p.Layers[k]; l.Kind {
		case KindIPv4:
			src, dst = p.IPv4[l.Index].SrcIP, p.IPv4[l.Index].DstIP
		case KindIPv6:
			src, dst = p.IPv6[l.Index].SrcIP, p.IPv6[l.Index].DstIP
		}
	}
	sport, dport := d.walk.sport, d.walk.dport
	if fromServer {
		src, dst, sport, dport = dst, src, dport, sport
	}
	h := uint64(14695981039346656037)
	mix := func(b byte) { h = (h ^ uint64(b)) * 1099511628211 }
	for _, b := range src {
		mix(b)
	}
	mix(0xff)
	for _, b := range dst {
		mix(b)
	}
	mix(byte(sport >> 8))
	mix(byte(sport))
	mix(byte(dport >> 8))
	mix(byte(dport))
	return h
}

// KeepsState reports whether decoding the transport payload of the plain
// packet h describes (data is its frame) changes what a Decoder remembers
// across packets: a QUIC long-header packet on a QUIC port, as a client
// Initial's keys decrypt the server's (see Forget). A caller that decodes
// only some of a batch's packets in full decodes these with the others.
func KeepsState(h *FlowHeader, data []byte) bool {
	if h.Proto != 17 || h.PayloadAt >= h.PayloadEnd || h.PayloadEnd > len(data) || data[h.PayloadAt]&0x80 == 0 {
		return false
	}
	for _, port := range [2]uint16{h.SrcPort, h.DstPort} {
		if e := udpEntry[port]; e != 0 && registry[e-1].step == nQUIC {
			return true
		}
	}
	return false
}
