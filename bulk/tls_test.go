package bulk

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/espcap/espcap-fast/internal/estest"
)

// TestCertificateChangeIsFatal: the server's certificate stops being
// trusted in the middle of a run (it was replaced by one from another CA).
// Retrying cannot fix that, so the indexer must not retry without end: the
// batch is dead-lettered as tls_error and Flush/Close fail at once with an
// error that names the problem. No Elasticsearch needed: a stub answers.
func TestCertificateChangeIsFatal(t *testing.T) {
	good, goodPEM := estest.SelfSigned(t)
	bad, _ := estest.SelfSigned(t)
	var current atomic.Pointer[tls.Certificate]
	current.Store(&good)
	var bulks atomic.Int64
	srv := httptest.NewUnstartedServer(stubES(&bulks, func(w http.ResponseWriter) {
		io.WriteString(w, `{"errors":false,"items":[]}`)
	}))
	// GetConfigForClient runs at every handshake (GetCertificate would
	// not: without SNI, httptest's own certificate is used).
	srv.TLS = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		return &tls.Config{Certificates: []tls.Certificate{*current.Load()}}, nil
	}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, goodPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	dl := filepath.Join(t.TempDir(), "dead.ndjson")
	ix := newTestIndexer(t, srv.URL, func(c *Config) {
		c.CACert, c.DeadLetter, c.Chunk, c.Indexers = ca, dl, 10, 1
	})
	// The certificate changes; open connections are dropped, so the next
	// request makes a new handshake.
	current.Store(&bad)
	srv.CloseClientConnections()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range 5 {
		if err := ix.Add(ctx, "packets-2024-01-02", []byte{'a' + byte(i)}, []byte(`{"a":1}`)); err != nil {
			break // the fatal error may stop Add already
		}
	}
	err := ix.Flush(ctx)
	cerr := ix.Close(ctx)
	el := time.Since(start)
	t.Logf("after %s: flush: %v; close: %v", el, err, cerr)
	if err == nil || !strings.Contains(err.Error(), "certificate") || !strings.Contains(err.Error(), "--ca-cert") {
		t.Errorf("flush error %v: want a certificate error with the remedy", err)
	}
	if ctx.Err() != nil || el > 10*time.Second {
		t.Errorf("took %s: a certificate error must fail at once, not be retried", el)
	}
	if bulks.Load() != 0 {
		t.Errorf("%d bulk requests got through an untrusted certificate", bulks.Load())
	}
	s := ix.Stats()
	b, _ := os.ReadFile(dl)
	if s.DeadLettered == 0 || s.DeadLettered != s.Added || strings.Count(string(b), `"type":"tls_error"`) != int(s.DeadLettered) {
		t.Errorf("stats %+v, dead-letter file:\n%s", s, b)
	}
}
