package decode_test

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/espcap/espcap-fast/decode"
	"github.com/espcap/espcap-fast/internal/need"
	"github.com/espcap/espcap-fast/internal/testpcap"
)

// fields collects what an AppLayers writes.
type fields map[string]string

func (f fields) String(name string, v []byte) { f[name] = string(v) }
func (f fields) Uint(name string, v uint64)   { f[name] = strconv.FormatUint(v, 10) }
func (f fields) Bool(name string, v bool) {
	f[name] = map[bool]string{false: "0", true: "1"}[v]
}

// registered returns the kind the registry gave the protocol name.
func registered(t *testing.T, name string) decode.Kind {
	t.Helper()
	for _, pr := range decode.Protocols() {
		if pr.Name == name && pr.Kind != decode.KindNone {
			return pr.Kind
		}
	}
	t.Fatalf("%s is not in the registry", name)
	return decode.KindNone
}

// tsharkFrames runs tshark (TCP reassembly off, first occurrence of each
// field) on the capture name of the shared corpus with frame.number,
// frame.protocols and then the given fields, decodes each frame it lists
// and calls fn with tshark's row (frame.protocols is r[1], the fields
// follow) and the decoded packet.
func tsharkFrames(t *testing.T, name string, tfields []string, fn func(r []string, p *decode.Packet)) {
	t.Helper()
	need.Tshark(t)
	file := filepath.Join(need.Shared(t), name)
	args := []string{"-n", "-r", file, "-o", "tcp.desegment_tcp_streams:FALSE", "-T", "fields",
		"-E", "occurrence=f", "-e", "frame.number", "-e", "frame.protocols"}
	for _, f := range tfields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", name, err)
	}
	pk := testpcap.MustLoad(t, file, 0)
	d := decode.NewDecoder()
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		r := strings.Split(line, "\t")
		n, _ := strconv.Atoi(r[0])
		if n < 1 || n > len(pk) || len(r) != 2+len(tfields) {
			t.Fatalf("%s: tshark row %q", name, line)
		}
		fn(r, d.Decode(pk[n-1].Data, pk[n-1].LinkType, pk[n-1].OrigLen))
	}
}
