package main

import (
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/espcap/espcap-fast/internal/estest"
)

func TestQueryFields(t *testing.T) {
	for q, want := range map[string][]string{
		`protocol:dns`: {"protocol"},
		`layers.ip.src:10.0.0.1 AND protocol:dns`: {"layers.ip.src", "protocol"},
		`(a.b:1 OR c:2) -d.e:x +f:"g:h i:j"`:      {"a.b", "c", "d.e", "f"},
		`"host:port" something`:                   nil,
		`_exists_:layers.tls AND _id:x`:           {"layers.tls"},
		`layers.dns.*:foo`:                        {"layers.dns.*"},
		`*`:                                       nil,
	} {
		if got := queryFields(q); !reflect.DeepEqual(got, want) {
			t.Errorf("queryFields(%q) = %q, want %q", q, got, want)
		}
	}
}

func TestCloseNames(t *testing.T) {
	names := []string{"protocol", "layers.dns.qry_name", "layers.dns.resp_name", "layers.ip.src", "layers.ip.dst",
		"layers.tcp.srcport", "layers.tcp.dstport", "layers.udp.srcport", "network.protocol", "source.ip"}
	sort.Strings(names) // as queryProblems hands them
	for field, want := range map[string]string{
		"layers.dns.qry.name": "layers.dns.qry_name,layers.dns.resp_name",
		"dns.qry.name":        "layers.dns.qry_name,layers.dns.resp_name",
		"ip.addr":             "layers.ip.dst,layers.ip.src",
		"tcp.port":            "layers.tcp.dstport,layers.tcp.srcport",
		"protocl":             "protocol",
		"ip.src":              "layers.ip.src",
	} {
		if got := strings.Join(closeNames(field, names, 3), ","); got != want {
			t.Errorf("closeNames(%q) = %q, want %q", field, got, want)
		}
	}
}

// TestQueryExplainsEmpty: against a real server, a query right after an
// import finds what was imported (the import refreshes), --index-prefix and
// $ES_URL are honoured, and an empty answer says why when it can: a field
// that no index has (with the name meant), an index pattern that matches
// nothing.
func TestQueryExplainsEmpty(t *testing.T) {
	base := estest.URL(t)
	prefix := testPrefix(t, base, "qexplain")
	if _, errs, code := espcap(t, "--node", base, "--index-prefix", prefix, "--dead-letter", filepath.Join(t.TempDir(), "d"), "-r", dnsSample); code != 0 {
		t.Fatalf("import: exit %d: %s", code, errs)
	}
	t.Setenv("ES_URL", base)
	out, errs, code := espcap(t, "query", "--index-prefix", prefix, "--size", "0", "protocol:dns")
	if code != 0 || len(docs(t, out)) == 0 {
		t.Fatalf("query right after the import: exit %d, %d documents: %s", code, len(docs(t, out)), errs)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--index-prefix", prefix, "layers.dns.qry.name:x"}, `did you mean layers.dns.qry_name`},
		{[]string{"--index-prefix", prefix, "ip.addr:10.0.0.1"}, `layers.ip.src`},
		{[]string{"--index", prefix + "nomatch*", "protocol:dns"}, `no index matches`},
	} {
		_, errs, code := espcap(t, append([]string{"query"}, c.args...)...)
		if code != 1 || !strings.Contains(errs, c.want) {
			t.Errorf("query %v: exit %d, stderr %q; want exit 1 and %q", c.args, code, errs, c.want)
		}
	}
	// an empty answer to a good query is not an error
	if _, errs, code := espcap(t, "query", "--index-prefix", prefix, "protocol:nosuchprotocol"); code != 0 || strings.Contains(errs, "did you mean") {
		t.Errorf("good query without hits: exit %d, %q", code, errs)
	}
}

// TestQueryNamesIgnoreCase: DNS names, HTTP hosts and SNIs are found
// whatever the case of the query (the template's lowercase normalizer), as
// a user who types a name as a log showed it expects.
func TestQueryNamesIgnoreCase(t *testing.T) {
	base := estest.URL(t)
	prefix := testPrefix(t, base, "qcase")
	if _, errs, code := espcap(t, "--node", base, "--index-prefix", prefix, "--dead-letter", filepath.Join(t.TempDir(), "d"), "-r", dnsSample); code != 0 {
		t.Fatalf("import: exit %d: %s", code, errs)
	}
	count := func(q string) int {
		out, errs, code := espcap(t, "query", "--node", base, "--index-prefix", prefix, "--size", "0", q)
		if code != 0 {
			t.Fatalf("query %q: exit %d: %s", q, code, errs)
		}
		return len(docs(t, out))
	}
	lower := count(`layers.dns.qry_name:"clients6.google.com"`)
	if lower == 0 {
		t.Fatal("the name is not in the capture any more")
	}
	for _, q := range []string{`layers.dns.qry_name:"CLIENTS6.Google.COM"`, `dns.question.name:"Clients6.Google.Com"`} {
		if n := count(q); n != lower && !(q[0] == 'd' && n > 0) {
			t.Errorf("%s: %d hits, the lowercase query found %d", q, n, lower)
		}
	}
}
