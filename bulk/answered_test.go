package bulk

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/espcap/espcap-fast/internal/estest"
)

func TestIntegrationOnAnswered(t *testing.T) {
	base := estest.URL(t)
	idx := testIndex(t, base, "answered")
	if st, body := esDo(t, base, http.MethodPut, "/"+idx, []byte(`{"mappings":{"properties":{"n":{"type":"long"}}}}`)); st != http.StatusOK {
		t.Fatalf("create index: %d %s", st, body)
	}
	ix := newTestIndexer(t, base, func(c *Config) { c.Chunk = 7; c.Indexers = 4; c.DeadLetter = t.TempDir() + "/dead.ndjson" })
	ctx := context.Background()
	var mu sync.Mutex
	var order []int
	const n, every = 300, 10
	for i := range n {
		doc := fmt.Appendf(nil, `{"n":%d}`, i)
		if i == 123 {
			doc = []byte(`{"n":"not a number"}`) // dead-lettered: answered too
		}
		if err := ix.Add(ctx, idx, fmt.Appendf(nil, "a%d", i), doc); err != nil {
			t.Fatal(err)
		}
		if (i+1)%every == 0 {
			added := i + 1
			ix.OnAnswered(func() {
				st := ix.Stats()
				if got := st.Indexed + st.Duplicates + st.DeadLettered; got < int64(added) {
					t.Errorf("callback after %d documents ran when only %d were answered", added, got)
				}
				mu.Lock()
				order = append(order, added)
				mu.Unlock()
			})
		}
	}
	if err := ix.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	ran := false
	ix.OnAnswered(func() { ran = true }) // nothing pending: at once
	if !ran {
		t.Error("OnAnswered with nothing pending did not run at once")
	}
	s := closeIx(t, ix)
	if s.Indexed != n-1 || s.DeadLettered != 1 {
		t.Errorf("stats %+v", s)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(order) != n/every {
		t.Fatalf("%d callbacks ran, want %d", len(order), n/every)
	}
	for i, a := range order {
		if a != (i+1)*every {
			t.Fatalf("callbacks out of order: %v", order)
		}
	}
}

func TestIntegrationOnAnsweredAbort(t *testing.T) {
	base := estest.URL(t)
	idx := testIndex(t, base, "answered-abort")
	px := newProxy(t, base)
	ix := newTestIndexer(t, px.srv.URL, func(c *Config) { c.Chunk = 10; c.DeadLetter = t.TempDir() + "/dead.ndjson" })
	px.mode.Store(modeDrop)
	addDocs(t, ix, 25, idx)
	called := make(chan struct{}, 1)
	ix.OnAnswered(func() { called <- struct{}{} })
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := ix.Close(ctx); err == nil {
		t.Fatal("Close should report the abort")
	}
	select {
	case <-called:
		t.Fatal("callback ran for documents abandoned by the abort")
	default:
	}
}

// TestIntegrationKeepAborted: with KeepAborted an abort leaves the
// abandoned documents to the caller: counted, nothing in the dead-letter
// file, no error from Close; without it they are dead-lettered.
func TestIntegrationKeepAborted(t *testing.T) {
	base := estest.URL(t)
	for _, keep := range []bool{false, true} {
		idx := testIndex(t, base, fmt.Sprintf("keepaborted%v", keep))
		px := newProxy(t, base)
		dead := t.TempDir() + "/dead.ndjson"
		ix := newTestIndexer(t, px.srv.URL, func(c *Config) { c.Chunk = 10; c.DeadLetter = dead; c.KeepAborted = keep })
		px.mode.Store(modeDrop)
		addDocs(t, ix, 25, idx)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := ix.Close(ctx)
		cancel()
		st := ix.Stats()
		b, _ := os.ReadFile(dead)
		lines := bytes.Count(b, []byte("\n"))
		if keep {
			if err != nil || st.Abandoned != 25 || st.DeadLettered != 0 || lines != 0 {
				t.Errorf("KeepAborted: Close %v, %d abandoned, %d dead-lettered, %d dead-letter lines; want nil, 25, 0, 0", err, st.Abandoned, st.DeadLettered, lines)
			}
		} else if err == nil || st.Abandoned != 0 || st.DeadLettered != 25 || lines != 25 {
			t.Errorf("default: Close %v, %d abandoned, %d dead-lettered, %d dead-letter lines; want an error, 0, 25, 25", err, st.Abandoned, st.DeadLettered, lines)
		}
	}
}

// TestIntegrationFlushInterval: documents that do not fill a bulk request
// are sent once the first has waited FlushInterval, without Flush (a quiet
// live link); with a negative interval they wait for Flush.
func TestIntegrationFlushInterval(t *testing.T) {
	base := estest.URL(t)
	for _, c := range []struct {
		interval time.Duration
		sent     bool
	}{
		{200 * time.Millisecond, true},
		{-1, false},
	} {
		idx := testIndex(t, base, fmt.Sprintf("flushinterval%d", c.interval))
		ix := newTestIndexer(t, base, func(cfg *Config) { cfg.Chunk = 1000; cfg.FlushInterval = c.interval })
		ctx := context.Background()
		for i := range 3 {
			if err := ix.Add(ctx, idx, fmt.Appendf(nil, "q%d", i), fmt.Appendf(nil, `{"n":%d}`, i)); err != nil {
				t.Fatal(err)
			}
		}
		answered := make(chan struct{})
		ix.OnAnswered(func() { close(answered) })
		select {
		case <-answered:
			if !c.sent {
				t.Errorf("interval %v: the documents were sent before Flush", c.interval)
			}
		case <-time.After(3 * time.Second):
			if c.sent {
				t.Errorf("interval %v: 3 documents still unsent after 3 s", c.interval)
			}
		}
		if s := closeIx(t, ix); s.Indexed != 3 {
			t.Errorf("interval %v: stats %+v", c.interval, s)
		}
	}
}
