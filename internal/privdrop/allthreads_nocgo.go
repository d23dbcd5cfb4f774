//go:build !cgo

package privdrop

import "syscall"

// broadcast is not needed without cgo: the runtime's AllThreadsSyscall
// reaches every thread. It runs the call on the calling thread only.
func broadcast(trap, a1, a2 uintptr) error {
	if _, _, e := syscall.RawSyscall(trap, a1, a2, 0); e != 0 {
		return e
	}
	return nil
}
