package filter

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/espcap/espcap-fast/internal/need"
	"github.com/espcap/espcap-fast/internal/testpcap"
)

// corpusDir returns the shared capture corpus, or skips the test.
func corpusDir(t testing.TB) string {
	dir := os.Getenv("ESPCAP_PCAPS")
	if dir == "" {
		dir = testpcap.SharedDir()
	}
	if _, err := os.Stat(filepath.Join(dir, "INDEX.md")); err != nil {
		need.NoCorpus(t, "capture corpus not found at %s (set ESPCAP_PCAPS): %v", dir, err)
	}
	return dir
}

// needLibpcap skips the test when libpcap cannot be loaded.
func needLibpcap(t testing.TB) {
	if err := Available(); err != nil {
		need.Missing(t, "libpcap not available: %v", err)
	}
}

// needTcpdump returns the tcpdump binary or skips the test.
func needTcpdump(t testing.TB) string {
	return need.Tool(t, "tcpdump", "Debian: apt-get install tcpdump")
}

// Files compared with tcpdump: several link types, VLAN, truncated
// captures (snaplen 96 in communityid; malformed truncated packets), pcapng,
// and one pcapng mixing Ethernet and BSD loopback interfaces.
var tcpdumpFiles = []string{
	"seed/test_http.pcap",                // Ethernet
	"seed/test_dns.pcap",                 // pcapng, Ethernet
	"zeek/linuxsll-arp.pcap",             // Linux SLL (113)
	"tcpdump/mptcp-v1.pcap",              // Linux SLL
	"zeek/linux_dlt_sll2.pcap",           // Linux SLL2 (276)
	"wireshark/http-ooo.pcap",            // raw IPv4 (228)
	"tcpdump/LINKTYPE_RAW_ipv4.pcap",     // raw (101)
	"tcpdump/LINKTYPE_RAW_ipv6.pcap",     // raw (101), IPv6
	"tcpdump/LINKTYPE_IPV6.pcap",         // raw IPv6 (229)
	"gopacket/test_loopback.pcap",        // BSD loopback (0)
	"tcpdump/quic_handshake.pcap",        // BSD loopback, snaplen 524288
	"tcpdump/nflog.pcap",                 // NFLOG (239)
	"tcpdump/ppp_ip_udp_dns.pcap",        // PPP (9)
	"arkime/twovlan.pcap",                // 802.1Q
	"zeek/q-in-q.pcap",                   // stacked 802.1Q
	"tcpdump/802.1ad_QinQ.pcap",          // 802.1ad
	"wireshark/communityid.pcap",         // every packet cut to 96 bytes
	"tcpdump/various_gre.pcap",           // GRE
	"chrissanders/ip_frag_source.pcapng", // IPv4 fragments
	"chrissanders/http_ip4and6.pcapng",   // IPv4 and IPv6
	"zeek/icmp/5-pings.pcap",             // ICMP
	"chrissanders/arp_resolution.pcapng", // ARP
	"nDPI/1kxun.pcap",                    // bulk mixed traffic
	"zeek-malformed/trunc/icmp-header-trunc.pcap",
	"tcpdump-malformed/tcp_rst_data-trunc.pcap",
	"tcpdump-malformed/gre-heapoverflow-1.pcap",
	"wireshark/many_interfaces-1.pcapng", // Ethernet and BSD loopback in one file
}

// Expressions compared with tcpdump. Together they use every kind of
// instruction libpcap emits: absolute, indirect and MSH loads, len loads,
// every ALU op including NEG, MOD and XOR, division by a register that may be
// 0, scratch memory, and all jumps.
var tcpdumpExprs = []string{
	"",
	"tcp",
	"udp",
	"udp port 53",
	"tcp port 80",
	"host 10.0.0.4",
	"host 192.168.5.44 or host 10.0.0.2",
	"net 192.168.0.0/16",
	"ip6",
	"icmp",
	"icmp6",
	"arp",
	"vlan",
	"vlan and udp",
	"vlan 10",
	"tcp[tcpflags] & tcp-syn != 0",
	"tcp[13] = 0x12",
	"greater 1000",
	"less 100",
	"len >= 90 and len <= 200",
	"not ip",
	"src port 443 or dst port 443",
	"ip proto 47",
	"ether broadcast",
	"ether host ff:ff:ff:ff:ff:ff",
	"ip broadcast",
	"ip multicast",
	"ip6 multicast",
	"ip[6:2] & 0x1fff != 0",
	"ip[0] & 0xf > 5",
	"portrange 1-1023",
	"ip6 and tcp",
	"ip6 protochain 6",
	"udp port 53 and udp[10] & 0x80 = 0",
	"tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420",
	"ip and -ip[8] & 0xff = 0xc0",
	"ip[2:2] % 7 = 3",
	"ip[8] ^ 0xff > 190",
	"ip[2:2] * 3 / 2 > 600",
	"ip[9] << 2 = 24 or ip[9] >> 1 = 8",
	"ip and ip[2:2] / (ip[9] - 6) > 10",
	"ip[2:2] - len < 0",
	"inbound",
	"mpls",
	"pppoes",
	"tcp prot 80",
}

// runTcpdump runs tcpdump -r file args... and returns stdout, or the error
// message tcpdump printed.
func runTcpdump(tcpdump, file string, args ...string) ([]byte, string, error) {
	cmd := exec.Command(tcpdump, append([]string{"-r", file}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		var msg []string
		for _, l := range strings.Split(stderr.String(), "\n") {
			if l != "" && !strings.HasPrefix(l, "reading from file") {
				msg = append(msg, l)
			}
		}
		return nil, strings.Join(msg, " "), err
	}
	return stdout.Bytes(), "", nil
}

// parseDDD parses tcpdump -ddd output.
func parseDDD(out []byte) ([]bpf.RawInstruction, error) {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	n, err := strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil || n != len(lines)-1 {
		return nil, fmt.Errorf("bad -ddd output %q", out)
	}
	var raw []bpf.RawInstruction
	for _, l := range lines[1:] {
		var op, jt, jf, k uint64
		if _, err := fmt.Sscan(l, &op, &jt, &jf, &k); err != nil {
			return nil, fmt.Errorf("bad -ddd line %q: %v", l, err)
		}
		raw = append(raw, bpf.RawInstruction{Op: uint16(op), Jt: uint8(jt), Jf: uint8(jf), K: uint32(k)})
	}
	return raw, nil
}

// writePcap writes packets as a pcap file, for tcpdump.
func writePcap(path string, linkType, snaplen int, pkts []testPacket) error {
	var b bytes.Buffer
	h := make([]byte, 24)
	binary.LittleEndian.PutUint32(h, 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], uint32(snaplen))
	binary.LittleEndian.PutUint32(h[20:], uint32(linkType))
	b.Write(h)
	for i, p := range pkts {
		r := make([]byte, 16)
		binary.LittleEndian.PutUint32(r, uint32(i))
		binary.LittleEndian.PutUint32(r[8:], uint32(len(p.data)))
		binary.LittleEndian.PutUint32(r[12:], uint32(p.origLen))
		b.Write(r)
		b.Write(p.data)
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// xnetKept runs golang.org/x/net/bpf's VM, for information only.
func xnetKept(raw []bpf.RawInstruction, pkts []testPacket) ([]int, error) {
	insns, ok := bpf.Disassemble(raw)
	if !ok {
		return nil, errors.New("x/net/bpf cannot disassemble the program")
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		return nil, err
	}
	var kept []int
	for _, p := range pkts {
		n, err := vm.Run(p.data)
		if err != nil {
			return nil, err
		}
		if n != 0 {
			kept = append(kept, p.num)
		}
	}
	return kept, nil
}

type compareStats struct {
	mu                                  sync.Mutex
	pairs, compiled, refused, packets   int
	matched                             int
	xnetDisagree, xnetFailed, xnetPairs int
	xnetNotes                           []string
}

// TestMatchesTcpdump compiles every expression for every file and checks,
// against tcpdump (libpcap) on the same file, that the program is the one
// tcpdump -ddd prints, that it is refused exactly when tcpdump refuses it,
// and that Matcher keeps exactly the packets tcpdump -w keeps.
func TestMatchesTcpdump(t *testing.T) {
	dir := corpusDir(t)
	needLibpcap(t)
	tcpdump := needTcpdump(t)
	st := &compareStats{}
	t.Run("files", func(t *testing.T) {
		for _, name := range tcpdumpFiles {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				compareFile(t, tcpdump, filepath.Join(dir, name), st)
			})
		}
	})
	t.Logf("%d (file, link type, expression) pairs: %d compiled, %d refused by both libpcap and tcpdump; %d packet verdicts, %d packets kept, all as tcpdump",
		st.pairs, st.compiled, st.refused, st.packets, st.matched)
	t.Logf("golang.org/x/net/bpf VM for comparison: disagreed with tcpdump on %d of %d compiled pairs and could not run %d: %s",
		st.xnetDisagree, st.xnetPairs, st.xnetFailed, strings.Join(st.xnetNotes, "; "))
	if st.pairs < 16*8 {
		t.Errorf("only %d pairs compared", st.pairs)
	}
}

func compareFile(t *testing.T, tcpdump, path string, st *compareStats) {
	c, err := readCaptureFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	if len(c.packets) == 0 {
		t.Fatalf("%s: no packets", path)
	}
	// tcpdump cannot read a pcapng file whose interfaces have different
	// link types: give it one pcap per link type instead.
	type part struct {
		file     string
		linkType int
		order    binary.ByteOrder
		pkts     []testPacket
	}
	var parts []part
	if len(c.linkTypes) == 1 {
		parts = append(parts, part{path, c.packets[0].linkType, c.order, c.packets})
	} else {
		byLT := map[int][]testPacket{}
		for _, p := range c.packets {
			byLT[p.linkType] = append(byLT[p.linkType], p)
		}
		for lt, pkts := range byLT {
			f := filepath.Join(t.TempDir(), fmt.Sprintf("lt%d.pcap", lt))
			if err := writePcap(f, lt, c.snaplen, pkts); err != nil {
				t.Fatal(err)
			}
			parts = append(parts, part{f, lt, binary.LittleEndian, pkts})
		}
	}
	for _, expr := range tcpdumpExprs {
		set := NewSet(expr, c.snaplen)
		for _, pt := range parts {
			args := []string{}
			if expr != "" {
				args = append(args, expr)
			}
			st.mu.Lock()
			st.pairs++
			st.mu.Unlock()
			ddd, tdErr, err := runTcpdump(tcpdump, pt.file, append([]string{"-ddd"}, args...)...)
			m, cerr := set.ForByteOrder(pt.linkType, pt.order)
			if err != nil {
				// tcpdump refused the expression: so must we.
				var ce *CompileError
				if cerr == nil {
					t.Errorf("%q on link type %d: tcpdump refused it (%s) but Compile accepted it", expr, pt.linkType, tdErr)
					continue
				}
				if !errors.As(cerr, &ce) || !strings.Contains(tdErr, ce.Msg) {
					t.Errorf("%q on link type %d: error %q, tcpdump said %q", expr, pt.linkType, cerr, tdErr)
				}
				st.mu.Lock()
				st.refused++
				st.mu.Unlock()
				continue
			}
			if cerr != nil {
				t.Errorf("%q on link type %d: Compile: %v, but tcpdump accepted it", expr, pt.linkType, cerr)
				continue
			}
			want, err := parseDDD(ddd)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Program().Raw; !slices.Equal(got, want) {
				t.Errorf("%q on link type %d: program differs from tcpdump -ddd:\n got %v\nwant %v", expr, pt.linkType, got, want)
			}

			out, tdErr, err := runTcpdump(tcpdump, pt.file, append([]string{"-w", "-"}, args...)...)
			if err != nil {
				t.Fatalf("%q: tcpdump -w: %v: %s", expr, err, tdErr)
			}
			oc, err := parsePcap(out)
			if err != nil {
				t.Fatalf("%q: parsing tcpdump output: %v", expr, err)
			}
			wantKept, err := alignKept(pt.pkts, oc.packets)
			if err != nil {
				t.Fatalf("%q on link type %d: %v", expr, pt.linkType, err)
			}
			var gotKept []int
			for _, p := range pt.pkts {
				if m.Match(p.data, p.origLen) {
					gotKept = append(gotKept, p.num)
				}
			}
			if !slices.Equal(gotKept, wantKept) {
				t.Errorf("%q on link type %d: kept packets %s, tcpdump kept %s", expr, pt.linkType, diffNums(gotKept, wantKept), diffNums(wantKept, gotKept))
			}
			xk, xerr := xnetKept(m.Program().Raw, pt.pkts)
			st.mu.Lock()
			st.compiled++
			st.packets += len(pt.pkts)
			st.matched += len(gotKept)
			st.xnetPairs++
			base := filepath.Base(path)
			if xerr != nil {
				st.xnetFailed++
				st.xnetNotes = append(st.xnetNotes, fmt.Sprintf("%s %q: %v", base, expr, xerr))
			} else if !slices.Equal(xk, wantKept) {
				st.xnetDisagree++
				st.xnetNotes = append(st.xnetNotes, fmt.Sprintf("%s %q: kept %d, tcpdump %d", base, expr, len(xk), len(wantKept)))
			}
			st.mu.Unlock()
		}
	}
}

// diffNums describes a, listing the members not in b.
func diffNums(a, b []int) string {
	var extra []int
	for _, n := range a {
		if !slices.Contains(b, n) {
			extra = append(extra, n)
		}
	}
	return fmt.Sprintf("%d packets (not in the other: %v)", len(a), extra)
}
