package decode

import (
	"encoding/binary"
	"errors"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/espcap/espcap-fast/decode/quicinitial"
)

// Link types (LINKTYPE_* values, as stored in pcap and pcapng files).
const (
	LinkTypeNull      = 0
	LinkTypeEthernet  = 1
	LinkTypeRaw       = 101
	LinkTypeLoop      = 108
	LinkTypeLinuxSLL  = 113
	LinkTypeNFLOG     = 239
	LinkTypeIPv4      = 228
	LinkTypeIPv6      = 229
	LinkTypeLinuxSLL2 = 276
	linkTypeRawAlt    = 12 // DLT_RAW on some BSDs, written by old files
	linkTypeRawAlt2   = 14
)

// SupportedLinkType reports whether the decoder has a first layer for the
// link type.
func SupportedLinkType(lt uint16) bool {
	switch lt {
	case LinkTypeNull, LinkTypeEthernet, LinkTypeRaw, LinkTypeLoop, LinkTypeLinuxSLL, LinkTypeNFLOG,
		LinkTypeIPv4, LinkTypeIPv6, LinkTypeLinuxSLL2, linkTypeRawAlt, linkTypeRawAlt2:
		return true
	}
	return false
}

// Decoder decodes frames into its Packet. It is not safe for concurrent use:
// give each worker goroutine its own.
type Decoder struct {
	pkt Packet
	df  feedback

	quic    quicinitial.Parser
	initial quicinitial.Initial
}

// feedback implements gopacket.DecodeFeedback without allocating.
type feedback struct{ truncated bool }

func (f *feedback) SetTruncated() { f.truncated = true }

var _ gopacket.DecodeFeedback = (*feedback)(nil)

// NewDecoder returns a Decoder.
func NewDecoder() *Decoder { return &Decoder{} }

// Errors for conditions gopacket does not report itself.
var (
	errUnsupportedLink = errors.New("unsupported link type")
	errShort           = errors.New("header cut short")
	errDNSTCPLength    = errors.New("DNS over TCP length prefix cut short")
)

// next names what the decoding loop decodes next.
type next uint8

const (
	nDone next = iota
	nEthernet
	nDot1Q
	nDot1AD
	nSLL
	nSLL2
	nNull
	nNFLOG
	nIPVersion // raw IP: look at the version nibble
	nIPv4
	nIPv6
	nARP
	nLLC
	nMPLS
	nPPPoE
	nPPP
	nICMPv4
	nICMPv6
	nTCP
	nUDP
	nSCTP
	nGRE
	nVXLAN
	nGeneve
	nERSPAN
	nCMD
	nTCPApp // application layer on TCP: by port and content
	nUDPApp // application layer on UDP: by port
	nIPv6Ext
	nDNS
	nDNSTCP
	nSSDP
	nGTP
	nQUIC
	nDHCP
	nDHCPv6
	nNTP
)

// Decode decodes one frame of the given link type. origLen is the frame's
// length on the wire (0 means the same as len(data)). The returned Packet is
// the Decoder's own and is overwritten by the next call; its fields point into
// data.
func (d *Decoder) Decode(data []byte, linkType uint16, origLen int) *Packet {
	p := &d.pkt
	if origLen == 0 {
		origLen = len(data)
	}
	p.reset(data, linkType, origLen)
	var nx next
	switch linkType {
	case LinkTypeEthernet:
		nx = nEthernet
	case LinkTypeRaw, linkTypeRawAlt, linkTypeRawAlt2:
		nx = nIPVersion
		if i := p.add(KindRaw); i >= 0 {
			p.commit(KindRaw, i, "raw")
		}
	case LinkTypeIPv4:
		nx = nIPv4
	case LinkTypeIPv6:
		nx = nIPv6
	case LinkTypeLinuxSLL:
		nx = nSLL
	case LinkTypeLinuxSLL2:
		nx = nSLL2
	case LinkTypeNull, LinkTypeLoop:
		nx = nNull
	case LinkTypeNFLOG:
		nx = nNFLOG
	default:
		p.Flags |= FlagUnsupportedLink
		p.fail(KindNone, errUnsupportedLink)
		return p
	}
	d.run(nx, data)
	return p
}

// run is the dispatch loop: it decodes layer after layer until a decoder has
// nothing more to offer, a layer fails, or the limits are reached.
func (d *Decoder) run(nx next, data []byte) {
	p := &d.pkt
	df := &d.df
	df.truncated = false
	icmpDepth := 0 // >0 while decoding the packet quoted in an ICMP error
	greSeq, erspan3, cmdInGRE := false, false, false
	ipPayload := -1 // bytes after the last IP header, by its length field
	var sport, dport uint16
	for nx != nDone {
		if len(data) == 0 && nx != nTCPApp && nx != nUDPApp {
			return
		}
		switch nx {
		case nEthernet:
			i := p.add(KindEthernet)
			if i < 0 {
				return
			}
			l := &p.Ethernet[i]
			if err := l.DecodeFromBytes(data, df); err != nil {
				p.fail(KindEthernet, err)
				return
			}
			p.commit(KindEthernet, i, "eth")
			if l.EthernetType == layers.EthernetTypeLLC {
				nx, data = nLLC, l.Payload
				continue
			}
			nx, data = d.etherType(uint16(l.EthernetType)), l.Payload
		case nDot1Q, nDot1AD:
			k, name, arr := KindDot1Q, "vlan", &p.Dot1Q
			if nx == nDot1AD {
				k, name, arr = KindDot1AD, "ieee8021ad", &p.Dot1AD
			}
			i := p.add(k)
			if i < 0 {
				return
			}
			l := &arr[i]
			if err := l.DecodeFromBytes(data, df); err != nil {
				p.fail(k, err)
				return
			}
			p.commit(k, i, name)
			if l.Type < 0x0600 {
				nx, data = nLLC, l.Payload
				continue
			}
			nx, data = d.etherType(uint16(l.Type)), l.Payload
		case nSLL:
			i := p.add(KindLinuxSLL)
			if i < 0 {
				return
			}
			l := &p.LinuxSLL[0]
			if err := l.DecodeFromBytes(data, df); err != nil {
				p.fail(KindLinuxSLL, err)
				return
			}
			p.commit(KindLinuxSLL, i, "sll")
			nx, data = d.sllProto(uint16(l.EthernetType)), l.Payload
		case nSLL2:
			i := p.add(KindLinuxSLL2)
			if i < 0 {
				return
			}
			l := &p.LinuxSLL2[0]
			if err := l.DecodeFromBytes(data, df); err != nil {
				p.fail(KindLinuxSLL2, err)
				return
			}
			p.commit(KindLinuxSLL2, i, "sll")
			nx, data = d.sllProto(uint16(l.ProtocolType)), l.Payload
		case nNull:
			i := p.add(KindLoopback)
			if i < 0 {
				return
			}
			l := &p.Loopback[0]
			if err := l.DecodeFromBytes(data, df); err != nil {
				p.fail(KindLoopback, err)
				return
			}
			p.commit(KindLoopback, i, "null")
			switch l.Family {
			case layers.ProtocolFamilyIPv4:
				nx = nIPv4
			case layers.ProtocolFamilyIPv6BSD, layers.ProtocolFamilyIPv6FreeBSD, layers.ProtocolFamilyIPv6Darwin, 10:
				nx = nIPv6
			default:
				nx = nDone
			}
			data = l.Payload
		case nNFLOG:
			i := p.add(KindNFLOG)
			if i < 0 {
				return
			}
			if len(data) < 4 {
				p.fail(KindNFLOG, errShort)
				return
			}
			h := &p.NFLOG[0]
			h.Family, h.Version = data[0], data[1]
			h.ResID = binary.BigEndian.Uint16(data[2:4])
			h.Prefix = nil
			p.commit(KindNFLOG, i, "nflog")
			// TLVs: length and type in host byte order (little-endian
			// on the machines that write these files), padded to 4
			var payload []byte
			for b := data[4:]; len(b) >= 4; {
				l := int(binary.LittleEndian.Uint16(b[0:2]))
				t := binary.LittleEndian.Uint16(b[2:4]) & 0x7fff
				if l < 4 || l > len(b) {
					break
				}
				switch t {
				case 9: // NFULA_PAYLOAD
					payload = b[4:l]
				case 10: // NFULA_PREFIX
					h.Prefix = trimNUL(b[4:l])
				}
				l = (l + 3) &^ 3
				if l > len(b) {
					break
				}
				b = b[l:]
			}
			if len(payload) == 0 {
				return
			}
			nx, data = nIPVersion, payload
		case nIPVersion:
			switch data[0] >> 4 {
			case 4:
				nx = nIPv4
			case 6:
				nx = nIPv6
			default:
				return
			}
		case nIPv4:
			i := p.add(KindIPv4)
			if i < 0 {
				return
			}
			l := &p.IPv4[i]
			if err := l.DecodeFromBytes(data, df); err != nil {
				p.fail(KindIPv4, err)
				return
			}
			p.commit(KindIPv4, i, "ip")
			ipPayload = fragPayload(p, int(l.Length)-int(l.IHL)*4, l.Payload)
			fragment := l.Flags&layers.IPv4MoreFragments != 0 || l.FragOffset != 0
			if fragment {
				p.Flags |= FlagFragment
				if l.FragOffset != 0 {
					return // no transport header in a later fragment
				}
			}
			nx, data = d.ipProto(uint8(l.Protocol)), l.Payload
		case nIPv6:
			i := p.add(KindIPv6)
			if i < 0 {
				return
			}
			l := &p.IPv6[i]
			ext := &p.IPv6Ext[i]
			ext.reset()
			if err := l.DecodeFromBytes(data, df); err != nil {
				p.fail(KindIPv6, err)
				return
			}
			p.commit(KindIPv6, i, "ipv6")
			proto := uint8(l.NextHeader)
			payload := l.Payload
			if l.HopByHop != nil {
				ext.HopOptsNxt = int(l.HopByHop.NextHeader)
				ext.HopOptsLen = l.HopByHop.ActualLength/8 - 1
				proto = uint8(l.HopByHop.NextHeader)
			}
			var later bool
			before := len(payload)
			proto, payload, later = d.ipv6Ext(ext, proto, payload)
			ipPayload = int(l.Length) - (before - len(payload))
			if l.HopByHop != nil {
				ipPayload -= l.HopByHop.ActualLength
			}
			ipPayload = fragPayload(p, ipPayload, payload)
			if later {
				return
			}
			nx, data = d.ipProto(proto), payload
		case nARP:
			i := p.add(KindARP)
			if i < 0 {
				return
			}
			if err := p.ARP[i].DecodeFromBytes(data, df); err != nil {
				p.fail(KindARP, err)
				return
			}
			p.commit(KindARP, i, "arp")
			return
		case nLLC:
			i := p.add(KindLLC)
			if i < 0 {
				return
			}
			if err := p.LLC[i].DecodeFromBytes(data, df); err != nil {
				p.fail(KindLLC, err)
				return
			}
			p.commit(KindLLC, i, "llc")
			return
		case nMPLS:
			i := p.add(KindMPLS)
			if i < 0 {
				return
			}
			l := &p.MPLS[i]
			if len(data) < 4 {
				p.fail(KindMPLS, errShort)
				return
			}
			v := binary.BigEndian.Uint32(data)
			l.Label = v >> 12
			l.TrafficClass = uint8(v>>9) & 7
			l.StackBottom = v&0x100 != 0
			l.TTL = uint8(v)
			p.commit(KindMPLS, i, "mpls")
			data = data[4:]
			if !l.StackBottom {
				nx = nMPLS
			} else if len(data) > 0 && data[0]>>4 == 4 {
				nx = nIPv4
			} else if len(data) > 0 && data[0]>>4 == 6 {
				nx = nIPv6
			} else {
				return
			}
		case nPPPoE:
			i := p.add(KindPPPoE)
			if i < 0 {
				return
			}
			if len(data) < 6 {
				p.fail(KindPPPoE, errShort)
				return
			}
			h := &p.PPPoE[i]
			h.Version, h.Type = data[0]>>4, data[0]&0x0f
			h.Code = data[1]
			h.SessionID = binary.BigEndian.Uint16(data[2:4])
			h.Length = binary.BigEndian.Uint16(data[4:6])
			p.commit(KindPPPoE, i, "pppoes")
			if h.Code != 0 {
				return // discovery stage
			}
			body := data[6:]
			if int(h.Length) < len(body) {
				body = body[:h.Length]
			}
			nx, data = nPPP, body
		case nPPP:
			i := p.add(KindPPP)
			if i < 0 {
				return
			}
			b := data
			if len(b) >= 2 && b[0] == 0xff && b[1] == 0x03 {
				b = b[2:]
			}
			var proto uint16
			switch {
			case len(b) >= 1 && b[0]&1 == 1:
				proto, b = uint16(b[0]), b[1:]
			case len(b) >= 2:
				proto, b = binary.BigEndian.Uint16(b), b[2:]
			default:
				p.fail(KindPPP, errShort)
				return
			}
			p.PPP[i].Protocol = proto
			p.commit(KindPPP, i, "ppp")
			switch proto {
			case 0x0021:
				nx = nIPv4
			case 0x0057:
				nx = nIPv6
			case 0x0281:
				nx = nMPLS
			default:
				return
			}
			data = b
		case nICMPv4:
			i := p.add(KindICMPv4)
			if i < 0 {
				return
			}
			l := &p.ICMPv4[i]
			if err := l.DecodeFromBytes(data, df); err != nil {
				p.fail(KindICMPv4, err)
				return
			}
			p.commit(KindICMPv4, i, "icmp")
			switch l.TypeCode.Type() {
			case 3, 4, 5, 11, 12: // errors quote the offending datagram
				if icmpDepth == 0 && len(l.Payload) >= 20 && l.Payload[0]>>4 == 4 {
					icmpDepth++
					nx, data = nIPv4, l.Payload
					continue
				}
			}
			return
		case nICMPv6:
			i := p.add(KindICMPv6)
			if i < 0 {
				return
			}
			l := &p.ICMPv6[i]
			if err := l.DecodeFromBytes(data, df); err != nil {
				p.fail(KindICMPv6, err)
				return
			}
			p.commit(KindICMPv6, i, "icmpv6")
			if t := l.TypeCode.Type(); t >= 1 && t <= 4 && icmpDepth == 0 && len(l.Payload) >= 44 && l.Payload[4]>>4 == 6 {
				icmpDepth++
				nx, data = nIPv6, l.Payload[4:]
				continue
			}
			return
		case nTCP:
			i := p.add(KindTCP)
			if i < 0 {
				return
			}
			l := &p.TCP[i]
			if err := l.DecodeFromBytes(data, df); err != nil {
				if icmpDepth > 0 && len(data) >= 4 {
					// A quoted TCP header is usually cut after 8 bytes:
					// keep its ports, as Wireshark does.
					l.SrcPort = layers.TCPPort(binary.BigEndian.Uint16(data[0:2]))
					l.DstPort = layers.TCPPort(binary.BigEndian.Uint16(data[2:4]))
					p.commit(KindTCP, i, "tcp")
					p.Layers[len(p.Layers)-1].Partial = true
					return
				}
				p.fail(KindTCP, err)
				return
			}
			p.commit(KindTCP, i, "tcp")
			p.TCPSegLen[i] = -1
			if ipPayload >= int(l.DataOffset)*4 {
				p.TCPSegLen[i] = ipPayload - int(l.DataOffset)*4
			}
			if icmpDepth > 0 {
				return
			}
			sport, dport = uint16(l.SrcPort), uint16(l.DstPort)
			nx, data = nTCPApp, l.Payload
		case nUDP:
			i := p.add(KindUDP)
			if i < 0 {
				return
			}
			l := &p.UDP[i]
			if err := l.DecodeFromBytes(data, df); err != nil {
				p.fail(KindUDP, err)
				return
			}
			p.commit(KindUDP, i, "udp")
			sport, dport = uint16(l.SrcPort), uint16(l.DstPort)
			payload := l.Payload
			if n := int(l.Length) - 8; n >= 0 && n < len(payload) {
				payload = payload[:n]
			}
			nx, data = nUDPApp, payload
		case nSCTP:
			i := p.add(KindSCTP)
			if i < 0 {
				return
			}
			l := &p.SCTP[i]
			if err := l.DecodeFromBytes(data, df); err != nil {
				p.fail(KindSCTP, err)
				return
			}
			sctpChunks(&p.SCTPChunk[i], l.Payload)
			p.commit(KindSCTP, i, "sctp")
			return
		case nGRE:
			i := p.add(KindGRE)
			if i < 0 {
				return
			}
			l := &p.GRE[i]
			if err := l.DecodeFromBytes(data, df); err != nil {
				p.fail(KindGRE, err)
				return
			}
			p.commit(KindGRE, i, "gre")
			data = l.Payload
			switch uint16(l.Protocol) {
			case 0x880b: // PPP (PPTP)
				nx = nPPP
			case 0x88be, 0x22eb:
				nx = nERSPAN
				greSeq = l.SeqPresent
				erspan3 = l.Protocol == 0x22eb
			case 0x0000: // keepalive: carries the reply IP packet
				nx = nIPVersion
			case 0x8909:
				nx = nCMD
				cmdInGRE = true
			default:
				nx = d.etherType(uint16(l.Protocol))
			}
		case nVXLAN:
			i := p.add(KindVXLAN)
			if i < 0 {
				return
			}
			l := &p.VXLAN[i]
			if err := l.DecodeFromBytes(data, df); err != nil {
				p.fail(KindVXLAN, err)
				return
			}
			p.commit(KindVXLAN, i, "vxlan")
			nx, data = nEthernet, l.Payload
		case nGeneve:
			i := p.add(KindGeneve)
			if i < 0 {
				return
			}
			g := &p.Geneve[i]
			if len(data) < 8 {
				p.fail(KindGeneve, errShort)
				return
			}
			g.Version = data[0] >> 6
			g.OptLen = data[0] & 0x3f
			g.Flags = data[1]
			g.OAM = data[1]&0x80 != 0
			g.Critical = data[1]&0x40 != 0
			g.Protocol = binary.BigEndian.Uint16(data[2:4])
			g.VNI = uint32(data[4])<<16 | uint32(data[5])<<8 | uint32(data[6])
			g.OptionLen = int(g.OptLen) * 4
			if 8+g.OptionLen > len(data) {
				p.fail(KindGeneve, errShort)
				return
			}
			p.commit(KindGeneve, i, "geneve")
			if g.Protocol == 0x6558 {
				nx = nEthernet
			} else {
				nx = d.etherType(g.Protocol)
			}
			data = data[8+g.OptionLen:]
		case nERSPAN:
			i := p.add(KindERSPAN)
			if i < 0 {
				return
			}
			h := &p.ERSPAN[i]
			*h = ERSPAN{}
			n := 0 // type I: no header
			switch {
			case erspan3:
				n = 12
			case greSeq:
				n = 8
			}
			if len(data) < n {
				p.fail(KindERSPAN, errShort)
				return
			}
			if n > 0 {
				// the first word is the same in types II and III
				v := binary.BigEndian.Uint32(data)
				h.Version = uint8(v >> 28)
				h.VLAN = uint16(v>>16) & 0xfff
				h.CoS = uint8(v>>13) & 7
				h.Encap = uint8(v>>11) & 3
				h.Truncated = v&0x400 != 0
				h.SessionID = uint16(v & 0x3ff)
			}
			if erspan3 {
				h.Timestamp = binary.BigEndian.Uint32(data[4:8])
				h.SGT = binary.BigEndian.Uint16(data[8:10])
				if data[11]&1 != 0 { // platform-specific subheader follows
					n += 8
				}
				if len(data) < n {
					p.fail(KindERSPAN, errShort)
					return
				}
			} else if n > 0 {
				h.Index = binary.BigEndian.Uint32(data[4:8]) & 0xfffff
			}
			data = data[n:]
			p.commit(KindERSPAN, i, "erspan")
			nx = nEthernet
		case nCMD:
			i := p.add(KindCMD)
			if i < 0 {
				return
			}
			if len(data) < 8 {
				p.fail(KindCMD, errShort)
				return
			}
			c := &p.CMD[i]
			h := data
			if cmdInGRE {
				// in GRE the EtherType comes first (Wireshark's layout)
				c.Type = binary.BigEndian.Uint16(h[0:2])
				h = h[2:]
			} else {
				c.Type = binary.BigEndian.Uint16(h[6:8])
			}
			c.Version, c.Length = h[0], h[1]
			c.OptionType = binary.BigEndian.Uint16(h[2:4])
			c.SGT = binary.BigEndian.Uint16(h[4:6])
			p.commit(KindCMD, i, "cmd")
			nx, data = d.etherType(c.Type), data[8:]
		case nUDPApp:
			nx = d.udpApp(sport, dport, data)
		case nTCPApp:
			nx = d.tcpApp(sport, dport, data)
		case nDNS, nDNSTCP:
			d.dns(nx == nDNSTCP, icmpDepth > 0, sport, dport, data)
			return
		case nGTP:
			i := p.add(KindGTP)
			if i < 0 {
				return
			}
			l := &p.GTP[i]
			if err := l.DecodeFromBytes(data, df); err != nil {
				if !gtpCut(l, data) {
					p.fail(KindGTP, err)
					return
				}
				if p.Flags&FlagFragment == 0 { // cut, not fragmented
					p.fail(KindGTP, err)
				}
			}
			p.commit(KindGTP, i, "gtp")
			if l.MessageType != 255 || len(l.Payload) == 0 {
				return // signalling, not a tunnelled packet
			}
			nx, data = nIPVersion, l.Payload
		case nQUIC:
			d.quicPacket(data)
			return
		case nSSDP:
			i := p.add(KindHTTP)
			if i < 0 {
				return
			}
			if p.HTTP[i].Parse(data) {
				p.commit(KindHTTP, i, "ssdp")
			}
			return
		case nDHCP:
			i := p.add(KindDHCP)
			if i < 0 {
				return
			}
			if err := p.DHCP[i].DecodeFromBytes(data, df); err != nil {
				if dhcpCut(&p.DHCP[i], data) {
					p.commit(KindDHCP, i, "dhcp")
				}
				p.fail(KindDHCP, err)
				return
			}
			p.commit(KindDHCP, i, "dhcp")
			return
		case nDHCPv6:
			i := p.add(KindDHCPv6)
			if i < 0 {
				return
			}
			if err := p.DHCPv6[i].DecodeFromBytes(data, df); err != nil {
				p.fail(KindDHCPv6, err)
				return
			}
			p.commit(KindDHCPv6, i, "dhcpv6")
			return
		case nNTP:
			i := p.add(KindNTP)
			if i < 0 {
				return
			}
			if err := p.NTP[i].DecodeFromBytes(data, df); err != nil {
				p.fail(KindNTP, err)
				return
			}
			p.commit(KindNTP, i, "ntp")
			return
		default:
			return
		}
	}
}

// etherType maps an EtherType to the next decoder.
func (d *Decoder) etherType(t uint16) next {
	switch t {
	case 0x0800:
		return nIPv4
	case 0x86dd:
		return nIPv6
	case 0x0806, 0x8035: // ARP, RARP
		return nARP
	case 0x8909:
		return nCMD
	case 0x8100, 0x9100:
		return nDot1Q
	case 0x88a8:
		return nDot1AD
	case 0x8847, 0x8848:
		return nMPLS
	case 0x8864:
		return nPPPoE
	case 0x6558:
		return nEthernet
	}
	return nDone
}

// sllProto maps the protocol field of a Linux cooked header.
func (d *Decoder) sllProto(t uint16) next {
	switch t {
	case 0x0004: // 802.2 LLC frames
		return nLLC
	}
	return d.etherType(t)
}

// ipProto maps an IP protocol number to the next decoder.
func (d *Decoder) ipProto(proto uint8) next {
	switch proto {
	case 1:
		return nICMPv4
	case 4:
		return nIPv4
	case 6:
		return nTCP
	case 17:
		return nUDP
	case 41:
		return nIPv6
	case 47:
		return nGRE
	case 58:
		return nICMPv6
	case 132:
		return nSCTP
	case 137:
		return nMPLS
	}
	return nDone
}

// ipv6Ext walks the IPv6 extension headers after the hop-by-hop header
// (which gopacket's IPv6 decoder handles itself). It reports later=true for
// a non-first fragment, whose payload holds no upper-layer header.
func (d *Decoder) ipv6Ext(ext *IPv6Ext, proto uint8, b []byte) (uint8, []byte, bool) {
	for n := 0; n < 8; n++ {
		switch proto {
		case 43: // routing
			if len(b) < 8 {
				return proto, b, false
			}
			ext.RoutingNxt = int(b[0])
			ext.RoutingType = int(b[2])
			ext.RoutingSegs = int(b[3])
			l := (int(b[1]) + 1) * 8
			if l > len(b) {
				return proto, b, false
			}
			proto, b = b[0], b[l:]
		case 60: // destination options
			if len(b) < 8 {
				return proto, b, false
			}
			ext.DstOptsNxt = int(b[0])
			ext.DstOptsLen = int(b[1])
			l := (int(b[1]) + 1) * 8
			if l > len(b) {
				return proto, b, false
			}
			proto, b = b[0], b[l:]
		case 44: // fragment
			if len(b) < 8 {
				return proto, b, false
			}
			ext.FragNxt = int(b[0])
			fo := binary.BigEndian.Uint16(b[2:4])
			ext.FragOffset = fo >> 3
			ext.FragMore = fo&1 != 0
			ext.FragIdent = binary.BigEndian.Uint32(b[4:8])
			d.pkt.Flags |= FlagFragment
			if ext.FragOffset != 0 {
				return b[0], b[8:], true
			}
			proto, b = b[0], b[8:]
		default:
			return proto, b, false
		}
	}
	return proto, b, false
}

// sctpChunks lists the chunk types of an SCTP packet.
func sctpChunks(c *SCTPChunks, b []byte) {
	c.N = 0
	for len(b) >= 4 && c.N < len(c.Types) {
		c.Types[c.N] = b[0]
		c.N++
		l := int(binary.BigEndian.Uint16(b[2:4]))
		l = (l + 3) &^ 3
		if l < 4 || l > len(b) {
			return
		}
		b = b[l:]
	}
}

// udpApp chooses the decoder for a UDP payload by port, as Wireshark's
// default port table does for the protocols decoded here.
func (d *Decoder) udpApp(sport, dport uint16, b []byte) next {
	if len(b) == 0 {
		return nDone
	}
	lo, hi := sport, dport
	if lo > hi {
		lo, hi = hi, lo
	}
	for _, port := range [2]uint16{lo, hi} {
		switch port {
		case 53, 5353, 5355:
			return nDNS
		case 1900:
			return nSSDP
		case 2152:
			return nGTP
		case 443:
			if b[0]&0x40 != 0 || quicinitial.IsLongHeaderInitial(b) { // the fixed bit
				return nQUIC
			}
		case 67, 68:
			return nDHCP
		case 546, 547:
			return nDHCPv6
		case 123:
			return nNTP
		case 4789:
			return nVXLAN
		case 6081:
			return nGeneve
		}
	}
	if !udpPortClaimed(lo) && !udpPortClaimed(hi) && dnsHeuristic(b) {
		return nDNS
	}
	return nDone
}

// udpPortClaimed reports whether Wireshark has a dissector for the UDP port
// that is not decoded here, so its heuristics (and ours) leave it alone.
func udpPortClaimed(port uint16) bool {
	switch port {
	case 69, 88, 111, 137, 138, 161, 162, 177, 389, 443, 500, 514, 520, 623, 1194, 1645, 1646, 1701,
		1812, 1813, 2049, 2123, 3478, 3544, 4500, 5060, 5061, 5246, 5247, 8805, 10001:
		return true
	}
	return false
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

// trimNUL cuts b at its first NUL byte.
func trimNUL(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
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
