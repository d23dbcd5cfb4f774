package encode

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/valyala/fastjson"
)

// ekLine is a tshark -T ek packet cut down by hand: a repeated field as
// duplicate keys (tcp_tcp_option_kind), a grouped array, an IPv6 extension
// header subtree, an ICMP error quoting a datagram (nested ip and udp),
// tshark's expert info, a protocol item and an FT_NONE item.
const ekLine = `{"timestamp":"1438233730468","layers":{` +
	`"frame":{"frame_frame_time_epoch":"1438233730.468623000","frame_frame_number":"7","frame_frame_len":"90","frame_frame_cap_len":"90","frame_frame_protocols":"eth:ethertype:ip:icmp:ip:udp:dns"},` +
	`"eth":{"eth_eth_dst":"58:23:8c:b4:42:56","eth_eth_type":"0x0800"},` +
	`"ip":{"ip_ip_src":"10.0.0.4","ip_ip_dst":"10.0.0.1","ip_ip_proto":"1","ip_ip_flags_df":true,"ip_ip_id":"0x1aaa","ip_ip_flags_mf":false,"ip_ip_frag_offset":"0"},` +
	`"icmp":{"icmp_icmp_type":"3","icmp_icmp_code":"3","text":"label",` +
	`"ip":{"ip_ip_src":"10.0.0.1","ip_ip_dst":"10.0.0.4","ip_ip_proto":"17"},` +
	`"udp":{"udp_udp_srcport":"53","udp_udp_dstport":"40000"}},` +
	`"tcp":{"tcp_tcp_option_kind":"2","tcp_options_nop":["01","01"],"tcp_tcp_option_kind":["1","1"],"tcp_tcp_option_kind":"8",` +
	`"_ws_expert":{"tcp_tcp_connection_syn":null,"_ws_expert__ws_expert_message":"SYN"},"tcp_tcp_analysis":null,"tcp_tcp_time_delta":"0.000075000"},` +
	`"ntp":{"ntp_ntp_precision":"245","ntp_ntp_rootdelay":"4109"},` +
	`"mdns":{"dns_dns_qry_name":"a.local","dns_dns_qry_name":"b.local"}}}`

func ekTable() *EKFields {
	t := NewEKFields()
	for _, f := range [][3]string{
		{"frame", "frame.number", "FT_UINT32"},
		{"eth", "eth.dst", "FT_ETHER"}, {"eth", "eth.type", "FT_UINT16"},
		{"ip", "ip.src", "FT_IPv4"}, {"ip", "ip.dst", "FT_IPv4"}, {"ip", "ip.proto", "FT_UINT8"},
		{"ip", "ip.id", "FT_UINT16"}, {"ip", "ip.flags.df", "FT_BOOLEAN"},
		{"icmp", "icmp.type", "FT_UINT8"}, {"icmp", "icmp.code", "FT_UINT8"},
		{"udp", "udp.srcport", "FT_UINT16"}, {"udp", "udp.dstport", "FT_UINT16"},
		{"tcp", "tcp.option_kind", "FT_UINT8"}, {"tcp", "tcp.analysis", "FT_NONE"},
		{"tcp", "tcp.time_delta", "FT_RELATIVE_TIME"}, {"tcp", "tcp.connection.syn", "FT_NONE"},
		{"_ws.expert", "_ws.expert.message", "FT_STRING"},
		{"ntp", "ntp.precision", "FT_UINT8"}, {"ntp", "ntp.rootdelay", "FT_UINT32"},
		{"dns", "dns.qry.name", "FT_STRING"},
	} {
		t.AddField(f[0], f[1], f[2])
	}
	t.AddProtocol("tcp.options.nop")
	return t
}

func TestEKEncode(t *testing.T) {
	protos, err := ParseProtocols([]byte("ip\ntcp\nudp\ndns\nicmp\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := NewEKEncoder(protos, ekTable())
	v, err := fastjson.Parse(ekLine)
	if err != nil {
		t.Fatal(err)
	}
	doc, info, err := e.Encode(nil, &Meta{FileName: "x.pcap", FileDate: "2020-01-01T00:00:00+0000"}, v)
	if err != nil {
		t.Fatal(err)
	}
	if info.Number != 7 || info.Timestamp != 1438233730468623000 {
		t.Errorf("info %+v", info)
	}
	var got map[string]any
	if err := json.Unmarshal(doc, &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, doc)
	}
	want := `{"@timestamp":"2015-07-30T05:22:10.468623000Z","sniff_timestamp":1438233730.468623,"sniff_date_utc":"2015-07-30T05:22:10+0000",` +
		`"file_name":"x.pcap","file_date_utc":"2020-01-01T00:00:00+0000","protocol":"icmp",` +
		`"frame":{"number":7,"len":90,"cap_len":90,"protocols":"eth:ethertype:ip:icmp:ip:udp:dns"},` +
		`"source":{"ip":"10.0.0.4"},"destination":{"ip":"10.0.0.1"},` +
		`"network":{"type":"ipv4","iana_number":"1","transport":"icmp","community_id":"1:XXX"},` +
		`"event":{"kind":"event","category":["network"],"type":["connection"],"dataset":"espcap.packet"},` +
		`"layers":{"eth":{"dst":"58:23:8c:b4:42:56","type":2048},` +
		`"ip":[{"src":"10.0.0.4","dst":"10.0.0.1","proto":1,"flags_df":true,"id":6826,"flags_mf":false,"frag_offset":"0"},{"src":"10.0.0.1","dst":"10.0.0.4","proto":17}],` +
		`"icmp":{"type":3,"code":3},"udp":{"srcport":53,"dstport":40000},` +
		`"tcp":{"option_kind":[2,1,1,8],"options_nop":[true,true],"expert":{"connection_syn":true,"message":"SYN"},"analysis":true,"time_delta":0.000075},` +
		`"ntp":{"precision":-11,"rootdelay":0.0626983642578125},` +
		`"dns":{"qry_name":["a.local","b.local"]}}}`
	// the Community ID is checked against the native engine elsewhere
	s := string(doc)
	if i := strings.Index(s, `"community_id":"1:`); i >= 0 {
		j := strings.IndexByte(s[i+18:], '"')
		s = s[:i+18] + "XXX" + s[i+18+j:]
	}
	if s != want {
		t.Errorf("document\n got %s\nwant %s", s, want)
	}
}

func TestEKFieldName(t *testing.T) {
	e := NewEKEncoder(nil, ekTable())
	for _, c := range [][3]string{
		{"ip", "ip_ip_src", "src"},
		{"tcp", "tcp_tcp_flags_syn", "flags_syn"},
		{"dns", "dns_dns_qry_name", "qry_name"},
		{"mdns", "dns_dns_qry_name", "qry_name"},
		{"tls", "tls_tls_handshake_extensions_server_name", "handshake_extensions_server_name"},
		{"ipv6", "ipv6_hopopts_ipv6_hopopts_nxt", "hopopts_nxt"},
		{"tcp", "tcp_options_nop", "options_nop"},
		{"_ws_expert", "_ws_expert__ws_expert_message", "message"},
		{"sip", "sip_sip_Method", "Method"},
		{"x", "weird", "weird"},
	} {
		if got := string(e.fieldName([]byte(c[0]), []byte(c[1]))); got != c[2] {
			t.Errorf("fieldName(%s, %s) = %s, want %s", c[0], c[1], got, c[2])
		}
	}
}

func TestEKErrors(t *testing.T) {
	protos, _ := ParseProtocols([]byte("ip\n"))
	e := NewEKEncoder(protos, nil)
	for _, line := range []string{`{"index":{"_index":"x"}}`, `{"layers":{"eth":{}}}`, `{"layers":{"frame":{"frame_frame_time_epoch":"x"}}}`} {
		v := fastjson.MustParse(line)
		if doc, _, err := e.Encode([]byte("keep"), &Meta{}, v); err == nil || string(doc) != "keep" {
			t.Errorf("%s: err %v, doc %q", line, err, doc)
		}
	}
}

// TestEKBytesCap: byte strings longer than MaxBytesText are left out, a
// field whose values are all left out is absent, the rest of an array is
// kept; a packet seen before is encoded without allocating.
func TestEKBytesCap(t *testing.T) {
	protos, err := ParseProtocols([]byte("ip\ntcp\n"))
	if err != nil {
		t.Fatal(err)
	}
	tb := NewEKFields()
	tb.AddField("tcp", "tcp.payload", "FT_BYTES")
	tb.AddField("data", "data.data", "FT_BYTES")
	tb.AddField("tcp", "tcp.srcport", "FT_UINT16")
	long := strings.Repeat("ab:", MaxBytesText/3+1)
	line := `{"layers":{"frame":{"frame_frame_time_epoch":"1.5","frame_frame_number":"1","frame_frame_len":"9","frame_frame_cap_len":"9","frame_frame_protocols":"ip:tcp:data"},` +
		`"tcp":{"tcp_tcp_srcport":"80","tcp_tcp_payload":"` + long + `"},` +
		`"data":{"data_data_data":["` + long + `","01:02"],"data_data_len":"2"}}}`
	v := fastjson.MustParse(line)
	e := NewEKEncoder(protos, tb)
	doc, _, err := e.Encode(nil, &Meta{}, v)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(doc) {
		t.Fatalf("not JSON: %s", doc)
	}
	want := `"layers":{"tcp":{"srcport":80},"data":{"data":"01:02","len":"2"}}}`
	if !strings.HasSuffix(string(doc), want) {
		t.Errorf("document\n got %s\nwant ...%s", doc, want)
	}
	allocs := testing.AllocsPerRun(100, func() {
		doc, _, _ = e.Encode(doc[:0], &Meta{}, v)
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per document seen before, want 0", allocs)
	}
}

// TestEKInnermost: with the tshark engine too, the ECS summary of a
// tunnelled packet (HTTP in VXLAN, IPv6 in IPv4) is the inner conversation:
// the last IP header of the packet's own chain (tshark groups repeated
// layers in arrays, outermost first) and the transport after it.
func TestEKInnermost(t *testing.T) {
	protos, err := ParseProtocols([]byte("ip\nipv6\ntcp\nudp\nvxlan\nhttp\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, line, want string
	}{
		{"http in vxlan", `{"timestamp":"1","layers":{` +
			`"frame":{"frame_frame_time_epoch":"1.0","frame_frame_number":"1","frame_frame_len":"100","frame_frame_cap_len":"100","frame_frame_protocols":"eth:ethertype:ip:udp:vxlan:eth:ethertype:ip:tcp:http"},` +
			`"ip":[{"ip_ip_src":"10.1.200.131","ip_ip_dst":"10.1.1.172","ip_ip_proto":"17"},{"ip_ip_src":"172.16.11.201","ip_ip_dst":"54.86.237.188","ip_ip_proto":"6"}],` +
			`"udp":{"udp_udp_srcport":"50000","udp_udp_dstport":"4789"},"vxlan":{},` +
			`"tcp":{"tcp_tcp_srcport":"40354","tcp_tcp_dstport":"80"},"http":{}}}`,
			`"source":{"ip":"172.16.11.201","port":40354},"destination":{"ip":"54.86.237.188","port":80},"network":{"type":"ipv4","iana_number":"6","transport":"tcp","community_id":"1:XXX","protocol":"http"},` +
				`"event":{"kind":"event","category":["network"],"type":["connection","protocol"],"dataset":"espcap.packet"}`},
		{"udp in udp in vxlan", `{"timestamp":"1","layers":{` +
			`"frame":{"frame_frame_time_epoch":"1.0","frame_frame_number":"1","frame_frame_len":"100","frame_frame_cap_len":"100","frame_frame_protocols":"eth:ethertype:ip:udp:vxlan:eth:ethertype:ip:udp:data"},` +
			`"ip":[{"ip_ip_src":"10.0.0.1","ip_ip_dst":"10.0.0.2","ip_ip_proto":"17"},{"ip_ip_src":"192.168.0.1","ip_ip_dst":"192.168.0.2","ip_ip_proto":"17"}],` +
			`"udp":[{"udp_udp_srcport":"50000","udp_udp_dstport":"4789"},{"udp_udp_srcport":"1234","udp_udp_dstport":"5678"}],"vxlan":{}}}`,
			`"source":{"ip":"192.168.0.1","port":1234},"destination":{"ip":"192.168.0.2","port":5678},"network":{"type":"ipv4","iana_number":"17","transport":"udp","community_id":"1:XXX"}`},
		{"ipv6 in ipv4", `{"timestamp":"1","layers":{` +
			`"frame":{"frame_frame_time_epoch":"1.0","frame_frame_number":"1","frame_frame_len":"100","frame_frame_cap_len":"100","frame_frame_protocols":"eth:ethertype:ip:ipv6:udp:data"},` +
			`"ip":{"ip_ip_src":"1.2.3.4","ip_ip_dst":"5.6.7.8","ip_ip_proto":"41"},` +
			`"ipv6":{"ipv6_ipv6_src":"dead::beef","ipv6_ipv6_dst":"cafe::babe","ipv6_ipv6_nxt":"17"},` +
			`"udp":{"udp_udp_srcport":"30000","udp_udp_dstport":"13000"}}}`,
			`"source":{"ip":"dead::beef","port":30000},"destination":{"ip":"cafe::babe","port":13000},"network":{"type":"ipv6","iana_number":"17","transport":"udp","community_id":"1:XXX"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, err := fastjson.Parse(c.line)
			if err != nil {
				t.Fatal(err)
			}
			doc, _, err := NewEKEncoder(protos, ekTable()).Encode(nil, &Meta{}, v)
			if err != nil {
				t.Fatal(err)
			}
			s := string(doc)
			if i := strings.Index(s, `"community_id":"1:`); i >= 0 {
				j := strings.IndexByte(s[i+18:], '"')
				s = s[:i+18] + "XXX" + s[i+18+j:]
			}
			if !strings.Contains(s, c.want) {
				t.Errorf("document\n %s\nwant in it\n %s", s, c.want)
			}
		})
	}
}

func TestDropLastLayer(t *testing.T) {
	for _, c := range []struct{ chain, p, want string }{
		{"eth:ethertype:ip:tcp:http", "http", "eth:ethertype:ip:tcp"},
		{"eth:ethertype:ip:tcp:http:data", "http", "eth:ethertype:ip:tcp:data"},
		{"eth:ip:udp:vxlan:eth:ip:tcp:http:http", "http", "eth:ip:udp:vxlan:eth:ip:tcp:http"},
		{"http", "http", ""},
		{"http:data", "http", "data"},
		{"eth:ip:tcp", "http", "eth:ip:tcp"},
		{"eth:ip:tcp:https", "http", "eth:ip:tcp:https"},
		{"", "http", ""},
	} {
		if got := DropLastLayer(c.chain, c.p); got != c.want {
			t.Errorf("DropLastLayer(%q, %q) = %q, want %q", c.chain, c.p, got, c.want)
		}
	}
}
