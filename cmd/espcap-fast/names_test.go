package main

import (
	"strings"
	"testing"

	"github.com/valyala/fastjson"
)

// TestTableNames: the table format names message types (DHCP, ICMP,
// ICMPv6, TLS handshakes) as Wireshark's Info column does, with the number.
func TestTableNames(t *testing.T) {
	for _, c := range []struct {
		file, want string
	}{
		{"wireshark_dhcp.pcap", "DHCP Discover (1)"},
		{"wireshark_dhcp.pcap", "DHCP ACK (5)"},
		{"zeek_icmp_icmp-destunreach-udp.pcap", "Destination unreachable (3), Port unreachable (3)"},
		{"chrissanders_icmp_echo.pcapng", "Echo (ping) request (8) code 0"},
		{"wireshark_ipv6.pcap", "Multicast Listener Report (131) code 0"},
		{"wireshark_tls12-chacha20poly1305.pcap", "Server Hello"},
	} {
		out, errs, code := espcap(t, "-q", "-r", "../../testdata/pcaps/"+c.file)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", c.file, code, errs)
		}
		var rows []string
		var p fastjson.Parser
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			v, err := p.Parse(line)
			if err != nil {
				t.Fatal(err)
			}
			rows = append(rows, summarize(v))
		}
		if !strings.Contains(strings.Join(rows, "\n"), c.want) {
			t.Errorf("%s: no row says %q:\n%s", c.file, c.want, strings.Join(rows[:min(len(rows), 8)], "\n"))
		}
	}
	if got := named(tlsHandshakeTypes, "handshake type", "2,11,14"); got != "Server Hello, Certificate, Server Hello Done" {
		t.Errorf("list of handshake types: %q", got)
	}
	if got := named(icmpTypes, "type", "42"); got != "type 42" {
		t.Errorf("unnamed type: %q", got)
	}
}
