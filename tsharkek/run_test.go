package tsharkek

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	espcapfast "github.com/espcap/espcap-fast"
	"github.com/espcap/espcap-fast/encode"
	"github.com/espcap/espcap-fast/flow"
	"github.com/espcap/espcap-fast/pipeline"
)

// recorded is tshark's EK output of the benchmark capture, recorded once,
// and its field table, so that tshark itself is not measured.
var recorded struct {
	once    sync.Once
	ek      []byte
	packets int
	fields  *encode.EKFields
	err     error
}

// benchCapture is ESPCAP_BENCH_PCAP, or the bundled HTTP sample (1268
// packets of HTTP over TCP, with large payloads).
func benchCapture() string {
	if p := os.Getenv("ESPCAP_BENCH_PCAP"); p != "" {
		return p
	}
	return filepath.Join("..", "testdata", "pcaps", "seed_test_http.pcap")
}

func record(b *testing.B) ([]byte, int, *encode.EKFields) {
	b.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		b.Skipf("tshark not installed: %v", err)
	}
	recorded.once.Do(func() {
		args := append(append([]string(nil), DefaultArgs...), "-T", "ek", "-r", benchCapture())
		recorded.ek, recorded.err = exec.Command("tshark", args...).Output()
		if recorded.err != nil {
			return
		}
		recorded.packets = bytes.Count(recorded.ek, []byte(`{"timestamp"`))
		recorded.fields, recorded.err = LoadFields(context.Background(), "tshark")
	})
	if recorded.err != nil {
		b.Fatal(recorded.err)
	}
	return recorded.ek, recorded.packets, recorded.fields
}

// BenchmarkDecodeStream measures the wrapper alone: tshark's recorded EK
// output read line by line, parsed and turned into documents in batches,
// with packet documents only and with flow records (--records both: each
// document's flow packet filled too; the flow table runs in writeJobs, not
// measured here). One op is the whole capture; ns/pkt and allocs/pkt are
// per packet.
func BenchmarkDecodeStream(b *testing.B) {
	ek, packets, fields := record(b)
	protos, err := encode.ParseProtocols(espcapfast.ProtocolsList)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("packets", func(b *testing.B) {
		benchDecodeStream(b, &Config{Protocols: protos, Fields: fields}, ek, packets)
	})
	b.Run("flows", func(b *testing.B) {
		fw := pipeline.NewFlowWriter(pipeline.FlowConfig{Packets: true})
		benchDecodeStream(b, &Config{Protocols: protos, Fields: fields, Flows: fw}, ek, packets)
	})
}

func benchDecodeStream(b *testing.B, cfg *Config, ek []byte, packets int) {
	pool := sync.Pool{New: func() any { return pipeline.NewDocBatch(nil) }}
	src := &pipeline.Source{Name: "bench.pcap", ID: "bench"}
	var st pipeline.Stats
	b.SetBytes(int64(len(ek)))
	b.ReportAllocs()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out := make(chan *pipeline.Batch, 4)
		go func() {
			for bt := range out {
				pool.Put(bt)
			}
		}()
		if err := decodeStream(context.Background(), cfg, src, "", bytes.NewReader(ek), nil, out, &pool, &st); err != nil {
			b.Fatal(err)
		}
		close(out)
	}
	b.StopTimer()
	runtime.ReadMemStats(&m1)
	n := float64(b.N) * float64(packets)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/pkt")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/n, "allocs/pkt")
	b.ReportMetric(float64(packets), "pkts/op")
}

// flowSink records the flow documents written to it.
type flowSink struct{ flows chan []byte }

func (s *flowSink) Write(b *pipeline.Batch) error {
	for i := range b.Flows() {
		s.flows <- bytes.Clone(b.Flow(i).Doc)
	}
	return nil
}

// TestLiveFlowTick: live (flushIdle), writeJobs ends an idle flow while
// no batch comes: a flow whose last packet is long past its timeout is
// written while its job's channel is still open.
func TestLiveFlowTick(t *testing.T) {
	fw := pipeline.NewFlowWriter(pipeline.FlowConfig{})
	cfg := &Config{Flows: fw, flushIdle: true, Warn: func(error) {}}
	b := pipeline.NewDocBatch(&pipeline.Source{ID: "live"})
	fp := b.NextFlowPacket()
	if !fp.Fill(&flow.Header{Src: []byte{10, 0, 0, 1}, Dst: []byte{10, 0, 0, 2}, Proto: 17, Transport: flow.Ports, SrcPort: 5000, DstPort: 53, Payload: 20}) {
		t.Fatal("Fill")
	}
	old := time.Now().Add(-time.Hour).UnixNano()
	b.AddFlowDoc(nil, pipeline.DocInfo{TS: old, Number: 1, OrigLen: 62, Flow: true})
	j := &job{out: make(chan *pipeline.Batch, 1), done: make(chan error, 1)}
	j.out <- b
	jobs := make(chan *job, 1)
	jobs <- j
	close(jobs)
	sink := &flowSink{flows: make(chan []byte, 4)}
	pool := sync.Pool{New: func() any { return pipeline.NewDocBatch(nil) }}
	var st pipeline.Stats
	done := make(chan error, 1)
	go func() { done <- writeJobs(cfg, jobs, sink, &st, &pool, func() {}) }()
	select {
	case doc := <-sink.flows:
		if !bytes.Contains(doc, []byte(`"end_reason":"idle"`)) {
			t.Errorf("flow document %s, want end_reason idle", doc)
		}
	case <-time.After(30 * time.Second): // a hang guard, not a measure
		t.Fatal("no flow document while the job was open")
	}
	close(j.out)
	j.done <- nil
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
