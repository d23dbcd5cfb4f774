package main

// --engine: which dissector makes the documents. "native" is the pipeline
// of decode/encode; "tshark" runs Wireshark's tshark on the files
// (package tsharkek), for the protocols the native decoder does not know.

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/espcap/espcap-fast/encode"
	"github.com/espcap/espcap-fast/pipeline"
	"github.com/espcap/espcap-fast/tsharkek"
)

// engineFlags holds --engine and --tshark.
type engineFlags struct {
	engine string
	tshark string
}

// registerEngineFlags adds --engine and --tshark to fs.
func registerEngineFlags(fs *flag.FlagSet) *engineFlags {
	e := &engineFlags{}
	fs.StringVar(&e.engine, "engine", "native", "dissector: native (built-in decoders, fast) or tshark (Wireshark's tshark -T ek: every protocol Wireshark knows; live capture through dumpcap)")
	fs.StringVar(&e.tshark, "tshark", "tshark", "with --engine tshark: the tshark to run (live capture runs the dumpcap beside it, else dumpcap from PATH)")
	return e
}

// validate checks the engine choice.
func (e *engineFlags) validate() error {
	if e.engine != "native" && e.engine != "tshark" {
		return fmt.Errorf("--engine %q: use native or tshark", e.engine)
	}
	return nil
}

// runTsharkEngine reads the files of in with tshark and writes their
// documents to sink (NDJSON through out, or the index sink idx), as run
// does for the native engine: same progress, summary and exit status.
func runTsharkEngine(o *options, e *engineFlags, ff *flowFlags, in *pipeline.FileInput, protos *encode.Protocols,
	sink pipeline.Sink, out *bufio.Writer, idx *indexSink, prog *progress, stderr io.Writer) int {
	fail := func(err error) int {
		if idx != nil {
			idx.finish(context.Background())
		}
		fmt.Fprintf(stderr, "espcap-fast: --engine tshark: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := tsharkek.Check(ctx, e.tshark); err != nil {
		return fail(err)
	}
	if o.bpf != "" {
		if err := pipeline.CheckBPF(o.bpf); err != nil {
			if idx != nil {
				idx.finish(context.Background())
			}
			fmt.Fprintf(stderr, "espcap-fast: %v\n", err)
			return 2
		}
	}
	// the field table loads while the first files start
	fields := sync.OnceValues(func() (*encode.EKFields, error) { return tsharkek.LoadFields(ctx, e.tshark) })
	go fields()
	var st pipeline.Stats
	if idx != nil {
		idx.packets = st.Packets.Load
	}
	defer onInterrupt(cancel, prog.warn, "interrupted: stopping, writing what was read (again to abort)")()

	cfg := tsharkek.Config{
		Tshark:     e.tshark,
		Workers:    o.workers,
		Count:      o.count,
		BPF:        o.bpf,
		Protocols:  protos,
		FieldsFunc: fields,
		FromDir:    in.FromDir,
		Warn:       prog.warn,
		// a watched folder, an import state (--watch, --state): the
		// same hooks as the native engine's
		Next:   in.Next,
		Resume: in.Resume,
		OnDone: in.OnDone,
		Flows:  ff.writer(),
	}
	start := time.Now()
	prog.start(&st, start)
	runErr := tsharkek.Run(ctx, cfg, in.Paths, sink, &st)
	flushErr := out.Flush()
	prog.stop()
	prog.summarizeFiles()
	idxCode := 0
	if idx != nil {
		idxCode = idx.finish(ctx)
	}
	if !o.quiet {
		el := time.Since(start)
		filtered := ""
		if o.bpf != "" {
			filtered = fmt.Sprintf(", %d filtered", st.Filtered.Load())
		}
		fmt.Fprintf(stderr, "espcap-fast: tshark engine: %d packets read, %d documents written, %d malformed%s, %d of %d files failed, %s (%.0f packets/s)\n",
			st.Packets.Load()+st.Filtered.Load(), st.Docs.Load(), st.Malformed.Load(), filtered, st.FilesFailed.Load(), len(in.Paths),
			el.Round(time.Millisecond), float64(st.Packets.Load()+st.Filtered.Load())/el.Seconds())
	}
	if cfg.Flows != nil {
		ff.summary(stderr, o.quiet, cfg.Flows)
	}
	if errors.Is(runErr, context.Canceled) {
		runErr = nil
	}
	return exitStatus(stderr, runErr, flushErr, st.FilesFailed.Load(), idxCode, ctx.Err())
}
