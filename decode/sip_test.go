package decode_test

import (
	"strings"
	"testing"

	"github.com/espcap/espcap-fast/decode"
)

// TestSIPAgainstTshark decodes every frame of the SIP captures of the
// shared corpus (INDEX.md) and compares the SIP layer with tshark's: the
// same frames have one, with the same start line, method, Request-URI,
// status code and Call-ID, From, To, CSeq and User-Agent headers.
func TestSIPAgainstTshark(t *testing.T) {
	kind := registered(t, "sip")
	names := []string{"Request-Line", "Method", "r-uri", "Status-Line", "Status-Code", "Call-ID", "From", "To", "CSeq", "User-Agent"}
	tf := make([]string, len(names))
	for i, n := range names {
		tf[i] = "sip." + n
	}
	total := 0
	for _, name := range []string{"wireshark/sip.pcapng", "zeek/sip/wireshark.pcap", "nDPI/sip.pcap"} {
		tsharkFrames(t, name, tf, func(r []string, p *decode.Packet) {
			want := strings.Contains(r[1], ":sip")
			l, got := p.First(kind)
			if got != want {
				t.Errorf("%s frame %s: sip layer %v, tshark %v (%s; ours %s)", name, r[0], got, want, r[1], chain(p))
				return
			}
			if !got {
				return
			}
			total++
			f := fields{}
			p.App(kind).Write(int(l.Index), f)
			for i, fn := range names {
				if f[fn] != r[2+i] {
					t.Errorf("%s frame %s: sip %s %q, tshark %q", name, r[0], fn, f[fn], r[2+i])
				}
			}
		})
	}
	t.Logf("%d SIP layers compared", total)
	if total == 0 {
		t.Error("no SIP layer compared")
	}
}
