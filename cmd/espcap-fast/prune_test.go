package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/espcap/espcap-fast/internal/estest"
)

func TestIndexPeriodEnd(t *testing.T) {
	for name, want := range map[string]string{
		"packets-2015-07-30":     "2015-07-31",
		"packets-2015-12-31":     "2016-01-01",
		"packets-2015-07":        "2015-08-01",
		"packets-2015-w31":       "2015-08-03", // week 31 of 2015: Monday 27 July to Sunday 2 August
		"packets-2020-w53":       "2021-01-04",
		"packets-2025-w01":       "2025-01-06",
		"packets-all":            "",
		"packets-2015-w54":       "",
		"packets-lab-2015-07-30": "",
		"other-2015-07-30":       "",
		"packets-2015-7-30":      "",
	} {
		end, ok := indexPeriodEnd("packets-", name)
		got := ""
		if ok {
			got = end.Format("2006-01-02")
		}
		if got != want {
			t.Errorf("%s: period ends %q, want %q", name, got, want)
		}
	}
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "36h": 36 * time.Hour} {
		if d, err := parseRetention(in); err != nil || d != want {
			t.Errorf("parseRetention(%q) = %v, %v; want %v", in, d, err, want)
		}
	}
	for _, bad := range []string{"", "7", "x d", "-1d", "30m", "d"} {
		if _, err := parseRetention(bad); err == nil {
			t.Errorf("parseRetention(%q) accepted", bad)
		}
	}
}

// TestPrune: against a real server, prune and --retention delete the
// time-named indices of the prefix whose period is older than the
// retention, keep the others (today's, <prefix>all, other prefixes), and
// --dry-run deletes nothing.
func TestPrune(t *testing.T) {
	base := estest.URL(t)
	prefix := testPrefix(t, base, "prune")
	today := prefix + time.Now().UTC().Format("2006-01-02")
	for _, idx := range []string{prefix + "2015-01-01", prefix + "2015-w02", prefix + "2015-02", today, prefix + "all"} {
		if st, b := esCall(t, base, http.MethodPut, "/"+idx, nil); st != http.StatusOK {
			t.Fatalf("create %s: %d %s", idx, st, b)
		}
	}
	indices := func() string {
		_, b := esCall(t, base, http.MethodGet, "/_cat/indices/"+prefix+"*?h=index&s=index", nil)
		return strings.Join(strings.Fields(string(b)), " ")
	}
	all := indices()
	out, errs, code := espcap(t, "prune", "--node", base, "--index-prefix", prefix, "--older-than", "30d", "--dry-run")
	if code != 0 || strings.Fields(out)[0] != prefix+"2015-01-01" || len(strings.Fields(out)) != 3 || indices() != all {
		t.Fatalf("--dry-run: exit %d, listed %q (%s), indices now %q (were %q)", code, out, errs, indices(), all)
	}
	// an import with --retention prunes at its start
	_, errs, code = espcap(t, "--node", base, "--index-prefix", prefix, "--retention", "30d",
		"--dead-letter", filepath.Join(t.TempDir(), "d"), "-r", dnsSample)
	if code != 0 || !strings.Contains(errs, "deleted 3 indices") {
		t.Fatalf("--retention: exit %d: %s", code, errs)
	}
	want := prefix + "2015-08-14 " + today + " " + prefix + "all" // the import's own index is made after the pruning
	if got := indices(); got != want {
		t.Errorf("after --retention: %q, want %q", got, want)
	}
	out, _, code = espcap(t, "prune", "--node", base, "--index-prefix", prefix, "--older-than", "30d")
	if code != 0 || strings.TrimSpace(out) != prefix+"2015-08-14" {
		t.Errorf("prune: exit %d, deleted %q", code, out)
	}
	if got := indices(); got != today+" "+prefix+"all" {
		t.Errorf("after prune: %q", got)
	}
	if _, errs, code := espcap(t, "prune", "--node", base); code != 2 || !strings.Contains(errs, "--older-than") {
		t.Errorf("prune without --older-than: exit %d, %q", code, errs)
	}
}
