package decode_test

import (
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/espcap/espcap-fast/decode"
	"github.com/espcap/espcap-fast/internal/need"
)

// TestDHCPCut cuts a DHCP request at every length: the layer is kept, with
// the header fields the cut leaves whole, from the client hardware address
// on (as Wireshark does), and the packet is flagged malformed when the fixed
// header is cut (options cut between two are not noticed).
func TestDHCPCut(t *testing.T) {
	p := load(t, "../testdata/pcaps/wireshark_dhcp.pcap")[0]
	d := decode.NewDecoder()
	full := d.Decode(p.Data, p.LinkType, p.OrigLen)
	if full.Count(decode.KindDHCP) != 1 {
		t.Fatalf("frame 1: layers %s", chain(full))
	}
	mac := append(net.HardwareAddr(nil), full.DHCP[0].ClientHWAddr...)
	start := len(p.Data) - len(full.DHCP[0].Contents) // the DHCP message's offset
	for n := start + 1; n < len(p.Data); n++ {
		got := d.Decode(p.Data[:n], p.LinkType, p.OrigLen)
		has := got.Count(decode.KindDHCP) == 1
		if want := n-start >= 28+6; has != want {
			t.Errorf("cut at %d bytes of DHCP: dhcp layer %v, want %v", n-start, has, want)
			continue
		}
		if n-start < 240 && !got.Has(decode.FlagMalformed) {
			t.Errorf("cut at %d bytes of DHCP: not flagged malformed", n-start)
		}
		if has && got.DHCP[0].ClientHWAddr.String() != mac.String() {
			t.Errorf("cut at %d bytes of DHCP: hw address %v, want %v", n-start, got.DHCP[0].ClientHWAddr, mac)
		}
	}
}

// TestDHCPCutAgainstTshark compares the client hardware address of DHCP
// messages cut by the snap length with tshark's.
func TestDHCPCutAgainstTshark(t *testing.T) {
	file := filepath.Join(need.Shared(t), "pcapng-format/le/test005.pcapng")
	need.Tshark(t)
	out, err := exec.Command("tshark", "-n", "-r", file, "-T", "fields", "-e", "dhcp.hw.mac_addr").Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", file, err)
	}
	want := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	pk := load(t, file)
	if len(pk) != len(want) {
		t.Fatalf("%d packets, tshark %d", len(pk), len(want))
	}
	d := decode.NewDecoder()
	for i, p := range pk {
		got := d.Decode(p.Data, p.LinkType, p.OrigLen)
		mac := ""
		if got.Count(decode.KindDHCP) == 1 {
			mac = got.DHCP[0].ClientHWAddr.String()
		}
		if mac != want[i] || len(p.Data) >= p.OrigLen {
			t.Errorf("frame %d (%d of %d bytes): hw address %q, tshark %q", i+1, len(p.Data), p.OrigLen, mac, want[i])
		}
	}
}
