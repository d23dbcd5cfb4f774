package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/espcap/espcap-fast/bulk"
	"github.com/espcap/espcap-fast/internal/estest"
)

// A real Elasticsearch with security on (scripts/es-server.sh start
// --flavor es8sec; scripts/test.sh runs these tests against one): HTTPS
// with a certificate from its own test CA, users in the file realm.
// TestNodeAuthTLS covers the same flags through a proxy, API keys too
// (the integration-test distribution cannot make API keys: the security
// index needs analysis modules it does not ship).

// secureES is a secured test server.
type secureES struct {
	url, ca, password string
	client            *http.Client
}

// The test users: a superuser, one who may only read (the viewer role)
// and one with exactly the privileges the 403 error message lists.
const secureUser, secureReader, secureWriter = "espcap", "espcap-reader", "espcap-writer"

func secureServer(t *testing.T) *secureES {
	t.Helper()
	u := strings.TrimRight(os.Getenv("ESPCAP_ES_SECURE_URL"), "/")
	if u == "" {
		t.Skip("no secured Elasticsearch: set ESPCAP_ES_SECURE_URL and ESPCAP_ES_SECURE_CA (scripts/es-server.sh start --flavor es8sec)")
	}
	s := &secureES{url: u, ca: os.Getenv("ESPCAP_ES_SECURE_CA"), password: os.Getenv("ESPCAP_ES_SECURE_PASSWORD")}
	if s.password == "" {
		s.password = "espcap-test-password"
	}
	pem, err := os.ReadFile(s.ca)
	if err != nil {
		t.Fatalf("ESPCAP_ES_SECURE_CA: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", s.ca)
	}
	s.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if code, body := s.call(t, secureUser, http.MethodGet, "/_security/_authenticate", nil); code != http.StatusOK {
		t.Fatalf("%s: authenticate as %s: HTTP %d %s", u, secureUser, code, body)
	}
	return s
}

// call sends a request as user.
func (s *secureES) call(t *testing.T, user, method, path string, body []byte) (int, []byte) {
	t.Helper()
	return estest.Server{URL: s.url, Client: s.client, User: user, Password: s.password}.Call(t, method, path, body)
}

func (s *secureES) count(t *testing.T, prefix string) int {
	t.Helper()
	su := estest.Server{URL: s.url, Client: s.client, User: secureUser, Password: s.password}
	su.Refresh(t, prefix+"*")
	return su.Count(t, prefix+"*")
}

// TestNodeSecureServer imports into a real secured Elasticsearch: with the
// CA and a password (file or environment) the documents arrive, once; a
// wrong password, an untrusted certificate and a user who may only read
// fail promptly and clearly, exit non-zero, and print no secret.
func TestNodeSecureServer(t *testing.T) {
	s := secureServer(t)
	prefix := "espcap-sec-" + testRun + "-"
	t.Cleanup(func() {
		s.call(t, secureUser, http.MethodDelete, "/"+prefix+"*?expand_wildcards=all", nil)
		s.call(t, secureUser, http.MethodDelete, "/_index_template/"+bulk.TemplateName(prefix), nil)
	})
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "password")
	badFile := filepath.Join(dir, "bad")
	os.WriteFile(pwFile, []byte(s.password+"\n"), 0o600)
	os.WriteFile(badFile, []byte("not-"+s.password+"\n"), 0o600)
	fileOut, _, _ := espcap(t, "--file", dnsSample)
	want := len(docs(t, fileOut))

	// run imports dnsSample and checks that no secret is in what it wrote
	run := func(t *testing.T, env map[string]string, args ...string) (string, int, time.Duration) {
		t.Helper()
		t.Setenv("ES_PASSWORD", "")
		t.Setenv("ES_API_KEY", "")
		for k, v := range env {
			t.Setenv(k, v)
		}
		dl := filepath.Join(t.TempDir(), "dead.ndjson")
		start := time.Now()
		out, errs, code := espcap(t, append([]string{"--node", s.url, "--index-prefix", prefix, "--dead-letter", dl, "--file", dnsSample}, args...)...)
		el := time.Since(start)
		dead, _ := os.ReadFile(dl)
		for _, text := range []string{out, errs, string(dead)} {
			if strings.Contains(text, s.password) {
				t.Errorf("the password is in the output or the dead-letter file")
			}
		}
		return errs, code, el
	}

	t.Run("password-file", func(t *testing.T) {
		errs, code, _ := run(t, nil, "--user", secureUser, "--password-file", pwFile, "--ca-cert", s.ca)
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, errs)
		}
		if n := s.count(t, prefix); n != want {
			t.Errorf("%d documents in %s*, want %d", n, prefix, want)
		}
		if code, b := s.call(t, secureUser, http.MethodGet, "/_index_template/"+bulk.TemplateName(prefix), nil); code != http.StatusOK {
			t.Errorf("index template: HTTP %d %s", code, b)
		}
	})
	t.Run("password-env-again", func(t *testing.T) {
		// the same capture again: nothing new, nothing lost
		errs, code, _ := run(t, map[string]string{"ES_PASSWORD": s.password}, "--user", secureUser, "--ca-cert", s.ca)
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, errs)
		}
		if !strings.Contains(errs, fmt.Sprintf("0 docs indexed, %d duplicates", want)) {
			t.Errorf("the second import should find %d duplicates:\n%s", want, errs)
		}
		if n := s.count(t, prefix); n != want {
			t.Errorf("%d documents after importing twice, want %d", n, want)
		}
	})
	t.Run("least-privilege", func(t *testing.T) {
		// a new prefix: the writer installs its template and creates
		// the indices itself
		p := "espcap-secw-" + testRun + "-"
		t.Cleanup(func() {
			s.call(t, secureUser, http.MethodDelete, "/"+p+"*?expand_wildcards=all", nil)
			s.call(t, secureUser, http.MethodDelete, "/_index_template/"+bulk.TemplateName(p), nil)
		})
		errs, code, _ := run(t, map[string]string{"ES_PASSWORD": s.password}, "--user", secureWriter, "--ca-cert", s.ca, "--index-prefix", p)
		if code != 0 {
			t.Fatalf("a user with the privileges the 403 message names: exit %d:\n%s", code, errs)
		}
		if n := s.count(t, p); n != want {
			t.Errorf("%d documents in %s*, want %d", n, p, want)
		}
	})
	t.Run("insecure", func(t *testing.T) {
		errs, code, _ := run(t, nil, "--user", secureUser, "--password-file", pwFile, "--insecure")
		if code != 0 {
			t.Fatalf("--insecure: exit %d:\n%s", code, errs)
		}
	})

	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"wrong-password", nil, []string{"--user", secureUser, "--password-file", badFile, "--ca-cert", s.ca}, []string{"401"}},
		{"no-credentials", nil, []string{"--ca-cert", s.ca}, []string{"401"}},
		{"untrusted-certificate", map[string]string{"ES_PASSWORD": s.password}, []string{"--user", secureUser}, []string{"certificate", "--ca-cert"}},
		{"read-only-user", map[string]string{"ES_PASSWORD": s.password}, []string{"--user", secureReader, "--ca-cert", s.ca},
			[]string{"HTTP 403", "lacks a privilege", "is unauthorized for user [" + secureReader + "]"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			errs, code, el := run(t, c.env, c.args...)
			if code == 0 {
				t.Fatalf("exit 0:\n%s", errs)
			}
			for _, w := range c.want {
				if !strings.Contains(errs, w) {
					t.Errorf("the error does not say %q:\n%s", w, errs)
				}
			}
			if el > 30*time.Second {
				t.Errorf("took %v to fail", el)
			}
			if n := s.count(t, prefix); n != want {
				t.Errorf("%d documents after a failed import, want %d", n, want)
			}
		})
	}
}
