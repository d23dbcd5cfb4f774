package pcapstore

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/espcap/espcap-fast/internal/safefile"
)

// repairNewest repairs, in the background, the newest file of each series
// an earlier run left (the files open when it crashed): see repairTail.
// Files another process is writing are left alone. Store.Close stops it.
func (s *Store) repairNewest() {
	newest := map[string]string{} // series → newest file (s.files is in time order)
	for _, e := range s.files {
		name := filepath.Base(e.path)
		newest[name[:strings.LastIndexByte(name, '-')]] = e.path
	}
	if len(newest) == 0 {
		close(s.repaired)
		return
	}
	go func() {
		defer close(s.repaired)
		for _, path := range newest {
			cut, err := repairTail(path, &s.closing)
			switch {
			case err != nil && !errors.Is(err, os.ErrNotExist):
				s.cfg.Log(fmt.Sprintf("pcapstore: checking %s: %v", path, err))
			case cut > 0:
				s.cfg.Log(fmt.Sprintf("pcapstore: %s: %d bytes of a record cut short (an earlier run crashed) removed", path, cut))
			}
		}
	}()
}

// repairTail cuts a partial last record (a crash in the middle of a write)
// off the end of a store file: it walks the record headers from the start
// and truncates the file after the last whole record. A file that is not
// a nanosecond little-endian pcap, or that another Writer has open (it
// holds the file's lock), is left as it is. It returns the bytes cut; it
// stops early, cutting nothing, when stop is set.
func repairTail(path string, stop *atomic.Bool) (int64, error) {
	f, err := safefile.OpenFile(path, os.O_RDWR)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if lockFile(f) != nil {
		return 0, nil // being written
	}
	end, err := wholeRecords(bufio.NewReaderSize(f, 1<<20), stop)
	if err != nil || end < 0 {
		return 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if end >= fi.Size() {
		return 0, nil
	}
	if err := f.Truncate(end); err != nil {
		return 0, fmt.Errorf("truncating at offset %d: %w", end, err)
	}
	return fi.Size() - end, nil
}

// wholeRecords reads a store file and returns the offset just after its
// last whole record: the file's length when it ends cleanly. It returns -1
// when the file is not one the store writes (another magic number, or a
// record longer than the snapshot length where the walk starts), or when
// stop is set.
func wholeRecords(r *bufio.Reader, stop *atomic.Bool) (int64, error) {
	var h [FileHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil || binary.LittleEndian.Uint32(h[:]) != Magic {
		return -1, nil
	}
	off := int64(FileHeaderLen)
	var rh [RecordHeaderLen]byte
	for n := 0; ; n++ {
		if n%4096 == 0 && stop.Load() {
			return -1, nil
		}
		if _, err := io.ReadFull(r, rh[:]); err == io.EOF {
			return off, nil
		} else if err == io.ErrUnexpectedEOF {
			return off, nil // a header cut short
		} else if err != nil {
			return -1, fmt.Errorf("reading at offset %d: %w", off, err)
		}
		capLen := binary.LittleEndian.Uint32(rh[8:])
		if capLen > Snaplen {
			return -1, nil // not a record the store wrote: leave the file
		}
		if d, err := r.Discard(int(capLen)); err == io.EOF || d < int(capLen) {
			return off, nil // data cut short
		} else if err != nil {
			return -1, fmt.Errorf("reading at offset %d: %w", off, err)
		}
		off += RecordHeaderLen + int64(capLen)
	}
}

// lockFile takes the exclusive lock that marks a store file as being
// written (or repaired); it fails at once when another holds it.
func lockFile(f *os.File) error {
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
}
