package encode

import (
	"encoding/binary"

	"github.com/espcap/espcap-fast/decode"
)

// Most packets have the same shape: Ethernet, one IPv4 or IPv6 header, TCP
// or UDP, and at most two application layers. Within a flow direction such
// packets share most of their document: frame.protocols, protocol, the ECS
// fields, the Ethernet layer, the IP fields other than length, id, fragment
// offset and checksum, and the ports. The shape cache keeps that text, in
// two pieces around the IP header's varying fields, so a packet whose shape
// and header bytes match a cached one costs two copies and the few fields
// that do vary instead of some forty formatted fields.
//
// The pieces are rendered by the same code that writes uncached documents,
// so a cached document is byte for byte what a fresh Encoder writes.

// shapeBytes bounds the text of one cached shape (both pieces).
const shapeBytes = 1008

// shapeKey is everything the cached text depends on.
type shapeKey struct {
	eth    [14]byte       // the Ethernet header
	vlan   [8]byte        // the 802.1Q/802.1ad tags after it (TCI and type), if any
	vk     [2]decode.Kind // their kinds
	hdr    [38]byte       // the IP header bytes of the constant fields
	ports  [4]byte        // the transport header's ports
	l3, l4 decode.Kind    // IPv4 or IPv6, TCP or UDP
	app    [2]decode.Kind // the layers above the transport, if any
	proto  [2][8]byte     // their protocol names (dns, mdns, http, ssdp, ...)
	cont   bool           // an HTTP continuation segment (its protocol is tcp)
	// (only bytes: comparing two keys is one memory compare)
}

type shapeSlot struct {
	key   shapeKey
	valid bool
	// piece A is json[:a], piece B json[a:a+b]; layersAt and l4At are
	// where the layers object and the transport layer's object start, for
	// the writer's stack
	a, b, layersAt, l4At uint16
	json                 [shapeBytes]byte
}

// shapeCache holds the shapes of recently seen flow directions.
type shapeCache struct {
	slots [256]shapeSlot
}

func (c *shapeCache) slot(k *shapeKey) *shapeSlot {
	a := binary.LittleEndian.Uint64(k.hdr[0:8]) ^ binary.LittleEndian.Uint64(k.hdr[8:16])*0x9e3779b97f4a7c15
	b := binary.LittleEndian.Uint64(k.hdr[16:24]) ^ binary.LittleEndian.Uint64(k.hdr[24:32])*0xc2b2ae3d27d4eb4f
	h := (a ^ b<<1 ^ uint64(binary.LittleEndian.Uint32(k.ports[:]))<<17 ^ uint64(k.app[0])) * 0x9e3779b97f4a7c15
	return &c.slots[h>>56]
}

// shapeOf fills k for p and reports whether p has the cached shape: no
// flags or errors, Ethernet, up to two VLAN tags (802.1Q, or 802.1ad then
// 802.1Q), IPv4 or IPv6 without extension headers, TCP or UDP, then at most
// two application layers of distinct kinds. It returns the number of VLAN
// tags too.
func shapeOf(p *decode.Packet, k *shapeKey) (vlans int, ok bool) {
	ls := p.Layers
	if p.Flags != 0 || p.Err != nil || len(ls) < 3 || ls[0].Kind != decode.KindEthernet {
		return 0, false
	}
	eth := p.Ethernet[ls[0].Index].Contents
	if len(eth) != 14 {
		return 0, false
	}
	k.eth = [14]byte(eth)
	if l := ls[1].Kind; l == decode.KindDot1Q || l == decode.KindDot1AD {
		if vlans, ok = shapeTags(p, k); !ok {
			return 0, false
		}
		ls = ls[vlans:] // Ethernet, IP, transport, ...
	}
	if len(ls) < 3 || len(ls) > 5 {
		return 0, false
	}
	switch l := ls[1]; l.Kind {
	case decode.KindIPv4:
		c := p.IPv4[l.Index].Contents
		if len(c) < 20 {
			return 0, false
		}
		k.hdr[0], k.hdr[1], k.hdr[2], k.hdr[3], k.hdr[4] = c[0], c[1], c[6]&0xe0, c[8], c[9]
		copy(k.hdr[5:13], c[12:20])
	case decode.KindIPv6:
		c := p.IPv6[l.Index].Contents
		x := &p.IPv6Ext[l.Index]
		if len(c) < 40 || x.HopOptsNxt >= 0 || x.RoutingNxt >= 0 || x.FragNxt >= 0 || x.DstOptsNxt >= 0 {
			return 0, false
		}
		k.hdr = [38]byte(c[2:40])
		k.hdr[0], k.hdr[1], k.hdr[2], k.hdr[3] = c[0], c[1], c[2], c[3]
		k.hdr[4], k.hdr[5] = c[6], c[7]
	default:
		return 0, false
	}
	k.l3 = ls[1].Kind
	switch l := ls[2]; l.Kind {
	case decode.KindTCP:
		c := p.TCP[l.Index].Contents
		if l.Partial || len(c) < 4 {
			return 0, false
		}
		k.ports = [4]byte(c)
	case decode.KindUDP:
		c := p.UDP[l.Index].Contents
		if len(c) < 4 {
			return 0, false
		}
		k.ports = [4]byte(c)
	default:
		return 0, false
	}
	k.l4 = ls[2].Kind
	for i, l := range ls[3:] {
		switch l.Kind {
		case decode.KindEthernet, decode.KindIPv4, decode.KindIPv6, decode.KindTCP, decode.KindUDP:
			return 0, false
		}
		if l.Partial || p.Count(l.Kind) != 1 || len(l.Proto) > len(k.proto[i]) {
			return 0, false
		}
		k.app[i] = l.Kind
		copy(k.proto[i][:], l.Proto)
		if l.Kind == decode.KindHTTP {
			k.cont = httpContinuation(&p.HTTP[l.Index])
		}
	}
	return vlans, true
}

// shapeTags puts the VLAN tags after p's Ethernet header (at most two,
// each kind once) into k and returns their number.
func shapeTags(p *decode.Packet, k *shapeKey) (vlans int, ok bool) {
	for ls := p.Layers[1:]; vlans < 2 && vlans < len(ls); vlans++ {
		l := ls[vlans]
		var c []byte
		switch l.Kind {
		case decode.KindDot1Q:
			c = p.Dot1Q[l.Index].Contents
		case decode.KindDot1AD:
			c = p.Dot1AD[l.Index].Contents
		default:
			return vlans, true
		}
		if len(c) != 4 || l.Partial || p.Count(l.Kind) != 1 {
			return 0, false
		}
		copy(k.vlan[4*vlans:], c)
		k.vk[vlans] = l.Kind
	}
	return vlans, true
}

// shaped writes the rest of the document after frame.cap_len for a packet
// of the common shape, from the cache when it can, and reports whether p
// had that shape.
func (e *Encoder) shaped(p *decode.Packet) bool {
	var k shapeKey
	if e.noShapes {
		return false
	}
	vlans, ok := shapeOf(p, &k)
	if !ok {
		return false
	}
	ls := p.Layers[vlans:] // Ethernet, IP, transport, applications
	w := &e.w
	s := e.shapes.slot(&k)
	if s.valid && s.key == k {
		b := w.b
		w.push(len(b) + int(s.layersAt))
		b = append(b, s.json[:s.a]...)
		// the IP object: its first comma becomes the brace, as close
		// would have made it
		ipAt := len(b)
		b = appendIPVarying(b, p, ls[1])
		b[ipAt] = '{'
		w.push(len(b) + int(s.l4At))
		w.b = append(b, s.json[s.a:s.a+s.b]...)
	} else {
		// piece A: frame.protocols to the opening of the IP object
		startA := len(w.b)
		highest := e.highest(p)
		e.protocols(p, highest)
		e.ecs(p, highest)
		w.object(`,"layers":`)
		layersAt := w.stack[w.depth-1] - startA
		w.object(`,"eth":`)
		e.ethernet(&p.Ethernet[p.Layers[0].Index])
		w.close()
		for _, l := range p.Layers[1 : 1+vlans] {
			w.object(kindKeys[l.Kind])
			e.layer(p, l)
			w.close()
		}
		w.key(kindKeys[k.l3])
		endA := len(w.b)
		w.open()
		e.ipVarying(p, ls[1])
		// piece B: the rest of the IP object and the ports
		startB := len(w.b)
		e.ipConstant(p, ls[1])
		w.close()
		w.object(kindKeys[k.l4])
		l4At := w.stack[w.depth-1] - startB
		e.ports(p, ls[2])
		endB := len(w.b)
		if a, b := endA-startA, endB-startB; a+b <= shapeBytes {
			s.key, s.valid = k, true
			s.a, s.b, s.layersAt, s.l4At = uint16(a), uint16(b), uint16(layersAt), uint16(l4At)
			copy(s.json[:], w.b[startA:endA])
			copy(s.json[a:], w.b[startB:endB])
		} else {
			s.valid = false
		}
	}
	e.transportRest(p, ls[2])
	w.close()
	for _, l := range ls[3:] {
		w.object(kindKeys[l.Kind])
		e.layer(p, l)
		w.close()
	}
	w.close() // layers
	return true
}
