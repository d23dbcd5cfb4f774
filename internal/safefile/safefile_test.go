package safefile

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
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
