// Package privdrop gives up root and every capability for good: the user
// to become is resolved with Lookup, and Drop switches the whole process
// (every thread) to that user's uid, primary gid and supplementary groups,
// with no capability left, then checks the result in /proc/self/task.
//
// File descriptors opened before the drop (packet sockets, their rings and
// filters) keep working: the kernel checks privileges when they are opened,
// not when they are used.
package privdrop

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Target is the user the process becomes.
type Target struct {
	Name   string // as given (a name or a numeric uid)
	UID    int
	GID    int   // the user's primary group
	Groups []int // supplementary groups (as initgroups(3) sets them), the primary group included
	Home   string
}

// Lookup resolves name (a user name, or a numeric uid of an existing user)
// through the system's user database: its uid, primary gid and
// supplementary groups.
func Lookup(name string) (Target, error) {
	if name == "" {
		return Target{}, errors.New("no user name given")
	}
	u, err := user.Lookup(name)
	if err != nil {
		if _, perr := strconv.Atoi(name); perr == nil {
			u, err = user.LookupId(name)
		}
	}
	var unknownName user.UnknownUserError
	var unknownID user.UnknownUserIdError
	if errors.As(err, &unknownName) || errors.As(err, &unknownID) {
		return Target{}, fmt.Errorf("no user %q on this system", name)
	}
	if err != nil {
		return Target{}, fmt.Errorf("user %q: %w", name, err)
	}
	t := Target{Name: name, Home: u.HomeDir}
	if t.UID, err = strconv.Atoi(u.Uid); err != nil {
		return Target{}, fmt.Errorf("user %q: uid %q is not a number", name, u.Uid)
	}
	if t.GID, err = strconv.Atoi(u.Gid); err != nil {
		return Target{}, fmt.Errorf("user %q: gid %q is not a number", name, u.Gid)
	}
	ids, err := u.GroupIds()
	if err != nil {
		return Target{}, fmt.Errorf("user %q: supplementary groups: %w", name, err)
	}
	t.Groups = []int{t.GID}
	for _, s := range ids {
		g, err := strconv.Atoi(s)
		if err != nil {
			return Target{}, fmt.Errorf("user %q: group id %q is not a number", name, s)
		}
		if !slices.Contains(t.Groups, g) {
			t.Groups = append(t.Groups, g)
		}
	}
	if t.UID == 0 {
		return Target{}, fmt.Errorf("user %q is root (uid 0): nothing would be dropped", name)
	}
	return t, nil
}

// lastCap is the highest capability number tried when emptying the
// bounding set (the kernel answers EINVAL past its own last one).
const lastCap = 63

// Drop makes the process t for good: supplementary groups, gid and uid
// (every thread: Go's syscall.Setgroups/Setgid/Setuid apply to all of
// them), then no capability in any set (every thread: through the runtime,
// or in a build with cgo from a signal handler on each thread). Started as root, the uid change
// itself empties the permitted, effective and ambient sets of every thread
// (no SECBIT_KEEP_CAPS); the inheritable, ambient and bounding sets are
// emptied explicitly as well. Started as t itself with file capabilities
// (setcap cap_net_raw=ep), only the capabilities are cleared. Drop fails,
// and the caller must not go on, when any thread still has a privilege
// afterwards (see Verify).
func Drop(t Target) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	// while privileged: the bounding set (needs CAP_SETPCAP) and the
	// ambient set, which no later exec may use
	for c := 0; c <= lastCap; c++ {
		if err := allThreads(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c)); err != nil {
			if errors.Is(err, unix.EINVAL) {
				break // past the kernel's last capability
			}
			if errors.Is(err, unix.EPERM) {
				break // no CAP_SETPCAP (not root): the bounding set stays
			}
			return fmt.Errorf("dropping capability %d from the bounding set: %w", c, err)
		}
	}
	if err := allThreads(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("clearing the ambient capabilities: %w", err)
	}

	if os.Getuid() != t.UID || os.Geteuid() != t.UID || os.Getgid() != t.GID || os.Getegid() != t.GID {
		if err := syscall.Setgroups(t.Groups); err != nil {
			return fmt.Errorf("setgroups %v: %w", t.Groups, err)
		}
		if err := syscall.Setresgid(t.GID, t.GID, t.GID); err != nil {
			return fmt.Errorf("setgid %d: %w", t.GID, err)
		}
		if err := syscall.Setresuid(t.UID, t.UID, t.UID); err != nil {
			return fmt.Errorf("setuid %d: %w", t.UID, err)
		}
	}

	// what a root→user change left (inheritable) or what file
	// capabilities gave a non-root start (all sets)
	// (a thread the runtime started while the capabilities were cleared
	// may have escaped: then again, a few times)
	var err error
	for range 5 {
		capHdr.Version = unix.LINUX_CAPABILITY_VERSION_3
		capData = [2]unix.CapUserData{}
		if err := allThreads(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&capHdr)), uintptr(unsafe.Pointer(&capData[0]))); err != nil {
			return fmt.Errorf("clearing the capabilities: %w", err)
		}
		if err = Verify(t); err == nil {
			return nil
		}
	}
	return err
}

// capHdr and capData are capset's arguments, in memory that does not move
// while their addresses are passed as integers.
var (
	capHdr  unix.CapUserHeader
	capData [2]unix.CapUserData
)

// allThreads runs a prctl or capset system call on every thread of the
// process: through the runtime when it can (a build without cgo), else
// from a signal handler on each thread (see broadcast). A thread started
// meanwhile may escape it: Drop checks and tries again.
func allThreads(trap, a1, a2 uintptr) error {
	if _, _, e := syscall.AllThreadsSyscall(trap, a1, a2, 0); e != 0 {
		if e != syscall.ENOTSUP {
			return e
		}
		return broadcast(trap, a1, a2)
	}
	return nil
}

// Verify checks every thread of the process in /proc/self/task: real,
// effective, saved and filesystem uid and gid are t's, the supplementary
// groups are t's, and the permitted, effective, inheritable and ambient
// capability sets are empty.
func Verify(t Target) error {
	tasks, err := filepath.Glob("/proc/self/task/*/status")
	if err != nil || len(tasks) == 0 {
		return fmt.Errorf("checking the privileges: no /proc/self/task (%v)", err)
	}
	for _, p := range tasks {
		st, err := ReadStatus(p)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // the thread ended
			}
			return err
		}
		if err := st.Check(t); err != nil {
			return fmt.Errorf("after the drop, thread %s: %w", filepath.Base(filepath.Dir(p)), err)
		}
	}
	return nil
}

// Status is what /proc/PID/status says about a task's privileges.
type Status struct {
	Uid, Gid               []int // real, effective, saved, filesystem
	Groups                 []int
	CapInh, CapPrm, CapEff string
	CapAmb                 string
}

// ReadStatus reads the privilege lines of a /proc/PID/status (or
// /proc/PID/task/TID/status) file.
func ReadStatus(path string) (Status, error) {
	f, err := os.Open(path)
	if err != nil {
		return Status{}, err
	}
	defer f.Close()
	var st Status
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "Uid", "Gid", "Groups":
			var ns []int
			for _, s := range strings.Fields(v) {
				n, err := strconv.Atoi(s)
				if err != nil {
					return Status{}, fmt.Errorf("%s: %s: %q is not a number", path, k, s)
				}
				ns = append(ns, n)
			}
			switch k {
			case "Uid":
				st.Uid = ns
			case "Gid":
				st.Gid = ns
			default:
				st.Groups = ns
			}
		case "CapInh":
			st.CapInh = v
		case "CapPrm":
			st.CapPrm = v
		case "CapEff":
			st.CapEff = v
		case "CapAmb":
			st.CapAmb = v
		}
	}
	if err := sc.Err(); err != nil {
		return Status{}, fmt.Errorf("%s: %w", path, err)
	}
	if len(st.Uid) != 4 || len(st.Gid) != 4 || st.CapEff == "" {
		return Status{}, fmt.Errorf("%s: no Uid/Gid/CapEff lines", path)
	}
	return st, nil
}

// Check reports how st differs from running as t with no capability.
func (st Status) Check(t Target) error {
	for _, u := range st.Uid {
		if u != t.UID {
			return fmt.Errorf("uids %v, want %d", st.Uid, t.UID)
		}
	}
	for _, g := range st.Gid {
		if g != t.GID {
			return fmt.Errorf("gids %v, want %d", st.Gid, t.GID)
		}
	}
	for _, g := range st.Groups {
		if !slices.Contains(t.Groups, g) {
			return fmt.Errorf("supplementary group %d is not one of %s's %v", g, t.Name, t.Groups)
		}
	}
	for _, c := range []struct{ name, v string }{{"inheritable", st.CapInh}, {"permitted", st.CapPrm}, {"effective", st.CapEff}, {"ambient", st.CapAmb}} {
		if n, err := strconv.ParseUint(c.v, 16, 64); c.v != "" && (err != nil || n != 0) {
			return fmt.Errorf("%s capabilities %s, want none", c.name, c.v)
		}
	}
	return nil
}
