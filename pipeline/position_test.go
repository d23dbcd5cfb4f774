package pipeline

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	espcapfast "github.com/espcap/espcap-fast"
	"github.com/espcap/espcap-fast/capfile"
	"github.com/espcap/espcap-fast/encode"
)

// docSink keeps the documents.
type docSink struct{ docs [][]byte }

func (s *docSink) Write(b *Batch) error {
	for i := range b.Len() {
		if doc, _, _ := b.Doc(i); doc != nil {
			s.docs = append(s.docs, append([]byte(nil), doc...))
		}
	}
	return nil
}

// TestPositions reads capture files by a relative path: every document
// names the file by its absolute path and the offset of its record, as
// capfile reports it (the offset in the decompressed stream for gzip).
func TestPositions(t *testing.T) {
	protos, err := encode.ParseProtocols(espcapfast.ProtocolsList)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../testdata/pcaps/arkime_dns-udp.pcap")
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	gzName := filepath.Join(t.TempDir(), "dns.pcap.gz")
	if err := os.WriteFile(gzName, gz.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"../testdata/pcaps/arkime_dns-udp.pcap", "../testdata/pcaps/wireshark_many_interfaces-1.pcapng", gzName} {
		var offs []int64
		r, err := capfile.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		var rec capfile.Record
		for r.Next(&rec) == nil {
			offs = append(offs, rec.Offset)
		}
		r.Close()
		sink := &docSink{}
		run, err := New(Config{Workers: 2, Protocols: protos}, sink)
		if err != nil {
			t.Fatal(err)
		}
		in := &FileInput{Paths: []string{name}}
		if err := run.Run(context.Background(), func(f *Feeder) error { return in.Read(f, func(error) {}) }); err != nil {
			t.Fatal(err)
		}
		abs, _ := filepath.Abs(name)
		if len(sink.docs) != len(offs) || len(offs) == 0 {
			t.Fatalf("%s: %d documents, %d records", name, len(sink.docs), len(offs))
		}
		for i, d := range sink.docs {
			var doc struct {
				Pcap struct {
					File   string
					Offset int64
				}
			}
			if err := json.Unmarshal(d, &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Pcap.File != abs || doc.Pcap.Offset != offs[i] {
				t.Fatalf("%s: document %d: pcap %+v, want %s at %d", name, i+1, doc.Pcap, abs, offs[i])
			}
		}
	}
}

// TestPositionFile: a FIFO has no position (reading it again would not give
// the packets), a regular file its absolute path.
func TestPositionFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	reg := filepath.Join(dir, "x.pcap")
	if err := os.WriteFile(reg, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{fifo: "", reg: reg} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := PositionFile(path, st); got != want {
			t.Errorf("PositionFile(%s) = %q, want %q", path, got, want)
		}
	}
}
