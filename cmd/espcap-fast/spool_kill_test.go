package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/espcap/espcap-fast/internal/estest"
)

// stallProxy forwards everything to the server but bulk requests, which
// it holds until the client goes away: a cluster that accepts connections
// and never answers.
func stallProxy(t *testing.T, target string) string {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/_bulk") {
			<-r.Context().Done()
			return
		}
		rp.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

var spoolProgressRE = regexp.MustCompile(`indexing: (\d+) packets read, .*; spool (\d+) bytes in`)

// TestSpoolKill9: an import whose cluster never answers spools everything
// to disk (--spool-mem 0); after kill -9, drain indexes every document
// exactly once.
func TestSpoolKill9(t *testing.T) {
	base := estest.URL(t)
	prefix := testPrefix(t, base, "kill")
	bin := buildBinary(t)
	capture := bigCapture(t)
	want := offlineDocs(t, "--file", capture)
	dir := filepath.Join(t.TempDir(), "spool")
	proxy := stallProxy(t, base)
	r := startImport(t, bin, "--node", proxy, "--index-prefix", prefix, "--spool", dir, "--spool-mem", "0",
		"--stats-interval", "100ms", "--file", capture)
	// wait until every packet was read and the spool stopped growing
	// (the indexers hold a few batches, not answered, not acknowledged)
	spoolSettled(t, r.text, r.done, signalPackets)
	if err := r.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-r.done
	drainExact(t, base, dir, prefix, want)
}

// spoolSettled waits until the progress lines in text() say that at
// least want packets were read and the spool's bytes stayed the same three
// times in a row, and returns the packets read; it fails when done closes
// first or after two minutes.
func spoolSettled(t *testing.T, text func() string, done <-chan struct{}, want int) (read int) {
	t.Helper()
	lastBytes, stable, seen := -1, 0, 0
	deadline := time.Now().Add(2 * time.Minute)
	for stable < 3 {
		select {
		case <-done:
			t.Fatalf("espcap-fast exited:\n%s", lastLines(text(), 8))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the spool did not settle (want %d packets read):\n%s", want, lastLines(text(), 5))
		}
		all := spoolProgressRE.FindAllStringSubmatch(text(), -1)
		if len(all) == seen {
			continue
		}
		seen = len(all)
		m := all[len(all)-1]
		read, _ = strconv.Atoi(m[1])
		b, _ := strconv.Atoi(m[2])
		if read >= want && b == lastBytes && b > 0 {
			stable++
		} else {
			stable = 0
		}
		lastBytes = b
	}
	return read
}

var replayedRE = regexp.MustCompile(`indexed: .*; spool \d+ bytes in \d+ segments, oldest \S+, (\d+) docs replayed from disk \(\d+/s\), (\d+) dropped`)

// TestSpoolServerRestart stops the server in the middle of an import
// through a spool that passes little through memory, and starts it again:
// the batches wait on disk, and afterwards the index holds every document
// exactly once.
func TestSpoolServerRestart(t *testing.T) {
	base, es := restartableServer(t)
	prefix := testPrefix(t, base, "spool-restart")
	capture := bigCapture(t)
	want := offlineDocs(t, "--file", capture)
	px, url := startProxy(t, base)
	px.delay.Store(int64(20 * time.Millisecond))
	restarted := restartDuring(px, 5, es)
	dir := filepath.Join(t.TempDir(), "spool")
	_, errs, code := espcap(t, "--node", url, "--index-prefix", prefix, "--spool", dir, "--spool-mem", "1M",
		"--chunk", "500", "--file", capture)
	stopErr, startErr := restarted()
	t.Logf("%s", errs)
	if stopErr != nil || startErr != nil {
		t.Fatalf("restart: stop %v, start %v", stopErr, startErr)
	}
	if code != 0 {
		t.Errorf("exit %d", code)
	}
	m := replayedRE.FindStringSubmatch(lastLineWith(errs, "indexed:"))
	if m == nil || m[1] == "0" || m[2] != "0" {
		t.Errorf("final summary %q: want documents replayed from disk and none dropped", lastLineWith(errs, "indexed:"))
	}
	if final := lastLineWith(errs, "indexed:"); strings.Contains(final, " 0 retried") {
		t.Errorf("no retries in the final summary %q: the restart did not happen during the import", final)
	}
	refresh(t, base, prefix)
	if n := countIn(t, base, prefix+"*"); n != want {
		t.Errorf("%d documents after the restart, want %d", n, want)
	}
}

// TestSpoolFullDrop: a spool much smaller than the backlog with
// --spool-full drop: the dropped documents are counted exactly (index
// count + dropped = documents), reported with their cause, exit status 1.
func TestSpoolFullDrop(t *testing.T) {
	base := estest.URL(t)
	prefix := testPrefix(t, base, "spool-drop")
	capture := bigCapture(t)
	want := offlineDocs(t, "--file", capture)
	px, url := startProxy(t, base)
	px.delay.Store(int64(50 * time.Millisecond))
	dir := filepath.Join(t.TempDir(), "spool")
	_, errs, code := espcap(t, "--node", url, "--index-prefix", prefix, "--spool", dir, "--spool-max", "2M", "--spool-mem", "0",
		"--spool-full", "drop", "--chunk", "500", "--file", capture)
	t.Logf("%s", errs)
	if code != 1 {
		t.Errorf("exit %d, want 1 (documents dropped)", code)
	}
	m := replayedRE.FindStringSubmatch(lastLineWith(errs, "indexed:"))
	if m == nil {
		t.Fatalf("no spool counters in the summary")
	}
	dropped, _ := strconv.Atoi(m[2])
	if dropped == 0 || !strings.Contains(errs, fmt.Sprintf("%d documents dropped: the spool was full", dropped)) {
		t.Errorf("%d dropped; the loss is not reported with its cause", dropped)
	}
	refresh(t, base, prefix)
	if n := countIn(t, base, prefix+"*"); n+dropped != want {
		t.Errorf("%d indexed + %d dropped, want %d", n, dropped, want)
	}
}

// TestSpoolInterrupt: SIGINT while the cluster does not answer: after
// --flush-timeout the run ends, and what was not answered (batches still
// in memory included) stays in the spool; drain then indexes every
// document exactly once.
func TestSpoolInterrupt(t *testing.T) {
	base := estest.URL(t)
	prefix := testPrefix(t, base, "spool-int")
	bin := buildBinary(t)
	capture := bigCapture(t)
	want := offlineDocs(t, "--file", capture)
	dir := filepath.Join(t.TempDir(), "spool")
	dead := filepath.Join(t.TempDir(), "dead.ndjson")
	r := startImport(t, bin, "--node", stallProxy(t, base), "--index-prefix", prefix, "--spool", dir,
		"--flush-timeout", "1s", "--stats-interval", "100ms", "--dead-letter", dead, "--file", capture)
	for {
		m := spoolProgressRE.FindAllStringSubmatch(r.text(), -1)
		if len(m) > 0 && m[len(m)-1][1] == strconv.Itoa(signalPackets) {
			break
		}
		select {
		case <-r.done:
			t.Fatalf("the import exited: %v\n%s", r.err, r.text())
		case <-time.After(50 * time.Millisecond):
		}
	}
	r.cmd.Process.Signal(os.Interrupt)
	code, errs := r.wait(t, time.Minute)
	t.Logf("interrupted run: exit %d\n%s", code, lastLines(errs, 6))
	if !strings.Contains(errs, "documents not yet indexed: the next run") {
		t.Errorf("the run does not say what stays in the spool")
	}
	// the documents abandoned in flight stay in the spool: none is also
	// written to the dead-letter file as "aborted"
	if b, _ := os.ReadFile(dead); len(b) > 0 || !strings.Contains(lastLineWith(errs, "indexed:"), " 0 dead-lettered") {
		t.Errorf("in-flight documents dead-lettered (%d bytes in %s): they stay in the spool", len(b), dead)
	}
	drainExact(t, base, dir, prefix, want)
}

// drainExact runs drain on dir and checks that the index holds want
// documents of prefix, none sent twice.
func drainExact(t *testing.T, base, dir, prefix string, want int) {
	t.Helper()
	_, errs, code := espcap(t, "drain", "--node", base, "--spool", dir)
	t.Logf("drain:\n%s", errs)
	if code != 0 {
		t.Fatalf("drain: exit %d", code)
	}
	if !strings.Contains(errs, fmt.Sprintf("%d docs indexed, 0 duplicates", want)) {
		t.Errorf("drain summary does not say %d docs indexed, 0 duplicates", want)
	}
	refresh(t, base, prefix)
	if n := countIn(t, base, prefix+"*"); n != want {
		t.Errorf("%d documents indexed after drain, want %d", n, want)
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}
