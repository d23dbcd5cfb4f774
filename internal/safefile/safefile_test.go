package safefile

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/espcap/espcap-fast/internal/need"
)

func TestCreateIsPrivate(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	p := filepath.Join(t.TempDir(), "f")
	f, err := Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != Mode {
		t.Fatalf("mode %v, %v; want %v", fi.Mode().Perm(), err, os.FileMode(Mode))
	}
}

func TestRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if f, err := Append(link); err == nil {
		f.Close()
		t.Fatal("Append followed a symbolic link")
	} else if !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("error %q does not say why", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "secret\n" {
		t.Fatalf("target changed: %q", b)
	}
}

func TestRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// O_RDWR on a FIFO would succeed without a reader; it must be refused,
	// and must not hang
	if f, err := OpenFile(fifo, os.O_RDWR|os.O_CREATE); err == nil {
		f.Close()
		t.Fatal("opened a FIFO")
	} else if !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("error %q does not say why", err)
	}
	if f, err := Append(dir); err == nil {
		f.Close()
		t.Fatal("opened a directory for writing")
	}
}

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state")
	for _, want := range []string{"first", "second, longer", "3"} {
		if err := WriteAtomic(p, []byte(want)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != want {
			t.Fatalf("read %q, %v; want %q", got, err, want)
		}
		if fi, _ := os.Stat(p); fi.Mode().Perm() != Mode {
			t.Fatalf("mode %v", fi.Mode())
		}
	}
	if _, err := os.Stat(p + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temporary file left: %v", err)
	}
	os.Symlink("/etc/passwd", p+"2.tmp")
	if err := WriteAtomic(p+"2", []byte("x")); err == nil {
		t.Fatal("followed a symbolic link at the temporary name")
	}
}

// TestTightensExisting: an existing file opened for writing that group or
// others may access is made 0600 when it is ours; read-only opens leave
// the mode alone.
func TestTightensExisting(t *testing.T) {
	for _, c := range []struct {
		name string
		mode os.FileMode
		open func(string) (*os.File, error)
		want os.FileMode
	}{
		{"append 0644", 0o644, Append, Mode},
		{"append 0666", 0o666, Append, Mode},
		{"append 0640", 0o640, Append, Mode},
		{"append 0600", 0o600, Append, Mode},
		{"create 0644", 0o644, Create, Mode},
		{"rdwr 0604", 0o604, func(p string) (*os.File, error) { return OpenFile(p, os.O_RDWR) }, Mode},
		{"read-only 0644", 0o644, func(p string) (*os.File, error) { return OpenFile(p, os.O_RDONLY) }, 0o644},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "dead-letter.ndjson")
			if err := os.WriteFile(p, []byte("old\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, c.mode); err != nil {
				t.Fatal(err)
			}
			f, err := c.open(p)
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
			if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != c.want {
				t.Fatalf("mode %v, %v; want %v", fi.Mode().Perm(), err, c.want)
			}
		})
	}
}

// TestRefusesOthersOpenFile: as root, a file of another user that others
// may read is neither written nor chmodded.
func TestRefusesOthersOpenFile(t *testing.T) {
	need.Root(t)
	p := filepath.Join(t.TempDir(), "dead-letter.ndjson")
	if err := os.WriteFile(p, []byte("theirs\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, 12345, 12345); err != nil {
		t.Fatal(err)
	}
	f, err := Append(p)
	if err == nil {
		f.Close()
		t.Fatal("opened another user's 0644 file for writing")
	}
	if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "not ours") {
		t.Fatalf("error %q does not name the file and the reason", err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode changed to %v", fi.Mode().Perm())
	}
	// a private file of another user stays writable by root, as before
	os.Chmod(p, 0o600)
	if f, err := Append(p); err != nil {
		t.Fatal(err)
	} else {
		f.Close()
	}
}
