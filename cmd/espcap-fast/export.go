package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/espcap/espcap-fast/export"
	"github.com/espcap/espcap-fast/flow"
	"github.com/espcap/espcap-fast/internal/safefile"
	"github.com/espcap/espcap-fast/pipeline"
)

// runExport is `espcap-fast export`: the packets of the documents a Lucene
// query finds, read back from the capture files their pcap.file and
// pcap.offset name, written in time order as one capture file.
//
//	espcap-fast export --node localhost:9200 -w out.pcap 'dns.question.name:example.com' 'udp port 53'
func runExport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("espcap-fast export", flag.ContinueOnError)
	out := fs.String("w", "", "capture file to write (pcap with ns timestamps; pcapng when link types mix or a source is pcapng); - writes to standard output (| wireshark -k -i -)")
	index := fs.String("index", "", "indices (or data stream) to search, comma-separated patterns (default: <--index-prefix>*, or --data-stream)")
	records := fs.String("records", "packets", "what the query finds: packets (packet documents), or flows (flow documents: all the packets of each flow, from the positions it lists, default index <flow prefix>*)")
	flowPrefix := fs.String("flow-index-prefix", "flows-", "with --records flows: the flow indices' prefix (default index <prefix>*)")
	flowStream := fs.String("flow-data-stream", "", "with --records flows: the flow data stream (default with --data-stream: as an import names it)")
	from := fs.String("from", "", "only documents with @timestamp at or after this (a date such as 2024-05-01T10:00:00Z, or date math such as now-1h)")
	to := fs.String("to", "", "only documents with @timestamp before this")
	maxOpen := fs.Int("max-open", export.DefaultMaxOpen, "most capture files open at once")
	es := registerSearchFlags(fs)
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "usage: espcap-fast export [--node URL] -w OUT [--index PATTERN] [--from T] [--to T] 'lucene query' [BPF expression]\n")
		fmt.Fprintf(w, "Writes the packets of the matching documents, read from the capture files their pcap.file and pcap.offset\n")
		fmt.Fprintf(w, "name, in time order. The first argument is the query ('*' for all), the rest a tcpdump filter applied\n")
		fmt.Fprintf(w, "on the way out. Exit status 1 when a packet could not be written (its file missing or changed).\n\n")
		printFlags(w, fs, append([]string{"w", "index", "records", "flow-index-prefix", "flow-data-stream", "from", "to", "max-open"}, searchFlagNames...)...)
	}
	if done, code := parseArgs(fs, args, stdout, stderr, usage); done {
		return code
	}
	es.nodeFromEnv()
	if *index == "" {
		*index = es.prefix + "*"
		if es.dataStream != "" {
			*index = es.dataStream
		}
		if *records == "flows" {
			*index = *flowPrefix + "*"
			switch {
			case *flowStream != "":
				*index = *flowStream
			case es.dataStream != "":
				*index = flowDataStreamFor(es.dataStream)
			}
		}
	}
	var q, bpf string
	if fs.NArg() > 0 {
		q, bpf = fs.Arg(0), strings.Join(fs.Args()[1:], " ")
	}
	switch {
	case len(es.nodes) == 0:
		fmt.Fprintln(stderr, "espcap-fast: export needs --node (or $ES_URL)")
		return 2
	case *out == "":
		fmt.Fprintln(stderr, "espcap-fast: export needs -w FILE (- for standard output)")
		return 2
	case strings.TrimSpace(q) == "":
		fmt.Fprintln(stderr, "espcap-fast: export needs a query string (e.g. 'protocol:dns', or '*' for everything)")
		return 2
	case *records != "packets" && *records != "flows":
		fmt.Fprintln(stderr, "espcap-fast: --records is packets or flows")
		return 2
	case *maxOpen < 1:
		fmt.Fprintln(stderr, "espcap-fast: --max-open must be >= 1")
		return 2
	}
	if err := checkIndexPattern(*index); err != nil {
		fmt.Fprintf(stderr, "espcap-fast: %v\n", err)
		return 2
	}
	if bpf != "" {
		if err := pipeline.CheckBPF(bpf); err != nil {
			fmt.Fprintf(stderr, "espcap-fast: export: %v\n", err)
			return 2
		}
	}
	ctx, cancel, ix, code := connectCommand(es, stderr, warningsOnly(stderr), 24*time.Hour)
	if ix == nil {
		return code
	}
	defer cancel()
	defer ix.Close(context.Background())

	var pos export.Positions
	defer pos.Close()
	started := time.Now()
	s := positionSearch{ix: ix, index: *index, query: q, from: *from, to: *to, flows: *records == "flows"}
	if err := s.collect(ctx, &pos); err != nil {
		fmt.Fprintf(stderr, "espcap-fast: export: %v\n", err)
		return 1
	}
	noPos, err := s.countWithoutPosition(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "espcap-fast: export: %v\n", err)
		return 1
	}

	var w io.Writer = stdout
	var f *os.File
	if *out != "-" {
		if f, err = safefile.Create(*out); err != nil {
			fmt.Fprintf(stderr, "espcap-fast: export: %v\n", err)
			return 1
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	searched := time.Now()
	res, err := export.Run(ctx, &pos, bw, export.Options{BPF: bpf, MaxOpen: *maxOpen})
	if err == nil {
		err = bw.Flush()
	}
	if err == nil && f != nil {
		err = f.Close()
	}
	if err != nil {
		fmt.Fprintf(stderr, "espcap-fast: export: %s: %v\n", *out, err)
		return 1
	}
	fmt.Fprintf(stderr, "espcap-fast: export: search %v, read and write %v\n", searched.Sub(started).Round(time.Millisecond), time.Since(searched).Round(time.Millisecond))
	code = exportReport(stderr, *out, res.Found, noPos, res)
	if s.truncated > 0 {
		fmt.Fprintf(stderr, "espcap-fast: export: %d flows had more packets than their documents list (%d; pcap.truncated): only those written\n", s.truncated, flow.MaxPositions)
		code = 1
	}
	return code
}

// exportReport says on stderr what was written and, file by file, what
// could not be, and returns the exit status: 1 when a matching document's
// packet is not in the output.
func exportReport(stderr io.Writer, out string, found uint64, noPos int64, res *export.Result) int {
	if out == "-" {
		out = "standard output"
	}
	msg := fmt.Sprintf("espcap-fast: export: %d packets written to %s (%s)", res.Written, out, res.Format)
	if res.Filtered > 0 {
		msg += fmt.Sprintf(", %d left out by the BPF expression", res.Filtered)
	}
	fmt.Fprintln(stderr, msg)
	code := 0
	for _, files := range []struct {
		what  string
		count map[string]uint64
		errs  map[string]error
	}{
		{"missing", res.Missing, res.MissingErr},
		{"changed since it was indexed", res.Changed, res.ChangedErr},
	} {
		names := make([]string, 0, len(files.count))
		for n := range files.count {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(stderr, "espcap-fast: export: %d packets not written: %s %s: %v\n", files.count[n], termSafe(n), files.what, files.errs[n])
			code = 1
		}
	}
	if noPos > 0 {
		fmt.Fprintf(stderr, "espcap-fast: export: %d matching documents have no packet position (pcap.file): read from standard input or a stream, or captured live without --write\n", noPos)
		code = 1
	}
	if code != 0 {
		fmt.Fprintf(stderr, "espcap-fast: export: %d of %d packet positions not written\n", found-res.Written-res.Filtered, found)
	}
	return code
}
