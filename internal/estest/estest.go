// Package estest holds what the integration tests of bulk and of the
// command share: finding the test Elasticsearch or OpenSearch server,
// requests to it, and a self-signed certificate for TLS test servers.
package estest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/espcap/espcap-fast/internal/need"
)

// URL returns the base URL of the test server (ESPCAP_ES_URL, default
// http://127.0.0.1:9200) when it answers. Otherwise the test is skipped,
// or fails under CI (see need.Missing).
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("ESPCAP_ES_URL")
	if u == "" {
		u = "http://127.0.0.1:9200"
	}
	u = strings.TrimRight(u, "/")
	c := http.Client{Timeout: 3 * time.Second}
	res, err := c.Get(u + "/_cluster/health")
	if err == nil {
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			return u
		}
		err = fmt.Errorf("HTTP %d", res.StatusCode)
	}
	msg := fmt.Sprintf("no Elasticsearch/OpenSearch at %s (%v); start one with scripts/es-server.sh start or set ESPCAP_ES_URL", u, err)
	need.Missing(t, "%s", msg)
	return ""
}

// Server is a test server: its base URL, the client to reach it (nil:
// http.DefaultClient) and the Basic-auth user (none when empty).
type Server struct {
	URL            string
	Client         *http.Client
	User, Password string
}

// Call sends a request (a JSON body when body is not nil) and returns the
// status and the response body; it fails the test when the request cannot
// be sent.
func (s Server) Call(t testing.TB, method, path string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if s.User != "" {
		req.SetBasicAuth(s.User, s.Password)
	}
	c := s.Client
	if c == nil {
		c = http.DefaultClient
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// Refresh makes what was indexed into target (an index, pattern or list)
// searchable.
func (s Server) Refresh(t testing.TB, target string) {
	t.Helper()
	s.Call(t, http.MethodPost, "/"+target+"/_refresh", nil)
}

// Count returns the number of documents in target; it fails the test when
// the server does not answer 200.
func (s Server) Count(t testing.TB, target string) int {
	t.Helper()
	st, b := s.Call(t, http.MethodGet, "/"+target+"/_count", nil)
	if st != http.StatusOK {
		t.Fatalf("count %s: HTTP %d %s", target, st, b)
	}
	var r struct{ Count int }
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("count %s: %v: %s", target, err, b)
	}
	return r.Count
}

// SelfSigned makes a self-signed CA certificate for 127.0.0.1 and
// localhost, valid for a day, and returns it as a TLS certificate and as
// PEM.
func SelfSigned(t testing.TB) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "espcap-fast test server", Organization: []string{"espcap-fast tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	if err != nil {
		t.Fatal(err)
	}
	return cert, certPEM
}
