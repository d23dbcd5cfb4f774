package bulk

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestDeadLetterFileSafety: the dead-letter file is created private (0600),
// and a symbolic link or FIFO at its path, found at start or planted before
// the first rejected document, is refused: the file it points to is never
// written.
func TestDeadLetterFileSafety(t *testing.T) {
	write := func(d *deadLetter) error {
		if err := d.write([]byte(`"idx"`), []byte(`"id1"`), 400, []byte(`{"type":"x"}`), []byte(`{"n":"secret"}`)); err != nil {
			return err
		}
		return d.close()
	}
	symlink := func(t *testing.T, path string) string {
		target := filepath.Join(t.TempDir(), "victim")
		if err := os.WriteFile(target, []byte("root-owned\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, path); err != nil {
			t.Fatal(err)
		}
		return target
	}
	cases := []struct {
		name     string
		before   func(t *testing.T, path string) string // planted before openDeadLetter; returns a file that must stay unchanged
		after    func(t *testing.T, path string) string // planted before the first write
		openErr  string
		writeErr string
	}{
		{name: "new file"},
		{name: "symlink at start", before: symlink, openErr: "symbolic link"},
		{name: "symlink planted later", after: symlink, writeErr: "symbolic link"},
		{name: "fifo at start", before: func(t *testing.T, path string) string {
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
			return ""
		}, openErr: "not a regular file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "dl.ndjson")
			var victim string
			if c.before != nil {
				victim = c.before(t, path)
			}
			d, err := openDeadLetter(path)
			if c.openErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.openErr) {
					t.Fatalf("openDeadLetter: %v; want an error saying %q", err, c.openErr)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if c.after != nil {
					victim = c.after(t, path)
				}
				err = write(d)
				if c.writeErr == "" && err != nil || c.writeErr != "" && (err == nil || !strings.Contains(err.Error(), c.writeErr)) {
					t.Fatalf("write: %v; want error %q", err, c.writeErr)
				}
			}
			if victim != "" {
				if b, _ := os.ReadFile(victim); string(b) != "root-owned\n" {
					t.Errorf("the file behind the link was written: %q", b)
				}
			}
			if c.openErr == "" && c.writeErr == "" {
				st, err := os.Lstat(path)
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode() != 0o600 {
					t.Errorf("dead-letter file mode %v, want -rw-------", st.Mode())
				}
			}
		})
	}
}
