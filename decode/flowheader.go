package decode

import "encoding/binary"

// This file parses the headers flow tracking needs of a plain packet
// (link, at most two VLAN tags, IPv4 or IPv6, TCP or UDP) without decoding
// the packet: the fast path of --records flows for packets whose flow wants
// no more application fields.

// FlowHeader is what flow tracking needs of a plain packet: what
// flow.Extract would take from the fully decoded packet. ParseFlowHeader
// fills it.
type FlowHeader struct {
	// Src and Dst are the IP addresses; IPv4 in the first 4 bytes (the
	// rest zero).
	Src, Dst [16]byte
	IPv6     bool
	// Proto is the IP protocol: 6 (TCP) or 17 (UDP).
	Proto            uint8
	SrcPort, DstPort uint16
	// VLAN are the outer and inner 802.1Q/802.1ad ids (0: none), as
	// flow.Extract records them.
	VLAN [2]uint16
	// Flags is the TCP flags byte (0 for UDP).
	Flags uint8
	// Payload is the transport payload length as flow.Extract computes it:
	// for TCP the segment length by the IP header's length field when
	// that covers the TCP header (Packet.TCPSegLen), else the bytes
	// captured after the TCP header; for UDP the UDP length minus 8 when
	// that is not negative, else the bytes captured after the UDP header.
	Payload int
	// PayloadAt and PayloadEnd are the offsets in the frame of the
	// transport payload captured: data[PayloadAt:PayloadEnd] is the TCP
	// or UDP layer's Payload of the full decoder. Both are len(data) when
	// none of it was captured.
	PayloadAt, PayloadEnd int
}

// ParseFlowHeader parses the link, VLAN, IP and transport headers of a
// frame of the given link type into h, and reports true only for a plain
// packet: one for which the full decoder (Decoder.Decode) followed by
// flow.Extract gives exactly the flow key, side, TCP flags and payload
// length that h describes, and that carries no tunnel. That is:
//
//   - link type Ethernet, Linux cooked (SLL, SLL2), raw IP (LINKTYPE_RAW,
//     LINKTYPE_IPV4, LINKTYPE_IPV6) or BSD loopback (null, loop);
//   - after Ethernet or a cooked header, at most two 802.1Q/802.1ad tags
//     (EtherTypes 0x8100, 0x9100, 0x88a8), then EtherType IPv4 or IPv6;
//   - an IPv4 header whose version is 4, header length at least 20 and
//     within the total length and the capture, options that the decoder
//     accepts, and that is not a fragment (MF clear, offset 0); a total
//     length of 0 (TSO) counts as the bytes captured, as the decoder does;
//   - or an IPv6 header whose version is 6, payload length not 0 and next
//     header TCP or UDP (no extension header);
//   - a TCP header with data offset at least 5, all captured, or a UDP
//     header with length 0 or at least 8;
//   - neither UDP port one whose registry entry is a tunnel (see
//     flowNests), nor, for TCP, a tunnel's TCP port.
//
// Everything else (ARP, ICMP, fragments, IPv6 extension headers, MPLS,
// PPPoE, GRE, LLC, headers cut short or inconsistent, an IP version that
// does not match what the link announced, ...) gives false: the caller
// decodes the packet in full. ParseFlowHeader allocates nothing; h is
// overwritten whatever it returns.
func ParseFlowHeader(data []byte, linkType uint16, h *FlowHeader) bool {
	h.VLAN = [2]uint16{}
	var off int
	var et uint16 // what comes at off: 0x0800 IPv4, 0x86dd IPv6
	tags := false // VLAN tags may follow (an EtherType was read)
	switch linkType {
	case LinkTypeEthernet:
		if len(data) < 14 {
			return false
		}
		et, off, tags = binary.BigEndian.Uint16(data[12:14]), 14, true
	case LinkTypeRaw, linkTypeRawAlt, linkTypeRawAlt2:
		if len(data) == 0 {
			return false
		}
		switch data[0] >> 4 { // the decoder's ipVersion step
		case 4:
			et = 0x0800
		case 6:
			et = 0x86dd
		default:
			return false
		}
	case LinkTypeIPv4:
		et = 0x0800
	case LinkTypeIPv6:
		et = 0x86dd
	case LinkTypeLinuxSLL:
		if len(data) < 16 || binary.BigEndian.Uint16(data[4:6]) > 8 {
			return false
		}
		et, off, tags = binary.BigEndian.Uint16(data[14:16]), 16, true
	case LinkTypeLinuxSLL2:
		if len(data) < 20 || data[11] > 8 {
			return false
		}
		et, off, tags = binary.BigEndian.Uint16(data[0:2]), 20, true
	case LinkTypeNull, LinkTypeLoop:
		if len(data) < 4 {
			return false
		}
		// gopacket's Loopback: either byte order, a family below 256
		var fam uint32
		if data[0] == 0 && data[1] == 0 {
			fam = binary.BigEndian.Uint32(data[0:4])
		} else {
			fam = binary.LittleEndian.Uint32(data[0:4])
		}
		switch fam {
		case 2:
			et = 0x0800
		case 10, 24, 28, 30:
			et = 0x86dd
		default:
			return false
		}
		off = 4
	default:
		return false
	}
	if tags && et != 0x0800 && et != 0x86dd {
		for n := 0; et == 0x8100 || et == 0x9100 || et == 0x88a8; n++ {
			if n == 2 || len(data)-off < 4 {
				return false
			}
			h.VLAN[n] = binary.BigEndian.Uint16(data[off:off+2]) & 0x0fff
			et = binary.BigEndian.Uint16(data[off+2 : off+4])
			off += 4
		}
	}
	ip := data[off:]
	// ipPayload: the transport segment's length by the IP header; th,
	// end: where the transport header starts and the IP packet (as
	// captured) ends in ip
	var ipPayload, th, end int
	switch et {
	case 0x0800:
		if len(ip) < 20 || ip[0]>>4 != 4 {
			return false
		}
		hl := int(ip[0]&15) * 4
		length := int(binary.BigEndian.Uint16(ip[2:4]))
		field := length
		if length == 0 { // TSO: gopacket takes the bytes captured
			length = len(ip)
			field = min(length, 0xffff)
		}
		if hl < 20 || hl > length || hl > len(ip) {
			return false
		}
		end = min(length, len(ip))
		if hl > 20 && !ipv4OptionsOK(ip[20:hl]) {
			return false
		}
		if binary.BigEndian.Uint16(ip[6:8])&0x3fff != 0 { // MF or an offset: a fragment
			return false
		}
		h.IPv6, h.Proto = false, ip[9]
		h.Src, h.Dst = [16]byte{}, [16]byte{}
		*(*[4]byte)(h.Src[:4]), *(*[4]byte)(h.Dst[:4]) = [4]byte(ip[12:16]), [4]byte(ip[16:20])
		ipPayload, th = field-hl, hl
	case 0x86dd:
		if len(ip) < 40 || ip[0]>>4 != 6 {
			return false
		}
		// a payload length of 0 leaves the decoder an empty payload (or
		// needs a jumbogram hop-by-hop option): no transport layer
		plen := int(binary.BigEndian.Uint16(ip[4:6]))
		if plen == 0 {
			return false
		}
		h.IPv6, h.Proto = true, ip[6]
		h.Src, h.Dst = [16]byte(ip[8:24]), [16]byte(ip[24:40])
		end = 40 + min(plen, len(ip)-40)
		ipPayload, th = plen, 40
	default:
		return false
	}
	seg := ip[th:end] // the transport header and what follows, within the IP length
	off += th
	switch h.Proto {
	case 6:
		if len(seg) < 20 {
			return false
		}
		do := int(seg[12]>>4) * 4
		if do < 20 || do > len(seg) {
			return false
		}
		h.SrcPort = binary.BigEndian.Uint16(seg[0:2])
		h.DstPort = binary.BigEndian.Uint16(seg[2:4])
		if nestsTCPAny && flowNestsTCP(h.SrcPort, h.DstPort, len(seg) > do) {
			return false
		}
		h.Flags = seg[13]
		if ipPayload >= do {
			h.Payload = ipPayload - do
		} else {
			h.Payload = len(seg) - do
		}
		h.PayloadAt, h.PayloadEnd = off+do, off+len(seg)
	case 17:
		if len(seg) < 8 {
			return false
		}
		ulen := int(binary.BigEndian.Uint16(seg[4:6]))
		if ulen > 0 && ulen < 8 {
			return false
		}
		h.SrcPort = binary.BigEndian.Uint16(seg[0:2])
		h.DstPort = binary.BigEndian.Uint16(seg[2:4])
		if flowNestsUDP(h.SrcPort, h.DstPort) {
			return false
		}
		h.Flags = 0
		e := len(seg)
		if ulen == 0 {
			h.Payload = len(seg) - 8
		} else {
			h.Payload = ulen - 8
			e = min(e, ulen)
		}
		h.PayloadAt, h.PayloadEnd = off+8, off+e
	default:
		return false
	}
	if h.PayloadAt == h.PayloadEnd {
		h.PayloadAt, h.PayloadEnd = len(data), len(data)
	}
	return true
}

// ipv4OptionsOK reports whether gopacket's IPv4 decoder accepts the option
// bytes b (the header past its first 20 bytes): every option but End of
// List and No-Operation has a length of at least 2 that stays within b.
func ipv4OptionsOK(b []byte) bool {
	for len(b) > 0 {
		switch b[0] {
		case 0: // end of options
			return true
		case 1: // no-operation
			b = b[1:]
		default:
			if len(b) < 2 || b[1] < 2 || int(b[1]) > len(b) {
				return false
			}
			b = b[b[1]:]
		}
	}
	return true
}

// The transport ports on which the decoder may find a nested network or
// link layer, derived from the registry (see init): a protocol on a TCP or
// UDP port that is not an application protocol is a tunnel (VXLAN, Geneve,
// GTP-U, Teredo): its step decodes another Ethernet or IP header. An
// application protocol's step ends the dispatch.
var (
	nestsUDP, nestsTCP [65536 / 64]uint64
	// nestsTCPHeuristic: a tunnel has a TCP heuristic, so any TCP
	// segment with a payload may carry one.
	nestsTCPHeuristic bool
	// nestsTCPAny: some TCP segments may carry a tunnel (none do today:
	// the check costs one test then)
	nestsTCPAny bool
)

func init() {
	for i := range registry {
		pr := &registry[i]
		if pr.App {
			continue
		}
		for _, port := range pr.UDP {
			nestsUDP[port/64] |= 1 << (port % 64)
		}
		for _, port := range pr.TCP {
			nestsTCP[port/64] |= 1 << (port % 64)
			nestsTCPAny = true
		}
		if pr.Heuristic != nil {
			nestsTCPHeuristic, nestsTCPAny = true, true
		}
	}
}

// flowNestsUDP reports whether a UDP datagram between the ports may carry a
// tunnel the decoder follows.
func flowNestsUDP(sport, dport uint16) bool {
	return nestsUDP[sport/64]&(1<<(sport%64)) != 0 || nestsUDP[dport/64]&(1<<(dport%64)) != 0
}

// flowNestsTCP reports whether a TCP segment between the ports (with a
// payload or not) may carry a tunnel the decoder follows.
func flowNestsTCP(sport, dport uint16, payload bool) bool {
	return nestsTCP[sport/64]&(1<<(sport%64)) != 0 || nestsTCP[dport/64]&(1<<(dport%64)) != 0 ||
		(payload && nestsTCPHeuristic)
}

// FlowTunnelPorts returns the UDP and TCP ports on which ParseFlowHeader
// gives false because the decoder may find a tunnel there, for tests and
// documentation.
func FlowTunnelPorts() (udp, tcp []uint16) {
	for p := range 65536 {
		port := uint16(p)
		if nestsUDP[port/64]&(1<<(port%64)) != 0 {
			udp = append(udp, port)
		}
		if nestsTCP[port/64]&(1<<(port%64)) != 0 {
			tcp = append(tcp, port)
		}
	}
	return udp, tcp
}
