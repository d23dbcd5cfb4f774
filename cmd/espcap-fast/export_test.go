package main

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/espcap/espcap-fast/bulk"
	"github.com/espcap/espcap-fast/capfile"
	"github.com/espcap/espcap-fast/export"
	"github.com/espcap/espcap-fast/internal/estest"
	"github.com/espcap/espcap-fast/internal/need"
)

// capPkt is one packet of a capture file, as compared between files.
type capPkt struct {
	ts      int64
	orig    int
	link    uint16
	data    string
	offset  int64
	capFile string
}

// readCapture reads every packet of a capture file.
func readCapture(t *testing.T, path string) []capPkt {
	t.Helper()
	r, err := capfile.Open(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	defer r.Close()
	var out []capPkt
	var rec capfile.Record
	for {
		err := r.Next(&rec)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("reading %s: %v", path, err)
		}
		out = append(out, capPkt{ts: rec.Timestamp, orig: rec.OrigLen, link: rec.LinkType, data: string(rec.Data), offset: rec.Offset, capFile: path})
	}
}

// tsharkRef returns the packets tshark's display filter keeps from each
// source (written with tshark -w and read back), in time order.
func tsharkRef(t *testing.T, tshark string, sources []string, filter string) []capPkt {
	t.Helper()
	var all []capPkt
	for i, src := range sources {
		ref := filepath.Join(t.TempDir(), fmt.Sprintf("ref%d.pcapng", i))
		cmd := exec.Command(tshark, "--enable-protocol", "communityid", "-r", src, "-Y", filter, "-w", ref)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("tshark -r %s -Y %q: %v: %s", src, filter, err, out)
		}
		all = append(all, readCapture(t, ref)...)
	}
	sortPackets(all)
	return all
}

func sortPackets(p []capPkt) {
	slices.SortStableFunc(p, func(a, b capPkt) int {
		return cmp.Or(cmp.Compare(a.ts, b.ts), strings.Compare(a.data, b.data))
	})
}

// samePackets checks that got (an export, in time order) holds exactly the
// packets of want, byte for byte, with the same times and lengths.
func samePackets(t *testing.T, got, want []capPkt) {
	t.Helper()
	for i := 1; i < len(got); i++ {
		if got[i].ts < got[i-1].ts {
			t.Fatalf("export not in time order: packet %d at %d after %d", i+1, got[i].ts, got[i-1].ts)
		}
	}
	got = slices.Clone(got)
	sortPackets(got)
	if len(got) != len(want) {
		t.Fatalf("%d packets exported, tshark keeps %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.ts != w.ts || g.orig != w.orig || g.link != w.link || g.data != w.data {
			t.Fatalf("packet %d differs: exported ts %d len %d/%d link %d, tshark ts %d len %d/%d link %d", i+1, g.ts, len(g.data), g.orig, g.link, w.ts, len(w.data), w.orig, w.link)
		}
	}
}

// exportSources copies test captures (pcap, pcapng with mixed link types,
// a gzip-compressed pcap) into a directory of their own, so that tests can
// change them.
func exportSources(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for _, n := range []string{"seed_test_http.pcap", "seed_test_dns.pcap", "wireshark_many_interfaces-1.pcapng", "chrissanders_http_google.pcapng", "wireshark_communityid.pcap", "tcpdump_dns_udp.pcap"} {
		b, err := os.ReadFile(pcaps + n)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, n)
		if n == "tcpdump_dns_udp.pcap" {
			var gz bytes.Buffer
			zw := gzip.NewWriter(&gz)
			zw.Write(b)
			zw.Close()
			b, p = gz.Bytes(), p+".gz"
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// importForExport indexes the sources (packets and flows) under a test
// prefix and returns the packet index.
func importForExport(t *testing.T, base, name string, sources []string, extra ...string) (prefix, index string) {
	t.Helper()
	prefix = testPrefix(t, base, name)
	t.Cleanup(func() {
		esCall(t, base, http.MethodDelete, "/_index_template/"+bulk.TemplateName(prefix+"flows-"), nil)
	})
	args := []string{"-q", "--node", base, "--index-prefix", prefix, "--index-period", "none", "--records", "both", "--flow-index-prefix", prefix + "flows-", "--dead-letter", filepath.Join(t.TempDir(), "d")}
	for _, s := range sources {
		args = append(args, "-r", s)
	}
	if _, errs, code := espcap(t, append(args, extra...)...); code != 0 {
		t.Fatalf("import: exit %d: %s", code, errs)
	}
	return prefix, prefix + "all"
}

// runExportTo exports a query into a new file and returns its packets, the
// exit status and stderr.
func runExportTo(t *testing.T, base, index string, args ...string) ([]capPkt, int, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.pcap")
	_, errs, code := espcap(t, append([]string{"export", "--node", base, "--index", index, "-w", out}, args...)...)
	if _, err := os.Stat(out); err != nil {
		t.Fatalf("export %q: no output (exit %d): %s", args, code, errs)
	}
	return readCapture(t, out), code, errs
}

// TestExportMatchesTshark exports queries over captures imported into a
// real server and compares the packets with what tshark's equivalent
// display filter keeps from the sources, byte for byte.
func TestExportMatchesTshark(t *testing.T) {
	tshark := need.Tshark(t)
	base := estest.URL(t)
	sources := exportSources(t)
	prefix, index := importForExport(t, base, "export", sources)

	// a Community ID and a flow of the HTTP capture, from the server
	var cid string
	if st, b := esCall(t, base, http.MethodPost, "/"+index+"/_search", []byte(`{"size":1,"query":{"query_string":{"query":"layers.http.host:\"vichargrave.com\""}}}`)); st == http.StatusOK {
		var r struct {
			Hits struct {
				Hits []struct {
					Source struct {
						Network struct {
							CommunityID string `json:"community_id"`
						}
					} `json:"_source"`
				}
			}
		}
		json.Unmarshal(b, &r)
		if len(r.Hits.Hits) > 0 {
			cid = r.Hits.Hits[0].Source.Network.CommunityID
		}
	}
	if cid == "" {
		t.Fatal("no community_id found for an HTTP request")
	}
	fl := httpFlow(t, base, prefix)

	// a time range: the 100th to the 400th packet of the HTTP capture
	http := readCapture(t, sources[0])
	from, to := http[99].ts, http[399].ts
	iso := func(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

	for _, tc := range []struct {
		name   string
		args   []string
		filter string
		srcs   []string // the sources tshark reads (nil: all)
	}{
		{"dns name", []string{`dns.question.name:"clients6.google.com"`}, `dns.qry.name == "clients6.google.com" && !icmp`, nil},
		{"http host", []string{`layers.http.host:"www.google.com" OR layers.http.host:"pki.google.com"`}, `http.host == "www.google.com" || http.host == "pki.google.com"`, nil},
		{"community id", []string{fmt.Sprintf(`network.community_id:%q`, cid)}, fmt.Sprintf(`communityid == %q`, cid), nil},
		{"flow.id", []string{fmt.Sprintf(`flow.id:%q`, fl.Flow.ID)}, fmt.Sprintf(`ip.addr == %s && ip.addr == %s && tcp.port == %d && tcp.port == %d`, fl.Source.IP, fl.Destination.IP, fl.Source.Port, fl.Destination.Port), nil},
		{"time range", []string{"--from", iso(from), "--to", iso(to), "*"}, fmt.Sprintf(`frame.time_epoch >= %d.%09d && frame.time_epoch < %d.%09d`, from/1e9, from%1e9, to/1e9, to%1e9), nil},
		{"everything", []string{"*"}, "frame", nil},
		{"mixed link types", []string{`file_name:*many_interfaces*`}, "frame", sources[2:3]},
		{"compressed source", []string{`file_name:*dns_udp*`}, "frame", sources[len(sources)-1:]},
		{"bpf on the way out", []string{"*", "tcp", "port", "80"}, `tcp.port == 80 && !icmp`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srcs := tc.srcs
			if srcs == nil {
				srcs = sources
			}
			want := tsharkRef(t, tshark, srcs, tc.filter)
			if len(want) == 0 {
				t.Fatalf("tshark keeps nothing for %q: not a useful case", tc.filter)
			}
			got, code, errs := runExportTo(t, base, index, tc.args...)
			if code != 0 {
				t.Fatalf("export %q: exit %d: %s", tc.args, code, errs)
			}
			samePackets(t, got, want)
			t.Logf("%d packets", len(got))
		})
	}
}

// exportFlow is what the tests need of a flow document.
type exportFlow struct {
	Flow   struct{ ID string }
	Source struct {
		IP   string
		Port int
	}
	Destination struct {
		IP   string
		Port int
	}
	Network struct{ Packets int }
}

// httpFlow returns the flow document of an HTTP connection of
// seed_test_http.pcap with more than 4 packets.
func httpFlow(t *testing.T, base, prefix string) exportFlow {
	t.Helper()
	st, b := esCall(t, base, http.MethodPost, "/"+prefix+"flows-*/_search", []byte(`{"size":1,"query":{"query_string":{"query":"network.transport:tcp AND destination.port:80 AND destination.ip:\"184.51.102.72\" AND network.packets:>4"}}}`))
	var flows struct {
		Hits struct {
			Hits []struct {
				Source exportFlow `json:"_source"`
			}
		}
	}
	if st != http.StatusOK || json.Unmarshal(b, &flows) != nil || len(flows.Hits.Hits) == 0 {
		t.Fatalf("no TCP flow document: HTTP %d %.300s", st, b)
	}
	return flows.Hits.Hits[0].Source
}

// TestExportFlows imports with --max-packets-per-flow 2, so that most
// packets have no document, and exports a flow whole from the positions
// its flow document lists.
func TestExportFlows(t *testing.T) {
	tshark := need.Tshark(t)
	base := estest.URL(t)
	sources := exportSources(t)[:1]
	prefix, index := importForExport(t, base, "exportflows", sources, "--max-packets-per-flow", "2")
	fl := httpFlow(t, base, prefix)
	want := tsharkRef(t, tshark, sources, fmt.Sprintf(`ip.addr == %s && ip.addr == %s && tcp.port == %d && tcp.port == %d`, fl.Source.IP, fl.Destination.IP, fl.Source.Port, fl.Destination.Port))
	if len(want) != fl.Network.Packets || len(want) <= 4 {
		t.Fatalf("tshark finds %d packets, the flow document counts %d", len(want), fl.Network.Packets)
	}
	q := fmt.Sprintf(`flow.id:%q`, fl.Flow.ID)
	got, code, errs := runExportTo(t, base, prefix+"flows-*", "--records", "flows", q)
	if code != 0 {
		t.Fatalf("export --records flows: exit %d: %s", code, errs)
	}
	samePackets(t, got, want)
	// the packet documents hold only the first two of each side
	got, code, errs = runExportTo(t, base, index, q)
	if code != 0 || len(got) != 4 {
		t.Fatalf("export of the packet documents: exit %d, %d packets, want 4: %s", code, len(got), errs)
	}
	// all flows of the file: every packet of a flow (TCP, UDP, ICMP)
	want = tsharkRef(t, tshark, sources, "ip or ipv6")
	got, code, errs = runExportTo(t, base, prefix+"flows-*", "--records", "flows", "*")
	if code != 0 {
		t.Fatalf("export --records flows '*': exit %d: %s", code, errs)
	}
	samePackets(t, got, want)
}

// TestExportProblems covers a query matching nothing, a file deleted
// since the import and files changed since (pcap read at its offset,
// pcapng read in order).
func TestExportProblems(t *testing.T) {
	base := estest.URL(t)
	sources := exportSources(t)
	_, index := importForExport(t, base, "exportbad", sources)

	got, code, errs := runExportTo(t, base, index, "protocol:no-such-protocol")
	if code != 0 || len(got) != 0 {
		t.Fatalf("query matching nothing: exit %d, %d packets: %s", code, len(got), errs)
	}

	// the whole result before any change
	all, code, errs := runExportTo(t, base, index, "*")
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errs)
	}
	perFile := map[string]int{}
	for _, s := range sources {
		perFile[s] = len(readCapture(t, s))
	}
	if len(all) != sum(perFile) {
		t.Fatalf("%d packets exported, the sources hold %d", len(all), sum(perFile))
	}

	// the pcap DNS capture deleted; the pcap HTTP capture and the pcapng
	// Google capture overwritten with other captures of their format (a
	// record at the same offset has another time, or none starts there)
	gone, pcapChanged, ngChanged := sources[1], sources[0], sources[3]
	os.Remove(gone)
	for dst, src := range map[string]string{pcapChanged: "wireshark_http.pcap", ngChanged: "chrissanders_icmp_echo.pcapng"} {
		b, err := os.ReadFile(pcaps + src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got, code, errs = runExportTo(t, base, index, "*")
	if code != 1 {
		t.Fatalf("export with a missing and changed files: exit %d, want 1: %s", code, errs)
	}
	wantN := sum(perFile) - perFile[gone] - perFile[pcapChanged] - perFile[ngChanged]
	if len(got) != wantN {
		t.Errorf("%d packets written, want the %d of the unchanged files", len(got), wantN)
	}
	for _, want := range []string{
		fmt.Sprintf("%d packets not written: %s missing", perFile[gone], gone),
		fmt.Sprintf("%d packets not written: %s changed since it was indexed", perFile[pcapChanged], pcapChanged),
		fmt.Sprintf("%d packets not written: %s changed since it was indexed", perFile[ngChanged], ngChanged),
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	// what was written is the unchanged files' packets
	var want []capPkt
	for _, s := range sources {
		if s != gone && s != pcapChanged && s != ngChanged {
			want = append(want, readCapture(t, s)...)
		}
	}
	sortPackets(want)
	samePackets(t, got, want)
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestExportStdout writes to standard output (-w -), a valid capture.
func TestExportStdout(t *testing.T) {
	base := estest.URL(t)
	sources := exportSources(t)
	_, index := importForExport(t, base, "exportstdout", sources[1:2])
	out, errs, code := espcap(t, "export", "--node", base, "--index", index, "-w", "-", "protocol:dns")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	r, err := capfile.NewReader(strings.NewReader(out), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	var rec capfile.Record
	n := 0
	for err = r.Next(&rec); err == nil; err = r.Next(&rec) {
		n++
	}
	if !errors.Is(err, io.EOF) || n != len(readCapture(t, sources[1])) {
		t.Fatalf("%d packets on stdout, then %v", n, err)
	}
}

// TestExportUsage checks the flags export and query accept and list.
func TestExportUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"export", "--node", "x", "*"}, 2, "needs -w"},
		{[]string{"export", "--node", "x", "-w", "o"}, 2, "needs a query"},
		{[]string{"export", "--node", "x", "-w", "o", "--records", "sessions", "*"}, 2, "--records"},
		{[]string{"export", "--node", "x", "-w", "o", "*", "udp", "prot", "53"}, 2, "--bpf"},
		{[]string{"export", "--node", "x", "-w", "o", "--chunk", "5", "*"}, 2, "not defined: -chunk"},
		{[]string{"query", "--node", "x", "--indexers", "5", "*"}, 2, "not defined: -indexers"},
	} {
		_, errs, code := espcap(t, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d and %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
	for _, cmd := range []string{"export", "query"} {
		out, _, code := espcap(t, cmd, "--help")
		if code != 0 {
			t.Fatalf("%s --help: exit %d", cmd, code)
		}
		for _, f := range []string{"-chunk", "-indexers", "-dead-letter", "-no-template", "-bulk-bytes", "-retention"} {
			if strings.Contains(out, "  "+f+" ") || strings.Contains(out, "  "+f+"\n") {
				t.Errorf("%s --help lists %s", cmd, f)
			}
		}
		for _, f := range []string{"-node", "-index", "-user", "-ca-cert"} {
			if !strings.Contains(out, "  "+f) {
				t.Errorf("%s --help lacks %s", cmd, f)
			}
		}
	}
}

// TestExportSearchPaths checks that the three ways of paging find the
// same positions: a point in time in index order (Elasticsearch), and
// search_after on @timestamp, pcap.file and pcap.offset with and without a
// point in time (OpenSearch, and servers without one); pages of 7 hits.
func TestExportSearchPaths(t *testing.T) {
	base := estest.URL(t)
	_, index := importForExport(t, base, "exportpaths", exportSources(t)[:3])
	es := registerSearchFlags(flag.NewFlagSet("test", flag.ContinueOnError))
	es.nodes = stringList{base}
	ctx, cancel, ix, code := connectCommand(es, io.Discard, func(string, ...any) {}, time.Minute)
	if ix == nil {
		t.Fatalf("connect: exit %d", code)
	}
	defer cancel()
	defer ix.Close(context.Background())
	type position struct {
		file    string
		off, ts int64
	}
	var want []position
	for _, mode := range []struct {
		name             string
		noPIT, fieldSort bool
	}{{"pit, index order", false, false}, {"pit, field sort", false, true}, {"no pit", true, true}} {
		s := positionSearch{ix: ix, index: index, query: "protocol:dns OR protocol:http", noPIT: mode.noPIT, fieldSort: mode.fieldSort, page: 7}
		var pos export.Positions
		if err := s.collect(ctx, &pos); err != nil {
			t.Fatalf("%s: %v", mode.name, err)
		}
		if b, _ := ix.Backend(); b == "elasticsearch" && s.shardDoc != (!mode.noPIT && !mode.fieldSort) {
			t.Errorf("%s: paged in index order: %v", mode.name, s.shardDoc)
		}
		var got []position
		pos.Each(func(file string, off, ts int64) error {
			got = append(got, position{file, off, ts})
			return nil
		})
		pos.Close()
		slices.SortFunc(got, func(a, b position) int {
			return cmp.Or(strings.Compare(a.file, b.file), cmp.Compare(a.off, b.off), cmp.Compare(a.ts, b.ts))
		})
		if want == nil {
			want = got
			if len(want) < 30 {
				t.Fatalf("%s: only %d positions", mode.name, len(want))
			}
			continue
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %d positions, not the %d of the first way", mode.name, len(got), len(want))
		}
	}
}
