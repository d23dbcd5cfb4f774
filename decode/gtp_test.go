package decode_test

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/espcap/espcap-fast/decode"
	"github.com/espcap/espcap-fast/internal/need"
)

// TestGTPFragmentAgainstTshark decodes a GTP-U capture whose outer IP
// packets are fragmented (IP defragmentation off): as tshark does, the
// tunnelled IP/TCP packet of a first fragment is decoded from what the
// fragment holds, its TCP segment length is what the fragment carries, and
// the packet is not malformed.
func TestGTPFragmentAgainstTshark(t *testing.T) {
	file := filepath.Join(need.Shared(t), "zeek/tunnels/gtp1_gn_normal_incl_fragmentation.pcap")
	need.Tshark(t)
	out, err := exec.Command("tshark", "-n", "-r", file, "-o", "ip.defragment:FALSE",
		"-o", "tcp.desegment_tcp_streams:FALSE", "-T", "fields", "-E", "occurrence=f",
		"-e", "frame.number", "-e", "tcp.srcport", "-e", "tcp.len", "-e", "_ws.malformed").Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", file, err)
	}
	pk := load(t, file)
	d := decode.NewDecoder()
	fragments := 0
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		f := append(strings.Split(line, "\t"), "", "", "")
		n, _ := strconv.Atoi(f[0])
		p := pk[n-1]
		got := d.Decode(p.Data, p.LinkType, p.OrigLen)
		port, segLen := "", ""
		if got.Count(decode.KindTCP) > 0 {
			port = strconv.Itoa(int(got.TCP[0].SrcPort))
			segLen = strconv.Itoa(got.TCPSegLen[0])
		}
		if port != f[1] || segLen != f[2] {
			t.Errorf("frame %d: tcp port %q len %q, tshark %q %q (layers %s, err %v)", n, port, segLen, f[1], f[2], chain(got), got.Err)
		}
		if got.Has(decode.FlagMalformed) != (f[3] != "") {
			t.Errorf("frame %d: malformed %v, tshark %q (%v)", n, got.Has(decode.FlagMalformed), f[3], got.Err)
		}
		if got.Has(decode.FlagFragment) && port != "" {
			fragments++
		}
	}
	if fragments == 0 {
		t.Errorf("no first fragment with a tunnelled TCP header in %s", file)
	}
}

// TestGTPCut checks a GTP-U message cut by the snap length: the header and
// what the capture holds of the tunnelled packet are decoded, and the packet
// is flagged malformed.
func TestGTPCut(t *testing.T) {
	inner := []byte{0x45, 0, 0, 60, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
		0x30, 0x39, 0x00, 0x35, 0, 40, 0, 0}
	gtp := append([]byte{0x30, 0xff, 0, 60, 0, 0, 0, 7}, inner...)
	udp := append([]byte{0x08, 0x68, 0x08, 0x68, 0, byte(8 + 8 + 60), 0, 0}, gtp...)
	ip := append([]byte{0x45, 0, 0, byte(20 + len(udp) + 32), 0, 2, 0, 0, 64, 17, 0, 0, 192, 168, 0, 1, 192, 168, 0, 2}, udp...)
	d := decode.NewDecoder()
	got := d.Decode(ip, decode.LinkTypeIPv4, len(ip)+32)
	if s := chain(got); s != "ip:udp:gtp:ip:udp" || !got.Has(decode.FlagMalformed) || got.GTP[0].TEID != 7 {
		t.Errorf("layers %s, malformed %v, teid %d (err %v)", s, got.Has(decode.FlagMalformed), got.GTP[0].TEID, got.Err)
	}
}
