package quicinitial

import (
	"path/filepath"
	"testing"
)

// nonInitialPayloads returns UDP payloads that are not QUIC Initials: DNS,
// gQUIC and the 1-RTT and Handshake packets of the QUIC captures.
func nonInitialPayloads(b *testing.B) [][]byte {
	if pcaps == "" {
		b.Skip("shared capture corpus not found")
	}
	var out [][]byte
	for _, c := range []string{"wireshark/dns-ooo.pcap", "nDPI/quic.pcap", "zeek/quic/curl-8.1.2-dev-http3-www-google-de.pcap"} {
		for _, pl := range udpPayloads(b, filepath.Join(pcaps, c)) {
			if pl != nil && !IsLongHeaderInitial(pl) {
				out = append(out, pl)
			}
		}
	}
	if len(out) == 0 {
		b.Fatal("no payloads")
	}
	return out
}

func BenchmarkIsLongHeaderInitialNonQUIC(b *testing.B) {
	pls := nonInitialPayloads(b)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		if IsLongHeaderInitial(pls[i%len(pls)]) {
			n++
		}
	}
	if n != 0 {
		b.Fatal("accepted a non-Initial payload")
	}
}

// realInitial returns the client Initial of arkime/quicietf.pcap (a
// Chrome ClientHello for ssl.gstatic.com in a 1,350 byte datagram).
func realInitial(b *testing.B) []byte {
	if pcaps == "" {
		b.Skip("shared capture corpus not found")
	}
	pl := udpPayloads(b, filepath.Join(pcaps, "arkime/quicietf.pcap"))[0]
	if !IsLongHeaderInitial(pl) {
		b.Fatal("not an Initial")
	}
	return pl
}

// BenchmarkParse parses a real client Initial with the ciphers cached (a
// retransmission, or the second Initial of a connection).
func BenchmarkParse(b *testing.B) {
	pl := realInitial(b)
	var p Parser
	var in Initial
	b.ReportAllocs()
	b.SetBytes(int64(len(pl)))
	for i := 0; i < b.N; i++ {
		if err := p.Parse(pl, &in); err != nil || !in.Complete {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseNewConnection parses a real client Initial deriving the
// keys and creating the ciphers every time, as for a new connection.
func BenchmarkParseNewConnection(b *testing.B) {
	pl := realInitial(b)
	p := Parser{noCache: true}
	var in Initial
	b.ReportAllocs()
	b.SetBytes(int64(len(pl)))
	for i := 0; i < b.N; i++ {
		if err := p.Parse(pl, &in); err != nil || !in.Complete {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseServerInitial measures the rejection of a server Initial
// (authentication fails), with the ciphers cached.
func BenchmarkParseServerInitial(b *testing.B) {
	pl := unhex(b, rfc9001ServerInitial)
	var p Parser
	var in Initial
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := p.Parse(pl, &in); err == nil {
			b.Fatal("decrypted a server Initial")
		}
	}
}
