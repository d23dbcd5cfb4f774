package flow

import (
	"bytes"
	"testing"
	"unsafe"

	"github.com/espcap/espcap-fast/decode"
	"github.com/espcap/espcap-fast/internal/testpcap"
)

// TestKeyWords checks the layout Key.equal relies on: keyWords covers
// every byte of a Key that holds a field.
func TestKeyWords(t *testing.T) {
	var k Key
	for _, c := range []struct {
		name     string
		off, end uintptr // the field's bytes
	}{
		{"A", unsafe.Offsetof(k.A), unsafe.Offsetof(k.A) + unsafe.Sizeof(k.A)},
		{"B", unsafe.Offsetof(k.B), unsafe.Offsetof(k.B) + unsafe.Sizeof(k.B)},
		{"PortA", unsafe.Offsetof(k.PortA), unsafe.Offsetof(k.PortA) + 2},
		{"PortB", unsafe.Offsetof(k.PortB), unsafe.Offsetof(k.PortB) + 2},
		{"VLAN", unsafe.Offsetof(k.VLAN), unsafe.Offsetof(k.VLAN) + unsafe.Sizeof(k.VLAN)},
		{"Proto", unsafe.Offsetof(k.Proto), unsafe.Offsetof(k.Proto) + 1},
		{"IPv6", unsafe.Offsetof(k.IPv6), unsafe.Offsetof(k.IPv6) + 1},
		{"HasPorts", unsafe.Offsetof(k.HasPorts), unsafe.Offsetof(k.HasPorts) + 1},
		{"ICMP", unsafe.Offsetof(k.ICMP), unsafe.Offsetof(k.ICMP) + 1},
		{"ICMPPair", unsafe.Offsetof(k.ICMPPair), unsafe.Offsetof(k.ICMPPair) + 1},
	} {
		if c.end > unsafe.Offsetof(keyWords{}.pair)+1 {
			t.Errorf("Key.%s (bytes %d:%d) lies past keyWords", c.name, c.off, c.end)
		}
	}
	if unsafe.Sizeof(keyWords{}) > unsafe.Sizeof(k)+2 || unsafe.Offsetof(keyWords{}.pair) >= unsafe.Sizeof(k) {
		t.Errorf("keyWords (%d bytes, pair at %d) reads past a Key (%d bytes)",
			unsafe.Sizeof(keyWords{}), unsafe.Offsetof(keyWords{}.pair), unsafe.Sizeof(k))
	}
}

// TestKeyEqual compares Key.equal with ==, for keys that differ in one
// field each.
func TestKeyEqual(t *testing.T) {
	base := Key{PortA: 80, PortB: 40000, VLAN: [2]uint16{7, 9}, Proto: protoTCP, HasPorts: true}
	base.A[0], base.B[0] = 10, 11
	for _, tc := range []struct {
		name string
		mod  func(k *Key)
	}{
		{"same", func(*Key) {}},
		{"A low", func(k *Key) { k.A[3]++ }},
		{"A high", func(k *Key) { k.A[15] = 1 }},
		{"B low", func(k *Key) { k.B[0]++ }},
		{"B high", func(k *Key) { k.B[9] = 1 }},
		{"PortA", func(k *Key) { k.PortA++ }},
		{"PortB", func(k *Key) { k.PortB++ }},
		{"outer VLAN", func(k *Key) { k.VLAN[0]++ }},
		{"inner VLAN", func(k *Key) { k.VLAN[1]++ }},
		{"Proto", func(k *Key) { k.Proto = protoUDP }},
		{"IPv6", func(k *Key) { k.IPv6 = true }},
		{"HasPorts", func(k *Key) { k.HasPorts = false }},
		{"ICMP", func(k *Key) { k.ICMP = true }},
		{"ICMPPair", func(k *Key) { k.ICMPPair = true }},
	} {
		k := base
		tc.mod(&k)
		if got, want := base.equal(&k), base == k; got != want {
			t.Errorf("%s: equal %v, == %v", tc.name, got, want)
		}
		if got, want := k.equal(&base), k == base; got != want {
			t.Errorf("%s reversed: equal %v, == %v", tc.name, got, want)
		}
	}
}

// TestQUICNameSurvivesDecoder: the pipeline extracts a batch's flow packets
// before the table sees them, and a QUIC ClientHello lies in the decoder's
// buffer, so the flow packet keeps its own copy of the server name and
// ALPN protocol; decoding the packets after it must not change them.
func TestQUICNameSurvivesDecoder(t *testing.T) {
	pk := testpcap.MustLoad(t, "../testdata/pcaps/arkime_quicietf.pcap", 0)
	d := decode.NewDecoder()
	fps := make([]Packet, len(pk))
	// what each packet says when it is tracked at once, as BenchmarkDecodeFlow does
	type said struct{ sni, alpn []byte }
	want := make([]said, len(pk))
	hellos := 0
	for i, p := range pk {
		if !Extract(d.Decode(p.Data, p.LinkType, p.OrigLen), &fps[i]) {
			continue
		}
		f := &fps[i].Fields
		want[i] = said{bytes.Clone(f.sni[:f.sniLen]), bytes.Clone(f.alpn[:f.alpnLen])}
		if f.sniLen > 0 {
			hellos++
		}
	}
	if hellos == 0 {
		t.Fatal("no QUIC ClientHello with a server name in the capture")
	}
	// every packet decoded since: the flow packets still say the same
	tab := NewTable(Config{})
	for i, p := range pk {
		f := &fps[i].Fields
		if !bytes.Equal(f.sni[:f.sniLen], want[i].sni) || !bytes.Equal(f.alpn[:f.alpnLen], want[i].alpn) {
			t.Errorf("packet %d: server name %q ALPN %q after later packets, %q %q when decoded",
				i+1, f.sni[:f.sniLen], f.alpn[:f.alpnLen], want[i].sni, want[i].alpn)
		}
		if fps[i].Key.Proto != 0 {
			r := tab.Observe(&fps[i], p.Timestamp, p.OrigLen)
			if len(want[i].sni) > 0 && len(r.Summary.TLSServerName()) == 0 {
				t.Errorf("packet %d: the flow has no server name", i+1)
			}
		}
	}
}

// TestRecordSize: a Record is a whole number of cache lines, so that the
// fields a packet touches (the first 128 bytes) stay in two lines of the
// slab (see the padding at the end of Record).
func TestRecordSize(t *testing.T) {
	if n := unsafe.Sizeof(Record{}); n%64 != 0 {
		t.Errorf("a Record is %d bytes, not a multiple of 64: adjust its padding", n)
	}
	if off := unsafe.Offsetof(Record{}.next) + unsafe.Sizeof(Record{}.next); off > 128 {
		t.Errorf("the fields a packet touches end at byte %d, past 128", off)
	}
}

// TestAppName: the protocol names that name a flow's application are those
// of the registry entries whose layers Extract takes the name from.
func TestAppName(t *testing.T) {
	for _, c := range []struct{ name, want string }{
		{"dns", "dns"}, {"mdns", "mdns"}, {"llmnr", "llmnr"}, {"dhcp", "dhcp"}, {"dhcpv6", "dhcpv6"},
		{"ntp", "ntp"}, {"http", "http"}, {"ssdp", "ssdp"}, {"tls", "tls"}, {"quic", "quic"},
		{"tcp", ""}, {"udp", ""}, {"ip", ""}, {"ssh", ""}, {"sip", ""}, {"teredo", ""}, {"data", ""}, {"", ""},
	} {
		if got := AppName(c.name); got != c.want {
			t.Errorf("AppName(%q) = %q, want %q", c.name, got, c.want)
		}
	}
}
