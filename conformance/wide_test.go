package conformance

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/valyala/fastjson"

	"github.com/espcap/espcap-fast/encode"
	"github.com/espcap/espcap-fast/internal/testpcap"
)

// wideFields are the Wireshark fields of the wide comparison (the set of
// ../shared/tools/accuracy-wide.py). A field proto.a.b is looked up in a
// document as layers.<proto>.<a_b>, the project's naming contract; of a
// repeated layer or value the first counts, as tshark's -E occurrence=f.
var wideFields = strings.Fields(`
eth.src eth.type vlan.id arp.opcode arp.src.proto_ipv4
ip.ttl ip.id ip.len ip.proto ip.flags.df ip.dsfield.dscp ipv6.hlim ipv6.nxt ipv6.plen ipv6.flow
tcp.flags tcp.window_size_value tcp.hdr_len tcp.len tcp.seq_raw tcp.ack_raw tcp.options.mss_val tcp.urgent_pointer
udp.length icmp.type icmp.code icmpv6.type icmpv6.code gre.proto vxlan.vni
dns.id dns.flags.response dns.flags.rcode dns.qry.type dns.count.answers dns.a dns.aaaa dns.resp.ttl
http.request.method http.response.code http.user_agent http.request.version
tls.handshake.type tls.handshake.version tls.handshake.ciphersuite tls.handshake.extensions_alpn_str
tls.handshake.ja3 tls.handshake.ja3s
dhcp.option.dhcp dhcp.option.hostname dhcp.hw.mac_addr ntp.stratum ntp.ppoll quic.version`)

// wideKnown explains the differences that remain on the shared corpus, by
// capture: what tshark knows from other packets of the conversation, which
// a decoder of one packet at a time cannot.
var wideKnown = map[string]string{
	"nDPI/alexa-app.pcapng":                       "TLS handshake records retransmitted after the ChangeCipherSpec: tshark takes them for encrypted ones",
	"wireshark/quic-fragmented-handshakes.pcapng": "ClientHellos whose CRYPTO frames span several datagrams (tshark reassembles them and shows the hello in the last), and QUIC on UDP 4443, which tshark recognises by its heuristic and conversation (the native decoder: UDP 443)",
	"suricata-verify/quic-frag-unordered.pcap":    "a ClientHello in CRYPTO frames over two datagrams, out of order: tshark reassembles it and shows it in the second, here the part in the first is decoded",
	"tcpdump/quic_retry.pcap":                     "the client Initial after a Retry: tshark does not decrypt it, here it is (keys from its own Destination Connection ID)",
	"wireshark/tls12-dsb.pcapng":                  "TLS decrypted by tshark with the keys of the file's Decryption Secrets Block (HTTP inside, Finished)",
	"chrissanders/dns_axfr.pcapng":                "a TCP segment continuing a DNS message (AXFR): tshark decodes its bytes as a message header",
	"wireshark/arp.pcap":                          "link type 107 (Frame Relay) is not supported",
	"zeek/ipv4/fragmented-1.pcap":                 "NTP cut by the end of the first IP fragment: tshark shows the fields before the cut",
	"zeek/ipv4/fragmented-3.pcap":                 "TCP header in a first IP fragment: tshark gives no tcp.len",
	"suricata-verify/frag-ip-tcp-ipv6.pcap":       "TCP header in a first IP fragment: tshark gives no tcp.len",
}

// normWide normalises a value as accuracy-wide.py does: numbers (decimal or
// 0x hex) as decimal integers, booleans as 0/1, strings lower-cased.
func normWide(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "true":
		return "1"
	case "false":
		return "0"
	}
	if strings.HasPrefix(s, "0x") {
		if v, err := strconv.ParseUint(s[2:], 16, 64); err == nil {
			return strconv.FormatUint(v, 10)
		}
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return strconv.FormatInt(v, 10)
	}
	return s
}

// wideDocValue is the first value of field in the document, "" if none.
func wideDocValue(v *fastjson.Value, field string) string {
	proto, rest, _ := strings.Cut(field, ".")
	l := v.Get("layers", proto)
	if l != nil && l.Type() == fastjson.TypeArray {
		if a := l.GetArray(); len(a) > 0 {
			l = a[0]
		} else {
			l = nil
		}
	}
	if l == nil || l.Type() != fastjson.TypeObject {
		return ""
	}
	f := l.Get(strings.ReplaceAll(rest, ".", "_"))
	if f != nil && f.Type() == fastjson.TypeArray {
		if a := f.GetArray(); len(a) > 0 {
			f = a[0]
		} else {
			f = nil
		}
	}
	switch {
	case f == nil:
		return ""
	case f.Type() == fastjson.TypeString:
		return string(f.GetStringBytes())
	case f.Type() == fastjson.TypeTrue:
		return "1"
	case f.Type() == fastjson.TypeFalse:
		return "0"
	}
	return f.String()
}

// wideCount is the agreement on one field: values compared (where either
// side has one) and values equal.
type wideCount struct{ agree, total int }

// compareWide compares the wide field set of every packet of path with
// tshark (first occurrence, the options of tsharkArgs) and adds to counts;
// it returns the differences, one line each.
func compareWide(t *testing.T, path string, protos *encode.Protocols, counts map[string]*wideCount) []string {
	args := []string{"-r", path, "-n",
		"-o", "tcp.desegment_tcp_streams:FALSE", "-o", "ip.defragment:FALSE",
		"-o", "ipv6.defragment:FALSE", "-o", "tcp.analyze_sequence_numbers:FALSE",
		"-T", "fields", "-E", "occurrence=f", "-E", "separator=/t", "-e", "frame.number"}
	for _, f := range wideFields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil && len(out) == 0 {
		t.Errorf("tshark %s: %v", path, err)
		return nil
	}
	docs := runEngine(t, path, protos)
	var p fastjson.Parser
	var diffs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		for len(cols) < 1+len(wideFields) {
			cols = append(cols, "")
		}
		n, err := strconv.Atoi(cols[0])
		if err != nil {
			continue
		}
		var v *fastjson.Value
		if doc, ok := docs[uint64(n)]; ok {
			v, _ = p.ParseBytes(doc)
		}
		for i, f := range wideFields {
			mine := ""
			if v != nil {
				mine = normWide(wideDocValue(v, f))
			}
			theirs := normWide(cols[1+i])
			if mine == "" && theirs == "" {
				continue
			}
			c := counts[f]
			c.total++
			if mine == theirs {
				c.agree++
			} else {
				diffs = append(diffs, fmt.Sprintf("frame %d: %s %q, tshark %q", n, f, mine, theirs))
			}
		}
	}
	return diffs
}

// checkWide compares the wide field set over files, logs a per-field table
// and every difference (with its reason where wideKnown has one), and
// requires min percent of the field values to agree.
func checkWide(t *testing.T, root string, files []string, min float64) {
	protos := loadProtocols(t)
	counts := map[string]*wideCount{}
	for _, f := range wideFields {
		counts[f] = &wideCount{}
	}
	for _, path := range files {
		diffs := compareWide(t, path, protos, counts)
		if len(diffs) == 0 {
			continue
		}
		name, _ := filepath.Rel(root, path)
		why := wideKnown[filepath.ToSlash(name)]
		if why == "" {
			why = "not explained"
		}
		t.Logf("%s: %d differences (%s)", name, len(diffs), why)
		for _, d := range diffs {
			t.Logf("    %s", d)
		}
	}
	var agree, total int
	for _, f := range wideFields {
		c := counts[f]
		agree += c.agree
		total += c.total
		if c.total > 0 && c.agree < c.total {
			t.Logf("%-36s %7d/%-7d %6.2f%%", f, c.agree, c.total, 100*float64(c.agree)/float64(c.total))
		}
	}
	if total == 0 {
		t.Fatal("no field values compared")
	}
	pct := 100 * float64(agree) / float64(total)
	t.Logf("wide agreement %.3f%% of field values (%d/%d, %d fields, %d files)", pct, agree, total, len(wideFields), len(files))
	if pct < min {
		t.Errorf("wide agreement with tshark %.3f%% is below %.2f%%", pct, min)
	}
}

// TestWideFieldsAgreeWithTshark compares the wide field set on every packet
// of the bundled captures (testdata/pcaps) with tshark 4.
func TestWideFieldsAgreeWithTshark(t *testing.T) {
	needTshark(t)
	files, err := filepath.Glob("../testdata/pcaps/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures in testdata/pcaps: %v", err)
	}
	sort.Strings(files)
	checkWide(t, "../testdata/pcaps", files, 99.95)
}

// TestWideFieldsShared does the same over the captures of real traffic of
// the shared corpus, when it is there. Measured 99.983% (2026-12, 82
// differences in 10 captures), every remaining difference explained in
// wideKnown. (accuracy-wide.py, which also reads the malformed folders and
// leaves tshark's TCP sequence analysis on, gives 99.96%: tshark leaves
// retransmitted and out-of-order payloads undissected, 169 field values
// on the corpus; a damaged pcap that tshark reads with another record
// format, 8; two DNS questions cut by damage, 2.)
func TestWideFieldsShared(t *testing.T) {
	dir := sharedCorpus(t)
	checkWide(t, dir, testpcap.SharedCaptures(dir), 99.95)
}
