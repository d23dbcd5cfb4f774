package decode_test

import (
	"strings"
	"testing"

	"github.com/espcap/espcap-fast/decode"
)

// sshCaptures are the captures of the shared corpus that hold SSH
// (INDEX.md), SSH in Geneve included.
var sshCaptures = []string{
	"tcpdump/ssh.pcap", "arkime/ssh2.pcap", "zeek/ssh/ssh_kex_curve25519.pcap", "zeek/ssh/ssh.pcap",
	"scapy/ssh_ed25519.pcap", "tcpdump/geneve.pcap",
}

// TestSSHAgainstTshark decodes every frame of the SSH captures and compares
// the SSH layer with tshark's (TCP reassembly off): the same frames have
// one (tshark leaves out retransmissions), with the same banner, first
// message code, direction and HASSH or HASSH-server.
func TestSSHAgainstTshark(t *testing.T) {
	kind := registered(t, "ssh")
	names := []string{"protocol", "message_code", "kex_hassh", "kex_hasshserver", "direction", "kex_algorithms"}
	total, kex, probed := 0, 0, 0
	for _, name := range sshCaptures {
		tf := []string{"tcp.analysis.retransmission", "tcp.stream"}
		for _, n := range names {
			tf = append(tf, "ssh."+strings.Replace(n, "kex_hassh", "kex.hassh", 1))
		}
		v1 := map[string]bool{} // TCP streams of SSH version 1 (other packet format)
		tsharkFrames(t, name, tf, func(r []string, p *decode.Packet) {
			n := r[0]
			want := strings.HasSuffix(r[1], ":ssh")
			l, got := p.First(kind)
			if got && !want && r[2] != "" {
				return // tshark does not dissect the payload of a retransmission
			}
			f := fields{}
			if got {
				p.App(kind).Write(int(l.Index), f)
			}
			if got && !want && f["protocol"] != "" && !strings.Contains(chain(p), "geneve") {
				probed++ // an identification string on ports tshark has no SSH for
				return
			}
			if got != want {
				t.Errorf("%s frame %s: ssh layer %v, tshark %v (%s; ours %s)", name, n, got, want, r[1], chain(p))
				return
			}
			if !got {
				return
			}
			total++
			if b := r[4]; strings.HasPrefix(b, "SSH-1.") && !strings.HasPrefix(b, "SSH-1.99") {
				v1[r[3]] = true
			}
			for i, fn := range names {
				w := r[4+i]
				if fn == "kex_hassh" && w != "" {
					kex++
				}
				switch {
				case fn == "message_code" && f[fn] == "" && w != "" && f["protocol"] == "":
					// Without the start of the connection tshark takes an
					// encrypted packet for a clear-text one (message codes
					// like 140, packet lengths past 2^31); ours must look
					// like a clear-text packet (RFC 4253 6).
					continue
				case fn == "message_code" && w == "" && v1[r[3]]:
					continue // SSH version 1: not decoded here, a v1 packet may pass for a v2 one
				case fn == "direction" && w == "":
					continue // tshark leaves it out where it took such a packet apart
				}
				if f[fn] != w {
					t.Errorf("%s frame %s: ssh %s %q, tshark %q", name, n, fn, f[fn], w)
				}
			}
		})
	}
	t.Logf("%d SSH layers compared, %d client KEXINITs; %d identification strings found off port 22", total, kex, probed)
	if total == 0 || kex == 0 {
		t.Error("no SSH layer or no KEXINIT compared")
	}
}
