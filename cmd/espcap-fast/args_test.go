package main

import (
	"flag"
	"reflect"
	"strings"
	"testing"
)

// testFlags is a flag set shaped like the command's: value flags with one
// and several letters, bool flags, a counting flag.
func testFlags() *flag.FlagSet {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.String("r", "", "")
	fs.String("file", "", "")
	fs.Uint64("c", 0, "")
	fs.Bool("q", false, "")
	fs.Bool("p", false, "")
	fs.Var(new(countFlag), "n", "")
	fs.Var(new(countFlag), "v", "")
	fs.String("node", "", "")
	return fs
}

func TestPermuteArgs(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"-r f tcp port 80", "-r f -- tcp port 80"},
		{"-r f tcp port 80 -c 5", "-r f -c 5 -- tcp port 80"},
		{"tcp port 80 -r f", "-r f -- tcp port 80"},
		{"-nnr f", "-n -n -r f --"},
		{"-nr f udp", "-n -r f -- udp"},
		{"-c5 -r f", "-c 5 -r f --"},
		{"-rcap.pcap", "-r cap.pcap --"},
		{"-qp -vv", "-q -p -v -v --"},
		{"--file=f -c=3 host x", "--file=f -c=3 -- host x"},
		{"--node http://h:9200 -- -negated term", "--node http://h:9200 -- -negated term"},
		{"-r - tcp", "-r - -- tcp"},
		{"-x -r f", "-x -r f --"},             // unknown: left to the flag package
		{"--nosuch -r f", "--nosuch -r f --"}, // unknown long flag
		{"-h", "-h --"},
	} {
		got, err := permuteArgs(testFlags(), strings.Fields(tc.in))
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if want := strings.Fields(tc.want); !reflect.DeepEqual(got, want) {
			t.Errorf("%q:\n got %q\nwant %q", tc.in, got, want)
		}
	}
	if _, err := permuteArgs(testFlags(), []string{"tcp", "-r"}); err == nil {
		t.Error("-r without a value at the end: want an error")
	}
}

// TestTcpdumpCommandLines runs whole command lines as tcpdump users type
// them and checks what was read.
func TestTcpdumpCommandLines(t *testing.T) {
	for _, tc := range []struct {
		args string
		docs int
	}{
		{"-r " + sample + " -c 3", 3},
		{"-nnr " + sample + " -c3", 3},
		{"-r " + sample + " tcp port 80 -c 2", 2},
		{"tcp port 80 -c 4 -r " + sample, 4},
		{"-v -n -q -r " + sample + " -c 1", 1},
	} {
		out, errs, code := espcap(t, strings.Fields(tc.args)...)
		if code != 0 {
			t.Errorf("%s: exit %d: %s", tc.args, code, errs)
			continue
		}
		if n := len(docs(t, out)); n != tc.docs {
			t.Errorf("%s: %d documents, want %d", tc.args, n, tc.docs)
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"query", "-h"}, {"template", "--help"}, {"drain", "-h"}, {"prune", "-h"}} {
		out, errs, code := espcap(t, args...)
		if code != 0 || !strings.HasPrefix(out, "usage: espcap-fast") || errs != "" {
			t.Errorf("%v: exit %d, stdout %.60q, stderr %q: want the help on stdout only", args, code, out, errs)
		}
	}
	out, _, _ := espcap(t, "-h")
	for _, group := range []string{"Input:", "Live capture:", "Elasticsearch / OpenSearch:", "Examples:"} {
		if !strings.Contains(out, group) {
			t.Errorf("-h has no %q section", group)
		}
	}
	out, _, _ = espcap(t, "query", "-h")
	if strings.Contains(out, "-block-count") || strings.Contains(out, "-dead-letter") || !strings.Contains(out, "-index") {
		t.Errorf("query -h should list query's flags only:\n%s", out)
	}
	out, _, code := espcap(t, "--version")
	if code != 0 || !strings.HasPrefix(out, "espcap-fast ") || !strings.Contains(out, "go1.") || !strings.Contains(out, "libpcap: ") {
		t.Errorf("--version: exit %d, %q", code, out)
	}
	_, errs, code := espcap(t, "-r", sample, "--nosuch")
	if code != 2 || strings.Count(errs, "\n") > 3 || !strings.Contains(errs, "nosuch") {
		t.Errorf("unknown flag: exit %d, stderr %q: want the error and a one-line hint", code, errs)
	}
}

func TestDashDLists(t *testing.T) {
	a, _, code := espcap(t, "-D")
	b, _, _ := espcap(t, "--list")
	if code != 0 || a != b || a == "" {
		t.Errorf("-D: exit %d, output differs from --list", code)
	}
}
