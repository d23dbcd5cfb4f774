package pcapstore

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/espcap/espcap-fast/capfile"
	"github.com/espcap/espcap-fast/internal/need"
	"github.com/espcap/espcap-fast/internal/testpcap"
)

const pcaps = "../testdata/pcaps/"

// stored is one record read back from a store file.
type stored struct {
	file     string
	off      int64
	data     []byte
	origLen  int
	ts       int64
	linkType uint16
}

// readFile reads every record of a store file with capfile; it fails on
// anything but a clean end.
func readFile(t *testing.T, path string) []stored {
	t.Helper()
	r, err := capfile.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer r.Close()
	if r.Format() != capfile.Pcap {
		t.Fatalf("%s: format %v", path, r.Format())
	}
	var out []stored
	var rec capfile.Record
	for {
		err := r.Next(&rec)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, stored{file: path, off: rec.Offset, data: slices.Clone(rec.Data), origLen: rec.OrigLen, ts: rec.Timestamp, linkType: rec.LinkType})
	}
}

// tsharkCount reads a file with tshark and returns its frame count; any
// message on stderr or a non-zero exit fails the test.
func tsharkCount(t *testing.T, tshark, path string) int {
	t.Helper()
	cmd := exec.Command(tshark, "-r", path, "-T", "fields", "-e", "frame.number")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	msg := strings.ReplaceAll(stderr.String(), `Running as user "root" and group "root". This could be dangerous.`, "")
	if err != nil || strings.TrimSpace(msg) != "" {
		t.Fatalf("tshark -r %s: %v: %s", path, err, stderr.String())
	}
	return strings.Count(string(out), "\n")
}

// storeFiles lists the store files of dir in name order.
func storeFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+Ext))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(m)
	return m
}

// tsOf is the timestamp a store file keeps of ts (pcap holds unsigned
// 32-bit seconds).
func tsOf(ts int64) int64 {
	switch {
	case ts < 0:
		return 0
	case ts/1e9 > 0xffffffff:
		return 0xffffffff*1e9 + 999999999
	}
	return ts
}

// same checks that got holds exactly the packets of want, in order.
func same(t *testing.T, got []stored, want []testpcap.Packet) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d records stored, want %d", len(got), len(want))
	}
	for i, g := range got {
		w := want[i]
		if !bytes.Equal(g.data, w.Data) || g.origLen != w.OrigLen || g.ts != tsOf(w.Timestamp) || g.linkType != w.LinkType {
			t.Fatalf("record %d (%s at %d): %d bytes, orig %d, ts %d, link %d; want packet %d of %s: %d bytes, orig %d, ts %d, link %d",
				i, g.file, g.off, len(g.data), g.origLen, g.ts, g.linkType, w.Number, w.File, len(w.Data), w.OrigLen, w.Timestamp, w.LinkType)
		}
	}
}

// writeAll writes pk with w in one batch and returns the file of the last
// packet.
func writeAll(w *Writer, pk []testpcap.Packet) (last string) {
	w.Begin()
	defer w.End()
	for _, p := range pk {
		last, _ = w.Write(p.Data, p.OrigLen, p.Timestamp, p.LinkType)
	}
	return last
}

// write stores pk with one Writer, checking that each returned position
// is where the packet went, and closes the store.
func write(t *testing.T, s *Store, w *Writer, pk []testpcap.Packet) {
	t.Helper()
	type pos struct {
		file string
		off  int64
	}
	var at []pos
	for i := 0; i < len(pk); i += 100 {
		w.Begin()
		for _, p := range pk[i:min(i+100, len(pk))] {
			f, off := w.Write(p.Data, p.OrigLen, p.Timestamp, p.LinkType)
			at = append(at, pos{f, off})
		}
		w.End()
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	byPos := map[pos]stored{}
	files := map[string]bool{}
	for _, p := range at {
		if !files[p.file] {
			files[p.file] = true
			for _, r := range readFile(t, p.file) {
				byPos[pos{r.file, r.off}] = r
			}
		}
	}
	for i, p := range at {
		r, ok := byPos[p]
		if !ok {
			t.Fatalf("packet %d: position %s:%d is no record", i, p.file, p.off)
		}
		same(t, []stored{r}, pk[i:i+1])
	}
}

// TestRoundTrip writes real captures (one link type each, and all of
// them together) and reads them back with capfile and tshark.
func TestRoundTrip(t *testing.T) {
	tshark := need.Tshark(t)
	for _, tc := range []struct {
		name, glob string
		fileSize   int64
		minFiles   int
	}{
		{"http", "seed_test_http.pcap", 0, 1},
		{"nanosecond pcapng", "wireshark_dhcp-nanosecond.pcapng", 0, 1},
		{"big-endian", "arkime_bigendian.pcap", 0, 1},
		{"sll2", "zeek_linux_dlt_sll2.pcap", 0, 1},
		{"raw ipv4", "tcpdump_LINKTYPE_RAW_ipv4.pcap", 0, 1},
		{"rotation by size", "seed_test_http.pcap", 64 << 10, 5},
		{"all captures, mixed link types", "*", 1 << 20, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pk := testpcap.MustLoad(t, pcaps+tc.glob, 0)
			dir := t.TempDir()
			s, err := Open(Config{Dir: dir, Host: "h", FileSize: tc.fileSize})
			if err != nil {
				t.Fatal(err)
			}
			write(t, s, s.Writer("file", 0), pk)
			files := storeFiles(t, dir)
			if len(files) < tc.minFiles {
				t.Fatalf("%d files, want at least %d", len(files), tc.minFiles)
			}
			got := map[uint16][]stored{} // by link type: a file each
			n, want := 0, 0
			for i, f := range files {
				recs := readFile(t, f)
				if len(recs) == 0 {
					t.Errorf("%s: no record", f)
				}
				if fi, err := os.Stat(f); err != nil || tc.fileSize > 0 && fi.Size() > tc.fileSize && len(recs) > 1 {
					t.Errorf("%s: %v, size over %d", f, err, tc.fileSize)
				} else if fi.Mode().Perm() != 0o600 {
					t.Errorf("%s: mode %v", f, fi.Mode())
				}
				for _, r := range recs {
					got[r.linkType] = append(got[r.linkType], r)
				}
				// tshark takes half a second a file: the first, the
				// last and every 7th
				if i == 0 || i == len(files)-1 || i%7 == 0 {
					n += tsharkCount(t, tshark, f)
					want += len(recs)
				}
			}
			// the files of each link type, in name order, hold that link
			// type's packets in input order
			byType := map[uint16][]testpcap.Packet{}
			for _, p := range pk {
				byType[p.LinkType] = append(byType[p.LinkType], p)
			}
			for lt, want := range byType {
				same(t, got[lt], want)
			}
			if len(got) != len(byType) {
				t.Errorf("%d link types stored, %d written", len(got), len(byType))
			}
			if n != want {
				t.Errorf("tshark read %d frames, capfile %d", n, want)
			}
			// one file per link type and size rotation, not per run of
			// packets of a link type
			if tc.fileSize == 1<<20 && len(files) > 2*len(byType) {
				t.Errorf("%d files for %d link types", len(files), len(byType))
			}
			if st := s.Stats(); st.Packets != uint64(len(pk)) || st.Files != len(files) || st.Dropped != 0 {
				t.Errorf("stats %+v; want %d packets in %d files", st, len(pk), len(files))
			}
		})
	}
}

// TestNames: names carry prefix, host, label, worker and start time, sort
// by time within a series, and parse back.
func TestNames(t *testing.T) {
	pk := testpcap.MustLoad(t, pcaps+"seed_test_dns.pcap", 0)
	dir := filepath.Join(t.TempDir(), "store")
	s, err := Open(Config{Dir: dir, Host: "sensor/1", FileSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	w := s.Writer("eth0.100", 3)
	write(t, s, w, pk[:5])
	files := storeFiles(t, dir)
	if len(files) != 5 {
		t.Fatalf("%d files for 5 packets with --write-size 1: %v", len(files), files)
	}
	var last time.Time
	for _, f := range files {
		name := filepath.Base(f)
		if !strings.HasPrefix(name, "espcap-sensor_1-eth0.100-w3-") {
			t.Errorf("name %s", name)
		}
		start, ok := ParseName(name, Prefix)
		if !ok || !start.After(last) {
			t.Errorf("%s: start %v (ok %v), previous %v", name, start, ok, last)
		}
		last = start
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("directory: %v %v", fi.Mode(), err)
	}
}

func TestParseName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"espcap-h-eth0-w0-20261203T081500.123Z.pcap", true},
		{"espcap-my-host-veth-a-w12-20261203T081500.123Z.pcap", true},
		{"espcap-x-20261203T081500.123Z.pcap", true},
		{"espcap-20261203T081500.123Z.pcap", false},
		{"espcap-h-eth0-w0-20261203T081500.123Z.pcapng", false},
		{"espcap-h-eth0-w0-20261203T081500Z.pcap", false},
		{"espcap-h-eth0-w0-20261303T081500.123Z.pcap", false},
		{"other-h-eth0-w0-20261203T081500.123Z.pcap", false},
		{"espcap.pcap", false},
		{"", false},
	} {
		_, ok := ParseName(tc.name, Prefix)
		if ok != tc.ok {
			t.Errorf("ParseName(%q) = %v, want %v", tc.name, ok, tc.ok)
		}
	}
}

// FuzzParseName: the directory scanner takes any name without panicking,
// and a name it accepts carries a start time that formats back into it.
func FuzzParseName(f *testing.F) {
	f.Add("espcap-h-eth0-w0-20261203T081500.123Z.pcap")
	f.Add("espcap--.pcap")
	f.Fuzz(func(t *testing.T, name string) {
		start, ok := ParseName(name, Prefix)
		if ok && !strings.HasSuffix(name, "-"+start.Format(timeLayout)+Ext) {
			t.Fatalf("%q parsed as %v", name, start)
		}
	})
}

// logs collects log messages.
type logs struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logs) log(m string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, m)
}

func (l *logs) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.msgs, "\n")
}

// TestRetention: with --write-max, the oldest files go first (files of an
// earlier run too), each deletion logged with the file name, and the store
// stays within the limit.
func TestRetention(t *testing.T) {
	pk := testpcap.MustLoad(t, pcaps+"seed_test_http.pcap", 0)
	dir := t.TempDir()
	// an earlier run's files, older than anything this run writes, and a
	// file that is not the store's
	old := []string{"espcap-h-eth1-w0-20200101T000000.000Z.pcap", "espcap-h-eth1-w1-20200101T000001.000Z.pcap"}
	for _, n := range old {
		if err := os.WriteFile(filepath.Join(dir, n), make([]byte, 100<<10), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	other := filepath.Join(dir, "notes.pcap")
	os.WriteFile(other, make([]byte, 1<<20), 0o600)
	const max = 400 << 10
	var l logs
	s, err := Open(Config{Dir: dir, Host: "h", FileSize: 64 << 10, MaxBytes: max, Log: l.log})
	if err != nil {
		t.Fatal(err)
	}
	w0, w1 := s.Writer("file", 0), s.Writer("file", 1)
	for i := 0; i < len(pk); i += 64 {
		w := w0
		if i/64%2 == 1 {
			w = w1
		}
		w.Begin()
		for _, p := range pk[i:min(i+64, len(pk))] {
			w.Write(p.Data, p.OrigLen, p.Timestamp, p.LinkType)
		}
		w.End()
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	msgs := l.all()
	for _, n := range old {
		if _, err := os.Stat(filepath.Join(dir, n)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s of the earlier run not deleted first", n)
		}
		if !strings.Contains(msgs, n) {
			t.Errorf("deletion of %s not logged: %s", n, msgs)
		}
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("a file not of the store was touched: %v", err)
	}
	files := storeFiles(t, dir)
	var total int64
	var got []stored
	for _, f := range files {
		if f == other {
			continue
		}
		fi, _ := os.Stat(f)
		total += fi.Size()
		got = append(got, readFile(t, f)...)
	}
	if total > max {
		t.Errorf("store holds %d bytes, over --write-max %d", total, max)
	}
	st := s.Stats()
	if st.Deleted < len(old)+1 || strings.Count(msgs, "deleted ") != st.Deleted {
		t.Errorf("%d files deleted, log:\n%s", st.Deleted, msgs)
	}
	// what is left is the newest packets, each worker's in order
	if len(got) == 0 || len(got) >= len(pk) {
		t.Fatalf("%d of %d packets left", len(got), len(pk))
	}
}

// TestMinFree: a free-space floor larger than the disk deletes every
// closed file and says that only open files are left.
func TestMinFree(t *testing.T) {
	pk := testpcap.MustLoad(t, pcaps+"seed_test_http.pcap", 0)
	dir := t.TempDir()
	var l logs
	s, err := Open(Config{Dir: dir, Host: "h", FileSize: 64 << 10, MinFreePercent: 99.999999, Log: l.log})
	if err != nil {
		t.Fatal(err)
	}
	w := s.Writer("file", 0)
	w.Begin()
	for _, p := range pk {
		w.Write(p.Data, p.OrigLen, p.Timestamp, p.LinkType)
	}
	w.End()
	s.Close()
	msgs := l.all()
	if !strings.Contains(msgs, "--write-min-free") || s.Stats().Deleted == 0 {
		t.Errorf("nothing deleted for the free-space floor: %s", msgs)
	}
	// the last file (open while writing) stays
	if files := storeFiles(t, dir); len(files) != 1 {
		t.Errorf("files left: %v", files)
	}
}

// TestSingleFile: Config.File is one file for every writer, truncated,
// one link type; other link types are counted and logged, not written.
func TestSingleFile(t *testing.T) {
	tshark := need.Tshark(t)
	eth := testpcap.MustLoad(t, pcaps+"seed_test_dns.pcap", 0)
	raw := testpcap.MustLoad(t, pcaps+"tcpdump_LINKTYPE_RAW_ipv4.pcap", 0)
	path := filepath.Join(t.TempDir(), "sub", "out.pcap")
	var l logs
	s, err := Open(Config{File: path, FileSize: 1, Log: l.log})
	if err != nil {
		t.Fatal(err)
	}
	a, b := s.Writer("file", 0), s.Writer("file", 1)
	if a != b {
		t.Fatal("single-file writers differ")
	}
	a.Begin()
	for _, p := range eth {
		a.Write(p.Data, p.OrigLen, p.Timestamp, p.LinkType)
	}
	f, off := a.Write(raw[0].Data, raw[0].OrigLen, raw[0].Timestamp, raw[0].LinkType)
	a.End()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if f != "" || off != -1 || s.Stats().Dropped != 1 || !strings.Contains(l.all(), "link type 101") {
		t.Errorf("packet of another link type: %q %d, stats %+v, log %s", f, off, s.Stats(), l.all())
	}
	same(t, readFile(t, path), eth)
	if n := tsharkCount(t, tshark, path); n != len(eth) {
		t.Errorf("tshark: %d frames", n)
	}
	// no packet: an empty, valid capture
	empty := filepath.Join(t.TempDir(), "empty.pcap")
	s, _ = Open(Config{File: empty})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if recs := readFile(t, empty); len(recs) != 0 {
		t.Errorf("%d records", len(recs))
	}
}

// TestFlushEvery: an idle writer's records reach the file within the
// flush interval, without End or Close (the flusher).
func TestFlushEvery(t *testing.T) {
	pk := testpcap.MustLoad(t, pcaps+"seed_test_dns.pcap", 0)
	dir := t.TempDir()
	s, err := Open(Config{Dir: dir, Host: "h", FlushEvery: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w := s.Writer("file", 0)
	w.Begin()
	file, _ := w.Write(pk[0].Data, pk[0].OrigLen, pk[0].Timestamp, pk[0].LinkType)
	w.End()
	want := int64(FileHeaderLen + RecordHeaderLen + len(pk[0].Data))
	for i := 0; ; i++ {
		fi, err := os.Stat(file)
		if err == nil && fi.Size() == want {
			break
		}
		if i == 500 {
			t.Fatalf("the record never reached %s (%v)", file, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	same(t, readFile(t, file), pk[:1])
}

// TestWriteError: a failed write is logged once, the worker's packets are
// counted as dropped, and nothing panics.
func TestWriteError(t *testing.T) {
	pk := testpcap.MustLoad(t, pcaps+"seed_test_dns.pcap", 0)
	dir := t.TempDir()
	var l logs
	s, err := Open(Config{Dir: dir, Host: "h", Log: l.log})
	if err != nil {
		t.Fatal(err)
	}
	w := s.Writer("file", 0)
	w.Begin()
	w.Write(pk[0].Data, pk[0].OrigLen, pk[0].Timestamp, pk[0].LinkType)
	w.outs[0].f.Close() // the file goes bad under the writer
	w.End()
	if err := w.Flush(); err == nil {
		t.Fatal("no error writing to a closed file")
	}
	w.Begin()
	f, off := w.Write(pk[1].Data, pk[1].OrigLen, pk[1].Timestamp, pk[1].LinkType)
	w.End()
	s.Close()
	// dropped: the packet whose write failed and the one after
	if st := s.Stats(); f != "" || off != -1 || st.Dropped != 2 || st.Packets != 0 || strings.Count(l.all(), "writes no more") != 1 {
		t.Errorf("after the error: %q %d, %+v, log %s", f, off, s.Stats(), l.all())
	}
}

// BenchmarkWrite is the per-packet cost of the write path: a 300-byte
// packet copied into the buffer, the buffer written to a file when full.
func BenchmarkWrite(b *testing.B) {
	for _, size := range []int{64, 300, 1500} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			s, err := Open(Config{Dir: b.TempDir(), Host: "h", FileSize: 256 << 20})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			w := s.Writer("file", 0)
			data := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			ts := time.Now().UnixNano()
			w.Begin()
			for i := 0; b.Loop(); i++ {
				if i%batchSize == 0 {
					w.End()
					w.Begin()
				}
				w.Write(data, size, ts+int64(i), 1)
			}
			w.End()
		})
	}
}

// batchSize is the batch a worker brackets with Begin and End in the
// benchmark (pipeline.BatchPackets).
const batchSize = 256

// BenchmarkWriteBuffer is BenchmarkWrite with the file replaced by
// /dev/null: the cost of the write path itself (header, copy, buffer
// management, one write system call per buffer) without the page cache's.
func BenchmarkWriteBuffer(b *testing.B) {
	s, err := Open(Config{Dir: b.TempDir(), Host: "h"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	w := s.Writer("file", 0)
	data := make([]byte, 300)
	w.Begin()
	w.Write(data, len(data), 1, 1)
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	w.outs[0].f.Close()
	w.outs[0].f = null
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%batchSize == 0 {
			w.End()
			w.Begin()
		}
		w.Write(data, len(data), int64(i), 1)
	}
	w.End()
}

// TestBeginSeq: on the shared single file, batches begun with BeginSeq
// land in sequence order whatever order the workers come in.
func TestBeginSeq(t *testing.T) {
	pk := testpcap.MustLoad(t, pcaps+"seed_test_dns.pcap", 16)
	path := filepath.Join(t.TempDir(), "out.pcap")
	s, err := Open(Config{File: path})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := len(pk) - 1; i >= 0; i-- {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := s.Writer("file", i)
			w.BeginSeq(uint64(i))
			defer w.EndSeq()
			w.Write(pk[i].Data, pk[i].OrigLen, pk[i].Timestamp, pk[i].LinkType)
		}()
		time.Sleep(time.Millisecond) // the later batches come first
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	same(t, readFile(t, path), pk)
}

// TestEvery: a file older than Config.Every is closed by the flusher
// even when no packet comes, and the next packet starts a new file.
func TestEvery(t *testing.T) {
	pk := testpcap.MustLoad(t, pcaps+"seed_test_dns.pcap", 2)
	dir := t.TempDir()
	s, err := Open(Config{Dir: dir, Host: "h", Every: 30 * time.Millisecond, FlushEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	w := s.Writer("file", 0)
	w.Begin()
	first, _ := w.Write(pk[0].Data, pk[0].OrigLen, pk[0].Timestamp, pk[0].LinkType)
	w.End()
	for i := 0; ; i++ {
		w.Begin()
		closed := len(w.outs) == 0
		w.End()
		if closed {
			break
		}
		if i == 1000 {
			t.Fatal("the old file was never closed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	w.Begin()
	second, _ := w.Write(pk[1].Data, pk[1].OrigLen, pk[1].Timestamp, pk[1].LinkType)
	w.End()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if second == first {
		t.Fatalf("one file after --write-every: %s", first)
	}
	same(t, readFile(t, first), pk[:1])
	same(t, readFile(t, second), pk[1:2])
}

// TestHugeRecord: a packet longer than the snapshot length (from a file
// with a larger one) is cut to it, its original length kept, between the
// records around it; capfile and tshark read the file.
func TestHugeRecord(t *testing.T) {
	tshark := need.Tshark(t)
	pk := testpcap.MustLoad(t, pcaps+"seed_test_dns.pcap", 2)
	huge := bytes.Repeat([]byte{0xa5}, 3<<20)
	dir := t.TempDir()
	s, err := Open(Config{Dir: dir, Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	w := s.Writer("file", 0)
	w.Begin()
	w.Write(pk[0].Data, pk[0].OrigLen, pk[0].Timestamp, pk[0].LinkType)
	w.Write(huge, len(huge)+10, pk[0].Timestamp+1, pk[0].LinkType)
	w.Write(pk[1].Data, pk[1].OrigLen, pk[1].Timestamp, pk[1].LinkType)
	w.End()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	f := storeFiles(t, dir)[0]
	got := readFile(t, f)
	if len(got) != 3 || !bytes.Equal(got[1].data, huge[:Snaplen]) || got[1].origLen != len(huge)+10 {
		t.Fatalf("%d records; the huge one: %d bytes, orig %d", len(got), len(got[1].data), got[1].origLen)
	}
	same(t, []stored{got[0], got[2]}, pk)
	if n := tsharkCount(t, tshark, f); n != 3 {
		t.Errorf("tshark: %d frames", n)
	}
}

// TestAbsolute: a relative directory or file gives absolute positions, so
// that export finds the packets from any working directory.
func TestAbsolute(t *testing.T) {
	pk := testpcap.MustLoad(t, pcaps+"seed_test_dns.pcap", 1)
	abs, err := filepath.Abs(pcaps)
	if err != nil {
		t.Fatal(err)
	}
	pk[0].File = abs
	t.Chdir(t.TempDir())
	for _, cfg := range []Config{{Dir: "store", Host: "h"}, {File: "out.pcap"}} {
		s, err := Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		w := s.Writer("file", 0)
		w.Begin()
		f, _ := w.Write(pk[0].Data, pk[0].OrigLen, pk[0].Timestamp, pk[0].LinkType)
		w.End()
		s.Close()
		if !filepath.IsAbs(f) {
			t.Errorf("%+v: position in %s", cfg, f)
		}
		same(t, readFile(t, f), pk)
	}
}

// TestDiskFull: when the file system fills up, each worker logs the error
// once and writes no more; its files end with whole records (a cut one is
// truncated away), and the packets counted written are the ones there.
func TestDiskFull(t *testing.T) {
	need.Root(t)
	one := testpcap.MustLoad(t, pcaps+"seed_test_http.pcap", 0)
	var pk []testpcap.Packet // 3.7 MB of records for 2 MB
	for range 4 {
		pk = append(pk, one...)
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	var l logs
	s, err := Open(Config{Dir: dir, Host: "h", Log: l.log})
	if err != nil {
		t.Fatal(err)
	}
	w := s.Writer("file", 0)
	for i := 0; i < len(pk); i += 64 {
		w.Begin()
		for _, p := range pk[i:min(i+64, len(pk))] {
			w.Write(p.Data, p.OrigLen, p.Timestamp, p.LinkType)
		}
		w.End()
	}
	if err := s.Close(); err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("close: %v", err)
	}
	st := s.Stats()
	var got []stored
	for _, f := range storeFiles(t, dir) {
		got = append(got, readFile(t, f)...) // fails on a cut record
	}
	if st.Packets != uint64(len(got)) || st.Packets+st.Dropped != uint64(len(pk)) || len(got) == 0 {
		t.Errorf("stats %+v; %d records in the files, %d packets", st, len(got), len(pk))
	}
	same(t, got, pk[:len(got)])
	if n := strings.Count(l.all(), "no space left"); n != 1 {
		t.Errorf("%d error messages: %s", n, l.all())
	}
}

// TestRetentionSkipsFilesInUse: the retention of a second store on the
// same directory (another process) deletes the first one's closed files
// but not the file it is writing.
func TestRetentionSkipsFilesInUse(t *testing.T) {
	pk := testpcap.MustLoad(t, pcaps+"seed_test_http.pcap", 0)
	dir := t.TempDir()
	a, err := Open(Config{Dir: dir, Host: "a", FileSize: 128 << 10})
	if err != nil {
		t.Fatal(err)
	}
	w := a.Writer("eth0", 0)
	open := writeAll(w, pk)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	before := storeFiles(t, dir)
	var l logs
	b, err := Open(Config{Dir: dir, Host: "b", MaxBytes: 1, Log: l.log})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	after := storeFiles(t, dir)
	if len(before) < 3 || len(after) != 1 || after[0] != open || !strings.Contains(l.all(), "only files being written") {
		t.Fatalf("before %d files, after %v (open %s); log %s", len(before), after, open, l.all())
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if recs := readFile(t, open); len(recs) == 0 {
		t.Error("the open file lost its packets")
	}
}
