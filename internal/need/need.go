// Package need is how a test asks for what it cannot run without: a tool
// (tshark, tcpdump), root, libpcap, the shared capture corpus, a server.
// When the thing is missing the test is skipped on a developer's machine
// and fails under CI (env CI or ESPCAP_REQUIRE_TOOLS set), so that CI never
// passes by skipping. The shared capture corpus (beside the checkout, not
// in it) is treated the same way (see NoCorpus). Tests must not call t.Skip for a missing dependency
// themselves; they call Missing (or one of the helpers built on it).
package need

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Required reports whether missing dependencies are failures (CI) rather
// than reasons to skip.
func Required() bool {
	return os.Getenv("CI") != "" || os.Getenv("ESPCAP_REQUIRE_TOOLS") != ""
}

// Missing ends the test: it fails under CI and is skipped elsewhere, with
// the message given.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("%s (required under CI)", msg)
	}
	t.Skip(msg)
}

// Tool returns the path of the named program, or ends the test (see
// Missing) when it is not installed. hint says how to install it.
func Tool(t testing.TB, name, hint string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "%s not installed (%s)", name, hint)
	}
	return p
}

// Tshark returns the path of tshark, the reference dissector.
func Tshark(t testing.TB) string {
	t.Helper()
	return Tool(t, "tshark", "Debian: apt-get install tshark")
}

// Root ends the test (see Missing) unless it runs as root.
func Root(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "needs root")
	}
}

// Shared returns the shared capture corpus (the folder holding INDEX.md, see
// SharedDir), or ends the test (see NoCorpus) when there is none.
func Shared(t testing.TB) string {
	t.Helper()
	d := SharedDir()
	if d == "" {
		NoCorpus(t, "shared capture corpus not found beside the checkout (set ESPCAP_SHARED)")
	}
	return d
}

// NoCorpus ends a test that reads the shared capture corpus when the corpus
// is not there: skipped on a developer's machine, a failure under CI (see
// Missing), where the corpus is checked out beside the repository as it is
// here (../shared/pcaps).
func NoCorpus(t testing.TB, format string, args ...any) {
	t.Helper()
	Missing(t, format, args...)
}

// SharedDir returns the shared capture corpus (the folder holding INDEX.md):
// $ESPCAP_SHARED if set, else the first shared/pcaps found beside the
// checkout, looking up from the working directory (a package's test runs in
// the package's folder). It returns "" when there is none.
func SharedDir() string {
	if d := os.Getenv("ESPCAP_SHARED"); d != "" {
		if _, err := os.Stat(filepath.Join(d, "INDEX.md")); err != nil {
			if c := filepath.Join(d, "pcaps"); fileExists(filepath.Join(c, "INDEX.md")) {
				return c
			}
		}
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		c := filepath.Join(dir, "shared", "pcaps")
		if fileExists(filepath.Join(c, "INDEX.md")) {
			return c
		}
		up := filepath.Dir(dir)
		if up == dir {
			return ""
		}
		dir = up
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
