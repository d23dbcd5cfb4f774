package communityid

import (
	"crypto/sha1"
	"encoding/base64"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/espcap/espcap-fast/internal/need"
	"github.com/espcap/espcap-fast/internal/testpcap"
)

func ip(s string) []byte { return netip.MustParseAddr(s).AsSlice() }

// Examples from the spec README and vectors computed by hand from the
// byte layout in the spec's community-id.py.
func TestSpecExamples(t *testing.T) {
	// The README's example: both directions order to 10.0.0.1, 127.0.0.1, 1234, 80.
	a := string(AppendV1(nil, 0, ip("10.0.0.1"), ip("127.0.0.1"), ProtoTCP, 1234, 80))
	b := string(AppendV1(nil, 0, ip("127.0.0.1"), ip("10.0.0.1"), ProtoTCP, 80, 1234))
	if a != b || len(a) != Len || !strings.HasPrefix(a, "1:") {
		t.Fatalf("direction mismatch: %q %q", a, b)
	}
	// Byte layout check against a hand-assembled buffer.
	var in []byte
	in = append(in, 0, 0)
	in = append(in, ip("10.0.0.1")...)
	in = append(in, ip("127.0.0.1")...)
	in = append(in, ProtoTCP, 0, 0x04, 0xd2, 0, 80)
	want := "1:" + base64.StdEncoding.EncodeToString(sha1Sum(in))
	if a != want {
		t.Fatalf("got %s want %s", a, want)
	}
	// Seed changes the ID.
	if s := string(AppendV1(nil, 1, ip("10.0.0.1"), ip("127.0.0.1"), ProtoTCP, 1234, 80)); s == a {
		t.Fatalf("seed ignored")
	}
	// Equal addresses: ports decide.
	c := string(AppendV1(nil, 0, ip("10.0.0.1"), ip("10.0.0.1"), ProtoUDP, 53, 1000))
	d := string(AppendV1(nil, 0, ip("10.0.0.1"), ip("10.0.0.1"), ProtoUDP, 1000, 53))
	if c != d {
		t.Fatalf("equal-address ordering: %s %s", c, d)
	}
	// Ports are not hashed for other protocols.
	e := string(AppendV1(nil, 0, ip("10.0.0.1"), ip("10.0.0.2"), 47, 1, 2))
	f := string(AppendV1(nil, 0, ip("10.0.0.2"), ip("10.0.0.1"), 47, 0, 0))
	if e != f {
		t.Fatalf("portless protocol: %s %s", e, f)
	}
	// ICMP echo request/reply pair up; unreachable is one-way.
	g := string(AppendV1(nil, 0, ip("10.0.0.1"), ip("10.0.0.2"), ProtoICMP, 8, 0))
	h := string(AppendV1(nil, 0, ip("10.0.0.2"), ip("10.0.0.1"), ProtoICMP, 0, 0))
	if g != h {
		t.Fatalf("icmp echo pair: %s %s", g, h)
	}
	i := string(AppendV1(nil, 0, ip("10.0.0.2"), ip("10.0.0.1"), ProtoICMP, 3, 1))
	j := string(AppendV1(nil, 0, ip("10.0.0.1"), ip("10.0.0.2"), ProtoICMP, 3, 1))
	if i == j {
		t.Fatalf("icmp one-way flows reordered")
	}
	// Bad addresses.
	if got := AppendV1([]byte("x"), 0, ip("10.0.0.1"), ip("::1"), ProtoTCP, 1, 2); string(got) != "x" {
		t.Fatalf("mixed families: %q", got)
	}
	if _, ok := SumV1(0, nil, nil, 6, 1, 2); ok {
		t.Fatalf("nil addresses accepted")
	}
}

func sha1Sum(b []byte) []byte {
	s := sha1.Sum(b)
	return s[:]
}

// Vectors from corelight/community-id-spec baseline/baseline_deflt.json and
// baseline_seed1.json.
func TestBaseline(t *testing.T) {
	for _, v := range baseline {
		got := string(AppendV1(nil, v.seed, ip(v.src), ip(v.dst), v.proto, v.sport, v.dport))
		if got != v.want {
			t.Errorf("%+v: got %s", v, got)
		}
	}
}

// flowOf extracts the outermost IP flow of a packet the way Wireshark's
// Community ID post-dissector sees it.
func flowOf(p gopacket.Packet) (src, dst []byte, proto uint8, sport, dport uint16, ok bool) {
	ls := p.Layers()
	i := 0
	for ; i < len(ls); i++ {
		switch l := ls[i].(type) {
		case *layers.IPv4:
			if l.Flags&layers.IPv4MoreFragments != 0 || l.FragOffset != 0 {
				return
			}
			src, dst, proto = l.SrcIP.To4(), l.DstIP.To4(), uint8(l.Protocol)
		case *layers.IPv6:
			src, dst, proto = l.SrcIP.To16(), l.DstIP.To16(), uint8(l.NextHeader)
		default:
			continue
		}
		break
	}
	if src == nil {
		return
	}
	ok = true
	for i++; i < len(ls); i++ {
		switch l := ls[i].(type) {
		case *layers.IPv6HopByHop:
			proto = uint8(l.NextHeader)
			continue
		case *layers.IPv6Destination:
			proto = uint8(l.NextHeader)
			continue
		case *layers.IPv6Routing:
			proto = uint8(l.NextHeader)
			continue
		case *layers.IPv6Fragment:
			proto = uint8(l.NextHeader)
			continue
		case *layers.TCP:
			sport, dport = uint16(l.SrcPort), uint16(l.DstPort)
		case *layers.UDP:
			sport, dport = uint16(l.SrcPort), uint16(l.DstPort)
		case *layers.SCTP:
			sport, dport = uint16(l.SrcPort), uint16(l.DstPort)
		case *layers.ICMPv4:
			sport, dport = uint16(l.TypeCode.Type()), uint16(l.TypeCode.Code())
		case *layers.ICMPv6:
			sport, dport = uint16(l.TypeCode.Type()), uint16(l.TypeCode.Code())
		}
		break
	}
	return
}

func readPackets(t *testing.T, name string) []gopacket.Packet {
	t.Helper()
	pkts, err := readCapture(name)
	if err != nil {
		t.Fatal(err)
	}
	return pkts
}

func tsharkFields(t *testing.T, file string, args ...string) [][]string {
	t.Helper()
	need.Tshark(t)
	cmd := exec.Command("tshark", append([]string{"-n", "-r", file}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", file, err)
	}
	var rows [][]string
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if line != "" {
			rows = append(rows, strings.Split(line, "\t"))
		}
	}
	return rows
}

// pcaps is the shared capture corpus beside the checkout.
var pcaps = testpcap.SharedDir()

func TestAgainstTshark(t *testing.T) {
	files := []string{
		"wireshark/communityid.pcap",
		"wireshark/http.pcap",
		"wireshark/dns+icmp.pcapng",
		"wireshark/ipv6.pcap",
		"arkime/dns-udp.pcap",
		"arkime/v6-http.pcap",
		"nDPI/iphone.pcap",
		"wireshark/tls13-rfc8446.pcap",
	}
	total := 0
	for _, name := range files {
		file := filepath.Join(pcaps, name)
		if _, err := os.Stat(file); err != nil {
			t.Logf("skip %s: %v", name, err)
			continue
		}
		pkts := readPackets(t, file)
		rows := tsharkFields(t, file, "--enable-protocol", "communityid", "-T", "fields", "-e", "frame.number", "-e", "communityid")
		compared, mismatched := 0, 0
		for _, r := range rows {
			if len(r) < 2 || r[1] == "" {
				continue
			}
			n, _ := strconv.Atoi(r[0])
			want := strings.Split(r[1], ",")[0]
			src, dst, proto, sp, dp, ok := flowOf(pkts[n-1])
			if !ok {
				t.Errorf("%s frame %d: tshark %s, gopacket found no flow", name, n, want)
				continue
			}
			got := string(AppendV1(nil, 0, src, dst, proto, sp, dp))
			compared++
			if got != want {
				mismatched++
				t.Errorf("%s frame %d: got %s want %s (proto %d %d/%d)", name, n, got, want, proto, sp, dp)
			}
		}
		total += compared
		t.Logf("%s: %d frames compared, %d mismatches", name, compared, mismatched)
	}
	if total == 0 {
		need.NoCorpus(t, "no capture of the shared corpus compared (%q)", pcaps)
	}
}

func BenchmarkAppendV1TCP4(b *testing.B) {
	s, d := ip("192.168.1.10"), ip("10.0.0.1")
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendV1(buf[:0], 0, s, d, ProtoTCP, 51000, 443)
	}
}

func BenchmarkAppendV1ICMP6(b *testing.B) {
	s, d := ip("fe80::1"), ip("2001:db8::2")
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendV1(buf[:0], 0, s, d, ProtoICMPv6, 128, 0)
	}
}

func TestZeroAlloc(t *testing.T) {
	s, d := ip("fe80::1"), ip("2001:db8::2")
	buf := make([]byte, 0, 64)
	n := testing.AllocsPerRun(100, func() { buf = AppendV1(buf[:0], 0, s, d, ProtoUDP, 1, 2) })
	if n != 0 {
		t.Fatalf("%v allocs per call", n)
	}
}

func FuzzAppendV1(f *testing.F) {
	f.Add(uint16(0), ip("10.0.0.1"), ip("10.0.0.2"), uint8(6), uint16(1), uint16(2))
	f.Add(uint16(1), ip("::1"), ip("::2"), uint8(58), uint16(128), uint16(0))
	f.Fuzz(func(t *testing.T, seed uint16, a, b []byte, proto uint8, sp, dp uint16) {
		x := AppendV1(nil, seed, a, b, proto, sp, dp)
		y := AppendV1(nil, seed, b, a, proto, dp, sp)
		if len(x) != 0 && len(x) != Len {
			t.Fatalf("length %d", len(x))
		}
		if (proto != ProtoICMP && proto != ProtoICMPv6) && string(x) != string(y) {
			t.Fatalf("direction dependent: %s %s", x, y)
		}
	})
}
