package main

// Live capture with --engine tshark: dumpcap captures (BPF as its capture
// filter), tshark dissects, and the documents go to the same sinks as the
// native live capture's (tsharkek.Live).

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/espcap/espcap-fast/encode"
	"github.com/espcap/espcap-fast/pipeline"
	"github.com/espcap/espcap-fast/tsharkek"
)

// runTsharkLive captures on o.nics with dumpcap and tshark until --count,
// --duration or a signal, and returns the exit status. A signal or the
// duration stops dumpcap cleanly: everything it captured is dissected and
// written, the sink flushed, the summary printed, status 0.
func runTsharkLive(o *options, e *engineFlags, es *esFlags, lf *liveFlags, ff *flowFlags, stdout, stderr io.Writer) int {
	fail := func(code int, format string, args ...any) int {
		fmt.Fprintf(stderr, "espcap-fast: --engine tshark: "+format+"\n", args...)
		return code
	}
	if err := lf.validate(); err != nil {
		return fail(2, "%v", err)
	}
	tsharkAs, tsharkHome, err := tsharkCredential(lf.runAs, o.quiet, stderr)
	if err != nil {
		return fail(2, "%v", err)
	}
	nics := splitList(o.nics)
	protos, err := loadProtocols(o.protocols)
	if err != nil {
		return fail(2, "%v", err)
	}
	if o.bpf != "" {
		if err := pipeline.CheckBPF(o.bpf); err != nil {
			return fail(2, "%v", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := tsharkek.Check(ctx, e.tshark); err != nil {
		return fail(1, "%v", err)
	}
	dumpcap, err := tsharkek.FindDumpcap(e.tshark)
	if err != nil {
		return fail(1, "%v", err)
	}
	// not ctx: a signal stops the capture, and what was captured still
	// needs the field table
	fieldsCtx, cancelFields := context.WithCancel(context.Background())
	defer cancelFields()
	fields := sync.OnceValues(func() (*encode.EKFields, error) { return tsharkek.LoadFields(fieldsCtx, e.tshark) })
	go fields()

	prog := newProgress(stderr, o.quiet)
	out := bufio.NewWriterSize(stdout, 1<<20)
	var sink pipeline.Sink = &ndjsonSink{w: out}
	var idx *indexSink
	var st pipeline.Stats
	if len(es.nodes) > 0 {
		es.spool.live = true // on by default for live capture, as with the native engine
		if idx, err = newIndexSink(es, prog, o.quiet, prog.warn); err != nil {
			return fail(1, "%v", err)
		}
		idx.packets = st.Packets.Load
		sink = idx
	}
	if lf.duration > 0 {
		ctx, cancel = context.WithTimeout(ctx, lf.duration)
		defer cancel()
	}
	// a second signal exits at once: dumpcap and tshark die with
	// espcap-fast (PR_SET_PDEATHSIG)
	defer onInterrupt(cancel, prog.warn, "stopping: dumpcap stops, tshark dissects and espcap-fast writes what was captured (again to abort)")()

	filt := ""
	if o.bpf != "" {
		filt = fmt.Sprintf(", capture filter %q", o.bpf)
	}
	cfg := tsharkek.LiveConfig{
		Config: tsharkek.Config{
			Tshark:     e.tshark,
			Count:      o.count,
			BPF:        o.bpf,
			Protocols:  protos,
			FieldsFunc: fields,
			Warn:       prog.warn,
			Flows:      ff.writer(),
		},
		Dumpcap:    dumpcap,
		Interfaces: nics,
		Snaplen:    lf.snaplen,
		NoPromisc:  !lf.promisc || lf.noPromisc,
		// the kernel buffer: as much memory as one native worker's ring
		BufferMiB:        max(1, lf.blockSize*lf.blockCount>>20),
		TsharkCredential: tsharkAs,
		TsharkHome:       tsharkHome,
		Ready: func(msg string) {
			if !o.quiet {
				fmt.Fprintf(stderr, "espcap-fast: capturing on %s with dumpcap | tshark (dumpcap: %s)%s\n", strings.Join(nics, ", "), msg, filt)
			}
		},
	}
	start := time.Now()
	stopStats := tsharkStatsTicker(stderr, es.statsInterval, o.quiet, &st)
	res, runErr := tsharkek.Live(ctx, cfg, sink, &st)
	flushErr := out.Flush()
	stopStats()
	idxCode := 0
	if idx != nil {
		idxCode = idx.finish(ctx)
	}
	tsharkLiveSummary(stderr, o, res, &st, start)
	if cfg.Flows != nil {
		ff.summary(stderr, o.quiet, cfg.Flows)
	}
	switch {
	case runErr != nil:
		return fail(1, "%v", runErr)
	case flushErr != nil && !errors.Is(flushErr, syscall.EPIPE):
		return fail(1, "writing documents: %v", flushErr)
	case idxCode != 0:
		return idxCode
	}
	return 0
}

// tsharkStatsTicker prints the packets tshark dissected and the documents
// written every interval (0 or -q: never). dumpcap reports its kernel
// counts only at the end.
func tsharkStatsTicker(w io.Writer, interval time.Duration, quiet bool, st *pipeline.Stats) (stop func()) {
	if quiet {
		return func() {}
	}
	return every(interval, func() {
		fmt.Fprintf(w, "espcap-fast: stats: tshark %d packets, %d documents\n", st.Packets.Load(), st.Docs.Load())
	})
}

// tsharkLiveSummary prints dumpcap's counts per interface and the
// documents written; with -q only when packets were dropped or dumpcap
// captured more packets than tshark printed.
func tsharkLiveSummary(w io.Writer, o *options, res *tsharkek.LiveResult, st *pipeline.Stats, start time.Time) {
	if res == nil || (res.Captured < 0 && st.Packets.Load() == 0) {
		return // dumpcap did not start
	}
	drops := res.Drops()
	// packets dumpcap wrote that tshark did not print (tshark failed), or
	// that --count cut
	// (dumpcap's count can exceed what it wrote by one when SIGINT stops
	// it: one is not reported)
	lost := res.Captured >= 0 && uint64(res.Captured) > st.Packets.Load()+1 && (o.count == 0 || st.Docs.Load() < o.count)
	if o.quiet && drops == 0 && !lost {
		return
	}
	for _, c := range res.Interfaces {
		fmt.Fprintf(w, "espcap-fast: %s: dumpcap: %d packets received, %d dropped\n", c.Name, c.Received, c.Dropped)
	}
	captured := "?"
	if res.Captured >= 0 {
		captured = fmt.Sprint(res.Captured)
	}
	el := time.Since(start)
	fmt.Fprintf(w, "espcap-fast: tshark engine: %s packets captured, %d dissected, %d documents written, %d malformed, %s (%.0f packets/s)\n",
		captured, st.Packets.Load(), st.Docs.Load(), st.Malformed.Load(), el.Round(time.Millisecond), float64(st.Packets.Load())/el.Seconds())
	if drops > 0 {
		fmt.Fprintf(w, "espcap-fast: WARNING: %d packets dropped before dumpcap (tshark too slow, or the buffer too small): a larger --block-size × --block-count (the capture buffer), a narrower --bpf, or --engine native\n", drops)
	}
	if lost {
		fmt.Fprintf(w, "espcap-fast: WARNING: dumpcap captured %d packets, tshark printed %d\n", res.Captured, st.Packets.Load())
	}
}
