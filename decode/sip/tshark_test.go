package sip

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/espcap/espcap-fast/internal/need"
	"github.com/espcap/espcap-fast/internal/testpcap"
)

// sipCaptures are the captures with SIP: testdata's, then the shared
// corpus's (INDEX.md).
var sipCaptures = []string{
	"../../testdata/pcaps/wireshark_sip.pcapng",
	filepath.Join(testpcap.SharedDir(), "zeek/sip/wireshark.pcap"),
	filepath.Join(testpcap.SharedDir(), "nDPI/sip.pcap"),
}

// TestAgainstTshark compares Parse with tshark on every frame where tshark
// shows a SIP request or response: the start line, Method, r-uri,
// Status-Code, Call-ID, From/To and their addresses, CSeq and its parts,
// User-Agent and Contact must agree exactly; and Parse accepts no frame
// tshark does not show as SIP.
func TestAgainstTshark(t *testing.T) {
	need.Tshark(t)
	fields := []string{"frame.number", "sip.Request-Line", "sip.Status-Line", "sip.Method", "sip.r-uri", "sip.Status-Code",
		"sip.Call-ID", "sip.From", "sip.from.addr", "sip.To", "sip.to.addr", "sip.CSeq", "sip.CSeq.seq", "sip.CSeq.method",
		"sip.User-Agent", "sip.Contact"}
	total := 0
	for _, file := range sipCaptures {
		if _, err := os.Stat(file); err != nil {
			if strings.HasPrefix(file, "../../testdata") {
				t.Fatal(err)
			}
			continue
		}
		args := []string{"-n", "-r", file, "-E", "occurrence=f", "-T", "fields"}
		for _, f := range fields {
			args = append(args, "-e", f)
		}
		out, err := exec.Command("tshark", args...).Output()
		if err != nil {
			t.Fatalf("tshark %s: %v", file, err)
		}
		payloads := payloads(t, file)
		seen := map[int]bool{}
		compared := 0
		for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
			r := strings.Split(line, "\t")
			for len(r) < len(fields) {
				r = append(r, "")
			}
			n, _ := strconv.Atoi(r[0])
			if r[1] == "" && r[2] == "" {
				continue
			}
			seen[n] = true
			compared++
			var m Message
			if n-1 >= len(payloads) || m.Parse(payloads[n-1]) != nil {
				t.Errorf("%s frame %d: tshark sees %q%q, Parse rejects", file, n, r[1], r[2])
				continue
			}
			code, seq := "", ""
			if m.StatusCode > 0 {
				code = strconv.Itoa(m.StatusCode)
			}
			if m.CSeqSeq >= 0 {
				seq = strconv.FormatInt(m.CSeqSeq, 10)
			}
			got := []string{string(m.RequestLine), string(m.StatusLine), string(m.Method), string(m.RequestURI), code,
				string(m.CallID), string(m.From), string(m.FromAddr), string(m.To), string(m.ToAddr), string(m.CSeq), seq, string(m.CSeqMethod),
				string(m.UserAgent), string(m.Contact)}
			for i, g := range got {
				if g != r[i+1] {
					t.Errorf("%s frame %d: %s %q, tshark %q", file, n, fields[i+1], g, r[i+1])
				}
			}
		}
		for i, p := range payloads {
			var m Message
			if !seen[i+1] && m.Parse(p) == nil {
				t.Errorf("%s frame %d: Parse accepts a message tshark does not show as SIP: %q", file, i+1, m.RequestLine)
			}
		}
		t.Logf("%s: %d SIP messages compared", file, compared)
		total += compared
	}
	if total < 80 {
		need.NoCorpus(t, "only %d SIP messages compared (shared corpus at %q)", total, testpcap.SharedDir())
	}
}

// payloads returns the UDP or TCP payload of each frame (nil if none),
// indexed by frame number - 1.
func payloads(t *testing.T, file string) [][]byte {
	t.Helper()
	pkts, err := testpcap.Gopacket(file)
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]byte, len(pkts))
	for i, p := range pkts {
		if l, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP); ok {
			out[i] = l.Payload
		} else if l, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok {
			out[i] = l.Payload
		}
	}
	return out
}
