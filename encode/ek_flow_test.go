package encode

import (
	"strings"
	"testing"

	"github.com/valyala/fastjson"

	"github.com/espcap/espcap-fast/flow"
)

// keeper is a ByteKeeper over a fixed buffer.
type keeper struct{ buf []byte }

func (k *keeper) KeepBytes(s []byte) []byte {
	if len(s) > cap(k.buf)-len(k.buf) {
		return nil
	}
	off := len(k.buf)
	k.buf = append(k.buf, s...)
	return k.buf[off:]
}

// TestEKEncodeFlow: the flow packet of a tshark EK packet (VLAN, IPv4,
// TCP flags and payload, HTTP request) is the one flow.Fill makes of the
// same values, the document ends with the flow.id placeholder, and a
// packet seen before costs no allocation.
func TestEKEncodeFlow(t *testing.T) {
	protos, err := ParseProtocols([]byte("ip\ntcp\nhttp\n"))
	if err != nil {
		t.Fatal(err)
	}
	line := `{"timestamp":"1","layers":{` +
		`"frame":{"frame_frame_time_epoch":"1.5","frame_frame_number":"7","frame_frame_len":"120","frame_frame_cap_len":"120","frame_frame_protocols":"eth:ethertype:vlan:ethertype:ip:tcp:http"},` +
		`"vlan":{"vlan_vlan_id":"42"},` +
		`"ip":{"ip_ip_src":"10.0.0.9","ip_ip_dst":"10.0.0.1","ip_ip_proto":"6","ip_ip_id":"0x1234","ip_ip_flags_mf":false,"ip_ip_frag_offset":"0","ip_ip_len":"102","ip_ip_hdr_len":"20"},` +
		`"tcp":{"tcp_tcp_srcport":"50000","tcp_tcp_dstport":"80","tcp_tcp_flags":"0x0018","tcp_tcp_len":"50"},` +
		`"http":{"http_http_request_method":"GET","http_http_host":"example.com","http_http_request_uri":"/x","http_http_user_agent":"` + strings.Repeat("u", 300) + `"}}}`
	v := fastjson.MustParse(line)
	e := NewEKEncoder(protos, nil)
	var fp flow.Packet
	k := &keeper{buf: make([]byte, 0, 1<<16)}
	placeholder := []byte("______________________")
	doc, info, err := e.EncodeFlow(nil, &Meta{FlowID: placeholder}, v, &fp, k)
	if err != nil || !info.Flow || info.OrigLen != 120 {
		t.Fatalf("EncodeFlow: %v, info %+v", err, info)
	}
	if !strings.HasSuffix(string(doc), `,"flow":{"id":"______________________"}}`) {
		t.Errorf("document does not end with the flow.id placeholder: ...%s", doc[max(0, len(doc)-80):])
	}
	var want flow.Packet
	want.Fill(&flow.Header{Src: []byte{10, 0, 0, 9}, Dst: []byte{10, 0, 0, 1}, Proto: 6, VLAN: [2]uint16{42},
		Transport: flow.Ports, SrcPort: 50000, DstPort: 80, TCPFlags: 0x18, Payload: 50, FragID: 0x1234, App: "http"})
	if fp.Key != want.Key || fp.FromB != want.FromB || fp.Flags != want.Flags || fp.Payload != want.Payload || fp.App != want.App {
		t.Errorf("flow packet\n got %+v %v %d %d %q\nwant %+v %v %d %d %q", fp.Key, fp.FromB, fp.Flags, fp.Payload, fp.App,
			want.Key, want.FromB, want.Flags, want.Payload, want.App)
	}
	if string(fp.Fields.HTTPMethod) != "GET" || string(fp.Fields.HTTPHost) != "example.com" || len(fp.Fields.HTTPUA) != flow.MaxField {
		t.Errorf("HTTP fields %q %q, user agent %d bytes (want %d)", fp.Fields.HTTPMethod, fp.Fields.HTTPHost, len(fp.Fields.HTTPUA), flow.MaxField)
	}
	// without flows: no flow.id
	if doc, _, _ := e.Encode(nil, &Meta{FlowID: placeholder}, v); strings.Contains(string(doc), `"flow"`) {
		t.Errorf("Encode wrote a flow.id")
	}
	allocs := testing.AllocsPerRun(100, func() {
		k.buf = k.buf[:0]
		doc, _, _ = e.EncodeFlow(doc[:0], &Meta{FlowID: placeholder}, v, &fp, k)
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per document seen before, want 0", allocs)
	}
	// DNS answers and a TLS ClientHello
	for _, line := range []string{
		`{"timestamp":"1","layers":{"frame":{"frame_frame_time_epoch":"1.5","frame_frame_number":"8","frame_frame_len":"90","frame_frame_cap_len":"90","frame_frame_protocols":"eth:ethertype:ip:udp:dns"},` +
			`"ip":{"ip_ip_src":"10.0.0.1","ip_ip_dst":"10.0.0.9","ip_ip_proto":"17"},"udp":{"udp_udp_srcport":"53","udp_udp_dstport":"40000","udp_udp_length":"60"},` +
			`"dns":{"dns_dns_flags_response":true,"dns_dns_flags_rcode":"0","dns_dns_qry_name":"example.com","dns_dns_count_answers":"2","dns_dns_resp_type":["1","28"],"dns_dns_resp_class":["0x0001","0x0001"],"dns_dns_a":"192.0.2.1","dns_dns_aaaa":"2001:db8::1"}}}`,
		`{"timestamp":"1","layers":{"frame":{"frame_frame_time_epoch":"1.5","frame_frame_number":"9","frame_frame_len":"300","frame_frame_cap_len":"300","frame_frame_protocols":"eth:ethertype:ip:tcp:tls"},` +
			`"ip":{"ip_ip_src":"10.0.0.9","ip_ip_dst":"10.0.0.1","ip_ip_proto":"6"},"tcp":{"tcp_tcp_srcport":"50001","tcp_tcp_dstport":"443","tcp_tcp_flags":"0x0018","tcp_tcp_len":"240"},` +
			`"tls":{"tls_tls_handshake_type":"1","tls_tls_handshake_extensions_server_name":"example.com","tls_tls_handshake_extensions_alpn_str":["h2","http/1.1"],"tls_tls_handshake_ja3":"25bd5fc6fcc031c1c87f93613e0252ce"}}}`,
	} {
		v := fastjson.MustParse(line)
		doc, info, err = e.EncodeFlow(doc[:0], &Meta{FlowID: placeholder}, v, &fp, k)
		if err != nil || !info.Flow {
			t.Fatalf("EncodeFlow: %v %+v", err, info)
		}
		allocs := testing.AllocsPerRun(100, func() {
			k.buf = k.buf[:0]
			doc, _, _ = e.EncodeFlow(doc[:0], &Meta{FlowID: placeholder}, v, &fp, k)
		})
		if allocs != 0 {
			t.Errorf("%s: %.1f allocations per document seen before, want 0", fp.App, allocs)
		}
	}
	if string(fp.Fields.TLSServerName()) != "example.com" || string(fp.Fields.TLSALPN()) != "h2" {
		t.Errorf("TLS fields %q %q", fp.Fields.TLSServerName(), fp.Fields.TLSALPN())
	}
}
