package decode_test

import (
	"strconv"
	"testing"

	"github.com/espcap/espcap-fast/decode"
)

// TestIPv6AgainstTshark decodes captures where an IPv6 header is where
// another was announced, or an IPv6 header is not one (a wrong version), or
// IPv6 is tunnelled in UDP: every frame has an IPv6 layer exactly where
// tshark shows one, with the same next header and hop limit.
func TestIPv6AgainstTshark(t *testing.T) {
	for _, name := range []string{
		"tcpdump-malformed/ipv6-bad-version.pcap",      // version 4 in an IPv6 header: not IPv6
		"tcpdump-malformed/LINKTYPE_IPV4_invalid.pcap", // IPv6 on LINKTYPE_IPV4: IPv6
		"zeek/tunnels/Teredo.pcap",                     // IPv6 in Teredo (UDP 3544), bubbles (payload length 0)
		"tcpdump-malformed/icmpv6-length-zero.pcapng",  // payload length 0, no jumbogram
		"tcpdump-malformed/ipv6_frag6_negative_len.pcap",
	} {
		ipv6 := 0
		tsharkFrames(t, name, []string{"ipv6.nxt", "ipv6.hlim"}, func(r []string, p *decode.Packet) {
			nxt, hlim := "", ""
			if p.Count(decode.KindIPv6) > 0 {
				nxt = strconv.Itoa(int(p.IPv6[0].NextHeader))
				hlim = strconv.Itoa(int(p.IPv6[0].HopLimit))
				ipv6++
			}
			if nxt != r[2] || hlim != r[3] {
				t.Errorf("%s frame %s: ipv6 nxt %q hlim %q, tshark %q %q (layers %s, tshark %s)", name, r[0], nxt, hlim, r[2], r[3], chain(p), r[1])
			}
		})
		if ipv6 == 0 {
			t.Errorf("%s: no IPv6 layer decoded", name)
		}
	}
}
