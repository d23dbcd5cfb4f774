package decode_test

import (
	"encoding/binary"
	"testing"

	"github.com/espcap/espcap-fast/decode"
	"github.com/espcap/espcap-fast/internal/testpcap"
)

func load(t testing.TB, pattern string) []testpcap.Packet {
	t.Helper()
	pk, err := testpcap.Load(pattern, 0)
	if err != nil || len(pk) == 0 {
		t.Fatalf("no packets from %s: %v", pattern, err)
	}
	return pk
}

// chain returns the protocol names of the decoded layers.
func chain(p *decode.Packet) string {
	s := ""
	for i, l := range p.Layers {
		if i > 0 {
			s += ":"
		}
		s += l.Proto
	}
	return s
}

func TestLayers(t *testing.T) {
	for _, c := range []struct {
		file   string
		number int
		want   string
	}{
		{"seed_test_http.pcap", 4, "eth:ip:tcp:http"},
		{"seed_test_dns.pcap", 1, "eth:ip:udp:dns"},
		{"wireshark_ipoipoip.pcap", 1, "ip:ip:ip:ip:ip:tcp"},
		{"arkime_twovlan.pcap", 1, "eth:vlan:vlan:ip:tcp"},
		{"arkime_gre-erspan-vxlan.pcap", 4, "eth:ip:gre:erspan:eth:ip:udp:vxlan:eth:ip:tcp:http"},
		{"zeek_icmp_icmp-destunreach-udp.pcap", 1, "eth:ip:icmp:ip:udp:dns"},
		{"arkime_pppoe.pcap", 1, "eth:pppoes:ppp:ip:tcp"},
		{"zeek_linux_dlt_sll2.pcap", 1, "sll:ip:icmp"},
		{"zeek_linux_dlt_sll2.pcap", 6, "sll:arp"},
		{"gopacket_test_loopback.pcap", 1, "null:ipv6:tcp:http"},
		{"tcpdump_nflog.pcap", 1, "nflog:ip:udp:dns"},
		{"wireshark_sip.pcapng", 1, "raw:ip:udp:sip"},
		{"tcpdump_geneve.pcap", 1, "eth:ip:udp:geneve:eth:ip:icmp"},
	} {
		pk := load(t, "../testdata/pcaps/"+c.file)
		p := pk[c.number-1]
		d := decode.NewDecoder()
		got := d.Decode(p.Data, p.LinkType, p.OrigLen)
		if s := chain(got); s != c.want {
			t.Errorf("%s frame %d: layers %s, want %s (err %v)", c.file, c.number, s, c.want, got.Err)
		}
		if got.Has(decode.FlagMalformed) {
			t.Errorf("%s frame %d: flagged malformed: %v", c.file, c.number, got.Err)
		}
	}
}

// TestRepeatedLayersKeepEveryOccurrence checks that inner layers do not
// overwrite outer ones.
func TestRepeatedLayersKeepEveryOccurrence(t *testing.T) {
	pk := load(t, "../testdata/pcaps/wireshark_ipoipoip.pcap")
	d := decode.NewDecoder()
	p := d.Decode(pk[0].Data, pk[0].LinkType, pk[0].OrigLen)
	if n := p.Count(decode.KindIPv4); n != 5 {
		t.Fatalf("%d IPv4 layers, want 5", n)
	}
	seen := map[string]bool{}
	for _, l := range p.Layers {
		if l.Kind == decode.KindIPv4 {
			ip := &p.IPv4[l.Index]
			seen[string(ip.SrcIP)+string(ip.DstIP)] = true
		}
	}
	if len(seen) < 2 {
		t.Errorf("the IP layers all hold the same addresses: inner overwrote outer")
	}
}

func TestMalformedIsFlaggedNotFatal(t *testing.T) {
	pk := load(t, "../testdata/pcaps/seed_test_http.pcap")
	p := pk[3] // HTTP GET
	data := append([]byte(nil), p.Data...)
	data[14+20+12] = 0x30 // TCP data offset 3 (< 5)
	d := decode.NewDecoder()
	got := d.Decode(data, p.LinkType, p.OrigLen)
	if !got.Has(decode.FlagMalformed) || got.ErrKind != decode.KindTCP || got.Err == nil {
		t.Fatalf("bad TCP header: flags %b, err kind %v, err %v", got.Flags, got.ErrKind, got.Err)
	}
	if chain(got) != "eth:ip" {
		t.Errorf("layers before the damage: %s, want eth:ip", chain(got))
	}
	// cut short by the snapshot length: flagged, decoded as far as it goes
	got = d.Decode(p.Data[:40], p.LinkType, p.OrigLen)
	if !got.Has(decode.FlagSnaplen) {
		t.Error("a frame shorter than its wire length is not tagged snaplen")
	}
}

func TestFragments(t *testing.T) {
	pk := load(t, "../testdata/pcaps/chrissanders_ipv6_fragments.pcapng")
	d := decode.NewDecoder()
	frag := 0
	for _, p := range pk {
		if d.Decode(p.Data, p.LinkType, p.OrigLen).Has(decode.FlagFragment) {
			frag++
		}
	}
	if frag != 20 { // tshark: 20 packets with ipv6.fraghdr
		t.Errorf("%d fragments, want 20", frag)
	}
}

func TestUnsupportedLinkType(t *testing.T) {
	d := decode.NewDecoder()
	p := d.Decode([]byte{1, 2, 3, 4}, 147, 4)
	if !p.Has(decode.FlagUnsupportedLink) || len(p.Layers) != 0 {
		t.Errorf("link type 147: flags %b, %d layers", p.Flags, len(p.Layers))
	}
}

// TestDecodeAllocatesNothing: the hot path allocates nothing per packet, over
// every well-formed test capture.
func TestDecodeAllocatesNothing(t *testing.T) {
	pk := load(t, "../testdata/pcaps/*")
	d := decode.NewDecoder()
	for _, p := range pk { // warm up: slices grow to their largest
		d.Decode(p.Data, p.LinkType, p.OrigLen)
	}
	i := 0
	allocs := testing.AllocsPerRun(len(pk), func() {
		p := &pk[i%len(pk)]
		i++
		d.Decode(p.Data, p.LinkType, p.OrigLen)
	})
	if allocs != 0 {
		t.Errorf("%.2f allocations per packet, want 0", allocs)
	}
}

// FuzzDecode decodes arbitrary bytes under every supported link type: it
// must never panic or loop.
func FuzzDecode(f *testing.F) {
	for _, p := range testpcap.FuzzSeeds("../testdata") {
		f.Add(p.LinkType, p.Data)
	}
	d := decode.NewDecoder()
	f.Fuzz(func(t *testing.T, lt uint16, data []byte) {
		p := d.Decode(data, lt, len(data))
		if len(p.Layers) > decode.MaxLayers {
			t.Fatalf("%d layers", len(p.Layers))
		}
		// and again as every supported link type, with a wire length
		// from the first two bytes (cut by a snapshot length when not 0)
		wire := len(data)
		if len(data) >= 2 {
			wire += int(binary.BigEndian.Uint16(data))
		}
		for _, l := range []uint16{0, 1, 101, 113, 228, 229, 239, 276} {
			d.Decode(data, l, wire)
		}
	})
}

// TestQUICClientHelloJA4: the ClientHello decrypted from a QUIC Initial is
// fingerprinted as a QUIC one. Arkime's expected output for this capture
// (tests/pcap/quicietf.test) gives its JA4 and JA4_r.
func TestQUICClientHelloJA4(t *testing.T) {
	d := decode.NewDecoder()
	for _, p := range load(t, "../testdata/pcaps/arkime_quicietf.pcap") {
		dp := d.Decode(p.Data, p.LinkType, p.OrigLen)
		if dp.Count(decode.KindTLS) == 0 {
			continue
		}
		h := &dp.TLS[0]
		if !h.QUIC {
			t.Errorf("frame %d: hello from a QUIC Initial not marked QUIC", p.Number)
		}
		if got, want := string(h.AppendJA4(nil)), "q13d0311h3_55b375c5d22e_3512bcbbc9ec"; got != want {
			t.Errorf("frame %d: JA4 %s, want %s", p.Number, got, want)
		}
		if got, want := string(h.AppendJA4R(nil)), "q13d0311h3_1301,1302,1303_000a,000d,001b,0029,002b,002d,0033,0039,4469_0403,0804,0401,0503,0805,0501,0806,0601,0201"; got != want {
			t.Errorf("frame %d: JA4_r %s, want %s", p.Number, got, want)
		}
		return
	}
	t.Fatal("no ClientHello found in the QUIC capture")
}
