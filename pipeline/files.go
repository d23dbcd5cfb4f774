package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/espcap/espcap-fast/capfile"
	"github.com/espcap/espcap-fast/encode"
)

// ExpandDir lists the files of a directory sorted by name, descending into
// subdirectories (also sorted, in place of their name) when recursive.
func ExpandDir(dir string, recursive bool) ([]string, error) {
	paths, _, err := ExpandDirCount(dir, recursive)
	return paths, err
}

// ExpandDirCount is ExpandDir that also returns how many subdirectories
// were left out (always 0 when recursive), so that the caller can say so.
func ExpandDirCount(dir string, recursive bool) (paths []string, subdirs int, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, fmt.Errorf("reading directory: %w", err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		switch {
		case e.IsDir():
			if !recursive {
				subdirs++
				continue
			}
			sub, _, err := ExpandDirCount(p, true)
			if err != nil {
				return nil, 0, err
			}
			paths = append(paths, sub...)
		case e.Type().IsRegular() || e.Type()&fs.ModeSymlink != 0:
			paths = append(paths, p)
		}
	}
	return paths, subdirs, nil
}

// FileError is a capture file that could not be read, or not to its end.
type FileError struct {
	Name    string
	Err     error
	Skipped bool // not a capture file at all (found in a --dir scan)
}

func (e *FileError) Error() string { return e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// FileInput is a list of capture files to read.
type FileInput struct {
	Paths []string
	// FromDir marks paths found by a directory scan: a file there that is not
	// a capture at all is skipped with a warning instead of failing the run.
	FromDir map[string]bool
	// OnOpen, if set, is told of each file opened.
	OnOpen func(r *capfile.Reader)
	// Next, if set, gives the files to read instead of Paths, one at a
	// time, until it returns an error (io.EOF: no more files, read ends
	// without error). It may wait for the next file (--watch).
	Next func(ctx context.Context) (path string, err error)
	// Resume, if set, is asked before a file is opened: read false leaves
	// the file out, skip > 0 reads its first skip records without feeding
	// them (a resumed import; they keep their frame numbers).
	Resume func(path string) (skip uint64, read bool)
	// OnDone, if set, is told when a file was read to its end (err nil) or
	// to its damage or could not be opened (err the warning given), with
	// the records read including skipped ones; the sink may not have
	// seen the file's last packets yet. Not called when reading stops early.
	OnDone func(path string, records uint64, err error)
}

// next returns the i-th file to read: from Next when set, else Paths.
func (in *FileInput) next(ctx context.Context, i int) (string, error) {
	if in.Next != nil {
		return in.Next(ctx)
	}
	if i >= len(in.Paths) {
		return "", io.EOF
	}
	return in.Paths[i], nil
}

// Read feeds the packets of every file, in order, into f. A file that cannot
// be opened or is damaged is reported through warn, with its name and the
// byte offset of the damage; the packets before the damage are kept and the
// next file is read. Read returns ErrCountReached or the context's error
// when it stops early, else nil.
func (in *FileInput) Read(f *Feeder, warn func(err error)) error {
	defer panicOnFault()() // files are mapped (see fault.go)
	var rec capfile.Record
	for i := 0; ; i++ {
		if err := f.ctx.Err(); err != nil {
			return err
		}
		path, err := in.next(f.ctx, i)
		if err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		var skip uint64
		if in.Resume != nil {
			var read bool
			if skip, read = in.Resume(path); !read {
				continue
			}
		}
		r, err := capfile.OpenMapped(path)
		if err != nil {
			fe := &FileError{Name: path, Err: err}
			if in.FromDir[path] && errors.Is(err, capfile.ErrNotCapture) {
				fe.Skipped = true
			} else {
				f.r.Stats.FilesFailed.Add(1)
			}
			warn(fe)
			if in.OnDone != nil {
				in.OnDone(path, 0, fe)
			}
			continue
		}
		if in.OnOpen != nil {
			in.OnOpen(r)
		}
		pin := pinReader(r) // (nil: the records are copied)
		src := &Source{Name: path, ID: FileID(path)}
		pos := "" // pcap.file of the packets: none for a stream
		if st, err := os.Stat(path); err == nil && path != "-" {
			src.Date = string(encode.AppendDateUTC(nil, st.ModTime()))
			pos = PositionFile(path, st)
		}
		f.r.Stats.Files.Add(1)
		name := r.Name()
		f.r.Stats.Current.Store(&name)
		f.r.Stats.Size.Store(r.Size())
		if err := f.Begin(src); err != nil {
			r.Close()
			return err
		}
		var number uint64
		var names ifaceNames
		nIfaces := -1
		for {
			err = nextRecord(r, &rec)
			if err != nil {
				break
			}
			if ifs := r.Interfaces(); len(ifs) != nIfaces {
				// a new pcapng interface: names for the documents that follow
				// (a new Source keeps batches already queued unchanged)
				nIfaces = len(ifs)
				c := *src
				c.Interfaces = names.update(ifs)
				src = &c
				if err := f.Begin(src); err != nil {
					closeReader(r, pin)
					return err
				}
			}
			number += uint64(rec.FramesBefore) + 1 // tshark's frame numbers
			if number <= skip {
				continue // resumed: accepted by an earlier run
			}
			f.r.Stats.Bytes.Store(r.BytesRead())
			f.SetPosition(pos, rec.Offset)
			if err = f.AddShared(pin, rec.Data, rec.OrigLen, rec.Timestamp, number, rec.LinkType, rec.Interface, rec.TimestampSaturated); err != nil {
				closeReader(r, pin)
				return err
			}
		}
		closeReader(r, pin)
		var ferr error
		if err != io.EOF {
			f.r.Stats.FilesFailed.Add(1)
			ferr = &FileError{Name: path, Err: err}
			warn(ferr)
		}
		if in.OnDone != nil {
			in.OnDone(path, number, ferr)
		}
		if err := f.End(); err != nil {
			return err
		}
	}
}

// PositionFile returns the pcap.file of the packets read from path (st is
// its Stat): its absolute path, so that export finds it from any working
// directory, or "" when path is not a regular file (a FIFO, a device:
// reading it again would not give the same packets).
func PositionFile(path string, st fs.FileInfo) string {
	if !st.Mode().IsRegular() {
		return ""
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return ""
	}
	return abs
}

// ifaceNames is the interface-name table of the file being read. It only
// grows by appending, and every Source shares the part of it that it names,
// so a new interface costs its one name rather than a copy of the table
// (a file alternating interface blocks and packets stays linear).
type ifaceNames struct {
	names   []string
	section int
	named   bool // some interface has a name
}

// update returns the names of ifs by interface id, or nil if none has a
// name. ifs is the reader's interface list: it only grows within a section,
// and a new section starts a new table (Sources handed out keep the old one).
func (t *ifaceNames) update(ifs []capfile.Interface) []string {
	if len(ifs) < len(t.names) || len(ifs) > 0 && ifs[0].Section != t.section {
		*t = ifaceNames{}
	}
	if len(ifs) > 0 {
		t.section = ifs[0].Section
	}
	for _, in := range ifs[len(t.names):] {
		t.names = append(t.names, in.Name)
		t.named = t.named || in.Name != ""
	}
	if !t.named {
		return nil
	}
	return t.names[:len(t.names):len(t.names)]
}

// FileID identifies a capture by its content: a hash of its size and its
// first 64 KiB, so that importing the same file again (under any name, with
// either engine) gives the same document IDs. Only a regular file has such an
// identity: reading a pipe, a FIFO or a character device (/dev/stdin) twice
// would take the data from the reader, so standard input ("-") is "stdin"
// and any other stream "stdin-" and a hash of its path (see IsStreamID); the
// sink gives those per-run ids.
func FileID(path string) string {
	if path == "-" {
		return "stdin"
	}
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		return streamID(path)
	}
	// O_NONBLOCK: should the path have become a FIFO since, opening it
	// does not wait for a writer
	fh, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "path-" + path
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return streamID(path)
	}
	h := sha256.New()
	h.Write(strconv.AppendInt(nil, st.Size(), 10))
	io.Copy(h, io.LimitReader(fh, 64<<10))
	sum := h.Sum(nil)
	return hex.EncodeToString(sum[:10])
}

func streamID(path string) string {
	sum := sha256.Sum256([]byte(path))
	return "stdin-" + hex.EncodeToString(sum[:4])
}

// IsStreamID reports whether a FileID names standard input or another
// stream, which has no identity across runs.
func IsStreamID(id string) bool {
	return id == "stdin" || strings.HasPrefix(id, "stdin-")
}
