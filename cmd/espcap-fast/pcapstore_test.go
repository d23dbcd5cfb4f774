package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/espcap/espcap-fast/capfile"
	"github.com/espcap/espcap-fast/internal/need"
	"github.com/espcap/espcap-fast/internal/testpcap"
	"github.com/espcap/espcap-fast/pcapstore"
	"github.com/espcap/espcap-fast/ring/ringtest"
)

// TestWriteFlags: --write DIR rotates in DIR, -w FILE.pcap is one file,
// with rotation flags files named after it beside it; sizes and the
// free-space floor parse; mistakes are errors.
func TestWriteFlags(t *testing.T) {
	dir := t.TempDir()
	isDir := filepath.Join(dir, "store.pcap") // a directory named like a file
	os.Mkdir(isDir, 0o700)
	for _, tc := range []struct {
		args []string
		want pcapstore.Config
		off  bool
		err  string
	}{
		{args: nil, off: true},
		{args: []string{"--write", dir}, want: pcapstore.Config{Dir: dir, FileSize: pcapstore.DefaultFileSize, MinFreePercent: 5}},
		{args: []string{"-w", dir, "--write-size", "10M", "--write-every", "1h", "--write-max", "2G", "--write-min-free", "1G"},
			want: pcapstore.Config{Dir: dir, FileSize: 10 << 20, Every: time.Hour, MaxBytes: 2 << 30, MinFree: 1 << 30}},
		{args: []string{"-w", dir, "--write-size", "0", "--write-min-free", "0"}, want: pcapstore.Config{Dir: dir}},
		{args: []string{"-w", dir, "--write-min-free", "12.5%"}, want: pcapstore.Config{Dir: dir, FileSize: pcapstore.DefaultFileSize, MinFreePercent: 12.5}},
		{args: []string{"-w", dir + "/out.pcap"}, want: pcapstore.Config{File: dir + "/out.pcap", MinFreePercent: 5}},
		{args: []string{"-w", dir + "/out.PCAPNG"}, want: pcapstore.Config{File: dir + "/out.PCAPNG", MinFreePercent: 5}},
		{args: []string{"-w", isDir}, want: pcapstore.Config{Dir: isDir, FileSize: pcapstore.DefaultFileSize, MinFreePercent: 5}},
		{args: []string{"-w", dir + "/out.pcap", "--write-size", "5M"}, want: pcapstore.Config{Dir: dir, Prefix: "out", FileSize: 5 << 20, MinFreePercent: 5}},
		{args: []string{"-w", dir + "/out.pcap", "--write-every", "10m"}, want: pcapstore.Config{Dir: dir, Prefix: "out", Every: 10 * time.Minute, MinFreePercent: 5}},
		{args: []string{"--write-size", "5M"}, err: "need --write"},
		{args: []string{"-w", dir, "--write-min-free", "100%"}, err: "percentage"},
		{args: []string{"-w", dir, "--write-min-free", "lots"}, err: "not a size"},
		{args: []string{"-w", dir, "--write-every", "-1s"}, err: "negative"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			w := registerWriteFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			cfg, ok, err := w.storeConfig()
			switch {
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
			case err != nil:
				t.Fatal(err)
			case ok == tc.off:
				t.Fatalf("store on: %v", ok)
			case !tc.off && fmt.Sprintf("%+v", cfg) != fmt.Sprintf("%+v", tc.want):
				t.Fatalf("config %+v\nwant   %+v", cfg, tc.want)
			}
		})
	}
}

// storedPacket is a record read back from a store file.
type storedPacket struct {
	data    []byte
	origLen int
	ts      int64
}

// readStoreFile reads a store file with capfile. A file cut short in its
// last record (a crash in the middle of a write) is allowed when cutOK,
// and its whole records are returned.
func readStoreFile(t *testing.T, path string, cutOK bool) []storedPacket {
	t.Helper()
	r, err := capfile.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer r.Close()
	var out []storedPacket
	var rec capfile.Record
	for {
		err := r.Next(&rec)
		if err == io.EOF || cutOK && errors.Is(err, capfile.ErrTruncated) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, storedPacket{bytes.Clone(rec.Data), rec.OrigLen, rec.Timestamp})
	}
}

// tsharkReads runs tshark on a store file and returns its frame count;
// an error, or a message other than the root warning and (when cutOK)
// "cut short in the middle of a packet", fails the test.
func tsharkReads(t *testing.T, tshark, path string, cutOK bool) int {
	t.Helper()
	cmd := exec.Command(tshark, "-r", path, "-T", "fields", "-e", "frame.number")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	msg := strings.TrimSpace(strings.ReplaceAll(stderr.String(), `Running as user "root" and group "root". This could be dangerous.`, ""))
	cut := strings.Contains(msg, "cut short in the middle of a packet")
	if (err != nil || msg != "") && !(cutOK && cut) {
		t.Fatalf("tshark -r %s: %v: %s", path, err, msg)
	}
	return strings.Count(string(out), "\n")
}

// workerSeries groups store files by series (everything before the start
// time: host, interface, worker), each in time order.
func workerSeries(t *testing.T, dir string) map[string][]string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.pcap"))
	slices.Sort(files)
	out := map[string][]string{}
	for _, f := range files {
		i := strings.LastIndexByte(f, '-')
		out[f[:i]] = append(out[f[:i]], f)
	}
	return out
}

// readSeries reads the files of one worker's series in order with
// capfile, checking that tshark reads as many frames; the last file may be
// cut short in its last record when cutLast (open at a crash).
func readSeries(t *testing.T, tshark string, files []string, cutLast bool) []storedPacket {
	t.Helper()
	var got []storedPacket
	for i, f := range files {
		cutOK := cutLast && i == len(files)-1
		recs := readStoreFile(t, f, cutOK)
		if n := tsharkReads(t, tshark, f, cutOK); n != len(recs) {
			t.Errorf("%s: tshark %d frames, capfile %d whole records", f, n, len(recs))
		}
		got = append(got, recs...)
	}
	return got
}

// checkSubsequence checks that got is want with some packets left out, in
// want's order; the times are compared too when sameTime (not live).
func checkSubsequence(t *testing.T, name string, got []storedPacket, want []testpcap.Packet, sameTime bool) {
	t.Helper()
	j := 0
	for i, g := range got {
		for j < len(want) && !(bytes.Equal(want[j].Data, g.data) && want[j].OrigLen == g.origLen && (!sameTime || want[j].Timestamp == g.ts)) {
			j++
		}
		if j == len(want) {
			t.Fatalf("%s: record %d (%d bytes, ts %d) is not the next input packet in order", name, i, len(g.data), g.ts)
		}
		j++
	}
}

var storeSummaryRE = regexp.MustCompile(`pcap store: (\d+) packets written, \d+ bytes in (\d+) new files, (\d+) files deleted`)

// TestWriteImport: an import with --write keeps exactly the packets the
// filter keeps, each worker's in input order, in files that capfile and
// tshark read; rotation by size makes several files; -w FILE.pcap is one
// file in input order.
func TestWriteImport(t *testing.T) {
	tshark := need.Tshark(t)
	for _, tc := range []struct {
		name    string
		capture string
		args    []string
		bpf     string
		minimum int // files at least
	}{
		{"one worker", "seed_test_http.pcap", []string{"--workers", "1"}, "", 1},
		{"two workers, rotation", "seed_test_http.pcap", []string{"--workers", "2", "--write-size", "128K"}, "", 5},
		{"pcapng, nanoseconds", "wireshark_dhcp-nanosecond.pcapng", []string{"--workers", "2"}, "", 1},
		{"filter", "seed_test_http.pcap", []string{"--workers", "2", "--write-size", "64K"}, "tcp[tcpflags] & tcp-push != 0", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := pcaps + tc.capture
			want := testpcap.MustLoad(t, in, 0)
			args := append([]string{"-r", in, "--write", filepath.Join(t.TempDir(), "store")}, tc.args...)
			if tc.bpf != "" {
				want = filtered(t, in, tc.bpf, want)
				args = append(args, tc.bpf)
			}
			dir := args[3]
			_, errs, code := espcap(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			m := storeSummaryRE.FindStringSubmatch(errs)
			if m == nil || m[1] != strconv.Itoa(len(want)) {
				t.Fatalf("summary: %q, want %d packets", m, len(want))
			}
			total, files := 0, 0
			for series, fs := range workerSeries(t, dir) {
				got := readSeries(t, tshark, fs, false)
				checkSubsequence(t, series, got, want, true)
				total += len(got)
				files += len(fs)
			}
			if total != len(want) || files < tc.minimum || strconv.Itoa(files) != m[2] {
				t.Errorf("%d packets in %d files (summary %s); want %d packets, at least %d files", total, files, m[2], len(want), tc.minimum)
			}
		})
	}
	t.Run("-w FILE.pcap", func(t *testing.T) {
		want := testpcap.MustLoad(t, sample, 0)
		out := filepath.Join(t.TempDir(), "out.pcap")
		if _, errs, code := espcap(t, "-q", "-r", sample, "-w", out, "--workers", "2"); code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		got := readStoreFile(t, out, false)
		// in input order, though two workers decode
		checkSubsequence(t, out, got, want, true)
		if len(got) != len(want) || tsharkReads(t, tshark, out, false) != len(want) {
			t.Errorf("%d packets, want %d", len(got), len(want))
		}
	})
}

// filtered returns the packets of pk (the capture in) that tcpdump's
// filter expr keeps, by their frame numbers in tshark's view.
func filtered(t *testing.T, in, expr string, pk []testpcap.Packet) []testpcap.Packet {
	t.Helper()
	tcpdump := ringtest.NeedTool(t, "tcpdump", "tcpdump")
	out, err := exec.Command(tcpdump, "-r", in, "-w", "-", expr).Output()
	if err != nil {
		t.Fatalf("tcpdump: %v", err)
	}
	keep := filepath.Join(t.TempDir(), "kept.pcap")
	os.WriteFile(keep, out, 0o600)
	kept := testpcap.MustLoad(t, keep, 0)
	if len(kept) == len(pk) {
		t.Fatalf("the filter %q keeps every packet: the test proves nothing", expr)
	}
	return kept
}

// TestWriteRetention: --write-max deletes the oldest files, those of an
// earlier run first, each named on stderr (also with -q).
func TestWriteRetention(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "espcap-other-eth9-w0-20200101T000000.000Z.pcap")
	os.WriteFile(old, make([]byte, 300<<10), 0o600)
	_, errs, code := espcap(t, "-q", "-r", sample, "--write", dir, "--write-size", "64K", "--write-max", "256K", "--workers", "1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) || !strings.Contains(errs, "deleted "+old) {
		t.Errorf("the earlier run's file was not deleted first: %s", errs)
	}
	var total int64
	files, _ := filepath.Glob(filepath.Join(dir, "*.pcap"))
	for _, f := range files {
		fi, _ := os.Stat(f)
		total += fi.Size()
		if strings.Contains(errs, "deleted "+f) {
			t.Errorf("%s is still there but was reported deleted", f)
		}
	}
	if total > 256<<10 || len(files) < 2 || strings.Count(errs, "deleted ") < 3 {
		t.Errorf("%d bytes in %d files left; log:\n%s", total, len(files), errs)
	}
}

// TestWriteKill9: kill -9 during an import with --write (small files, a
// slow reader of the documents) leaves files that capfile and tshark read:
// the closed ones whole, the open ones up to their last whole record; all
// hold input packets in input order.
func TestWriteKill9(t *testing.T) {
	tshark := need.Tshark(t)
	bin := buildBinary(t)
	capture := bigCapture(t)
	want := testpcap.MustLoad(t, capture, 0)
	dir := filepath.Join(t.TempDir(), "store")
	cmd := exec.Command(bin, "-q", "--file", capture, "--write", dir, "--write-size", "256K", "--workers", "2")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// the slow sink: documents read 16 KiB every 2 ms
	go func() {
		buf := make([]byte, 16<<10)
		for {
			if _, err := stdout.Read(buf); err != nil {
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "*.pcap"))
		if len(files) >= 6 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no rotation within a minute: %v; %s", files, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if cmd.ProcessState.Success() {
		t.Fatalf("the import finished before the kill: %s", stderr.String())
	}
	total := 0
	for series, fs := range workerSeries(t, dir) {
		// the last file of each worker was open at the kill
		got := readSeries(t, tshark, fs, true)
		checkSubsequence(t, series, got, want, true)
		total += len(got)
	}
	if total == 0 || total >= len(want) {
		t.Errorf("%d of %d packets stored", total, len(want))
	}
	t.Logf("%d of %d packets stored before the kill", total, len(want))
}

// TestWriteLive replays a capture onto a veth with --write and rotation:
// the store holds exactly the packets the kernel accepted, each worker's
// in order, in files tshark reads, named after the interface.
func TestWriteLive(t *testing.T) {
	tshark := need.Tshark(t)
	v := ringtest.NewVeth(t)
	want := testpcap.MustLoad(t, sample, 0)
	dir := filepath.Join(t.TempDir(), "store")
	p := startLive(t, nil, "-i", v.Outside, "--workers", "2", "--write", dir, "--write-size", "128K",
		"--frame-timeout", "10ms", "--duration", "60s")
	if sent := v.Replay(t, sample); sent != len(want) {
		t.Fatalf("tcpreplay sent %d of %d packets", sent, len(want))
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t, 30*time.Second)
	errs := p.stderr.String()
	if p.code != 0 {
		t.Fatalf("exit %d: %s", p.code, errs)
	}
	k, d := kernelCounts(t, errs, v.Outside)
	total, files := 0, 0
	for series, fs := range workerSeries(t, dir) {
		if !strings.Contains(filepath.Base(series), "-"+v.Outside+"-w") {
			t.Errorf("series %s not named after %s", series, v.Outside)
		}
		// live timestamps are the capture's own: the bytes are compared
		got := readSeries(t, tshark, fs, false)
		checkSubsequence(t, series, got, want, false)
		total += len(got)
		files += len(fs)
	}
	if d != 0 || total != k || k < len(want) || files < 3 {
		t.Errorf("kernel %d packets, %d dropped; store %d packets in %d files; replayed %d", k, d, total, files, len(want))
	}
}

// TestWriteNeedsNative: --write with --engine tshark is a usage error,
// for files and live capture, before anything is captured or written.
func TestWriteNeedsNative(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	for _, src := range [][]string{{"-r", sample}, {"-i", "lo"}} {
		_, errs, code := espcap(t, append(src, "--engine", "tshark", "--write", dir)...)
		if code != 2 || !strings.Contains(errs, "--write needs --engine native") {
			t.Errorf("%v: exit %d: %s", src, code, errs)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the store directory was made: %v", err)
	}
}

// TestWriteNotInput: the store may not truncate an input file (-w FILE)
// nor hold one (retention would delete it); nothing is written then.
func TestWriteNotInput(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.pcap")
	b, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(in, b, 0o600)
	for _, args := range [][]string{
		{"-r", in, "-w", in},
		{"-r", in, "--write", dir},
		{"--dir", dir, "--write", dir + "/"},
	} {
		_, errs, code := espcap(t, args...)
		if code != 2 || !strings.Contains(errs, "is also read") {
			t.Errorf("%v: exit %d: %s", args, code, errs)
		}
	}
	if got, _ := os.ReadFile(in); !bytes.Equal(got, b) {
		t.Error("the input was changed")
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 1 {
		t.Errorf("files in the directory: %v", files)
	}
}

// TestWriteLiveRetention: a live capture rotating small files under a
// --write-max that the traffic exceeds deletes the oldest files while it
// runs, names each on stderr, and leaves valid files of the newest
// packets, within the limit (plus the files still open at the end).
func TestWriteLiveRetention(t *testing.T) {
	tshark := need.Tshark(t)
	v := ringtest.NewVeth(t)
	dir := filepath.Join(t.TempDir(), "store")
	const size, max = 64 << 10, 256 << 10
	p := startLive(t, nil, "-i", v.Outside, "--workers", "2", "--write", dir, "--write-size", strconv.Itoa(size),
		"--write-max", strconv.Itoa(max), "--frame-timeout", "10ms", "--duration", "60s")
	if sent := v.Replay(t, sample, "--pps=20000", "--loop=3"); sent != 3*1268 {
		t.Fatalf("tcpreplay sent %d packets", sent)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t, 30*time.Second)
	errs := p.stderr.String()
	if p.code != 0 {
		t.Fatalf("exit %d: %s", p.code, errs)
	}
	deleted := regexp.MustCompile(`pcapstore: deleted (\S+) \(\d+ bytes, oldest file; --write-max\)`).FindAllStringSubmatch(errs, -1)
	if len(deleted) < 3 {
		t.Fatalf("%d files deleted:\n%s", len(deleted), errs)
	}
	var total int64
	want := testpcap.MustLoad(t, sample, 0)
	for _, fs := range workerSeries(t, dir) {
		for _, f := range fs {
			fi, _ := os.Stat(f)
			total += fi.Size()
		}
		got := readSeries(t, tshark, fs, false)
		if len(got) == 0 {
			t.Errorf("%v: no packets", fs)
		}
		checkReplayed(t, filepath.Base(fs[0]), got, want)
	}
	for _, d := range deleted {
		if _, err := os.Stat(d[1]); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s reported deleted, still there", d[1])
		}
	}
	// at most one open file a worker above the limit at the end
	if total > max+2*size {
		t.Errorf("store holds %d bytes, --write-max %d", total, max)
	}
}
