package pipeline

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	espcapfast "github.com/espcap/espcap-fast"
	"github.com/espcap/espcap-fast/encode"
)

// numberSink records the frame numbers of the documents written.
type numberSink struct{ numbers map[string][]uint64 }

func (s *numberSink) Write(b *Batch) error {
	for i := range b.Len() {
		if doc, _, n := b.Doc(i); doc != nil {
			s.numbers[b.Source().Name] = append(s.numbers[b.Source().Name], n)
		}
	}
	return nil
}

// TestResumeAndOnDone reads files through the FileInput hooks: Next gives
// the files, Resume leaves one out and skips the first records of another
// (which keep their frame numbers), OnDone tells each file's record count.
func TestResumeAndOnDone(t *testing.T) {
	dir := t.TempDir()
	a := "../testdata/pcaps/seed_test_dns.pcap"
	b := "../testdata/pcaps/arkime_dns-tcp.pcap"
	junk := filepath.Join(dir, "junk.pcap")
	os.WriteFile(junk, []byte("not a capture at all, long enough to be sure"), 0o600)
	protos, err := encode.ParseProtocols(espcapfast.ProtocolsList)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		skip        map[string]uint64
		leaveOut    string
		wantFirst   map[string]uint64 // first frame number written per file
		wantWritten map[string]bool
	}{
		{"all", nil, "", map[string]uint64{a: 1, b: 1}, map[string]bool{a: true, b: true}},
		{"resume a after 5", map[string]uint64{a: 5}, "", map[string]uint64{a: 6, b: 1}, map[string]bool{a: true, b: true}},
		{"a done", nil, a, map[string]uint64{b: 1}, map[string]bool{b: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &numberSink{numbers: map[string][]uint64{}}
			r, err := New(Config{Workers: 2, Protocols: protos}, sink)
			if err != nil {
				t.Fatal(err)
			}
			queue := []string{a, junk, b}
			done := map[string]uint64{}
			var doneErr error
			in := &FileInput{
				FromDir: map[string]bool{junk: true},
				Next: func(ctx context.Context) (string, error) {
					if len(queue) == 0 {
						return "", io.EOF
					}
					p := queue[0]
					queue = queue[1:]
					return p, nil
				},
				Resume: func(p string) (uint64, bool) { return tc.skip[p], p != tc.leaveOut },
				OnDone: func(p string, n uint64, err error) {
					done[p] = n
					if p == junk {
						doneErr = err
					}
				},
			}
			if err := r.Run(context.Background(), func(f *Feeder) error { return in.Read(f, func(error) {}) }); err != nil {
				t.Fatal(err)
			}
			var fe *FileError
			if !errors.As(doneErr, &fe) || !fe.Skipped {
				t.Fatalf("junk file: OnDone got %v, want a skipped FileError", doneErr)
			}
			for _, p := range []string{a, b} {
				nums := sink.numbers[p]
				if !tc.wantWritten[p] {
					if len(nums) > 0 || done[p] != 0 {
						t.Fatalf("%s: left out, but %d documents, OnDone %d", p, len(nums), done[p])
					}
					continue
				}
				if len(nums) == 0 || nums[0] != tc.wantFirst[p] {
					t.Fatalf("%s: first frame %v, want %d", p, nums[:min(1, len(nums))], tc.wantFirst[p])
				}
				if last := nums[len(nums)-1]; done[p] != last || uint64(len(nums)) != last-tc.skip[p] {
					t.Fatalf("%s: OnDone %d, %d documents up to frame %d", p, done[p], len(nums), last)
				}
			}
		})
	}
}
