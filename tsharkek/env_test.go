package tsharkek

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestChildEnvironment runs a stand-in tshark that records its environment:
// the Elasticsearch secrets (ES_*) must not reach it, the rest must.
func TestChildEnvironment(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, "env")
	fake := filepath.Join(dir, "tshark")
	script := "#!/bin/sh\nenv > '" + envFile + "'\necho 'TShark (Wireshark) 4.2.2 (Git v4.2.2)'\n"
	if err := os.WriteFile(fake, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ES_PASSWORD", "hunter2")
	t.Setenv("ES_API_KEY", "c2VjcmV0OmtleQ==")
	t.Setenv("ESPCAP_CHILD_MARK", "kept")
	if _, err := Check(context.Background(), fake); err != nil {
		t.Fatalf("Check: %v", err)
	}
	b, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	env := string(b)
	for _, secret := range []string{"ES_PASSWORD", "ES_API_KEY", "hunter2", "c2VjcmV0OmtleQ=="} {
		if strings.Contains(env, secret) {
			t.Errorf("the child's environment holds %q", secret)
		}
	}
	if !strings.Contains(env, "ESPCAP_CHILD_MARK=kept") || !strings.Contains(env, "PATH=") {
		t.Errorf("the child's environment lost ordinary variables:\n%s", env)
	}
}

func TestWithHome(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
	}{
		{[]string{"PATH=/bin", "HOME=/root", "XDG_CONFIG_HOME=/root/.config", "LANG=C"}, "PATH=/bin LANG=C HOME=/nonexistent"},
		{[]string{"PATH=/bin"}, "PATH=/bin HOME=/nonexistent"},
		{[]string{"HOMEX=1", "HOME=/a", "HOME=/b"}, "HOMEX=1 HOME=/nonexistent"},
	} {
		in := append([]string(nil), c.in...)
		if got := strings.Join(withHome(in, "/nonexistent"), " "); got != c.want {
			t.Errorf("withHome(%q) = %q, want %q", c.in, got, c.want)
		}
		if strings.Join(in, " ") != strings.Join(c.in, " ") {
			t.Errorf("withHome changed its argument: %q", in)
		}
	}
}
