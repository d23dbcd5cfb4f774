package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/espcap/espcap-fast/internal/estest"
	"github.com/espcap/espcap-fast/internal/need"
	"github.com/espcap/espcap-fast/internal/privdrop"
	"github.com/espcap/espcap-fast/internal/statedir"
)

// TestRunAsErrors: an unknown user, root itself and --engine tshark live
// are usage errors (exit 2) named clearly, before anything is opened.
func TestRunAsErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown user live", []string{"-i", "lo", "--run-as", "no-such-user-espcap"}, `--run-as: no user "no-such-user-espcap" on this system`},
		{"unknown user -Z", []string{"-i", "lo", "-Z", "no-such-user-espcap"}, `--run-as: no user "no-such-user-espcap"`},
		{"unknown uid", []string{"-i", "lo", "--run-as", "4294967"}, `--run-as: no user "4294967"`},
		{"unknown user file", []string{"-r", pcaps + "seed_test_http.pcap", "--run-as", "no-such-user-espcap"}, `--run-as: no user "no-such-user-espcap"`},
		{"root", []string{"-i", "lo", "--run-as", "root"}, "is root (uid 0): nothing would be dropped"},
		{"unknown user tshark live", []string{"-i", "lo", "--engine", "tshark", "--run-as", "no-such-user-espcap"}, `--engine tshark: --run-as: no user "no-such-user-espcap"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(c.args, &out, &errb)
			if code != 2 || !strings.Contains(errb.String(), c.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 and %q", code, errb.String(), c.want)
			}
			if out.Len() != 0 {
				t.Fatalf("wrote documents: %q", out.String())
			}
		})
	}
}

// nobody returns the user nobody, as --run-as nobody should become.
func nobody(t *testing.T) privdrop.Target {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		need.Missing(t, "the user nobody: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return privdrop.Target{Name: "nobody", UID: uid, GID: gid, Groups: []int{gid}}
}

// udpListener listens on a UDP port of its own on 127.0.0.1, so that a
// capture filter on it sees only the test's packets.
func udpListener(t *testing.T) (*net.UDPConn, int) {
	t.Helper()
	l, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, l.LocalAddr().(*net.UDPAddr).Port
}

// checkThreads checks every thread of process pid against t (see
// privdrop.Status.Check).
func checkThreads(pid int, t privdrop.Target) error {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil || len(tasks) == 0 {
		return fmt.Errorf("no tasks of %d: %v", pid, err)
	}
	for _, st := range append([]string{fmt.Sprintf("/proc/%d/status", pid)}, tasks...) {
		s, err := privdrop.ReadStatus(st)
		if err != nil {
			return err
		}
		if err := s.Check(t); err != nil {
			return fmt.Errorf("%s: %w", st, err)
		}
	}
	return nil
}

// sendUDP sends n datagrams to l and returns once l received them all
// (so they went through lo).
func sendUDP(t *testing.T, l *net.UDPConn, n int) {
	t.Helper()
	c, err := net.DialUDP("udp4", nil, l.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range n {
		if _, err := fmt.Fprintf(c, "espcap run-as %d", i); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 64)
	for range n {
		l.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, _, err := l.ReadFromUDP(buf); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLiveRunAs captures on lo as root with --run-as nobody: once capturing,
// every thread of the process is nobody with no capability, the packets
// sent after the drop are written, and a root-only place (a spool under a
// 0700 root directory) is refused with a clear error.
func TestLiveRunAs(t *testing.T) {
	need.Root(t)
	target := nobody(t)
	l, port := udpListener(t)

	for _, flag := range []string{"--run-as", "-Z"} {
		t.Run(flag, func(t *testing.T) {
			p := startLive(t, nil, "-i", "lo", "--workers", "2", flag, "nobody", "--frame-timeout", "10ms", "udp", "and", "dst", "port", strconv.Itoa(port))
			select {
			case <-p.done:
				t.Fatalf("exit %d: %s", p.code, p.stderr.String())
			default:
			}
			if !strings.Contains(p.stderr.String(), "running as nobody") {
				t.Fatalf("no drop reported: %s", p.stderr.String())
			}
			if err := checkThreads(p.cmd.Process.Pid, target); err != nil {
				t.Fatal(err)
			}
			const sent = 25
			sendUDP(t, l, sent)
			time.Sleep(300 * time.Millisecond) // past --frame-timeout: the blocks reach the workers
			p.cmd.Process.Signal(syscall.SIGTERM)
			p.wait(t, 30*time.Second)
			if p.code != 0 {
				t.Fatalf("exit %d: %s", p.code, p.stderr.String())
			}
			if got := docs(t, p.stdout.String()); len(got) != sent {
				t.Fatalf("%d documents for %d packets sent after the drop:\n%s", len(got), sent, p.stderr.String())
			}
		})
	}

	t.Run("root-only spool refused", func(t *testing.T) {
		closed := filepath.Join(t.TempDir(), "root-only")
		if err := os.Mkdir(closed, 0o700); err != nil {
			t.Fatal(err)
		}
		spool := filepath.Join(closed, "spool")
		// a state directory nobody can reach (/tmp is), handed to nobody
		// before the drop
		parent := openTempDir(t)
		state := filepath.Join(parent, "state")
		p := startLive(t, nil, "-i", "lo", "--run-as", "nobody", "--node", estest.URL(t), "--index-prefix", "espcap-runas-test-", "--spool", spool,
			"--state-dir", state, "udp", "and", "dst", "port", strconv.Itoa(port))
		p.wait(t, 30*time.Second)
		errs := p.stderr.String()
		if p.code != 1 || !strings.Contains(errs, spool) || !strings.Contains(errs, "permission denied") {
			t.Fatalf("exit %d, stderr %q; want exit 1 naming %s and permission denied", p.code, errs, spool)
		}
		if _, err := os.Stat(spool); !os.IsNotExist(err) {
			t.Fatalf("spool %s created (%v) by a process that should be nobody", spool, err)
		}
		// the state directory was made nobody's, and nobody created the
		// dead-letter directory in it after the drop
		for _, d := range []string{state, filepath.Join(state, "dead-letter")} {
			fi, err := os.Stat(d)
			if err != nil {
				t.Fatal(err)
			}
			if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != target.UID || int(st.Gid) != target.GID {
				t.Fatalf("%s owned by %d:%d, want nobody %d:%d", d, st.Uid, st.Gid, target.UID, target.GID)
			}
		}
	})
}

// TestGiveStateDirRefusesShared: a state directory others may enter (as
// /etc or /var would be) is not handed to the --run-as user.
func TestGiveStateDirRefusesShared(t *testing.T) {
	defer statedir.Set("")
	for _, c := range []struct {
		mode    os.FileMode
		symlink bool
	}{{0o755, false}, {0o750, false}, {0o700, true}} {
		dir := filepath.Join(t.TempDir(), "state")
		if err := os.Mkdir(dir, c.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, c.mode); err != nil {
			t.Fatal(err)
		}
		if c.symlink {
			link := dir + "-link"
			if err := os.Symlink(dir, link); err != nil {
				t.Fatal(err)
			}
			dir = link
		}
		target := privdrop.Target{Name: "someone", UID: os.Getuid() + 1, GID: os.Getgid() + 1}
		err := giveStateDir(&target, &spoolFlags{stateDir: dir})
		if err == nil || !strings.Contains(err.Error(), "is not a private directory") || !strings.Contains(err.Error(), dir) {
			t.Errorf("mode %v symlink %v: %v; want a refusal naming %s", c.mode, c.symlink, err, dir)
		}
		if fi, err := os.Stat(dir); err != nil || int(fi.Sys().(*syscall.Stat_t).Uid) != os.Getuid() {
			t.Errorf("%s changed owner: %v", dir, err)
		}
	}
}

// openTempDir returns a new directory that every user may enter (t.TempDir
// is under a root-only 0700 directory), removed at the end of the test.
func openTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "espcap-runas-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestFileRunAs: a file import with --run-as drops at once, so a capture
// only root may read is refused as nobody, while one nobody may read is
// imported whole.
func TestFileRunAs(t *testing.T) {
	need.Root(t)
	nobody(t)
	src, err := os.ReadFile(pcaps + "seed_test_http.pcap")
	if err != nil {
		t.Fatal(err)
	}
	parent := openTempDir(t)
	open := filepath.Join(parent, "open.pcap")
	closed := filepath.Join(parent, "closed.pcap")
	if err := os.WriteFile(open, src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(closed, src, 0o600); err != nil {
		t.Fatal(err)
	}
	want := len(fileDocs(t, open))

	p := startLive(t, nil, "-r", open, "--run-as", "nobody")
	p.wait(t, 30*time.Second)
	if got := docs(t, p.stdout.String()); p.code != 0 || len(got) != want {
		t.Fatalf("exit %d, %d documents, want 0 and %d: %s", p.code, len(got), want, p.stderr.String())
	}
	t.Run("tshark", func(t *testing.T) {
		// tshark, started after the drop, runs as nobody with nobody's
		// HOME (root's Wireshark settings are not readable)
		needTshark(t)
		p := startLive(t, nil, "--engine", "tshark", "-r", open, "--run-as", "nobody")
		p.wait(t, 60*time.Second)
		if got := docs(t, p.stdout.String()); p.code != 0 || len(got) != want {
			t.Fatalf("--engine tshark: exit %d, %d documents, want 0 and %d: %.2000s", p.code, len(got), want, p.stderr.String())
		}
	})
	p = startLive(t, nil, "-r", closed, "-Z", "nobody")
	p.wait(t, 30*time.Second)
	if errs := p.stderr.String(); p.code != 1 || !strings.Contains(errs, closed) || !strings.Contains(errs, "permission denied") {
		t.Fatalf("exit %d, stderr %q; want exit 1, %s and permission denied", p.code, errs, closed)
	}
}

// TestTsharkLiveRunAs: with --engine tshark, tshark runs as nobody with no
// capability while dumpcap keeps root, and the packets are written.
func TestTsharkLiveRunAs(t *testing.T) {
	need.Root(t)
	needTshark(t)
	target := nobody(t)
	l, port := udpListener(t)
	p := startLive(t, nil, "--engine", "tshark", "-i", "lo", "-Z", "nobody", "udp", "and", "dst", "port", strconv.Itoa(port))
	pid := p.cmd.Process.Pid
	kids, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, k := range kids {
		b, _ := os.ReadFile(k)
		for _, c := range strings.Fields(string(b)) {
			comm, _ := os.ReadFile("/proc/" + c + "/comm")
			name := strings.TrimSpace(string(comm))
			st, err := privdrop.ReadStatus("/proc/" + c + "/status")
			if err != nil {
				t.Fatal(err)
			}
			cmdline, _ := os.ReadFile("/proc/" + c + "/cmdline")
			if name == "tshark" && !bytes.Contains(cmdline, []byte("\x00ek\x00")) {
				continue // tshark -G fields, the field table, not the dissector
			}
			switch name {
			case "tshark":
				if err := checkThreads(mustAtoi(t, c), target); err != nil {
					t.Fatalf("tshark: %v", err)
				}
			case "dumpcap":
				if st.Uid[1] != 0 {
					t.Fatalf("dumpcap runs as uid %v, want root", st.Uid)
				}
			}
			seen[name] = true
		}
	}
	if !seen["tshark"] || !seen["dumpcap"] {
		t.Fatalf("children %v, want tshark and dumpcap", seen)
	}
	if st, err := privdrop.ReadStatus(fmt.Sprintf("/proc/%d/status", pid)); err != nil || st.Uid[1] != 0 {
		t.Fatalf("espcap-fast: %v, %v; want root (it stops dumpcap)", st.Uid, err)
	}
	const sent = 25
	sendUDP(t, l, sent)
	time.Sleep(time.Second) // dumpcap writes, tshark dissects
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t, 60*time.Second)
	if p.code != 0 {
		t.Fatalf("exit %d: %s", p.code, p.stderr.String())
	}
	if got := docs(t, p.stdout.String()); len(got) != sent {
		t.Fatalf("%d documents for %d packets:\n%s", len(got), sent, p.stderr.String())
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
