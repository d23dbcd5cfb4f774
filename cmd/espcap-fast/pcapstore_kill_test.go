package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/espcap/espcap-fast/internal/need"
	"github.com/espcap/espcap-fast/internal/testpcap"
	"github.com/espcap/espcap-fast/ring/ringtest"
)

// TestWriteLiveKill9: kill -9 of a live capture with --write (two workers,
// 64 KiB files) while the sample is being replayed onto a veth: every file
// left is read by capfile and tshark without error, the closed ones whole
// and the open ones up to their last whole record, and holds only replayed
// packets. A kill inside a write system call (rare, so made here by hand:
// half a record appended to a worker's newest file) is repaired by the next
// run on the directory, which says so, then captures into new files: after
// it every file is whole, and the new ones hold what the kernel accepted.
func TestWriteLiveKill9(t *testing.T) {
	tshark := need.Tshark(t)
	v := ringtest.NewVeth(t)
	want := testpcap.MustLoad(t, sample, 0)
	dir := filepath.Join(t.TempDir(), "store")
	args := []string{"-i", v.Outside, "--workers", "2", "--write", dir, "--write-size", "64K",
		"--frame-timeout", "10ms", "--duration", "60s"}
	p := startLive(t, nil, args...)
	replayed := make(chan int, 1)
	go func() { replayed <- v.Replay(t, sample, "--pps=2000", "--loop=4") }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if files, _ := filepath.Glob(filepath.Join(dir, "*.pcap")); len(files) >= 8 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no rotation within 30 s: %s", p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.wait(t, 10*time.Second)
	if p.code == 0 {
		t.Fatalf("the capture ended before the kill: %s", p.stderr.String())
	}
	sent := <-replayed
	total := 0
	series := workerSeries(t, dir)
	before := map[string]bool{}
	var torn string
	for s, fs := range series {
		got := readSeries(t, tshark, fs, true)
		checkReplayed(t, s, got, want)
		total += len(got)
		for _, f := range fs {
			before[f] = true
		}
		torn = fs[len(fs)-1]
	}
	if total == 0 || total >= sent {
		t.Fatalf("%d packets stored of %d replayed before the kill", total, sent)
	}
	t.Logf("kill -9: %d of %d replayed packets in %d files", total, sent, len(before))

	// a record cut short, as a kill inside write(2) leaves
	whole, err := os.Stat(torn)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(torn, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	rec := want[0]
	half := make([]byte, 16+len(rec.Data)/2)
	putRecHeader(half, rec.Timestamp, len(rec.Data), rec.OrigLen)
	copy(half[16:], rec.Data)
	f.Write(half)
	f.Close()

	p = startLive(t, nil, args...)
	if n := v.Replay(t, sample); n != len(want) {
		t.Fatalf("tcpreplay sent %d of %d packets", n, len(want))
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t, 30*time.Second)
	errs := p.stderr.String()
	if p.code != 0 {
		t.Fatalf("the run after the kill: exit %d: %s", p.code, errs)
	}
	if !strings.Contains(errs, filepath.Base(torn)) || !strings.Contains(errs, "record cut short") {
		t.Errorf("the run after the kill did not say it repaired %s: %s", torn, errs)
	}
	if fi, err := os.Stat(torn); err != nil || fi.Size() != whole.Size() {
		t.Errorf("%s after the repair: %v, want %d bytes", torn, err, whole.Size())
	}
	k, d := kernelCounts(t, errs, v.Outside)
	added := 0
	for s, fs := range workerSeries(t, dir) {
		got := readSeries(t, tshark, fs, false) // every file whole now
		checkReplayed(t, s, got, want)
		for _, f := range fs {
			if !before[f] {
				added += len(readStoreFile(t, f, false))
			}
		}
	}
	if d != 0 || added != k || k < len(want) {
		t.Errorf("after the kill: kernel %d packets, %d dropped; %d packets in the new files", k, d, added)
	}
}

// checkReplayed checks that each packet of got is one of want's (live:
// the bytes are compared, not the times).
func checkReplayed(t *testing.T, name string, got []storedPacket, want []testpcap.Packet) {
	t.Helper()
	for i, g := range got {
		if !slices.ContainsFunc(want, func(w testpcap.Packet) bool { return bytes.Equal(w.Data, g.data) }) {
			t.Fatalf("%s: packet %d was not replayed", name, i)
		}
	}
}

// putRecHeader fills a little-endian nanosecond pcap record header.
func putRecHeader(b []byte, ts int64, capLen, origLen int) {
	le := func(o int, v uint32) { b[o], b[o+1], b[o+2], b[o+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24) }
	le(0, uint32(ts/1e9))
	le(4, uint32(ts%1e9))
	le(8, uint32(capLen))
	le(12, uint32(origLen))
}
