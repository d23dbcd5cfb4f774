//go:build !cgo

package filter

import (
	"fmt"

	"golang.org/x/net/bpf"
)

var errNoCgo = fmt.Errorf("filter: %w: --bpf needs libpcap, which is loaded at run time through cgo, but this binary was built with CGO_ENABLED=0; rebuild with cgo enabled (and install libpcap, Debian/Ubuntu package libpcap0.8)", ErrUnavailable)

func loadLib() error { return errNoCgo }

func compileRaw(expr string, linkType int, o Options) ([]bpf.RawInstruction, int, int, string, error) {
	return nil, 0, 0, "", errNoCgo
}

func dltName(dlt int) string { return "" }

// setLibNamesForTest does nothing without cgo. Tests only.
func setLibNamesForTest(names []string) (restore func()) { return func() {} }

// cgoEnabled tells tests which implementation is built.
const cgoEnabled = false
