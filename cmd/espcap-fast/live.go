package main

// Live capture: -i/--nic, with the ring package's TPACKET_V3 rings in a
// fanout group per interface and pipeline.LiveRunner's zero-copy workers.

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/espcap/espcap-fast/filter"
	"github.com/espcap/espcap-fast/pipeline"
	"github.com/espcap/espcap-fast/ring"
)

// liveFlags are the flags of live capture.
type liveFlags struct {
	fanout       string
	snaplen      int
	promisc      bool
	noPromisc    bool
	blockSize    int
	blockCount   int
	frameTimeout time.Duration
	duration     time.Duration
	runAs        string // --run-as, -Z
}

// registerLiveFlags defines the live-capture flags on fs.
func registerLiveFlags(fs *flag.FlagSet) *liveFlags {
	l := &liveFlags{}
	fs.StringVar(&l.fanout, "fanout", "hash", "live: how the kernel spreads packets over the workers: "+strings.Join(ring.FanoutModes(), ", ")+" (hash keeps a flow on one worker)")
	fs.IntVar(&l.snaplen, "snaplen", ring.DefaultSnaplen, "live: bytes kept of each packet")
	fs.IntVar(&l.snaplen, "s", ring.DefaultSnaplen, "same as --snaplen (tcpdump's flag)")
	fs.BoolVar(&l.promisc, "promisc", true, "live: put the interfaces in promiscuous mode")
	fs.BoolVar(&l.noPromisc, "p", false, "live: no promiscuous mode (tcpdump's flag)")
	fs.IntVar(&l.blockSize, "block-size", ring.DefaultBlockSize, "live: ring block size in bytes (a multiple of the page size)")
	fs.IntVar(&l.blockCount, "block-count", ring.DefaultBlockCount, "live: ring blocks per worker (memory per worker: block-size × block-count)")
	fs.DurationVar(&l.frameTimeout, "frame-timeout", ring.DefaultFrameTimeout, "live: longest time the kernel holds a block that is not full")
	registerRunAs(fs, &l.runAs)
	fs.DurationVar(&l.duration, "duration", 0, "live: stop after this long (0: until --count, SIGINT or SIGTERM)")
	return l
}

// validate checks the live-capture flags both engines take.
func (lf *liveFlags) validate() error {
	if lf.snaplen < 1 || lf.snaplen > ring.DefaultSnaplen {
		return fmt.Errorf("--snaplen must be between 1 and %d", ring.DefaultSnaplen)
	}
	if lf.duration < 0 {
		return errors.New("--duration must not be negative")
	}
	return nil
}

// runLive captures on o.nics until --count, --duration or a signal, and
// returns the exit status. A signal or the duration stops cleanly: the
// rings are drained, the sink flushed, the summary printed, status 0.
func runLive(o *options, es *esFlags, lf *liveFlags, ff *flowFlags, stdout, stderr io.Writer) int {
	fail := func(code int, format string, args ...any) int {
		fmt.Fprintf(stderr, "espcap-fast: "+format+"\n", args...)
		return code
	}
	mode, err := ring.ParseFanout(lf.fanout)
	if err != nil {
		return fail(2, "--fanout: %v", err)
	}
	if err := lf.validate(); err != nil {
		return fail(2, "%v", err)
	}
	runAs, err := resolveRunAs(lf.runAs)
	if err != nil {
		return fail(2, "%v", err)
	}
	nics := splitList(o.nics)
	protos, err := loadProtocols(o.protocols)
	if err != nil {
		return fail(2, "%v", err)
	}

	// the sockets, filters and rings, before anything else can fail late
	var groups []*ring.Group
	closeGroups := func() {
		for _, g := range groups {
			g.Close()
		}
	}
	for _, nic := range nics {
		g, err := ring.Open(ring.Config{
			Interface:    nic,
			Rings:        o.workers,
			Fanout:       mode,
			BPF:          o.bpf,
			Snaplen:      lf.snaplen,
			Promisc:      lf.promisc && !lf.noPromisc,
			BlockSize:    lf.blockSize,
			BlockCount:   lf.blockCount,
			FrameTimeout: lf.frameTimeout,
		})
		if err != nil {
			closeGroups()
			var ce *filter.CompileError
			if errors.As(err, &ce) || errors.Is(err, filter.ErrUnavailable) {
				return fail(2, "%v", err)
			}
			return fail(1, "%v", err)
		}
		groups = append(groups, g)
	}
	defer closeGroups()
	if err := dropPrivileges(runAs, es, o.quiet, stderr); err != nil {
		return fail(1, "%v", err)
	}

	prog := newProgress(stderr, o.quiet)
	store, err := o.write.open(prog.warn, nil)
	if err != nil {
		return fail(2, "%v", err)
	}
	defer store.Close() // on early returns; finishStore closes it first
	if bs := lf.blockSize; bs > 0 && lf.snaplen > ring.MaxFrameLen(bs) {
		// the kernel cuts frames to what a block holds, whatever the
		// snapshot length
		prog.warn(fmt.Errorf("warning: a ring block of %d bytes holds frames of up to %d bytes: longer ones are cut to that (--snaplen %d); a --block-size of %d keeps them whole",
			bs, ring.MaxFrameLen(bs), lf.snaplen, blockFor(lf.snaplen)))
	}
	out := bufio.NewWriterSize(stdout, 1<<20)
	var sink pipeline.Sink = &ndjsonSink{w: out}
	var idx *indexSink
	if len(es.nodes) > 0 {
		es.spool.live = true // on by default for live capture
		if idx, err = newIndexSink(es, prog, o.quiet, prog.warn); err != nil {
			return fail(1, "%v", err)
		}
		sink = idx
	}
	lr, err := pipeline.NewLive(pipeline.Config{Count: o.count, Protocols: protos, Warn: prog.warn, Store: store, Flows: ff.config()}, sink, groups)
	if err != nil {
		if idx != nil {
			idx.finish(context.Background())
		}
		return fail(2, "%v", err)
	}
	if idx != nil {
		idx.packets = lr.Stats().Packets.Load
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if lf.duration > 0 {
		ctx, cancel = context.WithTimeout(ctx, lf.duration)
		defer cancel()
	}
	defer onInterrupt(cancel, prog.warn, "stopping: draining the rings and writing what was captured (again to abort)")()

	if !o.quiet {
		filt := ""
		if o.bpf != "" {
			filt = fmt.Sprintf(", filter %q", o.bpf)
		}
		fmt.Fprintf(stderr, "espcap-fast: capturing on %s: %d workers each, fanout %s%s\n", strings.Join(nics, ", "), o.workers, mode, filt)
	}
	start := time.Now()
	stopStats := liveStatsTicker(stderr, es.statsInterval, o.quiet, lr)
	runErr := lr.Run(ctx)
	if err := finishStore(store, stderr, o.quiet); runErr == nil {
		runErr = err
	}
	flushErr := out.Flush()
	stopStats()
	idxCode := 0
	if idx != nil {
		idxCode = idx.finish(ctx)
	}
	closeGroups()
	cause := ""
	if idx != nil {
		cause = idx.dropCause()
	}
	liveSummary(stderr, o.quiet, lr, start, cause)
	ff.summary(stderr, o.quiet, lr)
	// a live capture ends by a signal or --duration as planned: exit 0, as
	// tcpdump does (no files, no "interrupted" status)
	return exitStatus(stderr, runErr, flushErr, 0, idxCode, nil)
}

// kernelTotals sums the kernel counters of every group.
func kernelTotals(lr *pipeline.LiveRunner) ring.Stats {
	var t ring.Stats
	for _, g := range lr.Groups() {
		s, _, _ := g.Stats()
		t.Add(s)
	}
	return t
}

// liveStatsTicker prints kernel packets and drops, packets decoded and
// documents written every interval (0: never). With -q a line is printed
// only when the kernel dropped packets in the interval: drops are never
// hidden. It returns a function that stops it.
func liveStatsTicker(w io.Writer, interval time.Duration, quiet bool, lr *pipeline.LiveRunner) (stop func()) {
	var lastDrops uint64
	return every(interval, func() {
		k := kernelTotals(lr)
		st := lr.Stats()
		if quiet && k.Drops == lastDrops {
			return
		}
		lastDrops = k.Drops
		fmt.Fprintf(w, "espcap-fast: stats: kernel %d packets, %d dropped, %d freezes; %d decoded, %d documents\n",
			k.Packets, k.Drops, k.Freezes, st.Packets.Load(), st.Docs.Load())
	})
}

// every calls fn every interval (never when interval <= 0) in a goroutine
// of its own until stop is called; stop returns once fn no longer runs.
func every(interval time.Duration, fn func()) (stop func()) {
	if interval <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fn()
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// liveSummary prints the kernel counters per interface (and per ring when
// there are several) and the pipeline's; with -q only when packets were
// dropped. cause, when known, says why the kernel dropped.
func liveSummary(w io.Writer, quiet bool, lr *pipeline.LiveRunner, start time.Time, cause string) {
	var drops uint64
	var lines []string
	for _, g := range lr.Groups() {
		total, per, err := g.Stats()
		drops += total.Drops
		line := fmt.Sprintf("espcap-fast: %s: kernel: %d packets, %d dropped, %d freezes", g.Interface(), total.Packets, total.Drops, total.Freezes)
		if len(per) > 1 {
			var rs []string
			for i, s := range per {
				rs = append(rs, fmt.Sprintf("%d: %d/%d/%d", i, s.Packets, s.Drops, s.Freezes))
			}
			line += " (per worker packets/dropped/freezes: " + strings.Join(rs, ", ") + ")"
		}
		if err != nil {
			line += fmt.Sprintf(" [%v]", err)
		}
		lines = append(lines, line)
	}
	if quiet && drops == 0 {
		return
	}
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	st := lr.Stats()
	el := time.Since(start)
	filtered := ""
	if n := st.Filtered.Load(); n > 0 {
		filtered = fmt.Sprintf(", %d VLAN-tagged packets filtered after the kernel", n)
	}
	fmt.Fprintf(w, "espcap-fast: %d packets decoded, %d documents written, %d decode errors%s, %s (%.0f packets/s)\n",
		st.Packets.Load(), st.Docs.Load(), st.Malformed.Load(), filtered, el.Round(time.Millisecond), float64(st.Packets.Load())/el.Seconds())
	if drops > 0 && cause != "" {
		fmt.Fprintf(w, "espcap-fast: WARNING: the kernel dropped %d packets (rings full): %s\n", drops, cause)
	} else if drops > 0 {
		fmt.Fprintf(w, "espcap-fast: WARNING: the kernel dropped %d packets (rings full): more --workers, a larger --block-count or --block-size, or a narrower --bpf\n", drops)
	}
}

// blockFor returns the smallest block size (a multiple of the page size)
// whose blocks hold frames of snaplen bytes.
func blockFor(snaplen int) int {
	page := os.Getpagesize()
	bs := page
	for ring.MaxFrameLen(bs) < snaplen {
		bs += page
	}
	return bs
}
