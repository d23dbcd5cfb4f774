package capfile

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// benchInputs returns real captures to benchmark with: bulk traffic from the
// shared corpus when it is present, else dhcp.pcap repeated (as pcap and as
// pcapng).
func benchInputs(b *testing.B) (pcap, pcapng []byte) {
	dir := os.Getenv("ESPCAP_SHARED")
	for _, d := range []string{filepath.Join(dir, "pcaps"), dir, filepath.Join("..", "..", "shared", "pcaps")} {
		p, err1 := os.ReadFile(filepath.Join(d, "nDPI", "1kxun.pcap"))
		ng, err2 := os.ReadFile(filepath.Join(d, "nDPI", "alexa-app.pcapng"))
		if err1 == nil && err2 == nil {
			return p, ng
		}
	}
	return manyRecords(b, 1000)
}

// compressBytes compresses data with klauspost's gzip or zstd.
func compressBytes(b testing.TB, kind string, data []byte) []byte {
	var buf bytes.Buffer
	var w io.WriteCloser
	if kind == "gzip" {
		w = gzip.NewWriter(&buf)
	} else {
		var err error
		if w, err = zstd.NewWriter(&buf); err != nil {
			b.Fatal(err)
		}
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkNext measures Next on in-memory captures; one op is one record.
// It reports records/s and must show 0 allocs/op (re-opening the file at
// its end is not timed and not counted).
func BenchmarkNext(b *testing.B) {
	pcap, pcapng := benchInputs(b)
	inputs := []struct {
		name string
		data []byte
		raw  int
	}{
		{"pcap", pcap, len(pcap)},
		{"pcapng", pcapng, len(pcapng)},
		{"pcap-gzip", compressBytes(b, "gzip", pcap), len(pcap)},
		{"pcap-zstd", compressBytes(b, "zstd", pcap), len(pcap)},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			open := func() *Reader {
				r, err := NewReader(bytes.NewReader(in.data), in.name)
				if err != nil {
					b.Fatal(err)
				}
				return r
			}
			// Count records for the bytes/op figure.
			r := open()
			var rec Record
			n := 0
			for r.Next(&rec) == nil {
				n++
			}
			r.Close()
			b.SetBytes(int64(in.raw / n))
			r = open()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				err := r.Next(&rec)
				if err == io.EOF {
					b.StopTimer()
					r.Close()
					r = open()
					// The decompressors allocate their buffers lazily
					// on the first read: keep that out of the count.
					err = r.Next(&rec)
					b.StartTimer()
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			r.Close()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
