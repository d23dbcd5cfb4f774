package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/espcap/espcap-fast/bulk"
	"github.com/espcap/espcap-fast/internal/estest"
	"github.com/espcap/espcap-fast/internal/need"
	"github.com/espcap/espcap-fast/ring/ringtest"
)

// TestExportLive is the whole loop of the pcap store on live traffic: the
// HTTP sample replayed onto a veth, captured with --write rotating 64 KiB
// files, packet and flow documents indexed into the real server. The
// largest connection (387 packets, 319 kB) then lies in several store
// files; `export --records flows` of its flow.id gives exactly its packets
// (byte for byte as tshark's 5-tuple filter keeps them from the sample;
// the capture times are the replay's). With the oldest of those files
// deleted (as retention would), the export says which file is missing and
// how many packets, and exits 1.
func TestExportLive(t *testing.T) {
	tshark := need.Tshark(t)
	base := estest.URL(t)
	v := ringtest.NewVeth(t)
	prefix := testPrefix(t, base, "exportlive")
	t.Cleanup(func() {
		esCall(t, base, http.MethodDelete, "/_index_template/"+bulk.TemplateName(prefix+"flows-"), nil)
	})
	dir := filepath.Join(t.TempDir(), "store")
	p := startLive(t, nil, "-i", v.Outside, "--workers", "2", "--write", dir, "--write-size", "64K",
		"--node", base, "--index-prefix", prefix, "--index-period", "none", "--records", "both",
		"--flow-index-prefix", prefix+"flows-", "--state-dir", t.TempDir(), "--frame-timeout", "10ms", "--duration", "60s")
	if sent := v.Replay(t, sample); sent != 1268 {
		t.Fatalf("tcpreplay sent %d of 1268 packets", sent)
	}
	time.Sleep(200 * time.Millisecond)
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t, 60*time.Second)
	if p.code != 0 {
		t.Fatalf("capture: exit %d: %s", p.code, p.stderr.String())
	}
	refresh(t, base, prefix)

	st, b := esCall(t, base, http.MethodPost, "/"+prefix+"flows-*/_search",
		[]byte(`{"size":1,"query":{"query_string":{"query":"source.port:59827 AND destination.ip:\"205.134.224.134\" AND flow.final:true"}}}`))
	var res struct {
		Hits struct {
			Hits []struct {
				Source struct {
					Flow    struct{ ID string }
					Network struct{ Packets int }
					Pcap    struct {
						File      []string
						Truncated bool
					}
				} `json:"_source"`
			}
		}
	}
	if st != http.StatusOK || json.Unmarshal(b, &res) != nil || len(res.Hits.Hits) != 1 {
		t.Fatalf("the flow document of port 59827: HTTP %d %.300s", st, b)
	}
	fl := res.Hits.Hits[0].Source
	files := slices.Clone(fl.Pcap.File)
	sort.Strings(files)
	if fl.Network.Packets != 387 || len(files) < 2 || fl.Pcap.Truncated {
		t.Fatalf("flow %s: %d packets in %d store files (truncated %v), want 387 in several", fl.Flow.ID, fl.Network.Packets, len(files), fl.Pcap.Truncated)
	}
	for _, f := range files {
		if filepath.Dir(f) != dir || !strings.Contains(filepath.Base(f), "-"+v.Outside+"-w") {
			t.Errorf("flow position in %s, not a store file of %s", f, v.Outside)
		}
	}

	want := tsharkRef(t, tshark, []string{sample}, "ip.addr == 10.0.0.4 && ip.addr == 205.134.224.134 && tcp.port == 59827 && tcp.port == 80")
	q := fmt.Sprintf("flow.id:%q", fl.Flow.ID)
	got, code, errs := runExportTo(t, base, prefix+"flows-*", "--records", "flows", q)
	if code != 0 {
		t.Fatalf("export of the flow: exit %d: %s", code, errs)
	}
	sameData(t, got, want)
	// the packet documents of the flow point at the same packets
	got, code, errs = runExportTo(t, base, prefix+"all", q)
	if code != 0 {
		t.Fatalf("export of the flow's packet documents: exit %d: %q", code, errs)
	}
	sameData(t, got, want)

	if err := os.Remove(files[0]); err != nil {
		t.Fatal(err)
	}
	got, code, errs = runExportTo(t, base, prefix+"flows-*", "--records", "flows", q)
	if code != 1 || !strings.Contains(errs, files[0]) || !strings.Contains(errs, "missing") || len(got) == 0 || len(got) >= len(want) {
		t.Errorf("export after deleting %s: exit %d, %d of %d packets, want exit 1 and the file named:\n%s", files[0], code, len(got), len(want), errs)
	}
}

// sameData checks that got and want hold the same packet bytes, as many
// times each (the capture times are the replay's, not the sample's).
func sameData(t *testing.T, got, want []capPkt) {
	t.Helper()
	data := func(ps []capPkt) []string {
		out := make([]string, len(ps))
		for i, p := range ps {
			out[i] = p.data
		}
		sort.Strings(out)
		return out
	}
	g, w := data(got), data(want)
	if len(g) != len(w) {
		t.Fatalf("%d packets exported, want %d", len(g), len(w))
	}
	for i := range g {
		if g[i] != w[i] {
			t.Fatalf("the exported packets differ from the sample's (first difference at %d of %d, sorted by bytes)", i+1, len(g))
		}
	}
}
