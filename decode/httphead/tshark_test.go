package httphead

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

// pcaps is the shared capture corpus beside the checkout.
var pcaps = testpcap.SharedDir()

// tsharkFields runs tshark over file and returns the tab separated fields of
// each output line (first occurrence of each field only).
func tsharkFields(t *testing.T, file string, args ...string) [][]string {
	t.Helper()
	need.Tshark(t)
	out, err := exec.Command("tshark", append([]string{"-n", "-r", file, "-E", "occurrence=f"}, args...)...).Output()
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

// tcpPayloads returns the TCP payload of each frame (nil if none), indexed
// by frame number - 1.
func tcpPayloads(t *testing.T, file string) [][]byte {
	t.Helper()
	pkts, err := readCapture(file)
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]byte, len(pkts))
	for i, p := range pkts {
		if l, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok {
			out[i] = l.Payload
		}
	}
	return out
}

var httpCaptures = []string{
	"seed/test_http.pcap",
	"wireshark/http.pcap",
	"arkime/http-simple-get.pcap",
	"arkime/http-301-get.pcap",
	"zeek/http/methods.pcap",
	"zeek/http/pipelined-requests.pcap",
	"chrissanders/http_google.pcapng",
	"chrissanders/http_post.pcapng",
	"arkime/v6-http.pcap",
	"zeek/http/http_09.pcap",
}

// TestAgainstTshark compares Parse with tshark 4.0 (TCP reassembly off) on
// every frame of the captures: for every frame where tshark shows an HTTP
// request or response, method, URI, Host, status code, User-Agent and
// Content-Type must agree exactly.
func TestAgainstTshark(t *testing.T) {
	var m Message
	total := 0
	for _, name := range httpCaptures {
		file := filepath.Join(pcaps, name)
		if _, err := os.Stat(file); err != nil {
			t.Logf("skip %s: %v", name, err)
			continue
		}
		payloads := tcpPayloads(t, file)
		rows := tsharkFields(t, file, "-o", "tcp.desegment_tcp_streams:FALSE", "-T", "fields",
			"-e", "frame.number", "-e", "http.request.method", "-e", "http.request.uri", "-e", "http.host",
			"-e", "http.user_agent", "-e", "http.response.code", "-e", "http.content_type")
		seen := map[int]bool{}
		compared, extra := 0, 0
		for _, r := range rows {
			for len(r) < 7 {
				r = append(r, "")
			}
			n, _ := strconv.Atoi(r[0])
			if r[1] == "" && r[5] == "" {
				continue
			}
			seen[n] = true
			compared++
			if n-1 >= len(payloads) || !m.Parse(payloads[n-1]) {
				t.Errorf("%s frame %d: tshark sees %q %q %q, Parse rejects", name, n, r[1], r[2], r[5])
				continue
			}
			code := ""
			if m.Response {
				code = strconv.Itoa(m.StatusCode)
			}
			check := func(field, got, want string) {
				if got != want {
					t.Errorf("%s frame %d: %s %q, tshark %q", name, n, field, got, want)
				}
			}
			check("method", string(m.Method), r[1])
			check("uri", string(m.URI), r[2])
			check("host", string(m.Host), r[3])
			check("user-agent", string(m.UserAgent), r[4])
			check("code", code, r[5])
			check("content-type", string(m.ContentType), r[6])
		}
		for i, p := range payloads {
			if !seen[i+1] && m.Parse(p) {
				extra++
				t.Logf("%s frame %d: Parse accepts a message tshark does not show: %q", name, i+1, firstLine(p))
			}
		}
		total += compared
		t.Logf("%s: %d HTTP frames compared, %d extra", name, compared, extra)
	}
	if total == 0 {
		need.NoCorpus(t, "no HTTP captures found in the shared corpus (%q)", pcaps)
	}
}

func firstLine(p []byte) string {
	if i := strings.IndexByte(string(p), '\n'); i >= 0 {
		p = p[:i]
	}
	if len(p) > 60 {
		p = p[:60]
	}
	return string(p)
}
