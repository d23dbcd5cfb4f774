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

// fields collects what an AppLayers writes.
type fields map[string]string

func (f fields) String(name string, v []byte) { f[name] = string(v) }
func (f fields) Uint(name string, v uint64)   { f[name] = strconv.FormatUint(v, 10) }
func (f fields) Bool(name string, v bool) {
	f[name] = map[bool]string{false: "0", true: "1"}[v]
}

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
	need.Tshark(t)
	dir := need.Shared(t)
	kind := registered(t, "ssh")
	names := []string{"protocol", "message_code", "kex_hassh", "kex_hasshserver", "direction", "kex_algorithms"}
	total, kex, probed := 0, 0, 0
	for _, name := range sshCaptures {
		file := filepath.Join(dir, name)
		args := []string{"-n", "-r", file, "-o", "tcp.desegment_tcp_streams:FALSE", "-T", "fields",
			"-E", "occurrence=f", "-e", "frame.number", "-e", "frame.protocols", "-e", "tcp.analysis.retransmission", "-e", "tcp.stream"}
		for _, n := range names {
			args = append(args, "-e", "ssh."+strings.Replace(n, "kex_hassh", "kex.hassh", 1))
		}
		out, err := exec.Command("tshark", args...).Output()
		if err != nil {
			t.Fatalf("tshark %s: %v", name, err)
		}
		pk := testpcap.MustLoad(t, file, 0)
		d := decode.NewDecoder()
		v1 := map[string]bool{} // TCP streams of SSH version 1 (other packet format)
		for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
			r := strings.Split(line, "\t")
			n, _ := strconv.Atoi(r[0])
			if n < 1 || n > len(pk) {
				t.Fatalf("%s: tshark frame %q", name, r[0])
			}
			p := d.Decode(pk[n-1].Data, pk[n-1].LinkType, pk[n-1].OrigLen)
			want := strings.HasSuffix(r[1], ":ssh")
			l, got := p.First(kind)
			if got && !want && r[2] != "" {
				continue // tshark does not dissect the payload of a retransmission
			}
			f := fields{}
			if got {
				p.App(kind).Write(int(l.Index), f)
			}
			if got && !want && f["protocol"] != "" && !strings.Contains(chain(p), "geneve") {
				probed++ // an identification string on ports tshark has no SSH for
				continue
			}
			if got != want {
				t.Errorf("%s frame %d: ssh layer %v, tshark %v (%s; ours %s)", name, n, got, want, r[1], chain(p))
				continue
			}
			if !got {
				continue
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
					t.Errorf("%s frame %d: ssh %s %q, tshark %q", name, n, fn, f[fn], w)
				}
			}
		}
	}
	t.Logf("%d SSH layers compared, %d client KEXINITs; %d identification strings found off port 22", total, kex, probed)
	if total == 0 || kex == 0 {
		t.Error("no SSH layer or no KEXINIT compared")
	}
}
