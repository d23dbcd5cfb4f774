package decode_test

import (
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/espcap/espcap-fast/decode"
)

// TestDNSOverTCPOnAnyPort: a TCP segment holding one whole DNS message on
// ports that say nothing is decoded as DNS (the strict heuristic of
// dnsTCPHeuristic), the whole way through Decode; a segment with the same
// message cut short is left as TCP data.
func TestDNSOverTCPOnAnyPort(t *testing.T) {
	q := &layers.DNS{ID: 0x4242, RD: true, QDCount: 1,
		Questions: []layers.DNSQuestion{{Name: []byte("www.example.org"), Type: layers.DNSTypeAAAA, Class: layers.DNSClassIN}}}
	buf := gopacket.NewSerializeBuffer()
	if err := q.SerializeTo(buf, gopacket.SerializeOptions{FixLengths: true}); err != nil {
		t.Fatal(err)
	}
	msg := append([]byte(nil), buf.Bytes()...)
	whole := append([]byte{byte(len(msg) >> 8), byte(len(msg))}, msg...)
	for _, c := range []struct {
		name    string
		payload []byte
		want    bool
	}{
		{"whole message", whole, true},
		{"cut short", whole[:len(whole)-2], false},
	} {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IP{10, 0, 0, 1}, DstIP: net.IP{10, 0, 0, 2}}
		tcp := &layers.TCP{SrcPort: 40000, DstPort: 5300, Seq: 1, Ack: 1, ACK: true, PSH: true, Window: 512}
		if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		out := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(out, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			eth, ip, tcp, gopacket.Payload(c.payload)); err != nil {
			t.Fatal(err)
		}
		data := out.Bytes()
		p := decode.NewDecoder().Decode(data, decode.LinkTypeEthernet, len(data))
		got := p.Count(decode.KindDNS) == 1
		if got != c.want {
			t.Fatalf("%s: dns layer %v, want %v (layers %v)", c.name, got, c.want, p.Layers)
		}
		if !got {
			continue
		}
		d := &p.DNS[0]
		if len(d.Questions) != 1 || string(d.Questions[0].Name) != "www.example.org" || d.ID != 0x4242 {
			t.Errorf("%s: DNS %+v", c.name, d.Questions)
		}
		if p.Has(decode.FlagMalformed) {
			t.Errorf("%s: flagged malformed", c.name)
		}
	}
}
