package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/espcap/espcap-fast/bulk"
	"github.com/espcap/espcap-fast/internal/estest"
	"github.com/espcap/espcap-fast/internal/need"
	"github.com/espcap/espcap-fast/pipeline"
)

// TestFlowDataStreamFor: the flow data stream named after the packet one.
func TestFlowDataStreamFor(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"logs-espcap-default", "logs-espcap.flow-default"},
		{"logs-espcap.packet-default", "logs-espcap.flow-default"},
		{"logs-espcap.packets-prod", "logs-espcap.flow-prod"},
		{"metrics-net-lab", "metrics-net.flow-lab"},
		{"packets", "packets-flows"},
		{"espcap-it-stream", "espcap-it-stream-flows"}, // not a known type
		{"logs-espcap", "logs-espcap-flows"},           // no namespace
		{"logs--default", "logs--default-flows"},
		{"logs-a-b-c", "logs-a-b-c-flows"},
	} {
		if got := flowDataStreamFor(c.in); got != c.want {
			t.Errorf("flowDataStreamFor(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestFlowTarget: where a flow document goes, under which _id and with
// which version, into indices and into a data stream.
func TestFlowTarget(t *testing.T) {
	const start, end = int64(1_700_000_000_123_456_789), int64(1_700_000_005_000_000_001)
	id := []byte("AAAAAAAAAAAAAAAAAAAAAA")
	final := pipeline.FlowDoc{ID: id, Start: start, End: end, Final: true}
	interim := pipeline.FlowDoc{ID: id, Start: start, End: end}
	for _, c := range []struct {
		flags        esFlags
		doc          pipeline.FlowDoc
		index, docID string
		versioned    bool
	}{
		{esFlags{flowPrefix: "flows-"}, final, "flows-2023-11-14", string(id), true},
		{esFlags{flowPrefix: "flows-"}, interim, "flows-2023-11-14", string(id), true},
		{esFlags{flowDataStream: "fl"}, final, "fl", string(id), false},
		{esFlags{flowDataStream: "fl"}, interim, "fl", string(id) + "-" + strconv.FormatInt(end, 10), false},
	} {
		s := &indexSink{flags: &c.flags, indices: map[string]bool{}}
		index, docID, v := s.flowTarget(&c.doc)
		if index != c.index || string(docID) != c.docID || (v > 0) != c.versioned {
			t.Errorf("%+v final %v: %s %s version %d; want %s %s versioned %v", c.flags, c.doc.Final, index, docID, v, c.index, c.docID, c.versioned)
		}
		if c.versioned && v != flowVersion(&c.doc) {
			t.Errorf("version %d, want flowVersion's %d", v, flowVersion(&c.doc))
		}
	}
}

// needDataStreams skips a test where the server cannot delete data
// streams afterwards: the Elasticsearch integ-test distribution creates
// them but lacks the data-streams module's REST API (OpenSearch and full
// Elasticsearch distributions have it; scripts/test.sh runs the Node
// tests against OpenSearch too). OpenSearch always has the API, so there
// its absence is a failure under CI (need.Missing), not a skip.
func needDataStreams(t *testing.T, base string) {
	t.Helper()
	st, _ := esCall(t, base, http.MethodGet, "/_data_stream", nil)
	if st == http.StatusOK {
		return
	}
	if _, b := esCall(t, base, http.MethodGet, "/", nil); strings.Contains(string(b), `"opensearch"`) {
		need.Missing(t, "%s: OpenSearch without its data stream API (GET /_data_stream: HTTP %d)", base, st)
		return
	}
	t.Skipf("%s has no data stream API (GET /_data_stream: HTTP %d); the integ-test distribution of Elasticsearch lacks it", base, st)
}

// dataStreams returns a packet data stream name in Elastic's naming
// scheme and the flow data stream an import derives from it, both deleted
// with their templates when the test ends.
func dataStreams(t *testing.T, base, name string) (packets, flows string) {
	packets = "logs-espcapit" + testRun + name + "-default"
	flows = "logs-espcapit" + testRun + name + ".flow-default"
	t.Cleanup(func() {
		for _, ds := range []string{packets, flows} {
			esCall(t, base, http.MethodDelete, "/_data_stream/"+ds, nil)
			esCall(t, base, http.MethodDelete, "/_index_template/"+bulk.TemplateName(ds), nil)
		}
	})
	return packets, flows
}

// TestNodeFlowsDataStream: --records both --data-stream indexes the
// packet documents into the data stream and the flow documents into their
// own (named after it), exactly those the same run writes to stdout, each
// flow under its flow.id; every packet's flow.id names an indexed flow; a
// re-import adds nothing (all 409s, counted as duplicates). The first run
// goes through a spool on disk, the second directly.
func TestNodeFlowsDataStream(t *testing.T) {
	base := estest.URL(t)
	needDataStreams(t, base)
	files := []string{"--file", sample, "--file", dnsSample}
	packets, flows := offlineRecords(t, files...)
	wantFlows, _ := flowIDs(flows)
	wantPkt, withID := flowIDs(packets)
	if len(flows) < 10 || len(packets) < 1000 || len(wantFlows) != len(flows) {
		t.Fatalf("offline: %d packets, %d flows with %d flow.ids", len(packets), len(flows), len(wantFlows))
	}
	ds, fds := dataStreams(t, base, "both")
	args := append([]string{"--records", "both", "--node", base, "--data-stream", ds,
		"--dead-letter", filepath.Join(t.TempDir(), "dl.ndjson")}, files...)
	importTwice(t, args, len(packets)+len(flows), func(run int, errs string) {
		if run == 0 && !strings.Contains(errs, "into data stream "+ds+", flows into data stream "+fds+"\n") {
			t.Errorf("the summary does not name the data streams %s and %s", ds, fds)
		}
		esCall(t, base, http.MethodPost, "/"+ds+","+fds+"/_refresh", nil)
		if n := countIn(t, base, ds); n != len(packets) {
			t.Errorf("run %d: %d packet documents in %s, want %d", run+1, n, ds, len(packets))
		}
		got := searchIDs(t, base, fds)
		if len(got) != len(flows) {
			t.Errorf("run %d: %d flow documents in %s, want %d", run+1, len(got), fds, len(flows))
		}
		for id := range wantFlows {
			if ix, ok := got[id]; !ok || !strings.HasPrefix(ix, ".ds-"+fds+"-") {
				t.Errorf("flow %s: _id not found in a backing index of %s (%q)", id, fds, ix)
			}
		}
		checkPacketFlowIDs(t, base, ds, wantFlows, wantPkt, withID)
	})
	st, b := esCall(t, base, http.MethodGet, "/_data_stream/"+fds, nil)
	if st != http.StatusOK || !strings.Contains(string(b), `"template":"`+bulk.TemplateName(fds)+`"`) {
		t.Errorf("flow data stream not made by its template: %d %s", st, b)
	}
}

// TestNodeFlowUpdatesDataStream: with --flow-update into a data stream,
// every interim update is a document of its own (_id <flow.id>-<event.end
// in ns>) beside the final one (_id the flow.id), as many as the same run
// writes to stdout, one final document per flow; a re-import, directly
// and through a spool, adds nothing.
func TestNodeFlowUpdatesDataStream(t *testing.T) {
	base := estest.URL(t)
	needDataStreams(t, base)
	files, all, ids := offlineUpdates(t)
	wantIDs := map[string]bool{}
	for _, d := range all {
		id := get(d, "flow.id")[0].(string)
		if get(d, "flow.final")[0] == false {
			end, err := time.Parse(time.RFC3339Nano, get(d, "event.end")[0].(string))
			if err != nil {
				t.Fatal(err)
			}
			id += "-" + strconv.FormatInt(end.UnixNano(), 10)
		}
		wantIDs[id] = true
	}
	if len(all) <= len(ids) || len(wantIDs) != len(all) {
		t.Fatalf("bad test data: %d flow documents (%d distinct _ids) of %d flows", len(all), len(wantIDs), len(ids))
	}
	ds, fds := dataStreams(t, base, "upd")
	for run, extra := range [][]string{nil, nil, {"--spool", t.TempDir(), "--spool-mem", "0"}} {
		want := fmt.Sprintf("0 docs indexed, %d duplicates", len(all))
		if run == 0 {
			want = fmt.Sprintf("%d docs indexed, 0 duplicates", len(all))
		}
		_, errs, code := espcap(t, append(append([]string{"--node", base, "--data-stream", ds, "--chunk", "3", "--indexers", "8",
			"--dead-letter", filepath.Join(t.TempDir(), "dl.ndjson")}, extra...), files...)...)
		t.Logf("run %d %v:\n%s", run+1, extra, errs)
		if code != 0 || !strings.Contains(errs, want) {
			t.Fatalf("run %d: exit %d, summary should say %q", run+1, code, want)
		}
	}
	esCall(t, base, http.MethodPost, "/"+fds+"/_refresh", nil)
	got := searchIDs(t, base, fds)
	for id := range wantIDs {
		if _, ok := got[id]; !ok {
			t.Errorf("document %s missing", id)
		}
	}
	if len(got) != len(wantIDs) {
		t.Errorf("%d flow documents, want %d", len(got), len(wantIDs))
	}
	st, b := esCall(t, base, http.MethodPost, "/"+fds+"/_count", []byte(`{"query":{"term":{"flow.final":true}}}`))
	if st != http.StatusOK || !strings.Contains(string(b), fmt.Sprintf(`"count":%d,`, len(ids))) {
		t.Errorf("final documents: %d %s, want one per flow (%d)", st, b, len(ids))
	}
}
