package bulk

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// stubES is a stand-in for Elasticsearch: GET / answers version 8.19.9,
// every other request (its body read) is counted in bulks and answered by
// bulk.
func stubES(bulks *atomic.Int64, bulk func(w http.ResponseWriter)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/" {
			io.WriteString(w, `{"version":{"number":"8.19.9"}}`)
			return
		}
		bulks.Add(1)
		bulk(w)
	})
}

// TestHugeResponse: a server answers every bulk request with an endless
// stream (here 160 MiB). The indexer must read at most MaxResponseSize of
// it, count the request as failed, retry, and dead-letter the documents when
// the retries are used up; the memory it allocates stays bounded by the
// limit, not by what the server sends.
func TestHugeResponse(t *testing.T) {
	const streamed = 160 << 20
	chunk := bytes.Repeat([]byte(`{"errors":true,"items":[`), 4096)
	var bulks atomic.Int64
	srv := httptest.NewServer(stubES(&bulks, func(w http.ResponseWriter) {
		for sent := 0; sent < streamed; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return // the client hung up
			}
		}
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	defer srv.Close()
	dl := filepath.Join(t.TempDir(), "dead.ndjson")
	var logged strings.Builder
	var logMu sync.Mutex
	ix := newTestIndexer(t, srv.URL, func(c *Config) {
		c.DeadLetter, c.Indexers, c.MaxRetries, c.Gzip = dl, 1, 1, false
		c.Logf = func(format string, args ...any) {
			logMu.Lock()
			fmt.Fprintf(&logged, format+"\n", args...)
			logMu.Unlock()
		}
	})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range 3 {
		if err := ix.Add(ctx, "packets-2024-01-02", []byte{'a' + byte(i)}, []byte(`{"a":1}`)); err != nil {
			t.Fatal(err)
		}
	}
	ix.Flush(ctx)
	ix.Close(ctx)
	runtime.ReadMemStats(&after)
	s := ix.Stats()
	n := bulks.Load()
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d bulk requests, %.1f MB allocated; stats %+v", n, float64(alloc)/(1<<20), s)
	// Each attempt may grow a buffer to the limit by doubling (twice the
	// limit in all); the indexer's batches and the rest of the run are a
	// fixed 16 MiB at most.
	const perAttempt, fixed = 2 * MaxResponseSize, 16 << 20
	if bound := uint64(n)*perAttempt + fixed; n == 0 || alloc > bound {
		t.Errorf("%d requests allocated %.1f MB, want at most %d MB", n, float64(alloc)/(1<<20), bound>>20)
	}
	b, _ := os.ReadFile(dl)
	if s.Added != 3 || s.DeadLettered != 3 || s.Indexed != 0 || s.FailedRequests < n {
		t.Errorf("stats %+v: want all 3 dead-lettered after %d failed requests", s, n)
	}
	for _, want := range []string{"retries_exhausted", "larger than 32 MiB"} {
		if strings.Count(string(b), want) != 3 {
			t.Errorf("dead-letter file does not say %q for each item:\n%.300s", want, b)
		}
	}
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(logged.String(), "answer larger than 32 MiB") {
		t.Errorf("log does not report the oversized answer:\n%.300s", logged.String())
	}
}
