package statedir

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDefaultDir(t *testing.T) {
	for _, c := range []struct {
		euid      int
		xdg, home string
		want      string
		wantErr   bool
	}{
		{0, "/x", "/root", "/var/lib/espcap-fast", false},
		{1000, "/home/u/.state", "/home/u", "/home/u/.state/espcap-fast", false},
		{1000, "relative", "/home/u", "/home/u/.local/state/espcap-fast", false},
		{1000, "", "/home/u", "/home/u/.local/state/espcap-fast", false},
		{1000, "", "", "", true},
	} {
		got, err := defaultDir(c.euid, c.xdg, c.home)
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("defaultDir(%d, %q, %q) = %q, %v; want %q (error %v)", c.euid, c.xdg, c.home, got, err, c.want, c.wantErr)
		}
	}
}

func TestOverrideAndSub(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(Env, filepath.Join(dir, "env"))
	if d, _ := Dir(); d != filepath.Join(dir, "env") {
		t.Fatalf("Dir with %s = %q", Env, d)
	}
	Set(filepath.Join(dir, "flag"))
	defer Set("")
	p, err := Sub("spool")
	if err != nil {
		t.Fatal(err)
	}
	if p != filepath.Join(dir, "flag", "spool") {
		t.Fatalf("Sub = %q", p)
	}
	fi, err := os.Stat(p)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("Sub made %v, %v; want a 0700 directory", fi.Mode(), err)
	}
}
