// Package decode turns captured frames into decoded packets.
//
// A Decoder is owned by one worker goroutine. It drives gopacket's
// DecodingLayer implementations (Ethernet, 802.1Q, IPv4, IPv6, TCP, UDP, DNS,
// ...) over the frame with its own dispatch loop instead of
// gopacket.DecodingLayerParser, because a parser keeps one instance per layer
// type and a tunnelled packet (IP in GRE in IP, QinQ, the IP header quoted in
// an ICMP error) needs several. Application layers that gopacket does not
// decode field by field (HTTP/1.x heads, TLS hellos) come from the httphead and
// tlshello packages.
//
// Every layer instance and buffer lives in the Decoder and is reused: decoding
// a well-formed packet allocates nothing. Decoded fields are sub-slices of the
// frame, so a Packet is valid only until the frame's buffer is reused or the
// Decoder decodes the next frame.
package decode

import (
	"github.com/gopacket/gopacket/layers"

	"github.com/espcap/espcap-fast/decode/httphead"
	"github.com/espcap/espcap-fast/decode/tlshello"
)

// Kind identifies which decoder produced a layer, and so which of the
// Packet's arrays holds it.
type Kind uint8

// The layer kinds. Each has a Wireshark protocol name (see Kind.Name).
const (
	KindNone Kind = iota
	KindEthernet
	KindDot1Q
	KindDot1AD
	KindLinuxSLL
	KindLinuxSLL2
	KindLoopback
	KindRaw
	KindNFLOG
	KindLLC
	KindMPLS
	KindPPPoE
	KindPPP
	KindARP
	KindIPv4
	KindIPv6
	KindICMPv4
	KindICMPv6
	KindTCP
	KindUDP
	KindSCTP
	KindGRE
	KindVXLAN
	KindGeneve
	KindERSPAN
	KindCMD
	KindGTP
	KindQUIC
	KindDNS
	KindDHCP
	KindDHCPv6
	KindNTP
	KindHTTP
	KindTLS
	KindTeredo
	numBuiltin // the kinds of protocols registered without one follow
)

// numKinds bounds the kinds: the built-in ones and those the registry gives
// to the protocols added through it.
const numKinds Kind = 48

// NumKinds is the number of layer kinds (an array indexed by Kind needs
// this many elements).
const NumKinds = int(numKinds)

// Limits on how deep a packet is decoded.
const (
	// MaxLayers is the most layers one packet is decoded into.
	MaxLayers = 24
	// MaxRepeat is the most layers of one kind in a packet (tunnels, stacked
	// VLAN tags and MPLS labels, quoted headers in ICMP errors).
	MaxRepeat = 6
)

// Flags describe conditions found while decoding a packet.
type Flags uint16

// Packet flags.
const (
	// FlagMalformed: a layer could not be decoded; Err says which and why.
	FlagMalformed Flags = 1 << iota
	// FlagSnaplen: the frame was cut by the capture's snapshot length.
	FlagSnaplen
	// FlagFragment: an IPv4 or IPv6 fragment (no reassembly is done).
	FlagFragment
	// FlagTooDeep: decoding stopped at MaxLayers or MaxRepeat.
	FlagTooDeep
	// FlagUnsupportedLink: the link type has no decoder.
	FlagUnsupportedLink
)

// Packet is one decoded frame. Layers lists the decoded layers from the
// outermost in; each refers to its instance in the array of its kind.
type Packet struct {
	// Data is the captured frame.
	Data []byte
	// LinkType is the capture's LINKTYPE_ value for the frame.
	LinkType uint16
	// OrigLen is the frame's length on the wire.
	OrigLen int

	Layers []Layer
	layers [MaxLayers]Layer
	counts [numKinds]uint8
	// lastIP is the index in Layers of the last IPv4 or IPv6 header plus
	// one (0: none)
	lastIP  uint8
	Flags   Flags
	Err     error // first decoding error, with the layer it happened in
	ErrKind Kind

	Ethernet  [MaxRepeat]layers.Ethernet
	Dot1Q     [MaxRepeat]layers.Dot1Q
	Dot1AD    [MaxRepeat]layers.Dot1Q // 802.1ad service tags (EtherType 0x88a8)
	LinuxSLL  [1]layers.LinuxSLL
	LinuxSLL2 [1]layers.LinuxSLL2
	Loopback  [1]layers.Loopback
	NFLOG     [1]NFLOG
	LLC       [MaxRepeat]layers.LLC
	MPLS      [MaxRepeat]layers.MPLS
	PPPoE     [MaxRepeat]PPPoE
	PPP       [MaxRepeat]PPP
	ARP       [MaxRepeat]layers.ARP
	IPv4      [MaxRepeat]layers.IPv4
	IPv6      [MaxRepeat]layers.IPv6
	IPv6Ext   [MaxRepeat]IPv6Ext
	ICMPv4    [MaxRepeat]layers.ICMPv4
	ICMPv6    [MaxRepeat]layers.ICMPv6
	TCP       [MaxRepeat]layers.TCP
	TCPSegLen IPPayload
	UDP       [MaxRepeat]layers.UDP
	SCTP      [MaxRepeat]layers.SCTP
	SCTPChunk [MaxRepeat]SCTPChunks
	GRE       [MaxRepeat]layers.GRE
	VXLAN     [MaxRepeat]layers.VXLAN
	Geneve    [MaxRepeat]GeneveHeader
	ERSPAN    [MaxRepeat]ERSPAN
	CMD       [MaxRepeat]CiscoMetaData
	GTP       [MaxRepeat]layers.GTPv1U
	QUIC      [MaxRepeat]QUICHeader
	DNS       [MaxRepeat]layers.DNS
	DHCP      [MaxRepeat]layers.DHCPv4
	DHCPv6    [MaxRepeat]layers.DHCPv6
	NTP       [MaxRepeat]layers.NTP
	HTTP      [MaxRepeat]httphead.Message
	TLS       [MaxRepeat]tlshello.Hello
	Teredo    [MaxRepeat]Teredo

	// apps are the layers of the protocols added through the registry,
	// by kind (the Decoder's own).
	apps *[numKinds]AppLayers
}

// App returns the decoder state of a protocol added through the registry,
// which holds its layers of kind k (Layer.Index selects one), or nil for a
// built-in kind.
func (p *Packet) App(k Kind) AppLayers {
	if p.apps == nil || k >= numKinds {
		return nil
	}
	return p.apps[k]
}

// Count returns how many layers of kind k the packet has.
func (p *Packet) Count(k Kind) int { return int(p.counts[k]) }

// LastIP returns the index in Layers of the packet's last (innermost)
// IPv4 or IPv6 header, or -1 when it has none. The decoder notes it as it
// goes, so that finding it costs no walk over the layers.
func (p *Packet) LastIP() int { return int(p.lastIP) - 1 }

// First returns the first (outermost) layer of kind k and true, or false.
func (p *Packet) First(k Kind) (Layer, bool) {
	if p.counts[k] == 0 {
		return Layer{}, false
	}
	for _, l := range p.Layers {
		if l.Kind == k {
			return l, true
		}
	}
	return Layer{}, false
}

// Has reports whether flag f is set.
func (p *Packet) Has(f Flags) bool { return p.Flags&f != 0 }

func (p *Packet) reset(data []byte, linkType uint16, origLen int) {
	p.Data = data
	p.LinkType = linkType
	p.OrigLen = origLen
	p.Layers = p.layers[:0]
	p.counts = [numKinds]uint8{}
	p.lastIP = 0
	p.Flags = 0
	p.Err = nil
	p.ErrKind = KindNone
	if origLen > len(data) {
		p.Flags |= FlagSnaplen
	}
}

// add reserves the next instance of kind k and returns its index, or -1 when
// the packet already holds MaxLayers layers or MaxRepeat of this kind.
func (p *Packet) add(k Kind) int {
	n := int(p.counts[k])
	if n >= MaxRepeat || len(p.Layers) >= MaxLayers {
		p.Flags |= FlagTooDeep
		return -1
	}
	return n
}

// commit records instance i of kind k as the next layer.
func (p *Packet) commit(k Kind, i int, proto string) {
	p.counts[k]++
	p.Layers = append(p.Layers, Layer{Kind: k, Index: uint8(i), Proto: proto})
}

// commitIP commits instance i of kind k (IPv4 or IPv6) as commit does,
// and notes it as the last IP header.
func (p *Packet) commitIP(k Kind, i int, proto string) {
	p.lastIP = uint8(len(p.Layers) + 1)
	p.commit(k, i, proto)
}

func (p *Packet) fail(k Kind, err error) {
	if p.Err == nil {
		p.Err = err
		p.ErrKind = k
	}
	p.Flags |= FlagMalformed
}
