package need

import "testing"

func TestRequired(t *testing.T) {
	for _, c := range []struct {
		ci, req string
		want    bool
	}{
		{"", "", false},
		{"true", "", true},
		{"", "1", true},
	} {
		t.Setenv("CI", c.ci)
		t.Setenv("ESPCAP_REQUIRE_TOOLS", c.req)
		if got := Required(); got != c.want {
			t.Errorf("CI=%q ESPCAP_REQUIRE_TOOLS=%q: Required() = %v", c.ci, c.req, got)
		}
	}
}

// fakeTB records how a test ended.
type fakeTB struct {
	testing.TB
	failed, skipped bool
}

func (f *fakeTB) Helper()                           {}
func (f *fakeTB) Fatalf(format string, args ...any) { f.failed = true }
func (f *fakeTB) Skip(args ...any)                  { f.skipped = true }

func TestMissing(t *testing.T) {
	t.Setenv("ESPCAP_REQUIRE_TOOLS", "")
	t.Setenv("CI", "")
	f := &fakeTB{}
	Missing(f, "x")
	if !f.skipped || f.failed {
		t.Fatalf("outside CI: skipped %v failed %v", f.skipped, f.failed)
	}
	t.Setenv("CI", "true")
	f = &fakeTB{}
	Missing(f, "x")
	if !f.failed {
		t.Fatal("under CI a missing dependency must fail the test")
	}
	f = &fakeTB{}
	Tool(f, "espcap-fast-no-such-tool", "none")
	if !f.failed {
		t.Fatal("Tool of a missing program under CI must fail")
	}
}
