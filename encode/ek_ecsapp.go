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

// ekList is the values of an EK field: one for a scalar, each for an
// array (without a slice to allocate for a scalar).
type ekList struct {
	one  *fastjson.Value
	many []*fastjson.Value
}

// ekValues returns the values of an EK field.
func ekValues(v *fastjson.Value, k string) ekList {
	f := v.Get(k)
	if f == nil {
		return ekList{}
	}
	if f.Type() == fastjson.TypeArray {
		a, _ := f.Array()
		return ekList{many: a}
	}
	return ekList{one: f}
}

// Len returns the number of values.
func (l ekList) Len() int {
	if l.one != nil {
		return 1
	}
	return len(l.many)
}

// At returns value i (0 <= i < Len()).
func (l ekList) At(i int) *fastjson.Value {
	if l.one != nil {
		return l.one
	}
	return l.many[i]
}

// ekFirst returns the first string value of an EK field (nil if none).
func ekFirst(v *fastjson.Value, k string) []byte {
	f := v.Get(k)
	if f != nil && f.Type() == fastjson.TypeArray {
		a, _ := f.Array()
		f = nil
		if len(a) > 0 {
			f = a[0]
		}
	}
	switch {
	case f == nil:
		return nil
	case f.Type() == fastjson.TypeString:
		return f.GetStringBytes()
	case f.Type() == fastjson.TypeTrue:
		return []byte("true")
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
	has := false
	for d := newEKDNSAnswers(v, false); ; {
		s, ok := d.next()
		if !ok {
			break
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
		w.b = append(a.AppendTo(append(w.b, '"')), '"')
	}
	if has {
		w.closeArray()
	}
	w.close()
}

// ekDNSAnswers goes through the A and AAAA records among the first
// count_answers records of a tshark DNS layer (tshark lists the records of
// every section in order): the answer section's, as resolved_ip takes them.
type ekDNSAnswers struct {
	types, as, aaaas ekList
	// with inOnly, the records' classes and mDNS cache-flush bits
	classes, flush ekList
	inOnly         bool
	n              uint64
	i, ia, iaaaa   int
}

// newEKDNSAnswers goes through the answers of DNS layer v; inOnly leaves
// out the records whose class is not IN, as gopacket reads it: an mDNS
// record with the cache-flush bit is of class 0x8001 there (what a flow's
// dns.resolved_ip keeps).
func newEKDNSAnswers(v *fastjson.Value, inOnly bool) ekDNSAnswers {
	n, _ := parseUint(ekFirst(v, "dns_dns_count_answers"))
	d := ekDNSAnswers{types: ekValues(v, "dns_dns_resp_type"), as: ekValues(v, "dns_dns_a"), aaaas: ekValues(v, "dns_dns_aaaa"), n: n, inOnly: inOnly}
	if inOnly {
		d.classes, d.flush = ekValues(v, "dns_dns_resp_class"), ekValues(v, "dns_dns_resp_cache_flush")
	}
	return d
}

// next returns the next address's text, false after the last.
func (d *ekDNSAnswers) next() ([]byte, bool) {
	for d.i < d.types.Len() && uint64(d.i) < d.n {
		i := d.i
		d.i++
		t, _ := parseUint(d.types.At(i).GetStringBytes())
		var s []byte
		switch {
		case t == uint64(layers.DNSTypeA) && d.ia < d.as.Len():
			s = d.as.At(d.ia).GetStringBytes()
			d.ia++
		case t == uint64(layers.DNSTypeAAAA) && d.iaaaa < d.aaaas.Len():
			s = d.aaaas.At(d.iaaaa).GetStringBytes()
			d.iaaaa++
		default:
			continue
		}
		if d.inOnly && !d.classIN(i) {
			continue
		}
		return s, true
	}
	return nil, false
}

// classIN reports whether record i is of class IN without the mDNS
// cache-flush bit.
func (d *ekDNSAnswers) classIN(i int) bool {
	if i < d.classes.Len() {
		if c, _ := parseUint(d.classes.At(i).GetStringBytes()); c != uint64(layers.DNSClassIN) {
			return false
		}
	}
	return i >= d.flush.Len() || d.flush.At(i).Type() != fastjson.TypeTrue
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

// ekHellos reports whether a tshark TLS layer holds a ClientHello, a
// ServerHello.
func ekHellos(v *fastjson.Value) (client, server bool) {
	for types, i := ekValues(v, "tls_tls_handshake_type"), 0; i < types.Len(); i++ {
		switch string(types.At(i).GetStringBytes()) {
		case "1":
			client = true
		case "2":
			server = true
		}
	}
	return client, server
}

func (e *EKEncoder) ecsTLS(v *fastjson.Value) {
	switch client, server := ekHellos(v); {
	case client:
		e.enc.w.ecsTLSClient(ekFirst(v, "tls_tls_handshake_extensions_server_name"), ekFirst(v, "tls_tls_handshake_ja3"))
	case server:
		e.enc.w.ecsTLSServer(ekFirst(v, "tls_tls_handshake_extensions_alpn_str"), ekFirst(v, "tls_tls_handshake_ja3s"))
	}
}
