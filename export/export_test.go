package export

import (
	"bytes"
	"cmp"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/espcap/espcap-fast/capfile"
)

type pkt struct {
	ts   int64
	orig int
	link uint16
	data string
}

func read(t *testing.T, name string, src io.Reader) ([]pkt, []int64) {
	t.Helper()
	r, err := capfile.NewReader(src, name)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []pkt
	var offs []int64
	var rec capfile.Record
	for {
		err := r.Next(&rec)
		if err == io.EOF {
			return out, offs
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pkt{rec.Timestamp, rec.OrigLen, rec.LinkType, string(rec.Data)})
		offs = append(offs, rec.Offset)
	}
}

func readFile(t *testing.T, path string) ([]pkt, []int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return read(t, path, f)
}

// TestRun exports every packet of pcap and pcapng files, positions given in
// reverse and repeated, with one file open at a time (files interleave in
// time, so readers are closed and opened again, and a pcapng file is read
// again from its start): the packets come out once each, in time order, as
// pcap for one link type and pcapng for mixed ones.
func TestRun(t *testing.T) {
	dir := "../testdata/pcaps/"
	for _, tc := range []struct {
		files  []string
		format string
	}{
		{[]string{"arkime_dns-udp.pcap", "arkime_bigendian.pcap"}, "pcap"},
		{[]string{"seed_test_dns.pcap", "wireshark_many_interfaces-1.pcapng"}, "pcapng"},
		{[]string{"tcpdump_LINKTYPE_IPV6.pcap", "arkime_dns-udp.pcap"}, "pcapng"},
	} {
		var pos Positions
		var want []pkt
		for _, f := range tc.files {
			abs, _ := filepath.Abs(dir + f)
			pkts, offs := readFile(t, abs)
			want = append(want, pkts...)
			for i := len(pkts) - 1; i >= 0; i-- {
				pos.Add(abs, offs[i], pkts[i].ts)
				pos.Add(abs, offs[i], pkts[i].ts)
			}
		}
		var out bytes.Buffer
		res, err := Run(context.Background(), &pos, &out, Options{MaxOpen: 1})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Complete() || res.Written != uint64(len(want)) || res.Format != tc.format {
			t.Fatalf("%v: %+v, want %d packets as %s", tc.files, res, len(want), tc.format)
		}
		got, _ := read(t, "out", &out)
		if !slices.IsSortedFunc(got, func(a, b pkt) int { return cmp.Compare(a.ts, b.ts) }) {
			t.Errorf("%v: not in time order", tc.files)
		}
		gs, ws := slices.Clone(got), want
		for _, p := range [][]pkt{gs, ws} {
			slices.SortFunc(p, func(a, b pkt) int { return cmp.Or(cmp.Compare(a.ts, b.ts), strings.Compare(a.data, b.data)) })
		}
		if !slices.Equal(gs, ws) {
			t.Errorf("%v: the packets written differ from the files'", tc.files)
		}
	}
}

// TestRunProblems: a missing file, an offset where no record starts, a
// timestamp that does not match, a BPF filter.
func TestRunProblems(t *testing.T) {
	abs, _ := filepath.Abs("../testdata/pcaps/arkime_dns-udp.pcap")
	ng, _ := filepath.Abs("../testdata/pcaps/chrissanders_icmp_echo.pcapng")
	pkts, offs := readFile(t, abs)
	ngPkts, ngOffs := readFile(t, ng)
	var pos Positions
	pos.Add("/nonexistent/x.pcap", 24, 1)
	pos.Add(abs, offs[0], pkts[0].ts+1) // another time
	pos.Add(abs, offs[1]+1, pkts[1].ts) // not a record
	pos.Add(abs, offs[2], pkts[2].ts)   // fine
	pos.Add(ng, ngOffs[1]+4, ngPkts[1].ts)
	pos.Add(ng, ngOffs[2], ngPkts[2].ts)
	var out bytes.Buffer
	res, err := Run(context.Background(), &pos, &out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 2 || res.Missing["/nonexistent/x.pcap"] != 1 || res.Changed[abs] != 2 || res.Changed[ng] != 1 || res.Complete() {
		t.Fatalf("%+v", res)
	}
	// a filter: only the pcapng's ICMP packet passes "icmp"
	pos = Positions{}
	pos.Add(abs, offs[2], pkts[2].ts)
	pos.Add(ng, ngOffs[2], ngPkts[2].ts)
	out.Reset()
	if res, err = Run(context.Background(), &pos, &out, Options{BPF: "icmp"}); err != nil {
		t.Fatal(err)
	}
	if res.Written != 1 || res.Filtered != 1 || !res.Complete() {
		t.Fatalf("with a filter: %+v", res)
	}
}
