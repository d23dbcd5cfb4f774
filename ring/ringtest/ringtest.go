// Package ringtest makes test hosts for live-capture tests: a network
// namespace joined to the test's own namespace by a veth pair, and
// tcpreplay to send real captures into it. Everything it creates has a
// unique name and is removed when the test ends.
//
// These tests need root (or CAP_NET_ADMIN and CAP_NET_RAW), iproute2 and
// tcpreplay: without them the test is skipped with the reason, except when
// the environment variable CI is set, where it fails instead.
package ringtest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// Unavailable skips (or, with CI set, fails) the test with the reason.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI is set: live-capture tests must run)", msg)
	}
	t.Skip(msg)
}

// NeedRoot skips (or fails, with CI set) unless the test runs as root.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "live-capture test needs root (network namespaces, veth pairs, AF_PACKET sockets)")
	}
}

// NeedTool skips (or fails, with CI set) unless the program is installed.
func NeedTool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Unavailable(t, "live-capture test needs %s (apt-get install %s)", name, debianPackage)
	}
	return p
}

// Veth is a veth pair: Outside is in the test's network namespace (capture
// there), Inside in the namespace NS (send there).
type Veth struct {
	NS      string
	Outside string
	Inside  string
}

var seq atomic.Uint32

// NewVeth creates a namespace and a veth pair, both ends up, without IPv6
// or ARP so that the kernel itself sends nothing on them, and removes them
// when the test ends.
func NewVeth(t testing.TB) *Veth {
	t.Helper()
	NeedRoot(t)
	NeedTool(t, "ip", "iproute2")
	n := seq.Add(1)
	id := fmt.Sprintf("%d%d", os.Getpid()%100000, n)
	v := &Veth{NS: "espcapt" + id, Outside: "eo" + id, Inside: "ei" + id}
	if len(v.Outside) > 15 {
		t.Fatalf("interface name %s too long", v.Outside)
	}
	run(t, "ip", "netns", "add", v.NS)
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", v.Outside).Run()
		exec.Command("ip", "netns", "del", v.NS).Run()
	})
	run(t, "ip", "link", "add", v.Outside, "type", "veth", "peer", "name", v.Inside, "netns", v.NS)
	// no IPv6 (router solicitations, MLD, DAD) and no ARP from either end
	os.WriteFile("/proc/sys/net/ipv6/conf/"+v.Outside+"/disable_ipv6", []byte("1"), 0)
	run(t, "ip", "netns", "exec", v.NS, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	// jumbo MTU: captures hold frames above 1500 bytes (VLAN tags, offloads)
	run(t, "ip", "link", "set", v.Outside, "mtu", "9000", "arp", "off", "up")
	run(t, "ip", "-n", v.NS, "link", "set", v.Inside, "mtu", "9000", "arp", "off", "up")
	return v
}

// Replay sends a capture file into the Inside end with tcpreplay (at
// 10000 packets/s unless args say otherwise) and returns how many packets
// tcpreplay says it sent. A failure is reported with t.Errorf, so Replay
// may run in a goroutine of its own.
func (v *Veth) Replay(t testing.TB, pcap string, args ...string) int {
	t.Helper()
	NeedTool(t, "tcpreplay", "tcpreplay")
	if len(args) == 0 {
		args = []string{"--pps=10000"}
	}
	cmd := append([]string{"netns", "exec", v.NS, "tcpreplay", "-i", v.Inside}, args...)
	cmd = append(cmd, pcap)
	b, err := exec.Command("ip", cmd...).CombinedOutput()
	out := string(b)
	if err != nil {
		t.Errorf("tcpreplay %s: %v\n%s", pcap, err, out)
		return 0
	}
	var sent int
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "Successful packets:") {
			fmt.Sscanf(strings.TrimPrefix(line, "Successful packets:"), "%d", &sent)
		}
		if strings.HasPrefix(line, "Failed packets:") {
			var failed int
			fmt.Sscanf(strings.TrimPrefix(line, "Failed packets:"), "%d", &failed)
			if failed != 0 {
				t.Errorf("tcpreplay failed to send %d packets of %s:\n%s", failed, pcap, out)
			}
		}
	}
	return sent
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// WritePcap writes frames as an Ethernet pcap file in the test's temporary
// directory and returns its name.
func WritePcap(t testing.TB, frames ...[]byte) string {
	t.Helper()
	var b bytes.Buffer
	hdr := [24]byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0}
	binary.LittleEndian.PutUint32(hdr[16:], 65535) // snaplen
	binary.LittleEndian.PutUint32(hdr[20:], 1)     // Ethernet
	b.Write(hdr[:])
	for i, f := range frames {
		var rec [16]byte
		binary.LittleEndian.PutUint32(rec[0:], uint32(1700000000+i))
		binary.LittleEndian.PutUint32(rec[8:], uint32(len(f)))
		binary.LittleEndian.PutUint32(rec[12:], uint32(len(f)))
		b.Write(rec[:])
		b.Write(f)
	}
	name := filepath.Join(t.TempDir(), "frames.pcap")
	if err := os.WriteFile(name, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}
