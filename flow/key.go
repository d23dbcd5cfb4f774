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
	return hashWords(binary.LittleEndian.Uint64(k.A[0:8]), binary.LittleEndian.Uint64(k.A[8:16]),
		binary.LittleEndian.Uint64(k.B[0:8]), binary.LittleEndian.Uint64(k.B[8:16]), k.rest())
}

// rest returns the key's ports, VLAN ids and protocol as Hash mixes them.
func (k *Key) rest() uint64 {
	return uint64(k.PortA)<<16 | uint64(k.PortB) | uint64(k.VLAN[0])<<32 | uint64(k.VLAN[1])<<44 | uint64(k.Proto)<<56
}

// hashWords is Hash of a key whose addresses, read as little-endian
// words, are a0 a1 (A) and b0 b1 (B), and whose rest() is x. It lets order
// hash an IPv4 key from the values it has in registers rather than read
// back the bytes it has just stored (a load that store forwarding cannot
// serve, and that waits for the stores to reach the cache).
func hashWords(a0, a1, b0, b1, x uint64) uint64 {
	const m1, m2 = 0x9e3779b97f4a7c15, 0xc2b2ae3d27d4eb4f
	h := a0*m1 ^ a1
	h = (h ^ b0) * m2
	h = (h ^ b1) * m1
	h ^= x
	// MurmurHash3's finalizer: every input bit reaches the low bits, which
	// pick the index slot
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	return h ^ h>>33
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
func Extract(p *decode.Packet, fp *Packet) bool {
	fp.Key, fp.FromB, fp.Flags, fp.Payload, fp.App = Key{}, false, 0, 0, ""
	fp.fragID, fp.fragFirst, fp.fragLater = 0, false, false
	fp.hashed = false
	k := &fp.Key
	var src, dst []byte
	ipAt := -1
	nvlan := 0
	ls := p.Layers
	// the layers to look at: all, unless the packet has one IP header as
	// its second layer and no VLAN tag or ICMP layer (most packets), when
	// that header is all the loop would find
	from, to := 0, len(ls)
	if len(ls) > 1 && (ls[1].Kind == decode.KindIPv4 || ls[1].Kind == decode.KindIPv6) &&
		p.Count(decode.KindIPv4)+p.Count(decode.KindIPv6) == 1 &&
		p.Count(decode.KindICMPv4)|p.Count(decode.KindICMPv6)|p.Count(decode.KindDot1Q)|p.Count(decode.KindDot1AD) == 0 {
		from, to = 1, 2
	}
	// the innermost IP header that is not quoted by an ICMP error: for
	// tunnelled traffic the inner connection (as Zeek and Arkime track it)
layers:
	for i := from; i < to; i++ {
		l := &ls[i] // not a copy: a Layer holds a string
		c := layerClass[l.Kind]
		if c == 0 {
			continue // most layers: a quick way past the switch
		}
		switch l.Kind {
		case decode.KindDot1Q, decode.KindDot1AD:
			if nvlan < 2 && ipAt < 0 {
				if l.Kind == decode.KindDot1Q {
					k.VLAN[nvlan] = p.Dot1Q[l.Index].VLANIdentifier
				} else {
					k.VLAN[nvlan] = p.Dot1AD[l.Index].VLANIdentifier
				}
				nvlan++
			}
		case decode.KindICMPv4, decode.KindICMPv6:
			break layers
		case decode.KindIPv4:
			ip := &p.IPv4[l.Index]
			src, dst, k.Proto, k.IPv6 = ip.SrcIP, ip.DstIP, uint8(ip.Protocol), false
			ipAt = i
			more := ip.Flags&layers.IPv4MoreFragments != 0
			fp.fragID, fp.fragFirst, fp.fragLater = uint32(ip.Id), more && ip.FragOffset == 0, ip.FragOffset != 0
		case decode.KindIPv6:
			ip := &p.IPv6[l.Index]
			src, dst, k.IPv6 = ip.SrcIP, ip.DstIP, true
			k.Proto = uint8(ip.NextHeader)
			ext := &p.IPv6Ext[l.Index]
			if ext.HopOptsNxt >= 0 {
				k.Proto = uint8(ext.HopOptsNxt)
			}
			for _, nx := range [3]int{ext.RoutingNxt, ext.FragNxt, ext.DstOptsNxt} {
				if nx >= 0 {
					k.Proto = uint8(nx)
				}
			}
			ipAt = i
			fp.fragID, fp.fragFirst, fp.fragLater = 0, false, false
			if ext.FragNxt >= 0 {
				fp.fragID, fp.fragFirst, fp.fragLater = ext.FragIdent, ext.FragMore && ext.FragOffset == 0, ext.FragOffset != 0
			}
		}
	}
	if ipAt < 0 || (len(src) != 4 && len(src) != 16) || len(src) != len(dst) {
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
		case decode.KindICMPv4:
			c := &p.ICMPv4[l.Index]
			k.ICMP = true
			sport, dport, k.ICMPPair = icmpPorts(c.TypeCode.Type(), c.TypeCode.Code(), c.Id, false)
			swapOK = false
			fp.Payload = len(c.Payload)
		case decode.KindICMPv6:
			c := &p.ICMPv6[l.Index]
			k.ICMP = true
			var id uint16
			if len(c.Payload) >= 2 {
				id = binary.BigEndian.Uint16(c.Payload)
			}
			sport, dport, k.ICMPPair = icmpPorts(c.TypeCode.Type(), c.TypeCode.Code(), id, true)
			swapOK = false
			fp.Payload = len(c.Payload)
		}
	}
	// the application layers of the packet itself: not those of a
	// datagram an ICMP error quotes
	end := ipAt + 1
	for end < len(ls) && ls[end].Kind != decode.KindICMPv4 && ls[end].Kind != decode.KindICMPv6 {
		end++
	}
	for i := end - 1; i > ipAt; i-- {
		if l := &ls[i]; appKind(l.Kind) && l.Proto != "" {
			fp.App = l.Proto
			break
		}
	}
	if fp.App != "" || fp.Fields.set {
		fp.Fields.extract(p, ipAt+1, end)
	}
	fp.order(src, dst, sport, dport, swapOK)
	return true
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
		// the words Hash would read back: the address's 4 bytes (big
		// endian) then zeros, as a little-endian word
		lo, hi := min(s4, d4), max(s4, d4)
		fp.hash = hashWords(uint64(bits.ReverseBytes32(lo)), 0, uint64(bits.ReverseBytes32(hi)), 0, k.rest())
		fp.hashed = true
		return
	}
	fp.keyHash()
}

// layerClass is 1 for the kinds of layer Extract's first loop looks at.
var layerClass = func() (c [256]uint8) {
	for _, k := range []decode.Kind{decode.KindDot1Q, decode.KindDot1AD, decode.KindICMPv4, decode.KindICMPv6, decode.KindIPv4, decode.KindIPv6} {
		c[k] = 1
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
