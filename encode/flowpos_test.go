package encode_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/espcap/espcap-fast/encode"
	"github.com/espcap/espcap-fast/flow"
)

// TestFlowPositions checks the pcap object of flow documents: the files
// once each, each packet as "file index:offset:time since start", and
// truncated when packets or files were left out; without allocating.
func TestFlowPositions(t *testing.T) {
	const start = int64(1_700_000_000_000_000_000)
	type pos struct {
		file    string
		off, dt int64
	}
	for _, tc := range []struct {
		name      string
		add       []pos
		files     int
		packets   int
		truncated bool
	}{
		{"none", nil, 0, 0, false},
		{"two files", []pos{{"/a.pcap", 24, 0}, {"/a.pcap", 100, 5}, {"/b \"q\".pcap", 24, 7}, {"/a.pcap", 200, -3}}, 2, 4, false},
		{"over the cap", func() (p []pos) {
			for i := range flow.MaxPositions + 5 {
				p = append(p, pos{"/a.pcap", int64(24 + 100*i), int64(i)})
			}
			return p
		}(), 1, flow.MaxPositions, true},
		{"too many files", func() (p []pos) {
			for i := range 70 {
				p = append(p, pos{fmt.Sprintf("/f%d.pcap", i), 24, int64(i)})
			}
			return p
		}(), 64, 64, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &flow.Record{Start: start, End: start + 10}
			copy(r.ID[:], strings.Repeat("A", len(r.ID)))
			for _, p := range tc.add {
				r.AddPosition(p.file, p.off, start+p.dt)
			}
			buf := make([]byte, 0, 1<<20)
			allocs := testing.AllocsPerRun(10, func() { buf = encode.AppendFlow(buf[:0], r) })
			if allocs != 0 {
				t.Errorf("%.1f allocations per document", allocs)
			}
			var doc struct {
				Pcap *struct {
					File      []string
					Packets   []string
					Truncated bool
				}
			}
			if err := json.Unmarshal(buf, &doc); err != nil {
				t.Fatalf("%v: %.300s", err, buf)
			}
			if tc.files == 0 {
				if doc.Pcap != nil {
					t.Fatalf("pcap object without positions: %.300s", buf)
				}
				return
			}
			p := doc.Pcap
			if p == nil || len(p.File) != tc.files || len(p.Packets) != tc.packets || p.Truncated != tc.truncated {
				t.Fatalf("pcap %+v, want %d files, %d packets, truncated %v", p, tc.files, tc.packets, tc.truncated)
			}
			for i, e := range p.Packets {
				var fi int
				var off, dt int64
				if _, err := fmt.Sscanf(strings.ReplaceAll(e, ":", " "), "%d %d %d", &fi, &off, &dt); err != nil {
					t.Fatalf("entry %q: %v", e, err)
				}
				want := tc.add[i]
				if p.File[fi] != want.file || off != want.off || dt != want.dt {
					t.Errorf("entry %d %q = %s %d %d, want %+v", i, e, p.File[fi], off, dt, want)
				}
			}
		})
	}
}
