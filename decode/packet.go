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

// IPPayload holds, per TCP layer, the length of its segment according to
// the IP header that carries it (-1 when unknown): Wireshark's tcp.len
// counts from there, also when the capture cut the frame short.
type IPPayload [MaxRepeat]int

// Layer is one decoded layer: its kind, the index of its instance in the
// Packet's array for that kind, and the protocol name it shows in
// frame.protocols (which differs from Kind.Name for DNS on the mDNS and LLMNR
// ports).
type Layer struct {
	Kind  Kind
	Index uint8
	// Partial is set when only some fields could be decoded (a TCP header
	// cut short inside an ICMP error still has its ports).
	Partial bool
	// Proto is the Wireshark protocol name of the layer.
	Proto string
}

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

// IPv6Ext holds the IPv6 extension headers found after one IPv6 header.
type IPv6Ext struct {
	HopOptsNxt  int // -1 when absent; next header of the hop-by-hop header
	HopOptsLen  int // the length field: 8-octet units, not counting the first 8
	RoutingNxt  int // -1 when absent
	RoutingType int
	RoutingSegs int
	FragNxt     int // -1 when absent
	FragOffset  uint16
	FragMore    bool
	FragIdent   uint32
	DstOptsNxt  int // -1 when absent
	DstOptsLen  int // the length field: 8-octet units, not counting the first 8
}

func (e *IPv6Ext) reset() {
	e.HopOptsNxt, e.RoutingNxt, e.FragNxt, e.DstOptsNxt = -1, -1, -1, -1
}

// SCTPChunks holds the chunk types of an SCTP packet.
type SCTPChunks struct {
	Types [16]uint8
	N     int
}

// PPPoE is a PPPoE session header (RFC 2516).
type PPPoE struct {
	Version, Type, Code uint8
	SessionID           uint16
	Length              uint16
}

// PPP is a PPP header: the protocol number, and whether address and control
// bytes were present.
type PPP struct {
	Protocol uint16
}

// Packet is one decoded frame. Layers lists the decoded layers from the
// outermost in; each refers to its instance in the array of its kind.
type Packet struct {
	// Data is the captured frame.
	Data []byte
	// LinkType is the capture's LINKTYPE_ value for the frame.
	LinkType uint16
	// OrigLen is the frame's length on the wire.
	OrigLen int

	Layers  []Layer
	layers  [MaxLayers]Layer
	counts  [numKinds]uint8
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

// GeneveHeader is the fixed part of a Geneve header (RFC 8926).
type GeneveHeader struct {
	Version   uint8
	OptLen    uint8 // in 4-byte words
	Flags     uint8 // the second byte: O, C and reserved bits
	OAM       bool
	Critical  bool
	Protocol  uint16
	VNI       uint32
	OptionLen int
}

// NFLOG is the header of a Linux netfilter log record (LINKTYPE_NFLOG).
type NFLOG struct {
	Family  uint8
	Version uint8
	ResID   uint16
	Prefix  []byte // the log prefix (NFULA_PREFIX), if any
}

// ERSPAN is an ERSPAN type I, II or III header.
type ERSPAN struct {
	Version   uint8 // 0 for type I (no header), 1 for type II, 2 for type III
	VLAN      uint16
	CoS       uint8
	Encap     uint8 // the En field
	Truncated bool
	SessionID uint16
	Index     uint32 // type II only
	Timestamp uint32 // type III only
	SGT       uint16 // type III only
}

// CiscoMetaData is a Cisco MetaData header (EtherType 0x8909), as found in
// GRE: it carries a Security Group Tag and the EtherType of what follows.
type CiscoMetaData struct {
	Version, Length uint8
	OptionType      uint16
	SGT             uint16
	Type            uint16
}

// QUICHeader is the unprotected part of a QUIC packet header (RFC 9000
// 17): the form, and for a long header the version, packet type and
// connection IDs. The first packet of a datagram only.
type QUICHeader struct {
	Long       bool
	Version    uint32
	Type       uint8 // long header packet type (v1 numbering: 0 Initial, 1 0-RTT, 2 Handshake, 3 Retry)
	DCID, SCID []byte
}

// Count returns how many layers of kind k the packet has.
func (p *Packet) Count(k Kind) int { return int(p.counts[k]) }

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

func (p *Packet) fail(k Kind, err error) {
	if p.Err == nil {
		p.Err = err
		p.ErrKind = k
	}
	p.Flags |= FlagMalformed
}
