// Package encode writes decoded packets as JSON documents, in espcap's
// document format extended with @timestamp, frame.* and ECS summary fields
// (docs/SCHEMA.md is the contract).
//
// JSON is appended into a caller's reused buffer with strconv.Append* and
// hand-written escaping: no reflection, no encoding/json, and no allocation
// per packet.
package encode

import (
	"bytes"
	"encoding/binary"

	"github.com/espcap/espcap-fast/decode"
	"github.com/espcap/espcap-fast/decode/httphead"
	"github.com/espcap/espcap-fast/encode/communityid"
)

// Meta is what the source knows of a packet besides its bytes.
type Meta struct {
	// Timestamp is the capture time in nanoseconds since the Unix epoch.
	Timestamp int64
	// Number is the frame number, 1-based within its file (or live session).
	Number uint64
	// CapLen and OrigLen are the captured and the on-the-wire lengths.
	CapLen, OrigLen int
	// FileName is the capture file as given by the user; empty when live.
	FileName string
	// FileDate is the file's modification time, preformatted as
	// sniff_date_utc is (see AppendDateUTC); empty when live.
	FileDate string
	// Interface names the capture interface (live capture, or the pcapng
	// interface's if_name); empty when unknown.
	Interface string
	// FlowID is the packet's flow.id when flows are tracked (nil: none).
	FlowID []byte
	// PcapFile is the capture file that holds the packet, where
	// `espcap-fast export` reads it ("": no position, no pcap fields);
	// PcapOffset is the byte offset of the packet's record header there.
	PcapFile   string
	PcapOffset int64
}

// Encoder writes documents. It caches the formatted date of the last second
// it saw and the Community IDs of recent flows, so give each worker its own.
type Encoder struct {
	protos *Protocols
	listed [decode.NumKinds]bool // whether each kind's name is in protos
	w      writer

	// the head of the documents of the last second and file seen
	heads headCache

	flows flowCache
	fps   fpCache
	// fpSpare holds the fingerprints of a hello too long to cache
	fpSpare fpSlot
	shapes  shapeCache
	// noShapes turns the shape cache off (tests compare both ways)
	noShapes bool
	cids     cidCache
	// the ECS fields' IP layer and its addresses as written there (quoted),
	// for the layer's own src and dst; valid during one Encode
	ipLayer decode.Layer
	ipText  [2][]byte
	eth     ethCache
	// the JA3 (ja3Kind 1) or JA3S (2) hash of the hello written in
	// layers.tls, for the ECS tls fields; 0: none. Valid during one Encode
	ja3     [32]byte
	ja3Kind uint8
}

// NewEncoder returns an Encoder that names a packet's protocol from protos
// (nil: no list, the highest decoded layer names it).
func NewEncoder(protos *Protocols) *Encoder {
	e := &Encoder{protos: protos}
	for k := range e.listed {
		e.listed[k] = protos != nil && protos.Contains(decode.Kind(k).Name())
	}
	return e
}

// Encode appends the JSON document of packet p to dst and returns it. The
// document is one line, without a trailing newline.
func (e *Encoder) Encode(dst []byte, m *Meta, p *decode.Packet) []byte {
	w := &e.w
	w.b = dst
	w.depth = 0
	w.open()

	b := e.appendHead(dst, m)
	b = appendUint(appendKey(b, `,"frame":{"number":`), m.Number)
	b = fieldUint(b, `,"len":`, uint64(m.OrigLen))
	w.b = fieldUint(b, `,"cap_len":`, uint64(m.CapLen))
	e.ja3Kind = 0
	if e.shaped(p) {
		// shaped packets have no other tag
		switch cont, cut := httpTags(p); {
		case cont:
			w.key(`,"tags":["continuation"]`)
		case cut:
			w.key(`,"tags":["http_head_truncated"]`)
		}
		e.ecsApp(p)
		e.flowID(m)
		w.close()
		return w.b
	}
	highest := e.highest(p)
	e.protocols(p, highest)
	e.ecs(p, highest)
	e.flags(p)

	w.object(`,"layers":`)
	e.layers(p)
	w.close()
	e.ecsApp(p)

	e.flowID(m)
	w.close()
	return w.b
}

// flowID writes the packet's position in a capture file (pcap.file,
// pcap.offset), if it has one, then its flow.id, if it has one: the flow.id
// ends the document, where the flow stage writes it over a placeholder.
func (e *Encoder) flowID(m *Meta) {
	e.w.b = AppendPcapPosition(e.w.b, m.PcapFile, m.PcapOffset)
	if len(m.FlowID) > 0 {
		e.w.b = appendFlowID(e.w.b, m.FlowID)
	}
}

// AppendPcapPosition appends `,"pcap":{"file":F,"offset":N}`, where the
// packet lies in a capture file, to a document being written; nothing when
// file is "" (the packet has no position).
func AppendPcapPosition(b []byte, file string, off int64) []byte {
	if file == "" {
		return b
	}
	b = append(b, `,"pcap":{"file":`...)
	b = appendStringS(b, file)
	b = append(b, `,"offset":`...)
	b = appendInt(b, off)
	return append(b, '}')
}

// appendHead appends the fields every document starts with: @timestamp,
// espcap's sniff_timestamp and sniff_date_utc, file_name, file_date_utc and
// interface.name.
func (e *Encoder) appendHead(b []byte, m *Meta) []byte {
	// one copy of the second's head, and the fractions written over its
	// zeros: @timestamp with nine digits, sniff_timestamp with six
	// (or nine when the capture has nanoseconds)
	h := &e.heads
	h.get(secondsOf(m.Timestamp), m.FileName, m.FileDate)
	ns := nanosOf(m.Timestamp)
	frac := nineDigits(uint32(ns))
	at := len(b)
	if ns%1000 == 0 {
		b = append(b, h.us...)
		*(*[6]byte)(b[at+h.sniffFrac:]) = [6]byte(frac[:6])
	} else {
		b = append(b, h.ns...)
		*(*[9]byte)(b[at+h.sniffFrac:]) = frac
	}
	*(*[9]byte)(b[at+h.tsFrac:]) = frac
	if m.Interface != "" {
		b = append(b, `,"interface":{"name":`...)
		b = appendStringS(b, m.Interface)
		b = append(b, '}')
	}
	return b
}

// protocols writes frame.protocols, the protocol chain as tshark writes it,
// closes the frame object and writes the packet's protocol.
func (e *Encoder) protocols(p *decode.Packet, highest string) {
	w := &e.w
	w.key(`,"protocols":"`)
	w.b = appendChain(w.b, p)
	w.key(`"}`)
	w.raw(`,"protocol":`, highest)
}

// highest returns the packet's protocol: the highest decoded layer listed in
// protocols.list, else the highest decoded layer, else "unknown". An HTTP
// continuation segment (no request or response line) is not an HTTP
// message: its protocol is the layer below (tcp); network.protocol still
// says http, the connection's application.
func (e *Encoder) highest(p *decode.Packet) string {
	for i := ownLayers(p) - 1; i >= 0; i-- {
		l := p.Layers[i]
		if l.Kind == decode.KindHTTP && httpContinuation(&p.HTTP[l.Index]) {
			continue
		}
		if l.Proto == l.Kind.Name() {
			if e.listed[l.Kind] {
				return l.Proto
			}
		} else if e.protos.Contains(l.Proto) {
			return l.Proto
		}
	}
	if n := len(p.Layers); n > 0 {
		return p.Layers[n-1].Proto
	}
	return "unknown"
}

// appendChain appends the layer names joined by colons, with Wireshark's
// "ethertype" pseudo-layer after the layers that carry an EtherType.
func appendChain(dst []byte, p *decode.Packet) []byte {
	for i, l := range p.Layers {
		if i > 0 {
			dst = append(dst, ':')
		}
		dst = append(dst, l.Proto...)
		if l.Kind == decode.KindIPv6 {
			x := &p.IPv6Ext[l.Index]
			if x.HopOptsNxt >= 0 {
				dst = append(dst, ":ipv6.hopopts"...)
			}
			if x.RoutingNxt >= 0 {
				dst = append(dst, ":ipv6.routing"...)
			}
			if x.FragNxt >= 0 {
				dst = append(dst, ":ipv6.fraghdr"...)
			}
			if x.DstOptsNxt >= 0 {
				dst = append(dst, ":ipv6.dstopts"...)
			}
		}
		if i+1 < len(p.Layers) && p.Layers[i+1].Kind != decode.KindLLC {
			switch l.Kind {
			case decode.KindEthernet, decode.KindDot1Q, decode.KindDot1AD, decode.KindLinuxSLL, decode.KindLinuxSLL2:
				dst = append(dst, ":ethertype"...)
			}
		}
	}
	return dst
}

// flags writes tags and error.message for conditions found while decoding.
func (e *Encoder) flags(p *decode.Packet) {
	cont, cut := httpTags(p)
	if p.Flags == 0 && !cont && !cut {
		return
	}
	w := &e.w
	w.key(`,"tags":`)
	w.openArray()
	tag := func(s string) {
		w.elem()
		w.b = append(w.b, '"')
		w.b = append(w.b, s...)
		w.b = append(w.b, '"')
	}
	if p.Has(decode.FlagMalformed) {
		tag("malformed")
	}
	if p.Has(decode.FlagSnaplen) {
		tag("snaplen_truncated")
	}
	if p.Has(decode.FlagFragment) {
		tag("ip_fragment")
	}
	if p.Has(decode.FlagTooDeep) {
		tag("too_many_layers")
	}
	if p.Has(decode.FlagUnsupportedLink) {
		tag("unsupported_link_type")
	}
	if cont {
		tag("continuation")
	}
	if cut {
		tag("http_head_truncated")
	}
	w.closeArray()
	if p.Err != nil {
		w.object(`,"error":`)
		w.key(`,"message":`)
		w.b = append(w.b, '"')
		if n := p.ErrKind.Name(); n != "" {
			w.b = append(w.b, n...)
			w.b = append(w.b, ": "...)
		} else if p.Has(decode.FlagUnsupportedLink) {
			w.b = append(w.b, "link type "...)
			w.b = appendUint(w.b, uint64(p.LinkType))
			w.b = append(w.b, ": "...)
		}
		w.b = appendEscapedS(w.b, p.Err.Error())
		w.b = append(w.b, '"')
		w.close()
	}
}

// ecs writes the ECS summary fields of the innermost IP header that is
// the packet's own (for tunnelled traffic, the inner conversation; not one
// an ICMP error quotes) and the transport layer that follows it, then the
// event object. The outer headers (tunnel endpoints) stay under their
// layers. flow.Extract keys flows by the same header.
func (e *Encoder) ecs(p *decode.Packet, highest string) {
	var src, dst []byte
	var proto uint8
	var netType string
	ipAt := -1
	for i, l := range p.Layers[:ownLayers(p)] {
		if l.Partial && (l.Kind == decode.KindIPv4 || l.Kind == decode.KindIPv6) {
			continue // a damaged header: no conversation
		}
		switch l.Kind {
		case decode.KindIPv4:
			ip := &p.IPv4[l.Index]
			src, dst, proto, netType = ip.SrcIP, ip.DstIP, uint8(ip.Protocol), "ipv4"
		case decode.KindIPv6:
			ip := &p.IPv6[l.Index]
			src, dst, netType = ip.SrcIP, ip.DstIP, "ipv6"
			proto = uint8(ip.NextHeader)
			ext := &p.IPv6Ext[l.Index]
			if ext.HopOptsNxt >= 0 {
				proto = uint8(ext.HopOptsNxt)
			}
			for _, nx := range [3]int{ext.RoutingNxt, ext.FragNxt, ext.DstOptsNxt} {
				if nx >= 0 {
					proto = uint8(nx)
				}
			}
		default:
			continue
		}
		ipAt = i
	}
	var sport, dport uint16
	transport := ""
	hasPorts := false
	if ipAt >= 0 && ipAt+1 < len(p.Layers) {
		l := p.Layers[ipAt+1]
		switch l.Kind {
		case decode.KindTCP:
			t := &p.TCP[l.Index]
			sport, dport, transport, hasPorts = uint16(t.SrcPort), uint16(t.DstPort), "tcp", true
		case decode.KindUDP:
			u := &p.UDP[l.Index]
			sport, dport, transport, hasPorts = uint16(u.SrcPort), uint16(u.DstPort), "udp", true
		case decode.KindSCTP:
			s := &p.SCTP[l.Index]
			sport, dport, transport, hasPorts = uint16(s.SrcPort), uint16(s.DstPort), "sctp", true
		case decode.KindICMPv4:
			c := &p.ICMPv4[l.Index]
			sport, dport, transport = uint16(c.TypeCode.Type()), uint16(c.TypeCode.Code()), "icmp"
		case decode.KindICMPv6:
			c := &p.ICMPv6[l.Index]
			sport, dport, transport = uint16(c.TypeCode.Type()), uint16(c.TypeCode.Code()), "ipv6-icmp"
		}
	}
	app := appProtocol(p)
	cidOK := ipAt >= 0 && (transport != "" || p.Flags&decode.FlagFragment == 0)

	e.ipLayer = decode.Layer{}
	if ipAt >= 0 {
		e.ipLayer = p.Layers[ipAt]
	}
	e.writeECS(ipAt >= 0, src, dst, proto, netType, sport, dport, transport, hasPorts, app, cidOK)
}

// appendPacketEvent appends a packet document's ECS event object: kind
// event, category network, dataset espcap.packet, and type connection for a
// packet with an IP header (with protocol too when network.protocol names
// its application protocol), info for the others (ARP, STP, ...).
func appendPacketEvent(b []byte, conversation, app bool) []byte {
	b = append(b, `,"event":{"kind":"event","category":["network"],"type":[`...)
	switch {
	case conversation && app:
		b = append(b, `"connection","protocol"`...)
	case conversation:
		b = append(b, `"connection"`...)
	default:
		b = append(b, `"info"`...)
	}
	return append(b, `],"dataset":"espcap.packet"}`...)
}

// writeECS writes the ECS summary fields (source, destination, network)
// from their values: hasIP tells whether there is an IP header at all,
// src and dst are 4- or 16-byte addresses, sport and dport the ports (or
// ICMP type and code), transport the ECS network.transport ("" if none),
// app the network.protocol ("" if none), and cidOK whether the Community ID
// can be computed. The event object follows them (see appendPacketEvent).
func (e *Encoder) writeECS(hasIP bool, src, dst []byte, proto uint8, netType string, sport, dport uint16, transport string, hasPorts bool, app string, cidOK bool) {
	e.writeSummary(hasIP, src, dst, proto, netType, sport, dport, transport, hasPorts, app, cidOK)
	e.w.b = appendPacketEvent(e.w.b, hasIP, app != "")
}

// writeSummary writes the source, destination and network objects of
// writeECS.
func (e *Encoder) writeSummary(hasIP bool, src, dst []byte, proto uint8, netType string, sport, dport uint16, transport string, hasPorts bool, app string, cidOK bool) {
	w := &e.w
	if !hasIP && netType == "" && transport == "" && !cidOK && app == "" {
		e.ipText = [2][]byte{} // nothing to say (ARP, LLC, ...): no empty "network":{}
		return
	}
	// The ECS fields are the same for every packet of a flow direction:
	// look them up in the flow cache before writing them again.
	// network.protocol, which changes within a flow (the first segment of
	// an HTTP message and the segments after it), comes last and is not
	// cached.
	var k flowKey
	k.set(src, dst, proto, sport, dport, transport, hasPorts, cidOK)
	slot := e.flows.slot(&k)
	if slot.valid && slot.key == k {
		w.push(len(w.b) + slot.netAt)
		w.b = append(w.b, slot.json[:slot.n]...)
		e.ipText = [2][]byte{slot.json[slot.src[0]:slot.src[1]], slot.json[slot.dst[0]:slot.dst[1]]}
		if app != "" {
			w.raw(`,"protocol":`, app)
		}
		w.close()
		return
	}
	start := len(w.b)
	var srcAt, dstAt [2]int
	if hasIP {
		w.object(`,"source":`)
		w.key(`,"ip":`)
		srcAt[0] = len(w.b) - start
		w.b = appendIP(w.b, src)
		srcAt[1] = len(w.b) - start
		if hasPorts {
			w.uint(`,"port":`, uint64(sport))
		}
		w.close()
		w.object(`,"destination":`)
		w.key(`,"ip":`)
		dstAt[0] = len(w.b) - start
		w.b = appendIP(w.b, dst)
		dstAt[1] = len(w.b) - start
		if hasPorts {
			w.uint(`,"port":`, uint64(dport))
		}
		w.close()
	}
	w.object(`,"network":`)
	netAt := w.stack[w.depth-1] - start
	if netType != "" {
		w.raw(`,"type":`, netType)
		w.key(`,"iana_number":`)
		w.b = append(w.b, '"')
		w.b = appendUint(w.b, uint64(proto))
		w.b = append(w.b, '"')
	}
	if transport != "" {
		w.raw(`,"transport":`, transport)
	}
	if cidOK {
		w.key(`,"community_id":`)
		w.b = append(w.b, '"')
		w.b = e.cids.append(w.b, &k)
		w.b = append(w.b, '"')
	}
	e.ipText = [2][]byte{w.b[start+srcAt[0] : start+srcAt[1]], w.b[start+dstAt[0] : start+dstAt[1]]}
	if n := len(w.b) - start; n <= len(slot.json) {
		slot.key, slot.valid, slot.n, slot.netAt = k, true, n, netAt
		slot.src, slot.dst = srcAt, dstAt
		copy(slot.json[:], w.b[start:])
	}
	if app != "" {
		w.raw(`,"protocol":`, app)
	}
	w.close()
}

// httpTags reports the HTTP conditions a packet is tagged with: cont, a
// continuation segment (a TCP segment of an HTTP stream that starts no
// request or response: a body, or the rest of a head; tshark lists such
// segments as HTTP too, reassembly off, and the tag tells them apart from
// messages), and cut, a request or
// response whose head does not end in the segment (the empty line that
// ends it is not there: the rest is in a later segment, or the capture
// cut it), so its last header may hold a truncated value; an HTTP/0.9
// request (no version, no headers) only when its line does not end.
func httpTags(p *decode.Packet) (cont, cut bool) {
	if p.Count(decode.KindHTTP) == 0 {
		return false, false
	}
	for i, n := 0, ownLayers(p); i < n; i++ {
		if l := p.Layers[i]; l.Kind == decode.KindHTTP {
			m := &p.HTTP[l.Index]
			if httpContinuation(m) {
				return true, false
			}
			if m.Request && len(m.Version) == 0 {
				// HTTP/0.9: the request line is all there is, cut
				// only when it does not end in the segment
				return false, i > 0 && p.Layers[i-1].Kind == decode.KindTCP && bytes.IndexByte(p.TCP[p.Layers[i-1].Index].Payload, '\n') < 0
			}
			return false, !m.Complete
		}
	}
	return false, false
}

// httpContinuation reports whether an HTTP layer is a continuation segment:
// it starts neither a request nor a response.
func httpContinuation(m *httphead.Message) bool { return !m.Request && !m.Response }

// ownLayers returns how many of the packet's layers describe the packet
// itself: all, except that an ICMP or ICMPv6 layer ends them (what follows
// is the datagram an error message quotes; see [OwnChain]).
func ownLayers(p *decode.Packet) int {
	if p.Count(decode.KindICMPv4) == 0 && p.Count(decode.KindICMPv6) == 0 {
		return len(p.Layers)
	}
	for i, l := range p.Layers {
		if l.Kind == decode.KindICMPv4 || l.Kind == decode.KindICMPv6 {
			return i + 1
		}
	}
	return len(p.Layers)
}

// appProtocol returns the ECS network.protocol: the name of the highest
// application layer (see decode.Kind.App); QUIC for every QUIC packet, also the Initial whose
// CRYPTO frames hold a TLS ClientHello.
func appProtocol(p *decode.Packet) string {
	for i := ownLayers(p) - 1; i >= 0; i-- {
		if l := p.Layers[i]; l.Kind.App() {
			if l.Kind == decode.KindTLS && i > 0 && p.Layers[i-1].Kind == decode.KindQUIC {
				return p.Layers[i-1].Proto
			}
			return l.Proto
		}
	}
	return ""
}

// flowCache remembers the ECS fields of recently seen flow directions:
// writing them costs two address formats and a SHA-1 (the Community ID),
// and consecutive packets mostly belong to a few flows.
type flowCache struct {
	slots [512]flowSlot
}

// flowKey is what the ECS fields depend on.
type flowKey struct {
	addrs     [32]byte // source, destination
	alen      uint8
	proto     uint8
	sport     uint16
	dport     uint16
	transport string
	hasPorts  bool
	cid       bool
}

func (k *flowKey) set(src, dst []byte, proto uint8, sport, dport uint16, transport string, hasPorts bool, cid bool) {
	copy(k.addrs[0:16], src)
	copy(k.addrs[16:32], dst)
	k.alen = uint8(len(src))
	k.proto, k.sport, k.dport = proto, sport, dport
	k.transport, k.hasPorts, k.cid = transport, hasPorts, cid
}

type flowSlot struct {
	key      flowKey
	valid    bool
	n        int
	src, dst [2]int // where the quoted addresses are in json
	netAt    int    // where the network object starts in json
	json     [384]byte
}

// slot returns the cache slot for k (which may hold another flow).
func (c *flowCache) slot(k *flowKey) *flowSlot {
	a := binary.LittleEndian.Uint64(k.addrs[8:16]) ^ binary.LittleEndian.Uint64(k.addrs[0:8])*0x9e3779b97f4a7c15
	b := binary.LittleEndian.Uint64(k.addrs[24:32]) ^ binary.LittleEndian.Uint64(k.addrs[16:24])*0xc2b2ae3d27d4eb4f
	h := (a ^ b<<1 ^ uint64(k.sport)<<32 ^ uint64(k.dport)<<16 ^ uint64(k.proto)) * 0x9e3779b97f4a7c15
	return &c.slots[h>>55]
}

// cidCache remembers Community IDs by flow, in both directions: the ECS
// cache holds one entry per direction, and the first packet of the reverse
// direction then finds the ID here instead of computing a SHA-1 again.
type cidCache struct {
	slots [256]cidSlot
}

type cidSlot struct {
	key   flowKey // the direction it was computed for
	valid bool
	id    [communityid.Len]byte
}

// append appends the Community ID of k's flow.
func (c *cidCache) append(dst []byte, k *flowKey) []byte {
	// a direction-independent slot: hash the two endpoints in order
	a := binary.LittleEndian.Uint64(k.addrs[8:16]) ^ binary.LittleEndian.Uint64(k.addrs[0:8]) ^ uint64(k.sport)
	b := binary.LittleEndian.Uint64(k.addrs[24:32]) ^ binary.LittleEndian.Uint64(k.addrs[16:24]) ^ uint64(k.dport)
	if a > b {
		a, b = b, a
	}
	h := (a*0x9e3779b97f4a7c15 ^ b) * 0xc2b2ae3d27d4eb4f
	s := &c.slots[(h^uint64(k.proto))>>56]
	if s.valid && (s.key.sameFlow(k)) {
		return append(dst, s.id[:]...)
	}
	n := int(k.alen)
	id := communityid.AppendV1(s.id[:0], 0, k.addrs[0:n], k.addrs[16:16+n], k.proto, k.sport, k.dport)
	if len(id) != len(s.id) {
		s.valid = false
		return append(dst, id...)
	}
	s.key, s.valid = *k, true
	return append(dst, s.id[:]...)
}

// sameFlow reports whether k and o are the same flow, in either direction.
// The ports of ICMP are type and code, whose reverse is not a swap: those
// count as the same flow only in the same direction.
func (k *flowKey) sameFlow(o *flowKey) bool {
	if k.alen != o.alen || k.proto != o.proto {
		return false
	}
	if k.addrs == o.addrs && k.sport == o.sport && k.dport == o.dport {
		return true
	}
	if !k.hasPorts {
		return false
	}
	return [16]byte(k.addrs[0:16]) == [16]byte(o.addrs[16:32]) && [16]byte(k.addrs[16:32]) == [16]byte(o.addrs[0:16]) &&
		k.sport == o.dport && k.dport == o.sport
}
