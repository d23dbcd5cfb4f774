// Package flow tracks connections: a per-worker table of bidirectional flows
// (Zeek's conn.log, Suricata's flow events, Arkime's sessions) built from
// decoded packets, and the records it hands out when a flow ends or is due
// for an interim update.
//
// A Table belongs to one goroutine (in the file pipeline, the writer, which
// sees packets in capture order): it takes no locks. Its entries
// live in a slab bounded by Config.MaxFlows and are reused, so that tracking
// a packet allocates nothing once the table has grown to its working size.
package flow

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"math/bits"
	"unsafe"

	"github.com/gopacket/gopacket/layers"

	"github.com/espcap/espcap-fast/decode"
)

// IP protocol numbers the key treats specially.
const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
	protoSCTP   = 132
)

// Key identifies a flow in both directions. A is the endpoint whose address
// (then port) sorts first, so that both directions of a connection give the
// same Key; Extract reports which side sent the packet.
//
// Ports are the transport ports for TCP, UDP and SCTP. For ICMP echo,
// timestamp, information, address-mask (and their ICMPv6 counterparts) they
// are the identifier and the request type, so that a request and its reply
// share a flow; for other ICMP messages the type and code. Other IP
// protocols have zero ports: one flow per address pair and protocol.
type Key struct {
	A, B     [16]byte // addresses; IPv4 in the first 4 bytes
	PortA    uint16
	PortB    uint16
	VLAN     [2]uint16 // outer and inner 802.1Q/802.1ad ids, 0 if none
	Proto    uint8     // IP protocol number
	IPv6     bool
	HasPorts bool // TCP, UDP, SCTP: ports are transport ports
	ICMP     bool // ports are ICMP identifier/type or type/code
	// ICMPPair: the ports are an ICMP identifier (A) and request type (B)
	ICMPPair bool
}

// AddrLen returns the length of the key's addresses (4 or 16).
func (k *Key) AddrLen() int {
	if k.IPv6 {
		return 16
	}
	return 4
}

// Hash returns a hash of the key, the same for both directions (the key is
// normalized).
func (k *Key) Hash() uint64 {
	const m1, m2 = 0x9e3779b97f4a7c15, 0xc2b2ae3d27d4eb4f
	h := binary.LittleEndian.Uint64(k.A[0:8])*m1 ^ binary.LittleEndian.Uint64(k.A[8:16])
	h = (h ^ binary.LittleEndian.Uint64(k.B[0:8])) * m2
	h = (h ^ binary.LittleEndian.Uint64(k.B[8:16])) * m1
	return mix(h ^ k.rest())
}

// rest returns the word Hash makes of the key's ports, VLAN ids and
// protocol.
func (k *Key) rest() uint64 {
	return uint64(k.PortA)<<16 | uint64(k.PortB) | uint64(k.VLAN[0])<<32 | uint64(k.VLAN[1])<<44 | uint64(k.Proto)<<56
}

// keyWords overlays the bytes of a Key that hold its fields (all but the
// padding byte at its end): A, B, then PortA, PortB and VLAN, then Proto,
// IPv6, HasPorts and ICMP, then ICMPPair. TestKeyWords checks the layout.
type keyWords struct {
	w    [5]uint64
	x    uint32
	pair uint8
}

// equal reports whether k and o are the same key: k == o, compared a word
// at a time (the generated struct equality calls memequal, and is not
// inlined).
func (k *Key) equal(o *Key) bool {
	a, b := (*keyWords)(unsafe.Pointer(k)), (*keyWords)(unsafe.Pointer(o))
	return a.w[0] == b.w[0] && a.w[1] == b.w[1] && a.w[2] == b.w[2] && a.w[3] == b.w[3] &&
		a.w[4] == b.w[4] && a.x == b.x && a.pair == b.pair
}

// Packet is what the table needs of one packet: its key, which side sent
// it, and its TCP flags and payload length.
type Packet struct {
	// the fields every packet sets come first, in the first two cache
	// lines: a worker writes them and the flow stage reads them on
	// another core, and a packet FromHeader fills touches no others

	Key Key
	// FromB is set when the packet was sent by the key's B endpoint.
	FromB bool
	// Flags are the TCP flags (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08,
	// ACK 0x10, URG 0x20, ECE 0x40, CWR 0x80); 0 for other transports.
	Flags uint8

	// IP fragments: whether this is its datagram's first fragment (which
	// has the transport header) or a later one (which gets the ports the
	// first one had; see Table.Observe), and the datagram's
	// identification.
	fragFirst bool
	fragLater bool
	// hash is Key.Hash(), when hashed: Extract computes it (in the
	// pipeline's workers, which run in parallel, rather than in the
	// goroutine that owns the table)
	hashed bool
	fragID uint32
	// Payload is the transport payload length (TCP segment data, UDP data).
	Payload int
	hash    uint64
	// App is the highest application layer's protocol name ("dns", "http",
	// "tls", ...; "" if none), as network.protocol names it.
	App string
	// Fields are the application fields a flow keeps.
	Fields AppFields
}

// keyHash returns p.Key.Hash(), computed once.
func (p *Packet) keyHash() uint64 {
	if !p.hashed {
		p.hash, p.hashed = p.Key.Hash(), true
	}
	return p.hash
}

// TCP flag bits as in the TCP header.
const (
	FIN = 0x01
	SYN = 0x02
	RST = 0x04
	PSH = 0x08
	ACK = 0x10
	URG = 0x20
	ECE = 0x40
	CWR = 0x80
)

// Extract fills fp from the innermost IP header of p that an ICMP error
// does not quote (for tunnelled traffic: the inner connection, as Zeek and
// Arkime track it; for other packets the header the packet's Community ID
// is computed from) and the transport layer after it, with the VLAN ids
// found before the first IP header. It returns false when p has no IP
// header.
//
// Most packets have no VLAN tag and no ICMP layer, and then the flow's IP
// header is the last one, which the decoder noted; Extract itself handles
// those whose header is IPv4, or IPv6 without extension headers, with TCP
// or UDP after it, and leaves the others to extractAny.
func Extract(p *decode.Packet, fp *Packet) bool {
	ls := p.Layers
	ipAt := p.LastIP()
	if ipAt < 0 || ipAt+1 >= len(ls) ||
		p.Count(decode.KindICMPv4)|p.Count(decode.KindICMPv6)|p.Count(decode.KindDot1Q)|p.Count(decode.KindDot1AD) != 0 {
		ipAt, end, vlan := scanLayers(p)
		return extractAny(p, fp, ipAt, end, vlan)
	}
	var sport, dport uint16
	var payload int
	var flags uint8
	switch l := &ls[ipAt+1]; l.Kind {
	case decode.KindTCP:
		t := &p.TCP[l.Index]
		sport, dport = uint16(t.SrcPort), uint16(t.DstPort)
		flags = tcpFlags(t.Contents)
		if payload = p.TCPSegLen[l.Index]; payload < 0 {
			payload = len(t.Payload)
		}
	case decode.KindUDP:
		u := &p.UDP[l.Index]
		sport, dport = uint16(u.SrcPort), uint16(u.DstPort)
		if payload = int(u.Length) - 8; payload < 0 {
			payload = len(u.Payload)
		}
	default:
		return extractAny(p, fp, ipAt, len(ls), [2]uint16{})
	}
	k := &fp.Key
	if l := &ls[ipAt]; l.Kind == decode.KindIPv4 {
		ip := &p.IPv4[l.Index]
		if len(ip.SrcIP) != 4 || len(ip.DstIP) != 4 {
			return extractAny(p, fp, ipAt, len(ls), [2]uint16{})
		}
		more := ip.Flags&layers.IPv4MoreFragments != 0
		fp.fragID, fp.fragFirst, fp.fragLater = uint32(ip.Id), more && ip.FragOffset == 0, ip.FragOffset != 0
		// the key, ordered as order does (address, then port: compared
		// as one number, and swapped without a branch, as the direction
		// of a packet is not predictable), and its hash
		s := uint64(binary.BigEndian.Uint32(ip.SrcIP))<<16 | uint64(sport)
		d := uint64(binary.BigEndian.Uint32(ip.DstIP))<<16 | uint64(dport)
		fp.FromB = s > d
		lo, hi := min(s, d), max(s, d)
		a, b := uint32(lo>>16), uint32(hi>>16)
		sport, dport = uint16(lo), uint16(hi)
		proto := uint8(ip.Protocol)
		*k = Key{PortA: sport, PortB: dport, Proto: proto, HasPorts: true}
		binary.BigEndian.PutUint32(k.A[:], a)
		binary.BigEndian.PutUint32(k.B[:], b)
		fp.hash = hash4(a, b, uint64(sport)<<16|uint64(dport)|uint64(proto)<<56)
	} else {
		ip, ext := &p.IPv6[l.Index], &p.IPv6Ext[l.Index]
		if len(ip.SrcIP) != 16 || len(ip.DstIP) != 16 ||
			ext.HopOptsNxt&ext.RoutingNxt&ext.FragNxt&ext.DstOptsNxt >= 0 {
			return extractAny(p, fp, ipAt, len(ls), [2]uint16{}) // extension headers
		}
		fp.fragID, fp.fragFirst, fp.fragLater = 0, false, false
		src, dst := [16]byte(ip.SrcIP), [16]byte(ip.DstIP)
		s0, d0 := binary.BigEndian.Uint64(src[:8]), binary.BigEndian.Uint64(dst[:8])
		s1, d1 := binary.BigEndian.Uint64(src[8:]), binary.BigEndian.Uint64(dst[8:])
		fp.FromB = false
		if s0 > d0 || s0 == d0 && (s1 > d1 || s1 == d1 && sport > dport) {
			fp.FromB = true
			src, dst, sport, dport = dst, src, dport, sport
		}
		*k = Key{A: src, B: dst, PortA: sport, PortB: dport, Proto: uint8(ip.NextHeader), IPv6: true, HasPorts: true}
		fp.hash = k.Hash()
	}
	fp.Flags, fp.Payload, fp.hashed = flags, payload, true
	fp.app(p, ipAt+2, len(ls)) // (ipAt+1 is TCP or UDP)
	return true
}

// hash4 is Key.Hash of a key with IPv4 addresses a and b (as big-endian
// numbers) and w the word Hash makes of its ports, VLAN ids and protocol.
func hash4(a, b uint32, w uint64) uint64 {
	const m1, m2 = 0x9e3779b97f4a7c15, 0xc2b2ae3d27d4eb4f
	h := uint64(bits.ReverseBytes32(a)) * m1
	h = (h ^ uint64(bits.ReverseBytes32(b))) * m2
	h *= m1
	return mix(h ^ w)
}

// mix is MurmurHash3's finalizer: every input bit reaches the low bits,
// which pick the index slot.
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	return h ^ h>>33
}

// extractAny is Extract for any packet, given what scanLayers finds (for a
// packet without VLAN tags and ICMP layers: p.LastIP(), the number of its
// layers and no VLAN id).
func extractAny(p *decode.Packet, fp *Packet, ipAt, end int, vlan [2]uint16) bool {
	ls := p.Layers
	fp.FromB, fp.Flags, fp.Payload, fp.App = false, 0, 0, ""
	fp.hashed = false
	k := &fp.Key
	*k = Key{VLAN: vlan}
	if ipAt < 0 {
		fp.fragID, fp.fragFirst, fp.fragLater = 0, false, false
		return false
	}
	var src, dst []byte
	if l := &ls[ipAt]; l.Kind == decode.KindIPv4 {
		ip := &p.IPv4[l.Index]
		src, dst, k.Proto = ip.SrcIP, ip.DstIP, uint8(ip.Protocol)
		more := ip.Flags&layers.IPv4MoreFragments != 0
		fp.fragID, fp.fragFirst, fp.fragLater = uint32(ip.Id), more && ip.FragOffset == 0, ip.FragOffset != 0
	} else {
		src, dst = ipv6Key(p, l.Index, fp)
	}
	if (len(src) != 4 && len(src) != 16) || len(src) != len(dst) {
		return false
	}
	var sport, dport uint16
	swapOK := true // whether the ports of the reverse direction are swapped
	if ipAt+1 < len(ls) {
		l := &ls[ipAt+1]
		switch l.Kind {
		case decode.KindTCP:
			t := &p.TCP[l.Index]
			sport, dport, k.HasPorts = uint16(t.SrcPort), uint16(t.DstPort), true
			fp.Flags = tcpFlags(t.Contents)
			if n := p.TCPSegLen[l.Index]; n >= 0 {
				fp.Payload = n
			} else {
				fp.Payload = len(t.Payload)
			}
		case decode.KindUDP:
			u := &p.UDP[l.Index]
			sport, dport, k.HasPorts = uint16(u.SrcPort), uint16(u.DstPort), true
			if n := int(u.Length) - 8; n >= 0 {
				fp.Payload = n
			} else {
				fp.Payload = len(u.Payload)
			}
		case decode.KindSCTP:
			s := &p.SCTP[l.Index]
			sport, dport, k.HasPorts = uint16(s.SrcPort), uint16(s.DstPort), true
		case decode.KindICMPv4, decode.KindICMPv6:
			sport, dport = icmpKey(p, l, fp)
			swapOK = false
		}
	}
	// the application layers of the packet itself (before end: not those
	// of a datagram an ICMP error quotes)
	fp.app(p, ipAt+1, end)
	fp.order(src, dst, sport, dport, swapOK)
	return true
}

// app sets fp.App to the protocol of the highest application layer among
// the layers from..to-1 of p ("" if none) and fp.Fields from those layers.
func (fp *Packet) app(p *decode.Packet, from, to int) {
	fp.App = ""
	for i := to - 1; i >= from; i-- {
		if l := &p.Layers[i]; appKinds[l.Kind] && l.Proto != "" {
			fp.App = l.Proto
			break
		}
	}
	if fp.App != "" || fp.Fields.set {
		fp.Fields.extract(p, from, to)
	}
}

// scanLayers finds, by a walk over the layers of p, the index
// of the innermost IP header that an ICMP error does not quote (-1: none),
// the index of the first ICMP layer after it (or the number of layers) and
// the ids of the first two VLAN tags before the first IP header.
func scanLayers(p *decode.Packet) (ipAt, end int, vlan [2]uint16) {
	ipAt = -1
	nvlan := 0
	ls := p.Layers
layers:
	for i := range ls {
		l := &ls[i] // not a copy: a Layer holds a string
		switch l.Kind {
		case decode.KindDot1Q, decode.KindDot1AD:
			if nvlan < 2 && ipAt < 0 {
				if l.Kind == decode.KindDot1Q {
					vlan[nvlan] = p.Dot1Q[l.Index].VLANIdentifier
				} else {
					vlan[nvlan] = p.Dot1AD[l.Index].VLANIdentifier
				}
				nvlan++
			}
		case decode.KindICMPv4, decode.KindICMPv6:
			break layers
		case decode.KindIPv4, decode.KindIPv6:
			ipAt = i
		}
	}
	end = ipAt + 1
	for end < len(ls) && ls[end].Kind != decode.KindICMPv4 && ls[end].Kind != decode.KindICMPv6 {
		end++
	}
	return ipAt, end, vlan
}

// ipv6Key sets the protocol and fragment fields of fp from IPv6 header i
// of p (the last next header after its extension headers) and returns its
// addresses.
func ipv6Key(p *decode.Packet, i uint8, fp *Packet) (src, dst []byte) {
	ip := &p.IPv6[i]
	k := &fp.Key
	k.IPv6 = true
	k.Proto = uint8(ip.NextHeader)
	ext := &p.IPv6Ext[i]
	if ext.HopOptsNxt >= 0 {
		k.Proto = uint8(ext.HopOptsNxt)
	}
	for _, nx := range [3]int{ext.RoutingNxt, ext.FragNxt, ext.DstOptsNxt} {
		if nx >= 0 {
			k.Proto = uint8(nx)
		}
	}
	fp.fragID, fp.fragFirst, fp.fragLater = 0, false, false
	if ext.FragNxt >= 0 {
		fp.fragID, fp.fragFirst, fp.fragLater = ext.FragIdent, ext.FragMore && ext.FragOffset == 0, ext.FragOffset != 0
	}
	return ip.SrcIP, ip.DstIP
}

// icmpKey sets the ICMP fields of fp's key and its payload from ICMP layer
// l of p, and returns the key's ports (see Key).
func icmpKey(p *decode.Packet, l *decode.Layer, fp *Packet) (sport, dport uint16) {
	k := &fp.Key
	k.ICMP = true
	if l.Kind == decode.KindICMPv4 {
		c := &p.ICMPv4[l.Index]
		sport, dport, k.ICMPPair = icmpPorts(c.TypeCode.Type(), c.TypeCode.Code(), c.Id, false)
		fp.Payload = len(c.Payload)
		return sport, dport
	}
	c := &p.ICMPv6[l.Index]
	var id uint16
	if len(c.Payload) >= 2 {
		id = binary.BigEndian.Uint16(c.Payload)
	}
	sport, dport, k.ICMPPair = icmpPorts(c.TypeCode.Type(), c.TypeCode.Code(), id, true)
	fp.Payload = len(c.Payload)
	return sport, dport
}

// order sets the key's addresses and ports from a packet's source and
// destination: the smaller address, then the smaller port, is A; FromB is
// set when the packet's source is B. swapOK false keeps the ports as
// given in both directions (ICMP: identifier and type are no ports).
func (fp *Packet) order(src, dst []byte, sport, dport uint16, swapOK bool) {
	k := &fp.Key
	var c int
	var s4, d4 uint32
	if len(src) == 4 {
		s4, d4 = binary.BigEndian.Uint32(src), binary.BigEndian.Uint32(dst)
		c = cmp.Compare(s4, d4)
		binary.BigEndian.PutUint32(k.A[:], min(s4, d4))
		binary.BigEndian.PutUint32(k.B[:], max(s4, d4))
	} else {
		c = bytes.Compare(src, dst)
		if c > 0 {
			k.A, k.B = [16]byte(dst), [16]byte(src)
		} else {
			k.A, k.B = [16]byte(src), [16]byte(dst)
		}
	}
	if c > 0 || (c == 0 && swapOK && sport > dport) {
		fp.FromB = true
		if c == 0 {
			k.A, k.B = k.B, k.A // equal addresses: nothing to swap
		}
		if swapOK {
			k.PortA, k.PortB = dport, sport
		} else {
			k.PortA, k.PortB = sport, dport
		}
	} else {
		k.PortA, k.PortB = sport, dport
	}
	if len(src) == 4 && c != 0 {
		// hashed from the values in registers: reading back the bytes
		// just stored is a load that store forwarding cannot serve,
		// which waits for the stores to reach the cache
		fp.hash, fp.hashed = hash4(min(s4, d4), max(s4, d4), k.rest()), true
		return
	}
	fp.keyHash()
}

// appKinds is appKind as a table.
var appKinds = func() (c [256]bool) {
	for k := range c {
		c[k] = appKind(decode.Kind(k))
	}
	return c
}()

// appKind reports whether a layer of kind k names the flow's application
// protocol (network.protocol).
func appKind(k decode.Kind) bool {
	switch k {
	case decode.KindDNS, decode.KindDHCP, decode.KindDHCPv6, decode.KindNTP, decode.KindHTTP, decode.KindTLS, decode.KindQUIC:
		return true
	}
	return false
}

// AppName returns name, as a string of its own, when the protocol of that
// Wireshark name names a flow's application protocol, as Extract chooses
// it from decoded layers (a registry entry of an appKind kind: dns, mdns,
// http, ssdp, tls, ...); "" otherwise. It serves an engine that has
// protocol names instead of decoded layers (the tshark engine), whose
// names may point into a buffer that does not last.
func AppName(name string) string { return appNames[name] }

// appNames are the names AppName accepts, from decode's registry.
var appNames = func() map[string]string {
	m := map[string]string{}
	for _, pr := range decode.Protocols() {
		if appKind(pr.Kind) {
			m[pr.Name] = pr.Name
		}
	}
	return m
}()

// tcpFlags returns the 8 flag bits of a TCP header.
func tcpFlags(h []byte) uint8 {
	if len(h) < 14 {
		return 0
	}
	return h[13]
}

// icmpPorts returns the key's ports for an ICMP message: the identifier and
// the request type of a request/reply pair (the same both ways, so the
// ports are not swapped with the addresses; pair true), else the type and
// code.
func icmpPorts(typ, code uint8, id uint16, v6 bool) (a, b uint16, pair bool) {
	if req, ok := icmpRequest(typ, v6); ok {
		return id, uint16(req), true
	}
	return uint16(typ), uint16(code), false
}

// icmpRequest maps ICMP request and reply types to the request type.
func icmpRequest(t uint8, v6 bool) (uint8, bool) {
	if v6 {
		switch t {
		case 128, 129: // echo request, reply
			return 128, true
		case 130, 131: // multicast listener query, report
			return 130, true
		case 133, 134: // router solicitation, advertisement
			return 133, true
		case 135, 136: // neighbor solicitation, advertisement
			return 135, true
		}
		return 0, false
	}
	switch t {
	case 8, 0: // echo
		return 8, true
	case 13, 14: // timestamp
		return 13, true
	case 15, 16: // information
		return 15, true
	case 17, 18: // address mask
		return 17, true
	case 10, 9: // router solicitation, advertisement
		return 10, true
	}
	return 0, false
}
