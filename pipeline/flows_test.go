package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/espcap/espcap-fast/flow"
)

// outSink keeps the batches' NDJSON as written to stdout, and checks that
// Doc and Flow (what the index sink reads) give the same documents.
type outSink struct {
	out  bytes.Buffer
	errs []string
}

func (s *outSink) Write(b *Batch) error {
	s.out.Write(b.Out())
	var docs [][]byte
	for i := range b.Len() {
		if d, _, _ := b.Doc(i); d != nil {
			docs = append(docs, d)
		}
	}
	for i := range b.Flows() {
		f := b.Flow(i)
		docs = append(docs, f.Doc)
		var d struct {
			TS   string `json:"@timestamp"`
			Flow struct {
				ID    string `json:"id"`
				Final bool   `json:"final"`
			} `json:"flow"`
			Event struct {
				End string `json:"end"`
			} `json:"event"`
		}
		if err := json.Unmarshal(f.Doc, &d); err != nil {
			s.errs = append(s.errs, fmt.Sprintf("Flow(%d): %v: %s", i, err, f.Doc))
			continue
		}
		start := time.Unix(0, f.Start).UTC().Format("2006-01-02T15:04:05.000000000Z")
		end := time.Unix(0, f.End).UTC().Format("2006-01-02T15:04:05.000000000Z")
		if d.Flow.ID != string(f.ID) || d.TS != start || d.Event.End != end || d.Flow.Final != f.Final {
			s.errs = append(s.errs, fmt.Sprintf("Flow(%d) = %s %s %s %v, document %s", i, f.ID, start, end, f.Final, f.Doc))
		}
	}
	lines := bytes.Split(bytes.TrimSuffix(b.Out(), []byte("\n")), []byte("\n"))
	if len(b.Out()) == 0 {
		lines = nil
	}
	sort.Slice(docs, func(i, j int) bool { return bytes.Compare(docs[i], docs[j]) < 0 })
	sort.Slice(lines, func(i, j int) bool { return bytes.Compare(lines[i], lines[j]) < 0 })
	if len(docs) != len(lines) {
		s.errs = append(s.errs, fmt.Sprintf("batch: %d lines, Doc and Flow give %d documents", len(lines), len(docs)))
	} else {
		for i := range docs {
			if !bytes.Equal(docs[i], lines[i]) {
				s.errs = append(s.errs, fmt.Sprintf("batch: line %s not given by Doc or Flow", lines[i]))
				break
			}
		}
	}
	return nil
}

// flowRun runs the test captures with flow records and returns the
// documents, split into packet and flow documents.
func flowRun(t *testing.T, fc FlowConfig, workers int) (packets, flows []map[string]any, raw []byte) {
	t.Helper()
	var sink outSink
	r, err := runFiles(t, context.Background(), Config{Workers: workers, Flows: &fc}, &sink, captures(t))
	if err != nil {
		t.Fatal(err)
	}
	packets, flows = splitDocs(t, sink.out.Bytes())
	for _, e := range sink.errs {
		t.Error(e)
	}
	if n, _, _ := r.FlowStats(); n != uint64(len(flows)) {
		t.Errorf("FlowStats counts %d flow documents, %d written", n, len(flows))
	}
	return packets, flows, sink.out.Bytes()
}

// splitDocs parses NDJSON output into packet and flow documents.
func splitDocs(t *testing.T, out []byte) (packets, flows []map[string]any) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var doc map[string]any
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
			t.Fatalf("invalid JSON: %v\n%s", err, sc.Bytes())
		}
		if ev, _ := doc["event"].(map[string]any); ev["dataset"] == "espcap.flow" {
			flows = append(flows, doc)
		} else {
			packets = append(packets, doc)
		}
	}
	return packets, flows
}

func num(doc map[string]any, path ...string) float64 {
	var v any = doc
	for _, k := range path {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	f, _ := v.(float64)
	return f
}

func flowID(doc map[string]any) string {
	f, _ := doc["flow"].(map[string]any)
	id, _ := f["id"].(string)
	return id
}

// TestFlowRecords: with --records both, every packet document that has a
// flow.id joins exactly one final flow document, whose packet count is the
// number of those packets; with --records flows the flow documents are the
// same; the output is the same with several workers.
func TestFlowRecords(t *testing.T) {
	both := FlowConfig{Packets: true, Table: flow.Config{TCPTimeout: 24 * time.Hour, UDPTimeout: 24 * time.Hour, OtherTimeout: 24 * time.Hour}}
	packets, flows, raw := flowRun(t, both, 1)
	perFlow := map[string]int{}
	for _, p := range packets {
		if id := flowID(p); id != "" {
			perFlow[id]++
		}
	}
	final := map[string]map[string]any{}
	for _, f := range flows {
		id := flowID(f)
		if _, dup := final[id]; dup {
			t.Errorf("flow %s written twice", id)
		}
		final[id] = f
	}
	for id, n := range perFlow {
		f, ok := final[id]
		if !ok {
			t.Errorf("packets of flow %s but no flow document", id)
			continue
		}
		if got := num(f, "network", "packets"); got != float64(n) {
			t.Errorf("flow %s: network.packets %v, %d packet documents", id, got, n)
		}
	}
	if len(final) != len(perFlow) {
		t.Errorf("%d flow documents, packets name %d flows", len(final), len(perFlow))
	}
	if len(packets) < 1000 || len(flows) < 100 {
		t.Fatalf("%d packets, %d flows", len(packets), len(flows))
	}

	only := both
	only.Packets = false
	p2, f2, _ := flowRun(t, only, 1)
	if len(p2) != 0 || len(f2) != len(flows) {
		t.Errorf("--records flows: %d packet and %d flow documents, want 0 and %d", len(p2), len(f2), len(flows))
	}
	_, _, raw3 := flowRun(t, both, 3)
	if !bytes.Equal(raw, raw3) {
		t.Error("3 workers: output differs from one worker's")
	}
}

// TestMaxPacketsPerFlow: packet documents stop after N per flow and
// direction; the flow documents still count every packet.
func TestMaxPacketsPerFlow(t *testing.T) {
	all, flowsAll, _ := flowRun(t, FlowConfig{Packets: true}, 2)
	capped, flowsCapped, _ := flowRun(t, FlowConfig{Packets: true, MaxPacketsPerFlow: 2}, 2)
	if len(flowsAll) != len(flowsCapped) {
		t.Fatalf("%d flows capped, %d not", len(flowsCapped), len(flowsAll))
	}
	for i := range flowsAll {
		if a, c := num(flowsAll[i], "network", "packets"), num(flowsCapped[i], "network", "packets"); a != c {
			t.Errorf("flow %d: %v packets capped, %v not", i, c, a)
		}
	}
	perDir := map[string]int{}
	for _, p := range capped {
		fr, _ := p["frame"].(map[string]any)
		chain, _ := fr["protocols"].(string)
		chain = ":" + chain + ":"
		if strings.Count(chain, ":ip:")+strings.Count(chain, ":ipv6:") != 1 {
			// tunnelled: the packet's source is the outer header's, the
			// flow's direction the inner one's
			continue
		}
		if id := flowID(p); id != "" {
			src, _ := p["source"].(map[string]any)
			k := fmt.Sprint(id, src["ip"], src["port"])
			perDir[k]++
			if perDir[k] > 2 {
				t.Fatalf("flow %s: more than 2 packet documents from %s", id, src["ip"])
			}
		}
	}
	if len(capped) >= len(all) {
		t.Errorf("%d packet documents capped, %d not", len(capped), len(all))
	}
	t.Logf("packet documents: %d, capped at 2 per flow and direction: %d; flows %d", len(all), len(capped), len(flowsAll))
}

// TestFlowDocsInterim: with interim updates, Batch.Flow gives every flow
// document, interim ones (Final false) too (outSink checks them against
// the batch's NDJSON).
func TestFlowDocsInterim(t *testing.T) {
	fc := FlowConfig{Packets: true, Table: flow.Config{Update: time.Second}}
	_, flows, _ := flowRun(t, fc, 2)
	interim := 0
	for _, f := range flows {
		if fl, _ := f["flow"].(map[string]any); fl["final"] == false {
			interim++
		}
	}
	if interim == 0 {
		t.Fatalf("no interim flow document among %d", len(flows))
	}
}

// TestFlowDocsCount: with --count and frequent interim flow documents,
// Batch.Flow still gives exactly the flow documents of each batch's NDJSON
// (outSink checks). (The reader usually stops at Count itself, so the
// writer's cut of a batch, which drops the flow documents after the cut
// too, is seldom reached here.)
func TestFlowDocsCount(t *testing.T) {
	for _, count := range []uint64{1, 37, 300, 1000} {
		var sink outSink
		fc := FlowConfig{Packets: true, Table: flow.Config{Update: time.Millisecond}}
		if _, err := runFiles(t, context.Background(), Config{Workers: 2, Count: count, Flows: &fc}, &sink, captures(t)); err != nil {
			t.Fatal(err)
		}
		for _, e := range sink.errs {
			t.Errorf("--count %d: %s", count, e)
		}
		if sink.out.Len() == 0 {
			t.Errorf("--count %d: no output", count)
		}
	}
}

// TestLightFlows: with --records flows the workers parse most packets'
// headers only and the flow stage decodes those whose flows want their
// application layers; the flow documents are byte for byte those of
// --records both, where every packet is decoded, with one worker or
// several, whatever the inspection limit.
func TestLightFlows(t *testing.T) {
	for _, inspect := range []int{0, 2, -1} {
		for _, workers := range []int{1, 3} {
			t.Run(fmt.Sprintf("inspect=%d/workers=%d", inspect, workers), func(t *testing.T) {
				tc := flow.Config{Inspect: inspect}
				_, want, _ := flowRun(t, FlowConfig{Packets: true, Table: tc}, workers)
				var sink outSink
				r, err := runFiles(t, context.Background(), Config{Workers: workers, Flows: &FlowConfig{Table: tc}}, &sink, captures(t))
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range sink.errs {
					t.Error(e)
				}
				var got []map[string]any
				for _, line := range bytes.Split(bytes.TrimSuffix(sink.out.Bytes(), []byte("\n")), []byte("\n")) {
					var doc map[string]any
					if err := json.Unmarshal(line, &doc); err != nil {
						t.Fatalf("invalid JSON: %v\n%s", err, line)
					}
					got = append(got, doc)
				}
				if len(got) != len(want) {
					t.Fatalf("%d flow documents, --records both has %d", len(got), len(want))
				}
				for i := range got {
					g, _ := json.Marshal(got[i])
					w, _ := json.Marshal(want[i])
					if !bytes.Equal(g, w) {
						t.Fatalf("flow document %d differs:\n got %s\nwant %s", i, g, w)
					}
				}
				s := r.flows
				t.Logf("%d flows; %d packets tracked by their headers, %d of them decoded by the flow stage", len(got), s.light, s.redecoded)
				if s.light == 0 || s.redecoded == 0 || s.redecoded == s.light {
					t.Errorf("%d packets tracked by their headers, %d of them decoded: the light path is not taken", s.light, s.redecoded)
				}
			})
		}
	}
}
