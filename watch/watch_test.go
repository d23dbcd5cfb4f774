package watch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// sample is a real capture to copy into watched folders.
func sample(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/pcaps/gopacket_test_loopback.pcap")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// next is Next with a deadline: a file that should come must come within
// it (a generous bound, not a measurement); ok false when none came.
func next(t *testing.T, w *Watcher, wait time.Duration) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	p, err := w.Next(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return p, true
}

// newWatcher watches dir, closed when the test ends.
func newWatcher(t *testing.T, dir string, opt Options) *Watcher {
	t.Helper()
	w, err := New([]string{dir}, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func mustWrite(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestExistingFilesInNameOrderThenNew(t *testing.T) {
	dir := t.TempDir()
	data := sample(t)
	for _, n := range []string{"c.pcap", "a.pcap", ".hidden.pcap", "b.pcap.part", "b.pcap"} {
		mustWrite(t, filepath.Join(dir, n), data)
	}
	os.Mkdir(filepath.Join(dir, "sub"), 0o700)
	mustWrite(t, filepath.Join(dir, "sub", "x.pcap"), data)
	w := newWatcher(t, dir, Options{})
	var got []string
	for range 3 {
		p, ok := next(t, w, 10*time.Second)
		if !ok {
			t.Fatalf("after %q: no more files", got)
		}
		got = append(got, filepath.Base(p))
	}
	want := []string{"a.pcap", "b.pcap", "c.pcap"}
	if filepath.Join(got...) != filepath.Join(want...) {
		t.Fatalf("got %q, want %q (not the subfolder without Recursive, not temporary names)", got, want)
	}
	// rotated names in the order they are closed
	for _, n := range []string{"1700000001.pcap", "1700000002.pcap", "1700000003.pcap"} {
		mustWrite(t, filepath.Join(dir, n), data)
	}
	for _, n := range []string{"1700000001.pcap", "1700000002.pcap", "1700000003.pcap"} {
		p, ok := next(t, w, 10*time.Second)
		if !ok || filepath.Base(p) != n {
			t.Fatalf("got %q (%v), want %s", p, ok, n)
		}
	}
	if p, ok := next(t, w, 300*time.Millisecond); ok {
		t.Fatalf("%s handed out twice", p)
	}
}

// A file written in chunks is not handed out until its writer closes it;
// a file renamed into place is handed out at once.
func TestGrowingFileWaitsForClose(t *testing.T) {
	dir := t.TempDir()
	data := sample(t)
	w := newWatcher(t, dir, Options{})
	p := filepath.Join(dir, "growing.pcap")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(data)/2; off += 4096 {
		f.Write(data[off:min(off+4096, len(data)/2)])
		f.Sync()
	}
	// a second watcher started now finds it in its scan, open for writing
	w2 := newWatcher(t, dir, Options{})
	if got, ok := next(t, w2, 300*time.Millisecond); ok {
		t.Fatalf("scan handed out %s while it was being written", got)
	}
	if got, ok := next(t, w, 300*time.Millisecond); ok {
		t.Fatalf("handed out %s while it was being written", got)
	}
	f.Write(data[len(data)/2:])
	f.Close()
	for _, x := range []*Watcher{w, w2} {
		got, ok := next(t, x, 10*time.Second)
		if !ok || got != p {
			t.Fatalf("after close: got %q, %v", got, ok)
		}
	}
	st, _ := os.Stat(p)
	if st.Size() != int64(len(data)) {
		t.Fatalf("size %d", st.Size())
	}
	tmp := filepath.Join(dir, ".incoming")
	mustWrite(t, tmp, data)
	final := filepath.Join(dir, "moved.pcap")
	if err := os.Rename(tmp, final); err != nil {
		t.Fatal(err)
	}
	if got, ok := next(t, w, 10*time.Second); !ok || got != final {
		t.Fatalf("renamed into place: got %q, %v", got, ok)
	}
}

func TestRecursiveNewSubfolder(t *testing.T) {
	dir := t.TempDir()
	data := sample(t)
	w := newWatcher(t, dir, Options{Recursive: true})
	sub := filepath.Join(dir, "2026", "12")
	if err := os.MkdirAll(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(sub, "a.pcap")
	mustWrite(t, p, data)
	if got, ok := next(t, w, 10*time.Second); !ok || got != p {
		t.Fatalf("got %q, %v; want %s", got, ok, p)
	}
}

func TestRootRemovedIsAnError(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "w")
	os.Mkdir(dir, 0o700)
	w := newWatcher(t, dir, Options{})
	os.Remove(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := w.Next(ctx); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the folder's removal", err)
	}
}

func TestUnreadableFolder(t *testing.T) {
	for _, dir := range []string{filepath.Join(t.TempDir(), "missing"), "watch_test.go"} {
		if _, err := New([]string{dir}, Options{}); err == nil {
			t.Errorf("%s: no error", dir)
		}
	}
}

func TestNextEndsWithContext(t *testing.T) {
	w, err := New([]string{t.TempDir()}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := w.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

// TestOverflowRescan: after lost events (IN_Q_OVERFLOW) the folders are
// scanned again; files found both by the scan and by their events are
// handed out once.
func TestOverflowRescan(t *testing.T) {
	dir := t.TempDir()
	data := sample(t)
	w := newWatcher(t, dir, Options{})
	mustWrite(t, filepath.Join(dir, "b.pcap"), data)
	mustWrite(t, filepath.Join(dir, "a.pcap"), data)
	if err := w.event(-1, unix.IN_Q_OVERFLOW, ""); err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		p, ok := next(t, w, 500*time.Millisecond)
		if !ok {
			break
		}
		got = append(got, filepath.Base(p))
	}
	if len(got) != 2 || got[0] != "a.pcap" || got[1] != "b.pcap" {
		t.Fatalf("got %q, want a.pcap and b.pcap once each, in name order", got)
	}
}
