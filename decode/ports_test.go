package decode

import "testing"

// TestTCPAppChoice checks how a TCP segment's application protocol is
// chosen, port first (the lower one first), then the heuristics, against
// what tshark 4.0 shows for such segments (see docs/PROTOCOLS.md).
func TestTCPAppChoice(t *testing.T) {
	hello := []byte{22, 3, 1, 0, 5, 1, 0, 0, 1, 0}
	get := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	ok := []byte("HTTP/1.1 200 OK\r\n\r\n")
	binary := []byte{0, 1, 2, 3, 4, 5, 6, 7}
	query := dnsQuery(1, 1)
	prefixed := func(msgs ...[]byte) []byte {
		var b []byte
		for _, m := range msgs {
			b = append(append(b, byte(len(m)>>8), byte(len(m))), m...)
		}
		return b
	}
	cut := prefixed(query)[:len(query)-3]
	long := prefixed(query)
	long[1] += 10 // announces more than the segment holds
	for _, c := range []struct {
		name         string
		sport, dport uint16
		b            []byte
		want         string
	}{
		{"TLS on 443", 41000, 443, hello, "tls"},
		{"TLS continuation on 443", 443, 41000, binary, "tls"},
		{"TLS on an unknown port", 41000, 47001, hello, "tls"},
		{"TLS on an HTTP port: nothing", 41000, 8080, hello, ""},
		{"HTTP on 80", 41000, 80, get, "http"},
		{"HTTP continuation on 80", 80, 41000, binary, "http"},
		{"HTTP on an unknown port", 41000, 47001, get, "http"},
		{"HTTP response on an unknown port", 47001, 41000, ok, "http"},
		{"HTTP on a TLS port", 41000, 443, get, "http"},
		{"no protocol on an unknown port", 41000, 47001, binary, ""},
		{"SSH banner on an unknown port", 41000, 2200, []byte("SSH-2.0-OpenSSH_9.0\r\n"), "ssh"},
		{"SIP on an unknown port", 41000, 47001, []byte("INVITE sip:a@b SIP/2.0\r\n\r\n"), "sip"},
		{"lower port first: 443 before 8080", 8080, 443, hello, "tls"},
		{"DNS port", 53, 41000, binary, "dns"},
		{"DNS over TCP on an unknown port", 41000, 5300, prefixed(query), "dns"},
		{"DNS over TCP, class CH", 41000, 5300, prefixed(dnsQuery(16, 3)), "dns"},
		{"DNS over TCP, a message cut short", 41000, 5300, cut, ""},
		{"DNS over TCP, length past the segment", 41000, 5300, long, ""},
		{"DNS over TCP, two messages", 41000, 5300, prefixed(query, query), ""},
		{"DNS over TCP, unknown class", 41000, 5300, prefixed(dnsQuery(1, 7)), ""},
		{"DNS over TCP, type 0", 41000, 5300, prefixed(dnsQuery(0, 1)), ""},
		{"DNS without its length prefix", 41000, 5300, query, ""},
	} {
		d := NewDecoder()
		d.pkt.reset(nil, LinkTypeEthernet, 0)
		d.walk = walk{ipPayload: -1, sport: c.sport, dport: c.dport}
		nx := d.tcpApp(c.sport, c.dport, c.b)
		if nx != nDone {
			if nx == nDNSTCP {
				d.pkt.commit(KindDNS, 0, "dns") // the DNS step's own test is elsewhere
			} else {
				d.appStep(nx, c.b)
			}
		}
		got := ""
		if n := len(d.pkt.Layers); n > 0 {
			got = d.pkt.Layers[n-1].Proto
		}
		if got != c.want {
			t.Errorf("%s (%d -> %d): layer %q, want %q", c.name, c.sport, c.dport, got, c.want)
		}
	}
}

// dnsQuery is a DNS query for example.com of the given type and class.
func dnsQuery(qtype, qclass uint16) []byte {
	b := []byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}
	b = append(b, "\x07example\x03com\x00"...)
	return append(b, byte(qtype>>8), byte(qtype), byte(qclass>>8), byte(qclass))
}
