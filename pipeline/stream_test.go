package pipeline

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// streamCapture is a bundled capture much larger than the 64 KiB FileID
// used to read.
const streamCapture = "../testdata/pcaps/seed_test_http.pcap"

// readPath runs the pipeline over one path and returns the documents and
// the number of files that failed.
func readPath(t *testing.T, path string) (docs int, failed uint64) {
	t.Helper()
	sink := &collectSink{}
	r, err := runFiles(t, context.Background(), Config{Workers: 1}, sink, []string{path})
	if err != nil {
		t.Fatal(err)
	}
	return sink.docs, r.Stats.FilesFailed.Load()
}

// feed writes the capture into the write end of a pipe or FIFO and closes
// it; the error, if any, arrives on the returned channel.
func feed(t *testing.T, w io.WriteCloser) <-chan error {
	data, err := os.ReadFile(streamCapture)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := w.Write(data)
		w.Close()
		done <- err
	}()
	return done
}

// TestStreams reads a capture through a named pipe and through /dev/stdin:
// every packet must arrive (the file identity used to re-open the path and
// take its first 64 KiB), and the source gets a stream id.
func TestStreams(t *testing.T) {
	want, failed := readPath(t, streamCapture)
	if want < 1000 || failed != 0 {
		t.Fatalf("regular file: %d documents, %d failed", want, failed)
	}
	t.Run("fifo", func(t *testing.T) {
		fifo := filepath.Join(t.TempDir(), "capture.fifo")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		opened := make(chan io.WriteCloser, 1)
		go func() {
			w, err := os.OpenFile(fifo, os.O_WRONLY, 0) // waits for the reader
			if err != nil {
				t.Error(err)
				close(opened)
				return
			}
			opened <- w
		}()
		result := make(chan error, 1)
		go func() {
			if w, ok := <-opened; ok {
				result <- <-feed(t, w)
			} else {
				result <- nil
			}
		}()
		got, failed := readPath(t, fifo)
		if err := <-result; err != nil {
			t.Errorf("writing the fifo: %v", err)
		}
		if got != want || failed != 0 {
			t.Errorf("fifo: %d documents, %d failed; want %d", got, failed, want)
		}
		if id := FileID(fifo); !IsStreamID(id) {
			t.Errorf("FileID(fifo) = %q, want a stream id", id)
		}
	})
	t.Run("dev-stdin", func(t *testing.T) {
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		// the pipe becomes file descriptor 0, which /dev/stdin names
		saved, err := syscall.Dup(0)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Dup3(int(pr.Fd()), 0, 0); err != nil {
			t.Fatal(err)
		}
		restored := false
		restore := func() {
			if !restored {
				restored = true
				syscall.Dup3(saved, 0, 0) // closes the pipe's read end
				syscall.Close(saved)
			}
		}
		t.Cleanup(restore)
		pr.Close()
		done := feed(t, pw)
		if id := FileID("/dev/stdin"); !IsStreamID(id) {
			t.Errorf("FileID(/dev/stdin) = %q, want a stream id", id)
		}
		got, failed := readPath(t, "/dev/stdin")
		restore() // a writer left with data to write now fails instead of waiting
		if err := <-done; err != nil {
			t.Errorf("writing the pipe: %v", err)
		}
		if got != want || failed != 0 {
			t.Errorf("/dev/stdin: %d documents, %d failed; want %d", got, failed, want)
		}
	})
	if id := FileID(streamCapture); IsStreamID(id) || len(id) != 20 {
		t.Errorf("FileID(regular file) = %q, want a 20-hex-digit content hash", id)
	}
}
