package decode_test

import (
	"path/filepath"
	"strconv"
	"testing"

	"github.com/espcap/espcap-fast/decode"
	"github.com/espcap/espcap-fast/internal/need"
)

// TestQUICServerInitialAgainstTshark decodes QUIC captures frame by frame
// with one Decoder, as a worker decodes a batch: the ServerHello of a
// server Initial, decrypted with keys from the client's Initial of the
// same connection (found by the client's connection ID or, where it has
// none, by addresses and ports), has the handshake type, cipher suite and
// JA3S tshark shows; so does every ClientHello.
func TestQUICServerInitialAgainstTshark(t *testing.T) {
	for _, name := range []string{
		"zeek/quic/chromium-115.0.5790.110-api-cirrus-com.pcap",
		"zeek/quic/chromium-115.0.5790.110-google-de-fragmented.pcap", // client without a connection ID
		"zeek/quic/curl-8.1.2-dev-http3-www-google-de.pcap",
		"zeek/quic/firefox-102.13.0esr-blog-cloudflare-com.pcap",
		"zeek/quic/quicv2-http3-443.pcap", // QUIC version 2
		"tcpdump/quic_handshake.pcap",
	} {
		servers := 0
		tsharkFrames(t, name, []string{"tls.handshake.type", "tls.handshake.ciphersuite", "tls.handshake.ja3s"}, func(r []string, p *decode.Packet) {
			typ, suite, ja3s := "", "", ""
			if p.Count(decode.KindTLS) > 0 {
				h := &p.TLS[0]
				typ = strconv.Itoa(int(h.HandshakeType))
				if h.HandshakeType == 2 {
					if len(h.CipherSuites) > 0 {
						suite = "0x" + strconv.FormatUint(uint64(h.CipherSuites[0]), 16)
					}
					ja3s = string(h.AppendJA3SHash(nil))
					servers++
				}
			}
			if r[2] != typ || r[2] == "2" && (normHex(r[3]) != suite || r[4] != ja3s) {
				t.Errorf("%s frame %s: handshake type %q suite %q ja3s %q, tshark %q %q %q", name, r[0], typ, suite, ja3s, r[2], r[3], r[4])
			}
		})
		if servers == 0 {
			t.Errorf("%s: no ServerHello decoded", name)
		}
	}
}

// normHex writes a tshark hex number ("0x00001301") without leading zeros.
func normHex(s string) string {
	v, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		return s
	}
	return "0x" + strconv.FormatUint(v, 16)
}

// TestQUICServerInitialAllocatesNothing: remembering client Initials and
// decrypting server Initials with their keys (cached) allocates nothing.
func TestQUICServerInitialAllocatesNothing(t *testing.T) {
	pk := load(t, filepath.Join(need.Shared(t), "zeek/quic/curl-8.1.2-dev-http3-www-google-de.pcap"))
	d := decode.NewDecoder()
	for _, p := range pk {
		d.Decode(p.Data, p.LinkType, p.OrigLen)
	}
	allocs := testing.AllocsPerRun(10, func() {
		for _, p := range pk[:4] { // client and server Initials
			d.Decode(p.Data, p.LinkType, p.OrigLen)
		}
	})
	if allocs != 0 {
		t.Errorf("%.2f allocations per run, want 0", allocs)
	}
}
