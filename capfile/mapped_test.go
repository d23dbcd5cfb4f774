package capfile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// readRecords reads every record of r, and the error that ended the read
// (nil at the clean end); clone copies each record's Data (for a reader
// that is not Stable).
func readRecords(r *Reader, clone bool) ([]Record, error) {
	var out []Record
	for {
		var rec Record
		err := r.Next(&rec)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if clone {
			rec.Data = bytes.Clone(rec.Data)
		}
		out = append(out, rec)
	}
}

// bufferedRecords reads data (named name in errors) through a buffer
// (NewReader); the error is that of NewReader or of the read.
func bufferedRecords(data []byte, name string) ([]Record, error) {
	r, err := NewReader(bytes.NewReader(data), name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return readRecords(r, true)
}

// mappedBytes reads data as a mapped file's bytes (the parsing Open uses
// for a regular file, without a file); it reports false for compressed
// data, which Open reads through a buffer.
func mappedBytes(data []byte) (recs []Record, err error, mapped bool) {
	if compressionOf(data) != "" || len(data) == 0 {
		return nil, nil, false
	}
	r := newMapped(data, "in", int64(len(data)), nil)
	if err := r.readFileHeader(); err != nil {
		return nil, err, true
	}
	defer r.Close()
	if !r.Stable() {
		return nil, errors.New("mapped reader not Stable"), true
	}
	recs, err = readRecords(r, false)
	return recs, err, true
}

// sameRecords reports how two reads differ ("" if they do not): the same
// records, and errors with the same text (file name and offset).
func sameRecords(a []Record, aErr error, b []Record, bErr error) string {
	if len(a) != len(b) {
		return "record counts differ"
	}
	for i := range a {
		x, y := &a[i], &b[i]
		if !bytes.Equal(x.Data, y.Data) {
			return "data of a record differs"
		}
		if x.CapLen != y.CapLen || x.OrigLen != y.OrigLen || x.Timestamp != y.Timestamp ||
			x.TimestampSaturated != y.TimestampSaturated || x.LinkType != y.LinkType ||
			x.Interface != y.Interface || x.Offset != y.Offset || x.FramesBefore != y.FramesBefore {
			return "a record differs"
		}
	}
	if (aErr == nil) != (bErr == nil) || aErr != nil && aErr.Error() != bErr.Error() {
		return "errors differ: " + errString(aErr) + " / " + errString(bErr)
	}
	return ""
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

// TestMappedSameAsBuffered reads captures, whole and cut short at every
// byte, through a mapping and through a buffer: the same records, the same
// errors with the same offsets.
func TestMappedSameAsBuffered(t *testing.T) {
	inputs := map[string][]byte{}
	names, _ := filepath.Glob(filepath.Join("testdata", "*.pcap*"))
	for _, n := range names {
		inputs[filepath.Base(n)] = mustRead(t, filepath.Base(n))
	}
	inputs["many.pcap"], inputs["many.pcapng"] = manyRecords(t, 3200) // past mapChunk
	if len(inputs["many.pcap"]) < mapChunk {
		t.Fatalf("many.pcap only %d bytes", len(inputs["many.pcap"]))
	}
	for name, data := range inputs {
		want, wantErr := bufferedRecords(data, "in")
		got, err, _ := mappedBytes(data)
		if d := sameRecords(want, wantErr, got, err); d != "" {
			t.Errorf("%s: %s", name, d)
		}
	}
	for _, name := range []string{"dhcp.pcap", "test202.pcapng", "pcapng-multi-interface.pcapng"} {
		data := inputs[name]
		for cut := 1; cut < len(data); cut++ {
			want, wantErr := bufferedRecords(data[:cut], "in")
			got, err, _ := mappedBytes(data[:cut])
			if d := sameRecords(want, wantErr, got, err); d != "" {
				t.Fatalf("%s cut at %d: %s", name, cut, d)
			}
		}
	}
}

// TestOpenMapped opens every capture with Open: a plain file is read
// through a mapping (Stable), its records valid until Close; a compressed
// one through a buffer; both as NewReader reads the bytes.
func TestOpenMapped(t *testing.T) {
	names, _ := filepath.Glob(filepath.Join("testdata", "*.pcap*"))
	dir := t.TempDir()
	gz := filepath.Join(dir, "dhcp.pcap.gz")
	if err := os.WriteFile(gz, compressBytes(t, "gzip", mustRead(t, "dhcp.pcap")), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range append(names, gz) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		want, wantErr := bufferedRecords(data, path)
		r, err := OpenMapped(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if r.Stable() != (r.Compression() == "") {
			t.Errorf("%s: Stable %v with compression %q", path, r.Stable(), r.Compression())
		}
		got, err := readRecords(r, false)
		if r.Stable() {
			// (the records were not copied: they still hold)
			if d := sameRecords(want, wantErr, got, err); d != "" {
				t.Errorf("%s: %s", path, d)
			}
		} else if len(got) != len(want) || errString(err) != errString(wantErr) {
			t.Errorf("%s: %d records (%v), want %d (%v)", path, len(got), err, len(want), wantErr)
		}
		if r.BytesRead() != int64(len(data)) {
			t.Errorf("%s: BytesRead %d at the end, want %d", path, r.BytesRead(), len(data))
		}
		r.Close()
	}
}

// TestMappedGrowing reads a file that grows while it is read, with a record
// cut at the end of what was there when it was opened: the reader reads
// on into what was appended, as a buffered reader would, the records of
// the first mapping stay valid, and SeekRecord goes back into it.
func TestMappedGrowing(t *testing.T) {
	full, _ := manyRecords(t, 40)
	path := filepath.Join(t.TempDir(), "growing.pcap")
	first := len(full)/2 + 7 // mid-record
	if err := os.WriteFile(path, full[:first], 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := OpenMapped(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !r.Stable() {
		t.Fatal("not read through a mapping")
	}
	var got []Record
	for range 10 {
		var rec Record
		if err := r.Next(&rec); err != nil {
			t.Fatal(err)
		}
		got = append(got, rec)
	}
	cut := len(full) - 5 // the last record cut short
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(full[first:cut]); err != nil {
		t.Fatal(err)
	}
	f.Close()
	rest, err := readRecords(r, false)
	got = append(got, rest...)
	want, wantErr := bufferedRecords(full[:cut], path)
	if !errors.Is(wantErr, ErrTruncated) {
		t.Fatalf("buffered read: %v, want a truncated record", wantErr)
	}
	if d := sameRecords(want, wantErr, got, err); d != "" {
		t.Fatalf("%s (%d records, %d wanted)", d, len(got), len(want))
	}
	if len(r.maps) < 2 {
		t.Fatalf("%d mappings: the growth was not mapped", len(r.maps))
	}
	for _, i := range []int{3, len(want) - 2} {
		var rec Record
		if err := r.SeekRecord(want[i].Offset); err != nil {
			t.Fatal(err)
		}
		if err := r.Next(&rec); err != nil || !bytes.Equal(rec.Data, want[i].Data) || rec.Offset != want[i].Offset {
			t.Fatalf("record %d after SeekRecord: %v", i, err)
		}
	}
}

// FuzzMapped reads arbitrary bytes through a mapping and through a
// buffer: the same records and the same errors, never a read outside the
// bytes.
func FuzzMapped(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		want, wantErr := bufferedRecords(data, "in")
		got, err, mapped := mappedBytes(data)
		if !mapped {
			return
		}
		if d := sameRecords(want, wantErr, got, err); d != "" {
			t.Fatal(d)
		}
		for _, rec := range got {
			if rec.Offset < 0 || rec.Offset+int64(len(rec.Data)) > int64(len(data)) {
				t.Fatalf("record at %d with %d bytes outside the %d-byte input", rec.Offset, len(rec.Data), len(data))
			}
		}
	})
}

// TestMappedReleased reads a file longer than mapBehind, keeping every
// record without a copy: the pages far behind the reader are taken out of
// the process, and the records there still read as they were.
func TestMappedReleased(t *testing.T) {
	var recs [][]byte
	for i := range (mapBehind + 3*mapChunk) / 60000 {
		recs = append(recs, bytes.Repeat([]byte{byte(i), byte(i >> 8)}, 30000))
	}
	path := filepath.Join(t.TempDir(), "long.pcap")
	if err := os.WriteFile(path, pcapFile(65535, 1, recs...), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := OpenMapped(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := readRecords(r, false)
	if err != nil || len(got) != len(recs) {
		t.Fatalf("%d records of %d: %v", len(got), len(recs), err)
	}
	if r.released == 0 {
		t.Fatal("no page was taken out behind the reader")
	}
	for i := range got {
		if !bytes.Equal(got[i].Data, recs[i]) {
			t.Fatalf("record %d changed", i)
		}
	}
}
