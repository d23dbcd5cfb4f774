package capfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/espcap/espcap-fast/internal/need"
)

// oracleRow is one packet as tshark 4.0.17 reported it.
type oracleRow struct {
	frame int
	time  string // epoch seconds, truncated to microseconds, as tshark printed it
	len   int    // original length
}

// sharedDir locates the shared capture corpus: $ESPCAP_SHARED (either the
// shared dir or its pcaps/ subdir) or ../../shared/pcaps.
func sharedDir(t testing.TB) string {
	t.Helper()
	var cands []string
	if env := os.Getenv("ESPCAP_SHARED"); env != "" {
		cands = append(cands, filepath.Join(env, "pcaps"), env)
	}
	cands = append(cands, filepath.Join("..", "..", "shared", "pcaps"))
	for _, c := range cands {
		if st, err := os.Stat(filepath.Join(c, "oracle")); err == nil && st.IsDir() {
			return c
		}
	}
	need.NoCorpus(t, "shared capture corpus not found (set ESPCAP_SHARED)")
	return ""
}

func readOracle(path string) ([]oracleRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows []oracleRow
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first {
			first = false
			if strings.HasPrefix(line, "frame\t") {
				continue
			}
		}
		if line == "" {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) < 3 {
			return nil, fmt.Errorf("%s: short line %q", path, line)
		}
		fr, err1 := strconv.Atoi(cols[0])
		l, err2 := strconv.Atoi(cols[2])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%s: bad line %q", path, line)
		}
		rows = append(rows, oracleRow{frame: fr, time: cols[1], len: l})
	}
	return rows, sc.Err()
}

// usString renders a nanosecond Unix time the way the oracle stores tshark's
// epoch time: seconds, a dot and six digits, truncated (not rounded).
func usString(ns int64) string {
	sec, frac := ns/1e9, ns%1e9
	if frac < 0 {
		// tshark prints a time before 1970 as -S.F with S and F the
		// magnitudes of the (normalised) seconds and fraction.
		return fmt.Sprintf("-%d.%06d", -sec, -frac/1000)
	}
	return fmt.Sprintf("%d.%06d", sec, frac/1000)
}

// readAll reads every record of a file, returning the records' metadata and
// the error that ended the read (nil for a clean io.EOF).
type gotRec struct {
	ts      int64
	origLen int
	capLen  int
	link    uint16
	iface   int
	offset  int64
	sum     uint64 // FNV-1a of Data
}

func fnv(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

func readAllReader(r *Reader) ([]gotRec, error) {
	var out []gotRec
	var rec Record
	for {
		err := r.Next(&rec)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if len(rec.Data) != rec.CapLen {
			return out, fmt.Errorf("record %d: len(Data)=%d, CapLen=%d", len(out)+1, len(rec.Data), rec.CapLen)
		}
		out = append(out, gotRec{rec.Timestamp, rec.OrigLen, rec.CapLen, rec.LinkType, rec.Interface, rec.Offset, fnv(rec.Data)})
	}
}

func readAllFile(path string) ([]gotRec, *Reader, error) {
	r, err := Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	recs, err := readAllReader(r)
	return recs, r, err
}

// damaged lists the files tshark itself could not read to the end, with the
// *Error this package must report: its cause, the stream offset of the bad
// record, and how many good records come before it (-1: as many as tshark
// read).
var damaged = map[string]struct {
	kind   error
	offset int64
	count  int
	reason string
}{
	// Cut short: 1 stray byte after the last complete block/record.
	"brimcap-malformed/extra.pcapng":              {ErrTruncated, 12400, -1, ""},
	"suricata-malformed/http-mime-truncated.pcap": {ErrTruncated, 2715459, -1, ""},
	// Record headers claiming more than 262144 bytes.
	"suricata-malformed/tls_DER-incomplete-header.pcap": {ErrTooLarge, 5035, -1, ""},
	"suricata-malformed/smtp-to-comma.pcap":             {ErrTooLarge, 3695, -1, ""},
	// tshark reads 2 packets: record 2 (offset 228) claims 1409179648 bytes,
	// so wiretap's open-time heuristic decides the file is the 1999
	// "SS990417" modified-libpcap variant with 24-byte record headers
	// under the standard magic, and then reads a bogus second packet
	// (caplen 1, origlen 1048576, sub-second field 4211277 µs) before
	// failing on a 16 MiB record at offset 261. libpcap/tcpdump read the
	// file as standard pcap, as we do: 1 packet, then the oversized record.
	"suricata-malformed/fuzz-6875.pcap": {ErrTooLarge, 228, 1, "tshark guesses a 24-byte-header pcap variant"},
}

// customBlocks lists, per file, the oracle frames that are pcapng Custom
// Blocks (types 0x00000BAD and 0x40000BAD). tshark 4.0 shows each as a
// "frame" without timestamp; they are not packets, and this package skips
// them like other non-packet blocks.
var customBlocks = map[string][]int{
	"pcapng-format/le/test102.pcapng": {1, 3, 8},
	"pcapng-format/be/test102.pcapng": {1, 3, 8},
	"pcapng-format/le/test202.pcapng": {1, 7, 10},
}

// tsharkExceptions lists files where this package deliberately disagrees
// with tshark 4.0.17, and why. count is the number of records this package
// returns.
var tsharkExceptions = map[string]struct {
	count  int
	reason string
}{
	// tshark refuses the whole file because it has no dissector for the
	// link type; the file itself is well formed, and a capture reader must
	// not care which link types a decoder knows.
	"tcpdump-malformed/kday6.pcap": {1, "tshark 4.0 does not support link type 182 (MFR)"},
	"tcpdump-malformed/dsa.pcap":   {8, "tshark 4.0 does not support link type 284 (DSA tag)"},
	// The link-type field is 0x30000084: Juniper ES (132) with the FCS
	// bits set. tshark 4.0 looks at all 32 bits and gives up ("network type
	// 805306500 unknown"); the pcap spec says the link type is the low 16
	// bits, which is what libpcap/tcpdump use.
	"tcpdump-malformed/juniper_es_oobr.pcap": {1, "tshark uses the whole link-type field"},
}

// timeExceptions lists packets whose timestamp tshark prints in a way that
// does not read back as the time it holds: a sub-second field of 10^9 or
// more nanoseconds. This package computes the same (seconds, nanoseconds)
// pair as wiretap, then normalises it to one int64; tshark prints the
// unnormalised pair, e.g. secs=1418145370 nsecs=1000000000 as
// "1418145370.1000000000", which the oracle truncates to ".100000".
var timeExceptions = map[string]map[int]string{
	"tcpdump-malformed/timestamp_invalid_micro.pcap": {
		// usec=1000000 -> nsecs=1e9: really 1418145371.000000.
		2: "1418145371.000000",
	},
	"tcpdump-malformed/timestamp_invalid_nano.pcap": {
		// nsec=1000000000: really 1418145371.000000.
		2: "1418145371.000000",
		// nsec=0x80000000 -> nsecs=-2147483648 (int32): tshark shows
		// "-1418145370.2147483648"; the time it holds is
		// 1418145370 - 2.147483648 s.
		3: "1418145367.852516",
	},
}

func skipCorpusFile(rel string, d fs.DirEntry) bool {
	name := d.Name()
	switch {
	case rel == "oracle" || rel == "expected" || strings.HasSuffix(rel, "/expected") || name == "tools":
		return true
	case d.IsDir():
		return false
	case strings.HasSuffix(name, ".txt"), strings.HasSuffix(name, ".md"), strings.HasSuffix(name, ".test"),
		strings.HasSuffix(name, ".json"), name == "SHA256SUMS", strings.HasSuffix(name, ".sh"):
		return true
	}
	return false
}

// TestOracle reads every capture of the shared corpus and compares the
// records with tshark's.
func TestOracle(t *testing.T) {
	dir := sharedDir(t)
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if skipCorpusFile(rel, d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 200 {
		t.Fatalf("only %d capture files found under %s", len(files), dir)
	}
	agree, excepted, pkts := 0, 0, 0
	for _, rel := range files {
		t.Run(rel, func(t *testing.T) {
			n, ex := checkOracle(t, rel, filepath.Join(dir, rel), filepath.Join(dir, "oracle", rel+".tsv"))
			if ex {
				excepted++
			}
			if !t.Failed() {
				agree++
				pkts += n
			}
		})
	}
	t.Logf("%d files: %d agree with tshark (%d packets), %d of them through documented exceptions", len(files), agree, pkts, excepted)
}

// checkOracle reads capPath and compares it with the tshark oracle at
// tsvPath, applying the documented exceptions for corpus path rel. It
// returns the number of records read and whether an exception applied.
func checkOracle(t *testing.T, rel, capPath, tsvPath string) (n int, excepted bool) {
	t.Helper()
	want, err := readOracle(tsvPath)
	if err != nil {
		t.Fatalf("no oracle: %v", err)
	}
	if cb := customBlocks[rel]; len(cb) > 0 {
		var keep []oracleRow
		for _, w := range want {
			if !slices.Contains(cb, w.frame) {
				keep = append(keep, w)
			}
		}
		if len(keep) != len(want)-len(cb) {
			t.Fatalf("custom-block frames %v not all in the oracle", cb)
		}
		want = keep
		excepted = true
	}
	if timeExceptions[rel] != nil {
		excepted = true
	}
	got, _, rerr := readAllFile(capPath)
	if ex, ok := tsharkExceptions[rel]; ok {
		excepted = true
		if len(want) != 0 {
			t.Errorf("exception listed but tshark read %d packets: %s", len(want), ex.reason)
		}
		if rerr != nil || len(got) != ex.count {
			t.Errorf("exception %q: want a clean read of %d records, got %d records, err %v", ex.reason, ex.count, len(got), rerr)
		}
		return len(got), excepted
	}
	if dm, ok := damaged[rel]; ok {
		var ce *Error
		if !errors.As(rerr, &ce) || !errors.Is(rerr, dm.kind) {
			t.Errorf("want *Error wrapping %v, got %v", dm.kind, rerr)
		} else {
			if ce.Offset != dm.offset {
				t.Errorf("error offset %d, want %d (%v)", ce.Offset, dm.offset, rerr)
			}
			if !strings.Contains(ce.Error(), filepath.Base(rel)) {
				t.Errorf("error %q does not name the file", ce.Error())
			}
		}
		if dm.count >= 0 {
			if len(want) == dm.count {
				t.Errorf("exception %q listed, but tshark agrees", dm.reason)
			}
			excepted = true
			want = want[:min(dm.count, len(want))]
		}
	} else if rerr != nil {
		t.Errorf("read error after %d records: %v", len(got), rerr)
	}
	if len(got) != len(want) {
		t.Errorf("%d records, tshark %d", len(got), len(want))
	}
	bad := 0
	for i := 0; i < len(got) && i < len(want); i++ {
		g, w := got[i], want[i]
		wt := w.time
		if ex, ok := timeExceptions[rel][w.frame]; ok {
			wt = ex
		}
		gs := usString(g.ts)
		if wt == "" && g.ts == 0 {
			// Simple Packet Block: no timestamp; tshark
			// shows none, we report 0.
			gs = ""
		}
		if gs != wt || g.origLen != w.len {
			bad++
			if bad <= 5 {
				t.Errorf("frame %d: time %s len %d, tshark %s len %d", w.frame, gs, g.origLen, w.time, w.len)
			}
		}
	}
	if bad > 5 {
		t.Errorf("... %d frames disagree in all", bad)
	}
	return len(got), excepted
}
