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

// TestSIPAgainstTshark decodes every frame of the SIP captures of the
// shared corpus (INDEX.md) and compares the SIP layer with tshark's: the
// same frames have one, with the same start line, method, Request-URI,
// status code and Call-ID, From, To, CSeq and User-Agent headers.
func TestSIPAgainstTshark(t *testing.T) {
	need.Tshark(t)
	dir := need.Shared(t)
	kind := registered(t, "sip")
	names := []string{"Request-Line", "Method", "r-uri", "Status-Line", "Status-Code", "Call-ID", "From", "To", "CSeq", "User-Agent"}
	total := 0
	for _, name := range []string{"wireshark/sip.pcapng", "zeek/sip/wireshark.pcap", "nDPI/sip.pcap"} {
		file := filepath.Join(dir, name)
		args := []string{"-n", "-r", file, "-o", "tcp.desegment_tcp_streams:FALSE", "-T", "fields",
			"-E", "occurrence=f", "-e", "frame.number", "-e", "frame.protocols"}
		for _, n := range names {
			args = append(args, "-e", "sip."+n)
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
			if n < 1 || n > len(pk) {
				t.Fatalf("%s: tshark frame %q", name, r[0])
			}
			p := d.Decode(pk[n-1].Data, pk[n-1].LinkType, pk[n-1].OrigLen)
			want := strings.Contains(r[1], ":sip")
			l, got := p.First(kind)
			if got != want {
				t.Errorf("%s frame %d: sip layer %v, tshark %v (%s; ours %s)", name, n, got, want, r[1], chain(p))
				continue
			}
			if !got {
				continue
			}
			total++
			f := fields{}
			p.App(kind).Write(int(l.Index), f)
			for i, fn := range names {
				if f[fn] != r[2+i] {
					t.Errorf("%s frame %d: sip %s %q, tshark %q", name, n, fn, f[fn], r[2+i])
				}
			}
		}
	}
	t.Logf("%d SIP layers compared", total)
	if total == 0 {
		t.Error("no SIP layer compared")
	}
}
