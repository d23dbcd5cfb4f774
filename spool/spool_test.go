package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/espcap/espcap-fast/internal/need"
)

// abandon releases the files like a killed process would: no sync, no
// rescue of the batches in memory, no ack written.
func (s *Spool) abandon() {
	s.mu.Lock()
	s.closed = true
	close(s.done)
	s.closeFiles()
	s.mu.Unlock()
}

func payload(i int) []byte { return []byte(fmt.Sprintf("batch-%06d|%s", i, strings.Repeat("x", i%97))) }

func mustOpen(t *testing.T, dir string, opt Options) *Spool {
	t.Helper()
	s, err := Open(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// readN reads n batches, checks they are want..want+n-1 in order, acks them
// when ack is set, and returns the next expected index.
func readN(t *testing.T, s *Spool, want, n int, ack bool) int {
	t.Helper()
	for range n {
		b, err := s.Next(context.Background())
		if err != nil {
			t.Fatalf("Next (want batch %d): %v", want, err)
		}
		if string(b.Data) != string(payload(want)) || b.Docs != want%7+1 {
			t.Fatalf("got %q (%d docs), want batch %d", b.Data, b.Docs, want)
		}
		if ack {
			if err := s.Ack(b); err != nil {
				t.Fatal(err)
			}
		}
		want++
	}
	return want
}

func appendN(t *testing.T, s *Spool, from, n int) int {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := s.Append(payload(i), i%7+1); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
	return from + n
}

func TestOrderAcrossMemoryAndDisk(t *testing.T) {
	// MemBytes fits about 3 batches: appends spill to disk, the reader
	// drains memory, then disk, then memory again
	for _, tc := range []struct {
		name string
		opt  Options
	}{
		{"memory+disk", Options{MemBytes: 3 * 64 << 10, SegmentBytes: 4096}},
		{"disk only", Options{MemBytes: -1, SegmentBytes: 4096}},
		{"memory mostly", Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustOpen(t, t.TempDir(), tc.opt)
			defer s.Close()
			next, want := 0, 0
			for round := range 20 {
				next = appendN(t, s, next, round%9+1)
				want = readN(t, s, want, next-want-round%2, true)
			}
			want = readN(t, s, want, next-want, true)
			st := s.Stats()
			if st.Appended != st.Acked || st.Unacked != 0 {
				t.Fatalf("stats %+v", st)
			}
			if tc.opt.MemBytes != 0 && st.ToDisk == 0 {
				t.Fatal("nothing went through the disk")
			}
			if err := s.Sync(); err != nil {
				t.Fatal(err)
			}
			if st := s.Stats(); st.Bytes != 0 {
				t.Fatalf("%d bytes left on disk after everything was acknowledged", st.Bytes)
			}
		})
	}
}

func TestReopenReplaysUnacked(t *testing.T) {
	for _, crash := range []bool{false, true} {
		t.Run(fmt.Sprintf("crash=%v", crash), func(t *testing.T) {
			dir := t.TempDir()
			opt := Options{MemBytes: -1, SegmentBytes: 2048}
			s := mustOpen(t, dir, opt)
			appendN(t, s, 0, 50)
			readN(t, s, 0, 20, true)
			readN(t, s, 20, 5, false) // read, not acknowledged
			if err := s.Sync(); err != nil {
				t.Fatal(err)
			}
			if crash {
				s.abandon()
			} else if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, dir, opt)
			defer s.Close()
			if st := s.Stats(); st.Unacked != docsOf(20, 50) {
				t.Fatalf("unacked %d after reopen, want %d", st.Unacked, docsOf(20, 50))
			}
			readN(t, s, 20, 30, true)
			if _, err := nextNow(s); err == nil {
				t.Fatal("more batches than were appended")
			}
		})
	}
}

// docsOf is the number of documents of batches [from, to).
func docsOf(from, to int) int64 {
	var n int64
	for i := from; i < to; i++ {
		n += int64(i%7 + 1)
	}
	return n
}

func nextNow(s *Spool) (Batch, error) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return s.Next(ctx)
}

func TestCloseRescuesMemory(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	appendN(t, s, 0, 10)
	readN(t, s, 0, 3, true)
	readN(t, s, 3, 2, false)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir, Options{})
	defer s.Close()
	readN(t, s, 3, 7, true)
}

func TestSecondOpenLocked(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	defer s.Close()
	if _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Open: %v", err)
	}
}

// lastSegment returns the path of the newest segment in dir.
func lastSegment(t *testing.T, dir string) string {
	m, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(m) == 0 {
		t.Fatal("no segment")
	}
	return m[len(m)-1]
}

func TestCorruptTail(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(path string) error
		keep   int   // batches replayed
		offset int64 // reported
		reason string
	}{
		{"torn payload", func(p string) error { return truncateBy(p, 5) }, 9, frameOffset(9), "torn frame"},
		{"torn header", func(p string) error {
			fi, _ := os.Stat(p)
			return os.Truncate(p, fi.Size()-frameLen(len(payload(9)))+7)
		}, 9, frameOffset(9), "torn frame header"},
		{"flipped payload byte", flipAt(frameOffset(4) + 30), 4, frameOffset(4), "checksum mismatch"},
		{"flipped magic", flipAt(frameOffset(6)), 6, frameOffset(6), "bad magic"},
		{"flipped length", flipAt(frameOffset(2) + 6), 2, frameOffset(2), "payload bytes announced"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, dir, Options{MemBytes: -1})
			appendN(t, s, 0, 10)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			seg := lastSegment(t, dir)
			if err := tc.damage(seg); err != nil {
				t.Fatal(err)
			}
			var logged []string
			s = mustOpen(t, dir, Options{MemBytes: -1, Logf: func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }})
			defer s.Close()
			c := s.Corrupt()
			if len(c) != 1 || len(logged) != 1 {
				t.Fatalf("corrupt %v, logged %q", c, logged)
			}
			var ce *CorruptError
			if !errors.As(c[0], &ce) || ce.Segment != seg || ce.Offset != tc.offset || !strings.Contains(ce.Reason, tc.reason) {
				t.Fatalf("reported %v; want %s offset %d %q", c[0], seg, tc.offset, tc.reason)
			}
			if !strings.Contains(logged[0], seg) || !strings.Contains(logged[0], fmt.Sprint(tc.offset)) {
				t.Fatalf("log %q names neither segment nor offset", logged[0])
			}
			readN(t, s, 0, tc.keep, true)
			if _, err := nextNow(s); err == nil {
				t.Fatal("a batch after the corruption")
			}
			// the segment was truncated: appending continues cleanly
			appendN(t, s, tc.keep, 3)
			readN(t, s, tc.keep, 3, true)
		})
	}
}

// frameOffset is the offset of batch i in a segment holding batches 0..
func frameOffset(i int) int64 {
	var off int64
	for j := range i {
		off += frameLen(len(payload(j)))
	}
	return off
}

func truncateBy(p string, n int64) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	return os.Truncate(p, fi.Size()-n)
}

func flipAt(off int64) func(string) error {
	return func(p string) error {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		b[off] ^= 0x40
		return os.WriteFile(p, b, 0o600)
	}
}

func TestFull(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{MemBytes: -1, MaxBytes: frameOffset(5)})
	defer s.Close()
	next := 0
	for round := range 3 {
		from := next
		var err error
		for ; err == nil; next++ {
			err = s.Append(payload(next), next%7+1)
		}
		next-- // the refused one
		if !errors.Is(err, ErrFull) || next-from < 3 {
			t.Fatalf("round %d: after %d batches: %v", round, next-from, err)
		}
		if st := s.Stats(); st.Bytes > frameOffset(5) {
			t.Fatalf("%d bytes on disk, more than MaxBytes", st.Bytes)
		}
		// reading and acknowledging makes room again (Sync gives the
		// segment back)
		readN(t, s, from, next-from, true)
		if err := s.Sync(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAppendWait(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{MemBytes: -1, MaxBytes: frameOffset(3)})
	defer s.Close()
	appendN(t, s, 0, 3)
	errc := make(chan error)
	go func() { errc <- s.AppendWait(context.Background(), payload(3), 3%7+1) }()
	readN(t, s, 0, 3, true)
	if err := s.Sync(); err != nil { // gives the acknowledged segment back
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	readN(t, s, 3, 1, true)
}

func TestENOSPC(t *testing.T) {
	need.Root(t)
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", dir).CombinedOutput(); err != nil {
		need.Missing(t, "mount tmpfs: %v %s", err, out)
	}
	defer exec.Command("umount", dir).Run()
	s := mustOpen(t, dir, Options{MemBytes: -1, MaxBytes: 1 << 30})
	big := make([]byte, 60<<10)
	n := 0
	var err error
	for ; n < 100; n++ {
		binary.LittleEndian.PutUint64(big, uint64(n))
		if err = s.Append(big, 1); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrFull) || !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), ".seg") {
		t.Fatalf("after %d batches: %v; want ErrFull naming ENOSPC and the segment", n, err)
	}
	if err := s.Close(); err != nil && !errors.Is(err, syscall.ENOSPC) {
		t.Fatal(err)
	}
	// no torn frame was left behind: every batch written is replayed
	s = mustOpen(t, dir, Options{MemBytes: -1})
	defer s.Close()
	if c := s.Corrupt(); len(c) != 0 {
		t.Fatalf("corrupt segment after ENOSPC: %v", c)
	}
	for i := range n {
		b, err := nextNow(s)
		if err != nil || binary.LittleEndian.Uint64(b.Data) != uint64(i) {
			t.Fatalf("batch %d: %v", i, err)
		}
		if err := s.Ack(b); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadOnlyDir(t *testing.T) {
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		// root ignores permission bits: use a read-only mount
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
			need.Missing(t, "mount tmpfs: %v %s", err, out)
		}
		defer exec.Command("umount", dir).Run()
	} else if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, Options{})
	if err == nil || !strings.Contains(err.Error(), dir) ||
		!(errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EACCES)) {
		t.Fatalf("Open of a read-only directory: %v", err)
	}
	_, err = Open(filepath.Join(dir, "sub"), Options{})
	if err == nil || !strings.Contains(err.Error(), "sub") {
		t.Fatalf("Open under a read-only directory: %v", err)
	}
}

func TestAckErrors(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{})
	defer s.Close()
	appendN(t, s, 0, 2)
	b, err := nextNow(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(b); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(b); err == nil {
		t.Fatal("double Ack accepted")
	}
}

func TestAckOutOfOrder(t *testing.T) {
	dir := t.TempDir()
	opt := Options{MemBytes: -1}
	s := mustOpen(t, dir, opt)
	appendN(t, s, 0, 4)
	var bs []Batch
	for range 4 {
		b, err := nextNow(s)
		if err != nil {
			t.Fatal(err)
		}
		bs = append(bs, b)
	}
	// 1 and 3 answered, 0 and 2 not: nothing may be acknowledged yet
	for _, i := range []int{1, 3} {
		if err := s.Ack(bs[i]); err != nil {
			t.Fatal(err)
		}
	}
	s.abandon()
	s = mustOpen(t, dir, opt)
	defer s.Close()
	readN(t, s, 0, 4, true)
}

// TestAckTornSlot: a torn write of the ack file damages one slot; the
// other still holds the previous position.
func TestAckTornSlot(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "ack"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if p := readAck(f); p != (ackPos{}) {
		t.Fatalf("empty ack file: %+v", p)
	}
	var p ackPos
	for i, pos := range []ackPos{{seg: 3, off: 100}, {seg: 3, off: 250}, {seg: 4, off: 12}} {
		p.seg, p.off = pos.seg, pos.off
		if err := writeAck(f, &p); err != nil {
			t.Fatal(err)
		}
		if got := readAck(f); got != p {
			t.Fatalf("write %d: read %+v, want %+v", i, got, p)
		}
	}
	// tear the newest slot (generation 3 lives in slot 1)
	if _, err := f.WriteAt([]byte{0xff, 0xff}, ackSlot+10); err != nil {
		t.Fatal(err)
	}
	if got := readAck(f); got.seg != 3 || got.off != 250 || got.gen != 2 {
		t.Fatalf("after a torn slot: %+v, want the previous position 3/250", got)
	}
}
