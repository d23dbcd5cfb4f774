// Package tsharkek is espcap-fast's tshark engine: it runs Wireshark's
// tshark on capture files (`tshark -T ek`), reads its output as a stream with
// valyala/fastjson and turns each packet into the same document the native
// engine writes (encode.EKEncoder), so that every protocol Wireshark knows
// ends up in the same documents, indices and sinks. Live capture (Live)
// runs dumpcap into tshark through a pipe; a BPF filter on files is run by
// the filter package before tshark (bpf.go).
//
// Several files are read by several tshark processes in parallel (at most
// Config.Workers), and their documents still reach the sink in file order.
// tshark's standard error and exit status are reported for every file; a
// file that fails keeps the documents read before the failure, and the next
// file is read.
package tsharkek

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"

	"github.com/espcap/espcap-fast/encode"
)

// MinVersion is the oldest tshark the engine accepts: EK output with one
// "layers" object per packet and the field names this package maps.
// Tested with 4.0.
var MinVersion = [3]int{3, 6, 0}

// ErrNotFound is returned by Check when there is no tshark to run.
var ErrNotFound = errors.New("tshark not found")

// DefaultArgs make tshark dissect every packet on its own, as the native
// engine does, so that the two engines give one document per packet with
// the same fields: no TCP reassembly, no IP defragmentation, no TCP sequence
// analysis, no name resolution.
var DefaultArgs = []string{
	"-n",
	"-o", "tcp.desegment_tcp_streams:FALSE",
	"-o", "ip.defragment:FALSE",
	"-o", "ipv6.defragment:FALSE",
	"-o", "tcp.analyze_sequence_numbers:FALSE",
}

// rootWarning is tshark's note when run as root: not an error.
const rootWarning = `Running as user "root" and group "root". This could be dangerous.`

var versionRE = regexp.MustCompile(`TShark \(Wireshark\) (\d+)\.(\d+)\.(\d+)`)

// Check runs `tshark --version` and returns the version, or an error that
// says what is wrong: not installed (ErrNotFound), not tshark, too old.
func Check(ctx context.Context, path string) ([3]int, error) {
	var v [3]int
	if path == "" {
		path = "tshark"
	}
	bin, err := exec.LookPath(path)
	if err != nil {
		return v, fmt.Errorf("%w: %q (install Wireshark's tshark %d.%d or later, e.g. apt-get install tshark, or give --tshark PATH): %v",
			ErrNotFound, path, MinVersion[0], MinVersion[1], err)
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "--version")
	cmd.Env = childEnv()
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return v, fmt.Errorf("%s --version: %v: %s", bin, err, stderrText(stderr.Bytes()))
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		line, _, _ := bytes.Cut(out, []byte("\n"))
		return v, fmt.Errorf("%s --version: not tshark: %q", bin, line)
	}
	for i := range v {
		v[i], _ = strconv.Atoi(string(m[i+1]))
	}
	for i := range v {
		if v[i] != MinVersion[i] {
			if v[i] < MinVersion[i] {
				return v, fmt.Errorf("%s is tshark %d.%d.%d, the tshark engine needs %d.%d.%d or later",
					bin, v[0], v[1], v[2], MinVersion[0], MinVersion[1], MinVersion[2])
			}
			break
		}
	}
	return v, nil
}

// LoadFields reads the field table of tshark at path (`tshark -G fields`):
// the type of every field, so that numbers become JSON numbers, and its
// protocol, so that its name can be cut as docs/SCHEMA.md says.
func LoadFields(ctx context.Context, path string) (*encode.EKFields, error) {
	if path == "" {
		path = "tshark"
	}
	cmd := exec.CommandContext(ctx, path, "-G", "fields")
	cmd.Env = childEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("tshark -G fields: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("tshark -G fields: %w", err)
	}
	t := encode.NewEKFields()
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		// P <name> <abbrev>
		// F <name> <abbrev> <type> <parent abbrev> <blurb> <base> <bitmask>
		cols := strings.Split(sc.Text(), "\t")
		switch {
		case len(cols) >= 3 && cols[0] == "P":
			t.AddProtocol(cols[2])
		case len(cols) >= 5 && cols[0] == "F":
			t.AddField(cols[4], cols[2], cols[3])
			n++
		}
	}
	scanErr := sc.Err()
	if scanErr != nil {
		cmd.Process.Kill()
	}
	waitErr := cmd.Wait()
	switch {
	case scanErr != nil:
		return nil, fmt.Errorf("tshark -G fields: reading: %w", scanErr)
	case waitErr != nil:
		return nil, fmt.Errorf("tshark -G fields: %v: %s", waitErr, stderrText(stderr.Bytes()))
	case n == 0:
		return nil, fmt.Errorf("tshark -G fields printed no fields: %s", stderrText(stderr.Bytes()))
	}
	return t, nil
}

// stderrText returns tshark's standard error as one line, without the
// warning about running as root.
func stderrText(b []byte) string {
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && l != rootWarning {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return "(nothing on standard error)"
	}
	return strings.Join(lines, "; ")
}
