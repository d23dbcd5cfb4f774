package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/espcap/espcap-fast/filter"
	"github.com/espcap/espcap-fast/ring/ringtest"
)

// The live tests run the command as a child process (this test binary,
// turned into espcap-fast by the environment variable below), so that it
// can be signalled like the real one.
const liveHelperEnv = "ESPCAP_FAST_LIVE_HELPER_ARGS"

func init() {
	if a := os.Getenv(liveHelperEnv); a != "" {
		var args []string
		if err := json.Unmarshal([]byte(a), &args); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		os.Exit(run(args, os.Stdout, os.Stderr))
	}
}

// liveProc is a running espcap-fast child.
type liveProc struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr lockedBuffer
	done   chan struct{}
	code   int
}

// lockedBuffer is a bytes.Buffer written by the child's stderr copier and
// read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startLive starts espcap-fast with args (plus the command prefix, e.g.
// setpriv) and waits until it captures.
func startLive(t *testing.T, prefix []string, args ...string) *liveProc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	argv := append(append([]string(nil), prefix...), exe)
	return launchLive(t, exec.Command(argv[0], argv[1:]...), args...)
}

// launchLive starts cmd, this test binary (or a copy) turned into
// espcap-fast with args, and waits until it captures.
func launchLive(t *testing.T, cmd *exec.Cmd, args ...string) *liveProc {
	t.Helper()
	a, _ := json.Marshal(args)
	p := &liveProc{done: make(chan struct{}), cmd: cmd}
	p.cmd.Env = append(os.Environ(), liveHelperEnv+"="+string(a))
	p.cmd.Stdout = &p.stdout
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.stderr.String(), "capturing on") {
		select {
		case <-p.done:
			return p
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("espcap-fast did not start capturing: %s", p.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return p
}

// wait waits for the child to exit (at most timeout).
func (p *liveProc) wait(t *testing.T, timeout time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("espcap-fast did not stop within %s: %s", timeout, p.stderr.String())
	}
}

// canon returns a document without the fields that depend on when and
// from where the packet was read, as canonical JSON.
func canon(t *testing.T, d map[string]any, keepNumber bool) string {
	t.Helper()
	for _, k := range []string{"@timestamp", "sniff_timestamp", "sniff_date_utc", "file_name", "file_date_utc", "interface", "pcap"} {
		delete(d, k)
	}
	if !keepNumber {
		if f, ok := d["frame"].(map[string]any); ok {
			delete(f, "number")
		}
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fileDocs returns the documents of a capture file read offline.
func fileDocs(t *testing.T, pcap string) []map[string]any {
	t.Helper()
	out, errs, code := espcap(t, "-q", "-r", pcap)
	if code != 0 {
		t.Fatalf("reading %s: exit %d: %s", pcap, code, errs)
	}
	return docs(t, out)
}

// sameDocs checks that live documents are the file's, as multisets, and
// that every live document is from iface.
func sameDocs(t *testing.T, live, file []map[string]any, iface string) {
	t.Helper()
	var a, b []string
	for _, d := range live {
		if in, _ := d["interface"].(map[string]any); in == nil || in["name"] != iface {
			t.Fatalf("live document without interface.name %s: %v", iface, d["interface"])
		}
		if _, ok := d["file_name"]; ok {
			t.Fatal("live document has a file_name")
		}
		a = append(a, canon(t, d, false))
	}
	for _, d := range file {
		b = append(b, canon(t, d, false))
	}
	sort.Strings(a)
	sort.Strings(b)
	if len(a) != len(b) {
		t.Fatalf("%d live documents, %d from the file", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("live document differs from the file's:\nlive %.600s\nfile %.600s", a[i], b[i])
		}
	}
}

// checkNumbers checks that frame numbers are 1..n in output order.
func checkNumbers(t *testing.T, ds []map[string]any) {
	t.Helper()
	for i, d := range ds {
		if n := d["frame"].(map[string]any)["number"].(float64); int(n) != i+1 {
			t.Fatalf("document %d has frame.number %v", i+1, n)
		}
	}
}

var kernelLine = regexp.MustCompile(`(?m)^espcap-fast: (\S+): kernel: (\d+) packets, (\d+) dropped`)

// kernelCounts returns the kernel's packets and drops from the summary.
func kernelCounts(t *testing.T, stderr, iface string) (packets, drops int) {
	t.Helper()
	for _, m := range kernelLine.FindAllStringSubmatch(stderr, -1) {
		if m[1] == iface {
			packets, _ = strconv.Atoi(m[2])
			drops, _ = strconv.Atoi(m[3])
			return
		}
	}
	t.Fatalf("no kernel summary for %s in:\n%s", iface, stderr)
	return
}

const pcaps = "../../testdata/pcaps/"

// TestLiveSameAsFile replays captures onto a veth and checks that every
// packet becomes the document the file gives, with 1 worker (same order,
// same frame numbers) and 2 (any order).
func TestLiveSameAsFile(t *testing.T) {
	v := ringtest.NewVeth(t)
	for _, tc := range []struct {
		file    string
		workers int
	}{
		{"seed_test_dns.pcap", 1},
		{"seed_test_http.pcap", 2},
		{"arkime_twovlan.pcap", 2},
	} {
		t.Run(fmt.Sprintf("%s/%d", tc.file, tc.workers), func(t *testing.T) {
			want := fileDocs(t, pcaps+tc.file)
			p := startLive(t, nil, "-i", v.Outside, "--workers", strconv.Itoa(tc.workers),
				"--count", strconv.Itoa(len(want)), "--duration", "60s", "--frame-timeout", "10ms", "--block-count", "16")
			if sent := v.Replay(t, pcaps+tc.file); sent != len(want) {
				t.Fatalf("tcpreplay sent %d of %d packets", sent, len(want))
			}
			p.wait(t, 30*time.Second)
			if p.code != 0 {
				t.Fatalf("exit %d: %s", p.code, p.stderr.String())
			}
			got := docs(t, p.stdout.String())
			checkNumbers(t, got)
			sameDocs(t, got, want, v.Outside)
			if tc.workers == 1 {
				for i := range got {
					if a, b := canon(t, got[i], true), canon(t, want[i], true); a != b {
						t.Fatalf("document %d differs with one worker:\nlive %.600s\nfile %.600s", i+1, a, b)
					}
				}
			}
		})
	}
}

// TestLiveBPF checks that the kernel filter keeps exactly the packets
// tcpdump -r keeps from the same capture.
func TestLiveBPF(t *testing.T) {
	if err := filter.Available(); err != nil {
		ringtest.Unavailable(t, "libpcap: %v", err)
	}
	tcpdump := ringtest.NeedTool(t, "tcpdump", "tcpdump")
	v := ringtest.NewVeth(t)
	for _, tc := range []struct {
		expr  string
		files []string
	}{
		{"tcp[tcpflags] & (tcp-syn|tcp-fin) != 0", []string{"seed_test_http.pcap", "seed_test_dns.pcap"}},
		{"src net 10.0.0.0/8 and greater 600", []string{"seed_test_http.pcap"}},
		{"dst port 53 and udp[10] & 0x80 = 0", []string{"seed_test_dns.pcap"}},
		// the kernel takes the outer tag out of the frame before its
		// filter runs: tagged frames are filtered after the ring
		{"vlan 201", []string{"arkime_twovlan.pcap"}},
		{"vlan and vlan 200", []string{"arkime_twovlan.pcap"}},
		{"vlan 200", []string{"arkime_twovlan.pcap"}},
	} {
		expr := tc.expr
		t.Run(expr, func(t *testing.T) {
			for _, file := range tc.files {
				kept := filepath.Join(t.TempDir(), "kept.pcap")
				out, err := exec.Command(tcpdump, "-r", pcaps+file, "-w", kept, expr).CombinedOutput()
				if err != nil {
					t.Fatalf("tcpdump: %v\n%s", err, out)
				}
				want := fileDocs(t, kept)
				p := startLive(t, nil, "-i", v.Outside, "--workers", "2", "--bpf", expr, "--frame-timeout", "10ms", "--block-count", "16")
				v.Replay(t, pcaps+file, "--pps=20000")
				time.Sleep(100 * time.Millisecond)
				p.cmd.Process.Signal(syscall.SIGTERM)
				p.wait(t, 30*time.Second)
				if p.code != 0 {
					t.Fatalf("exit %d: %s", p.code, p.stderr.String())
				}
				got := docs(t, p.stdout.String())
				sameDocs(t, got, want, v.Outside)
				// tagged frames all pass the kernel: they are filtered after
				if k, d := kernelCounts(t, p.stderr.String(), v.Outside); (k != len(want) && !strings.HasPrefix(file, "arkime_twovlan")) || d != 0 {
					t.Fatalf("kernel counted %d packets, %d drops; want %d, 0", k, d, len(want))
				}
				t.Logf("%s: %d packets kept", file, len(want))
			}
		})
	}
}

// TestLiveCountExact checks --count with several workers: exactly N
// documents, frame numbers 1..N, a clean exit.
func TestLiveCountExact(t *testing.T) {
	v := ringtest.NewVeth(t)
	for _, n := range []int{1, 37, 300} {
		p := startLive(t, nil, "-i", v.Outside, "--workers", "2", "--fanout", "lb", "-c", strconv.Itoa(n), "--duration", "60s", "--frame-timeout", "10ms", "--block-count", "16")
		v.Replay(t, pcaps+"seed_test_http.pcap", "--pps=50000")
		p.wait(t, 30*time.Second)
		if p.code != 0 {
			t.Fatalf("-c %d: exit %d: %s", n, p.code, p.stderr.String())
		}
		got := docs(t, p.stdout.String())
		if len(got) != n {
			t.Fatalf("-c %d: %d documents", n, len(got))
		}
		checkNumbers(t, got)
	}
}

// TestLiveSIGTERM stops a capture in the middle of a replay: every packet
// the kernel accepted must be written, and be a packet of the capture.
func TestLiveSIGTERM(t *testing.T) {
	v := ringtest.NewVeth(t)
	p := startLive(t, nil, "-i", v.Outside, "--workers", "2", "--stats-interval", "200ms")
	replayed := make(chan struct{})
	go func() {
		defer close(replayed)
		v.Replay(t, pcaps+"seed_test_http.pcap", "--pps=1000")
	}()
	time.Sleep(600 * time.Millisecond)
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t, 30*time.Second)
	<-replayed
	if p.code != 0 {
		t.Fatalf("exit %d: %s", p.code, p.stderr.String())
	}
	errs := p.stderr.String()
	got := docs(t, p.stdout.String())
	k, d := kernelCounts(t, errs, v.Outside)
	if d != 0 || len(got) != k {
		t.Fatalf("kernel accepted %d packets (%d dropped), %d documents written:\n%s", k, d, len(got), errs)
	}
	if k == 0 || k >= 1268 {
		t.Fatalf("%d packets captured: SIGTERM did not come mid-capture", k)
	}
	if !strings.Contains(errs, "espcap-fast: stats: kernel") {
		t.Errorf("no periodic stats line:\n%s", errs)
	}
	checkNumbers(t, got)
	// every document is one of the file's (as a multiset)
	left := map[string]int{}
	for _, d := range fileDocs(t, pcaps+"seed_test_http.pcap") {
		left[canon(t, d, false)]++
	}
	for _, d := range got {
		c := canon(t, d, false)
		if left[c] == 0 {
			t.Fatalf("document not from the capture: %.400s", c)
		}
		left[c]--
	}
	t.Logf("SIGTERM after %d of 1268 packets: all %d written", k, len(got))
}

// TestLiveTwoInterfaces captures on two veth pairs at once, for a
// --duration.
func TestLiveTwoInterfaces(t *testing.T) {
	v1, v2 := ringtest.NewVeth(t), ringtest.NewVeth(t)
	p := startLive(t, nil, "-i", v1.Outside, "--nic", v2.Outside, "--workers", "2", "--duration", "3s", "--frame-timeout", "10ms", "--block-count", "16")
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); v1.Replay(t, pcaps+"seed_test_dns.pcap", "--pps=5000") }()
	go func() { defer wg.Done(); v2.Replay(t, pcaps+"seed_test_http.pcap", "--pps=5000") }()
	wg.Wait()
	p.wait(t, 30*time.Second)
	if p.code != 0 {
		t.Fatalf("exit %d: %s", p.code, p.stderr.String())
	}
	got := docs(t, p.stdout.String())
	checkNumbers(t, got)
	var a, b []map[string]any
	for _, d := range got {
		if d["interface"].(map[string]any)["name"] == v1.Outside {
			a = append(a, d)
		} else {
			b = append(b, d)
		}
	}
	sameDocs(t, a, fileDocs(t, pcaps+"seed_test_dns.pcap"), v1.Outside)
	sameDocs(t, b, fileDocs(t, pcaps+"seed_test_http.pcap"), v2.Outside)
}

// TestLiveErrors: a bad filter, an unknown interface and a missing
// CAP_NET_RAW are clear errors at start.
func TestLiveErrors(t *testing.T) {
	if err := filter.Available(); err == nil {
		_, errs, code := espcap(t, "-i", "lo", "--bpf", "tcp prot 80")
		if code != 2 || !strings.Contains(errs, "syntax error") {
			t.Errorf("bad filter: exit %d: %s", code, errs)
		}
	}
	_, errs, code := espcap(t, "-i", "no-such-if9")
	if code != 1 || !strings.Contains(errs, "no-such-if9") {
		t.Errorf("unknown interface: exit %d: %s", code, errs)
	}
	_, errs, code = espcap(t, "-i", "lo", "--fanout", "flow")
	if code != 2 || !strings.Contains(errs, "--fanout") {
		t.Errorf("bad fanout: exit %d: %s", code, errs)
	}
	ringtest.NeedRoot(t)
	setpriv := ringtest.NeedTool(t, "setpriv", "util-linux")
	p := startLive(t, []string{setpriv, "--bounding-set=-net_raw", "--inh-caps=-net_raw", "--"}, "-i", "lo")
	p.wait(t, 10*time.Second)
	if errs := p.stderr.String(); p.code != 1 || !strings.Contains(errs, "CAP_NET_RAW") {
		t.Errorf("without CAP_NET_RAW: exit %d: %s", p.code, errs)
	}
}

// TestLiveBlockSmallerThanSnaplen: blocks too small for the snapshot
// length get a warning that says which block size keeps frames whole, and
// a jumbo frame is indexed as far as it was captured, tagged as cut.
func TestLiveBlockSmallerThanSnaplen(t *testing.T) {
	v := ringtest.NewVeth(t)
	page := os.Getpagesize()
	if page != 4096 {
		t.Skipf("page size %d", page)
	}
	// one 8,500-byte IPv4/UDP frame
	const frameLen = 8500
	frame := make([]byte, frameLen)
	copy(frame, []byte{0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00,
		0x45, 0, byte((frameLen - 14) >> 8), byte((frameLen - 14) & 0xff), 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
		0x30, 0x39, 0x30, 0x3a, byte((frameLen - 34) >> 8), byte((frameLen - 34) & 0xff), 0, 0})
	file := ringtest.WritePcap(t, frame)

	p := startLive(t, nil, "-i", v.Outside, "--block-size", "8192", "--block-count", "8", "--frame-timeout", "10ms", "--count", "1", "--duration", "20s")
	v.Replay(t, file)
	p.wait(t, 30*time.Second)
	errs := p.stderr.String()
	if p.code != 0 {
		t.Fatalf("exit %d: %s", p.code, errs)
	}
	if !strings.Contains(errs, "holds frames of up to 8058 bytes") || !strings.Contains(errs, "--block-size of 266240") {
		t.Errorf("no or wrong warning about the block size:\n%s", errs)
	}
	got := docs(t, p.stdout.String())
	if len(got) != 1 {
		t.Fatalf("%d documents, want 1", len(got))
	}
	d := got[0]
	frameOf := d["frame"].(map[string]any)
	if frameOf["len"] != float64(frameLen) || frameOf["cap_len"] != float64(8058) {
		t.Errorf("frame.len %v, frame.cap_len %v; want %d and 8058", frameOf["len"], frameOf["cap_len"], frameLen)
	}
	if tags := fmt.Sprint(d["tags"]); !strings.Contains(tags, "snaplen_truncated") || d["protocol"] != "udp" {
		t.Errorf("tags %s, protocol %v: want snaplen_truncated and udp", tags, d["protocol"])
	}

	// the default block size holds the default snapshot length: no warning
	_, errs, _ = espcap(t, "-i", v.Outside, "--duration", "200ms", "-q")
	if strings.Contains(errs, "warning") {
		t.Errorf("warning with the default block size:\n%s", errs)
	}
}
