package quicinitial

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/espcap/espcap-fast/decode/tlshello"
	"github.com/espcap/espcap-fast/internal/need"
	"github.com/espcap/espcap-fast/internal/testpcap"
)

// pcaps is the shared capture corpus beside the checkout.
var pcaps = testpcap.SharedDir()

// udpPayloads returns the UDP payload of each frame of a capture, indexed
// by frame number - 1 (nil for frames without UDP).
func udpPayloads(t testing.TB, file string) [][]byte {
	t.Helper()
	pk, err := testpcap.Load(file, 0)
	if err != nil || len(pk) == 0 {
		t.Fatalf("load %s: %v (%d packets)", file, err, len(pk))
	}
	out := make([][]byte, len(pk))
	for i, p := range pk {
		g := gopacket.NewPacket(p.Data, layers.LinkType(p.LinkType), gopacket.Default)
		if u, ok := g.Layer(layers.LayerTypeUDP).(*layers.UDP); ok {
			out[i] = u.Payload
		}
	}
	return out
}

// tsharkSNI returns, per frame number, the SNI tshark finds in the frames
// holding a long-header packet of type 0 (Initial in v1 and draft-29), ""
// when it finds none.
func tsharkSNI(t *testing.T, file string) map[int]string {
	t.Helper()
	need.Tshark(t)
	out, err := exec.Command("tshark", "-n", "-r", file, "-Y", "quic.long.packet_type==0",
		"-T", "fields", "-e", "frame.number", "-e", "tls.handshake.extensions_server_name").Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", file, err)
	}
	m := map[int]string{}
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		n, err := strconv.Atoi(f[0])
		if err != nil {
			t.Fatalf("tshark line %q", line)
		}
		m[n] = strings.Join(f[1:], "")
	}
	return m
}

// Outcomes expected where the parser and tshark differ.
const (
	// incomplete: the ClientHello spans several datagrams; tshark
	// reports the SNI on the frame completing its reassembly.
	incomplete = "incomplete"
	// needsState: a client Initial protected with keys derived from an
	// earlier packet's Destination Connection ID (after a Retry the client
	// uses the server's connection ID); tshark tracks the connection,
	// the parser fails authentication.
	needsState = "needs-state"
	// oursOnly: the parser finds a complete ClientHello (with the SNI
	// in the sni field, "" for none) where tshark reports no SNI: a
	// ClientHello sent again after a Retry, which tshark treats as a
	// retransmission of CRYPTO data it has seen, or QUIC v2, which tshark
	// 4.0 does not decrypt.
	oursOnly = "ours-only"
)

type expect struct{ kind, sni string }

// quicCaptures lists the captures with IETF QUIC Initial packets, the
// frames where the parser is expected to differ from tshark, and the least
// number of complete ClientHellos expected.
var quicCaptures = []struct {
	file      string
	diff      map[int]expect
	minHellos int
}{
	{file: "zeek/quic/chromium-115.0.5790.110-api-cirrus-com.pcap", minHellos: 1},
	{file: "zeek/quic/chromium-115.0.5790.110-google-de-fragmented.pcap", minHellos: 1},
	{file: "zeek/quic/curl-8.1.2-dev-http3-www-google-de.pcap", minHellos: 1},
	{file: "zeek/quic/firefox-102.13.0esr-blog-cloudflare-com.pcap", minHellos: 1},
	{file: "zeek/quic/quicv2-http3-443.pcap", minHellos: 1,
		diff: map[int]expect{1: {oursOnly, ""}}}, // v2; the hello has no server_name
	{file: "arkime/quicietf.pcap", minHellos: 1},
	{file: "wireshark/quic-fragmented-handshakes.pcapng", minHellos: 17,
		diff: map[int]expect{3: {oursOnly, "localhost"}, 5: {needsState, ""}}},
	{file: "tcpdump/quic_handshake.pcap", minHellos: 1},
	{file: "tcpdump/quic_retry.pcap", minHellos: 2,
		diff: map[int]expect{3: {oursOnly, "localhost"}}},
	{file: "suricata-verify/quic-frag-unordered.pcap",
		diff: map[int]expect{1: {incomplete, ""}, 2: {incomplete, ""}}},
	{file: "nDPI/quic.pcap"}, // gQUIC only: no IETF Initial
}

// TestCapturesAgainstTshark decodes every UDP payload of the QUIC
// captures and compares the SNI of each client Initial with tshark's.
func TestCapturesAgainstTshark(t *testing.T) {
	if pcaps == "" {
		need.NoCorpus(t, "shared capture corpus not found (set ESPCAP_SHARED)")
	}
	for _, c := range quicCaptures {
		t.Run(filepath.Base(c.file), func(t *testing.T) {
			file := filepath.Join(pcaps, c.file)
			want := tsharkSNI(t, file)
			var p Parser
			var in Initial
			var h tlshello.Hello
			hellos := 0
			for i, pl := range udpPayloads(t, file) {
				frame := i + 1
				if pl == nil || !IsLongHeaderInitial(pl) {
					if _, ok := want[frame]; ok && pl != nil {
						// tshark's filter also matches v2 0-RTT (type 0).
						t.Logf("frame %d: tshark Initial, not ours (%x)", frame, pl[:min(len(pl), 5)])
					}
					continue
				}
				err := p.Parse(pl, &in)
				sni, found := serverName(in.ClientHello)
				tsni := want[frame]
				t.Logf("frame %d: v%#x dcid %x packets %d hello %d complete %v sni %q err %v | tshark %q",
					frame, in.Version, in.DCID, in.Packets, len(in.ClientHello), in.Complete, sni, err, tsni)
				if err != nil && !errors.Is(err, ErrDecrypt) {
					t.Errorf("frame %d: %v", frame, err)
				}
				if in.Complete {
					// Cross-check with decode/tlshello.
					if !h.ParseQUIC(in.ClientHello) || !h.Complete || string(h.SNI) != sni {
						t.Errorf("frame %d: tlshello complete=%v sni %q, ours %q", frame, h.Complete, h.SNI, sni)
					}
					if sni == "" {
						t.Logf("frame %d: no server_name; extensions %v, ALPN %q", frame, h.Extensions, h.ALPN)
					}
				}
				switch d := c.diff[frame]; {
				case d.kind == incomplete:
					if err != nil || in.Complete {
						t.Errorf("frame %d: err %v complete %v, expected a hello spanning datagrams", frame, err, in.Complete)
					}
				case d.kind == needsState:
					if !errors.Is(err, ErrDecrypt) {
						t.Errorf("frame %d: err %v, want ErrDecrypt", frame, err)
					}
				case d.kind == oursOnly:
					if !in.Complete || sni != d.sni || tsni != "" {
						t.Errorf("frame %d: sni %q complete %v tshark %q, want %q from us only", frame, sni, in.Complete, tsni, d.sni)
					}
				case tsni != "":
					if !in.Complete || sni != tsni {
						t.Errorf("frame %d: sni %q (found %v) complete %v err %v, tshark %q", frame, sni, found, in.Complete, err, tsni)
					}
				default:
					if in.Complete {
						t.Errorf("frame %d: complete hello with sni %q, tshark has none", frame, sni)
					}
				}
				if in.Complete {
					hellos++
				}
			}
			if hellos < c.minHellos {
				t.Errorf("%d complete ClientHellos, want at least %d", hellos, c.minHellos)
			}
		})
	}
}
