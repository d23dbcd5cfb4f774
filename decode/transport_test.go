package decode_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/espcap/espcap-fast/decode"
)

// TestQuotedTCPAgainstTshark: a TCP header quoted in an ICMP error, here
// whole (32 bytes), has its ports and nothing else, as tshark shows it
// (no tcp.seq_raw, tcp.flags, tcp.len).
func TestQuotedTCPAgainstTshark(t *testing.T) {
	quoted := 0
	tsharkFrames(t, "nDPI/alexa-app.pcapng", []string{"tcp.srcport", "tcp.seq_raw", "tcp.flags"}, func(r []string, p *decode.Packet) {
		if !strings.Contains(r[1], "icmp:ip:tcp") {
			return
		}
		quoted++
		l, ok := p.First(decode.KindTCP)
		if !ok || !l.Partial || strconv.Itoa(int(p.TCP[l.Index].SrcPort)) != r[2] || r[3] != "" || r[4] != "" {
			t.Errorf("frame %s: tcp layer %+v (ok %v), tshark srcport %q seq_raw %q flags %q", r[0], l, ok, r[2], r[3], r[4])
		}
	})
	if quoted == 0 {
		t.Error("no quoted TCP header in the capture")
	}
}
