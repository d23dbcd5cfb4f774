package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/espcap/espcap-fast/internal/estest"
	"github.com/espcap/espcap-fast/internal/need"
	"github.com/espcap/espcap-fast/ring/ringtest"
)

// TestLiveSpoolOutage: a live capture with --node (spool on by default, in
// the state directory) while the cluster refuses every bulk request; the
// replay goes to the spool (mostly on disk: --spool-mem 1M), the cluster
// comes back, and after the catch-up the index holds exactly the packets
// the kernel accepted, none dropped, none twice.
func TestLiveSpoolOutage(t *testing.T) {
	base := estest.URL(t)
	v := ringtest.NewVeth(t)
	prefix := testPrefix(t, base, "live-spool")
	px, url := startProxy(t, base)
	px.reject.Store(1 << 40) // outage: every bulk request answered 429
	p := startLive(t, nil, "-i", v.Outside, "--workers", "2", "--node", url, "--index-prefix", prefix,
		"--spool-mem", "1M", "--flush-timeout", "1h", "--stats-interval", "500ms")
	// the HTTP sample 16 times (ESPCAP_SPOOL_DRILL_LOOPS: more, e.g. 400
	// for the 500,000-packet drill)
	loops := 16
	if n, err := strconv.Atoi(os.Getenv("ESPCAP_SPOOL_DRILL_LOOPS")); err == nil && n > 0 {
		loops = n
	}
	want := loops * 1268
	sent := v.Replay(t, pcaps+"seed_test_http.pcap", "--pps=50000", "--loop="+strconv.Itoa(loops))
	if sent != want {
		t.Fatalf("tcpreplay sent %d of %d packets", sent, want)
	}
	px.reject.Store(0) // the cluster is back
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t, 4*time.Minute+time.Duration(loops)*time.Second)
	errs := p.stderr.String()
	t.Logf("%s", errs)
	if p.code != 0 {
		t.Fatalf("exit %d", p.code)
	}
	k, d := kernelCounts(t, errs, v.Outside)
	if d != 0 || k < want {
		t.Errorf("kernel: %d packets, %d dropped; want all %d, none dropped", k, d, want)
	}
	s := parseSummary(t, errs)
	if s.dups != 0 || s.dead != 0 {
		t.Errorf("%d duplicates, %d dead-lettered", s.dups, s.dead)
	}
	m := replayedRE.FindStringSubmatch(lastLineWith(errs, "indexed:"))
	if m == nil || m[1] == "0" || m[2] != "0" {
		t.Errorf("final summary %q: want documents replayed from disk, none dropped", lastLineWith(errs, "indexed:"))
	}
	refresh(t, base, prefix)
	if n := countIn(t, base, prefix+"*"); n != k {
		t.Errorf("%d documents indexed, kernel accepted %d packets", n, k)
	}
	// the spool was the default one, in the state directory
	segs, _ := filepath.Glob(filepath.Join(os.Getenv("ESPCAP_STATE_DIR"), "spool", "*.seg"))
	if len(segs) == 0 || !strings.Contains(errs, "; spool ") {
		t.Errorf("no spool in the state directory (%v)", segs)
	}
}

// TestLiveSpoolKill9: kill -9 of a live capture whose cluster never
// answers, with both engines and the default spool (in --state-dir, every
// batch through the disk: --spool-mem 0); drain on the same state
// directory then indexes every document the run had read, exactly once.
func TestLiveSpoolKill9(t *testing.T) {
	base := estest.URL(t)
	for _, engine := range []string{"native", "tshark"} {
		t.Run(engine, func(t *testing.T) {
			if engine == "tshark" {
				need.Tshark(t)
			}
			v := ringtest.NewVeth(t)
			prefix := testPrefix(t, base, "live-kill-"+engine)
			state := t.TempDir()
			p := startLive(t, nil, "-i", v.Outside, "--engine", engine, "--node", stallProxy(t, base), "--index-prefix", prefix,
				"--state-dir", state, "--spool-mem", "0", "--stats-interval", "100ms")
			sent := v.Replay(t, pcaps+"seed_test_http.pcap", "--pps=20000", "--loop=4")
			// every packet read and the spool no longer growing (the
			// indexers hold a few batches, never answered)
			read := spoolSettled(t, p.stderr.String, p.done, sent)
			if err := p.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			<-p.done
			segs, _ := filepath.Glob(filepath.Join(state, "spool", "*.seg"))
			if len(segs) == 0 {
				t.Fatalf("no default spool in the state directory %s", state)
			}
			_, errs, code := espcap(t, "drain", "--node", base, "--state-dir", state)
			t.Logf("drain:\n%s", errs)
			if code != 0 || !strings.Contains(errs, strconv.Itoa(read)+" docs indexed, 0 duplicates") {
				t.Errorf("drain: exit %d; want %d docs indexed, 0 duplicates", code, read)
			}
			if !strings.Contains(errs, "into "+prefix) {
				t.Errorf("drain does not name the indices it wrote (%s*)", prefix)
			}
			refresh(t, base, prefix)
			if n := countIn(t, base, prefix+"*"); n != read {
				t.Errorf("%d documents indexed after drain; the killed run had read %d packets (%d sent)", n, read, sent)
			}
		})
	}
}
