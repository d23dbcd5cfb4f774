package main

// Auth and TLS of --node, end to end: the test servers run with security
// off, so an HTTPS reverse proxy made here (a self-signed certificate
// generated per run, on 127.0.0.1) demands Basic auth or an API key,
// answers 401 otherwise, and forwards to the real server at ESPCAP_ES_URL.

import (
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/espcap/espcap-fast/internal/estest"
)

// Secrets of the auth proxy: distinctive strings, so that the tests can
// assert they never appear in any output.
const (
	proxyUser     = "espcap-tester"
	proxyPassword = "pw-Zq81xVt3-secret"
	proxyAPIKey   = "YXBpa2V5LWlkOmFwaWtleS1zZWNyZXQtN3BRaw==" // base64("apikey-id:apikey-secret-7pQk")
	apiKeySecret  = "apikey-secret-7pQk"
)

// authProxy is an HTTPS reverse proxy to the test server that requires
// credentials. After refuseAfter authenticated bulk requests (when > 0) it
// answers 401 to everything, as a server does when a password is changed or
// an API key revoked during an import.
type authProxy struct {
	url         string
	caFile      string // PEM of the proxy's self-signed certificate
	authorized  atomic.Int64
	refused     atomic.Int64
	bulks       atomic.Int64
	refuseAfter atomic.Int64
}

// startAuthProxy starts the proxy in front of target.
func startAuthProxy(t *testing.T, target string) *authProxy {
	t.Helper()
	tu, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &authProxy{}
	rp := httputil.NewSingleHostReverseProxy(tu)
	rp.ErrorLog = log.New(io.Discard, "", 0)
	basic := "basic " + base64.StdEncoding.EncodeToString([]byte(proxyUser+":"+proxyPassword))
	apiKey := "apikey " + proxyAPIKey
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Authentication schemes are case-insensitive (RFC 9110):
		// elastic-transport-go sends "APIKey", Kibana "ApiKey".
		a := r.Header.Get("Authorization")
		if sch, cred, found := strings.Cut(a, " "); found {
			a = strings.ToLower(sch) + " " + cred
		}
		ok := a == basic || a == apiKey
		if os.Getenv("ESPCAP_TEST_DEBUG") != "" {
			fmt.Fprintf(os.Stderr, "proxy: %s %s auth=%v\n", r.Method, r.URL.Path, ok)
		}
		if ok && strings.HasPrefix(r.URL.Path, "/_bulk") {
			if n := p.bulks.Add(1); p.refuseAfter.Load() > 0 && n > p.refuseAfter.Load() {
				ok = false
			}
		}
		if !ok {
			p.refused.Add(1)
			io.Copy(io.Discard, r.Body)
			w.Header().Set("WWW-Authenticate", `Basic realm="security", charset="UTF-8"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"type":"security_exception","reason":"unable to authenticate user [`+proxyUser+`] for REST request [`+r.URL.Path+`]"},"status":401}`)
			return
		}
		p.authorized.Add(1)
		r.Header.Del("Authorization") // the test server has security off
		rp.ServeHTTP(w, r)
	})
	srv := httptest.NewUnstartedServer(handler)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener.Close()
	srv.Listener = ln
	cert, certPEM := estest.SelfSigned(t)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	// The handshake errors of the "untrusted certificate" cases are
	// expected; keep them out of the test log.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	p.url = srv.URL
	p.caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p.caFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// noSecrets fails when a secret appears in any of the texts.
func noSecrets(t *testing.T, what string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		for _, secret := range []string{proxyPassword, proxyAPIKey, apiKeySecret, "wrong-" + proxyPassword} {
			if strings.Contains(s, secret) {
				t.Errorf("%s contains a secret (%q)", what, secret)
			}
		}
	}
}

// authRun runs the command with a clean auth environment (env: extra
// variables), timed, and checks that no secret leaks into its output or
// the dead-letter file.
func authRun(t *testing.T, env map[string]string, dl string, args ...string) (string, string, int, time.Duration) {
	t.Helper()
	t.Setenv("ES_PASSWORD", "")
	t.Setenv("ES_API_KEY", "")
	for k, v := range env {
		t.Setenv(k, v)
	}
	start := time.Now()
	out, errs, code := espcap(t, append([]string{"--dead-letter", dl}, args...)...)
	el := time.Since(start)
	var dead string
	if b, err := os.ReadFile(dl); err == nil {
		dead = string(b)
	}
	noSecrets(t, "output", out, errs, dead)
	return out, errs, code, el
}

// TestNodeAuthTLS imports through the HTTPS proxy with each way of giving
// credentials and trust, and checks the failures: an untrusted
// certificate and a refused password fail at once, with a clear error,
// a non-zero exit status and no secret in any output.
func TestNodeAuthTLS(t *testing.T) {
	base := estest.URL(t)
	px := startAuthProxy(t, base)
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "password")
	keyFile := filepath.Join(dir, "apikey")
	badFile := filepath.Join(dir, "bad-password")
	os.WriteFile(pwFile, []byte(proxyPassword+"\n"), 0o600)
	os.WriteFile(keyFile, []byte(proxyAPIKey+"\n"), 0o600)
	os.WriteFile(badFile, []byte("wrong-"+proxyPassword+"\n"), 0o600)
	const want = 108 // documents of dnsSample

	ok := []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"basic-env-ca", map[string]string{"ES_PASSWORD": proxyPassword}, []string{"--user", proxyUser, "--ca-cert", px.caFile}},
		{"basic-file-ca", nil, []string{"--user", proxyUser, "--password-file", pwFile, "--ca-cert", px.caFile}},
		{"apikey-env-ca", map[string]string{"ES_API_KEY": proxyAPIKey}, []string{"--ca-cert", px.caFile}},
		{"apikey-file-insecure", nil, []string{"--api-key-file", keyFile, "--insecure"}},
		{"basic-env-insecure", map[string]string{"ES_PASSWORD": proxyPassword}, []string{"--user", proxyUser, "--insecure"}},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			prefix := testPrefix(t, base, "auth-"+c.name)
			dl := filepath.Join(t.TempDir(), "dead.ndjson")
			before := px.authorized.Load()
			args := append([]string{"--node", px.url, "--index-prefix", prefix, "--chunk", "40", "--file", dnsSample}, c.args...)
			_, errs, code, _ := authRun(t, c.env, dl, args...)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, errs)
			}
			if !strings.Contains(errs, fmt.Sprintf("%d docs indexed, 0 duplicates", want)) {
				t.Errorf("summary does not say %d docs indexed:\n%s", want, errs)
			}
			if px.authorized.Load()-before < 3 {
				t.Errorf("the import did not go through the proxy")
			}
			refresh(t, base, prefix)
			if n := countIn(t, base, prefix+"*"); n != want {
				t.Errorf("%d documents indexed through the proxy, want %d", n, want)
			}
		})
	}

	bad := []struct {
		name     string
		env      map[string]string
		args     []string
		wantErrs []string
	}{
		// No --ca-cert: the self-signed certificate is not trusted. A
		// certificate error is final: the run stops at connection
		// time, before anything is read, and says how to fix it.
		{"untrusted-cert", map[string]string{"ES_PASSWORD": proxyPassword}, []string{"--user", proxyUser},
			[]string{"certificate", "--ca-cert", "--insecure", px.url}},
		// Trusting another CA is no better.
		{"wrong-ca", map[string]string{"ES_PASSWORD": proxyPassword}, []string{"--user", proxyUser, "--ca-cert", otherCA(t)},
			[]string{"certificate", "--ca-cert"}},
		{"wrong-password", map[string]string{"ES_PASSWORD": "wrong-" + proxyPassword}, []string{"--user", proxyUser, "--ca-cert", px.caFile},
			[]string{"401", "credentials"}},
		{"wrong-password-file", nil, []string{"--user", proxyUser, "--password-file", badFile, "--ca-cert", px.caFile},
			[]string{"401", "credentials"}},
		{"no-credentials", nil, []string{"--ca-cert", px.caFile}, []string{"401", "credentials"}},
		{"wrong-api-key", map[string]string{"ES_API_KEY": base64.StdEncoding.EncodeToString([]byte("id:wrong-" + proxyPassword))}, []string{"--insecure"},
			[]string{"401", "credentials"}},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			prefix := testPrefix(t, base, "auth-"+c.name)
			dl := filepath.Join(t.TempDir(), "dead.ndjson")
			args := append([]string{"--node", px.url, "--index-prefix", prefix, "--file", dnsSample}, c.args...)
			out, errs, code, el := authRun(t, c.env, dl, args...)
			t.Logf("exit %d after %s: %s", code, el.Round(time.Millisecond), strings.TrimSpace(errs))
			if code == 0 {
				t.Errorf("exit 0, want a failure")
			}
			if el > 10*time.Second {
				t.Errorf("took %s to fail: want a prompt failure, not retries", el)
			}
			for _, w := range c.wantErrs {
				if !strings.Contains(errs, w) {
					t.Errorf("error does not mention %q", w)
				}
			}
			if out != "" {
				t.Errorf("documents on stdout although --node was given: %.200s", out)
			}
			if _, err := os.Stat(dl); err == nil {
				t.Errorf("dead-letter file written although nothing was read")
			}
			if strings.Contains(errs, "packets read") && !strings.Contains(errs, " 0 packets read") {
				t.Errorf("packets were read although the server could not be used")
			}
		})
	}

	// The credentials stop working in the middle of an import (password
	// changed, API key revoked): the run stops promptly with a clear
	// error and exit 1; every refused document is in the dead-letter file
	// (status 401), and what was indexed plus what was dead-lettered
	// accounts for every document handed to the indexer.
	t.Run("revoked-mid-import", func(t *testing.T) {
		prefix := testPrefix(t, base, "auth-revoked")
		dl := filepath.Join(t.TempDir(), "dead.ndjson")
		px.bulks.Store(0)
		px.refuseAfter.Store(5)
		defer px.refuseAfter.Store(0)
		_, errs, code, el := authRun(t, map[string]string{"ES_PASSWORD": proxyPassword}, dl,
			"--node", px.url, "--user", proxyUser, "--index-prefix", prefix, "--chunk", "20", "--indexers", "1", "--ca-cert", px.caFile, "--file", sample)
		t.Logf("exit %d after %s:\n%s", code, el.Round(time.Millisecond), errs)
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		if el > 30*time.Second {
			t.Errorf("took %s: want a prompt failure", el)
		}
		if !strings.Contains(errs, "refused the credentials (HTTP 401)") {
			t.Errorf("no clear error about the refused credentials")
		}
		b, err := os.ReadFile(dl)
		if err != nil {
			t.Fatalf("no dead-letter file: %v", err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		for _, l := range lines {
			if !strings.Contains(l, `"status":401`) && !strings.Contains(l, `"type":"aborted"`) {
				t.Errorf("dead-letter line without status 401: %.300s", l)
				break
			}
		}
		refresh(t, base, prefix)
		indexed := countIn(t, base, prefix+"*")
		if indexed != 5*20 {
			t.Errorf("%d documents indexed, want the 100 of the 5 accepted bulk requests", indexed)
		}
		var sum struct{ indexed, dead int }
		fmt.Sscanf(summaryTail(errs, "docs indexed"), "%d", &sum.indexed)
		fmt.Sscanf(summaryTail(errs, "dead-lettered"), "%d", &sum.dead)
		if sum.indexed != indexed || sum.dead != len(lines) {
			t.Errorf("summary says %d indexed, %d dead-lettered; the index has %d, the dead-letter file %d lines",
				sum.indexed, sum.dead, indexed, len(lines))
		}
		// Nothing read is unaccounted for: indexed + dead-lettered +
		// reported as not sent = packets read.
		read, notSent, more := 0, 0, 0
		fmt.Sscanf(summaryTail(errs, "packets read"), "%d", &read)
		fmt.Sscanf(lineAfter(errs, "espcap-fast: ", " documents were read but not sent"), "%d", &notSent)
		fmt.Sscanf(lineAfter(errs, "espcap-fast: ", " more packets were read but not indexed"), "%d", &more)
		if read != 1268 || indexed+len(lines)+notSent+more != read {
			t.Errorf("%d packets read; %d indexed + %d dead-lettered + %d not sent + %d not handed over do not add up",
				read, indexed, len(lines), notSent, more)
		}
	})
}

// summaryTail returns the number before label in the last summary line of
// errs, as text ("" when absent).
func summaryTail(errs, label string) string {
	i := strings.LastIndex(errs, "espcap-fast: indexed: ")
	if i < 0 {
		return ""
	}
	line := errs[i:]
	if j := strings.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	j := strings.Index(line, " "+label)
	if j < 0 {
		return ""
	}
	k := strings.LastIndexAny(line[:j], ", ") + 1
	return line[k:j]
}

// otherCA writes the PEM of an unrelated self-signed certificate.
func otherCA(t *testing.T) string {
	_, pemBytes := estest.SelfSigned(t)
	f := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(f, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// lineAfter returns the text between prefix and suffix on the line of errs
// that contains suffix ("" when none does).
func lineAfter(errs, prefix, suffix string) string {
	for _, l := range strings.Split(errs, "\n") {
		if i := strings.Index(l, suffix); i >= 0 {
			return strings.TrimPrefix(l[:i], prefix)
		}
	}
	return ""
}
