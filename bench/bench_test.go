// Package bench measures espcap-fast on recorded captures.
//
// By default the benchmarks read the bundled captures in testdata/pcaps; set
// ESPCAP_BENCH_PCAP to a large capture (bench/make-bench.sh builds one from
// the shared corpus) for steady numbers:
//
//	ESPCAP_BENCH_PCAP=bench/bench-2000000.pcap go test -bench . -benchmem ./bench/
//
// Each benchmark op is one packet; packets/s is reported as a metric.
package bench

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	espcapfast "github.com/espcap/espcap-fast"
	"github.com/espcap/espcap-fast/capfile"
	"github.com/espcap/espcap-fast/decode"
	"github.com/espcap/espcap-fast/encode"
	"github.com/espcap/espcap-fast/flow"
	"github.com/espcap/espcap-fast/pcapstore"
	"github.com/espcap/espcap-fast/pipeline"
)

type packet struct {
	data     []byte
	origLen  int
	ts       int64
	linkType uint16
}

var (
	loadOnce sync.Once
	packets  []packet
	files    []string
	loadErr  error
)

// maxPackets bounds how much of a large capture is held in memory.
const maxPackets = 500000

func load(b testing.TB) []packet {
	loadOnce.Do(func() {
		if p := os.Getenv("ESPCAP_BENCH_PCAP"); p != "" {
			files = []string{p}
		} else {
			files, loadErr = filepath.Glob("../testdata/pcaps/*")
		}
		var rec capfile.Record
		// packets lie back to back in one arena, as they do in the
		// pipeline's batches and in the live ring's blocks
		var arena []byte
		for _, f := range files {
			r, err := capfile.Open(f)
			if err != nil {
				continue
			}
			for len(packets) < maxPackets {
				if err := r.Next(&rec); err != nil {
					break
				}
				if cap(arena)-len(arena) < len(rec.Data) {
					arena = make([]byte, 0, max(64<<20, len(rec.Data)))
				}
				at := len(arena)
				arena = append(arena, rec.Data...)
				packets = append(packets, packet{arena[at:len(arena):len(arena)], rec.OrigLen, rec.Timestamp, rec.LinkType})
			}
			r.Close()
		}
	})
	if loadErr != nil || len(packets) == 0 {
		b.Fatalf("no packets to benchmark: %v", loadErr)
	}
	span := packets[len(packets)-1].ts - packets[0].ts
	if span < 0 {
		span = -span
	}
	replayShift = span + int64(time.Hour)
	return packets
}

func protocols(b testing.TB) *encode.Protocols {
	p, err := encode.ParseProtocols(espcapfast.ProtocolsList)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// cpuTime returns the CPU time (user+system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// clock is where a measurement started: wall clock and CPU time.
type clock struct {
	wall time.Time
	cpu  time.Duration
}

func startClock() clock { return clock{time.Now(), cpuTime()} }

// report gives packets/s (wall clock) and packets per CPU-second, which
// stays meaningful when other processes share the machine.
func report(b *testing.B, c clock) {
	b.ReportMetric(float64(b.N)/time.Since(c.wall).Seconds(), "packets/s")
	if cpu := cpuTime() - c.cpu; cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "packets/cpu-s")
	}
}

// BenchmarkDecode decodes packets on one goroutine.
func BenchmarkDecode(b *testing.B) {
	pk := load(b)
	d := decode.NewDecoder()
	b.ReportAllocs()
	b.ResetTimer()
	start := startClock()
	for i, j := 0, 0; i < b.N; i++ {
		p := &pk[j]
		if j++; j == len(pk) {
			j = 0
		}
		decode.Prefetch(pk[j].data) // the next frame, as the pipeline's workers do
		d.Decode(p.data, p.linkType, p.origLen)
	}
	report(b, start)
}

// BenchmarkDecodeEncode decodes packets and writes their documents, on one
// goroutine: the per-core cost of the hot path.
func BenchmarkDecodeEncode(b *testing.B) {
	benchDecodeEncode(b, "")
}

// BenchmarkDecodeEncodePosition is BenchmarkDecodeEncode with pcap.file and
// pcap.offset in every document, as file imports write them.
func BenchmarkDecodeEncodePosition(b *testing.B) {
	benchDecodeEncode(b, "/captures/bench.pcap")
}

func benchDecodeEncode(b *testing.B, pos string) {
	pk := load(b)
	d := decode.NewDecoder()
	e := encode.NewEncoder(protocols(b))
	m := encode.Meta{FileName: "bench.pcap", FileDate: "2026-11-27T00:00:00+0000", PcapFile: pos}
	buf := make([]byte, 0, 1<<20)
	b.ReportAllocs()
	b.ResetTimer()
	start := startClock()
	total := 0
	for i, j := 0, 0; i < b.N; i++ {
		p := &pk[j]
		if j++; j == len(pk) {
			j = 0
		}
		decode.Prefetch(pk[j].data)
		m.Timestamp, m.Number, m.CapLen, m.OrigLen = p.ts, uint64(i+1), len(p.data), p.origLen
		m.PcapOffset = 24 + 100*int64(i)
		buf = e.Encode(buf[:0], &m, d.Decode(p.data, p.linkType, p.origLen))
		total += len(buf)
	}
	b.SetBytes(int64(total / b.N)) // the average document
	report(b, start)
}

// BenchmarkDecodeEncodeParallel runs the hot path of BenchmarkDecodeEncode
// on every CPU at once, each goroutine with its own decoder and encoder
// and its own place in the capture, as the pipeline's workers are: the
// per-core figure with all cores busy (memory bandwidth and caches shared).
func BenchmarkDecodeEncodeParallel(b *testing.B) {
	pk := load(b)
	protos := protocols(b)
	// each goroutine's decoder, encoder and buffer, made before the clock
	// starts
	type worker struct {
		d   *decode.Decoder
		e   *encode.Encoder
		buf []byte
	}
	workers := make([]worker, runtime.GOMAXPROCS(0))
	for i := range workers {
		workers[i] = worker{decode.NewDecoder(), encode.NewEncoder(protos), make([]byte, 0, 1<<20)}
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	start := startClock()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1) - 1)
		d, e, buf := workers[i].d, workers[i].e, workers[i].buf
		m := encode.Meta{FileName: "bench.pcap", FileDate: "2026-11-27T00:00:00+0000"}
		j := i * len(pk) / len(workers)
		n := uint64(0)
		for pb.Next() {
			p := &pk[j]
			if j++; j == len(pk) {
				j = 0
			}
			decode.Prefetch(pk[j].data)
			n++
			m.Timestamp, m.Number, m.CapLen, m.OrigLen = p.ts, n, len(p.data), p.origLen
			buf = e.Encode(buf[:0], &m, d.Decode(p.data, p.linkType, p.origLen))
		}
	})
	report(b, start)
}

// discard is a sink that drops documents.
type discard struct{ bytes int64 }

func (d *discard) Write(b *pipeline.Batch) error {
	d.bytes += int64(len(b.Out()))
	return nil
}

// BenchmarkPipeline runs the whole offline pipeline (batching, workers,
// ordering) from memory with 1 worker and with one per CPU.
//
// The packets go by reference (Feeder.AddShared), as those of a capture
// file read through a mapping; "+copy" copies them into the batches, as
// standard input, a FIFO or a compressed file does.
func BenchmarkPipeline(b *testing.B) {
	pk := load(b)
	protos := protocols(b)
	for _, workers := range []int{1, runtime.NumCPU()} {
		for _, copied := range []bool{false, true} {
			name := "workers=" + strconv.Itoa(workers)
			if copied {
				name += "+copy"
			}
			b.Run(name, func(b *testing.B) {
				runPipelineAt(b, pipeline.Config{Workers: workers, Protocols: protos}, pk,
					func(i int) int64 { return pk[i%len(pk)].ts }, "", copied)
			})
		}
	}
}

// BenchmarkPipelineWrite is BenchmarkPipeline with the pcap store on
// (--write, files of 256 MiB, at most 1 GiB kept): the difference in
// packets/cpu-s is the store's cost, the kernel's page-cache writes
// included.
func BenchmarkPipelineWrite(b *testing.B) {
	pk := load(b)
	protos := protocols(b)
	for _, workers := range []int{1, runtime.NumCPU()} {
		b.Run("workers="+strconv.Itoa(workers), func(b *testing.B) {
			st, err := pcapstore.Open(pcapstore.Config{Dir: b.TempDir(), FileSize: 256 << 20, MaxBytes: 1 << 30})
			if err != nil {
				b.Fatal(err)
			}
			runPipeline(b, pipeline.Config{Workers: workers, Protocols: protos, Store: st}, pk,
				func(i int) int64 { return pk[i%len(pk)].ts })
			if err := st.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// runPipeline runs the offline pipeline over b.N packets of pk from memory,
// packet i at time ts(i), into a discarding sink, and reports the rates.
func runPipeline(b *testing.B, cfg pipeline.Config, pk []packet, ts func(i int) int64) *pipeline.Runner {
	return runPipelineAt(b, cfg, pk, ts, "", false)
}

// runPipelineAt is runPipeline with packet positions in file pos (""
// none): packet i at offset 24+100*i, as a file import gives them. The
// packets go by reference (their arena outlives the run, as a mapped
// file outlives its batches), or copied into the batches.
func runPipelineAt(b *testing.B, cfg pipeline.Config, pk []packet, ts func(i int) int64, pos string, copied bool) *pipeline.Runner {
	r, err := pipeline.New(cfg, &discard{})
	if err != nil {
		b.Fatal(err)
	}
	src := &pipeline.Source{Name: "bench.pcap"}
	b.ReportAllocs()
	b.ResetTimer()
	start := startClock()
	err = r.Run(context.Background(), func(f *pipeline.Feeder) error {
		if err := f.Begin(src); err != nil {
			return err
		}
		var pin *pipeline.Pin // nil: AddShared copies
		if !copied {
			pin = pipeline.NewPin(nil)
			defer pin.Unpin()
		}
		for i := 0; i < b.N; i++ {
			p := &pk[i%len(pk)]
			if pos != "" {
				f.SetPosition(pos, 24+100*int64(i))
			}
			if err := f.AddShared(pin, p.data, p.origLen, ts(i), uint64(i+1), p.linkType, 0, false); err != nil {
				return err
			}
		}
		return f.End()
	})
	if err != nil {
		b.Fatal(err)
	}
	report(b, start)
	return r
}

// BenchmarkReadFile reads the capture file(s) with capfile alone.
func BenchmarkReadFile(b *testing.B) {
	load(b)
	var rec capfile.Record
	b.ReportAllocs()
	b.ResetTimer()
	start := startClock()
	n := 0
	for n < b.N {
		for _, f := range files {
			r, err := capfile.Open(f)
			if err != nil {
				continue
			}
			for n < b.N {
				if err := r.Next(&rec); err != nil {
					if err != io.EOF {
						b.Logf("%s: %v", f, err)
					}
					break
				}
				n++
			}
			r.Close()
		}
	}
	report(b, start)
}

// replayTS returns packet j's time on pass round through the capture: each
// pass is shifted past the one before it and past every idle timeout, so
// replaying the capture looks like new traffic to the flow table.
func replayTS(pk []packet, j, round int) int64 {
	return pk[j].ts + int64(round)*replayShift
}

// replayShift is how far replayTS moves each pass through the capture: its
// span and an hour (computed once, so that the benchmarks' loops do not
// count it per packet).
var replayShift int64

// BenchmarkDecodeFlow decodes packets and tracks their flows (flow.Extract
// and Table.Observe) on one goroutine; its ns/op minus BenchmarkDecode's is
// what flow tracking adds per packet.
func BenchmarkDecodeFlow(b *testing.B) {
	pk := load(b)
	d := decode.NewDecoder()
	var flows atomic.Int64
	tab := flow.NewTable(flow.Config{Emit: func(*flow.Record) { flows.Add(1) }})
	var fp flow.Packet
	b.ReportAllocs()
	b.ResetTimer()
	start := startClock()
	for i, j, round := 0, 0, 0; i < b.N; i++ {
		p := &pk[j]
		ts := replayTS(pk, j, round)
		if j++; j == len(pk) {
			j, round = 0, round+1
		}
		decode.Prefetch(pk[j].data)
		if flow.Extract(d.Decode(p.data, p.linkType, p.origLen), &fp) {
			tab.Observe(&fp, ts, p.origLen)
		}
	}
	report(b, start)
	st := tab.Stats()
	b.ReportMetric(float64(st.Flows)/float64(b.N), "flows/packet")
}

// BenchmarkDecodeFlowBatch is BenchmarkDecodeFlow shaped as the pipeline
// runs it, on one goroutine: a batch of packets is decoded and its flow
// packets extracted (the workers' part), then the table observes them in
// order, prefetching the index slots and records of the packets ahead (the
// writer's part). Its ns/op minus BenchmarkDecode's is what flow tracking
// adds per packet in the pipeline.
func BenchmarkDecodeFlowBatch(b *testing.B) {
	for _, pf := range []bool{true, false} {
		b.Run("prefetch="+strconv.FormatBool(pf), func(b *testing.B) { benchDecodeFlowBatch(b, pf) })
	}
}

func benchDecodeFlowBatch(b *testing.B, prefetch bool) {
	pk := load(b)
	d := decode.NewDecoder()
	var flows atomic.Int64
	tab := flow.NewTable(flow.Config{Emit: func(*flow.Record) { flows.Add(1) }})
	const batch = pipeline.BatchPackets
	fps := make([]flow.Packet, batch)
	has := make([]bool, batch)
	tss := make([]int64, batch)
	lens := make([]int, batch)
	b.ReportAllocs()
	b.ResetTimer()
	start := startClock()
	for i, j, round := 0, 0, 0; i < b.N; {
		n := min(batch, b.N-i)
		for k := range n {
			p := &pk[j]
			tss[k], lens[k] = replayTS(pk, j, round), p.origLen
			if j++; j == len(pk) {
				j, round = 0, round+1
			}
			decode.Prefetch(pk[j].data)
			has[k] = flow.Extract(d.Decode(p.data, p.linkType, p.origLen), &fps[k])
		}
		for k := range min(8, n) {
			if prefetch && has[k] {
				tab.Prefetch(&fps[k])
			}
		}
		for k := range n {
			if prefetch && k+8 < n && has[k+8] {
				tab.Prefetch(&fps[k+8])
			}
			if prefetch && k+4 < n && has[k+4] {
				tab.PrefetchRecord(&fps[k+4])
			}
			if has[k] {
				tab.Observe(&fps[k], tss[k], lens[k])
			}
		}
		i += n
	}
	report(b, start)
	st := tab.Stats()
	b.ReportMetric(float64(st.Flows)/float64(b.N), "flows/packet")
}

// BenchmarkFlowObserve is Table.Observe alone, on keys extracted before the
// clock starts.
func BenchmarkFlowObserve(b *testing.B) {
	pk := load(b)
	d := decode.NewDecoder()
	fps := make([]flow.Packet, 0, len(pk))
	idx := make([]int, 0, len(pk))
	for j := range pk {
		var fp flow.Packet
		if flow.Extract(d.Decode(pk[j].data, pk[j].linkType, pk[j].origLen), &fp) {
			fps = append(fps, fp)
			idx = append(idx, j)
		}
	}
	tab := flow.NewTable(flow.Config{})
	b.ReportAllocs()
	b.ResetTimer()
	for i, j, round := 0, 0, 0; i < b.N; i++ {
		k := idx[j]
		tab.Observe(&fps[j], replayTS(pk, k, round), pk[k].origLen)
		if j++; j == len(fps) {
			j, round = 0, round+1
		}
	}
}

// BenchmarkPipelineFlows runs the offline pipeline with --records flows (no
// packet documents) and --records both; the packets go by reference, or
// copied for "+copy".
func BenchmarkPipelineFlows(b *testing.B) {
	pk := load(b)
	protos := protocols(b)
	for _, mode := range []string{"flows", "flows+copy", "both", "both+positions"} {
		b.Run("records="+mode, func(b *testing.B) {
			fc := &pipeline.FlowConfig{Packets: !strings.HasPrefix(mode, "flows")}
			pos := ""
			if mode == "both+positions" {
				pos = "/captures/bench.pcap" // pcap.file and pcap.offset in packet documents, positions in flows
			}
			r := runPipelineAt(b, pipeline.Config{Workers: runtime.NumCPU(), Protocols: protos, Flows: fc}, pk,
				func(i int) int64 { return replayTS(pk, i%len(pk), i/len(pk)) }, pos, strings.HasSuffix(mode, "+copy"))
			flows, evicted, _ := r.FlowStats()
			b.ReportMetric(float64(flows), "flowdocs")
			b.ReportMetric(float64(evicted), "evicted")
		})
	}
}

// flowHeaderAhead is how many packets ahead the flow fast path's
// benchmarks prefetch: the header parser takes a few tens of ns, less
// than a cache miss, so prefetching only the next frame (as
// BenchmarkDecode does for the full decoder) leaves it waiting on memory.
const flowHeaderAhead = 8

// BenchmarkFlowHeader is the flow fast path's header parser alone:
// decode.ParseFlowHeader and, for a plain packet, flow.FromHeader, on
// every packet (a packet that is not plain costs its failed parse only).
// The plain fraction is reported as a metric.
func BenchmarkFlowHeader(b *testing.B) { benchFlowHeader(b, headerOnly) }

// BenchmarkFlowHeaderFallback is the flow fast path as --records flows
// would run it before Table.Observe: the header parser, and the full
// decoder and flow.Extract for the packets it does not call plain.
func BenchmarkFlowHeaderFallback(b *testing.B) { benchFlowHeader(b, headerFallback) }

// BenchmarkDecodeExtract is what the flow fast path replaces: the full
// decoder and flow.Extract on every packet.
func BenchmarkDecodeExtract(b *testing.B) { benchFlowHeader(b, decodeAll) }

// How benchFlowHeader makes a packet's flow.Packet.
const (
	headerOnly     = iota // ParseFlowHeader and FromHeader; nothing for the others
	headerFallback        // ParseFlowHeader and FromHeader, else Decode and Extract
	decodeAll             // Decode and Extract, every packet
)

func benchFlowHeader(b *testing.B, mode int) {
	pk := load(b)
	d := decode.NewDecoder()
	var h decode.FlowHeader
	var fp flow.Packet
	ahead := flowHeaderAhead
	if mode == decodeAll {
		ahead = 0 // the next frame, as BenchmarkDecode
	}
	plain := 0
	b.ReportAllocs()
	b.ResetTimer()
	start := startClock()
	// j is the packet, k the one prefetched (ahead of the next)
	for i, j, k := 0, 0, ahead%len(pk); i < b.N; i++ {
		if k++; k == len(pk) {
			k = 0
		}
		decode.Prefetch(pk[k].data)
		p := &pk[j]
		if j++; j == len(pk) {
			j = 0
		}
		if mode != decodeAll && decode.ParseFlowHeader(p.data, p.linkType, &h) {
			flow.FromHeader(&h, &fp)
			plain++
		} else if mode != headerOnly {
			flow.Extract(d.Decode(p.data, p.linkType, p.origLen), &fp)
		}
	}
	report(b, start)
	if mode != decodeAll {
		b.ReportMetric(float64(plain)/float64(b.N), "plain/packet")
	}
}

// BenchmarkAppendFlow encodes flow documents (encode.AppendFlow): one op
// is one document, of the flows of the benchmark capture.
func BenchmarkAppendFlow(b *testing.B) {
	pk := load(b)
	d := decode.NewDecoder()
	var recs []flow.Record
	tab := flow.NewTable(flow.Config{Emit: func(r *flow.Record) { recs = append(recs, *r) }})
	var fp flow.Packet
	for j := range pk {
		if flow.Extract(d.Decode(pk[j].data, pk[j].linkType, pk[j].origLen), &fp) {
			tab.Observe(&fp, pk[j].ts, pk[j].origLen)
		}
	}
	tab.Flush()
	buf := make([]byte, 0, 1<<16)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := range b.N {
		buf = encode.AppendFlow(buf[:0], &recs[i%len(recs)])
		n += len(buf)
	}
	b.ReportMetric(float64(n)/float64(b.N), "bytes/doc")
}

// BenchmarkTrackingCost measures what flow tracking (flow.Extract and
// Table.Observe) adds per packet in one process: it decodes the same run of
// trackChunk packets twice in a row, without and with tracking, and reports
// the median and the 10th percentile of the differences of the pairs
// (added-ns/packet, added-ns/packet-p10). On a shared VM whose speed drifts
// by tens of percent, the difference of two separate benchmarks' ns/op
// (BenchmarkDecodeFlow minus BenchmarkDecode) mostly measures the drift;
// the pairs, a few milliseconds apart, do not. One op is one packet
// tracked.
func BenchmarkTrackingCost(b *testing.B) {
	pk := load(b)
	d := decode.NewDecoder()
	tab := flow.NewTable(flow.Config{})
	var fp flow.Packet
	decodeOnly := func(j, n int) time.Duration {
		t0 := time.Now()
		for k := j; k < j+n; k++ {
			if k+1 < len(pk) {
				decode.Prefetch(pk[k+1].data)
			}
			d.Decode(pk[k].data, pk[k].linkType, pk[k].origLen)
		}
		return time.Since(t0)
	}
	track := func(j, n, round int) time.Duration {
		t0 := time.Now()
		for k := j; k < j+n; k++ {
			if k+1 < len(pk) {
				decode.Prefetch(pk[k+1].data)
			}
			if flow.Extract(d.Decode(pk[k].data, pk[k].linkType, pk[k].origLen), &fp) {
				tab.Observe(&fp, replayTS(pk, k, round), pk[k].origLen)
			}
		}
		return time.Since(t0)
	}
	var diffs []float64
	b.ReportAllocs()
	b.ResetTimer()
	for done, j, round := 0, 0, 0; done < b.N; {
		n := min(trackChunk, len(pk)-j, b.N-done)
		// which loop runs first alternates: the second finds the
		// frames the first loaded in the cache
		var without, with time.Duration
		if len(diffs)%2 == 0 {
			without = decodeOnly(j, n)
			with = track(j, n, round)
		} else {
			with = track(j, n, round)
			without = decodeOnly(j, n)
		}
		diffs = append(diffs, float64(with-without)/float64(n))
		done += n
		if j += n; j == len(pk) {
			j, round = 0, round+1
		}
	}
	b.StopTimer()
	slices.Sort(diffs)
	b.ReportMetric(diffs[len(diffs)/2], "added-ns/packet")
	b.ReportMetric(diffs[len(diffs)/10], "added-ns/packet-p10")
}

// trackChunk is the packets of one pair of BenchmarkTrackingCost.
const trackChunk = 10000
