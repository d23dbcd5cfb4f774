package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	espcapfast "github.com/espcap/espcap-fast"
	"github.com/espcap/espcap-fast/capfile"
	"github.com/espcap/espcap-fast/encode"
	"github.com/espcap/espcap-fast/internal/pcapngtest"
)

// countSink counts documents and checks that each names its interface
// "ifN", where N+1 is the document's frame number.
type countSink struct {
	docs int
	bad  int
}

func (s *countSink) Write(b *Batch) error {
	for i := range b.Len() {
		doc, _, number := b.Doc(i)
		if doc == nil {
			continue
		}
		s.docs++
		want := fmt.Sprintf(`"interface":{"name":"if%d"}`, number-1)
		if !bytes.Contains(doc, []byte(want)) {
			s.bad++
		}
	}
	return nil
}

// TestAlternatingInterfaces reads a pcapng file where every packet comes
// after a new Interface Description Block: every document must name its
// interface, and the interface table must grow by appending: the bytes
// allocated per interface stay constant, where copying the whole table at
// each new interface allocated n²/2 names (134 MB for 4096 interfaces).
func TestAlternatingInterfaces(t *testing.T) {
	const n = 4000
	file := pcapngtest.Section()
	pkt := bytes.Repeat([]byte{0xff}, 60)
	for i := range n {
		file = append(file, pcapngtest.Interface(1, 0, pcapngtest.Option(pcapngtest.OptName, fmt.Appendf(nil, "if%d", i)))...)
		file = append(file, pcapngtest.Packet(uint32(i), uint64(i), pkt, len(pkt))...)
	}
	path := filepath.Join(t.TempDir(), "alternating.pcapng")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	protos, err := encode.ParseProtocols(espcapfast.ProtocolsList)
	if err != nil {
		t.Fatal(err)
	}
	sink := &countSink{}
	r, err := New(Config{Workers: 1, Protocols: protos}, sink)
	if err != nil {
		t.Fatal(err)
	}
	in := &FileInput{Paths: []string{path}}
	var warnings []error
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err = r.Run(context.Background(), func(f *Feeder) error {
		return in.Read(f, func(err error) { warnings = append(warnings, err) })
	})
	runtime.ReadMemStats(&after)
	if err != nil || len(warnings) != 0 {
		t.Fatalf("run: %v, warnings %v", err, warnings)
	}
	if sink.docs != n || sink.bad != 0 {
		t.Errorf("%d documents, %d without their interface name; want %d, 0", sink.docs, sink.bad, n)
	}
	// The reader's buffer (the file is smaller than 1 MiB) and the run's
	// goroutines are a fixed cost; each interface then costs its Source,
	// its name and its share of the table's amortised growth.
	const fixed, perIface = 4 << 20, 512
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d interfaces: %.2f MB allocated", n, float64(alloc)/(1<<20))
	if alloc > fixed+perIface*n {
		t.Errorf("reading %d alternating interfaces allocated %.1f MB, want at most %.1f MB", n, float64(alloc)/(1<<20), float64(fixed+perIface*n)/(1<<20))
	}
}

// TestInterfaceNamesUpdate follows the interface table through the reader's
// lists: growth within a section, a new section, interfaces without names.
func TestInterfaceNamesUpdate(t *testing.T) {
	ifc := func(section int, names ...string) []capfile.Interface {
		out := make([]capfile.Interface, len(names))
		for i, n := range names {
			out[i] = capfile.Interface{Name: n, Section: section}
		}
		return out
	}
	var tab ifaceNames
	steps := []struct {
		ifs  []capfile.Interface
		want []string
	}{
		{ifc(0, ""), nil},
		{ifc(0, "", "eth1"), []string{"", "eth1"}},
		{ifc(0, "", "eth1", "eth2"), []string{"", "eth1", "eth2"}},
		{ifc(1, "wlan0"), []string{"wlan0"}},   // new section, fewer interfaces
		{ifc(2, "a", "b"), []string{"a", "b"}}, // new section, more interfaces
		{ifc(3, "", "", ""), nil},              // new section without names
		{ifc(3, "", "", "", "lo"), []string{"", "", "", "lo"}},
	}
	var kept [][]string
	for i, s := range steps {
		got := tab.update(s.ifs)
		if !slices.Equal(got, s.want) || (got == nil) != (s.want == nil) {
			t.Errorf("step %d: %q, want %q", i, got, s.want)
		}
		kept = append(kept, got)
	}
	// tables handed out earlier are never changed afterwards
	for i, s := range steps {
		if !slices.Equal(kept[i], s.want) {
			t.Errorf("step %d changed later: %q, want %q", i, kept[i], s.want)
		}
	}
}

// TestTimestampSaturatedMalformed: packets whose timestamp plus if_tsoffset
// does not fit are kept, with the saturated time, and tagged malformed with
// the reason; the others are not.
func TestTimestampSaturatedMalformed(t *testing.T) {
	const maxSec = math.MaxInt64 / 1_000_000_000
	pkt := bytes.Repeat([]byte{0xff}, 60)
	file := pcapngtest.Section()
	file = append(file, pcapngtest.Interface(1, 0, pcapngtest.TSOffset(0))...)
	file = append(file, pcapngtest.Interface(1, 0, pcapngtest.TSOffset(2*maxSec))...)
	file = append(file, pcapngtest.Interface(1, 0, pcapngtest.TSOffset(-2*maxSec))...)
	for i := range 3 {
		file = append(file, pcapngtest.Packet(uint32(i), 1_700_000_000_000_000, pkt, len(pkt))...)
	}
	path := filepath.Join(t.TempDir(), "tsoffset.pcapng")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	sink := &collectSink{}
	r, err := runFiles(t, context.Background(), Config{Workers: 1}, sink, []string{path})
	if err != nil || sink.docs != 3 {
		t.Fatalf("%d documents, %v", sink.docs, err)
	}
	lines := strings.Split(strings.TrimSuffix(sink.out.String(), "\n"), "\n")
	want := []struct {
		ts        string
		malformed bool
	}{
		{`"@timestamp":"2023-11-14T22:13:20`, false},
		{`"@timestamp":"2262-04-11T23:47:16.854775807Z"`, true},
		{`"@timestamp":"1677-09-21T00:12:43.145224192Z"`, true},
	}
	for i, w := range want {
		tagged := strings.Contains(lines[i], `"malformed"`) && strings.Contains(lines[i], "if_tsoffset out of range")
		if !strings.Contains(lines[i], w.ts) || tagged != w.malformed {
			t.Errorf("document %d: %.400s\nwant %s, malformed %v", i, lines[i], w.ts, w.malformed)
		}
	}
	if m := r.Stats.Malformed.Load(); m != 2 {
		t.Errorf("%d documents counted malformed, want 2", m)
	}
}
