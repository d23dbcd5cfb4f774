package pcapstore

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/espcap/espcap-fast/internal/testpcap"
)

// storeBytes returns a store file holding pk, as the store writes it.
func storeBytes(t testing.TB, pk []testpcap.Packet) []byte {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(Config{Dir: dir, Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	f := writeAll(s.Writer("file", 0), pk)
	s.Close()
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRepairTail: a file cut anywhere (a crash in the middle of a write)
// is cut back to its last whole record; a whole file, a file that is not
// the store's and a file being written are left alone.
func TestRepairTail(t *testing.T) {
	pk := testpcap.MustLoad(t, pcaps+"seed_test_dns.pcap", 5)
	whole := storeBytes(t, pk)
	first := FileHeaderLen + RecordHeaderLen + len(pk[0].Data) // end of record 1
	second := first + RecordHeaderLen + len(pk[1].Data)
	other := bytes.Clone(whole)
	binary.LittleEndian.PutUint32(other, 0xa1b2c3d4) // a microsecond pcap: not ours
	for _, tc := range []struct {
		name string
		data []byte
		want int // length after
		lock bool
	}{
		{"whole", whole, len(whole), false},
		{"cut in a header", whole[:first+7], first, false},
		{"cut in the data", whole[:second-1], first, false},
		{"cut after a record", whole[:second], second, false},
		{"file header only", whole[:FileHeaderLen], FileHeaderLen, false},
		{"file header cut", whole[:10], 10, false},
		{"not the store's", other[:second-1], second - 1, false},
		{"being written", whole[:second-1], second - 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "espcap-h-file-w0-20261203T081500.123Z.pcap")
			os.WriteFile(path, tc.data, 0o600)
			if tc.lock {
				// a Writer of another process holds it
				f, _ := os.Open(path)
				defer f.Close()
				if err := lockFile(f); err != nil {
					t.Fatal(err)
				}
			}
			cut, err := repairTail(path, new(atomic.Bool))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(path)
			if len(got) != tc.want || cut != int64(len(tc.data)-tc.want) || !bytes.Equal(got, tc.data[:tc.want]) {
				t.Errorf("%d bytes left (cut %d), want %d", len(got), cut, tc.want)
			}
		})
	}
}

// TestRepairAtOpen: opening a store repairs the newest file of each
// series an earlier run left, in the background, and says so.
func TestRepairAtOpen(t *testing.T) {
	pk := testpcap.MustLoad(t, pcaps+"seed_test_dns.pcap", 5)
	whole := storeBytes(t, pk)
	dir := t.TempDir()
	older := filepath.Join(dir, "espcap-h-eth0-w0-20261203T081500.123Z.pcap")
	newest := filepath.Join(dir, "espcap-h-eth0-w0-20261203T091500.123Z.pcap")
	os.WriteFile(older, whole[:len(whole)-3], 0o600) // not the newest: left
	os.WriteFile(newest, whole[:len(whole)-3], 0o600)
	var l logs
	s, err := Open(Config{Dir: dir, Host: "h", Log: l.log})
	if err != nil {
		t.Fatal(err)
	}
	<-s.repaired
	s.Close()
	a, _ := os.ReadFile(older)
	b, _ := os.ReadFile(newest)
	want := len(whole) - RecordHeaderLen - len(pk[4].Data)
	if len(a) != len(whole)-3 || len(b) != want || !strings.Contains(l.all(), newest) {
		t.Errorf("older %d bytes, newest %d (want %d); log %s", len(a), len(b), want, l.all())
	}
	same(t, readFile(t, newest), pk[:4])
}

// FuzzWholeRecords: any file content gives either "not ours" or an end
// offset within the file from which the records walk cleanly.
func FuzzWholeRecords(f *testing.F) {
	pk := testpcap.MustLoad(f, pcaps+"seed_test_dns.pcap", 4)
	whole := storeBytes(f, pk)
	f.Add(whole)
	f.Add(whole[:len(whole)-5])
	f.Add(whole[:30])
	f.Fuzz(func(t *testing.T, b []byte) {
		end, err := wholeRecords(bufio.NewReader(bytes.NewReader(b)), new(atomic.Bool))
		if err != nil {
			t.Fatal(err)
		}
		if end < 0 {
			return
		}
		if end > int64(len(b)) || end < FileHeaderLen {
			t.Fatalf("end %d of %d bytes", end, len(b))
		}
		// the prefix is whole: walking it again ends at its end
		again, _ := wholeRecords(bufio.NewReader(bytes.NewReader(b[:end])), new(atomic.Bool))
		if again != end {
			t.Fatalf("prefix of %d bytes walks to %d", end, again)
		}
	})
}
