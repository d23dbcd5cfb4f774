package encode_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	espcapfast "github.com/espcap/espcap-fast"
	"github.com/espcap/espcap-fast/decode"
	"github.com/espcap/espcap-fast/encode"
	"github.com/espcap/espcap-fast/internal/testpcap"
)

func encoder(t testing.TB) *encode.Encoder {
	p, err := encode.ParseProtocols(espcapfast.ProtocolsList)
	if err != nil {
		t.Fatal(err)
	}
	return encode.NewEncoder(p)
}

func encodeOne(t testing.TB, e *encode.Encoder, d *decode.Decoder, p *testpcap.Packet) map[string]any {
	m := encode.Meta{Timestamp: p.Timestamp, Number: uint64(p.Number), CapLen: len(p.Data), OrigLen: p.OrigLen, FileName: p.File}
	b := e.Encode(nil, &m, d.Decode(p.Data, p.LinkType, p.OrigLen))
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s frame %d: invalid JSON: %v\n%s", p.File, p.Number, err, b)
	}
	return doc
}

func get(doc map[string]any, path string) any {
	var v any = doc
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func TestDocument(t *testing.T) {
	pk := testpcap.MustLoad(t, "../testdata/pcaps/seed_test_http.pcap", 4)
	doc := encodeOne(t, encoder(t), decode.NewDecoder(), &pk[3])
	for path, want := range map[string]any{
		"@timestamp":                 "2015-07-30T05:22:10.483728000Z",
		"sniff_timestamp":            1438233730.483728,
		"sniff_date_utc":             "2015-07-30T05:22:10+0000",
		"protocol":                   "http",
		"frame.number":               4.0,
		"frame.len":                  350.0,
		"frame.protocols":            "eth:ethertype:ip:tcp:http",
		"source.ip":                  "10.0.0.4",
		"source.port":                59803.0,
		"destination.ip":             "184.51.102.81",
		"destination.port":           80.0,
		"network.transport":          "tcp",
		"network.type":               "ipv4",
		"network.protocol":           "http",
		"layers.ip.src":              "10.0.0.4",
		"layers.ip.flags_df":         true,
		"layers.tcp.srcport":         59803.0,
		"layers.tcp.flags_push":      true,
		"layers.tcp.seq_raw":         2938751740.0,
		"layers.http.request_method": "GET",
		"layers.http.host":           "tmsm20.url.trendmicro.com:80",
		"layers.http.user_agent":     "TmccProxy",
		"layers.eth.src":             "60:f8:1d:cb:43:84",
		"network.community_id":       "1:/hlsWY4av7m2zBJP4yvvfQ4/6HM=",
	} {
		if got := get(doc, path); got != want {
			t.Errorf("%s = %v (%T), want %v", path, got, got, want)
		}
	}
}

func TestRepeatedLayersAreArrays(t *testing.T) {
	pk := testpcap.MustLoad(t, "../testdata/pcaps/arkime_gre-erspan-vxlan.pcap", 4)
	doc := encodeOne(t, encoder(t), decode.NewDecoder(), &pk[3])
	ips, ok := get(doc, "layers").(map[string]any)["ip"].([]any)
	if !ok || len(ips) != 3 {
		t.Fatalf("layers.ip is %T with %v, want an array of 3 objects", get(doc, "layers.ip"), get(doc, "layers.ip"))
	}
	var srcs []string
	for _, ip := range ips {
		srcs = append(srcs, ip.(map[string]any)["src"].(string))
	}
	if strings.Join(srcs, ",") != "100.20.9.2,172.16.27.131,10.16.27.12" {
		t.Errorf("ip.src outermost first: %v", srcs)
	}
	if get(doc, "source.ip") != "10.16.27.12" {
		t.Errorf("source.ip %v, want the innermost", get(doc, "source.ip"))
	}
}

func TestMalformedDocument(t *testing.T) {
	pk := testpcap.MustLoad(t, "../testdata/pcaps/seed_test_http.pcap", 4)
	p := pk[3]
	p.Data = append([]byte(nil), p.Data...)
	p.Data[14+20+12] = 0x30
	doc := encodeOne(t, encoder(t), decode.NewDecoder(), &p)
	tags, _ := doc["tags"].([]any)
	if len(tags) == 0 || tags[0] != "malformed" {
		t.Errorf("tags %v", tags)
	}
	if msg, _ := get(doc, "error.message").(string); !strings.HasPrefix(msg, "tcp: ") {
		t.Errorf("error.message %q", msg)
	}
	if get(doc, "layers.ip.src") != "10.0.0.4" || doc["protocol"] != "ip" {
		t.Errorf("layers before the damage are missing: %v", doc["layers"])
	}
}

// TestEveryTestPacket encodes every packet of the test captures (well-formed
// and malformed): each document is valid JSON.
func TestEveryTestPacket(t *testing.T) {
	e, d := encoder(t), decode.NewDecoder()
	for _, pattern := range []string{"../testdata/pcaps/*", "../testdata/malformed/*"} {
		pk := testpcap.MustLoad(t, pattern, 0)
		for i := range pk {
			encodeOne(t, e, d, &pk[i])
		}
	}
}

// TestNilProtocols: an encoder without a protocols list (NewEncoder(nil))
// encodes every test packet, mDNS and SSDP included, naming each by its
// highest decoded layer.
func TestNilProtocols(t *testing.T) {
	e, d := encode.NewEncoder(nil), decode.NewDecoder()
	for _, pattern := range []string{"../testdata/pcaps/*", "../testdata/malformed/*"} {
		pk := testpcap.MustLoad(t, pattern, 0)
		for i := range pk {
			doc := encodeOne(t, e, d, &pk[i])
			if p, _ := doc["protocol"].(string); p == "" {
				t.Fatalf("%s frame %d: no protocol", pk[i].File, pk[i].Number)
			}
		}
	}
}

// TestICMPErrorAndNonIP: an ICMP error quoting a DNS reply is an ICMP
// packet (Wireshark's Protocol column; the quoted datagram stays under its
// layers), and a packet without IP (ARP) has no empty "network" object.
func TestICMPErrorAndNonIP(t *testing.T) {
	e, d := encoder(t), decode.NewDecoder()
	pk := testpcap.MustLoad(t, "../testdata/pcaps/zeek_icmp_icmp-destunreach-udp.pcap", 0)
	doc := encodeOne(t, e, d, &pk[0])
	if get(doc, "frame.protocols") != "eth:ethertype:ip:icmp:ip:udp:dns" {
		t.Fatalf("capture changed: %v", get(doc, "frame.protocols"))
	}
	if doc["protocol"] != "icmp" || get(doc, "network.protocol") != nil || get(doc, "layers.dns") == nil {
		t.Errorf("ICMP error: protocol %v, network.protocol %v, layers.dns %v; want icmp, none, kept",
			doc["protocol"], get(doc, "network.protocol"), get(doc, "layers.dns") != nil)
	}
	for _, c := range []struct{ chain, own string }{
		{"eth:ethertype:ip:icmp:ip:udp:dns", "eth:ethertype:ip:icmp"},
		{"eth:ethertype:ipv6:icmpv6", "eth:ethertype:ipv6:icmpv6"},
		{"eth:ethertype:ip:udp:dns", "eth:ethertype:ip:udp:dns"},
		{"icmp:data", "icmp"},
		{"", ""},
	} {
		if got := encode.OwnChain(c.chain); got != c.own {
			t.Errorf("OwnChain(%q) = %q, want %q", c.chain, got, c.own)
		}
	}
	pk = testpcap.MustLoad(t, "../testdata/pcaps/chrissanders_arp_resolution.pcapng", 0)
	doc = encodeOne(t, e, d, &pk[0])
	if _, ok := doc["network"]; ok || doc["protocol"] != "arp" {
		t.Errorf("ARP: protocol %v, network %v: want arp and no network object", doc["protocol"], doc["network"])
	}
}

// TestQUICNetworkProtocol: a QUIC packet's network.protocol is quic, also
// for the Initial whose ClientHello makes its highest layer tls.
func TestQUICNetworkProtocol(t *testing.T) {
	e, d := encoder(t), decode.NewDecoder()
	pk := testpcap.MustLoad(t, "../testdata/pcaps/arkime_quicietf.pcap", 0)
	doc := encodeOne(t, e, d, &pk[0])
	if doc["protocol"] != "tls" || get(doc, "network.protocol") != "quic" {
		t.Errorf("QUIC Initial: protocol %v, network.protocol %v; want tls (highest layer, as tshark) and quic", doc["protocol"], get(doc, "network.protocol"))
	}
}

// TestECSApplicationFields: the top-level ECS fields repeat what the
// layers say, for every test packet; dns.resolved_ip holds the answer
// section only (arkime_dns-udp.pcap frame 2 has one A answer and four A
// glue records, which layers.dns.a lists too, as tshark does).
func TestECSApplicationFields(t *testing.T) {
	e, d := encoder(t), decode.NewDecoder()
	counts := map[string]int{}
	for _, pk := range testpcap.MustLoad(t, "../testdata/pcaps/*", 0) {
		doc := encodeOne(t, e, d, &pk)
		where := fmt.Sprintf("%s frame %d", pk.File, pk.Number)
		first := func(v any) any {
			if a, ok := v.([]any); ok && len(a) > 0 {
				return a[0]
			}
			return v
		}
		if q := get(doc, "dns.question.name"); q != nil {
			counts["dns"]++
			if l, ok := get(doc, "layers.dns").(map[string]any); ok && first(l["qry_name"]) != q {
				t.Errorf("%s: dns.question.name %v, layers.dns.qry_name %v", where, q, l["qry_name"])
			}
		}
		if m := get(doc, "http.request.method"); m != nil {
			counts["http"]++
			if get(doc, "layers.http.request_method") != m || get(doc, "url.original") != get(doc, "layers.http.request_uri") {
				t.Errorf("%s: http.request.method %v / url.original %v disagree with layers.http", where, m, get(doc, "url.original"))
			}
		}
		if c := get(doc, "http.response.status_code"); c != nil && get(doc, "layers.http.response_code") != c {
			t.Errorf("%s: http.response.status_code %v, layers.http.response_code %v", where, c, get(doc, "layers.http.response_code"))
		}
		if j := get(doc, "tls.client.ja3"); j != nil {
			counts["tls"]++
			if get(doc, "layers.tls.handshake_ja3") != j {
				t.Errorf("%s: tls.client.ja3 %v, layers.tls.handshake_ja3 %v", where, j, get(doc, "layers.tls.handshake_ja3"))
			}
		}
		if filepath.Base(pk.File) == "arkime_dns-udp.pcap" && pk.Number == 2 {
			got := fmt.Sprint(get(doc, "dns.resolved_ip"))
			if got != "[192.30.252.128]" || len(get(doc, "layers.dns.a").([]any)) != 5 {
				t.Errorf("%s: dns.resolved_ip %s, want the one answer [192.30.252.128] (layers.dns.a %v)", where, got, get(doc, "layers.dns.a"))
			}
		}
	}
	if counts["dns"] < 50 || counts["http"] < 20 || counts["tls"] < 5 {
		t.Errorf("too few packets with ECS application fields: %v", counts)
	}
}

// TestHTTPContinuationTag: HTTP continuation segments carry the tag
// continuation (with and without the shape cache), messages do not.
func TestHTTPContinuationTag(t *testing.T) {
	d := decode.NewDecoder()
	for _, cached := range []bool{true, false} {
		e := encoder(t)
		if !cached {
			encode.NoShapeCache(e)
		}
		cont, msgs := 0, 0
		for _, pk := range testpcap.MustLoad(t, "../testdata/pcaps/seed_test_http.pcap", 0) {
			doc := encodeOne(t, e, d, &pk)
			h, ok := get(doc, "layers.http").(map[string]any)
			if !ok {
				continue
			}
			tagged := strings.Contains(fmt.Sprint(doc["tags"]), "continuation")
			msg := h["request"] == true || h["response"] == true
			// a continuation is not an HTTP message: protocol tcp; the
			// connection's application (network.protocol) is still http
			wantProto := map[bool]string{true: "http", false: "tcp"}[msg]
			if doc["protocol"] != wantProto || get(doc, "network.protocol") != "http" {
				t.Fatalf("frame %d (cache %v): protocol %v, network.protocol %v; want %s, http", pk.Number, cached, doc["protocol"], get(doc, "network.protocol"), wantProto)
			}
			if msg == tagged {
				t.Fatalf("frame %d (cache %v): message %v, tagged continuation %v", pk.Number, cached, msg, tagged)
			} else if msg {
				msgs++
			} else {
				cont++
			}
		}
		if cont != 502 || msgs != 190 {
			t.Errorf("cache %v: %d continuations, %d messages; tshark shows 502 and 190", cached, cont, msgs)
		}
	}
}

// TestEncodeAllocatesNothing: decode+encode of well-formed packets allocates
// nothing once the buffers have grown.
func TestEncodeAllocatesNothing(t *testing.T) {
	pk := testpcap.MustLoad(t, "../testdata/pcaps/*", 0)
	e, d := encoder(t), decode.NewDecoder()
	m := encode.Meta{FileName: "x.pcap", FileDate: "2026-01-01T00:00:00+0000"}
	buf := make([]byte, 0, 1<<16)
	run := func(p *testpcap.Packet) {
		m.Timestamp, m.Number, m.CapLen, m.OrigLen = p.Timestamp, uint64(p.Number), len(p.Data), p.OrigLen
		buf = e.Encode(buf[:0], &m, d.Decode(p.Data, p.LinkType, p.OrigLen))
	}
	for i := range pk {
		run(&pk[i])
	}
	i := 0
	allocs := testing.AllocsPerRun(len(pk), func() {
		run(&pk[i%len(pk)])
		i++
	})
	if allocs != 0 {
		t.Errorf("%.3f allocations per packet, want 0", allocs)
	}
}

// FuzzEncode decodes and encodes arbitrary frames: the document is always
// valid UTF-8 JSON.
func FuzzEncode(f *testing.F) {
	for _, p := range testpcap.FuzzSeeds("../testdata") {
		f.Add(p.LinkType, p.Data)
	}
	e, d := encoder(f), decode.NewDecoder()
	var m encode.Meta
	f.Fuzz(func(t *testing.T, lt uint16, data []byte) {
		m.CapLen, m.OrigLen = len(data), len(data)
		b := e.Encode(nil, &m, d.Decode(data, lt, len(data)))
		if !utf8.Valid(b) {
			t.Fatalf("not UTF-8: %q", b)
		}
		if !json.Valid(b) {
			t.Fatalf("invalid JSON: %s", b)
		}
	})
}

// TestCachesDoNotChangeDocuments: an encoder that has seen other packets
// (its per-flow, Ethernet, Community ID and time caches are warm, and may
// hold colliding entries) writes exactly what a fresh one writes.
func TestCachesDoNotChangeDocuments(t *testing.T) {
	pk := testpcap.MustLoad(t, "../testdata/pcaps/*", 0)
	warm, d := encoder(t), decode.NewDecoder()
	m := encode.Meta{FileName: "x.pcap"}
	var a, b []byte
	for i := range pk {
		p := &pk[i]
		m.Timestamp, m.Number, m.CapLen, m.OrigLen = p.Timestamp, uint64(p.Number), len(p.Data), p.OrigLen
		a = warm.Encode(a[:0], &m, d.Decode(p.Data, p.LinkType, p.OrigLen))
		b = encoder(t).Encode(b[:0], &m, d.Decode(p.Data, p.LinkType, p.OrigLen))
		if string(a) != string(b) {
			t.Fatalf("%s frame %d: warm encoder wrote\n%s\nfresh encoder wrote\n%s", p.File, p.Number, a, b)
		}
	}
}

// TestFingerprintsInDocuments: the JA3, JA3S and JA4 fields of documents
// (computed once per distinct hello and then taken from the encoder's
// cache) are what tlshello computes for each hello, whose own tests check
// them against tshark and Arkime.
func TestFingerprintsInDocuments(t *testing.T) {
	pk := testpcap.MustLoad(t, "../testdata/pcaps/*", 0)
	e, d := encoder(t), decode.NewDecoder()
	checked := 0
	for round := 0; round < 2; round++ { // the second round hits the cache
		for i := range pk {
			p := &pk[i]
			dp := d.Decode(p.Data, p.LinkType, p.OrigLen)
			if dp.Count(decode.KindTLS) != 1 || len(dp.TLS[0].AppendJA3(nil))+len(dp.TLS[0].AppendJA3S(nil)) == 0 {
				continue // no fingerprintable hello
			}
			h := &dp.TLS[0]
			want := map[string]string{}
			switch h.HandshakeType {
			case 1:
				want["layers.tls.handshake_ja3"] = string(h.AppendJA3Hash(nil))
				want["layers.tls.handshake_ja4"] = string(h.AppendJA4(nil))
			case 2:
				want["layers.tls.handshake_ja3s"] = string(h.AppendJA3SHash(nil))
			default:
				continue
			}
			m := encode.Meta{Timestamp: p.Timestamp, Number: uint64(p.Number), CapLen: len(p.Data), OrigLen: p.OrigLen}
			var doc map[string]any
			if err := json.Unmarshal(e.Encode(nil, &m, dp), &doc); err != nil {
				t.Fatal(err)
			}
			for path, w := range want {
				if got := get(doc, path); got != w {
					t.Errorf("%s frame %d: %s = %v, want %s", p.File, p.Number, path, got, w)
				}
			}
			checked++
		}
	}
	if checked < 20 {
		t.Fatalf("only %d hellos checked", checked)
	}
	t.Logf("%d hellos checked", checked/2)
}

// TestTimeFieldsAcrossSeconds: the time fields of an encoder whose per-second
// head is patched from one second to the next (same day) or rebuilt (new
// day, more digits, another file) are what a fresh encoder writes.
func TestTimeFieldsAcrossSeconds(t *testing.T) {
	pk := testpcap.MustLoad(t, "../testdata/pcaps/seed_test_http.pcap", 1)
	warm, d := encoder(t), decode.NewDecoder()
	p := &pk[0]
	times := []int64{
		1438233730_496740000, 1438233731_000000000, 1438233731_000000001, 1438233799_999999000,
		1438243199_500000000, 1438243200_500000000, // the next day
		999999999_123456000, 1000000000_123456000, // ten digits
		86399_000001000, 86400_000001000, 0, -1, -1_000000000, -86401_999999999,
		4102444799_000000000, 4102444800_000000000,
	}
	for _, name := range []string{"a.pcap", "b.pcap"} {
		for i, ts := range times {
			m := encode.Meta{Timestamp: ts, Number: uint64(i + 1), CapLen: len(p.Data), OrigLen: p.OrigLen, FileName: name}
			a := warm.Encode(nil, &m, d.Decode(p.Data, p.LinkType, p.OrigLen))
			b := encoder(t).Encode(nil, &m, d.Decode(p.Data, p.LinkType, p.OrigLen))
			if string(a) != string(b) {
				t.Fatalf("time %d: warm encoder wrote\n%s\nfresh encoder wrote\n%s", ts, a, b)
			}
			var doc map[string]any
			if err := json.Unmarshal(a, &doc); err != nil {
				t.Fatal(err)
			}
			want := time.Unix(0, ts).UTC().Format("2006-01-02T15:04:05.000000000Z")
			if got := doc["@timestamp"]; got != want {
				t.Errorf("time %d: @timestamp %v, want %s", ts, got, want)
			}
			if got, want := doc["sniff_date_utc"], time.Unix(0, ts).UTC().Format("2006-01-02T15:04:05-0700"); got != want {
				t.Errorf("time %d: sniff_date_utc %v, want %s", ts, got, want)
			}
		}
	}
}
