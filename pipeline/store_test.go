package pipeline

import (
	"bytes"
	"context"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/espcap/espcap-fast/capfile"
	"github.com/espcap/espcap-fast/internal/testpcap"
	"github.com/espcap/espcap-fast/pcapstore"
)

// storedRec is a packet as the sink saw it: its bytes, time and the
// store position the worker set.
type storedRec struct {
	data    []byte
	origLen int
	ts      int64
	file    string
	off     int64
	doc     bool
}

// positionSink keeps each packet's store position (records of batches,
// documents or not).
type positionSink struct{ recs []storedRec }

func (s *positionSink) Write(b *Batch) error {
	for i := range b.recs {
		r := &b.recs[i]
		s.recs = append(s.recs, storedRec{
			data: bytes.Clone(b.packet(i)), origLen: r.origLen, ts: r.ts,
			file: r.pcapFile, off: r.pcapOff, doc: r.docEnd >= 0,
		})
	}
	return nil
}

// readStore reads every record of the store files, by file and offset.
func readStore(t *testing.T, files []string) map[string]map[int64]capfile.Record {
	t.Helper()
	out := map[string]map[int64]capfile.Record{}
	for _, f := range files {
		r, err := capfile.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = map[int64]capfile.Record{}
		var rec capfile.Record
		for {
			err := r.Next(&rec)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			c := rec
			c.Data = bytes.Clone(rec.Data)
			out[f][rec.Offset] = c
		}
		r.Close()
	}
	return out
}

// TestStorePositions: with a store (--write), the worker sets each packet's
// pcapFile/pcapOff to where it wrote the packet, before the batch is
// encoded; the record there holds the packet's exact bytes, time and
// length. Packets the BPF filter drops are not written.
func TestStorePositions(t *testing.T) {
	for _, tc := range []struct {
		name, glob, bpf string
		workers         int
		fileSize        int64
	}{
		{"one capture, one worker", "seed_test_http.pcap", "", 1, 0},
		{"every capture, 2 workers, rotation", "*", "", 2, 256 << 10},
		{"filter", "seed_test_http.pcap", "tcp port 80 and tcp[tcpflags] & tcp-push != 0", 2, 64 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files, err := filepath.Glob("../testdata/pcaps/" + tc.glob)
			if err != nil || len(files) == 0 {
				t.Fatal(files, err)
			}
			dir := t.TempDir()
			st, err := pcapstore.Open(pcapstore.Config{Dir: dir, Host: "h", FileSize: tc.fileSize})
			if err != nil {
				t.Fatal(err)
			}
			sink := &positionSink{}
			r, err := runFiles(t, context.Background(), Config{Workers: tc.workers, BPF: tc.bpf, Store: st}, sink, files)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			stored, _ := filepath.Glob(filepath.Join(dir, "*.pcap"))
			if tc.fileSize > 0 && len(stored) < 2 {
				t.Errorf("%d store files, want rotation", len(stored))
			}
			recs := readStore(t, stored)
			seen := map[string]map[int64]bool{}
			written := 0
			for i, p := range sink.recs {
				if !strings.HasPrefix(p.file, dir+string(filepath.Separator)) {
					// not written (filtered out): no position, or the
					// source file's
					if tc.bpf == "" || p.doc {
						t.Fatalf("packet %d (document %v) has no store position: %s:%d", i, p.doc, p.file, p.off)
					}
					continue
				}
				written++
				if !p.doc && tc.bpf != "" {
					t.Fatalf("packet %d: position %s:%d (document %v)", i, p.file, p.off, p.doc)
				}
				got, ok := recs[p.file][p.off]
				if !ok {
					t.Fatalf("packet %d: no record at %s:%d", i, p.file, p.off)
				}
				if !bytes.Equal(got.Data, p.data) || got.Timestamp != p.ts || got.OrigLen != p.origLen {
					t.Fatalf("packet %d: the record at %s:%d is not the packet (%d/%d bytes, ts %d/%d)",
						i, p.file, p.off, len(got.Data), len(p.data), got.Timestamp, p.ts)
				}
				if seen[p.file] == nil {
					seen[p.file] = map[int64]bool{}
				}
				if seen[p.file][p.off] {
					t.Fatalf("packet %d: position %s:%d given twice", i, p.file, p.off)
				}
				seen[p.file][p.off] = true
			}
			total := 0
			for _, m := range recs {
				total += len(m)
			}
			if total != written || uint64(written) != r.Stats.Packets.Load()-r.Stats.Filtered.Load() {
				t.Errorf("store holds %d records, %d packets written, %d read, %d filtered", total, written, r.Stats.Packets.Load(), r.Stats.Filtered.Load())
			}
			if tc.bpf != "" && r.Stats.Filtered.Load() == 0 {
				t.Error("the filter dropped nothing: the test proves nothing")
			}
		})
	}
}

// TestStoreSingleFileOrder: a single store file shared by several workers
// (-w FILE.pcap) holds the packets in input order, every Ethernet capture
// one after the other, though the workers decode batches in parallel.
func TestStoreSingleFileOrder(t *testing.T) {
	all, err := testpcap.Load("../testdata/pcaps/*", 0)
	if err != nil {
		t.Fatal(err)
	}
	// the captures of one link type (a single file holds one)
	var files []string
	var want []testpcap.Packet
	for i := 0; i < len(all); {
		j, eth := i, true
		for ; j < len(all) && all[j].File == all[i].File; j++ {
			eth = eth && all[j].LinkType == 1
		}
		if eth {
			files = append(files, all[i].File)
			want = append(want, all[i:j]...)
		}
		i = j
	}
	if len(want) < 4*BatchPackets {
		t.Fatalf("%d Ethernet packets: too few batches to test the order", len(want))
	}
	path := filepath.Join(t.TempDir(), "out.pcap")
	st, err := pcapstore.Open(pcapstore.Config{File: path})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runFiles(t, context.Background(), Config{Workers: 4, Store: st}, &positionSink{}, files); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	recs := readStore(t, []string{path})[path]
	offs := slices.Sorted(maps.Keys(recs))
	if len(offs) != len(want) {
		t.Fatalf("%d records, want %d", len(offs), len(want))
	}
	for i, off := range offs {
		if r := recs[off]; !bytes.Equal(r.Data, want[i].Data) || r.Timestamp != want[i].Timestamp {
			t.Fatalf("record %d (offset %d) is not packet %d of %s", i, off, want[i].Number, want[i].File)
		}
	}
}
