package bulk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elastic/elastic-transport-go/v8/elastictransport"
	"github.com/klauspost/compress/gzip"
	"github.com/valyala/fastjson"
)

// ErrClosed is returned by Add and Flush after Close.
var ErrClosed = errors.New("bulk: indexer closed")

// Stats are the indexer's counters. Added = Indexed + Duplicates +
// DeadLettered + Abandoned + documents still buffered or in flight.
type Stats struct {
	Added          int64         // documents accepted by Add
	Indexed        int64         // items the server stored (2xx)
	Duplicates     int64         // items answered 409 on "create": already there
	Retried        int64         // item re-sends (429, 5xx, connection errors)
	DeadLettered   int64         // items rejected for good or abandoned on abort
	Abandoned      int64         // items abandoned on abort and left to the caller (Config.KeepAborted)
	Requests       int64         // bulk HTTP requests sent (including failed ones)
	FailedRequests int64         // requests without a usable answer or with 429/5xx
	BytesRaw       int64         // uncompressed body bytes sent
	BytesSent      int64         // body bytes on the wire (compressed if Gzip)
	LatencyAvg     time.Duration // mean round trip of the requests answered
	LatencyMax     time.Duration // longest bulk request round trip
}

// Indexer sends documents to Elasticsearch or OpenSearch with parallel bulk
// requests. Add, Flush, Stats and Close are safe for concurrent use.
//
// Memory: the indexer holds at most Indexers+1 uncompressed batches of about
// MaxBytes each (one per worker in flight or being retried, one being filled
// by Add, which blocks while all workers are busy), plus per worker one gzip
// output buffer (smaller than the batch) and one response buffer.
type Indexer struct {
	cfg     Config
	tp      *elastictransport.Client
	urls    []*url.URL
	backend string
	version string

	mu       sync.Mutex // guards cur, curSince and closed; held while Add blocks
	cur      *batch
	curSince time.Time // when cur got its first document
	closed   bool
	work     chan *batch
	wg       sync.WaitGroup

	pendMu  sync.Mutex
	pending int           // batches handed to workers and not finished
	idle    chan struct{} // closed when pending drops to 0

	runCtx context.Context // lifetime of in-flight work; ends only by abort
	abort  context.CancelFunc

	dl      *deadLetter
	fatal   atomic.Pointer[error]
	answers answered // OnAnswered

	added, indexed, dups, retried, dead    atomic.Int64
	abandoned                              atomic.Int64
	requests, failedReq, bytesRaw, bytesTx atomic.Int64
	latTotal, latMax, answered             atomic.Int64
}

// New validates cfg, connects to the cluster (GET / to learn backend and
// version; a clear error when it is unreachable or refuses the credentials),
// opens the dead-letter file and starts the bulk workers. ctx bounds only
// this setup: in-flight bulk requests live until Close.
func New(ctx context.Context, cfg Config) (*Indexer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	urls, user, pass, err := parseNodes(cfg.Nodes)
	if err != nil {
		return nil, err
	}
	if cfg.User == "" && user != "" {
		cfg.User, cfg.Password = user, pass
		if cfg.APIKey != "" { // checked again now that the URL's user counts
			return nil, errors.New("bulk: give either a user/password (here in a node URL) or an API key, not both")
		}
	}
	ht, err := cfg.httpTransport()
	if err != nil {
		return nil, err
	}
	tp, err := elastictransport.New(elastictransport.Config{
		URLs:         urls,
		Username:     cfg.User,
		Password:     cfg.Password,
		APIKey:       cfg.APIKey,
		Transport:    ht,
		DisableRetry: true, // we retry per item, with our own backoff
		UserAgent:    "espcap-fast",
	})
	if err != nil {
		return nil, fmt.Errorf("bulk: transport: %w", err)
	}
	ix := &Indexer{cfg: cfg, tp: tp, urls: urls, work: make(chan *batch)}
	if err := ix.detect(ctx); err != nil {
		_ = tp.Close(context.Background())
		return nil, err
	}
	if cfg.DeadLetter != "" {
		if ix.dl, err = openDeadLetter(cfg.DeadLetter); err != nil {
			return nil, err
		}
	}
	ix.runCtx, ix.abort = context.WithCancel(context.Background())
	ix.cur = ix.newBatch()
	for range cfg.Indexers {
		ix.wg.Add(1)
		go ix.worker()
	}
	if cfg.FlushInterval > 0 {
		go ix.flusher()
	}
	cfg.Logf("bulk: %s %s at %s, %d indexers, chunk %d, %d bytes, gzip %v",
		ix.backend, ix.version, ix.nodeList(), cfg.Indexers, cfg.Chunk, cfg.MaxBytes, cfg.Gzip)
	return ix, nil
}

// Backend returns "elasticsearch" or "opensearch" and the server version.
func (ix *Indexer) Backend() (name, version string) { return ix.backend, ix.version }

func (ix *Indexer) nodeList() string {
	s := make([]string, len(ix.urls))
	for i, u := range ix.urls {
		s[i] = u.String()
	}
	return strings.Join(s, ",")
}

func (ix *Indexer) newBatch() *batch {
	b := getBatch()
	b.seq = ix.answers.batchSeq()
	if want := ix.cfg.MaxBytes + 64<<10; cap(b.buf) < want {
		b.buf = make([]byte, 0, want)
	}
	if cap(b.items) < ix.cfg.Chunk {
		b.items = make([]item, 0, ix.cfg.Chunk)
	}
	return b
}

// Add queues one document for index with the given _id (empty: the server
// picks one). id and doc are copied: the caller may reuse its buffers at
// once. doc must be one JSON value. Add sends the current batch when it is
// full (Chunk documents or MaxBytes) and blocks while Indexers requests are
// already in flight: that is the backpressure that slows reading down. It
// returns ctx's error if ctx ends while blocked (the document is then not
// added), ErrClosed after Close, or a fatal error (authentication).
func (ix *Indexer) Add(ctx context.Context, index string, id []byte, doc []byte) error {
	return ix.AddWith(ctx, index, id, doc, ItemOptions{})
}

// ItemOptions choose one document's bulk action and version (AddWith).
type ItemOptions struct {
	// Action is the bulk action, "create" or "index" ("": Config.Action).
	Action string
	// Version, when positive, is sent with version_type "external": the
	// server keeps the document of the highest version whatever the order
	// the requests arrive in, and answers 409 (counted as a duplicate) to
	// one whose version is not higher than the stored one's.
	Version int64
}

// AddWith is Add with a per-document action and version.
func (ix *Indexer) AddWith(ctx context.Context, index string, id []byte, doc []byte, opt ItemOptions) error {
	if len(doc) == 0 {
		return errors.New("bulk: empty document")
	}
	if index == "" {
		return errors.New("bulk: empty index name")
	}
	if e := ix.fatal.Load(); e != nil {
		return *e
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return ErrClosed
	}
	action := ix.cfg.Action
	if opt.Action != "" {
		action = opt.Action
	}
	size := itemSize(action, index, id, doc) + versionSize(opt.Version)
	if n := len(ix.cur.items); n > 0 && (n >= ix.cfg.Chunk || len(ix.cur.buf)+size > ix.cfg.MaxBytes) {
		if err := ix.dispatch(ctx, ix.cur); err != nil {
			return err
		}
		ix.cur = ix.newBatch()
	}
	if len(ix.cur.items) == 0 {
		ix.curSince = time.Now()
	}
	ix.cur.addVersioned(action, index, id, doc, opt.Version)
	ix.added.Add(1)
	return nil
}

// flusher sends the batch being filled once its first document has waited
// FlushInterval, until Close.
func (ix *Indexer) flusher() {
	t := time.NewTicker(max(ix.cfg.FlushInterval/4, 10*time.Millisecond))
	defer t.Stop()
	for range t.C {
		ix.mu.Lock()
		if ix.closed {
			ix.mu.Unlock()
			return
		}
		// never waits for a worker while holding mu (Close takes it): with
		// every worker busy the batch goes at a later tick, or when full
		if len(ix.cur.items) > 0 && time.Since(ix.curSince) >= ix.cfg.FlushInterval && ix.tryDispatch(ix.cur) {
			ix.cur = ix.newBatch()
		}
		ix.mu.Unlock()
	}
}

// tryDispatch hands b to a free worker, if there is one.
func (ix *Indexer) tryDispatch(b *batch) bool {
	ix.started()
	select {
	case ix.work <- b:
		return true
	default:
		ix.finished()
		return false
	}
}

// dispatch hands b to a worker, blocking until one is free or ctx ends.
func (ix *Indexer) dispatch(ctx context.Context, b *batch) error {
	ix.started()
	select {
	case ix.work <- b:
		return nil
	case <-ctx.Done():
		ix.finished()
		return fmt.Errorf("bulk: waiting for a free indexer: %w", ctx.Err())
	}
}

// started counts a batch handed out (finished undoes it).
func (ix *Indexer) started() {
	ix.pendMu.Lock()
	if ix.pending == 0 {
		ix.idle = make(chan struct{})
	}
	ix.pending++
	ix.pendMu.Unlock()
}

func (ix *Indexer) finished() {
	ix.pendMu.Lock()
	ix.pending--
	if ix.pending == 0 {
		close(ix.idle)
	}
	ix.pendMu.Unlock()
}

// Flush sends the current batch and waits until every batch handed out so
// far has been indexed, dead-lettered, or ctx ends.
func (ix *Indexer) Flush(ctx context.Context) error {
	ix.mu.Lock()
	if ix.closed {
		ix.mu.Unlock()
		return ErrClosed
	}
	if len(ix.cur.items) > 0 {
		if err := ix.dispatch(ctx, ix.cur); err != nil {
			ix.mu.Unlock()
			return err
		}
		ix.cur = ix.newBatch()
	}
	ix.mu.Unlock()
	return ix.waitIdle(ctx)
}

func (ix *Indexer) waitIdle(ctx context.Context) error {
	ix.pendMu.Lock()
	if ix.pending == 0 {
		ix.pendMu.Unlock()
		return ix.fatalErr()
	}
	idle := ix.idle
	ix.pendMu.Unlock()
	select {
	case <-idle:
		return ix.fatalErr()
	case <-ctx.Done():
		return fmt.Errorf("bulk: flush: %w", ctx.Err())
	}
}

func (ix *Indexer) fatalErr() error {
	if e := ix.fatal.Load(); e != nil {
		return *e
	}
	return nil
}

// Close sends what is buffered, waits for every in-flight request (retrying
// as usual) and closes the dead-letter file. Give it a fresh context with a
// deadline when the run was interrupted: when ctx ends first, in-flight
// requests are abandoned and their documents written to the dead-letter
// file (reason "aborted") so that nothing is lost silently; the error says
// so (with Config.KeepAborted they are only counted, in Stats.Abandoned).
// Close is idempotent.
func (ix *Indexer) Close(ctx context.Context) error {
	ix.mu.Lock()
	if ix.closed {
		ix.mu.Unlock()
		return nil
	}
	ix.closed = true
	var errs []error
	if len(ix.cur.items) > 0 {
		if err := ix.dispatch(ctx, ix.cur); err != nil {
			if !ix.cfg.KeepAborted {
				errs = append(errs, err)
			}
			ix.abandon(ix.cur, 0, "indexer closed before the batch could be sent")
			putBatch(ix.cur)
		}
	}
	ix.cur = nil
	close(ix.work)
	ix.mu.Unlock()

	done := make(chan struct{})
	go func() { ix.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		ix.abort()
		<-done
		if !ix.cfg.KeepAborted {
			errs = append(errs, fmt.Errorf("bulk: close: in-flight documents dead-lettered as aborted: %w", ctx.Err()))
		}
	}
	ix.abort()
	if ix.cfg.RefreshOnClose != "" && ix.indexed.Load() > 0 && ctx.Err() == nil {
		ix.refresh(ctx, ix.cfg.RefreshOnClose)
	}
	if ix.dl != nil {
		if err := ix.dl.close(); err != nil {
			errs = append(errs, err)
		}
	}
	_ = ix.tp.Close(context.Background())
	if e := ix.fatal.Load(); e != nil {
		errs = append(errs, *e)
	}
	if n := ix.dead.Load(); n > 0 {
		ix.cfg.Logf("bulk: %d documents dead-lettered%s", n, ix.dlWhere())
	}
	return errors.Join(errs...)
}

// refresh makes what was indexed into the indices of pattern searchable
// now. A failure is reported, not an error: the documents are indexed and
// become searchable at the next refresh_interval anyway.
func (ix *Indexer) refresh(ctx context.Context, pattern string) {
	status, _, err := ix.Request(ctx, http.MethodPost, "/"+url.PathEscape(pattern)+"/_refresh?ignore_unavailable=true&allow_no_indices=true", nil)
	switch {
	case err != nil:
		ix.cfg.Logf("bulk: refresh %s: %v (the documents become searchable within the index refresh interval)", pattern, err)
	case status != http.StatusOK:
		ix.cfg.Logf("bulk: refresh %s: HTTP %d (the documents become searchable within the index refresh interval)", pattern, status)
	}
}

func (ix *Indexer) dlWhere() string {
	if ix.dl == nil {
		return " (no dead-letter file configured)"
	}
	return " into " + ix.cfg.DeadLetter
}

// Stats returns a snapshot of the counters.
func (ix *Indexer) Stats() Stats {
	s := Stats{
		Added:          ix.added.Load(),
		Indexed:        ix.indexed.Load(),
		Duplicates:     ix.dups.Load(),
		Retried:        ix.retried.Load(),
		DeadLettered:   ix.dead.Load(),
		Abandoned:      ix.abandoned.Load(),
		Requests:       ix.requests.Load(),
		FailedRequests: ix.failedReq.Load(),
		BytesRaw:       ix.bytesRaw.Load(),
		BytesSent:      ix.bytesTx.Load(),
		LatencyMax:     time.Duration(ix.latMax.Load()),
	}
	if n := ix.answered.Load(); n > 0 {
		s.LatencyAvg = time.Duration(ix.latTotal.Load() / n)
	}
	return s
}

// workerState is what one bulk worker reuses between requests.
type workerState struct {
	parser  fastjson.Parser
	gz      *gzip.Writer
	gzbuf   bytes.Buffer
	resp    []byte
	results []itemResult
	retry   []int
}

func (ix *Indexer) worker() {
	defer ix.wg.Done()
	w := &workerState{}
	if ix.cfg.Gzip {
		w.gz, _ = gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	}
	for b := range ix.work {
		ix.process(w, b)
		ix.answers.finished(b.seq, ix.runCtx.Err() != nil)
		putBatch(b)
		ix.finished()
	}
}

// process sends b until every item is indexed, a duplicate, or
// dead-lettered. Only failed items are re-sent.
func (ix *Indexer) process(w *workerState, b *batch) {
	attempt := 0
	lastStatus, lastErr := 0, ""
	for len(b.items) > 0 {
		if ix.runCtx.Err() != nil {
			reason := "indexer closed before the items were indexed"
			if lastErr != "" {
				reason += "; last error: " + lastErr
			}
			ix.abandon(b, lastStatus, reason)
			return
		}
		if ix.cfg.MaxRetries > 0 && attempt > ix.cfg.MaxRetries {
			ix.deadLetterAll(b, lastStatus, "retries_exhausted", lastErr)
			return
		}
		if attempt > 0 {
			if !ix.sleep(attempt) {
				continue // aborted: dead-lettered at the top of the loop
			}
			ix.retried.Add(int64(len(b.items)))
		}
		attempt++
		status, resp, err := ix.send(w, b)
		if err != nil && certError(err) {
			// Retrying cannot help: the certificate stays untrusted
			// until someone changes --ca-cert/--insecure. Fail like
			// a refused password: at once and loudly.
			ferr := fmt.Errorf("bulk: %s: %w%s", ix.nodeList(), err, certHint)
			ix.fatal.CompareAndSwap(nil, &ferr)
			ix.deadLetterAll(b, 0, "tls_error", err.Error())
			return
		}
		if err != nil {
			if ix.runCtx.Err() == nil {
				lastStatus, lastErr = 0, err.Error()
				ix.cfg.Logf("bulk: %d items, attempt %d: %v; retrying", len(b.items), attempt, err)
			}
			continue
		}
		switch {
		case status == http.StatusRequestEntityTooLarge:
			if len(b.items) == 1 {
				ix.deadLetterAll(b, status, "request_entity_too_large", "document larger than the server accepts")
				return
			}
			nb := b.split()
			ix.cfg.Logf("bulk: 413 for %d items, splitting", len(b.items)+len(nb.items))
			ix.process(w, b)
			ix.process(w, nb)
			putBatch(nb)
			return
		case status == http.StatusTooManyRequests || status >= 500:
			lastStatus, lastErr = status, "HTTP "+fmt.Sprint(status)+": "+responseReason(&w.parser, resp)
			ix.failedReq.Add(1)
			ix.cfg.Logf("bulk: %d items, attempt %d: %s; retrying", len(b.items), attempt, lastErr)
			continue
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			err := ix.accessError(ix.nodeList(), status, resp)
			ix.fatal.CompareAndSwap(nil, &err)
			ix.deadLetterAll(b, status, "security_exception", responseReason(&w.parser, resp))
			return
		case status < 200 || status > 299:
			ix.deadLetterAll(b, status, "bulk_request_rejected", responseReason(&w.parser, resp))
			return
		}
		if noErrors(resp) {
			ix.indexed.Add(int64(len(b.items)))
			return
		}
		w.results = w.results[:0]
		if err := parseItems(&w.parser, resp, len(b.items), func(_ int, r itemResult) {
			w.results = append(w.results, r)
		}); err != nil {
			// We cannot tell which items were stored: send them all
			// again; the stored ones come back as 409 duplicates.
			lastStatus, lastErr = status, err.Error()
			ix.cfg.Logf("bulk: %v; retrying the whole request", err)
			continue
		}
		w.retry = w.retry[:0]
		var indexed, dups, rejected int64
		for i, r := range w.results {
			switch classify(r.status) {
			case outIndexed:
				indexed++
			case outDuplicate:
				dups++
			case outRetry:
				w.retry = append(w.retry, i)
				lastStatus, lastErr = r.status, errorSummary(r.err)
			case outReject:
				rejected++
				var ej []byte
				if r.err != nil {
					ej = r.err.MarshalTo(nil)
				}
				ix.deadLetterItem(b, &b.items[i], r.status, ej, errorSummary(r.err))
			}
		}
		if rejected > 0 && ix.dl != nil {
			if err := ix.dl.flush(); err != nil {
				ix.cfg.Logf("bulk: %v", err)
			}
		}
		ix.indexed.Add(indexed)
		ix.dups.Add(dups)
		if len(w.retry) > 0 {
			ix.cfg.Logf("bulk: %d of %d items to retry (last: %d %s)", len(w.retry), len(b.items), lastStatus, lastErr)
		}
		b.keep(w.retry)
	}
}

// sleep waits the backoff for attempt (exponential from 100 ms, capped at
// 30 s, with jitter in [d/2, d]); false when the indexer was aborted.
func (ix *Indexer) sleep(attempt int) bool {
	d := maxBackoff
	if attempt < 16 {
		d = min(maxBackoff, baseBackoff<<(attempt-1))
	}
	d = d/2 + rand.N(d/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ix.runCtx.Done():
		return false
	}
}

// send posts b once. A nil error means an HTTP answer was read completely;
// its body is valid until the next send on w.
func (ix *Indexer) send(w *workerState, b *batch) (int, []byte, error) {
	body := b.body()
	payload := body
	if w.gz != nil {
		w.gzbuf.Reset()
		w.gz.Reset(&w.gzbuf)
		if _, err := w.gz.Write(body); err != nil {
			return 0, nil, fmt.Errorf("gzip bulk body: %w", err)
		}
		if err := w.gz.Close(); err != nil {
			return 0, nil, fmt.Errorf("gzip bulk body: %w", err)
		}
		payload = w.gzbuf.Bytes()
	}
	ctx, cancel := context.WithTimeout(ix.runCtx, ix.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "/_bulk?filter_path="+bulkFilterPath, bytes.NewReader(payload))
	if err != nil {
		return 0, nil, fmt.Errorf("build bulk request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if w.gz != nil {
		req.Header.Set("Content-Encoding", "gzip")
	}
	ix.requests.Add(1)
	ix.bytesRaw.Add(int64(len(body)))
	ix.bytesTx.Add(int64(len(payload)))
	start := time.Now()
	res, err := ix.tp.Perform(req)
	if err != nil {
		ix.failedReq.Add(1)
		return 0, nil, fmt.Errorf("bulk request: %w", err)
	}
	defer res.Body.Close()
	w.resp, err = readResponse(w.resp, res.Body)
	if cap(w.resp) > 16<<20 {
		defer func() { w.resp = nil }()
	}
	if err != nil {
		ix.failedReq.Add(1)
		return 0, nil, fmt.Errorf("read bulk response: %w", err)
	}
	lat := int64(time.Since(start))
	ix.latTotal.Add(lat)
	ix.answered.Add(1)
	for {
		m := ix.latMax.Load()
		if lat <= m || ix.latMax.CompareAndSwap(m, lat) {
			break
		}
	}
	return res.StatusCode, w.resp, nil
}

// responseReason extracts "type: reason" from an error answer, or a short
// excerpt of the body.
func responseReason(p *fastjson.Parser, resp []byte) string {
	if v, err := p.ParseBytes(resp); err == nil {
		if e := v.Get("error"); e != nil {
			if e.Type() == fastjson.TypeString {
				return string(e.GetStringBytes())
			}
			return errorSummary(e)
		}
	}
	s := strings.TrimSpace(string(resp))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	if s == "" {
		return "empty response"
	}
	return s
}
