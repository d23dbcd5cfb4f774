package encode

// Flow packets of the tshark engine: the flow table's input (flow.Packet)
// built from a tshark EK packet's fields, as flow.Extract builds it from a
// decoded packet, so that both engines track the same flows.

import (
	"net/netip"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/espcap/espcap-fast/flow"
)

// ByteKeeper keeps a copy of a byte string for as long as the flow packet
// that points to it may be tracked (pipeline.Batch keeps it in the batch).
// KeepBytes returns the copy, nil when it has no room.
type ByteKeeper interface {
	KeepBytes(b []byte) []byte
}

// EncodeFlow is Encode for a run with flow records: it also fills fp from
// the packet's fields and reports in info.Flow whether it did (the packet
// has an IP header); the document then ends with m.FlowID as its flow.id
// (when not empty: the flow stage writes the real one over it). The texts
// the flow packet points to (HTTP, DHCP host name) are copied through
// keep, since pkt's strings do not outlive the next line; the TLS ones are
// copied into the flow packet itself.
func (e *EKEncoder) EncodeFlow(dst []byte, m *Meta, pkt *fastjson.Value, fp *flow.Packet, keep ByteKeeper) ([]byte, EKInfo, error) {
	e.fp, e.keep = fp, keep
	b, info, err := e.Encode(dst, m, pkt)
	e.fp, e.keep = nil, nil
	return b, info, err
}

// flowPacket fills e.fp from e.fh (addresses and protocol, set by ecs) and
// the packet's layers: chain is the protocol chain, own its part before
// an ICMP error's quote, ipEnd where the flow's IP layer (ipv) ends in
// chain, next the protocol after it, tv its layer (nil if none) and
// sport, dport the ports ecs read from it.
func (e *EKEncoder) flowPacket(chain, own string, ipEnd int, ipv *fastjson.Value, next string, tv *fastjson.Value, sport, dport uint16) bool {
	h := &e.fh
	// the VLAN ids before the first IP header
	nv, nq, nad := 0, 0, 0
	for rest := chain; rest != "" && nv < 2; {
		var p string
		p, rest, _ = strings.Cut(rest, ":")
		var l *fastjson.Value
		switch p {
		case "ip", "ipv6":
			rest = ""
		case "vlan":
			if l = e.nthLayer(p, nq); l != nil {
				h.VLAN[nv] = uint16(uintOf(l.Get("vlan_vlan_id")))
			}
			nq++
		case "ieee8021ad":
			if l = e.nthLayer(p, nad); l != nil {
				h.VLAN[nv] = uint16(uintOf(l.Get("ieee8021ad_ieee8021ad_id")))
			}
			nad++
		}
		if l != nil {
			nv++
		}
	}
	ipPayload := 0
	if len(h.Src) == 4 {
		h.FragID = uint32(uintOf(ipv.Get("ip_ip_id")))
		h.FragMore = ipv.GetBool("ip_ip_flags_mf")
		h.FragOffset = uint16(uintOf(ipv.Get("ip_ip_frag_offset")))
		ipPayload = int(uintOf(ipv.Get("ip_ip_len"))) - int(uintOf(ipv.Get("ip_ip_hdr_len")))
	} else {
		ipPayload = int(uintOf(ipv.Get("ipv6_ipv6_plen")))
		for _, x := range [...][2]string{
			{"ipv6_hopopts", "ipv6_hopopts_ipv6_hopopts_len"},
			{"ipv6_routing", "ipv6_routing_ipv6_routing_len"},
			{"ipv6_dstopts", "ipv6_dstopts_ipv6_dstopts_len"},
		} {
			if x := ipv.Get(x[0], x[1]); x != nil {
				ipPayload -= 8 * (int(uintOf(x)) + 1)
			}
		}
		if f := ipv.Get("ipv6_fraghdr"); f != nil {
			ipPayload -= 8
			h.FragID = uint32(uintOf(f.Get("ipv6_fraghdr_ipv6_fraghdr_ident")))
			h.FragMore = f.GetBool("ipv6_fraghdr_ipv6_fraghdr_more")
			h.FragOffset = uint16(uintOf(f.Get("ipv6_fraghdr_ipv6_fraghdr_offset")))
		}
	}
	if tv != nil {
		e.flowTransport(h, next, tv, sport, dport, ipPayload)
	}
	after := ""
	if ipEnd < len(own) {
		after = own[ipEnd:]
	}
	for rest := after; rest != ""; {
		var p string
		p, rest, _ = strings.Cut(rest, ":")
		if n := flow.AppName(p); n != "" {
			h.App = n
		}
	}
	if !e.fp.Fill(h) {
		return false
	}
	if h.App != "" {
		e.flowApp(chain, len(chain)-len(after))
	}
	return true
}

// flowTransport fills h's transport from its layer tv (tshark protocol
// next) and the ports ecs read from it (ICMP: type and code); ipPayload
// is the IP payload length.
func (e *EKEncoder) flowTransport(h *flow.Header, next string, tv *fastjson.Value, sport, dport uint16, ipPayload int) {
	switch next {
	case "tcp", "udp", "sctp":
		h.Transport, h.SrcPort, h.DstPort = flow.Ports, sport, dport
		switch next {
		case "tcp":
			h.TCPFlags = uint8(uintOf(tv.Get("tcp_tcp_flags")))
			h.Payload = int(uintOf(tv.Get("tcp_tcp_len")))
		case "udp":
			h.Payload = max(int(uintOf(tv.Get("udp_udp_length")))-8, 0)
		}
	case "icmp":
		h.Transport, h.ICMPType, h.ICMPCode = flow.ICMPv4, uint8(sport), uint8(dport)
		switch h.ICMPType {
		case 0, 8, 13, 14, 15, 16, 17, 18:
			h.ICMPID = uint16(uintOf(tv.Get("icmp_icmp_ident")))
		case 9: // router advertisement: address count and entry size
			h.ICMPID = uint16(uintOf(tv.Get("icmp_icmp_num_addrs")))<<8 | uint16(uintOf(tv.Get("icmp_icmp_addr_entry_size")))
		}
		h.Payload = max(ipPayload-8, 0)
	case "icmpv6":
		h.Transport, h.ICMPType, h.ICMPCode = flow.ICMPv6, uint8(sport), uint8(dport)
		// the two bytes after the ICMPv6 header, by message type
		switch h.ICMPType {
		case 128, 129:
			h.ICMPID = uint16(uintOf(tv.Get("icmpv6_icmpv6_echo_identifier")))
		case 130, 131:
			v := tv.Get("icmpv6_icmpv6_mld_maximum_response_delay")
			if v == nil {
				v = tv.Get("icmpv6_icmpv6_mld_maximum_response_code")
			}
			h.ICMPID = uint16(uintOf(v))
		case 134:
			h.ICMPID = uint16(uintOf(tv.Get("icmpv6_icmpv6_nd_ra_cur_hop_limit")))<<8 | uint16(uintOf(tv.Get("icmpv6_icmpv6_nd_ra_flag")))
		case 136:
			h.ICMPID = uint16(uintOf(tv.Get("icmpv6_icmpv6_nd_na_flag")) >> 16)
		}
		h.Payload = max(ipPayload-4, 0)
	}
}

// flowApp fills the flow packet's application fields from the layers of
// the protocols of chain after offset from (the flow's IP header), as
// flow.Extract does from decoded layers: every DNS, HTTP, TLS and DHCP
// layer, later ones overwriting earlier ones.
func (e *EKEncoder) flowApp(chain string, from int) {
	own := OwnChain(chain)
	a := &e.fp.Fields
	for at := from; at < len(own); {
		j := strings.IndexByte(own[at:], ':')
		if j < 0 {
			j = len(own) - at
		}
		p := own[at : at+j]
		at += j + 1
		if p != "dns" && p != "mdns" && p != "llmnr" && p != "http" && p != "ssdp" && p != "tls" && p != "dhcp" {
			continue
		}
		v := e.nthLayer(p, countLayer(chain[:min(at, len(chain))], p)-1)
		if v == nil || v.Type() != fastjson.TypeObject {
			continue
		}
		switch p {
		case "http", "ssdp":
			if m := ekFirst(v, "http_http_request_method"); m != nil {
				a.SetHTTPRequest(e.kept(m), e.kept(ekFirst(v, "http_http_host")), e.kept(ekFirst(v, "http_http_request_uri")),
					e.kept(ekFirst(v, "http_http_user_agent")))
			} else if code, ok := parseUint(ekFirst(v, "http_http_response_code")); ok {
				a.SetHTTPStatus(int(code))
			}
		case "tls":
			e.flowTLS(a, v)
		case "dhcp":
			a.SetDHCPHostName(e.kept(ekFirst(v, "dhcp_dhcp_option_hostname")))
		default:
			resp := false
			if f := v.Get("dns_dns_flags_response"); f != nil && f.Type() == fastjson.TypeTrue {
				resp = true
			}
			rc, _ := parseUint(ekFirst(v, "dns_dns_flags_rcode"))
			a.SetDNS(ekFirst(v, "dns_dns_qry_name"), resp, int(rc))
			if resp {
				for d := newEKDNSAnswers(v, true); ; {
					s, ok := d.next()
					if !ok {
						break
					}
					if ip, err := netip.ParseAddr(unsafeString(s)); err == nil {
						if ip.Is4() {
							b := ip.As4()
							a.AddDNSAnswer(b[:])
						} else {
							b := ip.As16()
							a.AddDNSAnswer(b[:])
						}
					}
				}
			}
		}
	}
}

// flowTLS fills a from a TLS layer: a ClientHello's SNI, first ALPN
// protocol, JA3 and JA4 (JA4 only from a tshark that computes it, 4.2 and
// later), a ServerHello's chosen version and JA3S.
func (e *EKEncoder) flowTLS(a *flow.AppFields, v *fastjson.Value) {
	switch client, server := ekHellos(v); {
	case client:
		// SetTLSClientHello copies all four: nothing to keep in the batch
		a.SetTLSClientHello(ekFirst(v, "tls_tls_handshake_extensions_server_name"),
			ekFirst(v, "tls_tls_handshake_extensions_alpn_str"),
			ekFirst(v, "tls_tls_handshake_ja3"), ekFirst(v, "tls_tls_handshake_ja4"))
	case server:
		ver := ekFirst(v, "tls_tls_handshake_extensions_supported_version")
		if ver == nil {
			ver = ekFirst(v, "tls_tls_handshake_version")
		}
		n, _ := parseUint(ver)
		a.SetTLSServerHello(uint16(n), ekFirst(v, "tls_tls_handshake_ja3s"))
	}
}

// kept returns a copy of s (at most flow.MaxField bytes) made by the
// ByteKeeper, nil for nil.
func (e *EKEncoder) kept(s []byte) []byte {
	if len(s) == 0 || e.keep == nil {
		return nil
	}
	return e.keep.KeepBytes(s[:min(len(s), flow.MaxField)])
}
