package decode

import (
	"errors"

	"github.com/gopacket/gopacket"

	"github.com/espcap/espcap-fast/decode/quicinitial"
	"github.com/espcap/espcap-fast/decode/tlshello"
)

// Decoder decodes frames into its Packet. It is not safe for concurrent use:
// give each worker goroutine its own.
type Decoder struct {
	pkt Packet
	df  feedback

	quic    quicinitial.Parser
	initial quicinitial.Initial
	// quicConns is the state kept across packets: the QUIC connections
	// whose client Initial was seen (see Forget).
	quicConns quicConns

	walk walk // the state of the packet being decoded

	// apps holds the decoders of the protocols added through the
	// registry, by kind.
	apps [numKinds]AppLayers

	// fingerprints remembers the hashed fingerprints of the TLS hellos
	// decoded (see tlshello.Cache)
	fingerprints tlshello.Cache
}

// walk is what the steps of one packet's decoding pass on to later ones.
type walk struct {
	icmpDepth int  // >0 while decoding the packet quoted in an ICMP error
	greSeq    bool // the GRE header before an ERSPAN one had a sequence number
	erspan3   bool // ERSPAN type III (GRE protocol 0x22eb)
	cmdInGRE  bool // a Cisco MetaData header in GRE (the EtherType comes first)
	ipPayload int  // bytes after the last IP header, by its length field (-1: unknown)
	// the ports of the last TCP or UDP header
	sport, dport uint16
}

// feedback implements gopacket.DecodeFeedback without allocating.
type feedback struct{ truncated bool }

func (f *feedback) SetTruncated() { f.truncated = true }

var _ gopacket.DecodeFeedback = (*feedback)(nil)

// NewDecoder returns a Decoder.
func NewDecoder() *Decoder {
	d := &Decoder{}
	for _, pr := range registered {
		d.apps[pr.Kind] = pr.New()
	}
	d.pkt.apps = &d.apps
	for i := range d.pkt.TLS {
		d.pkt.TLS[i].SetCache(&d.fingerprints)
	}
	return d
}

// Forget drops what the Decoder remembers of earlier packets (the client
// Initials of QUIC connections, whose keys decrypt the server's). A worker
// that decodes batches of a capture file calls it before each batch, so
// that a packet's document depends on its batch alone, not on which
// worker decoded the batches before it.
func (d *Decoder) Forget() { d.quicConns = quicConns{} }

// Errors for conditions gopacket does not report itself.
var (
	errUnsupportedLink = errors.New("unsupported link type")
	errShort           = errors.New("header cut short")
	errDNSTCPLength    = errors.New("DNS over TCP length prefix cut short")
	errIPVersion       = errors.New("IP version field does not match the header announced")
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
	nDNS
	nDNSTCP
	nSSDP
	nGTP
	nQUIC
	nDHCP
	nDHCPv6
	nNTP
	nTeredo
	nApp // nApp+i decodes registered[i]
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

// step decodes one layer from data. nx is the step being run (one step
// serves both 802.1Q and 802.1ad tags, DNS over UDP and TCP); it returns
// the next step and what to decode with it, or nDone.
type step func(d *Decoder, nx next, data []byte) (next, []byte)

// steps are the decoding steps, by next.
var steps = [nApp]step{
	nEthernet:  (*Decoder).ethernet,
	nDot1Q:     (*Decoder).vlan,
	nDot1AD:    (*Decoder).vlan,
	nSLL:       (*Decoder).sll,
	nSLL2:      (*Decoder).sll2,
	nNull:      (*Decoder).null,
	nNFLOG:     (*Decoder).nflog,
	nIPVersion: (*Decoder).ipVersion,
	nIPv4:      (*Decoder).ipv4,
	nIPv6:      (*Decoder).ipv6,
	nARP:       (*Decoder).arp,
	nLLC:       (*Decoder).llc,
	nMPLS:      (*Decoder).mpls,
	nPPPoE:     (*Decoder).pppoe,
	nPPP:       (*Decoder).ppp,
	nICMPv4:    (*Decoder).icmpv4,
	nICMPv6:    (*Decoder).icmpv6,
	nTCP:       (*Decoder).tcp,
	nUDP:       (*Decoder).udp,
	nSCTP:      (*Decoder).sctp,
	nGRE:       (*Decoder).gre,
	nVXLAN:     (*Decoder).vxlan,
	nGeneve:    (*Decoder).geneve,
	nERSPAN:    (*Decoder).erspan,
	nCMD:       (*Decoder).cmd,
	nTCPApp:    (*Decoder).tcpPayload,
	nUDPApp:    (*Decoder).udpPayload,
	nDNS:       (*Decoder).dnsStep,
	nDNSTCP:    (*Decoder).dnsStep,
	nSSDP:      (*Decoder).ssdp,
	nGTP:       (*Decoder).gtp,
	nQUIC:      (*Decoder).quicStep,
	nDHCP:      (*Decoder).dhcp,
	nDHCPv6:    (*Decoder).dhcpv6,
	nNTP:       (*Decoder).ntp,
	nTeredo:    (*Decoder).teredo,
}

// run is the dispatch loop: it decodes layer after layer until a step has
// nothing more to offer, a layer fails, or the limits are reached.
func (d *Decoder) run(nx next, data []byte) {
	d.walk = walk{ipPayload: -1}
	d.df.truncated = false
	d.loop(nx, data)
}

// loop runs the steps from nx on data (run's loop, for a walk set up).
func (d *Decoder) loop(nx next, data []byte) {
	for nx != nDone {
		if len(data) == 0 && nx != nTCPApp && nx != nUDPApp {
			return
		}
		if nx >= nApp {
			d.appStep(nx, data)
			return
		}
		nx, data = steps[nx](d, nx, data)
	}
}
