//go:build !linux

package capfile

import (
	"errors"
	"os"
)

// mapFile fails: outside Linux files are read through a buffer.
func mapFile(*os.File, int64, int) ([]byte, error) {
	return nil, errors.New("capfile: no mmap on this system")
}

func unmapFile([]byte) error  { return nil }
func adviseSequential([]byte) {}
func adviseSoon([]byte)       {}
func populate([]byte) bool    { return false }

var pageSize = int64(os.Getpagesize())

func adviseNormal([]byte) {}

func release([]byte) {}
