package main

// The Elasticsearch sink: --node and its flags, deterministic document IDs,
// the interrupt protocol and the indexing summary. See docs/ELASTICSEARCH.md.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/espcap/espcap-fast/bulk"
	"github.com/espcap/espcap-fast/encode"
	"github.com/espcap/espcap-fast/pipeline"
)

// esFlags are the flags of the Elasticsearch sink.
type esFlags struct {
	nodes       stringList
	chunk       int
	bulkBytes   byteSize
	indexers    int
	prefix      string
	period      string
	periodValue encode.IndexPeriod // period, parsed by checkIndexNames
	dataStream  string
	noGzip      bool
	noTemplate  bool
	noRefresh   bool
	retention   retention
	// privileges is what the command needs, for a 403 (empty: an import's)
	privileges    string
	user          string
	passwordFile  string
	apiKeyFile    string
	caCert        string
	insecure      bool
	deadLetter    string
	flushTimeout  time.Duration
	statsInterval time.Duration
	spool         *spoolFlags // nil: no spool (query, template)
	flowPrefix    string      // flow documents' index prefix ("": none; see flowsink.go)
	// flowDataStream is the flow documents' data stream ("": none)
	flowDataStream string
}

// registerESFlags defines the Elasticsearch flags on fs.
func registerESFlags(fs *flag.FlagSet) *esFlags {
	e := &esFlags{bulkBytes: bulk.DefaultMaxBytes}
	fs.Var(&e.nodes, "node", "Elasticsearch/OpenSearch node, host:port (http) or URL; repeatable or comma-separated (absent: NDJSON to stdout)")
	fs.IntVar(&e.chunk, "chunk", bulk.DefaultChunk, "documents per bulk request")
	fs.Var(&e.bulkBytes, "bulk-bytes", "cap of one bulk request body before compression (e.g. 5MB, 512KB)")
	fs.IntVar(&e.indexers, "indexers", bulk.DefaultIndexers, "bulk requests in flight")
	fs.StringVar(&e.prefix, "index-prefix", "packets-", "index name prefix: documents go to <prefix>YYYY-MM-DD (UTC day of the packet; see --index-period)")
	fs.StringVar(&e.period, "index-period", "day", "capture time per index: day (<prefix>YYYY-MM-DD, espcap's), week (<prefix>YYYY-wWW, ISO week), month (<prefix>YYYY-MM) or none (<prefix>all)")
	fs.StringVar(&e.dataStream, "data-stream", "", "index into this data stream instead of daily indices")
	fs.BoolVar(&e.noGzip, "no-gzip", false, "send bulk bodies uncompressed")
	fs.Var(&e.retention, "retention", "delete this run's time-named indices (<prefix>YYYY-MM-DD, -wWW, -MM) whose period ended longer ago than this (7d, 2w, 36h), at start and daily (see also: espcap-fast prune)")
	fs.BoolVar(&e.noRefresh, "no-refresh", false, "do not refresh the indices at the end (what was indexed then becomes searchable within the index refresh interval, 5 s)")
	fs.BoolVar(&e.noTemplate, "no-template", false, "do not install the index template at start")
	fs.StringVar(&e.user, "user", "", "user for basic auth; the password comes from $ES_PASSWORD or --password-file")
	fs.StringVar(&e.passwordFile, "password-file", "", "file holding the password for --user")
	fs.StringVar(&e.apiKeyFile, "api-key-file", "", "file holding an API key (base64 id:key); default $ES_API_KEY")
	fs.StringVar(&e.caCert, "ca-cert", "", "PEM file of the CA(s) to trust for https nodes")
	fs.BoolVar(&e.insecure, "insecure", false, "do not verify the nodes' TLS certificates")
	fs.StringVar(&e.deadLetter, "dead-letter", "", "NDJSON file receiving the documents rejected for good, created (0600) only when needed (default: <state dir>/dead-letter/"+defaultDeadLetter+")")
	fs.DurationVar(&e.flushTimeout, "flush-timeout", 30*time.Second, "after an interrupt, how long to keep sending what was read before giving up")
	fs.DurationVar(&e.statsInterval, "stats-interval", 10*time.Second, "how often to print indexing progress on stderr (0: only at the end)")
	return e
}

// byteSize is a flag holding a size in bytes: 5000000, 5MB, 512KB, 1MiB.
type byteSize int

func (b *byteSize) String() string { return strconv.Itoa(int(*b)) }

func (b *byteSize) Set(s string) error {
	n, err := parseSize(s, 1<<31)
	*b = byteSize(n)
	return err
}

// parseSize parses a size in bytes (5000000, 5MB, 512KB, 1MiB, 10G) of at
// most limit bytes.
func parseSize(s string, limit int64) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"TIB", 1 << 40}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"TB", 1000 * 1000 * 1000 * 1000}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > limit/mult {
		return 0, fmt.Errorf("not a size: %q", s)
	}
	return n * mult, nil
}

// readSecret returns the secret in file (see readSecretFile), else the
// environment variable env. Errors never contain the secret.
func readSecret(file, env string, logf func(string, ...any)) (string, error) {
	if file != "" {
		return readSecretFile(file, logf)
	}
	return os.Getenv(env), nil
}

// nodeFromEnv makes $ES_URL the node when no --node is given: the
// subcommands that only talk to a cluster (query, prune, drain) default to
// it; an import or capture without --node writes NDJSON instead.
func (e *esFlags) nodeFromEnv() {
	if len(e.nodes) == 0 && os.Getenv("ES_URL") != "" {
		e.nodes = stringList{os.Getenv("ES_URL")}
	}
}

// config turns the flags into a bulk.Config.
func (e *esFlags) config(logf func(string, ...any)) (bulk.Config, error) {
	cfg := bulk.DefaultConfig()
	cfg.Nodes = e.nodes
	cfg.Privileges = e.privileges
	cfg.Chunk, cfg.MaxBytes, cfg.Indexers = e.chunk, int(e.bulkBytes), e.indexers
	cfg.Gzip = !e.noGzip
	cfg.CACert, cfg.Insecure = e.caCert, e.insecure
	cfg.Logf = logf
	switch {
	case e.chunk < 1:
		return cfg, errors.New("--chunk must be at least 1")
	case e.indexers < 1 || e.indexers > 256:
		return cfg, errors.New("--indexers must be 1..256")
	}
	if err := e.checkIndexNames(); err != nil {
		return cfg, err
	}
	if !e.noRefresh {
		cfg.RefreshOnClose = e.prefix + "*"
		if e.dataStream != "" {
			cfg.RefreshOnClose = e.dataStream
		}
		if e.flowPrefix != "" {
			cfg.RefreshOnClose += "," + e.flowPrefix + "*"
		}
		if e.flowDataStream != "" {
			cfg.RefreshOnClose += "," + e.flowDataStream
		}
	}
	apiKey, err := readSecret(e.apiKeyFile, "ES_API_KEY", logf)
	if err != nil {
		return cfg, fmt.Errorf("--api-key-file: %w", err)
	}
	if e.user != "" {
		pass, err := readSecret(e.passwordFile, "ES_PASSWORD", logf)
		if err != nil {
			return cfg, fmt.Errorf("--password-file: %w", err)
		}
		if pass == "" {
			return cfg, errors.New("--user needs a password: set ES_PASSWORD or give --password-file")
		}
		if e.apiKeyFile != "" {
			return cfg, errors.New("give either --user or --api-key-file, not both")
		}
		cfg.User, cfg.Password = e.user, pass
		apiKey = "" // --user wins over an API key in the environment
	} else if e.passwordFile != "" {
		return cfg, errors.New("--password-file needs --user")
	}
	var ns bulk.NodeSecurity
	if len(e.nodes) > 0 {
		if ns, err = bulk.InspectNodes(e.nodes); err != nil {
			return cfg, err
		}
	}
	if ns.User != "" && e.user == "" {
		if e.apiKeyFile != "" {
			return cfg, errors.New("give either credentials in --node or --api-key-file, not both")
		}
		apiKey = "" // like --user, credentials in --node win over $ES_API_KEY
	}
	cfg.APIKey = apiKey
	warnCredentials(logf, cfg, ns, e.insecure)
	return cfg, nil
}

// checkIndexNames checks the data stream name, or else the index prefix.
func (e *esFlags) checkIndexNames() error {
	p, err := encode.ParseIndexPeriod(e.period)
	if err != nil {
		return fmt.Errorf("--index-period: %w", err)
	}
	e.periodValue = p
	if e.dataStream != "" {
		return checkIndexName(e.dataStream, "--data-stream")
	}
	return checkIndexName(e.prefix, "--index-prefix")
}

// checkIndexName rejects what Elasticsearch refuses in index names, so that
// a bad prefix fails at once instead of dead-lettering every document.
func checkIndexName(s, flagName string) error {
	switch {
	case s == "":
		return fmt.Errorf("%s must not be empty", flagName)
	case s != strings.ToLower(s):
		return fmt.Errorf("%s %q: index names must be lowercase", flagName, s)
	case strings.ContainsAny(s, `\/*?"<>| ,#:`):
		return fmt.Errorf("%s %q: index names must not contain \\ / * ? \" < > | space , # :", flagName, s)
	case strings.ContainsAny(s[:1], "-_+."):
		return fmt.Errorf("%s %q: index names must not start with - _ + or .", flagName, s)
	case len(s) > 200:
		return fmt.Errorf("%s is too long", flagName)
	}
	return nil
}

// abortHook is called by main on the second interrupt, before it exits: it
// abandons what is still in flight (dead-lettered as "aborted") and lets
// the summary be printed. Set while an indexing run is active.
var abortHook atomic.Pointer[func()]

func runAbortHook() {
	if f := abortHook.Load(); f != nil {
		(*f)()
	}
}

// indexSink is the pipeline.Sink that indexes documents.
//
// Document IDs: <source id>-<frame number>, where the source id is the
// capture file's content hash (pipeline.Source.ID: size and first 64 KiB),
// so re-importing a file, under any name, gives the same IDs, and the bulk
// "create" action turns every re-sent document into a 409, counted as a
// duplicate. Standard input has no stable identity: it gets a random id per
// run ("stdin-<16 hex>"), so two different captures piped in never collide
// (and a re-import through stdin is not deduplicated).
type indexSink struct {
	ix         *bulk.Indexer
	sp         *spoolStage // nil: no spool
	flags      *esFlags
	w          io.Writer
	quiet      bool
	packets    func() uint64 // packets read so far (the pipeline's counter)
	start      time.Time
	runID      string
	ctx        context.Context // Add and Close; ends on abort or flush timeout
	cancel     context.CancelFunc
	sigs       chan os.Signal
	interrupts atomic.Int32
	tickOnce   sync.Once // the ticker starts with the first Write
	stopTicker chan struct{}
	tickerDone chan struct{}
	finished   chan struct{}
	finishOnce sync.Once
	code       int

	flowID   []byte          // the _id of an interim flow document (flowTarget)
	srcID    string          // last Source.ID seen
	idPrefix []byte          // its document id prefix
	pktIx    periodIndex     // the packet documents' index (indexFor)
	flowIx   periodIndex     // the flow documents' index (flowIndexFor)
	indices  map[string]bool // every index name given (for the summary)
	id       []byte
	notSent  atomic.Int64 // documents the sink could not hand to the indexer
	handed   atomic.Int64 // packets of the batches the pipeline wrote to the sink
	// unfiltered: packets and handed count packets before the --bpf
	// filter (the file pipeline filters in its workers)
	unfiltered bool
	failed     atomic.Bool // Write returned an error: the pipeline stopped reading and writing
}

// newIndexSink connects to the cluster (a clear error when it is not there
// or refuses the credentials), installs the index template unless
// --no-template, and starts the periodic summary.
func newIndexSink(e *esFlags, w io.Writer, quiet bool, warn func(error)) (*indexSink, error) {
	var lastRetryMsg atomic.Int64
	logf := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		switch {
		case strings.Contains(msg, "retrying") || strings.Contains(msg, "to retry"):
			// Every retry is reported by the indexer; show at most
			// one every 10 s (the summary counts them all).
			now := time.Now().UnixNano()
			last := lastRetryMsg.Load()
			if now-last < int64(10*time.Second) || !lastRetryMsg.CompareAndSwap(last, now) {
				return
			}
			msg += " (retrying until the server answers; further retries are counted in the summary)"
		case strings.Contains(msg, " installed") || strings.Contains(msg, ": kept") ||
			strings.HasPrefix(msg, "bulk: elasticsearch") || strings.HasPrefix(msg, "bulk: opensearch") ||
			strings.Contains(msg, "documents dead-lettered"):
			// Set-up chatter and what the summary says anyway.
			if os.Getenv("ESPCAP_DEBUG") == "" {
				return
			}
		}
		warn(errors.New(msg))
	}
	cfg, err := e.config(logf)
	if err != nil {
		return nil, err
	}
	// only an import writes a dead-letter file
	if e.deadLetter, err = deadLetterPath(e.deadLetter); err != nil {
		return nil, err
	}
	cfg.DeadLetter = e.deadLetter
	spoolDir, err := e.spool.resolve()
	if err != nil {
		return nil, err
	}
	// the spool keeps every batch until it was answered: what an abort
	// abandons stays there for the next run instead of being dead-lettered
	cfg.KeepAborted = spoolDir != ""
	setup, cancelSetup := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancelSetup()
	ix, err := bulk.New(setup, cfg)
	if err != nil {
		return nil, err
	}
	if !e.noTemplate {
		if err := ix.InstallTemplates(setup, e.prefix, e.dataStream); err != nil {
			_ = ix.Close(context.Background())
			return nil, fmt.Errorf("%w (--no-template skips the template)", err)
		}
	}
	s := &indexSink{
		ix: ix, flags: e, w: w, quiet: quiet, start: time.Now(),
		indices: map[string]bool{}, stopTicker: make(chan struct{}), tickerDone: make(chan struct{}),
		finished: make(chan struct{}), sigs: make(chan os.Signal, 2),
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	s.runID = hex.EncodeToString(rnd[:])
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if e.retention > 0 && e.dataStream == "" {
		startRetention(s.ctx, ix, e.prefix, time.Duration(e.retention), logf)
	}
	if err := s.startFlows(setup, logf); err != nil {
		s.cancel()
		_ = ix.Close(context.Background())
		return nil, err
	}
	if s.sp, err = openSpoolStage(e.spool, spoolDir, ix, s.ctx, w, warn); err != nil {
		_ = ix.Close(context.Background())
		return nil, err
	}
	// Interrupts: main cancels the reading; here the first one starts the
	// flush deadline and the second abandons what is in flight.
	signal.Notify(s.sigs, os.Interrupt, syscall.SIGTERM)
	go s.watchSignals()
	hook := s.abort
	abortHook.Store(&hook)
	return s, nil
}

func (s *indexSink) watchSignals() {
	for range s.sigs {
		if s.interrupts.Add(1) == 1 {
			s.interrupted()
		} else {
			s.cancel()
		}
	}
}

// interrupted starts the flush deadline: what was read is still sent for
// --flush-timeout, then abandoned (dead-lettered as "aborted").
func (s *indexSink) interrupted() {
	if s.interrupts.Load() == 0 {
		s.interrupts.Store(1)
	}
	d := s.flags.flushTimeout
	fmt.Fprintf(s.w, "espcap-fast: sending the documents already read (at most %s; interrupt again to abort)\n", d)
	time.AfterFunc(d, s.cancel)
}

// abort is the second interrupt: stop at once, then wait (briefly) for the
// summary.
func (s *indexSink) abort() {
	s.cancel()
	select {
	case <-s.finished:
	case <-time.After(15 * time.Second):
	}
}

// Write implements pipeline.Sink: one bulk item per document, in the
// packet's daily index (or the data stream), with a deterministic _id.
func (s *indexSink) Write(b *pipeline.Batch) error {
	s.tickOnce.Do(func() { go s.ticker() })
	if src := b.Source(); src != nil && (s.idPrefix == nil || src.ID != s.srcID) {
		s.srcID = src.ID
		s.idPrefix = docIDPrefix(s.idPrefix[:0], src.ID, s.runID)
	}
	s.handed.Add(int64(b.Len()))
	if s.sp != nil {
		return s.sp.write(s, b)
	}
	if s.ctx.Err() != nil {
		return s.deadLetterRest(b, 0)
	}
	for i := range b.Len() {
		doc, ts, n := b.Doc(i)
		if doc == nil {
			continue
		}
		s.id = strconv.AppendUint(append(s.id[:0], s.idPrefix...), n, 10)
		if err := s.ix.Add(s.ctx, s.indexFor(ts), s.id, doc); err != nil {
			if s.ctx.Err() != nil {
				// Aborted (second interrupt, or the flush timeout):
				// what the pipeline still hands over was read, so it
				// goes to the dead-letter file instead of vanishing.
				return s.deadLetterRest(b, i)
			}
			for j := i; j < b.Len(); j++ {
				if d, _, _ := b.Doc(j); d != nil {
					s.notSent.Add(1)
				}
			}
			s.notSent.Add(int64(b.Flows()))
			s.failed.Store(true)
			return fmt.Errorf("indexing: %w", err)
		}
	}
	return s.writeFlows(b)
}

// deadLetterRest writes the documents of b from the i-th on to the
// dead-letter file as "aborted" (the run was aborted: they were read but
// will not be sent). Those it cannot write are counted as not sent.
func (s *indexSink) deadLetterRest(b *pipeline.Batch, i int) error {
	for j := i; j < b.Len(); j++ {
		doc, ts, n := b.Doc(j)
		if doc == nil {
			continue
		}
		s.id = strconv.AppendUint(append(s.id[:0], s.idPrefix...), n, 10)
		if err := s.ix.DeadLetter(s.indexFor(ts), s.id, doc, "aborted", "interrupted before the document was sent"); err != nil {
			s.notSent.Add(1)
		}
	}
	s.deadLetterFlows(b, 0)
	return nil
}

// indexFor returns the index for a packet time (Unix nanoseconds). The name
// is made again when the UTC day changes (every period is whole days).
func (s *indexSink) indexFor(ts int64) string {
	if s.flags.dataStream != "" {
		return s.flags.dataStream
	}
	return s.pktIx.forTime(s.flags.prefix, s.flags.periodValue, ts, s.indices)
}

// periodIndex names the time-named index of one prefix for document times
// (Unix ns), made again only when the UTC day changes (every period is
// whole days).
type periodIndex struct {
	day   int64
	name  []byte
	index string
}

// forTime returns the index for a document time and records every new name
// in seen.
func (x *periodIndex) forTime(prefix string, period encode.IndexPeriod, ts int64, seen map[string]bool) string {
	if day := dayOf(ts); x.name == nil || day != x.day {
		x.day = day
		x.name = encode.AppendPeriodIndexName(x.name[:0], prefix, period, ts)
		x.index = string(x.name)
		seen[x.index] = true
	}
	return x.index
}

// indexList names the indices documents were sent to (the data stream),
// sorted, at most ten and a count of the rest.
func (s *indexSink) indexList() string {
	if s.flags.dataStream != "" {
		return "data stream " + s.flags.dataStream + s.flowStreamNamed()
	}
	names := make([]string, 0, len(s.indices))
	for n := range s.indices {
		names = append(names, n)
	}
	if s.sp != nil {
		// after finish: the drain goroutine has stopped
		for n := range s.sp.indices {
			if !s.indices[n] {
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	if len(names) > 10 {
		return strings.Join(names[:10], ", ") + fmt.Sprintf(" and %d more", len(names)-10) + s.flowStreamNamed()
	}
	return strings.Join(names, ", ") + s.flowStreamNamed()
}

// docIDPrefix appends the document id prefix for a source id: the id
// itself when it is a content hash, a per-run random id for standard input
// and other streams (named pipes, devices), else a hash-free but safe form
// of it.
func docIDPrefix(dst []byte, srcID, runID string) []byte {
	switch {
	case srcID == "" || pipeline.IsStreamID(srcID):
		// "stdin-<run>", and "-<path hash>" for a named pipe or device
		dst = append(dst, "stdin-"...)
		dst = append(dst, runID...)
		dst = append(dst, strings.TrimPrefix(srcID, "stdin")...)
	default:
		if len(srcID) > 128 {
			srcID = srcID[:128]
		}
		dst = append(dst, srcID...)
	}
	return append(dst, '-')
}

// ticker prints the progress line every --stats-interval.
func (s *indexSink) ticker() {
	defer close(s.tickerDone)
	if s.quiet || s.flags.statsInterval <= 0 {
		<-s.stopTicker
		return
	}
	t := time.NewTicker(s.flags.statsInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stopTicker:
			return
		case <-t.C:
			fmt.Fprintf(s.w, "espcap-fast: indexing: %s\n", s.summary())
		}
	}
}

// summary renders the counters.
func (s *indexSink) summary() string {
	st := s.ix.Stats()
	var read uint64
	if s.packets != nil {
		read = s.packets()
	}
	el := time.Since(s.start)
	rate := float64(st.Indexed+st.Duplicates) / el.Seconds()
	spooled := ""
	if s.sp != nil {
		spooled = s.sp.summary()
	}
	return fmt.Sprintf("%d packets read, %d docs indexed, %d duplicates, %d retried, %d dead-lettered, %d in flight; %d bulk requests (%d failed), latency avg %s max %s; %s, %.0f docs/s%s",
		read, st.Indexed, st.Duplicates, st.Retried, st.DeadLettered, st.Added-st.Indexed-st.Duplicates-st.DeadLettered,
		st.Requests, st.FailedRequests, st.LatencyAvg.Round(time.Millisecond), st.LatencyMax.Round(time.Millisecond),
		el.Round(time.Millisecond), rate, spooled)
}

// finish flushes and closes the indexer (waiting without limit, unless
// interrupted: then for --flush-timeout from the interrupt), prints the
// summary (even with -q when something was lost) and returns the exit
// status: 0, or 1 when a document was dead-lettered or not sent.
func (s *indexSink) finish(runCtx context.Context) int {
	s.finishOnce.Do(func() {
		defer close(s.finished)
		if runCtx.Err() != nil && s.interrupts.Load() == 0 {
			// main saw the interrupt before our own handler did
			s.interrupted()
		}
		if s.sp != nil {
			s.sp.finish()
		}
		closeErr := s.ix.Close(s.ctx)
		signal.Stop(s.sigs)
		close(s.sigs)
		abortHook.Store(nil)
		s.tickOnce.Do(func() { close(s.tickerDone) }) // never started
		close(s.stopTicker)
		<-s.tickerDone
		st := s.ix.Stats()
		lost := st.DeadLettered + s.notSent.Load()
		if s.sp != nil {
			lost += s.sp.close(s.w)
		}
		if !s.quiet || lost > 0 || closeErr != nil {
			fmt.Fprintf(s.w, "espcap-fast: indexed: %s\n", s.summary())
			if st.Added > 0 {
				fmt.Fprintf(s.w, "espcap-fast: into %s\n", s.indexList())
			}
		}
		if closeErr != nil {
			fmt.Fprintf(s.w, "espcap-fast: %v\n", closeErr)
		}
		if st.DeadLettered > 0 {
			fmt.Fprintf(s.w, "espcap-fast: %d documents could not be indexed; they are in %s with the reason\n", st.DeadLettered, s.flags.deadLetter)
		}
		if n := s.notSent.Load(); n > 0 {
			fmt.Fprintf(s.w, "espcap-fast: %d documents were read but not sent; importing the same files again adds them without duplicates\n", n)
		}
		if s.failed.Load() && s.packets != nil {
			// After a Write error the pipeline stops reading and hands
			// nothing more to the sink: say how much of what it had
			// read that leaves out, rather than lose it silently.
			if n := int64(s.packets()) - s.handed.Load(); n > 0 {
				lost += n
				some := ""
				if s.unfiltered {
					some = " (counted before --bpf: some may not match it)"
				}
				fmt.Fprintf(s.w, "espcap-fast: %d more packets were read but not indexed%s: reading stopped at the error; importing the same files again adds them without duplicates\n", n, some)
			}
		}
		if lost > 0 || closeErr != nil {
			s.code = 1
		}
		if s.interrupts.Load() > 1 {
			s.code = 130 // aborted: the same status main exits with
		}
		s.cancel()
	})
	return s.code
}
