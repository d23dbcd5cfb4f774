package encode_test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/espcap/espcap-fast/decode"
	"github.com/espcap/espcap-fast/internal/need"
	"github.com/espcap/espcap-fast/internal/testpcap"
)

// TestCutHeadersAgainstTshark encodes captures whose IPv4, IPv6, TCP or
// ICMP header is cut short or damaged: the document has the fields of the
// header that tshark shows (those before the damage), and no others of
// the wide field set.
func TestCutHeadersAgainstTshark(t *testing.T) {
	fields := strings.Fields(`ip.ttl ip.id ip.len ip.proto ip.flags.df ip.dsfield.dscp ipv6.hlim ipv6.nxt ipv6.plen
		ipv6.flow tcp.flags tcp.hdr_len tcp.seq_raw tcp.len tcp.urgent_pointer icmp.type icmp.code`)
	dir := need.Shared(t)
	need.Tshark(t)
	e, d := encoder(t), decode.NewDecoder()
	for _, name := range []string{
		"tcpdump-malformed/ipv4_invalid_length.pcap",             // 19 bytes of IPv4 header
		"tcpdump-malformed/ipv4_invalid_hdr_length.pcap",         // header length below 20: version and header length only
		"zeek-malformed/trunc/ip4-trunc.pcap",                    // 6 bytes
		"zeek-malformed/trunc/ipv4-truncated-broken-header.pcap", // total length below the header length
		"zeek-malformed/trunc/ip6-trunc.pcap",                    // 34 bytes of IPv6 header
		"tcpdump-malformed/ipv6_39_byte_header.pcap",
		"tcpdump-malformed/ipv6_invalid_length.pcap",
		"tcpdump-malformed/tcp-auth-heapoverflow.pcap", // TCP data offset past the packet
		"zeek-malformed/trunc/icmp-header-trunc.pcap",  // ICMP cut before 8 bytes
	} {
		file := filepath.Join(dir, name)
		args := []string{"-n", "-r", file, "-T", "fields", "-E", "occurrence=f", "-e", "frame.number"}
		for _, f := range fields {
			args = append(args, "-e", f)
		}
		out, err := exec.Command("tshark", args...).Output()
		if err != nil {
			t.Fatalf("tshark %s: %v", name, err)
		}
		pk := testpcap.MustLoad(t, file, 0)
		for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
			r := strings.Split(line, "\t")
			n, _ := strconv.Atoi(r[0])
			if n < 1 || n > len(pk) || len(r) != 1+len(fields) {
				t.Fatalf("%s: tshark row %q", name, line)
			}
			doc := encodeOne(t, e, d, &pk[n-1])
			for j, f := range fields {
				proto, rest, _ := strings.Cut(f, ".")
				mine := ""
				switch v := get(doc, "layers."+proto+"."+strings.ReplaceAll(rest, ".", "_")).(type) {
				case bool:
					mine = map[bool]string{false: "0", true: "1"}[v]
				case float64:
					mine = strconv.FormatFloat(v, 'f', -1, 64)
				case nil:
				default:
					mine = fmt.Sprint(v)
				}
				if mine != norm(r[1+j]) {
					t.Errorf("%s frame %d: %s %q, tshark %q", name, n, f, mine, r[1+j])
				}
			}
		}
	}
}

// norm writes a tshark value as the test compares it: booleans as 0/1,
// hex numbers in decimal.
func norm(s string) string {
	switch s {
	case "True":
		return "1"
	case "False":
		return "0"
	}
	if strings.HasPrefix(s, "0x") {
		if v, err := strconv.ParseUint(s[2:], 16, 64); err == nil {
			return strconv.FormatUint(v, 10)
		}
	}
	return s
}
