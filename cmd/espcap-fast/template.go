package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/espcap/espcap-fast/bulk"
)

// runTemplate is `espcap-fast template`: print the index template (in the
// Kibana Dev Tools console form, so it can be pasted there), or install it.
//
//	espcap-fast template --print [--index-prefix P | --data-stream N] [--flow-index-prefix F | --flow-data-stream FN] [--backend opensearch]
//	espcap-fast template --install --node URL [--index-prefix P | --data-stream N] [--flow-index-prefix F | --flow-data-stream FN]
func runTemplate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("espcap-fast template", flag.ContinueOnError)
	print := fs.Bool("print", false, "print the component templates and the index template")
	install := fs.Bool("install", false, "install them on --node (what an indexing run does at start)")
	backend := fs.String("backend", "elasticsearch", "with --print: elasticsearch or opensearch")
	version := fs.String("version", "8.19.0", "with --print: the server version the settings are for")
	flowPrefix := fs.String("flow-index-prefix", "", "also the templates of flow documents (--records) for indices <P>YYYY-MM-DD, e.g. flows-")
	flowStream := fs.String("flow-data-stream", "", "also the templates of flow documents (--records) for this data stream")
	es := registerESFlags(fs)
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "usage: espcap-fast template --print|--install [flags]\n\n")
		printFlags(w, fs, "print", "install", "backend", "version", "node", "index-prefix", "data-stream", "flow-index-prefix", "flow-data-stream",
			"user", "password-file", "api-key-file", "ca-cert", "insecure")
	}
	if done, code := parseArgs(fs, args, stdout, stderr, usage); done {
		return code
	}
	if *print == *install || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "espcap-fast template: give one of --print and --install, and no arguments")
		fs.Usage()
		return 2
	}
	if err := es.checkIndexNames(); err != nil {
		fmt.Fprintf(stderr, "espcap-fast: %v\n", err)
		return 2
	}
	switch {
	case *flowPrefix != "" && *flowStream != "":
		fmt.Fprintln(stderr, "espcap-fast: give either --flow-index-prefix or --flow-data-stream")
		return 2
	case *flowPrefix != "":
		if err := checkIndexName(*flowPrefix, "--flow-index-prefix"); err != nil {
			fmt.Fprintf(stderr, "espcap-fast: %v\n", err)
			return 2
		}
	case *flowStream != "":
		if err := checkIndexName(*flowStream, "--flow-data-stream"); err != nil {
			fmt.Fprintf(stderr, "espcap-fast: %v\n", err)
			return 2
		}
	}
	flows := *flowPrefix != "" || *flowStream != ""
	if *print {
		tg := bulk.Target{Backend: *backend, Version: *version}
		ts, err := bulk.Templates(es.prefix, es.dataStream, tg)
		if err == nil && flows {
			var fts []bulk.Template
			fts, err = bulk.FlowTemplates(*flowPrefix, *flowStream, tg)
			ts = append(ts, fts[1:]...) // the settings component is printed already
		}
		if err != nil {
			fmt.Fprintf(stderr, "espcap-fast: %v\n", err)
			return 1
		}
		for _, t := range ts {
			fmt.Fprintf(stdout, "PUT _%s/%s\n%s\n", t.Kind, t.Name, t.Body)
		}
		return 0
	}
	if len(es.nodes) == 0 {
		fmt.Fprintln(stderr, "espcap-fast: template --install needs --node")
		return 2
	}
	ctx, cancel, ix, code := connectCommand(es, stderr, func(f string, a ...any) { fmt.Fprintf(stderr, "espcap-fast: "+f+"\n", a...) }, time.Minute)
	if ix == nil {
		return code
	}
	defer cancel()
	defer ix.Close(context.Background())
	err := ix.InstallTemplates(ctx, es.prefix, es.dataStream)
	if err == nil && flows {
		err = ix.InstallFlowTemplates(ctx, *flowPrefix, *flowStream)
	}
	if err != nil {
		fmt.Fprintf(stderr, "espcap-fast: %v\n", err)
		return 1
	}
	return 0
}
