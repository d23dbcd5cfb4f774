package encode_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/espcap/espcap-fast/decode"
	"github.com/espcap/espcap-fast/encode"
	"github.com/espcap/espcap-fast/flow"
	"github.com/espcap/espcap-fast/internal/testpcap"
)

// TestFlowDocuments tracks the flows of the test captures and checks that
// every flow document is valid JSON with its counts, that packet documents
// carry their flow's flow.id, and that a flow's community_id is the one of
// its packets.
func TestFlowDocuments(t *testing.T) {
	pk := testpcap.MustLoad(t, "../testdata/pcaps/*", 0)
	e, d := encoder(t), decode.NewDecoder()
	cids := map[string]string{} // flow.id -> community_id of its packets
	var flows []map[string]any
	tab := flow.NewTable(flow.Config{Emit: func(r *flow.Record) {
		b := encode.AppendFlow(nil, r)
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("invalid flow JSON: %v\n%s", err, b)
		}
		flows = append(flows, doc)
	}})
	var fp flow.Packet
	var packets uint64
	for i := range pk {
		p := &pk[i]
		if i > 0 && p.File != pk[i-1].File {
			tab.Flush()
		}
		dp := d.Decode(p.Data, p.LinkType, p.OrigLen)
		if !flow.Extract(dp, &fp) {
			continue
		}
		packets++
		r := tab.Observe(&fp, p.Timestamp, p.OrigLen)
		m := encode.Meta{Timestamp: p.Timestamp, Number: uint64(p.Number), CapLen: len(p.Data), OrigLen: p.OrigLen, FileName: p.File, FlowID: r.ID[:]}
		b := e.Encode(nil, &m, dp)
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s frame %d: invalid JSON: %v\n%s", p.File, p.Number, err, b)
		}
		id, _ := get(doc, "flow.id").(string)
		if id != string(r.ID[:]) {
			t.Fatalf("%s frame %d: flow.id %q, want %q", p.File, p.Number, id, r.ID)
		}
		// (the packet's Community ID is the outer header's: compare
		// packets that are not tunnelled)
		if cid, ok := get(doc, "network.community_id").(string); ok && fp.Key.HasPorts && dp.Count(decode.KindIPv4)+dp.Count(decode.KindIPv6) == 1 {
			cids[id] = cid
		}
	}
	tab.Flush()
	var sum float64
	checked := 0
	for _, f := range flows {
		sum += get(f, "network.packets").(float64)
		if get(f, "source.packets").(float64)+get(f, "destination.packets").(float64) != get(f, "network.packets").(float64) {
			t.Errorf("flow %v: source and destination packets do not add up", get(f, "flow.id"))
		}
		id := get(f, "flow.id").(string)
		if want, ok := cids[id]; ok {
			checked++
			if got := get(f, "network.community_id"); got != want {
				t.Errorf("flow %s: community_id %v, its packets have %s", id, got, want)
			}
		}
		if get(f, "event.kind") != "event" || get(f, "event.dataset") != "espcap.flow" || get(f, "flow.final") != true {
			t.Errorf("flow %s: event.kind %v event.dataset %v final %v", id, get(f, "event.kind"), get(f, "event.dataset"), get(f, "flow.final"))
		}
	}
	if uint64(sum) != packets {
		t.Errorf("flows count %v packets, %d were tracked", sum, packets)
	}
	if checked == 0 {
		t.Error("no flow's community_id checked")
	}
	t.Logf("%d packets, %d flows, %d community IDs checked", packets, len(flows), checked)
}

func TestAppendFlowAllocatesNothing(t *testing.T) {
	pk := testpcap.MustLoad(t, "../testdata/pcaps/*", 0)
	d := decode.NewDecoder()
	var recs []flow.Record
	tab := flow.NewTable(flow.Config{Emit: func(r *flow.Record) { recs = append(recs, *r) }})
	var fp flow.Packet
	for i := range pk {
		if flow.Extract(d.Decode(pk[i].Data, pk[i].LinkType, pk[i].OrigLen), &fp) {
			tab.Observe(&fp, pk[i].Timestamp, pk[i].OrigLen)
		}
	}
	tab.Flush()
	buf := make([]byte, 0, 4096)
	i := 0
	allocs := testing.AllocsPerRun(len(recs), func() {
		buf = encode.AppendFlow(buf[:0], &recs[i%len(recs)])
		i++
	})
	if allocs != 0 {
		t.Errorf("%.2f allocations per flow document, want 0", allocs)
	}
}

// TestFlowAppSummary: the application fields of a flow document, from
// captures whose traffic is known.
func TestFlowAppSummary(t *testing.T) {
	tests := []struct {
		file  string
		field string
		want  any
	}{
		{"arkime_curl-enabled-tls13.pcap", "tls.client.server_name", "enabled.tls13.com"},
		{"arkime_curl-enabled-tls13.pcap", "tls.version", "1.3"},
		{"arkime_curl-enabled-tls13.pcap", "tls.next_protocol", "h2"},
		{"arkime_curl-enabled-tls13.pcap", "dns.question.name", "enabled.tls13.com"},
		// tshark's tls.handshake.ja3 / ja3s; JA4 from Arkime's expected
		// output for this capture (arkime/expected/curl-enabled-tls13.test)
		{"arkime_curl-enabled-tls13.pcap", "tls.client.ja3", "eeadfd2f446a45ded96f804720a0c75b"},
		{"arkime_curl-enabled-tls13.pcap", "tls.server.ja3s", "907bf3ecef1c987c889946b737b43de8"},
		{"arkime_curl-enabled-tls13.pcap", "tls.client.ja4", "t13d0413h2_16476d049b0b_ffceb19bae65"},
		// the answer section only (tshark: 2 answers; dns.a also lists
		// the additional records' addresses)
		{"tcpdump_dns_udp.pcap", "dns.resolved_ip", []any{"192.139.46.66", "198.199.88.104"}},
		// the A and the AAAA response of one flow (one client socket)
		{"arkime_curl-enabled-tls13.pcap", "dns.resolved_ip", []any{"104.16.125.34", "104.16.126.34", "2606:4700::6810:7d22", "2606:4700::6810:7e22"}},
		// tshark's dhcp.option.hostname
		{"chrissanders_dhcp_nolease_initialization.pcapng", "dhcpv4.option.hostname", "ubuntu2"},
		{"tcpdump_dns_udp.pcap", "dns.response_code", "NOERROR"},
		{"chrissanders_http_google.pcapng", "url.domain", "www.google.com"},
		{"chrissanders_http_google.pcapng", "url.original", "/"},
		{"chrissanders_http_google.pcapng", "http.request.method", "GET"},
		{"chrissanders_http_google.pcapng", "http.response.status_code", float64(200)},
		{"chrissanders_http_google.pcapng", "user_agent.original", "Mozilla/5.0 (Windows; U; Windows NT 6.1; en-US; rv:1.9.1.7) Gecko/20091221 Firefox/3.5.7"},
	}
	for _, tc := range tests {
		t.Run(tc.file+" "+tc.field, func(t *testing.T) {
			pk := testpcap.MustLoad(t, "../testdata/pcaps/"+tc.file, 0)
			d := decode.NewDecoder()
			var got []any
			tab := flow.NewTable(flow.Config{Emit: func(r *flow.Record) {
				var doc map[string]any
				if err := json.Unmarshal(encode.AppendFlow(nil, r), &doc); err != nil {
					t.Fatal(err)
				}
				if v := get(doc, tc.field); v != nil {
					got = append(got, v)
				}
			}})
			var fp flow.Packet
			for i := range pk {
				if flow.Extract(d.Decode(pk[i].Data, pk[i].LinkType, pk[i].OrigLen), &fp) {
					tab.Observe(&fp, pk[i].Timestamp, pk[i].OrigLen)
				}
			}
			tab.Flush()
			for _, v := range got {
				if reflect.DeepEqual(v, tc.want) {
					return
				}
			}
			t.Errorf("no flow with %s %v; got %v", tc.field, tc.want, got)
		})
	}
}

// FuzzFlowDocument tracks the flow of arbitrary frames (two of them, so
// that both directions and the application fields of either can meet in
// one record): the flow document is always valid UTF-8 JSON.
func FuzzFlowDocument(f *testing.F) {
	seeds := testpcap.FuzzSeeds("../testdata")
	for i, p := range seeds {
		q := seeds[(i+1)%len(seeds)]
		f.Add(p.LinkType, p.Data, q.Data)
	}
	d := decode.NewDecoder()
	f.Fuzz(func(t *testing.T, lt uint16, a, b []byte) {
		var docs [][]byte
		tab := flow.NewTable(flow.Config{Emit: func(r *flow.Record) { docs = append(docs, encode.AppendFlow(nil, r)) }})
		var fp flow.Packet
		for i, data := range [][]byte{a, b} {
			if flow.Extract(d.Decode(data, lt, len(data)), &fp) {
				tab.Observe(&fp, int64(i), len(data))
			}
		}
		tab.Flush()
		for _, doc := range docs {
			if !utf8.Valid(doc) || !json.Valid(doc) {
				t.Fatalf("invalid flow document: %q", doc)
			}
		}
	})
}
