package decode

import (
	"fmt"

	"github.com/espcap/espcap-fast/decode/httphead"
	"github.com/espcap/espcap-fast/decode/quicinitial"
	"github.com/espcap/espcap-fast/decode/sip"
	"github.com/espcap/espcap-fast/decode/ssh"
)

// Protocol is one entry of the protocol registry: a protocol the native
// decoder produces as a layer, as Wireshark names it. Everything the rest of
// espcap-fast needs to know per protocol is derived from the registry: the
// kinds' names ([Kind.Name]), [Known], [Kind.App] (the ECS network.protocol
// choice of both engines, see [AppName]) and the port tables the decoder
// chooses application decoders by.
//
// A protocol decoded by a step of the built-in dispatch loop has a built-in
// Kind. A protocol added through the registry alone (see docs/PROTOCOLS.md)
// leaves Kind zero and gives New; it is then given the next free kind.
type Protocol struct {
	// Name is Wireshark's name of the protocol: the layer's key in
	// documents and its name in frame.protocols.
	Name string
	// Kind is the layer kind (the Packet array) the protocol's layers are
	// decoded into. Several names can share one kind (DNS on the mDNS and
	// LLMNR ports, HTTP over UDP as SSDP); the first entry of a kind names
	// it.
	Kind Kind
	// App marks an application protocol: the highest one of a packet is its
	// ECS network.protocol.
	App bool
	// UDP and TCP are Wireshark's default ports for the protocol: a
	// payload on one of them is handed to this protocol's decoder.
	UDP, TCP []uint16
	// Probe, if set, is a cheap check of a payload's first bytes: on a
	// UDP port of the protocol the payload must pass it.
	Probe func(b []byte) bool
	// Heuristic, if set, is a cheap check of a TCP segment's first bytes,
	// tried (in registry order) on a segment that no TCP port of the
	// registry claims: one that passes it is decoded as this protocol.
	// It stands for Wireshark's heuristic dissector of the protocol (on
	// by default for TLS, HTTP and SIP; see docs/PROTOCOLS.md for what
	// each one accepts and where they differ).
	Heuristic func(b []byte) bool
	// New makes the decoder state of a registered protocol (one per
	// Decoder, with room for MaxRepeat layers). Nil for built-in kinds.
	New func() AppLayers

	step next // the dispatch step that decodes a built-in protocol's ports
}

// AppLayers decodes and writes the layers of one registered application
// protocol. A Decoder holds one per registered protocol, made by
// Protocol.New; the instances it decodes live in it and are overwritten by
// the next packet.
type AppLayers interface {
	// Decode decodes the payload b of a segment or datagram from port
	// sport to port dport into instance i (0 <= i < MaxRepeat). It reports
	// false when b is not a message of the protocol; the layer is then not
	// added.
	Decode(i int, b []byte, sport, dport uint16) bool
	// Write writes the fields of instance i, named as Wireshark names them
	// without the protocol prefix ("ssh.protocol" is "protocol").
	Write(i int, w FieldWriter)
}

// FieldWriter is what AppLayers.Write writes a layer's fields with; the
// encoder implements it. Names are Wireshark's field names without the
// protocol prefix, dots turned into underscores.
type FieldWriter interface {
	// String writes a string field (escaped as JSON needs).
	String(name string, v []byte)
	// Uint writes an unsigned number field.
	Uint(name string, v uint64)
	// Bool writes a boolean field.
	Bool(name string, v bool)
}

// registry is the protocol table. The order of the built-in entries with
// the same kind matters: the first names the kind.
var registry = []Protocol{
	// link layer
	{Name: "eth", Kind: KindEthernet},
	{Name: "vlan", Kind: KindDot1Q},
	{Name: "ieee8021ad", Kind: KindDot1AD},
	{Name: "sll", Kind: KindLinuxSLL},
	{Name: "sll", Kind: KindLinuxSLL2},
	{Name: "null", Kind: KindLoopback},
	{Name: "raw", Kind: KindRaw},
	{Name: "nflog", Kind: KindNFLOG},
	{Name: "llc", Kind: KindLLC},
	{Name: "mpls", Kind: KindMPLS},
	{Name: "pppoes", Kind: KindPPPoE},
	{Name: "ppp", Kind: KindPPP},
	{Name: "arp", Kind: KindARP},
	// Wireshark's pseudo-layer after the layers that carry an EtherType
	{Name: "ethertype"},
	// network and transport
	{Name: "ip", Kind: KindIPv4},
	{Name: "ipv6", Kind: KindIPv6},
	{Name: "icmp", Kind: KindICMPv4},
	{Name: "icmpv6", Kind: KindICMPv6},
	{Name: "tcp", Kind: KindTCP},
	{Name: "udp", Kind: KindUDP},
	{Name: "sctp", Kind: KindSCTP},
	// tunnels
	{Name: "gre", Kind: KindGRE},
	{Name: "vxlan", Kind: KindVXLAN, UDP: []uint16{4789}, step: nVXLAN},
	{Name: "geneve", Kind: KindGeneve, UDP: []uint16{6081}, step: nGeneve},
	{Name: "erspan", Kind: KindERSPAN},
	{Name: "cmd", Kind: KindCMD},
	{Name: "gtp", Kind: KindGTP, UDP: []uint16{2152}, step: nGTP},
	{Name: "teredo", Kind: KindTeredo, UDP: []uint16{teredoPort}, Probe: teredoProbe, step: nTeredo},
	// applications
	{Name: "quic", Kind: KindQUIC, App: true, UDP: []uint16{443}, Probe: quicProbe, step: nQUIC},
	{Name: "dns", Kind: KindDNS, App: true, UDP: []uint16{53}, TCP: []uint16{53}, Heuristic: dnsTCPHeuristic, step: nDNS},
	{Name: "mdns", Kind: KindDNS, App: true, UDP: []uint16{5353}, step: nDNS},
	{Name: "llmnr", Kind: KindDNS, App: true, UDP: []uint16{5355}, step: nDNS},
	{Name: "dhcp", Kind: KindDHCP, App: true, UDP: []uint16{67, 68}, step: nDHCP},
	{Name: "dhcpv6", Kind: KindDHCPv6, App: true, UDP: []uint16{546, 547}, step: nDHCPv6},
	{Name: "ntp", Kind: KindNTP, App: true, UDP: []uint16{123}, step: nNTP},
	{Name: "http", Kind: KindHTTP, App: true, Heuristic: httphead.Start,
		TCP: []uint16{80, 631, 1900, 2710, 2869, 3128, 3132, 3689, 5985, 8080, 8088, 11371}},
	{Name: "ssdp", Kind: KindHTTP, App: true, UDP: []uint16{1900}, step: nSSDP},
	{Name: "tls", Kind: KindTLS, App: true, Heuristic: tlsRecordStart,
		TCP: []uint16{324, 443, 465, 636, 802, 853, 993, 995, 1300, 2221, 2443, 3249, 3250, 3251, 3252,
			3496, 5061, 5671, 5684, 5868, 8883, 11207, 19999, 27017}},
	// added through the registry: a package, an AppLayers adapter, one line
	{Name: "ssh", App: true, TCP: []uint16{sshPort}, Heuristic: ssh.Probe, New: newSSH},
	{Name: "sip", App: true, UDP: []uint16{5060}, TCP: []uint16{5060}, Probe: sip.Probe, Heuristic: sip.Probe, New: newSIP},
}

// claimedUDP are UDP ports that Wireshark has a dissector for that no entry
// of the registry decodes: its heuristics (and ours) leave them alone. A
// port an entry decodes whatever the payload (no Probe) is not claimed,
// whatever this list says.
var claimedUDP = []uint16{69, 88, 111, 137, 138, 161, 162, 177, 389, 443, 500, 514, 520, 623, 1194,
	1645, 1646, 1701, 1812, 1813, 2049, 2123, 3478, 3544, 4500, 5060, 5061, 5246, 5247, 8805, 10001}

// quicProbe: a QUIC packet on UDP 443 has the fixed bit set, or is a long
// header Initial.
func quicProbe(b []byte) bool {
	return b[0]&0x40 != 0 || quicinitial.IsLongHeaderInitial(b)
}

// The tables derived from the registry.
var (
	// kindNames are the Wireshark protocol names of the kinds, used as
	// keys under "layers" in documents and as the field-name prefix.
	kindNames [numKinds]string
	// appKinds are the kinds of application protocols.
	appKinds [numKinds]bool
	// knownNames are the names of the registry.
	knownNames = map[string]bool{}
	// appNames maps the names of the application protocols to
	// themselves.
	appNames = map[string]string{}
	// byKind is the registered protocol of each kind past the built-in
	// ones.
	byKind [numKinds]*Protocol
	// registered are the protocols added through the registry, in order.
	registered []*Protocol
	// udpEntry is, per UDP port, 1 + the registry index of the protocol
	// on that port (0: none).
	udpEntry [65536]uint8
	// udpClaimed marks the UDP ports of claimedUDP.
	udpClaimed [65536 / 64]uint64
	// tcpKind is, per TCP port, the kind of the protocol on that port.
	tcpKind [65536]Kind
	// numUsed is the number of kinds in use.
	numUsed = numBuiltin
	// heuristics are the entries with a Heuristic, in registry order.
	heuristics []*Protocol
)

func init() {
	if len(registry) > 254 {
		panic("decode: registry has more than 254 entries")
	}
	for i := range registry {
		pr := &registry[i]
		if pr.Name == "" {
			panic(fmt.Sprintf("decode: registry entry %d has no name", i))
		}
		knownNames[pr.Name] = true
		if pr.Heuristic != nil {
			heuristics = append(heuristics, pr)
		}
		if pr.New != nil {
			if pr.Kind != KindNone {
				panic(fmt.Sprintf("decode: registered protocol %s has a built-in kind", pr.Name))
			}
			if numUsed >= numKinds {
				panic(fmt.Sprintf("decode: no kind left for %s (raise numKinds)", pr.Name))
			}
			pr.Kind = numUsed
			pr.step = nApp + next(len(registered))
			numUsed++
			byKind[pr.Kind] = pr
			registered = append(registered, pr)
		}
		if pr.Kind == KindNone {
			continue
		}
		if kindNames[pr.Kind] == "" {
			kindNames[pr.Kind] = pr.Name
		}
		if pr.App {
			appKinds[pr.Kind] = true
			appNames[pr.Name] = pr.Name
		}
		for _, port := range pr.UDP {
			if udpEntry[port] != 0 {
				panic(fmt.Sprintf("decode: UDP port %d of %s is also %s's", port, pr.Name, registry[udpEntry[port]-1].Name))
			}
			if pr.step == nDone {
				panic(fmt.Sprintf("decode: %s has UDP ports but no decoder for them", pr.Name))
			}
			udpEntry[port] = uint8(i + 1)
		}
		for _, port := range pr.TCP {
			if tcpKind[port] != KindNone {
				panic(fmt.Sprintf("decode: TCP port %d of %s is also %s's", port, pr.Name, tcpKind[port].Name()))
			}
			tcpKind[port] = pr.Kind
		}
	}
	for _, port := range claimedUDP {
		if e := udpEntry[port]; e == 0 || registry[e-1].Probe != nil {
			udpClaimed[port/64] |= 1 << (port % 64)
		}
	}
}

// Name returns the Wireshark protocol name of the kind ("eth", "ip", "tcp",
// ...). It is the key of the layer's object under "layers" in a document.
func (k Kind) Name() string {
	if k < numKinds {
		return kindNames[k]
	}
	return ""
}

// App reports whether the kind is an application protocol's: the highest
// such layer of a packet gives its ECS network.protocol.
func (k Kind) App() bool { return k < numKinds && appKinds[k] }

// Known reports whether the Wireshark protocol name is one that the native
// decoder can produce as a layer (including the "mdns" and "llmnr" flavours
// of DNS and "ssdp", HTTP over UDP).
func Known(proto string) bool { return knownNames[proto] }

// AppNames returns the names of the application protocols (the ECS
// network.protocol values), each mapped to itself: the tshark engine picks
// network.protocol from a packet's protocol chain with it. The map is
// shared; do not modify it.
func AppNames() map[string]string { return appNames }

// Protocols returns the registry, for documentation and tests.
func Protocols() []Protocol { return registry }

// udpPortClaimed reports whether Wireshark has a dissector for the UDP port
// that is not decoded here, so its heuristics (and ours) leave it alone.
func udpPortClaimed(port uint16) bool {
	return udpClaimed[port/64]&(1<<(port%64)) != 0
}
