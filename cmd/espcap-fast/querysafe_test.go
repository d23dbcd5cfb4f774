package main

import (
	"strings"
	"testing"

	"github.com/valyala/fastjson"
)

func TestTermSafe(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"example.com", "example.com"},
		{"dns → ok ünïcode 日本", "dns → ok ünïcode 日本"},
		{"\x1b]0;pwned\x07", `\x1b]0;pwned\x07`},             // OSC: retitle
		{"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},         // CSI: colour
		{"a\r\nb\tc", `a\x0d\x0ab\x09c`},                     // C0
		{"del\x7f", `del\x7f`},                               // DEL
		{"c1 \u009b31m \u0085", `c1 \x9b31m \x85`},           // C1 as code points
		{"bad \xff\xfe utf8 \xc3", `bad \xff\xfe utf8 \xc3`}, // invalid UTF-8, byte by byte
		{"\xc2\x9b", `\x9b`},                                 // C1 CSI, UTF-8 encoded
		{"nbsp\u00a0ok", "nbsp\u00a0ok"},                     // U+00A0 is printable
		{"literal \ufffd stays", "literal \ufffd stays"},
	} {
		if got := termSafe(c.in); got != c.want {
			t.Errorf("termSafe(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestTableRowEscapes: a document whose strings carry terminal escapes
// (an HTTP Host header with OSC and CSI sequences) prints as one line
// without any control character.
func TestTableRowEscapes(t *testing.T) {
	doc := `{"@timestamp":"2024-01-02T03:04:05.123456Z","protocol":"http\u001b[2J",` +
		`"source":{"ip":"10.0.0.1","port":1234},"destination":{"ip":"10.0.0.2","port":80},` +
		`"layers":{"http":{"request":true,"request_method":"GET","host":"evil\u001b]0;owned\u0007\u009b31m","request_uri":"/\u00ff"}}}`
	v, err := fastjson.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	row := tableRow(v)
	body := strings.TrimSuffix(row, "\n")
	for i, r := range body {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f {
			t.Fatalf("row has control character %U at %d: %q", r, i, row)
		}
	}
	for _, want := range []string{`http\x1b[2J`, `GET evil\x1b]0;owned\x07\x9b31m/ÿ`} {
		if !strings.Contains(row, want) {
			t.Errorf("row %q does not contain %q", row, want)
		}
	}
	if strings.Count(row, "\n") != 1 {
		t.Errorf("row is not one line: %q", row)
	}
}

func TestCheckIndexPattern(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"packets-*", true},
		{"packets-2024-01-02", true},
		{"packets-*,-packets-2024-01-01", true},
		{"remote:packets-*", true},
		{"espcap-stream", true},
		{"../_cluster/settings", false},
		{"..", false},
		{".", false},
		{"packets-*/../../admin", false},
		{"packets/x", false},
		{"packets?pretty", false},
		{"packets#frag", false},
		{`packets\x`, false},
		{"pack ets", false},
		{"Packets", false},
		{"packets,", false},
		{"_all", true},
		{"_cluster", false},
		{"+x", false},
		{"packets\x00", false},
		{`a"b`, false},
		{"a<b", false},
		{"a|b", false},
	} {
		err := checkIndexPattern(c.in)
		if (err == nil) != c.ok {
			t.Errorf("checkIndexPattern(%q) = %v, want ok=%v", c.in, err, c.ok)
		}
	}
	// the query command refuses before contacting anything
	_, errs, code := espcap(t, "query", "--node", "127.0.0.1:1", "--index", "../x", "*")
	if code != 2 || !strings.Contains(errs, "--index") {
		t.Errorf("query --index ../x: exit %d, stderr %q", code, errs)
	}
}
