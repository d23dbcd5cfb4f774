package encode

import (
	"net/netip"
	"strings"

	"github.com/gopacket/gopacket/layers"
	"github.com/valyala/fastjson"
)

// ecsApp writes the ECS application fields of a tshark EK packet, the
// same as the native engine's (Encoder.ecsApp), from the first DNS, HTTP or
// TLS layer of the packet's own protocol chain.
func (e *EKEncoder) ecsApp(chain []byte) {
	for rest := OwnChain(unsafeString(chain)); rest != ""; {
		var p string
		p, rest, _ = strings.Cut(rest, ":")
		switch p {
		case "dns":
			if v := e.firstLayer("dns"); v != nil {
				e.ecsDNS(v)
			}
			return
		case "http":
			if v := e.firstLayer("http"); v != nil {
				e.ecsHTTP(v)
			}
			return
		case "tls":
			if v := e.firstLayer("tls"); v != nil {
				e.ecsTLS(v)
			}
			return
		}
	}
}

// ekValues returns the string values of an EK field: one for a scalar,
// each for an array.
func ekValues(v *fastjson.Value, k string) []*fastjson.Value {
	f := v.Get(k)
	if f == nil {
		return nil
	}
	if f.Type() == fastjson.TypeArray {
		a, _ := f.Array()
		return a
	}
	return []*fastjson.Value{f}
}

// ekFirst returns the first string value of an EK field (nil if none).
func ekFirst(v *fastjson.Value, k string) []byte {
	if a := ekValues(v, k); len(a) > 0 {
		if a[0].Type() == fastjson.TypeString {
			return a[0].GetStringBytes()
		}
		if a[0].Type() == fastjson.TypeTrue {
			return []byte("true")
		}
	}
	return nil
}

func (e *EKEncoder) ecsDNS(v *fastjson.Value) {
	w := &e.enc.w
	w.object(`,"dns":`)
	if id, ok := parseUint(ekFirst(v, "dns_dns_id")); ok {
		w.b = append(w.b, `,"id":"`...)
		w.b = appendUint(w.b, id)
		w.b = append(w.b, '"')
	}
	if f := v.Get("dns_dns_flags_response"); f != nil && f.Type() == fastjson.TypeTrue {
		w.raw(`,"type":`, "answer")
		if rc, ok := parseUint(ekFirst(v, "dns_dns_flags_rcode")); ok {
			w.dnsResponseCode(rc)
		}
	} else {
		w.raw(`,"type":`, "query")
	}
	if name := ekFirst(v, "dns_dns_qry_name"); name != nil {
		w.object(`,"question":`)
		w.str(`,"name":`, name)
		if t, ok := parseUint(ekFirst(v, "dns_dns_qry_type")); ok {
			w.b = append(w.b, `,"type":"`...)
			w.b = appendDNSType(w.b, layers.DNSType(t))
			w.b = append(w.b, '"')
		}
		w.close()
	}
	// resolved_ip: the A and AAAA records among the first count_answers
	// records (tshark lists the records of every section in order)
	nAns, _ := parseUint(ekFirst(v, "dns_dns_count_answers"))
	types := ekValues(v, "dns_dns_resp_type")
	as, aaaas := ekValues(v, "dns_dns_a"), ekValues(v, "dns_dns_aaaa")
	ia, iaaaa := 0, 0
	has := false
	for i := 0; i < len(types) && uint64(i) < nAns; i++ {
		t, _ := parseUint(types[i].GetStringBytes())
		var s []byte
		switch {
		case t == uint64(layers.DNSTypeA) && ia < len(as):
			s = as[ia].GetStringBytes()
			ia++
		case t == uint64(layers.DNSTypeAAAA) && iaaaa < len(aaaas):
			s = aaaas[iaaaa].GetStringBytes()
			iaaaa++
		default:
			continue
		}
		a, err := netip.ParseAddr(unsafeString(s))
		if err != nil {
			continue
		}
		if !has {
			w.key(`,"resolved_ip":`)
			w.openArray()
			has = true
		}
		w.elem()
		w.b = appendStringS(w.b, a.String())
	}
	if has {
		w.closeArray()
	}
	w.close()
}

func (e *EKEncoder) ecsHTTP(v *fastjson.Value) {
	w := &e.enc.w
	if method := ekFirst(v, "http_http_request_method"); method != nil {
		w.ecsHTTPRequest(method, ekFirst(v, "http_http_referer"), ekFirst(v, "http_http_request_version"),
			ekFirst(v, "http_http_request_uri"), ekFirst(v, "http_http_host"), ekFirst(v, "http_http_user_agent"))
		return
	}
	if code, ok := parseUint(ekFirst(v, "http_http_response_code")); ok {
		w.ecsHTTPResponse(code, ekFirst(v, "http_http_response_version"))
	}
}

func (e *EKEncoder) ecsTLS(v *fastjson.Value) {
	client, server := false, false
	for _, t := range ekValues(v, "tls_tls_handshake_type") {
		switch string(t.GetStringBytes()) {
		case "1":
			client = true
		case "2":
			server = true
		}
	}
	switch {
	case client:
		e.enc.w.ecsTLSClient(ekFirst(v, "tls_tls_handshake_extensions_server_name"), ekFirst(v, "tls_tls_handshake_ja3"))
	case server:
		e.enc.w.ecsTLSServer(ekFirst(v, "tls_tls_handshake_extensions_alpn_str"), ekFirst(v, "tls_tls_handshake_ja3s"))
	}
}
