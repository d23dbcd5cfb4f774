package decode

import "encoding/binary"

// This file decodes DNS messages (and mDNS, LLMNR) over UDP and TCP.

func (d *Decoder) dnsStep(nx next, data []byte) (next, []byte) {
	d.dns(nx == nDNSTCP, d.walk.icmpDepth > 0, d.walk.sport, d.walk.dport, data)
	return nDone, nil
}

// dnsHeuristic reports whether a UDP payload on a port without a decoder
// looks like a DNS message, as Wireshark's DNS-over-UDP heuristic does: a
// standard header with one question and sane counts. The decoder then has to
// take the whole message for the layer to count.
func dnsHeuristic(b []byte) bool {
	if len(b) <= 12 {
		return false
	}
	flags := binary.BigEndian.Uint16(b[2:4])
	opcode := (flags >> 11) & 0xf
	if opcode > 5 || opcode == 3 || flags&0x0040 != 0 { // unassigned opcode, Z bit
		return false
	}
	qd := binary.BigEndian.Uint16(b[4:6])
	an := binary.BigEndian.Uint16(b[6:8])
	ns := binary.BigEndian.Uint16(b[8:10])
	ar := binary.BigEndian.Uint16(b[10:12])
	if qd != 1 || an > 100 || ns > 100 || ar > 100 {
		return false
	}
	if flags&0x8000 == 0 && (an != 0 || ns != 0) { // a query carries no answers
		return false
	}
	// the question name: labels of 1..63 bytes up to a 0, then type and class
	o := 12
	for {
		if o >= len(b) {
			return false
		}
		n := int(b[o])
		if n == 0 {
			o++
			break
		}
		if n > 63 {
			return false
		}
		for _, c := range b[o+1 : min(o+1+n, len(b))] {
			if c < 0x20 || c > 0x7e {
				return false
			}
		}
		o += 1 + n
	}
	return o+4 <= len(b)
}

// dnsTCPHeuristic reports whether a TCP segment on ports that say nothing
// holds one whole DNS message after its 2-byte length prefix (RFC 1035
// 4.2.2): the prefix equals the rest of the segment, and the message passes
// dnsHeuristic with a question of a known class (IN, CH, HS, ANY).
// Wireshark has no DNS heuristic on TCP, so this is kept strict: a segment
// that carries a part of a message, or two, is left alone.
func dnsTCPHeuristic(b []byte) bool {
	if len(b) < 2+13 || int(binary.BigEndian.Uint16(b)) != len(b)-2 {
		return false
	}
	m := b[2:]
	if !dnsHeuristic(m) {
		return false
	}
	o := 12
	for m[o] != 0 {
		o += 1 + int(m[o])
	}
	qtype, qclass := binary.BigEndian.Uint16(m[o+1:]), binary.BigEndian.Uint16(m[o+3:])
	switch qclass &^ 0x8000 { // the top bit: mDNS's unicast-response bit
	case 1, 3, 4, 255:
	default:
		return false
	}
	return qtype != 0
}

// dns decodes a DNS message (over TCP after its 2-byte length prefix). The
// layer is kept even when the message is cut short or malformed, with the
// fields decoded before the damage; the packet is then flagged.
//
// In the datagram quoted by an ICMP error the message is usually cut short:
// the fields decoded are kept and the packet is not flagged.
func (d *Decoder) dns(tcp, quoted bool, sport, dport uint16, b []byte) {
	p := &d.pkt
	i := p.add(KindDNS)
	if i < 0 {
		return
	}
	proto := "dns"
	switch {
	case sport == 53 || dport == 53:
	case sport == 5353 || dport == 5353:
		proto = "mdns"
	case sport == 5355 || dport == 5355:
		proto = "llmnr"
	}
	if tcp {
		if len(b) < 2 {
			p.fail(KindDNS, errDNSTCPLength)
			return
		}
		n := int(binary.BigEndian.Uint16(b))
		b = b[2:]
		if n < len(b) {
			b = b[:n]
		}
	}
	l := &p.DNS[i]
	err := l.DecodeFromBytes(b, &d.df)
	if err != nil && len(b) < 12 {
		if !quoted {
			p.fail(KindDNS, err)
		}
		return
	}
	p.commit(KindDNS, i, proto)
	if err != nil && !quoted {
		p.fail(KindDNS, err)
	}
}
