package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/espcap/espcap-fast/capfile"
	"github.com/espcap/espcap-fast/internal/estest"
	"github.com/espcap/espcap-fast/internal/need"
	"github.com/espcap/espcap-fast/ring/ringtest"
	"github.com/espcap/espcap-fast/watch"
)

// watchRun is a running espcap-fast --watch (the built binary, so that it
// can be killed with -9), its documents in a file.
type watchRun struct {
	cmd    *exec.Cmd
	out    string
	stderr lockedBuffer
	done   chan struct{}
	code   int
}

// startWatch starts bin with args, its state directory stateDir, stdout
// into a file.
func startWatch(t *testing.T, bin, stateDir string, args ...string) *watchRun {
	t.Helper()
	r := &watchRun{out: filepath.Join(t.TempDir(), "out.ndjson"), done: make(chan struct{})}
	f, err := os.Create(r.out)
	if err != nil {
		t.Fatal(err)
	}
	r.cmd = exec.Command(bin, args...)
	r.cmd.Env = append(os.Environ(), "ESPCAP_STATE_DIR="+stateDir)
	r.cmd.Stdout = f
	r.cmd.Stderr = &r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	go func() {
		r.cmd.Wait()
		r.code = r.cmd.ProcessState.ExitCode()
		close(r.done)
	}()
	t.Cleanup(func() { r.kill() })
	if slices.Contains(args, "--watch") && !slices.Contains(args, "-q") {
		waitFor(t, 60*time.Second, "no watching note: "+r.stderr.String(), func() bool {
			return strings.Contains(r.stderr.String(), "espcap-fast: watching ")
		})
	}
	return r
}

// stop interrupts the run (SIGINT) and waits for its exit.
func (r *watchRun) stop(t *testing.T) int {
	t.Helper()
	r.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-r.done:
	case <-time.After(90 * time.Second):
		t.Fatalf("no exit 90 s after SIGINT: %s", r.stderr.String())
	}
	return r.code
}

// kill kills the run with SIGKILL (if still running) and waits.
func (r *watchRun) kill() {
	select {
	case <-r.done:
	default:
		r.cmd.Process.Kill()
		<-r.done
	}
}

// docsByFile counts the documents of an NDJSON file by file name and frame
// number.
func docsByFile(t *testing.T, path string) map[string]map[int]int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[int]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var d struct {
			File  string `json:"file_name"`
			Frame struct {
				Number int `json:"number"`
			} `json:"frame"`
		}
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			break // a line still being written
		}
		if out[d.File] == nil {
			out[d.File] = map[int]int{}
		}
		out[d.File][d.Frame.Number]++
	}
	return out
}

// records counts the records of a capture file.
func records(t *testing.T, path string) int {
	t.Helper()
	r, err := capfile.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer r.Close()
	var rec capfile.Record
	n := 0
	for {
		if err := r.Next(&rec); err != nil {
			if err != io.EOF {
				t.Fatalf("%s: record %d: %v", path, n+1, err)
			}
			return n
		}
		n++
	}
}

// waitFor polls cond until it holds; after d the test fails, saying what.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// exactlyOnce checks that every file of want has each frame 1..want[file]
// once in got, and that got has nothing else.
func exactlyOnce(t *testing.T, got map[string]map[int]int, want map[string]int) {
	t.Helper()
	for f, n := range want {
		frames := got[f]
		if len(frames) != n {
			t.Errorf("%s: %d frames written, want %d", f, len(frames), n)
		}
		for fr, c := range frames {
			if c != 1 || fr < 1 || fr > n {
				t.Errorf("%s: frame %d written %d times", f, fr, c)
			}
		}
	}
	for f := range got {
		if _, ok := want[f]; !ok {
			t.Errorf("%s: %d documents, want none", f, len(got[f]))
		}
	}
}

// allWritten says whether r's output holds at least the documents of
// every file of want (path → records).
func allWritten(t *testing.T, r *watchRun, want map[string]int) func() bool {
	return func() bool {
		got := docsByFile(t, r.out)
		for f, n := range want {
			if len(got[f]) < n {
				return false
			}
		}
		return true
	}
}

func copyCapture(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestWatchFolder: the files already there, files closed, renamed into
// place and replaced while watching are each written exactly once; a
// restart with the same state writes only what is new.
func TestWatchFolder(t *testing.T) {
	bin := buildBinary(t)
	dir, stateDir := t.TempDir(), t.TempDir()
	state := filepath.Join(stateDir, "w.json")
	want := map[string]int{}
	put := func(src, name string) string {
		p := filepath.Join(dir, name)
		copyCapture(t, pcaps+src, p)
		want[p] = records(t, p)
		return p
	}
	put("seed_test_dns.pcap", "a.pcap")
	put("arkime_dns-tcp.pcap", "b.pcap")
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a capture file, just notes"), 0o600)
	r := startWatch(t, bin, stateDir, "--watch", dir, "--state", state)
	waitFor(t, 60*time.Second, "the files already there not written", allWritten(t, r, want))
	// rotated names, one written in chunks, one renamed into place
	put("tcpdump_dns_udp.pcap", "1700000001.pcap")
	big, _ := os.ReadFile(sample)
	p := filepath.Join(dir, "1700000002.pcap")
	f, _ := os.Create(p)
	for off := 0; off < len(big); off += 64 << 10 {
		f.Write(big[off:min(off+64<<10, len(big))])
	}
	f.Close()
	want[p] = records(t, p)
	copyCapture(t, pcaps+"arkime_v6-http.pcap", filepath.Join(dir, ".incoming"))
	os.Rename(filepath.Join(dir, ".incoming"), filepath.Join(dir, "1700000003.pcap"))
	want[filepath.Join(dir, "1700000003.pcap")] = records(t, filepath.Join(dir, "1700000003.pcap"))
	waitFor(t, 60*time.Second, "new files not written", allWritten(t, r, want))
	if code := r.stop(t); code != 130 {
		t.Errorf("exit %d after SIGINT, want 130: %s", code, r.stderr.String())
	}
	exactlyOnce(t, docsByFile(t, r.out), want)
	if !strings.Contains(r.stderr.String(), "notes.txt: not a capture file") {
		t.Errorf("the non-capture file was not noted: %s", r.stderr.String())
	}

	// restart: nothing again; a file replaced under its name is new, as
	// is a new file
	old := want
	want = map[string]int{}
	replaced := filepath.Join(dir, "b.pcap")
	copyCapture(t, pcaps+"arkime_twovlan.pcap", filepath.Join(dir, ".b"))
	os.Rename(filepath.Join(dir, ".b"), replaced)
	want[replaced] = records(t, replaced)
	r2 := startWatch(t, bin, stateDir, "--watch", dir, "--state", state)
	put("arkime_pppoe.pcap", "1700000004.pcap")
	waitFor(t, 60*time.Second, "after the restart, the new and replaced files not written", allWritten(t, r2, want))
	r2.stop(t)
	exactlyOnce(t, docsByFile(t, r2.out), want)
	st := stateEntries(t, state)
	for p, n := range old {
		if e := st[filepath.Base(p)]; !e.Done || p != replaced && e.Records != uint64(n) {
			t.Errorf("state of %s: %+v, want done with %d records", p, e, n)
		}
	}
	if e := st["notes.txt"]; !e.Done || e.Note != "not a capture file" {
		t.Errorf("state of notes.txt: %+v", e)
	}
}

var readRE = regexp.MustCompile(`espcap-fast: (?:tshark engine: )?(\d+) packets read`)

// stateEntries reads a state file (none yet: nil).
func stateEntries(t *testing.T, path string) map[string]watch.Entry {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	es, err := watch.ParseState(b)
	if err != nil {
		t.Fatalf("state file: %v", err)
	}
	m := map[string]watch.Entry{}
	for _, e := range es {
		m[filepath.Base(e.Path)] = e
	}
	return m
}

// TestWatchKill9Resume: kill -9 during a watched import into the server,
// then a restart: the finished file is not read again, the interrupted one
// resumes after its last accepted record, and the index holds every
// packet exactly once; with either engine.
func TestWatchKill9Resume(t *testing.T) {
	for _, engine := range []string{"native", "tshark"} {
		t.Run(engine, func(t *testing.T) { watchKill9Resume(t, engine) })
	}
}

func watchKill9Resume(t *testing.T, engine string) {
	if engine == "tshark" {
		need.Tshark(t)
	}
	base := estest.URL(t)
	prefix := testPrefix(t, base, "watchkill"+engine)
	bin := buildBinary(t)
	dir, stateDir := t.TempDir(), t.TempDir()
	state := filepath.Join(stateDir, "w.json")
	copyCapture(t, pcaps+"seed_test_dns.pcap", filepath.Join(dir, "1.pcap"))
	copyCapture(t, bigCapture(t), filepath.Join(dir, "2.pcap"))
	n1, n2 := records(t, filepath.Join(dir, "1.pcap")), records(t, filepath.Join(dir, "2.pcap"))
	px, slow := startProxy(t, base)
	px.delay.Store(int64(30 * time.Millisecond))
	dl := filepath.Join(t.TempDir(), "dead.ndjson")
	args := []string{"--watch", dir, "--state", state, "--index-prefix", prefix, "--chunk", "500", "--dead-letter", dl, "--engine", engine}
	r := startWatch(t, bin, stateDir, append([]string{"--node", slow}, args...)...)
	waitFor(t, 120*time.Second, "2.pcap never partly accepted", func() bool {
		e, ok := stateEntries(t, state)["2.pcap"]
		return ok && e.Records > 0
	})
	r.kill()
	before := stateEntries(t, state)
	if e := before["1.pcap"]; !e.Done || e.Records != uint64(n1) {
		t.Fatalf("state after kill -9: 1.pcap %+v, want done with %d records", e, n1)
	}
	e2 := before["2.pcap"]
	if e2.Done || e2.Records >= uint64(n2) {
		t.Fatalf("state after kill -9: 2.pcap %+v: the kill came too late to test a resume", e2)
	}
	r2 := startWatch(t, bin, stateDir, append([]string{"--node", base}, args...)...)
	waitFor(t, 120*time.Second, "2.pcap not finished after the restart", func() bool {
		return stateEntries(t, state)["2.pcap"].Done
	})
	r2.stop(t)
	errs := r2.stderr.String()
	m := readRE.FindStringSubmatch(errs)
	if m == nil {
		t.Fatalf("no summary: %s", errs)
	}
	if read, _ := strconv.Atoi(m[1]); read != n2-int(e2.Records) {
		t.Errorf("the restart read %d packets, want %d (2.pcap after record %d; 1.pcap not at all)", read, n2-int(e2.Records), e2.Records)
	}
	if !strings.Contains(errs, "resuming after record "+strconv.FormatUint(e2.Records, 10)) {
		t.Errorf("no resume note: %s", errs)
	}
	refresh(t, base, prefix)
	if got := countIn(t, base, prefix+"*"); got != n1+n2 {
		t.Errorf("%d documents indexed, want %d", got, n1+n2)
	}
	if st, _ := os.Stat(dl); st != nil && st.Size() > 0 {
		t.Errorf("documents dead-lettered")
	}
}

// TestWatchTshark: the tshark engine watches a folder too: the files
// already there and a new one are each written exactly once (every record,
// as tshark numbers them), a non-capture file is noted, and a restart
// writes only what is new.
func TestWatchTshark(t *testing.T) {
	need.Tshark(t)
	bin := buildBinary(t)
	dir, stateDir := t.TempDir(), t.TempDir()
	state := filepath.Join(stateDir, "w.json")
	want := map[string]int{}
	put := func(src, name string) {
		p := filepath.Join(dir, name)
		copyCapture(t, pcaps+src, p)
		want[p] = records(t, p)
	}
	put("seed_test_dns.pcap", "a.pcap")
	put("wireshark_sip.pcapng", "b.pcapng")
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a capture file, just notes"), 0o600)
	r := startWatch(t, bin, stateDir, "--watch", dir, "--state", state, "--engine", "tshark")
	waitFor(t, 60*time.Second, "the files already there not written", allWritten(t, r, want))
	put("arkime_v6-http.pcap", "c.pcap")
	waitFor(t, 60*time.Second, "the new file not written", allWritten(t, r, want))
	r.stop(t)
	exactlyOnce(t, docsByFile(t, r.out), want)
	if !strings.Contains(r.stderr.String(), "notes.txt") {
		t.Errorf("the non-capture file was not noted: %s", r.stderr.String())
	}
	want = map[string]int{}
	r2 := startWatch(t, bin, stateDir, "--watch", dir, "--state", state, "--engine", "tshark")
	put("arkime_pppoe.pcap", "d.pcap")
	waitFor(t, 60*time.Second, "after the restart, the new file not written", allWritten(t, r2, want))
	r2.stop(t)
	exactlyOnce(t, docsByFile(t, r2.out), want)
}

// TestWatchDeleteOnlyAfterAcceptance: with a server that never answers,
// --delete deletes nothing; with one that answers, every file is deleted
// and its documents are in the index.
func TestWatchDeleteOnlyAfterAcceptance(t *testing.T) {
	base := estest.URL(t)
	prefix := testPrefix(t, base, "watchdel")
	bin := buildBinary(t)
	dir, stateDir := t.TempDir(), t.TempDir()
	files := map[string]int{}
	for i, src := range []string{"seed_test_dns.pcap", "arkime_dns-tcp.pcap", "tcpdump_dns_udp.pcap"} {
		p := filepath.Join(dir, strconv.Itoa(i)+".pcap")
		copyCapture(t, pcaps+src, p)
		files[p] = records(t, p)
	}
	total := 0
	for _, n := range files {
		total += n
	}
	dl := filepath.Join(t.TempDir(), "dead.ndjson")
	args := []string{"--watch", dir, "--delete", "--index-prefix", prefix, "--dead-letter", dl, "--flush-timeout", "1s", "--stats-interval", "100ms"}
	r := startWatch(t, bin, stateDir, append([]string{"--node", stallProxy(t, base)}, args...)...)
	progress := regexp.MustCompile(`indexing: (\d+) packets read`)
	waitFor(t, 60*time.Second, "the files were not read", func() bool {
		all := progress.FindAllStringSubmatch(r.stderr.String(), -1)
		return len(all) > 0 && all[len(all)-1][1] == strconv.Itoa(total)
	})
	r.stop(t)
	for p := range files {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s deleted before its documents were answered: %v", p, err)
		}
	}
	r2 := startWatch(t, bin, stateDir, append([]string{"--node", base}, args...)...)
	waitFor(t, 60*time.Second, "the files were not deleted after indexing", func() bool {
		left, _ := os.ReadDir(dir)
		return len(left) == 0
	})
	r2.stop(t)
	refresh(t, base, prefix)
	if got := countIn(t, base, prefix+"*"); got != total {
		t.Errorf("%d documents indexed, want %d", got, total)
	}
}

// TestWatchCaptureRotation: tcpdump -G, tcpdump -C and dumpcap -b write
// rotated files into a watched folder while tcpreplay sends a capture over
// a veth pair: every packet of every file, the one still being written
// when capture stopped included, is written exactly once.
func TestWatchCaptureRotation(t *testing.T) {
	need.Root(t)
	need.Tool(t, "tcpdump", "Debian: apt-get install tcpdump")
	need.Tool(t, "tcpreplay", "Debian: apt-get install tcpreplay")
	bin := buildBinary(t)
	for _, tc := range []struct {
		name string
		tool string
		args func(iface, dir string) []string
	}{
		{"tcpdump -G 1", "tcpdump", func(iface, dir string) []string {
			return []string{"-i", iface, "-Z", "root", "-G", "1", "-w", filepath.Join(dir, "%s.pcap")}
		}},
		{"tcpdump -C 1", "tcpdump", func(iface, dir string) []string {
			return []string{"-i", iface, "-Z", "root", "-C", "1", "-w", filepath.Join(dir, "ring.pcap")}
		}},
		{"dumpcap -b filesize", "dumpcap", func(iface, dir string) []string {
			return []string{"-i", iface, "-q", "-b", "filesize:1000", "-w", filepath.Join(dir, "ring.pcapng")}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkg := map[string]string{"tcpdump": "tcpdump", "dumpcap": "wireshark-common"}[tc.tool]
			tool := need.Tool(t, tc.tool, "Debian: apt-get install "+pkg)
			v := ringtest.NewVeth(t)
			dir, stateDir := t.TempDir(), t.TempDir()
			r := startWatch(t, bin, stateDir, "--watch", dir, "--workers", "1")
			capt := exec.Command(tool, tc.args(v.Outside, dir)...)
			var capErr lockedBuffer
			capt.Stderr = &capErr
			if err := capt.Start(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 20*time.Second, tc.tool+" did not start: "+capErr.String(), func() bool {
				s := capErr.String()
				return strings.Contains(s, "listening on") || strings.Contains(s, "Capturing on")
			})
			// ~5 s of traffic: several files
			sent := v.Replay(t, sample, "--pps=1000", "--loop=4")
			time.Sleep(500 * time.Millisecond) // the last packets reach the capture
			capt.Process.Signal(syscall.SIGINT)
			capt.Wait()
			entries, _ := os.ReadDir(dir)
			want, total := map[string]int{}, 0
			for _, e := range entries {
				p := filepath.Join(dir, e.Name())
				want[p] = records(t, p)
				total += want[p]
			}
			if len(want) < 2 || total == 0 || total > sent {
				t.Fatalf("%s wrote %d packets in %d files; tcpreplay sent %d: %s", tc.tool, total, len(want), sent, capErr.String())
			}
			waitFor(t, 60*time.Second, "not every file written", func() bool {
				n := 0
				for _, frames := range docsByFile(t, r.out) {
					n += len(frames)
				}
				return n >= total
			})
			r.stop(t)
			exactlyOnce(t, docsByFile(t, r.out), want)
			names := make([]string, 0, len(want))
			for p, n := range want {
				names = append(names, filepath.Base(p)+":"+strconv.Itoa(n))
			}
			sort.Strings(names)
			t.Logf("%d packets sent, %d files %v", sent, len(want), names)
		})
	}
}

// TestDirState: a --dir import with --state: every packet read counts,
// filtered out or not; a damaged file is reported with its offset and the
// rest goes on; a second run reads nothing again; --move-to moves each
// file once its documents were written.
func TestDirState(t *testing.T) {
	dir, moved := t.TempDir(), t.TempDir()
	state := filepath.Join(t.TempDir(), "state.json")
	copyCapture(t, pcaps+"seed_test_dns.pcap", filepath.Join(dir, "a.pcap"))
	copyCapture(t, sample, filepath.Join(dir, "b.pcap"))
	whole, _ := os.ReadFile(pcaps + "seed_test_dns.pcap")
	os.WriteFile(filepath.Join(dir, "c.pcap"), whole[:5000], 0o600) // cut inside a record
	want := map[string]uint64{"a.pcap": uint64(records(t, filepath.Join(dir, "a.pcap"))), "b.pcap": uint64(records(t, filepath.Join(dir, "b.pcap")))}
	wantState := func(t *testing.T) {
		st := stateEntries(t, state)
		for name, n := range want {
			if e := st[name]; !e.Done || e.Records != n {
				t.Errorf("state of %s: %+v, want done with %d records (filtered ones count)", name, e, n)
			}
		}
	}
	for _, tc := range []struct {
		name     string
		args     []string
		wantDocs bool
		left     bool // the second run says the files were left out
	}{
		{"filtered", []string{"--bpf", "udp"}, true, false},
		{"again", nil, false, true},
		{"moved", []string{"--move-to", moved}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errs, _ := espcap(t, append([]string{"--dir", dir, "--state", state}, tc.args...)...)
			if got := len(docs(t, out)) > 0; got != tc.wantDocs {
				t.Errorf("documents written: %v, want %v: %s", got, tc.wantDocs, errs)
			}
			if tc.left != strings.Contains(errs, "files left out: imported whole by an earlier run") {
				t.Errorf("left-out note: want %v: %s", tc.left, errs)
			}
			if tc.name != "moved" {
				wantState(t)
			}
		})
	}
	st := stateEntries(t, state)
	if e := st["c.pcap"]; !e.Done || !strings.Contains(e.Note, "offset 4900") {
		t.Errorf("damaged file's state: %+v", e)
	}
	if _, err := os.Stat(filepath.Join(dir, "c.pcap")); err != nil {
		t.Errorf("the damaged file was not left in place: %v", err)
	}
	for name := range want {
		if _, err := os.Stat(filepath.Join(moved, name)); err != nil {
			t.Errorf("%s not moved: %v", name, err)
		}
		if e, ok := st[name]; ok {
			t.Errorf("%s: moved, but still in the state: %+v", name, e)
		}
	}
}

// TestWatchFlagErrors: combinations that cannot work, an unreadable folder
// and a bad state file are clear errors.
func TestWatchFlagErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte("{not json"), 0o600)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--watch", dir, "--delete", "--move-to", dir}, 2, "either --delete or --move-to"},
		{[]string{"--file", sample, "--state", bad}, 2, "not --file"},
		{[]string{"--watch", dir, "--count", "5"}, 2, "--count and --watch"},
		{[]string{"--watch", dir, "--move-to", filepath.Join(dir, "none")}, 2, "--move-to"},
		{[]string{"--watch", filepath.Join(dir, "none")}, 1, "no such file or directory"},
		{[]string{"--dir", dir, "--state", bad}, 1, "not a watch state file"},
	} {
		_, errs, code := espcap(t, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("%q: exit %d, %q; want %d and %q", tc.args, code, errs, tc.code, tc.msg)
		}
	}
}

// TestWatchSpool: through the spool, a file counts as accepted once the
// server answered its documents; a restart reads nothing again.
func TestWatchSpool(t *testing.T) {
	base := estest.URL(t)
	prefix := testPrefix(t, base, "watchspool")
	bin := buildBinary(t)
	dir, stateDir := t.TempDir(), t.TempDir()
	state := filepath.Join(stateDir, "w.json")
	total := 0
	for i, src := range []string{"seed_test_dns.pcap", "arkime_dns-tcp.pcap"} {
		p := filepath.Join(dir, strconv.Itoa(i)+".pcap")
		copyCapture(t, pcaps+src, p)
		total += records(t, p)
	}
	args := []string{"--watch", dir, "--state", state, "--node", base, "--index-prefix", prefix,
		"--spool", filepath.Join(stateDir, "spool"), "--dead-letter", filepath.Join(stateDir, "dead.ndjson")}
	for run := range 2 {
		r := startWatch(t, bin, stateDir, args...)
		waitFor(t, 60*time.Second, "the files were not recorded as accepted", func() bool {
			st := stateEntries(t, state)
			return st["0.pcap"].Done && st["1.pcap"].Done
		})
		r.stop(t)
		m := readRE.FindStringSubmatch(r.stderr.String())
		if want := map[int]int{0: total, 1: 0}[run]; m == nil || m[1] != strconv.Itoa(want) {
			t.Errorf("run %d: packets read %v, want %d: %s", run, m, want, r.stderr.String())
		}
	}
	refresh(t, base, prefix)
	if got := countIn(t, base, prefix+"*"); got != total {
		t.Errorf("%d documents indexed, want %d", got, total)
	}
}

// TestWatchDelay writes 20 files, one at a time, into a watched folder and
// waits after each close until its documents are written (stdout) or
// searchable (--node, no refresh asked: the template's refresh interval
// is 5 s): each exactly once. It logs the delays from close to documents
// (median, max), and with --node also to the state recording them
// accepted (answered); it asserts no time.
func TestWatchDelay(t *testing.T) {
	base := estest.URL(t)
	if testing.Short() {
		t.Skip("-short: the searchable delay takes 20 refresh intervals")
	}
	bin := buildBinary(t)
	src, err := os.ReadFile(pcaps + "seed_test_dns.pcap")
	if err != nil {
		t.Fatal(err)
	}
	const files = 20
	per := records(t, pcaps+"seed_test_dns.pcap")
	for _, sink := range []string{"stdout", "node"} {
		t.Run(sink, func(t *testing.T) {
			dir, stateDir := t.TempDir(), t.TempDir()
			state := filepath.Join(stateDir, "w.json")
			args := []string{"--watch", dir, "--workers", "1", "--state", state}
			prefix := ""
			if sink == "node" {
				prefix = testPrefix(t, base, "watchdelay")
				args = append(args, "--node", base, "--index-prefix", prefix, "--dead-letter", filepath.Join(stateDir, "dead.ndjson"))
			}
			r := startWatch(t, bin, stateDir, args...)
			count := func() int {
				if sink == "stdout" {
					n := 0
					for _, frames := range docsByFile(t, r.out) {
						n += len(frames)
					}
					return n
				}
				st, b := esCall(t, base, "GET", "/"+prefix+"*/_count", nil)
				var c struct{ Count int }
				if st == 200 {
					json.Unmarshal(b, &c)
				}
				return c.Count
			}
			var delays, accepted []time.Duration
			for i := range files {
				// a distinct capture each time (another first timestamp),
				// so that the server does not take it for a duplicate
				data := append([]byte(nil), src...)
				data[24+4] ^= byte(i + 1)
				p := filepath.Join(dir, strconv.Itoa(1700000000+i)+".pcap")
				if err := os.WriteFile(p, data, 0o600); err != nil {
					t.Fatal(err)
				}
				closed := time.Now()
				for !stateEntries(t, state)[filepath.Base(p)].Done {
					if time.Since(closed) > 60*time.Second {
						t.Fatalf("file %d: not accepted after 60 s", i)
					}
					time.Sleep(5 * time.Millisecond)
				}
				accepted = append(accepted, time.Since(closed))
				for count() < (i+1)*per {
					if time.Since(closed) > 60*time.Second {
						t.Fatalf("file %d: documents missing after 60 s", i)
					}
					time.Sleep(5 * time.Millisecond)
				}
				delays = append(delays, time.Since(closed))
			}
			r.stop(t)
			if got := count(); got != files*per {
				t.Errorf("%d documents, want %d", got, files*per)
			}
			slices.Sort(delays)
			slices.Sort(accepted)
			t.Logf("%s: close to documents %s over %d files: median %v, max %v; close to the state recording them accepted: median %v, max %v", sink,
				map[string]string{"stdout": "written", "node": "searchable"}[sink], files,
				delays[files/2].Round(time.Millisecond), delays[files-1].Round(time.Millisecond),
				accepted[files/2].Round(time.Millisecond), accepted[files-1].Round(time.Millisecond))
		})
	}
}

// TestMoveAcross: the copy-and-remove move (across file systems) leaves
// the same bytes at the new place, private, and refuses to overwrite.
func TestMoveAcross(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "a.pcap"), filepath.Join(dir, "moved.pcap")
	copyCapture(t, sample, src)
	want, _ := os.ReadFile(src)
	if err := moveAcross(src, dst); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dst)
	if err != nil || string(got) != string(want) {
		t.Fatalf("moved file differs (%v)", err)
	}
	if _, err := os.Stat(src); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("source left: %v", err)
	}
	copyCapture(t, sample, src)
	if err := moveAcross(src, dst); err == nil {
		t.Errorf("overwrote %s", dst)
	}
	if _, err := os.Stat(src); err != nil {
		t.Errorf("source removed after a failed move: %v", err)
	}
}
