// Package statedir locates espcap-fast's state directory: the one place where
// what must survive a restart lives (the disk spool, the watch state, the
// pcap store, the dead-letter file).
//
// The directory is, in order of precedence:
//
//  1. the --state-dir flag (Set),
//  2. $ESPCAP_STATE_DIR,
//  3. /var/lib/espcap-fast when running as root,
//  4. $XDG_STATE_HOME/espcap-fast, else ~/.local/state/espcap-fast.
//
// Each kind of state has its own subdirectory (Sub), created on demand with
// mode 0700.
package statedir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// Env is the environment variable that overrides the default location.
const Env = "ESPCAP_STATE_DIR"

var (
	mu       sync.Mutex
	override string
)

// Set makes dir the state directory (the --state-dir flag); "" restores the
// default.
func Set(dir string) {
	mu.Lock()
	defer mu.Unlock()
	override = dir
}

// Dir returns the state directory (not created).
func Dir() (string, error) {
	mu.Lock()
	o := override
	mu.Unlock()
	if o != "" {
		return filepath.Clean(o), nil
	}
	if d := os.Getenv(Env); d != "" {
		return filepath.Clean(d), nil
	}
	return defaultDir(os.Geteuid(), os.Getenv("XDG_STATE_HOME"), os.Getenv("HOME"))
}

// defaultDir is the location without --state-dir or $ESPCAP_STATE_DIR.
func defaultDir(euid int, xdgState, home string) (string, error) {
	if euid == 0 {
		return "/var/lib/espcap-fast", nil
	}
	if xdgState != "" && filepath.IsAbs(xdgState) {
		return filepath.Join(xdgState, "espcap-fast"), nil
	}
	if home == "" {
		return "", errors.New("no state directory: $HOME is not set (give --state-dir)")
	}
	return filepath.Join(home, ".local", "state", "espcap-fast"), nil
}

// Sub returns the subdirectory name of the state directory (for example
// "spool"), creating it and its parents with mode 0700 when missing.
func Sub(name string) (string, error) {
	d, err := Dir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(d, name)
	if err := os.MkdirAll(p, 0o700); err != nil {
		return "", fmt.Errorf("state directory: %w", err)
	}
	return p, nil
}
