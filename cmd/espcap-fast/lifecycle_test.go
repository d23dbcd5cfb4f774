package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/espcap/espcap-fast/internal/estest"
)

// TestNodeRetentionLifecycle (named Node: scripts/test.sh runs it on every
// flavor) runs an import with --retention against the test
// server (every flavor of the matrix): the run says that espcap-fast prunes
// the indices itself and what the server has, which must agree with what
// the test asks the server directly (none of the integration-test servers
// has ILM or ISM), and the old index is pruned.
func TestNodeRetentionLifecycle(t *testing.T) {
	base := estest.URL(t)
	prefix := testPrefix(t, base, "lifecycle")
	old := prefix + "2015-01-01"
	if st, b := esCall(t, base, http.MethodPut, "/"+old, nil); st != http.StatusOK {
		t.Fatalf("create %s: %d %s", old, st, b)
	}
	_, errs, code := espcap(t, "--node", base, "--index-prefix", prefix, "--retention", "30d",
		"--dead-letter", filepath.Join(t.TempDir(), "d"), "-r", dnsSample)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if want := "retention 720h0m0s: espcap-fast deletes the indices " + prefix + "* older than that"; !strings.Contains(errs, want) {
		t.Errorf("no %q in: %s", want, errs)
	}
	// what the server has, asked directly
	var want string
	if st, b := esCall(t, base, http.MethodGet, "/", nil); st == http.StatusOK && strings.Contains(string(b), `"opensearch"`) {
		_, plugins := esCall(t, base, http.MethodGet, "/_cat/plugins?h=component", nil)
		want = map[bool]string{true: "the server has ISM, but", false: "the server has no ISM"}[strings.Contains(string(plugins), "index-management")]
	} else {
		st, _ := esCall(t, base, http.MethodGet, "/_ilm/status", nil)
		want = map[bool]string{true: "the server has ILM, but", false: "the server has no ILM"}[st == http.StatusOK]
	}
	if !strings.Contains(errs, want) {
		t.Errorf("the server was not reported as %q: %s", want, errs)
	}
	if strings.Contains(errs, "is unknown") {
		t.Errorf("the probe could not tell: %s", errs)
	}
	if st, _ := esCall(t, base, http.MethodGet, "/"+old, nil); st != http.StatusNotFound {
		t.Errorf("%s: HTTP %d after --retention 30d, want 404 (pruned)", old, st)
	}
	if !strings.Contains(errs, "deleted 1 indices") {
		t.Errorf("no deletion reported: %s", errs)
	}
}
