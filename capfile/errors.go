package capfile

import (
	"errors"
	"fmt"
)

// Sentinel errors. An *Error returned by this package wraps one of them (or an
// I/O error from the underlying reader), so callers can test the cause with
// errors.Is.
var (
	// ErrNotCapture means the data does not start with a pcap or pcapng
	// magic number (after any gzip or zstd layer has been removed).
	ErrNotCapture = errors.New("not a pcap or pcapng capture file")
	// ErrTruncated means the file ends in the middle of a header, record or
	// block.
	ErrTruncated = errors.New("file cut short")
	// ErrTooLarge means a record claims more captured bytes than the
	// reader's limit (see MaxRecordSize and DefaultRecordLimit), or a pcapng
	// section holds more interfaces or interface text than the reader keeps
	// (see MaxInterfaces and MaxInterfaceText).
	ErrTooLarge = errors.New("capture data too large")
	// ErrCorrupt means a header, record or block holds an impossible value.
	ErrCorrupt = errors.New("corrupt capture data")
	// ErrUnsupported means a well-formed file uses a feature this package does
	// not implement (for example an unknown pcapng major version).
	ErrUnsupported = errors.New("unsupported capture format feature")
)

// Error reports a damaged or unreadable file with where it happened.
//
// Offset is a byte offset in the decompressed stream (for a compressed file it
// is not a position in the file on disk). It is the offset of the record or
// block header that could not be read, or of the file header for errors found
// while opening.
type Error struct {
	File   string // name of the file, as given to Open or NewReader
	Offset int64  // byte offset in the decompressed stream
	Err    error  // what went wrong
}

// Error formats the error as "capfile: FILE: offset N: CAUSE".
func (e *Error) Error() string {
	return fmt.Sprintf("capfile: %s: offset %d: %v", e.File, e.Offset, e.Err)
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// kindError is a message that unwraps to one of the sentinel errors, so the
// message stays readable while errors.Is still works.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

func errorf(kind error, format string, args ...any) error {
	return &kindError{msg: fmt.Sprintf(format, args...), kind: kind}
}
