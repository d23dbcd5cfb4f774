package main

import (
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/espcap/espcap-fast/filter"
)

// mainUsage is the help of the import/capture command: usage lines,
// examples, then the flags by group.
func mainUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `usage: espcap-fast [flags] [BPF expression]    capture files or interfaces to NDJSON (stdout) or to --node
       espcap-fast query --node URL [flags] 'lucene query'
       espcap-fast drain --spool DIR --node URL        index what a stopped run left in a spool
       espcap-fast prune --node URL --older-than 7d    delete the indices older than that
       espcap-fast template --print | --install --node URL

Flags may come before or after the BPF expression; single-letter flags
combine as in tcpdump (-nnr capture.pcap, -c5); "--" ends the flags.

Examples:
  espcap-fast -r capture.pcap > packets.ndjson          documents as NDJSON
  espcap-fast -r capture.pcap -c 100 tcp port 80        tcpdump habits
  espcap-fast --dir captures/ --recursive --node http://localhost:9200
  espcap-fast -i eth0 --workers 4 --node https://es:9200 --user espcap --password-file pw
  espcap-fast -D                                        list the interfaces
`)
	printGroups(w, fs, []flagGroup{
		{"Input", []string{"file", "r", "dir", "watch", "recursive", "nic", "i", "D", "list", "bpf", "count", "c"}},
		{"Live capture", []string{"snaplen", "s", "promisc", "p", "fanout", "block-size", "block-count", "frame-timeout", "duration", "run-as", "Z"}},
		{"Elasticsearch / OpenSearch", []string{"node", "index-prefix", "index-period", "data-stream", "chunk", "bulk-bytes", "indexers",
			"no-gzip", "no-template", "no-refresh", "retention", "user", "password-file", "api-key-file", "ca-cert", "insecure", "dead-letter",
			"flush-timeout", "stats-interval"}},
		{"Spool (between capture and the indexers)", []string{"spool", "spool-max", "spool-mem", "no-spool", "spool-full", "state-dir"}},
		{"Watching a folder, import state", []string{"state", "delete", "move-to"}},
		{"Pcap store (the packets themselves)", []string{"write", "w", "write-size", "write-every", "write-max", "write-min-free"}},
		{"Decoding", []string{"workers", "engine", "tshark", "protocols"}},
		{"Output", []string{"q", "v", "n", "version"}},
	})
}

// printVersion prints espcap-fast's version (the module version or VCS
// revision it was built from), the Go release, the gopacket version and
// whether libpcap (needed only to compile BPF filters) can be loaded.
func printVersion(w io.Writer) {
	version, revision, gopacket := "(devel)", "", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
		for _, d := range bi.Deps {
			if d.Path == "github.com/gopacket/gopacket" {
				gopacket = d.Version
			}
		}
	}
	fmt.Fprintf(w, "espcap-fast %s", version)
	if revision != "" {
		fmt.Fprintf(w, " (%s)", revision)
	}
	fmt.Fprintf(w, "\n%s %s/%s\ngopacket %s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, gopacket)
	if err := filter.Available(); err != nil {
		fmt.Fprintf(w, "libpcap: not found (%v): BPF filters unavailable, everything else works\n", err)
	} else {
		fmt.Fprintln(w, "libpcap: found (BPF filters available)")
	}
}
