//go:build linux

package capfile

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps n bytes of f from byte off (a multiple of the page size)
// read-only.
func mapFile(f *os.File, off int64, n int) ([]byte, error) {
	return unix.Mmap(int(f.Fd()), off, n, unix.PROT_READ, unix.MAP_SHARED)
}

// unmapFile undoes mapFile.
func unmapFile(m []byte) error { return unix.Munmap(m) }

// adviseSequential tells the kernel that the mapping m is read once, in
// order: it reads ahead further and drops the pages read sooner.
func adviseSequential(m []byte) { unix.Madvise(m, unix.MADV_SEQUENTIAL) }

// adviseNormal undoes adviseSequential: the kernel reads ahead as usual.
func adviseNormal(m []byte) { unix.Madvise(m, unix.MADV_NORMAL) }

// release takes the pages of m (page-aligned) out of the process: they
// stay in the page cache, and touching one again maps it again.
func release(m []byte) { unix.Madvise(m, unix.MADV_DONTNEED) }

// adviseSoon makes the kernel start reading m (page-aligned) into the page
// cache without waiting for it.
func adviseSoon(m []byte) { unix.Madvise(m, unix.MADV_WILLNEED) }

// populate maps the pages of m (page-aligned) into the process now, reading
// them if need be, so that reading them later takes no page fault (one
// system call instead of a fault per 64 KiB). It reports false where the
// kernel cannot (before Linux 5.14).
func populate(m []byte) bool { return unix.Madvise(m, unix.MADV_POPULATE_READ) == nil }

// pageSize is the granularity of mapping offsets.
var pageSize = int64(os.Getpagesize())
