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

	espcapfast "github.com/espcap/espcap-fast"
	"github.com/espcap/espcap-fast/encode"
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
