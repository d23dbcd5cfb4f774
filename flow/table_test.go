package flow

import (
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/espcap/espcap-fast/decode"
)

// seg describes one crafted TCP segment: from the client (c) or server.
type seg struct {
	fromClient bool
	flags      string // letters: S A F R P
	payload    int
	cport      uint16 // client port (default 40000)
	data       []byte // the payload, if not payload zero bytes
}

var (
	clientIP = net.IP{10, 0, 0, 2}
	serverIP = net.IP{10, 0, 0, 1} // sorts first: the client is the key's B side
)

// tcpFrame builds an Ethernet/IPv4/TCP frame with gopacket.
func tcpFrame(t testing.TB, s seg) []byte {
	t.Helper()
	cport := s.cport
	if cport == 0 {
		cport = 40000
	}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: serverIP, DstIP: clientIP}
	tcp := &layers.TCP{SrcPort: 80, DstPort: layers.TCPPort(cport), Window: 1000}
	if s.fromClient {
		ip.SrcIP, ip.DstIP = clientIP, serverIP
		tcp.SrcPort, tcp.DstPort = tcp.DstPort, tcp.SrcPort
	}
	for _, c := range s.flags {
		switch c {
		case 'S':
			tcp.SYN = true
		case 'A':
			tcp.ACK = true
		case 'F':
			tcp.FIN = true
		case 'R':
			tcp.RST = true
		case 'P':
			tcp.PSH = true
		}
	}
	tcp.SetNetworkLayerForChecksum(ip)
	payload := s.data
	if payload == nil {
		payload = make([]byte, s.payload)
	}
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, tcp, gopacket.Payload(payload))
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// run feeds the segments, one per second from t0, and returns the records
// emitted (copies), flushing at the end when flush is set.
func run(t *testing.T, cfg Config, segs []seg, flush bool) []Record {
	t.Helper()
	var out []Record
	cfg.Emit = func(r *Record) { out = append(out, *r) }
	tab := NewTable(cfg)
	dec := decode.NewDecoder()
	var fp Packet
	for i, s := range segs {
		data := tcpFrame(t, s)
		p := dec.Decode(data, decode.LinkTypeEthernet, 0)
		if !Extract(p, &fp) {
			t.Fatalf("segment %d: no flow key", i)
		}
		tab.Observe(&fp, int64(i)*int64(time.Second), len(data))
	}
	if flush {
		tab.Flush()
	}
	return out
}

func TestConnState(t *testing.T) {
	c := func(f string) seg { return seg{fromClient: true, flags: f} }
	s := func(f string) seg { return seg{flags: f} }
	cd := func(f string, n int) seg { return seg{fromClient: true, flags: f, payload: n} }
	sd := func(f string, n int) seg { return seg{flags: f, payload: n} }
	tests := []struct {
		name    string
		segs    []seg
		state   string
		history string
		reason  EndReason
		srcPkts uint64
		dstPkts uint64
	}{
		{"handshake and FIN", []seg{c("S"), s("SA"), c("A"), cd("PA", 100), sd("PA", 200), c("FA"), s("FA"), c("A")}, "SF", "ShADdFf", EndCapture, 5, 3},
		{"SYN only", []seg{c("S"), c("S")}, "S0", "S", EndCapture, 2, 0},
		{"SYN then RST", []seg{c("S"), s("RA")}, "REJ", "Sr", EndCapture, 1, 1},
		{"mid-stream", []seg{cd("PA", 10), s("A"), cd("PA", 10)}, "OTH", "Da", EndCapture, 2, 1},
		{"SYN-ACK first: initiator is the receiver", []seg{s("SA"), c("A")}, "OTH", "hA", EndCapture, 1, 1},
		{"established", []seg{c("S"), s("SA"), c("A")}, "S1", "ShA", EndCapture, 2, 1},
		{"originator closes", []seg{c("S"), s("SA"), c("A"), c("FA")}, "S2", "ShAF", EndCapture, 3, 1},
		{"responder resets", []seg{c("S"), s("SA"), c("A"), s("R")}, "RSTR", "ShAr", EndCapture, 2, 2},
		{"originator resets", []seg{c("S"), s("SA"), c("R")}, "RSTO", "ShR", EndCapture, 2, 1},
		{"SYN then own RST", []seg{c("S"), c("R")}, "RSTOS0", "SR", EndCapture, 2, 0},
		{"SYN then FIN", []seg{c("S"), c("F")}, "SH", "SF", EndCapture, 2, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs := run(t, Config{}, tc.segs, true)
			if len(recs) != 1 {
				t.Fatalf("%d records, want 1", len(recs))
			}
			r := &recs[0]
			if got := r.ConnState(); got != tc.state {
				t.Errorf("conn_state %s, want %s", got, tc.state)
			}
			if got := string(r.HistoryBytes()); got != tc.history {
				t.Errorf("history %q, want %q", got, tc.history)
			}
			if r.Reason != tc.reason || !r.Final {
				t.Errorf("reason %v final %v, want %v final", r.Reason, r.Final, tc.reason)
			}
			if r.Packets[r.Src()] != tc.srcPkts || r.Packets[r.Dst()] != tc.dstPkts {
				t.Errorf("packets src %d dst %d, want %d %d", r.Packets[r.Src()], r.Packets[r.Dst()], tc.srcPkts, tc.dstPkts)
			}
			if r.Start != 0 || r.End != int64(len(tc.segs)-1)*int64(time.Second) {
				t.Errorf("start %d end %d", r.Start, r.End)
			}
		})
	}
}

func TestSourceIsInitiator(t *testing.T) {
	recs := run(t, Config{}, []seg{{fromClient: true, flags: "S"}, {flags: "SA"}}, true)
	r := &recs[0]
	if got := net.IP(r.Addr(r.Src())); !got.Equal(clientIP) || r.Port(r.Src()) != 40000 {
		t.Errorf("source %v:%d, want the client", got, r.Port(r.Src()))
	}
	if got := net.IP(r.Addr(r.Dst())); !got.Equal(serverIP) || r.Port(r.Dst()) != 80 {
		t.Errorf("destination %v:%d, want the server", got, r.Port(r.Dst()))
	}
}

func TestPortReuse(t *testing.T) {
	conn := []seg{{fromClient: true, flags: "S"}, {flags: "SA"}, {fromClient: true, flags: "A"},
		{fromClient: true, flags: "FA"}, {flags: "FA"}, {fromClient: true, flags: "A"}}
	recs := run(t, Config{CloseDelay: time.Hour}, append(append([]seg{}, conn...), conn...), true)
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	if recs[0].Reason != EndFIN || recs[1].Reason != EndCapture {
		t.Errorf("reasons %v, %v; want fin, end-of-capture", recs[0].Reason, recs[1].Reason)
	}
	for i := range recs {
		if got := recs[i].ConnState(); got != "SF" {
			t.Errorf("flow %d conn_state %s, want SF", i, got)
		}
		if n := recs[i].Packets[0] + recs[i].Packets[1]; n != 6 {
			t.Errorf("flow %d: %d packets, want 6", i, n)
		}
	}
	if recs[0].ID == recs[1].ID {
		t.Errorf("both flows have ID %s", recs[0].ID)
	}
}

func TestCloseDelayAndIdle(t *testing.T) {
	// the closed flow is written once CloseDelay has passed (at the next
	// packet, which belongs to another flow); the other one at its timeout
	segs := []seg{{fromClient: true, flags: "S"}, {flags: "RA"},
		{fromClient: true, flags: "S", cport: 1}, {fromClient: true, flags: "S", cport: 1}, {fromClient: true, flags: "S", cport: 1}}
	recs := run(t, Config{CloseDelay: 1500 * time.Millisecond, TCPTimeout: time.Hour}, segs, false)
	if len(recs) != 1 || recs[0].Reason != EndRST || recs[0].ConnState() != "REJ" {
		t.Fatalf("records %+v, want one REJ ended by rst", recs)
	}
	recs = run(t, Config{TCPTimeout: 1500 * time.Millisecond}, []seg{{fromClient: true, flags: "S"},
		{fromClient: true, flags: "S", cport: 1}, {fromClient: true, flags: "S", cport: 1}, {fromClient: true, flags: "S", cport: 1}}, false)
	if len(recs) != 1 || recs[0].Reason != EndIdle || recs[0].Port(recs[0].Src()) != 40000 {
		t.Fatalf("records %+v, want the first flow ended idle", recs)
	}
}

func TestInterimUpdates(t *testing.T) {
	var segs []seg
	for i := 0; i < 10; i++ {
		segs = append(segs, seg{fromClient: i%2 == 0, flags: "A", payload: 10})
	}
	recs := run(t, Config{Update: 3 * time.Second}, segs, true)
	// packets at 0..9 s: interim at 3, 6, 9 s, then the final one
	if len(recs) != 4 {
		t.Fatalf("%d records, want 4", len(recs))
	}
	for i, r := range recs {
		final := i == len(recs)-1
		if r.Final != final || (r.Reason == Active) == final {
			t.Errorf("record %d: final %v reason %v", i, r.Final, r.Reason)
		}
		if r.ID != recs[0].ID {
			t.Errorf("record %d: ID %s, want %s (one flow)", i, r.ID, recs[0].ID)
		}
	}
	if n := recs[0].Packets[0] + recs[0].Packets[1]; n != 4 {
		t.Errorf("first interim counts %d packets, want 4", n)
	}
}

func TestEviction(t *testing.T) {
	var segs []seg
	for i := 0; i < 10; i++ {
		segs = append(segs, seg{fromClient: true, flags: "S", cport: uint16(1000 + i)})
	}
	var out []Record
	tab := NewTable(Config{MaxFlows: 4, Emit: func(r *Record) { out = append(out, *r) }})
	dec := decode.NewDecoder()
	var fp Packet
	for i, s := range segs {
		data := tcpFrame(t, s)
		Extract(dec.Decode(data, decode.LinkTypeEthernet, 0), &fp)
		tab.Observe(&fp, int64(i), len(data))
	}
	if st := tab.Stats(); st.Evicted != 6 || st.Active != 4 || st.Flows != 10 {
		t.Errorf("stats %+v, want 6 evicted, 4 active, 10 flows", st)
	}
	for i, r := range out {
		if r.Reason != EndEvicted || r.Port(r.Src()) != uint16(1000+i) {
			t.Errorf("evicted %d: port %d reason %v, want port %d (oldest first)", i, r.Port(r.Src()), r.Reason, 1000+i)
		}
	}
	tab.Flush()
	if len(out) != 10 {
		t.Errorf("%d records after flush, want 10", len(out))
	}
	if st := tab.Stats(); st.Active != 0 {
		t.Errorf("%d flows left after flush", st.Active)
	}
}

func TestIDDeterministic(t *testing.T) {
	segs := []seg{{fromClient: true, flags: "S"}, {flags: "SA"}}
	a := run(t, Config{}, segs, true)
	b := run(t, Config{}, segs, true)
	if a[0].ID != b[0].ID {
		t.Errorf("IDs %s and %s differ", a[0].ID, b[0].ID)
	}
}

// TestTableManyFlows checks the index under churn: every flow is found
// again and counted once.
func TestTableManyFlows(t *testing.T) {
	tab := NewTable(Config{MaxFlows: 3000})
	var fp Packet
	fp.Key.Proto = protoUDP
	fp.Key.HasPorts = true
	for round := 0; round < 3; round++ {
		for i := 0; i < 5000; i++ {
			fp.Key.PortA = uint16(i)
			r := tab.Observe(&fp, int64(round*5000+i), 100)
			if round > 0 && i >= 2000 && r.Packets[0] != 1 {
				t.Fatalf("round %d flow %d: %d packets, want 1 (evicted before)", round, i, r.Packets[0])
			}
		}
	}
	if st := tab.Stats(); st.Active != 3000 || st.Flows != 15000 {
		t.Errorf("stats %+v", st)
	}
}

func BenchmarkObserve(b *testing.B) {
	tab := NewTable(Config{})
	dec := decode.NewDecoder()
	var frames [][]byte
	for i := 0; i < 64; i++ {
		frames = append(frames, tcpFrame(b, seg{fromClient: i%2 == 0, flags: "PA", payload: 100, cport: uint16(1000 + i%16)}))
	}
	var fp Packet
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		data := frames[i%len(frames)]
		p := dec.Decode(data, decode.LinkTypeEthernet, 0)
		Extract(p, &fp)
		tab.Observe(&fp, int64(i), len(data))
	}
}

// TestFragments: the later fragments of a datagram count in the flow of
// its first fragment, which carries the ports.
func TestFragments(t *testing.T) {
	udp := make([]byte, 8+40)
	udp[0], udp[1], udp[2], udp[3] = 0x30, 0x39, 0, 53 // ports 12345 -> 53
	udp[4], udp[5] = 0, 8+40+40                        // length of the whole datagram
	frag := func(off uint16, more bool, payload []byte) []byte {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: clientIP, DstIP: serverIP, Id: 777, FragOffset: off}
		if more {
			ip.Flags = layers.IPv4MoreFragments
		}
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, gopacket.Payload(payload)); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	frames := [][]byte{frag(0, true, udp), frag(6, false, make([]byte, 40))}
	var out []Record
	tab := NewTable(Config{Emit: func(r *Record) { out = append(out, *r) }})
	dec := decode.NewDecoder()
	var fp Packet
	for i, f := range frames {
		if !Extract(dec.Decode(f, decode.LinkTypeEthernet, 0), &fp) {
			t.Fatalf("fragment %d: no key", i)
		}
		tab.Observe(&fp, int64(i), len(f))
	}
	tab.Flush()
	if len(out) != 1 {
		t.Fatalf("%d flows, want 1", len(out))
	}
	r := &out[0]
	if r.Packets[r.Src()] != 2 || r.Port(r.Src()) != 12345 || r.Port(r.Dst()) != 53 {
		t.Errorf("flow %d packets %d:%d, want 2 packets 12345 -> 53", r.Packets[r.Src()], r.Port(r.Src()), r.Port(r.Dst()))
	}
}
