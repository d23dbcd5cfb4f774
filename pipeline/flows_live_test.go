package pipeline

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	espcapfast "github.com/espcap/espcap-fast"
	"github.com/espcap/espcap-fast/encode"
	"github.com/espcap/espcap-fast/ring"
	"github.com/espcap/espcap-fast/ring/ringtest"
)

// TestLightFlowsLive: live capture with --records flows parses the headers
// of most packets only, and keeps a copy of those with a payload for the
// flow stage, which decodes the ones whose flows want them; the flow
// documents (but for times and IDs, which a replay changes) are those of
// --records both, where every frame is decoded in the ring.
func TestLightFlowsLive(t *testing.T) {
	v := ringtest.NewVeth(t)
	const capture = "../testdata/pcaps/seed_test_http.pcap"
	protos, err := encode.ParseProtocols(espcapfast.ProtocolsList)
	if err != nil {
		t.Fatal(err)
	}
	run := func(fc *FlowConfig) (flows []string, s *flowStage) {
		g, err := ring.Open(ring.Config{Interface: v.Outside, Rings: 2, FrameTimeout: 10 * time.Millisecond, BlockCount: 16})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		var sink outSink
		lr, err := NewLive(Config{Protocols: protos, Flows: fc}, &sink, []*ring.Group{g})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- lr.Run(ctx) }()
		v.Replay(t, capture)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		_, docs := splitDocs(t, sink.out.Bytes())
		for _, doc := range docs {
			delete(doc, "@timestamp")
			delete(doc, "event")
			delete(doc["flow"].(map[string]any), "id")
			b, _ := json.Marshal(doc)
			flows = append(flows, string(b))
		}
		return flows, lr.r.flows
	}
	want, _ := run(&FlowConfig{Packets: true})
	got, s := run(&FlowConfig{})
	if len(got) != len(want) || len(got) == 0 {
		t.Fatalf("%d flow documents, --records both gave %d", len(got), len(want))
	}
	count := func(docs []string) map[string]int {
		m := map[string]int{}
		for _, d := range docs {
			m[d]++
		}
		return m
	}
	w := count(want)
	for d, n := range count(got) {
		if w[d] != n {
			t.Errorf("flow document %d times, %d with --records both:\n%s", n, w[d], d)
		}
	}
	t.Logf("%d flows; %d packets tracked by their headers, %d of them decoded by the flow stage", len(got), s.light, s.redecoded)
	if s.light == 0 || s.redecoded == 0 {
		t.Errorf("%d packets tracked by their headers, %d decoded by the flow stage: the light path is not taken", s.light, s.redecoded)
	}
}
