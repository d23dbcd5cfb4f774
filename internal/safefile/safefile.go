// Package safefile creates and opens the files espcap-fast writes (the
// dead-letter file, spool segments, state files, pcap store files, exports)
// under the same rules: a symbolic link at the path is never followed, only
// regular files are written, new files are private (mode 0600), and an
// existing file opened for writing is made private too: when group or
// others may access it, it is tightened to 0600 if it is ours, refused if
// it is not.
package safefile

import (
	"fmt"
	"os"
	"syscall"
)

// Mode is the permission of every file espcap-fast creates.
const Mode = 0o600

// OpenFile opens path with flag (os.O_* values) like os.OpenFile, but with
// O_NOFOLLOW (a symbolic link at path is an error, not a redirection), mode
// 0600 for a new file, and refuses anything that is not a regular file (a
// FIFO, a device, a directory). O_NONBLOCK is added while opening so that a
// FIFO planted at the path cannot make the open hang. Opened for writing,
// an existing file that group or others may access (0644, 0660, ...) is
// tightened to 0600 when the process's effective uid owns it, and refused
// otherwise (what espcap-fast writes is packet data: it must not go on
// landing in a file others read, nor change someone else's file's mode).
func OpenFile(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, Mode)
	if err != nil {
		if pe, ok := err.(*os.PathError); ok && pe.Err == syscall.ELOOP {
			return nil, fmt.Errorf("%s: is a symbolic link; refusing to follow it", path)
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: not a regular file (%s); refusing to write it", path, fi.Mode().Type())
	}
	if flag&(os.O_WRONLY|os.O_RDWR) != 0 && fi.Mode().Perm()&^Mode != 0 {
		if err := tighten(f, path, fi); err != nil {
			f.Close()
			return nil, err
		}
	}
	// back to blocking mode for ordinary reads and writes
	if err := syscall.SetNonblock(int(f.Fd()), false); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// tighten makes the open file f (path, whose status is fi) mode 0600 when
// the process's effective uid owns it, else refuses it.
func tighten(f *os.File, path string, fi os.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s: no owner to check", path)
	}
	if int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s: mode %v lets others than its owner (uid %d) access it and it is not ours; refusing to write to it (chmod 600 it, or use another path)", path, fi.Mode().Perm(), st.Uid)
	}
	if err := f.Chmod(Mode); err != nil {
		return fmt.Errorf("%s: making it private (mode %v to 0600): %w", path, fi.Mode().Perm(), err)
	}
	return nil
}

// Create creates or truncates path for writing (os.Create's rules, safely).
func Create(path string) (*os.File, error) {
	return OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
}

// Append opens path for appending, creating it when missing.
func Append(path string) (*os.File, error) {
	return OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND)
}

// MkdirAll creates dir and its parents with mode 0700 (existing directories
// keep their mode).
func MkdirAll(dir string) error {
	return os.MkdirAll(dir, 0o700)
}
