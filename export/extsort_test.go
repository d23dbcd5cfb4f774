package export

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// TestSorter sorts random positions (with repeats and equal times) with
// runs of a few entries and a small fan-in, so that runs are spilled,
// merged into longer runs and merged again: the output is the in-memory
// sort's, twice in a row, and no file is left in the directory.
func TestSorter(t *testing.T) {
	for _, tc := range []struct {
		n, runSize, fanIn int
	}{
		{0, 4, 2}, {1, 4, 2}, {4, 4, 2}, {5, 4, 2}, {100, 7, 3}, {1000, 7, 2}, {1000, 1, 64}, {1000, 5000, 2}, {3000, 64, 4},
	} {
		dir := t.TempDir()
		rng := rand.New(rand.NewPCG(uint64(tc.n), uint64(tc.runSize)))
		s := newSorter(comparePos, posCodec, tc.runSize, dir)
		s.fanIn = tc.fanIn
		var want []Pos
		for range tc.n {
			p := Pos{TS: rng.Int64N(50), File: rng.Uint32N(3), Off: rng.Int64N(20)}
			if rng.IntN(4) == 0 && len(want) > 0 {
				p = want[rng.IntN(len(want))]
			}
			want = append(want, p)
			if err := s.add(p); err != nil {
				t.Fatal(err)
			}
			if len(s.buf) >= tc.runSize {
				t.Fatalf("%+v: %d entries held in memory", tc, len(s.buf))
			}
		}
		slices.SortFunc(want, comparePos)
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Errorf("%+v: %d files in the directory while sorting: the runs' file is not unlinked", tc, len(left))
		}
		for pass := range 2 {
			m, err := s.merged()
			if err != nil {
				t.Fatal(err)
			}
			var got []Pos
			for {
				p, ok, err := m.next()
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					break
				}
				got = append(got, p)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%+v pass %d: %d entries, not in the order of the in-memory sort", tc, pass, len(got))
			}
		}
		if spilled := tc.n >= tc.runSize; spilled != (s.f != nil) || (spilled && len(s.runs) > tc.fanIn) {
			t.Errorf("%+v: spilled %v, %d runs left to merge (fan-in %d)", tc, s.f != nil, len(s.runs), tc.fanIn)
		}
		s.close()
		if err := s.add(Pos{}); err == nil {
			t.Errorf("%+v: add after reading succeeded", tc)
		}
	}
}

// TestRunRunSizes exports the same positions (repeated, in reverse, from
// pcap and pcapng files) with positions sorted in memory and with runs of
// 1 and 3 positions (many runs, merged in two levels): the outputs are the
// same bytes.
func TestRunRunSizes(t *testing.T) {
	dir := "../testdata/pcaps/"
	for _, files := range [][]string{
		{"seed_test_http.pcap", "gopacket_test_loopback.pcap", "arkime_dns-udp.pcap"},
		{"seed_test_dns.pcap", "wireshark_many_interfaces-1.pcapng", "chrissanders_icmp_echo.pcapng"},
	} {
		var ref []byte
		for _, runSize := range []int{DefaultRunSize, 1, 3} {
			pos := Positions{RunSize: runSize, TempDir: t.TempDir()}
			for _, f := range files {
				abs, _ := filepath.Abs(dir + f)
				pkts, offs := readFile(t, abs)
				for i := len(pkts) - 1; i >= 0; i-- {
					for range 2 {
						if err := pos.Add(abs, offs[i], pkts[i].ts); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			var out bytes.Buffer
			res, err := Run(context.Background(), &pos, &out, Options{MaxOpen: 2, TempDir: pos.TempDir})
			added := pos.Added()
			pos.Close()
			if err != nil {
				t.Fatal(err)
			}
			if !res.Complete() || res.Found != added/2 || res.Written != res.Found {
				t.Fatalf("%v run size %d: %+v", files, runSize, res)
			}
			if left, _ := os.ReadDir(pos.TempDir); len(left) != 0 {
				t.Errorf("%v run size %d: %d files left in the temporary directory", files, runSize, len(left))
			}
			if ref == nil {
				ref = out.Bytes()
				if res.Written < 20 {
					t.Fatalf("%v: only %d packets", files, res.Written)
				}
				continue
			}
			if !bytes.Equal(out.Bytes(), ref) {
				t.Errorf("%v: run size %d: the output differs from the in-memory sort's", files, runSize)
			}
		}
	}
}

// BenchmarkSorter: the cost per position of sorting 4 M random positions
// (add and read back in order), in memory (one run) and in runs of 1 M and
// 256 K spilled to the disk and merged.
func BenchmarkSorter(b *testing.B) {
	const n = 4 << 20
	for _, runSize := range []int{n, DefaultRunSize, DefaultRunSize / 4} {
		b.Run(strconv.Itoa(runSize), func(b *testing.B) {
			for range b.N {
				rng := rand.New(rand.NewPCG(1, 2))
				s := newSorter(comparePos, posCodec, runSize, b.TempDir())
				for range n {
					if err := s.add(Pos{TS: rng.Int64N(1e15), File: rng.Uint32N(8), Off: rng.Int64N(1e9)}); err != nil {
						b.Fatal(err)
					}
				}
				m, err := s.merged()
				if err != nil {
					b.Fatal(err)
				}
				for {
					_, ok, err := m.next()
					if err != nil {
						b.Fatal(err)
					}
					if !ok {
						break
					}
				}
				s.close()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/position")
		})
	}
}
