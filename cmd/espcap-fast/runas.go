package main

// --run-as USER (-Z USER, tcpdump's spelling): give up root and every
// capability once the packet sockets are open (live capture), or at once
// (file imports, as tcpdump -Z -r does). With --engine tshark live
// capture, tshark runs as the user and dumpcap keeps the privileges.
//
// Everything espcap-fast opens or creates after the drop is opened as USER:
// the spool, the dead-letter file, --password-file, --api-key-file,
// --ca-cert and, for file imports, the capture files must be reachable by
// USER. The one exception is the state directory: as root it is
// /var/lib/espcap-fast (or --state-dir, $ESPCAP_STATE_DIR), and it is
// created before the drop and handed to USER (chown of the directory and
// everything in it, symbolic links not followed; only a private 0700
// directory, such as espcap-fast creates, is handed over), then pinned so that the
// drop does not move it to USER's home.
//
// Started without root but with capabilities (setcap cap_net_raw=ep on the
// binary, or systemd's AmbientCapabilities), --run-as may name only the
// current user, as tcpdump -Z allows: the uid, gid and groups stay as they
// are and every capability goes once the sockets are open. Naming another
// user is a usage error: only root can become someone else.

import (
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/espcap/espcap-fast/internal/privdrop"
	"github.com/espcap/espcap-fast/internal/safefile"
	"github.com/espcap/espcap-fast/internal/statedir"
)

// registerRunAs defines --run-as and -Z on fs, into *user.
func registerRunAs(fs *flag.FlagSet, user *string) {
	fs.StringVar(user, "run-as", "", "after opening the packet sockets, become this user (its uid, gid and groups) with no capability left; file imports drop at once")
	fs.StringVar(user, "Z", "", "same as --run-as (tcpdump's flag)")
}

// resolveRunAs looks up the --run-as user (nil when not given), before
// anything is opened: an unknown user is a usage error.
func resolveRunAs(name string) (*privdrop.Target, error) {
	if name == "" {
		return nil, nil
	}
	t, err := privdrop.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("--run-as: %w", err)
	}
	if euid := os.Geteuid(); euid != 0 {
		if t.UID != euid {
			return nil, fmt.Errorf("--run-as %s: started without root (as uid %d), espcap-fast cannot become uid %d: without root --run-as may only name the current user, which keeps its ids and drops every capability once the sockets are open (start as root to become another user)", name, euid, t.UID)
		}
		// the ids as started: without root they cannot change
		t.GID = os.Getegid()
		groups, err := os.Getgroups()
		if err != nil {
			return nil, fmt.Errorf("--run-as %s: %w", name, err)
		}
		t.Groups = append([]int{t.GID}, groups...)
	}
	return &t, nil
}

// dropPrivileges becomes t (nothing when nil): the state directory, which
// the run needs only when it indexes (spool, dead-letter file), is made
// t's first; then groups, gid, uid and every capability go.
func dropPrivileges(t *privdrop.Target, es *esFlags, quiet bool, stderr io.Writer) error {
	if t == nil {
		return nil
	}
	if len(es.nodes) > 0 && os.Geteuid() == 0 {
		if err := giveStateDir(t, es.spool); err != nil {
			return fmt.Errorf("--run-as %s: %w", t.Name, err)
		}
	}
	if err := privdrop.Drop(*t); err != nil {
		return fmt.Errorf("--run-as %s: %w", t.Name, err)
	}
	// the user's environment, as su and sudo -H give it: children (tshark
	// for file imports) read the user's settings, not root's
	os.Setenv("HOME", t.Home)
	for _, v := range []string{"XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"} {
		os.Unsetenv(v)
	}
	if !quiet {
		fmt.Fprintf(stderr, "espcap-fast: running as %s (uid %d, gid %d), no capabilities\n", t.Name, t.UID, t.GID)
	}
	return nil
}

// giveStateDir creates the state directory (--state-dir first) and hands
// it with its content to t, and pins it: after the drop the default would
// be t's own.
func giveStateDir(t *privdrop.Target, sf *spoolFlags) error {
	if sf != nil && sf.stateDir != "" {
		statedir.Set(sf.stateDir)
	}
	dir, err := statedir.Dir()
	if err != nil {
		return err
	}
	statedir.Set(dir)
	if err := safefile.MkdirAll(dir); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	// only a private directory (espcap-fast makes them 0700) is handed
	// over: a --state-dir or $ESPCAP_STATE_DIR that names a shared
	// directory (/etc, /var) must not become USER's
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	if !fi.IsDir() || fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("state directory %s is not a private directory (mode %v, want 0700): it is handed to %s only then (chmod 700 it, or give another --state-dir)", dir, fi.Mode(), t.Name)
	}
	err = filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, t.UID, t.GID)
	})
	if err != nil {
		return fmt.Errorf("state directory %s for %s: %w", dir, t.Name, err)
	}
	return nil
}

// runAsForFiles drops privileges at the start of a file import (--run-as
// given): the files are then read as the user. It returns the exit status
// when the run must stop, else -1.
func runAsForFiles(name string, es *esFlags, quiet bool, stderr io.Writer) int {
	t, err := resolveRunAs(name)
	if err != nil {
		fmt.Fprintf(stderr, "espcap-fast: %v\n", err)
		return 2
	}
	if err := dropPrivileges(t, es, quiet, stderr); err != nil {
		fmt.Fprintf(stderr, "espcap-fast: %v\n", err)
		return 1
	}
	return -1
}

// tsharkCredential resolves --run-as for --engine tshark live capture
// (nil when not given): tshark runs as the user, while dumpcap, which
// captures, and espcap-fast, which must be able to stop dumpcap, keep
// their privileges. home is the user's home directory, tshark's HOME.
func tsharkCredential(name string, quiet bool, stderr io.Writer) (cred *syscall.Credential, home string, err error) {
	t, err := resolveRunAs(name)
	if err != nil || t == nil {
		return nil, "", err
	}
	groups := make([]uint32, len(t.Groups))
	for i, g := range t.Groups {
		groups[i] = uint32(g)
	}
	if !quiet {
		fmt.Fprintf(stderr, "espcap-fast: --engine tshark: tshark runs as %s (uid %d, gid %d); dumpcap and espcap-fast keep their privileges to capture and to stop it\n", t.Name, t.UID, t.GID)
	}
	// without root the ids are the current ones (see resolveRunAs), and
	// setgroups would be refused
	return &syscall.Credential{Uid: uint32(t.UID), Gid: uint32(t.GID), Groups: groups, NoSetGroups: os.Geteuid() != 0}, t.Home, nil
}
