package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/espcap/espcap-fast/internal/need"
)

// needTshark skips the test when tshark is missing, except in CI (env CI
// set), where it fails.
func needTshark(t *testing.T) {
	t.Helper()
	need.Tshark(t)
}

// runDocs runs the command and returns its documents by file and frame
// number, its stderr and exit status.
func runDocs(t *testing.T, args ...string) (map[string]map[string]any, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	docs := map[string]map[string]any{}
	dec := json.NewDecoder(&out)
	dec.UseNumber()
	for {
		var d map[string]any
		if err := dec.Decode(&d); err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("%v: output is not NDJSON: %v", args, err)
			}
			break
		}
		frame, _ := d["frame"].(map[string]any)
		k := fmt.Sprintf("%v#%v", d["file_name"], frame["number"])
		if _, dup := docs[k]; dup {
			t.Fatalf("%v: two documents for %s", args, k)
		}
		docs[k] = d
	}
	return docs, errb.String(), code
}

// flatten turns a document into dotted paths and their values; arrays
// (repeated layers, repeated fields) become the list of their leaves.
func flatten(prefix string, v any, out map[string][]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(p, c, out)
		}
	case []any:
		for _, c := range x {
			flatten(prefix, c, out)
		}
	default:
		b, _ := json.Marshal(x)
		out[prefix] = append(out[prefix], string(b))
	}
}

// knownDifference is a field where the two engines differ by design
// (docs/SCHEMA.md, "tshark engine"). explained, if set, checks that a
// packet's difference is of the documented kind.
type knownDifference struct {
	why       string
	explained func(native, tshark []string, nd, td map[string]any) bool
}

var knownDifferences = map[string]knownDifference{
	"frame.protocols": {"one engine dissects further: tshark knows more protocols (data, stp, cdp, ...), the native engine's content heuristics find HTTP/TLS where tshark 4.0 shows data",
		func(nv, tv []string, _, _ map[string]any) bool {
			n, t := strings.Trim(nv[0], `"`), strings.Trim(tv[0], `"`)
			t = strings.TrimSuffix(t, ":data")
			return strings.HasPrefix(t+":", n+":") || strings.HasPrefix(n+":", t+":")
		}},
	"protocol": {"one engine dissects further (see frame.protocols)",
		func(nv, tv []string, nd, td map[string]any) bool {
			in := func(d map[string]any, p string) bool {
				return strings.Contains(":"+d["frame"].(map[string]any)["protocols"].(string)+":", ":"+strings.Trim(p, `"`)+":")
			}
			return in(td, nv[0]) || in(nd, tv[0])
		}},
	"event.type": {"follows network.protocol (\"protocol\" when set), which one engine names where the other does not dissect the application",
		func(nv, tv []string, nd, td map[string]any) bool {
			hasProto := func(d map[string]any) bool { n, _ := d["network"].(map[string]any); return n["protocol"] != nil }
			return hasProto(nd) != hasProto(td) && slices.Contains(nv, `"protocol"`) == hasProto(nd) && slices.Contains(tv, `"protocol"`) == hasProto(td)
		}},
	"tags": {"http_head_truncated is the native engine's (tshark tags no cut HTTP head)",
		func(nv, tv []string, _, _ map[string]any) bool {
			return slices.Equal(slices.DeleteFunc(slices.Clone(nv), func(s string) bool { return s == `"http_head_truncated"` }), tv)
		}},
	"layers.tcp.option_kind": {"tshark's EK groups repeated options by kind and lists every EOL byte; the native list is in wire order up to the first EOL",
		func(nv, tv []string, _, _ map[string]any) bool {
			n, t := slices.Clone(nv), slices.Clone(tv)
			slices.Sort(n)
			slices.Sort(t)
			return slices.Equal(slices.Compact(n), slices.Compact(t))
		}},
	"layers.tls.record_content_type": {"tshark lists every TLS record of the segment, the native engine the first", firstOf},
	"layers.tls.record_version":      {"tshark lists every TLS record of the segment, the native engine the first", firstOf},
	"layers.tls.handshake_type":      {"tshark lists every TLS record of the segment, the native engine the first", firstOf},
	"layers.dhcp.hw_type":            {"Wireshark also names the hardware type and address of the client identifier option dhcp.hw.*", firstOf},
	"layers.dhcp.hw_mac_addr":        {"Wireshark also names the hardware type and address of the client identifier option dhcp.hw.*", firstOf},
	"layers.http.request_version": {"a request line with extra words (\"GET /Hello Arkime HTTP/1.0\"): Wireshark keeps them in the version",
		func(nv, tv []string, _, _ map[string]any) bool {
			return len(nv) == 1 && len(tv) == 1 && strings.HasSuffix(tv[0], " "+strings.Trim(nv[0], `"`)+`"`)
		}},
}

// firstOf explains a difference where tshark lists more values than the
// native engine, which gives the first.
func firstOf(nv, tv []string, _, _ map[string]any) bool {
	return len(nv) == 1 && len(tv) > 1 && (tv[0] == nv[0] || slices.Contains(tv, nv[0]))
}

// tags returns a document's tags.
func tags(d map[string]any) []string {
	var out []string
	l, _ := d["tags"].([]any)
	for _, t := range l {
		out = append(out, fmt.Sprint(t))
	}
	return out
}

func TestEngineAgreement(t *testing.T) {
	needTshark(t)
	dir := filepath.Join("..", "..", "testdata", "pcaps")
	native, nerr, ncode := runDocs(t, "-q", "--workers", "2", "--dir", dir)
	tshark, terr, tcode := runDocs(t, "-q", "--workers", "2", "--engine", "tshark", "--dir", dir)
	t.Logf("native: %d documents, exit %d %s", len(native), ncode, nerr)
	t.Logf("tshark: %d documents, exit %d %s", len(tshark), tcode, terr)
	if len(tshark) == 0 {
		t.Fatal("no tshark documents")
	}
	type diff struct {
		n       int
		example string
	}
	diffs := map[string]*diff{}
	compared := map[string]int{}
	nativeOnly := map[string]int{}
	packets, agree, agreeExplained := 0, 0, 0
	for k, nd := range native {
		td, ok := tshark[k]
		if !ok {
			diffs["(document missing)"] = &diff{n: 1, example: k}
			continue
		}
		packets++
		nf, tf := map[string][]string{}, map[string][]string{}
		flatten("", nd, nf)
		flatten("", td, tf)
		same, explained := true, true
		for p, nv := range nf {
			tv, ok := tf[p]
			if !ok {
				nativeOnly[p]++
				continue
			}
			compared[p]++
			if slices.Equal(nv, tv) {
				continue
			}
			same = false
			if kd, known := knownDifferences[p]; known && (kd.explained == nil || kd.explained(nv, tv, nd, td)) {
				p += " (known)"
			} else {
				explained = false
				if os.Getenv("ENGINE_DIFFS") != "" {
					t.Logf("DIFF %s %s: native %v tshark %v", k, p, nv, tv)
				}
			}
			d := diffs[p]
			if d == nil {
				d = &diff{example: fmt.Sprintf("%s: native %v, tshark %v", k, nv, tv)}
				diffs[p] = d
			}
			d.n++
		}
		if same {
			agree++
		}
		if explained {
			agreeExplained++
		}
	}
	var names []string
	for p := range diffs {
		names = append(names, p)
	}
	sort.Strings(names)
	var unexplained []string
	for _, p := range names {
		d := diffs[p]
		base, _ := strings.CutSuffix(p, " (known)")
		line := fmt.Sprintf("%-45s %5d of %5d packets differ, e.g. %s", p, d.n, compared[base], d.example)
		if base != p {
			t.Logf("known: %s\n\t\t%s", line, knownDifferences[base].why)
		} else {
			unexplained = append(unexplained, line)
		}
	}
	t.Logf("%d packets in both engines' output: %d agree on every field both write, %d more differ only in the documented ways (%d field paths compared)",
		packets, agree, agreeExplained-agree, len(compared))
	if testing.Verbose() {
		var only []string
		for p, n := range nativeOnly {
			only = append(only, fmt.Sprintf("%s (%d)", p, n))
		}
		sort.Strings(only)
		t.Logf("fields only the native engine writes: %s", strings.Join(only, ", "))
	}
	if len(unexplained) > 0 {
		t.Errorf("fields where the engines disagree:\n%s", strings.Join(unexplained, "\n"))
	}
}

// TestEngineTsharkUnknownProtocols: protocols the native engine does not
// decode come out with their Wireshark fields under layers.
func TestEngineTsharkUnknownProtocols(t *testing.T) {
	needTshark(t)
	dir := filepath.Join("..", "..", "testdata", "pcaps")
	cases := []struct {
		file, layer, field string
		want               any // a value of the field in some packet; nil: present
	}{
		{"wireshark_smb311-aes-128-gcm.pcap", "smb2", "cmd", json.Number("1")}, // SESSION_SETUP
		{"wireshark_sip.pcapng", "sip", "Method", "INVITE"},
		{"wireshark_sip.pcapng", "sip", "Status-Code", json.Number("200")},
		{"arkime_quicietf.pcap", "quic", "long_packet_type", json.Number("0")},
		{"arkime_quicietf.pcap", "tls", "handshake_extensions_server_name", nil}, // TLS inside QUIC: a layer of its own
		{"zeek_q-in-q.pcap", "bacnet", "version", json.Number("1")},              // ICS: BACnet
	}
	var args []string
	for _, c := range cases {
		if f := filepath.Join(dir, c.file); !slices.Contains(args, f) {
			args = append(args, "-r", f)
		}
	}
	docs, errs, code := runDocs(t, append([]string{"-q", "--engine", "tshark"}, args...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, c := range cases {
		found := false
		protocols := map[string]bool{}
		for k, d := range docs {
			if !strings.Contains(k, c.file) {
				continue
			}
			protocols[fmt.Sprint(d["protocol"])] = true
			l, _ := d["layers"].(map[string]any)
			var objs []any
			switch x := l[c.layer].(type) {
			case map[string]any:
				objs = []any{x}
			case []any:
				objs = x
			}
			for _, o := range objs {
				vals := map[string][]string{}
				flatten("", o, vals)
				v, ok := vals[c.field]
				if ok && (c.want == nil || slices.Contains(v, mustJSON(c.want))) {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("%s: no packet with layers.%s.%s = %v (protocols %v)", c.file, c.layer, c.field, c.want, protocols)
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// writeScript writes an executable shell script.
func writeScript(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEngineTsharkMissingOrOld(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"-q", "--engine", "tshark", "--tshark", "/nonexistent/tshark", "-r", "x.pcap"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "tshark not found") {
		t.Errorf("missing tshark: exit %d, stderr %q", code, errb.String())
	}
	old := writeScript(t, "tshark", `echo "TShark (Wireshark) 2.6.10 (Git v2.6.10 packaged as 2.6.10-1)"`+"\n")
	errb.Reset()
	code = run([]string{"-q", "--engine", "tshark", "--tshark", old, "-r", "x.pcap"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "is tshark 2.6.10, the tshark engine needs 3.6.0 or later") {
		t.Errorf("old tshark: exit %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	code = run([]string{"-q", "--engine", "wireshark", "-r", "x.pcap"}, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "use native or tshark") {
		t.Errorf("bad engine: exit %d, stderr %q", code, errb.String())
	}
	// live: dumpcap's own error, with its exit status
	needTshark(t)
	errb.Reset()
	code = run([]string{"-q", "--engine", "tshark", "-i", "no-such-if9"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "dumpcap failed (exit status 1)") || !strings.Contains(errb.String(), "no-such-if9") {
		t.Errorf("live on a missing interface: exit %d, stderr %q", code, errb.String())
	}
}

// TestEngineTsharkFailures: a tshark that dies mid-file and a damaged
// capture are reported with the file name, tshark's exit status and
// message; the packets before the failure and the other files are kept.
func TestEngineTsharkFailures(t *testing.T) {
	needTshark(t)
	real, _ := exec.LookPath("tshark")
	dir := t.TempDir()
	src := filepath.Join("..", "..", "testdata", "pcaps")
	good := filepath.Join(src, "seed_test_dns.pcap")
	// a capture cut in the middle of a packet
	b, err := os.ReadFile(filepath.Join(src, "seed_test_http.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.pcap")
	os.WriteFile(cut, b[:3000], 0o644)
	// a file for which the fake tshark dies after two packets
	die := filepath.Join(dir, "die.pcap")
	os.WriteFile(die, b, 0o644)
	fake := writeScript(t, "tshark", `case "$*" in
*die.pcap*) "`+real+`" "$@" 2>/dev/null | head -n 4; printf '{"timestamp":"1","lay'; echo "fake tshark: crashed" >&2; exit 3;;
esac
exec "`+real+`" "$@"
`)
	_, goodErr, _ := runDocs(t, "-q", "--engine", "tshark", "-r", good)
	goodDocs, _, _ := runDocs(t, "-q", "--engine", "tshark", "-r", good)
	if len(goodDocs) == 0 {
		t.Fatalf("no documents from %s: %s", good, goodErr)
	}
	docs, errs, code := runDocs(t, "-q", "--engine", "tshark", "--tshark", fake, "--workers", "2", "-r", die, "-r", cut, "-r", good)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	count := func(name string) int {
		n := 0
		for k := range docs {
			if strings.HasPrefix(k, name+"#") {
				n++
			}
		}
		return n
	}
	if n := count(die); n != 2 {
		t.Errorf("%s: %d documents, want the 2 before tshark died", die, n)
	}
	if n := count(cut); n == 0 {
		t.Errorf("%s: the packets before the damage are lost", cut)
	}
	if n := count(good); n != len(goodDocs) {
		t.Errorf("%s: %d documents, want %d", good, n, len(goodDocs))
	}
	for _, want := range []string{
		die + ": tshark output ends inside line 5 (tshark: fake tshark: crashed)",
		cut + ": tshark failed (exit status 2)",
		"cut short in the middle of a packet",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	// the documents keep file order
	var order []string
	var out bytes.Buffer
	run([]string{"-q", "--engine", "tshark", "--tshark", fake, "--workers", "2", "-r", die, "-r", cut, "-r", good}, &out, io.Discard)
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var d struct {
			File string `json:"file_name"`
		}
		json.Unmarshal([]byte(line), &d)
		if len(order) == 0 || order[len(order)-1] != d.File {
			order = append(order, d.File)
		}
	}
	if !slices.Equal(order, []string{die, cut, good}) {
		t.Errorf("documents in file order %v", order)
	}
}

// TestEngineTsharkCount: --count cuts across files, exactly.
func TestEngineTsharkCount(t *testing.T) {
	needTshark(t)
	src := filepath.Join("..", "..", "testdata", "pcaps")
	docs, errs, code := runDocs(t, "-q", "--engine", "tshark", "-c", "5", "-r", filepath.Join(src, "wireshark_sip.pcapng"), "-r", filepath.Join(src, "seed_test_dns.pcap"))
	if code != 0 || len(docs) != 5 {
		t.Errorf("exit %d, %d documents, want 5: %s", code, len(docs), errs)
	}
}
