// Package watch finds complete capture files in folders, in order, once:
// the files already there (in name order), then each new file when its
// writer closed it (inotify IN_CLOSE_WRITE) or it was renamed into place
// (IN_MOVED_TO). A file still open for writing (tcpdump -G's current file,
// a copy in progress) is never handed out: it is waited for until its
// writer closes it. Names starting with "." and ending in ".part", ".tmp"
// or ".filepart" are temporary files of copy tools and are left out.
//
// Whether a file is open for writing is asked of the kernel with a read
// lease (fcntl F_SETLEASE F_RDLCK fails with EAGAIN while anyone has the
// file open for writing). Taking a lease needs the file's owner or
// CAP_LEASE; where neither holds, a file found by the scan is taken as
// complete, and new files are still only handed out after their close.
//
// The State (state.go) remembers across runs how far each file was
// imported, so that a restart never reads a finished file again.
package watch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fileMask are the inotify events of a watched folder.
const fileMask = unix.IN_CLOSE_WRITE | unix.IN_MOVED_TO | unix.IN_CREATE |
	unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR

// Options tune a Watcher.
type Options struct {
	// Recursive watches subfolders too (and folders created later).
	Recursive bool
	// Warn reports a problem that does not stop watching (a subfolder
	// that cannot be read, an inotify queue overflow).
	Warn func(error)
}

// Watcher hands out the complete files of its folders, each once (again
// only when it changed: a new size, time or inode).
type Watcher struct {
	opt   Options
	roots []string
	f     *os.File         // the inotify descriptor, non-blocking (deadlines work)
	fd    int              // its number (f.Fd would make it blocking)
	dirs  map[int32]string // watch descriptor → folder
	queue []string         // candidates, in order
	seen  map[string]fileKey
	buf   []byte
}

// fileKey tells whether a file changed since it was handed out.
type fileKey struct {
	dev, ino uint64
	size     int64
	mtime    int64
}

// New watches the folders roots: their files (and with Recursive, their
// subfolders' files, depth first in name order) are the first ones Next
// returns. An unreadable folder is an error.
func New(roots []string, opt Options) (*Watcher, error) {
	if opt.Warn == nil {
		opt.Warn = func(error) {}
	}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("watch: inotify: %w", err)
	}
	w := &Watcher{opt: opt, f: os.NewFile(uintptr(fd), "inotify"), fd: fd, dirs: map[int32]string{},
		seen: map[string]fileKey{}, buf: make([]byte, 64<<10)}
	for _, r := range roots {
		st, err := os.Stat(r)
		if err == nil && !st.IsDir() {
			err = errors.New("not a directory")
		}
		if err == nil {
			// the watch first, then the scan: a file closed between the
			// two is found twice, and handed out once
			err = w.add(r, true)
		}
		if err != nil {
			w.f.Close()
			return nil, fmt.Errorf("watch %s: %w", r, err)
		}
		w.roots = append(w.roots, r)
	}
	return w, nil
}

// add watches dir and queues its files (and its subfolders', recursive).
// A failure is returned for a root and warned about for a subfolder.
func (w *Watcher) add(dir string, root bool) error {
	wd, err := unix.InotifyAddWatch(w.fd, dir, fileMask)
	if err == nil {
		w.dirs[int32(wd)] = dir
		err = w.scan(dir)
	}
	if err != nil && !root {
		w.opt.Warn(fmt.Errorf("watch: folder %s: %w", dir, err))
		return nil
	}
	return err
}

// scan queues the files of dir in name order (subfolders in place of
// their name, watched, when recursive).
func (w *Watcher) scan(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		switch {
		case e.IsDir():
			if w.opt.Recursive && !w.watched(p) {
				w.add(p, false)
			}
		case e.Type().IsRegular() && !Temporary(e.Name()):
			w.queue = append(w.queue, p)
		}
	}
	return nil
}

func (w *Watcher) watched(dir string) bool {
	for _, d := range w.dirs {
		if d == dir {
			return true
		}
	}
	return false
}

// Temporary reports whether a file name is a copy tool's temporary file
// (hidden, or ending in .part, .tmp, .filepart), which is left out.
func Temporary(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".part") ||
		strings.HasSuffix(name, ".tmp") || strings.HasSuffix(name, ".filepart")
}

// Next returns the next complete file, waiting for one until ctx ends
// (then it returns ctx's error). It returns an error when a watched root
// folder was removed or moved away.
func (w *Watcher) Next(ctx context.Context) (string, error) {
	for {
		for len(w.queue) > 0 {
			p := w.queue[0]
			w.queue = w.queue[1:]
			if w.ready(p) {
				return p, nil
			}
		}
		if err := w.read(ctx); err != nil {
			return "", err
		}
	}
}

// ready reports whether p is a regular file not open for writing that
// was not handed out before as it is now, and remembers it if so.
func (w *Watcher) ready(p string) bool {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return false // gone, or a link or a folder: never followed
	}
	k := fileKey{uint64(st.Dev), st.Ino, st.Size, st.Mtim.Nano()}
	if old, ok := w.seen[p]; ok && old == k {
		return false
	}
	if OpenForWriting(p) {
		return false // its IN_CLOSE_WRITE brings it back
	}
	w.seen[p] = k
	return true
}

// OpenForWriting reports whether some process has the file at p open for
// writing, asking the kernel with a read lease. When the lease cannot be
// taken for another reason (not the file's owner, no CAP_LEASE, leases
// disabled), it reports false.
func OpenForWriting(p string) bool {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	_, err = unix.FcntlInt(uintptr(fd), unix.F_SETLEASE, unix.F_RDLCK)
	if err == nil {
		unix.FcntlInt(uintptr(fd), unix.F_SETLEASE, unix.F_UNLCK)
		return false
	}
	return errors.Is(err, unix.EAGAIN)
}

// read waits for inotify events and queues the files they name.
func (w *Watcher) read(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { w.f.SetReadDeadline(time.Now()) })
	n, err := w.f.Read(w.buf)
	stop()
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			w.f.SetReadDeadline(time.Time{})
			return nil
		}
		return fmt.Errorf("watch: reading inotify events: %w", err)
	}
	b := w.buf[:n]
	for len(b) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&b[0]))
		end := unix.SizeofInotifyEvent + int(ev.Len)
		if end > len(b) {
			break
		}
		name := strings.TrimRight(string(b[unix.SizeofInotifyEvent:end]), "\x00")
		b = b[end:]
		if err := w.event(ev.Wd, ev.Mask, name); err != nil {
			return err
		}
	}
	return nil
}

// event handles one inotify event.
func (w *Watcher) event(wd int32, mask uint32, name string) error {
	if mask&unix.IN_Q_OVERFLOW != 0 {
		w.opt.Warn(errors.New("watch: inotify queue overflow: scanning the folders again"))
		return w.rescan()
	}
	dir, ok := w.dirs[wd]
	if !ok {
		return nil
	}
	switch {
	case mask&unix.IN_IGNORED != 0:
		delete(w.dirs, wd)
		if w.isRoot(dir) {
			return fmt.Errorf("watch %s: the folder was removed", dir)
		}
		return nil
	case mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) != 0:
		if w.isRoot(dir) {
			return fmt.Errorf("watch %s: the folder was removed or moved away", dir)
		}
		return nil
	case name == "":
		return nil
	}
	p := filepath.Join(dir, name)
	if mask&unix.IN_ISDIR != 0 {
		if w.opt.Recursive && mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0 && !w.watched(p) {
			return w.add(p, false)
		}
		return nil
	}
	if mask&(unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO) != 0 && !Temporary(name) {
		w.queue = append(w.queue, p)
	}
	return nil
}

func (w *Watcher) isRoot(dir string) bool { return slices.Contains(w.roots, dir) }

// rescan queues every file of the watched folders again (after lost
// events); files handed out unchanged stay out.
func (w *Watcher) rescan() error {
	for _, r := range w.roots {
		if err := w.scan(r); err != nil {
			return fmt.Errorf("watch %s: %w", r, err)
		}
	}
	if !w.opt.Recursive {
		return nil
	}
	for _, d := range w.dirs {
		if !w.isRoot(d) {
			if err := w.scan(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
				w.opt.Warn(fmt.Errorf("watch: folder %s: %w", d, err))
			}
		}
	}
	return nil
}

// Close stops watching.
func (w *Watcher) Close() error { return w.f.Close() }
