// Command espcap-fast turns packets from capture files and live interfaces
// into search documents: NDJSON on standard output, or bulk indexed into
// Elasticsearch or OpenSearch with --node.
//
// Usage:
//
//	espcap-fast --file=x.pcap                 # documents to stdout
//	espcap-fast -r x.pcap -c 100 tcp port 80  # tcpdump habits
//	espcap-fast --dir=captures/ --recursive
//
// Run espcap-fast -h for every flag.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	espcapfast "github.com/espcap/espcap-fast"
	"github.com/espcap/espcap-fast/encode"
	"github.com/espcap/espcap-fast/pipeline"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}

type options struct {
	files     stringList
	dirs      stringList
	nics      stringList
	bpf       string
	count     uint64
	workers   int
	recursive bool
	quiet     bool
	list      bool
	protocols string
	version   bool
	write     *writeFlags // --write, -w: the pcap store
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "template":
			return runTemplate(args[1:], stdout, stderr)
		case "query":
			return runQuery(args[1:], stdout, stderr)
		case "drain":
			return runDrain(args[1:], stdout, stderr)
		case "prune":
			return runPrune(args[1:], stdout, stderr)
		case "export":
			return runExport(args[1:], stdout, stderr)
		}
	}
	fs := flag.NewFlagSet("espcap-fast", flag.ContinueOnError)
	var o options
	fs.Var(&o.files, "file", "capture file to read (pcap or pcapng, maybe gzip/zstd compressed); repeatable; - reads stdin")
	fs.Var(&o.files, "r", "same as --file (tcpdump's flag)")
	fs.Var(&o.dirs, "dir", "directory of capture files, read in name order; repeatable")
	fs.BoolVar(&o.recursive, "recursive", false, "with --dir or --watch, descend into subdirectories (--watch: also ones created later)")
	fs.Var(&o.nics, "nic", "network interface for live capture")
	fs.Var(&o.nics, "i", "same as --nic (tcpdump's flag)")
	fs.StringVar(&o.bpf, "bpf", "", "tcpdump filter expression, for live capture and files alike (also: trailing arguments)")
	fs.Uint64Var(&o.count, "count", 0, "stop after exactly this many documents, across files (0: all); with a filter, documents of packets that match it")
	fs.Uint64Var(&o.count, "c", 0, "same as --count (tcpdump's flag)")
	es := registerESFlags(fs)
	es.spool = registerSpoolFlags(fs)
	eng := registerEngineFlags(fs)
	live := registerLiveFlags(fs)
	flows := registerFlowFlags(fs)
	wf := registerWatchFlags(fs)
	o.write = registerWriteFlags(fs)
	fs.IntVar(&o.workers, "workers", runtime.NumCPU(), "decode/encode workers")
	fs.BoolVar(&o.quiet, "q", false, "no progress or summary on stderr")
	fs.BoolVar(&o.list, "list", false, "list the network interfaces and exit")
	fs.BoolVar(&o.list, "D", false, "same as --list (tcpdump's flag)")
	fs.StringVar(&o.protocols, "protocols", "", "protocols.list to use instead of the built-in one")
	fs.BoolVar(&o.version, "version", false, "print the version (and Go, gopacket, libpcap) and exit")
	fs.Var(new(countFlag), "v", "accepted for tcpdump habits (-v, -vv): documents always hold every field decoded")
	fs.Var(new(countFlag), "n", "accepted for tcpdump habits (-n, -nn): documents always hold numbers, never names")
	if done, code := parseArgs(fs, args, stdout, stderr, func(w io.Writer) { mainUsage(w, fs) }); done {
		return code
	}
	if o.version {
		printVersion(stdout)
		return 0
	}
	if rest := fs.Args(); len(rest) > 0 {
		if o.bpf != "" {
			fmt.Fprintln(stderr, "espcap-fast: a filter is given both with --bpf and as arguments; use one")
			return 2
		}
		o.bpf = strings.Join(rest, " ")
	}
	if o.list {
		if err := listInterfaces(stdout); err != nil {
			fmt.Fprintf(stderr, "espcap-fast: --list: %v\n", err)
			return 1
		}
		return 0
	}
	kinds := 0
	for _, n := range []int{len(o.files), len(o.dirs) + len(wf.dirs), len(o.nics)} {
		if n > 0 {
			kinds++
		}
	}
	switch {
	case kinds == 0:
		fmt.Fprintln(stderr, "espcap-fast: nothing to read: give --file/-r, --dir, --watch or --nic/-i (see -h)")
		return 2
	case kinds > 1:
		fmt.Fprintln(stderr, "espcap-fast: give only one of --nic/-i, --file/-r and --dir/--watch")
		return 2
	}
	if err := eng.validate(); err != nil {
		fmt.Fprintf(stderr, "espcap-fast: %v\n", err)
		return 2
	}
	if err := wf.validate(&o); err != nil {
		fmt.Fprintf(stderr, "espcap-fast: %v\n", err)
		return 2
	}
	if eng.engine == "tshark" && o.write.dir != "" {
		fmt.Fprintln(stderr, "espcap-fast: --write needs --engine native")
		return 2
	}
	if err := flows.validate(eng.engine, es); err != nil {
		fmt.Fprintf(stderr, "espcap-fast: %v\n", err)
		return 2
	}
	if o.workers < 1 {
		fmt.Fprintln(stderr, "espcap-fast: --workers must be at least 1")
		return 2
	}
	if len(o.nics) > 0 {
		if eng.engine == "tshark" {
			return runTsharkLive(&o, eng, es, live, flows, stdout, stderr)
		}
		return runLive(&o, es, live, flows, stdout, stderr)
	}
	if code := runAsForFiles(live.runAs, es, o.quiet, stderr); code >= 0 {
		return code
	}

	protos, err := loadProtocols(o.protocols)
	if err != nil {
		fmt.Fprintf(stderr, "espcap-fast: %v\n", err)
		return 2
	}

	in := &pipeline.FileInput{Paths: o.files, FromDir: map[string]bool{}}
	for _, d := range o.dirs {
		paths, subdirs, err := pipeline.ExpandDirCount(d, o.recursive)
		if err != nil {
			fmt.Fprintf(stderr, "espcap-fast: --dir %s: %v\n", d, err)
			return 1
		}
		if subdirs > 0 {
			fmt.Fprintf(stderr, "espcap-fast: note: --dir %s: %d subdirectories not read (--recursive reads them)\n", d, subdirs)
		}
		for _, p := range paths {
			in.FromDir[p] = true
		}
		in.Paths = append(in.Paths, paths...)
	}

	out := bufio.NewWriterSize(stdout, 1<<20)
	var sink pipeline.Sink = &ndjsonSink{w: out}
	prog := newProgress(stderr, o.quiet)
	var idx *indexSink
	if len(es.nodes) > 0 {
		if idx, err = newIndexSink(es, prog, o.quiet, prog.warn); err != nil {
			fmt.Fprintf(stderr, "espcap-fast: %v\n", err)
			return 1
		}
		sink = idx
	}
	imp, sink, err := wf.start(&o, in, sink, out, idx, prog, prog.warn)
	if err != nil {
		if idx != nil {
			idx.finish(context.Background())
		}
		fmt.Fprintf(stderr, "espcap-fast: %v\n", err)
		return 1
	}
	defer imp.close()
	if eng.engine == "tshark" {
		return runTsharkEngine(&o, eng, flows, in, protos, sink, out, idx, prog, stderr)
	}
	store, err := o.write.open(prog.warn, in.Paths)
	if err != nil {
		if idx != nil {
			idx.finish(context.Background())
		}
		fmt.Fprintf(stderr, "espcap-fast: %v\n", err)
		return 2
	}
	defer store.Close() // on early returns; finishStore closes it first
	cfg := pipeline.Config{
		Workers:   o.workers,
		Count:     o.count,
		BPF:       o.bpf,
		Protocols: protos,
		Warn:      prog.warn,
		Flows:     flows.config(),
		Store:     store,
	}
	runner, err := pipeline.New(cfg, sink)
	if err != nil {
		if idx != nil {
			idx.finish(context.Background())
		}
		fmt.Fprintf(stderr, "espcap-fast: %v\n", err)
		return 2
	}
	if idx != nil {
		idx.packets = runner.Stats.Packets.Load
		idx.unfiltered = o.bpf != ""
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer onInterrupt(cancel, prog.warn, "interrupted: stopping, writing what was read (again to abort)")()

	start := time.Now()
	prog.start(&runner.Stats, start)
	runErr := runner.Run(ctx, func(f *pipeline.Feeder) error { return in.Read(f, prog.warn) })
	if err := finishStore(store, stderr, o.quiet); runErr == nil {
		runErr = err
	}
	flushErr := out.Flush()
	imp.ran(flushErr)
	prog.stop()
	prog.summarizeFiles()
	idxCode := 0
	if idx != nil {
		idxCode = idx.finish(ctx)
	}
	imp.close()
	st := &runner.Stats
	if !o.quiet {
		el := time.Since(start)
		rate := float64(st.Packets.Load()) / el.Seconds()
		fmt.Fprintf(stderr, "espcap-fast: %d packets read, %d documents written, %d decode errors, %d filtered, %d of %d files failed, %s (%.0f packets/s)\n",
			st.Packets.Load(), st.Docs.Load(), st.Malformed.Load(), st.Filtered.Load(),
			st.FilesFailed.Load(), len(in.Paths), el.Round(time.Millisecond), rate)
	}
	flows.summary(stderr, o.quiet, runner)
	return exitStatus(stderr, runErr, flushErr, st.FilesFailed.Load(), idxCode, ctx.Err())
}

// exitStatus is the exit status of a run over files: 1 when the run failed,
// documents could not be written or a file failed, the index sink's status
// when indexing fell short, 130 when interrupted, else 0. Errors are
// reported on stderr; a closed stdout (EPIPE, `| head`) is not an error.
func exitStatus(stderr io.Writer, runErr, flushErr error, filesFailed uint64, idxCode int, interrupted error) int {
	switch {
	case runErr != nil:
		fmt.Fprintf(stderr, "espcap-fast: %v\n", runErr)
		return 1
	case flushErr != nil && !errors.Is(flushErr, syscall.EPIPE):
		fmt.Fprintf(stderr, "espcap-fast: writing documents: %v\n", flushErr)
		return 1
	case filesFailed > 0:
		return 1
	case idxCode != 0:
		return idxCode
	case interrupted != nil:
		return 130
	}
	return 0
}

// ndjsonSink writes documents as NDJSON.
type ndjsonSink struct{ w *bufio.Writer }

func (s *ndjsonSink) Write(b *pipeline.Batch) error {
	if _, err := s.w.Write(b.Out()); err != nil {
		return fmt.Errorf("writing documents: %w", err)
	}
	return nil
}

// loadProtocols reads the protocols.list at path, or the built-in one when
// path is "".
func loadProtocols(path string) (*encode.Protocols, error) {
	list := espcapfast.ProtocolsList
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--protocols: %w", err)
		}
		list = b
	}
	return encode.ParseProtocols(list)
}

// splitList flattens repeated and comma-separated flag values ("-i a,b -i
// c") into their non-empty items.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// onInterrupt handles SIGINT and SIGTERM for a run: the first says msg and
// calls stop (reading stops, what was read is still written); the second
// aborts at once (the index sink dead-letters what is in flight) with exit
// status 130. The returned function stops the handling.
func onInterrupt(stop func(), warn func(error), msg string) (done func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	quit := make(chan struct{})
	go func() {
		for n := 1; ; n++ {
			select {
			case <-sigs:
			case <-quit:
				return
			}
			if n == 1 {
				warn(errors.New(msg))
				stop()
				continue
			}
			runAbortHook()
			os.Exit(130)
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(quit)
	}
}
