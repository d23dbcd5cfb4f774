package privdrop

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/espcap/espcap-fast/internal/need"
)

func TestLookup(t *testing.T) {
	for _, c := range []struct {
		name, wantErr string
	}{
		{"", "no user name given"},
		{"no-such-user-espcap", `no user "no-such-user-espcap" on this system`},
		{"4294967", `no user "4294967" on this system`},
		{"root", "is root (uid 0)"},
		{"0", "is root (uid 0)"},
	} {
		_, err := Lookup(c.name)
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("Lookup(%q) = %v; want an error with %q", c.name, err, c.wantErr)
		}
	}
	// nobody by name and by number: the same user, its primary group first
	byName, err := Lookup("nobody")
	if err != nil {
		need.Missing(t, "no user nobody here: %v", err)
	}
	byID, err := Lookup(strconv.Itoa(byName.UID))
	if err != nil || byID.UID != byName.UID || byID.GID != byName.GID {
		t.Fatalf("Lookup(%d) = %+v, %v; want %+v", byName.UID, byID, err, byName)
	}
	if len(byName.Groups) == 0 || byName.Groups[0] != byName.GID {
		t.Fatalf("groups %v do not start with the primary group %d", byName.Groups, byName.GID)
	}
}

func TestStatusCheck(t *testing.T) {
	const status = `Name:	espcap-fast
Uid:	%U
Gid:	%G
Groups:	%S
CapInh:	%I
CapPrm:	%P
CapEff:	%E
CapBnd:	000001ffffffffff
CapAmb:	%A
`
	target := Target{Name: "u", UID: 1000, GID: 100, Groups: []int{100, 20}}
	for _, c := range []struct {
		name               string
		uid, gid, groups   string
		inh, prm, eff, amb string
		wantErr            string
	}{
		{"dropped", "1000 1000 1000 1000", "100 100 100 100", "100 20", "0", "0", "0", "0", ""},
		{"no groups", "1000 1000 1000 1000", "100 100 100 100", "", "0", "0", "0", "0", ""},
		{"root", "0 0 0 0", "0 0 0 0", "0", "0", "000001ffffffffff", "000001ffffffffff", "0", "uids [0 0 0 0]"},
		{"saved uid root", "1000 1000 0 1000", "100 100 100 100", "100", "0", "0", "0", "0", "uids [1000 1000 0 1000]"},
		{"gid", "1000 1000 1000 1000", "0 100 100 100", "100", "0", "0", "0", "0", "gids [0 100 100 100]"},
		{"extra group", "1000 1000 1000 1000", "100 100 100 100", "100 0", "0", "0", "0", "0", "supplementary group 0"},
		{"cap_net_raw effective", "1000 1000 1000 1000", "100 100 100 100", "", "0", "0000000000002000", "0000000000002000", "0", "permitted capabilities 0000000000002000"},
		{"inheritable", "1000 1000 1000 1000", "100 100 100 100", "", "0000000000002000", "0", "0", "0", "inheritable"},
		{"ambient", "1000 1000 1000 1000", "100 100 100 100", "", "0", "0", "0", "0000000000002000", "ambient"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := strings.NewReplacer("%U", c.uid, "%G", c.gid, "%S", c.groups, "%I", c.inh, "%P", c.prm, "%E", c.eff, "%A", c.amb).Replace(status)
			p := filepath.Join(t.TempDir(), "status")
			if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
				t.Fatal(err)
			}
			st, err := ReadStatus(p)
			if err != nil {
				t.Fatal(err)
			}
			err = st.Check(target)
			if (c.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("Check = %v; want %q", err, c.wantErr)
			}
		})
	}
}

func TestReadStatusErrors(t *testing.T) {
	for _, s := range []string{"Name:\tx\n", "Uid:\t0 x 0 0\nGid:\t0 0 0 0\nCapEff:\t0\n", "Uid:\t0 0\nGid:\t0 0 0 0\nCapEff:\t0\n"} {
		p := filepath.Join(t.TempDir(), "status")
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadStatus(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("ReadStatus(%q) = %v; want an error naming the file", s, err)
		}
	}
}

// TestVerifySelf: the test process, as whoever runs it, is not some other
// user, and Verify says so naming a thread.
func TestVerifySelf(t *testing.T) {
	other := Target{Name: "other", UID: os.Getuid() + 12345, GID: os.Getgid() + 12345}
	if err := Verify(other); err == nil || !strings.Contains(err.Error(), "thread") {
		t.Fatalf("Verify(%+v) = %v; want a thread's mismatch", other, err)
	}
}

// TestAllThreads: allThreads reaches every thread of the process, also in
// a build with cgo where the runtime cannot (a thread name set with
// prctl(PR_SET_NAME), harmless and per thread, is the probe).
func TestAllThreads(t *testing.T) {
	// more threads: goroutines locked to threads of their own, waiting
	stop := make(chan struct{})
	defer close(stop)
	ready := make(chan struct{})
	for range 4 {
		go func() {
			runtime.LockOSThread()
			ready <- struct{}{}
			<-stop
		}()
	}
	for range 4 {
		<-ready
	}
	name := []byte("espcap-probe\x00")
	if err := allThreads(unix.SYS_PRCTL, unix.PR_SET_NAME, uintptr(unsafe.Pointer(&name[0]))); err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(name)
	tasks, err := filepath.Glob("/proc/self/task/*/comm")
	if err != nil || len(tasks) < 5 {
		t.Fatalf("%d threads, %v; want 5 or more", len(tasks), err)
	}
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the thread ended
		}
		if got := strings.TrimSpace(string(b)); got != "espcap-probe" {
			t.Errorf("%s: %q, not reached", p, got)
		}
	}
}
