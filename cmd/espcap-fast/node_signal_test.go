package main

// SIGINT/SIGTERM during an import with --node, on the real binary in a
// subprocess (run's signal handling lives in the process): the first
// signal stops reading and flushes what was read, the second aborts and
// dead-letters what is in flight. Then a second import of the same file
// fills the gap without duplicates.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/espcap/espcap-fast/internal/estest"
)

// signalPackets is the size of the capture the signal tests import: large
// enough that an import through the slowed-down proxy takes seconds, small
// enough that the re-imports stay quick on a loaded 2-core machine.
const signalPackets = 20000

// buildBinary builds espcap-fast into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "espcap-fast")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// bigCapture makes a capture of signalPackets packets: with the shared
// corpus's make-bench-pcap.sh when it and Wireshark's tools are there (real,
// varied traffic), else by repeating the records of the HTTP sample.
func bigCapture(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "signal.pcap")
	script, _ := filepath.Abs("../../../shared/tools/make-bench-pcap.sh")
	if _, err := os.Stat(script); err == nil {
		if _, err := exec.LookPath("editcap"); err == nil {
			out, err := exec.Command(script, "-n", strconv.Itoa(signalPackets), "-o", dst).CombinedOutput()
			if err == nil {
				return dst
			}
			t.Logf("make-bench-pcap.sh failed (%v), repeating the sample instead:\n%s", err, out)
		}
	}
	src, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	if len(src) < 24 || binary.LittleEndian.Uint32(src) != 0xa1b2c3d4 {
		t.Fatalf("%s is not a little-endian microsecond pcap", sample)
	}
	var recs [][]byte
	for off := 24; off+16 <= len(src); {
		n := int(binary.LittleEndian.Uint32(src[off+8:]))
		recs = append(recs, src[off:off+16+n])
		off += 16 + n
	}
	buf := bytes.NewBuffer(append([]byte(nil), src[:24]...))
	for i := 0; i < signalPackets; i++ {
		buf.Write(recs[i%len(recs)])
	}
	if err := os.WriteFile(dst, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// importRun is one running import.
type importRun struct {
	cmd      *exec.Cmd
	mu       sync.Mutex
	stderr   strings.Builder
	progress chan struct{} // closed at the first progress line with documents indexed
	done     chan struct{} // closed when the process has exited
	err      error
	exited   time.Time
}

var indexedRE = regexp.MustCompile(`espcap-fast: indexing: \d+ packets read, (\d+) docs indexed`)

// startImport starts the binary with args and watches its stderr.
func startImport(t *testing.T, bin string, args ...string) *importRun {
	t.Helper()
	r := &importRun{cmd: exec.Command(bin, args...), progress: make(chan struct{}), done: make(chan struct{})}
	r.cmd.Stdout = io.Discard
	pipe, err := r.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pipe)
		seen := false
		for sc.Scan() {
			l := sc.Text()
			r.mu.Lock()
			r.stderr.WriteString(l + "\n")
			r.mu.Unlock()
			if m := indexedRE.FindStringSubmatch(l); !seen && m != nil && m[1] != "0" {
				seen = true
				close(r.progress)
			}
		}
		r.err = r.cmd.Wait()
		r.exited = time.Now()
		close(r.done)
	}()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			r.cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

// wait waits for the exit (at most d) and returns the status and stderr.
func (r *importRun) wait(t *testing.T, d time.Duration) (int, string) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(d):
		r.cmd.Process.Kill()
		<-r.done
		t.Fatalf("still running after %s; killed. stderr:\n%s", d, r.text())
	}
	return r.cmd.ProcessState.ExitCode(), r.text()
}

func (r *importRun) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stderr.String()
}

// waitProgress waits until documents are being indexed.
func (r *importRun) waitProgress(t *testing.T) {
	t.Helper()
	select {
	case <-r.progress:
	case <-r.done:
		t.Fatalf("the import ended before it could be interrupted:\n%s", r.text())
	case <-time.After(60 * time.Second):
		t.Fatalf("no documents indexed after 60 s:\n%s", r.text())
	}
}

// indexSummary is the sink's final summary line.
type indexSummary struct {
	read, indexed, dups, dead, inFlight int
}

var summaryRE = regexp.MustCompile(`espcap-fast: indexed: (\d+) packets read, (\d+) docs indexed, (\d+) duplicates, \d+ retried, (\d+) dead-lettered, (-?\d+) in flight`)

func parseSummary(t *testing.T, errs string) indexSummary {
	t.Helper()
	m := summaryRE.FindAllStringSubmatch(errs, -1)
	if m == nil {
		t.Fatalf("no indexing summary in:\n%s", errs)
	}
	last := m[len(m)-1]
	n := make([]int, 5)
	for i := range n {
		n[i], _ = strconv.Atoi(last[i+1])
	}
	return indexSummary{n[0], n[1], n[2], n[3], n[4]}
}

// reimport imports the whole capture again straight into the server and
// checks that afterwards the index holds every packet exactly once.
func reimport(t *testing.T, bin, base, prefix, pcap string, first int) {
	t.Helper()
	dl := filepath.Join(t.TempDir(), "dead-reimport.ndjson")
	start := time.Now()
	code, errs := startImport(t, bin, "--node", base, "--index-prefix", prefix, "--dead-letter", dl, "--file", pcap).wait(t, 3*time.Minute)
	t.Logf("re-import: exit %d after %s\n%s", code, time.Since(start).Round(time.Millisecond), errs)
	if code != 0 {
		t.Fatalf("re-import: exit %d", code)
	}
	s := parseSummary(t, errs)
	if s.read != signalPackets || s.indexed+s.dups != signalPackets || s.dead != 0 {
		t.Errorf("re-import summary %+v: want %d packets read, indexed + duplicates = %d", s, signalPackets, signalPackets)
	}
	if s.dups < first {
		t.Errorf("re-import: %d duplicates, but the first run had put %d documents in the index", s.dups, first)
	}
	refresh(t, base, prefix)
	if n := countIn(t, base, prefix+"*"); n != signalPackets {
		t.Errorf("%d documents after the re-import, want %d (one per packet)", n, signalPackets)
	}
}

// TestNodeSignal interrupts an import once: reading stops, everything read
// is indexed (nothing lost), the summary is printed, exit 130; a second
// import of the file completes the index without duplicates.
func TestNodeSignal(t *testing.T) {
	base := estest.URL(t)
	bin, pcap := buildBinary(t), bigCapture(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			prefix := testPrefix(t, base, "signal-"+strings.ToLower(strings.ReplaceAll(sig.String(), " ", "")))
			// The proxy holds each bulk request 40 ms: at most
			// ~12,500 documents/s, so the signal lands mid-import.
			px, url := startProxy(t, base)
			px.delay.Store(int64(40 * time.Millisecond))
			dl := filepath.Join(t.TempDir(), "dead.ndjson")
			r := startImport(t, bin, "--node", url, "--index-prefix", prefix, "--dead-letter", dl,
				"--chunk", "250", "--indexers", "2", "--stats-interval", "100ms", "--file", pcap)
			r.waitProgress(t)
			signalled := time.Now()
			if err := r.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			code, errs := r.wait(t, 60*time.Second)
			t.Logf("exit %d, %s after the signal\n%s", code, r.exited.Sub(signalled).Round(time.Millisecond), errs)
			if code != 130 {
				t.Errorf("exit %d after an interrupt, want 130", code)
			}
			s := parseSummary(t, errs)
			if s.read >= signalPackets || s.read == 0 {
				t.Fatalf("%d of %d packets read: the signal did not stop the reading", s.read, signalPackets)
			}
			if s.indexed != s.read || s.dups != 0 || s.dead != 0 || s.inFlight != 0 {
				t.Errorf("summary %+v: every packet read should be indexed", s)
			}
			if !strings.Contains(errs, fmt.Sprintf("espcap-fast: %d packets read, %d documents written", s.read, s.read)) {
				t.Errorf("no run summary saying %d packets read and written", s.read)
			}
			if _, err := os.Stat(dl); err == nil {
				t.Errorf("dead-letter file written although nothing was rejected")
			}
			refresh(t, base, prefix)
			if n := countIn(t, base, prefix+"*"); n != s.read {
				t.Errorf("%d documents in the index, the summary says %d packets read and indexed", n, s.read)
			}
			reimport(t, bin, base, prefix, pcap, s.read)
		})
	}
}

// TestNodeSignalAbort interrupts twice: the second signal abandons the
// flush at once; the documents in flight go to the dead-letter file
// (nothing read is lost silently), exit 130; a re-import then fills the
// index without duplicates.
func TestNodeSignalAbort(t *testing.T) {
	base := estest.URL(t)
	bin, pcap := buildBinary(t), bigCapture(t)
	prefix := testPrefix(t, base, "abort")
	// Slow bulk requests (600 ms each): the flush after the first
	// signal takes seconds, so the second one interrupts it.
	px, url := startProxy(t, base)
	px.delay.Store(int64(600 * time.Millisecond))
	dl := filepath.Join(t.TempDir(), "dead.ndjson")
	r := startImport(t, bin, "--node", url, "--index-prefix", prefix, "--dead-letter", dl,
		"--chunk", "250", "--indexers", "2", "--stats-interval", "100ms", "--flush-timeout", "2m", "--file", pcap)
	r.waitProgress(t)
	r.cmd.Process.Signal(syscall.SIGINT)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(r.text(), "interrupt again to abort") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	second := time.Now()
	r.cmd.Process.Signal(syscall.SIGINT)
	code, errs := r.wait(t, 30*time.Second)
	t.Logf("exit %d, %s after the second signal\n%s", code, r.exited.Sub(second).Round(time.Millisecond), errs)
	if code != 130 {
		t.Errorf("exit %d after an abort, want 130", code)
	}
	if el := r.exited.Sub(second); el > 5*time.Second {
		t.Errorf("the abort took %s: want it prompt", el)
	}
	s := parseSummary(t, errs)
	if s.read >= signalPackets {
		t.Fatalf("all %d packets read: the signal did not stop the reading", s.read)
	}
	if s.dead == 0 {
		t.Errorf("nothing dead-lettered: the abort did not interrupt the flush")
	}
	if s.indexed+s.dead != s.read || s.dups != 0 || s.inFlight != 0 {
		t.Errorf("summary %+v: indexed + dead-lettered should be every packet read", s)
	}
	b, err := os.ReadFile(dl)
	if err != nil && s.dead > 0 {
		t.Fatalf("dead-letter file: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(b) == 0 {
		lines = nil
	}
	if len(lines) != s.dead {
		t.Errorf("%d lines in the dead-letter file, the summary says %d dead-lettered", len(lines), s.dead)
	}
	for _, l := range lines {
		if !strings.Contains(l, `"type":"aborted"`) || !strings.Contains(l, `"doc":{`) {
			t.Errorf("dead-letter line is not an aborted document: %.300s", l)
			break
		}
	}
	refresh(t, base, prefix)
	// A request abandoned by the abort may still have been carried out by
	// the server: the index holds at least what was counted as indexed and
	// at most that plus what was dead-lettered.
	if n := countIn(t, base, prefix+"*"); n < s.indexed || n > s.indexed+s.dead {
		t.Errorf("%d documents in the index; %d indexed and %d dead-lettered", n, s.indexed, s.dead)
	}
	reimport(t, bin, base, prefix, pcap, s.indexed)
}
