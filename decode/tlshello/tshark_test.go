package tlshello

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/espcap/espcap-fast/internal/need"
	"github.com/espcap/espcap-fast/internal/testpcap"
)

// pcaps is the shared capture corpus beside the checkout.
var pcaps = testpcap.SharedDir()

func tsharkFields(t *testing.T, file string, args ...string) [][]string {
	t.Helper()
	need.Tshark(t)
	out, err := exec.Command("tshark", append([]string{"-n", "-r", file}, args...)...).Output()
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

type segment struct {
	flow    string
	payload []byte
}

// tcpSegments returns each frame's TCP flow key and payload, indexed by
// frame number - 1.
func tcpSegments(t *testing.T, file string) []segment {
	t.Helper()
	pkts, err := readCapture(file)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]segment, len(pkts))
	for i, p := range pkts {
		tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if !ok || p.NetworkLayer() == nil {
			continue
		}
		out[i] = segment{
			flow:    fmt.Sprintf("%v:%d>%d", p.NetworkLayer().NetworkFlow(), tcp.SrcPort, tcp.DstPort),
			payload: tcp.Payload,
		}
	}
	return out
}

var tlsCaptures = []string{
	"wireshark/tls12-chacha20poly1305.pcap",
	"wireshark/tls13-rfc8446.pcap",
	"arkime/curl-enabled-tls13.pcap",
	"arkime/tls13.pcap",
	"zeek/tls/tls13-ech.pcap",
	"zeek/tls/openjdk-25.0.2-zeek.org.pcap",
	"nDPI/reddit.pcap",
	"nDPI/netflix.pcap",
	"nDPI/iphone.pcap",
	"zeek/tls/ssl.v3.pcap",
	"zeek/tls/chrome-1250-tls-x25519-kyber.pcap",
	"arkime/tls-split-client-hello.pcap",
	"wireshark/tls-renegotiation.pcap",
	"wireshark/rsasnakeoil2.pcap",
}

func decList(l []uint16) string {
	s := make([]string, len(l))
	for i, v := range l {
		s[i] = strconv.Itoa(int(v))
	}
	return strings.Join(s, ",")
}

// TestAgainstTshark compares every frame where tshark 4.0 (TCP reassembly
// off) shows a ClientHello or ServerHello with Parse of that frame's TCP
// payload: SNI, ALPN, cipher suites, JA3 and JA3S (full strings and hashes)
// must agree, and JA3/JA3S must be computed exactly when tshark computes
// them (tshark omits them for hellos cut at the segment end).
func TestAgainstTshark(t *testing.T) {
	var h Hello
	total := 0
	for _, name := range tlsCaptures {
		file := filepath.Join(pcaps, name)
		if _, err := os.Stat(file); err != nil {
			t.Logf("skip %s: %v", name, err)
			continue
		}
		segs := tcpSegments(t, file)
		rows := tsharkFields(t, file, "-Y", "tls.handshake.type==1 || tls.handshake.type==2",
			"-o", "tcp.desegment_tcp_streams:FALSE", "-T", "fields",
			"-e", "frame.number", "-e", "tls.handshake.type", "-e", "tls.handshake.extensions_server_name",
			"-e", "tls.handshake.ja3", "-e", "tls.handshake.ja3_full", "-e", "tls.handshake.ja3s",
			"-e", "tls.handshake.ja3s_full", "-e", "tls.handshake.extensions_alpn_str",
			"-e", "tls.handshake.ciphersuite")
		compared, fps := 0, 0
		for _, r := range rows {
			for len(r) < 9 {
				r = append(r, "")
			}
			n, _ := strconv.Atoi(r[0])
			typ := strings.Split(r[1], ",")[0]
			if typ != "1" && typ != "2" {
				// The first handshake message of the frame is not a
				// hello (a hello follows in a later record).
				t.Logf("%s frame %d: first handshake type %s, skipped", name, n, r[1])
				continue
			}
			if !h.Parse(segs[n-1].payload) {
				t.Errorf("%s frame %d: tshark sees a hello, Parse rejects", name, n)
				continue
			}
			compared++
			check := func(field, got, want string) {
				t.Helper()
				if got != want {
					t.Errorf("%s frame %d: %s\n got %q\nwant %q", name, n, field, got, want)
				}
			}
			check("handshake type", strconv.Itoa(int(h.HandshakeType)), typ)
			check("sni", string(h.SNI), r[2])
			var alpn []string
			for _, a := range h.ALPN {
				alpn = append(alpn, string(a))
			}
			check("alpn", strings.Join(alpn, ","), r[7])
			if h.RecordType != RecordTypeSSLv2 {
				// tshark lists cipher suites of SSLv3/TLS records only.
				var cs []string
				for _, c := range strings.Split(r[8], ",") {
					if c != "" {
						v, _ := strconv.ParseUint(strings.TrimPrefix(c, "0x"), 16, 16)
						if !strings.HasPrefix(c, "0x") {
							v, _ = strconv.ParseUint(c, 10, 16)
						}
						cs = append(cs, strconv.Itoa(int(v)))
					}
				}
				check("ciphers", decList(h.CipherSuites), strings.Join(cs, ","))
			}
			check("ja3", string(h.AppendJA3Hash(nil)), r[3])
			check("ja3_full", string(h.AppendJA3(nil)), r[4])
			check("ja3s", string(h.AppendJA3SHash(nil)), r[5])
			check("ja3s_full", string(h.AppendJA3S(nil)), r[6])
			if r[3] != "" || r[5] != "" {
				fps++
			}
		}
		total += compared
		t.Logf("%s: %d hello frames compared, %d with JA3/JA3S", name, compared, fps)
	}
	if total == 0 {
		need.NoCorpus(t, "no TLS captures found in the shared corpus (%q)", pcaps)
	}
}

// TestJA4Arkime checks AppendJA4 and AppendJA4R against the "ja4" and
// "ja4_r" values in Arkime's expected session output for its test captures.
// A ClientHello split over several segments is reassembled (naively, by
// concatenating the flow's payloads) before fingerprinting.
func TestJA4Arkime(t *testing.T) {
	re := regexp.MustCompile(`"(ja4|ja4_r)" : \[\s*"([^"]+)"`)
	checked := 0
	for _, name := range []string{"curl-enabled-tls13", "tls13", "tls-split-client-hello"} {
		exp, err := os.ReadFile(filepath.Join(pcaps, "arkime/expected", name+".test"))
		if err != nil {
			t.Logf("skip %s: %v", name, err)
			continue
		}
		want := map[string][]string{}
		for _, m := range re.FindAllStringSubmatch(string(exp), -1) {
			want[m[1]] = append(want[m[1]], m[2])
		}
		var got, gotR []string
		var h Hello
		pending := map[string][]byte{}
		for _, s := range tcpSegments(t, filepath.Join(pcaps, "arkime", name+".pcap")) {
			if len(s.payload) == 0 {
				continue
			}
			buf, ok := pending[s.flow]
			if ok {
				buf = append(buf, s.payload...)
			} else {
				buf = append([]byte(nil), s.payload...)
			}
			if !h.Parse(buf) || h.HandshakeType != HandshakeTypeClientHello {
				delete(pending, s.flow)
				continue
			}
			if !h.Complete {
				pending[s.flow] = buf
				continue
			}
			delete(pending, s.flow)
			got = append(got, string(h.AppendJA4(nil)))
			gotR = append(gotR, string(h.AppendJA4R(nil)))
		}
		if fmt.Sprint(got) != fmt.Sprint(want["ja4"]) || fmt.Sprint(gotR) != fmt.Sprint(want["ja4_r"]) {
			t.Errorf("%s:\n got %q %q\nwant %q %q", name, got, gotR, want["ja4"], want["ja4_r"])
		}
		checked += len(want["ja4"])
		t.Logf("%s: %d JA4 values compared", name, len(want["ja4"]))
	}
	if checked == 0 {
		need.NoCorpus(t, "no Arkime JA4 expectations found in the shared corpus (%q)", pcaps)
	}
}

// TestHandshakeTypeAgainstTshark compares, for every TCP segment of the TLS
// captures, the first handshake type tshark 4.0 shows (TCP reassembly and
// sequence analysis off) with the one Parse reports for a clear-text
// handshake record held whole: a hello after an Alert or ChangeCipherSpec
// record counts, an encrypted handshake record (Finished, renegotiation) or
// a record cut at the segment end does not.
//
// stateful lists the frames where tshark goes by the conversation's state:
// retransmitted clear-text handshake records (a ServerHello, a
// ClientKeyExchange) sent again after that direction's ChangeCipherSpec,
// which tshark then takes for encrypted ones.
func TestHandshakeTypeAgainstTshark(t *testing.T) {
	stateful := map[string]bool{}
	for _, n := range []string{"647", "1068", "1179", "1333", "2486", "2818", "2948", "3076"} {
		stateful["nDPI/alexa-app.pcapng#"+n] = true
	}
	var h Hello
	total := 0
	for _, name := range append(tlsCaptures, "nDPI/alexa-app.pcapng", "arkime/pppoe.pcap") {
		file := filepath.Join(pcaps, name)
		if _, err := os.Stat(file); err != nil {
			t.Logf("skip %s: %v", name, err)
			continue
		}
		segs := tcpSegments(t, file)
		rows := tsharkFields(t, file, "-o", "tcp.desegment_tcp_streams:FALSE",
			"-o", "tcp.analyze_sequence_numbers:FALSE", "-T", "fields", "-E", "occurrence=f",
			"-e", "frame.number", "-e", "tls.handshake.type", "-e", "tcp.srcport")
		for _, r := range rows {
			if len(r) < 3 || r[2] == "" {
				continue // not TCP
			}
			n, _ := strconv.Atoi(r[0])
			got := ""
			if h.Parse(segs[n-1].payload) && h.Handshake && !h.Cut {
				got = strconv.Itoa(int(h.HandshakeType))
			}
			if got != r[1] && !stateful[name+"#"+r[0]] {
				t.Errorf("%s frame %d: handshake type %q, tshark %q", name, n, got, r[1])
			}
			total++
		}
	}
	if total == 0 {
		need.NoCorpus(t, "no TLS captures found in the shared corpus (%q)", pcaps)
	}
}
