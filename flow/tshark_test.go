package flow_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/espcap/espcap-fast/decode"
	"github.com/espcap/espcap-fast/flow"
	"github.com/espcap/espcap-fast/internal/need"
	"github.com/espcap/espcap-fast/internal/testpcap"
)

// conv is one conversation: tshark's tcp.stream or udp.stream, or one of
// our flows, counted from the side that sent its first frame.
type conv struct {
	frames     []int
	src        string // first frame's sender, "addr port"
	pkts, byts [2]uint64
	start, end int64 // µs
}

func (c *conv) String() string {
	return fmt.Sprintf("%s: %d frames, packets %v bytes %v, %d..%d µs", c.src, len(c.frames), c.pkts, c.byts, c.start, c.end)
}

// ourFlows tracks the flows of one capture with timeouts longer than any
// capture, and returns them by ID and the flow of each frame.
func ourFlows(t *testing.T, file string) (map[[22]byte]*conv, map[int][22]byte) {
	pk, err := testpcap.Load(file, 0)
	if err != nil {
		t.Fatal(err)
	}
	flows := map[[22]byte]*conv{}
	frameFlow := map[int][22]byte{}
	final := map[[22]byte]flow.Record{}
	long := 100 * 365 * 24 * time.Hour
	tab := flow.NewTable(flow.Config{TCPTimeout: long, UDPTimeout: long, OtherTimeout: long, CloseDelay: long,
		Emit: func(r *flow.Record) { final[r.ID] = *r }})
	d := decode.NewDecoder()
	var fp flow.Packet
	first := map[[22]byte]int{} // side of the first frame
	for i := range pk {
		p := &pk[i]
		if !flow.Extract(d.Decode(p.Data, p.LinkType, p.OrigLen), &fp) {
			continue
		}
		r := tab.Observe(&fp, p.Timestamp, p.OrigLen)
		frameFlow[p.Number] = r.ID
		c := flows[r.ID]
		if c == nil {
			c = &conv{}
			flows[r.ID] = c
			side := 0
			if fp.FromB {
				side = 1
			}
			first[r.ID] = side
		}
		c.frames = append(c.frames, p.Number)
	}
	tab.Flush()
	for id, c := range flows {
		r := final[id]
		s := first[id]
		addr, _ := netip.AddrFromSlice(r.Addr(s))
		c.src = fmt.Sprintf("%s %d", addr, r.Port(s))
		if !r.Key.HasPorts {
			c.src = addr.String()
		}
		c.pkts = [2]uint64{r.Packets[s], r.Packets[1-s]}
		c.byts = [2]uint64{r.Bytes[s], r.Bytes[1-s]}
		c.start, c.end = r.Start/1000, r.End/1000
	}
	return flows, frameFlow
}

// tsharkConvs groups tshark's frames of file by tcp.stream / udp.stream,
// the innermost (last) one of a tunnelled frame.
func tsharkConvs(t *testing.T, tshark, file string) map[string]*conv {
	cmd := exec.Command(tshark, "-n", "-2", "-r", file, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=l",
		"-e", "frame.number", "-e", "tcp.stream", "-e", "udp.stream", "-e", "frame.len", "-e", "frame.time_epoch",
		"-e", "_ws.col.Source", "-e", "ip.src", "-e", "tcp.srcport", "-e", "udp.srcport", "-e", "icmp.type", "-e", "icmpv6.type",
		"-e", "ip.reassembled_in", "-e", "ipv6.reassembled.in")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil && len(out) == 0 {
		t.Fatalf("tshark %s: %v: %s", file, err, stderr.Bytes())
	}
	type row struct {
		num        int
		key, src   string
		ln         uint64
		us         int64
		reassembly int // the frame that reassembles this fragment's datagram
	}
	var rows []row
	byNum := map[int]int{}
	quoted := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) < 13 {
			continue
		}
		if f[9] != "" || f[10] != "" {
			// an ICMP error: tshark gives the header it quotes a stream,
			// but it is not a packet of that conversation
			quoted++
			continue
		}
		r := row{}
		r.num, _ = strconv.Atoi(f[0])
		r.ln, _ = strconv.ParseUint(f[3], 10, 64)
		r.us = epochMicros(f[4])
		port := ""
		switch {
		case f[1] != "":
			r.key, port = "tcp:"+f[1], f[7]
		case f[2] != "":
			r.key, port = "udp:"+f[2], f[8]
		case f[11] != "" || f[12] != "":
			// a fragment of a datagram tshark reassembles later
			r.reassembly, _ = strconv.Atoi(f[11] + f[12])
		default:
			continue
		}
		// the innermost network source, as the Source column shows it
		// (a MAC when the innermost frame is not IP: then the IP header
		// of the stream)
		if a, err := netip.ParseAddr(f[5]); err == nil {
			r.src = a.String()
		} else {
			r.src = f[6]
		}
		r.src += " " + port
		byNum[r.num] = len(rows)
		rows = append(rows, r)
	}
	convs := map[string]*conv{}
	for _, r := range rows {
		if r.key == "" {
			// the fragment belongs to the conversation of its datagram
			i, ok := byNum[r.reassembly]
			if !ok || rows[i].key == "" {
				continue
			}
			r.key, r.src = rows[i].key, rows[i].src
		}
		c := convs[r.key]
		if c == nil {
			c = &conv{src: r.src, start: r.us, end: r.us}
			convs[r.key] = c
		}
		dir := 0
		if r.src != c.src {
			dir = 1
		}
		c.frames = append(c.frames, r.num)
		c.pkts[dir]++
		c.byts[dir] += r.ln
		c.start, c.end = min(c.start, r.us), max(c.end, r.us)
	}
	if quoted > 0 {
		t.Logf("%s: %d ICMP frames left out (tshark streams of the headers they quote)", filepath.Base(file), quoted)
	}
	return convs
}

// epochMicros parses frame.time_epoch ("1418145369.924505488") into µs,
// truncating.
func epochMicros(s string) int64 {
	sec, frac, _ := strings.Cut(s, ".")
	n, _ := strconv.ParseInt(sec, 10, 64)
	frac = (frac + "000000")[:6]
	f, _ := strconv.ParseInt(frac, 10, 64)
	return n*1e6 + f
}

// agreement compares tshark's conversations of each file with our flows
// and returns how many agree and how many there are; each disagreement is
// logged with its reason.
func agreement(t *testing.T, files []string) (agree, total, unexplained int) {
	tshark := need.Tshark(t)
	for _, file := range files {
		theirs := tsharkConvs(t, tshark, file)
		ours, frameFlow := ourFlows(t, file)
		keys := make([]string, 0, len(theirs))
		for k := range theirs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			c := theirs[k]
			total++
			why := disagree(c, ours, frameFlow)
			if why == "" {
				agree++
				continue
			}
			known, ok := knownDisagreements[filepath.Base(file)]
			if ok {
				why += "\n\tknown: " + known
			} else {
				unexplained++
			}
			t.Logf("%s %s: %s\n\ttshark: %v", filepath.Base(file), k, why, c)
		}
	}
	return agree, total, unexplained
}

// knownDisagreements are the captures whose conversations differ from
// tshark's by a design choice or a protocol the native decoders lack, with
// the reason (go test -v lists each conversation).
var knownDisagreements = map[string]string{
	"stun.pcap":                              "the two directions carry different VLAN ids: the flow key has the VLAN ids (as Suricata's), tshark's streams do not",
	"vlan-pcp-dei.pcapng":                    "the packets of one connection carry different VLAN ids (PCP/DEI test): VLAN ids are in the flow key, not in tshark's",
	"Teredo.pcap":                            "Teredo (IPv6 in UDP 3544) is not decoded natively, so the inner IPv6 connection is not seen; tshark's udp.stream counts the inner one",
	"gtp1_gn_normal_incl_fragmentation.pcap": "the outer IP datagrams around the GTP tunnel are fragmented: the inner connection's later fragments have no inner header to key on",
}

// disagree returns why our flow differs from tshark's conversation c, or "".
func disagree(c *conv, ours map[[22]byte]*conv, frameFlow map[int][22]byte) string {
	ids := map[[22]byte]bool{}
	for _, n := range c.frames {
		id, ok := frameFlow[n]
		if !ok {
			return fmt.Sprintf("frame %d has no flow key (no IP header before the transport)", n)
		}
		ids[id] = true
	}
	if len(ids) > 1 {
		return fmt.Sprintf("split into %d flows (our key has the VLAN ids, tshark's streams do not; or a fragment whose first fragment was not seen)", len(ids))
	}
	var o *conv
	for id := range ids {
		o = ours[id]
	}
	switch {
	case len(o.frames) != len(c.frames):
		return fmt.Sprintf("our flow has %d frames (others share its key: a tunnel, or tshark split the stream)\n\tours:   %v", len(o.frames), o)
	case o.src != c.src:
		return fmt.Sprintf("first sender differs\n\tours:   %v", o)
	case o.pkts != c.pkts || o.byts != c.byts:
		return fmt.Sprintf("counts differ\n\tours:   %v", o)
	case o.start != c.start || o.end != c.end:
		return fmt.Sprintf("times differ\n\tours:   %v", o)
	}
	return ""
}

// reportAgreement fails the test when a disagreement has no known reason,
// or when the agreement falls below 99.5 % (the goal is 99.9 %;
// the known disagreements of the shared corpus keep it at 99.69 %).
func reportAgreement(t *testing.T, agree, total, unexplained int) {
	if total == 0 {
		t.Fatal("tshark found no TCP or UDP conversation")
	}
	pct := 100 * float64(agree) / float64(total)
	t.Logf("tshark agreement: %d of %d conversations (%.2f %%), %d disagreements without a known reason", agree, total, pct, unexplained)
	if unexplained > 0 || pct < 99.5 {
		t.Errorf("tshark agreement %.2f %% with %d unexplained disagreements; want none unexplained and at least 99.5 %% (disagreements above, go test -v)", pct, unexplained)
	}
}

// TestTsharkAgreement: our flows of the bundled captures against tshark's
// tcp.stream and udp.stream, on addresses, ports, packets and bytes per
// direction, start and end (µs).
func TestTsharkAgreement(t *testing.T) {
	files, _ := filepath.Glob("../testdata/pcaps/*")
	agree, total, unexplained := agreement(t, files)
	reportAgreement(t, agree, total, unexplained)
}

// TestTsharkAgreementShared: the same on the shared corpus (captures of
// real traffic, see testpcap.SharedCaptures).
func TestTsharkAgreementShared(t *testing.T) {
	files := testpcap.SharedCaptures(need.Shared(t))
	agree, total, unexplained := agreement(t, files)
	reportAgreement(t, agree, total, unexplained)
}
