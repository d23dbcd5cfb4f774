package bulk

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/valyala/fastjson"

	"github.com/espcap/espcap-fast/internal/safefile"
)

// deadLetter appends rejected items to an NDJSON file, one line per item:
//
//	{"index":"packets-2024-01-02","_id":"…","status":400,"error":{…},"doc":{…}}
//
// A document that is not valid JSON is stored as a string in "doc_raw".
//
// The file is created (or appended to) only when the first item is written,
// so that a run without rejections leaves no empty file behind.
type deadLetter struct {
	mu   sync.Mutex
	path string
	f    *os.File
	w    *bufio.Writer
	line []byte
}

// openDeadLetter checks that path can be created (its directory exists and
// is writable, or the file exists and is writable) without creating it. The
// file holds whole documents, so it is opened like every file espcap-fast
// writes (internal/safefile): a symbolic link at path, a FIFO or a device is
// refused, and a new file is private (0600).
func openDeadLetter(path string) (*deadLetter, error) {
	if st, err := os.Lstat(path); err == nil {
		switch {
		case st.Mode()&os.ModeSymlink != 0:
			return nil, fmt.Errorf("bulk: dead-letter file %s is a symbolic link; refusing to follow it", path)
		case st.IsDir():
			return nil, fmt.Errorf("bulk: dead-letter file %s is a directory", path)
		case !st.Mode().IsRegular():
			return nil, fmt.Errorf("bulk: dead-letter file %s is not a regular file (%s)", path, st.Mode().Type())
		}
		f, err := safefile.OpenFile(path, os.O_WRONLY|os.O_APPEND)
		if err != nil {
			return nil, fmt.Errorf("bulk: dead-letter file: %w", err)
		}
		f.Close()
	} else if !os.IsNotExist(err) {
		return nil, fmt.Errorf("bulk: dead-letter file: %w", err)
	} else if st, err := os.Stat(filepath.Dir(path)); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("bulk: dead-letter file %s: directory %s does not exist", path, filepath.Dir(path))
	}
	return &deadLetter{path: path}, nil
}

// open creates the file on first use; d.mu is held.
func (d *deadLetter) open() error {
	if d.f != nil {
		return nil
	}
	f, err := safefile.Append(d.path)
	if err != nil {
		return fmt.Errorf("bulk: open dead-letter file: %w", err)
	}
	d.f, d.w = f, bufio.NewWriterSize(f, 256<<10)
	return nil
}

// write appends one line; indexLit and idLit are quoted JSON strings (idLit
// may be nil), errJSON a JSON object.
func (d *deadLetter) write(indexLit, idLit []byte, status int, errJSON, doc []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.open(); err != nil {
		return err
	}
	l := append(d.line[:0], `{"index":`...)
	l = append(l, indexLit...)
	if idLit != nil {
		l = append(l, `,"_id":`...)
		l = append(l, idLit...)
	}
	l = append(l, `,"status":`...)
	l = strconv.AppendInt(l, int64(status), 10)
	l = append(l, `,"error":`...)
	l = append(l, errJSON...)
	if fastjson.ValidateBytes(doc) == nil {
		l = append(l, `,"doc":`...)
		l = append(l, doc...)
	} else {
		l = append(l, `,"doc_raw":`...)
		l = appendJSONString(l, doc)
	}
	l = append(l, "}\n"...)
	d.line = l
	if _, err := d.w.Write(l); err != nil {
		return fmt.Errorf("bulk: write dead-letter file: %w", err)
	}
	return nil
}

func (d *deadLetter) flush() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.w == nil {
		return nil
	}
	if err := d.w.Flush(); err != nil {
		return fmt.Errorf("bulk: write dead-letter file: %w", err)
	}
	return nil
}

func (d *deadLetter) close() error {
	err := d.flush()
	if d.f == nil {
		return err
	}
	if cerr := d.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("bulk: close dead-letter file: %w", cerr)
	}
	return err
}

// deadLetterItem records one item rejected for good: counted, written to the
// dead-letter file, or logged when there is none.
func (ix *Indexer) deadLetterItem(b *batch, it *item, status int, errJSON []byte, summary string) {
	ix.dead.Add(1)
	if len(errJSON) == 0 {
		errJSON = []byte("null")
	}
	if ix.dl != nil {
		if err := ix.dl.write(b.indexLit(it), b.idLit(it), status, errJSON, b.doc(it)); err != nil {
			ix.cfg.Logf("bulk: %v; lost item %s %s: %d %s", err, b.indexLit(it), b.idLit(it), status, summary)
		}
		return
	}
	ix.cfg.Logf("bulk: rejected %s %s: %d %s", b.indexLit(it), b.idLit(it), status, summary)
}

// DeadLetter records one document that was never sent (for instance because
// the run was aborted before it could be added): it is counted as added and
// dead-lettered, and written to the dead-letter file with the error
// {"type":typ,"reason":reason} and status 0, or logged when there is none.
// It is safe for concurrent use and works until Close.
func (ix *Indexer) DeadLetter(index string, id, doc []byte, typ, reason string) error {
	ix.added.Add(1)
	ix.dead.Add(1)
	e := syntheticError(typ, reason)
	indexLit := appendJSONString(nil, index)
	var idLit []byte
	if len(id) > 0 {
		idLit = appendJSONString(nil, id)
	}
	if ix.dl == nil {
		ix.cfg.Logf("bulk: not sent %s %s: %s: %s", indexLit, idLit, typ, reason)
		return nil
	}
	if err := ix.dl.write(indexLit, idLit, 0, e, doc); err != nil {
		return err
	}
	return ix.dl.flush()
}

// syntheticError is the error JSON of an item that the server did not
// reject itself: {"type":typ,"reason":reason}.
func syntheticError(typ, reason string) []byte {
	e := appendJSONString([]byte(`{"type":`), typ)
	e = append(e, `,"reason":`...)
	e = appendJSONString(e, reason)
	return append(e, '}')
}

// abandon gives up the items of b when the indexer is aborted: they are
// dead-lettered as "aborted", or, with Config.KeepAborted, counted and left
// to the caller, who keeps them until they are answered.
func (ix *Indexer) abandon(b *batch, status int, reason string) {
	if ix.cfg.KeepAborted {
		ix.abandoned.Add(int64(len(b.items)))
		ix.cfg.Logf("bulk: abandoning %d items: %s (the caller keeps them)", len(b.items), reason)
		return
	}
	ix.deadLetterAll(b, status, "aborted", reason)
}

// deadLetterAll records every item of b with the same synthetic error.
func (ix *Indexer) deadLetterAll(b *batch, status int, typ, reason string) {
	e := syntheticError(typ, reason)
	ix.cfg.Logf("bulk: dead-lettering %d items: %s: %s", len(b.items), typ, reason)
	for i := range b.items {
		if ix.dl != nil {
			ix.deadLetterItem(b, &b.items[i], status, e, "")
		} else {
			ix.dead.Add(1)
		}
	}
	if ix.dl != nil {
		if err := ix.dl.flush(); err != nil {
			ix.cfg.Logf("bulk: %v", err)
		}
	}
}
