package encode_test

import (
	"bytes"
	"net"
	"path/filepath"
	"slices"
	"testing"

	"github.com/espcap/espcap-fast/decode"
	"github.com/espcap/espcap-fast/internal/need"
	"github.com/espcap/espcap-fast/internal/testpcap"
)

// innermost returns the addresses of p's innermost IP header that is not
// quoted by an ICMP error, and the ports of the TCP, UDP or SCTP header
// right after it (ok false when it has none).
func innermost(p *decode.Packet) (src, dst string, sport, dport float64, ok bool) {
	at := -1
	for i, l := range p.Layers {
		if l.Kind == decode.KindICMPv4 || l.Kind == decode.KindICMPv6 {
			break
		}
		switch l.Kind {
		case decode.KindIPv4:
			src, dst, at = net.IP(p.IPv4[l.Index].SrcIP).String(), net.IP(p.IPv4[l.Index].DstIP).String(), i
		case decode.KindIPv6:
			src, dst, at = net.IP(p.IPv6[l.Index].SrcIP).String(), net.IP(p.IPv6[l.Index].DstIP).String(), i
		}
	}
	if at < 0 || at+1 >= len(p.Layers) {
		return src, dst, 0, 0, false
	}
	switch l := p.Layers[at+1]; l.Kind {
	case decode.KindTCP:
		return src, dst, float64(p.TCP[l.Index].SrcPort), float64(p.TCP[l.Index].DstPort), true
	case decode.KindUDP:
		return src, dst, float64(p.UDP[l.Index].SrcPort), float64(p.UDP[l.Index].DstPort), true
	case decode.KindSCTP:
		return src, dst, float64(p.SCTP[l.Index].SrcPort), float64(p.SCTP[l.Index].DstPort), true
	}
	return src, dst, 0, 0, false
}

// TestECSInnermost: for tunnelled traffic (VXLAN, GRE, ERSPAN, Geneve,
// GTP, Teredo, IP in IP) the ECS summary describes the inner conversation:
// addresses, ports, transport and protocol from the innermost IP header and
// what follows it, while the outer headers stay under layers.
func TestECSInnermost(t *testing.T) {
	files := []string{
		"../testdata/pcaps/zeek_tunnels_vxlan-encapsulated-http.pcap",
		"../testdata/pcaps/arkime_gre-erspan-vxlan.pcap",
		"../testdata/pcaps/tcpdump_geneve.pcap",
		"../testdata/pcaps/tcpdump_various_gre.pcap",
	}
	if d := testpcap.SharedDir(); d != "" || need.Required() {
		d = need.Shared(t)
		for _, f := range []string{"zeek/tunnels/gre-within-gre.pcap", "zeek/tunnels/6in4.pcap", "zeek/tunnels/4in6.pcap",
			"zeek/tunnels/gtp1_gn_normal_incl_fragmentation.pcap", "wireshark/ipoipoip.pcap", "arkime/ipv6-in-ipv4.pcap", "arkime/6-4-gre-ppp-udp-4-dns.pcap"} {
			files = append(files, filepath.Join(d, f))
		}
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			e, d := encoder(t), decode.NewDecoder()
			tunnelled := 0
			for _, pk := range testpcap.MustLoad(t, f, 0) {
				p := d.Decode(pk.Data, pk.LinkType, pk.OrigLen)
				src, dst, sport, dport, ports := innermost(p)
				if p.Count(decode.KindIPv4)+p.Count(decode.KindIPv6) > 1 && src != "" {
					tunnelled++
				}
				doc := encodeOne(t, e, d, &pk)
				if src == "" {
					continue
				}
				if get(doc, "source.ip") != src || get(doc, "destination.ip") != dst {
					t.Errorf("frame %d: source.ip %v destination.ip %v, want the innermost %s > %s", pk.Number, get(doc, "source.ip"), get(doc, "destination.ip"), src, dst)
				}
				if ports && (get(doc, "source.port") != sport || get(doc, "destination.port") != dport) {
					t.Errorf("frame %d: ports %v > %v, want the innermost %v > %v", pk.Number, get(doc, "source.port"), get(doc, "destination.port"), sport, dport)
				}
				if get(doc, "network.protocol") == "http" && get(doc, "source.port") != 80.0 && get(doc, "destination.port") != 80.0 {
					t.Errorf("frame %d: network.protocol http between ports %v and %v", pk.Number, get(doc, "source.port"), get(doc, "destination.port"))
				}
			}
			if tunnelled == 0 && filepath.Base(f) != "tcpdump_various_gre.pcap" {
				t.Fatalf("no tunnelled packet in %s", f)
			}
		})
	}
}

// TestPacketEvent: every packet document has the ECS event object, with
// event.type telling a conversation from other traffic and naming protocol
// when network.protocol is set.
func TestPacketEvent(t *testing.T) {
	for _, c := range []struct {
		file  string
		frame int
		typ   []any
	}{
		{"../testdata/pcaps/seed_test_http.pcap", 4, []any{"connection", "protocol"}}, // GET
		{"../testdata/pcaps/seed_test_http.pcap", 1, []any{"connection"}},             // SYN
		{"../testdata/pcaps/tcpdump_various_gre.pcap", 1, []any{"info"}},              // STP
		{"../testdata/pcaps/zeek_tunnels_vxlan-encapsulated-http.pcap", 1, []any{"connection"}},
	} {
		pk := testpcap.MustLoad(t, c.file, c.frame)
		doc := encodeOne(t, encoder(t), decode.NewDecoder(), &pk[c.frame-1])
		typ, _ := get(doc, "event.type").([]any)
		if get(doc, "event.kind") != "event" || !slices.Equal(get(doc, "event.category").([]any), []any{"network"}) ||
			get(doc, "event.dataset") != "espcap.packet" || !slices.Equal(typ, c.typ) {
			t.Errorf("%s frame %d: event %v; want kind event, category [network], dataset espcap.packet, type %v", c.file, c.frame, doc["event"], c.typ)
		}
		if (get(doc, "network.protocol") != nil) != slices.Contains(typ, "protocol") {
			t.Errorf("%s frame %d: event.type %v with network.protocol %v", c.file, c.frame, typ, get(doc, "network.protocol"))
		}
	}
}

// TestHTTPHeadTruncated: a request whose head does not end in its segment
// is tagged http_head_truncated, through the shape cache (Ethernet, IP,
// TCP, HTTP) and the general path (a VXLAN tunnel); a complete head is not.
func TestHTTPHeadTruncated(t *testing.T) {
	for _, f := range []string{"../testdata/pcaps/seed_test_http.pcap", "../testdata/pcaps/zeek_tunnels_vxlan-encapsulated-http.pcap"} {
		d := decode.NewDecoder()
		var req *testpcap.Packet
		pks := testpcap.MustLoad(t, f, 0)
		for i := range pks {
			p := d.Decode(pks[i].Data, pks[i].LinkType, pks[i].OrigLen)
			for _, l := range p.Layers {
				if l.Kind == decode.KindHTTP && p.HTTP[l.Index].Request && p.HTTP[l.Index].Complete {
					req = &pks[i]
				}
			}
			if req != nil {
				break
			}
		}
		if req == nil {
			t.Fatalf("%s: no complete HTTP request", f)
		}
		e := encoder(t)
		if tags := get(encodeOne(t, e, d, req), "tags"); slices.Contains(asSlice(tags), "http_head_truncated") {
			t.Errorf("%s frame %d: complete head tagged %v", f, req.Number, tags)
		}
		// the same request with its head's last line break gone (length
		// unchanged): the empty line that ends the head is not there
		cut := *req
		cut.Data = bytes.Clone(req.Data)
		end := bytes.LastIndex(cut.Data, []byte("\r\n\r\n"))
		if end < 0 {
			t.Fatalf("%s frame %d: no end of head", f, req.Number)
		}
		copy(cut.Data[end+2:], "ab")
		for range 2 { // again from the shape cache
			if tags := get(encodeOne(t, e, d, &cut), "tags"); !slices.Contains(asSlice(tags), "http_head_truncated") {
				t.Errorf("%s frame %d cut: tags %v, want http_head_truncated", f, req.Number, tags)
			}
		}
	}
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// TestHTTP09NotTruncated: an HTTP/0.9 request is its request line alone,
// not a head cut short.
func TestHTTP09NotTruncated(t *testing.T) {
	f := filepath.Join(need.Shared(t), "zeek/http/http_09.pcap")
	e, d := encoder(t), decode.NewDecoder()
	requests := 0
	for _, pk := range testpcap.MustLoad(t, f, 0) {
		doc := encodeOne(t, e, d, &pk)
		if get(doc, "layers.http.request") == true {
			requests++
		}
		if tags := asSlice(get(doc, "tags")); slices.Contains(tags, "http_head_truncated") {
			t.Errorf("frame %d: tagged %v", pk.Number, tags)
		}
	}
	if requests != 3 {
		t.Fatalf("%d requests, want 3", requests)
	}
}
