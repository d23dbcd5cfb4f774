package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/espcap/espcap-fast/internal/estest"
)

// flowIDs returns the flow.id of each document that has one, and how many
// documents have one.
func flowIDs(ds []map[string]any) (ids map[string]int, n int) {
	ids = map[string]int{}
	for _, d := range ds {
		for _, v := range get(d, "flow.id") {
			ids[v.(string)]++
			n++
		}
	}
	return ids, n
}

// searchIDs returns the _id and _index of every document of target.
func searchIDs(t *testing.T, base, target string) map[string]string {
	t.Helper()
	st, b := esCall(t, base, http.MethodGet, "/"+target+"/_search?size=10000&_source=false&ignore_unavailable=true&allow_no_indices=true", nil)
	if st != http.StatusOK {
		t.Fatalf("search %s: %d %s", target, st, b)
	}
	var r struct {
		Hits struct {
			Hits []struct {
				ID    string `json:"_id"`
				Index string `json:"_index"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, h := range r.Hits.Hits {
		out[h.ID] = h.Index
	}
	return out
}

// packetFlowIDs returns the flow.id values of the packet documents of
// target with their counts (a terms aggregation: flow.id must be mapped as
// a keyword).
func packetFlowIDs(t *testing.T, base, target string) map[string]int {
	t.Helper()
	st, b := esCall(t, base, http.MethodPost, "/"+target+"/_search",
		[]byte(`{"size":0,"aggs":{"f":{"terms":{"field":"flow.id","size":10000}}}}`))
	if st != http.StatusOK {
		t.Fatalf("terms flow.id: %d %s", st, b)
	}
	var r struct {
		Aggregations struct {
			F struct {
				Buckets []struct {
					Key   string `json:"key"`
					Count int    `json:"doc_count"`
				} `json:"buckets"`
			} `json:"f"`
		} `json:"aggregations"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, k := range r.Aggregations.F.Buckets {
		out[k.Key] = k.Count
	}
	return out
}

// offlineRecords returns the packet and the flow documents that
// --records both writes to stdout for args.
func offlineRecords(t *testing.T, args ...string) (packets, flows []map[string]any) {
	t.Helper()
	out, errs, code := espcap(t, append([]string{"-q", "--records", "both"}, args...)...)
	if code != 0 {
		t.Fatalf("offline run: exit %d: %s", code, errs)
	}
	for _, d := range docs(t, out) {
		if isFlowDoc(d) {
			flows = append(flows, d)
		} else {
			packets = append(packets, d)
		}
	}
	return packets, flows
}

// checkPacketFlowIDs checks that the packet documents of target name only
// the flows of wantFlows, and the same flows as many times as offline
// (wantPkt, withID: see flowIDs).
func checkPacketFlowIDs(t *testing.T, base, target string, wantFlows, wantPkt map[string]int, withID int) {
	t.Helper()
	pkt := packetFlowIDs(t, base, target)
	n := 0
	for id, c := range pkt {
		n += c
		if _, ok := wantFlows[id]; !ok {
			t.Errorf("packets name flow %s, not an indexed flow document", id)
		}
	}
	if n != withID || fmt.Sprint(keys(pkt)) != fmt.Sprint(keys(wantPkt)) {
		t.Errorf("%s: indexed packets carry %d flow.ids of %d flows, offline %d of %d", target, n, len(pkt), withID, len(wantPkt))
	}
}

// importTwice runs the import args twice, the first time through a spool
// on disk (flow documents keep their bulk action and version there): the
// first summary must say that all docs documents were indexed, the second
// that they all were duplicates. check(run, stderr) runs after each.
func importTwice(t *testing.T, args []string, docs int, check func(run int, errs string)) {
	t.Helper()
	for run, want := range []string{
		fmt.Sprintf("%d docs indexed, 0 duplicates", docs),
		fmt.Sprintf("0 docs indexed, %d duplicates", docs),
	} {
		runArgs := args
		if run == 0 {
			runArgs = append([]string{"--spool", t.TempDir(), "--spool-mem", "0"}, args...)
		}
		_, errs, code := espcap(t, runArgs...)
		t.Logf("run %d:\n%s", run+1, errs)
		if code != 0 || !strings.Contains(errs, want) {
			t.Fatalf("run %d: exit %d, summary should say %q", run+1, code, want)
		}
		check(run, errs)
	}
}

// checkNodeFlows imports files with --records both into indices named
// after name twice (see importTwice) and checks after each run that they
// hold exactly the packet and flow documents given (those of the same
// run to stdout): each flow under its flow.id in the index of its start
// day, every packet's flow.id an indexed flow.
func checkNodeFlows(t *testing.T, base, name string, files []string, packets, flows []map[string]any) {
	t.Helper()
	wantFlows, _ := flowIDs(flows)
	wantPkt, withID := flowIDs(packets)
	if len(wantFlows) != len(flows) {
		t.Fatalf("%d flow documents have %d distinct flow.ids", len(flows), len(wantFlows))
	}

	pfx, fpfx := testPrefix(t, base, name+"pk"), testPrefix(t, base, name+"fl")
	args := append([]string{"--records", "both", "--node", base, "--index-prefix", pfx, "--flow-index-prefix", fpfx,
		"--dead-letter", filepath.Join(t.TempDir(), "dl.ndjson")}, files...)
	// the first run goes through a spool on disk, the second adds nothing
	importTwice(t, args, len(packets)+len(flows), func(run int, _ string) {
		refresh(t, base, pfx)
		refresh(t, base, fpfx)
		if n := countIn(t, base, pfx+"*"); n != len(packets) {
			t.Errorf("run %d: %d packet documents indexed, want %d", run+1, n, len(packets))
		}
		got := searchIDs(t, base, fpfx+"*")
		if len(got) != len(flows) {
			t.Errorf("run %d: %d flow documents indexed, want %d", run+1, len(got), len(flows))
		}
		for _, f := range flows {
			id := get(f, "flow.id")[0].(string)
			if want := fpfx + f["@timestamp"].(string)[:10]; got[id] != want {
				t.Errorf("flow %s: in index %q, want %q (_id the flow.id, index of its start)", id, got[id], want)
			}
		}
		checkPacketFlowIDs(t, base, pfx+"*", wantFlows, wantPkt, withID)
	})
}

// TestNodeFlows: --records both --node indexes exactly the packet
// documents and the flow documents that the same run writes to stdout, the
// flows into <flow prefix>YYYY-MM-DD of their start under their flow.id;
// every packet's flow.id names an indexed flow; importing again adds
// nothing (all duplicates); --records flows indexes flows only.
func TestNodeFlows(t *testing.T) {
	base := estest.URL(t)
	files := []string{"--file", sample, "--file", dnsSample}
	packets, flows := offlineRecords(t, files...)
	out, _, _ := espcap(t, append([]string{"-q", "--records", "flows"}, files...)...)
	if n := len(docs(t, out)); n != len(flows) || len(flows) < 10 || len(packets) < 1000 {
		t.Fatalf("offline: %d packets, %d flows with --records both, %d with --records flows", len(packets), len(flows), n)
	}
	checkNodeFlows(t, base, "flow", files, packets, flows)

	// --records flows: no packet documents
	pfx2, fpfx2 := testPrefix(t, base, "flowonlypk"), testPrefix(t, base, "flowonlyfl")
	_, errs, code := espcap(t, append([]string{"--records", "flows", "--node", base, "--index-prefix", pfx2, "--flow-index-prefix", fpfx2,
		"--dead-letter", filepath.Join(t.TempDir(), "dl.ndjson")}, files...)...)
	if code != 0 || !strings.Contains(errs, fmt.Sprintf("%d docs indexed, 0 duplicates", len(flows))) {
		t.Fatalf("--records flows: exit %d: %s", code, errs)
	}
	refresh(t, base, fpfx2)
	if got := searchIDs(t, base, pfx2+"*"); len(got) != 0 {
		t.Errorf("--records flows: %d packet documents indexed", len(got))
	}
	if n := countIn(t, base, fpfx2+"*"); n != len(flows) {
		t.Errorf("--records flows: %d flow documents indexed, want %d", n, len(flows))
	}
}

// offlineUpdates returns the arguments of a run with interim updates
// (--records flows --flow-update 1s over the sample captures), the flow
// documents it writes to stdout and their flow.ids.
func offlineUpdates(t *testing.T) (args []string, all []map[string]any, ids map[string]int) {
	t.Helper()
	args = []string{"--file", sample, "--file", dnsSample, "--records", "flows", "--flow-update", "1s"}
	out, errs, code := espcap(t, append([]string{"-q"}, args...)...)
	if code != 0 {
		t.Fatalf("offline run: exit %d: %s", code, errs)
	}
	all = docs(t, out)
	ids, _ = flowIDs(all)
	return args, all, ids
}

// TestNodeFlowUpdates: interim updates (--flow-update) are replaced by the
// final document of their flow, even with small bulk requests in parallel
// (the external version orders them): one final document per flow.
func TestNodeFlowUpdates(t *testing.T) {
	base := estest.URL(t)
	files, all, ids := offlineUpdates(t)
	if len(all) <= len(ids) {
		t.Fatalf("bad test data: %d flow documents of %d flows, no interim update", len(all), len(ids))
	}
	// directly, and through a spool on disk (which keeps each flow
	// document's version)
	for i, extra := range [][]string{nil, {"--spool", t.TempDir(), "--spool-mem", "0"}} {
		pfx, fpfx := testPrefix(t, base, fmt.Sprintf("flowuppk%d", i)), testPrefix(t, base, fmt.Sprintf("flowupfl%d", i))
		_, errs, code := espcap(t, append(append([]string{"--node", base, "--index-prefix", pfx, "--flow-index-prefix", fpfx,
			"--chunk", "3", "--indexers", "8", "--dead-letter", filepath.Join(t.TempDir(), "dl.ndjson")}, extra...), files...)...)
		t.Logf("%v:\n%s", extra, errs)
		if code != 0 {
			t.Fatalf("import %v: exit %d", extra, code)
		}
		refresh(t, base, fpfx)
		if n := countIn(t, base, fpfx+"*"); n != len(ids) {
			t.Errorf("%v: %d flow documents indexed, want one per flow: %d", extra, n, len(ids))
		}
		st, b := esCall(t, base, http.MethodPost, "/"+fpfx+"*/_count", []byte(`{"query":{"term":{"flow.final":false}}}`))
		if st != http.StatusOK || !strings.Contains(string(b), `"count":0,`) {
			t.Errorf("%v: interim documents left: %d %s", extra, st, b)
		}
	}
}
