package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestPruneSecure runs prune against a real secured Elasticsearch: a user
// who may see and read the indices but not delete them (espcap-auditor)
// gets an error naming the index and the missing delete_index privilege,
// exit 1, and nothing is deleted; so do a user without the cluster monitor
// privilege (the viewer role) and one who may not see the indices (the
// import-only writer), who are told so rather than that nothing needed
// pruning; the superuser prunes.
func TestPruneSecure(t *testing.T) {
	s := secureServer(t)
	prefix := "espcap-secprune-" + testRun + "-"
	t.Cleanup(func() { s.call(t, secureUser, http.MethodDelete, "/"+prefix+"*", nil) })
	for _, idx := range []string{prefix + "2020-01-01", prefix + "2020-01-02"} {
		if code, body := s.call(t, secureUser, http.MethodPut, "/"+idx, nil); code != http.StatusOK {
			t.Fatalf("create %s: HTTP %d %s", idx, code, body)
		}
	}
	t.Setenv("ES_PASSWORD", s.password)
	prune := func(user string) (string, int) {
		_, errs, code := espcap(t, "prune", "--node", s.url, "--ca-cert", s.ca, "--user", user,
			"--index-prefix", prefix, "--older-than", "7d")
		if strings.Contains(errs, s.password) {
			t.Errorf("prune as %s printed the password", user)
		}
		return errs, code
	}
	existing := func() int {
		code, body := s.call(t, secureUser, http.MethodGet, "/_cat/indices/"+prefix+"*?h=index", nil)
		if code != http.StatusOK {
			t.Fatalf("_cat/indices: HTTP %d %s", code, body)
		}
		return strings.Count(string(body), prefix)
	}

	for _, c := range []struct{ user, want string }{
		{"espcap-auditor", "deleting " + prefix + "2020-01-01: the user may not delete indices"},
		{secureReader, "cluster:monitor"},
		{secureWriter, "listing indices " + prefix + "*: the user may not see them"},
	} {
		errs, code := prune(c.user)
		if code != 1 || !strings.Contains(errs, c.want) || !strings.Contains(errs, "delete_index on "+prefix+"*") || strings.Contains(errs, "deleted 0") {
			t.Errorf("prune as %s: exit %d, want 1, %q and the privileges prune needs:\n%s", c.user, code, c.want, errs)
		}
		if n := existing(); n != 2 {
			t.Errorf("after a prune refused to %s %d indices remain, want 2", c.user, n)
		}
	}

	errs, code := prune(secureUser)
	if code != 0 || existing() != 0 {
		t.Errorf("prune as %s: exit %d, %d indices left:\n%s", secureUser, code, existing(), errs)
	}
}
