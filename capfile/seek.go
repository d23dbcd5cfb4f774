package capfile

import (
	"errors"
	"fmt"
	"io"
)

// ErrNotSeekable is returned by SeekRecord for a reader that cannot jump to
// a record: a pcapng file (a packet block needs the interface blocks before
// it), a compressed file, or a stream.
var ErrNotSeekable = errors.New("capfile: not a seekable uncompressed pcap file")

// SeekRecord makes the next Next read the record whose header starts at
// byte off of an uncompressed pcap file, as Record.Offset reported it when
// the file was read before. It clears an error or end of file that Next
// returned. Nothing checks that a record starts at off: the record read
// there is only as good as the offset, and Next reports a header that
// claims an impossible length (the caller compares the timestamp, say, to
// know that it is the packet it wants). It returns ErrNotSeekable for other
// files, and an *Error for an offset inside the file header.
func (r *Reader) SeekRecord(off int64) error {
	if r.format != Pcap || r.seeker == nil && r.maps == nil {
		return ErrNotSeekable
	}
	if off < pcapHeaderLen {
		return r.errAt(off, errorf(ErrCorrupt, "offset %d is inside the %d-byte file header", off, pcapHeaderLen))
	}
	r.err = nil
	if r.maps != nil {
		r.seeking()
	}
	if off >= r.base && off <= r.base+int64(r.w) {
		// within the buffer: the source stays where it is
		r.r = int(off - r.base)
		return nil
	}
	if r.maps != nil {
		// another part of the file: mapped from there (an offset past
		// the end reads as the end)
		if !r.mapFrom(off, fileSize(r.file)) {
			r.r = r.w
		}
		return nil
	}
	if _, err := r.seeker.Seek(off, io.SeekStart); err != nil {
		return r.errAt(off, fmt.Errorf("seeking: %w", err))
	}
	r.base, r.r, r.w = off, 0, 0
	r.rerr, r.zeroRds = nil, 0
	return nil
}
