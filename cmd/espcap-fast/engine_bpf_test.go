package main

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/espcap/espcap-fast/filter"
	"github.com/espcap/espcap-fast/internal/need"
)

// needTcpdump returns tcpdump's path and checks that libpcap loads for the
// filter package; it skips the test otherwise (fails in CI).
func needTcpdump(t *testing.T) string {
	t.Helper()
	needTshark(t)
	if err := filter.Available(); err != nil {
		need.Missing(t, "libpcap not available: %v", err)
	}
	return need.Tool(t, "tcpdump", "Debian: apt-get install tcpdump")
}

// tcpdumpKeep writes the packets of pcap that tcpdump keeps for expr to a
// new capture and returns its name.
func tcpdumpKeep(t *testing.T, tcpdump, pcap, expr string) string {
	t.Helper()
	kept := filepath.Join(t.TempDir(), "kept.pcap")
	if out, err := exec.Command(tcpdump, "-r", pcap, "-w", kept, expr).CombinedOutput(); err != nil {
		t.Fatalf("tcpdump -r %s %q: %v\n%s", pcap, expr, err, out)
	}
	return kept
}

// frameNumberFields are Wireshark's frame-number fields (FT_FRAMENUM) that
// occur in the test captures.
var frameNumberFields = []string{"resp_to", "resp_in", "response_to", "response_in", "request_in", "prev_request_in", "prev_response_in", "next_request_in", "next_response_in"}

// frameNumbers returns the documents' frame numbers in output order.
func frameNumbers(ds []map[string]any) []int {
	var ns []int
	for _, d := range ds {
		ns = append(ns, int(d["frame"].(map[string]any)["number"].(float64)))
	}
	return ns
}

// TestEngineTsharkBPFFile: --bpf on files with the tshark engine keeps the
// packets the native engine keeps, with the file's frame numbers, and
// tshark dissects exactly the packets tcpdump keeps (the documents are
// those of tcpdump's filtered copy, frame numbers aside). Frame-number
// fields point at the original frames.
func TestEngineTsharkBPFFile(t *testing.T) {
	tcpdump := needTcpdump(t)
	for _, tc := range []struct{ file, expr string }{
		{"seed_test_http.pcap", "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0"},
		{"seed_test_http.pcap", "src net 10.0.0.0/8 and greater 600"},
		{"seed_test_dns.pcap", "dst port 53 and udp[10] & 0x80 = 0"},
		{"wireshark_dns+icmp.pcapng", "udp port 53"},
		{"arkime_twovlan.pcap", "vlan and vlan 200"},
		{"zeek_linux_dlt_sll2.pcap", "icmp6"},
	} {
		t.Run(tc.file+"/"+tc.expr, func(t *testing.T) {
			pcap := pcaps + tc.file
			out, errs, code := espcap(t, "-q", "-r", pcap, "--bpf", tc.expr)
			if code != 0 {
				t.Fatalf("native: exit %d: %s", code, errs)
			}
			native := docs(t, out)
			out, errs, code = espcap(t, "-q", "--engine", "tshark", "-r", pcap, "--bpf", tc.expr)
			if code != 0 {
				t.Fatalf("tshark: exit %d: %s", code, errs)
			}
			got := docs(t, out)
			if len(got) == 0 {
				t.Fatal("the filter kept nothing: not a useful case")
			}
			if a, b := frameNumbers(got), frameNumbers(native); !slices.Equal(a, b) {
				t.Fatalf("frame numbers differ from the native engine's:\ntshark %v\nnative %v", a, b)
			}
			kept := tcpdumpKeep(t, tcpdump, pcap, tc.expr)
			out, errs, code = espcap(t, "-q", "--engine", "tshark", "-r", kept)
			if code != 0 {
				t.Fatalf("tshark on tcpdump's copy: exit %d: %s", code, errs)
			}
			want := docs(t, out)
			if len(got) != len(want) {
				t.Fatalf("%d documents, tcpdump keeps %d packets", len(got), len(want))
			}
			byNumber := map[float64]map[string]any{}
			for _, d := range got {
				byNumber[d["frame"].(map[string]any)["number"].(float64)] = d
			}
			orig := frameNumbers(got)
			for i := range got {
				// frame-number fields: tshark's numbers in tcpdump's copy,
				// the original file's in ours
				if l, _ := got[i]["layers"].(map[string]any); l != nil {
					if dns, _ := l["dns"].(map[string]any); dns != nil && dns["response_to"] != nil {
						q := byNumber[dns["response_to"].(float64)]
						if q == nil || q["layers"].(map[string]any)["dns"].(map[string]any)["id"] != dns["id"] {
							t.Errorf("frame %v: dns.response_to %v is not the query's frame", got[i]["frame"].(map[string]any)["number"], dns["response_to"])
						}
					}
				}
				if l, _ := want[i]["layers"].(map[string]any); l != nil {
					for _, layer := range l {
						o, _ := layer.(map[string]any)
						for _, f := range frameNumberFields {
							if n, ok := o[f].(float64); ok && n >= 1 && int(n) <= len(orig) {
								o[f] = float64(orig[int(n)-1])
							}
						}
					}
				}
				if a, b := canon(t, got[i], false), canon(t, want[i], false); a != b {
					t.Fatalf("document %d differs from tshark's for tcpdump's copy:\n--bpf  %.600s\ncopy   %.600s", i+1, a, b)
				}
			}
			t.Logf("%d of the file's packets kept", len(got))
		})
	}
	// a bad expression is a usage error, before tshark runs
	_, errs, code := espcap(t, "-q", "--engine", "tshark", "-r", pcaps+"seed_test_dns.pcap", "--bpf", "udp prot 53")
	if code != 2 || !strings.Contains(errs, "syntax error") {
		t.Errorf("bad filter: exit %d: %s", code, errs)
	}
}
