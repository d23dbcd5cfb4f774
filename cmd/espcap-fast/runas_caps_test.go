package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/espcap/espcap-fast/internal/need"
	"github.com/espcap/espcap-fast/internal/privdrop"
	"github.com/espcap/espcap-fast/ring/ringtest"
)

// startAs starts a copy of this test binary, as espcap-fast with args,
// given file capabilities caps (setcap syntax) and run as user t (no
// supplementary groups), and waits for it to capture (or end).
func startAs(t *testing.T, caps string, u privdrop.Target, args ...string) *liveProc {
	t.Helper()
	setcap := need.Tool(t, "setcap", "libcap2-bin")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := openTempDir(t)
	exe := filepath.Join(dir, "espcap-fast")
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(exe, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(setcap, caps, exe).CombinedOutput(); err != nil {
		t.Fatalf("setcap %s: %v: %s", caps, err, out)
	}
	cmd := exec.Command(exe)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID), Groups: []uint32{}}}
	return launchLive(t, cmd, args...)
}

// TestFileCapsRunAs: started as nobody from a binary with cap_net_raw=ep,
// --run-as nobody (the current user) drops every capability of every
// thread once the ring is open, and capture goes on; --run-as another
// user is a clear usage error.
func TestFileCapsRunAs(t *testing.T) {
	need.Root(t)
	target := nobody(t)
	target.Groups = nil // started with no supplementary group
	v := ringtest.NewVeth(t)

	p := startAs(t, "cap_net_raw=ep", target, "-i", v.Outside, "--workers", "2", "--run-as", "nobody", "--frame-timeout", "10ms")
	select {
	case <-p.done:
		t.Fatalf("exit %d: %s", p.code, p.stderr.String())
	default:
	}
	if !strings.Contains(p.stderr.String(), "running as nobody") {
		t.Fatalf("no drop reported: %s", p.stderr.String())
	}
	pid := p.cmd.Process.Pid
	target.Groups = []int{target.GID}
	if err := checkThreads(pid, target); err != nil {
		t.Fatal(err)
	}
	if st, err := privdrop.ReadStatus("/proc/" + strconv.Itoa(pid) + "/status"); err != nil || st.CapEff != "0000000000000000" {
		t.Fatalf("CapEff %q, %v; want 0", st.CapEff, err)
	}
	sent := v.Replay(t, pcaps+"seed_test_http.pcap")
	time.Sleep(300 * time.Millisecond) // past --frame-timeout
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t, 30*time.Second)
	if p.code != 0 {
		t.Fatalf("exit %d: %s", p.code, p.stderr.String())
	}
	if got := docs(t, p.stdout.String()); sent == 0 || len(got) != sent {
		t.Fatalf("%d documents for %d packets sent after the drop:\n%s", len(got), sent, p.stderr.String())
	}

	t.Run("another user", func(t *testing.T) {
		if _, err := privdrop.Lookup("daemon"); err != nil {
			need.Missing(t, "the user daemon: %v", err)
		}
		p := startAs(t, "cap_net_raw=ep", nobody(t), "-i", v.Outside, "--run-as", "daemon")
		p.wait(t, 30*time.Second)
		errs := p.stderr.String()
		if p.code != 2 || !strings.Contains(errs, "--run-as daemon: started without root") || !strings.Contains(errs, "may only name the current user") {
			t.Fatalf("exit %d, stderr %q; want exit 2 and a clear refusal", p.code, errs)
		}
	})
}
