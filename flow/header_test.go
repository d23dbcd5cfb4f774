package flow

import (
	"bytes"
	"encoding/binary"
	"net"
	"strconv"
	"testing"
	"unsafe"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/espcap/espcap-fast/decode"
	"github.com/espcap/espcap-fast/internal/need"
	"github.com/espcap/espcap-fast/internal/testpcap"
)

// checkFlowHeader parses data with decode.ParseFlowHeader and, when that
// says the packet is plain, checks that the full path (Decode, Extract)
// agrees with FromHeader on the key, side, TCP flags, payload length and
// hash, and that data[PayloadAt:PayloadEnd] is the decoder's TCP or UDP
// payload. It reports whether the packet was plain.
func checkFlowHeader(t testing.TB, d *decode.Decoder, data []byte, lt uint16, origLen int, what string) bool {
	t.Helper()
	var h decode.FlowHeader
	if !decode.ParseFlowHeader(data, lt, &h) {
		return false
	}
	p := d.Decode(data, lt, origLen)
	var want, got Packet
	if !Extract(p, &want) {
		t.Errorf("%s: plain by ParseFlowHeader (%+v), no flow by Extract (layers %v, err %v)", what, h, p.Layers, p.Err)
		return true
	}
	FromHeader(&h, &got)
	if got.Key != want.Key || got.FromB != want.FromB || got.Flags != want.Flags || got.Payload != want.Payload ||
		got.keyHash() != want.keyHash() || got.App != "" || got.Fields.set {
		t.Errorf("%s: FromHeader\n  key %+v fromB %v flags %#x payload %d hash %x\nExtract\n  key %+v fromB %v flags %#x payload %d hash %x",
			what, got.Key, got.FromB, got.Flags, got.Payload, got.keyHash(),
			want.Key, want.FromB, want.Flags, want.Payload, want.keyHash())
	}
	var payload []byte
	found := 0
	for _, l := range p.Layers {
		switch l.Kind {
		case decode.KindTCP:
			payload, found = p.TCP[l.Index].Payload, found+1
		case decode.KindUDP:
			payload, found = p.UDP[l.Index].Payload, found+1
		}
	}
	if found != 1 {
		t.Errorf("%s: plain, but the decoder found %d transport layers (%v)", what, found, p.Layers)
		return true
	}
	if len(payload) == 0 {
		if h.PayloadAt != len(data) || h.PayloadEnd != len(data) {
			t.Errorf("%s: no payload captured, PayloadAt %d PayloadEnd %d, want %d", what, h.PayloadAt, h.PayloadEnd, len(data))
		}
		return true
	}
	at := int(uintptrOf(payload) - uintptrOf(data))
	if h.PayloadAt != at || h.PayloadEnd != at+len(payload) {
		t.Errorf("%s: payload at [%d:%d], the decoder's at [%d:%d]", what, h.PayloadAt, h.PayloadEnd, at, at+len(payload))
	}
	return true
}

// uintptrOf returns the address of b's first byte (b not empty).
func uintptrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(&b[0])) }

// TestFlowHeaderMatchesExtract: on every packet of the bundled captures
// (good and malformed) and of the shared corpus, a packet ParseFlowHeader
// calls plain gives the flow packet Extract gives it after a full decode.
func TestFlowHeaderMatchesExtract(t *testing.T) {
	corpora := []struct{ name, dir string }{
		{"testdata/pcaps", "../testdata/pcaps"},
		{"testdata/malformed", "../testdata/malformed"},
		{"shared", ""},
	}
	for _, c := range corpora {
		t.Run(c.name, func(t *testing.T) {
			dir := c.dir
			if dir == "" {
				dir = need.Shared(t)
			}
			files := testpcap.AllCaptures(dir)
			if len(files) == 0 {
				t.Fatalf("no capture under %s", dir)
			}
			d := decode.NewDecoder()
			var total, plain, ported int
			for _, f := range files {
				pk, _ := testpcap.Load(f, 0)
				for _, p := range pk {
					total++
					if checkFlowHeader(t, d, p.Data, p.LinkType, p.OrigLen, f+" #"+strconv.Itoa(p.Number)) {
						plain++
						continue
					}
					var fp Packet
					if Extract(d.Decode(p.Data, p.LinkType, p.OrigLen), &fp) && fp.Key.HasPorts &&
						(fp.Key.Proto == protoTCP || fp.Key.Proto == protoUDP) {
						ported++ // a TCP or UDP flow packet the fast path leaves to the decoder
					}
				}
			}
			if total == 0 {
				t.Fatalf("no packet in the captures under %s", dir)
			}
			t.Logf("%s: %d files, %d packets, %d plain (%.1f %%), %d other TCP/UDP flow packets (%.1f %%)",
				c.name, len(files), total, plain, 100*float64(plain)/float64(total), ported, 100*float64(ported)/float64(total))
			if c.name == "testdata/pcaps" && plain == 0 {
				t.Error("no plain packet in the bundled captures")
			}
		})
	}
}

// Addresses of the crafted packets.
var (
	macA, macB = net.HardwareAddr{2, 0, 0, 0, 0, 1}, net.HardwareAddr{2, 0, 0, 0, 0, 2}
	ip4A, ip4B = net.IP{192, 168, 7, 9}, net.IP{10, 0, 0, 1}
	ip6A, ip6B = net.ParseIP("2001:db8::9"), net.ParseIP("2001:db8::1")
)

// ser serializes the layers (lengths fixed, no checksums: the decoder does
// not check them).
func ser(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(buf.Bytes())
}

func eth(et layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: et}
}

func ip4(proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: ip4A, DstIP: ip4B}
}

func ip6(next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: next, SrcIP: ip6A, DstIP: ip6B}
}

func tcp(sport, dport layers.TCPPort) *layers.TCP {
	return &layers.TCP{SrcPort: sport, DstPort: dport, Seq: 1, ACK: true, PSH: true, Window: 512}
}

func udp(sport, dport layers.UDPPort) *layers.UDP { return &layers.UDP{SrcPort: sport, DstPort: dport} }

// payload returns n bytes that no application decoder takes for its own.
func payload(n int) gopacket.Payload { return bytes.Repeat([]byte{0xa5}, n) }

// with returns a copy of b with bytes at off replaced by v.
func with(b []byte, off int, v ...byte) []byte {
	b = bytes.Clone(b)
	copy(b[off:], v)
	return b
}

// TestFlowHeaderCrafted: crafted packets that ParseFlowHeader must (or must
// not) call plain; those it calls plain must agree with Extract.
func TestFlowHeaderCrafted(t *testing.T) {
	v4tcp := ser(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(51000, 8000), payload(100))
	v4udp := ser(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(51000, 9999), payload(40))
	v6tcp := ser(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolTCP), tcp(8000, 51000), payload(30))
	v6udp := ser(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolUDP), udp(51000, 9999), payload(30))
	rawV4 := v4tcp[14:]
	rawV6 := v6udp[14:]
	withOpts := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: ip4A, DstIP: ip4B,
		Options: []layers.IPv4Option{{OptionType: 7, OptionLength: 7, OptionData: []byte{4, 0, 0, 0, 0}}, {OptionType: 1}}}
	tcpOpts := tcp(443, 51000)
	tcpOpts.SYN, tcpOpts.PSH = true, false
	tcpOpts.Options = []layers.TCPOption{
		{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{5, 0xb4}},
		{OptionType: layers.TCPOptionKindNop},
		{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}},
		{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
	}
	udpBytes := ser(t, udp(51000, 9999), payload(20))
	sll := func(proto uint16, rest []byte) []byte {
		h := make([]byte, 16, 16+len(rest))
		binary.BigEndian.PutUint16(h[2:], 1)
		binary.BigEndian.PutUint16(h[4:], 6)
		copy(h[6:], macA)
		binary.BigEndian.PutUint16(h[14:], proto)
		return append(h, rest...)
	}
	sll2 := func(proto uint16, rest []byte) []byte {
		h := make([]byte, 20, 20+len(rest))
		binary.BigEndian.PutUint16(h[0:], proto)
		binary.BigEndian.PutUint32(h[4:], 3)
		binary.BigEndian.PutUint16(h[8:], 1)
		h[11] = 6
		copy(h[12:], macA)
		return append(h, rest...)
	}
	null := func(fam []byte, rest []byte) []byte { return append(bytes.Clone(fam), rest...) }
	vlanV4 := ser(t, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeIPv4},
		ip4(layers.IPProtocolUDP), udp(53000, 9999), payload(12))

	cases := []struct {
		name  string
		data  []byte
		lt    uint16
		plain bool
	}{
		{"ipv4 tcp", v4tcp, decode.LinkTypeEthernet, true},
		{"ipv4 udp", v4udp, decode.LinkTypeEthernet, true},
		{"ipv6 tcp", v6tcp, decode.LinkTypeEthernet, true},
		{"ipv6 udp", v6udp, decode.LinkTypeEthernet, true},
		{"vlan", vlanV4, decode.LinkTypeEthernet, true},
		{"vlan 0x9100", with(vlanV4, 12, 0x91, 0x00), decode.LinkTypeEthernet, true},
		{"qinq", ser(t, eth(layers.EthernetTypeQinQ), &layers.Dot1Q{VLANIdentifier: 10, Type: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: 20, Type: layers.EthernetTypeIPv6}, ip6(layers.IPProtocolTCP), tcp(80, 40000)), decode.LinkTypeEthernet, true},
		{"three tags", ser(t, eth(layers.EthernetTypeQinQ), &layers.Dot1Q{VLANIdentifier: 10, Type: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: 20, Type: layers.EthernetTypeDot1Q}, &layers.Dot1Q{VLANIdentifier: 30, Type: layers.EthernetTypeIPv4},
			ip4(layers.IPProtocolTCP), tcp(80, 40000)), decode.LinkTypeEthernet, false},
		{"vlan with an 802.3 length", with(vlanV4, 16, 0x00, 0x40), decode.LinkTypeEthernet, false},
		{"vlan cut", vlanV4[:16], decode.LinkTypeEthernet, false},
		{"ipv4 options", ser(t, eth(layers.EthernetTypeIPv4), withOpts, tcp(51000, 8000), payload(9)), decode.LinkTypeEthernet, true},
		{"ipv4 option length 1", with(ser(t, eth(layers.EthernetTypeIPv4), withOpts, tcp(51000, 8000)), 34, 7, 1), decode.LinkTypeEthernet, false},
		{"ipv4 option past the header", with(ser(t, eth(layers.EthernetTypeIPv4), withOpts, tcp(51000, 8000)), 34, 7, 9), decode.LinkTypeEthernet, false},
		{"tcp options", ser(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcpOpts), decode.LinkTypeEthernet, true},
		{"ethernet padding", append(bytes.Clone(ser(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(1, 2))), 0, 0, 0, 0, 0, 0), decode.LinkTypeEthernet, true},
		{"ipv4 length 0 (TSO)", with(v4tcp, 16, 0, 0), decode.LinkTypeEthernet, true},
		{"ipv4 length 0 (TSO) past 64 KiB", with(ser(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(51000, 8000), payload(70000)), 16, 0, 0),
			decode.LinkTypeEthernet, true},
		{"ipv4 length below the header", with(v4tcp, 16, 0, 19), decode.LinkTypeEthernet, false},
		{"ipv4 header length 4", with(v4tcp, 14, 0x44), decode.LinkTypeEthernet, false},
		{"ipv4 length past the capture", with(v4tcp, 16, 0x05, 0xdc), decode.LinkTypeEthernet, true},
		{"ipv4 more fragments", with(v4tcp, 20, 0x20), decode.LinkTypeEthernet, false},
		{"ipv4 later fragment", with(v4tcp, 20, 0x00, 0x10), decode.LinkTypeEthernet, false},
		{"ipv4 don't fragment", with(v4tcp, 20, 0x40), decode.LinkTypeEthernet, true},
		{"ipv4 icmp", ser(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolICMPv4),
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 7, Seq: 1}), decode.LinkTypeEthernet, false},
		{"ipv4 sctp", with(v4tcp, 23, 132), decode.LinkTypeEthernet, false},
		{"ipv6 in an ipv4 ethertype", append(bytes.Clone(v4tcp[:12]), append([]byte{0x08, 0x00}, v6tcp[14:]...)...), decode.LinkTypeEthernet, false},
		// a traffic class of 0x50 makes the low nibble of the first byte a
		// plausible IPv4 header length
		{"ipv6 in an ipv4 ethertype, traffic class 0x50", with(append(bytes.Clone(v4tcp[:12]), append([]byte{0x08, 0x00}, v6tcp[14:]...)...), 14, 0x65),
			decode.LinkTypeEthernet, false},
		{"ipv4 in an ipv6 ethertype", with(v4tcp, 12, 0x86, 0xdd), decode.LinkTypeEthernet, false},
		{"ipv6 payload length 0", with(v6tcp, 18, 0, 0), decode.LinkTypeEthernet, false},
		{"ipv6 payload length past the capture", with(v6tcp, 18, 0x05, 0xdc), decode.LinkTypeEthernet, true},
		{"ipv6 fragment header", ser(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolIPv6Fragment),
			gopacket.Payload(append([]byte{17, 0, 0, 1, 0, 0, 0, 9}, udpBytes...))), decode.LinkTypeEthernet, false},
		{"ipv6 hop-by-hop", ser(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolIPv6HopByHop),
			gopacket.Payload(append([]byte{17, 0, 1, 4, 0, 0, 0, 0}, udpBytes...))), decode.LinkTypeEthernet, false},
		{"ipv6 destination options", ser(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolIPv6Destination),
			gopacket.Payload(append([]byte{17, 0, 1, 4, 0, 0, 0, 0}, udpBytes...))), decode.LinkTypeEthernet, false},
		{"tcp data offset 4", with(v4tcp, 46, 0x40), decode.LinkTypeEthernet, false},
		{"tcp data offset past the segment", with(ser(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(1, 2)), 46, 0x60), decode.LinkTypeEthernet, false},
		{"tcp data offset past the ip length", with(v4tcp, 46, 0xf0), decode.LinkTypeEthernet, true},
		{"udp length 0", with(v4udp, 38, 0, 0), decode.LinkTypeEthernet, true},
		{"udp length 7", with(v4udp, 38, 0, 7), decode.LinkTypeEthernet, false},
		{"udp length 8", with(v4udp, 38, 0, 8), decode.LinkTypeEthernet, true},
		{"udp length past the datagram", with(v4udp, 38, 0x05, 0xdc), decode.LinkTypeEthernet, true},
		{"802.3 length", with(v4tcp, 12, 0x00, 0x40), decode.LinkTypeEthernet, false},
		{"arp", ser(t, eth(layers.EthernetTypeARP), &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
			HwAddressSize: 6, ProtAddressSize: 4, Operation: 1, SourceHwAddress: macA, SourceProtAddress: ip4A,
			DstHwAddress: macB, DstProtAddress: ip4B}), decode.LinkTypeEthernet, false},
		{"mpls", with(v4tcp, 12, 0x88, 0x47), decode.LinkTypeEthernet, false},
		{"raw ipv4", rawV4, decode.LinkTypeRaw, true},
		{"raw ipv6", rawV6, decode.LinkTypeRaw, true},
		{"raw version 5", with(rawV4, 0, 0x55), decode.LinkTypeRaw, false},
		{"raw 14", rawV4, 14, true},
		{"linktype ipv4", rawV4, decode.LinkTypeIPv4, true},
		{"linktype ipv4 holding ipv6", rawV6, decode.LinkTypeIPv4, false},
		{"linktype ipv6", rawV6, decode.LinkTypeIPv6, true},
		{"linktype ipv6 holding ipv4", rawV4, decode.LinkTypeIPv6, false},
		{"sll ipv4", sll(0x0800, rawV4), decode.LinkTypeLinuxSLL, true},
		{"sll vlan", sll(0x8100, vlanV4[14:]), decode.LinkTypeLinuxSLL, true},
		{"sll address length 9", with(sll(0x0800, rawV4), 4, 0, 9), decode.LinkTypeLinuxSLL, false},
		{"sll llc", sll(0x0004, rawV4), decode.LinkTypeLinuxSLL, false},
		{"sll2 ipv6", sll2(0x86dd, rawV6), decode.LinkTypeLinuxSLL2, true},
		{"sll2 address length 9", with(sll2(0x86dd, rawV6), 11, 9), decode.LinkTypeLinuxSLL2, false},
		{"null ipv4 little-endian", null([]byte{2, 0, 0, 0}, rawV4), decode.LinkTypeNull, true},
		{"null ipv4 big-endian", null([]byte{0, 0, 0, 2}, rawV4), decode.LinkTypeNull, true},
		{"loop ipv6 darwin", null([]byte{0, 0, 0, 30}, rawV6), decode.LinkTypeLoop, true},
		{"null ipv6 linux", null([]byte{10, 0, 0, 0}, rawV6), decode.LinkTypeNull, true},
		{"null ipv6 freebsd", null([]byte{28, 0, 0, 0}, rawV6), decode.LinkTypeNull, true},
		{"null family 2 holding ipv6", null([]byte{2, 0, 0, 0}, rawV6), decode.LinkTypeNull, false},
		{"null family 256", null([]byte{0, 1, 0, 0}, rawV4), decode.LinkTypeNull, false},
		{"nflog", rawV4, decode.LinkTypeNFLOG, false},
		{"unknown link type", v4tcp, 147, false},
		{"empty", nil, decode.LinkTypeEthernet, false},
	}
	d := decode.NewDecoder()
	for _, c := range cases {
		if got := checkFlowHeader(t, d, c.data, c.lt, 0, c.name); got != c.plain {
			p := d.Decode(c.data, c.lt, 0)
			t.Errorf("%s: plain %v, want %v (decoder: layers %v, err %v)", c.name, got, c.plain, p.Layers, p.Err)
		}
	}
}

// TestFlowHeaderCut: a plain frame cut at every length is plain once its
// headers are whole (the payload length then still comes from the IP
// header, as Extract takes it), and never before.
func TestFlowHeaderCut(t *testing.T) {
	cases := []struct {
		name    string
		frame   []byte
		headers int // the link, IP and transport headers' length
	}{
		{"ipv4 tcp", ser(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(51000, 8000), payload(60)), 14 + 20 + 20},
		{"vlan ipv6 udp", ser(t, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 5, Type: layers.EthernetTypeIPv6},
			ip6(layers.IPProtocolUDP), udp(40000, 9999), payload(60)), 14 + 4 + 40 + 8},
	}
	d := decode.NewDecoder()
	for _, c := range cases {
		for n := 0; n <= len(c.frame); n++ {
			cut := c.frame[:n:n]
			if got := checkFlowHeader(t, d, cut, decode.LinkTypeEthernet, len(c.frame), c.name); got != (n >= c.headers) {
				t.Errorf("%s cut at %d: plain %v, want %v", c.name, n, got, n >= c.headers)
			}
			var h decode.FlowHeader
			if decode.ParseFlowHeader(cut, decode.LinkTypeEthernet, &h) && h.Payload != 60 {
				t.Errorf("%s cut at %d: payload %d, want 60", c.name, n, h.Payload)
			}
		}
	}
}

// tunnelPayloads are UDP payloads that one of decode's tunnels decodes into
// an inner packet: VXLAN and Geneve headers followed by an Ethernet frame,
// a GTP-U header followed by an IPv4 packet, and a bare IPv6 packet (as
// Teredo carries it).
func tunnelPayloads(t testing.TB) [][]byte {
	inner4 := ser(t, eth(layers.EthernetTypeIPv4), &layers.IPv4{Version: 4, IHL: 5, TTL: 9, Protocol: layers.IPProtocolTCP,
		SrcIP: net.IP{172, 16, 0, 1}, DstIP: net.IP{172, 16, 0, 2}}, tcp(1111, 2222), payload(10))
	inner6 := ser(t, &layers.IPv6{Version: 6, HopLimit: 9, NextHeader: layers.IPProtocolUDP,
		SrcIP: net.ParseIP("2001::5"), DstIP: net.ParseIP("2001::6")}, udp(1111, 2222), payload(10))
	gtp := []byte{0x30, 0xff, 0, byte(len(inner4) - 14), 0, 0, 0, 1}
	return [][]byte{
		append([]byte{0x08, 0, 0, 0, 0, 0, 1, 0}, inner4...),    // VXLAN, VNI 1
		append([]byte{0, 0, 0x65, 0x58, 0, 0, 1, 0}, inner4...), // Geneve, Ethernet
		append(gtp, inner4[14:]...),                             // GTP-U G-PDU
		inner6,                                                  // Teredo
	}
}

// TestFlowHeaderTunnelPorts: a UDP datagram on a port where decode's
// registry has a tunnel is never plain, whatever it carries; each of those
// ports does lead the decoder into an inner packet (for one of the tunnel
// payloads), so the port is rightly left out. On the ports of the
// registry's application protocols the same datagrams are plain and agree
// with Extract: their decoders nest nothing.
func TestFlowHeaderTunnelPorts(t *testing.T) {
	tunnelUDP, _ := decode.FlowTunnelPorts()
	if len(tunnelUDP) == 0 {
		t.Fatal("no tunnel UDP port derived from the registry")
	}
	d := decode.NewDecoder()
	outer := func(port layers.UDPPort, pl []byte, v6 bool) []byte {
		if v6 {
			return ser(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolUDP), udp(50000, port), gopacket.Payload(pl))
		}
		return ser(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(port, 50000), gopacket.Payload(pl))
	}
	for _, port := range tunnelUDP {
		nested := false
		for i, pl := range append(tunnelPayloads(t), []byte(payload(16))) {
			for _, v6 := range []bool{false, true} {
				data := outer(layers.UDPPort(port), pl, v6)
				if checkFlowHeader(t, d, data, decode.LinkTypeEthernet, 0, "tunnel port") {
					t.Errorf("UDP port %d (payload %d, ipv6 %v): plain, want not (a tunnel port)", port, i, v6)
				}
				var fp Packet
				if Extract(d.Decode(data, decode.LinkTypeEthernet, 0), &fp) && fp.Key.PortA != port && fp.Key.PortB != port {
					nested = true
				}
			}
		}
		if !nested {
			t.Errorf("UDP port %d: left out as a tunnel's, but no tunnel payload gave an inner flow", port)
		}
	}
	apps := 0
	for _, pr := range decode.Protocols() {
		if !pr.App {
			continue
		}
		for _, port := range pr.UDP {
			for i, pl := range tunnelPayloads(t) {
				data := outer(layers.UDPPort(port), pl, i%2 == 1)
				if !checkFlowHeader(t, d, data, decode.LinkTypeEthernet, 0, pr.Name+" port") {
					t.Errorf("UDP port %d of %s (payload %d): not plain", port, pr.Name, i)
				}
				apps++
			}
		}
	}
	if apps == 0 {
		t.Error("no application UDP port in the registry")
	}
}

// FuzzFlowHeader: for any frame and link type, ParseFlowHeader does not
// panic, and a frame it calls plain gives what Extract gives.
func FuzzFlowHeader(f *testing.F) {
	for _, p := range testpcap.FuzzSeeds("../testdata") {
		f.Add(p.Data, p.LinkType)
	}
	for _, pl := range tunnelPayloads(f) {
		f.Add(ser(f, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(4789, 50000), gopacket.Payload(pl)), uint16(decode.LinkTypeEthernet))
	}
	f.Add(ser(f, eth(layers.EthernetTypeQinQ), &layers.Dot1Q{VLANIdentifier: 10, Type: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{VLANIdentifier: 20, Type: layers.EthernetTypeIPv6}, ip6(layers.IPProtocolTCP), tcp(80, 40000)), uint16(decode.LinkTypeEthernet))
	d := decode.NewDecoder()
	f.Fuzz(func(t *testing.T, data []byte, lt uint16) {
		checkFlowHeader(t, d, data, lt, 0, "fuzz")
	})
}
