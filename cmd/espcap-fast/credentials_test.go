package main

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/espcap/espcap-fast/internal/estest"
)

func TestReadSecretFile(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		content string
		mode    os.FileMode
		want    string
		warn    bool
		err     bool
	}{
		{"s3cret\n", 0o600, "s3cret", false, false},
		{" pass with spaces \n", 0o600, " pass with spaces ", false, false},
		{"crlf\r\n", 0o600, "crlf", false, false},
		{"two lines\n\n", 0o600, "two lines\n", false, false},
		{"\ttab", 0o400, "\ttab", false, false},
		{"group-readable\n", 0o640, "group-readable", true, false},
		{"world-readable\n", 0o644, "world-readable", true, false},
		{"\n", 0o600, "", false, true},
	}
	for i, c := range cases {
		path := filepath.Join(dir, fmt.Sprint("secret", i))
		if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, c.mode); err != nil {
			t.Fatal(err)
		}
		var warnings []string
		got, err := readSecretFile(path, func(f string, a ...any) { warnings = append(warnings, fmt.Sprintf(f, a...)) })
		if (err != nil) != c.err || got != c.want || (len(warnings) > 0) != c.warn {
			t.Errorf("%q mode %v: %q, %v, warnings %q; want %q, error %v, warning %v", c.content, c.mode, got, err, warnings, c.want, c.err, c.warn)
		}
		for _, w := range warnings {
			if strings.Contains(w, strings.TrimSpace(c.content)) {
				t.Errorf("warning quotes the secret: %q", w)
			}
		}
	}
}

// TestCredentialWarnings: credentials in a node URL, --insecure, and
// credentials over plain http each give one warning; credentials in the URL
// win over $ES_API_KEY like --user does, and conflict with --api-key-file.
func TestCredentialWarnings(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	os.WriteFile(keyFile, []byte("a2V5OnNlY3JldA==\n"), 0o600)
	cases := []struct {
		name   string
		args   []string
		env    map[string]string
		warn   []string // substrings, one warning each
		apiKey string
		err    string
	}{
		{name: "https, no credentials", args: []string{"--node", "https://es:9200"}},
		{name: "http, no credentials", args: []string{"--node", "es:9200"}},
		{name: "https with user", args: []string{"--node", "https://es:9200", "--user", "u"}, env: map[string]string{"ES_PASSWORD": "pw"}},
		{name: "password in URL", args: []string{"--node", "http://u:pw@es:9200"},
			warn: []string{"password in --node", "basic auth over plain http"}},
		{name: "password in https URL", args: []string{"--node", "https://u:pw@es:9200"}, warn: []string{"password in --node"}},
		{name: "URL user wins over ES_API_KEY", args: []string{"--node", "https://u:pw@es:9200"}, env: map[string]string{"ES_API_KEY": "envkey"},
			warn: []string{"password in --node"}},
		{name: "URL user and --api-key-file", args: []string{"--node", "https://u:pw@es:9200", "--api-key-file", keyFile}, err: "not both"},
		{name: "insecure", args: []string{"--node", "https://es:9200", "--insecure"}, warn: []string{"--insecure"}},
		{name: "basic over http", args: []string{"--node", "http://es:9200", "--user", "u"}, env: map[string]string{"ES_PASSWORD": "pw"},
			warn: []string{"basic auth over plain http"}},
		{name: "one http node of two", args: []string{"--node", "https://a:9200,http://b:9200", "--user", "u"}, env: map[string]string{"ES_PASSWORD": "pw"},
			warn: []string{"basic auth over plain http"}},
		{name: "API key over http", args: []string{"--node", "es:9200", "--api-key-file", keyFile}, warn: []string{"API key over plain http"}, apiKey: "a2V5OnNlY3JldA=="},
		{name: "API key from env over https", args: []string{"--node", "https://es:9200"}, env: map[string]string{"ES_API_KEY": "envkey"}, apiKey: "envkey"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("ES_PASSWORD", "")
			t.Setenv("ES_API_KEY", "")
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			e := registerESFlags(fs)
			if err := fs.Parse(c.args); err != nil {
				t.Fatal(err)
			}
			var warnings []string
			cfg, err := e.config(func(f string, a ...any) {
				if strings.HasPrefix(f, "warning: ") {
					warnings = append(warnings, fmt.Sprintf(f, a...))
				}
			})
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(warnings) != len(c.warn) {
				t.Fatalf("warnings %q, want one for each of %q", warnings, c.warn)
			}
			for i, w := range c.warn {
				if !strings.Contains(warnings[i], w) {
					t.Errorf("warning %d %q does not mention %q", i, warnings[i], w)
				}
				if strings.Contains(warnings[i], ":pw@") {
					t.Errorf("warning quotes the password: %q", warnings[i])
				}
			}
			if cfg.APIKey != c.apiKey {
				t.Errorf("API key %q, want %q", cfg.APIKey, c.apiKey)
			}
		})
	}
}

// TestCredentialWarningsOnce runs a query with a password in the node URL
// and --insecure against the test server (plain http): each warning is
// printed once, and the password nowhere.
func TestCredentialWarningsOnce(t *testing.T) {
	u, err := url.Parse(estest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("elastic", "Hunter2Secret")
	t.Setenv("ES_API_KEY", "")
	_, errs, code := espcap(t, "query", "--node", u.String(), "--insecure", "--index", "espcap-none-*", "*")
	if code != 1 || !strings.Contains(errs, "no index matches") { // connected, searched, nothing there
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, w := range []string{"password in --node", "--insecure:", "basic auth over plain http"} {
		if n := strings.Count(errs, w); n != 1 {
			t.Errorf("%q printed %d times, want once:\n%s", w, n, errs)
		}
	}
	if strings.Contains(errs, "Hunter2Secret") {
		t.Errorf("the password is in the output:\n%s", errs)
	}
}
