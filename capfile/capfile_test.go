package capfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/espcap/espcap-fast/internal/pcapngtest"
)

// testdataFiles maps the captures copied into testdata/ to their path in the
// shared corpus (which selects the documented tshark exceptions). Their
// tshark output is in testdata/oracle/.
var testdataFiles = map[string]string{
	"dhcp.pcap":                      "wireshark/dhcp.pcap",                               // pcap µs LE
	"dhcp-nanosecond.pcap":           "wireshark/dhcp-nanosecond.pcap",                    // pcap ns LE
	"bigendian.pcap":                 "arkime/bigendian.pcap",                             // pcap µs BE
	"pcapng-multi-interface.pcapng":  "zeek/pcapng-multi-interface.pcapng",                // ns and µs interfaces
	"test202.pcapng":                 "pcapng-format/le/test202.pcapng",                   // 3 sections, both byte orders, SPB, custom blocks
	"extra.pcapng":                   "brimcap-malformed/extra.pcapng",                    // cut short
	"tls_DER-incomplete-header.pcap": "suricata-malformed/tls_DER-incomplete-header.pcap", // 4 MiB record
	"bad-caplen.pcap":                "brimcap-malformed/bad-caplen.pcap",                 // caplen > origlen
	"timestamp_invalid_nano.pcap":    "tcpdump-malformed/timestamp_invalid_nano.pcap",     // ns field >= 1e9
	"juniper_es_oobr.pcap":           "tcpdump-malformed/juniper_es_oobr.pcap",            // FCS bits in link type
}

func testdataPath(name string) string { return filepath.Join("testdata", name) }

func TestTestdataOracle(t *testing.T) {
	for name, rel := range testdataFiles {
		t.Run(name, func(t *testing.T) {
			checkOracle(t, rel, testdataPath(name), testdataPath(filepath.Join("oracle", name+".tsv")))
		})
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(testdataPath(name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readBytes reads capture data from memory.
func readBytes(data []byte, name string) ([]gotRec, *Reader, error) {
	r, err := NewReader(bytes.NewReader(data), name)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	recs, err := readAllReader(r)
	return recs, r, err
}

func TestFormats(t *testing.T) {
	cases := []struct {
		name   string
		format Format
		link   int // -1: not checked
		n      int
	}{
		{"dhcp.pcap", Pcap, 1, 4},
		{"dhcp-nanosecond.pcap", Pcap, 1, 4},
		{"bigendian.pcap", Pcap, 1, 2},
		{"pcapng-multi-interface.pcapng", PcapNG, 1, 6},
		{"test202.pcapng", PcapNG, -1, 8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Open(testdataPath(c.name))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.Format() != c.format || r.Compression() != "" || r.Name() != testdataPath(c.name) {
				t.Errorf("format %v compression %q name %q", r.Format(), r.Compression(), r.Name())
			}
			fi, _ := os.Stat(testdataPath(c.name))
			if r.Size() != fi.Size() {
				t.Errorf("Size %d, want %d", r.Size(), fi.Size())
			}
			recs, err := readAllReader(r)
			if err != nil || len(recs) != c.n {
				t.Fatalf("%d records, err %v; want %d", len(recs), err, c.n)
			}
			for i, g := range recs {
				if c.link >= 0 && int(g.link) != c.link {
					t.Errorf("record %d: link type %d", i, g.link)
				}
			}
			if r.BytesRead() != fi.Size() {
				t.Errorf("BytesRead %d at EOF, want %d", r.BytesRead(), fi.Size())
			}
			// EOF is sticky.
			var rec Record
			if err := r.Next(&rec); err != io.EOF {
				t.Errorf("second Next at end: %v", err)
			}
		})
	}
}

// TestSamePackets: the same 4 DHCP packets in µs and ns pcap.
func TestSamePackets(t *testing.T) {
	us, _, err := readAllFile(testdataPath("dhcp.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	ns, r, err := readAllFile(testdataPath("dhcp-nanosecond.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Interfaces()[0].TSUnitsPerSecond != 1e9 || r.Interfaces()[0].TSResol != 9 {
		t.Errorf("ns file interface %+v", r.Interfaces()[0])
	}
	if len(us) != 4 || len(ns) != 4 {
		t.Fatalf("%d and %d records", len(us), len(ns))
	}
	for i := range us {
		if us[i].sum != ns[i].sum || us[i].origLen != ns[i].origLen || us[i].offset != ns[i].offset {
			t.Errorf("record %d differs: %+v vs %+v", i, us[i], ns[i])
		}
		if us[i].ts/1000 != ns[i].ts/1000 {
			t.Errorf("record %d: µs time %d vs ns time %d", i, us[i].ts, ns[i].ts)
		}
	}
	// Nanosecond digits survive: timestamp_invalid_nano.pcap record 1 is
	// 1418145369.999999999.
	tn, _, err := readAllFile(testdataPath("timestamp_invalid_nano.pcap"))
	if err != nil || len(tn) != 3 || tn[0].ts != 1418145369_999999999 {
		t.Errorf("ns record: %+v, %v", tn, err)
	}
	if us[0].offset != 24 || us[1].offset != 24+16+int64(us[0].capLen) {
		t.Errorf("offsets %d %d", us[0].offset, us[1].offset)
	}
}

func TestPcapngInterfaces(t *testing.T) {
	r, err := Open(testdataPath("pcapng-multi-interface.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	recs, err := readAllReader(r)
	if err != nil {
		t.Fatal(err)
	}
	ifs := r.Interfaces()
	if len(ifs) != 2 {
		t.Fatalf("interfaces %+v", ifs)
	}
	units := map[uint64]bool{}
	for _, i := range ifs {
		units[i.TSUnitsPerSecond] = true
	}
	if !units[1e6] || !units[1e9] {
		t.Errorf("want a µs and a ns interface, got %+v", ifs)
	}
	seen := map[int]bool{}
	for _, g := range recs {
		seen[g.iface] = true
	}
	if !seen[0] || !seen[1] {
		t.Errorf("packets on interfaces %v", seen)
	}
}

// eachRecord calls fn with every record of r up to io.EOF; any other
// error fails the test.
func eachRecord(t *testing.T, r *Reader, fn func(*Record)) {
	t.Helper()
	var rec Record
	for {
		err := r.Next(&rec)
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		fn(&rec)
	}
}

func TestSections(t *testing.T) {
	r, err := Open(testdataPath("test202.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sections := map[int]bool{}
	eachRecord(t, r, func(rec *Record) {
		ifs := r.Interfaces()
		if rec.Interface >= len(ifs) {
			t.Fatalf("record on interface %d of %d", rec.Interface, len(ifs))
		}
		sections[ifs[rec.Interface].Section] = true
	})
	if len(sections) != 3 {
		t.Errorf("packets from sections %v, want 3", sections)
	}
	if n := len(r.Interfaces()); n != 2 {
		t.Errorf("last section has %d interfaces, want 2", n)
	}
}

func TestLinkTypeField(t *testing.T) {
	recs, r, err := readAllFile(testdataPath("juniper_es_oobr.pcap"))
	if err != nil || len(recs) != 1 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	ifc := r.Interfaces()[0]
	if ifc.LinkType != 132 || recs[0].link != 132 || ifc.FCSLen != 2 {
		t.Errorf("link-type field 0x30000084: got %+v", ifc)
	}
}

func TestBadCaplen(t *testing.T) {
	recs, _, err := readAllFile(testdataPath("bad-caplen.pcap"))
	if err != nil || len(recs) != 1 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	if recs[0].capLen != 84 || recs[0].origLen != 68 {
		t.Errorf("caplen %d origlen %d, want 84 and 68 (kept as in the file, like tshark)", recs[0].capLen, recs[0].origLen)
	}
}

func TestDamagedTestdata(t *testing.T) {
	cases := []struct {
		name   string
		kind   error
		offset int64
		n      int
		msg    string
	}{
		{"extra.pcapng", ErrTruncated, 12400, 27, "capfile: testdata/extra.pcapng: offset 12400: block header truncated: needs 8 bytes, only 1 left in file"},
		{"tls_DER-incomplete-header.pcap", ErrTooLarge, 5035, 6, "capfile: testdata/tls_DER-incomplete-header.pcap: offset 5035: record claims 4325376 bytes, more than the 262144-byte limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			recs, _, err := readAllFile(testdataPath(c.name))
			var ce *Error
			if !errors.As(err, &ce) || !errors.Is(err, c.kind) {
				t.Fatalf("want *Error wrapping %v, got %v", c.kind, err)
			}
			if len(recs) != c.n || ce.Offset != c.offset || ce.File != testdataPath(c.name) {
				t.Errorf("%d records, error %v; want %d records then offset %d", len(recs), err, c.n, c.offset)
			}
			if filepath.ToSlash(err.Error()) != c.msg {
				t.Errorf("message %q\nwant       %q", err.Error(), c.msg)
			}
		})
	}
}

// TestTruncateEverywhere cuts files at every length: the records wholly
// before the cut come back, then ErrTruncated at the first incomplete record
// (or io.EOF when the cut falls between records).
func TestTruncateEverywhere(t *testing.T) {
	for _, name := range []string{"dhcp.pcap", "bigendian.pcap", "pcapng-multi-interface.pcapng", "test202.pcapng"} {
		data := mustRead(t, name)
		full, _, err := readBytes(data, name)
		if err != nil {
			t.Fatal(err)
		}
		// Ends of the packet records; in pcapng non-packet blocks also end
		// cleanly, so compute the clean cut points from a block walk.
		clean := blockEnds(t, data)
		for cut := 0; cut < len(data); cut++ {
			recs, r, err := readBytes(data[:cut], name)
			if r == nil {
				// Open failed: only allowed before the first block/header.
				if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrNotCapture) {
					t.Fatalf("%s cut at %d: open error %v", name, cut, err)
				}
				if cut >= 24 && !strings.HasSuffix(name, ".pcapng") {
					t.Fatalf("%s cut at %d: open failed: %v", name, cut, err)
				}
				continue
			}
			want := 0
			for _, g := range full {
				if g.offset+int64(recLen(data, g)) <= int64(cut) {
					want++
				}
			}
			if len(recs) != want {
				t.Fatalf("%s cut at %d: %d records, want %d", name, cut, len(recs), want)
			}
			for i := range recs {
				if recs[i] != full[i] {
					t.Fatalf("%s cut at %d: record %d differs", name, cut, i)
				}
			}
			if clean[int64(cut)] {
				if err != nil {
					t.Fatalf("%s cut at %d (block boundary): %v", name, cut, err)
				}
				continue
			}
			var ce *Error
			if !errors.As(err, &ce) || !errors.Is(err, ErrTruncated) {
				t.Fatalf("%s cut at %d: want ErrTruncated, got %v", name, cut, err)
			}
			if cut > 0 && (ce.Offset > int64(cut) || ce.Offset < int64(cut)-65536) {
				t.Fatalf("%s cut at %d: error offset %d", name, cut, ce.Offset)
			}
		}
	}
}

// recLen is the length of the record or block at g.offset.
func recLen(data []byte, g gotRec) int {
	if binary.LittleEndian.Uint32(data) == blockSHB {
		var bo binary.ByteOrder = binary.LittleEndian
		// Find the byte order of the enclosing section.
		for off := 0; off < int(g.offset); {
			if binary.LittleEndian.Uint32(data[off:]) == blockSHB {
				if binary.LittleEndian.Uint32(data[off+8:]) == 0x1a2b3c4d {
					bo = binary.LittleEndian
				} else {
					bo = binary.BigEndian
				}
			}
			off += int(bo.Uint32(data[off+4:]))
		}
		return int(bo.Uint32(data[g.offset+4:]))
	}
	return 16 + g.capLen
}

// blockEnds returns the offsets at which a capture can end cleanly.
func blockEnds(t *testing.T, data []byte) map[int64]bool {
	ends := map[int64]bool{}
	if binary.LittleEndian.Uint32(data) != blockSHB {
		var bo binary.ByteOrder = binary.LittleEndian
		if data[0] == 0xa1 {
			bo = binary.BigEndian
		}
		for off := 24; off <= len(data); {
			ends[int64(off)] = true
			if off+16 > len(data) {
				break
			}
			off += 16 + int(bo.Uint32(data[off+8:]))
		}
		return ends
	}
	var bo binary.ByteOrder = binary.LittleEndian
	for off := 0; off < len(data); {
		if binary.LittleEndian.Uint32(data[off:]) == blockSHB {
			if binary.LittleEndian.Uint32(data[off+8:]) == 0x1a2b3c4d {
				bo = binary.LittleEndian
			} else {
				bo = binary.BigEndian
			}
		}
		off += int(bo.Uint32(data[off+4:]))
		ends[int64(off)] = true
	}
	// A file cut before the end of the first SHB fails in Open or Next;
	// after the first SHB every block boundary is clean.
	delete(ends, 0)
	return ends
}

// TestCompressed compresses testdata with gzip and zstd and checks that the
// records (bytes, lengths, times, offsets) and errors are the same as for
// the plain file.
func TestCompressed(t *testing.T) {
	dir := t.TempDir()
	for name := range testdataFiles {
		data := mustRead(t, name)
		plain, _, plainErr := readAllFile(testdataPath(name))
		for _, comp := range []string{"gzip", "zstd"} {
			var buf bytes.Buffer
			switch comp {
			case "gzip":
				w := gzip.NewWriter(&buf)
				w.Write(data)
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
			case "zstd":
				w, err := zstd.NewWriter(&buf)
				if err != nil {
					t.Fatal(err)
				}
				w.Write(data)
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
			}
			// The name says nothing about compression: detection is by magic.
			path := filepath.Join(dir, comp+"-"+name)
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			got, r, err := readAllFile(path)
			if r == nil {
				t.Fatalf("%s %s: %v", comp, name, err)
			}
			if r.Compression() != comp || r.Size() != int64(buf.Len()) {
				t.Errorf("%s %s: Compression %q Size %d", comp, name, r.Compression(), r.Size())
			}
			if plainErr == nil && (err != nil || r.BytesRead() != int64(buf.Len())) {
				t.Errorf("%s %s: err %v, BytesRead %d of %d", comp, name, err, r.BytesRead(), buf.Len())
			}
			if len(got) != len(plain) {
				t.Fatalf("%s %s: %d records, plain %d", comp, name, len(got), len(plain))
			}
			for i := range got {
				if got[i] != plain[i] {
					t.Errorf("%s %s: record %d: %+v, plain %+v", comp, name, i, got[i], plain[i])
				}
			}
			var ce, pe *Error
			if errors.As(plainErr, &pe) {
				if !errors.As(err, &ce) || ce.Offset != pe.Offset || !errors.Is(err, errors.Unwrap(pe.Err)) {
					t.Errorf("%s %s: error %v, plain %v", comp, name, err, plainErr)
				}
			}
		}
	}
}

// pcapFile builds a little-endian µs pcap with the given snaplen and records.
func pcapFile(snap uint32, link uint32, recs ...[]byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0xa1b2c3d4)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 4)
	b = append(b, make([]byte, 8)...)
	b = binary.LittleEndian.AppendUint32(b, snap)
	b = binary.LittleEndian.AppendUint32(b, link)
	for i, d := range recs {
		b = binary.LittleEndian.AppendUint32(b, 1700000000+uint32(i))
		b = binary.LittleEndian.AppendUint32(b, 123456)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(d)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(d)))
		b = append(b, d...)
	}
	return b
}

func TestRecordLimit(t *testing.T) {
	big := make([]byte, 300000)
	big[len(big)-1] = 0xaa
	small := []byte{1, 2, 3}

	// The default limit: 262144 bytes, whatever a smaller snaplen says.
	data := pcapFile(65535, 1, small, big, small)
	recs, _, err := readBytes(data, "x.pcap")
	var ce *Error
	if len(recs) != 1 || !errors.As(err, &ce) || !errors.Is(err, ErrTooLarge) || ce.Offset != 24+16+3 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	if want := "capfile: x.pcap: offset 43: record claims 300000 bytes, more than the 262144-byte limit"; err.Error() != want {
		t.Errorf("message %q, want %q", err.Error(), want)
	}

	// A snaplen above 262144 raises the limit...
	data = pcapFile(1<<20, 1, small, big, small)
	recs, _, err = readBytes(data, "x.pcap")
	if err != nil || len(recs) != 3 || recs[1].capLen != len(big) || recs[1].sum != fnv(big) {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	// ...but never above MaxRecordSize.
	data = pcapFile(0xffffffff, 1, small)
	binary.LittleEndian.PutUint32(data[24+8:], MaxRecordSize+1)
	_, _, err = readBytes(data, "x.pcap")
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("record of MaxRecordSize+1: %v", err)
	}
	// A 16 MiB claim in a short file must not allocate 16 MiB.
	data = pcapFile(0xffffffff, 1, small)
	binary.LittleEndian.PutUint32(data[24+8:], MaxRecordSize)
	r, err := NewReader(bytes.NewReader(data), "x.pcap")
	if err != nil {
		t.Fatal(err)
	}
	var rec Record
	if err := r.Next(&rec); !errors.Is(err, ErrTruncated) {
		t.Fatalf("want ErrTruncated, got %v", err)
	}
	if cap(r.buf) > 1<<16 {
		t.Errorf("buffer grew to %d bytes for a %d-byte file", cap(r.buf), len(data))
	}
}

func TestModifiedPcap(t *testing.T) {
	// Convert dhcp.pcap to Kuznetzov's modified format: magic a1b2cd34 and
	// 8 more bytes (ifindex, protocol, pkt_type, pad) per record header.
	data := mustRead(t, "dhcp.pcap")
	want, _, err := readBytes(data, "dhcp.pcap")
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte(nil), data[:24]...)
	binary.LittleEndian.PutUint32(out, 0xa1b2cd34)
	for off := 24; off < len(data); {
		n := int(binary.LittleEndian.Uint32(data[off+8:]))
		out = append(out, data[off:off+16]...)
		out = append(out, 2, 0, 0, 0, 0x08, 0x00, 0, 0)
		out = append(out, data[off+16:off+16+n]...)
		off += 16 + n
	}
	got, _, err := readBytes(out, "mod.pcap")
	if err != nil || len(got) != len(want) {
		t.Fatalf("%d records, %v", len(got), err)
	}
	for i := range got {
		if got[i].sum != want[i].sum || got[i].ts != want[i].ts || got[i].offset != want[i].offset+8*int64(i) {
			t.Errorf("record %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// Crafted pcapng blocks (see internal/pcapngtest).
var (
	ngBlock = pcapngtest.Block
	ngOpt   = pcapngtest.Option
	ngSHB   = pcapngtest.Section
	ngIDB   = pcapngtest.Interface
)

// ngEPB is an Enhanced Packet Block whose original length is 10 bytes more
// than the captured data.
func ngEPB(ifid uint32, ts uint64, data []byte) []byte {
	return pcapngtest.Packet(ifid, ts, data, len(data)+10)
}

func TestTimestampResolution(t *testing.T) {
	tsoff := binary.LittleEndian.AppendUint64(nil, uint64(1000))
	var file []byte
	file = append(file, ngSHB()...)
	file = append(file, ngIDB(1, 0, ngOpt(optIfName, []byte("eth0")), ngOpt(optTSResol, []byte{0x80 | 20}), ngOpt(optTSOffset, tsoff))...) // 2^-20 s
	file = append(file, ngIDB(101, 0, ngOpt(optTSResol, []byte{3}))...)                                                                    // ms
	file = append(file, ngIDB(1, 0, ngOpt(optTSResol, []byte{19}))...)                                                                     // 10^-19 s
	file = append(file, ngEPB(0, 5<<20|1<<19, []byte("abc"))...)                                                                           // 5.5 s + 1000 s
	file = append(file, ngEPB(1, 1700000000123, []byte("defg"))...)
	file = append(file, ngEPB(2, 17_000_000_001_234_567_891, []byte("x"))...) // 1.7 s + sub-ns
	recs, r, err := readBytes(file, "synthetic.pcapng")
	if err != nil || len(recs) != 3 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	wantTS := []int64{1005_500_000_000, 1700000000_123_000_000, 1_700_000_000}
	wantLink := []uint16{1, 101, 1}
	for i, g := range recs {
		if g.ts != wantTS[i] || g.link != wantLink[i] || g.iface != i || g.origLen != g.capLen+10 {
			t.Errorf("record %d: %+v, want ts %d link %d", i, g, wantTS[i], wantLink[i])
		}
	}
	ifs := r.Interfaces()
	if ifs[0].Name != "eth0" || ifs[0].TSOffset != 1000 || ifs[0].TSUnitsPerSecond != 1<<20 || ifs[1].TSUnitsPerSecond != 1000 {
		t.Errorf("interfaces %+v", ifs)
	}
}

func TestCorruptPcapng(t *testing.T) {
	good := append(append(ngSHB(), ngIDB(1, 0)...), ngEPB(0, 0, []byte("hello"))...)
	epbOff := len(ngSHB()) + len(ngIDB(1, 0))
	cases := []struct {
		name  string
		patch func(b []byte)
		kind  error
	}{
		{"bad block length", func(b []byte) { binary.LittleEndian.PutUint32(b[epbOff+4:], 13) }, ErrCorrupt},
		{"trailer mismatch", func(b []byte) { binary.LittleEndian.PutUint32(b[len(b)-4:], 36) }, ErrCorrupt},
		{"unknown interface", func(b []byte) { binary.LittleEndian.PutUint32(b[epbOff+8:], 1) }, ErrCorrupt},
		{"caplen beyond block", func(b []byte) { binary.LittleEndian.PutUint32(b[epbOff+20:], 100) }, ErrCorrupt},
		{"huge caplen", func(b []byte) { binary.LittleEndian.PutUint32(b[epbOff+20:], 1<<30) }, ErrTooLarge},
		{"huge block", func(b []byte) { binary.LittleEndian.PutUint32(b[epbOff+4:], 1<<30) }, ErrTooLarge},
		{"short file", func(b []byte) { binary.LittleEndian.PutUint32(b[epbOff+4:], 1<<20) }, ErrTruncated},
	}
	for _, c := range cases {
		b := append([]byte(nil), good...)
		c.patch(b)
		recs, _, err := readBytes(b, "c.pcapng")
		var ce *Error
		if len(recs) != 0 || !errors.As(err, &ce) || !errors.Is(err, c.kind) || ce.Offset != int64(epbOff) {
			t.Errorf("%s: %d records, %v; want %v at offset %d", c.name, len(recs), err, c.kind, epbOff)
		}
	}
	if recs, _, err := readBytes(good, "good.pcapng"); err != nil || len(recs) != 1 {
		t.Errorf("unpatched: %d records, %v", len(recs), err)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, c := range []struct {
		data []byte
		kind error
	}{
		{nil, ErrNotCapture},
		{[]byte("GET / HTTP/1.1\r\n\r\n"), ErrNotCapture},
		{[]byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0}, ErrTruncated},
		{[]byte{0xd4, 0xc3, 0xb2, 0xa1, 3, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0}, ErrUnsupported},
	} {
		_, err := NewReader(bytes.NewReader(c.data), "bad")
		var ce *Error
		if !errors.As(err, &ce) || !errors.Is(err, c.kind) || ce.File != "bad" || ce.Offset != 0 {
			t.Errorf("%q: %v, want %v", c.data, err, c.kind)
		}
	}
	// formats often mistaken for pcap are named as such
	for _, c := range []struct {
		data []byte
		name string
	}{
		{[]byte{0xfd, '7', 'z', 'X', 'Z', 0, 0, 4}, "xz-compressed"},
		{[]byte("BZh91AY&SY"), "bzip2-compressed"},
		{[]byte("PK\x03\x04\x14\x00\x00\x00"), "zip archive"},
		{[]byte{'7', 'z', 0xbc, 0xaf, 0x27, 0x1c, 0, 4}, "7-Zip archive"},
		{[]byte{0x04, 0x22, 0x4d, 0x18, 0x64, 0x40}, "lz4-compressed"},
		{[]byte("snoop\x00\x00\x00\x00\x00\x00\x02"), "snoop capture"},
	} {
		_, err := NewReader(bytes.NewReader(c.data), "x")
		if !errors.Is(err, ErrNotCapture) || !strings.Contains(err.Error(), c.name+": not supported") {
			t.Errorf("%q: %v, want %q named", c.data, err, c.name)
		}
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing.pcap")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	// A damaged gzip stream is an *Error too.
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(mustRead(t, "dhcp.pcap"))
	w.Close()
	b := buf.Bytes()
	b[len(b)/2] ^= 0xff
	_, _, err := readBytes(b, "bad.gz")
	var ce *Error
	if !errors.As(err, &ce) {
		t.Errorf("corrupt gzip: %v", err)
	}
}

// manyRecords builds an in-memory pcap (and pcapng) holding the records of
// dhcp.pcap n times over.
func manyRecords(t testing.TB, n int) (pcap, pcapng []byte) {
	data, err := os.ReadFile(testdataPath("dhcp.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	pcap = append(pcap, data[:24]...)
	pcapng = append(append(pcapng, ngSHB()...), ngIDB(1, 0, ngOpt(optTSResol, []byte{9}))...)
	for range n {
		pcap = append(pcap, data[24:]...)
		for off := 24; off < len(data); {
			l := int(binary.LittleEndian.Uint32(data[off+8:]))
			pcapng = append(pcapng, ngEPB(0, uint64(off)*1e9, data[off+16:off+16+l])...)
			off += 16 + l
		}
	}
	return pcap, pcapng
}

// TestZeroAlloc checks that Next allocates nothing per record.
func TestZeroAlloc(t *testing.T) {
	pcap, pcapng := manyRecords(t, 300)
	for _, data := range [][]byte{pcap, pcapng} {
		r, err := NewReader(bytes.NewReader(data), "many")
		if err != nil {
			t.Fatal(err)
		}
		var rec Record
		if err := r.Next(&rec); err != nil { // warm-up
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(1000, func() {
			if err := r.Next(&rec); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%v: %.2f allocations per record", r.Format(), allocs)
		}
	}
}
