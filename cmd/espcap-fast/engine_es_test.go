package main

// Integration test of --engine tshark --node: captures with many protocols
// the native engine does not know go into a real server without a rejected
// document and without blowing up the mapping (docs/SCHEMA.md, "Index
// template": unknown layers are one flattened/flat_object field each).

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/espcap/espcap-fast/internal/estest"
)

// sharedPcaps is the shared capture corpus beside the checkout.
const sharedPcaps = "../../../shared/pcaps"

// broadShared are captures of the shared corpus with protocols the native
// engine does not know (SMB1/2, DCE/RPC, SIP, QUIC, gQUIC, PFCP, SS7 M3UA,
// STUN, SSH, HTTP/2, 802.11 + EAPOL, netperfmeter + DCCP, STP/CDP/PIM), none
// of them a copy of a file in testdata/pcaps.
var broadShared = []string{
	"zeek/smb/smb2.pcap", "arkime/smb-smbclient.pcap", "zeek/smb/smb1.pcap", "zeek/dce-rpc/mapi.pcap",
	"zeek/sip/wireshark.pcap", "nDPI/sip.pcap",
	"tcpdump/quic_handshake.pcap", "wireshark/quic-fragmented-handshakes.pcapng", "zeek/quic/quicv2-http3-443.pcap", "nDPI/youtube_quic.pcap",
	"scapy/pfcp.pcap", "tcpdump/isup.pcap", "arkime/stun.pcap", "tcpdump/ssh.pcap", "wireshark/http2-data-reassembly.pcap",
	"wireshark/wpa-Induction.pcap", "wireshark/netperfmeter.pcapng", "tcpdump/various_gre.pcap", "wireshark/communityid.pcap",
	"tcpdump/edns-opts.pcap", "tcpdump/dhcp-rfc3004.pcap", "zeek/dhcp/dhcp.pcap",
}

// TestEngineTsharkIndexBroad imports testdata/pcaps and a broad set of the
// shared captures with --engine tshark into the server at ESPCAP_ES_URL and
// checks: no dead letters, every packet indexed, searches on fields of
// unknown layers (SMB2, SIP, QUIC, BACnet, PFCP) find exactly the packets
// tshark's display filter finds, unknown layers are mapped as one field
// each, and the mapping stays far below the total-fields limit.
func TestEngineTsharkIndexBroad(t *testing.T) {
	needTshark(t)
	base := estest.URL(t)
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "pcaps", "*"))
	if _, err := os.Stat(sharedPcaps); err == nil {
		for _, f := range broadShared {
			files = append(files, filepath.Join(sharedPcaps, f))
		}
	} else if os.Getenv("CI") != "" {
		t.Fatalf("the shared captures are required in CI: %v", err)
	} else {
		t.Logf("no shared captures at %s: testdata/pcaps only", sharedPcaps)
	}
	// Document IDs come from the capture's content, so a file whose bytes
	// are already in the list (testdata holds copies of shared captures)
	// would only add duplicates: import each content once.
	seen := map[[32]byte]bool{}
	uniq := files[:0]
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(b); !seen[sum] {
			seen[sum] = true
			uniq = append(uniq, f)
		}
	}
	files = uniq
	var packets int
	for _, f := range files {
		packets += tsharkCount(t, f)
	}

	prefix := testPrefix(t, base, "tshark")
	dl := filepath.Join(t.TempDir(), "dead.ndjson")
	args := []string{"--engine", "tshark", "--workers", "2", "--node", base, "--index-prefix", prefix,
		"--dead-letter", dl, "--stats-interval", "0"}
	for _, f := range files {
		args = append(args, "-r", f)
	}
	_, errs, code := espcap(t, args...)
	t.Logf("import of %d files, %d packets:\n%s", len(files), packets, lastLineWith(errs, "indexed:"))
	if code != 0 {
		t.Fatalf("import: exit %d:\n%s", code, errs)
	}
	if b, err := os.ReadFile(dl); err == nil {
		t.Fatalf("dead letters:\n%.3000s", b)
	}
	if want := fmt.Sprintf("%d packets read, %d docs indexed, 0 duplicates, 0 retried, 0 dead-lettered", packets, packets); !strings.Contains(errs, want) {
		t.Errorf("summary does not say %q:\n%s", want, errs)
	}
	refresh(t, base, prefix)
	if n := countIn(t, base, prefix+"*"); n != packets {
		t.Errorf("%d documents in %s*, want %d (every packet)", n, prefix, packets)
	}

	// Searches on unknown-layer fields against tshark's display filter.
	for _, c := range []struct {
		query, filter string
		in            *regexp.Regexp // the files that can have such packets
	}{
		{`layers.smb2.cmd:5`, `smb2.cmd == 5`, regexp.MustCompile(`smb|mapi`)},
		{`layers.sip.Method:INVITE`, `sip.Method == "INVITE"`, regexp.MustCompile(`sip|wireshark\.pcap`)},
		{`layers.sip.Status-Code:200`, `sip.Status-Code == 200`, regexp.MustCompile(`sip|wireshark\.pcap`)},
		{`layers.quic.long_packet_type:0`, `quic.long.packet_type == 0`, regexp.MustCompile(`quic`)},
		{`layers.bacnet.version:1`, `bacnet.version == 1`, regexp.MustCompile(`q-in-q`)},
		{`layers.pfcp.msg_type:50`, `pfcp.msg_type == 50`, regexp.MustCompile(`pfcp`)},
	} {
		var want []pkt
		for _, f := range files {
			if c.in.MatchString(filepath.Base(f)) {
				for _, n := range tsharkFrames(t, f, c.filter) {
					want = append(want, pkt{filepath.Base(f), n})
				}
			}
		}
		got := queryKeys(t, base, prefix, c.query)
		if len(want) == 0 {
			t.Errorf("%s: tshark finds no packet: test captures changed?", c.filter)
		}
		if !sameKeys(got, want) {
			t.Errorf("query %s: %d packets %v, tshark -Y '%s': %d packets %v", c.query, len(got), sortedKeys(got), c.filter, len(want), sortedKeys(want))
		} else {
			t.Logf("query %s: %d packets, as tshark", c.query, len(got))
		}
	}

	// The mapping: unknown layers one field each, total far below the limit.
	st, b := esCall(t, base, http.MethodGet, "/"+prefix+"*/_mapping", nil)
	if st != http.StatusOK {
		t.Fatalf("mapping: HTTP %d %s", st, b)
	}
	var mappings map[string]struct {
		Mappings struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"mappings"`
	}
	if err := json.Unmarshal(b, &mappings); err != nil {
		t.Fatal(err)
	}
	union := map[string]string{}
	maxIndex, maxName := 0, ""
	for name, m := range mappings {
		fields := map[string]string{}
		mappedFields(t, "", m.Mappings.Properties, fields)
		if len(fields) > maxIndex {
			maxIndex, maxName = len(fields), name
		}
		for k, v := range fields {
			union[k] = v
		}
	}
	flat := 0
	// (sip is a native layer now, mapped field by field; its queries
	// above still agree with tshark)
	for _, l := range []string{"smb2", "stun", "pfcp", "wlan", "netperfmeter", "bacnet"} {
		switch typ := union["layers."+l]; typ {
		case "flattened", "flat_object":
			flat++
		default:
			t.Errorf("layers.%s is mapped as %q, want flattened (Elasticsearch) or flat_object (OpenSearch)", l, typ)
		}
	}
	unknown := 0
	for _, typ := range union {
		if typ == "flattened" || typ == "flat_object" {
			unknown++
		}
	}
	// 5000 is the limit (espcap-fast-settings.json); all these captures in
	// one daily index must leave most of it free.
	const limit, budget = 5000, 2000
	t.Logf("mapping: %d fields over %d indices (the largest, %s: %d), %d of them flattened unknown layers",
		len(union), len(mappings), maxName, maxIndex, unknown)
	if len(union) > budget {
		t.Errorf("the union of the mappings has %d fields, more than %d (the limit is %d)", len(union), budget, limit)
	}
}

// mappedFields adds the fields of a mapping's properties to out, by path,
// counted as the total-fields limit counts them: objects, leaves and
// multi-fields.
func mappedFields(t *testing.T, prefix string, props map[string]json.RawMessage, out map[string]string) {
	t.Helper()
	for k, raw := range props {
		var f struct {
			Type       string                     `json:"type"`
			Properties map[string]json.RawMessage `json:"properties"`
			Fields     map[string]json.RawMessage `json:"fields"`
		}
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatal(err)
		}
		p := prefix + k
		if f.Type == "" {
			f.Type = "object"
		}
		out[p] = f.Type
		mappedFields(t, p+".", f.Properties, out)
		for sub := range f.Fields {
			out[p+"."+sub] = "multi-field"
		}
	}
}

// tsharkArgs are the engine's dissection options (tsharkek.DefaultArgs).
var tsharkArgs = []string{"-n", "-o", "tcp.desegment_tcp_streams:FALSE", "-o", "ip.defragment:FALSE",
	"-o", "ipv6.defragment:FALSE", "-o", "tcp.analyze_sequence_numbers:FALSE"}

// tsharkFrames returns the numbers of the frames of file that match a
// display filter.
func tsharkFrames(t *testing.T, file, filter string) []int {
	t.Helper()
	args := append(append([]string(nil), tsharkArgs...), "-r", file, "-Y", filter, "-T", "fields", "-e", "frame.number")
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark -r %s -Y %q: %v", file, filter, err)
	}
	var ns []int
	for _, l := range strings.Fields(string(out)) {
		n, err := strconv.Atoi(l)
		if err != nil {
			t.Fatalf("tshark -r %s: frame number %q", file, l)
		}
		ns = append(ns, n)
	}
	return ns
}

// tsharkCount returns the number of packets in file as capinfos counts
// them (the packets tshark reads).
func tsharkCount(t *testing.T, file string) int {
	t.Helper()
	out, err := exec.Command("capinfos", "-c", "-M", "-T", "-r", file).Output()
	if err != nil {
		t.Fatalf("capinfos %s: %v", file, err)
	}
	f := strings.Split(strings.TrimSpace(string(out)), "\t")
	n, err := strconv.Atoi(f[len(f)-1])
	if err != nil {
		t.Fatalf("capinfos %s: %q", file, out)
	}
	return n
}
