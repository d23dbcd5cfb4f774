// Package capfile reads packet records from pcap and pcapng capture files, plain or compressed.
//
// A Reader detects gzip and zstd compression by the magic number at the start
// of the data (never by file name) and then pcap or pcapng by the magic number
// of the decompressed stream. Records are returned one at a time by
// Reader.Next into a caller-owned Record; the record's Data points into the
// reader's buffer, so reading allocates nothing per packet once the buffer
// has grown to the largest record.
//
// Damage is reported as *Error carrying the file name and the byte offset of
// the record or block that could not be read. Offsets are offsets in the
// decompressed stream: for a gzip or zstd file they are positions in the
// uncompressed capture, not in the file on disk. Every record before the
// damage is returned normally.
//
// Timestamps follow Wireshark 4.0 (tshark) where files are odd: the pcap
// seconds field is unsigned, and a pcap sub-second field that is out of range
// is not normalised or rejected but converted the way wiretap does it (see
// Record.Timestamp).
package capfile

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"sync/atomic"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// DefaultRecordLimit is the largest captured length accepted for a record
// when the file does not announce a larger snapshot length. It is libpcap's
// and tcpdump's MAXIMUM_SNAPLEN, and the limit tshark applies to most link
// types.
const DefaultRecordLimit = 262144

// MaxRecordSize is the hard upper bound on a record's captured length, even
// when the file's snapshot length (pcap header or pcapng IDB) is larger. It
// bounds the memory a damaged or hostile file can make the reader allocate.
const MaxRecordSize = 16 << 20

// MaxInterfaces is the most pcapng Interface Description Blocks accepted in
// one section. The reader keeps every interface of the current section (a
// packet may refer to any of them), so a file with more is rejected with
// ErrTooLarge rather than allowed to grow that table without bound.
const MaxInterfaces = 4096

// MaxInterfaceText is the most bytes of interface names and descriptions
// (if_name and if_description, which the reader keeps as Interface.Name and
// Interface.Description) accepted in one pcapng section; a section holding
// more is rejected with ErrTooLarge. Together with MaxInterfaces it bounds
// the interface table to a few megabytes. Other options, of IDBs and of the
// Section Header Block, are not kept, so only the block size limit applies
// to them.
const MaxInterfaceText = 1 << 20

// maxBlockLen bounds pcapng block lengths: a packet of MaxRecordSize bytes
// plus generous room for options.
const maxBlockLen = MaxRecordSize + 1<<20

// maxZstdWindow bounds the zstd window (and so the decoder's memory); it is
// the zstd command's own default limit for decompression.
const maxZstdWindow = 128 << 20

// Buffer sizes: the reader starts with a buffer of defaultBufSize bytes (less
// when the whole input is known to be smaller) and grows it only when a record
// does not fit.
const (
	defaultBufSize = 1 << 20
	minBufSize     = 4 << 10
)

// Format is the container format of a capture file.
type Format int

// Container formats.
const (
	// Pcap is the classic libpcap format (microsecond, nanosecond or
	// Kuznetzov "modified" variant, either byte order).
	Pcap Format = iota + 1
	// PcapNG is the pcapng block format.
	PcapNG
)

// String returns "pcap" or "pcapng".
func (f Format) String() string {
	switch f {
	case Pcap:
		return "pcap"
	case PcapNG:
		return "pcapng"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Record is one packet record. Data is valid only until the next call to
// Next, or, when the reader is Stable, until it is closed.
type Record struct {
	Data    []byte // captured bytes
	CapLen  int    // == len(Data)
	OrigLen int    // length on the wire
	// Timestamp is Unix time in nanoseconds (exact for ns files; pcapng
	// if_tsresol/if_tsoffset honoured). For pcap files it is computed like
	// Wireshark's wiretap: seconds (unsigned 32-bit) plus a sub-second part
	// that is not range-checked; in a microsecond file the microseconds are
	// multiplied by 1000 in 32-bit arithmetic and both resolutions take the
	// result as a signed 32-bit nanosecond count. For in-range values this
	// is simply the exact time. Simple Packet Blocks have no timestamp and
	// report 0.
	Timestamp int64
	// TimestampSaturated reports a pcapng timestamp that, with if_tsoffset,
	// lies outside what int64 nanoseconds can hold (years 1677 to 2262):
	// Timestamp is then the nearest limit, math.MinInt64 or math.MaxInt64,
	// instead of a value wrapped around.
	TimestampSaturated bool
	LinkType           uint16 // LINKTYPE_* of this packet's interface (pcap: the file's)
	Interface          int    // pcapng interface id within the current section (0 for pcap)
	Offset             int64  // byte offset of the record header in the (decompressed) stream
	// FramesBefore counts the pcapng Custom Blocks read since the previous
	// packet: tshark (4.0) numbers each as a frame, so a reader that
	// numbers frames as tshark does adds it before this packet's number.
	FramesBefore int
}

// Interface describes one capture interface: the pcap file header, or a
// pcapng Interface Description Block.
type Interface struct {
	// LinkType is the LINKTYPE_* value (for pcap, the low 16 bits of the
	// header's link-type field).
	LinkType uint16
	// SnapLen is the snapshot length announced for the interface (0 in
	// pcapng means "no limit").
	SnapLen uint32
	// Name and Description are the pcapng if_name and if_description
	// options ("" if absent, and always "" for pcap).
	Name        string
	Description string
	// TSResol is the raw if_tsresol value: 6 for microseconds, 9 for
	// nanoseconds, 0x80|n for 2^-n seconds. A pcap file reports 6 or 9.
	TSResol uint8
	// TSUnitsPerSecond is the number of timestamp units per second derived
	// from TSResol.
	TSUnitsPerSecond uint64
	// TSOffset is the pcapng if_tsoffset option, in seconds, added to every
	// timestamp of the interface.
	TSOffset int64
	// FCSLen is the number of frame-check-sequence bytes at the end of each
	// packet, or -1 if unknown (pcap: from the FCS bits of the link-type
	// field; pcapng: if_fcslen).
	FCSLen int
	// Section is the number of the pcapng section (0 for the first; always 0
	// for pcap).
	Section int
}

// ifState is the per-interface data the hot path needs.
type ifState struct {
	linkType uint16
	snapLen  uint32
	limit    int    // largest accepted captured length
	units    uint64 // timestamp units per second
	offSec   int64  // if_tsoffset in seconds
}

// Reader reads packet records from a capture file. It is not safe for
// concurrent use, except that BytesRead may be called from another goroutine.
type Reader struct {
	customBlocks int // Custom Blocks since the last packet (Record.FramesBefore)
	name         string
	format       Format
	compression  string
	size         int64

	file    *os.File  // closed by Close if Open opened it
	seeker  io.Seeker // the uncompressed source, if it can seek (SeekRecord)
	cnt     *countingReader
	zdec    *zstd.Decoder
	gz      *gzip.Reader
	src     io.Reader // decompressed stream
	buf     []byte
	r, w    int   // buf[r:w] holds unread data
	base    int64 // stream offset of buf[0]
	rerr    error // sticky error from src
	err     error // sticky error returned by Next
	be      bool  // big-endian file or section
	zeroRds int   // consecutive (0, nil) reads

	// pcap
	recHdr int // record header length: 16, or 24 for modified pcap
	nano   bool

	// pcap and pcapng
	ifaces  []Interface
	st      []ifState
	section int
	ifText  int // bytes of names and descriptions in ifaces (pcapng)

	// a file read through mappings (see mapped.go): buf is the last of
	// maps, which Close unmaps; buf[released:advised] was made present, and Next
	// calls advance once the reader is at adviseAt (math.MaxInt for a
	// buffered reader)
	maps     [][]byte
	advised  int
	released int // buf[:released] was taken out again
	adviseAt int
	random   bool // SeekRecord was called: no advance
}

// countingReader counts the bytes read from the underlying file.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n.Add(int64(n))
	}
	return n, err
}

// Open opens the named capture file; "-" reads standard input. gzip (1f 8b)
// and zstd (28 b5 2f fd) compression are detected by magic number, not by
// name, and then pcap or pcapng by the magic number of the decompressed data.
// Errors about the content are *Error values. The file is read through a
// buffer: Record.Data is valid until the next call to Next.
func Open(path string) (*Reader, error) { return open(path, false) }

// OpenMapped is Open that reads a regular, uncompressed file through a
// read-only memory mapping (see mapped.go): Record.Data stays valid until
// Close (Reader.Stable) and no byte is copied. Other inputs are read as Open
// reads them.
//
// A file that another process truncates or overwrites in place while it is
// mapped makes a read past its new end fault (SIGBUS), which ends the
// process unless the goroutine that reads has made faults panics
// (debug.SetPanicOnFault) and recovers from them. The caller must read the
// records, and every byte of them, only on such goroutines, as the
// pipeline's file reader, workers and flow stage do.
func OpenMapped(path string) (*Reader, error) { return open(path, true) }

func open(path string, mapped bool) (*Reader, error) {
	var f *os.File
	name := path
	if path == "-" {
		f = os.Stdin
		name = "stdin"
	} else {
		var err error
		f, err = os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("capfile: %w", err)
		}
	}
	size := fileSize(f)
	if mapped && f != os.Stdin {
		if r, err := openMapped(f, name, size); r != nil || err != nil {
			if err != nil {
				f.Close()
			}
			return r, err
		}
	}
	r, err := newReader(f, name, size)
	if err != nil {
		if f != os.Stdin {
			f.Close()
		}
		return nil, err
	}
	if f != os.Stdin {
		r.file = f
	}
	return r, nil
}

func fileSize(f *os.File) int64 {
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return -1
	}
	return st.Size()
}

// NewReader returns a Reader for the capture data in src; name is used in
// errors and returned by Name. Compression and format are detected as in
// Open. Close does not close src. Size is known if src is an *os.File for a
// regular file or has a Size() int64 method (bytes.Reader, strings.Reader,
// io.SectionReader).
func NewReader(src io.Reader, name string) (*Reader, error) {
	size := int64(-1)
	switch s := src.(type) {
	case *os.File:
		size = fileSize(s)
	case interface{ Size() int64 }:
		size = s.Size()
	}
	return newReader(src, name, size)
}

func newReader(src io.Reader, name string, size int64) (*Reader, error) {
	r := &Reader{name: name, size: size, cnt: &countingReader{r: src}, adviseAt: math.MaxInt}
	bufSize := defaultBufSize
	if size >= 0 && size < int64(bufSize) {
		bufSize = max(int(size)+64, minBufSize)
	}

	// Sniff compression on the raw bytes.
	var magic [4]byte
	n, err := io.ReadFull(r.cnt, magic[:])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, &Error{File: name, Offset: 0, Err: fmt.Errorf("reading file header: %w", err)}
	}
	raw := io.MultiReader(bytes.NewReader(magic[:n]), r.cnt)
	switch compressionOf(magic[:n]) {
	case "gzip":
		gz, err := gzip.NewReader(raw)
		if err != nil {
			return nil, &Error{File: name, Offset: 0, Err: fmt.Errorf("gzip: %w", err)}
		}
		r.gz, r.src, r.compression = gz, gz, "gzip"
		bufSize = defaultBufSize
	case "zstd":
		zd, err := zstd.NewReader(raw, zstd.WithDecoderMaxWindow(maxZstdWindow))
		if err != nil {
			return nil, &Error{File: name, Offset: 0, Err: fmt.Errorf("zstd: %w", err)}
		}
		r.zdec, r.src, r.compression = zd, zd, "zstd"
		bufSize = defaultBufSize
	default:
		r.src = raw
		if sk, ok := src.(io.Seeker); ok {
			r.seeker = sk
		}
	}
	r.buf = make([]byte, bufSize)

	if err := r.readFileHeader(); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func (r *Reader) readFileHeader() error {
	if err := r.fill(4); err != nil {
		if err == io.EOF {
			if r.w == r.r {
				return r.errAt(0, errorf(ErrNotCapture, "file is empty"))
			}
			return r.errAt(0, errorf(ErrNotCapture, "file too short for a capture file header (%d bytes)", r.w-r.r))
		}
		return r.errAt(0, fmt.Errorf("reading file header: %w", err))
	}
	m := r.buf[r.r : r.r+4]
	switch {
	case m[0] == 0x0a && m[1] == 0x0d && m[2] == 0x0d && m[3] == 0x0a:
		r.format = PcapNG
		return nil // the SHB is read by the first Next
	case m[2] == 0xb2 && m[3] == 0xa1 && (m[1] == 0xc3 && m[0] == 0xd4 || m[1] == 0x3c && m[0] == 0x4d || m[1] == 0xcd && m[0] == 0x34):
		r.be = false
	case m[0] == 0xa1 && m[1] == 0xb2 && (m[2] == 0xc3 && m[3] == 0xd4 || m[2] == 0x3c && m[3] == 0x4d || m[2] == 0xcd && m[3] == 0x34):
		r.be = true
	default:
		if what := otherFormat(m); what != "" {
			return r.errAt(0, errorf(ErrNotCapture, "%s: not supported (pcap or pcapng, plain or gzip/zstd compressed)", what))
		}
		return r.errAt(0, errorf(ErrNotCapture, "unknown magic number %02x%02x%02x%02x (not pcap or pcapng)", m[0], m[1], m[2], m[3]))
	}
	return r.readPcapHeader()
}

// otherFormat names the compressions, archives and capture formats that are
// often mistaken for pcap, by their first four bytes ("" if none).
func otherFormat(m []byte) string {
	switch {
	case bytes.HasPrefix(m, []byte{0xfd, '7', 'z', 'X'}):
		return "xz-compressed"
	case bytes.HasPrefix(m, []byte("BZh")):
		return "bzip2-compressed"
	case bytes.HasPrefix(m, []byte{0x04, 0x22, 0x4d, 0x18}):
		return "lz4-compressed"
	case bytes.HasPrefix(m, []byte{'7', 'z', 0xbc, 0xaf}):
		return "a 7-Zip archive"
	case bytes.HasPrefix(m, []byte("PK\x03\x04")):
		return "a zip archive"
	case bytes.HasPrefix(m, []byte("snoo")):
		return "a Solaris snoop capture"
	case bytes.HasPrefix(m, []byte("GMBU")):
		return "a Microsoft Network Monitor capture"
	case bytes.HasPrefix(m, []byte("XCP\x00")):
		return "a NetXRay/Sniffer capture"
	}
	return ""
}

// Name returns the file name given to Open or NewReader ("stdin" for "-").
func (r *Reader) Name() string { return r.name }

// Format returns the container format.
func (r *Reader) Format() Format { return r.format }

// Compression returns "" for an uncompressed file, or "gzip" or "zstd".
func (r *Reader) Compression() string { return r.compression }

// BytesRead returns the number of bytes consumed from the underlying
// (possibly compressed) file so far, including read-ahead; compare it with
// Size for a progress percentage. It may be called from another goroutine.
func (r *Reader) BytesRead() int64 { return r.cnt.n.Load() }

// Size returns the size of the underlying file in bytes, or -1 if unknown
// (a pipe, for example).
func (r *Reader) Size() int64 { return r.size }

// Interfaces returns the interfaces of the current section seen so far:
// for pcap the one described by the file header, for pcapng the Interface
// Description Blocks read so far in the current section. A new pcapng
// section starts a new list; the returned slice is not modified afterwards
// except by appending.
func (r *Reader) Interfaces() []Interface { return r.ifaces[:len(r.ifaces):len(r.ifaces)] }

// Close releases the decompressor, unmaps the file and closes it if Open
// opened it. It does not close the io.Reader given to NewReader.
func (r *Reader) Close() error {
	var err error
	r.seeker = nil
	r.unmap()
	if r.zdec != nil {
		r.zdec.Close()
		r.zdec = nil
	}
	if r.gz != nil {
		err = r.gz.Close()
		r.gz = nil
	}
	if r.file != nil {
		if cerr := r.file.Close(); cerr != nil && err == nil {
			err = cerr
		}
		r.file = nil
	}
	if r.err == nil {
		r.err = fmt.Errorf("capfile: %s: %w", r.name, os.ErrClosed)
	}
	if err != nil {
		return fmt.Errorf("capfile: closing %s: %w", r.name, err)
	}
	return nil
}

// Next reads the next record into rec. It returns io.EOF at the clean end of
// the file, and an *Error if the file is damaged; after an error every later
// call returns the same error. rec.Data is valid only until the next call.
func (r *Reader) Next(rec *Record) error {
	if r.err != nil {
		return r.err
	}
	var err error
	if r.format == Pcap {
		err = r.nextPcap(rec)
	} else {
		err = r.nextNG(rec)
		rec.FramesBefore, r.customBlocks = r.customBlocks, 0
	}
	if err != nil {
		r.err = err
	}
	if r.r >= r.adviseAt {
		r.advance()
	}
	return err
}

// pos returns the stream offset of the next unread byte.
func (r *Reader) pos() int64 { return r.base + int64(r.r) }

// Offset returns the byte offset in the capture data (decompressed) that
// the reader has reached: after Next, where the next record starts.
func (r *Reader) Offset() int64 { return r.pos() }

func (r *Reader) errAt(off int64, err error) error {
	return &Error{File: r.name, Offset: off, Err: err}
}

// fill makes sure at least n bytes are buffered in buf[r:w]. It returns
// io.EOF if the stream ends first (whatever was available stays buffered),
// or the read error. The buffer grows at most to twice the data actually
// present, so a record header claiming a huge length in a short file does not
// allocate its claimed size.
func (r *Reader) fill(n int) error {
	for r.w-r.r < n {
		if r.rerr != nil {
			if r.maps != nil && r.remap() {
				continue
			}
			return r.rerr
		}
		if r.w == len(r.buf) {
			if r.r > 0 {
				copy(r.buf, r.buf[r.r:r.w])
				r.base += int64(r.r)
				r.w -= r.r
				r.r = 0
			} else {
				nb := make([]byte, min(n, 2*len(r.buf)))
				copy(nb, r.buf[:r.w])
				r.buf = nb
			}
		}
		m, err := r.src.Read(r.buf[r.w:])
		r.w += m
		if err != nil {
			if err != io.EOF && r.compression != "" {
				err = fmt.Errorf("%s: %w", r.compression, err)
			}
			r.rerr = err
			continue
		}
		if m == 0 {
			r.zeroRds++
			if r.zeroRds > 100 {
				r.rerr = io.ErrNoProgress
			}
		} else {
			r.zeroRds = 0
		}
	}
	return nil
}

// need is fill for a structure of n bytes starting at the current position
// (offset off): it converts a short stream into an ErrTruncated *Error that
// names what was being read.
func (r *Reader) need(n int, off int64, what string) error {
	if r.w-r.r >= n {
		return nil
	}
	if err := r.fill(n); err != nil {
		if err == io.EOF {
			return r.errAt(off, errorf(ErrTruncated, "%s truncated: needs %d bytes, only %d left in file", what, n, r.w-r.r))
		}
		return r.errAt(off, fmt.Errorf("reading %s: %w", what, err))
	}
	return nil
}

// skip discards n bytes.
func (r *Reader) skip(n int64, off int64, what string) error {
	for n > 0 {
		if r.w == r.r {
			if err := r.fill(1); err != nil {
				if err == io.EOF {
					return r.errAt(off, errorf(ErrTruncated, "%s truncated: %d bytes missing at end of file", what, n))
				}
				return r.errAt(off, fmt.Errorf("reading %s: %w", what, err))
			}
		}
		k := int64(r.w - r.r)
		if k > n {
			k = n
		}
		r.r += int(k)
		n -= k
	}
	return nil
}

func (r *Reader) u16(b []byte) uint16 {
	if r.be {
		return uint16(b[1]) | uint16(b[0])<<8
	}
	return uint16(b[0]) | uint16(b[1])<<8
}

func (r *Reader) u32(b []byte) uint32 {
	_ = b[3]
	if r.be {
		return uint32(b[3]) | uint32(b[2])<<8 | uint32(b[1])<<16 | uint32(b[0])<<24
	}
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func (r *Reader) u64(b []byte) uint64 {
	if r.be {
		return uint64(r.u32(b))<<32 | uint64(r.u32(b[4:]))
	}
	return uint64(r.u32(b)) | uint64(r.u32(b[4:]))<<32
}

// recordLimit is the largest captured length accepted for an interface with
// the given snapshot length.
func recordLimit(snap uint32) int {
	if int64(snap) <= DefaultRecordLimit {
		return DefaultRecordLimit
	}
	return int(min(int64(snap), MaxRecordSize))
}
