package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/espcap/espcap-fast/filter"
	"github.com/espcap/espcap-fast/internal/need"
	"github.com/espcap/espcap-fast/internal/statedir"
)

// espcap runs the command in-process and returns stdout, stderr and the
// exit status.
func espcap(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	if os.Getenv(statedir.Env) == "" {
		// a default dead-letter file, or other state, stays in the test
		t.Setenv(statedir.Env, t.TempDir())
	}
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return out.String(), errb.String(), code
}

// docs parses NDJSON output, failing on anything that is not one JSON
// object per line.
func docs(t *testing.T, out string) []map[string]any {
	t.Helper()
	var ds []map[string]any
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		var d map[string]any
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("line %d is not JSON: %v: %.200s", i+1, err, line)
		}
		ds = append(ds, d)
	}
	return ds
}

// oracleCount returns how many packets tshark read from a shared capture, from
// its oracle file, or -1 when the shared corpus is absent.
func oracleCount(t *testing.T, rel string) int {
	b, err := os.ReadFile(filepath.Join("../../../shared/pcaps/oracle", rel+".tsv"))
	if err != nil {
		return -1
	}
	n := strings.Count(string(b), "\n")
	if strings.HasPrefix(string(b), "frame\t") {
		n--
	}
	return n
}

const sample = "../../testdata/pcaps/seed_test_http.pcap"

func TestFileToStdout(t *testing.T) {
	out, errs, code := espcap(t, "--file="+sample)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	ds := docs(t, out)
	if len(ds) != 1268 {
		t.Fatalf("%d documents, want 1268 (the capture's packets)", len(ds))
	}
	for i, d := range ds {
		if n := d["frame"].(map[string]any)["number"].(float64); int(n) != i+1 {
			t.Fatalf("document %d has frame.number %v: output is not in capture order", i+1, n)
		}
		for _, k := range []string{"@timestamp", "sniff_timestamp", "sniff_date_utc", "file_name", "file_date_utc", "protocol", "layers"} {
			if _, ok := d[k]; !ok {
				t.Fatalf("document %d has no %s", i+1, k)
			}
		}
	}
	if !strings.Contains(errs, "1268 packets read, 1268 documents written") {
		t.Errorf("summary missing or wrong: %q", errs)
	}
}

func TestCountIsExact(t *testing.T) {
	for _, workers := range []string{"1", "2", "7"} {
		for _, n := range []int{1, 255, 256, 257, 1000} {
			out, errs, code := espcap(t, "-q", "--workers="+workers, "-c", strconv.Itoa(n), "-r", sample)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			if got := len(docs(t, out)); got != n {
				t.Errorf("workers=%s -c %d: %d documents", workers, n, got)
			}
		}
	}
	// across files: the count runs over all of them
	out, _, _ := espcap(t, "-q", "-c", "1300", "-r", sample, "-r", "../../testdata/pcaps/seed_test_dns.pcap")
	ds := docs(t, out)
	if len(ds) != 1300 || ds[1299]["file_name"] != "../../testdata/pcaps/seed_test_dns.pcap" {
		t.Errorf("-c 1300 over two files: %d documents", len(ds))
	}
}

func TestDirReadsInNameOrderAndGoesOnAfterDamage(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, "../../testdata/pcaps/wireshark_dhcp.pcap", filepath.Join(dir, "c.pcap"))
	copyFile(t, "../../testdata/malformed/brimcap-malformed_extra.pcapng", filepath.Join(dir, "b.pcapng"))
	copyFile(t, "../../testdata/pcaps/wireshark_http.pcap", filepath.Join(dir, "a.pcap"))
	os.WriteFile(filepath.Join(dir, "README.txt"), []byte("not a capture"), 0o644)
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	copyFile(t, "../../testdata/pcaps/wireshark_ntp.pcap", filepath.Join(sub, "d.pcap"))

	out, errs, code := espcap(t, "--dir="+dir)
	if code != 1 {
		t.Errorf("exit %d with a damaged file, want 1", code)
	}
	// the damage is reported with file name and byte offset
	if !regexp.MustCompile(`b\.pcapng: offset \d+: `).MatchString(errs) {
		t.Errorf("no error naming b.pcapng and an offset: %q", errs)
	}
	if !strings.Contains(errs, "skipped") || !strings.Contains(errs, "README.txt") {
		t.Errorf("README.txt not reported as skipped: %q", errs)
	}
	var files []string
	for _, d := range docs(t, out) {
		f := filepath.Base(d["file_name"].(string))
		if len(files) == 0 || files[len(files)-1] != f {
			files = append(files, f)
		}
	}
	want := []string{"a.pcap", "b.pcapng", "c.pcap"}
	if strings.Join(files, ",") != strings.Join(want, ",") {
		t.Errorf("files in output %v, want %v (name order, packets before the damage kept, next file read, no recursion)", files, want)
	}
	if n := oracleCount(t, "brimcap-malformed/extra.pcapng"); n >= 0 {
		got := strings.Count(out, `"file_name":"`+filepath.Join(dir, "b.pcapng")+`"`)
		if got != n {
			t.Errorf("b.pcapng: %d documents before the damage, tshark read %d packets", got, n)
		}
	}
	if !strings.Contains(errs, "1 subdirectories not read (--recursive reads them)") {
		t.Errorf("the subdirectory left out is not mentioned: %q", errs)
	}
	out, errs, _ = espcap(t, "--dir="+dir, "--recursive", "-q")
	if !strings.Contains(out, "sub/d.pcap") || strings.Contains(errs, "subdirectories") {
		t.Errorf("--recursive did not read sub/d.pcap (or still notes subdirectories): %q", errs)
	}

	// many files that are not captures: three named, the rest counted, and
	// the real error listed again at the end
	for i := range 20 {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("notes-%02d.txt", i)), []byte("text"), 0o644)
	}
	_, errs, code = espcap(t, "--dir="+dir)
	lines := strings.Split(strings.TrimSpace(errs), "\n")
	if n := strings.Count(errs, ": not a capture file"); code != 1 || n != 3 {
		t.Errorf("exit %d, %d skipped files named one by one, want 1 and 3:\n%s", code, n, errs)
	}
	if !strings.Contains(errs, "skipped 21 files that are not capture files") {
		t.Errorf("no count of the skipped files:\n%s", errs)
	}
	if len(lines) < 2 || !strings.Contains(lines[len(lines)-2], "b.pcapng: offset") {
		t.Errorf("the damaged file is not listed again at the end:\n%s", errs)
	}
}

// TestMalformedCaptures reads every malformed capture: never a panic, a
// damaged file is reported with its name and offset, and malformed packets
// are indexed as far as they decode, flagged.
func TestMalformedCaptures(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/malformed/*")
	if len(files) == 0 {
		t.Fatal("no malformed captures in testdata/malformed")
	}
	flagged := 0
	for _, f := range files {
		out, errs, code := espcap(t, "-q", "-r", f, "-r", "../../testdata/pcaps/wireshark_http.pcap")
		ds := docs(t, out)
		if len(ds) == 0 || ds[len(ds)-1]["file_name"] != "../../testdata/pcaps/wireshark_http.pcap" {
			t.Errorf("%s: the next file was not read", f)
		}
		if code != 0 && !regexp.MustCompile(regexp.QuoteMeta(filepath.Base(f))+`: offset \d+`).MatchString(errs) {
			t.Errorf("%s: exit %d without an error naming the file and offset: %q", f, code, errs)
		}
		for _, d := range ds {
			if tags, ok := d["tags"].([]any); ok {
				for _, tg := range tags {
					if tg == "malformed" {
						flagged++
						if _, ok := d["error"]; !ok {
							t.Errorf("%s: malformed document without error.message", f)
						}
					}
				}
			}
		}
	}
	if flagged == 0 {
		t.Error("no malformed packet was flagged in the whole malformed corpus")
	}
}

func TestCompressedAndStdin(t *testing.T) {
	plain, _, _ := espcap(t, "-q", "-r", sample)
	raw, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	os.WriteFile(filepath.Join(dir, "x.pcap.bin"), gz.Bytes(), 0o644)
	var zs bytes.Buffer
	ze, _ := zstd.NewWriter(&zs)
	ze.Write(raw)
	ze.Close()
	os.WriteFile(filepath.Join(dir, "y"), zs.Bytes(), 0o644)
	strip := func(s string) string {
		return regexp.MustCompile(`"file_name":"[^"]*","file_date_utc":"[^"]*",|,"pcap":\{"file":"[^"]*","offset":[0-9]+\}`).ReplaceAllString(s, "")
	}
	for _, name := range []string{"x.pcap.bin", "y"} {
		out, errs, code := espcap(t, "-q", "-r", filepath.Join(dir, name))
		if code != 0 || strip(out) != strip(plain) {
			t.Errorf("%s (compressed): exit %d, output differs from the plain file: %s", name, code, errs)
		}
	}
	// stdin, through the real binary
	bin := filepath.Join(dir, "espcap-fast")
	if b, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v: %s", err, b)
	}
	cmd := exec.Command(bin, "-q", "-r", "-")
	cmd.Stdin = bytes.NewReader(gz.Bytes())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("stdin: %v", err)
	}
	if got := len(docs(t, string(out))); got != 1268 {
		t.Errorf("stdin: %d documents, want 1268", got)
	}
}

func TestBPF(t *testing.T) {
	if err := filter.Available(); err != nil {
		need.Missing(t, "libpcap not available: %v", err)
	}
	out, errs, code := espcap(t, "-q", "-r", sample, "tcp", "port", "80", "and", "tcp[tcpflags]", "&", "tcp-syn", "!=", "0")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	ds := docs(t, out)
	if len(ds) == 0 {
		t.Fatal("filter kept nothing")
	}
	for _, d := range ds {
		if d["layers"].(map[string]any)["tcp"].(map[string]any)["flags_syn"] != true {
			t.Fatalf("filter kept a packet without SYN: frame %v", d["frame"])
		}
	}
	// tcpdump keeps the same number of packets
	if _, err := exec.LookPath("tcpdump"); err == nil {
		b, err := exec.Command("tcpdump", "-n", "-r", sample, "tcp port 80 and tcp[tcpflags] & tcp-syn != 0").Output()
		if err == nil {
			if n := strings.Count(string(b), "\n"); n != len(ds) {
				t.Errorf("--bpf kept %d packets, tcpdump %d", len(ds), n)
			}
		}
	}
	_, errs, code = espcap(t, "--bpf", "tcp prot 80", "-r", sample)
	if code != 2 || !strings.Contains(errs, "syntax error") {
		t.Errorf("bad filter: exit %d, %q", code, errs)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-r", sample, "--dir", "."},
		{"-r", sample, "-i", "lo"},
		{"-r", sample, "--bpf", "tcp", "udp"},
		{"--workers=0", "-r", sample},
	} {
		_, errs, code := espcap(t, args...)
		if code != 2 || errs == "" {
			t.Errorf("%v: exit %d, stderr %q: want a usage error", args, code, errs)
		}
	}
	_, errs, code := espcap(t, "-r", "/nonexistent.pcap")
	if code != 1 || !strings.Contains(errs, "/nonexistent.pcap") {
		t.Errorf("missing file: exit %d, %q", code, errs)
	}
}

func TestList(t *testing.T) {
	out, errs, code := espcap(t, "--list")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !regexp.MustCompile(`(?m)^\d+\s+lo\s+up,running,loopback\s+\d+\s+EN10MB`).MatchString(out) {
		t.Errorf("--list does not show lo with index, flags, MTU and link type:\n%s", out)
	}
}

func copyFile(t *testing.T, from, to string) {
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
